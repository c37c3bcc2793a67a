/* server_int.h — worker and connection internals shared by the http/ files. */
#ifndef YZ_SERVER_INT_H
#define YZ_SERVER_INT_H

#include "http/http.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <pthread.h>

#define METRIC_STATUSES 32 /* ≥ http_status_count() + 1 (checked by a unit test) */
#define METRIC_BUCKETS 14

typedef struct route_metrics {
    uint64_t status[METRIC_STATUSES]; /* requests by status slot */
    uint64_t bucket[METRIC_BUCKETS];  /* latency histogram (not cumulative) */
    uint64_t sum_us;                  /* total latency in µs */
} route_metrics_t;

typedef struct mailbox_item {
    struct mailbox_item *next;
    void (*fn)(void *);
    void *arg;
} mailbox_item_t;

struct worker {
    int index;
    pthread_t thread;
    struct event_base *base;
    struct evconnlistener *listener;
    void *slot;            /* the layers above's (http_set_worker_slot) */
    struct event *mail_ev; /* eventfd readable: mailbox has items */
    int mail_fd;
    pthread_mutex_t mail_lock;
    mailbox_item_t *mail_head, *mail_tail;
    struct conn *conns; /* all open connections (for shutdown) */
    int nconns;
    int inflight;  /* requests dispatched and not yet replied */
    bool draining; /* shutdown: answer with Connection: close */
    struct event *drain_timer;
    struct event *resume_ev; /* re-enables the listener after an accept() failure */
    uint64_t next_req_id;
    char date[40]; /* cached Date header value */
    int64_t date_sec;
    route_metrics_t *metrics;    /* [router_count() + 1], last = unmatched */
    uint64_t refused_per_client; /* connections closed at accept: YIZHAN_MAX_CONNS_PER_CLIENT */
};

extern worker_t *g_workers; /* worker.c */
extern int g_nworkers;

/* connections (conn.c): accepted on a worker's listener, read, framed and
 * handed to http_dispatch; struct conn is private to conn.c */
extern int g_max_conns; /* open connections per worker, set by http_start */
void conn_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg);
void conn_on_accept_error(struct evconnlistener *l, void *arg);
void conn_close_idle(worker_t *w);           /* shutdown: close idle and lingering connections */
const char *conn_peer(const struct conn *c); /* the peer address, "unknown" without one */

/* dispatch (dispatch.c): request id, route, body checks, auth hook */
int dispatch_init(void) WUR; /* the request-id salt; once, before the workers start */
void http_dispatch(http_req_t *req);
bool http_trusted_proxy(const char *peer); /* peer is in YIZHAN_TRUSTED_PROXIES */

int metric_status_slot(int status);
int metric_slot_status(int slot);
extern const double METRIC_BUCKET_LE[METRIC_BUCKETS];
void metrics_observe(worker_t *w, const route_t *r, int status, uint64_t dur_ns);

/* open connections per client address, all workers (peers.c) */
int peers_init(size_t max_conns) WUR;
bool peers_admit(const char *addr, int max); /* count one more unless max are open */
void peers_release(const char *addr);
int peers_count(const char *addr);

/* content codings (reply.c): JSON answers over HTTP_GZIP_MIN bytes go out
 * gzipped at HTTP_GZIP_LEVEL when the client accepts gzip; static files are
 * compressed once at start (static.c) */
enum { HTTP_ENC_IDENTITY = 0, HTTP_ENC_GZIP = 1, HTTP_ENC_BR = 2 };
#define HTTP_GZIP_MIN 1024
#define HTTP_GZIP_LEVEL 1
/* The coding to send, of those in available (bits 1 << HTTP_ENC_*), for an
 * Accept-Encoding header (NULL: absent): the highest q above 0, br before gzip
 * before identity on a tie; identity the client did not name comes last. */
int http_accept_pick(const char *header, unsigned available);
/* gzip (RFC 1952) of in, in the arena: its length, 0 on failure. */
size_t http_gzip(arena_t *a, const void *in, size_t len, char **out);
/* The same for a JSON answer, from the thread's kept gzipped forms when it
 * sent these very bytes lately (*out then points into the kept form). */
size_t http_gzip_kept(arena_t *a, const char *json, size_t len, char **out);
void http_gzip_metrics(buf_t *out); /* yizhan_json_gzip_total{kept="hit"|"miss"} */

/* static files (static.c) */
int static_load(void) WUR;
/* Serve path from the web root if it names a file; returns false when not. */
bool static_try(http_req_t *req);
void static_metrics(buf_t *out); /* yizhan_static_files: text files, and those compressed */

#endif
