/* forward — relaying requests to the leader (see forward.h). */
#include "forward_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batch.h"
#include "log.h"

#define FORWARD_TICK_MS 20
#define FORWARD_READ_CHUNK 65536u
#define FORWARD_IN_MAX (128u << 20)    /* one reply from the leader */
#define FORWARD_REPLY_BULK_MAX (1u << 20)
#define FORWARD_REPLY_ELEMS_MAX (4u << 20)

static void *fwXrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        log_error("forward: out of memory");
        abort();
    }
    return q;
}

void fwPush(forward_link *l, void *owner, uint64_t tag, uint64_t created_ms,
                   char *report)
{
    if (l->p_n == l->p_cap) {
        size_t cap = l->p_cap == 0 ? 64 : l->p_cap * 2;
        forward_req *grown = fwXrealloc(NULL, sizeof(*grown) * cap);
        for (size_t i = 0; i < l->p_n; i++) {
            grown[i] = l->pending[(l->p_head + i) % l->p_cap];
        }
        free(l->pending);
        l->pending = grown;
        l->p_cap = cap;
        l->p_head = 0;
    }
    l->pending[(l->p_head + l->p_n) % l->p_cap] =
        (forward_req){owner, tag, created_ms, report, report != NULL || owner != NULL};
    l->p_n++;
}

forward_req fwPop(forward_link *l)
{
    assert(l->p_n > 0);
    forward_req r = l->pending[l->p_head];
    l->p_head = (l->p_head + 1) % l->p_cap;
    l->p_n--;
    return r;
}

static void fwDone(forwarder *f, forward_req r, const char *reply, size_t len, int err)
{
    if (r.owner == NULL) {
        /* set-up, or a request whose client was told "outcome unknown":
         * numbers in a late reply are reported, never lost silently */
        if (r.report != NULL && err == BATCH_OK && f->lost != NULL) {
            f->lost(f->lost_ctx, r.report, reply, len);
        }
        free(r.report);
        return;
    }
    free(r.report);
    assert(f->n_pending > 0);
    f->n_pending--;
    f->done(r.owner, r.tag, reply, len, err);
}

static void fwLinkClosed(uv_handle_t *h)
{
    forward_link *l = h->data;
    resp_buf_free(&l->out);
    resp_buf_free(&l->wbuf);
    resp_buf_free(&l->proof_out);
    free(l->in);
    free(l->pending);
    free(l);
}

/* Drops a link; its unanswered requests fail with err. */
void fwLinkClose(forward_link *l, int err)
{
    if (l->closing) {
        return;
    }
    l->closing = true;
    forwarder *f = l->fw;
    if (f->links[l->proto == 3] == l) {
        f->links[l->proto == 3] = NULL;
    }
    for (int i = 0; i < FORWARD_DRAINING_MAX; i++) {
        if (f->draining[i] == l) {
            f->draining[i] = NULL;
        }
    }
    while (l->p_n > 0) {
        fwDone(f, fwPop(l), NULL, 0, err);
    }
    uv_close((uv_handle_t *)&l->tcp, fwLinkClosed);
}


/* A link that broke: its requests get "outcome unknown", unless none of
 * them had left yet (it broke while proving itself): those wait for the
 * next link instead. */
static void fwLinkBroke(forward_link *l, const char *why)
{
    if (fwSentNothing(l) && l->connected) {
        fwProofFailed(l, why);
    } else {
        fwLinkClose(l, BATCH_ERR_UNKNOWN);
    }
}

static void fwOnWrite(uv_write_t *req, int status)
{
    forward_link *l = req->data;
    l->writing = false;
    l->wbuf.len = 0;
    if (status < 0) {
        if (!l->closing) {
            log_warn("forward: write to leader %s: %s", l->target, uv_strerror(status));
            fwLinkBroke(l, "a write failed while it proved itself");
        }
        return;
    }
    fwFlush(l);
}

