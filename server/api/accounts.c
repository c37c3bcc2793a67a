/* accounts.c — organisations, users, registry offices, invitations,
 * self-service registration and password change.
 *
 * Authorization: the route table says which roles may call; scope is applied
 * in SQL (a member's org, else NULL = everything), so another org's object is
 * simply not found (404).  Field types and formats are checked here, values
 * that need the database (codes, uniqueness, state) in the SQL functions,
 * which also write the audit entry in the same transaction. */
#include "api/api.h"

#include "auth/auth.h"
#include "auth/password.h"
#include "config.h"
#include "domain/credit_code.h"
#include "domain/netaddr.h"
#include "util/pool.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ST_ORG_LIST, ST_ORG_DIRECTORY, ST_ORG_GET, ST_ORG_CREATE, ST_ORG_UPDATE, ST_ORG_VERIFY, ST_INVITE,
    ST_REGISTER_RATE, ST_REGISTER, ST_USER_LIST, ST_USER_GET, ST_USER_CREATE, ST_USER_UPDATE, ST_OFFICE_LIST,
    ST_OFFICE_CREATE, ST_OFFICE_UPDATE, ST_PW_GET, ST_PW_SET;

/* --- shared checks --------------------------------------------------------- */

/* Path id or 404 (a malformed id names nothing). */
static int id_or_reply(http_req_t *req, const char **id)
{
    return api_id_param_or_reply(req, 0, "object", id);
}

static void check_text(json_t *o, const char *prefix, const char *name, size_t max_chars, bool nonempty, json_t **errs)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v)) return;
    const char *s = json_string_value(v);
    if (!s) return; /* type errors were reported already */
    char field[64];
    snprintf(field, sizeof field, "%s%s", prefix, name);
    size_t n = util_utf8_len(s, strlen(s));
    if (nonempty && !n) http_error_add(errs, field, "required", "must not be empty");
    else if (n > max_chars) {
        char m[64];
        snprintf(m, sizeof m, "at most %zu characters", max_chars);
        http_error_add(errs, field, "too_long", m);
    }
}

/* an org object inside another body (registration's org) */
static const field_t ORG_FIELDS[] = SPEC_FIELDS(OrgInput);

/* Value checks for an org object (types already checked). */
static void validate_org(json_t *o, const char *prefix, json_t **errs)
{
    char field[64];
    check_text(o, prefix, "name", 200, true, errs);
    check_text(o, prefix, "name_en", 300, false, errs);
    check_text(o, prefix, "description", 4000, false, errs);
    check_text(o, prefix, "address", 300, false, errs);
    check_text(o, prefix, "contact_name", 100, false, errs);
    check_text(o, prefix, "contact_phone", 40, false, errs);
    const char *cc = json_string_value(json_object_get(o, "credit_code"));
    if (cc) {
        const char *why = credit_code_error(cc, strlen(cc));
        snprintf(field, sizeof field, "%scredit_code", prefix);
        if (why) http_error_add(errs, field, "invalid_credit_code", why);
    }
    snprintf(field, sizeof field, "%sregion_code", prefix);
    api_check(errs, field, v_region(json_string_value(json_object_get(o, "region_code"))));
    snprintf(field, sizeof field, "%sorg_type", prefix);
    api_check(errs, field, v_org_type(json_string_value(json_object_get(o, "org_type"))));
    const char *ce = json_string_value(json_object_get(o, "contact_email"));
    snprintf(field, sizeof field, "%scontact_email", prefix);
    if (ce && *ce) api_check(errs, field, v_email(ce));
    const char *web = json_string_value(json_object_get(o, "website"));
    if (web && *web &&
        ((strncmp(web, "https://", 8) && strncmp(web, "http://", 7)) || strlen(web) > 500 || strpbrk(web, " \t\r\n"))) {
        snprintf(field, sizeof field, "%swebsite", prefix);
        http_error_add(errs, field, "invalid_format", "must be an http(s) URL of at most 500 characters");
    }
    /* The server will POST to this URL: the same rules as at delivery
     * (market_bg.c), so a URL refused there cannot be saved. */
    const char *hook = json_string_value(json_object_get(o, "webhook_url"));
    netaddr_url_t nu;
    const char *code, *why;
    snprintf(field, sizeof field, "%swebhook_url", prefix);
    if (hook && *hook && strlen(hook) > 500)
        http_error_add(errs, field, "invalid_format", "must be a URL of at most 500 characters");
    else if (hook && *hook && netaddr_webhook_url(hook, g_cfg.webhook_allow_private, &nu, &code, &why) != 0)
        http_error_add(errs, field, code, why);
}

