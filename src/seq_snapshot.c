/* seq_snapshot — the whole sequence state as bytes and back.
 *
 * Format (little endian): "SEQS", version u32, clock i64, incarnations u64,
 * n_sequences u32, each sequence, n_keys u32, each key oldest first.
 * Version 2 adds to each sequence, after its burned intervals, its ledger:
 * n_ledger u32, then per run first i64, last i64, state u8, time_ms i64,
 * reason_len u16, reason bytes (tombstones write 0 runs). Version 1 is still
 * read: its sequences have empty ledgers.
 * The decoder trusts nothing: every count is checked against its limit and
 * the bytes left, and every decoded sequence must satisfy the invariants of
 * seq_internal.h, or the whole snapshot is refused. Pure: no I/O. */
#include "seq_bytes.h"
#include "seq_internal.h"

#include <stdlib.h>
#include <string.h>

#define SEQ_SNAPSHOT_MAGIC 0x53514553u /* "SEQS" */
#define SEQ_SNAPSHOT_VERSION 2u
#define SEQ_SNAPSHOT_VERSION_V1 1u /* no ledger */
#define SEQ_LEDGER_RUN_MIN_BYTES (8 + 8 + 1 + 8 + 2 + 1) /* with a 1-byte reason */

static void seqWriteAll(const seq_state *s, seq_writer *w)
{
    seq_put_u32(w, SEQ_SNAPSHOT_MAGIC);
    seq_put_u32(w, SEQ_SNAPSHOT_VERSION);
    seq_put_i64(w, s->clock_ms);
    seq_put_u64(w, s->incarnations);
    seq_put_u32(w, (uint32_t)s->n_sequences);
    for (const seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        seq_put_u16(w, (uint16_t)q->name_len);
        seq_put_bytes(w, q->name, q->name_len);
        seq_put_u8(w, q->live ? 1 : 0);
        seq_put_u64(w, q->incarnation);
        seq_put_i64(w, q->def_min);
        seq_put_i64(w, q->def_max);
        seq_put_u8(w, q->def_has_start ? 1 : 0);
        seq_put_i64(w, q->def_start);
        seq_put_u32(w, (uint32_t)q->n_ranges);
        for (size_t i = 0; i < q->n_ranges; i++) {
            seq_put_i64(w, q->ranges[i].min);
            seq_put_i64(w, q->ranges[i].max);
        }
        seq_put_u32(w, (uint32_t)q->cur);
        seq_put_i64(w, q->next);
        seq_put_u64(w, q->issued);
        seq_put_u32(w, (uint32_t)q->n_burned);
        for (size_t i = 0; i < q->n_burned; i++) {
            seq_put_i64(w, q->burned[i].min);
            seq_put_i64(w, q->burned[i].max);
        }
        seq_put_u32(w, (uint32_t)q->n_ledger);
        for (size_t i = 0; i < q->n_ledger; i++) {
            const seq_ledger_run *e = &q->ledger[i];
            size_t reason_len = strlen(e->reason);
            seq_put_i64(w, e->first);
            seq_put_i64(w, e->last);
            seq_put_u8(w, e->state);
            seq_put_i64(w, e->time_ms);
            seq_put_u16(w, (uint16_t)reason_len);
            seq_put_bytes(w, e->reason, reason_len);
        }
    }
    seq_put_u32(w, (uint32_t)s->n_keys);
    for (const seq_key_entry *e = s->oldest_key; e != NULL; e = e->newer) {
        seq_put_u16(w, (uint16_t)e->hkey_len);
        seq_put_bytes(w, e->hkey, e->hkey_len);
        seq_put_i64(w, e->inserted_ms);
        seq_put_u32(w, e->count);
        seq_put_u32(w, (uint32_t)e->n_runs);
        for (size_t i = 0; i < e->n_runs; i++) {
            seq_put_i64(w, e->runs[i].first);
            seq_put_i64(w, e->runs[i].last);
        }
    }
}

