/* cmd_sequence — the commands that define sequences and issue numbers:
 * CREATE, ADDRANGE, DROP, NEXT, INCR/INCRBY, RESERVE, CONFIRM, RELEASE,
 * DESCRIBE, LIST. Each parses its arguments into one seq_cmd and submits
 * it (cmd_submit): the reply is formatted once its entry is applied. */
#include "commands_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void createCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 4); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_CREATE};
    if (!cmd_take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (!cmd_parse_i64(&call->argv[2], &cmd.min) || !cmd_parse_i64(&call->argv[3], &cmd.max)) {
        cmd_error(call, cmd_err_integer);
        return;
    }
    if (cmd_parse_range_options(call, 4, true, &cmd)) {
        cmd_submit(env, call, &cmd, STYLE_OK);
    }
}

void addrangeCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 4); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_ADDRANGE};
    if (!cmd_take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (!cmd_parse_i64(&call->argv[2], &cmd.min) || !cmd_parse_i64(&call->argv[3], &cmd.max)) {
        cmd_error(call, cmd_err_integer);
        return;
    }
    if (cmd_parse_range_options(call, 4, false, &cmd)) {
        cmd_submit(env, call, &cmd, STYLE_OK);
    }
}

#define NEXT_SYNTAX "ERR syntax: NEXT name [COUNT k] [KEY key] [TEXT]"

/* NEXT's options: COUNT k, KEY key and TEXT, each at most once. False
 * after an error reply. */
static bool nextOptions(command_call *call, seq_cmd *cmd, bool *has_count, bool *has_key)
{
    *has_count = false;
    *has_key = false;
    bool bad_count = false; /* told after the loop: a TEXT after it lowers the cap */
    for (size_t i = 2; i < call->argc; i += 2) {
        if (cmd_arg_is(&call->argv[i], "TEXT") && !cmd->text_reply) {
            cmd->text_reply = true;
            i--; /* a flag: no value */
            continue;
        }
        if (i + 1 >= call->argc) {
            cmd_error(call, NEXT_SYNTAX);
            return false;
        }
        const resp_arg *v = &call->argv[i + 1];
        if (cmd_arg_is(&call->argv[i], "COUNT") && !*has_count) {
            int64_t k;
            bad_count = !cmd_parse_i64(v, &k) || k < 1 || k > SEQ_COUNT_MAX;
            cmd->count = bad_count ? 1 : (uint32_t)k;
            *has_count = true;
        } else if (cmd_arg_is(&call->argv[i], "KEY") && !*has_key) {
            if (!cmd_take_key(call, v, cmd)) {
                return false;
            }
            *has_key = true;
        } else {
            cmd_error(call, NEXT_SYNTAX);
            return false;
        }
    }
    if (cmd->text_reply && (bad_count || cmd->count > SEQ_TEXT_COUNT_MAX)) {
        cmd_error(call, "ERR COUNT with TEXT must be between 1 and 1000 (each number is a string)");
        return false;
    }
    if (bad_count) {
        cmd_error(call, seq_status_text(SEQ_ERR_COUNT));
        return false;
    }
    return true;
}

/* NEXT ... TEXT served from a cached block: the texts of res's numbers
 * into out->texts, printed from the state as the core prints them (formats
 * only grow, so a number prints the same whenever it is asked). */
void commands_render_texts(command_env *env, const char *name, size_t name_len,
                           const seq_result *res, seq_result *out)
{
    uint64_t n = 0;
    for (size_t k = 0; k < res->n_runs; k++) {
        n += (uint64_t)res->runs[k].last - (uint64_t)res->runs[k].first + 1;
    }
    if (n == 0 || n > SEQ_TEXT_COUNT_MAX) {
        return; /* refused before it was served (nextOptions) */
    }
    /* the core's layout (seq.h): the pointers, then the texts */
    char **texts = malloc(n * (sizeof(char *) + DOC_TEXT_MAX + 1));
    if (texts == NULL) {
        return;
    }
    char *at = (char *)(texts + n);
    size_t count = 0;
    for (size_t k = 0; k < res->n_runs; k++) {
        for (int64_t v = res->runs[k].first;; v++) {
            int len = seq_render_current(env->node->fsm.state, name, name_len, v, at);
            if (len < 0) {
                at[0] = '\0';
                len = 0;
            }
            texts[count++] = at;
            at += (size_t)len + 1;
            if (v == res->runs[k].last) {
                break;
            }
        }
    }
    out->texts = texts;
    out->n_texts = count;
}

