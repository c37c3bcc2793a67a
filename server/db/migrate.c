/* migrate.c — apply migrations/NNNN_name.sql in order, each once, then the
 * function files migrations/functions/<module>.sql whenever they changed.
 *
 * Versioned migrations change tables and data.  Each runs in its own
 * transaction together with its row in schema_migrations (version, name,
 * SHA-256 checksum of the file and of its data files, read_dfiles).  A file changed after it was applied is an error: history
 * is never rewritten silently.
 *
 * Function files hold every SQL function, procedure, trigger and view, each in
 * its current form; migrations/functions/ORDER lists them in the order they
 * are applied.  When any file's checksum (or the order) differs from
 * schema_functions, or a versioned migration was just applied, one transaction
 * drops every object the function files made before (schema_function_objects)
 * and runs every file again in order, recording what each one made: the
 * database then has exactly the functions the files define, and a function
 * removed from its file is gone.  Before dropping, pg_depend is checked: an
 * index, constraint, default or anything else outside the function files that
 * uses one of their objects stops the run with a message, never a silent
 * CASCADE (such a function belongs in a versioned migration, like
 * region_prefix).  A file may not replace or drop what a versioned migration
 * or an earlier file made.  Grants on tables are untouched; functions are
 * executable by PUBLIC, so yizhan_app keeps its rights.
 *
 * Everything runs under one session advisory lock, so instances starting
 * together apply each change exactly once.  Blocking libpq: used by the CLI and
 * before the event loops start, never on a loop thread.
 */
#include "db/db.h"

#include "config.h"
#include "util/buf.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_LOCK "7240120240001" /* pg_advisory_lock key: "yizhan migrate" */

char g_functions_digest[65];

typedef struct {
    char version[16];
    char name[256];
} mfile_t;

static int cmp_mfile(const void *a, const void *b)
{
    return strcmp(((const mfile_t *)a)->name, ((const mfile_t *)b)->name);
}

static int list_files(mfile_t **out, int *n)
{
    DIR *d = opendir(g_cfg.migrations_dir);
    if (!d) {
        fprintf(stderr, "yizhan: cannot open migrations directory %s (YIZHAN_MIGRATIONS_DIR)\n", g_cfg.migrations_dir);
        return -1;
    }
    int cap = 32, cnt = 0;
    mfile_t *files = malloc(sizeof *files * (size_t)cap);
    bool oom = !files;
    struct dirent *e;
    while (!oom && (e = readdir(d))) {
        const char *nm = e->d_name;
        size_t len = strlen(nm);
        if (len < 10 || strcmp(nm + len - 4, ".sql") != 0 || nm[4] != '_') continue;
        bool digits = true;
        for (int i = 0; i < 4; i++)
            if (nm[i] < '0' || nm[i] > '9') digits = false;
        if (!digits || len >= sizeof files[0].name) continue;
        if (cnt == cap) {
            mfile_t *more = realloc(files, sizeof *files * (size_t)(cap *= 2));
            if (!more) {
                oom = true;
                break;
            }
            files = more;
        }
        snprintf(files[cnt].name, sizeof files[cnt].name, "%s", nm);
        memcpy(files[cnt].version, nm, 4);
        files[cnt].version[4] = '\0';
        cnt++;
    }
    closedir(d);
    if (oom) {
        free(files);
        fprintf(stderr, "yizhan: out of memory listing migrations\n");
        return -1;
    }
    qsort(files, (size_t)cnt, sizeof *files, cmp_mfile);
    for (int i = 1; i < cnt; i++)
        if (!strcmp(files[i].version, files[i - 1].version)) {
            fprintf(stderr, "yizhan: two migrations share version %s: %s and %s\n", files[i].version, files[i - 1].name,
                    files[i].name);
            free(files);
            return -1;
        }
    *out = files;
    *n = cnt;
    return 0;
}

