/* validate.c — see validate.h. */
#include "domain/validate.h"

#include "domain/region.h"
#include "util/util.h"

#include <string.h>

/* A verdict: the FieldError code and the message (static, shared). */
#define FAIL(c, w)                          \
    do {                                    \
        static const verdict_t v_ = {c, w}; \
        return &v_;                         \
    } while (0)

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

const verdict_t *v_date(const char *s)
{
    int y;
    if (!s || (util_date_parse(s, &y, NULL, NULL) && y >= V_DATE_MIN_YEAR && y <= V_DATE_MAX_YEAR)) return NULL;
    FAIL("invalid_date", "must be a date YYYY-MM-DD from 1990-01-01 to 2999-12-31");
}

const verdict_t *v_email(const char *s)
{
    if (!s) return NULL;
    const char *at = strchr(s, '@');
    if (at && at != s && at[1] && !strchr(at + 1, '@') && strchr(at + 1, '.') && strlen(s) <= 254 &&
        !strpbrk(s, " \t\r\n"))
        return NULL;
    FAIL("invalid_format", "must be an email address");
}

const verdict_t *v_code(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    if (n >= 1 && n <= 40 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n) return NULL;
    FAIL("invalid_format", "must be a code of its code list (lower-case letters, digits, _)");
}

const verdict_t *v_bool(const char *s)
{
    if (!s || !strcmp(s, "true") || !strcmp(s, "false")) return NULL;
    FAIL("invalid", "true or false");
}

const verdict_t *v_region(const char *s)
{
    if (!s || region_code_ok(s)) return NULL;
    FAIL("invalid_format", "must be a six-digit GB/T 2260 region code");
}

const verdict_t *v_org_type(const char *s)
{
    if (!s || (strlen(s) == 3 && digits(s, 3))) return NULL;
    FAIL("invalid_format", "must be a three-digit code of list org_types");
}

const verdict_t *v_id(const char *s, uint64_t *out)
{
    uint64_t v;
    if (!s) return NULL;
    if (util_parse_u64(s, strlen(s), &v) == 0 && v >= 1 && v < V_ID_LIMIT) {
        if (out) *out = v;
        return NULL;
    }
    FAIL("invalid_format", "must be an id (a whole number from 1)");
}

bool v_is_id(const char *s)
{
    return s && !v_id(s, NULL);
}

const verdict_t *v_amount(long long fen, bool positive)
{
    if (fen >= (positive ? 1 : 0) && fen <= V_MONEY_MAX_FEN) return NULL;
    if (fen > V_MONEY_MAX_FEN) FAIL("out_of_range", "at most 100000000000000 fen");
    if (positive) FAIL("too_low", "must be at least 1 fen");
    FAIL("too_low", "must be at least 0 fen");
}

const verdict_t *v_amount_text(const char *s, uint64_t *out)
{
    uint64_t v;
    if (!s) return NULL;
    if (util_parse_u64(s, strlen(s), &v) == 0 && v <= (uint64_t)V_MONEY_MAX_FEN) {
        if (out) *out = v;
        return NULL;
    }
    FAIL("out_of_range", "must be a whole number of fen from 0 to 100000000000000");
}

const verdict_t *v_year(long long y)
{
    if (y >= V_YEAR_MIN && y <= V_YEAR_MAX) return NULL;
    FAIL("out_of_range", "must be a year from 2000 to 2100");
}

const verdict_t *v_year_text(const char *s, uint64_t *out)
{
    uint64_t v;
    if (!s) return NULL;
    if (util_parse_u64(s, strlen(s), &v) == 0 && v <= V_YEAR_MAX) {
        if (out) *out = v;
        return v_year((long long)v);
    }
    return v_year(-1);
}
