/* stats.c — statistics of registered contracts and the year-end close
 * (年度结账; plan targets: targets.c): a bureau freezes a past year's figures for
 * its region (an admin for any region), later changes are listed as
 * adjustments, an admin reopens a year with a reason (functions/stats.sql).
 *
 * Reads come from contract_stats, which triggers keep current in the same
 * transaction as every contract change (migrations/functions/stats.sql): a request
 * reads at most a few hundred pre-aggregated rows, whatever the number of
 * contracts.  Scope: a bureau user sees its region subtree; admin anything;
 * everyone else (and the public) the yearly totals only. */
#include "api/api.h"

#include "auth/auth.h"

#include <stdio.h>
#include <string.h>

static int ST_STATS, ST_FLOWS, ST_INDICATORS, ST_CLOSE, ST_CLOSES, ST_REOPEN, ST_ADJUSTMENTS;

static const char *const BY[] = {"year",
                                 "month",
                                 "quarter",
                                 "type",
                                 "subtype",
                                 "domain",
                                 "seller_type",
                                 "buyer_type",
                                 "seller_category",
                                 "buyer_category",
                                 "ip_type",
                                 "plan_source",
                                 "socio_economic_objective",
                                 "region",
                                 "partner"};

static void stats(http_req_t *req)
{
    const char *year, *region, *by, *flow;
    if (api_year_region_or_reply(req, &year, &region) || http_query_or_reply(req, "by", &by) ||
        http_query_or_reply(req, "flow", &flow))
        return;
    if (by) {
        size_t i = 0;
        for (; i < ARRAY_LEN(BY) && strcmp(BY[i], by); i++)
            ;
        if (i == ARRAY_LEN(BY))
            return (void)api_bad_param(req, "by", "invalid",
                                       "one of year, month, quarter, type, subtype, domain, seller_type, "
                                       "buyer_type, seller_category, buyer_category, ip_type, plan_source, "
                                       "socio_economic_objective, region, partner");
        if (!strcmp(by, "year")) by = NULL;
    }
    if (flow && strcmp(flow, "out") && strcmp(flow, "in"))
        return (void)api_bad_param(req, "flow", "invalid", "out (输出) or in (吸纳)");
    /* breakdowns are for the bureau; the public sees yearly totals */
    bool privileged = req->user && (req->user->role & (ROLE_BUREAU | ROLE_ADMIN));
    if (by && !privileged) {
        http_problem(req, req->user ? 403 : 401, "breakdowns are for bureau staff; the public sees yearly totals",
                     NULL);
        return;
    }
    const char *v[4] = {region, year, flow ? flow : "out", by};
    api_query(req, ST_STATS, 4, v, api_reply_row_json);
}

/* GET /stats/flows?region=&year=: the flow table of a region (bureau and
 * admin; the route's roles): outflow by where the buyer is, inflow by where the
 * seller is, each row and the totals with both flows. */
static void flows(http_req_t *req)
{
    api_year_region_read(req, ST_FLOWS);
}

/* GET /stats/indicators: every indicator with the definition of the computed ones. */
static void indicators(http_req_t *req)
{
    api_query(req, ST_INDICATORS, 0, NULL, api_reply_row_json);
}

static void close_year(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    json_t *errs = NULL;
    const char *rc = api_str(req, "region_code");
    json_int_t y = json_integer_value(json_object_get(req->json, "year"));
    api_check(&errs, "region_code", v_region(rc));
    if (y < 2000 || y > 2100) http_error_add(&errs, "year", "out_of_range", "a year from 2000 to 2100");
    api_check_chars(req, &errs, "note", api_str(req, "note"), 1000);
    if (api_errors_or_reply(req, errs)) return;
    const char *v[6] = {api_actor(req),
                        req->request_id,
                        req->user->role & ROLE_BUREAU ? req->user->region : NULL,
                        arena_printf(req->arena, "%lld", (long long)y),
                        rc,
                        api_str(req, "note")};
    api_query(req, ST_CLOSE, 6, v, api_reply_row_json_created);
}

static void closes(http_req_t *req)
{
    const char *year;
    if (api_year_or_reply(req, "year", false, &year)) return;
    const char *v[2] = {year, req->user->role & ROLE_BUREAU ? req->user->region : NULL};
    api_query(req, ST_CLOSES, 2, v, api_reply_row_json);
}

