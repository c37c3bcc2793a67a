/* region.c — a region's subtree is every code starting with its prefix: the
 * code without trailing "00" pairs (510000 → "51", 511900 → "5119"). */
#include "domain/region.h"

#include <string.h>

bool region_code_ok(const char *s)
{
    if (strlen(s) != 6) return false;
    for (int i = 0; i < 6; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

bool region_in_subtree(const char *code, const char *root)
{
    if (!region_code_ok(code) || !region_code_ok(root)) return false;
    if (!strcmp(root, "000000")) return true;
    size_t n = 6;
    while (n > 2 && root[n - 1] == '0' && root[n - 2] == '0') n -= 2;
    return strncmp(code, root, n) == 0;
}
