/* common.c — database error mapping and body-field validation. */
#include "api/api.h"

#include "auth/auth.h"
#include "config.h"
#include "domain/region.h"
#include "log.h"
#include "util/cursor.h"

#include <pthread.h>
#include <stdarg.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    http_req_t *req;
    api_row_cb ok;
    api_any_cb any;
    int stmt, n;
    const char **vals; /* copied pointer array; the values live in the request */
    bool on_replica;
} qctx_t;

/* --- read replica routing ---------------------------------------------------
 * Replica-safe reads go to the replica pool when it has a ready connection.
 * A user who wrote in the last YIZHAN_READ_OWN_WRITES_MS reads from the
 * primary, so they see their own write (per instance: deploy/nginx.conf keeps a
 * user on one instance).  A replica failure is retried on the primary. */
#define RW_SLOTS 16384
static struct {
    int64_t user;
    uint64_t at_ns;
} g_rw[RW_SLOTS];
static pthread_mutex_t g_rw_lock = PTHREAD_MUTEX_INITIALIZER;

static void rw_note(int64_t user)
{
    pthread_mutex_lock(&g_rw_lock);
    g_rw[(uint64_t)user % RW_SLOTS].user = user;
    g_rw[(uint64_t)user % RW_SLOTS].at_ns = util_now_ns();
    pthread_mutex_unlock(&g_rw_lock);
}

static bool rw_recent(int64_t user)
{
    pthread_mutex_lock(&g_rw_lock);
    bool recent = g_rw[(uint64_t)user % RW_SLOTS].user == user &&
                  util_now_ns() - g_rw[(uint64_t)user % RW_SLOTS].at_ns <
                      (uint64_t)g_cfg.read_own_writes_ms * 1000000ull;
    pthread_mutex_unlock(&g_rw_lock);
    return recent;
}

/* --- each worker's database pools ------------------------------------------------ */

typedef struct {
    db_pool_t *primary, *replica;
} pools_t;

void *api_pools_new(struct event_base *base, int index)
{
    (void)index;
    pools_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->primary = db_pool_new(base, g_cfg.database_url, g_cfg.db_conns, g_cfg.db_queue_max);
    if (g_cfg.replica_url[0]) p->replica = db_pool_new(base, g_cfg.replica_url, g_cfg.db_conns, g_cfg.db_queue_max);
    if (!p->primary) {
        free(p);
        return NULL;
    }
    return p;
}

db_pool_t *api_db(worker_t *w)
{
    return ((pools_t *)worker_slot(w))->primary;
}

db_pool_t *api_db_replica(worker_t *w)
{
    return ((pools_t *)worker_slot(w))->replica;
}

void api_db_metrics_render(buf_t *out)
{
    int depth = 0, up = 0, down = 0, rup = 0, rdown = 0;
    for (int i = 0; i < http_worker_count(); i++) {
        pools_t *p = worker_slot(http_worker_at(i));
        depth += db_pool_depth(p->primary);
        db_pool_conn_states(p->primary, &up, &down);
        if (p->replica) db_pool_conn_states(p->replica, &rup, &rdown);
    }
    buf_printf(out,
               "# HELP yizhan_db_queue_depth Database queries queued or in flight.\n"
               "# TYPE yizhan_db_queue_depth gauge\n"
               "yizhan_db_queue_depth %d\n"
               "# HELP yizhan_db_connections Database connections by state.\n"
               "# TYPE yizhan_db_connections gauge\n"
               "yizhan_db_connections{state=\"up\"} %d\n"
               "yizhan_db_connections{state=\"down\"} %d\n"
               "# HELP yizhan_db_replica_connections Read-replica connections by state.\n"
               "# TYPE yizhan_db_replica_connections gauge\n"
               "yizhan_db_replica_connections{state=\"up\"} %d\n"
               "yizhan_db_replica_connections{state=\"down\"} %d\n",
               depth, up, down, rup, rdown);
}

