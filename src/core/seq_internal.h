/* seq_internal — the state machine's data structures, shared by seq.c (the
 * transitions) and seq_snapshot.c (serialization). Nothing else includes it.
 *
 * Invariants of a live sequence (checked by seq_sequence_valid in debug
 * builds and by the snapshot decoder always):
 *  - ranges are pairwise disjoint, 1 <= n_ranges <= SEQ_RANGES_MAX, each
 *    with not_before <= not_after; a range's cursor `next` lies in it unless
 *    the range is full; ranges before `cur` are full;
 *  - the numbers this incarnation issued (seq_issued) are, per range, those
 *    below its cursor (all of it when full), minus [min, START) of the first
 *    range, minus the burned history;
 *  - burned intervals are sorted, disjoint and not adjacent;
 *  - ledger runs (the exceptions among issued numbers: reserved, released,
 *    voided, skipped, unknown) are sorted and disjoint, each wholly inside
 *    the issued numbers, with a valid reason; a reserved run is one
 *    number; n_ledger <= SEQ_LEDGER_MAX;
 *    n_open counts the reserved and released runs;
 *  - cached mode: the block runs (numbers handed to a leader's memory and
 *    not yet reported served) are issued numbers outside the ledger;
 *  - expired numbers (the unissued rest of a range past NOTAFTER) are not
 *    stored: they follow from the ranges and the clock.
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
    int64_t inserted_ms;    /* wall clock, for LOOKUP KEY */
    int64_t inserted_el_ms; /* elapsed clock, for retention (never decreasing along the FIFO) */
    uint32_t count;
    seq_run *runs;
    size_t n_runs;
    struct seq_key_entry *newer; /* FIFO by insertion time */
    /* Gapless keys are permanent: outside the FIFO, count 1, and also
     * found by number (incarnation LE + number LE) for LOOKUP. */
    bool permanent;
    UT_hash_handle hn;
    uint8_t nkey[16];
} seq_key_entry;

/* A range of a sequence with its window and its own cursor. */
typedef struct seq_span {
    int64_t min, max;
    int64_t not_before, not_after; /* ms, inclusive; INT64_MIN / INT64_MAX when open */
    int64_t next;                  /* lowest number not taken yet (when !full) */
    bool full;                     /* every number was taken */
} seq_span;

#define SEQ_RATE_BUCKETS 60 /* one per minute: the last hour */

typedef struct seq_sequence {
    UT_hash_handle hh;
    char *name; /* NUL-terminated copy */
    size_t name_len;
    uint64_t incarnation; /* distinct for every CREATE of a name */
    bool live;
    /* The CREATE definition, so a repeated CREATE can be recognised. */
    int64_t def_min, def_max, def_start;
    bool def_has_start;
    uint8_t mode;   /* enum seq_mode */
    uint32_t cache; /* cached: block size */
    uint64_t warn;  /* WARN threshold, 0 = none */
    bool warned;    /* remaining reached warn (cleared when ADDRANGE lifts it) */
    uint64_t grants; /* reservations made by this incarnation (the last grant) */
    seq_span *ranges;
    size_t n_ranges;
    size_t cur; /* ranges before it are full */
    uint64_t issued;
    size_t n_open; /* reserved + released ledger runs */
    /* cached: numbers in the owner's blocks not yet reported served, in
     * the order they are served */
    seq_run *block;
    size_t n_block;
    uint64_t block_term, block_node;
    /* numbers issued per minute, for rates: minute index and count */
    int64_t rate_minute[SEQ_RATE_BUCKETS];
    uint64_t rate_count[SEQ_RATE_BUCKETS];
    seq_range *burned;
    size_t n_burned;
    /* Voided numbers of this incarnation, ascending; each reason is an owned
     * NUL-terminated copy. ledger_cap is the allocated length. */
    seq_ledger_run *ledger;
    size_t n_ledger, ledger_cap;
    /* No open (reserved or released) run starts below it: where the
     * search for numbers to issue again begins. A hint, not state: it
     * decides no result, and a decoded sequence starts at INT64_MIN. */
    int64_t open_from;
} seq_sequence;

struct seq_state {
    /* what the last entry's stamp said (see seq_stamp_entry) */
    uint64_t keys_max;
    int64_t clock_ms;   /* wall clock */
    int64_t elapsed_ms; /* elapsed clock: never decreases */
    bool stamped;       /* a stamp was entered: stamp_origin and stamp_mono_ms hold */
    uint64_t stamp_origin;
    int64_t stamp_mono_ms;
    uint64_t incarnations; /* last incarnation handed out */
    seq_sequence *by_name; /* uthash head */
    size_t n_sequences;    /* tombstones included */
    size_t n_live;
    seq_key_entry *keys; /* uthash head */
    size_t n_keys;
    seq_key_entry *oldest_key, *newest_key;
    seq_key_entry *keys_by_number; /* uthash head (handle hn): permanent keys */
    size_t n_pkeys;
};

/* Helpers seq_snapshot.c shares with seq.c. */
void *seq_xmalloc(size_t n);
void *seq_xcalloc(size_t n, size_t size);
seq_sequence *seq_sequence_add(seq_state *s, const char *name, size_t len);
void seq_key_insert(seq_state *s, seq_key_entry *e);
void seq_pkey_insert(seq_state *s, seq_key_entry *e);
bool seq_sequence_valid(const seq_sequence *q);
/* Whether this incarnation of q issued v: v lies before the cursor in a
 * range, not below the CREATE's START, and not in the burned history. */
bool seq_issued(const seq_sequence *q, int64_t v);
/* 1..SEQ_REASON_MAX bytes of printable ASCII, spaces allowed. */
bool seq_reason_valid(const char *reason, size_t len);

#endif
