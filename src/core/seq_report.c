/* seq_report — the read-only commands: DESCRIBE, LIST, GAPS, LOOKUP and
 * LOOKUP KEY. They change nothing (const state) and answer what the ledger,
 * the ranges and the clocks say at the state's time. */
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Seconds until left runs out at the last minute's rate (else the last
 * hour's); -1 with no rate at all. */
static int64_t seqEta(uint64_t left, uint64_t per_min, uint64_t per_hour)
{
    unsigned __int128 eta = 0;
    if (per_min > 0) {
        eta = (unsigned __int128)left * 60 / per_min;
    } else if (per_hour > 0) {
        eta = (unsigned __int128)left * 3600 / per_hour;
    } else {
        return -1;
    }
    return eta > INT64_MAX ? INT64_MAX : (int64_t)eta;
}

int seqDescribe(const seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    const seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    int64_t t = s->clock_ms;
    out->name = seq_xmalloc(q->name_len + 1);
    memcpy(out->name, q->name, q->name_len + 1);
    out->name_len = q->name_len;
    out->ranges = seq_xcalloc(q->n_ranges, sizeof(*out->ranges));
    for (size_t i = 0; i < q->n_ranges; i++) {
        const seq_span *r = &q->ranges[i];
        out->ranges[i] = (seq_range_info){r->min, r->max, r->not_before, r->not_after,
                                          t > r->not_after, ""};
        if (r->label != NULL) {
            memcpy(out->ranges[i].label, r->label, strlen(r->label) + 1);
        }
    }
    const seq_doc_format *fmt = q->n_formats > 0 ? &q->formats[q->n_formats - 1] : NULL;
    out->format = seqStrdup(fmt != NULL ? fmt->text : "", fmt != NULL ? fmt->len : 0);
    out->period_kind = q->period_kind;
    out->tz_minutes = q->tz_minutes;
    out->has_period = q->period_kind != 0;
    out->period = q->period;
    out->n_closed = q->n_closed;
    out->n_ranges = q->n_ranges;
    out->has_next = seqPeek(q, seqNow(s), &out->next);
    out->issued = q->issued;
    out->left = seqLeft(q, seqNow(s));
    out->remaining = out->left;
    out->mode = q->mode;
    out->cache = q->cache;
    out->warn = q->warn;
    out->warned = q->warned;
    seqRates(q, t, &out->rate_1m, &out->rate_1h);
    out->eta_s = seqEta(out->left, out->rate_1m, out->rate_1h);
    return SEQ_OK;
}

void seq_each_summary(const seq_state *s, void (*fn)(void *ctx, const seq_summary *q), void *ctx)
{
    for (const seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        if (!q->live) {
            continue;
        }
        uint64_t per_min = 0, per_hour = 0;
        seqRates(q, s->clock_ms, &per_min, &per_hour);
        seq_summary m = {.name = q->name,
                         .issued = q->issued,
                         .remaining = seqLeft(q, seqNow(s)),
                         .warn = q->warn,
                         .warned = q->warned,
                         .open_runs = q->n_open,
                         .ledger_runs = q->n_ledger};
        m.eta_s = seqEta(m.remaining, per_min, per_hour);
        fn(ctx, &m);
    }
}

static int seqNameCompare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int seqList(const seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    bool filtered = cmd->user_len > 0;
    assert(out->names == NULL && out->n_names == 0);
    out->names = seq_xmalloc(sizeof(char *) * (s->n_live == 0 ? 1 : s->n_live));
    size_t n = 0;
    for (seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        if (q->live && (!filtered || seqUserMatches(s, cmd->user, cmd->user_len, q->name))) {
            assert(n < s->n_live);
            out->names[n] = seq_xmalloc(q->name_len + 1);
            memcpy(out->names[n], q->name, q->name_len + 1);
            n++;
        }
    }
    assert(n == s->n_live || filtered);
    out->n_names = n;
    /* names hold no NUL bytes (printable ASCII), so strcmp orders them bytewise */
    qsort(out->names, n, sizeof(char *), seqNameCompare);
    return SEQ_OK;
}

