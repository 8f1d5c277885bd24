/* Unit tests for src/core/codec.c and src/core/seq_bytes.h: log entries to bytes and
 * back. Every op round-trips with edge values; a full batch round-trips;
 * every truncation and each class of malformed input (bad version, name or
 * key too long, unknown op, too many commands, bad flag) is refused with -1
 * and no read past the end.
 *
 * Every decode runs on a heap copy of exactly the bytes given, so the ASan
 * build catches any read past len. The random test prints its seed; set
 * CODEC_TEST_SEED to replay one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* ---- helpers ----------------------------------------------------------- */

/* Encodes a whole entry into a new exact-size buffer; *len its size. */
static uint8_t *encode_entry(const codec_header *h, const seq_cmd *cmds,
                             size_t n, size_t *len)
{
    size_t total = CODEC_HEADER_SIZE;
    for (size_t i = 0; i < n; i++) {
        total += codec_cmd_size(&cmds[i]);
    }
    uint8_t *buf = malloc(total == 0 ? 1 : total);
    assert_non_null(buf);
    seq_writer w = {buf, 0, total, false};
    codec_put_header(&w, h);
    assert_int_equal(w.len, CODEC_HEADER_SIZE);
    for (size_t i = 0; i < n; i++) {
        size_t before = w.len;
        codec_put_cmd(&w, &cmds[i]);
        assert_false(w.overflow);
        assert_int_equal(w.len - before, codec_cmd_size(&cmds[i]));
    }
    assert_false(w.overflow);
    assert_int_equal(w.len, total);
    *len = total;
    return buf;
}

/* Decodes an entry from buf (which the caller keeps alive while cmds are
 * used): 0 when the header and every command decode and every byte is
 * consumed, else -1. */
static int decode_entry(const uint8_t *buf, size_t len, codec_header *h,
                        seq_cmd *cmds, size_t cap)
{
    seq_reader r = {buf, len, 0, false};
    if (codec_get_header(&r, h) != 0) {
        return -1;
    }
    assert_true(h->n_cmds <= CODEC_BATCH_MAX);
    assert_true(h->n_cmds <= cap);
    for (uint32_t i = 0; i < h->n_cmds; i++) {
        if (codec_get_cmd(&r, &cmds[i]) != 0) {
            return -1;
        }
        /* what was decoded lies inside the entry */
        if (cmds[i].name_len > 0) {
            assert_true((const uint8_t *)cmds[i].name >= buf);
            assert_true((const uint8_t *)cmds[i].name + cmds[i].name_len <= buf + len);
        }
        if (cmds[i].key_len > 0) {
            assert_true((const uint8_t *)cmds[i].key >= buf);
            assert_true((const uint8_t *)cmds[i].key + cmds[i].key_len <= buf + len);
        }
        assert_true(cmds[i].name_len <= SEQ_NAME_MAX);
        assert_true(cmds[i].key_len <= SEQ_KEY_MAX);
    }
    assert_false(r.bad);
    return r.pos == len ? 0 : -1;
}

/* Decodes from a heap copy of exactly len bytes. */
static int decode_copy(const uint8_t *src, size_t len, codec_header *h,
                       seq_cmd *cmds, size_t cap)
{
    uint8_t *copy = malloc(len == 0 ? 1 : len);
    assert_non_null(copy);
    if (len > 0) {
        memcpy(copy, src, len);
    }
    int rv = decode_entry(copy, len, h, cmds, cap);
    free(copy);
    return rv;
}

