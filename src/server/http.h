/* http — metrics and health over HTTP (--http-port): /metrics in the
 * Prometheus text format, /health, /ready.
 *
 * libmicrohttpd (Debian's libmicrohttpd) runs on a thread of its own, so
 * that a slow or hostile scraper never holds up the event loop, and so
 * that /health can tell a loop that stopped turning. That thread never
 * reads the loop's state: for /metrics and /ready it wakes the loop
 * (uv_async), which renders a consistent copy at one moment between two
 * requests and hands it over under a mutex; the request path pays
 * nothing for it. /health reads only the loop's heartbeat, an atomic.
 *
 * Keeps: at most HTTP_CONNECTIONS_MAX connections, each timed out after
 * HTTP_TIMEOUT_S; a scrape waits at most HTTP_RENDER_WAIT_MS for the loop
 * (503 after that); with --http-token-file, /metrics and /ready need
 * `Authorization: Bearer <token>` (compared in constant time); without
 * one they are served only to loopback clients unless --protected-mode
 * no; --http-tls yes serves HTTPS with the node's certificate. */
#ifndef SEQD_HTTP_H
#define SEQD_HTTP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "commands.h"

#define HTTP_CONNECTIONS_MAX 64
#define HTTP_TIMEOUT_S 10
#define HTTP_RENDER_WAIT_MS 2000
#define HTTP_LOOP_STALLED_MS 2000 /* /health: a loop silent this long is stuck */
#define HTTP_TOKEN_MAX 256

typedef struct http_server {
    struct MHD_Daemon *daemon;
    const command_env *env;
    size_t max_sequences;
    bool protected_mode;
    char token[HTTP_TOKEN_MAX + 1];
    size_t token_len; /* 0: no token file */
    uv_async_t wake;
    uv_timer_t heartbeat;
    atomic_uint_fast64_t loop_seen_ms; /* CLOCK_MONOTONIC ms of the loop's last turn */
    /* the hand-over, under mu: renderings asked for and done */
    pthread_mutex_t mu;
    pthread_cond_t done;
    uint64_t asked, rendered;
    char *text; /* the last /metrics text (malloc'd) */
    size_t text_len;
    bool ready;
    char why[160];
    bool closing;
    char *tls_cert, *tls_key; /* PEM, for --http-tls */
} http_server;

/* Starts serving on cfg's first --bind address at cfg->http_port. 0, or
 * -1 after logging why. */
int http_start(http_server *h, uv_loop_t *loop, const command_env *env, const config *cfg);

/* Stops the thread and closes the loop's handles (asynchronously). */
void http_stop(http_server *h);

#endif
