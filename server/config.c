/* config.c — the option table.  Adding an option: a field in config_t, a row
 * here, a line in the README's table. */
#include "config.h"

#include "log.h"

#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

config_t g_cfg;

enum opt_type { OPT_STR, OPT_INT, OPT_SIZE, OPT_BOOL, OPT_LISTEN };

typedef struct {
    const char *name; /* env var without the YIZHAN_ prefix */
    enum opt_type type;
    void *dst;
    const char *def; /* default, as text; NULL = required/empty */
    long min, max;   /* for ints and sizes */
    const char *help;
} opt_t;

static opt_t OPTS[] = {
    {"DATABASE_URL", OPT_STR, &g_cfg.database_url, "dbname=yizhan", 0, 0,
     "libpq connection string or URI of the primary database"},
    {"DATABASE_REPLICA_URL", OPT_STR, &g_cfg.replica_url, "", 0, 0,
     "libpq connection string of a read replica for public reads, search and statistics (empty = none)"},
    {"READ_OWN_WRITES_MS", OPT_INT, &g_cfg.read_own_writes_ms, "10000", 0, 3600000,
     "after a user's write, that user's reads go to the primary for this long"},
    {"DB_ROLE", OPT_STR, &g_cfg.db_role, "yizhan_app", 0, 0,
     "database role the server works as (created by the migrations; empty = the login role)"},
    {"LISTEN", OPT_LISTEN, NULL, "127.0.0.1:8080", 0, 0, "address and port to serve HTTP on (host:port)"},
    {"WEBHOOK_ALLOW_PRIVATE", OPT_BOOL, &g_cfg.webhook_allow_private, "false", 0, 0,
     "let webhook URLs use http:// and reach loopback, private and other special-purpose addresses (off: https to"
     " public hosts only, no SSRF into the intranet)"},
    {"TRUSTED_PROXIES", OPT_STR, &g_cfg.trusted_proxies, "", 0, 0,
     "comma-separated proxy addresses (e.g. 127.0.0.1) whose X-Real-IP/X-Forwarded-For name the client"},
    {"THREADS", OPT_INT, &g_cfg.threads, "0", 0, 256,
     "event-loop worker threads (0 = half the cores the process may use, at least 1)"},
    {"DB_CONNS", OPT_INT, &g_cfg.db_conns, "2", 1, 64, "database connections per worker thread"},
    {"DB_QUEUE_MAX", OPT_INT, &g_cfg.db_queue_max, "4096", 1, 1000000,
     "queued + in-flight queries per worker before 503"},
    {"QUERY_TIMEOUT_MS", OPT_INT, &g_cfg.query_timeout_ms, "5000", 10, 3600000,
     "per-statement time limit (504 when exceeded)"},
    {"MAX_BODY_BYTES", OPT_SIZE, &g_cfg.max_body_bytes, "1048576", 1024, 1L << 30,
     "largest request body accepted (413 above)"},
    {"MAX_HEADER_BYTES", OPT_SIZE, &g_cfg.max_header_bytes, "16384", 1024, 1L << 20,
     "largest request line + headers accepted (431 above)"},
    {"READ_TIMEOUT_MS", OPT_INT, &g_cfg.read_timeout_ms, "10000", 100, 600000,
     "time allowed to receive a whole request once its first byte arrived (408)"},
    {"WRITE_TIMEOUT_MS", OPT_INT, &g_cfg.write_timeout_ms, "10000", 100, 600000,
     "time allowed for a client to take a response"},
    {"IDLE_TIMEOUT_MS", OPT_INT, &g_cfg.idle_timeout_ms, "60000", 100, 3600000,
     "keep-alive connections idle longer are closed"},
    {"SHUTDOWN_TIMEOUT_MS", OPT_INT, &g_cfg.shutdown_timeout_ms, "8000", 0, 60000,
     "on SIGTERM, how long to let in-flight requests finish"},
    {"MAX_CONNECTIONS", OPT_INT, &g_cfg.max_connections, "20000", 16, 1000000, "open client connections per worker"},
    {"MAX_CONNS_PER_CLIENT", OPT_INT, &g_cfg.max_conns_per_client, "256", 0, 1000000,
     "open connections one client address may hold, all workers together; more are closed at once (0 = no limit;"
     " YIZHAN_TRUSTED_PROXIES are exempt: behind a proxy, limit there)"},
    {"MAX_OUTPUT_BYTES", OPT_SIZE, &g_cfg.max_output_bytes, "262144", 0, 1L << 30,
     "answer bytes the kernel buffers per connection (SO_SNDBUF) while the client reads; a slow reader holds no"
     " more (0 = the kernel's autotuning, up to 4 MiB each)"},
    {"JWT_SECRET_FILE", OPT_STR, &g_cfg.jwt_secret_file, "", 0, 0,
     "file holding the token signing secret (≥ 32 bytes); required by serve"},
    {"SIGNING_KEY_DIR", OPT_STR, &g_cfg.signing_key_dir, "var/keys", 0, 0,
     "directory of the registry offices' Ed25519 certificate keys"},
    {"WEB_ROOT", OPT_STR, &g_cfg.web_root, "web", 0, 0, "directory of the web front end, served at /"},
    {"API_SPEC", OPT_STR, &g_cfg.api_spec, "api/openapi.yaml", 0, 0, "the OpenAPI file served at /api/openapi.yaml"},
    {"STATIC_BROTLI_QUALITY", OPT_INT, &g_cfg.static_brotli_quality, "11", 0, 11,
     "brotli quality of the web files' compressed forms, made once at start by a low-priority thread (~5 s of CPU"
     " at 11 for web/; 0 = no brotli, gzip only)"},
    {"MIGRATIONS_DIR", OPT_STR, &g_cfg.migrations_dir, "migrations", 0, 0,
     "directory of NNNN_name.sql migrations and functions/ (the SQL function files)"},
    {"LOG_LEVEL", OPT_STR, &g_cfg.log_level, "info", 0, 0, "debug, info, warn or error"},
    {"ACCESS_LOG", OPT_STR, &g_cfg.access_log_to, "stderr", 0, 0,
     "one JSON line per request: stderr (with the other log lines, at log level info), off, or a file path (with a /) to append to"},
    {"PUBLIC_URL", OPT_STR, &g_cfg.public_url, "", 0, 0,
     "the site's address as users reach it (e.g. https://yizhan.example.cn), for the links in e-mail (empty ="
     " http://LISTEN)"},
    {"SMTP_URL", OPT_STR, &g_cfg.smtp_url, "", 0, 0,
     "SMTP server for e-mail: smtp://host:587 (STARTTLS required) or smtps://host:465, user:password@ allowed (empty"
     " = no e-mail is sent; the queue is dropped after mail_pending_max_hours)"},
    {"SMTP_USER", OPT_STR, &g_cfg.smtp_user, "", 0, 0, "SMTP login, when not in YIZHAN_SMTP_URL"},
    {"SMTP_PASSWORD", OPT_STR, &g_cfg.smtp_password, "", 0, 0, "SMTP password, when not in YIZHAN_SMTP_URL"},
    {"SMTP_CA_FILE", OPT_STR, &g_cfg.smtp_ca_file, "", 0, 0,
     "PEM file of the CA(s) the SMTP server's certificate is verified with (empty = the system's)"},
    {"MAIL_FROM", OPT_STR, &g_cfg.mail_from, "", 0, 0, "sender address of the e-mails (required with YIZHAN_SMTP_URL)"},
    {"MAIL_RETRY_BASE_S", OPT_INT, &g_cfg.mail_retry_base_s, "60", 1, 3600,
     "an e-mail the SMTP server did not take is tried again after this many seconds, doubling each time (at most"
     " an hour)"},
    {"MAIL_MAX_ATTEMPTS", OPT_INT, &g_cfg.mail_max_attempts, "8", 1, 100, "attempts before an e-mail is failed"},
    {"MAIL_TIMEOUT_MS", OPT_INT, &g_cfg.mail_timeout_ms, "30000", 1000, 600000,
     "time allowed for one SMTP conversation"},
    {"HASH_THREADS", OPT_INT, &g_cfg.hash_threads, "2", 1, 64, "threads of the password-hashing pool"},
    {"HASH_QUEUE_MAX", OPT_INT, &g_cfg.hash_queue_max, "64", 1, 100000, "queued password hashes before 503"},
    {"PASSWORD_ITERATIONS", OPT_INT, &g_cfg.password_iterations, "600000", 1000, 10000000,
     "PBKDF2 iterations of new password hashes (each hash records its own count, so lowering it only makes new"
     " hashes weaker): for the test suites, which create hundreds of users; never lower it in production"},
};

