/* commands — the command table and reply formatting (see commands.h). */
#include "commands.h"

#include "membership.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef void (*command_fn)(command_env *env, command_call *call);

typedef struct command_def {
    const char *name;
    int arity; /* as Redis: n = exactly n words, -n = at least n */
    command_fn fn;
    const char *flags; /* for COMMAND: "write", "readonly", "fast" ... */
} command_def;

static void reply_error(command_call *call, const char *msg)
{
    resp_write_error(call->out, msg);
}

static void reply_errorf(command_call *call, const char *fmt, const char *arg)
{
    char msg[256];
    snprintf(msg, sizeof(msg), fmt, arg);
    resp_write_error(call->out, msg);
}

static bool arg_is(const resp_arg *a, const char *word)
{
    size_t n = strlen(word);
    return a->len == n && strncasecmp(a->ptr, word, n) == 0;
}

/* Strict decimal int64: optional '-', digits, no spaces, no '+', no
 * overflow, no leading zeros beyond a lone "0". */
static bool parse_i64(const resp_arg *a, int64_t *out)
{
    const char *p = a->ptr;
    size_t n = a->len;
    bool neg = false;
    if (n == 0 || n > 20) {
        return false;
    }
    if (p[0] == '-') {
        neg = true;
        p++;
        n--;
        if (n == 0) {
            return false;
        }
    }
    if (n > 1 && p[0] == '0') {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) {
            return false;
        }
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
        return !(v == 0 && neg); /* "-0" is not a canonical integer */
    }
    if (v > (uint64_t)INT64_MAX) {
        return false;
    }
    *out = (int64_t)v;
    return true;
}

static const char err_integer[] = "ERR value is not an integer or out of range";

static bool take_name(command_call *call, const resp_arg *a, seq_cmd *cmd)
{
    if (!seq_name_valid(a->ptr, a->len)) {
        reply_error(call, seq_status_text(SEQ_ERR_NAME));
        return false;
    }
    cmd->name = a->ptr;
    cmd->name_len = a->len;
    return true;
}

/* True when the call must go to the leader: this node is not it, and the
 * request did not already come from another node's forwarder. */
static bool must_forward(command_env *env, const command_call *call)
{
    return env->forwarder != NULL && !call->client->forward_link && !node_is_leader(env->node);
}

static void forward(command_env *env, command_call *call)
{
    forwarder_submit(env->forwarder, call->proto, call->argv, call->argc, call->owner,
                     call->tag);
    call->deferred = true;
}

static void submit(command_env *env, command_call *call, const seq_cmd *cmd, uint8_t style)
{
    if (env->batcher->failed) {
        reply_error(call, "ERR this node hit a disk error and stopped serving");
        return;
    }
    if (env->shutting_down) {
        reply_error(call, "TRYAGAIN server is shutting down");
        return;
    }
    if (must_forward(env, call)) {
        forward(env, call);
        return;
    }
    batcher_submit(env->batcher, cmd, call->owner, call->tag);
    call->deferred = true;
    call->style = style;
}

/* ---- sequence commands ------------------------------------------------ */

static void createCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_CREATE};
    if (call->argc != 4 && call->argc != 6) {
        reply_error(call, "ERR syntax: CREATE name min max [START n]");
        return;
    }
    if (!take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (!parse_i64(&call->argv[2], &cmd.min) || !parse_i64(&call->argv[3], &cmd.max)) {
        reply_error(call, err_integer);
        return;
    }
    if (call->argc == 6) {
        if (!arg_is(&call->argv[4], "START")) {
            reply_error(call, "ERR syntax: CREATE name min max [START n]");
            return;
        }
        if (!parse_i64(&call->argv[5], &cmd.start)) {
            reply_error(call, err_integer);
            return;
        }
        cmd.has_start = true;
    }
    if (cmd.min > cmd.max || (cmd.has_start && (cmd.start < cmd.min || cmd.start > cmd.max))) {
        reply_error(call, seq_status_text(SEQ_ERR_RANGE));
        return;
    }
    submit(env, call, &cmd, STYLE_OK);
}