static int seqLedgerRunCompare(const void *a, const void *b)
{
    const seq_ledger_run *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Appends a GAPS row clipped to [lo, hi] (reason copied) if it overlaps. */
static void seqGapsPush(seq_ledger_run **rows, size_t *n, size_t *cap, seq_ledger_run e,
                        int64_t lo, int64_t hi)
{
    assert(*n <= *cap && e.first <= e.last);
    if (e.last < lo || e.first > hi) {
        return;
    }
    if (*n == *cap) {
        *cap = *cap == 0 ? 16 : *cap * 2;
        seq_ledger_run *grown = seq_xrealloc(*rows, sizeof(*grown) * *cap);
        *rows = grown;
    }
    e.first = e.first < lo ? lo : e.first;
    e.last = e.last > hi ? hi : e.last;
    e.reason = seqStrdup(e.reason, strlen(e.reason));
    (*rows)[(*n)++] = e;
}

/* Numbers a GAPS may look at for skipped ones, beyond the rows it returns:
 * a bound on the walk (a skip rule passes over about one number in 11, and
 * burned numbers and ledger runs are jumped, so 10,001 rows take a few
 * hundred thousand steps; the bound is a guard, not the usual end). */
#define SEQ_GAPS_SKIP_WALK_MAX 2000000

/* A stretch of one range that a skipping format printed. */
typedef struct seq_skip_stretch {
    int64_t first, last;
    size_t range;
} seq_skip_stretch;

static int seqStretchCompare(const void *x, const void *y)
{
    const seq_skip_stretch *a = x, *b = y;
    return a->first < b->first ? -1 : a->first > b->first;
}

/* The stretches in [lo, hi] the cursors passed that skipping formats
 * printed, ascending (they are disjoint: a number has one range and one
 * format); malloc'd, *n of them. */
static seq_skip_stretch *seqSkipStretches(const seq_sequence *q, int64_t lo, int64_t hi, size_t *n)
{
    seq_skip_stretch *st = NULL;
    size_t cap = 0;
    *n = 0;
    for (size_t k = 0; k < q->n_formats; k++) {
        if (!q->formats[k].parsed.skips) {
            continue;
        }
        for (size_t i = 0; i < q->n_ranges; i++) {
            const seq_span *r = &q->ranges[i];
            int64_t a, z;
            if (!seqDocCovers(q, k, i, &a, &z)) {
                continue;
            }
            /* what the cursor passed: below next, or all of a full range */
            if (!r->full) {
                if (r->next <= a) {
                    continue;
                }
                z = z < r->next - 1 ? z : r->next - 1;
            }
            a = a > lo ? a : lo;
            z = z < hi ? z : hi;
            if (a > z) {
                continue;
            }
            if (*n == cap) {
                cap = cap == 0 ? 8 : cap * 2;
                st = seq_xrealloc(st, sizeof(*st) * cap);
            }
            st[(*n)++] = (seq_skip_stretch){a, z, i};
        }
    }
    if (*n > 1) {
        qsort(st, *n, sizeof(*st), seqStretchCompare);
    }
    return st;
}

/* The numbers below the cursors a mod11:skip format passed over (derived,
 * never stored), in ascending order, until SEQ_GAPS_MAX + 1 of them: so
 * that with the other rows, also collected from the bottom, the lowest
 * SEQ_GAPS_MAX rows are complete and paging from the last row + 1 misses
 * none. Burned numbers and ledger runs are jumped, not walked. When the
 * walk bound is reached at v, *horizon = v: nothing from v on was looked
 * at (else INT64_MAX). */
static void seqGapsSkipped(const seq_sequence *q, int64_t lo, int64_t hi, seq_ledger_run **rows,
                           size_t *n, size_t *cap, int64_t *horizon)
{
    *horizon = INT64_MAX;
    size_t n_st = 0, found = 0;
    uint64_t steps = 0;
    seq_skip_stretch *st = seqSkipStretches(q, lo, hi, &n_st);
    for (size_t k = 0; k < n_st && found <= SEQ_GAPS_MAX; k++) {
        for (int64_t v = st[k].first;;) {
            if (++steps > SEQ_GAPS_SKIP_WALK_MAX) {
                *horizon = v;
                free(st);
                return;
            }
            long b = seqBurnedFloor(q, v);
            const seq_ledger_run *e = NULL;
            int64_t done = v; /* the last number this step settles */
            if (b >= 0 && q->burned[b].max >= v) {
                done = q->burned[b].max;
            } else if ((e = seqLedgerAt(q, v)) != NULL) {
                done = e->last; /* the ledger's own row says what it is */
            } else if (seqDocSkips(q, st[k].range, v) && seq_issued(q, v)) {
                /* time 0: derived from the format, it has no moment of its own */
                seq_ledger_run row = {v, v, SEQ_NUM_SKIPPED, 0, INT64_MAX, 0,
                                      (char *)SEQ_REASON_NO_CHECK, INT64_MAX, ""};
                seqGapsPush(rows, n, cap, row, lo, hi);
                found++;
            }
            if (done >= st[k].last || found > SEQ_GAPS_MAX) {
                break;
            }
            v = done + 1;
        }
    }
    free(st);
}

/* Drops what lies at or past horizon from the rows: the walk did not get
 * there, and a row beyond a number not looked at would have the next page
 * start past it. */
static void seqGapsClip(seq_ledger_run *rows, size_t *n, int64_t horizon)
{
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        if (rows[i].first >= horizon) {
            free(rows[i].reason);
            continue;
        }
        rows[i].last = rows[i].last < horizon ? rows[i].last : horizon - 1;
        rows[kept++] = rows[i];
    }
    *n = kept;
}

