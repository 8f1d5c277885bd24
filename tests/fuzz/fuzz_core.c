/* fuzz_core — libFuzzer target for the state machine and its two decoders.
 *
 * The input is used three ways. As a snapshot: seq_snapshot_decode must
 * refuse it or yield a state that encodes and decodes back to the same
 * bytes. As a log entry: the codec must refuse it or yield commands, which
 * are applied to a state. And as a script: each step picks a command of any
 * kind (every mode, windows, TTLs, keys, blocks and owners, UNDELIVERED)
 * with small numbers, so collisions are likely, and a clock step. After the
 * script the state must satisfy its invariants, which the snapshot decoder
 * checks in full: encode, decode, encode again must give the same bytes,
 * and both states must answer GAPS alike. Any broken invariant aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "seq.h"

static const char *const names[] = {"s", "g", "c", "w", "p", "f"};
/* document numbers: formats (a mod11:skip among them), labels, texts to PARSE */
static const char *const formats[] = {"{n}", "{period}/{n:3}{check:luhn}", "{n}{check:mod11:skip}",
                                      "{label}-{n}{check:mod97:all}", "{n", "{period}{n}"};
static const char *const labels[] = {"", "L1", "CAF-9"};
static const char *const printed[] = {"1", "2026/001-4", "L1-1", "55", "0000", "-3"};
static const char *const keys[] = {"k1", "k2", "k3"};
static const char *const texts[] = {"spoiled", "lost", ""};

typedef struct script {
    const uint8_t *p;
    size_t n, at;
} script;

static uint8_t take8(script *sc)
{
    return sc->at < sc->n ? sc->p[sc->at++] : 0;
}

/* A small signed number, now and then an int64 edge. */
static int64_t takeNumber(script *sc)
{
    uint8_t b = take8(sc);
    switch (b) {
    case 0xff: return INT64_MAX;
    case 0xfe: return INT64_MIN;
    case 0xfd: return INT64_MAX - 1;
    default: return (int64_t)b - 20;
    }
}

static void fuzzFail(const char *what)
{
    fprintf(stderr, "fuzz_core: %s\n", what);
    abort();
}

static void applyOne(seq_state *s, const seq_cmd *c)
{
    seq_result r;
    int rv = seq_apply(s, c, &r);
    if (rv != r.status || r.op != c->op) {
        fuzzFail("result framing");
    }
    seq_result_free(&r);
}

/* Encode, decode, encode: same bytes; the decoded state answers GAPS over
 * everything like the original. */
static void checkRoundTrip(seq_state *s)
{
    size_t len = 0;
    void *buf = seq_snapshot_encode(s, &len);
    if (buf == NULL) {
        fuzzFail("encode");
    }
    seq_state *d = seq_snapshot_decode(buf, len);
    if (d == NULL) {
        fuzzFail("a snapshot the core wrote was refused (an invariant is broken)");
    }
    size_t len2 = 0;
    void *buf2 = seq_snapshot_encode(d, &len2);
    if (buf2 == NULL || len2 != len || memcmp(buf, buf2, len) != 0) {
        fuzzFail("snapshot round trip changed the bytes");
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        seq_cmd g = {.op = SEQ_OP_GAPS, .name = names[i], .name_len = 1,
                     .min = INT64_MIN, .max = INT64_MAX};
        seq_result a, b;
        seq_apply(s, &g, &a);
        seq_apply(d, &g, &b);
        bool same = a.status == b.status && a.n_ledger == b.n_ledger;
        for (size_t k = 0; same && k < a.n_ledger; k++) {
            same = a.ledger[k].first == b.ledger[k].first && a.ledger[k].last == b.ledger[k].last &&
                   a.ledger[k].state == b.ledger[k].state;
        }
        seq_result_free(&a);
        seq_result_free(&b);
        if (!same) {
            fuzzFail("decoded state answers GAPS differently");
        }
    }
    free(buf);
    free(buf2);
    seq_state_free(d);
}

/* ACL ops' names and rules: valid ones, a password in clear (refused),
 * and rules that fail part way (a SETUSER applies all or none). */
static const char *const acl_users[] = {"default", "u1", "u2", "s"};
static const char *const acl_rules[] = {
    "on nopass ~* +@all", "off", "~s* +@issue -next", "#h1 resetkeys +cluster|nodes", "reset",
    "+@read ~x >secret", "!h1", "allkeys nocommands +drop on #h2 u1 u2",
};

