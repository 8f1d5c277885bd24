/* Unit tests for the sequence state machine (src/core/seq.c, src/core/seq_snapshot.c):
 * every command and every error it can return, the int64 edges, DROP history,
 * idempotency keys and their clock, snapshots (round trip, every truncation,
 * corruption), and a seeded random-operation test against an independent
 * reference model written here.
 *
 * The random test prints "seed=N"; set SEQ_TEST_SEED=N to replay one seed.
 * Without it, a fixed list of seeds runs (deterministic CI).
 *
 * Snapshot decoding always runs on a heap copy of exactly the bytes given,
 * so the ASan build catches any read past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seq.h"
#include "seq_bytes.h"
#include "seq_internal.h"

/* ---- helpers ----------------------------------------------------------- */

/* A new state whose stamps allow keys_max idempotency keys: set by a
 * stamp of an origin no test tick uses, so the first seq_tick starts the
 * clocks afresh. */
static seq_state *state_with_keys(size_t keys_max)
{
    seq_state *s = seq_state_new();
    seq_stamp st = {INT64_MIN, INT64_MIN, UINT64_MAX, 0, keys_max};
    seq_stamp_entry(s, &st);
    return s;
}

static seq_state *mk(size_t keys_max)
{
    return state_with_keys(keys_max);
}

static seq_cmd cmd_of(uint8_t op, const char *name)
{
    seq_cmd c;
    memset(&c, 0, sizeof(c));
    c.op = op;
    c.name = name;
    c.name_len = name == NULL ? 0 : strlen(name);
    c.count = 1;
    return c;
}

/* Applies c, frees the result, returns the status. */
static int apply_status(seq_state *s, const seq_cmd *c)
{
    seq_result r;
    int rv = seq_apply(s, c, &r);
    assert_int_equal(rv, r.status);
    assert_int_equal(r.op, c->op);
    seq_result_free(&r);
    return rv;
}

static int do_create(seq_state *s, const char *name, int64_t min, int64_t max)
{
    seq_cmd c = cmd_of(SEQ_OP_CREATE, name);
    c.min = min;
    c.max = max;
    return apply_status(s, &c);
}

static int do_create_start(seq_state *s, const char *name, int64_t min,
                           int64_t max, int64_t start)
{
    seq_cmd c = cmd_of(SEQ_OP_CREATE, name);
    c.min = min;
    c.max = max;
    c.has_start = true;
    c.start = start;
    return apply_status(s, &c);
}

static int do_addrange(seq_state *s, const char *name, int64_t min, int64_t max)
{
    seq_cmd c = cmd_of(SEQ_OP_ADDRANGE, name);
    c.min = min;
    c.max = max;
    return apply_status(s, &c);
}

static int do_drop(seq_state *s, const char *name)
{
    seq_cmd c = cmd_of(SEQ_OP_DROP, name);
    return apply_status(s, &c);
}

/* NEXT name [COUNT count] [KEY key]; the caller frees *r. */
static int do_next(seq_state *s, const char *name, uint32_t count,
                   const char *key, seq_result *r)
{
    seq_cmd c = cmd_of(SEQ_OP_NEXT, name);
    c.count = count;
    c.key = key;
    c.key_len = key == NULL ? 0 : strlen(key);
    int rv = seq_apply(s, &c, r);
    assert_int_equal(rv, r->status);
    assert_int_equal(r->op, SEQ_OP_NEXT);
    if (rv != SEQ_OK) {
        assert_int_equal(r->n_runs, 0);
    }
    return rv;
}

static int next_status(seq_state *s, const char *name, uint32_t count,
                       const char *key)
{
    seq_result r;
    int rv = do_next(s, name, count, key, &r);
    seq_result_free(&r);
    return rv;
}

/* NEXT name: must succeed with one number. */
static int64_t next_one(seq_state *s, const char *name)
{
    seq_result r;
    assert_int_equal(do_next(s, name, 1, NULL, &r), SEQ_OK);
    assert_int_equal(r.n_runs, 1);
    assert_true(r.runs[0].first == r.runs[0].last);
    int64_t v = r.runs[0].first;
    seq_result_free(&r);
    return v;
}

/* NEXT name KEY key: must succeed with one number. */
static int64_t next_key(seq_state *s, const char *name, const char *key)
{
    seq_result r;
    assert_int_equal(do_next(s, name, 1, key, &r), SEQ_OK);
    assert_int_equal(r.n_runs, 1);
    assert_true(r.runs[0].first == r.runs[0].last);
    int64_t v = r.runs[0].first;
    seq_result_free(&r);
    return v;
}

/* NEXT that must fail EXHAUSTED with `remaining` left. */
static void expect_exhausted(seq_state *s, const char *name, uint32_t count,
                             uint64_t remaining)
{
    seq_result r;
    assert_int_equal(do_next(s, name, count, NULL, &r), SEQ_ERR_EXHAUSTED);
    assert_int_equal(r.remaining, remaining);
    seq_result_free(&r);
}

/* r holds exactly the runs given as first/last pairs. */
static void expect_runs(const seq_result *r, size_t n, const int64_t *pairs)
{
    assert_int_equal(r->status, SEQ_OK);
    assert_int_equal(r->n_runs, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r->runs[i].first, pairs[2 * i]);
        assert_int_equal(r->runs[i].last, pairs[2 * i + 1]);
    }
}

/* Numbers covered by the runs of r (exact, in 128 bits). */
static unsigned __int128 runs_total(const seq_result *r)
{
    unsigned __int128 n = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        assert_true(r->runs[i].first <= r->runs[i].last);
        n += (unsigned __int128)((uint64_t)r->runs[i].last -
                                 (uint64_t)r->runs[i].first) + 1;
    }
    return n;
}

static void do_describe(seq_state *s, const char *name, seq_result *r)
{
    seq_cmd c = cmd_of(SEQ_OP_DESCRIBE, name);
    assert_int_equal(seq_apply(s, &c, r), SEQ_OK);
    assert_int_equal(r->name_len, strlen(name));
    assert_memory_equal(r->name, name, r->name_len + 1);
}

/* DESCRIBE and check next / issued / remaining. */
static void expect_describe(seq_state *s, const char *name, bool has_next,
                            int64_t next, uint64_t issued, uint64_t remaining)
{
    seq_result r;
    do_describe(s, name, &r);
    assert_int_equal(r.has_next, has_next);
    if (has_next) {
        assert_int_equal(r.next, next);
    }
    assert_int_equal(r.issued, issued);
    assert_int_equal(r.remaining, remaining);
    seq_result_free(&r);
}

static void do_list(seq_state *s, seq_result *r)
{
    seq_cmd c = cmd_of(SEQ_OP_LIST, NULL);
    assert_int_equal(seq_apply(s, &c, r), SEQ_OK);
}

/* A sorted set of int64, for "never issued twice" checks across commands. */
typedef struct numset {
    int64_t *v;
    size_t n, cap;
} numset;

static bool numset_has(const numset *ns, int64_t x)
{
    size_t lo = 0, hi = ns->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ns->v[mid] < x) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < ns->n && ns->v[lo] == x;
}

/* Adds x; fails the test if x was there already (a reissue). */
static void numset_add_new(numset *ns, int64_t x)
{
    size_t lo = 0, hi = ns->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ns->v[mid] < x) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < ns->n && ns->v[lo] == x) {
        fail_msg("number %" PRId64 " issued twice", x);
    }
    if (ns->n == ns->cap) {
        ns->cap = ns->cap == 0 ? 64 : ns->cap * 2;
        ns->v = realloc(ns->v, sizeof(*ns->v) * ns->cap);
        assert_non_null(ns->v);
    }
    memmove(ns->v + lo + 1, ns->v + lo, sizeof(*ns->v) * (ns->n - lo));
    ns->v[lo] = x;
    ns->n++;
}

static void numset_free(numset *ns)
{
    free(ns->v);
    memset(ns, 0, sizeof(*ns));
}

/* Adds every number of r's runs (small runs only) to ns, each new. */
static void numset_add_runs(numset *ns, const seq_result *r)
{
    for (size_t i = 0; i < r->n_runs; i++) {
        assert_true(r->runs[i].first <= r->runs[i].last);
        assert_true((uint64_t)r->runs[i].last - (uint64_t)r->runs[i].first < 100000);
        for (int64_t x = r->runs[i].first;; x++) {
            numset_add_new(ns, x);
            if (x == r->runs[i].last) {
                break;
            }
        }
    }
}

/* A snapshot round trip: encode, decode from an exact heap copy, check the
 * decoded state encodes to the same bytes. Frees s, returns the copy. */
static seq_state *roundtrip(seq_state *s, size_t keys_max)
{
    size_t len = 0;
    uint8_t *buf = seq_snapshot_encode(s, &len);
    assert_non_null(buf);
    (void)keys_max; /* the snapshot carries the limit of the last stamp */
    seq_state *d = seq_snapshot_decode(buf, len);
    assert_non_null(d);
    size_t len2 = 0;
    uint8_t *buf2 = seq_snapshot_encode(d, &len2);
    assert_non_null(buf2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(buf);
    free(buf2);
    seq_state_free(s);
    return d;
}

/* VOID name n reason: the status. */
static int do_void(seq_state *s, const char *name, int64_t n, const char *reason)
{
    seq_cmd c = cmd_of(SEQ_OP_VOID, name);
    c.min = n;
    c.text = reason;
    c.text_len = reason == NULL ? 0 : strlen(reason);
    return apply_status(s, &c);
}

/* GAPS name from to; the caller frees *r. */
static int do_gaps(seq_state *s, const char *name, int64_t from, int64_t to,
                   seq_result *r)
{
    seq_cmd c = cmd_of(SEQ_OP_GAPS, name);
    c.min = from;
    c.max = to;
    int rv = seq_apply(s, &c, r);
    assert_int_equal(rv, r->status);
    assert_int_equal(r->op, SEQ_OP_GAPS);
    if (rv != SEQ_OK) {
        assert_int_equal(r->n_ledger, 0);
    }
    return rv;
}

/* LOOKUP name n; the caller frees *r. */
static int do_lookup(seq_state *s, const char *name, int64_t n, seq_result *r)
{
    seq_cmd c = cmd_of(SEQ_OP_LOOKUP, name);
    c.min = n;
    int rv = seq_apply(s, &c, r);
    assert_int_equal(rv, r->status);
    assert_int_equal(r->op, SEQ_OP_LOOKUP);
    return rv;
}

/* LOOKUP must succeed with state st (and for a voided number, time and
 * reason). */
static void expect_lookup(seq_state *s, const char *name, int64_t n, int st,
                          int64_t time_ms, const char *reason)
{
    seq_result r;
    assert_int_equal(do_lookup(s, name, n, &r), SEQ_OK);
    assert_int_equal(r.state, st);
    if (st == SEQ_NUM_VOIDED) {
        assert_int_equal(r.time_ms, time_ms);
        assert_non_null(r.reason);
        assert_string_equal(r.reason, reason);
    } else {
        assert_null(r.reason);
    }
    seq_result_free(&r);
}

/* GAPS name from to must succeed with exactly the voided runs given as
 * first/last pairs, and more as given. */
static void expect_gaps(seq_state *s, const char *name, int64_t from, int64_t to,
                        size_t n, const int64_t *pairs, bool more)
{
    seq_result r;
    assert_int_equal(do_gaps(s, name, from, to, &r), SEQ_OK);
    assert_int_equal(r.n_ledger, n);
    assert_int_equal(r.more, more);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r.ledger[i].first, pairs[2 * i]);
        assert_int_equal(r.ledger[i].last, pairs[2 * i + 1]);
        assert_int_equal(r.ledger[i].state, SEQ_NUM_VOIDED);
        assert_non_null(r.ledger[i].reason);
    }
    seq_result_free(&r);
}

static char *repeat_char(char ch, size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memset(p, ch, n);
    p[n] = '\0';
    return p;
}

/* ---- CREATE ------------------------------------------------------------ */

static void test_create_basic(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(seq_count_live(s), 0);
    assert_int_equal(do_create(s, "orders", 1, 10), SEQ_OK);
    assert_int_equal(seq_count_live(s), 1);
    expect_describe(s, "orders", true, 1, 0, 10);
    assert_int_equal(next_one(s, "orders"), 1);
    assert_int_equal(next_one(s, "orders"), 2);
    /* min == max is a range of one number */
    assert_int_equal(do_create(s, "one", -7, -7), SEQ_OK);
    assert_int_equal(next_one(s, "one"), -7);
    expect_exhausted(s, "one", 1, 0);
    assert_int_equal(seq_count_live(s), 2);
    seq_state_free(s);
}

static void test_create_same_and_exists(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 1, 10), SEQ_OK);
    assert_int_equal(next_one(s, "a"), 1);
    /* the same definition again: OK, and it resets nothing */
    assert_int_equal(do_create(s, "a", 1, 10), SEQ_OK);
    assert_int_equal(next_one(s, "a"), 2);
    assert_int_equal(do_addrange(s, "a", 20, 30), SEQ_OK);
    assert_int_equal(do_create(s, "a", 1, 10), SEQ_OK);
    assert_int_equal(next_one(s, "a"), 3);
    /* any difference is EXISTS and changes nothing */
    assert_int_equal(do_create(s, "a", 0, 10), SEQ_ERR_EXISTS);
    assert_int_equal(do_create(s, "a", 1, 11), SEQ_ERR_EXISTS);
    assert_int_equal(do_create(s, "a", 20, 30), SEQ_ERR_EXISTS);
    assert_int_equal(do_create_start(s, "a", 1, 10, 5), SEQ_ERR_EXISTS);
    /* START min is the same definition as no START */
    assert_int_equal(do_create_start(s, "a", 1, 10, 1), SEQ_OK);
    assert_int_equal(seq_count_live(s), 1);
    expect_describe(s, "a", true, 4, 3, 7 + 11);
    assert_int_equal(next_one(s, "a"), 4);

    /* with START: the same START is the same definition */
    assert_int_equal(do_create_start(s, "b", 1, 10, 5), SEQ_OK);
    assert_int_equal(do_create_start(s, "b", 1, 10, 5), SEQ_OK);
    assert_int_equal(do_create_start(s, "b", 1, 10, 6), SEQ_ERR_EXISTS);
    assert_int_equal(do_create(s, "b", 1, 10), SEQ_ERR_EXISTS);
    assert_int_equal(next_one(s, "b"), 5);
    /* an invalid range is RANGE even for an existing name */
    assert_int_equal(do_create(s, "b", 10, 1), SEQ_ERR_RANGE);
    seq_state_free(s);
}

static void test_create_start(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create_start(s, "a", 1, 10, 7), SEQ_OK);
    expect_describe(s, "a", true, 7, 0, 4);
    assert_int_equal(next_one(s, "a"), 7);
    assert_int_equal(next_one(s, "a"), 8);
    seq_result r;
    assert_int_equal(do_next(s, "a", 2, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){9, 10});
    seq_result_free(&r);
    /* numbers below START are never issued */
    expect_exhausted(s, "a", 1, 0);

    assert_int_equal(do_create_start(s, "lo", 1, 10, 1), SEQ_OK);
    assert_int_equal(next_one(s, "lo"), 1);
    assert_int_equal(do_create_start(s, "hi", 1, 10, 10), SEQ_OK);
    assert_int_equal(next_one(s, "hi"), 10);
    expect_exhausted(s, "hi", 1, 0);
    /* START then ADDRANGE: the new range follows */
    assert_int_equal(do_addrange(s, "hi", -5, -4), SEQ_OK);
    assert_int_equal(next_one(s, "hi"), -5);

    /* START outside [min, max] */
    assert_int_equal(do_create_start(s, "bad", 1, 10, 0), SEQ_ERR_RANGE);
    assert_int_equal(do_create_start(s, "bad", 1, 10, 11), SEQ_ERR_RANGE);
    assert_int_equal(do_create_start(s, "bad", 1, 10, INT64_MIN), SEQ_ERR_RANGE);
    assert_int_equal(do_create_start(s, "bad", 1, 10, INT64_MAX), SEQ_ERR_RANGE);
    assert_int_equal(do_create_start(s, "bad", 10, 1, 5), SEQ_ERR_RANGE);
    assert_int_equal(next_status(s, "bad", 1, NULL), SEQ_ERR_NOSEQ);

    /* START at the int64 edges */
    assert_int_equal(do_create_start(s, "e1", INT64_MIN, INT64_MAX, INT64_MAX), SEQ_OK);
    assert_int_equal(next_one(s, "e1"), INT64_MAX);
    expect_exhausted(s, "e1", 1, 0);
    assert_int_equal(do_create_start(s, "e2", INT64_MIN, INT64_MIN + 1, INT64_MIN), SEQ_OK);
    assert_int_equal(next_one(s, "e2"), INT64_MIN);
    assert_int_equal(seq_count_live(s), 5);
    seq_state_free(s);
}

static void test_create_min_gt_max(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 2, 1), SEQ_ERR_RANGE);
    assert_int_equal(do_create(s, "a", INT64_MAX, INT64_MIN), SEQ_ERR_RANGE);
    assert_int_equal(do_create(s, "a", 0, -1), SEQ_ERR_RANGE);
    assert_int_equal(seq_count_live(s), 0);
    assert_int_equal(next_status(s, "a", 1, NULL), SEQ_ERR_NOSEQ);
    seq_result r;
    do_list(s, &r);
    assert_int_equal(r.n_names, 0);
    seq_result_free(&r);
    seq_state_free(s);
}

typedef struct bad_name {
    const char *p;
    size_t len;
} bad_name;

