/* audit.c — the audit log (newest first), an object's history (oldest first)
 * and the chain check (admin, bureau). */
#include "api/api.h"

#include "auth/auth.h"

#include <string.h>

static int ST_HISTORY, ST_LOG, ST_VERIFY;

static void history(http_req_t *req)
{
    const char *entity, *id, *limit, *after;
    if (http_query_or_reply(req, "entity", &entity) || http_query_or_reply(req, "id", &id) ||
        api_page_or_reply(req, &limit, &after))
        return;
    if (id && !entity) {
        json_t *e = NULL;
        http_error_add(&e, "entity", "required", "name the kind of object, e.g. contract");
        http_problem(req, 400, "an id needs its entity", e);
        return;
    }
    if (!id) { /* the log itself, newest first, of one kind of object or of all */
        const char *v[3] = {entity, after, limit};
        api_query(req, ST_LOG, 3, v, api_reply_page);
        return;
    }
    const char *v[4] = {entity, id, after, limit};
    api_query(req, ST_HISTORY, 4, v, api_reply_page);
}

static void verify(http_req_t *req)
{
    api_query(req, ST_VERIFY, 0, NULL, api_reply_row_json);
}

/* One audit entry as the two lists show it: (id, j) for api_page_sql. */
#define AUDIT_ROWS                                                                                           \
    "SELECT a.id, jsonb_build_object('id', a.id, 'at', a.at, 'actor_user_id', a.actor_user_id,"              \
    " 'actor_role', a.actor_role, 'request_id', a.request_id, 'entity', a.entity, 'entity_id', a.entity_id," \
    " 'action', a.action, 'before', a.before, 'after', a.after, 'hash', a.hash) AS j FROM audit_log a"

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/audit", history, 0, ROLE_ADMIN | ROLE_BUREAU},
    {HTTP_GET, "/api/v1/audit/verify", verify, 0, ROLE_ADMIN | ROLE_BUREAU},
};

void api_audit_init(void)
{
    ST_HISTORY = db_stmt_register_read(
        api_page_sql_ascending(AUDIT_ROWS " WHERE a.entity = $1 AND a.entity_id = $2"
                                          " AND ($3::bigint IS NULL OR a.id > $3::bigint) ORDER BY a.id",
                               4),
        4);
    ST_LOG = db_stmt_register_read(api_page_sql(AUDIT_ROWS " WHERE ($1::text IS NULL OR a.entity = $1)"
                                                           " AND ($2::bigint IS NULL OR a.id < $2::bigint)"
                                                           " ORDER BY a.id DESC",
                                                3),
                                   3);
    ST_VERIFY = db_stmt_register_read(
        "SELECT json_build_object('valid', ok, 'checked', checked, 'first_broken_id', first_broken_id,"
        " 'reason', reason)::text FROM audit_verify()",
        0);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
