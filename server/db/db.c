/* db.c — see db.h for the contract.
 *
 * Connection states: DOWN (waiting for the retry timer) → CONNECTING
 * (PQconnectPoll driven by one-shot socket events) → PREPARING (all statements
 * sent with PQsendPrepare, then a Sync) → READY.  Any failure returns to DOWN,
 * fails every query it held with DB_ERR_UNAVAILABLE, and retries with backoff
 * (100 ms doubling to 2 s).  A watchdog fails queries with DB_ERR_TIMEOUT and
 * resets the connection when the server stops answering entirely; ordinary
 * slow statements are stopped by the server's statement_timeout (57014).
 *
 * No call here blocks: PQconnectStartParams, PQconnectPoll, PQsendPrepare,
 * PQsendQueryPrepared, PQpipelineSync, PQflush (non-blocking mode),
 * PQconsumeInput, PQisBusy and PQgetResult only.
 */
#include "db/db.h"

#include "config.h"
#include "log.h"
#include "util/util.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STMTS 512
#define BATCH_MAX 128 /* statements per Sync: bounds one rollback's blast radius */
/* Times a statement is re-run after failing itself with a serialization
 * failure or deadlock.  A statement skipped because another one in its batch
 * failed spends none of these: see finish_batch(). */
#define MAX_RETRIES 8
/* A read that takes the server less than this (a lookup by key) is "light":
 * light reads all go to the first connection not running a heavy statement,
 * so on a small machine one backend serves them, pipelined, instead of
 * several backends taking turns on the cores (each turn a stall for every
 * read queued on the backend waiting for it); other statements spread over
 * the connections.  Measured, not declared: see note_cost(). */
#define LIGHT_US 200.0f

typedef struct {
    const char *sql;
    int nparams;
    bool read_only;  /* may share a Sync (a transaction) with other reads */
    bool replica_ok; /* may be served by a read replica */
    bool heavy;      /* slow: other queries avoid the connection running it */
} stmt_t;

static stmt_t g_stmts[MAX_STMTS];
static int g_nstmts;

typedef enum { Q_QUERY, Q_SYNC, Q_PREPARE } qkind_t;

typedef struct query {
    struct query *next;
    qkind_t kind;
    int stmt;
    int nparams;
    db_cb cb;
    void *arg;
    PGresult *res;
    int retries; /* re-runs after its own retryable failure (40001, 40P01) */
    bool alone;  /* send under a Sync of its own (it was skipped once for another's failure) */
    uint64_t sent_ns;
    char *vals[]; /* nparams pointers into the same allocation, then the bytes */
} query_t;

typedef struct {
    query_t *head, *tail;
    int n;
} qlist_t;

typedef enum { DC_DOWN, DC_CONNECTING, DC_PREPARING, DC_READY } dcstate_t;

typedef struct dbconn {
    struct db_pool *pool;
    int index;
    PGconn *pg;
    dcstate_t state;
    int fd;
    struct event *rd, *wr;  /* persistent socket events once connected */
    struct event *poll_ev;  /* one-shot event while connecting */
    struct event *retry_ev; /* reconnect timer */
    int backoff_ms;
    qlist_t pending;       /* queued, not yet sent */
    qlist_t inflight;      /* sent: queries and sync markers, in order */
    qlist_t done;          /* current batch: results held for its Sync (writes; reads once one failed) */
    query_t *failed;       /* the batch's failing query, if any */
    int outstanding;       /* queries pending + in flight (not syncs) */
    int heavy;             /* of which heavy statements */
    uint64_t last_done_ns; /* when the last query's results were complete */
    bool write_armed;
} dbconn_t;

struct db_pool {
    struct event_base *base;
    const char *conninfo;
    int nconns;
    int queue_max;
    int depth;              /* queries queued + in flight across conns */
    struct event *flush_ev; /* priority 1: runs after this iteration's reads */
    struct event *watchdog_ev;
    bool flush_scheduled;
    dbconn_t *conns;
    float cost_us[MAX_STMTS]; /* per statement: its time on the server, moving average (0: not seen) */
};

char g_latest_migration[16];

static void conn_start(dbconn_t *c);
static void conn_lost(dbconn_t *c, db_status_t why, const char *reason);
static void conn_flush(dbconn_t *c);

