/* bus_tls — the TLS proxy under the Raft bus (see bus_tls.h). */
#include "bus_tls.h"

#include <assert.h>
#include <raft.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define BUS_TLS_CHUNK 16384 /* a TLS record at most */

struct bus_tls {
    uv_loop_t *loop;
    uv_tcp_t *tcp;  /* raft_malloc'd: the TLS side */
    uv_pipe_t pipe; /* our end of the socketpair: the plaintext side */
    tls_session *s;
    bus_tls_ready_fn ready;
    void *ready_ctx;
    bool told, closing, pipe_open;
    bool tcp_paused, pipe_paused; /* reading stopped: the other way is full */
    int handles; /* open handles */
    size_t tcp_queued, pipe_queued; /* bytes in write requests, each way */
    char tcp_in[BUS_TLS_CHUNK], pipe_in[BUS_TLS_CHUNK], plain[BUS_TLS_CHUNK];
};

typedef struct bus_write {
    uv_write_t req;
    bus_tls *b;
    bool to_tcp;
    size_t len;
    char data[];
} bus_write;

static void busShutdown(bus_tls *b);
static void busOnTcpRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void busOnPipeRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void busAllocTcp(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    bus_tls *b = h->data;
    *buf = uv_buf_init(b->tcp_in, sizeof(b->tcp_in));
}

static void busAllocPipe(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    bus_tls *b = h->data;
    *buf = uv_buf_init(b->pipe_in, sizeof(b->pipe_in));
}

static void busMaybeFree(bus_tls *b)
{
    if (b->handles == 0) {
        tls_session_free(b->s);
        free(b);
    }
}

static void busTcpClosed(uv_handle_t *h)
{
    bus_tls *b = h->data;
    raft_free(h);
    b->handles--;
    busMaybeFree(b);
}

static void busPipeClosed(uv_handle_t *h)
{
    bus_tls *b = h->data;
    b->handles--;
    busMaybeFree(b);
}

static void busWrote(uv_write_t *req, int status)
{
    bus_write *w = req->data;
    bus_tls *b = w->b;
    if (w->to_tcp) {
        b->tcp_queued -= w->len;
    } else {
        b->pipe_queued -= w->len;
    }
    free(w);
    if (status < 0) {
        busShutdown(b);
        return;
    }
    /* the side that waited for room reads again */
    if (!b->closing && b->tcp_paused && b->pipe_queued < BUS_TLS_QUEUE_MAX / 2) {
        b->tcp_paused = false;
        uv_read_start((uv_stream_t *)b->tcp, busAllocTcp, busOnTcpRead);
    }
    if (!b->closing && b->pipe_paused && b->tcp_queued < BUS_TLS_QUEUE_MAX / 2) {
        b->pipe_paused = false;
        uv_read_start((uv_stream_t *)&b->pipe, busAllocPipe, busOnPipeRead);
    }
}

/* Queues a copy of p[0..n) on the TCP (ciphertext) or the pipe (plaintext). */
static void busWrite(bus_tls *b, bool to_tcp, const char *p, size_t n)
{
    bus_write *w = malloc(sizeof(*w) + n);
    if (w == NULL) {
        busShutdown(b);
        return;
    }
    w->b = b;
    w->to_tcp = to_tcp;
    w->len = n;
    memcpy(w->data, p, n);
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)n);
    uv_stream_t *s = to_tcp ? (uv_stream_t *)b->tcp : (uv_stream_t *)&b->pipe;
    if (uv_write(&w->req, s, &buf, 1, busWrote) != 0) {
        free(w);
        busShutdown(b);
        return;
    }
    if (to_tcp) {
        b->tcp_queued += n;
        if (b->tcp_queued > BUS_TLS_QUEUE_MAX && b->pipe_open && !b->pipe_paused) {
            b->pipe_paused = true;
            uv_read_stop((uv_stream_t *)&b->pipe); /* the peer reads slowly: raft waits */
        }
    } else {
        b->pipe_queued += n;
        if (b->pipe_queued > BUS_TLS_QUEUE_MAX && !b->tcp_paused) {
            b->tcp_paused = true;
            uv_read_stop((uv_stream_t *)b->tcp);
        }
    }
}

