/* forward — a follower's path to the leader: requests for the sequence
 * state are sent over a client connection to the leader's client port, and
 * its replies are relayed verbatim, so clients need no cluster logic.
 *
 * Invariants: replies are matched to requests in order (one link per
 * protocol version, RESP replies in request order); every submitted request
 * gets exactly one done callback: the leader's reply, or an error — TRYAGAIN
 * when it never left this node, UNKNOWN when the link broke after it was
 * sent (it may have been applied: the client retries with its KEY), or
 * CLUSTERDOWN when no leader has been known for long. A request waits at
 * most request_timeout_ms for a leader. Buffers are bounded.
 *
 * The link also carries this node's wall clock to the leader (CLUSTER
 * CLOCK), at once when a new leader is known and every
 * CLOCK_REPORT_EVERY_MS after: a leader serves writes only while its clock
 * agrees with a majority's (docs/clock.md). */
#ifndef SEQD_FORWARD_H
#define SEQD_FORWARD_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "node.h"
#include "resp.h"

/* The name a forwarding link gives itself (CLIENT SETNAME): a node never
 * forwards a request that arrived on such a link again, so requests cannot
 * loop between nodes that disagree about the leader. */
#define FORWARD_CLIENT_NAME "seqd-forward"

/* reply/len valid only during the call, and only when err == 0 (BATCH_OK). */
typedef void (*forward_done_fn)(void *owner, uint64_t tag, const char *reply, size_t len,
                                int err);

typedef struct forward_link forward_link;
typedef struct forward_wait forward_wait;

typedef struct forwarder {
    uv_loop_t *loop;
    node *node;
    const config *cfg;
    forward_done_fn done;
    forward_link *links[2]; /* RESP2 and RESP3 */
    forward_wait *wait_head, *wait_tail; /* no leader known yet */
    size_t n_pending;                     /* submitted, not yet done */
    uv_timer_t timer;
    bool stopping;
    char unreachable[48];      /* a leader address that refused us lately */
    uint64_t unreachable_until_ms; /* ... and until when not to try it again */
    uint64_t forwarded; /* statistics */
    char clock_target[48];  /* the leader our clock was last reported to */
    uint64_t clock_sent_ms; /* ... and when */
} forwarder;

int forwarder_init(forwarder *f, uv_loop_t *loop, node *n, const config *cfg,
                   forward_done_fn done);

/* Sends argv to the leader (copied at once). proto is the client's. */
void forwarder_submit(forwarder *f, int proto, const resp_arg *argv, size_t argc, void *owner,
                      uint64_t tag);

/* Fails everything not yet answered with err and closes the links. */
void forwarder_stop(forwarder *f, int err);

#endif
