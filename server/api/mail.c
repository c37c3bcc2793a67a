/* mail.c — e-mail of the message-centre events: the thread that sends the
 * outbox (mail_outbox, filled by notify() and mail_remind() in
 * migrations/functions/notifications.sql) over SMTP.
 *
 * Why libcurl: SMTP with STARTTLS, authentication and certificate checks is a
 * protocol and TLS client we would otherwise write and keep ourselves; curl's
 * is well kept and in Debian.  Why a thread of its own: a conversation waits
 * on someone else's server (up to YIZHAN_MAIL_TIMEOUT_MS), so it never runs on
 * an event loop; the thread has its own blocking connection (db_connect_job).
 *
 * What must always hold:
 *   - a row is claimed with SELECT ... FOR UPDATE SKIP LOCKED inside a
 *     transaction that stays open while it is sent, so two servers never send
 *     one row, and a crash mid-send rolls the claim back (it is sent again:
 *     the Message-ID stays the same, so a receiver may drop the copy);
 *   - a row is marked sent only when the SMTP server accepted the message;
 *     anything else is retried with exponential backoff (mail_record), up to
 *     YIZHAN_MAIL_MAX_ATTEMPTS, then failed with the error;
 *   - without YIZHAN_SMTP_URL there is no thread: nothing is claimed, nothing
 *     fails, and the sweep (market_bg.c) drops what waited longer than
 *     mail_pending_max_hours. */
#include "api/api.h"

#include "config.h"
#include "db/outbox.h"
#include "log.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SENDS_PER_ROUND 50

static uint64_t g_sent, g_failed, g_retried;
static bool g_enabled;

/* --- the message ------------------------------------------------------------------------ */

static void b64(buf_t *out, const unsigned char *p, size_t n)
{
    unsigned char tmp[4 * 57 / 3 + 2];
    while (n) {
        size_t k = n > 57 ? 57 : n; /* 57 bytes → one 76-character line */
        int w = EVP_EncodeBlock(tmp, p, (int)k);
        buf_append(out, tmp, (size_t)w);
        p += k, n -= k;
        if (n) buf_puts(out, "\r\n");
    }
}

/* An RFC 2047 encoded-word header value, split at character boundaries into
 * words of at most 45 bytes (60 base64 characters, 72 with the frame), folded. */
static void encoded_words(buf_t *out, const char *s)
{
    size_t n = strlen(s), i = 0;
    bool first = true;
    while (i < n) {
        size_t k = n - i > 45 ? 45 : n - i;
        while (i + k < n && k > 0 && ((unsigned char)s[i + k] & 0xC0) == 0x80) k--; /* not inside a character */
        if (!k) k = n - i > 45 ? 45 : n - i;
        if (!first) buf_puts(out, "\r\n ");
        buf_puts(out, "=?UTF-8?B?");
        b64(out, (const unsigned char *)s + i, k);
        buf_puts(out, "?=");
        first = false;
        i += k;
    }
}

static const char *addr_domain(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at && at[1] ? at + 1 : "localhost";
}

/* The public address links start with: YIZHAN_PUBLIC_URL, or http://LISTEN. */
static void public_base(buf_t *out)
{
    if (g_cfg.public_url[0]) {
        size_t n = strlen(g_cfg.public_url);
        while (n && g_cfg.public_url[n - 1] == '/') n--;
        buf_append(out, g_cfg.public_url, n);
        return;
    }
    const char *h = g_cfg.listen_host && *g_cfg.listen_host ? g_cfg.listen_host : "localhost";
    bool v6 = strchr(h, ':') != NULL;
    buf_printf(out, "http://%s%s%s:%d", v6 ? "[" : "", h, v6 ? "]" : "", g_cfg.listen_port);
}

