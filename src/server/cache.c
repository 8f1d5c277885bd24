/* cache — the leader's in-memory blocks for cached-mode sequences (see
 * cache.h). */
#include "cache.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>

#include "clock.h"
#include "log.h"

#define CACHE_REPORT_MS 5             /* served numbers wait at most this long for their USED */
#define CACHE_REPORT_MAX 100000u      /* ... or until this many are waiting */
#define CACHE_REPORT_RUNS_MAX 1024u   /* ... or this many runs (blocks spanning ranges) */

typedef struct cache_waiter {
    void *owner;
    uint64_t tag;
    uint32_t count;
    struct cache_waiter *next;
} cache_waiter;

typedef struct cache_req cache_req;

static void cacheFlushSeq(cache *c, cache_seq *cs);

struct cache_seq {
    UT_hash_handle hh;
    char *name;
    size_t name_len;
    uint64_t incarnation;
    uint64_t owner;  /* node of its ALLOCBLOCK and USED (see cacheProcess) */
    bool fresh;      /* no ALLOCBLOCK sent yet: the first one says so */
    uint32_t block;  /* the sequence's CACHE */
    seq_run *runs;   /* served from the front, in block order */
    size_t n_runs, runs_cap;
    uint64_t avail;
    int64_t until_ms; /* served only while the leader's clock is at or before it */
    bool dry;        /* the last block came short: no prefetching */
    cache_req *pending; /* the ALLOCBLOCK in flight, if any */
    cache_waiter *head, *tail;
    /* served and not yet reported: the next USED (cacheFlushSeq) */
    seq_run *unreported;
    size_t n_unreported, unreported_cap;
    uint64_t unreported_count; /* served in c->term: a term change drops cs first */
};

/* One ALLOCBLOCK in flight. Orphaned (seq = NULL) when its sequence's
 * blocks are dropped before it completes. */
struct cache_req {
    batch_internal base;
    cache *c;
    cache_seq *seq;
    raft_term term;
    uint32_t asked;
};


static void *cacheXmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        log_error("cache: out of memory");
        abort();
    }
    return p;
}

static void cacheIgnoreDone(void *owner, uint64_t tag, const seq_result *res, int err)
{
    (void)owner;
    (void)tag;
    if (err == BATCH_OK && res->status != SEQ_OK) {
        log_warn("cache: report refused: %s", seq_status_text(res->status));
    }
}

void cache_init(cache *c, batcher *b, node *n, batch_done_fn deliver)
{
    memset(c, 0, sizeof(*c));
    c->base.done = cacheIgnoreDone;
    c->batcher = b;
    c->node = n;
    c->deliver = deliver;
    int rv = uv_timer_init(b->loop, &c->flush_timer);
    assert(rv == 0); /* uv_timer_init cannot fail on an initialised loop */
    (void)rv;
    c->flush_timer.data = c;
}

/* The owner of a sequence's blocks is this process (its nonce, high 48
 * bits) and this holder of them (low 16 bits, new whenever a sequence's
 * blocks are forgotten), in this term. A restart, a new leader, or this
 * leader after it forgot a sequence's blocks owns nothing of what was
 * handed out before, so the log skips it: its USED counts from the front
 * of the owner's blocks, which must be exactly the ones served from here. */
static uint64_t cacheProcess(const cache *c)
{
    return c->batcher->origin & ~(uint64_t)0xffff;
}

