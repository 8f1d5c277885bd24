/* peer_proof — how one seqd node proves to another that it belongs to the
 * cluster, on a connection any client could open: by a challenge and an
 * HMAC over it keyed with the cluster's peer key (the fsm's, made by the
 * first leader and replicated through the log; never shown to clients).
 *
 *   leader -> node:  a fresh random nonce (CLUSTER CHALLENGE)
 *   node -> leader:  HMAC-SHA256(key, "seqd-peer-v1" || nonce || id, 8 bytes
 *                    little endian), as 64 lower-case hex digits
 *                    (CLUSTER PEER id proof)
 *
 * A nonce answers one proof only, so a proof seen on the wire cannot be
 * replayed on another connection; the check takes the same time whatever
 * the digits (CRYPTO_memcmp). */
#ifndef SEQD_PEER_PROOF_H
#define SEQD_PEER_PROOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEER_NONCE_BYTES 16 /* also the salt of a password hash (password.c) */
#define PEER_NONCE_HEX (2 * PEER_NONCE_BYTES)
#define PEER_PROOF_HEX 64
#define PEER_KEY_BYTES 32

/* Fills nonce with random bytes; 0, or -1 when the system has none. */
int peer_nonce(uint8_t nonce[PEER_NONCE_BYTES]);

/* Lower-case hex of n bytes into out (2n + 1 bytes with its NUL). */
void peer_hex(const uint8_t *bytes, size_t n, char *out);

/* Reads exactly 2n hex digits into out; false when text is anything else. */
bool peer_unhex(const char *text, size_t len, uint8_t *out, size_t n);

/* The proof of id for nonce under key, as PEER_PROOF_HEX digits and a NUL. */
void peer_proof(const uint8_t key[PEER_KEY_BYTES], const uint8_t nonce[PEER_NONCE_BYTES],
                uint64_t id, char out[PEER_PROOF_HEX + 1]);

/* HMAC-SHA256 under key (key_len bytes) of label, then each of the n
 * parts in turn (parts[i], lens[i]): the Raft bus's proofs. At most 1 KiB
 * in all. */
void peer_hmac(const uint8_t *key, size_t key_len, const char *label, const void *const *parts,
               const size_t *lens, size_t n, uint8_t out[32]);

/* The cluster secret of --cluster-secret-file: SHA-256 of the file's
 * bytes (a final newline is not part of it) into key. 0, or -1 after
 * printing why to stderr (missing, unreadable, under 16 bytes or over
 * 4 KiB). */
int peer_secret_load(const char *path, uint8_t key[32]);

/* A constant-time compare of two 32-byte MACs. */
bool peer_mac_equal(const uint8_t a[32], const uint8_t b[32]);

/* Whether proof (len bytes, from the wire) is id's proof for nonce. */
bool peer_proof_check(const uint8_t key[PEER_KEY_BYTES], const uint8_t nonce[PEER_NONCE_BYTES],
                      uint64_t id, const char *proof, size_t len);

#endif
