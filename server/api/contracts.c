/* contracts.c — technology contracts and their registration (技术合同认定登记),
 * the officer's queue, amounts received, and signed certificates.
 *
 * Every change is one SQL function (migrations/functions/contracts.sql) that checks
 * scope, state and values and writes the audit entry in the same transaction.
 * Scope parameters: the caller's org (members, brokers), office (officers),
 * region (bureau) and whether they are admin; anything outside it is 404.
 *
 * Certificates: PostgreSQL builds the payload; this file canonicalises it
 * (RFC 8785, domain/canonical.c) and signs the bytes with the office's current
 * Ed25519 key (auth/sign.c).  Ed25519 is deterministic, so a certificate is
 * re-derived on demand rather than stored: the same registration always
 * yields the same bytes and signature, until an amendment changes them. */
#include "api/api.h"

#include "auth/auth.h"
#include "auth/sign.h"
#include "log.h"
#include "domain/canonical.h"
#include "domain/cjk.h"
#include "domain/filetype.h"
#include "domain/money_cn.h"

#include <openssl/sha.h>

#include <qrencode.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int ST_ATT_ADD, ST_ATT_LIST, ST_ATT_GET, ST_ATT_DEL;
static int ST_CERT_PDF;
static int ST_LIST, ST_GET, ST_CREATE, ST_UPDATE, ST_DELETE, ST_SUBMIT, ST_RETURN, ST_REFUSE, ST_REGISTER,
    ST_REQ_CHANGE, ST_DECIDE_CHANGE, ST_CHANGES, ST_PAY_ADD, ST_PAY_LIST, ST_QUEUE, ST_CERT, ST_PUBLIC, ST_KEYS,
    ST_VERIFY;

/* --- scope and parameters ----------------------------------------------------- */

static int id_or_reply(http_req_t *req, const char **id)
{
    return api_id_param_or_reply(req, 0, "contract", id);
}

/* --- body validation --------------------------------------------------------------- */

static const field_t CONTRACT_FIELDS[] = SPEC_FIELDS(ContractPatch);

static void check_party(json_t *p, const char *name, json_t **errs)
{
    static const field_t PARTY[] = SPEC_FIELDS(PartyInput);
    if (!p || json_is_null(p)) return;
    if (!json_is_object(p)) {
        http_error_add(errs, name, "wrong_type",
                       "must be an object {org_id?, name, org_type, region_code, credit_code?}");
        return;
    }
    char f[64];
    snprintf(f, sizeof f, "%s.", name);
    (void)api_fields_check(p, f, PARTY, ARRAY_LEN(PARTY), errs);
    const char *n = json_string_value(json_object_get(p, "name"));
    if (n && util_utf8_len(n, strlen(n)) > 200) {
        snprintf(f, sizeof f, "%s.name", name);
        http_error_add(errs, f, "too_long", "at most 200 characters");
    }
}

/* Types were checked by api_fields_or_reply; returns the status to answer
 * with (400 for shape, 422 for values) or 0. */
static int check_contract_body(http_req_t *req, json_t **errs)
{
    json_t *b = req->json;
    check_party(json_object_get(b, "seller"), "seller", errs);
    check_party(json_object_get(b, "buyer"), "buyer", errs);
    json_t *im = json_object_get(b, "intermediary");
    if (im && !json_is_object(im) && !json_is_null(im))
        http_error_add(errs, "intermediary", "wrong_type", "must be an object or null");
    else
        check_party(im, "intermediary", errs);
    if (*errs) return 400;
    static const char *const DATES[] = {"signed_on", "effective_on", "end_on"};
    for (int i = 0; i < 3; i++) api_check(errs, DATES[i], v_date(json_string_value(json_object_get(b, DATES[i]))));
    static const char *const MONEY[] = {"contract_amount_fen", "technical_amount_fen"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(b, MONEY[i]);
        if (v) api_check(errs, MONEY[i], v_amount(json_integer_value(v), false));
    }
    const char *t = json_string_value(json_object_get(b, "title"));
    if (t && (!*t || util_utf8_len(t, strlen(t)) > 300))
        http_error_add(errs, "title", "invalid", "1 to 300 characters");
    return *errs ? 422 : 0;
}

/* --- handlers: parties ----------------------------------------------------------------- */

/* GET /contracts's checked parameters, while the filter codes are checked. */
typedef struct {
    const char *v[19];
    int si;
} list_ctx_t;

/* The page of GET /contracts: its key gets the sort's letter before it is signed. */
static void list_done(http_req_t *req, PGresult *res)
{
    api_reply_page_sorted(req, res, "noadr"[((list_ctx_t *)req->ctx)->si]);
}

/* GET /contracts: the caller's contracts, or a staff search over them — q
 * (a registration number of 4 to 16 digits, exact or prefix; otherwise text
 * found in the title, the parties' names and credit codes, as exactly as the
 * marketplace's search: domain/cjk.c), filters and a sort.  One statement,
 * contract_search() (functions/contract_search.sql).  The cursor's key starts
 * with the sort's letter, so a cursor of another sort is refused. */
static const char *const SORTS[] = {"newest", "oldest", "amount_desc", "amount_asc", "registered"};

static void list_bad(json_t **errs, const char *field, const char *code, const char *msg)
{
    http_error_add(errs, field, code, msg);
}

static const char *uint_param(http_req_t *req, json_t **errs, const char *name, const char *v, uint64_t lo, uint64_t hi,
                              const char *msg)
{
    uint64_t n;
    if (!v) return NULL;
    if (util_parse_u64(v, strlen(v), &n) != 0 || n < lo || n > hi) {
        list_bad(errs, name, "out_of_range", msg);
        return NULL;
    }
    return arena_printf(req->arena, "%llu", (unsigned long long)n);
}

static void list_send(http_req_t *req);

