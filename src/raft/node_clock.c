/* node_clock — a leader's clock against its followers' (docs/clock.md).
 *
 * Keeps: a leader whose wall clock is not within --max-clock-offset-ms of
 * a majority serves no writes (node_clock_ok); one that most followers
 * find off hands leadership over, at most once per NODE_TRANSFER_PAUSE_MS. */
#include <assert.h>

#include "log.h"
#include "node_internal.h"

#define NODE_TRANSFER_PAUSE_MS 2000 /* between two clock hand-overs of one node */

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
    assert(k <= cap && k <= *voters);
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
    assert(agree + disagree <= voters); /* counted among the other voters only */
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

/* A leader without a clock quorum that most of its followers find off by
 * more than the bound hands leadership to one of them: a node with a bad
 * clock must not lead (docs/clock.md). With fewer dissenters nobody can
 * tell whose clock is wrong (one good and one bad node left of three):
 * the leader keeps leading but proposes nothing (node_clock_ok), and
 * handing over would only make the two trade leadership. */
void nodeCheckClock(node *n)
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
