/* server.c — workers, connections and the HTTP/1.1 parser.
 *
 * A connection moves through: IDLE (waiting for a request; idle timer) →
 * HEAD (request line + headers arriving; request deadline from the first byte)
 * → BODY → BUSY (dispatched; reading paused, so pipelined requests wait in the
 * socket) → WRITING (response queued) → IDLE again, or LINGER (we said
 * Connection: close: half-close, discard input briefly so the client sees our
 * answer instead of a reset, then close).
 *
 * Invariants: a connection has at most one request; conn->req is freed only in
 * req_finish(); a request whose client vanished while BUSY keeps its conn
 * struct (bev freed) until the handler replies, so the handler never sees a
 * dangling pointer.
 */
#include "http/server_int.h"
#include "http/parse.h"

#include "config.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum conn_state { C_IDLE, C_HEAD, C_BODY, C_BUSY, C_WRITING, C_LINGER };

struct conn {
    worker_t *w;
    struct bufferevent *bev; /* NULL once the socket is gone */
    struct event *timer;
    enum conn_state state;
    http_req_t *req;
    struct conn *prev, *next;
    char peer[64];
    bool counted; /* in peers.c's count for its address */
    bool keep_alive;
    bool chunked;
    uint64_t content_length; /* remaining for fixed-length bodies */
    buf_t body;
    /* chunked decoding */
    int chunk_state; /* 0 size line, 1 data, 2 CRLF after data, 3 trailers */
    uint64_t chunk_left;
};

worker_t *g_workers;
int g_nworkers;
void (*http_auth_hook)(http_req_t *req);

static void conn_free(struct conn *c);
static void conn_process(struct conn *c);
static void dispatch(http_req_t *req);

/* Write what is queued now rather than on the next turn of the loop: an
 * answer that fits in the socket buffer costs one writev and no epoll_ctl.
 * Only what the socket does not take (or an error, which the bufferevent then
 * reports to on_event) waits for EV_WRITE.  True when everything was written. */
static bool conn_flush(struct conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    /* a socket bufferevent keeps its output frozen at the front except while
     * it writes itself; we write as it does */
    evbuffer_unfreeze(out, 1);
    while (evbuffer_get_length(out) > 0)
        if (evbuffer_write(out, fd) <= 0) break;
    evbuffer_freeze(out, 1);
    if (evbuffer_get_length(out) == 0) return true;
    bufferevent_enable(c->bev, EV_WRITE);
    return false;
}
static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);

/* ------------------------------------------------------------------ */

static void arm_timer(struct conn *c, int ms)
{
    struct timeval tv = util_tv_ms(ms);
    evtimer_add(c->timer, &tv);
}

