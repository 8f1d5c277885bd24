/* conn — client connections (see conn.h). */
#include "conn.h"

#include <assert.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>

#include "log.h"

#define CONN_READ_CHUNK 16384u
#define CONN_OUT_HIGH_WATER (1u << 20) /* pause reading above this many unsent bytes */
#define CONN_SLOTS_INITIAL 16u
#define CONN_NODE_HEADROOM 16u /* node links accepted past --max-clients */
#define CONN_REPORT_RUNS_MAX 4096u /* runs one merged report holds (an UNDELIVERED's runs) */
/* More than a socket's send buffer ever holds (Linux tcp_wmem's 4 MiB
 * maximum, doubled for the kernel's bookkeeping). */
#define CONN_KERNEL_BYTES_MAX (8u << 20)
/* Output bytes one merged report spans: a report straddling the point the
 * client's host acknowledged is kept final, not released (it may have been
 * read), so this bounds what a drop leaves unlisted. */
#define CONN_REPORT_BYTES_MAX 4096u

/* A reply that handed out numbers (a NEXT, INCR or RESERVE without KEY),
 * kept until its bytes have left for the client: should the connection
 * close first (the client left, or passed the output cap), the numbers
 * are reported undelivered. Bytes in the kernel's socket buffer count as
 * sent: nobody can tell whether they arrive. */
typedef struct conn_report {
    char *name; /* NUL-terminated; NULL: no report */
    seq_run *runs;
    size_t n_runs;
    uint64_t grant; /* a RESERVE's */
    bool local;     /* applied by this process (see undelivered_report) */
    uint64_t begin, end; /* the replies' bytes in the connection's output stream */
} conn_report;

typedef struct conn_slot {
    char *data; /* the reply, once ready and not at the head */
    size_t len;
    bool ready;
    uint8_t style;
    uint8_t proto;
    char *report; /* forwarded NEXT/RESERVE without KEY: its sequence name */
    bool logged;  /* deferred through the log or a forward link (counted in conn.logged) */
    conn_report rep; /* a ready reply's report, until it moves to the output */
    uint8_t lane;    /* enum command_lane of a deferred request (counted in conn.lane_n) */
} conn_slot;

struct conn {
    uv_tcp_t tcp;
    conn_server *srv;
    conn *prev, *next;
    char *in;
    size_t in_len, in_alloc;
    resp_buf out;  /* replies waiting to be written */
    resp_buf wbuf; /* replies being written */
    uv_write_t wreq;
    bool writing;
    conn_slot *slots; /* ring of replies in request order */
    size_t slots_cap, head, n_slots;
    uint64_t head_abs; /* absolute number of the reply at head */
    size_t refs;       /* commands of this client inside batches */
    size_t logged;     /* deferred replies that wait on the log or the leader */
    size_t lane_n[COMMAND_LANES]; /* deferred requests out on each path */
    bool blocked;      /* the next request waits for another path to drain */
    conn_report *reports; /* FIFO of replies in out or wbuf with numbers in them */
    size_t n_reports, reports_cap;
    uint64_t out_total;   /* bytes ever appended to out */
    uint64_t sent_total;  /* bytes ever written to the socket */
    size_t queued;        /* bytes of wbuf in the write request in flight */
    conn *dirty_prev, *dirty_next; /* in the server's flush list when dirty */
    command_client client;
    int proto;
    bool reading, paused, closing, handle_closed, close_when_flushed, dirty;
    bool reset_on_close; /* dropped at the output cap: RST, not FIN */
    bool over_limit;     /* accepted past --max-clients: only a node link may stay */
};

static void connProcess(conn *c);
static void connFlush(conn *c);

static void *connXrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        log_error("conn: out of memory (%zu bytes)", n);
        abort();
    }
    return q;
}

static void connReportFree(conn_report *r)
{
    free(r->name);
    free(r->runs);
    memset(r, 0, sizeof(*r));
}

/* Reports a reply's numbers undelivered (and frees the report). */
static void connReportLost(conn *c, conn_report *r, const char *cause)
{
    if (r->name != NULL && c->srv->env->undelivered != NULL) {
        undelivered_report(c->srv->env->undelivered, r->name, strlen(r->name), r->runs, r->n_runs,
                           r->grant, r->local, cause);
    }
    connReportFree(r);
}

