/* static.c — the web front end, API docs and OpenAPI file, served from memory.
 * Files are read once at start (the front end is small and immutable while
 * the server runs), each with a strong ETag, so a request costs a table
 * lookup and a zero-copy evbuffer reference.
 *
 * Text files are also compressed once, gzip (zlib, level 9) and brotli
 * (libbrotlienc, YIZHAN_STATIC_BROTLI_QUALITY: 11), by a thread started here at a low priority
 * (nice +10): brotli at its best quality takes ~5 s of CPU for the 2.2 MB of
 * web/, which must not hold up the start or the event loops.  Until a file's
 * compressed forms are ready it goes out as it is.  A request gets the form
 * its Accept-Encoding prefers (br, then gzip), each with its own ETag
 * ("<hash>-br", "<hash>-gz"), and every compressible file says Vary:
 * Accept-Encoding.  /metrics counts the files done (yizhan_static_files).
 *
 * Every file goes out with the browser's security headers: a
 * Content-Security-Policy that allows no inline script (the one inline
 * element, index.html's import map, is allowed by its SHA-256, computed here
 * at start so an edit of the map cannot break the page; and the certificate
 * page's print button, HTTP_PRINT_HANDLER in http.h), may not be framed
 * (frame-ancestors 'none', and X-Frame-Options for older browsers), nosniff,
 * no Referer, and no camera, microphone, location or payment APIs.  The
 * docs page has Redoc's policy (inline styles, a blob: worker for its search
 * index; web/docs/index.html says why).  The certificate page
 * (api/contracts.c) sends its own. */
#include "http/server_int.h"

#include "config.h"
#include "log.h"

#include <brotli/encode.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

/* One compressed form of a file: published once by the compressor thread. */
typedef struct {
    char *data;
    size_t len;
    char etag[80];
} variant_t;

typedef struct {
    char *url; /* "/index.html", "/docs/index.html" */
    char *data;
    size_t len;
    const char *ctype;
    char etag[72];
    bool text;                   /* worth compressing */
    _Atomic(variant_t *) enc[3]; /* [HTTP_ENC_GZIP], [HTTP_ENC_BR]: NULL until done, or when not smaller */
} sfile_t;

static sfile_t *g_files;
static size_t g_nfiles, g_cap;
static sfile_t g_spec;
/* text files, and those whose compression is finished */
static atomic_int g_ntext, g_compressed;

/* The front end's policy, with script hashes filled in by app_csp_init(). */
static char g_app_csp[1024];
static const char APP_CSP_HEAD[] = "default-src 'self'; script-src 'self'";
/* Preact's style props and ECharts set inline styles; no script can come in that way. */
static const char APP_CSP_TAIL[] =
    "; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self';"
    " worker-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
static const char DOCS_CSP[] =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
    " font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self';"
    " form-action 'none'; frame-ancestors 'none'";
static const char PERMISSIONS[] = "camera=(), microphone=(), geolocation=(), payment=(), usb=()";

static const char *mime_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } M[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".map", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
        {".yaml", "application/yaml"},
        {".md", "text/markdown; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    if (dot)
        for (size_t i = 0; i < sizeof M / sizeof M[0]; i++)
            if (!strcasecmp(dot, M[i].ext)) return M[i].type;
    return "application/octet-stream";
}

static bool is_text(const char *ctype)
{
    return !strncmp(ctype, "text/", 5) || !strcmp(ctype, "application/json") || !strcmp(ctype, "application/yaml") ||
           !strcmp(ctype, "image/svg+xml") || !strcmp(ctype, "image/x-icon");
}

static void set_etag(sfile_t *f)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)f->data, f->len, md);
    char hex[65];
    util_hex(md, 8, hex);
    snprintf(f->etag, sizeof f->etag, "\"%s\"", hex);
}

static void add_file(const char *fs_path, const char *url)
{
    size_t len;
    char *data = util_read_file(fs_path, 64u << 20, &len);
    if (!data) return;
    if (g_nfiles == g_cap) {
        size_t cap = g_cap ? g_cap * 2 : 64;
        sfile_t *more = realloc(g_files, cap * sizeof *g_files);
        if (!more) {
            LOG_E("out of memory loading %s: not served", fs_path);
            free(data);
            return;
        }
        g_files = more;
        g_cap = cap;
    }
    char *u = strdup(url);
    if (!u) {
        LOG_E("out of memory loading %s: not served", fs_path);
        free(data);
        return;
    }
    sfile_t *f = &g_files[g_nfiles++];
    f->url = u;
    f->data = data;
    f->len = len;
    f->ctype = mime_of(url);
    f->text = is_text(f->ctype);
    for (int i = 0; i < 3; i++) atomic_init(&f->enc[i], NULL);
    set_etag(f);
}

