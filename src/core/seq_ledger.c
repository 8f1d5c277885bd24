/* seq_ledger — the ledger: the exceptions among a sequence's issued numbers
 * (reserved, released, voided, skipped, unknown) as sorted, disjoint runs,
 * equal neighbours merged, at most SEQ_LEDGER_MAX; and VOID, its one
 * command. Keeps: every run lies inside the issued numbers; n_open counts
 * the reserved and released runs; a reserved run is one number. */
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

long seqLedgerFloor(const seq_sequence *q, int64_t v)
{
    long lo = 0, hi = (long)q->n_ledger - 1, found = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (q->ledger[mid].first <= v) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

seq_ledger_run *seqLedgerAt(const seq_sequence *q, int64_t v)
{
    long at = seqLedgerFloor(q, v);
    return at >= 0 && q->ledger[at].last >= v ? &q->ledger[at] : NULL;
}

bool seqIsOpen(uint8_t state)
{
    return state == SEQ_NUM_RESERVED || state == SEQ_NUM_RELEASED;
}

bool seqReservationLapsed(const seq_ledger_run *e, seq_now now)
{
    return e->state == SEQ_NUM_RESERVED && e->deadline_ms != INT64_MAX &&
           e->deadline_ms <= now.el;
}

uint8_t seqEffectiveState(const seq_ledger_run *e, seq_now now)
{
    return seqReservationLapsed(e, now) ? SEQ_NUM_RELEASED : e->state;
}

static void seqLedgerGrow(seq_sequence *q, size_t extra)
{
    if (q->n_ledger + extra <= q->ledger_cap) {
        return;
    }
    size_t cap = q->ledger_cap == 0 ? 4 : q->ledger_cap;
    while (cap < q->n_ledger + extra) {
        cap *= 2;
    }
    seq_ledger_run *grown = seq_xrealloc(q->ledger, sizeof(*grown) * cap);
    q->ledger = grown;
    q->ledger_cap = cap;
}

bool seqLedgerRoom(const seq_sequence *q, size_t extra)
{
    return q->n_ledger + extra <= SEQ_LEDGER_MAX;
}

void seqLedgerCut(seq_sequence *q, int64_t a, int64_t b)
{
    long lo = seqLedgerFloor(q, a);
    size_t i = lo < 0 ? 0 : (size_t)lo;
    if (lo >= 0 && q->ledger[i].last < a) {
        i++;
    }
    size_t j = i; /* runs i..j-1 overlap [a, b] */
    while (j < q->n_ledger && q->ledger[j].first <= b) {
        j++;
    }
    if (i == j) {
        return;
    }
    seq_ledger_run keep[2];
    size_t n_keep = 0;
    if (q->ledger[i].first < a) {
        keep[n_keep] = q->ledger[i];
        keep[n_keep].last = a - 1;
        keep[n_keep].reason = seqStrdup(q->ledger[i].reason, strlen(q->ledger[i].reason));
        n_keep++;
    }
    if (q->ledger[j - 1].last > b) {
        keep[n_keep] = q->ledger[j - 1];
        keep[n_keep].first = b + 1;
        keep[n_keep].reason = seqStrdup(q->ledger[j - 1].reason, strlen(q->ledger[j - 1].reason));
        n_keep++;
    }
    for (size_t k = i; k < j; k++) {
        if (seqIsOpen(q->ledger[k].state)) {
            q->n_open--;
        }
        free(q->ledger[k].reason);
    }
    for (size_t k = 0; k < n_keep; k++) {
        if (seqIsOpen(keep[k].state)) {
            q->n_open++;
        }
    }
    size_t removed = j - i;
    if (n_keep > removed) {
        seqLedgerGrow(q, n_keep - removed);
    }
    memmove(q->ledger + i + n_keep, q->ledger + j, sizeof(*q->ledger) * (q->n_ledger - j));
    memcpy(q->ledger + i, keep, sizeof(*keep) * n_keep);
    q->n_ledger = q->n_ledger - removed + n_keep;
}

void seqLedgerCutSorted(seq_sequence *q, const seq_run *pieces, size_t n)
{
    if (n == 0) {
        return;
    }
    size_t extra = 0; /* a piece strictly inside a run leaves two parts */
    for (size_t k = 0; k < n; k++) {
        const seq_ledger_run *e = seqLedgerAt(q, pieces[k].first);
        assert(e != NULL && pieces[k].last <= e->last);
        extra += e->first < pieces[k].first && pieces[k].last < e->last ? 1 : 0;
    }
    size_t allocated = q->n_ledger + extra;
    seq_ledger_run *out = seq_xmalloc(sizeof(*out) * allocated);
    size_t m = 0, k = 0;
    for (size_t i = 0; i < q->n_ledger; i++) {
        seq_ledger_run e = q->ledger[i];
        bool first_part = true;
        while (k < n && pieces[k].first <= e.last) {
            assert(pieces[k].first >= e.first);
            if (pieces[k].first > e.first) {
                out[m] = e;
                out[m].last = pieces[k].first - 1;
                out[m].reason = first_part ? e.reason : seqStrdup(e.reason, strlen(e.reason));
                first_part = false;
                m++;
            }
            if (pieces[k].last == e.last) {
                e.first = e.last; /* consumed: nothing of e is left */
                k++;
                goto next_run;
            }
            e.first = pieces[k].last + 1;
            k++;
        }
        out[m] = e;
        out[m].reason = first_part ? e.reason : seqStrdup(e.reason, strlen(e.reason));
        m++;
        continue;
    next_run:
        if (first_part) {
            free(e.reason);
        }
    }
    assert(k == n);
    free(q->ledger);
    q->ledger = out;
    q->n_ledger = m;
    q->ledger_cap = allocated; /* what was allocated, not m + extra: whole runs may be gone */
    q->n_open = 0;
    for (size_t i = 0; i < m; i++) {
        q->n_open += seqIsOpen(out[i].state) ? 1 : 0;
    }
}

static bool seqLedgerMergeable(const seq_ledger_run *x, const seq_ledger_run *y)
{
    return x->state != SEQ_NUM_RESERVED && x->state == y->state && x->time_ms == y->time_ms &&
           x->last != INT64_MAX && x->last + 1 == y->first && strcmp(x->reason, y->reason) == 0 &&
           strcmp(x->by, y->by) == 0;
}

/* The user of cmd into by (a valid name, or ""). */
static void seqLedgerBy(char by[SEQ_USER_MAX + 1], const seq_cmd *cmd)
{
    size_t n = cmd != NULL && seq_user_valid(cmd->user, cmd->user_len) ? cmd->user_len : 0;
    if (n > 0) {
        memcpy(by, cmd->user, n);
    }
    by[n] = '\0';
}

void seqLedgerPut(seq_sequence *q, int64_t a, int64_t b, uint8_t state, int64_t time_ms,
                         int64_t deadline_ms, const char *reason, size_t reason_len,
                         const seq_cmd *by)
{
    long at = seqLedgerFloor(q, a);
    assert(at < 0 || q->ledger[at].last < a);
    size_t ins = (size_t)(at + 1);
    assert(ins == q->n_ledger || q->ledger[ins].first > b);
    seqLedgerGrow(q, 1);
    memmove(q->ledger + ins + 1, q->ledger + ins, sizeof(*q->ledger) * (q->n_ledger - ins));
    seq_ledger_run *e = &q->ledger[ins];
    e->first = a;
    e->last = b;
    e->state = state;
    e->time_ms = time_ms;
    e->deadline_ms = deadline_ms;
    e->grant = 0;
    e->reason = seqStrdup(reason, reason_len);
    seqLedgerBy(e->by, by);
    q->n_ledger++;
    if (seqIsOpen(state)) {
        q->n_open++;
        q->open_from = a < q->open_from ? a : q->open_from;
        /* released now, or lapsing at its deadline: a hint of "nothing to
         * issue again" must not outlive either */
        int64_t from = state == SEQ_NUM_RELEASED ? INT64_MIN : deadline_ms;
        q->none_reissuable_before =
            from < q->none_reissuable_before ? from : q->none_reissuable_before;
    }
    if (ins + 1 < q->n_ledger && seqLedgerMergeable(e, e + 1)) {
        e->last = e[1].last;
        free(e[1].reason);
        if (seqIsOpen(e[1].state)) {
            q->n_open--;
        }
        memmove(e + 1, e + 2, sizeof(*e) * (q->n_ledger - ins - 2));
        q->n_ledger--;
    }
    if (ins > 0 && seqLedgerMergeable(e - 1, e)) {
        e[-1].last = e->last;
        free(e->reason);
        if (seqIsOpen(e->state)) {
            q->n_open--;
        }
        memmove(e, e + 1, sizeof(*e) * (q->n_ledger - ins - 1));
        q->n_ledger--;
    }
}

/* How many more runs setting v alone to a state takes: a split adds one,
 * a new run one, a merge with a neighbour none. */
static size_t seqLedgerRunsFor(const seq_sequence *q, int64_t v, uint8_t state, int64_t time_ms,
                               const char *reason, size_t reason_len, const seq_cmd *by)
{
    const seq_ledger_run *e = seqLedgerAt(q, v);
    if (e != NULL) {
        return e->first == e->last ? 0 : (e->first < v && v < e->last ? 2 : 1);
    }
    long at = seqLedgerFloor(q, v);
    size_t nx = (size_t)(at + 1);
    seq_ledger_run probe = {v, v, state, time_ms, INT64_MAX, 0, NULL, INT64_MAX, ""};
    seqLedgerBy(probe.by, by);
    char *copy = seqStrdup(reason, reason_len);
    probe.reason = copy;
    bool merges = (at >= 0 && seqLedgerMergeable(&q->ledger[at], &probe)) ||
                  (nx < q->n_ledger && seqLedgerMergeable(&probe, &q->ledger[nx]));
    free(copy);
    return merges ? 0 : 1;
}

void seqLedgerPutText(seq_sequence *q, int64_t a, int64_t b, uint8_t state,
                             int64_t time_ms, const char *reason, const seq_cmd *by)
{
    seqLedgerPut(q, a, b, state, time_ms, INT64_MAX, reason, strlen(reason), by);
}

void seqLedgerClear(seq_sequence *q)
{
    for (size_t i = 0; i < q->n_ledger; i++) {
        free(q->ledger[i].reason);
    }
    free(q->ledger);
    q->ledger = NULL;
    q->n_ledger = 0;
    q->ledger_cap = 0;
    q->n_open = 0;
    q->none_reissuable_before = INT64_MIN;
}

bool seqLedgerValid(const seq_sequence *q)
{
    if (q->n_ledger > SEQ_LEDGER_MAX || q->n_ledger > q->ledger_cap) {
        return false;
    }
    if (q->n_ledger == 0 && q->n_block == 0) {
        return q->n_open == 0;
    }
    size_t n_iv = 0;
    seq_range *iv = seqIssuedIntervals(q, &n_iv);
    bool ok = true;
    size_t open = 0;
    /* every run and block run wholly inside one interval of issued numbers */
#define SEQ_INSIDE_ISSUED(lo_, hi_)                                                    \
    do {                                                                               \
        long l_ = 0, h_ = (long)n_iv - 1, k_ = -1;                                     \
        while (l_ <= h_) {                                                             \
            long m_ = l_ + (h_ - l_) / 2;                                              \
            if (iv[m_].min <= (lo_)) {                                                 \
                k_ = m_;                                                               \
                l_ = m_ + 1;                                                           \
            } else {                                                                   \
                h_ = m_ - 1;                                                           \
            }                                                                          \
        }                                                                              \
        ok = ok && k_ >= 0 && iv[k_].max >= (hi_);                                     \
    } while (0)
    for (size_t i = 0; i < q->n_ledger && ok; i++) {
        const seq_ledger_run *e = &q->ledger[i];
        ok = e->first <= e->last && e->state >= SEQ_NUM_VOIDED && e->state <= SEQ_NUM_UNKNOWN &&
             e->state != SEQ_NUM_EXPIRED && e->reason != NULL &&
             seq_reason_valid(e->reason, strnlen(e->reason, SEQ_REASON_MAX + 1)) &&
             (e->by[0] == '\0' || seq_user_valid(e->by, strnlen(e->by, SEQ_USER_MAX + 1))) &&
             (e->state != SEQ_NUM_RESERVED ||
              e->first == e->last) &&
             (e->state == SEQ_NUM_RESERVED ? e->grant >= 1 && e->grant <= q->grants
                                           : e->grant == 0);
        if (ok && i > 0) { /* sorted, disjoint, and equal neighbours merged */
            ok = q->ledger[i - 1].last < e->first && !seqLedgerMergeable(&q->ledger[i - 1], e);
        }
        open += seqIsOpen(e->state) ? 1 : 0;
        SEQ_INSIDE_ISSUED(e->first, e->last);
    }
    for (size_t i = 0; i < q->n_block && ok; i++) {
        const seq_run *b = &q->block[i];
        ok = b->first <= b->last && q->mode == SEQ_MODE_CACHED;
        if (ok) {
            long at = seqLedgerFloor(q, b->last);
            ok = at < 0 || q->ledger[at].last < b->first;
        }
        for (size_t j = 0; j < i && ok; j++) {
            ok = !seqOverlap(b->first, b->last, q->block[j].first, q->block[j].last);
        }
        SEQ_INSIDE_ISSUED(b->first, b->last);
    }
#undef SEQ_INSIDE_ISSUED
    free(iv);
    return ok && open == q->n_open;
}

void seqUnknownDelivered(seq_sequence *q, const seq_run *runs, size_t n)
{
    for (size_t i = 0; i < n && q->n_ledger > 0; i++) {
        int64_t v = runs[i].first;
        for (;;) {
            long at = seqLedgerFloor(q, v);
            size_t k = at < 0 ? 0 : (size_t)at;
            if (at >= 0 && q->ledger[k].last < v) {
                k++;
            }
            while (k < q->n_ledger && q->ledger[k].first <= runs[i].last &&
                   q->ledger[k].state != SEQ_NUM_UNKNOWN) {
                k++;
            }
            if (k == q->n_ledger || q->ledger[k].first > runs[i].last) {
                break;
            }
            int64_t a = q->ledger[k].first > v ? q->ledger[k].first : v;
            int64_t b = q->ledger[k].last < runs[i].last ? q->ledger[k].last : runs[i].last;
            seqLedgerCut(q, a, b); /* a cut at most splits off nothing new past b */
            if (b == runs[i].last) {
                break;
            }
            v = b + 1;
        }
    }
}

bool seqRunsVoided(const seq_sequence *q, const seq_run *runs, size_t n)
{
    for (size_t i = 0; i < n && q->n_ledger > 0; i++) {
        long at = seqLedgerFloor(q, runs[i].first);
        size_t k = at < 0 ? 0 : (size_t)at;
        for (; k < q->n_ledger && q->ledger[k].first <= runs[i].last; k++) {
            if (q->ledger[k].last >= runs[i].first && q->ledger[k].state == SEQ_NUM_VOIDED) {
                return true;
            }
        }
    }
    return false;
}

int seqVoid(seq_state *s, const seq_cmd *cmd)
{
    if (!seq_reason_valid(cmd->text, cmd->text_len)) {
        return SEQ_ERR_REASON;
    }
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    int64_t v = cmd->min;
    if (!seqIssuedDoc(q, v)) {
        return SEQ_ERR_NOTISSUED;
    }
    if (seqInBlock(q, v)) {
        return SEQ_ERR_CACHED;
    }
    const seq_ledger_run *e = seqLedgerAt(q, v);
    if (e != NULL && e->state == SEQ_NUM_VOIDED) {
        return SEQ_OK;
    }
    if (!seqLedgerRoom(q, seqLedgerRunsFor(q, v, SEQ_NUM_VOIDED, s->clock_ms, cmd->text,
                                           cmd->text_len, cmd))) {
        return SEQ_ERR_TOO_MANY;
    }
    seqLedgerCut(q, v, v);
    seqLedgerPut(q, v, v, SEQ_NUM_VOIDED, s->clock_ms, INT64_MAX, cmd->text, cmd->text_len, cmd);
    /* The hot path asserts only what VOID can change: order around v. */
    long k = seqLedgerFloor(q, v);
    assert(k >= 0 && q->ledger[k].first <= v && v <= q->ledger[k].last);
    assert(k == 0 || q->ledger[k - 1].last < q->ledger[k].first);
    assert((size_t)k + 1 == q->n_ledger || q->ledger[k].last < q->ledger[k + 1].first);
    return SEQ_OK;
}
