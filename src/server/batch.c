/* batch — group commit (see batch.h).
 *
 * Durability: a command is answered only from the result of applying its
 * committed entry (the apply callback), never when proposed. If leadership
 * is lost after the entry was appended, the entry may still commit later:
 * its commands get BATCH_ERR_UNKNOWN, never a guess. */
#include "batch.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "log.h"
#include "metrics.h"

#define BATCH_TICK_MS 20

typedef struct batch_item {
    void *owner;
    uint64_t tag;
} batch_item;

struct batch {
    struct raft_apply req; /* untouched from raft_apply until its callback */
    batcher *owner;
    uint64_t seq;
    uint64_t created_ms; /* loop time when the first command arrived */
    uint64_t proposed_ns; /* uv_hrtime at raft_apply, for the metrics */
    batch_item *items;
    size_t n, items_cap;
    seq_result *results; /* n, filled by the fsm through batcher_claim */
    bool claimed;
    batch_window window; /* the narrowest window of its forwarded commands */
    uint8_t *entry; /* raft_malloc'd; header space reserved at the front */
    size_t entry_len, entry_cap;
    codec_by by; /* the user its commands named last (named again only when it changes) */
    batch *next;
};

static void *batchXrealloc(void *p, size_t n)
{
    void *q = raft_realloc(p, n);
    if (q == NULL) {
        log_error("batch: out of memory");
        abort();
    }
    return q;
}

static batch *batchNew(batcher *b)
{
    batch *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        log_error("batch: out of memory");
        abort();
    }
    x->owner = b;
    x->seq = ++b->next_seq;
    x->created_ms = uv_now(b->loop);
    x->entry_cap = 4096;
    x->entry = batchXrealloc(NULL, x->entry_cap);
    x->entry_len = CODEC_HEADER_SIZE;
    x->req.data = x;
    return x;
}

static void batchFree(batch *x)
{
    for (size_t i = 0; x->results != NULL && i < x->n; i++) {
        seq_result_free(&x->results[i]);
    }
    free(x->results);
    free(x->items);
    raft_free(x->entry); /* NULL once raft owns it */
    free(x);
}

/* Tells every command of x that it failed with err, and frees x. */
static void batchFail(batcher *b, batch *x, int err)
{
    for (size_t i = 0; i < x->n; i++) {
        b->done(x->items[i].owner, x->items[i].tag, NULL, err);
    }
    assert(b->n_pending_cmds >= x->n);
    b->n_pending_cmds -= x->n;
    batchFree(x);
}

static void batchQueue(batch **head, batch **tail, batch *x)
{
    x->next = NULL;
    if (*tail != NULL) {
        (*tail)->next = x;
    } else {
        *head = x;
    }
    *tail = x;
}

static batch *batchPop(batch **head, batch **tail)
{
    batch *x = *head;
    if (x != NULL) {
        *head = x->next;
        if (*head == NULL) {
            *tail = NULL;
        }
        x->next = NULL;
    }
    return x;
}

static void batchSeal(batcher *b)
{
    batch *x = b->open;
    if (x == NULL || x->n == 0) {
        return;
    }
    b->open = NULL;
    batchQueue(&b->waiting_head, &b->waiting_tail, x);
}

/* Just before it is proposed, x takes no more commands: pad its entry and
 * make room for the results. */
static void batchClose(batch *x)
{
    /* libraft 0.22 (raft_uv) takes only entries whose length is a multiple
     * of 8: a 37-byte entry made raft_apply fail with RAFT_INVALID, or crash.
     * Pad with zeros; the fsm reads exactly n_cmds commands and ignores them. */
    size_t padded = (x->entry_len + 7) & ~(size_t)7;
    if (padded > x->entry_cap) {
        x->entry = batchXrealloc(x->entry, padded);
        x->entry_cap = padded;
    }
    memset(x->entry + x->entry_len, 0, padded - x->entry_len);
    x->entry_len = padded;
    x->results = calloc(x->n, sizeof(seq_result));
    if (x->results == NULL) {
        log_error("batch: out of memory");
        abort();
    }
}

static void batchApplied(struct raft_apply *req, int status, void *result);