static void addrangeCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_ADDRANGE};
    if (!take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (!parse_i64(&call->argv[2], &cmd.min) || !parse_i64(&call->argv[3], &cmd.max)) {
        reply_error(call, err_integer);
        return;
    }
    if (cmd.min > cmd.max) {
        reply_error(call, seq_status_text(SEQ_ERR_RANGE));
        return;
    }
    submit(env, call, &cmd, STYLE_OK);
}

static void nextCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_NEXT, .count = 1};
    bool has_count = false, has_key = false;
    if (!take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    for (size_t i = 2; i < call->argc; i += 2) {
        if (i + 1 >= call->argc) {
            reply_error(call, "ERR syntax: NEXT name [COUNT k] [KEY key]");
            return;
        }
        const resp_arg *v = &call->argv[i + 1];
        if (arg_is(&call->argv[i], "COUNT") && !has_count) {
            int64_t k;
            if (!parse_i64(v, &k) || k < 1 || k > SEQ_COUNT_MAX) {
                reply_error(call, seq_status_text(SEQ_ERR_COUNT));
                return;
            }
            cmd.count = (uint32_t)k;
            has_count = true;
        } else if (arg_is(&call->argv[i], "KEY") && !has_key) {
            if (!seq_key_valid(v->ptr, v->len)) {
                reply_error(call, seq_status_text(SEQ_ERR_KEY));
                return;
            }
            cmd.key = v->ptr;
            cmd.key_len = v->len;
            has_key = true;
        } else {
            reply_error(call, "ERR syntax: NEXT name [COUNT k] [KEY key]");
            return;
        }
    }
    submit(env, call, &cmd, has_count ? STYLE_RUNS : STYLE_NUMBER);
}

static void incrCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_NEXT, .count = 1};
    if (take_name(call, &call->argv[1], &cmd)) {
        submit(env, call, &cmd, STYLE_NUMBER);
    }
}

/* INCRBY name 1, which Redis clients send for incr(name); any other step
 * would skip numbers, so it is refused. */
static void incrbyCommand(command_env *env, command_call *call)
{
    int64_t step;
    if (!parse_i64(&call->argv[2], &step)) {
        reply_error(call, err_integer);
        return;
    }
    if (step != 1) {
        reply_error(call, "ERR seqd increments by 1 only; use NEXT name COUNT k for blocks");
        return;
    }
    incrCommand(env, call);
}

static void describeCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_DESCRIBE};
    if (take_name(call, &call->argv[1], &cmd)) {
        submit(env, call, &cmd, STYLE_DESCRIBE);
    }
}

static void listCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_LIST};
    submit(env, call, &cmd, STYLE_LIST);
}

static void dropCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_DROP};
    if (take_name(call, &call->argv[1], &cmd)) {
        submit(env, call, &cmd, STYLE_OK);
    }
}

/* VOID name n reason: an issued number is cancelled (a spoiled document);
 * it stays in the ledger with its reason and is never issued again. */
static void voidCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_VOID};
    if (!take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (!parse_i64(&call->argv[2], &cmd.min)) {
        reply_error(call, err_integer);
        return;
    }
    const resp_arg *reason = &call->argv[3];
    bool ok = reason->len >= 1 && reason->len <= SEQ_REASON_MAX;
    for (size_t i = 0; ok && i < reason->len; i++) {
        ok = reason->ptr[i] >= 0x20 && reason->ptr[i] < 0x7f;
    }
    if (!ok) {
        reply_error(call, seq_status_text(SEQ_ERR_REASON));
        return;
    }
    cmd.text = reason->ptr;
    cmd.text_len = reason->len;
    submit(env, call, &cmd, STYLE_OK);
}

/* GAPS name [from to]: every number in the range that is not final. */
static void gapsCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_GAPS, .min = INT64_MIN, .max = INT64_MAX};
    if (call->argc != 2 && call->argc != 4) {
        reply_error(call, "ERR syntax: GAPS name [from to]");
        return;
    }
    if (!take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (call->argc == 4 &&
        (!parse_i64(&call->argv[2], &cmd.min) || !parse_i64(&call->argv[3], &cmd.max))) {
        reply_error(call, err_integer);
        return;
    }
    if (cmd.min > cmd.max) {
        reply_error(call, seq_status_text(SEQ_ERR_RANGE));
        return;
    }
    submit(env, call, &cmd, STYLE_GAPS);
}

