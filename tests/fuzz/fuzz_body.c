/* Fuzz the request-body gate: UTF-8 check, nesting limit, then jansson with
 * duplicate keys refused — what every JSON body passes before a handler. */
#include "util/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    const char *s = (const char *)data;
    if (memchr(s, '\0', n) || !util_utf8_valid(s, n) || !util_json_depth_ok(s, n, 32)) return 0;
    json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
    if (j) {
        char *out = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!out || !util_utf8_valid(out, strlen(out))) abort();
        free(out);
        json_decref(j);
    }
    return 0;
}
