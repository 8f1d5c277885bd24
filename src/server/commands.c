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
    unsigned category; /* enum seq_acl_category; 0: open to every logged-in user */
    bool names_sequence; /* argv[1] is a sequence name (checked against ~patterns) */
} command_def;

#define READ SEQ_CAT_READ, false
#define READ_SEQ SEQ_CAT_READ, true
#define ISSUE SEQ_CAT_ISSUE, true
#define VOID SEQ_CAT_VOID, true
#define ADMIN SEQ_CAT_ADMIN, false
#define ADMIN_SEQ SEQ_CAT_ADMIN, true
#define OPEN 0, false

/* Every command seqd answers, with its arity and flags. The comment names
 * its family (cmd_<family>.c). The rows keep the order COMMAND has always
 * listed them in. */
static const command_def command_table[] = {
    {"create", -4, createCommand, "write", ADMIN_SEQ}, /* sequence */
    {"addrange", -4, addrangeCommand, "write", ADMIN_SEQ}, /* sequence */
    {"reserve", -2, reserveCommand, "write", ISSUE}, /* sequence */
    {"confirm", -3, confirmCommand, "write", ISSUE}, /* sequence */
    {"release", -3, releaseCommand, "write", ISSUE}, /* sequence */
    {"undelivered", -5, undeliveredCommand, "write", OPEN}, /* ledger */
    {"fwd", -4, fwdCommand, "write", OPEN}, /* cluster */
    {"next", -2, nextCommand, "write", ISSUE}, /* sequence */
    {"incr", 2, incrCommand, "write", ISSUE}, /* sequence */
    {"incrby", 3, incrbyCommand, "write", ISSUE}, /* sequence */
    {"describe", -2, describeCommand, "readonly", READ_SEQ}, /* sequence */
    {"list", 1, listCommand, "readonly", READ}, /* sequence */
    {"drop", 2, dropCommand, "write", ADMIN_SEQ}, /* sequence */
    {"void", 4, voidCommand, "write", VOID}, /* ledger */
    {"gaps", -2, gapsCommand, "readonly", READ_SEQ}, /* ledger */
    {"lookup", -3, lookupCommand, "readonly", READ_SEQ}, /* ledger */
    {"render", -3, renderCommand, "readonly", READ_SEQ}, /* document */
    {"parse", 3, parseCommand, "readonly", READ_SEQ}, /* document */
    {"setformat", 3, setformatCommand, "write", ADMIN_SEQ}, /* document */
    {"role", 1, roleCommand, "fast", READ}, /* cluster */
    {"cluster", -2, clusterCommand, "admin", SEQ_CAT_CLUSTER, false}, /* cluster */
    {"ping", -1, pingCommand, "fast", OPEN}, /* server */
    {"echo", 2, echoCommand, "fast", OPEN}, /* server */
    {"quit", -1, quitCommand, "fast", OPEN}, /* server */
    {"hello", -1, helloCommand, "fast", OPEN}, /* server */
    {"auth", -2, authCommand, "fast", OPEN}, /* server */
    {"select", 2, selectCommand, "fast", OPEN}, /* server */
    {"client", -2, clientCommand, "fast", OPEN}, /* server */
    {"config", -2, configCommand, "admin", ADMIN}, /* server */
    {"backup", 1, backupCommand, "admin", ADMIN}, /* server */
    {"info", -1, infoCommand, "fast", READ}, /* server */
    {"command", -1, commandCommand, "fast", OPEN}, /* commands.c */
    {"acl", -2, aclCommand, "admin", SEQ_CAT_ACL, false}, /* acl */
    {"served", 7, servedCommand, "write", OPEN}, /* ledger */
};
#undef READ
#undef READ_SEQ
#undef ISSUE
#undef VOID
#undef ADMIN
#undef ADMIN_SEQ
#undef OPEN

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
                    d->fn == undeliveredCommand || d->fn == servedCommand;
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

/* Commands whose first argument is a subcommand (named "acl|setuser" in
 * rules and denials). */
static bool commandHasSubcommands(const command_def *d)
{
    return d->fn == clusterCommand || d->fn == aclCommand || d->fn == configCommand ||
           d->fn == clientCommand || d->fn == commandCommand;
}

bool commands_known(const char *name, size_t len)
{
    const char *bar = memchr(name, '|', len);
    resp_arg base = {name, bar != NULL ? (size_t)(bar - name) : len};
    const command_def *d = commandLookup(&base);
    return d != NULL && (bar == NULL || commandHasSubcommands(d));
}

size_t commands_of_category(unsigned category, const char **names, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < COMMAND_COUNT && n < cap; i++) {
        if ((command_table[i].category & category) != 0) {
            names[n++] = command_table[i].name;
        }
    }
    return n;
}

/* Calls no user's rights decide: a node's login and node-only commands
 * (their handlers ask for a proven link), and ACL WHOAMI. */
