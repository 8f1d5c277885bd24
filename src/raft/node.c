/* node — libraft + raft_uv set-up (see node.h). */
#include "node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static void nodeWatch(uv_timer_t *t);

/* What every refusal to serve damaged or foreign data tells the operator. */
#define NODE_REBUILD                                                                               \
    "to rebuild it from the others: CLUSTER REMOVE it on the leader, start it on an empty "       \
    "directory with --initial-cluster-state existing, CLUSTER ADD it (README, \"Rebuilding a "    \
    "member\")"
static void nodeOnIdentity(void *ctx, const uint8_t *cluster);
static void nodeOnPeer(void *ctx, raft_id id, const char *address, const identity *peer,
                       identity_verdict verdict, bool outgoing);

/* The founding configuration: this node alone, or every --cluster member. */
static int nodeBootstrap(node *n, const config *c)
{
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    if (n->ident.kind == IDENTITY_SINGLE) {
        rv = raft_configuration_add(&conf, n->id, n->address, RAFT_VOTER);
    }
    for (int i = 0; i < c->n_members && rv == 0 && n->ident.kind == IDENTITY_CLUSTER; i++) {
        rv = raft_configuration_add(&conf, c->members[i].id, c->members[i].raft, RAFT_VOTER);
    }
    if (rv == 0) {
        rv = raft_bootstrap(&n->raft, &conf);
        if (rv == RAFT_CANTBOOTSTRAP) {
            rv = 0; /* the directory already holds a log */
        } else if (rv == 0) {
            log_info("bootstrapped a new %d-voter cluster in %s", c->n_members ? c->n_members : 1,
                     n->raft_dir);
        }
    }
    raft_configuration_close(&conf);
    return rv;
}


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
static int nodeLoadIdentity(node *n, const config *c)
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

static void nodeHalt(void *ctx, const char *why);

/* <dir>/applied: the last log index this node applied, kept outside the
 * log (written about once a second, atomically), so that a log that lost
 * entries (a corrupt segment libraft set aside, a file deleted) is noticed
 * at start instead of served from. 0 when there is none yet. */
static void nodeAppliedPath(const node *n, char *out, size_t cap)
{
    snprintf(out, cap, "%s/applied", n->cfg->dir);
}

static uint64_t nodeReadApplied(const node *n)
{
    char path[1100];
    nodeAppliedPath(n, path, sizeof(path));
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        return 0;
    }
    unsigned long long v = 0;
    if (fscanf(fp, "applied %llu", &v) != 1) {
        v = 0;
    }
    fclose(fp);
    return v;
}

static void nodeWriteApplied(node *n, uint64_t applied)
{
    char path[1100], tmp[1120];
    nodeAppliedPath(n, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0) {
        log_warn("cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    char text[64];
    int len = snprintf(text, sizeof(text), "applied %llu\n", (unsigned long long)applied);
    bool ok = write(fd, text, (size_t)len) == len && fdatasync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        log_warn("cannot write %s: %s", path, strerror(errno));
        return;
    }
    n->recorded_applied = applied;
}

/* The newest file in the raft directory whose name starts with prefix
 * (libraft names them with their indexes), for an error message. */
static void nodeNewestFile(const node *n, const char *prefix, char *out, size_t cap)
{
    out[0] = '\0';
    DIR *d = opendir(n->raft_dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strstr(e->d_name, ".meta") == NULL &&
            strcmp(e->d_name, out) > 0) {
            snprintf(out, cap, "%s", e->d_name);
        }
    }
    closedir(d);
}

