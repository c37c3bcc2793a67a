/* util.h — small helpers shared by every layer. */
#ifndef YZ_UTIL_H
#define YZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#define WUR __attribute__((warn_unused_result))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

uint64_t util_now_ns(void);        /* CLOCK_MONOTONIC */
struct timeval util_tv_ms(int ms); /* a duration in ms as a timeval (libevent timeouts) */
int64_t util_wall_ms(void);        /* CLOCK_REALTIME in ms */
/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF). */
bool util_utf8_valid(const char *s, size_t n);
/* JSON text nests objects/arrays at most max deep (strings are skipped).
 * A cheap pre-check before a recursive parser sees hostile input. */
bool util_json_depth_ok(const char *s, size_t n, int max);
/* True when valid UTF-8 s holds a bidirectional embedding, override or
 * isolate control (U+202A–U+202E, U+2066–U+2069): "Trojan Source" text that
 * displays in another order than it reads. */
bool util_has_bidi_control(const char *s, size_t n);
/* Number of Unicode code points in valid UTF-8. */
size_t util_utf8_len(const char *s, size_t n);
/* Parse a non-negative decimal made only of digits; -1 on anything else or overflow. */
WUR int util_parse_u64(const char *s, size_t n, uint64_t *out);
/* A calendar date written YYYY-MM-DD (exactly), a day that exists; the parts
 * go to *y, *m, *d (any may be NULL).  Callers bound the year. */
bool util_date_parse(const char *s, int *y, int *m, int *d);
/* base64url without padding. out must hold 4*((n+2)/3)+1 bytes. Returns length. */
size_t util_b64url_encode(const unsigned char *in, size_t n, char *out);
/* Returns decoded length or -1. out must hold n*3/4+3 bytes. */
long util_b64url_decode(const char *in, size_t n, unsigned char *out);
void util_hex(const unsigned char *in, size_t n, char *out); /* out: 2n+1 */
/* Read a whole file (≤ max bytes). Returns malloc'd buffer (NUL-terminated) or NULL. */
char *util_read_file(const char *path, size_t max, size_t *len);
int util_random_bytes(unsigned char *out, size_t n) WUR;

#endif
