/* Unit tests for src/proto (resp.h): the request parser (multibulk, inline, limits,
 * every malformed class, every split point), the reply writer (every
 * function, the cap, RESP2 vs RESP3) and the reply scanner (every type,
 * nesting and depth, limits, malformed replies, split points, and writer
 * output scanned back).
 *
 * Every parse runs on a heap copy of exactly the bytes given, so an ASan
 * build catches any read past len. Random tests print their seed; set
 * RESP_TEST_SEED to replay one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define ARGV_CAP 2048
#define SCRATCH_CAP (128 * 1024)
#define PROTO_ERR "ERR Protocol error: "

/* Literal and its length, without the terminating NUL. */
#define S(lit) (lit), (sizeof(lit) - 1)

static const char ERR_MBULK_LEN[] = PROTO_ERR "invalid multibulk length";
static const char ERR_MBULK_MAX[] = PROTO_ERR "too many arguments in request";
static const char ERR_MBULK_LINE[] = PROTO_ERR "too big mbulk count string";
static const char ERR_BULK_LEN[] = PROTO_ERR "invalid bulk length";
static const char ERR_BULK_MAX[] = PROTO_ERR "bulk too big";
static const char ERR_BULK_LINE[] = PROTO_ERR "too big bulk count string";
static const char ERR_DOLLAR[] = PROTO_ERR "expected '$'";
static const char ERR_BULK_CRLF[] = PROTO_ERR "bulk not followed by CRLF";
static const char ERR_INLINE_MAX[] = PROTO_ERR "too big inline request";
static const char ERR_QUOTES[] = PROTO_ERR "unbalanced quotes in request";
static const char ERR_INLINE_ARGS[] =
    PROTO_ERR "too many arguments in inline request";
static const char ERR_ESCAPES[] =
    PROTO_ERR "escaped inline arguments are not supported";

static const resp_limits LIM_DEFAULT = {
    RESP_ARGS_MAX_DEFAULT, RESP_BULK_MAX_DEFAULT, RESP_INLINE_MAX_DEFAULT};
/* Small limits, to test the boundaries cheaply. */
static const resp_limits LIM_SMALL = {8, 16, 64};
/* No practical limit: lets the number parser's overflow check be reached. */
static const resp_limits LIM_HUGE = {SIZE_MAX, SIZE_MAX, SIZE_MAX};

/* The last parse: its input copy, outputs, and scratch. */
static resp_arg g_argv[ARGV_CAP];
static char g_scratch[SCRATCH_CAP];
static char *g_copy;
static size_t g_copy_len;
static resp_request g_req;
static size_t g_consumed;
static const char *g_err;

static int argInside(const resp_arg *a, const char *base, size_t n)
{
    return a->ptr >= base && a->len <= n && (size_t)(a->ptr - base) <= n - a->len;
}

/* Checks what holds after every parse, whatever the input. */
static void checkParseInvariants(const resp_limits *lim, int rv)
{
    size_t i;

    switch (rv) {
    case RESP_PARSE_OK:
        assert_true(g_consumed > 0);
        assert_true(g_consumed <= g_copy_len);
        assert_null(g_err);
        assert_true(g_req.argc <= lim->args_max);
        for (i = 0; i < g_req.argc; i++) {
            int in_buf = argInside(&g_req.argv[i], g_copy, g_consumed);
            int in_scratch =
                argInside(&g_req.argv[i], g_scratch, sizeof g_scratch);
            assert_true(in_buf || in_scratch);
        }
        break;
    case RESP_PARSE_INCOMPLETE:
        assert_int_equal(g_consumed, 0);
        assert_int_equal(g_req.argc, 0);
        break;
    case RESP_PARSE_ERROR:
        assert_int_equal(g_consumed, 0);
        assert_non_null(g_err);
        assert_memory_equal(g_err, PROTO_ERR, strlen(PROTO_ERR));
        break;
    default:
        fail_msg("resp_parse returned %d", rv);
    }
}

/* Parses a heap copy of buf[0..len); scratch_cap 0 means plain resp_parse. */
static int parseCap(const resp_limits *lim, const char *buf, size_t len,
                    size_t scratch_cap)
{
    int rv;

    free(g_copy);
    g_copy = malloc(len > 0 ? len : 1);
    assert_non_null(g_copy);
    if (len > 0) {
        memcpy(g_copy, buf, len);
    }
    g_copy_len = len;
    g_req.argv = g_argv;
    g_req.argc = 12345;
    g_consumed = 777;
    g_err = "not set";
    /* LIM_HUGE breaks the argv contract on purpose: its tests never get as
     * far as storing an argument */
    assert_true(lim->args_max <= ARGV_CAP || lim == &LIM_HUGE);
    assert_true(scratch_cap <= SCRATCH_CAP);
    if (scratch_cap == 0) {
        rv = resp_parse(lim, g_copy, len, &g_req, &g_consumed, &g_err);
    } else {
        rv = resp_parse_scratch(lim, g_copy, len, &g_req, g_scratch,
                                scratch_cap, &g_consumed, &g_err);
    }
    checkParseInvariants(lim, rv);
    return rv;
}

static int parse(const resp_limits *lim, const char *buf, size_t len)
{
    size_t cap = lim->inline_max < SCRATCH_CAP ? lim->inline_max : SCRATCH_CAP;
    return parseCap(lim, buf, len, cap > 0 ? cap : 1);
}

static void expectArg(size_t i, const char *p, size_t n)
{
    assert_true(i < g_req.argc);
    assert_int_equal(g_req.argv[i].len, n);
    if (n > 0) {
        assert_memory_equal(g_req.argv[i].ptr, p, n);
    }
}

/* Expects the last parse to be OK with `consumed` bytes and the given
 * NUL-terminated arguments. */
static void expectOk(int rv, size_t consumed, size_t argc, ...)
{
    va_list ap;
    size_t i;

    if (rv != RESP_PARSE_OK) {
        fail_msg("expected OK, got %d (%s)", rv, rv == RESP_PARSE_ERROR ? g_err : "");
    }
    assert_int_equal(g_consumed, consumed);
    assert_int_equal(g_req.argc, argc);
    va_start(ap, argc);
    for (i = 0; i < argc; i++) {
        const char *s = va_arg(ap, const char *);
        expectArg(i, s, strlen(s));
    }
    va_end(ap);
}

static void expectError(int rv, const char *msg)
{
    if (rv != RESP_PARSE_ERROR) {
        fail_msg("expected error \"%s\", got %d", msg, rv);
    }
    assert_string_equal(g_err, msg);
}

static void expectIncomplete(int rv)
{
    if (rv != RESP_PARSE_INCOMPLETE) {
        fail_msg("expected INCOMPLETE, got %d (%s)", rv,
                 rv == RESP_PARSE_ERROR ? g_err : "");
    }
}

/* Every proper prefix of req[0..len) is INCOMPLETE; the whole is OK and
 * consumes all of it. */
static void expectSplitsIncomplete(const resp_limits *lim, const char *req,
                                   size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        int rv = parse(lim, req, i);
        if (rv != RESP_PARSE_INCOMPLETE) {
            fail_msg("prefix %zu of %zu bytes: got %d (%s)", i, len, rv,
                     rv == RESP_PARSE_ERROR ? g_err : "ok");
        }
    }
    assert_int_equal(parse(lim, req, len), RESP_PARSE_OK);
    assert_int_equal(g_consumed, len);
}

static int teardown(void **state)
{
    (void)state;
    free(g_copy);
    g_copy = NULL;
    g_copy_len = 0;
    return 0;
}

/* ------------------------------------------------------------ multibulk */

