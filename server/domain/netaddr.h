/* netaddr.h — classify socket addresses.  Pure code. */
#ifndef YZ_NETADDR_H
#define YZ_NETADDR_H

#include <stdbool.h>
#include <sys/socket.h>

/* True for addresses that are not public unicast: unspecified, loopback,
 * RFC 1918 and RFC 6598 (100.64/10) private, link-local, multicast and
 * reserved, IPv6 unique-local, and IPv4-mapped forms of these. */
bool netaddr_private(const struct sockaddr *sa);

#endif
