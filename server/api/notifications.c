/* notifications.c — the message centre (消息): the caller's notifications,
 * whatever made them (a saved search, a deal, a public notice, an auction, a
 * registration), their unread count, marking one or all read.
 *
 * The rows are written by notify() (migrations/functions/notifications.sql)
 * in the transaction of the change they report, one per recipient user, so
 * everything here reads or marks the caller's own rows only: anyone else's is
 * 404.  The web header polls the unread count; it is one index-only count
 * over the partial index of unread rows. */
#include "api/api.h"

#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ST_NOTE_LIST, ST_NOTE_COUNT, ST_NOTE_READ, ST_NOTE_READ_ALL;

/* The kinds of notify() and the tabs of the page; anything else is 400. */
static const char *const KINDS[] = {"subscription_match",
                                    "inquiry",
                                    "message",
                                    "proposal",
                                    "agreed",
                                    "declined",
                                    "expired",
                                    "broker_request",
                                    "broker_admitted",
                                    "broker_removed",
                                    "notice",
                                    "objection",
                                    "objection_decided",
                                    "notice_passed",
                                    "notice_failed",
                                    "bid",
                                    "outbid",
                                    "auction_won",
                                    "auction_lost",
                                    "auction_closed",
                                    "contract_draft",
                                    "contract_returned",
                                    "contract_registered",
                                    "contract_refused",
                                    "contract_change_decided"};
static const char *const CATEGORIES[] = {"deal", "registration", "subscription"};

static bool one_of(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, set[i])) return true;
    return false;
}

static void note_list(http_req_t *req)
{
    const char *limit, *after, *unread, *category, *kind;
    if (api_page_or_reply(req, &limit, &after) || http_query_or_reply(req, "unread", &unread) ||
        http_query_or_reply(req, "category", &category) || http_query_or_reply(req, "kind", &kind))
        return;
    if (unread && strcmp(unread, "true") && strcmp(unread, "false")) {
        api_bad_param(req, "unread", "invalid", "unread must be true or false");
        return;
    }
    if (category && !one_of(category, CATEGORIES, ARRAY_LEN(CATEGORIES))) {
        api_bad_param(req, "category", "invalid", "category must be deal, registration or subscription");
        return;
    }
    if (kind && !one_of(kind, KINDS, ARRAY_LEN(KINDS))) {
        api_bad_param(req, "kind", "invalid", "kind must be one of the notification kinds");
        return;
    }
    const char *v[6] = {api_actor(req), unread && !strcmp(unread, "true") ? "true" : "false", category, kind, after,
                        limit};
    api_query(req, ST_NOTE_LIST, 6, v, api_reply_page);
}

static void note_count(http_req_t *req)
{
    const char *v[1] = {api_actor(req)};
    http_add_header(req, "Cache-Control", "no-store");
    api_query(req, ST_NOTE_COUNT, 1, v, api_reply_row_json);
}

static void note_read(http_req_t *req)
{
    const char *id;
    if (api_id_param_or_reply(req, 0, "notification", &id) || api_fields_or_reply(req, NULL, 0)) return;
    const char *v[2] = {id, api_actor(req)};
    api_query(req, ST_NOTE_READ, 2, v, api_reply_row_json);
}

static void note_read_all(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    json_t *upto = req->json ? json_object_get(req->json, "up_to_id") : NULL;
    if (upto && !json_is_null(upto) && (!json_is_integer(upto) || json_integer_value(upto) < 1)) {
        json_t *e = NULL;
        http_error_add(&e, "up_to_id", json_is_integer(upto) ? "out_of_range" : "wrong_type",
                       "up_to_id must be a positive integer (a notification id)");
        http_problem(req, json_is_integer(upto) ? 422 : 400, "some fields are not valid", e);
        return;
    }
    const char *v[2] = {api_actor(req), upto && json_is_integer(upto)
                                            ? arena_printf(req->arena, "%lld", (long long)json_integer_value(upto))
                                            : NULL};
    api_query(req, ST_NOTE_READ_ALL, 2, v, api_reply_row_json);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/notifications", note_list, 0, ROLE_ANY},
    {HTTP_GET, "/api/v1/notifications/unread-count", note_count, 0, ROLE_ANY},
    {HTTP_POST, "/api/v1/notifications/{id}/read", note_read, 0, ROLE_ANY},
    {HTTP_POST, "/api/v1/notifications/read-all", note_read_all, 0, ROLE_ANY},
};

void api_notifications_init(void)
{
    ST_NOTE_LIST = db_stmt_register_read(
        api_page_sql(
            "SELECT n.id, notification_json(n) AS j FROM notifications n WHERE n.user_id = $1::bigint"
            " AND (NOT $2::boolean OR n.read_at IS NULL) AND ($3::text IS NULL OR notification_category(n.kind) = $3)"
            " AND ($4::text IS NULL OR n.kind = $4) AND ($5::bigint IS NULL OR n.id < $5::bigint) ORDER BY n.id DESC",
            6),
        6);
    ST_NOTE_COUNT = db_stmt_register_read(
        "SELECT json_build_object('unread', count(*), 'latest_id', max(n.id))::text FROM notifications n"
        " WHERE n.user_id = $1::bigint AND n.read_at IS NULL",
        1);
    ST_NOTE_READ = db_stmt_register(
        "UPDATE notifications n SET read_at = coalesce(n.read_at, now()) WHERE n.id = $1::bigint"
        " AND n.user_id = $2::bigint RETURNING notification_json(n)::text",
        2);
    ST_NOTE_READ_ALL = db_stmt_register("SELECT notifications_read_all($1::bigint, $2::bigint)", 2);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
