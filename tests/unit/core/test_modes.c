/* Unit tests for the sequence modes of the core (src/core/seq.c, src/core/seq_snapshot.c):
 * strict, gapless and cached sequences, range windows (NOTBEFORE/NOTAFTER),
 * RESERVE/CONFIRM/RELEASE with TTLs and permanent keys, VOID in every
 * ledger state, cached blocks (ALLOCBLOCK/USED/RECOVER), UNDELIVERED, WARN
 * thresholds and rates, and snapshot v3 round trips of all of it.
 *
 * The second half is a seeded random-operation test against a reference
 * model that tracks the state of every number; after every operation it
 * checks the ledger invariant (every number a sequence handed out, and every
 * expired rest, is final or listed by GAPS with the right state), that no
 * number is handed out twice unless it was released first, and that numbers
 * never leave their ranges and windows. It prints "seed=N"; set
 * SEQ_TEST_SEED=N to replay one seed (longer). Time enters only through
 * seq_tick, as in the server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "seq.h"
#include "seq_internal.h"

/* The independent history checker (shares no code with the core). */
#include "history.c"

/* ---- helpers ------------------------------------------------------------ */

#define KEYS_MAX 1000
#define REASON_LAPSED "reservation ran out"
#define REASON_SKIPPED "cached block given up: a leader change, a restart, or its range expired"
#define REASON_EXPIRED "range expired (NOTAFTER passed)"
#define REASON_CACHED "in the leader's cache block, not yet reported served"

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

static seq_state *mk(void)
{
    return state_with_keys(KEYS_MAX);
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

static void set_key(seq_cmd *c, const char *key)
{
    c->key = key;
    c->key_len = key == NULL ? 0 : strlen(key);
}

static void set_text(seq_cmd *c, const char *text)
{
    c->text = text;
    c->text_len = text == NULL ? 0 : strlen(text);
}

/* Applies c into *r (the caller frees it); checks the result's framing. */
static int apply(seq_state *s, const seq_cmd *c, seq_result *r)
{
    int rv = seq_apply(s, c, r);
    assert_int_equal(rv, r->status);
    assert_int_equal(r->op, c->op);
    if (rv != SEQ_OK) {
        assert_int_equal(r->n_runs, 0);
    }
    return rv;
}

/* Applies c, frees the result, returns the status. */
static int st(seq_state *s, const seq_cmd *c)
{
    seq_result r;
    int rv = apply(s, c, &r);
    seq_result_free(&r);
    return rv;
}

static int create(seq_state *s, const char *name, int64_t min, int64_t max, uint8_t mode,
                  uint32_t cache, uint64_t warn)
{
    seq_cmd c = cmd_of(SEQ_OP_CREATE, name);
    c.min = min;
    c.max = max;
    c.mode = mode;
    c.cache = cache;
    c.warn = warn;
    return st(s, &c);
}

/* A CREATE or ADDRANGE with a window; INT64_MIN / INT64_MAX here mean "no
 * bound given" (tests that need an explicit extreme build the command). */
static seq_cmd range_cmd(uint8_t op, const char *name, int64_t min, int64_t max, int64_t nb,
                         int64_t na)
{
    seq_cmd c = cmd_of(op, name);
    c.min = min;
    c.max = max;
    c.has_not_before = nb != INT64_MIN;
    c.not_before = nb;
    c.has_not_after = na != INT64_MAX;
    c.not_after = na;
    return c;
}

static int create_win(seq_state *s, const char *name, int64_t min, int64_t max, uint8_t mode,
                      int64_t nb, int64_t na)
{
    seq_cmd c = range_cmd(SEQ_OP_CREATE, name, min, max, nb, na);
    c.mode = mode;
    c.cache = mode == SEQ_MODE_CACHED ? 10 : 0;
    return st(s, &c);
}

static int addrange(seq_state *s, const char *name, int64_t min, int64_t max, int64_t nb,
                    int64_t na)
{
    seq_cmd c = range_cmd(SEQ_OP_ADDRANGE, name, min, max, nb, na);
    return st(s, &c);
}

/* NEXT name COUNT count [KEY key] into *r. */
static int next(seq_state *s, const char *name, uint32_t count, const char *key, seq_result *r)
{
    seq_cmd c = cmd_of(SEQ_OP_NEXT, name);
    c.count = count;
    set_key(&c, key);
    return apply(s, &c, r);
}

/* NEXT name [KEY key]: must succeed with one number. */
static int64_t next1k(seq_state *s, const char *name, const char *key)
{
    seq_result r;
    assert_int_equal(next(s, name, 1, key, &r), SEQ_OK);
    assert_int_equal(r.n_runs, 1);
    assert_true(r.runs[0].first == r.runs[0].last);
    int64_t v = r.runs[0].first;
    seq_result_free(&r);
    return v;
}

static int64_t next1(seq_state *s, const char *name)
{
    return next1k(s, name, NULL);
}

/* NEXT that must fail EXHAUSTED with remaining and opens_ms as given. */
static void expect_exhausted(seq_state *s, const char *name, uint32_t count, uint64_t remaining,
                             int64_t opens_ms)
{
    seq_result r;
    assert_int_equal(next(s, name, count, NULL, &r), SEQ_ERR_EXHAUSTED);
    assert_int_equal(r.remaining, remaining);
    assert_int_equal(r.opens_ms, opens_ms);
    seq_result_free(&r);
}

/* RESERVE name [TTL ttl_ms] [KEY key] into *r. */
static int reserve(seq_state *s, const char *name, int64_t ttl_ms, const char *key, seq_result *r)
{
    seq_cmd c = cmd_of(SEQ_OP_RESERVE, name);
    c.ttl_ms = ttl_ms;
    set_key(&c, key);
    return apply(s, &c, r);
}

/* RESERVE that must succeed; returns the number, *replayed as reported. */
static int64_t reserve1(seq_state *s, const char *name, int64_t ttl_ms, const char *key,
                        bool *replayed)
{
    seq_result r;
    assert_int_equal(reserve(s, name, ttl_ms, key, &r), SEQ_OK);
    assert_int_equal(r.n_runs, 1);
    assert_true(r.runs[0].first == r.runs[0].last);
    int64_t v = r.runs[0].first;
    if (replayed != NULL) {
        *replayed = r.replayed;
    }
    seq_result_free(&r);
    return v;
}

/* One ms later: a number released at the old clock may be issued again
 * (and the FIFO keys are all kept). */
static void tick1(seq_state *s)
{
    seq_tick(s, seq_clock_ms(s) + 1, INT64_MAX);
}

static int on_number(seq_state *s, uint8_t op, const char *name, int64_t v)
{
    seq_cmd c = cmd_of(op, name);
    c.min = v;
    return st(s, &c);
}

static int confirm(seq_state *s, const char *name, int64_t v)
{
    return on_number(s, SEQ_OP_CONFIRM, name, v);
}

static int release(seq_state *s, const char *name, int64_t v)
{
    return on_number(s, SEQ_OP_RELEASE, name, v);
}

static int void_(seq_state *s, const char *name, int64_t v, const char *reason)
{
    seq_cmd c = cmd_of(SEQ_OP_VOID, name);
    c.min = v;
    set_text(&c, reason);
    return st(s, &c);
}

/* UNDELIVERED of a NEXT's numbers, reported by the process that applied
 * it (count 1: trusted). */
static int undelivered(seq_state *s, const char *name, int64_t first, int64_t last,
                       const char *cause)
{
    seq_cmd c = cmd_of(SEQ_OP_UNDELIVERED, name);
    c.min = first;
    c.max = last;
    set_text(&c, cause);
    return st(s, &c);
}

/* UNDELIVERED as any other sender: count 0 (untrusted), and for a RESERVE's
 * numbers its grant (0: a NEXT's). */
static int undelivered_from(seq_state *s, const char *name, int64_t first, int64_t last,
                            uint64_t grant)
{
    seq_cmd c = cmd_of(SEQ_OP_UNDELIVERED, name);
    c.min = first;
    c.max = last;
    c.count = 0;
    c.has_start = grant != 0;
    c.term = grant;
    set_text(&c, "lost");
    return st(s, &c);
}

static int allocblock(seq_state *s, const char *name, uint32_t count, uint64_t term, uint64_t node,
                      seq_result *r)
{
    seq_cmd c = cmd_of(SEQ_OP_ALLOCBLOCK, name);
    c.count = count;
    c.term = term;
    c.node = node;
    return apply(s, &c, r);
}

static int used(seq_state *s, const char *name, uint32_t count, uint64_t term, uint64_t node)
{
    seq_cmd c = cmd_of(SEQ_OP_USED, name);
    c.count = count;
    c.term = term;
    c.node = node;
    return st(s, &c);
}

static int served(seq_state *s, const char *name, int64_t first, int64_t last, uint64_t term,
                  uint64_t node)
{
    seq_cmd c = cmd_of(SEQ_OP_SERVED, name);
    c.min = first;
    c.max = last;
    c.term = term;
    c.node = node;
    return st(s, &c);
}

static int recover(seq_state *s, uint64_t term, uint64_t node)
{
    seq_cmd c = cmd_of(SEQ_OP_RECOVER, NULL);
    c.term = term;
    c.node = node;
    return st(s, &c);
}

static void lookup(seq_state *s, const char *name, int64_t v, seq_result *r)
{
    seq_cmd c = cmd_of(SEQ_OP_LOOKUP, name);
    c.min = v;
    assert_int_equal(apply(s, &c, r), SEQ_OK);
}

/* LOOKUP must give state (and, unless time_ms is IGNORE, that time). */
#define IGNORE_TIME (INT64_MIN + 1)
static void expect_state(seq_state *s, const char *name, int64_t v, int state, int64_t time_ms)
{
    seq_result r;
    lookup(s, name, v, &r);
    if (r.state != state) {
        fail_msg("LOOKUP %s %" PRId64 ": state %d, want %d", name, v, r.state, state);
    }
    if (time_ms != IGNORE_TIME) {
        assert_int_equal(r.time_ms, time_ms);
    }
    seq_result_free(&r);
}

/* LOOKUP must give this key (NULL: none). */
static void expect_key_of(seq_state *s, const char *name, int64_t v, const char *key)
{
    seq_result r;
    lookup(s, name, v, &r);
    if (key == NULL) {
        assert_null(r.key);
    } else {
        assert_non_null(r.key);
        assert_string_equal(r.key, key);
    }
    seq_result_free(&r);
}

/* LOOKUP name KEY key must give [v, v] (v = INT64_MIN: no runs). */
static void expect_lookup_key(seq_state *s, const char *name, const char *key, int64_t v)
{
    seq_cmd c = cmd_of(SEQ_OP_LOOKUP_KEY, name);
    set_key(&c, key);
    seq_result r;
    assert_int_equal(apply(s, &c, &r), SEQ_OK);
    if (v == INT64_MIN) {
        assert_int_equal(r.n_runs, 0);
    } else {
        assert_int_equal(r.n_runs, 1);
        assert_int_equal(r.runs[0].first, v);
        assert_int_equal(r.runs[0].last, v);
    }
    seq_result_free(&r);
}

static void gaps(seq_state *s, const char *name, int64_t from, int64_t to, seq_result *r)
{
    seq_cmd c = cmd_of(SEQ_OP_GAPS, name);
    c.min = from;
    c.max = to;
    assert_int_equal(apply(s, &c, r), SEQ_OK);
}

/* One expected GAPS row; time IGNORE_TIME and reason NULL are not checked. */
typedef struct grow {
    int64_t first, last;
    int state;
    int64_t time_ms;
    const char *reason;
} grow;

static void expect_gaps(seq_state *s, const char *name, int64_t from, int64_t to, size_t n,
                        const grow *want)
{
    seq_result r;
    gaps(s, name, from, to, &r);
    if (r.n_ledger != n) {
        for (size_t i = 0; i < r.n_ledger; i++) {
            print_message("  row %zu: [%" PRId64 ", %" PRId64 "] state %d time %" PRId64 " %s\n", i,
                          r.ledger[i].first, r.ledger[i].last, r.ledger[i].state,
                          r.ledger[i].time_ms, r.ledger[i].reason);
        }
        fail_msg("GAPS %s: %zu rows, want %zu", name, r.n_ledger, n);
    }
    assert_false(r.more);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r.ledger[i].first, want[i].first);
        assert_int_equal(r.ledger[i].last, want[i].last);
        assert_int_equal(r.ledger[i].state, want[i].state);
        if (want[i].time_ms != IGNORE_TIME) {
            assert_int_equal(r.ledger[i].time_ms, want[i].time_ms);
        }
        assert_non_null(r.ledger[i].reason);
        if (want[i].reason != NULL) {
            assert_string_equal(r.ledger[i].reason, want[i].reason);
        }
    }
    seq_result_free(&r);
}

static void describe(seq_state *s, const char *name, seq_result *r)
{
    seq_cmd c = cmd_of(SEQ_OP_DESCRIBE, name);
    assert_int_equal(apply(s, &c, r), SEQ_OK);
}

/* The numbers of r's runs, flattened, must be want[0..n). */
static void expect_numbers(const seq_result *r, size_t n, const int64_t *want)
{
    assert_int_equal(r->status, SEQ_OK);
    size_t k = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        assert_true(r->runs[i].first <= r->runs[i].last);
        for (int64_t v = r->runs[i].first;; v++) {
            if (k >= n || v != want[k]) {
                fail_msg("number %zu of the runs is %" PRId64 ", want %" PRId64, k, v,
                         k < n ? want[k] : -1);
            }
            k++;
            if (v == r->runs[i].last) {
                break;
            }
        }
    }
    assert_int_equal(k, n);
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

static bool str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

