/* fuzz_resp — libFuzzer target for src/proto (resp.h).
 *
 * The input is parsed as a pipeline (request after request until one is
 * incomplete or an error) under small and default limits, with and without
 * a scratch buffer, and scanned as a stream of replies the same way, and
 * every result is checked against the contract in resp.h; then the same
 * bytes drive the writer, as a list of operations, under a small cap, and
 * its output is compared with an independent formatting of each element
 * and scanned back; last, they choose a nested reply that the writer builds
 * and the scanner must measure exactly. Any broken invariant calls abort(). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define FUZZ_ARGV_CAP 1024
#define FUZZ_SCRATCH_CAP (64u * 1024u)
#define FUZZ_HEADER_MAX 32 /* RESP_HEADER_MAX (resp_internal.h): the bound on a "*N" / "$L" line */
#define FUZZ_WRITE_CAP_MAX 256

static const char PROTO_ERR[] = "ERR Protocol error: ";

static resp_arg g_argv[FUZZ_ARGV_CAP];
static resp_arg g_argv_again[FUZZ_ARGV_CAP];
static char g_scratch[FUZZ_SCRATCH_CAP];
static char g_scratch_again[FUZZ_SCRATCH_CAP];

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

static int inside(const char *p, size_t n, const char *base, size_t base_n)
{
    return p >= base && n <= base_n && (size_t)(p - base) <= base_n - n;
}

typedef struct fuzzParse {
    int rv;
    size_t consumed;
    const char *err;
    resp_request req;
} fuzzParse;

static void parseOnce(const resp_limits *lim, const char *buf, size_t len,
                      resp_arg *argv, char *scratch, size_t scratch_cap,
                      fuzzParse *out)
{
    out->req.argv = argv;
    out->req.argc = 0;
    out->consumed = 0;
    out->err = NULL;
    if (scratch == NULL) {
        out->rv = resp_parse(lim, buf, len, &out->req, &out->consumed,
                             &out->err);
    } else {
        out->rv = resp_parse_scratch(lim, buf, len, &out->req, scratch,
                                     scratch_cap, &out->consumed, &out->err);
    }
}

/* What holds for any one result of resp_parse on buf[0..len). */
static void checkResult(const resp_limits *lim, const char *buf, size_t len,
                        const char *scratch, size_t scratch_cap,
                        const fuzzParse *r)
{
    size_t i;

    switch (r->rv) {
    case RESP_PARSE_OK:
        CHECK(r->consumed >= 1 && r->consumed <= len);
        CHECK(r->err == NULL);
        CHECK(r->req.argc <= lim->args_max);
        for (i = 0; i < r->req.argc; i++) {
            const resp_arg *a = &r->req.argv[i];
            int in_buf = inside(a->ptr, a->len, buf, r->consumed);
            int in_scratch = scratch != NULL &&
                             inside(a->ptr, a->len, scratch, scratch_cap);
            CHECK(in_buf || in_scratch);
            if (buf[0] == '*') {
                CHECK(in_buf);
                CHECK(a->len <= lim->bulk_max);
            } else {
                CHECK(a->len <= lim->inline_max);
            }
        }
        if (buf[0] != '*') {
            CHECK(buf[r->consumed - 1] == '\n');
            CHECK(r->consumed <= lim->inline_max + 2);
        }
        break;
    case RESP_PARSE_INCOMPLETE:
        CHECK(r->consumed == 0);
        CHECK(r->req.argc == 0);
        /* the caller never has to buffer more than the limits allow */
        if (buf[0] == '*') {
            size_t per_arg = 1 + FUZZ_HEADER_MAX + 2 + lim->bulk_max + 2;
            CHECK(len <= 1 + FUZZ_HEADER_MAX + 2 + lim->args_max * per_arg);
        } else {
            /* at most inline_max bytes, and a CR that may precede an LF */
            CHECK(len <= lim->inline_max ||
                  (len == lim->inline_max + 1 && buf[len - 1] == '\r'));
        }
        break;
    case RESP_PARSE_ERROR:
        CHECK(r->consumed == 0);
        CHECK(r->err != NULL);
        CHECK(strncmp(r->err, PROTO_ERR, sizeof PROTO_ERR - 1) == 0);
        break;
    default:
        CHECK(0 && "unknown status");
    }
}

