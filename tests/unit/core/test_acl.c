/* Unit tests for src/core/seq_acl.c and seq_snapshot_users.c: users and
 * permissions as replicated state. Each test drives seq_apply the way the
 * log does and asks seq_acl_check what a user may do, from outside: the
 * verdicts are what a client would see (allowed, no such command, no such
 * sequence), not the rule tables.
 *
 * What must hold: a new state lets the default user do everything; rules
 * apply in order, the last that matches deciding; patterns confine a user
 * to its sequences; a SETUSER applies all its rules or none; passwords in
 * clear never enter the state; rules stay bounded however often they are
 * changed; DELUSER never removes the default user; a seed applies only
 * until the default user was set; and users survive a snapshot byte for
 * byte, while a malformed users section is refused. */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "seq.h"

#define HASH_A "$scrypt$N=16384,r=8,p=1$00112233445566778899aabbccddeeff$" \
               "0000000000000000000000000000000000000000000000000000000000000001"
#define HASH_B "$scrypt$N=16384,r=8,p=1$ffeeddccbbaa99887766554433221100$" \
               "0000000000000000000000000000000000000000000000000000000000000002"

static int setuser_seed(seq_state *s, const char *user, const char *rules, bool seed)
{
    seq_cmd c = {.op = SEQ_OP_ACL_SETUSER, .name = user, .name_len = strlen(user),
                 .text = rules, .text_len = strlen(rules), .has_start = seed};
    seq_result r;
    int rv = seq_apply(s, &c, &r);
    seq_result_free(&r);
    return rv;
}

static int setuser(seq_state *s, const char *user, const char *rules)
{
    return setuser_seed(s, user, rules, false);
}

static int check(const seq_state *s, const char *user, const char *command, const char *sub,
                 unsigned category, const char *seq)
{
    return seq_acl_check(s, user, strlen(user), command, sub, category, seq,
                         seq != NULL ? strlen(seq) : 0);
}

/* The user's rules as GETUSER gives them, one space apart ("" if none). */
static void getuser(seq_state *s, const char *user, char *out, size_t cap)
{
    seq_cmd c = {.op = SEQ_OP_ACL_GETUSER, .name = user, .name_len = strlen(user)};
    seq_result r;
    out[0] = '\0';
    if (seq_apply(s, &c, &r) == SEQ_OK) {
        size_t at = 0;
        for (size_t i = 0; i < r.n_names; i++) {
            at += (size_t)snprintf(out + at, cap - at, "%s%s", i > 0 ? " " : "", r.names[i]);
        }
    }
    seq_result_free(&r);
}

static void test_new_state_lets_default_do_everything(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    assert_int_equal(check(s, "default", "drop", NULL, SEQ_CAT_ADMIN, "anything"), SEQ_ACL_ALLOWED);
    assert_int_equal(check(s, "default", "cluster", "add", SEQ_CAT_CLUSTER, NULL), SEQ_ACL_ALLOWED);
    assert_int_equal(check(s, "nobody", "next", NULL, SEQ_CAT_ISSUE, "a"), SEQ_ACL_NO_USER);
    seq_login_info li;
    seq_acl_login_info(s, "default", 7, &li);
    assert_true(li.exists && li.enabled && li.nopass);
    assert_int_equal(li.n_hashes, 0);
    assert_false(seq_acl_default_set(s));
    char rules[1024];
    getuser(s, "default", rules, sizeof(rules));
    assert_string_equal(rules, "on nopass ~* +@all");
    seq_state_free(s);
}

