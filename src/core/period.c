/* period — calendar periods in a fixed offset (see period.h). The day
 * arithmetic counts days from 0000-03-01 in 400-year eras of 146097 days,
 * so leap years need no table and any int64 day number has a date. */
#include "period.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MS_PER_DAY 86400000LL
#define DAYS_0000_03_01_TO_EPOCH 719468LL /* 0000-03-01 to 1970-01-01 */
#define PERIOD_YEAR_LIMIT 300000000LL /* past every year an int64 of ms reaches */

int period_kind_named(const char *p, size_t len)
{
    if (len == 6 && strncasecmp(p, "yearly", 6) == 0) {
        return PERIOD_YEARLY;
    }
    if (len == 7 && strncasecmp(p, "monthly", 7) == 0) {
        return PERIOD_MONTHLY;
    }
    return PERIOD_NONE;
}

const char *period_kind_name(int kind)
{
    return kind == PERIOD_YEARLY ? "yearly" : kind == PERIOD_MONTHLY ? "monthly" : "none";
}

bool period_tz_parse(const char *p, size_t len, int *minutes)
{
    if (len == 1 && (p[0] == 'Z' || p[0] == 'z')) {
        *minutes = 0;
        return true;
    }
    if (len != 6 || (p[0] != '+' && p[0] != '-') || p[3] != ':') {
        return false;
    }
    const char digits[4] = {p[1], p[2], p[4], p[5]};
    for (size_t i = 0; i < 4; i++) {
        if (digits[i] < '0' || digits[i] > '9') {
            return false;
        }
    }
    int hh = (digits[0] - '0') * 10 + (digits[1] - '0');
    int mm = (digits[2] - '0') * 10 + (digits[3] - '0');
    if (mm > 59) {
        return false;
    }
    int m = (hh * 60 + mm) * (p[0] == '-' ? -1 : 1);
    if (m < PERIOD_TZ_MIN || m > PERIOD_TZ_MAX) {
        return false;
    }
    *minutes = m;
    return true;
}

size_t period_tz_text(int minutes, char *out)
{
    int a = minutes < 0 ? -minutes : minutes;
    return (size_t)snprintf(out, 7, "%c%02d:%02d", minutes < 0 ? '-' : '+', a / 60 % 100, a % 60);
}

static int64_t floorDiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* The month (0-11) of a monthly period id: never id - year * 12, which
 * overflows for the ids at INT64_MIN a hostile snapshot can hold. */
static int monthOf(int64_t id)
{
    int64_t m = id % 12;
    return (int)(m < 0 ? m + 12 : m);
}

/* The civil date of day z (days since 1970-01-01). */
static void civilOfDay(int64_t z, int64_t *year, int *month, int *day)
{
    z += DAYS_0000_03_01_TO_EPOCH;
    int64_t era = floorDiv(z, 146097);
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365], from March */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11], March = 0 */
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

/* Days since 1970-01-01 of a civil date. */
static int64_t dayOfCivil(int64_t year, int month, int day)
{
    year -= month <= 2 ? 1 : 0;
    int64_t era = floorDiv(year, 400);
    int64_t yoe = year - era * 400;
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - DAYS_0000_03_01_TO_EPOCH;
}

int64_t period_of(int64_t wall_ms, int kind, int tz_minutes)
{
    assert(tz_minutes >= PERIOD_TZ_MIN && tz_minutes <= PERIOD_TZ_MAX);
    __int128 local = (__int128)wall_ms + (__int128)tz_minutes * 60000;
    local = local > INT64_MAX ? INT64_MAX : local < INT64_MIN ? INT64_MIN : local;
    int64_t year;
    int month, day;
    civilOfDay(floorDiv((int64_t)local, MS_PER_DAY), &year, &month, &day);
    return kind == PERIOD_MONTHLY ? year * 12 + (month - 1) : year;
}

int64_t period_start_ms(int64_t id, int kind, int tz_minutes)
{
    int64_t year = kind == PERIOD_MONTHLY ? floorDiv(id, 12) : id;
    int month = kind == PERIOD_MONTHLY ? monthOf(id) + 1 : 1;
    /* int64 milliseconds reach ±292 million years; past that the calendar
     * arithmetic would overflow, and the answer is the end of time anyway */
    if (year > PERIOD_YEAR_LIMIT || year < -PERIOD_YEAR_LIMIT) {
        return year > 0 ? INT64_MAX : INT64_MIN;
    }
    __int128 ms = (__int128)dayOfCivil(year, month, 1) * MS_PER_DAY - (__int128)tz_minutes * 60000;
    return ms > INT64_MAX ? INT64_MAX : ms < INT64_MIN ? INT64_MIN : (int64_t)ms;
}

/* Writes u in decimal, at least width digits; its length. */
static size_t periodDigits(uint64_t u, size_t width, char *out)
{
    char rev[24];
    size_t n = 0;
    do {
        rev[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    while (n < width) {
        rev[n++] = '0';
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = rev[n - 1 - i];
    }
    return n;
}

size_t period_text(int64_t id, int kind, char *out)
{
    /* by hand, not snprintf: NEXT ... TEXT of a periodic series prints one
     * per number. Any int64 prints (a sign, 19 digits, "-MM"): a period
     * read from a snapshot is not trusted to be a real year. */
    int64_t year = kind == PERIOD_MONTHLY ? floorDiv(id, 12) : id;
    size_t n = 0;
    if (year < 0) {
        out[n++] = '-';
    }
    uint64_t magnitude = year < 0 ? (uint64_t)0 - (uint64_t)year : (uint64_t)year;
    n += periodDigits(magnitude, 4, out + n);
    if (kind == PERIOD_MONTHLY) {
        out[n++] = '-';
        n += periodDigits((uint64_t)monthOf(id) + 1, 2, out + n);
    }
    assert(n < PERIOD_TEXT_MAX);
    out[n] = '\0';
    return n;
}

static bool readDigits(const char *p, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        *v = *v * 10 + (p[i] - '0');
    }
    return true;
}

bool period_parse(const char *p, size_t len, int kind, int64_t *id)
{
    int year, month;
    if (kind == PERIOD_YEARLY && len == 4 && readDigits(p, 4, &year)) {
        *id = year;
        return true;
    }
    if (kind == PERIOD_MONTHLY && len == 7 && p[4] == '-' && readDigits(p, 4, &year) &&
        readDigits(p + 5, 2, &month) && month >= 1 && month <= 12) {
        *id = (int64_t)year * 12 + month - 1;
        return true;
    }
    return false;
}
