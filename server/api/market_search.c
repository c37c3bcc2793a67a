/* market_search.c — GET /api/v1/search, and the ranked matches of a need or
 * a result.
 *
 * The query text is tokenised here (domain/cjk.c: CJK bigrams, words as
 * prefixes of their suffixes, full-width folded) into a tsquery; the filters
 * become lexemes of the same tsquery (#d:domain, #r:region prefix, ...) so
 * that the one GIN index of search_docs answers text and filters together;
 * terms the tokens do not settle become LIKE patterns that the database
 * checks on the normalised text.  Results are therefore exactly the rows a
 * substring match would give (tests/integration/test_market_search.py and
 * bench/search check it on generated corpora).
 *
 * One statement per request: market_search() (migrations/functions/search.sql)
 * returns the page's hits (each its kept item and text; the snippets are cut
 * here, domain/cjk.c), the next key and — when asked — total and facets.
 * Counting is capped (search_count_cap) and its result kept per worker for
 * search_stats_ttl_s seconds in a small cache keyed by the normalised query,
 * so paging through a search, or many people running the same search, does
 * not recount; any listing becoming (or ceasing to be) public empties every
 * worker's cache. */
#include "api/market.h"

#include "auth/auth.h"
#include "domain/cjk.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ST_SEARCH, ST_SEARCH_COUNT, ST_MATCHES;

/* --- parameters ----------------------------------------------------------------- */

static void search_free(void *arg)
{
    msearch_t *s = arg;
    buf_free(&s->tsq);
    buf_free(&s->title_tsq);
    if (s->query) json_decref(s->query);
}

/* A parameter as text: from the query string, or from a JSON object (where
 * numbers are accepted as integers). */
static int param(http_req_t *req, json_t *src, const char *name, bool integer, const char **out)
{
    *out = NULL;
    if (!src) return http_query_or_reply(req, name, out);
    json_t *v = json_object_get(src, name);
    if (!v || json_is_null(v)) return 0;
    if (integer && json_is_integer(v)) {
        *out = arena_printf(req->arena, "%lld", (long long)json_integer_value(v));
        return 0;
    }
    if (!integer && json_is_string(v)) {
        *out = json_string_value(v);
        return 0;
    }
    json_t *e = NULL;
    http_error_add(&e, name, "wrong_type", integer ? "must be an integer" : "must be a string");
    http_problem(req, 400, "the request body has unknown or mistyped fields", e);
    return -1;
}

/* GB/T 2260 code with trailing "00" pairs stripped (SQL region_prefix()):
 * 510000 -> 51, 511900 -> 5119, 511902 -> 511902. */
static void region_prefix(const char *code, char out[8])
{
    size_t n = 6;
    if (!strcmp(code + 2, "0000")) n = 2;
    else if (!strcmp(code + 4, "00"))
        n = 4;
    memcpy(out, code, n);
    out[n] = '\0';
}

static void and_lexeme(buf_t *b, const char *lexeme)
{
    if (b->len) buf_puts(b, " & ");
    buf_puts(b, lexeme);
}

