/* parse.c — the request line and header block, as a pure function: no
 * sockets, no libevent.  Enforces the framing rules that prevent request
 * smuggling: one all-digit Content-Length, never with Transfer-Encoding,
 * only "chunked" as a transfer coding, no obsolete line folding; and RFC 9112
 * §3.2: exactly one valid Host in an HTTP/1.1 request, at most one in 1.0. */
#include "http/parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int parse_method(const char *m, size_t n)
{
    static const struct {
        const char *s;
        int m;
    } M[] = {
        {"GET", HTTP_GET},     {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},       {"PUT", HTTP_PUT},
        {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
    };
    for (size_t i = 0; i < ARRAY_LEN(M); i++)
        if (strlen(M[i].s) == n && !memcmp(M[i].s, m, n)) return M[i].m;
    return 0;
}

/* Host = uri-host [ ":" port ]: a reg-name, IPv4 or [IP-literal], RFC 3986. */
static bool host_ok(const char *v)
{
    const char *p = v;
    if (*p == '[') {
        p++;
        size_t n = strspn(p, "0123456789abcdefABCDEF:.vV");
        if (!n || p[n] != ']') return false;
        p += n + 1;
    } else {
        while (*p && *p != ':') {
            unsigned char ch = (unsigned char)*p;
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  strchr("-._~%!$&'()*+,;=", ch)))
                return false;
            p++;
        }
    }
    if (*p == ':') {
        p++;
        if (strspn(p, "0123456789") != strlen(p) || strlen(p) > 5) return false;
        return true;
    }
    return *p == '\0';
}

int http_parse_head(http_req_t *r, char *h, size_t n, size_t max_body, http_framing_t *fr, const char **why)
{
    char *end = h + n;
    if (n < 4 || memcmp(h + n - 4, "\r\n\r\n", 4) != 0) return *why = "incomplete request head", 400;
    char *eol = memmem(h, n, "\r\n", 2);
    /* request line: METHOD SP target SP HTTP/1.x */
    char *sp1 = memchr(h, ' ', (size_t)(eol - h));
    if (!sp1) return *why = "malformed request line", 400;
    char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (!sp2) return *why = "malformed request line", 400;
    for (char *p = h; p < sp1; p++)
        if (!is_tchar((unsigned char)*p)) return *why = "malformed method", 400;
    r->method = parse_method(h, (size_t)(sp1 - h));
    *sp1 = '\0';
    r->method_name = h;
    if (!r->method) return *why = "method not implemented", 501;
    r->target = sp1 + 1;
    *sp2 = '\0';
    if (r->target[0] != '/') return *why = "request target must be an absolute path", 400;
    for (char *p = r->target; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return *why = "invalid character in request target", 400;
    size_t vlen = (size_t)(eol - sp2 - 1);
    const char *ver = sp2 + 1;
    bool http10;
    if (vlen != 8 || memcmp(ver, "HTTP/", 5) || ver[5] < '0' || ver[5] > '9' || ver[6] != '.' || ver[7] < '0' ||
        ver[7] > '9')
        return *why = "malformed HTTP version", 400;
    if (!memcmp(ver, "HTTP/1.1", 8)) http10 = false;
    else if (!memcmp(ver, "HTTP/1.0", 8))
        http10 = true;
    else
        return *why = "HTTP version not supported (use HTTP/1.1)", 505;

    /* headers */
    int cap = 16;
    r->headers = arena_alloc(r->arena, sizeof(http_header_t) * (size_t)cap);
    int ncl = 0, nte = 0, nhost = 0;
    const char *cl = NULL, *te = NULL, *conn_hdr = NULL, *host = NULL;
    char *p = eol + 2;
    while (p < end) {
        char *le = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (le == p) break; /* blank line: end of headers */
        if (*p == ' ' || *p == '\t') return *why = "obsolete header line folding", 400;
        char *colon = memchr(p, ':', (size_t)(le - p));
        if (!colon || colon == p) return *why = "malformed header line", 400;
        for (char *q = p; q < colon; q++)
            if (!is_tchar((unsigned char)*q)) return *why = "invalid header name", 400;
        char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        for (char *q = v; q < ve; q++) {
            unsigned char ch = (unsigned char)*q;
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return *why = "invalid character in header value", 400;
        }
        if (r->nheaders == cap) {
            if (cap >= 128) return *why = "too many header fields", 431;
            http_header_t *nh = arena_alloc(r->arena, sizeof(http_header_t) * (size_t)cap * 2);
            memcpy(nh, r->headers, sizeof(http_header_t) * (size_t)cap);
            r->headers = nh;
            cap *= 2;
        }
        *colon = '\0';
        *ve = '\0';
        http_header_t *hd = &r->headers[r->nheaders++];
        hd->name = p;
        hd->name_len = (size_t)(colon - p);
        hd->value = v;
        hd->value_len = (size_t)(ve - v);
        if (!strcasecmp(p, "content-length")) ncl++, cl = v;
        else if (!strcasecmp(p, "transfer-encoding"))
            nte++, te = v;
        else if (!strcasecmp(p, "connection"))
            conn_hdr = v;
        else if (!strcasecmp(p, "host"))
            nhost++, host = v;
        p = le + 2;
    }

    if (nhost > 1) return *why = "more than one Host header", 400;
    if (!nhost && !http10) return *why = "an HTTP/1.1 request needs a Host header", 400;
    if (host && !host_ok(host)) return *why = "invalid Host header", 400;

    /* connection persistence */
    fr->keep_alive = !http10;
    if (conn_hdr) {
        if (strcasestr(conn_hdr, "close")) fr->keep_alive = false;
        else if (http10 && strcasestr(conn_hdr, "keep-alive"))
            fr->keep_alive = true;
    }

    /* framing: the request-smuggling rules */
    fr->chunked = false;
    fr->content_length = 0;
    if (nte && (ncl || http10)) return *why = "both Content-Length and Transfer-Encoding", 400;
    if (ncl > 1) return *why = "more than one Content-Length", 400;
    if (nte > 1) return *why = "more than one Transfer-Encoding", 400;
    if (nte) {
        if (strcasecmp(te, "chunked") != 0) return *why = "unsupported transfer coding", 501;
        fr->chunked = true;
    }
    if (ncl) {
        uint64_t v;
        if (util_parse_u64(cl, strlen(cl), &v) != 0) return *why = "invalid Content-Length", 400;
        if (v > max_body) return *why = "request body too large", 413;
        fr->content_length = v;
    }
    return 0;
}
