/* resp_reply_scan — resp_reply_scan: measures one complete RESP2/RESP3
 * reply, so a follower can relay its leader's replies verbatim.
 *
 * Invariants: stateless; reads only buf[0..len), never writes into it,
 * never allocates, never recurses: open aggregates live on a fixed stack of
 * RESP_REPLY_DEPTH_MAX counters. Every count and length is checked against
 * its limit as its digits arrive, and the elements of the whole reply
 * against reply_elems_max, so what the caller buffers for an INCOMPLETE
 * reply stays bounded; each byte is looked at a bounded number of times.
 * No I/O here. */
#include "resp_internal.h"

#include <assert.h>
#include <string.h>

/* Bytes of a verbatim body's "txt:" prefix. */
#define RESP_VERBATIM_PREFIX 4

static const char RESP_ERR_REPLY_TYPE[] =
    "ERR Protocol error: unknown reply type";
static const char RESP_ERR_AGG_LEN[] =
    "ERR Protocol error: invalid aggregate length";
static const char RESP_ERR_AGG_MAX[] =
    "ERR Protocol error: too many elements in reply";
static const char RESP_ERR_AGG_LINE[] =
    "ERR Protocol error: too big aggregate count string";
static const char RESP_ERR_REPLY_DEPTH[] =
    "ERR Protocol error: reply nested too deeply";
static const char RESP_ERR_LINE_MAX[] =
    "ERR Protocol error: too big reply line";
static const char RESP_ERR_LINE_CRLF[] =
    "ERR Protocol error: bare CR or LF in reply line";
static const char RESP_ERR_INTEGER[] =
    "ERR Protocol error: invalid integer reply";
static const char RESP_ERR_DOUBLE[] = "ERR Protocol error: invalid double reply";
static const char RESP_ERR_BOOLEAN[] =
    "ERR Protocol error: invalid boolean reply";
static const char RESP_ERR_NULL[] = "ERR Protocol error: invalid null reply";
static const char RESP_ERR_BIGNUM[] =
    "ERR Protocol error: invalid big number reply";
static const char RESP_ERR_VERBATIM[] =
    "ERR Protocol error: invalid verbatim string reply";

static const respCountErrors respAggErrors = {
    RESP_ERR_AGG_LEN, RESP_ERR_AGG_MAX, RESP_ERR_AGG_LINE};

/* One item of a reply, as respReplyItem reads it. */
typedef struct respItem {
    size_t next;      /* offset just past the item's header or whole body */
    size_t children;  /* items that follow as part of it (0 for a scalar) */
    int aggregate;    /* an aggregate header, even an empty one */
} respItem;

static int respIsDigit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skips a run of digits from p[*at]; returns how many. */
static size_t respSkipDigits(const char *p, size_t n, size_t *at)
{
    size_t start = *at;

    while (*at < n && respIsDigit(p[*at])) {
        (*at)++;
    }
    return *at - start;
}

