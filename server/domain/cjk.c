/* cjk.c — normalisation, document tokens and query parsing for search.
 *
 * What must always hold (tests/unit/test_cjk.c checks it, and the SQL copy
 * in migrations/functions/search.sql is checked against the same corpus):
 *   - for every text T and term Q with Q a substring of normalise(T), every
 *     index token of Q is a document token of T (no misses);
 *   - an exact term's tokens occur in T only when Q is a substring (no false
 *     hits without a recheck);
 *   - normalisation maps one code point to one code point. */
#include "domain/cjk.h"

#include "util/util.h"

#include <stdlib.h>
#include <string.h>

uint32_t cjk_fold(uint32_t cp)
{
    if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFF01 - 0x21;
    else if (cp == 0x3000)
        return ' ';
    if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
    return cp;
}

cjk_class_t cjk_class(uint32_t cp)
{
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) return CJK_WORD;
        return CJK_SEP;
    }
    if ((cp >= 0x3040 && cp <= 0x30FF) || /* hiragana, katakana */
        (cp >= 0x3400 && cp <= 0x4DBF) || /* CJK extension A */
        (cp >= 0x4E00 && cp <= 0x9FFF) || /* CJK unified ideographs */
        (cp >= 0xAC00 && cp <= 0xD7AF) || /* hangul syllables */
        (cp >= 0xF900 && cp <= 0xFAFF) || /* CJK compatibility ideographs */
        (cp >= 0x20000 && cp <= 0x3134F)) /* CJK extensions B–G */
        return CJK_HAN;
    if ((cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) || /* Latin-1 letters, Extended-A/B */
        (cp >= 0x370 && cp <= 0x4FF))                              /* Greek, Cyrillic */
        return CJK_WORD;
    return CJK_SEP;
}

uint32_t cjk_decode(const char *str, size_t n, size_t *len)
{
    const unsigned char *s = (const unsigned char *)str;
    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    int k = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (!k || (size_t)k > n) {
        *len = 1;
        return 0xFFFD;
    }
    uint32_t cp = s[0] & (0x7F >> k);
    for (int i = 1; i < k; i++) cp = (cp << 6) | (s[i] & 0x3F);
    *len = (size_t)k;
    return cp;
}

void cjk_normalize(const char *s, size_t n, buf_t *out)
{
    /* Written straight into the buffer: folding never lengthens (a folded
     * code point is ASCII), so n bytes are enough. */
    buf_reserve(out, n);
    char *o = out->data + out->len;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            *o++ = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
            i++;
            continue;
        }
        size_t l;
        if (c != 0xC0 && c != 0xC1 && c != 0xE0 && c != 0xE3 && c != 0xEF && c != 0xF0) {
            /* no code point these lead bytes start can fold (only U+3000,
             * U+FF01–U+FF5E and, overlong, A–Z do): copy it as cjk_decode
             * would step over it */
            l = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (l > n - i) l = 1;
            memcpy(o, s + i, l);
            o += l;
            i += l;
            continue;
        }
        uint32_t cp = cjk_decode(s + i, n - i, &l);
        uint32_t f = cjk_fold(cp);
        if (f == cp) { /* keep the bytes as they are */
            memcpy(o, s + i, l);
            o += l;
        } else {
            *o++ = (char)f;
        }
        i += l;
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
}

/* A run: [start, end) bytes of one class, with its code point offsets. */
typedef struct {
    cjk_class_t cls;
    size_t start, end;
    size_t nchars;
} run_t;

/* Byte offset of code point k (0-based) after start. */
static size_t skip_chars(const char *s, size_t start, size_t end, size_t k)
{
    size_t i = start;
    while (k-- && i < end) {
        size_t l;
        (void)cjk_decode(s + i, end - i, &l);
        i += l;
    }
    return i;
}

/* Calls fn(arg, run) for each maximal HAN or WORD run; returns true if any
 * SEP code point was seen. */
static bool each_run(const char *s, size_t n, void (*fn)(void *, const char *, const run_t *), void *arg)
{
    bool sep = false;
    run_t r = {CJK_SEP, 0, 0, 0};
    for (size_t i = 0; i <= n;) {
        size_t l = 0;
        cjk_class_t c = CJK_SEP;
        if (i < n) c = cjk_class(cjk_decode(s + i, n - i, &l));
        if (c != r.cls) {
            if (r.cls != CJK_SEP) {
                r.end = i;
                fn(arg, s, &r);
            }
            r.cls = c;
            r.start = i;
            r.nchars = 0;
        }
        if (i == n) break;
        if (c == CJK_SEP) sep = true;
        r.nchars++;
        i += l;
    }
    return sep;
}

typedef struct {
    cjk_token_fn fn;
    void *arg;
} doc_ctx_t;