static void test_sales_issues_policies_and_nothing_else(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    assert_int_equal(setuser(s, "sales", "on #" HASH_A " ~policies-* +@issue +@read"), SEQ_OK);
    assert_int_equal(check(s, "sales", "next", NULL, SEQ_CAT_ISSUE, "policies-a"), SEQ_ACL_ALLOWED);
    assert_int_equal(check(s, "sales", "describe", NULL, SEQ_CAT_READ, "policies-b"), SEQ_ACL_ALLOWED);
    assert_int_equal(check(s, "sales", "next", NULL, SEQ_CAT_ISSUE, "claims-a"), SEQ_ACL_NO_SEQUENCE);
    assert_int_equal(check(s, "sales", "drop", NULL, SEQ_CAT_ADMIN, "policies-a"), SEQ_ACL_NO_COMMAND);
    assert_int_equal(check(s, "sales", "void", NULL, SEQ_CAT_VOID, "policies-a"), SEQ_ACL_NO_COMMAND);
    assert_int_equal(check(s, "sales", "acl", "setuser", SEQ_CAT_ACL, NULL), SEQ_ACL_NO_COMMAND);
    seq_login_info li;
    seq_acl_login_info(s, "sales", 5, &li);
    assert_true(li.exists && li.enabled && !li.nopass);
    assert_int_equal(li.n_hashes, 1);
    assert_string_equal(li.hashes[0], HASH_A);
    /* off: nothing at all, whatever the rules */
    assert_int_equal(setuser(s, "sales", "off"), SEQ_OK);
    assert_int_equal(check(s, "sales", "next", NULL, SEQ_CAT_ISSUE, "policies-a"), SEQ_ACL_NO_USER);
    /* a new user starts with no rights: off, no keys, no commands */
    assert_int_equal(setuser(s, "blank", ""), SEQ_OK);
    assert_int_equal(check(s, "blank", "ping", NULL, SEQ_CAT_READ, NULL), SEQ_ACL_NO_USER);
    assert_int_equal(setuser(s, "blank", "on"), SEQ_OK);
    assert_int_equal(check(s, "blank", "list", NULL, SEQ_CAT_READ, NULL), SEQ_ACL_NO_COMMAND);
    assert_int_equal(setuser(s, "blank", "+@read"), SEQ_OK);
    assert_int_equal(check(s, "blank", "list", NULL, SEQ_CAT_READ, NULL), SEQ_ACL_ALLOWED);
    assert_int_equal(check(s, "blank", "describe", NULL, SEQ_CAT_READ, "a"), SEQ_ACL_NO_SEQUENCE);
    seq_state_free(s);
}

static void test_rules_apply_in_order_last_match_decides(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    assert_int_equal(setuser(s, "ops", "on nopass allkeys +@all -drop"), SEQ_OK);
    assert_int_equal(check(s, "ops", "drop", NULL, SEQ_CAT_ADMIN, "a"), SEQ_ACL_NO_COMMAND);
    assert_int_equal(check(s, "ops", "create", NULL, SEQ_CAT_ADMIN, "a"), SEQ_ACL_ALLOWED);
    /* a category after the command rule overrides it */
    assert_int_equal(setuser(s, "ops", "+@admin"), SEQ_OK);
    assert_int_equal(check(s, "ops", "drop", NULL, SEQ_CAT_ADMIN, "a"), SEQ_ACL_ALLOWED);
    /* subcommands */
    assert_int_equal(setuser(s, "mon", "on nopass -@all +cluster|nodes"), SEQ_OK);
    assert_int_equal(check(s, "mon", "cluster", "nodes", SEQ_CAT_CLUSTER, NULL), SEQ_ACL_ALLOWED);
    assert_int_equal(check(s, "mon", "cluster", "add", SEQ_CAT_CLUSTER, NULL), SEQ_ACL_NO_COMMAND);
    assert_int_equal(setuser(s, "mon", "+@cluster -cluster|add"), SEQ_OK);
    assert_int_equal(check(s, "mon", "cluster", "remove", SEQ_CAT_CLUSTER, NULL), SEQ_ACL_ALLOWED);
    assert_int_equal(check(s, "mon", "cluster", "add", SEQ_CAT_CLUSTER, NULL), SEQ_ACL_NO_COMMAND);
    /* nocommands forgets everything before it; words are case-insensitive */
    assert_int_equal(setuser(s, "mon", "NOCOMMANDS +NEXT"), SEQ_OK);
    assert_int_equal(check(s, "mon", "cluster", "remove", SEQ_CAT_CLUSTER, NULL), SEQ_ACL_NO_COMMAND);
    assert_int_equal(check(s, "mon", "next", NULL, SEQ_CAT_ISSUE, NULL), SEQ_ACL_ALLOWED);
    char rules[1024];
    getuser(s, "mon", rules, sizeof(rules));
    assert_string_equal(rules, "on nopass -@all +next");
    seq_state_free(s);
}

