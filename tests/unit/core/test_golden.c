/* Golden files: every on-disk format seqd has written, decoded by today's
 * code (tests/unit/core/golden/).
 *
 *  - snapshot-v1.bin … snapshot-v3.bin: core snapshots written by the seqd
 *    of their time (the last commit before each version bump, driven through
 *    one session by make_snapshots.sh); snapshot-v4.bin: the core's bytes of
 *    an SQF2 frame; snapshot-v5.bin: with users, the core's bytes of an
 *    SQF3 frame; snapshot-v6.bin: today's (document numbers too: formats,
 *    labels, a yearly series, a mod11:skip format). Each decodes to the
 *    state its session made (checked through seq_apply, as the server would
 *    read it); v5 encodes as v6, and v6 back to the very same bytes.
 *  - entries.bin: one log entry per op and layout (golden_cases.h), written
 *    by gen_entries. Each decodes to its case field by field, and the
 *    entries of the current header layout encode back byte for byte.
 *
 * A change that reads old data differently, or writes new data differently
 * without a new version, fails here. GOLDEN_DIR overrides the directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "golden/golden_cases.h"
#include "seq.h"

static uint8_t *read_file(const char *name, size_t *len)
{
    const char *dir = getenv("GOLDEN_DIR") != NULL ? getenv("GOLDEN_DIR") : "tests/unit/core/golden";
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fail_msg("cannot open %s", path);
    }
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    assert_true(n > 0);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* ---- snapshots ------------------------------------------------------- */

static seq_state *load_snapshot(const char *name)
{
    size_t len = 0;
    uint8_t *bytes = read_file(name, &len);
    seq_state *s = seq_snapshot_decode(bytes, len);
    free(bytes);
    assert_non_null(s);
    return s;
}

static void apply(seq_state *s, seq_cmd cmd, seq_result *r)
{
    memset(r, 0, sizeof(*r));
    cmd.name_len = cmd.name != NULL ? strlen(cmd.name) : 0;
    cmd.key_len = cmd.key != NULL ? strlen(cmd.key) : 0;
    seq_apply(s, &cmd, r);
}

