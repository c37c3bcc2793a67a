/* filetype.c — magic numbers: PDF "%PDF-", PNG's 8-byte signature, JPEG's
 * SOI marker followed by another marker. */
#include "domain/filetype.h"

#include <string.h>

const char *filetype_sniff(const unsigned char *d, size_t n)
{
    if (n >= 5 && !memcmp(d, "%PDF-", 5)) return "application/pdf";
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) return "image/png";
    if (n >= 4 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return "image/jpeg";
    return NULL;
}
