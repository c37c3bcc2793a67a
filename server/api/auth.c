/* auth.c — sign-in, token refresh, sign-out, the signed-in user, and the
 * central authorization hook every protected route passes through.
 *
 * Login: one query finds the user, the password check runs on the blocking
 * pool (never the loop), then one query records the new refresh token.  An
 * unknown email is checked against a dummy hash so timing reveals nothing.
 *
 * Two ways to hold the refresh token.  API clients get it in the JSON body
 * and send it back in the body.  The web front end signs in with
 * "session": "cookie": the token then travels only in the cookie
 * yz_refresh (HttpOnly, so no script can read it; Secure; SameSite=Strict,
 * so no other site can send it; Path=/api/v1/auth, so no other request
 * carries it) and the body's refresh_token is null.  /auth/refresh and
 * /auth/logout take the cookie when the body names no token, and answer
 * in the same way; the page keeps the access token in memory only, so a
 * new tab or a reload signs in by one refresh. */
#include "api/api.h"

#include "auth/auth.h"
#include "auth/password.h"
#include "util/pool.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int ST_USER_BY_EMAIL, ST_LOGIN, ST_REFRESH, ST_LOGOUT, ST_LOAD_USER, ST_ME, ST_ME_UPDATE;

/* --- tokens ------------------------------------------------------------ */

typedef struct {
    char token[64];
    char hash[65];
} refresh_t;

static int refresh_new(refresh_t *r)
{
    unsigned char rnd[32];
    if (util_random_bytes(rnd, sizeof rnd) != 0) return -1;
    memcpy(r->token, "rt_", 3);
    util_b64url_encode(rnd, sizeof rnd, r->token + 3);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)r->token, strlen(r->token), md);
    util_hex(md, sizeof md, r->hash);
    return 0;
}

static void hash_token(const char *token, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), md);
    util_hex(md, sizeof md, out);
}

#define REFRESH_COOKIE "yz_refresh"
#define COOKIE_ATTRS "; Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict"

/* The refresh token from the Cookie header, or NULL. */
static const char *cookie_token(http_req_t *req)
{
    const char *h = http_header(req, "cookie");
    const size_t n = strlen(REFRESH_COOKIE);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == ';') p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > n && !strncmp(p, REFRESH_COOKIE, n) && p[n] == '=') {
            char *v = arena_alloc(req->arena, len - n);
            memcpy(v, p + n + 1, len - n - 1);
            v[len - n - 1] = '\0';
            return *v ? v : NULL;
        }
        p = end;
    }
    return NULL;
}

static void clear_cookie(http_req_t *req)
{
    http_add_header(req, "Set-Cookie", REFRESH_COOKIE "=; Max-Age=0" COOKIE_ATTRS);
}

/* The new tokens: the refresh token in the body, or (cookie != 0) in the
 * cookie only, living max_age seconds like the server's record of it. */
static void reply_tokens(http_req_t *req, int64_t user_id, const char *refresh, bool cookie, long max_age)
{
    char *access = jwt_issue(user_id, (long)time(NULL));
    if (!access) {
        http_problem(req, 500, "could not issue a token", NULL);
        return;
    }
    json_t *o = json_pack("{s:s, s:o, s:s, s:i}", "access_token", access, "refresh_token",
                          cookie ? json_null() : json_string(refresh), "token_type", "Bearer", "expires_in",
                          ACCESS_TOKEN_TTL);
    free(access);
    if (cookie)
        http_add_header(req, "Set-Cookie",
                        arena_printf(req->arena, REFRESH_COOKIE "=%s; Max-Age=%ld" COOKIE_ATTRS, refresh, max_age));
    http_add_header(req, "Cache-Control", "no-store");
    http_reply_json_t(req, 200, o);
}

/* --- login ------------------------------------------------------------- */

typedef struct {
    http_req_t *req;
    char *email;
    char *password;
    char *stored; /* NULL → unknown account, check the dummy */
    int64_t user_id;
    bool ok;
    bool cookie; /* "session": "cookie" */
    refresh_t rt;
} login_t;

static void login_recorded(http_req_t *req, PGresult *res)
{
    login_t *l = req->ctx;
    reply_tokens(req, l->user_id, l->rt.token, l->cookie, strtol(PQgetvalue(res, 0, 0), NULL, 10));
}

static void login_work(void *arg)
{
    login_t *l = arg;
    bool match = password_verify(l->password, l->stored ? l->stored : password_dummy_hash());
    l->ok = match && l->stored != NULL;
}

static void login_checked(void *arg)
{
    login_t *l = arg;
    http_req_t *req = l->req;
    if (!l->ok) {
        http_problem(req, 401, "wrong email or password", NULL);
        return;
    }
    if (refresh_new(&l->rt) != 0) {
        http_problem(req, 500, "could not issue a token", NULL);
        return;
    }
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)l->user_id);
    const char *v[4] = {uid, l->rt.hash, http_client_ip(req), l->email};
    api_query(req, ST_LOGIN, 4, v, login_recorded);
}

