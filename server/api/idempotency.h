/* idempotency.h — Idempotency-Key for requests that create something.
 *
 * The server side of migrations/functions/idempotency.sql.  A create handler:
 *
 *     idem_t k;
 *     if (idem_key_or_reply(req, &k) != 0) return;      // 400 on a malformed key
 *     const char *v[] = {..., k.key, k.hash};            // NULL, NULL without the header
 *     api_query(req, ST_CREATE, n, v, idem_reply);
 *
 * where ST_CREATE runs an SQL function that calls idem_begin()/idem_finish()
 * and returns (status int, body text, replayed boolean).  idem_reply() sends
 * that body with that status, an ETag from its "version", and
 * "Idempotent-Replayed: true" on a replay.  The same key with another body
 * (or route) is 422, raised by idem_begin(); keys are per user and kept
 * 24 h (setting idempotency_ttl_h).
 *
 * The request hash covers the method, the route template and the body in a
 * canonical form (keys sorted, no spaces), so a replay that only reorders
 * the JSON keys is still the same request. */
#ifndef YZ_IDEMPOTENCY_H
#define YZ_IDEMPOTENCY_H

#include "api/api.h"

typedef struct {
    const char *key;  /* the header value, or NULL when absent (arena) */
    const char *hash; /* hex SHA-256 of the request, or NULL when no key (arena) */
} idem_t;

/* Read and check Idempotency-Key: 1-200 visible ASCII characters.  0, or
 * -1 after replying 400. */
int idem_key_or_reply(http_req_t *req, idem_t *out) WUR;
/* Reply from a row (status int, body text, replayed boolean). */
void idem_reply(http_req_t *req, PGresult *res);

#endif
