/* seq — transitions of the sequence state machine (see seq.h for the
 * guarantees and seq_internal.h for the invariants of the data).
 *
 * Arithmetic at the int64 edges: a range may span the whole int64 domain
 * (2^64 numbers), so widths and offsets are computed in uint64 as
 * differences, never as max - min + 1, and totals in unsigned __int128.
 * A failed command returns before the first change to the state. */
#include "seq_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *seq_xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL) {
        /* A replica that skipped a command would diverge: stop instead. */
        fprintf(stderr, "seq: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

void *seq_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
    if (p == NULL) {
        fprintf(stderr, "seq: out of memory (%zu x %zu bytes)\n", n, size);
        abort();
    }
    return p;
}

const char *seq_status_text(int status)
{
    switch (status) {
    case SEQ_OK: return "OK";
    case SEQ_ERR_NAME: return "ERR invalid sequence name (1-200 printable ASCII bytes, no spaces)";
    case SEQ_ERR_KEY: return "ERR invalid key (1-200 printable ASCII bytes, no spaces)";
    case SEQ_ERR_RANGE: return "ERR invalid range: min must not exceed max and START must lie in [min, max]";
    case SEQ_ERR_COUNT: return "ERR COUNT must be between 1 and 1000000";
    case SEQ_ERR_EXISTS: return "EXISTS sequence exists with a different definition";
    case SEQ_ERR_NOSEQ: return "NOSEQ no such sequence";
    case SEQ_ERR_OVERLAP: return "ERR range overlaps a range of the sequence";
    case SEQ_ERR_EXHAUSTED: return "EXHAUSTED not enough numbers left in the sequence's ranges";
    case SEQ_ERR_TOO_MANY: return "ERR limit reached (ranges per sequence, sequences, history intervals, or ledger runs)";
    case SEQ_ERR_KEYS_FULL: return "ERR idempotency key table is full, retry later or without KEY";
    case SEQ_ERR_KEY_REUSED: return "ERR key was used before with a different COUNT";
    case SEQ_ERR_BADCMD: return "ERR unknown command in log entry";
    case SEQ_ERR_NOTISSUED: return "ERR the sequence has not issued that number";
    case SEQ_ERR_REASON: return "ERR invalid reason (1-200 printable ASCII bytes, spaces allowed)";
    default: return "ERR unknown error";
    }
}

static bool seqPrintable(const char *p, size_t len, size_t max)
{
    if (p == NULL || len == 0 || len > max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f) {
            return false;
        }
    }
    return true;
}

bool seq_name_valid(const char *name, size_t len)
{
    return seqPrintable(name, len, SEQ_NAME_MAX);
}

bool seq_key_valid(const char *key, size_t len)
{
    return seqPrintable(key, len, SEQ_KEY_MAX);
}

bool seq_reason_valid(const char *reason, size_t len)
{
    if (reason == NULL || len == 0 || len > SEQ_REASON_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)reason[i];
        if (c < 0x20 || c >= 0x7f) {
            return false;
        }
    }
    return true;
}

static char *seqStrdup(const char *p, size_t len)
{
    char *d = seq_xmalloc(len + 1);
    memcpy(d, p, len);
    d[len] = '\0';
    return d;
}

void seq_result_free(seq_result *r)
{
    if (r->runs != &r->run_inline) {
        free(r->runs);
    }
    free(r->name);
    free(r->ranges);
    for (size_t i = 0; i < r->n_names; i++) {
        free(r->names[i]);
    }
    free(r->names);
    for (size_t i = 0; i < r->n_ledger; i++) {
        free(r->ledger[i].reason);
    }
    free(r->ledger);
    free(r->reason);
    memset(r, 0, sizeof(*r));
}

seq_state *seq_state_new(const seq_limits *limits)
{
    seq_state *s = seq_xcalloc(1, sizeof(*s));
    s->limits = *limits;
    s->clock_ms = INT64_MIN;
    return s;
}

static void seqKeyFree(seq_key_entry *e)
{
    free(e->hkey);
    free(e->runs);
    free(e);
}

/* Frees the ledger's runs and reasons and leaves it empty. */
static void seqLedgerClear(seq_sequence *q)
{
    for (size_t i = 0; i < q->n_ledger; i++) {
        free(q->ledger[i].reason);
    }
    free(q->ledger);
    q->ledger = NULL;
    q->n_ledger = 0;
    q->ledger_cap = 0;
}

static void seqSequenceFree(seq_sequence *q)
{
    seqLedgerClear(q);
    free(q->name);
    free(q->ranges);
    free(q->burned);
    free(q);
}

