/* Unit tests for document numbers in the state machine (src/core/seq_doc.c,
 * seq_period.c, seq_snapshot_doc.c): formats and labels on CREATE and
 * ADDRANGE, NEXT ... TEXT, RENDER, PARSE (exact, wrong check digit, outside
 * the ranges, not the format), SETFORMAT keeping the old format for issued
 * numbers, mod11:skip numbers never issued and listed as skipped; periodic
 * series across boundaries (numbering anew, old periods answerable, a
 * reservation confirmed after the boundary keeping its period, KEY retries
 * answered with the old number, a clock that goes back reopening nothing,
 * DROP and re-CREATE); snapshots and log entries of all of it.
 *
 * The second half is a seeded random-operation test against a reference
 * model of (period, number) pairs: no pair is issued twice, every number
 * lies in its ranges, every text parses back to its number and period, and
 * a snapshot taken at any point gives the same answers afterwards. It
 * prints "seed=N"; SEQ_TEST_SEED=N replays one. */
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

#include "check_digit.h"
#include "codec.h"
#include "doc_format.h"
#include "period.h"
#include "seq.h"

#define H (3600 * 1000LL)
/* At +01:00, 2027 begins at 2026-12-31T23:00:00Z. */
#define NEW_YEAR_2027_AT_PLUS1 1798758000000LL

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static seq_cmd cmd_of(uint8_t op, const char *name)
{
    seq_cmd c;
    memset(&c, 0, sizeof(c));
    c.op = op;
    c.name = name;
    c.name_len = name != NULL ? strlen(name) : 0;
    return c;
}

static int run(seq_state *s, seq_cmd c, seq_result *r)
{
    seq_result local;
    seq_result *out = r != NULL ? r : &local;
    int rv = seq_apply(s, &c, out);
    if (r == NULL) {
        seq_result_free(&local);
    }
    return rv;
}

static int create_doc(seq_state *s, const char *name, int64_t min, int64_t max, const char *format,
                      const char *label, uint8_t period_kind, int tz, uint8_t mode)
{
    seq_cmd c = cmd_of(SEQ_OP_CREATE, name);
    c.min = min;
    c.max = max;
    c.format = format;
    c.format_len = format != NULL ? strlen(format) : 0;
    c.label = label;
    c.label_len = label != NULL ? strlen(label) : 0;
    c.period_kind = period_kind;
    c.tz_minutes = (int16_t)tz;
    c.mode = mode;
    return run(s, c, NULL);
}

/* NEXT name TEXT: the text (a static copy) and the number. */
static const char *next_text(seq_state *s, const char *name, int64_t *n, const char *key)
{
    static char text[DOC_TEXT_MAX + 1];
    seq_cmd c = cmd_of(SEQ_OP_NEXT, name);
    c.count = 1;
    c.text_reply = true;
    c.key = key;
    c.key_len = key != NULL ? strlen(key) : 0;
    seq_result r;
    int rv = run(s, c, &r);
    if (rv != SEQ_OK) {
        seq_result_free(&r);
        return NULL;
    }
    assert_int_equal(r.n_texts, 1);
    snprintf(text, sizeof(text), "%s", r.texts[0]);
    if (n != NULL) {
        *n = r.runs[0].first;
    }
    seq_result_free(&r);
    return text;
}

static int parse(seq_state *s, const char *name, const char *text, seq_result *r)
{
    seq_cmd c = cmd_of(SEQ_OP_PARSE, name);
    c.text = text;
    c.text_len = strlen(text);
    return run(s, c, r);
}

/* LOOKUP name n [PERIOD period] (yearly; 0: the current period): the state. */
static uint8_t state_in(seq_state *s, const char *name, int64_t n, int64_t period)
{
    seq_cmd c = cmd_of(SEQ_OP_LOOKUP, name);
    c.min = n;
    c.has_period = period != 0;
    c.period_kind = period != 0 ? PERIOD_YEARLY : 0;
    c.period = period;
    seq_result r;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    uint8_t state = r.state;
    seq_result_free(&r);
    return state;
}

static void tick(seq_state *s, int64_t ms)
{
    seq_stamp st = {ms, ms, 1, 400 * 24 * H, 1000}; /* keys kept 400 days */
    seq_stamp_entry(s, &st);
}