static void test_names(void **state)
{
    (void)state;
    char *n200 = repeat_char('n', 200);
    char *n201 = repeat_char('n', 201);
    const bad_name bad[] = {
        {"", 0},
        {NULL, 0},
        {n201, 201},
        {"a b", 3},
        {" a", 2},
        {"a\x01", 2},
        {"a\tb", 3},
        {"a\nb", 3},
        {"a\x7f", 2},
        {"\x1f", 1},
        {"caf\xc3\xa9", 5},
        {"a\x80", 2},
        {"\xff", 1},
        {"a\0b", 3},
    };
    const uint8_t ops[] = {SEQ_OP_CREATE, SEQ_OP_ADDRANGE, SEQ_OP_NEXT,
                           SEQ_OP_DESCRIBE, SEQ_OP_DROP};
    seq_state *s = mk(100);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(seq_name_valid(bad[i].p, bad[i].len));
        for (size_t j = 0; j < sizeof(ops); j++) {
            seq_cmd c = cmd_of(ops[j], NULL);
            c.name = bad[i].p;
            c.name_len = bad[i].len;
            c.min = 1;
            c.max = 10;
            assert_int_equal(apply_status(s, &c), SEQ_ERR_NAME);
        }
    }
    assert_int_equal(seq_count_live(s), 0);

    /* 200 bytes is the limit; every printable non-space byte is allowed */
    assert_true(seq_name_valid(n200, 200));
    assert_int_equal(do_create(s, n200, 1, 10), SEQ_OK);
    assert_int_equal(next_one(s, n200), 1);
    seq_result r;
    do_describe(s, n200, &r);
    assert_int_equal(r.name_len, 200);
    seq_result_free(&r);
    char all[95];
    for (int c = 0x21; c <= 0x7e; c++) {
        all[c - 0x21] = (char)c;
    }
    all[94] = '\0';
    assert_true(seq_name_valid(all, 94));
    assert_int_equal(do_create(s, all, 1, 10), SEQ_OK);
    assert_int_equal(do_create(s, "x", 1, 10), SEQ_OK);
    assert_int_equal(seq_count_live(s), 3);
    /* a name is compared by all its bytes: a prefix is another name */
    assert_int_equal(next_status(s, "nnnn", 1, NULL), SEQ_ERR_NOSEQ);
    free(n200);
    free(n201);
    seq_state_free(s);
}

/* LOOKUP name KEY k: the runs NEXT gave that key, nothing once it expired,
 * and nothing for a key of an earlier incarnation. */
static void test_lookup_key(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    seq_tick(s, 1000, 60000);
    assert_int_equal(do_create(s, "k", 1, 100), SEQ_OK);
    seq_cmd c = cmd_of(SEQ_OP_NEXT, "k");
    c.count = 3;
    c.key = "order-1";
    c.key_len = 7;
    seq_result r;
    assert_int_equal(seq_apply(s, &c, &r), SEQ_OK);
    seq_result_free(&r);
    seq_cmd q = cmd_of(SEQ_OP_LOOKUP_KEY, "k");
    q.key = "order-1";
    q.key_len = 7;
    assert_int_equal(seq_apply(s, &q, &r), SEQ_OK);
    assert_int_equal(r.n_runs, 1);
    assert_int_equal(r.runs[0].first, 1);
    assert_int_equal(r.runs[0].last, 3);
    assert_int_equal(r.time_ms, 1000);
    seq_result_free(&r);
    /* unknown key: no runs */
    q.key = "order-2";
    assert_int_equal(seq_apply(s, &q, &r), SEQ_OK);
    assert_int_equal(r.n_runs, 0);
    seq_result_free(&r);
    /* invalid key, missing sequence */
    q.key = "has space";
    q.key_len = 9;
    assert_int_equal(seq_apply(s, &q, &r), SEQ_ERR_KEY);
    seq_result_free(&r);
    q.key = "order-1";
    q.key_len = 7;
    q.name = "nope";
    q.name_len = 4;
    assert_int_equal(seq_apply(s, &q, &r), SEQ_ERR_NOSEQ);
    seq_result_free(&r);
    q.name = "k";
    q.name_len = 1;
    /* after DROP and CREATE the old key is gone */
    assert_int_equal(do_drop(s, "k"), SEQ_OK);
    assert_int_equal(do_create(s, "k", 1, 100), SEQ_OK);
    assert_int_equal(seq_apply(s, &q, &r), SEQ_OK);
    assert_int_equal(r.n_runs, 0);
    seq_result_free(&r);
    /* expiry */
    assert_int_equal(seq_apply(s, &c, &r), SEQ_OK);
    seq_result_free(&r);
    seq_tick(s, 1000 + 60000, 60000);
    assert_int_equal(seq_apply(s, &q, &r), SEQ_OK);
    assert_int_equal(r.n_runs, 0);
    seq_result_free(&r);
    seq_state_free(s);
}

static void test_bad_op_and_status_text(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 1, 10), SEQ_OK);
    seq_cmd c = cmd_of(0, "a");
    assert_int_equal(apply_status(s, &c), SEQ_ERR_BADCMD);
    c.op = SEQ_OP_PARSE + 1;
    assert_int_equal(apply_status(s, &c), SEQ_ERR_BADCMD);
    c.op = 255;
    assert_int_equal(apply_status(s, &c), SEQ_ERR_BADCMD);
    assert_int_equal(next_one(s, "a"), 1);
    for (int st = SEQ_OK; st <= SEQ_STATUS_LAST; st++) {
        const char *t = seq_status_text(st);
        assert_non_null(t);
        assert_true(t[0] >= 'A' && t[0] <= 'Z');
        for (int o = SEQ_OK; o < st; o++) {
            assert_string_not_equal(t, seq_status_text(o));
        }
    }
    assert_string_equal(seq_status_text(SEQ_OK), "OK");
    assert_true(strncmp(seq_status_text(SEQ_ERR_EXHAUSTED), "EXHAUSTED ", 10) == 0);
    assert_true(strncmp(seq_status_text(SEQ_ERR_NOSEQ), "NOSEQ ", 6) == 0);
    assert_true(strncmp(seq_status_text(SEQ_ERR_EXISTS), "EXISTS ", 7) == 0);
    assert_true(strncmp(seq_status_text(-1), "ERR ", 4) == 0);
    assert_true(strncmp(seq_status_text(1000), "ERR ", 4) == 0);
    seq_state_free(s);
}

static void test_sequences_max(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    char name[32];
    for (size_t i = 0; i < SEQ_SEQUENCES_MAX; i++) {
        snprintf(name, sizeof(name), "s%06zu", i);
        assert_int_equal(do_create(s, name, 1, 2), SEQ_OK);
    }
    assert_int_equal(seq_count_live(s), SEQ_SEQUENCES_MAX);
    assert_int_equal(do_create(s, "one-more", 1, 2), SEQ_ERR_TOO_MANY);
    /* a tombstone still counts: dropping frees no slot for a new name */
    assert_int_equal(do_drop(s, "s000000"), SEQ_OK);
    assert_int_equal(do_create(s, "one-more", 1, 2), SEQ_ERR_TOO_MANY);
    /* but the dropped name itself can be created again */
    assert_int_equal(do_create(s, "s000000", 1, 2), SEQ_OK);
    assert_int_equal(seq_count_live(s), SEQ_SEQUENCES_MAX);
    seq_result r;
    do_list(s, &r);
    assert_int_equal(r.n_names, SEQ_SEQUENCES_MAX);
    for (size_t i = 1; i < r.n_names; i++) {
        assert_true(strcmp(r.names[i - 1], r.names[i]) < 0);
    }
    seq_result_free(&r);
    seq_state_free(s);
}

/* ---- NEXT -------------------------------------------------------------- */

static void test_next_sequential(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", -3, 3), SEQ_OK);
    for (int64_t want = -3; want <= 3; want++) {
        assert_int_equal(next_one(s, "a"), want);
    }
    expect_exhausted(s, "a", 1, 0);
    expect_exhausted(s, "a", 5, 0);
    expect_describe(s, "a", false, 0, 7, 0);
    seq_state_free(s);
}

static void test_next_count_all_or_nothing(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 1, 10), SEQ_OK);
    expect_exhausted(s, "a", 11, 10);
    expect_exhausted(s, "a", SEQ_COUNT_MAX, 10);
    expect_describe(s, "a", true, 1, 0, 10);
    seq_result r;
    assert_int_equal(do_next(s, "a", 3, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){1, 3});
    seq_result_free(&r);
    expect_exhausted(s, "a", 8, 7);
    assert_int_equal(do_next(s, "a", 7, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){4, 10});
    seq_result_free(&r);
    expect_exhausted(s, "a", 1, 0);
    expect_describe(s, "a", false, 0, 10, 0);
    /* an exhausted NEXT with a key records no key */
    assert_int_equal(next_status(s, "a", 1, "k"), SEQ_ERR_EXHAUSTED);
    assert_int_equal(seq_count_keys(s), 0);
    seq_state_free(s);
}

static void test_next_count_crosses_ranges(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 1, 3), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", 10, 12), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", 20, 25), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", 4, 4), SEQ_OK); /* adjacent to the first */
    seq_result r;
    assert_int_equal(do_next(s, "a", 8, NULL, &r), SEQ_OK);
    expect_runs(&r, 3, (int64_t[]){1, 3, 10, 12, 20, 21});
    assert_true(runs_total(&r) == 8);
    seq_result_free(&r);
    expect_exhausted(s, "a", 6, 5);
    assert_int_equal(do_next(s, "a", 5, NULL, &r), SEQ_OK);
    expect_runs(&r, 2, (int64_t[]){22, 25, 4, 4});
    seq_result_free(&r);
    expect_exhausted(s, "a", 1, 0);
    /* crossing several one-number ranges at once */
    assert_int_equal(do_create(s, "b", 0, 0), SEQ_OK);
    for (int64_t i = 1; i < 10; i++) {
        assert_int_equal(do_addrange(s, "b", i * 10, i * 10), SEQ_OK);
    }
    assert_int_equal(do_next(s, "b", 10, NULL, &r), SEQ_OK);
    assert_int_equal(r.n_runs, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(r.runs[i].first, (int64_t)i * 10);
        assert_int_equal(r.runs[i].last, (int64_t)i * 10);
    }
    seq_result_free(&r);
    seq_state_free(s);
}

static void test_next_count_limits(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 0, 3 * SEQ_COUNT_MAX), SEQ_OK);
    assert_int_equal(next_status(s, "a", 0, NULL), SEQ_ERR_COUNT);
    assert_int_equal(next_status(s, "a", SEQ_COUNT_MAX + 1, NULL), SEQ_ERR_COUNT);
    assert_int_equal(next_status(s, "a", UINT32_MAX, NULL), SEQ_ERR_COUNT);
    assert_int_equal(next_status(s, "a", 0, "k"), SEQ_ERR_COUNT);
    /* COUNT is checked before the name is looked up */
    assert_int_equal(next_status(s, "missing", 0, NULL), SEQ_ERR_COUNT);
    expect_describe(s, "a", true, 0, 0, 3 * SEQ_COUNT_MAX + 1);
    seq_result r;
    assert_int_equal(do_next(s, "a", SEQ_COUNT_MAX, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){0, SEQ_COUNT_MAX - 1});
    seq_result_free(&r);
    assert_int_equal(do_next(s, "a", SEQ_COUNT_MAX, "big", &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){SEQ_COUNT_MAX, 2 * SEQ_COUNT_MAX - 1});
    seq_result_free(&r);
    expect_describe(s, "a", true, 2 * SEQ_COUNT_MAX, 2 * SEQ_COUNT_MAX, SEQ_COUNT_MAX + 1);
    seq_state_free(s);
}

static void test_next_noseq(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(next_status(s, "nope", 1, NULL), SEQ_ERR_NOSEQ);
    assert_int_equal(next_status(s, "nope", 5, "k"), SEQ_ERR_NOSEQ);
    assert_int_equal(do_addrange(s, "nope", 1, 2), SEQ_ERR_NOSEQ);
    seq_cmd c = cmd_of(SEQ_OP_DESCRIBE, "nope");
    assert_int_equal(apply_status(s, &c), SEQ_ERR_NOSEQ);
    assert_int_equal(do_drop(s, "nope"), SEQ_ERR_NOSEQ);
    assert_int_equal(seq_count_keys(s), 0);
    assert_int_equal(seq_count_live(s), 0);
    seq_state_free(s);
}

/* ---- ADDRANGE ---------------------------------------------------------- */

static void test_addrange_overlap_shapes(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 10, 20), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", 100, 200), SEQ_OK);
    const int64_t overlaps[][2] = {
        {12, 15},   /* inside */
        {10, 20},   /* equal */
        {5, 25},    /* covering */
        {5, 10},    /* touching the low end */
        {20, 30},   /* touching the high end */
        {5, 12},    /* across the low end */
        {15, 25},   /* across the high end */
        {10, 10},   /* its first number */
        {20, 20},   /* its last number */
        {150, 150}, /* inside the second range */
        {0, 1000},  /* covering both */
        {20, 100},  /* bridging both */
        {INT64_MIN, INT64_MAX},
        {INT64_MIN, 10},
        {200, INT64_MAX},
    };
    for (size_t i = 0; i < sizeof(overlaps) / sizeof(overlaps[0]); i++) {
        assert_int_equal(do_addrange(s, "a", overlaps[i][0], overlaps[i][1]),
                         SEQ_ERR_OVERLAP);
    }
    assert_int_equal(do_addrange(s, "a", 30, 20), SEQ_ERR_RANGE);
    seq_result r;
    do_describe(s, "a", &r);
    assert_int_equal(r.n_ranges, 2);
    seq_result_free(&r);
    /* adjacent ranges do not overlap */
    assert_int_equal(do_addrange(s, "a", 9, 9), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", 21, 99), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", 201, INT64_MAX), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", INT64_MIN, 8), SEQ_OK);
    /* now every number is in a range: anything overlaps */
    assert_int_equal(do_addrange(s, "a", 0, 0), SEQ_ERR_OVERLAP);
    do_describe(s, "a", &r);
    assert_int_equal(r.n_ranges, 6);
    const int64_t want[6][2] = {{10, 20}, {100, 200}, {9, 9}, {21, 99},
                                {201, INT64_MAX}, {INT64_MIN, 8}};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(r.ranges[i].min, want[i][0]);
        assert_int_equal(r.ranges[i].max, want[i][1]);
    }
    assert_int_equal(r.remaining, UINT64_MAX);
    seq_result_free(&r);
    seq_state_free(s);
}

static void test_addrange_revives_exhausted(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 1, 2), SEQ_OK);
    assert_int_equal(next_one(s, "a"), 1);
    assert_int_equal(next_one(s, "a"), 2);
    expect_exhausted(s, "a", 1, 0);
    expect_describe(s, "a", false, 0, 2, 0);
    assert_int_equal(do_addrange(s, "a", 50, 51), SEQ_OK);
    expect_describe(s, "a", true, 50, 2, 2);
    assert_int_equal(next_one(s, "a"), 50);
    assert_int_equal(next_one(s, "a"), 51);
    expect_exhausted(s, "a", 1, 0);
    /* a range below the old ones, added after exhaustion */
    assert_int_equal(do_addrange(s, "a", -10, -10), SEQ_OK);
    assert_int_equal(next_one(s, "a"), -10);
    expect_exhausted(s, "a", 1, 0);
    seq_state_free(s);
}

static void test_addrange_order_added(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 100, 105), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", 1, 5), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", 50, 52), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", -20, -19), SEQ_OK);
    assert_int_equal(next_one(s, "a"), 100);
    seq_result r;
    assert_int_equal(do_next(s, "a", 5, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){101, 105});
    seq_result_free(&r);
    assert_int_equal(next_one(s, "a"), 1);
    assert_int_equal(do_next(s, "a", 7, NULL, &r), SEQ_OK);
    expect_runs(&r, 2, (int64_t[]){2, 5, 50, 52});
    seq_result_free(&r);
    assert_int_equal(do_next(s, "a", 2, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){-20, -19});
    seq_result_free(&r);
    expect_exhausted(s, "a", 1, 0);
    seq_state_free(s);
}

static void test_addrange_limit(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 0, 0), SEQ_OK);
    for (int64_t i = 1; i < SEQ_RANGES_MAX; i++) {
        /* descending and not adjacent: each a separate one-number range */
        assert_int_equal(do_addrange(s, "a", -2 * i, -2 * i), SEQ_OK);
    }
    assert_int_equal(do_addrange(s, "a", 10, 20), SEQ_ERR_TOO_MANY);
    /* an overlap is still reported as such */
    assert_int_equal(do_addrange(s, "a", 0, 0), SEQ_ERR_OVERLAP);
    expect_describe(s, "a", true, 0, 0, SEQ_RANGES_MAX);
    seq_result r;
    assert_int_equal(do_next(s, "a", SEQ_RANGES_MAX, NULL, &r), SEQ_OK);
    assert_int_equal(r.n_runs, SEQ_RANGES_MAX);
    for (size_t i = 0; i < SEQ_RANGES_MAX; i++) {
        assert_int_equal(r.runs[i].first, -2 * (int64_t)i);
        assert_int_equal(r.runs[i].last, -2 * (int64_t)i);
    }
    seq_result_free(&r);
    expect_exhausted(s, "a", 1, 0);
    /* still full after exhaustion */
    assert_int_equal(do_addrange(s, "a", 10, 20), SEQ_ERR_TOO_MANY);
    s = roundtrip(s, 100);
    assert_int_equal(do_addrange(s, "a", 10, 20), SEQ_ERR_TOO_MANY);
    /* a re-created name starts with one range again */
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(do_create(s, "a", 1, 1), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", 10, 20), SEQ_OK);
    assert_int_equal(next_one(s, "a"), 1);
    assert_int_equal(next_one(s, "a"), 10);
    seq_state_free(s);
}

/* ---- int64 edges ------------------------------------------------------- */

static void test_int64_max_edge(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", INT64_MAX - 2, INT64_MAX), SEQ_OK);
    expect_describe(s, "a", true, INT64_MAX - 2, 0, 3);
    assert_int_equal(next_one(s, "a"), INT64_MAX - 2);
    assert_int_equal(next_one(s, "a"), INT64_MAX - 1);
    expect_describe(s, "a", true, INT64_MAX, 2, 1);
    assert_int_equal(next_one(s, "a"), INT64_MAX);
    expect_exhausted(s, "a", 1, 0);
    expect_exhausted(s, "a", 2, 0);
    expect_describe(s, "a", false, 0, 3, 0);
    /* the one-number range at the very top */
    assert_int_equal(do_create(s, "b", INT64_MAX, INT64_MAX), SEQ_OK);
    assert_int_equal(next_one(s, "b"), INT64_MAX);
    expect_exhausted(s, "b", 1, 0);
    /* DROP burns up to INT64_MAX; a new definition there has nothing left */
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(do_create(s, "a", INT64_MAX - 5, INT64_MAX), SEQ_OK);
    expect_describe(s, "a", true, INT64_MAX - 5, 0, 3);
    seq_result r;
    assert_int_equal(do_next(s, "a", 3, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){INT64_MAX - 5, INT64_MAX - 3});
    seq_result_free(&r);
    expect_exhausted(s, "a", 1, 0);
    seq_state_free(s);
}

