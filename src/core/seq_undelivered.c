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

/* Judges the stretch of issued numbers that starts at v and ends at *end
 * (at most hi), which the ledger and the block treat alike: whether the
 * report changes it. A RESERVE's report (granted) changes only the number
 * still reserved under its grant; a NEXT's only final numbers (outside the
 * ledger and outside a cache block). */
static bool seqUndeliveredStretch(const seq_sequence *q, int64_t v, int64_t hi, bool granted,
                                  uint64_t grant, int64_t *end)
{
    assert(v <= hi);
    const seq_ledger_run *e = seqLedgerAt(q, v);
    if (e != NULL) {
        *end = e->last < hi ? e->last : hi;
        return granted && e->state == SEQ_NUM_RESERVED && e->grant == grant;
    }
    long at = seqLedgerFloor(q, v);
    size_t nx = (size_t)(at + 1);
    int64_t stop = nx < q->n_ledger && q->ledger[nx].first <= hi ? q->ledger[nx].first - 1 : hi;
    bool in_block;
    *end = seqBlockClip(q, v, stop, &in_block);
    assert(v <= *end && *end <= hi);
    return !granted && !in_block;
}

/* The pieces of [cmd->min, cmd->max] the report changes, found before
 * anything changes, as a malloc'd array of *n sorted, disjoint intervals. */
static seq_range *seqUndeliveredPieces(const seq_sequence *q, const seq_cmd *cmd, size_t *n)
{
    bool granted = cmd->has_start; /* term: the grant */
    size_t n_iv = 0;
    seq_range *iv = seqIssuedIntervals(q, &n_iv);
    size_t cap = 16;
    seq_range *pieces = seq_xmalloc(sizeof(*pieces) * cap);
    *n = 0;
    for (size_t i = 0; i < n_iv; i++) {
        int64_t lo = iv[i].min > cmd->min ? iv[i].min : cmd->min;
        int64_t hi = iv[i].max < cmd->max ? iv[i].max : cmd->max;
        if (lo > hi) {
            continue;
        }
        for (int64_t v = lo;;) {
            int64_t end;
            if (seqUndeliveredStretch(q, v, hi, granted, cmd->term, &end)) {
                if (*n == cap) {
                    cap *= 2;
                    pieces = seq_xrealloc(pieces, sizeof(*pieces) * cap);
                }
                pieces[*n].min = v;
                pieces[*n].max = end;
                (*n)++;
            }
            if (end == hi) {
                break;
            }
            v = end + 1;
        }
    }
    free(iv);
    return pieces;
}

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
    bool release = q->mode == SEQ_MODE_GAPLESS && (cmd->has_start || cmd->count == 1);
    uint8_t to = release ? SEQ_NUM_RELEASED : SEQ_NUM_UNKNOWN;
    size_t n = 0;
    seq_range *pieces = seqUndeliveredPieces(q, cmd, &n);
    /* each piece may split the run it is cut from in two */
    if (!seqLedgerRoom(q, 2 * n)) {
        free(pieces);
        return SEQ_ERR_TOO_MANY;
    }
    for (size_t i = 0; i < n; i++) {
        for (int64_t v = pieces[i].min; release; v++) {
            seqPkeyRelease(s, q->incarnation, q->period, v);
            if (v == pieces[i].max) {
                break;
            }
        }
        seqLedgerCut(q, pieces[i].min, pieces[i].max);
        seqLedgerPut(q, pieces[i].min, pieces[i].max, to, s->clock_ms, INT64_MAX, cmd->text,
                     cmd->text_len, cmd);
    }
    seqWarnLift(q, seqNow(s));
    free(pieces);
    return SEQ_OK;
}
