/* cursor.h — opaque keyset cursors.
 *
 * A cursor is base64url(key) '.' base64url(the first 12 bytes of a MAC over
 * scope "\n" key): the client cannot forge or alter one, and a cursor of one
 * list (scope: the route) is refused by another.  The key is text: valid
 * UTF-8 without NUL, at most CURSOR_KEY_MAX bytes.
 *
 * Pure code: the MAC is the caller's (the server's is HMAC-SHA256 with its
 * secret, domain "cursor"). */
#ifndef YZ_CURSOR_H
#define YZ_CURSOR_H

#include <stddef.h>

#define CURSOR_KEY_MAX 380

typedef void (*cursor_mac_fn)(const void *msg, size_t n, unsigned char out[32]);

/* Bytes cursor_encode() may write for a key of kl bytes (NUL included). */
#define CURSOR_ENCODED_MAX(kl) ((kl)*4 / 3 + 24)

/* Write the cursor of key (kl bytes) for scope into out (CURSOR_ENCODED_MAX(kl)
 * bytes), NUL-terminated; returns its length, or 0 when the key is not one
 * (too long, NUL, bad UTF-8). */
size_t cursor_encode(const char *scope, const char *key, size_t kl, cursor_mac_fn mac, char *out);

/* The key of cursor c (n bytes) when it is one cursor_encode() made for
 * scope: its length, the key NUL-terminated in out (at least n + 1 bytes).
 * -1 otherwise. */
long cursor_decode(const char *scope, const char *c, size_t n, cursor_mac_fn mac, char *out);

#endif
