/* market.c — research results (科技成果) and technology needs (技术需求):
 * lists, reads, creation (with Idempotency-Key), edits (If-Match), deletion
 * and the lifecycle (submit, approve, reject, withdraw, close).
 *
 * Authorization: the route table says which roles may call; reads are public
 * with optional sign-in (ROUTE_OPTIONAL_AUTH), so that an org's members also
 * see their drafts and reviewers the review queue.  Scope is applied in SQL
 * (migrations/functions/market.sql): a member acts on their own org's listings
 * only, so another org's listing is 404, never 403.  Types, lengths and
 * formats are checked here, field by field, all errors in one reply; code
 * lists, regions, state transitions and the deadline in the SQL functions,
 * which also write the audit entry in the same transaction. */
#include "api/market.h"

#include "api/idempotency.h"
#include "auth/auth.h"
#include "domain/ip_number.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- shared helpers ------------------------------------------------------------ */

static void reply_changed(http_req_t *req, PGresult *res)
{
    market_search_invalidate();
    api_reply_versioned(req, res, 200);
}

/* --- field checks --------------------------------------------------------------- */

/* "at most N characters" (or items) for a field. */
static void at_most(json_t **errs, const char *field, const char *code, size_t max, const char *what)
{
    char m[64];
    snprintf(m, sizeof m, "at most %zu %s", max, what);
    http_error_add(errs, field, code, m);
}

/* Control characters: none in one-line texts; tab and newlines in long ones. */
static bool has_control(const char *s, bool multiline)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && !(multiline && (*p == '\n' || *p == '\r' || *p == '\t'))) || *p == 0x7f) return true;
    return false;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return false;
    return true;
}

static void check_text(json_t *o, const char *name, size_t max, bool nonempty, bool multiline, json_t **errs)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (!s) return;
    size_t n = util_utf8_len(s, strlen(s));
    if (nonempty && blank(s)) http_error_add(errs, name, "required", "must not be empty");
    else if (n > max)
        at_most(errs, name, "too_long", max, "characters");
    else if (has_control(s, multiline))
        http_error_add(errs, name, "invalid_character", "must not contain control characters");
}

static void check_strings(json_t *o, const char *name, size_t max_items, size_t max_len, json_t **errs)
{
    json_t *a = json_object_get(o, name);
    if (!json_is_array(a)) return;
    if (json_array_size(a) > max_items) {
        at_most(errs, name, "too_many", max_items, "items");
        return;
    }
    size_t i;
    json_t *v;
    char f[80];
    json_array_foreach(a, i, v) {
        snprintf(f, sizeof f, "%s[%zu]", name, i);
        const char *s = json_string_value(v);
        if (!s) {
            http_error_add(errs, f, "wrong_type", "must be a string");
            continue;
        }
        size_t n = util_utf8_len(s, strlen(s));
        if (blank(s)) http_error_add(errs, f, "required", "must not be empty");
        else if (n > max_len)
            at_most(errs, f, "too_long", max_len, "characters");
        else if (has_control(s, false))
            http_error_add(errs, f, "invalid_character", "must not contain control characters");
        else
            for (size_t k = 0; k < i; k++)
                if (json_equal(json_array_get(a, k), v)) {
                    http_error_add(errs, f, "duplicate", "is listed twice");
                    break;
                }
    }
}

static void check_code(json_t *o, const char *name, json_t **errs)
{
    api_check(errs, name, v_code(json_string_value(json_object_get(o, name))));
}

static void check_codes(json_t *o, const char *name, size_t max_items, json_t **errs)
{
    json_t *a = json_object_get(o, name);
    if (!json_is_array(a)) return;
    check_strings(o, name, max_items, 40, errs);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *s = json_string_value(v);
        if (s && !blank(s) && v_code(s)) {
            char f[80];
            snprintf(f, sizeof f, "%s[%zu]", name, i);
            api_check(errs, f, v_code(s));
        }
    }
}

static void check_int(json_t *o, const char *name, long long lo, long long hi, const char *what, json_t **errs)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v)) return;
    long long x = json_integer_value(v);
    if (x < lo || x > hi) http_error_add(errs, name, "out_of_range", what);
}

