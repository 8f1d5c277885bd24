/* seq — the sequence state machine: the pure, deterministic core of seqd.
 *
 * A sequence has a name and ranges [min, max] of int64, inclusive, disjoint,
 * used in the order they were added. NEXT issues the lowest number not yet
 * issued in the first range that still has one.
 *
 * Invariants kept here, whatever the sequence of commands:
 *  - uniqueness: no number is issued twice for a name, also across DROP and
 *    re-CREATE (a dropped name keeps a tombstone with its history: the
 *    numbers it must never issue again, its "burned" intervals);
 *  - containment: every issued number lies in one of the ranges;
 *  - all or nothing: NEXT COUNT k issues exactly k numbers or none;
 *  - determinism: the same commands with the same clock values give the
 *    same results and the same state on every replica.
 *
 * No I/O, no clock, no randomness, no globals: time enters as an argument
 * (stamped into the log entry by the leader). Memory is allocated with
 * malloc and every table has a limit; running out of memory aborts,
 * because a replica that skips a command would diverge.
 *
 * The determinism rule, kept for good: everything that decides a result
 * of seq_apply comes from the log entry (its commands and its seq_stamp)
 * or from the replicated state — never from a node-local flag, a wall
 * clock read here, a pointer value, or a hash-table's bucket order. A
 * node-local limit (keys held at once, key retention) is stamped into the
 * entry by the leader that proposes it, so a replay, a restart with other
 * flags and a replica with other flags all compute the same numbers.
 * Iteration over tables follows insertion order, which the log fixes.
 *
 * Time (docs/clock.md): the stamp carries the leader's wall clock, which
 * judges only calendar things (range windows, ledger times, rates), and
 * its monotonic clock, from which the state keeps an elapsed clock that
 * judges durations (reservation TTLs, key retention). Elapsed time counts
 * only between entries of one leader process: a leader change or restart
 * adds none, so a wrong or jumping clock can never run a TTL or a
 * retention out early, and a wall clock error lasts as long as the clock
 * that has it. */
#ifndef SEQD_SEQ_H
#define SEQD_SEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEQ_NAME_MAX 200        /* bytes in a sequence name */
#define SEQ_KEY_MAX 200         /* bytes in an idempotency key */
#define SEQ_RANGES_MAX 1024     /* ranges of one sequence */
#define SEQ_BURNED_MAX 4096     /* burned intervals of one sequence */
#define SEQ_COUNT_MAX 1000000   /* numbers in one NEXT */
#define SEQ_SEQUENCES_MAX 100000 /* sequences, tombstones included */
#define SEQ_KEYS_MAX_DEFAULT 1000000 /* idempotency keys held at once */
#define SEQ_REASON_MAX 200      /* bytes in a VOID reason */
#define SEQ_GAPS_MAX 10000      /* ledger runs in one GAPS reply */
#define SEQ_LEDGER_MAX 100000   /* ledger runs kept per sequence */
#define SEQ_CACHE_MAX 1000000   /* numbers in one cached-mode block */
#define SEQ_TTL_MAX_MS (30LL * 24 * 3600 * 1000) /* longest RESERVE TTL */
#define SEQ_PKEYS_MAX 10000000  /* permanent (gapless) keys held at once */
#define SEQ_USER_MAX 64          /* bytes in a user name */
#define SEQ_TEXT_COUNT_MAX 1000  /* numbers in one NEXT ... TEXT (each a string) */
#define SEQ_FORMATS_MAX 64       /* formats one sequence has had (SETFORMAT) */