static void test_multibulk_simple(void **state)
{
    (void)state;
    expectOk(parse(&LIM_DEFAULT, S("*1\r\n$4\r\nPING\r\n")), 14, 1, "PING");
    expectOk(parse(&LIM_DEFAULT, S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n")),
             31, 3, "SET", "k", "value");
    /* arguments point into the caller's buffer */
    assert_ptr_equal(g_req.argv[0].ptr, g_copy + 8);
    expectOk(parse(&LIM_DEFAULT, S("*1\r\n$0\r\n\r\n")), 10, 1, "");
    expectOk(parse(&LIM_DEFAULT, S("*2\r\n$10\r\n0123456789\r\n$0\r\n\r\n")), 27,
             2, "0123456789", "");
}

static void test_multibulk_empty(void **state)
{
    (void)state;
    expectOk(parse(&LIM_DEFAULT, S("*0\r\n")), 4, 0);
    expectOk(parse(&LIM_DEFAULT, S("*-1\r\n")), 5, 0);
    /* trailing bytes are the next request's, not this one's */
    expectOk(parse(&LIM_DEFAULT, S("*-1\r\n*1\r\n")), 5, 0);
    expectOk(parse(&LIM_DEFAULT, S("*0\r\nPING\r\n")), 4, 0);
}

static void test_multibulk_binary_safe(void **state)
{
    static const char req[] = "*2\r\n$8\r\na\0b\r\n*$\n\r\n$2\r\n\r\n\r\n";
    static const char arg0[] = "a\0b\r\n*$\n";
    (void)state;
    assert_int_equal(parse(&LIM_DEFAULT, req, sizeof req - 1), RESP_PARSE_OK);
    assert_int_equal(g_consumed, sizeof req - 1);
    assert_int_equal(g_req.argc, 2);
    expectArg(0, arg0, sizeof arg0 - 1);
    expectArg(1, "\r\n", 2);
    expectSplitsIncomplete(&LIM_DEFAULT, req, sizeof req - 1);
}

static void test_multibulk_all_bytes(void **state)
{
    char req[300];
    char body[256];
    size_t n = 0;
    int i;
    (void)state;
    for (i = 0; i < 256; i++) {
        body[i] = (char)i;
    }
    n += (size_t)sprintf(req, "*1\r\n$256\r\n");
    memcpy(req + n, body, 256);
    n += 256;
    memcpy(req + n, "\r\n", 2);
    n += 2;
    assert_int_equal(parse(&LIM_DEFAULT, req, n), RESP_PARSE_OK);
    assert_int_equal(g_consumed, n);
    expectArg(0, body, 256);
}

/* --------------------------------------------------------- split points */

static void test_split_every_point(void **state)
{
    static const char *const reqs[] = {
        "*1\r\n$4\r\nPING\r\n",
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$12\r\nhello\r\nworld\r\n",
        "*2\r\n$0\r\n\r\n$0\r\n\r\n",
        "*0\r\n",
        "*-1\r\n",
        "PING\r\n",
        "PING\n",
        "\r\n",
        "\n",
        "SET \"a b\" 'c d' e\r\n",
        "SET \"\\x41\\n\" 'it\\'s'\n",
        "   \t  \r\n",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        expectSplitsIncomplete(&LIM_DEFAULT, reqs[i], strlen(reqs[i]));
        expectSplitsIncomplete(&LIM_SMALL, reqs[i], strlen(reqs[i]));
    }
}

/* Feeding a pipeline one byte at a time into a growing buffer, and parsing
 * whenever possible, yields the same requests as parsing it whole. */
static void test_split_stream_bytewise(void **state)
{
    static const char pipe[] = "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
                               "PING\r\n"
                               "\r\n"
                               "*0\r\n"
                               "ECHO \"x y\"\n"
                               "*1\r\n$3\r\na\0c\r\n";
    static const resp_arg want[] = {{"GET", 3},  {"a", 1},   {"PING", 4},
                                    {"ECHO", 4}, {"x y", 3}, {"a\0c", 3}};
    size_t want_i = 0;
    size_t start = 0;
    size_t end;
    size_t requests = 0;
    (void)state;
    for (end = 1; end <= sizeof pipe - 1; end++) {
        int rv = parse(&LIM_DEFAULT, pipe + start, end - start);
        size_t i;
        if (rv == RESP_PARSE_INCOMPLETE) {
            continue;
        }
        assert_int_equal(rv, RESP_PARSE_OK);
        /* a request is ready only on its very last byte */
        assert_int_equal(g_consumed, end - start);
        for (i = 0; i < g_req.argc; i++) {
            assert_true(want_i < sizeof want / sizeof want[0]);
            expectArg(i, want[want_i].ptr, want[want_i].len);
            want_i++;
        }
        start = end;
        requests++;
    }
    assert_int_equal(start, sizeof pipe - 1);
    assert_int_equal(requests, 6);
    assert_int_equal(want_i, sizeof want / sizeof want[0]);
    /* the last one carries a NUL inside */
    assert_int_equal(g_req.argv[0].len, 3);
    assert_int_equal(g_req.argv[0].ptr[1], '\0');
}

/* ------------------------------------------------------------- pipeline */

static void test_pipeline_one_buffer(void **state)
{
    static const char pipe[] = "*1\r\n$4\r\nPING\r\n"
                               "*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n"
                               "GET k\r\n"
                               "\n"
                               "*-1\r\n"
                               "*1\r\n$4\r\nPI";
    size_t off = 0;
    (void)state;
    expectOk(parse(&LIM_DEFAULT, pipe + off, sizeof pipe - 1 - off), 14, 1,
             "PING");
    off += g_consumed;
    expectOk(parse(&LIM_DEFAULT, pipe + off, sizeof pipe - 1 - off), 21, 2,
             "INCR", "k");
    off += g_consumed;
    expectOk(parse(&LIM_DEFAULT, pipe + off, sizeof pipe - 1 - off), 7, 2,
             "GET", "k");
    off += g_consumed;
    expectOk(parse(&LIM_DEFAULT, pipe + off, sizeof pipe - 1 - off), 1, 0);
    off += g_consumed;
    expectOk(parse(&LIM_DEFAULT, pipe + off, sizeof pipe - 1 - off), 5, 0);
    off += g_consumed;
    expectIncomplete(parse(&LIM_DEFAULT, pipe + off, sizeof pipe - 1 - off));
    assert_int_equal(g_consumed, 0);
}

static void test_pipeline_inline(void **state)
{
    (void)state;
    expectOk(parse(&LIM_DEFAULT, S("PING\nPING\r\nQUIT\n")), 5, 1, "PING");
    expectOk(parse(&LIM_DEFAULT, S("PING\r\nQUIT\n")), 6, 1, "PING");
}

/* ------------------------------------------------------------ malformed */

static void test_bad_count(void **state)
{
    (void)state;
    expectError(parse(&LIM_DEFAULT, S("*x\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*+1\r\n$1\r\na\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("* 1\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1 \r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1x\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*01\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*00\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\rx")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\r\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("**1\r\n")), ERR_MBULK_LEN);
    /* junk is an error as soon as it arrives, before any CRLF */
    expectError(parse(&LIM_DEFAULT, S("*1a")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*+")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*0x")), ERR_MBULK_LEN);
}

static void test_negative_count(void **state)
{
    (void)state;
    expectError(parse(&LIM_DEFAULT, S("*-2\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*-0\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*-10\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*-01\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*-\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*--1\r\n")), ERR_MBULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*-9223372036854775808\r\n")),
                ERR_MBULK_LEN);
    /* a negative bulk length is never valid in a request */
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$-1\r\n")), ERR_BULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$-")), ERR_BULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$-5\r\n")), ERR_BULK_LEN);
    /* "*-1" waits for its CRLF like any count */
    expectIncomplete(parse(&LIM_DEFAULT, S("*-1")));
    expectIncomplete(parse(&LIM_DEFAULT, S("*-1\r")));
}

static void test_overflow(void **state)
{
    (void)state;
    /* over any limit: too many, and at once */
    expectError(parse(&LIM_DEFAULT, S("*99999999999999999999\r\n")),
                ERR_MBULK_MAX);
    /* with no practical limit the overflow check itself must fire */
    expectError(parse(&LIM_HUGE, S("*99999999999999999999\r\n")),
                ERR_MBULK_LEN);
    expectError(parse(&LIM_HUGE, S("*18446744073709551616\r\n")),
                ERR_MBULK_LEN);
    expectError(parse(&LIM_HUGE, S("*1\r\n$99999999999999999999\r\n")),
                ERR_BULK_LEN);
    expectError(parse(&LIM_HUGE, S("*1\r\n$18446744073709551616")),
                ERR_BULK_LEN);
    /* UINT64_MAX itself fits the number parser: incomplete, not overflow
     * (a bulk that long can never arrive, but it is not malformed) */
    expectIncomplete(parse(&LIM_HUGE, S("*1\r\n$18446744073709551615\r\n")));
    /* ...and the CRLF check after its body must not wrap around to it */
    expectIncomplete(parse(&LIM_HUGE, S("*1\r\n$18446744073709551615\r\nab")));
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$99999999999999999999\r\n")),
                ERR_BULK_MAX);
}

static void test_too_many_args(void **state)
{
    (void)state;
    expectError(parse(&LIM_SMALL, S("*9\r\n")), ERR_MBULK_MAX);
    /* at once, before the CRLF or any argument has arrived */
    expectError(parse(&LIM_SMALL, S("*9")), ERR_MBULK_MAX);
    expectError(parse(&LIM_SMALL, S("*10")), ERR_MBULK_MAX);
    expectError(parse(&LIM_DEFAULT, S("*1025\r\n")), ERR_MBULK_MAX);
    expectError(parse(&LIM_DEFAULT, S("*1025")), ERR_MBULK_MAX);
    expectIncomplete(parse(&LIM_DEFAULT, S("*1024\r\n")));
    expectIncomplete(parse(&LIM_DEFAULT, S("*102")));
}

static void test_bulk_too_long_declared(void **state)
{
    (void)state;
    expectError(parse(&LIM_SMALL, S("*1\r\n$17\r\n")), ERR_BULK_MAX);
    /* at once, without the body or even the CRLF */
    expectError(parse(&LIM_SMALL, S("*1\r\n$17")), ERR_BULK_MAX);
    expectError(parse(&LIM_SMALL, S("*2\r\n$1\r\na\r\n$100")), ERR_BULK_MAX);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$524289\r\n")), ERR_BULK_MAX);
    expectIncomplete(parse(&LIM_DEFAULT, S("*1\r\n$524288\r\n")));
}

static void test_missing_dollar(void **state)
{
    (void)state;
    expectError(parse(&LIM_DEFAULT, S("*1\r\n:3\r\nfoo\r\n")), ERR_DOLLAR);
    expectError(parse(&LIM_DEFAULT, S("*1\r\nfoo\r\n")), ERR_DOLLAR);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n\r\n")), ERR_DOLLAR);
    expectError(parse(&LIM_DEFAULT, S("*2\r\n$1\r\na\r\nb")), ERR_DOLLAR);
    expectError(parse(&LIM_DEFAULT, S("*2\r\n$1\r\na\r\n*1\r\n")), ERR_DOLLAR);
    /* at once: the first wrong byte is enough */
    expectError(parse(&LIM_DEFAULT, S("*1\r\nx")), ERR_DOLLAR);
}

static void test_bulk_missing_crlf(void **state)
{
    (void)state;
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$3\r\nfooX\r\n")), ERR_BULK_CRLF);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$3\r\nfoo\rX")), ERR_BULK_CRLF);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$3\r\nfoo\n\r")), ERR_BULK_CRLF);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$3\r\nfoobar\r\n")), ERR_BULK_CRLF);
    /* a shorter body than declared, then the next header */
    expectError(parse(&LIM_DEFAULT, S("*2\r\n$4\r\nfoo\r\n$3\r\nbar\r\n")),
                ERR_BULK_CRLF);
    /* at once: the byte after the body must be CR, then LF */
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$3\r\nfooX")), ERR_BULK_CRLF);
    expectIncomplete(parse(&LIM_DEFAULT, S("*1\r\n$3\r\nfoo\r")));
    expectIncomplete(parse(&LIM_DEFAULT, S("*1\r\n$3\r\nfoo")));
}

static void test_bulk_bad_length(void **state)
{
    (void)state;
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$x\r\n")), ERR_BULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$\r\n")), ERR_BULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$+3\r\nfoo\r\n")), ERR_BULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$ 3\r\nfoo\r\n")), ERR_BULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$3 \r\nfoo\r\n")), ERR_BULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$03\r\nfoo\r\n")), ERR_BULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$3\nfoo\r\n")), ERR_BULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$3\rfoo\r\n")), ERR_BULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$3x")), ERR_BULK_LEN);
    expectError(parse(&LIM_DEFAULT, S("*1\r\n$3.0\r\nfoo\r\n")), ERR_BULK_LEN);
}

static void test_header_line_too_long(void **state)
{
    char line[64];
    (void)state;
    /* "*" + 32 bytes with no CR: too long, whatever the bytes are */
    memset(line, '1', sizeof line);
    line[0] = '*';
    expectError(parse(&LIM_HUGE, line, 33), ERR_MBULK_LINE);
    expectError(parse(&LIM_HUGE, line, 64), ERR_MBULK_LINE);
    /* "*" + 31 bytes is still judged by its digits: here, overflow */
    expectError(parse(&LIM_HUGE, line, 32), ERR_MBULK_LEN);
    /* the same for a "$" line */
    memcpy(line, "*1\r\n$", 5);
    expectError(parse(&LIM_HUGE, line, 5 + 32), ERR_BULK_LINE);
    expectError(parse(&LIM_HUGE, line, 5 + 31), ERR_BULK_LEN);
    /* a short, still valid prefix is only incomplete */
    expectIncomplete(parse(&LIM_HUGE, line, 5 + 5));
}

/* ------------------------------------------------------------- inline */

static void test_inline_simple(void **state)
{
    (void)state;
    expectOk(parse(&LIM_DEFAULT, S("PING\r\n")), 6, 1, "PING");
    expectOk(parse(&LIM_DEFAULT, S("PING\n")), 5, 1, "PING");
    expectOk(parse(&LIM_DEFAULT, S("  SET\t k \t v  \r\n")), 16, 3, "SET", "k",
             "v");
    assert_ptr_equal(g_req.argv[0].ptr, g_copy + 2);
    /* a '*' that does not open the line is just a byte */
    expectOk(parse(&LIM_DEFAULT, S("KEYS *\r\n")), 8, 2, "KEYS", "*");
    /* a CR inside a line is a byte of its argument; only the last one goes */
    expectOk(parse(&LIM_DEFAULT, S("A\rB\r\r\n")), 6, 1, "A\rB\r");
    expectIncomplete(parse(&LIM_DEFAULT, S("PING")));
    expectIncomplete(parse(&LIM_DEFAULT, S("PING\r")));
    expectIncomplete(parse(&LIM_DEFAULT, "", 0));
}

static void test_inline_empty_line(void **state)
{
    (void)state;
    expectOk(parse(&LIM_DEFAULT, S("\r\n")), 2, 0);
    expectOk(parse(&LIM_DEFAULT, S("\n")), 1, 0);
    expectOk(parse(&LIM_DEFAULT, S(" \t \r\n")), 5, 0);
    expectOk(parse(&LIM_DEFAULT, S("\nPING\n")), 1, 0);
}

static void test_inline_quotes(void **state)
{
    (void)state;
    expectOk(parse(&LIM_DEFAULT, S("SET \"a b\" 'c d'\r\n")), 17, 3, "SET",
             "a b", "c d");
    /* plain quoted arguments point into the buffer, not the scratch */
    assert_ptr_equal(g_req.argv[1].ptr, g_copy + 5);
    assert_ptr_equal(g_req.argv[2].ptr, g_copy + 11);
    expectOk(parse(&LIM_DEFAULT, S("\"\" ''\n")), 6, 2, "", "");
    expectOk(parse(&LIM_DEFAULT, S("'\"' \"'\"\n")), 8, 2, "\"", "'");
    expectOk(parse(&LIM_DEFAULT, S("\"a\"\t'b'\n")), 8, 2, "a", "b");
    /* a closing quote at the very end of the line */
    expectOk(parse(&LIM_DEFAULT, S("ECHO \"x\"\r\n")), 10, 2, "ECHO", "x");
    /* quoting glues onto an unquoted prefix, as in sdssplitargs */
    expectOk(parse(&LIM_DEFAULT, S("a\"b c\" d'e'\n")), 12, 2, "ab c", "de");
    assert_ptr_equal(g_req.argv[0].ptr, g_scratch);
    /* ...and an empty quote after it adds nothing */
    expectOk(parse(&LIM_DEFAULT, S("ab\"\"\n")), 5, 1, "ab");
}