int node_start(node *n, uv_loop_t *loop, const config *c, fsm_claim_fn claim, void *claim_ctx)
{
    int rv;
    /* the hooks the caller set before the start survive the reset */
    void (*halt)(uint64_t, const char *) = n->fsm_halt;
    void (*refuse)(const char *) = n->refuse;
    memset(n, 0, sizeof(*n));
    n->fsm_halt = halt;
    n->refuse = refuse;
    n->loop = loop;
    n->cfg = c;
    snprintf(n->address, sizeof(n->address), "%s:%d", c->bind, c->raft_port);
    snprintf(n->raft_dir, sizeof(n->raft_dir), "%s/raft", c->dir);
    if (mkdir(n->raft_dir, 0750) != 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", n->raft_dir, strerror(errno));
        return RAFT_IOERR;
    }
    if (nodeLoadIdentity(n, c) != 0) {
        return NODE_REFUSED;
    }
    /* the id the directory was made with, whatever the flags say now */
    n->id = n->ident.raft_id;
    fsm_init(&n->fsm, claim, claim_ctx);
    n->fsm.halt = nodeHalt;
    n->fsm.halt_ctx = n;
    n->fsm.on_identity = nodeOnIdentity;
    n->fsm.identity_ctx = n;

    rv = transport_init(&n->transport, loop, &n->ident);
    n->transport.on_peer = nodeOnPeer;
    n->transport.peer_ctx = n;
    if (rv != 0) {
        log_error("raft transport: %s", raft_strerror(rv));
        goto err_after_fsm;
    }
    rv = raft_uv_init(&n->io, loop, n->raft_dir, &n->transport.outer);
    if (rv != 0) {
        log_error("raft log in %s: %s", n->raft_dir, n->io.errmsg);
        goto err_after_transport;
    }
    /* libraft would set a segment that fails its checksum aside and start
     * from what is left: a node must refuse to serve from less instead */
    raft_uv_set_auto_recovery(&n->io, false);
    rv = raft_init(&n->raft, &n->io, &n->fsm.raft, n->id, n->address);
    if (rv != 0) {
        log_error("raft init: %s", raft_errmsg(&n->raft));
        goto err_after_io;
    }
    n->raft.data = n;
    /* libraft formats trace lines for every entry even when tracing is off
     * (vfprintf showed in profiles): no tracer at all unless asked for. */
    if (getenv("LIBRAFT_TRACE") == NULL) {
        n->raft.tracer = NULL;
        raft_uv_set_tracer(&n->io, NULL);
    }
    raft_set_election_timeout(&n->raft, c->election_timeout_ms);
    raft_set_heartbeat_timeout(&n->raft, c->heartbeat_ms);
    raft_set_pre_vote(&n->raft, true);
    raft_set_snapshot_threshold(&n->raft, c->snapshot_threshold);
    raft_set_snapshot_trailing(&n->raft, c->snapshot_trailing);
    raft_set_max_inflight_entries(&n->raft, 1024);

    if (n->ident.kind == IDENTITY_SINGLE || (c->self >= 0 && n->ident.founding != 0)) {
        rv = nodeBootstrap(n, c);
        if (rv != 0) {
            log_error("raft bootstrap: %s", raft_errmsg(&n->raft));
            goto err_after_raft;
        }
    } else {
        log_info("joining: waiting to be added (CLUSTER ADD %s:%d@%d on the leader)", c->bind,
                 c->port, c->raft_port);
    }
    uint64_t had_applied = nodeReadApplied(n);
    rv = raft_start(&n->raft);
    if (rv != 0) {
        log_error("raft start: %s (%s)", raft_strerror(rv), n->io.errmsg);
        if (n->fsm.bad_snapshots > 0) {
            char name[256];
            nodeNewestFile(n, "snapshot-", name, sizeof(name));
            log_error("data check: the snapshot %s/%s fails its check: this node refuses to "
                      "serve from less than it had (%s, or restore a backup)",
                      n->raft_dir, name, NODE_REBUILD);
            return NODE_REFUSED;
        }
        if (rv == RAFT_CORRUPT || rv == RAFT_MALFORMED) {
            /* auto-recovery is off: libraft names the file that failed */
            log_error("data check: the Raft log in %s fails its checksum (the file is named "
                      "above): this node refuses to serve from damaged data (%s, or "
                      "restore a backup)",
                      n->raft_dir, NODE_REBUILD);
            return NODE_REFUSED;
        }
        goto err_after_raft;
    }
    if (raft_last_index(&n->raft) < had_applied) {
        /* entries this node applied are gone (a segment deleted or cut
         * short): never serve from less than was applied */
        log_error("data check: this node had applied log entry %llu (%s/applied), but its log "
                  "in %s now ends at %llu: files are missing; it refuses to serve from less "
                  "than it had (%s, or restore a backup)",
                  (unsigned long long)had_applied, c->dir, n->raft_dir,
                  (unsigned long long)raft_last_index(&n->raft), NODE_REBUILD);
        return NODE_REFUSED;
    }
    n->recorded_applied = had_applied;
    n->started = true;
    n->last_state = -1;
    n->leader_seen_ms = uv_now(loop);
    uv_timer_init(loop, &n->watch);
    n->watch.data = n;
    uv_timer_start(&n->watch, nodeWatch, 10, 10);
    log_info("raft started: term %llu, last index %llu, applied %llu",
             (unsigned long long)raft_current_term(&n->raft),
             (unsigned long long)raft_last_index(&n->raft),
             (unsigned long long)raft_last_applied(&n->raft));
    return 0;

err_after_raft:
    /* raft_init succeeded: only raft_close may release it, asynchronously;
     * the caller exits the process, so leave it to the OS. */
    return rv;
err_after_io:
    raft_uv_close(&n->io);
err_after_transport:
    transport_close(&n->transport);
err_after_fsm:
    fsm_close(&n->fsm);
    return rv;
}

