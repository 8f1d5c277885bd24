/* Unit tests for src/raft/identity.c: when two nodes may speak on the Raft bus,
 * the founding hash, and the identity file's text (round trip, every way it
 * can be wrong, atomic save and load). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "identity.h"

static identity with_cluster(uint8_t fill, uint64_t founding)
{
    identity id = {.kind = IDENTITY_CLUSTER, .raft_id = 7, .founding = founding, .has_cluster = true};
    memset(id.cluster, fill, sizeof(id.cluster));
    return id;
}

static identity without_cluster(uint64_t founding)
{
    identity id = {.kind = IDENTITY_CLUSTER, .raft_id = 9, .founding = founding};
    return id;
}

static void test_compatible_rules(void **state)
{
    (void)state;
    identity x = with_cluster(0xaa, 5), x2 = with_cluster(0xaa, 6), y = with_cluster(0xbb, 5);
    identity founder = without_cluster(5), other_founder = without_cluster(6);
    identity joiner = without_cluster(0);
    /* ids decide when both have one, whatever the founding hashes say */
    assert_int_equal(identity_compatible(&x, &x2), IDENTITY_OK);
    assert_int_equal(identity_compatible(&x, &y), IDENTITY_FOREIGN_CLUSTER);
    /* then founding hashes */
    assert_int_equal(identity_compatible(&x, &founder), IDENTITY_OK);
    assert_int_equal(identity_compatible(&x, &other_founder), IDENTITY_FOREIGN_FOUNDING);
    assert_int_equal(identity_compatible(&founder, &other_founder), IDENTITY_FOREIGN_FOUNDING);
    /* a joiner has neither: it learns the cluster from the log */
    assert_int_equal(identity_compatible(&x, &joiner), IDENTITY_OK);
    assert_int_equal(identity_compatible(&joiner, &other_founder), IDENTITY_OK);
    /* symmetric */
    identity all[] = {x, x2, y, founder, other_founder, joiner};
    for (size_t i = 0; i < 6; i++) {
        for (size_t j = 0; j < 6; j++) {
            assert_int_equal(identity_compatible(&all[i], &all[j]),
                             identity_compatible(&all[j], &all[i]));
        }
    }
}

static void test_founding_hash(void **state)
{
    (void)state;
    uint64_t ids[] = {30, 10, 20};
    const char *addrs[] = {"127.0.0.1:30", "127.0.0.1:10", "127.0.0.1:20"};
    uint64_t ids2[] = {10, 20, 30};
    const char *addrs2[] = {"127.0.0.1:10", "127.0.0.1:20", "127.0.0.1:30"};
    uint64_t h = identity_founding_hash(ids, addrs, 3);
    assert_true(h != 0);
    assert_true(h == identity_founding_hash(ids2, addrs2, 3)); /* order does not matter */
    assert_true(h != identity_founding_hash(ids2, addrs2, 2)); /* members do */
    const char *moved[] = {"127.0.0.1:10", "127.0.0.1:20", "127.0.0.1:31"};
    assert_true(h != identity_founding_hash(ids2, moved, 3)); /* so do addresses */
    uint64_t one = 1;
    const char *a = "127.0.0.1:17379";
    assert_true(identity_founding_hash(&one, &a, 1) != h);
}

static void test_format_parse_round_trip(void **state)
{
    (void)state;
    identity ids[3] = {with_cluster(0x3c, 0x8aa1b8053ed36c15ull), without_cluster(0),
                       with_cluster(0x00, 1)};
    ids[2].kind = IDENTITY_SINGLE;
    ids[2].raft_id = 1;
    for (int i = 0; i < 3; i++) {
        char text[512];
        size_t len = identity_format(&ids[i], text, sizeof(text));
        assert_true(len > 0);
        identity back;
        int line = -1;
        assert_int_equal(identity_parse(text, len, &back, &line), 0);
        assert_int_equal(back.kind, ids[i].kind);
        assert_true(back.raft_id == ids[i].raft_id);
        assert_true(back.founding == ids[i].founding);
        assert_int_equal(back.has_cluster, ids[i].has_cluster);
        if (back.has_cluster) {
            assert_memory_equal(back.cluster, ids[i].cluster, IDENTITY_CLUSTER_BYTES);
        }
    }
    char small[8];
    assert_int_equal(identity_format(&ids[0], small, sizeof(small)), 0);
}

