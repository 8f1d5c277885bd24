/* cmd_acl — ACL, as Redis 7 names it: SETUSER, DELUSER, GETUSER, LIST,
 * USERS through the log (so every node has the same users), WHOAMI, CAT
 * and GENPASS here.
 *
 * Keeps: a password never reaches the log, a reply or a log line — a
 * SETUSER with `>password` or `<password` is first made ready off the loop
 * (auth_hash: a new hash, or the hash the password matches), and only the
 * hashes are proposed; every rule is checked here first, so a mistake is
 * answered with the rule that is wrong, as Redis words it, and nothing
 * changes; the connection's later requests wait for such a SETUSER
 * (COMMAND_LANE_AUTH), so they see its effect. */
#include "commands_internal.h"

#include <assert.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "password.h"

bool cmd_acl_logged(const command_call *call)
{
    if (call->argc < 2) {
        return false;
    }
    const resp_arg *sub = &call->argv[1];
    return cmd_arg_is(sub, "SETUSER") || cmd_arg_is(sub, "DELUSER") ||
           cmd_arg_is(sub, "GETUSER") || cmd_arg_is(sub, "LIST") || cmd_arg_is(sub, "USERS");
}

static bool aclIsSecret(const resp_arg *a)
{
    return a->len > 0 && (a->ptr[0] == '>' || a->ptr[0] == '<');
}

bool cmd_acl_hashes(const command_call *call)
{
    if (call->argc < 4 || !cmd_arg_is(&call->argv[1], "SETUSER")) {
        return false;
    }
    for (size_t i = 3; i < call->argc; i++) {
        if (aclIsSecret(&call->argv[i])) {
            return true;
        }
    }
    return false;
}

/* A rule for an error message: printable, bounded, never a password. */
static void aclShown(const resp_arg *a, char *out, size_t cap)
{
    if (aclIsSecret(a)) {
        snprintf(out, cap, "%c<password>", a->ptr[0]);
        return;
    }
    size_t n = a->len < cap - 1 ? a->len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = a->ptr[i];
        out[i] = ch >= 0x20 && ch < 0x7f && ch != '\'' ? ch : '?';
    }
    out[n] = '\0';
}

static void aclRuleError(command_call *call, const resp_arg *rule, const char *why)
{
    char shown[80], msg[256];
    aclShown(rule, shown, sizeof(shown));
    snprintf(msg, sizeof(msg), "ERR Error in ACL SETUSER modifier '%s': %s", shown, why);
    cmd_error(call, msg);
}

/* Whether every rule of SETUSER (argv[3..]) is one seqd takes; else an
 * error reply naming the first that is not. */
static bool aclRulesValid(command_env *env, command_call *call, const seq_login_info *who)
{
    for (size_t i = 3; i < call->argc; i++) {
        const resp_arg *a = &call->argv[i];
        if (aclIsSecret(a)) {
            if (a->len - 1 > PASSWORD_MAX) {
                aclRuleError(call, a, "The password is too long");
                return false;
            }
            continue;
        }
        int kind = seq_acl_token_kind(a->ptr, a->len);
        if (kind == SEQ_ACL_T_BAD) {
            bool named = a->len > 1 && (a->ptr[0] == '+' || a->ptr[0] == '-');
            aclRuleError(call, a, named ? "Unknown command or category name in ACL" : "Syntax error");
            return false;
        }
        if ((kind == SEQ_ACL_T_ALLOW_COMMAND || kind == SEQ_ACL_T_DENY_COMMAND) &&
            !commands_known(a->ptr + 1, a->len - 1)) {
            aclRuleError(call, a, "Unknown command or category name in ACL");
            return false;
        }
        if (kind == SEQ_ACL_T_HASH) {
            char hash[SEQ_ACL_TOKEN_MAX + 1];
            memcpy(hash, a->ptr + 1, a->len - 1);
            hash[a->len - 1] = '\0';
            if (!password_hash_valid(hash)) {
                aclRuleError(call, a, "The password hash must be a seqd scrypt hash, as ACL "
                                      "GETUSER shows it");
                return false;
            }
        }
        bool has = false;
        for (size_t k = 0; kind == SEQ_ACL_T_UNHASH && k < who->n_hashes; k++) {
            has = has || (strlen(who->hashes[k]) == a->len - 1 &&
                          memcmp(who->hashes[k], a->ptr + 1, a->len - 1) == 0);
        }
        if (kind == SEQ_ACL_T_UNHASH && !has) {
            aclRuleError(call, a, "The password you are trying to remove from the user does not exist");
            return false;
        }
    }
    (void)env;
    return true;
}

