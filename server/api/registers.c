/* registers.c — the register of technology-transfer demonstration institutions
 * (技术转移示范机构) and the register of technology brokers (技术经纪人), issue #20
 * part 6.  Subsidy lines read them (fixed amounts by institution level, per
 * certified broker: migrations/functions/subsidies.sql).
 *
 * This file checks shapes and types (400) and what it can see alone (422:
 * lengths, date and code formats), then hands the body to one SQL function per
 * change (migrations/functions/registers.sql), which checks values, scope and
 * duplicates, writes the audit entry and builds the JSON.  Entries are never
 * edited or deleted: a wrong or revoked one is withdrawn with a reason.
 *
 * Who: admin everywhere; a bureau user for organisations (brokers: their region,
 * else their organisation's) in its region subtree, anything else 404. */
#include "api/api.h"

#include "auth/auth.h"

#include <string.h>

static int ST_INST_LIST, ST_INST_CREATE, ST_INST_WITHDRAW, ST_BROKER_LIST, ST_BROKER_CREATE, ST_BROKER_WITHDRAW,
    ST_BROKERS;

#define KEEPERS (ROLE_BUREAU | ROLE_ADMIN)

static const char *scope_of(http_req_t *req)
{
    return api_scope(req).region;
}

static void reply_created(http_req_t *req, PGresult *res)
{
    api_reply_row_json_status(req, res, 201);
}

/* Lengths, dates and ids the SQL would also check, answered at once. */
static int values_or_reply(http_req_t *req, const char *id_field)
{
    static const struct {
        const char *name;
        size_t max;
    } TEXTS[] = {{"recognised_by", 200}, {"document_no", 100},    {"evidence", 500}, {"note", 1000},
                 {"course", 200},        {"certificate_no", 100}, {"issuer", 200},   {"reason", 500}};
    json_t *errs = NULL;
    for (size_t i = 0; i < ARRAY_LEN(TEXTS); i++)
        api_check_chars(req, &errs, TEXTS[i].name, api_str(req, TEXTS[i].name), TEXTS[i].max);
    static const char *const DATES[] = {"recognised_on", "obtained_on"};
    for (size_t i = 0; i < ARRAY_LEN(DATES); i++) {
        const char *d = api_str(req, DATES[i]);
        if (d) api_check(&errs, DATES[i], v_date(d));
    }
    const char *level = api_str(req, "level");
    if (level) api_check(&errs, "level", v_code(level));
    if (id_field) {
        json_t *id = json_object_get(req->json, id_field);
        if (json_is_integer(id) && json_integer_value(id) < 1)
            http_error_add(&errs, id_field, "out_of_range", "must be a positive id");
    }
    return api_errors_or_reply(req, errs);
}

/* --- institutions -------------------------------------------------------------- */

/* Both registers' lists: ?<id_name>= (the org or the user), ?<kind_name>=
 * (checked by kind_ok), ?region=, ?withdrawn= and the page; stmt($1 scope,
 * $2 id, $3 kind, $4 region, $5 withdrawn, $6 after, $7 limit). */
static void register_list(http_req_t *req, int stmt, const char *id_name, const char *kind_name,
                          const verdict_t *(*kind_ok)(const char *))
{
    const char *limit, *after, *id, *kind, *region, *withdrawn;
    if (api_page_or_reply(req, &limit, &after) || http_query_or_reply(req, id_name, &id) ||
        api_param_ok_or_reply(req, id_name, v_id(id, NULL)) || http_query_or_reply(req, kind_name, &kind) ||
        api_param_ok_or_reply(req, kind_name, kind_ok(kind)) || api_region_or_reply(req, &region) ||
        http_query_or_reply(req, "withdrawn", &withdrawn) || api_param_ok_or_reply(req, "withdrawn", v_bool(withdrawn)))
        return;
    const char *v[7] = {scope_of(req), id, kind, region, withdrawn, after, limit};
    api_query(req, stmt, 7, v, api_reply_page);
}