static int sameArgs(const fuzzParse *a, const fuzzParse *b)
{
    size_t i;

    if (a->req.argc != b->req.argc) {
        return 0;
    }
    for (i = 0; i < a->req.argc; i++) {
        const resp_arg *x = &a->req.argv[i];
        const resp_arg *y = &b->req.argv[i];
        if (x->len != y->len) {
            return 0;
        }
        if (x->len > 0 && memcmp(x->ptr, y->ptr, x->len) != 0) {
            return 0;
        }
    }
    return 1;
}

/* Parses buf[0..len) as a pipeline under lim, checking each request, how
 * its prefixes parse, and that plain resp_parse agrees with the scratch
 * variant. */
static void fuzzPipeline(const resp_limits *lim, const char *buf, size_t len)
{
    size_t scratch_cap =
        lim->inline_max < FUZZ_SCRATCH_CAP ? lim->inline_max : FUZZ_SCRATCH_CAP;
    size_t off = 0;
    size_t rounds = 0;

    CHECK(lim->args_max <= FUZZ_ARGV_CAP);
    while (off < len) {
        const char *p = buf + off;
        size_t n = len - off;
        fuzzParse r;
        fuzzParse plain;
        fuzzParse prefix;

        parseOnce(lim, p, n, g_argv, g_scratch, scratch_cap, &r);
        checkResult(lim, p, n, g_scratch, scratch_cap, &r);

        /* without scratch: the same, unless an argument needed decoding */
        parseOnce(lim, p, n, g_argv_again, NULL, 0, &plain);
        checkResult(lim, p, n, NULL, 0, &plain);
        if (plain.rv == RESP_PARSE_OK) {
            CHECK(r.rv == RESP_PARSE_OK);
            CHECK(plain.consumed == r.consumed);
            CHECK(sameArgs(&plain, &r));
        } else {
            CHECK(plain.rv == r.rv || p[0] != '*');
        }

        if (r.rv == RESP_PARSE_OK) {
            /* a request is complete only with its last byte... */
            parseOnce(lim, p, r.consumed - 1, g_argv_again, g_scratch_again,
                      scratch_cap, &prefix);
            checkResult(lim, p, r.consumed - 1, g_scratch_again, scratch_cap,
                        &prefix);
            CHECK(prefix.rv != RESP_PARSE_OK);
            /* ...and nothing after it changes what it is */
            parseOnce(lim, p, r.consumed, g_argv_again, g_scratch_again,
                      scratch_cap, &prefix);
            CHECK(prefix.rv == RESP_PARSE_OK);
            CHECK(prefix.consumed == r.consumed);
            CHECK(sameArgs(&prefix, &r));
            off += r.consumed;
            rounds++;
            continue;
        }
        if (r.rv == RESP_PARSE_ERROR && n > 1) {
            /* a shorter buffer cannot hold a whole valid request */
            parseOnce(lim, p, n - 1, g_argv_again, g_scratch_again,
                      scratch_cap, &prefix);
            checkResult(lim, p, n - 1, g_scratch_again, scratch_cap, &prefix);
            CHECK(prefix.rv != RESP_PARSE_OK);
        }
        break;
    }
    CHECK(rounds <= len);
}

/* ---------------------------------------------------------- reply scanner */

typedef struct fuzzScan {
    int rv;
    size_t consumed;
    const char *err;
} fuzzScan;

static void scanOnce(const resp_limits *lim, size_t elems_max, const char *buf,
                     size_t len, fuzzScan *out)
{
    out->consumed = 777;
    out->err = "not set";
    out->rv = resp_reply_scan(lim, elems_max, buf, len, &out->consumed,
                              &out->err);
}

/* The most a reply still INCOMPLETE may hold, per resp.h: elems_max + 1
 * items of at most max(bulk_max + 36, inline_max + 3) bytes; 0 when that
 * does not fit a size_t (no bound worth checking). */
static size_t replyIncompleteMax(const resp_limits *lim, size_t elems_max)
{
    size_t item = lim->inline_max + 3;

    if (lim->bulk_max > SIZE_MAX - 36 || lim->inline_max > SIZE_MAX - 3 ||
        elems_max == SIZE_MAX) {
        return 0;
    }
    if (lim->bulk_max + 36 > item) {
        item = lim->bulk_max + 36;
    }
    if (elems_max + 1 > SIZE_MAX / item) {
        return 0;
    }
    return (elems_max + 1) * item;
}

