/* validate.h — the one home of the value rules the API checks before the
 * database: dates, e-mail addresses, code-list codes, region and org-type
 * codes, ids, amounts of money and years.  Pure code: no I/O.
 *
 * Each check returns NULL when the value is acceptable, else a verdict whose
 * code is the FieldError code of that kind of value (one per kind, the same
 * for a body field and a query parameter) and whose message says what is
 * expected.  A NULL value (an absent or null field) is acceptable: whether a
 * field is required is the caller's rule.  The bounds are stated here once:
 *
 *   date     YYYY-MM-DD, a day of the calendar, 1990-01-01 .. 2999-12-31  invalid_date
 *   email    local@domain.tld, at most 254 bytes, no white space         invalid_format
 *   code     a code of a code list: 1-40 of a-z 0-9 _                     invalid_format
 *   region   a GB/T 2260 region code: six digits                          invalid_format
 *   org type a code of list org_types: three digits                       invalid_format
 *   id       a whole number 1 .. 2^62 - 1                                 invalid_format
 *   amount   whole fen 0 (or 1 where it must be positive) .. 10^14        too_low below,
 *                                                                          out_of_range above
 *            (as the SQL functions say it: deals.sql raises too_low for a
 *            price of 0; a query parameter that is no amount: out_of_range)
 *   year     2000 .. 2100                                                 out_of_range
 *
 * Whether a code exists in its list, a region in the table, a date lies in
 * the future: those need the database and are the SQL functions' checks. */
#ifndef YZ_VALIDATE_H
#define YZ_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *code; /* FieldError code */
    const char *why;  /* the message, for a person */
} verdict_t;

#define V_DATE_MIN_YEAR 1990
#define V_DATE_MAX_YEAR 2999
#define V_YEAR_MIN 2000
#define V_YEAR_MAX 2100
#define V_ID_LIMIT (1ull << 62)           /* ids are below it */
#define V_MONEY_MAX_FEN 100000000000000LL /* 10^14 fen = 1 trillion yuan: a typo, not a price */

const verdict_t *v_date(const char *s);
const verdict_t *v_email(const char *s);
const verdict_t *v_code(const char *s);
const verdict_t *v_region(const char *s);
const verdict_t *v_org_type(const char *s);
/* An id in text (a path or query parameter); *out gets it when out is not NULL. */
const verdict_t *v_id(const char *s, uint64_t *out);
/* An amount of money in fen; positive: 0 is refused too. */
const verdict_t *v_amount(long long fen, bool positive);
/* The same for a query parameter's text (digits only); *out gets it. */
const verdict_t *v_amount_text(const char *s, uint64_t *out);
const verdict_t *v_year(long long y);
/* The same for a query parameter's text (digits only); *out gets it. */
const verdict_t *v_year_text(const char *s, uint64_t *out);

/* A boolean query parameter: absent, "true" or "false". */
const verdict_t *v_bool(const char *s);

/* True when s names an id (v_id accepts it). */
bool v_is_id(const char *s);

#endif
