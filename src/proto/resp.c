/* resp — parses Redis requests (RESP multibulk and inline lines), measures
 * RESP2/RESP3 replies (for relaying them verbatim) and writes them, over
 * caller-owned buffers.
 *
 * Invariants: the parser and the reply scanner are stateless and read only
 * buf[0..len); they never write into buf, never allocate, never recurse, and
 * check every count and length against its limit before using it in any
 * arithmetic, in unsigned types only. A request or reply split across reads
 * is scanned again from its first byte, so INCOMPLETE consumes nothing;
 * anything that can already be seen to be wrong (junk, overflow, a limit
 * broken) is an error at once, so the caller's buffer stays bounded. The
 * writer keeps len <= alloc <= cap and appends each element whole or not at
 * all. No I/O here. */

#include "resp.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Longest "*N" or "$L" header line, prefix included, CRLF excluded. Any
 * valid count fits in 21 bytes; a longer line without CR is an error. */
#define RESP_HEADER_MAX 32

/* First allocation of a resp_buf; it then doubles up to its cap. */
#define RESP_BUF_ALLOC_MIN 64

/* Room for a reply header: prefix, '-', 20 digits of a uint64, CRLF. */
#define RESP_HEADER_BUF 32

static const char RESP_ERR_MBULK_LEN[] =
    "ERR Protocol error: invalid multibulk length";
static const char RESP_ERR_MBULK_MAX[] =
    "ERR Protocol error: too many arguments in request";
static const char RESP_ERR_MBULK_LINE[] =
    "ERR Protocol error: too big mbulk count string";
static const char RESP_ERR_BULK_LEN[] =
    "ERR Protocol error: invalid bulk length";
static const char RESP_ERR_BULK_MAX[] = "ERR Protocol error: bulk too big";
static const char RESP_ERR_BULK_LINE[] =
    "ERR Protocol error: too big bulk count string";
static const char RESP_ERR_DOLLAR[] = "ERR Protocol error: expected '$'";
static const char RESP_ERR_BULK_CRLF[] =
    "ERR Protocol error: bulk not followed by CRLF";
static const char RESP_ERR_INLINE_MAX[] =
    "ERR Protocol error: too big inline request";
static const char RESP_ERR_QUOTES[] =
    "ERR Protocol error: unbalanced quotes in request";
static const char RESP_ERR_INLINE_ARGS[] =
    "ERR Protocol error: too many arguments in inline request";
static const char RESP_ERR_ESCAPES[] =
    "ERR Protocol error: escaped inline arguments are not supported";

/* The three ways a "*N" or "$L" header can be wrong, per header kind. */
typedef struct respCountErrors {
    const char *invalid; /* junk, sign, leading zero, overflow, no LF */
    const char *too_big; /* value above the limit */
    const char *too_long; /* no CR within RESP_HEADER_MAX bytes */
} respCountErrors;

static const respCountErrors respMbulkErrors = {
    RESP_ERR_MBULK_LEN, RESP_ERR_MBULK_MAX, RESP_ERR_MBULK_LINE};
static const respCountErrors respBulkErrors = {
    RESP_ERR_BULK_LEN, RESP_ERR_BULK_MAX, RESP_ERR_BULK_LINE};

/* ---------------------------------------------------------------- parser */

/* Reads the count after a '*' or '$': p[0..n) starts just past the prefix.
 * Accepts only "0" or [1-9][0-9]* (and "-1" when allow_minus_one), then CRLF.
 * Returns RESP_PARSE_OK with *value, *minus_one and *used (digits + CRLF);
 * RESP_PARSE_INCOMPLETE when the bytes so far could still become a valid
 * count no larger than max; RESP_PARSE_ERROR with *errmsg otherwise. Checks
 * every digit as it arrives, so "*99999" with no CRLF yet is already an
 * error when it exceeds max. */
