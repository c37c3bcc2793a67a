#include "unit.h"

#include "domain/validate.h"

#include <string.h>

static bool code_is(const verdict_t *v, const char *code)
{
    return v && !strcmp(v->code, code) && v->why && *v->why;
}

TEST(validate_dates)
{
    CHECK(v_date(NULL) == NULL); /* absent: the caller decides whether it is required */
    CHECK(v_date("2024-02-29") == NULL);
    CHECK(v_date("2000-02-29") == NULL); /* divisible by 400 */
    CHECK(v_date("1990-01-01") == NULL);
    CHECK(v_date("2999-12-31") == NULL);
    CHECK(v_date("2026-12-31") == NULL);
    CHECK(code_is(v_date("2023-02-29"), "invalid_date"));
    CHECK(code_is(v_date("1900-02-29"), "invalid_date")); /* divisible by 100 */
    CHECK(code_is(v_date("2024-02-30"), "invalid_date"));
    CHECK(code_is(v_date("2024-02-31"), "invalid_date"));
    CHECK(code_is(v_date("2024-04-31"), "invalid_date"));
    CHECK(code_is(v_date("2024-13-01"), "invalid_date"));
    CHECK(code_is(v_date("2024-00-10"), "invalid_date"));
    CHECK(code_is(v_date("2024-01-00"), "invalid_date"));
    CHECK(code_is(v_date("1989-12-31"), "invalid_date")); /* the one range */
    CHECK(code_is(v_date("3000-01-01"), "invalid_date"));
    CHECK(code_is(v_date("2024-1-01"), "invalid_date"));
    CHECK(code_is(v_date("2024/01/01"), "invalid_date"));
    CHECK(code_is(v_date("2024-01-01T00:00:00"), "invalid_date"));
    CHECK(code_is(v_date("2024-01-0a"), "invalid_date"));
    CHECK(code_is(v_date("+024-01-01"), "invalid_date"));
    CHECK(code_is(v_date("2024- 1-01"), "invalid_date"));
    CHECK(code_is(v_date(""), "invalid_date"));
}

TEST(validate_email)
{
    CHECK(v_email(NULL) == NULL);
    CHECK(v_email("a@b.cn") == NULL);
    CHECK(v_email("zhang.san+x@example.edu.cn") == NULL);
    CHECK(code_is(v_email("a@b"), "invalid_format"));
    CHECK(code_is(v_email("@b.cn"), "invalid_format"));
    CHECK(code_is(v_email("a@"), "invalid_format"));
    CHECK(code_is(v_email("a@@b.cn"), "invalid_format"));
    CHECK(code_is(v_email("a@b@c.cn"), "invalid_format"));
    CHECK(code_is(v_email("a b@c.cn"), "invalid_format"));
    CHECK(code_is(v_email("a@b.cn\n"), "invalid_format"));
    CHECK(code_is(v_email(""), "invalid_format"));
    char longer[300];
    memset(longer, 'a', sizeof longer);
    memcpy(longer + 250, "@b.cn", 6); /* 255 bytes */
    CHECK(code_is(v_email(longer), "invalid_format"));
    longer[249] = '\0';
    memcpy(longer + 249, "@b.cn", 6); /* 254 bytes */
    CHECK(v_email(longer) == NULL);
}

TEST(validate_codes_regions_org_types)
{
    CHECK(v_code(NULL) == NULL);
    CHECK(v_code("new_materials") == NULL);
    CHECK(v_code("a") == NULL);
    CHECK(v_code("x1_2") == NULL);
    CHECK(code_is(v_code(""), "invalid_format"));
    CHECK(code_is(v_code("New"), "invalid_format"));
    CHECK(code_is(v_code("a-b"), "invalid_format"));
    CHECK(code_is(v_code("a b"), "invalid_format"));
    CHECK(code_is(v_code("电池"), "invalid_format"));
    CHECK(v_code("abcdefghijabcdefghijabcdefghijabcdefghij") == NULL);                     /* 40 */
    CHECK(code_is(v_code("abcdefghijabcdefghijabcdefghijabcdefghijk"), "invalid_format")); /* 41 */
    CHECK(v_region(NULL) == NULL);
    CHECK(v_region("511902") == NULL);
    CHECK(v_region("000000") == NULL);
    CHECK(code_is(v_region("51190"), "invalid_format"));
    CHECK(code_is(v_region("5119021"), "invalid_format"));
    CHECK(code_is(v_region("51190a"), "invalid_format"));
    CHECK(code_is(v_region(""), "invalid_format"));
    CHECK(v_org_type(NULL) == NULL);
    CHECK(v_org_type("110") == NULL);
    CHECK(code_is(v_org_type("11"), "invalid_format"));
    CHECK(code_is(v_org_type("1100"), "invalid_format"));
    CHECK(code_is(v_org_type("1a0"), "invalid_format"));
}

