/* seq_warn — issue rates (one bucket per minute over the last hour) and the
 * WARN threshold: `warned` is set once when the numbers left reach it and
 * cleared only when they rise above it again. Reads the state's clocks
 * only through its arguments. */
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static int64_t seqMinuteOf(int64_t t)
{
    int64_t m = t / 60000;
    return (t % 60000 < 0) ? m - 1 : m; /* floor, also before 1970 */
}

void seqRateAdd(seq_sequence *q, int64_t t, uint64_t n)
{
    int64_t m = seqMinuteOf(t);
    size_t b = (size_t)(((m % SEQ_RATE_BUCKETS) + SEQ_RATE_BUCKETS) % SEQ_RATE_BUCKETS);
    if (q->rate_minute[b] != m) {
        q->rate_minute[b] = m;
        q->rate_count[b] = 0;
    }
    q->rate_count[b] = q->rate_count[b] > UINT64_MAX - n ? UINT64_MAX : q->rate_count[b] + n;
}

void seqRates(const seq_sequence *q, int64_t t, uint64_t *per_min, uint64_t *per_hour)
{
    assert(per_min != NULL && per_hour != NULL);
    int64_t m = seqMinuteOf(t);
    unsigned __int128 hour = 0, cur = 0, prev = 0;
    for (size_t b = 0; b < SEQ_RATE_BUCKETS; b++) {
        if (q->rate_minute[b] > m - SEQ_RATE_BUCKETS && q->rate_minute[b] <= m) {
            hour += q->rate_count[b];
        }
        if (q->rate_minute[b] == m) {
            cur = q->rate_count[b];
        } else if (q->rate_minute[b] == m - 1) {
            prev = q->rate_count[b];
        }
    }
    /* The last 60 s: this minute so far and the part of the previous
     * minute that still lies within them. The offset into the minute is
     * computed in uint64: m * 60000 lies below INT64_MIN when t is near it. */
    uint64_t into = (uint64_t)t - (uint64_t)m * 60000u;
    unsigned __int128 minute = cur + prev * (60000 - into) / 60000;
    *per_min = minute > UINT64_MAX ? UINT64_MAX : (uint64_t)minute;
    *per_hour = hour > UINT64_MAX ? UINT64_MAX : (uint64_t)hour;
}

void seqWarnCheck(seq_sequence *q, seq_now now, seq_result *out)
{
    assert(q->live);
    if (q->warn > 0 && !q->warned && seqLeft(q, now) <= q->warn) {
        q->warned = true;
        out->warn_crossed = true;
    }
}

void seq_each_warned(const seq_state *s,
                     void (*fn)(void *ctx, const char *name, uint64_t left, uint64_t warn),
                     void *ctx)
{
    for (const seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        if (q->live && q->warned) {
            fn(ctx, q->name, seqLeft(q, seqNow(s)), q->warn);
        }
    }
}

uint64_t seqLeft(const seq_sequence *q, seq_now now)
{
    assert(q->live);
    unsigned __int128 n = seqRemaining(q, now.wall, false);
    bool walk = q->mode == SEQ_MODE_GAPLESS && !seqNothingReissuable(q, now);
    for (size_t i = 0; walk && i < q->n_ledger; i++) {
        const seq_ledger_run *e = &q->ledger[i];
        int64_t a, z;
        for (int64_t from = e->first; seqReissuablePiece(q, e, now, &a, &z, from);
             from = z + 1) {
            n += (unsigned __int128)((uint64_t)z - (uint64_t)a) + 1;
            if (z == e->last) {
                break;
            }
        }
    }
    return n > UINT64_MAX ? UINT64_MAX : (uint64_t)n;
}

void seqWarnLift(seq_sequence *q, seq_now now)
{
    assert(q->live);
    if (q->warned && seqLeft(q, now) > q->warn) {
        q->warned = false;
    }
}
