/* seq_snapshot — the whole sequence state as bytes and back.
 *
 * Format (little endian): "SEQS", version u32, clock i64, incarnations u64,
 * n_sequences u32, each sequence, n_keys u32, each key oldest first.
 * Version 2 adds to each sequence, after its burned intervals, its ledger:
 * n_ledger u32, then per run first i64, last i64, state u8, time_ms i64,
 * reason_len u16, reason bytes (tombstones write 0 runs). Version 1 is still
 * read: its sequences have empty ledgers.
 * Version 3 (written now) changes a sequence to: name, live, incarnation,
 * CREATE definition, mode u8, cache u32, warn u64, warned u8, grants u64, n_ranges u32
 * and per range min, max, not_before, not_after, next i64 and full u8; cur
 * u32; issued u64; burned; the ledger with until_ms i64 after each run's
 * time and grant u64 after it; n_block u32, block_term u64, block_node u64 and the block runs;
 * n_rates u8 and per used bucket index u8, minute i64, count u64. After the
 * retained keys come n_pkeys u32 and the permanent keys: hkey, inserted_ms,
 * number i64. Version 4 adds after the clock: elapsed i64,
 * stamped u8, stamp_origin u64, stamp_mono i64, keys_max u64 (the last
 * entry stamp), and to every key, after inserted_ms, inserted_el i64 (the
 * elapsed clock); a reservation's until_ms is then on the elapsed clock.
 * Version 3 is read with the elapsed clock equal to the wall clock.
 * Version 5 (written now) adds the users at the end (seq_snapshot_users.c)
 * and to each ledger run, after its reason, by_len u8 and by (the user
 * that put it there; empty: the server, or unknown); earlier versions are
 * read with the first default user only and runs by nobody.
 * Versions 1 and 2 are read as strict sequences with one cursor
 * (cur, next): ranges before cur are full, ranges after it untouched.
 * The decoder trusts nothing: every count is checked against its limit and
 * the bytes left, and every decoded sequence must satisfy the invariants of
 * seq_internal.h, or the whole snapshot is refused. Pure: no I/O. */
#include "seq_bytes.h"
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define SEQ_SNAPSHOT_MAGIC 0x53514553u /* "SEQS" */
#define SEQ_SNAPSHOT_VERSION 6u
#define SEQ_SNAPSHOT_VERSION_V5 5u
#define SEQ_SNAPSHOT_VERSION_V4 4u
#define SEQ_SNAPSHOT_VERSION_V3 3u
#define SEQ_SNAPSHOT_VERSION_V2 2u
#define SEQ_SNAPSHOT_VERSION_V1 1u /* no ledger */
#define SEQ_LEDGER_RUN_MIN_BYTES (8 + 8 + 1 + 8 + 2 + 1) /* v2, with a 1-byte reason */

static size_t seqRatesUsed(const seq_sequence *q)
{
    size_t n = 0;
    for (size_t b = 0; b < SEQ_RATE_BUCKETS; b++) {
        n += q->rate_count[b] != 0 ? 1 : 0;
    }
    return n;
}

