/* outbox.h — the thread that works through an outbox table, one due row at a
 * time, on a blocking connection of its own (db_connect_job): the e-mail
 * sender (api/mail.c, mail_outbox) and the webhook deliveries (api/market_bg.c,
 * webhook_outbox) differ only in the row's query and what is done with it.
 *
 * What the loop guarantees to each job:
 *   - the oldest due row (status 'pending', next_attempt_at passed) is claimed
 *     with FOR UPDATE SKIP LOCKED inside a transaction that stays open while the job handles it, so two servers
 *     never handle one row, and a crash mid-way rolls the claim back;
 *   - up to per_round rows are handled back to back; then the thread sleeps
 *     until a NOTIFY on the job's channel or a second has passed;
 *   - a lost connection is opened again every two seconds (said once). */
#pragma once

#include <libpq-fe.h>
#include <stdbool.h>

typedef struct outbox_job {
    const char *name;     /* log prefix, e.g. "mail" */
    const char *app_name; /* application_name of its connection */
    const char *channel;  /* the NOTIFY channel that wakes it */
    const char *select;   /* SELECT <the row's columns, its id first> FROM <the outbox> <alias> [JOIN …] */
    const char *alias;    /* the outbox's alias in select; the loop adds which row and the lock */
    int per_round;
    /* Handles the claimed row r (its id copied into id) inside the open
     * transaction: clears r, ends the transaction (COMMIT or ROLLBACK) and
     * returns 1, or -1 on a database error. */
    int (*handle)(PGconn *c, PGresult *r, const char *id);
    void (*tick)(PGconn *c); /* optional: before each round */
} outbox_job_t;

/* Starts the job's detached thread; 0, or -1 (logged) when it cannot. */
int outbox_start(const outbox_job_t *job);
