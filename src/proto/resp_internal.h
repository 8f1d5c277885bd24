/* resp_internal — what the files of src/proto share and nobody else may
 * use: the reader of a "*N" / "$L" count line, the end of a bulk body, and
 * the inline-line parser that resp_parse hands lines to.
 *
 * Invariants: the same as resp.h's, for every function here: each reads
 * only buf[0..len), never writes into it, never allocates, and checks every
 * count against its limit before any arithmetic. Not a public contract:
 * outside src/proto, include resp.h. */
#ifndef SEQD_RESP_INTERNAL_H
#define SEQD_RESP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "resp.h"

/* Longest "*N" or "$L" header line, prefix included, CRLF excluded. Any
 * valid count fits in 21 bytes; a longer line without CR is an error. */
#define RESP_HEADER_MAX 32

/* The three ways a "*N" or "$L" header can be wrong, per header kind. */
typedef struct respCountErrors {
    const char *invalid; /* junk, sign, leading zero, overflow, no LF */
    const char *too_big; /* value above the limit */
    const char *too_long; /* no CR within RESP_HEADER_MAX bytes */
} respCountErrors;

/* The errors of a request's "$L" header, also used for a reply's $ ! =. */
extern const respCountErrors respBulkErrors;

/* Reads the count after a '*' or '$': p[0..n) starts just past the prefix.
 * Accepts only "0" or [1-9][0-9]* (and "-1" when allow_minus_one), then CRLF.
 * Returns RESP_PARSE_OK with *value, *minus_one and *used (digits + CRLF);
 * RESP_PARSE_INCOMPLETE when the bytes so far could still become a valid
 * count no larger than max; RESP_PARSE_ERROR with *errmsg (one of errs)
 * otherwise. Checks every digit as it arrives, so "*99999" with no CRLF yet
 * is already an error when it exceeds max. */
int respParseCount(const char *p, size_t n, uint64_t max, int allow_minus_one,
                   const respCountErrors *errs, uint64_t *value,
                   int *minus_one, size_t *used, const char **errmsg);

/* Whether the n-byte body of a bulk at buf[at..len) is all in, followed by
 * CRLF. The CRLF is checked as soon as each of its bytes is in. Returns
 * RESP_PARSE_OK (the bulk ends at at + n + 2), RESP_PARSE_INCOMPLETE, or
 * RESP_PARSE_ERROR with *errmsg. Requires at <= len. */
int respBulkBodyEnd(const char *buf, size_t len, size_t at, size_t n,
                    const char **errmsg);

/* Parses one inline line; buf[0] is not '*'. Same contract as
 * resp_parse_scratch (resp_inline.c). */
int respParseInline(const resp_limits *limits, const char *buf, size_t len,
                    resp_request *req, char *scratch, size_t scratch_cap,
                    size_t *consumed, const char **errmsg);

#endif
