/* export.c — the bureau's exports.  The annual statistics export: CSV (UTF-8
 * with BOM, so Excel opens it with the Chinese intact), XLSX (libxlsxwriter,
 * one sheet per table, constant-memory mode) or JSON.  The national
 * reporting export: the registered contracts of a period, one row a contract,
 * in the layout of the national 技术合同登记表 (export_national() in SQL is
 * the one home of the layout), as CSV in GB18030 or UTF-8 with BOM, or XLSX.
 * Every cell goes through api/sheet.h (no formula injection).
 *
 * The whole job runs on the export pool, off the event loop, with its own
 * blocking connection: the statistics tables come from the aggregates (one
 * statement), the contract list through a server-side cursor in pages, and
 * everything is written to an unlinked temporary file.  The loop then sends
 * that file with sendfile.  Memory stays bounded whatever the year's size. */
#include "api/api.h"
#include "api/sheet.h"

#include "auth/auth.h"
#include "config.h"
#include "log.h"
#include "util/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xlsxwriter.h>

enum fmt { FMT_CSV, FMT_XLSX, FMT_JSON };

typedef struct {
    http_req_t *req;
    enum fmt fmt;
    char region[8];
    int year;
    char from[11], to[11]; /* national: the registration dates, inclusive */
    bool gb18030;          /* national CSV: GB18030 instead of UTF-8 with BOM */
    int fd;                /* result file, or -1 */
    size_t size;
    int status; /* on failure: HTTP status and detail */
    char detail[256];
} job_t;

static const char *const LIST_HEAD[] = {
    "登记编号",       "合同名称",       "合同类别",       "合同子类",     "卖方",
    "卖方单位类型",   "卖方地区",       "买方",           "买方单位类型", "买方地区",
    "合同成交额(元)", "技术交易额(元)", "实际到账额(元)", "技术领域",     "知识产权类型",
    "计划来源",       "登记日期",       "输出",           "吸纳"};
static const char *const TABLE_HEAD[] = {
    "代码",           "名称",       "输出合同数",     "输出成交额(元)",     "输出技术交易额(元)",
    "输出到账额(元)", "吸纳合同数", "吸纳成交额(元)", "吸纳技术交易额(元)", "吸纳到账额(元)"};
static const char *const AMOUNTS[] = {"contract_amount_fen", "technical_amount_fen", "received_amount_fen"};

/* --- output sinks ------------------------------------------------------------------ */

static long long jint(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static const char *const FLOWS[] = {"out", "in"};

/* A table row's figures (or its total's), out then in: the count and the three amounts each. */
static void csv_figures(FILE *f, json_t *row)
{
    for (int fl = 0; fl < 2; fl++) {
        json_t *g = json_object_get(row, FLOWS[fl]);
        fprintf(f, ",%lld", jint(g, "count"));
        for (int a = 0; a < 3; a++) fputc(',', f), sheet_csv_yuan(f, jint(g, AMOUNTS[a]));
    }
    fputs("\r\n", f);
}

static void csv_tables(FILE *f, json_t *doc)
{
    fputs("技术合同登记统计,", f);
    sheet_csv_text(f, json_string_value(json_object_get(doc, "region_name")));
    fprintf(f, ",%lld年\r\n", jint(doc, "year"));
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "tables"), i, t) {
        fputs("\r\n", f);
        sheet_csv_text(f, json_string_value(json_object_get(t, "title")));
        fputs("\r\n", f);
        for (size_t h = 0; h < ARRAY_LEN(TABLE_HEAD); h++) {
            if (h) fputc(',', f);
            sheet_csv_text(f, TABLE_HEAD[h]);
        }
        fputs("\r\n", f);
        size_t r;
        json_t *row;
        json_array_foreach(json_object_get(t, "rows"), r, row) {
            sheet_csv_text(f, json_string_value(json_object_get(row, "key")));
            fputc(',', f);
            sheet_csv_text(f, json_string_value(json_object_get(row, "label"))
                                  ? json_string_value(json_object_get(row, "label"))
                                  : "");
            csv_figures(f, row);
        }
        fputs("合计,", f);
        csv_figures(f, json_object_get(t, "total"));
    }
    fputs("\r\n合同清单\r\n", f);
    for (size_t h = 0; h < ARRAY_LEN(LIST_HEAD); h++) {
        if (h) fputc(',', f);
        sheet_csv_text(f, LIST_HEAD[h]);
    }
    fputs("\r\n", f);
}

