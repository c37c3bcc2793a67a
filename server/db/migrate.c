/* migrate.c — apply migrations/NNNN_name.sql in order, each once.
 *
 * Each file runs in its own transaction together with its row in
 * schema_migrations (version, name, SHA-256 checksum), under a session
 * advisory lock so that instances starting together apply each file exactly
 * once.  A file changed after it was applied is an error: history is never
 * rewritten silently.  Blocking libpq: used by the CLI and before the event
 * loops start, never on a loop thread.
 */
#include "db/db.h"

#include "config.h"
#include "util/util.h"

#include <dirent.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_LOCK "7240120240001"  /* pg_advisory_lock key: "yizhan migrate" */

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
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        size_t len = strlen(nm);
        if (len < 10 || strcmp(nm + len - 4, ".sql") != 0 || nm[4] != '_')
            continue;
        bool digits = true;
        for (int i = 0; i < 4; i++)
            if (nm[i] < '0' || nm[i] > '9') digits = false;
        if (!digits || len >= sizeof files[0].name)
            continue;
        if (cnt == cap) files = realloc(files, sizeof *files * (size_t)(cap *= 2));
        snprintf(files[cnt].name, sizeof files[cnt].name, "%s", nm);
        memcpy(files[cnt].version, nm, 4);
        files[cnt].version[4] = '\0';
        cnt++;
    }
    closedir(d);
    qsort(files, (size_t)cnt, sizeof *files, cmp_mfile);
    for (int i = 1; i < cnt; i++)
        if (!strcmp(files[i].version, files[i - 1].version)) {
            fprintf(stderr, "yizhan: two migrations share version %s: %s and %s\n", files[i].version,
                    files[i - 1].name, files[i].name);
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
    if (!ok)
        fprintf(stderr, "yizhan: %s failed: %s", what, PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

PGconn *db_connect_blocking(void)
{
    const char *keys[] = {"dbname", "application_name", "client_encoding", NULL};
    const char *vals[] = {g_cfg.database_url, "yizhan-cli", "UTF8", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "yizhan: cannot connect to the database (YIZHAN_DATABASE_URL): %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

int db_migrate(PGconn *c, bool apply, bool print_status, int *pending)
{
    mfile_t *files = NULL;
    int nfiles = 0, rc = -1;
    *pending = 0;
    if (list_files(&files, &nfiles) != 0)
        return -1;
    if (nfiles)
        snprintf(g_latest_migration, sizeof g_latest_migration, "%s", files[nfiles - 1].version);
    if (exec_ok(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", "taking the migration lock") != 0)
        goto out;
    if (exec_ok(c,
                "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, name text NOT NULL, "
                "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                "creating schema_migrations") != 0)
        goto unlock;
    for (int i = 0; i < nfiles; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", g_cfg.migrations_dir, files[i].name);
        size_t len;
        char *sql = util_read_file(path, 64u << 20, &len);
        if (!sql) {
            fprintf(stderr, "yizhan: cannot read %s\n", path);
            goto unlock;
        }
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256((unsigned char *)sql, len, md);
        char sum[65];
        util_hex(md, sizeof md, sum);
        const char *params[1] = {files[i].version};
        PGresult *r = PQexecParams(c, "SELECT checksum FROM schema_migrations WHERE version = $1", 1, NULL, params,
                                   NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "yizhan: reading schema_migrations failed: %s", PQerrorMessage(c));
            PQclear(r);
            free(sql);
            goto unlock;
        }
        if (PQntuples(r) == 1) {
            bool same = !strcmp(PQgetvalue(r, 0, 0), sum);
            PQclear(r);
            free(sql);
            if (!same) {
                fprintf(stderr, "yizhan: migration %s was changed after it was applied (checksum differs); "
                                "write a new migration instead\n", files[i].name);
                goto unlock;
            }
            if (print_status) printf("applied  %s  %s\n", files[i].name, sum);
            continue;
        }
        PQclear(r);
        (*pending)++;
        if (!apply) {
            if (print_status) printf("pending  %s\n", files[i].name);
            free(sql);
            continue;
        }
        if (exec_ok(c, "BEGIN", "BEGIN") != 0) { free(sql); goto unlock; }
        r = PQexec(c, sql);
        free(sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "yizhan: migration %s failed: %s", files[i].name, PQerrorMessage(c));
            PQclear(r);
            PQclear(PQexec(c, "ROLLBACK"));
            goto unlock;
        }
        PQclear(r);
        const char *ins[3] = {files[i].version, files[i].name, sum};
        r = PQexecParams(c, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", 3, NULL,
                         ins, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "yizhan: recording migration %s failed: %s", files[i].name, PQerrorMessage(c));
            PQclear(r);
            PQclear(PQexec(c, "ROLLBACK"));
            goto unlock;
        }
        PQclear(r);
        if (exec_ok(c, "COMMIT", "COMMIT") != 0) goto unlock;
        (*pending)--;
        printf("applied  %s  %s\n", files[i].name, sum);
    }
    rc = 0;
unlock:
    PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")"));
out:
    free(files);
    fflush(stdout);
    return rc;
}