void *seq_snapshot_encode(const seq_state *s, size_t *len)
{
    /* The exact size, from the tables; the writer checks it. */
    size_t total;
    total = 4 + 4 + 8 + 8 + 4 + 4;
    for (const seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        total += 2 + q->name_len + 1 + 8 + 8 + 8 + 1 + 8 + 4 + 16 * q->n_ranges +
                 4 + 8 + 8 + 4 + 16 * q->n_burned + 4;
        for (size_t i = 0; i < q->n_ledger; i++) {
            total += 8 + 8 + 1 + 8 + 2 + strlen(q->ledger[i].reason);
        }
    }
    for (const seq_key_entry *e = s->oldest_key; e != NULL; e = e->newer) {
        total += 2 + e->hkey_len + 8 + 4 + 4 + 16 * e->n_runs;
    }
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

/* Reads a v2 ledger into q (which then owns what was read, even on
 * failure). Shape only: seq_sequence_valid checks the runs against q. */
static bool seqReadLedger(const seq_state *s, seq_sequence *q, seq_reader *r)
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
        e.first = seq_get_i64(r);
        e.last = seq_get_i64(r);
        e.state = seq_get_u8(r);
        e.time_ms = seq_get_i64(r);
        size_t reason_len = seq_get_u16(r);
        const uint8_t *reason = seq_get_bytes(r, reason_len);
        if (reason == NULL || !seq_reason_valid((const char *)reason, reason_len) ||
            e.time_ms > s->clock_ms) {
            return false;
        }
        e.reason = seq_xmalloc(reason_len + 1);
        memcpy(e.reason, reason, reason_len);
        e.reason[reason_len] = '\0';
        q->ledger[q->n_ledger++] = e;
    }
    return true;
}

static bool seqReadSequence(seq_state *s, seq_reader *r, uint32_t version)
{
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
    q->n_ranges = seq_get_u32(r);
    if (q->n_ranges > SEQ_RANGES_MAX || !seqReadRanges(r, &q->ranges, q->n_ranges)) {
        q->n_ranges = 0;
        return false;
    }
    q->cur = seq_get_u32(r);
    q->next = seq_get_i64(r);
    q->issued = seq_get_u64(r);
    q->n_burned = seq_get_u32(r);
    if (q->n_burned > SEQ_BURNED_MAX || !seqReadRanges(r, &q->burned, q->n_burned)) {
        q->n_burned = 0;
        return false;
    }
    if (version >= 2 && !seqReadLedger(s, q, r)) {
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

static bool seqReadKey(seq_state *s, seq_reader *r)
{
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
    uint32_t count = seq_get_u32(r);
    size_t n_runs = seq_get_u32(r);
    if (r->bad || count < 1 || count > SEQ_COUNT_MAX || n_runs < 1 ||
        n_runs > SEQ_RANGES_MAX + SEQ_BURNED_MAX + 1 ||
        (s->newest_key != NULL && inserted < s->newest_key->inserted_ms) ||
        inserted > s->clock_ms) {
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
    if (covered != count) {
        free(runs);
        return false;
    }
    seq_key_entry *e = seq_xcalloc(1, sizeof(*e));
    e->hkey = seq_xmalloc(hkey_len);
    memcpy(e->hkey, hkey, hkey_len);
    e->hkey_len = hkey_len;
    e->inserted_ms = inserted;
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

seq_state *seq_snapshot_decode(const void *buf, size_t len, const seq_limits *limits)
{
    seq_reader r = {buf, len, 0, false};
    if (seq_get_u32(&r) != SEQ_SNAPSHOT_MAGIC) {
        return NULL;
    }
    uint32_t version = seq_get_u32(&r);
    if (version != SEQ_SNAPSHOT_VERSION && version != SEQ_SNAPSHOT_VERSION_V1) {
        return NULL;
    }
    seq_state *s = seq_state_new(limits);
    s->clock_ms = seq_get_i64(&r);
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
    size_t n_keys = seq_get_u32(&r);
    if (r.bad) {
        goto err;
    }
    for (size_t i = 0; i < n_keys; i++) {
        if (!seqReadKey(s, &r)) {
            goto err;
        }
    }
    if (r.bad || r.pos != r.len) {
        goto err;
    }
    return s;
err:
    seq_state_free(s);
    return NULL;
}
