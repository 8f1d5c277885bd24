/* Self-test of the independent history checker (tests/unit/history.c).
 *
 * Hand-made histories that each break exactly one guarantee must be caught,
 * with the offending number in the message: two final holders, overlapping
 * reservations, a NEXT inside a reservation, a tell after a void, an old
 * number reused after DROP + CREATE, a number outside the ranges, strict
 * order broken, a tell after DROP (and of a name never created), confirms
 * that make a reservation final.  Clean histories must pass: a lapsed
 * reservation reused, a released number reused, a replay by the same caller,
 * DROP/CREATE with new numbers, a COUNT across two ranges.  Then 30,000 small
 * random histories (clean and not) must get the same verdict from a naive
 * per-number reference written here; and a seeded random clean history of
 * 100k tells must pass (its check time is printed, not asserted), and fail
 * once one duplicate is added.
 *
 * HISTORY_TEST_SEED=N replays one seed of the random tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history.c"

#define F HIST_FINAL_MS
#define S HIST_STRICT

/* ---- helpers ----------------------------------------------------------- */

/* Does msg mention "number N" (N not the prefix of a longer number)? */
static int mentions_number(const char *msg, int64_t n)
{
    char want[48];
    snprintf(want, sizeof(want), "number %" PRId64, n);
    size_t len = strlen(want);
    for (const char *p = strstr(msg, want); p != NULL; p = strstr(p + 1, want))
        if (!isdigit((unsigned char)p[len]))
            return 1;
    return 0;
}

/* Asserts that h breaks the rules exactly `count` times, the first report
 * naming `number` and containing `what`; frees h. */
static void expect_violation(hist *h, int count, int64_t number,
                             const char *what)
{
    char msg[512];
    int n = hist_check(h, msg, sizeof(msg));
    print_message("    -> %d: %s\n", n, msg);
    assert_int_equal(n, count);
    if (!mentions_number(msg, number))
        fail_msg("message does not name number %" PRId64 ": %s", number, msg);
    if (strstr(msg, what) == NULL)
        fail_msg("message does not say \"%s\": %s", what, msg);
    hist_free(h);
}

static void expect_clean(hist *h)
{
    char msg[512];
    int n = hist_check(h, msg, sizeof(msg));
    if (n != 0)
        fail_msg("%d violation(s) in a clean history: %s", n, msg);
    assert_string_equal(msg, "ok");
    hist_free(h);
}

/* A fresh history with `name` created over [min, max] at t=0. */
static hist *with_seq(const char *name, int64_t min, int64_t max)
{
    hist *h = hist_new();
    hist_create(h, name, 0);
    hist_range(h, name, min, max);
    return h;
}

/* ---- one violation each ------------------------------------------------ */

static void test_two_final_holders(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 1000);
    hist_told(h, "inv", 1, 100, 105, 10, F, 0);
    hist_told(h, "inv", 2, 105, 110, 20, F, 0);
    expect_violation(h, 1, 105, "uniqueness");
}

static void test_overlapping_reservations(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 1000);
    hist_told(h, "inv", 1, 10, 12, 100, 200, 0);
    hist_told(h, "inv", 2, 12, 14, 150, 250, 0);
    expect_violation(h, 1, 12, "uniqueness");
}

static void test_next_inside_reservation(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 1000);
    hist_told(h, "inv", 1, 7, 7, 100, 200, 0);
    hist_told(h, "inv", 2, 7, 7, 199, F, 0);  /* 1 ms before it lapses */
    expect_violation(h, 1, 7, "uniqueness");
}

static void test_confirmed_reservation_reissued(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 1000);
    hist_told(h, "inv", 1, 4, 6, 0, 100, 0);
    hist_confirmed(h, "inv", 1, 5, 50);      /* in time: 5 is final */
    hist_told(h, "inv", 2, 4, 6, 150, F, 0); /* 4 and 6 lapsed: fine */
    expect_violation(h, 1, 5, "uniqueness");
}

