/* money_cn.c — see money_cn.h. */
#include "domain/money_cn.h"

#include <stdio.h>
#include <string.h>

static const char *const DIGIT[] = {"零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"};
static const char *const PLACE[] = {"仟", "佰", "拾", ""};

typedef struct {
    char *p;
    size_t left;
    int bad;     /* ran out of room */
    int written; /* a digit was written */
    int zero;    /* a 零 is owed before the next digit */
} out_t;

static void put(out_t *o, const char *s)
{
    size_t n = strlen(s);
    if (n >= o->left) {
        o->bad = 1;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
    o->left -= n;
    *o->p = '\0';
}

/* One four-digit section (0..9999) and its unit (万, 亿, …).  Zeros before a
 * digit become one 零 once something was written, and so does a whole zero
 * section; a section's trailing zeros vanish (壹拾万柒仟: 10|7000). */
static void section(out_t *o, int v, const char *unit)
{
    if (v == 0) {
        if (o->written) o->zero = 1;
        return;
    }
    const int d[4] = {v / 1000, v / 100 % 10, v / 10 % 10, v % 10};
    for (int i = 0; i < 4; i++) {
        if (d[i] == 0) {
            if (o->written) o->zero = 1;
            continue;
        }
        if (o->zero) put(o, "零");
        o->zero = 0;
        put(o, DIGIT[d[i]]);
        put(o, PLACE[i]);
        o->written = 1;
    }
    o->zero = 0;
    put(o, unit);
}

int money_cn_upper(long long fen, char *out, size_t cap)
{
    if (!out || cap == 0) return -1;
    out[0] = '\0';
    if (fen < 0 || fen > MONEY_CN_MAX_FEN) return -1;
    out_t o = {out, cap, 0, 0, 0};
    long long yuan = fen / 100;
    int jiao = (int)(fen / 10 % 10), f = (int)(fen % 10);
    /* sections of four digits: 万亿 (as 万 … 亿), 亿, 万, units */
    const int s3 = (int)(yuan / 1000000000000LL % 10000), s2 = (int)(yuan / 100000000 % 10000),
              s1 = (int)(yuan / 10000 % 10000), s0 = (int)(yuan % 10000);
    section(&o, s3, "万");
    section(&o, s2, "");
    if (s3 || s2) put(&o, "亿");
    section(&o, s1, "万");
    section(&o, s0, "");
    if (yuan) put(&o, "元");
    if (!yuan && !jiao && !f) put(&o, "零元");
    if (jiao) {
        put(&o, DIGIT[jiao]);
        put(&o, "角");
    }
    if (f) {
        if (!jiao && yuan) put(&o, "零");
        put(&o, DIGIT[f]);
        put(&o, "分");
    } else {
        put(&o, "整");
    }
    if (o.bad) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

int money_cn_figures(long long fen, char *out, size_t cap)
{
    if (!out || cap == 0) return -1;
    out[0] = '\0';
    if (fen < 0 || fen > MONEY_CN_MAX_FEN) return -1;
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", fen / 100);
    size_t need = (size_t)n + (size_t)(n - 1) / 3 + 4;
    if (need > cap) return -1;
    char *p = out;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) *p++ = ',';
        *p++ = digits[i];
    }
    snprintf(p, cap - (size_t)(p - out), ".%02lld", fen % 100);
    return 0;
}
