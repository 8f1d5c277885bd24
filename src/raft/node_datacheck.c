/* node_datacheck — a node never serves from less than it had.
 *
 * Keeps: <dir>/applied records (about once a second, atomically) the last
 * index applied; a log that ends before it, a snapshot or segment that
 * fails its check, refuses the start with what to do; on a leader, a
 * follower far behind is reported. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "node_internal.h"

#define NODE_LAG_ENTRIES 10000

/* <dir>/applied: the last log index this node applied, kept outside the
 * log (written about once a second, atomically), so that a log that lost
 * entries (a corrupt segment libraft set aside, a file deleted) is noticed
 * at start instead of served from. 0 when there is none yet. */
static void nodeAppliedPath(const node *n, char *out, size_t cap)
{
    snprintf(out, cap, "%s/applied", n->cfg->dir);
}

uint64_t nodeReadApplied(const node *n)
{
    char path[1100];
    nodeAppliedPath(n, path, sizeof(path));
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        return 0;
    }
    unsigned long long v = 0;
    if (fscanf(fp, "applied %llu", &v) != 1) {
        v = 0;
    }
    fclose(fp);
    return v;
}

void nodeWriteApplied(node *n, uint64_t applied)
{
    char path[1100], tmp[1120];
    nodeAppliedPath(n, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0) {
        log_warn("cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    char text[64];
    int len = snprintf(text, sizeof(text), "applied %llu\n", (unsigned long long)applied);
    bool ok = write(fd, text, (size_t)len) == len && fdatasync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        log_warn("cannot write %s: %s", path, strerror(errno));
        return;
    }
    n->recorded_applied = applied;
}

/* The newest file in the raft directory whose name starts with prefix
 * (libraft names them with their indexes), for an error message. */
static void nodeNewestFile(const node *n, const char *prefix, char *out, size_t cap)
{
    out[0] = '\0';
    DIR *d = opendir(n->raft_dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strstr(e->d_name, ".meta") == NULL &&
            strcmp(e->d_name, out) > 0) {
            snprintf(out, cap, "%s", e->d_name);
        }
    }
    closedir(d);
}

/* On the leader: a voter whose log is far behind (a full or failing disk
 * stalls a follower silently in libraft) is reported, every few seconds. */
void nodeCheckLag(node *n)
{
    raft_index last = raft_last_index(&n->raft);
    const struct raft_configuration *c = &n->raft.configuration;
    for (unsigned i = 0; i < c->n; i++) {
        raft_index match = 0;
        if (c->servers[i].id == n->id || c->servers[i].role != RAFT_VOTER ||
            raft_match_index(&n->raft, c->servers[i].id, &match) != 0) {
            continue;
        }
        if (last > match + NODE_LAG_ENTRIES) {
            log_warn("raft: member %s is %llu entries behind the leader (down, or its disk "
                     "is failing)",
                     c->servers[i].address, (unsigned long long)(last - match));
        }
    }
}

int nodeRefuseDamaged(node *n, int rv)
{
    assert(rv != 0);
    if (n->fsm.bad_snapshots > 0) {
        char name[256];
        nodeNewestFile(n, "snapshot-", name, sizeof(name));
        log_error("data check: the snapshot %s/%s fails its check: this node refuses to "
                  "serve from less than it had (%s, or restore a backup)",
                  n->raft_dir, name, NODE_REBUILD);
        return NODE_REFUSED;
    }
    if (rv == RAFT_CORRUPT || rv == RAFT_MALFORMED) {
        /* auto-recovery is off: libraft names the file that failed */
        log_error("data check: the Raft log in %s fails its checksum (the file is named "
                  "above): this node refuses to serve from damaged data (%s, or "
                  "restore a backup)",
                  n->raft_dir, NODE_REBUILD);
        return NODE_REFUSED;
    }
    return rv;
}

int nodeCheckApplied(node *n, uint64_t had_applied)
{
    if (raft_last_index(&n->raft) < had_applied) {
        /* entries this node applied are gone (a segment deleted or cut
         * short): never serve from less than was applied */
        log_error("data check: this node had applied log entry %llu (%s/applied), but its log "
                  "in %s now ends at %llu: files are missing; it refuses to serve from less "
                  "than it had (%s, or restore a backup)",
                  (unsigned long long)had_applied, n->cfg->dir, n->raft_dir,
                  (unsigned long long)raft_last_index(&n->raft), NODE_REBUILD);
        return NODE_REFUSED;
    }
    n->recorded_applied = had_applied;
    return 0;
}
