/* password.c — see password.h. */
#include "auth/password.h"

#include "util/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SALT_LEN 16
#define DK_LEN 32

static int derive(const char *pw, const unsigned char *salt, size_t salt_len, long iter, unsigned char *dk)
{
    return PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)salt_len, (int)iter, EVP_sha256(), DK_LEN, dk) == 1 ? 0
                                                                                                                 : -1;
}

static long g_iterations = PASSWORD_ITERATIONS;

void password_set_iterations(long iterations)
{
    if (iterations >= 1000 && iterations <= 10000000) g_iterations = iterations;
}

int password_hash(const char *password, char out[PASSWORD_HASH_MAX])
{
    unsigned char salt[SALT_LEN], dk[DK_LEN];
    if (util_random_bytes(salt, sizeof salt) != 0 || derive(password, salt, sizeof salt, g_iterations, dk) != 0)
        return -1;
    char s64[32], d64[48];
    util_b64url_encode(salt, sizeof salt, s64);
    util_b64url_encode(dk, sizeof dk, d64);
    snprintf(out, PASSWORD_HASH_MAX, "pbkdf2-sha256$%ld$%s$%s", g_iterations, s64, d64);
    return 0;
}

bool password_verify(const char *password, const char *stored)
{
    char alg[32], s64[64], d64[96];
    long iter;
    if (sscanf(stored, "%31[^$]$%ld$%63[^$]$%95s", alg, &iter, s64, d64) != 4 || strcmp(alg, "pbkdf2-sha256") != 0 ||
        iter < 1000 || iter > 10000000)
        return false;
    unsigned char salt[64], want[96], got[DK_LEN];
    long sl = util_b64url_decode(s64, strlen(s64), salt);
    long wl = util_b64url_decode(d64, strlen(d64), want);
    if (sl <= 0 || wl != DK_LEN || derive(password, salt, (size_t)sl, iter, got) != 0) return false;
    return CRYPTO_memcmp(got, want, DK_LEN) == 0;
}

static char g_dummy[PASSWORD_HASH_MAX];
static pthread_once_t g_dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    unsigned char r[24];
    char pw[40];
    if (util_random_bytes(r, sizeof r) != 0 || (util_b64url_encode(r, sizeof r, pw), password_hash(pw, g_dummy)) != 0)
        abort();
}

const char *password_dummy_hash(void)
{
    pthread_once(&g_dummy_once, make_dummy);
    return g_dummy;
}

const char *password_policy_error(const char *pw)
{
    size_t n = strlen(pw);
    if (!util_utf8_valid(pw, n)) return "must be valid UTF-8";
    size_t chars = util_utf8_len(pw, n);
    if (chars < 10) return "must be at least 10 characters";
    if (chars > 128) return "must be at most 128 characters";
    return NULL;
}
