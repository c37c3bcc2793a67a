/* jwt.c — the libjwt wrapper.  The header is checked before libjwt sees the
 * token: it must be exactly a JSON object whose alg is "HS256" (typ "JWT" if
 * present, nothing else).  That closes alg=none/None, RS/HS confusion and
 * empty-key tricks whatever libjwt does with them. */
#include "auth/auth.h"

#include "util/util.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISSUER "yizhan"
#define AUDIENCE "yizhan-api"
#define LEEWAY 30

static unsigned char *g_secret;
static size_t g_secret_len;

int auth_load_secret(const char *path)
{
    if (!path || !*path) {
        fprintf(stderr, "yizhan: YIZHAN_JWT_SECRET_FILE is not set; it must name a file of at least 32 random bytes\n");
        return -1;
    }
    size_t len;
    char *data = util_read_file(path, 4096, &len);
    if (!data) {
        fprintf(stderr, "yizhan: cannot read YIZHAN_JWT_SECRET_FILE=%s: %s\n", path, strerror(errno));
        return -1;
    }
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r')) len--;
    if (len < 32) {
        fprintf(stderr, "yizhan: YIZHAN_JWT_SECRET_FILE=%s holds %zu bytes; at least 32 are required\n", path, len);
        free(data);
        return -1;
    }
    g_secret = (unsigned char *)data;
    g_secret_len = len;
    return 0;
}

char *jwt_issue(int64_t user_id, long now)
{
    jwt_t *j = NULL;
    char *out = NULL;
    if (jwt_new(&j) != 0) return NULL;
    unsigned char rnd[16];
    char jti[32], sub[24];
    if (util_random_bytes(rnd, sizeof rnd) != 0) goto done;
    util_b64url_encode(rnd, sizeof rnd, jti);
    snprintf(sub, sizeof sub, "%lld", (long long)user_id);
    if (jwt_add_grant(j, "iss", ISSUER) || jwt_add_grant(j, "aud", AUDIENCE) || jwt_add_grant(j, "sub", sub) ||
        jwt_add_grant_int(j, "iat", now) || jwt_add_grant_int(j, "nbf", now) ||
        jwt_add_grant_int(j, "exp", now + ACCESS_TOKEN_TTL) || jwt_add_grant(j, "jti", jti) ||
        jwt_set_alg(j, JWT_ALG_HS256, g_secret, (int)g_secret_len))
        goto done;
    out = jwt_encode_str(j);
done:
    jwt_free(j);
    return out;
}

static int header_ok(const char *token)
{
    const char *dot = strchr(token, '.');
    if (!dot || dot == token || dot - token > 512) return 0;
    unsigned char raw[400];
    long n = util_b64url_decode(token, (size_t)(dot - token), raw);
    if (n <= 0) return 0;
    json_t *h = json_loadb((const char *)raw, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    int ok = 0;
    if (json_is_object(h)) {
        const char *k;
        json_t *v;
        ok = 1;
        int has_alg = 0;
        json_object_foreach(h, k, v) {
            if (!strcmp(k, "alg") && json_is_string(v) && !strcmp(json_string_value(v), "HS256")) has_alg = 1;
            else if (!strcmp(k, "typ") && json_is_string(v) && !strcmp(json_string_value(v), "JWT"))
                ;
            else
                ok = 0;
        }
        ok = ok && has_alg;
    }
    json_decref(h);
    return ok;
}

int jwt_check(const char *token, long now, int64_t *user_id, long *iat_out, const char **why)
{
    size_t len = strlen(token);
    int dots = 0;
    for (size_t i = 0; i < len; i++)
        if (token[i] == '.') dots++;
    if (len > 2048 || dots != 2) return *why = "malformed token", -1;
    if (!header_ok(token)) return *why = "unsupported token algorithm", -1;
    jwt_t *j = NULL;
    if (jwt_decode(&j, token, g_secret, (int)g_secret_len) != 0 || !j) return *why = "invalid token signature", -1;
    int rc = -1;
    if (jwt_get_alg(j) != JWT_ALG_HS256) {
        *why = "unsupported token algorithm";
        goto done;
    }
    const char *iss = jwt_get_grant(j, "iss"), *aud = jwt_get_grant(j, "aud"), *sub = jwt_get_grant(j, "sub"),
               *jti = jwt_get_grant(j, "jti");
    errno = 0;
    long exp = jwt_get_grant_int(j, "exp");
    if (errno) {
        *why = "token has no expiry";
        goto done;
    }
    long iat = jwt_get_grant_int(j, "iat");
    if (errno) {
        *why = "token has no issue time";
        goto done;
    }
    long nbf = jwt_get_grant_int(j, "nbf");
    if (errno) nbf = iat, errno = 0;
    if (!iss || strcmp(iss, ISSUER)) {
        *why = "wrong token issuer";
        goto done;
    }
    if (!aud || strcmp(aud, AUDIENCE)) {
        *why = "wrong token audience";
        goto done;
    }
    if (!jti || !*jti) {
        *why = "token has no id";
        goto done;
    }
    if (exp <= now - LEEWAY || exp - iat > ACCESS_TOKEN_TTL + LEEWAY) {
        *why = "token expired";
        goto done;
    }
    if (iat > now + LEEWAY || nbf > now + LEEWAY) {
        *why = "token not yet valid";
        goto done;
    }
    uint64_t uid;
    if (!sub || util_parse_u64(sub, strlen(sub), &uid) != 0 || uid == 0) {
        *why = "token has no subject";
        goto done;
    }
    *user_id = (int64_t)uid;
    *iat_out = iat;
    rc = 0;
done:
    jwt_free(j);
    return rc;
}

static const char *const ROLE_NAMES[] = {"member", "broker", "reviewer", "officer", "bureau", "admin"};

int role_from_name(const char *name)
{
    for (int i = 0; i < 6; i++)
        if (!strcmp(name, ROLE_NAMES[i])) return 1 << i;
    return 0;
}

const char *role_name(int role)
{
    for (int i = 0; i < 6; i++)
        if (role == 1 << i) return ROLE_NAMES[i];
    return "?";
}

void auth_hmac(const char *domain, const void *data, size_t n, unsigned char out[32])
{
    /* Domain-separated from token signatures: HMAC(secret, domain || 0 || data). */
    size_t dl = strlen(domain);
    unsigned char *msg = malloc(dl + 1 + n);
    memcpy(msg, domain, dl + 1);
    memcpy(msg + dl + 1, data, n);
    unsigned int len = 32;
    HMAC(EVP_sha256(), g_secret, (int)g_secret_len, msg, dl + 1 + n, out, &len);
    free(msg);
}
