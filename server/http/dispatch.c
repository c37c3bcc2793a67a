/* dispatch.c — from a framed request to its handler: request id, route,
 * the JSON body checks every route shares, authorization hook; the client's
 * address behind trusted proxies. */
#include "http/server_int.h"

#include "config.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void (*http_auth_hook)(http_req_t *req);

/* ------------------------------------------------------------------ */
/* Dispatch                                                           */

static bool request_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-' || s[i] == '_' || s[i] == '.' || s[i] == ':'))
            return false;
    return true;
}

static uint32_t g_id_salt;

int dispatch_init(void)
{
    return util_random_bytes((unsigned char *)&g_id_salt, sizeof g_id_salt);
}

static void assign_request_id(http_req_t *req)
{
    const char *rid = http_header(req, "x-request-id");
    if (rid && request_id_ok(rid)) {
        snprintf(req->request_id, sizeof req->request_id, "%s", rid);
        return;
    }
    snprintf(req->request_id, sizeof req->request_id, "%08x%02x%010llx", g_id_salt, req->worker->index,
             (unsigned long long)++req->worker->next_req_id);
}

static void json_dispose(void *p)
{
    json_decref(p);
}

/* application/json, with no charset or charset=utf-8 (RFC 8259 §8.1: JSON
 * between systems is UTF-8; a body declared in another charset would be
 * read wrongly, so it is refused rather than guessed at). */
static bool json_content_type(const char *ct)
{
    if (!ct) return false;
    size_t n = strcspn(ct, ";");
    size_t t = n;
    while (t && (ct[t - 1] == ' ' || ct[t - 1] == '\t')) t--;
    if (t != 16 || strncasecmp(ct, "application/json", 16) != 0) return false;
    for (const char *p = ct + n; *p == ';';) {
        p++;
        while (*p == ' ' || *p == '\t') p++;
        size_t len = strcspn(p, ";");
        if (len >= 8 && !strncasecmp(p, "charset=", 8)) {
            const char *v = p + 8;
            size_t vl = len - 8;
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') v++, vl -= 2;
            if (!((vl == 5 && !strncasecmp(v, "utf-8", 5)) || (vl == 4 && !strncasecmp(v, "utf8", 4)))) return false;
        }
        p += len;
    }
    return true;
}

/* Our words for jansson's errors: its own texts name its internals
 * ("…without JSON_ALLOW_NUL"). */
static const char *json_error_words(const json_error_t *e)
{
    switch (json_error_code(e)) {
    case json_error_premature_end_of_input: return "the JSON text ends too early";
    case json_error_end_of_input_expected: return "text follows the JSON value";
    case json_error_invalid_utf8: return "invalid UTF-8";
    case json_error_null_character:
    case json_error_null_byte_in_key: return "\\u0000 (NUL) is not allowed in strings";
    case json_error_duplicate_key: return "a key appears twice in one object";
    case json_error_numeric_overflow: return "a number is too large";
    case json_error_stack_overflow: return "nested too deeply";
    default: return "invalid JSON syntax";
    }
}

/* Names and titles (keys "title", "name_en" and any ending in "name") must
 * not hold bidirectional controls: a name shown to others could read
 * differently from what it is (U+202E "exe.gnp").  Elsewhere — descriptions,
 * messages — right-to-left text may need them.  Returns the first such field
 * ("org.name", "parties[1].name") or NULL. */
static const char *bidi_in_names(arena_t *a, json_t *v, const char *path)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            const char *at = path[0] ? arena_printf(a, "%s.%s", path, k) : k;
            size_t kl = strlen(k);
            bool named = !strcmp(k, "title") || !strcmp(k, "name_en") || (kl >= 4 && !strcmp(k + kl - 4, "name"));
            if (named && json_is_string(x) && util_has_bidi_control(json_string_value(x), json_string_length(x)))
                return at;
            const char *in = bidi_in_names(a, x, at);
            if (in) return in;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            const char *in = bidi_in_names(a, x, arena_printf(a, "%s[%zu]", path, i));
            if (in) return in;
        }
    }
    return NULL;
}

