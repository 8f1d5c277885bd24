/* batch — group commit: every sequence command that arrives in one event-loop
 * turn goes into one log entry, so one fsync serves all of them; several
 * entries may be in flight at once.
 *
 * Invariants: commands reach the log in the order they were submitted;
 * entries are proposed in batch order, so on one leader they are applied in
 * that order too; every submitted command gets exactly one done callback —
 * with its result once its entry is committed and applied, or with an error
 * (and then no number of that entry is answered). A batch waits at most
 * request_timeout_ms for a leader. */
#ifndef SEQD_BATCH_H
#define SEQD_BATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "clock.h"
#include "config.h"
#include "node.h"
#include "seq.h"

enum batch_error {
    BATCH_OK = 0,
    BATCH_ERR_TRYAGAIN = 1, /* never reached the log: safe to retry */
    BATCH_ERR_UNKNOWN = 2,  /* reached the log, fate unknown: retry with the same KEY */
    BATCH_ERR_IO = 3,       /* the node's disk failed: it stops serving */
    BATCH_ERR_SHUTDOWN = 4, /* the server is stopping; never reached the log */
    BATCH_ERR_CLUSTERDOWN = 5, /* no leader for long: no quorum; never reached the log */
    BATCH_ERR_CLOCK = 6, /* the leader's clock is off from its followers'; never reached the log */
    BATCH_ERR_FORMING = 7, /* a new cluster that has not met all its founders; never reached the log */
};

/* Called once per submitted command. res is valid (and owned by the batch)
 * only during the call and only when err == BATCH_OK. */
typedef void (*batch_done_fn)(void *owner, uint64_t tag, const seq_result *res, int err);
/* Called once when the node hits a disk error and must stop. */
typedef void (*batch_fatal_fn)(void *ctx);

typedef struct batch batch;

/* Requests the server makes itself (cached-mode blocks, reports of
 * undelivered replies) carry this bit in their tag; their owner starts with
 * a batch_internal whose done gets the result instead of a connection. */
#define BATCH_TAG_INTERNAL (1ull << 63)
typedef struct batch_internal {
    batch_done_fn done;
} batch_internal;

typedef struct batcher {
    uv_loop_t *loop;
    node *node;
    const config *cfg;
    batch_done_fn done;
    batch_fatal_fn fatal;
    void *fatal_ctx;
    uint64_t origin;   /* this process's nonce, stamped into each entry */
    clock_watch clock; /* the clocks stamped into each entry */
    uint64_t next_seq; /* batch counter */
    batch *open;       /* collecting this loop turn's commands */
    batch *waiting_head, *waiting_tail;   /* sealed, not yet proposed */
    batch *inflight_head, *inflight_tail; /* proposed, in log order */
    size_t n_inflight;
    size_t n_pending_cmds; /* submitted, not yet done */
    bool failed;           /* a disk error: refuse everything */
    uv_check_t check;
    uv_timer_t timer;
    /* statistics for INFO */
    uint64_t entries_proposed, commands_proposed;
    /* While an applied batch's results are delivered: uv_hrtime at its
     * apply, one clock read for all of them (0 otherwise). */
    uint64_t deliver_ns;
    /* and for /metrics: commands per entry, proposed to applied (set after
     * batcher_init; NULL: none) */
    struct metrics *metrics;
} batcher;

int batcher_init(batcher *b, uv_loop_t *loop, node *n, const config *cfg, uint64_t origin,
                 batch_done_fn done, batch_fatal_fn fatal, void *fatal_ctx);

/* Queues cmd (copied into the entry at once; cmd may be freed after). The
 * done callback runs later, never from inside this call. */
void batcher_submit(batcher *b, const seq_cmd *cmd, void *owner, uint64_t tag);

/* The window a forwarded request may take effect in: proposed only in the
 * Raft term its follower sent it for, and before deadline_ms on this
 * node's wall clock (the follower stops waiting then). term 0: none. */
typedef struct batch_window {
    uint64_t term;
    int64_t deadline_ms;
} batch_window;

/* batcher_submit for a forwarded request: its batch is refused
 * (BATCH_ERR_TRYAGAIN: never applied) should it reach proposal outside w. */
void batcher_submit_in(batcher *b, const seq_cmd *cmd, void *owner, uint64_t tag,
                       const batch_window *w);

/* The fsm claim hook (see fsm.h); ctx is the batcher. */
seq_result *batcher_claim(void *ctx, const codec_header *h);

/* Seals the open batch and proposes what can be proposed now. */
void batcher_flush(batcher *b);

/* Fails every command that has not reached the log with err, and stops the
 * handles (closed asynchronously). In-flight entries still complete. */
void batcher_stop(batcher *b, int err);

#endif
