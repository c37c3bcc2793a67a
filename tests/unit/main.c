/* main.c — runs every TEST; prints "N passed, M failed" (tests, not checks). */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

int unit_failed, unit_checks;
static struct {
    const char *name;
    unit_fn fn;
} g_tests[512];
static int g_n;

void unit_register(const char *name, unit_fn fn)
{
    g_tests[g_n].name = name;
    g_tests[g_n].fn = fn;
    g_n++;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < g_n; i++) {
        if (argc > 1 && !strstr(g_tests[i].name, argv[1])) continue;
        int before = unit_failed;
        g_tests[i].fn();
        if (unit_failed == before) {
            passed++;
            printf("ok   %s\n", g_tests[i].name);
        } else {
            failed++;
            printf("FAIL %s\n", g_tests[i].name);
        }
    }
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
