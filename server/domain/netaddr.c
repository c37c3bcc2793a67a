/* netaddr.c — see netaddr.h. */
#include "domain/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

static bool v4_private(uint32_t a)
{
    return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 || (a >> 16) == 0xA9FE /* 169.254/16 */
           || (a >> 20) == 0xAC1 /* 172.16/12 */ || (a >> 16) == 0xC0A8 /* 192.168/16 */
           || (a >> 22) == 0x191 /* 100.64/10 */ || (a >> 28) >= 0xE /* 224/4 multicast, 240/4 reserved */;
}

bool netaddr_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_private(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6) {
        const unsigned char *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const unsigned char zero[16];
        if (!memcmp(b, zero, 15) && (b[15] == 0 || b[15] == 1)) return true;              /* :: and ::1 */
        if ((b[0] & 0xFE) == 0xFC || (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) || b[0] == 0xFF) return true;
        if (!memcmp(b, zero, 10) && b[10] == 0xFF && b[11] == 0xFF)                       /* ::ffff:a.b.c.d */
            return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
        return false;
    }
    return true; /* anything else is not a public internet address */
}
