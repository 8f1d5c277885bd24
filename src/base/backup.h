/* backup — the file `seqd backup` writes and `seqd inspect` and `seqd
 * restore` read: the whole state at one applied index, with where and
 * when it was taken, and a SHA-256 over everything.
 *
 *   "SEQDBKP1", header length u32, header: applied index u64, term u64,
 *   taken at (wall ms) i64, flags u8 (1: a cluster id), cluster id [16],
 *   seqd version (u16 length, bytes), the node's address (u16, bytes);
 *   the core snapshot's length u64, the snapshot (seq_snapshot.c);
 *   SHA-256 of all the bytes before it [32]       (little endian)
 *
 * Keeps: a file that fails its checksum, is cut short, or holds a state
 * the core refuses is never decoded into a state; the snapshot inside is
 * the same bytes the Raft snapshots use, so every version that reads
 * those reads a backup. */
#ifndef SEQD_BACKUP_H
#define SEQD_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seq.h"

#define BACKUP_MAGIC "SEQDBKP1"
#define BACKUP_MAX_BYTES (1ull << 34) /* 16 GiB: far past any state seqd keeps */

typedef struct backup_meta {
    uint64_t index, term;
    int64_t taken_ms;
    bool has_cluster;
    uint8_t cluster[16];
    char version[32];
    char node[64];
} backup_meta;

/* The backup of s (malloc'd, *len bytes), or NULL without memory. */
uint8_t *backup_encode(const seq_state *s, const backup_meta *m, size_t *len);

/* Checks and decodes a backup: its state (the caller's), with *m filled;
 * or NULL with *why saying what is wrong. */
seq_state *backup_decode(const uint8_t *buf, size_t len, backup_meta *m, const char **why);

#endif