/* LOOKUP name n: what the ledger says of one number.
 * LOOKUP name KEY k: the numbers that key got (while it is retained). */
static void lookupCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_LOOKUP};
    if (call->argc != 3 && call->argc != 4) {
        reply_error(call, "ERR syntax: LOOKUP name n | LOOKUP name KEY key");
        return;
    }
    if (!take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (call->argc == 4) {
        const resp_arg *key = &call->argv[3];
        if (!arg_is(&call->argv[2], "KEY")) {
            reply_error(call, "ERR syntax: LOOKUP name n | LOOKUP name KEY key");
            return;
        }
        if (!seq_key_valid(key->ptr, key->len)) {
            reply_error(call, seq_status_text(SEQ_ERR_KEY));
            return;
        }
        cmd.op = SEQ_OP_LOOKUP_KEY;
        cmd.key = key->ptr;
        cmd.key_len = key->len;
        submit(env, call, &cmd, STYLE_LOOKUP_KEY);
        return;
    }
    if (!parse_i64(&call->argv[2], &cmd.min)) {
        reply_error(call, err_integer);
        return;
    }
    submit(env, call, &cmd, STYLE_LOOKUP);
}

/* ---- connection and server commands ----------------------------------- */

static void pingCommand(command_env *env, command_call *call)
{
    (void)env;
    if (call->argc == 1) {
        resp_write_simple(call->out, "PONG");
    } else if (call->argc == 2) {
        resp_write_bulk(call->out, call->argv[1].ptr, call->argv[1].len);
    } else {
        reply_error(call, "ERR wrong number of arguments for 'ping' command");
    }
}

static void echoCommand(command_env *env, command_call *call)
{
    (void)env;
    resp_write_bulk(call->out, call->argv[1].ptr, call->argv[1].len);
}

static void quitCommand(command_env *env, command_call *call)
{
    (void)env;
    resp_write_simple(call->out, "OK");
    call->close = true;
}

static void selectCommand(command_env *env, command_call *call)
{
    (void)env;
    int64_t db;
    if (parse_i64(&call->argv[1], &db) && db == 0) {
        resp_write_simple(call->out, "OK");
    } else {
        reply_error(call, "ERR seqd has only database 0");
    }
}

