/* conn_slots — a connection's ring of reply slots: every request gets a
 * slot in the order it was read, and replies leave in that order, whatever
 * order their results come back in (the log, a forward link, the cache).
 *
 * Invariants: the ring's capacity is a power of two; slots [head_abs,
 * head_abs + n_slots) are live; a ready reply at the head goes straight to
 * the output, one behind it waits in its slot (copied) until every reply
 * before it is out; refs counts the deferred replies a batch or link still
 * owes, and a closing connection is freed only when the last one arrives. */
#include "conn_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

conn_slot *connSlot(conn *c, uint64_t abs)
{
    assert(abs >= c->head_abs && abs - c->head_abs < c->n_slots);
    return &c->slots[(c->head + (abs - c->head_abs)) & (c->slots_cap - 1)];
}

uint64_t connReserve(conn *c)
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
    assert(c->n_slots <= c->slots_cap && (c->slots_cap & (c->slots_cap - 1)) == 0);
    conn_slot *slot = connSlot(c, abs);
    memset(slot, 0, sizeof(*slot));
    slot->proto = (uint8_t)c->proto;
    return abs;
}

static void connPopHead(conn *c)
{
    assert(c->n_slots > 0);
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

/* A reply is ready: at the head it goes straight out, else it waits; rep
 * (may be NULL) is its report, which this takes. */
void connComplete(conn *c, uint64_t abs, const char *p, size_t n, conn_report *rep)
{
    assert(abs >= c->head_abs && abs - c->head_abs < c->n_slots);
    assert(p != NULL || n == 0);
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
        connReportOwn(rep); /* kept until the replies before it are ready */
        slot->rep = *rep;
        memset(rep, 0, sizeof(*rep));
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
    uint64_t batch_ns = c->srv->env->batcher != NULL ? c->srv->env->batcher->deliver_ns : 0;
    metrics_request(c->srv->env->metrics, slot->command, len > 0 && reply[0] == '-',
                    (batch_ns != 0 ? batch_ns : uv_hrtime()) - slot->start_ns);
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
    if (c->client.proto_after_auth != 0) {
        /* HELLO n AUTH passed: the requests after it were held back */
        c->proto = c->client.proto_after_auth;
        c->client.proto_after_auth = 0;
    }
    connComplete(c, tag, reply, len, rep);
    connMarkDirty(c);
}

void conn_on_done(void *owner, uint64_t tag, const seq_result *res, int err)
{
    conn *c = owner;
    assert(c != NULL);
    assert(err != BATCH_OK || res != NULL);
    resp_buf *scratch = &c->srv->scratch;
    scratch->len = 0;
    conn_report rep = {0};
    if (!c->closing) {
        conn_slot *slot = connSlot(c, tag);
        bool untexted = err == BATCH_OK && res->status == SEQ_OK && res->n_texts == 0 &&
                        res->n_runs > 0 && res->name != NULL &&
                        (slot->style == STYLE_TEXT || slot->style == STYLE_TEXTS);
        if (untexted) {
            /* a cached block's numbers, served once the block came */
            seq_result texts;
            memset(&texts, 0, sizeof(texts));
            commands_render_texts(c->srv->env, res->name, res->name_len, res, &texts);
            commands_format_result(&texts, err, slot->style, slot->proto, scratch);
            seq_result_free(&texts);
        } else {
            commands_format_result(res, err, slot->style, slot->proto, scratch);
        }
        if (err == BATCH_OK && res->status == SEQ_OK && res->name != NULL && res->n_runs > 0) {
            /* borrowed: most reports merge into the connection's last one,
             * and only one that is kept needs copies (connReportOwn) */
            rep.name = res->name;
            rep.runs = res->runs;
            rep.n_runs = res->n_runs;
            rep.borrowed = true;
            rep.grant = res->op == SEQ_OP_RESERVE ? res->grant : 0;
            rep.local = true;
            rep.period = undelivered_period_of(res);
        }
    } else if (err == BATCH_OK && res->status == SEQ_OK && res->name != NULL &&
               c->srv->env->undelivered != NULL) {
        /* the client is gone: its numbers must not be taken for delivered */
        undelivered_report(c->srv->env->undelivered, res->name, res->name_len, res->runs,
                           res->n_runs, res->op == SEQ_OP_RESERVE ? res->grant : 0, true,
                           undelivered_period_of(res), "reply undelivered: the client disconnected");
    }
    connDeliver(c, tag, scratch->data, scratch->len, &rep);
    connReportFree(&rep); /* not taken when the connection was closing */
}

void conn_on_forwarded(void *owner, uint64_t tag, const char *reply, size_t len, int err)
{
    conn *c = owner;
    assert(c != NULL);
    assert(reply != NULL || len == 0);
    conn_slot *slot = connSlot(c, tag);
    if (slot->report != NULL && c->closing && err == BATCH_OK &&
        c->srv->env->undelivered != NULL) {
        /* the client left while the leader answered: its numbers must not be
         * taken for delivered */
        size_t n = 0;
        seq_run *runs = conn_reply_runs(reply, len, &n);
        if (runs != NULL) {
            /* a forwarded reply's bytes name no period: on a periodic
             * sequence the report changes nothing (docs/documents.md) */
            undelivered_report(c->srv->env->undelivered, slot->report, strlen(slot->report), runs,
                               n, 0, false, undelivered_period_of(NULL),
                               "reply undelivered: the client disconnected");
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