static void test_formats_and_parse(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    tick(s, 1000);
    assert_int_equal(create_doc(s, "pol", 202043200000000LL, 202043210000000LL,
                                "POL-A-{n}-{check:luhn}", "batch-7", 0, 0, SEQ_MODE_STRICT),
                     SEQ_OK);
    /* the same CREATE again is a retry; another format is another definition */
    assert_int_equal(create_doc(s, "pol", 202043200000000LL, 202043210000000LL,
                                "POL-A-{n}-{check:luhn}", "batch-7", 0, 0, SEQ_MODE_STRICT),
                     SEQ_OK);
    assert_int_equal(create_doc(s, "pol", 202043200000000LL, 202043210000000LL,
                                "POL-B-{n}-{check:luhn}", "batch-7", 0, 0, SEQ_MODE_STRICT),
                     SEQ_ERR_EXISTS);
    int64_t n;
    const char *t = next_text(s, "pol", &n, NULL);
    assert_string_equal(t, "POL-A-202043200000000-7");
    t = next_text(s, "pol", &n, NULL);
    assert_string_equal(t, "POL-A-202043200000001-5");
    seq_result r;
    assert_int_equal(parse(s, "pol", "POL-A-202043200000001-5", &r), SEQ_OK);
    assert_int_equal(r.number, 202043200000001LL);
    assert_int_equal(r.state, SEQ_NUM_FINAL);
    seq_result_free(&r);
    assert_int_equal(parse(s, "pol", "POL-A-202043200000001-4", &r), SEQ_ERR_BAD_CHECK);
    seq_result_free(&r);
    /* a transposition of two digits of the number: caught too */
    assert_int_equal(parse(s, "pol", "POL-A-202043200000010-5", &r), SEQ_ERR_BAD_CHECK);
    seq_result_free(&r);
    assert_int_equal(parse(s, "pol", "POL-B-202043200000001-5", &r), SEQ_ERR_NOT_FORMAT);
    seq_result_free(&r);
    assert_int_equal(parse(s, "pol", "POL-A-17-4", &r), SEQ_ERR_OUTSIDE);
    seq_result_free(&r);
    /* a number in range, not issued yet: valid, and not issued */
    char unissued[40];
    snprintf(unissued, sizeof(unissued), "POL-A-202043200000009-%d",
             check_compute(CHECK_LUHN, "202043200000009", 15));
    assert_int_equal(parse(s, "pol", unissued, &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_NOT_ISSUED);
    seq_result_free(&r);
    /* RENDER: issued numbers only */
    seq_cmd c = cmd_of(SEQ_OP_RENDER, "pol");
    c.min = 202043200000000LL;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_string_equal(r.text, "POL-A-202043200000000-7");
    seq_result_free(&r);
    c.min = 202043200000005LL;
    assert_int_equal(run(s, c, NULL), SEQ_ERR_NOTISSUED);
    /* SETFORMAT: issued numbers keep the format they were printed by */
    c = cmd_of(SEQ_OP_SETFORMAT, "pol");
    c.format = "{label}/{n}{check:damm}";
    c.format_len = strlen(c.format);
    assert_int_equal(run(s, c, NULL), SEQ_OK);
    t = next_text(s, "pol", &n, NULL);
    assert_int_equal(n, 202043200000002LL);
    char want[64];
    snprintf(want, sizeof(want), "batch-7/202043200000002%d", 0);
    /* Damm's digit, from the check module */
    assert_int_equal(strncmp(t, "batch-7/202043200000002", 23), 0);
    assert_int_equal(strlen(t), 24);
    assert_int_equal(parse(s, "pol", t, &r), SEQ_OK);
    assert_int_equal(r.number, 202043200000002LL);
    seq_result_free(&r);
    assert_int_equal(parse(s, "pol", "POL-A-202043200000001-5", &r), SEQ_OK);
    seq_result_free(&r);
    /* the old format does not print numbers issued after the change */
    assert_int_equal(parse(s, "pol", "POL-A-202043200000002-3", &r), SEQ_ERR_NOT_FORMAT);
    seq_result_free(&r);
    c = cmd_of(SEQ_OP_RENDER, "pol");
    c.min = 202043200000001LL;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_string_equal(r.text, "POL-A-202043200000001-5");
    seq_result_free(&r);
    /* bad formats and labels are refused by the core too */
    c = cmd_of(SEQ_OP_SETFORMAT, "pol");
    c.format = "{n}{period}";
    c.format_len = strlen(c.format);
    assert_int_equal(run(s, c, NULL), SEQ_ERR_FORMAT);
    assert_int_equal(create_doc(s, "x", 1, 9, "{nope}", NULL, 0, 0, 0), SEQ_ERR_FORMAT);
    assert_int_equal(create_doc(s, "x", 1, 9, NULL, "bad\x01", 0, 0, 0), SEQ_ERR_LABEL);
    assert_int_equal(create_doc(s, "x", 1, 9, NULL, NULL, PERIOD_YEARLY, 0, SEQ_MODE_CACHED),
                     SEQ_ERR_MODE);
    assert_int_equal(create_doc(s, "x", 1, 9, NULL, NULL, PERIOD_YEARLY, 15 * 60, 0),
                     SEQ_ERR_PERIOD);
    /* NEXT ... TEXT has its own, lower cap */
    c = cmd_of(SEQ_OP_NEXT, "pol");
    c.count = SEQ_TEXT_COUNT_MAX + 1;
    c.text_reply = true;
    assert_int_equal(run(s, c, NULL), SEQ_ERR_COUNT);
    seq_state_free(s);
}

/* Labels per range, {label} printed and checked by PARSE. */
static void test_labels(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    tick(s, 1000);
    assert_int_equal(create_doc(s, "f", 1, 2, "CAF{label}-{n}", "A1", 0, 0, 0), SEQ_OK);
    seq_cmd c = cmd_of(SEQ_OP_ADDRANGE, "f");
    c.min = 100;
    c.max = 200;
    c.label = "B22";
    c.label_len = 3;
    assert_int_equal(run(s, c, NULL), SEQ_OK);
    assert_string_equal(next_text(s, "f", NULL, NULL), "CAFA1-1");
    assert_string_equal(next_text(s, "f", NULL, NULL), "CAFA1-2");
    assert_string_equal(next_text(s, "f", NULL, NULL), "CAFB22-100");
    seq_result r;
    assert_int_equal(parse(s, "f", "CAFB22-100", &r), SEQ_OK);
    assert_int_equal(r.number, 100);
    seq_result_free(&r);
    /* the label of another range is not how 100 prints */
    assert_int_equal(parse(s, "f", "CAFA1-100", &r), SEQ_ERR_NOT_FORMAT);
    seq_result_free(&r);
    c = cmd_of(SEQ_OP_DESCRIBE, "f");
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_string_equal(r.ranges[0].label, "A1");
    assert_string_equal(r.ranges[1].label, "B22");
    assert_string_equal(r.format, "CAF{label}-{n}");
    seq_result_free(&r);
    seq_state_free(s);
}

/* mod11:skip: the numbers without a check digit are never issued. */
static void test_mod11_skip(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    tick(s, 1000);
    assert_int_equal(create_doc(s, "m", 1, 1000, "{n}{check:mod11:skip}", NULL, 0, 0, 0), SEQ_OK);
    seq_cmd c = cmd_of(SEQ_OP_NEXT, "m");
    c.count = 100;
    seq_result r;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    uint64_t got = 0;
    int64_t last = 0;
    for (size_t k = 0; k < r.n_runs; k++) {
        for (int64_t v = r.runs[k].first; v <= r.runs[k].last; v++) {
            char d[24];
            int len = snprintf(d, sizeof(d), "%" PRId64, v);
            assert_int_not_equal(check_compute(CHECK_MOD11, d, (size_t)len), 10);
            got++;
            last = v;
        }
    }
    assert_int_equal(got, 100);
    seq_result_free(&r);
    /* the passed-over numbers: GAPS lists them as skipped, LOOKUP says so,
     * VOID refuses them */
    c = cmd_of(SEQ_OP_GAPS, "m");
    c.min = INT64_MIN;
    c.max = INT64_MAX;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    size_t skipped = r.n_ledger;
    assert_int_equal(skipped, (size_t)(last - 100));
    int64_t one = r.ledger[0].first;
    assert_int_equal(r.ledger[0].state, SEQ_NUM_SKIPPED);
    seq_result_free(&r);
    c = cmd_of(SEQ_OP_LOOKUP, "m");
    c.min = one;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_SKIPPED);
    seq_result_free(&r);
    c = cmd_of(SEQ_OP_VOID, "m");
    c.min = one;
    c.text = "x";
    c.text_len = 1;
    assert_int_equal(run(s, c, NULL), SEQ_ERR_NOTISSUED);
    c = cmd_of(SEQ_OP_RENDER, "m");
    c.min = one;
    assert_int_equal(run(s, c, NULL), SEQ_ERR_SKIPPED);
    seq_state_free(s);
}

/* ---- periods ----------------------------------------------------------- */

static int64_t next_period(seq_state *s, const char *name, int64_t *period)
{
    seq_cmd c = cmd_of(SEQ_OP_NEXT, name);
    c.count = 1;
    seq_result r;
    int rv = run(s, c, &r);
    assert_int_equal(rv, SEQ_OK);
    int64_t v = r.runs[0].first;
    assert_true(r.has_period);
    *period = r.period;
    seq_result_free(&r);
    return v;
}