static void test_inline_escapes(void **state)
{
    static const char want_hex[] = {'A', 'z', '\0', (char)0xff, 'x', '4',
                                    'x', 'Z', 'Z'};
    (void)state;
    expectOk(parse(&LIM_DEFAULT,
                   S("\"a\\nb\" \"\\r\\t\\\\\\\"\" \"\\a\\b\" \"\\q\\'\"\n")),
             32, 4, "a\nb", "\r\t\\\"", "\a\b", "q'");
    assert_int_equal(parse(&LIM_DEFAULT, S("\"\\x41\\x7a\\x00\\xFF\\x4\" \"\\xZZ\"\n")),
                     RESP_PARSE_OK);
    assert_int_equal(g_req.argc, 2);
    /* \x needs two hex digits; otherwise "\x" is just "x" */
    expectArg(0, want_hex, 6);
    expectArg(1, want_hex + 6, 3);
    /* single quotes take only \' */
    expectOk(parse(&LIM_DEFAULT, S("'it\\'s' 'a\\nb' '\\\\x'\n")), 21, 3,
             "it's", "a\\nb", "\\\\x");
    /* decoded arguments live in the scratch, in order */
    expectOk(parse(&LIM_DEFAULT, S("\"\\x31\" plain \"\\x32\\x33\"\n")), 24, 3,
             "1", "plain", "23");
    assert_ptr_equal(g_req.argv[0].ptr, g_scratch);
    assert_ptr_equal(g_req.argv[2].ptr, g_scratch + 1);
    assert_ptr_equal(g_req.argv[1].ptr, g_copy + 7);
}

static void test_inline_escapes_without_scratch(void **state)
{
    (void)state;
    /* plain resp_parse: fine until an argument needs decoding */
    expectOk(parseCap(&LIM_DEFAULT, S("SET \"a b\" 'c'\n"), 0), 14, 3, "SET",
             "a b", "c");
    expectError(parseCap(&LIM_DEFAULT, S("SET \"a\\nb\"\n"), 0), ERR_ESCAPES);
    expectError(parseCap(&LIM_DEFAULT, S("SET a\"b\"\n"), 0), ERR_ESCAPES);
    /* a scratch too small for the decoded bytes */
    expectOk(parseCap(&LIM_DEFAULT, S("\"\\x41\\x42\"\n"), 2), 11, 1, "AB");
    expectError(parseCap(&LIM_DEFAULT, S("\"\\x41\\x42\"\n"), 1), ERR_INLINE_MAX);
    expectError(parseCap(&LIM_DEFAULT, S("\"\\x41\" \"\\x42\"\n"), 1),
                ERR_INLINE_MAX);
}

static void test_inline_unbalanced_quotes(void **state)
{
    static const char *const bad[] = {
        "\"abc\r\n",       "'abc\n",        "SET \"a\n",   "\"a\"b\n",
        "'a'b\n",          "\"a\"\"b\"\n",  "\"a\\\"\n",   "\"abc\\\n",
        "'a\\'\n",         "\"\n",          "'\n",         "x \"a\"'b'\n",
        "\"a\"\r\r\n",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rv = parse(&LIM_DEFAULT, bad[i], strlen(bad[i]));
        if (rv != RESP_PARSE_ERROR) {
            fail_msg("\"%s\": expected an error, got %d", bad[i], rv);
        }
        assert_string_equal(g_err, ERR_QUOTES);
    }
    /* the line is judged only once it is whole */
    expectIncomplete(parse(&LIM_DEFAULT, S("\"abc")));
}

static void test_inline_too_long(void **state)
{
    char line[200];
    (void)state;
    memset(line, 'a', sizeof line);
    /* unterminated: up to inline_max bytes (plus a lone final CR) wait */
    expectIncomplete(parse(&LIM_SMALL, line, 64));
    line[64] = '\r';
    expectIncomplete(parse(&LIM_SMALL, line, 65));
    line[64] = 'a';
    expectError(parse(&LIM_SMALL, line, 65), ERR_INLINE_MAX);
    expectError(parse(&LIM_SMALL, line, 66), ERR_INLINE_MAX);
    expectError(parse(&LIM_SMALL, line, 200), ERR_INLINE_MAX);
    line[64] = '\r';
    line[65] = 'a';
    expectError(parse(&LIM_SMALL, line, 66), ERR_INLINE_MAX);
    /* terminated: inline_max bytes is fine, one more is not */
    line[64] = '\r';
    line[65] = '\n';
    assert_int_equal(parse(&LIM_SMALL, line, 66), RESP_PARSE_OK);
    assert_int_equal(g_consumed, 66);
    expectArg(0, line, 64);
    line[64] = '\n';
    assert_int_equal(parse(&LIM_SMALL, line, 65), RESP_PARSE_OK);
    assert_int_equal(g_consumed, 65);
    memset(line, 'a', sizeof line);
    line[65] = '\n';
    expectError(parse(&LIM_SMALL, line, 66), ERR_INLINE_MAX);
    line[65] = '\r';
    line[66] = '\n';
    expectError(parse(&LIM_SMALL, line, 67), ERR_INLINE_MAX);
    /* an LF far beyond the limit is not looked for */
    line[150] = '\n';
    expectError(parse(&LIM_SMALL, line, 151), ERR_INLINE_MAX);
}

static void test_inline_too_many_args(void **state)
{
    (void)state;
    expectOk(parse(&LIM_SMALL, S("1 2 3 4 5 6 7 8\n")), 16, 8, "1", "2", "3",
             "4", "5", "6", "7", "8");
    expectError(parse(&LIM_SMALL, S("1 2 3 4 5 6 7 8 9\n")), ERR_INLINE_ARGS);
    /* trailing blanks are not an argument */
    expectOk(parse(&LIM_SMALL, S("1 2 3 4 5 6 7 8   \n")), 19, 8, "1", "2", "3",
             "4", "5", "6", "7", "8");
    expectError(parse(&LIM_SMALL, S("1 2 3 4 5 6 7 8 ''\n")), ERR_INLINE_ARGS);
}

/* --------------------------------------------------------------- limits */

static void test_limits_boundaries(void **state)
{
    char req[256];
    size_t n;
    (void)state;
    /* args_max exactly, then one past */
    n = (size_t)sprintf(req, "*8\r\n");
    for (int i = 0; i < 8; i++) {
        n += (size_t)sprintf(req + n, "$1\r\n%d\r\n", i);
    }
    expectOk(parse(&LIM_SMALL, req, n), n, 8, "0", "1", "2", "3", "4", "5",
             "6", "7");
    req[1] = '9';
    expectError(parse(&LIM_SMALL, req, n), ERR_MBULK_MAX);

    /* bulk_max exactly, then one past */
    n = (size_t)sprintf(req, "*1\r\n$16\r\n0123456789abcdef\r\n");
    expectOk(parse(&LIM_SMALL, req, n), n, 1, "0123456789abcdef");
    n = (size_t)sprintf(req, "*1\r\n$17\r\n0123456789abcdefg\r\n");
    expectError(parse(&LIM_SMALL, req, n), ERR_BULK_MAX);
}

static void test_limits_zero(void **state)
{
    static const resp_limits none = {0, 0, 0};
    (void)state;
    expectOk(parse(&none, S("*0\r\n")), 4, 0);
    expectOk(parse(&none, S("*-1\r\n")), 5, 0);
    expectError(parse(&none, S("*1")), ERR_MBULK_MAX);
    expectOk(parse(&none, S("\r\n")), 2, 0);
    expectError(parse(&none, S("a\n")), ERR_INLINE_MAX);
    expectError(parse(&none, S("a")), ERR_INLINE_MAX);
    expectIncomplete(parse(&none, S("\r")));

    static const resp_limits one = {1, 0, 1};
    expectOk(parse(&one, S("*1\r\n$0\r\n\r\n")), 10, 1, "");
    expectError(parse(&one, S("*1\r\n$1")), ERR_BULK_MAX);
    expectOk(parse(&one, S("a\n")), 2, 1, "a");
}

static void test_limits_default_full_request(void **state)
{
    /* 1024 arguments of 1 byte, and one argument of 512 KiB */
    size_t big = RESP_BULK_MAX_DEFAULT + 64;
    char *req = malloc(big > 16 * 1024 ? big : 16 * 1024);
    size_t n;
    size_t i;
    (void)state;
    assert_non_null(req);
    n = (size_t)sprintf(req, "*1024\r\n");
    for (i = 0; i < 1024; i++) {
        n += (size_t)sprintf(req + n, "$1\r\n%c\r\n", (char)('a' + i % 26));
    }
    assert_int_equal(parse(&LIM_DEFAULT, req, n), RESP_PARSE_OK);
    assert_int_equal(g_req.argc, 1024);
    expectArg(1023, "j", 1);

    n = (size_t)sprintf(req, "*1\r\n$%u\r\n", RESP_BULK_MAX_DEFAULT);
    memset(req + n, 'z', RESP_BULK_MAX_DEFAULT);
    n += RESP_BULK_MAX_DEFAULT;
    memcpy(req + n, "\r\n", 2);
    n += 2;
    assert_int_equal(parse(&LIM_DEFAULT, req, n), RESP_PARSE_OK);
    assert_int_equal(g_req.argv[0].len, RESP_BULK_MAX_DEFAULT);
    expectIncomplete(parse(&LIM_DEFAULT, req, n - 1));
    free(req);
}

/* --------------------------------------------------- seeded round trips */

static uint64_t g_rng;

static uint64_t rngNext(void)
{
    /* xorshift64*: deterministic from the printed seed */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 2685821657736338717ull;
}

/* Random binary requests, written with the writer as arrays of bulks, then
 * parsed back whole, split at a random point, and as a pipeline. */
