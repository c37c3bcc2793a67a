/* deals.c — deal flow: inquiries and negotiation (意向/洽谈) with offer and
 * acceptance, brokers admitted by consent, public notices (公示) and
 * objections, listed-price purchase (挂牌), auctions (拍卖/竞价).
 *
 * The rules live in migrations/functions/deals.sql; every handler is one statement.
 * A negotiated deal concludes only when one side accepts exactly the price the
 * other side last proposed; concluded deals (agreement, purchase, a won
 * auction, a notice passed) create the contract draft in the same transaction,
 * and every event goes to the message centre (notifications.c).  A sweeper on worker 0 calls
 * deal_sweep() every second on every instance; SKIP LOCKED keeps instances
 * from closing the same auction twice, and the first sweep after a start
 * closes what ended while the server was down. */
#include "api/api.h"

#include "auth/auth.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int ST_INQ_LIST, ST_INQ_GET, ST_INQ_CREATE, ST_INQ_MSG, ST_INQ_DECIDE, ST_BROKER_NAME, ST_BROKER_ACCEPT,
    ST_BROKER_REMOVE, ST_BROKERS, ST_PURCHASE, ST_NOTICES, ST_NOTICE_GET, ST_OBJECT, ST_OBJECTIONS, ST_OBJ_DECIDE,
    ST_AUCTION_OPEN, ST_AUCTION_GET, ST_AUCTIONS, ST_BID, ST_BIDS, ST_SWEEP;

static int id_param(http_req_t *req, int i, const char **out)
{
    return api_id_param_or_reply(req, i, "object", out);
}

static const char *org_of(http_req_t *req)
{
    return api_scope(req).org;
}

static const char *is_admin(http_req_t *req)
{
    return api_scope(req).admin;
}

static const char *int_field(http_req_t *req, const char *name)
{
    json_t *v = json_object_get(req->json, name);
    return json_is_integer(v) ? arena_printf(req->arena, "%lld", (long long)json_integer_value(v)) : NULL;
}

/* An amount in fen (v_amount): required or not, positive or not. */
static int money_ok_or_reply(http_req_t *req, const char *name, bool required, bool positive)
{
    json_t *v = json_object_get(req->json, name);
    json_t *errs = NULL;
    if (!v || json_is_null(v)) {
        if (required) http_error_add(&errs, name, "required", "this field is required");
    } else {
        api_check(&errs, name, v_amount(json_integer_value(v), positive));
    }
    return api_errors_or_reply(req, errs);
}

static int text_ok_or_reply(http_req_t *req, const char *name, size_t max, bool required)
{
    const char *s = api_str(req, name);
    json_t *errs = NULL;
    if (!s && required) http_error_add(&errs, name, "required", "this field is required");
    api_check_text(req, &errs, name, s, max);
    return api_errors_or_reply(req, errs);
}

/* --- inquiries ------------------------------------------------------------------- */

static void inq_list(http_req_t *req)
{
    const char *limit, *after, *status;
    if (api_page_or_reply(req, &limit, &after) || http_query_or_reply(req, "status", &status)) return;
    const char *v[6] = {org_of(req), req->user->id_str, is_admin(req), status, after, limit};
    api_query(req, ST_INQ_LIST, 6, v, api_reply_page);
}

static void inq_get(http_req_t *req)
{
    const char *id;
    if (id_param(req, 0, &id)) return;
    const char *v[4] = {id, org_of(req), req->user->id_str, is_admin(req)};
    api_query(req, ST_INQ_GET, 4, v, api_reply_row_json);
}

static void inq_create(http_req_t *req)
{
    if (api_body_or_reply(req) || text_ok_or_reply(req, "message", 4000, true) ||
        money_ok_or_reply(req, "price_fen", false, true))
        return;
    const char *v[8] = {api_actor(req),
                        req->request_id,
                        org_of(req),
                        int_field(req, "result_id"),
                        int_field(req, "need_id"),
                        api_str(req, "message"),
                        int_field(req, "price_fen"),
                        int_field(req, "broker_user_id")};
    api_query(req, ST_INQ_CREATE, 8, v, api_reply_row_json_created);
}