void seq_state_free(seq_state *s)
{
    if (s == NULL) {
        return;
    }
    seq_key_entry *e, *etmp;
    HASH_ITER(hh, s->keys, e, etmp)
    {
        HASH_DEL(s->keys, e);
        seqKeyFree(e);
    }
    seq_sequence *q, *qtmp;
    HASH_ITER(hh, s->by_name, q, qtmp)
    {
        HASH_DEL(s->by_name, q);
        seqSequenceFree(q);
    }
    free(s);
}

size_t seq_count_live(const seq_state *s)
{
    return s->n_live;
}

size_t seq_count_keys(const seq_state *s)
{
    return s->n_keys;
}

int64_t seq_clock_ms(const seq_state *s)
{
    return s->clock_ms;
}

/* ---- idempotency keys ------------------------------------------------- */

static void seqKeyRemoveOldest(seq_state *s)
{
    seq_key_entry *e = s->oldest_key;
    assert(e != NULL);
    s->oldest_key = e->newer;
    if (s->oldest_key == NULL) {
        s->newest_key = NULL;
    }
    HASH_DEL(s->keys, e);
    s->n_keys--;
    seqKeyFree(e);
}

void seq_key_insert(seq_state *s, seq_key_entry *e)
{
    e->newer = NULL;
    if (s->newest_key != NULL) {
        assert(s->newest_key->inserted_ms <= e->inserted_ms);
        s->newest_key->newer = e;
    } else {
        s->oldest_key = e;
    }
    s->newest_key = e;
    HASH_ADD_KEYPTR(hh, s->keys, e->hkey, e->hkey_len, e);
    s->n_keys++;
}

void seq_tick(seq_state *s, int64_t now_ms, int64_t retention_ms)
{
    if (now_ms > s->clock_ms) {
        s->clock_ms = now_ms;
    }
    if (retention_ms < 0) {
        retention_ms = 0;
    }
    /* Expire in insertion order; the clock never goes back, so neither
     * does inserted_ms along the FIFO. The age is computed in uint64:
     * clock_ms >= inserted_ms, but the int64 difference can overflow (a key
     * stamped with the initial clock INT64_MIN, before the first tick). */
    while (s->oldest_key != NULL) {
        assert(s->oldest_key->inserted_ms <= s->clock_ms);
        uint64_t age_ms = (uint64_t)s->clock_ms - (uint64_t)s->oldest_key->inserted_ms;
        if (age_ms < (uint64_t)retention_ms) {
            break;
        }
        seqKeyRemoveOldest(s);
    }
}

/* The hash key of (incarnation, key): keys of a dropped incarnation can
 * never match a later one. Writes at most 8 + SEQ_KEY_MAX bytes. */
static size_t seqKeyHash(uint8_t *out, uint64_t incarnation, const char *key,
                         size_t key_len)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(incarnation >> (8 * i));
    }
    memcpy(out + 8, key, key_len);
    return 8 + key_len;
}

/* ---- sequences -------------------------------------------------------- */

static seq_sequence *seqFind(const seq_state *s, const char *name, size_t len)
{
    seq_sequence *q = NULL;
    HASH_FIND(hh, s->by_name, name, len, q);
    return q;
}

seq_sequence *seq_sequence_add(seq_state *s, const char *name, size_t len)
{
    seq_sequence *q = seq_xcalloc(1, sizeof(*q));
    q->name = seq_xmalloc(len + 1);
    memcpy(q->name, name, len);
    q->name[len] = '\0';
    q->name_len = len;
    HASH_ADD_KEYPTR(hh, s->by_name, q->name, q->name_len, q);
    s->n_sequences++;
    return q;
}

static bool seqRangesOverlap(seq_range a, seq_range b)
{
    return a.min <= b.max && b.min <= a.max;
}