/* --- the job ------------------------------------------------------------------------- */

static void fail(job_t *j, int status, const char *detail)
{
    j->status = status;
    snprintf(j->detail, sizeof j->detail, "%s", detail);
}

/* The finished file, opened for sending (its name is unlinked by the caller;
 * the descriptor keeps the data). */
static void keep_result(job_t *j, const char *path)
{
    if (j->status) return;
    j->fd = open(path, O_RDONLY);
    struct stat st;
    if (j->fd < 0 || fstat(j->fd, &st) != 0) fail(j, 500, "could not read the export file");
    else
        j->size = (size_t)st.st_size;
}

/* The file a job writes: a workbook (with the money and bold header formats
 * every sheet uses) or a stream, in a temporary file whose name is removed
 * once the descriptor to send is open. */
typedef struct {
    char path[32];
    lxw_workbook *wb;
    lxw_format *money, *head;
    FILE *f;
} out_t;

/* Open the file: a workbook for XLSX, else a stream.  0, or -1 after fail(). */
static int out_open(job_t *j, out_t *o, bool xlsx)
{
    snprintf(o->path, sizeof o->path, "/tmp/yizhan-export-XXXXXX");
    int fd = mkstemp(o->path);
    if (fd < 0) {
        o->path[0] = '\0';
        fail(j, 500, "could not create the export file");
        return -1;
    }
    if (xlsx) {
        close(fd);
        lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = "/tmp"};
        o->wb = workbook_new_opt(o->path, &opt);
        if (!o->wb) {
            fail(j, 500, "could not create the workbook");
            return -1;
        }
        o->money = workbook_add_format(o->wb);
        format_set_num_format(o->money, "#,##0.00");
        o->head = workbook_add_format(o->wb);
        format_set_bold(o->head);
        return 0;
    }
    o->f = fdopen(fd, "w");
    if (!o->f) {
        close(fd);
        fail(j, 500, "could not create the export file");
        return -1;
    }
    return 0;
}

/* Close the file (a failed write fails the job unless it failed already),
 * open it for sending when the job succeeded, and remove its name. */
static void out_finish(job_t *j, out_t *o)
{
    if (o->wb && workbook_close(o->wb) != LXW_NO_ERROR && !j->status) fail(j, 500, "could not write the workbook");
    if (o->f && fclose(o->f) != 0 && !j->status) fail(j, 500, "could not write the export file");
    o->wb = NULL, o->f = NULL;
    if (!o->path[0]) return;
    keep_result(j, o->path);
    unlink(o->path); /* the open fd keeps the data */
}

/* The loop's half of a job: the problem it met, or its file as an attachment
 * named ascii (filename=) and utf8 (filename*=, RFC 8187, percent-encoded). */