/* Status codes: the one error vocabulary of the core. */
enum seq_status {
    SEQ_OK = 0,
    SEQ_ERR_NAME,       /* invalid sequence name */
    SEQ_ERR_KEY,        /* invalid key */
    SEQ_ERR_RANGE,      /* min > max, or START outside [min, max] */
    SEQ_ERR_COUNT,      /* COUNT outside 1..SEQ_COUNT_MAX */
    SEQ_ERR_EXISTS,     /* CREATE with a different definition */
    SEQ_ERR_NOSEQ,      /* no such sequence */
    SEQ_ERR_OVERLAP,    /* ADDRANGE overlaps a range of the sequence */
    SEQ_ERR_EXHAUSTED,  /* fewer numbers left than asked for */
    SEQ_ERR_TOO_MANY,   /* a table limit was reached (ranges, sequences, history) */
    SEQ_ERR_KEYS_FULL,  /* the idempotency key table is full */
    SEQ_ERR_KEY_REUSED, /* a key was used before with another COUNT */
    SEQ_ERR_BADCMD,     /* unknown operation (a newer log format) */
    SEQ_ERR_NOTISSUED,  /* VOID of a number this sequence has not issued */
    SEQ_ERR_REASON,     /* invalid VOID reason */
    SEQ_ERR_MODE,       /* the command does not apply to the sequence's mode */
    SEQ_ERR_NOTRESERVED, /* CONFIRM/RELEASE of a number that is not reserved */
    SEQ_ERR_EXPIRED,    /* CONFIRM of a reservation whose TTL ran out */
    SEQ_ERR_TTL,        /* TTL outside 1 ms..SEQ_TTL_MAX_MS */
    SEQ_ERR_WINDOW,     /* NOTBEFORE later than NOTAFTER */
    SEQ_ERR_CACHED,     /* VOID of a number still in a leader's cache block */
    SEQ_ERR_KEY_VOIDED, /* gapless KEY whose number was voided */
    SEQ_ERR_KEY_MISMATCH, /* CONFIRM/RELEASE ... KEY k of a number k does not hold */
    SEQ_ERR_STALE,      /* ALLOCBLOCK/USED for an incarnation that was dropped */
    SEQ_ERR_USER,       /* invalid user name */
    SEQ_ERR_NOUSER,     /* no such user */
    SEQ_ERR_ACL_RULE,   /* an ACL rule the state cannot take (the server words it first) */
    SEQ_ERR_ACL_DEFAULT, /* DELUSER default */
    SEQ_ERR_FORMAT,     /* an invalid FORMAT (the server words why first) */
    SEQ_ERR_LABEL,      /* an invalid LABEL */
    SEQ_ERR_PERIOD,     /* PERIOD of a sequence without periods, or one still to come */
    SEQ_ERR_NOT_FORMAT, /* PARSE: the text is not how this sequence prints numbers */
    SEQ_ERR_BAD_CHECK,  /* PARSE: the check digit is wrong */
    SEQ_ERR_OUTSIDE,    /* PARSE: the number lies outside the sequence's ranges */
    SEQ_ERR_SKIPPED,    /* the number has no document number (its check has no digit) */
    SEQ_ERR_PERIOD_FIXED, /* CREATE of a once periodic name with another PERIOD or TZ */
    SEQ_STATUS_LAST = SEQ_ERR_PERIOD_FIXED,
};

/* How a sequence issues numbers (CREATE ... MODE). */
enum seq_mode {
    SEQ_MODE_STRICT = 0,  /* NEXT issues durably; no server-made gaps */
    SEQ_MODE_GAPLESS = 1, /* RESERVE/CONFIRM/RELEASE; released numbers are reissued */
    SEQ_MODE_CACHED = 2,  /* the leader serves blocks from memory; lost blocks are skipped */
};

/* A short, stable description of a status, for error replies. */
const char *seq_status_text(int status);

