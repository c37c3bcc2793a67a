/* api.h — what every resource module shares: database calls that answer
 * errors themselves ("…OrReply"), body-field checks, and module init hooks. */
#ifndef YZ_API_H
#define YZ_API_H

#include "db/db.h"
#include "domain/validate.h"
#include "http/http.h"

/* Each worker's database pools (its slot, http_set_worker_slot): the
 * primary's, and a read replica's or NULL.  api_pools_new is the slot maker
 * main.c hands the HTTP layer. */
void *api_pools_new(struct event_base *base, int index);
db_pool_t *api_db(worker_t *w);
db_pool_t *api_db_replica(worker_t *w);
/* Prometheus text of the database pools of every worker (/metrics). */
void api_db_metrics_render(buf_t *out);

typedef void (*api_row_cb)(http_req_t *req, PGresult *res);

/* Run a prepared statement for req.  On success cb(req, res); on any
 * failure the problem reply is sent here (SQLSTATE → HTTP in one place). */
void api_query(http_req_t *req, int stmt, int n, const char *const *vals, api_row_cb cb);
/* As api_query, but cb also gets failures: st != DB_OK (res may be NULL). */
typedef void (*api_any_cb)(http_req_t *req, db_status_t st, PGresult *res);
void api_query_any(http_req_t *req, int stmt, int n, const char *const *vals, api_any_cb cb);
/* Map a database failure to the right problem reply. */
void api_reply_db_error(http_req_t *req, db_status_t st, PGresult *res);
/* Reply with column 0 of row 0 as JSON, or 404 when there is no row. */
void api_reply_row_json(http_req_t *req, PGresult *res);
void api_reply_row_json_status(http_req_t *req, PGresult *res, int status);
/* ... with 201 Created: the callback of a write that makes a row without a version. */
void api_reply_row_json_created(http_req_t *req, PGresult *res);

/* Body fields. */
/* F_NUMBER_OR_NULL: an integer or null; F_REAL_OR_NULL: any number or null */
typedef enum {
    F_STRING,
    F_INT,
    F_BOOL,
    F_OBJECT,
    F_ARRAY,
    F_NUMBER_OR_NULL,
    F_REAL_OR_NULL,
    F_STRING_OR_NULL,
    F_ANY
} ftype_t;
typedef struct {
    const char *name;
    ftype_t type;
    bool required;
} field_t;
/* The spec is the one home of a body's field names, JSON types and required
 * ones: build/gen/spec_fields.h (made by server/api/spec_fields.py from
 * api/openapi.yaml) has SPEC_FIELDS(OrgInput), a schema's table as a brace
 * initialiser, and each operation's body table (SPEC_BODIES). */
#include "spec_fields.h"
#define SPEC_FIELDS(schema) SPEC_FIELDS_##schema
/* Reject unknown fields (400), wrong JSON types (400) and missing required
 * fields (422), all in one errors[] list.  0, or -1 after replying. */
int api_fields_or_reply(http_req_t *req, const field_t *fields, size_t n) WUR;
/* api_fields_or_reply with the fields of the route's operation in the spec
 * (its JSON requestBody schema); an operation without one takes no fields. */
int api_body_or_reply(http_req_t *req) WUR;
/* The same rules for an object o (a body, or an object inside one): adds
 * the errors to *errs, each field named prefix + name ("org.name"), and
 * returns 400 (unknown or mistyped), 422 (only required ones missing) or 0. */
int api_fields_check(json_t *o, const char *prefix, const field_t *fields, size_t n, json_t **errs);
const char *api_str(http_req_t *req, const char *name); /* body string or NULL */
/* Adds a 422 error "too_long" for field `name` to *errs when s (may be NULL)
 * has more than max code points. */
void api_check_chars(http_req_t *req, json_t **errs, const char *name, const char *s, size_t max);

/* A text that is given must say something: 422 "required" ("must not be
 * empty") when s is only white space, else api_check_chars. */
void api_check_text(http_req_t *req, json_t **errs, const char *name, const char *s, size_t max);

/* Value checks (domain/validate.h): adds the verdict for field `name` to
 * *errs; true when there was one. */
bool api_check(json_t **errs, const char *name, const verdict_t *v);
/* 0 when errs is NULL, else 422 "some fields are not valid" with errs as
 * its errors[] list (the values a handler checked); returns -1. */
int api_errors_or_reply(http_req_t *req, json_t *errs) WUR;
/* api_errors_or_reply with one error: 422 for field `name`; returns -1. */
int api_bad_field(http_req_t *req, const char *name, const char *code, const char *message);
/* 400 "invalid query parameter" with one error; returns -1. */
int api_bad_param(http_req_t *req, const char *name, const char *code, const char *message);
/* ?q=, a list's search text: 400 too_long above 100 characters; *q NULL
 * when absent or empty.  0, or -1 after replying. */
