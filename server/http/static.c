/* static.c — the web front end, API docs and OpenAPI file, served from memory.
 * Files are read once at start (the front end is small and immutable while
 * the server runs), each with a strong ETag, so a request costs a table
 * lookup and a zero-copy evbuffer reference.
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

#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct {
    char *url; /* "/index.html", "/docs/index.html" */
    char *data;
    size_t len;
    const char *ctype;
    char etag[72];
} sfile_t;

static sfile_t *g_files;
static size_t g_nfiles, g_cap;
static sfile_t g_spec;

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
        set_etag(&g_spec);
    } else {
        LOG_W("API spec %s not readable; /api/openapi.yaml will answer 404", g_cfg.api_spec);
    }
    LOG_I("loaded %zu static files from %s", g_nfiles, g_cfg.web_root);
    return 0;
}

static void serve(http_req_t *req, const sfile_t *f, const char *cache)
{
    http_add_header(req, "ETag", f->etag);
    http_add_header(req, "Cache-Control", cache);
    http_add_header(req, "Content-Security-Policy", !strncmp(f->url, "/docs/", 6) ? DOCS_CSP : g_app_csp);
    http_add_header(req, "X-Frame-Options", "DENY");
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    http_add_header(req, "Referrer-Policy", "no-referrer");
    http_add_header(req, "Permissions-Policy", PERMISSIONS);
    const char *inm = http_header(req, "if-none-match");
    if (inm && strstr(inm, f->etag)) {
        http_reply(req, 304, NULL, NULL, 0);
        return;
    }
    http_reply_static(req, 200, f->ctype, f->data, f->len);
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