static void test_int64_min_edge(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", INT64_MIN, INT64_MIN + 2), SEQ_OK);
    expect_describe(s, "a", true, INT64_MIN, 0, 3);
    assert_int_equal(next_one(s, "a"), INT64_MIN);
    seq_result r;
    assert_int_equal(do_next(s, "a", 2, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){INT64_MIN + 1, INT64_MIN + 2});
    seq_result_free(&r);
    expect_exhausted(s, "a", 1, 0);
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(do_create(s, "a", INT64_MIN, INT64_MIN + 2), SEQ_OK);
    expect_describe(s, "a", false, 0, 0, 0);
    expect_exhausted(s, "a", 1, 0);
    assert_int_equal(do_addrange(s, "a", INT64_MIN + 3, INT64_MIN + 3), SEQ_OK);
    assert_int_equal(next_one(s, "a"), INT64_MIN + 3);
    seq_state_free(s);
}

static void test_int64_full_range(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "all", INT64_MIN, INT64_MAX), SEQ_OK);
    seq_result r;
    do_describe(s, "all", &r);
    assert_int_equal(r.n_ranges, 1);
    assert_int_equal(r.ranges[0].min, INT64_MIN);
    assert_int_equal(r.ranges[0].max, INT64_MAX);
    assert_true(r.has_next);
    assert_int_equal(r.next, INT64_MIN);
    assert_int_equal(r.issued, 0);
    assert_int_equal(r.remaining, UINT64_MAX); /* 2^64, saturated */
    seq_result_free(&r);
    assert_int_equal(next_one(s, "all"), INT64_MIN);
    expect_describe(s, "all", true, INT64_MIN + 1, 1, UINT64_MAX); /* 2^64 - 1 */
    assert_int_equal(do_next(s, "all", SEQ_COUNT_MAX, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){INT64_MIN + 1, INT64_MIN + SEQ_COUNT_MAX});
    seq_result_free(&r);
    expect_describe(s, "all", true, INT64_MIN + SEQ_COUNT_MAX + 1,
                    SEQ_COUNT_MAX + 1, UINT64_MAX - SEQ_COUNT_MAX);
    assert_int_equal(do_addrange(s, "all", 0, 0), SEQ_ERR_OVERLAP);
    /* DROP and re-CREATE: continues after what was issued */
    assert_int_equal(do_drop(s, "all"), SEQ_OK);
    assert_int_equal(do_create(s, "all", INT64_MIN, INT64_MAX), SEQ_OK);
    expect_describe(s, "all", true, INT64_MIN + SEQ_COUNT_MAX + 1, 0,
                    UINT64_MAX - SEQ_COUNT_MAX);
    assert_int_equal(next_one(s, "all"), INT64_MIN + SEQ_COUNT_MAX + 1);
    /* START at INT64_MAX: one number, and a DROP burns the whole domain */
    assert_int_equal(do_create_start(s, "top", INT64_MIN, INT64_MAX, INT64_MAX), SEQ_OK);
    expect_describe(s, "top", true, INT64_MAX, 0, 1);
    assert_int_equal(next_one(s, "top"), INT64_MAX);
    expect_exhausted(s, "top", 1, 0);
    assert_int_equal(do_drop(s, "top"), SEQ_OK);
    assert_int_equal(do_create(s, "top", INT64_MIN, INT64_MAX), SEQ_OK);
    expect_describe(s, "top", false, 0, 0, 0);
    expect_exhausted(s, "top", 1, 0);
    s = roundtrip(s, 100);
    expect_describe(s, "top", false, 0, 0, 0);
    assert_int_equal(next_one(s, "all"), INT64_MIN + SEQ_COUNT_MAX + 2);
    seq_state_free(s);
}

static void test_count_past_int64_max_refused(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", INT64_MAX - 4, INT64_MAX), SEQ_OK);
    seq_result r;
    assert_int_equal(do_next(s, "a", 2, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){INT64_MAX - 4, INT64_MAX - 3});
    seq_result_free(&r);
    expect_exhausted(s, "a", 4, 3);
    expect_exhausted(s, "a", SEQ_COUNT_MAX, 3);
    assert_int_equal(next_status(s, "a", 4, "k"), SEQ_ERR_EXHAUSTED);
    assert_int_equal(seq_count_keys(s), 0);
    expect_describe(s, "a", true, INT64_MAX - 2, 2, 3);
    assert_int_equal(do_next(s, "a", 3, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){INT64_MAX - 2, INT64_MAX});
    seq_result_free(&r);
    expect_exhausted(s, "a", 1, 0);
    /* the same across a range change: [MAX-1, MAX] then [0, 0] */
    assert_int_equal(do_create(s, "b", INT64_MAX - 1, INT64_MAX), SEQ_OK);
    assert_int_equal(do_addrange(s, "b", 0, 0), SEQ_OK);
    expect_exhausted(s, "b", 4, 3);
    assert_int_equal(do_next(s, "b", 3, NULL, &r), SEQ_OK);
    expect_runs(&r, 2, (int64_t[]){INT64_MAX - 1, INT64_MAX, 0, 0});
    seq_result_free(&r);
    seq_state_free(s);
}

/* ---- DROP and re-CREATE ------------------------------------------------ */

static void test_drop_recreate_never_reissues(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    numset seen = {0};
    seq_result r;

    assert_int_equal(do_create(s, "a", 1, 10), SEQ_OK);
    for (int i = 0; i < 3; i++) {
        numset_add_new(&seen, next_one(s, "a"));
    }
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(next_status(s, "a", 1, NULL), SEQ_ERR_NOSEQ);
    assert_int_equal(do_create(s, "a", 1, 10), SEQ_OK);
    expect_describe(s, "a", true, 4, 0, 7);
    assert_int_equal(next_one(s, "a"), 4);
    numset_add_new(&seen, 4);

    /* a new, overlapping definition: skips every burned number */
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(do_create(s, "a", 0, 6), SEQ_OK);
    expect_describe(s, "a", true, 0, 0, 3);
    assert_int_equal(do_next(s, "a", 3, NULL, &r), SEQ_OK);
    expect_runs(&r, 2, (int64_t[]){0, 0, 5, 6});
    numset_add_runs(&seen, &r);
    seq_result_free(&r);
    expect_exhausted(s, "a", 1, 0);

    /* ranges that straddle the burned [0, 6] */
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(do_create(s, "a", -3, 2), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", 5, 9), SEQ_OK);
    assert_int_equal(do_next(s, "a", 6, NULL, &r), SEQ_OK);
    expect_runs(&r, 2, (int64_t[]){-3, -1, 7, 9});
    numset_add_runs(&seen, &r);
    seq_result_free(&r);

    /* with START inside burned numbers */
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(do_create_start(s, "a", -10, 20, 2), SEQ_OK);
    expect_describe(s, "a", true, 10, 0, 11);
    assert_int_equal(do_next(s, "a", 4, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){10, 13});
    numset_add_runs(&seen, &r);
    seq_result_free(&r);

    /* the START prefix [-10, 1] was burned with the rest at the DROP */
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(do_create(s, "a", -10, 30), SEQ_OK);
    assert_int_equal(do_next(s, "a", 9, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){14, 22});
    numset_add_runs(&seen, &r);
    seq_result_free(&r);

    /* many more cycles, each issuing a little, all distinct */
    for (int cycle = 0; cycle < 50; cycle++) {
        assert_int_equal(do_drop(s, "a"), SEQ_OK);
        int64_t lo = -20 + (cycle * 7) % 40;
        assert_int_equal(do_create(s, "a", lo, lo + 200), SEQ_OK);
        int rv = do_next(s, "a", 1 + (uint32_t)(cycle % 5), cycle % 2 ? "k" : NULL, &r);
        assert_int_equal(rv, SEQ_OK);
        numset_add_runs(&seen, &r);
        seq_result_free(&r);
    }
    /* the other names are untouched by a's history */
    assert_int_equal(do_create(s, "b", 1, 10), SEQ_OK);
    assert_int_equal(next_one(s, "b"), 1);
    assert_true(numset_has(&seen, 1));
    s = roundtrip(s, 100);
    /* after a snapshot, still no reissue */
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(do_create(s, "a", -100, 300), SEQ_OK);
    for (;;) {
        int rv = do_next(s, "a", 7, NULL, &r);
        if (rv == SEQ_ERR_EXHAUSTED) {
            seq_result_free(&r);
            break;
        }
        assert_int_equal(rv, SEQ_OK);
        numset_add_runs(&seen, &r);
        seq_result_free(&r);
    }
    /* everything issued lies in [-100, 300]; the rest was less than 7 */
    numset_free(&seen);
    seq_state_free(s);
}

static void test_drop_start_prefix(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    /* START says the numbers below it were issued elsewhere: a DROP keeps
     * them burned along with what this incarnation issued. */
    assert_int_equal(do_create_start(s, "a", 1, 100, 50), SEQ_OK);
    assert_int_equal(next_one(s, "a"), 50);
    assert_int_equal(next_one(s, "a"), 51);
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(next_one(s, "a"), 52);
    /* START with nothing issued: the prefix is burned too */
    assert_int_equal(do_create_start(s, "b", 1, 100, 10), SEQ_OK);
    assert_int_equal(do_drop(s, "b"), SEQ_OK);
    assert_int_equal(do_create(s, "b", 1, 100), SEQ_OK);
    assert_int_equal(next_one(s, "b"), 10);
    /* nothing issued at all, no START: nothing burned */
    assert_int_equal(do_create(s, "c", 1, 100), SEQ_OK);
    assert_int_equal(do_drop(s, "c"), SEQ_OK);
    assert_int_equal(do_create(s, "c", 1, 100), SEQ_OK);
    assert_int_equal(next_one(s, "c"), 1);
    seq_state_free(s);
}

static void test_drop_missing_and_list(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_drop(s, "a"), SEQ_ERR_NOSEQ);
    assert_int_equal(do_create(s, "a", 1, 10), SEQ_OK);
    assert_int_equal(do_create(s, "b", 1, 10), SEQ_OK);
    assert_int_equal(do_create(s, "c", 1, 10), SEQ_OK);
    assert_int_equal(do_drop(s, "b"), SEQ_OK);
    assert_int_equal(do_drop(s, "b"), SEQ_ERR_NOSEQ);
    assert_int_equal(seq_count_live(s), 2);
    seq_result r;
    do_list(s, &r);
    assert_int_equal(r.n_names, 2);
    assert_string_equal(r.names[0], "a");
    assert_string_equal(r.names[1], "c");
    seq_result_free(&r);
    assert_int_equal(do_addrange(s, "b", 20, 30), SEQ_ERR_NOSEQ);
    seq_cmd c = cmd_of(SEQ_OP_DESCRIBE, "b");
    assert_int_equal(apply_status(s, &c), SEQ_ERR_NOSEQ);
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(do_drop(s, "c"), SEQ_OK);
    do_list(s, &r);
    assert_int_equal(r.n_names, 0);
    seq_result_free(&r);
    assert_int_equal(seq_count_live(s), 0);
    assert_int_equal(do_create(s, "b", 1, 10), SEQ_OK);
    do_list(s, &r);
    assert_int_equal(r.n_names, 1);
    assert_string_equal(r.names[0], "b");
    seq_result_free(&r);
    seq_state_free(s);
}

static void test_list_sorted(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    const char *names[] = {"b", "a", "C", "a1", "_", "~", "!", "a0", "B", "aa"};
    const char *sorted[] = {"!", "B", "C", "_", "a", "a0", "a1", "aa", "b", "~"};
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(do_create(s, names[i], 1, 10), SEQ_OK);
    }
    seq_result r;
    do_list(s, &r);
    assert_int_equal(r.n_names, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_string_equal(r.names[i], sorted[i]);
    }
    seq_result_free(&r);
    /* a LIST ignores any name in the command */
    seq_cmd c = cmd_of(SEQ_OP_LIST, "whatever");
    assert_int_equal(seq_apply(s, &c, &r), SEQ_OK);
    assert_int_equal(r.n_names, 10);
    seq_result_free(&r);
    seq_state_free(s);
}

/* DROP refuses (and changes nothing) when the history would pass
 * SEQ_BURNED_MAX intervals. */
static void test_drop_history_limit(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    const int per = 820; /* one-number ranges per incarnation */
    int64_t base = 0;
    int rv = SEQ_OK;
    int cycles = 0;
    for (; cycles < 6; cycles++) {
        assert_int_equal(do_create(s, "a", base, base), SEQ_OK);
        for (int i = 1; i < per; i++) {
            assert_int_equal(do_addrange(s, "a", base + 2 * i, base + 2 * i), SEQ_OK);
        }
        seq_result r;
        assert_int_equal(do_next(s, "a", (uint32_t)per, NULL, &r), SEQ_OK);
        assert_int_equal(r.n_runs, per);
        seq_result_free(&r);
        rv = do_drop(s, "a");
        if (rv != SEQ_OK) {
            break;
        }
        base += 2 * per;
    }
    assert_int_equal(rv, SEQ_ERR_TOO_MANY);
    assert_int_equal(cycles, SEQ_BURNED_MAX / per); /* 4 drops fit, the 5th does not */
    /* the refused DROP changed nothing */
    assert_int_equal(seq_count_live(s), 1);
    expect_describe(s, "a", false, 0, (uint64_t)per, 0);
    assert_int_equal(do_addrange(s, "a", -5, -5), SEQ_OK);
    assert_int_equal(next_one(s, "a"), -5);
    s = roundtrip(s, 100);
    assert_int_equal(do_drop(s, "a"), SEQ_ERR_TOO_MANY);
    seq_state_free(s);
}

/* ---- KEY --------------------------------------------------------------- */

static void test_key_same_numbers(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    seq_tick(s, 1000, 60000);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(next_key(s, "a", "k1"), 1);
    assert_int_equal(next_key(s, "a", "k1"), 1);
    assert_int_equal(next_one(s, "a"), 2);
    assert_int_equal(next_key(s, "a", "k1"), 1);
    assert_int_equal(seq_count_keys(s), 1);
    /* with COUNT, across a range change */
    assert_int_equal(do_create(s, "b", 1, 3), SEQ_OK);
    assert_int_equal(do_addrange(s, "b", 10, 20), SEQ_OK);
    assert_int_equal(next_one(s, "b"), 1);
    seq_result r1, r2;
    assert_int_equal(do_next(s, "b", 5, "batch-1", &r1), SEQ_OK);
    expect_runs(&r1, 2, (int64_t[]){2, 3, 10, 12});
    assert_int_equal(do_next(s, "b", 5, "batch-1", &r2), SEQ_OK);
    expect_runs(&r2, 2, (int64_t[]){2, 3, 10, 12});
    seq_result_free(&r1);
    seq_result_free(&r2);
    /* a replay issues nothing */
    expect_describe(s, "b", true, 13, 6, 8);
    /* a replay works even when the sequence is now exhausted */
    assert_int_equal(do_next(s, "b", 8, NULL, &r1), SEQ_OK);
    seq_result_free(&r1);
    expect_exhausted(s, "b", 1, 0);
    assert_int_equal(do_next(s, "b", 5, "batch-1", &r2), SEQ_OK);
    expect_runs(&r2, 2, (int64_t[]){2, 3, 10, 12});
    seq_result_free(&r2);
    assert_int_equal(seq_count_keys(s), 2);
    /* and after a snapshot */
    s = roundtrip(s, 100);
    assert_int_equal(next_key(s, "a", "k1"), 1);
    assert_int_equal(do_next(s, "b", 5, "batch-1", &r2), SEQ_OK);
    expect_runs(&r2, 2, (int64_t[]){2, 3, 10, 12});
    seq_result_free(&r2);
    seq_state_free(s);
}

static void test_key_different_keys(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(next_key(s, "a", "x"), 1);
    assert_int_equal(next_key(s, "a", "y"), 2);
    assert_int_equal(next_key(s, "a", "X"), 3); /* keys are case-sensitive */
    assert_int_equal(next_key(s, "a", "xx"), 4);
    assert_int_equal(next_key(s, "a", "x"), 1);
    assert_int_equal(next_key(s, "a", "y"), 2);
    assert_int_equal(seq_count_keys(s), 4);
    seq_state_free(s);
}

static void test_key_reused_count(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    seq_result r;
    assert_int_equal(do_next(s, "a", 3, "k", &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){1, 3});
    seq_result_free(&r);
    assert_int_equal(next_status(s, "a", 1, "k"), SEQ_ERR_KEY_REUSED);
    assert_int_equal(next_status(s, "a", 4, "k"), SEQ_ERR_KEY_REUSED);
    assert_int_equal(next_status(s, "a", 2, "k"), SEQ_ERR_KEY_REUSED);
    expect_describe(s, "a", true, 4, 3, 97);
    assert_int_equal(do_next(s, "a", 3, "k", &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){1, 3});
    seq_result_free(&r);
    /* a single NEXT then a COUNT with the same key */
    assert_int_equal(next_key(s, "a", "single"), 4);
    assert_int_equal(next_status(s, "a", 2, "single"), SEQ_ERR_KEY_REUSED);
    assert_int_equal(seq_count_keys(s), 2);
    seq_state_free(s);
}

