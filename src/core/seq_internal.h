/* seq_internal — the state machine's data structures and the functions its
 * files share: seq.c (the entry point, seq_apply) and one file per concept
 * (seq_keys, seq_sequence, seq_range, seq_ledger, seq_warn, seq_next,
 * seq_gapless, seq_cached, seq_undelivered, seq_report, seq_check,
 * seq_snapshot). Nothing outside src/core includes it; seq.h is the
 * contract. Every function here keeps the invariants below unless it says
 * otherwise, and none does I/O or reads a clock.
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

#include "doc_format.h"
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
    int64_t period; /* the period its numbers were issued in (0: no periods) */
    struct seq_key_entry *newer; /* FIFO by insertion time */
    /* Gapless keys are permanent: outside the FIFO, count 1, and also
     * found by number (incarnation LE + number LE) for LOOKUP. */
    bool permanent;
    UT_hash_handle hn;
    uint8_t nkey[24]; /* incarnation, number, period (LE): see seqNumberKey */
} seq_key_entry;

/* A range of a sequence with its window and its own cursor. */
typedef struct seq_span {
    int64_t min, max;
    int64_t not_before, not_after; /* ms, inclusive; INT64_MIN / INT64_MAX when open */
    int64_t next;                  /* lowest number not taken yet (when !full) */
    bool full;                     /* every number was taken */
    char *label; /* NUL-terminated, or NULL; owned by the live sequence's spans
                  * (a closed period's copies borrow it) */
} seq_span;

/* A range's cursor when a format was set. */
typedef struct seq_doc_mark {
    int64_t next;
    bool full;
} seq_doc_mark;

/* A format a sequence printed by, and from where: the numbers its cursors
 * had not passed when it was set print by it (in its period: at or above
 * each range's mark, and all of a range added later; in later periods:
 * all), until the next format's marks. Formats are kept for the sequence's
 * life, so a number prints the same way whenever it is asked for. */
typedef struct seq_doc_format {
    char *text; /* as given (NUL-terminated) */
    size_t len;
    doc_format parsed;
    int64_t from_period; /* INT64_MIN: from the sequence's start, everywhere */
    seq_doc_mark *marks; /* the ranges' cursors then (n_marks: the ranges then) */
    size_t n_marks;
} seq_doc_format;

/* What a period of a periodic sequence kept when it closed: its cursors,
 * ledger and burned history (the fields seqPeriodSwap exchanges with the
 * live ones). */
typedef struct seq_period_book {
    int64_t period;
    seq_span *ranges; /* n_ranges of the sequence (labels borrowed) */
    size_t cur;
    uint64_t issued;
    size_t n_open;
    bool warned;
    seq_ledger_run *ledger;
    size_t n_ledger, ledger_cap;
    seq_range *burned;
    size_t n_burned;
} seq_period_book;

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
    /* No run is released or a lapsed reservation while the elapsed clock
     * is below it (INT64_MIN: not known). Set by a search that walked the
     * whole ledger and found nothing to issue again (to the earliest
     * reservation deadline there), lowered by every run put in the ledger
     * that is released or reserved: with 100k open reservations a gapless
     * NEXT walked them all (3.4k/s, bench/curves.py). A hint, like
     * open_from: it decides no result, and a decoded sequence starts at
     * INT64_MIN. */
    int64_t none_reissuable_before;
    /* Document numbers (seq_doc.c): formats, oldest first (none: numbers
     * print as {n}). */
    seq_doc_format *formats;
    size_t n_formats;
    /* Periods (seq_period.c): the kind (PERIOD_NONE: none), the offset,
     * the current period (kept by a tombstone too: a name's periods never
     * go back), and the closed ones, oldest first. */
    uint8_t period_kind;
    int16_t tz_minutes;
    int64_t period;
    seq_period_book *closed;
    size_t n_closed;
} seq_sequence;

/* A user (seq_acl.c). Keeps: name valid and unique; n_hashes <=
 * SEQ_ACL_HASHES_MAX and no hash twice; nopass implies no hashes;
 * patterns distinct, <= SEQ_ACL_PATTERNS_MAX; rules compacted: no two on
 * one target, an all-rule (category SEQ_CAT_ALL) only first, so
 * n_rules <= SEQ_ACL_RULES_MAX. */