/* ":" [+-]digits, within int64_t. */
static int respLineIsInteger(const char *p, size_t n)
{
    uint64_t max = (uint64_t)INT64_MAX;
    uint64_t v = 0;
    size_t i = 0;

    if (n > 0 && (p[0] == '+' || p[0] == '-')) {
        if (p[0] == '-') {
            max = (uint64_t)INT64_MAX + 1;
        }
        i = 1;
    }
    if (i == n) {
        return 0;
    }
    for (; i < n; i++) {
        unsigned d;
        if (!respIsDigit(p[i])) {
            return 0;
        }
        d = (unsigned)(p[i] - '0');
        if (v > (max - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    return 1;
}

/* "(" [+-]digits, any number of them. */
static int respLineIsBignum(const char *p, size_t n)
{
    size_t i = 0;

    if (n > 0 && (p[0] == '+' || p[0] == '-')) {
        i = 1;
    }
    return respSkipDigits(p, n, &i) > 0 && i == n;
}

/* "," [+-] then inf, nan, or digits [. digits] [e|E [+-] digits]. */
static int respLineIsDouble(const char *p, size_t n)
{
    size_t i = 0;

    if (n > 0 && (p[0] == '+' || p[0] == '-')) {
        i = 1;
    }
    if (n - i == 3 &&
        (memcmp(p + i, "inf", 3) == 0 || memcmp(p + i, "nan", 3) == 0)) {
        return 1;
    }
    if (respSkipDigits(p, n, &i) == 0) {
        return 0;
    }
    if (i < n && p[i] == '.') {
        i++;
        if (respSkipDigits(p, n, &i) == 0) {
            return 0;
        }
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) {
            i++;
        }
        if (respSkipDigits(p, n, &i) == 0) {
            return 0;
        }
    }
    return i == n;
}

/* Checks the content p[0..n) of a complete line of the given type; returns
 * NULL when it is valid, else the error. */
static const char *respReplyLineError(char type, const char *p, size_t n)
{
    switch (type) {
    case ':':
        return respLineIsInteger(p, n) ? NULL : RESP_ERR_INTEGER;
    case '(':
        return respLineIsBignum(p, n) ? NULL : RESP_ERR_BIGNUM;
    case ',':
        return respLineIsDouble(p, n) ? NULL : RESP_ERR_DOUBLE;
    case '#':
        return n == 1 && (p[0] == 't' || p[0] == 'f') ? NULL
                                                      : RESP_ERR_BOOLEAN;
    case '_':
        return n == 0 ? NULL : RESP_ERR_NULL;
    default:
        /* '+' and '-': any bytes but CR and LF, already checked */
        return NULL;
    }
}

/* Reads a line-typed item (+ - : _ , # () at buf[pos]: its content runs to
 * the first CR, which must be followed by LF, and holds no LF and at most
 * line_max bytes. Looks at no more than line_max + 3 bytes. */
static int respReplyLine(size_t line_max, const char *buf, size_t len,
                         size_t pos, respItem *item, const char **errmsg)
{
    size_t start = pos + 1;
    size_t i;

    for (i = start; i < len; i++) {
        if (buf[i] == '\r') {
            if (i + 1 == len) {
                return RESP_PARSE_INCOMPLETE;
            }
            if (buf[i + 1] != '\n') {
                *errmsg = RESP_ERR_LINE_CRLF;
                return RESP_PARSE_ERROR;
            }
            *errmsg = respReplyLineError(buf[pos], buf + start, i - start);
            if (*errmsg != NULL) {
                return RESP_PARSE_ERROR;
            }
            item->next = i + 2;
            return RESP_PARSE_OK;
        }
        if (buf[i] == '\n') {
            *errmsg = RESP_ERR_LINE_CRLF;
            return RESP_PARSE_ERROR;
        }
        if (i - start == line_max) {
            /* content byte line_max + 1, and still no CR */
            *errmsg = RESP_ERR_LINE_MAX;
            return RESP_PARSE_ERROR;
        }
    }
    return RESP_PARSE_INCOMPLETE;
}

/* Reads a length-prefixed item ($ ! =) at buf[pos]: header, body, CRLF.
 * Only '$' may be the null "$-1". Each check runs as soon as its bytes are
 * in: the length as its digits arrive, the verbatim ':' and the CRLF. */
static int respReplyBlob(size_t bulk_max, const char *buf, size_t len,
                         size_t pos, respItem *item, const char **errmsg)
{
    char type = buf[pos];
    size_t at = pos + 1;
    uint64_t declared;
    int minus_one;
    size_t used;
    size_t n;
    size_t avail;
    int rv;

    rv = respParseCount(buf + at, len - at, bulk_max, type == '$',
                        &respBulkErrors, &declared, &minus_one, &used, errmsg);
    if (rv != RESP_PARSE_OK) {
        return rv;
    }
    at += used;
    if (minus_one) {
        item->next = at;
        return RESP_PARSE_OK;
    }
    /* declared <= bulk_max, a size_t: the cast is exact */
    n = (size_t)declared;
    avail = len - at;
    if (type == '=' && n < RESP_VERBATIM_PREFIX) {
        *errmsg = RESP_ERR_VERBATIM;
        return RESP_PARSE_ERROR;
    }
    if (type == '=' && avail >= RESP_VERBATIM_PREFIX &&
        buf[at + RESP_VERBATIM_PREFIX - 1] != ':') {
        *errmsg = RESP_ERR_VERBATIM;
        return RESP_PARSE_ERROR;
    }
    rv = respBulkBodyEnd(buf, len, at, n, errmsg);
    if (rv != RESP_PARSE_OK) {
        return rv;
    }
    item->next = at + n + 2;
    return RESP_PARSE_OK;
}

/* Reads an aggregate header (* ~ > % |) at buf[pos], when at most budget
 * more elements may follow in the reply. Sets item->children to the items
 * it holds: n, 2n for a map, 2n + 1 for an attribute (its pairs and the
 * reply it annotates); the count is refused as soon as its digits make
 * that more than budget. Only '*' may be the null "*-1". */
static int respReplyAggregate(size_t budget, const char *buf, size_t len,
                              size_t pos, respItem *item, const char **errmsg)
{
    char type = buf[pos];
    size_t at = pos + 1;
    uint64_t max = budget;
    uint64_t declared;
    int minus_one;
    size_t used;
    int rv;

    if (type == '%') {
        max = budget / 2;
    } else if (type == '|') {
        if (budget == 0) {
            /* not even room for the reply it annotates */
            *errmsg = RESP_ERR_AGG_MAX;
            return RESP_PARSE_ERROR;
        }
        max = (budget - 1) / 2;
    }
    rv = respParseCount(buf + at, len - at, max, type == '*', &respAggErrors,
                        &declared, &minus_one, &used, errmsg);
    if (rv != RESP_PARSE_OK) {
        return rv;
    }
    item->next = at + used;
    if (minus_one) {
        return RESP_PARSE_OK;
    }
    /* declared <= max: doubled, plus one, it is still <= budget */
    item->aggregate = 1;
    item->children = (size_t)declared;
    if (type == '%' || type == '|') {
        item->children *= 2;
    }
    if (type == '|') {
        item->children++;
    }
    assert(item->children <= budget);
    return RESP_PARSE_OK;
}

/* Reads one item at buf[pos] (pos < len): a whole scalar, or an aggregate
 * header. */
static int respReplyItem(const resp_limits *limits, size_t budget,
                         const char *buf, size_t len, size_t pos,
                         respItem *item, const char **errmsg)
{
    assert(pos < len);
    assert(item != NULL && errmsg != NULL);
    item->next = 0;
    item->children = 0;
    item->aggregate = 0;
    switch (buf[pos]) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
        return respReplyLine(limits->inline_max, buf, len, pos, item, errmsg);
    case '$':
    case '!':
    case '=':
        return respReplyBlob(limits->bulk_max, buf, len, pos, item, errmsg);
    case '*':
    case '~':
    case '>':
    case '%':
    case '|':
        return respReplyAggregate(budget, buf, len, pos, item, errmsg);
    default:
        *errmsg = RESP_ERR_REPLY_TYPE;
        return RESP_PARSE_ERROR;
    }
}

/* Reads items one after another, keeping for each open aggregate how many
 * of its items are still to come; the reply ends when the first item is
 * complete with nothing left open. Every byte is looked at a bounded number
 * of times, and each item is pushed and popped at most once. */
static int respReplyScan(const resp_limits *limits, size_t elems_max,
                         const char *buf, size_t len, size_t *consumed,
                         const char **errmsg)
{
    size_t remaining[RESP_REPLY_DEPTH_MAX];
    size_t depth = 0;
    size_t elems = 0; /* items after the first, as declared so far */
    size_t pos = 0;

    for (;;) {
        respItem item;
        int rv;

        if (pos == len) {
            return RESP_PARSE_INCOMPLETE;
        }
        rv = respReplyItem(limits, elems_max - elems, buf, len, pos, &item,
                           errmsg);
        if (rv != RESP_PARSE_OK) {
            return rv;
        }
        assert(item.next > pos && item.next <= len);
        if (item.aggregate && depth == RESP_REPLY_DEPTH_MAX) {
            *errmsg = RESP_ERR_REPLY_DEPTH;
            return RESP_PARSE_ERROR;
        }
        assert(item.children <= elems_max - elems);
        elems += item.children;
        pos = item.next;
        if (item.children > 0) {
            remaining[depth] = item.children;
            depth++;
            continue;
        }
        /* an item is complete: so is every aggregate it was the last of */
        while (depth > 0) {
            remaining[depth - 1]--;
            if (remaining[depth - 1] > 0) {
                break;
            }
            depth--;
        }
        if (depth == 0) {
            *consumed = pos;
            return RESP_PARSE_OK;
        }
    }
}

int resp_reply_scan(const resp_limits *limits, size_t reply_elems_max,
                    const char *buf, size_t len, size_t *consumed,
                    const char **errmsg)
{
    int rv;

    assert(limits != NULL && consumed != NULL && errmsg != NULL);
    assert(buf != NULL || len == 0);

    *consumed = 0;
    *errmsg = NULL;
    rv = respReplyScan(limits, reply_elems_max, buf, len, consumed, errmsg);
    if (rv != RESP_PARSE_OK) {
        *consumed = 0;
    }
    assert(rv != RESP_PARSE_ERROR || *errmsg != NULL);
    assert(rv == RESP_PARSE_ERROR || *errmsg == NULL);
    assert(rv != RESP_PARSE_OK || (*consumed > 0 && *consumed <= len));
    return rv;
}