int market_search_parse_or_reply(http_req_t *req, json_t *src, msearch_t *s)
{
    memset(s, 0, sizeof *s);
    buf_init(&s->tsq);
    buf_init(&s->title_tsq);
    arena_on_dispose(req->arena, search_free, s);
    s->patterns = s->all_patterns = s->terms = "[]";
    const char *trl_min, *trl_max, *sort;
    if (param(req, src, "q", false, &s->q) || param(req, src, "kind", false, &s->kind) ||
        param(req, src, "domain", false, &s->domain) || param(req, src, "region", false, &s->region) ||
        param(req, src, "trl_min", true, &trl_min) || param(req, src, "trl_max", true, &trl_max) ||
        param(req, src, "mode", false, &s->mode) || param(req, src, "price_min", true, &s->price_min) ||
        param(req, src, "price_max", true, &s->price_max) || param(req, src, "holder_type", false, &s->holder_type))
        return -1;
    if (!src && (http_query_or_reply(req, "from", &s->from) || http_query_or_reply(req, "to", &s->to) ||
                 http_query_or_reply(req, "sort", &sort)))
        return -1;
    if (src) sort = NULL;

    json_t *errs = NULL;
    cjk_query_t q;
    memset(&q, 0, sizeof q);
    bool have_q = false;
    if (s->q && *s->q) {
        const char *why = NULL;
        if (cjk_query_parse(s->q, strlen(s->q), &q, &why) != 0) {
            http_error_add(&errs, "q", "invalid", why);
        } else if (!q.indexed) {
            http_error_add(&errs, "q", "no_searchable_character",
                           "the query needs at least one letter, digit or CJK character");
        } else {
            have_q = true;
        }
    }
    if (s->kind && strcmp(s->kind, "result") && strcmp(s->kind, "need"))
        http_error_add(&errs, "kind", "invalid", "kind must be result or need");
    api_check(&errs, "domain", v_code(s->domain));
    api_check(&errs, "mode", v_code(s->mode));
    api_check(&errs, "region", v_region(s->region));
    api_check(&errs, "holder_type", v_org_type(s->holder_type));
    uint64_t v;
    int lo = 0, hi = 0;
    if (trl_min && (util_parse_u64(trl_min, strlen(trl_min), &v) || v < 1 || v > 9))
        http_error_add(&errs, "trl_min", "out_of_range", "trl_min must be an integer from 1 to 9");
    else if (trl_min)
        lo = (int)v;
    if (trl_max && (util_parse_u64(trl_max, strlen(trl_max), &v) || v < 1 || v > 9))
        http_error_add(&errs, "trl_max", "out_of_range", "trl_max must be an integer from 1 to 9");
    else if (trl_max)
        hi = (int)v;
    if (lo && hi && lo > hi) http_error_add(&errs, "trl_min", "out_of_order", "trl_min must not exceed trl_max");
    uint64_t pmin = 0, pmax = 0;
    bool pmin_ok = !api_check(&errs, "price_min", v_amount_text(s->price_min, &pmin));
    bool pmax_ok = !api_check(&errs, "price_max", v_amount_text(s->price_max, &pmax));
    bool prices = pmin_ok && pmax_ok;
    if (prices && s->price_min && s->price_max && pmin > pmax)
        http_error_add(&errs, "price_min", "out_of_order", "price_min must not exceed price_max");
    /* both checked, so that both fields' problems are listed */
    bool from_ok = !api_check(&errs, "from", v_date(s->from));
    bool to_ok = !api_check(&errs, "to", v_date(s->to));
    bool dates = from_ok && to_ok;
    if (dates && s->from && s->to && strcmp(s->from, s->to) > 0)
        http_error_add(&errs, "from", "out_of_order", "from must not be after to");
    if (sort && strcmp(sort, "relevance") && strcmp(sort, "recent"))
        http_error_add(&errs, "sort", "invalid", "sort must be relevance or recent");
    if (errs) {
        cjk_query_free(&q);
        http_problem(req, 400, src ? "the saved search is not valid" : "invalid query parameter", errs);
        return -1;
    }
    s->trl_min = lo, s->trl_max = hi;
    s->sort = sort ? sort : have_q ? "relevance" : "recent";

    /* The filters as lexemes. */
    buf_t f;
    buf_init(&f);
    if (s->kind) buf_printf(&f, "%s'#k:%s'", f.len ? " & " : "", s->kind);
    if (s->domain) buf_printf(&f, "%s'#d:%s'", f.len ? " & " : "", s->domain);
    if (s->region) {
        char prefix[8];
        region_prefix(s->region, prefix);
        buf_printf(&f, "%s'#r:%s'", f.len ? " & " : "", prefix);
    }
    if (s->mode) buf_printf(&f, "%s'#m:%s'", f.len ? " & " : "", s->mode);
    if (s->holder_type) buf_printf(&f, "%s'#h:%s'", f.len ? " & " : "", s->holder_type);
    if (lo || hi) {
        int a = lo ? lo : 1, b = hi ? hi : 9;
        buf_puts(&f, f.len ? " & (" : "(");
        for (int t = a; t <= b; t++) buf_printf(&f, "%s'#t:%d'", t > a ? " | " : "", t);
        buf_putc(&f, ')');
    }
    if (have_q) {
        buf_puts(&s->tsq, q.tsquery.data);
        buf_puts(&s->title_tsq, q.title_tsquery.data);
        if (f.len) {
            and_lexeme(&s->tsq, buf_cstr(&f));
            and_lexeme(&s->title_tsq, buf_cstr(&f));
        }
        s->patterns = arena_strdup(req->arena, q.patterns.data);
        s->terms = arena_strdup(req->arena, q.terms.data);
        /* every term as a pattern: the title test of relevance */
        json_error_t je;
        json_t *terms = json_loads(q.terms.data, 0, &je);
        buf_t all;
        buf_init(&all);
        buf_putc(&all, '[');
        size_t i;
        json_t *t;
        s->nterms = json_array_size(terms);
        s->term_list = arena_calloc(req->arena, (s->nterms ? s->nterms : 1) * sizeof *s->term_list);
        s->term_lens = arena_calloc(req->arena, (s->nterms ? s->nterms : 1) * sizeof *s->term_lens);
        json_array_foreach(terms, i, t) {
            s->term_list[i] = arena_strdup(req->arena, json_string_value(t));
            s->term_lens[i] = strlen(s->term_list[i]);
            buf_t p;
            buf_init(&p);
            cjk_like_pattern(json_string_value(t), json_string_length(t), &p);
            if (i) buf_putc(&all, ',');
            buf_json_strn(&all, p.data, p.len);
            buf_free(&p);
        }
        buf_putc(&all, ']');
        json_decref(terms);
        s->all_patterns = arena_strdup(req->arena, buf_cstr(&all));
        buf_free(&all);
    } else if (f.len) {
        buf_puts(&s->tsq, buf_cstr(&f));
    }
    buf_free(&f);
    cjk_query_free(&q);

    /* The search as given, for a subscription to show back. */
    s->query = json_object();
    if (have_q) json_object_set_new(s->query, "q", json_string(s->q));
    if (s->kind) json_object_set_new(s->query, "kind", json_string(s->kind));
    if (s->domain) json_object_set_new(s->query, "domain", json_string(s->domain));
    if (s->region) json_object_set_new(s->query, "region", json_string(s->region));
    if (lo) json_object_set_new(s->query, "trl_min", json_integer(lo));
    if (hi) json_object_set_new(s->query, "trl_max", json_integer(hi));
    if (s->mode) json_object_set_new(s->query, "mode", json_string(s->mode));
    if (s->price_min) json_object_set_new(s->query, "price_min", json_integer((json_int_t)pmin));
    if (s->price_max) json_object_set_new(s->query, "price_max", json_integer((json_int_t)pmax));
    if (s->holder_type) json_object_set_new(s->query, "holder_type", json_string(s->holder_type));
    return 0;
}

