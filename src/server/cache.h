/* cache — the leader's in-memory blocks for sequences in cached mode.
 *
 * A cached NEXT on the leader is answered from a block the log has already
 * handed to this leader (ALLOCBLOCK, owner = this node and term), without
 * waiting for a log entry; what was served is reported to the log after
 * (USED, one per sequence every CACHE_REPORT_MS for all that was served
 * meanwhile), so the ledger knows which numbers of a block became final. A new
 * block is asked for when half of the current one is left.
 *
 * Invariants: a number is served only from a block that is committed and
 * owned by this process (its nonce) in the current term, so no two leaders
 * ever serve the same number (a deposed or restarted leader's blocks
 * belong to an owner nobody else is); numbers are served in block order, the order USED reports them;
 * a lost leadership drops every block (the next owner logs them skipped)
 * and fails the requests still waiting with TRYAGAIN. A USED that does not
 * reach the log (leadership lost with it in flight) is sent again as
 * SERVED with its numbers, through undelivered, so that numbers a client
 * got are not left listed as skipped. */
#ifndef SEQD_CACHE_H
#define SEQD_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "node.h"
#include "seq.h"
#include "undelivered.h"

typedef struct cache_seq cache_seq;

typedef struct cache {
    batch_internal base; /* for the fire-and-forget reports */
    batcher *batcher;
    node *node;
    batch_done_fn deliver; /* a waiting client's reply (the batcher's done) */
    undelivered *reports;  /* where a lost USED goes again; NULL: nowhere */
    uv_timer_t flush_timer; /* sends the USED of what was served (CACHE_REPORT_MS) */
    bool stopped;           /* cache_stop: report at once from now on */
    cache_seq *by_name;    /* uthash head */
    raft_term term;        /* the term the blocks were obtained in */
    uint64_t holders;      /* block holders made so far (see cacheProcess) */
    uint64_t served, blocks; /* statistics */
} cache;

void cache_init(cache *c, batcher *b, node *n, batch_done_fn deliver);

/* Serves NEXT name COUNT count for a client (owner, tag). Returns true with
 * the result written into *res (the caller formats and frees it) when it
 * was served at once; false when the request waits for a block (its reply
 * comes through deliver later). */
bool cache_next(cache *c, const char *name, size_t name_len, uint32_t count, void *owner,
                uint64_t tag, seq_result *res);

/* node.on_role: a new leader logs RECOVER; a lost leadership drops blocks. */
void cache_on_role(void *ctx, bool leader, raft_term term);

/* Sends the USED of what sequence name served and did not report yet,
 * before a command on it is proposed: that command then sees those numbers
 * final (GAPS, LOOKUP, VOID of a number just served). */
void cache_flush_name(cache *c, const char *name, size_t name_len);

/* At shutdown: reports what was served and stops the flush timer. */
void cache_stop(cache *c);

void cache_free(cache *c);

#endif
