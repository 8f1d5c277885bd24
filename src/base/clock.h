/* clock — the two clocks a leader stamps into every log entry, and the
 * jumps of its wall clock against its monotonic clock.
 *
 * The wall clock (CLOCK_REALTIME) dates things: range windows, ledger
 * times. The monotonic clock (CLOCK_MONOTONIC) measures durations: the
 * state machine turns it into its elapsed clock, which judges TTLs and key
 * retention (see seq_stamp_entry and docs/clock.md). A wall clock that
 * steps (an operator's `date -s`, an NTP step, a VM resumed) shows as a
 * change of their difference; it is counted and logged, never hidden. */
#ifndef SEQD_CLOCK_H
#define SEQD_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLOCK_JUMP_MS 1000 /* a change of wall - mono larger than this is a jump */

typedef struct clock_watch {
    bool started;
    int64_t offset_ms;       /* wall - mono at the last reading */
    uint64_t jumps;          /* jumps seen */
    int64_t last_jump_ms;    /* signed size of the last jump (forward > 0) */
    int64_t last_jump_at_ms; /* wall time of the last jump */
} clock_watch;

/* Reads both clocks (ms), and records a jump of the wall clock. */
void clock_read(clock_watch *c, int64_t *wall_ms, int64_t *mono_ms);

/* The clocks without jump accounting. */
int64_t clock_wall_ms(void);
int64_t clock_mono_ms(void);

/* What a leader knows of its followers' wall clocks: each follower sends
 * its own (CLUSTER CLOCK) a few times a second, and the leader keeps the
 * difference to its own clock when it arrived (one-way: it includes the
 * network delay, small next to the bound). See docs/clock.md. */
#define CLOCK_PEERS_MAX 16          /* followers tracked; more are ignored */
#define CLOCK_REPORT_FRESH_MS 3000  /* an older measurement counts for nothing */
#define CLOCK_REPORT_EVERY_MS 250   /* how often a follower reports */

typedef struct clock_peer {
    uint64_t id;       /* the follower's Raft id */
    int64_t offset_ms; /* its clock minus ours */
    uint64_t at_ms;    /* loop time of the measurement */
} clock_peer;

typedef struct clock_quorum {
    clock_peer peers[CLOCK_PEERS_MAX];
    size_t n;
} clock_quorum;

void clock_quorum_reset(clock_quorum *q);
void clock_quorum_report(clock_quorum *q, uint64_t id, int64_t offset_ms, uint64_t now_ms);

/* Among the follower ids given: how many have a fresh measurement within
 * bound_ms of our clock (*agree), and how many a fresh one beyond it
 * (*disagree). The largest fresh |offset| goes to *worst_ms. */
void clock_quorum_count(const clock_quorum *q, const uint64_t *ids, size_t n_ids,
                        int64_t bound_ms, uint64_t now_ms, size_t *agree, size_t *disagree,
                        int64_t *worst_ms);

/* A follower among ids with a fresh measurement beyond bound_ms (the one
 * whose report is newest), or 0. */
uint64_t clock_quorum_dissenter(const clock_quorum *q, const uint64_t *ids, size_t n_ids,
                                int64_t bound_ms, uint64_t now_ms);

#endif