/* --- the per-worker cache of totals and facets ---------------------------------- */

#define STATS_SLOTS 512

typedef struct {
    char *key;
    char *total, *facets;
    long long hint;                /* exact total, or -1 when above the cap */
    long long title_hint;          /* exact number of title hits, or -1 */
    char rate[32], title_rate[32]; /* hits and title hits per day ("" unknown) */
    uint64_t expires_ns;
    uint64_t refresh_ns; /* when a request set out to recount an expired entry (0: none) */
    unsigned long gen;
} stats_entry_t;

static _Atomic unsigned long g_stats_gen = 1;
/* One table per worker thread, found through a pthread key whose destructor
 * frees it (and its strings) when the worker exits. */
static pthread_key_t g_stats_key;
static pthread_once_t g_stats_once = PTHREAD_ONCE_INIT;

static void stats_table_free(void *p)
{
    stats_entry_t *t = p;
    for (int i = 0; i < STATS_SLOTS; i++) {
        free(t[i].key);
        free(t[i].total);
        free(t[i].facets);
    }
    free(t);
}

static void stats_key_init(void)
{
    if (pthread_key_create(&g_stats_key, stats_table_free)) abort();
}

void market_search_invalidate(void)
{
    atomic_fetch_add(&g_stats_gen, 1);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static stats_entry_t *stats_slot(const char *key)
{
    pthread_once(&g_stats_once, stats_key_init);
    stats_entry_t *t = pthread_getspecific(g_stats_key);
    if (!t) {
        t = calloc(STATS_SLOTS, sizeof *t);
        if (!t || pthread_setspecific(g_stats_key, t)) {
            free(t);
            return NULL;
        }
    }
    return &t[fnv1a(key) % STATS_SLOTS];
}

static stats_entry_t *stats_get(const char *key)
{
    stats_entry_t *e = stats_slot(key);
    if (!e || !e->key || strcmp(e->key, key)) return NULL;
    if (e->gen != atomic_load(&g_stats_gen)) return NULL; /* a listing changed: recount */
    uint64_t now = util_now_ns();
    if (now < e->expires_ns) return e;
    /* Expired: one request recounts while the others are still served the
     * old figures, so that a popular query does not send every request that
     * arrives meanwhile to count at once.  A recount that never came back
     * (an error) is given up after 5 s. */
    if (e->refresh_ns && now - e->refresh_ns < 5000000000ull) return e;
    e->refresh_ns = now;
    return NULL;
}

static void stats_put(const char *key, const char *total, const char *facets, long long hint, long long title_hint,
                      const char *rate, const char *title_rate, int ttl_s)
{
    stats_entry_t *e = stats_slot(key);
    if (!e) return;
    free(e->key), free(e->total), free(e->facets);
    if (ttl_s <= 0) { /* caching off: forget the old figures too */
        memset(e, 0, sizeof *e);
        return;
    }
    e->key = strdup(key);
    e->total = strdup(total);
    e->facets = strdup(facets);
    if (!e->key || !e->total || !e->facets) {
        free(e->key), free(e->total), free(e->facets);
        memset(e, 0, sizeof *e);
        return;
    }
    e->hint = hint;
    e->title_hint = title_hint;
    snprintf(e->rate, sizeof e->rate, "%s", rate);
    snprintf(e->title_rate, sizeof e->title_rate, "%s", title_rate);
    e->gen = atomic_load(&g_stats_gen);
    e->expires_ns = util_now_ns() + (uint64_t)ttl_s * 1000000000ull;
    e->refresh_ns = 0;
}

/* --- GET /search ----------------------------------------------------------------------- */

typedef struct {
    msearch_t s;
    const char *key; /* cache key */
    bool cached;     /* total and facets from the cache (copies) */
    const char *total, *facets;
    char sort_letter;
    const char *limit, *cursor; /* checked query parameters, for search_send() */
} search_ctx_t;

/* A length-prefixed field of market_search()'s hits: "<bytes>:<bytes of text>". */
static int take_field(const char **p, const char *end, const char **text, size_t *len)
{
    size_t n = 0;
    const char *q = *p;
    if (q == end || *q < '0' || *q > '9') return -1;
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        n = n * 10 + (size_t)(*q - '0');
        if (n > (size_t)(end - *p)) return -1;
    }
    if (q == end || *q != ':' || n > (size_t)(end - q - 1)) return -1;
    *text = q + 1;
    *len = n;
    *p = q + 1 + n;
    return 0;
}

