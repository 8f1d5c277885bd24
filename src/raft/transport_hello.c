/* transport_hello — the bus handshake's words (transport.h gives the
 * layout): the connector's hello, the acceptor's reply and verdict, and
 * with a cluster secret the MACs over both; under --tls-cluster, the
 * acceptor's test of the certificate against the member the hello claims.
 * Every read is bounded by what the handshake still expects, so no byte
 * that belongs to raft is read here. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "peer_proof.h"
#include "seq_bytes.h"
#include "transport_internal.h"

static void putIdentity(seq_writer *w, const identity *id)
{
    if (id->has_cluster) {
        seq_put_bytes(w, id->cluster, IDENTITY_CLUSTER_BYTES);
    } else {
        uint8_t zero[IDENTITY_CLUSTER_BYTES] = {0};
        seq_put_bytes(w, zero, sizeof(zero));
    }
}

static void getIdentity(seq_reader *r, uint16_t flags, identity *id)
{
    const uint8_t *cluster = seq_get_bytes(r, IDENTITY_CLUSTER_BYTES);
    id->has_cluster = (flags & FLAG_HAS_CLUSTER) != 0 && cluster != NULL;
    if (id->has_cluster) {
        memcpy(id->cluster, cluster, IDENTITY_CLUSTER_BYTES);
    }
    id->founding = seq_get_u64(r);
}

static void hsAlloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    transport_handshake *h = handle->data;
    /* never more than the handshake: what follows is raft's */
    if (h->reading_proof) {
        *buf = uv_buf_init((char *)h->proof + h->proof_len, (unsigned)(BUS_MAC - h->proof_len));
        return;
    }
    *buf = uv_buf_init((char *)h->in + h->in_len, (unsigned)(h->in_want - h->in_len));
}

static void hsWrote(uv_write_t *req, int status);

static void hsWrite(transport_handshake *h, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)h->out, (unsigned)len);
    h->write_req.data = h;
    int rv = uv_write(&h->write_req, h->stream, &buf, 1, hsWrote);
    if (rv != 0) {
        hsFail(h, RAFT_NOCONNECTION);
    }
}

/* Logs a refusal, at most once per peer address and verdict in a row. */
static void hsLogVerdict(transport_handshake *h, const char *side)
{
    char mine[40], theirs[40];
    identity_cluster_hex(h->t->self, mine, sizeof(mine));
    identity_cluster_hex(&h->peer, theirs, sizeof(theirs));
    log_debug("raft bus: %s %s (id %llu) refused: %s (cluster %s here, %s there; founding "
              "%016llx here, %016llx there)",
              side, h->peer_address[0] != '\0' ? h->peer_address : "a peer",
              (unsigned long long)h->peer_id,
              h->verdict == IDENTITY_FOREIGN_CLUSTER    ? "another cluster"
              : h->verdict == IDENTITY_FOREIGN_FOUNDING ? "bootstrapped with other members"
                                                        : "not a seqd bus handshake",
              mine, theirs, (unsigned long long)h->t->self->founding,
              (unsigned long long)h->peer.founding);
}

static void hsTell(transport_handshake *h)
{
    transport *t = h->t;
    if (t->on_peer != NULL && h->verdict != IDENTITY_BAD_HELLO) {
        t->on_peer(t->peer_ctx, h->peer_id, h->peer_address, &h->peer, h->verdict, h->outgoing);
    }
}

/* A MAC of the handshake so far under the cluster secret: the acceptor's
 * covers the hello and its reply up to the MAC (so the connector's nonce
 * binds it to this connection), the connector's the hello and the whole
 * reply (the acceptor's nonce binds it). */
static void busMac(const transport *t, const char *label, const uint8_t *hello, size_t hello_len,
                   const uint8_t *reply, size_t reply_len, uint8_t out[BUS_MAC])
{
    assert(t->has_secret);
    const void *parts[] = {hello, reply};
    size_t lens[] = {hello_len, reply_len};
    peer_hmac(t->secret, sizeof(t->secret), label, parts, lens, 2, out);
}

/* A fresh nonce into w; false (the handshake failed) without randomness. */
static bool putNonce(transport_handshake *h, seq_writer *w)
{
    uint8_t nonce[BUS_NONCE];
    if (peer_nonce(nonce) != 0) {
        hsFail(h, RAFT_NOCONNECTION);
        return false;
    }
    seq_put_bytes(w, nonce, BUS_NONCE);
    return true;
}