static void batchPropose(batcher *b)
{
    /* A leader whose clock its followers do not vouch for proposes nothing:
     * its stamps would judge windows wrongly (docs/clock.md). */
    while (b->waiting_head != NULL && b->n_inflight < b->cfg->max_inflight &&
           node_is_leader(b->node) && node_formed(b->node) && node_clock_ok(b->node)) {
        batch *x = b->waiting_head;
        /* Stamp the time at proposal: the leader's clocks, carried in the
         * entry, are the only clocks the state machine ever sees; so are
         * the node-local limits it applies (determinism rule, seq.h). */
        int64_t wall_ms, mono_ms;
        clock_read(&b->clock, &wall_ms, &mono_ms);
        if (x->window.term != 0 && (x->window.term != raft_current_term(&b->node->raft) ||
                                    wall_ms > x->window.deadline_ms)) {
            /* A forwarded request outside the window its follower waits
             * in (another term, or past its deadline) never takes effect:
             * its client was or will be told so (docs: README, forwarding). */
            batchFail(b, batchPop(&b->waiting_head, &b->waiting_tail), BATCH_ERR_TRYAGAIN);
            continue;
        }
        codec_header h = {
            .time_ms = wall_ms,
            .mono_ms = mono_ms,
            .retention_ms = b->cfg->key_retention_ms,
            .keys_max = b->cfg->max_keys,
            .origin = b->origin,
            .batch_seq = x->seq,
            .n_cmds = (uint32_t)x->n,
        };
        if (x->results == NULL) {
            batchClose(x);
        }
        seq_writer w = {x->entry, 0, CODEC_HEADER_SIZE, false};
        codec_put_header(&w, &h);
        assert(!w.overflow && w.len == CODEC_HEADER_SIZE);
        int rv = node_propose(b->node, &x->req, x->entry, x->entry_len, batchApplied);
        if (rv == RAFT_NOTLEADER || rv == RAFT_LEADERSHIPLOST) {
            return; /* still ours; the timer retries or times it out */
        }
        batchPop(&b->waiting_head, &b->waiting_tail);
        if (rv != 0) {
            log_error("raft_apply: %s: the node stops serving", raft_strerror(rv));
            if (rv != RAFT_NOMEM && rv != RAFT_INVALID) {
                x->entry = NULL; /* on disk errors raft already freed it */
            }
            b->failed = true;
            batchFail(b, x, BATCH_ERR_IO);
            if (b->fatal != NULL) {
                b->fatal(b->fatal_ctx);
            }
            return;
        }
        x->entry = NULL; /* raft owns it now */
        x->proposed_ns = uv_hrtime();
        if (b->metrics != NULL) {
            metrics_observe(&b->metrics->batch_commands, (double)x->n);
        }
        b->entries_proposed++;
        b->commands_proposed += x->n;
        b->n_inflight++;
        batchQueue(&b->inflight_head, &b->inflight_tail, x);
    }
}

seq_result *batcher_claim(void *ctx, const codec_header *h)
{
    batcher *b = ctx;
    if (h->origin != b->origin) {
        return NULL;
    }
    for (batch *x = b->inflight_head; x != NULL; x = x->next) {
        if (x->seq == h->batch_seq) {
            if (x->n != h->n_cmds || x->claimed) {
                log_error("batch %llu: entry does not match its batch",
                          (unsigned long long)x->seq);
                return NULL;
            }
            x->claimed = true;
            return x->results;
        }
    }
    return NULL;
}

static void batchUnlinkInflight(batcher *b, batch *x)
{
    batch **p = &b->inflight_head;
    batch *prev = NULL;
    while (*p != NULL && *p != x) {
        prev = *p;
        p = &(*p)->next;
    }
    assert(*p == x);
    *p = x->next;
    if (b->inflight_tail == x) {
        b->inflight_tail = prev;
    }
    x->next = NULL;
    b->n_inflight--;
}

static void batchApplied(struct raft_apply *req, int status, void *result)
{
    (void)result;
    batch *x = req->data;
    batcher *b = x->owner;
    batchUnlinkInflight(b, x);
    /* Claimed means applied, and only committed entries are applied: the
     * results stand even when leadership was lost right after. */
    if (x->claimed) {
        uint64_t now_ns = uv_hrtime();
        if (b->metrics != NULL) {
            metrics_observe(&b->metrics->commit_seconds, (double)(now_ns - x->proposed_ns) / 1e9);
        }
        b->deliver_ns = now_ns;
        for (size_t i = 0; i < x->n; i++) {
            b->done(x->items[i].owner, x->items[i].tag, &x->results[i], BATCH_OK);
        }
        b->deliver_ns = 0;
        b->n_pending_cmds -= x->n;
        batchFree(x);
    } else if (status == RAFT_IOERR || status == RAFT_NOSPACE || status == RAFT_CORRUPT) {
        log_error("raft: %s: the node stops serving", raft_strerror(status));
        b->failed = true;
        batchFail(b, x, BATCH_ERR_UNKNOWN);
        if (b->fatal != NULL) {
            b->fatal(b->fatal_ctx);
        }
    } else {
        /* LEADERSHIPLOST, SHUTDOWN, or applied without reaching us: the
         * entry is in a log and may still commit. */
        if (status == 0) {
            log_error("batch %llu applied but its results were not claimed",
                      (unsigned long long)x->seq);
        }
        batchFail(b, x, BATCH_ERR_UNKNOWN);
    }
    batchPropose(b);
}

void batcher_submit(batcher *b, const seq_cmd *cmd, void *owner, uint64_t tag)
{
    batcher_submit_in(b, cmd, owner, tag, NULL);
}

/* Whether x can still take a command with window win: one term per batch,
 * and not past --batch-max. */
static bool batchTakes(const batcher *b, const batch *x, const batch_window *win)
{
    bool same_term = win == NULL || win->term == 0 || x->window.term == 0 ||
                     x->window.term == win->term;
    return same_term && x->n < b->cfg->batch_max && x->results == NULL;
}