static void test_yearly_boundary(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    int64_t boundary = NEW_YEAR_2027_AT_PLUS1;
    tick(s, boundary - 10 * H);
    assert_int_equal(create_doc(s, "inv", 1, 999999, "{period}/{n:6}", NULL, PERIOD_YEARLY, 60,
                                SEQ_MODE_STRICT),
                     SEQ_OK);
    int64_t p;
    assert_int_equal(next_period(s, "inv", &p), 1);
    assert_int_equal(p, 2026);
    /* a key used before the boundary */
    int64_t keyed;
    const char *t = next_text(s, "inv", &keyed, "order-1");
    assert_string_equal(t, "2026/000002");
    tick(s, boundary - 1); /* 23:59:59.999 on 31 December at +01:00 */
    assert_int_equal(next_period(s, "inv", &p), 3);
    assert_int_equal(p, 2026);
    tick(s, boundary);
    assert_int_equal(next_period(s, "inv", &p), 1);
    assert_int_equal(p, 2027);
    assert_string_equal(next_text(s, "inv", NULL, NULL), "2027/000002");
    /* the retry of the key: the same number, in its own year */
    seq_cmd c = cmd_of(SEQ_OP_NEXT, "inv");
    c.count = 1;
    c.key = "order-1";
    c.key_len = 7;
    c.text_reply = true;
    seq_result r;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_true(r.replayed);
    assert_int_equal(r.runs[0].first, 2);
    assert_int_equal(r.period, 2026);
    assert_string_equal(r.texts[0], "2026/000002");
    seq_result_free(&r);
    /* the auditor's view of last year */
    c = cmd_of(SEQ_OP_DESCRIBE, "inv");
    c.has_period = true;
    c.period_kind = PERIOD_YEARLY;
    c.period = 2026;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.issued, 3);
    assert_int_equal(r.period, 2026);
    seq_result_free(&r);
    c.period = 2028;
    assert_int_equal(run(s, c, NULL), SEQ_ERR_PERIOD);
    /* a document number of 2028, in 2027: well formed, not issued, nothing known */
    assert_int_equal(parse(s, "inv", "2028/000001", &r), SEQ_OK);
    assert_int_equal(r.period, 2028);
    assert_int_equal(r.state, SEQ_NUM_NOT_ISSUED);
    assert_int_equal(r.time_ms, INT64_MIN);
    seq_result_free(&r);
    c.period = 2026;
    c.period_kind = PERIOD_MONTHLY;
    assert_int_equal(run(s, c, NULL), SEQ_ERR_PERIOD);
    c = cmd_of(SEQ_OP_DESCRIBE, "inv");
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.issued, 2);
    assert_int_equal(r.n_closed, 1);
    seq_result_free(&r);
    /* PARSE knows both years */
    assert_int_equal(parse(s, "inv", "2026/000003", &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_FINAL);
    assert_int_equal(r.period, 2026);
    seq_result_free(&r);
    assert_int_equal(parse(s, "inv", "2027/000003", &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_NOT_ISSUED);
    seq_result_free(&r);
    /* a leader whose clock is a year behind issues in the current year */
    tick(s, boundary - 200 * 24 * H);
    assert_int_equal(next_period(s, "inv", &p), 3);
    assert_int_equal(p, 2027);
    /* VOID and LOOKUP in an old year */
    c = cmd_of(SEQ_OP_LOOKUP, "inv");
    c.min = 3;
    c.has_period = true;
    c.period_kind = PERIOD_YEARLY;
    c.period = 2026;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_FINAL);
    assert_int_equal(r.period, 2026);
    seq_result_free(&r);
    c.min = 4;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_NOT_ISSUED);
    seq_result_free(&r);
    seq_state_free(s);
}

static void test_reservation_across_boundary(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    int64_t boundary = period_start_ms(2026 * 12 + 3, PERIOD_MONTHLY, -300); /* April at -05:00 */
    tick(s, boundary - 1000);
    assert_int_equal(create_doc(s, "g", 1, 100, "{period}-{n}", NULL, PERIOD_MONTHLY, -300,
                                SEQ_MODE_GAPLESS),
                     SEQ_OK);
    seq_cmd c = cmd_of(SEQ_OP_RESERVE, "g");
    c.key = "cart-9";
    c.key_len = 6;
    seq_result r;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.runs[0].first, 1);
    assert_int_equal(r.period, 2026 * 12 + 2); /* March */
    seq_result_free(&r);
    tick(s, boundary + 1000);
    int64_t p;
    assert_int_equal(next_period(s, "g", &p), 1);
    assert_int_equal(p, 2026 * 12 + 3);
    /* CONFIRM 1 now means April's 1, which is final already */
    c = cmd_of(SEQ_OP_CONFIRM, "g");
    c.min = 1;
    assert_int_equal(run(s, c, NULL), SEQ_OK);
    /* March's reservation, confirmed in April: it keeps its number and month */
    c.has_period = true;
    c.period_kind = PERIOD_MONTHLY;
    c.period = 2026 * 12 + 2;
    assert_int_equal(run(s, c, NULL), SEQ_OK);
    c = cmd_of(SEQ_OP_LOOKUP, "g");
    c.min = 1;
    c.has_period = true;
    c.period_kind = PERIOD_MONTHLY;
    c.period = 2026 * 12 + 2;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_FINAL);
    seq_result_free(&r);
    /* the cart's retry is answered with March's number */
    c = cmd_of(SEQ_OP_RESERVE, "g");
    c.key = "cart-9";
    c.key_len = 6;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_true(r.replayed);
    assert_int_equal(r.runs[0].first, 1);
    assert_int_equal(r.period, 2026 * 12 + 2);
    seq_result_free(&r);
    assert_int_equal(parse(s, "g", "2026-03-1", &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_FINAL);
    seq_result_free(&r);
    seq_state_free(s);
}

/* A reply lost after the boundary is reported with its period: only that
 * period's number goes back; a report without a period changes nothing. */