static void reply_file(job_t *j, const char *type, const char *ascii, const char *utf8)
{
    http_req_t *req = j->req;
    if (j->status) {
        http_problem(req, j->status, j->detail, NULL);
        return;
    }
    http_add_header(req, "Content-Disposition",
                    arena_printf(req->arena, "attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, utf8));
    http_add_header(req, "Cache-Control", "no-store");
    http_reply_file(req, 200, type, j->fd, j->size);
}

/* The rows of a query, read in pages through a cursor in a read-only
 * transaction (the caller COMMITs): cursor_open, then cursor_page until a
 * page is empty; false / NULL when the database failed. */
static bool cursor_open(PGconn *c, const char *query, int n, const char *const *v)
{
    PQclear(PQexec(c, "BEGIN READ ONLY"));
    PGresult *r = PQexecParams(c, query, n, NULL, v, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

static PGresult *cursor_page(PGconn *c)
{
    PGresult *r = PQexec(c, "FETCH 2000 FROM list");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) return r;
    PQclear(r);
    return NULL;
}

/* XLSX: one sheet per table plus the list; amounts in yuan with a number
 * format; every classification by its Chinese label and every region by its
 * name (the codes stay in the JSON form); the header row of each sheet
 * frozen, so it stays in view while scrolling. */
typedef struct {
    lxw_workbook *wb;
    lxw_worksheet *list;
    lxw_format *money, *head;
    json_t *regions; /* region code -> full name (四川省巴中市巴州区) */
    int row;
} xlsx_t;

static const char *const FIGURE_HEAD[] = {"输出合同数", "输出成交额(元)", "输出技术交易额(元)", "输出到账额(元)",
                                          "吸纳合同数", "吸纳成交额(元)", "吸纳技术交易额(元)", "吸纳到账额(元)"};

/* The figures of a table row (or its total) from column f0: counts in
 * count_format, amounts as yuan. */
static void xlsx_figures(xlsx_t *x, lxw_worksheet *ws, lxw_row_t y, int f0, json_t *row, lxw_format *count_format)
{
    for (int fl = 0; fl < 2; fl++) {
        json_t *g = json_object_get(row, FLOWS[fl]);
        worksheet_write_number(ws, y, (lxw_col_t)(f0 + fl * 4), (double)jint(g, "count"), count_format);
        for (int a = 0; a < 3; a++)
            sheet_xlsx_yuan(ws, y, (lxw_col_t)(f0 + 1 + fl * 4 + a), jint(g, AMOUNTS[a]), x->money);
    }
}

static void xlsx_tables(xlsx_t *x, json_t *doc)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "tables"), i, t) {
        lxw_worksheet *ws = workbook_add_worksheet(x->wb, json_string_value(json_object_get(t, "title")));
        const char *by = json_string_value(json_object_get(t, "by"));
        /* a region table keeps the code beside the name (行政区划代码); elsewhere the label alone */
        int coded = by && !strcmp(by, "region"), f0 = coded ? 2 : 1;
        worksheet_freeze_panes(ws, 1, 0);
        worksheet_set_column(ws, 0, 0, 28, NULL);
        if (coded) worksheet_set_column(ws, 1, 1, 14, NULL);
        worksheet_set_column(ws, (lxw_col_t)f0, (lxw_col_t)(f0 + 7), 16, NULL);
        /* the flow table: a row is where outflow went to and inflow came from */
        bool flows = by && !strcmp(by, "partner");
        sheet_xlsx_text(ws, 0, 0, coded ? "地区" : flows ? "输出去向／吸纳来源" : "分类", x->head);
        if (coded) sheet_xlsx_text(ws, 0, 1, "行政区划代码", x->head);
        for (size_t h = 0; h < ARRAY_LEN(FIGURE_HEAD); h++)
            sheet_xlsx_text(ws, 0, (lxw_col_t)(f0 + h), FIGURE_HEAD[h], x->head);
        size_t r;
        json_t *row;
        json_array_foreach(json_object_get(t, "rows"), r, row) {
            lxw_row_t y = (lxw_row_t)(r + 1);
            const char *label = json_string_value(json_object_get(row, "label"));
            sheet_xlsx_text(ws, y, 0, label ? label : "未分类", NULL);
            if (coded) sheet_xlsx_text(ws, y, 1, json_string_value(json_object_get(row, "key")), NULL);
            xlsx_figures(x, ws, y, f0, row, NULL);
        }
        lxw_row_t y = (lxw_row_t)(json_array_size(json_object_get(t, "rows")) + 1);
        sheet_xlsx_text(ws, y, 0, "合计", x->head);
        xlsx_figures(x, ws, y, f0, json_object_get(t, "total"), x->head);
    }
    x->list = workbook_add_worksheet(x->wb, "合同清单");
    worksheet_freeze_panes(x->list, 1, 0);
    worksheet_set_column(x->list, 0, 0, 20, NULL);
    worksheet_set_column(x->list, 1, 1, 36, NULL);
    worksheet_set_column(x->list, 2, 18, 14, NULL);
    worksheet_set_column(x->list, 6, 6, 24, NULL);
    worksheet_set_column(x->list, 9, 9, 24, NULL);
    for (size_t h = 0; h < ARRAY_LEN(LIST_HEAD); h++) sheet_xlsx_text(x->list, 0, (lxw_col_t)h, LIST_HEAD[h], x->head);
    x->row = 1;
}

