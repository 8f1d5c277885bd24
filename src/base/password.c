/* password — scrypt hashes of passwords, checked in constant time (see
 * password.h). */
#include "password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "peer_proof.h" /* its hex helpers */

#define PASSWORD_N 16384
#define PASSWORD_R 8
#define PASSWORD_P 1
#define PASSWORD_KEY_BYTES 32
#define PASSWORD_MAXMEM (64u << 20)
#define PASSWORD_PREFIX "$scrypt$N=16384,r=8,p=1$"

_Static_assert(PEER_NONCE_BYTES == PASSWORD_SALT_BYTES, "a salt is drawn as a nonce");

int password_hash_salted(const char *pw, size_t len, const uint8_t salt[PASSWORD_SALT_BYTES],
                         char out[PASSWORD_HASH_MAX])
{
    uint8_t key[PASSWORD_KEY_BYTES];
    if (len > PASSWORD_MAX ||
        EVP_PBE_scrypt(pw, len, salt, PASSWORD_SALT_BYTES, PASSWORD_N, PASSWORD_R, PASSWORD_P,
                       PASSWORD_MAXMEM, key, sizeof(key)) != 1) {
        return -1;
    }
    char salt_hex[2 * PASSWORD_SALT_BYTES + 1], key_hex[2 * PASSWORD_KEY_BYTES + 1];
    peer_hex(salt, PASSWORD_SALT_BYTES, salt_hex);
    peer_hex(key, sizeof(key), key_hex);
    OPENSSL_cleanse(key, sizeof(key));
    int n = snprintf(out, PASSWORD_HASH_MAX, "%s%s$%s", PASSWORD_PREFIX, salt_hex, key_hex);
    return n > 0 && n < PASSWORD_HASH_MAX ? 0 : -1;
}

int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_MAX])
{
    uint8_t salt[PASSWORD_SALT_BYTES];
    if (peer_nonce(salt) != 0) { /* PEER_NONCE_BYTES == PASSWORD_SALT_BYTES */
        return -1;
    }
    return password_hash_salted(pw, len, salt, out);
}

/* The salt of a well-formed hash; false when it is not one. */
static bool passwordSalt(const char *hash, uint8_t salt[PASSWORD_SALT_BYTES])
{
    size_t prefix = strlen(PASSWORD_PREFIX);
    size_t want = prefix + 2 * PASSWORD_SALT_BYTES + 1 + 2 * PASSWORD_KEY_BYTES;
    uint8_t key[PASSWORD_KEY_BYTES];
    return strnlen(hash, PASSWORD_HASH_MAX) == want && strncmp(hash, PASSWORD_PREFIX, prefix) == 0 &&
           peer_unhex(hash + prefix, 2 * PASSWORD_SALT_BYTES, salt, PASSWORD_SALT_BYTES) &&
           hash[prefix + 2 * PASSWORD_SALT_BYTES] == '$' &&
           peer_unhex(hash + prefix + 2 * PASSWORD_SALT_BYTES + 1, 2 * PASSWORD_KEY_BYTES, key,
                      sizeof(key));
}

bool password_hash_valid(const char *text)
{
    uint8_t salt[PASSWORD_SALT_BYTES];
    return passwordSalt(text, salt);
}

bool password_check(const char *hash, const char *pw, size_t len)
{
    uint8_t salt[PASSWORD_SALT_BYTES];
    char again[PASSWORD_HASH_MAX];
    if (!passwordSalt(hash, salt) || password_hash_salted(pw, len, salt, again) != 0) {
        return false;
    }
    size_t n = strlen(hash);
    return strlen(again) == n && CRYPTO_memcmp(again, hash, n) == 0;
}
