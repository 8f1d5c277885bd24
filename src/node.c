/* node — libraft + raft_uv set-up (see node.h). */
#include "node.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

int node_start(node *n, uv_loop_t *loop, const config *c, fsm_claim_fn claim, void *claim_ctx)
{
    int rv;
    memset(n, 0, sizeof(*n));
    n->loop = loop;
    n->id = 1;
    snprintf(n->address, sizeof(n->address), "%s:%d", c->bind, c->raft_port);
    snprintf(n->raft_dir, sizeof(n->raft_dir), "%s/raft", c->dir);
    if (mkdir(n->raft_dir, 0750) != 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", n->raft_dir, strerror(errno));
        return RAFT_IOERR;
    }
    seq_limits limits = {.keys_max = c->max_keys};
    fsm_init(&n->fsm, &limits, claim, claim_ctx);

    n->transport.version = 1;
    rv = raft_uv_tcp_init(&n->transport, loop);
    if (rv != 0) {
        log_error("raft transport: %s", raft_strerror(rv));
        goto err_after_fsm;
    }
    rv = raft_uv_init(&n->io, loop, n->raft_dir, &n->transport);
    if (rv != 0) {
        log_error("raft log in %s: %s", n->raft_dir, n->io.errmsg);
        goto err_after_transport;
    }
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

    struct raft_configuration conf;
    raft_configuration_init(&conf);
    rv = raft_configuration_add(&conf, n->id, n->address, RAFT_VOTER);
    if (rv == 0) {
        rv = raft_bootstrap(&n->raft, &conf);
        if (rv == RAFT_CANTBOOTSTRAP) {
            rv = 0; /* the directory already holds a log */
        } else if (rv == 0) {
            log_info("bootstrapped a new single-node cluster in %s", n->raft_dir);
        }
    }
    raft_configuration_close(&conf);
    if (rv != 0) {
        log_error("raft bootstrap: %s", raft_errmsg(&n->raft));
        goto err_after_raft;
    }
    rv = raft_start(&n->raft);
    if (rv != 0) {
        log_error("raft start: %s", raft_errmsg(&n->raft));
        goto err_after_raft;
    }
    n->started = true;
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
    raft_uv_tcp_close(&n->transport);
err_after_fsm:
    fsm_close(&n->fsm);
    return rv;
}

bool node_is_leader(node *n)
{
    return n->started && raft_state(&n->raft) == RAFT_LEADER;
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
    raft_uv_tcp_close(&n->transport);
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
    raft_close(&n->raft, nodeRaftClosed);
}
