/* worker.c — the worker threads: one event loop each with its listener,
 * mailbox (worker_post), slot for the layers above, timers; start, and the
 * drain on SIGTERM/SIGINT. */
#include "http/server_int.h"

#include "config.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

worker_t *g_workers;
int g_nworkers;

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
    conn_close_idle(w);
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
        w->base, conn_on_accept, w,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC, 4096, sa, salen);
    if (!w->listener) {
        LOG_E("cannot listen on %s:%d: %s", g_cfg.listen_host, g_cfg.listen_port, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(w->listener, conn_on_accept_error);
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
    if (dispatch_init() != 0) return -1;
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