enum seq_op {
    SEQ_OP_CREATE = 1,
    SEQ_OP_ADDRANGE = 2,
    SEQ_OP_NEXT = 3,
    SEQ_OP_DESCRIBE = 4,
    SEQ_OP_LIST = 5,
    SEQ_OP_DROP = 6,
    SEQ_OP_VOID = 7,   /* VOID name n reason: min = n, text = reason */
    SEQ_OP_GAPS = 8,   /* GAPS name from to: min = from, max = to */
    SEQ_OP_LOOKUP = 9, /* LOOKUP name n: min = n */
    SEQ_OP_LOOKUP_KEY = 10, /* LOOKUP name KEY k: the runs that key got, if still retained */
    SEQ_OP_RESERVE = 11,    /* RESERVE name: ttl_ms, key */
    SEQ_OP_CONFIRM = 12,    /* CONFIRM name n [KEY k]: min = n, key */
    SEQ_OP_RELEASE = 13,    /* RELEASE name n [KEY k]: min = n, key */
    SEQ_OP_ALLOCBLOCK = 14, /* cached: a block of up to count numbers for owner (term, node);
                             * has_start: the owner's first block (it holds none before) */
    SEQ_OP_USED = 15,       /* cached: the owner served the first count numbers of its blocks */
    SEQ_OP_RECOVER = 16,    /* cached, no name: blocks of owners other than (term, node) are skipped */
    SEQ_OP_UNDELIVERED = 17, /* [min, max] never reached its client: text = cause;
                              * has_start: a RESERVE's, term = its grant; count 1: trusted */
    SEQ_OP_SERVED = 23,      /* cached: owner (term, node) served [min, max], but its USED
                              * never reached the log: skipped numbers there are final */
    /* Document numbers (seq_doc.c) */
    SEQ_OP_SETFORMAT = 24,   /* format = the format for numbers not issued yet */
    SEQ_OP_RENDER = 25,      /* min = n [period]: the document number of an issued number */
    SEQ_OP_PARSE = 26,       /* text = a document number: its number, period and state */
    /* Users (seq_acl.c): name is the user's name, not a sequence's. */
    SEQ_OP_ACL_SETUSER = 18, /* text = rules (seq_acl_token), one space apart, applied in
                              * order, all or none; has_start: a seed, applied only while
                              * the default user was never set */
    SEQ_OP_ACL_DELUSER = 19,
    SEQ_OP_ACL_GETUSER = 20, /* names: the user's rules, as SETUSER takes them */
    SEQ_OP_ACL_LIST = 21,    /* no name; names: "user <name> <rules>" per user, by name */
    SEQ_OP_ACL_USERS = 22,   /* no name; names: the users' names, sorted */
};

/* What the ledger knows of one number. */
enum seq_number_state {
    SEQ_NUM_NOT_ISSUED = 0, /* at or above the cursor, outside the ranges, or burned history */
    SEQ_NUM_FINAL = 1,      /* issued and standing */
    SEQ_NUM_VOIDED = 2,     /* issued, then voided: never issued again */
    SEQ_NUM_RESERVED = 3,   /* gapless: held for a caller until CONFIRM, RELEASE or TTL */
    SEQ_NUM_RELEASED = 4,   /* gapless: returned; issued again before any new number */
    SEQ_NUM_SKIPPED = 5,    /* cached: part of a block lost to a leader change or restart */
    SEQ_NUM_EXPIRED = 6,    /* never issued: its range's NOTAFTER passed */
    SEQ_NUM_UNKNOWN = 7,    /* issued, but the reply was lost to a leadership change */
    SEQ_NUM_CACHED = 8,     /* cached: in a leader's block, not yet reported served */
};

/* A run of numbers with one ledger state (GAPS). */
typedef struct seq_ledger_run {
    int64_t first, last;
    uint8_t state;   /* enum seq_number_state */
    int64_t time_ms; /* when it entered that state (the entry's wall clock) */
    int64_t deadline_ms; /* reserved, in the state: when the reservation runs out,
                          * on the elapsed clock (seq_elapsed_ms; INT64_MAX: never) */
    uint64_t grant;   /* reserved: which reservation of the number (1, 2, ... per sequence) */
    char *reason;    /* NUL-terminated, owned by the result */
    int64_t until_ms; /* reserved, in a GAPS result: deadline_ms as a wall time
                       * (INT64_MAX: never; for other rows INT64_MAX) */
    char by[SEQ_USER_MAX + 1]; /* who put the run there (its command's user; "": the
                                * server itself, or before users were recorded) */
} seq_ledger_run;

/* One command. name and key point into memory the caller keeps alive for
 * the duration of seq_apply; the state copies what it keeps. */
