/* test_cjk.c — the search tokenizer (server/domain/cjk.c).
 *
 * Besides examples, two properties are checked on random texts: every query
 * that is a substring of a text has all its tokens among the text's tokens
 * (no misses), and an exact query whose tokens are all present is a
 * substring (no false hits).  cjk_corpus.tsv pins the output; the
 * integration tests check the SQL copy of the tokenizer against it. */
#include "unit.h"

#include "domain/cjk.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

/* --- helpers --------------------------------------------------------------- */

typedef struct {
    char **t;
    size_t n, cap;
} toks_t;

static void tok_add(void *arg, const char *tok, size_t len)
{
    toks_t *t = arg;
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->t[i]) == len && !memcmp(t->t[i], tok, len)) return;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->t = realloc(t->t, t->cap * sizeof *t->t);
    }
    t->t[t->n++] = strndup(tok, len);
}

static void toks_free(toks_t *t)
{
    for (size_t i = 0; i < t->n; i++) free(t->t[i]);
    free(t->t);
    memset(t, 0, sizeof *t);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, space-separated document tokens of s (after normalising). */
static char *doc_tokens(const char *s)
{
    buf_t n;
    buf_init(&n);
    cjk_normalize(s, strlen(s), &n);
    toks_t t = {0};
    cjk_doc_tokens(buf_cstr(&n), n.len, tok_add, &t);
    if (t.n) qsort(t.t, t.n, sizeof *t.t, cmp_str); /* t.t is NULL when there are none */
    buf_t out;
    buf_init(&out);
    for (size_t i = 0; i < t.n; i++) {
        if (i) buf_putc(&out, ' ');
        buf_puts(&out, t.t[i]);
    }
    if (!t.n) buf_puts(&out, "-");
    toks_free(&t);
    buf_free(&n);
    char *r = strdup(buf_cstr(&out));
    buf_free(&out);
    return r;
}

static bool has_token(const toks_t *t, const char *tok, size_t len, bool prefix)
{
    for (size_t i = 0; i < t->n; i++) {
        size_t l = strlen(t->t[i]);
        if (prefix ? (l >= len && !memcmp(t->t[i], tok, len)) : (l == len && !memcmp(t->t[i], tok, len))) return true;
    }
    return false;
}

/* Does every token of the tsquery text occur in t? */
static bool tsquery_satisfied(const char *tsq, const toks_t *t)
{
    const char *p = tsq;
    while ((p = strchr(p, '\'')) != NULL) {
        const char *e = strchr(p + 1, '\'');
        bool prefix = e[1] == ':' && e[2] == '*';
        if (!has_token(t, p + 1, (size_t)(e - p - 1), prefix)) return false;
        p = e + 1;
    }
    return true;
}

/* --- examples ---------------------------------------------------------------- */

TEST(cjk_fold_and_classes)
{
    CHECK(cjk_fold(0xFF21) == 'a'); /* Ａ */
    CHECK(cjk_fold(0xFF41) == 'a'); /* ａ */
    CHECK(cjk_fold(0xFF10) == '0'); /* ０ */
    CHECK(cjk_fold(0xFF0C) == ','); /* ， */
    CHECK(cjk_fold(0x3000) == ' ');
    CHECK(cjk_fold('Q') == 'q');
    CHECK(cjk_fold(0xDC) == 0xDC);       /* Ü stays: only ASCII is case-folded */
    CHECK(cjk_class(0x7535) == CJK_HAN); /* 电 */
    CHECK(cjk_class(0x30EA) == CJK_HAN); /* リ */
    CHECK(cjk_class(0xBC30) == CJK_HAN); /* 배 */
    CHECK(cjk_class(0x20000) == CJK_HAN);
    CHECK(cjk_class('a') == CJK_WORD && cjk_class('7') == CJK_WORD);
    CHECK(cjk_class(0xE9) == CJK_WORD && cjk_class(0x43C) == CJK_WORD);
    CHECK(cjk_class(0xD7) == CJK_SEP && cjk_class(0x3001) == CJK_SEP && cjk_class('%') == CJK_SEP);
}

TEST(cjk_normalize_keeps_positions)
{
    buf_t b;
    buf_init(&b);
    const char *in = "Ｌｉ电池，ＡＢＣ　X";
    cjk_normalize(in, strlen(in), &b);
    CHECK(!strcmp(buf_cstr(&b), "li电池,abc x"));
    CHECK(util_utf8_len(b.data, b.len) == util_utf8_len(in, strlen(in)));
    buf_free(&b);
}

TEST(cjk_doc_tokens_examples)
{
    char *t = doc_tokens("锂电池");
    CHECK(!strcmp(t, "池 电 电池 锂 锂电"));
    free(t);
    t = doc_tokens("Ｌｉ电池");
    CHECK(!strcmp(t, "i li 池 电 电池"));
    free(t);
    t = doc_tokens("5G基站");
    CHECK(!strcmp(t, "5g g 基 基站 站"));
    free(t);
    t = doc_tokens("%_、");
    CHECK(!strcmp(t, "-"));
    free(t);
}

TEST(cjk_query_tokens_and_exactness)
{
    cjk_query_t q;
    const char *why = NULL;
    CHECK(cjk_query_parse("电池", strlen("电池"), &q, &why) == 0);
    CHECK(!strcmp(q.tsquery.data, "'电池'") && !strcmp(q.title_tsquery.data, "'^电池'"));
    CHECK(q.exact && q.indexed && q.nterms == 1 && !strcmp(q.patterns.data, "[]"));
    cjk_query_free(&q);

    CHECK(cjk_query_parse("锂电池", strlen("锂电池"), &q, &why) == 0);
    CHECK(!strcmp(q.tsquery.data, "'锂电' & '电池'"));
    CHECK(!q.exact && !strcmp(q.patterns.data, "[\"%锂电池%\"]"));
    cjk_query_free(&q);

    CHECK(cjk_query_parse("芯", strlen("芯"), &q, &why) == 0);
    CHECK(!strcmp(q.tsquery.data, "'芯'") && q.exact);
    cjk_query_free(&q);

    CHECK(cjk_query_parse("Battery", 7, &q, &why) == 0);
    CHECK(!strcmp(q.tsquery.data, "'battery':*") && q.exact);
    CHECK(!strcmp(q.terms.data, "[\"battery\"]"));
    cjk_query_free(&q);

    /* mixed scripts and punctuation need the recheck */
    CHECK(cjk_query_parse("锂电池ABC", strlen("锂电池ABC"), &q, &why) == 0);
    CHECK(!strcmp(q.tsquery.data, "'锂电' & '电池' & 'abc':*") && !q.exact);
    cjk_query_free(&q);
    CHECK(cjk_query_parse("wi-fi", 5, &q, &why) == 0);
    CHECK(!strcmp(q.tsquery.data, "'wi':* & 'fi':*") && !q.exact);
    cjk_query_free(&q);

    /* % _ and \ are escaped in LIKE patterns; a term of symbols alone has no token */
    CHECK(cjk_query_parse("50%_\\ 电池", strlen("50%_\\ 电池"), &q, &why) == 0);
    CHECK(!strcmp(q.patterns.data, "[\"%50\\\\%\\\\_\\\\\\\\%\"]"));
    CHECK(q.nterms == 2 && q.indexed);
    cjk_query_free(&q);
    CHECK(cjk_query_parse("%", 1, &q, &why) == 0);
    CHECK(!q.indexed && q.tsquery.len == 0);
    cjk_query_free(&q);

    /* repeated terms and tokens count once; U+3000 separates terms */
    CHECK(cjk_query_parse("电池　电池 锂电池", strlen("电池　电池 锂电池"), &q, &why) == 0);
    CHECK(q.nterms == 2 && !strcmp(q.tsquery.data, "'电池' & '锂电'"));
    cjk_query_free(&q);
}

TEST(cjk_query_limits)
{
    cjk_query_t q;
    const char *why = NULL;
    CHECK(cjk_query_parse("   ", 3, &q, &why) == -1 && why);
    cjk_query_free(&q);
    CHECK(cjk_query_parse("a b c d e f g h i", 17, &q, &why) == -1);
    cjk_query_free(&q);
    CHECK(cjk_query_parse("a b c d e f g h", 15, &q, &why) == 0);
    cjk_query_free(&q);
    char longq[400] = "";
    for (int i = 0; i < 101; i++) strcat(longq, "电");
    CHECK(cjk_query_parse(longq, strlen(longq), &q, &why) == -1);
    cjk_query_free(&q);
    longq[strlen(longq) - 3] = '\0';
    CHECK(cjk_query_parse(longq, strlen(longq), &q, &why) == 0);
    cjk_query_free(&q);
    CHECK(cjk_query_parse("a\0b", 3, &q, &why) == -1);
    cjk_query_free(&q);
}

TEST(cjk_like_pattern_escapes)
{
    buf_t b;
    buf_init(&b);
    cjk_like_pattern("a%b_c\\d", 7, &b);
    CHECK(!strcmp(buf_cstr(&b), "%a\\%b\\_c\\\\d%"));
    buf_free(&b);
}

/* --- properties on random text ------------------------------------------------ */

static const char *const ALPHABET[] = {
    "电", "池", "锂", "芯", "片", "能", "源", "储", "光", "伏", "a", "b", "c",  "A",  "B",  "1",  "2",
    "Ａ", "ｂ", "１", " ",  "，", "、", "%",  "_",  "-",  ".",  "é", "Ж", "リ", "배", "（", "）", "　",
};

static unsigned rnd_state = 12345;
static unsigned rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 16) & 0x7fff;
}