/* Every region's full name, for the list's region columns. */
static json_t *region_names(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT r.code, string_agg(a.name, '' ORDER BY a.code) FROM regions r"
                            " JOIN region_paths p ON p.code = r.code JOIN regions a ON a.code = p.ancestor"
                            " WHERE a.code <> '000000' GROUP BY r.code");
    json_t *m = json_object();
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(r); i++)
            json_object_set_new(m, PQgetvalue(r, i, 0), json_string(PQgetvalue(r, i, 1)));
    PQclear(r);
    return m;
}

static void export_work(void *arg)
{
    job_t *j = arg;
    out_t out = {0};
    FILE *f = NULL;
    xlsx_t x = {0};
    json_t *doc = NULL;
    PGconn *c = db_connect_job("yizhan-export", 600000);
    if (!c) {
        fail(j, 503, "the database is unavailable; try again shortly");
        goto done;
    }
    char year[8];
    snprintf(year, sizeof year, "%d", j->year);
    const char *v[2] = {j->region, year};
    PGresult *r = PQexecParams(c, "SELECT export_tables($1, $2::int)::text", 2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        LOG_E("export: %s", PQerrorMessage(c));
        PQclear(r);
        fail(j, 503, "the export could not be computed; try again shortly");
        goto done;
    }
    doc = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    if (!doc) {
        fail(j, 500, "could not create the export file");
        goto done;
    }
    if (out_open(j, &out, j->fmt == FMT_XLSX) != 0) goto done;
    f = out.f;
    if (j->fmt == FMT_XLSX) {
        x.wb = out.wb, x.money = out.money, x.head = out.head;
        x.regions = region_names(c);
        xlsx_tables(&x, doc);
    } else {
        if (j->fmt == FMT_CSV) {
            fputs("\xEF\xBB\xBF", f);
            csv_tables(f, doc);
        } else {
            /* {"year":…,"tables":[…],"contracts":[ … streamed … ]} */
            json_t *head = json_deep_copy(doc);
            char *s = json_dumps(head, JSON_COMPACT);
            json_decref(head);
            fwrite(s, 1, strlen(s) - 1, f); /* without the closing brace */
            free(s);
            fputs(",\"contracts\":[", f);
        }
    }
    /* the contract list, through a cursor */
    bool ok = cursor_open(c, "DECLARE list NO SCROLL CURSOR FOR SELECT * FROM export_contracts($1, $2::int)", 2, v);
    bool first = true;
    while (ok) {
        if (!(r = cursor_page(c))) {
            ok = false;
            break;
        }
        int n = PQntuples(r), cols = PQnfields(r);
        for (int i = 0; i < n; i++) {
            if (j->fmt == FMT_XLSX) {
                for (int k = 0; k < cols; k++) {
                    const char *val = PQgetvalue(r, i, k);
                    const char *rn = (k == 6 || k == 9) ? json_string_value(json_object_get(x.regions, val)) : NULL;
                    if (k >= 10 && k <= 12)
                        sheet_xlsx_yuan(x.list, (lxw_row_t)x.row, (lxw_col_t)k, strtoll(val, NULL, 10), x.money);
                    else if (rn)
                        sheet_xlsx_text(x.list, (lxw_row_t)x.row, (lxw_col_t)k, rn, NULL);
                    else if (k >= 17)
                        sheet_xlsx_text(x.list, (lxw_row_t)x.row, (lxw_col_t)k, !strcmp(val, "t") ? "是" : "否", NULL);
                    else
                        sheet_xlsx_text(x.list, (lxw_row_t)x.row, (lxw_col_t)k, val, NULL);
                }
                x.row++;
            } else if (j->fmt == FMT_CSV) {
                for (int k = 0; k < cols; k++) {
                    if (k) fputc(',', f);
                    const char *val = PQgetvalue(r, i, k);
                    if (k >= 10 && k <= 12) sheet_csv_yuan(f, strtoll(val, NULL, 10));
                    else if (k >= 17)
                        fputs(!strcmp(val, "t") ? "是" : "否", f);
                    else
                        sheet_csv_text(f, val);
                }
                fputs("\r\n", f);
            } else {
                json_t *o = json_object();
                for (int k = 0; k < cols; k++) {
                    const char *name = PQfname(r, k), *val = PQgetvalue(r, i, k);
                    if (PQgetisnull(r, i, k)) json_object_set_new(o, name, json_null());
                    else if (k >= 10 && k <= 12)
                        json_object_set_new(o, name, json_integer(strtoll(val, NULL, 10)));
                    else if (k >= 17)
                        json_object_set_new(o, name, json_boolean(!strcmp(val, "t")));
                    else
                        json_object_set_new(o, name, json_string(val));
                }
                char *s = json_dumps(o, JSON_COMPACT);
                json_decref(o);
                if (!first) fputc(',', f);
                fputs(s, f);
                free(s);
                first = false;
            }
        }
        PQclear(r);
        if (n == 0) break;
    }
    PQclear(PQexec(c, "COMMIT"));
    if (!ok) {
        LOG_E("export: reading the contract list failed: %s", PQerrorMessage(c));
        fail(j, 503, "the export could not be completed; try again shortly");
    }
    if (j->fmt == FMT_JSON) fputs("]}", f);
done:
    out_finish(j, &out);
    json_decref(doc);
    json_decref(x.regions);
    PQfinish(c);
}

