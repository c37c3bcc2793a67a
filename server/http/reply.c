/* reply.c — response helpers: JSON (gzipped over 1 KB when the client
 * accepts it), RFC 9457 problems, headers, Accept-Encoding. */
#include "http/server_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* Every status this server sends, in one table: the reason phrase, the
 * problem type, and (by position) the slot /metrics counts it in. */
static const struct {
    int code;
    const char *text, *slug;
} STATUS[] = {
    {100, "Continue", NULL},
    {200, "OK", NULL},
    {201, "Created", NULL},
    {202, "Accepted", NULL},
    {204, "No Content", NULL},
    {304, "Not Modified", NULL},
    {400, "Bad Request", "bad-request"},
    {401, "Unauthorized", "unauthorized"},
    {403, "Forbidden", "forbidden"},
    {404, "Not Found", "not-found"},
    {405, "Method Not Allowed", "method-not-allowed"},
    {408, "Request Timeout", "request-timeout"},
    {409, "Conflict", "conflict"},
    {410, "Gone", "gone"},
    {411, "Length Required", "length-required"},
    {412, "Precondition Failed", "precondition-failed"},
    {413, "Content Too Large", "content-too-large"},
    {415, "Unsupported Media Type", "unsupported-media-type"},
    {422, "Unprocessable Content", "validation-failed"},
    {428, "Precondition Required", "precondition-required"},
    {429, "Too Many Requests", "too-many-requests"},
    {431, "Request Header Fields Too Large", "header-fields-too-large"},
    {500, "Internal Server Error", "internal-error"},
    {501, "Not Implemented", "not-implemented"},
    {503, "Service Unavailable", "service-unavailable"},
    {504, "Gateway Timeout", "timeout"},
    {505, "HTTP Version Not Supported", "http-version-not-supported"},
};

int http_status_slot(int status)
{
    for (int i = 0; i < (int)ARRAY_LEN(STATUS); i++)
        if (STATUS[i].code == status) return i;
    return -1;
}

int http_status_count(void)
{
    return (int)ARRAY_LEN(STATUS);
}
int http_status_at(int slot)
{
    return STATUS[slot].code;
}

const char *http_status_text(int s)
{
    int i = http_status_slot(s);
    return i < 0 ? "Unknown" : STATUS[i].text;
}

static const char *problem_slug(int s)
{
    int i = http_status_slot(s);
    return i < 0 || !STATUS[i].slug ? "internal-error" : STATUS[i].slug;
}

const char *http_header(const http_req_t *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (!strcasecmp(req->headers[i].name, name)) return req->headers[i].value;
    return NULL;
}

void http_add_header(http_req_t *req, const char *name, const char *value)
{
    buf_printf(&req->resp_headers, "%s: %s\r\n", name, value);
}

/* --- content codings ---------------------------------------------------- */

/* The q-value of one list member's parameters ("; q=0.5"), in thousandths;
 * 1000 without a q, -1 when the q is malformed (the member is then ignored). */
static int q_of(const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t')) p++;
        const char *name = p;
        while (p < end && *p != '=' && *p != ';') p++;
        if (p - name == 1 && (*name == 'q' || *name == 'Q') && p < end && *p == '=') {
            p++;
            while (p < end && (*p == ' ' || *p == '\t')) p++;
            int q = -1;
            if (p < end && *p == '0') {
                int scale = 100;
                q = 0;
                p++;
                if (p < end && *p == '.')
                    for (p++; p < end && *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10) q += (*p - '0') * scale;
            } else if (p < end && *p == '1') {
                q = 1000;
                p++;
                if (p < end && *p == '.')
                    for (p++; p < end && *p == '0'; p++) {
                    }
            }
            while (p < end && (*p == ' ' || *p == '\t')) p++;
            return p == end || *p == ';' ? q : -1;
        }
        while (p < end && *p != ';') p++;
    }
    return 1000;
}