/* ------------------------------------------------------------------ */

static int stmt_add(const char *sql, int nparams, bool read_only, bool replica_ok)
{
    if (g_nstmts >= MAX_STMTS) {
        fputs("db: too many statements\n", stderr);
        abort();
    }
    g_stmts[g_nstmts].sql = sql;
    g_stmts[g_nstmts].nparams = nparams;
    g_stmts[g_nstmts].read_only = read_only;
    g_stmts[g_nstmts].replica_ok = replica_ok;
    return g_nstmts++;
}

int db_stmt_register(const char *sql, int nparams)
{
    return stmt_add(sql, nparams, false, false);
}
int db_stmt_register_read(const char *sql, int nparams)
{
    return stmt_add(sql, nparams, true, false);
}
int db_stmt_register_replica(const char *sql, int nparams)
{
    return stmt_add(sql, nparams, true, true);
}
int db_stmt_heavy_variant(int stmt)
{
    int v = stmt_add(g_stmts[stmt].sql, g_stmts[stmt].nparams, g_stmts[stmt].read_only, g_stmts[stmt].replica_ok);
    g_stmts[v].heavy = true;
    return v;
}
bool db_stmt_is_read(int stmt)
{
    return g_stmts[stmt].read_only;
}
bool db_stmt_replica_ok(int stmt)
{
    return g_stmts[stmt].replica_ok;
}

const char *db_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* A query leaves its connection (answered or failed). */
static void conn_release(dbconn_t *c, const query_t *q)
{
    c->outstanding--;
    if (g_stmts[q->stmt].heavy) c->heavy--;
}

static void ql_push(qlist_t *l, query_t *q)
{
    q->next = NULL;
    if (l->tail) l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
    l->n++;
}

static query_t *ql_pop(qlist_t *l)
{
    query_t *q = l->head;
    if (q) {
        l->head = q->next;
        if (!l->head) l->tail = NULL;
        l->n--;
        q->next = NULL;
    }
    return q;
}

/* Put `front` (in order) before everything in `l`. */
static void ql_prepend(qlist_t *l, qlist_t *front)
{
    if (!front->head) return;
    front->tail->next = l->head;
    if (!l->tail) l->tail = front->tail;
    l->head = front->head;
    l->n += front->n;
    front->head = front->tail = NULL;
    front->n = 0;
}

static query_t *query_new(qkind_t kind, int stmt, int n, const char *const *vals)
{
    size_t bytes = sizeof(query_t) + sizeof(char *) * (size_t)n;
    size_t lens[64];
    if (n > 64) return NULL;
    for (int i = 0; i < n; i++) {
        lens[i] = vals[i] ? strlen(vals[i]) + 1 : 0;
        bytes += lens[i];
    }
    query_t *q = malloc(bytes);
    if (!q) return NULL;
    memset(q, 0, sizeof *q);
    q->kind = kind;
    q->stmt = stmt;
    q->nparams = n;
    char *p = (char *)&q->vals[n];
    for (int i = 0; i < n; i++) {
        if (vals[i]) {
            memcpy(p, vals[i], lens[i]);
            q->vals[i] = p;
            p += lens[i];
        } else {
            q->vals[i] = NULL;
        }
    }
    return q;
}

static void query_done(db_pool_t *p, query_t *q, db_status_t st)
{
    if (q->kind == Q_QUERY) {
        p->depth--;
        if (q->cb) q->cb(q->arg, st, st == DB_OK || st == DB_ERR_SQL ? q->res : NULL);
    }
    if (q->res) PQclear(q->res);
    free(q);
}

/* ------------------------------------------------------------------ */
/* Results                                                            */

static bool retryable(const PGresult *res)
{
    const char *s = db_sqlstate(res);
    return !strcmp(s, "40001") || !strcmp(s, "40P01");
}

/* The batch's Sync arrived: deliver, or roll forward what was rolled back.
 *
 * Fairness: when a statement fails, PostgreSQL skips the rest of its batch.
 * Those statements did nothing wrong: they are sent again without spending
 * their own retries, and each under a Sync of its own, so no other failure
 * can skip them a second time — a failing statement holds the others back
 * once, and only its own failures count against a statement.  (Before, each
 * skip counted as a retry: under a stream of failing reads from one client, a
 * good read landed behind failure after failure and was answered 503; issue
 * 21 measured 187 of 960 good reads lost that way.) */
