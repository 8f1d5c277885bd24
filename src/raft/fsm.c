/* fsm — raft_fsm over the seq core (see fsm.h).
 *
 * Durability: an entry reaches apply only once committed (fsynced on a
 * majority — on a single node, on its own disk), so a result computed here
 * may be answered. A snapshot is the whole seq state; raft keeps trailing
 * entries behind it and replays what follows on restart. */
#include "fsm.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <zlib.h>

#include "clock.h"
#include "log.h"

/* Makes what the stamps say of the clocks visible (a warning, INFO): a new
 * leader whose wall clock is behind the last one's, and how far this
 * node's clock is from the stamping leader's. Decides nothing. */
static void fsmWatchClock(fsm *f, const codec_header *h, int64_t before_ms)
{
    if (h->origin != f->last_origin && f->last_origin != 0 && before_ms > h->time_ms &&
        before_ms - h->time_ms > CLOCK_JUMP_MS) {
        f->clock_leader_steps++;
        f->clock_last_step_ms = h->time_ms - before_ms;
        log_warn("clock: a new leader's wall clock is %lld ms behind the last leader's; range "
                 "windows now follow it, TTLs and key retention are not affected",
                 (long long)(before_ms - h->time_ms));
    }
    f->last_origin = h->origin;
    if (h->origin != f->origin) {
        f->has_offset = true;
        f->clock_offset_ms = clock_wall_ms() - h->time_ms;
    }
}

/* The first identity entry names the cluster for good; a later one (two
 * leaders of one forming term each proposed one) changes nothing. */
static void fsmApplyIdentity(fsm *f, const uint8_t *cluster)
{
    assert(cluster != NULL);
    if (f->has_cluster) {
        return;
    }
    memcpy(f->cluster, cluster, IDENTITY_CLUSTER_BYTES);
    f->has_cluster = true;
    assert(f->has_cluster);
    if (f->on_identity != NULL) {
        f->on_identity(f->identity_ctx, f->cluster);
    }
}

size_t fsm_identity_entry(uint8_t *out, const uint8_t *cluster)
{
    memset(out, 0, FSM_IDENTITY_ENTRY_LEN);
    out[0] = FSM_IDENTITY_ENTRY;
    memcpy(out + 1, cluster, IDENTITY_CLUSTER_BYTES);
    return FSM_IDENTITY_ENTRY_LEN;
}

size_t fsm_peer_key_entry(uint8_t *out, const uint8_t *key)
{
    memset(out, 0, FSM_PEER_KEY_ENTRY_LEN);
    out[0] = FSM_PEER_KEY_ENTRY;
    memcpy(out + 1, key, FSM_PEER_KEY_BYTES);
    return FSM_PEER_KEY_ENTRY_LEN;
}

/* The first peer key applied is the cluster's for good. */
static void fsmApplyPeerKey(fsm *f, const uint8_t *key)
{
    if (!f->has_peer_key) {
        memcpy(f->peer_key, key, FSM_PEER_KEY_BYTES);
        f->has_peer_key = true;
    }
}

/* An entry this replica cannot apply whole: a replica of a newer version
 * might apply it, so skipping it here could diverge. Stop instead. */
static void fsmHalt(fsm *f, const char *why)
{
    if (f->halt != NULL) {
        f->halt(f->halt_ctx, why);
    }
}

/* The changes an auditor asks about, with who made them, into the log
 * (the leader that proposed them logs them; the entries keep them for
 * good). Rules are not shown: they hold
 * password hashes. */
static void fsmAudit(const seq_cmd *cmd)
{
    const char *what = NULL;
    switch (cmd->op) {
    case SEQ_OP_CREATE: what = "CREATE"; break;
    case SEQ_OP_ADDRANGE: what = "ADDRANGE"; break;
    case SEQ_OP_DROP: what = "DROP"; break;
    case SEQ_OP_VOID: what = "VOID"; break;
    case SEQ_OP_ACL_SETUSER: what = cmd->has_start ? "ACL SETUSER (seed)" : "ACL SETUSER"; break;
    case SEQ_OP_ACL_DELUSER: what = "ACL DELUSER"; break;
    default: return;
    }
    const char *by = cmd->user_len > 0 ? cmd->user : "(server)";
    int by_len = cmd->user_len > 0 ? (int)cmd->user_len : 8;
    if (cmd->op == SEQ_OP_VOID) {
        log_info("audit: %s %.*s %lld by %.*s", what, (int)cmd->name_len, cmd->name,
                 (long long)cmd->min, by_len, by);
    } else if (cmd->op == SEQ_OP_ACL_DELUSER) {
        log_info("audit: %s %.*s by %.*s", what, (int)cmd->text_len, cmd->text, by_len, by);
    } else {
        log_info("audit: %s %.*s by %.*s", what, (int)cmd->name_len, cmd->name, by_len, by);
    }
}