static void update_date(worker_t *w)
{
    time_t now = time(NULL);
    if (now == w->date_sec) return;
    w->date_sec = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(w->date, sizeof w->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static http_req_t *req_new(struct conn *c)
{
    arena_t *a = arena_new(4096);
    if (!a) return NULL;
    http_req_t *r = arena_calloc(a, sizeof *r);
    r->arena = a;
    r->worker = c->w;
    r->conn = c;
    r->start_ns = util_now_ns();
    buf_init(&r->resp_headers);
    return r;
}

static void req_free(http_req_t *r)
{
    buf_free(&r->resp_headers);
    arena_free(r->arena);
}

/* ------------------------------------------------------------------ */
/* Replies                                                            */

static void access_log(http_req_t *req, uint64_t dur_ns)
{
    /* on stderr the access log is part of the info level; a file of its own is written whatever the level */
    if (!g_cfg.access_log || (req->route && (req->route->flags & ROUTE_NO_LOG)) ||
        (!g_cfg.access_log_file && !log_enabled(LOG_INFO)))
        return;
    buf_t b;
    buf_init(&b);
    char when[LOG_TS_LEN];
    log_timestamp(when);
    buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"info\",\"msg\":\"request\",\"request_id\":", when);
    buf_json_str(&b, req->request_id);
    buf_puts(&b, ",\"method\":");
    buf_json_str(&b, req->method_name ? req->method_name : "-");
    buf_puts(&b, ",\"path\":");
    buf_json_str(&b, req->path ? req->path : "-");
    buf_puts(&b, ",\"route\":");
    buf_json_str(&b, req->route ? req->route->path : "unmatched");
    buf_printf(&b, ",\"status\":%d,\"duration_ms\":%.3f", req->status, (double)dur_ns / 1e6);
    if (req->conn) buf_puts(&b, ",\"client\":"), buf_json_str(&b, http_client_ip(req));
    buf_puts(&b, "}\n");
    log_access_line(b.data, b.len);
    buf_free(&b);
}

/* Common tail of every reply: headers, body, metrics, log, state change.
 * The body is copied, referenced (static files), or a file (fd >= 0). */
static void reply_common(http_req_t *req, int status, const char *ctype, const void *body, size_t len,
                         bool by_reference, int fd)
{
    if (req->replied) {
        log_msg(LOG_ERROR, req->request_id, "internal: second reply suppressed (status %d)", status);
        if (fd >= 0) close(fd);
        return;
    }
    req->replied = true;
    req->status = status;
    worker_t *w = req->worker;
    uint64_t dur = util_now_ns() - req->start_ns;
    metrics_observe(w, req->route, status, dur);
    access_log(req, dur);
    if (w->inflight > 0 && req->route != NULL) w->inflight--;

    struct conn *c = req->conn;
    if (!c || !c->bev) {
        /* Client gone while we worked: drop the answer, free everything. */
        if (c) {
            c->req = NULL;
            conn_free(c);
        }
        if (fd >= 0) close(fd);
        req_free(req);
        return;
    }
    if (w->draining) req->close_after = true;
    if (req->close_after) c->keep_alive = false;

    update_date(w);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Length: %zu\r\nX-Request-Id: %s\r\n%s%s%s", status,
                     http_status_text(status), w->date, len, req->request_id, ctype ? "Content-Type: " : "",
                     ctype ? ctype : "", ctype ? "\r\n" : "");
    evbuffer_add(out, head, (size_t)n);
    if (req->resp_headers.len) evbuffer_add(out, req->resp_headers.data, req->resp_headers.len);
    if (!c->keep_alive) evbuffer_add(out, "Connection: close\r\n", 19);
    evbuffer_add(out, "\r\n", 2);
    if (fd >= 0) {
        if (len && !req->head_only) evbuffer_add_file(out, fd, 0, (ev_off_t)len); /* closes fd when sent */
        else
            close(fd);
    } else if (len && !req->head_only) {
        if (by_reference) evbuffer_add_reference(out, body, len, NULL, NULL);
        else
            evbuffer_add(out, body, len);
    }
    c->state = C_WRITING;
    evtimer_del(c->timer);
    if (conn_flush(c)) event_active(c->timer, EV_TIMEOUT, 1); /* finish once the handler has returned (on_timer) */
}

void http_reply(http_req_t *req, int status, const char *content_type, const void *body, size_t len)
{
    reply_common(req, status, content_type, body, len, false, -1);
}

void http_reply_static(http_req_t *req, int status, const char *content_type, const void *body, size_t len)
{
    reply_common(req, status, content_type, body, len, true, -1);
}

void http_reply_file(http_req_t *req, int status, const char *content_type, int fd, size_t len)
{
    reply_common(req, status, content_type, NULL, len, false, fd);
}

/* The response is fully written: next request, or close. */
static void req_finish(struct conn *c)
{
    http_req_t *r = c->req;
    c->req = NULL;
    if (r) req_free(r);
    if (!c->keep_alive) {
        /* Half-close and drain briefly so the client reads our answer
         * rather than a reset caused by unread input. */
        c->state = C_LINGER;
        shutdown(bufferevent_getfd(c->bev), SHUT_WR);
        bufferevent_disable(c->bev, EV_WRITE);
        bufferevent_enable(c->bev, EV_READ);
        arm_timer(c, 2000);
        return;
    }
    c->state = C_IDLE;
    buf_free(&c->body);
    bufferevent_disable(c->bev, EV_WRITE); /* only conn_flush turns it on, for what it could not write */
    bufferevent_enable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) conn_process(c);
    else
        arm_timer(c, c->w->draining ? 1 : g_cfg.idle_timeout_ms);
}

