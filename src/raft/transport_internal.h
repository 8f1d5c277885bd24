/* transport_internal — what transport.c (the raft_uv_transport, and each
 * connection's life: TCP, TLS, timers, hand-over to raft) and
 * transport_hello.c (the hello, the reply and the secret's proofs written
 * and judged on it) share: the handshake's state and the wire sizes
 * (transport.h gives the layout). Nothing outside the two includes it. */
#ifndef SEQD_TRANSPORT_INTERNAL_H
#define SEQD_TRANSPORT_INTERNAL_H

#include "bus_tls.h"
#include "transport.h"

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

/* ---- transport.c ---- */

/* Gives up on a handshake: closes what it holds (raft's connect callback
 * gets status once everything is closed). Once only. */
void hsFail(transport_handshake *h, int status);

/* Both directions said yes: the stream is raft's. */
void hsSucceed(transport_handshake *h);

/* ---- transport_hello.c ---- */

/* The connector's hello, on the TCP or on the TLS proxy's plaintext end. */
void hsSendHello(transport_handshake *h);

/* The acceptor waits for the connector's hello. */
void hsAwaitHello(transport_handshake *h);

/* The host part of "a.b.c.d:port" into host. */
void hsAddressHost(const char *address, char *host, size_t cap);

#endif
