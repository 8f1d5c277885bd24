/* test_password — scrypt hashes: the key matches an independent scrypt,
 * the right password passes, every other one and every damaged hash fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "password.h"

/* Python's hashlib, not OpenSSL through this code, computed the key:
 * hashlib.scrypt(b"correct horse", salt=bytes(range(16)), n=16384, r=8, p=1,
 *                maxmem=64 << 20, dklen=32).hex() */
static void test_hash_matches_an_independent_scrypt(void **state)
{
    (void)state;
    uint8_t salt[PASSWORD_SALT_BYTES];
    for (int i = 0; i < PASSWORD_SALT_BYTES; i++) {
        salt[i] = (uint8_t)i;
    }
    char h[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash_salted("correct horse", 13, salt, h), 0);
    assert_string_equal(h, "$scrypt$N=16384,r=8,p=1$000102030405060708090a0b0c0d0e0f$"
                           "25b376840366f4d3b0e21e414476676e3cd0e89af4430356a234ce0b65a021b5");
    assert_true(password_hash_valid(h));
    assert_true(password_check(h, "correct horse", 13));
}

static void test_check_refuses_others(void **state)
{
    (void)state;
    char h[PASSWORD_HASH_MAX], h2[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash("s3cret", 6, h), 0);
    assert_int_equal(password_hash("s3cret", 6, h2), 0);
    assert_string_not_equal(h, h2); /* a fresh salt each time */
    assert_true(password_check(h, "s3cret", 6));
    assert_true(password_check(h2, "s3cret", 6));
    assert_false(password_check(h, "s3creT", 6));
    assert_false(password_check(h, "s3cre", 5));
    assert_false(password_check(h, "s3cret!", 7));
    assert_false(password_check(h, "\0s3cret", 7)); /* a NUL is a byte like any other... */
    /* ...except at the end: scrypt keys PBKDF2's HMAC with the password, and
     * HMAC pads a short key with zeros (RFC 2104), so "s3cret" and
     * "s3cret\0" are one key. Pinned here so that it is known, not found. */
    assert_true(password_check(h, "s3cret\0", 7));
    assert_false(password_check(h, "", 0));
    /* damaged hashes: a digit, the prefix, the length */
    char bad[PASSWORD_HASH_MAX];
    strcpy(bad, h);
    size_t last = strlen(bad) - 1;
    bad[last] = bad[last] == '0' ? '1' : '0';
    assert_false(password_check(bad, "s3cret", 6));
    strcpy(bad, h);
    bad[9] = 'M';
    assert_false(password_hash_valid(bad));
    assert_false(password_check(bad, "s3cret", 6));
    strcpy(bad, h);
    bad[last] = '\0';
    assert_false(password_hash_valid(bad));
    assert_false(password_hash_valid("s3cret"));
    assert_false(password_hash_valid(""));
}

static void test_binary_and_long_passwords(void **state)
{
    (void)state;
    char pw[PASSWORD_MAX + 1];
    for (size_t i = 0; i < sizeof(pw); i++) {
        pw[i] = (char)(i * 7);
    }
    char h[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash(pw, PASSWORD_MAX, h), 0);
    assert_true(password_check(h, pw, PASSWORD_MAX));
    pw[100] ^= 1;
    assert_false(password_check(h, pw, PASSWORD_MAX));
    assert_int_equal(password_hash(pw, PASSWORD_MAX + 1, h), -1); /* past the bound */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_matches_an_independent_scrypt),
        cmocka_unit_test(test_check_refuses_others),
        cmocka_unit_test(test_binary_and_long_passwords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