static void expect_cmd_equal(const seq_cmd *want, const seq_cmd *got)
{
    assert_int_equal(got->op, want->op);
    assert_int_equal(got->name_len, want->name_len);
    if (want->name_len > 0) {
        assert_memory_equal(got->name, want->name, want->name_len);
    }
    switch (want->op) {
    case SEQ_OP_CREATE:
        assert_int_equal(got->min, want->min);
        assert_int_equal(got->max, want->max);
        assert_int_equal(got->has_start, want->has_start);
        assert_int_equal(got->start, want->has_start ? want->start : 0);
        assert_int_equal(got->key_len, 0);
        assert_int_equal(got->count, 0);
        break;
    case SEQ_OP_ADDRANGE:
        assert_int_equal(got->min, want->min);
        assert_int_equal(got->max, want->max);
        assert_false(got->has_start);
        assert_int_equal(got->key_len, 0);
        break;
    case SEQ_OP_NEXT:
        assert_int_equal(got->count, want->count);
        assert_int_equal(got->key_len, want->key_len);
        if (want->key_len > 0) {
            assert_memory_equal(got->key, want->key, want->key_len);
        }
        assert_int_equal(got->min, 0);
        assert_int_equal(got->max, 0);
        break;
    case SEQ_OP_VOID:
        assert_int_equal(got->min, want->min);
        assert_int_equal(got->text_len, want->text_len);
        if (want->text_len > 0) {
            assert_memory_equal(got->text, want->text, want->text_len);
        }
        assert_int_equal(got->max, 0);
        break;
    case SEQ_OP_GAPS:
        assert_int_equal(got->min, want->min);
        assert_int_equal(got->max, want->max);
        break;
    case SEQ_OP_LOOKUP:
        assert_int_equal(got->min, want->min);
        assert_int_equal(got->max, 0);
        break;
    case SEQ_OP_LOOKUP_KEY:
        assert_int_equal(got->key_len, want->key_len);
        if (want->key_len > 0) {
            assert_memory_equal(got->key, want->key, want->key_len);
        }
        assert_int_equal(got->min, 0);
        break;
    case SEQ_OP_RESERVE:
        assert_int_equal(got->key_len, want->key_len);
        if (want->key_len > 0) {
            assert_memory_equal(got->key, want->key, want->key_len);
        }
        break;
    case SEQ_OP_CONFIRM:
    case SEQ_OP_RELEASE:
        assert_int_equal(got->min, want->min);
        assert_int_equal(got->key_len, want->key_len);
        if (want->key_len > 0) {
            assert_memory_equal(got->key, want->key, want->key_len);
        }
        break;
    case SEQ_OP_ALLOCBLOCK:
    case SEQ_OP_USED:
        assert_int_equal(got->count, want->count);
        break;
    case SEQ_OP_SERVED:
        assert_int_equal(got->min, want->min);
        assert_int_equal(got->max, want->max);
        break;
    case SEQ_OP_UNDELIVERED:
        assert_int_equal(got->min, want->min);
        assert_int_equal(got->max, want->max);
        assert_int_equal(got->count, want->count);
        assert_int_equal(got->has_start, want->has_start);
        assert_int_equal(got->start, want->has_start ? want->start : 0);
        assert_int_equal(got->text_len, want->text_len);
        if (want->text_len > 0) {
            assert_memory_equal(got->text, want->text, want->text_len);
        }
        break;
    default:
        assert_int_equal(got->min, 0);
        assert_int_equal(got->max, 0);
        assert_int_equal(got->count, 0);
        assert_int_equal(got->key_len, 0);
        break;
    }
    /* the fields of the newer ops and the extended CREATE/ADDRANGE */
    assert_int_equal(got->mode, want->mode);
    assert_int_equal(got->cache, want->cache);
    assert_int_equal(got->warn, want->warn);
    assert_int_equal(got->has_not_before, want->has_not_before);
    assert_int_equal(got->has_not_after, want->has_not_after);
    assert_int_equal(got->not_before, want->has_not_before ? want->not_before : 0);
    assert_int_equal(got->not_after, want->has_not_after ? want->not_after : 0);
    assert_int_equal(got->ttl_ms, want->ttl_ms);
    assert_int_equal(got->term, want->term);
    assert_int_equal(got->node, want->node);
    assert_int_equal(got->incarnation, want->incarnation);
}

static void expect_header_equal(const codec_header *want, const codec_header *got)
{
    assert_int_equal(got->time_ms, want->time_ms);
    assert_int_equal(got->retention_ms, want->retention_ms);
    assert_int_equal(got->origin, want->origin);
    assert_int_equal(got->batch_seq, want->batch_seq);
    assert_int_equal(got->n_cmds, want->n_cmds);
    assert_int_equal(got->keys_max, want->keys_max);
    assert_int_equal(got->mono_ms, want->mono_ms);
}

static char name200[SEQ_NAME_MAX + 1];
static char key200[SEQ_KEY_MAX + 1];
static char printable[95];

static int setup_strings(void **state)
{
    (void)state;
    for (size_t i = 0; i < SEQ_NAME_MAX; i++) {
        name200[i] = (char)(0x21 + i % 94);
    }
    name200[SEQ_NAME_MAX] = '\0';
    for (size_t i = 0; i < SEQ_KEY_MAX; i++) {
        key200[i] = (char)(0x7e - i % 94);
    }
    key200[SEQ_KEY_MAX] = '\0';
    for (int c = 0x21; c <= 0x7e; c++) {
        printable[c - 0x21] = (char)c;
    }
    printable[94] = '\0';
    return 0;
}

static seq_cmd mkcmd(uint8_t op, const char *name)
{
    seq_cmd c;
    memset(&c, 0, sizeof(c));
    c.op = op;
    c.name = name;
    c.name_len = name == NULL ? 0 : strlen(name);
    return c;
}