static void helloCommand(command_env *env, command_call *call)
{
    int proto = call->proto;
    if (call->argc >= 2) {
        int64_t v;
        if (!parse_i64(&call->argv[1], &v)) {
            reply_error(call, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (v != 2 && v != 3) {
            reply_error(call, "NOPROTO unsupported protocol version");
            return;
        }
        proto = (int)v;
    }
    for (size_t i = 2; i < call->argc; i++) {
        if (arg_is(&call->argv[i], "SETNAME") && i + 1 < call->argc) {
            i++;
            size_t n = call->argv[i].len < CLIENT_NAME_MAX ? call->argv[i].len : CLIENT_NAME_MAX;
            memcpy(call->client->name, call->argv[i].ptr, n);
            call->client->name[n] = '\0';
        } else if (arg_is(&call->argv[i], "AUTH")) {
            reply_error(call, "ERR seqd has no authentication configured");
            return;
        } else {
            reply_error(call, "ERR syntax error in HELLO");
            return;
        }
    }
    call->new_proto = proto;
    resp_write_map(call->out, 7, proto);
    resp_write_cstr(call->out, "server");
    resp_write_cstr(call->out, "seqd");
    resp_write_cstr(call->out, "version");
    resp_write_cstr(call->out, SEQD_VERSION);
    resp_write_cstr(call->out, "proto");
    resp_write_int(call->out, proto);
    resp_write_cstr(call->out, "id");
    resp_write_int(call->out, (int64_t)call->client->id);
    resp_write_cstr(call->out, "mode");
    resp_write_cstr(call->out, "standalone");
    resp_write_cstr(call->out, "role");
    resp_write_cstr(call->out, node_is_leader(env->node) ? "master" : "replica");
    resp_write_cstr(call->out, "modules");
    resp_write_array(call->out, 0);
}

static void clientCommand(command_env *env, command_call *call)
{
    (void)env;
    const resp_arg *sub = &call->argv[1];
    if (arg_is(sub, "SETNAME") && call->argc == 3) {
        const resp_arg *name = &call->argv[2];
        bool ok = name->len <= CLIENT_NAME_MAX;
        for (size_t i = 0; ok && i < name->len; i++) {
            ok = name->ptr[i] > 0x20 && name->ptr[i] < 0x7f;
        }
        if (!ok) {
            reply_error(call, "ERR Client names cannot contain spaces, newlines or special "
                              "characters, and are at most 64 bytes");
            return;
        }
        memcpy(call->client->name, name->ptr, name->len);
        call->client->name[name->len] = '\0';
        call->client->forward_link = strcmp(call->client->name, FORWARD_CLIENT_NAME) == 0;
        resp_write_simple(call->out, "OK");
    } else if (arg_is(sub, "SETINFO") && call->argc == 4) {
        resp_write_simple(call->out, "OK");
    } else if (arg_is(sub, "GETNAME") && call->argc == 2) {
        if (call->client->name[0] == '\0') {
            resp_write_null(call->out, call->proto);
        } else {
            resp_write_cstr(call->out, call->client->name);
        }
    } else if (arg_is(sub, "ID") && call->argc == 2) {
        resp_write_int(call->out, (int64_t)call->client->id);
    } else {
        reply_error(call, "ERR CLIENT supports SETNAME name, GETNAME, SETINFO attr value and ID");
    }
}

static void configCommand(command_env *env, command_call *call)
{
    (void)env;
    if (arg_is(&call->argv[1], "GET") && call->argc == 3) {
        /* Nothing is settable at run time; clients such as redis-benchmark
         * only probe persistence, which in seqd is always on: every reply
         * follows an fsync of its log entry. */
        static const char *const known[][2] = {
            {"save", ""}, {"appendonly", "yes"}, {"appendfsync", "always"}};
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            if (arg_is(&call->argv[2], known[i][0])) {
                resp_write_map(call->out, 1, call->proto);
                resp_write_cstr(call->out, known[i][0]);
                resp_write_cstr(call->out, known[i][1]);
                return;
            }
        }
        resp_write_map(call->out, 0, call->proto);
    } else {
        reply_error(call, "ERR CONFIG supports only GET; seqd is configured by flags");
    }
}

/* ROLE: leader or follower, the term, and where the leader takes clients. */
static void roleCommand(command_env *env, command_call *call)
{
    bool leader = node_is_leader(env->node);
    char where[48];
    bool known = node_leader_client(env->node, where, sizeof(where));
    raft_id leader_id = 0;
    const char *leader_raft = NULL;
    raft_leader(&env->node->raft, &leader_id, &leader_raft);
    resp_write_array(call->out, 4);
    resp_write_cstr(call->out, leader ? "leader" : "follower");
    if (known) {
        resp_write_cstr(call->out, where);
    } else {
        resp_write_null(call->out, call->proto);
    }
    resp_write_int(call->out, (int64_t)raft_current_term(&env->node->raft));
    resp_write_int(call->out, (int64_t)leader_id);
}

static void membershipDone(void *ctx, void *owner, uint64_t tag, int status, const char *msg);

static void clusterNodes(command_env *env, command_call *call)
{
    const struct raft_configuration *c = &env->node->raft.configuration;
    raft_id leader_id = 0;
    const char *leader_raft = NULL;
    raft_leader(&env->node->raft, &leader_id, &leader_raft);
    resp_write_array(call->out, c->n);
    for (unsigned i = 0; i < c->n; i++) {
        const struct raft_server *srv = &c->servers[i];
        char client[48] = "";
        if (!node_client_address(env->node, srv->id, srv->address, client, sizeof(client))) {
            client[0] = '\0';
        }
        /* On the leader, how far each member's log is known to match: a
         * member that stops advancing (a full or failing disk) shows here. */
        raft_index match = 0;
        bool known = node_is_leader(env->node) &&
                     raft_match_index(&env->node->raft, srv->id, &match) == 0;
        resp_write_array(call->out, 6);
        resp_write_int(call->out, (int64_t)srv->id);
        resp_write_cstr(call->out, client);
        resp_write_cstr(call->out, srv->address);
        resp_write_cstr(call->out, membership_role_name(srv->role));
        resp_write_cstr(call->out, srv->id == leader_id ? "leader" : "follower");
        if (known) {
            resp_write_int(call->out, (int64_t)match);
        } else {
            resp_write_null(call->out, call->proto);
        }
    }
}

/* CLUSTER NODES | ADD a.b.c.d:port | REMOVE a.b.c.d:port */
static void clusterCommand(command_env *env, command_call *call)
{
    const resp_arg *sub = &call->argv[1];
    if (arg_is(sub, "NODES") && call->argc == 2) {
        clusterNodes(env, call);
        return;
    }
    bool add = arg_is(sub, "ADD");
    if ((!add && !arg_is(sub, "REMOVE")) || call->argc != 3) {
        reply_error(call, "ERR syntax: CLUSTER NODES | CLUSTER ADD a.b.c.d:port | CLUSTER "
                          "REMOVE a.b.c.d:port");
        return;
    }
    if (must_forward(env, call)) {
        forward(env, call);
        return;
    }
    if (!node_is_leader(env->node)) {
        reply_error(call, "TRYAGAIN this node is not the leader; retry");
        return;
    }
    char address[48];
    if (call->argv[2].len >= sizeof(address)) {
        reply_error(call, "ERR wants a.b.c.d:port");
        return;
    }
    memcpy(address, call->argv[2].ptr, call->argv[2].len);
    address[call->argv[2].len] = '\0';
    const char *msg = NULL;
    int rv = add ? membership_add(env->node, address, env, call->owner, call->tag, membershipDone,
                                    &msg)
                 : membership_remove(env->node, address, env, call->owner, call->tag,
                                       membershipDone, &msg);
    if (rv == RAFT_DUPLICATEID || rv == RAFT_NOTFOUND) {
        resp_write_simple(call->out, "OK"); /* already as asked */
    } else if (rv != 0) {
        char text[200];
        snprintf(text, sizeof(text), "%s%s", strncmp(msg, "ERR", 3) == 0 ? "" : "ERR ", msg);
        reply_error(call, text);
    } else {
        call->deferred = true;
    }
}

static void membershipDone(void *ctx, void *owner, uint64_t tag, int status, const char *msg)
{
    command_env *env = ctx;
    char text[256];
    int n;
    if (status == 0) {
        n = snprintf(text, sizeof(text), "+OK\r\n");
    } else {
        n = snprintf(text, sizeof(text), "-%s %s\r\n",
                     status == RAFT_LEADERSHIPLOST || status == RAFT_NOTLEADER ? "TRYAGAIN" : "ERR",
                     msg);
    }
    env->reply_raw(owner, tag, text, (size_t)n);
}

static void infoCommand(command_env *env, command_call *call);
static void commandCommand(command_env *env, command_call *call);

static const command_def command_table[] = {
    {"create", -4, createCommand, "write"},
    {"addrange", 4, addrangeCommand, "write"},
    {"next", -2, nextCommand, "write"},
    {"incr", 2, incrCommand, "write"},
    {"incrby", 3, incrbyCommand, "write"},
    {"describe", 2, describeCommand, "readonly"},
    {"list", 1, listCommand, "readonly"},
    {"drop", 2, dropCommand, "write"},
    {"void", 4, voidCommand, "write"},
    {"gaps", -2, gapsCommand, "readonly"},
    {"lookup", -3, lookupCommand, "readonly"},
    {"role", 1, roleCommand, "fast"},
    {"cluster", -2, clusterCommand, "admin"},
    {"ping", -1, pingCommand, "fast"},
    {"echo", 2, echoCommand, "fast"},
    {"quit", -1, quitCommand, "fast"},
    {"hello", -1, helloCommand, "fast"},
    {"select", 2, selectCommand, "fast"},
    {"client", -2, clientCommand, "fast"},
    {"config", -2, configCommand, "admin"},
    {"info", -1, infoCommand, "fast"},
    {"command", -1, commandCommand, "fast"},
};
#define COMMAND_COUNT (sizeof(command_table) / sizeof(command_table[0]))

static const command_def *commandLookup(const resp_arg *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (arg_is(name, command_table[i].name)) {
            return &command_table[i];
        }
    }
    return NULL;
}

