/* sheet_read.c — see sheet_read.h.
 *
 * CSV: the encoding is decided once for the whole file — a UTF-8 byte-order
 * mark, else valid UTF-8, else GB18030 through iconv (glibc); UTF-16 (Excel's
 * "Unicode text") and the old binary .xls are named and refused.  Then RFC
 * 4180: fields separated by commas, quoted with double quotes ("" inside a
 * quoted field is one quote, which may also hold commas and line breaks),
 * records ended by CRLF, LF or CR.
 *
 * XLSX: libzip opens the archive from memory; expat (no namespaces, no DTD)
 * reads xl/workbook.xml for the first sheet, its relationship for the part
 * name, xl/sharedStrings.xml for the strings table and the sheet itself,
 * streamed in 64 KiB pieces, so memory holds one row and the strings. */
#include "domain/sheet_read.h"

#include "util/buf.h"
#include "util/util.h"

#include <errno.h>
#include <expat.h>
#include <iconv.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

static int fail(sheet_info_t *info, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(sheet_info_t *info, const char *code, const char *fmt, ...)
{
    info->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(info->message, sizeof info->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* --- one row being built ----------------------------------------------------------- */

typedef struct {
    buf_t cell[SHEET_MAX_CELLS];
    sheet_kind_t kind[SHEET_MAX_CELLS];
    const char *ptr[SHEET_MAX_CELLS];
    int n;
} row_t;

static void clear(buf_t *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

/* Cells at n and beyond are always empty: a row only clears what it used. */
static void row_reset(row_t *r)
{
    for (int i = 0; i < r->n; i++) {
        clear(&r->cell[i]);
        r->kind[i] = SHEET_TEXT;
    }
    r->n = 0;
}

static void row_free(row_t *r)
{
    for (int i = 0; i < SHEET_MAX_CELLS; i++) buf_free(&r->cell[i]);
}

/* Hand the row to the callback (empty rows are skipped). */
static int row_emit(row_t *r, int rowno, sheet_row_fn fn, void *ctx, sheet_info_t *info, int max_rows)
{
    int n = r->n;
    while (n > 0 && r->cell[n - 1].len == 0) n--;
    if (n == 0) return 0;
    if (info->rows >= max_rows) return fail(info, "too_many", "文件超过 %d 行（含表头），请分成几个文件导入", max_rows);
    for (int i = 0; i < n; i++) r->ptr[i] = buf_cstr(&r->cell[i]);
    sheet_row_t row = {rowno, n, r->ptr, r->kind};
    info->rows++;
    return fn(ctx, &row);
}

/* --- CSV ------------------------------------------------------------------------------ */

/* Line (1-based) of byte offset off in s. */
static int line_of(const char *s, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off; i++)
        if (s[i] == '\n') line++;
    return line;
}

/* Line (1-based) of the first byte that is not UTF-8. */
static int first_bad_utf8_line(const char *s, size_t n)
{
    size_t start = 0;
    int line = 1;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '\n') continue;
        if (!util_utf8_valid(s + start, i - start)) return line;
        start = i + 1;
        line++;
    }
    return line;
}

/* GB18030 → UTF-8 of the whole file; NULL (info set) when it is not GB18030 either. */
static char *from_gb18030(const char *s, size_t n, size_t *out_len, sheet_info_t *info)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1) {
        fail(info, "invalid_encoding", "服务器不支持 GB18030 编码，请将文件另存为 UTF-8 编码的 CSV");
        return NULL;
    }
    size_t cap = n * 2 + 16; /* a GB18030 character never grows past twice its bytes in UTF-8 */
    char *out = malloc(cap + 1);
    char *ip = (char *)s, *op = out;
    size_t il = n, ol = cap;
    if (!out || iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
        size_t at = (size_t)(ip - s);
        iconv_close(cd);
        free(out);
        /* which of the two it was meant to be, we cannot know: say where each fails */
        fail(info, "invalid_encoding",
             "无法识别文件的文字编码：按 UTF-8 读取第 %d 行出错，按 GB18030 读取第 %d 行出错；"
             "请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后再导入",
             first_bad_utf8_line(s, n), line_of(s, at));
        return NULL;
    }
    iconv_close(cd);
    *out_len = (size_t)(op - out);
    out[*out_len] = '\0';
    return out;
}