typedef struct seq_cmd {
    uint8_t op;
    const char *name;
    size_t name_len;
    int64_t min, max;  /* CREATE, ADDRANGE */
    bool has_start;    /* CREATE ... START start */
    int64_t start;
    uint32_t count;    /* NEXT: 1..SEQ_COUNT_MAX */
    const char *key;   /* NEXT ... KEY key; key_len 0 = no key */
    size_t key_len;
    const char *text;  /* VOID reason: 1..SEQ_REASON_MAX printable bytes (spaces allowed) */
    size_t text_len;
    /* CREATE: mode, block size for cached, WARN threshold (0: none) */
    uint8_t mode;
    uint32_t cache;
    uint64_t warn;
    /* CREATE, ADDRANGE: the range's validity window, ms since the epoch */
    bool has_not_before, has_not_after;
    int64_t not_before, not_after;
    int64_t ttl_ms;        /* RESERVE: 0 = never runs out */
    /* ALLOCBLOCK, USED, RECOVER: the serving leader's term, and node: its
     * process in the high 48 bits, the holder of the block within it in
     * the low 16 (RECOVER looks at the process only) */
    uint64_t term, node;
    /* ALLOCBLOCK, USED: the incarnation of the sequence the block is for
     * (seq_cached_info); another incarnation refuses them with
     * SEQ_ERR_STALE. 0: unchecked (entries written before it existed). */
    uint64_t incarnation;
    /* Who asked (the authenticated user, for the record; 0..SEQ_USER_MAX
     * bytes, empty: the server itself). It decides no result. */
    const char *user;
    size_t user_len;
    /* Document numbers. CREATE, SETFORMAT: format (0 bytes: none; SETFORMAT
     * takes it in text). CREATE, ADDRANGE: the range's label (0: none).
     * CREATE: period_kind (enum period_kind) and tz_minutes, its offset. */
    const char *format;
    size_t format_len;
    const char *label;
    size_t label_len;
    uint8_t period_kind;
    int16_t tz_minutes;
    /* DESCRIBE, GAPS, LOOKUP, RENDER, CONFIRM, RELEASE: in that period
     * (has_period false: the current one), of kind period_kind (it must be
     * the sequence's) */
    bool has_period;
    int64_t period;
    /* NEXT: the result also carries the document numbers (texts) */
    bool text_reply;
} seq_cmd;

typedef struct seq_run {
    int64_t first, last; /* inclusive, first <= last */
} seq_run;

typedef struct seq_range {
    int64_t min, max;
} seq_range;

/* A range as DESCRIBE shows it. */
typedef struct seq_range_info {
    int64_t min, max;
    int64_t not_before, not_after; /* INT64_MIN / INT64_MAX when open */
    bool expired;                  /* NOTAFTER has passed */
    char label[64 + 1];            /* "" for none (DOC_LABEL_MAX bytes at most) */
} seq_range_info;

/* A command's result. Owns its arrays: free with seq_result_free. Never
 * copy one by value: runs may point at run_inline inside it. */
typedef struct seq_result {
    int status;
    uint8_t op;
    /* NEXT: the runs issued, in issue order, covering exactly count numbers. */
    seq_run *runs;
    size_t n_runs;
    seq_run run_inline; /* where runs points when n_runs == 1 */
    bool replayed; /* NEXT ... KEY: the key's earlier result, nothing new issued */
    /* EXHAUSTED: how many can be issued now (saturated at UINT64_MAX);
     * opens_ms: when the next range not yet valid opens (INT64_MAX: none). */
    uint64_t remaining;
    int64_t opens_ms;
    /* NEXT, RESERVE, ALLOCBLOCK: this command took the sequence's
     * remaining numbers to its WARN threshold or below (once per crossing). */
    bool warn_crossed;
    /* DESCRIBE */
    char *name;
    size_t name_len;
    seq_range_info *ranges;
    size_t n_ranges;
    uint8_t mode;
    uint32_t cache;
    uint64_t warn;
    bool warned;       /* remaining is at or below warn */
    uint64_t left;     /* numbers still to issue, now or later (not expired) */
    uint64_t rate_1m;  /* numbers issued in the last minute (estimated from minute buckets) */
    uint64_t rate_1h;  /* numbers issued in the last hour */
    int64_t eta_s;     /* seconds until exhaustion at the recent rate; -1: no rate */
    bool has_next;     /* false when exhausted */
    int64_t next;
    uint64_t issued;   /* saturated at UINT64_MAX */
    /* LIST: names, sorted bytewise; each names[i] is NUL-terminated. */
    char **names;
    size_t n_names;
    /* GAPS: the non-final runs overlapping [from, to], ascending; more is
     * true when there were more than SEQ_GAPS_MAX. */
    seq_ledger_run *ledger;
    size_t n_ledger;
    bool more;
    /* LOOKUP: the number's state, and for a voided one when and why.
     * LOOKUP_KEY: runs/n_runs as NEXT gave them (n_runs 0: unknown or
     * expired key) and time_ms when the key was first used. */
    uint8_t state;
    int64_t time_ms;
    uint64_t grant;   /* RESERVE: the reservation's grant (what UNDELIVERED names) */
    int64_t until_ms; /* ALLOCBLOCK: the block's earliest NOTAFTER (INT64_MAX: none);
                       * LOOKUP of a live reservation: when it runs out, as a wall
                       * time (the clock now plus the elapsed time left) */
    char *reason;
    char by[SEQ_USER_MAX + 1]; /* LOOKUP: who put the number in its ledger state ("": unknown) */
    char *key; /* LOOKUP in gapless mode: the key the number was issued to */
    /* Document numbers. NEXT ... TEXT: the numbers' texts, in issue order
     * (n_texts = count). RENDER, PARSE: text is the document number. */
    char **texts; /* one allocation: the pointers, then the texts they point to */
    size_t n_texts;
    char *text;
    /* NEXT, RESERVE, RENDER, PARSE, LOOKUP: the period of the numbers;
     * DESCRIBE: the period described (has_period false: none) */
    bool has_period;
    int64_t period;
    int64_t number; /* PARSE: the number the text is */
    /* DESCRIBE: the format for new numbers ("" none), the periods */
    char *format;
    uint8_t period_kind;
    int16_t tz_minutes;
    size_t n_closed; /* periods closed */
} seq_result;

