/* seq_snapshot_doc — the document-number part of a sequence in a snapshot
 * (version 6 on), after its rates: per range label_len u8 and label; n_formats
 * u8 and per format len u16, text, from_period i64, n_marks u32 and per mark
 * next i64, full u8; period_kind u8, tz_minutes i16 (as u16), period i64; n_closed
 * u32 and per closed period: period i64, per range next i64 and full u8,
 * cur u32, issued u64, warned u8, n_burned u32 and the burned intervals,
 * then its ledger (as the sequence's own). A tombstone writes no labels, no
 * formats and no books, but its period. The reader checks every book as a
 * sequence (seq_sequence_valid with the book swapped in), periods strictly
 * ascending below the current one. */
#include "seq_bytes.h"
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "period.h"

size_t seqDocSize(const seq_sequence *q)
{
    size_t n = q->n_ranges + 1 + 1 + 2 + 8 + 4;
    for (size_t i = 0; i < q->n_ranges; i++) {
        n += q->ranges[i].label != NULL ? strlen(q->ranges[i].label) : 0;
    }
    for (size_t k = 0; k < q->n_formats; k++) {
        n += 2 + q->formats[k].len + 8 + 4 + 9 * q->formats[k].n_marks;
    }
    for (size_t k = 0; k < q->n_closed; k++) {
        const seq_period_book *b = &q->closed[k];
        n += 8 + 9 * q->n_ranges + 4 + 8 + 1 + 4 + 16 * b->n_burned +
             seqSnapshotLedgerSize(b->ledger, b->n_ledger);
    }
    return n;
}

void seqWriteDoc(const seq_sequence *q, seq_writer *w)
{
    for (size_t i = 0; i < q->n_ranges; i++) {
        size_t len = q->ranges[i].label != NULL ? strlen(q->ranges[i].label) : 0;
        seq_put_u8(w, (uint8_t)len);
        seq_put_bytes(w, q->ranges[i].label, len);
    }
    seq_put_u8(w, (uint8_t)q->n_formats);
    for (size_t k = 0; k < q->n_formats; k++) {
        const seq_doc_format *d = &q->formats[k];
        seq_put_u16(w, (uint16_t)d->len);
        seq_put_bytes(w, d->text, d->len);
        seq_put_i64(w, d->from_period);
        seq_put_u32(w, (uint32_t)d->n_marks);
        for (size_t i = 0; i < d->n_marks; i++) {
            seq_put_i64(w, d->marks[i].next);
            seq_put_u8(w, d->marks[i].full ? 1 : 0);
        }
    }
    seq_put_u8(w, q->period_kind);
    seq_put_u16(w, (uint16_t)q->tz_minutes);
    seq_put_i64(w, q->period);
    seq_put_u32(w, (uint32_t)q->n_closed);
    for (size_t k = 0; k < q->n_closed; k++) {
        const seq_period_book *b = &q->closed[k];
        seq_put_i64(w, b->period);
        for (size_t i = 0; i < q->n_ranges; i++) {
            seq_put_i64(w, b->ranges[i].next);
            seq_put_u8(w, b->ranges[i].full ? 1 : 0);
        }
        seq_put_u32(w, (uint32_t)b->cur);
        seq_put_u64(w, b->issued);
        seq_put_u8(w, b->warned ? 1 : 0);
        seq_put_u32(w, (uint32_t)b->n_burned);
        for (size_t i = 0; i < b->n_burned; i++) {
            seq_put_i64(w, b->burned[i].min);
            seq_put_i64(w, b->burned[i].max);
        }
        seqSnapshotWriteLedger(b->ledger, b->n_ledger, w);
    }
}

static bool seqReadLabels(seq_sequence *q, seq_reader *r)
{
    for (size_t i = 0; i < q->n_ranges; i++) {
        size_t len = seq_get_u8(r);
        if (len == 0) {
            continue;
        }
        const char *p = (const char *)seq_get_bytes(r, len);
        if (p == NULL || !doc_label_valid(p, len)) {
            return false;
        }
        q->ranges[i].label = seqStrdup(p, len);
    }
    return !r->bad;
}

