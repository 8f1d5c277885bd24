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
 * Every request travels wrapped as FWD term deadline_ms request: the
 * leader applies it only in the term this node sent it for and before the
 * deadline (commands.c, fwdCommand). This node waits for the reply until
 * the deadline plus --max-clock-offset-ms, then tells the client "outcome
 * unknown" (by then the leader can no longer take it up); a reply that
 * comes later is dropped, and its numbers are reported undelivered (the
 * lost callback). When the leader changes, the requests sent to the old
 * one are answered "outcome unknown" at once, but its link is not cut:
 * it is drained, up to the same bound, so the numbers of the replies it
 * still sends (what it applied before it lost leadership) are reported.
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

/* The name a forwarding link gives itself (CLIENT SETNAME), for CLIENT
 * LIST only: a name grants nothing. What makes a connection a node's is
 * its proof (CLUSTER CHALLENGE / CLUSTER PEER, peer_proof.h); a node never
 * forwards a request that arrived on a proven link again, so requests
 * cannot loop between nodes that disagree about the leader. */
#define FORWARD_CLIENT_NAME "seqd-forward"

/* reply/len valid only during the call, and only when err == 0 (BATCH_OK). */
typedef void (*forward_done_fn)(void *owner, uint64_t tag, const char *reply, size_t len,
                                int err);
/* Requests the server forwards itself carry BATCH_TAG_INTERNAL; their
 * owner starts with a forward_internal, whose done gets the reply. */
typedef struct forward_internal {
    forward_done_fn done;
} forward_internal;
/* A reply that came after its client was told "outcome unknown": name is
 * the request's sequence (it was a NEXT, INCR or RESERVE without KEY). */
typedef void (*forward_lost_fn)(void *ctx, const char *name, const char *reply, size_t len);

#define FORWARD_DRAINING_MAX 8 /* links to former leaders still answering */

typedef struct forward_link forward_link;
typedef struct forward_wait forward_wait;

typedef struct forwarder {
    uv_loop_t *loop;
    node *node;
    const config *cfg;
    forward_done_fn done;
    forward_link *links[2]; /* RESP2 and RESP3 */
    forward_link *draining[FORWARD_DRAINING_MAX]; /* to former leaders */
    forward_lost_fn lost;
    void *lost_ctx;
    uint64_t abandoned; /* requests answered "outcome unknown" by timeout */
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

/* Sends argv to the leader (copied at once). proto is the client's.
 * report: the sequence name of a NEXT, INCR or RESERVE without KEY (its
 * numbers are reported should the reply come too late), or NULL. user:
 * who asked, "@name" or "?default" (see fwdCommand), or NULL or empty. */
void forwarder_submit(forwarder *f, int proto, const resp_arg *argv, size_t argc, void *owner,
                      uint64_t tag, const resp_arg *report, const resp_arg *user);

/* Fails everything not yet answered with err and closes the links. */
void forwarder_stop(forwarder *f, int err);

#endif
