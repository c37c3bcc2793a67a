/* Fuzz the unified-social-credit-code check: no crash, and an accepted code
 * is 18 characters of the alphabet whose check character recomputes. */
#include "domain/credit_code.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    const char *why = credit_code_error((const char *)data, n);
    if (!why) {
        static const char A[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
        static const int W[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
        if (n != 18) abort();
        int sum = 0;
        for (int i = 0; i < 17; i++) {
            const char *p = memchr(A, data[i], 31);
            if (!p || !data[i]) abort();
            sum += (int)(p - A) * W[i];
        }
        if (A[(31 - sum % 31) % 31] != (char)data[17]) abort();
    }
    return 0;
}