static int exec_ok(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) fprintf(stderr, "yizhan: %s failed: %s", what, PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

/* A parameterised statement; NULL (and the reason printed) on failure. */
static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params, const char *what)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "yizhan: %s failed: %s", what, PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)data, len, md);
    util_hex(md, sizeof md, out);
}

/* ------------------------------------------------------------ versioned */

/* A migration's data files: migrations/NNNN_name/<file> beside NNNN_name.sql
 * (seed documents, e.g. a subsidy policy's rules in JSON, kept as data and not
 * as SQL text).  They are part of the migration: its checksum covers them, and
 * while it runs they are the rows of the temporary table migration_files
 * (name, body), dropped at its commit.  A migration without a directory has
 * the checksum of its SQL alone. */
typedef struct {
    char name[256];
    char *body;
    size_t len;
} dfile_t;

static int cmp_dfile(const void *a, const void *b)
{
    return strcmp(((const dfile_t *)a)->name, ((const dfile_t *)b)->name);
}

static void free_dfiles(dfile_t *f, int n)
{
    for (int i = 0; i < n; i++) free(f[i].body);
    free(f);
}

/* The data files of migration `name` (NNNN_name.sql), by name; none when it
 * has no directory. */
static int read_dfiles(const char *name, dfile_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%.*s", g_cfg.migrations_dir, (int)(strlen(name) - 4), name);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        fprintf(stderr, "yizhan: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    dfile_t *files = NULL;
    int cnt = 0, cap = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (strlen(e->d_name) >= sizeof files[0].name) {
            fprintf(stderr, "yizhan: data file name too long in %s: %s\n", dir, e->d_name);
            rc = -1;
            break;
        }
        if (cnt == cap) {
            dfile_t *more = realloc(files, sizeof *files * (size_t)(cap = cap ? cap * 2 : 8));
            if (!more) {
                fprintf(stderr, "yizhan: out of memory reading %s\n", dir);
                rc = -1;
                break;
            }
            files = more;
        }
        char path[4352];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(files[cnt].name, sizeof files[cnt].name, "%s", e->d_name);
        files[cnt].body = util_read_file(path, 16u << 20, &files[cnt].len);
        if (!files[cnt].body || strlen(files[cnt].body) != files[cnt].len) {
            fprintf(stderr, "yizhan: cannot read %s (a regular text file of at most 16 MiB)\n", path);
            free(files[cnt].body);
            rc = -1;
            break;
        }
        cnt++;
    }
    closedir(d);
    if (rc != 0) {
        free_dfiles(files, cnt);
        return -1;
    }
    if (cnt) qsort(files, (size_t)cnt, sizeof *files, cmp_dfile);
    *out = files;
    *n = cnt;
    return 0;
}

/* The checksum of a migration: its SQL, then each data file's name and body. */
static void migration_sum(const char *sql, size_t len, const dfile_t *files, int n, char out[65])
{
    if (!n) {
        sha256_hex(sql, len, out);
        return;
    }
    buf_t b;
    buf_init(&b);
    buf_append(&b, sql, len);
    for (int i = 0; i < n; i++) {
        buf_printf(&b, "\n-- data file %s\n", files[i].name);
        buf_append(&b, files[i].body, files[i].len);
    }
    sha256_hex(b.data, b.len, out);
    buf_free(&b);
}

/* In the migration's transaction: its data files as migration_files rows. */
static int load_dfiles(PGconn *c, const dfile_t *files, int n)
{
    if (!n) return 0;
    if (exec_ok(c, "CREATE TEMP TABLE migration_files (name text PRIMARY KEY, body text NOT NULL) ON COMMIT DROP",
                "creating migration_files") != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        const char *params[2] = {files[i].name, files[i].body};
        PGresult *r = query(c, "INSERT INTO migration_files (name, body) VALUES ($1, $2)", 2, params,
                            "loading a data file");
        if (!r) return -1;
        PQclear(r);
    }
    return 0;
}

/* Applies (or lists) the versioned migrations; *applied counts the files run
 * now. */