void api_reply_db_error(http_req_t *req, db_status_t st, PGresult *res)
{
    switch (st) {
    case DB_ERR_UNAVAILABLE: http_problem(req, 503, "the database is unavailable; try again shortly", NULL); return;
    case DB_ERR_OVERLOADED: http_problem(req, 503, "the server is busy; try again shortly", NULL); return;
    case DB_ERR_TIMEOUT: http_problem(req, 504, "the database did not answer in time", NULL); return;
    default: break;
    }
    const char *s = db_sqlstate(res);
    /* Our own SQL functions raise SQLSTATE 'YZnnn' with a message written for
     * the client and, in HINT, the field at fault. */
    if (s[0] == 'Y' && s[1] == 'Z') {
        int status = atoi(s + 2);
        if (status < 400 || status > 499) status = 422;
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        const char *field = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
        const char *code = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
        json_t *errs = NULL;
        if (field && *field) http_error_add(&errs, field, code ? code : "invalid", msg ? msg : "invalid value");
        http_problem(req, status, msg ? msg : "request refused", errs);
        return;
    }
    int status = 500;
    const char *detail = "internal error";
    if (!strcmp(s, "23505")) status = 409, detail = "a conflicting record already exists";
    else if (!strcmp(s, "23503"))
        status = 422, detail = "a referenced record does not exist";
    else if (!strcmp(s, "23514") || !strcmp(s, "23502"))
        status = 422, detail = "a value is not allowed";
    else if (!strncmp(s, "22", 2))
        status = 400, detail = "a value has the wrong form";
    else if (!strcmp(s, "57014"))
        status = 504, detail = "the database did not answer in time";
    else if (!strcmp(s, "55P03"))
        status = 503, detail = "the record is busy; try again shortly";
    else if (!strncmp(s, "40", 2))
        status = 503, detail = "a concurrent change interfered; try again";
    else if (!strncmp(s, "08", 2) || !strncmp(s, "53", 2) || !strncmp(s, "57P", 3))
        status = 503, detail = "the database is unavailable; try again shortly";
    if (status == 500 || log_enabled(LOG_DEBUG)) {
        const char *m = res ? PQresultErrorMessage(res) : "";
        char msg[512];
        snprintf(msg, sizeof msg, "%s", m);
        msg[strcspn(msg, "\n")] = '\0';
        log_msg(status == 500 ? LOG_ERROR : LOG_DEBUG, req->request_id, "database error %s: %s", s, msg);
    }
    http_problem(req, status, detail, NULL);
}

static void on_db(void *arg, db_status_t st, PGresult *res)
{
    qctx_t *q = arg;
    if (q->on_replica && (st == DB_ERR_UNAVAILABLE || st == DB_ERR_OVERLOADED || st == DB_ERR_TIMEOUT)) {
        q->on_replica = false; /* the replica is down or busy: the primary answers */
        db_query(api_db(q->req->worker), q->stmt, q->n, q->vals, on_db, q);
        return;
    }
    if (st == DB_OK && q->req->user && !db_stmt_is_read(q->stmt)) rw_note(q->req->user->id);
    if (q->any) {
        q->any(q->req, st, res);
        return;
    }
    if (st != DB_OK) {
        api_reply_db_error(q->req, st, res);
        return;
    }
    q->ok(q->req, res);
}

static void submit(http_req_t *req, int stmt, int n, const char *const *vals, api_row_cb ok, api_any_cb any)
{
    qctx_t *q = arena_alloc(req->arena, sizeof *q);
    q->req = req;
    q->ok = ok;
    q->any = any;
    q->stmt = stmt;
    q->n = n;
    q->vals = arena_alloc(req->arena, sizeof(char *) * (size_t)(n ? n : 1));
    if (n) /* memcpy from NULL is undefined even for 0 bytes (UBSan caught it) */
        memcpy(q->vals, vals, sizeof(char *) * (size_t)n);
    db_pool_t *replica = api_db_replica(req->worker);
    q->on_replica = replica && db_stmt_replica_ok(stmt) && db_pool_ready(replica) &&
                    !(req->user && rw_recent(req->user->id));
    db_query(q->on_replica ? replica : api_db(req->worker), stmt, n, q->vals, on_db, q);
}

void api_query(http_req_t *req, int stmt, int n, const char *const *vals, api_row_cb cb)
{
    submit(req, stmt, n, vals, cb, NULL);
}

void api_query_any(http_req_t *req, int stmt, int n, const char *const *vals, api_any_cb cb)
{
    submit(req, stmt, n, vals, NULL, cb);
}