static int read_csv(const unsigned char *data, size_t len, int max_rows, sheet_row_fn fn, void *ctx, sheet_info_t *info)
{
    const char *s = (const char *)data;
    size_t n = len;
    char *owned = NULL;
    info->format = "csv";
    if (n >= 2 && ((data[0] == 0xFF && data[1] == 0xFE) || (data[0] == 0xFE && data[1] == 0xFF)))
        return fail(
            info, "invalid_encoding",
            "文件是 UTF-16 编码（Excel 的“Unicode 文本”）；请另存为“CSV UTF-8（逗号分隔）”或“CSV（逗号分隔）”后再导入");
    if (memchr(s, '\0', n))
        return fail(info, "invalid_format", "文件含有空字节，不是 CSV 文本文件；请上传 CSV 或 XLSX 文件");
    if (n >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF) {
        s += 3;
        n -= 3;
        info->encoding = "utf-8-bom";
        if (!util_utf8_valid(s, n))
            return fail(info, "invalid_encoding", "文件以 UTF-8 标记开头，但第 %d 行含有无效的 UTF-8 字节",
                        first_bad_utf8_line(s, n));
    } else if (util_utf8_valid(s, n)) {
        info->encoding = "utf-8";
    } else {
        size_t ul;
        owned = from_gb18030(s, n, &ul, info);
        if (!owned) return -1;
        s = owned;
        n = ul;
        info->encoding = "gb18030";
    }
    row_t *r = calloc(1, sizeof *r);
    if (!r) {
        free(owned);
        return fail(info, "invalid_format", "内存不足");
    }
    int rc = 0, record = 1, col = 0;
    bool quoted = false, in_field = false;
    size_t i = 0;
    r->n = 1;
    while (rc == 0) {
        if (i >= n) { /* end of file: the last record, if any */
            if (quoted) {
                rc = fail(info, "invalid_format", "第 %d 行有未闭合的引号（\"）", record);
                break;
            }
            rc = row_emit(r, record, fn, ctx, info, max_rows);
            break;
        }
        char ch = s[i];
        if (quoted) {
            if (ch == '"') {
                if (i + 1 < n && s[i + 1] == '"') {
                    buf_putc(&r->cell[col], '"');
                    i += 2;
                } else {
                    quoted = false;
                    i++;
                }
                continue;
            }
            buf_putc(&r->cell[col], ch);
            i++;
        } else if (ch == '"' && !in_field) {
            quoted = true;
            in_field = true;
            i++;
            continue;
        } else if (ch == ',') {
            if (++col >= SHEET_MAX_CELLS) {
                rc = fail(info, "invalid_format", "第 %d 行超过 %d 列", record, SHEET_MAX_CELLS);
                break;
            }
            r->n = col + 1;
            in_field = false;
            i++;
            continue;
        } else if (ch == '\r' || ch == '\n') {
            i += (ch == '\r' && i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
            rc = row_emit(r, record, fn, ctx, info, max_rows);
            row_reset(r);
            r->n = 1;
            col = 0;
            in_field = false;
            record++;
            continue;
        } else {
            buf_putc(&r->cell[col], ch);
            in_field = true;
            i++;
        }
        if (r->cell[col].len > SHEET_MAX_CELL_BYTES) {
            rc = fail(info, "invalid_format", "第 %d 行第 %d 列的内容超过 %d 字节", record, col + 1,
                      SHEET_MAX_CELL_BYTES);
            break;
        }
    }
    row_free(r);
    free(r);
    free(owned);
    return rc;
}

/* --- XLSX ----------------------------------------------------------------------------- */

typedef struct {
    XML_Parser p;
    sheet_info_t *info;
    int rc; /* set to stop: -1 malformed, else the callback's value */
    /* workbook.xml / rels */
    char sheet_rid[128];
    char sheet_target[512];
    /* sharedStrings.xml */
    char **strings;
    size_t nstrings, capstrings;
    int in_si, in_t, in_rph;
    buf_t text;
    /* the sheet */
    row_t *row;
    int rowno, next_col, col, in_v, in_is, in_row;
    char ctype[16];
    int max_rows;
    sheet_row_fn fn;
    void *ctx;
} xl_t;

static const char *attr(const char **a, const char *name)
{
    for (int i = 0; a[i]; i += 2) {
        const char *k = a[i], *colon = strrchr(k, ':');
        if (!strcmp(k, name) || (colon && !strcmp(colon + 1, name))) return a[i + 1];
    }
    return NULL;
}

/* The element name without its prefix. */
static const char *local(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

static void xl_stop(xl_t *x, int rc)
{
    if (x->rc == 0) x->rc = rc;
    XML_StopParser(x->p, XML_FALSE);
}

static void XMLCALL on_doctype(void *u, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                               int internal)
{
    (void)name, (void)sysid, (void)pubid, (void)internal;
    xl_t *x = u;
    fail(x->info, "invalid_format", "XLSX 文件中含有 DTD 声明，不是 Excel 生成的文件");
    xl_stop(x, -1);
}

/* workbook.xml: the first <sheet>; rels: its target */
static void XMLCALL wb_start(void *u, const XML_Char *name, const XML_Char **a)
{
    xl_t *x = u;
    if (!strcmp(local(name), "sheet") && !x->sheet_rid[0]) {
        const char *id = attr(a, "id");
        if (id) snprintf(x->sheet_rid, sizeof x->sheet_rid, "%s", id);
    } else if (!strcmp(local(name), "Relationship") && !x->sheet_target[0]) {
        const char *id = attr(a, "Id"), *t = attr(a, "Target");
        if (id && t && !strcmp(id, x->sheet_rid)) {
            if (t[0] == '/') snprintf(x->sheet_target, sizeof x->sheet_target, "%s", t + 1);
            else
                snprintf(x->sheet_target, sizeof x->sheet_target, "xl/%s", t);
        }
    }
}

/* Rich text, in a shared string (<si>) or an inline one (<is>): its <t>
 * elements are the text, except those of <rPh> (phonetic hints).  True when
 * the element was one of these. */
static bool rich_start(xl_t *x, const char *l, bool in_string)
{
    if (!strcmp(l, "rPh")) x->in_rph = 1;
    else if (!strcmp(l, "t") && in_string && !x->in_rph)
        x->in_t = 1;
    else
        return false;
    return true;
}

static bool rich_end(xl_t *x, const char *l)
{
    if (!strcmp(l, "t")) x->in_t = 0;
    else if (!strcmp(l, "rPh"))
        x->in_rph = 0;
    else
        return false;
    return true;
}

/* sharedStrings.xml: <si> (<t>…</t> | <r><t>…</t></r>… ; <rPh> phonetics skipped) </si> */
static void XMLCALL ss_start(void *u, const XML_Char *name, const XML_Char **a)
{
    (void)a;
    xl_t *x = u;
    const char *l = local(name);
    if (!strcmp(l, "si")) {
        x->in_si = 1;
        clear(&x->text);
    } else {
        rich_start(x, l, x->in_si);
    }
}

static void XMLCALL ss_end(void *u, const XML_Char *name)
{
    xl_t *x = u;
    const char *l = local(name);
    if (rich_end(x, l)) return;
    if (!strcmp(l, "si")) {
        x->in_si = 0;
        if (x->nstrings == x->capstrings) {
            size_t cap = x->capstrings ? x->capstrings * 2 : 256;
            char **s = realloc(x->strings, cap * sizeof *s);
            if (!s) {
                fail(x->info, "invalid_format", "内存不足");
                xl_stop(x, -1);
                return;
            }
            x->strings = s;
            x->capstrings = cap;
        }
        x->strings[x->nstrings++] = strdup(buf_cstr(&x->text));
    }
}

static void XMLCALL ss_text(void *u, const XML_Char *s, int len)
{
    xl_t *x = u;
    if (!x->in_t) return;
    if (x->text.len + (size_t)len > SHEET_MAX_CELL_BYTES) {
        fail(x->info, "invalid_format", "XLSX 文件中有一段文字超过 %d 字节", SHEET_MAX_CELL_BYTES);
        xl_stop(x, -1);
        return;
    }
    buf_append(&x->text, s, (size_t)len);
}

/* Column index (0-based) of a cell reference like "AB12"; -1 if none. */
static int ref_col(const char *ref)
{
    int c = 0, k = 0;
    for (; ref[k] >= 'A' && ref[k] <= 'Z'; k++) {
        c = c * 26 + (ref[k] - 'A' + 1);
        if (c > 16384) return -1;
    }
    return k ? c - 1 : -1;
}

static void XMLCALL sh_start(void *u, const XML_Char *name, const XML_Char **a)
{
    xl_t *x = u;
    const char *l = local(name);
    if (!strcmp(l, "row")) {
        const char *r = attr(a, "r");
        x->rowno = r ? atoi(r) : x->rowno + 1;
        x->next_col = 0;
        x->in_row = 1;
        row_reset(x->row);
    } else if (!strcmp(l, "c") && x->in_row) {
        const char *r = attr(a, "r"), *t = attr(a, "t");
        int col = r ? ref_col(r) : x->next_col;
        if (col < 0) col = x->next_col;
        if (col >= SHEET_MAX_CELLS) {
            fail(x->info, "invalid_format", "第 %d 行超过 %d 列", x->rowno, SHEET_MAX_CELLS);
            xl_stop(x, -1);
            return;
        }
        x->col = col;
        x->next_col = col + 1;
        snprintf(x->ctype, sizeof x->ctype, "%s", t ? t : "n");
        while (x->row->n <= col) x->row->n++;
        clear(&x->row->cell[col]);
        x->row->kind[col] = SHEET_TEXT;
        clear(&x->text);
    } else if (!strcmp(l, "v")) {
        x->in_v = 1;
    } else if (!strcmp(l, "is")) {
        x->in_is = 1;
    } else {
        rich_start(x, l, x->in_is);
    }
}

static void XMLCALL sh_end(void *u, const XML_Char *name)
{
    xl_t *x = u;
    const char *l = local(name);
    if (rich_end(x, l)) return;
    if (!strcmp(l, "v")) {
        x->in_v = 0;
    } else if (!strcmp(l, "is")) {
        x->in_is = 0;
    } else if (!strcmp(l, "c") && x->in_row) {
        buf_t *cell = &x->row->cell[x->col];
        const char *v = buf_cstr(&x->text);
        if (!strcmp(x->ctype, "s")) {
            char *end;
            unsigned long k = strtoul(v, &end, 10);
            if (*v && !*end && k < x->nstrings) buf_puts(cell, x->strings[k]);
        } else if (!strcmp(x->ctype, "b")) {
            buf_puts(cell, !strcmp(v, "1") ? "TRUE" : "FALSE");
        } else {
            buf_puts(cell, v);
            if (!strcmp(x->ctype, "n") && *v) x->row->kind[x->col] = SHEET_NUMBER;
        }
    } else if (!strcmp(l, "row")) {
        x->in_row = 0;
        int rc = row_emit(x->row, x->rowno, x->fn, x->ctx, x->info, x->max_rows);
        if (rc) xl_stop(x, rc);
    }
}

static void XMLCALL sh_text(void *u, const XML_Char *s, int len)
{
    xl_t *x = u;
    if (!x->in_v && !x->in_t) return;
    if (x->text.len + (size_t)len > SHEET_MAX_CELL_BYTES) {
        fail(x->info, "invalid_format", "第 %d 行有单元格内容超过 %d 字节", x->rowno, SHEET_MAX_CELL_BYTES);
        xl_stop(x, -1);
        return;
    }
    buf_append(&x->text, s, (size_t)len);
}

/* Stream one part of the archive through a new parser with these handlers.
 * 0, 1 when the part is absent (and !required), or -1 / the callback's value. */
static int xl_part(zip_t *z, const char *part, xl_t *x, XML_StartElementHandler st, XML_EndElementHandler en,
                   XML_CharacterDataHandler tx, bool required)
{
    zip_file_t *zf = zip_fopen(z, part, 0);
    if (!zf) {
        if (!required) return 1;
        return fail(x->info, "invalid_format", "XLSX 文件缺少 %s，不是完整的 Excel 工作簿", part);
    }
    XML_Parser p = XML_ParserCreate("UTF-8");
    x->p = p;
    x->rc = 0;
    XML_SetUserData(p, x);
    XML_SetElementHandler(p, st, en);
    if (tx) XML_SetCharacterDataHandler(p, tx);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    char chunk[65536];
    size_t total = 0;
    int rc = 0;
    for (;;) {
        zip_int64_t got = zip_fread(zf, chunk, sizeof chunk);
        if (got < 0) {
            rc = fail(x->info, "invalid_format", "XLSX 文件已损坏（%s 无法解压）", part);
            break;
        }
        total += (size_t)got;
        if (total > SHEET_MAX_XML_BYTES) {
            rc = fail(x->info, "invalid_format", "XLSX 文件解压后过大（%s 超过 %u MB）", part,
                      SHEET_MAX_XML_BYTES >> 20);
            break;
        }
        enum XML_Status st2 = XML_Parse(p, chunk, (int)got, got == 0);
        if (x->rc) {
            rc = x->rc;
            break;
        }
        if (st2 != XML_STATUS_OK) {
            rc = fail(x->info, "invalid_format", "XLSX 文件已损坏（%s 第 %lu 行：%s）", part,
                      (unsigned long)XML_GetCurrentLineNumber(p), XML_ErrorString(XML_GetErrorCode(p)));
            break;
        }
        if (got == 0) break;
    }
    XML_ParserFree(p);
    zip_fclose(zf);
    return rc;
}

static int read_xlsx(const unsigned char *data, size_t len, int max_rows, sheet_row_fn fn, void *ctx,
                     sheet_info_t *info)
{
    info->format = "xlsx";
    info->encoding = "";
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    zip_t *z = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
    zip_error_fini(&ze);
    if (!z) {
        if (src) zip_source_free(src);
        return fail(info, "invalid_format", "文件以 ZIP 标记开头但无法打开，不是有效的 XLSX 文件");
    }
    xl_t *x = calloc(1, sizeof *x);
    row_t *row = calloc(1, sizeof *row);
    int rc = -1;
    if (!x || !row) {
        fail(info, "invalid_format", "内存不足");
        goto done;
    }
    x->info = info;
    x->row = row;
    x->fn = fn;
    x->ctx = ctx;
    x->max_rows = max_rows;
    rc = xl_part(z, "xl/workbook.xml", x, wb_start, NULL, NULL, true);
    if (rc) goto done;
    if (x->sheet_rid[0]) {
        rc = xl_part(z, "xl/_rels/workbook.xml.rels", x, wb_start, NULL, NULL, false);
        if (rc < 0) goto done;
    }
    if (!x->sheet_target[0]) snprintf(x->sheet_target, sizeof x->sheet_target, "xl/worksheets/sheet1.xml");
    rc = xl_part(z, "xl/sharedStrings.xml", x, ss_start, ss_end, ss_text, false);
    if (rc < 0) goto done;
    x->in_si = x->in_t = x->in_rph = 0;
    rc = xl_part(z, x->sheet_target, x, sh_start, sh_end, sh_text, true);
done:
    if (x) {
        for (size_t i = 0; i < x->nstrings; i++) free(x->strings[i]);
        free(x->strings);
        buf_free(&x->text);
    }
    if (row) row_free(row);
    free(row);
    free(x);
    zip_discard(z); /* frees the source; the data stays the caller's */
    return rc;
}

int sheet_read(const unsigned char *data, size_t len, int max_rows, sheet_row_fn fn, void *ctx, sheet_info_t *info)
{
    memset(info, 0, sizeof *info);
    info->format = "";
    info->encoding = "";
    info->code = "";
    if (!len) return fail(info, "required", "文件是空的");
    if (len >= 8 && !memcmp(data, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8))
        return fail(info, "invalid_format", "这是旧版 Excel（.xls）文件；请在 Excel 中另存为 .xlsx 或 CSV 后再导入");
    if (len >= 4 && !memcmp(data, "PK\x03\x04", 4)) return read_xlsx(data, len, max_rows, fn, ctx, info);
    return read_csv(data, len, max_rows, fn, ctx, info);
}

/* --- dates ------------------------------------------------------------------------------ */

bool sheet_serial_date(double serial, char out[11])
{
    if (!(serial >= 1 && serial < 2958466)) return false; /* 1900-01-01 .. 9999-12-31 */
    long d = (long)floor(serial);
    if (d == 60) return false; /* Excel's 1900-02-29, a day that never was */
    /* days since 1970-01-01: serial 25569 is 1970-01-01 (after the phantom day) */
    long z = d < 60 ? d - 25568 : d - 25569;
    /* civil_from_days (H. Hinnant) */
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long dd = doy - (153 * mp + 2) / 5 + 1;
    long mm = mp < 10 ? mp + 3 : mp - 9;
    y += mm <= 2;
    if (y < 1900 || y > 9999) return false;
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)mm % 100u, (unsigned)dd % 100u);
    return true;
}