static void list(http_req_t *req)
{
    const char *limit, *cursor, *status, *q, *office, *type, *year, *region, *amin, *amax, *overdue, *org, *sort;
    if (api_limit_or_reply(req, &limit) || api_cursor_or_reply(req, &cursor) ||
        http_query_or_reply(req, "status", &status) || http_query_or_reply(req, "q", &q) ||
        http_query_or_reply(req, "office_id", &office) || http_query_or_reply(req, "type", &type) ||
        http_query_or_reply(req, "year", &year) || http_query_or_reply(req, "region", &region) ||
        http_query_or_reply(req, "amount_min", &amin) || http_query_or_reply(req, "amount_max", &amax) ||
        http_query_or_reply(req, "overdue", &overdue) || http_query_or_reply(req, "org_id", &org) ||
        http_query_or_reply(req, "sort", &sort))
        return;
    json_t *errs = NULL;
    static const char *const ST[] = {"draft", "submitted", "returned", "refused", "registered", "cancelled"};
    bool ok = !status;
    for (int i = 0; i < 6 && !ok; i++) ok = !strcmp(status, ST[i]);
    if (!ok) list_bad(&errs, "status", "invalid", "one of draft, submitted, returned, refused, registered, cancelled");
    int si = 0;
    if (sort) {
        for (si = 0; si < (int)ARRAY_LEN(SORTS) && strcmp(sort, SORTS[si]); si++)
            ;
        if (si == (int)ARRAY_LEN(SORTS)) {
            list_bad(&errs, "sort", "invalid", "one of newest, oldest, amount_desc, amount_asc, registered");
            si = 0;
        }
    }
    office = uint_param(req, &errs, "office_id", office, 1, (1ull << 62) - 1, "a registry office id");
    org = uint_param(req, &errs, "org_id", org, 1, (1ull << 62) - 1, "an organisation id");
    year = uint_param(req, &errs, "year", year, 1990, 2999, "a year of registration from 1990 to 2999");
    amin = uint_param(req, &errs, "amount_min", amin, 0, 100000000000000ULL, "a whole number of fen, 0 to 10^14");
    amax = uint_param(req, &errs, "amount_max", amax, 0, 100000000000000ULL, "a whole number of fen, 0 to 10^14");
    if (amin && amax && strtoull(amin, NULL, 10) > strtoull(amax, NULL, 10))
        list_bad(&errs, "amount_min", "out_of_order", "amount_min must not exceed amount_max");
    if (type && (strlen(type) > 40 || strspn(type, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(type) || !*type))
        list_bad(&errs, "type", "invalid", "a code of list contract_types");
    if (region && (strlen(region) != 6 || strspn(region, "0123456789") != 6))
        list_bad(&errs, "region", "invalid", "a six-digit GB/T 2260 region code");
    api_check(&errs, "overdue", v_bool(overdue));

    /* q: digits are a registration number; anything else text */
    const char *regno = NULL, *tsq = NULL, *patterns = "[]";
    cjk_query_t cq;
    memset(&cq, 0, sizeof cq);
    if (q && *q) {
        size_t n = strlen(q);
        size_t digits = strspn(q, "0123456789");
        if (digits == n && n >= 4 && n <= 16) {
            regno = q;
        } else {
            const char *why = NULL;
            if (cjk_query_parse(q, n, &cq, &why) != 0) list_bad(&errs, "q", "invalid", why);
            else if (!cq.indexed)
                list_bad(&errs, "q", "no_searchable_character",
                         "the query needs at least one letter, digit or CJK character");
            else {
                tsq = arena_strdup(req->arena, cq.tsquery.data);
                patterns = arena_strdup(req->arena, cq.patterns.data);
            }
        }
    }
    cjk_query_free(&cq);

    /* the cursor: "<sort letter>|<key>" */
    const char *after = api_cursor_sorted_key(cursor, "noadr"[si]);
    if (cursor && !after) list_bad(&errs, "cursor", "invalid", "the cursor belongs to another sort");
    if (errs) {
        http_problem(req, 400, "invalid query parameter", errs);
        return;
    }
    api_scope_t s = api_scope(req);
    list_ctx_t *c = arena_calloc(req->arena, sizeof *c);
    *c = (list_ctx_t){{s.org, s.office, s.region, s.admin, regno, tsq, patterns, status, office, type, year, region,
                       amin, amax, overdue, org, SORTS[si], after, limit},
                      si};
    req->ctx = c;
    /* filters naming nothing are 400 (contract_search): answered from the
     * known codes rather than by a failing statement (issue 21) */
    const api_code_ref_t refs[] = {{"type", "contract_types", NULL, type}, {"region", "regions", NULL, region}};
    if (!type && !region) {
        list_send(req);
        return;
    }
    api_codes_check(req, refs, (int)ARRAY_LEN(refs), 400, list_send);
}

static void list_send(http_req_t *req)
{
    list_ctx_t *c = req->ctx;
    api_query(req, ST_LIST, 19, c->v, list_done);
}

/* GET of one contract's facet: the contract id from the path, the caller's
 * scope, one read statement ($1 id, $2-$5 scope). */
static void read_in_scope(http_req_t *req, int stmt, api_row_cb cb)
{
    const char *id;
    if (id_or_reply(req, &id)) return;
    api_scope_t s = api_scope(req);
    const char *v[5] = {id, s.org, s.office, s.region, s.admin};
    api_query(req, stmt, 5, v, cb);
}

static void get(http_req_t *req)
{
    read_in_scope(req, ST_GET, api_reply_versioned_ok);
}

/* The codes of a body merged by contract_merge, in the order it and
 * contract_check check them (contract_party: org_type, region_code of seller,
 * buyer, intermediary; then the classification codes; related_party last):
 * an unknown one is refused with check_code's or check_region's problem
 * before a write is sent (issue 21).  Field names as the SQL gives them. */
static void contract_codes_then(http_req_t *req, json_t *b, void (*send)(http_req_t *))
{
    static const char *const PARTIES[] = {"seller", "buyer", "intermediary"};
    static const char *const CODES[][2] = {{"contract_type", "contract_types"},
                                           {"contract_subtype", "contract_types"},
                                           {"domain", "domains"},
                                           {"ip_type", "ip_types"},
                                           {"plan_source", "plan_sources"},
                                           {"socio_economic_objective", "socio_economic_objectives"},
                                           {"related_party", "related_party_kinds"}};
    api_code_refs_t r = {0};
    for (size_t i = 0; i < ARRAY_LEN(PARTIES); i++) {
        json_t *p = json_object_get(b, PARTIES[i]);
        const char *pre = arena_printf(req->arena, "%s.", PARTIES[i]);
        api_code_ref_key(req, &r, pre, p, "org_type", "org_types");
        api_code_ref_key(req, &r, pre, p, "region_code", "regions");
    }
    for (size_t i = 0; i < ARRAY_LEN(CODES); i++) api_code_ref_key(req, &r, "", b, CODES[i][0], CODES[i][1]);
    api_codes_check_write(req, &r, false, send);
}

static void create_send(http_req_t *req)
{
    api_scope_t s = api_scope(req);
    const char *v[5] = {api_actor(req), req->request_id, s.org, s.admin, api_json_text(req, req->json)};
    api_query(req, ST_CREATE, 5, v, api_reply_versioned_created);
}

static void create(http_req_t *req)
{
    if (api_fields_or_reply(req, CONTRACT_FIELDS, ARRAY_LEN(CONTRACT_FIELDS))) return;
    json_t *errs = NULL;
    if (!api_str(req, "title")) http_error_add(&errs, "title", "required", "this field is required");
    int st = check_contract_body(req, &errs);
    if (errs) {
        http_problem(req, st ? st : 422, "some fields are not valid", errs);
        return;
    }
    contract_codes_then(req, req->json, create_send);
}

static void update_send(http_req_t *req)
{
    const char *id, *ifm;
    if (id_or_reply(req, &id) || api_if_match_or_reply(req, &ifm)) return;
    api_scope_t s = api_scope(req);
    const char *v[7] = {api_actor(req), req->request_id, id, s.org, s.admin, ifm, api_json_text(req, req->json)};
    api_query(req, ST_UPDATE, 7, v, api_reply_versioned_ok);
}

static void update(http_req_t *req)
{
    const char *id, *ifm;
    if (id_or_reply(req, &id) || api_fields_or_reply(req, CONTRACT_FIELDS, ARRAY_LEN(CONTRACT_FIELDS)) ||
        api_if_match_or_reply(req, &ifm))
        return;
    json_t *errs = NULL;
    int st = check_contract_body(req, &errs);
    if (errs) {
        http_problem(req, st, "some fields are not valid", errs);
        return;
    }
    contract_codes_then(req, req->json, update_send);
}

static void del(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id)) return;
    api_scope_t s = api_scope(req);
    const char *v[5] = {api_actor(req), req->request_id, id, s.org, s.admin};
    api_query(req, ST_DELETE, 5, v, api_reply_no_content);
}