static void commandInfoEntry(resp_buf *out, const command_def *d)
{
    int first_key = d->fn == createCommand || d->fn == addrangeCommand || d->fn == nextCommand ||
                    d->fn == incrCommand || d->fn == incrbyCommand || d->fn == describeCommand ||
                    d->fn == dropCommand || d->fn == voidCommand || d->fn == gapsCommand ||
                    d->fn == lookupCommand;
    resp_write_array(out, 6);
    resp_write_cstr(out, d->name);
    resp_write_int(out, d->arity);
    resp_write_array(out, 1);
    resp_write_simple(out, d->flags);
    resp_write_int(out, first_key);
    resp_write_int(out, first_key);
    resp_write_int(out, first_key);
}

static void commandCommand(command_env *env, command_call *call)
{
    (void)env;
    if (call->argc == 1) {
        resp_write_array(call->out, COMMAND_COUNT);
        for (size_t i = 0; i < COMMAND_COUNT; i++) {
            commandInfoEntry(call->out, &command_table[i]);
        }
    } else if (arg_is(&call->argv[1], "COUNT")) {
        resp_write_int(call->out, COMMAND_COUNT);
    } else if (arg_is(&call->argv[1], "DOCS")) {
        resp_write_map(call->out, 0, call->proto); /* no docs: clients fall back */
    } else if (arg_is(&call->argv[1], "INFO")) {
        resp_write_array(call->out, call->argc - 2);
        for (size_t i = 2; i < call->argc; i++) {
            const command_def *d = commandLookup(&call->argv[i]);
            if (d != NULL) {
                commandInfoEntry(call->out, d);
            } else {
                resp_write_null(call->out, call->proto);
            }
        }
    } else if (arg_is(&call->argv[1], "LIST")) {
        resp_write_array(call->out, COMMAND_COUNT);
        for (size_t i = 0; i < COMMAND_COUNT; i++) {
            resp_write_cstr(call->out, command_table[i].name);
        }
    } else {
        reply_error(call, "ERR COMMAND supports COUNT, DOCS, INFO and LIST");
    }
}

