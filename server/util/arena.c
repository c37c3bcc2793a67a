/* arena.c — bump allocator with a chain of blocks and dispose hooks.
 * Invariant: a block's `used` never exceeds its `size`; large requests get a
 * block of their own so the common small case stays one pointer bump. */
#include "util/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    struct block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} block_t;

typedef struct hook {
    struct hook *next;
    void (*fn)(void *);
    void *arg;
} hook_t;

struct arena {
    block_t *head; /* current block; older blocks follow */
    hook_t *hooks; /* dispose hooks, most recent first */
    size_t total;  /* bytes handed out, for metrics */
};

static block_t *block_new(size_t size)
{
    block_t *b = malloc(sizeof *b + size);
    if (!b) {
        fputs("arena: out of memory\n", stderr);
        abort();
    }
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

arena_t *arena_new(size_t first_block)
{
    arena_t *a = malloc(sizeof *a);
    if (!a) return NULL;
    a->head = block_new(first_block ? first_block : 4096);
    a->hooks = NULL;
    a->total = 0;
    return a;
}

void arena_free(arena_t *a)
{
    if (!a) return;
    for (hook_t *h = a->hooks; h; h = h->next) h->fn(h->arg);
    block_t *b = a->head;
    while (b) {
        block_t *n = b->next;
        free(b);
        b = n;
    }
    free(a);
}

void *arena_alloc(arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    block_t *b = a->head;
    if (b->size - b->used < n) {
        size_t sz = b->size * 2;
        if (sz < n) sz = n;
        if (sz > 1 << 20 && n < (1 << 20)) sz = 1 << 20;
        block_t *nb = block_new(sz);
        nb->next = a->head;
        a->head = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->total += n;
    return p;
}

void *arena_calloc(arena_t *a, size_t n)
{
    void *p = arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena_t *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(arena_t *a, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) n = 0;
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_printf(arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

void arena_on_dispose(arena_t *a, void (*fn)(void *), void *arg)
{
    hook_t *h = arena_alloc(a, sizeof *h);
    h->fn = fn;
    h->arg = arg;
    h->next = a->hooks;
    a->hooks = h;
}

size_t arena_used(const arena_t *a)
{
    return a->total;
}