static bool seqReadFormats(seq_sequence *q, seq_reader *r)
{
    size_t n = seq_get_u8(r);
    if (r->bad || n > SEQ_FORMATS_MAX || (n > 0 && !q->live)) {
        return false;
    }
    q->formats = seq_xcalloc(n == 0 ? 1 : n, sizeof(*q->formats));
    for (size_t k = 0; k < n; k++) {
        seq_doc_format *d = &q->formats[k];
        size_t len = seq_get_u16(r);
        const char *p = (const char *)seq_get_bytes(r, len);
        const char *why;
        if (p == NULL || doc_format_parse(p, len, &d->parsed, &why) != 0) {
            return false;
        }
        d->text = seqStrdup(p, len);
        d->len = len;
        q->n_formats++;
        d->from_period = seq_get_i64(r);
        size_t n_marks = seq_get_u32(r);
        if (r->bad || n_marks > q->n_ranges || n_marks > (r->len - r->pos) / 9 ||
            (d->parsed.has_period && q->period_kind == PERIOD_NONE)) {
            return false;
        }
        d->marks = seq_xmalloc(sizeof(*d->marks) * (n_marks == 0 ? 1 : n_marks));
        d->n_marks = n_marks;
        for (size_t i = 0; i < n_marks; i++) {
            d->marks[i].next = seq_get_i64(r);
            uint8_t full = seq_get_u8(r);
            d->marks[i].full = full == 1;
            if (full > 1) {
                return false;
            }
        }
    }
    return true;
}

/* One closed period's book into b (which then owns what was read). */
static bool seqReadBook(seq_state *s, seq_sequence *q, seq_reader *r, uint32_t version,
                        seq_period_book *b)
{
    memset(b, 0, sizeof(*b));
    b->period = seq_get_i64(r);
    if (r->bad || q->n_ranges > (r->len - r->pos) / 9) {
        return false;
    }
    b->ranges = seq_xmalloc(sizeof(*b->ranges) * q->n_ranges);
    for (size_t i = 0; i < q->n_ranges; i++) {
        b->ranges[i] = q->ranges[i]; /* bounds, window and label: the sequence's */
        b->ranges[i].next = seq_get_i64(r);
        uint8_t full = seq_get_u8(r);
        b->ranges[i].full = full == 1;
        if (full > 1) {
            return false;
        }
    }
    b->cur = seq_get_u32(r);
    b->issued = seq_get_u64(r);
    uint8_t warned = seq_get_u8(r);
    b->warned = warned == 1;
    b->n_burned = seq_get_u32(r);
    if (r->bad || warned > 1 || b->n_burned > SEQ_BURNED_MAX ||
        b->n_burned > (r->len - r->pos) / 16) {
        b->n_burned = 0;
        return false;
    }
    b->burned = seq_xmalloc(sizeof(*b->burned) * (b->n_burned == 0 ? 1 : b->n_burned));
    for (size_t i = 0; i < b->n_burned; i++) {
        b->burned[i].min = seq_get_i64(r);
        b->burned[i].max = seq_get_i64(r);
    }
    /* read its ledger, and check it all, as the sequence it once was */
    seqPeriodSwapBook(q, b);
    bool ok = !r->bad && seqSnapshotReadLedger(q, r, version, s->clock_ms) && q->cur <= q->n_ranges &&
              seq_sequence_valid(q);
    seqPeriodSwapBook(q, b);
    return ok;
}

bool seqReadDoc(seq_state *s, seq_sequence *q, seq_reader *r, uint32_t version)
{
    if (!seqReadLabels(q, r)) {
        return false;
    }
    /* the period before the formats: a format with {period} needs one */
    size_t formats_at = r->pos;
    size_t n_formats = seq_get_u8(r);
    for (size_t k = 0; k < n_formats && !r->bad; k++) {
        seq_get_bytes(r, seq_get_u16(r));
        seq_get_i64(r);
        size_t n_marks = seq_get_u32(r);
        if (n_marks > (r->len - r->pos) / 9) {
            return false;
        }
        seq_get_bytes(r, 9 * n_marks);
    }
    q->period_kind = seq_get_u8(r);
    q->tz_minutes = (int16_t)seq_get_u16(r);
    q->period = seq_get_i64(r);
    if (r->bad || q->period_kind > PERIOD_MONTHLY || q->tz_minutes < PERIOD_TZ_MIN ||
        q->tz_minutes > PERIOD_TZ_MAX || (q->period_kind != PERIOD_NONE && q->mode == SEQ_MODE_CACHED)) {
        return false;
    }
    size_t after = r->pos;
    r->pos = formats_at;
    if (!seqReadFormats(q, r)) {
        return false;
    }
    r->pos = after;
    size_t n = seq_get_u32(r);
    if (r->bad || (n > 0 && (!q->live || q->period_kind == PERIOD_NONE)) ||
        n > (r->len - r->pos) / 8) {
        return false;
    }
    q->closed = seq_xcalloc(n == 0 ? 1 : n, sizeof(*q->closed));
    for (size_t k = 0; k < n; k++) {
        bool ok = seqReadBook(s, q, r, version, &q->closed[k]);
        q->n_closed++;
        if (!ok || q->closed[k].period >= q->period ||
            (k > 0 && q->closed[k - 1].period >= q->closed[k].period)) {
            return false;
        }
    }
    return true;
}