void api_reply_row_json_status(http_req_t *req, PGresult *res, int status)
{
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
        http_problem(req, 404, "not found", NULL);
        return;
    }
    http_reply_json(req, status, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

void api_reply_row_json_created(http_req_t *req, PGresult *res)
{
    api_reply_row_json_status(req, res, 201);
}

void api_reply_row_json(http_req_t *req, PGresult *res)
{
    api_reply_row_json_status(req, res, 200);
}

static const char *type_name(ftype_t t)
{
    switch (t) {
    case F_STRING: return "a string";
    case F_INT: return "an integer";
    case F_BOOL: return "true or false";
    case F_OBJECT: return "an object";
    case F_ARRAY: return "an array";
    case F_NUMBER_OR_NULL: return "an integer or null";
    case F_REAL_OR_NULL: return "a number or null";
    case F_STRING_OR_NULL: return "a string or null";
    default: return "a value";
    }
}

static bool type_ok(ftype_t t, json_t *v)
{
    switch (t) {
    case F_STRING: return json_is_string(v);
    case F_INT: return json_is_integer(v);
    case F_BOOL: return json_is_boolean(v);
    case F_OBJECT: return json_is_object(v);
    case F_ARRAY: return json_is_array(v);
    case F_NUMBER_OR_NULL: return json_is_integer(v) || json_is_null(v);
    case F_REAL_OR_NULL: return json_is_number(v) || json_is_null(v);
    case F_STRING_OR_NULL: return json_is_string(v) || json_is_null(v);
    default: return true;
    }
}

int api_fields_check(json_t *o, const char *prefix, const field_t *fields, size_t n, json_t **errs)
{
    int status = 0;
    char f[256];
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val) {
        size_t i = 0;
        for (; i < n; i++)
            if (!strcmp(fields[i].name, key)) break;
        snprintf(f, sizeof f, "%s%s", prefix, key);
        if (i == n) {
            http_error_add(errs, f, "unknown_field", "this field is not accepted here");
            status = 400;
        } else if (!type_ok(fields[i].type, val)) {
            char m[64];
            snprintf(m, sizeof m, "must be %s", type_name(fields[i].type));
            http_error_add(errs, f, "wrong_type", m);
            status = 400;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (fields[i].required && !json_object_get(o, fields[i].name)) {
            snprintf(f, sizeof f, "%s%s", prefix, fields[i].name);
            http_error_add(errs, f, "required", "this field is required");
            if (!status) status = 422;
        }
    return status;
}

int api_fields_or_reply(http_req_t *req, const field_t *fields, size_t n)
{
    json_t *body = req->json, *errs = NULL;
    if (!body)
        body = json_object(), arena_on_dispose(req->arena, (void (*)(void *))json_decref, body), req->json = body;
    int status = api_fields_check(body, "", fields, n, &errs);
    if (!status) return 0;
    http_problem(req, status,
                 status == 400 ? "the request body has unknown or mistyped fields" : "required fields are missing",
                 errs);
    return -1;
}

/* Each operation's JSON object body, by method and path template.  A search
 * of about 50 rows, on bodies only: well under a microsecond. */
typedef struct {
    int method;
    const char *path;
    const field_t *fields;
    size_t n;
} spec_body_t;
static const spec_body_t BODIES[] = {SPEC_BODIES};

int api_body_or_reply(http_req_t *req)
{
    const route_t *r = req->route;
    for (size_t i = 0; i < ARRAY_LEN(BODIES); i++)
        if (BODIES[i].method == r->method && !strcmp(BODIES[i].path, r->path))
            return api_fields_or_reply(req, BODIES[i].fields, BODIES[i].n);
    return api_fields_or_reply(req, NULL, 0);
}

void api_check_chars(http_req_t *req, json_t **errs, const char *name, const char *s, size_t max)
{
    if (s && util_utf8_len(s, strlen(s)) > max)
        http_error_add(errs, name, "too_long", arena_printf(req->arena, "at most %zu characters", max));
}

void api_check_text(http_req_t *req, json_t **errs, const char *name, const char *s, size_t max)
{
    if (s && !s[strspn(s, " \t\r\n")]) http_error_add(errs, name, "required", "must not be empty");
    else
        api_check_chars(req, errs, name, s, max);
}

bool api_check(json_t **errs, const char *name, const verdict_t *v)
{
    if (!v) return false;
    http_error_add(errs, name, v->code, v->why);
    return true;
}

int api_errors_or_reply(http_req_t *req, json_t *errs)
{
    if (!errs) return 0;
    http_problem(req, 422, "some fields are not valid", errs);
    return -1;
}

int api_bad_field(http_req_t *req, const char *name, const char *code, const char *message)
{
    json_t *e = NULL;
    http_error_add(&e, name, code, message);
    return api_errors_or_reply(req, e);
}

int api_bad_param(http_req_t *req, const char *name, const char *code, const char *message)
{
    json_t *e = NULL;
    http_error_add(&e, name, code, message);
    http_problem(req, 400, "invalid query parameter", e);
    return -1;
}

int api_search_text_or_reply(http_req_t *req, const char **q)
{
    if (http_query_or_reply(req, "q", q)) return -1;
    if (*q && util_utf8_len(*q, strlen(*q)) > 100) return api_bad_param(req, "q", "too_long", "at most 100 characters");
    if (*q && !**q) *q = NULL;
    return 0;
}

int api_param_ok_or_reply(http_req_t *req, const char *name, const verdict_t *v)
{
    return v ? api_bad_param(req, name, v->code, v->why) : 0;
}

api_scope_t api_scope(http_req_t *req)
{
    api_scope_t s = {NULL, NULL, NULL, "false", "false"};
    auth_user_t *u = req->user;
    if (!u) return s;
    if (u->role & (ROLE_MEMBER | ROLE_BROKER)) s.org = arena_printf(req->arena, "%lld", (long long)u->org_id);
    if (u->role & ROLE_OFFICER) s.office = arena_printf(req->arena, "%lld", (long long)u->office_id);
    if (u->role & ROLE_BUREAU) s.region = arena_strdup(req->arena, u->region);
    if (u->role & ROLE_ADMIN) s.admin = "true";
    if (u->role & (ROLE_REVIEWER | ROLE_ADMIN)) s.staff = "true";
    return s;
}

int api_region_or_reply(http_req_t *req, const char **region)
{
    const char *r;
    if (http_query_or_reply(req, "region", &r) || api_param_ok_or_reply(req, "region", v_region(r))) return -1;
    const char *root = api_scope(req).region;
    *region = r ? r : root ? root : "000000";
    if (root && !region_in_subtree(*region, root)) {
        json_t *e = NULL;
        http_error_add(&e, "region", "out_of_scope", "a bureau sees its own region and the regions below it");
        http_problem(req, 403, "outside your region", e);
        return -1;
    }
    return 0;
}

int api_current_year(void)
{
    time_t t = time(NULL) + (time_t)8 * 3600; /* Asia/Shanghai, no DST */
    struct tm tm;
    gmtime_r(&t, &tm);
    return tm.tm_year + 1900;
}

int api_year_or_reply(http_req_t *req, const char *name, bool current, const char **out)
{
    const char *y;
    uint64_t v = (uint64_t)api_current_year();
    if (http_query_or_reply(req, name, &y) || api_param_ok_or_reply(req, name, v_year_text(y, &v))) return -1;
    *out = y || current ? arena_printf(req->arena, "%llu", (unsigned long long)v) : NULL;
    return 0;
}

int api_year_region_or_reply(http_req_t *req, const char **year, const char **region)
{
    return api_year_or_reply(req, "year", true, year) || api_region_or_reply(req, region) ? -1 : 0;
}

void api_year_region_read(http_req_t *req, int stmt)
{
    const char *year, *region;
    if (api_year_region_or_reply(req, &year, &region)) return;
    const char *v[2] = {region, year};
    api_query(req, stmt, 2, v, api_reply_row_json);
}

const char *api_str(http_req_t *req, const char *name)
{
    json_t *v = req->json ? json_object_get(req->json, name) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* --- lists, cursors, versions ------------------------------------------------ */

int api_limit_or_reply(http_req_t *req, const char **limit_text)
{
    const char *l;
    if (http_query_or_reply(req, "limit", &l) != 0) return -1;
    uint64_t v = 20;
    if (l && (util_parse_u64(l, strlen(l), &v) != 0 || v < 1 || v > 100)) {
        json_t *e = NULL;
        http_error_add(&e, "limit", "out_of_range", "limit must be an integer from 1 to 100");
        http_problem(req, 400, "invalid query parameter", e);
        return -1;
    }
    *limit_text = arena_printf(req->arena, "%llu", (unsigned long long)v);
    return 0;
}

int api_page_or_reply(http_req_t *req, const char **limit, const char **after)
{
    if (api_limit_or_reply(req, limit) || api_cursor_or_reply(req, after)) return -1;
    if (*after && !v_is_id(*after)) *after = NULL;
    return 0;
}

const char *api_sql_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) abort();
    return s;
}

static const char *page_sql(const char *rows, int limit, bool ascending)
{
    const char *dir = ascending ? "" : " DESC", *last = ascending ? "max" : "min";
    return api_sql_printf("WITH page AS (%s LIMIT $%d::int + 1), shown AS (SELECT * FROM page ORDER BY id%s LIMIT"
                          " $%d::int) SELECT coalesce((SELECT json_agg(j ORDER BY id%s) FROM shown), '[]')::text,"
                          " CASE WHEN (SELECT count(*) FROM page) > $%d::int THEN (SELECT %s(id) FROM shown)::text END",
                          rows, limit, dir, limit, dir, limit, last);
}

const char *api_page_sql(const char *rows, int limit)
{
    return page_sql(rows, limit, false);
}

const char *api_page_sql_ascending(const char *rows, int limit)
{
    return page_sql(rows, limit, true);
}

const char *api_list_sql(const char *items, const char *more, const char *from)
{
    return api_sql_printf("SELECT json_build_object('items', coalesce(%s, '[]')%s, 'next_cursor', NULL)::text %s",
                          items, more, from);
}

/* cursor = b64url(key) "." b64url(first 12 bytes of HMAC(secret, "cursor", route ‖ key)) */
static void cursor_hmac(const void *msg, size_t n, unsigned char out[32])
{
    auth_hmac("cursor", msg, n, out);
}

const char *api_cursor_sign(http_req_t *req, const char *key)
{
    size_t kl = strlen(key);
    char *out = arena_alloc(req->arena, CURSOR_ENCODED_MAX(kl));
    cursor_encode(req->route->path, key, kl, cursor_hmac, out);
    return out;
}

const char *api_cursor_sign_sorted(http_req_t *req, char sort, const char *key)
{
    return api_cursor_sign(req, arena_printf(req->arena, "%c|%s", sort, key));
}

const char *api_cursor_sorted_key(const char *cursor, char sort)
{
    return cursor && cursor[0] == sort && cursor[1] == '|' ? cursor + 2 : NULL;
}

int api_cursor_or_reply(http_req_t *req, const char **key)
{
    const char *c;
    *key = NULL;
    if (http_query_or_reply(req, "cursor", &c) != 0) return -1;
    if (!c || !*c) return 0;
    size_t n = strlen(c);
    char *raw = arena_alloc(req->arena, n + 1);
    if (cursor_decode(req->route->path, c, n, cursor_hmac, raw) > 0) {
        *key = raw;
        return 0;
    }
    json_t *e = NULL;
    http_error_add(&e, "cursor", "invalid", "the cursor is not one this server issued for this list");
    http_problem(req, 400, "invalid cursor", e);
    return -1;
}

/* {"items": column 0, "next_cursor": column 1 signed (after the sort's
 * letter when sort is not 0) or null[, "total": column 2 when sort is not 0
 * and it is not NULL]} */
static void reply_page(http_req_t *req, PGresult *res, char sort)
{
    bool row = PQntuples(res) > 0;
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "{\"items\":");
    buf_puts(&b, row ? PQgetvalue(res, 0, 0) : "[]");
    buf_puts(&b, ",\"next_cursor\":");
    if (row && !PQgetisnull(res, 0, 1))
        buf_json_str(&b, sort ? api_cursor_sign_sorted(req, sort, PQgetvalue(res, 0, 1))
                              : api_cursor_sign(req, PQgetvalue(res, 0, 1)));
    else
        buf_puts(&b, "null");
    if (sort && row && !PQgetisnull(res, 0, 2)) {
        buf_puts(&b, ",\"total\":");
        buf_puts(&b, PQgetvalue(res, 0, 2));
    }
    buf_putc(&b, '}');
    http_reply_json(req, 200, b.data, b.len);
    buf_free(&b);
}

