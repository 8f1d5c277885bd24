/* transport — the Raft bus with an identity handshake (see transport.h). */
#include "transport.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_tls.h"
#include "log.h"
#include "peer_proof.h"
#include "seq_bytes.h"

#define HELLO_MAGIC "SEQDBUS"
#define HELLO_VERSION 1
#define HELLO_VERSION_SECRET 2 /* with --cluster-secret-file: nonces and MACs */
#define BUS_NONCE 16
#define BUS_MAC 32
#define HELLO_FIXED (8 + 2 + 2 + 2 + 2 + 8 + IDENTITY_CLUSTER_BYTES + 8)
#define HELLO_MAX (HELLO_FIXED + TRANSPORT_ADDRESS_MAX)
#define REPLY_LEN (8 + 2 + 2 + 4 + IDENTITY_CLUSTER_BYTES + 8)
#define REPLY_LEN_SECRET (REPLY_LEN + BUS_NONCE + BUS_MAC)
#define FLAG_HAS_CLUSTER 1

typedef struct transport_handshake {
    transport *t;
    struct transport_handshake *next, *prev;
    /* the TCP (raft_malloc'd), or with TLS the proxy's plaintext end once
     * its handshake is done; NULL while the proxy has the TCP and once the
     * stream is raft's */
    uv_stream_t *stream;
    bus_tls *proxy;  /* the TLS handshake in progress, or NULL */
    void *peer_cert; /* with TLS: the peer's verified certificate */
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_write_t write_req;
    int closes_pending; /* handles still closing */
    bool outgoing, wrote, read_done, failed, linked;
    int fail_status; /* for raft's connect callback */
    struct raft_uv_connect *req; /* outgoing: raft's request */
    raft_uv_connect_cb cb;
    raft_id peer_id;
    char peer_address[TRANSPORT_ADDRESS_MAX + 1];
    identity peer;
    identity_verdict verdict;
    uint8_t out[HELLO_MAX + BUS_NONCE + BUS_MAC];
    uint8_t in[HELLO_MAX + BUS_NONCE + BUS_MAC];
    size_t in_len, in_want;
    size_t out_len; /* the hello or reply written, for the MACs */
    /* with a cluster secret: the connector's proof, after the reply */
    uint8_t proof[BUS_MAC];
    size_t proof_len;
    bool reading_proof, proof_sending, proof_wrote;
} transport_handshake;

static void transportMaybeClosed(transport *t);
static void transportListenerClosed(uv_handle_t *handle);

static void hsLink(transport_handshake *h)
{
    transport *t = h->t;
    h->next = t->handshakes;
    h->prev = NULL;
    if (t->handshakes != NULL) {
        t->handshakes->prev = h;
    }
    t->handshakes = h;
    h->linked = true;
    if (!h->outgoing) {
        t->incoming++;
    }
}

static void hsUnlink(transport_handshake *h)
{
    transport *t = h->t;
    if (!h->linked) {
        return;
    }
    if (h->prev != NULL) {
        h->prev->next = h->next;
    } else {
        t->handshakes = h->next;
    }
    if (h->next != NULL) {
        h->next->prev = h->prev;
    }
    h->linked = false;
    if (!h->outgoing) {
        assert(t->incoming > 0);
        t->incoming--;
    }
}

/* The last handle of a handshake closed: tell raft of a failed connect,
 * then free it. */
static void hsReleased(transport_handshake *h)
{
    transport *t = h->t;
    if (h->outgoing && h->cb != NULL) {
        raft_uv_connect_cb cb = h->cb;
        h->cb = NULL;
        cb(h->req, NULL, h->fail_status);
    }
    if (h->peer_cert != NULL) {
        tls_cert_free(h->peer_cert);
    }
    free(h);
    assert(t->live > 0);
    t->live--;
    transportMaybeClosed(t);
}