static void seqWriteSequence(const seq_sequence *q, seq_writer *w)
{
    assert(q->name_len <= SEQ_NAME_MAX && q->n_ranges <= SEQ_RANGES_MAX);
    assert(q->n_ledger <= SEQ_LEDGER_MAX && q->n_burned <= SEQ_BURNED_MAX);
    seq_put_u16(w, (uint16_t)q->name_len);
    seq_put_bytes(w, q->name, q->name_len);
    seq_put_u8(w, q->live ? 1 : 0);
    seq_put_u64(w, q->incarnation);
    seq_put_i64(w, q->def_min);
    seq_put_i64(w, q->def_max);
    seq_put_u8(w, q->def_has_start ? 1 : 0);
    seq_put_i64(w, q->def_start);
    seq_put_u8(w, q->mode);
    seq_put_u32(w, q->cache);
    seq_put_u64(w, q->warn);
    seq_put_u8(w, q->warned ? 1 : 0);
    seq_put_u64(w, q->grants);
    seq_put_u32(w, (uint32_t)q->n_ranges);
    for (size_t i = 0; i < q->n_ranges; i++) {
        const seq_span *r = &q->ranges[i];
        seq_put_i64(w, r->min);
        seq_put_i64(w, r->max);
        seq_put_i64(w, r->not_before);
        seq_put_i64(w, r->not_after);
        seq_put_i64(w, r->next);
        seq_put_u8(w, r->full ? 1 : 0);
    }
    seq_put_u32(w, (uint32_t)q->cur);
    seq_put_u64(w, q->issued);
    seq_put_u32(w, (uint32_t)q->n_burned);
    for (size_t i = 0; i < q->n_burned; i++) {
        seq_put_i64(w, q->burned[i].min);
        seq_put_i64(w, q->burned[i].max);
    }
    seqSnapshotWriteLedger(q->ledger, q->n_ledger, w);
    seq_put_u32(w, (uint32_t)q->n_block);
    seq_put_u64(w, q->block_term);
    seq_put_u64(w, q->block_node);
    for (size_t i = 0; i < q->n_block; i++) {
        seq_put_i64(w, q->block[i].first);
        seq_put_i64(w, q->block[i].last);
    }
    seq_put_u8(w, (uint8_t)seqRatesUsed(q));
    for (size_t b = 0; b < SEQ_RATE_BUCKETS; b++) {
        if (q->rate_count[b] != 0) {
            seq_put_u8(w, (uint8_t)b);
            seq_put_i64(w, q->rate_minute[b]);
            seq_put_u64(w, q->rate_count[b]);
        }
    }
    seqWriteDoc(q, w);
}

void seqSnapshotWriteLedger(const seq_ledger_run *ledger, size_t n, seq_writer *w)
{
    seq_put_u32(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        const seq_ledger_run *e = &ledger[i];
        size_t reason_len = strlen(e->reason);
        seq_put_i64(w, e->first);
        seq_put_i64(w, e->last);
        seq_put_u8(w, e->state);
        seq_put_i64(w, e->time_ms);
        seq_put_i64(w, e->deadline_ms);
        seq_put_u64(w, e->grant);
        seq_put_u16(w, (uint16_t)reason_len);
        seq_put_bytes(w, e->reason, reason_len);
        size_t by_len = strlen(e->by);
        seq_put_u8(w, (uint8_t)by_len);
        seq_put_bytes(w, e->by, by_len);
    }
}

size_t seqSnapshotLedgerSize(const seq_ledger_run *ledger, size_t n)
{
    size_t size = 4;
    for (size_t i = 0; i < n; i++) {
        size += 8 + 8 + 1 + 8 + 8 + 8 + 2 + strlen(ledger[i].reason) + 1 + strlen(ledger[i].by);
    }
    return size;
}

static size_t seqSequenceSize(const seq_sequence *q)
{
    size_t n = 2 + q->name_len + 1 + 8 + 8 + 8 + 1 + 8 + 1 + 4 + 8 + 1 + 8 + 4 +
               41 * q->n_ranges + 4 + 8 + 4 + 16 * q->n_burned + 4 + 8 + 8 +
               16 * q->n_block + 1 + 17 * seqRatesUsed(q);
    return n + seqSnapshotLedgerSize(q->ledger, q->n_ledger) + seqDocSize(q);
}