/* The rules joined by single spaces into text (cap SEQ_ACL_TEXT_MAX + 1);
 * false when they do not fit. */
static bool aclJoin(const resp_arg *rules, size_t n, char *text, size_t *len)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (at + (i > 0) + rules[i].len > SEQ_ACL_TEXT_MAX) {
            return false;
        }
        if (i > 0) {
            text[at++] = ' ';
        }
        memcpy(text + at, rules[i].ptr, rules[i].len);
        at += rules[i].len;
    }
    *len = at;
    return true;
}

/* Proposes SETUSER with argv (ACL SETUSER name rules..., none a password). */
static void aclProposeSetUser(command_env *env, command_call *call)
{
    static char text[SEQ_ACL_TEXT_MAX + 1]; /* the loop's thread only */
    size_t len = 0;
    if (!aclJoin(call->argv + 3, call->argc - 3, text, &len)) {
        cmd_error(call, "ERR ACL SETUSER rules too long (at most 16384 bytes)");
        return;
    }
    seq_cmd cmd = {.op = SEQ_OP_ACL_SETUSER, .name = call->argv[2].ptr, .name_len = call->argv[2].len,
                   .text = text, .text_len = len};
    cmd_submit(env, call, &cmd, STYLE_OK);
}

/* A SETUSER whose passwords are being hashed: what its reply needs, and
 * the rules with the secrets (copies, wiped once hashed). */
typedef struct acl_setuser {
    command_env *env;
    void *owner;
    uint64_t tag;
    command_client *client; /* lives while the reply is owed (the connection's refs) */
    int proto;
    char user[SEQ_USER_MAX + 1]; /* who asked */
    bool provisional; /* ... taken as default while this node catches up (the leader decides) */
    size_t argc;
    resp_arg *argv;   /* ACL SETUSER name rules..., pointing into bytes */
    char *bytes;
    size_t n_secrets;
    size_t *secret_at; /* the argv index of each secret */
    auth_secret *secrets;
} acl_setuser;

static void aclSetUserFree(acl_setuser *j)
{
    free(j->bytes); /* its passwords were wiped by auth_hash */
    free(j->argv);
    free(j->secret_at);
    free(j->secrets);
    free(j);
}

static void aclHashed(void *ctx, bool ok)
{
    acl_setuser *j = ctx;
    resp_buf out;
    resp_buf_init(&out, 1 << 16);
    bool found = true;
    for (size_t i = 0; i < j->n_secrets; i++) {
        found = found && j->secrets[i].hash[0] != '\0';
    }
    if (!ok || !found) {
        resp_write_error(&out, !ok ? "ERR cannot hash the password (out of memory or randomness)"
                                   : "ERR Error in ACL SETUSER modifier '<<password>': The password "
                                     "you are trying to remove from the user does not exist");
        j->env->reply_raw(j->owner, j->tag, out.data, out.len);
        resp_buf_free(&out);
        aclSetUserFree(j);
        return;
    }
    /* each secret becomes #hash or !hash, kept in rules (one per secret) */
    char (*made)[SEQ_ACL_TOKEN_MAX + 2] = malloc(sizeof(*made) * j->n_secrets);
    assert(made != NULL);
    for (size_t i = 0; i < j->n_secrets; i++) {
        snprintf(made[i], sizeof(made[i]), "%c%s", j->secrets[i].find ? '!' : '#', j->secrets[i].hash);
        j->argv[j->secret_at[i]] = (resp_arg){made[i], strlen(made[i])};
    }
    command_call call = {
        .argc = j->argc, .argv = j->argv, .proto = j->proto, .owner = j->owner, .tag = j->tag,
        .out = &out, .client = j->client, .user = j->user, .user_len = strlen(j->user),
        .provisional = j->provisional};
    aclProposeSetUser(j->env, &call);
    if (!call.deferred) {
        j->env->reply_raw(j->owner, j->tag, out.data, out.len);
    }
    resp_buf_free(&out);
    free(made);
    aclSetUserFree(j);
}

/* Copies the call and hands its secrets to auth_hash; the reply comes
 * later (aclHashed). */