/* Scope: members and brokers see only their own org (NULL: everything). */
static const char *org_scope(http_req_t *req)
{
    return api_scope(req).org;
}

/* --- organisations ----------------------------------------------------------- */

static void org_list(http_req_t *req)
{
    const char *limit, *after, *status, *q;
    if (api_page_or_reply(req, &limit, &after) || http_query_or_reply(req, "status", &status) ||
        http_query_or_reply(req, "q", &q))
        return;
    if (status && strcmp(status, "pending") && strcmp(status, "verified") && strcmp(status, "rejected")) {
        api_bad_param(req, "status", "invalid", "status must be pending, verified or rejected");
        return;
    }
    const char *v[5] = {org_scope(req), status, q, after, limit};
    api_query(req, ST_ORG_LIST, 5, v, api_reply_page);
}

/* The directory: verified organisations by name or credit code, in brief,
 * for choosing a contract's other party.  Any signed-in user; up to limit
 * (default 10, at most 20) hits, the exact credit code first, then names
 * that start with q, then the shortest names. */
static void org_directory(http_req_t *req)
{
    const char *q, *limit;
    if (http_query_or_reply(req, "q", &q) || http_query_or_reply(req, "limit", &limit)) return;
    json_t *e = NULL;
    size_t n = q ? util_utf8_len(q, strlen(q)) : 0;
    uint64_t lim = 10;
    if (!q || n < 2) http_error_add(&e, "q", "too_short", "at least 2 characters of a name, or a credit code");
    else if (n > 100)
        http_error_add(&e, "q", "too_long", "at most 100 characters");
    if (limit && (util_parse_u64(limit, strlen(limit), &lim) != 0 || lim < 1 || lim > 20))
        http_error_add(&e, "limit", "out_of_range", "limit must be an integer from 1 to 20");
    if (e) {
        http_problem(req, 400, "invalid query parameter", e);
        return;
    }
    const char *v[2] = {q, arena_printf(req->arena, "%llu", (unsigned long long)lim)};
    api_query(req, ST_ORG_DIRECTORY, 2, v, api_reply_row_json);
}

static void org_get(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id)) return;
    const char *v[2] = {id, org_scope(req)};
    api_query(req, ST_ORG_GET, 2, v, api_reply_versioned_ok);
}

/* The codes of object o as org_insert, org_update, user_create, user_update,
 * office_create and office_update check them (org_type, then region_code;
 * fields named prefix+key): an unknown one is refused before the write is
 * sent (issue 21).  Users and offices have no org_type (their field lists
 * refuse it). */
static void codes_then(http_req_t *req, json_t *o, const char *prefix, void (*send)(http_req_t *))
{
    api_code_refs_t r = {0};
    api_code_ref_key(req, &r, prefix, o, "org_type", "org_types");
    api_code_ref_key(req, &r, prefix, o, "region_code", "regions");
    api_codes_check_write(req, &r, false, send);
}

static void org_create_send(http_req_t *req)
{
    const char *v[3] = {api_actor(req), req->request_id, api_json_text(req, req->json)};
    api_query(req, ST_ORG_CREATE, 3, v, api_reply_versioned_created);
}

