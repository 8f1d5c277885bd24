/* forward_internal — what the forwarder's files share (forward.c, the
 * links and their queues; forward_proof.c, a link proving it is a node's);
 * not part of forward.h's contract.
 *
 * Keeps: a link's ring of pending requests (fwPush/fwPop) holds one entry
 * per reply owed, in send order; the proof's steps are its first entries
 * (proof_unanswered of them) and have no bytes in out. */
#ifndef SEQD_FORWARD_INTERNAL_H
#define SEQD_FORWARD_INTERNAL_H

#include "forward.h"

#define FORWARD_OUT_MAX (256u << 20)   /* bytes queued towards the leader */
#define FORWARD_RETRY_MS 100 /* before connecting again to a leader that refused */

typedef struct forward_req {
    void *owner; /* NULL: the link's own set-up command, or abandoned */
    uint64_t tag;
    uint64_t created_ms; /* when the client's request arrived: a requeued
                          * request keeps it, so its wait stays bounded */
    char *report;        /* the sequence of a reportable request, or NULL */
    bool windowed;       /* sent in FWD: it waits at most fwWaitMs */
} forward_req;

struct forward_wait {
    forward_wait *next;
    void *owner;
    uint64_t tag;
    int proto;
    uint64_t created_ms;
    char *report;
    size_t len;
    char bytes[]; /* the request, RESP-encoded (not yet wrapped in FWD) */
};

struct forward_link {
    forwarder *fw;
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t wreq;
    int proto;
    char target[48];
    bool connected, writing, closing;
    resp_buf out, wbuf;
    char *in;
    size_t in_len, in_alloc;
    forward_req *pending; /* ring, in send order */
    size_t p_head, p_n, p_cap;
    uint64_t opened_ms;   /* loop time the connect began */
    bool draining;        /* its node leads no more: answers are still read */
    /* The link proves it is a node's before anything else is sent on it
     * (peer_proof.h): CLUSTER CHALLENGE, then CLUSTER PEER, each alone on
     * the wire; until then proof_out holds the step's bytes, out waits. */
    int proof;
    int proof_unanswered; /* the proof's steps still in the ring (no bytes in out) */
    resp_buf proof_out;
    uint64_t drain_since; /* loop time it started draining */
};

enum { FW_PROOF_CHALLENGE = 0, FW_PROOF_PEER = 1, FW_PROOF_DONE = 2 };

/* Whether none of the link's requests has left this node yet: it never
 * connected, or it has not finished proving itself. */
static inline bool fwSentNothing(const forward_link *l)
{
    return !l->connected || l->proof != FW_PROOF_DONE;
}

/* forward.c */
void fwPush(forward_link *l, void *owner, uint64_t tag, uint64_t created_ms, char *report);
forward_req fwPop(forward_link *l);
void fwLinkClose(forward_link *l, int err); /* its unanswered requests fail with err */
void fwFlush(forward_link *l);              /* writes what may leave now */
void fwEncode(resp_buf *b, const resp_arg *argv, size_t argc);
void fwRequeue(forward_link *l); /* nothing was sent: back to the wait queue */

/* forward_proof.c */
/* Queues the link's first step (CLUSTER CHALLENGE) and the ring entries of
 * both steps' replies; nothing else leaves before the proof is done. */
void fwProofStart(forward_link *l);
/* One reply of the proof; false when the link was closed. */
bool fwProofStep(forward_link *l, const char *reply, size_t len);
/* Gives up on a link that could not prove itself (requeues, backs off). */
void fwProofFailed(forward_link *l, const char *why);

#endif
