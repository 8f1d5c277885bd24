/* codec — a Raft log entry (one group-commit batch of sequence commands) to
 * bytes and back.
 *
 * Entry layout (little endian): version u8, time_ms i64, retention_ms i64,
 * origin u64, batch_seq u64, n_cmds u32, and since version 2 keys_max u64
 * and mono_ms i64 (version 1 entries are read with keys_max
 * SEQ_KEYS_MAX_DEFAULT and mono_ms = time_ms), then n_cmds commands:
 * op u8, name_len u16, name, and per op: CREATE min i64 max i64 has_start u8
 * start i64; ADDRANGE min i64 max i64; NEXT count u32 key_len u16 key;
 * VOID n i64 reason_len u16 reason; GAPS from i64 to i64; LOOKUP n i64;
 * LOOKUP_KEY key_len u16 key; RESERVE ttl_ms i64 key_len u16 key; CONFIRM,
 * RELEASE n i64 key_len u16 key; ALLOCBLOCK count u32 term u64 node u64 fresh u8;
 * USED count u32 term u64 node u64 (with op byte | 0x80 both add incarnation
 * u64, the sequence's incarnation the block is for); RECOVER term
 * u64 node u64; UNDELIVERED first i64 last i64 trusted u8 granted u8 grant u64
 * cause_len u16 cause; SERVED first i64 last i64 term u64 node u64 (op byte |
 * 0x80 adds incarnation u64, as USED).
 * A CREATE with a mode, cache, WARN or window has op byte 0x81 and adds
 * mode u8 cache u32 warn u64 and a window (flags u8: 1 not_before, 2
 * not_after; not_before i64; not_after i64); an ADDRANGE with a window has
 * 0x82 and adds the window. Entries without them keep the first layout.
 * ACL_SETUSER seed u8 rules_len u16 rules; ACL_DELUSER rules_len u16 names;
 * ACL_GETUSER (the user as the name), ACL_LIST, ACL_USERS nothing more.
 * A command that names who asked has op byte | 0x40 and user_len u8, user
 * right after its name; one without it was asked by the previous
 * command's user (see codec_by).
 * The decoder checks every length against the bytes left and the limits of
 * seq.h; decoded names and keys point into the entry (no copies).
 * Pure: no I/O. */
#ifndef SEQD_CODEC_H
#define SEQD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "seq.h"
#include "seq_bytes.h"

#define CODEC_VERSION 2
#define CODEC_VERSION_V1 1
#define CODEC_BATCH_MAX 4096 /* commands in one entry */

typedef struct codec_header {
    int64_t time_ms;      /* the leader's clock when it built the entry */
    int64_t retention_ms; /* idempotency key retention in force */
    uint64_t origin;      /* the proposing process's nonce */
    uint64_t batch_seq;   /* that process's batch counter */
    uint32_t n_cmds;
    uint64_t keys_max;    /* idempotency keys the state may hold, in force */
    int64_t mono_ms;      /* the leader's monotonic clock when it built the entry */
} codec_header;

#define CODEC_HEADER_SIZE (1 + 8 + 8 + 8 + 8 + 4 + 8 + 8)

/* The stamp the state machine enters for an entry with this header. */
seq_stamp codec_stamp(const codec_header *h);

/* Who asked, as an entry's commands carry it: a command names its user
 * (op | 0x40, user_len u8, user; length 0: the server itself) only when
 * it differs from the previous command's in the same entry, so a batch of
 * one user's NEXTs names it once. A codec_by follows one entry from its
 * first command (zeroed: nobody yet); decoded users point into the entry. */
typedef struct codec_by {
    char user[SEQ_USER_MAX + 1]; /* the last user the entry named (a copy) */
    size_t user_len;
} codec_by;

/* Bytes one command takes in an entry, after the commands by has seen. */
size_t codec_cmd_size_by(const seq_cmd *cmd, const codec_by *by);
void codec_put_cmd_by(seq_writer *w, const seq_cmd *cmd, codec_by *by);
int codec_get_cmd_by(seq_reader *r, seq_cmd *cmd, codec_by *by);

/* The same for a command alone (first in its entry). */
size_t codec_cmd_size(const seq_cmd *cmd);
void codec_put_header(seq_writer *w, const codec_header *h);
void codec_put_cmd(seq_writer *w, const seq_cmd *cmd);

/* Return 0, or -1 on malformed or unknown input (nothing is trusted). */
int codec_get_header(seq_reader *r, codec_header *h);
int codec_get_cmd(seq_reader *r, seq_cmd *cmd);

#endif
