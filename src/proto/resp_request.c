/* resp_request — resp_parse: one Redis request from a client's bytes. A
 * multibulk ("*N\r\n$L\r\n...") is parsed here; any other line goes to
 * the inline parser (resp_inline.c).
 *
 * Invariants: stateless; reads only buf[0..len), never writes into it,
 * never allocates, never recurses; the argument count is checked against
 * args_max (the capacity of argv) and each length against bulk_max before
 * either is used, so a request split across reads is parsed again from its
 * first byte and INCOMPLETE consumes nothing. No I/O here. */
#include "resp_internal.h"

#include <assert.h>

static const char RESP_ERR_MBULK_LEN[] =
    "ERR Protocol error: invalid multibulk length";
static const char RESP_ERR_MBULK_MAX[] =
    "ERR Protocol error: too many arguments in request";
static const char RESP_ERR_MBULK_LINE[] =
    "ERR Protocol error: too big mbulk count string";
static const char RESP_ERR_DOLLAR[] = "ERR Protocol error: expected '$'";

static const respCountErrors respMbulkErrors = {
    RESP_ERR_MBULK_LEN, RESP_ERR_MBULK_MAX, RESP_ERR_MBULK_LINE};

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
        rv = respBulkBodyEnd(buf, len, pos, n, errmsg);
        if (rv != RESP_PARSE_OK) {
            return rv;
        }
        /* k < count <= args_max, the capacity of argv */
        req->argv[k].ptr = buf + pos;
        req->argv[k].len = n;
        pos += n + 2;
    }

    req->argc = minus_one ? 0 : (size_t)count;
    *consumed = pos;
    assert(req->argc <= limits->args_max && pos <= len);
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