void batcher_submit_in(batcher *b, const seq_cmd *cmd, void *owner, uint64_t tag,
                       const batch_window *win)
{
    if (b->open != NULL && !batchTakes(b, b->open, win)) {
        batchSeal(b);
    }
    batch *x = b->open;
    if (x == NULL && b->waiting_tail != NULL && batchTakes(b, b->waiting_tail, win)) {
        /* The entries in flight are at --max-inflight: what arrives now
         * joins the newest batch waiting for its turn, so that it leaves
         * as one entry (one append, one apply) however many loop turns
         * the wait lasts. Order stays that of submission: nothing is
         * open, so nothing newer than that batch exists yet. */
        x = b->waiting_tail;
    }
    if (x == NULL) {
        x = b->open = batchNew(b);
    }
    if (win != NULL && win->term != 0) {
        x->window.term = win->term;
        if (x->window.deadline_ms == 0 || win->deadline_ms < x->window.deadline_ms) {
            x->window.deadline_ms = win->deadline_ms;
        }
    }
    size_t need = codec_cmd_size_by(cmd, &x->by);
    if (x->entry_len + need > x->entry_cap) {
        size_t cap = x->entry_cap * 2;
        while (cap < x->entry_len + need) {
            cap *= 2;
        }
        x->entry = batchXrealloc(x->entry, cap);
        x->entry_cap = cap;
    }
    seq_writer w = {x->entry + x->entry_len, 0, x->entry_cap - x->entry_len, false};
    codec_put_cmd_by(&w, cmd, &x->by);
    assert(!w.overflow && w.len == need);
    x->entry_len += need;
    if (x->n == x->items_cap) {
        x->items_cap = x->items_cap == 0 ? 16 : x->items_cap * 2;
        x->items = realloc(x->items, sizeof(*x->items) * x->items_cap);
        if (x->items == NULL) {
            log_error("batch: out of memory");
            abort();
        }
    }
    x->items[x->n].owner = owner;
    x->items[x->n].tag = tag;
    x->n++;
    b->n_pending_cmds++;
    if (x == b->open && x->n >= b->cfg->batch_max) {
        batchSeal(b);
    }
}

void batcher_flush(batcher *b)
{
    batchSeal(b);
    if (b->failed) {
        batch *x;
        while ((x = batchPop(&b->waiting_head, &b->waiting_tail)) != NULL) {
            batchFail(b, x, BATCH_ERR_IO);
        }
        return;
    }
    batchPropose(b);
}

/* End of every loop turn: this turn's commands become one entry. */
static void batchOnCheck(uv_check_t *h)
{
    batcher_flush(h->data);
}

/* While there is no leader, batches wait; past the timeout they fail. */
static void batchOnTimer(uv_timer_t *t)
{
    batcher *b = t->data;
    batcher_flush(b);
    uint64_t now = uv_now(b->loop);
    while (b->waiting_head != NULL &&
           now - b->waiting_head->created_ms >= b->cfg->request_timeout_ms) {
        bool leads = node_is_leader(b->node);
        int err = node_cluster_down(b->node)           ? BATCH_ERR_CLUSTERDOWN
                  : leads && !node_formed(b->node)     ? BATCH_ERR_FORMING
                  : leads && !node_clock_ok(b->node)   ? BATCH_ERR_CLOCK
                                                       : BATCH_ERR_TRYAGAIN;
        batchFail(b, batchPop(&b->waiting_head, &b->waiting_tail), err);
    }
}

int batcher_init(batcher *b, uv_loop_t *loop, node *n, const config *cfg, uint64_t origin,
                 batch_done_fn done, batch_fatal_fn fatal, void *fatal_ctx)
{
    memset(b, 0, sizeof(*b));
    b->loop = loop;
    b->node = n;
    b->cfg = cfg;
    b->origin = origin;
    b->done = done;
    b->fatal = fatal;
    b->fatal_ctx = fatal_ctx;
    int rv = uv_check_init(loop, &b->check);
    if (rv != 0) {
        return rv;
    }
    b->check.data = b;
    uv_check_start(&b->check, batchOnCheck);
    rv = uv_timer_init(loop, &b->timer);
    if (rv != 0) {
        uv_close((uv_handle_t *)&b->check, NULL);
        return rv;
    }
    b->timer.data = b;
    uv_timer_start(&b->timer, batchOnTimer, BATCH_TICK_MS, BATCH_TICK_MS);
    return 0;
}

void batcher_stop(batcher *b, int err)
{
    batchSeal(b);
    batch *x;
    while ((x = batchPop(&b->waiting_head, &b->waiting_tail)) != NULL) {
        batchFail(b, x, err);
    }
    uv_check_stop(&b->check);
    uv_timer_stop(&b->timer);
    if (!uv_is_closing((uv_handle_t *)&b->check)) {
        uv_close((uv_handle_t *)&b->check, NULL);
        uv_close((uv_handle_t *)&b->timer, NULL);
    }
}