static bool commandUnchecked(const command_def *d, const command_call *call)
{
    if (d->category == 0) {
        return true;
    }
    if (call->argc < 2) {
        return false;
    }
    const resp_arg *sub = &call->argv[1];
    return (d->fn == clusterCommand && (cmd_arg_is(sub, "CHALLENGE") || cmd_arg_is(sub, "PEER") ||
                                        cmd_arg_is(sub, "CLOCK") || cmd_arg_is(sub, "LOGININFO"))) ||
           (d->fn == aclCommand && cmd_arg_is(sub, "WHOAMI"));
}

/* What seq_acl_check says of user running argv (command d); for a denial,
 * what[] says why in Redis's words ("this user has no permissions to run
 * the 'drop' command", "... to access the 'x' sequence"). */
static int commandVerdict(command_env *env, const char *user, size_t user_len, const command_def *d,
                          const resp_arg *argv, size_t argc, char *what, size_t cap)
{
    char sub[SEQ_ACL_COMMAND_MAX + 1] = "";
    bool has_sub = commandHasSubcommands(d) && argc >= 2 &&
                   argv[1].len < sizeof(sub) - strlen(d->name) - 1;
    for (size_t i = 0; has_sub && i < argv[1].len; i++) {
        char ch = argv[1].ptr[i];
        sub[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        sub[i + 1] = '\0';
    }
    /* a name no sequence can have touches none: its command refuses it */
    const resp_arg *seq = d->names_sequence && argc >= 2 && seq_name_valid(argv[1].ptr, argv[1].len)
                              ? &argv[1]
                              : NULL;
    int verdict = seq_acl_check(env->node->fsm.state, user, user_len, d->name, has_sub ? sub : NULL,
                                d->category, seq != NULL ? seq->ptr : NULL, seq != NULL ? seq->len : 0);
    if (verdict == SEQ_ACL_NO_COMMAND) {
        snprintf(what, cap, "this user has no permissions to run the '%s%s%s' command", d->name,
                 has_sub ? "|" : "", sub);
    } else if (verdict == SEQ_ACL_NO_SEQUENCE) {
        char name[SEQ_NAME_MAX + 1];
        for (size_t i = 0; i < seq->len; i++) {
            char ch = seq->ptr[i];
            name[i] = ch > 0x20 && ch < 0x7f && ch != '\'' ? ch : '?';
        }
        name[seq->len] = '\0';
        snprintf(what, cap, "this user has no permissions to access the '%s' sequence", name);
    } else if (verdict == SEQ_ACL_NO_USER) {
        snprintf(what, cap, "the user is off or does not exist");
    }
    return verdict;
}

/* Whether the client's user may run the call; else a NOPERM (or, for a
 * user removed or turned off since it logged in, NOAUTH) reply. */
static bool commandPermitted(command_env *env, command_call *call, const command_def *d)
{
    command_client *client = call->client;
    if ((client->forward_link && !call->forwarded_user) || commandUnchecked(d, call)) {
        return true; /* a node's own request (a report, a membership change) */
    }
    if (!client->forward_link && env->forwarder != NULL && d->fn != clusterCommand &&
        !node_is_leader(env->node) && commands_lane(env, call) >= COMMAND_LANE_FORWARD2 &&
        commands_lane(env, call) <= COMMAND_LANE_FORWARD3) {
        /* it goes to the leader with its user (FWD ... @user), and the
         * leader's users, the newest, judge it there */
        return true;
    }
    bool given = call->provisional || call->forwarded_user;
    const char *user = given ? call->user : client->user;
    size_t user_len = given ? call->user_len : client->user_len;
    char what[SEQ_NAME_MAX + SEQ_ACL_COMMAND_MAX + 8];
    int verdict = commandVerdict(env, user, user_len, d, call->argv, call->argc, what, sizeof(what));
    if (verdict == SEQ_ACL_ALLOWED) {
        return true;
    }
    if (verdict == SEQ_ACL_NO_USER) {
        if (!client->forward_link && !call->provisional) {
            client->authenticated = false; /* removed or turned off since it logged in */
        }
        env->stats->noauth_refused++;
        cmd_error(call, "NOAUTH Authentication required.");
        return false;
    }
    if (verdict == SEQ_ACL_NO_COMMAND) {
        env->stats->acl_denied_cmd++;
    } else {
        env->stats->acl_denied_key++;
    }
    char msg[sizeof(what) + 80];
    snprintf(msg, sizeof(msg), "NOPERM %s", what);
    cmd_error(call, msg);
    return false;
}

bool commands_dry_run(command_env *env, const resp_arg *user, const resp_arg *argv, size_t argc,
                      char *why, size_t cap)
{
    const command_def *d = commandLookup(&argv[0]);
    if (d == NULL) {
        snprintf(why, cap, "unknown");
        return false;
    }
    if (commandUnchecked(d, &(command_call){.argc = argc, .argv = argv})) {
        return true;
    }
    return commandVerdict(env, user->ptr, user->len, d, argv, argc, why, cap) == SEQ_ACL_ALLOWED;
}

int commands_lane(command_env *env, const command_call *call)
{
    const command_def *d = commandLookup(&call->argv[0]);
    if (d != NULL && (d->fn == authCommand || d->fn == helloCommand) && cmd_logs_in(env, call)) {
        return COMMAND_LANE_AUTH;
    }
    bool users = d != NULL && d->fn == aclCommand && cmd_acl_logged(call);
    if (users && cmd_acl_hashes(call)) {
        return COMMAND_LANE_AUTH; /* its passwords are hashed first: everything after waits */
    }
    bool sequences = d != NULL && (strcmp(d->flags, "write") == 0 || strcmp(d->flags, "readonly") == 0);
    bool membership = d != NULL && d->fn == clusterCommand && call->argc == 3 &&
                      !cmd_arg_is(&call->argv[1], "LOGININFO");
    if (!sequences && !membership && !users) {
        return COMMAND_LANE_NONE;
    }
    if (cmd_must_forward(env, call)) {
        return call->proto == 3 ? COMMAND_LANE_FORWARD3 : COMMAND_LANE_FORWARD2;
    }
    return COMMAND_LANE_LOCAL;
}

/* Whether the client is let in for this call: logged in, or the call is
 * one of the door's, or (protected mode) it may connect at all; else the
 * reply says why. Logs a client in as the default user while that one
 * needs no password, as Redis does. */
static bool commandAdmitted(command_env *env, command_call *call, const command_def *d)
{
    /* Before a login only these: AUTH and HELLO (to log in), CLUSTER
     * CHALLENGE and PEER (a node's login), QUIT, and PING (a health check
     * learns nothing from PONG). A node's proven link is a node's: its
     * requests were let in where their clients connected. */
    bool node_login = d->fn == clusterCommand && call->argc >= 2 &&
                      (cmd_arg_is(&call->argv[1], "CHALLENGE") || cmd_arg_is(&call->argv[1], "PEER"));
    bool open_door = d->fn == authCommand || d->fn == helloCommand || d->fn == quitCommand ||
                     d->fn == pingCommand || node_login;
    /* asked only when it matters: a client not logged in, or one from off
     * the machine in protected mode */
    bool unauthenticated = !call->client->authenticated && !call->client->forward_link;
    bool guarded = env->cfg->protected_mode && call->client->remote && !call->client->forward_link;
    int need = unauthenticated || guarded ? auth_need_of(env->auth) : AUTH_NEEDED;
    /* Protected mode, as Redis has it: no password, and a client from off
     * the machine. A node's login still passes: its link proves itself. */
    if (guarded && need == AUTH_OPEN && !node_login) {
        cmd_error(call, "DENIED Running in protected mode because protected mode is enabled and "
                        "no password is set for the default user. In this mode connections are "
                        "only accepted from the loopback interface. If you want to connect from "
                        "external computers to seqd you may adopt one of the following "
                        "solutions: 1) Give the default user a password with --requirepass-file. "
                        "2) Disable protected mode with --protected-mode no, if you are sure you "
                        "want clients from other hosts to connect to seqd even without "
                        "authentication.");
        call->close = true;
        return false;
    }
    if (unauthenticated && need == AUTH_OPEN) {
        /* as Redis: while the default user needs no password, every
         * client is it */
        call->client->authenticated = true;
        cmd_set_user(call->client, AUTH_USER_DEFAULT, strlen(AUTH_USER_DEFAULT));
    }
    if (unauthenticated && need == AUTH_CATCHING_UP && !open_door) {
        /* Taken as the default user for this request only: what goes to
         * the leader says so (FWD ... ?default), and the leader, whose
         * users are the newest, refuses it should the default user need a
         * password by now. Asked again on the next request. */
        call->provisional = true;
        call->user = AUTH_USER_DEFAULT;
        call->user_len = strlen(AUTH_USER_DEFAULT);
    }
    if (!call->client->authenticated && !call->client->forward_link && !open_door &&
        !call->provisional) {
        env->stats->noauth_refused++;
        cmd_error(call, "NOAUTH Authentication required.");
        return false;
    }
    return true;
}

size_t commands_count(void)
{
    return sizeof(command_table) / sizeof(command_table[0]);
}

const char *commands_name(size_t i)
{
    return i < commands_count() ? command_table[i].name : NULL;
}

void commands_dispatch(command_env *env, command_call *call)
{
    assert(env != NULL && call != NULL && call->out != NULL);
    assert(call->argc >= 1 && call->argv != NULL); /* the parser makes no empty requests */
    env->stats->total_commands++;
    call->command = -1;
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
    call->command = (int)(d - command_table);
    if (env->restoring != NULL && *env->restoring && d->category != 0 &&
        d->category != SEQ_CAT_CLUSTER && d->fn != infoCommand && d->fn != roleCommand) {
        cmd_error(call, "TRYAGAIN restoring from a backup: its state is not in force yet; retry");
        return;
    }
    if (!commandAdmitted(env, call, d) || !commandPermitted(env, call, d)) {
        return;
    }
    if (call->user == NULL) {
        call->user = call->client->user;
        call->user_len = call->client->user_len;
    }
    d->fn(env, call);
}