void api_reply_page(http_req_t *req, PGresult *res)
{
    reply_page(req, res, 0);
}

void api_reply_page_sorted(http_req_t *req, PGresult *res, char sort)
{
    reply_page(req, res, sort);
}

int api_if_match_or_reply(http_req_t *req, const char **version)
{
    const char *h = http_header(req, "if-match");
    *version = NULL;
    if (!h || !strcmp(h, "*")) return 0;
    const char *p = h;
    if (!strncmp(p, "W/", 2)) p += 2;
    size_t n = strlen(p);
    uint64_t v;
    if (n >= 3 && p[0] == '"' && p[n - 1] == '"' && util_parse_u64(p + 1, n - 2, &v) == 0) {
        *version = arena_printf(req->arena, "%llu", (unsigned long long)v);
        return 0;
    }
    http_problem(req, 412, "If-Match must be an ETag this server sent", NULL);
    return -1;
}

void api_reply_versioned(http_req_t *req, PGresult *res, int status)
{
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
        http_problem(req, 404, "not found", NULL);
        return;
    }
    const char *j = PQgetvalue(res, 0, 0);
    api_add_etag(req, j);
    http_reply_json(req, status, j, (size_t)PQgetlength(res, 0, 0));
}

void api_reply_versioned_ok(http_req_t *req, PGresult *res)
{
    api_reply_versioned(req, res, 200);
}

