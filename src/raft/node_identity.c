/* node_identity — which cluster this data directory belongs to.
 *
 * Keeps: a directory named for one cluster never serves another's log; a
 * single node's data is never started as a cluster member nor the
 * reverse; a new cluster serves no writes before every founding voter
 * has answered as one of its own (then its first leader picks the id). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "log.h"
#include "node_internal.h"

#define NODE_FOREIGN_FRESH_MS 30000 /* how long a refusal counts */

/* Whether the raft directory holds a log (libraft's metadata files). */
static bool nodeHasLog(const node *n)
{
    char path[1300];
    struct stat st;
    for (int i = 1; i <= 2; i++) {
        snprintf(path, sizeof(path), "%s/metadata%d", n->raft_dir, i);
        if (stat(path, &st) == 0 && st.st_size > 0) {
            return true;
        }
    }
    return false;
}

static int nodeRandomCluster(identity *id)
{
    if (getrandom(id->cluster, IDENTITY_CLUSTER_BYTES, 0) != IDENTITY_CLUSTER_BYTES) {
        log_error("cannot make a cluster id: getrandom: %s", strerror(errno));
        return -1;
    }
    id->has_cluster = true;
    return 0;
}

/* The identity of a directory that has none yet. A single node decides
 * its cluster id alone; founding members hash their bootstrap
 * configuration and wait for the first leader to choose the id; a joiner
 * learns both from the cluster. A directory with a log and no identity
 * (written before identities existed) is adopted as it is. */
static int nodeNewIdentity(node *n, const config *c, bool has_log, identity *id)
{
    memset(id, 0, sizeof(*id));
    id->kind = c->n_members == 0 ? IDENTITY_SINGLE : IDENTITY_CLUSTER;
    /* A single node keeps id 1 whatever its address, so it can move;
     * cluster ids come from bus addresses (see config_raft_id). */
    id->raft_id = c->n_members == 0 ? 1 : config_raft_id(n->address);
    if (has_log) {
        n->adopted = true;
        /* the cluster id comes from the log if it has one (a lost file),
         * else the leader proposes one (written by an older seqd) */
        log_warn("%s/%s: none yet; this directory's log is adopted as a %s", c->dir,
                 IDENTITY_FILE, c->n_members == 0 ? "single node" : "cluster member");
        return 0;
    }
    if (c->n_members == 0) {
        const char *addr = n->address;
        id->founding = identity_founding_hash(&id->raft_id, &addr, 1);
        return nodeRandomCluster(id);
    }
    if (c->self >= 0 && !c->join_existing) {
        uint64_t ids[CONFIG_CLUSTER_MAX];
        const char *addrs[CONFIG_CLUSTER_MAX];
        for (int i = 0; i < c->n_members; i++) {
            ids[i] = c->members[i].id;
            addrs[i] = c->members[i].raft;
        }
        id->founding = identity_founding_hash(ids, addrs, (size_t)c->n_members);
    }
    return 0;
}

/* Loads or makes <dir>/identity, and refuses a directory that does not fit
 * the flags: a single node's data started as a cluster member, or the
 * reverse. Returns 0, or -1 after logging why. */
int nodeLoadIdentity(node *n, const config *c)
{
    char err[1200];
    bool has_log = nodeHasLog(n);
    int rv = identity_load(c->dir, &n->ident, err, sizeof(err));
    if (rv < 0) {
        log_error("data check: %s: this node refuses to start (restore the file, or "
                  "%s)", err, NODE_REBUILD);
        return -1;
    }
    if (rv == 1) {
        if (nodeNewIdentity(n, c, has_log, &n->ident) != 0) {
            return -1;
        }
        assert(n->ident.raft_id != 0 && (n->ident.kind == IDENTITY_SINGLE) == (c->n_members == 0));
        int e = identity_save(c->dir, &n->ident);
        if (e != 0) {
            log_error("cannot write %s/%s: %s", c->dir, IDENTITY_FILE, strerror(-e));
            return -1;
        }
        return 0;
    }
    char hex[40];
    identity_cluster_hex(&n->ident, hex, sizeof(hex));
    if (n->ident.kind == IDENTITY_SINGLE && c->n_members > 0) {
        log_error("data check: %s holds a single node's data (cluster %s), but --cluster makes "
                  "this node a cluster member: it refuses to start. To grow a single node into "
                  "a cluster, keep it running as it is, start each new node on an empty "
                  "directory with --cluster and --initial-cluster-state existing, and CLUSTER "
                  "ADD them on this node (README, \"Growing a single node into a cluster\")",
                  c->dir, hex);
        return -1;
    }
    if (n->ident.kind == IDENTITY_CLUSTER && c->n_members == 0) {
        log_error("data check: %s belongs to a cluster (cluster %s, this node's Raft id %llu), "
                  "but it was started as a single node: it refuses to start. Start it with the "
                  "--cluster list of its cluster",
                  c->dir, hex, (unsigned long long)n->ident.raft_id);
        return -1;
    }
    return 0;
}

