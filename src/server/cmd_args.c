/* cmd_args — what every command family shares: error replies, strict
 * parsing of integers, names, keys and reasons, CREATE/ADDRANGE options, and
 * the path of a sequence command to the batcher or to the leader. Keeps:
 * arguments are validated here, before any command reaches the log; a bad
 * one gets an error reply and changes nothing. */
#include "commands_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void cmd_error(command_call *call, const char *msg)
{
    resp_write_error(call->out, msg);
}

void cmd_errorf(command_call *call, const char *fmt, const char *arg)
{
    char msg[256];
    snprintf(msg, sizeof(msg), fmt, arg);
    resp_write_error(call->out, msg);
}

bool cmd_arg_is(const resp_arg *a, const char *word)
{
    size_t n = strlen(word);
    return a->len == n && strncasecmp(a->ptr, word, n) == 0;
}

/* The digits of p[0..n): canonical (no leading zeros beyond a lone "0"),
 * at most UINT64_MAX. */
static bool cmdParseDigits(const char *p, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20 || (n > 1 && p[0] == '0')) {
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
    *out = v;
    return true;
}

bool cmd_parse_i64(const resp_arg *a, int64_t *out)
{
    bool neg = a->len > 0 && a->ptr[0] == '-';
    uint64_t v;
    if (!cmdParseDigits(a->ptr + neg, a->len - neg, &v)) {
        return false;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1 || v == 0) { /* "-0" is not a canonical integer */
            return false;
        }
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
        return true;
    }
    if (v > (uint64_t)INT64_MAX) {
        return false;
    }
    *out = (int64_t)v;
    return true;
}

bool cmd_parse_u64(const resp_arg *a, uint64_t *out)
{
    return cmdParseDigits(a->ptr, a->len, out);
}

const char cmd_err_integer[] = "ERR value is not an integer or out of range";

bool cmd_take_name(command_call *call, const resp_arg *a, seq_cmd *cmd)
{
    if (!seq_name_valid(a->ptr, a->len)) {
        cmd_error(call, seq_status_text(SEQ_ERR_NAME));
        return false;
    }
    cmd->name = a->ptr;
    cmd->name_len = a->len;
    return true;
}

bool cmd_take_key(command_call *call, const resp_arg *a, seq_cmd *cmd)
{
    if (!seq_key_valid(a->ptr, a->len)) {
        cmd_error(call, seq_status_text(SEQ_ERR_KEY));
        return false;
    }
    cmd->key = a->ptr;
    cmd->key_len = a->len;
    return true;
}

void cmd_set_user(command_client *client, const char *name, size_t len)
{
    size_t n = len <= SEQ_USER_MAX ? len : SEQ_USER_MAX;
    memcpy(client->user, name, n);
    client->user[n] = '\0';
    client->user_len = n;
}

bool cmd_must_forward(command_env *env, const command_call *call)
{
    return env->forwarder != NULL && !call->client->forward_link && !node_is_leader(env->node);
}

void cmd_forward(command_env *env, command_call *call)
{
    /* who asked: "@user" logged in here, "?default" taken as the default
     * user while this node catches up (the leader decides) */
    char who[SEQ_USER_MAX + 2];
    size_t n = call->user != NULL && call->user_len <= SEQ_USER_MAX ? call->user_len : 0;
    who[0] = call->provisional ? '?' : '@';
    memcpy(who + 1, call->user, n);
    resp_arg by = {who, n > 0 ? n + 1 : 0};
    forwarder_submit(env->forwarder, call->proto, call->argv, call->argc, call->owner,
                     call->tag, call->report_name.len > 0 ? &call->report_name : NULL, &by);
    call->deferred = true;
}