static void random_text(buf_t *b, int chars)
{
    for (int i = 0; i < chars; i++) buf_puts(b, ALPHABET[rnd() % ARRAY_LEN(ALPHABET)]);
    buf_cstr(b);
}

/* The substring of s made of code points [from, from + n). */
static char *cp_substr(const char *s, size_t from, size_t n)
{
    size_t len = strlen(s), i = 0, k = 0, start = 0;
    while (i < len && k < from) {
        size_t l;
        (void)cjk_decode(s + i, len - i, &l);
        i += l, k++;
    }
    start = i;
    k = 0;
    while (i < len && k < n) {
        size_t l;
        (void)cjk_decode(s + i, len - i, &l);
        i += l, k++;
    }
    return strndup(s + start, i - start);
}

TEST(cjk_no_misses_and_no_false_hits)
{
    int misses = 0, false_hits = 0, exact_checked = 0;
    for (int round = 0; round < 400; round++) {
        buf_t text, norm;
        buf_init(&text);
        buf_init(&norm);
        random_text(&text, 5 + (int)(rnd() % 40));
        cjk_normalize(text.data, text.len, &norm);
        toks_t t = {0};
        cjk_doc_tokens(buf_cstr(&norm), norm.len, tok_add, &t);
        size_t nchars = util_utf8_len(norm.data, norm.len);
        for (int k = 0; k < 20; k++) {
            /* a substring of the text (no misses) ... */
            size_t from = rnd() % nchars, n = 1 + rnd() % 5;
            char *sub = cp_substr(text.data, from, n);
            cjk_query_t q;
            const char *why;
            if (cjk_query_parse(sub, strlen(sub), &q, &why) == 0 && q.nterms == 1) {
                if (!tsquery_satisfied(q.tsquery.data, &t)) misses++;
            }
            cjk_query_free(&q);
            free(sub);
            /* ... and a random string (an exact query whose tokens are there is a substring) */
            buf_t r;
            buf_init(&r);
            random_text(&r, 1 + (int)(rnd() % 2));
            if (cjk_query_parse(r.data, r.len, &q, &why) == 0 && q.exact && q.nterms == 1 && q.indexed) {
                exact_checked++;
                buf_t rn;
                buf_init(&rn);
                cjk_normalize(r.data, r.len, &rn);
                /* the term is the query without its spaces */
                if (!strchr(buf_cstr(&rn), ' ')) {
                    bool present = strstr(norm.data, rn.data) != NULL;
                    if (tsquery_satisfied(q.tsquery.data, &t) != present) {
                        false_hits++;
                        fprintf(stderr, "  false hit: text '%s' query '%s'\n", norm.data, rn.data);
                    }
                }
                buf_free(&rn);
            }
            cjk_query_free(&q);
            buf_free(&r);
        }
        toks_free(&t);
        buf_free(&text);
        buf_free(&norm);
    }
    CHECK(misses == 0);
    CHECK(false_hits == 0);
    CHECK(exact_checked > 1000);
}