/* One of every op, with edge values. */
static size_t edge_cmds(seq_cmd *out)
{
    size_t n = 0;
    const int64_t vals[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX};
    for (size_t i = 0; i < 7; i++) {
        for (size_t j = 0; j < 7; j += 3) {
            seq_cmd c = mkcmd(SEQ_OP_CREATE, i % 2 ? name200 : "a");
            c.min = vals[i];
            c.max = vals[j];
            c.has_start = (i + j) % 2 == 0;
            c.start = vals[(i + j) % 7];
            out[n++] = c;
            c = mkcmd(SEQ_OP_ADDRANGE, j % 2 ? "b" : printable);
            c.min = vals[j];
            c.max = vals[i];
            out[n++] = c;
        }
    }
    /* has_start false with a start value: the start is not carried */
    seq_cmd c = mkcmd(SEQ_OP_CREATE, "s");
    c.min = 1;
    c.max = 2;
    c.start = 12345;
    out[n++] = c;
    const uint32_t counts[] = {0, 1, 2, SEQ_COUNT_MAX, SEQ_COUNT_MAX + 1, UINT32_MAX};
    const char *keys[] = {NULL, "k", key200, printable};
    for (size_t i = 0; i < 6; i++) {
        for (size_t k = 0; k < 4; k++) {
            c = mkcmd(SEQ_OP_NEXT, k % 2 ? name200 : "n");
            c.count = counts[i];
            c.key = keys[k];
            c.key_len = keys[k] == NULL ? 0 : strlen(keys[k]);
            out[n++] = c;
        }
    }
    out[n++] = mkcmd(SEQ_OP_DESCRIBE, "d");
    out[n++] = mkcmd(SEQ_OP_DESCRIBE, name200);
    out[n++] = mkcmd(SEQ_OP_LIST, NULL);
    out[n++] = mkcmd(SEQ_OP_LIST, "ignored");
    out[n++] = mkcmd(SEQ_OP_DROP, "x");
    out[n++] = mkcmd(SEQ_OP_DROP, name200);
    /* the codec carries names as bytes; validity is seq's business */
    out[n++] = mkcmd(SEQ_OP_DROP, "has space");
    const char *reasons[] = {"", "printed twice", key200};
    for (size_t i = 0; i < 3; i++) {
        c = mkcmd(SEQ_OP_VOID, "v");
        c.min = vals[i * 3];
        c.text = reasons[i];
        c.text_len = strlen(reasons[i]);
        out[n++] = c;
        c = mkcmd(SEQ_OP_GAPS, name200);
        c.min = vals[i];
        c.max = vals[6 - i];
        out[n++] = c;
        c = mkcmd(SEQ_OP_LOOKUP, "l");
        c.min = vals[6 - i];
        out[n++] = c;
        c = mkcmd(SEQ_OP_LOOKUP_KEY, "k");
        c.key = keys[i + 1];
        c.key_len = strlen(keys[i + 1]);
        out[n++] = c;
        /* the gapless, cached and window forms */
        c = mkcmd(SEQ_OP_CREATE, "m");
        c.min = vals[i];
        c.max = vals[6 - i];
        c.mode = (uint8_t)i;
        c.cache = i == 2 ? 1000000 : 0;
        c.warn = i == 0 ? UINT64_MAX : (uint64_t)i;
        c.has_not_before = i != 1;
        c.not_before = vals[i];
        c.has_not_after = i != 0;
        c.not_after = vals[6 - i];
        out[n++] = c;
        c = mkcmd(SEQ_OP_ADDRANGE, "w");
        c.min = vals[i];
        c.max = vals[i + 3];
        c.has_not_after = true;
        c.not_after = vals[i * 2];
        out[n++] = c;
        c = mkcmd(SEQ_OP_RESERVE, "r");
        c.ttl_ms = vals[i * 3];
        c.key = i == 0 ? NULL : keys[i + 1];
        c.key_len = i == 0 ? 0 : strlen(keys[i + 1]);
        out[n++] = c;
        c = mkcmd(i == 1 ? SEQ_OP_RELEASE : SEQ_OP_CONFIRM, "c");
        c.min = vals[i + 4];
        c.key = i == 1 ? NULL : keys[i + 1];
        c.key_len = i == 1 ? 0 : strlen(keys[i + 1]);
        out[n++] = c;
        c = mkcmd(i == 1 ? SEQ_OP_USED : SEQ_OP_ALLOCBLOCK, name200);
        c.count = i == 2 ? UINT32_MAX : (uint32_t)i;
        c.term = (uint64_t)vals[i];
        c.node = UINT64_MAX - (uint64_t)i;
        out[n++] = c;
        c = mkcmd(SEQ_OP_RECOVER, NULL);
        c.term = (uint64_t)i;
        c.node = (uint64_t)vals[i + 1];
        out[n++] = c;
        c = mkcmd(SEQ_OP_UNDELIVERED, "u");
        c.min = vals[i];
        c.max = vals[i + 2];
        c.count = i == 1 ? 1 : 0;
        c.has_start = i != 1;
        c.term = i == 0 ? UINT64_MAX : (i == 2 ? 2 : 0);
        c.text = reasons[i];
        c.text_len = strlen(reasons[i]);
        out[n++] = c;
        c = mkcmd(SEQ_OP_SERVED, name200);
        c.min = vals[i + 1];
        c.max = vals[i + 3];
        c.term = (uint64_t)vals[i + 2];
        c.node = UINT64_MAX - (uint64_t)i;
        c.incarnation = i == 1 ? 0 : UINT64_MAX - 7;
        out[n++] = c;
    }
    return n;
}