static void hsTcpClosed(uv_handle_t *handle)
{
    transport_handshake *h = handle->data;
    raft_free(handle);
    if (--h->closes_pending == 0) {
        hsReleased(h);
    }
}

static void hsTimerClosed(uv_handle_t *handle)
{
    transport_handshake *h = handle->data;
    if (--h->closes_pending == 0) {
        hsReleased(h);
    }
}

static void hsFail(transport_handshake *h, int status)
{
    if (h->failed) {
        return;
    }
    h->failed = true;
    h->fail_status = status;
    hsUnlink(h);
    uv_timer_stop(&h->timer);
    if (h->proxy != NULL) {
        bus_tls_abort(h->proxy); /* it closes the TCP it holds */
        h->proxy = NULL;
    }
    if (h->stream != NULL) {
        h->stream->data = h;
        uv_close((uv_handle_t *)h->stream, hsTcpClosed);
        h->stream = NULL;
    }
    uv_close((uv_handle_t *)&h->timer, hsTimerClosed);
}

/* Both directions said yes: the stream is raft's. */
static void hsSucceed(transport_handshake *h)
{
    transport *t = h->t;
    uv_stream_t *stream = h->stream;
    h->stream = NULL;
    h->closes_pending--; /* the stream is no longer ours to close */
    hsUnlink(h);
    uv_timer_stop(&h->timer);
    uv_read_stop(stream);
    stream->data = NULL;
    if (h->outgoing) {
        raft_uv_connect_cb cb = h->cb;
        h->cb = NULL;
        cb(h->req, stream, 0);
    } else {
        t->accept_cb(&t->outer, h->peer_id, h->peer_address, stream);
    }
    h->failed = true; /* nothing more happens to it */
    uv_close((uv_handle_t *)&h->timer, hsTimerClosed);
}

static void hsTimeout(uv_timer_t *timer)
{
    transport_handshake *h = timer->data;
    if (!h->outgoing) {
        h->t->refused_incoming++;
    }
    hsFail(h, RAFT_NOCONNECTION);
}

static transport_handshake *hsNew(transport *t, bool outgoing)
{
    transport_handshake *h = calloc(1, sizeof(*h));
    uv_tcp_t *tcp = raft_malloc(sizeof(*tcp));
    if (h == NULL || tcp == NULL) {
        free(h);
        raft_free(tcp);
        return NULL;
    }
    h->t = t;
    h->outgoing = outgoing;
    h->stream = (uv_stream_t *)tcp;
    uv_tcp_init(t->loop, tcp);
    uv_timer_init(t->loop, &h->timer);
    tcp->data = h;
    h->timer.data = h;
    h->closes_pending = 2;
    t->live++;
    hsLink(h);
    uv_timer_start(&h->timer, hsTimeout, TRANSPORT_HANDSHAKE_MS, 0);
    return h;
}

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
static void addressHost(const char *address, char *host, size_t cap)
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
    addressHost(h->peer_address, ip, sizeof(ip));
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
static void hsSendHello(transport_handshake *h)
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
static void hsAwaitHello(transport_handshake *h)
{
    h->in_want = HELLO_FIXED;
    if (uv_read_start(h->stream, hsAlloc, hsRead) != 0) {
        hsFail(h, RAFT_NOCONNECTION);
    }
}

/* The proxy's TLS handshake ended: on success the hello goes over its
 * plaintext end, and the peer's certificate waits for the acceptor's
 * judgement of the hello (hsPeerProven). */
static void hsTlsReady(void *ctx, uv_stream_t *plain, void *peer_cert)
{
    transport_handshake *h = ctx;
    h->proxy = NULL;
    if (plain == NULL) {
        if (!h->outgoing) {
            h->t->refused_incoming++; /* plaintext, garbage, a certificate the CA did not sign */
        }
        hsFail(h, RAFT_NOCONNECTION);
        return;
    }
    h->stream = plain;
    plain->data = h;
    h->closes_pending++;
    h->peer_cert = peer_cert;
    if (h->outgoing) {
        hsSendHello(h);
    } else {
        hsAwaitHello(h);
    }
}

