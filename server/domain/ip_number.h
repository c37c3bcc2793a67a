/* ip_number.h — well-formedness of intellectual-property numbers on a
 * research result (科技成果的知识产权记录).  Pure code: no I/O.
 *
 *   patent              Chinese patent (application) number: optional ZL or
 *                       CN prefix, then 12 digits (since 2003: year, type
 *                       1/2/3/8/9, 7-digit serial) or 8 digits (before:
 *                       2-digit year, type, 5-digit serial), a dot and the
 *                       check character — the digits weighted 2,3,4,5,6,7,
 *                       8,9,2,3,4,5 (8 digits: 2..9), summed, mod 11; 10 is X.
 *                       Spaces are ignored ("ZL2023 1 0123456.6").
 *   software_copyright  registration number YYYYSR + 6-7 digits.
 *   know_how, none      no number.
 *   others              3-40 letters, digits and . - / (formats vary).
 */
#ifndef YZ_IP_NUMBER_H
#define YZ_IP_NUMBER_H

#include <stddef.h>

/* NULL when number is a well-formed number for ip type `type` (a code of
 * list ip_types; NULL number = none given); else a short English reason.
 * canon (at least n + 1 bytes) gets the canonical form (spaces removed,
 * letters upper-cased) when it is well-formed. */
const char *ip_number_error(const char *type, const char *number, char *canon, size_t canon_size);

#endif
