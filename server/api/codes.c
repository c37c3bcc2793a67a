/* codes.c — reference data the regulations may change: code lists, regions,
 * the working-day calendar of each year and the regulatory settings.  Anyone
 * reads the code lists, regions and calendar; an admin edits the code lists,
 * the calendar and the settings, each edit citing its source, checked, versioned
 * (ETag / If-Match) and audited by one SQL function (functions/regulation.sql).
 * Each request is one statement whose JSON PostgreSQL builds. *
 * Also the known codes, for cheap checks before a query (issue 21): a search
 * for an unknown domain, or a listing with one, would otherwise be refused
 * inside a statement — a failing statement in a shared pipeline batch, sent
 * for nothing.  The codes and regions are loaded at start; a code not among
 * them is confirmed by a lookup that cannot fail (an admin may have added it
 * since: an edited code list never makes a valid code refused), then learned
 * by that worker.  A known code still goes through the SQL checks, which stay
 * the authority (a code retired since start is refused there as before). */
#include "api/api.h"

#include "auth/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ST_LIST, ST_LISTS, ST_REGION, ST_REGION_CHILDREN, ST_PROVINCES, ST_CALENDAR, ST_CODE_EXISTS,
    ST_REGION_EXISTS, ST_CALENDAR_PUT, ST_SETTINGS, ST_SETTING_PUT, ST_CODE_PUT;

/* --- known codes ---------------------------------------------------------------------------- */

/* "list\x1fcode" → active; "regions" holds the region codes.  g_known is
 * filled before the workers start and only read afterwards; each worker adds
 * what it learns to a table of its own (no locks on the request path). */
typedef struct {
    char *key;
    bool active;
} known_t;
typedef struct {
    known_t *slot;
    size_t mask, n;
} kset_t;

static kset_t g_known;
static __thread kset_t t_learned;

static uint64_t khash(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return h;
}

static known_t *kfind(const kset_t *s, const char *key)
{
    if (!s->slot) return NULL;
    for (size_t i = khash(key) & s->mask;; i = (i + 1) & s->mask) {
        if (!s->slot[i].key) return NULL;
        if (!strcmp(s->slot[i].key, key)) return &s->slot[i];
    }
}

/* Adds key (copied); a full table (over half) takes no more. */
static void kadd(kset_t *s, const char *key, bool active, size_t cap)
{
    if (!s->slot) {
        s->slot = calloc(cap, sizeof *s->slot);
        if (!s->slot) return;
        s->mask = cap - 1;
    }
    if (2 * (s->n + 1) > s->mask + 1) return;
    size_t i = khash(key) & s->mask;
    while (s->slot[i].key && strcmp(s->slot[i].key, key)) i = (i + 1) & s->mask;
    if (!s->slot[i].key) {
        s->slot[i].key = strdup(key);
        if (!s->slot[i].key) return;
        s->n++;
    }
    s->slot[i].active = active;
}

int api_codes_load(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT list || chr(31) || code, active FROM codes UNION ALL"
                            " SELECT 'regions' || chr(31) || code, true FROM regions");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "yizhan: cannot read the code lists: %s", PQerrorMessage(c));
        PQclear(r);
        return -1;
    }
    size_t cap = 1024;
    while (cap < 4 * (size_t)PQntuples(r) + 64) cap <<= 1;
    for (int i = 0; i < PQntuples(r); i++) kadd(&g_known, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)[0] == 't', cap);
    PQclear(r);
    return 0;
}

static const known_t *known(const char *list, const char *code)
{
    char key[160];
    if ((size_t)snprintf(key, sizeof key, "%s\x1f%s", list, code) >= sizeof key) return NULL;
    const known_t *k = kfind(&g_known, key);
    return k ? k : kfind(&t_learned, key);
}

static void learn(const char *list, const char *code, bool active)
{
    char key[160];
    if ((size_t)snprintf(key, sizeof key, "%s\x1f%s", list, code) < sizeof key) kadd(&t_learned, key, active, 4096);
}

typedef struct {
    const api_code_ref_t *refs;
    int n, i, status;
    void (*cont)(http_req_t *);
    void *saved_ctx; /* the handler's req->ctx, given back before cont */
} ccheck_t;

static void ccheck_next(http_req_t *req, ccheck_t *cc);

/* The problem the SQL check would have raised (check_code, check_region,
 * search_check_filters): the same status, message, field and code. */