static int set_opt(opt_t *o, const char *val, const char *from)
{
    char *end;
    switch (o->type) {
    case OPT_STR:
        free(*(char **)o->dst);
        *(char **)o->dst = strdup(val);
        return 0;
    case OPT_INT:
    case OPT_SIZE: {
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || v < o->min || v > o->max) {
            fprintf(stderr, "yizhan: invalid YIZHAN_%s=%s (%s): expected an integer in %ld..%ld\n", o->name, val, from,
                    o->min, o->max);
            return -1;
        }
        if (o->type == OPT_INT) *(int *)o->dst = (int)v;
        else
            *(size_t *)o->dst = (size_t)v;
        return 0;
    }
    case OPT_BOOL:
        if (!strcmp(val, "true") || !strcmp(val, "1") || !strcmp(val, "yes")) *(bool *)o->dst = true;
        else if (!strcmp(val, "false") || !strcmp(val, "0") || !strcmp(val, "no"))
            *(bool *)o->dst = false;
        else {
            fprintf(stderr, "yizhan: invalid YIZHAN_%s=%s (%s): expected true or false\n", o->name, val, from);
            return -1;
        }
        return 0;
    case OPT_LISTEN: {
        const char *colon = strrchr(val, ':');
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == val || !colon[1] || *end || port < 1 || port > 65535) {
            fprintf(stderr, "yizhan: invalid YIZHAN_%s=%s (%s): expected host:port\n", o->name, val, from);
            return -1;
        }
        free(g_cfg.listen_host);
        g_cfg.listen_host = strndup(val, (size_t)(colon - val));
        g_cfg.listen_port = (int)port;
        return 0;
    }
    }
    return -1;
}

