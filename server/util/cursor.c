/* cursor.c — see cursor.h. */
#include "util/cursor.h"

#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static void cursor_mac(const char *scope, const char *key, size_t kl, cursor_mac_fn mac, unsigned char out[32])
{
    size_t sl = strlen(scope);
    char stack[512];
    char *msg = sl + 1 + kl <= sizeof stack ? stack : malloc(sl + 1 + kl);
    if (!msg) abort();
    memcpy(msg, scope, sl); /* NOLINT(bugprone-not-null-terminated-result): bytes to sign, not a string */
    msg[sl] = '\n';
    memcpy(msg + sl + 1, key, kl);
    mac(msg, sl + 1 + kl, out);
    if (msg != stack) free(msg);
}

size_t cursor_encode(const char *scope, const char *key, size_t kl, cursor_mac_fn mac, char *out)
{
    if (kl == 0 || kl > CURSOR_KEY_MAX || memchr(key, '\0', kl) || !util_utf8_valid(key, kl)) {
        out[0] = '\0';
        return 0;
    }
    unsigned char m[32];
    cursor_mac(scope, key, kl, mac, m);
    size_t n = util_b64url_encode((const unsigned char *)key, kl, out);
    out[n++] = '.';
    n += util_b64url_encode(m, 12, out + n);
    out[n] = '\0';
    return n;
}

long cursor_decode(const char *scope, const char *c, size_t n, cursor_mac_fn mac, char *out)
{
    const char *dot = memchr(c, '.', n);
    if (!dot || dot == c || (size_t)(dot - c) > CURSOR_ENCODED_MAX(CURSOR_KEY_MAX)) return -1;
    long kl = util_b64url_decode(c, (size_t)(dot - c), (unsigned char *)out);
    if (kl <= 0 || kl > CURSOR_KEY_MAX) return -1;
    out[kl] = '\0';
    /* the one encoding of this key under this scope, compared whole */
    char want[CURSOR_ENCODED_MAX(CURSOR_KEY_MAX)];
    size_t wl = cursor_encode(scope, out, (size_t)kl, mac, want);
    if (wl == 0 || wl != n || memcmp(want, c, n) != 0) return -1;
    return kl;
}
