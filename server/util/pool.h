/* pool.h — small bounded thread pools for blocking work (password hashing,
 * exports).  Jobs run on pool threads; their `done` callback runs back on the
 * submitting worker's event loop, so handlers never lock anything.  Separate
 * pools keep a long export from delaying sign-ins. */
#ifndef YZ_POOL_H
#define YZ_POOL_H

struct worker;
typedef struct pool pool_t;

extern pool_t *g_hash_pool;   /* password hashing */
extern pool_t *g_export_pool; /* exports, imports and other long jobs */
extern pool_t *g_doc_pool;    /* documents: PDFs, templates (short, never behind an export) */

/* How a finished job's done() reaches the worker that submitted it: post
 * runs fn(arg) on w's loop (the HTTP workers' mailbox, worker_post, given
 * by main.c); 0, or -1 when it cannot. */
typedef int (*pool_post_fn)(struct worker *w, void (*fn)(void *), void *arg);

pool_t *pool_new(int threads, int queue_max, pool_post_fn post);
/* Returns -1 when the queue is full (caller answers 503). */
int pool_submit_to(pool_t *p, struct worker *w, void (*work)(void *), void (*done)(void *), void *arg)
    __attribute__((warn_unused_result));
/* The hashing pool (kept for the callers that predate several pools). */
int pool_submit(struct worker *w, void (*work)(void *), void (*done)(void *), void *arg)
    __attribute__((warn_unused_result));
int pool_start(int threads, int queue_max, pool_post_fn post) __attribute__((warn_unused_result));

#endif