#define BUS_LABEL_ACCEPTOR "seqd-bus-acceptor-v2"
#define BUS_LABEL_CONNECTOR "seqd-bus-connector-v2"

/* The host part of "a.b.c.d:port". */
void hsAddressHost(const char *address, char *host, size_t cap)
{
    const char *colon = strrchr(address, ':');
    size_t n = colon != NULL ? (size_t)(colon - address) : strlen(address);
    snprintf(host, cap, "%.*s", (int)n, address);
}

/* With TLS, the acceptor's test of the member the hello claims to be: the
 * certificate must name the IP of the address claimed, and that must be
 * the id's address here. A certificate from the cluster's CA alone is not
 * enough to speak as any member (Consul's CVE-2021-37219). */
static bool hsPeerProven(transport_handshake *h)
{
    transport *t = h->t;
    if (t->tls_server == NULL) {
        return true;
    }
    char ip[TRANSPORT_ADDRESS_MAX + 1];
    hsAddressHost(h->peer_address, ip, sizeof(ip));
    bool named = tls_cert_has_ip(h->peer_cert, ip);
    bool member = t->member_ok == NULL || t->member_ok(t->peer_ctx, h->peer_id, h->peer_address);
    if (named && member) {
        return true;
    }
    t->refused_certs++;
    if (strcmp(t->refused_cert_last, h->peer_address) != 0) { /* once in a row per address */
        snprintf(t->refused_cert_last, sizeof(t->refused_cert_last), "%s", h->peer_address);
        log_warn("raft bus: a connection claiming to be member %llu at %s refused: %s",
                 (unsigned long long)h->peer_id, h->peer_address,
                 !named ? "its certificate does not name that IP"
                        : "that is not the member's address in this node's configuration");
    }
    return false;
}

/* The acceptor judged an incoming hello (h->in, h->in_len bytes). */
static void hsJudgeHello(transport_handshake *h)
{
    transport *t = h->t;
    seq_reader r = {h->in, h->in_len, 8, false};
    uint16_t version = seq_get_u16(&r);
    uint16_t flags = seq_get_u16(&r);
    uint16_t addr_len = seq_get_u16(&r);
    (void)seq_get_u16(&r);
    h->peer_id = seq_get_u64(&r);
    getIdentity(&r, flags, &h->peer);
    const uint8_t *addr = seq_get_bytes(&r, addr_len);
    if (addr != NULL) {
        memcpy(h->peer_address, addr, addr_len);
        h->peer_address[addr_len] = '\0';
    }
    bool printable = addr != NULL && strlen(h->peer_address) == addr_len;
    if (printable && !r.bad && !hsPeerProven(h)) {
        t->refused_incoming++;
        hsFail(h, RAFT_NOCONNECTION); /* not even a reply */
        return;
    }
    uint16_t want = t->has_secret ? HELLO_VERSION_SECRET : HELLO_VERSION;
    h->verdict = version != want || r.bad || !printable || h->peer_id == 0
                     ? IDENTITY_BAD_HELLO
                     : identity_compatible(t->self, &h->peer);
    if (version != want && !r.bad) {
        log_debug("raft bus: a peer sent handshake version %u, this node speaks %u (%s)", version,
                  want, t->has_secret ? "it has a cluster secret" : "it has no cluster secret");
    }
    seq_writer w = {h->out, 0, sizeof(h->out), false};
    seq_put_bytes(&w, HELLO_MAGIC, 8);
    seq_put_u16(&w, (uint16_t)h->verdict);
    seq_put_u16(&w, t->self->has_cluster ? FLAG_HAS_CLUSTER : 0);
    seq_put_u32(&w, 0);
    putIdentity(&w, t->self);
    seq_put_u64(&w, t->self->founding);
    assert(!w.overflow && w.len == REPLY_LEN);
    if (t->has_secret) {
        if (!putNonce(h, &w)) {
            return;
        }
        uint8_t mac[BUS_MAC];
        busMac(t, BUS_LABEL_ACCEPTOR, h->in, h->in_len, h->out, w.len, mac);
        seq_put_bytes(&w, mac, BUS_MAC);
        assert(!w.overflow && w.len == REPLY_LEN_SECRET);
    }
    if (h->verdict != IDENTITY_OK) {
        t->refused_incoming++;
        hsLogVerdict(h, "connection from");
    }
    if (!t->has_secret) {
        hsTell(h); /* with a secret, only once the peer proved it (hsJudgeProof) */
    }
    uv_read_stop(h->stream);
    h->read_done = true;
    h->out_len = w.len;
    hsWrite(h, w.len);
}

