/* filetype.h — what a file is, judged by its first bytes (not its name or the
 * Content-Type a client claims).  Pure code. */
#ifndef YZ_FILETYPE_H
#define YZ_FILETYPE_H

#include <stddef.h>

/* "application/pdf", "image/png", "image/jpeg", or NULL for anything else. */
const char *filetype_sniff(const unsigned char *data, size_t n);

#endif