/* The whole message (headers and a base64 text/plain UTF-8 body), CRLF lines. */
static void compose(buf_t *m, const char *id, const char *created, const char *to, const char *subject,
                    const char *body, const char *link, const char *kind)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    buf_printf(m, "Date: %s\r\nFrom: ", date);
    encoded_words(m, "驿站");
    buf_printf(m, " <%s>\r\nTo: <%s>\r\nSubject: ", g_cfg.mail_from, to);
    encoded_words(m, subject);
    buf_printf(m,
               "\r\nMessage-ID: <yizhan-mail-%s-%s@%s>\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n"
               "Auto-Submitted: auto-generated\r\nX-Yizhan-Kind: %s\r\n\r\n",
               id, created, addr_domain(g_cfg.mail_from), kind);
    buf_t text;
    buf_init(&text);
    buf_puts(&text, body);
    buf_puts(&text, "\n\n查看详情：");
    public_base(&text);
    buf_printf(&text,
               "/#%s\n\n——\n这封邮件由驿站自动发送，请勿直接回复。您在“个人资料”中开启了邮件通知，"
               "如不再需要，可在该页面关闭。\n",
               link);
    /* CRLF line ends in the text, as SMTP wants them */
    buf_t crlf;
    buf_init(&crlf);
    for (size_t i = 0; i < text.len; i++) {
        if (text.data[i] == '\n' && (i == 0 || text.data[i - 1] != '\r')) buf_puts(&crlf, "\r");
        buf_append(&crlf, text.data + i, 1);
    }
    b64(m, (const unsigned char *)crlf.data, crlf.len);
    buf_puts(m, "\r\n");
    buf_free(&crlf);
    buf_free(&text);
}

/* --- SMTP through libcurl ------------------------------------------------------------------ */

typedef struct {
    const char *p;
    size_t left;
} reader_t;

static size_t read_cb(char *dst, size_t size, size_t nitems, void *arg)
{
    reader_t *r = arg;
    size_t n = size * nitems < r->left ? size * nitems : r->left;
    memcpy(dst, r->p, n);
    r->p += n, r->left -= n;
    return n;
}

/* Send one message to one address.  0 when the server accepted it, else -1
 * with *why. */
static int smtp_send(const char *to, const char *msg, size_t len, char *why, size_t wn)
{
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(why, wn, "cannot start libcurl");
        return -1;
    }
    char from[300], rcpt[300], err[CURL_ERROR_SIZE] = "";
    snprintf(from, sizeof from, "<%s>", g_cfg.mail_from);
    snprintf(rcpt, sizeof rcpt, "<%s>", to);
    struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
    reader_t r = {msg, len};
    curl_easy_setopt(h, CURLOPT_URL, g_cfg.smtp_url);
    curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL); /* smtp://: STARTTLS or nothing */
    if (g_cfg.smtp_ca_file[0]) curl_easy_setopt(h, CURLOPT_CAINFO, g_cfg.smtp_ca_file);
    if (g_cfg.smtp_user[0]) curl_easy_setopt(h, CURLOPT_USERNAME, g_cfg.smtp_user);
    if (g_cfg.smtp_password[0]) curl_easy_setopt(h, CURLOPT_PASSWORD, g_cfg.smtp_password);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, &r);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)g_cfg.mail_timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(g_cfg.mail_timeout_ms < 10000 ? g_cfg.mail_timeout_ms : 10000));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) snprintf(why, wn, "%s%s%s", curl_easy_strerror(rc), err[0] ? ": " : "", err);
    curl_slist_free_all(rcpts);
    curl_easy_cleanup(h);
    return rc == CURLE_OK ? 0 : -1;
}

/* --- the thread ------------------------------------------------------------------------------ */

