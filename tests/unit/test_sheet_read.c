#include "unit.h"

#include "domain/sheet_read.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

/* The rows read, joined: "row:cell|cell|...;" with numbers marked #. */
typedef struct {
    char out[4096];
    int stop_at;
} got_t;

static int collect(void *ctx, const sheet_row_t *r)
{
    got_t *g = ctx;
    size_t n = strlen(g->out);
    n += (size_t)snprintf(g->out + n, sizeof g->out - n, "%d:", r->row);
    for (int i = 0; i < r->n; i++)
        n += (size_t)snprintf(g->out + n, sizeof g->out - n, "%s%s%s", i ? "|" : "",
                              r->kind[i] == SHEET_NUMBER ? "#" : "", r->cell[i]);
    snprintf(g->out + n, sizeof g->out - n, ";");
    return g->stop_at && r->row >= g->stop_at ? 7 : 0;
}

static const char *read_str(const char *s, size_t len, sheet_info_t *info, int *rc)
{
    static got_t g;
    memset(&g, 0, sizeof g);
    *rc = sheet_read((const unsigned char *)s, len, 1000, collect, &g, info);
    return g.out;
}

TEST(sheet_csv_quotes_line_ends_and_encodings)
{
    sheet_info_t info;
    int rc;
    const char *csv = "登记编号,合同名称\r\n1,\"a, \"\"b\"\"\nc\"\n\n2,x\r3,,\r\n";
    CHECK(!strcmp(read_str(csv, strlen(csv), &info, &rc), "1:登记编号|合同名称;2:1|a, \"b\"\nc;4:2|x;5:3;") && rc == 0);
    CHECK(!strcmp(info.format, "csv") && !strcmp(info.encoding, "utf-8") && info.rows == 4);
    const char bom[] = "\xEF\xBB\xBF"
                       "甲,乙\n";
    CHECK(!strcmp(read_str(bom, sizeof bom - 1, &info, &rc), "1:甲|乙;") && !strcmp(info.encoding, "utf-8-bom"));
    const char gb[] = "\xBC\xD7,\xD2\xD2\r\n"; /* 甲,乙 in GB18030 */
    CHECK(!strcmp(read_str(gb, sizeof gb - 1, &info, &rc), "1:甲|乙;") && !strcmp(info.encoding, "gb18030"));
    const char u16[] = "\xFF\xFE"
                       "a\0,\0";
    CHECK(!strcmp(read_str(u16, sizeof u16 - 1, &info, &rc), "") && rc == -1 && !strcmp(info.code, "invalid_encoding"));
    const char bad[] = "a,b\n\x80\xFF\n";
    read_str(bad, sizeof bad - 1, &info, &rc);
    CHECK(rc == -1 && !strcmp(info.code, "invalid_encoding") && strstr(info.message, "UTF-8 读取第 2 行"));
    const char open_quote[] = "a,\"b\n";
    read_str(open_quote, sizeof open_quote - 1, &info, &rc);
    CHECK(rc == -1 && !strcmp(info.code, "invalid_format") && strstr(info.message, "第 1 行有未闭合的引号"));
    const char xls[] = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1....";
    read_str(xls, sizeof xls - 1, &info, &rc);
    CHECK(rc == -1 && strstr(info.message, ".xls"));
    read_str("", 0, &info, &rc);
    CHECK(rc == -1 && !strcmp(info.code, "required"));
}

TEST(sheet_limits_rows_and_stops_when_asked)
{
    sheet_info_t info;
    got_t g = {"", 0};
    const char *csv = "h\n1\n2\n3\n";
    CHECK(sheet_read((const unsigned char *)csv, strlen(csv), 3, collect, &g, &info) == -1 &&
          !strcmp(info.code, "too_many"));
    memset(&g, 0, sizeof g);
    g.stop_at = 2;
    CHECK(sheet_read((const unsigned char *)csv, strlen(csv), 10, collect, &g, &info) == 7 &&
          !strcmp(g.out, "1:h;2:1;"));
    char wide[SHEET_MAX_CELLS * 2 + 8];
    memset(wide, ',', sizeof wide - 2);
    wide[sizeof wide - 2] = '\n';
    wide[sizeof wide - 1] = '\0';
    memset(&g, 0, sizeof g);
    CHECK(sheet_read((const unsigned char *)wide, strlen(wide), 10, collect, &g, &info) == -1 &&
          strstr(info.message, "列"));
}

TEST(sheet_xlsx_strings_numbers_and_gaps)
{
    char path[] = "/tmp/yizhan-unit-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    lxw_workbook *wb = workbook_new(path);
    lxw_worksheet *ws = workbook_add_worksheet(wb, "合同");
    workbook_add_worksheet(wb, "说明");
    worksheet_write_string(ws, 0, 0, "登记编号", NULL);
    worksheet_write_string(ws, 0, 2, "金额", NULL);
    worksheet_write_string(ws, 1, 0, "2023511902000001", NULL);
    worksheet_write_number(ws, 1, 2, 1234.56, NULL);
    worksheet_write_number(ws, 3, 1, 45000, NULL); /* row 4, B: a date serial */
    worksheet_write_string(ws, 3, 0, "=不是公式", NULL);
    CHECK(workbook_close(wb) == LXW_NO_ERROR);
    size_t len;
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    rewind(f);
    char *data = malloc(len);
    CHECK(fread(data, 1, len, f) == len);
    fclose(f);
    unlink(path);
    sheet_info_t info;
    int rc;
    const char *got = read_str(data, len, &info, &rc);
    CHECK(rc == 0 && !strcmp(info.format, "xlsx"));
    CHECK(!strcmp(got, "1:登记编号||金额;2:2023511902000001||#1234.56;4:=不是公式|#45000;"));
    free(data);
    read_str("PK\x03\x04garbage", 11, &info, &rc);
    CHECK(rc == -1 && !strcmp(info.code, "invalid_format"));
}

TEST(sheet_serial_dates_follow_excel)
{
    char d[11];
    CHECK(sheet_serial_date(1, d) && !strcmp(d, "1900-01-01"));
    CHECK(sheet_serial_date(59, d) && !strcmp(d, "1900-02-28"));
    CHECK(!sheet_serial_date(60, d)); /* Excel's 1900-02-29 */
    CHECK(sheet_serial_date(61, d) && !strcmp(d, "1900-03-01"));
    CHECK(sheet_serial_date(45000, d) && !strcmp(d, "2023-03-15"));
    CHECK(sheet_serial_date(45000.75, d) && !strcmp(d, "2023-03-15")); /* a time of day is dropped */
    CHECK(sheet_serial_date(2958465, d) && !strcmp(d, "9999-12-31"));
    CHECK(!sheet_serial_date(0, d) && !sheet_serial_date(-3, d) && !sheet_serial_date(3e6, d));
}