static void inq_message(http_req_t *req)
{
    const char *id;
    if (id_param(req, 0, &id) || api_body_or_reply(req) || text_ok_or_reply(req, "body", 4000, true) ||
        money_ok_or_reply(req, "price_fen", false, true))
        return;
    const char *v[7] = {api_actor(req),
                        req->request_id,
                        id,
                        org_of(req),
                        is_admin(req),
                        api_str(req, "body"),
                        int_field(req, "price_fen")};
    api_query(req, ST_INQ_MSG, 7, v, api_reply_row_json_created);
}

static void inq_agree(http_req_t *req)
{
    const char *id;
    if (id_param(req, 0, &id) || api_body_or_reply(req) || money_ok_or_reply(req, "price_fen", true, true)) return;
    const char *v[8] = {
        api_actor(req), req->request_id, id, org_of(req), is_admin(req), "agree", int_field(req, "price_fen"), NULL};
    api_query(req, ST_INQ_DECIDE, 8, v, api_reply_row_json);
}

static void inq_decline(http_req_t *req)
{
    const char *id;
    if (id_param(req, 0, &id) || api_body_or_reply(req)) return;
    const char *reason = api_str(req, "reason");
    if (reason && text_ok_or_reply(req, "reason", 1000, false)) return;
    const char *v[8] = {api_actor(req), req->request_id, id, org_of(req), is_admin(req), "decline", NULL, reason};
    api_query(req, ST_INQ_DECIDE, 8, v, api_reply_row_json);
}

/* --- brokers by consent ---------------------------------------------------------- */

static void broker_name(http_req_t *req)
{
    const char *id;
    if (id_param(req, 0, &id) || api_body_or_reply(req)) return;
    if (json_integer_value(json_object_get(req->json, "user_id")) < 1) {
        api_bad_field(req, "user_id", "unknown", "no such broker");
        return;
    }
    const char *v[5] = {api_actor(req), req->request_id, id, org_of(req), int_field(req, "user_id")};
    api_query(req, ST_BROKER_NAME, 5, v, api_reply_row_json);
}

/* A bodiless action of the caller's organisation on the object in the path:
 * fn(actor, request id, id, org).  Accepting or removing a broker, a purchase. */
static void org_action(http_req_t *req, int stmt, api_row_cb cb)
{
    const char *id;
    if (id_param(req, 0, &id) || api_fields_or_reply(req, NULL, 0)) return;
    const char *v[4] = {api_actor(req), req->request_id, id, org_of(req)};
    api_query(req, stmt, 4, v, cb);
}

static void broker_accept(http_req_t *req)
{
    org_action(req, ST_BROKER_ACCEPT, api_reply_row_json);
}

static void broker_remove(http_req_t *req)
{
    org_action(req, ST_BROKER_REMOVE, api_reply_row_json);
}

/* Brokers a party may name: active users with the role broker, by name or
 * organisation (q, optional), with their organisation. */
static void brokers(http_req_t *req)
{
    const char *limit, *after, *q;
    if (api_page_or_reply(req, &limit, &after) || api_search_text_or_reply(req, &q)) return;
    const char *v[3] = {q, after, limit};
    api_query(req, ST_BROKERS, 3, v, api_reply_page);
}

static void purchase(http_req_t *req)
{
    org_action(req, ST_PURCHASE, api_reply_row_json_created);
}

/* --- notices ------------------------------------------------------------------------ */

