/* node — libraft + raft_uv set-up (see node.h). */
#include "node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static void nodeWatch(uv_timer_t *t);

/* The founding configuration: this node alone, or every --cluster member. */
static int nodeBootstrap(node *n, const config *c)
{
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    if (c->n_members == 0) {
        rv = raft_configuration_add(&conf, n->id, n->address, RAFT_VOTER);
    }
    for (int i = 0; i < c->n_members && rv == 0; i++) {
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
    memset(n, 0, sizeof(*n));
    n->loop = loop;
    n->cfg = c;
    snprintf(n->address, sizeof(n->address), "%s:%d", c->bind, c->raft_port);
    /* A single node keeps id 1 whatever its address, so it can move; cluster
     * ids come from bus addresses (see config_raft_id). */
    n->id = c->n_members == 0 ? 1 : config_raft_id(n->address);
    snprintf(n->raft_dir, sizeof(n->raft_dir), "%s/raft", c->dir);
    if (mkdir(n->raft_dir, 0750) != 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", n->raft_dir, strerror(errno));
        return RAFT_IOERR;
    }
    fsm_init(&n->fsm, claim, claim_ctx);
    n->fsm.halt = nodeHalt;
    n->fsm.halt_ctx = n;

    rv = transport_init(&n->transport, loop);
    if (rv != 0) {
        log_error("raft transport: %s", raft_strerror(rv));
        goto err_after_fsm;
    }
    rv = raft_uv_init(&n->io, loop, n->raft_dir, &n->transport.outer);
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

    if (c->n_members == 0 || c->self >= 0) {
        rv = nodeBootstrap(n, c);
        if (rv != 0) {
            log_error("raft bootstrap: %s", raft_errmsg(&n->raft));
            goto err_after_raft;
        }
    } else {
        log_info("not in --cluster: waiting to be added (CLUSTER ADD %s:%d@%d on the leader)",
                 c->bind, c->port, c->raft_port);
    }
    uint64_t had_applied = nodeReadApplied(n);
    rv = raft_start(&n->raft);
    if (rv != 0) {
        log_error("raft start: %s (%s; %s)", raft_strerror(rv), raft_errmsg(&n->raft),
                  n->io.errmsg);
        if (n->fsm.bad_snapshots > 0) {
            char name[256];
            nodeNewestFile(n, "snapshot-", name, sizeof(name));
            log_error("data check: the snapshot %s/%s fails its check: this node refuses to "
                      "serve from less than it had (move the directory away to rebuild the node "
                      "from the others, or restore a backup)",
                      n->raft_dir, name);
        }
        goto err_after_raft;
    }
    if (raft_last_index(&n->raft) < had_applied) {
        /* libraft sets a segment it finds corrupt aside (corrupt-...) and
         * starts from what is left: never serve from less than was applied */
        char name[256];
        nodeNewestFile(n, "corrupt-", name, sizeof(name));
        log_error("data check: this node had applied log entry %llu, but its log now ends at "
                  "%llu (%s%s): it refuses to serve from less than it had (move the directory "
                  "away to rebuild the node from the others, or restore a backup)",
                  (unsigned long long)had_applied,
                  (unsigned long long)raft_last_index(&n->raft),
                  name[0] != '\0' ? "set aside as corrupt: " : "files missing",
                  name[0] != '\0' ? name : "");
        rv = RAFT_CORRUPT;
        goto err_after_raft;
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
    if (n->cfg->max_clock_offset_ms == 0 || n->cfg->n_members == 0 || !node_is_leader(n)) {
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
    if (n->cfg->max_clock_offset_ms == 0 || n->cfg->n_members == 0 || n->transferring ||
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
    }
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
        if (n->cfg->members[i].id == id) {
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