static void check_money(json_t *o, const char *name, json_t **errs)
{
    json_t *v = json_object_get(o, name);
    if (json_is_integer(v)) api_check(errs, name, v_amount(json_integer_value(v), false));
}

static void check_contact(json_t *o, json_t **errs)
{
    json_t *c = json_object_get(o, "contact");
    if (!json_is_object(c)) return;
    const char *k;
    json_t *v;
    char f[80];
    json_object_foreach(c, k, v) {
        snprintf(f, sizeof f, "contact.%s", k);
        if (strcmp(k, "name") && strcmp(k, "phone") && strcmp(k, "email")) {
            http_error_add(errs, f, "unknown_field", "contact has name, phone and email only");
            continue;
        }
        if (json_is_null(v)) continue;
        const char *s = json_string_value(v);
        if (!s) http_error_add(errs, f, "wrong_type", "must be a string or null");
        else if (util_utf8_len(s, strlen(s)) > 100)
            http_error_add(errs, f, "too_long", "at most 100 characters");
        else if (has_control(s, false))
            http_error_add(errs, f, "invalid_character", "must not contain control characters");
        else if (!strcmp(k, "email") && api_check(errs, f, v_email(s)))
            continue;
        else if (!strcmp(k, "phone") && (strlen(s) < 5 || strspn(s, "0123456789+-() ") != strlen(s)))
            http_error_add(errs, f, "invalid_format", "must be a telephone number (digits, + - ( ) and spaces)");
    }
}

/* IP records: [{type, number, status}], numbers checked by type and stored
 * in canonical form. */
static void check_ip_records(json_t *o, json_t **errs)
{
    json_t *a = json_object_get(o, "ip_records");
    if (!json_is_array(a)) return;
    if (json_array_size(a) > 20) {
        http_error_add(errs, "ip_records", "too_many", "at most 20 records");
        return;
    }
    size_t i;
    json_t *r;
    char f[80];
    json_array_foreach(a, i, r) {
        if (!json_is_object(r)) {
            snprintf(f, sizeof f, "ip_records[%zu]", i);
            http_error_add(errs, f, "wrong_type", "must be an object {type, number, status}");
            continue;
        }
        const char *k;
        json_t *v;
        bool bad = false;
        json_object_foreach(r, k, v) {
            if (strcmp(k, "type") && strcmp(k, "number") && strcmp(k, "status")) {
                snprintf(f, sizeof f, "ip_records[%zu].%s", i, k);
                http_error_add(errs, f, "unknown_field", "an IP record has type, number and status only");
                bad = true;
            } else if (!json_is_string(v) && !(json_is_null(v) && strcmp(k, "type"))) {
                snprintf(f, sizeof f, "ip_records[%zu].%s", i, k);
                http_error_add(errs, f, "wrong_type", "must be a string");
                bad = true;
            }
        }
        if (bad) continue;
        const char *type = json_string_value(json_object_get(r, "type"));
        const char *number = json_string_value(json_object_get(r, "number"));
        const char *status = json_string_value(json_object_get(r, "status"));
        if (!type) {
            snprintf(f, sizeof f, "ip_records[%zu].type", i);
            http_error_add(errs, f, "required", "give the kind of intellectual property (a code of list ip_types)");
            continue;
        }
        snprintf(f, sizeof f, "ip_records[%zu].type", i);
        if (api_check(errs, f, v_code(type))) continue;
        if (status && strcmp(status, "filed") && strcmp(status, "granted") && strcmp(status, "lapsed")) {
            snprintf(f, sizeof f, "ip_records[%zu].status", i);
            http_error_add(errs, f, "invalid", "must be filed, granted or lapsed");
        }
        char canon[64];
        const char *why = ip_number_error(type, number, canon, sizeof canon);
        if (why) {
            snprintf(f, sizeof f, "ip_records[%zu].number", i);
            http_error_add(errs, f, "invalid_number", why);
        } else if (number) {
            json_object_set_new(r, "number", json_string(canon));
        }
    }
}