static void notices(http_req_t *req)
{
    const char *limit, *after, *status, *result, *pending;
    if (api_page_or_reply(req, &limit, &after) || http_query_or_reply(req, "status", &status) ||
        http_query_or_reply(req, "result_id", &result) || http_query_or_reply(req, "pending_objections", &pending) ||
        api_param_ok_or_reply(req, "result_id", v_id(result, NULL)) ||
        api_param_ok_or_reply(req, "pending_objections", v_bool(pending)))
        return;
    if (status && strcmp(status, "active") && strcmp(status, "passed") && strcmp(status, "failed") &&
        strcmp(status, "all")) {
        api_bad_param(req, "status", "invalid", "active (default), passed, failed or all");
        return;
    }
    const char *v[5] = {status ? status : (result ? "all" : "active"), after, limit, result,
                        pending && !strcmp(pending, "true") ? "true" : "false"};
    api_query(req, ST_NOTICES, 5, v, api_reply_page);
}

static void notice_get(http_req_t *req)
{
    const char *id;
    if (id_param(req, 0, &id)) return;
    const char *v[1] = {id};
    api_query(req, ST_NOTICE_GET, 1, v, api_reply_row_json);
}

static void object(http_req_t *req)
{
    const char *id;
    if (id_param(req, 0, &id) || api_body_or_reply(req) || text_ok_or_reply(req, "name", 100, true) ||
        text_ok_or_reply(req, "contact", 200, true) || text_ok_or_reply(req, "body", 4000, true))
        return;
    const char *v[5] = {req->request_id, id, api_str(req, "name"), api_str(req, "contact"), api_str(req, "body")};
    api_query(req, ST_OBJECT, 5, v, api_reply_row_json_created);
}

/* The objections to a notice: reviewers and admins with the objector's
 * contact, the two parties to the deal without it; anyone else 404. */
static void objections(http_req_t *req)
{
    const char *id;
    if (id_param(req, 0, &id)) return;
    auth_user_t *u = req->user;
    const char *staff = u->role & (ROLE_REVIEWER | ROLE_ADMIN) ? "true" : "false";
    const char *v[3] = {id, org_of(req), staff};
    api_query(req, ST_OBJECTIONS, 3, v, api_reply_row_json);
}

static void object_decide(http_req_t *req)
{
    const char *id, *oid;
    if (id_param(req, 0, &id) || id_param(req, 1, &oid) || api_body_or_reply(req)) return;
    const char *v[6] = {api_actor(req), req->request_id, id, oid, api_str(req, "decision"), api_str(req, "note")};
    api_query(req, ST_OBJ_DECIDE, 6, v, api_reply_row_json);
}

/* --- auctions -------------------------------------------------------------------------- */

static void auction_open(http_req_t *req)
{
    const char *id;
    if (id_param(req, 0, &id) || api_body_or_reply(req) || money_ok_or_reply(req, "reserve_fen", true, false) ||
        money_ok_or_reply(req, "increment_fen", true, true))
        return;
    json_t *errs = NULL;
    const char *ends = api_str(req, "ends_at");
    struct tm tm = {0};
    const char *rest = strptime(ends, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest || (strcmp(rest, "Z") && strcmp(rest, "+00:00") && strcmp(rest, "+08:00")))
        http_error_add(&errs, "ends_at", "invalid", "an RFC 3339 time, e.g. 2026-12-01T10:00:00Z");
    static const char *const SECS[] = {"extension_window_s", "extension_s"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(req->json, SECS[i]);
        if (v && (json_integer_value(v) < 0 || json_integer_value(v) > 3600))
            http_error_add(&errs, SECS[i], "out_of_range", "0 to 3600 seconds");
    }
    if (api_errors_or_reply(req, errs)) return;
    const char *win = int_field(req, "extension_window_s"), *ext = int_field(req, "extension_s");
    const char *v[10] = {api_actor(req),
                         req->request_id,
                         id,
                         org_of(req),
                         is_admin(req),
                         int_field(req, "reserve_fen"),
                         int_field(req, "increment_fen"),
                         ends,
                         win ? win : "300",
                         ext ? ext : "300"};
    api_query(req, ST_AUCTION_OPEN, 10, v, api_reply_row_json_created);
}

