/* imports.c — importing past contracts (历史导入, issue #19 part 2):
 *
 *   POST /api/v1/imports/contracts[?dry_run=true&filename=]   the file as the body
 *   GET  /api/v1/imports/contracts                            earlier imports
 *   GET  /api/v1/imports/contracts/template?format=csv|xlsx   the template
 *   yizhan import contracts FILE [--dry-run]                  the same, at the console
 *
 * A file (CSV in UTF-8 with or without BOM or GB18030, or XLSX; read by
 * domain/sheet_read.c) has a header row of Chinese column names (COLUMNS, the
 * one list: the parser, the template and its notes all read it) and one
 * contract a row.  Every cell's form is checked here (dates, amounts,
 * numbers, credit codes); the rows are COPYed into a temporary table, and
 * import_check() in SQL resolves codes, offices and organisations and finds
 * what needs the database (a number already present, another office's
 * number, an unknown region).  Every problem is reported with its row (as
 * Excel numbers it) and its column.  A dry run stops there and writes
 * nothing; a real import with any problem writes nothing either; otherwise
 * import_apply() registers every contract in the same transaction.
 *
 * Off the event loop: the API runs the whole job on the export pool with its
 * own blocking connection (like the exports), and answers from its result. */
#include "api/api.h"
#include "api/sheet.h"

#include "auth/auth.h"
#include "config.h"
#include "domain/cjk.h"
#include "domain/credit_code.h"
#include "domain/sheet_read.h"
#include "log.h"
#include "util/pool.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- the columns ------------------------------------------------------------------------ */

typedef enum { K_NUMBER, K_TITLE, K_NAME, K_CODE, K_CREDIT, K_REGION, K_DATE, K_YUAN, K_BOOL } kind_t;

typedef struct {
    const char *head; /* the Chinese header, as in the template */
    kind_t kind;
    bool required;    /* the column must be there, and a value in every row */
    const char *note; /* for the template's notes sheet */
} column_t;

/* In the order of the staging table import_rows (functions/imports.sql), after row_no. */
static const column_t COLUMNS[] = {
    {"登记编号", K_NUMBER, true,
     "16 位数字：登记年份（4 位）＋登记机构行政区划代码（6 位）＋序号（6 位）；请以文本格式填写"},
    {"合同名称", K_TITLE, true, "不超过 300 字"},
    {"合同类别", K_CODE, true,
     "类别或子类的名称或代码：技术开发、技术转让、技术许可、技术咨询、技术服务，或委托开发、专利权转让等；也可写作“技术转让/专利权转让”"},
    {"合同子类", K_CODE, false, "子类的名称或代码，如委托开发、合作开发；“合同类别”已是子类时可不填"},
    {"卖方名称", K_NAME, true, "不超过 200 字"},
    {"卖方统一社会信用代码", K_CREDIT, true, "18 位；自然人或境外卖方可不填"},
    {"卖方所在地区代码", K_REGION, true, "6 位行政区划代码（GB/T 2260）；技术进口合同的境外卖方可不填"},
    {"卖方单位类型", K_CODE, false,
     "单位类型的名称或代码（如 022 高等院校、150 有限责任公司）；不填时由统一社会信用代码判断"},
    {"买方名称", K_NAME, true, "不超过 200 字"},
    {"买方统一社会信用代码", K_CREDIT, true, "18 位；自然人或境外买方可不填"},
    {"买方所在地区代码", K_REGION, true, "6 位行政区划代码（GB/T 2260）"},
    {"买方单位类型", K_CODE, false, "同卖方单位类型"},
    {"签订日期", K_DATE, true, "如 2023-05-06、2023/5/6 或 2023年5月6日"},
    {"登记日期", K_DATE, true, "年份须与登记编号的前 4 位一致"},
    {"合同成交额（元）", K_YUAN, true, "以元为单位的数字，最多两位小数"},
    {"技术交易额（元）", K_YUAN, true, "不超过合同成交额；差额记为非技术性费用"},
    {"技术领域", K_CODE, true, "11 个技术领域之一的名称或代码，如电子信息、先进制造、农业"},
    {"生效日期", K_DATE, false, ""},
    {"终止日期", K_DATE, false, ""},
    {"知识产权类型", K_CODE, false, "如专利、技术秘密、计算机软件著作权、未涉及知识产权"},
    {"计划来源", K_CODE, false, "如国家计划、省级计划、计划外"},
    {"社会经济目标", K_CODE, false, "社会经济目标分类的名称或代码"},
    {"中介方名称", K_NAME, false, ""},
    {"中介方统一社会信用代码", K_CREDIT, false, ""},
    {"中介方所在地区代码", K_REGION, false, ""},
    {"技术进口", K_BOOL, false, "是 / 否（不填为否）：技术进口合同由境内买方申请登记"},
};
#define NCOL ((int)ARRAY_LEN(COLUMNS))
enum {
    C_NUMBER,
    C_TITLE,
    C_TYPE,
    C_SUBTYPE,
    C_SELLER,
    C_SELLER_CREDIT,
    C_SELLER_REGION,
    C_SELLER_TYPE,
    C_BUYER,
    C_BUYER_CREDIT,
    C_BUYER_REGION,
    C_BUYER_TYPE,
    C_SIGNED,
    C_REGISTERED,
    C_AMOUNT,
    C_TECHNICAL,
    C_DOMAIN,
    C_EFFECTIVE,
    C_END,
    C_IP,
    C_PLAN,
    C_SEO,
    C_MID,
    C_MID_CREDIT,
    C_MID_REGION,
    C_IMPORT
};
#define MAX_ERRORS_SHOWN 1000