/* --- the pinned corpus ------------------------------------------------------------ */

TEST(cjk_corpus_matches)
{
    char path[512];
    const char *f = __FILE__;
    const char *slash = strrchr(f, '/');
    snprintf(path, sizeof path, "%.*scjk_corpus.tsv", slash ? (int)(slash - f + 1) : 0, f);
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL);
    if (!fp) return;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\n")] = '\0';
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        CHECK(t1 && t2);
        if (!t1 || !t2) continue;
        *t1 = *t2 = '\0';
        char *toks = doc_tokens(line);
        if (strcmp(toks, t1 + 1)) fprintf(stderr, "  corpus: tokens of '%s': got '%s'\n", line, toks);
        CHECK(!strcmp(toks, t1 + 1));
        free(toks);
        cjk_query_t q;
        const char *why;
        int rc = cjk_query_parse(line, strlen(line), &q, &why);
        const char *tsq = rc || !q.tsquery.len ? "-" : q.tsquery.data;
        if (strcmp(tsq, t2 + 1)) fprintf(stderr, "  corpus: query of '%s': got '%s'\n", line, tsq);
        CHECK(!strcmp(tsq, t2 + 1));
        cjk_query_free(&q);
        n++;
    }
    fclose(fp);
    CHECK(n >= 25);
}