static void seqWriteAll(const seq_state *s, seq_writer *w)
{
    seq_put_u32(w, SEQ_SNAPSHOT_MAGIC);
    seq_put_u32(w, SEQ_SNAPSHOT_VERSION);
    seq_put_i64(w, s->clock_ms);
    seq_put_i64(w, s->elapsed_ms);
    seq_put_u8(w, s->stamped ? 1 : 0);
    seq_put_u64(w, s->stamp_origin);
    seq_put_i64(w, s->stamp_mono_ms);
    seq_put_u64(w, s->keys_max);
    seq_put_u64(w, s->incarnations);
    seq_put_u32(w, (uint32_t)s->n_sequences);
    for (const seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        seqWriteSequence(q, w);
    }
    seq_put_u32(w, (uint32_t)s->n_keys);
    for (const seq_key_entry *e = s->oldest_key; e != NULL; e = e->newer) {
        seq_put_u16(w, (uint16_t)e->hkey_len);
        seq_put_bytes(w, e->hkey, e->hkey_len);
        seq_put_i64(w, e->inserted_ms);
        seq_put_i64(w, e->inserted_el_ms);
        seq_put_u32(w, e->count);
        seq_put_i64(w, e->period);
        seq_put_u32(w, (uint32_t)e->n_runs);
        for (size_t i = 0; i < e->n_runs; i++) {
            seq_put_i64(w, e->runs[i].first);
            seq_put_i64(w, e->runs[i].last);
        }
    }
    seq_put_u32(w, (uint32_t)s->n_pkeys);
    for (const seq_key_entry *e = s->keys_by_number; e != NULL; e = e->hn.next) {
        seq_put_u16(w, (uint16_t)e->hkey_len);
        seq_put_bytes(w, e->hkey, e->hkey_len);
        seq_put_i64(w, e->inserted_ms);
        seq_put_i64(w, e->inserted_el_ms);
        seq_put_i64(w, e->runs[0].first);
        seq_put_i64(w, e->period);
    }
    seqWriteUsers(s, w);
}

void *seq_snapshot_encode(const seq_state *s, size_t *len)
{
    assert(s != NULL && len != NULL);
    /* The exact size, from the tables; the writer checks it. */
    size_t total;
    total = 4 + 4 + 8 + 8 + 1 + 8 + 8 + 8 + 8 + 4 + 4 + 4;
    for (const seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        total += seqSequenceSize(q);
    }
    for (const seq_key_entry *e = s->oldest_key; e != NULL; e = e->newer) {
        total += 2 + e->hkey_len + 8 + 8 + 4 + 8 + 4 + 16 * e->n_runs;
    }
    for (const seq_key_entry *e = s->keys_by_number; e != NULL; e = e->hn.next) {
        total += 2 + e->hkey_len + 8 + 8 + 8 + 8;
    }
    total += seqUsersSize(s);
    uint8_t *buf = malloc(total);
    if (buf == NULL) {
        return NULL;
    }
    seq_writer w = {buf, 0, total, false};
    seqWriteAll(s, &w);
    if (w.overflow || w.len != total) {
        free(buf);
        return NULL;
    }
    *len = total;
    return buf;
}

static bool seqReadRanges(seq_reader *r, seq_range **out, size_t n)
{
    if (n > (r->len - r->pos) / 16) {
        r->bad = true;
        return false;
    }
    *out = seq_xmalloc(sizeof(seq_range) * (n == 0 ? 1 : n));
    for (size_t i = 0; i < n; i++) {
        (*out)[i].min = seq_get_i64(r);
        (*out)[i].max = seq_get_i64(r);
    }
    return !r->bad;
}

/* Reads a ledger into q (which then owns what was read, even on failure).
 * Shape only: seq_sequence_valid checks the runs against q. */
