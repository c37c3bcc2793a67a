/* market_bg.c — the marketplace's background thread: webhook deliveries from
 * the outbox, and the periodic sweeps (needs past their deadline become
 * expired; old Idempotency-Keys and ended rate-limit windows are dropped;
 * the search's lexeme frequencies are copied after a new ANALYZE; the
 * e-mail reminders three working days before a 补正 deadline are queued and
 * e-mails waiting too long dropped: mail_remind, mail_sweep).
 *
 * Why a thread of its own: a delivery waits on someone else's server (up to
 * webhook_timeout_ms), so it must never run on an event loop.  The thread has
 * its own blocking libpq connection and a plain HTTP/1.1 client (https
 * through OpenSSL, certificate and host name verified); request handlers
 * only insert outbox rows, in the transaction that caused them, and never
 * wait for a delivery.
 *
 * What must always hold:
 *   - a row is claimed with SELECT ... FOR UPDATE SKIP LOCKED inside a
 *     transaction that stays open while it is sent, so several servers never
 *     send one row at the same time, and a crash mid-delivery rolls the claim
 *     back (the row is sent again later: receivers deduplicate on
 *     X-Yizhan-Delivery);
 *   - a row is marked delivered only after a 2xx; anything else schedules a
 *     retry with exponential backoff (webhook_record() in SQL), up to
 *     webhook_max_attempts;
 *   - the thread wakes on NOTIFY webhook_outbox (sent by market_notify) and
 *     at least once a second, so deliveries start at once and retries are
 *     not late by more than a second. */
#include "api/api.h"
#include "api/market.h"

#include "config.h"
#include "db/outbox.h"
#include "domain/netaddr.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_EVERY_S 60
#define DELIVERIES_PER_ROUND 50

/* --- a minimal HTTP/1.1 POST client ------------------------------------------------ */

typedef struct {
    int fd;
    SSL *ssl;
    uint64_t deadline_ns;
} hconn_t;

static int remaining_ms(const hconn_t *h)
{
    uint64_t now = util_now_ns();
    return now >= h->deadline_ns ? 0 : (int)((h->deadline_ns - now) / 1000000) + 1;
}

static int wait_fd(const hconn_t *h, short events)
{
    struct pollfd p = {h->fd, events, 0};
    int ms = remaining_ms(h);
    if (ms <= 0) return -1;
    int r = poll(&p, 1, ms);
    return r > 0 ? 0 : -1;
}

static int hconn_write(hconn_t *h, const char *data, size_t n)
{
    while (n) {
        ssize_t w;
        if (h->ssl) {
            w = SSL_write(h->ssl, data, (int)n);
            if (w <= 0) {
                int e = SSL_get_error(h->ssl, (int)w);
                if ((e == SSL_ERROR_WANT_WRITE && !wait_fd(h, POLLOUT)) ||
                    (e == SSL_ERROR_WANT_READ && !wait_fd(h, POLLIN)))
                    continue;
                return -1;
            }
        } else {
            if (wait_fd(h, POLLOUT)) return -1;
            w = send(h->fd, data, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                return -1;
            }
        }
        data += w, n -= (size_t)w;
    }
    return 0;
}

