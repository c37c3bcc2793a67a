/* netaddr.c — see netaddr.h.  The blocks are IANA's IPv4 and IPv6
 * Special-Purpose Address Registries (RFC 6890 and its updates) as of 2024,
 * every entry refused whatever its "globally reachable" column says: a
 * webhook has no business with any of them. */
#include "domain/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    uint32_t net;
    int bits;
} V4[] = {
    {0x00000000, 8},  /* 0.0.0.0/8 "this network" */
    {0x0A000000, 8},  /* 10.0.0.0/8 private */
    {0x64400000, 10}, /* 100.64.0.0/10 shared address space (carrier-grade NAT) */
    {0x7F000000, 8},  /* 127.0.0.0/8 loopback */
    {0xA9FE0000, 16}, /* 169.254.0.0/16 link-local (cloud metadata services) */
    {0xAC100000, 12}, /* 172.16.0.0/12 private */
    {0xC0000000, 24}, /* 192.0.0.0/24 IETF protocol assignments (DS-Lite, PCP, TURN, NAT64 discovery) */
    {0xC0000200, 24}, /* 192.0.2.0/24 documentation (TEST-NET-1) */
    {0xC01FC400, 24}, /* 192.31.196.0/24 AS112-v4 */
    {0xC034C100, 24}, /* 192.52.193.0/24 AMT */
    {0xC0586300, 24}, /* 192.88.99.0/24 6to4 relay anycast (deprecated) */
    {0xC0A80000, 16}, /* 192.168.0.0/16 private */
    {0xC0AF3000, 24}, /* 192.175.48.0/24 direct delegation AS112 */
    {0xC6120000, 15}, /* 198.18.0.0/15 benchmarking */
    {0xC6336400, 24}, /* 198.51.100.0/24 documentation (TEST-NET-2) */
    {0xCB007100, 24}, /* 203.0.113.0/24 documentation (TEST-NET-3) */
    {0xE0000000, 4},  /* 224.0.0.0/4 multicast (its own registry) */
    {0xF0000000, 4},  /* 240.0.0.0/4 reserved, 255.255.255.255 limited broadcast */
};

static const struct {
    unsigned char p[16];
    int bits;
} V6[] = {
    {{0}, 96},                                  /* ::/96: ::, ::1 and IPv4-compatible ::a.b.c.d */
    {{[10] = 0xff, [11] = 0xff}, 96},           /* ::ffff:0:0/96 IPv4-mapped */
    {{0x00, 0x64, 0xff, 0x9b}, 96},             /* 64:ff9b::/96 NAT64 */
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48}, /* 64:ff9b:1::/48 local-use IPv4/IPv6 translation */
    {{0x01, 0x00}, 64},                         /* 100::/64 discard-only */
    {{0x01, 0x00, 0, 0, 0, 0, 0, 0x01}, 64},    /* 100:0:0:1::/64 dummy prefix */
    {{0x20, 0x01, 0x00, 0x00}, 23},             /* 2001::/23 IETF protocol assignments: Teredo
                                                             2001::/32, benchmarking, AMT, AS112, ORCHID */
    {{0x20, 0x01, 0x0d, 0xb8}, 32},             /* 2001:db8::/32 documentation */
    {{0x20, 0x02}, 16},                         /* 2002::/16 6to4 */
    {{0x26, 0x20, 0x00, 0x4f, 0x80, 0x00}, 48}, /* 2620:4f:8000::/48 direct delegation AS112 */
    {{0x3f, 0xff}, 20},                         /* 3fff::/20 documentation */
    {{0x5f, 0x00}, 16},                         /* 5f00::/16 SRv6 SIDs */
    {{0xfc}, 7},                                /* fc00::/7 unique-local */
    {{0xfe, 0x80}, 10},                         /* fe80::/10 link-local */
    {{0xfe, 0xc0}, 10},                         /* fec0::/10 site-local (deprecated) */
    {{0xff}, 8},                                /* ff00::/8 multicast */
};

bool netaddr_private_v4(uint32_t a)
{
    for (size_t i = 0; i < LEN(V4); i++)
        if ((a >> (32 - V4[i].bits)) == (V4[i].net >> (32 - V4[i].bits))) return true;
    return false;
}

static bool v6_in(const unsigned char *a, const unsigned char *p, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, p, (size_t)whole) != 0) return false;
    if (!rest) return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (p[whole] & mask);
}

bool netaddr_private_v6(const unsigned char a[16])
{
    for (size_t i = 0; i < LEN(V6); i++)
        if (v6_in(a, V6[i].p, V6[i].bits)) return true;
    return false;
}

bool netaddr_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) return netaddr_private_v4(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6) return netaddr_private_v6(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return true; /* anything else is not a public internet address */
}

/* --- webhook URLs ------------------------------------------------------------------------- */

/* IANA's Special-Use Domain Names that can never be a public host (and the
 * reverse-lookup trees); a name equal to one or ending in "." + one. */
