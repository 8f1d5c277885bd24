/* node — one Raft server: libraft with the raft_uv disk log and our bus
 * (see node.h). This file starts and stops it and watches its role; the
 * directory's identity, the peers, the clock check and the data checks
 * are node_identity.c, node_peers.c, node_clock.c and node_datacheck.c.
 *
 * Keeps: a node serves only once its data passed every check at start
 * (identity, snapshot and log checksums, the applied index); role changes
 * reach on_role in the order they happened, from the watch timer. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "node_internal.h"

static void nodeWatch(uv_timer_t *t);

#define NODE_BUS_RETRY_MS 1000 /* between two tries to open a grown single node's bus */

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

/* Clears n for a start, keeping the hooks its caller set beforehand. */
static void nodeReset(node *n, uv_loop_t *loop, const config *c)
{
    void (*halt)(uint64_t, const char *) = n->fsm_halt;
    void (*refuse)(const char *) = n->refuse;
    void (*on_restore)(void *, bool) = n->on_restore;
    void *restore_ctx = n->restore_ctx;
    memset(n, 0, sizeof(*n));
    n->fsm_halt = halt;
    n->refuse = refuse;
    n->on_restore = on_restore;
    n->restore_ctx = restore_ctx;
    n->loop = loop;
    n->cfg = c;
    snprintf(n->address, sizeof(n->address), "%s:%d", c->bind, c->raft_port);
    snprintf(n->raft_dir, sizeof(n->raft_dir), "%s/raft", c->dir);
}

/* The libraft settings that follow from the flags. */
static void nodeTune(node *n, const config *c)
{
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
    n->snapshot_threshold = c->snapshot_threshold;
    raft_set_snapshot_trailing(&n->raft, c->snapshot_trailing);
    raft_set_max_inflight_entries(&n->raft, 1024);
}

/* libraft snapshots by entries, but a restart replays commands, and a
 * snapshot costs what the state weighs: 65,536 entries of up to 4,096
 * commands held 10 M NEXTs, 1.46 s to replay after a kill -9, while with
 * 10 M idempotency keys held a snapshot every 65,536 small entries took
 * unrelated NEXTs from 73k/s to 24k/s (both bench/curves.py). So the
 * threshold follows the state: once this many commands (or two per key
 * held) were applied since the last snapshot it drops, so that libraft
 * takes one at its next apply; otherwise it is the configured one, raised
 * to one entry per eight keys held (the entries it keeps in memory until
 * then cost less than a snapshot of that state each time). A snapshot of
 * a key costs about what replaying a keyed NEXT does (~1 µs each: 10 M
 * keys restarted in 9.7 s from a snapshot, 13.3 s from 40 M commands'
 * worth of log), so two commands per key bound the replay at about twice
 * the snapshot's own load. */
#define NODE_SNAPSHOT_COMMANDS 1000000u

static void nodeCheckSnapshotDue(node *n)
{
    const fsm *f = &n->fsm;
    if (f->state == NULL) {
        return;
    }
    uint64_t items = seq_count_keys(f->state) + seq_count_pkeys(f->state);
    uint64_t due = items * 2 > NODE_SNAPSHOT_COMMANDS ? items * 2 : NODE_SNAPSHOT_COMMANDS;
    uint64_t by_entries = items / 8 > n->cfg->snapshot_threshold ? items / 8
                                                                   : n->cfg->snapshot_threshold;
    unsigned threshold = f->commands_since_snapshot >= due ? 16
                         : by_entries > UINT_MAX          ? UINT_MAX
                                                          : (unsigned)by_entries;
    if (threshold != n->snapshot_threshold) {
        n->snapshot_threshold = threshold;
        raft_set_snapshot_threshold(&n->raft, threshold);
    }
}

/* --tls-cluster: the bus's TLS contexts, from a certificate that names
 * this node's own bus IP (its peers will insist on it). */
static int nodeBusTls(node *n)
{
    if (tls_bus_ctx_init(&n->bus_tls_server, &n->bus_tls_client, n->cfg) != 0) {
        return RAFT_INVALID;
    }
    char ip[sizeof(n->address)];
    const char *colon = strrchr(n->address, ':');
    snprintf(ip, sizeof(ip), "%.*s", colon != NULL ? (int)(colon - n->address) : 0, n->address);
    if (!tls_ctx_cert_has_ip(&n->bus_tls_server, ip)) {
        log_error("--tls-cluster: %s does not name this node's bus IP %s (an IP subjectAltName); "
                  "its peers would refuse it", n->cfg->tls_cert_file, ip);
        tls_ctx_free(&n->bus_tls_server);
        tls_ctx_free(&n->bus_tls_client);
        return RAFT_INVALID;
    }
    n->transport.tls_server = &n->bus_tls_server;
    n->transport.tls_client = &n->bus_tls_client;
    n->transport.member_ok = nodeBusMemberOk;
    return 0;
}

/* The fsm, the bus, the disk log and the raft instance over them. On
 * failure what was made is released, except a raft instance: only
 * raft_close may release it, asynchronously, and the caller exits. */
