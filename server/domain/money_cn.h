/* money_cn.h — an amount of money in Chinese capital numerals (人民币大写),
 * as written on certificates, registration forms and cheques.  Pure code.
 *
 * Rules (会计基础工作规范 第五十二条): 壹贰叁肆伍陆柒捌玖 with 拾佰仟万亿;
 * a run of zeros inside the number is one 零; a leading 拾 is written 壹拾;
 * an amount that ends at 元 or 角 ends with 整, one with 分 does not; a zero
 * 角 before a 分 is written 零 (叁佰贰拾伍元零肆分).  The optional 零 after a
 * zero 元 digit is left out (壹拾万柒仟元伍角叁分), which the rule allows. */
#ifndef YZ_MONEY_CN_H
#define YZ_MONEY_CN_H

#include <stddef.h>

/* Largest amount written: 9999 万亿 yuan, in fen. */
#define MONEY_CN_MAX_FEN 999999999999999999LL
/* Bytes enough for any amount (UTF-8, NUL included). */
#define MONEY_CN_BUF 160

/* Write fen (0 .. MONEY_CN_MAX_FEN) as 大写 into out: 0, or -1 (out = "")
 * when fen is out of range or cap is too small. */
int money_cn_upper(long long fen, char *out, size_t cap) __attribute__((warn_unused_result));

/* Write fen as figures with thousands separators, "1,234,567.89": 0 or -1. */
int money_cn_figures(long long fen, char *out, size_t cap) __attribute__((warn_unused_result));

#endif
