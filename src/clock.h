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

#endif