static void test_late_confirm_then_reissued(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 1000);
    hist_told(h, "inv", 1, 9, 9, 0, 100, 0);
    hist_confirmed(h, "inv", 1, 9, 150);     /* lapsed, then final at 150 */
    hist_told(h, "inv", 2, 9, 9, 200, F, 0);
    expect_violation(h, 1, 9, "uniqueness");
}

static void test_told_after_void(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 1000);
    hist_told(h, "inv", 1, 3, 3, 0, 10, 0);  /* lapses at 10 */
    hist_voided(h, "inv", 3, 20);
    hist_told(h, "inv", 2, 2, 4, 30, F, 0);
    expect_violation(h, 1, 3, "void");
}

static void test_reuse_after_drop_create(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 100);
    hist_told(h, "inv", 1, 1, 10, 1, 2, 0);  /* a reservation, lapsed */
    hist_drop(h, "inv", 3);
    hist_create(h, "inv", 4);
    hist_range(h, "inv", 1, 100);
    hist_told(h, "inv", 2, 10, 12, 5, F, 0);
    expect_violation(h, 1, 10, "incarnation");

    /* The same caller does not make it a replay across incarnations. */
    h = with_seq("inv", 1, 100);
    hist_told(h, "inv", 1, 50, 50, 1, F, 0);
    hist_drop(h, "inv", 3);
    hist_create(h, "inv", 4);
    hist_range(h, "inv", 1, 100);
    hist_told(h, "inv", 1, 50, 50, 5, F, 0);
    expect_violation(h, 1, 50, "incarnation");
}

static void test_outside_ranges(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 10);
    hist_range(h, "inv", 20, 30);
    hist_told(h, "inv", 1, 9, 11, 0, F, 0);
    expect_violation(h, 1, 11, "containment");

    /* A range added after the tell does not count for it. */
    h = with_seq("inv", 1, 10);
    hist_told(h, "inv", 1, 40, 40, 0, F, 0);
    hist_range(h, "inv", 40, 50);
    expect_violation(h, 1, 40, "containment");
}

static void test_strict_order_broken(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 1000);
    hist_told(h, "inv", 1, 1, 1, 0, F, S);
    hist_told(h, "inv", 2, 6, 6, 1, F, S);
    hist_told(h, "inv", 3, 3, 3, 2, 3, S);   /* 3 < 6 */
    hist_told(h, "inv", 1, 3, 3, 3, 50, S);  /* that one lapsed: still < 6 */
    expect_violation(h, 2, 3, "strict order");

    /* Order is per range: a second range may hand out lower numbers, but
     * within it they must rise. */
    h = with_seq("inv", 500, 600);
    hist_range(h, "inv", 100, 200);
    hist_told(h, "inv", 1, 600, 600, 0, F, S);
    hist_told(h, "inv", 2, 150, 150, 1, F, S);
    hist_told(h, "inv", 3, 120, 120, 2, F, S);
    expect_violation(h, 1, 120, "strict order");
}

static void test_told_after_drop(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 100);
    hist_told(h, "inv", 1, 1, 1, 0, F, 0);
    hist_drop(h, "inv", 1);
    hist_told(h, "inv", 2, 77, 77, 2, F, 0);
    expect_violation(h, 1, 77, "DROP");

    h = hist_new();
    hist_told(h, "ghost", 1, 42, 42, 0, F, 0);
    expect_violation(h, 1, 42, "never created");
}

static void test_confirm_of_untold(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 100);
    hist_told(h, "inv", 1, 1, 1, 0, 100, 0);
    hist_confirmed(h, "inv", 2, 1, 5);       /* 2 was never told 1 */
    expect_violation(h, 1, 1, "confirm");
}

static void test_first_in_call_order(void **state)
{
    (void)state;
    /* Two violations of different kinds: the earlier call is reported. */
    hist *h = with_seq("inv", 1, 100);
    hist_told(h, "inv", 1, 500, 500, 0, F, 0);  /* containment */
    hist_told(h, "inv", 1, 8, 8, 1, F, 0);
    hist_told(h, "inv", 2, 8, 8, 2, F, 0);      /* uniqueness */
    expect_violation(h, 2, 500, "containment");
}

