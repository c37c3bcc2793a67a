/* db.h — non-blocking, pipelined PostgreSQL access on a worker's event loop.
 *
 * Each worker owns a pool of a few connections in libpq pipeline mode.  A
 * query is a prepared statement (registered before start, prepared on every
 * connection right after it connects) with text parameters.  Queries queued
 * during one loop iteration go out together, followed by one Sync, in one
 * write; their results come back in one read.
 *
 * Transactions: statements between two Syncs form one implicit transaction on
 * the server.  Only statements registered read-only share a Sync; every other
 * statement gets its own, so each write is its own transaction and holds its
 * locks for itself alone.  A read's callback runs as soon as its rows have
 * arrived (a later failure in its batch cannot undo a read); a write's only
 * after its Sync (committed by then).  If a read in a shared batch fails, the
 * failing query gets its error and the reads behind it are sent again, each
 * under a Sync of its own and without spending their retries: one client's
 * failing statements cannot make another's good ones fail.
 *
 * Every db_query() calls its callback exactly once — possibly before
 * db_query() returns (pool full → DB_OVERLOADED, no connection →
 * DB_UNAVAILABLE).  The PGresult passed to the callback is cleared after it
 * returns.
 */
#ifndef YZ_DB_H
#define YZ_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct event_base;
typedef struct db_pool db_pool_t;

typedef enum {
    DB_OK = 0,          /* res holds the result (tuples or command ok) */
    DB_ERR_SQL,         /* res holds the error; see db_sqlstate() */
    DB_ERR_UNAVAILABLE, /* no usable connection (→ 503) */
    DB_ERR_OVERLOADED,  /* queue full (→ 503) */
    DB_ERR_TIMEOUT,     /* no answer in time (→ 504) */
} db_status_t;

typedef void (*db_cb)(void *arg, db_status_t st, PGresult *res);

/* Register a statement before workers start; returns its id.  _read marks a
 * statement that changes nothing, which may share a transaction with others. */
int db_stmt_register(const char *sql, int nparams);
int db_stmt_register_read(const char *sql, int nparams);
/* A read that may be served by a replica (slightly stale data is fine). */
int db_stmt_register_replica(const char *sql, int nparams);
/* The same statement as stmt, run as a slow one: while it is pending or in
 * flight on a connection, other queries go to the pool's other connections
 * when they can, rather than queue behind it in the pipeline. */
int db_stmt_heavy_variant(int stmt);
bool db_stmt_is_read(int stmt);
bool db_stmt_replica_ok(int stmt);

db_pool_t *db_pool_new(struct event_base *base, const char *conninfo, int nconns, int queue_max);
void db_query(db_pool_t *p, int stmt, int nparams, const char *const *values, db_cb cb, void *arg);
int db_pool_depth(db_pool_t *p);
void db_pool_conn_states(db_pool_t *p, int *up, int *down);
bool db_pool_ready(db_pool_t *p);

const char *db_sqlstate(const PGresult *res);

/* --- connections (connect.c) ---------------------------------------------------
 * Every connection, pipelined or blocking, starts with the same options:
 * statement_timeout statement_ms (0: none), lock_timeout
 * YIZHAN_QUERY_TIMEOUT_MS (a lock not granted by then fails the statement
 * rather than stall the tables behind it), TimeZone UTC, and with app_role
 * the role YIZHAN_DB_ROLE (else the login role: the command line migrates as
 * the owner).  The event loops' connections: statement_ms =
 * YIZHAN_QUERY_TIMEOUT_MS and the application role. */
void db_conn_options(char *out, size_t n, int statement_ms, bool app_role);

/* --- blocking helpers: command-line tools, jobs and start-up, never on a loop --- */
/* The command line's (and start-up's): no statement_timeout, the login role;
 * prints the reason and returns NULL on failure. */
PGconn *db_connect_blocking(void);
/* A blocking connection for a job off the loops (exports, imports, mail,
 * deliveries): the application role, with its own statement timeout.  NULL
 * when the database cannot be reached. */
PGconn *db_connect_job(const char *application_name, int statement_timeout_ms);
/* PQexec of a statement whose rows do not matter (BEGIN, COMMIT, LISTEN …) on
 * a blocking connection; false, with a warning naming who, when it failed. */
bool db_exec_ok(PGconn *c, const char *who, const char *sql);
/* Applies (apply) or lists (print_status) the versioned migrations and the
 * function files (migrate.c); *pending counts what is not applied: versioned
 * files, and function files that are new, changed, moved or removed. */
int db_migrate(PGconn *c, bool apply, bool print_status, int *pending) __attribute__((warn_unused_result));
/* Latest migration version present on disk ("0005"), computed by db_migrate. */
extern char g_latest_migration[16];
/* SHA-256 (hex) over "module checksum\n" of the function files in ORDER, computed
 * by db_migrate; GET /readyz compares it with schema_functions. */
extern char g_functions_digest[65];

#endif