/* The connector, once its hello is out and the reply judged: with a
 * secret it sends its proof first; then the stream is raft's. */
static void hsConnectorMaybeDone(transport_handshake *h)
{
    if (h->failed || !h->wrote || !h->read_done) {
        return;
    }
    if (h->t->has_secret && !h->proof_wrote) {
        /* sent on a refusal too: the acceptor believes the verdict's reason
         * (another cluster, other founders) only from a proven peer */
        if (!h->proof_sending) {
            h->proof_sending = true;
            uv_buf_t buf = uv_buf_init((char *)h->proof, BUS_MAC);
            h->write_req.data = h;
            if (uv_write(&h->write_req, h->stream, &buf, 1, hsWrote) != 0) {
                hsFail(h, RAFT_NOCONNECTION);
            }
        }
        return;
    }
    if (h->verdict != IDENTITY_OK) {
        hsFail(h, RAFT_NOCONNECTION);
        return;
    }
    hsSucceed(h);
}

/* The connector judged the acceptor's reply. */
static void hsJudgeReply(transport_handshake *h)
{
    transport *t = h->t;
    seq_reader r = {h->in, h->in_len, 8, false};
    uint16_t verdict = seq_get_u16(&r);
    uint16_t flags = seq_get_u16(&r);
    (void)seq_get_u32(&r);
    getIdentity(&r, flags, &h->peer);
    identity_verdict mine = identity_compatible(t->self, &h->peer);
    h->verdict = r.bad || verdict > IDENTITY_BAD_HELLO ? IDENTITY_BAD_HELLO
                 : verdict != IDENTITY_OK              ? (identity_verdict)verdict
                                                       : mine;
    h->read_done = true;
    uv_read_stop(h->stream);
    if (t->has_secret) {
        /* Nothing of a reply counts, not even a refusal, unless the
         * acceptor proved it knows the secret. */
        uint8_t want[BUS_MAC];
        busMac(t, BUS_LABEL_ACCEPTOR, h->out, h->out_len, h->in, REPLY_LEN + BUS_NONCE, want);
        if (r.bad || !peer_mac_equal(want, h->in + REPLY_LEN + BUS_NONCE)) {
            log_warn("raft bus: %s does not know the cluster secret: refused", h->peer_address);
            hsFail(h, RAFT_NOCONNECTION);
            return;
        }
        busMac(t, BUS_LABEL_CONNECTOR, h->out, h->out_len, h->in, REPLY_LEN_SECRET, h->proof);
    }
    if (h->verdict != IDENTITY_OK) {
        hsLogVerdict(h, "connection to");
    }
    hsTell(h);
    if (h->verdict != IDENTITY_OK && !t->has_secret) {
        hsFail(h, RAFT_NOCONNECTION);
    } else {
        hsConnectorMaybeDone(h);
    }
}

/* The acceptor read the connector's proof: the stream is raft's only if
 * it holds. */
static void hsJudgeProof(transport_handshake *h)
{
    transport *t = h->t;
    uint8_t want[BUS_MAC];
    busMac(t, BUS_LABEL_CONNECTOR, h->in, h->in_len, h->out, h->out_len, want);
    uv_read_stop(h->stream);
    if (!peer_mac_equal(want, h->proof)) {
        if (h->verdict == IDENTITY_OK) {
            t->refused_incoming++; /* a refused hello was counted already */
        }
        log_warn("raft bus: connection from %s (id %llu) does not know the cluster secret: "
                 "refused", h->peer_address, (unsigned long long)h->peer_id);
        hsFail(h, RAFT_NOCONNECTION);
        return;
    }
    hsTell(h); /* a proven peer: what it says of itself may be believed */
    if (h->verdict != IDENTITY_OK) {
        hsFail(h, RAFT_NOCONNECTION);
        return;
    }
    hsSucceed(h);
}