static void refuse(http_req_t *req, const ccheck_t *cc, const api_code_ref_t *r)
{
    const char *msg;
    if (!strcmp(r->list, "regions")) msg = arena_printf(req->arena, "%s is not a GB/T 2260 region code", r->value);
    else if (r->list2)
        msg = arena_printf(req->arena, "%s is not a transfer or cooperation mode", r->value);
    else
        msg = arena_printf(req->arena, "%s is not a code of list %s", r->value, r->list);
    json_t *e = NULL;
    http_error_add(&e, r->field, !strcmp(r->list, "regions") ? "unknown_region" : "unknown_code", msg);
    http_problem(req, cc->status, msg, e);
}

static void on_exists(http_req_t *req, PGresult *res)
{
    ccheck_t *cc = req->ctx;
    const api_code_ref_t *r = &cc->refs[cc->i];
    if (PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] != 't') {
        refuse(req, cc, r);
        return;
    }
    /* known now: an active code is good for every check, a retired one for searches */
    bool active = cc->status != 400 || !strcmp(r->list, "regions");
    learn(r->list, r->value, active);
    if (r->list2) learn(r->list2, r->value, active);
    cc->i++;
    ccheck_next(req, cc);
}

static void ccheck_next(http_req_t *req, ccheck_t *cc)
{
    for (; cc->i < cc->n; cc->i++) {
        const api_code_ref_t *r = &cc->refs[cc->i];
        if (!r->value) continue;
        bool need_active = cc->status != 400; /* writes take active codes; searches any code of the list */
        const known_t *k = known(r->list, r->value);
        if (!k && r->list2) k = known(r->list2, r->value);
        if (k && (k->active || !need_active)) continue;
        if (!strcmp(r->list, "regions")) {
            const char *v[1] = {r->value};
            api_query(req, ST_REGION_EXISTS, 1, v, on_exists);
        } else {
            const char *lists = arena_printf(req->arena, "{%s%s%s}", r->list, r->list2 ? "," : "",
                                             r->list2 ? r->list2 : "");
            const char *v[3] = {lists, r->value, need_active ? "true" : "false"};
            api_query(req, ST_CODE_EXISTS, 3, v, on_exists);
        }
        return;
    }
    req->ctx = cc->saved_ctx;
    cc->cont(req);
}

void api_codes_check(http_req_t *req, const api_code_ref_t *refs, int n, int status, void (*cont)(http_req_t *))
{
    ccheck_t *cc = arena_calloc(req->arena, sizeof *cc);
    api_code_ref_t *copy = arena_alloc(req->arena, sizeof *copy * (size_t)(n ? n : 1));
    memcpy(copy, refs, sizeof *copy * (size_t)n);
    *cc = (ccheck_t){copy, n, 0, status, cont, req->ctx};
    req->ctx = cc;
    ccheck_next(req, cc);
}

void api_code_ref(http_req_t *req, api_code_refs_t *r, const char *field, const char *list, const char *list2,
                  const char *value)
{
    if (!value) return;
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        api_code_ref_t *g = arena_alloc(req->arena, sizeof *g * (size_t)cap);
        if (r->n) memcpy(g, r->refs, sizeof *g * (size_t)r->n);
        r->refs = g;
        r->cap = cap;
    }
    r->refs[r->n++] = (api_code_ref_t){field, list, list2, value};
}

void api_code_ref_key(http_req_t *req, api_code_refs_t *r, const char *prefix, json_t *o, const char *key,
                      const char *list)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (v) api_code_ref(req, r, *prefix ? arena_printf(req->arena, "%s%s", prefix, key) : key, list, NULL, v);
}

void api_codes_check_write(http_req_t *req, const api_code_refs_t *r, bool replayable, void (*cont)(http_req_t *))
{
    if (!r->n || (replayable && http_header(req, "idempotency-key"))) {
        cont(req);
        return;
    }
    api_codes_check(req, r->refs, r->n, 422, cont);
}