typedef struct seq_acl_rule {
    bool allow;
    unsigned category; /* one SEQ_CAT_*, or SEQ_CAT_ALL; 0: a command rule */
    char command[SEQ_ACL_COMMAND_MAX + 1]; /* lower case, NUL-terminated */
} seq_acl_rule;

typedef struct seq_user {
    UT_hash_handle hh;
    char *name; /* NUL-terminated */
    size_t name_len;
    bool enabled, nopass;
    char *hashes[SEQ_ACL_HASHES_MAX];
    size_t n_hashes;
    char *patterns[SEQ_ACL_PATTERNS_MAX]; /* without the ~ */
    size_t n_patterns;
    seq_acl_rule rules[SEQ_ACL_RULES_MAX];
    size_t n_rules;
} seq_user;

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
    seq_user *users; /* uthash head, by name; always holds the default user */
    size_t n_users;
    bool acl_default_set; /* an ACL SETUSER changed the default user */
    /* Test builds: applies left before the next whole-state check (not
     * state: decides no result, and is never written). */
    uint64_t check_countdown;
};

/* ---- seq.c: memory, validation, clocks -------------------------------- */

/* malloc/calloc that abort on failure: a replica that skipped a command
 * would diverge, so the state machine never sees NULL. */
void *seq_xmalloc(size_t n);
void *seq_xcalloc(size_t n, size_t size);
void *seq_xrealloc(void *p, size_t n);
/* A NUL-terminated malloc'd copy of p[0..len). */
char *seqStrdup(const char *p, size_t len);
/* 1..SEQ_REASON_MAX bytes of printable ASCII, spaces allowed. */
bool seq_reason_valid(const char *reason, size_t len);

/* The state's two clocks (see seq_stamp_entry): wall judges windows,
 * elapsed judges TTLs. */
typedef struct seq_now {
    int64_t wall, el;
} seq_now;

seq_now seqNow(const seq_state *s);
/* A point on the elapsed clock as a wall time, judged from now: what a
 * reply shows for a reservation's end or lapse. */
int64_t seqWallOf(seq_now now, int64_t el);

/* ---- seq_keys.c: idempotency keys (FIFO, retained) and permanent keys --- */

void seqKeyFree(seq_key_entry *e);
/* Appends a retained key at the FIFO's new end: its elapsed time must not
 * be below the newest's. */
void seq_key_insert(seq_state *s, seq_key_entry *e);
/* Adds a permanent (gapless) key: one number, found by key and by number. */
void seq_pkey_insert(seq_state *s, seq_key_entry *e);
/* Drops retained keys older than retention_ms on the elapsed clock. */
void seqKeysExpire(seq_state *s, int64_t retention_ms);
/* The hash key of (incarnation, key): keys of a dropped incarnation can
 * never match a later one. Writes at most 8 + SEQ_KEY_MAX bytes. */
size_t seqKeyHash(uint8_t *out, uint64_t incarnation, const char *key, size_t key_len);
/* The key entry of (incarnation, key), or NULL. */
seq_key_entry *seqKeyFind(const seq_state *s, uint64_t incarnation, const char *key,
                          size_t key_len);
/* The number-hash key of a permanent key entry. */
void seqNumberKey(uint8_t out[24], uint64_t incarnation, int64_t period, int64_t v);
/* The permanent key that holds number v of that incarnation, or NULL. */
seq_key_entry *seqPkeyByNumber(const seq_state *s, uint64_t incarnation, int64_t period,
                               int64_t v);
void seqPkeyDelete(seq_state *s, seq_key_entry *e);
/* Lets go of the permanent key holding v, if any. */
void seqPkeyRelease(seq_state *s, uint64_t incarnation, int64_t period, int64_t v);
/* Frees every permanent key of an incarnation (its sequence was dropped). */
void seqPkeysDropIncarnation(seq_state *s, uint64_t incarnation);
/* A new key entry remembering runs[0..n_runs) (copied), inserted at now. */
seq_key_entry *seqKeyNew(const uint8_t *hkey, size_t hkey_len, seq_now now, uint32_t count,
                         const seq_run *runs, size_t n_runs, int64_t period);
/* With CONFIRM/RELEASE ... KEY k: whether k is the gapless key that holds
 * v. Without a key the number alone is trusted. */
