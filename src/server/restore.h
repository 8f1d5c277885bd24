/* restore — a data directory that `seqd restore` seeded: <dir>/restore.pending
 * holds the backup's state (advanced past the backup, reservations
 * released). The node starts as a new single node or founding member; the
 * first leader proposes the restore entry (fsm.h), which becomes the state
 * on every member; then each member removes its file.
 *
 * Keeps: until the restore entry is applied, the node serves no command
 * that reads or changes sequences or users (TRYAGAIN), and the default
 * user's seed waits, so nothing can be issued from, or change, a state
 * that is about to be replaced; a pending file that fails its checksum
 * stops the start. */
#ifndef SEQD_RESTORE_H
#define SEQD_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "node.h"

#define RESTORE_PENDING_FILE "restore.pending"

typedef struct restore {
    node *node;
    bool pending;   /* the file is there and its entry not yet applied */
    bool inflight;  /* this node proposed the entry */
    char path[1100];
    void *snapshot; /* the core snapshot to propose (malloc'd) */
    size_t snapshot_len;
    uv_timer_t tick;
    struct raft_apply req;
} restore;

/* Reads <dir>/restore.pending if there is one. 0 (also when none), or -1
 * after logging why the file is unusable. */
int restore_load(restore *r, const char *dir);

/* Before node_start: the node tells r when the entry is applied (in the
 * replay of the log, too). */
void restore_hook(restore *r, node *n);

/* Once raft runs: proposes the entry whenever this node leads. */
void restore_start(restore *r, uv_loop_t *loop);

void restore_stop(restore *r);

#endif