static void test_patterns_are_globs(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    assert_int_equal(setuser(s, "u", "on nopass +@all ~inv-20[0-9][0-9] ~a?c"), SEQ_OK);
    assert_int_equal(check(s, "u", "next", NULL, SEQ_CAT_ISSUE, "inv-2026"), SEQ_ACL_ALLOWED);
    assert_int_equal(check(s, "u", "next", NULL, SEQ_CAT_ISSUE, "inv-2x26"), SEQ_ACL_NO_SEQUENCE);
    assert_int_equal(check(s, "u", "next", NULL, SEQ_CAT_ISSUE, "abc"), SEQ_ACL_ALLOWED);
    assert_int_equal(check(s, "u", "next", NULL, SEQ_CAT_ISSUE, "abbc"), SEQ_ACL_NO_SEQUENCE);
    assert_int_equal(setuser(s, "u", "resetkeys"), SEQ_OK);
    assert_int_equal(check(s, "u", "next", NULL, SEQ_CAT_ISSUE, "abc"), SEQ_ACL_NO_SEQUENCE);
    assert_int_equal(setuser(s, "u", "allkeys"), SEQ_OK);
    assert_int_equal(check(s, "u", "next", NULL, SEQ_CAT_ISSUE, "anything"), SEQ_ACL_ALLOWED);
    /* a name longer than any sequence's matches nothing (no overflow) */
    char long_name[400];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(check(s, "u", "next", NULL, SEQ_CAT_ISSUE, long_name), SEQ_ACL_NO_SEQUENCE);
    seq_state_free(s);
}

static void test_setuser_is_all_or_nothing_and_never_takes_a_password(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    assert_int_equal(setuser(s, "u", "on #" HASH_A " ~a +next"), SEQ_OK);
    char before[1024], after[1024];
    getuser(s, "u", before, sizeof(before));
    const char *bad[] = {
        "off >secret",        /* a password in clear never enters the state */
        "off <secret",
        "off +@nosuch",       /* no such category */
        "off +ne xt",         /* (two rules: "+ne" then "xt") */
        "off  ~b",            /* an empty rule */
        "off ~",              /* an empty pattern */
        "off !" HASH_B,       /* removing a hash it does not have */
        "off +next|a|b",
        "off #",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(setuser(s, "u", bad[i]), SEQ_ERR_ACL_RULE);
        getuser(s, "u", after, sizeof(after));
        assert_string_equal(after, before); /* "off" did not apply either */
    }
    assert_int_equal(setuser(s, "bad name", "on"), SEQ_ERR_USER);
    char name[80];
    memset(name, 'n', 65);
    name[65] = '\0';
    assert_int_equal(setuser(s, name, "on"), SEQ_ERR_USER);
    name[64] = '\0';
    assert_int_equal(setuser(s, name, "on"), SEQ_OK);
    seq_state_free(s);
}