static void aclHashThenPropose(command_env *env, command_call *call, const seq_login_info *who)
{
    acl_setuser *j = calloc(1, sizeof(*j));
    size_t total = 0;
    for (size_t i = 0; i < call->argc; i++) {
        total += call->argv[i].len + 1;
        j->n_secrets += i >= 3 && aclIsSecret(&call->argv[i]) ? 1 : 0;
    }
    j->bytes = malloc(total);
    j->argv = calloc(call->argc, sizeof(resp_arg));
    j->secret_at = calloc(j->n_secrets, sizeof(size_t));
    j->secrets = calloc(j->n_secrets, sizeof(auth_secret));
    assert(j->bytes != NULL && j->argv != NULL && j->secret_at != NULL && j->secrets != NULL);
    size_t at = 0, k = 0;
    for (size_t i = 0; i < call->argc; i++) {
        memcpy(j->bytes + at, call->argv[i].ptr, call->argv[i].len);
        j->argv[i] = (resp_arg){j->bytes + at, call->argv[i].len};
        if (i >= 3 && aclIsSecret(&call->argv[i])) {
            j->secret_at[k] = i;
            j->secrets[k] = (auth_secret){.find = call->argv[i].ptr[0] == '<',
                                          .pw = j->bytes + at + 1,
                                          .len = call->argv[i].len - 1};
            k++;
        }
        at += call->argv[i].len + 1;
    }
    j->env = env;
    j->owner = call->owner;
    j->tag = call->tag;
    j->client = call->client;
    j->proto = call->proto;
    size_t ulen = call->user != NULL ? call->user_len : 0;
    memcpy(j->user, call->user, ulen);
    j->user[ulen] = '\0';
    j->provisional = call->provisional;
    j->argc = call->argc;
    call->deferred = true;
    call->off_log = true;
    call->style = STYLE_OK;
    auth_hash(env->auth, j->secrets, j->n_secrets, who, aclHashed, j);
}

static void aclSetUser(command_env *env, command_call *call)
{
    const resp_arg *name = &call->argv[2];
    if (!seq_user_valid(name->ptr, name->len)) {
        cmd_error(call, seq_status_text(SEQ_ERR_USER));
        return;
    }
    seq_login_info who;
    seq_acl_login_info(env->node->fsm.state, name->ptr, name->len, &who);
    if (!aclRulesValid(env, call, &who)) {
        return;
    }
    if (cmd_acl_hashes(call)) {
        if (!env->auth->started) {
            cmd_error(call, "ERR the server is shutting down");
            return;
        }
        aclHashThenPropose(env, call, &who);
        return;
    }
    aclProposeSetUser(env, call);
}

static void aclDelUser(command_env *env, command_call *call)
{
    static char text[SEQ_ACL_TEXT_MAX + 1];
    for (size_t i = 2; i < call->argc; i++) {
        if (!seq_user_valid(call->argv[i].ptr, call->argv[i].len)) {
            cmd_error(call, seq_status_text(SEQ_ERR_USER));
            return;
        }
        if (call->argv[i].len == strlen(AUTH_USER_DEFAULT) &&
            memcmp(call->argv[i].ptr, AUTH_USER_DEFAULT, call->argv[i].len) == 0) {
            cmd_error(call, seq_status_text(SEQ_ERR_ACL_DEFAULT));
            return;
        }
    }
    size_t len = 0;
    if (!aclJoin(call->argv + 2, call->argc - 2, text, &len)) {
        cmd_error(call, "ERR too many users at once");
        return;
    }
    seq_cmd cmd = {.op = SEQ_OP_ACL_DELUSER, .text = text, .text_len = len};
    cmd_submit(env, call, &cmd, STYLE_COUNT);
}

static void aclCat(command_call *call)
{
    static const char *const names[] = {"read", "issue", "void", "admin", "cluster", "acl"};
    if (call->argc == 2) {
        resp_write_array(call->out, 6);
        for (size_t i = 0; i < 6; i++) {
            resp_write_cstr(call->out, names[i]);
        }
        return;
    }
    const resp_arg *a = &call->argv[2];
    unsigned cat = seq_acl_category_named(a->ptr, a->len);
    if (cat == 0 || cat == SEQ_CAT_ALL) {
        char shown[64];
        aclShown(a, shown, sizeof(shown));
        cmd_errorf(call, "ERR Unknown category '%s'", shown);
        return;
    }
    const char *cmds[64];
    size_t n = commands_of_category(cat, cmds, 64);
    resp_write_array(call->out, n);
    for (size_t i = 0; i < n; i++) {
        resp_write_cstr(call->out, cmds[i]);
    }
}