/* The session's ciphertext out to the TCP. */
static void busFlushTls(bus_tls *b)
{
    size_t pending = tls_session_pending(b->s);
    while (!b->closing && pending > 0) {
        char chunk[BUS_TLS_CHUNK];
        size_t n = tls_session_take(b->s, chunk, sizeof(chunk));
        if (n == 0) {
            break;
        }
        busWrite(b, true, chunk, n);
        pending = tls_session_pending(b->s);
    }
}

/* The handshake is done: the socketpair, and the transport is told. */
static void busBecomeReady(bus_tls *b)
{
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        busShutdown(b);
        return;
    }
    uv_pipe_t *plain = raft_malloc(sizeof(*plain));
    if (plain == NULL) {
        close(fds[0]);
        close(fds[1]);
        busShutdown(b);
        return;
    }
    uv_pipe_init(b->loop, plain, 0);
    uv_pipe_open(plain, fds[0]);
    uv_pipe_init(b->loop, &b->pipe, 0);
    b->pipe.data = b;
    uv_pipe_open(&b->pipe, fds[1]);
    b->pipe_open = true;
    b->handles++;
    uv_read_start((uv_stream_t *)&b->pipe, busAllocPipe, busOnPipeRead);
    b->told = true;
    b->ready(b->ready_ctx, (uv_stream_t *)plain, tls_session_peer_cert(b->s));
}

/* Decrypts what the session holds onto the pipe. */
static void busPump(bus_tls *b)
{
    for (;;) {
        size_t got = 0;
        int rv = tls_session_read(b->s, b->plain, sizeof(b->plain), &got);
        if (rv != TLS_OK) {
            log_debug("raft bus: tls: %s", rv == TLS_CLOSED ? "closed" : tls_session_error());
            busShutdown(b);
            return;
        }
        if (!b->told && b->s->established) {
            busBecomeReady(b);
            if (b->closing) {
                return;
            }
        }
        if (got > 0) {
            busWrite(b, false, b->plain, got);
        }
        if (b->closing || got < sizeof(b->plain)) {
            break;
        }
    }
    busFlushTls(b);
}

static void busOnTcpRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    bus_tls *b = s->data;
    if (n < 0) {
        busShutdown(b);
        return;
    }
    tls_session_feed(b->s, buf->base, (size_t)n);
    busPump(b);
}

static void busOnPipeRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    bus_tls *b = s->data;
    if (n < 0) {
        busShutdown(b); /* raft closed its end */
        return;
    }
    if (tls_session_write(b->s, buf->base, (size_t)n) != TLS_OK) {
        busShutdown(b);
        return;
    }
    busFlushTls(b);
}

static void busShutdown(bus_tls *b)
{
    if (b->closing) {
        return;
    }
    b->closing = true;
    if (!b->told) {
        b->told = true;
        b->ready(b->ready_ctx, NULL, NULL);
    }
    uv_close((uv_handle_t *)b->tcp, busTcpClosed);
    if (b->pipe_open) {
        uv_close((uv_handle_t *)&b->pipe, busPipeClosed);
    }
}

void bus_tls_abort(bus_tls *b)
{
    b->told = true; /* nobody is to be told any more */
    busShutdown(b);
}

int bus_tls_start(uv_loop_t *loop, tls_ctx *ctx, uv_tcp_t *tcp, const char *dial_ip,
                  bus_tls_ready_fn ready, void *ready_ctx, bus_tls **out)
{
    bus_tls *b = calloc(1, sizeof(*b));
    tls_session *s = b == NULL ? NULL
                     : dial_ip != NULL ? tls_session_new_client(ctx, dial_ip)
                                       : tls_session_new(ctx);
    if (s == NULL) {
        free(b);
        uv_close((uv_handle_t *)tcp, (uv_close_cb)raft_free);
        return -1;
    }
    b->loop = loop;
    b->tcp = tcp;
    b->s = s;
    b->ready = ready;
    b->ready_ctx = ready_ctx;
    b->handles = 1;
    tcp->data = b;
    *out = b;
    uv_read_start((uv_stream_t *)tcp, busAllocTcp, busOnTcpRead);
    if (dial_ip != NULL) {
        busPump(b); /* the ClientHello */
    }
    return 0;
}
