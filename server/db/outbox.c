/* outbox.c — the loop of the outbox threads (outbox.h). */
#include "db/outbox.h"

#include "config.h"
#include "db/db.h"
#include "log.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static PGconn *job_connect(const outbox_job_t *job)
{
    PGconn *c = db_connect_job(job->app_name, g_cfg.query_timeout_ms);
    if (!c) return NULL;
    char listen[96];
    snprintf(listen, sizeof listen, "LISTEN %s", job->channel);
    if (!db_exec_ok(c, job->name, listen)) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Claims the oldest due row and hands it to the job.  1 when one was
 * handled, 0 when none was due, -1 on a database error. */
static int claim_one(const outbox_job_t *job, PGconn *c, const char *claim_sql)
{
    if (!db_exec_ok(c, job->name, "BEGIN")) return -1;
    PGresult *r = PQexec(c, claim_sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_msg(LOG_WARN, NULL, "%s: claiming a row failed: %s", job->name, PQerrorMessage(c));
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return db_exec_ok(c, job->name, "COMMIT") ? 0 : -1;
    }
    char id[24];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    return job->handle(c, r, id);
}

static void *job_main(void *arg)
{
    const outbox_job_t *job = arg;
    const char *a = job->alias;
    char *claim_sql = NULL;
    if (asprintf(&claim_sql,
                 "%s WHERE %s.status = 'pending' AND %s.next_attempt_at <= now()"
                 " ORDER BY %s.next_attempt_at, %s.id LIMIT 1 FOR UPDATE OF %s SKIP LOCKED",
                 job->select, a, a, a, a, a) < 0) {
        log_msg(LOG_ERROR, NULL, "%s: out of memory; the thread stops", job->name);
        return NULL;
    }
    PGconn *c = NULL;
    bool said_down = false;
    for (;;) {
        if (!c || PQstatus(c) != CONNECTION_OK) {
            if (c) PQfinish(c);
            c = job_connect(job);
            if (!c) {
                if (!said_down) log_msg(LOG_WARN, NULL, "%s: cannot connect to the database; retrying", job->name);
                said_down = true;
                sleep(2);
                continue;
            }
            said_down = false;
        }
        if (job->tick) job->tick(c);
        int n = 0;
        while (n < job->per_round && claim_one(job, c, claim_sql) == 1) n++;
        if (n == job->per_round) continue; /* more may be due */
        /* sleep until a NOTIFY or a second has passed */
        struct pollfd p = {PQsocket(c), POLLIN, 0};
        if (p.fd >= 0) (void)poll(&p, 1, 1000);
        else
            sleep(1);
        if (!PQconsumeInput(c)) continue; /* the connection is reset above */
        PGnotify *nt;
        while ((nt = PQnotifies(c)) != NULL) PQfreemem(nt);
    }
    free(claim_sql); /* not reached: the thread lives as long as the process */
    return NULL;
}

int outbox_start(const outbox_job_t *job)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &a, job_main, (void *)job);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        log_msg(LOG_ERROR, NULL, "%s: cannot start its thread", job->name);
        return -1;
    }
    return 0;
}
