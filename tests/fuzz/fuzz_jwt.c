/* Fuzz the token wrapper: arbitrary bearer strings never crash and are never
 * accepted (only a token signed with the secret passes, which random input
 * cannot produce). */
#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char path[] = "/tmp/yz-fuzz-secret-XXXXXX";
    int fd = mkstemp(path);
    static const char secret[] = "fuzzing-secret-fuzzing-secret-fuzzing-secret!";
    if (fd < 0 || write(fd, secret, sizeof secret - 1) < 0) abort();
    close(fd);
    if (auth_load_secret(path) != 0) abort();
    unlink(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    if (n > 4096) return 0;
    char *t = malloc(n + 1);
    memcpy(t, data, n);
    t[n] = '\0';
    int64_t uid;
    long iat;
    const char *why = NULL;
    if (jwt_check(t, 1800000000, &uid, &iat, &why) == 0) abort();
    if (!why) abort();
    free(t);
    return 0;
}