void api_reply_versioned_created(http_req_t *req, PGresult *res)
{
    api_reply_versioned(req, res, 201);
}

void api_reply_no_content(http_req_t *req, PGresult *res)
{
    (void)res;
    http_reply(req, 204, NULL, NULL, 0);
}

void api_add_etag(http_req_t *req, const char *json)
{
    const char *v = strstr(json, "\"version\":");
    if (!v) return;
    long ver = strtol(v + 10 + (v[10] == ' '), NULL, 10);
    http_add_header(req, "ETag", arena_printf(req->arena, "\"%ld\"", ver));
}

int api_rate_limited_or_reply(http_req_t *req, const char *retry_after_s, const char *detail)
{
    int retry = atoi(retry_after_s);
    if (retry <= 0) return 0;
    http_add_header(req, "Retry-After", arena_printf(req->arena, "%d", retry));
    http_problem(req, 429, detail, NULL);
    return -1;
}

const char *api_random_token_or_reply(http_req_t *req, const char *prefix, size_t nbytes)
{
    unsigned char rnd[64];
    size_t pl = strlen(prefix);
    if (nbytes > sizeof rnd || util_random_bytes(rnd, nbytes) != 0) {
        http_problem(req, 500, "could not make a random code", NULL);
        return NULL;
    }
    char *out = arena_alloc(req->arena, pl + 4 * ((nbytes + 2) / 3) + 1);
    memcpy(out, prefix, pl + 1); /* the encoding goes after the prefix */
    util_b64url_encode(rnd, nbytes, out + pl);
    return out;
}