static int errors_or_reply(http_req_t *req, json_t *errs)
{
    if (!errs) return 0;
    /* a wrong element type inside an array is a malformed request (400),
     * everything else a value the server will not take (422) */
    int status = 422;
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e) {
        const char *code = json_string_value(json_object_get(e, "code"));
        if (code && (!strcmp(code, "wrong_type") || !strcmp(code, "unknown_field"))) status = 400;
    }
    http_problem(req, status,
                 status == 400 ? "the request body has unknown or mistyped fields" : "some fields are not valid", errs);
    return -1;
}

/* --- results and needs: one code path, a table of what differs ------------------- */

static void result_values(json_t *b, json_t **errs)
{
    check_text(b, "title", 200, true, false, errs);
    check_text(b, "summary", 2000, false, true, errs);
    check_strings(b, "keywords", 10, 30, errs);
    check_strings(b, "completers", 50, 50, errs);
    check_strings(b, "industries", 10, 50, errs);
    check_code(b, "domain", errs);
    check_code(b, "maturity", errs);
    check_code(b, "pricing_mode", errs);
    check_codes(b, "transfer_modes", 5, errs);
    check_int(b, "trl", 1, 9, "the technology readiness level is 1 to 9", errs);
    check_money(b, "asking_price_fen", errs);
    api_check(errs, "region_code", v_region(json_string_value(json_object_get(b, "region_code"))));
    check_contact(b, errs);
    check_ip_records(b, errs);
}

static void need_values(json_t *b, json_t **errs)
{
    check_text(b, "title", 200, true, false, errs);
    check_text(b, "description", 4000, false, true, errs);
    check_text(b, "industry", 100, false, false, errs);
    check_strings(b, "keywords", 10, 30, errs);
    check_code(b, "domain", errs);
    check_codes(b, "cooperation_modes", 6, errs);
    check_int(b, "trl_min", 1, 9, "the technology readiness level is 1 to 9", errs);
    check_money(b, "budget_min_fen", errs);
    check_money(b, "budget_max_fen", errs);
    api_check(errs, "region_code", v_region(json_string_value(json_object_get(b, "region_code"))));
    check_contact(b, errs);
    json_t *lo = json_object_get(b, "budget_min_fen"), *hi = json_object_get(b, "budget_max_fen");
    if (json_is_integer(lo) && json_is_integer(hi) && json_integer_value(lo) > json_integer_value(hi))
        http_error_add(errs, "budget_min_fen", "out_of_order", "must not exceed budget_max_fen");
    api_check(errs, "deadline", v_date(json_string_value(json_object_get(b, "deadline"))));
}

static const char *const RESULT_STATUSES[] = {"draft",     "submitted",    "published",  "rejected",
                                              "withdrawn", "under_notice", "transacted", NULL};
static const char *const NEED_STATUSES[] = {"draft",  "submitted", "open",     "matched",
                                            "closed", "expired",   "rejected", NULL};

typedef struct {
    const char *path; /* the collection: "/api/v1/results" */
    const char *what; /* for "no such ..." */
    void (*values)(json_t *b, json_t **errs);
    const char *const *statuses; /* NULL-terminated */
    const char *status_message;
    int trans_params; /* the transition statement's: needs add the outcome */
    int st_list, st_get, st_create, st_update, st_delete, st_trans;
} kind_t;

static kind_t RESULT = {"/api/v1/results",
                        "research result",
                        result_values,
                        RESULT_STATUSES,
                        "status must be draft, submitted, published, rejected, withdrawn, under_notice or transacted",
                        7};
static kind_t NEED = {"/api/v1/needs",
                      "technology need",
                      need_values,
                      NEED_STATUSES,
                      "status must be draft, submitted, open, matched, closed, expired or rejected",
                      8};

static const kind_t *kind_of(http_req_t *req)
{
    return !strncmp(req->route->path, NEED.path, strlen(NEED.path)) ? &NEED : &RESULT;
}

static int body_or_reply(http_req_t *req, const kind_t *k)
{
    if (api_body_or_reply(req)) return -1;
    json_t *errs = NULL;
    k->values(req->json, &errs);
    return errors_or_reply(req, errs);
}