static void hsRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    transport_handshake *h = stream->data;
    if (nread < 0) {
        hsFail(h, RAFT_NOCONNECTION);
        return;
    }
    if (h->reading_proof) {
        h->proof_len += (size_t)nread;
        assert(h->proof_len <= BUS_MAC);
        if (h->proof_len == BUS_MAC) {
            hsJudgeProof(h);
        }
        return;
    }
    h->in_len += (size_t)nread;
    assert(h->in_len <= h->in_want);
    if (h->in_len < h->in_want) {
        return;
    }
    if (memcmp(h->in, HELLO_MAGIC, 8) != 0) {
        if (!h->outgoing) {
            h->t->refused_incoming++;
        }
        hsFail(h, RAFT_NOCONNECTION); /* not a seqd node: not even a reply */
        return;
    }
    if (h->outgoing) {
        hsJudgeReply(h);
        return;
    }
    if (h->in_want == HELLO_FIXED) {
        seq_reader r = {h->in, h->in_len, 8, false};
        uint16_t version = seq_get_u16(&r);
        (void)seq_get_u16(&r);
        uint16_t addr_len = seq_get_u16(&r);
        if (addr_len == 0 || addr_len > TRANSPORT_ADDRESS_MAX) {
            h->t->refused_incoming++;
            hsFail(h, RAFT_NOCONNECTION);
            return;
        }
        /* a version-2 hello ends with the connector's nonce */
        h->in_want += addr_len + (version == HELLO_VERSION_SECRET ? BUS_NONCE : 0);
        return;
    }
    hsJudgeHello(h);
}

static void hsWrote(uv_write_t *req, int status)
{
    transport_handshake *h = req->data;
    bool proof = h->proof_sending;
    if (proof) {
        h->proof_sending = false;
        h->proof_wrote = true;
    } else {
        h->wrote = true;
    }
    if (h->failed) {
        return;
    }
    if (status != 0) {
        hsFail(h, RAFT_NOCONNECTION);
        return;
    }
    if (h->outgoing) {
        hsConnectorMaybeDone(h);
        return;
    }
    /* the reply is out: with a secret the connector's proof comes next (on
     * a refusal too, so the refusal's reason is told only of a proven
     * peer); without, a refused peer has read why, now it goes */
    if (h->t->has_secret) {
        h->reading_proof = true;
        if (uv_read_start(h->stream, hsAlloc, hsRead) != 0) {
            hsFail(h, RAFT_NOCONNECTION);
        }
    } else if (h->verdict != IDENTITY_OK) {
        hsFail(h, RAFT_NOCONNECTION);
    } else {
        hsSucceed(h);
    }
}

/* The connector's hello, on the TCP or on the TLS proxy's plaintext end. */
void hsSendHello(transport_handshake *h)
{
    transport *t = h->t;
    size_t addr_len = strlen(t->address);
    seq_writer w = {h->out, 0, sizeof(h->out), false};
    seq_put_bytes(&w, HELLO_MAGIC, 8);
    seq_put_u16(&w, t->has_secret ? HELLO_VERSION_SECRET : HELLO_VERSION);
    seq_put_u16(&w, t->self->has_cluster ? FLAG_HAS_CLUSTER : 0);
    seq_put_u16(&w, (uint16_t)addr_len);
    seq_put_u16(&w, 0);
    seq_put_u64(&w, t->id);
    putIdentity(&w, t->self);
    seq_put_u64(&w, t->self->founding);
    seq_put_bytes(&w, t->address, addr_len);
    if (t->has_secret && !putNonce(h, &w)) {
        return;
    }
    assert(!w.overflow);
    h->out_len = w.len;
    h->in_want = t->has_secret ? REPLY_LEN_SECRET : REPLY_LEN;
    if (uv_read_start(h->stream, hsAlloc, hsRead) != 0) {
        hsFail(h, RAFT_NOCONNECTION);
        return;
    }
    hsWrite(h, w.len);
}

/* The acceptor waits for the connector's hello. */
void hsAwaitHello(transport_handshake *h)
{
    h->in_want = HELLO_FIXED;
    if (uv_read_start(h->stream, hsAlloc, hsRead) != 0) {
        hsFail(h, RAFT_NOCONNECTION);
    }
}