static bool infoWants(const command_call *call, const char *section)
{
    if (call->argc < 2) {
        return true;
    }
    for (size_t i = 1; i < call->argc; i++) {
        if (arg_is(&call->argv[i], section) || arg_is(&call->argv[i], "all") ||
            arg_is(&call->argv[i], "everything") || arg_is(&call->argv[i], "default")) {
            return true;
        }
    }
    return false;
}

static void infoCommand(command_env *env, command_call *call)
{
    char text[4096];
    size_t n = 0;
    const server_stats *st = env->stats;
    struct raft *r = &env->node->raft;
    const fsm *f = &env->node->fsm;
#define INFO_ADD(...)                                                          \
    do {                                                                       \
        int w = snprintf(text + n, sizeof(text) - n, __VA_ARGS__);             \
        if (w > 0) {                                                           \
            n += (size_t)w < sizeof(text) - n ? (size_t)w : sizeof(text) - n - 1; \
        }                                                                      \
    } while (0)
    uv_loop_t *loop = env->batcher->loop;
    if (infoWants(call, "server")) {
        INFO_ADD("# Server\r\nseqd_version:%s\r\nprocess_id:%d\r\ntcp_port:%d\r\n"
                 "raft_port:%d\r\nuptime_in_seconds:%llu\r\n\r\n",
                 SEQD_VERSION, (int)getpid(), env->cfg->port, env->cfg->raft_port,
                 (unsigned long long)((uv_now(loop) - st->start_ms) / 1000));
    }
    if (infoWants(call, "clients")) {
        INFO_ADD("# Clients\r\nconnected_clients:%llu\r\nmaxclients:%zu\r\n\r\n",
                 (unsigned long long)st->connected_clients, env->cfg->max_clients);
    }
    if (infoWants(call, "raft")) {
        char leader_at[48] = "";
        if (!node_leader_client(env->node, leader_at, sizeof(leader_at))) {
            leader_at[0] = '\0';
        }
        INFO_ADD("# Cluster\r\ncluster_enabled:%d\r\nmembers:%u\r\nleader_client_address:%s\r\n"
                 "forwarded_requests:%llu\r\n\r\n",
                 env->forwarder != NULL ? 1 : 0, env->node->raft.configuration.n, leader_at,
                 (unsigned long long)(env->forwarder != NULL ? env->forwarder->forwarded : 0));
        INFO_ADD("# Raft\r\nrole:%s\r\nnode_id:%llu\r\nraft_term:%llu\r\n"
                 "raft_commit_index:%llu\r\nraft_last_applied:%llu\r\nraft_last_index:%llu\r\n"
                 "snapshot_threshold:%u\r\nentries_in_flight:%zu\r\nfailed:%d\r\n\r\n",
                 node_is_leader(env->node) ? "leader" : "follower",
                 (unsigned long long)env->node->id, (unsigned long long)raft_current_term(r),
                 (unsigned long long)raft_commit_index(r),
                 (unsigned long long)raft_last_applied(r), (unsigned long long)raft_last_index(r),
                 env->cfg->snapshot_threshold, env->batcher->n_inflight,
                 env->batcher->failed ? 1 : 0);
    }
    if (infoWants(call, "stats")) {
        INFO_ADD("# Stats\r\ntotal_connections_received:%llu\r\nrejected_connections:%llu\r\n"
                 "total_commands_processed:%llu\r\nprotocol_errors:%llu\r\n"
                 "output_limit_drops:%llu\r\nlog_entries_proposed:%llu\r\n"
                 "log_commands_proposed:%llu\r\nlog_entries_applied:%llu\r\n"
                 "numbers_issued:%llu\r\n\r\n",
                 (unsigned long long)st->total_connections,
                 (unsigned long long)st->rejected_connections,
                 (unsigned long long)st->total_commands, (unsigned long long)st->protocol_errors,
                 (unsigned long long)st->output_limit_drops,
                 (unsigned long long)env->batcher->entries_proposed,
                 (unsigned long long)env->batcher->commands_proposed,
                 (unsigned long long)f->entries_applied, (unsigned long long)f->numbers_issued);
    }
    if (infoWants(call, "keyspace") && f->state != NULL) {
        INFO_ADD("# Keyspace\r\nsequences:%zu\r\nidempotency_keys:%zu\r\nmax_keys:%zu\r\n"
                 "key_retention_seconds:%lld\r\n\r\n",
                 seq_count_live(f->state), seq_count_keys(f->state), env->cfg->max_keys,
                 (long long)(env->cfg->key_retention_ms / 1000));
    }
#undef INFO_ADD
    resp_write_bulk(call->out, text, n);
}