static void walk(const char *dir, const char *url_prefix, int depth)
{
    if (depth > 6) return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "node_modules")) continue;
        char p[4096], u[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        snprintf(u, sizeof u, "%s/%s", url_prefix, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) walk(p, u, depth + 1);
        else if (S_ISREG(st.st_mode))
            add_file(p, u);
    }
    closedir(d);
}

static void add_hash(buf_t *out, const char *text);

/* 'sha256-…' of each <script type="importmap"> in html, appended to out.
 * Only import maps: any other inline script stays forbidden. */
static void add_importmap_hashes(const sfile_t *f, buf_t *out)
{
    const char *p = f->data, *end = f->data + f->len;
    static const char OPEN[] = "<script type=\"importmap\">";
    while ((p = memmem(p, (size_t)(end - p), OPEN, sizeof OPEN - 1))) {
        p += sizeof OPEN - 1;
        const char *close = memmem(p, (size_t)(end - p), "</script>", 9);
        if (!close) break;
        char *map = strndup(p, (size_t)(close - p));
        if (map) add_hash(out, map);
        free(map);
        p = close;
    }
}

static const sfile_t *find(const char *url);

static void add_hash(buf_t *out, const char *text)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, strlen(text), md);
    char b64[64];
    EVP_EncodeBlock((unsigned char *)b64, md, sizeof md);
    buf_printf(out, " 'sha256-%s'", b64);
}

static void app_csp_init(void)
{
    buf_t b;
    buf_init(&b);
    buf_puts(&b, APP_CSP_HEAD);
    const sfile_t *index = find("/index.html");
    if (index) add_importmap_hashes(index, &b);
    buf_puts(&b, " 'unsafe-hashes'");
    add_hash(&b, HTTP_PRINT_HANDLER);
    buf_puts(&b, APP_CSP_TAIL);
    snprintf(g_app_csp, sizeof g_app_csp, "%s", b.data);
    buf_free(&b);
}

/* --- compression, once, off the event loops ------------------------------------ */

static variant_t *variant_new(const sfile_t *f, const char *suffix, char *data, size_t len)
{
    variant_t *v = malloc(sizeof *v);
    if (!v) {
        free(data);
        return NULL;
    }
    v->data = data;
    v->len = len;
    snprintf(v->etag, sizeof v->etag, "%.*s-%s\"", (int)strlen(f->etag) - 1, f->etag, suffix);
    return v;
}

static variant_t *gzip_file(const sfile_t *f)
{
    z_stream z = {0};
    if (f->len > UINT32_MAX / 2 || deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
    size_t cap = deflateBound(&z, (uLong)f->len);
    char *out = malloc(cap);
    int rc = Z_STREAM_ERROR;
    if (out) {
        z.next_in = (Bytef *)f->data;
        z.avail_in = (uInt)f->len;
        z.next_out = (Bytef *)out;
        z.avail_out = (uInt)cap;
        rc = deflate(&z, Z_FINISH);
    }
    size_t n = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END || n >= f->len) {
        free(out);
        return NULL;
    }
    return variant_new(f, "gz", out, n);
}

static variant_t *brotli_file(const sfile_t *f)
{
    size_t n = BrotliEncoderMaxCompressedSize(f->len);
    char *out = n ? malloc(n) : NULL;
    if (!out) return NULL;
    if (!BrotliEncoderCompress(g_cfg.static_brotli_quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, f->len,
                               (const uint8_t *)f->data, &n, (uint8_t *)out) ||
        n >= f->len) {
        free(out);
        return NULL;
    }
    return variant_new(f, "br", out, n);
}

static int by_size(const void *a, const void *b)
{
    size_t x = (*(sfile_t *const *)a)->len, y = (*(sfile_t *const *)b)->len;
    return x < y ? -1 : x > y;
}

/* gzip first (fast: ~0.1 s for all of web/), then brotli, smallest files
 * first: the front end's own files are ready long before ECharts and Redoc. */
static void *compress_main(void *arg)
{
    (void)arg;
    /* a nice value is per thread on Linux: the event loops keep theirs */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0) LOG_D("static: setpriority failed");
    size_t n = 0;
    sfile_t **todo = malloc((g_nfiles + 1) * sizeof(sfile_t *));
    if (!todo) return NULL;
    for (size_t i = 0; i < g_nfiles; i++)
        if (g_files[i].text) todo[n++] = &g_files[i];
    if (g_spec.data) todo[n++] = &g_spec;
    qsort(todo, n, sizeof(sfile_t *), by_size);
    uint64_t t0 = util_now_ns();
    size_t in = 0, out_gz = 0, out_br = 0;
    for (size_t i = 0; i < n; i++) {
        variant_t *v = gzip_file(todo[i]);
        atomic_store_explicit(&todo[i]->enc[HTTP_ENC_GZIP], v, memory_order_release);
        in += todo[i]->len;
        out_gz += v ? v->len : todo[i]->len;
    }
    for (size_t i = 0; i < n; i++) {
        variant_t *v = g_cfg.static_brotli_quality ? brotli_file(todo[i]) : NULL;
        atomic_store_explicit(&todo[i]->enc[HTTP_ENC_BR], v, memory_order_release);
        out_br += v ? v->len : todo[i]->len;
        atomic_fetch_add(&g_compressed, 1);
    }
    LOG_I("static: %zu text files compressed in %.1f s: %zu KB, gzip %zu KB, brotli %zu KB", n,
          (double)(util_now_ns() - t0) / 1e9, in >> 10, out_gz >> 10, out_br >> 10);
    free(todo);
    return NULL;
}