static void nodeHalt(void *ctx, const char *why)
{
    node *n = ctx;
    uint64_t index = n->started ? raft_last_applied(&n->raft) + 1 : 0;
    if (n->fsm_halt != NULL) {
        n->fsm_halt(index, why);
    }
}

/* The identity entry was applied (or restored): the cluster's id is known
 * for good. A directory that already names another cluster must not take
 * this log: the handshake should have kept it out, so stop. */
static void nodeOnIdentity(void *ctx, const uint8_t *cluster)
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
    char hex[40];
    identity_cluster_hex(&n->ident, hex, sizeof(hex));
    int e = identity_save(n->cfg->dir, &n->ident);
    if (e != 0) {
        log_warn("cannot write %s/%s: %s", n->cfg->dir, IDENTITY_FILE, strerror(-e));
    }
    log_info("cluster id %s (in %s/%s)", hex, n->cfg->dir, IDENTITY_FILE);
}

static node_peer *nodePeer(node *n, const char *address)
{
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
static void nodeOnPeer(void *ctx, raft_id id, const char *address, const identity *peer,
                       identity_verdict verdict, bool outgoing)
{
    node *n = ctx;
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
static const node_peer *nodeMemberPeer(const node *n, const struct raft_server *srv)
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
    return missing;
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
static void nodeProposeIdentity(node *n)
{
    char waiting[256];
    if (n->fsm.has_cluster || n->identity_inflight ||
        (!n->ident.has_cluster && n->ident.founding != 0 &&
         node_waiting_for(n, waiting, sizeof(waiting)) > 0)) {
        return;
    }
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

#define NODE_FOREIGN_FRESH_MS 30000 /* how long a refusal counts */

/* A node that most of its fellow voters refuse as a stranger (its data
 * directory belongs to another cluster, or it founded another one) stops:
 * it can serve nothing, and an operator must look. */
static void nodeCheckForeign(node *n)
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
static void nodeCheckGrown(node *n)
{
    if (n->ident.kind != IDENTITY_SINGLE || n->raft.configuration.n <= 1) {
        return;
    }
    n->ident.kind = IDENTITY_CLUSTER;
    int e = identity_save(n->cfg->dir, &n->ident);
    if (e != 0) {
        log_warn("cannot write %s/%s: %s", n->cfg->dir, IDENTITY_FILE, strerror(-e));
    }
    log_info("this single node has members now: %s is a cluster member's directory; start it "
             "with --cluster from now on",
             n->cfg->dir);
}

bool node_is_leader(node *n)
{
    return n->started && raft_state(&n->raft) == RAFT_LEADER;
}

/* The voters other than this node, into ids (at most cap); their count. */
static size_t nodeOtherVoters(node *n, uint64_t *ids, size_t cap, size_t *voters)
{
    const struct raft_configuration *c = &n->raft.configuration;
    size_t k = 0;
    *voters = 0;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].role != RAFT_VOTER) {
            continue;
        }
        (*voters)++;
        if (c->servers[i].id != n->id && k < cap) {
            ids[k++] = c->servers[i].id;
        }
    }
    return k;
}