static void org_create(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    json_t *errs = NULL;
    validate_org(req->json, "", &errs);
    if (api_errors_or_reply(req, errs)) return;
    codes_then(req, req->json, "", org_create_send);
}

static void org_update_send(http_req_t *req);

static void org_update(http_req_t *req)
{
    const char *id, *ifm;
    if (id_or_reply(req, &id) || api_body_or_reply(req) || api_if_match_or_reply(req, &ifm)) return;
    json_t *errs = NULL;
    validate_org(req->json, "", &errs);
    if (api_errors_or_reply(req, errs)) return;
    /* a member's change of org_type or region_code is 403 in org_update before
     * its codes are checked: only an administrator's is checked here */
    if (req->user->role & ROLE_ADMIN) codes_then(req, req->json, "", org_update_send);
    else
        org_update_send(req);
}

static void org_update_send(http_req_t *req)
{
    const char *id, *ifm;
    if (id_or_reply(req, &id) || api_if_match_or_reply(req, &ifm)) return;
    bool full = req->user->role & ROLE_ADMIN;
    const char *v[7] = {api_actor(req),         req->request_id, id, org_scope(req), ifm, api_json_text(req, req->json),
                        full ? "true" : "false"};
    api_query(req, ST_ORG_UPDATE, 7, v, api_reply_versioned_ok);
}

static void org_verify(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id) || api_body_or_reply(req)) return;
    const char *v[5] = {api_actor(req), req->request_id, id, api_str(req, "decision"), api_str(req, "note")};
    api_query(req, ST_ORG_VERIFY, 5, v, api_reply_versioned_ok);
}

/* --- invitations ---------------------------------------------------------------- */

static void invite_done(http_req_t *req, PGresult *res)
{
    /* The code is shown once, here; only its hash is stored. */
    json_error_t err;
    json_t *o = json_loads(PQgetvalue(res, 0, 0), 0, &err);
    json_object_set_new(o, "code", json_string((const char *)req->ctx));
    http_add_header(req, "Cache-Control", "no-store");
    http_reply_json_t(req, 201, o);
}

static void hash_hex(const char *s, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), md);
    util_hex(md, sizeof md, out);
}

static void invite(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id) || api_body_or_reply(req)) return;
    const char *code = api_random_token_or_reply(req, "inv_", 15);
    if (!code) return;
    req->ctx = (void *)code;
    char *h = arena_alloc(req->arena, 65);
    hash_hex(code, h);
    json_t *mu = json_object_get(req->json, "max_uses");
    const char *max_uses = mu ? arena_printf(req->arena, "%lld", (long long)json_integer_value(mu)) : "1";
    const char *role = api_str(req, "role");
    const char *v[7] = {api_actor(req), req->request_id, id, org_scope(req), h, role ? role : "member", max_uses};
    api_query(req, ST_INVITE, 7, v, invite_done);
}

/* --- registration ------------------------------------------------------------------ */

typedef struct {
    http_req_t *req;
    char *password;
    char hash[PASSWORD_HASH_MAX];
    int rc;
    void (*then)(http_req_t *req, const char *hash);
} hashjob_t;

static void hash_work(void *arg)
{
    hashjob_t *j = arg;
    j->rc = password_hash(j->password, j->hash);
}

static void hash_done(void *arg)
{
    hashjob_t *j = arg;
    if (j->rc != 0) {
        http_problem(j->req, 500, "could not store the password", NULL);
        return;
    }
    j->then(j->req, j->hash);
}

/* The body's password hashed on the hashing pool, then then(req, hash) on
 * this worker (500 when hashing failed); 503 with busy when the pool's queue
 * is full. */
static void hash_then(http_req_t *req, void (*then)(http_req_t *req, const char *hash), const char *busy)
{
    hashjob_t *j = arena_calloc(req->arena, sizeof *j);
    j->req = req;
    j->password = arena_strdup(req->arena, api_str(req, "password"));
    j->then = then;
    if (pool_submit(req->worker, hash_work, hash_done, j) != 0) http_problem(req, 503, busy, NULL);
}

