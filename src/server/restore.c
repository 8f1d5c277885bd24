/* restore — proposing a seeded directory's backup state (see restore.h). */
#include "restore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"
#include "log.h"

#define RESTORE_TICK_MS 20

int restore_load(restore *r, const char *dir)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->path, sizeof(r->path), "%s/%s", dir, RESTORE_PENDING_FILE);
    FILE *f = fopen(r->path, "rb");
    if (f == NULL) {
        return errno == ENOENT ? 0 : (log_error("cannot read %s: %s", r->path, strerror(errno)), -1);
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap == 0 ? 1 << 16 : cap * 2;
            uint8_t *grown = cap <= BACKUP_MAX_BYTES ? realloc(buf, cap) : NULL;
            if (grown == NULL) {
                break;
            }
            buf = grown;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    bool read_ok = !ferror(f) && feof(f);
    fclose(f);
    backup_meta m;
    const char *why = "it cannot be read whole";
    seq_state *s = read_ok ? backup_decode(buf, len, &m, &why) : NULL;
    free(buf);
    if (s == NULL) {
        log_error("%s: %s; not serving from it", r->path, why);
        return -1;
    }
    r->snapshot = seq_snapshot_encode(s, &r->snapshot_len);
    seq_state_free(s);
    if (r->snapshot == NULL) {
        return -1;
    }
    r->pending = true;
    log_info("restore: %s holds a backup of index %llu (seqd %s, %s): it becomes the state "
             "once this cluster has a leader; nothing is served until then",
             r->path, (unsigned long long)m.index, m.version, m.node);
    return 0;
}

static void restoreApplied(void *ctx, bool replaced)
{
    restore *r = ctx;
    if (!r->pending) {
        return;
    }
    r->pending = false;
    if (unlink(r->path) != 0 && errno != ENOENT) {
        log_warn("restore: cannot remove %s: %s", r->path, strerror(errno));
    }
    log_info("restore: %s", replaced ? "the backup's state is in force; serving"
                                     : "the state was restored before; serving");
}

static void restoreProposed(struct raft_apply *req, int status, void *result)
{
    (void)result;
    restore *r = req->data;
    r->inflight = false;
    if (status != 0) {
        log_warn("restore: the restore entry was not committed (%s); trying again",
                 raft_strerror(status));
    }
}

static void restoreTick(uv_timer_t *t)
{
    restore *r = t->data;
    if (!r->pending) {
        uv_timer_stop(&r->tick);
        return;
    }
    if (!seq_state_pristine(r->node->fsm.state)) {
        /* the entry was applied before this start, and a snapshot since
         * holds its state (on a follower too): nothing left to do */
        restoreApplied(r, false);
        return;
    }
    if (r->inflight || !node_is_leader(r->node)) {
        return;
    }
    size_t len = 0;
    uint8_t *entry = fsm_restore_entry(r->snapshot, r->snapshot_len, &len);
    if (entry == NULL) {
        return;
    }
    r->req.data = r;
    int rv = node_propose(r->node, &r->req, entry, len, restoreProposed);
    if (rv != 0) {
        log_warn("restore: cannot propose the restore entry: %s", raft_strerror(rv));
        if (rv == RAFT_NOTLEADER || rv == RAFT_LEADERSHIPLOST || rv == RAFT_NOMEM) {
            raft_free(entry); /* refused before the log took it; after, raft freed it */
        }
        return;
    }
    r->inflight = true;
}

void restore_hook(restore *r, node *n)
{
    r->node = n;
    n->on_restore = restoreApplied;
    n->restore_ctx = r;
}

void restore_start(restore *r, uv_loop_t *loop)
{
    uv_timer_init(loop, &r->tick);
    r->tick.data = r;
    if (r->pending) {
        uv_timer_start(&r->tick, restoreTick, RESTORE_TICK_MS, RESTORE_TICK_MS);
    }
}

void restore_stop(restore *r)
{
    uv_timer_stop(&r->tick);
    uv_close((uv_handle_t *)&r->tick, NULL);
    free(r->snapshot);
    r->snapshot = NULL;
}
