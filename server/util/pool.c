/* pool.c — see pool.h.  One mutex-protected FIFO per pool; results are posted
 * back through the pool's post function (the worker's mailbox, which wakes
 * its loop through an eventfd). */
#include "util/pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct job {
    struct job *next;
    struct worker *w;
    void (*work)(void *);
    void (*done)(void *);
    void *arg;
} job_t;

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job_t *head, *tail;
    int queued, max;
    pool_post_fn post;
};

pool_t *g_hash_pool, *g_export_pool, *g_doc_pool;

static void *pool_main(void *arg)
{
    pool_t *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->head) pthread_cond_wait(&p->cond, &p->lock);
        job_t *j = p->head;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->lock);
        j->work(j->arg);
        if (p->post(j->w, j->done, j->arg) != 0) abort(); /* cannot hand the result back: nothing sane remains */
        free(j);
    }
    return NULL;
}

pool_t *pool_new(int threads, int queue_max, pool_post_fn post)
{
    pool_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->post = post;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->max = queue_max;
    for (int i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, pool_main, p) != 0) return NULL;
        pthread_detach(t);
    }
    return p;
}

int pool_submit_to(pool_t *p, struct worker *w, void (*work)(void *), void (*done)(void *), void *arg)
{
    job_t *j = malloc(sizeof *j);
    if (!j) return -1;
    j->next = NULL;
    j->w = w;
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&p->lock);
    if (p->queued >= p->max) {
        pthread_mutex_unlock(&p->lock);
        free(j);
        return -1;
    }
    if (p->tail) p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int pool_submit(struct worker *w, void (*work)(void *), void (*done)(void *), void *arg)
{
    return pool_submit_to(g_hash_pool, w, work, done, arg);
}

int pool_start(int threads, int queue_max, pool_post_fn post)
{
    g_hash_pool = pool_new(threads, queue_max, post);
    g_export_pool = pool_new(1, 8, post);
    g_doc_pool = pool_new(2, 32, post);
    return g_hash_pool && g_export_pool && g_doc_pool ? 0 : -1;
}
