/* test_peer_proof — a node's proof on a forward link: the HMAC matches an
 * independent implementation, and every change to what it covers, or to
 * its spelling, fails the check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "peer_proof.h"

static void fill(uint8_t *p, size_t n, int from)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(from + (int)i);
    }
}

/* Python's hmac module, not this code, computed the expected digits:
 * hmac.new(bytes(range(32)), b"seqd-peer-v1" + bytes(range(100, 116)) +
 *          struct.pack("<Q", 0x7f0000017531), hashlib.sha256).hexdigest() */
static void test_proof_matches_an_independent_hmac(void **state)
{
    (void)state;
    uint8_t key[PEER_KEY_BYTES], nonce[PEER_NONCE_BYTES];
    fill(key, sizeof(key), 0);
    fill(nonce, sizeof(nonce), 100);
    char proof[PEER_PROOF_HEX + 1];
    peer_proof(key, nonce, 0x7f0000017531ull, proof);
    assert_string_equal(proof, "d3bc0ab5d0e0d938ea302bee3f33b739ef71c76f0875b33826192170665a21ab");
    assert_true(peer_proof_check(key, nonce, 0x7f0000017531ull, proof, strlen(proof)));
}

static void test_check_refuses_every_change(void **state)
{
    (void)state;
    uint8_t key[PEER_KEY_BYTES], nonce[PEER_NONCE_BYTES];
    fill(key, sizeof(key), 7);
    fill(nonce, sizeof(nonce), 9);
    char proof[PEER_PROOF_HEX + 1];
    peer_proof(key, nonce, 42, proof);
    assert_true(peer_proof_check(key, nonce, 42, proof, PEER_PROOF_HEX));
    assert_false(peer_proof_check(key, nonce, 43, proof, PEER_PROOF_HEX)); /* another id */
    for (size_t i = 0; i < PEER_PROOF_HEX; i++) {                             /* each digit */
        char bad[PEER_PROOF_HEX + 1];
        memcpy(bad, proof, sizeof(bad));
        bad[i] = bad[i] == '0' ? '1' : '0';
        assert_false(peer_proof_check(key, nonce, 42, bad, PEER_PROOF_HEX));
    }
    for (size_t i = 0; i < PEER_NONCE_BYTES; i++) { /* each bit of the nonce's bytes */
        uint8_t other[PEER_NONCE_BYTES];
        memcpy(other, nonce, sizeof(other));
        other[i] ^= 1;
        assert_false(peer_proof_check(key, other, 42, proof, PEER_PROOF_HEX));
    }
    uint8_t other_key[PEER_KEY_BYTES];
    memcpy(other_key, key, sizeof(other_key));
    other_key[31] ^= 0x80;
    assert_false(peer_proof_check(other_key, nonce, 42, proof, PEER_PROOF_HEX));
    assert_false(peer_proof_check(key, nonce, 42, proof, PEER_PROOF_HEX - 1)); /* short */
    assert_false(peer_proof_check(key, nonce, 42, "", 0));
    char upper[PEER_PROOF_HEX + 1];
    for (size_t i = 0; i <= PEER_PROOF_HEX; i++) {
        upper[i] = proof[i] >= 'a' && proof[i] <= 'f' ? (char)(proof[i] - 32) : proof[i];
    }
    if (strcmp(upper, proof) != 0) {
        assert_false(peer_proof_check(key, nonce, 42, upper, PEER_PROOF_HEX));
    }
}

static void test_hex_round_trip_and_refusals(void **state)
{
    (void)state;
    uint8_t bytes[PEER_NONCE_BYTES], back[PEER_NONCE_BYTES];
    fill(bytes, sizeof(bytes), 250); /* wraps past 255: every nibble shape */
    char hex[PEER_NONCE_HEX + 1];
    peer_hex(bytes, sizeof(bytes), hex);
    assert_int_equal(strlen(hex), PEER_NONCE_HEX);
    assert_true(peer_unhex(hex, PEER_NONCE_HEX, back, sizeof(back)));
    assert_memory_equal(bytes, back, sizeof(bytes));
    hex[5] = 'g';
    assert_false(peer_unhex(hex, PEER_NONCE_HEX, back, sizeof(back)));
    assert_false(peer_unhex("00", 2, back, sizeof(back)));
}

static void test_nonces_differ(void **state)
{
    (void)state;
    uint8_t a[PEER_NONCE_BYTES], b[PEER_NONCE_BYTES];
    assert_int_equal(peer_nonce(a), 0);
    assert_int_equal(peer_nonce(b), 0);
    assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proof_matches_an_independent_hmac),
        cmocka_unit_test(test_check_refuses_every_change),
        cmocka_unit_test(test_hex_round_trip_and_refusals),
        cmocka_unit_test(test_nonces_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
