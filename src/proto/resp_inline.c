/* resp_inline — an inline request: one line split on spaces and tabs,
 * with "double" (backslash escapes) and 'single' quotes, as redis-cli and
 * Redis's sdssplitargs accept them.
 *
 * Invariants: reads only the line, never writes into it and never
 * allocates: an argument that is a plain run of the line points into it,
 * any other is decoded into the caller's scratch, and only after a first
 * pass has measured it and found room (a decoded argument is never longer
 * than its raw bytes); a line is at most inline_max bytes and holds at most
 * args_max arguments, checked before either is stored. No I/O here. */
#include "resp_internal.h"

#include <assert.h>
#include <string.h>

static const char RESP_ERR_INLINE_MAX[] =
    "ERR Protocol error: too big inline request";
static const char RESP_ERR_QUOTES[] =
    "ERR Protocol error: unbalanced quotes in request";
static const char RESP_ERR_INLINE_ARGS[] =
    "ERR Protocol error: too many arguments in inline request";
static const char RESP_ERR_ESCAPES[] =
    "ERR Protocol error: escaped inline arguments are not supported";

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

/* What one step of respInlineToken found. */
enum {
    RESP_TOKEN_MORE = 0,        /* the argument goes on */
    RESP_TOKEN_END = 1,         /* the argument ends here */
    RESP_TOKEN_UNBALANCED = -1, /* a quote left open, or one closed too early */
};

/* The byte an escape "\c" inside double quotes stands for: \n \r \t \b \a
 * their control bytes, any other c itself. */
static char respEscaped(char c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'b':
        return '\b';
    case 'a':
        return '\a';
    default:
        return c;
    }
}

/* A byte inside quotes that is no escape: the closing quote (which must
 * be followed by a blank or the end of the line) or a byte as it is. */
static int respQuotedByte(const char *line, size_t n, size_t *at, respToken *t,
                          char quote)
{
    size_t p = *at;

    assert(p < n);
    if (line[p] == quote) {
        if (n - p >= 2 && !respIsBlank(line[p + 1])) {
            return RESP_TOKEN_UNBALANCED;
        }
        *at = p + 1;
        return RESP_TOKEN_END;
    }
    respTokenRaw(t, line, p);
    *at = p + 1;
    return RESP_TOKEN_MORE;
}

/* One step inside "...": a \xHH or \c escape, the closing quote (which
 * must be followed by a blank or the end of the line), or a byte as it is.
 * Moves *at past what it took. */
static int respDoubleQuotedStep(const char *line, size_t n, size_t *at,
                                respToken *t)
{
    size_t p = *at;

    if (p == n) {
        return RESP_TOKEN_UNBALANCED;
    }
    if (line[p] == '\\' && n - p >= 4 && line[p + 1] == 'x' &&
        respHexValue(line[p + 2]) >= 0 && respHexValue(line[p + 3]) >= 0) {
        int hi = respHexValue(line[p + 2]);
        int lo = respHexValue(line[p + 3]);
        respTokenDecoded(t, (char)(unsigned char)(hi * 16 + lo));
        *at = p + 4;
        return RESP_TOKEN_MORE;
    }
    if (line[p] == '\\' && n - p >= 2) {
        respTokenDecoded(t, respEscaped(line[p + 1]));
        *at = p + 2;
        return RESP_TOKEN_MORE;
    }
    return respQuotedByte(line, n, at, t, '"');
}

/* One step inside '...': the escape \' only, the closing quote (followed
 * by a blank or the end of the line), or a byte as it is. */
static int respSingleQuotedStep(const char *line, size_t n, size_t *at,
                                respToken *t)
{
    size_t p = *at;

    if (p == n) {
        return RESP_TOKEN_UNBALANCED;
    }
    if (line[p] == '\\' && n - p >= 2 && line[p + 1] == '\'') {
        respTokenDecoded(t, '\'');
        *at = p + 2;
        return RESP_TOKEN_MORE;
    }
    return respQuotedByte(line, n, at, t, '\'');
}

/* One step outside quotes: the end of the argument (a blank or the end of
 * the line, not taken), an opening quote (*quote becomes it), or a byte as
 * it is. */
static int respUnquotedStep(const char *line, size_t n, size_t *at,
                            respToken *t, char *quote)
{
    size_t p = *at;

    if (p == n || respIsBlank(line[p])) {
        return RESP_TOKEN_END;
    }
    if (line[p] == '"' || line[p] == '\'') {
        *quote = line[p];
    } else {
        respTokenRaw(t, line, p);
    }
    *at = p + 1;
    return RESP_TOKEN_MORE;
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
    char quote = 0; /* the open quote, if any */

    assert(p < n && !respIsBlank(line[p]));
    for (;;) {
        int step;
        if (quote == '"') {
            step = respDoubleQuotedStep(line, n, &p, t);
        } else if (quote == '\'') {
            step = respSingleQuotedStep(line, n, &p, t);
        } else {
            step = respUnquotedStep(line, n, &p, t, &quote);
        }
        if (step == RESP_TOKEN_UNBALANCED) {
            return -1;
        }
        if (step == RESP_TOKEN_END) {
            break;
        }
    }
    assert(p <= n);
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

int respParseInline(const resp_limits *limits, const char *buf, size_t len,
                    resp_request *req, char *scratch, size_t scratch_cap,
                    size_t *consumed, const char **errmsg)
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