static void submit(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id) || api_fields_or_reply(req, NULL, 0)) return;
    api_scope_t s = api_scope(req);
    const char *v[5] = {api_actor(req), req->request_id, id, s.org, s.admin};
    api_query(req, ST_SUBMIT, 5, v, api_reply_versioned_ok);
}

/* --- handlers: officers ---------------------------------------------------------------- */

static void do_return(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id) || api_body_or_reply(req)) return;
    api_scope_t s = api_scope(req);
    const char *v[6] = {api_actor(req), req->request_id, id, s.office, s.admin, api_str(req, "reason")};
    api_query(req, ST_RETURN, 6, v, api_reply_versioned_ok);
}

static void refuse(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id) || api_body_or_reply(req)) return;
    api_scope_t s = api_scope(req);
    const char *v[7] = {api_actor(req),         req->request_id,       id, s.office, s.admin,
                        api_str(req, "ground"), api_str(req, "detail")};
    api_query(req, ST_REFUSE, 7, v, api_reply_versioned_ok);
}

static void register_send(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id)) return;
    api_scope_t s = api_scope(req);
    const char *v[6] = {api_actor(req), req->request_id, id, s.office, s.admin, api_json_text(req, req->json)};
    api_query(req, ST_REGISTER, 6, v, api_reply_versioned_ok);
}

static void do_register(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id) || api_body_or_reply(req)) return;
    json_t *t = json_object_get(req->json, "technical_amount_fen"), *errs = NULL;
    api_check_chars(req, &errs, "no_scan_reason", api_str(req, "no_scan_reason"), 500);
    if (t) (void)api_check(&errs, "technical_amount_fen", v_amount(json_integer_value(t), false));
    api_check_chars(req, &errs, "note", api_str(req, "note"), 1000);
    if (api_errors_or_reply(req, errs)) return;
    contract_codes_then(req, req->json, register_send);
}

/* The applicant's request (contract_request_change). */
static void request_change_send(http_req_t *req, const char *kind)
{
    const char *id;
    if (id_or_reply(req, &id)) return;
    api_scope_t s = api_scope(req);
    json_t *changes = json_object_get(req->json, "changes");
    const char *v[8] = {api_actor(req),
                        req->request_id,
                        id,
                        s.org,
                        s.admin,
                        kind,
                        api_str(req, "reason"),
                        changes ? api_json_text(req, changes) : NULL};
    api_query(req, ST_REQ_CHANGE, 8, v, api_reply_versioned_ok);
}

static void amend_send(http_req_t *req)
{
    request_change_send(req, "amend");
}

/* amend / cancel: the applicant asks; an officer decides (change_id + decision). */
static void change(http_req_t *req, const char *kind)
{
    const char *id;
    if (id_or_reply(req, &id)) return;
    api_scope_t s = api_scope(req);
    if (req->user->role & ROLE_OFFICER || ((req->user->role & ROLE_ADMIN) && json_object_get(req->json, "change_id"))) {
        static const field_t F[] = SPEC_FIELDS(ContractChangeDecision);
        if (api_fields_or_reply(req, F, ARRAY_LEN(F))) return;
        const char *note = api_str(req, "note");
        json_t *errs = NULL;
        api_check_chars(req, &errs, "note", note, 1000);
        if (api_errors_or_reply(req, errs)) return;
        const char *cid = arena_printf(req->arena, "%lld",
                                       (long long)json_integer_value(json_object_get(req->json, "change_id")));
        const char *v[9] = {
            api_actor(req), req->request_id, id, s.office, s.admin, kind, cid, api_str(req, "decision"), note};
        api_query(req, ST_DECIDE_CHANGE, 9, v, api_reply_versioned_ok);
        return;
    }
    static const field_t FA[] = SPEC_FIELDS(ContractAmendment), FC[] = SPEC_FIELDS(ContractCancellation);
    bool amend = !strcmp(kind, "amend");
    if (amend ? api_fields_or_reply(req, FA, ARRAY_LEN(FA)) : api_fields_or_reply(req, FC, ARRAY_LEN(FC))) return;
    json_t *changes = json_object_get(req->json, "changes");
    if (amend) {
        /* only what an amendment may change (their values: contract_check) */
        static const field_t OK[] = SPEC_FIELDS(AmendmentChanges);
        json_t *errs = NULL;
        const char *k;
        json_t *v;
        json_object_foreach(changes, k, v) {
            size_t i = 0;
            for (; i < ARRAY_LEN(OK) && strcmp(OK[i].name, k); i++)
                ;
            char f[80];
            snprintf(f, sizeof f, "changes.%s", k);
            if (i == ARRAY_LEN(OK)) http_error_add(&errs, f, "unknown_field", "cannot be changed by amendment");
        }
        if (errs) {
            http_problem(req, 400, "the amendment names fields that cannot change", errs);
            return;
        }
        /* contract_merge of the changes, then contract_check: the fields unprefixed */
        contract_codes_then(req, changes, amend_send);
        return;
    }
    request_change_send(req, kind);
}

static void amend(http_req_t *req)
{
    change(req, "amend");
}
static void cancel(http_req_t *req)
{
    change(req, "cancel");
}

