/* Address classification and webhook URL checks (domain/netaddr.c). */
#include "unit.h"

#include "domain/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static bool priv(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int ok;
    if (strchr(text, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        ok = inet_pton(AF_INET6, text, &a->sin6_addr);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        ok = inet_pton(AF_INET, text, &a->sin_addr);
    }
    if (ok != 1) {
        fprintf(stderr, "  bad test address %s\n", text);
        return false;
    }
    return netaddr_private((struct sockaddr *)&ss);
}

/* Each block of the IANA special-purpose registries, by its first and last
 * address, and the public addresses just outside it where there are any. */
TEST(netaddr_refuses_every_iana_special_purpose_ipv4_block)
{
    static const char *const IN[] = {
        "0.0.0.0",      "0.255.255.255",                      /* this network */
        "10.0.0.0",     "10.255.255.255",                     /* private */
        "100.64.0.0",   "100.127.255.255",                    /* shared address space */
        "127.0.0.0",    "127.0.0.1",       "127.255.255.255", /* loopback */
        "169.254.0.0",  "169.254.169.254", "169.254.255.255", /* link-local, metadata services */
        "172.16.0.0",   "172.31.255.255",                     /* private */
        "192.0.0.0",    "192.0.0.8",       "192.0.0.9",
        "192.0.0.10",   "192.0.0.170",     "192.0.0.255",     /* IETF assignments */
        "192.0.2.0",    "192.0.2.255",                        /* TEST-NET-1 */
        "192.31.196.0", "192.31.196.255",                     /* AS112-v4 */
        "192.52.193.0", "192.52.193.255",                     /* AMT */
        "192.88.99.0",  "192.88.99.255",                      /* 6to4 relay anycast */
        "192.168.0.0",  "192.168.255.255",                    /* private */
        "192.175.48.0", "192.175.48.255",                     /* direct delegation AS112 */
        "198.18.0.0",   "198.19.255.255",                     /* benchmarking */
        "198.51.100.0", "198.51.100.255",                     /* TEST-NET-2 */
        "203.0.113.0",  "203.0.113.255",                      /* TEST-NET-3 */
        "224.0.0.0",    "224.0.0.1",       "239.255.255.255", /* multicast */
        "240.0.0.0",    "255.255.255.254", "255.255.255.255", /* reserved, limited broadcast */
    };
    static const char *const OUT[] = {
        "1.0.0.0",         "9.255.255.255",   "11.0.0.0",        "100.63.255.255",  "100.128.0.0",    "126.255.255.255",
        "128.0.0.0",       "169.253.255.255", "169.255.0.0",     "172.15.255.255",  "172.32.0.0",     "191.255.255.255",
        "192.0.1.0",       "192.0.3.0",       "192.31.195.255",  "192.31.197.0",    "192.52.192.255", "192.52.194.0",
        "192.88.98.255",   "192.88.100.0",    "192.167.255.255", "192.169.0.0",     "192.175.47.255", "192.175.49.0",
        "198.17.255.255",  "198.20.0.0",      "198.51.99.255",   "198.51.101.0",    "203.0.112.255",  "203.0.114.0",
        "223.255.255.255", "8.8.8.8",         "1.1.1.1",         "114.114.114.114",
    };
    for (size_t i = 0; i < sizeof IN / sizeof *IN; i++) {
        CHECK(priv(IN[i]));
        if (!priv(IN[i])) fprintf(stderr, "    %s\n", IN[i]);
    }
    for (size_t i = 0; i < sizeof OUT / sizeof *OUT; i++) {
        CHECK(!priv(OUT[i]));
        if (priv(OUT[i])) fprintf(stderr, "    %s\n", OUT[i]);
    }
}

