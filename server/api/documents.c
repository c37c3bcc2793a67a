/* documents.c — the official documents as PDF, and the office seals on them:
 *
 *   GET /api/v1/contracts/{id}/certificate?format=pdf   the 技术合同登记证明 (api/contracts.c
 *                                                       signs it and hands it here)
 *   GET /api/v1/contracts/{id}/registration-form        the 技术合同登记表 as submitted
 *   GET|PUT|DELETE /api/v1/offices/{id}/seal            the office's seal image (PNG)
 *
 * Rendering (api/pdf.c: cairo, pango, an embedded subset of Noto CJK) runs on
 * the document pool, never on the loop: the handler reads what the document
 * shows in one statement, the pool draws it, the loop sends the bytes.
 *
 * A seal is a PNG an admin uploads for an office (64 to 4,096 pixels a side,
 * within YIZHAN_MAX_BODY_BYTES); it is drawn over the office's name at the
 * foot of its certificates and of the forms of registered contracts.  Who may
 * fetch it: an admin and the office's own officers (a seal is not public). */
#include "api/api.h"
#include "api/pdf.h"

#include "auth/auth.h"
#include "log.h"
#include "util/pool.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

static int ST_FORM, ST_SEAL_GET, ST_SEAL_PUT, ST_SEAL_DEL;

/* --- rendering on the pool ------------------------------------------------------------------ */

typedef struct {
    http_req_t *req;
    bool form;   /* the registration form, else the certificate */
    json_t *doc; /* what it shows (owned) */
    char *key_id, *signature, *url;
    unsigned char *seal; /* arena */
    size_t seal_len;
    buf_t pdf;
    int rc;
    char filename[96];
} render_t;

static void render_work(void *arg)
{
    render_t *r = arg;
    buf_init(&r->pdf);
    if (r->form) {
        r->rc = pdf_registration_form(r->doc, r->seal, r->seal_len, &r->pdf);
    } else {
        pdf_certificate_t c = {r->doc, r->url, r->key_id, r->signature, r->seal, r->seal_len};
        r->rc = pdf_certificate(&c, &r->pdf);
    }
}

static void render_done(void *arg)
{
    render_t *r = arg;
    http_req_t *req = r->req;
    if (r->rc != 0 || !r->pdf.len) {
        LOG_E("pdf: rendering %s failed", r->form ? "a registration form" : "a certificate");
        http_problem(req, 500, "the document could not be drawn", NULL);
    } else {
        http_add_header(req, "Content-Disposition", arena_printf(req->arena, "inline; filename=\"%s\"", r->filename));
        http_add_header(req, "Cache-Control", "no-store");
        http_add_header(req, "X-Content-Type-Options", "nosniff");
        http_reply(req, 200, "application/pdf", r->pdf.data, r->pdf.len);
    }
    buf_free(&r->pdf);
    json_decref(r->doc);
    free(r->key_id);
    free(r->signature);
    free(r->url);
}

static void render(http_req_t *req, render_t *r)
{
    r->req = req;
    if (pool_submit_to(g_doc_pool, req->worker, render_work, render_done, r) != 0) {
        json_decref(r->doc);
        free(r->key_id);
        free(r->signature);
        free(r->url);
        http_problem(req, 503, "the server is busy drawing documents; try again shortly", NULL);
    }
}

void api_certificate_pdf(http_req_t *req, json_t *payload, const char *key_id, const char *signature, const char *url,
                         const unsigned char *seal, size_t seal_len)
{
    render_t *r = arena_calloc(req->arena, sizeof *r);
    r->doc = payload;
    r->key_id = key_id ? strdup(key_id) : NULL;
    r->signature = signature ? strdup(signature) : NULL;
    r->url = strdup(url);
    r->seal = (unsigned char *)seal;
    r->seal_len = seal_len;
    snprintf(r->filename, sizeof r->filename, "certificate-%s.pdf",
             json_string_value(json_object_get(payload, "registration_no")) ?: "");
    render(req, r);
}

/* --- the registration form ------------------------------------------------------------------- */

static void form_loaded(http_req_t *req, PGresult *res)
{
    if (!PQntuples(res)) {
        http_problem(req, 404, "no such contract", NULL);
        return;
    }
    json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    const char *status = json_string_value(json_object_get(doc, "status"));
    if (!doc || !status) {
        json_decref(doc);
        http_problem(req, 500, "the contract could not be read", NULL);
        return;
    }
    if (!strcmp(status, "draft")) {
        json_decref(doc);
        http_problem(req, 409, "a draft has no registration form yet: it is made when the application is submitted",
                     NULL);
        return;
    }
    render_t *r = arena_calloc(req->arena, sizeof *r);
    r->form = true;
    r->doc = doc;
    if (!PQgetisnull(res, 0, 1))
        r->seal = api_bytea_value(req, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1), &r->seal_len);
    snprintf(r->filename, sizeof r->filename, "registration-form-%s.pdf", req->params[0]);
    render(req, r);
}

static void registration_form(http_req_t *req)
{
    const char *id, *format;
    if (api_id_param_or_reply(req, 0, "contract", &id) || http_query_or_reply(req, "format", &format)) return;
    if (format && strcmp(format, "pdf")) {
        json_t *e = NULL;
        http_error_add(&e, "format", "invalid", "pdf");
        http_problem(req, 400, "invalid query parameter", e);
        return;
    }
    api_scope_t s = api_scope(req);
    const char *v[5] = {id, s.org, s.office, s.region, s.admin};
    api_query(req, ST_FORM, 5, v, form_loaded);
}