static void code_list(http_req_t *req)
{
    const char *list = req->params[0];
    if (!strcmp(list, "regions")) {
        const char *parent;
        if (http_query_or_reply(req, "parent", &parent) || api_param_ok_or_reply(req, "parent", v_region(parent)))
            return;
        if (parent) {
            const char *v[1] = {parent};
            api_query(req, ST_REGION_CHILDREN, 1, v, api_reply_row_json);
        } else {
            api_query(req, ST_PROVINCES, 0, NULL, api_reply_row_json);
        }
        return;
    }
    if (!strcmp(list, "calendar")) {
        const char *year;
        if (api_year_or_reply(req, "year", false, &year)) return;
        const char *v[1] = {year};
        api_query(req, ST_CALENDAR, 1, v, api_reply_row_json);
        return;
    }
    const char *all;
    if (http_query_or_reply(req, "include_inactive", &all) ||
        api_param_ok_or_reply(req, "include_inactive", v_bool(all)))
        return;
    const char *v[2] = {list, all && !strcmp(all, "true") ? "true" : "false"};
    api_query(req, ST_LIST, 2, v, api_reply_row_json);
}

static void code_lists(http_req_t *req)
{
    api_query(req, ST_LISTS, 0, NULL, api_reply_row_json);
}

static void reply_versioned(http_req_t *req, PGresult *res)
{
    api_reply_versioned(req, res, 200);
}

static void code_put(http_req_t *req)
{
    const char *ifm;
    if (api_body_or_reply(req) || api_if_match_or_reply(req, &ifm)) return;
    json_t *errs = NULL;
    api_check_chars(req, &errs, "label", api_str(req, "label"), 100);
    api_check_chars(req, &errs, "source", api_str(req, "source"), 500);
    if (api_errors_or_reply(req, errs)) return;
    const char *v[6] = {
        api_actor(req), req->request_id, req->params[0], req->params[1], ifm, api_json_text(req, req->json)};
    api_query(req, ST_CODE_PUT, 6, v, reply_versioned);
}

/* PUT /calendar/{year}: {status, source, note?, days: [{day, kind, name}]} —
 * the whole year at once, so a confirmation with its 调休 days is one change. */
static void calendar_put(http_req_t *req)
{
    const char *ifm;
    uint64_t y;
    const char *year = req->params[0];
    if (util_parse_u64(year, strlen(year), &y) != 0 || y < 2000 || y > 2100) {
        http_problem(req, 404, "no calendar for that year (2000 to 2100)", NULL);
        return;
    }
    if (api_body_or_reply(req) || api_if_match_or_reply(req, &ifm)) return;
    json_t *days = json_object_get(req->json, "days"), *d, *errs = NULL;
    size_t i;
    if (json_array_size(days) > 400) http_error_add(&errs, "days", "too_many", "at most 400 days");
    json_array_foreach(days, i, d) {
        char f[48];
        if (!json_is_object(d)) {
            snprintf(f, sizeof f, "days[%zu]", i);
            http_error_add(&errs, f, "wrong_type", "must be an object {day, kind, name}");
            continue;
        }
        const char *k;
        json_t *val;
        json_object_foreach(d, k, val) {
            snprintf(f, sizeof f, "days[%zu].%.20s", i, k);
            if (strcmp(k, "day") && strcmp(k, "kind") && strcmp(k, "name"))
                http_error_add(&errs, f, "unknown_field", "this field is not accepted here");
            else if (!json_is_string(val))
                http_error_add(&errs, f, "wrong_type", "must be a string");
        }
    }
    if (errs) {
        http_problem(req, 400, "the request body has unknown or mistyped fields", errs);
        return;
    }
    const char *v[5] = {api_actor(req), req->request_id, year, ifm, api_json_text(req, req->json)};
    api_query(req, ST_CALENDAR_PUT, 5, v, reply_versioned);
}

static void settings_list(http_req_t *req)
{
    api_query(req, ST_SETTINGS, 0, NULL, api_reply_row_json);
}

static void setting_put(http_req_t *req)
{
    const char *ifm;
    if (api_body_or_reply(req) || api_if_match_or_reply(req, &ifm)) return;
    const char *v[6] = {api_actor(req),
                        req->request_id,
                        req->params[0],
                        ifm,
                        api_json_text(req, json_object_get(req->json, "value")),
                        api_str(req, "source")};
    api_query(req, ST_SETTING_PUT, 6, v, reply_versioned);
}