static int respParseCount(const char *p, size_t n, uint64_t max,
                          int allow_minus_one, const respCountErrors *errs,
                          uint64_t *value, int *minus_one, size_t *used,
                          const char **errmsg)
{
    size_t scan = n < RESP_HEADER_MAX ? n : RESP_HEADER_MAX;
    const char *cr = memchr(p, '\r', scan);
    size_t end;
    size_t first = 0;
    size_t i;
    uint64_t v = 0;

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
    for (i = first; i < end; i++) {
        unsigned d;
        if (p[i] < '0' || p[i] > '9') {
            *errmsg = errs->invalid;
            return RESP_PARSE_ERROR;
        }
        if (i > first && p[first] == '0') {
            /* a leading zero: "01", "-01" */
            *errmsg = errs->invalid;
            return RESP_PARSE_ERROR;
        }
        d = (unsigned)(p[i] - '0');
        if (*minus_one) {
            /* only "-1" */
            if (i > first || d != 1) {
                *errmsg = errs->invalid;
                return RESP_PARSE_ERROR;
            }
            continue;
        }
        if (v > (UINT64_MAX - d) / 10) {
            *errmsg = errs->invalid;
            return RESP_PARSE_ERROR;
        }
        v = v * 10 + d;
        if (v > max) {
            *errmsg = errs->too_big;
            return RESP_PARSE_ERROR;
        }
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
    *value = v;
    *used = end + 2;
    return RESP_PARSE_OK;
}

/* Parses a multibulk request; buf[0] is '*'. Same contract as resp_parse. */
static int respParseMultibulk(const resp_limits *limits, const char *buf,
                              size_t len, resp_request *req, size_t *consumed,
                              const char **errmsg)
{
    uint64_t count;
    uint64_t k;
    int minus_one;
    size_t used;
    size_t pos = 1;
    int rv;

    assert(len > 0 && buf[0] == '*');
    rv = respParseCount(buf + pos, len - pos, limits->args_max, 1,
                        &respMbulkErrors, &count, &minus_one, &used, errmsg);
    if (rv != RESP_PARSE_OK) {
        return rv;
    }
    pos += used;

    for (k = 0; !minus_one && k < count; k++) {
        uint64_t bulk_len;
        int bulk_minus_one;
        size_t avail;
        size_t n;

        if (pos == len) {
            return RESP_PARSE_INCOMPLETE;
        }
        if (buf[pos] != '$') {
            *errmsg = RESP_ERR_DOLLAR;
            return RESP_PARSE_ERROR;
        }
        pos++;
        rv = respParseCount(buf + pos, len - pos, limits->bulk_max, 0,
                            &respBulkErrors, &bulk_len, &bulk_minus_one, &used,
                            errmsg);
        if (rv != RESP_PARSE_OK) {
            return rv;
        }
        pos += used;

        /* bulk_len <= bulk_max, a size_t: the cast is exact */
        n = (size_t)bulk_len;
        avail = len - pos;
        /* the CRLF after the body is checked as soon as each byte is in */
        if (avail > n && buf[pos + n] != '\r') {
            *errmsg = RESP_ERR_BULK_CRLF;
            return RESP_PARSE_ERROR;
        }
        if (avail > n && avail - n > 1 && buf[pos + n + 1] != '\n') {
            *errmsg = RESP_ERR_BULK_CRLF;
            return RESP_PARSE_ERROR;
        }
        if (avail < n || avail - n < 2) {
            return RESP_PARSE_INCOMPLETE;
        }
        /* k < count <= args_max, the capacity of argv */
        req->argv[k].ptr = buf + pos;
        req->argv[k].len = n;
        pos += n + 2;
    }

    req->argc = minus_one ? 0 : (size_t)count;
    *consumed = pos;
    return RESP_PARSE_OK;
}

static int respIsBlank(char c)
{
    return c == ' ' || c == '\t';
}

static int respHexValue(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Where one decoded inline argument goes: when out is NULL it only counts
 * bytes and tracks whether they form one contiguous run of the line (then
 * the argument can point into buf); otherwise it writes them to out. */
typedef struct respToken {
    char *out;
    size_t len;   /* decoded bytes so far */
    size_t start; /* line offset of the first byte, when plain */
    int plain;    /* every byte so far is line[start + i] */
} respToken;

/* Adds line[at], taken as it is, to the token. */
static void respTokenRaw(respToken *t, const char *line, size_t at)
{
    if (t->out != NULL) {
        t->out[t->len] = line[at];
    } else if (t->len == 0) {
        t->start = at;
    } else if (t->plain && t->start + t->len != at) {
        t->plain = 0;
    }
    t->len++;
}

/* Adds c, decoded from an escape, to the token. */
static void respTokenDecoded(respToken *t, char c)
{
    if (t->out != NULL) {
        t->out[t->len] = c;
    }
    t->plain = 0;
    t->len++;
}

/* Scans the inline argument at line[*at] (not blank) up to the blank or end
 * of line after it, as Redis's sdssplitargs does: unquoted bytes are taken
 * as they are; "..." takes \" \\ \n \r \t \b \a \xHH escapes (any other
 * escaped byte stands for itself); '...' takes \' only; a closing quote must
 * be followed by a blank or the end of the line. Fills t and moves *at past
 * the argument. Returns 0, or -1 on unbalanced quotes. */
static int respInlineToken(const char *line, size_t n, size_t *at,
                           respToken *t)
{
    size_t p = *at;
    int in_double = 0;
    int in_single = 0;

    for (;;) {
        if (in_double) {
            if (p == n) {
                return -1;
            }
            if (line[p] == '\\' && n - p >= 4 && line[p + 1] == 'x' &&
                respHexValue(line[p + 2]) >= 0 &&
                respHexValue(line[p + 3]) >= 0) {
                int hi = respHexValue(line[p + 2]);
                int lo = respHexValue(line[p + 3]);
                respTokenDecoded(t, (char)(unsigned char)(hi * 16 + lo));
                p += 4;
            } else if (line[p] == '\\' && n - p >= 2) {
                char c = line[p + 1];
                switch (c) {
                case 'n':
                    c = '\n';
                    break;
                case 'r':
                    c = '\r';
                    break;
                case 't':
                    c = '\t';
                    break;
                case 'b':
                    c = '\b';
                    break;
                case 'a':
                    c = '\a';
                    break;
                default:
                    break;
                }
                respTokenDecoded(t, c);
                p += 2;
            } else if (line[p] == '"') {
                if (n - p >= 2 && !respIsBlank(line[p + 1])) {
                    return -1;
                }
                p++;
                break;
            } else {
                respTokenRaw(t, line, p);
                p++;
            }
        } else if (in_single) {
            if (p == n) {
                return -1;
            }
            if (line[p] == '\\' && n - p >= 2 && line[p + 1] == '\'') {
                respTokenDecoded(t, '\'');
                p += 2;
            } else if (line[p] == '\'') {
                if (n - p >= 2 && !respIsBlank(line[p + 1])) {
                    return -1;
                }
                p++;
                break;
            } else {
                respTokenRaw(t, line, p);
                p++;
            }
        } else {
            if (p == n || respIsBlank(line[p])) {
                break;
            }
            if (line[p] == '"') {
                in_double = 1;
            } else if (line[p] == '\'') {
                in_single = 1;
            } else {
                respTokenRaw(t, line, p);
            }
            p++;
        }
    }
    *at = p;
    return 0;
}

/* Splits one complete inline line, line[0..n) without its terminator, into
 * req->argv. Arguments that are a plain run of the line point into it;
 * others are decoded into scratch. Returns RESP_PARSE_OK or
 * RESP_PARSE_ERROR with *errmsg. */
static int respSplitInline(const resp_limits *limits, const char *line,
                           size_t n, resp_request *req, char *scratch,
                           size_t scratch_cap, const char **errmsg)
{
    size_t at = 0;
    size_t argc = 0;
    size_t scratch_used = 0;

    for (;;) {
        respToken t = {NULL, 0, 0, 1};
        size_t token_at;

        while (at < n && respIsBlank(line[at])) {
            at++;
        }
        if (at == n) {
            break;
        }
        if (argc == limits->args_max) {
            *errmsg = RESP_ERR_INLINE_ARGS;
            return RESP_PARSE_ERROR;
        }
        token_at = at;
        if (respInlineToken(line, n, &at, &t) != 0) {
            *errmsg = RESP_ERR_QUOTES;
            return RESP_PARSE_ERROR;
        }
        if (t.plain) {
            /* an empty token ("" or '') points at its own quote */
            req->argv[argc].ptr = line + (t.len > 0 ? t.start : token_at);
            req->argv[argc].len = t.len;
            argc++;
            continue;
        }
        if (scratch == NULL) {
            *errmsg = RESP_ERR_ESCAPES;
            return RESP_PARSE_ERROR;
        }
        if (t.len > scratch_cap - scratch_used) {
            *errmsg = RESP_ERR_INLINE_MAX;
            return RESP_PARSE_ERROR;
        }
        /* second pass, now writing: the same bytes, the same length */
        t.out = scratch + scratch_used;
        t.len = 0;
        at = token_at;
        if (respInlineToken(line, n, &at, &t) != 0) {
            assert(0 && "second pass disagrees with the first");
            *errmsg = RESP_ERR_QUOTES;
            return RESP_PARSE_ERROR;
        }
        req->argv[argc].ptr = t.out;
        req->argv[argc].len = t.len;
        argc++;
        scratch_used += t.len;
    }
    req->argc = argc;
    return RESP_PARSE_OK;
}

/* Parses one inline line; buf[0] is not '*'. Same contract as resp_parse. */
static int respParseInline(const resp_limits *limits, const char *buf,
                           size_t len, resp_request *req, char *scratch,
                           size_t scratch_cap, size_t *consumed,
                           const char **errmsg)
{
    size_t max = limits->inline_max;
    size_t scan = len;
    const char *lf;
    size_t line_len;
    int rv;

    /* a valid line is at most max bytes, then "\r\n": look no further */
    if (max <= SIZE_MAX - 2 && scan > max + 2) {
        scan = max + 2;
    }
    lf = memchr(buf, '\n', scan);
    if (lf == NULL) {
        /* still fine only while the bytes so far fit, a final CR aside */
        int fits = len <= max || (len - max == 1 && buf[len - 1] == '\r');
        if (!fits) {
            *errmsg = RESP_ERR_INLINE_MAX;
            return RESP_PARSE_ERROR;
        }
        return RESP_PARSE_INCOMPLETE;
    }
    line_len = (size_t)(lf - buf);
    if (line_len > 0 && buf[line_len - 1] == '\r') {
        line_len--;
    }
    if (line_len > max) {
        *errmsg = RESP_ERR_INLINE_MAX;
        return RESP_PARSE_ERROR;
    }
    rv = respSplitInline(limits, buf, line_len, req, scratch, scratch_cap,
                         errmsg);
    if (rv != RESP_PARSE_OK) {
        return rv;
    }
    *consumed = (size_t)(lf - buf) + 1;
    return RESP_PARSE_OK;
}

int resp_parse_scratch(const resp_limits *limits, const char *buf, size_t len,
                       resp_request *req, char *scratch, size_t scratch_cap,
                       size_t *consumed, const char **errmsg)
{
    int rv;

    assert(limits != NULL && req != NULL && consumed != NULL &&
           errmsg != NULL);
    assert(buf != NULL || len == 0);
    assert(req->argv != NULL || limits->args_max == 0);
    assert(scratch != NULL || scratch_cap == 0);

    *consumed = 0;
    *errmsg = NULL;
    req->argc = 0;
    if (len == 0) {
        return RESP_PARSE_INCOMPLETE;
    }
    if (buf[0] == '*') {
        rv = respParseMultibulk(limits, buf, len, req, consumed, errmsg);
    } else {
        rv = respParseInline(limits, buf, len, req, scratch, scratch_cap,
                             consumed, errmsg);
    }
    if (rv != RESP_PARSE_OK) {
        req->argc = 0;
        *consumed = 0;
    }
    assert(rv != RESP_PARSE_ERROR || *errmsg != NULL);
    assert(rv != RESP_PARSE_OK || (*consumed > 0 && *consumed <= len));
    assert(req->argc <= limits->args_max);
    return rv;
}

int resp_parse(const resp_limits *limits, const char *buf, size_t len,
               resp_request *req, size_t *consumed, const char **errmsg)
{
    return resp_parse_scratch(limits, buf, len, req, NULL, 0, consumed,
                              errmsg);
}

/* --------------------------------------------------------- reply scanner */

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

/* ---------------------------------------------------------------- writer */

void resp_buf_init(resp_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void resp_buf_free(resp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

/* Makes room for n more bytes, doubling the allocation but never past cap.
 * Returns 0, or -1 with b unchanged (over cap, or out of memory). */
static int respBufReserve(resp_buf *b, size_t n)
{
    size_t need;
    size_t alloc;
    char *data;

    assert(b->len <= b->alloc && b->alloc <= b->cap);
    if (n > b->cap - b->len) {
        return -1;
    }
    need = b->len + n;
    if (need <= b->alloc) {
        return 0;
    }
    alloc = b->alloc > 0 ? b->alloc : RESP_BUF_ALLOC_MIN;
    while (alloc < need && alloc <= b->cap / 2) {
        alloc *= 2;
    }
    if (alloc < need || alloc > b->cap) {
        alloc = b->cap;
    }
    data = realloc(b->data, alloc);
    if (data == NULL) {
        return -1;
    }
    b->data = data;
    b->alloc = alloc;
    return 0;
}

/* Copies n bytes in; the room was reserved. */
static void respBufPut(resp_buf *b, const char *p, size_t n)
{
    if (n == 0) {
        return;
    }
    assert(n <= b->alloc - b->len);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Appends head, body, tail as one element, or nothing. */
static int respBufAppend3(resp_buf *b, const char *head, size_t head_len,
                          const char *body, size_t body_len, const char *tail,
                          size_t tail_len)
{
    size_t total = head_len;

    if (body_len > SIZE_MAX - total) {
        return -1;
    }
    total += body_len;
    if (tail_len > SIZE_MAX - total) {
        return -1;
    }
    total += tail_len;
    if (respBufReserve(b, total) != 0) {
        return -1;
    }
    respBufPut(b, head, head_len);
    respBufPut(b, body, body_len);
    respBufPut(b, tail, tail_len);
    return 0;
}

/* Formats "<prefix>[-]<v>\r\n" into out[RESP_HEADER_BUF]; returns its
 * length. */
static size_t respFormatHeader(char *out, char prefix, int negative,
                               uint64_t v)
{
    char digits[24];
    size_t nd = 0;
    size_t n = 0;

    do {
        digits[nd++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v > 0);
    out[n++] = prefix;
    if (negative) {
        out[n++] = '-';
    }
    while (nd > 0) {
        out[n++] = digits[--nd];
    }
    out[n++] = '\r';
    out[n++] = '\n';
    assert(n <= RESP_HEADER_BUF);
    return n;
}

static int respWriteHeader(resp_buf *b, char prefix, int negative, uint64_t v)
{
    char head[RESP_HEADER_BUF];
    size_t n = respFormatHeader(head, prefix, negative, v);

    return respBufAppend3(b, head, n, NULL, 0, NULL, 0);
}

/* "+s" or "-s": a CR or LF inside s would end the line early and let the
 * rest be read as another reply, so each becomes a space, as Redis does for
 * error replies. */
static int respWriteLine(resp_buf *b, char prefix, const char *s)
{
    size_t n = strlen(s);
    size_t at = b->len + 1;
    size_t i;

    if (respBufAppend3(b, &prefix, 1, s, n, "\r\n", 2) != 0) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (b->data[at + i] == '\r' || b->data[at + i] == '\n') {
            b->data[at + i] = ' ';
        }
    }
    return 0;
}

int resp_write_simple(resp_buf *b, const char *s)
{
    return respWriteLine(b, '+', s);
}

int resp_write_error(resp_buf *b, const char *s)
{
    return respWriteLine(b, '-', s);
}

int resp_write_int(resp_buf *b, int64_t v)
{
    /* -v overflows for INT64_MIN; -(v + 1) never does, and fits a uint64
     * with room for the + 1 */
    uint64_t magnitude = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;

    return respWriteHeader(b, ':', v < 0, magnitude);
}

int resp_write_bulk(resp_buf *b, const char *p, size_t n)
{
    char head[RESP_HEADER_BUF];
    size_t head_len = respFormatHeader(head, '$', 0, (uint64_t)n);

    assert(p != NULL || n == 0);
    return respBufAppend3(b, head, head_len, p, n, "\r\n", 2);
}

int resp_write_cstr(resp_buf *b, const char *s)
{
    return resp_write_bulk(b, s, strlen(s));
}

int resp_write_null(resp_buf *b, int proto)
{
    assert(proto == 2 || proto == 3);
    if (proto == 3) {
        return respBufAppend3(b, "_\r\n", 3, NULL, 0, NULL, 0);
    }
    return respBufAppend3(b, "$-1\r\n", 5, NULL, 0, NULL, 0);
}

int resp_write_array(resp_buf *b, size_t n)
{
    return respWriteHeader(b, '*', 0, (uint64_t)n);
}

int resp_write_map(resp_buf *b, size_t pairs, int proto)
{
    assert(proto == 2 || proto == 3);
    if (proto == 3) {
        return respWriteHeader(b, '%', 0, (uint64_t)pairs);
    }
    /* RESP2 has no map: a flat array of key, value, key, value... */
    if (pairs > SIZE_MAX / 2) {
        return -1;
    }
    return respWriteHeader(b, '*', 0, (uint64_t)pairs * 2);
}

int resp_write_raw(resp_buf *b, const char *p, size_t n)
{
    assert(p != NULL || n == 0);
    return respBufAppend3(b, p, n, NULL, 0, NULL, 0);
}
