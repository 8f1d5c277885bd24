/* commands — the one command table (every command's name, arity, handler
 * and flags, by family), its lookup, COMMAND, and the dispatch of a call
 * to its handler (see commands.h). The handlers live by family:
 * cmd_sequence.c, cmd_ledger.c, cmd_cluster.c, cmd_server.c; the argument
 * helpers they share in cmd_args.c and cmd_time.c; reply formatting in
 * reply_format.c. Keeps: a handler runs only with an argument count its
 * row allows; every name in the table is unique and lower case. */
#include "commands_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef struct command_def {
    const char *name;
    int arity; /* as Redis: n = exactly n words, -n = at least n */
    command_fn fn;
    const char *flags; /* for COMMAND: "write", "readonly", "fast" ... */
} command_def;

/* Every command seqd answers, with its arity and flags. The comment names
 * its family (cmd_<family>.c). The rows keep the order COMMAND has always
 * listed them in. */
static const command_def command_table[] = {
    {"create", -4, createCommand, "write"}, /* sequence */
    {"addrange", -4, addrangeCommand, "write"}, /* sequence */
    {"reserve", -2, reserveCommand, "write"}, /* sequence */
    {"confirm", -3, confirmCommand, "write"}, /* sequence */
    {"release", -3, releaseCommand, "write"}, /* sequence */
    {"undelivered", -5, undeliveredCommand, "write"}, /* ledger */
    {"fwd", -4, fwdCommand, "write"}, /* cluster */
    {"next", -2, nextCommand, "write"}, /* sequence */
    {"incr", 2, incrCommand, "write"}, /* sequence */
    {"incrby", 3, incrbyCommand, "write"}, /* sequence */
    {"describe", 2, describeCommand, "readonly"}, /* sequence */
    {"list", 1, listCommand, "readonly"}, /* sequence */
    {"drop", 2, dropCommand, "write"}, /* sequence */
    {"void", 4, voidCommand, "write"}, /* ledger */
    {"gaps", -2, gapsCommand, "readonly"}, /* ledger */
    {"lookup", -3, lookupCommand, "readonly"}, /* ledger */
    {"role", 1, roleCommand, "fast"}, /* cluster */
    {"cluster", -2, clusterCommand, "admin"}, /* cluster */
    {"ping", -1, pingCommand, "fast"}, /* server */
    {"echo", 2, echoCommand, "fast"}, /* server */
    {"quit", -1, quitCommand, "fast"}, /* server */
    {"hello", -1, helloCommand, "fast"}, /* server */
    {"auth", -2, authCommand, "fast"}, /* server */
    {"select", 2, selectCommand, "fast"}, /* server */
    {"client", -2, clientCommand, "fast"}, /* server */
    {"config", -2, configCommand, "admin"}, /* server */
    {"info", -1, infoCommand, "fast"}, /* server */
    {"command", -1, commandCommand, "fast"}, /* commands.c */
};

#define COMMAND_COUNT (sizeof(command_table) / sizeof(command_table[0]))

static const command_def *commandLookup(const resp_arg *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (cmd_arg_is(name, command_table[i].name)) {
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
                    d->fn == lookupCommand || d->fn == reserveCommand ||
                    d->fn == confirmCommand || d->fn == releaseCommand ||
                    d->fn == undeliveredCommand;
    resp_write_array(out, 6);
    resp_write_cstr(out, d->name);
    resp_write_int(out, d->arity);
    resp_write_array(out, 1);
    resp_write_simple(out, d->flags);
    resp_write_int(out, first_key);
    resp_write_int(out, first_key);
    resp_write_int(out, first_key);
}

void commandCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 1); /* its row in command_table */
    (void)env;
    if (call->argc == 1) {
        resp_write_array(call->out, COMMAND_COUNT);
        for (size_t i = 0; i < COMMAND_COUNT; i++) {
            commandInfoEntry(call->out, &command_table[i]);
        }
    } else if (cmd_arg_is(&call->argv[1], "COUNT")) {
        resp_write_int(call->out, COMMAND_COUNT);
    } else if (cmd_arg_is(&call->argv[1], "DOCS")) {
        resp_write_map(call->out, 0, call->proto); /* no docs: clients fall back */
    } else if (cmd_arg_is(&call->argv[1], "INFO")) {
        resp_write_array(call->out, call->argc - 2);
        for (size_t i = 2; i < call->argc; i++) {
            const command_def *d = commandLookup(&call->argv[i]);
            if (d != NULL) {
                commandInfoEntry(call->out, d);
            } else {
                resp_write_null(call->out, call->proto);
            }
        }
    } else if (cmd_arg_is(&call->argv[1], "LIST")) {
        resp_write_array(call->out, COMMAND_COUNT);
        for (size_t i = 0; i < COMMAND_COUNT; i++) {
            resp_write_cstr(call->out, command_table[i].name);
        }
    } else {
        cmd_error(call, "ERR COMMAND supports COUNT, DOCS, INFO and LIST");
    }
}

