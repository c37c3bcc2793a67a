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

static int ST_BROKERS;

#define KEEPERS (ROLE_BUREAU | ROLE_ADMIN)

static const char *scope_of(http_req_t *req)
{
    return api_scope(req).region;
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

/* --- the two registers: one code path, a table of what differs ------------------ */

static const verdict_t *broker_kind(const char *s)
{
    static const verdict_t bad = {"invalid", "training or certification"};
    return !s || !strcmp(s, "training") || !strcmp(s, "certification") ? NULL : &bad;
}

typedef struct {
    const char *path;      /* the collection: "/api/v1/institution-recognitions" */
    const char *what;      /* for "no such ..." */
    const char *id_name;   /* whose entry (the org or the user): body field, list filter and column */
    const char *kind_name; /* the list filter ?<kind_name>= (checked by kind_ok) and its column */
    const verdict_t *(*kind_ok)(const char *);
    const char *sql;    /* the SQL names: table <sql>s, functions <sql>_json and <sql>_create */
    const char *join;   /* from the entry (e) to the row of its region */
    const char *region; /* the entry's region, for the caller's scope and ?region= */
    int st_list, st_create, st_withdraw;
} reg_t;

static reg_t INST = {.path = "/api/v1/institution-recognitions",
                     .what = "recognition",
                     .id_name = "org_id",
                     .kind_name = "level",
                     .kind_ok = v_code,
                     .sql = "institution_recognition",
                     .join = "JOIN orgs o ON o.id = e.org_id",
                     .region = "o.region_code"};
static reg_t BROKER = {.path = "/api/v1/broker-qualifications",
                       .what = "qualification",
                       .id_name = "user_id",
                       .kind_name = "kind",
                       .kind_ok = broker_kind,
                       .sql = "broker_qualification",
                       .join = "JOIN users u ON u.id = e.user_id LEFT JOIN orgs o ON o.id = u.org_id",
                       .region = "coalesce(u.region_code, o.region_code)"};

static const reg_t *reg_of(http_req_t *req)
{
    return !strncmp(req->route->path, BROKER.path, strlen(BROKER.path)) ? &BROKER : &INST;
}

/* ?<id_name>=, ?<kind_name>=, ?region=, ?withdrawn= and the page; st_list($1
 * scope, $2 id, $3 kind, $4 region, $5 withdrawn, $6 after, $7 limit). */
static void list(http_req_t *req)
{
    const reg_t *r = reg_of(req);
    const char *limit, *after, *id, *kind, *region, *withdrawn;
    if (api_page_or_reply(req, &limit, &after) || http_query_or_reply(req, r->id_name, &id) ||
        api_param_ok_or_reply(req, r->id_name, v_id(id, NULL)) || http_query_or_reply(req, r->kind_name, &kind) ||
        api_param_ok_or_reply(req, r->kind_name, r->kind_ok(kind)) || api_region_or_reply(req, &region) ||
        http_query_or_reply(req, "withdrawn", &withdrawn) || api_param_ok_or_reply(req, "withdrawn", v_bool(withdrawn)))
        return;
    const char *v[7] = {scope_of(req), id, kind, region, withdrawn, after, limit};
    api_query(req, r->st_list, 7, v, api_reply_page);
}

static void create(http_req_t *req)
{
    const reg_t *r = reg_of(req);
    if (api_body_or_reply(req) || values_or_reply(req, r->id_name)) return;
    const char *v[4] = {api_actor(req), req->request_id, scope_of(req), api_json_text(req, req->json)};
    api_query(req, r->st_create, 4, v, api_reply_row_json_created);
}

static void withdraw(http_req_t *req)
{
    const reg_t *r = reg_of(req);
    const char *id;
    if (api_id_param_or_reply(req, 0, r->what, &id) || api_body_or_reply(req) || values_or_reply(req, NULL)) return;
    const char *v[5] = {api_actor(req), req->request_id, scope_of(req), id, api_json_text(req, req->json)};
    api_query(req, r->st_withdraw, 5, v, api_reply_row_json);
}

/* --- the broker register ------------------------------------------------------------- */

/* The brokers in scope, each with a summary of their register entries (in force). */
static void broker_register(http_req_t *req)
{
    const char *limit, *after, *q, *region;
    if (api_page_or_reply(req, &limit, &after) || api_search_text_or_reply(req, &q) ||
        api_region_or_reply(req, &region))
        return;
    const char *v[5] = {scope_of(req), q, region, after, limit};
    api_query(req, ST_BROKERS, 5, v, api_reply_page);
}

/* A register's statements, from its SQL names (migrations/functions/registers.sql). */
static void reg_init(reg_t *r)
{
    /* $1 scope, $2 id, $3 kind, $4 region, $5 withdrawn, $6 after, $7 limit */
    r->st_list = db_stmt_register_read(
        api_page_sql(api_sql_printf("SELECT e.id, %s_json(e) AS j FROM %ss e %s"
                                    " WHERE ($1::text IS NULL OR region_in_subtree(%s, $1))"
                                    " AND ($2::bigint IS NULL OR e.%s = $2::bigint) AND ($3::text IS NULL OR e.%s = $3)"
                                    " AND ($4::text = '000000' OR region_in_subtree(%s, $4))"
                                    " AND ($5::boolean IS NULL OR (e.withdrawn_at IS NOT NULL) = $5::boolean)"
                                    " AND ($6::bigint IS NULL OR e.id < $6::bigint) ORDER BY e.id DESC",
                                    r->sql, r->sql, r->join, r->region, r->id_name, r->kind_name, r->region),
                     7),
        7);
    r->st_create = db_stmt_register(api_sql_printf("SELECT %s_create($1::bigint, $2, $3, $4::jsonb)", r->sql), 4);
    r->st_withdraw = db_stmt_register(
        api_sql_printf("SELECT register_withdraw('%s', $1::bigint, $2, $3, $4::bigint, $5::jsonb)", r->sql), 5);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/institution-recognitions", list, 0, KEEPERS},
    {HTTP_POST, "/api/v1/institution-recognitions", create, ROUTE_JSON_BODY, KEEPERS},
    {HTTP_POST, "/api/v1/institution-recognitions/{id}/withdraw", withdraw, ROUTE_JSON_BODY, KEEPERS},
    {HTTP_GET, "/api/v1/broker-qualifications", list, 0, KEEPERS},
    {HTTP_POST, "/api/v1/broker-qualifications", create, ROUTE_JSON_BODY, KEEPERS},
    {HTTP_POST, "/api/v1/broker-qualifications/{id}/withdraw", withdraw, ROUTE_JSON_BODY, KEEPERS},
    {HTTP_GET, "/api/v1/broker-register", broker_register, 0, KEEPERS},
};

void api_registers_init(void)
{
    reg_init(&INST);
    reg_init(&BROKER);
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
