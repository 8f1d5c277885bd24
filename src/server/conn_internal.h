/* conn_internal — what the files of a client connection share: the
 * connection, its ring of reply slots, its reports of numbers in flight,
 * and the functions that move a reply from a request to the socket.
 *
 *   conn.c         the server: accepting, closing and freeing connections
 *   conn_input.c   reading, parsing, running requests; backpressure
 *   conn_slots.c   the ring of reply slots: replies leave in request order
 *   conn_output.c  the output buffer, its cap, and writing it once a turn
 *   conn_report.c  the numbers a reply hands out, until they have left
 *
 * Invariants (conn.h's, made concrete): slots hold replies in request
 * order, head_abs numbering them; out_total - sent_total bytes are unsent
 * and out.len <= the output cap; a conn is freed only once its handle is
 * closed and refs == 0 (no batch holds it); every report in reports[] lies
 * in out or wbuf (begin < out_total) and is kept until its bytes are past
 * anything a socket buffer can hold. Not a public contract: outside the
 * conn_*.c files, include conn.h. */
#ifndef SEQD_CONN_INTERNAL_H
#define SEQD_CONN_INTERNAL_H

#include "conn.h"
#include "tls.h"

#define CONN_READ_CHUNK 16384u
#define CONN_TLS_READ_CHUNK 65536u /* ciphertext read at once (the server's one buffer) */
#define CONN_TLS_SWEEP_MS 250u     /* how often stalled handshakes are looked for */
#define CONN_OUT_HIGH_WATER (1u << 20) /* pause reading above this many unsent bytes */
#define CONN_SLOTS_INITIAL 16u
#define CONN_NODE_HEADROOM 16u /* node links accepted past --max-clients */
#define CONN_REPORT_RUNS_MAX 4096u /* runs one merged report holds (an UNDELIVERED's runs) */
/* More than a socket's send buffer ever holds (Linux tcp_wmem's 4 MiB
 * maximum, doubled for the kernel's bookkeeping). */
#define CONN_KERNEL_BYTES_MAX (8u << 20)
/* Output bytes one merged report spans: a report straddling the point the
 * client's host acknowledged is kept final, not released (it may have been
 * read), so this bounds what a drop leaves unlisted. */
#define CONN_REPORT_BYTES_MAX 4096u

/* A reply that handed out numbers (a NEXT, INCR or RESERVE without KEY),
 * kept until its bytes have left for the client: should the connection
 * close first (the client left, or passed the output cap), the numbers
 * are reported undelivered. Bytes in the kernel's socket buffer count as
 * sent: nobody can tell whether they arrive. */
typedef struct conn_report {
    char *name; /* NUL-terminated; NULL: no report */
    seq_run *runs;
    size_t n_runs, runs_cap;
    bool borrowed;  /* name and runs are the result's, valid only during the
                     * call that made the report: connReportOwn copies them */
    uint64_t grant; /* a RESERVE's */
    bool local;     /* applied by this process (see undelivered_report) */
    undelivered_period period; /* the numbers' period (periodic sequences) */
    uint64_t begin, end; /* the replies' bytes in the connection's output stream */
} conn_report;

typedef struct conn_slot {
    char *data; /* the reply, once ready and not at the head */
    size_t len;
    bool ready;
    uint8_t style;
    uint8_t proto;
    char *report; /* forwarded NEXT/RESERVE without KEY: its sequence name */
    bool logged;  /* deferred through the log or a forward link (counted in conn.logged) */
    conn_report rep; /* a ready reply's report, until it moves to the output */
    uint8_t lane;    /* enum command_lane of a deferred request (counted in conn.lane_n) */
    int16_t command;   /* a deferred request's command row, for the metrics */
    uint64_t start_ns; /* when it was dispatched (uv_hrtime) */
} conn_slot;