int api_search_text_or_reply(http_req_t *req, const char **q) WUR;
/* 0 when v is NULL, else api_bad_param with the verdict. */
int api_param_ok_or_reply(http_req_t *req, const char *name, const verdict_t *v) WUR;

/* What the caller may see, as statement parameters: org = a member's or
 * broker's org, office = an officer's, region = a bureau's region root (NULL
 * where it does not apply); admin "true" for admins, staff "true" for
 * reviewers and admins (else "false").  Anonymous callers (optional sign-in)
 * get NULLs and "false".  The SQL applies it: another org's object is 404. */
typedef struct {
    const char *org, *office, *region, *admin, *staff;
} api_scope_t;
api_scope_t api_scope(http_req_t *req);
/* ?region= for statistics and exports: default the bureau's own region (else
 * "000000", the whole country), six digits, and inside a bureau's subtree
 * (403 otherwise).  0, or -1 after replying. */
int api_region_or_reply(http_req_t *req, const char **region) WUR;

/* This year in China (Asia/Shanghai, no daylight saving). */
int api_current_year(void);
/* ?name= as a year (v_year): *out its text, or when absent NULL — or this
 * year, with current.  0, or -1 after replying 400. */
int api_year_or_reply(http_req_t *req, const char *name, bool current, const char **out) WUR;
/* Both, for the statistics and targets: ?year= (default this one) and
 * ?region= (api_region_or_reply).  0, or -1 after replying. */
int api_year_region_or_reply(http_req_t *req, const char **year, const char **region) WUR;
/* A handler's whole work for a figure of a region and year: stmt($1 region,
 * $2 year) answers one row of JSON (api_reply_row_json). */
void api_year_region_read(http_req_t *req, int stmt);

/* Lists: ?limit= (default 20, 1..100) and an opaque signed ?cursor=.
 * The list statements return (items json, next key text or NULL). */
int api_limit_or_reply(http_req_t *req, const char **limit_text) WUR;
int api_cursor_or_reply(http_req_t *req, const char **key) WUR; /* key NULL when absent */
/* Both, for the lists ordered by id whose cursor key is the last id shown:
 * *after NULL when absent (or not an id). */
int api_page_or_reply(http_req_t *req, const char **limit, const char **after) WUR;
/* The signed cursor (util/cursor.h) of a key for this request's route: api_cursor_or_reply() takes it back. */
const char *api_cursor_sign(http_req_t *req, const char *key);
/* The cursor of a list with several sort orders: the key after the sort's
 * letter, "<sort>|<key>", so that a cursor is taken back by its own sort only.
 * api_cursor_sorted_key answers the key of a (verified) cursor of that sort,
 * or NULL when it belongs to another sort (or cursor is NULL). */
const char *api_cursor_sign_sorted(http_req_t *req, char sort, const char *key);
const char *api_cursor_sorted_key(const char *cursor, char sort);
void api_reply_page(http_req_t *req, PGresult *res);
/* The same for a list with sort orders: the next cursor by
 * api_cursor_sign_sorted, and column 2, when not NULL, as "total". */
void api_reply_page_sorted(http_req_t *req, PGresult *res, char sort);
/* If-Match: NULL when absent or "*"; -1 after replying 412 to a malformed one. */
int api_if_match_or_reply(http_req_t *req, const char **version) WUR;
/* Reply with a row (col 0 JSON) and an ETag from its "version" field. */
void api_reply_versioned(http_req_t *req, PGresult *res, int status);
/* api_reply_versioned with 200 / 201, and 204 with no body: the callbacks of most writes. */
void api_reply_versioned_ok(http_req_t *req, PGresult *res);
void api_reply_versioned_created(http_req_t *req, PGresult *res);
void api_reply_no_content(http_req_t *req, PGresult *res);
/* Path parameter i as a positive id (text), or 404 naming `what`; -1 if replied. */
int api_id_param_or_reply(http_req_t *req, int i, const char *what, const char **out) WUR;
/* A JSON value as compact text in the request's arena (a jsonb parameter). */
const char *api_json_text(http_req_t *req, json_t *j);
/* ETag from the "version" field of a JSON document (a row's). */
void api_add_etag(http_req_t *req, const char *json);
/* A rate limit's verdict (the seconds to wait, as text): 0 when "0", else
 * 429 with Retry-After and detail; -1 after replying. */
int api_rate_limited_or_reply(http_req_t *req, const char *retry_after_s, const char *detail) WUR;
/* prefix + nbytes of randomness in base64url, in the arena (invitation codes,
 * webhook secrets); NULL after replying 500 when the system has none. */
const char *api_random_token_or_reply(http_req_t *req, const char *prefix, size_t nbytes);
/* bytea through the text protocol: a file as a statement parameter ("\\x…"
 * in the arena), and a result column back to bytes in the arena (NULL when
 * the text is not hex bytea output). */
