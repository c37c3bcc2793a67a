/* export.c — the annual statistics export for the bureau: CSV (UTF-8 with
 * BOM, so Excel opens it with the Chinese intact), XLSX (libxlsxwriter, one
 * sheet per table, constant-memory mode) or JSON.
 *
 * The whole job runs on the export pool, off the event loop, with its own
 * blocking connection: the statistics tables come from the aggregates (one
 * statement), the contract list through a server-side cursor in pages, and
 * everything is written to an unlinked temporary file.  The loop then sends
 * that file with sendfile.  Memory stays bounded whatever the year's size. */
#include "api/api.h"

#include "auth/auth.h"
#include "config.h"
#include "domain/region.h"
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
    int fd;             /* result file, or -1 */
    size_t size;
    int status;         /* on failure: HTTP status and detail */
    char detail[256];
} job_t;

static const char *const LIST_HEAD[] = {"登记编号", "合同名称", "合同类别", "合同子类", "卖方", "卖方单位类型", "卖方地区",
                                        "买方", "买方单位类型", "买方地区", "合同成交额(元)", "技术交易额(元)",
                                        "实际到账额(元)", "技术领域", "知识产权类型", "计划来源", "登记日期", "输出",
                                        "吸纳"};
static const char *const TABLE_HEAD[] = {"代码", "名称", "输出合同数", "输出成交额(元)", "输出技术交易额(元)",
                                         "输出到账额(元)", "吸纳合同数", "吸纳成交额(元)", "吸纳技术交易额(元)",
                                         "吸纳到账额(元)"};
static const char *const AMOUNTS[] = {"contract_amount_fen", "technical_amount_fen", "received_amount_fen"};

/* --- output sinks ------------------------------------------------------------------ */

static void csv_field(FILE *f, const char *s)
{
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
}

static void csv_yuan(FILE *f, long long fen)
{
    fprintf(f, "%s%lld.%02lld", fen < 0 ? "-" : "", llabs(fen) / 100, llabs(fen) % 100);
}

static long long jint(json_t *o, const char *k) { return (long long)json_integer_value(json_object_get(o, k)); }

static void csv_tables(FILE *f, json_t *doc)
{
    fprintf(f, "技术合同登记统计,%s,%lld年\r\n", json_string_value(json_object_get(doc, "region_name")),
            jint(doc, "year"));
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "tables"), i, t) {
        fputs("\r\n", f);
        csv_field(f, json_string_value(json_object_get(t, "title")));
        fputs("\r\n", f);
        for (size_t h = 0; h < ARRAY_LEN(TABLE_HEAD); h++) {
            if (h) fputc(',', f);
            fputs(TABLE_HEAD[h], f);
        }
        fputs("\r\n", f);
        size_t r;
        json_t *row;
        json_array_foreach(json_object_get(t, "rows"), r, row) {
            csv_field(f, json_string_value(json_object_get(row, "key")));
            fputc(',', f);
            csv_field(f, json_string_value(json_object_get(row, "label")) ? json_string_value(json_object_get(row, "label")) : "");
            static const char *const FLOWS[] = {"out", "in"};
            for (int fl = 0; fl < 2; fl++) {
                json_t *g = json_object_get(row, FLOWS[fl]);
                fprintf(f, ",%lld", jint(g, "count"));
                for (int a = 0; a < 3; a++) fputc(',', f), csv_yuan(f, jint(g, AMOUNTS[a]));
            }
            fputs("\r\n", f);
        }
        json_t *tot = json_object_get(t, "total");
        fputs("合计,", f);
        static const char *const FLOWS[] = {"out", "in"};
        for (int fl = 0; fl < 2; fl++) {
            json_t *g = json_object_get(tot, FLOWS[fl]);
            fprintf(f, ",%lld", jint(g, "count"));
            for (int a = 0; a < 3; a++) fputc(',', f), csv_yuan(f, jint(g, AMOUNTS[a]));
        }
        fputs("\r\n", f);
    }
    fputs("\r\n合同清单\r\n", f);
    for (size_t h = 0; h < ARRAY_LEN(LIST_HEAD); h++) {
        if (h) fputc(',', f);
        fputs(LIST_HEAD[h], f);
    }
    fputs("\r\n", f);
}

/* --- the job ------------------------------------------------------------------------- */

static void fail(job_t *j, int status, const char *detail)
{
    j->status = status;
    snprintf(j->detail, sizeof j->detail, "%s", detail);
}