static void finish_batch(dbconn_t *c)
{
    db_pool_t *p = c->pool;
    qlist_t done = c->done, again = {0};
    query_t *failed = c->failed;
    c->done = (qlist_t){0};
    c->failed = NULL;
    bool preparing = false;
    for (query_t *q = done.head, *n; q; q = n) {
        n = q->next;
        if (q->kind == Q_PREPARE) {
            preparing = true;
            if (q->res) PQclear(q->res); /* the PREPARE's own result (LeakSanitizer found this) */
            free(q);
            continue;
        }
        if (!failed) {
            conn_release(c, q);
            query_done(p, q, DB_OK);
        } else if (q == failed && !(retryable(q->res) && q->retries < MAX_RETRIES)) {
            conn_release(c, q);
            query_done(p, q, DB_ERR_SQL);
        } else {
            /* its own retryable failure, or skipped for another's: send again */
            if (q == failed) q->retries++;
            else
                q->alone = true;
            if (q->res) PQclear(q->res);
            q->res = NULL;
            ql_push(&again, q);
        }
    }
    if (preparing) {
        if (failed) {
            LOG_E("database: preparing statements failed; retrying the connection");
            conn_lost(c, DB_ERR_UNAVAILABLE, "prepare failed");
            return;
        }
        c->state = DC_READY;
        c->backoff_ms = 100;
        LOG_I("database connection %d ready", c->index);
    }
    if (again.n) {
        ql_prepend(&c->pending, &again);
    }
    if (c->pending.n && c->state == DC_READY) conn_flush(c);
}

/* q's results are complete: its time on the server is from when it was sent
 * or the previous query's results were complete, whichever is later (the
 * backend runs a pipeline's statements one after another). */
static void note_cost(dbconn_t *c, const query_t *q)
{
    uint64_t now = util_now_ns();
    uint64_t from = c->last_done_ns > q->sent_ns ? c->last_done_ns : q->sent_ns;
    c->last_done_ns = now;
    float us = (float)(now - from) / 1000.0f;
    float *avg = &c->pool->cost_us[q->stmt];
    *avg = *avg == 0.0f ? us : *avg * 0.9f + us * 0.1f;
}

static void process_results(dbconn_t *c)
{
    while (c->inflight.head && c->pg) {
        if (PQisBusy(c->pg)) break;
        PGresult *r = PQgetResult(c->pg);
        query_t *q = c->inflight.head;
        if (q->kind == Q_SYNC) {
            if (!r) break; /* the Sync's result has not arrived yet */
            ExecStatusType st = PQresultStatus(r);
            PQclear(r);
            if (st != PGRES_PIPELINE_SYNC) {
                conn_lost(c, DB_ERR_UNAVAILABLE, "protocol out of step");
                return;
            }
            free(ql_pop(&c->inflight));
            finish_batch(c);
            continue;
        }
        if (!r) {
            /* q's results are complete.  A read that succeeded is answered
             * now, not at its batch's Sync: a later failure in the batch
             * rolls back nothing a read did, so its rows stand (the batch's
             * last result would otherwise hold back its first; at 128
             * reads a batch, that is most of a request's wait).  Writes
             * wait for the Sync: their commit. */
            ql_pop(&c->inflight);
            if (q->kind == Q_QUERY) {
                note_cost(c, q);
                ExecStatusType qs = q->res ? PQresultStatus(q->res) : PGRES_FATAL_ERROR;
                if (!c->failed && g_stmts[q->stmt].read_only && (qs == PGRES_TUPLES_OK || qs == PGRES_COMMAND_OK)) {
                    conn_release(c, q);
                    query_done(c->pool, q, DB_OK);
                    continue;
                }
            }
            ql_push(&c->done, q);
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_FATAL_ERROR && !c->failed) {
            c->failed = q;
            if (q->kind == Q_PREPARE)
                LOG_E("database: cannot prepare statement %d: %s", q->stmt, PQresultErrorMessage(r));
            else if (strncmp(db_sqlstate(r), "YZ", 2) != 0 && log_enabled(LOG_DEBUG))
                LOG_D("database: statement %d failed: %s", q->stmt, PQresultErrorMessage(r));
        }
        if (q->res) PQclear(q->res);
        q->res = r;
    }
    if (c->pg && PQstatus(c->pg) == CONNECTION_BAD) conn_lost(c, DB_ERR_UNAVAILABLE, PQerrorMessage(c->pg));
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    dbconn_t *c = arg;
    (void)fd, (void)what;
    if (!PQconsumeInput(c->pg)) {
        conn_lost(c, DB_ERR_UNAVAILABLE, PQerrorMessage(c->pg));
        return;
    }
    process_results(c);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    dbconn_t *c = arg;
    (void)fd, (void)what;
    int r = PQflush(c->pg);
    if (r < 0) {
        conn_lost(c, DB_ERR_UNAVAILABLE, PQerrorMessage(c->pg));
        return;
    }
    if (r == 0 && c->write_armed) {
        event_del(c->wr);
        c->write_armed = false;
    }
}