bool seqSnapshotReadLedger(seq_sequence *q, seq_reader *r, uint32_t version, int64_t clock_ms)
{
    size_t n = seq_get_u32(r);
    if (r->bad || n > SEQ_LEDGER_MAX || n > (r->len - r->pos) / SEQ_LEDGER_RUN_MIN_BYTES) {
        return false;
    }
    if (n == 0) {
        return true;
    }
    q->ledger = seq_xcalloc(n, sizeof(*q->ledger));
    q->ledger_cap = n;
    for (size_t i = 0; i < n; i++) {
        seq_ledger_run e;
        memset(&e, 0, sizeof(e));
        e.first = seq_get_i64(r);
        e.last = seq_get_i64(r);
        e.state = seq_get_u8(r);
        e.time_ms = seq_get_i64(r);
        e.deadline_ms = version >= 3 ? seq_get_i64(r) : INT64_MAX;
        e.grant = version >= 3 ? seq_get_u64(r) : 0;
        size_t reason_len = seq_get_u16(r);
        const uint8_t *reason = seq_get_bytes(r, reason_len);
        if (reason == NULL || !seq_reason_valid((const char *)reason, reason_len) ||
            (version < 3 && e.state != SEQ_NUM_VOIDED) ||
            (version < 4 && e.time_ms > clock_ms)) { /* one clock, never back, then */
            return false;
        }
        size_t by_len = version >= 5 ? seq_get_u8(r) : 0;
        const uint8_t *by = by_len > 0 ? seq_get_bytes(r, by_len) : NULL;
        if (by_len > 0 && !seq_user_valid((const char *)by, by_len)) {
            return false;
        }
        memcpy(e.by, by != NULL ? (const char *)by : "", by_len);
        e.by[by_len] = '\0';
        e.reason = seq_xmalloc(reason_len + 1);
        memcpy(e.reason, reason, reason_len);
        e.reason[reason_len] = '\0';
        q->ledger[q->n_ledger++] = e;
        if (e.state == SEQ_NUM_RESERVED || e.state == SEQ_NUM_RELEASED) {
            q->n_open++;
        }
    }
    return true;
}

/* Reads n_ranges (u32) and allocates that many zeroed ranges, each taking
 * at least `bytes` bytes of what is left; false when the count is bad. */
static bool seqAllocSpans(seq_sequence *q, seq_reader *r, size_t bytes)
{
    q->n_ranges = seq_get_u32(r);
    if (r->bad || q->n_ranges > SEQ_RANGES_MAX || q->n_ranges > (r->len - r->pos) / bytes) {
        q->n_ranges = 0;
        return false;
    }
    q->ranges = seq_xcalloc(q->n_ranges == 0 ? 1 : q->n_ranges, sizeof(seq_span));
    return true;
}

/* Versions 1 and 2: ranges min, max; then one cursor (cur, next). */
static bool seqReadOldCursor(seq_sequence *q, seq_reader *r)
{
    if (!seqAllocSpans(q, r, 16)) {
        return false;
    }
    for (size_t i = 0; i < q->n_ranges; i++) {
        seq_span *sp = &q->ranges[i];
        sp->min = seq_get_i64(r);
        sp->max = seq_get_i64(r);
        sp->not_before = INT64_MIN;
        sp->not_after = INT64_MAX;
        sp->next = sp->min;
    }
    q->cur = seq_get_u32(r);
    int64_t next = seq_get_i64(r);
    if (r->bad || q->cur > q->n_ranges) {
        return false;
    }
    for (size_t i = 0; i < q->cur; i++) {
        q->ranges[i].full = true;
    }
    if (q->cur < q->n_ranges) {
        q->ranges[q->cur].next = next;
    }
    return true;
}

static bool seqReadSpans(seq_sequence *q, seq_reader *r)
{
    q->mode = seq_get_u8(r);
    q->cache = seq_get_u32(r);
    q->warn = seq_get_u64(r);
    uint8_t warned = seq_get_u8(r);
    q->warned = warned == 1;
    q->grants = seq_get_u64(r);
    if (r->bad || warned > 1 || !seqAllocSpans(q, r, 41)) {
        return false;
    }
    for (size_t i = 0; i < q->n_ranges; i++) {
        seq_span *sp = &q->ranges[i];
        sp->min = seq_get_i64(r);
        sp->max = seq_get_i64(r);
        sp->not_before = seq_get_i64(r);
        sp->not_after = seq_get_i64(r);
        sp->next = seq_get_i64(r);
        uint8_t full = seq_get_u8(r);
        if (full > 1) {
            return false;
        }
        sp->full = full == 1;
    }
    q->cur = seq_get_u32(r);
    return !r->bad;
}