/* Replies whose bytes were written are delivered as far as we can know,
 * once they are further back than any socket buffer holds: until then a
 * drop at the output cap (a reset) may still discard them unsent. */
static void connReportsSent(conn *c)
{
    size_t k = 0;
    while (k < c->n_reports && c->reports[k].end + CONN_KERNEL_BYTES_MAX <= c->sent_total) {
        connReportFree(&c->reports[k]);
        k++;
    }
    if (k > 0) {
        memmove(c->reports, c->reports + k, sizeof(*c->reports) * (c->n_reports - k));
        c->n_reports -= k;
    }
}

/* Appends r's runs to last, which is for the same sequence and kind,
 * merging a run that continues the last one (a stream of NEXTs becomes
 * one run: a client that never reads costs a report, not one per reply). */
static void connReportMerge(conn_report *last, conn_report *r)
{
    last->runs = connXrealloc(last->runs, sizeof(*last->runs) * (last->n_runs + r->n_runs));
    for (size_t i = 0; i < r->n_runs; i++) {
        seq_run *tail = &last->runs[last->n_runs - 1];
        /* one UNDELIVERED run holds fewer than SEQ_COUNT_MAX numbers */
        uint64_t merged = (uint64_t)r->runs[i].last - (uint64_t)tail->first;
        if (tail->last != INT64_MAX && tail->last + 1 == r->runs[i].first &&
            merged < SEQ_COUNT_MAX) {
            tail->last = r->runs[i].last;
        } else {
            last->runs[last->n_runs++] = r->runs[i];
        }
    }
    connReportFree(r);
}

static void connReportPush(conn *c, conn_report *r)
{
    if (r == NULL || r->name == NULL) {
        return;
    }
    conn_report *last = c->n_reports > 0 ? &c->reports[c->n_reports - 1] : NULL;
    if (last != NULL && last->grant == 0 && r->grant == 0 && last->local == r->local &&
        last->end == r->begin && c->out_total - last->begin <= CONN_REPORT_BYTES_MAX &&
        last->n_runs + r->n_runs <= CONN_REPORT_RUNS_MAX && strcmp(last->name, r->name) == 0) {
        connReportMerge(last, r);
        last->end = c->out_total;
        return;
    }
    if (c->n_reports == c->reports_cap) {
        c->reports_cap = c->reports_cap == 0 ? 16 : c->reports_cap * 2;
        c->reports = connXrealloc(c->reports, sizeof(*c->reports) * c->reports_cap);
    }
    r->end = c->out_total;
    c->reports[c->n_reports++] = *r;
    memset(r, 0, sizeof(*r));
}

static void connUndirty(conn *c)
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
static void connMarkDirty(conn *c)
{
    if (c->dirty || c->closing) {
        return;
    }
    c->dirty = true;
    c->dirty_prev = NULL;
    c->dirty_next = c->srv->dirty;
    if (c->srv->dirty != NULL) {
        c->srv->dirty->dirty_prev = c;
    }
    c->srv->dirty = c;
}

static void connMaybeFree(conn *c)
{
    if (!c->handle_closed || c->refs > 0) {
        return;
    }
    connUndirty(c);
    for (size_t i = 0; i < c->n_slots; i++) {
        free(c->slots[(c->head + i) & (c->slots_cap - 1)].data);
        free(c->slots[(c->head + i) & (c->slots_cap - 1)].report);
        connReportFree(&c->slots[(c->head + i) & (c->slots_cap - 1)].rep);
    }
    for (size_t i = 0; i < c->n_reports; i++) {
        connReportFree(&c->reports[i]);
    }
    free(c->reports);
    free(c->slots);
    free(c->in);
    resp_buf_free(&c->out);
    resp_buf_free(&c->wbuf);
    free(c);
}

static void connOnClose(uv_handle_t *h)
{
    conn *c = h->data;
    conn_server *s = c->srv;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    s->env->stats->connected_clients--;
    c->handle_closed = true;
    connMaybeFree(c);
}