/* ---- clean histories --------------------------------------------------- */

static void test_lapsed_reservation_reused(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 1000);
    hist_told(h, "inv", 1, 1, 5, 0, 100, 0);
    hist_told(h, "inv", 2, 1, 5, 100, 180, 0);  /* exactly when it lapses */
    hist_told(h, "inv", 3, 3, 3, 180, F, 0);
    hist_told(h, "inv", 1, 6, 6, 181, F, 0);
    expect_clean(h);
}

static void test_released_then_reused(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 1000);
    hist_told(h, "inv", 1, 1, 3, 0, 1000, 0);
    hist_released(h, "inv", 1, 2, 10);
    hist_told(h, "inv", 2, 2, 2, 10, F, 0);
    hist_confirmed(h, "inv", 1, 1, 20);
    hist_released(h, "inv", 1, 3, 30);
    hist_told(h, "inv", 3, 3, 3, 31, 2000, 0);
    hist_released(h, "inv", 3, 3, 40);
    hist_told(h, "inv", 4, 3, 3, 40, F, 0);
    hist_released(h, "inv", 9, 500, 50);  /* nothing held: ignored */
    expect_clean(h);
}

static void test_replay_same_caller(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 1000);
    hist_told(h, "inv", 1, 1, 3, 0, F, S);
    hist_told(h, "inv", 2, 4, 4, 1, F, S);
    hist_told(h, "inv", 1, 1, 3, 5, F, S);   /* KEY replay */
    hist_told(h, "inv", 3, 5, 9, 6, 100, S);
    hist_told(h, "inv", 3, 5, 9, 7, 100, S); /* replay of a reservation */
    hist_told(h, "inv", 2, 10, 10, 8, F, S);
    expect_clean(h);
}

/* A KEY replay restates its hold: NEXT KEY after RESERVE KEY makes it
 * final, and one release of the number ends it (the replays are not holds
 * of their own that would outlive the release). */
static void test_replay_confirms_then_release(void **state)
{
    (void)state;
    hist *h = with_seq("g", 1, 1000);
    hist_told(h, "g", 1, 21, 21, 0, 50, 0);   /* RESERVE KEY k, until 50 */
    hist_told(h, "g", 1, 21, 21, 10, F, 0);   /* NEXT KEY k: final now */
    hist_told(h, "g", 1, 21, 21, 60, F, 0);   /* RESERVE KEY k again: a replay */
    hist_released(h, "g", 1, 21, 70);         /* the holder gave it back */
    hist_told(h, "g", 2, 21, 21, 80, F, 0);
    expect_clean(h);
}

/* ... but without the release, the number NEXT KEY made final is never
 * anyone else's, although the reservation it confirmed would have lapsed. */
static void test_replay_confirm_then_reissued(void **state)
{
    (void)state;
    hist *h = with_seq("g", 1, 1000);
    hist_told(h, "g", 1, 21, 21, 0, 50, 0);
    hist_told(h, "g", 1, 21, 21, 10, F, 0);
    hist_told(h, "g", 2, 21, 21, 80, F, 0);
    expect_violation(h, 1, 21, "uniqueness");
}

static void test_drop_create_disjoint(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 100);
    hist_told(h, "inv", 1, 1, 10, 1, F, S);
    hist_drop(h, "inv", 2);
    hist_create(h, "inv", 3);
    hist_range(h, "inv", 1, 100);
    hist_told(h, "inv", 2, 11, 20, 4, F, S);
    hist_drop(h, "inv", 5);
    hist_create(h, "inv", 6);
    hist_range(h, "inv", 200, 300);
    hist_told(h, "inv", 3, 200, 200, 7, F, S);
    hist_create(h, "other", 8);                /* names are independent */
    hist_range(h, "other", 1, 100);
    hist_told(h, "other", 4, 1, 10, 9, F, S);
    expect_clean(h);
}

