/* http.h — the HTTP/1.1 core: workers, requests, routes and replies.
 *
 * Why not evhttp: libevent 2.1's evhttp answers its own errors (oversized
 * headers or body, bad framing) with HTML pages and offers no hook to change
 * that, cannot send 431, and allocates a header list and a parsed URI per
 * request.  This layer parses HTTP/1.1 itself on libevent bufferevents, so
 * every error is problem+json, framing is strict (one all-digit
 * Content-Length, never both Content-Length and Transfer-Encoding), and a
 * request costs one arena.
 *
 * Threading: each worker thread owns an event_base, its own SO_REUSEPORT
 * listener and its database pool.  A request lives on one worker from accept
 * to reply and is never touched by another thread.
 *
 * Ownership: a handler receives `http_req_t *req` and must cause exactly one
 * reply (now, or later from a database callback).  After replying it must not
 * touch req: the core frees it (and its arena) once the response is written
 * or the client is gone.
 */
#ifndef YZ_HTTP_H
#define YZ_HTTP_H

#include "util/arena.h"
#include "util/buf.h"
#include "util/util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_method {
    HTTP_GET = 1 << 0,
    HTTP_HEAD = 1 << 1,
    HTTP_POST = 1 << 2,
    HTTP_PUT = 1 << 3,
    HTTP_PATCH = 1 << 4,
    HTTP_DELETE = 1 << 5,
    HTTP_OPTIONS = 1 << 6,
};

/* Route flags. */
enum {
    ROUTE_JSON_BODY = 1 << 0,     /* a JSON object body is required */
    ROUTE_NO_LOG = 1 << 1,        /* keep out of the access log (probes) */
    ROUTE_RAW_BODY = 1 << 2,      /* the body is a file: any type, handler checks it */
    ROUTE_OPTIONAL_AUTH = 1 << 3, /* public, but a valid token identifies the caller (req->user);
                                     an invalid token is still 401 */
};

struct event_base;
typedef struct http_req http_req_t;
typedef struct worker worker_t;
typedef void (*http_handler_fn)(http_req_t *req);

#define ROUTE_MAX_SEGS 8
#define ROUTE_MAX_PARAMS 4

typedef struct route {
    int method;       /* one HTTP_* */
    const char *path; /* template, e.g. "/api/v1/results/{id}" */
    http_handler_fn handler;
    unsigned flags; /* ROUTE_* */
    unsigned roles; /* allowed roles (auth.h ROLE_*); 0 = anyone */
    /* filled by router_add */
    int index; /* metrics slot */
    int nseg;
    const char *seg[ROUTE_MAX_SEGS];
    size_t seglen[ROUTE_MAX_SEGS]; /* strlen(seg[k]) */
} route_t;

typedef struct {
    const char *name, *value; /* NUL-terminated, inside the request's arena */
    size_t name_len, value_len;
} http_header_t;

struct auth_user;

struct http_req {
    arena_t *arena;
    worker_t *worker;
    struct conn *conn; /* NULL once the client is gone */
    int method;
    const char *method_name;
    char *target; /* raw request target */
    char *path;   /* raw path (before '?') */
    char *query;  /* raw query string or NULL */
    http_header_t *headers;
    int nheaders;
    char *body; /* NUL-terminated copy, or NULL */
    size_t body_len;
    json_t *json; /* parsed body (owned by the arena) */
    const route_t *route;
    const char *params[ROUTE_MAX_PARAMS]; /* decoded path parameters */
    int nparams;
    char request_id[65];
    uint64_t start_ns;
    int status; /* set when replied */
    bool replied;
    bool head_only;         /* HEAD: send headers only */
    bool close_after;       /* send Connection: close and close */
    buf_t resp_headers;     /* extra response header lines */
    struct auth_user *user; /* signed-in user, NULL if anonymous */
    void *ctx;              /* handler state across callbacks */
};

/* --- routes ---------------------------------------------------------- */
/* Register routes before http_start; the array must outlive the server. */
void router_add(route_t *routes, size_t n);
/* Match; returns the route or NULL.  On NULL, *allow gets the methods the
 * path supports (0 → 404, else 405). */
