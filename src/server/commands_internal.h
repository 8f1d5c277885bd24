/* commands_internal — what the command families share (cmd_*.c,
 * reply_format.c, commands.c). Internal: only those files include it;
 * commands.h is the contract with the rest of the server.
 *
 * A handler is called by commands_dispatch with an argument count its
 * table row allows, and either writes its reply into call->out at once or
 * submits one seq_cmd (cmd_submit) and leaves the reply to
 * commands_format_result. */
#ifndef SEQD_COMMANDS_INTERNAL_H
#define SEQD_COMMANDS_INTERNAL_H

#include "commands.h"
#include "doc_format.h"
#include "period.h"

typedef void (*command_fn)(command_env *env, command_call *call);

/* ---- cmd_args.c: argument checks and the path to the log --------------- */

extern const char cmd_err_integer[];
void cmd_error(command_call *call, const char *msg);
/* An error reply from a format with one %s. */
void cmd_errorf(command_call *call, const char *fmt, const char *arg);
/* Whether the argument is `word`, ignoring case. */
bool cmd_arg_is(const resp_arg *a, const char *word);
/* Strict decimal int64: optional '-', digits, no spaces, no '+', no
 * overflow, no leading zeros beyond a lone "0". */
bool cmd_parse_i64(const resp_arg *a, int64_t *out);
/* The same without a sign, up to UINT64_MAX. */
bool cmd_parse_u64(const resp_arg *a, uint64_t *out);
/* A sequence name / KEY argument into cmd: valid, or an error reply and
 * false. */
bool cmd_take_name(command_call *call, const resp_arg *a, seq_cmd *cmd);
bool cmd_take_key(command_call *call, const resp_arg *a, seq_cmd *cmd);
/* 1..SEQ_REASON_MAX bytes of printable ASCII, spaces allowed. */
bool cmd_reason_valid(const resp_arg *reason);
/* A FORMAT argument: valid, or an error reply saying why and false. */
bool cmd_format_valid(command_call *call, const resp_arg *v);
/* A PERIOD argument, 2026 or 2026-03, into cmd (has_period, its kind by
 * its shape, the period); false when it is neither. */
bool cmd_parse_period(const resp_arg *v, seq_cmd *cmd);
/* PERIOD p anywhere after the name (not as a KEY's value) into cmd, and
 * the other arguments, in order, into args (CMD_PERIOD_ARGS_MAX): their
 * count, or 0 after an error reply (a bad period, PERIOD twice, too many
 * arguments). */
#define CMD_PERIOD_ARGS_MAX 12
size_t cmd_take_period(command_call *call, seq_cmd *cmd, resp_arg *args);
/* The options of CREATE and ADDRANGE from argv[from] on; false after an
 * error reply. */
bool cmd_parse_range_options(command_call *call, size_t from, bool create, seq_cmd *cmd);
/* True when the call must go to the leader: this node is not it, and the
 * request did not already come from another node's forwarder. */
bool cmd_must_forward(command_env *env, const command_call *call);
/* Sends the call to the leader; its reply comes back on the link. */
void cmd_forward(command_env *env, command_call *call);
/* Hands cmd to the batcher (or forwards the call): the reply, in `style`,
 * is formatted when its entry has been applied. */
void cmd_submit(command_env *env, command_call *call, const seq_cmd *cmd, uint8_t style);

/* ---- cmd_time.c: times in arguments and replies ------------------------- */

/* A point in time as ms since the epoch: Unix seconds, or RFC 3339
 * (2026-11-26T10:00:00Z, 2026-11-26T11:00:00.250+01:00). *whole_second
 * tells whether it was given to the second (no fraction): a NOTAFTER then
 * covers that whole second. */
bool cmd_parse_time(const resp_arg *a, int64_t *ms, bool *whole_second);
/* Writes ms since the epoch as RFC 3339 UTC (second precision). */
void cmd_format_time(int64_t ms, char *out, size_t cap);

/* ---- the handlers, by family (the table in commands.c lists them all) --- */

/* cmd_document.c */
void setformatCommand(command_env *env, command_call *call);
void renderCommand(command_env *env, command_call *call);
void parseCommand(command_env *env, command_call *call);

/* cmd_sequence.c */
void createCommand(command_env *env, command_call *call);
void addrangeCommand(command_env *env, command_call *call);
void dropCommand(command_env *env, command_call *call);
void nextCommand(command_env *env, command_call *call);
void incrCommand(command_env *env, command_call *call);
void incrbyCommand(command_env *env, command_call *call);
void reserveCommand(command_env *env, command_call *call);
void confirmCommand(command_env *env, command_call *call);
void releaseCommand(command_env *env, command_call *call);
void describeCommand(command_env *env, command_call *call);
void listCommand(command_env *env, command_call *call);

/* cmd_ledger.c */
void voidCommand(command_env *env, command_call *call);
void gapsCommand(command_env *env, command_call *call);
void lookupCommand(command_env *env, command_call *call);
void undeliveredCommand(command_env *env, command_call *call);
void servedCommand(command_env *env, command_call *call);

/* cmd_cluster.c */
void fwdCommand(command_env *env, command_call *call);
void roleCommand(command_env *env, command_call *call);
void clusterCommand(command_env *env, command_call *call);

/* cmd_server.c */
void pingCommand(command_env *env, command_call *call);
void echoCommand(command_env *env, command_call *call);
void quitCommand(command_env *env, command_call *call);
void selectCommand(command_env *env, command_call *call);
void helloCommand(command_env *env, command_call *call);
void authCommand(command_env *env, command_call *call);

/* Whether call (AUTH, or HELLO with AUTH) logs in and must be checked off
 * the loop (cmd_auth.c). */
bool cmd_logs_in(command_env *env, const command_call *call);
/* The user a client is now (name copied, at most SEQ_USER_MAX bytes). */
void cmd_set_user(command_client *client, const char *name, size_t len);
void clientCommand(command_env *env, command_call *call);
void configCommand(command_env *env, command_call *call);
void infoCommand(command_env *env, command_call *call);
void backupCommand(command_env *env, command_call *call);

/* cmd_acl.c */
void aclCommand(command_env *env, command_call *call);
/* Whether an ACL call goes through the log (SETUSER, DELUSER, GETUSER,
 * LIST, USERS), and whether it must first hash or find passwords off the
 * loop (SETUSER with >password or <password). */
bool cmd_acl_logged(const command_call *call);
bool cmd_acl_hashes(const command_call *call);

/* commands.c */
void commandCommand(command_env *env, command_call *call);
/* Whether name is a command (or "command|subcommand" of a command with
 * subcommands), for ACL rules. */
bool commands_known(const char *name, size_t len);
/* ACL DRYRUN: whether user may run argv (argc >= 1); else why (Redis's
 * words, or "unknown" for no such command). */
bool commands_dry_run(command_env *env, const resp_arg *user, const resp_arg *argv, size_t argc,
                      char *why, size_t cap);
/* The commands of a category, lower case, for ACL CAT. */
size_t commands_of_category(unsigned category, const char **names, size_t cap);

#endif
