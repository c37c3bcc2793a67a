/* Fuzz the HTTP/1.1 request-head parser: any bytes, never a crash, and when
 * it accepts a head the framing it reports is self-consistent. */
#include "http/parse.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    if (n > 20000) return 0;
    char *h = malloc(n + 5);
    memcpy(h, data, n);
    char *end = memmem(h, n, "\r\n\r\n", 4);
    size_t len = end ? (size_t)(end - h) + 4 : (memcpy(h + n, "\r\n\r\n", 4), n + 4);
    h[len] = '\0';
    arena_t *a = arena_new(1024);
    http_req_t r;
    memset(&r, 0, sizeof r);
    r.arena = a;
    http_framing_t fr;
    const char *why = NULL;
    int st = http_parse_head(&r, h, len, 1 << 20, &fr, &why);
    if (st == 0) {
        if (fr.chunked && fr.content_length) abort(); /* never both */
        if (fr.content_length > (1u << 20)) abort();  /* limit honoured */
        if (!r.method || !r.target || r.target[0] != '/') abort();
        for (int i = 0; i < r.nheaders; i++)
            if (!r.headers[i].name || !r.headers[i].value) abort();
    } else if (!why) {
        abort();
    }
    arena_free(a);
    free(h);
    return 0;
}