static void payments_add(http_req_t *req)
{
    const char *id;
    if (id_or_reply(req, &id) || api_body_or_reply(req)) return;
    const char *on = api_str(req, "received_on");
    json_t *amount = json_object_get(req->json, "amount_fen");
    json_t *errs = NULL;
    api_check(&errs, "received_on", v_date(on));
    api_check(&errs, "amount_fen", v_amount(json_integer_value(amount), true));
    const char *note = api_str(req, "note");
    api_check_chars(req, &errs, "note", note, 500);
    if (api_errors_or_reply(req, errs)) return;
    api_scope_t s = api_scope(req);
    const char *v[9] = {api_actor(req),
                        req->request_id,
                        id,
                        s.org,
                        s.office,
                        s.admin,
                        arena_printf(req->arena, "%lld", (long long)json_integer_value(amount)),
                        on,
                        note};
    api_query(req, ST_PAY_ADD, 9, v, api_reply_row_json_created);
}

static void payments_list(http_req_t *req)
{
    read_in_scope(req, ST_PAY_LIST, api_reply_row_json);
}

/* Every change request of the contract (amendment, cancellation), with the
 * office's decision and its note: the applicant learns why one was rejected. */
static void changes_list(http_req_t *req)
{
    read_in_scope(req, ST_CHANGES, api_reply_row_json);
}

static void queue(http_req_t *req)
{
    const char *limit;
    if (api_limit_or_reply(req, &limit)) return;
    api_scope_t s = api_scope(req);
    const char *v[3] = {s.office, s.admin, limit};
    api_query(req, ST_QUEUE, 3, v, api_reply_row_json);
}

/* --- certificates ------------------------------------------------------------------------ */

/* Canonicalise payload and sign it with key_id.  *text gets the certificate
 * as served: the payload member holds the canonical bytes verbatim, so the
 * signed bytes can be cut out of the file and checked with `openssl pkeyutl`
 * alone (README).  Returns the certificate as an object too (for HTML). */
static json_t *certificate_make(json_t *payload, const char *key_id, buf_t *text, const char **why)
{
    buf_t b;
    buf_init(&b);
    json_t *cert = NULL;
    if (canonical_json(payload, &b) != 0) {
        *why = "the certificate cannot be put in canonical form";
        goto done;
    }
    char sig[100];
    if (sign_ed25519(key_id, b.data, b.len, sig, sizeof sig) != 0) {
        *why = "the office's signing key is not available on this server";
        goto done;
    }
    buf_puts(text, "{\"payload\":");
    buf_append(text, b.data, b.len);
    buf_puts(text, ",\"algorithm\":\"Ed25519\",\"key_id\":");
    buf_json_str(text, key_id);
    buf_puts(text, ",\"signature\":");
    buf_json_str(text, sig);
    buf_putc(text, '}');
    cert = json_pack("{s:O, s:s, s:s, s:s}", "payload", payload, "algorithm", "Ed25519", "key_id", key_id, "signature",
                     sig);
done:
    buf_free(&b);
    return cert;
}

static const char *html_escape(http_req_t *req, const char *s)
{
    buf_t b;
    buf_init(&b);
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_puts(&b, "&lt;"); break;
        case '>': buf_puts(&b, "&gt;"); break;
        case '&': buf_puts(&b, "&amp;"); break;
        case '"': buf_puts(&b, "&quot;"); break;
        case '\'': buf_puts(&b, "&#39;"); break;
        default: buf_putc(&b, *s);
        }
    }
    const char *out = arena_strdup(req->arena, b.data ? b.data : "");
    buf_free(&b);
    return out;
}

static void qr_svg(const char *text, buf_t *out)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q) return;
    int w = q->width, m = 4;
    buf_printf(out,
               "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 %d %d' width='160' height='160' "
               "shape-rendering='crispEdges'><rect width='100%%' height='100%%' fill='#fff'/><path fill='#000' d='",
               w + 2 * m, w + 2 * m);
    for (int y = 0; y < w; y++)
        for (int x = 0; x < w; x++)
            if (q->data[y * w + x] & 1) buf_printf(out, "M%d %dh1v1h-1z", x + m, y + m);
    buf_puts(out, "'/></svg>");
    QRcode_free(q);
}

/* An amount as the certificate prints it: figures with separators and, in
 * brackets, 人民币大写. */
static const char *amount_text(http_req_t *req, json_int_t fen)
{
    char fig[64], upper[MONEY_CN_BUF];
    if (money_cn_figures((long long)fen, fig, sizeof fig) != 0) snprintf(fig, sizeof fig, "%lld", (long long)fen);
    if (money_cn_upper((long long)fen, upper, sizeof upper) != 0) upper[0] = '\0';
    return upper[0] ? arena_printf(req->arena, "%s 元（人民币%s）", fig, upper)
                    : arena_printf(req->arena, "%s 元", fig);
}

/* The certificate's form (req->ctx): JSON (NULL), the HTML page, or PDF. */
static char cert_forms[2];
#define CERT_HTML ((void *)&cert_forms[0])
#define CERT_PDF ((void *)&cert_forms[1])

/* An imported registration (历史导入): its certificate is not signed here. */
static bool cert_imported(json_t *payload)
{
    const char *src = json_string_value(json_object_get(payload, "source"));
    return src && !strcmp(src, "import");
}

/* Where a certificate's QR code points: the verification page on this host. */
static const char *verify_url(http_req_t *req, json_t *payload)
{
    const char *no = json_string_value(json_object_get(payload, "registration_no"));
    const char *host = http_header(req, "host");
    const char *proto = http_header(req, "x-forwarded-proto");
    return arena_printf(req->arena, "%s://%s/#/verify/%s", proto && !strcmp(proto, "https") ? "https" : "http",
                        host ? host : "localhost", no ? no : "");
}

/* The printable certificate: the facts, both amounts in figures and in
 * capitals, the QR code of the verification page, and how to verify it —
 * not the signature's JSON, which the front end offers as a download. */
