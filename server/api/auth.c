/* auth.c — sign-in, token refresh, sign-out, the signed-in user, and the
 * central authorization hook every protected route passes through.
 *
 * Login: one query finds the user, the password check runs on the blocking
 * pool (never the loop), then one query records the new refresh token.  An
 * unknown email is checked against a dummy hash so timing reveals nothing. */
#include "api/api.h"

#include "auth/auth.h"
#include "auth/password.h"
#include "util/pool.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int ST_USER_BY_EMAIL, ST_LOGIN, ST_REFRESH, ST_LOGOUT, ST_LOAD_USER, ST_ME;

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

static void reply_tokens(http_req_t *req, int64_t user_id, const char *refresh)
{
    char *access = jwt_issue(user_id, (long)time(NULL));
    if (!access) {
        http_problem(req, 500, "could not issue a token", NULL);
        return;
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:i}", "access_token", access, "refresh_token", refresh, "token_type",
                          "Bearer", "expires_in", ACCESS_TOKEN_TTL);
    free(access);
    http_add_header(req, "Cache-Control", "no-store");
    http_reply_json_t(req, 200, o);
}

/* --- login ------------------------------------------------------------- */

typedef struct {
    http_req_t *req;
    char *password;
    char *stored;       /* NULL → unknown account, check the dummy */
    int64_t user_id;
    bool ok;
    refresh_t rt;
} login_t;

static void login_recorded(http_req_t *req, PGresult *res)
{
    (void)res;
    login_t *l = req->ctx;
    reply_tokens(req, l->user_id, l->rt.token);
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
    const char *v[2] = {uid, l->rt.hash};
    api_query(req, ST_LOGIN, 2, v, login_recorded);
}

static void login_found(http_req_t *req, PGresult *res)
{
    login_t *l = req->ctx;
    int retry = atoi(PQgetvalue(res, 0, 0));
    if (retry > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry);
        http_add_header(req, "Retry-After", ra);
        http_problem(req, 429, "too many sign-in attempts; try again later", NULL);
        return;
    }
    if (!PQgetisnull(res, 0, 1)) {
        l->user_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        l->stored = arena_strdup(req->arena, PQgetvalue(res, 0, 2));
    }
    if (pool_submit(req->worker, login_work, login_checked, l) != 0)
        http_problem(req, 503, "too many sign-ins at once; try again shortly", NULL);
}

static void login(http_req_t *req)
{
    static const field_t F[] = {{"email", F_STRING, true}, {"password", F_STRING, true}};
    if (api_fields_or_reply(req, F, ARRAY_LEN(F)) != 0) return;
    const char *email = api_str(req, "email"), *pw = api_str(req, "password");
    if (strlen(email) > 254 || strlen(pw) > 1024) {
        http_problem(req, 401, "wrong email or password", NULL);
        return;
    }
    login_t *l = arena_calloc(req->arena, sizeof *l);
    l->req = req;
    l->password = arena_strdup(req->arena, pw);
    req->ctx = l;
    const char *v[2] = {email, http_client_ip(req)};
    api_query(req, ST_USER_BY_EMAIL, 2, v, login_found);
}

/* --- refresh / logout ----------------------------------------------------- */

static void refreshed(http_req_t *req, PGresult *res)
{
    refresh_t *rt = req->ctx;
    const char *outcome = PQntuples(res) ? PQgetvalue(res, 0, 0) : "invalid";
    if (strcmp(outcome, "ok") != 0) {
        http_problem(req, 401,
                     !strcmp(outcome, "replay") ? "refresh token already used; every session of this sign-in is revoked"
                                                : "invalid or expired refresh token",
                     NULL);
        return;
    }
    reply_tokens(req, strtoll(PQgetvalue(res, 0, 1), NULL, 10), rt->token);
}

static void refresh(http_req_t *req)
{
    static const field_t F[] = {{"refresh_token", F_STRING, true}};
    if (api_fields_or_reply(req, F, ARRAY_LEN(F)) != 0) return;
    refresh_t *rt = arena_calloc(req->arena, sizeof *rt);
    if (refresh_new(rt) != 0) {
        http_problem(req, 500, "could not issue a token", NULL);
        return;
    }
    req->ctx = rt;
    char *old = arena_alloc(req->arena, 65);
    hash_token(api_str(req, "refresh_token"), old);
    const char *v[2] = {old, rt->hash};
    api_query(req, ST_REFRESH, 2, v, refreshed);
}

static void logged_out(http_req_t *req, PGresult *res)
{
    (void)res;
    http_reply(req, 204, NULL, NULL, 0);
}

static void logout(http_req_t *req)
{
    static const field_t F[] = {{"refresh_token", F_STRING, true}};
    if (api_fields_or_reply(req, F, ARRAY_LEN(F)) != 0) return;
    char *h = arena_alloc(req->arena, 65);
    hash_token(api_str(req, "refresh_token"), h);
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

static route_t ROUTES[] = {
    {HTTP_POST, "/api/v1/auth/login", login, ROUTE_JSON_BODY, 0},
    {HTTP_POST, "/api/v1/auth/refresh", refresh, ROUTE_JSON_BODY, 0},
    {HTTP_POST, "/api/v1/auth/logout", logout, ROUTE_JSON_BODY, 0},
    {HTTP_GET, "/api/v1/me", me, 0, ROLE_ANY},
};

void api_auth_init(void)
{
    http_auth_hook = auth_hook;
    /* One statement counts the attempt against both limits and finds the account. */
    ST_USER_BY_EMAIL = db_stmt_register(
        "SELECT greatest(rate_hit('login_limit_per_ip', $2), rate_hit('login_limit_per_account', lower($1))),"
        " u.id, u.password_hash FROM (SELECT 1) one LEFT JOIN users u ON lower(u.email) = lower($1) AND u.active",
        2);
    ST_LOGIN = db_stmt_register("SELECT auth_login($1::bigint, $2)", 2);
    ST_REFRESH = db_stmt_register("SELECT outcome, user_id FROM auth_refresh($1, $2)", 2);
    ST_LOGOUT = db_stmt_register("SELECT auth_logout($1)", 1);
    ST_LOAD_USER = db_stmt_register_read(
        "SELECT role, coalesce(org_id, 0), coalesce(office_id, 0), coalesce(region_code, ''),"
        " floor(extract(epoch FROM password_changed_at))::bigint FROM users WHERE id = $1::bigint AND active",
        1);
    ST_ME = db_stmt_register_read(
        "SELECT json_build_object('id', u.id, 'email', u.email, 'display_name', u.display_name, 'role', u.role,"
        " 'org', (SELECT json_build_object('id', o.id, 'name', o.name, 'org_type', o.org_type, 'region_code',"
        " o.region_code, 'status', o.verification_status) FROM orgs o WHERE o.id = u.org_id),"
        " 'office', (SELECT json_build_object('id', f.id, 'name', f.name, 'region_code', f.region_code)"
        " FROM registry_offices f WHERE f.id = u.office_id), 'region_code', u.region_code)::text"
        " FROM users u WHERE u.id = $1::bigint",
        1);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
