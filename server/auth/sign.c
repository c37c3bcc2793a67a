/* sign.c — see sign.h. */
#include "auth/sign.h"

#include "log.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct key {
    struct key *next;
    char id[64];
    EVP_PKEY *pkey;
} key_t_;

static key_t_ *g_keys;
static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static char g_dir[1024];
static time_t g_last_scan;

static EVP_PKEY *find(const char *id)
{
    for (key_t_ *k = g_keys; k; k = k->next)
        if (!strcmp(k->id, id)) return k->pkey;
    return NULL;
}

/* Caller holds the write lock. */
static void scan(void)
{
    g_last_scan = time(NULL);
    DIR *d = opendir(g_dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || n >= 64 + 4 || strcmp(e->d_name + n - 4, ".pem") != 0) continue;
        char id[64];
        snprintf(id, sizeof id, "%.*s", (int)(n - 4), e->d_name);
        if (find(id)) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (!pk || EVP_PKEY_id(pk) != EVP_PKEY_ED25519) {
            LOG_W("signing key %s is not an Ed25519 private key; ignored", path);
            EVP_PKEY_free(pk);
            continue;
        }
        key_t_ *k = calloc(1, sizeof *k);
        snprintf(k->id, sizeof k->id, "%s", id);
        k->pkey = pk;
        k->next = g_keys;
        g_keys = k;
    }
    closedir(d);
}

int sign_load_dir(const char *dir)
{
    snprintf(g_dir, sizeof g_dir, "%s", dir);
    pthread_rwlock_wrlock(&g_lock);
    scan();
    pthread_rwlock_unlock(&g_lock);
    return 0;
}

int sign_ed25519(const char *key_id, const void *msg, size_t n, char *out, size_t outsz)
{
    if (outsz < 90) return -1;
    pthread_rwlock_rdlock(&g_lock);
    EVP_PKEY *pk = find(key_id);
    pthread_rwlock_unlock(&g_lock);
    if (!pk) {
        pthread_rwlock_wrlock(&g_lock);
        if (time(NULL) - g_last_scan >= 2) scan();
        pk = find(key_id);
        pthread_rwlock_unlock(&g_lock);
        if (!pk) return -1;
    }
    /* Keys are never freed while the process runs, so pk stays valid. */
    unsigned char sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, msg, n) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) return -1;
    util_b64url_encode(sig, siglen, out);
    return 0;
}

bool sign_verify_ed25519(const unsigned char pub[32], const void *msg, size_t n, const char *sig_b64url)
{
    unsigned char sig[96];
    size_t sl = strlen(sig_b64url);
    if (sl != 86) return false;
    long len = util_b64url_decode(sig_b64url, sl, sig);
    if (len != 64) return false;
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    if (!pk) return false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
              EVP_DigestVerify(ctx, sig, 64, msg, n) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return ok;
}

int sign_keygen(const char *dir, long office_id, char key_id[64], unsigned char pub[32], char **pub_pem)
{
    int rc = -1;
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (!kctx || EVP_PKEY_keygen_init(kctx) != 1 || EVP_PKEY_keygen(kctx, &pk) != 1) goto done;
    size_t plen = 32;
    if (EVP_PKEY_get_raw_public_key(pk, pub, &plen) != 1 || plen != 32) goto done;
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(pub, 32, md, &mdlen, EVP_sha256(), NULL);
    char fp[17];
    util_hex(md, 8, fp);
    snprintf(key_id, 64, "office%ld-%s", office_id, fp);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "yizhan: cannot create %s: %s\n", dir, strerror(errno));
        goto done;
    }
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.pem", dir, key_id);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        fprintf(stderr, "yizhan: cannot write %s: %s\n", path, strerror(errno));
        goto done;
    }
    FILE *f = fdopen(fd, "w");
    int w = PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    if (w != 1) goto done;
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pk);
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    *pub_pem = strndup(data, (size_t)len);
    BIO_free(bio);
    rc = 0;
done:
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(kctx);
    return rc;
}
