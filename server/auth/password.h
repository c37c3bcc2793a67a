/* password.h — PBKDF2-HMAC-SHA256 password hashes (OWASP 2023: 600,000
 * iterations).  The stored form names its parameters so they can be raised
 * later: "pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>".
 * Hashing takes ~0.3 s of CPU: call it only from the blocking pool or CLI. */
#ifndef YZ_PASSWORD_H
#define YZ_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_ITERATIONS 600000
#define PASSWORD_HASH_MAX 160

int password_hash(const char *password, char out[PASSWORD_HASH_MAX]) __attribute__((warn_unused_result));
/* The iterations of new hashes (YIZHAN_PASSWORD_ITERATIONS, set by main.c;
 * default PASSWORD_ITERATIONS).  Only the test suites lower it; verification
 * always uses the count a stored hash names. */
void password_set_iterations(long iterations);
/* Constant-time comparison; false for malformed stored strings. */
bool password_verify(const char *password, const char *stored);
/* A valid hash of a random password, computed once: unknown accounts are
 * checked against it so that timing does not reveal which accounts exist. */
const char *password_dummy_hash(void);
/* Password policy: 10–128 characters, valid UTF-8.  NULL if fine, else why. */
const char *password_policy_error(const char *password);

#endif