void seq_result_free(seq_result *r);

typedef struct seq_state seq_state;

/* A new, empty state. Aborts on out-of-memory. Free with seq_state_free. */
seq_state *seq_state_new(void);
void seq_state_free(seq_state *s);

/* What the leader stamps into every log entry: all the state machine ever
 * learns of time and of node configuration. */
typedef struct seq_stamp {
    int64_t wall_ms;      /* the leader's wall clock (ms since the epoch) */
    int64_t mono_ms;      /* the leader's monotonic clock */
    uint64_t origin;      /* the leader process that stamped it (its nonce) */
    int64_t retention_ms; /* idempotency key retention in force */
    uint64_t keys_max;    /* idempotency keys the state may hold at once */
} seq_stamp;

/* Enters an entry's stamp; called once per log entry, before its
 * commands. The wall clock is the stamp's, up or down (a leader's clock
 * that steps back, or a new leader's that is behind, moves it back). The
 * elapsed clock advances by the monotonic time between two stamps of the
 * same origin and by nothing at a change of origin; it never goes back.
 * Then forgets idempotency keys held for retention_ms of elapsed time or
 * more. */
void seq_stamp_entry(seq_state *s, const seq_stamp *stamp);

/* seq_stamp_entry for tools and tests that have one clock: wall and
 * monotonic time now_ms, origin 0, keys_max as the last stamp had it
 * (SEQ_KEYS_MAX_DEFAULT at first). An earlier now_ms than before moves
 * neither clock. */
void seq_tick(seq_state *s, int64_t now_ms, int64_t retention_ms);

/* Applies one command and writes its result into *out (which the caller then
 * owns). Returns out->status. Never fails for a reason other than those in
 * enum seq_status; a failed command changes nothing. */
int seq_apply(seq_state *s, const seq_cmd *cmd, seq_result *out);

/* Validation shared with the protocol layer, so bad input is refused before
 * it reaches the log. */
bool seq_name_valid(const char *name, size_t len);
bool seq_key_valid(const char *key, size_t len);

/* The mode of a live sequence, or -1 when there is none. */
int seq_mode_of(const seq_state *s, const char *name, size_t len);

/* For a live cached-mode sequence: its block size and incarnation (which
 * changes with every DROP and CREATE); false for any other name. */
bool seq_cached_info(const seq_state *s, const char *name, size_t len, uint32_t *cache,
                     uint64_t *incarnation);

/* Calls fn for every live sequence whose remaining numbers are at or below
 * its WARN threshold (for INFO). */
void seq_each_warned(const seq_state *s,
                     void (*fn)(void *ctx, const char *name, uint64_t left, uint64_t warn),
                     void *ctx);

/* One live sequence as the metrics show it (valid during the call). */
typedef struct seq_summary {
    const char *name;
    uint64_t issued, remaining, warn;
    bool warned;
    int64_t eta_s;      /* seconds to exhaustion at the recent rate, -1 unknown */
    size_t open_runs;   /* reserved or released ledger runs (gapless) */
    size_t ledger_runs; /* every run the ledger holds */
} seq_summary;