/* Index of the last burned interval with min <= v, or -1. */
static long seqBurnedFloor(const seq_sequence *q, int64_t v)
{
    long lo = 0, hi = (long)q->n_burned - 1, found = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (q->burned[mid].min <= v) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

static int64_t seqAdd(int64_t a, uint64_t d)
{
    /* Two's complement wrap is defined in uint64; callers guarantee the
     * true result fits in int64. */
    return (int64_t)((uint64_t)a + d);
}

/* The issue cursor, separate from the sequence so a NEXT can be tried
 * without changing anything (all or nothing). */
typedef struct seq_cursor {
    size_t cur;
    int64_t next;
} seq_cursor;

/* Moves the cursor past burned numbers; returns false when exhausted. */
static bool seqCursorSettle(const seq_sequence *q, seq_cursor *c)
{
    while (c->cur < q->n_ranges) {
        long b = seqBurnedFloor(q, c->next);
        if (b < 0 || q->burned[b].max < c->next) {
            return true;
        }
        if (q->burned[b].max >= q->ranges[c->cur].max) {
            c->cur++;
            if (c->cur < q->n_ranges) {
                c->next = q->ranges[c->cur].min;
            }
        } else {
            c->next = q->burned[b].max + 1;
        }
    }
    return false;
}

/* Issues `need` numbers from cursor c into runs (capacity runs_cap).
 * Returns SEQ_OK or SEQ_ERR_EXHAUSTED; on OK, c is the cursor after them. */
static int seqTake(const seq_sequence *q, seq_cursor *c, uint64_t need,
                   seq_run *runs, size_t runs_cap, size_t *n_runs)
{
    *n_runs = 0;
    while (need > 0) {
        if (!seqCursorSettle(q, c)) {
            return SEQ_ERR_EXHAUSTED;
        }
        int64_t end = q->ranges[c->cur].max;
        long b = seqBurnedFloor(q, c->next);
        size_t after = (size_t)(b + 1);
        if (after < q->n_burned && q->burned[after].min <= end) {
            end = q->burned[after].min - 1; /* > next: settle skipped burned */
        }
        uint64_t span = (uint64_t)end - (uint64_t)c->next; /* numbers - 1 */
        int64_t last;
        if (span >= need - 1) {
            last = seqAdd(c->next, need - 1);
            need = 0;
        } else {
            last = end;
            need -= span + 1;
        }
        assert(*n_runs < runs_cap);
        runs[*n_runs].first = c->next;
        runs[*n_runs].last = last;
        (*n_runs)++;
        if (last == q->ranges[c->cur].max) {
            c->cur++;
            if (c->cur < q->n_ranges) {
                c->next = q->ranges[c->cur].min;
            }
        } else {
            c->next = last + 1;
        }
    }
    return SEQ_OK;
}

/* Numbers in [lo, hi] that are not burned: O(log burned + overlapping). */
static unsigned __int128 seqFreeIn(const seq_sequence *q, int64_t lo, int64_t hi)
{
    unsigned __int128 n = (unsigned __int128)((uint64_t)hi - (uint64_t)lo) + 1;
    long first = seqBurnedFloor(q, lo);
    for (size_t i = first < 0 ? 0 : (size_t)first; i < q->n_burned; i++) {
        if (q->burned[i].min > hi) {
            break;
        }
        int64_t a = q->burned[i].min > lo ? q->burned[i].min : lo;
        int64_t z = q->burned[i].max < hi ? q->burned[i].max : hi;
        if (a <= z) {
            n -= (unsigned __int128)((uint64_t)z - (uint64_t)a) + 1;
        }
    }
    return n;
}

static uint64_t seqRemaining(const seq_sequence *q)
{
    unsigned __int128 n = 0;
    for (size_t i = q->cur; i < q->n_ranges; i++) {
        int64_t lo = i == q->cur ? q->next : q->ranges[i].min;
        n += seqFreeIn(q, lo, q->ranges[i].max);
    }
    return n > UINT64_MAX ? UINT64_MAX : (uint64_t)n;
}

static int seqRangeCompare(const void *a, const void *b)
{
    const seq_range *x = a, *y = b;
    return x->min < y->min ? -1 : x->min > y->min;
}

bool seq_issued(const seq_sequence *q, int64_t v)
{
    if (!q->live) {
        return false;
    }
    /* Ranges are disjoint: at most one holds v. */
    for (size_t i = 0; i < q->n_ranges && i <= q->cur; i++) {
        seq_range r = q->ranges[i];
        if (v < r.min || v > r.max) {
            continue;
        }
        if (i == q->cur && v >= q->next) {
            return false; /* at or above the cursor */
        }
        if (i == 0 && q->def_has_start && v < q->def_start) {
            return false; /* skipped by CREATE ... START, never issued */
        }
        long b = seqBurnedFloor(q, v);
        return b < 0 || q->burned[b].max < v;
    }
    return false;
}

/* Appends [lo, hi] to the sorted intervals out[0..*n), merging an adjacent
 * one. */
static void seqIntervalPush(seq_range *out, size_t *n, int64_t lo, int64_t hi)
{
    if (*n > 0 && out[*n - 1].max != INT64_MAX && out[*n - 1].max + 1 == lo) {
        out[*n - 1].max = hi;
        return;
    }
    out[*n].min = lo;
    out[*n].max = hi;
    (*n)++;
}

/* The numbers this incarnation issued (exactly those seq_issued accepts),
 * as sorted, disjoint, non-adjacent intervals in a malloc'd array the
 * caller frees; *n may be 0. O((ranges + burned) log ranges). */
static seq_range *seqIssuedIntervals(const seq_sequence *q, size_t *n)
{
    seq_range *pieces = seq_xmalloc(sizeof(seq_range) * (q->n_ranges + 1));
    size_t np = 0;
    for (size_t i = 0; i < q->n_ranges && i <= q->cur; i++) {
        seq_range r = q->ranges[i];
        if (i == 0 && q->def_has_start && q->def_start > r.min) {
            if (q->def_start > r.max) {
                continue;
            }
            r.min = q->def_start;
        }
        if (i == q->cur) {
            if (q->next <= r.min) {
                continue;
            }
            r.max = q->next - 1;
        }
        pieces[np++] = r;
    }
    qsort(pieces, np, sizeof(seq_range), seqRangeCompare);
    /* A burned interval splits at most the one piece its min lies in. */
    seq_range *out = seq_xmalloc(sizeof(seq_range) * (np + q->n_burned + 1));
    size_t no = 0;
    for (size_t p = 0; p < np; p++) {
        int64_t lo = pieces[p].min;
        bool covered = false;
        long b = seqBurnedFloor(q, lo);
        for (size_t j = b < 0 ? 0 : (size_t)b; j < q->n_burned; j++) {
            if (q->burned[j].min > pieces[p].max) {
                break;
            }
            if (q->burned[j].max < lo) {
                continue;
            }
            if (q->burned[j].min > lo) {
                seqIntervalPush(out, &no, lo, q->burned[j].min - 1);
            }
            if (q->burned[j].max >= pieces[p].max) {
                covered = true;
                break;
            }
            lo = q->burned[j].max + 1;
        }
        if (!covered) {
            seqIntervalPush(out, &no, lo, pieces[p].max);
        }
    }
    free(pieces);
    *n = no;
    return out;
}

/* Index of the last ledger run with first <= v, or -1. */
static long seqLedgerFloor(const seq_sequence *q, int64_t v)
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

/* Whether a ledger run holds a number of [lo, hi]. */
static bool seqLedgerOverlaps(const seq_sequence *q, int64_t lo, int64_t hi)
{
    long at = seqLedgerFloor(q, hi);
    return at >= 0 && q->ledger[at].last >= lo;
}

static bool seqLedgerSame(const seq_ledger_run *e, int64_t time_ms,
                          const char *reason, size_t len)
{
    return e->time_ms == time_ms && strlen(e->reason) == len &&
           memcmp(e->reason, reason, len) == 0;
}

/* The ledger invariants of seq_internal.h, except the time (the decoder
 * checks that against the state's clock). */
static bool seqLedgerValid(const seq_sequence *q)
{
    if (q->n_ledger > SEQ_LEDGER_MAX || q->n_ledger > q->ledger_cap) {
        return false;
    }
    if (q->n_ledger == 0) {
        return true;
    }
    size_t n_iv = 0;
    seq_range *iv = seqIssuedIntervals(q, &n_iv);
    bool ok = true;
    for (size_t i = 0; i < q->n_ledger && ok; i++) {
        const seq_ledger_run *e = &q->ledger[i];
        ok = e->first <= e->last && e->state == SEQ_NUM_VOIDED && e->reason != NULL &&
             seq_reason_valid(e->reason, strnlen(e->reason, SEQ_REASON_MAX + 1));
        if (ok && i > 0) {
            const seq_ledger_run *prev = &q->ledger[i - 1];
            ok = prev->last < e->first &&
                 !(prev->last + 1 == e->first &&
                   seqLedgerSame(prev, e->time_ms, e->reason, strlen(e->reason)));
        }
        if (ok) { /* wholly inside one interval of issued numbers */
            long lo = 0, hi = (long)n_iv - 1, k = -1;
            while (lo <= hi) {
                long mid = lo + (hi - lo) / 2;
                if (iv[mid].min <= e->first) {
                    k = mid;
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            ok = k >= 0 && iv[k].max >= e->last;
        }
    }
    free(iv);
    return ok;
}

bool seq_sequence_valid(const seq_sequence *q)
{
    if (q->n_burned > SEQ_BURNED_MAX) {
        return false;
    }
    for (size_t i = 0; i < q->n_burned; i++) {
        if (q->burned[i].min > q->burned[i].max) {
            return false;
        }
        /* sorted, disjoint and not adjacent */
        if (i > 0 && (q->burned[i - 1].max == INT64_MAX ||
                      q->burned[i - 1].max + 1 >= q->burned[i].min)) {
            return false;
        }
    }
    if (!q->live) {
        return q->n_ranges == 0 && q->n_ledger == 0;
    }
    if (q->n_ranges == 0 || q->n_ranges > SEQ_RANGES_MAX || q->cur > q->n_ranges) {
        return false;
    }
    /* Disjointness on a sorted copy: O(n log n), not O(n^2), since this
     * also guards every decoded snapshot. */
    seq_range *sorted = seq_xmalloc(sizeof(seq_range) * q->n_ranges);
    memcpy(sorted, q->ranges, sizeof(seq_range) * q->n_ranges);
    qsort(sorted, q->n_ranges, sizeof(seq_range), seqRangeCompare);
    bool ok = true;
    for (size_t i = 0; i < q->n_ranges && ok; i++) {
        ok = sorted[i].min <= sorted[i].max &&
             (i == 0 || !seqRangesOverlap(sorted[i - 1], sorted[i]));
    }
    free(sorted);
    if (!ok) {
        return false;
    }
    if (q->cur < q->n_ranges &&
        (q->next < q->ranges[q->cur].min || q->next > q->ranges[q->cur].max)) {
        return false;
    }
    return seqLedgerValid(q);
}

/* Adds the numbers this incarnation issued (everything before the cursor)
 * to the burned history. Returns SEQ_ERR_TOO_MANY, changing nothing, when
 * the merged history would not fit. */
static int seqBurnHistory(seq_sequence *q)
{
    size_t cap = q->n_burned + q->n_ranges;
    seq_range *all = seq_xmalloc(sizeof(*all) * (cap == 0 ? 1 : cap));
    size_t n = 0;
    if (q->n_burned > 0) { /* q->burned is NULL before the first DROP */
        memcpy(all, q->burned, sizeof(*all) * q->n_burned);
    }
    n = q->n_burned;
    for (size_t i = 0; i < q->n_ranges && i <= q->cur; i++) {
        seq_range r = q->ranges[i];
        if (i == q->cur) {
            if (q->next == r.min) {
                break;
            }
            r.max = q->next - 1;
        }
        all[n++] = r;
    }
    /* sort by min, then merge overlapping and adjacent intervals */
    for (size_t i = 1; i < n; i++) {
        seq_range x = all[i];
        size_t j = i;
        while (j > 0 && all[j - 1].min > x.min) {
            all[j] = all[j - 1];
            j--;
        }
        all[j] = x;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && (all[m - 1].max == INT64_MAX || all[m - 1].max + 1 >= all[i].min)) {
            if (all[i].max > all[m - 1].max) {
                all[m - 1].max = all[i].max;
            }
        } else {
            all[m++] = all[i];
        }
    }
    if (m > SEQ_BURNED_MAX) {
        free(all);
        return SEQ_ERR_TOO_MANY;
    }
    free(q->burned);
    q->burned = all;
    q->n_burned = m;
    return SEQ_OK;
}

static int seqCreate(seq_state *s, const seq_cmd *cmd)
{
    if (cmd->min > cmd->max ||
        (cmd->has_start && (cmd->start < cmd->min || cmd->start > cmd->max))) {
        return SEQ_ERR_RANGE;
    }
    seq_sequence *q = seqFind(s, cmd->name, cmd->name_len);
    if (q != NULL && q->live) {
        /* START min means the same as no START. */
        int64_t had = q->def_has_start ? q->def_start : q->def_min;
        int64_t asks = cmd->has_start ? cmd->start : cmd->min;
        bool same = q->def_min == cmd->min && q->def_max == cmd->max && had == asks;
        return same ? SEQ_OK : SEQ_ERR_EXISTS;
    }
    if (q == NULL) {
        if (s->n_sequences >= SEQ_SEQUENCES_MAX) {
            return SEQ_ERR_TOO_MANY;
        }
        q = seq_sequence_add(s, cmd->name, cmd->name_len);
    }
    q->live = true;
    q->incarnation = ++s->incarnations;
    q->def_min = cmd->min;
    q->def_max = cmd->max;
    q->def_has_start = cmd->has_start;
    q->def_start = cmd->has_start ? cmd->start : 0;
    /* A tombstone decoded from a snapshot still owns an empty array. */
    free(q->ranges);
    q->ranges = seq_xmalloc(sizeof(seq_range));
    q->ranges[0].min = cmd->min;
    q->ranges[0].max = cmd->max;
    q->n_ranges = 1;
    q->cur = 0;
    q->next = cmd->has_start ? cmd->start : cmd->min;
    q->issued = 0;
    s->n_live++;
    assert(seq_sequence_valid(q));
    return SEQ_OK;
}

static int seqAddRange(seq_state *s, const seq_cmd *cmd)
{
    if (cmd->min > cmd->max) {
        return SEQ_ERR_RANGE;
    }
    seq_sequence *q = seqFind(s, cmd->name, cmd->name_len);
    if (q == NULL || !q->live) {
        return SEQ_ERR_NOSEQ;
    }
    seq_range r = {cmd->min, cmd->max};
    for (size_t i = 0; i < q->n_ranges; i++) {
        if (seqRangesOverlap(r, q->ranges[i])) {
            return SEQ_ERR_OVERLAP;
        }
    }
    if (q->n_ranges >= SEQ_RANGES_MAX) {
        return SEQ_ERR_TOO_MANY;
    }
    seq_range *grown = realloc(q->ranges, sizeof(*grown) * (q->n_ranges + 1));
    if (grown == NULL) {
        fprintf(stderr, "seq: out of memory\n");
        abort();
    }
    q->ranges = grown;
    q->ranges[q->n_ranges] = r;
    if (q->cur == q->n_ranges) {
        q->next = r.min; /* the exhausted cursor moves onto the new range */
    }
    q->n_ranges++;
    assert(seq_sequence_valid(q));
    return SEQ_OK;
}

static void seqCopyRuns(seq_result *out, const seq_run *runs, size_t n)
{
    /* One run is the common case: keep it inside the result, no malloc. */
    out->runs = n == 1 ? &out->run_inline : seq_xmalloc(sizeof(*runs) * n);
    memcpy(out->runs, runs, sizeof(*runs) * n);
    out->n_runs = n;
}

static int seqNext(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (cmd->count < 1 || cmd->count > SEQ_COUNT_MAX) {
        return SEQ_ERR_COUNT;
    }
    if (cmd->key_len > 0 && !seq_key_valid(cmd->key, cmd->key_len)) {
        return SEQ_ERR_KEY;
    }
    seq_sequence *q = seqFind(s, cmd->name, cmd->name_len);
    if (q == NULL || !q->live) {
        return SEQ_ERR_NOSEQ;
    }
    uint8_t hkey[8 + SEQ_KEY_MAX];
    size_t hkey_len = 0;
    if (cmd->key_len > 0) {
        hkey_len = seqKeyHash(hkey, q->incarnation, cmd->key, cmd->key_len);
        seq_key_entry *e = NULL;
        HASH_FIND(hh, s->keys, hkey, hkey_len, e);
        if (e != NULL) {
            if (e->count != cmd->count) {
                return SEQ_ERR_KEY_REUSED;
            }
            seqCopyRuns(out, e->runs, e->n_runs);
            out->replayed = true;
            return SEQ_OK;
        }
        if (s->n_keys >= s->limits.keys_max) {
            return SEQ_ERR_KEYS_FULL;
        }
    }
    /* A run ends at a range end or before a burned interval, so there are
     * at most one more runs than ranges plus burned intervals. */
    size_t runs_cap = q->n_ranges + q->n_burned + 1;
    seq_run stack_runs[4];
    seq_run *runs = runs_cap <= 4 ? stack_runs : seq_xmalloc(sizeof(*runs) * runs_cap);
    seq_cursor c = {q->cur, q->next};
    size_t n_runs = 0;
    int rv = seqTake(q, &c, cmd->count, runs, runs_cap, &n_runs);
    if (rv != SEQ_OK) {
        out->remaining = seqRemaining(q);
        goto out;
    }
    for (size_t i = 0; i < n_runs; i++) {
        /* a voided number was issued already, so it lies before the cursor */
        assert(!seqLedgerOverlaps(q, runs[i].first, runs[i].last));
    }
    q->cur = c.cur;
    q->next = c.next;
    q->issued = q->issued > UINT64_MAX - cmd->count ? UINT64_MAX : q->issued + cmd->count;
    seqCopyRuns(out, runs, n_runs);
    if (hkey_len > 0) {
        seq_key_entry *e = seq_xcalloc(1, sizeof(*e));
        e->hkey = seq_xmalloc(hkey_len);
        memcpy(e->hkey, hkey, hkey_len);
        e->hkey_len = hkey_len;
        e->inserted_ms = s->clock_ms;
        e->count = cmd->count;
        e->runs = seq_xmalloc(sizeof(*runs) * n_runs);
        memcpy(e->runs, runs, sizeof(*runs) * n_runs);
        e->n_runs = n_runs;
        seq_key_insert(s, e);
    }
    /* The hot path asserts only what NEXT can change: the cursor. */
    assert(q->cur == q->n_ranges ||
           (q->ranges[q->cur].min <= q->next && q->next <= q->ranges[q->cur].max));
out:
    if (runs != stack_runs) {
        free(runs);
    }
    return rv;
}

static int seqDescribe(const seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    seq_sequence *q = seqFind(s, cmd->name, cmd->name_len);
    if (q == NULL || !q->live) {
        return SEQ_ERR_NOSEQ;
    }
    out->name = seq_xmalloc(q->name_len + 1);
    memcpy(out->name, q->name, q->name_len + 1);
    out->name_len = q->name_len;
    out->ranges = seq_xmalloc(sizeof(seq_range) * q->n_ranges);
    memcpy(out->ranges, q->ranges, sizeof(seq_range) * q->n_ranges);
    out->n_ranges = q->n_ranges;
    seq_cursor c = {q->cur, q->next};
    out->has_next = seqCursorSettle(q, &c);
    out->next = out->has_next ? c.next : 0;
    out->issued = q->issued;
    out->remaining = seqRemaining(q);
    return SEQ_OK;
}

static int seqNameCompare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int seqList(const seq_state *s, seq_result *out)
{
    out->names = seq_xmalloc(sizeof(char *) * (s->n_live == 0 ? 1 : s->n_live));
    size_t n = 0;
    for (seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        if (q->live) {
            assert(n < s->n_live);
            out->names[n] = seq_xmalloc(q->name_len + 1);
            memcpy(out->names[n], q->name, q->name_len + 1);
            n++;
        }
    }
    assert(n == s->n_live);
    out->n_names = n;
    /* names hold no NUL bytes (printable ASCII), so strcmp orders them bytewise */
    qsort(out->names, n, sizeof(char *), seqNameCompare);
    return SEQ_OK;
}

static int seqDrop(seq_state *s, const seq_cmd *cmd)
{
    seq_sequence *q = seqFind(s, cmd->name, cmd->name_len);
    if (q == NULL || !q->live) {
        return SEQ_ERR_NOSEQ;
    }
    int rv = seqBurnHistory(q);
    if (rv != SEQ_OK) {
        return rv;
    }
    /* The burned history now covers every number the ledger held. */
    seqLedgerClear(q);
    free(q->ranges);
    q->ranges = NULL;
    q->n_ranges = 0;
    q->cur = 0;
    q->next = 0;
    q->issued = 0;
    q->live = false;
    s->n_live--;
    assert(seq_sequence_valid(q));
    return SEQ_OK;
}

/* VOID name n reason: marks n, issued by this incarnation, as voided at the
 * state's clock. Voiding a voided number changes nothing (the first reason
 * and time stand). A run is added only when n joins no neighbour with the
 * same time and reason. */
static int seqVoid(seq_state *s, const seq_cmd *cmd)
{
    if (!seq_reason_valid(cmd->text, cmd->text_len)) {
        return SEQ_ERR_REASON;
    }
    seq_sequence *q = seqFind(s, cmd->name, cmd->name_len);
    if (q == NULL || !q->live) {
        return SEQ_ERR_NOSEQ;
    }
    int64_t v = cmd->min;
    if (!seq_issued(q, v)) {
        return SEQ_ERR_NOTISSUED;
    }
    long at = seqLedgerFloor(q, v);
    if (at >= 0 && q->ledger[at].last >= v) {
        return SEQ_OK;
    }
    size_t ins = (size_t)(at + 1); /* where a new run would go */
    /* ledger[at].last < v and ledger[ins].first > v: no overflow below */
    bool left = at >= 0 && q->ledger[at].last + 1 == v &&
                seqLedgerSame(&q->ledger[at], s->clock_ms, cmd->text, cmd->text_len);
    bool right = ins < q->n_ledger && q->ledger[ins].first - 1 == v &&
                 seqLedgerSame(&q->ledger[ins], s->clock_ms, cmd->text, cmd->text_len);
    if (left && right) {
        q->ledger[at].last = q->ledger[ins].last;
        free(q->ledger[ins].reason);
        memmove(q->ledger + ins, q->ledger + ins + 1,
                sizeof(*q->ledger) * (q->n_ledger - ins - 1));
        q->n_ledger--;
    } else if (left) {
        q->ledger[at].last = v;
    } else if (right) {
        q->ledger[ins].first = v;
    } else {
        if (q->n_ledger >= SEQ_LEDGER_MAX) {
            return SEQ_ERR_TOO_MANY;
        }
        if (q->n_ledger == q->ledger_cap) {
            size_t cap = q->ledger_cap == 0 ? 4 : q->ledger_cap * 2;
            seq_ledger_run *grown = realloc(q->ledger, sizeof(*grown) * cap);
            if (grown == NULL) {
                fprintf(stderr, "seq: out of memory\n");
                abort();
            }
            q->ledger = grown;
            q->ledger_cap = cap;
        }
        memmove(q->ledger + ins + 1, q->ledger + ins,
                sizeof(*q->ledger) * (q->n_ledger - ins));
        q->ledger[ins].first = v;
        q->ledger[ins].last = v;
        q->ledger[ins].state = SEQ_NUM_VOIDED;
        q->ledger[ins].time_ms = s->clock_ms;
        q->ledger[ins].reason = seqStrdup(cmd->text, cmd->text_len);
        q->n_ledger++;
    }
    /* The hot path asserts only what VOID can change: order around v. */
    long k = seqLedgerFloor(q, v);
    assert(k >= 0 && q->ledger[k].first <= v && v <= q->ledger[k].last);
    assert(k == 0 || q->ledger[k - 1].last < q->ledger[k].first);
    assert((size_t)k + 1 == q->n_ledger || q->ledger[k].last < q->ledger[k + 1].first);
    return SEQ_OK;
}

/* GAPS name from to: the ledger runs overlapping [from, to], clipped to it,
 * ascending, at most SEQ_GAPS_MAX (more = true when cut). */
static int seqGaps(const seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (cmd->min > cmd->max) {
        return SEQ_ERR_RANGE;
    }
    seq_sequence *q = seqFind(s, cmd->name, cmd->name_len);
    if (q == NULL || !q->live) {
        return SEQ_ERR_NOSEQ;
    }
    long at = seqLedgerFloor(q, cmd->min);
    size_t i = at < 0 ? 0 : (size_t)at;
    if (at >= 0 && q->ledger[at].last < cmd->min) {
        i++;
    }
    size_t end = i;
    while (end < q->n_ledger && end - i < SEQ_GAPS_MAX && q->ledger[end].first <= cmd->max) {
        end++;
    }
    out->more = end < q->n_ledger && q->ledger[end].first <= cmd->max;
    if (end == i) {
        return SEQ_OK;
    }
    out->ledger = seq_xmalloc(sizeof(*out->ledger) * (end - i));
    for (size_t j = i; j < end; j++) {
        seq_ledger_run e = q->ledger[j];
        e.first = e.first < cmd->min ? cmd->min : e.first;
        e.last = e.last > cmd->max ? cmd->max : e.last;
        e.reason = seqStrdup(e.reason, strlen(e.reason));
        out->ledger[out->n_ledger++] = e;
    }
    return SEQ_OK;
}

/* LOOKUP name n: what the ledger knows of n. */
static int seqLookup(const seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    seq_sequence *q = seqFind(s, cmd->name, cmd->name_len);
    if (q == NULL || !q->live) {
        return SEQ_ERR_NOSEQ;
    }
    int64_t v = cmd->min;
    long at = seqLedgerFloor(q, v);
    if (at >= 0 && q->ledger[at].last >= v) {
        out->state = q->ledger[at].state;
        out->time_ms = q->ledger[at].time_ms;
        out->reason = seqStrdup(q->ledger[at].reason, strlen(q->ledger[at].reason));
        return SEQ_OK;
    }
    out->state = seq_issued(q, v) ? SEQ_NUM_FINAL : SEQ_NUM_NOT_ISSUED;
    return SEQ_OK;
}

static int seqLookupKey(const seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (!seq_key_valid(cmd->key, cmd->key_len)) {
        return SEQ_ERR_KEY;
    }
    seq_sequence *q = seqFind(s, cmd->name, cmd->name_len);
    if (q == NULL || !q->live) {
        return SEQ_ERR_NOSEQ;
    }
    uint8_t hkey[8 + SEQ_KEY_MAX];
    size_t hkey_len = seqKeyHash(hkey, q->incarnation, cmd->key, cmd->key_len);
    seq_key_entry *e = NULL;
    HASH_FIND(hh, s->keys, hkey, hkey_len, e);
    if (e != NULL) {
        seqCopyRuns(out, e->runs, e->n_runs);
        out->time_ms = e->inserted_ms;
    }
    return SEQ_OK;
}

int seq_apply(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    memset(out, 0, sizeof(*out));
    out->op = cmd->op;
    int rv;
    if (cmd->op != SEQ_OP_LIST && !seq_name_valid(cmd->name, cmd->name_len)) {
        out->status = SEQ_ERR_NAME;
        return out->status;
    }
    switch (cmd->op) {
    case SEQ_OP_CREATE: rv = seqCreate(s, cmd); break;
    case SEQ_OP_ADDRANGE: rv = seqAddRange(s, cmd); break;
    case SEQ_OP_NEXT: rv = seqNext(s, cmd, out); break;
    case SEQ_OP_DESCRIBE: rv = seqDescribe(s, cmd, out); break;
    case SEQ_OP_LIST: rv = seqList(s, out); break;
    case SEQ_OP_DROP: rv = seqDrop(s, cmd); break;
    case SEQ_OP_VOID: rv = seqVoid(s, cmd); break;
    case SEQ_OP_GAPS: rv = seqGaps(s, cmd, out); break;
    case SEQ_OP_LOOKUP: rv = seqLookup(s, cmd, out); break;
    case SEQ_OP_LOOKUP_KEY: rv = seqLookupKey(s, cmd, out); break;
    default: rv = SEQ_ERR_BADCMD; break;
    }
    out->status = rv;
    return rv;
}
