/* codec — log entries to bytes and back (format in codec.h). */
#include "codec.h"

#include <string.h>

/* CREATE and ADDRANGE with a mode, WARN or a window use their own op byte,
 * so entries without them keep the original layout. */
#define CODEC_EXTENDED 0x80
#define CODEC_WINDOW_SIZE (1 + 8 + 8)

static bool codecExtended(const seq_cmd *cmd)
{
    switch (cmd->op) {
    case SEQ_OP_CREATE:
        return cmd->mode != 0 || cmd->cache != 0 || cmd->warn != 0 || cmd->has_not_before ||
               cmd->has_not_after;
    case SEQ_OP_ADDRANGE: return cmd->has_not_before || cmd->has_not_after;
    case SEQ_OP_ALLOCBLOCK:
    case SEQ_OP_USED: return cmd->incarnation != 0;
    default: return false;
    }
}

size_t codec_cmd_size(const seq_cmd *cmd)
{
    size_t n = 1 + 2 + cmd->name_len;
    bool ext = codecExtended(cmd);
    switch (cmd->op) {
    case SEQ_OP_CREATE: return n + 8 + 8 + 1 + 8 + (ext ? 1 + 4 + 8 + CODEC_WINDOW_SIZE : 0);
    case SEQ_OP_ADDRANGE: return n + 8 + 8 + (ext ? CODEC_WINDOW_SIZE : 0);
    case SEQ_OP_RESERVE: return n + 8 + 2 + cmd->key_len;
    case SEQ_OP_CONFIRM:
    case SEQ_OP_RELEASE: return n + 8 + 2 + cmd->key_len;
    case SEQ_OP_ALLOCBLOCK: return n + 4 + 8 + 8 + 1 + (ext ? 8 : 0);
    case SEQ_OP_USED: return n + 4 + 8 + 8 + (ext ? 8 : 0);
    case SEQ_OP_RECOVER: return n + 8 + 8;
    case SEQ_OP_UNDELIVERED: return n + 8 + 8 + 1 + 1 + 8 + 2 + cmd->text_len;
    case SEQ_OP_NEXT: return n + 4 + 2 + cmd->key_len;
    case SEQ_OP_VOID: return n + 8 + 2 + cmd->text_len;
    case SEQ_OP_GAPS: return n + 8 + 8;
    case SEQ_OP_LOOKUP: return n + 8;
    case SEQ_OP_LOOKUP_KEY: return n + 2 + cmd->key_len;
    default: return n;
    }
}

void codec_put_header(seq_writer *w, const codec_header *h)
{
    seq_put_u8(w, CODEC_VERSION);
    seq_put_i64(w, h->time_ms);
    seq_put_i64(w, h->retention_ms);
    seq_put_u64(w, h->origin);
    seq_put_u64(w, h->batch_seq);
    seq_put_u32(w, h->n_cmds);
    seq_put_u64(w, h->keys_max);
    seq_put_i64(w, h->mono_ms);
}

seq_stamp codec_stamp(const codec_header *h)
{
    seq_stamp st = {
        .wall_ms = h->time_ms,
        .mono_ms = h->mono_ms,
        .origin = h->origin,
        .retention_ms = h->retention_ms,
        .keys_max = h->keys_max,
    };
    return st;
}

static void codecPutWindow(seq_writer *w, const seq_cmd *cmd)
{
    seq_put_u8(w, (uint8_t)((cmd->has_not_before ? 1 : 0) | (cmd->has_not_after ? 2 : 0)));
    seq_put_i64(w, cmd->has_not_before ? cmd->not_before : 0);
    seq_put_i64(w, cmd->has_not_after ? cmd->not_after : 0);
}

static int codecGetWindow(seq_reader *r, seq_cmd *cmd)
{
    uint8_t flags = seq_get_u8(r);
    cmd->has_not_before = (flags & 1) != 0;
    cmd->has_not_after = (flags & 2) != 0;
    cmd->not_before = seq_get_i64(r);
    cmd->not_after = seq_get_i64(r);
    return flags > 3 ? -1 : 0;
}

