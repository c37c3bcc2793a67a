/* log.c — see log.h. */
#include "log.h"

#include "util/buf.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level g_level = LOG_INFO;
static const char *const NAMES[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level lvl)
{
    g_level = lvl;
}
int log_enabled(enum log_level lvl)
{
    return lvl >= g_level;
}

int log_parse_level(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, NAMES[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    return -1;
}

void log_timestamp(char out[LOG_TS_LEN])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, LOG_TS_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

void log_raw_line(const char *line, unsigned long len)
{
    /* stderr is unbuffered; one write keeps the line whole. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

static int g_access_fd = STDERR_FILENO;

int log_access_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return -1;
    g_access_fd = fd;
    return 0;
}

void log_access_line(const char *line, unsigned long len)
{
    /* O_APPEND: each line lands whole at the end, also beside logrotate's copytruncate */
    ssize_t w = write(g_access_fd, line, len);
    (void)w;
}

void log_msg(enum log_level lvl, const char *request_id, const char *fmt, ...)
{
    if (lvl < g_level) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char when[LOG_TS_LEN];
    log_timestamp(when);
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",", when, NAMES[lvl]);
    if (request_id) {
        buf_puts(&b, "\"request_id\":");
        buf_json_str(&b, request_id);
        buf_putc(&b, ',');
    }
    buf_puts(&b, "\"msg\":");
    buf_json_str(&b, msg);
    buf_puts(&b, "}\n");
    log_raw_line(b.data, b.len);
    buf_free(&b);
}
