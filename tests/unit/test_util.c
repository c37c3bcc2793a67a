#include "unit.h"

#include "http/http.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/util.h"

#include <string.h>

TEST(utf8_accepts_valid_and_rejects_malformed)
{
    CHECK(util_utf8_valid("abc", 3));
    CHECK(util_utf8_valid("电池芯片", strlen("电池芯片")));
    CHECK(util_utf8_valid("\xF0\x9F\x98\x80", 4));  /* emoji */
    CHECK(!util_utf8_valid("\xC0\xAF", 2));         /* overlong '/' */
    CHECK(!util_utf8_valid("\xE0\x80\xAF", 3));     /* overlong */
    CHECK(!util_utf8_valid("\xED\xA0\x80", 3));     /* surrogate */
    CHECK(!util_utf8_valid("\xF4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!util_utf8_valid("\xE7\x94", 2));         /* truncated */
    CHECK(!util_utf8_valid("\xFF", 1));
    CHECK(util_utf8_len("电池a", strlen("电池a")) == 3);
}

TEST(parse_u64_only_digits)
{
    uint64_t v;
    CHECK(util_parse_u64("123", 3, &v) == 0 && v == 123);
    CHECK(util_parse_u64("+5", 2, &v) != 0);
    CHECK(util_parse_u64("-1", 2, &v) != 0);
    CHECK(util_parse_u64("5 5", 3, &v) != 0);
    CHECK(util_parse_u64("", 0, &v) != 0);
    CHECK(util_parse_u64("99999999999999999999", 20, &v) != 0);
}

TEST(base64url_round_trip_and_strictness)
{
    const unsigned char in[] = {0xfb, 0xff, 0x00, 0x10, 0x7f};
    for (size_t n = 0; n <= sizeof in; n++) {
        char enc[16];
        unsigned char dec[16];
        size_t el = util_b64url_encode(in, n, enc);
        CHECK(strchr(enc, '=') == NULL && strchr(enc, '+') == NULL && strchr(enc, '/') == NULL);
        CHECK(util_b64url_decode(enc, el, dec) == (long)n && memcmp(dec, in, n) == 0);
    }
    unsigned char d[8];
    CHECK(util_b64url_decode("a+b/", 4, d) < 0); /* standard alphabet refused */
    CHECK(util_b64url_decode("QR", 2, d) < 0);   /* non-canonical trailing bits */
}

static void inc(void *p)
{
    (*(int *)p)++;
}

TEST(arena_allocates_aligned_and_runs_hooks)
{
    arena_t *a = arena_new(64);
    int ran = 0;
    for (int i = 0; i < 1000; i++) {
        char *p = arena_alloc(a, (size_t)i + 1);
        CHECK(((uintptr_t)p & 15) == 0);
        p[i] = 'x';
    }
    char *s = arena_printf(a, "%s-%d", "电池", 7);
    CHECK(strcmp(s, "电池-7") == 0);
    arena_on_dispose(a, inc, &ran);
    arena_free(a);
    CHECK(ran == 1);
}

TEST(buf_json_escapes_control_characters)
{
    buf_t b;
    buf_init(&b);
    buf_json_str(&b, "a\"b\\c\n\x01电");
    CHECK(strcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001电\"") == 0);
    buf_free(&b);
}

static void h_dummy(http_req_t *r)
{
    (void)r;
}
static route_t TEST_ROUTES[] = {
    {HTTP_GET, "/t/results/{id}", h_dummy, 0, 0},
    {HTTP_POST, "/t/results/{id}/submit", h_dummy, 0, 0},
    {HTTP_PATCH, "/t/results/{id}", h_dummy, 0, 0},
    /* literal segments of the same length, the same first byte, differing inside */
    {HTTP_GET, "/t/resulds/{id}", h_dummy, 0, 0},
    {HTTP_GET, "/t/r/{id}", h_dummy, 0, 0},
};

TEST(router_matches_templates_and_reports_allowed_methods)
{
    static int added;
    if (!added++) router_add(TEST_ROUTES, sizeof TEST_ROUTES / sizeof TEST_ROUTES[0]);
    arena_t *a = arena_new(1024);
    const char *params[4];
    int np = 0, allow = 0;
    const route_t *r = router_match(a, HTTP_GET, "/t/results/42", params, &np, &allow);
    CHECK(r == &TEST_ROUTES[0] && np == 1 && strcmp(params[0], "42") == 0);
    r = router_match(a, HTTP_GET, "/t/results/%E7%94%B5", params, &np, &allow);
    CHECK(r && strcmp(params[0], "电") == 0);
    r = router_match(a, HTTP_DELETE, "/t/results/42", params, &np, &allow);
    CHECK(!r && allow == (HTTP_GET | HTTP_PATCH));
    r = router_match(a, HTTP_GET, "/t/results/%FF", params, &np, &allow);
    CHECK(!r && allow == -1);
    r = router_match(a, HTTP_GET, "/t/results/%2", params, &np, &allow);
    CHECK(!r && allow == -1);
    r = router_match(a, HTTP_GET, "/t/results/", params, &np, &allow);
    CHECK(!r && allow == 0);
    r = router_match(a, HTTP_GET, "/t/nothing", params, &np, &allow);
    CHECK(!r && allow == 0);
    r = router_match(a, HTTP_GET, "/t/resulds/7", params, &np, &allow);
    CHECK(r == &TEST_ROUTES[3] && np == 1 && strcmp(params[0], "7") == 0);
    r = router_match(a, HTTP_GET, "/t/resultz/7", params, &np, &allow);
    CHECK(!r && allow == 0);
    r = router_match(a, HTTP_GET, "/t/r/7", params, &np, &allow);
    CHECK(r == &TEST_ROUTES[4] && np == 1);
    r = router_match(a, HTTP_GET, "/t/s/7", params, &np, &allow);
    CHECK(!r && allow == 0);
    r = router_match(a, HTTP_GET, "/t/result/7", params, &np, &allow);
    CHECK(!r && allow == 0);
    arena_free(a);
}

TEST(bidi_controls_are_found_and_nothing_else)
{
    static const char *const HAS[] = {"\xe2\x80\xaa",
                                      "a\xe2\x80\xab",
                                      "\xe2\x80\xac"
                                      "b",
                                      "\xe2\x80\xad",
                                      "x\xe2\x80\xaey",
                                      "\xe2\x81\xa6",
                                      "\xe2\x81\xa7",
                                      "\xe2\x81\xa8",
                                      "\xe2\x81\xa9"};
    /* neighbours: U+2029, U+202F, U+2065, U+206A, LRM/RLM U+200E/F, CJK, Hebrew */
    static const char *const NOT[] = {"\xe2\x80\xa9",
                                      "\xe2\x80\xaf",
                                      "\xe2\x81\xa5",
                                      "\xe2\x81\xaa",
                                      "\xe2\x80\x8e\xe2\x80\x8f",
                                      "技术合同",
                                      "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",
                                      "",
                                      "ab"};
    for (size_t i = 0; i < ARRAY_LEN(HAS); i++) CHECK(util_has_bidi_control(HAS[i], strlen(HAS[i])));
    for (size_t i = 0; i < ARRAY_LEN(NOT); i++) CHECK(!util_has_bidi_control(NOT[i], strlen(NOT[i])));
}
