/* resp — the Redis protocol (RESP2, RESP3 replies, inline commands) over
 * caller-owned buffers.
 *
 * Invariants: every length read from the network is checked against a named
 * limit before it is used; the parser never reads past `len`, never writes
 * into the input, never allocates; the writer never grows a buffer past its
 * cap. This file is a leaf: no I/O, no libuv, nothing of the project but
 * its own header. */
#ifndef SEQD_RESP_H
#define SEQD_RESP_H

#include <stddef.h>
#include <stdint.h>

/* Defaults for resp_limits; the server may lower or raise them by flag. */
#define RESP_ARGS_MAX_DEFAULT 1024           /* arguments in one request */
#define RESP_BULK_MAX_DEFAULT (512u * 1024u) /* bytes in one argument */
#define RESP_INLINE_MAX_DEFAULT (64u * 1024u) /* bytes in one inline line */

typedef struct resp_limits {
    size_t args_max;   /* also the capacity of resp_request.argv */
    size_t bulk_max;
    size_t inline_max;
} resp_limits;

/* One argument: points into the caller's input buffer, not NUL-terminated. */
typedef struct resp_arg {
    const char *ptr;
    size_t len;
} resp_arg;

typedef struct resp_request {
    resp_arg *argv; /* caller-owned array of limits->args_max entries */
    size_t argc;
} resp_request;

enum resp_parse_status {
    RESP_PARSE_OK = 0,          /* a whole request is in req; *consumed bytes used */
    RESP_PARSE_INCOMPLETE = 1,  /* more bytes needed; nothing consumed */
    RESP_PARSE_ERROR = -1,      /* protocol error; *errmsg says which; the
                                 * caller replies with it and closes */
};

/* Parses one request from buf[0..len): a RESP multibulk ("*N\r\n$L\r\n...")
 * or, when buf does not start with '*', one inline line split on spaces and
 * tabs, with "double" (backslash escapes \" \\ \n \r \t \xHH) and 'single'
 * quotes as redis-cli and Redis accept them.
 *
 * On RESP_PARSE_OK: req->argv[0..argc) point into buf, which the caller must
 * keep unchanged while it uses them; *consumed is the request's length.
 * An empty inline line (just "\r\n" or "\n") or "*0\r\n" is consumed and
 * gives argc == 0: the caller skips it.
 * On RESP_PARSE_INCOMPLETE: *consumed is 0. A request whose declared or
 * buffered size already breaks a limit is an error at once, not incomplete,
 * so a caller never has to buffer more than about bulk_max * args_max bytes
 * (and never more than inline_max bytes of an unterminated inline line).
 * On RESP_PARSE_ERROR: *errmsg is a static string starting with "ERR
 * Protocol error: ", suitable for an error reply (without the leading '-').
 *
 * Errors: a multibulk count or bulk length that is negative (other than
 * "*-1", which is an empty request), not a decimal number, has leading '+'
 * or junk, overflows, or exceeds args_max / bulk_max; a '$' missing where a
 * bulk is expected; a bulk not followed by "\r\n"; an inline line longer
 * than inline_max; unbalanced quotes; more than args_max inline arguments. */
int resp_parse(const resp_limits *limits, const char *buf, size_t len,
               resp_request *req, size_t *consumed, const char **errmsg);

/* resp_parse, plus room for inline arguments that are not a plain run of buf
 * bytes: a quoted argument with escapes (\n, \xHH, ...) or one glued from
 * several pieces (a"b c"). The parser must neither write into buf nor
 * allocate, so it decodes those into the caller-owned scratch[0..scratch_cap)
 * and points their argv entries there; the caller keeps scratch unchanged
 * while it uses them, like buf. A scratch_cap of limits->inline_max always
 * suffices (a decoded line is never longer than its raw line); with less, a
 * line whose decoded arguments do not fit is an error. resp_parse is this
 * function with scratch NULL and scratch_cap 0: it refuses such arguments
 * with a protocol error and accepts everything else. */
int resp_parse_scratch(const resp_limits *limits, const char *buf, size_t len,
                       resp_request *req, char *scratch, size_t scratch_cap,
                       size_t *consumed, const char **errmsg);

/* Deepest nesting resp_reply_scan accepts: an aggregate inside 16 others
 * (the 17th level) is an error, so the scanner's stack is a fixed array. */
#define RESP_REPLY_DEPTH_MAX 16
/* A default for resp_reply_scan's reply_elems_max: room for a LIST-style
 * reply of a million elements, and no more. */