static void login_found(http_req_t *req, PGresult *res)
{
    login_t *l = req->ctx;
    if (api_rate_limited_or_reply(req, PQgetvalue(res, 0, 0), "too many sign-in attempts; try again later")) return;
    if (!PQgetisnull(res, 0, 1)) {
        l->user_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        l->stored = arena_strdup(req->arena, PQgetvalue(res, 0, 2));
    }
    if (pool_submit(req->worker, login_work, login_checked, l) != 0)
        http_problem(req, 503, "too many sign-ins at once; try again shortly", NULL);
}

static void login(http_req_t *req)
{
    if (api_body_or_reply(req) != 0) return;
    const char *email = api_str(req, "email"), *pw = api_str(req, "password"), *session = api_str(req, "session");
    if (session && strcmp(session, "cookie") && strcmp(session, "body")) {
        json_t *e = NULL;
        http_error_add(&e, "session", "invalid", "either cookie or body");
        http_problem(req, 400, "session must be \"cookie\" or \"body\"", e);
        return;
    }
    if (strlen(email) > 254 || strlen(pw) > 1024) {
        http_problem(req, 401, "wrong email or password", NULL);
        return;
    }
    login_t *l = arena_calloc(req->arena, sizeof *l);
    l->req = req;
    l->email = arena_strdup(req->arena, email);
    l->password = arena_strdup(req->arena, pw);
    l->cookie = session && !strcmp(session, "cookie");
    req->ctx = l;
    const char *v[2] = {email, http_client_ip(req)};
    api_query(req, ST_USER_BY_EMAIL, 2, v, login_found);
}

/* --- refresh / logout ----------------------------------------------------- */

typedef struct {
    refresh_t rt;
    bool cookie; /* the token came in the cookie: answer with the cookie */
} refresh_ctx_t;

/* The refresh token of a request: the body's refresh_token, else the
 * cookie's.  Replies 400 / 401 itself and answers NULL when there is none. */
static const char *presented_token(http_req_t *req, bool *cookie)
{
    if (api_body_or_reply(req) != 0) return NULL;
    const char *t = api_str(req, "refresh_token");
    *cookie = t == NULL;
    if (!t) t = cookie_token(req);
    if (!t) {
        json_t *e = NULL;
        http_error_add(&e, "refresh_token", "required",
                       "send refresh_token in the body, or sign in with the session cookie");
        http_problem(req, 401, "no refresh token: neither in the body nor in the cookie", e);
        return NULL;
    }
    return t;
}

static void refreshed(http_req_t *req, PGresult *res)
{
    refresh_ctx_t *c = req->ctx;
    const char *outcome = PQntuples(res) ? PQgetvalue(res, 0, 0) : "invalid";
    if (strcmp(outcome, "ok") != 0) {
        if (c->cookie) clear_cookie(req);
        http_problem(req, 401,
                     !strcmp(outcome, "replay") ? "refresh token already used; every session of this sign-in is revoked"
                                                : "invalid or expired refresh token",
                     NULL);
        return;
    }
    reply_tokens(req, strtoll(PQgetvalue(res, 0, 1), NULL, 10), c->rt.token, c->cookie,
                 strtol(PQgetvalue(res, 0, 2), NULL, 10));
}

static void refresh(http_req_t *req)
{
    refresh_ctx_t *c = arena_calloc(req->arena, sizeof *c);
    const char *token = presented_token(req, &c->cookie);
    if (!token) return;
    if (refresh_new(&c->rt) != 0) {
        http_problem(req, 500, "could not issue a token", NULL);
        return;
    }
    req->ctx = c;
    char *old = arena_alloc(req->arena, 65);
    hash_token(token, old);
    const char *v[2] = {old, c->rt.hash};
    api_query(req, ST_REFRESH, 2, v, refreshed);
}

static void logged_out(http_req_t *req, PGresult *res)
{
    (void)res;
    if (req->ctx) clear_cookie(req);
    http_reply(req, 204, NULL, NULL, 0);
}

static void logout(http_req_t *req)
{
    bool cookie = false;
    const char *token = presented_token(req, &cookie);
    if (!token) return;
    req->ctx = cookie ? req : NULL; /* any non-NULL: clear the cookie */
    char *h = arena_alloc(req->arena, 65);
    hash_token(token, h);
    const char *v[1] = {h};
    api_query(req, ST_LOGOUT, 1, v, logged_out);
}

/* --- the central check ------------------------------------------------------ */

typedef struct {
    long iat;
} authctx_t;