void commands_dispatch(command_env *env, command_call *call)
{
    env->stats->total_commands++;
    const command_def *d = commandLookup(&call->argv[0]);
    if (d == NULL) {
        char name[64];
        size_t len = call->argv[0].len < 40 ? call->argv[0].len : 40;
        for (size_t i = 0; i < len; i++) {
            char ch = call->argv[0].ptr[i];
            name[i] = ch >= 0x20 && ch < 0x7f && ch != '\'' ? ch : '?';
        }
        name[len] = '\0';
        reply_errorf(call, "ERR unknown command '%s'", name);
        return;
    }
    if ((d->arity > 0 && call->argc != (size_t)d->arity) ||
        (d->arity < 0 && call->argc < (size_t)-d->arity)) {
        reply_errorf(call, "ERR wrong number of arguments for '%s' command", d->name);
        return;
    }
    d->fn(env, call);
}

static void write_u64(resp_buf *out, uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX) {
        resp_write_int(out, (int64_t)v);
    } else {
        char text[24];
        int n = snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
        resp_write_bulk(out, text, (size_t)n);
    }
}

static void format_describe(const seq_result *res, int proto, resp_buf *out)
{
    resp_write_map(out, 5, proto);
    resp_write_cstr(out, "name");
    resp_write_bulk(out, res->name, res->name_len);
    resp_write_cstr(out, "ranges");
    resp_write_array(out, res->n_ranges);
    for (size_t i = 0; i < res->n_ranges; i++) {
        resp_write_array(out, 2);
        resp_write_int(out, res->ranges[i].min);
        resp_write_int(out, res->ranges[i].max);
    }
    resp_write_cstr(out, "next");
    if (res->has_next) {
        resp_write_int(out, res->next);
    } else {
        resp_write_null(out, proto);
    }
    resp_write_cstr(out, "issued");
    write_u64(out, res->issued);
    resp_write_cstr(out, "remaining");
    write_u64(out, res->remaining);
}

