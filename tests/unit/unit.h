/* unit.h — a minimal test harness: CHECK records a failure and goes on. */
#ifndef YZ_UNIT_H
#define YZ_UNIT_H
#include <stdio.h>
extern int unit_failed, unit_checks;
#define CHECK(cond)                                                           \
    do {                                                                      \
        unit_checks++;                                                        \
        if (!(cond)) {                                                        \
            unit_failed++;                                                    \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                     \
    } while (0)
typedef void (*unit_fn)(void);
void unit_register(const char *name, unit_fn fn);
#define TEST(name)                                            \
    static void name(void);                                   \
    __attribute__((constructor)) static void reg_##name(void) \
    {                                                         \
        unit_register(#name, name);                           \
    }                                                         \
    static void name(void)
#endif