static void user_loaded(http_req_t *req, PGresult *res)
{
    authctx_t *a = req->ctx;
    if (PQntuples(res) != 1) {
        http_problem(req, 401, "the account no longer exists or is disabled", NULL);
        return;
    }
    if (a->iat < strtol(PQgetvalue(res, 0, 4), NULL, 10)) {
        http_problem(req, 401, "the session was revoked; sign in again", NULL);
        return;
    }
    auth_user_t *u = req->user;
    u->role = role_from_name(PQgetvalue(res, 0, 0));
    u->org_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    u->office_id = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    snprintf(u->region, sizeof u->region, "%s", PQgetvalue(res, 0, 3));
    req->ctx = NULL;
    if (req->route->roles && !(req->route->roles & u->role)) {
        http_problem(req, 403, "your role may not do this", NULL);
        return;
    }
    http_dispatch_continue(req);
}

static void auth_hook(http_req_t *req)
{
    const char *h = http_header(req, "authorization");
    if (!h && (req->route->flags & ROUTE_OPTIONAL_AUTH)) {
        http_dispatch_continue(req); /* anonymous */
        return;
    }
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        http_add_header(req, "WWW-Authenticate", "Bearer");
        http_problem(req, 401, "sign in first: send Authorization: Bearer <access token>", NULL);
        return;
    }
    const char *tok = h + 7;
    while (*tok == ' ') tok++;
    int64_t uid;
    long iat;
    const char *why = "invalid token";
    if (jwt_check(tok, (long)time(NULL), &uid, &iat, &why) != 0) {
        http_add_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        http_problem(req, 401, why, NULL);
        return;
    }
    auth_user_t *u = arena_calloc(req->arena, sizeof *u);
    u->id = uid;
    snprintf(u->id_str, sizeof u->id_str, "%lld", (long long)uid);
    req->user = u;
    authctx_t *a = arena_calloc(req->arena, sizeof *a);
    a->iat = iat;
    req->ctx = a;
    const char *v[1] = {u->id_str};
    api_query(req, ST_LOAD_USER, 1, v, user_loaded);
}

static void me(http_req_t *req)
{
    const char *v[1] = {req->user->id_str};
    api_query(req, ST_ME, 1, v, api_reply_row_json);
}

/* PATCH /me: what a user may change of their own account here — whether the
 * message-centre events also come by e-mail (the password has its own route). */
static void me_update(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    const char *v[3] = {req->user->id_str, req->request_id,
                        json_is_true(json_object_get(req->json, "email_notifications")) ? "true" : "false"};
    api_query(req, ST_ME_UPDATE, 3, v, api_reply_row_json);
}

static route_t ROUTES[] = {
    {HTTP_POST, "/api/v1/auth/login", login, ROUTE_JSON_BODY, 0},
    {HTTP_POST, "/api/v1/auth/refresh", refresh, ROUTE_JSON_BODY, 0},
    {HTTP_POST, "/api/v1/auth/logout", logout, ROUTE_JSON_BODY, 0},
    {HTTP_GET, "/api/v1/me", me, 0, ROLE_ANY},
    {HTTP_PATCH, "/api/v1/me", me_update, ROUTE_JSON_BODY, ROLE_ANY},
};

void api_auth_init(void)
{
    http_auth_hook = auth_hook;
    /* One statement counts the attempt against both limits and finds the
     * account; a successful sign-in gives both hits back (ST_LOGIN), so only
     * failures lock, while a flood is refused before its passwords are hashed. */
    ST_USER_BY_EMAIL = db_stmt_register(
        "SELECT greatest(rate_hit('login_limit_per_ip', $2), rate_hit('login_limit_per_account', lower($1))),"
        " u.id, u.password_hash FROM (SELECT 1) one LEFT JOIN users u ON lower(u.email) = lower($1) AND u.active",
        2);
    /* ...with the token's lifetime in seconds, the cookie's Max-Age */
    ST_LOGIN = db_stmt_register(
        "SELECT extract(epoch FROM auth_token_lifetime())::bigint FROM (SELECT auth_login($1::bigint, $2),"
        " rate_refund('login_limit_per_ip', $3), rate_refund('login_limit_per_account', lower($4))) l",
        4);
    ST_REFRESH = db_stmt_register(
        "SELECT outcome, user_id, extract(epoch FROM auth_token_lifetime())::bigint FROM auth_refresh($1, $2)", 2);
    ST_LOGOUT = db_stmt_register("SELECT auth_logout($1)", 1);
    ST_LOAD_USER = db_stmt_register_read(
        "SELECT role, coalesce(org_id, 0), coalesce(office_id, 0), coalesce(region_code, ''),"
        " floor(extract(epoch FROM password_changed_at))::bigint FROM users WHERE id = $1::bigint AND active",
        1);
    ST_ME = db_stmt_register_read("SELECT me_json($1::bigint)::text", 1);
    ST_ME_UPDATE = db_stmt_register("SELECT me_update($1::bigint, $2, $3::boolean)", 3);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
