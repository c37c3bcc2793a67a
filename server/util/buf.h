/* buf.h — growable byte buffer (heap-backed, caller frees with buf_free). */
#ifndef YZ_BUF_H
#define YZ_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data; /* NUL-terminated when len > 0 or after buf_cstr */
    size_t len; /* bytes used, excluding the terminator */
    size_t cap; /* bytes allocated */
} buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);
void buf_reserve(buf_t *b, size_t extra);
void buf_append(buf_t *b, const void *p, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_putc(buf_t *b, char c);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, quotes included (s must be valid UTF-8). */
void buf_json_str(buf_t *b, const char *s);
void buf_json_strn(buf_t *b, const char *s, size_t n);
const char *buf_cstr(buf_t *b);

#endif