/* The page's items as JSON: each hit's item (a JSON object) with its snippet
 * and matched_in added.  hits: market_search()'s records (functions/search.sql),
 * "<t|x|n><bytes>:<item><bytes>:<body>" each.  -1 when malformed. */
static int put_hits(buf_t *b, const char *hits, size_t n, const msearch_t *s)
{
    const char *p = hits, *end = hits + n;
    buf_putc(b, '[');
    for (size_t i = 0; p < end; i++) {
        char tier = *p++;
        const char *item, *body;
        size_t ilen, blen;
        if ((tier != 't' && tier != 'x' && tier != 'n') || take_field(&p, end, &item, &ilen) ||
            take_field(&p, end, &body, &blen) || ilen < 2 || item[0] != '{' || item[ilen - 1] != '}')
            return -1;
        if (i) buf_puts(b, ", ");
        buf_append(b, item, ilen - 1);
        buf_puts(b, ", \"snippet\": ");
        if (blen) {
            buf_t sn;
            buf_init(&sn);
            cjk_snippet(body, blen, s->term_list, s->term_lens, s->nterms, &sn);
            buf_json_strn(b, sn.data, sn.len);
            buf_free(&sn);
        } else {
            buf_puts(b, "null");
        }
        buf_puts(b, tier == 't'   ? ", \"matched_in\": \"title\"}"
                    : tier == 'x' ? ", \"matched_in\": \"text\"}"
                                  : ", \"matched_in\": null}");
    }
    buf_putc(b, ']');
    return 0;
}

