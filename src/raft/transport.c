/* transport — the Raft bus (see transport.h): the raft_uv_transport raft
 * calls, the listener, and each connection's life (TCP, then TLS under
 * --tls-cluster, the handshake's timer, the hand-over to raft); the words of
 * the handshake are transport_hello.c's. */
#include "transport.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_tls.h"
#include "log.h"
#include "peer_proof.h"
#include "seq_bytes.h"

#include "transport_internal.h"

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

void hsFail(transport_handshake *h, int status)
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
void hsSucceed(transport_handshake *h)
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
    hsAddressHost(h->peer_address, ip, sizeof(ip));
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
