/* subsidies.c — subsidy policies (后补助政策), subsidy runs and their awards, and
 * the estimated tax relief that follows registration.
 *
 * The rules are data: a policy's `rules` object is validated by
 * subsidy_rules_check() and a run is computed by subsidy_run_create(), both in
 * migrations/functions/subsidies.sql (its head states the rules, the computation,
 * rounding and claw-back exactly).  This file checks shapes and types (400), passes the
 * caller's scope and hands the body to one SQL function per change, which checks
 * values (422), scope (403/404), writes the audit entry and builds the JSON.
 *
 * Scope: a bureau user works within its region subtree (users.region_code):
 * its policies, runs over regions inside it, tax relief of sellers inside it;
 * anything outside is 404 (objects) or 403 (a region asked for).  Admin: all. */
#include "api/api.h"

#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ST_POL_LIST, ST_POL_GET, ST_POL_CREATE, ST_POL_UPDATE, ST_RUN_CREATE, ST_RUN_LIST, ST_RUN_GET, ST_TAX;

#define READERS (ROLE_BUREAU | ROLE_ADMIN)

/* --- helpers ------------------------------------------------------------------- */

/* The bureau's region root, or NULL (admin: no limit). */
static const char *scope_of(http_req_t *req)
{
    return api_scope(req).region;
}

static int id_or_reply(http_req_t *req, const char **id, const char *what)
{
    return api_id_param_or_reply(req, 0, what, id);
}

static const char *dump(http_req_t *req)
{
    return api_json_text(req, req->json);
}

/* Length checks the SQL would also make, answered here with all errors at once. */
static int policy_values_or_reply(http_req_t *req)
{
    json_t *errs = NULL, *b = req->json;
    const char *name = json_string_value(json_object_get(b, "name"));
    if (name && (!*name || util_utf8_len(name, strlen(name)) > 200))
        http_error_add(&errs, "name", "invalid", "1 to 200 characters");
    const char *src = json_string_value(json_object_get(b, "source"));
    api_check_chars(req, &errs, "source", src, 500);
    api_check(&errs, "region_code", v_region(json_string_value(json_object_get(b, "region_code"))));
    static const char *const YEARS[] = {"valid_from_year", "valid_to_year"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(b, YEARS[i]);
        if (json_is_integer(v)) api_check(&errs, YEARS[i], v_year(json_integer_value(v)));
    }
    return api_errors_or_reply(req, errs);
}

/* --- policies --------------------------------------------------------------------- */

static void policy_list(http_req_t *req)
{
    const char *limit, *after, *year;
    if (api_page_or_reply(req, &limit, &after) || api_year_or_reply(req, "year", false, &year)) return;
    const char *v[4] = {scope_of(req), year, after, limit};
    api_query(req, ST_POL_LIST, 4, v, api_reply_page);
}

/* One object by the id in the path, as the caller's scope sees it: stmt(id, scope). */
static void get_in_scope(http_req_t *req, const char *what, int stmt, api_row_cb cb)
{
    const char *id;
    if (id_or_reply(req, &id, what)) return;
    const char *v[2] = {id, scope_of(req)};
    api_query(req, stmt, 2, v, cb);
}

static void policy_get(http_req_t *req)
{
    get_in_scope(req, "subsidy policy", ST_POL_GET, api_reply_versioned_ok);
}

static void policy_create(http_req_t *req)
{
    if (api_body_or_reply(req) || policy_values_or_reply(req)) return;
    const char *v[4] = {api_actor(req), req->request_id, scope_of(req), dump(req)};
    api_query(req, ST_POL_CREATE, 4, v, api_reply_versioned_created);
}

static void policy_update(http_req_t *req)
{
    /* region_code is not here: a policy stays with the bureau that pays it. */
    const char *id, *ifm;
    if (id_or_reply(req, &id, "subsidy policy") || api_body_or_reply(req) || policy_values_or_reply(req) ||
        api_if_match_or_reply(req, &ifm))
        return;
    const char *v[6] = {api_actor(req), req->request_id, scope_of(req), id, ifm, dump(req)};
    api_query(req, ST_POL_UPDATE, 6, v, api_reply_versioned_ok);
}

/* --- runs ----------------------------------------------------------------------------- */