/* ------------------------------------------------------------------ */
/* Sending                                                            */

/* Flush what libpq holds; wait for the socket to take the rest, or lose the
 * connection. */
static void flush_or_lose(dbconn_t *c)
{
    int r = PQflush(c->pg);
    if (r < 0) {
        conn_lost(c, DB_ERR_UNAVAILABLE, PQerrorMessage(c->pg));
        return;
    }
    if (r == 1 && !c->write_armed) {
        event_add(c->wr, NULL);
        c->write_armed = true;
    }
}

static int send_sync(dbconn_t *c, uint64_t now)
{
    query_t *sync = query_new(Q_SYNC, -1, 0, NULL);
    sync->sent_ns = now;
    /* libpq 15 has no PQsendPipelineSync: PQpipelineSync also flushes. */
    if (!PQpipelineSync(c->pg)) {
        free(sync);
        conn_lost(c, DB_ERR_UNAVAILABLE, PQerrorMessage(c->pg));
        return -1;
    }
    ql_push(&c->inflight, sync);
    return 0;
}

/* Send what is pending on c.  Reads go out in batches of ≤ BATCH_MAX under
 * one Sync; a statement that writes gets a Sync of its own, so it is its own
 * transaction: its locks are held only for itself, and its failure cannot
 * roll back anyone else's work.  So does a read skipped once already because
 * another statement of its batch failed (finish_batch). */
static void conn_flush(dbconn_t *c)
{
    uint64_t now = util_now_ns();
    int in_batch = 0;
    while (c->pending.n) {
        query_t *q = ql_pop(&c->pending);
        bool ro = g_stmts[q->stmt].read_only && !q->alone;
        if (!ro && in_batch) {
            if (send_sync(c, now) != 0) {
                ql_push(&c->pending, q);
                return;
            }
            in_batch = 0;
        }
        char name[16];
        snprintf(name, sizeof name, "y%d", q->stmt);
        if (!PQsendQueryPrepared(c->pg, name, q->nparams, (const char *const *)q->vals, NULL, NULL, 0)) {
            ql_push(&c->inflight, q); /* so conn_lost fails it too */
            conn_lost(c, DB_ERR_UNAVAILABLE, PQerrorMessage(c->pg));
            return;
        }
        q->sent_ns = now;
        ql_push(&c->inflight, q);
        in_batch++;
        if (!ro || in_batch >= BATCH_MAX) {
            if (send_sync(c, now) != 0) return;
            in_batch = 0;
        }
    }
    if (in_batch && send_sync(c, now) != 0) return;
    flush_or_lose(c);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    db_pool_t *p = arg;
    (void)fd, (void)what;
    p->flush_scheduled = false;
    for (int i = 0; i < p->nconns; i++)
        if (p->conns[i].state == DC_READY && p->conns[i].pending.n) conn_flush(&p->conns[i]);
}