int seqKeyHolds(const seq_state *s, const seq_sequence *q, const seq_cmd *cmd, int64_t v);

/* ---- seq_sequence.c: sequences and tombstones (CREATE, ADDRANGE, DROP) -- */

void seqSequenceFree(seq_sequence *q);
seq_sequence *seq_sequence_add(seq_state *s, const char *name, size_t len);
/* The live sequence of that name, or NULL. */
seq_sequence *seqFindLive(const seq_state *s, const char *name, size_t len);
bool seqOverlap(int64_t a_min, int64_t a_max, int64_t b_min, int64_t b_max);
/* qsort order of seq_range by min. */
int seqRangeCompare(const void *a, const void *b);
/* The invariants above for one sequence (O(n log n) in its ranges and
 * ledger): what the decoder demands of every sequence it reads. */
bool seq_sequence_valid(const seq_sequence *q);
int seqCreate(seq_state *s, const seq_cmd *cmd);
int seqAddRange(seq_state *s, const seq_cmd *cmd);
int seqDrop(seq_state *s, const seq_cmd *cmd);

/* ---- seq_range.c: ranges, the burned history, and the take plan -------- */

/* Index of the last burned interval with min <= v, or -1. */
long seqBurnedFloor(const seq_sequence *q, int64_t v);
/* a + d, where the caller guarantees the true result fits in int64. */
int64_t seqAdd(int64_t a, uint64_t d);
bool seqSpanValidAt(const seq_span *r, int64_t t);
/* Moves *p (a number of range i) past burned numbers; false when none of
 * range i is left from *p on. */
bool seqSpanSettle(const seq_sequence *q, size_t i, int64_t *p);

/* A plan for taking numbers, applied only once the whole command is known
 * to succeed (all or nothing). */
typedef struct seq_take {
    seq_run *runs;
    size_t *span_of; /* the range each run came from */
    size_t n_runs, cap;
    uint64_t taken;
    seq_run inline_runs[4];
    size_t inline_span[4];
    /* ranges whose unissued rest is numbers a skip rule passes over: the
     * plan reached their end, so applying it fills them (NULL: none) */
    size_t *ended;
    size_t n_ended;
} seq_take;

void seqTakeInit(seq_take *tk, const seq_sequence *q);
void seqTakeFree(seq_take *tk);
/* Plans to take `need` numbers valid at time t, from the ranges in order
 * (skipping full, expired and not-yet-open ones). With partial, takes as
 * many as there are up to need. Changes nothing. Returns SEQ_OK, or
 * SEQ_ERR_EXHAUSTED when none (partial) or fewer than need were there. */
int seqTakePlan(const seq_sequence *q, int64_t t, uint64_t need, bool partial, seq_take *tk);
/* Adds to tk what plan `from` takes from range i (its runs, and its end
 * mark): plans for different moments combined, range by range. */
void seqTakeAdopt(seq_take *tk, const seq_sequence *q, const seq_take *from, size_t i);
/* A current range whose rest is only numbers a skip rule passes over (or
 * burned ones) is used up: a format set since, a new period or a new
 * range can leave one that no NEXT would ever fill. */
void seqSettleSkipped(seq_sequence *q);
/* Applies a successful plan: moves the ranges' cursors past its runs. */
void seqTakeApply(seq_sequence *q, const seq_take *tk);
/* Numbers still to take at time t: valid now (now_only), or valid now or
 * later (not expired). Saturated at UINT64_MAX. */
uint64_t seqRemaining(const seq_sequence *q, int64_t t, bool now_only);
/* Fills an EXHAUSTED result (what is left now, when more opens) and
 * returns SEQ_ERR_EXHAUSTED. */
int seqExhausted(const seq_sequence *q, int64_t t, seq_result *out);
/* Index of the range holding v, or -1. */
long seqSpanOf(const seq_sequence *q, int64_t v);
/* The lowest number of range i this incarnation can issue. */
int64_t seqSpanLow(const seq_sequence *q, size_t i);
/* Whether this incarnation of q issued v: v lies before the cursor in a
 * range, not below the CREATE's START, and not in the burned history. */
bool seq_issued(const seq_sequence *q, int64_t v);
/* Pushes the numbers of [lo, hi] that are not burned onto out. out must
 * have room for one more interval than the burned ones inside [lo, hi]. */