static void test_undelivered_names_its_period(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    int64_t y2027 = period_start_ms(2027, PERIOD_YEARLY, 0);
    tick(s, y2027 - 5000);
    assert_int_equal(create_doc(s, "g", 1, 100, NULL, NULL, PERIOD_YEARLY, 0, SEQ_MODE_GAPLESS),
                     SEQ_OK);
    int64_t p;
    assert_int_equal(next_period(s, "g", &p), 1);
    assert_int_equal(next_period(s, "g", &p), 2);
    tick(s, y2027 + 5000);
    assert_int_equal(next_period(s, "g", &p), 1);
    assert_int_equal(p, 2027);
    seq_cmd u = cmd_of(SEQ_OP_UNDELIVERED, "g");
    u.min = 2;
    u.max = 2;
    u.count = 1; /* trusted: this process applied it */
    u.text = "reply undelivered: the client disconnected";
    u.text_len = strlen(u.text);
    assert_int_equal(run(s, u, NULL), SEQ_OK); /* no period: nothing changes */
    seq_cmd look = cmd_of(SEQ_OP_LOOKUP, "g");
    look.min = 2;
    look.has_period = true;
    look.period_kind = PERIOD_YEARLY;
    look.period = 2026;
    seq_result r;
    assert_int_equal(run(s, look, &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_FINAL);
    seq_result_free(&r);
    u.has_period = true;
    u.period_kind = PERIOD_YEARLY;
    u.period = 2026;
    assert_int_equal(run(s, u, NULL), SEQ_OK);
    assert_int_equal(run(s, look, &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_RELEASED); /* 2026's 2, which no client got */
    seq_result_free(&r);
    /* 2027 is untouched, and 2026's released number is not issued in 2027 */
    assert_int_equal(next_period(s, "g", &p), 2);
    assert_int_equal(p, 2027);
    u.period = 2027;
    u.min = u.max = 1;
    assert_int_equal(run(s, u, NULL), SEQ_OK);
    assert_int_equal(next_period(s, "g", &p), 1); /* released in 2027: issued again first */
    assert_int_equal(p, 2027);
    seq_state_free(s);
}

/* What a review found, each once a way to break a promise. */
static void test_review_findings(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    int64_t y2027 = period_start_ms(2027, PERIOD_YEARLY, 0);
    tick(s, y2027 - 400 * 24 * H);
    /* 1. a once yearly name comes back yearly (same TZ) or not at all: a
     * monthly series in between would lose the burned numbers of its year */
    assert_int_equal(create_doc(s, "y", 1, 100, NULL, NULL, PERIOD_YEARLY, 0, 0), SEQ_OK);
    int64_t p;
    assert_int_equal(next_period(s, "y", &p), 1);
    assert_int_equal(run(s, cmd_of(SEQ_OP_DROP, "y"), NULL), SEQ_OK);
    assert_int_equal(create_doc(s, "y", 1, 100, NULL, NULL, PERIOD_MONTHLY, 0, 0), SEQ_ERR_PERIOD_FIXED);
    assert_int_equal(create_doc(s, "y", 1, 100, NULL, NULL, 0, 0, 0), SEQ_ERR_PERIOD_FIXED);
    assert_int_equal(create_doc(s, "y", 1, 100, NULL, NULL, PERIOD_YEARLY, 60, 0), SEQ_ERR_PERIOD_FIXED);
    assert_int_equal(create_doc(s, "y", 1, 100, NULL, NULL, PERIOD_YEARLY, 0, 0), SEQ_OK);
    assert_int_equal(next_period(s, "y", &p), 2); /* 1 stays burned in its year */
    /* 2. a KEY of last year does not hold this year's same number */
    assert_int_equal(create_doc(s, "g", 1, 100, NULL, NULL, PERIOD_YEARLY, 0, SEQ_MODE_GAPLESS), SEQ_OK);
    seq_cmd c = cmd_of(SEQ_OP_RESERVE, "g");
    c.key = "ka";
    c.key_len = 2;
    seq_result r;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.runs[0].first, 1);
    seq_result_free(&r);
    tick(s, y2027 + 1000);
    c.key = "kb";
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.runs[0].first, 1);
    assert_int_equal(r.period, 2027);
    seq_result_free(&r);
    seq_cmd rel = cmd_of(SEQ_OP_RELEASE, "g");
    rel.min = 1;
    rel.key = "ka";
    rel.key_len = 2;
    assert_int_equal(run(s, rel, NULL), SEQ_ERR_KEY_MISMATCH);
    rel.has_period = true;
    rel.period_kind = PERIOD_YEARLY;
    rel.period = 2025; /* the clock stood in 2025 then */
    assert_int_equal(run(s, rel, NULL), SEQ_OK); /* in its own year */
    seq_cmd conf = cmd_of(SEQ_OP_CONFIRM, "g");
    conf.min = 1;
    conf.key = "kb";
    conf.key_len = 2;
    assert_int_equal(run(s, conf, NULL), SEQ_OK);
    seq_state_free(s);

    /* 3a. a range added after a SETFORMAT prints by the new format */
    s = seq_state_new();
    tick(s, 1000);
    assert_int_equal(create_doc(s, "a", 1, 1, "{n}{check:mod11:skip}", NULL, 0, 0, 0), SEQ_OK);
    assert_non_null(next_text(s, "a", NULL, NULL));
    seq_cmd f = cmd_of(SEQ_OP_SETFORMAT, "a");
    f.format = "{n}";
    f.format_len = 3;
    assert_int_equal(run(s, f, NULL), SEQ_OK);
    seq_cmd add = cmd_of(SEQ_OP_ADDRANGE, "a");
    add.min = 10;
    add.max = 100;
    assert_int_equal(run(s, add, NULL), SEQ_OK);
    for (int64_t v = 10; v < 30; v++) {
        char want[24];
        snprintf(want, sizeof(want), "%" PRId64, v);
        assert_string_equal(next_text(s, "a", NULL, NULL), want); /* 23 was skipped once */
    }
    /* 3b. numbers a later range issued while the first stood still keep
     * the format they were printed by */
    assert_int_equal(create_doc(s, "w", 1, 100, NULL, NULL, 0, 0, SEQ_MODE_GAPLESS), SEQ_OK);
    seq_cmd win = cmd_of(SEQ_OP_CREATE, "w2");
    win.min = 1;
    win.max = 100;
    win.mode = SEQ_MODE_GAPLESS;
    win.has_not_after = true;
    win.not_after = 2000;
    assert_int_equal(run(s, win, NULL), SEQ_OK);
    add = cmd_of(SEQ_OP_ADDRANGE, "w2");
    add.min = 1000;
    add.max = 2000;
    assert_int_equal(run(s, add, NULL), SEQ_OK);
    tick(s, 3000); /* the first range expired, unused */
    seq_cmd nx = cmd_of(SEQ_OP_NEXT, "w2");
    nx.count = 9;
    assert_int_equal(run(s, nx, &r), SEQ_OK);
    assert_int_equal(r.runs[0].first, 1000);
    seq_result_free(&r);
    f = cmd_of(SEQ_OP_SETFORMAT, "w2");
    f.format = "X-{n}";
    f.format_len = 5;
    assert_int_equal(run(s, f, NULL), SEQ_OK);
    seq_cmd ren = cmd_of(SEQ_OP_RENDER, "w2");
    ren.min = 1001;
    assert_int_equal(run(s, ren, &r), SEQ_OK);
    assert_string_equal(r.text, "1001");
    seq_result_free(&r);
    assert_string_equal(next_text(s, "w2", NULL, NULL), "X-1009");
    /* 4. a range that ends in a skipped number is used up */
    assert_int_equal(create_doc(s, "e", 1, 6, "{n}{check:mod11:skip}", NULL, 0, 0, 0), SEQ_OK);
    add = cmd_of(SEQ_OP_ADDRANGE, "e");
    add.min = 10;
    add.max = 20;
    assert_int_equal(run(s, add, NULL), SEQ_OK);
    nx = cmd_of(SEQ_OP_NEXT, "e");
    nx.count = 5;
    assert_int_equal(run(s, nx, NULL), SEQ_OK); /* 1..5; 6 has no check digit */
    int64_t n;
    next_text(s, "e", &n, NULL);
    assert_int_equal(n, 10);
    seq_cmd d = cmd_of(SEQ_OP_DESCRIBE, "e");
    assert_int_equal(run(s, d, &r), SEQ_OK);
    assert_int_equal(r.remaining, 10); /* 11..20; nothing left in the first range */
    seq_result_free(&r);
    /* 5. GAPS walks only what a skipping format printed */
    assert_int_equal(create_doc(s, "big", 1, 1000000000000LL, NULL, NULL, 0, 0, 0), SEQ_OK);
    nx = cmd_of(SEQ_OP_NEXT, "big");
    nx.count = SEQ_COUNT_MAX;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(run(s, nx, NULL), SEQ_OK);
    }
    f = cmd_of(SEQ_OP_SETFORMAT, "big");
    f.format = "{n}{check:mod11:skip}";
    f.format_len = strlen(f.format);
    assert_int_equal(run(s, f, NULL), SEQ_OK);
    nx.count = 30;
    assert_int_equal(run(s, nx, NULL), SEQ_OK);
    seq_cmd g = cmd_of(SEQ_OP_GAPS, "big");
    g.min = INT64_MIN;
    g.max = INT64_MAX;
    assert_int_equal(run(s, g, &r), SEQ_OK);
    assert_true(r.n_ledger >= 1 && r.n_ledger <= 5);
    for (size_t i = 0; i < r.n_ledger; i++) {
        assert_true(r.ledger[i].first > 3 * (int64_t)SEQ_COUNT_MAX);
        assert_int_equal(r.ledger[i].state, SEQ_NUM_SKIPPED);
    }
    seq_result_free(&r);
    seq_state_free(s);
}