/* ACL GENPASS [bits]: a random password, as hex (256 bits unless asked). */
static void aclGenPass(command_call *call)
{
    int64_t bits = 256;
    if (call->argc == 3 && (!cmd_parse_i64(&call->argv[2], &bits) || bits < 1 || bits > 4096)) {
        cmd_error(call, "ERR ACL GENPASS argument must be the number of bits for the output "
                        "password, a positive number up to 4096");
        return;
    }
    size_t hex_len = (size_t)(bits + 3) / 4;
    uint8_t raw[512];
    char hex[1025];
    if (getrandom(raw, (hex_len + 1) / 2, 0) != (ssize_t)((hex_len + 1) / 2)) {
        cmd_error(call, "ERR no randomness");
        return;
    }
    for (size_t i = 0; i < hex_len; i++) {
        hex[i] = "0123456789abcdef"[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    }
    resp_write_bulk(call->out, hex, hex_len);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(hex, sizeof(hex));
}

/* ACL DRYRUN user command [arg ...], as Redis 7: +OK, or why not. */
static void aclDryRun(command_env *env, command_call *call)
{
    const resp_arg *user = &call->argv[2];
    char shown[80];
    aclShown(user, shown, sizeof(shown));
    seq_login_info who;
    if (!seq_user_valid(user->ptr, user->len) ||
        (seq_acl_login_info(env->node->fsm.state, user->ptr, user->len, &who), !who.exists)) {
        cmd_errorf(call, "ERR User '%s' not found", shown);
        return;
    }
    char why[SEQ_NAME_MAX + SEQ_ACL_COMMAND_MAX + 80];
    if (commands_dry_run(env, user, call->argv + 3, call->argc - 3, why, sizeof(why))) {
        resp_write_simple(call->out, "OK");
    } else if (strcmp(why, "unknown") == 0) {
        aclShown(&call->argv[3], shown, sizeof(shown));
        cmd_errorf(call, "ERR Command '%s' not found", shown);
    } else {
        why[0] = why[0] >= 'a' && why[0] <= 'z' ? (char)(why[0] - 'a' + 'A') : why[0];
        resp_write_bulk(call->out, why, strlen(why)); /* "This user has no permissions ..." */
    }
}

void aclCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 2); /* its row in command_table */
    const resp_arg *sub = &call->argv[1];
    if (cmd_arg_is(sub, "WHOAMI") && call->argc == 2) {
        resp_write_bulk(call->out, call->client->user, call->client->user_len);
    } else if (cmd_arg_is(sub, "SETUSER") && call->argc >= 3) {
        aclSetUser(env, call);
    } else if (cmd_arg_is(sub, "DELUSER") && call->argc >= 3) {
        aclDelUser(env, call);
    } else if (cmd_arg_is(sub, "GETUSER") && call->argc == 3) {
        if (!seq_user_valid(call->argv[2].ptr, call->argv[2].len)) {
            resp_write_null(call->out, call->proto);
            return;
        }
        seq_cmd cmd = {.op = SEQ_OP_ACL_GETUSER, .name = call->argv[2].ptr, .name_len = call->argv[2].len};
        cmd_submit(env, call, &cmd, STYLE_ACL_USER);
    } else if ((cmd_arg_is(sub, "LIST") || cmd_arg_is(sub, "USERS")) && call->argc == 2) {
        seq_cmd cmd = {.op = cmd_arg_is(sub, "LIST") ? SEQ_OP_ACL_LIST : SEQ_OP_ACL_USERS};
        cmd_submit(env, call, &cmd, STYLE_LIST);
    } else if (cmd_arg_is(sub, "DRYRUN") && call->argc >= 4) {
        aclDryRun(env, call);
    } else if (cmd_arg_is(sub, "CAT") && call->argc <= 3) {
        aclCat(call);
    } else if (cmd_arg_is(sub, "GENPASS") && call->argc <= 3) {
        aclGenPass(call);
    } else if ((cmd_arg_is(sub, "SAVE") || cmd_arg_is(sub, "LOAD")) && call->argc == 2) {
        cmd_error(call, "ERR seqd keeps its users in the replicated log, not in an ACL file: "
                        "there is nothing to save or load");
    } else {
        char shown[48];
        aclShown(sub, shown, sizeof(shown));
        cmd_errorf(call, "ERR unknown subcommand or wrong number of arguments for 'acl|%s'", shown);
    }
}