void fwFlush(forward_link *l)
{
    resp_buf *from = l->proof == FW_PROOF_DONE ? &l->out : &l->proof_out;
    if (!l->connected || l->writing || l->closing || from->len == 0) {
        return;
    }
    resp_buf t = l->wbuf;
    l->wbuf = *from;
    *from = t;
    uv_buf_t b = uv_buf_init(l->wbuf.data, (unsigned)l->wbuf.len);
    l->wreq.data = l;
    int rv = uv_write(&l->wreq, (uv_stream_t *)&l->tcp, &b, 1, fwOnWrite);
    if (rv != 0) {
        log_warn("forward: write to leader %s: %s", l->target, uv_strerror(rv));
        fwLinkBroke(l, "a write failed while it proved itself");
        return;
    }
    l->writing = true;
}

static void fwAlloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    forward_link *l = h->data;
    if (l->in_alloc - l->in_len < FORWARD_READ_CHUNK && l->in_alloc < FORWARD_IN_MAX) {
        size_t grown = l->in_alloc == 0 ? 2 * FORWARD_READ_CHUNK : l->in_alloc * 2;
        l->in = fwXrealloc(l->in, grown);
        l->in_alloc = grown;
    }
    *buf = uv_buf_init(l->in + l->in_len, (unsigned)(l->in_alloc - l->in_len));
}

static void fwOnRead(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    forward_link *l = s->data;
    if (nread < 0) {
        if (!l->closing) {
            log_info("forward: link to %s closed: %s", l->target, uv_strerror((int)nread));
            fwLinkBroke(l, "the leader closed it while it proved itself");
        }
        return;
    }
    l->in_len += (size_t)nread;
    resp_limits limits = {
        .args_max = 0, /* unused by the reply scanner */
        .bulk_max = FORWARD_REPLY_BULK_MAX,
        .inline_max = FORWARD_REPLY_BULK_MAX,
    };
    size_t pos = 0;
    while (!l->closing && pos < l->in_len) {
        size_t used = 0;
        const char *err = NULL;
        int rv = resp_reply_scan(&limits, FORWARD_REPLY_ELEMS_MAX, l->in + pos, l->in_len - pos,
                                 &used, &err);
        if (rv == RESP_PARSE_INCOMPLETE) {
            break;
        }
        if (rv != RESP_PARSE_OK || l->p_n == 0) {
            log_error("forward: bad reply from leader %s: %s", l->target,
                      rv != RESP_PARSE_OK ? err : "unrequested reply");
            fwLinkClose(l, BATCH_ERR_UNKNOWN);
            return;
        }
        if (l->proof != FW_PROOF_DONE) {
            forward_req step = fwPop(l);
            assert(step.owner == NULL && step.report == NULL && l->proof_unanswered > 0);
            l->proof_unanswered--;
            if (!fwProofStep(l, l->in + pos, used)) {
                return; /* the link closed */
            }
            pos += used;
            continue;
        }
        fwDone(l->fw, fwPop(l), l->in + pos, used, BATCH_OK);
        pos += used;
    }
    if (l->draining && l->p_n == 0 && !l->closing) {
        log_info("forward: the former leader %s answered everything: link closed", l->target);
        fwLinkClose(l, BATCH_ERR_UNKNOWN); /* nothing left to fail */
        return;
    }
    if (pos > 0 && !l->closing) {
        memmove(l->in, l->in + pos, l->in_len - pos);
        l->in_len -= pos;
    }
    if (!l->closing && l->in_len == l->in_alloc) {
        log_error("forward: reply from leader %s over %u bytes", l->target, FORWARD_IN_MAX);
        fwLinkClose(l, BATCH_ERR_UNKNOWN);
    }
}

static forward_wait *fwWaitNew(void *owner, uint64_t tag, int proto, uint64_t created_ms,
                               char *report, const char *bytes, size_t len)
{
    forward_wait *w = malloc(sizeof(*w) + len);
    if (w == NULL) {
        log_error("forward: out of memory");
        abort();
    }
    w->next = NULL;
    w->owner = owner;
    w->tag = tag;
    w->proto = proto;
    w->created_ms = created_ms;
    w->report = report;
    w->len = len;
    memcpy(w->bytes, bytes, len);
    return w;
}

