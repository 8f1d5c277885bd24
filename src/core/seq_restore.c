/* seq_restore — what `seqd restore` does to a backup's state before it is
 * served again, and the test for a state a restore may replace.
 *
 * A backup misses every number issued after it was taken, so a restore
 * that served its state as it is would issue those numbers again. Here the
 * next numbers of a sequence are taken and written into the ledger as
 * skipped, with the reason the operator reads in GAPS and LOOKUP. The
 * backup's released numbers are skipped too (that cluster handed them out
 * first), and its live reservations come back released (or skipped, when
 * the operator says their holders may have confirmed them there).
 *
 * Keeps: no number the backup counts as issued is ever issued again (the
 * advance only moves cursors forward, as NEXT does); the advance covers
 * what NEXT could have taken at any moment from the backup to the restore
 * (windows open and close meanwhile); a failed advance changes nothing;
 * the invariants of seq_check hold after each call. */
#include "seq_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "period.h"

bool seq_state_pristine(const seq_state *s)
{
    return s->n_sequences == 0 && s->n_users <= 1 && !s->acl_default_set;
}

/* How far plan tk goes in range i: its last run's end there, past
 * every end when it marks the range used up, INT64_MIN when it takes
 * nothing there. */
static int64_t seqRestoreReach(const seq_take *tk, size_t i, bool *ended)
{
    *ended = false;
    for (size_t k = 0; k < tk->n_ended; k++) {
        *ended = *ended || tk->ended[k] == i;
    }
    int64_t reach = INT64_MIN;
    for (size_t k = 0; k < tk->n_runs; k++) {
        if (tk->span_of[k] == i && tk->runs[k].last > reach) {
            reach = tk->runs[k].last;
        }
    }
    return reach;
}

/* The moments in [from, to] at which NEXT could have chosen among the
 * ranges differently: from, and every window edge after it. *n of them,
 * malloc'd. */
static int64_t *seqRestoreMoments(const seq_sequence *q, int64_t from, int64_t to, size_t *n)
{
    int64_t *at = seq_xmalloc(sizeof(*at) * (1 + 2 * q->n_ranges));
    *n = 0;
    at[(*n)++] = from;
    for (size_t i = 0; i < q->n_ranges; i++) {
        const seq_span *r = &q->ranges[i];
        if (r->not_before > from && r->not_before <= to) {
            at[(*n)++] = r->not_before;
        }
        if (r->not_after < INT64_MAX && r->not_after + 1 > from && r->not_after + 1 <= to) {
            at[(*n)++] = r->not_after + 1;
        }
    }
    return at;
}

/* The advance in q's current period, for a cluster that may have gone on
 * numbering from `from` (the backup's clock) to `to`: what NEXT would
 * have taken `count` numbers from, at any moment of it. The lost cluster
 * took its numbers from each range in order from the cursor, so in each
 * range the longest of these plans covers them: a plan per moment at
 * which the windows change (a range opening or closing), all from the
 * backup's cursors, combined range by range. */
static int seqRestoreSkip(seq_state *s, seq_sequence *q, uint64_t count, int64_t from, int64_t to,
                          const char *reason, uint64_t *skipped)
{
    size_t n_at = 0;
    int64_t *at = seqRestoreMoments(q, from, to, &n_at);
    seq_take *plans = seq_xmalloc(sizeof(*plans) * n_at);
    for (size_t m = 0; m < n_at; m++) {
        seqTakeInit(&plans[m], q);
        (void)seqTakePlan(q, at[m], count, true, &plans[m]); /* exhausted: takes nothing */
    }
    seq_take tk;
    seqTakeInit(&tk, q);
    for (size_t i = 0; i < q->n_ranges; i++) {
        size_t best = n_at;
        int64_t best_reach = INT64_MIN;
        bool best_ended = false;
        for (size_t m = 0; m < n_at; m++) {
            bool ended;
            int64_t reach = seqRestoreReach(&plans[m], i, &ended);
            if ((ended && !best_ended) || (ended == best_ended && reach > best_reach)) {
                best = m;
                best_reach = reach;
                best_ended = ended;
            }
        }
        if (best < n_at) {
            seqTakeAdopt(&tk, q, &plans[best], i);
        }
    }
    for (size_t m = 0; m < n_at; m++) {
        seqTakeFree(&plans[m]);
    }
    free(plans);
    free(at);
    int rv = SEQ_OK;
    if (!seqLedgerRoom(q, tk.n_runs)) {
        rv = SEQ_ERR_TOO_MANY;
    } else if (tk.n_runs > 0 || tk.n_ended > 0) {
        seqTakeApply(q, &tk);
        for (size_t i = 0; i < tk.n_runs; i++) {
            seqLedgerPutText(q, tk.runs[i].first, tk.runs[i].last, SEQ_NUM_SKIPPED, s->clock_ms,
                             reason, NULL);
        }
        *skipped += tk.taken;
    }
    seqTakeFree(&tk);
    return rv;
}

