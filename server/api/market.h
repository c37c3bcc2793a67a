/* market.h — what the marketplace modules share (results and needs in
 * market.c, search and matching in market_search.c, subscriptions and
 * notifications in market_subs.c, the delivery thread in market_bg.c). */
#ifndef YZ_MARKET_H
#define YZ_MARKET_H

#include "api/api.h"
#include "util/buf.h"

/* A search as parsed from ?q=&kind=&domain=... (GET /search) or from the
 * same names in a JSON object (POST /subscriptions). */
typedef struct {
    const char *q;            /* as given, or NULL */
    buf_t tsq;                /* text tokens & filter lexemes; empty: no index restriction */
    buf_t title_tsq;          /* title tokens & filter lexemes; empty without q */
    const char *patterns;     /* JSON array: LIKE patterns the index does not settle */
    const char *all_patterns; /* JSON array: LIKE patterns of every term */
    const char *terms;        /* JSON array of normalised terms */
    const char **term_list;   /* the same as C strings (for snippets), nterms of them */
    size_t *term_lens;
    size_t nterms;
    const char *kind, *domain, *region, *mode, *holder_type;
    int trl_min, trl_max;                          /* 0 when absent */
    const char *price_min, *price_max, *from, *to; /* decimal / YYYY-MM-DD text, or NULL */
    const char *sort;                              /* relevance | recent */
    json_t *query;                                 /* the parameters as given, normalised (for subscriptions) */
} msearch_t;

/* Parse and check; 0, or -1 after replying 400.  src NULL: the query string.
 * Free with market_search_free (registered on the arena by the parser). */
int market_search_parse_or_reply(http_req_t *req, json_t *src, msearch_t *s) WUR;

/* Bump when a listing becomes public or stops being public, so that cached
 * search totals on every worker are dropped. */
void market_search_invalidate(void);

void api_market_search_init(void);
void api_market_subs_init(void);

#endif