const char *api_bytea_param(http_req_t *req, const unsigned char *data, size_t n);
unsigned char *api_bytea_value(http_req_t *req, const char *text, size_t len, size_t *n);
/* The caller's id and request id, as statement parameters. */
const char *api_actor(http_req_t *req);

/* Cheap checks of codes before a query (codes.c).  A reference names a
 * field, its code list ("domains", …, or "regions" for GB/T 2260 codes; list2
 * a second list the code may belong to instead) and the value (NULL: skip).
 * status 400 (search filters: any code of the list) or 422 (writes: active
 * codes only).  Calls cont(req) when every code is known — at once when the
 * lists loaded at start have them, else after a lookup that cannot fail — or
 * replies the problem the SQL check would have given.  Uses req->ctx until
 * cont runs. */
typedef struct {
    const char *field, *list, *list2, *value;
} api_code_ref_t;
void api_codes_check(http_req_t *req, const api_code_ref_t *refs, int n, int status, void (*cont)(http_req_t *));
/* A write body's references, gathered in the order its SQL function checks
 * them (grows in the request's arena; start from {0}). */
typedef struct {
    api_code_ref_t *refs;
    int n, cap;
} api_code_refs_t;
/* Adds field → value of list (or list2); a NULL value adds nothing. */
void api_code_ref(http_req_t *req, api_code_refs_t *r, const char *field, const char *list, const char *list2,
                  const char *value);
/* The same for the string key of object o, named prefix+key. */
void api_code_ref_key(http_req_t *req, api_code_refs_t *r, const char *prefix, json_t *o, const char *key,
                      const char *list);
/* A write's cheap check: api_codes_check with 422 (active codes only), then
 * cont.  replayable: the route honours Idempotency-Key, and a request with
 * one goes to cont as it is (a replay must get its first answer even if a
 * code was retired since); on other routes the header changes nothing. */
void api_codes_check_write(http_req_t *req, const api_code_refs_t *r, bool replayable, void (*cont)(http_req_t *));
/* Load every code and region, at start (blocking connection, before the workers). */
int api_codes_load(PGconn *c) WUR;

/* Statement text made at start-up (kept for the life of the process, as
 * db_stmt_register() keeps the pointer); aborts when out of memory. */
const char *api_sql_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A list statement's text from the query of its rows: rows selects (id, j)
 * — j the item's JSON — filtered by the cursor ("$n::bigint IS NULL OR id <
 * $n::bigint") and ORDER BY id DESC, without LIMIT; $limit is the page size.
 * The statement returns the page's items as a JSON array and the next key
 * (the last id shown) when more follow: what api_reply_page() sends. */
const char *api_page_sql(const char *rows, int limit);
/* The same, oldest first: the cursor "$n::bigint IS NULL OR id > $n::bigint",
 * ORDER BY id, the next key the largest id shown. */
const char *api_page_sql_ascending(const char *rows, int limit);
/* A whole-list statement's text (every item on one page, next_cursor null):
 * items is the JSON array (a json_agg, NULL when there are no rows), more
 * any further ", 'key', value" pairs of the answer or "", from the rest of the
 * statement (FROM … WHERE …).  The answer is one text column. */
const char *api_list_sql(const char *items, const char *more, const char *from);

/* Module init: register statements and routes before the server starts. */
void api_ops_init(void);
void api_ops_start(void); /* after http_start: the timer that reads the database's metrics */
void api_codes_init(void);
void api_auth_init(void);
void api_accounts_init(void);
void api_audit_init(void);
void api_contracts_init(void);
void api_stats_init(void);
void api_targets_init(void);
void api_export_init(void);
void api_imports_init(void);
void api_documents_init(void);
/* The certificate as PDF (api/documents.c): drawn on the document pool and
 * sent; steals payload.  key_id NULL: not signed here (历史导入).  seal: the
 * office's PNG in req's arena, or NULL. */
void api_certificate_pdf(http_req_t *req, json_t *payload, const char *key_id, const char *signature, const char *url,
                         const unsigned char *seal, size_t seal_len);
/* `yizhan import contracts FILE [--dry-run]`: 0 imported (or a clean dry
 * run), 1 problems or a failure (nothing written), 2 usage. */
int api_import_cli(int argc, char **argv);
void api_deals_init(void);
void api_notifications_init(void);
void api_deals_start(void); /* after http_start: the sweeper */
/* the e-mail thread (mail.c); 0 without YIZHAN_SMTP_URL (nothing is sent), -1 on a bad configuration */
int api_mail_start(void);
void api_mail_metrics_render(buf_t *out);
void api_subsidies_init(void);
void api_registers_init(void);
void api_market_init(void);
/* The marketplace's background thread (webhook deliveries, expiry sweeps);
 * call once after the API is registered.  0, or -1 if it could not start. */
int api_market_start(void) WUR;

#endif