static void run_create(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    json_t *errs = NULL;
    json_t *ids = json_object_get(req->json, "policy_ids");
    if (ids && !json_is_array(ids) && !json_is_null(ids)) {
        http_error_add(&errs, "policy_ids", "wrong_type", "must be an array of policy ids or null");
    } else if (json_is_array(ids)) {
        size_t i;
        json_t *x;
        json_array_foreach(ids, i, x) {
            if (!json_is_integer(x)) {
                char f[48];
                snprintf(f, sizeof f, "policy_ids[%zu]", i);
                http_error_add(&errs, f, "wrong_type", "must be an integer");
            }
        }
    }
    if (errs) {
        http_problem(req, 400, "the request body has unknown or mistyped fields", errs);
        return;
    }
    api_check(&errs, "year", v_year(json_integer_value(json_object_get(req->json, "year"))));
    api_check(&errs, "region", v_region(api_str(req, "region")));
    if (api_errors_or_reply(req, errs)) return;
    const char *v[4] = {api_actor(req), req->request_id, scope_of(req), dump(req)};
    api_query(req, ST_RUN_CREATE, 4, v, api_reply_row_json_created);
}

static void run_list(http_req_t *req)
{
    const char *limit, *after, *year, *policy;
    if (api_page_or_reply(req, &limit, &after) || api_year_or_reply(req, "year", false, &year) ||
        http_query_or_reply(req, "policy_id", &policy) || api_param_ok_or_reply(req, "policy_id", v_id(policy, NULL)))
        return;
    const char *v[5] = {scope_of(req), year, policy, after, limit};
    api_query(req, ST_RUN_LIST, 5, v, api_reply_page);
}

static void run_get(http_req_t *req)
{
    get_in_scope(req, "subsidy run", ST_RUN_GET, api_reply_row_json);
}

/* --- tax relief --------------------------------------------------------------------- */

static void tax_relief(http_req_t *req)
{
    const char *year, *region;
    if (api_year_or_reply(req, "year", true, &year) || http_query_or_reply(req, "region", &region) ||
        api_param_ok_or_reply(req, "region", v_region(region)))
        return;
    const char *v[3] = {region, year, scope_of(req)};
    api_query(req, ST_TAX, 3, v, api_reply_row_json);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/subsidy-policies", policy_list, 0, READERS},
    {HTTP_POST, "/api/v1/subsidy-policies", policy_create, ROUTE_JSON_BODY, READERS},
    {HTTP_GET, "/api/v1/subsidy-policies/{id}", policy_get, 0, READERS},
    {HTTP_PATCH, "/api/v1/subsidy-policies/{id}", policy_update, ROUTE_JSON_BODY, READERS},
    {HTTP_GET, "/api/v1/subsidy-runs", run_list, 0, READERS},
    {HTTP_POST, "/api/v1/subsidy-runs", run_create, ROUTE_JSON_BODY, READERS},
    {HTTP_GET, "/api/v1/subsidy-runs/{id}", run_get, 0, READERS},
    {HTTP_GET, "/api/v1/tax-relief", tax_relief, 0, READERS},
};

void api_subsidies_init(void)
{
    ST_POL_LIST = db_stmt_register_read(
        api_page_sql(
            "SELECT p.id, subsidy_policy_json(p) AS j FROM subsidy_policies p"
            " WHERE subsidy_policy_visible(p, $1) AND ($2::int IS NULL OR $2::int BETWEEN p.valid_from_year"
            " AND coalesce(p.valid_to_year, 2100)) AND ($3::bigint IS NULL OR p.id < $3::bigint) ORDER BY p.id DESC",
            4),
        4);
    ST_POL_GET = db_stmt_register_read(
        "SELECT subsidy_policy_json(p)::text FROM subsidy_policies p WHERE p.id = $1::bigint"
        " AND subsidy_policy_visible(p, $2)",
        2);
    ST_POL_CREATE = db_stmt_register("SELECT subsidy_policy_create($1::bigint, $2, $3, $4::jsonb)", 4);
    ST_POL_UPDATE = db_stmt_register("SELECT subsidy_policy_update($1::bigint, $2, $3, $4::bigint, $5::int, $6::jsonb)",
                                     6);
    ST_RUN_CREATE = db_stmt_register("SELECT subsidy_run_create($1::bigint, $2, $3, $4::jsonb)", 4);
    ST_RUN_LIST = db_stmt_register_read(
        api_page_sql(
            "SELECT r.id, subsidy_run_json(r.id, false) AS j FROM subsidy_runs r"
            " WHERE subsidy_run_visible(r.id, $1) AND ($2::int IS NULL OR r.year = $2::int)"
            " AND ($3::bigint IS NULL OR EXISTS (SELECT 1 FROM subsidy_run_policies rp WHERE rp.run_id = r.id"
            " AND rp.policy_id = $3::bigint)) AND ($4::bigint IS NULL OR r.id < $4::bigint) ORDER BY r.id DESC",
            5),
        5);
    ST_RUN_GET = db_stmt_register_read(
        "SELECT subsidy_run_json(r.id)::text FROM subsidy_runs r WHERE r.id = $1::bigint AND subsidy_run_visible(r.id, $2)",
        2);
    ST_TAX = db_stmt_register_read("SELECT tax_relief_scoped($1, $2::int, $3)::text", 3);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