/* The identity entry was applied (or restored): the cluster's id is known
 * for good. A directory that already names another cluster must not take
 * this log: the handshake should have kept it out, so stop. */
void nodeOnIdentity(void *ctx, const uint8_t *cluster)
{
    node *n = ctx;
    if (n->ident.has_cluster) {
        if (memcmp(n->ident.cluster, cluster, IDENTITY_CLUSTER_BYTES) != 0) {
            char mine[40], hex[40], why[2048];
            identity theirs = {.has_cluster = true};
            memcpy(theirs.cluster, cluster, IDENTITY_CLUSTER_BYTES);
            identity_cluster_hex(&n->ident, mine, sizeof(mine));
            identity_cluster_hex(&theirs, hex, sizeof(hex));
            snprintf(why, sizeof(why),
                     "data check: %s/%s names cluster %s, but this node's log names cluster %s: "
                     "this node refuses to serve (restore the directory's own identity file, or "
                     "%s)",
                     n->cfg->dir, IDENTITY_FILE, mine, hex, NODE_REBUILD);
            if (n->refuse != NULL) {
                n->refuse(why);
            }
            nodeHalt(n, "the log names another cluster than this data directory");
        }
        return;
    }
    memcpy(n->ident.cluster, cluster, IDENTITY_CLUSTER_BYTES);
    n->ident.has_cluster = true;
    assert(n->fsm.has_cluster); /* the fsm names the cluster before it tells us */
    char hex[40];
    identity_cluster_hex(&n->ident, hex, sizeof(hex));
    int e = identity_save(n->cfg->dir, &n->ident);
    if (e != 0) {
        log_warn("cannot write %s/%s: %s", n->cfg->dir, IDENTITY_FILE, strerror(-e));
    }
    log_info("cluster id %s (in %s/%s)", hex, n->cfg->dir, IDENTITY_FILE);
}

bool node_formed(node *n)
{
    return n->ident.has_cluster || n->adopted;
}

static void nodeIdentityProposed(struct raft_apply *req, int status, void *result)
{
    (void)status;
    (void)result;
    node *n = req->data;
    n->identity_inflight = false;
}

/* On a leader whose log has no identity entry yet: a single node's own id,
 * or (a new cluster) a fresh one, once every founding voter has answered
 * a handshake as one of this cluster's: until then the cluster serves no
 * writes, so two clusters can never both hand out numbers from one set of
 * addresses (a founder that holds another cluster's data never answers). */
void nodeProposeIdentity(node *n)
{
    char waiting[256];
    if (n->fsm.has_cluster || n->identity_inflight ||
        (!n->ident.has_cluster && n->ident.founding != 0 &&
         node_waiting_for(n, waiting, sizeof(waiting)) > 0)) {
        return;
    }
    assert(node_is_leader(n));
    identity chosen = n->ident;
    if (!chosen.has_cluster && nodeRandomCluster(&chosen) != 0) {
        return;
    }
    uint8_t *buf = raft_malloc(FSM_IDENTITY_ENTRY_LEN);
    if (buf == NULL) {
        return;
    }
    size_t len = fsm_identity_entry(buf, chosen.cluster);
    n->identity_req.data = n;
    int rv = node_propose(n, &n->identity_req, buf, len, nodeIdentityProposed);
    if (rv != 0) {
        log_warn("cannot propose the cluster id: %s", raft_strerror(rv));
        if (rv == RAFT_NOTLEADER || rv == RAFT_LEADERSHIPLOST || rv == RAFT_NOMEM ||
            rv == RAFT_INVALID) {
            raft_free(buf); /* still ours (raft frees it on disk errors) */
        }
        return;
    }
    n->identity_inflight = true;
}

