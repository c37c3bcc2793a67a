/* peers.c — open connections per client address, across every worker, for
 * YIZHAN_MAX_CONNS_PER_CLIENT: one client cannot hold thousands of
 * connections (slow readers, slowloris) and crowd everyone else out.
 *
 * An open-addressing table keyed by the peer's address text, sized at start
 * for every connection the workers may hold (at most half full), under one
 * mutex: taken twice per connection (accept, close), never per request.
 * Deletion shifts the following entries back, so the table has no
 * tombstones and never needs rebuilding. */
#include "http/server_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char addr[64]; /* "" = free */
    int n;
} peer_t;

static peer_t *g_peers;
static size_t g_mask;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

int peers_init(size_t max_conns)
{
    size_t cap = 1024;
    while (cap < 2 * max_conns && cap < ((size_t)1 << 24)) cap <<= 1;
    g_peers = calloc(cap, sizeof *g_peers);
    if (!g_peers) return -1;
    g_mask = cap - 1;
    return 0;
}

static size_t slot_of(const char *addr)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)addr; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return (size_t)h & g_mask;
}

bool peers_admit(const char *addr, int max)
{
    pthread_mutex_lock(&g_lock);
    size_t i = slot_of(addr);
    while (g_peers[i].addr[0] && strcmp(g_peers[i].addr, addr)) i = (i + 1) & g_mask;
    bool ok = g_peers[i].n < max;
    if (ok) {
        if (!g_peers[i].addr[0]) snprintf(g_peers[i].addr, sizeof g_peers[i].addr, "%s", addr);
        g_peers[i].n++;
    }
    pthread_mutex_unlock(&g_lock);
    return ok;
}

void peers_release(const char *addr)
{
    pthread_mutex_lock(&g_lock);
    size_t i = slot_of(addr);
    while (g_peers[i].addr[0] && strcmp(g_peers[i].addr, addr)) i = (i + 1) & g_mask;
    if (g_peers[i].addr[0] && --g_peers[i].n == 0) {
        /* backward-shift deletion: move up any entry the hole would hide */
        size_t hole = i, j = i;
        for (;;) {
            j = (j + 1) & g_mask;
            if (!g_peers[j].addr[0]) break;
            size_t home = slot_of(g_peers[j].addr);
            /* j stays if its home lies cyclically in (hole, j] */
            if (hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)) continue;
            g_peers[hole] = g_peers[j];
            hole = j;
        }
        g_peers[hole].addr[0] = '\0';
        g_peers[hole].n = 0;
    }
    pthread_mutex_unlock(&g_lock);
}

int peers_count(const char *addr)
{
    pthread_mutex_lock(&g_lock);
    size_t i = slot_of(addr);
    while (g_peers[i].addr[0] && strcmp(g_peers[i].addr, addr)) i = (i + 1) & g_mask;
    int n = g_peers[i].n;
    pthread_mutex_unlock(&g_lock);
    return n;
}