static void test_limits_and_compaction(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    /* a thousand changes of the same rules leave a bounded user */
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(setuser(s, "u", i % 2 ? "+next -drop ~p +@read" : "-next +drop ~p -@read"), SEQ_OK);
    }
    char rules[4096];
    getuser(s, "u", rules, sizeof(rules));
    assert_string_equal(rules, "off ~p -@all +next -drop +@read");
    /* SEQ_ACL_HASHES_MAX hashes, then no more */
    for (int i = 0; i < SEQ_ACL_HASHES_MAX; i++) {
        char rule[128];
        snprintf(rule, sizeof(rule), "#h%02d", i);
        assert_int_equal(setuser(s, "u", rule), SEQ_OK);
    }
    assert_int_equal(setuser(s, "u", "#one-too-many"), SEQ_ERR_TOO_MANY);
    assert_int_equal(setuser(s, "u", "#h03"), SEQ_OK); /* one it has: no change */
    assert_int_equal(setuser(s, "u", "nopass"), SEQ_OK);
    seq_login_info li;
    seq_acl_login_info(s, "u", 1, &li);
    assert_true(li.nopass);
    assert_int_equal(li.n_hashes, 0);
    assert_int_equal(setuser(s, "u", "resetkeys"), SEQ_OK);
    for (int i = 0; i < SEQ_ACL_PATTERNS_MAX; i++) {
        char rule[32];
        snprintf(rule, sizeof(rule), "~p%d", i);
        assert_int_equal(setuser(s, "u", rule), SEQ_OK);
    }
    assert_int_equal(setuser(s, "u", "~p-one-too-many"), SEQ_ERR_TOO_MANY);
    seq_state_free(s);
}

static void test_deluser_and_lists(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    assert_int_equal(setuser(s, "zed", "on nopass"), SEQ_OK);
    assert_int_equal(setuser(s, "alice", "on #" HASH_A " ~a* +@issue"), SEQ_OK);
    seq_cmd list = {.op = SEQ_OP_ACL_LIST};
    seq_result r;
    assert_int_equal(seq_apply(s, &list, &r), SEQ_OK);
    assert_int_equal(r.n_names, 3);
    assert_string_equal(r.names[0], "user alice on #" HASH_A " ~a* -@all +@issue");
    assert_string_equal(r.names[1], "user default on nopass ~* +@all");
    assert_string_equal(r.names[2], "user zed on nopass -@all");
    seq_result_free(&r);
    const char *del_default = "zed default";
    seq_cmd del = {.op = SEQ_OP_ACL_DELUSER, .text = del_default, .text_len = strlen(del_default)};
    assert_int_equal(seq_apply(s, &del, &r), SEQ_ERR_ACL_DEFAULT);
    seq_result_free(&r);
    assert_int_equal(check(s, "zed", "next", NULL, SEQ_CAT_ISSUE, NULL), SEQ_ACL_NO_COMMAND);
    const char *names = "zed nobody alice";
    del.text = names;
    del.text_len = strlen(names);
    assert_int_equal(seq_apply(s, &del, &r), SEQ_OK);
    assert_int_equal(r.issued, 2);
    seq_result_free(&r);
    seq_cmd users = {.op = SEQ_OP_ACL_USERS};
    assert_int_equal(seq_apply(s, &users, &r), SEQ_OK);
    assert_int_equal(r.n_names, 1);
    assert_string_equal(r.names[0], "default");
    seq_result_free(&r);
    seq_cmd get = {.op = SEQ_OP_ACL_GETUSER, .name = "alice", .name_len = 5};
    assert_int_equal(seq_apply(s, &get, &r), SEQ_ERR_NOUSER);
    seq_result_free(&r);
    seq_state_free(s);
}