/* What follows one applied command: the count of numbers handed out, the
 * name kept with a result that may yet be reported undelivered, and the
 * WARN threshold crossed. */
static void fsmAfterCommand(fsm *f, const codec_header *h, const seq_cmd *cmd, seq_result *res,
                            bool claimed)
{
    assert(cmd != NULL && res != NULL);
    /* the core answers only in its own vocabulary, and a replay is a success */
    assert(res->status >= SEQ_OK && res->status <= SEQ_STATUS_LAST);
    assert(!res->replayed || res->status == SEQ_OK);
    if (res->status == SEQ_ERR_BADCMD) {
        fsmHalt(f, "an operation it does not know");
    }
    bool handed = res->status == SEQ_OK && !res->replayed &&
                  (cmd->op == SEQ_OP_NEXT || cmd->op == SEQ_OP_RESERVE);
    if (handed) {
        f->numbers_issued += cmd->op == SEQ_OP_NEXT ? cmd->count : 1;
    }
    /* Only numbers nobody can ask for again may be reported undelivered:
     * a KEY's numbers come back with a retry of that KEY (and a report
     * racing such a retry would release a number the client now has). */
    if (handed && cmd->key_len == 0) {
        if (claimed && res->name == NULL) {
            /* the name goes with the result, for a report should the
             * client be gone when it is answered */
            res->name = malloc(cmd->name_len + 1);
            if (res->name != NULL) {
                memcpy(res->name, cmd->name, cmd->name_len);
                res->name[cmd->name_len] = '\0';
                res->name_len = cmd->name_len;
            }
        } else if (!claimed && h->origin == f->origin && f->orphan != NULL) {
            f->orphan(f->orphan_ctx, cmd, res);
        }
    }
    if (res->warn_crossed) {
        log_warn("sequence %.*s: remaining numbers at or below its WARN threshold",
                 (int)cmd->name_len, cmd->name);
    }
    if (res->status == SEQ_OK && claimed) {
        fsmAudit(cmd); /* once: by the process that proposed it, not at each replay */
    }
    f->commands_applied++;
    f->commands_since_snapshot++;
}

static uint32_t fsmCrc(const uint8_t *p, size_t len);

uint8_t *fsm_restore_entry(const void *snapshot, size_t snapshot_len, size_t *len)
{
    /* libraft's disk log takes entries whose length is a multiple of 8 */
    size_t padded = (FSM_RESTORE_HEADER + snapshot_len + 7) / 8 * 8;
    uint8_t *buf = raft_malloc(padded);
    if (buf == NULL) {
        return NULL;
    }
    memset(buf + FSM_RESTORE_HEADER + snapshot_len, 0, padded - FSM_RESTORE_HEADER - snapshot_len);
    seq_writer w = {buf, 0, FSM_RESTORE_HEADER, false};
    seq_put_u8(&w, FSM_RESTORE_ENTRY);
    seq_put_bytes(&w, "SQRS", 4);
    seq_put_u32(&w, fsmCrc(snapshot, snapshot_len));
    seq_put_u64(&w, snapshot_len);
    assert(!w.overflow && w.len == FSM_RESTORE_HEADER);
    memcpy(buf + FSM_RESTORE_HEADER, snapshot, snapshot_len);
    *len = padded;
    return buf;
}

/* A restore entry: the backup's state replaces a pristine one. Anything
 * wrong with it halts the node, as any entry it cannot apply. */