/* An error found while reading a request: answer it and close. */
static void conn_fail(struct conn *c, int status, const char *detail)
{
    if (!c->req) {
        c->req = req_new(c);
        if (!c->req) {
            conn_free(c);
            return;
        }
    }
    http_req_t *r = c->req;
    if (!r->request_id[0])
        snprintf(r->request_id, sizeof r->request_id, "%02x%014llx", c->w->index,
                 (unsigned long long)++c->w->next_req_id);
    r->close_after = true;
    c->keep_alive = false;
    bufferevent_disable(c->bev, EV_READ);
    http_problem(r, status, detail, NULL);
}

/* ------------------------------------------------------------------ */
/* Parsing                                                            */

/* Chunked body decoding from `in` into c->body.
 * Returns 1 when complete, 0 when more input is needed, or -status. */
static int read_chunked(struct conn *c, struct evbuffer *in)
{
    for (;;) {
        if (c->chunk_state == 0 || c->chunk_state == 3) {
            size_t len;
            char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF_STRICT);
            if (!line) {
                if (evbuffer_get_length(in) > 1024) return -400;
                return 0;
            }
            if (c->chunk_state == 3) { /* trailers: skip until blank */
                free(line);
                if (len == 0) return 1;
                continue;
            }
            size_t hexlen = strcspn(line, ";");
            uint64_t sz = 0;
            if (hexlen == 0 || hexlen > 15) {
                free(line);
                return -400;
            }
            for (size_t i = 0; i < hexlen; i++) {
                char ch = line[i];
                int d = ch >= '0' && ch <= '9'   ? ch - '0'
                        : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                        : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                 : -1;
                if (d < 0) {
                    free(line);
                    return -400;
                }
                sz = sz * 16 + (uint64_t)d;
            }
            free(line);
            if (sz == 0) {
                c->chunk_state = 3;
                continue;
            }
            if (c->body.len + sz > g_cfg.max_body_bytes) return -413;
            c->chunk_left = sz;
            c->chunk_state = 1;
        }
        if (c->chunk_state == 1) {
            size_t avail = evbuffer_get_length(in);
            if (!avail) return 0;
            size_t take = avail < c->chunk_left ? avail : (size_t)c->chunk_left;
            buf_reserve(&c->body, take);
            evbuffer_remove(in, c->body.data + c->body.len, take);
            c->body.len += take;
            c->body.data[c->body.len] = '\0';
            c->chunk_left -= take;
            if (c->chunk_left) return 0;
            c->chunk_state = 2;
        }
        if (c->chunk_state == 2) {
            if (evbuffer_get_length(in) < 2) return 0;
            char crlf[2];
            evbuffer_remove(in, crlf, 2);
            if (crlf[0] != '\r' || crlf[1] != '\n') return -400;
            c->chunk_state = 0;
        }
    }
}

static void send_continue_if_asked(struct conn *c)
{
    const char *e = http_header(c->req, "expect");
    if (e && !strcasecmp(e, "100-continue") && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
        evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
        conn_flush(c);
    }
}