static void doc_run(void *arg, const char *s, const run_t *r)
{
    doc_ctx_t *d = arg;
    if (r->cls == CJK_HAN) {
        size_t i = r->start;
        for (size_t k = 0; k < r->nchars; k++) {
            size_t l1, l2;
            (void)cjk_decode(s + i, r->end - i, &l1);
            d->fn(d->arg, s + i, l1);
            if (k + 1 < r->nchars) {
                (void)cjk_decode(s + i + l1, r->end - i - l1, &l2);
                d->fn(d->arg, s + i, l1 + l2);
            }
            i += l1;
        }
    } else {
        size_t i = r->start;
        for (size_t k = 0; k < r->nchars; k++) {
            size_t e = skip_chars(s, i, r->end, CJK_SUFFIX_MAX);
            d->fn(d->arg, s + i, e - i);
            size_t l;
            (void)cjk_decode(s + i, r->end - i, &l);
            i += l;
        }
    }
}

void cjk_doc_tokens(const char *norm, size_t n, cjk_token_fn fn, void *arg)
{
    doc_ctx_t d = {fn, arg};
    (void)each_run(norm, n, doc_run, &d);
}

void cjk_like_pattern(const char *t, size_t n, buf_t *out)
{
    buf_putc(out, '%');
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '%' || t[i] == '_' || t[i] == '\\') buf_putc(out, '\\');
        buf_putc(out, t[i]);
    }
    buf_putc(out, '%');
}

/* --- queries ------------------------------------------------------------- */

typedef struct {
    cjk_query_t *q;
    int nruns;
    bool term_exact;
    /* tokens already emitted, to keep the tsquery free of repeats */
    char **seen;
    size_t nseen, capseen;
} q_ctx_t;

static void emit(q_ctx_t *c, const char *tok, size_t len, bool prefix)
{
    for (size_t i = 0; i < c->nseen; i++)
        if (strlen(c->seen[i]) == len + prefix && !memcmp(c->seen[i], tok, len) && (c->seen[i][len] == '*') == prefix)
            return;
    if (c->nseen == c->capseen) {
        size_t cap = c->capseen ? c->capseen * 2 : 16;
        char **more = realloc(c->seen, cap * sizeof *c->seen);
        if (!more) abort();
        c->seen = more;
        c->capseen = cap;
    }
    char *t = malloc(len + 2);
    if (!t) abort();
    memcpy(t, tok, len);
    t[len] = '*';
    t[len + prefix] = '\0';
    c->seen[c->nseen++] = t;
    buf_t *bs[2] = {&c->q->tsquery, &c->q->title_tsquery};
    for (int k = 0; k < 2; k++) {
        buf_t *b = bs[k];
        if (b->len) buf_puts(b, " & ");
        buf_puts(b, k ? "'^" : "'");
        buf_append(b, tok, len);
        buf_puts(b, prefix ? "':*" : "'");
    }
    c->q->indexed = true;
}

static void query_run(void *arg, const char *s, const run_t *r)
{
    q_ctx_t *c = arg;
    c->nruns++;
    if (r->cls == CJK_HAN) {
        if (r->nchars > 2) c->term_exact = false;
        if (r->nchars == 1) {
            emit(c, s + r->start, r->end - r->start, false);
            return;
        }
        size_t i = r->start;
        for (size_t k = 0; k + 1 < r->nchars; k++) {
            size_t l1, l2;
            (void)cjk_decode(s + i, r->end - i, &l1);
            (void)cjk_decode(s + i + l1, r->end - i - l1, &l2);
            emit(c, s + i, l1 + l2, false);
            i += l1;
        }
    } else {
        if (r->nchars > CJK_SUFFIX_MAX) c->term_exact = false;
        size_t e = skip_chars(s, r->start, r->end, CJK_SUFFIX_MAX);
        emit(c, s + r->start, e - r->start, true);
    }
}

void cjk_query_free(cjk_query_t *q)
{
    buf_free(&q->terms);
    buf_free(&q->tsquery);
    buf_free(&q->title_tsquery);
    buf_free(&q->patterns);
}

static bool is_space(uint32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v';
}

