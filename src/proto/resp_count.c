/* resp_count — the count or length after a RESP type byte ("*N", "$L",
 * and a reply's "%n", "!L" ...), and the CRLF that ends a bulk body: the
 * two checks the request parser and the reply scanner share.
 *
 * Invariants: reads only p[0..n) (buf[0..len)); a count is compared with
 * its limit after every digit, in uint64_t, before it can overflow, so a
 * header that can no longer become valid is an error at once and never
 * INCOMPLETE; no I/O, no allocation. */
#include "resp_internal.h"

#include <assert.h>
#include <string.h>

static const char RESP_ERR_BULK_LEN[] =
    "ERR Protocol error: invalid bulk length";
static const char RESP_ERR_BULK_MAX[] = "ERR Protocol error: bulk too big";
static const char RESP_ERR_BULK_LINE[] =
    "ERR Protocol error: too big bulk count string";
static const char RESP_ERR_BULK_CRLF[] =
    "ERR Protocol error: bulk not followed by CRLF";

const respCountErrors respBulkErrors = {
    RESP_ERR_BULK_LEN, RESP_ERR_BULK_MAX, RESP_ERR_BULK_LINE};

/* Checks the digits p[first..end) of a count, one at a time, into *value:
 * no junk, no leading zero, no overflow, nothing above max; with minus_one
 * the only digit allowed is the 1 of "-1". Returns 0, or -1 with *errmsg. */
static int respCountDigits(const char *p, size_t first, size_t end,
                           uint64_t max, int minus_one,
                           const respCountErrors *errs, uint64_t *value,
                           const char **errmsg)
{
    uint64_t v = 0;

    assert(first <= end);
    for (size_t i = first; i < end; i++) {
        unsigned d;
        if (p[i] < '0' || p[i] > '9') {
            *errmsg = errs->invalid;
            return -1;
        }
        if (i > first && p[first] == '0') {
            /* a leading zero: "01", "-01" */
            *errmsg = errs->invalid;
            return -1;
        }
        d = (unsigned)(p[i] - '0');
        if (minus_one) {
            /* only "-1" */
            if (i > first || d != 1) {
                *errmsg = errs->invalid;
                return -1;
            }
            continue;
        }
        if (v > (UINT64_MAX - d) / 10) {
            *errmsg = errs->invalid;
            return -1;
        }
        v = v * 10 + d;
        if (v > max) {
            *errmsg = errs->too_big;
            return -1;
        }
    }
    *value = v;
    return 0;
}

int respParseCount(const char *p, size_t n, uint64_t max, int allow_minus_one,
                   const respCountErrors *errs, uint64_t *value,
                   int *minus_one, size_t *used, const char **errmsg)
{
    size_t scan = n < RESP_HEADER_MAX ? n : RESP_HEADER_MAX;
    const char *cr = memchr(p, '\r', scan);
    size_t end;
    size_t first = 0;
    uint64_t v = 0;

    assert(p != NULL || n == 0);
    assert(errs != NULL && value != NULL && minus_one != NULL && used != NULL);
    if (cr == NULL && n >= RESP_HEADER_MAX) {
        /* prefix + RESP_HEADER_MAX bytes, none of them CR: too long */
        *errmsg = errs->too_long;
        return RESP_PARSE_ERROR;
    }
    end = cr != NULL ? (size_t)(cr - p) : n;

    *minus_one = 0;
    if (end > 0 && p[0] == '-') {
        if (!allow_minus_one) {
            *errmsg = errs->invalid;
            return RESP_PARSE_ERROR;
        }
        *minus_one = 1;
        first = 1;
    }
    if (respCountDigits(p, first, end, max, *minus_one, errs, &v, errmsg) != 0) {
        return RESP_PARSE_ERROR;
    }
    if (cr == NULL) {
        return RESP_PARSE_INCOMPLETE;
    }
    if (end == first) {
        /* no digits: "*\r", "$-\r" */
        *errmsg = errs->invalid;
        return RESP_PARSE_ERROR;
    }
    if (end + 1 == n) {
        return RESP_PARSE_INCOMPLETE;
    }
    if (p[end + 1] != '\n') {
        *errmsg = errs->invalid;
        return RESP_PARSE_ERROR;
    }
    assert(v <= max);
    *value = v;
    *used = end + 2;
    return RESP_PARSE_OK;
}

int respBulkBodyEnd(const char *buf, size_t len, size_t at, size_t n,
                    const char **errmsg)
{
    size_t avail;

    assert(at <= len);
    avail = len - at;
    if (avail > n && buf[at + n] != '\r') {
        *errmsg = RESP_ERR_BULK_CRLF;
        return RESP_PARSE_ERROR;
    }
    if (avail > n && avail - n > 1 && buf[at + n + 1] != '\n') {
        *errmsg = RESP_ERR_BULK_CRLF;
        return RESP_PARSE_ERROR;
    }
    if (avail < n || avail - n < 2) {
        return RESP_PARSE_INCOMPLETE;
    }
    return RESP_PARSE_OK;
}