static bool seqReadBlockAndRates(seq_sequence *q, seq_reader *r)
{
    size_t n = seq_get_u32(r);
    q->block_term = seq_get_u64(r);
    q->block_node = seq_get_u64(r);
    if (r->bad || n > SEQ_RANGES_MAX + SEQ_BURNED_MAX || n > (r->len - r->pos) / 16) {
        return false;
    }
    if (n > 0) {
        q->block = seq_xmalloc(sizeof(seq_run) * n);
        for (size_t i = 0; i < n; i++) {
            q->block[i].first = seq_get_i64(r);
            q->block[i].last = seq_get_i64(r);
        }
        q->n_block = n;
    }
    size_t n_rates = seq_get_u8(r);
    if (n_rates > SEQ_RATE_BUCKETS) {
        return false;
    }
    for (size_t i = 0; i < n_rates; i++) {
        size_t b = seq_get_u8(r);
        int64_t minute = seq_get_i64(r);
        uint64_t count = seq_get_u64(r);
        if (b >= SEQ_RATE_BUCKETS || count == 0 || q->rate_count[b] != 0) {
            return false;
        }
        q->rate_minute[b] = minute;
        q->rate_count[b] = count;
    }
    return !r->bad;
}

static bool seqReadSequence(seq_state *s, seq_reader *r, uint32_t version)
{
    assert(version >= SEQ_SNAPSHOT_VERSION_V1 && version <= SEQ_SNAPSHOT_VERSION);
    size_t name_len = seq_get_u16(r);
    const uint8_t *name = seq_get_bytes(r, name_len);
    if (name == NULL || !seq_name_valid((const char *)name, name_len)) {
        return false;
    }
    seq_sequence *dup = NULL;
    HASH_FIND(hh, s->by_name, name, name_len, dup);
    if (dup != NULL) {
        return false;
    }
    seq_sequence *q = seq_sequence_add(s, (const char *)name, name_len);
    uint8_t live = seq_get_u8(r);
    q->live = live == 1;
    q->incarnation = seq_get_u64(r);
    q->def_min = seq_get_i64(r);
    q->def_max = seq_get_i64(r);
    q->def_has_start = seq_get_u8(r) == 1;
    q->def_start = seq_get_i64(r);
    if (!(version >= 3 ? seqReadSpans(q, r) : seqReadOldCursor(q, r))) {
        return false;
    }
    q->issued = seq_get_u64(r);
    q->n_burned = seq_get_u32(r);
    if (q->n_burned > SEQ_BURNED_MAX || !seqReadRanges(r, &q->burned, q->n_burned)) {
        q->n_burned = 0;
        return false;
    }
    if (version >= 2 && !seqSnapshotReadLedger(q, r, version, s->clock_ms)) {
        return false;
    }
    if (version >= 3 && !seqReadBlockAndRates(q, r)) {
        return false;
    }
    if (version >= 6 && !seqReadDoc(s, q, r, version)) {
        return false;
    }
    if (live > 1 || r->bad || !seq_sequence_valid(q) ||
        q->incarnation == 0 || q->incarnation > s->incarnations) {
        return false;
    }
    if (q->live) {
        s->n_live++;
    }
    return true;
}

