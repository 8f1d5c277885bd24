/* node — one Raft server: libraft with the raft_uv disk log and the
 * raft_uv_tcp bus, around the fsm. A single node is a one-voter cluster:
 * the same code path as a replicated one.
 *
 * Ownership: the node owns raft, io, transport and fsm from node_start until
 * the callback of node_close; the caller owns the node struct and frees it
 * only after that callback. */
#ifndef SEQD_NODE_H
#define SEQD_NODE_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <uv.h>

#include "clock.h"
#include "config.h"
#include "fsm.h"
#include "identity.h"
#include "tls.h"
#include "transport.h"

typedef struct node node;

#define NODE_PEERS_MAX 16

/* What the last bus handshake with one address said (nodeOnPeer). */
typedef struct node_peer {
    raft_id id;
    char address[TRANSPORT_ADDRESS_MAX + 1];
    int verdict; /* identity_verdict, -1 before the first */
    char cluster_hex[40];
    uint64_t seen_ms;
} node_peer;
typedef void (*node_close_cb)(node *n);

struct node {
    uv_loop_t *loop;
    transport transport;
    tls_ctx bus_tls_server, bus_tls_client; /* --tls-cluster (tls.h) */
    struct raft_io io;
    struct raft raft;
    fsm fsm;
    raft_id id;
    char address[96];
    char raft_dir[1200];
    node_close_cb on_close;
    bool started;
    const config *cfg;
    uv_timer_t watch; /* polls role and leader: libraft 0.22 has no callback */
    int last_state;
    raft_id last_leader;
    uint64_t leader_changes; /* a new leader seen (/metrics) */
    uint64_t leader_seen_ms; /* loop time a leader was last known */
    uint64_t lag_checked_ms; /* leader: last look at the followers' logs */
    unsigned snapshot_threshold; /* libraft's now (nodeCheckSnapshotDue) */
    raft_term last_term;
    /* Told when this node becomes leader or stops being it (or the term
     * changes while it leads), from the watch timer. */
    void (*on_role)(void *ctx, bool leader, raft_term term);
    void *role_ctx;
    /* leader: its followers' clocks (docs/clock.md) */
    clock_quorum clockq;
    struct raft_transfer transfer_req;
    bool transferring;
    uint64_t clock_transfer_ms; /* loop time of the last clock hand-over */
    uint64_t clock_refusals; /* loop turns the leader held writes for its clock */
    uint64_t recorded_applied;   /* what <dir>/applied says */
    uint64_t applied_written_ms; /* loop time it was last written */
    uint64_t bus_tried_ms;       /* a single node grown: loop time it last tried to listen */
    /* set before node_start: told of an entry the fsm cannot apply */
    void (*fsm_halt)(uint64_t index, const char *why);
    /* set before node_start: told why this node must not serve (its
     * directory belongs to another cluster); it does not return */
    void (*refuse)(const char *why);
    /* set before node_start: told when a restore entry was applied (fsm.h) */
    void (*on_restore)(void *ctx, bool replaced);
    void *restore_ctx;
    identity ident; /* <dir>/identity; the transport reads it at every handshake */
    bool adopted;   /* the directory had a log but no identity (older seqd) */
    node_peer peers[NODE_PEERS_MAX];
    size_t n_peers;
    struct raft_apply identity_req;
    bool identity_inflight;
    struct raft_apply peer_key_req;
    bool peer_key_inflight;
};

#define NODE_REFUSED (-1000) /* node_start: the data directory does not fit (logged) */

/* Sets up the log in <dir>/raft, bootstraps a fresh directory, replays the
 * log and starts Raft. Returns 0, NODE_REFUSED when the directory's
 * identity does not fit the flags, or a raft error code; after logging why. */
int node_start(node *n, uv_loop_t *loop, const config *c, fsm_claim_fn claim, void *claim_ctx);

bool node_is_leader(node *n);

/* Whether the cluster has its id (a single node always does): until then a
 * new cluster's leader proposes no writes. */
bool node_formed(node *n);

/* The voters whose bus handshake has not (yet) said "one of ours", as a
 * comma-separated list into out; their count. */
size_t node_waiting_for(node *n, char *out, size_t cap);

/* On a leader of a cluster: whether its wall clock is within
 * --max-clock-offset-ms of enough followers' that, with itself, they are a
 * majority of the voters (measured in the last CLOCK_REPORT_FRESH_MS).
 * True on a single node, with the check off, and on a follower. A leader
 * that is not clock-ok proposes nothing (its writes wait, then TRYAGAIN). */
bool node_clock_ok(node *n);

/* On a leader: followers whose fresh clock report lies within the bound. */
size_t node_clock_agreeing(node *n);

/* A follower's clock report (CLUSTER CLOCK id wall_ms), on the leader. */
void node_clock_report(node *n, uint64_t id, int64_t wall_ms);

/* The client address ("a.b.c.d:port") of the member with that Raft id and
 * bus address: from --cluster, this node's own, or port - 10000 for members
 * added at run time. Returns false when it cannot be told. */
bool node_client_address(node *n, raft_id id, const char *raft_address, char *out, size_t cap);

/* The client address ("a.b.c.d:port") of the current leader, written into
 * out; false when no leader is known. A leader's own address when it leads. */
bool node_leader_client(node *n, char *out, size_t cap);

/* True when no leader has been known for long enough to call the cluster
 * down (no quorum), rather than in an election. */
bool node_cluster_down(node *n);

/* Proposes one entry. buf must come from raft_malloc. On 0 the buffer
 * belongs to raft and cb will run exactly once; on an error the caller
 * still owns it (RAFT_NOTLEADER and friends). */
int node_propose(node *n, struct raft_apply *req, void *buf, size_t len, raft_apply_cb cb);

/* Closes Raft; cb runs on a later loop turn when everything is released.
 * Must not be called from inside a raft callback (libuv would assert). */
void node_close(node *n, node_close_cb cb);

#endif
