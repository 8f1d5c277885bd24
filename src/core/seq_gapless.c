/* seq_gapless — gapless numbering: NEXT and RESERVE take released numbers
 * first (lowest first), then new ones; CONFIRM makes a reservation final;
 * RELEASE returns it to be issued again. Keeps: a number is held by at most
 * one live reservation, named by its grant; a permanent key names exactly
 * the number its holder got; a lapsed reservation counts as released,
 * judged on the elapsed clock so that every replica agrees. */
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

bool seqReissuablePiece(const seq_sequence *q, const seq_ledger_run *e, seq_now now,
                               int64_t *first, int64_t *last, int64_t from)
{
    if (seqEffectiveState(e, now) != SEQ_NUM_RELEASED) {
        return false;
    }
    for (int64_t p = from;;) {
        long i = seqSpanOf(q, p);
        assert(i >= 0); /* ledger numbers were issued: each lies in a range */
        int64_t end = q->ranges[i].max < e->last ? q->ranges[i].max : e->last;
        if (now.wall <= q->ranges[i].not_after) {
            *first = p;
            *last = end;
            return true;
        }
        if (end == e->last) {
            return false;
        }
        p = end + 1;
    }
}

bool seqNothingReissuable(const seq_sequence *q, seq_now now)
{
    return q->n_open == 0 || now.el < q->none_reissuable_before;
}

/* The released numbers a gapless NEXT or RESERVE reuses, planned before
 * anything changes. */
typedef struct seq_reuse {
    seq_run *runs;
    size_t n, cap;
    uint64_t need;      /* numbers still wanted from the ranges */
    long grow;          /* ledger runs the commit adds: a piece cut out of a
                           run keeps the part before it and the part after it */
    int64_t first_open; /* the first open run seen; INT64_MAX: none */
    seq_run stack[4];
} seq_reuse;

static void seqReusePush(seq_reuse *ru, int64_t first, int64_t last)
{
    assert(first <= last && ru->n <= ru->cap);
    if (ru->n == ru->cap) {
        ru->cap *= 2;
        seq_run *grown = seq_xmalloc(sizeof(*grown) * ru->cap);
        memcpy(grown, ru->runs, sizeof(*grown) * ru->n);
        if (ru->runs != ru->stack) {
            free(ru->runs);
        }
        ru->runs = grown;
    }
    ru->runs[ru->n].first = first;
    ru->runs[ru->n].last = last;
    ru->n++;
}

/* Plans to reuse up to ru->need released numbers, lowest first. Scanned
 * from open_from, below which no run is open: a ledger of voided runs
 * before the released ones costs a binary search, not a walk, on every
 * NEXT. */
static void seqReusePlan(seq_sequence *q, seq_now now, seq_reuse *ru)
{
    if (seqNothingReissuable(q, now)) {
        return;
    }
    long scan = seqLedgerFloor(q, q->open_from);
    bool found = false;
    int64_t earliest = INT64_MAX; /* the earliest deadline of a reservation passed */
    size_t i = scan < 0 ? 0 : (size_t)scan;
    for (; i < q->n_ledger && ru->need > 0; i++) {
        const seq_ledger_run *e = &q->ledger[i];
        if (ru->first_open == INT64_MAX && seqIsOpen(e->state)) {
            ru->first_open = e->first;
        }
        if (seqEffectiveState(e, now) == SEQ_NUM_RELEASED) {
            found = true;
        } else if (e->state == SEQ_NUM_RESERVED && e->deadline_ms < earliest) {
            earliest = e->deadline_ms;
        }
        int64_t run_from = e->first; /* where the run starts after earlier cuts */
        int64_t a, z;
        while (ru->need > 0 && seqReissuablePiece(q, e, now, &a, &z, run_from)) {
            uint64_t span = (uint64_t)z - (uint64_t)a;
            int64_t last = span >= ru->need - 1 ? seqAdd(a, ru->need - 1) : z;
            seqReusePush(ru, a, last);
            ru->need -= (uint64_t)last - (uint64_t)a + 1;
            ru->grow += (a > run_from ? 1 : 0) + (last < e->last ? 1 : 0) - 1;
            if (last == e->last) {
                break;
            }
            run_from = last + 1;
        }
    }
    if (!found && i == q->n_ledger) {
        /* walked it all: nothing until the first of these deadlines */
        q->none_reissuable_before = earliest;
    }
}

/* A repeat of a gapless KEY answers the number the key holds: *answered.
 * A NEXT confirms the key's own reservation (or its unknown-fate number),
 * else a lapse would hand the number to a second caller. A key whose
 * reservation lapsed gets a number anew: *stale names its entry. */