static void test_random_roundtrip(void **state)
{
    const char *env = getenv("RESP_TEST_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 10) : 0x5eedull;
    char args[8][40];
    size_t lens[8];
    int round;
    (void)state;
    printf("test_random_roundtrip: RESP_TEST_SEED=%llu\n",
           (unsigned long long)seed);
    g_rng = seed != 0 ? seed : 1;
    for (round = 0; round < 2000; round++) {
        resp_buf b;
        size_t argc = (size_t)(rngNext() % 9);
        size_t i;
        size_t cut;
        resp_buf_init(&b, 4096);
        assert_int_equal(resp_write_array(&b, argc), 0);
        for (i = 0; i < argc; i++) {
            size_t j;
            lens[i] = (size_t)(rngNext() % 17);
            for (j = 0; j < lens[i]; j++) {
                args[i][j] = (char)(rngNext() & 0xff);
            }
            assert_int_equal(resp_write_bulk(&b, args[i], lens[i]), 0);
        }
        /* the whole request */
        assert_int_equal(parse(&LIM_SMALL, b.data, b.len), RESP_PARSE_OK);
        assert_int_equal(g_consumed, b.len);
        assert_int_equal(g_req.argc, argc);
        for (i = 0; i < argc; i++) {
            expectArg(i, args[i], lens[i]);
        }
        /* a random proper prefix */
        cut = (size_t)(rngNext() % b.len);
        expectIncomplete(parse(&LIM_SMALL, b.data, cut));
        /* twice in a row: the first is found, the second left */
        {
            char copy[4096];
            size_t once = b.len;
            memcpy(copy, b.data, once);
            assert_int_equal(resp_write_raw(&b, copy, once), 0);
        }
        assert_int_equal(parse(&LIM_SMALL, b.data, b.len), RESP_PARSE_OK);
        assert_int_equal(g_consumed * 2, b.len);
        resp_buf_free(&b);
    }
}

/* --------------------------------------------------------------- writer */

static void expectBuf(const resp_buf *b, const char *want, size_t n)
{
    assert_int_equal(b->len, n);
    assert_true(b->len <= b->alloc);
    assert_true(b->alloc <= b->cap);
    if (n > 0) {
        assert_memory_equal(b->data, want, n);
    }
}

static void test_write_simple_error(void **state)
{
    resp_buf b;
    (void)state;
    resp_buf_init(&b, 1024);
    assert_int_equal(b.len, 0);
    assert_null(b.data);
    assert_int_equal(resp_write_simple(&b, "OK"), 0);
    expectBuf(&b, S("+OK\r\n"));
    assert_int_equal(resp_write_error(&b, "ERR bad"), 0);
    expectBuf(&b, S("+OK\r\n-ERR bad\r\n"));
    assert_int_equal(resp_write_simple(&b, ""), 0);
    expectBuf(&b, S("+OK\r\n-ERR bad\r\n+\r\n"));
    resp_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.alloc, 0);

    /* CR and LF cannot end the line early: they become spaces */
    resp_buf_init(&b, 1024);
    assert_int_equal(resp_write_error(&b, "ERR a\r\nb\nc\rd"), 0);
    expectBuf(&b, S("-ERR a  b c d\r\n"));
    assert_int_equal(resp_write_simple(&b, "\n"), 0);
    expectBuf(&b, S("-ERR a  b c d\r\n+ \r\n"));
    resp_buf_free(&b);
}