static void test_count_across_two_ranges(void **state)
{
    (void)state;
    hist *h = with_seq("inv", 1, 10);
    hist_range(h, "inv", 11, 20);             /* adjacent: one tell */
    hist_range(h, "inv", 100, 110);           /* apart: one tell per run */
    hist_told(h, "inv", 1, 1, 8, 0, F, S);
    hist_told(h, "inv", 2, 9, 12, 1, F, S);
    hist_told(h, "inv", 3, 13, 20, 2, F, S);
    hist_told(h, "inv", 4, 100, 101, 2, F, S);
    hist_told(h, "inv", 5, 102, 102, 3, F, S);
    expect_clean(h);
}

/* ---- a large random clean history -------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#define R_NAMES 8
#define R_POOL 256
#define R_TELLS 100000

typedef struct {
    int64_t v, until_ms;
    uint64_t who;
    int name;
} r_res;

typedef struct {
    int64_t cursor;       /* next fresh number */
    int64_t range_hi;     /* top of the range the cursor is in */
    int strict;
    int64_t last_lo, last_hi;
    uint64_t last_who;    /* the last final tell, for a replay */
    int has_last;
} r_seq;

static void r_fresh_range(hist *h, const char *name, r_seq *q, uint64_t *s)
{
    /* A new range above everything told, sometimes adjacent. */
    int64_t lo = q->cursor + (rnd(s) % 2 ? 0 : (int64_t)(rnd(s) % 1000));
    q->cursor = lo;
    q->range_hi = lo + 1000000 + (int64_t)(rnd(s) % 1000000);
    hist_range(h, name, lo, q->range_hi);
}

/* Gives fresh numbers [cursor, cursor + n - 1], split at the range's top
 * into a new range as a COUNT that runs across two ranges would be. */
static int r_fresh(hist *h, const char *name, r_seq *q, uint64_t *s,
                   uint64_t who, int64_t n, int64_t t, int64_t until)
{
    int tells = 0;
    unsigned fl = q->strict ? S : 0;
    while (n > 0) {
        if (q->cursor > q->range_hi)
            r_fresh_range(h, name, q, s);
        int64_t room = q->range_hi - q->cursor + 1;
        int64_t k = n < room ? n : room;
        hist_told(h, name, who, q->cursor, q->cursor + k - 1, t, until, fl);
        if (until == F) {
            q->last_lo = q->cursor;
            q->last_hi = q->cursor + k - 1;
            q->last_who = who;
            q->has_last = 1;
        }
        q->cursor += k;
        n -= k;
        tells++;
    }
    return tells;
}

static uint64_t seed_from_env(void)
{
    const char *e = getenv("HISTORY_TEST_SEED");
    return e != NULL ? strtoull(e, NULL, 10) : 20240611u;
}

/* ---- small random histories against a naive per-number reference -------
 * The reference states the same rules number by number, with no intervals,
 * sweeps or trees; the two must agree on clean versus not. */

#define D_NUMS 16      /* numbers 0..15 */
#define D_EVENTS 14
#define D_TELLS D_EVENTS
#define D_EXTRA 8

enum { D_CREATE, D_RANGE, D_DROP, D_TOLD, D_CONFIRM, D_RELEASE, D_VOID };

typedef struct {
    int kind, name;
    uint64_t who;
    int64_t a, b, t, until;
    unsigned flags;
} d_ev;

typedef struct {
    int64_t s, e;
} d_span;

typedef struct {
    uint64_t who;
    int64_t lo, hi;
    int inc;
    d_span now[D_NUMS];       /* the current hold of each of its numbers */
    d_span old[D_NUMS][D_EXTRA];
    int n_old[D_NUMS];
    int64_t until, live_end; /* as told, and as confirms and releases changed it */
    int released, replay;
} d_tell;

static int d_overlap(d_span x, d_span y)
{
    int64_t s = x.s > y.s ? x.s : y.s, e = x.e < y.e ? x.e : y.e;
    return s < e;
}

