/* seq_range — ranges with their windows and cursors, the burned history,
 * and the take plan: which numbers a command would take, computed without
 * changing anything and applied only once the whole command succeeds. Keeps:
 * a cursor only moves up inside its range; a range before `cur` is full; a
 * burned number is never taken. */
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

long seqBurnedFloor(const seq_sequence *q, int64_t v)
{
    assert(q->n_burned == 0 || q->burned != NULL);
    long lo = 0, hi = (long)q->n_burned - 1, found = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (q->burned[mid].min <= v) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

int64_t seqAdd(int64_t a, uint64_t d)
{
    /* Two's complement wrap is defined in uint64; callers guarantee the
     * true result fits in int64. */
    return (int64_t)((uint64_t)a + d);
}

bool seqSpanValidAt(const seq_span *r, int64_t t)
{
    return r->not_before <= t && t <= r->not_after;
}

bool seqSpanSettle(const seq_sequence *q, size_t i, int64_t *p)
{
    assert(i < q->n_ranges);
    assert(q->ranges[i].full || (q->ranges[i].min <= *p && *p <= q->ranges[i].max));
    const seq_span *r = &q->ranges[i];
    if (r->full) {
        return false;
    }
    int64_t v = *p;
    for (;;) {
        long b = seqBurnedFloor(q, v);
        if (b < 0 || q->burned[b].max < v) {
            *p = v;
            return true;
        }
        if (q->burned[b].max >= r->max) {
            return false;
        }
        v = q->burned[b].max + 1;
    }
}


void seqTakeInit(seq_take *tk, const seq_sequence *q)
{
    assert(q->live && q->n_ranges >= 1);
    /* A run ends at a range end or before a burned interval. */
    tk->cap = q->n_ranges + q->n_burned + 1;
    tk->n_runs = 0;
    tk->taken = 0;
    tk->ended = NULL;
    tk->n_ended = 0;
    if (tk->cap <= 4) {
        tk->runs = tk->inline_runs;
        tk->span_of = tk->inline_span;
    } else {
        tk->runs = seq_xmalloc(sizeof(*tk->runs) * tk->cap);
        tk->span_of = seq_xmalloc(sizeof(*tk->span_of) * tk->cap);
    }
}

/* More room for runs: skipped numbers split runs beyond the ranges'
 * and burned intervals' count. */
static void seqTakeGrow(seq_take *tk)
{
    size_t cap = tk->cap * 2;
    seq_run *runs = seq_xmalloc(sizeof(*runs) * cap);
    size_t *span_of = seq_xmalloc(sizeof(*span_of) * cap);
    memcpy(runs, tk->runs, sizeof(*runs) * tk->n_runs);
    memcpy(span_of, tk->span_of, sizeof(*span_of) * tk->n_runs);
    if (tk->runs != tk->inline_runs) {
        free(tk->runs);
        free(tk->span_of);
    }
    tk->runs = runs;
    tk->span_of = span_of;
    tk->cap = cap;
}

void seqTakeFree(seq_take *tk)
{
    free(tk->ended);
    if (tk->runs != tk->inline_runs) {
        free(tk->runs);
        free(tk->span_of);
    }
}

/* Whether every number of range i from v on is one NEXT never issues
 * (skipped by the format, or burned): at most 64 steps, a burned interval
 * one step, since a skip rule skips no long run of numbers. */
static bool seqRestSkipped(const seq_sequence *q, size_t i, int64_t v)
{
    const seq_span *r = &q->ranges[i];
    assert(r->min <= v && v <= r->max);
    for (int step = 0; step < 64; step++) {
        long b = seqBurnedFloor(q, v);
        if (b >= 0 && q->burned[b].max >= v) {
            if (q->burned[b].max >= r->max) {
                return true;
            }
            v = q->burned[b].max + 1;
            continue;
        }
        if (!seqDocSkips(q, i, v)) {
            return false;
        }
        if (v == r->max) {
            return true;
        }
        v++;
    }
    return false;
}

void seqSettleSkipped(seq_sequence *q)
{
    if (!q->live || !seqDocMaySkip(q)) {
        return;
    }
    while (q->cur < q->n_ranges && !q->ranges[q->cur].full &&
           seqRestSkipped(q, q->cur, q->ranges[q->cur].next)) {
        q->ranges[q->cur].full = true;
        q->cur++;
    }
}

/* Marks range i used up in plan tk. */
static void seqTakeEnded(seq_take *tk, const seq_sequence *q, size_t i)
{
    if (tk->ended == NULL) {
        tk->ended = seq_xmalloc(sizeof(*tk->ended) * q->n_ranges);
    }
    assert(tk->n_ended < q->n_ranges);
    tk->ended[tk->n_ended++] = i;
}

int seqTakePlan(const seq_sequence *q, int64_t t, uint64_t need, bool partial,
                       seq_take *tk)
{
    assert(q->live && need > 0);
    assert(tk->n_runs == 0 && tk->taken == 0);
    bool skips = seqDocMaySkip(q);
    for (size_t i = q->cur; i < q->n_ranges && need > 0; i++) {
        const seq_span *r = &q->ranges[i];
        if (r->full || !seqSpanValidAt(r, t)) {
            continue;
        }
        int64_t p = r->next;
        while (need > 0 && seqSpanSettle(q, i, &p)) {
            int64_t end = r->max;
            long b = seqBurnedFloor(q, p);
            size_t after = (size_t)(b + 1);
            if (after < q->n_burned && q->burned[after].min <= end) {
                end = q->burned[after].min - 1; /* > p: settle skipped burned */
            }
            if (skips) {
                /* a number without a document number ends the run before it;
                 * the cursor passes it with the numbers after it */
                int64_t x = p;
                while (x <= end && !seqDocSkips(q, i, x)) {
                    if (x == end || (uint64_t)x - (uint64_t)p + 1 >= need) {
                        break;
                    }
                    x++;
                }
                if (seqDocSkips(q, i, x)) {
                    if (x == p) {
                        if (p == r->max) {
                            /* the range ends in numbers passed over: it is
                             * used up, or NEXT would stop here for good */
                            seqTakeEnded(tk, q, i);
                            break;
                        }
                        p++;
                        continue;
                    }
                    end = x - 1;
                }
            }
            uint64_t span = (uint64_t)end - (uint64_t)p; /* numbers - 1 */
            int64_t last;
            if (span >= need - 1) {
                last = seqAdd(p, need - 1);
                tk->taken += need;
                need = 0;
            } else {
                last = end;
                need -= span + 1;
                tk->taken += span + 1;
            }
            if (tk->n_runs == tk->cap) {
                seqTakeGrow(tk);
            }
            tk->runs[tk->n_runs].first = p;
            tk->runs[tk->n_runs].last = last;
            tk->span_of[tk->n_runs] = i;
            tk->n_runs++;
            if (last == r->max) {
                break;
            }
            if (need == 0 && skips && seqRestSkipped(q, i, last + 1)) {
                /* the range's last number with a document number: the
                 * cursor passes the skipped ones after it now, so that
                 * GAPS lists them and nothing counts them as left */
                seqTakeEnded(tk, q, i);
                break;
            }
            p = last + 1;
        }
    }
    if (tk->taken == 0 || (need > 0 && !partial)) {
        return SEQ_ERR_EXHAUSTED;
    }
    return SEQ_OK;
}

void seqTakeAdopt(seq_take *tk, const seq_sequence *q, const seq_take *from, size_t i)
{
    assert(i < q->n_ranges);
    for (size_t k = 0; k < from->n_runs; k++) {
        if (from->span_of[k] != i) {
            continue;
        }
        if (tk->n_runs == tk->cap) {
            seqTakeGrow(tk);
        }
        tk->runs[tk->n_runs] = from->runs[k];
        tk->span_of[tk->n_runs] = i;
        tk->n_runs++;
        tk->taken += (uint64_t)from->runs[k].last - (uint64_t)from->runs[k].first + 1;
    }
    for (size_t k = 0; k < from->n_ended; k++) {
        if (from->ended[k] == i) {
            seqTakeEnded(tk, q, i);
            break;
        }
    }
}

void seqTakeApply(seq_sequence *q, const seq_take *tk)
{
    assert(q->live && tk->n_runs <= tk->cap);
    for (size_t k = 0; k < tk->n_runs; k++) {
        seq_span *r = &q->ranges[tk->span_of[k]];
        if (tk->runs[k].last == r->max) {
            r->full = true;
        } else {
            r->next = tk->runs[k].last + 1;
        }
    }
    for (size_t k = 0; k < tk->n_ended; k++) {
        q->ranges[tk->ended[k]].full = true;
    }
    while (q->cur < q->n_ranges && q->ranges[q->cur].full) {
        q->cur++;
    }
    q->issued = q->issued > UINT64_MAX - tk->taken ? UINT64_MAX : q->issued + tk->taken;
}

/* Numbers in [lo, hi] that are not burned: O(log burned + overlapping). */
static unsigned __int128 seqFreeIn(const seq_sequence *q, int64_t lo, int64_t hi)
{
    assert(lo <= hi);
    unsigned __int128 n = (unsigned __int128)((uint64_t)hi - (uint64_t)lo) + 1;
    long first = seqBurnedFloor(q, lo);
    for (size_t i = first < 0 ? 0 : (size_t)first; i < q->n_burned; i++) {
        if (q->burned[i].min > hi) {
            break;
        }
        int64_t a = q->burned[i].min > lo ? q->burned[i].min : lo;
        int64_t z = q->burned[i].max < hi ? q->burned[i].max : hi;
        if (a <= z) {
            n -= (unsigned __int128)((uint64_t)z - (uint64_t)a) + 1;
        }
    }
    return n;
}

uint64_t seqRemaining(const seq_sequence *q, int64_t t, bool now_only)
{
    assert(q->live);
    unsigned __int128 n = 0;
    for (size_t i = q->cur; i < q->n_ranges; i++) {
        const seq_span *r = &q->ranges[i];
        if (r->full || t > r->not_after || (now_only && t < r->not_before)) {
            continue;
        }
        n += seqFreeIn(q, r->next, r->max);
    }
    return n > UINT64_MAX ? UINT64_MAX : (uint64_t)n;
}

/* When the earliest range with numbers left that is not open yet opens
 * (INT64_MAX: none). */
static int64_t seqOpensAt(const seq_sequence *q, int64_t t)
{
    int64_t at = INT64_MAX;
    for (size_t i = q->cur; i < q->n_ranges; i++) {
        const seq_span *r = &q->ranges[i];
        int64_t p = r->next;
        if (!r->full && t < r->not_before && r->not_before < at && seqSpanSettle(q, i, &p)) {
            at = r->not_before;
        }
    }
    return at;
}

int seqExhausted(const seq_sequence *q, int64_t t, seq_result *out)
{
    out->remaining = seqRemaining(q, t, true);
    if (out->remaining > 0 && seqDocMaySkip(q)) {
        /* what a skip rule leaves of them, exactly: fewer than were asked
         * for, so the walk is no longer than the NEXT's own would be */
        seq_take tk;
        seqTakeInit(&tk, q);
        (void)seqTakePlan(q, t, out->remaining, true, &tk);
        out->remaining = tk.taken;
        seqTakeFree(&tk);
    }
    out->opens_ms = seqOpensAt(q, t);
    return SEQ_ERR_EXHAUSTED;
}

long seqSpanOf(const seq_sequence *q, int64_t v)
{
    for (size_t i = 0; i < q->n_ranges; i++) {
        if (q->ranges[i].min <= v && v <= q->ranges[i].max) {
            return (long)i;
        }
    }
    return -1;
}

int64_t seqSpanLow(const seq_sequence *q, size_t i)
{
    assert(i < q->n_ranges);
    int64_t lo = q->ranges[i].min;
    if (i == 0 && q->def_has_start && q->def_start > lo) {
        lo = q->def_start;
    }
    return lo;
}

bool seq_issued(const seq_sequence *q, int64_t v)
{
    if (!q->live) {
        return false;
    }
    long i = seqSpanOf(q, v);
    if (i < 0) {
        return false;
    }
    const seq_span *r = &q->ranges[i];
    if ((!r->full && v >= r->next) || v < seqSpanLow(q, (size_t)i)) {
        return false;
    }
    long b = seqBurnedFloor(q, v);
    return b < 0 || q->burned[b].max < v;
}

/* Appends [lo, hi] to the sorted intervals out[0..*n), merging an adjacent
 * one. */
static void seqIntervalPush(seq_range *out, size_t *n, int64_t lo, int64_t hi)
{
    assert(lo <= hi);
    assert(*n == 0 || out[*n - 1].max < lo);
    if (*n > 0 && out[*n - 1].max != INT64_MAX && out[*n - 1].max + 1 == lo) {
        out[*n - 1].max = hi;
        return;
    }
    out[*n].min = lo;
    out[*n].max = hi;
    (*n)++;
}

void seqPushUnburned(const seq_sequence *q, int64_t lo, int64_t hi, seq_range *out,
                            size_t *n)
{
    assert(lo <= hi);
    long b = seqBurnedFloor(q, lo);
    for (size_t j = b < 0 ? 0 : (size_t)b; j < q->n_burned; j++) {
        if (q->burned[j].min > hi) {
            break;
        }
        if (q->burned[j].max < lo) {
            continue;
        }
        if (q->burned[j].min > lo) {
            seqIntervalPush(out, n, lo, q->burned[j].min - 1);
        }
        if (q->burned[j].max >= hi) {
            return;
        }
        lo = q->burned[j].max + 1;
    }
    seqIntervalPush(out, n, lo, hi);
}

seq_range *seqIssuedIntervals(const seq_sequence *q, size_t *n)
{
    seq_range *pieces = seq_xmalloc(sizeof(seq_range) * (q->n_ranges + 1));
    size_t np = 0;
    for (size_t i = 0; i < q->n_ranges; i++) {
        const seq_span *r = &q->ranges[i];
        int64_t lo = seqSpanLow(q, i);
        if (lo > r->max || (!r->full && r->next <= lo)) {
            continue;
        }
        pieces[np].min = lo;
        pieces[np].max = r->full ? r->max : r->next - 1;
        np++;
    }
    qsort(pieces, np, sizeof(seq_range), seqRangeCompare);
    /* A burned interval splits at most the one piece its min lies in. */
    seq_range *out = seq_xmalloc(sizeof(seq_range) * (np + q->n_burned + 1));
    size_t no = 0;
    for (size_t p = 0; p < np; p++) {
        seqPushUnburned(q, pieces[p].min, pieces[p].max, out, &no);
    }
    free(pieces);
    *n = no;
    return out;
}