static int seqGaplessKeyReplay(seq_state *s, seq_sequence *q, const seq_cmd *cmd, bool reserve,
                               seq_result *out, bool *answered, seq_key_entry **stale)
{
    *answered = false;
    *stale = NULL;
    seq_key_entry *e = seqKeyFind(s, q->incarnation, cmd->key, cmd->key_len);
    if (e == NULL) {
        return s->n_pkeys >= SEQ_PKEYS_MAX ? SEQ_ERR_KEYS_FULL : SEQ_OK;
    }
    assert(e->permanent && e->n_runs == 1);
    int64_t v = e->runs[0].first;
    const seq_ledger_run *run = seqLedgerAt(q, v);
    uint8_t st = run == NULL ? SEQ_NUM_FINAL : seqEffectiveState(run, seqNow(s));
    if (st == SEQ_NUM_VOIDED) {
        return SEQ_ERR_KEY_VOIDED;
    }
    if (st != SEQ_NUM_FINAL && st != SEQ_NUM_RESERVED && st != SEQ_NUM_UNKNOWN) {
        *stale = e; /* its reservation lapsed */
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
    *answered = true;
    return SEQ_OK;
}

/* Commits a plan: the reused numbers leave the ledger (a lapsed
 * reservation lets go of its key; released runs hold none, RELEASE dropped
 * them), the stale key goes, the ranges' cursors move, and the result
 * lists the reused numbers first, then the new ones. */
static void seqGaplessCommit(seq_state *s, seq_sequence *q, const seq_reuse *ru,
                             const seq_take *tk, seq_key_entry *stale, seq_result *out)
{
    for (size_t k = 0; k < ru->n; k++) {
        if (seqLedgerAt(q, ru->runs[k].first)->state == SEQ_NUM_RESERVED) {
            seq_key_entry *held = seqPkeyByNumber(s, q->incarnation, q->period, ru->runs[k].first);
            if (held != NULL && held != stale) {
                seqPkeyDelete(s, held);
            }
        }
    }
    seqLedgerCutSorted(q, ru->runs, ru->n);
    if (ru->first_open != INT64_MAX) {
        q->open_from = ru->first_open; /* no open run starts below the first one seen */
    }
    if (stale != NULL) {
        seqPkeyDelete(s, stale);
    }
    if (ru->need > 0) {
        seqTakeApply(q, tk);
    }
    size_t n_out = ru->n + tk->n_runs;
    assert(n_out > 0);
    seq_run *all = seq_xmalloc(sizeof(*all) * n_out);
    memcpy(all, ru->runs, sizeof(*all) * ru->n);
    if (tk->n_runs > 0) {
        memcpy(all + ru->n, tk->runs, sizeof(*all) * tk->n_runs);
    }
    seqCopyRuns(out, all, n_out);
    free(all);
}

/* RESERVE's number goes to the ledger as reserved until deadline (elapsed
 * clock), under a new grant: what names this reservation, and only it, to
 * an UNDELIVERED report (the number may be reserved again later). */
static void seqReservationOpen(seq_sequence *q, int64_t t, int64_t deadline, seq_result *out,
                               const seq_cmd *cmd)
{
    int64_t v = out->runs[0].first;
    assert(seqLedgerAt(q, v) == NULL);
    seqLedgerPut(q, v, v, SEQ_NUM_RESERVED, t, deadline, "reserved", 8, cmd);
    seqLedgerAt(q, v)->grant = ++q->grants;
    out->grant = q->grants;
}

/* The key now holds the one number the result names, for good. */
static void seqGaplessKeyHold(seq_state *s, const seq_sequence *q, const seq_cmd *cmd,
                              const seq_result *out)
{
    assert(out->n_runs == 1 && out->runs[0].first == out->runs[0].last);
    uint8_t hkey[8 + SEQ_KEY_MAX];
    size_t hkey_len = seqKeyHash(hkey, q->incarnation, cmd->key, cmd->key_len);
    seq_key_entry *e = seqKeyNew(hkey, hkey_len, seqNow(s), 1, out->runs, 1, q->period);
    e->permanent = true;
    seqNumberKey(e->nkey, q->incarnation, q->period, out->runs[0].first);
    seq_pkey_insert(s, e);
}

int seqGaplessTake(seq_state *s, seq_sequence *q, const seq_cmd *cmd, bool reserve,
                   seq_result *out)
{
    assert(q->live && q->mode == SEQ_MODE_GAPLESS);
    int64_t t = s->clock_ms;
    seq_now now = seqNow(s);
    uint32_t count = reserve ? 1 : cmd->count;
    int64_t deadline = INT64_MAX; /* on the elapsed clock */
    if (reserve && cmd->ttl_ms != 0) {
        if (cmd->ttl_ms < 1 || cmd->ttl_ms > SEQ_TTL_MAX_MS) {
            return SEQ_ERR_TTL;
        }
        deadline = now.el > INT64_MAX - cmd->ttl_ms ? INT64_MAX : now.el + cmd->ttl_ms;
    }
    seq_key_entry *stale = NULL;
    if (cmd->key_len > 0) {
        if (count != 1) {
            return SEQ_ERR_MODE; /* a gapless key names one number */
        }
        bool answered;
        int rv = seqGaplessKeyReplay(s, q, cmd, reserve, out, &answered, &stale);
        if (rv != SEQ_OK || answered) {
            return rv;
        }
    }
    seq_reuse ru = {.runs = NULL, .n = 0, .cap = 4, .need = count, .grow = reserve ? 1 : 0,
                    .first_open = INT64_MAX};
    ru.runs = ru.stack;
    seqReusePlan(q, now, &ru);
    seq_take tk;
    seqTakeInit(&tk, q);
    int rv = SEQ_OK;
    if (ru.need > 0) {
        rv = seqTakePlan(q, t, ru.need, false, &tk);
    }
    if (rv == SEQ_OK && ru.grow > 0 && !seqLedgerRoom(q, (size_t)ru.grow)) {
        rv = SEQ_ERR_TOO_MANY;
    }
    if (rv == SEQ_ERR_EXHAUSTED) {
        seqExhausted(q, t, out);
        out->remaining += count - ru.need; /* the released ones count too */
    }
    if (rv == SEQ_OK) {
        seqGaplessCommit(s, q, &ru, &tk, stale, out);
        if (reserve) {
            seqReservationOpen(q, t, deadline, out, cmd);
        }
        if (cmd->key_len > 0) {
            seqGaplessKeyHold(s, q, cmd, out);
        }
        seqRateAdd(q, t, count);
        seqWarnCheck(q, now, out); /* reissued numbers count as left too */
    }
    seqTakeFree(&tk);
    if (ru.runs != ru.stack) {
        free(ru.runs);
    }
    return rv;
}

int seqReserve(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (cmd->key_len > 0 && !seq_key_valid(cmd->key, cmd->key_len)) {
        return SEQ_ERR_KEY;
    }
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    if (q->mode != SEQ_MODE_GAPLESS) {
        return SEQ_ERR_MODE;
    }
    return seqGaplessTake(s, q, cmd, true, out);
}

int seqConfirm(seq_state *s, const seq_cmd *cmd)
{
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    int64_t v = cmd->min;
    if (!seq_issued(q, v)) {
        return SEQ_ERR_NOTISSUED;
    }
    if (seqInBlock(q, v)) {
        return SEQ_ERR_CACHED;
    }
    int rv = seqKeyHolds(s, q, cmd, v);
    if (rv != SEQ_OK) {
        return rv;
    }
    seq_ledger_run *e = seqLedgerAt(q, v);
    if (e == NULL) {
        return SEQ_OK;
    }
    if (seqReservationLapsed(e, seqNow(s))) {
        return SEQ_ERR_EXPIRED;
    }
    if (e->state != SEQ_NUM_RESERVED && e->state != SEQ_NUM_UNKNOWN) {
        return SEQ_ERR_NOTRESERVED;
    }
    /* Only a cut inside a run (of unknown numbers) adds one. */
    if (e->first < v && v < e->last && !seqLedgerRoom(q, 1)) {
        return SEQ_ERR_TOO_MANY;
    }
    seqLedgerCut(q, v, v);
    return SEQ_OK;
}

int seqRelease(seq_state *s, const seq_cmd *cmd)
{
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    if (q->mode != SEQ_MODE_GAPLESS) {
        return SEQ_ERR_MODE;
    }
    int64_t v = cmd->min;
    if (!seq_issued(q, v)) {
        return SEQ_ERR_NOTISSUED;
    }
    seq_ledger_run *e = seqLedgerAt(q, v);
    if (e != NULL && e->state == SEQ_NUM_RELEASED) {
        return SEQ_OK;
    }
    int rv = seqKeyHolds(s, q, cmd, v);
    if (rv != SEQ_OK) {
        return rv;
    }
    if (e == NULL || e->state != SEQ_NUM_RESERVED) {
        return SEQ_ERR_NOTRESERVED;
    }
    /* A reserved run is one number: it becomes a released one, no growth. */
    seqPkeyRelease(s, q->incarnation, q->period, v);
    seqLedgerCut(q, v, v);
    seqLedgerPutText(q, v, v, SEQ_NUM_RELEASED, s->clock_ms, "released", cmd);
    seqWarnLift(q, seqNow(s));
    return SEQ_OK;
}

bool seqPeek(const seq_sequence *q, seq_now now, int64_t *v)
{
    if (q->mode == SEQ_MODE_GAPLESS && !seqNothingReissuable(q, now)) {
        for (size_t i = 0; i < q->n_ledger; i++) {
            int64_t last;
            if (seqReissuablePiece(q, &q->ledger[i], now, v, &last, q->ledger[i].first)) {
                return true;
            }
        }
    }
    for (size_t i = q->cur; i < q->n_ranges; i++) {
        int64_t p = q->ranges[i].next;
        if (seqSpanValidAt(&q->ranges[i], now.wall) && seqSpanSettle(q, i, &p)) {
            *v = p;
            return true;
        }
    }
    return false;
}