/* 1 when the events of one name break a rule. */
static int d_ref_name(const d_ev *ev, int n, int name)
{
    d_tell tells[D_TELLS];
    int n_tells = 0, live = 0, inc = 0, dirty = 0;
    int64_t rmin[D_EVENTS], rmax[D_EVENTS], rtop[D_EVENTS];
    int rhas[D_EVENTS], n_r = 0;
    int voided[D_NUMS] = {0};
    for (int i = 0; i < n; i++) {
        const d_ev *e = &ev[i];
        if (e->name != name)
            continue;
        switch (e->kind) {
        case D_CREATE:
            dirty |= live;
            inc++;
            live = 1;
            n_r = 0;
            break;
        case D_RANGE:
            if (!live || e->a > e->b) {
                dirty = 1;
                break;
            }
            rmin[n_r] = e->a;
            rmax[n_r] = e->b;
            rhas[n_r++] = 0;
            break;
        case D_DROP:
            dirty |= !live;
            live = 0;
            break;
        case D_TOLD: {
            if (e->a > e->b || !live) {
                dirty = 1;
                break;
            }
            for (int64_t v = e->a; v <= e->b; v++) {
                int in = 0;
                for (int r = 0; r < n_r; r++)
                    in |= rmin[r] <= v && v <= rmax[r];
                dirty |= !in || voided[v];
            }
            int replay = 0, same = -1;
            for (int k = 0; k < n_tells; k++) {
                replay |= tells[k].who == e->who && tells[k].lo == e->a &&
                          tells[k].hi == e->b && tells[k].inc == inc;
                /* the same caller's hold of exactly this, still standing:
                 * a tell restating it (a KEY replay) is no new hold */
                if (tells[k].who == e->who && tells[k].lo == e->a && tells[k].hi == e->b &&
                    tells[k].inc == inc && !tells[k].released && !tells[k].replay &&
                    e->t < tells[k].live_end)
                    same = k;
            }
            for (int r = 0; r < n_r; r++) {
                if (rmax[r] < e->a || rmin[r] > e->b)
                    continue;
                int64_t plo = e->a > rmin[r] ? e->a : rmin[r];
                int64_t phi = e->b < rmax[r] ? e->b : rmax[r];
                if ((e->flags & S) && !replay && rhas[r] && plo <= rtop[r])
                    dirty = 1;
                if (!rhas[r] || phi > rtop[r]) {
                    rtop[r] = phi;
                    rhas[r] = 1;
                }
            }
            d_tell *t = &tells[n_tells++];
            memset(t, 0, sizeof(*t));
            t->who = e->who;
            t->lo = e->a;
            t->hi = e->b;
            t->inc = inc;
            t->until = t->live_end = e->until;
            t->replay = same >= 0;
            for (int64_t v = e->a; v <= e->b; v++)
                t->now[v] = (d_span){e->t, same >= 0 ? e->t : e->until}; /* a replay: empty */
            if (same >= 0 && e->until == F && tells[same].until != F) {
                /* told final what it held reserved: a confirm of its first number */
                d_span *h = &tells[same].now[e->a];
                if (e->t < h->e) {
                    h->e = F;
                }
                tells[same].live_end = F;
            }
            break;
        }
        case D_CONFIRM:
        case D_RELEASE: {
            int64_t v = e->a;
            int k = n_tells - 1;
            if (e->kind == D_RELEASE) { /* the hold standing at its time */
                while (k >= 0 && !(tells[k].who == e->who && !tells[k].replay &&
                                   tells[k].lo <= v && v <= tells[k].hi &&
                                   e->t < tells[k].live_end))
                    k--;
            }
            if (k < 0 || e->kind == D_CONFIRM) {
                k = n_tells - 1;
                while (k >= 0 && !(tells[k].who == e->who && !tells[k].replay &&
                                   tells[k].lo <= v && v <= tells[k].hi))
                    k--;
            }
            if (k < 0) {
                dirty |= e->kind == D_CONFIRM;
                break;
            }
            d_span *h = &tells[k].now[v];
            if (e->kind == D_RELEASE) {
                tells[k].released = 1;
                if (e->t < tells[k].live_end)
                    tells[k].live_end = e->t;
            } else if (e->t < tells[k].live_end || tells[k].live_end == tells[k].until) {
                tells[k].live_end = F;
            }
            if (e->kind == D_RELEASE) {
                int64_t end = e->t > h->s ? e->t : h->s;
                if (end < h->e)
                    h->e = end;
            } else if (e->t < h->e) {
                h->e = F;
            } else {
                assert_true(tells[k].n_old[v] < D_EXTRA);
                tells[k].old[v][tells[k].n_old[v]++] = *h;
                *h = (d_span){e->t, F};
            }
            break;
        }
        case D_VOID:
            voided[e->a] = 1;
            break;
        default:
            fail();
        }
    }
    /* Every pair of holds of every number. */
    for (int64_t v = 0; v < D_NUMS; v++) {
        for (int x = 0; x < n_tells; x++) {
            const d_tell *tx = &tells[x];
            if (v < tx->lo || v > tx->hi)
                continue;
            for (int y = x + 1; y < n_tells; y++) {
                const d_tell *ty = &tells[y];
                if (v < ty->lo || v > ty->hi)
                    continue;
                if (tx->inc != ty->inc)
                    dirty = 1;
                if (tx->who == ty->who)
                    continue;
                for (int i = -1; i < tx->n_old[v]; i++)
                    for (int j = -1; j < ty->n_old[v]; j++)
                        dirty |= d_overlap(i < 0 ? tx->now[v] : tx->old[v][i],
                                           j < 0 ? ty->now[v] : ty->old[v][j]);
            }
        }
    }
    return dirty;
}

