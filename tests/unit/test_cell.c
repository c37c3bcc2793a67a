#include "unit.h"

#include "domain/cell.h"

#include <string.h>

TEST(cell_text_defuses_formulas_only)
{
    buf_t s;
    buf_init(&s);
    CHECK(!strcmp(cell_text("=HYPERLINK(\"http://x\")", &s), "'=HYPERLINK(\"http://x\")"));
    CHECK(!strcmp(cell_text("+86 10 1234", &s), "'+86 10 1234"));
    CHECK(!strcmp(cell_text("-2+3", &s), "'-2+3"));
    CHECK(!strcmp(cell_text("@SUM(A1)", &s), "'@SUM(A1)"));
    CHECK(!strcmp(cell_text("\t=1", &s), "'\t=1"));
    CHECK(!strcmp(cell_text("\r=1", &s), "'\r=1"));
    CHECK(!strcmp(cell_text("巴中=1", &s), "巴中=1"));
    CHECK(!strcmp(cell_text("", &s), ""));
    CHECK(!strcmp(cell_text(NULL, &s), ""));
    const char *plain = "技术合同";
    CHECK(cell_text(plain, &s) == plain);
    CHECK(cell_formula_like("=") && !cell_formula_like("a=") && !cell_formula_like(NULL));
    buf_free(&s);
}