/* Drive the state machine with whatever input is buffered. */
static void conn_process(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (c->state == C_IDLE) {
        /* tolerate stray CRLFs between requests (RFC 9112 §2.2) */
        for (;;) {
            unsigned char *p = evbuffer_pullup(in, 1);
            if (!p || (*p != '\r' && *p != '\n')) break;
            evbuffer_drain(in, 1);
        }
        if (evbuffer_get_length(in) == 0) return;
        c->req = req_new(c);
        if (!c->req) {
            conn_free(c);
            return;
        }
        c->state = C_HEAD;
        arm_timer(c, g_cfg.read_timeout_ms);
    }
    if (c->state == C_HEAD) {
        size_t avail = evbuffer_get_length(in);
        struct evbuffer_ptr pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (pos.pos < 0) {
            if (avail > g_cfg.max_header_bytes) conn_fail(c, 431, "request header fields too large");
            return;
        }
        size_t hlen = (size_t)pos.pos + 4;
        if (hlen > g_cfg.max_header_bytes + 4) {
            conn_fail(c, 431, "request header fields too large");
            return;
        }
        char *h = arena_alloc(c->req->arena, hlen + 1);
        evbuffer_remove(in, h, hlen);
        h[hlen] = '\0';
        if (memchr(h, '\0', hlen)) {
            conn_fail(c, 400, "NUL byte in request head");
            return;
        }
        const char *why = NULL;
        http_framing_t fr;
        int st = http_parse_head(c->req, h, hlen, g_cfg.max_body_bytes, &fr, &why);
        if (st) {
            conn_fail(c, st, why);
            return;
        }
        c->keep_alive = fr.keep_alive;
        c->chunked = fr.chunked;
        c->content_length = fr.content_length;
        buf_init(&c->body);
        c->chunk_state = 0;
        if (c->chunked || c->content_length) {
            c->state = C_BODY;
            send_continue_if_asked(c);
        } else {
            goto complete;
        }
    }
    if (c->state == C_BODY) {
        if (c->chunked) {
            int rc = read_chunked(c, in);
            if (rc < 0) {
                conn_fail(c, -rc, rc == -413 ? "request body too large" : "malformed chunked body");
                return;
            }
            if (rc == 0) return;
        } else {
            size_t avail = evbuffer_get_length(in);
            if (avail < c->content_length) {
                /* keep the buffer from growing past what we will accept */
                return;
            }
            buf_reserve(&c->body, (size_t)c->content_length);
            evbuffer_remove(in, c->body.data, (size_t)c->content_length);
            c->body.len = (size_t)c->content_length;
            c->body.data[c->body.len] = '\0';
        }
        goto complete;
    }
    return;

complete:;
    http_req_t *r = c->req;
    if (c->body.len) {
        r->body = arena_strndup(r->arena, c->body.data, c->body.len);
        r->body_len = c->body.len;
    }
    buf_free(&c->body);
    c->state = C_BUSY;
    evtimer_del(c->timer);
    /* EV_READ stays on (no epoll_ctl per request): what arrives meanwhile
     * waits in the input buffer, bounded by its watermark, and a client that
     * goes away is seen at once (on_event). */
    dispatch(r);
}

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

static void dispatch(http_req_t *req)
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

static bool trusted_proxy(const char *peer)
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
    const char *peer = req->conn && req->conn->peer[0] ? req->conn->peer : "unknown";
    if (!g_cfg.trusted_proxies[0] || !trusted_proxy(peer)) return peer;
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

