/* conn.c — connections: reading and framing a request, writing its reply.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

int g_max_conns; /* per worker: the configured cap, lowered to the descriptor budget (worker.c) */

static void conn_free(struct conn *c);
static void conn_process(struct conn *c);

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
    http_dispatch(r);
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
void conn_on_accept_error(struct evconnlistener *l, void *arg)
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

void conn_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
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
    bool count = g_cfg.max_conns_per_client > 0 && !http_trusted_proxy(peer);
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

/* Shutdown, on the worker: close the connections waiting for a request or
 * lingering; those with a request in flight finish it first. */
void conn_close_idle(worker_t *w)
{
    for (struct conn *c = w->conns, *n; c; c = n) {
        n = c->next;
        if (c->state == C_IDLE || c->state == C_LINGER) conn_free(c);
    }
}

const char *conn_peer(const struct conn *c)
{
    return c && c->peer[0] ? c->peer : "unknown";
}