TEST(netaddr_refuses_every_iana_special_purpose_ipv6_block_and_ipv4_embedding)
{
    static const char *const IN[] = {
        "::",
        "::1", /* unspecified, loopback */
        "::127.0.0.1",
        "::8.8.8.8",
        "::ffff:ffff", /* IPv4-compatible (deprecated) */
        "::ffff:0:0",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "::ffff:8.8.8.8",
        "::ffff:ffff:ffff", /* IPv4-mapped */
        "64:ff9b::",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::808:808",
        "64:ff9b::ffff:ffff", /* NAT64 */
        "64:ff9b:1::",
        "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", /* local-use translation */
        "100::",
        "100::ffff:ffff:ffff:ffff", /* discard-only */
        "100:0:0:1::",
        "100:0:0:1:ffff:ffff:ffff:ffff", /* dummy prefix */
        "2001::",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", /* Teredo */
        "2001:1::1",
        "2001:2::",
        "2001:3::",
        "2001:4:112::",
        "2001:10::",
        "2001:20::",
        "2001:30::",
        "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", /* end of 2001::/23 */
        "2001:db8::",
        "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", /* documentation */
        "2002::",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::1",
        "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", /* 6to4 */
        "2620:4f:8000::",
        "2620:4f:8000:ffff:ffff:ffff:ffff:ffff", /* direct delegation AS112 */
        "3fff::",
        "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", /* documentation */
        "5f00::",
        "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", /* SRv6 SIDs */
        "fc00::",
        "fd12:3456::1",
        "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", /* unique-local */
        "fe80::",
        "fe80::1",
        "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", /* link-local */
        "fec0::1",
        "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", /* site-local (deprecated) */
        "ff00::",
        "ff02::1",
        "ff05::1:3",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", /* multicast */
    };
    static const char *const OUT[] = {
        "2001:4860:4860::8888",
        "2400:3200::1",
        "240e::1",
        "2001:200::",
        "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
        "2001:db9::",
        "2003::",
        "2620:4f:7fff:ffff:ffff:ffff:ffff:ffff",
        "2620:4f:8001::",
        "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "3fff:1000::",
        "5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "5f01::",
        "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff",
        "64:ff9b:2::",
        "::1:0:0:0",
        "100:0:0:2::",
        "101::",
    };
    for (size_t i = 0; i < sizeof IN / sizeof *IN; i++) {
        CHECK(priv(IN[i]));
        if (!priv(IN[i])) fprintf(stderr, "    %s\n", IN[i]);
    }
    for (size_t i = 0; i < sizeof OUT / sizeof *OUT; i++) {
        CHECK(!priv(OUT[i]));
        if (priv(OUT[i])) fprintf(stderr, "    %s\n", OUT[i]);
    }
    struct sockaddr sa = {.sa_family = AF_UNIX};
    CHECK(netaddr_private(&sa));
}

static const char *url_code(const char *url, bool allow_private)
{
    netaddr_url_t u;
    const char *code = NULL, *why = NULL;
    if (netaddr_webhook_url(url, allow_private, &u, &code, &why) == 0) return "ok";
    CHECK(why && *why);
    return code;
}