static int id_or_reply(http_req_t *req, const kind_t *k, const char **id)
{
    return api_id_param_or_reply(req, 0, k->what, id);
}

static void list(http_req_t *req)
{
    const kind_t *k = kind_of(req);
    const char *limit, *after, *status, *domain, *mine;
    if (api_page_or_reply(req, &limit, &after) || http_query_or_reply(req, "status", &status) ||
        http_query_or_reply(req, "domain", &domain) || http_query_or_reply(req, "mine", &mine))
        return;
    bool ok = !status;
    for (size_t i = 0; !ok && k->statuses[i]; i++) ok = !strcmp(status, k->statuses[i]);
    if (!ok) {
        api_bad_param(req, "status", "invalid", k->status_message);
        return;
    }
    if (api_param_ok_or_reply(req, "domain", v_code(domain))) return;
    if (mine && strcmp(mine, "true") && strcmp(mine, "false")) {
        api_bad_param(req, "mine", "invalid", "mine must be true or false");
        return;
    }
    api_scope_t s = api_scope(req);
    if (mine && !strcmp(mine, "true") && !s.org) {
        api_bad_param(req, "mine", "no_org", "only members of an organisation have listings of their own");
        return;
    }
    const char *v[7] = {s.org, s.staff, mine && !strcmp(mine, "true") ? "true" : "false", status, domain, after, limit};
    api_query(req, k->st_list, 7, v, api_reply_page);
}

static void get(http_req_t *req)
{
    const kind_t *k = kind_of(req);
    const char *id;
    if (id_or_reply(req, k, &id)) return;
    api_scope_t s = api_scope(req);
    const char *v[3] = {id, s.org, s.staff};
    api_query(req, k->st_get, 3, v, api_reply_versioned_ok);
}

/* The body's codes, in the order the SQL checks them (market_result_merge,
 * market_need_merge): an unknown one is refused before a write is sent
 * (api_codes_check_write; not for a request with an Idempotency-Key). */
static void codes_then(http_req_t *req, bool result, void (*send)(http_req_t *))
{
    json_t *b = req->json;
    api_code_refs_t r = {0};
    size_t i;
    json_t *x;
    api_code_ref_key(req, &r, "", b, "domain", "domains");
    if (result) {
        api_code_ref_key(req, &r, "", b, "maturity", "maturity_stages");
        api_code_ref_key(req, &r, "", b, "pricing_mode", "pricing_modes");
    }
    const char *modes = result ? "transfer_modes" : "cooperation_modes";
    json_array_foreach(json_object_get(b, modes), i, x) {
        api_code_ref(req, &r, arena_printf(req->arena, "%s[%zu]", modes, i), modes, NULL, json_string_value(x));
    }
    api_code_ref_key(req, &r, "", b, "region_code", "regions");
    if (result) {
        json_array_foreach(json_object_get(b, "ip_records"), i, x) {
            api_code_ref(req, &r, arena_printf(req->arena, "ip_records[%zu].type", i), "ip_types", NULL,
                         json_string_value(json_object_get(x, "type")));
        }
    }
    api_codes_check_write(req, &r, true, send);
}

static void create_send(http_req_t *req)
{
    idem_t key;
    if (idem_key_or_reply(req, &key)) return;
    const char *v[6] = {api_actor(req), req->request_id, api_scope(req).org, api_json_text(req, req->json),
                        key.key,        key.hash};
    api_query(req, kind_of(req)->st_create, 6, v, idem_reply);
}

static void create(http_req_t *req)
{
    const kind_t *k = kind_of(req);
    if (body_or_reply(req, k)) return;
    codes_then(req, k == &RESULT, create_send);
}

static void update_send(http_req_t *req)
{
    const kind_t *k = kind_of(req);
    const char *id, *ifm;
    if (id_or_reply(req, k, &id) || api_if_match_or_reply(req, &ifm)) return;
    const char *v[6] = {api_actor(req), req->request_id, id, api_scope(req).org, ifm, api_json_text(req, req->json)};
    api_query(req, k->st_update, 6, v, api_reply_versioned_ok);
}

