/* sign.h — the registry offices' Ed25519 certificate keys.
 *
 * Private keys are PEM files in YIZHAN_SIGNING_KEY_DIR named <key_id>.pem
 * (mode 0600), made by `yizhan keygen`; their public halves are published in
 * the signing_keys table.  The key store is loaded at start and re-read
 * (at most every few seconds) when a key id is not found, so keys made while
 * the server runs are picked up without a restart.  Thread-safe. */
#ifndef YZ_SIGN_H
#define YZ_SIGN_H

#include <stdbool.h>
#include <stddef.h>

int sign_load_dir(const char *dir);
/* Sign msg with key_id; out gets base64url (no padding).  -1 if the key is
 * not available. */
int sign_ed25519(const char *key_id, const void *msg, size_t n, char *out, size_t outsz)
    __attribute__((warn_unused_result));
/* Verify a base64url signature with a raw 32-byte public key. */
bool sign_verify_ed25519(const unsigned char pub[32], const void *msg, size_t n, const char *sig_b64url);
/* Make a key pair: writes <dir>/<key_id>.pem, returns raw public key and PEM. */
int sign_keygen(const char *dir, long office_id, char key_id[64], unsigned char pub[32], char **pub_pem)
    __attribute__((warn_unused_result));

#endif