static PGconn *connect_export(void)
{
    char opts[200];
    snprintf(opts, sizeof opts, "-c statement_timeout=600000 -c TimeZone=UTC%s%s", g_cfg.db_role[0] ? " -c role=" : "",
             g_cfg.db_role);
    const char *keys[] = {"dbname", "application_name", "client_encoding", "options", NULL};
    const char *vals[] = {g_cfg.database_url, "yizhan-export", "UTF8", opts, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* XLSX: one sheet per table plus the list; amounts in yuan with a number format. */
typedef struct {
    lxw_workbook *wb;
    lxw_worksheet *list;
    lxw_format *money, *head;
    int row;
} xlsx_t;

static void xlsx_tables(xlsx_t *x, json_t *doc)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "tables"), i, t) {
        lxw_worksheet *ws = workbook_add_worksheet(x->wb, json_string_value(json_object_get(t, "title")));
        worksheet_set_column(ws, 0, 0, 14, NULL);
        worksheet_set_column(ws, 1, 1, 28, NULL);
        worksheet_set_column(ws, 2, 9, 16, NULL);
        for (size_t h = 0; h < ARRAY_LEN(TABLE_HEAD); h++) worksheet_write_string(ws, 0, (lxw_col_t)h, TABLE_HEAD[h], x->head);
        size_t r;
        json_t *row;
        static const char *const FLOWS[] = {"out", "in"};
        json_array_foreach(json_object_get(t, "rows"), r, row) {
            lxw_row_t y = (lxw_row_t)(r + 1);
            worksheet_write_string(ws, y, 0, json_string_value(json_object_get(row, "key")), NULL);
            const char *label = json_string_value(json_object_get(row, "label"));
            worksheet_write_string(ws, y, 1, label ? label : "", NULL);
            for (int fl = 0; fl < 2; fl++) {
                json_t *g = json_object_get(row, FLOWS[fl]);
                worksheet_write_number(ws, y, (lxw_col_t)(2 + fl * 4), (double)jint(g, "count"), NULL);
                for (int a = 0; a < 3; a++)
                    worksheet_write_number(ws, y, (lxw_col_t)(3 + fl * 4 + a), (double)jint(g, AMOUNTS[a]) / 100.0, x->money);
            }
        }
        lxw_row_t y = (lxw_row_t)(json_array_size(json_object_get(t, "rows")) + 1);
        json_t *tot = json_object_get(t, "total");
        worksheet_write_string(ws, y, 0, "合计", x->head);
        for (int fl = 0; fl < 2; fl++) {
            json_t *g = json_object_get(tot, FLOWS[fl]);
            worksheet_write_number(ws, y, (lxw_col_t)(2 + fl * 4), (double)jint(g, "count"), x->head);
            for (int a = 0; a < 3; a++)
                worksheet_write_number(ws, y, (lxw_col_t)(3 + fl * 4 + a), (double)jint(g, AMOUNTS[a]) / 100.0, x->money);
        }
    }
    x->list = workbook_add_worksheet(x->wb, "合同清单");
    worksheet_set_column(x->list, 0, 0, 20, NULL);
    worksheet_set_column(x->list, 1, 1, 36, NULL);
    worksheet_set_column(x->list, 2, 18, 14, NULL);
    for (size_t h = 0; h < ARRAY_LEN(LIST_HEAD); h++) worksheet_write_string(x->list, 0, (lxw_col_t)h, LIST_HEAD[h], x->head);
    x->row = 1;
}