#define EDGE_CAP 128

/* ---- round trips ------------------------------------------------------- */

static void test_roundtrip_each_op(void **state)
{
    (void)state;
    seq_cmd cmds[EDGE_CAP];
    size_t n = edge_cmds(cmds);
    assert_true(n <= EDGE_CAP);
    for (size_t i = 0; i < n; i++) {
        codec_header h = {(int64_t)i - 5, 86400000, 0xfeedfacecafebeefULL, i, 1, SEQ_KEYS_MAX_DEFAULT, 77};
        size_t len = 0;
        uint8_t *buf = encode_entry(&h, &cmds[i], 1, &len);
        codec_header g;
        seq_cmd got[1];
        assert_int_equal(decode_entry(buf, len, &g, got, 1), 0);
        expect_header_equal(&h, &g);
        expect_cmd_equal(&cmds[i], &got[0]);
        free(buf);
    }
}

static void test_roundtrip_header_edges(void **state)
{
    (void)state;
    const codec_header hs[] = {
        {0, 0, 0, 0, 0, 0, 0},
        {INT64_MIN, INT64_MIN, 0, 0, 0, 0, INT64_MIN},
        {INT64_MAX, INT64_MAX, UINT64_MAX, UINT64_MAX, 0, UINT64_MAX, INT64_MAX},
        {-1, -1, 1, 1, 0, 1, -1},
        {1700000000000, 86400000, 0x0123456789abcdefULL, 42, 0, 2, 12345},
    };
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
        size_t len = 0;
        uint8_t *buf = encode_entry(&hs[i], NULL, 0, &len);
        assert_int_equal(len, CODEC_HEADER_SIZE);
        codec_header g;
        seq_cmd got[1];
        assert_int_equal(decode_entry(buf, len, &g, got, 1), 0);
        expect_header_equal(&hs[i], &g);
        free(buf);
    }
    /* the layout is little endian, field by field */
    codec_header h = {0x0102030405060708LL, -2, 0x1122334455667788ULL, 7, 0, 0x0a0b, -3};
    size_t len = 0;
    uint8_t *buf = encode_entry(&h, NULL, 0, &len);
    const uint8_t want[CODEC_HEADER_SIZE] = {
        CODEC_VERSION,
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
        7, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0,
        0x0b, 0x0a, 0, 0, 0, 0, 0, 0,
        0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    };
    assert_memory_equal(buf, want, CODEC_HEADER_SIZE);
    free(buf);
    /* a version 1 header (no keys_max, no mono_ms) still reads, with the
     * default key limit and the wall clock as the monotonic one */
    const uint8_t v1[] = {
        CODEC_VERSION_V1,
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
        7, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0,
    };
    seq_reader r = {v1, sizeof(v1), 0, false};
    codec_header g;
    assert_int_equal(codec_get_header(&r, &g), 0);
    assert_int_equal(g.time_ms, 0x0102030405060708LL);
    assert_int_equal(g.mono_ms, 0x0102030405060708LL);
    assert_int_equal(g.keys_max, SEQ_KEYS_MAX_DEFAULT);
    assert_int_equal(g.origin, 0x1122334455667788ULL);
    assert_int_equal(r.pos, sizeof(v1));
    /* the stamp the state machine enters is the header's, field by field */
    seq_stamp st = codec_stamp(&h);
    assert_int_equal(st.wall_ms, h.time_ms);
    assert_int_equal(st.mono_ms, -3);
    assert_int_equal(st.origin, h.origin);
    assert_int_equal(st.retention_ms, -2);
    assert_int_equal(st.keys_max, 0x0a0b);
}

static void test_cmd_layout(void **state)
{
    (void)state;
    seq_cmd c = mkcmd(SEQ_OP_NEXT, "ab");
    c.count = 0x01020304;
    c.key = "k";
    c.key_len = 1;
    uint8_t buf[32];
    seq_writer w = {buf, 0, sizeof(buf), false};
    codec_put_cmd(&w, &c);
    const uint8_t want[] = {SEQ_OP_NEXT, 2, 0, 'a', 'b', 4, 3, 2, 1, 1, 0, 'k'};
    assert_int_equal(w.len, sizeof(want));
    assert_int_equal(codec_cmd_size(&c), sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));

    c = mkcmd(SEQ_OP_CREATE, "z");
    c.min = -1;
    c.max = 1;
    c.has_start = true;
    c.start = 0;
    w = (seq_writer){buf, 0, sizeof(buf), false};
    codec_put_cmd(&w, &c);
    const uint8_t want2[] = {SEQ_OP_CREATE, 1, 0, 'z',
                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                             1, 0, 0, 0, 0, 0, 0, 0,
                             1,
                             0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(w.len, sizeof(want2));
    assert_int_equal(codec_cmd_size(&c), sizeof(want2));
    assert_memory_equal(buf, want2, sizeof(want2));
}

