/* bus_tls — mutual TLS under the Raft bus (--tls-cluster). libraft reads
 * and writes the stream it is handed itself, so TLS cannot sit inside it:
 * this proxy runs the TLS session on the TCP connection and hands the
 * transport one end of a socketpair, pumping plaintext between the two
 * (the way go-dqlite's TLS proxy does). The transport's hello handshake
 * and then raft run on the socketpair end as they would on the TCP.
 *
 * Keeps: no byte reaches the socketpair before the TLS handshake is done
 * and the peer's certificate is verified (chain to the CA; the connector
 * also checks the IP it dialled is in the acceptor's certificate); each
 * direction buffers at most BUS_TLS_QUEUE_MAX bytes before it stops
 * reading the other side; when either side ends, both are closed, and the
 * proxy frees itself once its handles are closed. */
#ifndef SEQD_BUS_TLS_H
#define SEQD_BUS_TLS_H

#include <stdbool.h>
#include <uv.h>

#include "tls.h"

#define BUS_TLS_QUEUE_MAX (4u << 20)

typedef struct bus_tls bus_tls;

/* Told once: the plaintext end (a raft_malloc'd uv_pipe_t, the caller's
 * to close or hand to raft) and the peer's verified certificate (the
 * caller's, tls_cert_free), or NULL for both when the handshake failed
 * (the proxy is gone then). */
typedef void (*bus_tls_ready_fn)(void *ctx, uv_stream_t *plain, void *peer_cert);

/* Takes tcp (raft_malloc'd, connected or accepted; the proxy's from now
 * on) and starts TLS on it: as the client when dial_ip is not NULL (the
 * acceptor's certificate must name it), else as the server. 0, or -1
 * (tcp was closed: ready is not called). */
int bus_tls_start(uv_loop_t *loop, tls_ctx *ctx, uv_tcp_t *tcp, const char *dial_ip,
                  bus_tls_ready_fn ready, void *ready_ctx, bus_tls **out);

/* Gives up before ready was told (the handshake timed out): closes
 * everything; ready is not called. */
void bus_tls_abort(bus_tls *b);

#endif