static void search_done(http_req_t *req, PGresult *res)
{
    search_ctx_t *c = req->ctx;
    if (PQntuples(res) != 1) {
        http_problem(req, 500, "the search returned nothing", NULL);
        return;
    }
    const char *total, *facets;
    if (c->cached) {
        total = c->total;
        facets = c->facets;
    } else {
        total = PQgetvalue(res, 0, 2);
        facets = PQgetvalue(res, 0, 3);
        json_error_t je;
        json_t *t = json_loads(total, 0, &je);
        long long hint = json_is_true(json_object_get(t, "exact")) ? json_integer_value(json_object_get(t, "value"))
                                                                   : -1;
        json_decref(t);
        stats_put(c->key, total, facets, hint, PQgetisnull(res, 0, 5) ? -1 : atoll(PQgetvalue(res, 0, 5)),
                  PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 7), atoi(PQgetvalue(res, 0, 4)));
    }
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "{\"items\":");
    if (put_hits(&b, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), &c->s)) {
        buf_free(&b);
        http_problem(req, 500, "the search returned a malformed page", NULL);
        return;
    }
    buf_puts(&b, ",\"next_cursor\":");
    if (!PQgetisnull(res, 0, 1)) {
        buf_json_str(&b, api_cursor_sign_sorted(req, c->sort_letter, PQgetvalue(res, 0, 1)));
    } else {
        buf_puts(&b, "null");
    }
    buf_puts(&b, ",\"total\":");
    buf_puts(&b, total);
    buf_puts(&b, ",\"facets\":");
    buf_puts(&b, facets);
    buf_puts(&b, ",\"sort\":");
    buf_json_str(&b, c->s.sort);
    buf_puts(&b, ",\"terms\":");
    buf_puts(&b, c->s.terms);
    buf_putc(&b, '}');
    http_reply_json(req, 200, b.data, b.len);
    buf_free(&b);
}

static void search_send(http_req_t *req);

static void search(http_req_t *req)
{
    search_ctx_t *c = arena_calloc(req->arena, sizeof *c);
    const char *limit, *cursor;
    if (market_search_parse_or_reply(req, NULL, &c->s) || api_limit_or_reply(req, &limit) ||
        api_cursor_or_reply(req, &cursor))
        return;
    c->limit = limit;
    c->cursor = cursor;
    /* filter codes that name nothing are 400 (search_check_filters in SQL):
     * answered from the known codes rather than by a failing statement */
    const msearch_t *s = &c->s;
    const api_code_ref_t refs[] = {{"domain", "domains", NULL, s->domain},
                                   {"region", "regions", NULL, s->region},
                                   {"mode", "transfer_modes", "cooperation_modes", s->mode},
                                   {"holder_type", "org_types", NULL, s->holder_type}};
    req->ctx = c;
    if (!s->domain && !s->region && !s->mode && !s->holder_type) {
        search_send(req);
        return;
    }
    api_codes_check(req, refs, (int)ARRAY_LEN(refs), 400, search_send);
}

