/* main.c — argv and subcommands; wiring only.
 *
 *   yizhan serve [--migrate]     serve HTTP (refuses pending migrations unless --migrate)
 *   yizhan migrate [status]      apply pending migrations and changed function files / list their state
 *   yizhan user create --email E --password-file F --role R [--org ID] [--office ID] [--region CODE]
 *   yizhan keygen --office ID | --missing   make or rotate registry offices' signing keys
 *   yizhan audit verify          walk the audit hash chain; exit 3 when broken
 *   yizhan import contracts FILE [--dry-run] [--as EMAIL]   import past contracts (CSV or XLSX)
 *   yizhan config                print the configuration table
 *   yizhan version
 */
#include "api/api.h"
#include "auth/auth.h"
#include "auth/password.h"
#include "auth/sign.h"
#include "config.h"
#include "db/db.h"
#include "http/http.h"
#include "log.h"
#include "util/pool.h"
#include "util/util.h"
#include "version.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fputs("usage: yizhan serve [--migrate]\n"
          "       yizhan migrate [status]\n"
          "       yizhan user create --email E --password-file F --role R [--org ID] [--office ID] [--region CODE]\n"
          "       yizhan keygen --office ID | --missing\n"
          "       yizhan audit verify\n"
          "       yizhan import contracts FILE [--dry-run] [--as EMAIL]\n"
          "       yizhan config\n"
          "       yizhan version\n",
          stderr);
    return 2;
}

static int cmd_migrate(int argc, char **argv)
{
    bool status = argc > 2 && !strcmp(argv[2], "status");
    if (argc > 2 && !status) return usage();
    PGconn *c = db_connect_blocking();
    if (!c) return 1;
    int pending = 0;
    int rc = db_migrate(c, !status, status, &pending);
    PQfinish(c);
    return rc == 0 ? 0 : 1;
}

static void register_api(void)
{
    api_ops_init();
    api_codes_init();
    api_auth_init();
    api_accounts_init();
    api_audit_init();
    api_contracts_init();
    api_stats_init();
    api_targets_init();
    api_export_init();
    api_imports_init();
    api_documents_init();
    api_deals_init();
    api_notifications_init();
    api_subsidies_init();
    api_registers_init();
    api_market_init();
}

/* Make (or rotate) an office's Ed25519 key: the private key goes to a file in
 * YIZHAN_SIGNING_KEY_DIR, the public key into signing_keys; the previous key
 * stays published with valid_to set, so old certificates still verify. */
static int keygen_office(PGconn *c, const char *office)
{
    char key_id[64], *pem = NULL;
    unsigned char pub[32];
    if (sign_keygen(g_cfg.signing_key_dir, strtol(office, NULL, 10), key_id, pub, &pem) != 0) {
        fprintf(stderr, "yizhan: key generation failed\n");
        return 1;
    }
    char hex[65];
    util_hex(pub, 32, hex);
    const char *v[4] = {office, key_id, hex, pem};
    PGresult *r = PQexecParams(c,
                               "WITH old AS (UPDATE signing_keys SET valid_to = now() WHERE office_id = $1::bigint"
                               " AND valid_to IS NULL RETURNING 1) INSERT INTO signing_keys (key_id, office_id,"
                               " public_key, public_key_pem) SELECT $2, $1::bigint, decode($3, 'hex'), $4"
                               " FROM (SELECT count(*) FROM old) o",
                               4, NULL, v, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : 1;
    if (rc) fprintf(stderr, "yizhan: cannot publish key for office %s: %s", office, PQerrorMessage(c));
    else
        printf("office %s: key %s\n", office, key_id);
    PQclear(r);
    free(pem);
    return rc;
}

static int cmd_keygen(int argc, char **argv)
{
    if (argc != 4 && !(argc == 3 && !strcmp(argv[2], "--missing"))) return usage();
    if (argc == 4 && strcmp(argv[2], "--office") != 0) return usage();
    PGconn *c = db_connect_blocking();
    if (!c) return 1;
    int rc = 0;
    if (argc == 4) {
        rc = keygen_office(c, argv[3]);
    } else {
        PGresult *r = PQexec(
            c, "SELECT f.id FROM registry_offices f WHERE f.active AND NOT EXISTS"
               " (SELECT 1 FROM signing_keys k WHERE k.office_id = f.id AND k.valid_to IS NULL) ORDER BY f.id");
        for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r) && rc == 0; i++)
            rc = keygen_office(c, PQgetvalue(r, i, 0));
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

static int cmd_audit(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[2], "verify") != 0) return usage();
    PGconn *c = db_connect_blocking();
    if (!c) return 1;
    PGresult *r = PQexec(c, "SELECT ok, checked, first_broken_id, reason FROM audit_verify()");
    int rc = 1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "yizhan: audit verify failed: %s", PQerrorMessage(c));
    } else if (!strcmp(PQgetvalue(r, 0, 0), "t")) {
        printf("audit chain intact: %s entries checked\n", PQgetvalue(r, 0, 1));
        rc = 0;
    } else {
        printf("audit chain BROKEN at entry %s: %s (%s entries before it are intact)\n", PQgetvalue(r, 0, 2),
               PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 1));
        rc = 3;
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

