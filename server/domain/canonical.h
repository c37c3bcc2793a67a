/* canonical.h — RFC 8785 JSON Canonicalization Scheme (JCS) for the values a
 * certificate holds: objects, arrays, strings, integers, true/false/null.
 * Pure code.  Non-integer numbers are refused (money is integer fen). */
#ifndef YZ_CANONICAL_H
#define YZ_CANONICAL_H

#include "util/buf.h"

#include <jansson.h>

/* Append the canonical bytes of v to out; -1 for values JCS cannot carry
 * here (reals, invalid strings) or nesting deeper than 32. */
int canonical_json(const json_t *v, buf_t *out) __attribute__((warn_unused_result));

#endif