/* Whether two results are equal in every field (deep). */
static bool results_equal(const seq_result *a, const seq_result *b)
{
    if (a->status != b->status || a->op != b->op || a->n_runs != b->n_runs ||
        a->replayed != b->replayed || a->remaining != b->remaining || a->opens_ms != b->opens_ms ||
        a->warn_crossed != b->warn_crossed || a->name_len != b->name_len ||
        !str_eq(a->name, b->name) || a->n_ranges != b->n_ranges || a->mode != b->mode ||
        a->cache != b->cache || a->warn != b->warn || a->warned != b->warned ||
        a->left != b->left || a->rate_1m != b->rate_1m || a->rate_1h != b->rate_1h ||
        a->eta_s != b->eta_s || a->has_next != b->has_next || a->next != b->next ||
        a->issued != b->issued || a->n_names != b->n_names || a->n_ledger != b->n_ledger ||
        a->more != b->more || a->state != b->state || a->time_ms != b->time_ms ||
        a->until_ms != b->until_ms || !str_eq(a->reason, b->reason) || !str_eq(a->key, b->key)) {
        return false;
    }
    for (size_t i = 0; i < a->n_runs; i++) {
        if (a->runs[i].first != b->runs[i].first || a->runs[i].last != b->runs[i].last) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_ranges; i++) {
        const seq_range_info *x = &a->ranges[i], *y = &b->ranges[i];
        if (x->min != y->min || x->max != y->max || x->not_before != y->not_before ||
            x->not_after != y->not_after || x->expired != y->expired) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_names; i++) {
        if (!str_eq(a->names[i], b->names[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_ledger; i++) {
        const seq_ledger_run *x = &a->ledger[i], *y = &b->ledger[i];
        if (x->first != y->first || x->last != y->last || x->state != y->state ||
            x->time_ms != y->time_ms || x->until_ms != y->until_ms || x->deadline_ms != y->deadline_ms ||
            !str_eq(x->reason, y->reason)) {
            return false;
        }
    }
    return true;
}

/* Applies c to both states; the results must be equal. Returns the status. */
static int apply_both(seq_state *a, seq_state *b, const seq_cmd *c)
{
    seq_result ra, rb;
    int rv = seq_apply(a, c, &ra);
    seq_apply(b, c, &rb);
    if (!results_equal(&ra, &rb)) {
        fail_msg("op %d on %s: the states answer differently", c->op,
                 c->name == NULL ? "-" : c->name);
    }
    seq_result_free(&ra);
    seq_result_free(&rb);
    return rv;
}

/* Encodes s, decodes an exact heap copy, and checks the copy encodes to the
 * same bytes. Returns the decoded state (s is kept). */
static seq_state *decoded_copy(const seq_state *s)
{
    size_t len = 0;
    uint8_t *buf = seq_snapshot_encode(s, &len);
    assert_non_null(buf);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    seq_state *d = seq_snapshot_decode(copy, len);
    if (d == NULL) {
        fail_msg("the snapshot of a state the core made was refused");
    }
    free(copy);
    size_t len2 = 0;
    uint8_t *buf2 = seq_snapshot_encode(d, &len2);
    assert_non_null(buf2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(buf);
    free(buf2);
    return d;
}

/* Every sequence of s satisfies the invariants of seq_internal.h. */
static void expect_valid(const seq_state *s)
{
    for (const seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        if (!seq_sequence_valid(q)) {
            fail_msg("sequence %s breaks its invariants", q->name);
        }
    }
}

/* ---- CREATE with modes and windows --------------------------------------- */

static void test_create_modes(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_tick(s, 1000, 0);
    assert_int_equal(create(s, "s", 1, 10, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(create(s, "g", 1, 10, SEQ_MODE_GAPLESS, 0, 3), SEQ_OK);
    assert_int_equal(create(s, "c", 1, 10, SEQ_MODE_CACHED, 5, 0), SEQ_OK);
    assert_int_equal(create(s, "cmax", 1, 10, SEQ_MODE_CACHED, SEQ_CACHE_MAX, 0), SEQ_OK);
    /* the block size belongs to cached mode, and only there */
    assert_int_equal(create(s, "x", 1, 10, SEQ_MODE_STRICT, 1, 0), SEQ_ERR_MODE);
    assert_int_equal(create(s, "x", 1, 10, SEQ_MODE_GAPLESS, 1, 0), SEQ_ERR_MODE);
    assert_int_equal(create(s, "x", 1, 10, SEQ_MODE_CACHED, 0, 0), SEQ_ERR_MODE);
    assert_int_equal(create(s, "x", 1, 10, SEQ_MODE_CACHED, SEQ_CACHE_MAX + 1, 0), SEQ_ERR_MODE);
    assert_int_equal(create(s, "x", 1, 10, 3, 0, 0), SEQ_ERR_MODE);
    assert_int_equal(create(s, "x", 1, 10, 255, 0, 0), SEQ_ERR_MODE);
    assert_int_equal(seq_mode_of(s, "x", 1), -1);
    /* RANGE is checked before MODE */
    assert_int_equal(create(s, "x", 10, 1, 3, 0, 0), SEQ_ERR_RANGE);
    /* repeated identical CREATE: OK; any difference: EXISTS */
    assert_int_equal(create(s, "g", 1, 10, SEQ_MODE_GAPLESS, 0, 3), SEQ_OK);
    assert_int_equal(create(s, "g", 1, 10, SEQ_MODE_STRICT, 0, 3), SEQ_ERR_EXISTS);
    assert_int_equal(create(s, "g", 1, 10, SEQ_MODE_GAPLESS, 0, 4), SEQ_ERR_EXISTS);
    assert_int_equal(create(s, "g", 1, 10, SEQ_MODE_GAPLESS, 0, 0), SEQ_ERR_EXISTS);
    assert_int_equal(create(s, "g", 1, 10, SEQ_MODE_CACHED, 5, 3), SEQ_ERR_EXISTS);
    assert_int_equal(create(s, "c", 1, 10, SEQ_MODE_CACHED, 5, 0), SEQ_OK);
    assert_int_equal(create(s, "c", 1, 10, SEQ_MODE_CACHED, 6, 0), SEQ_ERR_EXISTS);
    assert_int_equal(create(s, "s", 1, 10, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    /* a failed CREATE still validates its mode first */
    assert_int_equal(create(s, "s", 1, 10, SEQ_MODE_STRICT, 2, 0), SEQ_ERR_MODE);
    assert_int_equal(seq_mode_of(s, "s", 1), SEQ_MODE_STRICT);
    assert_int_equal(seq_mode_of(s, "g", 1), SEQ_MODE_GAPLESS);
    assert_int_equal(seq_mode_of(s, "c", 1), SEQ_MODE_CACHED);

    /* windows */
    assert_int_equal(create_win(s, "w", 1, 10, SEQ_MODE_STRICT, 100, 200), SEQ_OK);
    assert_int_equal(create_win(s, "w", 1, 10, SEQ_MODE_STRICT, 100, 200), SEQ_OK);
    assert_int_equal(create_win(s, "w", 1, 10, SEQ_MODE_STRICT, 101, 200), SEQ_ERR_EXISTS);
    assert_int_equal(create_win(s, "w", 1, 10, SEQ_MODE_STRICT, 100, 199), SEQ_ERR_EXISTS);
    assert_int_equal(create_win(s, "w", 1, 10, SEQ_MODE_STRICT, 100, INT64_MAX), SEQ_ERR_EXISTS);
    assert_int_equal(create_win(s, "w", 1, 10, SEQ_MODE_STRICT, INT64_MIN, 200), SEQ_ERR_EXISTS);
    assert_int_equal(create(s, "w", 1, 10, SEQ_MODE_STRICT, 0, 0), SEQ_ERR_EXISTS);
    /* NOTBEFORE > NOTAFTER: WINDOW, also for an existing name, before MODE */
    assert_int_equal(create_win(s, "w", 1, 10, SEQ_MODE_STRICT, 201, 200), SEQ_ERR_WINDOW);
    assert_int_equal(create_win(s, "y", 1, 10, SEQ_MODE_STRICT, 201, 200), SEQ_ERR_WINDOW);
    seq_cmd c = range_cmd(SEQ_OP_CREATE, "y", 1, 10, 201, 200);
    c.mode = 7;
    assert_int_equal(st(s, &c), SEQ_ERR_WINDOW);
    assert_int_equal(seq_mode_of(s, "y", 1), -1);
    /* a one-instant window is fine, and one bound alone */
    assert_int_equal(create_win(s, "y", 1, 10, SEQ_MODE_STRICT, 200, 200), SEQ_OK);
    assert_int_equal(create_win(s, "nb", 1, 10, SEQ_MODE_STRICT, 5000, INT64_MAX), SEQ_OK);
    assert_int_equal(create_win(s, "na", 1, 10, SEQ_MODE_STRICT, INT64_MIN, 5000), SEQ_OK);
    /* an explicit open bound means the same as none */
    c = cmd_of(SEQ_OP_CREATE, "s");
    c.min = 1;
    c.max = 10;
    c.has_not_before = true;
    c.not_before = INT64_MIN;
    c.has_not_after = true;
    c.not_after = INT64_MAX;
    assert_int_equal(st(s, &c), SEQ_OK);
    /* ADDRANGE: RANGE, then WINDOW, then NOSEQ, then OVERLAP */
    assert_int_equal(addrange(s, "s", 20, 30, 10, 9), SEQ_ERR_WINDOW);
    assert_int_equal(addrange(s, "s", 5, 6, 10, 9), SEQ_ERR_WINDOW);
    assert_int_equal(addrange(s, "s", 6, 5, 10, 9), SEQ_ERR_RANGE);
    assert_int_equal(addrange(s, "nosuch", 20, 30, 10, 9), SEQ_ERR_WINDOW);
    assert_int_equal(addrange(s, "nosuch", 20, 30, 9, 10), SEQ_ERR_NOSEQ);
    assert_int_equal(addrange(s, "s", 5, 6, 9, 10), SEQ_ERR_OVERLAP);
    assert_int_equal(addrange(s, "s", 20, 30, 9, 10), SEQ_OK);

    /* DESCRIBE shows it all */
    seq_result r;
    describe(s, "c", &r);
    assert_int_equal(r.mode, SEQ_MODE_CACHED);
    assert_int_equal(r.cache, 5);
    assert_int_equal(r.warn, 0);
    assert_false(r.warned);
    assert_int_equal(r.n_ranges, 1);
    assert_int_equal(r.ranges[0].not_before, INT64_MIN);
    assert_int_equal(r.ranges[0].not_after, INT64_MAX);
    assert_false(r.ranges[0].expired);
    seq_result_free(&r);
    describe(s, "g", &r);
    assert_int_equal(r.mode, SEQ_MODE_GAPLESS);
    assert_int_equal(r.cache, 0);
    assert_int_equal(r.warn, 3);
    assert_int_equal(r.left, 10);
    assert_int_equal(r.remaining, 10);
    assert_int_equal(r.eta_s, -1);
    assert_int_equal(r.rate_1m, 0);
    assert_int_equal(r.rate_1h, 0);
    seq_result_free(&r);
    describe(s, "s", &r);
    assert_int_equal(r.n_ranges, 2);
    assert_int_equal(r.ranges[1].min, 20);
    assert_int_equal(r.ranges[1].max, 30);
    assert_int_equal(r.ranges[1].not_before, 9);
    assert_int_equal(r.ranges[1].not_after, 10);
    assert_true(r.ranges[1].expired); /* clock 1000 > 10 */
    assert_int_equal(r.left, 10);
    seq_result_free(&r);
    describe(s, "w", &r);
    assert_int_equal(r.ranges[0].not_before, 100);
    assert_int_equal(r.ranges[0].not_after, 200);
    assert_true(r.ranges[0].expired);
    assert_false(r.has_next);
    assert_int_equal(r.left, 0);
    seq_result_free(&r);
    expect_valid(s);
    seq_state_free(s);
}

/* ---- windows -------------------------------------------------------------- */

static void test_window_order_and_exhausted(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 1000, 0);
    assert_int_equal(create_win(s, "w", 1, 3, SEQ_MODE_STRICT, 2000, 3000), SEQ_OK);
    /* not open yet: nothing now, opens at 2000 */
    expect_exhausted(s, "w", 1, 0, 2000);
    assert_int_equal(addrange(s, "w", 10, 12, 5000, INT64_MAX), SEQ_OK);
    assert_int_equal(addrange(s, "w", 20, 21, INT64_MIN, INT64_MAX), SEQ_OK);
    /* skips the ranges not open yet, without consuming them */
    assert_int_equal(next1(s, "w"), 20);
    expect_exhausted(s, "w", 2, 1, 2000);
    assert_int_equal(next1(s, "w"), 21);
    expect_exhausted(s, "w", 1, 0, 2000);
    describe(s, "w", &r);
    assert_false(r.has_next);
    assert_int_equal(r.left, 6);
    assert_int_equal(r.issued, 2);
    assert_false(r.ranges[0].expired);
    seq_result_free(&r);
    expect_state(s, "w", 1, SEQ_NUM_NOT_ISSUED, INT64_MIN);
    expect_gaps(s, "w", INT64_MIN, INT64_MAX, 0, NULL);
    seq_tick(s, 1999, 0);
    expect_exhausted(s, "w", 1, 0, 2000);
    /* valid exactly at NOTBEFORE */
    seq_tick(s, 2000, 0);
    describe(s, "w", &r);
    assert_true(r.has_next);
    assert_int_equal(r.next, 1);
    seq_result_free(&r);
    assert_int_equal(next1(s, "w"), 1);
    assert_int_equal(next(s, "w", 2, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){2, 3});
    seq_result_free(&r);
    expect_exhausted(s, "w", 1, 0, 5000);

    /* expiry: valid exactly at NOTAFTER, expired one ms later */
    assert_int_equal(create_win(s, "e", 1, 5, SEQ_MODE_STRICT, INT64_MIN, 3000), SEQ_OK);
    assert_int_equal(next1(s, "e"), 1);
    seq_tick(s, 3000, 0);
    assert_int_equal(next1(s, "e"), 2);
    seq_tick(s, 3001, 0);
    expect_exhausted(s, "e", 1, 0, INT64_MAX);
    expect_gaps(s, "e", INT64_MIN, INT64_MAX, 1,
                (grow[]){{3, 5, SEQ_NUM_EXPIRED, 3000, REASON_EXPIRED}});
    /* GAPS clips the expired rest to [from, to] */
    expect_gaps(s, "e", 4, 4, 1, (grow[]){{4, 4, SEQ_NUM_EXPIRED, 3000, REASON_EXPIRED}});
    expect_gaps(s, "e", 6, 100, 0, NULL);
    lookup(s, "e", 4, &r);
    assert_int_equal(r.state, SEQ_NUM_EXPIRED);
    assert_int_equal(r.time_ms, 3000);
    assert_string_equal(r.reason, REASON_EXPIRED);
    seq_result_free(&r);
    expect_state(s, "e", 2, SEQ_NUM_FINAL, INT64_MIN);
    expect_state(s, "e", 6, SEQ_NUM_NOT_ISSUED, INT64_MIN);
    assert_int_equal(void_(s, "e", 4, "gone"), SEQ_ERR_NOTISSUED);
    assert_int_equal(confirm(s, "e", 4), SEQ_ERR_NOTISSUED);
    describe(s, "e", &r);
    assert_true(r.ranges[0].expired);
    assert_int_equal(r.left, 0);
    assert_false(r.has_next);
    seq_result_free(&r);
    /* a new range revives it; the expired rest stays expired */
    assert_int_equal(addrange(s, "e", 6, 8, INT64_MIN, INT64_MAX), SEQ_OK);
    assert_int_equal(next1(s, "e"), 6);
    expect_state(s, "e", 5, SEQ_NUM_EXPIRED, 3000);
    /* an expired range is not revived by ADDRANGE either */
    assert_int_equal(addrange(s, "e", 3, 5, INT64_MIN, INT64_MAX), SEQ_ERR_OVERLAP);

    /* COUNT crosses ranges, skipping one not open; all or nothing */
    assert_int_equal(create(s, "x", 1, 2, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(addrange(s, "x", 3, 4, 900000, INT64_MAX), SEQ_OK);
    assert_int_equal(addrange(s, "x", 5, 9, INT64_MIN, INT64_MAX), SEQ_OK);
    assert_int_equal(next(s, "x", 4, NULL, &r), SEQ_OK);
    expect_runs(&r, 2, (int64_t[]){1, 2, 5, 6});
    seq_result_free(&r);
    expect_exhausted(s, "x", 10, 3, 900000);
    assert_int_equal(next1(s, "x"), 7);

    /* START with a window: the expired rest starts at START */
    seq_cmd c = range_cmd(SEQ_OP_CREATE, "st", 1, 10, INT64_MIN, 4000);
    c.has_start = true;
    c.start = 5;
    assert_int_equal(st(s, &c), SEQ_OK);
    seq_tick(s, 4001, 0);
    expect_gaps(s, "st", INT64_MIN, INT64_MAX, 1,
                (grow[]){{5, 10, SEQ_NUM_EXPIRED, 4000, REASON_EXPIRED}});
    expect_state(s, "st", 4, SEQ_NUM_NOT_ISSUED, INT64_MIN);

    /* several ranges expire; the exhausted result counts only valid ones */
    assert_int_equal(create_win(s, "m", 1, 5, SEQ_MODE_STRICT, INT64_MIN, 5000), SEQ_OK);
    assert_int_equal(addrange(s, "m", 10, 14, 4000, 6000), SEQ_OK);
    assert_int_equal(addrange(s, "m", 20, 24, 7000, 8000), SEQ_OK);
    expect_exhausted(s, "m", 11, 10, 7000);
    seq_tick(s, 5001, 0);
    expect_exhausted(s, "m", 6, 5, 7000);
    assert_int_equal(next1(s, "m"), 10);
    seq_tick(s, 7000, 0);
    assert_int_equal(next1(s, "m"), 20);
    expect_gaps(s, "m", INT64_MIN, INT64_MAX, 2,
                (grow[]){{1, 5, SEQ_NUM_EXPIRED, 5000, REASON_EXPIRED},
                         {11, 14, SEQ_NUM_EXPIRED, 6000, REASON_EXPIRED}});
    describe(s, "m", &r);
    assert_true(r.ranges[0].expired);
    assert_true(r.ranges[1].expired);
    assert_false(r.ranges[2].expired);
    assert_int_equal(r.left, 4);
    assert_int_equal(r.issued, 2);
    seq_result_free(&r);
    expect_valid(s);
    seq_state_free(s);
}

static void test_window_int64_edges(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    /* before the first tick the clock is INT64_MIN: a window that closes at
     * INT64_MIN is valid exactly then */
    seq_cmd c = cmd_of(SEQ_OP_CREATE, "lo");
    c.min = INT64_MIN;
    c.max = INT64_MIN + 4;
    c.has_not_before = true;
    c.not_before = INT64_MIN;
    c.has_not_after = true;
    c.not_after = INT64_MIN;
    assert_int_equal(st(s, &c), SEQ_OK);
    describe(s, "lo", &r); /* rates at the INT64_MIN clock */
    assert_int_equal(r.rate_1m, 0);
    assert_int_equal(r.eta_s, -1);
    assert_int_equal(r.left, 5);
    seq_result_free(&r);
    assert_int_equal(next1(s, "lo"), INT64_MIN);
    describe(s, "lo", &r);
    assert_int_equal(r.rate_1m, 1);
    assert_int_equal(r.rate_1h, 1);
    assert_int_equal(r.eta_s, 4 * 60);
    seq_result_free(&r);
    seq_tick(s, 0, 0);
    expect_exhausted(s, "lo", 1, 0, INT64_MAX);
    expect_gaps(s, "lo", INT64_MIN, INT64_MAX, 1,
                (grow[]){{INT64_MIN + 1, INT64_MIN + 4, SEQ_NUM_EXPIRED, INT64_MIN, NULL}});

    /* the whole int64 domain, with an explicit open window */
    c = cmd_of(SEQ_OP_CREATE, "full");
    c.min = INT64_MIN;
    c.max = INT64_MAX;
    c.has_not_after = true;
    c.not_after = INT64_MAX;
    assert_int_equal(st(s, &c), SEQ_OK);
    describe(s, "full", &r);
    assert_int_equal(r.left, UINT64_MAX);
    seq_result_free(&r);
    assert_int_equal(next(s, "full", 3, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){INT64_MIN, INT64_MIN + 2});
    seq_result_free(&r);
    describe(s, "full", &r);
    assert_int_equal(r.left, UINT64_MAX - 2);
    seq_result_free(&r);

    /* a range that opens at INT64_MAX, at the top of the domain */
    assert_int_equal(
        create_win(s, "hi", INT64_MAX - 4, INT64_MAX, SEQ_MODE_GAPLESS, INT64_MAX, INT64_MAX),
        SEQ_OK);
    assert_int_equal(reserve(s, "hi", 0, NULL, &r), SEQ_ERR_EXHAUSTED);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.opens_ms, INT64_MAX);
    seq_result_free(&r);
    assert_int_equal(create_win(s, "late", 1, 5, SEQ_MODE_GAPLESS, INT64_MAX - 10, INT64_MAX),
                     SEQ_OK);
    seq_tick(s, INT64_MAX - 20, 0);
    /* a TTL that would run past INT64_MAX saturates */
    seq_tick(s, INT64_MAX - 10, 0);
    int64_t v = reserve1(s, "late", SEQ_TTL_MAX_MS, NULL, NULL);
    assert_int_equal(v, 1);
    lookup(s, "late", 1, &r);
    assert_int_equal(r.state, SEQ_NUM_RESERVED);
    assert_int_equal(r.until_ms, INT64_MAX);
    seq_result_free(&r);
    int64_t w = reserve1(s, "late", 5, NULL, NULL);
    assert_int_equal(w, 2);
    seq_tick(s, INT64_MAX - 5, 0);
    expect_state(s, "late", 2, SEQ_NUM_RELEASED, INT64_MAX - 5);
    /* at the very end of time: the window still holds, the range opens */
    seq_tick(s, INT64_MAX, 0);
    assert_int_equal(next1(s, "hi"), INT64_MAX - 4);
    int64_t top = reserve1(s, "hi", 0, NULL, NULL);
    assert_int_equal(top, INT64_MAX - 3);
    /* a reservation without TTL never runs out, even at the last instant */
    expect_state(s, "hi", top, SEQ_NUM_RESERVED, INT64_MAX);
    expect_state(s, "late", 1, SEQ_NUM_RESERVED, INT64_MAX - 10);
    assert_int_equal(reserve1(s, "hi", 1, NULL, NULL), INT64_MAX - 2);
    assert_int_equal(next(s, "hi", 2, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){INT64_MAX - 1, INT64_MAX});
    seq_result_free(&r);
    expect_exhausted(s, "hi", 1, 0, INT64_MAX);
    assert_int_equal(confirm(s, "hi", top), SEQ_OK);
    expect_state(s, "hi", top, SEQ_NUM_FINAL, INT64_MIN);
    expect_valid(s);
    /* the state survives a snapshot */
    seq_state *d = decoded_copy(s);
    expect_state(d, "late", 1, SEQ_NUM_RESERVED, INT64_MAX - 10);
    seq_state_free(d);
    seq_state_free(s);
}

/* ---- gapless ------------------------------------------------------------- */

static void test_gapless_reserve_confirm_release(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 1000, 0);
    assert_int_equal(create(s, "g", 1, 10, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(create(s, "s", 1, 10, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(create(s, "c", 1, 10, SEQ_MODE_CACHED, 3, 0), SEQ_OK);
    /* RESERVE and RELEASE are gapless only */
    assert_int_equal(reserve(s, "s", 0, NULL, &r), SEQ_ERR_MODE);
    seq_result_free(&r);
    assert_int_equal(reserve(s, "c", 0, NULL, &r), SEQ_ERR_MODE);
    seq_result_free(&r);
    assert_int_equal(next1(s, "s"), 1);
    assert_int_equal(release(s, "s", 1), SEQ_ERR_MODE);
    assert_int_equal(release(s, "c", 1), SEQ_ERR_MODE);
    assert_int_equal(reserve(s, "nosuch", 0, NULL, &r), SEQ_ERR_NOSEQ);
    seq_result_free(&r);
    assert_int_equal(reserve(s, "g", 0, "bad key", &r), SEQ_ERR_KEY);
    seq_result_free(&r);
    /* TTL limits */
    assert_int_equal(reserve(s, "g", -1, NULL, &r), SEQ_ERR_TTL);
    seq_result_free(&r);
    assert_int_equal(reserve(s, "g", INT64_MIN, NULL, &r), SEQ_ERR_TTL);
    seq_result_free(&r);
    assert_int_equal(reserve(s, "g", SEQ_TTL_MAX_MS + 1, NULL, &r), SEQ_ERR_TTL);
    seq_result_free(&r);
    expect_state(s, "g", 1, SEQ_NUM_NOT_ISSUED, INT64_MIN);

    /* a reservation without TTL */
    bool replayed = true;
    assert_int_equal(reserve1(s, "g", 0, NULL, &replayed), 1);
    assert_false(replayed);
    lookup(s, "g", 1, &r);
    assert_int_equal(r.state, SEQ_NUM_RESERVED);
    assert_int_equal(r.time_ms, 1000);
    assert_int_equal(r.until_ms, INT64_MAX);
    assert_string_equal(r.reason, "reserved");
    assert_null(r.key);
    seq_result_free(&r);
    expect_gaps(s, "g", INT64_MIN, INT64_MAX, 1,
                (grow[]){{1, 1, SEQ_NUM_RESERVED, 1000, "reserved"}});
    seq_tick(s, 1000000000, 0);
    expect_state(s, "g", 1, SEQ_NUM_RESERVED, 1000);
    assert_int_equal(confirm(s, "g", 1), SEQ_OK);
    expect_state(s, "g", 1, SEQ_NUM_FINAL, INT64_MIN);
    assert_int_equal(confirm(s, "g", 1), SEQ_OK); /* final: a no-op */
    expect_gaps(s, "g", INT64_MIN, INT64_MAX, 0, NULL);
    assert_int_equal(confirm(s, "g", 5), SEQ_ERR_NOTISSUED);
    assert_int_equal(confirm(s, "g", 0), SEQ_ERR_NOTISSUED);
    assert_int_equal(confirm(s, "nosuch", 1), SEQ_ERR_NOSEQ);
    assert_int_equal(release(s, "g", 1), SEQ_ERR_NOTRESERVED);
    assert_int_equal(release(s, "g", 5), SEQ_ERR_NOTISSUED);

    /* a reservation with a TTL runs out exactly at its until */
    int64_t t0 = 1000000000;
    assert_int_equal(reserve1(s, "g", 100, NULL, NULL), 2);
    lookup(s, "g", 2, &r);
    assert_int_equal(r.until_ms, t0 + 100);
    seq_result_free(&r);
    seq_tick(s, t0 + 99, 0);
    expect_state(s, "g", 2, SEQ_NUM_RESERVED, t0);
    assert_int_equal(reserve1(s, "g", SEQ_TTL_MAX_MS, NULL, NULL), 3);
    assert_int_equal(confirm(s, "g", 3), SEQ_OK);
    seq_tick(s, t0 + 100, 0);
    lookup(s, "g", 2, &r);
    assert_int_equal(r.state, SEQ_NUM_RELEASED);
    assert_int_equal(r.time_ms, t0 + 100);
    assert_int_equal(r.until_ms, INT64_MAX);
    assert_string_equal(r.reason, REASON_LAPSED);
    seq_result_free(&r);
    expect_gaps(s, "g", INT64_MIN, INT64_MAX, 1,
                (grow[]){{2, 2, SEQ_NUM_RELEASED, t0 + 100, REASON_LAPSED}});
    assert_int_equal(confirm(s, "g", 2), SEQ_ERR_EXPIRED);
    /* RELEASE of a lapsed reservation: released now */
    seq_tick(s, t0 + 150, 0);
    assert_int_equal(release(s, "g", 2), SEQ_OK);
    expect_gaps(s, "g", INT64_MIN, INT64_MAX, 1,
                (grow[]){{2, 2, SEQ_NUM_RELEASED, t0 + 150, "released"}});
    assert_int_equal(release(s, "g", 2), SEQ_OK); /* released: a no-op */
    expect_state(s, "g", 2, SEQ_NUM_RELEASED, t0 + 150);
    assert_int_equal(confirm(s, "g", 2), SEQ_ERR_NOTRESERVED);
    /* a released number goes first, to a reservation or a NEXT */
    assert_int_equal(reserve1(s, "g", 10, NULL, NULL), 2);
    assert_int_equal(release(s, "g", 2), SEQ_OK);
    assert_int_equal(next1(s, "g"), 2);
    expect_state(s, "g", 2, SEQ_NUM_FINAL, INT64_MIN);
    /* voided: never reserved again */
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 4);
    assert_int_equal(void_(s, "g", 4, "torn"), SEQ_OK);
    assert_int_equal(confirm(s, "g", 4), SEQ_ERR_NOTRESERVED);
    assert_int_equal(release(s, "g", 4), SEQ_ERR_NOTRESERVED);
    assert_int_equal(next1(s, "g"), 5);
    describe(s, "g", &r);
    assert_int_equal(r.issued, 5);
    assert_int_equal(r.left, 5);
    assert_int_equal(r.next, 6);
    seq_result_free(&r);
    expect_valid(s);
    seq_state_free(s);
}

/* A reservation that ran out went to another caller: the first holder's
 * late CONFIRM ... KEY (or RELEASE ... KEY) is refused, the new holder's
 * goes through; without a key the number alone is trusted. */
static void test_confirm_release_with_key(void **state)
{
    (void)state;
    seq_state *s = mk();
    assert_int_equal(create(s, "g", 1, 100, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    seq_tick(s, 1000, 0);
    assert_int_equal(reserve1(s, "g", 500, "late", NULL), 1);
    seq_tick(s, 1500, 0); /* its TTL passed: number 1 counts as released */
    assert_int_equal(reserve1(s, "g", 0, "fresh", NULL), 1); /* reissued, lowest first */
    seq_cmd c = cmd_of(SEQ_OP_CONFIRM, "g");
    c.min = 1;
    set_key(&c, "late");
    assert_int_equal(st(s, &c), SEQ_ERR_KEY_MISMATCH);
    c.op = SEQ_OP_RELEASE;
    assert_int_equal(st(s, &c), SEQ_ERR_KEY_MISMATCH);
    set_key(&c, "nokey");
    assert_int_equal(st(s, &c), SEQ_ERR_KEY_MISMATCH);
    set_key(&c, "bad key");
    assert_int_equal(st(s, &c), SEQ_ERR_KEY);
    expect_state(s, "g", 1, SEQ_NUM_RESERVED, 1500);
    c.op = SEQ_OP_CONFIRM;
    set_key(&c, "fresh");
    assert_int_equal(st(s, &c), SEQ_OK);
    assert_int_equal(st(s, &c), SEQ_OK); /* again: still held by that key, final */
    expect_key_of(s, "g", 1, "fresh");
    /* without a key: the number alone */
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 2);
    assert_int_equal(confirm(s, "g", 2), SEQ_OK);
    seq_state_free(s);
}

/* Each reservation has its own grant, also when a number is reserved again
 * at the same clock: a late UNDELIVERED naming the first grant cannot
 * release the second holder's. */
static void test_grants_are_distinct(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_tick(s, 1000, 0);
    assert_int_equal(create(s, "g", 1, 10, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    seq_result r;
    assert_int_equal(reserve(s, "g", 0, NULL, &r), SEQ_OK); /* A */
    assert_int_equal(r.runs[0].first, 1);
    uint64_t grant_a = r.grant;
    seq_result_free(&r);
    assert_int_equal(release(s, "g", 1), SEQ_OK);          /* freed by someone else */
    assert_int_equal(reserve(s, "g", 0, NULL, &r), SEQ_OK); /* X, same clock: 1 again */
    assert_int_equal(r.runs[0].first, 1);
    uint64_t grant_x = r.grant;
    seq_result_free(&r);
    assert_true(grant_a != 0 && grant_x != 0 && grant_a != grant_x);
    assert_int_equal(undelivered_from(s, "g", 1, 1, grant_a), SEQ_OK); /* A's late report */
    expect_state(s, "g", 1, SEQ_NUM_RESERVED, 1000);                    /* X keeps it */
    assert_int_equal(undelivered_from(s, "g", 1, 1, grant_x), SEQ_OK);  /* X's own */
    expect_state(s, "g", 1, SEQ_NUM_RELEASED, 1000);
    /* the grants survive a snapshot */
    assert_int_equal(reserve(s, "g", 0, NULL, &r), SEQ_OK);
    uint64_t grant_y = r.grant;
    seq_result_free(&r);
    seq_state *d = decoded_copy(s);
    assert_int_equal(undelivered_from(d, "g", 1, 1, grant_y), SEQ_OK);
    expect_state(d, "g", 1, SEQ_NUM_RELEASED, 1000);
    seq_state_free(d);
    /* a cached holder's first block: an earlier holder with the same owner
     * value (the 16-bit holder number wraps) leaves nothing to it */
    assert_int_equal(create(s, "c", 1, 100, SEQ_MODE_CACHED, 4, 0), SEQ_OK);
    assert_int_equal(allocblock(s, "c", 4, 1, 7, &r), SEQ_OK);
    seq_result_free(&r);
    seq_cmd c = cmd_of(SEQ_OP_ALLOCBLOCK, "c");
    c.count = 2;
    c.term = 1;
    c.node = 7;
    c.has_start = true;
    assert_int_equal(st(s, &c), SEQ_OK);
    expect_state(s, "c", 1, SEQ_NUM_SKIPPED, IGNORE_TIME);
    assert_int_equal(used(s, "c", 1, 1, 7), SEQ_OK);
    expect_state(s, "c", 5, SEQ_NUM_FINAL, IGNORE_TIME);
    expect_state(s, "c", 1, SEQ_NUM_SKIPPED, IGNORE_TIME);
    expect_valid(s);
    seq_state_free(s);
}

static void test_gapless_reissue_lowest_first(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 1000, 0);
    assert_int_equal(create(s, "g", 1, 30, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(next(s, "g", 10, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){1, 10});
    seq_result_free(&r);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 11);
    assert_int_equal(reserve1(s, "g", 50, NULL, NULL), 12);
    /* released in no particular order */
    assert_int_equal(release(s, "g", 11), SEQ_OK);
    assert_int_equal(undelivered(s, "g", 9, 9, "lost"), SEQ_OK);
    assert_int_equal(undelivered(s, "g", 3, 6, "lost"), SEQ_OK);
    seq_tick(s, 1050, 0); /* 12 runs out */
    expect_gaps(s, "g", INT64_MIN, INT64_MAX, 4,
                (grow[]){{3, 6, SEQ_NUM_RELEASED, 1000, "lost"},
                         {9, 9, SEQ_NUM_RELEASED, 1000, "lost"},
                         {11, 11, SEQ_NUM_RELEASED, 1000, "released"},
                         {12, 12, SEQ_NUM_RELEASED, 1050, REASON_LAPSED}});
    describe(s, "g", &r);
    assert_true(r.has_next);
    assert_int_equal(r.next, 3);
    assert_int_equal(r.issued, 12);
    assert_int_equal(r.left, 18 + 7); /* 3-6, 9, 11, 12 go out again */
    seq_result_free(&r);
    /* a released run of several numbers: its lowest first */
    assert_int_equal(next(s, "g", 3, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){3, 5});
    seq_result_free(&r);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 6);
    /* then the others, lowest first, then new numbers */
    assert_int_equal(next(s, "g", 4, NULL, &r), SEQ_OK);
    expect_numbers(&r, 4, (int64_t[]){9, 11, 12, 13});
    seq_result_free(&r);
    expect_gaps(s, "g", INT64_MIN, INT64_MAX, 1,
                (grow[]){{6, 6, SEQ_NUM_RESERVED, 1050, "reserved"}});
    describe(s, "g", &r);
    assert_int_equal(r.issued, 13);
    assert_int_equal(r.next, 14);
    seq_result_free(&r);

    /* released one by one from the top: they merge, and go bottom first */
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 14);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 15);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 16);
    assert_int_equal(release(s, "g", 16), SEQ_OK);
    assert_int_equal(release(s, "g", 15), SEQ_OK);
    assert_int_equal(release(s, "g", 14), SEQ_OK);
    expect_gaps(s, "g", 14, 16, 1, (grow[]){{14, 16, SEQ_NUM_RELEASED, 1050, "released"}});
    tick1(s);
    assert_int_equal(next(s, "g", 2, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){14, 15});
    seq_result_free(&r);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 16);

    /* EXHAUSTED in gapless counts the released numbers as available */
    assert_int_equal(create(s, "h", 1, 3, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(next(s, "h", 3, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(undelivered(s, "h", 2, 2, "lost"), SEQ_OK);
    tick1(s);
    expect_exhausted(s, "h", 2, 1, INT64_MAX);
    expect_state(s, "h", 2, SEQ_NUM_RELEASED, 1051);
    assert_int_equal(next1(s, "h"), 2);
    expect_exhausted(s, "h", 1, 0, INT64_MAX);

    /* released numbers of an expired range are not issued again */
    assert_int_equal(create_win(s, "x", 1, 5, SEQ_MODE_GAPLESS, INT64_MIN, 2000), SEQ_OK);
    assert_int_equal(addrange(s, "x", 10, 12, 3000, INT64_MAX), SEQ_OK);
    assert_int_equal(next(s, "x", 2, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(undelivered(s, "x", 1, 1, "lost"), SEQ_OK);
    seq_tick(s, 2001, 0);
    expect_exhausted(s, "x", 1, 0, 3000);
    describe(s, "x", &r);
    assert_false(r.has_next);
    seq_result_free(&r);
    expect_gaps(s, "x", INT64_MIN, INT64_MAX, 2,
                (grow[]){{1, 1, SEQ_NUM_RELEASED, 1052, "lost"},
                         {3, 5, SEQ_NUM_EXPIRED, 2000, REASON_EXPIRED}});
    seq_tick(s, 3000, 0);
    assert_int_equal(next1(s, "x"), 10);
    expect_valid(s);
    seq_state_free(s);
}

/* A released run that spans two numerically adjacent ranges, one of which
 * has expired: only the numbers of the live range are issued again. */
static void test_gapless_released_run_across_ranges(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 1000, 0);
    /* 1..5 expire at 2000; 6..10 stay */
    assert_int_equal(create_win(s, "a", 1, 5, SEQ_MODE_GAPLESS, INT64_MIN, 2000), SEQ_OK);
    assert_int_equal(addrange(s, "a", 6, 10, INT64_MIN, INT64_MAX), SEQ_OK);
    assert_int_equal(next(s, "a", 7, NULL, &r), SEQ_OK);
    expect_runs(&r, 2, (int64_t[]){1, 5, 6, 7});
    seq_result_free(&r);
    assert_int_equal(undelivered(s, "a", 4, 7, "lost"), SEQ_OK);
    seq_tick(s, 2001, 0);
    describe(s, "a", &r);
    assert_true(r.has_next);
    assert_int_equal(r.next, 6);
    seq_result_free(&r);
    assert_int_equal(next(s, "a", 3, NULL, &r), SEQ_OK);
    expect_numbers(&r, 3, (int64_t[]){6, 7, 8});
    seq_result_free(&r);
    expect_gaps(s, "a", INT64_MIN, INT64_MAX, 1, (grow[]){{4, 5, SEQ_NUM_RELEASED, 1000, "lost"}});
    expect_valid(s);

    /* the other way round: the lower range lives, the upper one expired */
    assert_int_equal(create(s, "b", 1, 5, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(addrange(s, "b", 6, 10, INT64_MIN, 3000), SEQ_OK);
    assert_int_equal(next(s, "b", 7, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(undelivered(s, "b", 4, 7, "lost"), SEQ_OK);
    seq_tick(s, 3001, 0);
    assert_int_equal(next(s, "b", 3, NULL, &r), SEQ_ERR_EXHAUSTED);
    assert_int_equal(r.remaining, 2);
    seq_result_free(&r);
    assert_int_equal(reserve1(s, "b", 0, NULL, NULL), 4);
    assert_int_equal(reserve1(s, "b", 0, NULL, NULL), 5);
    expect_exhausted(s, "b", 1, 0, INT64_MAX);
    expect_gaps(s, "b", 6, 10, 2,
                (grow[]){{6, 7, SEQ_NUM_RELEASED, 2001, "lost"},
                         {8, 10, SEQ_NUM_EXPIRED, 3000, REASON_EXPIRED}});
    expect_valid(s);
    seq_state_free(s);
}

static void test_gapless_keys(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    bool rep = false;
    int64_t t = 1000;
    seq_tick(s, t, 0);
    assert_int_equal(create(s, "g", 1, 100, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(reserve1(s, "g", 0, "a", &rep), 1);
    assert_false(rep);
    assert_int_equal(reserve1(s, "g", 0, "a", &rep), 1);
    assert_true(rep);
    /* one key table for RESERVE and NEXT; NEXT promises a final number,
     * so the key's own reservation becomes final (it was left reserved,
     * and a lapse then gave the number to a second caller) */
    assert_int_equal(next(s, "g", 1, "a", &r), SEQ_OK);
    assert_true(r.replayed);
    expect_runs(&r, 1, (int64_t[]){1, 1});
    seq_result_free(&r);
    expect_key_of(s, "g", 1, "a");
    expect_state(s, "g", 1, SEQ_NUM_FINAL, t);
    expect_lookup_key(s, "g", "a", 1);
    assert_int_equal(confirm(s, "g", 1), SEQ_OK);
    assert_int_equal(reserve1(s, "g", 0, "a", &rep), 1);
    assert_true(rep);
    expect_state(s, "g", 1, SEQ_NUM_FINAL, t); /* the key's time */
    expect_key_of(s, "g", 1, "a");
    /* a gapless key names one number */
    assert_int_equal(next(s, "g", 2, "b", &r), SEQ_ERR_MODE);
    seq_result_free(&r);
    assert_int_equal(next1k(s, "g", "b"), 2);
    assert_int_equal(next(s, "g", 1, "b", &r), SEQ_OK);
    assert_true(r.replayed);
    seq_result_free(&r);
    assert_int_equal(next(s, "g", 2, "b", &r), SEQ_ERR_MODE);
    seq_result_free(&r);
    expect_state(s, "g", 2, SEQ_NUM_FINAL, t);
    expect_key_of(s, "g", 2, "b");

    /* a lapsed reservation: the key gets a fresh one */
    assert_int_equal(reserve1(s, "g", 10, "c", NULL), 3);
    seq_tick(s, t + 9, 0);
    assert_int_equal(reserve1(s, "g", 10, "c", &rep), 3);
    assert_true(rep);
    seq_tick(s, t + 10, 0);
    expect_key_of(s, "g", 3, NULL);                       /* released: no key shown */
    expect_lookup_key(s, "g", "c", 3);                    /* the key still remembers it */
    assert_int_equal(reserve1(s, "g", 10, "c", &rep), 3); /* lowest released: its own */
    assert_false(rep);
    lookup(s, "g", 3, &r);
    assert_int_equal(r.state, SEQ_NUM_RESERVED);
    assert_int_equal(r.time_ms, t + 10);
    assert_int_equal(r.until_ms, t + 20);
    assert_string_equal(r.key, "c");
    seq_result_free(&r);
    /* a keyed retry that finds a lower released number takes that one,
     * and the other key's lapsed number lets go of its key */
    assert_int_equal(reserve1(s, "g", 10, "d", NULL), 4);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 5);
    assert_int_equal(release(s, "g", 5), SEQ_OK);
    seq_tick(s, t + 30, 0); /* 3 (key c) and 4 (key d) run out */
    assert_int_equal(reserve1(s, "g", 0, "d", &rep), 3);
    assert_false(rep);
    expect_lookup_key(s, "g", "c", INT64_MIN);
    expect_lookup_key(s, "g", "d", 3);
    expect_key_of(s, "g", 3, "d");
    expect_state(s, "g", 4, SEQ_NUM_RELEASED, t + 20);
    expect_key_of(s, "g", 4, NULL);
    assert_int_equal(reserve1(s, "g", 0, "c", &rep), 4);
    assert_false(rep);

    /* RELEASE lets go of the key */
    assert_int_equal(reserve1(s, "g", 0, "e", NULL), 5);
    assert_int_equal(release(s, "g", 5), SEQ_OK);
    expect_lookup_key(s, "g", "e", INT64_MIN);
    expect_key_of(s, "g", 5, NULL);
    tick1(s); /* released at this clock: issued again once it moves on */
    assert_int_equal(reserve1(s, "g", 0, "e", &rep), 5);
    assert_false(rep);
    /* VOID keeps the key, which then refuses */
    assert_int_equal(void_(s, "g", 5, "broken"), SEQ_OK);
    assert_int_equal(reserve(s, "g", 0, "e", &r), SEQ_ERR_KEY_VOIDED);
    seq_result_free(&r);
    assert_int_equal(next(s, "g", 1, "e", &r), SEQ_ERR_KEY_VOIDED);
    seq_result_free(&r);
    expect_key_of(s, "g", 5, "e");
    expect_state(s, "g", 5, SEQ_NUM_VOIDED, t + 31);
    /* a lapsed then voided reservation: voided wins */
    assert_int_equal(reserve1(s, "g", 5, "f", NULL), 6);
    seq_tick(s, t + 40, 0);
    assert_int_equal(void_(s, "g", 6, "broken"), SEQ_OK);
    assert_int_equal(reserve(s, "g", 0, "f", &r), SEQ_ERR_KEY_VOIDED);
    seq_result_free(&r);

    /* permanent: retention does not touch gapless keys */
    seq_tick(s, t + 100000000, 0);
    expect_lookup_key(s, "g", "a", 1);
    assert_int_equal(seq_count_keys(s), 0);
    assert_int_equal(reserve1(s, "g", 0, "a", &rep), 1);
    assert_true(rep);

    /* UNDELIVERED lets go of the keys of the numbers it releases */
    assert_int_equal(undelivered(s, "g", 1, 2, "lost"), SEQ_OK);
    expect_lookup_key(s, "g", "a", INT64_MIN);
    expect_lookup_key(s, "g", "b", INT64_MIN);
    tick1(s);
    assert_int_equal(reserve1(s, "g", 0, "b", &rep), 1);
    assert_false(rep);
    /* a lapsed keyed number reissued by a plain NEXT loses its key */
    int64_t now = t + 100000000;
    assert_int_equal(reserve1(s, "g", 5, "h", NULL), 2); /* at now + 1 */
    seq_tick(s, now + 6, 0);
    assert_int_equal(next1(s, "g"), 2);
    expect_lookup_key(s, "g", "h", INT64_MIN);
    expect_key_of(s, "g", 2, NULL);
    expect_state(s, "g", 2, SEQ_NUM_FINAL, INT64_MIN);
    assert_int_equal(reserve1(s, "g", 0, "h", &rep), 7);
    assert_false(rep);
    /* keys belong to the incarnation */
    assert_int_equal(st(s, &(seq_cmd){.op = SEQ_OP_DROP, .name = "g", .name_len = 1}), SEQ_OK);
    assert_int_equal(create(s, "g", 1, 100, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    expect_lookup_key(s, "g", "h", INT64_MIN);
    assert_int_equal(reserve1(s, "g", 0, "h", &rep), 8);
    assert_false(rep);
    assert_int_equal(s->n_pkeys, 1);
    expect_valid(s);
    seq_state *d = decoded_copy(s);
    expect_lookup_key(d, "g", "h", 8);
    seq_state_free(d);
    seq_state_free(s);
}

/* ---- VOID in every state --------------------------------------------------- */

static void test_void_every_state(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 1000, 0);
    /* gapless: final, reserved, released, lapsed */
    assert_int_equal(create(s, "g", 1, 20, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(next1(s, "g"), 1);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 2);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 3);
    assert_int_equal(reserve1(s, "g", 5, NULL, NULL), 4);
    assert_int_equal(release(s, "g", 3), SEQ_OK);
    seq_tick(s, 1005, 0);
    for (int64_t v = 1; v <= 4; v++) {
        assert_int_equal(void_(s, "g", v, "spoiled"), SEQ_OK);
        expect_state(s, "g", v, SEQ_NUM_VOIDED, 1005);
    }
    expect_gaps(s, "g", INT64_MIN, INT64_MAX, 1, (grow[]){{1, 4, SEQ_NUM_VOIDED, 1005, "spoiled"}});
    /* never issued again */
    assert_int_equal(next1(s, "g"), 5);
    assert_int_equal(void_(s, "g", 5, "again"), SEQ_OK);
    seq_tick(s, 1006, 0);
    assert_int_equal(void_(s, "g", 5, "other"), SEQ_OK); /* the first stands */
    lookup(s, "g", 5, &r);
    assert_int_equal(r.time_ms, 1005);
    assert_string_equal(r.reason, "again");
    seq_result_free(&r);
    assert_int_equal(void_(s, "g", 6, "x"), SEQ_ERR_NOTISSUED);
    assert_int_equal(void_(s, "g", 6, ""), SEQ_ERR_REASON);
    assert_int_equal(void_(s, "g", 1, "tab\t"), SEQ_ERR_REASON);

    /* strict: unknown */
    assert_int_equal(create(s, "s", 1, 20, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(next(s, "s", 3, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(undelivered(s, "s", 1, 3, "lost"), SEQ_OK);
    assert_int_equal(void_(s, "s", 2, "spoiled"), SEQ_OK);
    expect_gaps(s, "s", INT64_MIN, INT64_MAX, 3,
                (grow[]){{1, 1, SEQ_NUM_UNKNOWN, 1006, "lost"},
                         {2, 2, SEQ_NUM_VOIDED, 1006, "spoiled"},
                         {3, 3, SEQ_NUM_UNKNOWN, 1006, "lost"}});

    /* cached: skipped yes, in a block no */
    assert_int_equal(create(s, "c", 1, 20, SEQ_MODE_CACHED, 4, 0), SEQ_OK);
    assert_int_equal(allocblock(s, "c", 4, 1, 1, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){1, 4});
    seq_result_free(&r);
    assert_int_equal(void_(s, "c", 1, "x"), SEQ_ERR_CACHED);
    assert_int_equal(confirm(s, "c", 1), SEQ_ERR_CACHED);
    assert_int_equal(used(s, "c", 1, 1, 1), SEQ_OK);
    assert_int_equal(void_(s, "c", 1, "x"), SEQ_OK);
    assert_int_equal(recover(s, 2, 2), SEQ_OK); /* 2..4 skipped */
    assert_int_equal(void_(s, "c", 3, "x"), SEQ_OK);
    assert_int_equal(confirm(s, "c", 2), SEQ_ERR_NOTRESERVED);
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 4,
                (grow[]){{1, 1, SEQ_NUM_VOIDED, 1006, "x"},
                         {2, 2, SEQ_NUM_SKIPPED, 1006, REASON_SKIPPED},
                         {3, 3, SEQ_NUM_VOIDED, 1006, "x"},
                         {4, 4, SEQ_NUM_SKIPPED, 1006, REASON_SKIPPED}});
    /* and they merge with equal neighbours */
    assert_int_equal(void_(s, "c", 4, "x"), SEQ_OK);
    assert_int_equal(void_(s, "c", 2, "x"), SEQ_OK);
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 1, (grow[]){{1, 4, SEQ_NUM_VOIDED, 1006, "x"}});
    assert_int_equal(next1(s, "c"), 5);
    expect_valid(s);
    seq_state_free(s);
}

/* ---- cached --------------------------------------------------------------- */

static void test_cached_blocks(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 1000, 0);
    assert_int_equal(create(s, "c", 1, 20, SEQ_MODE_CACHED, 5, 0), SEQ_OK);
    assert_int_equal(create(s, "d", 1, 20, SEQ_MODE_CACHED, 5, 0), SEQ_OK);
    assert_int_equal(create(s, "s", 1, 20, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(allocblock(s, "s", 5, 1, 1, &r), SEQ_ERR_MODE);
    seq_result_free(&r);
    assert_int_equal(used(s, "s", 5, 1, 1), SEQ_ERR_MODE);
    assert_int_equal(allocblock(s, "c", 0, 1, 1, &r), SEQ_ERR_COUNT);
    seq_result_free(&r);
    assert_int_equal(allocblock(s, "c", SEQ_CACHE_MAX + 1, 1, 1, &r), SEQ_ERR_COUNT);
    seq_result_free(&r);
    assert_int_equal(allocblock(s, "nosuch", 1, 1, 1, &r), SEQ_ERR_NOSEQ);
    seq_result_free(&r);
    assert_int_equal(used(s, "nosuch", 1, 1, 1), SEQ_ERR_NOSEQ);
    /* keys do not go with blocks */
    assert_int_equal(next(s, "c", 1, "k", &r), SEQ_ERR_MODE);
    seq_result_free(&r);

    assert_int_equal(allocblock(s, "c", 5, 1, 1, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){1, 5});
    assert_false(r.warn_crossed);
    seq_result_free(&r);
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 1,
                (grow[]){{1, 5, SEQ_NUM_CACHED, 1000, REASON_CACHED}});
    expect_state(s, "c", 3, SEQ_NUM_CACHED, INT64_MIN);
    seq_tick(s, 1010, 0);
    /* a CACHED row is stamped with the clock of the GAPS */
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 1,
                (grow[]){{1, 5, SEQ_NUM_CACHED, 1010, REASON_CACHED}});
    assert_int_equal(used(s, "c", 2, 1, 1), SEQ_OK);
    expect_state(s, "c", 2, SEQ_NUM_FINAL, INT64_MIN);
    expect_state(s, "c", 3, SEQ_NUM_CACHED, INT64_MIN);
    /* USED from another owner: nothing */
    assert_int_equal(used(s, "c", 2, 2, 1), SEQ_OK);
    assert_int_equal(used(s, "c", 2, 1, 2), SEQ_OK);
    expect_state(s, "c", 3, SEQ_NUM_CACHED, INT64_MIN);
    /* NEXT in cached mode without a block path: like strict */
    assert_int_equal(next1(s, "c"), 6);
    /* the same owner's next block is appended */
    assert_int_equal(allocblock(s, "c", 3, 1, 1, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){7, 9});
    seq_result_free(&r);
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 2,
                (grow[]){{3, 5, SEQ_NUM_CACHED, 1010, REASON_CACHED},
                         {7, 9, SEQ_NUM_CACHED, 1010, REASON_CACHED}});
    assert_int_equal(used(s, "c", 4, 1, 1), SEQ_OK); /* 3, 4, 5, 7 */
    expect_state(s, "c", 7, SEQ_NUM_FINAL, INT64_MIN);
    expect_state(s, "c", 8, SEQ_NUM_CACHED, INT64_MIN);
    /* another owner's block: the old remainder is skipped first */
    assert_int_equal(allocblock(s, "c", 2, 2, 7, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){10, 11});
    seq_result_free(&r);
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 2,
                (grow[]){{8, 9, SEQ_NUM_SKIPPED, 1010, REASON_SKIPPED},
                         {10, 11, SEQ_NUM_CACHED, 1010, REASON_CACHED}});
    /* the old owner's USED does nothing now */
    assert_int_equal(used(s, "c", 1, 1, 1), SEQ_OK);
    expect_state(s, "c", 10, SEQ_NUM_CACHED, INT64_MIN);
    /* USED beyond the block takes what is there */
    assert_int_equal(used(s, "c", 100, 2, 7), SEQ_OK);
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 1,
                (grow[]){{8, 9, SEQ_NUM_SKIPPED, 1010, REASON_SKIPPED}});
    describe(s, "c", &r);
    assert_int_equal(r.issued, 11);
    assert_int_equal(r.left, 9);
    assert_int_equal(r.next, 12);
    seq_result_free(&r);

    /* RECOVER skips the blocks of other leaders (another term, or another
     * process: the high 48 bits of node), keeps its process's own */
    assert_int_equal(allocblock(s, "c", 2, 3, 1, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(allocblock(s, "d", 2, 3, 2 | 1 << 16, &r), SEQ_OK);
    seq_result_free(&r);
    seq_tick(s, 1020, 0);
    assert_int_equal(recover(s, 3, 2), SEQ_OK); /* process 0, another holder */
    expect_state(s, "c", 12, SEQ_NUM_CACHED, INT64_MIN);
    expect_state(s, "d", 1, SEQ_NUM_SKIPPED, 1020);
    expect_state(s, "d", 2, SEQ_NUM_SKIPPED, 1020);
    assert_int_equal(recover(s, 3, 1), SEQ_OK);
    expect_state(s, "c", 12, SEQ_NUM_CACHED, INT64_MIN);
    assert_int_equal(recover(s, 4, 1), SEQ_OK);
    expect_gaps(s, "c", 12, 13, 1, (grow[]){{12, 13, SEQ_NUM_SKIPPED, 1020, REASON_SKIPPED}});
    /* skipped numbers are never handed out again */
    assert_int_equal(allocblock(s, "d", 1, 4, 1, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){3, 3});
    seq_result_free(&r);

    /* a partial block when fewer are valid; none: EXHAUSTED, and a new
     * owner still gives up the old owner's block (the one exception to "a
     * failed command changes nothing"); the old owner cannot report it
     * served any more */
    assert_int_equal(create(s, "p", 1, 3, SEQ_MODE_CACHED, 5, 0), SEQ_OK);
    assert_int_equal(addrange(s, "p", 10, 19, 5000, INT64_MAX), SEQ_OK);
    assert_int_equal(allocblock(s, "p", 5, 1, 1, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){1, 3});
    seq_result_free(&r);
    assert_int_equal(allocblock(s, "p", 5, 2, 2, &r), SEQ_ERR_EXHAUSTED);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.opens_ms, 5000);
    seq_result_free(&r);
    expect_state(s, "p", 1, SEQ_NUM_SKIPPED, IGNORE_TIME);
    assert_int_equal(used(s, "p", 3, 1, 1), SEQ_OK); /* from the old owner: nothing */
    expect_state(s, "p", 1, SEQ_NUM_SKIPPED, IGNORE_TIME);
    seq_tick(s, 5000, 0);
    assert_int_equal(allocblock(s, "p", 5, 1, 1, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){10, 14});
    seq_result_free(&r);
    assert_int_equal(used(s, "p", 1, 1, 1), SEQ_OK);
    expect_state(s, "p", 10, SEQ_NUM_FINAL, INT64_MIN);
    expect_state(s, "p", 11, SEQ_NUM_CACHED, INT64_MIN);
    /* a block is served in the order it was handed out, across ranges */
    assert_int_equal(create(s, "o", 10, 12, SEQ_MODE_CACHED, 5, 0), SEQ_OK);
    assert_int_equal(addrange(s, "o", 1, 3, INT64_MIN, INT64_MAX), SEQ_OK);
    assert_int_equal(allocblock(s, "o", 5, 1, 1, &r), SEQ_OK);
    expect_runs(&r, 2, (int64_t[]){10, 12, 1, 2});
    seq_result_free(&r);
    assert_int_equal(used(s, "o", 4, 1, 1), SEQ_OK);
    expect_state(s, "o", 1, SEQ_NUM_FINAL, INT64_MIN);
    expect_state(s, "o", 2, SEQ_NUM_CACHED, INT64_MIN);
    expect_valid(s);
    seq_state *d = decoded_copy(s);
    assert_int_equal(used(d, "o", 1, 1, 1), SEQ_OK);
    expect_state(d, "o", 2, SEQ_NUM_FINAL, INT64_MIN);
    seq_state_free(d);
    seq_state_free(s);
}

/* The walk for numbers to issue again is skipped while nothing can be
 * (none_reissuable_before): it must still find a reservation the moment
 * it lapses, one with an earlier deadline put after the walk, a RELEASE
 * and the reservations of a decoded state. */
static void test_reissue_hint_never_hides_a_number(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_tick(s, 1000, 0);
    assert_int_equal(create(s, "g", 1, 100, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(reserve1(s, "g", 100, NULL, NULL), 1);    /* lapses at 1100 */
    assert_int_equal(reserve1(s, "g", 10000, NULL, NULL), 2);  /* at 11000 */
    assert_int_equal(next1(s, "g"), 3);                        /* walked: nothing before 1100 */
    seq_tick(s, 1099, 0);
    assert_int_equal(next1(s, "g"), 4);
    seq_tick(s, 1100, 0);
    assert_int_equal(next1(s, "g"), 1); /* lapsed this very millisecond */
    assert_int_equal(next1(s, "g"), 5); /* walked again: nothing before 11000 */
    assert_int_equal(reserve1(s, "g", 10, NULL, NULL), 6);     /* at 1110, before 11000 */
    seq_tick(s, 1110, 0);
    assert_int_equal(next1(s, "g"), 6);
    assert_int_equal(release(s, "g", 2), SEQ_OK);
    assert_int_equal(next1(s, "g"), 2);
    assert_int_equal(reserve1(s, "g", 50, NULL, NULL), 7);     /* at 1160 */
    assert_int_equal(next1(s, "g"), 8);
    seq_state *d = decoded_copy(s);
    seq_tick(d, 1160, 0);
    assert_int_equal(next1(d, "g"), 7);
    seq_tick(s, 1160, 0);
    assert_int_equal(next1(s, "g"), 7);
    expect_valid(s);
    seq_state_free(d);
    seq_state_free(s);
}

/* A deposed owner's USED lost with its leadership comes back as SERVED:
 * the numbers a new owner skipped become final again, and nothing else
 * changes — not a reserved, voided or unissued number, not another
 * owner's block. */
static void test_served_after_lost_used(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 1000, 0);
    assert_int_equal(create(s, "c", 1, 100, SEQ_MODE_CACHED, 10, 0), SEQ_OK);
    assert_int_equal(create(s, "t", 1, 100, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(served(s, "t", 1, 1, 1, 1), SEQ_ERR_MODE);
    assert_int_equal(served(s, "nosuch", 1, 1, 1, 1), SEQ_ERR_NOSEQ);
    assert_int_equal(served(s, "c", 5, 4, 1, 1), SEQ_ERR_RANGE);
    assert_int_equal(served(s, "c", 1, (int64_t)SEQ_COUNT_MAX + 1, 1, 1), SEQ_ERR_RANGE);
    assert_int_equal(allocblock(s, "c", 10, 1, 1, &r), SEQ_OK); /* 1..10 */
    seq_result_free(&r);
    assert_int_equal(used(s, "c", 2, 1, 1), SEQ_OK); /* 1, 2 reached the log */
    /* 3..5 were served, their USED lost; a new leader skips the block */
    assert_int_equal(recover(s, 2, 7 << 16), SEQ_OK);
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 1,
                (grow[]){{3, 10, SEQ_NUM_SKIPPED, 1000, REASON_SKIPPED}});
    assert_int_equal(served(s, "c", 3, 5, 1, 1), SEQ_OK);
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 1,
                (grow[]){{6, 10, SEQ_NUM_SKIPPED, 1000, REASON_SKIPPED}});
    /* again, or twice over: nothing more changes */
    assert_int_equal(served(s, "c", 3, 5, 1, 1), SEQ_OK);
    expect_state(s, "c", 6, SEQ_NUM_SKIPPED, IGNORE_TIME);
    /* from the middle of a skipped run: split in two */
    assert_int_equal(served(s, "c", 8, 8, 1, 1), SEQ_OK);
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 2,
                (grow[]){{6, 7, SEQ_NUM_SKIPPED, 1000, REASON_SKIPPED},
                         {9, 10, SEQ_NUM_SKIPPED, 1000, REASON_SKIPPED}});
    /* the new owner's block, a voided number and unissued numbers keep
     * their state, whoever names them */
    assert_int_equal(allocblock(s, "c", 5, 2, 7 << 16, &r), SEQ_OK); /* 11..15 */
    seq_result_free(&r);
    assert_int_equal(void_(s, "c", 9, "torn"), SEQ_OK);
    assert_int_equal(served(s, "c", 9, 40, 1, 1), SEQ_OK);
    expect_state(s, "c", 9, SEQ_NUM_VOIDED, IGNORE_TIME);
    expect_state(s, "c", 10, SEQ_NUM_FINAL, INT64_MIN);
    expect_state(s, "c", 11, SEQ_NUM_CACHED, INT64_MIN);
    expect_state(s, "c", 16, SEQ_NUM_NOT_ISSUED, INT64_MIN);
    /* the owner whose block is still there (no one gave it up yet): SERVED
     * takes the named numbers off its front, and they are final */
    assert_int_equal(served(s, "c", 11, 12, 2, 7 << 16), SEQ_OK);
    expect_gaps(s, "c", 11, 100, 1, (grow[]){{13, 15, SEQ_NUM_CACHED, 1000, REASON_CACHED}});
    /* another incarnation's report changes nothing */
    seq_cmd c = cmd_of(SEQ_OP_SERVED, "c");
    c.min = 6;
    c.max = 7;
    c.term = 1;
    c.node = 1;
    c.incarnation = 999;
    assert_int_equal(st(s, &c), SEQ_ERR_STALE);
    expect_state(s, "c", 6, SEQ_NUM_SKIPPED, IGNORE_TIME);
    expect_valid(s);
    seq_state_free(s);
}

/* ---- UNDELIVERED ----------------------------------------------------------- */

/* A block is served only until the earliest NOTAFTER of its ranges: the
 * ALLOCBLOCK result says when. */
static void test_allocblock_until(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 1000, 0);
    seq_cmd c = range_cmd(SEQ_OP_CREATE, "c", 1, 3, INT64_MIN, 5000);
    c.mode = SEQ_MODE_CACHED;
    c.cache = 10;
    assert_int_equal(st(s, &c), SEQ_OK);
    assert_int_equal(addrange(s, "c", 10, 20, INT64_MIN, 9000), SEQ_OK);
    assert_int_equal(allocblock(s, "c", 2, 1, 1, &r), SEQ_OK);
    assert_int_equal(r.until_ms, 5000);
    seq_result_free(&r);
    assert_int_equal(allocblock(s, "c", 5, 1, 1, &r), SEQ_OK); /* 3, then 10..13 */
    expect_runs(&r, 2, (int64_t[]){3, 3, 10, 13});
    assert_int_equal(r.until_ms, 5000);
    seq_result_free(&r);
    assert_int_equal(allocblock(s, "c", 1, 1, 1, &r), SEQ_OK);
    assert_int_equal(r.until_ms, 9000);
    seq_result_free(&r);
    assert_int_equal(addrange(s, "c", 30, 100, INT64_MIN, INT64_MAX), SEQ_OK);
    assert_int_equal(allocblock(s, "c", 20, 1, 1, &r), SEQ_OK);
    expect_runs(&r, 2, (int64_t[]){15, 20, 30, 43});
    assert_int_equal(r.until_ms, 9000);
    seq_result_free(&r);
    assert_int_equal(allocblock(s, "c", 1, 1, 1, &r), SEQ_OK);
    assert_int_equal(r.until_ms, INT64_MAX);
    seq_result_free(&r);
    seq_state_free(s);
}

static void test_undelivered(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 1000, 0);
    assert_int_equal(create(s, "s", 1, 100, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(undelivered(s, "s", 1, 2, ""), SEQ_ERR_REASON);
    assert_int_equal(undelivered(s, "s", 2, 1, "x"), SEQ_ERR_RANGE);
    assert_int_equal(undelivered(s, "s", 1, SEQ_COUNT_MAX + 1, "x"), SEQ_ERR_RANGE);
    assert_int_equal(undelivered(s, "s", INT64_MIN, INT64_MAX, "x"), SEQ_ERR_RANGE);
    assert_int_equal(undelivered(s, "s", 1, SEQ_COUNT_MAX, "x"), SEQ_OK);
    assert_int_equal(undelivered(s, "nosuch", 1, 2, "x"), SEQ_ERR_NOSEQ);
    assert_int_equal(next(s, "s", 10, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(void_(s, "s", 4, "torn"), SEQ_OK);
    assert_int_equal(undelivered(s, "s", 2, 6, "lost"), SEQ_OK);
    expect_gaps(s, "s", INT64_MIN, INT64_MAX, 3,
                (grow[]){{2, 3, SEQ_NUM_UNKNOWN, 1000, "lost"},
                         {4, 4, SEQ_NUM_VOIDED, 1000, "torn"},
                         {5, 6, SEQ_NUM_UNKNOWN, 1000, "lost"}});
    /* an equal neighbour merges; CONFIRM of an unknown number makes it
     * final (splitting the run) */
    assert_int_equal(undelivered(s, "s", 7, 9, "lost"), SEQ_OK);
    expect_gaps(s, "s", 5, 10, 1, (grow[]){{5, 9, SEQ_NUM_UNKNOWN, 1000, "lost"}});
    assert_int_equal(confirm(s, "s", 8), SEQ_OK);
    assert_int_equal(confirm(s, "s", 8), SEQ_OK);
    expect_state(s, "s", 8, SEQ_NUM_FINAL, INT64_MIN);
    expect_gaps(
        s, "s", 5, 10, 2,
        (grow[]){{5, 7, SEQ_NUM_UNKNOWN, 1000, "lost"}, {9, 9, SEQ_NUM_UNKNOWN, 1000, "lost"}});
    /* numbers past the cursor are left alone */
    assert_int_equal(undelivered(s, "s", 50, 60, "lost"), SEQ_OK);
    expect_state(s, "s", 50, SEQ_NUM_NOT_ISSUED, INT64_MIN);
    /* a strict KEY replay delivers unknown numbers: final again */
    assert_int_equal(next(s, "s", 3, "k", &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){11, 13});
    seq_result_free(&r);
    seq_tick(s, 1001, 10000);
    assert_int_equal(undelivered(s, "s", 10, 14, "lost"), SEQ_OK);
    assert_int_equal(void_(s, "s", 12, "torn"), SEQ_OK);
    /* a KEY whose numbers include a voided one is refused, never answered
     * as if they were all valid; nothing is delivered by the refusal */
    assert_int_equal(next(s, "s", 3, "k", &r), SEQ_ERR_KEY_VOIDED);
    assert_int_equal(r.n_runs, 0);
    seq_result_free(&r);
    expect_gaps(s, "s", 10, 14, 3,
                (grow[]){{10, 11, SEQ_NUM_UNKNOWN, 1001, "lost"},
                         {12, 12, SEQ_NUM_VOIDED, 1001, "torn"},
                         {13, 13, SEQ_NUM_UNKNOWN, 1001, "lost"}});
    /* a strict KEY whose number was voided: refused too (it was 1 again) */
    assert_int_equal(create(s, "sv", 1, 100, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(next1k(s, "sv", "k"), 1);
    assert_int_equal(void_(s, "sv", 1, "x"), SEQ_OK);
    assert_int_equal(next(s, "sv", 1, "k", &r), SEQ_ERR_KEY_VOIDED);
    seq_result_free(&r);
    assert_int_equal(next1(s, "sv"), 2);

    /* gapless, a NEXT's report from the process that applied it: final
     * numbers are released and their keys let go; reserved and other
     * states keep theirs */
    assert_int_equal(create(s, "g", 1, 100, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(next1k(s, "g", "a"), 1);
    assert_int_equal(reserve1(s, "g", 0, "b", NULL), 2);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 3);
    assert_int_equal(next1(s, "g"), 4);
    assert_int_equal(void_(s, "g", 3, "torn"), SEQ_OK);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 5);
    assert_int_equal(release(s, "g", 5), SEQ_OK);
    seq_tick(s, 1002, 10000);
    assert_int_equal(undelivered(s, "g", 1, 10, "lost"), SEQ_OK);
    expect_gaps(s, "g", INT64_MIN, INT64_MAX, 5,
                (grow[]){{1, 1, SEQ_NUM_RELEASED, 1002, "lost"},
                         {2, 2, SEQ_NUM_RESERVED, 1001, "reserved"},
                         {3, 3, SEQ_NUM_VOIDED, 1001, "torn"},
                         {4, 4, SEQ_NUM_RELEASED, 1002, "lost"},
                         {5, 5, SEQ_NUM_RELEASED, 1001, "released"}});
    expect_lookup_key(s, "g", "a", INT64_MIN);
    expect_lookup_key(s, "g", "b", 2);
    /* a RESERVE's report releases only under its grant */
    assert_int_equal(undelivered_from(s, "g", 2, 2, 99), SEQ_OK); /* another grant */
    expect_state(s, "g", 2, SEQ_NUM_RESERVED, 1001);
    assert_int_equal(undelivered_from(s, "g", 1, 5, 1), SEQ_OK); /* 2's: the first RESERVE */
    expect_state(s, "g", 2, SEQ_NUM_RELEASED, 1002);
    expect_state(s, "g", 4, SEQ_NUM_RELEASED, 1002); /* already was */
    expect_lookup_key(s, "g", "b", INT64_MIN);
    assert_int_equal(confirm(s, "g", 1), SEQ_ERR_NOTRESERVED);
    tick1(s);
    assert_int_equal(next1k(s, "g", "b"), 1);
    assert_int_equal(next(s, "g", 3, NULL, &r), SEQ_OK);
    expect_numbers(&r, 3, (int64_t[]){2, 4, 5});
    seq_result_free(&r);
    /* a NEXT's report from anyone else: final numbers become unknown,
     * never released (it could be late, repeated or forged) */
    assert_int_equal(undelivered_from(s, "g", 1, 2, 0), SEQ_OK);
    expect_state(s, "g", 1, SEQ_NUM_UNKNOWN, 1003);
    expect_state(s, "g", 2, SEQ_NUM_UNKNOWN, 1003);
    assert_int_equal(next1(s, "g"), 6);
    /* and a RESERVE's report never touches a final number */
    assert_int_equal(undelivered_from(s, "g", 4, 5, 3), SEQ_OK); /* 5's old grant */
    expect_state(s, "g", 4, SEQ_NUM_FINAL, IGNORE_TIME);

    /* cached: the numbers in the block are not touched, those around are */
    assert_int_equal(create(s, "c", 1, 100, SEQ_MODE_CACHED, 5, 0), SEQ_OK);
    assert_int_equal(allocblock(s, "c", 5, 1, 1, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(used(s, "c", 2, 1, 1), SEQ_OK);
    assert_int_equal(next1(s, "c"), 6);
    assert_int_equal(allocblock(s, "c", 2, 1, 1, &r), SEQ_OK); /* 7, 8 */
    seq_result_free(&r);
    assert_int_equal(next1(s, "c"), 9);
    assert_int_equal(undelivered(s, "c", 1, 9, "lost"), SEQ_OK);
    expect_gaps(s, "c", INT64_MIN, INT64_MAX, 5,
                (grow[]){{1, 2, SEQ_NUM_UNKNOWN, 1003, "lost"},
                         {3, 5, SEQ_NUM_CACHED, 1003, REASON_CACHED},
                         {6, 6, SEQ_NUM_UNKNOWN, 1003, "lost"},
                         {7, 8, SEQ_NUM_CACHED, 1003, REASON_CACHED},
                         {9, 9, SEQ_NUM_UNKNOWN, 1003, "lost"}});
    expect_valid(s);
    /* the block can still be skipped and served */
    assert_int_equal(used(s, "c", 1, 1, 1), SEQ_OK);
    assert_int_equal(recover(s, 2, 2), SEQ_OK);
    expect_state(s, "c", 3, SEQ_NUM_FINAL, INT64_MIN);
    expect_gaps(s, "c", 3, 8, 3,
                (grow[]){{4, 5, SEQ_NUM_SKIPPED, 1003, REASON_SKIPPED},
                         {6, 6, SEQ_NUM_UNKNOWN, 1003, "lost"},
                         {7, 8, SEQ_NUM_SKIPPED, 1003, REASON_SKIPPED}});
    expect_valid(s);
    seq_state_free(s);
}

/* ---- WARN and rates -------------------------------------------------------- */

typedef struct warned_list {
    char names[8][16];
    uint64_t left[8], warn[8];
    size_t n;
} warned_list;

static void collect_warned(void *ctx, const char *name, uint64_t left, uint64_t warn)
{
    warned_list *w = ctx;
    assert_true(w->n < 8);
    snprintf(w->names[w->n], sizeof(w->names[w->n]), "%s", name);
    w->left[w->n] = left;
    w->warn[w->n] = warn;
    w->n++;
}

static warned_list warned_of(const seq_state *s)
{
    warned_list w;
    memset(&w, 0, sizeof(w));
    seq_each_warned(s, collect_warned, &w);
    return w;
}

/* NEXT name COUNT count: must succeed; returns warn_crossed. */
static bool next_crossed(seq_state *s, const char *name, uint32_t count)
{
    seq_result r;
    assert_int_equal(next(s, name, count, NULL, &r), SEQ_OK);
    bool crossed = r.warn_crossed;
    seq_result_free(&r);
    return crossed;
}

static void test_warn(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 1000, 0);
    assert_int_equal(create(s, "a", 1, 10, SEQ_MODE_STRICT, 0, 3), SEQ_OK);
    assert_false(next_crossed(s, "a", 6));
    assert_true(next_crossed(s, "a", 1));  /* left 3 */
    assert_false(next_crossed(s, "a", 1)); /* once */
    describe(s, "a", &r);
    assert_true(r.warned);
    assert_int_equal(r.left, 2);
    seq_result_free(&r);
    warned_list w = warned_of(s);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.names[0], "a");
    assert_int_equal(w.left[0], 2);
    assert_int_equal(w.warn[0], 3);
    /* ADDRANGE that does not lift it above WARN keeps it, one that does
     * clears it, and the next crossing is reported again */
    assert_int_equal(addrange(s, "a", 20, 20, INT64_MIN, INT64_MAX), SEQ_OK);
    assert_int_equal(warned_of(s).n, 1);
    assert_int_equal(addrange(s, "a", 30, 31, INT64_MIN, INT64_MAX), SEQ_OK);
    assert_int_equal(warned_of(s).n, 0);
    describe(s, "a", &r);
    assert_false(r.warned);
    assert_int_equal(r.left, 5);
    seq_result_free(&r);
    assert_false(next_crossed(s, "a", 1));
    assert_true(next_crossed(s, "a", 1));
    /* crossing straight to exhaustion */
    assert_int_equal(create(s, "b", 1, 10, SEQ_MODE_STRICT, 0, 3), SEQ_OK);
    assert_true(next_crossed(s, "b", 10));
    /* WARN 0: never */
    assert_int_equal(create(s, "z", 1, 2, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_false(next_crossed(s, "z", 2));

    /* gapless: RESERVE crosses; a RELEASE that lifts the numbers left above
     * WARN clears it, and reissuing that number crosses again */
    assert_int_equal(create(s, "g", 1, 5, SEQ_MODE_GAPLESS, 0, 2), SEQ_OK);
    assert_int_equal(reserve(s, "g", 0, NULL, &r), SEQ_OK);
    assert_false(r.warn_crossed);
    seq_result_free(&r);
    assert_false(next_crossed(s, "g", 1));
    assert_int_equal(reserve(s, "g", 0, NULL, &r), SEQ_OK);
    assert_true(r.warn_crossed);
    assert_int_equal(r.runs[0].first, 3);
    seq_result_free(&r);
    assert_int_equal(release(s, "g", 3), SEQ_OK);
    describe(s, "g", &r);
    assert_false(r.warned);
    assert_int_equal(r.left, 3);
    seq_result_free(&r);
    tick1(s);
    assert_int_equal(reserve(s, "g", 0, NULL, &r), SEQ_OK);
    assert_true(r.warn_crossed);
    assert_int_equal(r.runs[0].first, 3);
    seq_result_free(&r);
    /* cached: ALLOCBLOCK crosses */
    assert_int_equal(create(s, "c", 1, 10, SEQ_MODE_CACHED, 4, 5), SEQ_OK);
    assert_int_equal(allocblock(s, "c", 4, 1, 1, &r), SEQ_OK);
    assert_false(r.warn_crossed);
    seq_result_free(&r);
    assert_int_equal(allocblock(s, "c", 1, 1, 1, &r), SEQ_OK);
    assert_true(r.warn_crossed);
    seq_result_free(&r);
    /* expired numbers do not count as left; ranges not open yet do */
    seq_cmd c = range_cmd(SEQ_OP_CREATE, "f", 1, 10, INT64_MIN, 1100);
    c.warn = 5;
    assert_int_equal(st(s, &c), SEQ_OK);
    assert_int_equal(addrange(s, "f", 11, 15, 900000, INT64_MAX), SEQ_OK);
    assert_false(next_crossed(s, "f", 1)); /* left 14 */
    seq_tick(s, 1101, 0);
    describe(s, "f", &r);
    assert_int_equal(r.left, 5);
    assert_false(r.warned); /* only a take reports it */
    seq_result_free(&r);
    seq_tick(s, 900000, 0);
    assert_true(next_crossed(s, "f", 1)); /* left 4 */
    w = warned_of(s);
    assert_int_equal(w.n, 5); /* a, b, g, c, f (hash order) */
    expect_valid(s);
    seq_state *d = decoded_copy(s);
    assert_int_equal(warned_of(d).n, 5);
    seq_state_free(d);
    seq_state_free(s);
}

static void expect_rates(seq_state *s, const char *name, uint64_t per_min, uint64_t per_hour,
                         int64_t eta_s)
{
    seq_result r;
    describe(s, name, &r);
    if (r.rate_1m != per_min || r.rate_1h != per_hour || r.eta_s != eta_s) {
        fail_msg("%s: rates %" PRIu64 "/min %" PRIu64 "/h eta %" PRId64 ", want %" PRIu64
                 " %" PRIu64 " %" PRId64,
                 name, r.rate_1m, r.rate_1h, r.eta_s, per_min, per_hour, eta_s);
    }
    seq_result_free(&r);
}

static void test_rates(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    const int64_t t0 = 100 * 60000; /* the start of minute 100 */
    seq_tick(s, t0, 0);
    assert_int_equal(create(s, "r", 1, 1000, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    expect_rates(s, "r", 0, 0, -1);
    assert_int_equal(next(s, "r", 30, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    seq_tick(s, t0 + 30000, 0);
    expect_rates(s, "r", 30, 30, 970 * 60 / 30);
    /* 15 s into the next minute: 45/60 of the previous one still counts */
    seq_tick(s, t0 + 75000, 0);
    expect_rates(s, "r", 22, 30, 970 * 60 / 22);
    assert_int_equal(next(s, "r", 10, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    expect_rates(s, "r", 32, 40, 960 * 60 / 32);
    /* no recent minute: the hour's rate */
    seq_tick(s, t0 + 180000, 0);
    expect_rates(s, "r", 0, 40, 960 * 3600 / 40);
    seq_tick(s, t0 + 60 * 60000, 0); /* minute 160: minutes 101..160 */
    expect_rates(s, "r", 0, 10, 960 * 3600 / 10);
    seq_tick(s, t0 + 61 * 60000, 0);
    expect_rates(s, "r", 0, 0, -1);
    /* a bucket reused an hour later starts from zero */
    assert_int_equal(next(s, "r", 5, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    expect_rates(s, "r", 5, 5, 955 * 60 / 5);

    /* what counts: gapless NEXT and RESERVE (not replays), cached USED (not
     * ALLOCBLOCK) */
    assert_int_equal(create(s, "g", 1, 100, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(reserve1(s, "g", 0, "k", NULL), 1);
    assert_int_equal(reserve1(s, "g", 0, "k", NULL), 1);
    assert_int_equal(next(s, "g", 3, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    expect_rates(s, "g", 4, 4, 96 * 60 / 4);
    assert_int_equal(create(s, "c", 1, 100, SEQ_MODE_CACHED, 10, 0), SEQ_OK);
    assert_int_equal(allocblock(s, "c", 10, 1, 1, &r), SEQ_OK);
    seq_result_free(&r);
    expect_rates(s, "c", 0, 0, -1);
    assert_int_equal(used(s, "c", 4, 1, 1), SEQ_OK);
    expect_rates(s, "c", 4, 4, 90 * 60 / 4);
    assert_int_equal(used(s, "c", 4, 9, 9), SEQ_OK); /* not the owner */
    expect_rates(s, "c", 4, 4, 90 * 60 / 4);

    /* before 1970: minutes are floored */
    seq_state *n = mk();
    seq_tick(n, -30000, 0);
    assert_int_equal(create(n, "r", 1, 100, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(next1(n, "r"), 1);
    seq_tick(n, -1, 0);
    expect_rates(n, "r", 1, 1, 99 * 60);
    seq_tick(n, 15000, 0); /* minute 0, 15 s in: 3/4 of minute -1 */
    expect_rates(n, "r", 0, 1, 99 * 3600);
    seq_state *d = decoded_copy(s);
    expect_rates(d, "c", 4, 4, 90 * 60 / 4);
    expect_rates(d, "r", 5, 5, 955 * 60 / 5);
    seq_state_free(d);
    seq_state_free(n);
    seq_state_free(s);
}

/* ---- the ledger limit ------------------------------------------------------- */

static void test_ledger_limit_modes(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 5, 0);
    const int64_t top = 2 * (int64_t)SEQ_LEDGER_MAX + 100;
    assert_int_equal(create(s, "g", 0, top, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 0);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 1);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 2);
    assert_int_equal(next(s, "g", 2 * SEQ_LEDGER_MAX, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    /* three reservations and every other number voided: no two merge */
    for (int64_t v = 4; s->by_name->n_ledger < SEQ_LEDGER_MAX; v += 2) {
        if (void_(s, "g", v, "r") != SEQ_OK) {
            fail_msg("void %" PRId64 " failed", v);
        }
    }
    const seq_sequence *q = s->by_name;
    assert_int_equal(q->n_ledger, SEQ_LEDGER_MAX);
    seq_result d0;
    describe(s, "g", &d0);
    /* a new reservation needs a run: refused, nothing taken */
    assert_int_equal(reserve(s, "g", 0, NULL, &r), SEQ_ERR_TOO_MANY);
    seq_result_free(&r);
    seq_result d1;
    describe(s, "g", &d1);
    assert_int_equal(d1.issued, d0.issued);
    assert_int_equal(d1.next, d0.next);
    seq_result_free(&d0);
    seq_result_free(&d1);
    /* a new run for a final number: refused */
    assert_int_equal(undelivered(s, "g", 3, 3, "lost"), SEQ_ERR_TOO_MANY);
    assert_int_equal(void_(s, "g", 2 * SEQ_LEDGER_MAX + 1, "r"), SEQ_ERR_TOO_MANY);
    /* what does not grow the ledger still works at the limit */
    assert_int_equal(confirm(s, "g", 0), SEQ_OK); /* one run fewer */
    assert_int_equal(q->n_ledger, SEQ_LEDGER_MAX - 1);
    assert_int_equal(void_(s, "g", 2 * SEQ_LEDGER_MAX + 1, "r"), SEQ_OK);
    assert_int_equal(q->n_ledger, SEQ_LEDGER_MAX);
    assert_int_equal(release(s, "g", 1), SEQ_OK); /* reserved -> released */
    assert_int_equal(q->n_ledger, SEQ_LEDGER_MAX);
    assert_int_equal(void_(s, "g", 2, "r"), SEQ_OK);      /* reserved -> voided */
    tick1(s);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 1); /* released -> reserved */
    assert_int_equal(confirm(s, "g", 1), SEQ_OK);
    assert_int_equal(q->n_ledger, SEQ_LEDGER_MAX - 1);
    expect_valid(s);
    seq_state *d = decoded_copy(s);
    seq_state_free(d);
    seq_state_free(s);

    /* strict: CONFIRM of an unknown run's middle splits it (needs a run) */
    s = mk();
    seq_tick(s, 5, 0);
    assert_int_equal(create(s, "s", 0, top, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(next(s, "s", 2 * SEQ_LEDGER_MAX + 10, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(undelivered(s, "s", 0, 2, "lost"), SEQ_OK);
    for (int64_t v = 4; s->by_name->n_ledger < SEQ_LEDGER_MAX; v += 2) {
        assert_int_equal(void_(s, "s", v, "r"), SEQ_OK);
    }
    assert_int_equal(confirm(s, "s", 1), SEQ_ERR_TOO_MANY);
    assert_int_equal(confirm(s, "s", 0), SEQ_OK);
    assert_int_equal(confirm(s, "s", 1), SEQ_OK);
    assert_int_equal(confirm(s, "s", 2), SEQ_OK);
    assert_int_equal(s->by_name->n_ledger, SEQ_LEDGER_MAX - 1);
    seq_state_free(s);

    /* cached: skipping a block needs runs; the block is kept when refused */
    s = mk();
    seq_tick(s, 5, 0);
    assert_int_equal(create(s, "c", 0, top, SEQ_MODE_CACHED, 10, 0), SEQ_OK);
    assert_int_equal(next(s, "c", 2 * SEQ_LEDGER_MAX, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    for (int64_t v = 0; s->by_name->n_ledger < SEQ_LEDGER_MAX; v += 2) {
        assert_int_equal(void_(s, "c", v, "r"), SEQ_OK);
    }
    int64_t b0 = 2 * SEQ_LEDGER_MAX;
    assert_int_equal(allocblock(s, "c", 3, 1, 1, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){b0, b0 + 2});
    seq_result_free(&r);
    assert_int_equal(allocblock(s, "c", 3, 2, 2, &r), SEQ_ERR_TOO_MANY);
    seq_result_free(&r);
    assert_int_equal(recover(s, 2, 2), SEQ_OK); /* never fails: the block stays listed as cached */
    expect_state(s, "c", b0, SEQ_NUM_CACHED, INT64_MIN);
    expect_state(s, "c", b0 + 3, SEQ_NUM_NOT_ISSUED, INT64_MIN);
    assert_int_equal(used(s, "c", 3, 1, 1), SEQ_OK);
    expect_state(s, "c", b0 + 2, SEQ_NUM_FINAL, INT64_MIN);
    expect_valid(s);
    seq_state_free(s);
}

/* A released run across two ranges whose lower part expired: reissuing
 * from its middle splits it, which a full ledger refuses. */
static void test_ledger_limit_split_reissue(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 5, 0);
    const int64_t top = 2 * (int64_t)SEQ_LEDGER_MAX + 100;
    assert_int_equal(create_win(s, "x", 0, 5, SEQ_MODE_GAPLESS, INT64_MIN, 100), SEQ_OK);
    assert_int_equal(addrange(s, "x", 6, top, INT64_MIN, INT64_MAX), SEQ_OK);
    assert_int_equal(next(s, "x", 8, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(next(s, "x", 2 * SEQ_LEDGER_MAX, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(undelivered(s, "x", 4, 7, "lost"), SEQ_OK);
    expect_gaps(s, "x", 4, 7, 1, (grow[]){{4, 7, SEQ_NUM_RELEASED, 5, "lost"}});
    for (int64_t v = 10; s->by_name->n_ledger < SEQ_LEDGER_MAX; v += 2) {
        assert_int_equal(void_(s, "x", v, "r"), SEQ_OK);
    }
    seq_tick(s, 101, 0);
    describe(s, "x", &r);
    assert_int_equal(r.next, 6);
    seq_result_free(&r);
    /* 6 alone would leave 4..5 and 7: one run more */
    assert_int_equal(next(s, "x", 1, NULL, &r), SEQ_ERR_TOO_MANY);
    seq_result_free(&r);
    assert_int_equal(reserve(s, "x", 0, NULL, &r), SEQ_ERR_TOO_MANY);
    seq_result_free(&r);
    /* 6 and 7 leave 4..5: no growth */
    assert_int_equal(next(s, "x", 2, NULL, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){6, 7});
    seq_result_free(&r);
    expect_gaps(s, "x", 0, 9, 1, (grow[]){{4, 5, SEQ_NUM_RELEASED, 5, "lost"}});
    assert_int_equal(s->by_name->n_ledger, SEQ_LEDGER_MAX);
    expect_valid(s);
    seq_state_free(s);
}

/* GAPS cuts at SEQ_GAPS_MAX rows, counting ledger, block and expired rows
 * together, lowest first. */
static void test_gaps_cut_mixed(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 5, 0);
    const int64_t n_void = SEQ_GAPS_MAX + 1;
    const int64_t issued = 2 * n_void + 10;
    assert_int_equal(create_win(s, "c", 0, 3 * n_void, SEQ_MODE_CACHED, INT64_MIN, 100), SEQ_OK);
    assert_int_equal(next(s, "c", (uint32_t)issued, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    for (int64_t v = 0; v < 2 * n_void; v += 2) {
        assert_int_equal(void_(s, "c", v, "r"), SEQ_OK);
    }
    assert_int_equal(allocblock(s, "c", 5, 1, 1, &r), SEQ_OK);
    expect_runs(&r, 1, (int64_t[]){issued, issued + 4});
    seq_result_free(&r);
    seq_tick(s, 101, 0);
    gaps(s, "c", INT64_MIN, INT64_MAX, &r);
    assert_true(r.more);
    assert_int_equal(r.n_ledger, SEQ_GAPS_MAX);
    assert_int_equal(r.ledger[SEQ_GAPS_MAX - 1].first, 2 * (SEQ_GAPS_MAX - 1));
    assert_int_equal(r.ledger[SEQ_GAPS_MAX - 1].state, SEQ_NUM_VOIDED);
    seq_result_free(&r);
    expect_gaps(s, "c", 2 * n_void - 4, INT64_MAX, 4,
                (grow[]){{2 * n_void - 4, 2 * n_void - 4, SEQ_NUM_VOIDED, 5, "r"},
                         {2 * n_void - 2, 2 * n_void - 2, SEQ_NUM_VOIDED, 5, "r"},
                         {issued, issued + 4, SEQ_NUM_CACHED, 101, REASON_CACHED},
                         {issued + 5, 3 * n_void, SEQ_NUM_EXPIRED, 100, REASON_EXPIRED}});
    expect_gaps(s, "c", issued + 2, issued + 6, 2,
                (grow[]){{issued + 2, issued + 4, SEQ_NUM_CACHED, 101, REASON_CACHED},
                         {issued + 5, issued + 6, SEQ_NUM_EXPIRED, 100, REASON_EXPIRED}});
    seq_state_free(s);
}

/* ---- snapshots ---------------------------------------------------------------- */

#define SNAP_NAMES 6
static const char *const snap_names[SNAP_NAMES] = {"s", "g", "c", "w", "dropped", "k"};

/* A state with every feature of this file in it. */
static seq_state *snap_rich_state(void)
{
    seq_state *s = mk();
    seq_result r;
    seq_tick(s, 10 * 60000, 100000);
    assert_int_equal(create(s, "s", 1, 50, SEQ_MODE_STRICT, 0, 45), SEQ_OK);
    assert_int_equal(next(s, "s", 4, "key1", &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(undelivered(s, "s", 2, 3, "lost"), SEQ_OK);
    assert_int_equal(create(s, "g", 1, 50, SEQ_MODE_GAPLESS, 0, 10), SEQ_OK);
    assert_int_equal(next1k(s, "g", "a"), 1);
    assert_int_equal(reserve1(s, "g", 0, "b", NULL), 2);
    assert_int_equal(reserve1(s, "g", 100, "c", NULL), 3);
    assert_int_equal(reserve1(s, "g", 100000, NULL, NULL), 4);
    assert_int_equal(reserve1(s, "g", 0, NULL, NULL), 5);
    assert_int_equal(release(s, "g", 5), SEQ_OK);
    tick1(s);
    assert_int_equal(reserve1(s, "g", 0, "d", NULL), 5);
    assert_int_equal(void_(s, "g", 5, "spoiled"), SEQ_OK);
    assert_int_equal(create(s, "c", 1, 50, SEQ_MODE_CACHED, 8, 0), SEQ_OK);
    assert_int_equal(allocblock(s, "c", 8, 1, 1, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(used(s, "c", 3, 1, 1), SEQ_OK);
    assert_int_equal(allocblock(s, "c", 4, 2, 1, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(used(s, "c", 1, 2, 1), SEQ_OK);
    assert_int_equal(create_win(s, "w", 1, 10, SEQ_MODE_GAPLESS, INT64_MIN, 10 * 60000 + 500),
                     SEQ_OK);
    assert_int_equal(addrange(s, "w", 11, 20, 10 * 60000 + 1000, 10 * 60000 + 9000), SEQ_OK);
    assert_int_equal(addrange(s, "w", 21, 30, 20 * 60000, INT64_MAX), SEQ_OK);
    assert_int_equal(next(s, "w", 3, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(undelivered(s, "w", 2, 2, "lost"), SEQ_OK);
    assert_int_equal(create(s, "dropped", 1, 50, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(next1k(s, "dropped", "z"), 1);
    assert_int_equal(st(s, &(seq_cmd){.op = SEQ_OP_DROP, .name = "dropped", .name_len = 7}),
                     SEQ_OK);
    seq_tick(s, 10 * 60000 + 2000, 100000); /* 3 runs out, w's first range expires */
    assert_int_equal(next(s, "w", 2, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    assert_int_equal(create(s, "k", -5, 5, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(next(s, "k", 2, "key2", &r), SEQ_OK);
    seq_result_free(&r);
    return s;
}

/* Every answer of a and b about the sequences of this file is the same. */
static void expect_same_answers(seq_state *a, seq_state *b)
{
    assert_int_equal(seq_count_live(a), seq_count_live(b));
    assert_int_equal(seq_count_keys(a), seq_count_keys(b));
    assert_int_equal(seq_clock_ms(a), seq_clock_ms(b));
    assert_int_equal(a->n_pkeys, b->n_pkeys);
    seq_cmd c = cmd_of(SEQ_OP_LIST, NULL);
    apply_both(a, b, &c);
    static const char *const keys[] = {"key1", "key2", "a", "b", "c", "d", "z", "nope"};
    for (size_t i = 0; i < SNAP_NAMES; i++) {
        const char *name = snap_names[i];
        c = cmd_of(SEQ_OP_DESCRIBE, name);
        apply_both(a, b, &c);
        c = cmd_of(SEQ_OP_GAPS, name);
        c.min = INT64_MIN;
        c.max = INT64_MAX;
        apply_both(a, b, &c);
        for (int64_t v = -6; v <= 52; v++) {
            c = cmd_of(SEQ_OP_LOOKUP, name);
            c.min = v;
            apply_both(a, b, &c);
        }
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            c = cmd_of(SEQ_OP_LOOKUP_KEY, name);
            set_key(&c, keys[k]);
            apply_both(a, b, &c);
        }
    }
    warned_list wa = warned_of(a), wb = warned_of(b);
    assert_int_equal(wa.n, wb.n);
    for (size_t i = 0; i < wa.n; i++) {
        assert_string_equal(wa.names[i], wb.names[i]);
        assert_int_equal(wa.left[i], wb.left[i]);
    }
}

static void test_snapshot_modes(void **state)
{
    (void)state;
    seq_state *s = snap_rich_state();
    expect_valid(s);
    seq_state *d = decoded_copy(s);
    expect_valid(d);
    expect_same_answers(s, d);
    /* spot checks of what was kept */
    expect_state(d, "g", 3, SEQ_NUM_RELEASED, 10 * 60000 + 100);
    expect_state(d, "g", 4, SEQ_NUM_RESERVED, 10 * 60000);
    expect_key_of(d, "g", 5, "d");
    expect_state(d, "c", 9, SEQ_NUM_FINAL, INT64_MIN);
    expect_state(d, "c", 10, SEQ_NUM_CACHED, INT64_MIN);
    expect_state(d, "c", 4, SEQ_NUM_SKIPPED, 10 * 60000 + 1);
    expect_state(d, "w", 5, SEQ_NUM_EXPIRED, 10 * 60000 + 500);
    expect_state(d, "s", 2, SEQ_NUM_UNKNOWN, 10 * 60000);

    /* the same commands go on to give the same answers */
    int64_t t = 10 * 60000 + 2000;
    for (int step = 0; step < 40; step++) {
        t += 997;
        seq_tick(s, t, 100000);
        seq_tick(d, t, 100000);
        seq_cmd c = cmd_of(SEQ_OP_NEXT, snap_names[step % SNAP_NAMES]);
        if (step % 3 == 0) {
            set_key(&c, step % 2 == 0 ? "key1" : "b");
            c.count = step % 2 == 0 ? 4 : 1;
        }
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_RESERVE, "g");
        c.ttl_ms = step % 4 == 0 ? 0 : 1500;
        set_key(&c, step % 5 == 0 ? "c" : NULL);
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_CONFIRM, "g");
        c.min = step % 7;
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_RELEASE, "g");
        c.min = step % 9;
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_ALLOCBLOCK, "c");
        c.count = 3;
        c.term = (uint64_t)(step / 10);
        c.node = 1;
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_USED, "c");
        c.count = 2;
        c.term = (uint64_t)(step / 10);
        c.node = 1;
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_UNDELIVERED, snap_names[step % 3]);
        c.min = step % 11;
        c.max = step % 11 + 1;
        set_text(&c, "lost");
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_CONFIRM, "s");
        c.min = step % 5;
        apply_both(s, d, &c);
        c = cmd_of(SEQ_OP_VOID, snap_names[step % 4]);
        c.min = step % 13;
        set_text(&c, "torn");
        apply_both(s, d, &c);
        if (step % 10 == 9) {
            c = cmd_of(SEQ_OP_RECOVER, NULL);
            c.term = 99;
            apply_both(s, d, &c);
        }
        if (step == 20) {
            c = range_cmd(SEQ_OP_ADDRANGE, "w", 40, 45, t + 5000, t + 9000);
            apply_both(s, d, &c);
        }
    }
    expect_same_answers(s, d);
    expect_valid(s);
    expect_valid(d);
    seq_state_free(d);

    /* every truncation of a v3 snapshot is refused, and so is one more byte */
    size_t len = 0;
    uint8_t *buf = seq_snapshot_encode(s, &len);
    assert_non_null(buf);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut == 0 ? 1 : cut);
        assert_non_null(copy);
        memcpy(copy, buf, cut);
        seq_state *bad = seq_snapshot_decode(copy, cut);
        if (bad != NULL) {
            fail_msg("a snapshot cut to %zu of %zu bytes was accepted", cut, len);
        }
        free(copy);
    }
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    longer[len] = 0;
    assert_null(seq_snapshot_decode(longer, len + 1));
    free(longer);
    free(buf);
    seq_state_free(s);
}

/* The decoder refuses ledgers that break the invariants of the modes. */
static void test_snapshot_refuses_bad_modes(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_tick(s, 1000, 0);
    assert_int_equal(create(s, "g", 1, 10, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(reserve1(s, "g", 100, NULL, NULL), 1);
    assert_int_equal(next1(s, "g"), 2);
    seq_sequence *q = s->by_name;
    size_t len = 0;
    uint8_t *buf;
    seq_state *d;
    /* a reserved run of two numbers */
    q->ledger[0].last = 2;
    buf = seq_snapshot_encode(s, &len);
    assert_null(seq_snapshot_decode(buf, len));
    free(buf);
    q->ledger[0].last = 1;
    /* a stored EXPIRED or CACHED state */
    q->ledger[0].state = SEQ_NUM_EXPIRED;
    buf = seq_snapshot_encode(s, &len);
    assert_null(seq_snapshot_decode(buf, len));
    free(buf);
    q->ledger[0].state = SEQ_NUM_CACHED;
    buf = seq_snapshot_encode(s, &len);
    assert_null(seq_snapshot_decode(buf, len));
    free(buf);
    q->ledger[0].state = SEQ_NUM_RESERVED;
    /* a block in a gapless sequence */
    q->block = malloc(sizeof(seq_run));
    assert_non_null(q->block);
    q->block[0] = (seq_run){2, 2};
    q->n_block = 1;
    buf = seq_snapshot_encode(s, &len);
    assert_null(seq_snapshot_decode(buf, len));
    free(buf);
    q->n_block = 0;
    /* a gapless sequence with a block size */
    q->cache = 3;
    buf = seq_snapshot_encode(s, &len);
    assert_null(seq_snapshot_decode(buf, len));
    free(buf);
    q->cache = 0;
    /* a window the wrong way round */
    q->ranges[0].not_before = 10;
    q->ranges[0].not_after = 9;
    buf = seq_snapshot_encode(s, &len);
    assert_null(seq_snapshot_decode(buf, len));
    free(buf);
    q->ranges[0].not_before = INT64_MIN;
    q->ranges[0].not_after = INT64_MAX;
    /* and back to what the core made: accepted */
    d = decoded_copy(s);
    seq_state_free(d);
    seq_state_free(s);
}

/* ---- the random-operation test against a reference model ------------------ */

/* The model keeps, per sequence slot, its definition and ranges and, per
 * number, the ledger state the semantics say it has. Numbers are offsets
 * [0, MD) from a base (0, INT64_MIN, or ending at INT64_MAX), small enough
 * that ranges collide and sequences run out often; a slot that ran out is
 * dropped, and then either re-created under its name (so the burned history
 * counts) or moved to a fresh name. Each operation is applied to the state
 * under test and, in lock step, to the state it was decoded from at the
 * last snapshot round trip, whose answers must be the same. */
#define MD 40
#define MS 4
#define MR 6
#define MK 4
#define M_SKEYS_MAX 6
#define M_RATES 64
#define M_COUNT_MAX 5
#define M_LAPSED 100 /* a pseudo-state: a reservation whose TTL passed */

typedef struct mrange {
    int lo, hi;
    int64_t nb, na; /* INT64_MIN / INT64_MAX when open */
} mrange;

typedef struct mseq {
    char name[24];
    int gen;
    bool live;
    uint64_t inc;
    uint8_t mode;
    uint32_t cache;
    uint64_t warn;
    bool warned;
    int dmin, dmax, dstart;
    bool dhas_start;
    mrange r[MR];
    int nr;
    /* per number: ledger state (SEQ_NUM_NOT_ISSUED: not taken), and for
     * the ledger states when, why, and (reserved) until when */
    uint8_t st[MD];
    int64_t time[MD], until[MD];
    const char *why[MD];
    bool burned[MD]; /* taken by an earlier incarnation of this name */
    int block[MD];   /* cached: the block, in serving order */
    int nblock;
    uint64_t bterm, bnode;
    uint64_t issued;
    int pnum[MK]; /* gapless: the number each key holds, or -1 */
    int64_t ptime[MK];
    uint64_t grants;       /* reservations made (the last grant) */
    uint64_t grant[MD];    /* reserved: its grant */
    uint64_t holder[MD];   /* who the history checker was told holds it */
    int64_t rmin[M_RATES]; /* numbers issued per minute, ascending minutes */
    uint64_t rcnt[M_RATES];
    int nrates;
} mseq;

typedef struct mskey {
    int who;
    uint64_t inc;
    int keyi;
    uint32_t count;
    int nums[M_COUNT_MAX];
    int64_t inserted;
} mskey;

typedef struct model {
    uint64_t seed, rng;
    size_t op;
    int64_t base, clock, retention;
    uint64_t incs;
    seq_state *s, *twin;
    hist *h; /* what every caller was told, for the independent checker */
    mseq q[MS];
    mskey skeys[M_SKEYS_MAX]; /* strict keys, oldest first */
    size_t n_skeys;
    uint64_t owner_term, owner_node;
    /* coverage, printed per seed */
    size_t n_new, n_reissued, n_lapsed, n_expired, n_skipped, n_cached, n_unknown, n_voided,
        n_replays, n_key_voided, n_opens, n_crossed, n_snapshots, n_drops;
} model;

#define MCHECK(m, cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fail_msg("seed=%" PRIu64 " op=%zu: check failed: %s (line %d)", (m)->seed, (m)->op,    \
                     #cond, __LINE__);                                                             \
        }                                                                                          \
    } while (0)

/* A status the core returned must be the one the model expects. */
#define MCHECK_STATUS(m, got, want)                                                                \
    do {                                                                                           \
        int got_ = (got), want_ = (want);                                                          \
        if (got_ != want_) {                                                                       \
            fail_msg("seed=%" PRIu64 " op=%zu: status %d, model says %d (line %d)", (m)->seed,     \
                     (m)->op, got_, want_, __LINE__);                                              \
        }                                                                                          \
    } while (0)

static const char *const m_keys[MK] = {"k0", "k1", "k2", "k3"};
#define M_REASONS_OK 3
#define M_REASONS 5
static const char *const m_reasons[M_REASONS] = {"damaged", "lost reply", "x", "", "bad\x01"};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t mrand(model *m, uint64_t n)
{
    return splitmix64(&m->rng) % n;
}

static int64_t mnum(const model *m, int off)
{
    return (int64_t)((uint64_t)m->base + (uint64_t)(int64_t)off);
}

/* The offset of x, or -1 outside the model's domain. */
static int moff(const model *m, int64_t x)
{
    uint64_t u = (uint64_t)x - (uint64_t)m->base;
    return u < MD ? (int)u : -1;
}

static int mlow(const mseq *q, int i)
{
    return i == 0 && q->dhas_start ? q->dstart : q->r[i].lo;
}

static int mrange_of(const mseq *q, int x)
{
    for (int i = 0; i < q->nr; i++) {
        if (q->r[i].lo <= x && x <= q->r[i].hi) {
            return i;
        }
    }
    return -1;
}

static bool mopen_at(const mseq *q, int i, int64_t t)
{
    return q->r[i].nb <= t && t <= q->r[i].na;
}

/* Not taken yet, and takeable by this incarnation. */
static bool mfree(const mseq *q, int i, int x)
{
    return x >= mlow(q, i) && q->st[x] == SEQ_NUM_NOT_ISSUED && !q->burned[x];
}

static uint8_t meff(const model *m, const mseq *q, int x)
{
    if (q->st[x] == SEQ_NUM_RESERVED && q->until[x] != INT64_MAX && q->until[x] <= m->clock) {
        return M_LAPSED;
    }
    return q->st[x];
}

/* Released (or lapsed) and in a range not expired: to be issued again. */
static bool mreusable(const model *m, const mseq *q, int x)
{
    uint8_t e = meff(m, q, x);
    int i = mrange_of(q, x);
    return (e == SEQ_NUM_RELEASED || e == M_LAPSED) && i >= 0 && m->clock <= q->r[i].na;
}

static bool mreissuable(const model *m, const mseq *q, int x)
{
    return mreusable(m, q, x);
}

/* The new numbers valid now, in the order NEXT takes them. */
static int mnew_list(const model *m, const mseq *q, int *out)
{
    int n = 0;
    for (int i = 0; i < q->nr; i++) {
        if (!mopen_at(q, i, m->clock)) {
            continue;
        }
        for (int x = mlow(q, i); x <= q->r[i].hi; x++) {
            if (mfree(q, i, x)) {
                out[n++] = x;
            }
        }
    }
    return n;
}

static int mreissue_list(const model *m, const mseq *q, int *out)
{
    int n = 0;
    for (int x = 0; x < MD; x++) {
        if (mreissuable(m, q, x)) {
            out[n++] = x;
        }
    }
    return n;
}

/* Numbers still to take, now or later (not expired). */
static bool mreusable(const model *m, const mseq *q, int x);

/* Numbers still to hand out: new ones not expired and, in gapless mode,
 * the released ones (and lapsed reservations) that may be issued again. */
static uint64_t mleft(const model *m, const mseq *q)
{
    uint64_t n = 0;
    for (int i = 0; i < q->nr; i++) {
        if (m->clock > q->r[i].na) {
            continue;
        }
        for (int x = mlow(q, i); x <= q->r[i].hi; x++) {
            n += mfree(q, i, x) ? 1 : 0;
        }
    }
    for (int x = 0; q->mode == SEQ_MODE_GAPLESS && x < MD; x++) {
        n += mreusable(m, q, x) ? 1 : 0;
    }
    return n;
}

/* After numbers went back: a warning whose cause is gone is cleared. */
static void mwarn_lift(model *m, mseq *q)
{
    if (q->warned && mleft(m, q) > q->warn) {
        q->warned = false;
    }
}

static int64_t mopens(const model *m, const mseq *q)
{
    int64_t at = INT64_MAX;
    for (int i = 0; i < q->nr; i++) {
        if (q->r[i].nb <= m->clock || q->r[i].nb >= at) {
            continue;
        }
        for (int x = mlow(q, i); x <= q->r[i].hi; x++) {
            if (mfree(q, i, x)) {
                at = q->r[i].nb;
                break;
            }
        }
    }
    return at;
}

static bool mexpired(const model *m, const mseq *q, int x)
{
    int i = mrange_of(q, x);
    return i >= 0 && q->st[x] == SEQ_NUM_NOT_ISSUED && x >= mlow(q, i) && !q->burned[x] &&
           m->clock > q->r[i].na;
}

static int64_t mminute(int64_t t)
{
    int64_t mi = t / 60000;
    return t % 60000 < 0 ? mi - 1 : mi;
}

static void mrate_add(model *m, mseq *q, uint64_t n)
{
    int64_t mi = mminute(m->clock);
    if (q->nrates > 0 && q->rmin[q->nrates - 1] == mi) {
        q->rcnt[q->nrates - 1] += n;
    } else {
        MCHECK(m, q->nrates < M_RATES);
        q->rmin[q->nrates] = mi;
        q->rcnt[q->nrates] = n;
        q->nrates++;
    }
    int drop = 0;
    while (drop < q->nrates && q->rmin[drop] <= mi - 60) {
        drop++;
    }
    memmove(q->rmin, q->rmin + drop, sizeof(int64_t) * (size_t)(q->nrates - drop));
    memmove(q->rcnt, q->rcnt + drop, sizeof(uint64_t) * (size_t)(q->nrates - drop));
    q->nrates -= drop;
}

static void mrates(const model *m, const mseq *q, uint64_t *per_min, uint64_t *per_hour,
                   int64_t *eta_s)
{
    int64_t mi = mminute(m->clock);
    uint64_t hour = 0, cur = 0, prev = 0;
    for (int k = 0; k < q->nrates; k++) {
        if (q->rmin[k] > mi - 60 && q->rmin[k] <= mi) {
            hour += q->rcnt[k];
        }
        if (q->rmin[k] == mi) {
            cur = q->rcnt[k];
        } else if (q->rmin[k] == mi - 1) {
            prev = q->rcnt[k];
        }
    }
    uint64_t into = (uint64_t)(m->clock - mi * 60000);
    *per_min = cur + prev * (60000 - into) / 60000;
    *per_hour = hour;
    uint64_t left = mleft(m, q);
    *eta_s = -1;
    if (*per_min > 0) {
        *eta_s = (int64_t)(left * 60 / *per_min);
    } else if (hour > 0) {
        *eta_s = (int64_t)(left * 3600 / hour);
    }
}

/* After a take of new numbers: the WARN crossing, reported once. */
static void mwarn_check(model *m, mseq *q, bool crossed)
{
    bool want = false;
    if (q->warn > 0 && !q->warned && mleft(m, q) <= q->warn) {
        q->warned = true;
        want = true;
        m->n_crossed++;
    }
    MCHECK(m, crossed == want);
}

/* The gapless key holding x, or -1. */
static int mkey_of(const mseq *q, int x)
{
    for (int k = 0; k < MK; k++) {
        if (q->pnum[k] == x) {
            return k;
        }
    }
    return -1;
}

static void mkey_let_go(mseq *q, int x)
{
    int k = mkey_of(q, x);
    if (k >= 0) {
        q->pnum[k] = -1;
    }
}

/* Hands out x (a new number or a released one) in state `to`. Checks the
 * invariants: a number is handed out again only after it was released (or
 * its reservation lapsed), and only within its range and window. */
static void mhand(model *m, mseq *q, int x, uint8_t to, int64_t until)
{
    int i = mrange_of(q, x);
    MCHECK(m, i >= 0);
    if (q->st[x] == SEQ_NUM_NOT_ISSUED) {
        MCHECK(m, !q->burned[x] && x >= mlow(q, i) && mopen_at(q, i, m->clock));
        q->issued++;
        m->n_new++;
    } else {
        uint8_t e = meff(m, q, x);
        MCHECK(m, q->mode == SEQ_MODE_GAPLESS);
        MCHECK(m, e == SEQ_NUM_RELEASED || e == M_LAPSED);
        MCHECK(m, m->clock <= q->r[i].na);
        m->n_reissued++;
        m->n_lapsed += e == M_LAPSED ? 1 : 0;
    }
    q->st[x] = to;
    q->time[x] = m->clock;
    q->until[x] = until;
    q->why[x] = to == SEQ_NUM_RESERVED ? "reserved" : NULL;
}

static void mset(model *m, mseq *q, int x, uint8_t to, const char *why)
{
    q->st[x] = to;
    q->time[x] = m->clock;
    q->until[x] = INT64_MAX;
    q->why[x] = why;
}

/* The numbers of r's runs, flattened, must be want[0..n); each run lies in
 * one range of q. */
static void mexpect_numbers(model *m, const mseq *q, const seq_result *r, const int *want, int n)
{
    int k = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        MCHECK(m, r->runs[i].first <= r->runs[i].last);
        int first = moff(m, r->runs[i].first);
        MCHECK(m, first >= 0 && mrange_of(q, first) >= 0);
        for (int64_t v = r->runs[i].first;; v++) {
            MCHECK(m, k < n);
            MCHECK(m, moff(m, v) == want[k]);
            MCHECK(m, mrange_of(q, want[k]) == mrange_of(q, first));
            k++;
            if (v == r->runs[i].last) {
                break;
            }
        }
    }
    MCHECK(m, k == n);
}

/* Applies c to the state under test and to its twin; the twin must answer
 * the same. The caller frees *r. */
static int mapply(model *m, const seq_cmd *c, seq_result *r)
{
    int rv = seq_apply(m->s, c, r);
    MCHECK(m, rv == r->status && r->op == c->op);
    if (rv != SEQ_OK) {
        MCHECK(m, r->n_runs == 0);
    }
    if (m->twin != NULL) {
        seq_result t;
        seq_apply(m->twin, c, &t);
        MCHECK(m, results_equal(r, &t));
        seq_result_free(&t);
    }
    return rv;
}

static int mapply_status(model *m, const seq_cmd *c)
{
    seq_result r;
    int rv = mapply(m, c, &r);
    seq_result_free(&r);
    return rv;
}

static void mtick(model *m, int64_t dt, int64_t retention)
{
    m->clock += dt;
    seq_tick(m->s, m->clock, retention);
    if (m->twin != NULL) {
        seq_tick(m->twin, m->clock, retention);
    }
    size_t drop = 0;
    while (drop < m->n_skeys && m->clock - m->skeys[drop].inserted >= retention) {
        drop++;
    }
    memmove(m->skeys, m->skeys + drop, sizeof(mskey) * (m->n_skeys - drop));
    m->n_skeys -= drop;
}

/* A random window: mostly none, sometimes one bound or both, rarely the
 * wrong way round. */
static void mwindow(model *m, seq_cmd *c)
{
    uint64_t d = mrand(m, 20);
    c->has_not_before = false;
    c->has_not_after = false;
    if (d < 9) {
        return;
    }
    if (d < 13) {
        c->has_not_after = true;
        c->not_after = m->clock + (int64_t)mrand(m, 400);
    } else if (d < 16) {
        c->has_not_before = true;
        c->not_before = m->clock + (int64_t)mrand(m, 300);
    } else if (d < 19) {
        c->has_not_before = true;
        c->not_before = m->clock + (int64_t)mrand(m, 300) - 50;
        c->has_not_after = true;
        c->not_after = c->not_before + (int64_t)mrand(m, 400);
    } else {
        c->has_not_before = true;
        c->not_before = m->clock + (int64_t)mrand(m, 100);
        c->has_not_after = true;
        c->not_after = c->not_before - 1 - (int64_t)mrand(m, 5);
    }
}

static int64_t mnb(const seq_cmd *c)
{
    return c->has_not_before ? c->not_before : INT64_MIN;
}

static int64_t mna(const seq_cmd *c)
{
    return c->has_not_after ? c->not_after : INT64_MAX;
}

static void mreset_incarnation(model *m, mseq *q)
{
    q->live = true;
    q->inc = ++m->incs;
    q->warned = false;
    q->grants = 0;
    memset(q->st, 0, sizeof(q->st));
    q->nblock = 0;
    q->issued = 0;
    for (int k = 0; k < MK; k++) {
        q->pnum[k] = -1;
    }
    q->nrates = 0;
}

static void mcreate(model *m, int who)
{
    mseq *q = &m->q[who];
    seq_cmd c = cmd_of(SEQ_OP_CREATE, q->name);
    int lo, hi;
    if (q->live && mrand(m, 3) != 0) {
        /* the same definition again, or one field changed */
        lo = q->dmin;
        hi = q->dmax;
        c.has_start = q->dhas_start;
        c.start = mnum(m, q->dstart);
        c.mode = q->mode;
        c.cache = q->cache;
        c.warn = q->warn;
        c.has_not_before = q->r[0].nb != INT64_MIN;
        c.not_before = q->r[0].nb;
        c.has_not_after = q->r[0].na != INT64_MAX;
        c.not_after = q->r[0].na;
        switch (mrand(m, 8)) {
        case 0: c.warn++; break;
        case 1:
            c.mode = (uint8_t)((c.mode + 1) % 3);
            c.cache = c.mode == SEQ_MODE_CACHED ? 3 : 0;
            break;
        case 2: c.cache += c.mode == SEQ_MODE_CACHED ? 1 : 0; break;
        case 3:
            c.has_not_after = true;
            c.not_after = m->clock + 7;
            break;
        case 4: hi = hi < MD - 1 ? hi + 1 : hi; break;
        default: break;
        }
    } else {
        lo = (int)mrand(m, MD);
        hi = lo + (int)mrand(m, 12);
        hi = hi >= MD ? MD - 1 : hi;
        c.mode = (uint8_t)mrand(m, 3);
        c.cache = c.mode == SEQ_MODE_CACHED ? 1 + (uint32_t)mrand(m, 6) : 0;
        c.warn = mrand(m, 3) == 0 ? 1 + mrand(m, 6) : 0;
        if (mrand(m, 5) == 0) {
            c.has_start = true;
            c.start = mnum(m, lo + (int)mrand(m, (uint64_t)(hi - lo + 1)));
        }
        mwindow(m, &c);
        switch (mrand(m, 40)) {
        case 0: c.cache = c.mode == SEQ_MODE_CACHED ? 0 : 2; break;
        case 1: c.mode = 3; break;
        case 2:
            c.has_start = true;
            c.start = mnum(m, hi + 1);
            break;
        case 3: {
            int tmp = lo;
            lo = hi;
            hi = tmp;
        } break;
        default: break;
        }
    }
    c.min = mnum(m, lo);
    c.max = mnum(m, hi);
    int start = c.has_start ? moff(m, c.start) : lo;
    int want;
    if ((c.has_start && (start < 0 || start < lo || start > hi)) || lo > hi) {
        want = SEQ_ERR_RANGE;
    } else if (c.has_not_before && c.has_not_after && c.not_before > c.not_after) {
        want = SEQ_ERR_WINDOW;
    } else if (c.mode > SEQ_MODE_CACHED || (c.mode == SEQ_MODE_CACHED) != (c.cache > 0)) {
        want = SEQ_ERR_MODE;
    } else if (q->live) {
        int had = q->dhas_start ? q->dstart : q->dmin;
        bool same = q->dmin == lo && q->dmax == hi && had == start && q->mode == c.mode &&
                    q->cache == c.cache && q->warn == c.warn && q->r[0].nb == mnb(&c) &&
                    q->r[0].na == mna(&c);
        want = same ? SEQ_OK : SEQ_ERR_EXISTS;
    } else {
        want = SEQ_OK;
        mreset_incarnation(m, q);
        q->mode = c.mode;
        q->cache = c.cache;
        q->warn = c.warn;
        q->dmin = lo;
        q->dmax = hi;
        q->dhas_start = c.has_start;
        q->dstart = start;
        q->r[0] = (mrange){lo, hi, mnb(&c), mna(&c)};
        q->nr = 1;
        hist_create(m->h, q->name, m->clock);
        hist_range(m->h, q->name, c.min, c.max);
    }
    MCHECK_STATUS(m, mapply_status(m, &c), want);
}

static void maddrange(model *m, int who)
{
    mseq *q = &m->q[who];
    if (q->live && q->nr == MR) {
        return;
    }
    seq_cmd c = cmd_of(SEQ_OP_ADDRANGE, q->name);
    int lo = (int)mrand(m, MD);
    int hi = lo + (int)mrand(m, 8);
    hi = hi >= MD ? MD - 1 : hi;
    if (mrand(m, 30) == 0) {
        int tmp = lo;
        lo = hi;
        hi = tmp;
    }
    mwindow(m, &c);
    c.min = mnum(m, lo);
    c.max = mnum(m, hi);
    int want = SEQ_OK;
    if (lo > hi) {
        want = SEQ_ERR_RANGE;
    } else if (c.has_not_before && c.has_not_after && c.not_before > c.not_after) {
        want = SEQ_ERR_WINDOW;
    } else if (!q->live) {
        want = SEQ_ERR_NOSEQ;
    } else {
        for (int i = 0; i < q->nr; i++) {
            if (lo <= q->r[i].hi && q->r[i].lo <= hi) {
                want = SEQ_ERR_OVERLAP;
            }
        }
        if (want == SEQ_OK) {
            q->r[q->nr++] = (mrange){lo, hi, mnb(&c), mna(&c)};
            hist_range(m->h, q->name, c.min, c.max);
            if (q->warned && mleft(m, q) > q->warn) {
                q->warned = false;
            }
        }
    }
    MCHECK_STATUS(m, mapply_status(m, &c), want);
}

static mskey *mskey_find(model *m, int who, int keyi)
{
    for (size_t i = 0; i < m->n_skeys; i++) {
        if (m->skeys[i].who == who && m->skeys[i].inc == m->q[who].inc &&
            m->skeys[i].keyi == keyi) {
            return &m->skeys[i];
        }
    }
    return NULL;
}

static void mexhausted(model *m, const mseq *q, const seq_result *r, uint64_t remaining)
{
    MCHECK(m, r->remaining == remaining);
    MCHECK(m, r->opens_ms == mopens(m, q));
    m->n_opens += r->opens_ms != INT64_MAX ? 1 : 0;
}

/* NEXT in strict mode, and in cached mode without a key. */
static int mnext_strict(model *m, int who, uint32_t count, int keyi, const seq_result *r)
{
    mseq *q = &m->q[who];
    int rv = r->status;
    if (keyi >= 0) {
        mskey *k = mskey_find(m, who, keyi);
        if (k != NULL) {
            if (k->count != count) {
                return SEQ_ERR_KEY_REUSED;
            }
            for (uint32_t i = 0; i < count; i++) {
                if (q->st[k->nums[i]] == SEQ_NUM_VOIDED) {
                    m->n_key_voided++;
                    return SEQ_ERR_KEY_VOIDED; /* never a voided number as valid */
                }
            }
            MCHECK(m, rv == SEQ_OK && r->replayed && !r->warn_crossed);
            mexpect_numbers(m, q, r, k->nums, (int)count);
            for (uint32_t i = 0; i < count; i++) {
                if (q->st[k->nums[i]] == SEQ_NUM_UNKNOWN) {
                    q->st[k->nums[i]] = SEQ_NUM_FINAL;
                }
            }
            m->n_replays++;
            return SEQ_OK;
        }
        if (m->n_skeys >= M_SKEYS_MAX) {
            return SEQ_ERR_KEYS_FULL;
        }
    }
    int list[MD];
    int n = mnew_list(m, q, list);
    if ((uint32_t)n < count) {
        if (rv == SEQ_ERR_EXHAUSTED) {
            mexhausted(m, q, r, (uint64_t)n);
        }
        return SEQ_ERR_EXHAUSTED;
    }
    MCHECK(m, rv == SEQ_OK && !r->replayed);
    mexpect_numbers(m, q, r, list, (int)count);
    for (uint32_t i = 0; i < count; i++) {
        mhand(m, q, list[i], SEQ_NUM_FINAL, INT64_MAX);
    }
    if (keyi >= 0) {
        mskey *k = &m->skeys[m->n_skeys++];
        k->who = who;
        k->inc = q->inc;
        k->keyi = keyi;
        k->count = count;
        memcpy(k->nums, list, sizeof(int) * count);
        k->inserted = m->clock;
    }
    mrate_add(m, q, count);
    mwarn_check(m, q, r->warn_crossed);
    return SEQ_OK;
}

/* Gapless NEXT (reserve false) and RESERVE. */
static int mgapless_take(model *m, int who, uint32_t count, bool reserve_, int64_t ttl, int keyi,
                         const seq_result *r)
{
    mseq *q = &m->q[who];
    int rv = r->status;
    if (reserve_ && ttl != 0 && (ttl < 1 || ttl > SEQ_TTL_MAX_MS)) {
        return SEQ_ERR_TTL;
    }
    int64_t until = reserve_ && ttl != 0 ? m->clock + ttl : INT64_MAX;
    int stale = -1;
    if (keyi >= 0) {
        if (count != 1) {
            return SEQ_ERR_MODE;
        }
        int x = q->pnum[keyi];
        if (x >= 0) {
            uint8_t e = meff(m, q, x);
            if (e == SEQ_NUM_VOIDED) {
                m->n_key_voided++;
                return SEQ_ERR_KEY_VOIDED;
            }
            if (e == SEQ_NUM_FINAL || e == SEQ_NUM_RESERVED || e == SEQ_NUM_UNKNOWN) {
                MCHECK(m, rv == SEQ_OK && r->replayed && !r->warn_crossed);
                mexpect_numbers(m, q, r, &x, 1);
                if (!reserve_) { /* NEXT promises final: it confirms the key's number */
                    q->st[x] = SEQ_NUM_FINAL;
                }
                m->n_replays++;
                return SEQ_OK;
            }
            MCHECK(m, e == M_LAPSED); /* released numbers hold no keys */
            stale = keyi;
        }
    }
    int reuse[MD], list[MD];
    int n_reuse = mreissue_list(m, q, reuse);
    int n_list = mnew_list(m, q, list);
    if ((uint32_t)(n_reuse + n_list) < count) {
        if (rv == SEQ_ERR_EXHAUSTED) {
            mexhausted(m, q, r, (uint64_t)(n_reuse + n_list));
        }
        return SEQ_ERR_EXHAUSTED;
    }
    int take[M_COUNT_MAX];
    int n_old = n_reuse < (int)count ? n_reuse : (int)count;
    memcpy(take, reuse, sizeof(int) * (size_t)n_old);
    memcpy(take + n_old, list, sizeof(int) * (count - (uint32_t)n_old));
    MCHECK(m, rv == SEQ_OK && !r->replayed);
    mexpect_numbers(m, q, r, take, (int)count);
    for (int i = 0; i < n_old; i++) {
        if (q->st[take[i]] == SEQ_NUM_RESERVED) { /* lapsed: its key lets go */
            mkey_let_go(q, take[i]);
        }
    }
    if (stale >= 0) {
        q->pnum[stale] = -1;
    }
    for (uint32_t i = 0; i < count; i++) {
        mhand(m, q, take[i], reserve_ ? SEQ_NUM_RESERVED : SEQ_NUM_FINAL, until);
        if (reserve_) {
            q->grant[take[i]] = ++q->grants;
            MCHECK(m, r->grant == q->grants);
        }
    }
    if (keyi >= 0) {
        q->pnum[keyi] = take[0];
        q->ptime[keyi] = m->clock;
    }
    mrate_add(m, q, count);
    mwarn_check(m, q, r->warn_crossed); /* reissued numbers count as left too */
    return SEQ_OK;
}

/* keyi: -1 none, -2 an invalid key, else an index into m_keys. */
/* Callers, as the history checker tells them apart: every request
 * without a KEY is its own caller; a KEY is one caller for its
 * incarnation; a cached block's owner holds its block. */
static uint64_t mcaller(const model *m, const mseq *q, int keyi)
{
    return keyi >= 0 ? (1ull << 62) | (q->inc << 8) | (uint64_t)keyi : (2ull << 62) | m->op;
}

/* Records in the history what a successful NEXT, RESERVE or ALLOCBLOCK
 * told its caller: the result's runs, held until `until` (INT64_MAX:
 * final). */
static void mtold(model *m, mseq *q, uint64_t who, const seq_result *r, int64_t until)
{
    for (size_t i = 0; i < r->n_runs; i++) {
        hist_told(m->h, q->name, who, r->runs[i].first, r->runs[i].last, m->clock, until,
                  q->mode == SEQ_MODE_STRICT ? HIST_STRICT : 0);
        for (int64_t v = r->runs[i].first;; v++) {
            q->holder[moff(m, v)] = who;
            if (v == r->runs[i].last) {
                break;
            }
        }
    }
}

static void mnext(model *m, int who, uint32_t count, int keyi)
{
    mseq *q = &m->q[who];
    seq_cmd c = cmd_of(SEQ_OP_NEXT, q->name);
    c.count = count;
    set_key(&c, keyi == -2 ? "bad key" : keyi >= 0 ? m_keys[keyi] : NULL);
    seq_result r;
    int rv = mapply(m, &c, &r);
    int want;
    if (count < 1 || count > SEQ_COUNT_MAX) {
        want = SEQ_ERR_COUNT;
    } else if (keyi == -2) {
        want = SEQ_ERR_KEY;
    } else if (!q->live) {
        want = SEQ_ERR_NOSEQ;
    } else if (q->mode == SEQ_MODE_GAPLESS) {
        want = mgapless_take(m, who, count, false, 0, keyi, &r);
    } else if (q->mode == SEQ_MODE_CACHED && keyi >= 0) {
        want = SEQ_ERR_MODE;
    } else {
        want = mnext_strict(m, who, count, keyi, &r);
    }
    MCHECK_STATUS(m, rv, want);
    if (rv == SEQ_OK) {
        mtold(m, q, mcaller(m, q, keyi), &r, HIST_FINAL_MS);
    }
    seq_result_free(&r);
}

static int64_t mttl(model *m)
{
    uint64_t d = mrand(m, 40);
    if (d < 10) {
        return 0;
    }
    if (d == 10) {
        return mrand(m, 2) ? -5 : SEQ_TTL_MAX_MS + 1;
    }
    if (d == 11) {
        return SEQ_TTL_MAX_MS;
    }
    return 1 + (int64_t)mrand(m, 80);
}

static void mreserve(model *m, int who)
{
    mseq *q = &m->q[who];
    int keyi = mrand(m, 3) == 0 ? (int)mrand(m, MK) : -1;
    if (mrand(m, 60) == 0) {
        keyi = -2;
    }
    int64_t ttl = mttl(m);
    seq_cmd c = cmd_of(SEQ_OP_RESERVE, q->name);
    c.ttl_ms = ttl;
    set_key(&c, keyi == -2 ? "bad key" : keyi >= 0 ? m_keys[keyi] : NULL);
    seq_result r;
    int rv = mapply(m, &c, &r);
    int want;
    if (keyi == -2) {
        want = SEQ_ERR_KEY;
    } else if (!q->live) {
        want = SEQ_ERR_NOSEQ;
    } else if (q->mode != SEQ_MODE_GAPLESS) {
        want = SEQ_ERR_MODE;
    } else {
        want = mgapless_take(m, who, 1, true, ttl, keyi, &r);
    }
    MCHECK_STATUS(m, rv, want);
    if (rv == SEQ_OK) {
        int x = moff(m, r.runs[0].first);
        mtold(m, q, mcaller(m, q, keyi),  &r,
              q->st[x] == SEQ_NUM_RESERVED ? q->until[x] : HIST_FINAL_MS);
    }
    seq_result_free(&r);
}

/* A number to CONFIRM, RELEASE or VOID: mostly one not final, else any the
 * sequence took, else anything, rarely outside the domain. */
static int64_t mpick(model *m, const mseq *q)
{
    uint64_t d = mrand(m, 20);
    if (d == 0) {
        return mnum(m, MD);
    }
    if (d >= 17 && q->live) { /* a number some gapless key holds */
        int k = (int)mrand(m, MK);
        if (q->pnum[k] >= 0) {
            return mnum(m, q->pnum[k]);
        }
    }
    if (d < 14 && q->live) {
        int cand[MD], n = 0;
        for (int x = 0; x < MD && d < 9; x++) {
            if (q->st[x] != SEQ_NUM_NOT_ISSUED && q->st[x] != SEQ_NUM_FINAL) {
                cand[n++] = x;
            }
        }
        for (int x = 0; x < MD && n == 0; x++) {
            if (q->st[x] != SEQ_NUM_NOT_ISSUED) {
                cand[n++] = x;
            }
        }
        if (n > 0) {
            return mnum(m, cand[mrand(m, (uint64_t)n)]);
        }
    }
    return mnum(m, (int)mrand(m, MD));
}

static bool mtaken(const mseq *q, int x)
{
    return x >= 0 && q->st[x] != SEQ_NUM_NOT_ISSUED;
}

static void mconfirm(model *m, int who)
{
    mseq *q = &m->q[who];
    int64_t v = mpick(m, q);
    int x = moff(m, v);
    seq_cmd c = cmd_of(SEQ_OP_CONFIRM, q->name);
    c.min = v;
    int want;
    if (!q->live) {
        want = SEQ_ERR_NOSEQ;
    } else if (!mtaken(q, x)) {
        want = SEQ_ERR_NOTISSUED;
    } else if (q->st[x] == SEQ_NUM_CACHED) {
        want = SEQ_ERR_CACHED;
    } else if (q->st[x] == SEQ_NUM_FINAL) {
        want = SEQ_OK;
    } else if (meff(m, q, x) == M_LAPSED) {
        want = SEQ_ERR_EXPIRED;
    } else if (q->st[x] == SEQ_NUM_RESERVED || q->st[x] == SEQ_NUM_UNKNOWN) {
        want = SEQ_OK;
        q->st[x] = SEQ_NUM_FINAL;
        hist_confirmed(m->h, q->name, q->holder[x], v, m->clock);
    } else {
        want = SEQ_ERR_NOTRESERVED;
    }
    MCHECK_STATUS(m, mapply_status(m, &c), want);
}

static void mrelease(model *m, int who)
{
    mseq *q = &m->q[who];
    int64_t v = mpick(m, q);
    int x = moff(m, v);
    seq_cmd c = cmd_of(SEQ_OP_RELEASE, q->name);
    c.min = v;
    int want;
    if (!q->live) {
        want = SEQ_ERR_NOSEQ;
    } else if (q->mode != SEQ_MODE_GAPLESS) {
        want = SEQ_ERR_MODE;
    } else if (!mtaken(q, x)) {
        want = SEQ_ERR_NOTISSUED;
    } else if (q->st[x] == SEQ_NUM_RELEASED) {
        want = SEQ_OK;
    } else if (q->st[x] != SEQ_NUM_RESERVED) {
        want = SEQ_ERR_NOTRESERVED;
    } else {
        want = SEQ_OK;
        mkey_let_go(q, x);
        mset(m, q, x, SEQ_NUM_RELEASED, "released");
        hist_released(m->h, q->name, q->holder[x], v, m->clock);
        mwarn_lift(m, q);
    }
    MCHECK_STATUS(m, mapply_status(m, &c), want);
}

static void mvoid(model *m, int who)
{
    mseq *q = &m->q[who];
    int64_t v = mpick(m, q);
    int x = moff(m, v);
    int ri = mrand(m, 10) == 0 ? (int)mrand(m, M_REASONS) : (int)mrand(m, M_REASONS_OK);
    seq_cmd c = cmd_of(SEQ_OP_VOID, q->name);
    c.min = v;
    set_text(&c, m_reasons[ri]);
    int want;
    if (ri >= M_REASONS_OK) {
        want = SEQ_ERR_REASON;
    } else if (!q->live) {
        want = SEQ_ERR_NOSEQ;
    } else if (!mtaken(q, x)) {
        want = SEQ_ERR_NOTISSUED;
    } else if (q->st[x] == SEQ_NUM_CACHED) {
        want = SEQ_ERR_CACHED;
    } else {
        want = SEQ_OK;
        if (q->st[x] != SEQ_NUM_VOIDED) {
            mset(m, q, x, SEQ_NUM_VOIDED, m_reasons[ri]);
            m->n_voided++;
        }
        hist_voided(m->h, q->name, v, m->clock);
    }
    MCHECK_STATUS(m, mapply_status(m, &c), want);
}

static void mundelivered(model *m, int who)
{
    mseq *q = &m->q[who];
    int a = (int)mrand(m, MD);
    int b = a + (int)mrand(m, 6);
    b = b >= MD ? MD - 1 : b;
    if (mrand(m, 30) == 0 && a > 0) {
        b = a - 1;
    }
    int ri = mrand(m, 15) == 0 ? (int)mrand(m, M_REASONS) : (int)mrand(m, M_REASONS_OK);
    /* 0: a NEXT's report from the process that applied it (trusted); 1: a
     * NEXT's from anyone else; 2: a RESERVE's, with a grant that is mostly
     * one of a reservation in the range */
    int kind = (int)mrand(m, 3);
    uint64_t grant = 1 + mrand(m, q->grants + 2);
    for (int x = a; kind == 2 && x <= b && a <= b; x++) {
        if (q->st[x] == SEQ_NUM_RESERVED && mrand(m, 4) != 0) {
            grant = q->grant[x];
            break;
        }
    }
    seq_cmd c = cmd_of(SEQ_OP_UNDELIVERED, q->name);
    c.min = mnum(m, a);
    c.max = mnum(m, b);
    c.count = kind == 0 ? 1 : 0;
    c.has_start = kind == 2;
    c.term = grant;
    set_text(&c, m_reasons[ri]);
    int want = SEQ_OK;
    if (ri >= M_REASONS_OK) {
        want = SEQ_ERR_REASON;
    } else if (a > b) {
        want = SEQ_ERR_RANGE;
    } else if (!q->live) {
        want = SEQ_ERR_NOSEQ;
    } else {
        for (int x = a; x <= b; x++) {
            if (kind == 2) {
                if (q->st[x] == SEQ_NUM_RESERVED && q->grant[x] == grant) {
                    mkey_let_go(q, x);
                    mset(m, q, x, SEQ_NUM_RELEASED, m_reasons[ri]);
                    hist_released(m->h, q->name, q->holder[x], mnum(m, x), m->clock);
                }
            } else if (q->st[x] == SEQ_NUM_FINAL) {
                if (q->mode == SEQ_MODE_GAPLESS && kind == 0) {
                    mkey_let_go(q, x);
                    mset(m, q, x, SEQ_NUM_RELEASED, m_reasons[ri]);
                    hist_released(m->h, q->name, q->holder[x], mnum(m, x), m->clock);
                } else {
                    mset(m, q, x, SEQ_NUM_UNKNOWN, m_reasons[ri]);
                    m->n_unknown++;
                }
            }
        }
        mwarn_lift(m, q);
    }
    MCHECK_STATUS(m, mapply_status(m, &c), want);
}

static void mskip_block(model *m, mseq *q)
{
    for (int i = 0; i < q->nblock; i++) {
        mset(m, q, q->block[i], SEQ_NUM_SKIPPED, REASON_SKIPPED);
        m->n_skipped++;
    }
    q->nblock = 0;
}

static void mallocblock(model *m, int who)
{
    mseq *q = &m->q[who];
    if (mrand(m, 5) == 0) {
        m->owner_term = 1 + mrand(m, 3);
        m->owner_node = (1 + mrand(m, 2)) << 16 | mrand(m, 2);
    }
    uint32_t count = mrand(m, 40) == 0 ? 0 : 1 + (uint32_t)mrand(m, 6);
    seq_cmd c = cmd_of(SEQ_OP_ALLOCBLOCK, q->name);
    c.count = count;
    c.term = m->owner_term;
    c.node = m->owner_node;
    /* mostly the incarnation the block is for; sometimes none (an entry of
     * an older writer), sometimes a dropped one */
    uint64_t dice = mrand(m, 8);
    c.incarnation = dice == 0 ? 0 : dice == 1 && q->inc > 1 ? q->inc - 1 : q->inc;
    seq_result r;
    int rv = mapply(m, &c, &r);
    int want;
    if (count < 1) {
        want = SEQ_ERR_COUNT;
    } else if (!q->live) {
        want = SEQ_ERR_NOSEQ;
    } else if (q->mode != SEQ_MODE_CACHED) {
        want = SEQ_ERR_MODE;
    } else if (c.incarnation != 0 && c.incarnation != q->inc) {
        want = SEQ_ERR_STALE;
    } else {
        int list[MD];
        int n = mnew_list(m, q, list);
        n = n < (int)count ? n : (int)count;
        if (n == 0) {
            want = SEQ_ERR_EXHAUSTED;
            if (rv == want) {
                mexhausted(m, q, &r, 0);
            }
            /* a new owner gives up the old block even so */
            if (q->nblock > 0 && (q->bterm != c.term || q->bnode != c.node)) {
                mskip_block(m, q);
            }
        } else {
            want = SEQ_OK;
            MCHECK(m, rv == SEQ_OK);
            mexpect_numbers(m, q, &r, list, n);
            if (q->nblock > 0 && (q->bterm != c.term || q->bnode != c.node)) {
                mskip_block(m, q);
            }
            for (int i = 0; i < n; i++) {
                mhand(m, q, list[i], SEQ_NUM_CACHED, INT64_MAX);
                q->block[q->nblock++] = list[i];
                m->n_cached++;
            }
            q->bterm = c.term;
            q->bnode = c.node;
            mwarn_check(m, q, r.warn_crossed);
            /* the block's owner holds it: nobody else may ever get it */
            mtold(m, q, (3ull << 62) | c.term << 40 | c.node, &r, HIST_FINAL_MS);
        }
    }
    MCHECK_STATUS(m, rv, want);
    seq_result_free(&r);
}

static void mused(model *m, int who)
{
    mseq *q = &m->q[who];
    seq_cmd c = cmd_of(SEQ_OP_USED, q->name);
    c.count = 1 + (uint32_t)mrand(m, 6);
    c.term = m->owner_term;
    c.node = m->owner_node;
    if (mrand(m, 4) == 0) {
        c.term = 1 + mrand(m, 3);
        c.node = 1 + mrand(m, 2);
    }
    c.incarnation = mrand(m, 8) == 0 && q->inc > 1 ? q->inc - 1 : q->inc;
    int want = SEQ_OK;
    if (!q->live) {
        want = SEQ_ERR_NOSEQ;
    } else if (q->mode != SEQ_MODE_CACHED) {
        want = SEQ_ERR_MODE;
    } else if (c.incarnation != q->inc) {
        want = SEQ_ERR_STALE;
    } else if (q->nblock > 0 && q->bterm == c.term && q->bnode == c.node) {
        int n = q->nblock < (int)c.count ? q->nblock : (int)c.count;
        for (int i = 0; i < n; i++) {
            q->st[q->block[i]] = SEQ_NUM_FINAL;
        }
        memmove(q->block, q->block + n, sizeof(int) * (size_t)(q->nblock - n));
        q->nblock -= n;
        mrate_add(m, q, (uint64_t)n);
    }
    MCHECK_STATUS(m, mapply_status(m, &c), want);
}

static void mrecover(model *m)
{
    seq_cmd c = cmd_of(SEQ_OP_RECOVER, NULL);
    c.term = 1 + mrand(m, 3);
    c.node = (1 + mrand(m, 2)) << 16 | mrand(m, 2);
    for (int who = 0; who < MS; who++) {
        mseq *q = &m->q[who];
        /* other leaders' blocks: another term or another process */
        if (q->live && q->mode == SEQ_MODE_CACHED && q->nblock > 0 &&
            (q->bterm != c.term || q->bnode >> 16 != c.node >> 16)) {
            mskip_block(m, q);
        }
    }
    MCHECK(m, mapply_status(m, &c) == SEQ_OK);
}

static void mdrop(model *m, int who)
{
    mseq *q = &m->q[who];
    seq_cmd c = cmd_of(SEQ_OP_DROP, q->name);
    int want = SEQ_ERR_NOSEQ;
    if (q->live) {
        want = SEQ_OK;
        for (int x = 0; x < MD; x++) {
            q->burned[x] = q->burned[x] || q->st[x] != SEQ_NUM_NOT_ISSUED ||
                           (q->dhas_start && x >= q->dmin && x < q->dstart);
        }
        q->live = false;
        q->nr = 0;
        q->nblock = 0;
        q->warned = false;
        for (int k = 0; k < MK; k++) {
            q->pnum[k] = -1;
        }
        m->n_drops++;
        hist_drop(m->h, q->name, m->clock);
    }
    MCHECK_STATUS(m, mapply_status(m, &c), want);
    if (want == SEQ_OK && mrand(m, 2) == 0) {
        /* move the slot to a fresh name; the old one stays a tombstone */
        q->gen++;
        snprintf(q->name, sizeof(q->name), "q%d.%d", who, q->gen);
        memset(q->burned, 0, sizeof(q->burned));
    }
}

/* ---- checks ---- */

/* GAPS over the whole int64 domain: the ledger invariant. Every number the
 * sequence took that is not final, and every expired rest, is listed with
 * its state, time and reason; nothing else is. */
static void mcheck_gaps(model *m, int who)
{
    mseq *q = &m->q[who];
    seq_cmd c = cmd_of(SEQ_OP_GAPS, q->name);
    c.min = INT64_MIN;
    c.max = INT64_MAX;
    seq_result r;
    int rv = mapply(m, &c, &r);
    if (!q->live) {
        MCHECK(m, rv == SEQ_ERR_NOSEQ);
        seq_result_free(&r);
        return;
    }
    MCHECK(m, rv == SEQ_OK && !r.more);
    const seq_ledger_run *row_of[MD];
    memset(row_of, 0, sizeof(row_of));
    for (size_t i = 0; i < r.n_ledger; i++) {
        const seq_ledger_run *e = &r.ledger[i];
        MCHECK(m, e->first <= e->last && e->reason != NULL);
        MCHECK(m, i == 0 || r.ledger[i - 1].last < e->first);
        for (int64_t v = e->first;; v++) {
            int x = moff(m, v);
            MCHECK(m, x >= 0 && mrange_of(q, x) >= 0); /* inside a range */
            row_of[x] = e;
            if (v == e->last) {
                break;
            }
        }
    }
    for (int x = 0; x < MD; x++) {
        const seq_ledger_run *e = row_of[x];
        uint8_t want = q->st[x];
        int64_t time = q->time[x];
        const char *why = q->why[x];
        if (want == SEQ_NUM_NOT_ISSUED && mexpired(m, q, x)) {
            want = SEQ_NUM_EXPIRED;
            time = q->r[mrange_of(q, x)].na;
            why = REASON_EXPIRED;
            m->n_expired++;
        } else if (want == SEQ_NUM_CACHED) {
            time = m->clock;
            why = REASON_CACHED;
        } else if (meff(m, q, x) == M_LAPSED) {
            want = SEQ_NUM_RELEASED;
            time = q->until[x];
            why = REASON_LAPSED;
        }
        if (want == SEQ_NUM_NOT_ISSUED || want == SEQ_NUM_FINAL) {
            if (e != NULL) {
                fail_msg("seed=%" PRIu64 " op=%zu: %s %d listed by GAPS as %d, model says %d",
                         m->seed, m->op, q->name, x, e->state, want);
            }
            continue;
        }
        if (e == NULL || e->state != want) {
            fail_msg("seed=%" PRIu64 " op=%zu: %s %d: GAPS state %d, model says %d", m->seed, m->op,
                     q->name, x, e == NULL ? -1 : e->state, want);
        }
        MCHECK(m, e->time_ms == time);
        MCHECK(m, strcmp(e->reason, why) == 0);
        if (want == SEQ_NUM_RESERVED) {
            MCHECK(m, e->until_ms == q->until[x]);
        }
    }
    seq_result_free(&r);
}

static void mcheck_lookup(model *m, int who, int64_t v)
{
    mseq *q = &m->q[who];
    seq_cmd c = cmd_of(SEQ_OP_LOOKUP, q->name);
    c.min = v;
    seq_result r;
    int rv = mapply(m, &c, &r);
    if (!q->live) {
        MCHECK(m, rv == SEQ_ERR_NOSEQ);
        seq_result_free(&r);
        return;
    }
    MCHECK(m, rv == SEQ_OK);
    int x = moff(m, v);
    uint8_t want = SEQ_NUM_NOT_ISSUED;
    int64_t time = INT64_MIN;
    const char *why = NULL;
    int key = -1;
    if (x >= 0) {
        uint8_t e = meff(m, q, x);
        key = q->mode == SEQ_MODE_GAPLESS && e != M_LAPSED && e != SEQ_NUM_RELEASED ? mkey_of(q, x)
                                                                                    : -1;
        if (e == SEQ_NUM_NOT_ISSUED) {
            if (mexpired(m, q, x)) {
                want = SEQ_NUM_EXPIRED;
                time = q->r[mrange_of(q, x)].na;
                why = REASON_EXPIRED;
            }
        } else if (e == SEQ_NUM_FINAL) {
            want = e;
            time = key >= 0 ? q->ptime[key] : INT64_MIN;
        } else if (e == SEQ_NUM_CACHED) {
            want = e;
        } else if (e == M_LAPSED) {
            want = SEQ_NUM_RELEASED;
            time = q->until[x];
            why = REASON_LAPSED;
        } else {
            want = e;
            time = q->time[x];
            why = q->why[x];
        }
        if (e == SEQ_NUM_RESERVED) {
            MCHECK(m, r.until_ms == q->until[x]);
        }
    }
    if (r.state != want) {
        fail_msg("seed=%" PRIu64 " op=%zu: LOOKUP %s %d: state %d, model says %d", m->seed, m->op,
                 q->name, x, r.state, want);
    }
    MCHECK(m, r.time_ms == time);
    MCHECK(m, str_eq(r.reason, why));
    MCHECK(m, str_eq(r.key, key >= 0 ? m_keys[key] : NULL));
    seq_result_free(&r);
}

static void mcheck_lookup_key(model *m, int who, int keyi)
{
    mseq *q = &m->q[who];
    seq_cmd c = cmd_of(SEQ_OP_LOOKUP_KEY, q->name);
    set_key(&c, m_keys[keyi]);
    seq_result r;
    int rv = mapply(m, &c, &r);
    if (!q->live) {
        MCHECK(m, rv == SEQ_ERR_NOSEQ);
    } else if (q->mode == SEQ_MODE_GAPLESS && q->pnum[keyi] >= 0) {
        mexpect_numbers(m, q, &r, &q->pnum[keyi], 1);
        MCHECK(m, r.time_ms == q->ptime[keyi]);
    } else {
        mskey *k = mskey_find(m, who, keyi);
        if (k != NULL) {
            mexpect_numbers(m, q, &r, k->nums, (int)k->count);
            MCHECK(m, r.time_ms == k->inserted);
        } else {
            MCHECK(m, rv == SEQ_OK && r.n_runs == 0);
        }
    }
    seq_result_free(&r);
}

static void mcheck_describe(model *m, int who)
{
    mseq *q = &m->q[who];
    seq_cmd c = cmd_of(SEQ_OP_DESCRIBE, q->name);
    seq_result r;
    int rv = mapply(m, &c, &r);
    if (!q->live) {
        MCHECK(m, rv == SEQ_ERR_NOSEQ);
        seq_result_free(&r);
        return;
    }
    MCHECK(m, rv == SEQ_OK && strcmp(r.name, q->name) == 0);
    MCHECK(m, r.n_ranges == (size_t)q->nr);
    for (int i = 0; i < q->nr; i++) {
        MCHECK(m, r.ranges[i].min == mnum(m, q->r[i].lo));
        MCHECK(m, r.ranges[i].max == mnum(m, q->r[i].hi));
        MCHECK(m, r.ranges[i].not_before == q->r[i].nb);
        MCHECK(m, r.ranges[i].not_after == q->r[i].na);
        MCHECK(m, r.ranges[i].expired == (m->clock > q->r[i].na));
    }
    int list[MD];
    int n = q->mode == SEQ_MODE_GAPLESS ? mreissue_list(m, q, list) : 0;
    if (n == 0) {
        n = mnew_list(m, q, list);
    }
    MCHECK(m, r.has_next == (n > 0));
    if (n > 0) {
        MCHECK(m, r.next == mnum(m, list[0]));
    }
    MCHECK(m, r.issued == q->issued);
    MCHECK(m, r.left == mleft(m, q) && r.remaining == r.left);
    MCHECK(m, r.mode == q->mode && r.cache == q->cache && r.warn == q->warn);
    MCHECK(m, r.warned == q->warned);
    uint64_t per_min, per_hour;
    int64_t eta;
    mrates(m, q, &per_min, &per_hour, &eta);
    MCHECK(m, r.rate_1m == per_min && r.rate_1h == per_hour && r.eta_s == eta);
    seq_result_free(&r);
}

static void mcheck_counts(model *m)
{
    size_t live = 0, pkeys = 0;
    warned_list want;
    memset(&want, 0, sizeof(want));
    for (int who = 0; who < MS; who++) {
        const mseq *q = &m->q[who];
        live += q->live ? 1 : 0;
        for (int k = 0; k < MK && q->live; k++) {
            if (q->pnum[k] >= 0) {
                /* a key holds a final, reserved (maybe lapsed), voided or
                 * unknown-fate number */
                uint8_t st_ = q->st[q->pnum[k]];
                MCHECK(m, st_ == SEQ_NUM_FINAL || st_ == SEQ_NUM_RESERVED || st_ == SEQ_NUM_VOIDED ||
                              st_ == SEQ_NUM_UNKNOWN);
                pkeys++;
            }
        }
        if (q->live && q->warned) {
            want.n++;
        }
    }
    MCHECK(m, seq_count_live(m->s) == live);
    MCHECK(m, seq_count_keys(m->s) == m->n_skeys);
    MCHECK(m, m->s->n_pkeys == pkeys);
    MCHECK(m, seq_clock_ms(m->s) == m->clock);
    warned_list got = warned_of(m->s);
    MCHECK(m, got.n == want.n);
    for (size_t i = 0; i < got.n; i++) {
        bool found = false;
        for (int who = 0; who < MS; who++) {
            const mseq *q = &m->q[who];
            if (q->live && strcmp(q->name, got.names[i]) == 0) {
                MCHECK(m, q->warned && got.left[i] == mleft(m, q) && got.warn[i] == q->warn);
                found = true;
            }
        }
        MCHECK(m, found);
    }
}

/* After every operation. full: also LOOKUP every number and key. */
static void mcheck_all(model *m, bool full)
{
    for (int who = 0; who < MS; who++) {
        mcheck_gaps(m, who);
        mcheck_describe(m, who);
        if (full) {
            for (int x = -1; x <= MD; x++) {
                mcheck_lookup(m, who, mnum(m, x));
            }
            for (int k = 0; k < MK; k++) {
                mcheck_lookup_key(m, who, k);
            }
        } else {
            mcheck_lookup(m, who, mnum(m, (int)mrand(m, MD)));
        }
    }
    mcheck_counts(m);
    if (full) {
        expect_valid(m->s);
    }
}


/* ---- the entry stamp: clocks and node-local limits (issue 8) ----------- */

static void stamp(seq_state *s, uint64_t origin, int64_t wall, int64_t mono, int64_t retention,
                  uint64_t keys_max)
{
    seq_stamp st = {wall, mono, origin, retention, keys_max};
    seq_stamp_entry(s, &st);
}

static uint8_t state_of(seq_state *s, const char *name, int64_t v)
{
    seq_result r;
    lookup(s, name, v, &r);
    uint8_t state = r.state;
    seq_result_free(&r);
    return state;
}

/* A leader with a fast wall clock: its error ends with it. Windows follow
 * the stamping leader's wall clock; TTLs and retention follow the elapsed
 * clock, which a change of leader does not advance. */
static void test_stamp_fast_leader_does_not_outlive_itself(void **state)
{
    (void)state;
    seq_state *s = mk();
    const int64_t day = 86400000, t = 1800000000000;
    stamp(s, 1, t, 5000, day, KEYS_MAX);
    /* w's range closes an hour from now; k is a 24 h key */
    assert_int_equal(create_win(s, "w", 1, 100, SEQ_MODE_STRICT, INT64_MIN, t + 3600000), SEQ_OK);
    assert_int_equal(create(s, "s", 1, 100, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(create(s, "g", 1, 100, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(next1k(s, "s", "k"), 1);
    /* a restart under a clock two days fast: one entry */
    stamp(s, 2, t + 2 * day + 10, 100, day, KEYS_MAX);
    assert_int_equal(seq_clock_ms(s), t + 2 * day + 10);
    int64_t el = seq_elapsed_ms(s);
    expect_exhausted(s, "w", 1, 0, INT64_MAX); /* judged by that leader: expired */
    /* the key was not expired by the jump: elapsed time did not move */
    assert_int_equal(seq_count_keys(s), 1);
    /* a normal restart: the wall clock goes back with the new leader */
    stamp(s, 3, t + 20, 7, day, KEYS_MAX);
    assert_int_equal(seq_clock_ms(s), t + 20);
    assert_int_equal(seq_elapsed_ms(s), el);
    assert_int_equal(next1(s, "w"), 1); /* the window is open again */
    assert_int_equal(next1k(s, "s", "k"), 1); /* the key still replays */
    /* a RESERVE TTL 1 s lapses after one second of this leader's time */
    assert_int_equal(reserve1(s, "g", 1000, NULL, NULL), 1);
    stamp(s, 3, t + 1019, 1006, day, KEYS_MAX);
    assert_int_equal(state_of(s, "g", 1), SEQ_NUM_RESERVED);
    stamp(s, 3, t + 1020, 1007, day, KEYS_MAX);
    assert_int_equal(state_of(s, "g", 1), SEQ_NUM_RELEASED);
    seq_state_free(s);
}

/* A reservation granted under a slow clock keeps its whole TTL under a
 * leader whose clock is right, and a leader change adds no elapsed time. */
static void test_stamp_slow_leader_keeps_ttl(void **state)
{
    (void)state;
    seq_state *s = mk();
    const int64_t t = 1800000000000;
    stamp(s, 1, t - 3600000, 0, 1000, KEYS_MAX); /* an hour slow */
    assert_int_equal(create(s, "g", 1, 100, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_int_equal(reserve1(s, "g", 60000, "a", NULL), 1);
    seq_result r;
    lookup(s, "g", 1, &r);
    assert_int_equal(r.until_ms, t - 3600000 + 60000);
    seq_result_free(&r);
    /* the slow leader dies 10 s later; a correct one takes over */
    stamp(s, 1, t - 3600000 + 10000, 10000, 1000, KEYS_MAX);
    stamp(s, 2, t, 123456789, 1000, KEYS_MAX);
    assert_int_equal(state_of(s, "g", 1), SEQ_NUM_RESERVED);
    lookup(s, "g", 1, &r);
    assert_int_equal(r.until_ms, t + 50000); /* 50 s of the TTL left, judged now */
    seq_result_free(&r);
    stamp(s, 2, t + 49999, 123456789 + 49999, 1000, KEYS_MAX);
    assert_int_equal(state_of(s, "g", 1), SEQ_NUM_RESERVED);
    stamp(s, 2, t + 50000, 123456789 + 50000, 1000, KEYS_MAX);
    assert_int_equal(state_of(s, "g", 1), SEQ_NUM_RELEASED);
    seq_state_free(s);
}

/* Within one leader, a wall clock that steps back or forward moves the
 * wall clock (windows) only; the monotonic clock alone moves TTLs and
 * retention. */
static void test_stamp_one_leader_clock_steps(void **state)
{
    (void)state;
    seq_state *s = mk();
    const int64_t t = 1800000000000;
    stamp(s, 9, t, 1000, 5000, KEYS_MAX);
    assert_int_equal(create(s, "s", 1, 100, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(next1k(s, "s", "k"), 1);
    stamp(s, 9, t - 60000, 2000, 5000, KEYS_MAX); /* wall back a minute: followed */
    assert_int_equal(seq_clock_ms(s), t - 60000);
    assert_int_equal(seq_elapsed_ms(s), 1000);
    stamp(s, 9, t + 86400000, 3000, 5000, KEYS_MAX); /* wall forward a day */
    assert_int_equal(seq_clock_ms(s), t + 86400000);
    assert_int_equal(seq_elapsed_ms(s), 2000);
    assert_int_equal(seq_count_keys(s), 1); /* 2 s of the key's 5 s */
    stamp(s, 9, t + 86400000, 5999, 5000, KEYS_MAX);
    assert_int_equal(seq_count_keys(s), 1);
    stamp(s, 9, t + 86400000, 6000, 5000, KEYS_MAX);
    assert_int_equal(seq_count_keys(s), 0);
    /* a monotonic clock that went back (never, from a real leader) adds nothing */
    stamp(s, 9, t + 86400000, 10, 5000, KEYS_MAX);
    assert_int_equal(seq_elapsed_ms(s), 5000);
    seq_state_free(s);
}

/* The key limit is the stamp's: two replicas that were configured
 * differently but apply the same entries agree, and a replay with another
 * local flag cannot change what the log meant (the restart with a lower
 * --max-keys that issued 4, 5, 6 again). */
static void test_stamp_keys_max_is_the_entrys(void **state)
{
    (void)state;
    seq_state *a = mk(), *b = state_with_keys(2);
    for (int round = 0; round < 2; round++) {
        seq_state *s = round == 0 ? a : b;
        stamp(s, 1, 1000, 1000, 86400000, 100);
        assert_int_equal(create(s, "s", 1, 1000, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
        const char *keys[] = {"a", "b", "c", "d", "e"};
        for (int i = 0; i < 5; i++) {
            assert_int_equal(next1k(s, "s", keys[i]), i + 1);
        }
        assert_int_equal(next1(s, "s"), 6);
        /* an entry stamped by a leader with --max-keys 2 refuses new keys
         * but replays old ones and issues on */
        stamp(s, 2, 2000, 0, 86400000, 2);
        seq_result r;
        assert_int_equal(next(s, "s", 1, "f", &r), SEQ_ERR_KEYS_FULL);
        seq_result_free(&r);
        assert_int_equal(next1k(s, "s", "a"), 1);
        assert_int_equal(next1(s, "s"), 7);
    }
    size_t la = 0, lb = 0;
    uint8_t *ba = seq_snapshot_encode(a, &la), *bb = seq_snapshot_encode(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    free(ba);
    free(bb);
    seq_state_free(a);
    seq_state_free(b);
}

/* One NEXT COUNT k that reuses k released runs among voided ones, at the
 * ledger's limit (100,000 runs): the result is exactly those numbers,
 * lowest first, and the ledger keeps the voided runs only. It was
 * quadratic (each reused run shifted the rest of the ledger array: 20k
 * runs took 0.4 s, 50k would take seconds), and an apply that long stalls
 * every replica past the election timeout. The bound below is that
 * liveness limit, far above what it takes now (milliseconds). */
static void test_reuse_many_released_runs(void **state)
{
    (void)state;
    seq_state *s = mk();
    seq_tick(s, 1000, 0);
    enum { RUNS = SEQ_LEDGER_MAX / 2 - 2 }; /* each report needs room for two more */
    assert_int_equal(create(s, "g", 1, 10 * RUNS, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    seq_result r;
    assert_int_equal(next(s, "g", 3 * RUNS, NULL, &r), SEQ_OK);
    seq_result_free(&r);
    /* 1 voided, 2 released, 3 final, 4 voided, 5 released, ... */
    for (int64_t v = 1; v <= 3 * RUNS; v += 3) {
        assert_int_equal(void_(s, "g", v, "torn"), SEQ_OK);
        assert_int_equal(undelivered(s, "g", v + 1, v + 1, "lost"), SEQ_OK);
    }
    tick1(s);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(next(s, "g", RUNS, NULL, &r), SEQ_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took_ms =
        (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    print_message("reusing %d released runs in one NEXT: %.1f ms\n", RUNS, took_ms);
    assert_true(took_ms < 500); /* the election timeout (--election-timeout-ms) */
    assert_int_equal(r.n_runs, RUNS);
    for (size_t i = 0; i < r.n_runs; i++) {
        assert_int_equal(r.runs[i].first, 3 * (int64_t)i + 2);
        assert_int_equal(r.runs[i].last, 3 * (int64_t)i + 2);
    }
    seq_result_free(&r);
    assert_int_equal(next1(s, "g"), 3 * RUNS + 1);
    gaps(s, "g", INT64_MIN, INT64_MAX, &r);
    assert_int_equal(r.n_ledger, SEQ_GAPS_MAX);
    assert_true(r.more);
    for (size_t i = 0; i < r.n_ledger; i++) {
        assert_int_equal(r.ledger[i].state, SEQ_NUM_VOIDED);
        assert_int_equal(r.ledger[i].first, 3 * (int64_t)i + 1);
    }
    seq_result_free(&r);
    expect_valid(s);
    seq_state_free(s);
}

/* A snapshot round trip: the decoded state becomes the state under test,
 * the old one its twin, checked in lock step from now on. */
static void msnapshot(model *m)
{
    seq_state *d = decoded_copy(m->s);
    seq_state *old_twin = m->twin;
    m->twin = m->s;
    m->s = d;
    seq_state_free(old_twin);
    m->n_snapshots++;
    mcheck_all(m, true); /* every answer, in both */
}

static void run_model(uint64_t seed, size_t ops)
{
    model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->seed = seed;
    m->rng = seed;
    static const int64_t bases[] = {0, INT64_MIN, INT64_MAX - MD + 1};
    m->base = bases[seed % 3];
    m->clock = 1700000000000LL + (int64_t)(seed % 100000);
    m->retention = 150;
    m->owner_term = 1;
    m->owner_node = 1;
    m->s = state_with_keys(M_SKEYS_MAX);
    m->h = hist_new();
    seq_tick(m->s, m->clock, m->retention);
    for (int who = 0; who < MS; who++) {
        snprintf(m->q[who].name, sizeof(m->q[who].name), "q%d.0", who);
        for (int k = 0; k < MK; k++) {
            m->q[who].pnum[k] = -1;
        }
    }
    for (m->op = 0; m->op < ops; m->op++) {
        int who = (int)mrand(m, MS);
        mseq *q = &m->q[who];
        if (q->live && mleft(m, q) == 0 && mrand(m, 3) == 0) {
            mdrop(m, who); /* used up: renew the slot */
        }
        uint64_t d = mrand(m, 100);
        if (d < 12) {
            int64_t dt = (int64_t)mrand(m, 30);
            uint64_t big = mrand(m, 200);
            if (big == 0) {
                dt = 61000 + (int64_t)mrand(m, 60000);
            } else if (big == 1) {
                dt = 3600000;
            }
            mtick(m, dt, mrand(m, 20) == 0 ? (int64_t)mrand(m, 300) : m->retention);
        } else if (d < 16 || (!q->live && d < 40)) {
            mcreate(m, who);
        } else if (d < 20) {
            maddrange(m, who);
        } else if (d < 21) {
            mdrop(m, who);
        } else if (d < 22) {
            msnapshot(m);
        } else if (d < 24) {
            mrecover(m);
        } else {
            /* mostly the operations of the slot's mode, sometimes any */
            uint64_t e = mrand(m, 100);
            uint8_t mode = mrand(m, 10) == 0 ? (uint8_t)mrand(m, 3) : q->mode;
            if (mode == SEQ_MODE_GAPLESS) {
                e = e < 35 ? 0 : e < 55 ? 1 : e < 70 ? 2 : e < 85 ? 3 : e < 93 ? 4 : 5;
            } else if (mode == SEQ_MODE_CACHED) {
                e = e < 30 ? 6 : e < 60 ? 7 : e < 70 ? 1 : e < 80 ? 4 : e < 90 ? 5 : 2;
            } else {
                e = e < 45 ? 1 : e < 60 ? 2 : e < 75 ? 4 : 5;
            }
            switch (e) {
            case 0: mreserve(m, who); break;
            case 1: {
                uint32_t count = 1 + (uint32_t)mrand(m, mrand(m, 3) == 0 ? M_COUNT_MAX : 2);
                if (mrand(m, 40) == 0) {
                    count = mrand(m, 2) ? 0 : SEQ_COUNT_MAX + 1;
                }
                int keyi = mrand(m, 4) == 0 ? (int)mrand(m, MK) : -1;
                if (mrand(m, 60) == 0) {
                    keyi = -2;
                }
                mnext(m, who, count, keyi);
            } break;
            case 2: mconfirm(m, who); break;
            case 3: mrelease(m, who); break;
            case 4: mvoid(m, who); break;
            case 5: mundelivered(m, who); break;
            case 6: mallocblock(m, who); break;
            default: mused(m, who); break;
            }
        }
        mcheck_all(m, m->op % 64 == 63);
    }
    mcheck_all(m, true);
    printf("seed=%" PRIu64 ": %zu new, %zu reissued (%zu lapsed), %zu cached, %zu skipped, "
           "%zu unknown, %zu voided, %zu replays, %zu key-voided, %zu expired seen, "
           "%zu opens, %zu warn crossings, %zu drops, %zu snapshots\n",
           seed, m->n_new, m->n_reissued, m->n_lapsed, m->n_cached, m->n_skipped, m->n_unknown,
           m->n_voided, m->n_replays, m->n_key_voided, m->n_expired, m->n_opens, m->n_crossed,
           m->n_drops, m->n_snapshots);
    /* the run reached every transition it is meant to test */
    MCHECK(m, m->n_reissued > 0 && m->n_lapsed > 0 && m->n_skipped > 0 && m->n_unknown > 0);
    MCHECK(m, m->n_voided > 0 && m->n_replays > 0 && m->n_expired > 0 && m->n_opens > 0);
    MCHECK(m, m->n_crossed > 0 && m->n_snapshots > 0 && m->n_key_voided > 0);
    /* the guarantees, checked from outside: nothing the model says */
    char msg[512];
    if (hist_check(m->h, msg, sizeof(msg)) != 0) {
        fail_msg("seed=%" PRIu64 ": history checker: %s", seed, msg);
    }
    hist_free(m->h);
    seq_state_free(m->s);
    seq_state_free(m->twin);
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
    static const uint64_t seeds[] = {
        1, 2, 3, 4, 20240601, 0xdecafbadULL, 0x5eedULL, 0x123456789abcdefULL};
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        run_model(seeds[i], 8000);
    }
}


/* ---- restore: the advance past a backup, reservations released -------- */

/* What the backup knew is never issued again; the next numbers are skipped
 * with the restore's reason; a reservation comes back released (and is
 * the next RESERVE's), or skipped when asked; a number released at the
 * backup (or whose reservation's TTL had passed) is skipped, for the lost
 * cluster handed it out first; a pristine state is one nothing was created
 * in. */
static void test_restore_advance_skips_and_releases(void **state)
{
    (void)state;
    seq_state *s = mk();
    assert_true(seq_state_pristine(s));
    assert_int_equal(create(s, "strict", 1, 100, SEQ_MODE_STRICT, 0, 0), SEQ_OK);
    assert_int_equal(create(s, "gl", 1, 100, SEQ_MODE_GAPLESS, 0, 0), SEQ_OK);
    assert_false(seq_state_pristine(s));
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(next1(s, "strict"), i);
    }
    assert_int_equal(reserve1(s, "gl", 60000, NULL, NULL), 1);
    assert_int_equal(reserve1(s, "gl", 60000, NULL, NULL), 2);
    /* 3 and 4 released at the backup, 5 a reservation whose TTL passed */
    assert_int_equal(reserve1(s, "gl", 60000, NULL, NULL), 3);
    assert_int_equal(reserve1(s, "gl", 60000, NULL, NULL), 4);
    assert_int_equal(reserve1(s, "gl", 1, "k5", NULL), 5);
    assert_int_equal(release(s, "gl", 3), SEQ_OK);
    assert_int_equal(release(s, "gl", 4), SEQ_OK);
    tick1(s);
    tick1(s);
    seq_state *b = decoded_copy(s); /* the backup */
    seq_state *held = decoded_copy(s);
    seq_state *later = decoded_copy(s);
    uint64_t skipped = 0;
    const char *why = "restored from a backup taken at 2026-12-03T16:00:00Z";
    int64_t at = seq_clock_ms(s); /* restored straight away */
    /* restored ten minutes on: the held ones' 60 s TTLs ran out meanwhile,
     * so the lost cluster may have handed them out again */
    assert_int_equal(seq_restore_release(later, why, false, at + 600000, &skipped), 0);
    assert_int_equal(skipped, 5);
    expect_state(later, "gl", 2, SEQ_NUM_SKIPPED, IGNORE_TIME);
    expect_valid(later);
    seq_state_free(later);
    assert_int_equal(seq_restore_release(b, why, false, at, &skipped), 2); /* the two held */
    assert_int_equal(skipped, 3); /* 3..4 (one run) and 5 */
    expect_state(b, "gl", 3, SEQ_NUM_SKIPPED, IGNORE_TIME);
    expect_state(b, "gl", 5, SEQ_NUM_SKIPPED, IGNORE_TIME);
    /* --skip-reserved: the held ones too, and their keys go */
    assert_int_equal(seq_restore_release(held, why, true, at, &skipped), 0);
    assert_int_equal(skipped, 5);
    expect_state(held, "gl", 1, SEQ_NUM_SKIPPED, IGNORE_TIME);
    assert_int_equal(reserve1(held, "gl", 60000, "k5", NULL), 6); /* the key got nothing */
    expect_valid(held);
    seq_state_free(held);
    assert_int_equal(seq_restore_advance(b, "strict", 6, 10, why, 0, &skipped), SEQ_OK);
    assert_int_equal(skipped, 10);
    expect_valid(b);
    assert_int_equal(next1(b, "strict"), 16); /* 6..15 skipped, never issued */
    expect_state(b, "strict", 6, SEQ_NUM_SKIPPED, IGNORE_TIME);
    expect_state(b, "strict", 15, SEQ_NUM_SKIPPED, IGNORE_TIME);
    expect_state(b, "strict", 5, SEQ_NUM_FINAL, IGNORE_TIME);
    seq_result r;
    lookup(b, "strict", 9, &r);
    assert_non_null(r.reason);
    assert_string_equal(r.reason, why);
    seq_result_free(&r);
    expect_state(b, "gl", 1, SEQ_NUM_RELEASED, IGNORE_TIME);
    assert_int_equal(reserve1(b, "gl", 60000, NULL, NULL), 1); /* released numbers go first */
    assert_int_equal(reserve1(b, "gl", 60000, NULL, NULL), 2);
    assert_int_equal(reserve1(b, "gl", 60000, NULL, NULL), 6); /* 3, 4, 5 never again */
    /* past the end: takes what is left, then nothing */
    assert_int_equal(seq_restore_advance(b, "strict", 6, 1000, why, 0, &skipped), SEQ_OK);
    assert_int_equal(skipped, 84);
    assert_int_equal(seq_restore_advance(b, "strict", 6, 5, why, 0, &skipped), SEQ_OK);
    assert_int_equal(skipped, 0);
    assert_int_equal(seq_restore_advance(b, "nosuch", 6, 5, why, 0, &skipped), SEQ_ERR_NOSEQ);
    expect_valid(b);
    seq_state *again = decoded_copy(b); /* and it survives a snapshot */
    expect_state(again, "strict", 50, SEQ_NUM_SKIPPED, IGNORE_TIME);
    seq_state_free(again);
    seq_state_free(b);
    seq_state_free(s);
}

/* The lost cluster went on numbering while windows opened and closed: the
 * advance covers what NEXT took at every moment from the backup to the
 * restore, range by range, not only what it took at the backup's. */
static void test_restore_advance_follows_the_windows(void **state)
{
    (void)state;
    const int64_t t0 = 1000000, t1 = 2000000, t2 = 3000000;
    seq_state *s = mk();
    seq_tick(s, t0, INT64_MAX);
    /* a: 1..100 until t1, then b: 101..200; c, first in order, opens at
     * t2 and is taken before d, which is always open */
    assert_int_equal(create_win(s, "ab", 1, 100, SEQ_MODE_STRICT, INT64_MIN, t1), SEQ_OK);
    assert_int_equal(addrange(s, "ab", 101, 200, t1 + 1, INT64_MAX), SEQ_OK);
    assert_int_equal(create_win(s, "cd", 1000, 1999, SEQ_MODE_STRICT, t2, INT64_MAX), SEQ_OK);
    assert_int_equal(addrange(s, "cd", 1, 999, INT64_MIN, INT64_MAX), SEQ_OK);
    assert_int_equal(next1(s, "ab"), 1);
    assert_int_equal(next1(s, "cd"), 1);
    seq_state *b = decoded_copy(s); /* the backup, at t0 */
    const char *why = "restored from a backup";
    uint64_t skipped = 0;
    assert_int_equal(seq_restore_advance(b, "ab", 2, 10, why, t2 + 5, &skipped), SEQ_OK);
    assert_int_equal(skipped, 20); /* 2..11 and 101..110 */
    assert_int_equal(seq_restore_advance(b, "cd", 2, 10, why, t2 + 5, &skipped), SEQ_OK);
    assert_int_equal(skipped, 20); /* 2..11 and 1000..1009 */
    expect_valid(b);
    seq_tick(b, t2 + 10, INT64_MAX);
    assert_int_equal(next1(b, "ab"), 111);
    expect_state(b, "ab", 11, SEQ_NUM_SKIPPED, IGNORE_TIME);
    expect_state(b, "ab", 12, SEQ_NUM_EXPIRED, IGNORE_TIME); /* past the advance, closed at t1 */
    expect_state(b, "ab", 101, SEQ_NUM_SKIPPED, IGNORE_TIME);
    assert_int_equal(next1(b, "cd"), 1010);
    expect_state(b, "cd", 11, SEQ_NUM_SKIPPED, IGNORE_TIME);
    expect_state(b, "cd", 1009, SEQ_NUM_SKIPPED, IGNORE_TIME);
    /* restored at the backup's moment (or with a clock behind it): the
     * windows of then, as before */
    seq_state *c = decoded_copy(s);
    assert_int_equal(seq_restore_advance(c, "ab", 2, 10, why, t0 - 500, &skipped), SEQ_OK);
    assert_int_equal(skipped, 10);
    expect_state(c, "ab", 101, SEQ_NUM_NOT_ISSUED, IGNORE_TIME);
    expect_valid(c);
    seq_state_free(c);
    seq_state_free(b);
    seq_state_free(s);
}

/* Numbers a NEXT of count k at time t gave, marked in seen[] (1..RS_MAX);
 * whether it gave any. */
#define RS_MAX 400
static bool rs_take(seq_state *s, const char *name, int64_t t, uint32_t k, bool *seen, bool *twice)
{
    seq_tick(s, t, INT64_MAX);
    seq_result r;
    if (next(s, name, k, NULL, &r) != SEQ_OK) {
        seq_result_free(&r);
        return false;
    }
    for (size_t i = 0; i < r.n_runs; i++) {
        for (int64_t v = r.runs[i].first; v <= r.runs[i].last; v++) {
            assert_true(v >= 1 && v <= RS_MAX);
            *twice = *twice || seen[v];
            seen[v] = true;
        }
    }
    seq_result_free(&r);
    return true;
}

/* The restore's promise, checked from outside on random sequences: a
 * cluster lost after the backup issued at most A numbers (NEXTs while
 * windows opened and closed, released gapless numbers first); the backup
 * restored with --advance A then issues everything it still can, over
 * every window to come, and never one the lost cluster gave. */
static void test_restore_never_reissues_what_the_lost_cluster_gave(void **state)
{
    (void)state;
    const int64_t t0 = 1000000000, hour = 3600000;
    uint64_t rng = 0x5eed2026;
    for (int round = 0; round < 300; round++) {
        seq_state *s = mk();
        seq_tick(s, t0, INT64_MAX);
        bool gapless = splitmix64(&rng) % 2 == 0;
        /* up to three ranges of 1..RS_MAX in a random order, random windows */
        int64_t bounds[3][2] = {{1, 100}, {101, 250}, {251, RS_MAX}};
        int order[3] = {0, 1, 2};
        for (int i = 2; i > 0; i--) {
            int j = (int)(splitmix64(&rng) % (uint64_t)(i + 1)), x = order[i];
            order[i] = order[j];
            order[j] = x;
        }
        int n_ranges = 1 + (int)(splitmix64(&rng) % 3);
        for (int i = 0; i < n_ranges; i++) {
            const int64_t *b = bounds[order[i]];
            int64_t nb = splitmix64(&rng) % 2 ? INT64_MIN : t0 + (int64_t)(splitmix64(&rng) % 10) * hour;
            int64_t na = splitmix64(&rng) % 2 ? INT64_MAX : t0 + (int64_t)(splitmix64(&rng) % 10) * hour;
            if (nb != INT64_MIN && na != INT64_MAX && na < nb) {
                na = INT64_MAX;
            }
            if (i == 0) {
                assert_int_equal(create_win(s, "r", b[0], b[1], gapless ? SEQ_MODE_GAPLESS : SEQ_MODE_STRICT,
                                            nb, na),
                                 SEQ_OK);
            } else {
                assert_int_equal(addrange(s, "r", b[0], b[1], nb, na), SEQ_OK);
            }
        }
        bool before[RS_MAX + 1] = {false}, lost[RS_MAX + 1] = {false}, after[RS_MAX + 1] = {false};
        bool twice = false;
        rs_take(s, "r", t0, 1 + (uint32_t)(splitmix64(&rng) % 20), before, &twice);
        if (gapless) {
            /* at the backup: two numbers released, one reserved for an
             * hour (the lost cluster hands all three out again, the
             * reservation once its TTL passed), one reserved for good */
            const int64_t ttls[4] = {hour, hour, hour, 0};
            int64_t held[4];
            for (int k = 0; k < 4; k++) {
                seq_result r;
                held[k] = reserve(s, "r", ttls[k], NULL, &r) == SEQ_OK ? r.runs[0].first : 0;
                seq_result_free(&r);
            }
            for (int k = 0; k < 2; k++) {
                if (held[k] != 0) {
                    assert_int_equal(release(s, "r", held[k]), SEQ_OK);
                }
            }
        }
        seq_state *b = decoded_copy(s); /* the backup, at t0 */
        /* the lost cluster: NEXTs over ten hours, A numbers at most */
        uint64_t advance = 1 + splitmix64(&rng) % 60, given = 0;
        int64_t t = t0;
        while (given < advance && t < t0 + 10 * hour) {
            t += (int64_t)(splitmix64(&rng) % (2 * (uint64_t)hour));
            uint32_t k = 1 + (uint32_t)(splitmix64(&rng) % (advance - given));
            if (rs_take(s, "r", t, k, lost, &twice)) {
                given += k;
            }
        }
        assert_false(twice); /* the lost cluster itself issued each once */
        /* restored at t (the lost cluster's last moment) */
        uint64_t skipped = 0;
        const char *why = "restored";
        seq_restore_release(b, why, false, t, &skipped);
        assert_int_equal(seq_restore_advance(b, "r", 1, advance, why, t, &skipped), SEQ_OK);
        expect_valid(b);
        for (int64_t u = t + 1; u <= t0 + 12 * hour; u += hour / 2) {
            while (rs_take(b, "r", u, 1, after, &twice)) {
            }
        }
        for (int64_t v = 1; v <= RS_MAX; v++) {
            if (after[v] && lost[v]) {
                fail_msg("round %d: %lld issued by the lost cluster and again after the restore",
                         round, (long long)v);
            }
        }
        seq_state_free(b);
        seq_state_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_modes),
        cmocka_unit_test(test_window_order_and_exhausted),
        cmocka_unit_test(test_window_int64_edges),
        cmocka_unit_test(test_gapless_reserve_confirm_release),
        cmocka_unit_test(test_gapless_reissue_lowest_first),
        cmocka_unit_test(test_confirm_release_with_key),
        cmocka_unit_test(test_grants_are_distinct),
        cmocka_unit_test(test_gapless_released_run_across_ranges),
        cmocka_unit_test(test_gapless_keys),
        cmocka_unit_test(test_void_every_state),
        cmocka_unit_test(test_cached_blocks),
        cmocka_unit_test(test_served_after_lost_used),
        cmocka_unit_test(test_reissue_hint_never_hides_a_number),
        cmocka_unit_test(test_undelivered),
        cmocka_unit_test(test_allocblock_until),
        cmocka_unit_test(test_warn),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_ledger_limit_modes),
        cmocka_unit_test(test_ledger_limit_split_reissue),
        cmocka_unit_test(test_gaps_cut_mixed),
        cmocka_unit_test(test_snapshot_modes),
        cmocka_unit_test(test_snapshot_refuses_bad_modes),
        cmocka_unit_test(test_stamp_fast_leader_does_not_outlive_itself),
        cmocka_unit_test(test_stamp_slow_leader_keeps_ttl),
        cmocka_unit_test(test_stamp_one_leader_clock_steps),
        cmocka_unit_test(test_stamp_keys_max_is_the_entrys),
        cmocka_unit_test(test_reuse_many_released_runs),
        cmocka_unit_test(test_random_model),
        cmocka_unit_test(test_restore_advance_skips_and_releases),
        cmocka_unit_test(test_restore_advance_follows_the_windows),
        cmocka_unit_test(test_restore_never_reissues_what_the_lost_cluster_gave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
