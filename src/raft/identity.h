/* identity — which cluster a data directory belongs to, and whether two
 * nodes may speak on the Raft bus.
 *
 * <dir>/identity is written once when the directory is made (and again
 * when the cluster's id is learnt or a single node grows into a cluster):
 *
 *     seqd-identity 1
 *     kind single|cluster
 *     node <raft id>
 *     founding <16 hex digits, 0 for a node that joined>
 *     cluster <32 hex digits, or - until the cluster has chosen it>
 *
 * The cluster id is 128 random bits, chosen by a single node when it is
 * made and by a new cluster's first leader once it has met every founding
 * member; it travels through the log (and snapshots) to every replica.
 * The founding hash names the configuration a cluster was bootstrapped
 * with; it tells two clusters apart before either has chosen its id.
 *
 * Invariants: a directory's kind, raft id and (once chosen) cluster id never
 * change, except kind single -> cluster when a single node grows. Two nodes
 * speak only when identity_compatible says so. Pure except identity_load
 * and identity_save. */
#ifndef SEQD_IDENTITY_H
#define SEQD_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDENTITY_CLUSTER_BYTES 16
#define IDENTITY_FILE "identity"

typedef enum identity_kind {
    IDENTITY_SINGLE = 1, /* made as a single node (the embedded default) */
    IDENTITY_CLUSTER = 2 /* a member of a cluster: founding or joined */
} identity_kind;

typedef struct identity {
    identity_kind kind;
    uint64_t raft_id;
    uint64_t founding; /* identity_founding_hash of its bootstrap, 0: joined */
    bool has_cluster;
    uint8_t cluster[IDENTITY_CLUSTER_BYTES];
} identity;

/* What one node's handshake tells another. */
typedef enum identity_verdict {
    IDENTITY_OK = 0,
    IDENTITY_FOREIGN_CLUSTER = 1,  /* both know their cluster ids, and they differ */
    IDENTITY_FOREIGN_FOUNDING = 2, /* bootstrapped with different founding members */
    IDENTITY_BAD_HELLO = 3         /* not a seqd bus handshake, or a version it does not know */
} identity_verdict;

/* Whether mine may speak with peer: ids decide when both have one; else
 * founding hashes decide when both have one; else (a node that joined and
 * has not learnt its cluster yet) yes. Symmetric. */
identity_verdict identity_compatible(const identity *mine, const identity *peer);

/* A bootstrap configuration's hash: FNV-1a over the (id, address) pairs in
 * id order, never 0. ids and addresses are n long; n >= 1. */
uint64_t identity_founding_hash(const uint64_t *ids, const char *const *addresses, size_t n);

/* "0123…ef" (32 hex digits and a NUL into out, cap >= 33), or "-". */
void identity_cluster_hex(const identity *id, char *out, size_t cap);

/* The file's text (into out, cap bytes); its length, or 0 if it does not fit. */
size_t identity_format(const identity *id, char *out, size_t cap);

/* Parses the file's text. Returns 0, or -1 (with *line the 1-based line
 * that is wrong) when it is not a valid identity. */
int identity_parse(const char *text, size_t len, identity *id, int *line);

/* Reads <dir>/identity. Returns 0; 1 when there is none; -1 after writing
 * why into err (errcap bytes) when it is unreadable or invalid. */
int identity_load(const char *dir, identity *id, char *err, size_t errcap);

/* Writes <dir>/identity atomically (temporary file, fsync, rename, fsync of
 * the directory). Returns 0, or -errno. */
int identity_save(const char *dir, const identity *id);

#endif