static void connClose(conn *c)
{
    if (c->closing) {
        return;
    }
    /* Replies none of whose bytes left: the client cannot have their
     * numbers (one partly written counts as delivered: it may be enough). */
    const char *cause = "reply undelivered: the client disconnected";
    for (size_t i = 0; i < c->n_reports; i++) {
        if (c->reports[i].begin >= c->sent_total) {
            connReportLost(c, &c->reports[i], cause);
        } else {
            connReportFree(&c->reports[i]);
        }
    }
    c->n_reports = 0;
    for (size_t i = 0; i < c->n_slots; i++) {
        connReportLost(c, &c->slots[(c->head + i) & (c->slots_cap - 1)].rep, cause);
    }
    c->closing = true;
    c->reading = false;
    if (c->reset_on_close) {
        uv_tcp_close_reset(&c->tcp, connOnClose);
    } else {
        uv_close((uv_handle_t *)&c->tcp, connOnClose);
    }
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
static bool connAppend(conn *c, const char *p, size_t n, conn_report *rep)
{
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

static conn_slot *connSlot(conn *c, uint64_t abs)
{
    assert(abs >= c->head_abs && abs - c->head_abs < c->n_slots);
    return &c->slots[(c->head + (abs - c->head_abs)) & (c->slots_cap - 1)];
}

static uint64_t connReserve(conn *c)
{
    if (c->n_slots == c->slots_cap) {
        size_t cap = c->slots_cap * 2;
        conn_slot *grown = connXrealloc(NULL, sizeof(*grown) * cap);
        for (size_t i = 0; i < c->n_slots; i++) {
            grown[i] = c->slots[(c->head + i) & (c->slots_cap - 1)];
        }
        free(c->slots);
        c->slots = grown;
        c->slots_cap = cap;
        c->head = 0;
    }
    uint64_t abs = c->head_abs + c->n_slots;
    c->n_slots++;
    conn_slot *slot = connSlot(c, abs);
    memset(slot, 0, sizeof(*slot));
    slot->proto = (uint8_t)c->proto;
    return abs;
}

static void connPopHead(conn *c)
{
    c->head = (c->head + 1) & (c->slots_cap - 1);
    c->head_abs++;
    c->n_slots--;
}

/* Moves every ready reply at the head of the ring into the output. */
static void connDrain(conn *c)
{
    while (c->n_slots > 0 && !c->closing) {
        conn_slot *slot = &c->slots[c->head];
        if (!slot->ready) {
            break;
        }
        bool ok = connAppend(c, slot->data, slot->len, &slot->rep);
        free(slot->data);
        slot->data = NULL;
        connPopHead(c);
        if (!ok) {
            return;
        }
    }
}

/* A reply is ready: at the head it goes straight out, else it waits. */
/* A reply is ready; rep (may be NULL) is its report, which this takes. */
static void connComplete(conn *c, uint64_t abs, const char *p, size_t n, conn_report *rep)
{
    if (abs == c->head_abs) {
        connPopHead(c);
        if (connAppend(c, p, n, rep)) {
            connDrain(c);
        }
        return;
    }
    conn_slot *slot = connSlot(c, abs);
    slot->data = connXrealloc(NULL, n == 0 ? 1 : n);
    memcpy(slot->data, p, n);
    slot->len = n;
    slot->ready = true;
    if (rep != NULL) {
        slot->rep = *rep;
        memset(rep, 0, sizeof(*rep));
    }
}

static void connResumeMaybe(conn *c);

static void connOnWrite(uv_write_t *req, int status)
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

static void connFlush(conn *c)
{
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
    c->writing = true;
}

static void connOnPrepare(uv_prepare_t *h)
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

/* A deferred reply is ready: put it in its slot, in request order. */
static void connDeliver(conn *c, uint64_t tag, const char *reply, size_t len, conn_report *rep)
{
    assert(c->refs > 0);
    c->refs--;
    if (c->closing) {
        connMaybeFree(c);
        return;
    }
    conn_slot *slot = connSlot(c, tag);
    if (slot->logged) {
        assert(c->logged > 0);
        slot->logged = false;
        c->logged--;
    }
    if (slot->lane != COMMAND_LANE_NONE) {
        assert(c->lane_n[slot->lane] > 0);
        c->lane_n[slot->lane]--;
        slot->lane = COMMAND_LANE_NONE;
        /* a request held back for this path may go now (connResumeMaybe) */
        c->blocked = false;
    }
    connComplete(c, tag, reply, len, rep);
    connMarkDirty(c);
}

void conn_on_done(void *owner, uint64_t tag, const seq_result *res, int err)
{
    conn *c = owner;
    resp_buf *scratch = &c->srv->scratch;
    scratch->len = 0;
    conn_report rep = {0};
    if (!c->closing) {
        conn_slot *slot = connSlot(c, tag);
        commands_format_result(res, err, slot->style, slot->proto, scratch);
        if (err == BATCH_OK && res->status == SEQ_OK && res->name != NULL && res->n_runs > 0) {
            rep.name = connXrealloc(NULL, res->name_len + 1);
            memcpy(rep.name, res->name, res->name_len);
            rep.name[res->name_len] = '\0';
            rep.runs = connXrealloc(NULL, sizeof(*rep.runs) * res->n_runs);
            memcpy(rep.runs, res->runs, sizeof(*rep.runs) * res->n_runs);
            rep.n_runs = res->n_runs;
            rep.grant = res->op == SEQ_OP_RESERVE ? res->grant : 0;
            rep.local = true;
        }
    } else if (err == BATCH_OK && res->status == SEQ_OK && res->name != NULL &&
               c->srv->env->undelivered != NULL) {
        /* the client is gone: its numbers must not be taken for delivered */
        undelivered_report(c->srv->env->undelivered, res->name, res->name_len, res->runs,
                           res->n_runs, res->op == SEQ_OP_RESERVE ? res->grant : 0, true,
                           "reply undelivered: the client disconnected");
    }
    connDeliver(c, tag, scratch->data, scratch->len, &rep);
    connReportFree(&rep); /* not taken when the connection was closing */
}

/* An integer reply ":n\r\n" at reply[*at], bounded by len. */
static bool connReplyInt(const char *reply, size_t len, size_t *at, int64_t *v)
{
    size_t i = *at;
    if (i >= len || reply[i] != ':') {
        return false;
    }
    i++;
    bool neg = i < len && reply[i] == '-';
    i += neg ? 1 : 0;
    uint64_t x = 0;
    size_t digits = 0;
    for (; i < len && reply[i] >= '0' && reply[i] <= '9'; i++, digits++) {
        if (x > (UINT64_MAX - 9) / 10) {
            return false;
        }
        x = x * 10 + (uint64_t)(reply[i] - '0');
    }
    if (digits == 0 || i + 1 >= len || reply[i] != '\r' || reply[i + 1] != '\n' ||
        x > (uint64_t)INT64_MAX + (neg ? 1 : 0)) {
        return false;
    }
    *v = neg ? (int64_t)(0 - x) : (int64_t)x;
    *at = i + 2;
    return true;
}

/* The runs in a leader's reply to NEXT: an integer, or a flat array of
 * first/last integers. Returns a malloc'd array (caller frees) and its
 * length in *n, or NULL when the reply is neither. */
seq_run *conn_reply_runs(const char *reply, size_t len, size_t *n)
{
    size_t at = 0;
    int64_t v;
    if (connReplyInt(reply, len, &at, &v)) {
        seq_run *one = connXrealloc(NULL, sizeof(*one));
        one->first = one->last = v;
        *n = 1;
        return one;
    }
    if (len < 4 || reply[0] != '*') {
        return NULL;
    }
    uint64_t count = 0;
    for (at = 1; at < len && reply[at] >= '0' && reply[at] <= '9' && count <= 2 * SEQ_COUNT_MAX;
         at++) {
        count = count * 10 + (uint64_t)(reply[at] - '0');
    }
    if (at + 1 >= len || reply[at] != '\r' || reply[at + 1] != '\n' || count < 2 ||
        count % 2 != 0 || count > 2 * SEQ_COUNT_MAX) {
        return NULL;
    }
    at += 2;
    seq_run *runs = connXrealloc(NULL, sizeof(*runs) * (count / 2));
    for (uint64_t i = 0; i < count / 2; i++) {
        if (!connReplyInt(reply, len, &at, &runs[i].first) ||
            !connReplyInt(reply, len, &at, &runs[i].last)) {
            free(runs);
            return NULL;
        }
    }
    *n = count / 2;
    return runs;
}

void conn_on_forwarded(void *owner, uint64_t tag, const char *reply, size_t len, int err)
{
    conn *c = owner;
    conn_slot *slot = connSlot(c, tag);
    if (slot->report != NULL && c->closing && err == BATCH_OK &&
        c->srv->env->undelivered != NULL) {
        /* the client left while the leader answered: its numbers must not be
         * taken for delivered */
        size_t n = 0;
        seq_run *runs = conn_reply_runs(reply, len, &n);
        if (runs != NULL) {
            undelivered_report(c->srv->env->undelivered, slot->report, strlen(slot->report), runs,
                               n, 0, false, "reply undelivered: the client disconnected");
            free(runs);
        }
    }
    conn_report rep = {0};
    if (slot->report != NULL && !c->closing && err == BATCH_OK) {
        rep.runs = conn_reply_runs(reply, len, &rep.n_runs);
        if (rep.runs != NULL) {
            rep.name = slot->report; /* the report takes the name */
            slot->report = NULL;
        }
    }
    free(slot->report);
    slot->report = NULL;
    if (err != BATCH_OK && !c->closing) {
        resp_buf *scratch = &c->srv->scratch;
        scratch->len = 0;
        commands_format_result(NULL, err, 0, connSlot(c, tag)->proto, scratch);
        reply = scratch->data;
        len = scratch->len;
    }
    connDeliver(c, tag, reply, len, &rep);
    connReportFree(&rep);
}

void conn_reply_raw(void *owner, uint64_t tag, const char *reply, size_t len)
{
    connDeliver(owner, tag, reply, len, NULL);
}

static void connAlloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn *c = h->data;
    size_t cap = c->srv->cfg->query_max;
    if (c->in_alloc - c->in_len < CONN_READ_CHUNK && c->in_alloc < cap) {
        size_t grown = c->in_alloc == 0 ? 2 * CONN_READ_CHUNK : c->in_alloc * 2;
        while (grown - c->in_len < CONN_READ_CHUNK && grown < cap) {
            grown *= 2;
        }
        if (grown > cap) {
            grown = cap;
        }
        c->in = connXrealloc(c->in, grown);
        c->in_alloc = grown;
    }
    /* A full buffer yields an empty one: libuv reports UV_ENOBUFS. */
    *buf = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_alloc - c->in_len));
}