/* The link never connected, so none of its requests left this node: put
 * them back, in order, at the front of the waiting queue, to go to whoever
 * leads next, instead of failing them. */
void fwRequeue(forward_link *l)
{
    forwarder *f = l->fw;
    assert(fwSentNothing(l));
    /* the proof's steps still unanswered come first and have no bytes in out */
    for (; l->proof_unanswered > 0; l->proof_unanswered--) {
        forward_req r = fwPop(l);
        assert(r.owner == NULL && r.report == NULL);
    }
    l->proof_out.len = 0;
    /* Every request here passed the client limits once already. */
    resp_limits limits = {.args_max = f->cfg->args_max + 4, /* the FWD wrapper and its @user */
                          .bulk_max = f->cfg->bulk_max,
                          .inline_max = f->cfg->inline_max};
    resp_arg *argv = fwXrealloc(NULL, sizeof(resp_arg) * limits.args_max);
    forward_wait *head = NULL, *tail = NULL;
    size_t pos = 0;
    while (l->p_n > 0) {
        forward_req r = fwPop(l);
        resp_request req = {.argv = argv, .argc = 0};
        size_t used = 0;
        const char *err = NULL;
        int rv = resp_parse(&limits, l->out.data + pos, l->out.len - pos, &req, &used, &err);
        assert(rv == RESP_PARSE_OK); /* we wrote these bytes ourselves */
        if (rv != RESP_PARSE_OK) {
            fwDone(f, r, NULL, 0, BATCH_ERR_TRYAGAIN);
            continue;
        }
        if (r.owner != NULL) {
            /* unwrapped: the next leader's term and deadline are stamped anew */
            bool wrapped = req.argc > 3 && req.argv[0].len == 3 && memcmp(req.argv[0].ptr, "FWD", 3) == 0;
            resp_buf inner;
            resp_buf_init(&inner, FORWARD_OUT_MAX);
            fwEncode(&inner, req.argv + (wrapped ? 3 : 0), req.argc - (wrapped ? 3 : 0));
            forward_wait *w = fwWaitNew(r.owner, r.tag, l->proto, r.created_ms, r.report,
                                        inner.data, inner.len);
            resp_buf_free(&inner);
            if (tail != NULL) {
                tail->next = w;
            } else {
                head = w;
            }
            tail = w;
        } else {
            free(r.report);
        }
        pos += used;
    }
    free(argv);
    if (head != NULL) {
        tail->next = f->wait_head;
        f->wait_head = head;
        if (f->wait_tail == NULL) {
            f->wait_tail = tail;
        }
    }
    l->out.len = 0;
}

static void fwOnConnect(uv_connect_t *req, int status)
{
    forward_link *l = req->data;
    if (l->closing) {
        return;
    }
    if (status < 0) {
        forwarder *f = l->fw;
        if (strcmp(f->unreachable, l->target) != 0) {
            log_warn("forward: cannot reach leader %s: %s", l->target, uv_strerror(status));
        }
        snprintf(f->unreachable, sizeof(f->unreachable), "%s", l->target);
        f->unreachable_until_ms = uv_now(f->loop) + FORWARD_RETRY_MS;
        fwRequeue(l);
        fwLinkClose(l, BATCH_ERR_TRYAGAIN); /* nothing left to fail */
        return;
    }
    l->connected = true;
    uv_tcp_nodelay(&l->tcp, 1);
    uv_read_start((uv_stream_t *)&l->tcp, fwAlloc, fwOnRead);
    fwFlush(l);
}

void fwEncode(resp_buf *b, const resp_arg *argv, size_t argc)
{
    resp_write_array(b, argc);
    for (size_t i = 0; i < argc; i++) {
        resp_write_bulk(b, argv[i].ptr, argv[i].len);
    }
}