/* agree/disagree among the other voters, and the number of voters. */
static size_t nodeClockCount(node *n, size_t *agree, size_t *disagree, int64_t *worst)
{
    uint64_t ids[CLOCK_PEERS_MAX];
    size_t voters = 0;
    size_t k = nodeOtherVoters(n, ids, CLOCK_PEERS_MAX, &voters);
    clock_quorum_count(&n->clockq, ids, k, n->cfg->max_clock_offset_ms, uv_now(n->loop), agree,
                       disagree, worst);
    return voters;
}

bool node_clock_ok(node *n)
{
    if (n->cfg->max_clock_offset_ms == 0 || !node_is_leader(n)) {
        return true;
    }
    size_t agree, disagree;
    int64_t worst;
    size_t voters = nodeClockCount(n, &agree, &disagree, &worst);
    return voters <= 1 || 2 * (1 + agree) > voters;
}

size_t node_clock_agreeing(node *n)
{
    size_t agree, disagree;
    int64_t worst;
    nodeClockCount(n, &agree, &disagree, &worst);
    return agree;
}

void node_clock_report(node *n, uint64_t id, int64_t wall_ms)
{
    clock_quorum_report(&n->clockq, id, wall_ms - clock_wall_ms(), uv_now(n->loop));
}

static void nodeTransferDone(struct raft_transfer *req)
{
    node *n = req->data;
    n->transferring = false;
}

#define NODE_TRANSFER_PAUSE_MS 2000 /* between two clock hand-overs of one node */

/* A leader without a clock quorum that most of its followers find off by
 * more than the bound hands leadership to one of them: a node with a bad
 * clock must not lead (docs/clock.md). With fewer dissenters nobody can
 * tell whose clock is wrong (one good and one bad node left of three):
 * the leader keeps leading but proposes nothing (node_clock_ok), and
 * handing over would only make the two trade leadership. */
static void nodeCheckClock(node *n)
{
    uint64_t now = uv_now(n->loop);
    if (n->cfg->max_clock_offset_ms == 0 || n->transferring ||
        now - n->clock_transfer_ms < NODE_TRANSFER_PAUSE_MS || node_clock_ok(n)) {
        return;
    }
    uint64_t ids[CLOCK_PEERS_MAX];
    size_t voters = 0;
    size_t k = nodeOtherVoters(n, ids, CLOCK_PEERS_MAX, &voters);
    uint64_t to = clock_quorum_dissenter(&n->clockq, ids, k, n->cfg->max_clock_offset_ms,
                                         uv_now(n->loop));
    size_t agree, disagree;
    int64_t worst;
    nodeClockCount(n, &agree, &disagree, &worst);
    if (to == 0 || 2 * disagree <= voters - 1) {
        return;
    }
    log_warn("clock: %zu of %zu followers find this leader's wall clock off by more than %u ms "
             "(up to %lld ms), %zu agree: it serves no writes and hands leadership over",
             disagree, voters - 1, n->cfg->max_clock_offset_ms, (long long)worst, agree);
    n->transfer_req.data = n;
    if (raft_transfer(&n->raft, &n->transfer_req, to, nodeTransferDone) == 0) {
        n->transferring = true;
        n->clock_transfer_ms = now;
    }
}