static opt_t *find_opt(const char *name)
{
    for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++)
        if (!strcmp(OPTS[i].name, name)) return &OPTS[i];
    return NULL;
}

static int load_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "yizhan: invalid YIZHAN_CONFIG_FILE=%s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            fprintf(stderr, "yizhan: %s:%d: expected KEY=VALUE\n", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        const char *key = p;
        if (!strncmp(key, "YIZHAN_", 7)) key += 7;
        opt_t *o = find_opt(key);
        if (!o) {
            fprintf(stderr, "yizhan: %s:%d: unknown option YIZHAN_%s\n", path, lineno, key);
            rc = -1;
            break;
        }
        char from[300];
        snprintf(from, sizeof from, "%s:%d", path, lineno);
        if (set_opt(o, eq + 1, from) != 0) {
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* One event loop per two cores the process may run on (its affinity mask,
 * which containers and taskset narrow), at least one.  The database usually
 * shares the machine, and a loop per core wakes up twice as often with half
 * the work each time: on 2 cores, one loop serves the result GET at 256
 * connections with about 10 us of CPU a request where two loops need 12 to
 * 25 (bench/README.md, "Event loops"). */
static int default_threads(void)
{
    cpu_set_t set;
    long n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 2 ? (int)(n / 2) : 1;
}

/* ACCESS_LOG: stderr (also true/1/yes, as it once was a boolean), off (also
 * false/0/no), or a file path.  A path must contain a '/' (./access.log), so
 * that a misspelt keyword is refused instead of becoming a file's name. */
static int parse_access_log(const char *v)
{
    static const char *const on[] = {"stderr", "true", "1", "yes"}, *const off[] = {"off", "false", "0", "no"};
    g_cfg.access_log_file = NULL;
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
        if (!strcmp(v, on[i])) {
            g_cfg.access_log = true;
            return 0;
        }
        if (!strcmp(v, off[i])) {
            g_cfg.access_log = false;
            return 0;
        }
    }
    if (!strchr(v, '/')) return -1;
    g_cfg.access_log = true;
    g_cfg.access_log_file = v;
    return 0;
}

int config_load(void)
{
    for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++)
        if (set_opt(&OPTS[i], OPTS[i].def, "default") != 0) return -1;
    const char *file = getenv("YIZHAN_CONFIG_FILE");
    if (file && *file && load_file(file) != 0) return -1;
    for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++) {
        char env[64];
        snprintf(env, sizeof env, "YIZHAN_%s", OPTS[i].name);
        const char *v = getenv(env);
        if (v && set_opt(&OPTS[i], v, "environment") != 0) return -1;
    }
    enum log_level lvl;
    if (log_parse_level(g_cfg.log_level, &lvl) != 0) {
        fprintf(stderr, "yizhan: invalid YIZHAN_LOG_LEVEL=%s: expected debug, info, warn or error\n", g_cfg.log_level);
        return -1;
    }
    log_set_level(lvl);
    if (parse_access_log(g_cfg.access_log_to) != 0) {
        fprintf(stderr, "yizhan: invalid YIZHAN_ACCESS_LOG=%s: expected stderr, off or a file path containing a /\n",
                g_cfg.access_log_to);
        return -1;
    }
    if (g_cfg.threads == 0) g_cfg.threads = default_threads();
    return 0;
}

void config_print_table(void)
{
    printf("%-28s %-18s %s\n", "variable", "default", "meaning");
    for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++)
        printf("YIZHAN_%-21s %-18s %s\n", OPTS[i].name, OPTS[i].def && *OPTS[i].def ? OPTS[i].def : "-", OPTS[i].help);
}