static int64_t d_num(uint64_t *s)
{
    return (int64_t)(rnd(s) % 13);  /* 13..15 stay free for a wide tell */
}

static void test_random_small_vs_reference(void **state)
{
    (void)state;
    uint64_t seed = seed_from_env();
    uint64_t s = seed * 2654435761u | 1;
    static const char *names[2] = {"a", "b"};
    int agree_clean = 0, agree_dirty = 0;
    for (int iter = 0; iter < 30000; iter++) {
        d_ev ev[D_EVENTS];
        int n = 3 + (int)(rnd(&s) % (D_EVENTS - 3));
        for (int i = 0; i < n; i++) {
            d_ev *e = &ev[i];
            memset(e, 0, sizeof(*e));
            e->name = rnd(&s) % 4 == 0;
            e->t = (int64_t)(rnd(&s) % 30);
            e->who = 1 + rnd(&s) % 3;
            unsigned k = (unsigned)(rnd(&s) % 100);
            if (i == 0 || k < 6) {
                e->kind = D_CREATE;
            } else if (k < 14) {
                e->kind = D_RANGE;
                e->a = d_num(&s);
                e->b = e->a + (int64_t)(rnd(&s) % 6) - 1;
            } else if (k < 18) {
                e->kind = D_DROP;
            } else if (k < 70) {
                e->kind = D_TOLD;
                e->a = d_num(&s);
                e->b = e->a + (int64_t)(rnd(&s) % 3) - (rnd(&s) % 30 == 0);
                e->until = rnd(&s) % 2 ? F : e->t + (int64_t)(rnd(&s) % 12);
                e->flags = rnd(&s) % 3 == 0 ? S : 0;
            } else if (k < 80) {
                e->kind = D_CONFIRM;
                e->a = d_num(&s);
            } else if (k < 92) {
                e->kind = D_RELEASE;
                e->a = d_num(&s);
            } else {
                e->kind = D_VOID;
                e->a = d_num(&s);
            }
            if (i == 0)
                e->name = 0;
        }
        /* Make the first tells more often land in a created range. */
        if (n > 2 && ev[1].kind != D_RANGE && rnd(&s) % 2) {
            ev[1].kind = D_RANGE;
            ev[1].name = 0;
            ev[1].a = 0;
            ev[1].b = 12;
        }
        hist *h = hist_new();
        for (int i = 0; i < n; i++) {
            const d_ev *e = &ev[i];
            const char *nm = names[e->name];
            switch (e->kind) {
            case D_CREATE: hist_create(h, nm, e->t); break;
            case D_RANGE: hist_range(h, nm, e->a, e->b); break;
            case D_DROP: hist_drop(h, nm, e->t); break;
            case D_TOLD:
                hist_told(h, nm, e->who, e->a, e->b, e->t, e->until, e->flags);
                break;
            case D_CONFIRM: hist_confirmed(h, nm, e->who, e->a, e->t); break;
            case D_RELEASE: hist_released(h, nm, e->who, e->a, e->t); break;
            default: hist_voided(h, nm, e->a, e->t); break;
            }
        }
        int want = d_ref_name(ev, n, 0) | d_ref_name(ev, n, 1);
        char msg[512];
        int got = hist_check(h, msg, sizeof(msg));
        if ((got != 0) != want) {
            for (int i = 0; i < n; i++)
                print_message("  ev %d: kind %d name %d who %" PRIu64
                              " [%" PRId64 ", %" PRId64 "] t %" PRId64
                              " until %" PRId64 " flags %u\n",
                              i, ev[i].kind, ev[i].name, ev[i].who, ev[i].a,
                              ev[i].b, ev[i].t, ev[i].until, ev[i].flags);
            fail_msg("iteration %d: reference says %s, hist_check %d: %s",
                     iter, want ? "dirty" : "clean", got, msg);
        }
        if (want)
            agree_dirty++;
        else
            agree_clean++;
        hist_free(h);
    }
    print_message("    agreed on %d clean and %d dirty histories\n",
                  agree_clean, agree_dirty);
    assert_true(agree_clean > 1000);
}

