/* connect.c — how every connection to the database is opened: the event
 * loops' pipelined ones (db.c) and the blocking ones of the command line,
 * the marketplace's delivery thread and the export pool, with the same
 * startup options (db.h). */
#include "db/db.h"

#include "config.h"
#include "log.h"

#include <stdio.h>

void db_conn_options(char *out, size_t n, int statement_ms, bool app_role)
{
    snprintf(out, n, "-c statement_timeout=%d -c lock_timeout=%d -c TimeZone=UTC%s%s", statement_ms,
             g_cfg.query_timeout_ms, app_role && g_cfg.db_role[0] ? " -c role=" : "", app_role ? g_cfg.db_role : "");
}

static PGconn *connect_with(const char *app, int statement_ms, bool app_role, char *why, size_t wn)
{
    char opts[256];
    db_conn_options(opts, sizeof opts, statement_ms, app_role);
    const char *keys[] = {"dbname", "application_name", "client_encoding", "options", NULL};
    const char *vals[] = {g_cfg.database_url, app, "UTF8", opts, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(why, wn, "%s", c ? PQerrorMessage(c) : "out of memory\n");
        PQfinish(c);
        return NULL;
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

PGconn *db_connect_blocking(void)
{
    char why[512];
    PGconn *c = connect_with("yizhan-cli", 0, false, why, sizeof why);
    if (!c) fprintf(stderr, "yizhan: cannot connect to the database (YIZHAN_DATABASE_URL): %s", why);
    return c;
}

PGconn *db_connect_job(const char *application_name, int statement_timeout_ms)
{
    char why[512];
    return connect_with(application_name, statement_timeout_ms, true, why, sizeof why);
}

bool db_exec_ok(PGconn *c, const char *who, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) log_msg(LOG_WARN, NULL, "%s: %s: %s", who, sql, PQerrorMessage(c));
    PQclear(r);
    return ok;
}