/* Whether this node serves the sequence's NEXT from its cached blocks: it
 * is the formed, healthy leader and the sequence is in cached mode. */
static bool nextIsCached(command_env *env, command_call *call, const seq_cmd *cmd)
{
    return env->cache != NULL && !env->batcher->failed && !env->shutting_down &&
           !cmd_must_forward(env, call) && node_is_leader(env->node) && node_formed(env->node) &&
           node_clock_ok(env->node) &&
           seq_mode_of(env->node->fsm.state, cmd->name, cmd->name_len) == SEQ_MODE_CACHED;
}

/* A cached NEXT from the leader's memory: true when it was answered (or
 * deferred until a block arrives), false when it must go through the log. */
static bool nextFromCache(command_env *env, command_call *call, const seq_cmd *cmd,
                          uint8_t style)
{
    /* Behind this connection's requests still in the log (a DROP and
     * CREATE, say), a NEXT served from memory would take effect before
     * them: it goes through the log too, in order. */
    if (call->logged_pending) {
        return false;
    }
    seq_result res;
    if (!cache_next(env->cache, cmd->name, cmd->name_len, cmd->count, call->owner, call->tag,
                    &res)) {
        call->deferred = true;
        call->via_cache = true;
        call->style = style;
        return true;
    }
    bool answered = res.status != SEQ_ERR_STALE;
    if (answered && res.status == SEQ_OK && cmd->text_reply) {
        commands_render_texts(env, cmd->name, cmd->name_len, &res, &res);
    }
    if (answered) {
        commands_format_result(&res, BATCH_OK, style, call->proto, call->out);
        if (res.status == SEQ_OK && res.n_runs > 0) {
            call->report_runs = malloc(sizeof(*res.runs) * res.n_runs);
            if (call->report_runs != NULL) {
                memcpy(call->report_runs, res.runs, sizeof(*res.runs) * res.n_runs);
                call->report_n_runs = res.n_runs;
            }
        }
    }
    seq_result_free(&res);
    return answered;
}

void nextCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 2); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_NEXT, .count = 1};
    bool has_count, has_key;
    if (!cmd_take_name(call, &call->argv[1], &cmd) ||
        !nextOptions(call, &cmd, &has_count, &has_key)) {
        return;
    }
    uint8_t style = cmd.text_reply ? (has_count ? STYLE_TEXTS : STYLE_TEXT)
                                   : has_count ? STYLE_RUNS
                                               : STYLE_NUMBER;
    if (!has_key && cmd_must_forward(env, call)) {
        call->report_name = call->argv[1];
    }
    if (nextIsCached(env, call, &cmd)) {
        if (has_key) {
            cmd_error(call, "ERR KEY is not supported in cached mode (blocks are served "
                            "from memory); use strict or gapless for idempotent retries");
            return;
        }
        if (nextFromCache(env, call, &cmd, style)) {
            return;
        }
    }
    cmd_submit(env, call, &cmd, style);
}

void reserveCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 2); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_RESERVE, .ttl_ms = env->cfg->reserve_ttl_ms};
    bool has_ttl = false, has_key = false;
    if (!cmd_take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    for (size_t i = 2; i < call->argc; i += 2) {
        if (i + 1 >= call->argc) {
            cmd_error(call, "ERR syntax: RESERVE name [TTL seconds] [KEY key]");
            return;
        }
        const resp_arg *v = &call->argv[i + 1];
        int64_t ttl;
        if (cmd_arg_is(&call->argv[i], "TTL") && !has_ttl) {
            if (!cmd_parse_i64(v, &ttl) || ttl < 0 || ttl > SEQ_TTL_MAX_MS / 1000) {
                cmd_error(call, "ERR TTL must be between 0 (none) and 2592000 seconds");
                return;
            }
            cmd.ttl_ms = ttl * 1000;
            has_ttl = true;
        } else if (cmd_arg_is(&call->argv[i], "KEY") && !has_key) {
            if (!cmd_take_key(call, v, &cmd)) {
                return;
            }
            has_key = true;
        } else {
            cmd_error(call, "ERR syntax: RESERVE name [TTL seconds] [KEY key]");
            return;
        }
    }
    cmd_submit(env, call, &cmd, STYLE_NUMBER);
}