/* --- office seals ------------------------------------------------------------------------------ */

/* Width and height from a PNG's IHDR, or -1 when it is not a PNG. */
static int png_size(const unsigned char *p, size_t n, unsigned *w, unsigned *h)
{
    static const unsigned char SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 33 || memcmp(p, SIG, 8) || memcmp(p + 12, "IHDR", 4)) return -1;
    *w = (unsigned)p[16] << 24 | (unsigned)p[17] << 16 | (unsigned)p[18] << 8 | p[19];
    *h = (unsigned)p[20] << 24 | (unsigned)p[21] << 16 | (unsigned)p[22] << 8 | p[23];
    return 0;
}

static int office_or_reply(http_req_t *req, const char **id)
{
    if (api_id_param_or_reply(req, 0, "office", id)) return -1;
    auth_user_t *u = req->user;
    if (!(u->role & ROLE_ADMIN) && strtoll(*id, NULL, 10) != u->office_id) {
        http_problem(req, 404, "no such office", NULL);
        return -1;
    }
    return 0;
}

static void seal_loaded(http_req_t *req, PGresult *res)
{
    size_t n = 0;
    unsigned char *png = PQntuples(res) && !PQgetisnull(res, 0, 0)
                             ? api_bytea_value(req, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), &n)
                             : NULL;
    if (!PQntuples(res)) {
        http_problem(req, 404, "no such office", NULL);
        return;
    }
    if (!png) {
        http_problem(req, 404, "this office has no seal image yet", NULL);
        return;
    }
    http_add_header(req, "Cache-Control", "no-store");
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    http_add_header(req, "Content-Disposition", "inline; filename=\"seal.png\"");
    http_reply(req, 200, "image/png", png, n);
}

static void seal_get(http_req_t *req)
{
    const char *id;
    if (office_or_reply(req, &id)) return;
    const char *v[1] = {id};
    api_query(req, ST_SEAL_GET, 1, v, seal_loaded);
}

static void seal_put(http_req_t *req)
{
    const char *id;
    if (api_id_param_or_reply(req, 0, "office", &id)) return;
    const unsigned char *data = (const unsigned char *)req->body;
    size_t n = req->body_len;
    const char *ct = http_header(req, "content-type");
    unsigned w, h;
    if (!n) {
        http_problem(req, 400, "send the seal image (PNG) as the request body", NULL);
        return;
    }
    if (png_size(data, n, &w, &h) != 0) {
        http_problem(req, 415, "the seal must be a PNG image (judged by its content)", NULL);
        return;
    }
    if (!ct || strncasecmp(ct, "image/png", 9) != 0) {
        http_problemf(req, 415, "the file is image/png but was sent as %s", ct ? ct : "(no Content-Type)");
        return;
    }
    if (w < 64 || h < 64 || w > 4096 || h > 4096) {
        json_t *e = NULL;
        http_error_add(&e, "image", "out_of_range", "64 to 4096 pixels wide and high");
        http_problem(req, 422, arena_printf(req->arena, "the image is %ux%u pixels; a seal is 64 to 4096 a side", w, h),
                     e);
        return;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    char sha[65];
    SHA256(data, n, md);
    util_hex(md, sizeof md, sha);
    const char *v[7] = {api_actor(req),
                        req->request_id,
                        id,
                        sha,
                        arena_printf(req->arena, "%u", w),
                        arena_printf(req->arena, "%u", h),
                        api_bytea_param(req, data, n)};
    api_query(req, ST_SEAL_PUT, 7, v, api_reply_row_json);
}

static void seal_delete(http_req_t *req)
{
    const char *id;
    if (api_id_param_or_reply(req, 0, "office", &id)) return;
    const char *v[3] = {api_actor(req), req->request_id, id};
    api_query(req, ST_SEAL_DEL, 3, v, api_reply_no_content);
}

#define READERS (ROLE_MEMBER | ROLE_BROKER | ROLE_OFFICER | ROLE_BUREAU | ROLE_ADMIN)
static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/contracts/{id}/registration-form", registration_form, 0, READERS},
    {HTTP_GET, "/api/v1/offices/{id}/seal", seal_get, 0, ROLE_OFFICER | ROLE_ADMIN},
    {HTTP_PUT, "/api/v1/offices/{id}/seal", seal_put, ROUTE_RAW_BODY, ROLE_ADMIN},
    {HTTP_DELETE, "/api/v1/offices/{id}/seal", seal_delete, 0, ROLE_ADMIN},
};

void api_documents_init(void)
{
    ST_FORM = db_stmt_register_read(
        "SELECT registration_form_json(c)::text, (SELECT s.png FROM office_seals s WHERE s.office_id = c.office_id)"
        " FROM contracts c WHERE c.id = $1::bigint AND contract_visible(c, $2::bigint, $3::bigint, $4, $5::boolean)",
        5);
    ST_SEAL_GET = db_stmt_register_read(
        "SELECT (SELECT s.png FROM office_seals s WHERE s.office_id = f.id) FROM registry_offices f WHERE f.id = $1::bigint",
        1);
    ST_SEAL_PUT = db_stmt_register(
        "SELECT office_seal_put($1::bigint, $2, $3::bigint, $4, $5::int, $6::int, $7::bytea)", 7);
    ST_SEAL_DEL = db_stmt_register("SELECT office_seal_delete($1::bigint, $2, $3::bigint)", 3);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