/* Body checks shared by every route: type, encoding, syntax. 0 or replied. */
static int parse_body_or_reply(http_req_t *req)
{
    bool need = req->route->flags & ROUTE_JSON_BODY;
    if (req->route->flags & ROUTE_RAW_BODY) return 0;
    if (!req->body_len) {
        if (need) {
            http_problem(req, 400, "a JSON request body is required", NULL);
            return -1;
        }
        return 0;
    }
    if (!json_content_type(http_header(req, "content-type"))) {
        http_problem(req, 415, "request bodies must be application/json in UTF-8 (no other charset)", NULL);
        return -1;
    }
    if (memchr(req->body, '\0', req->body_len)) {
        http_problem(req, 400, "NUL byte in request body", NULL);
        return -1;
    }
    if (!util_utf8_valid(req->body, req->body_len)) {
        http_problem(req, 400, "request body is not valid UTF-8", NULL);
        return -1;
    }
    if (!util_json_depth_ok(req->body, req->body_len, 32)) {
        http_problem(req, 400, "JSON nested too deeply (limit 32)", NULL);
        return -1;
    }
    json_error_t err;
    json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        http_problemf(req, 400, "malformed JSON: %s at line %d column %d", json_error_words(&err), err.line,
                      err.column);
        return -1;
    }
    arena_on_dispose(req->arena, json_dispose, j);
    if (!json_is_object(j)) {
        http_problem(req, 400, "the request body must be a JSON object", NULL);
        return -1;
    }
    const char *bidi = bidi_in_names(req->arena, j, "");
    if (bidi) {
        json_t *e = NULL;
        http_error_add(&e, bidi, "invalid_character",
                       "names and titles must not contain bidirectional control characters (U+202A–U+202E, "
                       "U+2066–U+2069)");
        http_problem(req, 422, "some fields are not valid", e);
        return -1;
    }
    req->json = j;
    return 0;
}

void http_dispatch(http_req_t *req)
{
    assign_request_id(req);
    char *t = req->target;
    char *q = strchr(t, '?');
    if (strstr(t, "%00")) {
        http_problem(req, 400, "NUL (%00) in request target", NULL);
        return;
    }
    if (q) {
        req->path = arena_strndup(req->arena, t, (size_t)(q - t));
        req->query = q + 1;
    } else {
        req->path = t;
    }
    int method = req->method;
    if (method == HTTP_HEAD) {
        req->head_only = true;
        method = HTTP_GET;
    }
    int allow = 0;
    const route_t *r = router_match(req->arena, method, req->path, req->params, &req->nparams, &allow);
    if (!r) {
        if (method == HTTP_GET && static_try(req)) return;
        if (allow == -1) {
            http_problem(req, 400, "invalid percent-encoding or UTF-8 in path", NULL);
        } else if (allow) {
            buf_t b;
            buf_init(&b);
            for (int m = 1; m <= HTTP_OPTIONS; m <<= 1)
                if (allow & m) {
                    if (b.len) buf_puts(&b, ", ");
                    buf_puts(&b, http_method_name(m));
                    if (m == HTTP_GET) buf_puts(&b, ", HEAD");
                }
            http_add_header(req, "Allow", b.data);
            buf_free(&b);
            http_problemf(req, 405, "%s is not allowed on this resource", req->method_name);
        } else {
            http_problem(req, 404, "no such resource", NULL);
        }
        return;
    }
    req->route = r;
    req->worker->inflight++;
    if (parse_body_or_reply(req) != 0) return;
    if ((r->roles || (r->flags & ROUTE_OPTIONAL_AUTH)) && http_auth_hook) {
        http_auth_hook(req);
        return;
    }
    r->handler(req);
}

bool http_trusted_proxy(const char *peer)
{
    const char *list = g_cfg.trusted_proxies;
    size_t n = strlen(peer);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',') p++;
        size_t len = strcspn(p, ", ");
        if (len == n && !strncmp(p, peer, n)) return true;
        p += len;
    }
    return false;
}

static bool addr_ok(const char *s, size_t n)
{
    if (n == 0 || n > 45) return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdefABCDEF.:", s[i])) return false;
    return true;
}

/* The client's address: the peer, or — when the peer is a trusted proxy —
 * the address the proxy reports (X-Real-IP, else the last X-Forwarded-For
 * hop, which the proxy itself appended). */
const char *http_client_ip(const http_req_t *req)
{
    const char *peer = conn_peer(req->conn);
    if (!g_cfg.trusted_proxies[0] || !http_trusted_proxy(peer)) return peer;
    const char *real = http_header(req, "x-real-ip");
    if (real && addr_ok(real, strlen(real))) return real;
    const char *xff = http_header(req, "x-forwarded-for");
    if (xff) {
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        while (*last == ' ') last++;
        size_t n = strcspn(last, " ");
        if (addr_ok(last, n)) return arena_strndup(req->arena, last, n);
    }
    return peer;
}

void http_dispatch_continue(http_req_t *req)
{
    req->route->handler(req);
}