int seq_restore_advance(seq_state *s, const char *name, size_t len, uint64_t count,
                        const char *reason, int64_t now_ms, uint64_t *skipped)
{
    *skipped = 0;
    seq_sequence *q = seqFindLive(s, name, len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    if (count == 0) {
        return SEQ_OK;
    }
    int64_t from = s->clock_ms;
    int64_t to = now_ms > from ? now_ms : from;
    if (q->period_kind == 0) {
        return seqRestoreSkip(s, q, count, from, to, reason, skipped);
    }
    /* the backup's period, for as long as it lasted */
    int64_t end = q->period == INT64_MAX ? INT64_MAX /* a hostile backup's last period */
                                         : period_start_ms(q->period + 1, q->period_kind, q->tz_minutes);
    end = end == INT64_MIN || end == INT64_MAX ? end : end - 1;
    int rv = seqRestoreSkip(s, q, count, from, to < end ? to : end < from ? from : end, reason,
                            skipped);
    int64_t now_period = period_of(to, q->period_kind, q->tz_minutes);
    if (rv != SEQ_OK || now_period <= q->period) {
        return rv;
    }
    /* Restored in a later period: the cluster the backup came from may
     * have numbered it too. The period moves there now (it never goes
     * back, so no later clock can reopen the backup's period) and the same
     * advance is skipped in it, from its start. */
    seqPeriodRollTo(q, now_period);
    int64_t begin = period_start_ms(now_period, q->period_kind, q->tz_minutes);
    return seqRestoreSkip(s, q, count, begin > from ? begin : from, to, reason, skipped);
}

/* An open run of a backup's ledger, as the restore judges it. */
typedef struct seq_open_run {
    int64_t first, last;
    bool reserved; /* a reservation (single number, maybe with a key) */
    bool held;     /* one still live at the backup's moment */
} seq_open_run;

size_t seq_restore_release(seq_state *s, const char *reason, bool skip_reserved, int64_t now_ms,
                           uint64_t *skipped)
{
    *skipped = 0;
    char why[SEQ_REASON_MAX + 1];
    snprintf(why, sizeof(why), "%s: released then, so its cluster may have issued it again",
             reason);
    char held_why[SEQ_REASON_MAX + 1];
    snprintf(held_why, sizeof(held_why), "%s: reserved then, its holder may have confirmed it",
             reason);
    seq_now now = seqNow(s);
    size_t n = 0;
    for (seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        if (!q->live || q->n_open == 0) {
            continue;
        }
        /* from a list taken first: changing a run moves the others */
        seq_open_run *open = seq_xmalloc(sizeof(*open) * q->n_ledger);
        size_t n_open = 0;
        for (size_t i = 0; i < q->n_ledger; i++) {
            const seq_ledger_run *e = &q->ledger[i];
            /* lapsed by the restore's clock: the cluster the backup came
             * from handed it out again once its TTL passed */
            bool lapsed = seqReservationLapsed(e, now) ||
                          (e->state == SEQ_NUM_RESERVED && e->deadline_ms != INT64_MAX &&
                           seqWallOf(now, e->deadline_ms) <= now_ms);
            if (e->state == SEQ_NUM_RESERVED && !lapsed) {
                assert(e->first == e->last);
                open[n_open++] = (seq_open_run){e->first, e->last, true, true};
            } else if (e->state == SEQ_NUM_RELEASED || lapsed) {
                open[n_open++] = (seq_open_run){e->first, e->last, lapsed, false};
            }
        }
        for (size_t i = 0; i < n_open; i++) {
            const seq_open_run *o = &open[i];
            if (o->reserved) {
                seqPkeyRelease(s, q->incarnation, q->period, o->first); /* a lapsed one's too */
            }
            seqLedgerCut(q, o->first, o->last);
            if (o->held && !skip_reserved) {
                /* as RELEASE does it: the next RESERVE's, lowest first */
                seqLedgerPutText(q, o->first, o->last, SEQ_NUM_RELEASED, s->clock_ms,
                                 "released: reserved when the backup was taken", NULL);
                n++;
            } else {
                /* A released number is the first thing the cluster the
                 * backup came from handed out after it: issued again here,
                 * it could be issued twice. */
                seqLedgerPutText(q, o->first, o->last, SEQ_NUM_SKIPPED, s->clock_ms,
                                 o->held ? held_why : why, NULL);
                *skipped += (uint64_t)o->last - (uint64_t)o->first + 1;
            }
        }
        free(open);
        seqWarnLift(q, seqNow(s));
    }
    return n;
}
