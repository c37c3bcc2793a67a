/* Fuzz the CJK search tokenizer (server/domain/cjk.c) on valid UTF-8 (its
 * contract): normalising keeps the number of code points and yields valid
 * UTF-8; every document token is non-empty valid UTF-8; a parsed query's
 * terms and patterns are JSON arrays of strings, one pattern per inexact
 * term, and every term occurs in the normalised query. */
#include "domain/cjk.h"
#include "util/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static size_t code_points(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) k++;
    return k;
}

static void on_token(void *arg, const char *tok, size_t len)
{
    (void)arg;
    if (len == 0 || !util_utf8_valid(tok, len) || memchr(tok, '\0', len)) abort();
}

static json_t *string_array(const buf_t *b)
{
    json_t *a = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
    if (!a || !json_is_array(a)) abort();
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
        if (!json_is_string(v)) abort();
    return a;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    const char *s = (const char *)data;
    if (!util_utf8_valid(s, n) || memchr(s, '\0', n)) return 0;
    buf_t norm;
    buf_init(&norm);
    cjk_normalize(s, n, &norm);
    const char *ns = norm.data ? norm.data : "";
    if (code_points(ns, norm.len) != code_points(s, n) || !util_utf8_valid(ns, norm.len)) abort();
    cjk_doc_tokens(ns, norm.len, on_token, NULL);

    cjk_query_t q;
    const char *why = NULL;
    if (cjk_query_parse(s, n, &q, &why) == 0) {
        json_t *terms = string_array(&q.terms), *pats = string_array(&q.patterns);
        size_t nt = json_array_size(terms);
        if (nt == 0 || (int)nt != q.nterms || nt > CJK_TERMS_MAX) abort();
        if (json_array_size(pats) > nt || (q.exact && json_array_size(pats) != 0)) abort();
        if (q.indexed != (q.tsquery.len > 0)) abort();
        size_t i;
        json_t *t;
        json_array_foreach(terms, i, t) {
            const char *ts = json_string_value(t);
            if (!*ts || !strstr(ns, ts)) abort();
        }
        json_decref(terms);
        json_decref(pats);
    } else if (!why) {
        abort();
    }
    cjk_query_free(&q);
    buf_free(&norm);
    return 0;
}
