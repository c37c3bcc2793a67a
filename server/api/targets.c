/* targets.c — plan targets (计划目标) for every indicator of the code list
 * indicators, the actuals the bureau enters for the indicators that are
 * not computed from contracts, and progress (yearly and cumulative over
 * from_year…year).  The SQL is in migrations/functions/targets.sql. */
#include "api/api.h"

#include "auth/auth.h"

#include <string.h>

static int ST_TARGETS, ST_TARGET_PUT, ST_PROGRESS, ST_ACTUALS, ST_ACTUAL_PUT;

/* The bureau's region root (its writes stay inside it), NULL for an admin. */
static const char *write_scope(http_req_t *req)
{
    return req->user->role & ROLE_BUREAU ? req->user->region : NULL;
}

static void targets(http_req_t *req)
{
    api_year_region_read(req, ST_TARGETS);
}

static void progress(http_req_t *req)
{
    api_year_region_read(req, ST_PROGRESS);
}

/* A body integer in 0..10^17 (fen or a count). */
static void check_figure(http_req_t *req, json_t **errs, const char *name)
{
    json_int_t t = json_integer_value(json_object_get(req->json, name));
    if (t < 0 || t > 100000000000000000LL)
        http_error_add(errs, name, "out_of_range", "a non-negative amount in fen or a count");
}

/* A body year in 2000..2100 when present. */
static void check_year(http_req_t *req, json_t **errs, const char *name)
{
    json_t *y = json_object_get(req->json, name);
    if (y && (json_integer_value(y) < 2000 || json_integer_value(y) > 2100))
        http_error_add(errs, name, "out_of_range", "a year from 2000 to 2100");
}

static void send_body(http_req_t *req, int stmt)
{
    char *body = json_dumps(req->json, JSON_COMPACT);
    const char *v[4] = {api_actor(req), req->request_id, write_scope(req), arena_strdup(req->arena, body)};
    free(body);
    api_query(req, stmt, 4, v, api_reply_row_json);
}

static void target_put(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    json_t *errs = NULL;
    api_check(&errs, "region_code", v_region(api_str(req, "region_code")));
    check_figure(req, &errs, "target");
    api_check_chars(req, &errs, "source", api_str(req, "source"), 500);
    if (api_errors_or_reply(req, errs)) return;
    send_body(req, ST_TARGET_PUT);
}

/* PUT /targets/actuals: the actual of a non-computed indicator. */
static void actual_put(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    json_t *errs = NULL;
    api_check(&errs, "region_code", v_region(api_str(req, "region_code")));
    check_year(req, &errs, "year");
    check_figure(req, &errs, "value");
    api_check_text(req, &errs, "note", api_str(req, "note"), 1000);
    api_check_text(req, &errs, "evidence", api_str(req, "evidence"), 500);
    if (api_errors_or_reply(req, errs)) return;
    send_body(req, ST_ACTUAL_PUT);
}

/* GET /targets/actuals?year=&region=&indicator=: every entry, newest first. */
static void actuals(http_req_t *req)
{
    const char *year, *region, *indicator;
    if (api_year_region_or_reply(req, &year, &region) || http_query_or_reply(req, "indicator", &indicator)) return;
    if (indicator && api_param_ok_or_reply(req, "indicator", v_code(indicator))) return;
    const char *v[3] = {region, year, indicator};
    api_query(req, ST_ACTUALS, 3, v, api_reply_row_json);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/targets", targets, 0, ROLE_BUREAU | ROLE_ADMIN},
    {HTTP_PUT, "/api/v1/targets", target_put, ROUTE_JSON_BODY, ROLE_BUREAU | ROLE_ADMIN},
    {HTTP_GET, "/api/v1/targets/progress", progress, 0, ROLE_BUREAU | ROLE_ADMIN},
    {HTTP_GET, "/api/v1/targets/actuals", actuals, 0, ROLE_BUREAU | ROLE_ADMIN},
    {HTTP_PUT, "/api/v1/targets/actuals", actual_put, ROUTE_JSON_BODY, ROLE_BUREAU | ROLE_ADMIN},
};

void api_targets_init(void)
{
    /* a target shows in every year of its span */
    ST_TARGETS = db_stmt_register_read(
        api_list_sql("json_agg(to_jsonb(t) || jsonb_build_object('label', code_label('indicators', t.metric)) ORDER BY"
                     " t.region_code, t.metric, t.from_year)",
                     "",
                     "FROM plan_targets t WHERE $2::int BETWEEN t.from_year AND t.year AND ($1 ="
                     " '000000' OR region_in_subtree(t.region_code, $1))"),
        2);
    ST_TARGET_PUT = db_stmt_register("SELECT target_put($1::bigint, $2, $3, $4::jsonb)", 4);
    ST_PROGRESS = db_stmt_register_replica(
        "SELECT CASE WHEN $1 = '000000' OR EXISTS (SELECT 1 FROM regions WHERE code = $1)"
        " THEN targets_progress($1, $2::int)::text END",
        2);
    ST_ACTUALS = db_stmt_register_read(
        api_list_sql("json_agg(indicator_entry_json(a) ORDER BY a.id DESC)", "",
                     "FROM indicator_actuals a WHERE a.year = $2::int AND ($3::text IS NULL OR a.indicator = $3)"
                     " AND ($1 = '000000' OR region_in_subtree(a.region_code, $1))"),
        3);
    ST_ACTUAL_PUT = db_stmt_register("SELECT target_actual_put($1::bigint, $2, $3, $4::jsonb)", 4);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