static void certificate_html(http_req_t *req, json_t *cert)
{
    json_t *p = json_object_get(cert, "payload");
    const char *no = json_string_value(json_object_get(p, "registration_no"));
    const char *host = http_header(req, "host");
    const char *proto = http_header(req, "x-forwarded-proto");
    char url[512], base[400];
    snprintf(base, sizeof base, "%s://%s", proto && !strcmp(proto, "https") ? "https" : "http",
             host ? host : "localhost");
    snprintf(url, sizeof url, "%s/#/verify/%s", base, no ? no : "");
    buf_t qr, b;
    buf_init(&qr);
    buf_init(&b);
    qr_svg(url, &qr);
#define S(obj, key) \
    html_escape(req, json_string_value(json_object_get(obj, key)) ? json_string_value(json_object_get(obj, key)) : "")
    json_t *seller = json_object_get(p, "seller"), *buyer = json_object_get(p, "buyer"),
           *office = json_object_get(p, "office");
    bool imported = cert_imported(p);
    json_t *term = json_object_get(p, "term");
    /* the parties' roles come from the payload (contract_party_roles(): one home, codes.extra) */
    const char *note = json_string_value(json_object_get(p, "registration_note"));
    const char *note_row = note ? arena_printf(req->arena, "<tr><td>核定意见</td><td>%s</td></tr>",
                                               html_escape(req, note))
                                : "";
    buf_printf(
        &b,
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>技术合同登记证明 %s</title>"
        "<style>body{font-family:'Noto Serif CJK SC','Source Han Serif SC',serif;max-width:760px;margin:24px auto;"
        "padding:32px;border:3px double #8b0000;color:#222}h1{text-align:center;letter-spacing:.3em;color:#8b0000}"
        "table{width:100%%;border-collapse:collapse;margin:16px 0}td{border:1px solid #999;padding:8px}"
        "td:first-child{width:30%%;background:#f7f1e8}.qr{float:right;text-align:center;font-size:12px}"
        ".verify{border-top:1px solid #bbb;margin-top:20px;padding-top:8px;font-size:13px;color:#333}"
        ".verify ol{padding-left:1.4em;margin:6px 0}.verify li{margin:4px 0}.num{font-variant-numeric:tabular-nums}"
        "@media print{body{border:none;margin:0}button{display:none}}</style></head><body>"
        "<div class='qr'>%s<br>扫码核验</div><h1>技术合同登记证明</h1>"
        "<table><tr><td>登记编号</td><td class='num'>%s</td></tr><tr><td>合同名称</td><td>%s</td></tr>"
        "<tr><td>合同类别</td><td>%s · %s</td></tr><tr><td>技术领域</td><td>%s</td></tr>"
        "<tr><td>%s（卖方）</td><td>%s<br>%s</td></tr>"
        "<tr><td>%s（买方）</td><td>%s<br>%s</td></tr>"
        "<tr><td>合同期限</td><td>%s 至 %s（签订日期 %s）</td></tr>"
        "<tr><td>合同成交额</td><td class='num'>%s</td></tr>"
        "<tr><td>技术交易额</td><td class='num'>%s</td></tr>%s<tr><td>登记机构</td><td>%s</td></tr>"
        "<tr><td>登记日期</td><td>%s</td></tr></table>"
        "<div class='verify'><b>核验方法</b><ol>"
        "<li>用手机扫描右上角二维码，或在浏览器中打开 %s/#/verify，输入登记编号 %s：登记簿中的合同名称、当事人和金额应与本证明一致。</li>"
        "<li>%s</li>"
        "<li>登记如经变更或注销，核验页会显示其现状，请以核验结果为准。</li></ol></div>"
        "<button onclick='" HTTP_PRINT_HANDLER "'>打印</button></body></html>",
        S(p, "registration_no"), qr.data ? qr.data : "", S(p, "registration_no"), S(p, "title"),
        S(p, "contract_type_label"), S(p, "contract_subtype_label"), S(p, "domain_label"), S(seller, "role"),
        S(seller, "name"), S(seller, "credit_code"), S(buyer, "role"), S(buyer, "name"), S(buyer, "credit_code"),
        S(term, "effective_on"), S(term, "end_on"), S(term, "signed_on"),
        amount_text(req, json_integer_value(json_object_get(p, "contract_amount_fen"))),
        amount_text(req, json_integer_value(json_object_get(p, "technical_amount_fen"))), note_row, S(office, "name"),
        S(p, "registered_on"), html_escape(req, base), S(p, "registration_no"),
        imported
            ? "历史导入：本合同的登记编号与登记日期取自原登记系统，本证明不是本系统签发的电子证明，没有数字签名。"
            : arena_printf(req->arena,
                           "本证明由%s以数字签名（Ed25519，密钥编号 %s）。当事人可从平台下载本证明的签名数据，"
                           "在核验页粘贴即可验证其内容未被改动；各登记机构的公钥公布在 %s/api/v1/certificates/keys。",
                           S(office, "name"), S(cert, "key_id"), html_escape(req, base)));
#undef S
    http_add_header(req, "Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:");
    http_reply(req, 200, "text/html; charset=utf-8", b.data, b.len);
    buf_free(&qr);
    buf_free(&b);
}

static void cert_loaded(http_req_t *req, PGresult *res)
{
    if (!PQntuples(res)) {
        http_problem(req, 404, "no such contract", NULL);
        return;
    }
    const char *status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "registered") != 0) {
        http_problemf(req, 409, "a %s contract has no certificate", status);
        return;
    }
    json_t *payload = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
    bool pdf = req->ctx == CERT_PDF;
    size_t seal_len = 0;
    unsigned char *seal = pdf && !PQgetisnull(res, 0, 3)
                              ? api_bytea_value(req, PQgetvalue(res, 0, 3), (size_t)PQgetlength(res, 0, 3), &seal_len)
                              : NULL;
    if (payload && pdf && cert_imported(payload)) {
        api_certificate_pdf(req, payload, NULL, NULL, verify_url(req, payload), seal, seal_len);
        return;
    }
    if (payload && cert_imported(payload)) { /* the old system's registration: shown, never signed here */
        json_t *cert = json_pack("{s:o, s:n, s:n, s:n}", "payload", payload, "algorithm", "key_id", "signature");
        if (req->ctx) {
            certificate_html(req, cert);
            json_decref(cert);
        } else {
            http_reply_json_t(req, 200, cert);
        }
        return;
    }
    if (PQgetisnull(res, 0, 2)) {
        json_decref(payload);
        http_problem(req, 503, "the registry office has no signing key yet (run yizhan keygen)", NULL);
        return;
    }
    const char *why = "";
    buf_t text;
    buf_init(&text);
    json_t *cert = payload ? certificate_make(payload, PQgetvalue(res, 0, 2), &text, &why) : NULL;
    if (!cert) http_problem(req, 503, why, NULL);
    else if (pdf)
        api_certificate_pdf(req, json_incref(payload), PQgetvalue(res, 0, 2),
                            json_string_value(json_object_get(cert, "signature")), verify_url(req, payload), seal,
                            seal_len);
    else if (req->ctx == CERT_HTML)
        certificate_html(req, cert);
    else
        http_reply_json(req, 200, text.data, text.len);
    json_decref(payload);
    json_decref(cert);
    buf_free(&text);
}

static void certificate(http_req_t *req)
{
    const char *id, *format;
    if (id_or_reply(req, &id) || http_query_or_reply(req, "format", &format)) return;
    if (format && strcmp(format, "json") && strcmp(format, "html") && strcmp(format, "pdf")) {
        json_t *e = NULL;
        http_error_add(&e, "format", "invalid", "json, html or pdf");
        http_problem(req, 400, "invalid query parameter", e);
        return;
    }
    req->ctx = !format || !strcmp(format, "json") ? NULL : !strcmp(format, "html") ? CERT_HTML : CERT_PDF;
    api_scope_t s = api_scope(req);
    const char *v[5] = {id, s.org, s.office, s.region, s.admin};
    api_query(req, req->ctx == CERT_PDF ? ST_CERT_PDF : ST_CERT, 5, v, cert_loaded);
}

