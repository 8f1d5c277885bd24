/* transport — the Raft bus: libraft's raft_uv_tcp transport, wrapped so that
 * every connection it makes or accepts has TCP_NODELAY set.
 *
 * Why: raft_uv_tcp leaves Nagle's algorithm on, and a leader's small
 * AppendEntries then wait for the follower's delayed ACK: pipelined load on
 * a three-node cluster showed a ~45 ms p99 floor and a sixth of the
 * single-node throughput. Everything else is passed through unchanged. */
#ifndef SEQD_TRANSPORT_H
#define SEQD_TRANSPORT_H

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

typedef struct transport {
    struct raft_uv_transport outer; /* what raft_uv uses (it owns outer.data) */
    struct raft_uv_transport inner; /* raft_uv_tcp; inner.data points back here */
    raft_uv_accept_cb accept_cb;
    raft_uv_transport_close_cb close_cb;
} transport;

/* Initialises the wrapped raft_uv_tcp transport. Returns 0 or a raft error. */
int transport_init(transport *t, uv_loop_t *loop);

/* Releases it, after raft has closed it (raft_uv_close). */
void transport_close(transport *t);

#endif