/* ------------------------------------------------------------------ */
/* libevent callbacks                                                 */

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->state == C_LINGER) {
        evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
        return;
    }
    if (c->state == C_IDLE || c->state == C_HEAD || c->state == C_BODY) conn_process(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->state == C_WRITING && evbuffer_get_length(bufferevent_get_output(bev)) == 0) req_finish(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    (void)bev;
    if ((c->state == C_BUSY || c->state == C_WRITING) && (what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
        /* The client half-closed after sending its request: it still reads
         * the answer (the bufferevent has stopped reading); then we close. */
        c->keep_alive = false;
        return;
    }
    if (c->state == C_BUSY) {
        /* Client gone mid-request: free the socket now, the request when its
         * handler replies. */
        bufferevent_free(c->bev);
        c->bev = NULL;
        return;
    }
    (void)what; /* EOF, error or timeout: a half-sent request has no one to answer to */
    conn_free(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd, (void)what;
    switch (c->state) {
    case C_HEAD:
    case C_BODY: conn_fail(c, 408, "request not received in time"); break;
    case C_IDLE:
    case C_LINGER: conn_free(c); break;
    case C_WRITING:
        /* activated by reply_common: the answer is written */
        if (c->bev && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) req_finish(c);
        break;
    default: break;
    }
}

static void conn_free(struct conn *c)
{
    worker_t *w = c->w;
    if (c->state == C_BUSY && c->req && !c->req->replied) {
        /* handler still owns the request; it frees us on reply */
        if (c->bev) {
            bufferevent_free(c->bev);
            c->bev = NULL;
        }
        return;
    }
    if (c->req) {
        req_free(c->req);
        c->req = NULL;
    }
    if (c->bev) bufferevent_free(c->bev);
    if (c->timer) event_free(c->timer);
    if (c->counted) peers_release(c->peer);
    buf_free(&c->body);
    if (c->prev) c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    w->nconns--;
    free(c);
    if (w->draining && w->nconns == 0 && w->inflight == 0) event_base_loopexit(w->base, NULL);
}

static int g_max_conns; /* per worker: the configured cap, lowered to the descriptor budget */

/* Close up to n idle keep-alive connections, oldest first, to make room. */
static int shed_idle(worker_t *w, int n)
{
    struct conn *c = w->conns;
    while (c && c->next) c = c->next; /* the list is newest first */
    int shed = 0;
    while (c && shed < n) {
        struct conn *prev = c->prev;
        if (c->state == C_IDLE) {
            conn_free(c);
            shed++;
        }
        c = prev;
    }
    return shed;
}

static void on_listener_resume(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd, (void)what;
    if (w->listener && !w->draining) evconnlistener_enable(w->listener);
}

/* accept() failed — typically EMFILE/ENFILE.  libevent would retry at once,
 * forever: pause the listener briefly and free descriptors by shedding idle
 * keep-alive connections, so new clients are served again. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    worker_t *w = arg;
    int err = EVUTIL_SOCKET_ERROR();
    evconnlistener_disable(l);
    int shed = shed_idle(w, w->nconns / 10 + 8);
    static __thread time_t last;
    if (time(NULL) != last) {
        last = time(NULL);
        LOG_W("worker %d: accept failed (%s); shed %d idle connections, pausing accept for 50 ms", w->index,
              evutil_socket_error_to_string(err), shed);
    }
    if (!w->resume_ev) w->resume_ev = evtimer_new(w->base, on_listener_resume, w);
    struct timeval tv = {0, 50000};
    evtimer_add(w->resume_ev, &tv);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    worker_t *w = arg;
    (void)l, (void)salen;
    if (w->draining) {
        evutil_closesocket(fd);
        return;
    }
    /* at the cap: make room by closing the oldest idle connection; refuse
     * only when every connection is busy */
    if (w->nconns >= g_max_conns && shed_idle(w, 1) == 0) {
        evutil_closesocket(fd);
        return;
    }
    char peer[64] = "";
    if (sa->sa_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, peer, sizeof peer);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof peer);
    /* One address may not hold more than its share (slow readers, slowloris):
     * closed before anything is read or allocated.  A trusted proxy speaks for
     * many clients; it is exempt, and the limit belongs in front of it. */
    bool count = g_cfg.max_conns_per_client > 0 && !trusted_proxy(peer);
    if (count && !peers_admit(peer, g_cfg.max_conns_per_client)) {
        evutil_closesocket(fd);
        __atomic_store_n(&w->refused_per_client, w->refused_per_client + 1, __ATOMIC_RELAXED);
        static __thread time_t last;
        if (time(NULL) != last) {
            last = time(NULL);
            LOG_W("client %s holds %d connections (YIZHAN_MAX_CONNS_PER_CLIENT): refusing more", peer,
                  g_cfg.max_conns_per_client);
        }
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        if (count) peers_release(peer);
        evutil_closesocket(fd);
        return;
    }
    memcpy(c->peer, peer, sizeof c->peer);
    c->counted = count;
    c->w = w;
    c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->timer = evtimer_new(w->base, on_timer, c);
    if (!c->bev || !c->timer) {
        if (c->bev) bufferevent_free(c->bev);
        else
            evutil_closesocket(fd);
        if (c->timer) event_free(c->timer);
        if (c->counted) peers_release(c->peer);
        free(c);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* What the kernel holds for a client that reads slowly: without a bound
     * it grows the buffer up to tcp_wmem's 4 MiB, and thousands of slow
     * readers cost the loop gigabytes of copying (issue 21: /livez p99 3.5 s
     * under slowhttptest -X). */
    if (g_cfg.max_output_bytes) {
        int sndbuf = (int)g_cfg.max_output_bytes;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    struct timeval wt = util_tv_ms(g_cfg.write_timeout_ms);
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    /* Cap what one connection may buffer: head + body limits. */
    bufferevent_setwatermark(c->bev, EV_READ, 0, g_cfg.max_header_bytes + g_cfg.max_body_bytes + 8192);
    bufferevent_enable(c->bev, EV_READ);
    bufferevent_disable(c->bev, EV_WRITE); /* conn_flush writes; EV_WRITE only for the rest */
    c->state = C_IDLE;
    arm_timer(c, g_cfg.idle_timeout_ms);
}

/* ------------------------------------------------------------------ */
/* Workers                                                            */

int worker_post(worker_t *w, void (*fn)(void *), void *arg)
{
    mailbox_item_t *it = malloc(sizeof *it);
    if (!it) return -1;
    it->fn = fn;
    it->arg = arg;
    it->next = NULL;
    pthread_mutex_lock(&w->mail_lock);
    if (w->mail_tail) w->mail_tail->next = it;
    else
        w->mail_head = it;
    w->mail_tail = it;
    pthread_mutex_unlock(&w->mail_lock);
    uint64_t one = 1;
    ssize_t n = write(w->mail_fd, &one, sizeof one);
    (void)n;
    return 0;
}

static void on_mail(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)what;
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&w->mail_lock);
    mailbox_item_t *it = w->mail_head;
    w->mail_head = w->mail_tail = NULL;
    pthread_mutex_unlock(&w->mail_lock);
    while (it) {
        mailbox_item_t *next = it->next;
        it->fn(it->arg);
        free(it);
        it = next;
    }
}