static void nodePeerKeyProposed(struct raft_apply *req, int status, void *result)
{
    (void)status;
    (void)result;
    node *n = req->data;
    n->peer_key_inflight = false;
}

void nodeProposePeerKey(node *n)
{
    assert(node_is_leader(n));
    /* Not held back until the cluster forms: the key hands out no number,
     * and a forming cluster's followers need it to relay "forming". */
    if (n->fsm.has_peer_key || n->peer_key_inflight) {
        return;
    }
    uint8_t key[FSM_PEER_KEY_BYTES];
    if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
        log_error("cannot make the peer key: getrandom: %s", strerror(errno));
        return;
    }
    uint8_t *buf = raft_malloc(FSM_PEER_KEY_ENTRY_LEN);
    if (buf == NULL) {
        return;
    }
    size_t len = fsm_peer_key_entry(buf, key);
    memset(key, 0, sizeof(key));
    n->peer_key_req.data = n;
    int rv = node_propose(n, &n->peer_key_req, buf, len, nodePeerKeyProposed);
    if (rv != 0) {
        log_warn("cannot propose the peer key: %s", raft_strerror(rv));
        if (rv == RAFT_NOTLEADER || rv == RAFT_LEADERSHIPLOST || rv == RAFT_NOMEM ||
            rv == RAFT_INVALID) {
            raft_free(buf); /* still ours (raft frees it on disk errors) */
        }
        return;
    }
    n->peer_key_inflight = true;
}

/* A node that most of its fellow voters refuse as a stranger (its data
 * directory belongs to another cluster, or it founded another one) stops:
 * it can serve nothing, and an operator must look. */
void nodeCheckForeign(node *n)
{
    const struct raft_configuration *c = &n->raft.configuration;
    size_t others = 0, foreign = 0;
    char list[256] = "", theirs[40] = "";
    size_t used = 0;
    uint64_t now = uv_now(n->loop);
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id == n->id || c->servers[i].role != RAFT_VOTER) {
            continue;
        }
        others++;
        const node_peer *p = nodeMemberPeer(n, &c->servers[i]);
        if (p == NULL || p->verdict == IDENTITY_OK || p->verdict < 0 ||
            now - p->seen_ms > NODE_FOREIGN_FRESH_MS) {
            continue;
        }
        foreign++;
        snprintf(theirs, sizeof(theirs), "%s", p->cluster_hex);
        int k = snprintf(list + used, sizeof(list) - used, "%s%s", used > 0 ? ", " : "",
                         p->address);
        if (k > 0 && used + (size_t)k < sizeof(list)) {
            used += (size_t)k;
        }
    }
    if (others == 0 || 2 * foreign <= others || n->refuse == NULL) {
        return;
    }
    char mine[40], why[2048];
    identity_cluster_hex(&n->ident, mine, sizeof(mine));
    snprintf(why, sizeof(why),
             "data check: %s belongs to cluster %s, but the members at %s belong to another "
             "(cluster %s): this node refuses to serve (was it started on another cluster's "
             "--dir?). Give it its own directory back, or %s",
             n->cfg->dir, mine, list, theirs, NODE_REBUILD);
    n->refuse(why);
}

/* A single node that was given members (CLUSTER ADD) is a cluster member
 * from now on: its directory says so, and it must be started with
 * --cluster. */
void nodeCheckGrown(node *n)
{
    if (n->ident.kind != IDENTITY_SINGLE || n->raft.configuration.n <= 1) {
        return;
    }
    n->ident.kind = IDENTITY_CLUSTER;
    assert(n->raft.configuration.n > 1);
    int e = identity_save(n->cfg->dir, &n->ident);
    if (e != 0) {
        log_warn("cannot write %s/%s: %s", n->cfg->dir, IDENTITY_FILE, strerror(-e));
    }
    log_info("this single node has members now: %s is a cluster member's directory; start it "
             "with --cluster from now on",
             n->cfg->dir);
}