static void test_roundtrip_batch(void **state)
{
    (void)state;
    seq_cmd edge[EDGE_CAP];
    size_t n_edge = edge_cmds(edge);
    seq_cmd *cmds = calloc(CODEC_BATCH_MAX, sizeof(seq_cmd));
    seq_cmd *got = calloc(CODEC_BATCH_MAX, sizeof(seq_cmd));
    assert_non_null(cmds);
    assert_non_null(got);
    for (size_t i = 0; i < CODEC_BATCH_MAX; i++) {
        cmds[i] = edge[i % n_edge];
    }
    codec_header h = {123456789, 1000, 99, 100000, CODEC_BATCH_MAX, SEQ_KEYS_MAX_DEFAULT, 77};
    size_t len = 0;
    uint8_t *buf = encode_entry(&h, cmds, CODEC_BATCH_MAX, &len);
    codec_header g;
    assert_int_equal(decode_entry(buf, len, &g, got, CODEC_BATCH_MAX), 0);
    expect_header_equal(&h, &g);
    for (size_t i = 0; i < CODEC_BATCH_MAX; i++) {
        expect_cmd_equal(&cmds[i], &got[i]);
    }
    free(buf);
    /* all the edge commands in one entry, then every truncation of it */
    h.n_cmds = (uint32_t)n_edge;
    buf = encode_entry(&h, edge, n_edge, &len);
    assert_int_equal(decode_copy(buf, len, &g, got, CODEC_BATCH_MAX), 0);
    for (size_t cut = 0; cut < len; cut++) {
        if (decode_copy(buf, cut, &g, got, CODEC_BATCH_MAX) != -1) {
            fail_msg("an entry truncated to %zu of %zu bytes was accepted", cut, len);
        }
    }
    free(buf);
    free(cmds);
    free(got);
}

/* ---- truncation and malformed input ------------------------------------ */

static void test_truncations_each_op(void **state)
{
    (void)state;
    seq_cmd cmds[EDGE_CAP];
    size_t n = edge_cmds(cmds);
    for (size_t i = 0; i < n; i++) {
        codec_header h = {1, 2, 3, 4, 1, SEQ_KEYS_MAX_DEFAULT, 77};
        size_t len = 0;
        uint8_t *buf = encode_entry(&h, &cmds[i], 1, &len);
        codec_header g;
        seq_cmd got[1];
        for (size_t cut = 0; cut < len; cut++) {
            assert_int_equal(decode_copy(buf, cut, &g, got, 1), -1);
        }
        /* a command cut short on its own reader: -1, reader marked bad */
        size_t clen = codec_cmd_size(&cmds[i]);
        for (size_t cut = 0; cut < clen; cut++) {
            uint8_t *copy = malloc(cut == 0 ? 1 : cut);
            assert_non_null(copy);
            memcpy(copy, buf + CODEC_HEADER_SIZE, cut);
            seq_reader r = {copy, cut, 0, false};
            assert_int_equal(codec_get_cmd(&r, &got[0]), -1);
            assert_true(r.pos <= cut);
            free(copy);
        }
        free(buf);
    }
    /* an empty input */
    seq_reader r = {NULL, 0, 0, false};
    codec_header g;
    assert_int_equal(codec_get_header(&r, &g), -1);
    seq_cmd c;
    r = (seq_reader){NULL, 0, 0, false};
    assert_int_equal(codec_get_cmd(&r, &c), -1);
}

/* An entry header with n_cmds commands declared. */
static size_t put_header(uint8_t *buf, size_t cap, uint32_t n_cmds)
{
    codec_header h = {10, 20, 30, 40, n_cmds, SEQ_KEYS_MAX_DEFAULT, 77};
    seq_writer w = {buf, 0, cap, false};
    codec_put_header(&w, &h);
    assert_false(w.overflow);
    return w.len;
}

static void test_bad_version(void **state)
{
    (void)state;
    uint8_t buf[CODEC_HEADER_SIZE];
    put_header(buf, sizeof(buf), 0);
    codec_header g;
    seq_cmd got[1];
    assert_int_equal(decode_copy(buf, sizeof(buf), &g, got, 1), 0);
    const uint8_t bad[] = {0, CODEC_VERSION + 1, 0x7f, 0x80, 0xff};
    for (size_t i = 0; i < sizeof(bad); i++) {
        buf[0] = bad[i];
        assert_int_equal(decode_copy(buf, sizeof(buf), &g, got, 1), -1);
    }
}

static void test_too_many_cmds(void **state)
{
    (void)state;
    uint8_t buf[CODEC_HEADER_SIZE];
    codec_header g;
    seq_reader r;
    const uint32_t bad[] = {CODEC_BATCH_MAX + 1, CODEC_BATCH_MAX * 2, 0x80000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put_header(buf, sizeof(buf), bad[i]);
        r = (seq_reader){buf, sizeof(buf), 0, false};
        assert_int_equal(codec_get_header(&r, &g), -1);
    }
    put_header(buf, sizeof(buf), CODEC_BATCH_MAX);
    r = (seq_reader){buf, sizeof(buf), 0, false};
    assert_int_equal(codec_get_header(&r, &g), 0);
    assert_int_equal(g.n_cmds, CODEC_BATCH_MAX);
}