int http_accept_pick(const char *header, unsigned available)
{
    /* q of br, gzip, identity, "*" as the client listed them (-1: not listed) */
    int q[4] = {-1, -1, -1, -1};
    const char *p = header ? header : "";
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!*p) break;
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') p++;
        size_t n = (size_t)(p - tok);
        const char *mend = strchr(p, ',');
        if (!mend) mend = p + strlen(p);
        int v = q_of(p, mend);
        int slot = -1;
        if (n == 2 && !strncasecmp(tok, "br", 2)) slot = 0;
        else if ((n == 4 && !strncasecmp(tok, "gzip", 4)) || (n == 6 && !strncasecmp(tok, "x-gzip", 6)))
            slot = 1;
        else if (n == 8 && !strncasecmp(tok, "identity", 8))
            slot = 2;
        else if (n == 1 && *tok == '*')
            slot = 3;
        if (slot >= 0 && v >= 0) q[slot] = v;
        p = mend;
    }
    /* a coding the client did not name takes "*"'s q (no "*": not acceptable);
     * identity not named is acceptable, after anything the client named */
    int qbr = q[0] >= 0 ? q[0] : q[3] >= 0 ? q[3] : 0;
    int qgz = q[1] >= 0 ? q[1] : q[3] >= 0 ? q[3] : 0;
    int qid = q[2] >= 0 ? q[2] : 1;
    int best = HTTP_ENC_IDENTITY, bq = qid;
    if ((available & (1u << HTTP_ENC_GZIP)) && qgz > 0 && qgz >= bq) best = HTTP_ENC_GZIP, bq = qgz;
    if ((available & (1u << HTTP_ENC_BR)) && qbr > 0 && qbr >= bq) best = HTTP_ENC_BR;
    return best;
}

/* Per thread: one deflate stream (gzip framing), reset after each answer --
 * deflateInit2 allocates ~200 KB, too much to do per request -- and the
 * gzipped forms of the answers it sent last.  Level 1 and memLevel 5 (an
 * 8 KB hash table, cleared at every reset, instead of 64 KB): on result
 * documents (1.5 KB of JSON, mostly Chinese) levels 1 to 9 all give
 * 0.62-0.63 of the size, and level 1 with memLevel 5 costs the fewest
 * instructions (~210,000 a document under callgrind; 260,000 at memLevel 8).
 *
 * The kept forms are addressed by their content: an answer's JSON is hashed
 * (~1 % of deflate's cost), and a slot holding the very same bytes (compared
 * in full) gives its gzip without deflate.  Nothing goes stale -- a result
 * that changes renders other bytes, which miss -- so no invalidation is
 * needed.  Hot answers (code lists, a region, a popular result, the first
 * page of a browse) are then gzipped once per thread.  A direct-mapped table
 * with a byte budget per thread: a new form replaces its slot's occupant, and
 * a clock hand frees others while the budget is exceeded. */
#define GZC_SLOTS 1024u
#define GZC_BUDGET ((size_t)4 << 20)
#define GZC_MAX ((size_t)256 << 10) /* larger answers are not kept */

typedef struct {
    uint64_t h;
    size_t len, zlen;
    char data[]; /* len bytes of JSON, then zlen of gzip */
} gzc_entry_t;

typedef struct {
    z_stream z;
    gzc_entry_t *slot[GZC_SLOTS];
    size_t bytes;
    unsigned hand;
} gz_thread_t;

static pthread_key_t g_zkey;
static pthread_once_t g_zonce = PTHREAD_ONCE_INIT;
static atomic_ullong g_gzc_hits, g_gzc_misses;

static void z_free(void *p)
{
    gz_thread_t *t = p;
    deflateEnd(&t->z);
    for (unsigned i = 0; i < GZC_SLOTS; i++) free(t->slot[i]);
    free(t);
}

static void z_key(void)
{
    if (pthread_key_create(&g_zkey, z_free) != 0) abort();
}

static gz_thread_t *gz_of_thread(void)
{
    pthread_once(&g_zonce, z_key);
    gz_thread_t *t = pthread_getspecific(g_zkey);
    if (t) return t;
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (deflateInit2(&t->z, HTTP_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 5, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(t);
        return NULL;
    }
    if (pthread_setspecific(g_zkey, t) != 0) {
        z_free(t);
        return NULL;
    }
    return t;
}

static size_t deflate_into(z_stream *z, arena_t *a, const void *in, size_t len, char **out)
{
    if (len > UINT_MAX / 2) return 0;
    size_t cap = deflateBound(z, (uLong)len);
    char *o = arena_alloc(a, cap);
    if (!o) return 0;
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)len;
    z->next_out = (Bytef *)o;
    z->avail_out = (uInt)cap;
    int rc = deflate(z, Z_FINISH);
    size_t n = z->total_out;
    deflateReset(z);
    if (rc != Z_STREAM_END) return 0;
    *out = o;
    return n;
}

size_t http_gzip(arena_t *a, const void *in, size_t len, char **out)
{
    gz_thread_t *t = gz_of_thread();
    return t ? deflate_into(&t->z, a, in, len, out) : 0;
}