void db_query(db_pool_t *p, int stmt, int n, const char *const *values, db_cb cb, void *arg)
{
    if (p->depth >= p->queue_max) {
        cb(arg, DB_ERR_OVERLOADED, NULL);
        return;
    }
    dbconn_t *best = NULL;
    float cost = p->cost_us[stmt];
    if (g_stmts[stmt].read_only && cost > 0.0f && cost < LIGHT_US) {
        /* a light read: the first connection running no heavy statement */
        for (int i = 0; i < p->nconns && !best; i++)
            if (p->conns[i].state == DC_READY && p->conns[i].heavy == 0) best = &p->conns[i];
    }
    if (!best) {
        /* the connection with the fewest heavy queries, then the fewest queries */
        for (int i = 0; i < p->nconns; i++) {
            dbconn_t *c = &p->conns[i];
            if (c->state == DC_READY &&
                (!best || c->heavy < best->heavy || (c->heavy == best->heavy && c->outstanding < best->outstanding)))
                best = c;
        }
    }
    if (!best) {
        cb(arg, DB_ERR_UNAVAILABLE, NULL);
        return;
    }
    query_t *q = query_new(Q_QUERY, stmt, n, values);
    if (!q) {
        cb(arg, DB_ERR_OVERLOADED, NULL);
        return;
    }
    q->cb = cb;
    q->arg = arg;
    ql_push(&best->pending, q);
    best->outstanding++;
    if (g_stmts[stmt].heavy) best->heavy++;
    p->depth++;
    if (!p->flush_scheduled) {
        p->flush_scheduled = true;
        event_active(p->flush_ev, EV_TIMEOUT, 0);
    }
}

/* ------------------------------------------------------------------ */
/* Connection lifecycle                                               */

static void fail_list(db_pool_t *p, dbconn_t *c, qlist_t *l, db_status_t why)
{
    query_t *q;
    while ((q = ql_pop(l))) {
        if (q->kind == Q_QUERY) conn_release(c, q);
        query_done(p, q, q->kind == Q_QUERY ? why : DB_ERR_UNAVAILABLE);
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    conn_start(arg);
}

static void conn_lost(dbconn_t *c, db_status_t why, const char *reason)
{
    db_pool_t *p = c->pool;
    if (c->state != DC_DOWN || c->pg) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", reason ? reason : "");
        msg[strcspn(msg, "\r\n")] = '\0';
        LOG_W("database connection %d lost: %s", c->index, msg);
    }
    if (c->rd) {
        event_free(c->rd);
        c->rd = NULL;
    }
    if (c->wr) {
        event_free(c->wr);
        c->wr = NULL;
    }
    if (c->poll_ev) {
        event_free(c->poll_ev);
        c->poll_ev = NULL;
    }
    c->write_armed = false;
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->state = DC_DOWN;
    c->failed = NULL;
    /* Fail everything this connection held.  Callbacks may queue new
     * queries; with this connection DOWN they go elsewhere or fail fast. */
    fail_list(p, c, &c->done, why);
    fail_list(p, c, &c->inflight, why);
    fail_list(p, c, &c->pending, DB_ERR_UNAVAILABLE);
    struct timeval tv = util_tv_ms(c->backoff_ms);
    evtimer_add(c->retry_ev, &tv);
    c->backoff_ms = c->backoff_ms * 2 > 2000 ? 2000 : c->backoff_ms * 2;
}

static void on_connect_poll(evutil_socket_t fd, short what, void *arg);

static void wait_connect(dbconn_t *c, PostgresPollingStatusType st)
{
    if (c->poll_ev) event_free(c->poll_ev);
    c->fd = PQsocket(c->pg);
    short ev = st == PGRES_POLLING_READING ? EV_READ : EV_WRITE;
    c->poll_ev = event_new(c->pool->base, c->fd, ev, on_connect_poll, c);
    struct timeval tv = {5, 0}; /* connect timeout */
    event_add(c->poll_ev, &tv);
}

static void conn_ready_to_prepare(dbconn_t *c)
{
    if (c->poll_ev) {
        event_free(c->poll_ev);
        c->poll_ev = NULL;
    }
    if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)) {
        conn_lost(c, DB_ERR_UNAVAILABLE, PQerrorMessage(c->pg));
        return;
    }
    c->fd = PQsocket(c->pg);
    c->rd = event_new(c->pool->base, c->fd, EV_READ | EV_PERSIST, on_readable, c);
    c->wr = event_new(c->pool->base, c->fd, EV_WRITE | EV_PERSIST, on_writable, c);
    event_add(c->rd, NULL);
    c->state = DC_PREPARING;
    for (int i = 0; i < g_nstmts; i++) {
        char name[16];
        snprintf(name, sizeof name, "y%d", i);
        if (!PQsendPrepare(c->pg, name, g_stmts[i].sql, g_stmts[i].nparams, NULL)) {
            conn_lost(c, DB_ERR_UNAVAILABLE, PQerrorMessage(c->pg));
            return;
        }
        query_t *q = query_new(Q_PREPARE, i, 0, NULL);
        q->sent_ns = util_now_ns();
        ql_push(&c->inflight, q);
    }
    query_t *sync = query_new(Q_SYNC, -1, 0, NULL);
    sync->sent_ns = util_now_ns();
    if (!PQpipelineSync(c->pg)) {
        free(sync);
        conn_lost(c, DB_ERR_UNAVAILABLE, PQerrorMessage(c->pg));
        return;
    }
    ql_push(&c->inflight, sync);
    flush_or_lose(c);
}

