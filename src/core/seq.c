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
    case SEQ_ERR_MODE: return "ERR the command does not apply to the sequence's mode";
    case SEQ_ERR_NOTRESERVED: return "ERR the number is not reserved";
    case SEQ_ERR_EXPIRED: return "ERR the reservation ran out (its TTL passed); RESERVE again";
    case SEQ_ERR_TTL: return "ERR TTL must be between 1 and 2592000 seconds";
    case SEQ_ERR_WINDOW: return "ERR NOTBEFORE must not be later than NOTAFTER";
    case SEQ_ERR_CACHED: return "ERR the number is in the leader's cache block and was not served yet";
    case SEQ_ERR_KEY_VOIDED: return "ERR the number this KEY got was voided";
    case SEQ_ERR_KEY_MISMATCH: return "ERR the number is not held by that KEY (its reservation may have run out and gone to another caller)";
    case SEQ_ERR_STALE: return "TRYAGAIN the sequence was dropped and created again meanwhile";
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
    free(r->key);
    memset(r, 0, sizeof(*r));
}

seq_state *seq_state_new(void)
{
    seq_state *s = seq_xcalloc(1, sizeof(*s));
    s->keys_max = SEQ_KEYS_MAX_DEFAULT;
    s->clock_ms = INT64_MIN;
    return s;
}

static void seqKeyFree(seq_key_entry *e)
{
    free(e->hkey);
    free(e->runs);
    free(e);
}

static void seqLedgerClear(seq_sequence *q);

static void seqSequenceFree(seq_sequence *q)
{
    seqLedgerClear(q);
    free(q->block);
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
    HASH_CLEAR(hn, s->keys_by_number);
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

size_t seq_count_pkeys(const seq_state *s)
{
    return s->n_pkeys;
}

int64_t seq_clock_ms(const seq_state *s)
{
    return s->clock_ms;
}

int64_t seq_elapsed_ms(const seq_state *s)
{
    return s->elapsed_ms;
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
        assert(s->newest_key->inserted_el_ms <= e->inserted_el_ms);
        s->newest_key->newer = e;
    } else {
        s->oldest_key = e;
    }
    s->newest_key = e;
    HASH_ADD_KEYPTR(hh, s->keys, e->hkey, e->hkey_len, e);
    s->n_keys++;
}

void seq_pkey_insert(seq_state *s, seq_key_entry *e)
{
    assert(e->permanent && e->n_runs == 1 && e->runs[0].first == e->runs[0].last);
    HASH_ADD_KEYPTR(hh, s->keys, e->hkey, e->hkey_len, e);
    HASH_ADD(hn, s->keys_by_number, nkey, sizeof(e->nkey), e);
    s->n_pkeys++;
}

void seq_stamp_entry(seq_state *s, const seq_stamp *st)
{
    bool same = s->stamped && st->origin == s->stamp_origin;
    if (same && st->mono_ms > s->stamp_mono_ms) {
        /* in uint64: the difference of two int64 may not fit in one */
        uint64_t step = (uint64_t)st->mono_ms - (uint64_t)s->stamp_mono_ms;
        uint64_t room = (uint64_t)INT64_MAX - (uint64_t)s->elapsed_ms;
        s->elapsed_ms = step >= room ? INT64_MAX : s->elapsed_ms + (int64_t)step;
    }
    if (!same || st->mono_ms > s->stamp_mono_ms) {
        s->stamp_mono_ms = st->mono_ms;
    }
    /* The wall clock is the stamp's, up or down: a clock error lasts no
     * longer than the clock that had it (nothing kept depends on the wall
     * clock growing: TTLs and retention run on the elapsed clock). */
    s->clock_ms = st->wall_ms;
    s->stamp_origin = st->origin;
    s->stamped = true;
    s->keys_max = st->keys_max;
    int64_t retention_ms = st->retention_ms < 0 ? 0 : st->retention_ms;
    /* Expire in insertion order, along which the elapsed clock never goes
     * back. The age is computed in uint64: the int64 difference can
     * overflow. */
    while (s->oldest_key != NULL) {
        assert(!s->oldest_key->permanent);
        assert(s->oldest_key->inserted_el_ms <= s->elapsed_ms);
        uint64_t age_ms = (uint64_t)s->elapsed_ms - (uint64_t)s->oldest_key->inserted_el_ms;
        if (age_ms < (uint64_t)retention_ms) {
            break;
        }
        seqKeyRemoveOldest(s);
    }
}

void seq_tick(seq_state *s, int64_t now_ms, int64_t retention_ms)
{
    if (s->stamped && now_ms < s->clock_ms) {
        now_ms = s->clock_ms; /* one clock that never goes back, as documented */
    }
    seq_stamp st = {
        .wall_ms = now_ms,
        .mono_ms = now_ms,
        .origin = 0,
        .retention_ms = retention_ms,
        .keys_max = s->keys_max,
    };
    seq_stamp_entry(s, &st);
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

/* The number-hash key of a permanent key entry. */
static void seqNumberKey(uint8_t out[16], uint64_t incarnation, int64_t v)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(incarnation >> (8 * i));
        out[8 + i] = (uint8_t)((uint64_t)v >> (8 * i));
    }
}

static seq_key_entry *seqPkeyByNumber(const seq_state *s, uint64_t incarnation, int64_t v)
{
    uint8_t nkey[16];
    seqNumberKey(nkey, incarnation, v);
    seq_key_entry *e = NULL;
    HASH_FIND(hn, s->keys_by_number, nkey, sizeof(nkey), e);
    return e;
}

static void seqPkeyDelete(seq_state *s, seq_key_entry *e)
{
    assert(e->permanent);
    HASH_DELETE(hh, s->keys, e);
    HASH_DELETE(hn, s->keys_by_number, e);
    s->n_pkeys--;
    seqKeyFree(e);
}

/* ---- sequences -------------------------------------------------------- */

static seq_sequence *seqFind(const seq_state *s, const char *name, size_t len)
{
    seq_sequence *q = NULL;
    HASH_FIND(hh, s->by_name, name, len, q);
    return q;
}

static seq_sequence *seqFindLive(const seq_state *s, const char *name, size_t len)
{
    seq_sequence *q = seqFind(s, name, len);
    return q != NULL && q->live ? q : NULL;
}

seq_sequence *seq_sequence_add(seq_state *s, const char *name, size_t len)
{
    seq_sequence *q = seq_xcalloc(1, sizeof(*q));
    q->name = seq_xmalloc(len + 1);
    memcpy(q->name, name, len);
    q->name[len] = '\0';
    q->name_len = len;
    q->open_from = INT64_MIN;
    HASH_ADD_KEYPTR(hh, s->by_name, q->name, q->name_len, q);
    s->n_sequences++;
    return q;
}

int seq_mode_of(const seq_state *s, const char *name, size_t len)
{
    const seq_sequence *q = seqFindLive(s, name, len);
    return q == NULL ? -1 : q->mode;
}