static void connProtocolError(conn *c, const char *msg)
{
    c->srv->env->stats->protocol_errors++;
    uint64_t abs = connReserve(c);
    resp_buf *scratch = &c->srv->scratch;
    scratch->len = 0;
    resp_write_error(scratch, msg);
    connComplete(c, abs, scratch->data, scratch->len, NULL);
    c->close_when_flushed = true;
    c->reading = false;
    uv_read_stop((uv_stream_t *)&c->tcp);
}

static void connOnRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn *c = stream->data;
    if (nread == UV_ENOBUFS) {
        connProtocolError(c, "ERR Protocol error: query buffer limit reached");
        connMarkDirty(c);
        return;
    }
    if (nread < 0) {
        connClose(c); /* EOF or reset: replies in flight are dropped */
        return;
    }
    c->in_len += (size_t)nread;
    connProcess(c);
}

static void connPause(conn *c)
{
    if (c->reading && !c->paused) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->paused = true;
    }
}

static void connResumeMaybe(conn *c)
{
    if (c->closing || !c->reading) {
        return;
    }
    bool room = c->n_slots < c->srv->cfg->max_pipeline && c->out.len < CONN_OUT_HIGH_WATER &&
                !c->blocked;
    if (!room) {
        return;
    }
    if (c->in_len > 0 && !c->close_when_flushed) {
        connProcess(c); /* requests left unparsed when we paused */
    }
    if (c->paused && c->reading && !c->closing && !c->blocked &&
        c->n_slots < c->srv->cfg->max_pipeline && c->out.len < CONN_OUT_HIGH_WATER) {
        c->paused = false;
        uv_read_start((uv_stream_t *)&c->tcp, connAlloc, connOnRead);
    }
}

