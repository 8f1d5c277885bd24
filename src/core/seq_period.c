/* seq_period — periodic sequences (CREATE ... PERIOD yearly|monthly [TZ
 * +hh:mm]): each period numbers from the start of the ranges again.
 *
 * The period of a command is the one the entry's stamp (the leader's wall
 * clock) falls in, at the sequence's offset, and never earlier than the
 * sequence's current one: a leader whose clock is behind issues in the
 * current period; one whose clock is ahead closes the current period early
 * and for good (it can end a year too soon, never reopen one, so no number
 * of a period is issued twice). A period closes lazily, at the first
 * command on the sequence that falls in a later one: its cursors, ledger
 * and burned history are kept as a book (seq_period_book), answerable with
 * PERIOD p for the sequence's life; a period in which nothing was issued
 * keeps no book (it reads as empty). A command on an old period (CONFIRM
 * of a reservation made before the boundary, GAPS ... PERIOD 2026) runs on
 * the sequence with that book swapped in, so every rule of the modes holds
 * in old periods as it does in the current one; only NEXT and RESERVE
 * never run in an old period (a KEY retry is answered from its key). */
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "period.h"

int64_t seqPeriodNow(const seq_state *s, const seq_sequence *q)
{
    if (q->period_kind == PERIOD_NONE) {
        return 0;
    }
    int64_t p = period_of(s->clock_ms, q->period_kind, q->tz_minutes);
    return p > q->period ? p : q->period;
}

size_t seqPeriodText(const seq_sequence *q, char *out)
{
    if (q->period_kind == PERIOD_NONE) {
        out[0] = '\0';
        return 0;
    }
    return period_text(q->period, q->period_kind, out);
}

void seqPeriodSwapBook(seq_sequence *q, seq_period_book *b)
{
#define SEQ_SWAP(field_q, field_b)                                                                 \
    do {                                                                                           \
        __typeof__(q->field_q) tmp_ = q->field_q;                                                  \
        q->field_q = b->field_b;                                                                   \
        b->field_b = tmp_;                                                                         \
    } while (0)
    SEQ_SWAP(period, period);
    SEQ_SWAP(ranges, ranges);
    SEQ_SWAP(cur, cur);
    SEQ_SWAP(issued, issued);
    SEQ_SWAP(n_open, n_open);
    SEQ_SWAP(warned, warned);
    SEQ_SWAP(ledger, ledger);
    SEQ_SWAP(n_ledger, n_ledger);
    SEQ_SWAP(ledger_cap, ledger_cap);
    SEQ_SWAP(burned, burned);
    SEQ_SWAP(n_burned, n_burned);
#undef SEQ_SWAP
    /* hints about the ledger: not knowing is always right */
    q->open_from = INT64_MIN;
    q->none_reissuable_before = INT64_MIN;
}

/* Spans as they stand at the start of a period: nothing taken (START on
 * the first), labels borrowed from q. */
static seq_span *seqPeriodFreshSpans(const seq_sequence *q)
{
    seq_span *r = seq_xmalloc(sizeof(*r) * q->n_ranges);
    for (size_t i = 0; i < q->n_ranges; i++) {
        r[i] = q->ranges[i];
        r[i].next = seqSpanLow(q, i);
        r[i].full = false;
    }
    return r;
}

/* A book for period p in which nothing was issued. */
static void seqPeriodEmptyBook(const seq_sequence *q, int64_t p, seq_period_book *b)
{
    memset(b, 0, sizeof(*b));
    b->period = p;
    b->ranges = seqPeriodFreshSpans(q);
}

static void seqPeriodBookFree(seq_period_book *b)
{
    for (size_t i = 0; i < b->n_ledger; i++) {
        free(b->ledger[i].reason);
    }
    free(b->ledger);
    free(b->ranges); /* labels are borrowed */
    free(b->burned);
    memset(b, 0, sizeof(*b));
}

void seqPeriodFree(seq_sequence *q)
{
    for (size_t k = 0; k < q->n_closed; k++) {
        seqPeriodBookFree(&q->closed[k]);
    }
    free(q->closed);
    q->closed = NULL;
    q->n_closed = 0;
}

void seqPeriodCatchUp(const seq_state *s, seq_sequence *q)
{
    assert(q->live);
    int64_t now = seqPeriodNow(s, q);
    if (q->period_kind == PERIOD_NONE || now == q->period) {
        return;
    }
    seqPeriodRollTo(q, now);
}

void seqPeriodRollTo(seq_sequence *q, int64_t now)
{
    assert(q->live && q->period_kind != PERIOD_NONE);
    assert(now > q->period && q->n_block == 0);
    /* The new period's book goes in; the old one comes out into it. */
    seq_period_book b;
    seqPeriodEmptyBook(q, now, &b);
    seqPeriodSwapBook(q, &b);
    q->warned = false;
    if (b.issued == 0 && b.n_ledger == 0) {
        seqPeriodBookFree(&b); /* nothing happened in it: it reads as empty */
        return;
    }
    q->closed = seq_xrealloc(q->closed, sizeof(*q->closed) * (q->n_closed + 1));
    q->closed[q->n_closed++] = b;
}

