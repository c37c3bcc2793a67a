/* log.h — JSON-lines logging to stderr.
 * Every line is one JSON object: {"ts","level","msg",...fields}.  Lines about a
 * request carry its "request_id".  Writes are single write(2) calls so lines
 * from several threads never interleave. */
#ifndef YZ_LOG_H
#define YZ_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level lvl);
int log_parse_level(const char *s, enum log_level *out);
int log_enabled(enum log_level lvl);
/* fmt produces the message; request_id may be NULL. */
void log_msg(enum log_level lvl, const char *request_id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define LOG_TS_LEN 64
/* RFC 3339 UTC timestamp with milliseconds. */
void log_timestamp(char out[LOG_TS_LEN]);
/* Write an already formatted JSON object line (no trailing newline needed). */
void log_raw_line(const char *line, unsigned long len);
/* The access log: stderr unless log_access_open() named a file (appended to,
 * created 0640 when missing); -1 with errno when it cannot be opened. */
int log_access_open(const char *path) __attribute__((warn_unused_result));
void log_access_line(const char *line, unsigned long len);

#define LOG_D(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)
#define LOG_I(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define LOG_W(...) log_msg(LOG_WARN, NULL, __VA_ARGS__)
#define LOG_E(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)

#endif