static void export_done(void *arg)
{
    job_t *j = arg;
    static const char *const TYPES[] = {"text/csv; charset=utf-8",
                                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                        "application/json"};
    static const char *const EXT[] = {"csv", "xlsx", "json"};
    arena_t *a = j->req->arena;
    /* 技术合同统计_<year>_<region>.<ext> */
    reply_file(j, TYPES[j->fmt], arena_printf(a, "yizhan-%d-%s.%s", j->year, j->region, EXT[j->fmt]),
               arena_printf(a, "%%E6%%8A%%80%%E6%%9C%%AF%%E5%%90%%88%%E5%%90%%8C%%E7%%BB%%9F%%E8%%AE%%A1_%d_%s.%s",
                            j->year, j->region, EXT[j->fmt]));
}

/* --- the national reporting export ------------------------------------------------ */

/* A column of export_national() whose name ends in （元） holds fen. */
static bool is_amount_column(const char *name)
{
    static const char YUAN[] = "（元）";
    size_t n = strlen(name), k = sizeof YUAN - 1;
    return n >= k && !strcmp(name + n - k, YUAN);
}

static void national_work(void *arg)
{
    job_t *j = arg;
    out_t out = {0};
    lxw_worksheet *ws = NULL;
    bool ok = false, *amount = NULL;
    PGconn *c = db_connect_job("yizhan-export", 600000);
    if (!c) {
        fail(j, 503, "the database is unavailable; try again shortly");
        goto done;
    }
    if (out_open(j, &out, j->fmt == FMT_XLSX) != 0) goto done;
    if (out.wb) {
        ws = workbook_add_worksheet(out.wb, "技术合同登记表");
    } else if (j->gb18030) {
        FILE *g = sheet_gb18030_writer(out.f);
        if (!g) {
            fail(j, 500, "GB18030 is not available on this server");
            goto done;
        }
        out.f = g;
    } else {
        fputs("\xEF\xBB\xBF", out.f);
    }
    FILE *f = out.f;
    const char *v[3] = {j->region, j->from, j->to};
    ok = cursor_open(c, "DECLARE list NO SCROLL CURSOR FOR SELECT * FROM export_national($1, $2::date, $3::date)", 3,
                     v);
    lxw_row_t row = 0;
    int cols = 0;
    while (ok) {
        PGresult *r = cursor_page(c);
        if (!r) {
            ok = false;
            break;
        }
        int n = PQntuples(r);
        if (!amount) { /* the header row, from the column names (also for an empty period) */
            cols = PQnfields(r);
            amount = calloc((size_t)cols, sizeof *amount);
            for (int k = 0; k < cols && amount; k++) {
                amount[k] = is_amount_column(PQfname(r, k));
                if (ws) {
                    sheet_xlsx_text(ws, 0, (lxw_col_t)k, PQfname(r, k), out.head);
                    worksheet_set_column(ws, (lxw_col_t)k, (lxw_col_t)k, k == 1 ? 36 : 16, NULL);
                } else {
                    if (k) fputc(',', f);
                    sheet_csv_text(f, PQfname(r, k));
                }
            }
            if (f) fputs("\r\n", f);
            row = 1;
        }
        for (int i = 0; i < n && amount; i++, row++) {
            for (int k = 0; k < cols; k++) {
                const char *val = PQgetvalue(r, i, k);
                bool null = PQgetisnull(r, i, k);
                if (ws) {
                    if (null) continue;
                    if (amount[k]) sheet_xlsx_yuan(ws, row, (lxw_col_t)k, strtoll(val, NULL, 10), out.money);
                    else
                        sheet_xlsx_text(ws, row, (lxw_col_t)k, val, NULL);
                } else {
                    if (k) fputc(',', f);
                    if (null) continue;
                    if (amount[k]) sheet_csv_yuan(f, strtoll(val, NULL, 10));
                    else
                        sheet_csv_text(f, val);
                }
            }
            if (f) fputs("\r\n", f);
        }
        PQclear(r);
        if (n == 0 || !amount) break;
    }
    PQclear(PQexec(c, "COMMIT"));
    if (!ok || !amount) {
        LOG_E("national export: reading the contracts failed: %s", PQerrorMessage(c));
        fail(j, 503, "the export could not be completed; try again shortly");
    }
done:
    out_finish(j, &out);
    free(amount);
    PQfinish(c);
}