static void auction_get(http_req_t *req)
{
    const char *id;
    if (id_param(req, 0, &id)) return;
    const char *v[2] = {id, org_of(req)};
    api_query(req, ST_AUCTION_GET, 2, v, api_reply_row_json);
}

/* Auctions for the 竞价 page: the open ones by default, newest first. */
static void auctions(http_req_t *req)
{
    const char *limit, *after, *status;
    if (api_page_or_reply(req, &limit, &after) || http_query_or_reply(req, "status", &status)) return;
    if (status && strcmp(status, "open") && strcmp(status, "closed")) {
        api_bad_param(req, "status", "invalid", "open (default) or closed");
        return;
    }
    const char *v[4] = {status ? status : "open", after, limit, org_of(req)};
    api_query(req, ST_AUCTIONS, 4, v, api_reply_page);
}

static void bid(http_req_t *req)
{
    const char *id;
    if (id_param(req, 0, &id) || api_body_or_reply(req) || money_ok_or_reply(req, "amount_fen", true, true)) return;
    const char *v[5] = {api_actor(req), req->request_id, id, org_of(req), int_field(req, "amount_fen")};
    api_query(req, ST_BID, 5, v, api_reply_row_json_created);
}

static void bids(http_req_t *req)
{
    const char *id;
    if (id_param(req, 0, &id)) return;
    const char *v[3] = {id, org_of(req), is_admin(req)};
    api_query(req, ST_BIDS, 3, v, api_reply_row_json);
}

/* --- the sweeper ------------------------------------------------------------------------ */

static void on_swept(void *arg, db_status_t st, PGresult *res)
{
    (void)arg;
    if (st == DB_OK) {
        const char *r = PQgetvalue(res, 0, 0);
        if (strcmp(r, "{\"notices\": 0, \"auctions\": 0, \"inquiries\": 0}") != 0) LOG_I("deal sweep: %s", r);
    } else if (st == DB_ERR_SQL) {
        LOG_W("deal sweep failed: %s", PQresultErrorMessage(res));
    }
}

static void sweep(worker_t *w)
{
    db_query(api_db(w), ST_SWEEP, 0, NULL, on_swept, NULL);
}

void api_deals_start(void)
{
    if (http_worker_timer(0, 1000, sweep) != 0) LOG_E("cannot start the deal sweeper");
}

#define MEMBER (ROLE_MEMBER | ROLE_ADMIN)
static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/inquiries", inq_list, 0, ROLE_MEMBER | ROLE_BROKER | ROLE_ADMIN},
    {HTTP_POST, "/api/v1/inquiries", inq_create, ROUTE_JSON_BODY, ROLE_MEMBER},
    {HTTP_GET, "/api/v1/inquiries/{id}", inq_get, 0, ROLE_MEMBER | ROLE_BROKER | ROLE_ADMIN},
    {HTTP_POST, "/api/v1/inquiries/{id}/messages", inq_message, ROUTE_JSON_BODY, ROLE_MEMBER | ROLE_BROKER},
    {HTTP_POST, "/api/v1/inquiries/{id}/agree", inq_agree, ROUTE_JSON_BODY, ROLE_MEMBER},
    {HTTP_POST, "/api/v1/inquiries/{id}/decline", inq_decline, 0, ROLE_MEMBER},
    {HTTP_POST, "/api/v1/inquiries/{id}/broker", broker_name, ROUTE_JSON_BODY, ROLE_MEMBER},
    {HTTP_POST, "/api/v1/inquiries/{id}/broker/accept", broker_accept, 0, ROLE_MEMBER},
    {HTTP_DELETE, "/api/v1/inquiries/{id}/broker", broker_remove, 0, ROLE_MEMBER},
    {HTTP_GET, "/api/v1/brokers", brokers, 0, ROLE_MEMBER | ROLE_BROKER | ROLE_ADMIN},
    {HTTP_POST, "/api/v1/results/{id}/purchase", purchase, 0, ROLE_MEMBER},
    {HTTP_GET, "/api/v1/notices", notices, 0, 0},
    {HTTP_GET, "/api/v1/notices/{id}", notice_get, 0, 0},
    {HTTP_POST, "/api/v1/notices/{id}/objections", object, ROUTE_JSON_BODY, 0},
    {HTTP_GET, "/api/v1/notices/{id}/objections", objections, 0,
     ROLE_MEMBER | ROLE_BROKER | ROLE_REVIEWER | ROLE_ADMIN},
    {HTTP_POST, "/api/v1/notices/{id}/objections/{oid}/decide", object_decide, ROUTE_JSON_BODY,
     ROLE_REVIEWER | ROLE_ADMIN},
    {HTTP_GET, "/api/v1/auctions", auctions, ROUTE_OPTIONAL_AUTH, 0},
    {HTTP_POST, "/api/v1/results/{id}/auction", auction_open, ROUTE_JSON_BODY, MEMBER},
    {HTTP_GET, "/api/v1/results/{id}/auction", auction_get, ROUTE_OPTIONAL_AUTH, 0},
    {HTTP_POST, "/api/v1/results/{id}/bids", bid, ROUTE_JSON_BODY, ROLE_MEMBER},
    {HTTP_GET, "/api/v1/results/{id}/bids", bids, 0, ROLE_MEMBER | ROLE_ADMIN},
};

