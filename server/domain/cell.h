/* cell.h — text for a spreadsheet cell (CSV or XLSX) that a spreadsheet will
 * never run as a formula.  Pure code.
 *
 * Excel, LibreOffice and WPS treat a cell whose text starts with =, +, - or @
 * (and, after a tab or carriage return, the same) as a formula, so a party
 * name like "=HYPERLINK(...)" typed into a contract would run on the desk of
 * whoever opens the export (CSV/formula injection, OWASP).  Every text cell
 * the server writes goes through cell_text(): such text gets a leading
 * apostrophe, which shows as text and is not part of the value in Excel.
 * Numbers are written as numbers, never through here. */
#ifndef YZ_CELL_H
#define YZ_CELL_H

#include "util/buf.h"

#include <stdbool.h>

/* True when s would be taken for a formula. */
bool cell_formula_like(const char *s);
/* s itself when safe, else "'" + s in scratch (overwritten by the next call
 * with the same scratch).  NULL is "". */
const char *cell_text(const char *s, buf_t *scratch);

#endif