static void national_done(void *arg)
{
    job_t *j = arg;
    arena_t *a = j->req->arena;
    const char *ext = j->fmt == FMT_XLSX ? "xlsx" : "csv";
    const char *type = j->fmt == FMT_XLSX ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                       : j->gb18030       ? "text/csv; charset=gb18030"
                                          : "text/csv; charset=utf-8";
    /* 技术合同登记表_<from>_<to>_<region>.<ext> */
    reply_file(j, type, arena_printf(a, "yizhan-national-%s-%s-%s.%s", j->from, j->to, j->region, ext),
               arena_printf(a,
                            "%%E6%%8A%%80%%E6%%9C%%AF%%E5%%90%%88%%E5%%90%%8C%%E7%%99%%BB%%E8%%AE%%B0%%E8%%A1%%A8"
                            "_%s_%s_%s.%s",
                            j->from, j->to, j->region, ext));
}

/* After the query checks (errs: their problems) and the caller's region:
 * a job in the request's arena, or NULL after replying. */
static job_t *job_or_reply(http_req_t *req, json_t *errs, enum fmt f)
{
    const char *region;
    if (errs) {
        http_problem(req, 400, "invalid query parameter", errs);
        return NULL;
    }
    if (api_region_or_reply(req, &region)) return NULL;
    job_t *j = arena_calloc(req->arena, sizeof *j);
    j->req = req;
    j->fmt = f;
    j->fd = -1;
    snprintf(j->region, sizeof j->region, "%s", region);
    return j;
}