/* What holds for any one result of resp_reply_scan on buf[0..len). */
static void checkScan(const resp_limits *lim, size_t elems_max, size_t len,
                      const fuzzScan *r)
{
    size_t bound;

    switch (r->rv) {
    case RESP_PARSE_OK:
        CHECK(r->consumed > 0 && r->consumed <= len);
        CHECK(r->err == NULL);
        break;
    case RESP_PARSE_INCOMPLETE:
        CHECK(r->consumed == 0);
        CHECK(r->err == NULL);
        bound = replyIncompleteMax(lim, elems_max);
        CHECK(bound == 0 || len <= bound);
        break;
    case RESP_PARSE_ERROR:
        CHECK(r->consumed == 0);
        CHECK(r->err != NULL);
        CHECK(strncmp(r->err, PROTO_ERR, sizeof PROTO_ERR - 1) == 0);
        break;
    default:
        CHECK(0 && "unknown status");
    }
}

/* Scans buf[0..len) as a stream of replies, one after another until one is
 * incomplete or an error, checking each result and how its prefixes scan:
 * a reply is complete only with its last byte (every shorter prefix of a
 * reply is INCOMPLETE, never an error), and an error stays one however
 * many bytes follow. */
static void fuzzReplyStream(const resp_limits *lim, size_t elems_max,
                            const char *buf, size_t len)
{
    size_t off = 0;
    size_t replies = 0;

    while (off < len) {
        const char *p = buf + off;
        size_t n = len - off;
        fuzzScan r;
        fuzzScan prefix;

        scanOnce(lim, elems_max, p, n, &r);
        checkScan(lim, elems_max, n, &r);
        if (r.rv == RESP_PARSE_OK) {
            scanOnce(lim, elems_max, p, r.consumed - 1, &prefix);
            checkScan(lim, elems_max, r.consumed - 1, &prefix);
            CHECK(prefix.rv == RESP_PARSE_INCOMPLETE);
            scanOnce(lim, elems_max, p, r.consumed, &prefix);
            CHECK(prefix.rv == RESP_PARSE_OK);
            CHECK(prefix.consumed == r.consumed);
            off += r.consumed;
            replies++;
            continue;
        }
        if (r.rv == RESP_PARSE_ERROR && n > 1) {
            scanOnce(lim, elems_max, p, n - 1, &prefix);
            checkScan(lim, elems_max, n - 1, &prefix);
            CHECK(prefix.rv != RESP_PARSE_OK);
        }
        break;
    }
    CHECK(replies <= len);
}

/* ---------------------------------------------------------------- writer */

/* The bytes of the writer's input: an operation stream. */
typedef struct fuzzInput {
    const uint8_t *p;
    size_t n;
} fuzzInput;

static uint8_t takeByte(fuzzInput *in)
{
    uint8_t b = 0;
    if (in->n > 0) {
        b = in->p[0];
        in->p++;
        in->n--;
    }
    return b;
}

static uint64_t takeU64(fuzzInput *in)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++) {
        v = (v << 8) | takeByte(in);
    }
    return v;
}

/* Takes up to `max` bytes (the count from the input). */
static size_t takeBytes(fuzzInput *in, const char **p, size_t max)
{
    size_t n = takeByte(in) % (max + 1);
    if (n > in->n) {
        n = in->n;
    }
    *p = (const char *)in->p;
    in->p += n;
    in->n -= n;
    return n;
}

/* Each element the writer produces (formatted here as `want`) scans as a
 * reply: a scalar to exactly its length; an aggregate header alone is
 * incomplete, or over the element limit at once. */
static void checkWritten(int op, const char *want, size_t want_len)
{
    static const resp_limits dflt = {RESP_ARGS_MAX_DEFAULT,
                                     RESP_BULK_MAX_DEFAULT,
                                     RESP_INLINE_MAX_DEFAULT};
    size_t elems_max = RESP_REPLY_ELEMS_MAX_DEFAULT;
    uint64_t count;
    fuzzScan r;

    if (op == 8) {
        return; /* raw bytes are the caller's business */
    }
    scanOnce(&dflt, elems_max, want, want_len, &r);
    checkScan(&dflt, elems_max, want_len, &r);
    if (op != 6 && op != 7) {
        CHECK(r.rv == RESP_PARSE_OK && r.consumed == want_len);
        return;
    }
    /* "*n\r\n" or "%n\r\n": a map's n pairs are 2n elements */
    count = strtoull(want + 1, NULL, 10);
    if (want[0] == '%') {
        count = count > UINT64_MAX / 2 ? UINT64_MAX : count * 2;
    }
    if (count == 0) {
        CHECK(r.rv == RESP_PARSE_OK && r.consumed == want_len);
    } else if (count <= elems_max) {
        CHECK(r.rv == RESP_PARSE_INCOMPLETE);
    } else {
        CHECK(r.rv == RESP_PARSE_ERROR);
    }
}