static void on_connect_poll(evutil_socket_t fd, short what, void *arg)
{
    dbconn_t *c = arg;
    (void)fd;
    if (what & EV_TIMEOUT) {
        conn_lost(c, DB_ERR_UNAVAILABLE, "connect timed out");
        return;
    }
    PostgresPollingStatusType st = PQconnectPoll(c->pg);
    switch (st) {
    case PGRES_POLLING_OK: conn_ready_to_prepare(c); break;
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING: wait_connect(c, st); break;
    default: conn_lost(c, DB_ERR_UNAVAILABLE, PQerrorMessage(c->pg));
    }
}

static void conn_start(dbconn_t *c)
{
    /* The server works as the application role (insert-only on the audit
     * log), in UTC, with the per-statement limit that yields 504s. */
    char opts[256];
    db_conn_options(opts, sizeof opts, g_cfg.query_timeout_ms, true);
    const char *keys[] = {"dbname", "application_name", "client_encoding", "options", NULL};
    const char *vals[] = {c->pool->conninfo, "yizhan", "UTF8", opts, NULL};
    c->pg = PQconnectStartParams(keys, vals, 1);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_lost(c, DB_ERR_UNAVAILABLE, c->pg ? PQerrorMessage(c->pg) : "out of memory");
        return;
    }
    c->state = DC_CONNECTING;
    wait_connect(c, PGRES_POLLING_WRITING);
}

/* Fail queries when the server has gone silent (a cable pulled, a frozen
 * host): statement_timeout cannot fire then. */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    db_pool_t *p = arg;
    (void)fd, (void)what;
    uint64_t now = util_now_ns();
    uint64_t limit = ((uint64_t)g_cfg.query_timeout_ms + 5000) * 1000000ull;
    for (int i = 0; i < p->nconns; i++) {
        dbconn_t *c = &p->conns[i];
        if (c->inflight.head && now - c->inflight.head->sent_ns > limit)
            conn_lost(c, DB_ERR_TIMEOUT, "no answer from the database in time");
    }
}

db_pool_t *db_pool_new(struct event_base *base, const char *conninfo, int nconns, int queue_max)
{
    db_pool_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->base = base;
    p->conninfo = conninfo;
    p->nconns = nconns;
    p->queue_max = queue_max;
    p->conns = calloc((size_t)nconns, sizeof *p->conns);
    p->flush_ev = event_new(base, -1, 0, on_flush, p);
    event_priority_set(p->flush_ev, 1);
    p->watchdog_ev = event_new(base, -1, EV_PERSIST, on_watchdog, p);
    struct timeval one = {1, 0};
    event_add(p->watchdog_ev, &one);
    for (int i = 0; i < nconns; i++) {
        dbconn_t *c = &p->conns[i];
        c->pool = p;
        c->index = i;
        c->backoff_ms = 100;
        c->retry_ev = evtimer_new(base, on_retry, c);
        conn_start(c);
    }
    return p;
}

int db_pool_depth(db_pool_t *p)
{
    return __atomic_load_n(&p->depth, __ATOMIC_RELAXED);
}

void db_pool_conn_states(db_pool_t *p, int *up, int *down)
{
    for (int i = 0; i < p->nconns; i++) {
        if (__atomic_load_n(&p->conns[i].state, __ATOMIC_RELAXED) == DC_READY) (*up)++;
        else
            (*down)++;
    }
}

bool db_pool_ready(db_pool_t *p)
{
    for (int i = 0; i < p->nconns; i++)
        if (p->conns[i].state == DC_READY) return true;
    return false;
}
