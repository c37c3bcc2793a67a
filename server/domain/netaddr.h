/* netaddr.h — classify addresses and check webhook URLs.  Pure code: no DNS,
 * no sockets.
 *
 * Webhooks let a member make the server send requests to a URL of its
 * choosing; aimed at the intranet, the metadata service (169.254.169.254) or
 * loopback, that is server-side request forgery.  So a webhook URL is checked
 * twice with the same rules: when it is saved (PATCH /orgs/{id}; literal
 * addresses and special-use names, netaddr_webhook_url) and when a delivery
 * connects (every address the name resolved to, netaddr_private): https only,
 * no user:password@, and no address of IANA's special-purpose registries. */
#ifndef YZ_NETADDR_H
#define YZ_NETADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* True for an address that is not public unicast: every block of the IANA
 * IPv4 and IPv6 Special-Purpose Address Registries (this network, private,
 * shared, loopback, link-local, IETF protocol assignments, documentation,
 * benchmarking, AS112, AMT, 6to4 relay, reserved, broadcast; IPv4-mapped,
 * IPv4-compatible, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, discard-only,
 * 2001::/23 with Teredo, ORCHID, documentation 2001:db8::/32 and 3fff::/20,
 * 6to4 2002::/16, SRv6 5f00::/16, unique-local fc00::/7, link-local fe80::/10)
 * plus multicast and the old site-local fec0::/10.  Any family other than
 * IPv4 and IPv6 is true as well. */
bool netaddr_private(const struct sockaddr *sa);
bool netaddr_private_v4(uint32_t host_order);
bool netaddr_private_v6(const unsigned char a[16]);

/* A URL split for an HTTP client: http[s]://host[:port][/path...]. */
typedef struct {
    bool tls;
    char host[256];   /* without the brackets of an IPv6 literal */
    char port[8];     /* "443", "80" or the URL's */
    const char *path; /* into the URL: "/..." (or "/" when absent; may start with '?') */
} netaddr_url_t;

/* Check a webhook URL without resolving it.  0 when it may be used (and *u is
 * filled), else -1 with *code (invalid_format, https_required, userinfo,
 * forbidden_address, forbidden_host) and *why, an English sentence for the
 * problem's errors[].  allow_private (YIZHAN_WEBHOOK_ALLOW_PRIVATE, for tests
 * and intranets) permits http:// and special-purpose addresses and names. */
int netaddr_webhook_url(const char *url, bool allow_private, netaddr_url_t *u, const char **code, const char **why);

#endif