static void cacheSubmit(cache *c, uint8_t op, cache_seq *cs, uint32_t count, void *owner)
{
    assert(op == SEQ_OP_ALLOCBLOCK || op == SEQ_OP_USED || op == SEQ_OP_RECOVER);
    assert((cs == NULL) == (op == SEQ_OP_RECOVER));
    seq_cmd cmd = {.op = op, .count = count, .term = c->term, .node = cacheProcess(c)};
    if (cs != NULL) {
        cmd.name = cs->name;
        cmd.name_len = cs->name_len;
        cmd.node = cs->owner;
        /* a block is for one incarnation: after a DROP and CREATE the log
         * refuses it (SEQ_ERR_STALE) rather than join a new block to an
         * old holder, whose numbers lie outside the new ranges */
        cmd.incarnation = cs->incarnation;
        if (op == SEQ_OP_ALLOCBLOCK) {
            /* the holder number wraps: the log must not take a block an
             * earlier holder of the same number left there for ours (the
             * flag stays on until an ALLOCBLOCK of ours succeeds) */
            cmd.has_start = cs->fresh;
        }
    }
    batcher_submit(c->batcher, &cmd, owner, BATCH_TAG_INTERNAL);
}

static void cacheFailWaiters(cache *c, cache_seq *cs, const seq_result *res, int err)
{
    cache_waiter *w = cs->head;
    cs->head = cs->tail = NULL;
    while (w != NULL) {
        cache_waiter *next = w->next;
        c->deliver(w->owner, w->tag, res, err);
        free(w);
        w = next;
    }
}

static void cacheSeqDrop(cache *c, cache_seq *cs, int err)
{
    assert(err != BATCH_OK); /* its waiters are told why they get nothing */
    cacheFlushSeq(c, cs); /* served is served: the log hears of it (or the next leader, as SERVED) */
    HASH_DEL(c->by_name, cs);
    if (cs->pending != NULL) {
        cs->pending->seq = NULL;
    }
    cacheFailWaiters(c, cs, NULL, err);
    free(cs->runs);
    free(cs->name);
    free(cs);
}

static void cacheDropAll(cache *c, int err)
{
    cache_seq *cs, *tmp;
    HASH_ITER(hh, c->by_name, cs, tmp)
    {
        cacheSeqDrop(c, cs, err);
    }
}

/* One USED in flight, with the numbers it reports, so that they can be
 * named again if the entry is lost. */
typedef struct cache_used {
    batch_internal base;
    cache *c;
    uint64_t incarnation, term, owner;
    size_t name_len, n_runs;
    seq_run *runs; /* malloc'd */
    char name[]; /* name_len bytes */
} cache_used;

static void cacheUsedDone(void *owner, uint64_t tag, const seq_result *res, int err)
{
    (void)tag;
    cache_used *u = owner;
    if (err == BATCH_OK && res->status != SEQ_OK) {
        log_warn("cache: USED refused: %s", seq_status_text(res->status));
    } else if (err != BATCH_OK && u->c->reports != NULL) {
        /* Not in the log, perhaps never: the leader (maybe this node again,
         * in a later term) hears of the numbers once more. */
        undelivered_served(u->c->reports, u->name, u->name_len, u->incarnation, u->term,
                           u->owner, u->runs, u->n_runs);
    }
    free(u->runs);
    free(u);
}

/* Sends what cs served and did not report yet as one USED. */
static void cacheFlushSeq(cache *c, cache_seq *cs)
{
    if (cs->n_unreported == 0) {
        return;
    }
    cache_used *u = cacheXmalloc(sizeof(*u) + cs->name_len);
    u->base.done = cacheUsedDone;
    u->c = c;
    u->incarnation = cs->incarnation;
    u->term = c->term;
    u->owner = cs->owner;
    u->name_len = cs->name_len;
    memcpy(u->name, cs->name, cs->name_len);
    u->runs = cs->unreported; /* the report takes them */
    u->n_runs = cs->n_unreported;
    uint64_t count = cs->unreported_count;
    cs->unreported = NULL;
    cs->n_unreported = cs->unreported_cap = 0;
    cs->unreported_count = 0;
    assert(count <= UINT32_MAX);
    cacheSubmit(c, SEQ_OP_USED, cs, (uint32_t)count, &u->base);
}

/* Every sequence's unreported numbers, as one USED each. */
static void cacheFlushAll(cache *c)
{
    cache_seq *cs, *tmp;
    HASH_ITER(hh, c->by_name, cs, tmp)
    {
        cacheFlushSeq(c, cs);
    }
}

