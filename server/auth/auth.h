/* auth.h — tokens, roles and the signed-in user.
 *
 * Access tokens are HS256 JWTs made and checked through libjwt, wrapped so
 * that only HS256 with our secret is ever accepted (libjwt 1.10 takes the
 * algorithm from the token and checks no claims) and every claim is checked:
 * iss, aud, sub, exp, iat, nbf, jti.  Roles are never read from a token: the
 * user row is loaded for every authenticated request. */
#ifndef YZ_AUTH_H
#define YZ_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    ROLE_MEMBER = 1 << 0,
    ROLE_BROKER = 1 << 1,
    ROLE_REVIEWER = 1 << 2,
    ROLE_OFFICER = 1 << 3,
    ROLE_BUREAU = 1 << 4,
    ROLE_ADMIN = 1 << 5,
    ROLE_ANY = (1 << 6) - 1,
};

typedef struct auth_user {
    int64_t id;
    int role;          /* one ROLE_* bit */
    int64_t org_id;    /* 0 if none */
    int64_t office_id; /* 0 if none */
    char region[8];    /* "" if none */
    char id_str[24];
} auth_user_t;

#define ACCESS_TOKEN_TTL 900

int auth_load_secret(const char *path) __attribute__((warn_unused_result));
/* Make an access token for user_id; returns malloc'd string or NULL. */
char *jwt_issue(int64_t user_id, long now);
/* Verify token; 0 and user_id, iat on success, -1 (with *why) otherwise. */
int jwt_check(const char *token, long now, int64_t *user_id, long *iat, const char **why);
int role_from_name(const char *name);
/* HMAC-SHA256 under the server secret, separated by domain (e.g. "cursor"). */
void auth_hmac(const char *domain, const void *data, size_t n, unsigned char out[32]);
const char *role_name(int role);

#endif