static void public_facts(http_req_t *req)
{
    const char *no = req->params[0];
    if (strlen(no) != 16 || strspn(no, "0123456789") != 16) {
        http_problem(req, 404, "no such registration", NULL);
        return;
    }
    const char *v[1] = {no};
    api_query(req, ST_PUBLIC, 1, v, api_reply_row_json);
}

static void keys(http_req_t *req)
{
    api_query(req, ST_KEYS, 0, NULL, api_reply_row_json);
}

static void verify_reply(http_req_t *req, bool valid, const char *reason, const char *status)
{
    json_t *o = json_pack("{s:b, s:s}", "valid", valid, "reason", reason);
    if (status) json_object_set_new(o, "registration_status", json_string(status));
    http_reply_json_t(req, 200, o);
}

static void verify_loaded(http_req_t *req, PGresult *res)
{
    json_t *cert = req->json;
    json_t *payload = json_object_get(cert, "payload");
    const char *status = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
    if (PQgetisnull(res, 0, 0)) {
        verify_reply(req, false, "unknown key_id", status);
        return;
    }
    unsigned char pub[40];
    long pl = util_b64url_decode(PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)), pub);
    buf_t b;
    buf_init(&b);
    bool canon = canonical_json(payload, &b) == 0;
    bool sig_ok = canon && pl == 32 &&
                  sign_verify_ed25519(pub, b.data, b.len, json_string_value(json_object_get(cert, "signature")));
    buf_free(&b);
    if (!sig_ok) {
        verify_reply(req, false,
                     canon ? "the signature does not match the payload" : "the payload is not canonical JSON", status);
        return;
    }
    json_t *office = json_object_get(payload, "office");
    if (!json_is_integer(json_object_get(office, "id")) ||
        json_integer_value(json_object_get(office, "id")) != strtoll(PQgetvalue(res, 0, 1), NULL, 10)) {
        verify_reply(req, false, "the key does not belong to the office named in the certificate", status);
        return;
    }
    if (!status) {
        verify_reply(req, false, "no registration with this number exists", NULL);
        return;
    }
    if (!strcmp(status, "cancelled")) {
        verify_reply(req, false, "the signature is genuine but the registration was cancelled (注销)", status);
        return;
    }
    if (!strcmp(PQgetvalue(res, 0, 2), "t")) {
        verify_reply(req, true, "genuine and current", status);
        return;
    }
    verify_reply(req, true, "genuine, but superseded by an amendment (变更); ask for the current certificate", status);
}

static void verify(http_req_t *req)
{
    if (api_body_or_reply(req)) return;
    if (strcmp(api_str(req, "algorithm"), "Ed25519") != 0) {
        verify_reply(req, false, "unsupported algorithm (only Ed25519)", NULL);
        return;
    }
    const char *no = json_string_value(json_object_get(json_object_get(req->json, "payload"), "registration_no"));
    buf_t b;
    buf_init(&b);
    if (canonical_json(json_object_get(req->json, "payload"), &b) != 0) {
        buf_free(&b);
        verify_reply(req, false, "the payload is not canonical JSON", NULL);
        return;
    }
    const char *v[3] = {api_str(req, "key_id"), no, arena_strndup(req->arena, b.data, b.len)};
    buf_free(&b);
    api_query(req, ST_VERIFY, 3, v, verify_loaded);
}

/* --- attachments ------------------------------------------------------------------------- */

static void attach(http_req_t *req)
{
    const char *id, *name;
    if (id_or_reply(req, &id) || http_query_or_reply(req, "filename", &name)) return;
    const unsigned char *data = (const unsigned char *)req->body;
    size_t n = req->body_len;
    const char *ct = http_header(req, "content-type");
    const char *sniffed = data ? filetype_sniff(data, n) : NULL;
    if (!n) {
        http_problem(req, 400, "send the file as the request body", NULL);
        return;
    }
    if (!sniffed) {
        http_problem(req, 415, "attachments must be PDF, PNG or JPEG files (judged by their content)", NULL);
        return;
    }
    if (!ct || strncasecmp(ct, sniffed, strlen(sniffed)) != 0) {
        http_problemf(req, 415, "the file is %s but was sent as %s", sniffed, ct ? ct : "(no Content-Type)");
        return;
    }
    if (!name || !*name) name = !strcmp(sniffed, "application/pdf") ? "contract.pdf" : "scan";
    if (util_utf8_len(name, strlen(name)) > 200 || strpbrk(name, "/\\\r\n") ||
        util_has_bidi_control(name, strlen(name))) {
        json_t *e = NULL;
        http_error_add(&e, "filename", "invalid",
                       "a file name of at most 200 characters without slashes or bidirectional controls");
        http_problem(req, 422, "invalid file name", e);
        return;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, n, md);
    char *sha = arena_alloc(req->arena, 65);
    util_hex(md, sizeof md, sha);
    /* bytea as hex text: the text protocol cannot carry NUL bytes */
    const char *hex = api_bytea_param(req, data, n);
    api_scope_t s = api_scope(req);
    const char *v[9] = {api_actor(req), req->request_id, id, s.org, s.admin, name, sniffed, sha, hex};
    api_query(req, ST_ATT_ADD, 9, v, api_reply_row_json_created);
}

static void attachments(http_req_t *req)
{
    read_in_scope(req, ST_ATT_LIST, api_reply_row_json);
}

static void attachment_loaded(http_req_t *req, PGresult *res)
{
    if (!PQntuples(res)) {
        http_problem(req, 404, "no such attachment", NULL);
        return;
    }
    size_t n;
    unsigned char *data = api_bytea_value(req, PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2), &n);
    if (!data) {
        http_problem(req, 500, "stored file is unreadable", NULL);
        return;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    char sha[65];
    SHA256(data, n, md);
    util_hex(md, sizeof md, sha);
    if (strcmp(sha, PQgetvalue(res, 0, 3)) != 0) {
        log_msg(LOG_ERROR, req->request_id, "attachment %s of contract %s fails its SHA-256 check", req->params[1],
                req->params[0]);
        http_problem(req, 500, "the stored file does not match its recorded SHA-256: it was changed outside the system",
                     NULL);
        return;
    }
    char b64[64];
    util_b64url_encode(md, sizeof md, b64);
    for (char *p = b64; *p; p++) *p = (char)(*p == '-' ? '+' : *p == '_' ? '/' : *p);
    http_add_header(req, "Repr-Digest", arena_printf(req->arena, "sha-256=:%s=:", b64));
    /* RFC 6266/8187: the stored name, percent-encoded */
    buf_t fn;
    buf_init(&fn);
    for (const unsigned char *p = (const unsigned char *)PQgetvalue(res, 0, 0); *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr(".-_", *p))
            buf_putc(&fn, (char)*p);
        else
            buf_printf(&fn, "%%%02X", *p);
    }
    http_add_header(req, "Content-Disposition",
                    arena_printf(req->arena, "attachment; filename*=UTF-8''%s", fn.data ? fn.data : "file"));
    buf_free(&fn);
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    http_reply(req, 200, PQgetvalue(res, 0, 1), data, n);
}