int commands_lane(command_env *env, const command_call *call)
{
    const command_def *d = commandLookup(&call->argv[0]);
    if (d != NULL && (d->fn == authCommand || d->fn == helloCommand) && cmd_logs_in(env, call)) {
        return COMMAND_LANE_AUTH;
    }
    bool sequences = d != NULL && (strcmp(d->flags, "write") == 0 || strcmp(d->flags, "readonly") == 0);
    bool membership = d != NULL && d->fn == clusterCommand && call->argc == 3;
    if (!sequences && !membership) {
        return COMMAND_LANE_NONE;
    }
    if (cmd_must_forward(env, call)) {
        return call->proto == 3 ? COMMAND_LANE_FORWARD3 : COMMAND_LANE_FORWARD2;
    }
    return COMMAND_LANE_LOCAL;
}

void commands_dispatch(command_env *env, command_call *call)
{
    assert(env != NULL && call != NULL && call->out != NULL);
    assert(call->argc >= 1 && call->argv != NULL); /* the parser makes no empty requests */
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
        cmd_errorf(call, "ERR unknown command '%s'", name);
        return;
    }
    if ((d->arity > 0 && call->argc != (size_t)d->arity) ||
        (d->arity < 0 && call->argc < (size_t)-d->arity)) {
        cmd_errorf(call, "ERR wrong number of arguments for '%s' command", d->name);
        return;
    }
    /* Before a login only these: AUTH and HELLO (to log in), CLUSTER
     * CHALLENGE and PEER (a node's login), QUIT, and PING (a health check
     * learns nothing from PONG). A node's proven link is a node's: its
     * requests were let in where their clients connected. */
    bool node_login = d->fn == clusterCommand && call->argc >= 2 &&
                      (cmd_arg_is(&call->argv[1], "CHALLENGE") || cmd_arg_is(&call->argv[1], "PEER"));
    bool open_door = d->fn == authCommand || d->fn == helloCommand || d->fn == quitCommand ||
                     d->fn == pingCommand || node_login;
    /* Protected mode, as Redis has it: no password, and a client from off
     * the machine. A node's login still passes: its link proves itself. */
    if (env->cfg->protected_mode && call->client->remote && !call->client->forward_link &&
        (env->auth == NULL || !env->auth->required) && !node_login) {
        cmd_error(call, "DENIED Running in protected mode because protected mode is enabled and "
                        "no password is set for the default user. In this mode connections are "
                        "only accepted from the loopback interface. If you want to connect from "
                        "external computers to seqd you may adopt one of the following "
                        "solutions: 1) Give the default user a password with --requirepass-file. "
                        "2) Disable protected mode with --protected-mode no, if you are sure you "
                        "want clients from other hosts to connect to seqd even without "
                        "authentication.");
        call->close = true;
        return;
    }
    if (!call->client->authenticated && !call->client->forward_link && !open_door) {
        env->stats->noauth_refused++;
        cmd_error(call, "NOAUTH Authentication required.");
        return;
    }
    d->fn(env, call);
}
