/* cmd_ledger — the commands of the ledger, the record of every issued
 * number that is not simply final: VOID, GAPS, LOOKUP, and UNDELIVERED and
 * SERVED (sent by seqd nodes about replies that reached no client, and
 * about cached numbers whose USED report was lost). */
#include "commands_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* A report about numbers (UNDELIVERED releases them, SERVED makes them
 * final) comes only from another node's proven forward link: only a node
 * that handed the numbers out may say so, and a single node has no other
 * node (its own reports never pass through a connection). Else an error
 * reply and false. */
static bool ledgerFromNode(command_env *env, command_call *call, const char *refusal)
{
    if (env->forwarder == NULL || !call->client->forward_link) {
        cmd_error(call, refusal);
        return false;
    }
    return true;
}

void undeliveredCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 5); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_UNDELIVERED};
    if (!ledgerFromNode(env, call, "ERR UNDELIVERED is sent between seqd nodes only")) {
        return;
    }
    if (!cmd_take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (!cmd_parse_i64(&call->argv[2], &cmd.min) || !cmd_parse_i64(&call->argv[3], &cmd.max)) {
        cmd_error(call, cmd_err_integer);
        return;
    }
    if (!cmd_reason_valid(&call->argv[4])) {
        cmd_error(call, seq_status_text(SEQ_ERR_REASON));
        return;
    }
    cmd.text = call->argv[4].ptr;
    cmd.text_len = call->argv[4].len;
    resp_arg args[CMD_PERIOD_ARGS_MAX];
    size_t argc = cmd_take_period(call, &cmd, args);
    if (argc == 0) {
        return;
    }
    if (argc == 7 && cmd_arg_is(&args[5], "GRANT")) {
        int64_t grant;
        if (!cmd_parse_i64(&args[6], &grant) || grant < 1) {
            cmd_error(call, cmd_err_integer);
            return;
        }
        cmd.term = (uint64_t)grant;
        cmd.has_start = true;
    } else if (argc != 5) {
        cmd_error(call, "ERR syntax: UNDELIVERED name first last cause [GRANT n] [PERIOD p]");
        return;
    }
    cmd_submit(env, call, &cmd, STYLE_OK);
}

/* SERVED name first last term owner incarnation: a cached block owner's
 * lost USED, from the node that served the numbers (see seqServed). */
void servedCommand(command_env *env, command_call *call)
{
    assert(call->argc == 7); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_SERVED};
    if (!ledgerFromNode(env, call, "ERR SERVED is sent between seqd nodes only")) {
        return;
    }
    if (!cmd_take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (!cmd_parse_i64(&call->argv[2], &cmd.min) || !cmd_parse_i64(&call->argv[3], &cmd.max) ||
        !cmd_parse_u64(&call->argv[4], &cmd.term) || !cmd_parse_u64(&call->argv[5], &cmd.node) ||
        !cmd_parse_u64(&call->argv[6], &cmd.incarnation)) {
        cmd_error(call, cmd_err_integer);
        return;
    }
    cmd_submit(env, call, &cmd, STYLE_OK);
}

void voidCommand(command_env *env, command_call *call)
{
    assert(call->argc == 4); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_VOID};
    if (!cmd_take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (!cmd_parse_i64(&call->argv[2], &cmd.min)) {
        cmd_error(call, cmd_err_integer);
        return;
    }
    const resp_arg *reason = &call->argv[3];
    if (!cmd_reason_valid(reason)) {
        cmd_error(call, seq_status_text(SEQ_ERR_REASON));
        return;
    }
    cmd.text = reason->ptr;
    cmd.text_len = reason->len;
    cmd_submit(env, call, &cmd, STYLE_OK);
}

void gapsCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 2); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_GAPS, .min = INT64_MIN, .max = INT64_MAX};
    resp_arg args[CMD_PERIOD_ARGS_MAX];
    size_t argc = cmd_take_period(call, &cmd, args);
    if (argc == 0) {
        return;
    }
    if (argc != 2 && argc != 4) {
        cmd_error(call, "ERR syntax: GAPS name [from to] [PERIOD p]");
        return;
    }
    if (!cmd_take_name(call, &args[1], &cmd)) {
        return;
    }
    if (argc == 4 && (!cmd_parse_i64(&args[2], &cmd.min) || !cmd_parse_i64(&args[3], &cmd.max))) {
        cmd_error(call, cmd_err_integer);
        return;
    }
    if (cmd.min > cmd.max) {
        cmd_error(call, seq_status_text(SEQ_ERR_RANGE));
        return;
    }
    cmd_submit(env, call, &cmd, STYLE_GAPS);
}

/* LOOKUP name n [PERIOD p] | LOOKUP name <document number> | LOOKUP name
 * KEY key: a number that is not an integer is read as the sequence prints
 * it (PARSE). */
void lookupCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 3); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_LOOKUP};
    const char *syntax = "ERR syntax: LOOKUP name n [PERIOD p] | LOOKUP name KEY key";
    if (!cmd_take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (call->argc == 4 && cmd_arg_is(&call->argv[2], "KEY")) {
        if (!cmd_take_key(call, &call->argv[3], &cmd)) {
            return;
        }
        cmd.op = SEQ_OP_LOOKUP_KEY;
        cmd_submit(env, call, &cmd, STYLE_LOOKUP_KEY);
        return;
    }
    resp_arg args[CMD_PERIOD_ARGS_MAX];
    size_t argc = cmd_take_period(call, &cmd, args);
    if (argc == 0) {
        return;
    }
    /* LOOKUP name KEY (its key missing) is a syntax error, not a printed
     * number: every document number holds the digits of {n} */
    if (argc != 3 || cmd_arg_is(&args[2], "KEY")) {
        cmd_error(call, syntax);
        return;
    }
    if (cmd_parse_i64(&args[2], &cmd.min)) {
        /* the core reads an integer outside the ranges as a printed
         * number too (digits-only formats): the reply says which */
        cmd_submit(env, call, &cmd, STYLE_LOOKUP);
        return;
    }
    if (cmd.has_period || args[2].len == 0 || args[2].len > DOC_TEXT_MAX) {
        cmd_error(call, cmd.has_period ? cmd_err_integer : seq_status_text(SEQ_ERR_NOT_FORMAT));
        return;
    }
    cmd.op = SEQ_OP_PARSE;
    cmd.text = args[2].ptr;
    cmd.text_len = args[2].len;
    cmd_submit(env, call, &cmd, STYLE_PARSE);
}