/* Calls fn for every live sequence, in no particular order. */
void seq_each_summary(const seq_state *s, void (*fn)(void *ctx, const seq_summary *q), void *ctx);

/* ---- seq_restore.c: a backup served again (seqd restore) ---- */

/* Nothing was ever created in s (no sequence, no user but an untouched
 * default): a restored state may replace it. */
bool seq_state_pristine(const seq_state *s);

/* Takes the next count numbers of the live sequence name (fewer when
 * fewer are left) and records them in its ledger as skipped, with reason:
 * what a restore does for the numbers issued after its backup. A periodic
 * sequence whose period ended by now_ms (the restore's wall clock) skips
 * them in the backup's period and again in the period of now_ms, which it
 * moves to: the lost cluster may have numbered that period too. *skipped
 * says how many. SEQ_OK, SEQ_ERR_NOSEQ, or SEQ_ERR_TOO_MANY (the ledger is
 * full: nothing changed in that period). */
int seq_restore_advance(seq_state *s, const char *name, size_t len, uint64_t count,
                        const char *reason, int64_t now_ms, uint64_t *skipped);

/* What a restore at now_ms (the restoring machine's wall clock) does to
 * the backup's open numbers, every sequence's: released ones (and
 * reservations whose TTL had passed by now_ms) are skipped with reason,
 * since the cluster the backup came from hands those out first;
 * reservations still held come back released (skipped too with
 * skip_reserved: their holders may have confirmed them there). Returns
 * the reservations released; *skipped, the numbers skipped. */
size_t seq_restore_release(seq_state *s, const char *reason, bool skip_reserved, int64_t now_ms,
                           uint64_t *skipped);

/* The document number of v, which the live sequence name issued (or
 * holds in a cached block) in its current period, into out (DOC_TEXT_MAX
 * + 1 bytes, see doc_format.h): its length, or -1 when there is none.
 * What a cached-mode leader prints for NEXT ... TEXT served from memory. */
int seq_render_current(const seq_state *s, const char *name, size_t len, int64_t v, char *out);

/* Counters, for INFO. */
size_t seq_count_live(const seq_state *s);
size_t seq_count_keys(const seq_state *s);
size_t seq_count_pkeys(const seq_state *s); /* gapless keys, kept for the sequence's life */
int64_t seq_clock_ms(const seq_state *s);   /* the wall clock of the last stamp */
int64_t seq_elapsed_ms(const seq_state *s); /* the elapsed clock (see seq_stamp_entry) */

/* ---- users and permissions (seq_acl.c) ---------------------------------
 *
 * Users are replicated state like sequences, so every node lets in the
 * same people with the same rights. A user: on or off, nopass or up to
 * SEQ_ACL_HASHES_MAX password hashes (the core never sees a password: the
 * server hashes it before it proposes), sequence-name patterns (globs, as
 * fnmatch(3) reads them), and command rules applied in order, the last
 * that matches deciding (as Redis's ACL). A state starts with the user
 * `default`: on, nopass, ~*, +@all. */
#define SEQ_USERS_MAX 10000
#define SEQ_ACL_HASHES_MAX 16    /* passwords of one user */
#define SEQ_ACL_PATTERNS_MAX 64  /* sequence patterns of one user */
#define SEQ_ACL_RULES_MAX 64     /* command rules of one user (compacted) */
#define SEQ_ACL_TOKEN_MAX 256    /* bytes in one rule */
#define SEQ_ACL_COMMAND_MAX 48   /* bytes in a rule's command name ("cluster|add") */
#define SEQ_ACL_TEXT_MAX 16384   /* bytes of one SETUSER's rules */
#define SEQ_USER_DEFAULT "default"

/* Command categories: each checked command belongs to one. */
enum seq_acl_category {
    SEQ_CAT_READ = 1,    /* DESCRIBE LIST GAPS LOOKUP ROLE INFO */
    SEQ_CAT_ISSUE = 2,   /* NEXT INCR INCRBY RESERVE CONFIRM RELEASE */
    SEQ_CAT_VOID = 4,    /* VOID */
    SEQ_CAT_ADMIN = 8,   /* CREATE ADDRANGE DROP CONFIG */
    SEQ_CAT_CLUSTER = 16, /* CLUSTER ... */
    SEQ_CAT_ACL = 32,    /* ACL ... but WHOAMI */
    SEQ_CAT_ALL = 63,
};