/* A permanent (gapless) key: one number, which its sequence issued. */
static bool seqReadPkey(seq_state *s, seq_reader *r, uint32_t version,
                        const seq_owner_index *ix)
{
    assert(version >= SEQ_SNAPSHOT_VERSION_V3 && version <= SEQ_SNAPSHOT_VERSION);
    size_t hkey_len = seq_get_u16(r);
    const uint8_t *hkey = seq_get_bytes(r, hkey_len);
    if (hkey == NULL || hkey_len <= 8 || hkey_len > 8 + SEQ_KEY_MAX ||
        !seq_key_valid((const char *)hkey + 8, hkey_len - 8)) {
        return false;
    }
    int64_t inserted = seq_get_i64(r);
    int64_t inserted_el = version >= 4 ? seq_get_i64(r) : inserted;
    int64_t v = seq_get_i64(r);
    int64_t period = version >= 6 ? seq_get_i64(r) : 0;
    if (r->bad || inserted_el > s->elapsed_ms) {
        return false;
    }
    seq_key_entry *e = NULL;
    HASH_FIND(hh, s->keys, hkey, hkey_len, e);
    if (e != NULL) {
        return false;
    }
    uint64_t incarnation = seqKeyIncarnation(hkey);
    const seq_sequence *owner = seqOwnerFind(ix, incarnation);
    /* a key of an earlier period holds a number of that period's book */
    if (owner == NULL || owner->mode != SEQ_MODE_GAPLESS || period > owner->period ||
        (period == owner->period && !seq_issued(owner, v))) {
        return false;
    }
    e = seq_xcalloc(1, sizeof(*e));
    e->hkey = seq_xmalloc(hkey_len);
    memcpy(e->hkey, hkey, hkey_len);
    e->hkey_len = hkey_len;
    e->inserted_ms = inserted;
    e->inserted_el_ms = inserted_el;
    e->count = 1;
    e->n_runs = 1;
    e->runs = seq_xmalloc(sizeof(seq_run));
    e->runs[0].first = v;
    e->runs[0].last = v;
    e->permanent = true;
    e->period = period;
    seqNumberKey(e->nkey, incarnation, period, v);
    seq_key_entry *dup = NULL;
    HASH_FIND(hn, s->keys_by_number, e->nkey, sizeof(e->nkey), dup);
    if (dup != NULL) {
        free(e->hkey);
        free(e->runs);
        free(e);
        return false;
    }
    seq_pkey_insert(s, e);
    return true;
}

/* A retained key: runs covering exactly count numbers, which its
 * incarnation issued if it is live (a dropped one's key waits for its
 * retention; it can replay nothing). */
static bool seqReadKey(seq_state *s, seq_reader *r, uint32_t version, const seq_owner_index *ix)
{
    assert(version >= SEQ_SNAPSHOT_VERSION_V1 && version <= SEQ_SNAPSHOT_VERSION);
    size_t hkey_len = seq_get_u16(r);
    const uint8_t *hkey = seq_get_bytes(r, hkey_len);
    if (hkey == NULL || hkey_len <= 8 || hkey_len > 8 + SEQ_KEY_MAX) {
        return false;
    }
    seq_key_entry *dup = NULL;
    HASH_FIND(hh, s->keys, hkey, hkey_len, dup);
    if (dup != NULL) {
        return false;
    }
    int64_t inserted = seq_get_i64(r);
    int64_t inserted_el = version >= 4 ? seq_get_i64(r) : inserted;
    uint32_t count = seq_get_u32(r);
    int64_t period = version >= 6 ? seq_get_i64(r) : 0;
    size_t n_runs = seq_get_u32(r);
    if (r->bad || count < 1 || count > SEQ_COUNT_MAX || n_runs < 1 ||
        n_runs > SEQ_RANGES_MAX + SEQ_BURNED_MAX + 1 ||
        (s->newest_key != NULL && inserted_el < s->newest_key->inserted_el_ms) ||
        inserted_el > s->elapsed_ms) {
        return false;
    }
    seq_range *runs = NULL;
    if (!seqReadRanges(r, &runs, n_runs)) {
        free(runs);
        return false;
    }
    /* The runs must be well formed and cover exactly count numbers. */
    uint64_t covered = 0;
    for (size_t i = 0; i < n_runs; i++) {
        uint64_t span = (uint64_t)runs[i].max - (uint64_t)runs[i].min;
        if (runs[i].min > runs[i].max || span >= count || covered + span + 1 > count) {
            free(runs);
            return false;
        }
        covered += span + 1;
    }
    uint64_t incarnation = seqKeyIncarnation(hkey);
    const seq_sequence *owner = seqOwnerFind(ix, incarnation);
    if (owner != NULL && owner->mode != SEQ_MODE_STRICT) {
        covered = 0; /* only strict NEXT retains keys: gapless ones are permanent */
    }
    if (owner != NULL && period > owner->period) {
        covered = 0;
    }
    /* a key of an earlier period names numbers of that period's book */
    for (size_t i = 0; owner != NULL && period == owner->period && covered == count && i < n_runs;
         i++) {
        if (!seq_issued(owner, runs[i].min) || !seq_issued(owner, runs[i].max)) {
            covered = 0; /* a key that names numbers its sequence never issued */
        }
    }
    if (covered != count) {
        free(runs);
        return false;
    }
    seq_key_entry *e = seq_xcalloc(1, sizeof(*e));
    e->period = period;
    e->hkey = seq_xmalloc(hkey_len);
    memcpy(e->hkey, hkey, hkey_len);
    e->hkey_len = hkey_len;
    e->inserted_ms = inserted;
    e->inserted_el_ms = inserted_el;
    e->count = count;
    e->n_runs = n_runs;
    e->runs = seq_xmalloc(sizeof(seq_run) * n_runs);
    for (size_t i = 0; i < n_runs; i++) {
        e->runs[i].first = runs[i].min;
        e->runs[i].last = runs[i].max;
    }
    free(runs);
    seq_key_insert(s, e);
    return true;
}