void cmd_submit(command_env *env, command_call *call, const seq_cmd *cmd, uint8_t style)
{
    if (env->batcher->failed) {
        cmd_error(call, "ERR this node hit a disk error and stopped serving");
        return;
    }
    if (env->shutting_down) {
        cmd_error(call, "TRYAGAIN server is shutting down");
        return;
    }
    if (cmd_must_forward(env, call)) {
        cmd_forward(env, call);
        return;
    }
    if (env->cache != NULL && cmd->name_len > 0) {
        /* numbers this leader served from memory are reported before a
         * command on their sequence, so that it finds them final */
        cache_flush_name(env->cache, cmd->name, cmd->name_len);
    }
    seq_cmd by = *cmd;
    if (by.user_len == 0 && call->user != NULL && seq_user_valid(call->user, call->user_len)) {
        by.user = call->user; /* for the record: who asked */
        by.user_len = call->user_len;
    }
    batcher_submit_in(env->batcher, &by, call->owner, call->tag,
                      call->window.term != 0 ? &call->window : NULL);
    call->deferred = true;
    call->style = style;
}

/* What one option of CREATE or ADDRANGE did. */
typedef enum range_option {
    OPTION_TAKEN,   /* parsed into cmd */
    OPTION_REFUSED, /* bad value: an error reply was written */
    OPTION_UNKNOWN, /* not an option here, or given twice: a syntax error */
} range_option;

typedef struct range_seen {
    bool mode, cache, warn, tz;
} range_seen;

/* FORMAT, PERIOD, TZ (CREATE) and LABEL (CREATE, ADDRANGE): the
 * document part of a sequence. */
static range_option docOption(command_call *call, const resp_arg *opt, const resp_arg *v,
                              bool create, seq_cmd *cmd, range_seen *seen)
{
    if (cmd_arg_is(opt, "LABEL") && cmd->label_len == 0) {
        if (!doc_label_valid(v->ptr, v->len)) {
            cmd_error(call, seq_status_text(SEQ_ERR_LABEL));
            return OPTION_REFUSED;
        }
        cmd->label = v->ptr;
        cmd->label_len = v->len;
    } else if (create && cmd_arg_is(opt, "FORMAT") && cmd->format_len == 0) {
        if (!cmd_format_valid(call, v)) {
            return OPTION_REFUSED;
        }
        cmd->format = v->ptr;
        cmd->format_len = v->len;
    } else if (create && cmd_arg_is(opt, "PERIOD") && cmd->period_kind == 0) {
        cmd->period_kind = (uint8_t)period_kind_named(v->ptr, v->len);
        if (cmd->period_kind == PERIOD_NONE) {
            cmd_error(call, "ERR PERIOD must be yearly or monthly");
            return OPTION_REFUSED;
        }
    } else if (create && cmd_arg_is(opt, "TZ") && !seen->tz) {
        int minutes;
        if (!period_tz_parse(v->ptr, v->len, &minutes)) {
            cmd_error(call, "ERR TZ must be a fixed UTC offset from -12:00 to +14:00 (+hh:mm)");
            return OPTION_REFUSED;
        }
        cmd->tz_minutes = (int16_t)minutes;
        seen->tz = true;
    } else {
        return OPTION_UNKNOWN;
    }
    return OPTION_TAKEN;
}

