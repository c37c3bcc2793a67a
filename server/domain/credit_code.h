/* credit_code.h — the 18-character unified social credit code
 * (统一社会信用代码, GB 32100-2015).  Pure code: no I/O. */
#ifndef YZ_CREDIT_CODE_H
#define YZ_CREDIT_CODE_H

#include <stddef.h>

/* NULL when s is a valid code; otherwise a short English reason. */
const char *credit_code_error(const char *s, size_t n);

#endif
