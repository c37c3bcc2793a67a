/* HTTP head parsing (RFC 9112 version and Host rules) and the status table. */
#include "unit.h"

#include "http/parse.h"
#include "http/server_int.h"

#include <stdio.h>
#include <string.h>

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
