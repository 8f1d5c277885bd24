/* node_internal — what the files of the node share (node.c,
 * node_identity.c, node_peers.c, node_clock.c, node_datacheck.c); not
 * part of node.h's contract. Each function runs on the loop thread of the
 * node it is given, between node_start and node_close. */
#ifndef SEQD_NODE_INTERNAL_H
#define SEQD_NODE_INTERNAL_H

#include "node.h"

/* What every refusal to serve damaged or foreign data tells the operator. */
#define NODE_REBUILD                                                                               \
    "to rebuild it from the others: CLUSTER REMOVE it on the leader, start it on an empty "       \
    "directory with --initial-cluster-state existing, CLUSTER ADD it (README, \"Rebuilding a "    \
    "member\")"

#define NODE_LAG_CHECK_MS 5000     /* how often the leader looks at its followers' logs */
#define NODE_APPLIED_EVERY_MS 1000 /* how often <dir>/applied is brought up to date */

/* node.c: an entry the fsm cannot apply, or a log that is not this
 * directory's: the node stops applying (fsm_halt hook). */
void nodeHalt(void *ctx, const char *why);

/* ---- node_identity.c: the directory's identity and the cluster id ---- */

/* Loads or makes <dir>/identity, and refuses a directory that does not fit
 * the flags. Returns 0, or -1 after logging why. */
int nodeLoadIdentity(node *n, const config *c);

/* The fsm's hook: the identity entry was applied (or restored). */
void nodeOnIdentity(void *ctx, const uint8_t *cluster);

/* Leader only: proposes the identity entry when the log has none yet and
 * every founding voter has answered a handshake as one of ours. */
void nodeProposeIdentity(node *n);

/* Leader only: while its log has no peer key, proposes a fresh random one
 * (what forward links prove they know). */
void nodeProposePeerKey(node *n);

/* Refuses to serve (n->refuse) when most fellow voters call this node a
 * stranger. */
void nodeCheckForeign(node *n);

/* A single node given members becomes a cluster member's directory. */
void nodeCheckGrown(node *n);

/* ---- node_peers.c: what the bus handshakes said ---- */

/* The transport's hook: a finished handshake, remembered per address. */
void nodeOnPeer(void *ctx, raft_id id, const char *address, const identity *peer,
                identity_verdict verdict, bool outgoing);

/* The transport's hook under --tls-cluster: whether id is the member at
 * address in this node's configuration (any id while it has none: a
 * joiner hears first from the leader that added it). */
bool nodeBusMemberOk(void *ctx, raft_id id, const char *address);

/* The peer entry of a configuration member, NULL when never heard from. */
const node_peer *nodeMemberPeer(const node *n, const struct raft_server *srv);

/* ---- node_clock.c: a leader with a wrong clock ---- */

/* Leader only: hands leadership over when most followers find its wall
 * clock off by more than --max-clock-offset-ms. */
void nodeCheckClock(node *n);

/* ---- node_datacheck.c: never serve from less than was applied ---- */

/* <dir>/applied: the last applied index recorded, 0 when none. */
uint64_t nodeReadApplied(const node *n);
void nodeWriteApplied(node *n, uint64_t applied);

/* After raft_start failed with rv: NODE_REFUSED (logged) when the data is
 * damaged (a snapshot or segment fails its check), else rv. */
int nodeRefuseDamaged(node *n, int rv);

/* Whether the loaded log still reaches the index this node had applied:
 * 0, or NODE_REFUSED after logging what is missing. */
int nodeCheckApplied(node *n, uint64_t had_applied);

/* Leader only: reports voters whose logs are far behind. */
void nodeCheckLag(node *n);

#endif
