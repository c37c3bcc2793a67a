/* pool.c — see pool.h.  One mutex-protected FIFO; results are posted to the
 * worker's mailbox (http/server.c), which wakes its loop through an eventfd. */
#include "util/pool.h"

#include "http/http.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct job {
    struct job *next;
    struct worker *w;
    void (*work)(void *);
    void (*done)(void *);
    void *arg;
} job_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static job_t *g_head, *g_tail;
static int g_queued, g_max;

static void *pool_main(void *unused)
{
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&g_lock);
        while (!g_head)
            pthread_cond_wait(&g_cond, &g_lock);
        job_t *j = g_head;
        g_head = j->next;
        if (!g_head) g_tail = NULL;
        g_queued--;
        pthread_mutex_unlock(&g_lock);
        j->work(j->arg);
        if (worker_post(j->w, j->done, j->arg) != 0)
            abort(); /* cannot hand the result back: nothing sane remains */
        free(j);
    }
    return NULL;
}

int pool_start(int threads, int queue_max)
{
    g_max = queue_max;
    for (int i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, pool_main, NULL) != 0)
            return -1;
        pthread_detach(t);
    }
    return 0;
}

int pool_submit(struct worker *w, void (*work)(void *), void (*done)(void *), void *arg)
{
    job_t *j = malloc(sizeof *j);
    if (!j) return -1;
    j->next = NULL;
    j->w = w;
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&g_lock);
    if (g_queued >= g_max) {
        pthread_mutex_unlock(&g_lock);
        free(j);
        return -1;
    }
    if (g_tail) g_tail->next = j;
    else g_head = j;
    g_tail = j;
    g_queued++;
    pthread_cond_signal(&g_cond);
    pthread_mutex_unlock(&g_lock);
    return 0;
}