static void update(http_req_t *req)
{
    const kind_t *k = kind_of(req);
    const char *id, *ifm;
    if (id_or_reply(req, k, &id) || body_or_reply(req, k) || api_if_match_or_reply(req, &ifm)) return;
    codes_then(req, k == &RESULT, update_send);
}

static void del(http_req_t *req)
{
    const kind_t *k = kind_of(req);
    const char *id, *ifm;
    if (id_or_reply(req, k, &id) || api_fields_or_reply(req, NULL, 0) || api_if_match_or_reply(req, &ifm)) return;
    const char *v[5] = {api_actor(req), req->request_id, id, api_scope(req).org, ifm};
    api_query(req, k->st_delete, 5, v, api_reply_no_content);
}

/* The action is the last path segment: submit, withdraw (results), close
 * (needs: outcome closed or matched, and a reason), approve, reject (a
 * reason).  Only reject and close take a body (RejectRequest, CloseNeedRequest
 * in the spec); the others none (or {}). */
static void transition(http_req_t *req)
{
    const kind_t *k = kind_of(req);
    const char *action = strrchr(req->route->path, '/') + 1;
    bool reject = !strcmp(action, "reject");
    const char *id, *ifm;
    if (id_or_reply(req, k, &id) || api_body_or_reply(req) || api_if_match_or_reply(req, &ifm)) return;
    json_t *errs = NULL;
    check_text(req->json, "reason", 500, reject, true, &errs);
    const char *outcome = api_str(req, "outcome");
    if (outcome && strcmp(outcome, "closed") && strcmp(outcome, "matched"))
        http_error_add(&errs, "outcome", "invalid", "outcome must be closed or matched");
    if (errors_or_reply(req, errs)) return;
    /* reviewers act on any listing; members and admins through their scope */
    const char *org = (!strcmp(action, "approve") || reject) ? NULL : api_scope(req).org;
    const char *v[8] = {api_actor(req), req->request_id, id, org, ifm, action, api_str(req, "reason"), outcome};
    api_query(req, k->st_trans, k->trans_params, v, reply_changed);
}

/* --- routes ------------------------------------------------------------------------- */

#define MEMBER (ROLE_MEMBER | ROLE_ADMIN)
#define REVIEW (ROLE_REVIEWER | ROLE_ADMIN)

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/results", list, ROUTE_OPTIONAL_AUTH, 0},
    {HTTP_GET, "/api/v1/needs", list, ROUTE_OPTIONAL_AUTH, 0},
    {HTTP_POST, "/api/v1/results", create, ROUTE_JSON_BODY, ROLE_MEMBER},
    {HTTP_POST, "/api/v1/needs", create, ROUTE_JSON_BODY, ROLE_MEMBER},
    {HTTP_GET, "/api/v1/results/{id}", get, ROUTE_OPTIONAL_AUTH, 0},
    {HTTP_GET, "/api/v1/needs/{id}", get, ROUTE_OPTIONAL_AUTH, 0},
    {HTTP_PATCH, "/api/v1/results/{id}", update, ROUTE_JSON_BODY, MEMBER},
    {HTTP_PATCH, "/api/v1/needs/{id}", update, ROUTE_JSON_BODY, MEMBER},
    {HTTP_DELETE, "/api/v1/results/{id}", del, 0, MEMBER},
    {HTTP_DELETE, "/api/v1/needs/{id}", del, 0, MEMBER},
    /* the lifecycles: results are withdrawn, needs closed */
    {HTTP_POST, "/api/v1/results/{id}/submit", transition, 0, MEMBER},
    {HTTP_POST, "/api/v1/needs/{id}/submit", transition, 0, MEMBER},
    {HTTP_POST, "/api/v1/results/{id}/reject", transition, ROUTE_JSON_BODY, REVIEW},
    {HTTP_POST, "/api/v1/needs/{id}/reject", transition, ROUTE_JSON_BODY, REVIEW},
    {HTTP_POST, "/api/v1/results/{id}/approve", transition, 0, REVIEW},
    {HTTP_POST, "/api/v1/needs/{id}/approve", transition, 0, REVIEW},
    {HTTP_POST, "/api/v1/results/{id}/withdraw", transition, 0, MEMBER},
    {HTTP_POST, "/api/v1/needs/{id}/close", transition, 0, MEMBER},
};