void seqPeriodAddRange(seq_sequence *q)
{
    assert(q->n_ranges >= 1);
    const seq_span *added = &q->ranges[q->n_ranges - 1];
    for (size_t k = 0; k < q->n_closed; k++) {
        seq_period_book *b = &q->closed[k];
        b->ranges = seq_xrealloc(b->ranges, sizeof(*b->ranges) * q->n_ranges);
        b->ranges[q->n_ranges - 1] = *added; /* nothing issued from it then */
    }
}

/* The closed book of period p, or NULL. */
static seq_period_book *seqPeriodBook(seq_sequence *q, int64_t p)
{
    size_t lo = 0, hi = q->n_closed;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (q->closed[mid].period < p) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < q->n_closed && q->closed[lo].period == p ? &q->closed[lo] : NULL;
}

int seqInPeriod(seq_state *s, const seq_cmd *cmd,
                int (*fn)(seq_state *s, const seq_cmd *cmd, seq_result *out), seq_result *out)
{
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL || !cmd->has_period) {
        return fn(s, cmd, out);
    }
    if (q->period_kind == PERIOD_NONE || cmd->period_kind != q->period_kind ||
        cmd->period > q->period) {
        return SEQ_ERR_PERIOD;
    }
    seq_cmd here = *cmd;
    here.has_period = false;
    if (cmd->period == q->period) {
        return fn(s, &here, out);
    }
    seq_period_book *b = seqPeriodBook(q, cmd->period);
    seq_period_book empty;
    if (b == NULL) {
        seqPeriodEmptyBook(q, cmd->period, &empty);
        b = &empty;
    }
    seqPeriodSwapBook(q, b);
    int rv = fn(s, &here, out);
    seqPeriodSwapBook(q, b);
    if (b == &empty) {
        seqPeriodBookFree(&empty);
    }
    return rv;
}

/* The replay of a key whose numbers were issued in period p (swapped in):
 * what seqNextStrict and the gapless key check answer, without taking a
 * number. *fresh: the key's reservation lapsed, so the key starts anew in
 * the current period. */
static int seqReplayIn(seq_state *s, seq_sequence *q, seq_key_entry *e, const seq_cmd *cmd,
                       bool reserve, seq_result *out, bool *fresh)
{
    *fresh = false;
    if (!e->permanent) {
        if (e->count != cmd->count) {
            return SEQ_ERR_KEY_REUSED;
        }
        if (seqRunsVoided(q, e->runs, e->n_runs)) {
            return SEQ_ERR_KEY_VOIDED;
        }
        seqCopyRuns(out, e->runs, e->n_runs);
        out->replayed = true;
        if (q->n_ledger > 0 && seqLedgerRoom(q, e->n_runs)) {
            seqUnknownDelivered(q, e->runs, e->n_runs);
        }
        return SEQ_OK;
    }
    int64_t v = e->runs[0].first;
    const seq_ledger_run *run = seqLedgerAt(q, v);
    uint8_t st = run == NULL ? SEQ_NUM_FINAL : seqEffectiveState(run, seqNow(s));
    if (st == SEQ_NUM_VOIDED) {
        return SEQ_ERR_KEY_VOIDED;
    }
    if (st != SEQ_NUM_FINAL && st != SEQ_NUM_RESERVED && st != SEQ_NUM_UNKNOWN) {
        seqPkeyDelete(s, e); /* lapsed: the old period's number stays a gap */
        *fresh = true;
        return SEQ_OK;
    }
    if (!reserve && st != SEQ_NUM_FINAL) {
        if (run->first < v && v < run->last && !seqLedgerRoom(q, 1)) {
            return SEQ_ERR_TOO_MANY;
        }
        seqLedgerCut(q, v, v);
    }
    seqCopyRuns(out, e->runs, 1);
    out->replayed = true;
    return SEQ_OK;
}

int seqKeyedElsewhere(seq_state *s, seq_sequence *q, const seq_cmd *cmd, bool reserve,
                      seq_result *out, bool *handled)
{
    *handled = false;
    if (q->period_kind == PERIOD_NONE || cmd->key_len == 0 ||
        !seq_key_valid(cmd->key, cmd->key_len)) {
        return SEQ_OK;
    }
    seq_key_entry *e = seqKeyFind(s, q->incarnation, cmd->key, cmd->key_len);
    if (e == NULL || e->period == q->period) {
        return SEQ_OK;
    }
    assert(e->period < q->period);
    int64_t p = e->period;
    seq_period_book *b = seqPeriodBook(q, p);
    seq_period_book empty;
    if (b == NULL) {
        seqPeriodEmptyBook(q, p, &empty);
        b = &empty;
    }
    seqPeriodSwapBook(q, b);
    bool fresh;
    int rv = seqReplayIn(s, q, e, cmd, reserve, out, &fresh);
    seqPeriodSwapBook(q, b);
    if (b == &empty) {
        seqPeriodBookFree(&empty);
    }
    if (!fresh) {
        *handled = true;
        out->has_period = true;
        out->period = p;
        out->period_kind = q->period_kind;
    }
    return rv;
}