/* Send the claimed e-mail r (outbox.h) and record the outcome. */
static int send_one(PGconn *c, PGresult *r, const char *id)
{
    buf_t m;
    buf_init(&m);
    compose(&m, id, PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
            PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5));
    char why[CURL_ERROR_SIZE + 128] = "";
    int rc = smtp_send(PQgetvalue(r, 0, 1), m.data, m.len, why, sizeof why);
    buf_free(&m);
    PQclear(r);
    char base[16], tries[16];
    snprintf(base, sizeof base, "%d", g_cfg.mail_retry_base_s);
    snprintf(tries, sizeof tries, "%d", g_cfg.mail_max_attempts);
    const char *v[4] = {id, rc == 0 ? NULL : why, base, tries};
    r = PQexecParams(c, "SELECT mail_record($1::bigint, $2, $3::float8, $4::int)", 4, NULL, v, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    const char *st = ok ? PQgetvalue(r, 0, 0) : "";
    bool sent = !strcmp(st, "sent"), failed = !strcmp(st, "failed");
    if (!ok) log_msg(LOG_WARN, NULL, "mail: recording e-mail %s failed: %s", id, PQerrorMessage(c));
    PQclear(r);
    if (!ok) {
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    if (!db_exec_ok(c, "mail", "COMMIT")) return -1;
    if (sent) __atomic_add_fetch(&g_sent, 1, __ATOMIC_RELAXED);
    else if (failed)
        __atomic_add_fetch(&g_failed, 1, __ATOMIC_RELAXED);
    else
        __atomic_add_fetch(&g_retried, 1, __ATOMIC_RELAXED);
    if (rc != 0)
        log_msg(failed ? LOG_WARN : LOG_INFO, NULL, "mail: e-mail %s not sent%s: %s", id,
                failed ? " (failed: no attempts left)" : " (will retry)", why);
    return 1;
}

static const outbox_job_t MAIL_JOB = {
    .name = "mail",
    .app_name = "yizhan-mail",
    .channel = "mail_outbox",
    .select = "SELECT m.id, m.to_addr, m.subject, m.body, m.link_path, m.kind,"
              " floor(extract(epoch FROM m.created_at))::bigint FROM mail_outbox m",
    .alias = "m",
    .per_round = SENDS_PER_ROUND,
    .handle = send_one,
};

int api_mail_start(void)
{
    if (!g_cfg.smtp_url[0]) {
        log_msg(LOG_INFO, NULL, "mail: YIZHAN_SMTP_URL is not set; no e-mail is sent");
        return 0;
    }
    const char *at = strchr(g_cfg.mail_from, '@');
    if (!at || at == g_cfg.mail_from || !at[1] || strpbrk(g_cfg.mail_from, " \t\r\n<>\"")) {
        log_msg(LOG_ERROR, NULL,
                "mail: YIZHAN_SMTP_URL is set, so YIZHAN_MAIL_FROM must be the sender address"
                " (name@domain)");
        return -1;
    }
    if (strncmp(g_cfg.smtp_url, "smtp://", 7) != 0 && strncmp(g_cfg.smtp_url, "smtps://", 8) != 0) {
        log_msg(LOG_ERROR, NULL, "mail: YIZHAN_SMTP_URL must start with smtp:// (STARTTLS) or smtps://");
        return -1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        log_msg(LOG_ERROR, NULL, "mail: cannot initialise libcurl");
        return -1;
    }
    g_enabled = true; /* before the thread: /metrics reads it */
    if (outbox_start(&MAIL_JOB) != 0) {
        g_enabled = false;
        return -1;
    }
    log_msg(LOG_INFO, NULL, "mail: sending e-mail through %s",
            strchr(g_cfg.smtp_url, '@') ? "the configured SMTP server" : g_cfg.smtp_url);
    return 0;
}

void api_mail_metrics_render(buf_t *out)
{
    buf_printf(out,
               "# HELP yizhan_mail_enabled Whether this server sends e-mail (YIZHAN_SMTP_URL set).\n"
               "# TYPE yizhan_mail_enabled gauge\n"
               "yizhan_mail_enabled %d\n"
               "# HELP yizhan_mail_sent_total E-mails the SMTP server accepted from this server.\n"
               "# TYPE yizhan_mail_sent_total counter\n"
               "yizhan_mail_sent_total %llu\n"
               "# HELP yizhan_mail_failed_total E-mails given up after YIZHAN_MAIL_MAX_ATTEMPTS.\n"
               "# TYPE yizhan_mail_failed_total counter\n"
               "yizhan_mail_failed_total %llu\n"
               "# HELP yizhan_mail_retries_total Sending attempts that failed and were scheduled again.\n"
               "# TYPE yizhan_mail_retries_total counter\n"
               "yizhan_mail_retries_total %llu\n",
               g_enabled ? 1 : 0, (unsigned long long)__atomic_load_n(&g_sent, __ATOMIC_RELAXED),
               (unsigned long long)__atomic_load_n(&g_failed, __ATOMIC_RELAXED),
               (unsigned long long)__atomic_load_n(&g_retried, __ATOMIC_RELAXED));
}