/* A leader whose clock runs a year ahead closes the year early, for good:
 * when the right clock is back, numbering goes on in the later year and no
 * number of either year comes twice. */
static void test_clock_ahead_closes_early(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    int64_t y2027 = period_start_ms(2027, PERIOD_YEARLY, 0);
    tick(s, y2027 - 50 * 24 * H);
    assert_int_equal(create_doc(s, "c", 1, 100, NULL, NULL, PERIOD_YEARLY, 0, SEQ_MODE_GAPLESS),
                     SEQ_OK);
    int64_t p;
    assert_int_equal(next_period(s, "c", &p), 1);
    seq_stamp ahead = {y2027 + 300 * 24 * H, y2027, 7, 0, 1000}; /* another leader, clock ahead */
    seq_stamp_entry(s, &ahead);
    assert_int_equal(next_period(s, "c", &p), 1);
    assert_int_equal(p, 2027);
    seq_stamp right = {y2027 - 49 * 24 * H, y2027 + 1000, 8, 0, 1000}; /* the right clock again */
    seq_stamp_entry(s, &right);
    assert_int_equal(next_period(s, "c", &p), 2);
    assert_int_equal(p, 2027);
    seq_cmd d = cmd_of(SEQ_OP_DESCRIBE, "c");
    d.has_period = true;
    d.period_kind = PERIOD_YEARLY;
    d.period = 2026;
    seq_result r;
    assert_int_equal(run(s, d, &r), SEQ_OK);
    assert_int_equal(r.issued, 1); /* 2026 kept its one number */
    seq_result_free(&r);
    seq_state_free(s);
}

/* A backup of 2026 restored in 2027: the restore skips the advance in both
 * years, and the state numbers 2027 past what the lost cluster may have
 * issued there. */