static void test_seed_applies_only_until_default_is_set(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    assert_int_equal(setuser_seed(s, "default", "resetpass #" HASH_A, true), SEQ_OK);
    assert_true(seq_acl_default_set(s));
    seq_login_info li;
    seq_acl_login_info(s, "default", 7, &li);
    assert_true(!li.nopass && li.n_hashes == 1);
    /* a second seed (another node's file, a restart with another one) is ignored */
    assert_int_equal(setuser_seed(s, "default", "resetpass #" HASH_B, true), SEQ_OK);
    seq_acl_login_info(s, "default", 7, &li);
    assert_string_equal(li.hashes[0], HASH_A);
    /* ... and so is a seed after an operator's own SETUSER default */
    seq_state *t = seq_state_new();
    assert_int_equal(setuser(t, "default", "nopass"), SEQ_OK);
    assert_int_equal(setuser_seed(t, "default", "resetpass #" HASH_B, true), SEQ_OK);
    seq_acl_login_info(t, "default", 7, &li);
    assert_true(li.nopass);
    /* a seed names only the default user */
    assert_int_equal(setuser_seed(t, "other", "on nopass", true), SEQ_OK);
    assert_int_equal(check(t, "other", "ping", NULL, SEQ_CAT_READ, NULL), SEQ_ACL_NO_USER);
    seq_state_free(t);
    seq_state_free(s);
}

