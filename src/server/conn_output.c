/* conn_output — a connection's output: finished replies appended under
 * the --client-output-max cap, written once per loop turn (a uv_prepare
 * just before libuv polls), with uv_try_write first and a write request
 * only for what the socket did not take.
 *
 * Invariants: out.len never passes the cap (past it the client is dropped
 * with a reset, its unsent replies reported undelivered); at most one write
 * request is in flight (writing), over wbuf, while out collects the next
 * replies; sent_total counts only bytes the kernel took; a connection is on
 * the dirty list at most once, and never while closing. */
#include "conn_internal.h"

#include <assert.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"

static void connFlush(conn *c);

void connUndirty(conn *c)
{
    if (!c->dirty) {
        return;
    }
    if (c->dirty_prev != NULL) {
        c->dirty_prev->dirty_next = c->dirty_next;
    } else {
        c->srv->dirty = c->dirty_next;
    }
    if (c->dirty_next != NULL) {
        c->dirty_next->dirty_prev = c->dirty_prev;
    }
    c->dirty_prev = c->dirty_next = NULL;
    c->dirty = false;
}

/* Replies are written once per loop turn, just before libuv polls: every
 * result of this turn for a client leaves in one write. */
void connMarkDirty(conn *c)
{
    if (c->dirty || c->closing) {
        return;
    }
    assert(c->dirty_prev == NULL && c->dirty_next == NULL);
    c->dirty = true;
    c->dirty_prev = NULL;
    c->dirty_next = c->srv->dirty;
    if (c->srv->dirty != NULL) {
        c->srv->dirty->dirty_prev = c;
    }
    c->srv->dirty = c;
}

/* Drops a client at the output cap: with a reset, so that what the kernel
 * still holds unacknowledged is discarded, not sent; those bytes count as
 * never sent, and their replies' numbers are reported with the rest. What
 * the client's kernel acknowledged may still be read: it counts as sent. */
static void connDropAtCap(conn *c)
{
    uv_os_fd_t fd;
    int unacked = 0;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && ioctl(fd, SIOCOUTQ, &unacked) == 0 &&
        unacked > 0 && (uint64_t)unacked <= c->sent_total) {
        c->sent_total -= (uint64_t)unacked;
    }
    log_info("client dropped at the output cap: %llu bytes written, %d of them not acknowledged by "
             "its host: their replies are reported undelivered",
             (unsigned long long)(c->sent_total + (uint64_t)unacked), unacked);
    c->reset_on_close = true;
    connClose(c);
}

/* Appends a finished reply to the output; a client whose unsent replies
 * pass the cap is dropped, as Redis does with its output buffer limit. */
bool connAppend(conn *c, const char *p, size_t n, conn_report *rep)
{
    assert(p != NULL || n == 0);
    assert(c->out.len <= c->out.cap);
    if (resp_write_raw(&c->out, p, n) != 0) {
        log_warn("client output buffer over %zu bytes: closing the client",
                 c->srv->cfg->client_output_max);
        c->srv->env->stats->output_limit_drops++;
        if (rep != NULL) {
            connReportLost(c, rep, "reply undelivered: the client passed the output limit");
        }
        connDropAtCap(c);
        return false;
    }
    if (rep != NULL) {
        rep->begin = c->out_total;
    }
    c->out_total += n;
    connReportPush(c, rep);
    return true;
}

void connOnWrite(uv_write_t *req, int status)
{
    conn *c = req->data;
    c->writing = false;
    c->wbuf.len = 0;
    if (status == 0) {
        c->sent_total += c->queued;
        connReportsSent(c);
    }
    c->queued = 0;
    if (c->wbuf.alloc > (4u << 20)) {
        resp_buf_free(&c->wbuf); /* do not keep a burst's memory forever */
        resp_buf_init(&c->wbuf, c->srv->cfg->client_output_max);
    }
    if (status < 0) {
        if (status != UV_ECANCELED) {
            log_debug("write to client failed: %s", uv_strerror(status));
        }
        connClose(c);
        return;
    }
    if (c->closing) {
        return;
    }
    connFlush(c);
    if (c->closing) {
        return;
    }
    connResumeMaybe(c);
}

/* A client that sent QUIT or garbage is closed once every reply before
 * that point has been computed and written. */
static bool connDone(const conn *c)
{
    return c->close_when_flushed && c->n_slots == 0 && c->out.len == 0 && !c->writing;
}

void connFlushDone(conn *c)
{
    if (connDone(c)) {
        connClose(c);
    }
}

static void connFlush(conn *c)
{
    if (c->tls != NULL) {
        connFlushTls(c);
        return;
    }
    if (c->writing || c->closing) {
        return;
    }
    if (c->out.len == 0) {
        if (connDone(c)) {
            connClose(c);
        }
        return;
    }
    /* Most replies fit the socket buffer: write them now without a write
     * request (no callback, no epoll change); queue only what is left. */
    uv_buf_t now = uv_buf_init(c->out.data, (unsigned)c->out.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &now, 1);
    if (n > 0) {
        c->sent_total += (uint64_t)n;
        connReportsSent(c);
    }
    if (n == (int)c->out.len) {
        c->out.len = 0;
        if (connDone(c)) {
            connClose(c);
        }
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        log_debug("write to client: %s", uv_strerror(n));
        connClose(c);
        return;
    }
    size_t sent = n > 0 ? (size_t)n : 0;
    resp_buf t = c->wbuf;
    c->wbuf = c->out;
    c->out = t;
    uv_buf_t b = uv_buf_init(c->wbuf.data + sent, (unsigned)(c->wbuf.len - sent));
    c->wreq.data = c;
    c->queued = c->wbuf.len - sent;
    int rv = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, connOnWrite);
    if (rv != 0) {
        c->queued = 0;
        log_debug("write to client: %s", uv_strerror(rv));
        c->wbuf.len = 0;
        connClose(c);
        return;
    }
    assert(c->queued > 0 && c->queued <= c->wbuf.len);
    c->writing = true;
}

void connOnPrepare(uv_prepare_t *h)
{
    conn_server *s = h->data;
    /* Detach the list first: resuming a client may parse its buffered
     * input and mark it dirty again, for the next turn. */
    conn *list = s->dirty;
    s->dirty = NULL;
    while (list != NULL) {
        conn *c = list;
        list = c->dirty_next;
        if (list != NULL) {
            list->dirty_prev = NULL;
        }
        c->dirty = false;
        c->dirty_prev = c->dirty_next = NULL;
        connFlush(c);
        connResumeMaybe(c);
    }
}
