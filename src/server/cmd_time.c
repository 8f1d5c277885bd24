/* cmd_time — points in time in arguments and replies: Unix seconds or
 * RFC 3339 in, RFC 3339 UTC out. Pure arithmetic on the civil calendar (no
 * time zone database, no locale). Keeps: every accepted time fits in int64
 * milliseconds; anything else is refused, never wrapped. */
#include "commands_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool parse_digits(const char *p, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return true;
}

bool cmd_parse_time(const resp_arg *a, int64_t *ms, bool *whole_second)
{
    int64_t secs;
    *whole_second = true;
    if (cmd_parse_i64(a, &secs)) {
        if (secs > INT64_MAX / 1000 - 1 || secs < INT64_MIN / 1000) {
            return false;
        }
        *ms = secs * 1000;
        return true;
    }
    const char *p = a->ptr;
    size_t n = a->len;
    unsigned y, mo, d, h, mi, sec, frac_ms = 0;
    if (n < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't') ||
        p[13] != ':' || p[16] != ':' || !parse_digits(p, 4, &y) ||
        !parse_digits(p + 5, 2, &mo) || !parse_digits(p + 8, 2, &d) ||
        !parse_digits(p + 11, 2, &h) || !parse_digits(p + 14, 2, &mi) ||
        !parse_digits(p + 17, 2, &sec)) {
        return false;
    }
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || sec > 60) {
        return false;
    }
    size_t i = 19;
    if (i < n && p[i] == '.') {
        size_t digits = 0;
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
            if (digits < 3) {
                frac_ms = frac_ms * 10 + (unsigned)(p[i] - '0');
            }
        }
        if (digits == 0 || digits > 9) {
            return false;
        }
        *whole_second = false;
        for (; digits < 3; digits++) {
            frac_ms *= 10;
        }
    }
    int64_t offset_min = 0;
    if (i + 1 == n && (p[i] == 'Z' || p[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (p[i] == '+' || p[i] == '-') && p[i + 3] == ':') {
        unsigned oh, om;
        if (!parse_digits(p + i + 1, 2, &oh) || !parse_digits(p + i + 4, 2, &om) || oh > 23 ||
            om > 59) {
            return false;
        }
        offset_min = (int64_t)(oh * 60 + om) * (p[i] == '-' ? -1 : 1);
        i += 6;
    }
    if (i != n) {
        return false;
    }
    if (sec == 60) {
        sec = 59; /* a leap second counts as the second before it */
    }
    int64_t days = days_from_civil(y, mo, d);
    *ms = ((days * 86400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + frac_ms;
    return true;
}

void cmd_format_time(int64_t ms, char *out, size_t cap)
{
    int64_t secs = ms / 1000 - (ms % 1000 < 0);
    int64_t days = secs / 86400 - (secs % 86400 < 0);
    int64_t rem = secs - days * 86400;
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
             (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
}
