#include "unit.h"

#include "domain/money_cn.h"

#include <string.h>

static int upper_is(long long fen, const char *want)
{
    char b[MONEY_CN_BUF];
    if (money_cn_upper(fen, b, sizeof b) != 0) return 0;
    if (strcmp(b, want) != 0) {
        fprintf(stderr, "    %lld fen: got %s, want %s\n", fen, b, want);
        return 0;
    }
    return 1;
}

TEST(money_cn_upper_follows_the_accounting_rules)
{
    CHECK(upper_is(0, "零元整"));
    CHECK(upper_is(1, "壹分"));
    CHECK(upper_is(10, "壹角整"));
    CHECK(upper_is(11, "壹角壹分"));
    CHECK(upper_is(100, "壹元整"));
    CHECK(upper_is(1000, "壹拾元整")); /* 壹拾, never a bare 拾 */
    CHECK(upper_is(1500, "壹拾伍元整"));
    CHECK(upper_is(100000, "壹仟元整"));
    CHECK(upper_is(140950, "壹仟肆佰零玖元伍角整")); /* the rule's own examples */
    CHECK(upper_is(600714, "陆仟零柒元壹角肆分"));
    CHECK(upper_is(32504, "叁佰贰拾伍元零肆分"));
    CHECK(upper_is(10700053, "壹拾万柒仟元伍角叁分"));
    CHECK(upper_is(1000100, "壹万零壹元整"));
    CHECK(upper_is(100100000, "壹佰万壹仟元整"));
    CHECK(upper_is(10000000000LL, "壹亿元整"));
    CHECK(upper_is(10000000100LL, "壹亿零壹元整")); /* a zero 万 section: one 零 */
    CHECK(upper_is(10001000000LL, "壹亿零壹万元整"));
    CHECK(upper_is(11000000000LL, "壹亿壹仟万元整"));
    CHECK(upper_is(30800000000LL, "叁亿零捌佰万元整")); /* 3.08 亿 */
    CHECK(upper_is(30525000000LL, "叁亿零伍佰贰拾伍万元整"));
    CHECK(upper_is(123456789012LL, "壹拾贰亿叁仟肆佰伍拾陆万柒仟捌佰玖拾元壹角贰分"));
    CHECK(upper_is(100000000000000LL, "壹万亿元整")); /* the largest contract amount */
    CHECK(upper_is(100050000000000LL, "壹万零伍亿元整"));
    CHECK(upper_is(MONEY_CN_MAX_FEN, "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"));
    char b[MONEY_CN_BUF];
    CHECK(money_cn_upper(-1, b, sizeof b) == -1 && b[0] == '\0');
    CHECK(money_cn_upper(MONEY_CN_MAX_FEN + 1, b, sizeof b) == -1);
    CHECK(money_cn_upper(123456789012LL, b, 20) == -1 && b[0] == '\0'); /* too small: nothing half-written */
}

TEST(money_cn_figures_groups_thousands)
{
    char b[40];
    CHECK(money_cn_figures(0, b, sizeof b) == 0 && !strcmp(b, "0.00"));
    CHECK(money_cn_figures(5, b, sizeof b) == 0 && !strcmp(b, "0.05"));
    CHECK(money_cn_figures(123456, b, sizeof b) == 0 && !strcmp(b, "1,234.56"));
    CHECK(money_cn_figures(30800000000LL, b, sizeof b) == 0 && !strcmp(b, "308,000,000.00"));
    CHECK(money_cn_figures(-1, b, sizeof b) == -1);
    CHECK(money_cn_figures(123456, b, 5) == -1);
}