void codec_put_cmd(seq_writer *w, const seq_cmd *cmd)
{
    bool ext = codecExtended(cmd);
    seq_put_u8(w, (uint8_t)(cmd->op | (ext ? CODEC_EXTENDED : 0)));
    seq_put_u16(w, (uint16_t)cmd->name_len);
    seq_put_bytes(w, cmd->name, cmd->name_len);
    switch (cmd->op) {
    case SEQ_OP_CREATE:
        seq_put_i64(w, cmd->min);
        seq_put_i64(w, cmd->max);
        seq_put_u8(w, cmd->has_start ? 1 : 0);
        seq_put_i64(w, cmd->has_start ? cmd->start : 0);
        if (ext) {
            seq_put_u8(w, cmd->mode);
            seq_put_u32(w, cmd->cache);
            seq_put_u64(w, cmd->warn);
            codecPutWindow(w, cmd);
        }
        break;
    case SEQ_OP_ADDRANGE:
        seq_put_i64(w, cmd->min);
        seq_put_i64(w, cmd->max);
        if (ext) {
            codecPutWindow(w, cmd);
        }
        break;
    case SEQ_OP_RESERVE:
        seq_put_i64(w, cmd->ttl_ms);
        seq_put_u16(w, (uint16_t)cmd->key_len);
        seq_put_bytes(w, cmd->key, cmd->key_len);
        break;
    case SEQ_OP_CONFIRM:
    case SEQ_OP_RELEASE:
        seq_put_i64(w, cmd->min);
        seq_put_u16(w, (uint16_t)cmd->key_len);
        seq_put_bytes(w, cmd->key, cmd->key_len);
        break;
    case SEQ_OP_ALLOCBLOCK:
    case SEQ_OP_USED:
        seq_put_u32(w, cmd->count);
        seq_put_u64(w, cmd->term);
        seq_put_u64(w, cmd->node);
        if (cmd->op == SEQ_OP_ALLOCBLOCK) {
            seq_put_u8(w, cmd->has_start ? 1 : 0);
        }
        if (ext) {
            seq_put_u64(w, cmd->incarnation);
        }
        break;
    case SEQ_OP_RECOVER:
        seq_put_u64(w, cmd->term);
        seq_put_u64(w, cmd->node);
        break;
    case SEQ_OP_UNDELIVERED:
        seq_put_i64(w, cmd->min);
        seq_put_i64(w, cmd->max);
        seq_put_u8(w, cmd->count == 1 ? 1 : 0);
        seq_put_u8(w, cmd->has_start ? 1 : 0);
        seq_put_u64(w, cmd->has_start ? cmd->term : 0);
        seq_put_u16(w, (uint16_t)cmd->text_len);
        seq_put_bytes(w, cmd->text, cmd->text_len);
        break;
    case SEQ_OP_NEXT:
        seq_put_u32(w, cmd->count);
        seq_put_u16(w, (uint16_t)cmd->key_len);
        seq_put_bytes(w, cmd->key, cmd->key_len);
        break;
    case SEQ_OP_VOID:
        seq_put_i64(w, cmd->min);
        seq_put_u16(w, (uint16_t)cmd->text_len);
        seq_put_bytes(w, cmd->text, cmd->text_len);
        break;
    case SEQ_OP_GAPS:
        seq_put_i64(w, cmd->min);
        seq_put_i64(w, cmd->max);
        break;
    case SEQ_OP_LOOKUP:
        seq_put_i64(w, cmd->min);
        break;
    case SEQ_OP_LOOKUP_KEY:
        seq_put_u16(w, (uint16_t)cmd->key_len);
        seq_put_bytes(w, cmd->key, cmd->key_len);
        break;
    default:
        break;
    }
}

int codec_get_header(seq_reader *r, codec_header *h)
{
    memset(h, 0, sizeof(*h));
    uint8_t version = seq_get_u8(r);
    if (version != CODEC_VERSION && version != CODEC_VERSION_V1) {
        return -1;
    }
    h->time_ms = seq_get_i64(r);
    h->retention_ms = seq_get_i64(r);
    h->origin = seq_get_u64(r);
    h->batch_seq = seq_get_u64(r);
    h->n_cmds = seq_get_u32(r);
    h->keys_max = SEQ_KEYS_MAX_DEFAULT;
    h->mono_ms = h->time_ms;
    if (version >= 2) {
        h->keys_max = seq_get_u64(r);
        h->mono_ms = seq_get_i64(r);
    }
    if (r->bad || h->n_cmds > CODEC_BATCH_MAX) {
        return -1;
    }
    return 0;
}