static void test_random_clean_100k(void **state)
{
    (void)state;
    uint64_t seed = seed_from_env();
    uint64_t s = seed | 1;
    print_message("    seed=%" PRIu64 "\n", seed);
    char names[R_NAMES][16];
    r_seq q[R_NAMES];
    r_res pool[R_POOL];
    int n_pool = 0;
    hist *h = hist_new();
    int64_t t = 0;
    for (int i = 0; i < R_NAMES; i++) {
        snprintf(names[i], sizeof(names[i]), "seq%d", i);
        memset(&q[i], 0, sizeof(q[i]));
        q[i].cursor = (int64_t)i * 1000;
        q[i].strict = i < 3;
        hist_create(h, names[i], t);
        r_fresh_range(h, names[i], &q[i], &s);
    }
    int tells = 0, ops[8] = {0};
    while (tells < R_TELLS) {
        t += (int64_t)(rnd(&s) % 3);
        int ni = (int)(rnd(&s) % R_NAMES);
        const char *nm = names[ni];
        r_seq *sq = &q[ni];
        uint64_t who = 1 + rnd(&s) % 500;
        unsigned op = (unsigned)(rnd(&s) % 100);
        if (op < 45) {                        /* NEXT COUNT n */
            int64_t n = rnd(&s) % 50 == 0 ? 1 + (int64_t)(rnd(&s) % 1000000)
                                          : 1 + (int64_t)(rnd(&s) % 20);
            tells += r_fresh(h, nm, sq, &s, who, n, t, F);
            ops[0]++;
        } else if (op < 52) {                 /* KEY replay */
            if (sq->has_last) {
                hist_told(h, nm, sq->last_who, sq->last_lo, sq->last_hi, t, F,
                          sq->strict ? S : 0);
                tells++;
                ops[1]++;
            }
        } else if (op < 72) {                 /* RESERVE one */
            if (n_pool < R_POOL) {
                int64_t until = t + 1 + (int64_t)(rnd(&s) % 40);
                if (sq->cursor > sq->range_hi)
                    r_fresh_range(h, nm, sq, &s);
                pool[n_pool] = (r_res){sq->cursor, until, who, ni};
                tells += r_fresh(h, nm, sq, &s, who, 1, t, until);
                n_pool++;
                ops[2]++;
            }
        } else if (op < 98 && n_pool > 0) {   /* settle a reservation */
            int pi = (int)(rnd(&s) % (uint64_t)n_pool);
            r_res *r = &pool[pi];
            const char *rn = names[r->name];
            int strict = q[r->name].strict;
            unsigned what = (unsigned)(rnd(&s) % 4);
            if (t < r->until_ms && what == 0) {            /* CONFIRM */
                hist_confirmed(h, rn, r->who, r->v, t);
                *r = pool[--n_pool];
                ops[3]++;
            } else if (t < r->until_ms && what == 1 && !strict) {
                hist_released(h, rn, r->who, r->v, t);    /* RELEASE, reissue */
                r->who = who;
                r->until_ms = t + 1 + (int64_t)(rnd(&s) % 40);
                hist_told(h, rn, who, r->v, r->v, t, r->until_ms, 0);
                tells++;
                ops[4]++;
            } else if (t >= r->until_ms && what <= 1 && !strict) {
                r->who = who;                              /* lapsed: reissue */
                r->until_ms = t + (int64_t)(rnd(&s) % 40);
                hist_told(h, rn, who, r->v, r->v, t, r->until_ms, 0);
                tells++;
                ops[5]++;
            } else if (t >= r->until_ms) {                 /* lapsed: void */
                hist_voided(h, rn, r->v, t);
                *r = pool[--n_pool];
                ops[6]++;
            }
        } else if (op >= 98 && rnd(&s) % 20 == 0) {        /* DROP + CREATE */
            hist_drop(h, nm, t);
            hist_create(h, nm, t);
            for (int k = 0; k < n_pool;)                   /* its old holds */
                if (pool[k].name == ni)
                    pool[k] = pool[--n_pool];
                else
                    k++;
            sq->has_last = 0;
            sq->cursor += 1 + (int64_t)(rnd(&s) % 10);
            r_fresh_range(h, nm, sq, &s);
            ops[7]++;
        }
    }
    print_message("    %d tells, %zu calls: next %d replay %d reserve %d "
                  "confirm %d release+reissue %d lapse+reissue %d void %d "
                  "drop+create %d\n",
                  tells, hist_event_count(h), ops[0], ops[1], ops[2], ops[3],
                  ops[4], ops[5], ops[6], ops[7]);
    char msg[512];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int n = hist_check(h, msg, sizeof(msg));
    clock_gettime(CLOCK_MONOTONIC, &b);
    print_message("    hist_check: %.1f ms\n",
                  (double)(b.tv_sec - a.tv_sec) * 1e3 +
                      (double)(b.tv_nsec - a.tv_nsec) / 1e6);
    if (n != 0)
        fail_msg("seed=%" PRIu64 ": %d violation(s): %s", seed, n, msg);

    /* One duplicate at the end must be caught. */
    assert_true(q[4].has_last);
    hist_told(h, names[4], 100000, q[4].last_hi, q[4].last_hi, t + 1, F, 0);
    expect_violation(h, 1, q[4].last_hi, "uniqueness");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_final_holders),
        cmocka_unit_test(test_overlapping_reservations),
        cmocka_unit_test(test_next_inside_reservation),
        cmocka_unit_test(test_confirmed_reservation_reissued),
        cmocka_unit_test(test_late_confirm_then_reissued),
        cmocka_unit_test(test_told_after_void),
        cmocka_unit_test(test_reuse_after_drop_create),
        cmocka_unit_test(test_outside_ranges),
        cmocka_unit_test(test_strict_order_broken),
        cmocka_unit_test(test_told_after_drop),
        cmocka_unit_test(test_confirm_of_untold),
        cmocka_unit_test(test_first_in_call_order),
        cmocka_unit_test(test_lapsed_reservation_reused),
        cmocka_unit_test(test_released_then_reused),
        cmocka_unit_test(test_replay_same_caller),
        cmocka_unit_test(test_drop_create_disjoint),
        cmocka_unit_test(test_count_across_two_ranges),
        cmocka_unit_test(test_replay_confirms_then_release),
        cmocka_unit_test(test_replay_confirm_then_reissued),
        cmocka_unit_test(test_random_small_vs_reference),
        cmocka_unit_test(test_random_clean_100k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