static void fsmApplyRestore(fsm *f, const uint8_t *p, size_t len)
{
    seq_reader r = {p, len, 1, false};
    const uint8_t *magic = seq_get_bytes(&r, 4);
    uint32_t crc = seq_get_u32(&r);
    uint64_t n = seq_get_u64(&r);
    size_t room = len - FSM_RESTORE_HEADER;
    const uint8_t *core = r.bad || n > room || room - n >= 8 ? NULL : p + FSM_RESTORE_HEADER;
    if (magic == NULL || memcmp(magic, "SQRS", 4) != 0 || core == NULL || fsmCrc(core, n) != crc) {
        f->bad_entries++;
        fsmHalt(f, "a restore entry that fails its checksum");
        return;
    }
    bool replace = seq_state_pristine(f->state) && !f->restored;
    seq_state *s = replace ? seq_snapshot_decode(core, n) : NULL;
    if (replace && s == NULL) {
        f->bad_entries++;
        fsmHalt(f, "a restore entry whose state does not decode");
        return;
    }
    if (replace) {
        seq_state_free(f->state);
        f->state = s;
        f->restored = true;
        log_info("fsm: restored the state of a backup (%zu sequences, %zu bytes)", seq_count_live(s),
                 (size_t)n);
    } else {
        log_info("fsm: a restore entry after the state began: changes nothing");
    }
    if (f->on_restore != NULL) {
        f->on_restore(f->restore_ctx, replace);
    }
}

static int fsmApply(struct raft_fsm *rf, const struct raft_buffer *buf, void **result)
{
    fsm *f = rf->data;
    assert(f != NULL && f->state != NULL && buf != NULL);
    seq_reader r = {buf->base, buf->len, 0, false};
    codec_header h;
    *result = NULL;
    if (buf->len == FSM_IDENTITY_ENTRY_LEN &&
        ((const uint8_t *)buf->base)[0] == FSM_IDENTITY_ENTRY) {
        fsmApplyIdentity(f, (const uint8_t *)buf->base + 1);
        f->entries_applied++;
        return 0;
    }
    if (buf->len == FSM_PEER_KEY_ENTRY_LEN &&
        ((const uint8_t *)buf->base)[0] == FSM_PEER_KEY_ENTRY) {
        fsmApplyPeerKey(f, (const uint8_t *)buf->base + 1);
        f->entries_applied++;
        return 0;
    }
    if (buf->len >= FSM_RESTORE_HEADER && ((const uint8_t *)buf->base)[0] == FSM_RESTORE_ENTRY) {
        fsmApplyRestore(f, buf->base, buf->len);
        f->entries_applied++;
        return 0;
    }
    if (codec_get_header(&r, &h) != 0) {
        f->bad_entries++;
        log_error("fsm: a log entry with a bad header (%zu bytes)", buf->len);
        fsmHalt(f, "unknown entry header");
        return 0;
    }
    seq_result *slots = f->claim != NULL ? f->claim(f->claim_ctx, &h) : NULL;
    int64_t before_ms = seq_clock_ms(f->state);
    seq_stamp stamp = codec_stamp(&h);
    seq_stamp_entry(f->state, &stamp);
    fsmWatchClock(f, &h, before_ms);
    codec_by by = {.user_len = 0}; /* who asked, as the entry's commands name it */
    for (uint32_t i = 0; i < h.n_cmds; i++) {
        seq_cmd cmd;
        seq_result local;
        /* Applied in place: a result must not be copied (see seq.h). */
        seq_result *res = slots != NULL ? &slots[i] : &local;
        if (codec_get_cmd_by(&r, &cmd, &by) != 0) {
            f->bad_entries++;
            log_error("fsm: log entry truncated at command %u of %u", i, h.n_cmds);
            fsmHalt(f, "a command it cannot decode");
            for (uint32_t j = i; slots != NULL && j < h.n_cmds; j++) {
                memset(&slots[j], 0, sizeof(slots[j]));
                slots[j].status = SEQ_ERR_BADCMD;
            }
            break;
        }
        seq_apply(f->state, &cmd, res);
        fsmAfterCommand(f, &h, &cmd, res, slots != NULL);
        if (slots == NULL) {
            seq_result_free(&local);
        }
    }
    f->entries_applied++;
    return 0;
}