static void cacheOnFlushTimer(uv_timer_t *t)
{
    cacheFlushAll(t->data);
}

/* Notes numbers just served; they go to the log within CACHE_REPORT_MS
 * (or at once past CACHE_REPORT_MAX of them, or when this node stops
 * serving them), one USED per sequence for all of them rather than one per
 * request: at 16 x 16 pipelined, USED commands were half the commands
 * applied, and at 1 client each NEXT made a log write of its own. */
static void cacheNoteServed(cache *c, cache_seq *cs, const seq_result *served)
{
    for (size_t i = 0; i < served->n_runs; i++) {
        const seq_run *r = &served->runs[i];
        seq_run *tail = cs->n_unreported > 0 ? &cs->unreported[cs->n_unreported - 1] : NULL;
        if (tail != NULL && tail->last != INT64_MAX && tail->last + 1 == r->first) {
            tail->last = r->last;
        } else {
            if (cs->n_unreported == cs->unreported_cap) {
                cs->unreported_cap = cs->unreported_cap == 0 ? 4 : cs->unreported_cap * 2;
                seq_run *grown = cacheXmalloc(sizeof(*grown) * cs->unreported_cap);
                if (cs->n_unreported > 0) {
                    memcpy(grown, cs->unreported, sizeof(*grown) * cs->n_unreported);
                }
                free(cs->unreported);
                cs->unreported = grown;
            }
            cs->unreported[cs->n_unreported++] = *r;
        }
        cs->unreported_count += (uint64_t)r->last - (uint64_t)r->first + 1;
    }
    if (cs->unreported_count >= CACHE_REPORT_MAX || cs->n_unreported >= CACHE_REPORT_RUNS_MAX ||
        c->stopped) {
        cacheFlushSeq(c, cs);
    } else if (!uv_is_active((uv_handle_t *)&c->flush_timer)) {
        uv_timer_start(&c->flush_timer, cacheOnFlushTimer, CACHE_REPORT_MS, 0);
    }
}

/* Takes count numbers (avail >= count) from the front of the block into
 * res, as NEXT would have returned them, and reports them served. */
static void cacheTake(cache *c, cache_seq *cs, uint32_t count, seq_result *res)
{
    assert(count > 0 && cs->avail >= count && cs->n_runs > 0);
    memset(res, 0, sizeof(*res));
    res->op = SEQ_OP_NEXT;
    res->status = SEQ_OK;
    seq_run *out = count == 1 ? &res->run_inline : NULL;
    size_t n_out = 0, out_cap = count == 1 ? 1 : 0;
    uint64_t need = count;
    while (need > 0) {
        seq_run *r = &cs->runs[0];
        uint64_t span = (uint64_t)r->last - (uint64_t)r->first; /* numbers - 1 */
        seq_run piece = *r;
        if (span >= need) {
            piece.last = (int64_t)((uint64_t)r->first + need - 1);
            r->first = piece.last + 1;
            need = 0;
        } else {
            need -= span + 1;
            memmove(cs->runs, cs->runs + 1, sizeof(*cs->runs) * (cs->n_runs - 1));
            cs->n_runs--;
        }
        if (n_out == out_cap) {
            out_cap = out_cap == 0 ? 4 : out_cap * 2;
            seq_run *grown = cacheXmalloc(sizeof(*grown) * out_cap);
            if (n_out > 0) {
                memcpy(grown, out, sizeof(*grown) * n_out);
            }
            if (out != &res->run_inline) {
                free(out);
            }
            out = grown;
        }
        out[n_out++] = piece;
    }
    if (n_out == 1 && out != &res->run_inline) {
        res->run_inline = out[0];
        free(out);
        out = &res->run_inline;
    }
    /* the runs held exactly avail numbers: emptied, they held count */
    assert(n_out >= 1 && (cs->n_runs > 0 || cs->avail == count));
    res->runs = out;
    res->n_runs = n_out;
    cs->avail -= count;
    c->served += count;
    cacheNoteServed(c, cs, res);
}