static void export_work(void *arg)
{
    job_t *j = arg;
    char path[] = "/tmp/yizhan-export-XXXXXX";
    FILE *f = NULL;
    xlsx_t x = {0};
    json_t *doc = NULL;
    PGconn *c = connect_export();
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
    int fd = mkstemp(path);
    if (fd < 0 || !doc) {
        fail(j, 500, "could not create the export file");
        goto done;
    }
    if (j->fmt == FMT_XLSX) {
        close(fd);
        lxw_workbook_options o = {.constant_memory = LXW_TRUE, .tmpdir = "/tmp"};
        x.wb = workbook_new_opt(path, &o);
        x.money = workbook_add_format(x.wb);
        format_set_num_format(x.money, "#,##0.00");
        x.head = workbook_add_format(x.wb);
        format_set_bold(x.head);
        xlsx_tables(&x, doc);
    } else {
        f = fdopen(fd, "w");
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
    PQclear(PQexec(c, "BEGIN READ ONLY"));
    r = PQexecParams(c, "DECLARE list NO SCROLL CURSOR FOR SELECT * FROM export_contracts($1, $2::int)", 2, NULL, v,
                     NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    bool first = true;
    while (ok) {
        r = PQexec(c, "FETCH 2000 FROM list");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            ok = false;
            PQclear(r);
            break;
        }
        int n = PQntuples(r), cols = PQnfields(r);
        for (int i = 0; i < n; i++) {
            if (j->fmt == FMT_XLSX) {
                for (int k = 0; k < cols; k++) {
                    const char *val = PQgetvalue(r, i, k);
                    if (k >= 10 && k <= 12)
                        worksheet_write_number(x.list, (lxw_row_t)x.row, (lxw_col_t)k, strtod(val, NULL) / 100.0, x.money);
                    else if (k >= 17)
                        worksheet_write_string(x.list, (lxw_row_t)x.row, (lxw_col_t)k, !strcmp(val, "t") ? "是" : "否", NULL);
                    else
                        worksheet_write_string(x.list, (lxw_row_t)x.row, (lxw_col_t)k, val, NULL);
                }
                x.row++;
            } else if (j->fmt == FMT_CSV) {
                for (int k = 0; k < cols; k++) {
                    if (k) fputc(',', f);
                    const char *val = PQgetvalue(r, i, k);
                    if (k >= 10 && k <= 12) csv_yuan(f, strtoll(val, NULL, 10));
                    else if (k >= 17) fputs(!strcmp(val, "t") ? "是" : "否", f);
                    else csv_field(f, val);
                }
                fputs("\r\n", f);
            } else {
                json_t *o = json_object();
                for (int k = 0; k < cols; k++) {
                    const char *name = PQfname(r, k), *val = PQgetvalue(r, i, k);
                    if (PQgetisnull(r, i, k)) json_object_set_new(o, name, json_null());
                    else if (k >= 10 && k <= 12) json_object_set_new(o, name, json_integer(strtoll(val, NULL, 10)));
                    else if (k >= 17) json_object_set_new(o, name, json_boolean(!strcmp(val, "t")));
                    else json_object_set_new(o, name, json_string(val));
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
    if (j->fmt == FMT_XLSX) {
        if (workbook_close(x.wb) != LXW_NO_ERROR && ok) fail(j, 500, "could not write the workbook");
        x.wb = NULL;
    } else {
        if (j->fmt == FMT_JSON) fputs("]}", f);
        if (fclose(f) != 0 && ok) fail(j, 500, "could not write the export file");
        f = NULL;
    }
    if (!j->status) {
        j->fd = open(path, O_RDONLY);
        struct stat st;
        if (j->fd < 0 || fstat(j->fd, &st) != 0) fail(j, 500, "could not read the export file");
        else j->size = (size_t)st.st_size;
    }
done:
    if (f) fclose(f);
    if (path[sizeof path - 7] != 'X') unlink(path); /* the open fd keeps the data */
    json_decref(doc);
    PQfinish(c);
}

static void export_done(void *arg)
{
    job_t *j = arg;
    http_req_t *req = j->req;
    if (j->status) {
        http_problem(req, j->status, j->detail, NULL);
        return;
    }
    static const char *const TYPES[] = {"text/csv; charset=utf-8",
                                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                        "application/json"};
    static const char *const EXT[] = {"csv", "xlsx", "json"};
    /* 技术合同统计_<year>_<region>.<ext>, RFC 8187-encoded */
    http_add_header(req, "Content-Disposition",
                    arena_printf(req->arena,
                                 "attachment; filename=\"yizhan-%d-%s.%s\"; filename*=UTF-8''%%E6%%8A%%80%%E6%%9C%%AF"
                                 "%%E5%%90%%88%%E5%%90%%8C%%E7%%BB%%9F%%E8%%AE%%A1_%d_%s.%s",
                                 j->year, j->region, EXT[j->fmt], j->year, j->region, EXT[j->fmt]));
    http_add_header(req, "Cache-Control", "no-store");
    http_reply_file(req, 200, TYPES[j->fmt], j->fd, j->size);
}

static void annual(http_req_t *req)
{
    const char *y, *r, *fmt;
    if (http_query_or_reply(req, "year", &y) || http_query_or_reply(req, "region", &r) ||
        http_query_or_reply(req, "format", &fmt))
        return;
    json_t *errs = NULL;
    uint64_t year = 0;
    if (!y || util_parse_u64(y, strlen(y), &year) != 0 || year < 2000 || year > 2100)
        http_error_add(&errs, "year", "invalid", "give the year, 2000 to 2100");
    enum fmt f = FMT_CSV;
    if (fmt && !strcmp(fmt, "xlsx")) f = FMT_XLSX;
    else if (fmt && !strcmp(fmt, "json")) f = FMT_JSON;
    else if (fmt && strcmp(fmt, "csv")) http_error_add(&errs, "format", "invalid", "csv, xlsx or json");
    auth_user_t *u = req->user;
    const char *region = r ? r : (u->role & ROLE_BUREAU ? u->region : "000000");
    if (!region_code_ok(region)) http_error_add(&errs, "region", "invalid", "a six-digit GB/T 2260 region code");
    if (errs) {
        http_problem(req, 400, "invalid query parameter", errs);
        return;
    }
    if ((u->role & ROLE_BUREAU) && !region_in_subtree(region, u->region)) {
        json_t *e = NULL;
        http_error_add(&e, "region", "out_of_scope", "a bureau exports its own region and the regions below it");
        http_problem(req, 403, "outside your region", e);
        return;
    }
    job_t *j = arena_calloc(req->arena, sizeof *j);
    j->req = req;
    j->fmt = f;
    j->year = (int)year;
    j->fd = -1;
    snprintf(j->region, sizeof j->region, "%s", region);
    if (pool_submit_to(g_export_pool, req->worker, export_work, export_done, j) != 0)
        http_problem(req, 503, "too many exports are running; try again shortly", NULL);
}

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/exports/annual", annual, 0, ROLE_BUREAU | ROLE_ADMIN},
};

void api_export_init(void)
{
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