static void test_users_survive_a_snapshot_byte_for_byte(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    assert_int_equal(setuser(s, "alice", "on #" HASH_A " #" HASH_B " ~a* ~b +@issue -next +cluster|nodes"), SEQ_OK);
    assert_int_equal(setuser(s, "default", "resetpass #" HASH_B), SEQ_OK);
    assert_int_equal(setuser(s, "bob", "off nopass"), SEQ_OK);
    assert_int_equal(setuser(s, "bot", "off"), SEQ_OK);
    size_t len = 0;
    void *bytes = seq_snapshot_encode(s, &len);
    assert_non_null(bytes);
    seq_state *t = seq_snapshot_decode(bytes, len);
    assert_non_null(t);
    assert_true(seq_acl_default_set(t));
    assert_int_equal(check(t, "alice", "reserve", NULL, SEQ_CAT_ISSUE, "a1"), SEQ_ACL_ALLOWED);
    assert_int_equal(check(t, "alice", "next", NULL, SEQ_CAT_ISSUE, "a1"), SEQ_ACL_NO_COMMAND);
    assert_int_equal(check(t, "bob", "list", NULL, SEQ_CAT_READ, NULL), SEQ_ACL_NO_USER);
    char a[1024], b[1024];
    getuser(s, "alice", a, sizeof(a));
    getuser(t, "alice", b, sizeof(b));
    assert_string_equal(a, b);
    size_t len2 = 0;
    void *again = seq_snapshot_encode(t, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(bytes, again, len);
    free(again);
    /* every truncation is refused */
    for (size_t cut = 0; cut < len; cut += 7) {
        assert_null(seq_snapshot_decode(bytes, cut));
    }
    /* a name twice ("bot" renamed "bob"), or no default user ("defaulx"):
     * refused */
    uint8_t *copy = malloc(len);
    memcpy(copy, bytes, len);
    uint8_t *bot = memmem(copy, len, "\003bot", 4);
    assert_non_null(bot);
    bot[3] = 'b';
    assert_null(seq_snapshot_decode(copy, len));
    memcpy(copy, bytes, len);
    uint8_t *dflt = memmem(copy, len, "\007default", 8);
    assert_non_null(dflt);
    dflt[7] = 'x';
    assert_null(seq_snapshot_decode(copy, len));
    free(copy);
    free(bytes);
    seq_state_free(t);
    seq_state_free(s);
}

static void test_codec_carries_acl_ops_and_who_asked(void **state)
{
    (void)state;
    const char *rules = "on #" HASH_A " ~p* +@issue";
    seq_cmd c = {.op = SEQ_OP_ACL_SETUSER, .name = "sales", .name_len = 5, .text = rules,
                 .text_len = strlen(rules), .has_start = true, .user = "admin", .user_len = 5};
    uint8_t buf[1024];
    seq_writer w = {buf, 0, sizeof(buf), false};
    codec_put_cmd(&w, &c);
    assert_int_equal(w.len, codec_cmd_size(&c));
    seq_reader r = {buf, w.len, 0, false};
    seq_cmd d;
    assert_int_equal(codec_get_cmd(&r, &d), 0);
    assert_int_equal(r.pos, w.len);
    assert_int_equal(d.op, SEQ_OP_ACL_SETUSER);
    assert_true(d.has_start);
    assert_int_equal(d.text_len, strlen(rules));
    assert_memory_equal(d.text, rules, d.text_len);
    assert_int_equal(d.user_len, 5);
    assert_memory_equal(d.user, "admin", 5);
    /* an invalid user name in an entry is refused */
    buf[1 + 2 + 5 + 1] = ' ';
    seq_reader bad = {buf, w.len, 0, false};
    assert_int_equal(codec_get_cmd(&bad, &d), -1);
    /* without a user the op byte has no 0x40 */
    seq_cmd n = {.op = SEQ_OP_NEXT, .name = "a", .name_len = 1, .count = 1};
    seq_writer w2 = {buf, 0, sizeof(buf), false};
    codec_put_cmd(&w2, &n);
    assert_int_equal(buf[0], SEQ_OP_NEXT);
    n.user = "u";
    n.user_len = 1;
    seq_writer w3 = {buf, 0, sizeof(buf), false};
    codec_put_cmd(&w3, &n);
    assert_int_equal(buf[0], SEQ_OP_NEXT | 0x40);
    assert_int_equal(w3.len, w2.len + 2);
}

/* Who voided a number is kept with it: LOOKUP and GAPS name the user, and
 * two neighbours voided alike by different users stay two runs. */
static void test_ledger_remembers_who(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    seq_tick(s, 1000, 60000);
    seq_cmd c = {.op = SEQ_OP_CREATE, .name = "a", .name_len = 1, .min = 1, .max = 100};
    seq_result r;
    assert_int_equal(seq_apply(s, &c, &r), SEQ_OK);
    seq_result_free(&r);
    seq_cmd n = {.op = SEQ_OP_NEXT, .name = "a", .name_len = 1, .count = 10};
    assert_int_equal(seq_apply(s, &n, &r), SEQ_OK);
    seq_result_free(&r);
    const char *users[] = {"alice", "alice", "bob", ""};
    for (int v = 4; v <= 7; v++) {
        seq_cmd vd = {.op = SEQ_OP_VOID, .name = "a", .name_len = 1, .min = v, .text = "torn",
                      .text_len = 4, .user = users[v - 4], .user_len = strlen(users[v - 4])};
        assert_int_equal(seq_apply(s, &vd, &r), SEQ_OK);
        seq_result_free(&r);
    }
    seq_cmd look = {.op = SEQ_OP_LOOKUP, .name = "a", .name_len = 1, .min = 6};
    assert_int_equal(seq_apply(s, &look, &r), SEQ_OK);
    assert_int_equal(r.state, SEQ_NUM_VOIDED);
    assert_string_equal(r.by, "bob");
    seq_result_free(&r);
    seq_cmd gaps = {.op = SEQ_OP_GAPS, .name = "a", .name_len = 1, .min = 1, .max = 100};
    assert_int_equal(seq_apply(s, &gaps, &r), SEQ_OK);
    assert_int_equal(r.n_ledger, 3); /* 4-5 alice, 6 bob, 7 the server's */
    assert_int_equal(r.ledger[0].first, 4);
    assert_int_equal(r.ledger[0].last, 5);
    assert_string_equal(r.ledger[0].by, "alice");
    assert_string_equal(r.ledger[1].by, "bob");
    assert_string_equal(r.ledger[2].by, "");
    seq_result_free(&r);
    /* and it survives a snapshot */
    size_t len = 0;
    void *bytes = seq_snapshot_encode(s, &len);
    seq_state *t = seq_snapshot_decode(bytes, len);
    assert_non_null(t);
    assert_int_equal(seq_apply(t, &look, &r), SEQ_OK);
    assert_string_equal(r.by, "bob");
    seq_result_free(&r);
    free(bytes);
    seq_state_free(t);
    seq_state_free(s);
}

/* An entry names a user only when it changes: five commands by alice,
 * alice, bob, the server and alice name it four times, and each decodes to
 * its own user. */
static void test_entry_names_a_user_once_per_run(void **state)
{
    (void)state;
    const char *users[] = {"alice", "alice", "bob", "", "alice"};
    uint8_t buf[1024];
    seq_writer w = {buf, 0, sizeof(buf), false};
    codec_by put = {.user_len = 0};
    size_t alone = 0;
    for (int i = 0; i < 5; i++) {
        seq_cmd c = {.op = SEQ_OP_NEXT, .name = "a", .name_len = 1, .count = 1,
                     .user = users[i], .user_len = strlen(users[i])};
        size_t need = codec_cmd_size_by(&c, &put);
        size_t before = w.len;
        codec_put_cmd_by(&w, &c, &put);
        assert_int_equal(w.len - before, need);
        alone += codec_cmd_size(&c);
    }
    assert_false(w.overflow);
    /* the second alice was not named (6 bytes saved); the server after bob
     * is named as nobody (1 byte spent) */
    assert_int_equal(alone - w.len, 6 - 1);
    seq_reader r = {buf, w.len, 0, false};
    codec_by get = {.user_len = 0};
    for (int i = 0; i < 5; i++) {
        seq_cmd d;
        assert_int_equal(codec_get_cmd_by(&r, &d, &get), 0);
        assert_int_equal(d.user_len, strlen(users[i]));
        if (d.user_len > 0) {
            assert_memory_equal(d.user, users[i], d.user_len);
        }
    }
    assert_int_equal(r.pos, w.len);
}

/* LIST shows a user only the names its patterns match. */
static void test_list_shows_only_what_a_user_may_touch(void **state)
{
    (void)state;
    seq_state *s = seq_state_new();
    const char *names[] = {"policies-a", "claims-b", "policies-c"};
    for (int i = 0; i < 3; i++) {
        seq_cmd c = {.op = SEQ_OP_CREATE, .name = names[i], .name_len = strlen(names[i]), .min = 1,
                     .max = 10};
        seq_result r;
        assert_int_equal(seq_apply(s, &c, &r), SEQ_OK);
        seq_result_free(&r);
    }
    assert_int_equal(setuser(s, "sales", "on nopass ~policies-* +@read"), SEQ_OK);
    const char *who[] = {"sales", "default", "", "gone"};
    size_t want[] = {2, 3, 3, 0};
    for (int i = 0; i < 4; i++) {
        seq_cmd l = {.op = SEQ_OP_LIST, .user = who[i], .user_len = strlen(who[i])};
        seq_result r;
        assert_int_equal(seq_apply(s, &l, &r), SEQ_OK);
        assert_int_equal(r.n_names, want[i]);
        if (i == 0) {
            assert_string_equal(r.names[0], "policies-a");
            assert_string_equal(r.names[1], "policies-c");
        }
        seq_result_free(&r);
    }
    seq_state_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_state_lets_default_do_everything),
        cmocka_unit_test(test_sales_issues_policies_and_nothing_else),
        cmocka_unit_test(test_rules_apply_in_order_last_match_decides),
        cmocka_unit_test(test_patterns_are_globs),
        cmocka_unit_test(test_setuser_is_all_or_nothing_and_never_takes_a_password),
        cmocka_unit_test(test_limits_and_compaction),
        cmocka_unit_test(test_deluser_and_lists),
        cmocka_unit_test(test_seed_applies_only_until_default_is_set),
        cmocka_unit_test(test_users_survive_a_snapshot_byte_for_byte),
        cmocka_unit_test(test_codec_carries_acl_ops_and_who_asked),
        cmocka_unit_test(test_ledger_remembers_who),
        cmocka_unit_test(test_entry_names_a_user_once_per_run),
        cmocka_unit_test(test_list_shows_only_what_a_user_may_touch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
