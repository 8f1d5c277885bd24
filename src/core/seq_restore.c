/* seq_restore — what `seqd restore` does to a backup's state before it is
 * served again, and the test for a state a restore may replace.
 *
 * A backup misses every number issued after it was taken, so a restore
 * that served its state as it is would issue those numbers again. Here the
 * next numbers of a sequence are taken and written into the ledger as
 * skipped, with the reason the operator reads in GAPS and LOOKUP; and the
 * backup's open reservations come back released.
 *
 * Keeps: no number the backup counts as issued is ever issued again (the
 * advance only moves cursors forward, as NEXT does); a failed advance
 * changes nothing; the invariants of seq_check hold after each call. */
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "period.h"

bool seq_state_pristine(const seq_state *s)
{
    return s->n_sequences == 0 && s->n_users <= 1 && !s->acl_default_set;
}

/* The advance in q's current period. */
static int seqRestoreSkip(seq_state *s, seq_sequence *q, uint64_t count, const char *reason,
                          uint64_t *skipped)
{
    seq_take tk;
    seqTakeInit(&tk, q);
    int rv = seqTakePlan(q, s->clock_ms, count, true, &tk);
    if (rv == SEQ_ERR_EXHAUSTED) {
        seqTakeFree(&tk);
        return SEQ_OK; /* nothing left to skip: nothing can be issued again either */
    }
    if (rv != SEQ_OK || !seqLedgerRoom(q, tk.n_runs)) {
        seqTakeFree(&tk);
        return rv != SEQ_OK ? rv : SEQ_ERR_TOO_MANY;
    }
    seqTakeApply(q, &tk);
    for (size_t i = 0; i < tk.n_runs; i++) {
        seqLedgerPutText(q, tk.runs[i].first, tk.runs[i].last, SEQ_NUM_SKIPPED, s->clock_ms, reason,
                         NULL);
    }
    *skipped += tk.taken;
    seqTakeFree(&tk);
    return SEQ_OK;
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
    int rv = seqRestoreSkip(s, q, count, reason, skipped);
    if (rv != SEQ_OK || q->period_kind == 0) {
        return rv;
    }
    /* Restored in a later period: the cluster the backup came from may
     * have numbered it too. The period moves there now (it never goes
     * back, so no later clock can reopen the backup's period) and the same
     * advance is skipped in it. */
    int64_t now_period = period_of(now_ms, q->period_kind, q->tz_minutes);
    if (now_period <= q->period) {
        return SEQ_OK;
    }
    seqPeriodRollTo(q, now_period);
    return seqRestoreSkip(s, q, count, reason, skipped);
}

size_t seq_restore_release(seq_state *s)
{
    size_t n = 0;
    for (seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        if (!q->live || q->n_open == 0) {
            continue;
        }
        /* as RELEASE does it, one reserved number at a time (its permanent
         * key goes, the released number merges with its neighbours), from
         * a list taken first: releasing moves the runs */
        int64_t *held = seq_xmalloc(sizeof(*held) * q->n_ledger);
        size_t n_held = 0;
        for (size_t i = 0; i < q->n_ledger; i++) {
            if (q->ledger[i].state == SEQ_NUM_RESERVED) {
                assert(q->ledger[i].first == q->ledger[i].last);
                held[n_held++] = q->ledger[i].first;
            }
        }
        for (size_t i = 0; i < n_held; i++) {
            seqPkeyRelease(s, q->incarnation, q->period, held[i]);
            seqLedgerCut(q, held[i], held[i]);
            seqLedgerPutText(q, held[i], held[i], SEQ_NUM_RELEASED, s->clock_ms,
                             "released: reserved when the backup was taken", NULL);
        }
        free(held);
        n += n_held;
        seqWarnLift(q, seqNow(s));
    }
    return n;
}
