/* ops.c — probes, metrics, the API description and its rendered docs. */
#include "api/api.h"

#include "log.h"

#include <pthread.h>

#include <string.h>

static int ST_READY, ST_METRICS;

static void livez(http_req_t *req)
{
    static const char body[] = "{\"status\":\"ok\"}";
    http_reply_static(req, 200, "application/json", body, sizeof body - 1);
}

static void readyz_done(http_req_t *req, db_status_t st, PGresult *res)
{
    if (st != DB_OK) {
        http_problem(req, 503, "database unreachable", NULL);
        return;
    }
    const char *v = PQntuples(res) ? PQgetvalue(res, 0, 0) : "";
    const char *fn = PQntuples(res) ? PQgetvalue(res, 0, 1) : "";
    if (strcmp(v, g_latest_migration) != 0) {
        http_problemf(req, 503, "migrations not current: database at %s, code expects %s", v[0] ? v : "none",
                      g_latest_migration);
        return;
    }
    if (strcmp(fn, g_functions_digest) != 0) {
        http_problem(req, 503, "SQL functions not current: migrations/functions differ from what was applied", NULL);
        return;
    }
    char body[200];
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"ready\",\"database\":\"up\",\"migrations\":\"current\",\"functions\":\"current\","
                     "\"version\":\"%s\"}",
                     v);
    http_reply_json(req, 200, body, (size_t)n);
}

static void readyz(http_req_t *req)
{
    api_query_any(req, ST_READY, 0, NULL, readyz_done);
}

/* What only the database knows, for /metrics: whether this year's and next
 * year's working-day calendars are confirmed, and how many review deadlines
 * were counted on one that is not.  Read by a timer on the first worker every
 * DB_METRICS_MS and kept as text here, so a scrape never waits on the
 * database (it may be down, or its queue full); until the first reading
 * those lines are absent. */
#define DB_METRICS_MS 5000
static pthread_mutex_t g_db_metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_db_metrics[1536];

static void on_db_metrics(void *arg, db_status_t st, PGresult *res)
{
    (void)arg;
    if (st != DB_OK || PQntuples(res) < 1) return;
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "# HELP yizhan_calendar_confirmed Whether the working-day calendar of the year is confirmed from the "
                 "State Council's notice (1) or provisional (0): this year and next.\n"
                 "# TYPE yizhan_calendar_confirmed gauge\n");
    for (int i = 0; i < PQntuples(res); i++)
        buf_printf(&b, "yizhan_calendar_confirmed{year=\"%s\"} %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
    buf_printf(&b,
               "# HELP yizhan_mail_queued E-mails waiting in the outbox to be sent (all servers).\n"
               "# TYPE yizhan_mail_queued gauge\n"
               "yizhan_mail_queued %s\n",
               PQgetvalue(res, 0, 3));
    buf_printf(&b,
               "# HELP yizhan_calendar_provisional_deadlines Applications awaiting review whose deadline runs into "
               "a year without a confirmed calendar (counted on weekdays less the statutory holidays).\n"
               "# TYPE yizhan_calendar_provisional_deadlines gauge\n"
               "yizhan_calendar_provisional_deadlines %s\n",
               PQgetvalue(res, 0, 2));
    pthread_mutex_lock(&g_db_metrics_lock);
    snprintf(g_db_metrics, sizeof g_db_metrics, "%s", b.data ? b.data : "");
    pthread_mutex_unlock(&g_db_metrics_lock);
    buf_free(&b);
}

static void read_db_metrics(worker_t *w)
{
    db_query(api_db(w), ST_METRICS, 0, NULL, on_db_metrics, NULL);
}

void api_ops_start(void)
{
    if (http_worker_timer(0, DB_METRICS_MS, read_db_metrics) != 0) LOG_E("cannot start the database metrics timer");
}

static void metrics(http_req_t *req)
{
    buf_t b;
    buf_init(&b);
    http_metrics_render(&b);
    api_db_metrics_render(&b);
    api_mail_metrics_render(&b);
    pthread_mutex_lock(&g_db_metrics_lock);
    buf_puts(&b, g_db_metrics);
    bool empty = !g_db_metrics[0];
    pthread_mutex_unlock(&g_db_metrics_lock);
    if (empty) read_db_metrics(req->worker); /* not read yet: the timer's first tick is DB_METRICS_MS after start */
    http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    buf_free(&b);
}

static void spec(http_req_t *req)
{
    http_serve_spec(req);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/livez", livez, ROUTE_NO_LOG, 0},
    {HTTP_GET, "/readyz", readyz, ROUTE_NO_LOG, 0},
    {HTTP_GET, "/metrics", metrics, ROUTE_NO_LOG, 0},
    {HTTP_GET, "/api/openapi.yaml", spec, 0, 0},
};

void api_ops_init(void)
{
    /* the latest versioned migration, and the digest of the function files as
     * applied (the same as g_functions_digest when they are current) */
    ST_READY = db_stmt_register_read(
        "SELECT coalesce(max(version), ''), (SELECT encode(sha256(convert_to(coalesce(string_agg(module || ' ' || "
        "checksum || E'\\n', '' ORDER BY position), ''), 'UTF8')), 'hex') FROM schema_functions) FROM schema_migrations",
        0);
    ST_METRICS = db_stmt_register_read(
        "SELECT y, (EXISTS (SELECT 1 FROM calendar_years c WHERE c.year = y AND c.status = 'confirmed'))::int,"
        " (SELECT count(*) FROM contracts WHERE status = 'submitted' AND calendar_provisional),"
        " (SELECT count(*) FROM mail_outbox WHERE status = 'pending')"
        " FROM generate_series(extract(year FROM today_cn())::int, extract(year FROM today_cn())::int + 1) y ORDER BY y",
        0);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
