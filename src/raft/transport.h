/* transport — the Raft bus: a raft_uv_transport over TCP whose handshake
 * carries the cluster identity, so that a node of another cluster (or one
 * started on another cluster's data directory) is never spoken to.
 *
 * Why not libraft's raft_uv_tcp: its handshake is the protocol, the server
 * id the peer claims and an address whose length comes from the wire; there
 * is no room for an identity, and no bound on the address or on the number
 * of half-open peers. Here:
 *
 *   connector -> acceptor  "SEQDBUS\0", version u16, flags u16 (1: has a
 *                          cluster id), address length u16 (1..64), 0 u16,
 *                          raft id u64, cluster id [16], founding u64,
 *                          address
 *   acceptor  -> connector "SEQDBUS\0", verdict u16, flags u16, 0 u32,
 *                          cluster id [16], founding u64
 *
 * (little endian). Both sides judge with identity_compatible; the stream
 * goes to raft only on IDENTITY_OK from both.
 *
 * With a cluster secret (version 2) the hello ends with a 16-byte nonce,
 * the reply with the acceptor's nonce and HMAC-SHA256(secret, "seqd-bus-
 * acceptor-v2", hello, reply so far), and the connector then sends
 * HMAC-SHA256(secret, "seqd-bus-connector-v2", hello, reply): each side's
 * MAC covers the other's fresh nonce, so neither can be replayed, and the
 * acceptor hands raft nothing before the connector's MAC holds. A node
 * with a secret and one without never agree (their versions differ). A handshake that does not
 * finish within TRANSPORT_HANDSHAKE_MS is dropped, and at most
 * TRANSPORT_PENDING_MAX incoming ones wait at a time. Every connection has
 * TCP_NODELAY set (with Nagle's algorithm a leader's small AppendEntries
 * waited for the follower's delayed ACK: a ~45 ms p99 floor).
 *
 * With --tls-cluster the TCP connection carries mutual TLS and everything
 * above runs on the plaintext end of the proxy (bus_tls.h); the
 * handshake's time bound covers the TLS handshake too.
 *
 * Ownership: a stream handed to raft was allocated with raft_malloc and is
 * raft's from then on (it uv_close()s and raft_free()s it). */
#ifndef SEQD_TRANSPORT_H
#define SEQD_TRANSPORT_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <uv.h>

#include "identity.h"
#include "tls.h"

#define TRANSPORT_ADDRESS_MAX 64
#define TRANSPORT_HANDSHAKE_MS 1000 /* loopback or a LAN answers in well under a millisecond */
#define TRANSPORT_PENDING_MAX 64

typedef struct transport transport;

/* Told of every finished handshake: the peer's claimed id and address, its
 * identity, the verdict, and whether this node made the connection. */
typedef void (*transport_peer_fn)(void *ctx, raft_id id, const char *address,
                                  const identity *peer, identity_verdict verdict, bool outgoing);

struct transport {
    struct raft_uv_transport outer; /* what raft_uv uses (it owns outer.data) */
    uv_loop_t *loop;
    raft_id id;
    char address[TRANSPORT_ADDRESS_MAX + 1];
    const identity *self; /* read at every handshake: it changes as the cluster forms */
    /* --cluster-secret-file: every connection proves both ends know it
     * (handshake version 2, below) before a byte reaches raft */
    bool has_secret;
    uint8_t secret[32];
    transport_peer_fn on_peer;
    void *peer_ctx;
    /* --tls-cluster: every connection runs in mutual TLS (bus_tls.h), and
     * the hello is judged only after the TLS handshake: the acceptor takes
     * a peer only when its certificate names the IP of the address it
     * claims and member_ok says that id lives at that address (NULL
     * contexts: plain TCP) */
    tls_ctx *tls_server, *tls_client;
    bool (*member_ok)(void *ctx, raft_id id, const char *address);
    uv_tcp_t listener;
    bool listening; /* the listener handle is open (until its close callback) */
    bool bound;     /* ... and accepting */
    /* Set before raft_start: raft's listen() only records its callback, and
     * nothing listens until transport_listen_now (a single node has no one
     * to hear from, so it opens no bus port). */
    bool listen_later;
    raft_uv_accept_cb accept_cb;
    raft_uv_transport_close_cb close_cb;
    bool closing;
    struct transport_handshake *handshakes; /* in progress, both directions */
    size_t incoming; /* of them, accepted ones */
    size_t live;     /* handshakes not yet freed (closing ones too) */
    uint64_t refused_incoming; /* handshakes refused or dropped (INFO) */
    uint64_t refused_certs;    /* of them, a certificate not the claimed member's */
    char refused_cert_last[TRANSPORT_ADDRESS_MAX + 1]; /* logged once in a row */
};

/* Sets the transport up (no I/O yet); self must outlive it. */
int transport_init(transport *t, uv_loop_t *loop, const identity *self);

/* Releases it, after raft has closed it (raft_uv_close). */
void transport_close(transport *t);

/* Starts listening on the bus address if listen_later kept it from it:
 * 0 (also when already listening), or a raft error after logging why. */
int transport_listen_now(transport *t);

#endif