static forward_link *fwLinkOpen(forwarder *f, int proto, const char *target)
{
    struct sockaddr_in addr;
    char host[32];
    unsigned port;
    if (sscanf(target, "%31[0-9.]:%u", host, &port) != 2 || uv_ip4_addr(host, (int)port, &addr)) {
        return NULL;
    }
    forward_link *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        log_error("forward: out of memory");
        abort();
    }
    l->fw = f;
    l->proto = proto;
    l->opened_ms = uv_now(f->loop);
    snprintf(l->target, sizeof(l->target), "%s", target);
    resp_buf_init(&l->out, FORWARD_OUT_MAX);
    resp_buf_init(&l->wbuf, FORWARD_OUT_MAX);
    uv_tcp_init(f->loop, &l->tcp);
    l->tcp.data = l;
    l->connect_req.data = l;
    /* The link proves it is a node's first (fwProofStep), so the leader
     * never forwards what it gets here and hears the node-only commands;
     * its name only shows in CLIENT LIST. */
    fwProofStart(l);
    const resp_arg setname[] = {{"CLIENT", 6}, {"SETNAME", 7}, {FORWARD_CLIENT_NAME,
                                                                strlen(FORWARD_CLIENT_NAME)}};
    fwEncode(&l->out, setname, 3);
    fwPush(l, NULL, 0, 0, NULL);
    if (proto == 3) {
        const resp_arg hello[] = {{"HELLO", 5}, {"3", 1}};
        fwEncode(&l->out, hello, 2);
        fwPush(l, NULL, 0, 0, NULL);
    }
    int rv = uv_tcp_connect(&l->connect_req, &l->tcp, (const struct sockaddr *)&addr, fwOnConnect);
    if (rv != 0) {
        log_warn("forward: connect to %s: %s", target, uv_strerror(rv));
        l->p_n = 0; /* only set-up commands so far */
        l->closing = true;
        uv_close((uv_handle_t *)&l->tcp, fwLinkClosed);
        return NULL;
    }
    f->links[proto == 3] = l;
    log_info("forward: linking to leader at %s (RESP%d)", target, proto);
    return l;
}

static void fwAbandon(forwarder *f, forward_req *r);

/* The leader moved: the requests sent to the former one get "outcome
 * unknown" at once (their clients retry, with their KEY, on the new
 * leader; a deposed leader cannot commit anything new, and the term each
 * request carries keeps it from taking effect should that node lead
 * again), but its link keeps reading the replies still owed: the former
 * leader applies what was committed before it lost leadership, and those
 * replies' numbers are reported undelivered rather than written into a
 * closed socket and counted delivered. The link closes once they are all
 * in, or past the wait bound. */
static void fwDrain(forwarder *f, forward_link *l)
{
    f->links[l->proto == 3] = NULL;
    if (l->p_n == 0 || !l->connected) {
        fwLinkClose(l, BATCH_ERR_UNKNOWN);
        return;
    }
    int slot = -1;
    for (int i = 0; i < FORWARD_DRAINING_MAX && slot < 0; i++) {
        slot = f->draining[i] == NULL ? i : -1;
    }
    if (slot < 0) {
        fwLinkClose(l, BATCH_ERR_UNKNOWN); /* too many former leaders at once */
        return;
    }
    l->draining = true;
    l->drain_since = uv_now(f->loop);
    f->draining[slot] = l;
    for (size_t i = 0; i < l->p_n; i++) {
        fwAbandon(f, &l->pending[(l->p_head + i) % l->p_cap]);
    }
}

/* The link to the current leader for proto, opened on demand; NULL when no
 * leader is known (or it cannot be reached right now). */
static forward_link *fwLink(forwarder *f, int proto)
{
    char target[48];
    if (!node_leader_client(f->node, target, sizeof(target))) {
        return NULL;
    }
    forward_link *l = f->links[proto == 3];
    if (l != NULL && strcmp(l->target, target) == 0) {
        return l;
    }
    if (strcmp(target, f->unreachable) == 0 && uv_now(f->loop) < f->unreachable_until_ms) {
        return NULL; /* it refused us a moment ago: let the requests wait */
    }
    if (l != NULL) {
        log_info("forward: leader moved from %s to %s", l->target, target);
        if (fwSentNothing(l)) {
            fwRequeue(l); /* nothing was sent: they go to the new leader */
            fwLinkClose(l, BATCH_ERR_TRYAGAIN); /* nothing left to fail */
        } else {
            fwDrain(f, l);
        }
    }
    return fwLinkOpen(f, proto, target);
}

