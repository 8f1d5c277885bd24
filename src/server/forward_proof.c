/* forward_proof — a forward link proving it is a node's (peer_proof.h)
 * before anything else leaves on it: CLUSTER CHALLENGE, then CLUSTER PEER
 * id proof under the cluster's peer key, each alone on the wire.
 *
 * Keeps: until the verdict is +OK, no byte of the link's out buffer is
 * sent, so a link that fails here requeues its requests (they never left)
 * instead of answering "outcome unknown". */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "forward_internal.h"
#include "log.h"
#include "peer_proof.h"

void fwProofStart(forward_link *l)
{
    assert(l->p_n == 0 && l->out.len == 0);
    resp_buf_init(&l->proof_out, FORWARD_OUT_MAX);
    const resp_arg challenge[] = {{"CLUSTER", 7}, {"CHALLENGE", 9}};
    fwEncode(&l->proof_out, challenge, 2);
    l->proof = FW_PROOF_CHALLENGE;
    fwPush(l, NULL, 0, 0, NULL); /* the challenge's reply */
    fwPush(l, NULL, 0, 0, NULL); /* the proof's verdict */
    l->proof_unanswered = 2;
}

/* Gives up on a link that could not prove itself: nothing of its requests
 * left, so they wait for the next attempt, a moment later. */
void fwProofFailed(forward_link *l, const char *why)
{
    forwarder *f = l->fw;
    if (strcmp(f->unreachable, l->target) != 0) { /* once per leader, as connect failures */
        log_warn("forward: link to leader %s not taken as a node's: %s", l->target, why);
    }
    snprintf(f->unreachable, sizeof(f->unreachable), "%s", l->target);
    f->unreachable_until_ms = uv_now(f->loop) + FORWARD_RETRY_MS;
    fwRequeue(l);
    fwLinkClose(l, BATCH_ERR_TRYAGAIN); /* nothing left to fail */
}

/* One reply of the proof: the challenge's nonce (answered with the proof
 * under the cluster's peer key), then the verdict. False when the link was
 * closed. */
bool fwProofStep(forward_link *l, const char *reply, size_t len)
{
    static const char head[] = "$" "32" "\r\n";
    if (l->proof == FW_PROOF_CHALLENGE) {
        uint8_t nonce[PEER_NONCE_BYTES];
        const fsm *key = &l->fw->node->fsm;
        if (len != sizeof(head) - 1 + PEER_NONCE_HEX + 2 || memcmp(reply, head, sizeof(head) - 1) != 0 ||
            !peer_unhex(reply + sizeof(head) - 1, PEER_NONCE_HEX, nonce, sizeof(nonce))) {
            fwProofFailed(l, "its CLUSTER CHALLENGE reply is no nonce");
            return false;
        }
        if (!key->has_peer_key) {
            fwProofFailed(l, "this node has not applied the cluster's peer key yet");
            return false;
        }
        char proof[PEER_PROOF_HEX + 1], id[24];
        peer_proof(key->peer_key, nonce, l->fw->node->id, proof);
        int id_len = snprintf(id, sizeof(id), "%llu", (unsigned long long)l->fw->node->id);
        const resp_arg peer[] = {{"CLUSTER", 7}, {"PEER", 4}, {id, (size_t)id_len},
                                 {proof, PEER_PROOF_HEX}};
        fwEncode(&l->proof_out, peer, 4);
        l->proof = FW_PROOF_PEER;
        fwFlush(l);
        return true;
    }
    assert(l->proof == FW_PROOF_PEER);
    if (len != 5 || memcmp(reply, "+OK\r\n", 5) != 0) {
        char why[96];
        snprintf(why, sizeof(why), "CLUSTER PEER answered %.*s", (int)(len > 2 ? len - 2 : 0), reply);
        fwProofFailed(l, why);
        return false;
    }
    l->proof = FW_PROOF_DONE;
    fwFlush(l);
    return true;
}