bool seq_cached_info(const seq_state *s, const char *name, size_t len, uint32_t *cache,
                     uint64_t *incarnation)
{
    const seq_sequence *q = seqFindLive(s, name, len);
    if (q == NULL || q->mode != SEQ_MODE_CACHED) {
        return false;
    }
    *cache = q->cache;
    *incarnation = q->incarnation;
    return true;
}

static bool seqOverlap(int64_t a_min, int64_t a_max, int64_t b_min, int64_t b_max)
{
    return a_min <= b_max && b_min <= a_max;
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

static bool seqSpanValidAt(const seq_span *r, int64_t t)
{
    return r->not_before <= t && t <= r->not_after;
}

/* Moves *p (a number of range i) past burned numbers; false when none of
 * range i is left from *p on. */
static bool seqSpanSettle(const seq_sequence *q, size_t i, int64_t *p)
{
    const seq_span *r = &q->ranges[i];
    if (r->full) {
        return false;
    }
    int64_t v = *p;
    for (;;) {
        long b = seqBurnedFloor(q, v);
        if (b < 0 || q->burned[b].max < v) {
            *p = v;
            return true;
        }
        if (q->burned[b].max >= r->max) {
            return false;
        }
        v = q->burned[b].max + 1;
    }
}

/* A plan for taking numbers, applied only once the whole command is known
 * to succeed (all or nothing). */
typedef struct seq_take {
    seq_run *runs;
    size_t *span_of; /* the range each run came from */
    size_t n_runs, cap;
    uint64_t taken;
    seq_run inline_runs[4];
    size_t inline_span[4];
} seq_take;

static void seqTakeInit(seq_take *tk, const seq_sequence *q)
{
    /* A run ends at a range end or before a burned interval. */
    tk->cap = q->n_ranges + q->n_burned + 1;
    tk->n_runs = 0;
    tk->taken = 0;
    if (tk->cap <= 4) {
        tk->runs = tk->inline_runs;
        tk->span_of = tk->inline_span;
    } else {
        tk->runs = seq_xmalloc(sizeof(*tk->runs) * tk->cap);
        tk->span_of = seq_xmalloc(sizeof(*tk->span_of) * tk->cap);
    }
}

static void seqTakeFree(seq_take *tk)
{
    if (tk->runs != tk->inline_runs) {
        free(tk->runs);
        free(tk->span_of);
    }
}

/* Plans to take `need` numbers valid at time t, from the ranges in order
 * (skipping full, expired and not-yet-open ones). With partial, takes as
 * many as there are up to need. Changes nothing. Returns SEQ_OK, or
 * SEQ_ERR_EXHAUSTED when none (partial) or fewer than need were there. */
static int seqTakePlan(const seq_sequence *q, int64_t t, uint64_t need, bool partial,
                       seq_take *tk)
{
    for (size_t i = q->cur; i < q->n_ranges && need > 0; i++) {
        const seq_span *r = &q->ranges[i];
        if (r->full || !seqSpanValidAt(r, t)) {
            continue;
        }
        int64_t p = r->next;
        while (need > 0 && seqSpanSettle(q, i, &p)) {
            int64_t end = r->max;
            long b = seqBurnedFloor(q, p);
            size_t after = (size_t)(b + 1);
            if (after < q->n_burned && q->burned[after].min <= end) {
                end = q->burned[after].min - 1; /* > p: settle skipped burned */
            }
            uint64_t span = (uint64_t)end - (uint64_t)p; /* numbers - 1 */
            int64_t last;
            if (span >= need - 1) {
                last = seqAdd(p, need - 1);
                tk->taken += need;
                need = 0;
            } else {
                last = end;
                need -= span + 1;
                tk->taken += span + 1;
            }
            assert(tk->n_runs < tk->cap);
            tk->runs[tk->n_runs].first = p;
            tk->runs[tk->n_runs].last = last;
            tk->span_of[tk->n_runs] = i;
            tk->n_runs++;
            if (last == r->max) {
                break;
            }
            p = last + 1;
        }
    }
    if (tk->taken == 0 || (need > 0 && !partial)) {
        return SEQ_ERR_EXHAUSTED;
    }
    return SEQ_OK;
}

/* Applies a successful plan: moves the ranges' cursors past its runs. */
static void seqTakeApply(seq_sequence *q, const seq_take *tk)
{
    for (size_t k = 0; k < tk->n_runs; k++) {
        seq_span *r = &q->ranges[tk->span_of[k]];
        if (tk->runs[k].last == r->max) {
            r->full = true;
        } else {
            r->next = tk->runs[k].last + 1;
        }
    }
    while (q->cur < q->n_ranges && q->ranges[q->cur].full) {
        q->cur++;
    }
    q->issued = q->issued > UINT64_MAX - tk->taken ? UINT64_MAX : q->issued + tk->taken;
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

/* Numbers still to take at time t: valid now (now_only), or valid now or
 * later (not expired). Saturated at UINT64_MAX. */
static uint64_t seqRemaining(const seq_sequence *q, int64_t t, bool now_only)
{
    unsigned __int128 n = 0;
    for (size_t i = q->cur; i < q->n_ranges; i++) {
        const seq_span *r = &q->ranges[i];
        if (r->full || t > r->not_after || (now_only && t < r->not_before)) {
            continue;
        }
        n += seqFreeIn(q, r->next, r->max);
    }
    return n > UINT64_MAX ? UINT64_MAX : (uint64_t)n;
}

/* When the earliest range with numbers left that is not open yet opens
 * (INT64_MAX: none). */
static int64_t seqOpensAt(const seq_sequence *q, int64_t t)
{
    int64_t at = INT64_MAX;
    for (size_t i = q->cur; i < q->n_ranges; i++) {
        const seq_span *r = &q->ranges[i];
        int64_t p = r->next;
        if (!r->full && t < r->not_before && r->not_before < at && seqSpanSettle(q, i, &p)) {
            at = r->not_before;
        }
    }
    return at;
}

static int seqExhausted(const seq_sequence *q, int64_t t, seq_result *out)
{
    out->remaining = seqRemaining(q, t, true);
    out->opens_ms = seqOpensAt(q, t);
    return SEQ_ERR_EXHAUSTED;
}

static int seqRangeCompare(const void *a, const void *b)
{
    const seq_range *x = a, *y = b;
    return x->min < y->min ? -1 : x->min > y->min;
}

/* Index of the range holding v, or -1. */
static long seqSpanOf(const seq_sequence *q, int64_t v)
{
    for (size_t i = 0; i < q->n_ranges; i++) {
        if (q->ranges[i].min <= v && v <= q->ranges[i].max) {
            return (long)i;
        }
    }
    return -1;
}

/* The lowest number of range i this incarnation can issue. */
static int64_t seqSpanLow(const seq_sequence *q, size_t i)
{
    int64_t lo = q->ranges[i].min;
    if (i == 0 && q->def_has_start && q->def_start > lo) {
        lo = q->def_start;
    }
    return lo;
}

bool seq_issued(const seq_sequence *q, int64_t v)
{
    if (!q->live) {
        return false;
    }
    long i = seqSpanOf(q, v);
    if (i < 0) {
        return false;
    }
    const seq_span *r = &q->ranges[i];
    if ((!r->full && v >= r->next) || v < seqSpanLow(q, (size_t)i)) {
        return false;
    }
    long b = seqBurnedFloor(q, v);
    return b < 0 || q->burned[b].max < v;
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

/* Pushes the numbers of [lo, hi] that are not burned onto out. out must
 * have room for one more interval than the burned ones inside [lo, hi]. */
static void seqPushUnburned(const seq_sequence *q, int64_t lo, int64_t hi, seq_range *out,
                            size_t *n)
{
    long b = seqBurnedFloor(q, lo);
    for (size_t j = b < 0 ? 0 : (size_t)b; j < q->n_burned; j++) {
        if (q->burned[j].min > hi) {
            break;
        }
        if (q->burned[j].max < lo) {
            continue;
        }
        if (q->burned[j].min > lo) {
            seqIntervalPush(out, n, lo, q->burned[j].min - 1);
        }
        if (q->burned[j].max >= hi) {
            return;
        }
        lo = q->burned[j].max + 1;
    }
    seqIntervalPush(out, n, lo, hi);
}

/* The numbers this incarnation issued (exactly those seq_issued accepts),
 * as sorted, disjoint, non-adjacent intervals in a malloc'd array the
 * caller frees; *n may be 0. O((ranges + burned) log ranges). */
static seq_range *seqIssuedIntervals(const seq_sequence *q, size_t *n)
{
    seq_range *pieces = seq_xmalloc(sizeof(seq_range) * (q->n_ranges + 1));
    size_t np = 0;
    for (size_t i = 0; i < q->n_ranges; i++) {
        const seq_span *r = &q->ranges[i];
        int64_t lo = seqSpanLow(q, i);
        if (lo > r->max || (!r->full && r->next <= lo)) {
            continue;
        }
        pieces[np].min = lo;
        pieces[np].max = r->full ? r->max : r->next - 1;
        np++;
    }
    qsort(pieces, np, sizeof(seq_range), seqRangeCompare);
    /* A burned interval splits at most the one piece its min lies in. */
    seq_range *out = seq_xmalloc(sizeof(seq_range) * (np + q->n_burned + 1));
    size_t no = 0;
    for (size_t p = 0; p < np; p++) {
        seqPushUnburned(q, pieces[p].min, pieces[p].max, out, &no);
    }
    free(pieces);
    *n = no;
    return out;
}

/* ---- the ledger --------------------------------------------------------- */

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

/* The ledger run holding v, or NULL. */
static seq_ledger_run *seqLedgerAt(const seq_sequence *q, int64_t v)
{
    long at = seqLedgerFloor(q, v);
    return at >= 0 && q->ledger[at].last >= v ? &q->ledger[at] : NULL;
}

static bool seqIsOpen(uint8_t state)
{
    return state == SEQ_NUM_RESERVED || state == SEQ_NUM_RELEASED;
}

/* The state's two clocks (see seq_stamp_entry): wall judges windows,
 * elapsed judges TTLs. */
typedef struct seq_now {
    int64_t wall, el;
} seq_now;

static seq_now seqNow(const seq_state *s)
{
    return (seq_now){s->clock_ms, s->elapsed_ms};
}

/* A reservation whose TTL ran out counts as released (nothing stores the
 * change: it follows from the elapsed clock, identically on every
 * replica). deadline_ms INT64_MAX (no TTL, or one saturated at the end of
 * time) never runs out, even when the clock reaches INT64_MAX. */
static bool seqReservationLapsed(const seq_ledger_run *e, seq_now now)
{
    return e->state == SEQ_NUM_RESERVED && e->deadline_ms != INT64_MAX &&
           e->deadline_ms <= now.el;
}

static uint8_t seqEffectiveState(const seq_ledger_run *e, seq_now now)
{
    return seqReservationLapsed(e, now) ? SEQ_NUM_RELEASED : e->state;
}

/* A point on the elapsed clock as a wall time, judged from now: what a
 * reply shows for a reservation's end or lapse. */
static int64_t seqWallOf(seq_now now, int64_t el)
{
    __int128 w = (__int128)now.wall + ((__int128)el - now.el);
    return w > INT64_MAX ? INT64_MAX : w < INT64_MIN ? INT64_MIN : (int64_t)w;
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
    seq_ledger_run *grown = realloc(q->ledger, sizeof(*grown) * cap);
    if (grown == NULL) {
        fprintf(stderr, "seq: out of memory\n");
        abort();
    }
    q->ledger = grown;
    q->ledger_cap = cap;
}

/* Whether the ledger can take `extra` more runs. */
static bool seqLedgerRoom(const seq_sequence *q, size_t extra)
{
    return q->n_ledger + extra <= SEQ_LEDGER_MAX;
}

/* Removes the numbers [a, b] from the ledger, splitting runs that reach
 * outside it (needs room for one more run). */
static void seqLedgerCut(seq_sequence *q, int64_t a, int64_t b)
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

/* Removes every number of pieces[0..n) from the ledger in one pass:
 * O(runs + n), where a seqLedgerCut per piece shifts the array each time
 * (quadratic: 20k reused runs took 0.4 s of apply). The pieces are sorted,
 * disjoint, and each lies inside one run; the runs that remain keep their
 * order, so the ledger stays sorted, and none of them merges anew (a run
 * only shrinks). */
static void seqLedgerCutSorted(seq_sequence *q, const seq_run *pieces, size_t n)
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
    seq_ledger_run *out = seq_xmalloc(sizeof(*out) * (q->n_ledger + extra));
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
    q->ledger_cap = q->n_ledger + extra;
    q->n_open = 0;
    for (size_t i = 0; i < m; i++) {
        q->n_open += seqIsOpen(out[i].state) ? 1 : 0;
    }
}

static bool seqLedgerMergeable(const seq_ledger_run *x, const seq_ledger_run *y)
{
    return x->state != SEQ_NUM_RESERVED && x->state == y->state && x->time_ms == y->time_ms &&
           x->last != INT64_MAX && x->last + 1 == y->first && strcmp(x->reason, y->reason) == 0;
}

/* Puts [a, b], which no run holds, into the ledger with a state; merges it
 * with equal neighbours. Needs room for one more run. */
static void seqLedgerPut(seq_sequence *q, int64_t a, int64_t b, uint8_t state, int64_t time_ms,
                         int64_t deadline_ms, const char *reason, size_t reason_len)
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
    q->n_ledger++;
    if (seqIsOpen(state)) {
        q->n_open++;
        q->open_from = a < q->open_from ? a : q->open_from;
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
                               const char *reason, size_t reason_len)
{
    const seq_ledger_run *e = seqLedgerAt(q, v);
    if (e != NULL) {
        return e->first == e->last ? 0 : (e->first < v && v < e->last ? 2 : 1);
    }
    long at = seqLedgerFloor(q, v);
    size_t nx = (size_t)(at + 1);
    seq_ledger_run probe = {v, v, state, time_ms, INT64_MAX, 0, NULL, INT64_MAX};
    char *copy = seqStrdup(reason, reason_len);
    probe.reason = copy;
    bool merges = (at >= 0 && seqLedgerMergeable(&q->ledger[at], &probe)) ||
                  (nx < q->n_ledger && seqLedgerMergeable(&probe, &q->ledger[nx]));
    free(copy);
    return merges ? 0 : 1;
}

static void seqLedgerPutText(seq_sequence *q, int64_t a, int64_t b, uint8_t state,
                             int64_t time_ms, const char *reason)
{
    seqLedgerPut(q, a, b, state, time_ms, INT64_MAX, reason, strlen(reason));
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
    q->n_open = 0;
}

/* Whether cached-mode block runs hold v. */
static bool seqInBlock(const seq_sequence *q, int64_t v)
{
    for (size_t i = 0; i < q->n_block; i++) {
        if (q->block[i].first <= v && v <= q->block[i].last) {
            return true;
        }
    }
    return false;
}

/* Clips the stretch [v, end] to one side of the block's edges: *in tells
 * whether v is in a block run; the stretch then ends at that run's end, or
 * else before the next block run. */
static int64_t seqBlockClip(const seq_sequence *q, int64_t v, int64_t end, bool *in)
{
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

/* The invariants of seq_internal.h for the ledger and the block, except
 * the time (the decoder checks that against the state's clock). */
static bool seqLedgerValid(const seq_sequence *q)
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
        return q->n_ranges == 0 && q->n_ledger == 0 && q->n_block == 0;
    }
    if (q->n_ranges == 0 || q->n_ranges > SEQ_RANGES_MAX || q->cur > q->n_ranges ||
        q->mode > SEQ_MODE_CACHED || (q->mode == SEQ_MODE_CACHED) != (q->cache > 0) ||
        q->cache > SEQ_CACHE_MAX) {
        return false;
    }
    /* Disjointness on a sorted copy: O(n log n), not O(n^2), since this
     * also guards every decoded snapshot. */
    seq_range *sorted = seq_xmalloc(sizeof(seq_range) * q->n_ranges);
    bool ok = true;
    for (size_t i = 0; i < q->n_ranges; i++) {
        const seq_span *r = &q->ranges[i];
        sorted[i].min = r->min;
        sorted[i].max = r->max;
        ok = ok && r->min <= r->max && r->not_before <= r->not_after &&
             (r->full || (r->min <= r->next && r->next <= r->max)) && (i >= q->cur || r->full);
    }
    qsort(sorted, q->n_ranges, sizeof(seq_range), seqRangeCompare);
    for (size_t i = 1; i < q->n_ranges && ok; i++) {
        ok = !seqOverlap(sorted[i - 1].min, sorted[i - 1].max, sorted[i].min, sorted[i].max);
    }
    free(sorted);
    return ok && seqLedgerValid(q);
}

/* ---- rates and warnings --------------------------------------------------- */

static int64_t seqMinuteOf(int64_t t)
{
    int64_t m = t / 60000;
    return (t % 60000 < 0) ? m - 1 : m; /* floor, also before 1970 */
}

static void seqRateAdd(seq_sequence *q, int64_t t, uint64_t n)
{
    int64_t m = seqMinuteOf(t);
    size_t b = (size_t)(((m % SEQ_RATE_BUCKETS) + SEQ_RATE_BUCKETS) % SEQ_RATE_BUCKETS);
    if (q->rate_minute[b] != m) {
        q->rate_minute[b] = m;
        q->rate_count[b] = 0;
    }
    q->rate_count[b] = q->rate_count[b] > UINT64_MAX - n ? UINT64_MAX : q->rate_count[b] + n;
}

static void seqRates(const seq_sequence *q, int64_t t, uint64_t *per_min, uint64_t *per_hour)
{
    int64_t m = seqMinuteOf(t);
    unsigned __int128 hour = 0, cur = 0, prev = 0;
    for (size_t b = 0; b < SEQ_RATE_BUCKETS; b++) {
        if (q->rate_minute[b] > m - SEQ_RATE_BUCKETS && q->rate_minute[b] <= m) {
            hour += q->rate_count[b];
        }
        if (q->rate_minute[b] == m) {
            cur = q->rate_count[b];
        } else if (q->rate_minute[b] == m - 1) {
            prev = q->rate_count[b];
        }
    }
    /* The last 60 s: this minute so far and the part of the previous
     * minute that still lies within them. The offset into the minute is
     * computed in uint64: m * 60000 lies below INT64_MIN when t is near it. */
    uint64_t into = (uint64_t)t - (uint64_t)m * 60000u;
    unsigned __int128 minute = cur + prev * (60000 - into) / 60000;
    *per_min = minute > UINT64_MAX ? UINT64_MAX : (uint64_t)minute;
    *per_hour = hour > UINT64_MAX ? UINT64_MAX : (uint64_t)hour;
}

static uint64_t seqLeft(const seq_sequence *q, seq_now now);

/* After numbers were taken: sets warned (and tells the result) the first
 * time the numbers left reach the WARN threshold. */
static void seqWarnCheck(seq_sequence *q, seq_now now, seq_result *out)
{
    if (q->warn > 0 && !q->warned && seqLeft(q, now) <= q->warn) {
        q->warned = true;
        out->warn_crossed = true;
    }
}

void seq_each_warned(const seq_state *s,
                     void (*fn)(void *ctx, const char *name, uint64_t left, uint64_t warn),
                     void *ctx)
{
    for (const seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        if (q->live && q->warned) {
            fn(ctx, q->name, seqLeft(q, seqNow(s)), q->warn);
        }
    }
}

/* ---- commands ------------------------------------------------------------ */

/* Adds the numbers this incarnation issued to the burned history. Returns
 * SEQ_ERR_TOO_MANY, changing nothing, when the merged history would not
 * fit. */
static int seqBurnHistory(seq_sequence *q)
{
    size_t n_iv = 0;
    seq_range *iv = seqIssuedIntervals(q, &n_iv);
    size_t n = q->n_burned + n_iv;
    seq_range *all = seq_xmalloc(sizeof(*all) * (n + 1));
    if (q->n_burned > 0) { /* q->burned is NULL before the first DROP */
        memcpy(all, q->burned, sizeof(*all) * q->n_burned);
    }
    if (n_iv > 0) {
        memcpy(all + q->n_burned, iv, sizeof(*all) * n_iv);
    }
    free(iv);
    /* Numbers below START were never issued here, but START says they
     * were taken elsewhere (a migrated series): a re-CREATE skips them too. */
    if (q->def_has_start && q->def_start > q->ranges[0].min) {
        all[n].min = q->ranges[0].min;
        all[n].max = q->def_start - 1;
        n++;
    }
    qsort(all, n, sizeof(*all), seqRangeCompare);
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

static void seqSpanInit(seq_span *r, const seq_cmd *cmd)
{
    r->min = cmd->min;
    r->max = cmd->max;
    r->not_before = cmd->has_not_before ? cmd->not_before : INT64_MIN;
    r->not_after = cmd->has_not_after ? cmd->not_after : INT64_MAX;
    r->next = cmd->min;
    r->full = false;
}

static int seqCheckRangeCmd(const seq_cmd *cmd)
{
    if (cmd->min > cmd->max) {
        return SEQ_ERR_RANGE;
    }
    if (cmd->has_not_before && cmd->has_not_after && cmd->not_before > cmd->not_after) {
        return SEQ_ERR_WINDOW;
    }
    return SEQ_OK;
}

static int seqCreate(seq_state *s, const seq_cmd *cmd)
{
    if (cmd->has_start && (cmd->start < cmd->min || cmd->start > cmd->max)) {
        return SEQ_ERR_RANGE;
    }
    int rv = seqCheckRangeCmd(cmd);
    if (rv != SEQ_OK) {
        return rv;
    }
    if (cmd->mode > SEQ_MODE_CACHED || (cmd->mode == SEQ_MODE_CACHED) != (cmd->cache > 0) ||
        cmd->cache > SEQ_CACHE_MAX) {
        return SEQ_ERR_MODE;
    }
    seq_sequence *q = seqFind(s, cmd->name, cmd->name_len);
    if (q != NULL && q->live) {
        /* START min means the same as no START. */
        int64_t had = q->def_has_start ? q->def_start : q->def_min;
        int64_t asks = cmd->has_start ? cmd->start : cmd->min;
        seq_span want;
        seqSpanInit(&want, cmd);
        bool same = q->def_min == cmd->min && q->def_max == cmd->max && had == asks &&
                    q->mode == cmd->mode && q->cache == cmd->cache && q->warn == cmd->warn &&
                    q->ranges[0].not_before == want.not_before &&
                    q->ranges[0].not_after == want.not_after;
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
    q->mode = cmd->mode;
    q->cache = cmd->cache;
    q->warn = cmd->warn;
    q->warned = false;
    q->grants = 0;
    /* A tombstone decoded from a snapshot still owns an empty array. */
    free(q->ranges);
    q->ranges = seq_xmalloc(sizeof(seq_span));
    seqSpanInit(&q->ranges[0], cmd);
    if (cmd->has_start) {
        q->ranges[0].next = cmd->start;
    }
    q->n_ranges = 1;
    q->cur = 0;
    q->issued = 0;
    memset(q->rate_minute, 0, sizeof(q->rate_minute));
    memset(q->rate_count, 0, sizeof(q->rate_count));
    s->n_live++;
    assert(seq_sequence_valid(q));
    return SEQ_OK;
}

static int seqAddRange(seq_state *s, const seq_cmd *cmd)
{
    int rv = seqCheckRangeCmd(cmd);
    if (rv != SEQ_OK) {
        return rv;
    }
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    for (size_t i = 0; i < q->n_ranges; i++) {
        if (seqOverlap(cmd->min, cmd->max, q->ranges[i].min, q->ranges[i].max)) {
            return SEQ_ERR_OVERLAP;
        }
    }
    if (q->n_ranges >= SEQ_RANGES_MAX) {
        return SEQ_ERR_TOO_MANY;
    }
    seq_span *grown = realloc(q->ranges, sizeof(*grown) * (q->n_ranges + 1));
    if (grown == NULL) {
        fprintf(stderr, "seq: out of memory\n");
        abort();
    }
    q->ranges = grown;
    seqSpanInit(&q->ranges[q->n_ranges], cmd);
    q->n_ranges++;
    if (q->warned && seqLeft(q, seqNow(s)) > q->warn) {
        q->warned = false;
    }
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

/* Marks unknown-fate numbers among runs final again: a KEY replay has just
 * delivered them. */
static void seqUnknownDelivered(seq_sequence *q, const seq_run *runs, size_t n)
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

/* Whether the ledger lists any number of runs as voided. */
static bool seqRunsVoided(const seq_sequence *q, const seq_run *runs, size_t n)
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

static seq_key_entry *seqKeyNew(const uint8_t *hkey, size_t hkey_len, seq_now now,
                                uint32_t count, const seq_run *runs, size_t n_runs)
{
    seq_key_entry *e = seq_xcalloc(1, sizeof(*e));
    e->hkey = seq_xmalloc(hkey_len);
    memcpy(e->hkey, hkey, hkey_len);
    e->hkey_len = hkey_len;
    e->inserted_ms = now.wall;
    e->inserted_el_ms = now.el;
    e->count = count;
    e->runs = seq_xmalloc(sizeof(*runs) * n_runs);
    memcpy(e->runs, runs, sizeof(*runs) * n_runs);
    e->n_runs = n_runs;
    return e;
}

/* NEXT in strict mode (and in cached mode when it reaches the log, which
 * only a leader without a block does: the block path is ALLOCBLOCK/USED). */
static int seqNextStrict(seq_state *s, seq_sequence *q, const seq_cmd *cmd, seq_result *out)
{
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
            if (seqRunsVoided(q, e->runs, e->n_runs)) {
                return SEQ_ERR_KEY_VOIDED; /* never answer a voided number as valid */
            }
            seqCopyRuns(out, e->runs, e->n_runs);
            out->replayed = true;
            if (q->n_ledger > 0 && seqLedgerRoom(q, e->n_runs)) {
                seqUnknownDelivered(q, e->runs, e->n_runs);
            }
            return SEQ_OK;
        }
        if (s->n_keys >= s->keys_max) { /* the limit the entry's stamp carries */
            return SEQ_ERR_KEYS_FULL;
        }
    }
    seq_take tk;
    seqTakeInit(&tk, q);
    int rv = seqTakePlan(q, s->clock_ms, cmd->count, false, &tk);
    if (rv != SEQ_OK) {
        seqExhausted(q, s->clock_ms, out);
        seqTakeFree(&tk);
        return rv;
    }
    seqTakeApply(q, &tk);
    seqCopyRuns(out, tk.runs, tk.n_runs);
    if (hkey_len > 0) {
        seq_key_insert(s, seqKeyNew(hkey, hkey_len, seqNow(s), cmd->count, tk.runs, tk.n_runs));
    }
    seqRateAdd(q, s->clock_ms, cmd->count);
    seqWarnCheck(q, seqNow(s), out);
    seqTakeFree(&tk);
    return SEQ_OK;
}

/* The released (or lapsed reserved) numbers of run e that may be issued
 * again are those whose range has not expired. A run may span numerically
 * adjacent ranges, so this is judged per range: finds the first stretch
 * [*first, *last] of such numbers at or after `from` (a number of e) that
 * lies in one range. False when there is none. */
static bool seqReissuablePiece(const seq_sequence *q, const seq_ledger_run *e, seq_now now,
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

/* Numbers still to hand out, now or later: the ranges' unissued numbers
 * that have not expired and, in gapless mode, the released ones (and lapsed
 * reservations) that may be issued again. Saturated at UINT64_MAX. */
static uint64_t seqLeft(const seq_sequence *q, seq_now now)
{
    unsigned __int128 n = seqRemaining(q, now.wall, false);
    for (size_t i = 0; q->mode == SEQ_MODE_GAPLESS && q->n_open > 0 && i < q->n_ledger; i++) {
        const seq_ledger_run *e = &q->ledger[i];
        int64_t a, z;
        for (int64_t from = e->first; seqReissuablePiece(q, e, now, &a, &z, from);
             from = z + 1) {
            n += (unsigned __int128)((uint64_t)z - (uint64_t)a) + 1;
            if (z == e->last) {
                break;
            }
        }
    }
    return n > UINT64_MAX ? UINT64_MAX : (uint64_t)n;
}

/* After numbers went back (RELEASE, UNDELIVERED): a warning whose cause is
 * gone is cleared. */
static void seqWarnLift(seq_sequence *q, seq_now now)
{
    if (q->warned && seqLeft(q, now) > q->warn) {
        q->warned = false;
    }
}

/* Gapless NEXT (reserve = false: the numbers are final at once) and
 * RESERVE (one number, held until CONFIRM, RELEASE or its TTL). Released
 * numbers go first, lowest first; then new ones from the ranges. */
static int seqGaplessTake(seq_state *s, seq_sequence *q, const seq_cmd *cmd, bool reserve,
                          seq_result *out)
{
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
    uint8_t hkey[8 + SEQ_KEY_MAX];
    size_t hkey_len = 0;
    seq_key_entry *stale = NULL;
    if (cmd->key_len > 0) {
        if (count != 1) {
            return SEQ_ERR_MODE; /* a gapless key names one number */
        }
        hkey_len = seqKeyHash(hkey, q->incarnation, cmd->key, cmd->key_len);
        seq_key_entry *e = NULL;
        HASH_FIND(hh, s->keys, hkey, hkey_len, e);
        if (e != NULL) {
            int64_t v = e->runs[0].first;
            const seq_ledger_run *run = seqLedgerAt(q, v);
            uint8_t st = run == NULL ? SEQ_NUM_FINAL : seqEffectiveState(run, now);
            if (st == SEQ_NUM_VOIDED) {
                return SEQ_ERR_KEY_VOIDED;
            }
            if (st == SEQ_NUM_FINAL || st == SEQ_NUM_RESERVED || st == SEQ_NUM_UNKNOWN) {
                /* NEXT promises a final number: the key's own reservation
                 * (or its unknown-fate number) is confirmed by it, else a
                 * lapse would hand the number to a second caller. */
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
            stale = e; /* its reservation lapsed: the key gets a number anew */
        } else if (s->n_pkeys >= SEQ_PKEYS_MAX) {
            return SEQ_ERR_KEYS_FULL;
        }
    }
    /* Plan: released numbers first (lowest first), then new. `grow` counts
     * the ledger runs the commit adds: cutting a piece out of a run keeps
     * the part before it and the part after it. */
    seq_run stack_reuse[4];
    seq_run *reuse = stack_reuse;
    size_t n_reuse = 0, reuse_cap = 4;
    uint64_t need = count;
    long grow = reserve ? 1 : 0; /* the reservation's own run */
    /* Scanned from open_from, below which no run is open: a ledger of
     * voided runs before the released ones costs a binary search, not a
     * walk, on every NEXT. */
    int64_t reuse_from = INT64_MAX; /* the first open run seen */
    long scan = seqLedgerFloor(q, q->open_from);
    for (size_t i = scan < 0 ? 0 : (size_t)scan; i < q->n_ledger && q->n_open > 0 && need > 0;
         i++) {
        const seq_ledger_run *e = &q->ledger[i];
        if (reuse_from == INT64_MAX && seqIsOpen(e->state)) {
            reuse_from = e->first;
        }
        int64_t run_from = e->first; /* where the run starts after earlier cuts */
        int64_t a, z;
        while (need > 0 && seqReissuablePiece(q, e, now, &a, &z, run_from)) {
            uint64_t span = (uint64_t)z - (uint64_t)a;
            int64_t last = span >= need - 1 ? seqAdd(a, need - 1) : z;
            if (n_reuse == reuse_cap) {
                reuse_cap *= 2;
                seq_run *grown = seq_xmalloc(sizeof(*grown) * reuse_cap);
                memcpy(grown, reuse, sizeof(*grown) * n_reuse);
                if (reuse != stack_reuse) {
                    free(reuse);
                }
                reuse = grown;
            }
            reuse[n_reuse].first = a;
            reuse[n_reuse].last = last;
            n_reuse++;
            need -= (uint64_t)last - (uint64_t)a + 1;
            grow += (a > run_from ? 1 : 0) + (last < e->last ? 1 : 0) - 1;
            if (last == e->last) {
                break;
            }
            run_from = last + 1;
        }
    }
    seq_take tk;
    seqTakeInit(&tk, q);
    int rv = SEQ_OK;
    if (need > 0) {
        rv = seqTakePlan(q, t, need, false, &tk);
    }
    if (rv == SEQ_OK && grow > 0 && !seqLedgerRoom(q, (size_t)grow)) {
        rv = SEQ_ERR_TOO_MANY;
    }
    if (rv != SEQ_OK) {
        if (rv == SEQ_ERR_EXHAUSTED) {
            seqExhausted(q, t, out);
            out->remaining += count - need; /* the released ones count too */
        }
        goto out;
    }
    /* Commit. */
    for (size_t k = 0; k < n_reuse; k++) {
        /* A lapsed reservation (one number) lets go of its key; released
         * runs hold no keys (RELEASE dropped them). */
        if (seqLedgerAt(q, reuse[k].first)->state == SEQ_NUM_RESERVED) {
            seq_key_entry *held = seqPkeyByNumber(s, q->incarnation, reuse[k].first);
            if (held != NULL && held != stale) {
                seqPkeyDelete(s, held);
            }
        }
    }
    seqLedgerCutSorted(q, reuse, n_reuse);
    if (reuse_from != INT64_MAX) {
        q->open_from = reuse_from; /* no open run starts below the first one seen */
    }
    if (stale != NULL) {
        seqPkeyDelete(s, stale);
    }
    if (need > 0) {
        seqTakeApply(q, &tk);
    }
    size_t n_out = n_reuse + tk.n_runs;
    seq_run *all = seq_xmalloc(sizeof(*all) * n_out);
    memcpy(all, reuse, sizeof(*all) * n_reuse);
    if (tk.n_runs > 0) {
        memcpy(all + n_reuse, tk.runs, sizeof(*all) * tk.n_runs);
    }
    seqCopyRuns(out, all, n_out);
    free(all);
    if (reserve) {
        int64_t v = out->runs[0].first;
        seqLedgerPut(q, v, v, SEQ_NUM_RESERVED, t, deadline, "reserved", 8);
        /* The grant: what names this reservation, and only it, to an
         * UNDELIVERED report (the number may be reserved again later). */
        seqLedgerAt(q, v)->grant = ++q->grants;
        out->grant = q->grants;
    }
    if (hkey_len > 0) {
        seq_key_entry *e = seqKeyNew(hkey, hkey_len, now, 1, out->runs, 1);
        e->permanent = true;
        seqNumberKey(e->nkey, q->incarnation, out->runs[0].first);
        seq_pkey_insert(s, e);
    }
    seqRateAdd(q, t, count);
    seqWarnCheck(q, now, out); /* reissued numbers count as left too */
out:
    seqTakeFree(&tk);
    if (reuse != stack_reuse) {
        free(reuse);
    }
    return rv;
}

static int seqNext(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (cmd->count < 1 || cmd->count > SEQ_COUNT_MAX) {
        return SEQ_ERR_COUNT;
    }
    if (cmd->key_len > 0 && !seq_key_valid(cmd->key, cmd->key_len)) {
        return SEQ_ERR_KEY;
    }
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    if (q->mode == SEQ_MODE_GAPLESS) {
        return seqGaplessTake(s, q, cmd, false, out);
    }
    if (q->mode == SEQ_MODE_CACHED && cmd->key_len > 0) {
        return SEQ_ERR_MODE; /* a block served from memory cannot replay keys */
    }
    return seqNextStrict(s, q, cmd, out);
}

static int seqReserve(seq_state *s, const seq_cmd *cmd, seq_result *out)
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

/* With CONFIRM/RELEASE ... KEY k: whether k is the gapless key that holds
 * v. Without a key the number alone is trusted. */
static int seqKeyHolds(const seq_state *s, const seq_sequence *q, const seq_cmd *cmd, int64_t v)
{
    if (cmd->key_len == 0) {
        return SEQ_OK;
    }
    if (!seq_key_valid(cmd->key, cmd->key_len)) {
        return SEQ_ERR_KEY;
    }
    uint8_t hkey[8 + SEQ_KEY_MAX];
    size_t hkey_len = seqKeyHash(hkey, q->incarnation, cmd->key, cmd->key_len);
    seq_key_entry *e = NULL;
    HASH_FIND(hh, s->keys, hkey, hkey_len, e);
    return e != NULL && e->permanent && e->runs[0].first == v ? SEQ_OK : SEQ_ERR_KEY_MISMATCH;
}

/* CONFIRM name n: a live reservation (or an unknown-fate number) becomes
 * final. Confirming a final number again is a no-op. */
static int seqConfirm(seq_state *s, const seq_cmd *cmd)
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

/* RELEASE name n: a reservation (live or lapsed) is returned, to be issued
 * again before any new number; its key lets go of it. */
static int seqRelease(seq_state *s, const seq_cmd *cmd)
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
    seq_key_entry *held = seqPkeyByNumber(s, q->incarnation, v);
    if (held != NULL) {
        seqPkeyDelete(s, held);
    }
    seqLedgerCut(q, v, v);
    seqLedgerPutText(q, v, v, SEQ_NUM_RELEASED, s->clock_ms, "released");
    seqWarnLift(q, seqNow(s));
    return SEQ_OK;
}

/* VOID name n reason: an issued number that is not final any more and is
 * never issued again. Voiding a voided number changes nothing (the first
 * reason and time stand). */
static int seqVoid(seq_state *s, const seq_cmd *cmd)
{
    if (!seq_reason_valid(cmd->text, cmd->text_len)) {
        return SEQ_ERR_REASON;
    }
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
    const seq_ledger_run *e = seqLedgerAt(q, v);
    if (e != NULL && e->state == SEQ_NUM_VOIDED) {
        return SEQ_OK;
    }
    if (!seqLedgerRoom(q, seqLedgerRunsFor(q, v, SEQ_NUM_VOIDED, s->clock_ms, cmd->text,
                                           cmd->text_len))) {
        return SEQ_ERR_TOO_MANY;
    }
    seqLedgerCut(q, v, v);
    seqLedgerPut(q, v, v, SEQ_NUM_VOIDED, s->clock_ms, INT64_MAX, cmd->text, cmd->text_len);
    /* The hot path asserts only what VOID can change: order around v. */
    long k = seqLedgerFloor(q, v);
    assert(k >= 0 && q->ledger[k].first <= v && v <= q->ledger[k].last);
    assert(k == 0 || q->ledger[k - 1].last < q->ledger[k].first);
    assert((size_t)k + 1 == q->n_ledger || q->ledger[k].last < q->ledger[k + 1].first);
    return SEQ_OK;
}

/* UNDELIVERED name first last cause: a reply that handed out [first, last]
 * reached no client. Two kinds, so that a late, repeated or forged report
 * can never hand a number to two holders:
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
static int seqUndelivered(seq_state *s, const seq_cmd *cmd)
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
                    seq_range *grown = realloc(pieces, sizeof(*grown) * cap);
                    if (grown == NULL) {
                        abort();
                    }
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
                seq_key_entry *held = seqPkeyByNumber(s, q->incarnation, v);
                if (held != NULL) {
                    seqPkeyDelete(s, held);
                }
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

/* The block of a cached sequence goes to the ledger as skipped. */
static int seqSkipBlock(seq_sequence *q, int64_t t)
{
    if (!seqLedgerRoom(q, q->n_block)) {
        return SEQ_ERR_TOO_MANY;
    }
    for (size_t i = 0; i < q->n_block; i++) {
        seqLedgerPutText(q, q->block[i].first, q->block[i].last, SEQ_NUM_SKIPPED, t,
                         "cached block given up: a leader change, a restart, or its range expired");
    }
    free(q->block);
    q->block = NULL;
    q->n_block = 0;
    return SEQ_OK;
}

static bool seqOwns(const seq_sequence *q, const seq_cmd *cmd)
{
    return q->block_term == cmd->term && q->block_node == cmd->node;
}

/* ALLOCBLOCK name count term node: hands up to count numbers valid now to
 * the leader (term, node), to serve from memory in the order of the runs.
 * The block of a previous owner is skipped first. */
static int seqAllocBlock(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (cmd->count < 1 || cmd->count > SEQ_CACHE_MAX) {
        return SEQ_ERR_COUNT;
    }
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    if (q->mode != SEQ_MODE_CACHED) {
        return SEQ_ERR_MODE;
    }
    if (cmd->incarnation != 0 && cmd->incarnation != q->incarnation) {
        return SEQ_ERR_STALE; /* a block for a dropped incarnation goes to nobody */
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
    seq_run *grown = realloc(q->block, sizeof(*grown) * (q->n_block + tk.n_runs));
    if (grown == NULL) {
        abort();
    }
    q->block = grown;
    for (size_t k = 0; k < tk.n_runs; k++) {
        seq_run *last = q->n_block > 0 ? &q->block[q->n_block - 1] : NULL;
        if (last != NULL && last->last != INT64_MAX && last->last + 1 == tk.runs[k].first) {
            last->last = tk.runs[k].last;
        } else {
            q->block[q->n_block++] = tk.runs[k];
        }
    }
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

/* USED name count term node: the owner served the first count numbers of
 * its block; they are final. From an owner that lost the block: nothing. */
static int seqUsed(seq_state *s, const seq_cmd *cmd)
{
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    if (q->mode != SEQ_MODE_CACHED) {
        return SEQ_ERR_MODE;
    }
    if (cmd->incarnation != 0 && cmd->incarnation != q->incarnation) {
        return SEQ_ERR_STALE;
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
    seqRateAdd(q, s->clock_ms, used);
    return SEQ_OK;
}

/* RECOVER term node: a new leader skips the blocks of other leaders: of
 * another term, or of another process (the high 48 bits of node; the low
 * 16 tell a process's block holders apart, see seq_cmd). */
static int seqRecover(seq_state *s, const seq_cmd *cmd)
{
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

static int seqDrop(seq_state *s, const seq_cmd *cmd)
{
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    int rv = seqBurnHistory(q);
    if (rv != SEQ_OK) {
        return rv;
    }
    /* The burned history now covers every number the ledger and the block
     * held. Permanent keys of this incarnation can never match again (the
     * next CREATE has a new incarnation): free them. */
    if (q->mode == SEQ_MODE_GAPLESS) {
        uint8_t inc[16];
        seqNumberKey(inc, q->incarnation, 0);
        seq_key_entry *e, *tmp;
        HASH_ITER(hh, s->keys, e, tmp)
        {
            if (e->permanent && memcmp(e->hkey, inc, 8) == 0) {
                seqPkeyDelete(s, e);
            }
        }
    }
    seqLedgerClear(q);
    free(q->block);
    q->block = NULL;
    q->n_block = 0;
    free(q->ranges);
    q->ranges = NULL;
    q->n_ranges = 0;
    q->cur = 0;
    q->issued = 0;
    q->live = false;
    q->warned = false;
    s->n_live--;
    assert(seq_sequence_valid(q));
    return SEQ_OK;
}

/* The lowest number NEXT would issue now, if any. */
static bool seqPeek(const seq_sequence *q, seq_now now, int64_t *v)
{
    if (q->mode == SEQ_MODE_GAPLESS) {
        for (size_t i = 0; i < q->n_ledger && q->n_open > 0; i++) {
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

static int seqDescribe(const seq_state *s, const seq_cmd *cmd, seq_result *out)
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
                                          t > r->not_after};
    }
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
    out->eta_s = -1;
    unsigned __int128 eta = 0;
    if (out->rate_1m > 0) {
        eta = (unsigned __int128)out->left * 60 / out->rate_1m;
    } else if (out->rate_1h > 0) {
        eta = (unsigned __int128)out->left * 3600 / out->rate_1h;
    }
    if (out->rate_1m > 0 || out->rate_1h > 0) {
        out->eta_s = eta > INT64_MAX ? INT64_MAX : (int64_t)eta;
    }
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

static int seqLedgerRunCompare(const void *a, const void *b)
{
    const seq_ledger_run *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Appends a GAPS row clipped to [lo, hi] (reason copied) if it overlaps. */
static void seqGapsPush(seq_ledger_run **rows, size_t *n, size_t *cap, seq_ledger_run e,
                        int64_t lo, int64_t hi)
{
    if (e.last < lo || e.first > hi) {
        return;
    }
    if (*n == *cap) {
        *cap = *cap == 0 ? 16 : *cap * 2;
        seq_ledger_run *grown = realloc(*rows, sizeof(*grown) * *cap);
        if (grown == NULL) {
            abort();
        }
        *rows = grown;
    }
    e.first = e.first < lo ? lo : e.first;
    e.last = e.last > hi ? hi : e.last;
    e.reason = seqStrdup(e.reason, strlen(e.reason));
    (*rows)[(*n)++] = e;
}

/* GAPS name from to: every number of [from, to] below the ranges' cursors
 * that is not final, plus the expired rest of ranges past NOTAFTER, as
 * runs clipped to [from, to], ascending, at most SEQ_GAPS_MAX (more = true
 * when cut). */
static int seqGaps(const seq_state *s, const seq_cmd *cmd, seq_result *out)
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
                            (char *)"in the leader's cache block, not yet reported served", INT64_MAX};
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
                                INT64_MAX, 0, (char *)"range expired (NOTAFTER passed)", INT64_MAX};
            seqGapsPush(&rows, &n, &cap, e, lo, hi);
        }
        free(pieces);
    }
    if (n > 1) { /* rows is NULL when there are none */
        qsort(rows, n, sizeof(*rows), seqLedgerRunCompare);
    }
    out->more = n > SEQ_GAPS_MAX;
    while (n > SEQ_GAPS_MAX) {
        free(rows[--n].reason);
    }
    out->ledger = rows;
    out->n_ledger = n;
    return SEQ_OK;
}

/* LOOKUP name n: what the ledger knows of n. */
static int seqLookup(const seq_state *s, const seq_cmd *cmd, seq_result *out)
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
    const seq_key_entry *k = q->mode == SEQ_MODE_GAPLESS && out->state != SEQ_NUM_RELEASED
                                 ? seqPkeyByNumber(s, q->incarnation, v)
                                 : NULL;
    if (k != NULL) {
        out->key = seqStrdup((const char *)k->hkey + 8, k->hkey_len - 8);
        if (out->time_ms == INT64_MIN) {
            out->time_ms = k->inserted_ms;
        }
    }
    return SEQ_OK;
}

static int seqLookupKey(const seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (!seq_key_valid(cmd->key, cmd->key_len)) {
        return SEQ_ERR_KEY;
    }
    const seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
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
    out->opens_ms = INT64_MAX;
    int rv;
    if (cmd->op != SEQ_OP_LIST && cmd->op != SEQ_OP_RECOVER &&
        !seq_name_valid(cmd->name, cmd->name_len)) {
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
    case SEQ_OP_RESERVE: rv = seqReserve(s, cmd, out); break;
    case SEQ_OP_CONFIRM: rv = seqConfirm(s, cmd); break;
    case SEQ_OP_RELEASE: rv = seqRelease(s, cmd); break;
    case SEQ_OP_ALLOCBLOCK: rv = seqAllocBlock(s, cmd, out); break;
    case SEQ_OP_USED: rv = seqUsed(s, cmd); break;
    case SEQ_OP_RECOVER: rv = seqRecover(s, cmd); break;
    case SEQ_OP_UNDELIVERED: rv = seqUndelivered(s, cmd); break;
    default: rv = SEQ_ERR_BADCMD; break;
    }
    out->status = rv;
    return rv;
}
