/* membership — changing the cluster's voters at run time through Raft
 * configuration entries: add a node (as a spare, then promoted to voter once
 * it has caught up), remove one, and list them.
 *
 * Invariants: only the leader changes membership, one change at a time
 * (libraft refuses a second while one is uncommitted); adding a member that
 * is already a voter, or removing one that is absent, succeeds and changes
 * nothing, so a retry after an unknown outcome is safe. */
#ifndef SEQD_MEMBERSHIP_H
#define SEQD_MEMBERSHIP_H

#include <stdint.h>

#include "node.h"

/* status 0, or a raft error code; msg says what happened, for the reply. */
typedef void (*membership_cb)(void *ctx, void *owner, uint64_t tag, int status,
                              const char *msg);

/* Start adding "a.b.c.d:port" (its Raft bus at port + 10000). Returns 0 when
 * cb will run later, else a raft error code with *msg set (cb never runs). */
int membership_add(node *n, const char *client_address, void *ctx, void *owner, uint64_t tag,
                   membership_cb cb, const char **msg);

/* Start removing the member with that client address. As membership_add. */
int membership_remove(node *n, const char *client_address, void *ctx, void *owner,
                      uint64_t tag, membership_cb cb, const char **msg);

/* The role name of a server in the current configuration. */
const char *membership_role_name(int role);

#endif
