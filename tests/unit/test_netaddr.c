#include "unit.h"

#include "domain/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static bool priv(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(text, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        inet_pton(AF_INET6, text, &a->sin6_addr);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        inet_pton(AF_INET, text, &a->sin_addr);
    }
    return netaddr_private((struct sockaddr *)&ss);
}

TEST(webhook_targets_exclude_private_and_loopback)
{
    static const char *const PRIVATE[] = {"127.0.0.1", "127.8.9.10", "10.0.0.5", "172.16.0.1", "172.31.255.255",
                                          "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
                                          "255.255.255.255", "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1",
                                          "ff02::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3"};
    static const char *const PUBLIC[] = {"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1",
                                         "192.169.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"};
    for (size_t i = 0; i < sizeof PRIVATE / sizeof *PRIVATE; i++) CHECK(priv(PRIVATE[i]));
    for (size_t i = 0; i < sizeof PUBLIC / sizeof *PUBLIC; i++) CHECK(!priv(PUBLIC[i]));
}