static void inst_list(http_req_t *req)
{
    register_list(req, ST_INST_LIST, "org_id", "level", v_code);
}

static void inst_create(http_req_t *req)
{
    static const field_t F[] = {
        {"org_id", F_INT, true},
        {"level", F_STRING, true},
        {"recognised_by", F_STRING, true},
        {"recognised_on", F_STRING, true},
        {"document_no", F_STRING_OR_NULL, false},
        {"evidence", F_STRING, true},
        {"note", F_STRING_OR_NULL, false},
    };
    if (api_fields_or_reply(req, F, ARRAY_LEN(F)) || values_or_reply(req, "org_id")) return;
    const char *v[4] = {api_actor(req), req->request_id, scope_of(req), api_json_text(req, req->json)};
    api_query(req, ST_INST_CREATE, 4, v, reply_created);
}

static void withdraw(http_req_t *req, int stmt, const char *what)
{
    static const field_t F[] = {{"reason", F_STRING, true}};
    const char *id;
    if (api_id_param_or_reply(req, 0, what, &id) || api_fields_or_reply(req, F, ARRAY_LEN(F)) ||
        values_or_reply(req, NULL))
        return;
    const char *v[5] = {api_actor(req), req->request_id, scope_of(req), id, api_json_text(req, req->json)};
    api_query(req, stmt, 5, v, api_reply_row_json);
}

static void inst_withdraw(http_req_t *req)
{
    withdraw(req, ST_INST_WITHDRAW, "recognition");
}

/* --- brokers ------------------------------------------------------------------------ */

static const verdict_t *broker_kind(const char *s)
{
    static const verdict_t bad = {"invalid", "training or certification"};
    return !s || !strcmp(s, "training") || !strcmp(s, "certification") ? NULL : &bad;
}

static void broker_list(http_req_t *req)
{
    register_list(req, ST_BROKER_LIST, "user_id", "kind", broker_kind);
}

static void broker_create(http_req_t *req)
{
    static const field_t F[] = {
        {"user_id", F_INT, true},
        {"kind", F_STRING, true},
        {"course", F_STRING, false},
        {"hours", F_ANY, false},
        {"certificate_no", F_STRING, false},
        {"issuer", F_STRING, true},
        {"obtained_on", F_STRING, true},
        {"evidence", F_STRING, true},
        {"note", F_STRING_OR_NULL, false},
    };
    if (api_fields_or_reply(req, F, ARRAY_LEN(F))) return;
    json_t *hours = json_object_get(req->json, "hours");
    if (hours && !json_is_number(hours) && !json_is_null(hours)) {
        json_t *errs = NULL;
        http_error_add(&errs, "hours", "wrong_type", "must be a number or null");
        http_problem(req, 400, "the request body has unknown or mistyped fields", errs);
        return;
    }
    if (values_or_reply(req, "user_id")) return;
    const char *v[4] = {api_actor(req), req->request_id, scope_of(req), api_json_text(req, req->json)};
    api_query(req, ST_BROKER_CREATE, 4, v, reply_created);
}

static void broker_withdraw(http_req_t *req)
{
    withdraw(req, ST_BROKER_WITHDRAW, "qualification");
}

/* The brokers in scope, each with a summary of their register entries (in force). */
static void broker_register(http_req_t *req)
{
    const char *limit, *after, *q, *region;
    if (api_page_or_reply(req, &limit, &after) || http_query_or_reply(req, "q", &q) ||
        api_region_or_reply(req, &region))
        return;
    if (q && util_utf8_len(q, strlen(q)) > 100) {
        (void)api_bad_param(req, "q", "too_long", "at most 100 characters");
        return;
    }
    const char *v[5] = {scope_of(req), q, region, after, limit};
    api_query(req, ST_BROKERS, 5, v, api_reply_page);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/institution-recognitions", inst_list, 0, KEEPERS},
    {HTTP_POST, "/api/v1/institution-recognitions", inst_create, ROUTE_JSON_BODY, KEEPERS},
    {HTTP_POST, "/api/v1/institution-recognitions/{id}/withdraw", inst_withdraw, ROUTE_JSON_BODY, KEEPERS},
    {HTTP_GET, "/api/v1/broker-qualifications", broker_list, 0, KEEPERS},
    {HTTP_POST, "/api/v1/broker-qualifications", broker_create, ROUTE_JSON_BODY, KEEPERS},
    {HTTP_POST, "/api/v1/broker-qualifications/{id}/withdraw", broker_withdraw, ROUTE_JSON_BODY, KEEPERS},
    {HTTP_GET, "/api/v1/broker-register", broker_register, 0, KEEPERS},
};

