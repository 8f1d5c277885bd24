/* period — the calendar periods a periodic sequence numbers in (CREATE ...
 * PERIOD yearly|monthly [TZ +hh:mm]): which period an instant falls in,
 * in a fixed UTC offset, and how a period is printed and read back.
 *
 * A period is an integer id that grows with time: the year (2026) for
 * yearly series, year * 12 + month - 1 for monthly ones. The instant is
 * the leader's wall clock stamped into the log entry, so every replica
 * computes the same period for the same entry. The proleptic Gregorian
 * calendar throughout, leap years included; no time zone database (a
 * fixed offset has no daylight saving rules to disagree about).
 * Pure: no I/O, no clock, no locale. */
#ifndef SEQD_PERIOD_H
#define SEQD_PERIOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum period_kind {
    PERIOD_NONE = 0,
    PERIOD_YEARLY = 1,
    PERIOD_MONTHLY = 2,
};

#define PERIOD_TZ_MIN (-12 * 60) /* -12:00, in minutes east of UTC */
#define PERIOD_TZ_MAX (14 * 60)  /* +14:00 */
#define PERIOD_TEXT_MAX 32 /* a sign, 19 digits, "-MM" and the NUL fit */

/* "yearly" or "monthly" (any case), or PERIOD_NONE. */
int period_kind_named(const char *p, size_t len);
const char *period_kind_name(int kind);

/* "+hh:mm", "-hh:mm" (or "Z", "+00:00") within -12:00..+14:00 into
 * minutes east of UTC. False when malformed or out of bounds. */
bool period_tz_parse(const char *p, size_t len, int *minutes);
/* The offset as "+hh:mm" into out (at least 7 bytes); its length. */
size_t period_tz_text(int minutes, char *out);

/* The period the instant wall_ms (ms since the epoch, UTC) falls in at
 * offset tz_minutes. Saturates at the ends of int64 time. */
int64_t period_of(int64_t wall_ms, int kind, int tz_minutes);

/* The first instant of period id (ms since the epoch, UTC) at the offset. */
int64_t period_start_ms(int64_t id, int kind, int tz_minutes);

/* The period printed as {period} shows it ("2026", "2026-03") into out
 * (PERIOD_TEXT_MAX bytes, NUL-terminated); its length. */
size_t period_text(int64_t id, int kind, char *out);

/* The period that text reads as (the shape period_text prints, years
 * 0000..9999), or false. */
bool period_parse(const char *p, size_t len, int kind, int64_t *id);

#endif