/* --- one import ------------------------------------------------------------------------ */

typedef struct {
    int row;
    int col; /* index in COLUMNS, or -1 (the file; or an unknown column, named in head) */
    char head[64];
    const char *code;
    char *message; /* malloc'd */
} problem_t;

typedef struct {
    /* inputs */
    PGconn *c;
    int max_rows;
    /* the header */
    int header_row;
    int map[SHEET_MAX_CELLS]; /* file column → COLUMNS index, or -1 */
    bool have[NCOL];
    /* problems */
    problem_t *p;
    size_t np, capp;
    /* the COPY stream */
    buf_t copy;
    buf_t doc, norm, tsv; /* one row's search text (search_columns), reused */
    bool dry_run;         /* nothing is inserted: no search columns to compute */
    bool copy_failed;
    /* summary of the rows whose cells are well-formed */
    long long count, amount, technical;
    struct {
        int year;
        long long count, amount;
    } years[64];
    int nyears;
    int data_rows;
} run_t;

static void problem(run_t *r, int row, int col, const char *head, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void problem(run_t *r, int row, int col, const char *head, const char *code, const char *fmt, ...)
{
    if (r->np == r->capp) {
        size_t cap = r->capp ? r->capp * 2 : 64;
        problem_t *p = realloc(r->p, cap * sizeof *p);
        if (!p) return;
        r->p = p;
        r->capp = cap;
    }
    problem_t *e = &r->p[r->np++];
    e->row = row;
    e->col = col;
    snprintf(e->head, sizeof e->head, "%s", col >= 0 ? COLUMNS[col].head : head ? head : "");
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&e->message, fmt, ap) < 0) e->message = NULL;
    va_end(ap);
}

/* --- cell values --------------------------------------------------------------------------- */

/* Trim ASCII white space, no-break spaces and the ideographic space (U+3000)
 * at both ends; the result is in out (cap bytes). */
static const char *trim(const char *s, char *out, size_t cap)
{
    const char *e = s + strlen(s);
    for (;;) {
        if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
        else if (!strncmp(s, "\xC2\xA0", 2))
            s += 2;
        else if (!strncmp(s, "\xE3\x80\x80", 3))
            s += 3;
        else
            break;
    }
    for (;;) {
        if (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) e--;
        else if (e - s >= 2 && !strncmp(e - 2, "\xC2\xA0", 2))
            e -= 2;
        else if (e - s >= 3 && !strncmp(e - 3, "\xE3\x80\x80", 3))
            e -= 3;
        else
            break;
    }
    size_t n = (size_t)(e - s);
    if (n >= cap) n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

/* A header as written, compared loosely: no spaces, () and （） alike. */
static void header_key(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') continue;
        if (!strncmp(s, "\xE3\x80\x80", 3)) {
            s += 2;
            continue;
        }
        if (*s == '(') {
            memcpy(out + o, "（", 3);
            o += 3;
            continue;
        }
        if (*s == ')') {
            memcpy(out + o, "）", 3);
            o += 3;
            continue;
        }
        out[o++] = *s;
    }
    out[o] = '\0';
}

/* An exact decimal with at most two places (digits, optional thousands
 * separators, an optional 元): fen, or -1. */
static long long decimal_fen(const char *s)
{
    long long v = 0;
    int frac = -1, digits = 0;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            if (frac >= 0 && ++frac > 2) return -1;
            if (v > 100000000000000LL) return -1;
            v = v * 10 + (*s - '0');
            digits++;
        } else if (*s == '.' && frac < 0) {
            frac = 0;
        } else if (*s == ',' && frac < 0) {
            continue;
        } else if (!strncmp(s, "，", 3) && frac < 0) {
            s += 2;
        } else if (!strcmp(s, "元")) {
            break;
        } else {
            return -1;
        }
    }
    if (!digits) return -1;
    for (int f = frac < 0 ? 0 : frac; f < 2; f++) v *= 10;
    return v;
}

static long long yuan_fen(const char *s, sheet_kind_t kind)
{
    long long v = decimal_fen(s);
    if (v >= 0 || kind != SHEET_NUMBER) return v;
    /* an XLSX number Excel wrote with binary noise (1234.5599999999999) */
    char *end;
    double d = strtod(s, &end);
    if (*end || !isfinite(d) || d < 0) return -1;
    char t[64];
    snprintf(t, sizeof t, "%.15g", d);
    return strchr(t, 'e') ? -1 : decimal_fen(t);
}

/* YYYY-MM-DD from the forms people type, or an XLSX date serial. */
static bool to_date(const char *s, sheet_kind_t kind, char out[11])
{
    if (kind == SHEET_NUMBER) {
        char *end;
        double d = strtod(s, &end);
        return !*end && sheet_serial_date(d, out) && strcmp(out, "1990-01-01") >= 0;
    }
    int y = 0, m = 0, d = 0, n = 0;
    char tail[8] = "";
    if (strlen(s) == 8 && strspn(s, "0123456789") == 8) {
        n = sscanf(s, "%4d%2d%2d", &y, &m, &d);
    } else if (sscanf(s, "%d年%d月%d日%7s", &y, &m, &d, tail) >= 3 && strstr(s, "年")) {
        n = 3;
        if (tail[0]) return false;
    } else {
        char sep1, sep2;
        int k = 0;
        if (sscanf(s, "%d%c%d%c%d%n", &y, &sep1, &m, &sep2, &d, &k) == 5 && sep1 == sep2 &&
            (sep1 == '-' || sep1 == '/' || sep1 == '.')) {
            n = 3;
            /* "2023-05-06 00:00:00" (a date and time as text): the date counts */
            if (s[k] && !(s[k] == ' ' && strspn(s + k + 1, "0123456789:.") == strlen(s + k + 1))) return false;
        }
    }
    if (n != 3 || y < 1990 || y > 2999 || m < 1 || m > 12 || d < 1 || d > 31) return false;
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u, (unsigned)d % 100u);
    return util_date_parse(out, NULL, NULL, NULL);
}