void seqPushUnburned(const seq_sequence *q, int64_t lo, int64_t hi, seq_range *out, size_t *n);
/* The numbers this incarnation issued (exactly those seq_issued accepts),
 * as sorted, disjoint, non-adjacent intervals in a malloc'd array the
 * caller frees; *n may be 0. O((ranges + burned) log ranges). */
seq_range *seqIssuedIntervals(const seq_sequence *q, size_t *n);

/* ---- seq_ledger.c: the ledger of exceptions among issued numbers, VOID -- */

/* Index of the last ledger run with first <= v, or -1. */
long seqLedgerFloor(const seq_sequence *q, int64_t v);
/* The ledger run holding v, or NULL. */
seq_ledger_run *seqLedgerAt(const seq_sequence *q, int64_t v);
/* Reserved or released: what n_open counts. */
bool seqIsOpen(uint8_t state);
/* A reservation whose TTL ran out counts as released (nothing stores the
 * change: it follows from the elapsed clock, identically on every
 * replica). deadline_ms INT64_MAX (no TTL, or one saturated at the end of
 * time) never runs out, even when the clock reaches INT64_MAX. */
bool seqReservationLapsed(const seq_ledger_run *e, seq_now now);
uint8_t seqEffectiveState(const seq_ledger_run *e, seq_now now);
/* Whether the ledger can take `extra` more runs. */
bool seqLedgerRoom(const seq_sequence *q, size_t extra);
/* Removes the numbers [a, b] from the ledger, splitting runs that reach
 * outside it (needs room for one more run). */
void seqLedgerCut(seq_sequence *q, int64_t a, int64_t b);
/* Removes every number of pieces[0..n) from the ledger in one pass:
 * O(runs + n), where a seqLedgerCut per piece shifts the array each time
 * (quadratic: 20k reused runs took 0.4 s of apply). The pieces are sorted,
 * disjoint, and each lies inside one run; the runs that remain keep their
 * order, so the ledger stays sorted, and none of them merges anew (a run
 * only shrinks). */
void seqLedgerCutSorted(seq_sequence *q, const seq_run *pieces, size_t n);
/* Puts [a, b], which no run holds, into the ledger with a state; merges it
 * with equal neighbours. Needs room for one more run. */
/* by: the command whose user the run records (NULL: the server's own). */
void seqLedgerPut(seq_sequence *q, int64_t a, int64_t b, uint8_t state, int64_t time_ms,
                  int64_t deadline_ms, const char *reason, size_t reason_len, const seq_cmd *by);
void seqLedgerPutText(seq_sequence *q, int64_t a, int64_t b, uint8_t state, int64_t time_ms,
                      const char *reason, const seq_cmd *by);
/* Frees the ledger's runs and reasons and leaves it empty. */
void seqLedgerClear(seq_sequence *q);
/* The invariants above for the ledger and the block, except the time (the
 * decoder checks that against the state's clock). */
bool seqLedgerValid(const seq_sequence *q);
/* Marks unknown-fate numbers among runs final again: a KEY replay has just
 * delivered them. */
void seqUnknownDelivered(seq_sequence *q, const seq_run *runs, size_t n);
/* Whether the ledger lists any number of runs as voided. */
bool seqRunsVoided(const seq_sequence *q, const seq_run *runs, size_t n);
/* VOID name n reason: an issued number that is not final any more and is
 * never issued again. Voiding a voided number changes nothing (the first
 * reason and time stand). */
int seqVoid(seq_state *s, const seq_cmd *cmd);

/* ---- seq_warn.c: rates and the WARN threshold -------------------------- */

/* Counts n numbers issued at wall time t in its minute's bucket. */
void seqRateAdd(seq_sequence *q, int64_t t, uint64_t n);
/* Numbers issued in the last 60 s and the last hour before t. */
void seqRates(const seq_sequence *q, int64_t t, uint64_t *per_min, uint64_t *per_hour);
/* Numbers still to hand out, now or later: the ranges' unissued numbers
 * that have not expired and, in gapless mode, the released ones (and lapsed
 * reservations) that may be issued again. Saturated at UINT64_MAX. */