static ssize_t hconn_read(hconn_t *h, char *buf, size_t n)
{
    for (;;) {
        if (h->ssl) {
            int r = SSL_read(h->ssl, buf, (int)n);
            if (r > 0) return r;
            int e = SSL_get_error(h->ssl, r);
            if ((e == SSL_ERROR_WANT_READ && !wait_fd(h, POLLIN)) ||
                (e == SSL_ERROR_WANT_WRITE && !wait_fd(h, POLLOUT)))
                continue;
            return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
        }
        if (wait_fd(h, POLLIN)) return -1;
        ssize_t r = recv(h->fd, buf, n, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        return r;
    }
}

static SSL_CTX *g_ssl_ctx;

/* A webhook may not reach a special-purpose address (loopback, private,
 * link-local, IPv4 embedded in IPv6, …) unless YIZHAN_WEBHOOK_ALLOW_PRIVATE:
 * otherwise a member could point the server at the intranet (SSRF) and learn
 * what answers from the delivery status.  The URL is checked again as it was
 * when saved (netaddr_webhook_url: https, no user:password@, no literal
 * special address or name: a row written past the API, or saved under older
 * rules, is caught here), then every address the name resolves to, on the
 * address actually connected to, so DNS cannot switch after the check. */
static bool address_forbidden(const struct sockaddr *sa)
{
    return !g_cfg.webhook_allow_private && netaddr_private(sa);
}

/* POST body to url.  Returns the HTTP status (100-599), or -1 with *why. */
static int http_post(const char *url, const char *headers, const char *body, int timeout_ms, char *why, size_t wn)
{
    netaddr_url_t u;
    const char *rcode, *refused;
    if (netaddr_webhook_url(url, g_cfg.webhook_allow_private, &u, &rcode, &refused) != 0) {
        snprintf(why, wn, "refused (%s): %s", rcode, refused);
        return -1;
    }
    bool tls = u.tls;
    const char *host = u.host, *port = u.port, *path = u.path;
    hconn_t h = {-1, NULL, util_now_ns() + (uint64_t)timeout_ms * 1000000ull};
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(why, wn, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int status = -1;
    snprintf(why, wn, "cannot connect to %s:%s", host, port);
    for (struct addrinfo *a = ai; a && h.fd < 0; a = a->ai_next) {
        if (address_forbidden(a->ai_addr)) {
            snprintf(why, wn,
                     "refused: %.120s resolves to a special-purpose address (loopback, private, link-local,"
                     " …); webhooks go to public addresses only",
                     host);
            continue;
        }
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        h.fd = fd;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            close(fd), h.fd = -1;
            continue;
        }
        int err = 0;
        socklen_t el = sizeof err;
        if (wait_fd(&h, POLLOUT) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
            close(fd), h.fd = -1;
            if (!remaining_ms(&h)) {
                snprintf(why, wn, "timed out connecting to %s:%s", host, port);
                break;
            }
        }
    }
    freeaddrinfo(ai);
    if (h.fd < 0) return -1;
    if (tls) {
        h.ssl = g_ssl_ctx ? SSL_new(g_ssl_ctx) : NULL;
        if (!h.ssl || !SSL_set_fd(h.ssl, h.fd) || !SSL_set_tlsext_host_name(h.ssl, host) ||
            !SSL_set1_host(h.ssl, host)) {
            snprintf(why, wn, "cannot set up TLS");
            goto done;
        }
        for (;;) {
            int r = SSL_connect(h.ssl);
            if (r == 1) break;
            int e = SSL_get_error(h.ssl, r);
            if ((e == SSL_ERROR_WANT_READ && !wait_fd(&h, POLLIN)) ||
                (e == SSL_ERROR_WANT_WRITE && !wait_fd(&h, POLLOUT)))
                continue;
            long v = SSL_get_verify_result(h.ssl);
            snprintf(why, wn, "TLS handshake with %s failed%s%s", host, v != X509_V_OK ? ": " : "",
                     v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
            goto done;
        }
    }
    buf_t req;
    buf_init(&req);
    bool default_port = !strcmp(port, tls ? "443" : "80");
    buf_printf(&req,
               "POST %s%s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUser-Agent: yizhan-webhook/1\r\n"
               "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
               *path == '/' ? "" : "/", path, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
               default_port ? "" : ":", default_port ? "" : port, strlen(body), headers);
    buf_puts(&req, body);
    int w = hconn_write(&h, req.data, req.len);
    buf_free(&req);
    if (w) {
        snprintf(why, wn, "sending to %s failed or timed out", host);
        goto done;
    }
    /* only the status line matters */
    char resp[512] = "";
    size_t got = 0;
    while (got < sizeof resp - 1 && !memchr(resp, '\n', got)) {
        ssize_t r = hconn_read(&h, resp + got, sizeof resp - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    resp[got] = '\0';
    int code;
    if (got >= 12 && !strncmp(resp, "HTTP/1.", 7) && sscanf(resp + 9, "%3d", &code) == 1 && code >= 100 &&
        code <= 599) {
        status = code;
        snprintf(why, wn, "HTTP %d", code);
    } else {
        snprintf(why, wn, got ? "the response from %s is not HTTP" : "no response from %s in time", host);
    }
done:
    if (h.ssl) SSL_free(h.ssl);
    close(h.fd);
    return status;
}

/* --- the thread -------------------------------------------------------------------------- */

/* At most once a minute, before a round of deliveries. */
static void sweep(PGconn *c)
{
    static uint64_t next_sweep; /* only this thread reads it */
    uint64_t now = util_now_ns();
    if (now < next_sweep) return;
    next_sweep = now + SWEEP_EVERY_S * 1000000000ull;
    PGresult *r = PQexec(
        c, "SELECT market_expire_needs(), idem_sweep(), rate_limits_sweep(), search_lexeme_freq_refresh(),"
           " contract_token_freq_refresh(),"
           " mail_remind(), mail_sweep()");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        int expired = atoi(PQgetvalue(r, 0, 0));
        if (expired > 0) {
            market_search_invalidate();
            log_msg(LOG_INFO, NULL, "market background: %d need(s) past their deadline are now expired", expired);
        }
    } else {
        log_msg(LOG_WARN, NULL, "market background: sweep failed: %s", PQerrorMessage(c));
    }
    PQclear(r);
}

static void sign(const char *secret, long t, const char *body, char out[65])
{
    buf_t m;
    buf_init(&m);
    buf_printf(&m, "%ld.", t);
    buf_puts(&m, body);
    unsigned char mac[32];
    unsigned int len = sizeof mac;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)m.data, m.len, mac, &len);
    buf_free(&m);
    util_hex(mac, 32, out);
}

/* Deliver the claimed row r (outbox.h) and record the outcome. */
static int deliver_one(PGconn *c, PGresult *r, const char *id)
{
    int status = -1;
    char why[300];
    if (PQgetisnull(r, 0, 1)) {
        const char *v[1] = {id};
        PQclear(PQexecParams(c,
                             "UPDATE webhook_outbox SET status = 'cancelled', last_error = 'the organisation"
                             " removed its webhook URL' WHERE id = $1::bigint",
                             1, NULL, v, NULL, NULL, 0));
        PQclear(r);
        return db_exec_ok(c, "market background", "COMMIT") ? 1 : -1;
    }
    /* the URL outlives r: it is logged after r is cleared (ASan found the use after free) */
    char *url = strdup(PQgetvalue(r, 0, 1));
    if (!url) {
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    const char *body = PQgetvalue(r, 0, 2), *event = PQgetvalue(r, 0, 3);
    const char *secret = PQgetvalue(r, 0, 4);
    int timeout_ms = atoi(PQgetvalue(r, 0, 5));
    if (timeout_ms < 100 || timeout_ms > 60000) timeout_ms = 5000;
    long t = (long)time(NULL);
    char sig[65];
    sign(secret, t, body, sig);
    char headers[512];
    snprintf(headers, sizeof headers,
             "X-Yizhan-Event: %s\r\nX-Yizhan-Delivery: %s\r\nX-Yizhan-Attempt: %d\r\n"
             "X-Yizhan-Signature: t=%ld,v1=%s\r\n",
             event, id, atoi(PQgetvalue(r, 0, 6)) + 1, t, sig);
    status = http_post(url, headers, body, timeout_ms, why, sizeof why);
    PQclear(r);
    char st[16];
    snprintf(st, sizeof st, "%d", status);
    const char *v[3] = {id, status > 0 ? st : NULL, status >= 200 && status <= 299 ? NULL : why};
    r = PQexecParams(c, "SELECT webhook_record($1::bigint, $2::int, $3)", 3, NULL, v, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) log_msg(LOG_WARN, NULL, "market background: recording delivery %s failed: %s", id, PQerrorMessage(c));
    PQclear(r);
    if (!ok) {
        free(url);
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    log_msg(status >= 200 && status <= 299 ? LOG_DEBUG : LOG_INFO, NULL, "webhook delivery %s to %s: %s", id, url, why);
    free(url);
    return db_exec_ok(c, "market background", "COMMIT") ? 1 : -1;
}

static const outbox_job_t DELIVERY_JOB = {
    .name = "market background",
    .app_name = "yizhan-market-bg",
    .channel = "webhook_outbox",
    .select = "SELECT o.id, g.webhook_url, (o.payload || jsonb_build_object('delivery_id', o.id))::text, o.event,"
              " webhook_secret_for(o.org_id), setting_int('webhook_timeout_ms', 5000), o.attempts"
              " FROM webhook_outbox o JOIN orgs g ON g.id = o.org_id",
    .alias = "o",
    .per_round = DELIVERIES_PER_ROUND,
    .handle = deliver_one,
    .tick = sweep,
};

int api_market_start(void)
{
    g_ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (g_ssl_ctx) {
        SSL_CTX_set_verify(g_ssl_ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_min_proto_version(g_ssl_ctx, TLS1_2_VERSION);
        if (SSL_CTX_set_default_verify_paths(g_ssl_ctx) != 1)
            log_msg(LOG_WARN, NULL, "market background: no CA certificates; https webhooks will fail");
    }
    return outbox_start(&DELIVERY_JOB);
}
