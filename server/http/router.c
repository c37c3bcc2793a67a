/* router.c — method + path-template matching.
 * Templates are split into segments once; "{name}" matches one non-empty
 * segment, which is percent-decoded (and must be valid UTF-8 without NUL)
 * before the handler sees it.  A linear scan over the routes (~150): segments
 * are compared from the last one back ("/api/v1/" is common to nearly all),
 * each literal's length is kept and its first byte compared before the rest
 * (strlen and memcmp per segment were a quarter of the server's CPU in a
 * result GET's profile: bench/README.md). */
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 256

static route_t *g_routes[MAX_ROUTES];
static int g_nroutes;

const char *http_method_name(int m)
{
    switch (m) {
    case HTTP_GET: return "GET";
    case HTTP_HEAD: return "HEAD";
    case HTTP_POST: return "POST";
    case HTTP_PUT: return "PUT";
    case HTTP_PATCH: return "PATCH";
    case HTTP_DELETE: return "DELETE";
    case HTTP_OPTIONS: return "OPTIONS";
    }
    return "?";
}

void router_add(route_t *routes, size_t n)
{
    for (size_t i = 0; i < n && g_nroutes < MAX_ROUTES; i++) {
        route_t *r = &routes[i];
        r->index = g_nroutes;
        r->nseg = 0;
        const char *p = r->path;
        while (*p == '/' && r->nseg < ROUTE_MAX_SEGS) {
            const char *e = strchr(p + 1, '/');
            size_t len = e ? (size_t)(e - p - 1) : strlen(p + 1);
            r->seglen[r->nseg] = len;
            r->seg[r->nseg++] = strndup(p + 1, len);
            p += len + 1;
        }
        g_routes[g_nroutes++] = r;
    }
}

int router_count(void)
{
    return g_nroutes;
}
const route_t *router_get(int i)
{
    return g_routes[i];
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into the arena; NULL if malformed, NUL or bad UTF-8. */
static char *decode(arena_t *a, const char *s, size_t n, bool plus_is_space)
{
    char *out = arena_alloc(a, n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) return NULL;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0) return NULL;
            char ch = (char)(h * 16 + l);
            if (!ch) return NULL;
            *o++ = ch;
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            *o++ = ' ';
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    if (!util_utf8_valid(out, (size_t)(o - out))) return NULL;
    return out;
}

const route_t *router_match(arena_t *a, int method, const char *path, const char **params, int *nparams, int *allow)
{
    const char *segs[ROUTE_MAX_SEGS + 1];
    size_t lens[ROUTE_MAX_SEGS + 1];
    int nseg = 0;
    *allow = 0;
    const char *p = path;
    while (*p == '/') {
        if (nseg > ROUTE_MAX_SEGS) return NULL;
        const char *e = strchr(p + 1, '/');
        size_t len = e ? (size_t)(e - p - 1) : strlen(p + 1);
        segs[nseg] = p + 1;
        lens[nseg] = len;
        nseg++;
        p += len + 1;
    }
    if (nseg > ROUTE_MAX_SEGS) return NULL;
    for (int i = 0; i < g_nroutes; i++) {
        const route_t *r = g_routes[i];
        if (r->nseg != nseg) continue;
        int np = 0, k = nseg - 1;
        /* from the last segment back: "/api/v1/" is common to nearly every route */
        for (; k >= 0; k--) {
            const char *t = r->seg[k];
            if (t[0] == '{') {
                if (lens[k] == 0) break;
                np++;
            } else if (r->seglen[k] != lens[k] ||
                       (lens[k] && (t[0] != segs[k][0] || memcmp(t, segs[k], lens[k]) != 0))) {
                break;
            }
        }
        if (k >= 0) continue;
        if (r->method != method) {
            *allow |= r->method;
            continue;
        }
        *nparams = 0;
        for (k = 0; k < nseg; k++) {
            if (r->seg[k][0] != '{') continue;
            char *v = decode(a, segs[k], lens[k], false);
            if (!v) {
                *allow = -1;
                return NULL;
            }
            if (*nparams < ROUTE_MAX_PARAMS) params[(*nparams)++] = v;
        }
        (void)np;
        return r;
    }
    return NULL;
}

const char *http_query_param(http_req_t *req, const char *name, bool *bad)
{
    *bad = false;
    if (!req->query) return NULL;
    size_t nl = strlen(name);
    const char *p = req->query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t kl = eq ? (size_t)(eq - p) : len;
        if (kl == nl && !memcmp(p, name, nl)) {
            const char *v = eq ? eq + 1 : p + len;
            size_t vl = eq ? len - kl - 1 : 0;
            char *out = decode(req->arena, v, vl, true);
            if (!out) *bad = true;
            return out;
        }
        if (!amp) break;
        p = amp + 1;
    }
    return NULL;
}

int http_query_or_reply(http_req_t *req, const char *name, const char **out)
{
    bool bad;
    *out = http_query_param(req, name, &bad);
    if (bad) {
        json_t *errs = NULL;
        http_error_add(&errs, name, "invalid_encoding", "not valid percent-encoded UTF-8");
        http_problem(req, 400, "invalid query parameter", errs);
        return -1;
    }
    return 0;
}