static void register_hashed(http_req_t *req, const char *hash)
{
    json_t *org = json_object_get(req->json, "org");
    const char *invite = api_str(req, "invitation_code");
    char *ih = NULL;
    if (invite) {
        ih = arena_alloc(req->arena, 65);
        hash_hex(invite, ih);
    }
    const char *v[6] = {req->request_id,
                        api_str(req, "email"),
                        api_str(req, "display_name"),
                        hash,
                        org ? api_json_text(req, org) : NULL,
                        ih};
    api_query(req, ST_REGISTER, 6, v, api_reply_row_json_created);
}

static void register_hash(http_req_t *req)
{
    hash_then(req, register_hashed, "too many sign-ups at once; try again shortly");
}

static void register_rated(http_req_t *req, PGresult *res)
{
    if (api_rate_limited_or_reply(req, PQgetvalue(res, 0, 0),
                                  "too many registrations from this address; try again later"))
        return;
    /* a new org's codes (auth_register → org_insert), after the rate limit
     * counted this attempt and before the password is hashed for nothing */
    codes_then(req, json_object_get(req->json, "org"), "org.", register_hash);
}

static void register_user(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    json_t *errs = NULL, *org = json_object_get(req->json, "org");
    const char *invite = api_str(req, "invitation_code");
    if (!org == !invite) {
        http_error_add(&errs, org ? "invitation_code" : "org", "one_of",
                       "give either org (to register a new organisation) or invitation_code (to join one)");
        http_problem(req, 422, "give either org or invitation_code", errs);
        return;
    }
    if (org) {
        /* the nested object gets the same unknown-field, type and required rules */
        if (api_fields_check(org, "org.", ORG_FIELDS, ARRAY_LEN(ORG_FIELDS), &errs) == 400) {
            http_problem(req, 400, "the request body has unknown or mistyped fields", errs);
            return;
        }
        validate_org(org, "org.", &errs);
    }
    const char *email = api_str(req, "email");
    api_check(&errs, "email", v_email(email));
    const char *why = password_policy_error(api_str(req, "password"));
    if (why) http_error_add(&errs, "password", "weak_password", why);
    check_text(req->json, "", "display_name", 100, true, &errs);
    if (api_errors_or_reply(req, errs)) return;
    const char *v[1] = {http_client_ip(req)};
    api_query(req, ST_REGISTER_RATE, 1, v, register_rated);
}

/* --- password change ------------------------------------------------------------------ */

typedef struct {
    http_req_t *req;
    char *current, *next, *stored;
    char hash[PASSWORD_HASH_MAX];
    bool ok;
} pwjob_t;

static void pw_work(void *arg)
{
    pwjob_t *j = arg;
    j->ok = password_verify(j->current, j->stored) && password_hash(j->next, j->hash) == 0;
}

static void pw_checked(void *arg)
{
    pwjob_t *j = arg;
    http_req_t *req = j->req;
    if (!j->ok) {
        json_t *e = NULL;
        http_error_add(&e, "current_password", "wrong_password", "the current password is wrong");
        http_problem(req, 422, "the current password is wrong", e);
        return;
    }
    const char *v[4] = {api_actor(req), req->request_id, api_actor(req), j->hash};
    api_query(req, ST_PW_SET, 4, v, api_reply_no_content);
}