/* A hand-built command: op, a declared name length, then `body` zero bytes
 * (enough that only the limit, not the end, can refuse it; zeros make a
 * valid CREATE flag, NEXT count and key length). */
static int decode_raw_cmd(uint8_t op, uint16_t name_len, size_t body)
{
    size_t len = 3 + body;
    uint8_t *buf = calloc(1, len);
    assert_non_null(buf);
    buf[0] = op;
    buf[1] = (uint8_t)name_len;
    buf[2] = (uint8_t)(name_len >> 8);
    seq_reader r = {buf, len, 0, false};
    seq_cmd c;
    int rv = codec_get_cmd(&r, &c);
    free(buf);
    return rv;
}

static void test_name_too_long(void **state)
{
    (void)state;
    const uint8_t ops[] = {SEQ_OP_CREATE, SEQ_OP_ADDRANGE, SEQ_OP_NEXT,
                           SEQ_OP_DESCRIBE, SEQ_OP_LIST, SEQ_OP_DROP};
    for (size_t i = 0; i < sizeof(ops); i++) {
        assert_int_equal(decode_raw_cmd(ops[i], SEQ_NAME_MAX + 1, 70000), -1);
        assert_int_equal(decode_raw_cmd(ops[i], 1000, 70000), -1);
        assert_int_equal(decode_raw_cmd(ops[i], UINT16_MAX, 70000), -1);
    }
    /* exactly the limit is fine (DESCRIBE: nothing after the name) */
    assert_int_equal(decode_raw_cmd(SEQ_OP_DESCRIBE, SEQ_NAME_MAX, SEQ_NAME_MAX), 0);
    assert_int_equal(decode_raw_cmd(SEQ_OP_DESCRIBE, SEQ_NAME_MAX, SEQ_NAME_MAX - 1), -1);
    assert_int_equal(decode_raw_cmd(SEQ_OP_DROP, 0, 0), 0);
}

static void test_key_too_long(void **state)
{
    (void)state;
    /* NEXT "n" count 1 key_len L, followed by plenty of bytes */
    const uint16_t lens[] = {SEQ_KEY_MAX + 1, 1000, UINT16_MAX, SEQ_KEY_MAX, 0};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t len = 1 + 2 + 1 + 4 + 2 + 70000;
        uint8_t *buf = calloc(1, len);
        assert_non_null(buf);
        size_t p = 0;
        buf[p++] = SEQ_OP_NEXT;
        buf[p++] = 1;
        buf[p++] = 0;
        buf[p++] = 'n';
        buf[p++] = 1;
        p += 3;
        buf[p++] = (uint8_t)lens[i];
        buf[p++] = (uint8_t)(lens[i] >> 8);
        memset(buf + p, 'k', len - p);
        seq_reader r = {buf, len, 0, false};
        seq_cmd c;
        int rv = codec_get_cmd(&r, &c);
        if (lens[i] <= SEQ_KEY_MAX) {
            assert_int_equal(rv, 0);
            assert_int_equal(c.key_len, lens[i]);
            assert_int_equal(c.count, 1);
            assert_int_equal(r.pos, p + lens[i]);
        } else {
            assert_int_equal(rv, -1);
        }
        free(buf);
    }
}

static void test_unknown_op(void **state)
{
    (void)state;
    for (int op = 0; op < 256; op++) {
        int rv = decode_raw_cmd((uint8_t)op, 1, 200);
        /* op | 0x40 names who asked (here a zero length: the server itself) */
        int base = op & ~0xC0;
        bool ext = (op & 0x80) != 0;
        /* 27 and 28: CREATE and ADDRANGE with a document part; extended:
         * windows, and a PERIOD (zero reads as a period) */
        bool known = base >= SEQ_OP_CREATE && base <= 28 &&
                     (!ext || base == SEQ_OP_CREATE || base == SEQ_OP_ADDRANGE ||
                      base == SEQ_OP_DESCRIBE || base == SEQ_OP_GAPS || base == SEQ_OP_LOOKUP ||
                      base == SEQ_OP_CONFIRM || base == SEQ_OP_RELEASE || base == SEQ_OP_RENDER ||
                      base == SEQ_OP_UNDELIVERED);
        if (known) {
            assert_int_equal(rv, 0);
        } else {
            assert_int_equal(rv, -1);
        }
    }
    /* in an entry, an unknown op after valid commands refuses the entry */
    seq_cmd cmds[2] = {mkcmd(SEQ_OP_DROP, "a"), mkcmd(SEQ_OP_DESCRIBE, "b")};
    codec_header h = {0, 0, 0, 0, 2, SEQ_KEYS_MAX_DEFAULT, 77};
    size_t len = 0;
    uint8_t *buf = encode_entry(&h, cmds, 2, &len);
    codec_header g;
    seq_cmd got[2];
    assert_int_equal(decode_copy(buf, len, &g, got, 2), 0);
    buf[CODEC_HEADER_SIZE + codec_cmd_size(&cmds[0])] = SEQ_OP_UNDELIVERED + 1;
    assert_int_equal(decode_copy(buf, len, &g, got, 2), -1);
    free(buf);
}