int seqGaps(const seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (cmd->min > cmd->max) {
        return SEQ_ERR_RANGE;
    }
    const seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    int64_t t = s->clock_ms, lo = cmd->min, hi = cmd->max;
    seq_ledger_run *rows = NULL;
    size_t n = 0, cap = 0;
    long at = seqLedgerFloor(q, lo);
    for (size_t i = at < 0 ? 0 : (size_t)at; i < q->n_ledger && q->ledger[i].first <= hi &&
                                              n <= SEQ_GAPS_MAX;
         i++) {
        seq_ledger_run e = q->ledger[i];
        e.until_ms = e.state == SEQ_NUM_RESERVED && e.deadline_ms != INT64_MAX
                         ? seqWallOf(seqNow(s), e.deadline_ms)
                         : INT64_MAX;
        if (seqReservationLapsed(&e, seqNow(s))) {
            e.until_ms = INT64_MAX;
            e.state = SEQ_NUM_RELEASED;
            e.time_ms = seqWallOf(seqNow(s), e.deadline_ms);
            e.reason = "reservation ran out";
        }
        seqGapsPush(&rows, &n, &cap, e, lo, hi);
    }
    for (size_t i = 0; i < q->n_block; i++) {
        seq_ledger_run e = {q->block[i].first, q->block[i].last, SEQ_NUM_CACHED, t, INT64_MAX, 0,
                            (char *)"in the leader's cache block, not yet reported served", INT64_MAX, ""};
        seqGapsPush(&rows, &n, &cap, e, lo, hi);
    }
    for (size_t i = q->cur; i < q->n_ranges; i++) {
        const seq_span *r = &q->ranges[i];
        int64_t p = r->next;
        if (r->full || t <= r->not_after || !seqSpanSettle(q, i, &p) || p > hi ||
            r->max < lo) {
            continue;
        }
        /* the unissued rest, minus burned numbers */
        seq_range *pieces = seq_xmalloc(sizeof(*pieces) * (q->n_burned + 1));
        size_t np = 0;
        seqPushUnburned(q, p, r->max, pieces, &np);
        for (size_t k = 0; k < np; k++) {
            seq_ledger_run e = {pieces[k].min, pieces[k].max, SEQ_NUM_EXPIRED, r->not_after,
                                INT64_MAX, 0, (char *)"range expired (NOTAFTER passed)", INT64_MAX, ""};
            seqGapsPush(&rows, &n, &cap, e, lo, hi);
        }
        free(pieces);
    }
    int64_t horizon;
    seqGapsSkipped(q, lo, hi, &rows, &n, &cap, &horizon);
    if (horizon != INT64_MAX) {
        seqGapsClip(rows, &n, horizon);
    }
    if (n > 1) { /* rows is NULL when there are none */
        qsort(rows, n, sizeof(*rows), seqLedgerRunCompare);
    }
    out->more = n > SEQ_GAPS_MAX || horizon != INT64_MAX;
    while (n > SEQ_GAPS_MAX) {
        free(rows[--n].reason);
    }
    out->ledger = rows;
    out->n_ledger = n;
    return SEQ_OK;
}

