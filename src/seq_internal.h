/* seq_internal — the state machine's data structures, shared by seq.c (the
 * transitions) and seq_snapshot.c (serialization). Nothing else includes it.
 *
 * Invariants of a live sequence (checked by seqCheck in debug builds and by
 * the snapshot decoder always):
 *  - ranges are pairwise disjoint, 1 <= n_ranges <= SEQ_RANGES_MAX;
 *  - cur <= n_ranges; cur < n_ranges implies ranges[cur].min <= next <=
 *    ranges[cur].max; every number before the cursor is issued or burned;
 *  - burned intervals are sorted, disjoint and not adjacent;
 *  - ledger runs (the exceptions below the cursor: this slice has only
 *    voided numbers) are sorted and disjoint, each lies wholly inside the
 *    numbers this incarnation issued (seq_issued), has state
 *    SEQ_NUM_VOIDED, a valid reason (seq_reason_valid) and a time no later
 *    than the state's clock; adjacent runs with the same time and reason are
 *    merged; n_ledger <= SEQ_LEDGER_MAX.
 * A tombstone (live == false) keeps only its name, incarnation and burned
 * (its ledger is discarded: the burned history covers those numbers). */
#ifndef SEQD_SEQ_INTERNAL_H
#define SEQD_SEQ_INTERNAL_H

#include <uthash.h>

#include "seq.h"

typedef struct seq_key_entry {
    UT_hash_handle hh;
    uint8_t *hkey; /* incarnation (8 bytes LE) + key bytes */
    size_t hkey_len;
    int64_t inserted_ms;
    uint32_t count;
    seq_run *runs;
    size_t n_runs;
    struct seq_key_entry *newer; /* FIFO by insertion time */
} seq_key_entry;

typedef struct seq_sequence {
    UT_hash_handle hh;
    char *name; /* NUL-terminated copy */
    size_t name_len;
    uint64_t incarnation; /* distinct for every CREATE of a name */
    bool live;
    /* The CREATE definition, so a repeated CREATE can be recognised. */
    int64_t def_min, def_max, def_start;
    bool def_has_start;
    seq_range *ranges;
    size_t n_ranges;
    size_t cur;
    int64_t next;
    uint64_t issued;
    seq_range *burned;
    size_t n_burned;
    /* Voided numbers of this incarnation, ascending; each reason is an owned
     * NUL-terminated copy. ledger_cap is the allocated length. */
    seq_ledger_run *ledger;
    size_t n_ledger, ledger_cap;
} seq_sequence;

struct seq_state {
    seq_limits limits;
    int64_t clock_ms;
    uint64_t incarnations; /* last incarnation handed out */
    seq_sequence *by_name; /* uthash head */
    size_t n_sequences;    /* tombstones included */
    size_t n_live;
    seq_key_entry *keys; /* uthash head */
    size_t n_keys;
    seq_key_entry *oldest_key, *newest_key;
};

/* Helpers seq_snapshot.c shares with seq.c. */
void *seq_xmalloc(size_t n);
void *seq_xcalloc(size_t n, size_t size);
seq_sequence *seq_sequence_add(seq_state *s, const char *name, size_t len);
void seq_key_insert(seq_state *s, seq_key_entry *e);
bool seq_sequence_valid(const seq_sequence *q);
/* Whether this incarnation of q issued v: v lies before the cursor in a
 * range, not below the CREATE's START, and not in the burned history. */
bool seq_issued(const seq_sequence *q, int64_t v);
/* 1..SEQ_REASON_MAX bytes of printable ASCII, spaces allowed. */
bool seq_reason_valid(const char *reason, size_t len);

#endif