static void test_key_scope(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(do_create(s, "b", 1, 100), SEQ_OK);
    seq_result r;
    assert_int_equal(do_next(s, "b", 49, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    /* the same key on another sequence is another key */
    assert_int_equal(next_key(s, "a", "k"), 1);
    assert_int_equal(next_key(s, "b", "k"), 50);
    assert_int_equal(next_key(s, "a", "k"), 1);
    assert_int_equal(next_key(s, "b", "k"), 50);
    expect_describe(s, "b", true, 51, 50, 50);
    /* the same key after DROP and CREATE belongs to a new incarnation */
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(next_status(s, "a", 1, "k"), SEQ_ERR_NOSEQ);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(next_key(s, "a", "k"), 2);
    assert_int_equal(next_key(s, "a", "k"), 2);
    /* a different COUNT on the new incarnation is no reuse of the old key */
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(do_next(s, "a", 3, "k", &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){3, 5});
    seq_result_free(&r);
    assert_int_equal(seq_count_keys(s), 4);
    /* snapshot keeps the scoping */
    s = roundtrip(s, 100);
    assert_int_equal(do_next(s, "a", 3, "k", &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){3, 5});
    seq_result_free(&r);
    assert_int_equal(next_key(s, "b", "k"), 50);
    seq_state_free(s);
}

static void test_key_expiry_exact(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    seq_tick(s, 1000, 100);
    assert_int_equal(seq_clock_ms(s), 1000);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(next_key(s, "a", "k"), 1);
    seq_tick(s, 1050, 100);
    assert_int_equal(next_key(s, "a", "k2"), 2);
    seq_tick(s, 1099, 100);
    assert_int_equal(seq_count_keys(s), 2);
    assert_int_equal(next_key(s, "a", "k"), 1);
    seq_tick(s, 1100, 100); /* k is exactly 100 ms old: gone */
    assert_int_equal(seq_count_keys(s), 1);
    assert_int_equal(next_key(s, "a", "k2"), 2);
    seq_tick(s, 1149, 100);
    assert_int_equal(seq_count_keys(s), 1);
    seq_tick(s, 1150, 100);
    assert_int_equal(seq_count_keys(s), 0);
    /* a key used again after expiry gets new numbers */
    assert_int_equal(next_key(s, "a", "k"), 3);
    assert_int_equal(next_key(s, "a", "k"), 3);
    /* retention 0 forgets at the next tick; a negative one counts as 0 */
    seq_tick(s, 1150, 0);
    assert_int_equal(seq_count_keys(s), 0);
    assert_int_equal(next_key(s, "a", "k"), 4);
    seq_tick(s, 1150, -5);
    assert_int_equal(seq_count_keys(s), 0);
    /* a longer retention at the next tick keeps what is young enough */
    assert_int_equal(next_key(s, "a", "p"), 5);
    seq_tick(s, 5000, 1000000);
    assert_int_equal(seq_count_keys(s), 1);
    seq_tick(s, 5000, 3851); /* p is 3850 ms old */
    assert_int_equal(seq_count_keys(s), 1);
    seq_tick(s, 5000, 3850);
    assert_int_equal(seq_count_keys(s), 0);
    /* a huge retention and extreme clocks: no overflow */
    assert_int_equal(next_key(s, "a", "q"), 6);
    seq_tick(s, INT64_MAX, INT64_MAX);
    assert_int_equal(seq_count_keys(s), 1);
    seq_tick(s, INT64_MAX, INT64_MAX - 5000);
    assert_int_equal(seq_count_keys(s), 0);
    seq_state_free(s);
}

/* A key used before the first tick is stamped with the initial clock
 * (INT64_MIN). Expiring it must not overflow, nor keep it forever. */
static void test_key_before_first_tick(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(seq_clock_ms(s), INT64_MIN);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(next_key(s, "a", "early"), 1);
    seq_tick(s, INT64_MIN + 10, 100);
    assert_int_equal(seq_count_keys(s), 1);
    assert_int_equal(next_key(s, "a", "early"), 1);
    seq_tick(s, 1700000000000, 86400000);
    assert_int_equal(seq_count_keys(s), 0);
    assert_int_equal(next_key(s, "a", "early"), 2);
    s = roundtrip(s, 100);
    assert_int_equal(next_key(s, "a", "early"), 2);

    /* the same through a snapshot taken before the first tick */
    seq_state *t = mk(100);
    assert_int_equal(do_create(t, "a", 1, 100), SEQ_OK);
    assert_int_equal(next_key(t, "a", "early"), 1);
    t = roundtrip(t, 100);
    /* the first stamp starts the elapsed clock: a key's retention counts
     * elapsed time only, so the jump from INT64_MIN to 0 expires nothing */
    seq_tick(t, 0, 1000);
    assert_int_equal(seq_count_keys(t), 1);
    seq_tick(t, 999, 1000);
    assert_int_equal(seq_count_keys(t), 1);
    seq_tick(t, 1000, 1000);
    assert_int_equal(seq_count_keys(t), 0);
    seq_state_free(t);
    seq_state_free(s);
}

static void test_key_clock_never_backwards(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    seq_tick(s, 2000, 100);
    assert_int_equal(next_key(s, "a", "k"), 1);
    /* an earlier time is ignored: no expiry, and the clock stays */
    seq_tick(s, 1500, 100);
    assert_int_equal(seq_clock_ms(s), 2000);
    assert_int_equal(seq_count_keys(s), 1);
    /* a key inserted after the backward tick is stamped 2000, not 1500 */
    assert_int_equal(next_key(s, "a", "k2"), 2);
    seq_tick(s, 2099, 100);
    assert_int_equal(seq_count_keys(s), 2);
    seq_tick(s, 1000, 100);
    assert_int_equal(seq_count_keys(s), 2);
    assert_int_equal(seq_clock_ms(s), 2099);
    seq_tick(s, 2100, 100);
    assert_int_equal(seq_count_keys(s), 0);
    /* going back after expiry does not resurrect */
    seq_tick(s, 1000, 100);
    assert_int_equal(seq_count_keys(s), 0);
    assert_int_equal(seq_clock_ms(s), 2100);
    assert_int_equal(next_key(s, "a", "k"), 3);
    assert_int_equal(next_key(s, "a", "k2"), 4);
    seq_state_free(s);
}

static void test_keys_full(void **state)
{
    (void)state;
    seq_state *s = mk(3);
    seq_tick(s, 0, 100);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(next_key(s, "a", "k1"), 1);
    assert_int_equal(next_key(s, "a", "k2"), 2);
    seq_tick(s, 10, 100);
    assert_int_equal(next_key(s, "a", "k3"), 3);
    assert_int_equal(seq_count_keys(s), 3);
    seq_result r;
    assert_int_equal(do_next(s, "a", 5, "k4", &r), SEQ_ERR_KEYS_FULL);
    seq_result_free(&r);
    assert_int_equal(next_status(s, "a", 1, "k4"), SEQ_ERR_KEYS_FULL);
    /* nothing was issued */
    expect_describe(s, "a", true, 4, 3, 97);
    /* replays and NEXT without a key still work */
    assert_int_equal(next_key(s, "a", "k2"), 2);
    assert_int_equal(next_status(s, "a", 2, "k2"), SEQ_ERR_KEY_REUSED);
    assert_int_equal(next_one(s, "a"), 4);
    /* once keys expire there is room again */
    seq_tick(s, 100, 100);
    assert_int_equal(seq_count_keys(s), 1);
    assert_int_equal(next_key(s, "a", "k4"), 5);
    assert_int_equal(next_key(s, "a", "k5"), 6);
    assert_int_equal(next_status(s, "a", 1, "k6"), SEQ_ERR_KEYS_FULL);
    s = roundtrip(s, 3);
    assert_int_equal(next_status(s, "a", 1, "k6"), SEQ_ERR_KEYS_FULL);
    assert_int_equal(next_key(s, "a", "k5"), 6);
    seq_state_free(s);

    /* keys_max 0: no key can be used at all */
    s = mk(0);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(next_status(s, "a", 1, "k"), SEQ_ERR_KEYS_FULL);
    assert_int_equal(next_one(s, "a"), 1);
    seq_state_free(s);
}

static void test_key_invalid(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    char *k200 = repeat_char('k', 200);
    char *k201 = repeat_char('k', 201);
    const char *bad[] = {"a b", "a\x01", "\x7f", "caf\xc3\xa9", "tab\t", k201};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(seq_key_valid(bad[i], strlen(bad[i])));
        assert_int_equal(next_status(s, "a", 1, bad[i]), SEQ_ERR_KEY);
        assert_int_equal(next_status(s, "a", 3, bad[i]), SEQ_ERR_KEY);
    }
    seq_cmd c = cmd_of(SEQ_OP_NEXT, "a");
    c.key = NULL;
    c.key_len = 3;
    assert_int_equal(apply_status(s, &c), SEQ_ERR_KEY);
    c.key = "a\0b";
    assert_int_equal(apply_status(s, &c), SEQ_ERR_KEY);
    assert_false(seq_key_valid("", 0));
    assert_int_equal(seq_count_keys(s), 0);
    expect_describe(s, "a", true, 1, 0, 100);
    assert_true(seq_key_valid(k200, 200));
    assert_int_equal(next_key(s, "a", k200), 1);
    assert_int_equal(next_key(s, "a", k200), 1);
    /* a 200-byte key survives a snapshot */
    s = roundtrip(s, 100);
    assert_int_equal(next_key(s, "a", k200), 1);
    free(k200);
    free(k201);
    seq_state_free(s);
}

/* ---- DESCRIBE ---------------------------------------------------------- */

static void test_describe_values(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "d", 10, 19), SEQ_OK);
    assert_int_equal(do_addrange(s, "d", 0, 4), SEQ_OK);
    assert_int_equal(do_addrange(s, "d", 100, 199), SEQ_OK);
    seq_result r;
    assert_int_equal(do_next(s, "d", 12, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    do_describe(s, "d", &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_int_equal(r.op, SEQ_OP_DESCRIBE);
    assert_string_equal(r.name, "d");
    assert_int_equal(r.n_ranges, 3);
    assert_int_equal(r.ranges[0].min, 10);
    assert_int_equal(r.ranges[0].max, 19);
    assert_int_equal(r.ranges[1].min, 0);
    assert_int_equal(r.ranges[1].max, 4);
    assert_int_equal(r.ranges[2].min, 100);
    assert_int_equal(r.ranges[2].max, 199);
    assert_true(r.has_next);
    assert_int_equal(r.next, 2);
    assert_int_equal(r.issued, 12);
    assert_int_equal(r.remaining, 3 + 100);
    assert_int_equal(r.n_runs, 0);
    assert_int_equal(r.n_names, 0);
    seq_result_free(&r);
    assert_int_equal(do_next(s, "d", 103, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    expect_describe(s, "d", false, 0, 115, 0);
    do_describe(s, "d", &r);
    assert_int_equal(r.next, 0);
    seq_result_free(&r);
    /* with history: next skips burned numbers; issued counts this
     * incarnation only */
    assert_int_equal(do_drop(s, "d"), SEQ_OK);
    assert_int_equal(do_create(s, "d", 0, 20), SEQ_OK);
    expect_describe(s, "d", true, 5, 0, 6); /* 5..9 and 20 */
    assert_int_equal(next_one(s, "d"), 5);
    assert_int_equal(do_addrange(s, "d", 150, 250), SEQ_OK);
    expect_describe(s, "d", true, 6, 1, 5 + 51); /* 6..9, 20, 200..250 */
    assert_int_equal(do_next(s, "d", 5, NULL, &r), SEQ_OK);
    expect_runs(&r, 2, (int64_t[]){6, 9, 20, 20});
    seq_result_free(&r);
    expect_describe(s, "d", true, 200, 6, 51);
    /* a DESCRIBE changes nothing */
    assert_int_equal(next_one(s, "d"), 200);
    seq_state_free(s);
}

/* ---- snapshots --------------------------------------------------------- */

/* A state with some of everything: live sequences with several ranges, a
 * START, numbers at the int64 edges, tombstones with history, re-created
 * names, keys of live and dropped incarnations. */
static seq_state *rich_state(void)
{
    seq_state *s = mk(100);
    seq_result r;
    seq_tick(s, 1000, 500);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(do_next(s, "a", 10, "k1", &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(next_one(s, "a"), 11);
    assert_int_equal(do_create_start(s, "b", INT64_MAX - 10, INT64_MAX, INT64_MAX - 5), SEQ_OK);
    assert_int_equal(do_next(s, "b", 2, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(do_create(s, "c", INT64_MIN, INT64_MIN + 50), SEQ_OK);
    assert_int_equal(do_addrange(s, "c", 0, 10), SEQ_OK);
    assert_int_equal(do_addrange(s, "c", -100, -90), SEQ_OK);
    assert_int_equal(do_next(s, "c", 55, "kc", &r), SEQ_OK);
    seq_result_free(&r);
    seq_tick(s, 1100, 500);
    assert_int_equal(do_drop(s, "c"), SEQ_OK);
    assert_int_equal(do_create(s, "c", INT64_MIN + 20, INT64_MIN + 60), SEQ_OK);
    assert_int_equal(do_next(s, "c", 3, "k2", &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(do_create(s, "d", 5, 5), SEQ_OK);
    assert_int_equal(next_one(s, "d"), 5);
    assert_int_equal(do_drop(s, "d"), SEQ_OK);
    assert_int_equal(do_create(s, "e", 0, 9), SEQ_OK);
    assert_int_equal(do_next(s, "e", 3, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(do_drop(s, "e"), SEQ_OK);
    assert_int_equal(do_create(s, "e", 0, 20), SEQ_OK);
    assert_int_equal(do_addrange(s, "e", 30, 40), SEQ_OK);
    assert_int_equal(do_next(s, "e", 20, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(do_drop(s, "e"), SEQ_OK);
    assert_int_equal(do_create(s, "f", -5, 5), SEQ_OK);
    seq_tick(s, 1200, 500);
    assert_int_equal(do_next(s, "a", 4, "k3", &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(do_create(s, "g", 1, 1), SEQ_OK);
    assert_int_equal(next_one(s, "g"), 1);
    /* ledgers: merged and separate runs, at the int64 edges too */
    seq_tick(s, 1250, 500);
    assert_int_equal(do_void(s, "a", 3, "damaged"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 4, "damaged"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 7, "lost in the mail"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 13, "x"), SEQ_OK);
    assert_int_equal(do_void(s, "b", INT64_MAX - 4, "edge"), SEQ_OK);
    assert_int_equal(do_void(s, "c", INT64_MIN + 52, "c void"), SEQ_OK);
    assert_int_equal(do_void(s, "g", 1, "only one"), SEQ_OK);
    return s;
}

static bool results_equal(const seq_result *a, const seq_result *b)
{
    if (a->status != b->status || a->op != b->op || a->n_runs != b->n_runs ||
        a->remaining != b->remaining || a->name_len != b->name_len ||
        a->n_ranges != b->n_ranges || a->has_next != b->has_next ||
        a->next != b->next || a->issued != b->issued || a->n_names != b->n_names ||
        a->n_ledger != b->n_ledger || a->more != b->more || a->state != b->state ||
        a->time_ms != b->time_ms || (a->reason == NULL) != (b->reason == NULL)) {
        return false;
    }
    if (a->reason != NULL && strcmp(a->reason, b->reason) != 0) {
        return false;
    }
    for (size_t i = 0; i < a->n_ledger; i++) {
        const seq_ledger_run *x = &a->ledger[i], *y = &b->ledger[i];
        if (x->first != y->first || x->last != y->last || x->state != y->state ||
            x->time_ms != y->time_ms || strcmp(x->reason, y->reason) != 0) {
            return false;
        }
    }
    if (a->n_runs > 0 && memcmp(a->runs, b->runs, sizeof(seq_run) * a->n_runs) != 0) {
        return false;
    }
    for (size_t i = 0; i < a->n_ranges; i++) {
        const seq_range_info *x = &a->ranges[i], *y = &b->ranges[i];
        if (x->min != y->min || x->max != y->max || x->not_before != y->not_before ||
            x->not_after != y->not_after || x->expired != y->expired) {
            return false;
        }
    }
    if ((a->name == NULL) != (b->name == NULL) ||
        (a->name != NULL && memcmp(a->name, b->name, a->name_len) != 0)) {
        return false;
    }
    for (size_t i = 0; i < a->n_names; i++) {
        if (strcmp(a->names[i], b->names[i]) != 0) {
            return false;
        }
    }
    return true;
}

/* Applies c to both states; the results must be identical. */
static void apply_both(seq_state *x, seq_state *y, const seq_cmd *c)
{
    seq_result rx, ry;
    seq_apply(x, c, &rx);
    seq_apply(y, c, &ry);
    if (!results_equal(&rx, &ry)) {
        fail_msg("results differ for op %d on '%.*s': status %d vs %d",
                 c->op, (int)c->name_len, c->name == NULL ? "" : c->name,
                 rx.status, ry.status);
    }
    seq_result_free(&rx);
    seq_result_free(&ry);
}

static void test_snapshot_roundtrip_behaviour(void **state)
{
    (void)state;
    seq_state *s = rich_state();
    size_t len = 0;
    uint8_t *buf = seq_snapshot_encode(s, &len);
    assert_non_null(buf);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    free(buf);
    seq_state *d = seq_snapshot_decode(copy, len);
    assert_non_null(d);
    free(copy); /* the decoded state keeps no pointer into the buffer */
    assert_int_equal(seq_count_live(d), seq_count_live(s));
    assert_int_equal(seq_count_keys(d), seq_count_keys(s));
    assert_int_equal(seq_clock_ms(d), seq_clock_ms(s));

    const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    const char *keys[] = {NULL, "k1", "k2", "k3", "kc", "new"};
    for (int round = 0; round < 3; round++) {
        seq_cmd c = cmd_of(SEQ_OP_LIST, NULL);
        apply_both(s, d, &c);
        for (size_t i = 0; i < 8; i++) {
            c = cmd_of(SEQ_OP_DESCRIBE, names[i]);
            apply_both(s, d, &c);
            c = cmd_of(SEQ_OP_GAPS, names[i]);
            c.min = INT64_MIN;
            c.max = INT64_MAX;
            apply_both(s, d, &c);
            static const int64_t probes[] = {1, 3, 4, 5, 12, 13, 99, INT64_MAX - 4,
                                             INT64_MIN + 52, INT64_MIN + 53};
            for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
                c = cmd_of(SEQ_OP_LOOKUP, names[i]);
                c.min = probes[p];
                apply_both(s, d, &c);
                c = cmd_of(SEQ_OP_VOID, names[i]);
                c.min = probes[p];
                c.text = round == 2 ? "round two" : "damaged";
                c.text_len = strlen(c.text);
                apply_both(s, d, &c);
            }
            for (size_t k = 0; k < 6; k++) {
                for (uint32_t count = 1; count <= 10; count += 3) {
                    c = cmd_of(SEQ_OP_NEXT, names[i]);
                    c.count = count;
                    c.key = keys[k];
                    c.key_len = keys[k] == NULL ? 0 : strlen(keys[k]);
                    apply_both(s, d, &c);
                }
            }
        }
        /* the tombstone history is kept: re-created names skip it */
        c = cmd_of(SEQ_OP_CREATE, "d");
        c.min = 0;
        c.max = 10;
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_CREATE, "e");
        c.min = -5;
        c.max = 50;
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_NEXT, "e");
        c.count = 30;
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_ADDRANGE, "f");
        c.min = 100 + round * 10;
        c.max = 105 + round * 10;
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_DROP, round == 1 ? "c" : "b");
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_CREATE, "c");
        c.min = INT64_MIN;
        c.max = INT64_MIN + 100;
        apply_both(s, d, &c);
        seq_tick(s, 1300 + round * 300, 500);
        seq_tick(d, 1300 + round * 300, 500);
        assert_int_equal(seq_count_keys(d), seq_count_keys(s));
    }
    /* the two states end identical, byte for byte */
    size_t la = 0, lb = 0;
    uint8_t *ba = seq_snapshot_encode(s, &la);
    uint8_t *bb = seq_snapshot_encode(d, &lb);
    assert_non_null(ba);
    assert_non_null(bb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    free(ba);
    free(bb);
    /* an empty state round-trips too */
    seq_state *e = roundtrip(mk(5), 5);
    assert_int_equal(seq_count_live(e), 0);
    assert_int_equal(seq_clock_ms(e), INT64_MIN);
    seq_state_free(e);
    seq_state_free(s);
    seq_state_free(d);
}

/* Decodes exactly len bytes from a heap copy. */
static seq_state *decode_copy(const uint8_t *src, size_t len)
{
    uint8_t *copy = malloc(len == 0 ? 1 : len);
    assert_non_null(copy);
    if (len > 0) {
        memcpy(copy, src, len);
    }
    seq_state *d = seq_snapshot_decode(copy, len);
    free(copy);
    return d;
}

/* Replaces the one occurrence of `from` in buf (n bytes) by `to`. */
static void patch_once(uint8_t *buf, size_t n, const uint8_t *from, const uint8_t *to,
                       size_t len)
{
    uint8_t *hit = NULL;
    for (size_t i = 0; i + len <= n; i++) {
        if (memcmp(buf + i, from, len) == 0) {
            assert_null(hit); /* the pattern must be unique */
            hit = buf + i;
        }
    }
    assert_non_null(hit);
    memcpy(hit, to, len);
}

/* Snapshot bytes of: strict "a" (incarnation 1) whose NEXT ... KEY
 * kkkkkkkk got 1, and "b" (incarnation 2, in mode b_mode) that issued
 * b_issued numbers from 1. */
static uint8_t *two_incarnations(uint8_t b_mode, int b_issued, size_t *len)
{
    seq_state *s = mk(100);
    seq_tick(s, 1000, 60000);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(next_key(s, "a", "kkkkkkkk"), 1);
    seq_cmd c = cmd_of(SEQ_OP_CREATE, "b");
    c.min = 1;
    c.max = 100;
    c.mode = b_mode;
    c.cache = b_mode == SEQ_MODE_CACHED ? 10 : 0;
    assert_int_equal(apply_status(s, &c), SEQ_OK);
    for (int i = 0; i < b_issued; i++) {
        assert_int_equal(next_one(s, "b"), i + 1);
    }
    uint8_t *buf = seq_snapshot_encode(s, len);
    seq_state_free(s);
    return buf;
}

/* The key's hash names its incarnation: 8 bytes LE, then the key. */
static void key_hash(uint8_t out[16], uint64_t incarnation)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(incarnation >> (8 * i));
    }
    memcpy(out + 8, "kkkkkkkk", 8);
}

/* A damaged snapshot whose retained KEY names another live incarnation is
 * refused when that incarnation never issued the key's numbers, or is not
 * strict (only strict NEXT retains keys: a gapless one would be taken for a
 * permanent key), and accepted when it is strict and issued them. */
static void test_snapshot_refuses_foreign_retained_key(void **state)
{
    (void)state;
    uint8_t own[16], other[16];
    key_hash(own, 1);
    key_hash(other, 2);
    struct {
        uint8_t mode;
        int issued;
        bool accepted;
    } cases[] = {
        {SEQ_MODE_STRICT, 1, true},   /* b issued 1 too: a valid (if odd) state */
        {SEQ_MODE_STRICT, 0, false},  /* b never issued 1 */
        {SEQ_MODE_GAPLESS, 1, false}, /* a retained key of a gapless incarnation */
        {SEQ_MODE_CACHED, 0, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        uint8_t *buf = two_incarnations(cases[i].mode, cases[i].issued, &len);
        seq_state *intact = decode_copy(buf, len);
        assert_non_null(intact); /* the patch below is the only damage */
        seq_state_free(intact);
        patch_once(buf, len, own, other, sizeof(own));
        seq_state *d = decode_copy(buf, len);
        assert_true((d != NULL) == cases[i].accepted);
        seq_state_free(d);
        free(buf);
    }
}

/* Two live sequences may not share an incarnation: their keys would be
 * each other's. */
static void test_snapshot_refuses_shared_incarnation(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = two_incarnations(SEQ_MODE_STRICT, 1, &len);
    /* b's record: name_len u16 1, "b", live 1, incarnation 2 */
    const uint8_t from[] = {1, 0, 'b', 1, 2, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t to[] = {1, 0, 'b', 1, 1, 0, 0, 0, 0, 0, 0, 0};
    patch_once(buf, len, from, to, sizeof(from));
    assert_null(decode_copy(buf, len));
    free(buf);
}

/* Found by checking the whole state after every apply of the corruption
 * sweep: two damaged snapshots each record's own check let through.
 * A cursor below START would issue numbers seq_issued denies (LOOKUP says
 * not-issued, VOID refuses them); a key of an incarnation not handed out
 * yet would replay for the next CREATE. Both are refused now. */
static void test_snapshot_refuses_cursor_below_start(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create_start(s, "a", 1, 100, 50), SEQ_OK);
    size_t len;
    uint8_t *buf = seq_snapshot_encode(s, &len);
    seq_state_free(s);
    seq_state *intact = decode_copy(buf, len);
    assert_non_null(intact);
    seq_state_free(intact);
    /* the range: ... not_after INT64_MAX, next 50 */
    uint8_t from[16], to[16];
    memset(from, 0xff, 7);
    from[7] = 0x7f;
    memset(from + 8, 0, 8);
    from[8] = 50;
    memcpy(to, from, 16);
    to[8] = 10;
    patch_once(buf, len, from, to, sizeof(from));
    assert_null(decode_copy(buf, len));
    free(buf);
}

static void test_snapshot_refuses_key_of_future_incarnation(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    seq_tick(s, 1000, 60000);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(next_key(s, "a", "kkkkkkkk"), 1);
    assert_int_equal(do_drop(s, "a"), SEQ_OK); /* the key stays, owner gone */
    size_t len;
    uint8_t *buf = seq_snapshot_encode(s, &len);
    seq_state_free(s);
    seq_state *intact = decode_copy(buf, len);
    assert_non_null(intact);
    seq_state_free(intact);
    uint8_t own[16], future[16];
    key_hash(own, 1);
    key_hash(future, 2); /* the next CREATE's */
    patch_once(buf, len, own, future, sizeof(own));
    assert_null(decode_copy(buf, len));
    free(buf);
}

/* The whole-state check (run after every apply in the sanitized build)
 * can fail: each hand-made break of one invariant is caught, and the state
 * it broke is valid again once the break is undone. */
static void test_state_check_catches_each_break(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    seq_tick(s, 1000, 60000);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(do_addrange(s, "a", 200, 300), SEQ_OK);
    assert_int_equal(next_key(s, "a", "kkkkkkkk"), 1);
    assert_int_equal(do_void(s, "a", 1, "torn"), SEQ_OK);
    assert_true(seq_state_valid(s));
    seq_sequence *q = s->by_name;
    /* a cursor outside its range */
    int64_t next = q->ranges[0].next;
    q->ranges[0].next = 101;
    assert_false(seq_state_valid(s));
    q->ranges[0].next = next;
    /* overlapping ranges */
    q->ranges[1].min = 100;
    assert_false(seq_state_valid(s));
    q->ranges[1].min = 200;
    /* a ledger run outside the issued numbers */
    q->ledger[0].last = 5;
    assert_false(seq_state_valid(s));
    q->ledger[0].last = 1;
    /* counts */
    s->n_keys++;
    assert_false(seq_state_valid(s));
    s->n_keys--;
    s->n_live++;
    assert_false(seq_state_valid(s));
    s->n_live--;
    /* a key naming a number its sequence never issued */
    s->oldest_key->runs[0].first = s->oldest_key->runs[0].last = 50;
    assert_false(seq_state_valid(s));
    s->oldest_key->runs[0].first = s->oldest_key->runs[0].last = 1;
    assert_true(seq_state_valid(s));
    seq_state_free(s);
}

static void test_snapshot_truncations(void **state)
{
    (void)state;
    seq_state *s = rich_state();
    size_t len = 0;
    uint8_t *buf = seq_snapshot_encode(s, &len);
    assert_non_null(buf);
    for (size_t n = 0; n < len; n++) {
        seq_state *d = decode_copy(buf, n);
        if (d != NULL) {
            fail_msg("a snapshot truncated to %zu of %zu bytes was accepted", n, len);
        }
    }
    /* trailing bytes are refused too */
    uint8_t *longer = malloc(len + 8);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    memset(longer + len, 0, 8);
    for (size_t extra = 1; extra <= 8; extra++) {
        assert_null(decode_copy(longer, len + extra));
    }
    free(longer);
    seq_state *d = decode_copy(buf, len);
    assert_non_null(d);
    seq_state_free(d);
    /* other garbage */
    assert_null(seq_snapshot_decode(NULL, 0));
    assert_null(decode_copy((const uint8_t *)"SEQS", 4));
    buf[0] ^= 1; /* magic */
    assert_null(decode_copy(buf, len));
    buf[0] ^= 1;
    buf[4] = 7; /* version */
    assert_null(decode_copy(buf, len));
    buf[4] = 0;
    assert_null(decode_copy(buf, len));
    buf[4] = 5; /* a v6 body read as v5: the documents' part is bytes too many */
    assert_null(decode_copy(buf, len));
    buf[4] = 4; /* ... or as v4: the users too */
    assert_null(decode_copy(buf, len));
    buf[4] = 1; /* ... or as v1, v2 or v3 */
    assert_null(decode_copy(buf, len));
    buf[4] = 2;
    assert_null(decode_copy(buf, len));
    buf[4] = 3;
    assert_null(decode_copy(buf, len));
    free(buf);
    seq_state_free(s);
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Checks a decoded (possibly corrupted, but accepted) state, then drives
 * every command through it: nothing may crash or trip an assert. */
static void exercise_decoded(seq_state *d)
{
    size_t live = 0, n = 0;
    char names[64][SEQ_NAME_MAX + 1];
    for (seq_sequence *q = d->by_name; q != NULL; q = q->hh.next) {
        assert_true(seq_sequence_valid(q));
        assert_true(seq_name_valid(q->name, q->name_len));
        live += q->live ? 1 : 0;
        if (n < 64) {
            memcpy(names[n], q->name, q->name_len + 1);
            n++;
        }
    }
    assert_int_equal(live, seq_count_live(d));
    seq_result r;
    for (size_t i = 0; i < n; i++) {
        seq_cmd c = cmd_of(SEQ_OP_DESCRIBE, names[i]);
        seq_apply(d, &c, &r);
        seq_result_free(&r);
        c = cmd_of(SEQ_OP_NEXT, names[i]);
        seq_apply(d, &c, &r);
        seq_result_free(&r);
        c.count = 7;
        c.key = "k1";
        c.key_len = 2;
        seq_apply(d, &c, &r);
        seq_result_free(&r);
        c = cmd_of(SEQ_OP_ADDRANGE, names[i]);
        c.min = 1000;
        c.max = 1010;
        seq_apply(d, &c, &r);
        seq_result_free(&r);
        c = cmd_of(SEQ_OP_NEXT, names[i]);
        c.count = 20;
        seq_apply(d, &c, &r);
        seq_result_free(&r);
        c = cmd_of(SEQ_OP_GAPS, names[i]);
        c.min = INT64_MIN;
        c.max = INT64_MAX;
        seq_apply(d, &c, &r);
        for (size_t k = 0; k < r.n_ledger; k++) {
            seq_result lr;
            seq_cmd lc = cmd_of(SEQ_OP_LOOKUP, names[i]);
            lc.min = r.ledger[k].last;
            assert_int_equal(seq_apply(d, &lc, &lr), SEQ_OK);
            assert_int_equal(lr.state, r.ledger[k].state);
            seq_result_free(&lr);
        }
        seq_result_free(&r);
        for (int64_t v = 1000; v <= 1012; v++) {
            c = cmd_of(SEQ_OP_VOID, names[i]);
            c.min = v;
            c.text = "v";
            c.text_len = 1;
            seq_apply(d, &c, &r);
            seq_result_free(&r);
            c = cmd_of(SEQ_OP_LOOKUP, names[i]);
            c.min = v;
            seq_apply(d, &c, &r);
            seq_result_free(&r);
        }
        c = cmd_of(SEQ_OP_DROP, names[i]);
        seq_apply(d, &c, &r);
        seq_result_free(&r);
        c = cmd_of(SEQ_OP_CREATE, names[i]);
        c.min = -3;
        c.max = 3;
        seq_apply(d, &c, &r);
        seq_result_free(&r);
        c = cmd_of(SEQ_OP_NEXT, names[i]);
        c.count = 2;
        seq_apply(d, &c, &r);
        seq_result_free(&r);
    }
    seq_cmd c = cmd_of(SEQ_OP_LIST, NULL);
    seq_apply(d, &c, &r);
    seq_result_free(&r);
    if (seq_clock_ms(d) < INT64_MAX - 100) {
        seq_tick(d, seq_clock_ms(d) + 100, 50);
    }
    seq_tick(d, INT64_MAX, 0);
    for (seq_sequence *q = d->by_name; q != NULL; q = q->hh.next) {
        assert_true(seq_sequence_valid(q));
    }
    size_t len = 0;
    void *buf = seq_snapshot_encode(d, &len);
    assert_non_null(buf);
    free(buf);
}

static void test_snapshot_corruption(void **state)
{
    (void)state;
    seq_state *s = rich_state();
    size_t len = 0;
    uint8_t *buf = seq_snapshot_encode(s, &len);
    assert_non_null(buf);
    seq_state_free(s);
    uint8_t *m = malloc(len);
    assert_non_null(m);
    size_t accepted = 0, tried = 0;
    /* every byte, a few mutations each */
    const uint8_t xors[] = {0x01, 0x02, 0x10, 0x80, 0xff};
    for (size_t p = 0; p < len; p++) {
        for (size_t x = 0; x < sizeof(xors) + 2; x++) {
            memcpy(m, buf, len);
            if (x < sizeof(xors)) {
                m[p] ^= xors[x];
            } else {
                m[p] = x == sizeof(xors) ? 0x00 : 0xff;
            }
            seq_state *d = decode_copy(m, len);
            tried++;
            if (d != NULL) {
                accepted++;
                exercise_decoded(d);
                seq_state_free(d);
            }
        }
    }
    /* random multi-byte corruption */
    uint64_t rng = 0x5eed5eedULL;
    for (int it = 0; it < 4000; it++) {
        memcpy(m, buf, len);
        int flips = 1 + (int)(splitmix64(&rng) % 6);
        for (int f = 0; f < flips; f++) {
            size_t p = splitmix64(&rng) % len;
            m[p] = (uint8_t)splitmix64(&rng);
        }
        seq_state *d = decode_copy(m, len);
        tried++;
        if (d != NULL) {
            accepted++;
            exercise_decoded(d);
            seq_state_free(d);
        }
    }
    /* random bytes behind a valid header */
    for (int it = 0; it < 2000; it++) {
        size_t n = 8 + splitmix64(&rng) % 200;
        uint8_t *g = malloc(n);
        assert_non_null(g);
        memcpy(g, buf, 8);
        for (size_t i = 8; i < n; i++) {
            g[i] = (uint8_t)splitmix64(&rng);
        }
        seq_state *d = seq_snapshot_decode(g, n);
        if (d != NULL) {
            exercise_decoded(d);
            seq_state_free(d);
        }
        free(g);
    }
    printf("snapshot corruption: %zu mutations, %zu decoded (and exercised)\n",
           tried, accepted);
    assert_true(accepted < tried);
    free(m);
    free(buf);
}

/* ---- VOID, GAPS, LOOKUP (the ledger) ------------------------------------ */

static void test_void_basic(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    seq_result r;
    seq_tick(s, 1000, 500);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(do_next(s, "a", 10, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    expect_lookup(s, "a", 5, SEQ_NUM_FINAL, 0, NULL);
    assert_int_equal(do_void(s, "a", 5, "damaged"), SEQ_OK);
    expect_lookup(s, "a", 5, SEQ_NUM_VOIDED, 1000, "damaged");
    expect_lookup(s, "a", 4, SEQ_NUM_FINAL, 0, NULL);
    expect_lookup(s, "a", 6, SEQ_NUM_FINAL, 0, NULL);
    expect_lookup(s, "a", 11, SEQ_NUM_NOT_ISSUED, 0, NULL);
    expect_lookup(s, "a", 0, SEQ_NUM_NOT_ISSUED, 0, NULL);
    expect_lookup(s, "a", INT64_MIN, SEQ_NUM_NOT_ISSUED, 0, NULL);
    /* a repeat is OK and changes nothing: the first reason and time stand */
    seq_tick(s, 2000, 500);
    assert_int_equal(do_void(s, "a", 5, "another reason"), SEQ_OK);
    expect_lookup(s, "a", 5, SEQ_NUM_VOIDED, 1000, "damaged");
    int64_t one[] = {5, 5};
    expect_gaps(s, "a", 1, 100, 1, one, false);
    /* voiding moves no cursor and counts nothing */
    assert_int_equal(next_one(s, "a"), 11);
    expect_describe(s, "a", true, 12, 11, 89);
    /* the time is the state's clock, also before the first tick */
    seq_state *t = mk(10);
    assert_int_equal(do_create(t, "a", 1, 10), SEQ_OK);
    assert_int_equal(next_one(t, "a"), 1);
    assert_int_equal(do_void(t, "a", 1, "early"), SEQ_OK);
    expect_lookup(t, "a", 1, SEQ_NUM_VOIDED, INT64_MIN, "early");
    seq_state_free(t);
    /* an exhausted sequence (cursor past the last range) */
    assert_int_equal(do_create(s, "e", 1, 3), SEQ_OK);
    assert_int_equal(do_next(s, "e", 3, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(do_void(s, "e", 3, "last"), SEQ_OK);
    expect_lookup(s, "e", 3, SEQ_NUM_VOIDED, 2000, "last");
    expect_lookup(s, "e", 4, SEQ_NUM_NOT_ISSUED, 0, NULL);
    /* ...and revived by ADDRANGE: the voided number stays voided */
    assert_int_equal(do_addrange(s, "e", 10, 12), SEQ_OK);
    assert_int_equal(next_one(s, "e"), 10);
    expect_lookup(s, "e", 3, SEQ_NUM_VOIDED, 2000, "last");
    /* bad names */
    assert_int_equal(do_void(s, "a b", 1, "r"), SEQ_ERR_NAME);
    assert_int_equal(do_lookup(s, "", 1, &r), SEQ_ERR_NAME);
    seq_result_free(&r);
    assert_int_equal(do_gaps(s, "\x01", 1, 2, &r), SEQ_ERR_NAME);
    seq_result_free(&r);
    seq_state_free(s);
}

static void test_void_not_issued(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    seq_result r;
    seq_tick(s, 500, 100);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(do_next(s, "a", 10, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    /* at and above the cursor, and outside every range */
    assert_int_equal(do_void(s, "a", 11, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "a", 100, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "a", 0, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "a", 101, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "a", INT64_MIN, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "a", INT64_MAX, "r"), SEQ_ERR_NOTISSUED);
    /* ranges are used in the order added */
    assert_int_equal(do_create(s, "o", 50, 59), SEQ_OK);
    assert_int_equal(do_addrange(s, "o", 1, 9), SEQ_OK);
    assert_int_equal(do_addrange(s, "o", 20, 29), SEQ_OK);
    assert_int_equal(do_next(s, "o", 12, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(do_void(s, "o", 59, "r"), SEQ_OK);
    assert_int_equal(do_void(s, "o", 1, "r"), SEQ_OK);
    assert_int_equal(do_void(s, "o", 2, "r"), SEQ_OK);
    assert_int_equal(do_void(s, "o", 3, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "o", 20, "r"), SEQ_ERR_NOTISSUED);
    expect_lookup(s, "o", 21, SEQ_NUM_NOT_ISSUED, 0, NULL);
    /* numbers skipped by START were never issued */
    assert_int_equal(do_create_start(s, "st", 1, 10, 5), SEQ_OK);
    assert_int_equal(next_one(s, "st"), 5);
    assert_int_equal(do_void(s, "st", 3, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "st", 1, "r"), SEQ_ERR_NOTISSUED);
    expect_lookup(s, "st", 4, SEQ_NUM_NOT_ISSUED, 0, NULL);
    assert_int_equal(do_void(s, "st", 5, "r"), SEQ_OK);
    /* burned history: numbers of an earlier incarnation */
    assert_int_equal(do_create(s, "c", 1, 20), SEQ_OK);
    assert_int_equal(do_next(s, "c", 5, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(do_void(s, "c", 2, "old"), SEQ_OK);
    assert_int_equal(do_drop(s, "c"), SEQ_OK);
    /* a dropped name: NOSEQ, whatever the number */
    assert_int_equal(do_void(s, "c", 2, "r"), SEQ_ERR_NOSEQ);
    assert_int_equal(do_lookup(s, "c", 2, &r), SEQ_ERR_NOSEQ);
    seq_result_free(&r);
    assert_int_equal(do_gaps(s, "c", 1, 20, &r), SEQ_ERR_NOSEQ);
    seq_result_free(&r);
    assert_int_equal(do_create(s, "c", 1, 20), SEQ_OK);
    assert_int_equal(do_next(s, "c", 3, NULL, &r), SEQ_OK);
    int64_t after[] = {6, 8};
    expect_runs(&r, 1, after);
    seq_result_free(&r);
    /* the ledger went with the old incarnation */
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 0, NULL, false);
    expect_lookup(s, "c", 2, SEQ_NUM_NOT_ISSUED, 0, NULL);
    assert_int_equal(do_void(s, "c", 2, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "c", 5, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "c", 9, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "c", 6, "r"), SEQ_OK);
    /* burned history in the middle of a later range */
    assert_int_equal(do_drop(s, "c"), SEQ_OK);
    assert_int_equal(do_create(s, "c", 7, 7), SEQ_OK); /* 7 is burned: exhausted */
    assert_int_equal(do_addrange(s, "c", 0, 6), SEQ_OK);
    assert_int_equal(do_addrange(s, "c", 8, 12), SEQ_OK);
    assert_int_equal(do_next(s, "c", 4, NULL, &r), SEQ_OK); /* 0, 9, 10, 11 */
    int64_t split[] = {0, 0, 9, 11};
    expect_runs(&r, 2, split);
    seq_result_free(&r);
    assert_int_equal(do_void(s, "c", 1, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "c", 7, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "c", 8, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(s, "c", 0, "r"), SEQ_OK);
    assert_int_equal(do_void(s, "c", 9, "r"), SEQ_OK);
    int64_t two[] = {0, 0, 9, 9};
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 2, two, false);
    /* a name never created */
    assert_int_equal(do_void(s, "nope", 1, "r"), SEQ_ERR_NOSEQ);
    assert_int_equal(do_lookup(s, "nope", 1, &r), SEQ_ERR_NOSEQ);
    seq_result_free(&r);
    seq_state_free(s);
}

static void test_void_reason(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(next_one(s, "a"), 1);
    assert_int_equal(next_one(s, "a"), 2);
    char *r200 = repeat_char('r', SEQ_REASON_MAX);
    char *r201 = repeat_char('r', SEQ_REASON_MAX + 1);
    const char *bad[] = {"", "tab\there", "nl\n", "\x01", "del\x7f", "caf\xc3\xa9", r201};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(do_void(s, "a", 1, bad[i]), SEQ_ERR_REASON);
        /* the reason is checked first, before the name or the number */
        assert_int_equal(do_void(s, "nope", 1, bad[i]), SEQ_ERR_REASON);
        assert_int_equal(do_void(s, "a", 50, bad[i]), SEQ_ERR_REASON);
    }
    seq_cmd c = cmd_of(SEQ_OP_VOID, "a");
    c.min = 1;
    assert_int_equal(apply_status(s, &c), SEQ_ERR_REASON); /* NULL, 0 */
    c.text = "abc";
    c.text_len = 0;
    assert_int_equal(apply_status(s, &c), SEQ_ERR_REASON);
    c.text = "a\0b";
    c.text_len = 3;
    assert_int_equal(apply_status(s, &c), SEQ_ERR_REASON);
    /* failed commands changed nothing */
    expect_gaps(s, "a", INT64_MIN, INT64_MAX, 0, NULL, false);
    /* the edges of valid: one space, all printable, exactly 200 bytes */
    assert_int_equal(do_void(s, "a", 1, " "), SEQ_OK);
    expect_lookup(s, "a", 1, SEQ_NUM_VOIDED, INT64_MIN, " ");
    assert_int_equal(do_void(s, "a", 2, r200), SEQ_OK);
    expect_lookup(s, "a", 2, SEQ_NUM_VOIDED, INT64_MIN, r200);
    char all[0x7f - 0x20 + 1];
    for (int ch = 0x20; ch < 0x7f; ch++) {
        all[ch - 0x20] = (char)ch;
    }
    all[0x7f - 0x20] = '\0';
    assert_int_equal(next_one(s, "a"), 3);
    assert_int_equal(do_void(s, "a", 3, all), SEQ_OK);
    expect_lookup(s, "a", 3, SEQ_NUM_VOIDED, INT64_MIN, all);
    /* the state copied the reason: the caller's buffer may change */
    char mine[] = "mutable";
    assert_int_equal(next_one(s, "a"), 4);
    assert_int_equal(do_void(s, "a", 4, mine), SEQ_OK);
    mine[0] = 'X';
    expect_lookup(s, "a", 4, SEQ_NUM_VOIDED, INT64_MIN, "mutable");
    free(r200);
    free(r201);
    seq_state_free(s);
}

static void test_void_merge(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    seq_result r;
    seq_tick(s, 1000, 500);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(do_next(s, "a", 50, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(do_void(s, "a", 3, "r"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 5, "r"), SEQ_OK);
    int64_t apart[] = {3, 3, 5, 5};
    expect_gaps(s, "a", 1, 100, 2, apart, false);
    /* fills the hole: three become one */
    assert_int_equal(do_void(s, "a", 4, "r"), SEQ_OK);
    int64_t merged[] = {3, 5};
    expect_gaps(s, "a", 1, 100, 1, merged, false);
    assert_int_equal(s->by_name->n_ledger, 1);
    /* joins on the left, then on the right */
    assert_int_equal(do_void(s, "a", 6, "r"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 2, "r"), SEQ_OK);
    int64_t grown[] = {2, 6};
    expect_gaps(s, "a", 1, 100, 1, grown, false);
    /* a different reason does not merge */
    assert_int_equal(do_void(s, "a", 7, "other"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 1, "R"), SEQ_OK);
    int64_t three[] = {1, 1, 2, 6, 7, 7};
    expect_gaps(s, "a", 1, 100, 3, three, false);
    /* neither does a different time */
    seq_tick(s, 1001, 500);
    assert_int_equal(do_void(s, "a", 8, "other"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 9, "other"), SEQ_OK);
    int64_t four[] = {1, 1, 2, 6, 7, 7, 8, 9};
    expect_gaps(s, "a", 1, 100, 4, four, false);
    expect_lookup(s, "a", 7, SEQ_NUM_VOIDED, 1000, "other");
    expect_lookup(s, "a", 9, SEQ_NUM_VOIDED, 1001, "other");
    /* a prefix of the reason is a different reason */
    assert_int_equal(do_void(s, "a", 10, "othe"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 11, "otherx"), SEQ_OK);
    assert_int_equal(s->by_name->n_ledger, 6);
    /* between two equal runs but of another reason: a run of its own */
    assert_int_equal(do_void(s, "a", 20, "z"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 22, "z"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 21, "y"), SEQ_OK);
    assert_int_equal(s->by_name->n_ledger, 9);
    for (seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        assert_true(seq_sequence_valid(q));
    }
    /* merges across two adjacent ranges */
    assert_int_equal(do_create(s, "b", 1, 5), SEQ_OK);
    assert_int_equal(do_addrange(s, "b", 6, 10), SEQ_OK);
    assert_int_equal(do_next(s, "b", 10, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(do_void(s, "b", 5, "r"), SEQ_OK);
    assert_int_equal(do_void(s, "b", 6, "r"), SEQ_OK);
    int64_t across[] = {5, 6};
    expect_gaps(s, "b", 1, 10, 1, across, false);
    seq_state *d = roundtrip(s, 100);
    expect_gaps(d, "b", 1, 10, 1, across, false);
    seq_state_free(d);
}

static void test_ledger_limit(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    seq_result r;
    seq_tick(s, 7, 500);
    int64_t top = 2 * (int64_t)SEQ_LEDGER_MAX + 10;
    assert_int_equal(do_create(s, "a", 0, top), SEQ_OK);
    assert_int_equal(do_next(s, "a", (uint32_t)top, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    /* every other number: no two merge */
    for (int64_t i = 0; i < SEQ_LEDGER_MAX; i++) {
        if (do_void(s, "a", 2 * i, "r") != SEQ_OK) {
            fail_msg("void %" PRId64 " failed", 2 * i);
        }
    }
    assert_int_equal(s->by_name->n_ledger, SEQ_LEDGER_MAX);
    int64_t past = 2 * (int64_t)SEQ_LEDGER_MAX;
    assert_int_equal(do_void(s, "a", past, "r"), SEQ_ERR_TOO_MANY);
    expect_lookup(s, "a", past, SEQ_NUM_FINAL, 0, NULL);
    /* a repeat and a merge still work at the limit */
    assert_int_equal(do_void(s, "a", 4, "r"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 1, "r"), SEQ_OK); /* 0..2 */
    assert_int_equal(s->by_name->n_ledger, SEQ_LEDGER_MAX - 1);
    assert_int_equal(do_void(s, "a", past, "r"), SEQ_OK);
    assert_int_equal(do_void(s, "a", past + 2, "r"), SEQ_ERR_TOO_MANY);
    /* a full ledger survives a snapshot */
    seq_state *d = roundtrip(s, 100);
    assert_int_equal(d->by_name->n_ledger, SEQ_LEDGER_MAX);
    expect_lookup(d, "a", past, SEQ_NUM_VOIDED, 7, "r");
    assert_int_equal(do_void(d, "a", past + 2, "r"), SEQ_ERR_TOO_MANY);
    /* DROP discards it; a new incarnation starts empty */
    assert_int_equal(do_drop(d, "a"), SEQ_OK);
    assert_int_equal(do_create(d, "a", 0, top + 5), SEQ_OK);
    assert_int_equal(next_one(d, "a"), top);
    assert_int_equal(do_void(d, "a", top - 1, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(d, "a", top, "r"), SEQ_OK);
    assert_int_equal(d->by_name->n_ledger, 1);
    seq_state_free(d);
}

static void test_gaps(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    seq_result r;
    seq_tick(s, 1000, 500);
    assert_int_equal(do_create(s, "a", 1, 100), SEQ_OK);
    assert_int_equal(do_next(s, "a", 50, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    /* voided out of order; GAPS lists them ascending */
    assert_int_equal(do_void(s, "a", 30, "c"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 12, "a"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 10, "a"), SEQ_OK);
    assert_int_equal(do_void(s, "a", 11, "a"), SEQ_OK);
    seq_tick(s, 1100, 500);
    assert_int_equal(do_void(s, "a", 20, "b"), SEQ_OK);
    assert_int_equal(do_gaps(s, "a", INT64_MIN, INT64_MAX, &r), SEQ_OK);
    assert_int_equal(r.n_ledger, 3);
    assert_false(r.more);
    const int64_t want[] = {10, 12, 20, 20, 30, 30};
    const char *reasons[] = {"a", "b", "c"};
    const int64_t times[] = {1000, 1100, 1000};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(r.ledger[i].first, want[2 * i]);
        assert_int_equal(r.ledger[i].last, want[2 * i + 1]);
        assert_int_equal(r.ledger[i].state, SEQ_NUM_VOIDED);
        assert_int_equal(r.ledger[i].time_ms, times[i]);
        assert_string_equal(r.ledger[i].reason, reasons[i]);
    }
    seq_result_free(&r);
    /* clipped to [from, to] */
    int64_t clip1[] = {11, 12, 20, 20};
    expect_gaps(s, "a", 11, 25, 2, clip1, false);
    int64_t clip2[] = {11, 11};
    expect_gaps(s, "a", 11, 11, 1, clip2, false);
    int64_t clip3[] = {10, 10};
    expect_gaps(s, "a", -5, 10, 1, clip3, false);
    int64_t clip4[] = {12, 12, 20, 20, 30, 30};
    expect_gaps(s, "a", 12, 30, 3, clip4, false);
    expect_gaps(s, "a", 13, 19, 0, NULL, false);
    expect_gaps(s, "a", 31, INT64_MAX, 0, NULL, false);
    expect_gaps(s, "a", INT64_MIN, 9, 0, NULL, false);
    expect_gaps(s, "a", 60, 100, 0, NULL, false); /* not issued yet: no gaps */
    /* from > to */
    assert_int_equal(do_gaps(s, "a", 31, 30, &r), SEQ_ERR_RANGE);
    seq_result_free(&r);
    assert_int_equal(do_gaps(s, "nope", 31, 30, &r), SEQ_ERR_RANGE);
    seq_result_free(&r);
    assert_int_equal(do_gaps(s, "a", INT64_MAX, INT64_MIN, &r), SEQ_ERR_RANGE);
    seq_result_free(&r);
    /* the result owns its copies */
    assert_int_equal(do_gaps(s, "a", 1, 100, &r), SEQ_OK);
    assert_int_equal(do_drop(s, "a"), SEQ_OK);
    assert_string_equal(r.ledger[0].reason, "a");
    seq_result_free(&r);
    seq_state_free(s);
}

static void test_gaps_cut(void **state)
{
    (void)state;
    seq_state *s = mk(100);
    seq_result r;
    int64_t n = SEQ_GAPS_MAX + 2;
    assert_int_equal(do_create(s, "a", 0, 2 * n), SEQ_OK);
    assert_int_equal(do_next(s, "a", (uint32_t)(2 * n), NULL, &r), SEQ_OK);
    seq_result_free(&r);
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(do_void(s, "a", 2 * i, "r"), SEQ_OK);
    }
    /* n runs: the first SEQ_GAPS_MAX, and more */
    assert_int_equal(do_gaps(s, "a", INT64_MIN, INT64_MAX, &r), SEQ_OK);
    assert_int_equal(r.n_ledger, SEQ_GAPS_MAX);
    assert_true(r.more);
    for (size_t i = 0; i < r.n_ledger; i++) {
        assert_int_equal(r.ledger[i].first, 2 * (int64_t)i);
        assert_int_equal(r.ledger[i].last, 2 * (int64_t)i);
    }
    seq_result_free(&r);
    /* exactly SEQ_GAPS_MAX in the window: no more */
    assert_int_equal(do_gaps(s, "a", 0, 2 * (SEQ_GAPS_MAX - 1) + 1, &r), SEQ_OK);
    assert_int_equal(r.n_ledger, SEQ_GAPS_MAX);
    assert_false(r.more);
    seq_result_free(&r);
    /* the rest, from where the cut reply ended */
    int64_t rest[] = {2 * SEQ_GAPS_MAX, 2 * SEQ_GAPS_MAX, 2 * SEQ_GAPS_MAX + 2,
                      2 * SEQ_GAPS_MAX + 2};
    expect_gaps(s, "a", 2 * (SEQ_GAPS_MAX - 1) + 1, INT64_MAX, 2, rest, false);
    seq_state_free(s);
}

/* ---- snapshots with ledgers and version 1 -------------------------------- */

typedef struct snap_run {
    int64_t first, last;
    uint8_t state;
    int64_t time_ms;
    const char *reason;
} snap_run;

/* A hand-made snapshot of one live sequence "a" (incarnation 2): CREATE
 * 1..100 START 5, cursor at 50, burned [20, 22] from incarnation 1, so the
 * issued numbers are 5..19 and 23..49; clock 1000; then the ledger (version
 * 2 only; n_ledger may differ from n to fake a count). Returns the length. */
static size_t snap_build(uint8_t *buf, size_t cap, uint32_t version, bool live,
                         uint32_t n_ledger, const snap_run *runs, size_t n)
{
    seq_writer w = {buf, 0, cap, false};
    seq_put_u32(&w, 0x53514553u);
    seq_put_u32(&w, version);
    seq_put_i64(&w, 1000);
    seq_put_u64(&w, 2);
    seq_put_u32(&w, 1);
    seq_put_u16(&w, 1);
    seq_put_bytes(&w, "a", 1);
    seq_put_u8(&w, live ? 1 : 0);
    seq_put_u64(&w, 2);
    seq_put_i64(&w, 1);
    seq_put_i64(&w, 100);
    seq_put_u8(&w, 1);
    seq_put_i64(&w, 5);
    seq_put_u32(&w, live ? 1 : 0);
    if (live) {
        seq_put_i64(&w, 1);
        seq_put_i64(&w, 100);
    }
    seq_put_u32(&w, 0);
    seq_put_i64(&w, live ? 50 : 0);
    seq_put_u64(&w, live ? 42 : 0);
    seq_put_u32(&w, 1);
    seq_put_i64(&w, 20);
    seq_put_i64(&w, 22);
    if (version >= 2) {
        seq_put_u32(&w, n_ledger);
        for (size_t i = 0; i < n; i++) {
            seq_put_i64(&w, runs[i].first);
            seq_put_i64(&w, runs[i].last);
            seq_put_u8(&w, runs[i].state);
            seq_put_i64(&w, runs[i].time_ms);
            seq_put_u16(&w, (uint16_t)strlen(runs[i].reason));
            seq_put_bytes(&w, runs[i].reason, strlen(runs[i].reason));
        }
    }
    seq_put_u32(&w, 0); /* keys */
    assert_false(w.overflow);
    return w.len;
}

static seq_state *snap_decode(uint32_t version, bool live, uint32_t n_ledger,
                              const snap_run *runs, size_t n)
{
    uint8_t buf[4096];
    size_t len = snap_build(buf, sizeof(buf), version, live, n_ledger, runs, n);
    return decode_copy(buf, len);
}

static void test_snapshot_v1(void **state)
{
    (void)state;
    seq_state *d = snap_decode(1, true, 0, NULL, 0);
    assert_non_null(d);
    expect_describe(d, "a", true, 50, 42, 51);
    expect_gaps(d, "a", INT64_MIN, INT64_MAX, 0, NULL, false);
    expect_lookup(d, "a", 5, SEQ_NUM_FINAL, 0, NULL);
    expect_lookup(d, "a", 4, SEQ_NUM_NOT_ISSUED, 0, NULL);
    expect_lookup(d, "a", 21, SEQ_NUM_NOT_ISSUED, 0, NULL);
    expect_lookup(d, "a", 50, SEQ_NUM_NOT_ISSUED, 0, NULL);
    assert_int_equal(do_void(d, "a", 21, "r"), SEQ_ERR_NOTISSUED);
    assert_int_equal(do_void(d, "a", 49, "r"), SEQ_OK);
    /* it encodes as version 6; the v1 bytes with the ledger counts added
     * are exactly the v2 snapshot */
    size_t len = 0;
    uint8_t *buf = seq_snapshot_encode(d, &len);
    assert_non_null(buf);
    assert_int_equal(buf[4], 6);
    free(buf);
    seq_state_free(d);
    uint8_t v1[4096], v2[4096];
    size_t l1 = snap_build(v1, sizeof(v1), 1, true, 0, NULL, 0);
    size_t l2 = snap_build(v2, sizeof(v2), 2, true, 0, NULL, 0);
    assert_int_equal(l2, l1 + 4);
    /* v1 and v2 bytes of one state decode to the same state */
    d = decode_copy(v1, l1);
    assert_non_null(d);
    buf = seq_snapshot_encode(d, &len);
    assert_non_null(buf);
    seq_state_free(d);
    d = decode_copy(v2, l2);
    assert_non_null(d);
    size_t len2 = 0;
    uint8_t *buf2 = seq_snapshot_encode(d, &len2);
    assert_non_null(buf2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(buf);
    free(buf2);
    seq_state_free(d);
    /* a v1 tombstone */
    d = snap_decode(1, false, 0, NULL, 0);
    assert_non_null(d);
    assert_int_equal(seq_count_live(d), 0);
    assert_int_equal(do_create(d, "a", 20, 30), SEQ_OK);
    assert_int_equal(next_one(d, "a"), 23); /* 20..22 burned */
    seq_state_free(d);
    /* v1 bytes labelled v2, and v2 bytes labelled v1, are refused */
    v1[4] = 2;
    assert_null(decode_copy(v1, l1));
    v2[4] = 1;
    assert_null(decode_copy(v2, l2));
    /* every truncation of a v1 snapshot is refused */
    v1[4] = 1;
    for (size_t n = 0; n < l1; n++) {
        assert_null(decode_copy(v1, n));
    }
}

static void test_snapshot_ledger(void **state)
{
    (void)state;
    /* valid: runs inside 5..19 and 23..49, one touching each edge */
    snap_run ok[] = {{5, 5, SEQ_NUM_VOIDED, 900, "a"},
                     {6, 19, SEQ_NUM_VOIDED, 1000, "b b"},
                     {23, 23, SEQ_NUM_VOIDED, 1000, "b b"},
                     {24, 24, SEQ_NUM_VOIDED, 1000, "c"},
                     {49, 49, SEQ_NUM_VOIDED, INT64_MIN, "~"}};
    seq_state *d = snap_decode(2, true, 5, ok, 5);
    assert_non_null(d);
    expect_lookup(d, "a", 10, SEQ_NUM_VOIDED, 1000, "b b");
    expect_lookup(d, "a", 49, SEQ_NUM_VOIDED, INT64_MIN, "~");
    expect_lookup(d, "a", 25, SEQ_NUM_FINAL, 0, NULL);
    int64_t all[] = {5, 5, 6, 19, 23, 23, 24, 24, 49, 49};
    expect_gaps(d, "a", INT64_MIN, INT64_MAX, 5, all, false);
    d = roundtrip(d, 100);
    expect_gaps(d, "a", INT64_MIN, INT64_MAX, 5, all, false);
    seq_state_free(d);
    /* invalid ledgers: each is refused */
    char *long_reason = repeat_char('r', SEQ_REASON_MAX + 1);
    struct {
        snap_run run[2];
        size_t n;
    } bad[] = {
        {{{10, 9, SEQ_NUM_VOIDED, 1000, "r"}}, 1},               /* first > last */
        {{{4, 4, SEQ_NUM_VOIDED, 1000, "r"}}, 1},                /* below START */
        {{{20, 20, SEQ_NUM_VOIDED, 1000, "r"}}, 1},              /* burned */
        {{{19, 23, SEQ_NUM_VOIDED, 1000, "r"}}, 1},              /* spans burned */
        {{{50, 50, SEQ_NUM_VOIDED, 1000, "r"}}, 1},              /* the cursor */
        {{{49, 50, SEQ_NUM_VOIDED, 1000, "r"}}, 1},              /* past it */
        {{{0, 0, SEQ_NUM_VOIDED, 1000, "r"}}, 1},                /* no range */
        {{{10, 10, SEQ_NUM_FINAL, 1000, "r"}}, 1},               /* state */
        {{{10, 10, SEQ_NUM_NOT_ISSUED, 1000, "r"}}, 1},
        {{{10, 10, 3, 1000, "r"}}, 1},
        {{{10, 10, SEQ_NUM_VOIDED, 1001, "r"}}, 1},              /* after the clock */
        {{{10, 10, SEQ_NUM_VOIDED, 1000, ""}}, 1},               /* reasons */
        {{{10, 10, SEQ_NUM_VOIDED, 1000, "a\tb"}}, 1},
        {{{10, 10, SEQ_NUM_VOIDED, 1000, "\x7f"}}, 1},
        {{{10, 10, SEQ_NUM_VOIDED, 1000, long_reason}}, 1},
        {{{12, 12, SEQ_NUM_VOIDED, 1000, "r"}, {10, 10, SEQ_NUM_VOIDED, 1000, "r"}}, 2},
        {{{10, 12, SEQ_NUM_VOIDED, 1000, "r"}, {12, 14, SEQ_NUM_VOIDED, 1000, "s"}}, 2},
        {{{10, 10, SEQ_NUM_VOIDED, 1000, "r"}, {10, 10, SEQ_NUM_VOIDED, 1000, "r"}}, 2},
        /* adjacent and equal: not merged, not canonical */
        {{{10, 10, SEQ_NUM_VOIDED, 1000, "r"}, {11, 11, SEQ_NUM_VOIDED, 1000, "r"}}, 2},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d = snap_decode(2, true, (uint32_t)bad[i].n, bad[i].run, bad[i].n);
        if (d != NULL) {
            fail_msg("bad ledger %zu was accepted", i);
        }
    }
    free(long_reason);
    /* counts that do not match the runs, or are over the limit */
    assert_null(snap_decode(2, true, 2, ok, 1));
    assert_null(snap_decode(2, true, 1, ok, 2));
    assert_null(snap_decode(2, true, SEQ_LEDGER_MAX + 1, ok, 1));
    assert_null(snap_decode(2, true, UINT32_MAX, ok, 1));
    /* a tombstone has no ledger */
    assert_null(snap_decode(2, false, 1, ok, 1));
    d = snap_decode(2, false, 0, NULL, 0);
    assert_non_null(d);
    seq_state_free(d);
}

/* ---- the random-operation test against a reference model --------------- */

/* The model: per name a list of ranges, the numbers issued by the current
 * incarnation, the numbers skipped by START, the numbers burned by earlier
 * incarnations, and every number ever issued. Numbers are small offsets
 * [0, MD) from a base, so the model can be exhaustive; the base puts the
 * domain at 0, at INT64_MIN or ending at INT64_MAX. */
#define MD 96
#define M_NAMES 5
#define M_KEYS_CAP 8
#define M_KEY_POOL 6

typedef struct mrange {
    int lo, hi;
} mrange;

typedef struct mseq {
    char name[SEQ_NAME_MAX + 1];
    bool live;
    uint64_t inc;
    int dmin, dmax, dstart;
    bool dhas_start;
    mrange ranges[MD];
    size_t n_ranges;
    bool issued[MD], skipped[MD], burned[MD], ever[MD];
    uint64_t n_issued;
    /* the ledger of the current incarnation: voided numbers, when and why */
    bool voided[MD];
    int64_t vtime[MD];
    int vreason[MD]; /* index into reason_pool */
} mseq;

typedef struct mkey {
    int who;
    uint64_t inc;
    int keyi;
    uint32_t count;
    int nums[MD];
    int n;
    int64_t inserted;
} mkey;

typedef struct model {
    uint64_t seed;
    uint64_t rng;
    size_t op;
    int64_t base;
    int64_t clock;
    int64_t el;   /* the state's elapsed clock, as the model counts it */
    bool ticked;  /* a tick started the elapsed clock */
    uint64_t incs;
    size_t keys_max;
    mseq seqs[M_NAMES];
    mkey keys[M_KEYS_CAP]; /* FIFO: keys[0] is the oldest */
    size_t n_keys;
    size_t n_voided, n_gap_runs; /* coverage: new voids, runs GAPS returned */
} model;

#define MCHECK(m, cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fail_msg("seed=%lu op=%zu: check failed: %s (line %d)",            \
                     (unsigned long)(m)->seed, (m)->op, #cond, __LINE__);      \
        }                                                                      \
    } while (0)

static const char *const key_pool[M_KEY_POOL] = {"k0", "k1", "k2", "k3", "k4", "k5"};

/* VOID reasons: the first M_REASONS_OK are valid. */
#define M_REASONS_OK 4
#define M_REASON_POOL 7
static const char *const reason_pool[M_REASON_POOL] = {
    "damaged", "printer jam", "x", "damaged ", "", "bad\x01", "tab\t"};

static uint64_t mrand(model *m, uint64_t n)
{
    return splitmix64(&m->rng) % n;
}

static int64_t mnum(const model *m, int off)
{
    return (int64_t)((uint64_t)m->base + (uint64_t)off);
}

/* The offset of x, or -1 when x is outside the model's domain. */
static int moff(const model *m, int64_t x)
{
    uint64_t u = (uint64_t)x - (uint64_t)m->base;
    return u < MD ? (int)u : -1;
}

static bool mavail(const mseq *q, int x)
{
    return !q->issued[x] && !q->skipped[x] && !q->burned[x];
}

/* The available numbers in issue order (all of them; at most MD). */
static int mcollect(const mseq *q, int *out)
{
    int n = 0;
    for (size_t i = 0; i < q->n_ranges; i++) {
        for (int x = q->ranges[i].lo; x <= q->ranges[i].hi; x++) {
            if (mavail(q, x)) {
                out[n++] = x;
            }
        }
    }
    return n;
}

static bool min_range(const mseq *q, int x)
{
    for (size_t i = 0; i < q->n_ranges; i++) {
        if (x >= q->ranges[i].lo && x <= q->ranges[i].hi) {
            return true;
        }
    }
    return false;
}

/* r's runs, flattened, must be exactly want[0..n). */
static void mexpect_runs(model *m, const mseq *q, const seq_result *r,
                         const int *want, int n)
{
    int k = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        MCHECK(m, r->runs[i].first <= r->runs[i].last);
        for (int64_t x = r->runs[i].first;; x++) {
            MCHECK(m, k < n);
            int off = moff(m, x);
            MCHECK(m, off == want[k]);
            MCHECK(m, min_range(q, off));
            k++;
            if (x == r->runs[i].last) {
                break;
            }
        }
        /* consecutive runs are not contiguous within one range: a run only
         * ends at a range end or a gap */
        if (i + 1 < r->n_runs && r->runs[i].last != INT64_MAX &&
            r->runs[i].last + 1 == r->runs[i + 1].first) {
            bool at_end = false;
            int off = moff(m, r->runs[i].last);
            for (size_t j = 0; j < q->n_ranges; j++) {
                at_end = at_end || q->ranges[j].hi == off;
            }
            MCHECK(m, at_end);
        }
    }
    MCHECK(m, k == n);
}

static mkey *mkey_find(model *m, int who, int keyi)
{
    for (size_t i = 0; i < m->n_keys; i++) {
        if (m->keys[i].who == who && m->keys[i].inc == m->seqs[who].inc &&
            m->keys[i].keyi == keyi) {
            return &m->keys[i];
        }
    }
    return NULL;
}

static void mtick(model *m, seq_state *s, int64_t now, int64_t retention)
{
    seq_tick(s, now, retention);
    /* the elapsed clock: the first tick (after the stamp state_with_keys
     * entered, of another origin) starts it; later ones add what the clock
     * moved forward */
    if (m->ticked && now > m->clock) {
        m->el += (int64_t)((uint64_t)now - (uint64_t)m->clock);
    }
    if (!m->ticked || now > m->clock) {
        m->clock = now;
    }
    m->ticked = true;
    if (retention < 0) {
        retention = 0;
    }
    size_t drop = 0;
    while (drop < m->n_keys &&
           (__int128)m->el - m->keys[drop].inserted >= retention) {
        drop++;
    }
    memmove(m->keys, m->keys + drop, sizeof(mkey) * (m->n_keys - drop));
    m->n_keys -= drop;
    MCHECK(m, seq_clock_ms(s) == m->clock);
}

static void mcreate(model *m, seq_state *s, int who, int lo, int hi,
                    bool has_start, int start)
{
    mseq *q = &m->seqs[who];
    seq_cmd c = cmd_of(SEQ_OP_CREATE, q->name);
    c.min = mnum(m, lo);
    c.max = mnum(m, hi);
    c.has_start = has_start;
    c.start = has_start ? mnum(m, start) : 0;
    int want;
    if (lo > hi || (has_start && (start < lo || start > hi))) {
        want = SEQ_ERR_RANGE;
    } else if (q->live) {
        /* START min means the same as no START */
        int had = q->dhas_start ? q->dstart : q->dmin;
        int asks = has_start ? start : lo;
        bool same = q->dmin == lo && q->dmax == hi && had == asks;
        want = same ? SEQ_OK : SEQ_ERR_EXISTS;
    } else {
        want = SEQ_OK;
        q->live = true;
        q->inc = ++m->incs;
        q->dmin = lo;
        q->dmax = hi;
        q->dhas_start = has_start;
        q->dstart = start;
        q->ranges[0] = (mrange){lo, hi};
        q->n_ranges = 1;
        memset(q->issued, 0, sizeof(q->issued));
        memset(q->skipped, 0, sizeof(q->skipped));
        if (has_start) {
            for (int x = lo; x < start; x++) {
                q->skipped[x] = true;
            }
        }
        q->n_issued = 0;
    }
    MCHECK(m, apply_status(s, &c) == want);
}

static void maddrange(model *m, seq_state *s, int who, int lo, int hi)
{
    mseq *q = &m->seqs[who];
    seq_cmd c = cmd_of(SEQ_OP_ADDRANGE, q->name);
    c.min = mnum(m, lo);
    c.max = mnum(m, hi);
    int want = SEQ_OK;
    if (lo > hi) {
        want = SEQ_ERR_RANGE;
    } else if (!q->live) {
        want = SEQ_ERR_NOSEQ;
    } else {
        for (size_t i = 0; i < q->n_ranges; i++) {
            if (lo <= q->ranges[i].hi && q->ranges[i].lo <= hi) {
                want = SEQ_ERR_OVERLAP;
            }
        }
        if (want == SEQ_OK) {
            q->ranges[q->n_ranges++] = (mrange){lo, hi};
        }
    }
    MCHECK(m, apply_status(s, &c) == want);
}

/* keyi: -1 no key, -2 an invalid key, else an index into key_pool. */
static void mnext(model *m, seq_state *s, int who, uint32_t count, int keyi)
{
    mseq *q = &m->seqs[who];
    seq_cmd c = cmd_of(SEQ_OP_NEXT, q->name);
    c.count = count;
    if (keyi == -2) {
        c.key = "bad key";
    } else if (keyi >= 0) {
        c.key = key_pool[keyi];
    }
    c.key_len = c.key == NULL ? 0 : strlen(c.key);
    seq_result r;
    int rv = seq_apply(s, &c, &r);
    MCHECK(m, rv == r.status);

    int avail[MD];
    int want;
    if (count < 1 || count > SEQ_COUNT_MAX) {
        want = SEQ_ERR_COUNT;
    } else if (keyi == -2) {
        want = SEQ_ERR_KEY;
    } else if (!q->live) {
        want = SEQ_ERR_NOSEQ;
    } else {
        mkey *e = keyi >= 0 ? mkey_find(m, who, keyi) : NULL;
        if (e != NULL) {
            bool voided = false; /* a voided number is never answered as valid */
            for (int i = 0; i < e->n; i++) {
                voided = voided || q->voided[e->nums[i]];
            }
            MCHECK(m, rv == (e->count != count ? SEQ_ERR_KEY_REUSED
                             : voided          ? SEQ_ERR_KEY_VOIDED
                                               : SEQ_OK));
            if (rv == SEQ_OK) {
                mexpect_runs(m, q, &r, e->nums, e->n);
            }
            seq_result_free(&r);
            return;
        }
        if (keyi >= 0 && m->n_keys >= m->keys_max) {
            want = SEQ_ERR_KEYS_FULL;
        } else {
            int n = mcollect(q, avail);
            if ((uint32_t)n < count) {
                want = SEQ_ERR_EXHAUSTED;
                MCHECK(m, rv == want);
                MCHECK(m, r.remaining == (uint64_t)n);
            } else {
                want = SEQ_OK;
                MCHECK(m, rv == want);
                mexpect_runs(m, q, &r, avail, (int)count);
                for (uint32_t i = 0; i < count; i++) {
                    int x = avail[i];
                    /* uniqueness across every incarnation of the name */
                    MCHECK(m, !q->ever[x]);
                    q->ever[x] = true;
                    q->issued[x] = true;
                }
                q->n_issued += count;
                if (keyi >= 0) {
                    MCHECK(m, m->n_keys < M_KEYS_CAP);
                    mkey *k = &m->keys[m->n_keys++];
                    k->who = who;
                    k->inc = q->inc;
                    k->keyi = keyi;
                    k->count = count;
                    k->n = (int)count;
                    memcpy(k->nums, avail, sizeof(int) * count);
                    k->inserted = m->el; /* retention counts elapsed time */
                }
            }
        }
    }
    MCHECK(m, rv == want);
    if (rv != SEQ_OK) {
        MCHECK(m, r.n_runs == 0);
    }
    seq_result_free(&r);
}

static void mdescribe(model *m, seq_state *s, int who)
{
    mseq *q = &m->seqs[who];
    seq_cmd c = cmd_of(SEQ_OP_DESCRIBE, q->name);
    seq_result r;
    int rv = seq_apply(s, &c, &r);
    if (!q->live) {
        MCHECK(m, rv == SEQ_ERR_NOSEQ);
        seq_result_free(&r);
        return;
    }
    MCHECK(m, rv == SEQ_OK);
    MCHECK(m, r.name_len == strlen(q->name));
    MCHECK(m, strcmp(r.name, q->name) == 0);
    MCHECK(m, r.n_ranges == q->n_ranges);
    for (size_t i = 0; i < q->n_ranges; i++) {
        MCHECK(m, r.ranges[i].min == mnum(m, q->ranges[i].lo));
        MCHECK(m, r.ranges[i].max == mnum(m, q->ranges[i].hi));
    }
    int avail[MD];
    int n = mcollect(q, avail);
    MCHECK(m, r.has_next == (n > 0));
    if (n > 0) {
        MCHECK(m, r.next == mnum(m, avail[0]));
    }
    MCHECK(m, r.issued == q->n_issued);
    MCHECK(m, r.remaining == (uint64_t)n);
    seq_result_free(&r);
}

static void mdrop(model *m, seq_state *s, int who)
{
    mseq *q = &m->seqs[who];
    seq_cmd c = cmd_of(SEQ_OP_DROP, q->name);
    int want = SEQ_ERR_NOSEQ;
    if (q->live) {
        want = SEQ_OK;
        for (int x = 0; x < MD; x++) {
            q->burned[x] = q->burned[x] || q->issued[x] || q->skipped[x];
        }
        q->live = false;
        q->n_ranges = 0;
        memset(q->voided, 0, sizeof(q->voided));
    }
    MCHECK(m, apply_status(s, &c) == want);
}

static void mrange_rand(model *m, int *lo, int *hi);

/* A number to VOID or LOOKUP: mostly one the current incarnation issued,
 * else anywhere in the domain, sometimes just outside it. */
static int64_t mpick(model *m, const mseq *q)
{
    uint64_t d = mrand(m, 10);
    if (d < 6 && q->live) {
        int issued[MD], n = 0;
        for (int x = 0; x < MD; x++) {
            if (q->issued[x]) {
                issued[n++] = x;
            }
        }
        if (n > 0) {
            return mnum(m, issued[mrand(m, (uint64_t)n)]);
        }
    }
    if (d == 9) {
        return mrand(m, 2) ? mnum(m, -1) : mnum(m, MD); /* wraps: still outside */
    }
    return mnum(m, (int)mrand(m, MD));
}

static void mvoid(model *m, seq_state *s, int who)
{
    mseq *q = &m->seqs[who];
    int64_t v = mpick(m, q);
    int x = moff(m, v);
    int ri = (int)mrand(m, M_REASON_POOL);
    if (mrand(m, 3) != 0) {
        ri = (int)mrand(m, M_REASONS_OK); /* mostly valid, and few, so runs merge */
    }
    seq_cmd c = cmd_of(SEQ_OP_VOID, q->name);
    c.min = v;
    c.text = reason_pool[ri];
    c.text_len = strlen(c.text);
    int want;
    if (ri >= M_REASONS_OK) {
        want = SEQ_ERR_REASON;
    } else if (!q->live) {
        want = SEQ_ERR_NOSEQ;
    } else if (x < 0 || !q->issued[x]) {
        want = SEQ_ERR_NOTISSUED;
    } else {
        want = SEQ_OK;
        if (!q->voided[x]) {
            m->n_voided++;
            q->voided[x] = true;
            q->vtime[x] = m->clock;
            q->vreason[x] = ri;
        }
    }
    MCHECK(m, apply_status(s, &c) == want);
}

static void mlookup(model *m, seq_state *s, int who)
{
    mseq *q = &m->seqs[who];
    int64_t v = mpick(m, q);
    int x = moff(m, v);
    seq_cmd c = cmd_of(SEQ_OP_LOOKUP, q->name);
    c.min = v;
    seq_result r;
    int rv = seq_apply(s, &c, &r);
    MCHECK(m, rv == r.status);
    if (!q->live) {
        MCHECK(m, rv == SEQ_ERR_NOSEQ);
    } else {
        MCHECK(m, rv == SEQ_OK);
        if (x >= 0 && q->voided[x]) {
            MCHECK(m, q->issued[x]);
            MCHECK(m, r.state == SEQ_NUM_VOIDED);
            MCHECK(m, r.time_ms == q->vtime[x]);
            MCHECK(m, r.reason != NULL && strcmp(r.reason, reason_pool[q->vreason[x]]) == 0);
        } else {
            bool issued = x >= 0 && q->issued[x];
            MCHECK(m, r.state == (issued ? SEQ_NUM_FINAL : SEQ_NUM_NOT_ISSUED));
            MCHECK(m, r.reason == NULL);
        }
    }
    seq_result_free(&r);
}

/* GAPS over [lo, hi] (offsets; whole = the whole int64 domain) must list the
 * model's voided numbers in that window: maximal runs of consecutive numbers
 * with the same time and reason, ascending. */
static void mgaps_check(model *m, seq_state *s, int who, int lo, int hi, bool whole)
{
    mseq *q = &m->seqs[who];
    seq_cmd c = cmd_of(SEQ_OP_GAPS, q->name);
    c.min = whole ? INT64_MIN : mnum(m, lo);
    c.max = whole ? INT64_MAX : mnum(m, hi);
    seq_result r;
    int rv = seq_apply(s, &c, &r);
    MCHECK(m, rv == r.status);
    if (whole) {
        lo = 0;
        hi = MD - 1;
    }
    if (lo > hi) {
        MCHECK(m, rv == SEQ_ERR_RANGE);
    } else if (!q->live) {
        MCHECK(m, rv == SEQ_ERR_NOSEQ);
    } else {
        MCHECK(m, rv == SEQ_OK);
        MCHECK(m, !r.more);
        size_t k = 0;
        for (int x = lo; x <= hi; x++) {
            if (!q->voided[x]) {
                continue;
            }
            int y = x;
            while (y + 1 <= hi && q->voided[y + 1] && q->vtime[y + 1] == q->vtime[x] &&
                   q->vreason[y + 1] == q->vreason[x]) {
                y++;
            }
            MCHECK(m, k < r.n_ledger);
            MCHECK(m, r.ledger[k].first == mnum(m, x));
            MCHECK(m, r.ledger[k].last == mnum(m, y));
            MCHECK(m, r.ledger[k].state == SEQ_NUM_VOIDED);
            MCHECK(m, r.ledger[k].time_ms == q->vtime[x]);
            MCHECK(m, strcmp(r.ledger[k].reason, reason_pool[q->vreason[x]]) == 0);
            k++;
            x = y;
        }
        MCHECK(m, k == r.n_ledger);
        m->n_gap_runs += k;
    }
    if (rv != SEQ_OK) {
        MCHECK(m, r.n_ledger == 0);
    }
    seq_result_free(&r);
}

static void mgaps(model *m, seq_state *s, int who)
{
    if (mrand(m, 3) == 0) {
        mgaps_check(m, s, who, 0, MD - 1, true);
        return;
    }
    int lo, hi;
    mrange_rand(m, &lo, &hi);
    mgaps_check(m, s, who, lo, hi, false);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void mlist(model *m, seq_state *s)
{
    const char *want[M_NAMES];
    size_t n = 0;
    for (int i = 0; i < M_NAMES; i++) {
        if (m->seqs[i].live) {
            want[n++] = m->seqs[i].name;
        }
    }
    qsort(want, n, sizeof(want[0]), cmp_str);
    seq_result r;
    do_list(s, &r);
    MCHECK(m, r.n_names == n);
    for (size_t i = 0; i < n; i++) {
        MCHECK(m, strcmp(r.names[i], want[i]) == 0);
    }
    seq_result_free(&r);
}

static void mbadname(model *m, seq_state *s)
{
    static const char *const bad[] = {"", "a b", "\x01", "caf\xc3\xa9", "x\x7f"};
    static const uint8_t ops[] = {SEQ_OP_CREATE, SEQ_OP_ADDRANGE, SEQ_OP_NEXT,
                                  SEQ_OP_DESCRIBE, SEQ_OP_DROP, SEQ_OP_VOID,
                                  SEQ_OP_GAPS, SEQ_OP_LOOKUP};
    seq_cmd c = cmd_of(ops[mrand(m, 8)], bad[mrand(m, 5)]);
    c.min = 1;
    c.max = 2;
    c.text = "r";
    c.text_len = 1;
    MCHECK(m, apply_status(s, &c) == SEQ_ERR_NAME);
}

/* A random range [lo, hi] of the domain, sometimes inverted. */
static void mrange_rand(model *m, int *lo, int *hi)
{
    int a = (int)mrand(m, MD);
    int w = mrand(m, 10) == 0 ? (int)mrand(m, 40) : (int)mrand(m, 12);
    int b = a + w > MD - 1 ? MD - 1 : a + w;
    if (mrand(m, 20) == 0) {
        *lo = b;
        *hi = a == b ? a - 1 : a;
        if (*hi < 0) {
            *hi = 0;
            *lo = 1;
        }
    } else {
        *lo = a;
        *hi = b;
    }
}

static void run_model(uint64_t seed, size_t n_ops)
{
    printf("seed=%lu\n", (unsigned long)seed);
    fflush(stdout);
    model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->seed = seed;
    m->rng = seed;
    switch (seed % 3) {
    case 0: m->base = 0; break;
    case 1: m->base = INT64_MIN; break;
    default: m->base = INT64_MAX - (MD - 1); break;
    }
    m->clock = INT64_MIN;
    m->keys_max = (size_t)mrand(m, M_KEYS_CAP + 1); /* 0..8 */
    if (m->keys_max < 2 && mrand(m, 2) == 0) {
        m->keys_max = 4;
    }
    static const int64_t retentions[] = {0, 5, 40, 400};
    int64_t retention = retentions[mrand(m, 4)];
    static const int64_t epochs[] = {0, 1700000000000, -1000000, INT64_MIN / 2};
    int64_t wall = epochs[mrand(m, 4)];
    for (int i = 0; i < M_NAMES; i++) {
        if (i == M_NAMES - 1) {
            memset(m->seqs[i].name, 'x', SEQ_NAME_MAX);
            m->seqs[i].name[SEQ_NAME_MAX] = '\0';
        } else {
            static const char *const names[] = {"a", "b", "Z~9", "a.b"};
            strcpy(m->seqs[i].name, names[i]);
        }
    }
    seq_state *s = state_with_keys(m->keys_max);

    for (m->op = 0; m->op < n_ops; m->op++) {
        int who = (int)mrand(m, M_NAMES);
        mseq *q = &m->seqs[who];
        uint64_t dice = mrand(m, 120);
        if (dice < 12) {
            int lo, hi;
            if (q->live && mrand(m, 5) == 0) {
                mcreate(m, s, who, q->dmin, q->dmax, q->dhas_start, q->dstart);
                continue;
            }
            mrange_rand(m, &lo, &hi);
            bool has_start = mrand(m, 3) == 0;
            int start = lo;
            if (has_start && lo <= hi) {
                start = lo + (int)mrand(m, (uint64_t)(hi - lo + 1));
                if (mrand(m, 10) == 0) {
                    if (lo > 0) {
                        start = lo - 1;
                    } else if (hi < MD - 1) {
                        start = hi + 1;
                    }
                }
            }
            mcreate(m, s, who, lo, hi, has_start, start);
        } else if (dice < 24) {
            int lo, hi;
            mrange_rand(m, &lo, &hi);
            maddrange(m, s, who, lo, hi);
        } else if (dice < 64) {
            uint32_t count = 1;
            uint64_t cd = mrand(m, 100);
            if (cd < 30) {
                count = 1 + (uint32_t)mrand(m, 15);
            } else if (cd < 32) {
                count = 200;
            } else if (cd < 33) {
                count = mrand(m, 2) ? 0 : SEQ_COUNT_MAX + 1;
            } else if (cd < 34) {
                count = SEQ_COUNT_MAX;
            }
            int keyi = -1;
            uint64_t kd = mrand(m, 100);
            if (kd < 40) {
                keyi = (int)mrand(m, M_KEY_POOL);
            } else if (kd < 41) {
                keyi = -2;
            }
            mnext(m, s, who, count, keyi);
        } else if (dice < 72) {
            mdescribe(m, s, who);
        } else if (dice < 75) {
            mlist(m, s);
        } else if (dice < 82) {
            mdrop(m, s, who);
        } else if (dice < 95) {
            if (mrand(m, 8) == 0) {
                wall -= (int64_t)mrand(m, 60);
            } else {
                wall += (int64_t)mrand(m, 20);
            }
            int64_t ret = retention;
            uint64_t rd = mrand(m, 20);
            if (rd == 0) {
                ret = (int64_t)mrand(m, 100);
            } else if (rd == 1) {
                ret = -5;
            }
            mtick(m, s, wall, ret);
        } else if (dice < 97) {
            s = roundtrip(s, m->keys_max);
        } else if (dice < 100) {
            mbadname(m, s);
        } else if (dice < 112) {
            mvoid(m, s, who);
        } else if (dice < 116) {
            mgaps(m, s, who);
        } else {
            mlookup(m, s, who);
        }
        /* after every op: the ledger of the name just used is exactly the
         * model's voided numbers (GAPS over the whole int64 domain) */
        mgaps_check(m, s, who, 0, MD - 1, true);
        /* after every op: the counters agree with the model */
        size_t live = 0;
        for (int i = 0; i < M_NAMES; i++) {
            live += m->seqs[i].live ? 1 : 0;
        }
        MCHECK(m, seq_count_live(s) == live);
        MCHECK(m, seq_count_keys(s) == m->n_keys);
        MCHECK(m, seq_clock_ms(s) == m->clock);
    }
    /* at the end, every live sequence agrees in full, and each internal
     * sequence is valid */
    for (int i = 0; i < M_NAMES; i++) {
        mdescribe(m, s, i);
        mgaps_check(m, s, i, 0, MD - 1, true);
    }
    for (seq_sequence *sq = s->by_name; sq != NULL; sq = sq->hh.next) {
        MCHECK(m, seq_sequence_valid(sq));
    }
    printf("seed=%lu: %zu numbers voided, %zu ledger runs seen by GAPS\n",
           (unsigned long)seed, m->n_voided, m->n_gap_runs);
    MCHECK(m, m->n_voided > 0 && m->n_gap_runs > 0);
    seq_state_free(s);
    free(m);
}

static void test_random_model(void **state)
{
    (void)state;
    const char *env = getenv("SEQ_TEST_SEED");
    if (env != NULL && env[0] != '\0') {
        run_model(strtoull(env, NULL, 0), 20000);
        return;
    }
    static const uint64_t seeds[] = {20240601, 1, 2, 3, 4, 5, 6, 7, 8,
                                     0xdecafbadULL, 0x123456789abcdefULL};
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        run_model(seeds[i], 6000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_basic),
        cmocka_unit_test(test_create_same_and_exists),
        cmocka_unit_test(test_create_start),
        cmocka_unit_test(test_create_min_gt_max),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_lookup_key),
        cmocka_unit_test(test_bad_op_and_status_text),
        cmocka_unit_test(test_sequences_max),
        cmocka_unit_test(test_next_sequential),
        cmocka_unit_test(test_next_count_all_or_nothing),
        cmocka_unit_test(test_next_count_crosses_ranges),
        cmocka_unit_test(test_next_count_limits),
        cmocka_unit_test(test_next_noseq),
        cmocka_unit_test(test_addrange_overlap_shapes),
        cmocka_unit_test(test_addrange_revives_exhausted),
        cmocka_unit_test(test_addrange_order_added),
        cmocka_unit_test(test_addrange_limit),
        cmocka_unit_test(test_int64_max_edge),
        cmocka_unit_test(test_int64_min_edge),
        cmocka_unit_test(test_int64_full_range),
        cmocka_unit_test(test_count_past_int64_max_refused),
        cmocka_unit_test(test_drop_recreate_never_reissues),
        cmocka_unit_test(test_drop_start_prefix),
        cmocka_unit_test(test_drop_missing_and_list),
        cmocka_unit_test(test_list_sorted),
        cmocka_unit_test(test_drop_history_limit),
        cmocka_unit_test(test_key_same_numbers),
        cmocka_unit_test(test_key_different_keys),
        cmocka_unit_test(test_key_reused_count),
        cmocka_unit_test(test_key_scope),
        cmocka_unit_test(test_key_expiry_exact),
        cmocka_unit_test(test_key_before_first_tick),
        cmocka_unit_test(test_key_clock_never_backwards),
        cmocka_unit_test(test_keys_full),
        cmocka_unit_test(test_key_invalid),
        cmocka_unit_test(test_describe_values),
        cmocka_unit_test(test_snapshot_roundtrip_behaviour),
        cmocka_unit_test(test_snapshot_truncations),
        cmocka_unit_test(test_state_check_catches_each_break),
        cmocka_unit_test(test_snapshot_refuses_foreign_retained_key),
        cmocka_unit_test(test_snapshot_refuses_shared_incarnation),
        cmocka_unit_test(test_snapshot_refuses_cursor_below_start),
        cmocka_unit_test(test_snapshot_refuses_key_of_future_incarnation),
        cmocka_unit_test(test_snapshot_corruption),
        cmocka_unit_test(test_void_basic),
        cmocka_unit_test(test_void_not_issued),
        cmocka_unit_test(test_void_reason),
        cmocka_unit_test(test_void_merge),
        cmocka_unit_test(test_ledger_limit),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_gaps_cut),
        cmocka_unit_test(test_snapshot_v1),
        cmocka_unit_test(test_snapshot_ledger),
        cmocka_unit_test(test_random_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
