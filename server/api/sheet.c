/* sheet.c — see sheet.h. */
#include "api/sheet.h"

#include "domain/cell.h"
#include "util/buf.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

void sheet_csv_text(FILE *f, const char *s)
{
    buf_t scratch;
    buf_init(&scratch);
    s = cell_text(s, &scratch);
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"') fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    buf_free(&scratch);
}

void sheet_csv_yuan(FILE *f, long long fen)
{
    fprintf(f, "%s%lld.%02lld", fen < 0 ? "-" : "", llabs(fen) / 100, llabs(fen) % 100);
}

lxw_error sheet_xlsx_text(lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, const char *s, lxw_format *fmt)
{
    buf_t scratch;
    buf_init(&scratch);
    lxw_error e = worksheet_write_string(ws, row, col, cell_text(s, &scratch), fmt);
    buf_free(&scratch);
    return e;
}

lxw_error sheet_xlsx_yuan(lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, long long fen, lxw_format *fmt)
{
    /* exact for every amount below 2^53 fen (90 万亿 yuan) */
    return worksheet_write_number(ws, row, col, (double)fen / 100.0, fmt);
}

/* --- GB18030 through fopencookie ------------------------------------------------- */

typedef struct {
    FILE *dst;
    iconv_t cd;
    char pending[8]; /* the start of a UTF-8 sequence split between two writes */
    size_t npending;
} gb_t;

static ssize_t gb_write(void *cookie, const char *buf, size_t size)
{
    gb_t *g = cookie;
    char in[4096 + 8], out[8192 + 64];
    size_t done = 0;
    while (done < size) {
        size_t take = size - done < 4096 ? size - done : 4096;
        memcpy(in, g->pending, g->npending);
        memcpy(in + g->npending, buf + done, take);
        char *ip = in, *op = out;
        size_t il = g->npending + take, ol = sizeof out;
        size_t r = iconv(g->cd, &ip, &il, &op, &ol);
        if (r == (size_t)-1 && errno != EINVAL) return -1; /* EILSEQ: not UTF-8 */
        if (fwrite(out, 1, (size_t)(op - out), g->dst) != (size_t)(op - out)) return -1;
        if (il > sizeof g->pending) return -1;
        memcpy(g->pending, ip, il); /* an incomplete sequence waits for the next write */
        g->npending = il;
        done += take;
    }
    return (ssize_t)size;
}

static int gb_close(void *cookie)
{
    gb_t *g = cookie;
    int rc = g->npending ? -1 : 0; /* a truncated character at the end */
    iconv_close(g->cd);
    if (fclose(g->dst) != 0) rc = -1;
    free(g);
    return rc;
}

FILE *sheet_gb18030_writer(FILE *dst)
{
    gb_t *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->dst = dst;
    g->cd = iconv_open("GB18030", "UTF-8");
    if (g->cd == (iconv_t)-1) {
        free(g);
        return NULL;
    }
    cookie_io_functions_t io = {.read = NULL, .write = gb_write, .seek = NULL, .close = gb_close};
    FILE *f = fopencookie(g, "w", io);
    if (!f) {
        iconv_close(g->cd);
        free(g);
    }
    return f;
}