static int cmd_serve(int argc, char **argv)
{
    bool migrate = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--migrate")) migrate = true;
        else
            return usage();
    }
    if (auth_load_secret(g_cfg.jwt_secret_file) != 0) return 2;
    if (g_cfg.access_log_file && log_access_open(g_cfg.access_log_file) != 0) {
        fprintf(stderr, "yizhan: invalid YIZHAN_ACCESS_LOG=%s: %s\n", g_cfg.access_log_file, strerror(errno));
        return 2;
    }
    /* Start-up checks use a blocking connection: no loop runs yet. */
    PGconn *c = db_connect_blocking();
    if (!c) return 1;
    int pending = 0;
    int rc = db_migrate(c, migrate, false, &pending);
    if (rc == 0 && !pending && api_codes_load(c) != 0) rc = -1; /* the cheap checks' code lists */
    PQfinish(c);
    if (rc != 0) return 1;
    if (pending) {
        fprintf(stderr,
                "yizhan: %d migration(s) or SQL function file(s) pending; run `yizhan migrate` first or "
                "start with `serve --migrate`\n",
                pending);
        return 1;
    }
    http_block_signals(); /* before any thread exists: pools, workers, deliveries */
    register_api();
    sign_load_dir(g_cfg.signing_key_dir);
    if (g_cfg.password_iterations < PASSWORD_ITERATIONS)
        LOG_I("YIZHAN_PASSWORD_ITERATIONS=%d: new password hashes are weaker than the default %d (tests only)",
              g_cfg.password_iterations, PASSWORD_ITERATIONS);
    (void)password_dummy_hash();         /* computed once now, not during the first login */
    http_set_worker_slot(api_pools_new); /* each worker's database pools */
    if (pool_start(g_cfg.hash_threads, g_cfg.hash_queue_max, worker_post) != 0 || http_start() != 0) return 1;
    api_deals_start();
    api_ops_start();
    if (api_market_start() != 0) return 1; /* webhook deliveries and expiry sweeps */
    if (api_mail_start() != 0) return 1;   /* e-mail of the message centre, when YIZHAN_SMTP_URL is set */
    http_run_until_signal();
    return 0;
}

static int cmd_user(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[2], "create") != 0) return usage();
    const char *email = NULL, *pwfile = NULL, *role = NULL, *org = NULL, *office = NULL, *region = NULL, *name = NULL;
    for (int i = 3; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--email")           ? &email
                           : !strcmp(argv[i], "--password-file") ? &pwfile
                           : !strcmp(argv[i], "--role")          ? &role
                           : !strcmp(argv[i], "--org")           ? &org
                           : !strcmp(argv[i], "--office")        ? &office
                           : !strcmp(argv[i], "--region")        ? &region
                           : !strcmp(argv[i], "--name")          ? &name
                                                                 : NULL;
        if (!dst || i + 1 >= argc) return usage();
        *dst = argv[++i];
    }
    if (!email || !pwfile || !role) return usage();
    if (!role_from_name(role)) {
        fprintf(stderr, "yizhan: unknown role %s (member, broker, reviewer, officer, bureau, admin)\n", role);
        return 2;
    }
    size_t len;
    char *pw = util_read_file(pwfile, 4096, &len);
    if (!pw) {
        fprintf(stderr, "yizhan: cannot read password file %s\n", pwfile);
        return 2;
    }
    while (len && (pw[len - 1] == '\n' || pw[len - 1] == '\r')) pw[--len] = '\0';
    const char *why = password_policy_error(pw);
    if (why) {
        fprintf(stderr, "yizhan: password %s\n", why);
        free(pw);
        return 2;
    }
    char hash[PASSWORD_HASH_MAX];
    if (password_hash(pw, hash) != 0) {
        free(pw);
        return 1;
    }
    free(pw);
    PGconn *c = db_connect_blocking();
    if (!c) return 1;
    const char *v[7] = {email, name ? name : email, hash, role, org, office, region};
    /* The account and its audit entry (actor: none, request "cli-user-create")
     * in one statement, so one transaction: an account made at the console is
     * on the record like one made through the API. */
    PGresult *r = PQexecParams(
        c,
        "WITH u AS (INSERT INTO users (email, display_name, password_hash, role, org_id, office_id,"
        " region_code) VALUES ($1, $2, $3, $4, $5::bigint, $6::bigint, $7) RETURNING *)"
        " SELECT u.id, audit_append(NULL, 'cli-user-create', 'user', u.id::text, 'create', NULL,"
        " user_json(u::users)) FROM u",
        7, NULL, v, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (st && !strcmp(st, "23505")) fprintf(stderr, "yizhan: a user with email %s already exists\n", email);
        else
            fprintf(stderr, "yizhan: cannot create user: %s", PQerrorMessage(c));
        rc = 1;
    } else {
        printf("%s\n", PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("yizhan %s (libevent %s, libpq %d, jansson %s)\n", YIZHAN_VERSION, event_get_version(), PQlibVersion(),
               jansson_version_str());
        return 0;
    }
    if (config_load() != 0) return 2;
    password_set_iterations(g_cfg.password_iterations);
    if (!strcmp(cmd, "config")) {
        config_print_table();
        return 0;
    }
    if (!strcmp(cmd, "serve")) return cmd_serve(argc, argv);
    if (!strcmp(cmd, "migrate")) return cmd_migrate(argc, argv);
    if (!strcmp(cmd, "user")) return cmd_user(argc, argv);
    if (!strcmp(cmd, "audit")) return cmd_audit(argc, argv);
    if (!strcmp(cmd, "keygen")) return cmd_keygen(argc, argv);
    if (!strcmp(cmd, "import")) {
        int rc = api_import_cli(argc, argv);
        return rc == 2 ? usage() : rc;
    }
    return usage();
}