static void cacheOnAlloc(void *owner, uint64_t tag, const seq_result *res, int err);

static void cacheAlloc(cache *c, cache_seq *cs, uint32_t count)
{
    assert(cs->pending == NULL && count > 0); /* one ALLOCBLOCK in flight per holder */
    cache_req *req = cacheXmalloc(sizeof(*req));
    req->base.done = cacheOnAlloc;
    req->c = c;
    req->seq = cs;
    req->term = c->term;
    req->asked = count;
    cs->pending = req;
    cacheSubmit(c, SEQ_OP_ALLOCBLOCK, cs, count, req);
}

/* Serves the waiting requests in order while the block holds enough. */
static void cacheServeWaiters(cache *c, cache_seq *cs)
{
    while (cs->head != NULL && cs->avail >= cs->head->count) {
        cache_waiter *w = cs->head;
        cs->head = w->next;
        if (cs->head == NULL) {
            cs->tail = NULL;
        }
        seq_result r;
        cacheTake(c, cs, w->count, &r);
        /* the name lets a client that left meanwhile be reported */
        r.name = cacheXmalloc(cs->name_len + 1);
        memcpy(r.name, cs->name, cs->name_len + 1);
        r.name_len = cs->name_len;
        c->deliver(w->owner, w->tag, &r, BATCH_OK);
        seq_result_free(&r);
        free(w);
    }
}

static void cacheMaybeAlloc(cache *c, cache_seq *cs)
{
    if (cs->pending != NULL) {
        return;
    }
    if (cs->head != NULL) {
        uint32_t want = cs->head->count > cs->block ? cs->head->count : cs->block;
        cacheAlloc(c, cs, want);
    } else if (!cs->dry && cs->avail <= cs->block / 2) {
        cacheAlloc(c, cs, cs->block);
    }
}

static cache_seq *cacheSeqFor(cache *c, const char *name, size_t name_len);

/* Moves cs's waiters to a holder of the sequence's current incarnation
 * (or fails them when it is not a cached sequence any more), then drops
 * cs. */
static void cacheRequeue(cache *c, cache_seq *cs)
{
    cache_waiter *w = cs->head;
    cs->head = cs->tail = NULL;
    char name[SEQ_NAME_MAX + 1];
    size_t name_len = cs->name_len;
    memcpy(name, cs->name, name_len);
    cacheSeqDrop(c, cs, BATCH_ERR_TRYAGAIN); /* no waiters left to fail */
    cache_seq *fresh = cacheSeqFor(c, name, name_len);
    while (w != NULL) {
        cache_waiter *next = w->next;
        if (fresh == NULL) {
            c->deliver(w->owner, w->tag, NULL, BATCH_ERR_TRYAGAIN);
            free(w);
        } else {
            w->next = NULL;
            if (fresh->tail != NULL) {
                fresh->tail->next = w;
            } else {
                fresh->head = w;
            }
            fresh->tail = w;
        }
        w = next;
    }
    if (fresh != NULL) {
        cacheServeWaiters(c, fresh);
        cacheMaybeAlloc(c, fresh);
    }
}

/* Whether the block a completed ALLOCBLOCK brought may be served here.
 * When not, the request is freed and cs dropped or requeued, so that a
 * block nobody here can vouch for is skipped by the next owner, never
 * counted twice. */
static bool cacheBlockUsable(cache *c, cache_req *req, cache_seq *cs, const seq_result *res,
                             int err)
{
    assert(req->seq == cs && cs->pending == NULL);
    if (err != BATCH_OK) {
        /* It may still have reached the log (UNKNOWN): start over as a new
         * owner, so a block nobody here knows of is skipped, never counted. */
        free(req);
        cacheSeqDrop(c, cs, err);
        return false;
    }
    if (res->status == SEQ_ERR_STALE) {
        /* The sequence was dropped and created again before this block:
         * its waiting requests go to a holder of the new incarnation. */
        free(req);
        cacheRequeue(c, cs);
        return false;
    }
    if (req->term != c->term || !node_is_leader(c->node)) {
        /* A block of a term that is over: the next owner skips it. */
        free(req);
        cacheSeqDrop(c, cs, BATCH_ERR_TRYAGAIN);
        return false;
    }
    int64_t until = res->status == SEQ_OK && res->until_ms < cs->until_ms ? res->until_ms
                                                                          : cs->until_ms;
    if (until != INT64_MAX && clock_wall_ms() > until) {
        /* A range of the blocks expired (NOTAFTER) while this one was on
         * its way: give them all up; the waiting requests retry. */
        free(req);
        cacheSeqDrop(c, cs, BATCH_ERR_TRYAGAIN);
        return false;
    }
    return true;
}