static int migrate_versioned(PGconn *c, bool apply, bool print_status, int *pending, int *applied)
{
    mfile_t *files = NULL;
    int nfiles = 0, rc = -1;
    if (list_files(&files, &nfiles) != 0) return -1;
    if (nfiles) snprintf(g_latest_migration, sizeof g_latest_migration, "%s", files[nfiles - 1].version);
    for (int i = 0; i < nfiles; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", g_cfg.migrations_dir, files[i].name);
        size_t len;
        char *sql = util_read_file(path, 64u << 20, &len);
        if (!sql) {
            fprintf(stderr, "yizhan: cannot read %s\n", path);
            goto out;
        }
        dfile_t *data = NULL;
        int ndata = 0;
        if (read_dfiles(files[i].name, &data, &ndata) != 0) {
            free(sql);
            goto out;
        }
        char sum[65];
        migration_sum(sql, len, data, ndata, sum);
        const char *params[1] = {files[i].version};
        PGresult *r = query(c, "SELECT checksum FROM schema_migrations WHERE version = $1", 1, params,
                            "reading schema_migrations");
        if (!r) {
            free(sql);
            free_dfiles(data, ndata);
            goto out;
        }
        if (PQntuples(r) == 1) {
            bool same = !strcmp(PQgetvalue(r, 0, 0), sum);
            PQclear(r);
            free(sql);
            free_dfiles(data, ndata);
            if (!same) {
                fprintf(stderr,
                        "yizhan: migration %s was changed after it was applied (checksum differs); "
                        "write a new migration instead\n",
                        files[i].name);
                goto out;
            }
            if (print_status) printf("applied  %s  %s\n", files[i].name, sum);
            continue;
        }
        PQclear(r);
        (*pending)++;
        if (!apply) {
            if (print_status) printf("pending  %s\n", files[i].name);
            free(sql);
            free_dfiles(data, ndata);
            continue;
        }
        if (exec_ok(c, "BEGIN", "BEGIN") != 0 || load_dfiles(c, data, ndata) != 0) {
            PQclear(PQexec(c, "ROLLBACK"));
            free(sql);
            free_dfiles(data, ndata);
            goto out;
        }
        free_dfiles(data, ndata);
        r = PQexec(c, sql);
        free(sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "yizhan: migration %s failed: %s", files[i].name, PQerrorMessage(c));
            PQclear(r);
            PQclear(PQexec(c, "ROLLBACK"));
            goto out;
        }
        PQclear(r);
        const char *ins[3] = {files[i].version, files[i].name, sum};
        r = query(c, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", 3, ins,
                  "recording the migration");
        if (!r) {
            PQclear(PQexec(c, "ROLLBACK"));
            goto out;
        }
        PQclear(r);
        if (exec_ok(c, "COMMIT", "COMMIT") != 0) goto out;
        (*pending)--;
        (*applied)++;
        printf("applied  %s  %s\n", files[i].name, sum);
    }
    rc = 0;
out:
    free(files);
    return rc;
}

/* ------------------------------------------------------------ function files */

typedef struct {
    char name[64];     /* module: core, market, ... */
    char sum[65];      /* SHA-256 of the file as it is now */
    char recorded[65]; /* as applied ("" = never) */
    int recorded_pos;  /* its place in ORDER when applied (-1 = never) */
    char *sql;
} fnfile_t;

/* Every function, procedure, aggregate, view and trigger outside the system
 * schemas and extensions, with its catalogue row's ctid: a row that is
 * replaced (CREATE OR REPLACE, ALTER) gets a new ctid within the transaction,
 * where xmin would not change. */
