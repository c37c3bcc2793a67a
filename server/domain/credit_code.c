/* credit_code.c — GB 32100-2015 checks:
 *   1   registration authority: 1-9, A-G, Y (the standard's table)
 *   2   organisation category (digit or letter of the alphabet)
 *   3-8 administrative division code (six digits, GB/T 2260)
 *   9-17 organisation code body (GB 11714; its own check char at 17)
 *   18  check character over 1-17: weights 3^i mod 31, alphabet of 31 chars
 *       without I, O, S, V, Z. */
#include "domain/credit_code.h"

#include <string.h>

static const char ALPHABET[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static const int WEIGHTS[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};

static int value_of(char c)
{
    const char *p = c ? strchr(ALPHABET, c) : NULL;
    return p ? (int)(p - ALPHABET) : -1;
}

const char *credit_code_error(const char *s, size_t n)
{
    if (n != 18) return "must be exactly 18 characters";
    int sum = 0;
    for (size_t i = 0; i < 18; i++)
        if (value_of(s[i]) < 0) return "may contain only digits and capital letters other than I, O, S, V and Z";
    if (!strchr("123456789ABCDEFGY", s[0])) return "the first character (registration authority) is not valid";
    for (int i = 2; i < 8; i++)
        if (s[i] < '0' || s[i] > '9') return "characters 3-8 must be the six-digit region code";
    for (int i = 0; i < 17; i++) sum += value_of(s[i]) * WEIGHTS[i];
    int check = (31 - sum % 31) % 31;
    if (ALPHABET[check] != s[17]) return "the check character does not match";
    return NULL;
}
