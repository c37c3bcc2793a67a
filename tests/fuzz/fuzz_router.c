/* Fuzz the router: "METHOD path" lines against the real route shapes. */
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

static void h(http_req_t *r)
{
    (void)r;
}
static route_t R[] = {
    {HTTP_GET, "/livez", h, 0, 0},
    {HTTP_GET, "/api/v1/codes/{list}", h, 0, 0},
    {HTTP_GET, "/api/v1/codes/regions/{code}", h, 0, 0},
    {HTTP_GET, "/api/v1/orgs/{id}", h, 0, 0},
    {HTTP_PATCH, "/api/v1/orgs/{id}", h, 0, 0},
    {HTTP_POST, "/api/v1/orgs/{id}/verify", h, 0, 0},
    {HTTP_GET, "/api/v1/contracts/{id}/attachments/{aid}", h, 0, 0},
    {HTTP_GET, "/api/v1/certificates/{registration_no}", h, 0, 0},
};

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    static int once;
    if (!once++) router_add(R, sizeof R / sizeof R[0]);
    if (n < 1 || n > 4096) return 0;
    char *path = malloc(n + 1);
    memcpy(path, data + 1, n - 1);
    path[n - 1] = '\0';
    int method = 1 << (data[0] % 7);
    arena_t *a = arena_new(512);
    const char *params[ROUTE_MAX_PARAMS];
    int np = 0, allow = 0;
    const route_t *r = router_match(a, method, path, params, &np, &allow);
    if (r) {
        if (r->method != method || np > ROUTE_MAX_PARAMS) abort();
        for (int i = 0; i < np; i++)
            if (!params[i] || !util_utf8_valid(params[i], strlen(params[i]))) abort();
    }
    arena_free(a);
    free(path);
    return 0;
}