/* Runs the operations in the input against a resp_buf with a small cap and
 * a shadow copy formatted independently: each call either appends exactly
 * the expected element, or returns -1 only because it would not fit, with
 * the buffer unchanged. */
static void fuzzWriter(const uint8_t *data, size_t size)
{
    fuzzInput in = {data, size};
    size_t cap = takeByte(&in) % (FUZZ_WRITE_CAP_MAX + 1);
    char shadow[FUZZ_WRITE_CAP_MAX];
    size_t shadow_len = 0;
    resp_buf b;
    int ops = 0;

    resp_buf_init(&b, cap);
    while (in.n > 0 && ops < 64) {
        char want[FUZZ_WRITE_CAP_MAX + 64];
        size_t want_len = 0;
        char str[65];
        const char *bytes;
        size_t n;
        size_t i;
        uint64_t u;
        int rv = 0;
        uint8_t op = takeByte(&in);

        ops++;
        switch (op % 10) {
        case 0:
        case 1:
            n = takeBytes(&in, &bytes, 64);
            if (n > 0) {
                memcpy(str, bytes, n);
            }
            str[n] = '\0';
            n = strlen(str);
            want[0] = op % 10 == 0 ? '+' : '-';
            for (i = 0; i < n; i++) {
                char c = str[i];
                want[1 + i] = c == '\r' || c == '\n' ? ' ' : c;
            }
            memcpy(want + 1 + n, "\r\n", 2);
            want_len = n + 3;
            rv = op % 10 == 0 ? resp_write_simple(&b, str)
                              : resp_write_error(&b, str);
            break;
        case 2: {
            int64_t v = (int64_t)takeU64(&in);
            want_len = (size_t)snprintf(want, sizeof want, ":%" PRId64 "\r\n", v);
            rv = resp_write_int(&b, v);
            break;
        }
        case 3:
            n = takeBytes(&in, &bytes, 128);
            want_len = (size_t)snprintf(want, sizeof want, "$%zu\r\n", n);
            if (n > 0) {
                memcpy(want + want_len, bytes, n);
            }
            memcpy(want + want_len + n, "\r\n", 2);
            want_len += n + 2;
            rv = resp_write_bulk(&b, n > 0 ? bytes : NULL, n);
            break;
        case 4:
            n = takeBytes(&in, &bytes, 64);
            if (n > 0) {
                memcpy(str, bytes, n);
            }
            str[n] = '\0';
            n = strlen(str);
            want_len = (size_t)snprintf(want, sizeof want, "$%zu\r\n", n);
            memcpy(want + want_len, str, n);
            memcpy(want + want_len + n, "\r\n", 2);
            want_len += n + 2;
            rv = resp_write_cstr(&b, str);
            break;
        case 5: {
            int proto = (takeByte(&in) & 1) ? 3 : 2;
            want_len = (size_t)snprintf(want, sizeof want, "%s",
                                        proto == 3 ? "_\r\n" : "$-1\r\n");
            rv = resp_write_null(&b, proto);
            break;
        }
        case 6:
            u = takeU64(&in);
            want_len = (size_t)snprintf(want, sizeof want, "*%" PRIu64 "\r\n", u);
            rv = resp_write_array(&b, (size_t)u);
            break;
        case 7: {
            int proto = (takeByte(&in) & 1) ? 3 : 2;
            u = takeU64(&in) >> 1; /* so that 2 * pairs fits */
            if (proto == 3) {
                want_len = (size_t)snprintf(want, sizeof want, "%%%" PRIu64 "\r\n", u);
            } else {
                want_len = (size_t)snprintf(want, sizeof want, "*%" PRIu64 "\r\n",
                                            u * 2);
            }
            rv = resp_write_map(&b, (size_t)u, proto);
            break;
        }
        case 8:
            n = takeBytes(&in, &bytes, 200);
            if (n > 0) {
                memcpy(want, bytes, n);
            }
            want_len = n;
            rv = resp_write_raw(&b, n > 0 ? bytes : NULL, n);
            break;
        default:
            /* start over with a fresh buffer under a new cap */
            resp_buf_free(&b);
            CHECK(b.data == NULL && b.len == 0 && b.alloc == 0);
            cap = takeByte(&in) % (FUZZ_WRITE_CAP_MAX + 1);
            resp_buf_init(&b, cap);
            shadow_len = 0;
            continue;
        }

        CHECK(want_len <= sizeof want);
        checkWritten(op % 10, want, want_len);
        if (rv == 0) {
            CHECK(want_len <= cap - shadow_len);
            memcpy(shadow + shadow_len, want, want_len);
            shadow_len += want_len;
        } else {
            CHECK(rv == -1);
            /* refused only when it would not fit: no allocation fails here */
            CHECK(want_len > cap - shadow_len);
        }
        CHECK(b.len == shadow_len);
        CHECK(b.len <= b.alloc && b.alloc <= b.cap && b.cap == cap);
        CHECK(b.len == 0 || memcmp(b.data, shadow, b.len) == 0);
    }
    resp_buf_free(&b);
}