#define FN_OBJECTS                                                                                                  \
    "SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END AS kind,"        \
    " p.oid::regprocedure::text AS identity, p.ctid::text AS version"                                               \
    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"                                                 \
    " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'"             \
    " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid"          \
    "                 AND d.deptype = 'e')"                                                                         \
    " UNION ALL"                                                                                                    \
    " SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, c.oid::regclass::text, c.ctid::text" \
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"                                                \
    " WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"                      \
    " AND n.nspname !~ '^pg_(toast|temp_)'"                                                                         \
    " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid"         \
    "                 AND d.deptype = 'e')"                                                                         \
    " UNION ALL"                                                                                                    \
    " SELECT 'trigger', format('%I ON %s', t.tgname, t.tgrelid::regclass), t.ctid::text"                            \
    " FROM pg_trigger t WHERE NOT t.tgisinternal"

/* The recorded objects with their catalogue and oid now (NULL when gone). */
#define FN_RECORDED                                                                                             \
    "SELECT o.module, o.kind, o.identity,"                                                                      \
    " CASE WHEN o.kind IN ('view', 'materialized view') THEN 'pg_class'::regclass"                              \
    "      WHEN o.kind = 'trigger' THEN 'pg_trigger'::regclass ELSE 'pg_proc'::regclass END AS classid,"        \
    " CASE WHEN o.kind IN ('view', 'materialized view') THEN to_regclass(o.identity)::oid"                      \
    "      WHEN o.kind = 'trigger' THEN (SELECT t.oid FROM pg_trigger t"                                        \
    "                                    WHERE format('%I ON %s', t.tgname, t.tgrelid::regclass) = o.identity)" \
    "      ELSE to_regprocedure(o.identity)::oid END AS objid"                                                  \
    " FROM schema_function_objects o"

static bool module_name_ok(const char *s)
{
    if (!*s || strlen(s) >= 64) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return false;
    return true;
}

static void free_fnfiles(fnfile_t *f, int n)
{
    for (int i = 0; i < n; i++) free(f[i].sql);
    free(f);
}

/* Reads migrations/functions/ORDER and the files it names.  No functions
 * directory: no function files.  A .sql file there that ORDER does not list,
 * or a name listed twice or missing, is an error. */
static int read_fnfiles(fnfile_t **out, int *n)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/functions", g_cfg.migrations_dir);
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        fprintf(stderr, "yizhan: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/ORDER", dir);
    size_t len;
    char *order = util_read_file(path, 1u << 20, &len);
    if (!order) {
        fprintf(stderr, "yizhan: cannot read %s (the order of the function files)\n", path);
        closedir(d);
        return -1;
    }
    int cap = 16, cnt = 0, rc = -1;
    fnfile_t *files = calloc((size_t)cap, sizeof *files);
    char *save = NULL;
    for (char *line = strtok_r(order, "\n", &save); files && line; line = strtok_r(NULL, "\n", &save)) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *s = line, *e = line + strlen(line);
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = '\0';
        if (!*s) continue;
        if (!module_name_ok(s)) {
            fprintf(stderr, "yizhan: %s: \"%s\" is not a module name (a-z, 0-9, _; the file is NAME.sql)\n", path, s);
            goto done;
        }
        for (int i = 0; i < cnt; i++)
            if (!strcmp(files[i].name, s)) {
                fprintf(stderr, "yizhan: %s lists %s twice\n", path, s);
                goto done;
            }
        if (cnt == cap) {
            fnfile_t *more = realloc(files, sizeof *files * (size_t)(cap *= 2));
            if (!more) break;
            files = more;
            memset(files + cnt, 0, sizeof *files * (size_t)(cap - cnt));
        }
        fnfile_t *f = &files[cnt++];
        snprintf(f->name, sizeof f->name, "%s", s);
        f->recorded_pos = -1;
        char fpath[4300];
        snprintf(fpath, sizeof fpath, "%s/%s.sql", dir, s);
        size_t flen;
        f->sql = util_read_file(fpath, 64u << 20, &flen);
        if (!f->sql) {
            fprintf(stderr, "yizhan: %s lists %s, but %s cannot be read\n", path, s, fpath);
            goto done;
        }
        sha256_hex(f->sql, flen, f->sum);
    }
    if (!files) {
        fprintf(stderr, "yizhan: out of memory reading the function files\n");
        goto done;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".sql") != 0) continue;
        bool listed = false;
        for (int i = 0; i < cnt && !listed; i++)
            listed = strlen(files[i].name) == l - 4 && !strncmp(files[i].name, e->d_name, l - 4);
        if (!listed) {
            fprintf(stderr, "yizhan: %s/%s is not listed in %s; add it there (the order it is applied in)\n", dir,
                    e->d_name, path);
            goto done;
        }
    }
    rc = 0;