/* The retained keys, then (version 3 on) the permanent keys, each checked
 * against the live sequence of its incarnation. */
static bool seqReadAllKeys(seq_state *s, seq_reader *r, uint32_t version)
{
    size_t n_keys = seq_get_u32(r);
    if (r->bad) {
        return false;
    }
    seq_owner_index ix;
    seqOwnerIndexBuild(s, &ix);
    bool ok = seqIncarnationsValid(s, &ix);
    for (size_t i = 0; ok && i < n_keys; i++) {
        ok = seqReadKey(s, r, version, &ix);
    }
    size_t n_pkeys = ok && version >= 3 ? seq_get_u32(r) : 0;
    ok = ok && !r->bad && n_pkeys <= SEQ_PKEYS_MAX;
    for (size_t i = 0; ok && i < n_pkeys; i++) {
        ok = seqReadPkey(s, r, version, &ix);
    }
    free(ix.by_incarnation);
    return ok;
}

seq_state *seq_snapshot_decode(const void *buf, size_t len)
{
    seq_reader r = {buf, len, 0, false};
    if (seq_get_u32(&r) != SEQ_SNAPSHOT_MAGIC) {
        return NULL;
    }
    uint32_t version = seq_get_u32(&r);
    if (version != SEQ_SNAPSHOT_VERSION && version != SEQ_SNAPSHOT_VERSION_V5 &&
        version != SEQ_SNAPSHOT_VERSION_V4 &&
        version != SEQ_SNAPSHOT_VERSION_V3 &&
        version != SEQ_SNAPSHOT_VERSION_V2 && version != SEQ_SNAPSHOT_VERSION_V1) {
        return NULL;
    }
    seq_state *s = seq_state_new();
    s->clock_ms = seq_get_i64(&r);
    s->elapsed_ms = s->clock_ms; /* before version 4 one clock judged both */
    if (version >= 4) {
        s->elapsed_ms = seq_get_i64(&r);
        uint8_t stamped = seq_get_u8(&r);
        s->stamped = stamped == 1;
        s->stamp_origin = seq_get_u64(&r);
        s->stamp_mono_ms = seq_get_i64(&r);
        s->keys_max = seq_get_u64(&r);
        if (r.bad || stamped > 1) {
            goto err;
        }
    }
    s->incarnations = seq_get_u64(&r);
    size_t n_sequences = seq_get_u32(&r);
    if (r.bad || n_sequences > SEQ_SEQUENCES_MAX) {
        goto err;
    }
    for (size_t i = 0; i < n_sequences; i++) {
        if (!seqReadSequence(s, &r, version)) {
            goto err;
        }
    }
    if (!seqReadAllKeys(s, &r, version)) {
        goto err;
    }
    if (version >= 5 && !seqReadUsers(s, &r)) {
        goto err; /* before 5: the first default user, as a new state has */
    }
    /* Each record was checked as it was read; the whole must hold too. */
    if (r.bad || r.pos != r.len || !seq_state_valid(s)) {
        goto err;
    }
    return s;
err:
    seq_state_free(s);
    return NULL;
}