/* START, MODE, CACHE, WARN: CREATE's own options. */
static range_option createOption(command_call *call, const resp_arg *opt, const resp_arg *v,
                                 seq_cmd *cmd, range_seen *seen)
{
    int64_t x;
    if (cmd_arg_is(opt, "START") && !cmd->has_start) {
        if (!cmd_parse_i64(v, &cmd->start)) {
            cmd_error(call, cmd_err_integer);
            return OPTION_REFUSED;
        }
        cmd->has_start = true;
    } else if (cmd_arg_is(opt, "MODE") && !seen->mode) {
        if (cmd_arg_is(v, "strict")) {
            cmd->mode = SEQ_MODE_STRICT;
        } else if (cmd_arg_is(v, "gapless")) {
            cmd->mode = SEQ_MODE_GAPLESS;
        } else if (cmd_arg_is(v, "cached")) {
            cmd->mode = SEQ_MODE_CACHED;
        } else {
            cmd_error(call, "ERR MODE must be strict, gapless or cached");
            return OPTION_REFUSED;
        }
        seen->mode = true;
    } else if (cmd_arg_is(opt, "CACHE") && !seen->cache) {
        if (!cmd_parse_i64(v, &x) || x < 1 || x > SEQ_CACHE_MAX) {
            cmd_error(call, "ERR CACHE must be between 1 and 1000000");
            return OPTION_REFUSED;
        }
        cmd->cache = (uint32_t)x;
        seen->cache = true;
    } else if (cmd_arg_is(opt, "WARN") && !seen->warn) {
        if (!cmd_parse_i64(v, &x) || x < 0) {
            cmd_error(call, "ERR WARN must be a number of remaining numbers, 0 or more");
            return OPTION_REFUSED;
        }
        cmd->warn = (uint64_t)x;
        seen->warn = true;
    } else {
        return OPTION_UNKNOWN;
    }
    return OPTION_TAKEN;
}

/* NOTBEFORE, NOTAFTER: the window, for CREATE and ADDRANGE. */
static range_option windowOption(command_call *call, const resp_arg *opt, const resp_arg *v,
                                 seq_cmd *cmd)
{
    bool whole;
    if (cmd_arg_is(opt, "NOTBEFORE") && !cmd->has_not_before) {
        if (!cmd_parse_time(v, &cmd->not_before, &whole)) {
            cmd_error(call, "ERR NOTBEFORE wants Unix seconds or RFC 3339 "
                            "(2026-01-01T00:00:00Z)");
            return OPTION_REFUSED;
        }
        cmd->has_not_before = true;
    } else if (cmd_arg_is(opt, "NOTAFTER") && !cmd->has_not_after) {
        if (!cmd_parse_time(v, &cmd->not_after, &whole)) {
            cmd_error(call, "ERR NOTAFTER wants Unix seconds or RFC 3339 "
                            "(2026-06-30T23:59:59Z)");
            return OPTION_REFUSED;
        }
        if (whole) {
            cmd->not_after += 999; /* 23:59:59 means up to 23:59:59.999 */
        }
        cmd->has_not_after = true;
    } else {
        return OPTION_UNKNOWN;
    }
    return OPTION_TAKEN;
}

/* What must hold of the options together: CACHE with MODE cached only, a
 * range with START inside it, a window that is not empty. */
static bool rangeOptionsAgree(command_call *call, const range_seen *seen, seq_cmd *cmd)
{
    if (cmd->mode == SEQ_MODE_CACHED && !seen->cache) {
        cmd->cache = COMMANDS_DEFAULT_CACHE;
    }
    if (seen->cache && cmd->mode != SEQ_MODE_CACHED) {
        cmd_error(call, "ERR CACHE applies to MODE cached only");
        return false;
    }
    if (seen->tz && cmd->period_kind == PERIOD_NONE) {
        cmd_error(call, "ERR TZ applies to a sequence with a PERIOD only");
        return false;
    }
    if (cmd->period_kind != PERIOD_NONE && cmd->mode == SEQ_MODE_CACHED) {
        cmd_error(call, "ERR PERIOD does not apply to MODE cached (its blocks are served from "
                        "memory, not stamped by an entry's clock); use strict or gapless");
        return false;
    }
    doc_format f;
    const char *why;
    if (cmd->format_len > 0 && cmd->period_kind == PERIOD_NONE &&
        doc_format_parse(cmd->format, cmd->format_len, &f, &why) == 0 && f.has_period) {
        cmd_error(call, "ERR invalid FORMAT: {period} needs a sequence with a PERIOD");
        return false;
    }
    if (cmd->min > cmd->max || (cmd->has_start && (cmd->start < cmd->min || cmd->start > cmd->max))) {
        cmd_error(call, seq_status_text(SEQ_ERR_RANGE));
        return false;
    }
    if (cmd->has_not_before && cmd->has_not_after && cmd->not_before > cmd->not_after) {
        cmd_error(call, seq_status_text(SEQ_ERR_WINDOW));
        return false;
    }
    return true;
}