int codec_get_cmd(seq_reader *r, seq_cmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    uint8_t op = seq_get_u8(r);
    bool ext = (op & CODEC_EXTENDED) != 0;
    cmd->op = (uint8_t)(op & ~CODEC_EXTENDED);
    if (ext && cmd->op != SEQ_OP_CREATE && cmd->op != SEQ_OP_ADDRANGE &&
        cmd->op != SEQ_OP_ALLOCBLOCK && cmd->op != SEQ_OP_USED) {
        return -1;
    }
    cmd->name_len = seq_get_u16(r);
    if (cmd->name_len > SEQ_NAME_MAX) {
        return -1;
    }
    cmd->name = (const char *)seq_get_bytes(r, cmd->name_len);
    switch (cmd->op) {
    case SEQ_OP_CREATE: {
        cmd->min = seq_get_i64(r);
        cmd->max = seq_get_i64(r);
        uint8_t has_start = seq_get_u8(r);
        cmd->start = seq_get_i64(r);
        if (has_start > 1) {
            return -1;
        }
        cmd->has_start = has_start == 1;
        if (ext) {
            cmd->mode = seq_get_u8(r);
            cmd->cache = seq_get_u32(r);
            cmd->warn = seq_get_u64(r);
            if (codecGetWindow(r, cmd) != 0) {
                return -1;
            }
        }
        break;
    }
    case SEQ_OP_ADDRANGE:
        cmd->min = seq_get_i64(r);
        cmd->max = seq_get_i64(r);
        if (ext && codecGetWindow(r, cmd) != 0) {
            return -1;
        }
        break;
    case SEQ_OP_RESERVE:
        cmd->ttl_ms = seq_get_i64(r);
        cmd->key_len = seq_get_u16(r);
        if (cmd->key_len > SEQ_KEY_MAX) {
            return -1;
        }
        cmd->key = (const char *)seq_get_bytes(r, cmd->key_len);
        break;
    case SEQ_OP_CONFIRM:
    case SEQ_OP_RELEASE:
        cmd->min = seq_get_i64(r);
        cmd->key_len = seq_get_u16(r);
        if (cmd->key_len > SEQ_KEY_MAX) {
            return -1;
        }
        cmd->key = (const char *)seq_get_bytes(r, cmd->key_len);
        break;
    case SEQ_OP_ALLOCBLOCK:
    case SEQ_OP_USED:
        cmd->count = seq_get_u32(r);
        cmd->term = seq_get_u64(r);
        cmd->node = seq_get_u64(r);
        if (cmd->op == SEQ_OP_ALLOCBLOCK) {
            uint8_t fresh = seq_get_u8(r);
            if (fresh > 1) {
                return -1;
            }
            cmd->has_start = fresh == 1;
        }
        if (ext) {
            cmd->incarnation = seq_get_u64(r);
            if (cmd->incarnation == 0) {
                return -1; /* 0 is written as the plain layout */
            }
        }
        break;
    case SEQ_OP_RECOVER:
        cmd->term = seq_get_u64(r);
        cmd->node = seq_get_u64(r);
        break;
    case SEQ_OP_UNDELIVERED: {
        cmd->min = seq_get_i64(r);
        cmd->max = seq_get_i64(r);
        uint8_t trusted = seq_get_u8(r);
        uint8_t granted = seq_get_u8(r);
        cmd->term = seq_get_u64(r);
        if (trusted > 1 || granted > 1) {
            return -1;
        }
        cmd->count = trusted;
        cmd->has_start = granted == 1;
        cmd->text_len = seq_get_u16(r);
        if (cmd->text_len > SEQ_REASON_MAX) {
            return -1;
        }
        cmd->text = (const char *)seq_get_bytes(r, cmd->text_len);
        break;
    }
    case SEQ_OP_NEXT:
        cmd->count = seq_get_u32(r);
        cmd->key_len = seq_get_u16(r);
        if (cmd->key_len > SEQ_KEY_MAX) {
            return -1;
        }
        cmd->key = (const char *)seq_get_bytes(r, cmd->key_len);
        break;
    case SEQ_OP_VOID:
        cmd->min = seq_get_i64(r);
        cmd->text_len = seq_get_u16(r);
        if (cmd->text_len > SEQ_REASON_MAX) {
            return -1;
        }
        cmd->text = (const char *)seq_get_bytes(r, cmd->text_len);
        break;
    case SEQ_OP_GAPS:
        cmd->min = seq_get_i64(r);
        cmd->max = seq_get_i64(r);
        break;
    case SEQ_OP_LOOKUP:
        cmd->min = seq_get_i64(r);
        break;
    case SEQ_OP_LOOKUP_KEY:
        cmd->key_len = seq_get_u16(r);
        if (cmd->key_len > SEQ_KEY_MAX) {
            return -1;
        }
        cmd->key = (const char *)seq_get_bytes(r, cmd->key_len);
        break;
    case SEQ_OP_DESCRIBE:
    case SEQ_OP_LIST:
    case SEQ_OP_DROP:
        break;
    default:
        return -1;
    }
    return r->bad ? -1 : 0;
}