const route_t *router_match(arena_t *a, int method, const char *path, const char **params, int *nparams, int *allow);
int router_count(void);
const route_t *router_get(int i);
const char *http_method_name(int m);

/* --- request accessors ------------------------------------------------ */
const char *http_header(const http_req_t *req, const char *name); /* case-insensitive; NULL if absent */
/* The client's address: the peer, or what a trusted proxy reports (YIZHAN_TRUSTED_PROXIES). */
const char *http_client_ip(const http_req_t *req);
/* Decoded query parameter, NULL if absent.  Sets *bad when the value is not
 * valid percent-encoded UTF-8 (callers reply 400 through http_query_or_reply). */
const char *http_query_param(http_req_t *req, const char *name, bool *bad);
/* Query parameter or 400 reply; returns -1 if it replied. */
int http_query_or_reply(http_req_t *req, const char *name, const char **out) WUR;

/* The one inline event handler the front end's Content-Security-Policy
 * allows (by its hash, with 'unsafe-hashes'): the print button of the
 * certificate page (api/contracts.c), which the front end shows in a srcdoc
 * frame or a blob: window — documents that inherit the front end's policy. */
#define HTTP_PRINT_HANDLER "window.print()"

/* --- replies ---------------------------------------------------------- */
void http_add_header(http_req_t *req, const char *name, const char *value);
void http_reply(http_req_t *req, int status, const char *content_type, const void *body, size_t len);
/* Body memory stays valid for the life of the process (static files). */
void http_reply_static(http_req_t *req, int status, const char *content_type, const void *body, size_t len);
void http_reply_json(http_req_t *req, int status, const char *json, size_t len);
/* Send len bytes of an open file (sendfile where possible); takes fd. */
void http_reply_file(http_req_t *req, int status, const char *content_type, int fd, size_t len);
void http_reply_json_t(http_req_t *req, int status, json_t *obj); /* steals obj */
/* RFC 9457 problem.  errors may be NULL; it is stolen. */
void http_problem(http_req_t *req, int status, const char *detail, json_t *errors);
void http_problemf(http_req_t *req, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* One validation error entry {field, code, message} appended to *errors. */
void http_error_add(json_t **errors, const char *field, const char *code, const char *message);
const char *http_status_text(int status);
/* The statuses this server sends, by slot (0 .. http_status_count() - 1);
 * http_status_slot() is -1 for any other. */
int http_status_slot(int status);
int http_status_count(void);
int http_status_at(int slot);

/* --- server ------------------------------------------------------------ */
/* Hook run before every handler of a route with roles != 0 (auth module).
 * It must either call http_dispatch_continue(req) or reply. */
extern void (*http_auth_hook)(http_req_t *req);
void http_dispatch_continue(http_req_t *req);

/* Work posted from another thread to run on worker w's loop. */
int worker_post(worker_t *w, void (*fn)(void *), void *arg) WUR;
int worker_index(const worker_t *w);
/* What the layers above keep per worker (the API's database pools): set
 * before http_start, slot_new(base, index) makes it for each worker with its
 * event loop, before the worker runs (NULL fails the start); worker_slot()
 * gives it back.  The HTTP layer never looks inside. */
void http_set_worker_slot(void *(*slot_new)(struct event_base *base, int index));
void *worker_slot(const worker_t *w);
int http_worker_count(void);
worker_t *http_worker_at(int i);

/* Block SIGINT/SIGTERM for every thread created afterwards; call first. */
void http_block_signals(void);
int http_start(void) WUR; /* spawn workers; returns after they listen */
/* Run fn(w) every ms milliseconds on worker index's loop (after http_start). */
int http_worker_timer(int index, int ms, void (*fn)(worker_t *w)) WUR;
void http_run_until_signal(void); /* main thread: wait for SIGTERM/SIGINT, drain, join */

/* --- metrics, the API description --------------------------------------- */
/* Prometheus text of the HTTP layer: requests, latencies, connections. */
void http_metrics_render(buf_t *out);
/* api/openapi.yaml as loaded at start (YIZHAN_API_SPEC). */
void http_serve_spec(http_req_t *req);

#endif