/* 64-bit hash of a buffer, a word at a time (multiply and xor-shift) */
static uint64_t gzc_hash(const unsigned char *p, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    for (; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 29;
    return h * 0xc4ceb9fe1a85ec53ull;
}

static void gzc_drop(gz_thread_t *t, unsigned i)
{
    if (!t->slot[i]) return;
    t->bytes -= sizeof(gzc_entry_t) + t->slot[i]->len + t->slot[i]->zlen;
    free(t->slot[i]);
    t->slot[i] = NULL;
}

size_t http_gzip_kept(arena_t *a, const char *json, size_t len, char **out)
{
    gz_thread_t *t = gz_of_thread();
    if (!t) return 0;
    uint64_t h = gzc_hash((const unsigned char *)json, len);
    unsigned i = (unsigned)(h % GZC_SLOTS);
    gzc_entry_t *e = t->slot[i];
    if (e && e->h == h && e->len == len && !memcmp(e->data, json, len)) {
        atomic_fetch_add_explicit(&g_gzc_hits, 1, memory_order_relaxed);
        *out = e->data + len; /* http_reply copies it */
        return e->zlen;
    }
    atomic_fetch_add_explicit(&g_gzc_misses, 1, memory_order_relaxed);
    size_t n = deflate_into(&t->z, a, json, len, out);
    if (!n || len > GZC_MAX) return n;
    size_t need = sizeof *e + len + n;
    gzc_drop(t, i);
    for (unsigned k = 0; k < GZC_SLOTS && t->bytes + need > GZC_BUDGET; k++, t->hand = (t->hand + 1) % GZC_SLOTS)
        gzc_drop(t, t->hand);
    if (t->bytes + need > GZC_BUDGET || !(e = malloc(need))) return n;
    e->h = h;
    e->len = len;
    e->zlen = n;
    memcpy(e->data, json, len);
    memcpy(e->data + len, *out, n);
    t->slot[i] = e;
    t->bytes += need;
    return n;
}

void http_gzip_metrics(buf_t *out)
{
    buf_printf(out,
               "# HELP yizhan_json_gzip_total JSON answers gzipped: from a form kept by the thread (hit) or by deflate"
               " (miss).\n"
               "# TYPE yizhan_json_gzip_total counter\n"
               "yizhan_json_gzip_total{kept=\"hit\"} %llu\n"
               "yizhan_json_gzip_total{kept=\"miss\"} %llu\n",
               (unsigned long long)atomic_load(&g_gzc_hits), (unsigned long long)atomic_load(&g_gzc_misses));
}

void http_reply_json(http_req_t *req, int status, const char *json, size_t len)
{
    if (len > HTTP_GZIP_MIN) {
        /* the answer depends on Accept-Encoding: caches must know (RFC 9110 12.5.5) */
        http_add_header(req, "Vary", "Accept-Encoding");
        char *z;
        size_t n;
        if (http_accept_pick(http_header(req, "accept-encoding"), 1u << HTTP_ENC_GZIP) == HTTP_ENC_GZIP &&
            (n = http_gzip_kept(req->arena, json, len, &z)) > 0 && n < len) {
            http_add_header(req, "Content-Encoding", "gzip");
            http_reply(req, status, "application/json", z, n);
            return;
        }
    }
    http_reply(req, status, "application/json", json, len);
}

void http_reply_json_t(http_req_t *req, int status, json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s) {
        http_problem(req, 500, "could not encode the response", NULL);
        return;
    }
    http_reply_json(req, status, s, strlen(s));
    free(s);
}

void http_error_add(json_t **errors, const char *field, const char *code, const char *message)
{
    if (!*errors) *errors = json_array();
    json_array_append_new(*errors, json_pack("{s:s, s:s, s:s}", "field", field, "code", code, "message", message));
}

void http_problem(http_req_t *req, int status, const char *detail, json_t *errors)
{
    if ((status == 503 || status == 429) &&
        !(req->resp_headers.data && strcasestr(req->resp_headers.data, "Retry-After:")))
        http_add_header(req, "Retry-After", "1");
    /* RFC 9110: every 401 names the scheme to use */
    if (status == 401 && !(req->resp_headers.data && strcasestr(req->resp_headers.data, "WWW-Authenticate:")))
        http_add_header(req, "WWW-Authenticate", "Bearer");
    /* 5xx other than these would claim a fault we did not have */
    if (status >= 500 && status != 501 && status != 503 && status != 504 && status != 505) status = 500;
    json_t *p = json_object();
    char type[96];
    snprintf(type, sizeof type, "urn:yizhan:problem:%s", problem_slug(status));
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(http_status_text(status)));
    json_object_set_new(p, "status", json_integer(status));
    json_object_set_new(p, "detail", json_string(detail ? detail : http_status_text(status)));
    if (req->path && util_utf8_valid(req->path, strlen(req->path)))
        json_object_set_new(p, "instance", json_string(req->path));
    json_object_set_new(p, "request_id", json_string(req->request_id));
    if (errors) json_object_set_new(p, "errors", errors);
    char *s = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    http_reply(req, status, "application/problem+json", s, s ? strlen(s) : 0);
    free(s);
}

void http_problemf(http_req_t *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_problem(req, status, msg, NULL);
}