uint64_t seqLeft(const seq_sequence *q, seq_now now);
/* After numbers were taken: sets warned (and tells the result) the first
 * time the numbers left reach the WARN threshold. */
void seqWarnCheck(seq_sequence *q, seq_now now, seq_result *out);
/* After numbers went back (RELEASE, UNDELIVERED, ADDRANGE): a warning whose
 * cause is gone is cleared. */
void seqWarnLift(seq_sequence *q, seq_now now);

/* ---- seq_next.c: NEXT, and strict numbering with idempotency keys ------ */

/* Copies runs[0..n) into the result (one run stays inline, no malloc). */
void seqCopyRuns(seq_result *out, const seq_run *runs, size_t n);
int seqNext(seq_state *s, const seq_cmd *cmd, seq_result *out);

/* ---- seq_gapless.c: gapless numbering, reservations and reissue -------- */

/* The released (or lapsed reserved) numbers of run e that may be issued
 * again are those whose range has not expired. A run may span numerically
 * adjacent ranges, so this is judged per range: finds the first stretch
 * [*first, *last] of such numbers at or after `from` (a number of e) that
 * lies in one range. False when there is none. */
bool seqReissuablePiece(const seq_sequence *q, const seq_ledger_run *e, seq_now now,
                        int64_t *first, int64_t *last, int64_t from);
/* Whether q surely has nothing to issue again now (see
 * none_reissuable_before): the walks over the ledger can be skipped. */
bool seqNothingReissuable(const seq_sequence *q, seq_now now);
/* Gapless NEXT (reserve = false: the numbers are final at once) and
 * RESERVE (one number, held until CONFIRM, RELEASE or its TTL). Released
 * numbers go first, lowest first; then new ones from the ranges. */
int seqGaplessTake(seq_state *s, seq_sequence *q, const seq_cmd *cmd, bool reserve,
                   seq_result *out);
int seqReserve(seq_state *s, const seq_cmd *cmd, seq_result *out);
/* CONFIRM name n: a live reservation (or an unknown-fate number) becomes
 * final. Confirming a final number again is a no-op. */
int seqConfirm(seq_state *s, const seq_cmd *cmd);
/* RELEASE name n: a reservation (live or lapsed) is returned, to be issued
 * again before any new number; its key lets go of it. */
int seqRelease(seq_state *s, const seq_cmd *cmd);
/* The lowest number NEXT would issue now, if any. */
bool seqPeek(const seq_sequence *q, seq_now now, int64_t *v);

/* ---- seq_cached.c: cached blocks (ALLOCBLOCK, USED, RECOVER) ----------- */

/* Whether cached-mode block runs hold v. */
bool seqInBlock(const seq_sequence *q, int64_t v);
/* Clips the stretch [v, end] to one side of the block's edges: *in tells
 * whether v is in a block run; the stretch then ends at that run's end, or
 * else before the next block run. */
int64_t seqBlockClip(const seq_sequence *q, int64_t v, int64_t end, bool *in);
/* ALLOCBLOCK name count term node: hands up to count numbers valid now to
 * the leader (term, node), to serve from memory in the order of the runs.
 * The block of a previous owner is skipped first. */
int seqAllocBlock(seq_state *s, const seq_cmd *cmd, seq_result *out);
/* USED name count term node: the owner served the first count numbers of
 * its block; they are final. From an owner that lost the block: nothing. */
int seqUsed(seq_state *s, const seq_cmd *cmd);
/* RECOVER term node: a new leader skips the blocks of other leaders: of
 * another term, or of another process (the high 48 bits of node; the low
 * 16 tell a process's block holders apart, see seq_cmd). */
int seqRecover(seq_state *s, const seq_cmd *cmd);
/* SERVED: a former owner's lost USED, sent again with the numbers it names
 * (see seq_cached.c). */
int seqServed(seq_state *s, const seq_cmd *cmd);

/* ---- seq_undelivered.c: reports of replies that reached no client ------ */

/* UNDELIVERED name first last cause: see seq_undelivered.c. */
int seqUndelivered(seq_state *s, const seq_cmd *cmd);

/* ---- seq_check.c: the whole-state invariants ---------------------------- */

/* Live sequences by incarnation, for checking keys against their owners. */
typedef struct seq_owner_index {
    const seq_sequence **by_incarnation;
    size_t n;
} seq_owner_index;