struct conn {
    uv_tcp_t tcp;
    conn_server *srv;
    conn *prev, *next;
    char *in;
    size_t in_len, in_alloc;
    resp_buf out;  /* replies waiting to be written */
    resp_buf wbuf; /* replies being written */
    uv_write_t wreq;
    bool writing;
    conn_slot *slots; /* ring of replies in request order */
    size_t slots_cap, head, n_slots;
    uint64_t head_abs; /* absolute number of the reply at head */
    size_t refs;       /* commands of this client inside batches */
    size_t logged;     /* deferred replies that wait on the log or the leader */
    size_t lane_n[COMMAND_LANES]; /* deferred requests out on each path */
    bool blocked;      /* the next request waits for another path to drain */
    conn_report *reports; /* FIFO of replies in out or wbuf with numbers in them */
    size_t n_reports, reports_cap;
    uint64_t out_total;   /* bytes ever appended to out */
    uint64_t sent_total;  /* bytes ever written to the socket */
    uint64_t read_ns;     /* uv_hrtime when connProcess last began: its requests arrived then */
    size_t queued;        /* bytes of wbuf in the write request in flight */
    conn *dirty_prev, *dirty_next; /* in the server's flush list when dirty */
    command_client client;
    int proto;
    bool reading, paused, closing, handle_closed, close_when_flushed, dirty;
    bool reset_on_close; /* dropped at the output cap: RST, not FIN */
    bool over_limit;     /* accepted past --max-clients: only a node link may stay */
    bool challenged_over_limit; /* ... and it had its one CLUSTER CHALLENGE */
    tls_session *tls;         /* a TLS client's session (conn_tls.c); NULL: plain */
    uint64_t tls_deadline_ms; /* its handshake must be done by then (uv_now) */
    uint64_t tls_plain_pending; /* plaintext encrypted into wbuf, not yet all in the kernel */
};


/* conn.c */

/* realloc that aborts, logging, when memory runs out. */
void *connXrealloc(void *p, size_t n);

/* Frees c once its handle is closed and no batch holds it; else nothing. */
void connMaybeFree(conn *c);

/* Closes c (once; later calls do nothing): the reports of replies none of
 * whose bytes left are reported undelivered; memory goes in connMaybeFree. */
void connClose(conn *c);

/* conn_input.c */

/* libuv's alloc and read callbacks of a connection. */
void connAlloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
void connOnRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* Parses and runs every whole request in the input (see conn_input.c). */
void connProcess(conn *c);

/* Starts reading c with the callbacks of its kind (plain or TLS). */
void connReadStart(conn *c);

/* Answers a protocol error and closes c once it is written. */
void connProtocolError(conn *c, const char *msg);

/* Reads again when the client is under every cap and not blocked; parses
 * the input left over first. */
void connResumeMaybe(conn *c);

/* conn_slots.c */

/* The slot of reply number abs, which must be in the ring. */
conn_slot *connSlot(conn *c, uint64_t abs);

/* A new slot at the tail of the ring (grown when full); its number. */
uint64_t connReserve(conn *c);

/* Reply abs is ready with p[0..n): at the head it goes to the output with
 * every ready one after it, else it waits in its slot (copied). rep (may be
 * NULL) is its report, which this takes. */
void connComplete(conn *c, uint64_t abs, const char *p, size_t n, conn_report *rep);

/* conn_output.c */

/* Appends a finished reply to the output; false when that passed the cap
 * and c was dropped (rep is then reported lost). rep (may be NULL) is
 * taken. */
bool connAppend(conn *c, const char *p, size_t n, conn_report *rep);

/* Puts c on (takes it off) the server's list of connections to write
 * before the loop polls again. */
void connMarkDirty(conn *c);
void connUndirty(conn *c);

/* The server's uv_prepare callback: writes every dirty connection. */
void connOnPrepare(uv_prepare_t *h);

/* A write request's callback: its c->queued bytes (plaintext) are sent. */
void connOnWrite(uv_write_t *req, int status);

/* Closes c if it was to close once everything was written and it was. */
void connFlushDone(conn *c);

/* conn_tls.c */

void connTlsAlloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
void connTlsOnRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
/* Decrypts what the session holds into the input and runs it. */
void connTlsPump(conn *c);
void connFlushTls(conn *c);
void connTlsFailed(conn *c, const char *why);
/* The server's timer: closes handshakes past their deadline. */
void connTlsSweep(uv_timer_t *t);

/* conn_report.c */

/* Frees a report and zeroes it (a zeroed report is no report); a borrowed
 * one is only zeroed. */
void connReportFree(conn_report *r);

/* Makes a borrowed report own copies of its name and runs, before it is
 * kept past the call that made it. */
void connReportOwn(conn_report *r);

/* Reports a reply's numbers undelivered, for cause, and frees the report. */
void connReportLost(conn *c, conn_report *r, const char *cause);

/* Frees the reports whose bytes are now surely out of c's hands. */
void connReportsSent(conn *c);

/* Moves r (may be NULL or empty) to the FIFO of c's reports, ending at
 * out_total, merged with the last one when they continue each other. */
void connReportPush(conn *c, conn_report *r);

#endif
