/* pdf.h — the official documents as PDF, drawn with cairo and pango in
 * Noto CJK (Debian's fonts-noto-cjk), which cairo embeds as a subset (only
 * the glyphs used, with a ToUnicode map, so the text can be searched and
 * copied): the registration certificate (技术合同登记证明) and the
 * registration form (技术合同登记表).
 *
 * Blocking and CPU-bound (fonts, shaping, compression): call only on a pool
 * thread (g_doc_pool), never on an event loop.  Each call is self-contained
 * (its own surface and layouts), so calls may run on several threads. */
#ifndef YZ_PDF_H
#define YZ_PDF_H

#include "util/buf.h"

#include <jansson.h>
#include <stddef.h>

typedef struct {
    json_t *payload;           /* certificate_payload(): what the certificate states */
    const char *verify_url;    /* where its QR code points */
    const char *key_id;        /* the office key that signed it; NULL: not signed here (历史导入) */
    const char *signature;     /* base64url */
    const unsigned char *seal; /* the office's seal (PNG) or NULL: an empty slot */
    size_t seal_len;
} pdf_certificate_t;

/* 0 and the PDF appended to out, or -1. */
int pdf_certificate(const pdf_certificate_t *c, buf_t *out) __attribute__((warn_unused_result));

/* The registration form of a contract as the applicant submitted it, with
 * the registration's outcome when there is one.  contract: contract_json()
 * plus the labels the form shows (see api/documents.c). */
int pdf_registration_form(json_t *contract, const unsigned char *seal, size_t seal_len, buf_t *out)
    __attribute__((warn_unused_result));

#endif