static int nodeOpenRaft(node *n, uv_loop_t *loop, const config *c, fsm_claim_fn claim,
                        void *claim_ctx)
{
    fsm_init(&n->fsm, claim, claim_ctx);
    n->fsm.halt = nodeHalt;
    n->fsm.halt_ctx = n;
    n->fsm.on_identity = nodeOnIdentity;
    n->fsm.identity_ctx = n;
    n->fsm.on_restore = n->on_restore;
    n->fsm.restore_ctx = n->restore_ctx;
    int rv = transport_init(&n->transport, loop, &n->ident);
    n->transport.on_peer = nodeOnPeer;
    n->transport.peer_ctx = n;
    n->transport.has_secret = c->has_cluster_secret;
    memcpy(n->transport.secret, c->cluster_secret, sizeof(n->transport.secret));
    if (rv == 0 && c->tls_cluster) {
        rv = nodeBusTls(n);
    }
    /* A single node hears from nobody: no Raft port until it has members. */
    n->transport.listen_later = n->ident.kind == IDENTITY_SINGLE;
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
    nodeTune(n, c);
    return 0;

err_after_io:
    raft_uv_close(&n->io);
err_after_transport:
    transport_close(&n->transport);
err_after_fsm:
    fsm_close(&n->fsm);
    return rv;
}

/* A single node or a founding member bootstraps (a no-op on a directory
 * with a log); a joiner waits to be added. */
static int nodeBootstrapOrWait(node *n, const config *c)
{
    if (n->ident.kind == IDENTITY_SINGLE || (c->self >= 0 && n->ident.founding != 0)) {
        int rv = nodeBootstrap(n, c);
        if (rv != 0) {
            log_error("raft bootstrap: %s", raft_errmsg(&n->raft));
        }
        return rv;
    }
    log_info("joining: waiting to be added (CLUSTER ADD %s:%d@%d on the leader)", c->bind,
             c->port, c->raft_port);
    return 0;
}

int node_start(node *n, uv_loop_t *loop, const config *c, fsm_claim_fn claim, void *claim_ctx)
{
    assert(n != NULL && loop != NULL && c != NULL);
    nodeReset(n, loop, c);
    if (mkdir(n->raft_dir, 0750) != 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", n->raft_dir, strerror(errno));
        return RAFT_IOERR;
    }
    if (nodeLoadIdentity(n, c) != 0) {
        return NODE_REFUSED;
    }
    /* the id the directory was made with, whatever the flags say now */
    n->id = n->ident.raft_id;
    assert(n->id != 0);
    int rv = nodeOpenRaft(n, loop, c, claim, claim_ctx);
    if (rv == 0) {
        rv = nodeBootstrapOrWait(n, c);
    }
    if (rv != 0) {
        return rv;
    }
    uint64_t had_applied = nodeReadApplied(n);
    rv = raft_start(&n->raft);
    if (rv != 0) {
        log_error("raft start: %s (%s)", raft_strerror(rv), n->io.errmsg);
        return nodeRefuseDamaged(n, rv);
    }
    if (nodeCheckApplied(n, had_applied) != 0) {
        return NODE_REFUSED;
    }
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
}

void nodeHalt(void *ctx, const char *why)
{
    node *n = ctx;
    uint64_t index = n->started ? raft_last_applied(&n->raft) + 1 : 0;
    if (n->fsm_halt != NULL) {
        n->fsm_halt(index, why);
    }
}

bool node_is_leader(node *n)
{
    return n->started && raft_state(&n->raft) == RAFT_LEADER;
}

static void nodeWatch(uv_timer_t *t)
{
    node *n = t->data;
    assert(n->started);
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
        nodeProposePeerKey(n);
    }
    nodeCheckGrown(n);
    nodeCheckForeign(n);
    nodeCheckSnapshotDue(n);
    if (n->transport.listen_later && !n->transport.bound && n->raft.configuration.n > 1 &&
        (n->bus_tried_ms == 0 || now - n->bus_tried_ms >= NODE_BUS_RETRY_MS)) {
        /* members were added: they must reach this node's bus to answer it */
        n->bus_tried_ms = now;
        transport_listen_now(&n->transport);
    }
    if (now - n->applied_written_ms >= NODE_APPLIED_EVERY_MS &&
        raft_last_applied(&n->raft) > n->recorded_applied) {
        n->applied_written_ms = now;
        nodeWriteApplied(n, raft_last_applied(&n->raft));
    }
    raft_term term = raft_current_term(&n->raft);
    bool role_changed = (state == RAFT_LEADER) != (n->last_state == RAFT_LEADER) ||
                        (state == RAFT_LEADER && term != n->last_term);
    if (leader != 0 && leader != n->last_leader) {
        n->leader_changes++;
    }
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

bool node_cluster_down(node *n)
{
    return uv_now(n->loop) - n->leader_seen_ms > 4ull * n->cfg->election_timeout_ms;
}

int node_propose(node *n, struct raft_apply *req, void *buf, size_t len, raft_apply_cb cb)
{
    assert(n->started && buf != NULL && len > 0);
    struct raft_buffer b = {.base = buf, .len = len};
    return raft_apply(&n->raft, req, &b, 1, cb);
}

static void nodeRaftClosed(struct raft *r)
{
    node *n = r->data;
    raft_uv_close(&n->io);
    transport_close(&n->transport);
    tls_ctx_free(&n->bus_tls_server); /* a proxy's session holds its own reference */
    tls_ctx_free(&n->bus_tls_client);
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
