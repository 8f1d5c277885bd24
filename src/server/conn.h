/* conn — client connections over libuv TCP: reading and parsing requests,
 * keeping replies in each connection's request order, writing them, and
 * the per-client limits (input bytes, replies pending, output bytes).
 *
 * Invariants: replies leave in request order, whatever order results come
 * back in; a connection's memory is freed only when its handle is closed and
 * no batch still holds a reference to it (a client that vanishes mid-request
 * costs nothing but the work already logged); no buffer grows past its cap:
 * past the input or output cap the client gets an error and is closed, past
 * the pending-replies cap its reading pauses (backpressure). */
#ifndef SEQD_CONN_H
#define SEQD_CONN_H

#include <stdbool.h>
#include <uv.h>

#include "commands.h"
#include "resp.h"
#include "tls.h"

typedef struct conn conn;

typedef struct conn_server {
    uv_loop_t *loop;
    /* one listener per --bind address, plain and TLS (the first n_listening
     * and n_tls_listening are open) */
    uv_tcp_t listeners[CONFIG_BIND_MAX];
    int n_listening;
    const config *cfg;
    command_env *env;
    resp_limits limits;
    resp_arg *argv;  /* parser scratch, args_max entries */
    char *inline_scratch; /* decoded escaped inline arguments, inline_max bytes */
    resp_buf scratch; /* immediate and deferred replies are formatted here */
    conn *conns;     /* every open connection */
    conn *dirty;     /* connections with replies to write this loop turn */
    uv_prepare_t flusher;
    /* TLS clients (conn_tls.c): their listener, the server's context */
    uv_tcp_t tls_listeners[CONFIG_BIND_MAX];
    int n_tls_listening;
    tls_ctx *tls;     /* NULL: no TLS port */
    char *tls_scratch; /* ciphertext just read (CONN_TLS_READ_CHUNK bytes) */
    uv_timer_t tls_sweep;
    bool tls_sweeping; /* tls_sweep is open */
} conn_server;

/* Binds and listens on every --bind address at cfg->port (unless it is 0),
 * and at cfg->tls_port with tls (which lives as long as s). Returns 0 or
 * a libuv error. */
int conn_server_start(conn_server *s, uv_loop_t *loop, const config *cfg, command_env *env,
                      tls_ctx *tls);

/* Stops accepting (the listener closes asynchronously). */
void conn_server_stop_listening(conn_server *s);

/* Stops reading from every client (shutdown: no new work). */
void conn_server_pause_all(conn_server *s);

/* True when no client has replies still to compute or bytes still to write. */
bool conn_server_idle(const conn_server *s);

/* Closes every connection; the handles close asynchronously. */
void conn_server_close_all(conn_server *s);

void conn_server_free(conn_server *s);

/* The batcher's done callback: owner is a conn, tag its reply slot. */
void conn_on_done(void *owner, uint64_t tag, const seq_result *res, int err);

/* The forwarder's done callback: the leader's reply, or err (batch_error). */
void conn_on_forwarded(void *owner, uint64_t tag, const char *reply, size_t len, int err);

/* The numbers in a NEXT/INCR/RESERVE reply (":n" or a flat array of runs)
 * as a malloc'd array of runs (*n of them), or NULL when it holds none. */
seq_run *conn_reply_runs(const char *reply, size_t len, size_t *n);

/* Completes a deferred call with a reply that is ready (command_env.reply_raw). */
void conn_reply_raw(void *owner, uint64_t tag, const char *reply, size_t len);

#endif