static void pw_loaded(http_req_t *req, PGresult *res)
{
    pwjob_t *j = req->ctx;
    j->stored = arena_strdup(req->arena, PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    if (pool_submit(req->worker, pw_work, pw_checked, j) != 0) http_problem(req, 503, "busy; try again shortly", NULL);
}

static void password_change(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    const char *why = password_policy_error(api_str(req, "new_password"));
    if (why) {
        json_t *e = NULL;
        http_error_add(&e, "new_password", "weak_password", why);
        http_problem(req, 422, "the new password is too weak", e);
        return;
    }
    pwjob_t *j = arena_calloc(req->arena, sizeof *j);
    j->req = req;
    j->current = arena_strdup(req->arena, api_str(req, "current_password"));
    j->next = arena_strdup(req->arena, api_str(req, "new_password"));
    req->ctx = j;
    const char *v[1] = {api_actor(req)};
    api_query(req, ST_PW_GET, 1, v, pw_loaded);
}

/* --- users (admin) ------------------------------------------------------------------------ */

/* A user's role, when the body gives one: one of the six names. */
static void check_role(const char *role, json_t **errs)
{
    if (role && !role_from_name(role))
        http_error_add(errs, "role", "invalid", "role must be member, broker, reviewer, officer, bureau or admin");
}

static void validate_user(http_req_t *req, json_t **errs)
{
    json_t *b = req->json;
    const char *email = api_str(req, "email");
    api_check(errs, "email", v_email(email));
    const char *role = api_str(req, "role");
    check_role(role, errs);
    int r = role ? role_from_name(role) : 0;
    if ((r & (ROLE_MEMBER | ROLE_BROKER)) && json_is_null(json_object_get(b, "org_id")))
        http_error_add(errs, "org_id", "required", "members and brokers belong to an organisation");
    if ((r & ROLE_OFFICER) && json_is_null(json_object_get(b, "office_id")))
        http_error_add(errs, "office_id", "required", "an officer belongs to a registry office");
    if ((r & ROLE_BUREAU) && json_is_null(json_object_get(b, "region_code")))
        http_error_add(errs, "region_code", "required", "a bureau user is scoped to a region");
    check_text(b, "", "display_name", 100, true, errs);
}

static void user_hashed(http_req_t *req, const char *hash)
{
    json_t *b = json_deep_copy(req->json);
    json_object_del(b, "password");
    const char *body = api_json_text(req, b);
    json_decref(b);
    const char *v[4] = {api_actor(req), req->request_id, body, hash};
    api_query(req, ST_USER_CREATE, 4, v, api_reply_versioned_created);
}

static void user_hash(http_req_t *req)
{
    hash_then(req, user_hashed, "busy; try again shortly");
}

static void user_create(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    json_t *errs = NULL;
    /* missing ids count as null for the role rules */
    static const char *const IDS[] = {"org_id", "office_id", "region_code"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(req->json, IDS[i])) json_object_set_new(req->json, IDS[i], json_null());
    validate_user(req, &errs);
    const char *why = password_policy_error(api_str(req, "password"));
    if (why) http_error_add(&errs, "password", "weak_password", why);
    if (api_errors_or_reply(req, errs)) return;
    codes_then(req, req->json, "", user_hash);
}

static void user_update_send(http_req_t *req);

static void user_update(http_req_t *req)
{
    const char *id, *ifm;
    if (id_or_reply(req, &id) || api_body_or_reply(req) || api_if_match_or_reply(req, &ifm)) return;
    json_t *errs = NULL;
    check_role(api_str(req, "role"), &errs);
    check_text(req->json, "", "display_name", 100, true, &errs);
    if (api_errors_or_reply(req, errs)) return;
    codes_then(req, req->json, "", user_update_send);
}

static void user_update_send(http_req_t *req)
{
    const char *id, *ifm;
    if (id_or_reply(req, &id) || api_if_match_or_reply(req, &ifm)) return;
    const char *v[5] = {api_actor(req), req->request_id, id, ifm, api_json_text(req, req->json)};
    api_query(req, ST_USER_UPDATE, 5, v, api_reply_versioned_ok);
}

static void user_list(http_req_t *req)
{
    const char *limit, *after, *role, *q, *active;
    if (api_page_or_reply(req, &limit, &after) || http_query_or_reply(req, "role", &role) ||
        api_search_text_or_reply(req, &q) || http_query_or_reply(req, "active", &active))
        return;
    if (active && strcmp(active, "true") && strcmp(active, "false")) {
        api_bad_param(req, "active", "invalid", "active must be true or false");
        return;
    }
    const char *v[5] = {role, after, limit, q, active};
    api_query(req, ST_USER_LIST, 5, v, api_reply_page);
}

static void user_get(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id)) return;
    const char *v[1] = {id};
    api_query(req, ST_USER_GET, 1, v, api_reply_versioned_ok);
}

