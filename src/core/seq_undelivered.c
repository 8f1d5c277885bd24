/* seq_undelivered — UNDELIVERED: a reply that handed out numbers reached no
 * client. Two kinds, so that a late, repeated or forged report can never
 * hand a number to two holders:
 *  - from a RESERVE (has_start; term = the grant its result carried): the
 *    numbers still reserved under exactly that grant are released (and
 *    their keys let go); a number reserved since by someone else has
 *    another grant, one confirmed since is final, and neither is touched;
 *  - from a NEXT: numbers that are still final become unknown-fate; in
 *    gapless mode, when the report comes straight from the process that
 *    applied the NEXT (count = 1: trusted, never sent over the network),
 *    they are released instead, to be issued again first. Nothing but a
 *    report can release a final number, and that process reports a NEXT's
 *    numbers once, so they were not released and reissued in between.
 * Numbers in any other state keep it. */
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int seqUndelivered(seq_state *s, const seq_cmd *cmd)
{
    if (!seq_reason_valid(cmd->text, cmd->text_len)) {
        return SEQ_ERR_REASON;
    }
    if (cmd->min > cmd->max || (uint64_t)cmd->max - (uint64_t)cmd->min >= SEQ_COUNT_MAX) {
        return SEQ_ERR_RANGE;
    }
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    bool gapless = q->mode == SEQ_MODE_GAPLESS;
    bool granted = cmd->has_start; /* term: the grant */
    bool release = gapless && (granted || cmd->count == 1);
    uint8_t to = release ? SEQ_NUM_RELEASED : SEQ_NUM_UNKNOWN;
    /* The pieces to change, found before anything changes: a RESERVE's
     * numbers still reserved under its grant, or a NEXT's still final. */
    size_t n_iv = 0;
    seq_range *iv = seqIssuedIntervals(q, &n_iv);
    size_t cap = 16, n = 0;
    seq_range *pieces = seq_xmalloc(sizeof(*pieces) * cap);
    for (size_t i = 0; i < n_iv; i++) {
        int64_t lo = iv[i].min > cmd->min ? iv[i].min : cmd->min;
        int64_t hi = iv[i].max < cmd->max ? iv[i].max : cmd->max;
        for (int64_t v = lo; lo <= hi;) {
            const seq_ledger_run *e = seqLedgerAt(q, v);
            int64_t end; /* the last number of the stretch that starts at v */
            bool change;
            if (e != NULL) {
                end = e->last < hi ? e->last : hi;
                change = granted && e->state == SEQ_NUM_RESERVED && e->grant == cmd->term;
            } else {
                long at = seqLedgerFloor(q, v);
                size_t nx = (size_t)(at + 1);
                end = nx < q->n_ledger && q->ledger[nx].first <= hi ? q->ledger[nx].first - 1 : hi;
                bool in_block;
                end = seqBlockClip(q, v, end, &in_block);
                change = !granted && !in_block;
            }
            if (change) {
                if (n == cap) {
                    cap *= 2;
                    seq_range *grown = seq_xrealloc(pieces, sizeof(*grown) * cap);
                    pieces = grown;
                }
                pieces[n].min = v;
                pieces[n].max = end;
                n++;
            }
            if (end == hi) {
                break;
            }
            v = end + 1;
        }
    }
    free(iv);
    int rv = SEQ_OK;
    if (!seqLedgerRoom(q, 2 * n)) {
        rv = SEQ_ERR_TOO_MANY;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (release) {
            for (int64_t v = pieces[i].min;; v++) {
                seqPkeyRelease(s, q->incarnation, v);
                if (v == pieces[i].max) {
                    break;
                }
            }
        }
        seqLedgerCut(q, pieces[i].min, pieces[i].max);
        seqLedgerPut(q, pieces[i].min, pieces[i].max, to, s->clock_ms, INT64_MAX, cmd->text,
                     cmd->text_len);
    }
    seqWarnLift(q, seqNow(s));
out:
    free(pieces);
    return rv;
}