static void reopen(http_req_t *req)
{
    const char *id;
    if (api_id_param_or_reply(req, 0, "close", &id) || api_body_or_reply(req)) return;
    json_t *errs = NULL;
    api_check_chars(req, &errs, "reason", api_str(req, "reason"), 1000);
    if (api_errors_or_reply(req, errs)) return;
    const char *v[4] = {api_actor(req), req->request_id, id, api_str(req, "reason")};
    api_query(req, ST_REOPEN, 4, v, api_reply_row_json);
}

/* GET /stats/adjustments?year=&region=&flow=: the later changes to a year's figures. */
static void adjustments(http_req_t *req)
{
    const char *year, *region, *flow, *limit, *cursor;
    if (api_year_region_or_reply(req, &year, &region) || http_query_or_reply(req, "flow", &flow) ||
        api_limit_or_reply(req, &limit) || api_cursor_or_reply(req, &cursor))
        return;
    if (flow && strcmp(flow, "out") && strcmp(flow, "in"))
        return (void)api_bad_param(req, "flow", "invalid", "out (输出) or in (吸纳)");
    uint64_t c;
    if (cursor && util_parse_u64(cursor, strlen(cursor), &c) != 0) cursor = NULL;
    const char *v[5] = {region, year, flow, cursor, limit};
    api_query(req, ST_ADJUSTMENTS, 5, v, api_reply_page);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/stats/contracts", stats, ROUTE_OPTIONAL_AUTH, 0},
    {HTTP_GET, "/api/v1/stats/flows", flows, 0, ROLE_BUREAU | ROLE_ADMIN},
    {HTTP_GET, "/api/v1/stats/indicators", indicators, ROUTE_OPTIONAL_AUTH, 0},
    {HTTP_POST, "/api/v1/stats/closes", close_year, ROUTE_JSON_BODY, ROLE_BUREAU | ROLE_ADMIN},
    {HTTP_GET, "/api/v1/stats/closes", closes, 0, ROLE_BUREAU | ROLE_ADMIN},
    {HTTP_POST, "/api/v1/stats/closes/{id}/reopen", reopen, ROUTE_JSON_BODY, ROLE_ADMIN},
    {HTTP_GET, "/api/v1/stats/adjustments", adjustments, 0, ROLE_BUREAU | ROLE_ADMIN},
};

void api_stats_init(void)
{
    ST_STATS = db_stmt_register_replica(
        "SELECT CASE WHEN $1 = '000000' OR EXISTS (SELECT 1 FROM regions WHERE code = $1)"
        " THEN stats_query($1, $2::int, $3, $4)::text END",
        4);
    ST_FLOWS = db_stmt_register_replica(
        "SELECT CASE WHEN $1 = '000000' OR EXISTS (SELECT 1 FROM regions WHERE code = $1)"
        " THEN (export_table($1, $2::int, 'partner') || jsonb_build_object('year', $2::int, 'region', $1::text,"
        " 'region_name', CASE WHEN $1 = '000000' THEN '全国' ELSE region_name($1) END))::text END",
        2);
    ST_INDICATORS = db_stmt_register_read("SELECT indicators_json()::text", 0);
    ST_CLOSE = db_stmt_register("SELECT stats_close($1::bigint, $2, $3, $4::int, $5, $6)", 6);
    /* a bureau sees the closes of its region, of the regions below it and of those above it (which cover it) */
    ST_CLOSES = db_stmt_register_read(
        api_list_sql("json_agg(stats_close_json(c) ORDER BY c.year DESC, c.closed_at DESC)", "",
                     "FROM stats_closes c WHERE ($1::int IS NULL OR c.year = $1::int)"
                     " AND ($2::text IS NULL OR region_in_subtree(c.region_code, $2) OR c.region_code ="
                     " '000000' OR region_in_subtree($2, c.region_code))"),
        2);
    ST_REOPEN = db_stmt_register("SELECT stats_reopen($1::bigint, $2, $3::bigint, $4)", 4);
    ST_ADJUSTMENTS = db_stmt_register_read(
        "SELECT items, next_key FROM stats_adjustments_page($1, $2::int, $3, $4::bigint, $5::int)", 5);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