/* GET or DELETE of one attachment: the contract and attachment ids from the path. */
static void attachment_one(http_req_t *req)
{
    const char *id, *aid;
    if (id_or_reply(req, &id) || api_id_param_or_reply(req, 1, "attachment", &aid)) return;
    api_scope_t s = api_scope(req);
    if (req->method == HTTP_DELETE) {
        const char *v[6] = {api_actor(req), req->request_id, id, s.org, s.admin, aid};
        api_query(req, ST_ATT_DEL, 6, v, api_reply_no_content);
    } else {
        const char *v[6] = {id, s.org, s.office, s.region, s.admin, aid};
        api_query(req, ST_ATT_GET, 6, v, attachment_loaded);
    }
}

#define PARTY (ROLE_MEMBER | ROLE_BROKER | ROLE_ADMIN)
#define READERS (ROLE_MEMBER | ROLE_BROKER | ROLE_OFFICER | ROLE_BUREAU | ROLE_ADMIN)
#define OFFICER (ROLE_OFFICER | ROLE_ADMIN)

static route_t ROUTES[] = {
    {HTTP_GET, "/api/v1/contracts", list, 0, READERS},
    {HTTP_POST, "/api/v1/contracts", create, ROUTE_JSON_BODY, ROLE_MEMBER | ROLE_ADMIN},
    {HTTP_GET, "/api/v1/contracts/{id}", get, 0, READERS},
    {HTTP_PATCH, "/api/v1/contracts/{id}", update, ROUTE_JSON_BODY, ROLE_MEMBER | ROLE_ADMIN},
    {HTTP_DELETE, "/api/v1/contracts/{id}", del, 0, ROLE_MEMBER | ROLE_ADMIN},
    {HTTP_POST, "/api/v1/contracts/{id}/submit", submit, 0, ROLE_MEMBER | ROLE_ADMIN},
    {HTTP_POST, "/api/v1/contracts/{id}/return", do_return, ROUTE_JSON_BODY, OFFICER},
    {HTTP_POST, "/api/v1/contracts/{id}/refuse", refuse, ROUTE_JSON_BODY, OFFICER},
    {HTTP_POST, "/api/v1/contracts/{id}/register", do_register, 0, OFFICER},
    {HTTP_POST, "/api/v1/contracts/{id}/amend", amend, ROUTE_JSON_BODY, ROLE_MEMBER | OFFICER},
    {HTTP_POST, "/api/v1/contracts/{id}/cancel", cancel, ROUTE_JSON_BODY, ROLE_MEMBER | OFFICER},
    {HTTP_GET, "/api/v1/contracts/{id}/changes", changes_list, 0, READERS},
    {HTTP_GET, "/api/v1/contracts/{id}/payments", payments_list, 0, READERS},
    {HTTP_POST, "/api/v1/contracts/{id}/payments", payments_add, ROUTE_JSON_BODY, ROLE_MEMBER | OFFICER},
    {HTTP_GET, "/api/v1/contracts/{id}/certificate", certificate, 0, READERS},
    {HTTP_GET, "/api/v1/registry/queue", queue, 0, OFFICER},
    {HTTP_GET, "/api/v1/contracts/{id}/attachments", attachments, 0, READERS},
    {HTTP_POST, "/api/v1/contracts/{id}/attachments", attach, ROUTE_RAW_BODY, ROLE_MEMBER | ROLE_ADMIN},
    {HTTP_GET, "/api/v1/contracts/{id}/attachments/{aid}", attachment_one, 0, READERS},
    {HTTP_DELETE, "/api/v1/contracts/{id}/attachments/{aid}", attachment_one, 0, ROLE_MEMBER | ROLE_ADMIN},
    {HTTP_GET, "/api/v1/certificates/keys", keys, 0, 0},
    {HTTP_POST, "/api/v1/certificates/verify", verify, ROUTE_JSON_BODY, 0},
    {HTTP_GET, "/api/v1/certificates/{registration_no}", public_facts, 0, 0},
};