done:
    closedir(d);
    free(order);
    if (rc == 0) {
        *out = files;
        *n = cnt;
    } else if (files) {
        free_fnfiles(files, cnt);
    }
    return rc;
}

/* What stands on an object of the function files but is not one: dropping
 * would take it along (CASCADE), so the run stops and names it. */
static int check_dependents(PGconn *c)
{
    PGresult *r = query(
        c,
        "WITH rec AS (" FN_RECORDED ")"
        " SELECT pg_describe_object(d.classid, d.objid, d.objsubid), r.kind || ' ' || r.identity, r.module"
        " FROM rec r JOIN pg_depend d ON d.refclassid = r.classid AND d.refobjid = r.objid"
        " WHERE d.deptype IN ('n', 'a')"
        "   AND NOT EXISTS (SELECT 1 FROM rec r2 WHERE r2.classid = d.classid AND r2.objid = d.objid)"
        "   AND NOT (d.classid = 'pg_rewrite'::regclass AND EXISTS ("
        "       SELECT 1 FROM pg_rewrite w JOIN rec r3 ON r3.classid = 'pg_class'::regclass AND r3.objid = w.ev_class"
        "       WHERE w.oid = d.objid))"
        " ORDER BY 3, 2, 1",
        0, NULL, "checking what depends on the function files' objects");
    if (!r) return -1;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        fprintf(stderr,
                "yizhan: cannot re-create the SQL functions: %s depends on %s (migrations/functions/%s.sql), "
                "and dropping it would drop that too\n",
                PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
    if (n)
        fprintf(stderr, "yizhan: a function that a table, index, constraint or default uses belongs in a versioned "
                        "migration (like region_prefix in 0001_baseline.sql): move it there, or drop what uses it "
                        "in a versioned migration first\n");
    PQclear(r);
    return n ? -1 : 0;
}

/* Drops every object the function files made (triggers, views, then
 * functions; CASCADE only reaches other recorded objects, checked above). */
static int drop_recorded(PGconn *c)
{
    PGresult *r = query(
        c,
        "WITH rec AS (" FN_RECORDED ")"
        " SELECT string_agg(format('DROP %s IF EXISTS %s%s;', upper(kind),"
        "                          CASE WHEN kind = 'trigger' THEN identity"
        "                               WHEN kind IN ('view', 'materialized view') THEN objid::regclass::text"
        "                               ELSE objid::regprocedure::text END,"
        "                          CASE WHEN kind = 'trigger' THEN '' ELSE ' CASCADE' END),"
        "                   E'\\n' ORDER BY CASE kind WHEN 'trigger' THEN 0 WHEN 'view' THEN 1"
        "                                             WHEN 'materialized view' THEN 1 ELSE 2 END, identity)"
        " FROM rec WHERE objid IS NOT NULL",
        0, NULL, "listing the function files' objects");
    if (!r) return -1;
    int rc = 0;
    if (!PQgetisnull(r, 0, 0)) rc = exec_ok(c, PQgetvalue(r, 0, 0), "dropping the function files' objects");
    PQclear(r);
    if (rc == 0)
        rc = exec_ok(c, "DELETE FROM schema_function_objects; DELETE FROM schema_functions",
                     "clearing schema_functions");
    return rc;
}

/* Runs one file and records what it made; refuses a file that replaced or
 * dropped an object it did not make. */
static int apply_fnfile(PGconn *c, const fnfile_t *f, int pos)
{
    char posbuf[16];
    snprintf(posbuf, sizeof posbuf, "%d", pos);
    const char *rec[3] = {f->name, posbuf, f->sum};
    PGresult *r = query(c, "INSERT INTO schema_functions (module, position, checksum) VALUES ($1, $2, $3)", 3, rec,
                        "recording the function file");
    if (!r) return -1;
    PQclear(r);
    r = PQexec(c, f->sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "yizhan: migrations/functions/%s.sql failed: %s", f->name, PQerrorMessage(c));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    if (PQtransactionStatus(c) != PQTRANS_INTRANS) {
        fprintf(stderr,
                "yizhan: migrations/functions/%s.sql ended the transaction (COMMIT or ROLLBACK in the file); "
                "a function file holds definitions only\n",
                f->name);
        return -1;
    }
    const char *mod[1] = {f->name};
    r = query(c,
              "SELECT b.kind, b.identity, a.identity IS NULL,"
              "       coalesce((SELECT 'migrations/functions/' || o.module || '.sql' FROM schema_function_objects o"
              "                 WHERE o.kind = b.kind AND o.identity = b.identity), 'a versioned migration')"
              " FROM yizhan_fn_before b LEFT JOIN (" FN_OBJECTS ") a ON a.kind = b.kind AND a.identity = b.identity"
              " WHERE a.identity IS NULL OR a.version <> b.version ORDER BY 1, 2",
              0, NULL, "comparing the objects before and after the function file");
    if (!r) return -1;
    int bad = PQntuples(r);
    for (int i = 0; i < bad; i++)
        fprintf(stderr,
                "yizhan: migrations/functions/%s.sql %s %s %s, which %s made; every object has one home: "
                "change it there\n",
                f->name, !strcmp(PQgetvalue(r, i, 2), "t") ? "drops" : "replaces", PQgetvalue(r, i, 0),
                PQgetvalue(r, i, 1), PQgetvalue(r, i, 3));
    PQclear(r);
    if (bad) return -1;
    r = query(c,
              "WITH made AS (INSERT INTO schema_function_objects (module, kind, identity)"
              "              SELECT $1, a.kind, a.identity FROM (" FN_OBJECTS ") a"
              "              WHERE NOT EXISTS (SELECT 1 FROM yizhan_fn_before b"
              "                                WHERE b.kind = a.kind AND b.identity = a.identity)"
              "              RETURNING kind, identity)"
              " INSERT INTO yizhan_fn_before (kind, identity, version)"
              " SELECT a.kind, a.identity, a.version FROM (" FN_OBJECTS ") a JOIN made m USING (kind, identity)",
              1, mod, "recording the function file's objects");
    if (!r) return -1;
    PQclear(r);
    return 0;
}

static int migrate_functions(PGconn *c, bool apply, bool print_status, int *pending, bool force)
{
    fnfile_t *files = NULL;
    int n = 0, rc = -1;
    if (read_fnfiles(&files, &n) != 0) return -1;

    /* the digest /readyz compares with the database's (api/ops.c) */
    buf_t all;
    buf_init(&all);
    for (int i = 0; i < n; i++) buf_printf(&all, "%s %s\n", files[i].name, files[i].sum);
    sha256_hex(all.data ? all.data : "", all.len, g_functions_digest);
    buf_free(&all);

    PGresult *r = query(c, "SELECT module, position, checksum FROM schema_functions ORDER BY position, module", 0, NULL,
                        "reading schema_functions");
    if (!r) goto out;
    int nrec = PQntuples(r);
    bool changed = force;
    for (int j = 0; j < nrec; j++) {
        const char *m = PQgetvalue(r, j, 0);
        int k = 0;
        while (k < n && strcmp(files[k].name, m) != 0) k++;
        if (k == n) {
            changed = true;
            (*pending)++;
            if (print_status) printf("removed  functions/%s.sql  (applied: %s)\n", m, PQgetvalue(r, j, 2));
            else if (!apply)
                fprintf(stderr, "yizhan: migrations/functions/%s.sql was removed since it was applied\n", m);
            continue;
        }
        snprintf(files[k].recorded, sizeof files[k].recorded, "%s", PQgetvalue(r, j, 2));
        files[k].recorded_pos = atoi(PQgetvalue(r, j, 1));
    }
    PQclear(r);
    for (int i = 0; i < n; i++) {
        const fnfile_t *f = &files[i];
        const char *state = !f->recorded[0]                    ? "pending"
                            : strcmp(f->recorded, f->sum) != 0 ? "changed"
                            : f->recorded_pos != i             ? "moved"
                                                               : "applied";
        if (strcmp(state, "applied") != 0) {
            changed = true;
            (*pending)++;
            if (!apply && !print_status)
                fprintf(stderr, "yizhan: migrations/functions/%s.sql is %s (%s)\n", f->name, state,
                        !f->recorded[0]           ? "never applied"
                        : !strcmp(state, "moved") ? "its place in ORDER changed"
                                                  : "its checksum differs from the one applied");
        }
        if (!print_status) continue;
        if (!strcmp(state, "applied") || !strcmp(state, "pending"))
            printf("%s  functions/%s.sql  %s\n", state, f->name, f->sum);
        else
            printf("%s  functions/%s.sql  %s  (applied: %s)\n", state, f->name, f->sum, f->recorded);
    }
    if (!apply || !changed) {
        rc = 0;
        goto out;
    }

    /* One transaction: drop what the files made, run them all again. */
    if (exec_ok(c, "BEGIN", "BEGIN") != 0) goto out;
    if (check_dependents(c) != 0 || drop_recorded(c) != 0 ||
        exec_ok(c, "CREATE TEMP TABLE yizhan_fn_before ON COMMIT DROP AS " FN_OBJECTS,
                "listing the functions before the function files") != 0)
        goto rollback;
    for (int i = 0; i < n; i++)
        if (apply_fnfile(c, &files[i], i) != 0) goto rollback;
    if (exec_ok(c, "COMMIT", "COMMIT") != 0) goto out;
    *pending = 0;
    for (int i = 0; i < n; i++) printf("applied  functions/%s.sql  %s\n", files[i].name, files[i].sum);
    rc = 0;
    goto out;
rollback:
    PQclear(PQexec(c, "ROLLBACK"));
out:
    free_fnfiles(files, n);
    return rc;
}

int db_migrate(PGconn *c, bool apply, bool print_status, int *pending)
{
    int rc = -1, vpending = 0, fpending = 0, applied = 0;
    *pending = 0;
    /* another instance's migrate may hold the lock for as long as it takes:
     * wait for it without the connection's lock_timeout, which then applies
     * to the locks the migrations take on tables a running server uses */
    if (exec_ok(c, "SET lock_timeout = 0; SELECT pg_advisory_lock(" MIGRATE_LOCK "); RESET lock_timeout",
                "taking the migration lock") != 0)
        goto out;
    if (exec_ok(c,
                "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, name text NOT NULL, "
                "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"
                "CREATE TABLE IF NOT EXISTS schema_functions (module text PRIMARY KEY, position integer NOT NULL, "
                "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"
                "CREATE TABLE IF NOT EXISTS schema_function_objects (module text NOT NULL REFERENCES "
                "schema_functions ON DELETE CASCADE, kind text NOT NULL, identity text NOT NULL, "
                "PRIMARY KEY (kind, identity))",
                "creating schema_migrations and schema_functions") != 0)
        goto unlock;
    if (migrate_versioned(c, apply, print_status, &vpending, &applied) != 0) goto unlock;
    /* function files are applied only over a schema that is current */
    if (migrate_functions(c, apply && vpending == 0, print_status, &fpending, applied > 0) != 0) goto unlock;
    *pending = vpending + fpending;
    rc = 0;
unlock:
    PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")"));
out:
    fflush(stdout);
    return rc;
}