/* Fills ix (by_incarnation malloc'd: the caller frees it). */
void seqOwnerIndexBuild(const seq_state *s, seq_owner_index *ix);
/* Incarnations are handed out once each: none is 0 or past the state's
 * counter, no two live sequences share one (their keys would mix), and the
 * state's counts of sequences are right. */
bool seqIncarnationsValid(const seq_state *s, const seq_owner_index *ix);
/* The live sequence of that incarnation, or NULL. */
const seq_sequence *seqOwnerFind(const seq_owner_index *ix, uint64_t incarnation);
/* The incarnation a key's hash key starts with (8 bytes LE). */
uint64_t seqKeyIncarnation(const uint8_t *hkey);
/* Every invariant of the whole state (see seq_check.c): O(size log size). */
bool seq_state_valid(const seq_state *s);
/* Elements a whole-state check may visit per apply, amortized. */
#define SEQ_CHECK_WORK 256
/* Test builds: checks the state after an apply (amortized: see seq_check.c)
 * and aborts when it is invalid. */
void seqCheckAfterApply(seq_state *s, uint8_t op);

/* ---- seq_report.c: DESCRIBE, LIST, GAPS, LOOKUP (read only) ------------- */

int seqDescribe(const seq_state *s, const seq_cmd *cmd, seq_result *out);
/* LIST: the live names, sorted; for a command that names its user, only
 * those the user's patterns match (a user sees no name it may not touch). */
int seqList(const seq_state *s, const seq_cmd *cmd, seq_result *out);
/* Whether user (present in s) has a pattern matching name (NUL-terminated). */
bool seqUserMatches(const seq_state *s, const char *user, size_t user_len, const char *name);
/* GAPS name from to: every number of [from, to] below the ranges' cursors
 * that is not final, plus the expired rest of ranges past NOTAFTER, as
 * runs clipped to [from, to], ascending, at most SEQ_GAPS_MAX (more = true
 * when cut). */
int seqGaps(const seq_state *s, const seq_cmd *cmd, seq_result *out);
/* LOOKUP name n: what the ledger knows of n. */
int seqLookup(const seq_state *s, const seq_cmd *cmd, seq_result *out);
/* LOOKUP name KEY k: the numbers a key got, if it is still kept. */
int seqLookupKey(const seq_state *s, const seq_cmd *cmd, seq_result *out);

/* ---- seq_doc.c: document numbers (formats, labels, RENDER, PARSE) ------ */

/* The format number v of the current period (and range i) prints by, or
 * NULL: plain {n}. */
const seq_doc_format *seqDocFormatOf(const seq_sequence *q, size_t i, int64_t v);
/* Whether v, at the cursor in range i, gets no document number (its
 * format's mod11:skip check has no digit): the take plan passes over it. */
bool seqDocSkips(const seq_sequence *q, size_t i, int64_t v);
/* Whether the format in force for new numbers can skip any. */
bool seqDocMaySkip(const seq_sequence *q);
/* The stretch [*first, *last] of range i, in q's period, that format k
 * prints (before the next format's marks); false when none. */
bool seqDocCovers(const seq_sequence *q, size_t k, size_t i, int64_t *first, int64_t *last);
/* LOOKUP: an integer outside the ranges of a sequence with a format may
 * be a digits-only printed number (read as PARSE reads it, else looked up
 * as the integer); everything else as LOOKUP in its period. */
int seqLookupAnyForm(seq_state *s, const seq_cmd *cmd, seq_result *out);
/* CREATE's and SETFORMAT's format, checked: SEQ_OK or SEQ_ERR_FORMAT. */
int seqDocFormatCheck(const seq_cmd *cmd, const char *text, size_t len, uint8_t period_kind);
/* Adds a format from the current cursor on (text checked already). */
void seqDocFormatPush(seq_sequence *q, const char *text, size_t len);
void seqDocFree(seq_sequence *q);
/* NEXT ... TEXT: fills out->texts from out->runs. */
void seqDocTexts(const seq_sequence *q, seq_result *out);
int seqSetFormat(seq_state *s, const seq_cmd *cmd);
int seqRender(seq_state *s, const seq_cmd *cmd, seq_result *out);
int seqParse(seq_state *s, const seq_cmd *cmd, seq_result *out);
/* Whether the state issued v as a document number: issued (seq_issued)
 * and not passed over by a skip rule. */