static void test_bad_has_start(void **state)
{
    (void)state;
    seq_cmd c = mkcmd(SEQ_OP_CREATE, "a");
    c.min = 1;
    c.max = 5;
    c.has_start = true;
    c.start = 3;
    codec_header h = {0, 0, 0, 0, 1, SEQ_KEYS_MAX_DEFAULT, 77};
    size_t len = 0;
    uint8_t *buf = encode_entry(&h, &c, 1, &len);
    codec_header g;
    seq_cmd got[1];
    size_t flag = CODEC_HEADER_SIZE + 1 + 2 + 1 + 8 + 8;
    assert_int_equal(buf[flag], 1);
    const uint8_t vals[] = {2, 3, 0x80, 0xff};
    for (size_t i = 0; i < sizeof(vals); i++) {
        buf[flag] = vals[i];
        assert_int_equal(decode_copy(buf, len, &g, got, 1), -1);
    }
    buf[flag] = 0;
    assert_int_equal(decode_copy(buf, len, &g, got, 1), 0);
    assert_false(got[0].has_start);
    free(buf);
}

static void test_trailing_and_short_counts(void **state)
{
    (void)state;
    /* n_cmds says more than there is */
    seq_cmd cmds[3] = {mkcmd(SEQ_OP_DROP, "a"), mkcmd(SEQ_OP_DROP, "b"),
                       mkcmd(SEQ_OP_DROP, "c")};
    codec_header h = {0, 0, 0, 0, 3, SEQ_KEYS_MAX_DEFAULT, 77};
    size_t len = 0;
    uint8_t *buf = encode_entry(&h, cmds, 3, &len);
    codec_header g;
    seq_cmd got[16];
    for (uint8_t n = 4; n < 16; n++) {
        buf[CODEC_HEADER_SIZE - 20] = n; /* n_cmds, little endian, before keys_max and mono_ms */
        assert_int_equal(decode_copy(buf, len, &g, got, 16), -1);
    }
    /* and fewer: the rest is left over (decode_entry refuses leftovers) */
    buf[CODEC_HEADER_SIZE - 20] = 2;
    assert_int_equal(decode_copy(buf, len, &g, got, 16), -1);
    buf[CODEC_HEADER_SIZE - 20] = 3;
    assert_int_equal(decode_copy(buf, len, &g, got, 16), 0);
    free(buf);
}

/* ---- the writer and reader of seq_bytes.h ------------------------------ */

static void test_writer_overflow(void **state)
{
    (void)state;
    for (size_t cap = 0; cap < CODEC_HEADER_SIZE + 20; cap++) {
        uint8_t *buf = malloc(cap == 0 ? 1 : cap);
        assert_non_null(buf);
        seq_writer w = {buf, 0, cap, false};
        codec_header h = {1, 2, 3, 4, 1, SEQ_KEYS_MAX_DEFAULT, 77};
        codec_put_header(&w, &h);
        seq_cmd c = mkcmd(SEQ_OP_NEXT, "abc");
        c.count = 5;
        c.key = "key";
        c.key_len = 3;
        codec_put_cmd(&w, &c);
        size_t need = CODEC_HEADER_SIZE + codec_cmd_size(&c);
        assert_true(w.len <= cap);
        assert_int_equal(w.overflow, cap < need);
        /* once overflowed, nothing more is written */
        size_t at = w.len;
        seq_put_u8(&w, 1);
        if (w.overflow) {
            assert_int_equal(w.len, at);
        }
        free(buf);
    }
}