/* --- registry offices ---------------------------------------------------------------- */

static void office_list(http_req_t *req)
{
    api_query(req, ST_OFFICE_LIST, 0, NULL, api_reply_row_json);
}

static void office_create_send(http_req_t *req)
{
    const char *v[3] = {api_actor(req), req->request_id, api_json_text(req, req->json)};
    api_query(req, ST_OFFICE_CREATE, 3, v, api_reply_versioned_created);
}

static void office_create(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    json_t *errs = NULL;
    check_text(req->json, "", "name", 200, true, &errs);
    if (api_errors_or_reply(req, errs)) return;
    codes_then(req, req->json, "", office_create_send);
}

static void office_update_send(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id)) return;
    const char *v[4] = {api_actor(req), req->request_id, id, api_json_text(req, req->json)};
    api_query(req, ST_OFFICE_UPDATE, 4, v, api_reply_versioned_ok);
}

static void office_update(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id) || api_body_or_reply(req)) return;
    codes_then(req, req->json, "", office_update_send);
}

static route_t ROUTES[] = {
    {HTTP_POST, "/api/v1/auth/register", register_user, ROUTE_JSON_BODY, 0},
    {HTTP_POST, "/api/v1/me/password", password_change, ROUTE_JSON_BODY, ROLE_ANY},
    {HTTP_GET, "/api/v1/orgs", org_list, 0, ROLE_ANY},
    {HTTP_POST, "/api/v1/orgs", org_create, ROUTE_JSON_BODY, ROLE_ADMIN},
    {HTTP_GET, "/api/v1/orgs/directory", org_directory, 0, ROLE_ANY}, /* before /orgs/{id} */
    {HTTP_GET, "/api/v1/orgs/{id}", org_get, 0, ROLE_ANY},
    {HTTP_PATCH, "/api/v1/orgs/{id}", org_update, ROUTE_JSON_BODY, ROLE_MEMBER | ROLE_ADMIN},
    {HTTP_POST, "/api/v1/orgs/{id}/verify", org_verify, ROUTE_JSON_BODY, ROLE_REVIEWER | ROLE_ADMIN},
    {HTTP_POST, "/api/v1/orgs/{id}/invitations", invite, 0, ROLE_MEMBER | ROLE_ADMIN},
    {HTTP_GET, "/api/v1/users", user_list, 0, ROLE_ADMIN},
    {HTTP_POST, "/api/v1/users", user_create, ROUTE_JSON_BODY, ROLE_ADMIN},
    {HTTP_GET, "/api/v1/users/{id}", user_get, 0, ROLE_ADMIN},
    {HTTP_PATCH, "/api/v1/users/{id}", user_update, ROUTE_JSON_BODY, ROLE_ADMIN},
    {HTTP_GET, "/api/v1/offices", office_list, 0, 0},
    {HTTP_POST, "/api/v1/offices", office_create, ROUTE_JSON_BODY, ROLE_ADMIN},
    {HTTP_PATCH, "/api/v1/offices/{id}", office_update, ROUTE_JSON_BODY, ROLE_ADMIN},
};