/* Appends a granted block's runs behind those cs still serves; returns
 * how many numbers it brought. */
static uint64_t cacheAddBlock(cache *c, cache_seq *cs, const seq_result *res)
{
    assert(res->status == SEQ_OK);
    cs->fresh = false; /* the log now holds our block, and only ours */
    if (cs->n_runs + res->n_runs > cs->runs_cap) {
        size_t cap = (cs->n_runs + res->n_runs) * 2;
        seq_run *grown = realloc(cs->runs, sizeof(*grown) * cap);
        if (grown == NULL) {
            log_error("cache: out of memory");
            abort();
        }
        cs->runs = grown;
        cs->runs_cap = cap;
    }
    uint64_t got = 0;
    for (size_t i = 0; i < res->n_runs; i++) {
        assert(res->runs[i].first <= res->runs[i].last);
        cs->runs[cs->n_runs++] = res->runs[i];
        got += (uint64_t)res->runs[i].last - (uint64_t)res->runs[i].first + 1;
    }
    cs->until_ms = res->until_ms < cs->until_ms ? res->until_ms : cs->until_ms;
    cs->avail += got;
    c->blocks++;
    return got;
}

static void cacheOnAlloc(void *owner, uint64_t tag, const seq_result *res, int err)
{
    (void)tag;
    cache_req *req = owner;
    cache *c = req->c;
    cache_seq *cs = req->seq;
    if (cs == NULL) { /* its blocks were dropped meanwhile */
        free(req);
        return;
    }
    assert(cs->pending == req);
    cs->pending = NULL;
    if (!cacheBlockUsable(c, req, cs, res, err)) {
        return;
    }
    uint64_t got = res->status == SEQ_OK ? cacheAddBlock(c, cs, res) : 0;
    cs->dry = got < req->asked;
    free(req);
    cacheServeWaiters(c, cs);
    if (cs->head != NULL && (res->status != SEQ_OK || cs->dry)) {
        /* Not enough numbers valid now: the rest wait no longer. */
        seq_result none;
        memset(&none, 0, sizeof(none));
        none.op = SEQ_OP_NEXT;
        none.status = res->status == SEQ_OK ? SEQ_ERR_EXHAUSTED : res->status;
        none.remaining = res->remaining + cs->avail;
        none.opens_ms = res->status == SEQ_OK ? INT64_MAX : res->opens_ms;
        cacheFailWaiters(c, cs, &none, BATCH_OK);
    }
    cacheMaybeAlloc(c, cs);
}

/* The holder of name's blocks for its current incarnation, made when
 * there is none; NULL when name is not a live cached sequence. A holder of
 * an earlier incarnation, or one whose block's range expired, is dropped
 * first (its waiters get TRYAGAIN). */
