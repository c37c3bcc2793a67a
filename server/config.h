/* config.h — every option in one table (config.c): name, type, default,
 * env var YIZHAN_<NAME>, description.  Values come from the defaults, then an
 * optional KEY=VALUE file (YIZHAN_CONFIG_FILE), then the environment; all are
 * validated at start and a bad one stops the program naming the option. */
#ifndef YZ_CONFIG_H
#define YZ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct config {
    char *database_url;         /* libpq conninfo of the primary */
    char *db_role;              /* role the server switches to after connecting */
    char *replica_url;          /* read replica for public reads, search, statistics ('' = none) */
    int read_own_writes_ms;     /* after a user's write, their reads stay on the primary this long */
    char *listen_host;          /* from LISTEN host:port */
    bool webhook_allow_private; /* let webhooks reach loopback/private addresses (tests, intranets) */
    char *trusted_proxies;      /* comma-separated peer addresses whose X-Real-IP / X-Forwarded-For we believe */
    int listen_port;
    int threads;          /* event-loop worker threads */
    int db_conns;         /* database connections per worker */
    int db_queue_max;     /* queued + in-flight queries per worker */
    int query_timeout_ms; /* statement_timeout; → 504 */
    size_t max_body_bytes;
    size_t max_header_bytes;
    int read_timeout_ms; /* whole request, from its first byte */
    int write_timeout_ms;
    int idle_timeout_ms; /* keep-alive idle */
    int shutdown_timeout_ms;
    int max_connections;      /* per worker */
    int max_conns_per_client; /* open connections per client address, all workers (0 = no limit) */
    size_t max_output_bytes;  /* socket send buffer per connection (SO_SNDBUF; 0 = the kernel's autotuning) */
    char *jwt_secret_file;
    char *signing_key_dir;
    char *web_root;
    char *api_spec;
    int static_brotli_quality; /* of the web files' br forms, made once at start (0 = none) */
    char *migrations_dir;
    char *log_level;
    char *access_log_to;         /* ACCESS_LOG as given: stderr, off or a file path */
    bool access_log;             /* from access_log_to: not off */
    const char *access_log_file; /* from access_log_to: the file to append to, NULL = stderr */
    char *public_url;            /* the site's address as users reach it, for links in e-mail ('' = http://LISTEN) */
    char *smtp_url;              /* smtp://host:587 (STARTTLS) or smtps://host:465; '' = no e-mail is sent */
    char *smtp_user;             /* SMTP login when not in the URL */
    char *smtp_password;
    char *smtp_ca_file;    /* CA bundle to verify the SMTP server with ('' = the system's) */
    char *mail_from;       /* the sender address of the e-mails */
    int mail_retry_base_s; /* first retry after this, doubling (at most an hour) */
    int mail_max_attempts; /* then the e-mail is failed */
    int mail_timeout_ms;   /* one SMTP conversation */
    int hash_threads;      /* blocking-work pool (password hashing) */
    int hash_queue_max;
    int password_iterations; /* PBKDF2 iterations of new hashes (tests lower it) */
} config_t;

extern config_t g_cfg;

/* Load defaults, file and environment; on error print to stderr naming the
 * option and return -1. */
int config_load(void) __attribute__((warn_unused_result));
/* Print the option table (for `yizhan config` and the README). */
void config_print_table(void);

#endif