void api_accounts_init(void)
{
    ST_ORG_LIST = db_stmt_register_read(
        api_page_sql(
            "SELECT o.id, org_json(o) AS j FROM orgs o WHERE ($1::bigint IS NULL OR o.id = $1::bigint)"
            " AND ($2::text IS NULL OR o.verification_status = $2) AND ($3::text IS NULL OR strpos(o.name, $3) > 0"
            " OR o.credit_code = upper($3)) AND ($4::bigint IS NULL OR o.id < $4::bigint) ORDER BY o.id DESC",
            5),
        5);
    ST_ORG_DIRECTORY = db_stmt_register_read(
        api_list_sql(
            "json_agg(j ORDER BY rank, len, id)", "",
            "FROM (SELECT o.id, CASE WHEN o.credit_code = upper($1) THEN 0 WHEN starts_with(o.name, $1) THEN 1 ELSE 2"
            " END AS rank, length(o.name) AS len, json_build_object('id', o.id, 'name', o.name,"
            " 'org_type', o.org_type, 'org_type_label', (SELECT label FROM codes WHERE list = 'org_types'"
            " AND code = o.org_type), 'region_code', o.region_code, 'region_name', (SELECT name"
            " FROM regions WHERE code = o.region_code), 'credit_code', o.credit_code) AS j"
            " FROM orgs o WHERE o.verification_status = 'verified' AND (strpos(o.name, $1) > 0"
            " OR o.credit_code = upper($1)) ORDER BY rank, len, o.id LIMIT $2::int) hits"),
        2);
    ST_ORG_GET = db_stmt_register_read(
        "SELECT org_json(o)::text FROM orgs o WHERE o.id = $1::bigint AND ($2::bigint IS NULL OR o.id = $2::bigint)",
        2);
    ST_ORG_CREATE = db_stmt_register("SELECT org_create($1::bigint, $2, $3::jsonb)", 3);
    ST_ORG_UPDATE = db_stmt_register(
        "SELECT org_update($1::bigint, $2, $3::bigint, $4::bigint, $5::int, $6::jsonb, $7::boolean)", 7);
    ST_ORG_VERIFY = db_stmt_register("SELECT org_verify($1::bigint, $2, $3::bigint, $4, $5)", 5);
    ST_INVITE = db_stmt_register("SELECT invitation_create($1::bigint, $2, $3::bigint, $4::bigint, $5, $6, $7::int)",
                                 7);
    ST_REGISTER_RATE = db_stmt_register("SELECT rate_hit('register_limit_per_ip', $1)", 1);
    ST_REGISTER = db_stmt_register("SELECT auth_register($1, $2, $3, $4, $5::jsonb, $6)", 6);
    ST_USER_LIST = db_stmt_register_read(
        api_page_sql(
            "SELECT u.id, user_json(u) AS j FROM users u WHERE ($1::text IS NULL OR u.role = $1)"
            " AND ($4::text IS NULL OR strpos(lower(u.email), lower($4)) > 0 OR strpos(u.display_name, $4) > 0)"
            " AND ($5::boolean IS NULL OR u.active = $5::boolean)"
            " AND ($2::bigint IS NULL OR u.id < $2::bigint) ORDER BY u.id DESC",
            3),
        5);
    ST_USER_GET = db_stmt_register_read("SELECT user_json(u)::text FROM users u WHERE u.id = $1::bigint", 1);
    ST_USER_CREATE = db_stmt_register("SELECT user_create($1::bigint, $2, $3::jsonb, $4)", 4);
    ST_USER_UPDATE = db_stmt_register("SELECT user_update($1::bigint, $2, $3::bigint, $4::int, $5::jsonb)", 5);
    ST_OFFICE_LIST = db_stmt_register_read(
        api_list_sql("json_agg(office_json(f) ORDER BY f.id)", "", "FROM registry_offices f"), 0);
    ST_OFFICE_CREATE = db_stmt_register("SELECT office_create($1::bigint, $2, $3::jsonb)", 3);
    ST_OFFICE_UPDATE = db_stmt_register("SELECT office_update($1::bigint, $2, $3::bigint, $4::jsonb)", 4);
    ST_PW_GET = db_stmt_register_read("SELECT password_hash FROM users WHERE id = $1::bigint", 1);
    ST_PW_SET = db_stmt_register("SELECT user_set_password($1::bigint, $2, $3::bigint, $4)", 4);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
