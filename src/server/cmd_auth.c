/* cmd_auth — logging in: AUTH [user] password and HELLO [protover [AUTH
 * user password] [SETNAME name]], as Redis 7 answers them, so that every
 * Redis client logs in unchanged.
 *
 * Keeps: a login is checked off the loop (auth.c) and answered in its
 * turn; the connection's later requests wait for it (COMMAND_LANE_AUTH),
 * so none of them runs as the user it was before; a failed HELLO changes
 * neither the protocol nor the name. */
#include "commands_internal.h"

#include <assert.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."

/* HELLO's map: who this server is, in proto. */
static void helloReply(command_env *env, const command_client *client, int proto, resp_buf *out)
{
    resp_write_map(out, 7, proto);
    resp_write_cstr(out, "server");
    resp_write_cstr(out, "seqd");
    resp_write_cstr(out, "version");
    resp_write_cstr(out, SEQD_VERSION);
    resp_write_cstr(out, "proto");
    resp_write_int(out, proto);
    resp_write_cstr(out, "id");
    resp_write_int(out, (int64_t)client->id);
    resp_write_cstr(out, "mode");
    resp_write_cstr(out, "standalone");
    resp_write_cstr(out, "role");
    resp_write_cstr(out, node_is_leader(env->node) ? "master" : "replica");
    resp_write_cstr(out, "modules");
    resp_write_array(out, 0);
}

/* What HELLO asks for: the protocol, a login, a name. */
typedef struct hello_args {
    int proto;
    const resp_arg *user, *password, *name;
} hello_args;

static bool helloParse(command_call *call, hello_args *h)
{
    memset(h, 0, sizeof(*h));
    h->proto = call->proto;
    if (call->argc >= 2) {
        int64_t v;
        if (!cmd_parse_i64(&call->argv[1], &v)) {
            cmd_error(call, "ERR Protocol version is not an integer or out of range");
            return false;
        }
        if (v != 2 && v != 3) {
            cmd_error(call, "NOPROTO unsupported protocol version");
            return false;
        }
        h->proto = (int)v;
    }
    for (size_t i = 2; i < call->argc; i++) {
        if (cmd_arg_is(&call->argv[i], "SETNAME") && i + 1 < call->argc) {
            h->name = &call->argv[++i];
        } else if (cmd_arg_is(&call->argv[i], "AUTH") && i + 2 < call->argc) {
            h->user = &call->argv[i + 1];
            h->password = &call->argv[i + 2];
            i += 2;
        } else {
            char option[48];
            size_t n = call->argv[i].len < 40 ? call->argv[i].len : 40;
            for (size_t k = 0; k < n; k++) {
                char ch = call->argv[i].ptr[k];
                option[k] = ch >= 0x20 && ch < 0x7f && ch != '\'' ? ch : '?';
            }
            option[n] = '\0';
            cmd_errorf(call, "ERR Syntax error in HELLO option '%s'", option);
            return false;
        }
    }
    return true;
}

static void helloSetName(command_client *client, const resp_arg *name)
{
    size_t n = name->len < CLIENT_NAME_MAX ? name->len : CLIENT_NAME_MAX;
    memcpy(client->name, name->ptr, n);
    client->name[n] = '\0';
}

bool cmd_logs_in(command_env *env, const command_call *call)
{
    if (env->auth == NULL) {
        return false;
    }
    if (cmd_arg_is(&call->argv[0], "AUTH")) {
        return call->argc == 3 || (call->argc == 2 && auth_required(env->auth));
    }
    for (size_t i = 2; i + 2 < call->argc; i++) {
        if (cmd_arg_is(&call->argv[i], "AUTH")) {
            return true;
        }
    }
    return false;
}

/* A login on its way through auth_check (and, on a follower, first
 * through the leader's CLUSTER LOGININFO): where its answer goes. */
typedef struct login {
    forward_internal fwd; /* first: the forwarder's owner */
    command_env *env;
    void *owner;
    uint64_t tag;
    command_client *client; /* lives while the reply is owed (the connection's refs) */
    bool hello;
    char user[SEQ_USER_MAX + 1];
    int proto;
    bool has_name;
    resp_arg name;
    char name_bytes[CLIENT_NAME_MAX];
    unsigned delay_ms;
    size_t pw_len;
    char *pw; /* while the leader is asked: a copy, wiped once checked */
} login;

static void loginDone(void *ctx, bool ok)
{
    login *l = ctx;
    command_client *client = l->client;
    resp_buf out;
    resp_buf_init(&out, 1 << 16);
    if (!ok) {
        client->auth_failures++;
        resp_write_error(&out, WRONGPASS);
    } else {
        client->authenticated = true;
        client->auth_failures = 0;
        cmd_set_user(client, l->user, strlen(l->user));
        if (l->hello) {
            if (l->has_name) {
                helloSetName(client, &l->name);
            }
            client->proto_after_auth = l->proto;
            helloReply(l->env, client, l->proto, &out);
        } else {
            resp_write_simple(&out, "OK");
        }
    }
    l->env->reply_raw(l->owner, l->tag, out.data, out.len);
    resp_buf_free(&out);
    free(l);
}

/* The leader's CLUSTER LOGININFO reply into who; false when there is
 * none to use (no leader, an older leader, a malformed reply). */