static void search_send(http_req_t *req)
{
    search_ctx_t *c = req->ctx;
    const char *limit = c->limit, *cursor = c->cursor;
    msearch_t *s = &c->s;
    c->sort_letter = !strcmp(s->sort, "relevance") ? 'r' : 't'; /* 't': time (recent) */
    const char *after = NULL;
    if (cursor) {
        /* "<sort letter>|<tier>,<epoch us>,<sid>" */
        after = api_cursor_sorted_key(cursor, c->sort_letter);
        bool ok = after && *after;
        if (ok) {
            int commas = 0;
            for (const char *p = after; *p; p++) {
                if (*p == ',') commas++;
                else if (*p < '0' || *p > '9')
                    ok = false;
            }
            ok = ok && commas == 2;
        }
        if (!ok) {
            api_bad_param(req, "cursor", "invalid", "the cursor belongs to a search with another sort order");
            return;
        }
    }
    const char *tsq = s->tsq.len ? buf_cstr(&s->tsq) : NULL;
    c->key = arena_printf(req->arena, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", tsq ? tsq : "", s->patterns,
                          s->price_min ? s->price_min : "", s->price_max ? s->price_max : "", s->from ? s->from : "",
                          s->to ? s->to : "", s->region ? s->region : "", s->terms);
    /* what the cache holds is copied: another request of this worker may
     * replace the entry while this one waits for the database */
    const char *hint = NULL, *title_hint = NULL, *rate = NULL, *title_rate = NULL;
    stats_entry_t *hit = stats_get(c->key);
    if (hit) {
        c->cached = true;
        c->total = arena_strdup(req->arena, hit->total);
        c->facets = arena_strdup(req->arena, hit->facets);
        hint = arena_printf(req->arena, "%lld", hit->hint);
        title_hint = arena_printf(req->arena, "%lld", hit->title_hint);
        if (hit->rate[0]) rate = arena_strdup(req->arena, hit->rate);
        if (hit->title_rate[0]) title_rate = arena_strdup(req->arena, hit->title_rate);
    }
    const char *v[20] = {tsq,
                         s->title_tsq.len ? buf_cstr(&s->title_tsq) : NULL,
                         s->patterns,
                         s->all_patterns,
                         s->price_min,
                         s->price_max,
                         s->from,
                         s->to,
                         s->sort,
                         after,
                         limit,
                         c->cached ? "false" : "true",
                         hint,
                         s->region,
                         s->domain,
                         s->mode,
                         s->holder_type,
                         title_hint,
                         rate,
                         title_rate};
    /* counting (no cached total) reads up to the cap's worth of hits: a slow
     * query, which other requests should not queue behind */
    api_query(req, c->cached ? ST_SEARCH : ST_SEARCH_COUNT, 20, v, search_done);
}

/* --- matches ------------------------------------------------------------------------------ */

static void matches(http_req_t *req)
{
    const char *id, *limit;
    bool need = !strncmp(req->route->path, "/api/v1/needs/", 14);
    if (api_id_param_or_reply(req, 0, need ? "technology need" : "research result", &id) ||
        api_limit_or_reply(req, &limit))
        return;
    api_scope_t sc = api_scope(req);
    const char *v[5] = {need ? "need" : "result", id, sc.org, sc.staff, limit};
    api_query(req, ST_MATCHES, 5, v, api_reply_row_json);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/search", search, ROUTE_OPTIONAL_AUTH, 0},
    {HTTP_GET, "/api/v1/needs/{id}/matches", matches, 0, ROLE_MEMBER | ROLE_ADMIN},
    {HTTP_GET, "/api/v1/results/{id}/matches", matches, 0, ROLE_MEMBER | ROLE_ADMIN},
};

void api_market_search_init(void)
{
    ST_SEARCH = db_stmt_register_replica(
        "SELECT hits, next_key, total, facets, setting_int('search_stats_ttl_s', 10), title_hint, rate, title_rate"
        " FROM market_search($1, $2, ARRAY(SELECT jsonb_array_elements_text($3::jsonb)),"
        " ARRAY(SELECT jsonb_array_elements_text($4::jsonb)), $5::bigint, $6::bigint, $7::date, $8::date, $9, $10,"
        " $11::int, $12::boolean, $13::bigint, $14, $15, $16, $17, $18::bigint, $19::float8, $20::float8)",
        20);
    ST_SEARCH_COUNT = db_stmt_heavy_variant(ST_SEARCH);
    ST_MATCHES = db_stmt_register_replica("SELECT market_matches($1, $2::bigint, $3::bigint, $4::boolean, $5::int)", 5);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