/* ------------------------------------------------- writer, then scanner */

/* What a generated reply used of each limit. */
typedef struct fuzzGen {
    size_t elems;      /* items after the first */
    size_t bulk_max;   /* longest $ ! = body */
    size_t line_max;   /* longest line content */
    int has_bulk;
    int has_line;
    size_t items_left; /* a cap on the reply's size */
} fuzzGen;

static void genLine(fuzzGen *g, size_t n)
{
    g->has_line = 1;
    if (n > g->line_max) {
        g->line_max = n;
    }
}

static void genBulk(fuzzGen *g, size_t n)
{
    g->has_bulk = 1;
    if (n > g->bulk_max) {
        g->bulk_max = n;
    }
}

/* Appends one reply, chosen by the input, to b with the writer (and, for
 * the RESP3 types it has no function for, raw headers): up to depth_left
 * more levels of aggregates. An exhausted input yields "+\r\n". */
static void genReply(fuzzInput *in, resp_buf *b, int proto,
                     size_t depth_left, fuzzGen *g)
{
    char str[65];
    char head[32];
    const char *bytes;
    size_t n;
    size_t i;
    size_t children = 0;
    int nested = depth_left > 0 && g->items_left > 0;
    int kind = takeByte(in) % (nested ? 10 : 6);

    if (g->items_left > 0) {
        g->items_left--;
    }
    switch (kind) {
    case 0:
    case 1:
        n = takeBytes(in, &bytes, 64);
        if (n > 0) {
            memcpy(str, bytes, n);
        }
        str[n] = '\0';
        genLine(g, strlen(str));
        CHECK((kind == 0 ? resp_write_simple(b, str)
                         : resp_write_error(b, str)) == 0);
        break;
    case 2: {
        int64_t v = (int64_t)takeU64(in);
        genLine(g, (size_t)snprintf(str, sizeof str, "%" PRId64, v));
        CHECK(resp_write_int(b, v) == 0);
        break;
    }
    case 3:
        n = takeBytes(in, &bytes, 64);
        genBulk(g, n);
        CHECK(resp_write_bulk(b, n > 0 ? bytes : NULL, n) == 0);
        break;
    case 4:
        if (proto == 3) {
            genLine(g, 0);
        }
        CHECK(resp_write_null(b, proto) == 0);
        break;
    case 5:
        if (proto == 3) {
            /* a verbatim string: "txt:" and the bytes */
            n = takeBytes(in, &bytes, 32);
            genBulk(g, n + 4);
            CHECK(resp_write_raw(
                      b, head,
                      (size_t)snprintf(head, sizeof head, "=%zu\r\ntxt:",
                                       n + 4)) == 0);
            CHECK(resp_write_raw(b, bytes, n) == 0);
            CHECK(resp_write_raw(b, "\r\n", 2) == 0);
        } else {
            n = takeBytes(in, &bytes, 64);
            if (n > 0) {
                memcpy(str, bytes, n);
            }
            str[n] = '\0';
            genBulk(g, strlen(str));
            CHECK(resp_write_cstr(b, str) == 0);
        }
        break;
    case 6:
    case 7:
        children = takeByte(in) % 5;
        CHECK(resp_write_array(b, children) == 0);
        break;
    case 8:
        n = takeByte(in) % 3;
        children = 2 * n;
        CHECK(resp_write_map(b, n, proto) == 0);
        break;
    default:
        if (proto == 3) {
            /* set, push, or attribute: pairs, then the reply it annotates */
            char t = "~>|"[takeByte(in) % 3];
            n = takeByte(in) % 3;
            children = t == '|' ? 2 * n + 1 : n;
            CHECK(resp_write_raw(
                      b, head,
                      (size_t)snprintf(head, sizeof head, "%c%zu\r\n", t,
                                       n)) == 0);
        } else {
            children = 1;
            CHECK(resp_write_array(b, children) == 0);
        }
        break;
    }
    g->elems += children;
    for (i = 0; i < children; i++) {
        genReply(in, b, proto, depth_left - 1, g);
    }
}

