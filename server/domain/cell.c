/* cell.c — see cell.h. */
#include "domain/cell.h"

#include <string.h>

bool cell_formula_like(const char *s)
{
    return s && *s && strchr("=+-@\t\r", *s) != NULL;
}

const char *cell_text(const char *s, buf_t *scratch)
{
    if (!s) return "";
    if (!cell_formula_like(s)) return s;
    scratch->len = 0;
    buf_putc(scratch, '\'');
    buf_puts(scratch, s);
    return buf_cstr(scratch);
}
