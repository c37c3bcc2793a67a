/* arena.h — per-request memory.
 *
 * Everything a request allocates comes from its arena and dies with it in one
 * arena_free(): handlers never free individual objects.  Dispose hooks run
 * first (last registered, first run) for objects that own outside resources
 * such as jansson values or PGresults.
 */
#ifndef YZ_ARENA_H
#define YZ_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena_t;

arena_t *arena_new(size_t first_block);  /* NULL on OOM */
void arena_free(arena_t *a);             /* NULL is fine */
void *arena_alloc(arena_t *a, size_t n); /* 16-aligned, never NULL (aborts on OOM) */
void *arena_calloc(arena_t *a, size_t n);
char *arena_strdup(arena_t *a, const char *s);
char *arena_strndup(arena_t *a, const char *s, size_t n);
char *arena_printf(arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena_t *a, const char *fmt, va_list ap);
/* Run fn(arg) when the arena is freed. */
void arena_on_dispose(arena_t *a, void (*fn)(void *), void *arg);
size_t arena_used(const arena_t *a);

#endif
