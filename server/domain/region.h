/* region.h — GB/T 2260 region codes: six digits, province (2) city (2)
 * county (2); "000000" stands for the whole country here.  Pure code. */
#ifndef YZ_REGION_H
#define YZ_REGION_H

#include <stdbool.h>

bool region_code_ok(const char *s); /* six digits */
/* code lies in root's subtree (the same rule as SQL region_in_subtree). */
bool region_in_subtree(const char *code, const char *root);

#endif