#define RESP_REPLY_ELEMS_MAX_DEFAULT (1024u * 1024u)

/* Measures the one complete reply (RESP2 or RESP3) at the start of
 * buf[0..len), so a follower can relay its leader's replies verbatim. It
 * reads only buf[0..len), never writes into it, never allocates, does not
 * recurse, and is linear in the bytes it looks at.
 *
 * Types: RESP2 + - : $ * (with the nulls "$-1" and "*-1") and RESP3
 * _ , # ( ! = % ~ > |. A map "%n" holds 2n elements; an attribute "|n" holds
 * 2n elements and is followed by the reply it annotates, which belongs to
 * the same measured unit (so does an attribute on a nested element); a
 * push ">" is read like an array.
 *
 * Limits, each checked before the length is used and as soon as its digits
 * arrive, so an over-limit reply is an error before its body is sent:
 *   limits->bulk_max   bytes in one $ ! = body (a verbatim "=" needs >= 4:
 *                      "txt:" and so on);
 *   limits->inline_max bytes in one + - : _ , # ( line, CRLF excluded (the
 *                      same bound as an inline request line);
 *   reply_elems_max    elements in the whole reply, nested ones included:
 *                      every item after the first counts once, so "*n" and
 *                      "~n" and ">n" add n, "%n" adds 2n, "|n" adds 2n + 1
 *                      (its pairs and the reply it annotates);
 *   RESP_REPLY_DEPTH_MAX aggregates open at once.
 * limits->args_max is not used: a reply may legitimately be far longer than
 * a request. A reply still INCOMPLETE therefore holds at most
 * reply_elems_max + 1 items of at most max(bulk_max + 36, inline_max + 3)
 * bytes each; a caller that needs a tighter bound keeps its own buffer cap
 * and treats INCOMPLETE at that cap as an error.
 *
 * Returns RESP_PARSE_OK with *consumed the reply's length (> 0; bytes after
 * it, such as a pipelined next reply, are not looked at); RESP_PARSE_INCOMPLETE
 * with *consumed 0 when more bytes are needed; RESP_PARSE_ERROR with
 * *consumed 0 and *errmsg a static string starting with "ERR Protocol error: "
 * when the bytes cannot be a reply, whatever follows them. *errmsg is NULL
 * unless RESP_PARSE_ERROR.
 *
 * Errors: an unknown type byte; a count or length that is not decimal
 * ("0" or [1-9][0-9]*), is negative other than the "$-1" / "*-1" nulls,
 * overflows, or breaks a limit above; a body not followed by CRLF; a line
 * with a bare CR or LF in it, or whose content does not match its type
 * (checked once its CRLF is in): ":" a signed 64-bit decimal, "(" [+-]
 * digits, "," a decimal [+-]d[.d][e[+-]d] or [+-]inf or [+-]nan, "#" t or f,
 * "_" empty; a verbatim body shorter than 4 bytes or without ':' at [3]. */
int resp_reply_scan(const resp_limits *limits, size_t reply_elems_max,
                    const char *buf, size_t len, size_t *consumed,
                    const char **errmsg);

/* A growable output buffer with a hard cap. The writer owns data while the
 * buffer lives (free with resp_buf_free); it grows by realloc, never past cap. */
typedef struct resp_buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap;
} resp_buf;

void resp_buf_init(resp_buf *b, size_t cap);
void resp_buf_free(resp_buf *b);

/* Each writer appends one complete element and returns 0, or returns -1 and
 * leaves the buffer unchanged when it would exceed cap or memory runs out.
 * proto is 2 or 3 (the connection's HELLO version). */
int resp_write_simple(resp_buf *b, const char *s);          /* +s */
int resp_write_error(resp_buf *b, const char *s);           /* -s */
int resp_write_int(resp_buf *b, int64_t v);                 /* :v */
int resp_write_bulk(resp_buf *b, const char *p, size_t n);  /* $n p */
int resp_write_cstr(resp_buf *b, const char *s);            /* bulk of a C string */
int resp_write_null(resp_buf *b, int proto);                /* $-1 or _ */
int resp_write_array(resp_buf *b, size_t n);                /* *n header */
int resp_write_map(resp_buf *b, size_t pairs, int proto);   /* %n, or *2n in RESP2 */
int resp_write_raw(resp_buf *b, const char *p, size_t n);   /* bytes as they are */

#endif