static void expect_bad(const char *text, int want_line)
{
    identity id;
    int line = 0;
    assert_int_equal(identity_parse(text, strlen(text), &id, &line), -1);
    assert_int_equal(line, want_line);
}

static void test_parse_refuses_what_is_wrong(void **state)
{
    (void)state;
    const char *good = "seqd-identity 1\nkind cluster\nnode 5\nfounding 00ff\ncluster -\n";
    identity id;
    int line = 0;
    assert_int_equal(identity_parse(good, strlen(good), &id, &line), 0);
    expect_bad("seqd-identity 2\nkind cluster\nnode 5\nfounding 0\ncluster -\n", 1);
    expect_bad("seqd-identity 1\nkind cluster\nnode 5\nfounding 0\n", 5); /* cluster missing */
    expect_bad("seqd-identity 1\nkind other\nnode 5\nfounding 0\ncluster -\n", 2);
    expect_bad("seqd-identity 1\nkind cluster\nnode 0\nfounding 0\ncluster -\n", 3);
    expect_bad("seqd-identity 1\nkind cluster\nnode -5\nfounding 0\ncluster -\n", 3);
    expect_bad("seqd-identity 1\nkind cluster\nnode 99999999999999999999\nfounding 0\ncluster -\n",
               3);
    expect_bad("seqd-identity 1\nkind cluster\nnode 5\nfounding zz\ncluster -\n", 4);
    expect_bad("seqd-identity 1\nkind cluster\nnode 5\nfounding 0\ncluster 00ff\n", 5);
    expect_bad("seqd-identity 1\nkind cluster\nnode 5\nfounding 0\ncluster "
               "0123456789abcdef0123456789abcdeZ\n",
               5);
    expect_bad("seqd-identity 1\nkind cluster extra\nnode 5\nfounding 0\ncluster -\n", 2);
    expect_bad("seqd-identity 1\nwho knows\n", 2);
    expect_bad("", 1);
    /* a flipped bit in the file is refused, not read as another id */
    char text[512];
    identity x = with_cluster(0x3c, 77);
    size_t len = identity_format(&x, text, sizeof(text));
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            char copy[512];
            memcpy(copy, text, len);
            copy[i] = (char)(copy[i] ^ (1 << bit));
            identity y;
            if (identity_parse(copy, len, &y, &line) == 0) {
                /* only a flip that still spells a valid file is read, and then
                 * it must differ from the original (never silently equal) */
                bool same = y.kind == x.kind && y.raft_id == x.raft_id &&
                            y.founding == x.founding && y.has_cluster == x.has_cluster &&
                            memcmp(y.cluster, x.cluster, IDENTITY_CLUSTER_BYTES) == 0;
                bool case_only = copy[i] >= 'A' && copy[i] <= 'F'; /* hex digits */
                assert_true(!same || case_only);
            }
        }
    }
}

static void test_save_and_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/seqd-identity-XXXXXX";
    assert_non_null(mkdtemp(dir));
    identity id;
    char err[256];
    assert_int_equal(identity_load(dir, &id, err, sizeof(err)), 1); /* none yet */
    identity x = with_cluster(0x5a, 0x1234);
    assert_int_equal(identity_save(dir, &x), 0);
    assert_int_equal(identity_load(dir, &id, err, sizeof(err)), 0);
    assert_memory_equal(id.cluster, x.cluster, IDENTITY_CLUSTER_BYTES);
    assert_true(id.founding == 0x1234 && id.raft_id == 7);
    /* a damaged file is an error that names it and the line */
    char path[300];
    snprintf(path, sizeof(path), "%s/%s", dir, IDENTITY_FILE);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("seqd-identity 1\nkind cluster\nnode x\n", fp);
    fclose(fp);
    assert_int_equal(identity_load(dir, &id, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "line 3"));
    unlink(path);
    char tmp[320];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp);
    assert_int_equal(rmdir(dir), 0); /* nothing else was left behind */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compatible_rules),
        cmocka_unit_test(test_founding_hash),
        cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_parse_refuses_what_is_wrong),
        cmocka_unit_test(test_save_and_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