#define NODE_LAG_CHECK_MS 5000
#define NODE_APPLIED_EVERY_MS 1000 /* how often <dir>/applied is brought up to date */
#define NODE_LAG_ENTRIES 10000

/* On the leader: a voter whose log is far behind (a full or failing disk
 * stalls a follower silently in libraft) is reported, every few seconds. */
static void nodeCheckLag(node *n)
{
    raft_index last = raft_last_index(&n->raft);
    const struct raft_configuration *c = &n->raft.configuration;
    for (unsigned i = 0; i < c->n; i++) {
        raft_index match = 0;
        if (c->servers[i].id == n->id || c->servers[i].role != RAFT_VOTER ||
            raft_match_index(&n->raft, c->servers[i].id, &match) != 0) {
            continue;
        }
        if (last > match + NODE_LAG_ENTRIES) {
            log_warn("raft: member %s is %llu entries behind the leader (down, or its disk "
                     "is failing)",
                     c->servers[i].address, (unsigned long long)(last - match));
        }
    }
}

static void nodeWatch(uv_timer_t *t)
{
    node *n = t->data;
    int state = raft_state(&n->raft);
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(&n->raft, &leader, &address);
    if (leader != 0) {
        n->leader_seen_ms = uv_now(n->loop);
    }
    uint64_t now = uv_now(n->loop);
    if (state == RAFT_LEADER && now - n->lag_checked_ms >= NODE_LAG_CHECK_MS) {
        n->lag_checked_ms = now;
        nodeCheckLag(n);
    }
    if (state == RAFT_LEADER) {
        nodeCheckClock(n);
        nodeProposeIdentity(n);
    }
    nodeCheckGrown(n);
    nodeCheckForeign(n);
    if (now - n->applied_written_ms >= NODE_APPLIED_EVERY_MS &&
        raft_last_applied(&n->raft) > n->recorded_applied) {
        n->applied_written_ms = now;
        nodeWriteApplied(n, raft_last_applied(&n->raft));
    }
    raft_term term = raft_current_term(&n->raft);
    bool role_changed = (state == RAFT_LEADER) != (n->last_state == RAFT_LEADER) ||
                        (state == RAFT_LEADER && term != n->last_term);
    if (state != n->last_state || leader != n->last_leader) {
        log_info("raft: %s in term %llu, leader %s", raft_state_name(state),
                 (unsigned long long)term, address != NULL ? address : "unknown");
        n->last_state = state;
        n->last_leader = leader;
    }
    n->last_term = term;
    if (role_changed && n->on_role != NULL) {
        n->on_role(n->role_ctx, state == RAFT_LEADER, term);
    }
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

bool node_cluster_down(node *n)
{
    return uv_now(n->loop) - n->leader_seen_ms > 4ull * n->cfg->election_timeout_ms;
}

int node_propose(node *n, struct raft_apply *req, void *buf, size_t len, raft_apply_cb cb)
{
    struct raft_buffer b = {.base = buf, .len = len};
    return raft_apply(&n->raft, req, &b, 1, cb);
}

static void nodeRaftClosed(struct raft *r)
{
    node *n = r->data;
    raft_uv_close(&n->io);
    transport_close(&n->transport);
    fsm_close(&n->fsm);
    n->started = false;
    log_info("raft closed");
    if (n->on_close != NULL) {
        n->on_close(n);
    }
}

void node_close(node *n, node_close_cb cb)
{
    n->on_close = cb;
    uv_timer_stop(&n->watch);
    uv_close((uv_handle_t *)&n->watch, NULL);
    raft_close(&n->raft, nodeRaftClosed);
}
