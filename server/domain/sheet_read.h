/* sheet_read.h — the rows of a spreadsheet file people send: CSV (UTF-8 with
 * or without BOM, or GB18030 — what Excel saves in China) or XLSX (read with
 * libzip and expat, the first worksheet).  No I/O: the file is in memory.
 *
 * Rows are delivered in order, one callback each, as UTF-8 cells.  Row numbers
 * are what a person sees in Excel (the first line or row is 1), so errors can
 * name them.  Limits hold against hostile files: cells per row, bytes per
 * cell, rows, and for XLSX the uncompressed size of what is read (zip bombs)
 * and no DTD (entity expansion). */
#ifndef YZ_SHEET_READ_H
#define YZ_SHEET_READ_H

#include <stdbool.h>
#include <stddef.h>

#define SHEET_MAX_CELLS 200              /* columns a row may have */
#define SHEET_MAX_CELL_BYTES 32768       /* bytes of text in one cell */
#define SHEET_MAX_XML_BYTES (256u << 20) /* uncompressed bytes read from one XLSX part */

typedef enum { SHEET_TEXT, SHEET_NUMBER } sheet_kind_t;

typedef struct {
    int row;                  /* 1-based, as Excel shows it */
    int n;                    /* cells (trailing empty ones are dropped) */
    const char *const *cell;  /* UTF-8, NUL-terminated; "" for an empty cell */
    const sheet_kind_t *kind; /* XLSX numeric cells are SHEET_NUMBER (dates are serial numbers) */
} sheet_row_t;

/* Return 0 to go on, anything else to stop reading (returned by sheet_read). */
typedef int (*sheet_row_fn)(void *ctx, const sheet_row_t *row);

typedef struct {
    const char *format;   /* "csv" or "xlsx" */
    const char *encoding; /* "utf-8", "utf-8-bom", "gb18030" (CSV), "" (XLSX) */
    int rows;             /* rows delivered */
    /* on failure: */
    const char *code;  /* FieldError code: invalid_encoding, invalid_format, too_many */
    char message[256]; /* in Chinese, for the person who sent the file */
} sheet_info_t;

/* Read data[0..len), calling fn for every row (max_rows data rows at most,
 * the header included: more is a failure).  0 when the whole file was read,
 * the callback's non-zero value when it stopped, -1 on a malformed file
 * (info->code and info->message say why). */
int sheet_read(const unsigned char *data, size_t len, int max_rows, sheet_row_fn fn, void *ctx, sheet_info_t *info);

/* An XLSX date serial (1900 system, with Excel's 1900-02-29) as YYYY-MM-DD;
 * false when it is not a whole day between 1900 and 9999. */
bool sheet_serial_date(double serial, char out[11]);

#endif