static void test_write_int(void **state)
{
    resp_buf b;
    (void)state;
    resp_buf_init(&b, 1024);
    assert_int_equal(resp_write_int(&b, 0), 0);
    expectBuf(&b, S(":0\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_int(&b, 42), 0);
    expectBuf(&b, S(":42\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_int(&b, -1), 0);
    expectBuf(&b, S(":-1\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_int(&b, -10), 0);
    expectBuf(&b, S(":-10\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_int(&b, INT64_MAX), 0);
    expectBuf(&b, S(":9223372036854775807\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_int(&b, INT64_MIN), 0);
    expectBuf(&b, S(":-9223372036854775808\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_int(&b, INT64_MIN + 1), 0);
    expectBuf(&b, S(":-9223372036854775807\r\n"));
    resp_buf_free(&b);
}

static void test_write_bulk_cstr(void **state)
{
    static const char bin[] = "a\0\r\nb";
    resp_buf b;
    (void)state;
    resp_buf_init(&b, 1024);
    assert_int_equal(resp_write_bulk(&b, "foo", 3), 0);
    expectBuf(&b, S("$3\r\nfoo\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_bulk(&b, bin, sizeof bin - 1), 0);
    expectBuf(&b, S("$5\r\na\0\r\nb\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_bulk(&b, NULL, 0), 0);
    expectBuf(&b, S("$0\r\n\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_cstr(&b, "hello"), 0);
    expectBuf(&b, S("$5\r\nhello\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_cstr(&b, ""), 0);
    expectBuf(&b, S("$0\r\n\r\n"));
    resp_buf_free(&b);
}

static void test_write_null(void **state)
{
    resp_buf b;
    (void)state;
    resp_buf_init(&b, 1024);
    assert_int_equal(resp_write_null(&b, 2), 0);
    expectBuf(&b, S("$-1\r\n"));
    assert_int_equal(resp_write_null(&b, 3), 0);
    expectBuf(&b, S("$-1\r\n_\r\n"));
    resp_buf_free(&b);
}

static void test_write_array_map(void **state)
{
    char want[64];
    int n;
    resp_buf b;
    (void)state;
    resp_buf_init(&b, 1024);
    assert_int_equal(resp_write_array(&b, 0), 0);
    expectBuf(&b, S("*0\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_array(&b, 3), 0);
    expectBuf(&b, S("*3\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_map(&b, 2, 3), 0);
    expectBuf(&b, S("%2\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_map(&b, 2, 2), 0);
    expectBuf(&b, S("*4\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_map(&b, 0, 2), 0);
    expectBuf(&b, S("*0\r\n"));
    b.len = 0;
    assert_int_equal(resp_write_map(&b, 0, 3), 0);
    expectBuf(&b, S("%0\r\n"));
    b.len = 0;
    /* the largest counts */
    assert_int_equal(resp_write_array(&b, SIZE_MAX), 0);
    n = snprintf(want, sizeof want, "*%zu\r\n", (size_t)SIZE_MAX);
    expectBuf(&b, want, (size_t)n);
    b.len = 0;
    assert_int_equal(resp_write_map(&b, SIZE_MAX, 3), 0);
    n = snprintf(want, sizeof want, "%%%zu\r\n", (size_t)SIZE_MAX);
    expectBuf(&b, want, (size_t)n);
    b.len = 0;
    assert_int_equal(resp_write_map(&b, SIZE_MAX / 2, 2), 0);
    n = snprintf(want, sizeof want, "*%zu\r\n", (size_t)SIZE_MAX - 1);
    expectBuf(&b, want, (size_t)n);
    /* 2 * pairs would overflow: refused, nothing written */
    assert_int_equal(resp_write_map(&b, SIZE_MAX / 2 + 1, 2), -1);
    expectBuf(&b, want, (size_t)n);
    resp_buf_free(&b);
}

static void test_write_raw(void **state)
{
    resp_buf b;
    (void)state;
    resp_buf_init(&b, 1024);
    assert_int_equal(resp_write_raw(&b, NULL, 0), 0);
    expectBuf(&b, "", 0);
    assert_int_equal(resp_write_raw(&b, S("+OK\r\n")), 0);
    assert_int_equal(resp_write_raw(&b, S("\0x")), 0);
    expectBuf(&b, S("+OK\r\n\0x"));
    resp_buf_free(&b);
}

/* One writer call, to run each of them against the cap. */
typedef int (*writeFn)(resp_buf *b);
static int wSimple(resp_buf *b) { return resp_write_simple(b, "OK"); }
static int wError(resp_buf *b) { return resp_write_error(b, "ERR no"); }
static int wIntMin(resp_buf *b) { return resp_write_int(b, INT64_MIN); }
static int wIntMax(resp_buf *b) { return resp_write_int(b, INT64_MAX); }
static int wBulk(resp_buf *b) { return resp_write_bulk(b, "a\0b", 3); }
static int wBulkEmpty(resp_buf *b) { return resp_write_bulk(b, "", 0); }
static int wCstr(resp_buf *b) { return resp_write_cstr(b, "hello"); }
static int wNull2(resp_buf *b) { return resp_write_null(b, 2); }
static int wNull3(resp_buf *b) { return resp_write_null(b, 3); }
static int wArray(resp_buf *b) { return resp_write_array(b, 12); }
static int wMap2(resp_buf *b) { return resp_write_map(b, 6, 2); }
static int wMap3(resp_buf *b) { return resp_write_map(b, 6, 3); }
static int wRaw(resp_buf *b) { return resp_write_raw(b, "xyz", 3); }

static const struct {
    const char *name;
    writeFn fn;
    const char *want;
    size_t want_len;
} WRITERS[] = {
    {"simple", wSimple, S("+OK\r\n")},
    {"error", wError, S("-ERR no\r\n")},
    {"int min", wIntMin, S(":-9223372036854775808\r\n")},
    {"int max", wIntMax, S(":9223372036854775807\r\n")},
    {"bulk", wBulk, S("$3\r\na\0b\r\n")},
    {"bulk empty", wBulkEmpty, S("$0\r\n\r\n")},
    {"cstr", wCstr, S("$5\r\nhello\r\n")},
    {"null2", wNull2, S("$-1\r\n")},
    {"null3", wNull3, S("_\r\n")},
    {"array", wArray, S("*12\r\n")},
    {"map2", wMap2, S("*12\r\n")},
    {"map3", wMap3, S("%6\r\n")},
    {"raw", wRaw, S("xyz")},
};

/* For every writer, after some prefix: a cap one byte short refuses the
 * element and leaves the buffer exactly as it was; a cap exactly reached
 * takes it; after that, nothing more fits. */
static void test_write_cap_every_writer(void **state)
{
    static const char prefix[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                 "0123456789abcdefghijklmnopqrstuvwxyz";
    size_t w;
    size_t pre;
    (void)state;
    for (w = 0; w < sizeof WRITERS / sizeof WRITERS[0]; w++) {
        for (pre = 0; pre < sizeof prefix; pre += 7) {
            size_t need = pre + WRITERS[w].want_len;
            resp_buf b;
            char *before_data;
            size_t before_alloc;

            /* one byte short: refused, unchanged */
            resp_buf_init(&b, need - 1);
            assert_int_equal(resp_write_raw(&b, prefix, pre), 0);
            before_data = b.data;
            before_alloc = b.alloc;
            if (WRITERS[w].fn(&b) != -1) {
                fail_msg("%s after %zu bytes: accepted past cap", WRITERS[w].name,
                         pre);
            }
            assert_ptr_equal(b.data, before_data);
            assert_int_equal(b.alloc, before_alloc);
            expectBuf(&b, prefix, pre);
            resp_buf_free(&b);

            /* exactly the cap: taken */
            resp_buf_init(&b, need);
            assert_int_equal(resp_write_raw(&b, prefix, pre), 0);
            if (WRITERS[w].fn(&b) != 0) {
                fail_msg("%s after %zu bytes: refused at cap", WRITERS[w].name,
                         pre);
            }
            assert_int_equal(b.len, need);
            assert_int_equal(b.alloc, need);
            assert_memory_equal(b.data, prefix, pre);
            assert_memory_equal(b.data + pre, WRITERS[w].want,
                                WRITERS[w].want_len);
            /* full: any non-empty element is refused, buffer unchanged */
            assert_int_equal(WRITERS[w].fn(&b), -1);
            assert_int_equal(resp_write_raw(&b, "x", 1), -1);
            assert_int_equal(b.len, need);
            assert_memory_equal(b.data + pre, WRITERS[w].want,
                                WRITERS[w].want_len);
            /* an empty raw write always fits */
            assert_int_equal(resp_write_raw(&b, NULL, 0), 0);
            resp_buf_free(&b);
        }
    }
}

static void test_write_cap_zero(void **state)
{
    resp_buf b;
    (void)state;
    resp_buf_init(&b, 0);
    assert_int_equal(resp_write_simple(&b, ""), -1);
    assert_int_equal(resp_write_null(&b, 3), -1);
    assert_int_equal(resp_write_raw(&b, "x", 1), -1);
    assert_int_equal(resp_write_raw(&b, NULL, 0), 0);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.alloc, 0);
    resp_buf_free(&b);
}

static void test_write_bulk_huge_refused(void **state)
{
    resp_buf b;
    (void)state;
    resp_buf_init(&b, 1024);
    assert_int_equal(resp_write_raw(&b, "ab", 2), 0);
    /* lengths whose totals would wrap around size_t */
    assert_int_equal(resp_write_bulk(&b, "x", SIZE_MAX), -1);
    assert_int_equal(resp_write_bulk(&b, "x", SIZE_MAX - 3), -1);
    assert_int_equal(resp_write_raw(&b, "x", SIZE_MAX), -1);
    assert_int_equal(resp_write_raw(&b, "x", SIZE_MAX - 1), -1);
    expectBuf(&b, "ab", 2);
    resp_buf_free(&b);
}

/* Growth doubles from the first allocation and stops at the cap. */
static void test_write_growth(void **state)
{
    resp_buf b;
    size_t last_alloc = 0;
    size_t i;
    size_t cap = 100000;
    (void)state;
    resp_buf_init(&b, cap);
    for (i = 0;; i++) {
        int rv = resp_write_raw(&b, "0123456789", 10);
        if (rv != 0) {
            break;
        }
        assert_true(b.alloc >= b.len);
        assert_true(b.alloc <= cap);
        if (b.alloc != last_alloc) {
            /* 64, 128, ... or the cap itself */
            assert_true(b.alloc == cap || last_alloc == 0 ||
                        b.alloc == last_alloc * 2);
            last_alloc = b.alloc;
        }
    }
    assert_int_equal(i, cap / 10);
    assert_int_equal(b.len, cap);
    assert_int_equal(b.alloc, cap);
    for (i = 0; i < cap; i += 10) {
        assert_memory_equal(b.data + i, "0123456789", 10);
    }
    resp_buf_free(&b);

    /* a cap below the first allocation is not exceeded either */
    resp_buf_init(&b, 5);
    assert_int_equal(resp_write_simple(&b, "OK"), 0);
    assert_int_equal(b.alloc, 5);
    resp_buf_free(&b);
}

/* A reply of several elements, as the server writes them, is exact. */
static void test_write_reply_sequence(void **state)
{
    resp_buf b;
    (void)state;
    resp_buf_init(&b, 1 << 20);
    assert_int_equal(resp_write_map(&b, 2, 3), 0);
    assert_int_equal(resp_write_cstr(&b, "server"), 0);
    assert_int_equal(resp_write_cstr(&b, "seqd"), 0);
    assert_int_equal(resp_write_cstr(&b, "proto"), 0);
    assert_int_equal(resp_write_int(&b, 3), 0);
    assert_int_equal(resp_write_array(&b, 2), 0);
    assert_int_equal(resp_write_null(&b, 3), 0);
    assert_int_equal(resp_write_simple(&b, "QUEUED"), 0);
    expectBuf(&b, S("%2\r\n$6\r\nserver\r\n$4\r\nseqd\r\n$5\r\nproto\r\n:3\r\n"
                    "*2\r\n_\r\n+QUEUED\r\n"));
    resp_buf_free(&b);
}

/* -------------------------------------------------------- reply scanner */

static const char ERR_REPLY_TYPE[] = PROTO_ERR "unknown reply type";
static const char ERR_AGG_LEN[] = PROTO_ERR "invalid aggregate length";
static const char ERR_AGG_MAX[] = PROTO_ERR "too many elements in reply";
static const char ERR_AGG_LINE[] = PROTO_ERR "too big aggregate count string";
static const char ERR_REPLY_DEPTH[] = PROTO_ERR "reply nested too deeply";
static const char ERR_LINE_MAX[] = PROTO_ERR "too big reply line";
static const char ERR_LINE_CRLF[] = PROTO_ERR "bare CR or LF in reply line";
static const char ERR_INTEGER[] = PROTO_ERR "invalid integer reply";
static const char ERR_DOUBLE[] = PROTO_ERR "invalid double reply";
static const char ERR_BOOLEAN[] = PROTO_ERR "invalid boolean reply";
static const char ERR_NULL[] = PROTO_ERR "invalid null reply";
static const char ERR_BIGNUM[] = PROTO_ERR "invalid big number reply";
static const char ERR_VERBATIM[] = PROTO_ERR "invalid verbatim string reply";

/* Every type byte a reply may start with. */
static const char REPLY_TYPES[] = "+-:$*_,#(!=%~>|";

/* Element limit of the scans below unless a test sets its own. */
static size_t g_elems_max = RESP_REPLY_ELEMS_MAX_DEFAULT;

/* Scans a heap copy of buf[0..len) and checks what holds after any scan. */
static int scanElems(const resp_limits *lim, size_t elems_max, const char *buf,
                     size_t len)
{
    int rv;

    free(g_copy);
    g_copy = malloc(len > 0 ? len : 1);
    assert_non_null(g_copy);
    if (len > 0) {
        memcpy(g_copy, buf, len);
    }
    g_copy_len = len;
    g_consumed = 777;
    g_err = "not set";
    rv = resp_reply_scan(lim, elems_max, g_copy, len, &g_consumed, &g_err);
    switch (rv) {
    case RESP_PARSE_OK:
        assert_true(g_consumed > 0);
        assert_true(g_consumed <= len);
        assert_null(g_err);
        break;
    case RESP_PARSE_INCOMPLETE:
        assert_int_equal(g_consumed, 0);
        assert_null(g_err);
        break;
    case RESP_PARSE_ERROR:
        assert_int_equal(g_consumed, 0);
        assert_non_null(g_err);
        assert_memory_equal(g_err, PROTO_ERR, strlen(PROTO_ERR));
        break;
    default:
        fail_msg("resp_reply_scan returned %d", rv);
    }
    return rv;
}

static int scan(const resp_limits *lim, const char *buf, size_t len)
{
    return scanElems(lim, g_elems_max, buf, len);
}

static void expectScanOk(int rv, size_t consumed)
{
    if (rv != RESP_PARSE_OK) {
        fail_msg("expected OK, got %d (%s)", rv,
                 rv == RESP_PARSE_ERROR ? g_err : "incomplete");
    }
    assert_int_equal(g_consumed, consumed);
}

/* Every proper prefix of reply[0..len) is INCOMPLETE; the whole is OK with
 * exactly len bytes, and stays so with a pipelined reply or junk after it. */
static void expectReplySplits(const resp_limits *lim, const char *reply,
                              size_t len)
{
    char *more = malloc(len + 8);
    size_t i;

    assert_non_null(more);
    for (i = 0; i < len; i++) {
        int rv = scan(lim, reply, i);
        if (rv != RESP_PARSE_INCOMPLETE) {
            fail_msg("prefix %zu of %zu bytes: got %d (%s)", i, len, rv,
                     rv == RESP_PARSE_ERROR ? g_err : "ok");
        }
    }
    expectScanOk(scan(lim, reply, len), len);
    memcpy(more, reply, len);
    memcpy(more + len, "+OK\r\n\x01\r\n", 8);
    expectScanOk(scan(lim, more, len + 8), len);
    free(more);
}

typedef struct replyCase {
    const char *p;
    size_t n;
} replyCase;

static void test_reply_every_type(void **state)
{
    static const replyCase replies[] = {
        {S("+OK\r\n")},
        {S("+\r\n")},
        {S("+a\0b\x7f\r\n")},
        {S("-ERR unknown command\r\n")},
        {S("-\r\n")},
        {S(":0\r\n")},
        {S(":-42\r\n")},
        {S(":+7\r\n")},
        {S(":007\r\n")},
        {S(":9223372036854775807\r\n")},
        {S(":-9223372036854775808\r\n")},
        {S("$3\r\nfoo\r\n")},
        {S("$0\r\n\r\n")},
        {S("$-1\r\n")},
        {S("$6\r\na\r\n\0b\n\r\n")},
        {S("*0\r\n")},
        {S("*-1\r\n")},
        {S("*2\r\n+a\r\n:1\r\n")},
        {S("_\r\n")},
        {S(",1.5\r\n")},
        {S(",-0.25e-10\r\n")},
        {S(",1E+300\r\n")},
        {S(",10\r\n")},
        {S(",inf\r\n")},
        {S(",-inf\r\n")},
        {S(",nan\r\n")},
        {S("#t\r\n")},
        {S("#f\r\n")},
        {S("(3492890328409238509324850943850943825024385\r\n")},
        {S("(-1\r\n")},
        {S("!21\r\nSYNTAX invalid syntax\r\n")},
        {S("!0\r\n\r\n")},
        {S("=15\r\ntxt:Some string\r\n")},
        {S("=4\r\nmkd:\r\n")},
        {S("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n")},
        {S("%0\r\n")},
        {S("~3\r\n+a\r\n+b\r\n+c\r\n")},
        {S("~0\r\n")},
        {S(">3\r\n+message\r\n+chan\r\n$5\r\nhello\r\n")},
        {S(">0\r\n")},
        {S("|0\r\n+OK\r\n")},
        /* the example of the RESP3 specification */
        {S("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n"
           ",0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n")},
    };
    /* args_max 8 plays no part in a reply */
    static const resp_limits lim = {8, 64, 64};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        expectReplySplits(&LIM_DEFAULT, replies[i].p, replies[i].n);
        expectReplySplits(&lim, replies[i].p, replies[i].n);
    }
}

static void test_reply_nested(void **state)
{
    static const replyCase replies[] = {
        {S("*2\r\n*2\r\n:1\r\n:2\r\n%1\r\n+k\r\n~1\r\n$-1\r\n")},
        {S("*3\r\n$-1\r\n*-1\r\n_\r\n")},
        {S("*2\r\n*0\r\n*0\r\n")},
        {S("*1\r\n*1\r\n*1\r\n*0\r\n")},
        /* an attribute on an element: it and its reply fill one slot */
        {S("*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n")},
        /* attributes on attributes */
        {S("|0\r\n|0\r\n+x\r\n")},
        {S("|1\r\n|0\r\n+k\r\n+v\r\n*1\r\n|0\r\n:1\r\n")},
        {S("%1\r\n*1\r\n:1\r\n~2\r\n#t\r\n>1\r\n_\r\n")},
        {S(">2\r\n+invalidate\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n")},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        expectReplySplits(&LIM_DEFAULT, replies[i].p, replies[i].n);
    }
    /* an aggregate waits for all its elements */
    expectIncomplete(scan(&LIM_DEFAULT, S("*2\r\n:1\r\n")));
    expectIncomplete(scan(&LIM_DEFAULT, S("*2\r\n:1\r\n*1\r\n")));
    /* a map for 2n, an attribute for 2n and then its reply */
    expectIncomplete(scan(&LIM_DEFAULT, S("%1\r\n+k\r\n")));
    expectScanOk(scan(&LIM_DEFAULT, S("%1\r\n+k\r\n+v\r\n")), 12);
    expectIncomplete(scan(&LIM_DEFAULT, S("|1\r\n+k\r\n+v\r\n")));
    expectScanOk(scan(&LIM_DEFAULT, S("|1\r\n+k\r\n+v\r\n:1\r\n+next\r\n")), 16);
    /* "*-1" and "$-1" are whole nulls, even inside an aggregate */
    expectScanOk(scan(&LIM_DEFAULT, S("*1\r\n*-1\r\n:9\r\n")), 9);
}

/* A reply of every type and several levels, cut at every byte. */
static void test_reply_split_every_point(void **state)
{
    static const char reply[] =
        "|1\r\n+ttl\r\n:30\r\n"
        "*9\r\n"
        "+OK\r\n-ERR x\r\n:-1\r\n"
        "$5\r\nab\r\nc\r\n"
        "%2\r\n$1\r\nk\r\n*2\r\n_\r\n,3.25\r\n(12\r\n~1\r\n#f\r\n"
        ">1\r\n!3\r\nbad\r\n"
        "=6\r\ntxt:hi\r\n"
        "*-1\r\n$-1\r\n";
    (void)state;
    expectReplySplits(&LIM_DEFAULT, reply, sizeof reply - 1);
    expectReplySplits(&LIM_SMALL, reply, sizeof reply - 1);
}

/* Several replies in one buffer: each scan returns only the first; fed a
 * byte at a time, each is found on its very last byte. */
static void test_reply_pipelined(void **state)
{
    static const char pipe[] = "+OK\r\n"
                               "*2\r\n$1\r\na\r\n:1\r\n"
                               "$-1\r\n"
                               "%1\r\n+k\r\n|0\r\n+v\r\n"
                               ":5\r\n"
                               "*3\r\n:1";
    static const size_t want[] = {5, 15, 5, 16, 4};
    size_t off = 0;
    size_t start = 0;
    size_t end;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        expectScanOk(scan(&LIM_DEFAULT, pipe + off, sizeof pipe - 1 - off),
                     want[i]);
        off += g_consumed;
    }
    expectIncomplete(scan(&LIM_DEFAULT, pipe + off, sizeof pipe - 1 - off));
    i = 0;
    for (end = 1; end <= sizeof pipe - 1; end++) {
        int rv = scan(&LIM_DEFAULT, pipe + start, end - start);
        if (rv == RESP_PARSE_INCOMPLETE) {
            continue;
        }
        expectScanOk(rv, end - start);
        assert_true(i < sizeof want / sizeof want[0]);
        assert_int_equal(g_consumed, want[i]);
        start = end;
        i++;
    }
    assert_int_equal(i, sizeof want / sizeof want[0]);
}

/* n aggregate headers of one element each, from types[] in turn (an
 * attribute "|0" holds just the reply it annotates), then tail. */
static size_t nestedReply(char *out, size_t n, const char *types,
                          const char *tail)
{
    size_t len = 0;
    size_t i;
    size_t ntypes = strlen(types);

    for (i = 0; i < n; i++) {
        char t = types[i % ntypes];
        len += (size_t)sprintf(out + len, "%c%d\r\n", t, t == '|' ? 0 : 1);
    }
    len += (size_t)sprintf(out + len, "%s", tail);
    return len;
}

static void test_reply_depth(void **state)
{
    char reply[512];
    size_t n;
    (void)state;
    assert_int_equal(RESP_REPLY_DEPTH_MAX, 16);
    /* 16 levels, then a scalar: fine; 17: an error */
    n = nestedReply(reply, 16, "*", ":1\r\n");
    expectReplySplits(&LIM_DEFAULT, reply, n);
    n = nestedReply(reply, 17, "*", ":1\r\n");
    expectError(scan(&LIM_DEFAULT, reply, n), ERR_REPLY_DEPTH);
    /* at once: the 17th header is enough */
    n = nestedReply(reply, 17, "*", "");
    expectError(scan(&LIM_DEFAULT, reply, n), ERR_REPLY_DEPTH);
    expectIncomplete(scan(&LIM_DEFAULT, reply, n - 1));
    /* an empty aggregate is a level too; a null is not */
    n = nestedReply(reply, 15, "*", "*0\r\n");
    expectScanOk(scan(&LIM_DEFAULT, reply, n), n);
    n = nestedReply(reply, 16, "*", "*0\r\n");
    expectError(scan(&LIM_DEFAULT, reply, n), ERR_REPLY_DEPTH);
    n = nestedReply(reply, 16, "*", "%0\r\n");
    expectError(scan(&LIM_DEFAULT, reply, n), ERR_REPLY_DEPTH);
    n = nestedReply(reply, 16, "*", "*-1\r\n");
    expectScanOk(scan(&LIM_DEFAULT, reply, n), n);
    /* every aggregate type is a level */
    n = nestedReply(reply, 16, "*~>|%", ":1\r\n");
    /* the maps among them hold a second element each: close them */
    assert_true(n < sizeof reply);
    {
        char full[1024];
        size_t maps = 3; /* levels 5, 10 and 15 */
        size_t k;
        memcpy(full, reply, n);
        for (k = 0; k < maps; k++) {
            memcpy(full + n, "_\r\n", 3);
            n += 3;
        }
        expectReplySplits(&LIM_DEFAULT, full, n);
    }
    n = nestedReply(reply, 17, "|~>*", "");
    expectError(scan(&LIM_DEFAULT, reply, n), ERR_REPLY_DEPTH);
    /* depth counts open aggregates, not all of them: siblings are fine */
    n = nestedReply(reply, 14, "*", "*2\r\n*1\r\n:1\r\n*1\r\n:2\r\n");
    expectScanOk(scan(&LIM_DEFAULT, reply, n), n);
    n = nestedReply(reply, 15, "*", "*2\r\n*1\r\n:1\r\n*1\r\n:2\r\n");
    expectError(scan(&LIM_DEFAULT, reply, n), ERR_REPLY_DEPTH);
}

static void test_reply_bulk_limit(void **state)
{
    char reply[128];
    size_t n;
    (void)state;
    /* LIM_SMALL: bulk_max 16 */
    n = (size_t)sprintf(reply, "$16\r\n0123456789abcdef\r\n");
    expectScanOk(scan(&LIM_SMALL, reply, n), n);
    n = (size_t)sprintf(reply, "!16\r\n0123456789abcdef\r\n");
    expectScanOk(scan(&LIM_SMALL, reply, n), n);
    n = (size_t)sprintf(reply, "=16\r\ntxt:456789abcdef\r\n");
    expectScanOk(scan(&LIM_SMALL, reply, n), n);
    n = (size_t)sprintf(reply, "$17\r\n0123456789abcdefg\r\n");
    expectError(scan(&LIM_SMALL, reply, n), ERR_BULK_MAX);
    /* at once: before the CRLF, let alone the body */
    expectError(scan(&LIM_SMALL, S("$17")), ERR_BULK_MAX);
    expectError(scan(&LIM_SMALL, S("!17")), ERR_BULK_MAX);
    expectError(scan(&LIM_SMALL, S("=17")), ERR_BULK_MAX);
    expectError(scan(&LIM_SMALL, S("$100")), ERR_BULK_MAX);
    expectError(scan(&LIM_SMALL, S("*2\r\n:1\r\n$17")), ERR_BULK_MAX);
    expectIncomplete(scan(&LIM_SMALL, S("$16\r\n")));
    expectError(scan(&LIM_DEFAULT, S("$524289")), ERR_BULK_MAX);
    expectIncomplete(scan(&LIM_DEFAULT, S("$524288\r\n")));
}

static void test_reply_elems_limit(void **state)
{
    size_t n;
    size_t i;
    char *big;
    (void)state;
    /* exactly the limit, then one past, at once */
    expectScanOk(scanElems(&LIM_DEFAULT, 3, S("*3\r\n:1\r\n:2\r\n:3\r\n")), 16);
    expectError(scanElems(&LIM_DEFAULT, 3, S("*4")), ERR_AGG_MAX);
    expectError(scanElems(&LIM_DEFAULT, 3, S("~4")), ERR_AGG_MAX);
    expectError(scanElems(&LIM_DEFAULT, 3, S(">4")), ERR_AGG_MAX);
    /* nested elements count: 2 + 2 > 3 as soon as the inner header is in */
    expectError(scanElems(&LIM_DEFAULT, 3, S("*2\r\n*2")), ERR_AGG_MAX);
    expectScanOk(scanElems(&LIM_DEFAULT, 4, S("*2\r\n*2\r\n:1\r\n:2\r\n:3\r\n")),
                 20);
    /* a map counts 2 per pair */
    expectScanOk(scanElems(&LIM_DEFAULT, 2, S("%1\r\n:1\r\n:2\r\n")), 12);
    expectError(scanElems(&LIM_DEFAULT, 3, S("%2")), ERR_AGG_MAX);
    expectIncomplete(scanElems(&LIM_DEFAULT, 4, S("%2")));
    /* an attribute 2 per pair, plus the reply it annotates */
    expectScanOk(scanElems(&LIM_DEFAULT, 3, S("|1\r\n+a\r\n+b\r\n+c\r\n")), 16);
    expectError(scanElems(&LIM_DEFAULT, 2, S("|1")), ERR_AGG_MAX);
    expectScanOk(scanElems(&LIM_DEFAULT, 1, S("|0\r\n+a\r\n")), 8);
    expectError(scanElems(&LIM_DEFAULT, 0, S("|")), ERR_AGG_MAX);
    /* no elements at all: scalars and empty aggregates only */
    expectScanOk(scanElems(&LIM_DEFAULT, 0, S(":1\r\n")), 4);
    expectScanOk(scanElems(&LIM_DEFAULT, 0, S("*0\r\n")), 4);
    expectScanOk(scanElems(&LIM_DEFAULT, 0, S("*-1\r\n")), 5);
    expectScanOk(scanElems(&LIM_DEFAULT, 0, S("%0\r\n")), 4);
    expectError(scanElems(&LIM_DEFAULT, 0, S("*1")), ERR_AGG_MAX);
    expectError(scanElems(&LIM_DEFAULT, 0, S("%1")), ERR_AGG_MAX);
    /* args_max (8 in LIM_SMALL) plays no part: a LIST reply of 100000 */
    big = malloc(16 + 100000 * 4);
    assert_non_null(big);
    n = (size_t)sprintf(big, "*100000\r\n");
    for (i = 0; i < 100000; i++) {
        memcpy(big + n, ":7\r\n", 4);
        n += 4;
    }
    expectScanOk(scanElems(&LIM_SMALL, 100000, big, n), n);
    expectIncomplete(scanElems(&LIM_SMALL, 100000, big, n - 1));
    expectError(scanElems(&LIM_SMALL, 99999, big, 8), ERR_AGG_MAX);
    free(big);
    /* the largest budget: counts are judged by their digits, then the map
     * and attribute arithmetic must not overflow */
    expectError(scanElems(&LIM_HUGE, SIZE_MAX, S("*18446744073709551616")),
                ERR_AGG_LEN);
    expectIncomplete(scanElems(&LIM_HUGE, SIZE_MAX, S("*18446744073709551615\r\n")));
    expectError(scanElems(&LIM_HUGE, SIZE_MAX, S("%9223372036854775808")),
                ERR_AGG_MAX);
    expectIncomplete(scanElems(&LIM_HUGE, SIZE_MAX, S("%9223372036854775807\r\n")));
    expectError(scanElems(&LIM_HUGE, SIZE_MAX, S("|9223372036854775808")),
                ERR_AGG_MAX);
    expectIncomplete(scanElems(&LIM_HUGE, SIZE_MAX, S("|9223372036854775807\r\n")));
    /* the budget left shrinks as elements are declared */
    expectError(scanElems(&LIM_HUGE, SIZE_MAX,
                          S("*2\r\n*18446744073709551614\r\n")),
                ERR_AGG_MAX);
}

static void test_reply_line_limit(void **state)
{
    char *line = malloc(RESP_INLINE_MAX_DEFAULT + 8);
    const char *types = "+-:(";
    size_t t;
    (void)state;
    assert_non_null(line);
    /* LIM_SMALL: inline_max 64 bytes of content */
    for (t = 0; t < strlen(types); t++) {
        memset(line, '1', 80);
        line[0] = types[t];
        expectIncomplete(scan(&LIM_SMALL, line, 1 + 64));
        line[65] = '\r';
        expectIncomplete(scan(&LIM_SMALL, line, 66));
        line[66] = '\n';
        if (types[t] == ':') {
            /* 64 digits: the line fits, the number does not */
            expectError(scan(&LIM_SMALL, line, 67), ERR_INTEGER);
        } else {
            expectScanOk(scan(&LIM_SMALL, line, 67), 67);
        }
        /* byte 65 of content is an error, without waiting for a CRLF */
        line[65] = '1';
        expectError(scan(&LIM_SMALL, line, 66), ERR_LINE_MAX);
        expectError(scan(&LIM_SMALL, line, 80), ERR_LINE_MAX);
        line[66] = '\r';
        line[67] = '\n';
        expectError(scan(&LIM_SMALL, line, 68), ERR_LINE_MAX);
    }
    /* the default: 64 KiB */
    memset(line, 'x', RESP_INLINE_MAX_DEFAULT + 8);
    line[0] = '+';
    memcpy(line + 1 + RESP_INLINE_MAX_DEFAULT, "\r\n", 2);
    expectScanOk(scan(&LIM_DEFAULT, line, RESP_INLINE_MAX_DEFAULT + 3),
                 RESP_INLINE_MAX_DEFAULT + 3);
    line[1 + RESP_INLINE_MAX_DEFAULT] = 'x';
    expectError(scan(&LIM_DEFAULT, line, RESP_INLINE_MAX_DEFAULT + 2),
                ERR_LINE_MAX);
    free(line);
    /* no content at all: inline_max 0 takes only empty lines */
    {
        static const resp_limits none = {0, 0, 0};
        expectScanOk(scan(&none, S("+\r\n")), 3);
        expectScanOk(scan(&none, S("_\r\n")), 3);
        expectError(scan(&none, S("+a")), ERR_LINE_MAX);
        expectError(scan(&none, S("#t")), ERR_LINE_MAX);
        expectScanOk(scan(&none, S("$0\r\n\r\n")), 6);
        expectError(scan(&none, S("$1")), ERR_BULK_MAX);
    }
}

/* Each byte that is not a type is an error at once, wherever an item
 * starts; each type byte alone is only incomplete. */
static void test_reply_bad_type(void **state)
{
    char buf[8];
    int c;
    (void)state;
    for (c = 0; c < 256; c++) {
        int is_type = c != 0 && strchr(REPLY_TYPES, c) != NULL;
        buf[0] = (char)c;
        if (is_type) {
            expectIncomplete(scan(&LIM_DEFAULT, buf, 1));
        } else {
            expectError(scan(&LIM_DEFAULT, buf, 1), ERR_REPLY_TYPE);
        }
        memcpy(buf, "*2\r\n:1\r\n", 8);
        buf[4] = (char)c;
        if (!is_type) {
            expectError(scan(&LIM_DEFAULT, buf, 5), ERR_REPLY_TYPE);
        }
    }
    expectIncomplete(scan(&LIM_DEFAULT, "", 0));
    expectError(scan(&LIM_DEFAULT, S("*1\r\n\r\n")), ERR_REPLY_TYPE);
    expectError(scan(&LIM_DEFAULT, S("*2\r\n:1\r\nPING\r\n")), ERR_REPLY_TYPE);
}

static void test_reply_bad_lengths(void **state)
{
    static const struct {
        const char *p;
        size_t n;
        const char *err;
    } bad[] = {
        /* not digits */
        {S("$x\r\n"), ERR_BULK_LEN},
        {S("$\r\n"), ERR_BULK_LEN},
        {S("$ 3\r\nfoo\r\n"), ERR_BULK_LEN},
        {S("$3 \r\nfoo\r\n"), ERR_BULK_LEN},
        {S("$+3\r\nfoo\r\n"), ERR_BULK_LEN},
        {S("$03\r\nfoo\r\n"), ERR_BULK_LEN},
        {S("$3.0\r\n"), ERR_BULK_LEN},
        {S("$3\nfoo\r\n"), ERR_BULK_LEN},
        {S("$3\rfoo\r\n"), ERR_BULK_LEN},
        {S("!x"), ERR_BULK_LEN},
        {S("=1a"), ERR_BULK_LEN},
        {S("*x\r\n"), ERR_AGG_LEN},
        {S("*\r\n"), ERR_AGG_LEN},
        {S("*+1\r\n"), ERR_AGG_LEN},
        {S("*01\r\n"), ERR_AGG_LEN},
        {S("*1 \r\n"), ERR_AGG_LEN},
        {S("%1x"), ERR_AGG_LEN},
        {S("~ 1"), ERR_AGG_LEN},
        {S(">1\n"), ERR_AGG_LEN},
        {S("|1\rx"), ERR_AGG_LEN},
        /* negative, other than the two nulls */
        {S("$-2\r\n"), ERR_BULK_LEN},
        {S("$-0\r\n"), ERR_BULK_LEN},
        {S("$-10\r\n"), ERR_BULK_LEN},
        {S("$--1\r\n"), ERR_BULK_LEN},
        {S("!-1\r\n"), ERR_BULK_LEN},
        {S("=-1\r\n"), ERR_BULK_LEN},
        {S("*-2\r\n"), ERR_AGG_LEN},
        {S("*-01\r\n"), ERR_AGG_LEN},
        {S("%-1\r\n"), ERR_AGG_LEN},
        {S("~-1\r\n"), ERR_AGG_LEN},
        {S(">-1\r\n"), ERR_AGG_LEN},
        {S("|-1\r\n"), ERR_AGG_LEN},
        /* overflow, at the default limits: too big */
        {S("*99999999999999999999\r\n"), ERR_AGG_MAX},
        {S("$99999999999999999999\r\n"), ERR_BULK_MAX},
        /* header lines with no CR in 32 bytes */
        {S("*000000000000000000000000000000000"), ERR_AGG_LINE},
        {S("$                                x"), ERR_BULK_LINE},
        /* body not followed by CRLF */
        {S("$3\r\nfooX"), ERR_BULK_CRLF},
        {S("$3\r\nfoo\rX"), ERR_BULK_CRLF},
        {S("$3\r\nfoo\n\r"), ERR_BULK_CRLF},
        {S("$4\r\nfoo\r\n"), ERR_BULK_CRLF},
        {S("$0\r\n\n"), ERR_BULK_CRLF},
        {S("!1\r\nab"), ERR_BULK_CRLF},
        {S("=4\r\ntxt:X"), ERR_BULK_CRLF},
        {S("*2\r\n$1\r\nab\r\n:1\r\n"), ERR_BULK_CRLF},
        /* a verbatim string needs "xxx:" */
        {S("=3\r\n"), ERR_VERBATIM},
        {S("=0\r\n\r\n"), ERR_VERBATIM},
        {S("=5\r\ntxtx1\r\n"), ERR_VERBATIM},
        {S("=5\r\ntxt-"), ERR_VERBATIM},
    };
    char line[64];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rv = scan(&LIM_DEFAULT, bad[i].p, bad[i].n);
        if (rv != RESP_PARSE_ERROR || strcmp(g_err, bad[i].err) != 0) {
            fail_msg("case %zu: expected \"%s\", got %d (%s)", i, bad[i].err,
                     rv, rv == RESP_PARSE_ERROR ? g_err : "");
        }
    }
    /* still valid so far: incomplete */
    expectIncomplete(scan(&LIM_DEFAULT, S("$-1")));
    expectIncomplete(scan(&LIM_DEFAULT, S("*-1\r")));
    expectIncomplete(scan(&LIM_DEFAULT, S("=5\r\ntxt")));
    expectIncomplete(scan(&LIM_DEFAULT, S("$3\r\nfoo\r")));
    /* with no practical limit the overflow check itself must fire */
    expectError(scanElems(&LIM_HUGE, SIZE_MAX, S("$18446744073709551616")),
                ERR_BULK_LEN);
    expectError(scanElems(&LIM_HUGE, SIZE_MAX, S("$99999999999999999999\r\n")),
                ERR_BULK_LEN);
    expectIncomplete(scanElems(&LIM_HUGE, SIZE_MAX,
                               S("$18446744073709551615\r\nab")));
    /* 32 bytes after the type with no CR: the line is too long */
    memset(line, '1', sizeof line);
    line[0] = '*';
    expectError(scanElems(&LIM_HUGE, SIZE_MAX, line, 33), ERR_AGG_LINE);
    expectError(scanElems(&LIM_HUGE, SIZE_MAX, line, 32), ERR_AGG_LEN);
    line[0] = '$';
    expectError(scanElems(&LIM_HUGE, SIZE_MAX, line, 33), ERR_BULK_LINE);
}

static void test_reply_bad_lines(void **state)
{
    static const struct {
        const char *p;
        size_t n;
        const char *err;
    } bad[] = {
        {S("+a\nb\r\n"), ERR_LINE_CRLF},
        {S("+a\rb\r\n"), ERR_LINE_CRLF},
        {S("+\n"), ERR_LINE_CRLF},
        {S("-\r\r\n"), ERR_LINE_CRLF},
        {S(":1\n"), ERR_LINE_CRLF},
        {S(":\r\n"), ERR_INTEGER},
        {S(":-\r\n"), ERR_INTEGER},
        {S(":+\r\n"), ERR_INTEGER},
        {S(":1.5\r\n"), ERR_INTEGER},
        {S(": 1\r\n"), ERR_INTEGER},
        {S(":1 \r\n"), ERR_INTEGER},
        {S(":--1\r\n"), ERR_INTEGER},
        {S(":0x10\r\n"), ERR_INTEGER},
        {S(":9223372036854775808\r\n"), ERR_INTEGER},
        {S(":-9223372036854775809\r\n"), ERR_INTEGER},
        {S(":99999999999999999999999\r\n"), ERR_INTEGER},
        {S("#\r\n"), ERR_BOOLEAN},
        {S("#x\r\n"), ERR_BOOLEAN},
        {S("#tt\r\n"), ERR_BOOLEAN},
        {S("#T\r\n"), ERR_BOOLEAN},
        {S("_x\r\n"), ERR_NULL},
        {S("_ \r\n"), ERR_NULL},
        {S(",\r\n"), ERR_DOUBLE},
        {S(",1.\r\n"), ERR_DOUBLE},
        {S(",.5\r\n"), ERR_DOUBLE},
        {S(",1e\r\n"), ERR_DOUBLE},
        {S(",1e+\r\n"), ERR_DOUBLE},
        {S(",e5\r\n"), ERR_DOUBLE},
        {S(",-\r\n"), ERR_DOUBLE},
        {S(",--1\r\n"), ERR_DOUBLE},
        {S(",1.5x\r\n"), ERR_DOUBLE},
        {S(",Inf\r\n"), ERR_DOUBLE},
        {S(",infinity\r\n"), ERR_DOUBLE},
        {S(",in\r\n"), ERR_DOUBLE},
        {S("(\r\n"), ERR_BIGNUM},
        {S("(+\r\n"), ERR_BIGNUM},
        {S("(1.0\r\n"), ERR_BIGNUM},
        {S("(12a\r\n"), ERR_BIGNUM},
        {S("*2\r\n:1\r\n#maybe\r\n"), ERR_BOOLEAN},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rv = scan(&LIM_DEFAULT, bad[i].p, bad[i].n);
        if (rv != RESP_PARSE_ERROR || strcmp(g_err, bad[i].err) != 0) {
            fail_msg("case %zu: expected \"%s\", got %d (%s)", i, bad[i].err,
                     rv, rv == RESP_PARSE_ERROR ? g_err : "");
        }
    }
    /* the content is judged once the CRLF is in */
    expectIncomplete(scan(&LIM_DEFAULT, S(":abc")));
    expectIncomplete(scan(&LIM_DEFAULT, S(":abc\r")));
    /* the accepted spellings of the numeric types */
    expectScanOk(scan(&LIM_DEFAULT, S(",+1.0e-5\r\n")), 10);
    expectScanOk(scan(&LIM_DEFAULT, S(",-nan\r\n")), 7);
    expectScanOk(scan(&LIM_DEFAULT, S(",+inf\r\n")), 7);
    expectScanOk(scan(&LIM_DEFAULT, S(",0\r\n")), 4);
    expectScanOk(scan(&LIM_DEFAULT, S("(+0\r\n")), 5);
    expectScanOk(scan(&LIM_DEFAULT, S(":-0\r\n")), 5);
}

/* Each scalar the writer makes, in RESP2 and RESP3, scans to its length. */
static void test_reply_writer_scalars(void **state)
{
    static const resp_limits lim = {1, 64, 64};
    size_t w;
    resp_buf b;
    (void)state;
    for (w = 0; w < sizeof WRITERS / sizeof WRITERS[0]; w++) {
        resp_buf_init(&b, 1024);
        assert_int_equal(WRITERS[w].fn(&b), 0);
        if (WRITERS[w].fn == wRaw) {
            /* raw bytes are whatever the caller makes of them */
            expectError(scan(&lim, b.data, b.len), ERR_REPLY_TYPE);
        } else if (WRITERS[w].fn == wArray || WRITERS[w].fn == wMap2 ||
                   WRITERS[w].fn == wMap3) {
            /* a header alone: its 12 elements are still to come */
            expectIncomplete(scanElems(&lim, 12, b.data, b.len));
            expectError(scanElems(&lim, 11, b.data, b.len), ERR_AGG_MAX);
        } else {
            expectReplySplits(&lim, b.data, b.len);
        }
        resp_buf_free(&b);
    }
    /* what the line writers sanitize scans too */
    resp_buf_init(&b, 1024);
    assert_int_equal(resp_write_error(&b, "ERR a\r\nb\nc\rd"), 0);
    expectReplySplits(&lim, b.data, b.len);
    b.len = 0;
    assert_int_equal(resp_write_simple(&b, "\r\n"), 0);
    expectReplySplits(&lim, b.data, b.len);
    b.len = 0;
    assert_int_equal(resp_write_int(&b, INT64_MIN), 0);
    assert_int_equal(resp_write_int(&b, INT64_MAX), 0);
    expectScanOk(scan(&lim, b.data, b.len), 23);
    resp_buf_free(&b);
}

/* A random reply built by the writer, with what it used of each limit. */
typedef struct genStats {
    size_t elems;     /* items after the first */
    size_t bulk_max;  /* longest $ ! = body */
    size_t line_max;  /* longest line content */
    int has_bulk;
    int has_line;
    size_t items_left; /* a cap on the reply's size */
    size_t levels;     /* most aggregates open at once */
} genStats;

static void genNoteLine(genStats *st, size_t n)
{
    st->has_line = 1;
    if (n > st->line_max) {
        st->line_max = n;
    }
}

static void genNoteBulk(genStats *st, size_t n)
{
    st->has_bulk = 1;
    if (n > st->bulk_max) {
        st->bulk_max = n;
    }
}

/* RESP3 scalars the writer has no function for, written raw. */
static const replyCase RAW3[] = {
    {S(",3.14\r\n")},   {S(",-inf\r\n")},        {S("#t\r\n")},
    {S("(-123456789012345678901234567890\r\n")}, {S("!4\r\nOOPS\r\n")},
    {S("=7\r\ntxt:abc\r\n")},
};

/* Appends a random reply with at most depth_left levels of aggregates
 * below level (the aggregates open around it); a spine makes it an
 * aggregate whose first element is a spine too, down to the last level. */
static void genValue(resp_buf *b, int proto, size_t level, size_t depth_left,
                     int spine, genStats *st)
{
    char s[40];
    size_t n;
    size_t i;
    size_t kinds = depth_left > 0 && st->items_left > 0 ? 10 : 7;
    size_t k = (size_t)(rngNext() % kinds);
    size_t children = 0;

    if (spine && depth_left > 0) {
        k = 7 + (size_t)(rngNext() % 3);
    }

    if (st->items_left > 0) {
        st->items_left--;
    }
    switch (k) {
    case 0:
    case 1:
        /* includes CR and LF, which the writer replaces */
        n = (size_t)(rngNext() % 12);
        for (i = 0; i < n; i++) {
            s[i] = "ab \r\nz+-:*$"[rngNext() % 11];
        }
        s[n] = '\0';
        genNoteLine(st, n);
        assert_int_equal(k == 0 ? resp_write_simple(b, s)
                                : resp_write_error(b, s),
                         0);
        break;
    case 2: {
        int64_t v = (int64_t)rngNext();
        if (rngNext() & 1) {
            v %= 1000;
        }
        n = (size_t)sprintf(s, "%lld", (long long)v);
        genNoteLine(st, n);
        assert_int_equal(resp_write_int(b, v), 0);
        break;
    }
    case 3:
        n = (size_t)(rngNext() % 20);
        for (i = 0; i < n; i++) {
            s[i] = (char)(rngNext() & 0xff);
        }
        genNoteBulk(st, n);
        assert_int_equal(resp_write_bulk(b, s, n), 0);
        break;
    case 4:
        if (proto == 3) {
            genNoteLine(st, 0);
        }
        assert_int_equal(resp_write_null(b, proto), 0);
        break;
    case 5:
        assert_int_equal(resp_write_cstr(b, "seqd"), 0);
        genNoteBulk(st, 4);
        break;
    case 6:
        if (proto == 3) {
            const replyCase *c = &RAW3[rngNext() % (sizeof RAW3 / sizeof RAW3[0])];
            assert_int_equal(resp_write_raw(b, c->p, c->n), 0);
            /* a body of 4 or 7 bytes, or a line of n - 3 */
            if (c->p[0] == '!' || c->p[0] == '=') {
                genNoteBulk(st, c->p[0] == '!' ? 4 : 7);
            } else {
                genNoteLine(st, c->n - 3);
            }
        } else {
            assert_int_equal(resp_write_cstr(b, ""), 0);
            genNoteBulk(st, 0);
        }
        break;
    case 7:
        children = (size_t)(rngNext() % 4);
        children += spine && children == 0;
        assert_int_equal(resp_write_array(b, children), 0);
        break;
    case 8:
        n = (size_t)(rngNext() % 3);
        n += spine && n == 0;
        children = 2 * n;
        assert_int_equal(resp_write_map(b, n, proto), 0);
        break;
    default:
        if (proto == 3) {
            /* set, push, or attribute (pairs, then the reply it annotates) */
            static const char types[] = "~>|";
            char t = types[rngNext() % 3];
            n = (size_t)(rngNext() % 3);
            n += spine && n == 0;
            children = t == '|' ? 2 * n + 1 : n;
            n = (size_t)sprintf(s, "%c%zu\r\n", t, n);
            assert_int_equal(resp_write_raw(b, s, n), 0);
        } else {
            children = 1;
            assert_int_equal(resp_write_array(b, children), 0);
        }
        break;
    }
    if (k >= 7 && level + 1 > st->levels) {
        st->levels = level + 1;
    }
    st->elems += children;
    for (i = 0; i < children; i++) {
        genValue(b, proto, level + 1, depth_left - 1, spine && i == 0, st);
    }
}

/* Seeded random replies from the writer, RESP2 and RESP3, nested up to the
 * depth limit: each scans to exactly its length, every limit it reaches is
 * exactly enough (one less is an error), a random proper prefix is
 * incomplete, and a second reply after it is not taken. */
static void test_reply_writer_roundtrip(void **state)
{
    const char *env = getenv("RESP_TEST_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 10) : 0x5eedull;
    int round;
    size_t deepest = 0;
    (void)state;
    printf("test_reply_writer_roundtrip: RESP_TEST_SEED=%llu\n",
           (unsigned long long)seed);
    g_rng = seed != 0 ? seed : 1;
    for (round = 0; round < 3000; round++) {
        int proto = (rngNext() & 1) ? 3 : 2;
        size_t depth = (size_t)(rngNext() % (RESP_REPLY_DEPTH_MAX + 1));
        int spine = (int)(rngNext() & 1);
        genStats st = {0, 0, 0, 0, 0, 200, 0};
        resp_limits lim;
        size_t len;
        resp_buf b;
        size_t cut;

        resp_buf_init(&b, 1 << 20);
        genValue(&b, proto, 0, depth, spine, &st);
        len = b.len;
        assert_true(st.levels <= depth);
        assert_true(!spine || st.levels == depth);
        lim.args_max = 0;
        lim.bulk_max = st.bulk_max;
        lim.inline_max = st.line_max;
        expectScanOk(scanElems(&lim, st.elems, b.data, len), len);
        if (st.elems > 0) {
            expectError(scanElems(&lim, st.elems - 1, b.data, len), ERR_AGG_MAX);
        }
        if (st.has_bulk && st.bulk_max > 0) {
            lim.bulk_max--;
            expectError(scanElems(&lim, st.elems, b.data, len), ERR_BULK_MAX);
            lim.bulk_max++;
        }
        if (st.has_line && st.line_max > 0) {
            lim.inline_max--;
            expectError(scanElems(&lim, st.elems, b.data, len), ERR_LINE_MAX);
            lim.inline_max++;
        }
        cut = (size_t)(rngNext() % len);
        expectIncomplete(scanElems(&lim, st.elems, b.data, cut));
        expectIncomplete(scanElems(&lim, st.elems, b.data, len - 1));
        /* a pipelined second reply is not part of the first */
        genValue(&b, proto, 0, depth, 0, &st);
        expectScanOk(scan(&LIM_DEFAULT, b.data, b.len), len);
        if (st.levels > deepest) {
            deepest = st.levels;
        }
        resp_buf_free(&b);
    }
    assert_int_equal(deepest, RESP_REPLY_DEPTH_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_multibulk_simple, teardown),
        cmocka_unit_test_teardown(test_multibulk_empty, teardown),
        cmocka_unit_test_teardown(test_multibulk_binary_safe, teardown),
        cmocka_unit_test_teardown(test_multibulk_all_bytes, teardown),
        cmocka_unit_test_teardown(test_split_every_point, teardown),
        cmocka_unit_test_teardown(test_split_stream_bytewise, teardown),
        cmocka_unit_test_teardown(test_pipeline_one_buffer, teardown),
        cmocka_unit_test_teardown(test_pipeline_inline, teardown),
        cmocka_unit_test_teardown(test_bad_count, teardown),
        cmocka_unit_test_teardown(test_negative_count, teardown),
        cmocka_unit_test_teardown(test_overflow, teardown),
        cmocka_unit_test_teardown(test_too_many_args, teardown),
        cmocka_unit_test_teardown(test_bulk_too_long_declared, teardown),
        cmocka_unit_test_teardown(test_missing_dollar, teardown),
        cmocka_unit_test_teardown(test_bulk_missing_crlf, teardown),
        cmocka_unit_test_teardown(test_bulk_bad_length, teardown),
        cmocka_unit_test_teardown(test_header_line_too_long, teardown),
        cmocka_unit_test_teardown(test_inline_simple, teardown),
        cmocka_unit_test_teardown(test_inline_empty_line, teardown),
        cmocka_unit_test_teardown(test_inline_quotes, teardown),
        cmocka_unit_test_teardown(test_inline_escapes, teardown),
        cmocka_unit_test_teardown(test_inline_escapes_without_scratch, teardown),
        cmocka_unit_test_teardown(test_inline_unbalanced_quotes, teardown),
        cmocka_unit_test_teardown(test_inline_too_long, teardown),
        cmocka_unit_test_teardown(test_inline_too_many_args, teardown),
        cmocka_unit_test_teardown(test_limits_boundaries, teardown),
        cmocka_unit_test_teardown(test_limits_zero, teardown),
        cmocka_unit_test_teardown(test_limits_default_full_request, teardown),
        cmocka_unit_test_teardown(test_random_roundtrip, teardown),
        cmocka_unit_test(test_write_simple_error),
        cmocka_unit_test(test_write_int),
        cmocka_unit_test(test_write_bulk_cstr),
        cmocka_unit_test(test_write_null),
        cmocka_unit_test(test_write_array_map),
        cmocka_unit_test(test_write_raw),
        cmocka_unit_test(test_write_cap_every_writer),
        cmocka_unit_test(test_write_cap_zero),
        cmocka_unit_test(test_write_bulk_huge_refused),
        cmocka_unit_test(test_write_growth),
        cmocka_unit_test(test_write_reply_sequence),
        cmocka_unit_test_teardown(test_reply_every_type, teardown),
        cmocka_unit_test_teardown(test_reply_nested, teardown),
        cmocka_unit_test_teardown(test_reply_split_every_point, teardown),
        cmocka_unit_test_teardown(test_reply_pipelined, teardown),
        cmocka_unit_test_teardown(test_reply_depth, teardown),
        cmocka_unit_test_teardown(test_reply_bulk_limit, teardown),
        cmocka_unit_test_teardown(test_reply_elems_limit, teardown),
        cmocka_unit_test_teardown(test_reply_line_limit, teardown),
        cmocka_unit_test_teardown(test_reply_bad_type, teardown),
        cmocka_unit_test_teardown(test_reply_bad_lengths, teardown),
        cmocka_unit_test_teardown(test_reply_bad_lines, teardown),
        cmocka_unit_test_teardown(test_reply_writer_scalars, teardown),
        cmocka_unit_test_teardown(test_reply_writer_roundtrip, teardown),
    };
    return cmocka_run_group_tests_name("resp", tests, NULL, NULL);
}