/* The category named name ("read", "all" ...; without the @), or 0. */
unsigned seq_acl_category_named(const char *name, size_t len);
/* Its name, for messages; "" for none or several. */
const char *seq_acl_category_name(unsigned category);

/* What one SETUSER rule is (its text tells it; see seq_acl_token_kind). */
enum seq_acl_token {
    SEQ_ACL_T_BAD = 0,
    SEQ_ACL_T_ON, SEQ_ACL_T_OFF,
    SEQ_ACL_T_NOPASS, SEQ_ACL_T_RESETPASS,
    SEQ_ACL_T_HASH,       /* #hash: add a password hash */
    SEQ_ACL_T_UNHASH,     /* !hash: remove one */
    SEQ_ACL_T_PASSWORD,   /* >password: the server hashes it into #hash */
    SEQ_ACL_T_UNPASSWORD, /* <password: the server finds its hash: !hash */
    SEQ_ACL_T_PATTERN,    /* ~glob */
    SEQ_ACL_T_ALLKEYS, SEQ_ACL_T_RESETKEYS,
    SEQ_ACL_T_ALLOW_CATEGORY, SEQ_ACL_T_DENY_CATEGORY, /* +@cat -@cat */
    SEQ_ACL_T_ALLOW_COMMAND, SEQ_ACL_T_DENY_COMMAND,   /* +cmd -cmd, +cmd|sub */
    SEQ_ACL_T_ALLCOMMANDS, SEQ_ACL_T_NOCOMMANDS,
    SEQ_ACL_T_RESET,
    SEQ_ACL_T_CHANNELS, /* allchannels, resetchannels: Redis's, nothing here */
};

/* The kind of rule tok is, judged by its syntax alone (case-insensitive
 * words; a category must exist; a command is 1..SEQ_ACL_COMMAND_MAX of
 * [a-z|] — whether the server has it is the server's to say). */
int seq_acl_token_kind(const char *tok, size_t len);

bool seq_user_valid(const char *name, size_t len);

/* What a user may do: SEQ_ACL_ALLOWED, or why not. */
enum seq_acl_verdict {
    SEQ_ACL_ALLOWED = 0,
    SEQ_ACL_NO_USER = 1,     /* no such user, or it is off */
    SEQ_ACL_NO_COMMAND = 2,  /* the command is not among its rights */
    SEQ_ACL_NO_SEQUENCE = 3, /* the sequence matches none of its patterns */
};

/* Whether user may run command (lower case; with subcommand "cluster" and
 * "add" also matches a rule on "cluster|add") of category on sequence
 * seq (seq_len 0: the command names none). Pure, allocation-free. */
int seq_acl_check(const seq_state *s, const char *user, size_t user_len, const char *command,
                  const char *subcommand, unsigned category, const char *seq, size_t seq_len);

/* What a login needs to know of a user, copied out of the state. */
typedef struct seq_login_info {
    bool exists, enabled, nopass;
    size_t n_hashes;
    char hashes[SEQ_ACL_HASHES_MAX][SEQ_ACL_TOKEN_MAX];
} seq_login_info;

void seq_acl_login_info(const seq_state *s, const char *user, size_t len, seq_login_info *out);

/* Whether user exists, is on, and needs no password. */
bool seq_acl_user_open(const seq_state *s, const char *user, size_t len);

/* Whether an ACL SETUSER has ever changed the default user (a seed
 * applies only before). */
bool seq_acl_default_set(const seq_state *s);
size_t seq_count_users(const seq_state *s);

/* Snapshot: the whole state as bytes, and back (seq_snapshot.c).
 * seq_snapshot_encode returns a malloc'd buffer (caller frees) and its size
 * in *len, or NULL on out-of-memory. seq_snapshot_decode builds a new state
 * from bytes, or returns NULL if they are malformed (never trusts a length). */
void *seq_snapshot_encode(const seq_state *s, size_t *len);
seq_state *seq_snapshot_decode(const void *buf, size_t len);

#endif
