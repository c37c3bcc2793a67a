/* parse.h — HTTP/1.1 request head parsing (pure; fuzzed in tests/fuzz). */
#ifndef YZ_HTTP_PARSE_H
#define YZ_HTTP_PARSE_H

#include "http/http.h"

typedef struct {
    bool keep_alive;
    bool chunked;
    uint64_t content_length;
} http_framing_t;

/* Parse h[0..n) — a request line and headers ending in CRLF CRLF, modified in
 * place (NULs written) — into r->method, r->target, r->headers.  Returns 0,
 * or the HTTP status to answer with (400, 413, 431, 501, 505) and *why. */
int http_parse_head(http_req_t *r, char *h, size_t n, size_t max_body, http_framing_t *fr, const char **why);

#endif
