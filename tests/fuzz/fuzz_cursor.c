/* Fuzz the keyset-cursor decoder (server/util/cursor.c): no crash; a cursor
 * accepted for a scope is exactly the one cursor_encode() makes for its key
 * (no other spelling passes), and is refused for another scope; any text key
 * survives encode → decode unchanged. */
#include "util/cursor.h"
#include "util/util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

static void mac(const void *msg, size_t n, unsigned char out[32])
{
    static const unsigned char key[] = "fuzz-secret-0123456789abcdef";
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)sizeof key - 1, msg, n, out, &len);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    const char *c = (const char *)data;
    char *out = malloc(n + 1);
    long kl = cursor_decode("/api/v1/results", c, n, mac, out);
    if (kl >= 0) {
        char again[CURSOR_ENCODED_MAX(CURSOR_KEY_MAX)];
        size_t m = cursor_encode("/api/v1/results", out, (size_t)kl, mac, again);
        if (m != n || memcmp(again, c, n) != 0) abort();
        if (cursor_decode("/api/v1/needs", c, n, mac, out) >= 0) abort();
    }
    /* the input as a key */
    if (n > 0 && n <= CURSOR_KEY_MAX && !memchr(c, '\0', n) && util_utf8_valid(c, n)) {
        char enc[CURSOR_ENCODED_MAX(CURSOR_KEY_MAX)];
        size_t m = cursor_encode("/api/v1/search", c, n, mac, enc);
        char *back = malloc(m + 1);
        if (m == 0 || cursor_decode("/api/v1/search", enc, m, mac, back) != (long)n || memcmp(back, c, n) != 0) abort();
        enc[m - 1] = enc[m - 1] == 'A' ? 'B' : 'A'; /* a MAC one character off */
        if (cursor_decode("/api/v1/search", enc, m, mac, back) >= 0) abort();
        free(back);
    }
    free(out);
    return 0;
}
