/* undelivered — tells the log about numbers whose reply never reached its
 * client: the client was gone when the result came back, or leadership was
 * lost before this node could answer and the entry committed after all.
 *
 * The report is an UNDELIVERED command, proposed like any other (through
 * the batcher on the leader, the forwarder on a follower): in gapless mode
 * it releases the numbers, to be issued again first, so the confirmed
 * series keeps no hole; in the other modes the ledger lists them as
 * unknown-fate. Reports are best effort: one lost with a crash leaves the
 * numbers final (strict) or reserved until their TTL (gapless). */
#ifndef SEQD_UNDELIVERED_H
#define SEQD_UNDELIVERED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "forward.h"
#include "node.h"
#include "seq.h"

typedef struct undelivered {
    batch_internal base;     /* the batcher's answers */
    forward_internal fbase;  /* the leader's, to reports forwarded there */
    batcher *batcher;
    node *node;
    forwarder *forwarder; /* NULL on a single node */
    uint64_t reported;    /* runs reported, for INFO */
    uint64_t served;      /* runs of lost USED reports sent again as SERVED */
} undelivered;

void undelivered_init(undelivered *u, batcher *b, node *n, forwarder *f);

/* Reports the runs of a NEXT or RESERVE result of sequence name. For a
 * RESERVE, grant is its result's grant; for a NEXT, 0. local: the result
 * was applied by this process (a batch of its own), which is what lets a
 * gapless NEXT's numbers be released rather than marked unknown (see
 * seqUndelivered). */
/* The period the numbers were issued in (periodic sequences): a report
 * without one changes nothing on a periodic sequence (seqUndelivered). */
typedef struct undelivered_period {
    bool has;
    uint8_t kind; /* enum period_kind */
    int64_t id;
} undelivered_period;

/* The period of a result's numbers (none: has false). */
undelivered_period undelivered_period_of(const seq_result *res);

void undelivered_report(undelivered *u, const char *name, size_t name_len, const seq_run *runs,
                        size_t n_runs, uint64_t grant, bool local, undelivered_period period,
                        const char *cause);

/* Reports the runs a cached-mode block owner (term, owner) served from
 * sequence name (incarnation) whose USED never reached the log: SERVED,
 * into the log on the leader, through the forwarder on a follower. */
void undelivered_served(undelivered *u, const char *name, size_t name_len, uint64_t incarnation,
                        uint64_t term, uint64_t owner, const seq_run *runs, size_t n_runs);

#endif