static bool loginParseLeader(const char *reply, size_t len, seq_login_info *who, bool *default_set)
{
    resp_arg argv[4 + SEQ_ACL_HASHES_MAX];
    resp_request req = {.argv = argv, .argc = 0};
    resp_limits limits = {.args_max = 4 + SEQ_ACL_HASHES_MAX, .bulk_max = SEQ_ACL_TOKEN_MAX,
                          .inline_max = 0};
    size_t used = 0;
    const char *why = NULL;
    if (len == 0 || reply[0] != '*' ||
        resp_parse(&limits, reply, len, &req, &used, &why) != RESP_PARSE_OK || req.argc < 4) {
        return false;
    }
    memset(who, 0, sizeof(*who));
    who->exists = cmd_arg_is(&argv[0], "1");
    who->enabled = cmd_arg_is(&argv[1], "1");
    who->nopass = cmd_arg_is(&argv[2], "1");
    *default_set = cmd_arg_is(&argv[3], "1");
    for (size_t i = 4; i < req.argc; i++) {
        if (argv[i].len >= sizeof(who->hashes[0])) {
            return false;
        }
        memcpy(who->hashes[who->n_hashes], argv[i].ptr, argv[i].len);
        who->hashes[who->n_hashes][argv[i].len] = '\0';
        who->n_hashes++;
    }
    return true;
}

static void loginLeaderSaid(void *owner, uint64_t tag, const char *reply, size_t len, int err)
{
    (void)tag;
    login *l = (login *)owner; /* fwd is its first member */
    seq_login_info who;
    bool default_set = false;
    bool is_default = strcmp(l->user, AUTH_USER_DEFAULT) == 0;
    if (err != BATCH_OK || !loginParseLeader(reply, len, &who, &default_set) ||
        (is_default && !default_set && l->env->auth->has_file)) {
        /* what this node knows (and, before the seed, its own file says) */
        auth_login_info(l->env->auth, l->user, strlen(l->user), &who);
    }
    if (l->env->auth->started) {
        auth_check(l->env->auth, l->user, strlen(l->user), &who, l->pw, l->pw_len, l->delay_ms,
                   loginDone, l);
    } else {
        loginDone(l, false);
    }
    OPENSSL_cleanse(l->pw, l->pw_len);
    free(l->pw);
    l->pw = NULL;
}

/* Starts the check of user/password for call; its reply comes later. */
static void loginStart(command_env *env, command_call *call, const resp_arg *user,
                       const resp_arg *password, const hello_args *h)
{
    if (!env->auth->started) {
        cmd_error(call, "ERR the server is shutting down");
        return;
    }
    seq_login_info who;
    auth_login_info(env->auth, user->ptr, user->len, &who);
    login *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        cmd_error(call, "ERR out of memory");
        return;
    }
    l->env = env;
    l->owner = call->owner;
    l->tag = call->tag;
    l->client = call->client;
    l->hello = h != NULL;
    size_t ulen = user->len <= SEQ_USER_MAX ? user->len : 0; /* too long: no such user */
    memcpy(l->user, user->ptr, ulen);
    l->user[ulen] = '\0';
    if (ulen == 0) {
        who.exists = false;
    }
    if (h != NULL) {
        l->proto = h->proto;
        if (h->name != NULL) {
            size_t n = h->name->len < CLIENT_NAME_MAX ? h->name->len : CLIENT_NAME_MAX;
            memcpy(l->name_bytes, h->name->ptr, n);
            l->name = (resp_arg){l->name_bytes, n};
            l->has_name = true;
        }
    }
    call->deferred = true;
    call->off_log = true;
    l->delay_ms = auth_delay_ms(call->client->auth_failures + 1);
    if (env->forwarder != NULL && !node_is_leader(env->node) && ulen > 0 &&
        password->len <= PASSWORD_MAX) {
        /* a follower asks the leader, whose users are the newest: a user
         * made a moment ago through any node logs in here too */
        l->pw = malloc(password->len + 1);
        if (l->pw != NULL) {
            memcpy(l->pw, password->ptr, password->len);
            l->pw_len = password->len;
            l->fwd.done = loginLeaderSaid;
            resp_arg argv[3] = {{"CLUSTER", 7}, {"LOGININFO", 9}, {l->user, ulen}};
            forwarder_submit(env->forwarder, 2, argv, 3, &l->fwd, BATCH_TAG_INTERNAL, NULL, NULL);
            return;
        }
    }
    auth_check(env->auth, user->ptr, user->len, &who, password->ptr, password->len, l->delay_ms,
               loginDone, l);
}

void authCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 2); /* its row in command_table */
    if (call->argc > 3) {
        cmd_error(call, "ERR syntax error");
        return;
    }
    static const resp_arg default_user = {AUTH_USER_DEFAULT, sizeof(AUTH_USER_DEFAULT) - 1};
    const resp_arg *user = call->argc == 3 ? &call->argv[1] : &default_user;
    const resp_arg *password = &call->argv[call->argc - 1];
    if (call->argc == 2 && (env->auth == NULL || !auth_required(env->auth))) {
        /* as Redis without requirepass: AUTH <password> is a mistake */
        cmd_error(call, "ERR AUTH <password> called without any password configured for "
                        "the default user. Are you sure your configuration is correct?");
        return;
    }
    loginStart(env, call, user, password, NULL);
}

void helloCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 1); /* its row in command_table */
    hello_args h;
    if (!helloParse(call, &h)) {
        return;
    }
    if (h.user != NULL) {
        loginStart(env, call, h.user, h.password, &h);
        return;
    }
    if (!call->client->authenticated && !call->client->forward_link &&
        auth_need_of(env->auth) != AUTH_CATCHING_UP) {
        cmd_error(call, "NOAUTH HELLO must be called with the client already authenticated, "
                        "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                        "authenticate the client and select the RESP protocol version at the "
                        "same time");
        return;
    }
    if (h.name != NULL) {
        helloSetName(call->client, h.name);
    }
    call->new_proto = h.proto;
    helloReply(env, call->client, h.proto, call->out);
}
