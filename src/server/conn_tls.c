/* conn_tls — a client connection over TLS (tls.h): ciphertext read from
 * the socket is fed to its session and the plaintext goes into the same
 * input buffer a plain connection reads into; replies are encrypted as
 * they leave. Everything above (parsing, slots, reports) is the same.
 *
 * Keeps: the input stays within query_max as for a plain client (what
 * does not fit stays inside the session until there is room); a reply's
 * bytes count as sent (for the reports of conn_report.c) only once all
 * the ciphertext that carries them is in the kernel; a handshake that
 * fails or takes longer than --tls-handshake-timeout-ms closes the
 * connection, and nothing is answered before it completes. */
#include "conn_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void connTlsAlloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn *c = h->data;
    /* fed to the session at once in connTlsOnRead: one buffer serves all */
    *buf = uv_buf_init(c->srv->tls_scratch, CONN_TLS_READ_CHUNK);
}

/* Room for plaintext in c->in, grown as connAlloc grows it; 0 at the cap. */
static size_t connTlsRoom(conn *c)
{
    size_t cap = c->srv->cfg->query_max;
    if (c->in_alloc - c->in_len < CONN_READ_CHUNK && c->in_alloc < cap) {
        size_t grown = c->in_alloc == 0 ? 2 * CONN_READ_CHUNK : c->in_alloc * 2;
        c->in = connXrealloc(c->in, grown > cap ? cap : grown);
        c->in_alloc = grown > cap ? cap : grown;
    }
    return c->in_alloc - c->in_len;
}

/* The handshake just completed: a verified certificate may name the
 * client's user (--tls-auth-clients-user CN). */
static void connTlsEstablished(conn *c)
{
    c->srv->env->stats->tls_established++;
    char cn[SEQ_USER_MAX + 2];
    if (!c->srv->cfg->tls_auth_clients_user || !tls_session_peer_cn(c->tls, cn, sizeof(cn))) {
        return;
    }
    seq_login_info who;
    seq_acl_login_info(c->srv->env->node->fsm.state, cn, strlen(cn), &who);
    size_t len = strlen(cn);
    if (seq_user_valid(cn, len) && who.exists && who.enabled) {
        c->client.authenticated = true;
        memcpy(c->client.user, cn, len + 1);
        c->client.user_len = len;
    }
}

void connTlsFailed(conn *c, const char *why)
{
    c->srv->env->stats->tls_failed++;
    log_debug("tls: client closed: %s", why);
    connClose(c);
}

/* Decrypts what fits into the input (*total bytes); false when c was
 * closed. */
static bool connTlsDecrypt(conn *c, size_t *total)
{
    bool was = c->tls->established;
    *total = 0;
    for (;;) {
        size_t room = connTlsRoom(c);
        size_t got = 0;
        int rv = tls_session_read(c->tls, c->in + c->in_len, room, &got);
        c->in_len += got;
        *total += got;
        if (rv != TLS_OK) {
            connTlsFailed(c, rv == TLS_CLOSED ? "close_notify" : tls_session_error());
            return false;
        }
        if (!was && c->tls->established) {
            was = true;
            connTlsEstablished(c);
        }
        if (got == 0 || room == got) {
            return true; /* nothing more now, or no room: the rest waits inside */
        }
    }
}

/* Takes what the session can decrypt into the input and runs it, until
 * the session holds nothing more or the client must wait (paused: then
 * connResumeMaybe pumps again). A client whose session still holds
 * plaintext when its input is full of one unfinished request is past the
 * query cap. */
void connTlsPump(conn *c)
{
    for (;;) {
        size_t got = 0;
        if (!connTlsDecrypt(c, &got)) {
            return;
        }
        if (tls_session_pending(c->tls) > 0) {
            connMarkDirty(c); /* handshake messages to send */
        }
        size_t before = c->in_len;
        if (c->in_len > 0) {
            connProcess(c);
        }
        if (c->closing || c->paused || c->blocked || c->close_when_flushed ||
            !tls_session_has_plaintext(c->tls)) {
            return;
        }
        if (c->in_len == before && c->in_len == c->in_alloc && c->in_alloc >= c->srv->cfg->query_max) {
            connProtocolError(c, "ERR Protocol error: query buffer limit reached");
            connMarkDirty(c);
            return;
        }
        if (got == 0) {
            return; /* what is inside is part of a record: more must come */
        }
    }
}

void connTlsOnRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = stream->data;
    if (nread < 0) {
        connClose(c);
        return;
    }
    tls_session_feed(c->tls, buf->base, (size_t)nread);
    connTlsPump(c);
}

/* connFlush for TLS: the replies in out are encrypted into wbuf, and the
 * plaintext they carry counts as sent once wbuf is all in the kernel. */
void connFlushTls(conn *c)
{
    if (c->writing || c->closing) {
        return;
    }
    if (c->out.len > 0) {
        if (tls_session_write(c->tls, c->out.data, c->out.len) != TLS_OK) {
            connTlsFailed(c, tls_session_error());
            return;
        }
        c->tls_plain_pending += c->out.len;
        c->out.len = 0;
    }
    size_t pending = tls_session_pending(c->tls);
    if (pending > 0) {
        c->wbuf.len = 0;
        if (c->wbuf.alloc < pending) {
            /* bounded: the replies under the output cap, plus TLS's framing */
            c->wbuf.data = connXrealloc(c->wbuf.data, pending);
            c->wbuf.alloc = pending;
        }
        c->wbuf.len = tls_session_take(c->tls, c->wbuf.data, pending);
    }
    if (c->wbuf.len == 0) {
        connFlushDone(c);
        return;
    }
    uv_buf_t now = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &now, 1);
    if (n == (int)c->wbuf.len) {
        c->wbuf.len = 0;
        c->sent_total += c->tls_plain_pending;
        c->tls_plain_pending = 0;
        connReportsSent(c);
        connFlushDone(c);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        connClose(c);
        return;
    }
    size_t sent = n > 0 ? (size_t)n : 0;
    uv_buf_t b = uv_buf_init(c->wbuf.data + sent, (unsigned)(c->wbuf.len - sent));
    c->wreq.data = c;
    c->queued = c->tls_plain_pending; /* what connOnWrite counts as sent */
    c->tls_plain_pending = 0;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, connOnWrite) != 0) {
        c->queued = 0;
        c->wbuf.len = 0;
        connClose(c);
        return;
    }
    c->writing = true;
}

void connTlsSweep(uv_timer_t *t)
{
    conn_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    for (conn *c = s->conns; c != NULL; c = c->next) {
        if (c->tls != NULL && !c->closing && !c->tls->established && now >= c->tls_deadline_ms) {
            s->env->stats->tls_timeouts++;
            connTlsFailed(c, "handshake timed out");
        }
    }
}