/* How long after its arrival a request may still take effect on the
 * leader (its deadline), and how long this node waits for its reply: the
 * deadline plus the largest clock offset a leader may have. */
static uint64_t fwWaitMs(const forwarder *f)
{
    return (uint64_t)f->cfg->request_timeout_ms + f->cfg->max_clock_offset_ms + 200;
}

/* Appends the request (RESP array bytes) wrapped as FWD term deadline ...
 * to out; false when it does not fit. */
static bool fwWrap(forwarder *f, resp_buf *out, const char *bytes, size_t len,
                   uint64_t created_ms)
{
    /* bytes is "*N\r\n" and N elements; the wrapper adds three */
    size_t argc = 0, i = 1;
    while (i < len && bytes[i] >= '0' && bytes[i] <= '9') {
        argc = argc * 10 + (size_t)(bytes[i] - '0');
        i++;
    }
    assert(bytes[0] == '*' && i + 1 < len && bytes[i] == '\r');
    uint64_t now = uv_now(f->loop);
    uint64_t waited = now > created_ms ? now - created_ms : 0;
    uint64_t left = waited < f->cfg->request_timeout_ms ? f->cfg->request_timeout_ms - waited : 0;
    char term[24], deadline[24];
    snprintf(term, sizeof(term), "%llu", (unsigned long long)raft_current_term(&f->node->raft));
    snprintf(deadline, sizeof(deadline), "%lld", (long long)(clock_wall_ms() + (int64_t)left));
    return resp_write_array(out, argc + 3) == 0 && resp_write_bulk(out, "FWD", 3) == 0 &&
           resp_write_bulk(out, term, strlen(term)) == 0 &&
           resp_write_bulk(out, deadline, strlen(deadline)) == 0 &&
           resp_write_raw(out, bytes + i + 2, len - i - 2) == 0;
}

/* Whether the RESP request bytes are a CLUSTER command. */
static bool fwIsCluster(const char *bytes, size_t len)
{
    const char *p = memchr(bytes, '\n', len);
    if (p == NULL || (size_t)(p - bytes) + 1 >= len || p[1] != '$') {
        return false;
    }
    const char *q = memchr(p + 1, '\n', len - (size_t)(p + 1 - bytes));
    return q != NULL && (size_t)(q + 1 - bytes) + 7 <= len && strncasecmp(q + 1, "cluster", 7) == 0;
}

static bool fwSend(forwarder *f, int proto, const char *bytes, size_t len, void *owner,
                   uint64_t tag, uint64_t created_ms, char *report)
{
    forward_link *l = fwLink(f, proto);
    if (l == NULL) {
        return false;
    }
    size_t mark = l->out.len;
    /* Membership changes are not log commands: no window (and the leader
     * may take longer than a request's timeout to answer them). */
    bool windowed = !fwIsCluster(bytes, len);
    if (windowed ? !fwWrap(f, &l->out, bytes, len, created_ms)
                 : resp_write_raw(&l->out, bytes, len) != 0) {
        l->out.len = mark;
        fwDone(f, (forward_req){owner, tag, 0, report, false}, NULL, 0, BATCH_ERR_TRYAGAIN);
        return true;
    }
    fwPush(l, owner, tag, created_ms, report);
    l->pending[(l->p_head + l->p_n - 1) % l->p_cap].windowed = windowed;
    fwFlush(l);
    f->forwarded++;
    return true;
}