/* --- snippets ---------------------------------------------------------------- */

static char *snip(const char *raw, const char *term)
{
    buf_t b;
    buf_init(&b);
    size_t len = term ? strlen(term) : 0;
    cjk_snippet(raw, strlen(raw), term ? &term : NULL, term ? &len : NULL, term ? 1 : 0, &b);
    char *s = strdup(buf_cstr(&b));
    buf_free(&b);
    return s;
}

static size_t count_utf8(const char *s)
{
    size_t k = 0;
    for (; *s; s++) k += ((unsigned char)*s & 0xC0) != 0x80;
    return k;
}

/* n copies of a 3-byte character, then tail */
static char *han_text(size_t n, const char *tail)
{
    buf_t b;
    buf_init(&b);
    for (size_t i = 0; i < n; i++) buf_puts(&b, "甲");
    buf_puts(&b, tail);
    char *s = strdup(buf_cstr(&b));
    buf_free(&b);
    return s;
}

TEST(cjk_snippet_windows)
{
    char *s;
    /* short text, term or not: the text as it is */
    CHECK(!strcmp(s = snip("锂电池回收", "电池"), "锂电池回收"));
    free(s);
    CHECK(!strcmp(s = snip("锂电池回收", NULL), "锂电池回收"));
    free(s);
    CHECK(!strcmp(s = snip("", "电池"), ""));
    free(s);

    /* no occurrence in a long text: its first 120 code points and '…' */
    char *t = han_text(200, "");
    s = snip(t, "电池");
    CHECK(strlen(s) == 120 * 3 + strlen("…") && !strncmp(s, t, 360) && !strcmp(s + 360, "…"));
    free(s), free(t);

    /* exactly 120 code points: no '…' */
    t = han_text(120, "");
    CHECK(!strcmp(s = snip(t, "乙"), t));
    free(s);
    free(t);

    /* an occurrence at code point 41 (1-based): 30 before it, 120 in all */
    t = han_text(40, "电池");
    s = snip(t, "电池");
    char *want = han_text(30, "电池");
    char *w2 = malloc(strlen(want) + 8);
    sprintf(w2, "…%s", want);
    CHECK(!strcmp(s, w2)); /* the text ends before 120 code points: no trailing '…' */
    free(s), free(t), free(want), free(w2);

    /* at code point 40: still the start */
    t = han_text(39, "电池");
    CHECK(!strcmp(s = snip(t, "电池"), t));
    free(s);
    free(t);

    /* a long text: both ends cut, 120 code points between the marks */
    t = han_text(100, "电池");
    char *t2 = malloc(strlen(t) + 600);
    sprintf(t2, "%s%s", t, t); /* 204 code points, the first 电 at 101 */
    s = snip(t2, "电池");
    CHECK(!strncmp(s, "…", 3));
    CHECK(strlen(s) >= 6 && !strcmp(s + strlen(s) - 3, "…"));
    CHECK(count_utf8(s) == 122);
    CHECK(strstr(s, "电池") == s + 3 + 30 * 3);
    free(s), free(t), free(t2);

    /* the earliest of several terms; full-width and upper case found (one
     * code point for one, so the cut is in the right place in the raw text) */
    t = han_text(50, "ＬＩＴＨＩＵＭ电池");
    const char *terms[2] = {"电池", "lithium"};
    size_t lens[2] = {strlen(terms[0]), strlen(terms[1])};
    buf_t b;
    buf_init(&b);
    cjk_snippet(t, strlen(t), terms, lens, 2, &b);
    CHECK(strstr(buf_cstr(&b), "ＬＩＴＨＩＵＭ") == b.data + 3 + 30 * 3);
    buf_free(&b);
    free(t);
}

/* --- the normaliser against its first, code-point-at-a-time version ---------- */

static void ref_put_utf8(buf_t *b, uint32_t cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) o[0] = (char)cp, n = 1;
    else if (cp < 0x800)
        o[0] = (char)(0xC0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000)
        o[0] = (char)(0xE0 | (cp >> 12)), o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)), o[2] = (char)(0x80 | (cp & 0x3F)),
        n = 3;
    else
        o[0] = (char)(0xF0 | (cp >> 18)), o[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), o[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    buf_append(b, o, n);
}

