/* seq_cached — cached blocks: ALLOCBLOCK hands a leader numbers to serve
 * from memory, USED reports the ones it served (final), RECOVER and a new
 * owner's ALLOCBLOCK skip the blocks nobody will serve any more (to the
 * ledger as skipped), and SERVED brings back as final what a deposed owner
 * served but could not report. Keeps: block runs are issued numbers outside
 * the ledger, owned by one (term, node); a block is never handed to two
 * owners, and another incarnation's block report changes nothing. */
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

bool seqInBlock(const seq_sequence *q, int64_t v)
{
    assert(q->n_block == 0 || q->mode == SEQ_MODE_CACHED);
    for (size_t i = 0; i < q->n_block; i++) {
        if (q->block[i].first <= v && v <= q->block[i].last) {
            return true;
        }
    }
    return false;
}

int64_t seqBlockClip(const seq_sequence *q, int64_t v, int64_t end, bool *in)
{
    assert(v <= end);
    *in = false;
    for (size_t i = 0; i < q->n_block; i++) {
        const seq_run *b = &q->block[i];
        if (b->first <= v && v <= b->last) {
            *in = true;
            return b->last < end ? b->last : end;
        }
        if (b->first > v && b->first <= end) {
            end = b->first - 1;
        }
    }
    return end;
}

/* The block of a cached sequence goes to the ledger as skipped. */
static int seqSkipBlock(seq_sequence *q, int64_t t)
{
    assert(q->n_block == 0 || q->mode == SEQ_MODE_CACHED);
    if (!seqLedgerRoom(q, q->n_block)) {
        return SEQ_ERR_TOO_MANY;
    }
    for (size_t i = 0; i < q->n_block; i++) {
        seqLedgerPutText(q, q->block[i].first, q->block[i].last, SEQ_NUM_SKIPPED, t,
                         "cached block given up: a leader change, a restart, or its range expired",
                         NULL);
    }
    free(q->block);
    q->block = NULL;
    q->n_block = 0;
    assert(q->n_ledger <= SEQ_LEDGER_MAX);
    return SEQ_OK;
}

static bool seqOwns(const seq_sequence *q, const seq_cmd *cmd)
{
    return q->block_term == cmd->term && q->block_node == cmd->node;
}

/* The live cached-mode sequence a block command names, in *q, or why
 * there is none: a block or a report for a dropped incarnation goes to
 * nobody (SEQ_ERR_STALE). */
