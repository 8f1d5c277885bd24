/* node_peers — what the Raft bus handshakes said of each address, and
 * the client addresses of the members (for MOVED and forwarding).
 *
 * Keeps: at most NODE_PEERS_MAX addresses remembered (the longest unheard
 * is forgotten first); a change of verdict is logged once. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "node_internal.h"

static node_peer *nodePeer(node *n, const char *address)
{
    assert(address != NULL && n->n_peers <= NODE_PEERS_MAX);
    for (size_t i = 0; i < n->n_peers; i++) {
        if (strcmp(n->peers[i].address, address) == 0) {
            return &n->peers[i];
        }
    }
    size_t at = n->n_peers;
    if (at == NODE_PEERS_MAX) {
        at = 0; /* forget the longest unheard */
        for (size_t i = 1; i < n->n_peers; i++) {
            if (n->peers[i].seen_ms < n->peers[at].seen_ms) {
                at = i;
            }
        }
    } else {
        n->n_peers++;
    }
    memset(&n->peers[at], 0, sizeof(n->peers[at]));
    snprintf(n->peers[at].address, sizeof(n->peers[at].address), "%s", address);
    n->peers[at].verdict = -1;
    return &n->peers[at];
}

static const char *nodeVerdictName(identity_verdict v)
{
    switch (v) {
    case IDENTITY_OK:
        return "ok";
    case IDENTITY_FOREIGN_CLUSTER:
        return "it belongs to another cluster";
    case IDENTITY_FOREIGN_FOUNDING:
        return "it was bootstrapped with other founding members";
    default:
        return "not a seqd bus handshake";
    }
}

/* A finished bus handshake (transport.c): remembered per address, so that
 * the first leader knows whom it has met and a node among strangers knows
 * it is one. A change of verdict is logged once. */
void nodeOnPeer(void *ctx, raft_id id, const char *address, const identity *peer,
                       identity_verdict verdict, bool outgoing)
{
    node *n = ctx;
    assert(peer != NULL);
    node_peer *p = nodePeer(n, address);
    p->id = id;
    p->seen_ms = uv_now(n->loop);
    identity_cluster_hex(peer, p->cluster_hex, sizeof(p->cluster_hex));
    if ((int)verdict == p->verdict) {
        return;
    }
    p->verdict = (int)verdict;
    if (verdict == IDENTITY_OK) {
        log_info("raft bus: %s %s (cluster %s)", outgoing ? "connected to" : "connection from",
                 address, p->cluster_hex);
        return;
    }
    char mine[40];
    identity_cluster_hex(&n->ident, mine, sizeof(mine));
    log_warn("raft bus: %s %s refused: %s (cluster %s there, %s here; founding "
             "%016llx there, %016llx here)",
             outgoing ? "connection to" : "connection from", address, nodeVerdictName(verdict),
             p->cluster_hex, mine, (unsigned long long)peer->founding,
             (unsigned long long)n->ident.founding);
}

/* The peer entry of a configuration member, NULL when never heard from. */
const node_peer *nodeMemberPeer(const node *n, const struct raft_server *srv)
{
    for (size_t i = 0; i < n->n_peers; i++) {
        if (strcmp(n->peers[i].address, srv->address) == 0) {
            return &n->peers[i];
        }
    }
    return NULL;
}

size_t node_waiting_for(node *n, char *out, size_t cap)
{
    const struct raft_configuration *c = &n->raft.configuration;
    size_t missing = 0, used = 0;
    if (cap > 0) {
        out[0] = '\0';
    }
    for (unsigned i = 0; i < c->n; i++) {
        const node_peer *p = nodeMemberPeer(n, &c->servers[i]);
        if (c->servers[i].id == n->id || c->servers[i].role != RAFT_VOTER ||
            (p != NULL && p->verdict == IDENTITY_OK)) {
            continue;
        }
        missing++;
        int k = snprintf(out + used, cap > used ? cap - used : 0, "%s%s", used > 0 ? "," : "",
                         c->servers[i].address);
        if (k > 0 && used + (size_t)k < cap) {
            used += (size_t)k;
        }
    }
    assert(cap == 0 || used < cap);
    return missing;
}

bool node_client_address(node *n, raft_id id, const char *raft_address, char *out, size_t cap)
{
    for (int i = 0; i < n->cfg->n_members; i++) {
        /* by bus address: a node that grew from a single one keeps id 1 */
        if (n->cfg->members[i].id == id ||
            (raft_address != NULL && strcmp(n->cfg->members[i].raft, raft_address) == 0)) {
            snprintf(out, cap, "%s", n->cfg->members[i].client);
            return true;
        }
    }
    if (id == n->id) {
        snprintf(out, cap, "%s:%d", n->cfg->bind, n->cfg->port);
        return true;
    }
    /* A member added at run time: by convention its bus is port + 10000. */
    char host[32];
    unsigned port;
    if (raft_address == NULL || sscanf(raft_address, "%31[0-9.]:%u", host, &port) != 2 ||
        port <= 10000) {
        return false;
    }
    snprintf(out, cap, "%s:%u", host, port - 10000);
    return true;
}

bool node_leader_client(node *n, char *out, size_t cap)
{
    raft_id leader = 0;
    const char *address = NULL;
    if (!n->started) {
        return false;
    }
    raft_leader(&n->raft, &leader, &address);
    return leader != 0 && node_client_address(n, leader, address, out, cap);
}

bool nodeBusMemberOk(void *ctx, raft_id id, const char *address)
{
    const node *n = ctx;
    const struct raft_configuration *c = &n->raft.configuration;
    if (c->n == 0) {
        return true;
    }
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id == id) {
            return strcmp(c->servers[i].address, address) == 0;
        }
    }
    return false;
}