static void ref_normalize(const char *s, size_t n, buf_t *out)
{
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t cp = cjk_decode(s + i, n - i, &l);
        uint32_t f = cjk_fold(cp);
        if (f == cp) buf_append(out, s + i, l);
        else
            ref_put_utf8(out, f);
        i += l;
    }
    buf_cstr(out);
}

TEST(cjk_normalize_equals_the_reference_on_any_bytes)
{
    /* pieces that fold, that do not, and malformed ones (overlong forms of
     * 'A', truncated and stray continuation bytes) */
    static const char *const pieces[] = {
        "A",    "z",        "Ｚ",   "ａ",       "！",       "～",           "　",
        "，",   "电池",     "ß",    "😀",        "\xC1\x81", "\xE0\x81\x81", "\xF0\x8F\xBC\x81",
        "\xEF", "\xEF\xBC", "\x80", "\xBF\xBF", "\xE3\x80", "\xE3\x80\x80", " ",
        "\n"};
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        buf_t in, a, b;
        buf_init(&in), buf_init(&a), buf_init(&b);
        buf_puts(&a, "kept>"); /* appends after what the buffer holds */
        buf_puts(&b, "kept>");
        int k = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 12;
        for (int j = 0; j < k; j++)
            buf_puts(&in, pieces[((seed = seed * 1103515245u + 12345u) >> 16) % ARRAY_LEN(pieces)]);
        cjk_normalize(in.data ? in.data : "", in.len, &a);
        ref_normalize(in.data ? in.data : "", in.len, &b);
        CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len) && a.data[a.len] == '\0');
        buf_free(&in), buf_free(&a), buf_free(&b);
    }
}

/* The snippet by the rule, the whole text normalised first. */
static void ref_snippet(const char *raw, size_t n, const char *const *terms, const size_t *lens, size_t nterms,
                        buf_t *out)
{
    buf_t norm;
    buf_init(&norm);
    ref_normalize(raw, n, &norm);
    size_t best = 0;
    for (size_t t = 0; t < nterms; t++) {
        const char *hit = lens[t] ? memmem(norm.data, norm.len, terms[t], lens[t]) : NULL;
        if (!hit) continue;
        size_t pos = 1;
        for (const char *p = norm.data; p < hit; p++) pos += ((unsigned char)*p & 0xC0) != 0x80;
        if (!best || pos < best) best = pos;
    }
    buf_free(&norm);
    size_t total = 0, from = best > 40 ? best - 31 : 0;
    for (size_t i = 0; i < n; i++) total += ((unsigned char)raw[i] & 0xC0) != 0x80;
    if (from) buf_puts(out, "…");
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t l = 1;
        while (i + l < n && ((unsigned char)raw[i + l] & 0xC0) == 0x80) l++;
        if (k >= from && k < from + 120) buf_append(out, raw + i, l);
        k++;
        i += l;
    }
    if (total > from + 120) buf_puts(out, "…");
    buf_cstr(out);
}

TEST(cjk_snippet_equals_the_rule_on_random_texts)
{
    /* long terms that begin in full-width form before a shorter one, terms
     * that overlap, texts around the 40 and 120 character marks */
    static const char *const pieces[] = {"ＸＹＺ", "xyz", "ab",     "AB", "ｑ", "q", "电池", "锂",
                                         "，",     "。",  "甲乙丙", "\"", "\\", " ", "Ｚ",   "z"};
    static const char *const termset[] = {"ab", "xyzabq", "电池", "z", "锂电池", "q", "甲乙"};
    unsigned seed = 777;
#define RND() ((seed = seed * 1103515245u + 12345u) >> 16)
    for (int round = 0; round < 20000; round++) {
        buf_t text, a, b;
        buf_init(&text), buf_init(&a), buf_init(&b);
        int k = (int)(RND() % 90);
        for (int j = 0; j < k; j++) buf_puts(&text, pieces[RND() % ARRAY_LEN(pieces)]);
        const char *terms[3];
        size_t lens[3], nt = RND() % 4;
        for (size_t t = 0; t < nt; t++) terms[t] = termset[RND() % ARRAY_LEN(termset)], lens[t] = strlen(terms[t]);
        const char *raw = text.data ? text.data : "";
        cjk_snippet(raw, text.len, terms, lens, nt, &a);
        ref_snippet(raw, text.len, terms, lens, nt, &b);
        CHECK(!strcmp(buf_cstr(&a), buf_cstr(&b)));
        buf_free(&text), buf_free(&a), buf_free(&b);
    }
#undef RND
}
