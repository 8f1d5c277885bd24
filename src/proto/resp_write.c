/* resp_write — the reply writer: one complete RESP2/RESP3 element at a
 * time into a resp_buf with a hard cap.
 *
 * Invariants: len <= alloc <= cap at every return; an element is appended
 * whole or not at all (over the cap, or out of memory, the buffer is left
 * as it was); every size is added in checked size_t arithmetic; a simple
 * string or error never carries a CR or LF that would end its line early.
 * No I/O here. */
#include "resp.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* First allocation of a resp_buf; it then doubles up to its cap. */
#define RESP_BUF_ALLOC_MIN 64

/* Room for a reply header: prefix, '-', 20 digits of a uint64, CRLF. */
#define RESP_HEADER_BUF 32

void resp_buf_init(resp_buf *b, size_t cap)
{
    assert(b != NULL);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void resp_buf_free(resp_buf *b)
{
    assert(b != NULL);
    assert(b->len <= b->alloc && b->alloc <= b->cap);
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
    assert(b->len <= b->alloc && b->alloc <= b->cap);
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
    assert(s != NULL);
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

