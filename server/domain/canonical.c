/* canonical.c — RFC 8785: object members sorted by their names' UTF-16 code
 * units, no insignificant whitespace, strings with the minimal escapes
 * (\" \\ \b \f \n \r \t, other controls as \u00xx lower-case), integers in
 * shortest decimal form. */
#include "domain/canonical.h"

#include "util/util.h"

#include <stdlib.h>
#include <string.h>

/* Compare two UTF-8 strings by UTF-16 code units.  Code points below U+10000
 * order the same either way; a supplementary character is a surrogate pair
 * (0xD800..) and so sorts before U+E000..U+FFFF, unlike in UTF-8. */
static unsigned next_unit(const unsigned char **p, unsigned *pending)
{
    if (*pending) {
        unsigned u = *pending;
        *pending = 0;
        return u;
    }
    const unsigned char *s = *p;
    unsigned cp;
    if (s[0] < 0x80) cp = s[0], *p += 1;
    else if (s[0] < 0xE0)
        cp = (unsigned)(s[0] & 0x1F) << 6 | (s[1] & 0x3F), *p += 2;
    else if (s[0] < 0xF0)
        cp = (unsigned)(s[0] & 0x0F) << 12 | (unsigned)(s[1] & 0x3F) << 6 | (s[2] & 0x3F), *p += 3;
    else {
        cp = (unsigned)(s[0] & 0x07) << 18 | (unsigned)(s[1] & 0x3F) << 12 | (unsigned)(s[2] & 0x3F) << 6 |
             (s[3] & 0x3F);
        *p += 4;
        cp -= 0x10000;
        *pending = 0xDC00 + (cp & 0x3FF);
        return 0xD800 + (cp >> 10);
    }
    return cp;
}

static int cmp_utf16(const char *a, const char *b)
{
    const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
    unsigned qa = 0, qb = 0;
    for (;;) {
        if (!*pa && !qa) return (*pb || qb) ? -1 : 0;
        if (!*pb && !qb) return 1;
        unsigned ua = next_unit(&pa, &qa), ub = next_unit(&pb, &qb);
        if (ua != ub) return ua < ub ? -1 : 1;
    }
}

static int cmp_keys(const void *a, const void *b)
{
    return cmp_utf16(*(const char *const *)a, *(const char *const *)b);
}

static int put_string(const char *s, size_t n, buf_t *out)
{
    if (!util_utf8_valid(s, n) || memchr(s, '\0', n)) return -1;
    static const char hex[] = "0123456789abcdef";
    buf_putc(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': buf_puts(out, "\\\""); break;
        case '\\': buf_puts(out, "\\\\"); break;
        case '\b': buf_puts(out, "\\b"); break;
        case '\f': buf_puts(out, "\\f"); break;
        case '\n': buf_puts(out, "\\n"); break;
        case '\r': buf_puts(out, "\\r"); break;
        case '\t': buf_puts(out, "\\t"); break;
        default:
            if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                buf_append(out, e, 6);
            } else {
                buf_putc(out, (char)c);
            }
        }
    }
    buf_putc(out, '"');
    return 0;
}

static int emit(const json_t *v, buf_t *out, int depth)
{
    if (depth > 32) return -1;
    switch (json_typeof(v)) {
    case JSON_NULL: buf_puts(out, "null"); return 0;
    case JSON_TRUE: buf_puts(out, "true"); return 0;
    case JSON_FALSE: buf_puts(out, "false"); return 0;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        /* beyond 2^53 a JCS number would lose precision in other readers */
        if (i > 9007199254740991LL || i < -9007199254740991LL) return -1;
        buf_printf(out, "%lld", (long long)i);
        return 0;
    }
    case JSON_REAL: return -1;
    case JSON_STRING: return put_string(json_string_value(v), json_string_length(v), out);
    case JSON_ARRAY: {
        buf_putc(out, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) buf_putc(out, ',');
            if (emit(json_array_get(v, i), out, depth + 1) != 0) return -1;
        }
        buf_putc(out, ']');
        return 0;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(v), k = 0;
        const char **keys = malloc(sizeof(char *) * (n ? n : 1));
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val) keys[k++] = key;
        qsort(keys, n, sizeof *keys, cmp_keys);
        buf_putc(out, '{');
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (i) buf_putc(out, ',');
            rc = put_string(keys[i], strlen(keys[i]), out);
            buf_putc(out, ':');
            if (rc == 0) rc = emit(json_object_get(v, keys[i]), out, depth + 1);
        }
        buf_putc(out, '}');
        free(keys);
        return rc;
    }
    }
    return -1;
}

int canonical_json(const json_t *v, buf_t *out)
{
    return emit(v, out, 0);
}