/* --- COPY text ------------------------------------------------------------------------------ */

static void copy_field(buf_t *b, const char *s)
{
    if (!s) {
        buf_puts(b, "\\N");
        return;
    }
    for (; *s; s++) {
        switch (*s) {
        case '\\': buf_puts(b, "\\\\"); break;
        case '\t': buf_puts(b, "\\t"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        default: buf_putc(b, *s);
        }
    }
}

static void copy_flush(run_t *r, bool force)
{
    if (r->copy.len < (256u << 10) && !(force && r->copy.len)) return;
    if (!r->copy_failed && PQputCopyData(r->c, r->copy.data, (int)r->copy.len) != 1) r->copy_failed = true;
    r->copy.len = 0;
}

/* --- the search columns ---------------------------------------------------------------------- */

/* One token of the document, as a tsvector lexeme ('tok', quote and backslash escaped). */
static void tsv_token(void *arg, const char *tok, size_t len)
{
    buf_t *b = arg;
    buf_puts(b, b->len ? " '" : "'");
    for (size_t i = 0; i < len; i++) {
        if (tok[i] == '\'' || tok[i] == '\\') buf_putc(b, tok[i] == '\'' ? '\'' : '\\');
        buf_putc(b, tok[i]);
    }
    buf_putc(b, '\'');
}

/* The contract's search_doc and search_tsv as COPY fields, computed here by the
 * tokenizer the queries use (domain/cjk.c, equal to the database's search_norm
 * and search_tokens, see contract_search_doc): the trigger contracts_search_ins
 * keeps a row inserted with both, so the database does not tokenise 100,000
 * rows one trigger call at a time (most of an import's time before). */
static void search_columns(run_t *r, const char *const v[NCOL])
{
    static const int parts[] = {C_TITLE, C_SELLER, C_BUYER, C_MID, C_SELLER_CREDIT, C_BUYER_CREDIT};
    if (r->dry_run) {
        buf_puts(&r->copy, "\t\\N\t\\N");
        return;
    }
    r->doc.len = r->norm.len = r->tsv.len = 0;
    bool first = true;
    for (size_t i = 0; i < ARRAY_LEN(parts); i++) {
        if (!v[parts[i]]) continue; /* concat_ws skips NULLs */
        if (!first) buf_putc(&r->doc, '\n');
        buf_puts(&r->doc, v[parts[i]]);
        first = false;
    }
    cjk_normalize(r->doc.data ? r->doc.data : "", r->doc.len, &r->norm);
    cjk_doc_tokens(buf_cstr(&r->norm), r->norm.len, tsv_token, &r->tsv);
    buf_putc(&r->copy, '\t');
    copy_field(&r->copy, buf_cstr(&r->norm));
    buf_putc(&r->copy, '\t');
    copy_field(&r->copy, buf_cstr(&r->tsv));
}

/* --- the rows ------------------------------------------------------------------------------- */

static int on_header(run_t *r, const sheet_row_t *row)
{
    r->header_row = row->row;
    int known = 0;
    for (int i = 0; i < SHEET_MAX_CELLS; i++) r->map[i] = -1;
    for (int i = 0; i < row->n; i++) {
        char key[256], want[256];
        header_key(row->cell[i], key, sizeof key);
        if (!key[0]) continue;
        int k = 0;
        for (; k < NCOL; k++) {
            header_key(COLUMNS[k].head, want, sizeof want);
            if (!strcmp(key, want)) break;
        }
        if (k == NCOL) {
            char shown[64];
            snprintf(shown, sizeof shown, "%s", row->cell[i]);
            problem(r, row->row, -1, shown, "unknown_field", "不认识的列“%s”（可用的列见导入模板）", row->cell[i]);
            continue;
        }
        if (r->have[k]) {
            problem(r, row->row, k, NULL, "duplicate", "表头中“%s”出现了两次", COLUMNS[k].head);
            continue;
        }
        r->have[k] = true;
        r->map[i] = k;
        known++;
    }
    if (!known) {
        r->np = 0; /* one clear message instead of one per cell */
        problem(r, row->row, -1, "", "invalid_format",
                "第 %d 行应为表头（登记编号、合同名称、合同类别……），请使用导入模板", row->row);
        return 0;
    }
    for (int k = 0; k < NCOL; k++)
        if (COLUMNS[k].required && !r->have[k])
            problem(r, row->row, k, NULL, "required", "缺少必填列“%s”", COLUMNS[k].head);
    return 0;
}

static void summary_add(run_t *r, const char *registered_on, long long amount, long long technical)
{
    int year = atoi(registered_on);
    r->count++;
    r->amount += amount;
    r->technical += technical;
    int i = 0;
    for (; i < r->nyears && r->years[i].year != year; i++)
        ;
    if (i == r->nyears) {
        if (r->nyears == (int)ARRAY_LEN(r->years)) return;
        r->years[r->nyears].year = year;
        r->years[r->nyears].count = 0;
        r->years[r->nyears].amount = 0;
        r->nyears++;
    }
    r->years[i].count++;
    r->years[i].amount += amount;
}

static int on_data(run_t *r, const sheet_row_t *row)
{
    char raw[NCOL][1024];
    const char *v[NCOL];
    sheet_kind_t kind[NCOL];
    char val[NCOL][32];
    size_t before = r->np;
    for (int k = 0; k < NCOL; k++) v[k] = NULL, kind[k] = SHEET_TEXT;
    for (int i = 0; i < row->n && i < SHEET_MAX_CELLS; i++) {
        int k = r->map[i];
        if (k < 0) continue;
        if (strlen(row->cell[i]) >= sizeof raw[k]) {
            problem(r, row->row, k, NULL, "too_long", "内容过长");
            continue;
        }
        trim(row->cell[i], raw[k], sizeof raw[k]);
        if (raw[k][0]) v[k] = raw[k], kind[k] = row->kind[i];
    }
    r->data_rows++;
    long long amount = -1, technical = -1;
    bool is_import = false;
    for (int k = 0; k < NCOL; k++) {
        const char *s = v[k];
        if (!s) {
            if (COLUMNS[k].required && !(k == C_SELLER_CREDIT || k == C_BUYER_CREDIT || k == C_SELLER_REGION))
                problem(r, row->row, k, NULL, "required", "“%s”不能为空", COLUMNS[k].head);
            continue;
        }
        size_t chars = util_utf8_len(s, strlen(s));
        switch (COLUMNS[k].kind) {
        case K_NUMBER:
            if (kind[k] == SHEET_NUMBER)
                problem(r, row->row, k, NULL, "invalid_number",
                        "登记编号是数字格式，Excel 只保留 15 位有效数字；请把这一列设为文本格式后重新填写");
            else if (strlen(s) != 16 || strspn(s, "0123456789") != 16)
                problem(r, row->row, k, NULL, "invalid_number", "“%s”不是 16 位数字的登记编号", s);
            else if (!strcmp(s + 10, "000000"))
                problem(r, row->row, k, NULL, "invalid_number", "登记编号的序号（后 6 位）不能为 000000");
            break;
        case K_TITLE:
        case K_NAME:
            if (chars > (COLUMNS[k].kind == K_TITLE ? 300u : 200u))
                problem(r, row->row, k, NULL, "too_long", "不能超过 %d 字", COLUMNS[k].kind == K_TITLE ? 300 : 200);
            else if (util_has_bidi_control(s, strlen(s)))
                problem(r, row->row, k, NULL, "invalid_character", "含有改变文字方向的控制字符");
            break;
        case K_CODE:
            if (chars > 100) problem(r, row->row, k, NULL, "too_long", "不能超过 100 字");
            break;
        case K_CREDIT: {
            char *u = raw[k];
            for (char *p = u; *p; p++) *p = (char)toupper((unsigned char)*p);
            if (credit_code_error(u, strlen(u)))
                problem(r, row->row, k, NULL, "invalid_credit_code",
                        "“%s”不是有效的统一社会信用代码（格式或校验位不符）", s);
            break;
        }
        case K_REGION:
            if (strlen(s) != 6 || strspn(s, "0123456789") != 6)
                problem(r, row->row, k, NULL, "unknown_region", "“%s”不是 6 位行政区划代码", s);
            break;
        case K_DATE:
            if (!to_date(s, kind[k], val[k]))
                problem(r, row->row, k, NULL, "invalid_date", "“%s”不是日期（如 2023-05-06），或早于 1990 年", s);
            else
                v[k] = val[k];
            break;
        case K_YUAN: {
            long long fen = yuan_fen(s, kind[k]);
            if (fen < 0 || fen > 100000000000000LL)
                problem(r, row->row, k, NULL, "invalid_format", "“%s”不是金额：请填写以元为单位的数字，最多两位小数",
                        s);
            else
                snprintf(val[k], sizeof val[k], "%lld", fen), v[k] = val[k];
            if (k == C_AMOUNT) amount = fen;
            else
                technical = fen;
            break;
        }
        case K_BOOL:
            if (!strcmp(s, "是") || !strcasecmp(s, "y") || !strcasecmp(s, "yes") || !strcasecmp(s, "true") ||
                !strcmp(s, "1"))
                is_import = true;
            else if (!(!strcmp(s, "否") || !strcasecmp(s, "n") || !strcasecmp(s, "no") || !strcasecmp(s, "false") ||
                       !strcmp(s, "0")))
                problem(r, row->row, k, NULL, "invalid", "请填写“是”或“否”");
            break;
        }
    }
    if (amount == 0) problem(r, row->row, C_AMOUNT, NULL, "out_of_range", "合同成交额须大于 0");
    if (amount >= 0 && technical > amount)
        problem(r, row->row, C_TECHNICAL, NULL, "exceeds_contract", "技术交易额不能超过合同成交额");
    if (r->np != before) return 0; /* a row with a malformed cell is not sent to the database */
    summary_add(r, v[C_REGISTERED], amount, technical);
    buf_printf(&r->copy, "%d", row->row);
    for (int k = 0; k < NCOL; k++) {
        buf_putc(&r->copy, '\t');
        if (k == C_IMPORT) buf_puts(&r->copy, is_import ? "t" : "f");
        else
            copy_field(&r->copy, v[k]);
    }
    search_columns(r, v);
    buf_putc(&r->copy, '\n');
    copy_flush(r, false);
    return 0;
}

static int on_row(void *ctx, const sheet_row_t *row)
{
    run_t *r = ctx;
    if (!r->header_row) {
        on_header(r, row);
        return r->np ? 1 : 0; /* a bad header: the rows cannot be read */
    }
    return on_data(r, row);
}

/* --- the whole import -------------------------------------------------------------------------- */

typedef struct {
    const unsigned char *data;
    size_t len;
    const char *filename; /* may be NULL */
    bool dry_run;
    const char *actor; /* user id text, NULL at the console */
    const char *request_id;
    const char *office; /* the officer's office id, NULL for an admin */
    bool admin;
} import_in_t;

static int cmp_problem(const void *a, const void *b)
{
    const problem_t *x = a, *y = b;
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    return x->col - y->col;
}

/* The FieldError code SQL named, as a string that outlives its result. */
static const char *known_code(const char *code)
{
    static const char *const CODES[] = {"unknown_code",   "unknown_region",  "duplicate",      "required",
                                        "no_office",      "out_of_scope",    "invalid_number", "out_of_range",
                                        "before_signing", "before_effective"};
    for (size_t i = 0; i < ARRAY_LEN(CODES); i++)
        if (!strcmp(CODES[i], code)) return CODES[i];
    return "invalid";
}

static int column_index(const char *head)
{
    for (int k = 0; k < NCOL; k++)
        if (!strcmp(COLUMNS[k].head, head)) return k;
    return NCOL;
}

/* The report: {dry_run, valid, format, encoding, rows, errors_total, errors[], summary, batch}. */
static json_t *report(run_t *r, const import_in_t *in, const sheet_info_t *info, json_t *batch)
{
    qsort(r->p, r->np, sizeof *r->p, cmp_problem);
    json_t *errs = json_array();
    for (size_t i = 0; i < r->np && i < MAX_ERRORS_SHOWN; i++) {
        problem_t *e = &r->p[i];
        json_array_append_new(errs, json_pack("{s:i, s:s, s:s, s:s, s:s}", "row", e->row, "column", e->head, "field",
                                              e->head, "code", e->code, "message", e->message ? e->message : ""));
    }
    json_t *years = json_array();
    for (int i = 0; i < r->nyears; i++)
        json_array_append_new(years, json_pack("{s:i, s:I, s:I}", "year", r->years[i].year, "contracts",
                                               (json_int_t)r->years[i].count, "contract_amount_fen",
                                               (json_int_t)r->years[i].amount));
    return json_pack("{s:b, s:b, s:s, s:s?, s:i, s:I, s:o, s:{s:I, s:I, s:I, s:o}, s:o}", "dry_run", in->dry_run,
                     "valid", r->np == 0, "format", info->format, "encoding", info->encoding[0] ? info->encoding : NULL,
                     "rows", r->data_rows, "errors_total", (json_int_t)r->np, "errors", errs, "summary", "contracts",
                     (json_int_t)r->count, "contract_amount_fen", (json_int_t)r->amount, "technical_amount_fen",
                     (json_int_t)r->technical, "years", years, "batch", batch ? batch : json_null());
}

/* Run one import on a blocking connection.  *out gets the report (or, for
 * 413 / 409 / 503, a detail string in "detail").  Returns the HTTP status:
 * 200 a dry run, 201 imported, 422 problems (nothing written), 413 too many
 * rows, 409 a number taken meanwhile, 503 the database failed. */
static int import_run(PGconn *c, const import_in_t *in, json_t **out)
{
    run_t *r = calloc(1, sizeof *r);
    sheet_info_t info = {0};
    int status = 503;
    json_t *batch = NULL;
    *out = NULL;
    if (!r) return 503;
    r->c = c;
    r->dry_run = in->dry_run;
    buf_init(&r->copy);
    buf_init(&r->doc);
    buf_init(&r->norm);
    buf_init(&r->tsv);
    PGresult *x = PQexec(c, "SELECT setting_int('import_max_rows', 100000)");
    r->max_rows = PQresultStatus(x) == PGRES_TUPLES_OK ? atoi(PQgetvalue(x, 0, 0)) : 100000;
    PQclear(x);
    /* the staging tables of a large file (with its search columns, ~1 kB a row) in memory, not
     * spilled through the default 8 MB of temp_buffers; settable only before the session's
     * first temporary table (this job's own connection), hence no check */
    PQclear(PQexec(c, "SET temp_buffers = '128MB'"));
    if (!db_exec_ok(c, "import", "BEGIN") || !db_exec_ok(c, "import", "SET LOCAL work_mem = '64MB'") ||
        !db_exec_ok(c, "import", "SELECT import_rows_create()"))
        goto done;
    x = PQexec(c, "COPY import_rows FROM STDIN");
    bool copying = PQresultStatus(x) == PGRES_COPY_IN;
    PQclear(x);
    if (!copying) goto rollback;
    int rc = sheet_read(in->data, in->len, r->max_rows + 1, on_row, r, &info);
    copy_flush(r, true);
    PQputCopyEnd(c, NULL);
    x = PQgetResult(c);
    bool copied = PQresultStatus(x) == PGRES_COMMAND_OK && !r->copy_failed;
    if (!copied) LOG_W("import: COPY failed: %s", PQerrorMessage(c));
    PQclear(x);
    while ((x = PQgetResult(c))) PQclear(x);
    if (!copied) goto rollback;
    if (rc < 0 && !strcmp(info.code, "too_many")) {
        db_exec_ok(c, "import", "ROLLBACK");
        *out = json_pack("{s:s}", "detail", info.message);
        status = 413;
        goto done;
    }
    if (rc < 0) /* the file itself: its encoding, its form */
        problem(r, 0, -1, "", info.code, "%s", info.message);
    else if (!r->header_row)
        problem(r, 0, -1, "", "required", "文件没有内容：第 1 行应为表头，其后每行一份合同");
    else if (rc == 0 && !r->data_rows)
        problem(r, r->header_row + 1, -1, "", "required", "表头之后没有合同数据");
    if (rc == 0 && r->count > 0) {
        /* the database's checks, also when some rows were malformed: every problem at once */
        const char *v[2] = {in->office, in->admin ? "true" : "false"};
        x = PQexecParams(c, "SELECT row_no, col, code, message FROM import_check($1::bigint, $2::boolean)", 2, NULL, v,
                         NULL, NULL, 0);
        if (PQresultStatus(x) != PGRES_TUPLES_OK) {
            LOG_E("import: import_check failed: %s", PQerrorMessage(c));
            PQclear(x);
            goto rollback;
        }
        for (int i = 0; i < PQntuples(x); i++) {
            int col = column_index(PQgetvalue(x, i, 1));
            problem(r, atoi(PQgetvalue(x, i, 0)), col < NCOL ? col : -1, PQgetvalue(x, i, 1),
                    known_code(PQgetvalue(x, i, 2)), "%s", PQgetvalue(x, i, 3));
        }
        PQclear(x);
    }
    if (r->np || in->dry_run) {
        db_exec_ok(c, "import", "ROLLBACK");
        status = in->dry_run ? 200 : 422;
        *out = report(r, in, &info, NULL);
        goto done;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    char sha[65];
    SHA256(in->data, in->len, md);
    util_hex(md, sizeof md, sha);
    const char *v[7] = {in->actor, in->request_id, in->office, in->filename, sha, info.format, info.encoding};
    x = PQexecParams(c, "SELECT import_apply($1::bigint, $2, $3::bigint, $4, $5, $6, $7)", 7, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(x) != PGRES_TUPLES_OK) {
        const char *st = PQresultErrorField(x, PG_DIAG_SQLSTATE);
        if (st && !strcmp(st, "23505")) {
            status = 409;
            *out = json_pack(
                "{s:s}", "detail",
                "a registration number of the file was taken meanwhile (another import or a registration); "
                "check the file again");
        } else {
            LOG_E("import: import_apply failed: %s", PQerrorMessage(c));
        }
        PQclear(x);
        goto rollback;
    }
    batch = json_loads(PQgetvalue(x, 0, 0), 0, NULL);
    PQclear(x);
    if (!db_exec_ok(c, "import", "COMMIT")) {
        json_decref(batch);
        goto done;
    }
    status = 201;
    *out = report(r, in, &info, batch);
    goto done;
rollback:
    db_exec_ok(c, "import", "ROLLBACK");
done:
    for (size_t i = 0; i < r->np; i++) free(r->p[i].message);
    free(r->p);
    buf_free(&r->copy);
    buf_free(&r->doc);
    buf_free(&r->norm);
    buf_free(&r->tsv);
    free(r);
    return status;
}

/* --- the API ------------------------------------------------------------------------------------- */

typedef struct {
    http_req_t *req;
    import_in_t in;
    int status;
    json_t *out;
} job_t;

static void import_work(void *arg)
{
    job_t *j = arg;
    PGconn *c = db_connect_job("yizhan-import", 600000);
    if (!c) {
        j->status = 503;
        return;
    }
    j->status = import_run(c, &j->in, &j->out);
    PQfinish(c);
}

static void import_done(void *arg)
{
    job_t *j = arg;
    http_req_t *req = j->req;
    const char *detail = json_string_value(json_object_get(j->out, "detail"));
    switch (j->status) {
    case 200:
    case 201: http_reply_json_t(req, j->status, j->out); return;
    case 422: {
        /* nothing written: a problem with every row's errors (the first MAX_ERRORS_SHOWN) */
        json_t *errs = json_incref(json_object_get(j->out, "errors"));
        json_int_t total = json_integer_value(json_object_get(j->out, "errors_total"));
        http_problem(req, 422,
                     arena_printf(req->arena, "the file has %lld error(s); nothing was imported", (long long)total),
                     errs);
        json_decref(j->out);
        return;
    }
    case 413:
    case 409: http_problem(req, j->status, detail ? detail : "refused", NULL); break;
    default: http_problem(req, 503, "the database is unavailable; try again shortly", NULL);
    }
    json_decref(j->out);
}

static void import_post(http_req_t *req)
{
    const char *dry, *name;
    if (http_query_or_reply(req, "dry_run", &dry) || http_query_or_reply(req, "filename", &name)) return;
    json_t *errs = NULL;
    api_check(&errs, "dry_run", v_bool(dry));
    if (name && (util_utf8_len(name, strlen(name)) > 200 || strpbrk(name, "/\\\r\n") ||
                 util_has_bidi_control(name, strlen(name))))
        http_error_add(&errs, "filename", "invalid", "a file name of at most 200 characters without slashes");
    if (errs) {
        http_problem(req, 400, "invalid query parameter", errs);
        return;
    }
    const char *ct = http_header(req, "content-type");
    if (ct && (!strncasecmp(ct, "multipart/", 10) || !strncasecmp(ct, "application/json", 16))) {
        http_problem(req, 415, "send the CSV or XLSX file itself as the request body", NULL);
        return;
    }
    if (!req->body_len) {
        http_problem(req, 400, "send the CSV or XLSX file as the request body", NULL);
        return;
    }
    job_t *j = arena_calloc(req->arena, sizeof *j);
    j->req = req;
    j->in.data = (const unsigned char *)req->body;
    j->in.len = req->body_len;
    j->in.filename = name;
    j->in.dry_run = dry && !strcmp(dry, "true");
    j->in.actor = api_actor(req);
    j->in.request_id = req->request_id;
    j->in.admin = req->user->role & ROLE_ADMIN;
    j->in.office = j->in.admin ? NULL : arena_printf(req->arena, "%lld", (long long)req->user->office_id);
    if (pool_submit_to(g_export_pool, req->worker, import_work, import_done, j) != 0)
        http_problem(req, 503, "too many imports and exports are running; try again shortly", NULL);
}

static int ST_BATCHES;

static void import_list(http_req_t *req)
{
    const char *limit, *cursor;
    if (api_limit_or_reply(req, &limit) || api_cursor_or_reply(req, &cursor)) return;
    uint64_t cv;
    if (cursor && util_parse_u64(cursor, strlen(cursor), &cv) != 0) cursor = NULL;
    auth_user_t *u = req->user;
    const char *office = u->role & ROLE_ADMIN ? NULL : arena_printf(req->arena, "%lld", (long long)u->office_id);
    const char *v[4] = {office, u->role & ROLE_ADMIN ? "true" : "false", cursor, limit};
    api_query(req, ST_BATCHES, 4, v, api_reply_page);
}

/* --- the template -------------------------------------------------------------------------------- */

typedef struct {
    http_req_t *req;
    bool xlsx;
    int fd;
    size_t size;
} tpl_t;

static void template_work(void *arg)
{
    tpl_t *t = arg;
    char path[] = "/tmp/yizhan-template-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return;
    bool ok = false;
    if (t->xlsx) {
        close(fd);
        lxw_workbook *wb = workbook_new(path);
        lxw_format *head = workbook_add_format(wb), *text = workbook_add_format(wb), *wrap = workbook_add_format(wb);
        format_set_bold(head);
        format_set_num_format(text, "@"); /* 登记编号 and codes stay text: 16 digits survive */
        format_set_text_wrap(wrap);
        lxw_worksheet *ws = workbook_add_worksheet(wb, "合同");
        lxw_worksheet *notes = workbook_add_worksheet(wb, "填写说明");
        worksheet_write_string(notes, 0, 0, "列名", head);
        worksheet_write_string(notes, 0, 1, "必填", head);
        worksheet_write_string(notes, 0, 2, "说明", head);
        worksheet_set_column(notes, 0, 0, 24, NULL);
        worksheet_set_column(notes, 2, 2, 90, wrap);
        for (int k = 0; k < NCOL; k++) {
            sheet_xlsx_text(ws, 0, (lxw_col_t)k, COLUMNS[k].head, head);
            worksheet_set_column(ws, (lxw_col_t)k, (lxw_col_t)k,
                                 k == C_NUMBER  ? 20
                                 : k == C_TITLE ? 30
                                                : 16,
                                 COLUMNS[k].kind == K_YUAN ? NULL : text);
            sheet_xlsx_text(notes, (lxw_row_t)(k + 1), 0, COLUMNS[k].head, NULL);
            sheet_xlsx_text(notes, (lxw_row_t)(k + 1), 1, COLUMNS[k].required ? "是" : "", NULL);
            sheet_xlsx_text(notes, (lxw_row_t)(k + 1), 2, COLUMNS[k].note, NULL);
        }
        worksheet_freeze_panes(ws, 1, 0);
        ok = workbook_close(wb) == LXW_NO_ERROR;
    } else {
        FILE *f = fdopen(fd, "w");
        if (f) {
            fputs("\xEF\xBB\xBF", f);
            for (int k = 0; k < NCOL; k++) {
                if (k) fputc(',', f);
                sheet_csv_text(f, COLUMNS[k].head);
            }
            fputs("\r\n", f);
            ok = fclose(f) == 0;
        } else {
            close(fd);
        }
    }
    if (ok) {
        t->fd = open(path, O_RDONLY);
        struct stat st;
        if (t->fd >= 0 && fstat(t->fd, &st) == 0) t->size = (size_t)st.st_size;
    }
    unlink(path);
}

static void template_done(void *arg)
{
    tpl_t *t = arg;
    if (t->fd < 0) {
        http_problem(t->req, 500, "could not write the template", NULL);
        return;
    }
    const char *ext = t->xlsx ? "xlsx" : "csv";
    /* 历史合同导入模板.<ext> */
    http_add_header(
        t->req, "Content-Disposition",
        arena_printf(t->req->arena,
                     "attachment; filename=\"yizhan-import-template.%s\"; filename*=UTF-8''%%E5%%8E%%86%%E5%%8F"
                     "%%B2%%E5%%90%%88%%E5%%90%%8C%%E5%%AF%%BC%%E5%%85%%A5%%E6%%A8%%A1%%E6%%9D%%BF.%s",
                     ext, ext));
    http_add_header(t->req, "Cache-Control", "no-store");
    http_reply_file(t->req, 200,
                    t->xlsx ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                            : "text/csv; charset=utf-8",
                    t->fd, t->size);
}

static void template_get(http_req_t *req)
{
    const char *fmt;
    if (http_query_or_reply(req, "format", &fmt)) return;
    if (fmt && strcmp(fmt, "csv") && strcmp(fmt, "xlsx")) {
        json_t *e = NULL;
        http_error_add(&e, "format", "invalid", "csv or xlsx");
        http_problem(req, 400, "invalid query parameter", e);
        return;
    }
    tpl_t *t = arena_calloc(req->arena, sizeof *t);
    t->req = req;
    t->fd = -1;
    t->xlsx = !fmt || !strcmp(fmt, "xlsx");
    if (pool_submit_to(g_doc_pool, req->worker, template_work, template_done, t) != 0)
        http_problem(req, 503, "the server is busy; try again shortly", NULL);
}

#define IMPORTERS (ROLE_OFFICER | ROLE_ADMIN)
static route_t ROUTES[] = {
    {HTTP_POST, "/api/v1/imports/contracts", import_post, ROUTE_RAW_BODY, IMPORTERS},
    {HTTP_GET, "/api/v1/imports/contracts", import_list, 0, IMPORTERS},
    {HTTP_GET, "/api/v1/imports/contracts/template", template_get, 0, IMPORTERS},
};

void api_imports_init(void)
{
    ST_BATCHES = db_stmt_register_read(
        "WITH page AS (SELECT b.id, import_batch_json(b) AS j FROM import_batches b"
        " WHERE ($2::boolean OR b.office_id = $1::bigint) AND ($3::bigint IS NULL OR b.id < $3::bigint)"
        " ORDER BY b.id DESC LIMIT $4::int + 1), shown AS (SELECT * FROM page ORDER BY id DESC LIMIT $4::int)"
        " SELECT coalesce((SELECT json_agg(j ORDER BY id DESC) FROM shown), '[]')::text,"
        " CASE WHEN (SELECT count(*) FROM page) > $4::int THEN (SELECT min(id) FROM shown)::text END",
        4);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}

/* --- the console: yizhan import contracts FILE [--dry-run] ------------------------------------------ */

int api_import_cli(int argc, char **argv)
{
    const char *file = NULL, *as = NULL;
    bool dry = false;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--dry-run")) dry = true;
        else if (!strcmp(argv[i], "--as") && i + 1 < argc)
            as = argv[++i];
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else
            return 2;
    }
    if (argc < 3 || strcmp(argv[2], "contracts") != 0 || !file) return 2;
    size_t len;
    char *data = util_read_file(file, (size_t)2 << 30, &len);
    if (!data) {
        fprintf(stderr, "yizhan: 无法读取文件 %s\n", file);
        return 2;
    }
    PGconn *c = db_connect_blocking();
    if (!c) {
        free(data);
        return 1;
    }
    PQclear(PQexec(c, "SET statement_timeout = 0"));
    const char *base = strrchr(file, '/');
    import_in_t in = {(const unsigned char *)data, len, base ? base + 1 : file, dry, NULL, "cli-import", NULL, true};
    /* --as EMAIL: import as that officer (their office's scope, the batch theirs) or admin, as the API would */
    char actor[24] = "", office[24] = "";
    if (as) {
        const char *v[1] = {as};
        PGresult *u = PQexecParams(c,
                                   "SELECT id, role, office_id FROM users WHERE lower(email) = lower($1) AND active"
                                   " AND role IN ('officer', 'admin') AND (role = 'admin' OR office_id IS NOT NULL)",
                                   1, NULL, v, NULL, NULL, 0);
        bool found = PQresultStatus(u) == PGRES_TUPLES_OK && PQntuples(u) == 1;
        if (found) {
            snprintf(actor, sizeof actor, "%s", PQgetvalue(u, 0, 0));
            in.actor = actor;
            if (strcmp(PQgetvalue(u, 0, 1), "admin") != 0) {
                snprintf(office, sizeof office, "%s", PQgetvalue(u, 0, 2));
                in.office = office;
                in.admin = false;
            }
        }
        PQclear(u);
        if (!found) {
            fprintf(stderr, "yizhan: %s 不是在用的登记员或管理员账户\n", as);
            PQfinish(c);
            free(data);
            return 2;
        }
    }
    json_t *out = NULL;
    int status = import_run(c, &in, &out);
    PQfinish(c);
    free(data);
    int rc = 1;
    if (status == 200 || status == 201 || status == 422) {
        json_t *errs = json_object_get(out, "errors");
        size_t i;
        json_t *e;
        json_array_foreach(errs, i, e) {
            json_int_t row = json_integer_value(json_object_get(e, "row"));
            const char *col = json_string_value(json_object_get(e, "column"));
            if (row) printf("第 %lld 行", (long long)row);
            else
                printf("文件");
            printf("%s%s：%s\n", col && *col ? " " : "", col ? col : "",
                   json_string_value(json_object_get(e, "message")));
        }
        json_int_t total = json_integer_value(json_object_get(out, "errors_total"));
        if ((size_t)total > json_array_size(errs))
            printf("……另有 %lld 个问题未列出\n", (long long)(total - (json_int_t)json_array_size(errs)));
        json_t *s = json_object_get(out, "summary");
        json_int_t n = json_integer_value(json_object_get(s, "contracts"));
        json_int_t amount = json_integer_value(json_object_get(s, "contract_amount_fen"));
        json_int_t tech = json_integer_value(json_object_get(s, "technical_amount_fen"));
        if (status == 201) {
            printf("已导入 %lld 份合同（批次 %lld），合同成交额 %lld.%02lld 元，技术交易额 %lld.%02lld 元\n",
                   (long long)n, (long long)json_integer_value(json_object_get(json_object_get(out, "batch"), "id")),
                   (long long)amount / 100, (long long)amount % 100, (long long)tech / 100, (long long)tech % 100);
            rc = 0;
        } else if (total == 0) {
            printf("检查通过：%lld 份合同可以导入，合同成交额 %lld.%02lld 元（试运行，未写入）\n", (long long)n,
                   (long long)amount / 100, (long long)amount % 100);
            rc = 0;
        } else {
            printf("共 %lld 个问题，未导入任何合同\n", (long long)total);
        }
    } else if (status == 413 || status == 409) {
        printf("未导入：%s\n", json_string_value(json_object_get(out, "detail")));
    } else {
        printf("未导入：数据库出错，请稍后再试\n");
    }
    json_decref(out);
    return rc;
}
