/* reply.c — response helpers: JSON, RFC 9457 problems, headers. */
#include "http/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *http_status_text(int s)
{
    switch (s) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    }
    return "Unknown";
}

static const char *problem_slug(int s)
{
    switch (s) {
    case 400: return "bad-request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not-found";
    case 405: return "method-not-allowed";
    case 408: return "request-timeout";
    case 409: return "conflict";
    case 412: return "precondition-failed";
    case 413: return "content-too-large";
    case 415: return "unsupported-media-type";
    case 422: return "validation-failed";
    case 428: return "precondition-required";
    case 429: return "too-many-requests";
    case 431: return "header-fields-too-large";
    case 501: return "not-implemented";
    case 503: return "service-unavailable";
    case 504: return "timeout";
    case 505: return "http-version-not-supported";
    }
    return "internal-error";
}

const char *http_header(const http_req_t *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (!strcasecmp(req->headers[i].name, name))
            return req->headers[i].value;
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
    if (!*errors)
        *errors = json_array();
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
    if (status >= 500 && status != 503 && status != 504 && status != 501)
        status = 500;
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
    if (errors)
        json_object_set_new(p, "errors", errors);
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