static void compress_start(void)
{
    int n = g_spec.data ? 1 : 0;
    for (size_t i = 0; i < g_nfiles; i++) n += g_files[i].text;
    atomic_store(&g_ntext, n);
    if (!n) return;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, compress_main, NULL) != 0)
        LOG_W("static: no compressor thread; files go out as they are");
    pthread_attr_destroy(&a);
}

void static_metrics(buf_t *out)
{
    buf_printf(out,
               "# HELP yizhan_static_files Static text files, and those whose gzip and brotli forms are done.\n"
               "# TYPE yizhan_static_files gauge\n"
               "yizhan_static_files{state=\"text\"} %d\n"
               "yizhan_static_files{state=\"compressed\"} %d\n",
               atomic_load(&g_ntext), atomic_load(&g_compressed));
}

int static_load(void)
{
    walk(g_cfg.web_root, "", 0);
    app_csp_init();
    size_t len;
    g_spec.data = util_read_file(g_cfg.api_spec, 16u << 20, &len);
    if (g_spec.data) {
        g_spec.url = "/api/openapi.yaml";
        g_spec.len = len;
        g_spec.ctype = "application/yaml";
        g_spec.text = true;
        set_etag(&g_spec);
    } else {
        LOG_W("API spec %s not readable; /api/openapi.yaml will answer 404", g_cfg.api_spec);
    }
    LOG_I("loaded %zu static files from %s", g_nfiles, g_cfg.web_root);
    compress_start();
    return 0;
}

static void serve(http_req_t *req, const sfile_t *f, const char *cache)
{
    const char *etag = f->etag, *data = f->data;
    size_t len = f->len;
    if (f->text) {
        http_add_header(req, "Vary", "Accept-Encoding");
        variant_t *gz = atomic_load_explicit(&f->enc[HTTP_ENC_GZIP], memory_order_acquire);
        variant_t *br = atomic_load_explicit(&f->enc[HTTP_ENC_BR], memory_order_acquire);
        unsigned have = (gz ? 1u << HTTP_ENC_GZIP : 0) | (br ? 1u << HTTP_ENC_BR : 0);
        int pick = have ? http_accept_pick(http_header(req, "accept-encoding"), have) : HTTP_ENC_IDENTITY;
        const variant_t *v = pick == HTTP_ENC_BR ? br : pick == HTTP_ENC_GZIP ? gz : NULL;
        if (v) {
            http_add_header(req, "Content-Encoding", pick == HTTP_ENC_BR ? "br" : "gzip");
            etag = v->etag;
            data = v->data;
            len = v->len;
        }
    }
    http_add_header(req, "ETag", etag);
    http_add_header(req, "Cache-Control", cache);
    http_add_header(req, "Content-Security-Policy", !strncmp(f->url, "/docs/", 6) ? DOCS_CSP : g_app_csp);
    http_add_header(req, "X-Frame-Options", "DENY");
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    http_add_header(req, "Referrer-Policy", "no-referrer");
    http_add_header(req, "Permissions-Policy", PERMISSIONS);
    const char *inm = http_header(req, "if-none-match");
    if (inm && strstr(inm, etag)) {
        http_reply(req, 304, NULL, NULL, 0);
        return;
    }
    http_reply_static(req, 200, f->ctype, data, len);
}

static const sfile_t *find(const char *url)
{
    for (size_t i = 0; i < g_nfiles; i++)
        if (!strcmp(g_files[i].url, url)) return &g_files[i];
    return NULL;
}

bool static_try(http_req_t *req)
{
    const char *p = req->path;
    if (strstr(p, "..")) return false;
    const sfile_t *f = NULL;
    const char *cache = "no-cache";
    if (!strcmp(p, "/") || !strcmp(p, "/index.html")) {
        f = find("/index.html");
    } else if (!strcmp(p, "/docs") || !strcmp(p, "/docs/")) {
        f = find("/docs/index.html");
    } else if (!strncmp(p, "/api/", 5)) {
        return false;
    } else {
        f = find(p);
        if (f && (!strncmp(p, "/assets/", 8) || !strncmp(p, "/vendor/", 8))) cache = "public, max-age=86400";
    }
    if (!f) return false;
    serve(req, f, cache);
    return true;
}

void http_serve_spec(http_req_t *req)
{
    if (!g_spec.data) {
        http_problem(req, 404, "the API description is not installed", NULL);
        return;
    }
    serve(req, &g_spec, "no-cache");
}