/* Builds a reply from the input with the writer and checks that it scans
 * to exactly its length under limits exactly as large as it needs, and is
 * an error under any one of them a unit smaller; that its last prefix is
 * incomplete; and that what follows it is not taken. */
static void fuzzWriterScan(const uint8_t *data, size_t size)
{
    fuzzInput in = {data, size};
    int proto = (takeByte(&in) & 1) ? 3 : 2;
    size_t depth = takeByte(&in) % (RESP_REPLY_DEPTH_MAX + 1);
    fuzzGen g = {0, 0, 0, 0, 0, 256};
    resp_limits lim;
    fuzzScan r;
    resp_buf b;
    size_t len;

    resp_buf_init(&b, 1u << 20);
    genReply(&in, &b, proto, depth, &g);
    len = b.len;
    lim.args_max = 0;
    lim.bulk_max = g.bulk_max;
    lim.inline_max = g.line_max;
    scanOnce(&lim, g.elems, b.data, len, &r);
    CHECK(r.rv == RESP_PARSE_OK && r.consumed == len);
    scanOnce(&lim, g.elems, b.data, len - 1, &r);
    CHECK(r.rv == RESP_PARSE_INCOMPLETE);
    if (g.elems > 0) {
        scanOnce(&lim, g.elems - 1, b.data, len, &r);
        CHECK(r.rv == RESP_PARSE_ERROR);
    }
    if (g.has_bulk && g.bulk_max > 0) {
        lim.bulk_max--;
        scanOnce(&lim, g.elems, b.data, len, &r);
        CHECK(r.rv == RESP_PARSE_ERROR);
        lim.bulk_max++;
    }
    if (g.has_line && g.line_max > 0) {
        lim.inline_max--;
        scanOnce(&lim, g.elems, b.data, len, &r);
        CHECK(r.rv == RESP_PARSE_ERROR);
        lim.inline_max++;
    }
    /* whatever follows, the rest of the input, is not part of it */
    CHECK(resp_write_raw(&b, (const char *)in.p, in.n) == 0);
    scanOnce(&lim, g.elems, b.data, b.len, &r);
    CHECK(r.rv == RESP_PARSE_OK && r.consumed == len);
    resp_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const resp_limits small = {8, 16, 32};
    static const resp_limits tiny = {1, 1, 4};
    static const resp_limits dflt = {RESP_ARGS_MAX_DEFAULT,
                                     RESP_BULK_MAX_DEFAULT,
                                     RESP_INLINE_MAX_DEFAULT};
    /* reply scans only: no practical limit, so overflow checks are reached */
    static const resp_limits huge = {0, SIZE_MAX, SIZE_MAX};
    char *buf;

    /* an exact-size copy, so ASan sees any read past the end */
    buf = malloc(size > 0 ? size : 1);
    if (buf == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(buf, data, size);
    }
    fuzzPipeline(&small, buf, size);
    fuzzPipeline(&tiny, buf, size);
    fuzzPipeline(&dflt, buf, size);
    fuzzReplyStream(&small, 8, buf, size);
    fuzzReplyStream(&tiny, 1, buf, size);
    fuzzReplyStream(&dflt, RESP_REPLY_ELEMS_MAX_DEFAULT, buf, size);
    fuzzReplyStream(&huge, SIZE_MAX, buf, size);
    free(buf);

    fuzzWriter(data, size);
    fuzzWriterScan(data, size);
    return 0;
}