static void test_reader_primitives(void **state)
{
    (void)state;
    uint8_t buf[64];
    seq_writer w = {buf, 0, sizeof(buf), false};
    seq_put_u8(&w, 0xab);
    seq_put_u16(&w, 0xfffe);
    seq_put_u32(&w, 0xdeadbeef);
    seq_put_u64(&w, UINT64_MAX - 1);
    seq_put_i64(&w, INT64_MIN);
    seq_put_i64(&w, -1);
    seq_put_bytes(&w, "xyz", 3);
    seq_put_bytes(&w, NULL, 0);
    assert_false(w.overflow);
    assert_int_equal(w.len, 1 + 2 + 4 + 8 + 8 + 8 + 3);
    seq_reader r = {buf, w.len, 0, false};
    assert_int_equal(seq_get_u8(&r), 0xab);
    assert_int_equal(seq_get_u16(&r), 0xfffe);
    assert_int_equal(seq_get_u32(&r), 0xdeadbeef);
    assert_int_equal(seq_get_u64(&r), UINT64_MAX - 1);
    assert_int_equal(seq_get_i64(&r), INT64_MIN);
    assert_int_equal(seq_get_i64(&r), -1);
    const uint8_t *p = seq_get_bytes(&r, 3);
    assert_non_null(p);
    assert_memory_equal(p, "xyz", 3);
    assert_false(r.bad);
    assert_int_equal(r.pos, r.len);
    /* past the end: zeros, bad, and it stays bad */
    assert_int_equal(seq_get_u8(&r), 0);
    assert_true(r.bad);
    r = (seq_reader){buf, 3, 0, false};
    assert_int_equal(seq_get_u32(&r), 0);
    assert_true(r.bad);
    assert_int_equal(seq_get_u8(&r), 0); /* a byte is there, but bad sticks */
    assert_int_equal(r.pos, 0);
    r = (seq_reader){buf, 7, 0, false};
    assert_int_equal(seq_get_u64(&r), 0);
    assert_null(seq_get_bytes(&r, 0));
    r = (seq_reader){buf, 2, 0, false};
    assert_null(seq_get_bytes(&r, SIZE_MAX));
    assert_true(r.bad);
}

/* ---- random input ------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void test_random_input(void **state)
{
    (void)state;
    uint64_t seed = 0xc0dec0deULL;
    const char *env = getenv("CODEC_TEST_SEED");
    if (env != NULL && env[0] != '\0') {
        seed = strtoull(env, NULL, 0);
    }
    printf("seed=%lu\n", (unsigned long)seed);
    uint64_t rng = seed;
    seq_cmd edge[EDGE_CAP];
    size_t n_edge = edge_cmds(edge);
    seq_cmd *got = calloc(CODEC_BATCH_MAX, sizeof(seq_cmd));
    assert_non_null(got);
    size_t accepted = 0;
    for (int it = 0; it < 20000; it++) {
        /* a valid entry of a few commands, then a few random byte changes */
        seq_cmd cmds[8];
        size_t n = 1 + splitmix64(&rng) % 8;
        for (size_t i = 0; i < n; i++) {
            cmds[i] = edge[splitmix64(&rng) % n_edge];
        }
        codec_header h = {(int64_t)splitmix64(&rng), (int64_t)splitmix64(&rng),
                          splitmix64(&rng), splitmix64(&rng), (uint32_t)n, SEQ_KEYS_MAX_DEFAULT, 77};
        size_t len = 0;
        uint8_t *buf = encode_entry(&h, cmds, n, &len);
        codec_header g;
        if (it % 2 == 0) {
            assert_int_equal(decode_copy(buf, len, &g, got, CODEC_BATCH_MAX), 0);
            expect_header_equal(&h, &g);
            for (size_t i = 0; i < n; i++) {
                expect_cmd_equal(&cmds[i], &got[i]);
            }
        }
        int flips = 1 + (int)(splitmix64(&rng) % 4);
        for (int f = 0; f < flips; f++) {
            buf[splitmix64(&rng) % len] = (uint8_t)splitmix64(&rng);
        }
        size_t cut = splitmix64(&rng) % 4 == 0 ? splitmix64(&rng) % (len + 1) : len;
        if (decode_copy(buf, cut, &g, got, CODEC_BATCH_MAX) == 0) {
            accepted++;
        }
        free(buf);
    }
    /* pure noise */
    for (int it = 0; it < 5000; it++) {
        size_t len = splitmix64(&rng) % 300;
        uint8_t *buf = malloc(len == 0 ? 1 : len);
        assert_non_null(buf);
        for (size_t i = 0; i < len; i++) {
            buf[i] = (uint8_t)splitmix64(&rng);
        }
        if (len > 0 && it % 2 == 0) {
            buf[0] = CODEC_VERSION;
        }
        if (len > CODEC_HEADER_SIZE && it % 4 == 0) {
            memset(buf + CODEC_HEADER_SIZE - 3, 0, 3); /* a small n_cmds */
        }
        codec_header g;
        (void)decode_entry(buf, len, &g, got, CODEC_BATCH_MAX);
        free(buf);
    }
    printf("random entries: %zu of 20000 mutated entries still decoded\n", accepted);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_each_op),
        cmocka_unit_test(test_roundtrip_header_edges),
        cmocka_unit_test(test_cmd_layout),
        cmocka_unit_test(test_roundtrip_batch),
        cmocka_unit_test(test_truncations_each_op),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_too_many_cmds),
        cmocka_unit_test(test_name_too_long),
        cmocka_unit_test(test_key_too_long),
        cmocka_unit_test(test_unknown_op),
        cmocka_unit_test(test_bad_has_start),
        cmocka_unit_test(test_trailing_and_short_counts),
        cmocka_unit_test(test_writer_overflow),
        cmocka_unit_test(test_reader_primitives),
        cmocka_unit_test(test_random_input),
    };
    return cmocka_run_group_tests(tests, setup_strings, NULL);
}