static void runScript(seq_state *s, script *sc)
{
    int64_t clock = 1000;
    for (int step = 0; step < 400 && sc->at < sc->n; step++) {
        uint8_t op = take8(sc);
        seq_cmd c;
        memset(&c, 0, sizeof(c));
        c.op = (uint8_t)(1 + op % SEQ_OP_PARSE);
        const char *name = names[(op >> 5) % 6];
        if (c.op >= SEQ_OP_ACL_SETUSER) {
            name = acl_users[(op >> 5) % 4]; /* users, and "s" for a name that is no user */
        }
        c.name = name;
        c.name_len = strlen(name);
        c.min = takeNumber(sc);
        /* wraps at the int64 edges on purpose (min > max is a case too); in
         * uint64, where wrapping is defined */
        c.max = (int64_t)((uint64_t)c.min + (take8(sc) % 16));
        c.count = 1 + take8(sc) % 8;
        uint8_t flags = take8(sc);
        if (flags & 1) {
            const char *k = keys[(flags >> 1) % 3];
            c.key = k;
            c.key_len = strlen(k);
        }
        const char *t = c.op >= SEQ_OP_ACL_SETUSER ? acl_rules[(flags >> 3) % 8] : texts[(flags >> 3) % 3];
        c.text = t;
        c.text_len = strlen(t);
        if (flags & 0x40) {
            const char *u = acl_users[(flags >> 2) % 3];
            c.user = u; /* who asked: the ledger keeps it */
            c.user_len = strlen(u);
        }
        c.mode = (uint8_t)((flags >> 5) % 3);
        c.cache = c.mode == SEQ_MODE_CACHED ? 1 + (flags & 7) : 0;
        c.warn = flags & 0x10 ? (uint64_t)(take8(sc) % 8) : 0;
        /* CREATE: START; UNDELIVERED: a RESERVE's grant (term); ALLOCBLOCK:
         * the holder's first block */
        c.has_start = (flags & 0x80) != 0 &&
                      (c.op == SEQ_OP_CREATE || c.op == SEQ_OP_UNDELIVERED || c.op == SEQ_OP_ALLOCBLOCK);
        c.start = (int64_t)((uint64_t)c.min + (take8(sc) % 4));
        if (take8(sc) & 1) {
            c.has_not_before = true;
            c.not_before = clock + (int64_t)(take8(sc) % 8) * 100 - 300;
        }
        if (take8(sc) & 1) {
            c.has_not_after = true;
            c.not_after = clock + (int64_t)(take8(sc) % 8) * 100;
        }
        c.ttl_ms = (int64_t)(take8(sc) % 4) * 150;
        c.term = 1 + take8(sc) % 3;
        c.node = (uint64_t)(1 + take8(sc) % 2) << 16 | (take8(sc) % 2);
        uint8_t doc = take8(sc);
        if (doc & 1) {
            const char *f = formats[(doc >> 1) % 6];
            c.format = f;
            c.format_len = strlen(f);
        }
        const char *l = labels[(doc >> 4) % 3];
        c.label = l;
        c.label_len = strlen(l);
        if (c.op == SEQ_OP_CREATE && (doc & 0x40)) {
            c.period_kind = (uint8_t)(1 + (doc >> 7));
            c.tz_minutes = (int16_t)((int)(take8(sc) % 27) * 60 - 720);
        }
        if (c.op == SEQ_OP_PARSE) {
            const char *t2 = printed[(doc >> 1) % 6];
            c.text = t2;
            c.text_len = strlen(t2);
        }
        if (doc & 0x80 && c.op != SEQ_OP_CREATE) {
            c.has_period = true; /* this or an earlier period, or one to come */
            c.period_kind = (uint8_t)(1 + (doc & 1));
            c.period = (c.period_kind == 1 ? 1970 : 1970 * 12) + (int64_t)(take8(sc) % 4) - 1;
        }
        c.text_reply = (doc & 8) != 0 && c.op == SEQ_OP_NEXT;
        applyOne(s, &c);
        clock += take8(sc) % 4 == 0 ? 0 : (int64_t)(take8(sc) % 200);
        if (take8(sc) == 0xaa) {
            clock += 40LL * 24 * 3600 * 1000; /* into the next month: periods roll */
        }
        seq_tick(s, clock, 500);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* as a snapshot */
    seq_state *d = seq_snapshot_decode(data, size);
    if (d != NULL) {
        checkRoundTrip(d);
        seq_state_free(d);
    }
    /* as a log entry, applied to sequences of every mode */
    seq_state *s = seq_state_new();
    seq_cmd mk[] = {
        {.op = SEQ_OP_CREATE, .name = "s", .name_len = 1, .min = -20, .max = 60},
        {.op = SEQ_OP_CREATE, .name = "g", .name_len = 1, .min = -20, .max = 60,
         .mode = SEQ_MODE_GAPLESS, .warn = 5},
        {.op = SEQ_OP_CREATE, .name = "c", .name_len = 1, .min = -20, .max = 60,
         .mode = SEQ_MODE_CACHED, .cache = 4},
        {.op = SEQ_OP_CREATE, .name = "p", .name_len = 1, .min = -20, .max = 60,
         .mode = SEQ_MODE_GAPLESS, .period_kind = 2, .format = "{period}/{n:3}{check:luhn}",
         .format_len = 26, .label = "L1", .label_len = 2},
        {.op = SEQ_OP_CREATE, .name = "f", .name_len = 1, .min = -20, .max = 60,
         .format = "{n}{check:mod11:skip}", .format_len = 21},
    };
    for (size_t i = 0; i < sizeof(mk) / sizeof(mk[0]); i++) {
        applyOne(s, &mk[i]);
    }
    seq_reader r = {data, size, 0, false};
    codec_header h;
    if (codec_get_header(&r, &h) == 0) {
        seq_stamp stamp = codec_stamp(&h);
        seq_stamp_entry(s, &stamp);
        for (uint32_t i = 0; i < h.n_cmds; i++) {
            seq_cmd c;
            if (codec_get_cmd(&r, &c) != 0) {
                break;
            }
            if (c.op == SEQ_OP_NEXT || c.op == SEQ_OP_ALLOCBLOCK) {
                c.count = c.count % 64; /* keep one input's work small */
            }
            applyOne(s, &c);
        }
    }
    /* as a script */
    script sc = {data, size, 0};
    runScript(s, &sc);
    checkRoundTrip(s);
    seq_state_free(s);
    return 0;
}
