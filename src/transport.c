/* transport — raft_uv_tcp with TCP_NODELAY (see transport.h). */
#include "transport.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef struct transport_connect {
    struct raft_uv_connect inner_req;
    struct raft_uv_connect *outer_req;
    raft_uv_connect_cb outer_cb;
} transport_connect;

static void transportNoDelay(struct uv_stream_s *stream)
{
    if (stream != NULL && stream->type == UV_TCP) {
        uv_tcp_nodelay((uv_tcp_t *)stream, 1);
    }
}

static int transportInit(struct raft_uv_transport *outer, raft_id id, const char *address)
{
    transport *t = outer->impl;
    int rv = t->inner.init(&t->inner, id, address);
    if (rv != 0) {
        memcpy(outer->errmsg, t->inner.errmsg, sizeof(outer->errmsg));
    }
    return rv;
}

static void transportAccepted(struct raft_uv_transport *inner, raft_id id, const char *address,
                              struct uv_stream_s *stream)
{
    transport *t = inner->data;
    transportNoDelay(stream);
    t->accept_cb(&t->outer, id, address, stream);
}

static int transportListen(struct raft_uv_transport *outer, raft_uv_accept_cb cb)
{
    transport *t = outer->impl;
    t->accept_cb = cb;
    int rv = t->inner.listen(&t->inner, transportAccepted);
    if (rv != 0) {
        memcpy(outer->errmsg, t->inner.errmsg, sizeof(outer->errmsg));
    }
    return rv;
}

static void transportConnected(struct raft_uv_connect *inner_req, struct uv_stream_s *stream,
                               int status)
{
    transport_connect *c = inner_req->data;
    if (status == 0) {
        transportNoDelay(stream);
    }
    struct raft_uv_connect *outer_req = c->outer_req;
    raft_uv_connect_cb cb = c->outer_cb;
    free(c);
    cb(outer_req, stream, status);
}

static int transportConnect(struct raft_uv_transport *outer, struct raft_uv_connect *req,
                            raft_id id, const char *address, raft_uv_connect_cb cb)
{
    transport *t = outer->impl;
    transport_connect *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return RAFT_NOMEM;
    }
    c->inner_req.data = c;
    c->outer_req = req;
    c->outer_cb = cb;
    req->cb = cb;
    int rv = t->inner.connect(&t->inner, &c->inner_req, id, address, transportConnected);
    if (rv != 0) {
        memcpy(outer->errmsg, t->inner.errmsg, sizeof(outer->errmsg));
        free(c);
    }
    return rv;
}

static void transportClosed(struct raft_uv_transport *inner)
{
    transport *t = inner->data;
    if (t->close_cb != NULL) {
        t->close_cb(&t->outer);
    }
}

static void transportCloseOuter(struct raft_uv_transport *outer, raft_uv_transport_close_cb cb)
{
    transport *t = outer->impl;
    t->close_cb = cb;
    t->inner.close(&t->inner, transportClosed);
}

int transport_init(transport *t, uv_loop_t *loop)
{
    memset(t, 0, sizeof(*t));
    t->inner.version = 1;
    int rv = raft_uv_tcp_init(&t->inner, loop);
    if (rv != 0) {
        return rv;
    }
    t->inner.data = t;
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
    raft_uv_tcp_close(&t->inner);
}