static void test_restore_in_a_later_period(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    int64_t y2027 = period_start_ms(2027, PERIOD_YEARLY, 0);
    tick(s, y2027 - 5000);
    assert_int_equal(create_doc(s, "r", 1, 1000, NULL, NULL, PERIOD_YEARLY, 0, 0), SEQ_OK);
    int64_t p;
    for (int i = 0; i < 5; i++) {
        next_period(s, "r", &p);
    }
    uint64_t skipped = 0;
    assert_int_equal(seq_restore_advance(s, "r", 1, 10, "restored", y2027 + 3600000, &skipped),
                     SEQ_OK);
    assert_int_equal(skipped, 20); /* 6..15 of 2026 and 1..10 of 2027 */
    assert_int_equal(next_period(s, "r", &p), 11);
    assert_int_equal(p, 2027);
    seq_cmd look = cmd_of(SEQ_OP_LOOKUP, "r");
    look.min = 7;
    look.has_period = true;
    look.period_kind = PERIOD_YEARLY;
    look.period = 2026;
    seq_result r;
    assert_int_equal(run(s, look, &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_SKIPPED);
    seq_result_free(&r);
    /* the same period: one advance */
    assert_int_equal(seq_restore_advance(s, "r", 1, 10, "again", y2027 + 7200000, &skipped), SEQ_OK);
    assert_int_equal(skipped, 10);
    seq_state_free(s);
}

/* The test's own MOD 11 (weights 2..7 from the right): whether n has no
 * check digit (remainder 10), so a {check:mod11:skip} format skips it. */
static bool mod11_has_no_digit(int64_t n)
{
    int sum = 0, w = 2;
    for (int64_t v = n; v > 0; v /= 10) {
        sum += (int)(v % 10) * w;
        w = w == 7 ? 2 : w + 1;
    }
    return (11 - sum % 11) % 11 == 10;
}

/* NEXT name COUNT count: the last number it gave. */
static int64_t next_last(seq_state *s, const char *name, uint32_t count)
{
    seq_cmd c = cmd_of(SEQ_OP_NEXT, name);
    c.count = count;
    seq_result r;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    int64_t last = r.runs[r.n_runs - 1].last;
    seq_result_free(&r);
    return last;
}

/* Every row of GAPS name from..to, page by page as a client pages (from
 * the last row + 1): the skipped numbers in *got (ascending, at most cap);
 * each page ascending, and only skipped or voided rows expected here. */
static size_t gaps_all_skipped(seq_state *s, const char *name, int64_t from, int64_t to,
                               int64_t *got, size_t cap, int64_t *voided)
{
    size_t n = 0;
    int64_t last = INT64_MIN;
    for (int64_t at = from; at <= to;) {
        seq_cmd c = cmd_of(SEQ_OP_GAPS, name);
        c.min = at;
        c.max = to;
        seq_result r;
        assert_int_equal(run(s, c, &r), SEQ_OK);
        if (r.n_ledger == 0) {
            assert_false(r.more); /* an empty page is the last one */
            seq_result_free(&r);
            break;
        }
        for (size_t i = 0; i < r.n_ledger; i++) {
            assert_true(r.ledger[i].first > last);
            last = r.ledger[i].last;
            if (r.ledger[i].state == SEQ_NUM_VOIDED) {
                *voided = r.ledger[i].first;
                continue;
            }
            assert_int_equal(r.ledger[i].state, SEQ_NUM_SKIPPED);
            assert_int_equal(r.ledger[i].first, r.ledger[i].last);
            assert_true(n < cap);
            got[n++] = r.ledger[i].first;
        }
        seq_result_free(&r);
        at = last + 1;
    }
    return n;
}

/* GAPS lists the skipped numbers from the bottom whatever the order of the
 * ranges, and pages through them all; burned history (a DROP) and ledger
 * rows above them hide none of them. Checked against the test's own MOD 11
 * over every number the sequence issued. */
static void test_gaps_pages_through_skipped_numbers(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    tick(s, 1000);
    const char *fmt = "{n}{check:mod11:skip}";
    /* the later range first: NEXT uses 1000000.. before 1.. */
    assert_int_equal(create_doc(s, "o", 1000000, 1199999, fmt, NULL, 0, 0, 0), SEQ_OK);
    seq_cmd a = cmd_of(SEQ_OP_ADDRANGE, "o");
    a.min = 1;
    a.max = 199999;
    assert_int_equal(run(s, a, NULL), SEQ_OK);
    int64_t cursor = next_last(s, "o", 300000); /* into the second range */
    assert_true(cursor > 1 && cursor < 199999);
    size_t cap = 40000, want_n = 0;
    int64_t *want = malloc(sizeof(*want) * cap), *got = malloc(sizeof(*got) * cap);
    for (int64_t v = 1; v < cursor; v++) {
        if (mod11_has_no_digit(v)) {
            want[want_n++] = v;
        }
    }
    for (int64_t v = 1000000; v <= 1199999; v++) {
        if (mod11_has_no_digit(v)) {
            want[want_n++] = v;
        }
    }
    assert_true(want_n > 2 * SEQ_GAPS_MAX); /* three pages at least */
    int64_t voided = 0;
    size_t got_n = gaps_all_skipped(s, "o", INT64_MIN, INT64_MAX, got, cap, &voided);
    assert_int_equal(got_n, want_n);
    assert_memory_equal(got, want, sizeof(*got) * want_n);
    /* a DROP burns 2.2 million numbers below a new incarnation, which
     * voids one number above its skipped ones */
    assert_int_equal(create_doc(s, "d", 1, 3000000, fmt, NULL, 0, 0, 0), SEQ_OK);
    next_last(s, "d", 1000000);
    next_last(s, "d", 1000000);
    int64_t old_last = next_last(s, "d", 200000);
    assert_int_equal(run(s, cmd_of(SEQ_OP_DROP, "d"), NULL), SEQ_OK);
    assert_int_equal(create_doc(s, "d", 1, 3000000, fmt, NULL, 0, 0, 0), SEQ_OK);
    int64_t top = next_last(s, "d", 30000);
    assert_true(top > old_last + 30000);
    seq_cmd v = cmd_of(SEQ_OP_VOID, "d");
    v.min = top;
    v.text = "spoiled";
    v.text_len = 7;
    assert_int_equal(run(s, v, NULL), SEQ_OK);
    want_n = 0;
    for (int64_t x = old_last + 1; x < top; x++) {
        if (mod11_has_no_digit(x)) {
            want[want_n++] = x;
        }
    }
    got_n = gaps_all_skipped(s, "d", INT64_MIN, INT64_MAX, got, cap, &voided);
    assert_int_equal(voided, top);
    assert_int_equal(got_n, want_n);
    assert_memory_equal(got, want, sizeof(*got) * want_n);
    free(want);
    free(got);
    seq_state_free(s);
}

/* A range whose last number has no check digit (mod11 of 6 is 10): the
 * cursor passes it with the number before it, so it is listed skipped and
 * counted as left by nothing; EXHAUSTED says how many can be issued. */
static void test_a_range_ending_in_a_skipped_number(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    tick(s, 1000);
    assert_true(mod11_has_no_digit(6));
    for (int k = 1; k <= 5; k++) {
        assert_false(mod11_has_no_digit(k));
    }
    assert_int_equal(create_doc(s, "sk", 1, 6, "{n}{check:mod11:skip}", NULL, 0, 0, 0), SEQ_OK);
    seq_cmd nx = cmd_of(SEQ_OP_NEXT, "sk");
    nx.count = 6;
    seq_result r;
    assert_int_equal(run(s, nx, &r), SEQ_ERR_EXHAUSTED);
    assert_int_equal(r.remaining, 5); /* not 6: one of them has no document number */
    seq_result_free(&r);
    assert_int_equal(next_last(s, "sk", 5), 5);
    assert_int_equal(state_in(s, "sk", 6, 0), SEQ_NUM_SKIPPED);
    int64_t got[4], voided = 0;
    assert_int_equal(gaps_all_skipped(s, "sk", INT64_MIN, INT64_MAX, got, 4, &voided), 1);
    assert_int_equal(got[0], 6);
    assert_int_equal(run(s, cmd_of(SEQ_OP_DESCRIBE, "sk"), &r), SEQ_OK);
    assert_int_equal(r.remaining, 0);
    seq_result_free(&r);
    nx.count = 1;
    assert_int_equal(run(s, nx, &r), SEQ_ERR_EXHAUSTED);
    assert_int_equal(r.remaining, 0);
    seq_result_free(&r);
    /* a range added later goes on */
    seq_cmd a = cmd_of(SEQ_OP_ADDRANGE, "sk");
    a.min = 7;
    a.max = 9;
    assert_int_equal(run(s, a, NULL), SEQ_OK);
    assert_int_equal(next_last(s, "sk", 1), 7);
    /* the same rest left by a format set later, and a range of nothing
     * but a skipped number: used up at the next command, listed skipped */
    assert_int_equal(create_doc(s, "late", 1, 6, NULL, NULL, 0, 0, 0), SEQ_OK);
    assert_int_equal(next_last(s, "late", 5), 5);
    seq_cmd f = cmd_of(SEQ_OP_SETFORMAT, "late");
    f.format = "{n}{check:mod11:skip}";
    f.format_len = strlen(f.format);
    assert_int_equal(run(s, f, NULL), SEQ_OK);
    assert_int_equal(run(s, cmd_of(SEQ_OP_DESCRIBE, "late"), &r), SEQ_OK);
    assert_int_equal(r.remaining, 0);
    seq_result_free(&r);
    assert_int_equal(state_in(s, "late", 6, 0), SEQ_NUM_SKIPPED);
    assert_int_equal(create_doc(s, "six", 6, 6, "{n}{check:mod11:skip}", NULL, 0, 0, 0), SEQ_OK);
    nx = cmd_of(SEQ_OP_NEXT, "six");
    nx.count = 1;
    assert_int_equal(run(s, nx, &r), SEQ_ERR_EXHAUSTED);
    assert_int_equal(r.remaining, 0);
    seq_result_free(&r);
    assert_int_equal(gaps_all_skipped(s, "six", INT64_MIN, INT64_MAX, got, 4, &voided), 1);
    assert_int_equal(got[0], 6);
    seq_state_free(s);
}

/* LOOKUP name <integer>: the number itself inside the ranges or without a
 * format; outside them, the printed form of a digits-only format (the
 * published Luhn vector); neither, LOOKUP's answer for the integer. */
static void test_lookup_reads_a_digits_only_document_number(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    tick(s, 1000);
    assert_int_equal(create_doc(s, "luhn", 7992739871, 7992739999, "{n}{check:luhn}", NULL, 0, 0, 0),
                     SEQ_OK);
    assert_int_equal(create_doc(s, "plain", 1, 100, NULL, NULL, 0, 0, 0), SEQ_OK);
    int64_t n;
    assert_string_equal(next_text(s, "luhn", &n, NULL), "79927398713");
    seq_cmd c = cmd_of(SEQ_OP_LOOKUP, "luhn");
    c.min = 79927398713;
    seq_result r;
    assert_int_equal(run(s, c, &r), SEQ_OK); /* outside the ranges: the printed form */
    assert_int_equal(r.number, 7992739871);
    assert_int_equal(r.state, SEQ_NUM_FINAL);
    assert_non_null(r.text);
    seq_result_free(&r);
    c.min = 7992739872; /* inside: the number itself, not issued yet */
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_NOT_ISSUED);
    assert_null(r.text);
    seq_result_free(&r);
    c.min = 79927398710; /* outside, a wrong check digit: LOOKUP's answer */
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_NOT_ISSUED);
    assert_null(r.text);
    seq_result_free(&r);
    assert_int_equal(parse(s, "luhn", "79927398710", &r), SEQ_ERR_BAD_CHECK); /* PARSE says why */
    seq_result_free(&r);
    seq_cmd p = cmd_of(SEQ_OP_LOOKUP, "plain"); /* no format: always the number */
    p.min = 500;
    assert_int_equal(run(s, p, &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_NOT_ISSUED);
    assert_null(r.text);
    seq_result_free(&r);
    seq_state_free(s);
}