void api_contracts_init(void)
{
    ST_LIST = db_stmt_register_read(
        "SELECT items, next_key, total FROM contract_search($1::bigint, $2::bigint, $3, $4::boolean, $5, $6,"
        " ARRAY(SELECT jsonb_array_elements_text($7::jsonb)), $8, $9::bigint, $10, $11::int, $12, $13::bigint,"
        " $14::bigint, $15::boolean, $16::bigint, $17, $18, $19::int)",
        19);
    ST_GET = db_stmt_register_read(
        "SELECT (contract_json(c) || CASE WHEN $3::bigint IS NOT NULL OR $5::boolean THEN"
        " jsonb_build_object('flags', contract_flags(c)) ELSE '{}' END)::text FROM contracts c"
        " WHERE c.id = $1::bigint AND contract_visible(c, $2::bigint, $3::bigint, $4, $5::boolean)",
        5);
    ST_CREATE = db_stmt_register("SELECT contract_create($1::bigint, $2, $3::bigint, $4::boolean, $5::jsonb)", 5);
    ST_UPDATE = db_stmt_register(
        "SELECT contract_update($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean, $6::int, $7::jsonb)", 7);
    ST_DELETE = db_stmt_register("SELECT contract_delete($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean)", 5);
    ST_SUBMIT = db_stmt_register("SELECT contract_submit($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean)", 5);
    ST_RETURN = db_stmt_register("SELECT contract_return($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean, $6)", 6);
    ST_REFUSE = db_stmt_register("SELECT contract_refuse($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean, $6, $7)",
                                 7);
    ST_REGISTER = db_stmt_register(
        "SELECT contract_register($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean, $6::jsonb)", 6);
    ST_REQ_CHANGE = db_stmt_register(
        "SELECT contract_request_change($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean, $6, $7, $8::jsonb)", 8);
    ST_DECIDE_CHANGE = db_stmt_register(
        "SELECT contract_decide_change($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean, $6, $7::bigint, $8, $9)",
        9);
    ST_CHANGES = db_stmt_register_read(
        api_list_sql(
            "(SELECT json_agg(json_build_object('id', x.id, 'kind', x.kind, 'status', x.status,"
            " 'reason', x.reason, 'changes', x.changes, 'requested_by', x.requested_by,"
            " 'requested_at', x.requested_at, 'decided_by', x.decided_by, 'decided_at', x.decided_at,"
            " 'decision_note', x.decision_note) ORDER BY x.id) FROM contract_changes x WHERE x.contract_id = c.id)",
            "",
            "FROM contracts c WHERE c.id = $1::bigint AND contract_visible(c, $2::bigint, $3::bigint, $4, $5::boolean)"),
        5);
    ST_PAY_ADD = db_stmt_register(
        "SELECT contract_add_payment($1::bigint, $2, $3::bigint, $4::bigint, $5::bigint, $6::boolean, $7::bigint,"
        " $8::date, $9)",
        9);
    ST_PAY_LIST = db_stmt_register_read(
        api_list_sql(
            "(SELECT json_agg(to_jsonb(p) ORDER BY p.received_on, p.id) FROM contract_payments p"
            " WHERE p.contract_id = c.id)",
            ", 'received_amount_fen', c.received_amount_fen, 'contract_amount_fen', c.contract_amount_fen",
            "FROM contracts c WHERE c.id = $1::bigint AND contract_visible(c, $2::bigint, $3::bigint, $4, $5::boolean)"),
        5);
    /* calendar: the years without a confirmed calendar (this one and the
     * next) and how many deadlines here were counted on one — the warning
     * the queue shows */
    ST_QUEUE = db_stmt_register_read(
        api_list_sql(
            "json_agg(q.j ORDER BY q.overdue DESC, q.due_on, q.submitted_at)",
            ", 'calendar', calendar_warning(CASE WHEN NOT $2::boolean THEN $1::bigint END)",
            "FROM (SELECT c.due_on, c.submitted_at, c.due_on < today_cn() AS overdue, contract_json(c) ||"
            " jsonb_build_object('flags', contract_flags(c), 'working_days_left', working_days_between(today_cn(),"
            " c.due_on), 'attachments', (SELECT count(*) FROM contract_attachments a"
            " WHERE a.contract_id = c.id)) AS j FROM contracts c WHERE c.status = 'submitted'"
            " AND ($2::boolean OR c.office_id = $1::bigint) ORDER BY c.due_on < today_cn() DESC, c.due_on,"
            " c.submitted_at LIMIT $3::int) q"),
        3);
    ST_CERT = db_stmt_register_read(
        "SELECT c.status, certificate_payload(c)::text, (SELECT key_id FROM signing_keys k WHERE k.office_id = c.office_id"
        " AND k.valid_to IS NULL) FROM contracts c"
        " WHERE c.id = $1::bigint AND contract_visible(c, $2::bigint, $3::bigint, $4, $5::boolean)",
        5);
    /* the same, with the office's seal for the PDF */
    ST_CERT_PDF = db_stmt_register_read(
        "SELECT c.status, certificate_payload(c)::text, (SELECT key_id FROM signing_keys k WHERE k.office_id = c.office_id"
        " AND k.valid_to IS NULL), (SELECT s.png FROM office_seals s WHERE s.office_id = c.office_id) FROM contracts c"
        " WHERE c.id = $1::bigint AND contract_visible(c, $2::bigint, $3::bigint, $4, $5::boolean)",
        5);
    ST_PUBLIC = db_stmt_register_replica(
        "SELECT json_build_object('registration_no', c.registration_no, 'status', c.status,"
        " 'registered_on', (c.registered_at AT TIME ZONE 'Asia/Shanghai')::date, 'cancelled_at', c.cancelled_at,"
        " 'title', c.title, 'contract_type', c.contract_type, 'contract_type_label', code_label('contract_types', c.contract_type),"
        " 'contract_subtype', c.contract_subtype, 'contract_subtype_label', code_label('contract_types', c.contract_subtype),"
        " 'seller_name', c.seller_name, 'buyer_name', c.buyer_name, 'contract_amount_fen', c.contract_amount_fen,"
        " 'technical_amount_fen', c.technical_amount_fen, 'imported', c.import_batch_id IS NOT NULL,"
        " 'office', (SELECT json_build_object('id', f.id, 'name', f.name,"
        " 'region_code', f.region_code) FROM registry_offices f WHERE f.id = c.office_id))::text"
        " FROM contracts c WHERE c.registration_no = $1",
        1);
    ST_KEYS = db_stmt_register_replica(
        "SELECT json_build_object('items', coalesce(json_agg(json_build_object('key_id', k.key_id, 'office_id', k.office_id,"
        " 'public_key', translate(rtrim(encode(k.public_key, 'base64'), '='), '+/', '-_'), 'public_key_pem', k.public_key_pem,"
        " 'valid_from', k.valid_from, 'valid_to', k.valid_to) ORDER BY k.office_id, k.valid_from), '[]'))::text"
        " FROM signing_keys k",
        0);
    /* key, its office, whether the presented payload is the current one, registration status */
    ST_VERIFY = db_stmt_register_read(
        "SELECT (SELECT translate(rtrim(encode(public_key, 'base64'), '='), '+/', '-_') FROM signing_keys WHERE key_id = $1),"
        " (SELECT office_id FROM signing_keys WHERE key_id = $1),"
        " (SELECT certificate_payload(c)::jsonb = $3::jsonb FROM contracts c WHERE c.registration_no = $2),"
        " (SELECT status FROM contracts WHERE registration_no = $2)",
        3);
    ST_ATT_ADD = db_stmt_register(
        "SELECT attachment_add($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean, $6, $7, $8, $9::bytea)", 9);
    ST_ATT_LIST = db_stmt_register_read(
        api_list_sql(
            "(SELECT json_agg(attachment_json(a) ORDER BY a.id) FROM contract_attachments a"
            " WHERE a.contract_id = c.id)",
            "",
            "FROM contracts c WHERE c.id = $1::bigint AND contract_visible(c, $2::bigint, $3::bigint, $4, $5::boolean)"),
        5);
    ST_ATT_GET = db_stmt_register_read(
        "SELECT a.filename, a.content_type, a.data, a.sha256 FROM contract_attachments a JOIN contracts c ON c.id = a.contract_id"
        " WHERE c.id = $1::bigint AND a.id = $6::bigint AND contract_visible(c, $2::bigint, $3::bigint, $4, $5::boolean)",
        6);
    ST_ATT_DEL = db_stmt_register(
        "SELECT attachment_delete($1::bigint, $2, $3::bigint, $4::bigint, $5::boolean, $6::bigint)", 6);
    router_add(ROUTES, ARRAY_LEN(ROUTES));
}
