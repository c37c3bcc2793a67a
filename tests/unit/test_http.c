/* HTTP head parsing (RFC 9112 version and Host rules) and the status table. */
#include "unit.h"

#include "http/parse.h"
#include "http/server_int.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

/* The status http_parse_head answers for head (0 when accepted). */
static int head_status(const char *head)
{
    arena_t *a = arena_new(4096);
    http_req_t r;
    memset(&r, 0, sizeof r);
    r.arena = a;
    char *h = arena_strdup(a, head);
    http_framing_t fr;
    const char *why = NULL;
    int st = http_parse_head(&r, h, strlen(h), 1 << 20, &fr, &why);
    arena_free(a);
    return st;
}

TEST(http_versions_other_than_1_x_are_505_and_malformed_ones_400)
{
    CHECK(head_status("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == 0);
    CHECK(head_status("GET / HTTP/1.0\r\n\r\n") == 0);
    CHECK(head_status("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505);
    CHECK(head_status("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == 505);
    CHECK(head_status("GET / HTTP/0.9\r\nHost: a\r\n\r\n") == 505);
    CHECK(head_status("GET / HTTP/11\r\nHost: a\r\n\r\n") == 400);
    CHECK(head_status("GET / http/1.1\r\nHost: a\r\n\r\n") == 400);
    CHECK(head_status("GET / HTTP/1.1x\r\nHost: a\r\n\r\n") == 400);
}

TEST(http_host_is_required_once_in_1_1_and_well_formed)
{
    CHECK(head_status("GET / HTTP/1.1\r\n\r\n") == 400);
    CHECK(head_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == 400);
    CHECK(head_status("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n") == 400);
    CHECK(head_status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
    CHECK(head_status("GET / HTTP/1.1\r\nHost: example.org:8080\r\n\r\n") == 0);
    CHECK(head_status("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n") == 0);
    CHECK(head_status("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") == 0);
    CHECK(head_status("GET / HTTP/1.1\r\nHost:\r\n\r\n") == 0); /* empty: allowed (RFC 9112 §3.2) */
    CHECK(head_status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == 400);
    CHECK(head_status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == 400);
    CHECK(head_status("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n") == 400);
    CHECK(head_status("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n") == 400);
    CHECK(head_status("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n") == 400);
}

TEST(every_status_sent_has_a_text_and_a_metrics_slot)
{
    CHECK(http_status_count() + 1 <= METRIC_STATUSES);
    for (int i = 0; i < http_status_count(); i++) {
        int s = http_status_at(i);
        CHECK(strcmp(http_status_text(s), "Unknown") != 0);
        CHECK(metric_status_slot(s) == i && metric_slot_status(i) == s);
    }
    CHECK(metric_status_slot(599) == METRIC_STATUSES - 1 && metric_slot_status(METRIC_STATUSES - 1) == 0);
    CHECK(http_status_slot(505) >= 0 && http_status_slot(500) >= 0);
}

TEST(peers_count_connections_per_address_and_forget_closed_ones)
{
    static int ready;
    if (!ready++) CHECK(peers_init(64) == 0);
    /* many addresses, so that some collide and deletion must shift entries back */
    char a[400][64];
    for (int i = 0; i < 400; i++) snprintf(a[i], sizeof a[i], "10.0.%d.%d", i / 256, i % 256);
    for (int i = 0; i < 400; i++) CHECK(peers_admit(a[i], 3) && peers_admit(a[i], 3));
    for (int i = 0; i < 400; i++) CHECK(peers_count(a[i]) == 2);
    CHECK(peers_admit(a[7], 3) && !peers_admit(a[7], 3) && peers_count(a[7]) == 3);
    peers_release(a[7]);
    CHECK(peers_count(a[7]) == 2);
    for (int i = 0; i < 400; i += 2) peers_release(a[i]), peers_release(a[i]); /* gone entirely */
    for (int i = 0; i < 400; i++) CHECK(peers_count(a[i]) == (i % 2 ? 2 : 0));
    for (int i = 1; i < 400; i += 2) peers_release(a[i]), peers_release(a[i]);
    for (int i = 0; i < 400; i++) CHECK(peers_count(a[i]) == 0);
    CHECK(peers_admit("::1", 1) && !peers_admit("::1", 1));
    peers_release("::1");
    CHECK(peers_admit("::1", 1));
    peers_release("::1");
}

/* Accept-Encoding (RFC 9110 12.5.3): the coding sent for a header and what is available. */
TEST(http_accept_encoding)
{
    const unsigned ALL = 1u << HTTP_ENC_GZIP | 1u << HTTP_ENC_BR, GZ = 1u << HTTP_ENC_GZIP;
    CHECK(http_accept_pick(NULL, ALL) == HTTP_ENC_IDENTITY);
    CHECK(http_accept_pick("", ALL) == HTTP_ENC_IDENTITY);
    CHECK(http_accept_pick("gzip, deflate, br", ALL) == HTTP_ENC_BR);        /* a browser */
    CHECK(http_accept_pick("gzip, deflate, br, zstd", GZ) == HTTP_ENC_GZIP); /* no br form (yet) */
    CHECK(http_accept_pick("gzip", ALL) == HTTP_ENC_GZIP);
    CHECK(http_accept_pick("GZIP", ALL) == HTTP_ENC_GZIP);
    CHECK(http_accept_pick("x-gzip", ALL) == HTTP_ENC_GZIP);
    CHECK(http_accept_pick("br;q=0.5, gzip;q=0.8", ALL) == HTTP_ENC_GZIP); /* the higher q */
    CHECK(http_accept_pick("br;q=0.8, gzip ; q=0.8", ALL) == HTTP_ENC_BR); /* a tie: br */
    CHECK(http_accept_pick("gzip;q=0, br;q=0", ALL) == HTTP_ENC_IDENTITY);
    CHECK(http_accept_pick("br;q=0", GZ | 1u << HTTP_ENC_BR) == HTTP_ENC_IDENTITY);
    CHECK(http_accept_pick("*", ALL) == HTTP_ENC_BR);
    CHECK(http_accept_pick("*;q=0.5, br;q=0", ALL) == HTTP_ENC_GZIP);
    CHECK(http_accept_pick("identity", ALL) == HTTP_ENC_IDENTITY);
    CHECK(http_accept_pick("identity;q=1, gzip;q=0.5", ALL) == HTTP_ENC_IDENTITY);
    CHECK(http_accept_pick("gzip;q=0.5", ALL) == HTTP_ENC_GZIP); /* identity not named comes last */
    CHECK(http_accept_pick("gzip;q=1.000", ALL) == HTTP_ENC_GZIP);
    CHECK(http_accept_pick("gzip;q=0.001", ALL) == HTTP_ENC_GZIP);
    CHECK(http_accept_pick("gzip;q=0.000", ALL) == HTTP_ENC_IDENTITY);
    CHECK(http_accept_pick("gzip;q=2", ALL) == HTTP_ENC_IDENTITY); /* a malformed q: ignored */
    CHECK(http_accept_pick("gzip;q=abc", ALL) == HTTP_ENC_IDENTITY);
    CHECK(http_accept_pick("gzip;level=1;q=0.4", ALL) == HTTP_ENC_GZIP);
    CHECK(http_accept_pick("gzipper, brr", ALL) == HTTP_ENC_IDENTITY); /* whole tokens only */
    CHECK(http_accept_pick(" , ,gzip,, ", ALL) == HTTP_ENC_GZIP);
    CHECK(http_accept_pick("br", 0) == HTTP_ENC_IDENTITY);
}

/* gzip in the arena: what zlib's inflate gives back is the input. */
TEST(http_gzip_roundtrip)
{
    arena_t *a = arena_new(4096);
    char in[5000];
    for (size_t i = 0; i < sizeof in; i++) in[i] = "{\"title\":\"基于深度学习的检测\"}"[i % 20];
    char *z = NULL;
    size_t n = http_gzip(a, in, sizeof in, &z);
    CHECK(n > 18 && n < sizeof in / 4);
    CHECK(z && (unsigned char)z[0] == 0x1f && (unsigned char)z[1] == 0x8b); /* the gzip magic */
    char back[6000];
    z_stream s = {0};
    CHECK(inflateInit2(&s, 15 + 16) == Z_OK);
    s.next_in = (Bytef *)z;
    s.avail_in = (uInt)n;
    s.next_out = (Bytef *)back;
    s.avail_out = sizeof back;
    CHECK(inflate(&s, Z_FINISH) == Z_STREAM_END);
    CHECK(s.total_out == sizeof in && !memcmp(back, in, sizeof in));
    inflateEnd(&s);
    /* the stream is reused: a second answer is as good as the first */
    size_t n2 = http_gzip(a, in, sizeof in, &z);
    CHECK(n2 == n);
    arena_free(a);
}
