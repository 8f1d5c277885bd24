/* seq_bytes — little-endian writer and bounds-checked reader over memory,
 * used for log entries (codec) and snapshots (seq_snapshot).
 *
 * Invariants: a writer never writes past its capacity (it records overflow
 * instead, and the caller checks once at the end); a reader never reads past
 * its end (a short read sets `bad` and yields zeros). Pure: no I/O. */
#ifndef SEQD_SEQ_BYTES_H
#define SEQD_SEQ_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct seq_writer {
    uint8_t *p;
    size_t len, cap;
    bool overflow;
} seq_writer;

typedef struct seq_reader {
    const uint8_t *p;
    size_t len, pos;
    bool bad;
} seq_reader;

static inline void seq_put_bytes(seq_writer *w, const void *src, size_t n)
{
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    if (n > 0) {
        memcpy(w->p + w->len, src, n);
    }
    w->len += n;
}

static inline void seq_put_u64(seq_writer *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    seq_put_bytes(w, b, 8);
}

static inline void seq_put_u32(seq_writer *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    seq_put_bytes(w, b, 4);
}

static inline void seq_put_u16(seq_writer *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    seq_put_bytes(w, b, 2);
}

static inline void seq_put_u8(seq_writer *w, uint8_t v)
{
    seq_put_bytes(w, &v, 1);
}

static inline void seq_put_i64(seq_writer *w, int64_t v)
{
    seq_put_u64(w, (uint64_t)v);
}

static inline const uint8_t *seq_get_bytes(seq_reader *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *at = r->p + r->pos;
    r->pos += n;
    return at;
}

static inline uint64_t seq_get_u64(seq_reader *r)
{
    const uint8_t *b = seq_get_bytes(r, 8);
    uint64_t v = 0;
    if (b == NULL) {
        return 0;
    }
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | b[i];
    }
    return v;
}

static inline uint32_t seq_get_u32(seq_reader *r)
{
    const uint8_t *b = seq_get_bytes(r, 4);
    if (b == NULL) {
        return 0;
    }
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

static inline uint16_t seq_get_u16(seq_reader *r)
{
    const uint8_t *b = seq_get_bytes(r, 2);
    if (b == NULL) {
        return 0;
    }
    return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint8_t seq_get_u8(seq_reader *r)
{
    const uint8_t *b = seq_get_bytes(r, 1);
    return b == NULL ? 0 : b[0];
}

static inline int64_t seq_get_i64(seq_reader *r)
{
    return (int64_t)seq_get_u64(r);
}

#endif
