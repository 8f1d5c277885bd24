/* conn_input — a connection's input: reading into a buffer capped at
 * query_max bytes, parsing whole requests (resp_parse) and running them in
 * order, and pausing reading when the client is over a cap
 * (backpressure) or a request must wait for another path to drain.
 *
 * Invariants: the input buffer never grows past query_max (a full buffer
 * is a protocol error, not a bigger buffer); no more than max_pipeline
 * replies are pending; one connection's requests take effect in the order
 * sent: a request that would take another path (this node's log, a forward
 * link) while earlier ones are still out on a different one waits. Input is
 * network input: it is validated, never asserted on. */
#include "conn_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void connAlloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
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

void connProtocolError(conn *c, const char *msg)
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

void connReadStart(conn *c)
{
    if (c->tls != NULL) {
        uv_read_start((uv_stream_t *)&c->tcp, connTlsAlloc, connTlsOnRead);
    } else {
        uv_read_start((uv_stream_t *)&c->tcp, connAlloc, connOnRead);
    }
}

void connOnRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
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

void connResumeMaybe(conn *c)
{
    if (c->closing || !c->reading) {
        return;
    }
    bool room = c->n_slots < c->srv->cfg->max_pipeline && c->out.len < CONN_OUT_HIGH_WATER &&
                !c->blocked;
    if (!room) {
        return;
    }
    if (c->tls != NULL && !c->close_when_flushed && tls_session_has_plaintext(c->tls)) {
        connTlsPump(c); /* what the session kept while there was no room, then the requests */
    } else if (c->in_len > 0 && !c->close_when_flushed) {
        connProcess(c); /* requests left unparsed when we paused */
    }
    if (c->paused && c->reading && !c->closing && !c->blocked &&
        c->n_slots < c->srv->cfg->max_pipeline && c->out.len < CONN_OUT_HIGH_WATER) {
        c->paused = false;
        connReadStart(c);
    }
}

static bool connArgIs(const resp_arg *a, const char *word)
{
    return a->len == strlen(word) && strncasecmp(a->ptr, word, a->len) == 0;
}

/* Past --max-clients only another node's forward link may stay: it proves
 * itself first (CLUSTER CHALLENGE, then CLUSTER PEER, whose failure closes
 * the connection), and nothing else is heard before that. Returns false
 * when c was refused (it gets the error and is closed once it is written). */
static bool connAdmit(conn *c, const resp_request *req)
{
    if (!c->over_limit || c->client.forward_link) {
        return true;
    }
    bool challenge = req->argc == 2 && connArgIs(&req->argv[0], "cluster") &&
                     connArgIs(&req->argv[1], "challenge") && !c->challenged_over_limit;
    bool peer = req->argc == 4 && connArgIs(&req->argv[0], "cluster") &&
                connArgIs(&req->argv[1], "peer") && c->client.has_nonce;
    if (!challenge && !peer) {
        c->srv->env->stats->rejected_connections++;
        connProtocolError(c, "ERR max number of clients reached");
        return false;
    }
    c->challenged_over_limit = c->challenged_over_limit || challenge;
    return true;
}

/* Whether a request for lane must wait: earlier requests of c are still
 * out on another path, and it could take effect before them. */
static bool connLaneBusy(const conn *c, int lane)
{
    if (c->lane_n[COMMAND_LANE_AUTH] > 0) {
        return true; /* nothing passes a login being checked */
    }
    for (int other = 1; lane != COMMAND_LANE_NONE && other < COMMAND_LANES; other++) {
        if (other != lane && c->lane_n[other] > 0) {
            return true;
        }
    }
    return false;
}

/* A request whose reply comes later (the log, a forward link, the cache):
 * its slot remembers how to format it, which path it is out on, and the
 * sequence to report should its numbers never reach the client. */
static void connDefer(conn *c, uint64_t abs, const command_call *call, int lane)
{
    conn_slot *slot = connSlot(c, abs);
    assert(!slot->ready && slot->report == NULL);
    slot->style = call->style;
    slot->logged = !call->via_cache && !call->off_log;
    c->logged += slot->logged ? 1 : 0;
    slot->lane = (uint8_t)lane;
    c->lane_n[lane] += lane != COMMAND_LANE_NONE ? 1 : 0;
    if (call->report_name.len > 0) {
        slot->report = connXrealloc(NULL, call->report_name.len + 1);
        memcpy(slot->report, call->report_name.ptr, call->report_name.len);
        slot->report[call->report_name.len] = '\0';
    }
    slot->command = (int16_t)call->command;
    c->refs++;
}

/* A reply that is ready now: into its slot, with the report of a cached
 * NEXT answered from memory at once; QUIT and the like close the client
 * once it is written. */
static void connAnswer(conn *c, uint64_t abs, command_call *call)
{
    conn_server *s = c->srv;
    conn_report rep = {0};
    if (call->report_runs != NULL) {
        /* a cached NEXT answered from memory at once */
        assert(call->argc >= 2);
        rep.name = connXrealloc(NULL, call->argv[1].len + 1);
        memcpy(rep.name, call->argv[1].ptr, call->argv[1].len);
        rep.name[call->argv[1].len] = '\0';
        rep.runs = call->report_runs;
        rep.n_runs = call->report_n_runs;
        rep.local = true;
    }
    connComplete(c, abs, s->scratch.data, s->scratch.len, &rep);
    connReportFree(&rep);
    if (call->close) {
        c->close_when_flushed = true;
        c->reading = false;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
}

/* Runs one request; false when it must wait (nothing done): earlier
 * requests of this connection are still out on another path (this
 * node's log and a forward link, or two links), and it could take effect
 * before them. One connection's requests take effect in the order sent. */
static bool connDispatch(conn *c, const resp_request *req)
{
    conn_server *s = c->srv;
    assert(req->argc > 0 && !c->closing);
    if (!connAdmit(c, req)) {
        return true;
    }
    command_call probe = {
        .argc = req->argc, .argv = req->argv, .proto = c->proto, .client = &c->client};
    int lane = commands_lane(s->env, &probe);
    if (connLaneBusy(c, lane)) {
        c->blocked = true;
        return false;
    }
    uint64_t abs = connReserve(c);
    s->scratch.len = 0;
    uint64_t start_ns = c->read_ns;
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
        connDefer(c, abs, &call, lane);
        connSlot(c, abs)->start_ns = start_ns;
    } else {
        metrics_request(s->env->metrics, call.command, s->scratch.len > 0 && s->scratch.data[0] == '-',
                        uv_hrtime() - start_ns);
        connAnswer(c, abs, &call);
    }
    return true;
}

/* Parses and runs every whole request in the input, until the input runs
 * out, the client must wait (pending-replies cap), or it misbehaved. */
void connProcess(conn *c)
{
    conn_server *s = c->srv;
    size_t pos = 0;
    /* one clock read for the requests of one read: they arrived together */
    c->read_ns = uv_hrtime();
    while (!c->closing && !c->close_when_flushed && c->n_slots < s->cfg->max_pipeline) {
        resp_request req = {.argv = s->argv, .argc = 0};
        size_t used = 0;
        const char *err = NULL;
        /* a node's forward link wraps each request in FWD term deadline @user */
        resp_limits limits = s->limits;
        limits.args_max += c->client.forward_link ? 4 : 0;
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