void api_deals_init(void)
{
    ST_INQ_LIST = db_stmt_register_read(
        api_page_sql(
            "SELECT i.id, inquiry_json(i, false) AS j FROM inquiries i WHERE inquiry_visible(i, $1::bigint, $2::bigint,"
            " $3::boolean) AND ($4::text IS NULL OR i.status = $4) AND ($5::bigint IS NULL OR i.id < $5::bigint)"
            " ORDER BY i.id DESC",
            6),
        6);
    ST_INQ_GET = db_stmt_register_read("SELECT inquiry_json(i, true)::text FROM inquiries i WHERE i.id = $1::bigint"
                                       " AND inquiry_visible(i, $2::bigint, $3::bigint, $4::boolean)",
                                       4);
    ST_INQ_CREATE = db_stmt_register(
        "SELECT inquiry_create($1::bigint, $2, $3::bigint, $4::bigint, $5::bigint, $6, $7::bigint, $8::bigint)", 8);
    ST_INQ_MSG = db_stmt_register(
        "SELECT inquiry_message($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean, $6, $7::bigint)", 7);
    ST_INQ_DECIDE = db_stmt_register(
        "SELECT inquiry_decide($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean, $6, $7::bigint, $8)", 8);
    ST_BROKER_NAME = db_stmt_register("SELECT inquiry_broker_name($1::bigint, $2, $3::bigint, $4::bigint, $5::bigint)",
                                      5);
    ST_BROKER_ACCEPT = db_stmt_register("SELECT inquiry_broker_accept($1::bigint, $2, $3::bigint, $4::bigint)", 4);
    ST_BROKER_REMOVE = db_stmt_register("SELECT inquiry_broker_remove($1::bigint, $2, $3::bigint, $4::bigint)", 4);
    ST_BROKERS = db_stmt_register_read(
        api_page_sql(
            "SELECT u.id, json_build_object('id', u.id, 'display_name', u.display_name, 'org',"
            " (SELECT json_build_object('id', o.id, 'name', o.name) FROM orgs o WHERE o.id = u.org_id)) AS j"
            " FROM users u WHERE u.role = 'broker' AND u.active AND ($1::text IS NULL OR strpos(u.display_name, $1) > 0"
            " OR strpos((SELECT o.name FROM orgs o WHERE o.id = u.org_id), $1) > 0)"
            " AND ($2::bigint IS NULL OR u.id < $2::bigint) ORDER BY u.id DESC",
            3),
        3);
    ST_PURCHASE = db_stmt_register("SELECT result_purchase($1::bigint, $2, $3::bigint, $4::bigint)", 4);
    ST_NOTICES = db_stmt_register_replica(
        api_page_sql(
            "SELECT x.id, notice_json(x) AS j FROM notices x WHERE ($1 = 'all' OR x.status = $1)"
            " AND ($4::bigint IS NULL OR x.result_id = $4::bigint)"
            " AND (NOT $5::boolean OR EXISTS (SELECT 1 FROM objections o WHERE o.notice_id = x.id AND o.status = 'filed'))"
            " AND ($2::bigint IS NULL OR x.id < $2::bigint) ORDER BY x.id DESC",
            3),
        5);
    ST_NOTICE_GET = db_stmt_register_read("SELECT notice_json(x)::text FROM notices x WHERE x.id = $1::bigint", 1);
    ST_OBJECT = db_stmt_register("SELECT objection_file($1, $2::bigint, $3, $4, $5)", 5);
    /* the notice must exist (404 otherwise); staff see every objection with the contact, the parties without */
    ST_OBJECTIONS = db_stmt_register_read(
        api_list_sql("(SELECT json_agg(objection_json(o, $3::boolean) ORDER BY o.id) FROM objections o"
                     " WHERE o.notice_id = x.id)",
                     "",
                     "FROM notices x JOIN inquiries i ON i.id = x.inquiry_id WHERE x.id = $1::bigint"
                     " AND ($3::boolean OR coalesce($2::bigint IN (i.seller_org_id, i.buyer_org_id), false))"),
        3);
    ST_OBJ_DECIDE = db_stmt_register("SELECT objection_decide($1::bigint, $2, $3::bigint, $4::bigint, $5, $6)", 6);
    ST_AUCTION_OPEN = db_stmt_register(
        "SELECT auction_open($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean, $6::bigint, $7::bigint,"
        " $8::timestamptz, $9::int, $10::int)",
        10);
    ST_AUCTION_GET = db_stmt_register_read(
        "SELECT auction_json(a, $2::bigint, coalesce((SELECT holder_org_id FROM results WHERE id = a.result_id) = $2::bigint,"
        " false))::text FROM auctions a WHERE a.result_id = $1::bigint ORDER BY a.id DESC LIMIT 1",
        2);
    /* newest first (the page orders what it shows by the time left) */
    ST_AUCTIONS = db_stmt_register_read(
        api_page_sql("SELECT a.id, auction_list_json(a, $4::bigint) AS j FROM auctions a"
                     " WHERE a.status = $1 AND ($2::bigint IS NULL OR a.id < $2::bigint) ORDER BY a.id DESC",
                     3),
        4);
    ST_BID = db_stmt_register("SELECT bid_place($1::bigint, $2, $3::bigint, $4::bigint, $5::bigint)", 5);
    /* the holder (and admin) see every bid; a bidder sees its own */
    ST_BIDS = db_stmt_register_read(
        api_list_sql("(SELECT json_agg(json_build_object('id', b.id, 'auction_id', b.auction_id, 'bidder',"
                     " CASE WHEN $3::boolean OR r.holder_org_id = $2::bigint OR b.bidder_org_id = $2::bigint"
                     " THEN org_brief(b.bidder_org_id) END, 'amount_fen', b.amount_fen, 'created_at', b.created_at)"
                     " ORDER BY b.amount_fen DESC, b.id) FROM bids b JOIN auctions a ON a.id = b.auction_id"
                     " WHERE a.result_id = r.id"
                     " AND ($3::boolean OR r.holder_org_id = $2::bigint OR b.bidder_org_id = $2::bigint))",
                     "", "FROM results r WHERE r.id = $1::bigint AND r.status <> 'draft'"),
        3);
    ST_SWEEP = db_stmt_register("SELECT deal_sweep()::text", 0);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