/* A snapshot on disk: "SQF3", the CRC-32 (zlib) of the rest, the length of
 * the core's bytes, flags u8 (1: the cluster id is set, 2: the peer key
 * is), the cluster id [16], the peer key [32], then the core's bytes
 * (seq_snapshot.c), so that a flipped bit anywhere is refused rather than
 * restored (libraft checksums its entries and its snapshot metadata, not
 * the snapshot data). Older layouts are still read: "SQF2" (no peer key),
 * "SQFS" (no cluster id) and a bare core snapshot ("SEQS", from before the
 * checksum). */
#define FSM_SNAPSHOT_MAGIC "SQF3"
#define FSM_SNAPSHOT_MAGIC_V2 "SQF2"
#define FSM_SNAPSHOT_MAGIC_V1 "SQFS"
#define FSM_SNAPSHOT_HEADER_V1 (4 + 4 + 8)
#define FSM_SNAPSHOT_HEADER_V2 (FSM_SNAPSHOT_HEADER_V1 + 1 + IDENTITY_CLUSTER_BYTES)
#define FSM_SNAPSHOT_HEADER (FSM_SNAPSHOT_HEADER_V2 + FSM_PEER_KEY_BYTES)

/* What a snapshot's frame carries beside the core's bytes. */
typedef struct fsm_frame {
    bool has_cluster;
    uint8_t cluster[IDENTITY_CLUSTER_BYTES];
    bool has_peer_key;
    uint8_t peer_key[FSM_PEER_KEY_BYTES];
} fsm_frame;

static uint32_t fsmCrc(const uint8_t *p, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len > 0) {
        uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, p, chunk);
        p += chunk;
        len -= chunk;
    }
    return (uint32_t)crc;
}

static int fsmSnapshot(struct raft_fsm *rf, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    fsm *f = rf->data;
    assert(f != NULL && f->state != NULL && bufs != NULL && n_bufs != NULL);
    uint64_t started_ns = uv_hrtime();
    size_t len = 0;
    void *bytes = seq_snapshot_encode(f->state, &len);
    if (bytes == NULL) {
        return RAFT_NOMEM;
    }
    /* raft frees both the array and the buffer with raft_free */
    struct raft_buffer *arr = raft_malloc(sizeof(*arr));
    uint8_t *copy = raft_malloc(FSM_SNAPSHOT_HEADER + len);
    if (arr == NULL || copy == NULL) {
        raft_free(arr);
        raft_free(copy);
        free(bytes);
        return RAFT_NOMEM;
    }
    seq_writer w = {copy, 0, FSM_SNAPSHOT_HEADER, false};
    seq_put_bytes(&w, FSM_SNAPSHOT_MAGIC, 4);
    seq_put_u32(&w, 0); /* the CRC, below */
    seq_put_u64(&w, len);
    seq_put_u8(&w, (f->has_cluster ? 1 : 0) | (f->has_peer_key ? 2 : 0));
    seq_put_bytes(&w, f->cluster, IDENTITY_CLUSTER_BYTES);
    seq_put_bytes(&w, f->peer_key, FSM_PEER_KEY_BYTES);
    assert(!w.overflow && w.len == FSM_SNAPSHOT_HEADER);
    memcpy(copy + FSM_SNAPSHOT_HEADER, bytes, len);
    free(bytes);
    uint32_t crc = fsmCrc(copy + 8, FSM_SNAPSHOT_HEADER - 8 + len);
    w = (seq_writer){copy, 4, FSM_SNAPSHOT_HEADER, false};
    seq_put_u32(&w, crc);
    len += FSM_SNAPSHOT_HEADER;
    arr[0].base = copy;
    arr[0].len = len;
    assert(fsmCrc(copy + 8, len - 8) == crc);
    *bufs = arr;
    *n_bufs = 1;
    f->snapshots++;
    f->commands_since_snapshot = 0;
    f->snapshot_seconds += (double)(uv_hrtime() - started_ns) / 1e9;
    log_debug("fsm: snapshot of %zu bytes", len);
    return 0;
}

/* Checks a framed snapshot and finds the core's bytes and what the frame
 * carries. Returns 0, or RAFT_CORRUPT when its checksum or lengths fail. */
