/* idempotency.c — see idempotency.h. */
#include "api/idempotency.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int idem_key_or_reply(http_req_t *req, idem_t *out)
{
    out->key = out->hash = NULL;
    const char *k = http_header(req, "idempotency-key");
    if (!k) return 0;
    size_t n = strlen(k);
    bool ok = n >= 1 && n <= 200;
    for (size_t i = 0; ok && i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e) ok = false;
    if (!ok) {
        json_t *e = NULL;
        http_error_add(&e, "Idempotency-Key", "invalid", "must be 1 to 200 visible ASCII characters");
        http_problem(req, 400, "invalid Idempotency-Key header", e);
        return -1;
    }
    char *body = req->json ? json_dumps(req->json, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) : NULL;
    buf_t m;
    buf_init(&m);
    buf_printf(&m, "%s %s\n", req->method_name, req->route->path);
    if (body) buf_puts(&m, body);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)buf_cstr(&m), m.len, md);
    buf_free(&m);
    free(body);
    char *hex = arena_alloc(req->arena, 2 * SHA256_DIGEST_LENGTH + 1);
    util_hex(md, sizeof md, hex);
    out->key = k;
    out->hash = hex;
    return 0;
}

void idem_reply(http_req_t *req, PGresult *res)
{
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1)) {
        http_problem(req, 500, "no answer was stored for this request", NULL);
        return;
    }
    int status = atoi(PQgetvalue(res, 0, 0));
    const char *body = PQgetvalue(res, 0, 1);
    if (!strcmp(PQgetvalue(res, 0, 2), "t")) http_add_header(req, "Idempotent-Replayed", "true");
    api_add_etag(req, body);
    http_reply_json(req, status, body, (size_t)PQgetlength(res, 0, 1));
}
