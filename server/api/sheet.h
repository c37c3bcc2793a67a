/* sheet.h — the one writer of spreadsheet cells for every CSV and XLSX the
 * server sends (annual and national exports, the import template): text goes
 * through domain/cell.h, so no cell can run as a formula in Excel, WPS or
 * LibreOffice; money is written in yuan from integer fen. */
#ifndef YZ_SHEET_H
#define YZ_SHEET_H

#include <stdio.h>
#include <xlsxwriter.h>

/* A CSV text field: defused, quoted when it holds , " CR or LF. */
void sheet_csv_text(FILE *f, const char *s);
/* A CSV amount in yuan from fen: 1234.50 (never through a double). */
void sheet_csv_yuan(FILE *f, long long fen);
/* An XLSX text cell, defused. */
lxw_error sheet_xlsx_text(lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, const char *s, lxw_format *fmt);
/* An XLSX amount in yuan from fen, as a number (fmt: e.g. "#,##0.00"). */
lxw_error sheet_xlsx_yuan(lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, long long fen, lxw_format *fmt);

/* A stream that converts the UTF-8 written to it into GB18030 (what Excel
 * in China reads without an import dialog) and writes that to dst; closing
 * it flushes and closes dst.  NULL when iconv has no GB18030. */
FILE *sheet_gb18030_writer(FILE *dst);

#endif