int worker_index(const worker_t *w)
{
    return w->index;
}

static void *(*g_slot_new)(struct event_base *base, int index);

void http_set_worker_slot(void *(*slot_new)(struct event_base *base, int index))
{
    g_slot_new = slot_new;
}

void *worker_slot(const worker_t *w)
{
    return w->slot;
}

int http_worker_count(void)
{
    return g_nworkers;
}

worker_t *http_worker_at(int i)
{
    return i >= 0 && i < g_nworkers ? &g_workers[i] : NULL;
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd, (void)what;
    if (w->inflight) LOG_W("worker %d: shutdown timeout with %d requests in flight", w->index, w->inflight);
    event_base_loopexit(w->base, NULL);
}

/* Runs on the worker: stop accepting, close idle connections, let in-flight
 * requests finish (they are answered with Connection: close). */
static void worker_begin_drain(void *arg)
{
    worker_t *w = arg;
    w->draining = true;
    if (w->listener) {
        evconnlistener_free(w->listener);
        w->listener = NULL;
    }
    for (struct conn *c = w->conns, *n; c; c = n) {
        n = c->next;
        if (c->state == C_IDLE || c->state == C_LINGER) conn_free(c);
    }
    if (w->nconns == 0 && w->inflight == 0) {
        event_base_loopexit(w->base, NULL);
        return;
    }
    w->drain_timer = evtimer_new(w->base, on_drain_timeout, w);
    struct timeval tv = util_tv_ms(g_cfg.shutdown_timeout_ms);
    evtimer_add(w->drain_timer, &tv);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

static int worker_init(worker_t *w, int index, struct sockaddr *sa, int salen)
{
    w->index = index;
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    w->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!w->base) return -1;
    /* priority 0: sockets and timers; priority 1: the database flush, so it
     * runs after every read of this loop iteration queued its queries. */
    event_base_priority_init(w->base, 2);
    w->listener = evconnlistener_new_bind(
        w->base, on_accept, w,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC, 4096, sa, salen);
    if (!w->listener) {
        LOG_E("cannot listen on %s:%d: %s", g_cfg.listen_host, g_cfg.listen_port, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(w->listener, on_accept_error);
    pthread_mutex_init(&w->mail_lock, NULL);
    w->mail_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->mail_fd < 0) return -1;
    w->mail_ev = event_new(w->base, w->mail_fd, EV_READ | EV_PERSIST, on_mail, w);
    event_add(w->mail_ev, NULL);
    w->metrics = calloc((size_t)router_count() + 1, sizeof(route_metrics_t));
    if (!w->metrics) return -1;
    if (g_slot_new && !(w->slot = g_slot_new(w->base, index))) return -1;
    return 0;
}

/* libevent's own warnings as JSON lines, at most one a second per thread (at
 * descriptor exhaustion it would otherwise print one per accept() attempt). */
static void on_libevent_log(int severity, const char *msg)
{
    static __thread time_t last;
    if (severity < EVENT_LOG_WARN || time(NULL) == last) return;
    last = time(NULL);
    LOG_W("libevent: %s", msg);
}

/* Every thread inherits this mask, so the main thread's sigwait() is the one
 * place SIGINT/SIGTERM arrive.  Call before creating any thread. */
void http_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int http_start(void)
{
    if (static_load() != 0) return -1;
    if (util_random_bytes((unsigned char *)&g_id_salt, sizeof g_id_salt) != 0) return -1;
    struct sockaddr_storage ss;
    int salen = sizeof ss;
    char addr[300];
    snprintf(addr, sizeof addr, "%s:%d", g_cfg.listen_host, g_cfg.listen_port);
    if (!strcmp(g_cfg.listen_host, "*") || !strcmp(g_cfg.listen_host, "0.0.0.0")) {
        snprintf(addr, sizeof addr, "0.0.0.0:%d", g_cfg.listen_port);
    } else if (!strcmp(g_cfg.listen_host, "localhost")) {
        snprintf(addr, sizeof addr, "127.0.0.1:%d", g_cfg.listen_port);
    }
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &salen) != 0) {
        fprintf(stderr, "yizhan: invalid YIZHAN_LISTEN host %s (use an IP address)\n", g_cfg.listen_host);
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    event_set_log_callback(on_libevent_log);
    /* Use every descriptor we are allowed (systemd's default soft limit is
     * 1024 of a much higher hard limit), and keep the connection cap inside
     * that budget, leaving room for database connections, files and pools. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
    }
    long budget = (long)rl.rlim_cur - 64 - (long)g_cfg.threads * (2L * g_cfg.db_conns + 8);
    g_max_conns = g_cfg.max_connections;
    if (budget / g_cfg.threads < g_max_conns) g_max_conns = budget > g_cfg.threads ? (int)(budget / g_cfg.threads) : 1;
    /* A warning only when it matters: a hard limit of 20,000 (common) trims
     * the default 20,000 per worker by a few descriptors, which no one needs
     * to be told at every start; a cut by more than a tenth is worth a warning. */
    if (g_max_conns < g_cfg.max_connections)
        log_msg((long)g_max_conns * 10 < (long)g_cfg.max_connections * 9 ? LOG_WARN : LOG_INFO, NULL,
                "open-file limit %ld: at most %d connections per worker (YIZHAN_MAX_CONNECTIONS=%d)", (long)rl.rlim_cur,
                g_max_conns, g_cfg.max_connections);
    g_nworkers = g_cfg.threads;
    if (g_cfg.max_conns_per_client && peers_init((size_t)g_max_conns * (size_t)g_nworkers) != 0) return -1;
    g_workers = calloc((size_t)g_nworkers, sizeof *g_workers);
    for (int i = 0; i < g_nworkers; i++)
        if (worker_init(&g_workers[i], i, (struct sockaddr *)&ss, salen) != 0) return -1;
    http_block_signals();
    for (int i = 0; i < g_nworkers; i++) pthread_create(&g_workers[i].thread, NULL, worker_main, &g_workers[i]);
    LOG_I("listening on http://%s:%d with %d workers", g_cfg.listen_host, g_cfg.listen_port, g_nworkers);
    return 0;
}

