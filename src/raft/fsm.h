/* fsm — the Raft state machine: applies committed log entries (batches of
 * sequence commands) to the seq core, and snapshots/restores it.
 *
 * Invariant: the state changes only in fsm_apply, in log order, identically
 * on every replica; the results of an entry reach the batch that proposed it
 * only on the node (process) that proposed it, through the claim hook. */
#ifndef SEQD_FSM_H
#define SEQD_FSM_H

#include <raft.h>

#include "codec.h"
#include "identity.h"
#include "seq.h"

/* Asked once per applied entry: where to put its n results. Returns an
 * array of n seq_result the caller of the hook owns (each is overwritten),
 * or NULL when this process did not propose the entry. */
typedef seq_result *(*fsm_claim_fn)(void *ctx, const codec_header *h);

/* Told of each NEXT or RESERVE result of an entry this process proposed
 * but could not answer (its batch was given up: leadership was lost). */
typedef void (*fsm_orphan_fn)(void *ctx, const seq_cmd *cmd, const seq_result *res);

#define FSM_PEER_KEY_BYTES 32 /* PEER_KEY_BYTES */

typedef struct fsm {
    struct raft_fsm raft; /* raft.data points back to this struct */
    seq_state *state;
    fsm_claim_fn claim;
    void *claim_ctx;
    uint64_t origin; /* this process's nonce (codec_header.origin) */
    fsm_orphan_fn orphan;
    void *orphan_ctx;
    uint64_t entries_applied;
    uint64_t commands_applied;
    uint64_t commands_since_snapshot; /* applied since the last snapshot taken or restored */
    uint64_t numbers_issued;
    uint64_t bad_entries; /* entries that failed to decode (never expected) */
    uint64_t bad_snapshots; /* snapshots refused (checksum or contents) */
    uint64_t snapshots;     /* taken (encoded for raft to write) */
    bool restored;          /* a restore entry became the state */
    /* told when a restore entry was applied (replaced the state or not) */
    void (*on_restore)(void *ctx, bool replaced);
    void *restore_ctx;
    double snapshot_seconds; /* the time spent encoding them, in all */
    /* Told of an entry this version cannot decode or apply (then apply
     * must not go on: see fsmApply); NULL: count it and skip it (tests). */
    void (*halt)(void *ctx, const char *why);
    void *halt_ctx;
    /* what the stamps told of the clocks (INFO; never read by the core) */
    uint64_t last_origin;        /* the origin of the last entry applied */
    bool has_offset;
    int64_t clock_offset_ms;     /* local wall minus the stamp, last entry of another origin */
    uint64_t clock_leader_steps; /* leader changes that moved the wall clock back > 1 s */
    int64_t clock_last_step_ms;
    /* the cluster's id, from its identity entry (or a snapshot) */
    bool has_cluster;
    uint8_t cluster[IDENTITY_CLUSTER_BYTES];
    /* the cluster's peer key, from its peer-key entry (or a snapshot):
     * what a node proves it knows on a forward link (peer_proof.h). It
     * never leaves the nodes: not in INFO, a reply or a log line. */
    bool has_peer_key;
    uint8_t peer_key[FSM_PEER_KEY_BYTES];
    /* told once, when the id is first applied */
    void (*on_identity)(void *ctx, const uint8_t *cluster);
    void *identity_ctx;
} fsm;

/* An identity entry: FSM_IDENTITY_ENTRY, the cluster id, zeros. Its first
 * byte is no codec version, so older binaries halt on it (as they must on
 * anything they cannot apply) instead of skipping it. */
#define FSM_IDENTITY_ENTRY 0xC1
#define FSM_IDENTITY_ENTRY_LEN 24 /* 1 + the id, padded: raft wants entries of 8-byte multiples */

/* Writes the identity entry for cluster into out (FSM_IDENTITY_ENTRY_LEN
 * bytes); its length. */
size_t fsm_identity_entry(uint8_t *out, const uint8_t *cluster);

/* A peer-key entry: FSM_PEER_KEY_ENTRY, the key, zeros. The first one
 * applied is the cluster's key for good; a later one changes nothing. */
#define FSM_PEER_KEY_ENTRY 0xC2
#define FSM_PEER_KEY_ENTRY_LEN 40 /* 1 + the key, padded to 8 bytes */

/* Writes the peer-key entry for key into out (FSM_PEER_KEY_ENTRY_LEN
 * bytes); its length. */
size_t fsm_peer_key_entry(uint8_t *out, const uint8_t *key);

/* The restore entry (seqd restore): 0xC3, "SQRS", the CRC-32 of the core
 * snapshot that follows, its length (u64), and the snapshot, zero-padded
 * to a multiple of 8 bytes. Applied to a
 * pristine state (seq_state_pristine), it becomes the state; applied to
 * any other, it changes nothing (a second founding member's proposal, or
 * one that came too late). */
#define FSM_RESTORE_ENTRY 0xC3
#define FSM_RESTORE_HEADER 17

/* The restore entry for a core snapshot (raft_malloc'd, *len bytes), or
 * NULL without memory. */
uint8_t *fsm_restore_entry(const void *snapshot, size_t snapshot_len, size_t *len);

int fsm_init(fsm *f, fsm_claim_fn claim, void *claim_ctx);
void fsm_close(fsm *f);

#endif