/* A TCP connection made or accepted: TLS first when the bus has it, then
 * the hello. */
static void hsStart(transport_handshake *h)
{
    transport *t = h->t;
    uv_tcp_nodelay((uv_tcp_t *)h->stream, 1);
    tls_ctx *ctx = h->outgoing ? t->tls_client : t->tls_server;
    if (ctx == NULL) {
        if (h->outgoing) {
            hsSendHello(h);
        } else {
            hsAwaitHello(h);
        }
        return;
    }
    uv_tcp_t *tcp = (uv_tcp_t *)h->stream;
    h->stream = NULL;
    h->closes_pending--; /* the proxy closes the TCP from now on */
    char ip[TRANSPORT_ADDRESS_MAX + 1];
    addressHost(h->peer_address, ip, sizeof(ip));
    if (bus_tls_start(t->loop, ctx, tcp, h->outgoing ? ip : NULL, hsTlsReady, h, &h->proxy) != 0) {
        h->proxy = NULL;
        hsFail(h, RAFT_NOCONNECTION);
    }
}

static void hsConnected(uv_connect_t *req, int status)
{
    transport_handshake *h = req->data;
    if (h->failed) {
        return;
    }
    if (status != 0) {
        hsFail(h, RAFT_NOCONNECTION);
        return;
    }
    hsStart(h);
}

/* "a.b.c.d:port" into addr; false when it is not one. */
static bool parseAddress(const char *address, struct sockaddr_in *addr)
{
    char host[32];
    unsigned port;
    char tail;
    if (sscanf(address, "%31[0-9.]:%u%c", host, &port, &tail) != 2 || port == 0 || port > 65535) {
        return false;
    }
    return uv_ip4_addr(host, (int)port, addr) == 0;
}

static int transportInit(struct raft_uv_transport *outer, raft_id id, const char *address)
{
    transport *t = outer->impl;
    if (strlen(address) > TRANSPORT_ADDRESS_MAX) {
        snprintf(outer->errmsg, sizeof(outer->errmsg), "address too long: %s", address);
        return RAFT_NAMETOOLONG;
    }
    t->id = id;
    snprintf(t->address, sizeof(t->address), "%s", address);
    return 0;
}

static void transportIncoming(uv_stream_t *listener, int status)
{
    transport *t = listener->data;
    if (status != 0 || t->closing) {
        return;
    }
    if (t->incoming >= TRANSPORT_PENDING_MAX) {
        /* too many half-open peers: take this one off the backlog and drop it */
        uv_tcp_t *drop = raft_malloc(sizeof(*drop));
        if (drop != NULL) {
            uv_tcp_init(t->loop, drop);
            if (uv_accept(listener, (uv_stream_t *)drop) == 0) {
                t->refused_incoming++;
            }
            uv_close((uv_handle_t *)drop, (uv_close_cb)raft_free);
        }
        return;
    }
    transport_handshake *h = hsNew(t, false);
    if (h == NULL) {
        return;
    }
    if (uv_accept(listener, h->stream) != 0) {
        hsFail(h, RAFT_NOCONNECTION);
        return;
    }
    hsStart(h);
}

/* Binds the bus address and listens; 0, or a raft error after logging why. */
static int transportBind(transport *t)
{
    struct sockaddr_in addr;
    if (!parseAddress(t->address, &addr)) {
        snprintf(t->outer.errmsg, sizeof(t->outer.errmsg), "bad bus address %s", t->address);
        return RAFT_INVALID;
    }
    uv_tcp_init(t->loop, &t->listener);
    t->listener.data = t;
    t->listening = true;
    int rv = uv_tcp_bind(&t->listener, (const struct sockaddr *)&addr, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&t->listener, 128, transportIncoming);
    }
    if (rv != 0) {
        snprintf(t->outer.errmsg, sizeof(t->outer.errmsg), "listen on %s: %s", t->address,
                 uv_strerror(rv));
        log_error("raft bus: cannot listen on %s: %s", t->address, uv_strerror(rv));
        /* closed at once, so a later try (or the transport's close) finds none */
        uv_close((uv_handle_t *)&t->listener, transportListenerClosed);
        return RAFT_IOERR;
    }
    t->bound = true;
    return 0;
}