typedef struct {
    worker_t *w;
    int ms;
    void (*fn)(worker_t *);
    struct event *ev;
} wtimer_t;

static void on_wtimer(evutil_socket_t fd, short what, void *arg)
{
    wtimer_t *t = arg;
    (void)fd, (void)what;
    if (!t->w->draining) t->fn(t->w);
}

/* Runs on the worker: the event must be created on the loop's own thread. */
static void wtimer_setup(void *arg)
{
    wtimer_t *t = arg;
    t->ev = event_new(t->w->base, -1, EV_PERSIST, on_wtimer, t);
    struct timeval tv = util_tv_ms(t->ms);
    event_add(t->ev, &tv);
    t->fn(t->w); /* once at start: e.g. auctions that ended while we were down */
}

int http_worker_timer(int index, int ms, void (*fn)(worker_t *w))
{
    if (index < 0 || index >= g_nworkers) return -1;
    wtimer_t *t = calloc(1, sizeof *t);
    if (!t) return -1;
    t->w = &g_workers[index];
    t->ms = ms;
    t->fn = fn;
    if (worker_post(t->w, wtimer_setup, t) != 0) {
        free(t);
        return -1;
    }
    return 0;
}

void http_run_until_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    LOG_I("shutting down: draining in-flight requests");
    for (int i = 0; i < g_nworkers; i++)
        if (worker_post(&g_workers[i], worker_begin_drain, &g_workers[i]) != 0) event_base_loopbreak(g_workers[i].base);
    for (int i = 0; i < g_nworkers; i++) pthread_join(g_workers[i].thread, NULL);
    LOG_I("stopped");
}