bool cmd_parse_range_options(command_call *call, size_t from, bool create, seq_cmd *cmd)
{
    assert(from <= call->argc);
    const char *syntax = create ? "ERR syntax: CREATE name min max [START n] [MODE "
                                  "strict|gapless|cached] [CACHE k] [WARN n] [NOTBEFORE t] "
                                  "[NOTAFTER t] [FORMAT f] [LABEL l] [PERIOD yearly|monthly] "
                                  "[TZ +hh:mm]"
                                : "ERR syntax: ADDRANGE name min max [NOTBEFORE t] [NOTAFTER t] "
                                  "[LABEL l]";
    range_seen seen = {false, false, false, false};
    for (size_t i = from; i < call->argc; i += 2) {
        if (i + 1 >= call->argc) {
            cmd_error(call, syntax);
            return false;
        }
        const resp_arg *opt = &call->argv[i], *v = &call->argv[i + 1];
        range_option r = create ? createOption(call, opt, v, cmd, &seen) : OPTION_UNKNOWN;
        if (r == OPTION_UNKNOWN) {
            r = windowOption(call, opt, v, cmd);
        }
        if (r == OPTION_UNKNOWN) {
            r = docOption(call, opt, v, create, cmd, &seen);
        }
        if (r == OPTION_UNKNOWN) {
            cmd_error(call, syntax);
        }
        if (r != OPTION_TAKEN) {
            return false;
        }
    }
    return rangeOptionsAgree(call, &seen, cmd);
}

bool cmd_format_valid(command_call *call, const resp_arg *v)
{
    doc_format f;
    const char *why = NULL;
    if (doc_format_parse(v->ptr, v->len, &f, &why) != 0) {
        cmd_errorf(call, "ERR invalid FORMAT: %s", why);
        return false;
    }
    /* refused here, not by the core's parser, which still reads a format
     * stored before this rule */
    for (size_t i = 0; i < f.n_tokens; i++) {
        char c = f.tokens[i].none_char;
        if (f.tokens[i].kind == DOC_CHECK && c >= '0' && c <= '9') {
            cmd_error(call, "ERR invalid FORMAT: {check:mod11:X} with a digit X would read as a real "
                            "check digit; use a letter or a sign, or :skip");
            return false;
        }
    }
    return true;
}

bool cmd_parse_period(const resp_arg *v, seq_cmd *cmd)
{
    int64_t id;
    int kind = v->len == 7 ? PERIOD_MONTHLY : PERIOD_YEARLY;
    if (!period_parse(v->ptr, v->len, kind, &id)) {
        return false;
    }
    cmd->has_period = true;
    cmd->period_kind = (uint8_t)kind;
    cmd->period = id;
    return true;
}

size_t cmd_take_period(command_call *call, seq_cmd *cmd, resp_arg *args)
{
    if (call->argc > CMD_PERIOD_ARGS_MAX) {
        cmd_error(call, "ERR syntax: too many arguments");
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < call->argc; i++) {
        bool option = i >= 2 && i + 1 < call->argc && cmd_arg_is(&call->argv[i], "PERIOD") &&
                      !cmd_arg_is(&call->argv[i - 1], "KEY");
        if (!option) {
            args[n++] = call->argv[i];
            continue;
        }
        if (cmd->has_period || !cmd_parse_period(&call->argv[i + 1], cmd)) {
            cmd_error(call, "ERR PERIOD wants 2026, or 2026-03 for a monthly sequence, once");
            return 0;
        }
        i++;
    }
    return n;
}

bool cmd_reason_valid(const resp_arg *reason)
{
    bool ok = reason->len >= 1 && reason->len <= SEQ_REASON_MAX;
    for (size_t i = 0; ok && i < reason->len; i++) {
        ok = reason->ptr[i] >= 0x20 && reason->ptr[i] < 0x7f;
    }
    return ok;
}