void api_market_init(void)
{
    /* $1 viewer org, $2 staff, $3 mine, $4 status, $5 domain, $6 cursor, $7 limit */
    RESULT.st_list = db_stmt_register_replica(
        api_page_sql(
            "SELECT r.id, market_result_json(r, coalesce(r.holder_org_id = $1::bigint, false) OR $2::boolean) AS j"
            " FROM results r WHERE market_result_visible(r, $1::bigint, $2::boolean)"
            " AND (NOT $3::boolean OR r.holder_org_id = $1::bigint) AND ($4::text IS NULL OR r.status = $4)"
            " AND ($5::text IS NULL OR r.domain = $5) AND ($6::bigint IS NULL OR r.id < $6::bigint) ORDER BY r.id DESC",
            7),
        7);
    RESULT.st_get = db_stmt_register_replica(
        /* the public form is kept rendered (result_docs); the holder and
         * staff see more, rendered for them */
        "SELECT CASE WHEN coalesce(r.holder_org_id = $2::bigint, false) OR $3::boolean"
        " THEN market_result_json(r, true)::text"
        " ELSE coalesce(d.doc, market_result_json(r, false)::text) END"
        " FROM results r LEFT JOIN result_docs d ON d.id = r.id"
        " WHERE r.id = $1::bigint AND market_result_visible(r, $2::bigint, $3::boolean)",
        3);
    NEED.st_list = db_stmt_register_replica(
        api_page_sql(
            "SELECT n.id, market_need_json(n, coalesce(n.org_id = $1::bigint, false) OR $2::boolean) AS j"
            " FROM needs n WHERE market_need_visible(n, $1::bigint, $2::boolean)"
            " AND (NOT $3::boolean OR n.org_id = $1::bigint) AND ($4::text IS NULL OR market_need_status(n) = $4)"
            " AND ($5::text IS NULL OR n.domain = $5) AND ($6::bigint IS NULL OR n.id < $6::bigint) ORDER BY n.id DESC",
            7),
        7);
    NEED.st_get = db_stmt_register_replica(
        "SELECT market_need_json(n, coalesce(n.org_id = $2::bigint, false) OR $3::boolean)::text"
        " FROM needs n WHERE n.id = $1::bigint AND market_need_visible(n, $2::bigint, $3::boolean)",
        3);
    /* the writes (migrations/functions/market.sql): market_create and
     * market_delete for both kinds, market_<kind>_change for an edit and the
     * lifecycle (a need's change also takes the outcome of closing) */
    kind_t *kinds[2] = {&RESULT, &NEED};
    for (int i = 0; i < 2; i++) {
        const char *kind = i ? "need" : "result", *outcome = i ? "$8, " : "";
        kind_t *k = kinds[i];
        k->st_create = db_stmt_register(
            api_sql_printf(
                "SELECT status, body, replayed FROM market_create($1::bigint, $2, '%s', $3::bigint, $4::jsonb, $5, $6)",
                kind),
            6);
        k->st_update = db_stmt_register(
            api_sql_printf(
                "SELECT market_%s_change($1::bigint, $2, $3::bigint, $4::bigint, $5::int, 'update', NULL, %s$6::jsonb)",
                kind, i ? "NULL, " : ""),
            6);
        k->st_delete = db_stmt_register(
            api_sql_printf("SELECT market_delete($1::bigint, $2, '%s', $3::bigint, $4::bigint, $5::int)", kind), 5);
        k->st_trans = db_stmt_register(
            api_sql_printf("SELECT market_%s_change($1::bigint, $2, $3::bigint, $4::bigint, $5::int, $6, $7, %sNULL)",
                           kind, outcome),
            k->trans_params);
    }
    router_add(ROUTES, ARRAY_LEN(ROUTES));
    api_market_search_init();
    api_market_subs_init();
}
