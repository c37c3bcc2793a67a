/* ip_number.c — see ip_number.h. */
#include "domain/ip_number.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *patent_error(const char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && (!strncmp(s, "ZL", 2) || !strncmp(s, "CN", 2))) s += 2, n -= 2;
    const char *dot = strchr(s, '.');
    if (!dot || (size_t)(dot - s) + 2 != n)
        return "a patent number is 12 (or, before 2003, 8) digits, a dot and a check character, e.g. ZL202310123456.6";
    size_t nd = (size_t)(dot - s);
    if (nd != 12 && nd != 8) return "a patent number has 12 digits (8 before 2003) before the dot";
    for (size_t i = 0; i < nd; i++)
        if (!is_digit(s[i])) return "a patent number has only digits before the dot";
    static const int W12[12] = {2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5};
    int sum = 0;
    for (size_t i = 0; i < nd; i++) sum += (s[i] - '0') * (nd == 12 ? W12[i] : (int)i + 2);
    int check = sum % 11;
    char want = (char)(check == 10 ? 'X' : '0' + check);
    char type = s[nd == 12 ? 4 : 2];
    if (!strchr("12389", type))
        return "the patent type digit must be 1 (invention), 2 (utility model), 3 (design), 8 or 9 (PCT)";
    if (nd == 12) {
        int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        if (year < 2003 || year > 2099) return "the year of a 12-digit patent number must be 2003 or later";
    }
    if (dot[1] != want) return "the check character of the patent number is wrong";
    return NULL;
}

const char *ip_number_error(const char *type, const char *number, char *canon, size_t canon_size)
{
    if (canon_size) canon[0] = '\0';
    bool none_type = type && (!strcmp(type, "know_how") || !strcmp(type, "none"));
    if (!number) return NULL;
    if (none_type) return "this kind of intellectual property has no number; leave it out";
    /* canonical form: spaces removed, letters upper-cased */
    char c[64] = "";
    size_t k = 0;
    for (const char *p = number; *p; p++) {
        if (*p == ' ') continue;
        if (k + 1 >= sizeof c) return "the number is too long";
        c[k++] = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
    }
    c[k] = '\0';
    const char *why = NULL;
    if (type && !strcmp(type, "patent")) {
        why = patent_error(c);
    } else if (type && !strcmp(type, "software_copyright")) {
        bool ok = (k == 12 || k == 13) && !strncmp(c + 4, "SR", 2);
        for (size_t i = 0; ok && i < k; i++)
            if (i != 4 && i != 5 && !is_digit(c[i])) ok = false;
        if (!ok) why = "a software copyright registration number is YYYYSR and 6 or 7 digits, e.g. 2023SR0123456";
    } else {
        bool ok = k >= 3 && k <= 40;
        for (size_t i = 0; ok && i < k; i++)
            if (!is_digit(c[i]) && !(c[i] >= 'A' && c[i] <= 'Z') && !strchr(".-/", c[i])) ok = false;
        if (!ok) why = "a number has 3 to 40 letters, digits and . - /";
    }
    if (!why && canon_size) snprintf(canon, canon_size, "%s", c);
    return why;
}