static int seqCachedTarget(seq_state *s, const seq_cmd *cmd, seq_sequence **q)
{
    *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (*q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    if ((*q)->mode != SEQ_MODE_CACHED) {
        return SEQ_ERR_MODE;
    }
    if (cmd->incarnation != 0 && cmd->incarnation != (*q)->incarnation) {
        return SEQ_ERR_STALE;
    }
    return SEQ_OK;
}

int seqAllocBlock(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (cmd->count < 1 || cmd->count > SEQ_CACHE_MAX) {
        return SEQ_ERR_COUNT;
    }
    seq_sequence *q;
    int found = seqCachedTarget(s, cmd, &q);
    if (found != SEQ_OK) {
        return found;
    }
    /* A new holder (has_start) owns nothing yet, even if its owner value
     * was used before (the low 16 bits wrap). */
    bool skip = q->n_block > 0 && (!seqOwns(q, cmd) || cmd->has_start);
    seq_take tk;
    seqTakeInit(&tk, q);
    int rv = seqTakePlan(q, s->clock_ms, cmd->count, true, &tk);
    if (rv != SEQ_OK) {
        /* Nothing to hand out (the ranges are used up or not valid now):
         * a new owner still gives up the previous owner's block — it asks
         * because it cannot serve from it — so GAPS shows it skipped, not
         * waiting in a cache nobody serves from. The one exception to "a
         * failed command changes nothing". */
        seqExhausted(q, s->clock_ms, out);
        if (skip) {
            (void)seqSkipBlock(q, s->clock_ms);
        }
        seqTakeFree(&tk);
        return rv;
    }
    if ((skip && !seqLedgerRoom(q, q->n_block)) ||
        (skip ? 0 : q->n_block) + tk.n_runs > SEQ_RANGES_MAX + SEQ_BURNED_MAX) {
        seqTakeFree(&tk);
        return SEQ_ERR_TOO_MANY;
    }
    if (skip) {
        seqSkipBlock(q, s->clock_ms);
    }
    seqTakeApply(q, &tk);
    seq_run *grown = seq_xrealloc(q->block, sizeof(*grown) * (q->n_block + tk.n_runs));
    q->block = grown;
    for (size_t k = 0; k < tk.n_runs; k++) {
        seq_run *last = q->n_block > 0 ? &q->block[q->n_block - 1] : NULL;
        if (last != NULL && last->last != INT64_MAX && last->last + 1 == tk.runs[k].first) {
            last->last = tk.runs[k].last;
        } else {
            q->block[q->n_block++] = tk.runs[k];
        }
    }
    assert(q->n_block >= 1 && q->n_block <= SEQ_RANGES_MAX + SEQ_BURNED_MAX);
    q->block_term = cmd->term;
    q->block_node = cmd->node;
    seqCopyRuns(out, tk.runs, tk.n_runs);
    /* The block may be served only while all its ranges are valid: the
     * leader stops at the earliest NOTAFTER among them. */
    out->until_ms = INT64_MAX;
    for (size_t k = 0; k < tk.n_runs; k++) {
        int64_t na = q->ranges[tk.span_of[k]].not_after;
        out->until_ms = na < out->until_ms ? na : out->until_ms;
    }
    seqWarnCheck(q, seqNow(s), out);
    seqTakeFree(&tk);
    return SEQ_OK;
}

int seqUsed(seq_state *s, const seq_cmd *cmd)
{
    seq_sequence *q;
    int found = seqCachedTarget(s, cmd, &q);
    if (found != SEQ_OK) {
        return found;
    }
    if (!seqOwns(q, cmd)) {
        return SEQ_OK;
    }
    uint64_t left = cmd->count, used = 0;
    size_t drop = 0;
    while (drop < q->n_block && left > 0) {
        seq_run *b = &q->block[drop];
        uint64_t span = (uint64_t)b->last - (uint64_t)b->first;
        if (span >= left) { /* more than left in this run */
            if (span == left - 1) {
                drop++;
            } else {
                b->first = seqAdd(b->first, left);
            }
            used += left;
            left = 0;
        } else {
            used += span + 1;
            left -= span + 1;
            drop++;
        }
    }
    if (drop > 0) { /* block is NULL when empty */
        memmove(q->block, q->block + drop, sizeof(*q->block) * (q->n_block - drop));
        q->n_block -= drop;
    }
    assert(used <= cmd->count && (left == 0 || q->n_block == 0));
    seqRateAdd(q, s->clock_ms, used);
    return SEQ_OK;
}

int seqRecover(seq_state *s, const seq_cmd *cmd)
{
    assert(cmd->op == SEQ_OP_RECOVER);
    /* Never fails: a sequence whose ledger is full keeps its block listed
     * as cached, and the next owner's ALLOCBLOCK tries again. */
    for (seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        if (q->live && q->n_block > 0 &&
            (q->block_term != cmd->term || q->block_node >> 16 != cmd->node >> 16)) {
            (void)seqSkipBlock(q, s->clock_ms);
        }
    }
    return SEQ_OK;
}

/* A deposed owner's USED that never reached the log (the entry was lost
 * with its leadership) comes back as SERVED with the numbers it names.
 * They were handed out, so wherever the ledger now lists them as skipped
 * (the new leader gave the block up) they become final again; the owner's
 * block, if nobody gave it up yet, loses them from its front. Only skipped
 * numbers change: no state that lets a number be issued again is touched,
 * so a late, repeated or mistaken report cannot make a duplicate. The
 * owner reports in serving order and its USED entries precede this one in
 * the log, so its block's front is exactly what it names. */
int seqServed(seq_state *s, const seq_cmd *cmd)
{
    if (cmd->min > cmd->max || (uint64_t)cmd->max - (uint64_t)cmd->min >= SEQ_COUNT_MAX) {
        return SEQ_ERR_RANGE;
    }
    seq_sequence *q;
    int found = seqCachedTarget(s, cmd, &q);
    if (found != SEQ_OK) {
        return found;
    }
    size_t n = 0, cap = 0;
    seq_run *pieces = NULL;
    uint64_t freed = 0; /* numbers that become final: the rate counts them */
    long at = seqLedgerFloor(q, cmd->min);
    for (size_t i = at < 0 ? 0 : (size_t)at; i < q->n_ledger && q->ledger[i].first <= cmd->max;
         i++) {
        const seq_ledger_run *e = &q->ledger[i];
        if (e->state != SEQ_NUM_SKIPPED || e->last < cmd->min) {
            continue;
        }
        if (n == cap) {
            cap = cap == 0 ? 4 : cap * 2;
            pieces = seq_xrealloc(pieces, sizeof(*pieces) * cap);
        }
        pieces[n].first = e->first > cmd->min ? e->first : cmd->min;
        pieces[n].last = e->last < cmd->max ? e->last : cmd->max;
        freed += (uint64_t)pieces[n].last - (uint64_t)pieces[n].first + 1;
        n++;
    }
    if (!seqLedgerRoom(q, n)) { /* a piece inside a run splits it */
        free(pieces);
        return SEQ_ERR_TOO_MANY;
    }
    seqLedgerCutSorted(q, pieces, n);
    free(pieces);
    if (seqOwns(q, cmd)) {
        while (q->n_block > 0 && q->block[0].first >= cmd->min && q->block[0].first <= cmd->max) {
            seq_run *b = &q->block[0];
            if (b->last <= cmd->max) {
                freed += (uint64_t)b->last - (uint64_t)b->first + 1;
                memmove(q->block, q->block + 1, sizeof(*q->block) * (q->n_block - 1));
                q->n_block--;
            } else {
                freed += (uint64_t)cmd->max - (uint64_t)b->first + 1;
                b->first = cmd->max + 1;
            }
        }
        if (q->n_block == 0) {
            free(q->block);
            q->block = NULL;
        }
    }
    seqRateAdd(q, s->clock_ms, freed);
    return SEQ_OK;
}