static const char *const SPECIAL_NAMES[] = {
    "localhost",    "local",       "test",        "invalid",      "example",  "onion",
    "alt",          "internal",    "home.arpa",   "in-addr.arpa", "ip6.arpa", "resolver.arpa",
    "service.arpa", "example.com", "example.net", "example.org",
};

static bool special_name(const char *host)
{
    size_t n = strlen(host);
    while (n && host[n - 1] == '.') n--; /* "localhost." is localhost */
    for (size_t i = 0; i < LEN(SPECIAL_NAMES); i++) {
        size_t m = strlen(SPECIAL_NAMES[i]);
        if (n == m && !strncasecmp(host, SPECIAL_NAMES[i], m)) return true;
        if (n > m && host[n - m - 1] == '.' && !strncasecmp(host + n - m, SPECIAL_NAMES[i], m)) return true;
    }
    return false;
}

#define FAIL(c, w)   \
    do {             \
        *code = (c); \
        *why = (w);  \
        return -1;   \
    } while (0)

int netaddr_webhook_url(const char *url, bool allow_private, netaddr_url_t *u, const char **code, const char **why)
{
    memset(u, 0, sizeof *u);
    const char *p = NULL;
    if (!strncmp(url, "https://", 8)) u->tls = true, p = url + 8;
    else if (!strncmp(url, "http://", 7))
        u->tls = false, p = url + 7;
    else
        FAIL("invalid_format", "must be an https:// URL");
    for (const char *q = url; *q; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
            FAIL("invalid_format", "must be a URL without spaces, control or non-ASCII characters");
    if (!u->tls && !allow_private) FAIL("https_required", "webhooks are sent over https only");
    const char *end = p + strcspn(p, "/?#");
    if (strchr(p, '#')) FAIL("invalid_format", "must not have a fragment (#)");
    if (memchr(p, '@', (size_t)(end - p))) FAIL("userinfo", "must not carry a user name or password (user:password@)");
    const char *h = p, *he, *colon;
    if (*p == '[') {
        he = memchr(p, ']', (size_t)(end - p));
        if (!he) FAIL("invalid_format", "an IPv6 address must be written in brackets: https://[2001:db8::1]/");
        h = p + 1;
        colon = he + 1 < end ? he + 1 : NULL;
        if (colon && *colon != ':') FAIL("invalid_format", "malformed host");
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        he = colon ? colon : end;
    }
    size_t hl = (size_t)(he - h);
    if (!hl || hl >= sizeof u->host) FAIL("invalid_format", "must name a host");
    memcpy(u->host, h, hl);
    u->host[hl] = '\0';
    if (colon) {
        size_t pl = (size_t)(end - colon - 1);
        unsigned long port = 0;
        if (!pl || pl > 5 || strspn(colon + 1, "0123456789") < pl) FAIL("invalid_format", "the port must be a number");
        for (size_t i = 0; i < pl; i++) port = port * 10 + (unsigned long)(colon[1 + i] - '0');
        if (port < 1 || port > 65535) FAIL("invalid_format", "the port must be between 1 and 65535");
        snprintf(u->port, sizeof u->port, "%lu", port);
    } else {
        snprintf(u->port, sizeof u->port, "%s", u->tls ? "443" : "80");
    }
    u->path = *end ? end : "/";

    if (*p == '[') {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, u->host, &a6) != 1)
            FAIL("invalid_format", "not an IPv6 address (zone identifiers are not allowed)");
        if (!allow_private && netaddr_private_v6(a6.s6_addr))
            FAIL("forbidden_address", "a special-purpose address (loopback, private, link-local, an IPv4 embedding, "
                                      "…): webhooks go to public addresses only");
        return 0;
    }
    /* Whatever a resolver would read as an IPv4 address — 127.1, 0x7f.0.0.1,
     * 2130706433, 0177.0.0.1 — is an address: only the dotted decimal form is
     * accepted, so what is saved is what is checked. */
    struct in_addr a4;
    if (inet_aton(u->host, &a4)) {
        struct in_addr canon;
        if (inet_pton(AF_INET, u->host, &canon) != 1)
            FAIL("invalid_format", "write an IPv4 address as four decimal numbers (a.b.c.d)");
        if (!allow_private && netaddr_private_v4(ntohl(a4.s_addr)))
            FAIL("forbidden_address", "a special-purpose address (loopback, private, link-local, …): webhooks go "
                                      "to public addresses only");
        return 0;
    }
    for (const char *q = u->host; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '-' ||
              *q == '.'))
            FAIL("invalid_format", "a host name has letters, digits, '-' and '.' only");
    if (!allow_private && (special_name(u->host) || !strchr(u->host, '.')))
        FAIL("forbidden_host", "a local or special-use name (localhost, .local, .internal, a name without a dot, "
                               "…): webhooks go to public hosts only");
    return 0;
}
