/* cjk.h — the search tokenizer: normalisation, document tokens and queries.
 *
 * Chinese has no spaces and most words have two characters, so text is not
 * split into words.  Instead:
 *
 *   normalise  full-width forms U+FF01–U+FF5E fold to ASCII, U+3000 to a
 *              space, A–Z to a–z.  One code point maps to one code point, so
 *              a position in the normalised text is a position in the
 *              original (snippets rely on it).
 *   classes    HAN  — CJK ideographs, kana, hangul (ranges in cjk.c);
 *              WORD — a–z, 0–9, Latin-1/Extended letters, Greek, Cyrillic;
 *              SEP  — everything else (spaces, punctuation, symbols).
 *   doc tokens every maximal HAN run gives its single characters and its
 *              overlapping bigrams; every maximal WORD run gives its suffixes
 *              (each cut to CJK_SUFFIX_MAX code points).
 *   query      split on whitespace into terms.  A term is a substring that
 *              must occur in the (normalised) text.  Its index tokens: the
 *              bigrams of each HAN run (the character itself for a run of
 *              one), and each WORD run as a prefix ('run':*) — a substring of
 *              a word is a prefix of one of its suffixes.  Those tokens are
 *              present in every text that contains the term, so the index
 *              never misses; a term is *exact* when the tokens also imply
 *              the substring (one HAN run of 1–2 characters, or one WORD run
 *              of at most CJK_SUFFIX_MAX), otherwise the caller rechecks with
 *              LIKE on the normalised text, so there are no false hits.
 *
 * The same algorithm lives in SQL (migrations/functions/search.sql: search_norm,
 * search_tokens, search_query_tsquery) so that triggers can index rows that
 * are inserted directly; tests/unit/cjk_corpus.tsv pins the output of both.
 *
 * Pure code: no I/O, no libpq.  Input must be valid UTF-8. */
#ifndef YZ_CJK_H
#define YZ_CJK_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CJK_SUFFIX_MAX 32 /* code points kept of a word suffix token */
#define CJK_QUERY_MAX 100 /* code points in a search query */
#define CJK_TERMS_MAX 8   /* whitespace-separated terms in a query */

typedef enum { CJK_SEP = 0, CJK_HAN = 1, CJK_WORD = 2 } cjk_class_t;

/* Fold one code point (full-width → ASCII, U+3000 → space, A–Z → a–z). */
uint32_t cjk_fold(uint32_t cp);
/* Class of a folded code point. */
cjk_class_t cjk_class(uint32_t cp);

/* Decode one code point of valid UTF-8 at s (n bytes left); *len gets its
 * byte length.  Returns U+FFFD and *len 1 on a malformed byte. */
uint32_t cjk_decode(const char *s, size_t n, size_t *len);
/* Append the normalised form of s[0..n) to out. */
void cjk_normalize(const char *s, size_t n, buf_t *out);

/* Document tokens of normalised text, in order of appearance, repeats
 * included.  fn gets each token (not NUL-terminated). */
typedef void (*cjk_token_fn)(void *arg, const char *tok, size_t len);
void cjk_doc_tokens(const char *norm, size_t n, cjk_token_fn fn, void *arg);

/* A parsed search query. */
typedef struct {
    int nterms;
    bool exact;          /* every term is exact: no LIKE recheck needed */
    bool indexed;        /* at least one token: the index can answer */
    buf_t terms;         /* JSON array of the normalised terms */
    buf_t tsquery;       /* tsquery text over document tokens: 'a' & 'b':* ...; empty if !indexed */
    buf_t title_tsquery; /* the same over title tokens (lexemes prefixed with '^') */
    buf_t patterns;      /* JSON array of LIKE patterns (escape '\') of the non-exact terms */
} cjk_query_t;

/* Parse q (valid UTF-8).  0 on success; -1 with *why (a static English
 * sentence) when q is empty, too long or has too many terms.  Free with
 * cjk_query_free() in both cases. */
int cjk_query_parse(const char *q, size_t n, cjk_query_t *out, const char **why) __attribute__((warn_unused_result));
void cjk_query_free(cjk_query_t *q);

/* Append the LIKE pattern '%' term '%' with %, _ and \ escaped by '\'. */
void cjk_like_pattern(const char *term, size_t n, buf_t *out);

#define CJK_SNIPPET_CHARS 120 /* code points of text a snippet shows */
#define CJK_SNIPPET_LEAD 30   /* of them before the first occurrence of a term */

/* Append the snippet of raw[0..n) (valid UTF-8) that a search hit shows:
 * CJK_SNIPPET_CHARS code points starting CJK_SNIPPET_LEAD before the first
 * occurrence of any of the (normalised) terms in the normalised text, with
 * '…' where text was cut; the first CJK_SNIPPET_CHARS when no term occurs,
 * or when the first occurrence is within the first 40 code points.
 * Normalising keeps one code point for one, so the position found in the
 * normalised text is the position in raw: ＡＢＣ matches the term abc. */
void cjk_snippet(const char *raw, size_t n, const char *const *terms, const size_t *lens, size_t nterms, buf_t *out);

#endif