static void region_get(http_req_t *req)
{
    const char *code = req->params[0];
    if (api_param_ok_or_reply(req, "code", v_region(code))) return;
    const char *v[1] = {code};
    api_query(req, ST_REGION, 1, v, api_reply_row_json);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/codes/{list}", code_list, 0, 0},
    {HTTP_GET, "/api/v1/codes/regions/{code}", region_get, 0, 0},
    {HTTP_GET, "/api/v1/codes", code_lists, 0, 0},
    {HTTP_PUT, "/api/v1/codes/{list}/{code}", code_put, ROUTE_JSON_BODY, ROLE_ADMIN},
    {HTTP_PUT, "/api/v1/calendar/{year}", calendar_put, ROUTE_JSON_BODY, ROLE_ADMIN},
    {HTTP_GET, "/api/v1/settings", settings_list, 0, ROLE_ADMIN},
    {HTTP_PUT, "/api/v1/settings/{key}", setting_put, ROUTE_JSON_BODY, ROLE_ADMIN},
};

void api_codes_init(void)
{
    ST_LIST = db_stmt_register_replica(
        "SELECT json_build_object('list', l.list, 'label', l.label, 'description', l.description, 'items',"
        " coalesce((SELECT json_agg(json_build_object('code', c.code, 'label', c.label, 'label_en', c.label_en,"
        " 'parent_code', c.parent_code, 'sort', c.sort, 'extra', c.extra, 'active', c.active, 'source', c.source,"
        " 'version', c.version) ORDER BY c.sort, c.code) FROM codes c WHERE c.list = l.list AND (c.active OR $2::boolean)),"
        " '[]'))::text FROM code_lists l WHERE l.list = $1",
        2);
    ST_LISTS = db_stmt_register_replica(
        api_list_sql("json_agg(json_build_object('list', l.list, 'label', l.label, 'description', l.description,"
                     " 'count', (SELECT count(*) FROM codes c WHERE c.list = l.list AND c.active)) ORDER BY l.list)",
                     "", "FROM code_lists l"),
        0);
    ST_CODE_PUT = db_stmt_register("SELECT code_put($1::bigint, $2, $3, $4, $5::int, $6::jsonb)", 6);
    ST_CALENDAR_PUT = db_stmt_register("SELECT calendar_put($1::bigint, $2, $3::int, $4::int, $5::jsonb)", 5);
    ST_SETTINGS = db_stmt_register_read(api_list_sql("json_agg(setting_json(s) ORDER BY s.key)", "", "FROM settings s"),
                                        0);
    ST_SETTING_PUT = db_stmt_register("SELECT setting_put($1::bigint, $2, $3, $4::int, $5::jsonb, $6)", 6);
    /* The one-row lookup the benchmark compares with pgbench. */
    ST_REGION = db_stmt_register_replica(
        "SELECT json_build_object('code', r.code, 'name', r.name, 'level', r.level, 'parent_code', r.parent_code,"
        " 'path', (SELECT json_agg(json_build_object('code', a.code, 'name', a.name) ORDER BY a.level)"
        " FROM regions a WHERE a.code IN (r.code, r.parent_code, (SELECT p.parent_code FROM regions p"
        " WHERE p.code = r.parent_code))))::text"
        " FROM regions r WHERE r.code = $1",
        1);
    ST_REGION_CHILDREN = db_stmt_register_replica(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM regions WHERE code = $1) THEN json_build_object('list', 'regions',"
        " 'label', '行政区划', 'parent', $1::text, 'items', coalesce((SELECT json_agg(json_build_object('code', code,"
        " 'name', name, 'level', level, 'parent_code', parent_code) ORDER BY code) FROM regions WHERE parent_code ="
        " $1), '[]'))::text END",
        1);
    ST_PROVINCES = db_stmt_register_replica(
        "SELECT json_build_object('list', 'regions', 'label', '行政区划', 'items', json_agg(json_build_object('code',"
        " code, 'name', name, 'level', level, 'parent_code', parent_code) ORDER BY code))::text FROM regions"
        " WHERE level = 1",
        0);
    ST_CALENDAR = db_stmt_register_replica(
        "SELECT calendar_json(coalesce($1::int, extract(year FROM today_cn())::int))::text", 1);
    /* the cheap checks' confirmations: light reads that cannot fail */
    ST_CODE_EXISTS = db_stmt_register_read(
        "SELECT EXISTS (SELECT 1 FROM codes WHERE list = ANY ($1::text[]) AND code = $2 AND (active OR NOT $3::boolean))",
        3);
    ST_REGION_EXISTS = db_stmt_register_read("SELECT EXISTS (SELECT 1 FROM regions WHERE code = $1)", 1);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