static void expect_next(seq_state *s, const char *name, bool has_next, int64_t next,
                        uint64_t issued, size_t n_ranges)
{
    seq_result r;
    apply(s, (seq_cmd){.op = SEQ_OP_DESCRIBE, .name = name}, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_int_equal(r.has_next, has_next);
    if (has_next) {
        assert_int_equal(r.next, next);
    }
    assert_int_equal(r.issued, issued);
    assert_int_equal(r.n_ranges, n_ranges);
    seq_result_free(&r);
}

static void expect_state(seq_state *s, const char *name, int64_t v, uint8_t state,
                         const char *reason)
{
    seq_result r;
    apply(s, (seq_cmd){.op = SEQ_OP_LOOKUP, .name = name, .min = v}, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_int_equal(r.state, state);
    if (reason != NULL) {
        assert_non_null(r.reason);
        assert_string_equal(r.reason, reason);
    }
    seq_result_free(&r);
}

static void expect_list(seq_state *s, const char *const *names, size_t n)
{
    seq_result r;
    apply(s, (seq_cmd){.op = SEQ_OP_LIST}, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_int_equal(r.n_names, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(r.names[i], names[i]);
    }
    seq_result_free(&r);
}

/* What every version's session did (make_snapshots.sh): a 1..100 with
 * NEXT x5, COUNT 10, KEY k1 (16), ADDRANGE 1000..1009; b 500..599 START 510
 * with one NEXT; z created and dropped. */
static void expect_common(seq_state *s)
{
    expect_next(s, "a", true, 17, 16, 2);
    expect_next(s, "b", true, 511, 1, 1);
    expect_state(s, "a", 16, SEQ_NUM_FINAL, NULL);
    expect_state(s, "a", 17, SEQ_NUM_NOT_ISSUED, NULL);
    expect_state(s, "b", 505, SEQ_NUM_NOT_ISSUED, NULL); /* below START */
    seq_result r;
    apply(s, (seq_cmd){.op = SEQ_OP_DESCRIBE, .name = "z"}, &r);
    assert_int_equal(r.status, SEQ_ERR_NOSEQ);
    seq_result_free(&r);
}

/* The state moves on as the server would: the KEY replays, the next
 * number follows, a dropped name is not live. */
static void expect_moves_on(seq_state *s)
{
    seq_tick(s, 1764672000000, 86400000);
    seq_result r;
    apply(s, (seq_cmd){.op = SEQ_OP_NEXT, .name = "a", .count = 1, .key = "k1"}, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_true(r.replayed);
    assert_int_equal(r.runs[0].first, 16);
    seq_result_free(&r);
    apply(s, (seq_cmd){.op = SEQ_OP_NEXT, .name = "a", .count = 1}, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_int_equal(r.runs[0].first, 17);
    seq_result_free(&r);
}

static void test_snapshot_v1(void **state)
{
    (void)state;
    seq_state *s = load_snapshot("snapshot-v1.bin");
    static const char *const names[] = {"a", "b"};
    expect_list(s, names, 2);
    expect_common(s);
    expect_moves_on(s);
    seq_state_free(s);
}

static void test_snapshot_v2(void **state)
{
    (void)state;
    seq_state *s = load_snapshot("snapshot-v2.bin");
    static const char *const names[] = {"a", "b"};
    expect_list(s, names, 2);
    expect_common(s);
    expect_state(s, "a", 3, SEQ_NUM_VOIDED, "spoiled");
    expect_state(s, "a", 7, SEQ_NUM_VOIDED, "cancelled by customer");
    expect_state(s, "a", 4, SEQ_NUM_FINAL, NULL);
    seq_result r;
    apply(s, (seq_cmd){.op = SEQ_OP_GAPS, .name = "a", .min = 1, .max = 2000}, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_int_equal(r.n_ledger, 2);
    seq_result_free(&r);
    expect_moves_on(s);
    seq_state_free(s);
}

/* v3 and v4 sessions add: g gapless (1..4 final, 5 reserved for KEY r1,
 * 6 released), w with a window opening in 2033, ca cached (CACHE 10,
 * WARN 5). */
static void expect_modes_with(seq_state *s, bool documents);

static void expect_modes(seq_state *s)
{
    expect_modes_with(s, false);
}

static void expect_modes_with(seq_state *s, bool documents)
{
    static const char *const names[] = {"a", "b", "ca", "g", "w"};
    static const char *const names6[] = {"a", "b", "ca", "g", "inv", "m", "pol", "w"};
    if (documents) {
        expect_list(s, names6, 8);
    } else {
        expect_list(s, names, 5);
    }
    expect_common(s);
    expect_state(s, "a", 3, SEQ_NUM_VOIDED, "spoiled");
    expect_state(s, "g", 4, SEQ_NUM_FINAL, NULL);
    expect_state(s, "g", 5, SEQ_NUM_RESERVED, NULL);
    expect_state(s, "g", 6, SEQ_NUM_RELEASED, NULL);
    expect_state(s, "g", 7, SEQ_NUM_NOT_ISSUED, NULL);
    seq_result r;
    apply(s, (seq_cmd){.op = SEQ_OP_DESCRIBE, .name = "ca"}, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_int_equal(r.mode, SEQ_MODE_CACHED);
    assert_int_equal(r.cache, 10);
    assert_int_equal(r.warn, 5);
    seq_result_free(&r);
    apply(s, (seq_cmd){.op = SEQ_OP_DESCRIBE, .name = "w"}, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_int_equal(r.n_ranges, 1);
    assert_int_equal(r.ranges[0].not_before, 2000000000000);
    assert_int_equal(r.ranges[0].not_after, 2100000000999); /* to the second: its whole second */
    seq_result_free(&r);
    apply(s, (seq_cmd){.op = SEQ_OP_DESCRIBE, .name = "g"}, &r);
    assert_int_equal(r.mode, SEQ_MODE_GAPLESS);
    seq_result_free(&r);
    expect_moves_on(s);
    /* the released 6 goes out again first, and KEY r1 still holds 5 */
    apply(s, (seq_cmd){.op = SEQ_OP_NEXT, .name = "g", .count = 1}, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_int_equal(r.runs[0].first, 6);
    seq_result_free(&r);
    apply(s, (seq_cmd){.op = SEQ_OP_RESERVE, .name = "g", .key = "r1"}, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_int_equal(r.runs[0].first, 5);
    seq_result_free(&r);
}

static void test_snapshot_v3(void **state)
{
    (void)state;
    seq_state *s = load_snapshot("snapshot-v3.bin");
    expect_modes(s);
    seq_state_free(s);
}

static void test_snapshot_v4(void **state)
{
    (void)state;
    seq_state *s = load_snapshot("snapshot-v4.bin");
    expect_modes(s);
    /* before users were state: the first default user, as a new state has */
    assert_int_equal(seq_count_users(s), 1);
    assert_false(seq_acl_default_set(s));
    assert_true(seq_acl_user_open(s, "default", 7));
    seq_state_free(s);
}

/* The v5 session adds two users: sales (>s3cret ~policies-* +@issue
 * +@read) and ops (nopass ~* +@all -drop). */
static void expect_users(const seq_state *s)
{
    assert_int_equal(seq_count_users(s), 3);
    seq_login_info li;
    seq_acl_login_info(s, "sales", 5, &li);
    assert_true(li.exists && li.enabled && !li.nopass);
    assert_int_equal(li.n_hashes, 1);
    assert_memory_equal(li.hashes[0], "$scrypt$", 8);
    assert_int_equal(seq_acl_check(s, "sales", 5, "next", NULL, SEQ_CAT_ISSUE, "policies-x", 10),
                     SEQ_ACL_ALLOWED);
    assert_int_equal(seq_acl_check(s, "sales", 5, "next", NULL, SEQ_CAT_ISSUE, "a", 1),
                     SEQ_ACL_NO_SEQUENCE);
    assert_int_equal(seq_acl_check(s, "ops", 3, "drop", NULL, SEQ_CAT_ADMIN, "a", 1),
                     SEQ_ACL_NO_COMMAND);
    assert_int_equal(seq_acl_check(s, "ops", 3, "create", NULL, SEQ_CAT_ADMIN, "a", 1),
                     SEQ_ACL_ALLOWED);
    assert_true(seq_acl_user_open(s, "default", 7));
    /* who voided what: 3 and 7 by the default user, 9 by ops */
    seq_result r;
    apply((seq_state *)s, (seq_cmd){.op = SEQ_OP_LOOKUP, .name = "a", .min = 9}, &r);
    assert_int_equal(r.state, SEQ_NUM_VOIDED);
    assert_string_equal(r.by, "ops");
    seq_result_free(&r);
    apply((seq_state *)s, (seq_cmd){.op = SEQ_OP_LOOKUP, .name = "a", .min = 3}, &r);
    assert_string_equal(r.by, "default");
    seq_result_free(&r);
}

static void test_snapshot_v5_reads_and_writes_v6(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *bytes = read_file("snapshot-v5.bin", &len);
    seq_state *s = seq_snapshot_decode(bytes, len);
    assert_non_null(s);
    size_t again_len = 0;
    void *again = seq_snapshot_encode(s, &again_len);
    assert_non_null(again);
    /* today's writer writes version 6, which reads back to the same bytes */
    seq_state *s6 = seq_snapshot_decode(again, again_len);
    assert_non_null(s6);
    size_t again6_len = 0;
    void *again6 = seq_snapshot_encode(s6, &again6_len);
    assert_int_equal(again6_len, again_len);
    assert_memory_equal(again6, again, again_len);
    free(again6);
    free(again);
    free(bytes);
    expect_users(s6);
    expect_modes(s6);
    seq_state_free(s6);
    expect_users(s);
    expect_modes(s);
    seq_state_free(s);
}

/* What make_snapshots.sh's version 6 part made. */
static void expect_documents(seq_state *s)
{
    seq_result r;
    seq_cmd c = {.op = SEQ_OP_PARSE, .name = "inv", .name_len = 3, .text = "2026/000002-92",
                 .text_len = 14};
    apply(s, c, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_int_equal(r.number, 2);
    assert_int_equal(r.period, 2026);
    assert_int_equal(r.state, SEQ_NUM_FINAL);
    seq_result_free(&r);
    apply(s, (seq_cmd){.op = SEQ_OP_DESCRIBE, .name = "inv", .name_len = 3}, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_string_equal(r.format, "ATCUD:{label}-{n}");
    assert_string_equal(r.ranges[0].label, "PT-ABCD");
    assert_string_equal(r.ranges[1].label, "PT-EFGH");
    assert_int_equal(r.tz_minutes, 60);
    assert_true(r.has_period);
    assert_int_equal(r.period, 2026);
    seq_result_free(&r);
    /* the next number prints by the format set last */
    apply(s, (seq_cmd){.op = SEQ_OP_NEXT, .name = "inv", .name_len = 3, .count = 1,
                       .text_reply = true}, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_string_equal(r.texts[0], "ATCUD:PT-ABCD-3");
    seq_result_free(&r);
    c = (seq_cmd){.op = SEQ_OP_PARSE, .name = "pol", .name_len = 3,
                  .text = "POL-A-202043200000001-5", .text_len = 23};
    apply(s, c, &r);
    assert_int_equal(r.status, SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_FINAL);
    seq_result_free(&r);
    apply(s, (seq_cmd){.op = SEQ_OP_LOOKUP, .name = "m", .name_len = 1, .min = 6}, &r);
    assert_int_equal(r.state, SEQ_NUM_SKIPPED);
    seq_result_free(&r);
}

static void test_snapshot_v6_and_its_bytes(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *bytes = read_file("snapshot-v6.bin", &len);
    seq_state *s = seq_snapshot_decode(bytes, len);
    assert_non_null(s);
    size_t again_len = 0;
    void *again = seq_snapshot_encode(s, &again_len);
    assert_non_null(again);
    assert_int_equal(again_len, len);
    assert_memory_equal(again, bytes, len); /* today's writer writes today's format */
    free(again);
    free(bytes);
    expect_users(s);
    expect_modes_with(s, true);
    expect_documents(s);
    seq_state_free(s);
}

/* ---- log entries ------------------------------------------------------ */

static void expect_same_cmd(const char *what, const seq_cmd *got, const seq_cmd *want)
{
    (void)what;
    assert_int_equal(got->op, want->op);
    assert_int_equal(got->name_len, want->name_len);
    if (want->name_len > 0) {
        assert_memory_equal(got->name, want->name, want->name_len);
    }
    assert_int_equal(got->min, want->min);
    assert_int_equal(got->max, want->max);
    assert_int_equal(got->has_start, want->has_start);
    assert_int_equal(got->start, want->start);
    assert_int_equal(got->count, want->count);
    assert_int_equal(got->key_len, want->key_len);
    if (want->key_len > 0) {
        assert_memory_equal(got->key, want->key, want->key_len);
    }
    assert_int_equal(got->text_len, want->text_len);
    if (want->text_len > 0) {
        assert_memory_equal(got->text, want->text, want->text_len);
    }
    assert_int_equal(got->mode, want->mode);
    assert_int_equal(got->cache, want->cache);
    assert_int_equal(got->warn, want->warn);
    assert_int_equal(got->has_not_before, want->has_not_before);
    assert_int_equal(got->has_not_after, want->has_not_after);
    if (want->has_not_before) {
        assert_int_equal(got->not_before, want->not_before);
    }
    if (want->has_not_after) {
        assert_int_equal(got->not_after, want->not_after);
    }
    assert_int_equal(got->ttl_ms, want->ttl_ms);
    assert_int_equal(got->term, want->term);
    assert_int_equal(got->node, want->node);
    assert_int_equal(got->incarnation, want->incarnation);
    assert_int_equal(got->format_len, want->format_len);
    if (want->format_len > 0) {
        assert_memory_equal(got->format, want->format, want->format_len);
    }
    assert_int_equal(got->label_len, want->label_len);
    if (want->label_len > 0) {
        assert_memory_equal(got->label, want->label, want->label_len);
    }
    assert_int_equal(got->period_kind, want->period_kind);
    assert_int_equal(got->tz_minutes, want->tz_minutes);
    assert_int_equal(got->has_period, want->has_period);
    assert_int_equal(got->period, want->period);
    assert_int_equal(got->text_reply, want->text_reply);
    assert_int_equal(got->user_len, want->user_len);
    if (want->user_len > 0) {
        assert_memory_equal(got->user, want->user, want->user_len);
    }
}

static void test_entries(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *file = read_file("entries.bin", &len);
    size_t n_cases = 0;
    const golden_case *cases = golden_cases(&n_cases);
    size_t at = 0, i = 0;
    for (; at + 4 <= len; i++) {
        size_t n = (size_t)file[at] | (size_t)file[at + 1] << 8 | (size_t)file[at + 2] << 16 |
                   (size_t)file[at + 3] << 24;
        at += 4;
        assert_true(at + n <= len);
        assert_true(i < n_cases);
        const golden_case *g = &cases[i];
        uint8_t *entry = malloc(n); /* exactly its bytes: ASan sees a read past them */
        assert_non_null(entry);
        memcpy(entry, file + at, n);
        at += n;
        seq_reader r = {entry, n, 0, false};
        codec_header h;
        assert_int_equal(codec_get_header(&r, &h), 0);
        assert_int_equal(h.time_ms, g->header.time_ms);
        assert_int_equal(h.retention_ms, g->header.retention_ms);
        assert_int_equal(h.origin, g->header.origin);
        assert_int_equal(h.batch_seq, g->header.batch_seq);
        assert_int_equal(h.n_cmds, 1);
        if (g->header_v1) {
            /* what the first layout means today */
            assert_int_equal(h.keys_max, SEQ_KEYS_MAX_DEFAULT);
            assert_int_equal(h.mono_ms, g->header.time_ms);
        } else {
            assert_int_equal(h.keys_max, g->header.keys_max);
            assert_int_equal(h.mono_ms, g->header.mono_ms);
        }
        seq_cmd cmd;
        assert_int_equal(codec_get_cmd(&r, &cmd), 0);
        assert_int_equal(r.pos, n);
        expect_same_cmd(g->what, &cmd, &g->cmd);
        if (!g->header_v1) {
            uint8_t out[4096];
            seq_writer w = {out, 0, sizeof(out), false};
            codec_put_header(&w, &h);
            codec_put_cmd(&w, &cmd);
            assert_false(w.overflow);
            assert_int_equal(w.len, n);
            assert_memory_equal(out, entry, n); /* today's writer writes the same bytes */
        }
        free(entry);
    }
    assert_int_equal(at, len);
    assert_int_equal(i, n_cases);
    free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_v1),
        cmocka_unit_test(test_snapshot_v2),
        cmocka_unit_test(test_snapshot_v3),
        cmocka_unit_test(test_snapshot_v4),
        cmocka_unit_test(test_snapshot_v5_reads_and_writes_v6),
        cmocka_unit_test(test_snapshot_v6_and_its_bytes),
        cmocka_unit_test(test_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