int cjk_query_parse(const char *qs, size_t n, cjk_query_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    buf_init(&out->terms);
    buf_init(&out->tsquery);
    buf_init(&out->title_tsquery);
    buf_init(&out->patterns);
    out->exact = true;
    buf_puts(&out->terms, "[");
    buf_puts(&out->patterns, "[");
    if (strnlen(qs, n) != n) {
        *why = "the query must not contain NUL";
        return -1;
    }
    size_t chars = 0;
    for (size_t i = 0; i < n;) {
        size_t l;
        (void)cjk_decode(qs + i, n - i, &l);
        i += l;
        chars++;
    }
    if (chars > CJK_QUERY_MAX) {
        *why = "the query is longer than 100 characters";
        return -1;
    }
    buf_t norm;
    buf_init(&norm);
    cjk_normalize(qs, n, &norm);
    const char *s = buf_cstr(&norm);
    size_t len = norm.len;
    q_ctx_t c = {out, 0, true, NULL, 0, 0};
    /* terms seen so far, as [start,end) in s, to drop repeats */
    size_t ts[CJK_QUERY_MAX][2];
    int nts = 0;
    int rc = 0;
    for (size_t i = 0; i < len;) {
        size_t l;
        if (is_space(cjk_decode(s + i, len - i, &l))) {
            i += l;
            continue;
        }
        size_t start = i;
        while (i < len && !is_space(cjk_decode(s + i, len - i, &l))) i += l;
        bool dup = false;
        for (int k = 0; k < nts; k++)
            if (ts[k][1] - ts[k][0] == i - start && !memcmp(s + ts[k][0], s + start, i - start)) dup = true;
        if (dup) continue;
        if (nts == CJK_TERMS_MAX) {
            *why = "the query has more than 8 terms";
            rc = -1;
            break;
        }
        ts[nts][0] = start, ts[nts][1] = i;
        nts++;
        c.nruns = 0;
        c.term_exact = true;
        bool sep = each_run(s + start, i - start, query_run, &c);
        if (sep || c.nruns != 1) c.term_exact = false;
        if (out->nterms) buf_putc(&out->terms, ',');
        buf_json_strn(&out->terms, s + start, i - start);
        out->nterms++;
        if (!c.term_exact) {
            buf_t p;
            buf_init(&p);
            cjk_like_pattern(s + start, i - start, &p);
            if (!out->exact) buf_putc(&out->patterns, ',');
            buf_json_strn(&out->patterns, p.data, p.len);
            buf_free(&p);
            out->exact = false;
        }
    }
    for (size_t k = 0; k < c.nseen; k++) free(c.seen[k]);
    free(c.seen);
    buf_free(&norm);
    buf_puts(&out->terms, "]");
    buf_puts(&out->patterns, "]");
    buf_cstr(&out->tsquery);
    buf_cstr(&out->title_tsquery);
    if (rc == 0 && out->nterms == 0) {
        *why = "the query is empty";
        rc = -1;
    }
    return rc;
}

/* --- snippets ------------------------------------------------------------------ */

void cjk_snippet(const char *raw, size_t n, const char *const *terms, const size_t *lens, size_t nterms, buf_t *out)
{
    size_t best = 0; /* code point of the first occurrence, 1-based; 0: none */
    if (nterms) {
        /* A term found as it is in raw is found no later in the normalised
         * text (a term is normalised, so its code points fold to
         * themselves).  So the first occurrence of any term in the
         * normalised text starts in raw no later than the first raw one, and
         * ends at most 4 bytes of raw per byte of the longest term after it:
         * only raw up to there needs normalising. */
        size_t first_raw = n, maxlen = 0;
        for (size_t t = 0; t < nterms; t++) {
            if (lens[t] == 0) continue;
            if (lens[t] > maxlen) maxlen = lens[t];
            const char *hit = memmem(raw, n, terms[t], lens[t]);
            if (hit && (size_t)(hit - raw) < first_raw) first_raw = (size_t)(hit - raw);
        }
        size_t limit = n;
        if (first_raw < n && maxlen <= (n - first_raw) / 4) {
            limit = first_raw + 4 * maxlen;
            while (limit < n && ((unsigned char)raw[limit] & 0xC0) == 0x80) limit++; /* a whole code point */
        }
        buf_t norm;
        buf_init(&norm);
        cjk_normalize(raw, limit, &norm);
        const char *first = NULL;
        for (size_t t = 0; t < nterms; t++) {
            if (lens[t] == 0) continue;
            const char *hit = memmem(norm.data, norm.len, terms[t], lens[t]);
            if (hit && (!first || hit < first)) first = hit;
        }
        /* a match of valid UTF-8 in valid UTF-8 starts on a code point, and
         * normalising keeps the number of code points before it */
        if (first) best = util_utf8_len(norm.data, (size_t)(first - norm.data)) + 1;
        buf_free(&norm);
    }
    if (best <= 40) { /* none, or near enough the start: show the start */
        size_t end = skip_chars(raw, 0, n, CJK_SNIPPET_CHARS);
        buf_append(out, raw, end);
        if (end < n) buf_puts(out, "…"); /* more than CJK_SNIPPET_CHARS code points */
        return;
    }
    size_t from = best - 1 - CJK_SNIPPET_LEAD; /* 0-based code point */
    size_t a = skip_chars(raw, 0, n, from);
    size_t b = skip_chars(raw, a, n, CJK_SNIPPET_CHARS);
    buf_puts(out, "…");
    buf_append(out, raw + a, b - a);
    if (b < n) buf_puts(out, "…");
}
