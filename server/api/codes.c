/* codes.c — code lists, regions and the working-day calendar (read-only
 * reference data seeded by migrations).  Each request is one statement whose
 * JSON PostgreSQL builds. */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

static int ST_LIST, ST_REGION, ST_REGION_CHILDREN, ST_PROVINCES, ST_CALENDAR;

static bool six_digits(const char *s)
{
    if (strlen(s) != 6) return false;
    for (int i = 0; i < 6; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

static void code_list(http_req_t *req)
{
    const char *list = req->params[0];
    if (!strcmp(list, "regions")) {
        const char *parent;
        if (http_query_or_reply(req, "parent", &parent) != 0) return;
        if (parent) {
            if (!six_digits(parent)) {
                json_t *e = NULL;
                http_error_add(&e, "parent", "invalid_format", "must be a six-digit GB/T 2260 region code");
                http_problem(req, 400, "invalid query parameter", e);
                return;
            }
            const char *v[1] = {parent};
            api_query(req, ST_REGION_CHILDREN, 1, v, api_reply_row_json);
        } else {
            api_query(req, ST_PROVINCES, 0, NULL, api_reply_row_json);
        }
        return;
    }
    if (!strcmp(list, "calendar")) {
        const char *year;
        if (http_query_or_reply(req, "year", &year) != 0) return;
        uint64_t y;
        if (year && (util_parse_u64(year, strlen(year), &y) != 0 || y < 2000 || y > 2100)) {
            json_t *e = NULL;
            http_error_add(&e, "year", "invalid", "year must be a number between 2000 and 2100");
            http_problem(req, 400, "invalid query parameter", e);
            return;
        }
        const char *v[1] = {year};
        api_query(req, ST_CALENDAR, 1, v, api_reply_row_json);
        return;
    }
    const char *v[1] = {list};
    api_query(req, ST_LIST, 1, v, api_reply_row_json);
}

static void region_get(http_req_t *req)
{
    const char *code = req->params[0];
    if (!six_digits(code)) {
        json_t *e = NULL;
        http_error_add(&e, "code", "invalid_format", "must be a six-digit GB/T 2260 region code");
        http_problem(req, 400, "invalid region code", e);
        return;
    }
    const char *v[1] = {code};
    api_query(req, ST_REGION, 1, v, api_reply_row_json);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/codes/{list}", code_list, 0, 0},
    {HTTP_GET, "/api/v1/codes/regions/{code}", region_get, 0, 0},
};

void api_codes_init(void)
{
    ST_LIST = db_stmt_register_replica(
        "SELECT json_build_object('list', l.list, 'label', l.label, 'items', coalesce((SELECT json_agg("
        "json_build_object('code', c.code, 'label', c.label, 'label_en', c.label_en, 'parent_code', c.parent_code,"
        " 'sort', c.sort, 'extra', c.extra) ORDER BY c.sort, c.code) FROM codes c WHERE c.list = l.list AND c.active),"
        " '[]'))::text FROM code_lists l WHERE l.list = $1",
        1);
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
        "WITH y AS (SELECT coalesce($1::int, extract(year FROM now() AT TIME ZONE 'Asia/Shanghai')::int) AS y)"
        " SELECT json_build_object('year', (SELECT y FROM y), 'items', coalesce(json_agg(json_build_object('day',"
        " day, 'kind', kind, 'name', name) ORDER BY day), '[]'))::text FROM calendar_days, y"
        " WHERE day >= make_date(y.y, 1, 1) AND day < make_date(y.y + 1, 1, 1)",
        1);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