static int fsmUnframe(const uint8_t *p, size_t len, size_t header, const uint8_t **core,
                      size_t *core_len, fsm_frame *frame)
{
    assert(header == FSM_SNAPSHOT_HEADER || header == FSM_SNAPSHOT_HEADER_V2 ||
           header == FSM_SNAPSHOT_HEADER_V1);
    seq_reader r = {p, len, 4, false};
    uint32_t crc = seq_get_u32(&r);
    uint64_t n = seq_get_u64(&r);
    if (r.bad || len < header || n != len - header || fsmCrc(p + 8, len - 8) != crc) {
        return RAFT_CORRUPT;
    }
    if (header >= FSM_SNAPSHOT_HEADER_V2) {
        uint8_t flags = seq_get_u8(&r);
        const uint8_t *id = seq_get_bytes(&r, IDENTITY_CLUSTER_BYTES);
        uint8_t known = header == FSM_SNAPSHOT_HEADER ? 3 : 1;
        if (r.bad || (flags & ~known) != 0) {
            return RAFT_CORRUPT;
        }
        frame->has_cluster = (flags & 1) != 0;
        memcpy(frame->cluster, id, IDENTITY_CLUSTER_BYTES);
        if (header == FSM_SNAPSHOT_HEADER) {
            const uint8_t *key = seq_get_bytes(&r, FSM_PEER_KEY_BYTES);
            if (r.bad) {
                return RAFT_CORRUPT;
            }
            frame->has_peer_key = (flags & 2) != 0;
            memcpy(frame->peer_key, key, FSM_PEER_KEY_BYTES);
        }
    }
    *core = p + header;
    *core_len = len - header;
    assert(*core_len == n);
    return 0;
}

static int fsmRestore(struct raft_fsm *rf, struct raft_buffer *buf)
{
    fsm *f = rf->data;
    assert(f != NULL && f->state != NULL && buf != NULL);
    size_t len = buf->len;
    const uint8_t *core = buf->base;
    size_t core_len = len;
    fsm_frame frame;
    memset(&frame, 0, sizeof(frame));
    int rv = 0;
    static const struct {
        const char *magic;
        size_t header;
    } layouts[] = {{FSM_SNAPSHOT_MAGIC, FSM_SNAPSHOT_HEADER},
                   {FSM_SNAPSHOT_MAGIC_V2, FSM_SNAPSHOT_HEADER_V2},
                   {FSM_SNAPSHOT_MAGIC_V1, FSM_SNAPSHOT_HEADER_V1}};
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
        if (len >= 4 && memcmp(buf->base, layouts[i].magic, 4) == 0) {
            rv = fsmUnframe(buf->base, len, layouts[i].header, &core, &core_len, &frame);
            break;
        }
    }
    if (rv != 0) {
        /* On failure the buffer stays raft's: it frees it with the
         * snapshot (freeing it here too was a double free). */
        log_error("fsm: snapshot of %zu bytes fails its checksum: refused", len);
        f->bad_snapshots++;
        return rv;
    }
    seq_state *s = seq_snapshot_decode(core, core_len);
    if (s == NULL) {
        log_error("fsm: snapshot of %zu bytes is malformed", len);
        f->bad_snapshots++;
        return RAFT_MALFORMED;
    }
    raft_free(buf->base); /* on success restore owns the buffer */
    assert(s != f->state);
    seq_state_free(f->state);
    f->state = s;
    if (frame.has_cluster) {
        fsmApplyIdentity(f, frame.cluster);
    }
    if (frame.has_peer_key) {
        fsmApplyPeerKey(f, frame.peer_key);
    }
    f->commands_since_snapshot = 0;
    log_info("fsm: restored a snapshot of %zu bytes (%zu sequences)", len, seq_count_live(s));
    return 0;
}

int fsm_init(fsm *f, fsm_claim_fn claim, void *claim_ctx)
{
    assert(f != NULL);
    memset(f, 0, sizeof(*f));
    f->state = seq_state_new();
    f->claim = claim;
    f->claim_ctx = claim_ctx;
    f->raft.version = 1;
    f->raft.data = f;
    f->raft.apply = fsmApply;
    f->raft.snapshot = fsmSnapshot;
    f->raft.restore = fsmRestore;
    return 0;
}

void fsm_close(fsm *f)
{
    seq_state_free(f->state);
    f->state = NULL;
}