static void job_submit(job_t *j, void (*work)(void *), void (*done)(void *))
{
    if (pool_submit_to(g_export_pool, j->req->worker, work, done, j) != 0)
        http_problem(j->req, 503, "too many exports are running; try again shortly", NULL);
}

static void national(http_req_t *req)
{
    const char *from, *to, *fmt, *enc;
    if (http_query_or_reply(req, "from", &from) || http_query_or_reply(req, "to", &to) ||
        http_query_or_reply(req, "format", &fmt) || http_query_or_reply(req, "encoding", &enc))
        return;
    json_t *errs = NULL;
    if (!from) http_error_add(&errs, "from", "required", "the first registration date, YYYY-MM-DD");
    if (!to) http_error_add(&errs, "to", "required", "the last registration date, YYYY-MM-DD");
    /* both checked, so that both fields' problems are listed */
    bool from_ok = !api_check(&errs, "from", v_date(from));
    bool to_ok = !api_check(&errs, "to", v_date(to));
    bool dates = from_ok && to_ok;
    if (dates && from && to && strcmp(from, to) > 0)
        http_error_add(&errs, "to", "out_of_order", "must not be before from");
    enum fmt f = FMT_CSV;
    if (fmt && !strcmp(fmt, "xlsx")) f = FMT_XLSX;
    else if (fmt && strcmp(fmt, "csv"))
        http_error_add(&errs, "format", "invalid", "csv or xlsx");
    bool gb = false;
    if (enc && !strcmp(enc, "gb18030")) gb = true;
    else if (enc && strcmp(enc, "utf-8"))
        http_error_add(&errs, "encoding", "invalid", "gb18030 or utf-8 (CSV only)");
    if (enc && f == FMT_XLSX) http_error_add(&errs, "encoding", "invalid", "an XLSX file has no encoding to choose");
    job_t *j = job_or_reply(req, errs, f);
    if (!j) return;
    j->gb18030 = gb;
    snprintf(j->from, sizeof j->from, "%s", from);
    snprintf(j->to, sizeof j->to, "%s", to);
    job_submit(j, national_work, national_done);
}

static void annual(http_req_t *req)
{
    const char *y, *fmt;
    if (http_query_or_reply(req, "year", &y) || http_query_or_reply(req, "format", &fmt)) return;
    json_t *errs = NULL;
    uint64_t year = 0;
    if (!y) http_error_add(&errs, "year", "required", "give the year, 2000 to 2100");
    else
        api_check(&errs, "year", v_year_text(y, &year));
    enum fmt f = FMT_CSV;
    if (fmt && !strcmp(fmt, "xlsx")) f = FMT_XLSX;
    else if (fmt && !strcmp(fmt, "json"))
        f = FMT_JSON;
    else if (fmt && strcmp(fmt, "csv"))
        http_error_add(&errs, "format", "invalid", "csv, xlsx or json");
    job_t *j = job_or_reply(req, errs, f);
    if (!j) return;
    j->year = (int)year;
    job_submit(j, export_work, export_done);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/exports/annual", annual, 0, ROLE_BUREAU | ROLE_ADMIN},
    {HTTP_GET, "/api/v1/exports/national", national, 0, ROLE_BUREAU | ROLE_ADMIN},
};

void api_export_init(void)
{
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
