/* cmd_document — the commands about document numbers: SETFORMAT (a new
 * format for the numbers not issued yet), RENDER (the document number of
 * an issued number) and PARSE (which number a printed document number is,
 * and its state). Formats, labels and periods on CREATE and ADDRANGE are
 * parsed with their other options (cmd_args.c); NEXT ... TEXT in
 * cmd_sequence.c. The rules live in the core (src/core/seq_doc.c). */
#include "commands_internal.h"

#include <assert.h>

void setformatCommand(command_env *env, command_call *call)
{
    assert(call->argc == 3); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_SETFORMAT};
    if (!cmd_take_name(call, &call->argv[1], &cmd) || !cmd_format_valid(call, &call->argv[2])) {
        return;
    }
    cmd.format = call->argv[2].ptr;
    cmd.format_len = call->argv[2].len;
    cmd_submit(env, call, &cmd, STYLE_OK);
}

void renderCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 3); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_RENDER};
    resp_arg args[CMD_PERIOD_ARGS_MAX];
    size_t argc = cmd_take_period(call, &cmd, args);
    if (argc == 0) {
        return;
    }
    if (argc != 3) {
        cmd_error(call, "ERR syntax: RENDER name n [PERIOD p] (p: 2026, or 2026-03 for monthly)");
        return;
    }
    if (!cmd_take_name(call, &args[1], &cmd)) {
        return;
    }
    if (!cmd_parse_i64(&args[2], &cmd.min)) {
        cmd_error(call, cmd_err_integer);
        return;
    }
    cmd_submit(env, call, &cmd, STYLE_TEXT);
}

void parseCommand(command_env *env, command_call *call)
{
    assert(call->argc == 3); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_PARSE};
    if (!cmd_take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (call->argv[2].len == 0 || call->argv[2].len > DOC_TEXT_MAX) {
        cmd_error(call, seq_status_text(SEQ_ERR_NOT_FORMAT));
        return;
    }
    cmd.text = call->argv[2].ptr;
    cmd.text_len = call->argv[2].len;
    cmd_submit(env, call, &cmd, STYLE_PARSE);
}