static int transportListen(struct raft_uv_transport *outer, raft_uv_accept_cb cb)
{
    transport *t = outer->impl;
    t->accept_cb = cb;
    if (t->listen_later) {
        return 0; /* a single node: no door until it has members (transport_listen_now) */
    }
    return transportBind(t);
}

int transport_listen_now(transport *t)
{
    assert(t->accept_cb != NULL); /* raft asked to listen first */
    if (t->bound || t->listening || t->closing) {
        return 0;
    }
    int rv = transportBind(t);
    if (rv == 0) {
        log_info("raft bus: listening on %s", t->address);
    }
    return rv;
}

static int transportConnect(struct raft_uv_transport *outer, struct raft_uv_connect *req,
                            raft_id id, const char *address, raft_uv_connect_cb cb)
{
    transport *t = outer->impl;
    struct sockaddr_in addr;
    if (t->closing) {
        return RAFT_CANCELED;
    }
    if (!parseAddress(address, &addr) || strlen(address) > TRANSPORT_ADDRESS_MAX) {
        snprintf(outer->errmsg, sizeof(outer->errmsg), "bad peer address %s", address);
        return RAFT_NOCONNECTION;
    }
    transport_handshake *h = hsNew(t, true);
    if (h == NULL) {
        return RAFT_NOMEM;
    }
    h->req = req;
    h->cb = cb;
    req->cb = cb;
    h->peer_id = id;
    snprintf(h->peer_address, sizeof(h->peer_address), "%s", address);
    h->connect_req.data = h;
    int rv = uv_tcp_connect(&h->connect_req, (uv_tcp_t *)h->stream, (const struct sockaddr *)&addr, hsConnected);
    if (rv != 0) {
        /* raft retries after its delay; the callback still runs, once */
        hsFail(h, RAFT_NOCONNECTION);
    }
    return 0;
}

static void transportListenerClosed(uv_handle_t *handle)
{
    transport *t = handle->data;
    t->listening = false;
    t->bound = false;
    transportMaybeClosed(t);
}

static void transportMaybeClosed(transport *t)
{
    if (!t->closing || t->listening || t->live > 0 || t->close_cb == NULL) {
        return;
    }
    raft_uv_transport_close_cb cb = t->close_cb;
    t->close_cb = NULL;
    cb(&t->outer);
}

static void transportCloseOuter(struct raft_uv_transport *outer, raft_uv_transport_close_cb cb)
{
    transport *t = outer->impl;
    t->closing = true;
    t->close_cb = cb;
    while (t->handshakes != NULL) {
        hsFail(t->handshakes, RAFT_CANCELED);
    }
    if (t->listening) {
        if (!uv_is_closing((uv_handle_t *)&t->listener)) {
            uv_close((uv_handle_t *)&t->listener, transportListenerClosed);
        }
    } else {
        transportMaybeClosed(t);
    }
}

int transport_init(transport *t, uv_loop_t *loop, const identity *self)
{
    memset(t, 0, sizeof(*t));
    t->loop = loop;
    t->self = self;
    t->outer.version = 1;
    t->outer.impl = t;
    t->outer.init = transportInit;
    t->outer.listen = transportListen;
    t->outer.connect = transportConnect;
    t->outer.close = transportCloseOuter;
    return 0;
}

void transport_close(transport *t)
{
    /* everything was released before raft_uv's close callback ran */
    assert(t->live == 0 && !t->listening);
    (void)t;
}
