/* Fuzz the RFC 8785 canonical form: for any JSON jansson accepts, the
 * canonical bytes parse again and canonicalise to themselves. */
#include "domain/canonical.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    json_t *v = json_loadb((const char *)data, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!v) return 0;
    buf_t a, b;
    buf_init(&a);
    buf_init(&b);
    if (canonical_json(v, &a) == 0) {
        json_t *w = json_loadb(a.data, a.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
        if (!w) abort(); /* output is JSON */
        if (canonical_json(w, &b) != 0) abort();
        if (a.len != b.len || memcmp(a.data, b.data, a.len)) abort(); /* idempotent */
        if (!util_utf8_valid(a.data, a.len)) abort();
        json_decref(w);
    }
    buf_free(&a);
    buf_free(&b);
    json_decref(v);
    return 0;
}
