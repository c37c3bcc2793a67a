/* pool.h — a small bounded thread pool for blocking work (password hashing,
 * file generation).  Jobs run on pool threads; their `done` callback runs back
 * on the submitting worker's event loop, so handlers never lock anything. */
#ifndef YZ_POOL_H
#define YZ_POOL_H

struct worker;

int pool_start(int threads, int queue_max) __attribute__((warn_unused_result));
/* Returns -1 when the queue is full (caller answers 503). */
int pool_submit(struct worker *w, void (*work)(void *), void (*done)(void *), void *arg)
    __attribute__((warn_unused_result));

#endif
