/* peer_proof — the challenge and the HMAC of a node's proof (see
 * peer_proof.h). OpenSSL does the HMAC and the constant-time compare. */
#include "peer_proof.h"

#include <assert.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define PEER_PROOF_LABEL "seqd-peer-v1"

int peer_nonce(uint8_t nonce[PEER_NONCE_BYTES])
{
    return getrandom(nonce, PEER_NONCE_BYTES, 0) == PEER_NONCE_BYTES ? 0 : -1;
}

void peer_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static int peerDigit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1; /* upper case too: one spelling per proof */
}

bool peer_unhex(const char *text, size_t len, uint8_t *out, size_t n)
{
    if (len != 2 * n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = peerDigit(text[2 * i]), lo = peerDigit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static void peerMac(const uint8_t key[PEER_KEY_BYTES], const uint8_t nonce[PEER_NONCE_BYTES],
                    uint64_t id, uint8_t mac[32])
{
    uint8_t msg[sizeof(PEER_PROOF_LABEL) - 1 + PEER_NONCE_BYTES + 8];
    size_t at = sizeof(PEER_PROOF_LABEL) - 1;
    memcpy(msg, PEER_PROOF_LABEL, at);
    memcpy(msg + at, nonce, PEER_NONCE_BYTES);
    at += PEER_NONCE_BYTES;
    for (int i = 0; i < 8; i++) {
        msg[at++] = (uint8_t)(id >> (8 * i));
    }
    assert(at == sizeof(msg));
    unsigned len = 0;
    uint8_t *done = HMAC(EVP_sha256(), key, PEER_KEY_BYTES, msg, sizeof(msg), mac, &len);
    /* HMAC-SHA256 over memory has no way to fail but a broken libcrypto */
    assert(done != NULL && len == 32);
    (void)done;
}

void peer_hmac(const uint8_t *key, size_t key_len, const char *label, const void *const *parts,
               const size_t *lens, size_t n, uint8_t out[32])
{
    uint8_t msg[1024];
    size_t at = strlen(label);
    assert(at <= sizeof(msg));
    memcpy(msg, label, at);
    for (size_t i = 0; i < n; i++) {
        assert(lens[i] <= sizeof(msg) - at);
        memcpy(msg + at, parts[i], lens[i]);
        at += lens[i];
    }
    unsigned len = 0;
    uint8_t *done = HMAC(EVP_sha256(), key, (int)key_len, msg, at, out, &len);
    assert(done != NULL && len == 32);
    (void)done;
}

int peer_secret_load(const char *path, uint8_t key[32])
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "seqd: --cluster-secret-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t bytes[4097];
    size_t len = fread(bytes, 1, sizeof(bytes), fp);
    bool failed = ferror(fp) != 0;
    fclose(fp);
    while (len > 0 && (bytes[len - 1] == '\n' || bytes[len - 1] == '\r')) {
        len--;
    }
    if (failed || len < 16 || len > 4096) {
        fprintf(stderr, "seqd: --cluster-secret-file %s: wants 16 to 4096 bytes (e.g. openssl "
                        "rand -hex 32)\n", path);
        OPENSSL_cleanse(bytes, sizeof(bytes));
        return -1;
    }
    unsigned out_len = 0;
    int ok = EVP_Digest(bytes, len, key, &out_len, EVP_sha256(), NULL);
    OPENSSL_cleanse(bytes, sizeof(bytes));
    return ok == 1 && out_len == 32 ? 0 : -1;
}

bool peer_mac_equal(const uint8_t a[32], const uint8_t b[32])
{
    return CRYPTO_memcmp(a, b, 32) == 0;
}

void peer_proof(const uint8_t key[PEER_KEY_BYTES], const uint8_t nonce[PEER_NONCE_BYTES],
                uint64_t id, char out[PEER_PROOF_HEX + 1])
{
    uint8_t mac[32];
    peerMac(key, nonce, id, mac);
    peer_hex(mac, sizeof(mac), out);
}

bool peer_proof_check(const uint8_t key[PEER_KEY_BYTES], const uint8_t nonce[PEER_NONCE_BYTES],
                      uint64_t id, const char *proof, size_t len)
{
    uint8_t want[32], got[32];
    if (!peer_unhex(proof, len, got, sizeof(got))) {
        return false;
    }
    peerMac(key, nonce, id, want);
    return CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}