void api_registers_init(void)
{
    /* $1 scope, $2 org, $3 level, $4 region, $5 withdrawn, $6 after, $7 limit */
    ST_INST_LIST = db_stmt_register_read(
        api_page_sql("SELECT r.id, institution_recognition_json(r) AS j FROM institution_recognitions r"
                     " JOIN orgs o ON o.id = r.org_id"
                     " WHERE ($1::text IS NULL OR region_in_subtree(o.region_code, $1))"
                     " AND ($2::bigint IS NULL OR r.org_id = $2::bigint) AND ($3::text IS NULL OR r.level = $3)"
                     " AND ($4::text = '000000' OR region_in_subtree(o.region_code, $4))"
                     " AND ($5::boolean IS NULL OR (r.withdrawn_at IS NOT NULL) = $5::boolean)"
                     " AND ($6::bigint IS NULL OR r.id < $6::bigint) ORDER BY r.id DESC",
                     7),
        7);
    ST_INST_CREATE = db_stmt_register("SELECT institution_recognition_create($1::bigint, $2, $3, $4::jsonb)", 4);
    ST_INST_WITHDRAW = db_stmt_register(
        "SELECT register_withdraw('institution_recognition', $1::bigint, $2, $3, $4::bigint, $5::jsonb)", 5);
    ST_BROKER_LIST = db_stmt_register_read(
        api_page_sql("SELECT q.id, broker_qualification_json(q) AS j FROM broker_qualifications q"
                     " JOIN users u ON u.id = q.user_id LEFT JOIN orgs o ON o.id = u.org_id"
                     " WHERE ($1::text IS NULL OR region_in_subtree(coalesce(u.region_code, o.region_code), $1))"
                     " AND ($2::bigint IS NULL OR q.user_id = $2::bigint) AND ($3::text IS NULL OR q.kind = $3)"
                     " AND ($4::text = '000000' OR region_in_subtree(coalesce(u.region_code, o.region_code), $4))"
                     " AND ($5::boolean IS NULL OR (q.withdrawn_at IS NOT NULL) = $5::boolean)"
                     " AND ($6::bigint IS NULL OR q.id < $6::bigint) ORDER BY q.id DESC",
                     7),
        7);
    ST_BROKER_CREATE = db_stmt_register("SELECT broker_qualification_create($1::bigint, $2, $3, $4::jsonb)", 4);
    ST_BROKER_WITHDRAW = db_stmt_register(
        "SELECT register_withdraw('broker_qualification', $1::bigint, $2, $3, $4::bigint, $5::jsonb)", 5);
    /* $1 scope, $2 q, $3 region, $4 after, $5 limit */
    ST_BROKERS = db_stmt_register_read(
        api_page_sql("SELECT u.id, broker_register_json(u.id) AS j FROM users u LEFT JOIN orgs o ON o.id = u.org_id"
                     " WHERE u.role = 'broker' AND u.active"
                     " AND ($1::text IS NULL OR region_in_subtree(coalesce(u.region_code, o.region_code), $1))"
                     " AND ($2::text IS NULL OR strpos(u.display_name, $2) > 0 OR strpos(o.name, $2) > 0)"
                     " AND ($3::text = '000000' OR region_in_subtree(coalesce(u.region_code, o.region_code), $3))"
                     " AND ($4::bigint IS NULL OR u.id < $4::bigint) ORDER BY u.id DESC",
                     5),
        5);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
