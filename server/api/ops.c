/* ops.c — probes, metrics, the API description and its rendered docs. */
#include "api/api.h"

#include "http/server_int.h"

#include <string.h>

static int ST_READY;

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
                     "\"version\":\"%s\"}", v);
    http_reply_json(req, 200, body, (size_t)n);
}

static void readyz(http_req_t *req)
{
    api_query_any(req, ST_READY, 0, NULL, readyz_done);
}

static void metrics(http_req_t *req)
{
    buf_t b;
    buf_init(&b);
    metrics_render(&b);
    http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    buf_free(&b);
}

static void spec(http_req_t *req) { static_serve_spec(req); }

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
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