void forwarder_submit(forwarder *f, int proto, const resp_arg *argv, size_t argc, void *owner,
                      uint64_t tag, const resp_arg *report, const resp_arg *user)
{
    f->n_pending++;
    if (f->stopping) {
        fwDone(f, (forward_req){owner, tag, 0, NULL, false}, NULL, 0, BATCH_ERR_SHUTDOWN);
        return;
    }
    char *name = NULL;
    if (report != NULL && report->len > 0) {
        name = fwXrealloc(NULL, report->len + 1);
        memcpy(name, report->ptr, report->len);
        name[report->len] = '\0';
    }
    resp_buf b;
    resp_buf_init(&b, FORWARD_OUT_MAX);
    bool cluster = argc > 0 && argv[0].len == 7 && strncasecmp(argv[0].ptr, "cluster", 7) == 0;
    if (user != NULL && user->len > 1 && user->len <= SEQ_USER_MAX + 1 && !cluster) {
        /* who asked goes first (FWD term deadline @user ...) */
        resp_write_array(&b, argc + 1);
        resp_write_bulk(&b, user->ptr, user->len);
        for (size_t i = 0; i < argc; i++) {
            resp_write_bulk(&b, argv[i].ptr, argv[i].len);
        }
    } else {
        fwEncode(&b, argv, argc);
    }
    uint64_t now = uv_now(f->loop);
    if (f->wait_head == NULL) {
        /* A leader change found here puts the old link's unsent requests
         * back in the wait queue: this one must go behind them. */
        (void)fwLink(f, proto);
    }
    if (f->wait_head == NULL && fwSend(f, proto, b.data, b.len, owner, tag, now, name)) {
        resp_buf_free(&b);
        return;
    }
    /* No leader yet: wait, in order, behind earlier waiters. */
    forward_wait *w = fwWaitNew(owner, tag, proto, now, name, b.data, b.len);
    resp_buf_free(&b);
    if (f->wait_tail != NULL) {
        f->wait_tail->next = w;
    } else {
        f->wait_head = w;
    }
    f->wait_tail = w;
}

/* Reports this node's wall clock to the leader (see forward.h). The reply
 * is read and dropped like the link's set-up replies (owner NULL). */
static void fwReportClock(forwarder *f)
{
    char target[48];
    if (f->cfg->max_clock_offset_ms == 0 || node_is_leader(f->node) ||
        !node_leader_client(f->node, target, sizeof(target))) {
        return;
    }
    uint64_t now = uv_now(f->loop);
    if (strcmp(target, f->clock_target) == 0 && now - f->clock_sent_ms < CLOCK_REPORT_EVERY_MS) {
        return;
    }
    forward_link *l = fwLink(f, 2);
    if (l == NULL) {
        return;
    }
    char id[24], wall[24];
    snprintf(id, sizeof(id), "%llu", (unsigned long long)f->node->id);
    snprintf(wall, sizeof(wall), "%lld", (long long)clock_wall_ms());
    const resp_arg argv[] = {{"CLUSTER", 7}, {"CLOCK", 5}, {id, strlen(id)}, {wall, strlen(wall)}};
    fwEncode(&l->out, argv, 4);
    fwPush(l, NULL, 0, 0, NULL);
    fwFlush(l);
    snprintf(f->clock_target, sizeof(f->clock_target), "%s", target);
    f->clock_sent_ms = now;
}

/* Requests sent more than fwWaitMs ago get "outcome unknown" now (the
 * leader can no longer take them up: their deadline passed); their slots
 * stay, so later replies still match, and are dropped. */
/* Tells r's client "outcome unknown" now; its slot stays (owner NULL),
 * so a later reply still matches, and is reported. */
static void fwAbandon(forwarder *f, forward_req *r)
{
    if (r->owner == NULL) {
        return;
    }
    forward_req told = *r;
    told.report = NULL; /* stays with the slot, for a late reply */
    r->owner = NULL;
    f->abandoned++;
    fwDone(f, told, NULL, 0, BATCH_ERR_UNKNOWN);
}

static void fwAbandonOverdue(forwarder *f, forward_link *l, uint64_t now)
{
    for (size_t i = 0; i < l->p_n; i++) {
        forward_req *r = &l->pending[(l->p_head + i) % l->p_cap];
        if (r->windowed && now - r->created_ms > fwWaitMs(f)) {
            fwAbandon(f, r);
        }
    }
}