/* A yearly series whose first range closes with 2026 and whose second
 * opens with 2027: a backup of 2026 restored in 2027 skips the advance in
 * each year from the range NEXT used then, not from the ranges valid at
 * the backup's moment (the lost cluster numbered 2027 from 1001 on). */
static void test_restore_follows_the_windows_into_a_later_period(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    int64_t y2027 = period_start_ms(2027, PERIOD_YEARLY, 0);
    tick(s, y2027 - 5000);
    seq_cmd c = cmd_of(SEQ_OP_CREATE, "w");
    c.min = 1;
    c.max = 1000;
    c.has_not_after = true;
    c.not_after = y2027 - 1;
    c.period_kind = PERIOD_YEARLY;
    assert_int_equal(run(s, c, NULL), SEQ_OK);
    seq_cmd a = cmd_of(SEQ_OP_ADDRANGE, "w");
    a.min = 1001;
    a.max = 2000;
    a.has_not_before = true;
    a.not_before = y2027;
    assert_int_equal(run(s, a, NULL), SEQ_OK);
    int64_t p;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(next_period(s, "w", &p), i + 1);
    }
    uint64_t skipped = 0;
    assert_int_equal(seq_restore_advance(s, "w", 1, 10, "restored", y2027 + 3600000, &skipped),
                     SEQ_OK);
    assert_int_equal(skipped, 20); /* 6..15 of 2026, 1001..1010 of 2027 */
    tick(s, y2027 + 3600000);
    assert_int_equal(next_period(s, "w", &p), 1011);
    assert_int_equal(p, 2027);
    assert_int_equal(state_in(s, "w", 1005, 0), SEQ_NUM_SKIPPED);
    assert_int_equal(state_in(s, "w", 15, 2026), SEQ_NUM_SKIPPED);
    /* past the advance: the range's unissued rest, closed with 2026 */
    assert_int_equal(state_in(s, "w", 16, 2026), SEQ_NUM_EXPIRED);
    seq_state_free(s);
}

/* DROP and CREATE again in the same period never reissue its numbers; in
 * a later period the name numbers anew. */
static void test_drop_recreate_periods(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    int64_t y2027 = period_start_ms(2027, PERIOD_YEARLY, 0);
    tick(s, y2027 - 5000);
    assert_int_equal(create_doc(s, "d", 1, 10, NULL, NULL, PERIOD_YEARLY, 0, 0), SEQ_OK);
    int64_t p;
    assert_int_equal(next_period(s, "d", &p), 1);
    assert_int_equal(next_period(s, "d", &p), 2);
    assert_int_equal(run(s, cmd_of(SEQ_OP_DROP, "d"), NULL), SEQ_OK);
    assert_int_equal(create_doc(s, "d", 1, 10, NULL, NULL, PERIOD_YEARLY, 0, 0), SEQ_OK);
    assert_int_equal(next_period(s, "d", &p), 3);
    assert_int_equal(p, 2026);
    assert_int_equal(run(s, cmd_of(SEQ_OP_DROP, "d"), NULL), SEQ_OK);
    /* a clock behind the tombstone's year still creates in 2026 */
    tick(s, y2027 - 400 * 24 * H);
    assert_int_equal(create_doc(s, "d", 1, 10, NULL, NULL, PERIOD_YEARLY, 0, 0), SEQ_OK);
    assert_int_equal(next_period(s, "d", &p), 4);
    assert_int_equal(p, 2026);
    assert_int_equal(run(s, cmd_of(SEQ_OP_DROP, "d"), NULL), SEQ_OK);
    tick(s, y2027 + 5000);
    assert_int_equal(create_doc(s, "d", 1, 10, NULL, NULL, PERIOD_YEARLY, 0, 0), SEQ_OK);
    assert_int_equal(next_period(s, "d", &p), 1);
    assert_int_equal(p, 2027);
    seq_state_free(s);
}

/* ---- snapshots and log entries ------------------------------------------ */

static seq_state *round_trip(seq_state *s)
{
    size_t len = 0;
    void *bytes = seq_snapshot_encode(s, &len);
    assert_non_null(bytes);
    seq_state *d = seq_snapshot_decode(bytes, len);
    assert_non_null(d);
    size_t len2 = 0;
    void *again = seq_snapshot_encode(d, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(again, bytes, len);
    /* every truncation is refused */
    for (size_t cut = 0; cut < len; cut += 1 + len / 500) {
        assert_null(seq_snapshot_decode(bytes, cut));
    }
    free(again);
    free(bytes);
    seq_state_free(s);
    return d;
}

static void test_snapshot_documents(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    int64_t y2027 = period_start_ms(2027, PERIOD_YEARLY, 60);
    tick(s, y2027 - 5000);
    assert_int_equal(create_doc(s, "inv", 1, 999, "{period}/{n:4}{check:mod11:skip}", "PT-ABCD",
                                PERIOD_YEARLY, 60, SEQ_MODE_GAPLESS),
                     SEQ_OK);
    int64_t p;
    for (int i = 0; i < 5; i++) {
        next_period(s, "inv", &p);
    }
    seq_cmd c = cmd_of(SEQ_OP_RESERVE, "inv");
    c.key = "k";
    c.key_len = 1;
    assert_int_equal(run(s, c, NULL), SEQ_OK);
    tick(s, y2027 + 5000);
    next_period(s, "inv", &p);
    assert_int_equal(p, 2027);
    c = cmd_of(SEQ_OP_SETFORMAT, "inv");
    c.format = "{period}-{n}";
    c.format_len = strlen(c.format);
    assert_int_equal(run(s, c, NULL), SEQ_OK);
    next_period(s, "inv", &p);
    s = round_trip(s);
    seq_result r;
    c = cmd_of(SEQ_OP_DESCRIBE, "inv");
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.n_closed, 1);
    assert_string_equal(r.format, "{period}-{n}");
    assert_string_equal(r.ranges[0].label, "PT-ABCD");
    assert_int_equal(r.issued, 2);
    seq_result_free(&r);
    c.has_period = true;
    c.period_kind = PERIOD_YEARLY;
    c.period = 2026;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_int_equal(r.issued, 6);
    seq_result_free(&r);
    /* the key of last year still answers its number; last year's texts parse */
    c = cmd_of(SEQ_OP_RESERVE, "inv");
    c.key = "k";
    c.key_len = 1;
    assert_int_equal(run(s, c, &r), SEQ_OK);
    assert_true(r.replayed);
    assert_int_equal(r.period, 2026);
    seq_result_free(&r);
    assert_int_equal(parse(s, "inv", "2027-2", &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_FINAL);
    seq_result_free(&r);
    seq_state_free(s);
}

static void test_codec_documents(void **state)
{
    (void)state;
    seq_cmd cmds[6];
    cmds[0] = cmd_of(SEQ_OP_CREATE, "inv");
    cmds[0].min = 1;
    cmds[0].max = 9;
    cmds[0].format = "{period}/{n}";
    cmds[0].format_len = 12;
    cmds[0].label = "L";
    cmds[0].label_len = 1;
    cmds[0].period_kind = PERIOD_MONTHLY;
    cmds[0].tz_minutes = -570;
    cmds[1] = cmd_of(SEQ_OP_ADDRANGE, "inv");
    cmds[1].min = 20;
    cmds[1].max = 30;
    cmds[1].label = "M2";
    cmds[1].label_len = 2;
    cmds[2] = cmd_of(SEQ_OP_NEXT, "inv");
    cmds[2].count = 3;
    cmds[2].text_reply = true;
    cmds[3] = cmd_of(SEQ_OP_GAPS, "inv");
    cmds[3].has_period = true;
    cmds[3].period_kind = PERIOD_MONTHLY;
    cmds[3].period = 24314;
    cmds[4] = cmd_of(SEQ_OP_PARSE, "inv");
    cmds[4].text = "2026-03/1";
    cmds[4].text_len = 9;
    cmds[5] = cmd_of(SEQ_OP_SETFORMAT, "inv");
    cmds[5].format = "{n}";
    cmds[5].format_len = 3;
    for (size_t i = 0; i < 6; i++) {
        uint8_t buf[512];
        seq_writer w = {buf, 0, sizeof(buf), false};
        codec_put_cmd(&w, &cmds[i]);
        assert_false(w.overflow);
        assert_int_equal(w.len, codec_cmd_size(&cmds[i]));
        seq_reader rd = {buf, w.len, 0, false};
        seq_cmd got;
        assert_int_equal(codec_get_cmd(&rd, &got), 0);
        assert_int_equal(rd.pos, w.len);
        assert_int_equal(got.op, cmds[i].op);
        assert_int_equal(got.format_len, cmds[i].format_len);
        assert_int_equal(got.label_len, cmds[i].label_len);
        assert_int_equal(got.period_kind, cmds[i].period_kind);
        assert_int_equal(got.tz_minutes, cmds[i].tz_minutes);
        assert_int_equal(got.has_period, cmds[i].has_period);
        assert_int_equal(got.period, cmds[i].period);
        assert_int_equal(got.text_reply, cmds[i].text_reply);
        assert_int_equal(got.text_len, cmds[i].text_len);
        /* every cut of it is refused */
        for (size_t cut = 0; cut < w.len; cut++) {
            seq_reader short_rd = {buf, cut, 0, false};
            assert_int_not_equal(codec_get_cmd(&short_rd, &got), 0);
        }
    }
}

/* ---- a seeded random-operation test against a model --------------------- */

#define MODEL_MAX 4096

typedef struct model {
    int64_t period[MODEL_MAX], number[MODEL_MAX];
    char text[MODEL_MAX][48];
    size_t n;
} model;

static bool model_has(const model *m, int64_t period, int64_t number)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->period[i] == period && m->number[i] == number) {
            return true;
        }
    }
    return false;
}