int seqLookup(const seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    const seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    int64_t v = cmd->min, t = s->clock_ms;
    const seq_ledger_run *e = seqLedgerAt(q, v);
    const char *reason = NULL;
    if (e != NULL) {
        seq_now now = seqNow(s);
        bool lapsed = seqReservationLapsed(e, now);
        out->state = seqEffectiveState(e, now);
        out->time_ms = lapsed ? seqWallOf(now, e->deadline_ms) : e->time_ms;
        out->until_ms = e->state == SEQ_NUM_RESERVED && !lapsed && e->deadline_ms != INT64_MAX
                            ? seqWallOf(now, e->deadline_ms)
                            : INT64_MAX;
        reason = lapsed ? "reservation ran out" : e->reason;
        memcpy(out->by, e->by, sizeof(out->by));
    } else if (seq_issued(q, v) && !seqIssuedDoc(q, v)) {
        out->state = SEQ_NUM_SKIPPED; /* passed over: its check has no digit */
        out->time_ms = INT64_MIN;
        reason = SEQ_REASON_NO_CHECK;
    } else if (seq_issued(q, v)) {
        bool cached = seqInBlock(q, v);
        out->state = cached ? SEQ_NUM_CACHED : SEQ_NUM_FINAL;
        out->time_ms = INT64_MIN;
    } else {
        long i = seqSpanOf(q, v);
        int64_t p = i >= 0 ? q->ranges[i].next : 0;
        bool expired = i >= 0 && t > q->ranges[i].not_after && !q->ranges[i].full &&
                       seqSpanSettle(q, (size_t)i, &p) && v >= p && v >= seqSpanLow(q, (size_t)i);
        long b = seqBurnedFloor(q, v);
        expired = expired && (b < 0 || q->burned[b].max < v);
        out->state = expired ? SEQ_NUM_EXPIRED : SEQ_NUM_NOT_ISSUED;
        out->time_ms = expired ? q->ranges[i].not_after : INT64_MIN;
        reason = expired ? "range expired (NOTAFTER passed)" : NULL;
    }
    if (reason != NULL) {
        out->reason = seqStrdup(reason, strlen(reason));
    }
    out->has_period = q->period_kind != 0;
    out->period = q->period;
    out->period_kind = q->period_kind;
    const seq_key_entry *k = q->mode == SEQ_MODE_GAPLESS && out->state != SEQ_NUM_RELEASED
                                 ? seqPkeyByNumber(s, q->incarnation, q->period, v)
                                 : NULL;
    if (k != NULL) {
        out->key = seqStrdup((const char *)k->hkey + 8, k->hkey_len - 8);
        if (out->time_ms == INT64_MIN) {
            out->time_ms = k->inserted_ms;
        }
    }
    return SEQ_OK;
}

int seqLookupKey(const seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (!seq_key_valid(cmd->key, cmd->key_len)) {
        return SEQ_ERR_KEY;
    }
    const seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    const seq_key_entry *e = seqKeyFind(s, q->incarnation, cmd->key, cmd->key_len);
    if (e != NULL) {
        seqCopyRuns(out, e->runs, e->n_runs);
        out->time_ms = e->inserted_ms;
    }
    return SEQ_OK;
}