/* CONFIRM name n [KEY k] / RELEASE name n [KEY k]: with KEY, only if that
 * key holds the number (a reservation that ran out may have gone to
 * another caller since). */
static void confirmOrRelease(command_env *env, command_call *call, uint8_t op)
{
    seq_cmd cmd = {.op = op};
    const char *syntax = op == SEQ_OP_CONFIRM ? "ERR syntax: CONFIRM name n [KEY key] [PERIOD p]"
                                              : "ERR syntax: RELEASE name n [KEY key] [PERIOD p]";
    /* PERIOD p: a reservation made in an earlier period */
    resp_arg args[CMD_PERIOD_ARGS_MAX];
    size_t argc = cmd_take_period(call, &cmd, args);
    if (argc == 0) {
        return;
    }
    if (argc != 3 && argc != 5) {
        cmd_error(call, syntax);
        return;
    }
    if (!cmd_take_name(call, &args[1], &cmd)) {
        return;
    }
    if (!cmd_parse_i64(&args[2], &cmd.min)) {
        cmd_error(call, cmd_err_integer);
        return;
    }
    if (argc == 5) {
        if (!cmd_arg_is(&args[3], "KEY")) {
            cmd_error(call, syntax);
            return;
        }
        if (!cmd_take_key(call, &args[4], &cmd)) {
            return;
        }
    }
    cmd_submit(env, call, &cmd, STYLE_OK);
}

void confirmCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 3); /* its row in command_table */
    confirmOrRelease(env, call, SEQ_OP_CONFIRM);
}

void releaseCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 3); /* its row in command_table */
    confirmOrRelease(env, call, SEQ_OP_RELEASE);
}

void incrCommand(command_env *env, command_call *call)
{
    assert(call->argc == 2 || call->argc == 3); /* its row, or INCRBY name 1 passed on */
    seq_cmd cmd = {.op = SEQ_OP_NEXT, .count = 1};
    if (!cmd_take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (cmd_must_forward(env, call)) {
        /* as for NEXT: the number is reported should the client be gone */
        call->report_name = call->argv[1];
    }
    cmd_submit(env, call, &cmd, STYLE_NUMBER);
}

void incrbyCommand(command_env *env, command_call *call)
{
    assert(call->argc == 3); /* its row in command_table */
    int64_t step;
    if (!cmd_parse_i64(&call->argv[2], &step)) {
        cmd_error(call, cmd_err_integer);
        return;
    }
    if (step != 1) {
        cmd_error(call, "ERR seqd increments by 1 only; use NEXT name COUNT k for blocks");
        return;
    }
    incrCommand(env, call);
}

void describeCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 2); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_DESCRIBE};
    resp_arg args[CMD_PERIOD_ARGS_MAX];
    size_t argc = cmd_take_period(call, &cmd, args);
    if (argc == 0) {
        return;
    }
    if (argc != 2) {
        cmd_error(call, "ERR syntax: DESCRIBE name [PERIOD p] (p: 2026, or 2026-03 for monthly)");
        return;
    }
    if (cmd_take_name(call, &call->argv[1], &cmd)) {
        cmd_submit(env, call, &cmd, STYLE_DESCRIBE);
    }
}

void listCommand(command_env *env, command_call *call)
{
    assert(call->argc == 1); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_LIST};
    cmd_submit(env, call, &cmd, STYLE_LIST);
}

void dropCommand(command_env *env, command_call *call)
{
    assert(call->argc == 2); /* its row in command_table */
    seq_cmd cmd = {.op = SEQ_OP_DROP};
    if (cmd_take_name(call, &call->argv[1], &cmd)) {
        cmd_submit(env, call, &cmd, STYLE_OK);
    }
}