static void fwTick(uv_timer_t *t)
{
    forwarder *f = t->data;
    fwReportClock(f);
    uint64_t now = uv_now(f->loop);
    for (int p = 0; p < 2; p++) {
        forward_link *l = f->links[p];
        if (l != NULL && !fwSentNothing(l)) {
            fwAbandonOverdue(f, l, now);
        } else if (l != NULL && now - l->opened_ms > f->cfg->request_timeout_ms) {
            /* a leader whose port drops SYNs: give up on the connect (its
             * requests never left: they wait for the next attempt) rather
             * than wait for the kernel's connect timeout */
            log_warn("forward: no connection to leader %s after %u ms", l->target,
                     f->cfg->request_timeout_ms);
            snprintf(f->unreachable, sizeof(f->unreachable), "%s", l->target);
            f->unreachable_until_ms = now + FORWARD_RETRY_MS;
            fwRequeue(l);
            fwLinkClose(l, BATCH_ERR_TRYAGAIN);
        }
    }
    for (int i = 0; i < FORWARD_DRAINING_MAX; i++) {
        forward_link *l = f->draining[i];
        if (l == NULL) {
            continue;
        }
        fwAbandonOverdue(f, l, now);
        if (now - l->drain_since > fwWaitMs(f) + 1000) {
            log_info("forward: the former leader %s did not answer in time: link closed",
                     l->target);
            fwLinkClose(l, BATCH_ERR_UNKNOWN);
        }
    }
    /* A leader change closes links to the old one (their requests' fate
     * is unknown); waiting requests go out as soon as a leader is known. */
    for (int p = 0; p < 2; p++) {
        if (f->links[p] != NULL) {
            fwLink(f, f->links[p]->proto);
        }
    }
    while (f->wait_head != NULL) {
        forward_wait *w = f->wait_head;
        bool sent =
            fwSend(f, w->proto, w->bytes, w->len, w->owner, w->tag, w->created_ms, w->report);
        if (!sent && now - w->created_ms < f->cfg->request_timeout_ms) {
            break;
        }
        f->wait_head = w->next;
        if (f->wait_head == NULL) {
            f->wait_tail = NULL;
        }
        if (!sent) {
            fwDone(f, (forward_req){w->owner, w->tag, 0, w->report, false}, NULL, 0,
                   node_cluster_down(f->node) ? BATCH_ERR_CLUSTERDOWN : BATCH_ERR_TRYAGAIN);
        }
        free(w);
    }
}

int forwarder_init(forwarder *f, uv_loop_t *loop, node *n, const config *cfg,
                   forward_done_fn done)
{
    memset(f, 0, sizeof(*f));
    f->loop = loop;
    f->node = n;
    f->cfg = cfg;
    f->done = done;
    int rv = uv_timer_init(loop, &f->timer);
    if (rv != 0) {
        return rv;
    }
    f->timer.data = f;
    uv_timer_start(&f->timer, fwTick, FORWARD_TICK_MS, FORWARD_TICK_MS);
    return 0;
}

void forwarder_stop(forwarder *f, int err)
{
    f->stopping = true;
    while (f->wait_head != NULL) {
        forward_wait *w = f->wait_head;
        f->wait_head = w->next;
        fwDone(f, (forward_req){w->owner, w->tag, 0, w->report, false}, NULL, 0, err);
        free(w);
    }
    f->wait_tail = NULL;
    for (int p = 0; p < 2; p++) {
        if (f->links[p] != NULL) {
            fwLinkClose(f->links[p], BATCH_ERR_UNKNOWN);
        }
    }
    for (int i = 0; i < FORWARD_DRAINING_MAX; i++) {
        if (f->draining[i] != NULL) {
            fwLinkClose(f->draining[i], BATCH_ERR_UNKNOWN);
        }
    }
    uv_timer_stop(&f->timer);
    if (!uv_is_closing((uv_handle_t *)&f->timer)) {
        uv_close((uv_handle_t *)&f->timer, NULL);
    }
}
