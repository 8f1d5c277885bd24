/* history.h — an independent checker of seqd's guarantees over a recorded
 * history, for the unit tests.  It shares no code with src/: it states the
 * guarantees a second time, from the outside, instead of re-running the
 * server's logic.  A test records what happened (CREATE/ADDRANGE/DROP, what
 * each caller was told, confirmations, releases, voids) and hist_check says
 * whether the history keeps:
 *   1. uniqueness per name, across incarnations: no number held by two
 *      callers at overlapping times, none told after it was voided, none told
 *      in an incarnation after an earlier incarnation of the name told it;
 *   2. containment: every told number lies in a range of the incarnation
 *      current when it was told;
 *   3. strict order (HIST_STRICT tells): within each range, a tell's numbers
 *      are all greater than every number earlier tells got in that range,
 *      unless it is the same caller's exact replay;
 *   4. no tell of a name that is dropped or was never created.
 * "Earlier"/"after" means call order (the history is sequential); the t_ms
 * and until_ms times only decide whether two holds overlap.
 *
 * Usage: each test program includes history.c exactly once (single
 * translation unit); history.c includes this header. */
#ifndef SEQD_TESTS_UNIT_HISTORY_H
#define SEQD_TESTS_UNIT_HISTORY_H

#include <stddef.h>
#include <stdint.h>

/* hist_told flag: the sequence is in strict mode, so order is checked. */
#define HIST_STRICT 1u

/* hist_told until_ms of a number that is final at once (NEXT, INCR). */
#define HIST_FINAL_MS INT64_MAX

/* Caps: recording past one aborts with a message (a runaway test). */
#define HIST_EVENTS_MAX (1u << 23)    /* recorded calls, all kinds */
#define HIST_NAMES_MAX (1u << 20)     /* distinct sequence names */
#define HIST_NAME_MAX_BYTES 4096u     /* one name's length */

typedef struct hist hist;

hist *hist_new(void);
void hist_free(hist *h);

/* A new incarnation of `name` begins (CREATE, also after DROP) at time t_ms;
 * its ranges follow with hist_range.  A CREATE while an incarnation is live is
 * itself a violation (malformed history). */
void hist_create(hist *h, const char *name, int64_t t_ms);

/* A range [min, max] of the current incarnation (CREATE or ADDRANGE).  Only
 * tells recorded after it may use it. */
void hist_range(hist *h, const char *name, int64_t min, int64_t max);

void hist_drop(hist *h, const char *name, int64_t t_ms);

/* Caller `who` was told at t_ms that it holds [first, last] of name (current
 * incarnation).  until_ms: HIST_FINAL_MS when final at once (NEXT), else the
 * reservation's end (RESERVE).  flags: HIST_STRICT (strict mode: order
 * checked).  A reply whose numbers run across two ranges that are not
 * adjacent is recorded as one hist_told per contiguous run. */
void hist_told(hist *h, const char *name, uint64_t who, int64_t first,
               int64_t last, int64_t t_ms, int64_t until_ms, unsigned flags);

/* who's reservation of v became final at t_ms.  It applies to who's latest
 * earlier tell covering v: before its until_ms the hold becomes final; at or
 * after it (lapsed) who holds v finally again from t_ms.  A confirmation of a
 * number who was never told is a violation. */
void hist_confirmed(hist *h, const char *name, uint64_t who, int64_t v,
                    int64_t t_ms);

/* who gave v back at t_ms (RELEASE, or an undelivered report the server
 * trusted): who's latest earlier hold of v ends at t_ms.  A release matching
 * no hold of who is ignored (the reply may never have been recorded). */
void hist_released(hist *h, const char *name, uint64_t who, int64_t v,
                   int64_t t_ms);

/* v is never to be told again (by name, across incarnations). */
void hist_voided(hist *h, const char *name, int64_t v, int64_t t_ms);

/* Runs every check; returns 0 when the history keeps the guarantees, else the
 * number of violations (each offending call counted once per check), writing
 * the earliest one in call order (name, number, both holders and times; for
 * uniqueness, the earliest of the pairs the sweep met) into msg ("ok" when
 * there is none).  Messages start "'name' (call #N): ", N counting the
 * recorded calls from 0.  msg may be NULL when msg_len is 0. */
int hist_check(const hist *h, char *msg, size_t msg_len);

/* Number of calls recorded so far (for test diagnostics). */
size_t hist_event_count(const hist *h);

#endif