static cache_seq *cacheSeqFor(cache *c, const char *name, size_t name_len)
{
    uint32_t block = 0;
    uint64_t incarnation = 0;
    bool cached = seq_cached_info(c->node->fsm.state, name, name_len, &block, &incarnation);
    cache_seq *cs = NULL;
    HASH_FIND(hh, c->by_name, name, name_len, cs);
    if (cs != NULL && (!cached || cs->incarnation != incarnation)) {
        cacheSeqDrop(c, cs, BATCH_ERR_TRYAGAIN); /* dropped or created again */
        cs = NULL;
    }
    if (cs != NULL && cs->until_ms != INT64_MAX && clock_wall_ms() > cs->until_ms) {
        /* A range of the block expired (NOTAFTER): its numbers may not be
         * served any more. A new holder's block makes the log skip them. */
        cacheSeqDrop(c, cs, BATCH_ERR_TRYAGAIN);
        cs = NULL;
    }
    if (!cached) {
        return NULL;
    }
    if (cs == NULL) {
        cs = calloc(1, sizeof(*cs));
        if (cs == NULL) {
            log_error("cache: out of memory");
            abort();
        }
        cs->name = cacheXmalloc(name_len + 1);
        memcpy(cs->name, name, name_len);
        cs->name[name_len] = '\0';
        cs->name_len = name_len;
        cs->incarnation = incarnation;
        cs->block = block;
        cs->until_ms = INT64_MAX;
        cs->owner = cacheProcess(c) | (++c->holders & 0xffff);
        cs->fresh = true;
        HASH_ADD_KEYPTR(hh, c->by_name, cs->name, cs->name_len, cs);
    }
    return cs;
}

bool cache_next(cache *c, const char *name, size_t name_len, uint32_t count, void *owner,
                uint64_t tag, seq_result *res)
{
    raft_term term = raft_current_term(&c->node->raft);
    if (term != c->term) {
        cacheDropAll(c, BATCH_ERR_TRYAGAIN);
        c->term = term;
    }
    assert(count > 0 && name_len > 0);
    cache_seq *cs = cacheSeqFor(c, name, name_len);
    if (cs == NULL) {
        memset(res, 0, sizeof(*res));
        res->op = SEQ_OP_NEXT;
        res->status = SEQ_ERR_STALE; /* not a cached sequence now: the caller logs it */
        return true;
    }
    if (cs->head == NULL && cs->avail >= count) {
        cacheTake(c, cs, count, res);
        cacheMaybeAlloc(c, cs);
        return true;
    }
    cache_waiter *w = cacheXmalloc(sizeof(*w));
    *w = (cache_waiter){owner, tag, count, NULL};
    if (cs->tail != NULL) {
        cs->tail->next = w;
    } else {
        cs->head = w;
    }
    cs->tail = w;
    cs->dry = false; /* asked for: try again, ranges may have been added */
    cacheMaybeAlloc(c, cs);
    return false;
}

void cache_on_role(void *ctx, bool leader, raft_term term)
{
    cache *c = ctx;
    /* A leader that already started serving in this term (cache_next saw
     * the term first) keeps its blocks. */
    if (!leader || term != c->term) {
        cacheDropAll(c, BATCH_ERR_TRYAGAIN);
    }
    c->term = term;
    if (leader) {
        /* Blocks other leaders (or this one, before a restart) held are
         * now lost: the ledger records them as skipped. */
        cacheSubmit(c, SEQ_OP_RECOVER, NULL, 0, &c->base);
    }
}

void cache_flush_name(cache *c, const char *name, size_t name_len)
{
    if (c->by_name == NULL) {
        return;
    }
    cache_seq *cs;
    HASH_FIND(hh, c->by_name, name, name_len, cs);
    if (cs != NULL) {
        cacheFlushSeq(c, cs);
    }
}

void cache_stop(cache *c)
{
    cacheFlushAll(c);
    c->stopped = true;
    uv_timer_stop(&c->flush_timer);
    uv_close((uv_handle_t *)&c->flush_timer, NULL);
}

void cache_free(cache *c)
{
    cache_seq *cs, *tmp;
    HASH_ITER(hh, c->by_name, cs, tmp)
    {
        HASH_DEL(c->by_name, cs);
        if (cs->pending != NULL) {
            cs->pending->seq = NULL;
        }
        cache_waiter *w = cs->head;
        while (w != NULL) {
            cache_waiter *next = w->next;
            free(w);
            w = next;
        }
        free(cs->unreported);
        free(cs->runs);
        free(cs->name);
        free(cs);
    }
}
