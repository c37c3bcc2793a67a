/* market_subs.c — saved searches (/subscriptions) and the org's webhook
 * settings (/webhook); their notifications are in the message centre
 * (notifications.c).
 *
 * A subscription stores the search as given (shown back to its owner) and as
 * compiled here by the same parser as GET /search: a tsquery over text
 * tokens and filter lexemes, LIKE patterns and prices.  When a listing
 * becomes public, market_notify() (migrations/functions/subscriptions.sql) tests it against every
 * subscription in the approving transaction, writes notifications and queues
 * webhook deliveries, which market_bg.c sends.  Everything here is scoped to
 * the caller: another user's subscription or notification is 404. */
#include "api/idempotency.h"
#include "api/market.h"

#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ST_SUB_LIST, ST_SUB_CREATE, ST_SUB_DELETE, ST_HOOK_INFO, ST_HOOK_ROTATE;

static void sub_list(http_req_t *req)
{
    const char *limit, *after;
    if (api_page_or_reply(req, &limit, &after)) return;
    const char *v[3] = {api_actor(req), after, limit};
    api_query(req, ST_SUB_LIST, 3, v, api_reply_page);
}

static void sub_create_send(http_req_t *req);

static void sub_create(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    const char *name = api_str(req, "name");
    size_t n = util_utf8_len(name, strlen(name));
    bool blank = strspn(name, " \t") == strlen(name);
    if (blank || n > 100) {
        api_bad_field(req, "name", blank ? "required" : "too_long",
                      blank ? "give the saved search a name" : "at most 100 characters");
        return;
    }
    msearch_t *s = arena_calloc(req->arena, sizeof *s);
    idem_t k;
    if (market_search_parse_or_reply(req, req->json, s) || idem_key_or_reply(req, &k)) return;
    /* the query's codes, in subscription_create's order: an unknown one is
     * refused before the write is sent (issue 21) */
    api_code_refs_t r = {0};
    api_code_ref(req, &r, "domain", "domains", NULL, s->domain);
    api_code_ref(req, &r, "holder_type", "org_types", NULL, s->holder_type);
    api_code_ref(req, &r, "region", "regions", NULL, s->region);
    api_code_ref(req, &r, "mode", "transfer_modes", "cooperation_modes", s->mode);
    req->ctx = s;
    api_codes_check_write(req, &r, true, sub_create_send);
}

static void sub_create_send(http_req_t *req)
{
    msearch_t *s = req->ctx;
    const char *name = api_str(req, "name");
    idem_t k;
    if (idem_key_or_reply(req, &k)) return;
    json_t *wh = json_object_get(req->json, "webhook");
    const char *v[11] = {api_actor(req),
                         req->request_id,
                         name,
                         api_json_text(req, s->query),
                         s->tsq.len ? buf_cstr(&s->tsq) : NULL,
                         s->patterns,
                         s->price_min,
                         s->price_max,
                         wh ? (json_is_true(wh) ? "true" : "false") : NULL,
                         k.key,
                         k.hash};
    api_query(req, ST_SUB_CREATE, 11, v, idem_reply);
}

static void sub_delete(http_req_t *req)
{
    const char *id;
    if (api_id_param_or_reply(req, 0, "subscription", &id) || api_fields_or_reply(req, NULL, 0)) return;
    const char *v[3] = {api_actor(req), req->request_id, id};
    api_query(req, ST_SUB_DELETE, 3, v, api_reply_no_content);
}

static void hook_info(http_req_t *req)
{
    const char *v[1] = {api_scope(req).org};
    http_add_header(req, "Cache-Control", "no-store");
    api_query(req, ST_HOOK_INFO, 1, v, api_reply_row_json);
}

static void hook_rotate_done(http_req_t *req, PGresult *res)
{
    http_add_header(req, "Cache-Control", "no-store");
    api_reply_row_json_status(req, res, 201);
}

static void hook_rotate(http_req_t *req)
{
    if (api_fields_or_reply(req, NULL, 0)) return;
    const char *secret = api_random_token_or_reply(req, "whsec_", 32);
    if (!secret) return;
    const char *v[4] = {api_actor(req), req->request_id, api_scope(req).org, secret};
    api_query(req, ST_HOOK_ROTATE, 4, v, hook_rotate_done);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/subscriptions", sub_list, 0, ROLE_ANY},
    {HTTP_POST, "/api/v1/subscriptions", sub_create, ROUTE_JSON_BODY, ROLE_ANY},
    {HTTP_DELETE, "/api/v1/subscriptions/{id}", sub_delete, 0, ROLE_ANY},
    {HTTP_GET, "/api/v1/webhook", hook_info, 0, ROLE_MEMBER},
    {HTTP_POST, "/api/v1/webhook/secret", hook_rotate, 0, ROLE_MEMBER},
};

void api_market_subs_init(void)
{
    ST_SUB_LIST = db_stmt_register_read(
        api_page_sql("SELECT s.id, subscription_json(s) AS j FROM subscriptions s WHERE s.user_id = $1::bigint"
                     " AND ($2::bigint IS NULL OR s.id < $2::bigint) ORDER BY s.id DESC",
                     3),
        3);
    ST_SUB_CREATE = db_stmt_register(
        "SELECT status, body, replayed FROM subscription_create($1::bigint, $2, $3, $4::jsonb, $5, $6::jsonb,"
        " $7::bigint, $8::bigint, $9::boolean, $10, $11)",
        11);
    ST_SUB_DELETE = db_stmt_register("SELECT subscription_delete($1::bigint, $2, $3::bigint)", 3);
    ST_HOOK_INFO = db_stmt_register("SELECT webhook_info($1::bigint)", 1);
    ST_HOOK_ROTATE = db_stmt_register("SELECT webhook_secret_rotate($1::bigint, $2, $3::bigint, $4)", 4);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