TEST(webhook_urls_are_https_without_userinfo_to_public_hosts)
{
    static const struct {
        const char *url, *code;
    } CASES[] = {
        {"https://hooks.example.cn/yizhan", "ok"},
        {"https://hooks.example.cn:8443/a/b?x=1", "ok"},
        {"https://8.8.8.8/hook", "ok"},
        {"https://[2001:4860:4860::8888]:443/hook", "ok"},
        {"https://hooks.example.cn", "ok"},
        {"http://hooks.example.cn/", "https_required"},
        {"ftp://x.cn/", "invalid_format"},
        {"https://user:pw@hooks.example.cn/", "userinfo"},
        {"https://user@hooks.example.cn/", "userinfo"},
        {"https://hooks.example.cn@169.254.169.254/", "userinfo"},
        {"https://169.254.169.254/latest/meta-data/", "forbidden_address"},
        {"https://127.0.0.1/", "forbidden_address"},
        {"https://10.0.0.1:8080/", "forbidden_address"},
        {"https://0.0.0.0/", "forbidden_address"},
        {"https://[::1]/", "forbidden_address"},
        {"https://[::127.0.0.1]/", "forbidden_address"},
        {"https://[::ffff:127.0.0.1]/", "forbidden_address"},
        {"https://[::ffff:7f00:1]/", "forbidden_address"},
        {"https://[64:ff9b::7f00:1]/", "forbidden_address"},
        {"https://[64:ff9b::169.254.169.254]/", "forbidden_address"},
        {"https://[2002:7f00:1::]/", "forbidden_address"},
        {"https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "forbidden_address"}, /* Teredo */
        {"https://[fd00::1]/", "forbidden_address"},
        {"https://[fe80::1]/", "forbidden_address"},
        {"https://[ff02::1]/", "forbidden_address"},
        {"https://[fe80::1%25eth0]/", "invalid_format"},
        {"https://[::1/", "invalid_format"},
        {"https://2130706433/", "invalid_format"}, /* 127.0.0.1 as one number */
        {"https://0x7f.0.0.1/", "invalid_format"},
        {"https://0177.0.0.1/", "invalid_format"},
        {"https://127.1/", "invalid_format"},
        {"https://134744072/", "invalid_format"}, /* even a public one: write a.b.c.d */
        {"https://localhost/", "forbidden_host"},
        {"https://LOCALHOST./", "forbidden_host"},
        {"https://api.localhost/", "forbidden_host"},
        {"https://printer.local/", "forbidden_host"},
        {"https://db.internal/", "forbidden_host"},
        {"https://router.home.arpa/", "forbidden_host"},
        {"https://x.test/", "forbidden_host"},
        {"https://x.invalid/", "forbidden_host"},
        {"https://example.org/", "forbidden_host"},
        {"https://intranet/", "forbidden_host"},
        {"https://a_b.example.cn/", "invalid_format"},
        {"https:///path", "invalid_format"},
        {"https://host:0/", "invalid_format"},
        {"https://host:65536/", "invalid_format"},
        {"https://host:8o/", "invalid_format"},
        {"https://host/a b", "invalid_format"},
        {"https://host/#frag", "invalid_format"},
        {"https://宿主.cn/", "invalid_format"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        const char *got = url_code(CASES[i].url, false);
        CHECK(got && strcmp(got, CASES[i].code) == 0);
        if (!got || strcmp(got, CASES[i].code))
            fprintf(stderr, "    %s: %s, want %s\n", CASES[i].url, got, CASES[i].code);
    }
    /* YIZHAN_WEBHOOK_ALLOW_PRIVATE (tests, intranets): http and private targets, never userinfo */
    CHECK(!strcmp(url_code("http://127.0.0.1:8080/hook", true), "ok"));
    CHECK(!strcmp(url_code("http://localhost/hook", true), "ok"));
    CHECK(!strcmp(url_code("https://[fd00::1]/", true), "ok"));
    CHECK(!strcmp(url_code("http://u:p@127.0.0.1/", true), "userinfo"));
    CHECK(!strcmp(url_code("http://2130706433/", true), "invalid_format"));
}

TEST(webhook_url_parts_are_split_for_the_client)
{
    netaddr_url_t u;
    const char *code, *why;
    CHECK(netaddr_webhook_url("https://[2001:4860::1]:8443/a?b=1", false, &u, &code, &why) == 0);
    CHECK(u.tls && !strcmp(u.host, "2001:4860::1") && !strcmp(u.port, "8443") && !strcmp(u.path, "/a?b=1"));
    CHECK(netaddr_webhook_url("http://127.0.0.1", true, &u, &code, &why) == 0);
    CHECK(!u.tls && !strcmp(u.host, "127.0.0.1") && !strcmp(u.port, "80") && !strcmp(u.path, "/"));
    CHECK(netaddr_webhook_url("https://hooks.example.cn?x=1", false, &u, &code, &why) == 0);
    CHECK(!strcmp(u.port, "443") && !strcmp(u.path, "?x=1"));
}
