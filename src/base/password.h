/* password — passwords kept only as salted, deliberately slow hashes
 * (scrypt, by OpenSSL), in one printable text form:
 *
 *   $scrypt$N=16384,r=8,p=1$<salt: 32 hex digits>$<key: 64 hex digits>
 *
 * Hashing and checking take tens of milliseconds and 16 MiB by design
 * (that is what makes a stolen hash expensive to guess): never on the
 * event loop's thread — the server runs them on libuv's thread pool. The
 * check compares in constant time. */
#ifndef SEQD_PASSWORD_H
#define SEQD_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PASSWORD_HASH_MAX 128 /* the text form, with its NUL */
#define PASSWORD_SALT_BYTES 16
#define PASSWORD_MAX 4096 /* bytes of a password */

/* The hash of pw with a fresh random salt, into out; 0, or -1 (no
 * randomness, or scrypt failed: out of memory). */
int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_MAX]);

/* The same with the salt given (tests, and the check itself). */
int password_hash_salted(const char *pw, size_t len, const uint8_t salt[PASSWORD_SALT_BYTES],
                         char out[PASSWORD_HASH_MAX]);

/* Whether pw matches hash (a text written by password_hash); false for
 * a malformed hash too. */
bool password_check(const char *hash, const char *pw, size_t len);

/* Whether text has the form password_hash writes (for what comes from
 * files and the log). */
bool password_hash_valid(const char *text);

#endif