/* Runs one request; false when it must wait (nothing done): earlier
 * requests of this connection are still out on another path (this
 * node's log and a forward link, or two links), and it could take effect
 * before them. One connection's requests take effect in the order sent. */
static bool connDispatch(conn *c, const resp_request *req)
{
    conn_server *s = c->srv;
    if (c->over_limit) {
        bool node_link = req->argc == 3 && req->argv[0].len == 6 &&
                         strncasecmp(req->argv[0].ptr, "client", 6) == 0 &&
                         req->argv[2].len == strlen(FORWARD_CLIENT_NAME) &&
                         memcmp(req->argv[2].ptr, FORWARD_CLIENT_NAME, req->argv[2].len) == 0;
        if (!node_link) {
            s->env->stats->rejected_connections++;
            connProtocolError(c, "ERR max number of clients reached");
            return true;
        }
        c->over_limit = false;
    }
    command_call probe = {
        .argc = req->argc, .argv = req->argv, .proto = c->proto, .client = &c->client};
    int lane = commands_lane(s->env, &probe);
    for (int other = 1; lane != COMMAND_LANE_NONE && other < COMMAND_LANES; other++) {
        if (other != lane && c->lane_n[other] > 0) {
            c->blocked = true;
            return false;
        }
    }
    uint64_t abs = connReserve(c);
    s->scratch.len = 0;
    command_call call = {
        .argc = req->argc,
        .argv = req->argv,
        .proto = c->proto,
        .owner = c,
        .tag = abs,
        .out = &s->scratch,
        .client = &c->client,
        .logged_pending = c->logged > 0,
    };
    commands_dispatch(s->env, &call);
    if (call.new_proto != 0) {
        c->proto = call.new_proto;
    }
    if (call.deferred) {
        conn_slot *slot = connSlot(c, abs);
        slot->style = call.style;
        slot->logged = !call.via_cache;
        c->logged += slot->logged ? 1 : 0;
        slot->lane = (uint8_t)lane;
        c->lane_n[lane] += lane != COMMAND_LANE_NONE ? 1 : 0;
        if (call.report_name.len > 0) {
            slot->report = connXrealloc(NULL, call.report_name.len + 1);
            memcpy(slot->report, call.report_name.ptr, call.report_name.len);
            slot->report[call.report_name.len] = '\0';
        }
        c->refs++;
        return true;
    }
    conn_report rep = {0};
    if (call.report_runs != NULL) {
        /* a cached NEXT answered from memory at once */
        rep.name = connXrealloc(NULL, call.argv[1].len + 1);
        memcpy(rep.name, call.argv[1].ptr, call.argv[1].len);
        rep.name[call.argv[1].len] = '\0';
        rep.runs = call.report_runs;
        rep.n_runs = call.report_n_runs;
        rep.local = true;
    }
    connComplete(c, abs, s->scratch.data, s->scratch.len, &rep);
    connReportFree(&rep);
    if (call.close) {
        c->close_when_flushed = true;
        c->reading = false;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
    return true;
}

/* Parses and runs every whole request in the input, until the input runs
 * out, the client must wait (pending-replies cap), or it misbehaved. */
static void connProcess(conn *c)
{
    conn_server *s = c->srv;
    size_t pos = 0;
    while (!c->closing && !c->close_when_flushed && c->n_slots < s->cfg->max_pipeline) {
        resp_request req = {.argv = s->argv, .argc = 0};
        size_t used = 0;
        const char *err = NULL;
        /* a node's forward link wraps each request in FWD term deadline */
        resp_limits limits = s->limits;
        limits.args_max += c->client.forward_link ? 3 : 0;
        int rv = resp_parse_scratch(&limits, c->in + pos, c->in_len - pos, &req,
                                    s->inline_scratch, s->cfg->inline_max, &used, &err);
        if (rv == RESP_PARSE_INCOMPLETE) {
            break;
        }
        if (rv == RESP_PARSE_ERROR) {
            connProtocolError(c, err);
            break;
        }
        if (req.argc > 0 && !connDispatch(c, &req)) {
            break; /* it waits for another path: parsed again when that drains */
        }
        pos += used;
    }
    if (c->closing) {
        return;
    }
    if (pos > 0) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    if (c->n_slots >= s->cfg->max_pipeline || c->out.len >= CONN_OUT_HIGH_WATER || c->blocked) {
        connPause(c);
    }
    connMarkDirty(c);
}

static void connOnConnection(uv_stream_t *server, int status)
{
    conn_server *s = server->data;
    if (status < 0) {
        log_warn("accept: %s", uv_strerror(status));
        return;
    }
    conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_error("conn: out of memory");
        abort();
    }
    c->srv = s;
    c->proto = 2;
    c->client.id = ++s->env->stats->next_client_id;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->env->stats->connected_clients++;
    s->env->stats->total_connections++;
    c->slots_cap = CONN_SLOTS_INITIAL;
    c->slots = connXrealloc(NULL, sizeof(conn_slot) * c->slots_cap);
    resp_buf_init(&c->out, s->cfg->client_output_max);
    resp_buf_init(&c->wbuf, s->cfg->client_output_max);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        connClose(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    /* Past --max-clients a connection is kept only if it is another node's
     * forward link (its first request names it: see connDispatch), within
     * a small headroom: a full leader must not refuse its own followers. */
    c->over_limit = s->env->stats->connected_clients > s->cfg->max_clients;
    if (s->env->stats->connected_clients > s->cfg->max_clients + CONN_NODE_HEADROOM ||
        s->env->shutting_down) {
        s->env->stats->rejected_connections++;
        static const char msg[] = "-ERR max number of clients reached\r\n";
        uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        connClose(c);
        return;
    }
    c->reading = true;
    uv_read_start((uv_stream_t *)&c->tcp, connAlloc, connOnRead);
}

int conn_server_start(conn_server *s, uv_loop_t *loop, const config *cfg, command_env *env)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    s->env = env;
    s->limits.args_max = cfg->args_max;
    s->limits.bulk_max = cfg->bulk_max;
    s->limits.inline_max = cfg->inline_max;
    s->argv = calloc(cfg->args_max + 3, sizeof(resp_arg));
    s->inline_scratch = malloc(cfg->inline_max);
    if (s->argv == NULL || s->inline_scratch == NULL) {
        return UV_ENOMEM;
    }
    resp_buf_init(&s->scratch, cfg->client_output_max);
    struct sockaddr_in addr;
    int rv = uv_ip4_addr(cfg->bind, cfg->port, &addr);
    if (rv != 0) {
        return rv;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    rv = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&s->listener, 511, connOnConnection);
    }
    if (rv != 0) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        return rv;
    }
    uv_prepare_init(loop, &s->flusher);
    s->flusher.data = s;
    uv_prepare_start(&s->flusher, connOnPrepare);
    s->listening = true;
    return 0;
}

void conn_server_stop_listening(conn_server *s)
{
    if (s->listening) {
        s->listening = false;
        uv_close((uv_handle_t *)&s->listener, NULL);
    }
}

void conn_server_pause_all(conn_server *s)
{
    for (conn *c = s->conns; c != NULL; c = c->next) {
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
    }
}

bool conn_server_idle(const conn_server *s)
{
    for (const conn *c = s->conns; c != NULL; c = c->next) {
        if (!c->closing && (c->refs > 0 || c->writing || c->out.len > 0)) {
            return false;
        }
    }
    return true;
}

void conn_server_close_all(conn_server *s)
{
    for (conn *c = s->conns; c != NULL; c = c->next) {
        connClose(c);
    }
    uv_prepare_stop(&s->flusher);
    uv_close((uv_handle_t *)&s->flusher, NULL);
}

void conn_server_free(conn_server *s)
{
    free(s->argv);
    s->argv = NULL;
    free(s->inline_scratch);
    s->inline_scratch = NULL;
    resp_buf_free(&s->scratch);
}