static void test_random_periods_against_model(void **state)
{
    (void)state;
    model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    for (int round = 0; round < 40; round++) {
        seq_state *s = seq_state_new();
        int tz = PERIOD_TZ_MIN + (int)(rnd() % (PERIOD_TZ_MAX - PERIOD_TZ_MIN + 1));
        uint8_t kind = rnd() % 2 == 0 ? PERIOD_YEARLY : PERIOD_MONTHLY;
        uint8_t mode = rnd() % 2 == 0 ? SEQ_MODE_STRICT : SEQ_MODE_GAPLESS;
        int64_t t = period_start_ms(kind == PERIOD_YEARLY ? 2026 : 2026 * 12 + 11, kind, tz) - 3000;
        tick(s, t);
        const char *fmts[] = {"{period}/{n:3}{check:luhn}", "{period}{n}{check:mod11:skip:all}",
                              "INV-{period}-{n}-{check:damm}"};
        assert_int_equal(create_doc(s, "r", 1, 60, fmts[rnd() % 3], NULL, kind, tz, mode), SEQ_OK);
        m->n = 0;
        for (int op = 0; op < 300 && m->n < MODEL_MAX; op++) {
            unsigned what = (unsigned)(rnd() % 10);
            if (what < 5) {
                seq_cmd c = cmd_of(SEQ_OP_NEXT, "r");
                c.count = 1 + (uint32_t)(rnd() % 3);
                c.text_reply = true;
                seq_result r;
                int rv = run(s, c, &r);
                if (rv == SEQ_OK) {
                    size_t k = 0;
                    for (size_t j = 0; j < r.n_runs; j++) {
                        for (int64_t v = r.runs[j].first; v <= r.runs[j].last; v++, k++) {
                            assert_true(v >= 1 && v <= 60);
                            if (model_has(m, r.period, v)) {
                                fail_msg("seed round %d: %" PRId64 " issued twice in %" PRId64, round,
                                         v, r.period);
                            }
                            m->period[m->n] = r.period;
                            m->number[m->n] = v;
                            snprintf(m->text[m->n], sizeof(m->text[0]), "%s", r.texts[k]);
                            m->n++;
                        }
                    }
                } else {
                    assert_int_equal(rv, SEQ_ERR_EXHAUSTED);
                }
                seq_result_free(&r);
            } else if (what < 7) {
                t += (int64_t)(rnd() % 3) * 1000; /* up to the boundary and past it */
                tick(s, t);
            } else if (what == 7) {
                tick(s, t - (int64_t)(rnd() % (400LL * 24 * H))); /* a clock behind */
                tick(s, t);
            } else if (what == 8 && m->n > 0) {
                size_t i = rnd() % m->n;
                seq_result r;
                assert_int_equal(parse(s, "r", m->text[i], &r), SEQ_OK);
                assert_int_equal(r.number, m->number[i]);
                assert_int_equal(r.period, m->period[i]);
                assert_int_equal(r.state, SEQ_NUM_FINAL);
                seq_result_free(&r);
            } else {
                s = round_trip(s);
            }
        }
        /* every issued text, at the end, still reads back */
        for (size_t i = 0; i < m->n; i++) {
            seq_result r;
            assert_int_equal(parse(s, "r", m->text[i], &r), SEQ_OK);
            assert_int_equal(r.number, m->number[i]);
            assert_int_equal(r.period, m->period[i]);
            seq_result_free(&r);
        }
        seq_state_free(s);
    }
    free(m);
}

int main(void)
{
    const char *env = getenv("SEQ_TEST_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("seed=%" PRIu64 "\n", seed);
    rng_state = seed * 2654435761u + 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats_and_parse),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_mod11_skip),
        cmocka_unit_test(test_yearly_boundary),
        cmocka_unit_test(test_reservation_across_boundary),
        cmocka_unit_test(test_drop_recreate_periods),
        cmocka_unit_test(test_undelivered_names_its_period),
        cmocka_unit_test(test_review_findings),
        cmocka_unit_test(test_restore_in_a_later_period),
        cmocka_unit_test(test_gaps_pages_through_skipped_numbers),
        cmocka_unit_test(test_lookup_reads_a_digits_only_document_number),
        cmocka_unit_test(test_a_range_ending_in_a_skipped_number),
        cmocka_unit_test(test_restore_follows_the_windows_into_a_later_period),
        cmocka_unit_test(test_clock_ahead_closes_early),
        cmocka_unit_test(test_snapshot_documents),
        cmocka_unit_test(test_codec_documents),
        cmocka_unit_test(test_random_periods_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