int api_id_param_or_reply(http_req_t *req, int i, const char *what, const char **out)
{
    *out = i < req->nparams ? req->params[i] : "";
    if (!v_is_id(*out)) {
        http_problemf(req, 404, "no such %s", what);
        return -1;
    }
    return 0;
}

const char *api_json_text(http_req_t *req, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *out = arena_strdup(req->arena, s ? s : "{}");
    free(s);
    return out;
}

const char *api_actor(http_req_t *req)
{
    return req->user ? req->user->id_str : NULL;
}

const char *api_bytea_param(http_req_t *req, const unsigned char *data, size_t n)
{
    char *hex = arena_alloc(req->arena, 2 * n + 3);
    hex[0] = '\\';
    hex[1] = 'x';
    util_hex(data, n, hex + 2);
    return hex;
}

static unsigned hexval(char c)
{
    return c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
}

unsigned char *api_bytea_value(http_req_t *req, const char *hex, size_t hl, size_t *n)
{
    if (hl < 2 || hex[0] != '\\' || hex[1] != 'x' || hl % 2) return NULL;
    *n = (hl - 2) / 2;
    unsigned char *data = arena_alloc(req->arena, *n + 1);
    for (size_t i = 0; i < *n; i++) {
        unsigned hi = hexval(hex[2 + 2 * i]), lo = hexval(hex[3 + 2 * i]);
        if (hi > 15 || lo > 15) return NULL;
        data[i] = (unsigned char)(hi << 4 | lo);
    }
    return data;
}