TEST(validate_bools)
{
    CHECK(v_bool(NULL) == NULL);
    CHECK(v_bool("true") == NULL);
    CHECK(v_bool("false") == NULL);
    CHECK(code_is(v_bool(""), "invalid"));
    CHECK(code_is(v_bool("TRUE"), "invalid"));
    CHECK(code_is(v_bool("1"), "invalid"));
    CHECK(code_is(v_bool("truex"), "invalid"));
}

TEST(validate_ids)
{
    uint64_t v = 0;
    CHECK(v_id(NULL, &v) == NULL);
    CHECK(v_id("1", &v) == NULL && v == 1);
    CHECK(v_id("4611686018427387903", &v) == NULL && v == 4611686018427387903ull); /* 2^62 - 1 */
    CHECK(code_is(v_id("4611686018427387904", NULL), "invalid_format"));           /* 2^62 */
    CHECK(code_is(v_id("18446744073709551616", NULL), "invalid_format"));          /* overflows */
    CHECK(code_is(v_id("0", NULL), "invalid_format"));
    CHECK(code_is(v_id("-1", NULL), "invalid_format"));
    CHECK(code_is(v_id("+1", NULL), "invalid_format"));
    CHECK(code_is(v_id("1 ", NULL), "invalid_format"));
    CHECK(code_is(v_id("1e3", NULL), "invalid_format"));
    CHECK(code_is(v_id("", NULL), "invalid_format"));
    CHECK(v_is_id("42"));
    CHECK(!v_is_id("0"));
    CHECK(!v_is_id(NULL));
}

TEST(validate_amounts_and_years)
{
    CHECK(v_amount(0, false) == NULL);
    CHECK(code_is(v_amount(0, true), "too_low"));
    CHECK(v_amount(1, true) == NULL);
    CHECK(v_amount(V_MONEY_MAX_FEN, true) == NULL);
    CHECK(code_is(v_amount(V_MONEY_MAX_FEN + 1, false), "out_of_range"));
    CHECK(code_is(v_amount(-1, false), "too_low"));
    CHECK(code_is(v_amount(-1, true), "too_low"));
    uint64_t v = 7;
    CHECK(v_amount_text(NULL, &v) == NULL && v == 7);
    CHECK(v_amount_text("0", &v) == NULL && v == 0);
    CHECK(v_amount_text("100000000000000", &v) == NULL && v == 100000000000000ull);
    CHECK(code_is(v_amount_text("100000000000001", NULL), "out_of_range"));
    CHECK(code_is(v_amount_text("-5", NULL), "out_of_range"));
    CHECK(code_is(v_amount_text("1.5", NULL), "out_of_range"));
    CHECK(code_is(v_amount_text("", NULL), "out_of_range"));
    CHECK(v_year(2000) == NULL && v_year(2100) == NULL);
    CHECK(code_is(v_year(1999), "out_of_range"));
    CHECK(code_is(v_year(2101), "out_of_range"));
    CHECK(v_year_text("2026", &v) == NULL && v == 2026);
    CHECK(code_is(v_year_text("1999", NULL), "out_of_range"));
    CHECK(code_is(v_year_text("20x6", NULL), "out_of_range"));
    CHECK(code_is(v_year_text("99999999999999999999", NULL), "out_of_range"));
}
