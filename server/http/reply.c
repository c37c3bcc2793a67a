/* reply.c — response helpers: JSON, RFC 9457 problems, headers. */
#include "http/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Every status this server sends, in one table: the reason phrase, the
 * problem type, and (by position) the slot /metrics counts it in. */
static const struct {
    int code;
    const char *text, *slug;
} STATUS[] = {
    {100, "Continue", NULL},
    {200, "OK", NULL},
    {201, "Created", NULL},
    {202, "Accepted", NULL},
    {204, "No Content", NULL},
    {304, "Not Modified", NULL},
    {400, "Bad Request", "bad-request"},
    {401, "Unauthorized", "unauthorized"},
    {403, "Forbidden", "forbidden"},
    {404, "Not Found", "not-found"},
    {405, "Method Not Allowed", "method-not-allowed"},
    {408, "Request Timeout", "request-timeout"},
    {409, "Conflict", "conflict"},
    {410, "Gone", "gone"},
    {411, "Length Required", "length-required"},
    {412, "Precondition Failed", "precondition-failed"},
    {413, "Content Too Large", "content-too-large"},
    {415, "Unsupported Media Type", "unsupported-media-type"},
    {422, "Unprocessable Content", "validation-failed"},
    {428, "Precondition Required", "precondition-required"},
    {429, "Too Many Requests", "too-many-requests"},
    {431, "Request Header Fields Too Large", "header-fields-too-large"},
    {500, "Internal Server Error", "internal-error"},
    {501, "Not Implemented", "not-implemented"},
    {503, "Service Unavailable", "service-unavailable"},
    {504, "Gateway Timeout", "timeout"},
    {505, "HTTP Version Not Supported", "http-version-not-supported"},
};

int http_status_slot(int status)
{
    for (int i = 0; i < (int)ARRAY_LEN(STATUS); i++)
        if (STATUS[i].code == status) return i;
    return -1;
}

int http_status_count(void)
{
    return (int)ARRAY_LEN(STATUS);
}
int http_status_at(int slot)
{
    return STATUS[slot].code;
}

const char *http_status_text(int s)
{
    int i = http_status_slot(s);
    return i < 0 ? "Unknown" : STATUS[i].text;
}

static const char *problem_slug(int s)
{
    int i = http_status_slot(s);
    return i < 0 || !STATUS[i].slug ? "internal-error" : STATUS[i].slug;
}

const char *http_header(const http_req_t *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (!strcasecmp(req->headers[i].name, name)) return req->headers[i].value;
    return NULL;
}

void http_add_header(http_req_t *req, const char *name, const char *value)
{
    buf_printf(&req->resp_headers, "%s: %s\r\n", name, value);
}

void http_reply_json(http_req_t *req, int status, const char *json, size_t len)
{
    http_reply(req, status, "application/json", json, len);
}

void http_reply_json_t(http_req_t *req, int status, json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s) {
        http_problem(req, 500, "could not encode the response", NULL);
        return;
    }
    http_reply_json(req, status, s, strlen(s));
    free(s);
}

void http_error_add(json_t **errors, const char *field, const char *code, const char *message)
{
    if (!*errors) *errors = json_array();
    json_array_append_new(*errors, json_pack("{s:s, s:s, s:s}", "field", field, "code", code, "message", message));
}

void http_problem(http_req_t *req, int status, const char *detail, json_t *errors)
{
    if ((status == 503 || status == 429) &&
        !(req->resp_headers.data && strcasestr(req->resp_headers.data, "Retry-After:")))
        http_add_header(req, "Retry-After", "1");
    /* RFC 9110: every 401 names the scheme to use */
    if (status == 401 && !(req->resp_headers.data && strcasestr(req->resp_headers.data, "WWW-Authenticate:")))
        http_add_header(req, "WWW-Authenticate", "Bearer");
    /* 5xx other than these would claim a fault we did not have */
    if (status >= 500 && status != 501 && status != 503 && status != 504 && status != 505) status = 500;
    json_t *p = json_object();
    char type[96];
    snprintf(type, sizeof type, "urn:yizhan:problem:%s", problem_slug(status));
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(http_status_text(status)));
    json_object_set_new(p, "status", json_integer(status));
    json_object_set_new(p, "detail", json_string(detail ? detail : http_status_text(status)));
    if (req->path && util_utf8_valid(req->path, strlen(req->path)))
        json_object_set_new(p, "instance", json_string(req->path));
    json_object_set_new(p, "request_id", json_string(req->request_id));
    if (errors) json_object_set_new(p, "errors", errors);
    char *s = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    http_reply(req, status, "application/problem+json", s, s ? strlen(s) : 0);
    free(s);
}

void http_problemf(http_req_t *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_problem(req, status, msg, NULL);
}