bool seqIssuedDoc(const seq_sequence *q, int64_t v);
#define SEQ_REASON_NO_CHECK "its check digit has no digit (mod11 remainder 10): skipped by the format"

/* ---- seq_period.c: periodic sequences ---------------------------------- */

/* Closes the current period of q if the state's clock is in a later one. */
void seqPeriodCatchUp(const seq_state *s, seq_sequence *q);
/* Closes the current period of q and opens period now (> the current). */
void seqPeriodRollTo(seq_sequence *q, int64_t now);
/* The period the state's clock is in, for q's kind and offset. */
int64_t seqPeriodNow(const seq_state *s, const seq_sequence *q);
/* Runs fn on q as it was in period p (the current one, a closed one, or
 * an empty one from before any number): swaps that period's book in and
 * back out. SEQ_ERR_PERIOD for a period still to come, or PERIOD on a
 * sequence without periods. */
int seqInPeriod(seq_state *s, const seq_cmd *cmd,
                int (*fn)(seq_state *s, const seq_cmd *cmd, seq_result *out), seq_result *out);
void seqPeriodFree(seq_sequence *q);
/* NEXT or RESERVE ... KEY k on a periodic sequence, where k got its
 * numbers in an earlier period: answers the same numbers, in that period
 * (*handled), unless the key's reservation lapsed (the key then starts
 * anew here: not handled). */
int seqKeyedElsewhere(seq_state *s, seq_sequence *q, const seq_cmd *cmd, bool reserve,
                      seq_result *out, bool *handled);
/* ADDRANGE on a periodic sequence: the closed periods get the range too,
 * with nothing issued from it. */
void seqPeriodAddRange(seq_sequence *q);
/* A number's period as {period} prints it; its length (0: no periods). */
size_t seqPeriodText(const seq_sequence *q, char *out);

/* ---- seq_acl.c: users and permissions -------------------------------- */

int seqAclSetUser(seq_state *s, const seq_cmd *cmd);
int seqAclDelUser(seq_state *s, const seq_cmd *cmd, seq_result *out);
int seqAclGetUser(const seq_state *s, const seq_cmd *cmd, seq_result *out);
int seqAclList(const seq_state *s, bool lines, seq_result *out);
/* A user with no rights (off, no passwords, no patterns, no rules), or
 * the state's first default user (on, nopass, ~*, +@all). */
seq_user *seqUserNew(const char *name, size_t len, bool as_default);
void seqUserFree(seq_user *u);
void seqUserAdd(seq_state *s, seq_user *u);
bool seqUserValid(const seq_user *u);
/* The user's rules as SETUSER takes them, one string each (owned). */
size_t seqUserTokens(const seq_user *u, char **out, size_t cap);
/* seq_snapshot_users.c: the users' part of a snapshot (version 5 on). */
struct seq_writer;
struct seq_reader;
size_t seqUsersSize(const seq_state *s);
/* seq_snapshot.c: a ledger's bytes (shared with the periods' books) */
void seqSnapshotWriteLedger(const seq_ledger_run *ledger, size_t n, struct seq_writer *w);
size_t seqSnapshotLedgerSize(const seq_ledger_run *ledger, size_t n);
bool seqSnapshotReadLedger(seq_sequence *q, struct seq_reader *r, uint32_t version,
                           int64_t clock_ms);
/* seq_snapshot_doc.c: a sequence's labels, formats and periods (version 6 on) */
size_t seqDocSize(const seq_sequence *q);
void seqWriteDoc(const seq_sequence *q, struct seq_writer *w);
bool seqReadDoc(seq_state *s, seq_sequence *q, struct seq_reader *r, uint32_t version);
/* seq_period.c: exchanges the fields a period owns between q and b */
void seqPeriodSwapBook(seq_sequence *q, seq_period_book *b);
void seqWriteUsers(const seq_state *s, struct seq_writer *w);
bool seqReadUsers(seq_state *s, struct seq_reader *r);
#define SEQ_USER_TOKENS_MAX (3 + SEQ_ACL_HASHES_MAX + SEQ_ACL_PATTERNS_MAX + SEQ_ACL_RULES_MAX + 1)

#endif