static const char *state_name(uint8_t state)
{
    switch (state) {
    case SEQ_NUM_FINAL: return "final";
    case SEQ_NUM_VOIDED: return "voided";
    default: return "not-issued";
    }
}

static void format_gaps(const seq_result *res, resp_buf *out)
{
    resp_write_array(out, res->n_ledger);
    for (size_t i = 0; i < res->n_ledger; i++) {
        const seq_ledger_run *run = &res->ledger[i];
        resp_write_array(out, 5);
        resp_write_int(out, run->first);
        resp_write_int(out, run->last);
        resp_write_cstr(out, state_name(run->state));
        resp_write_cstr(out, run->reason != NULL ? run->reason : "");
        resp_write_int(out, run->time_ms);
    }
}

static void format_lookup(const seq_result *res, int proto, resp_buf *out)
{
    bool voided = res->state == SEQ_NUM_VOIDED;
    resp_write_map(out, voided ? 3 : 1, proto);
    resp_write_cstr(out, "state");
    resp_write_cstr(out, state_name(res->state));
    if (voided) {
        resp_write_cstr(out, "reason");
        resp_write_cstr(out, res->reason != NULL ? res->reason : "");
        resp_write_cstr(out, "time_ms");
        resp_write_int(out, res->time_ms);
    }
}

void commands_format_result(const seq_result *res, int err, uint8_t style, int proto,
                            resp_buf *out)
{
    switch (err) {
    case BATCH_OK: break;
    case BATCH_ERR_TRYAGAIN:
        resp_write_error(out, "TRYAGAIN no leader to commit the request; it was not applied, retry");
        return;
    case BATCH_ERR_UNKNOWN:
        resp_write_error(out, "TRYAGAIN outcome unknown: the request may have been applied; "
                              "retry with the same KEY to get its numbers");
        return;
    case BATCH_ERR_CLUSTERDOWN:
        resp_write_error(out, "CLUSTERDOWN no leader: the cluster has no quorum; the request "
                              "was not applied");
        return;
    case BATCH_ERR_SHUTDOWN:
        resp_write_error(out, "TRYAGAIN server is shutting down; the request was not applied");
        return;
    default:
        resp_write_error(out, "ERR this node hit a disk error and stopped serving");
        return;
    }
    if (res->status == SEQ_ERR_EXHAUSTED) {
        char msg[160];
        snprintf(msg, sizeof(msg), "EXHAUSTED only %llu numbers left in the sequence's ranges",
                 (unsigned long long)res->remaining);
        resp_write_error(out, msg);
        return;
    }
    if (res->status != SEQ_OK) {
        resp_write_error(out, seq_status_text(res->status));
        return;
    }
    switch (style) {
    case STYLE_NUMBER:
        resp_write_int(out, res->runs[0].first);
        break;
    case STYLE_RUNS:
        resp_write_array(out, 2 * res->n_runs);
        for (size_t i = 0; i < res->n_runs; i++) {
            resp_write_int(out, res->runs[i].first);
            resp_write_int(out, res->runs[i].last);
        }
        break;
    case STYLE_DESCRIBE:
        format_describe(res, proto, out);
        break;
    case STYLE_GAPS:
        format_gaps(res, out);
        break;
    case STYLE_LOOKUP:
        format_lookup(res, proto, out);
        break;
    case STYLE_LOOKUP_KEY:
        if (res->n_runs == 0) {
            resp_write_null(out, proto);
            break;
        }
        resp_write_array(out, 2 * res->n_runs);
        for (size_t i = 0; i < res->n_runs; i++) {
            resp_write_int(out, res->runs[i].first);
            resp_write_int(out, res->runs[i].last);
        }
        break;
    case STYLE_LIST:
        resp_write_array(out, res->n_names);
        for (size_t i = 0; i < res->n_names; i++) {
            resp_write_cstr(out, res->names[i]);
        }
        break;
    default:
        resp_write_simple(out, "OK");
        break;
    }
}
