/* commands — the command table and reply formatting (see commands.h). */
#include "commands.h"

#include "membership.h"

#include <stdio.h>
#include <stdlib.h>
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

/* A KEY argument: valid, or an error reply and false. */
static bool take_key(command_call *call, const resp_arg *a, seq_cmd *cmd)
{
    if (!seq_key_valid(a->ptr, a->len)) {
        reply_error(call, seq_status_text(SEQ_ERR_KEY));
        return false;
    }
    cmd->key = a->ptr;
    cmd->key_len = a->len;
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
                     call->tag, call->report_name.len > 0 ? &call->report_name : NULL);
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
    batcher_submit_in(env->batcher, cmd, call->owner, call->tag,
                      call->window.term != 0 ? &call->window : NULL);
    call->deferred = true;
    call->style = style;
}

/* FWD term deadline_ms command ...: a request a follower forwards
 * (forward.c), to take effect only while that follower still waits for it:
 * in the Raft term it was sent for, and before its deadline (the follower
 * tells its client "outcome unknown" only past the deadline plus the
 * largest clock offset a leader may have). Outside that window it is
 * refused with TRYAGAIN here, or when its batch would be proposed. So a
 * request that waited in a paused leader's socket cannot take effect
 * seconds later, after its client's retry went elsewhere. */
static void fwdCommand(command_env *env, command_call *call)
{
    int64_t term, deadline_ms;
    if (!call->client->forward_link) {
        reply_error(call, "ERR FWD is sent between seqd nodes only");
        return;
    }
    if (call->window.term != 0) {
        reply_error(call, "ERR FWD inside FWD");
        return;
    }
    if (!parse_i64(&call->argv[1], &term) || term < 1 || !parse_i64(&call->argv[2], &deadline_ms)) {
        reply_error(call, err_integer);
        return;
    }
    if (!node_is_leader(env->node) || (uint64_t)term != raft_current_term(&env->node->raft)) {
        reply_error(call, "TRYAGAIN this node does not lead the term the request was forwarded "
                          "for; it was not applied, retry");
        return;
    }
    if (clock_wall_ms() > deadline_ms) {
        reply_error(call, "TRYAGAIN the forwarded request arrived past its deadline; it was not "
                          "applied, retry");
        return;
    }
    call->window = (batch_window){(uint64_t)term, deadline_ms};
    call->argv += 3;
    call->argc -= 3;
    env->stats->total_commands--; /* one request, counted once */
    commands_dispatch(env, call);
}

/* ---- sequence commands ------------------------------------------------ */

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool parse_digits(const char *p, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return true;
}

/* A point in time as ms since the epoch: Unix seconds, or RFC 3339
 * (2026-11-26T10:00:00Z, 2026-11-26T11:00:00.250+01:00). *whole_second
 * tells whether it was given to the second (no fraction): a NOTAFTER then
 * covers that whole second. */
static bool parse_time(const resp_arg *a, int64_t *ms, bool *whole_second)
{
    int64_t secs;
    *whole_second = true;
    if (parse_i64(a, &secs)) {
        if (secs > INT64_MAX / 1000 - 1 || secs < INT64_MIN / 1000) {
            return false;
        }
        *ms = secs * 1000;
        return true;
    }
    const char *p = a->ptr;
    size_t n = a->len;
    unsigned y, mo, d, h, mi, sec, frac_ms = 0;
    if (n < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't') ||
        p[13] != ':' || p[16] != ':' || !parse_digits(p, 4, &y) ||
        !parse_digits(p + 5, 2, &mo) || !parse_digits(p + 8, 2, &d) ||
        !parse_digits(p + 11, 2, &h) || !parse_digits(p + 14, 2, &mi) ||
        !parse_digits(p + 17, 2, &sec)) {
        return false;
    }
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || sec > 60) {
        return false;
    }
    size_t i = 19;
    if (i < n && p[i] == '.') {
        size_t digits = 0;
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
            if (digits < 3) {
                frac_ms = frac_ms * 10 + (unsigned)(p[i] - '0');
            }
        }
        if (digits == 0 || digits > 9) {
            return false;
        }
        *whole_second = false;
        for (; digits < 3; digits++) {
            frac_ms *= 10;
        }
    }
    int64_t offset_min = 0;
    if (i + 1 == n && (p[i] == 'Z' || p[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (p[i] == '+' || p[i] == '-') && p[i + 3] == ':') {
        unsigned oh, om;
        if (!parse_digits(p + i + 1, 2, &oh) || !parse_digits(p + i + 4, 2, &om) || oh > 23 ||
            om > 59) {
            return false;
        }
        offset_min = (int64_t)(oh * 60 + om) * (p[i] == '-' ? -1 : 1);
        i += 6;
    }
    if (i != n) {
        return false;
    }
    if (sec == 60) {
        sec = 59; /* a leap second counts as the second before it */
    }
    int64_t days = days_from_civil(y, mo, d);
    *ms = ((days * 86400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + frac_ms;
    return true;
}

/* Writes ms since the epoch as RFC 3339 UTC (second precision). */
static void format_time(int64_t ms, char *out, size_t cap)
{
    int64_t secs = ms / 1000 - (ms % 1000 < 0);
    int64_t days = secs / 86400 - (secs % 86400 < 0);
    int64_t rem = secs - days * 86400;
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
             (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
}

/* The options of CREATE and ADDRANGE from argv[from] on. */
static bool parse_range_options(command_call *call, size_t from, bool create, seq_cmd *cmd)
{
    const char *syntax = create ? "ERR syntax: CREATE name min max [START n] [MODE "
                                  "strict|gapless|cached] [CACHE k] [WARN n] [NOTBEFORE t] "
                                  "[NOTAFTER t]"
                                : "ERR syntax: ADDRANGE name min max [NOTBEFORE t] [NOTAFTER t]";
    bool has_mode = false, has_cache = false, has_warn = false;
    for (size_t i = from; i < call->argc; i += 2) {
        const resp_arg *opt = &call->argv[i];
        if (i + 1 >= call->argc) {
            reply_error(call, syntax);
            return false;
        }
        const resp_arg *v = &call->argv[i + 1];
        int64_t x;
        if (create && arg_is(opt, "START") && !cmd->has_start) {
            if (!parse_i64(v, &cmd->start)) {
                reply_error(call, err_integer);
                return false;
            }
            cmd->has_start = true;
        } else if (create && arg_is(opt, "MODE") && !has_mode) {
            if (arg_is(v, "strict")) {
                cmd->mode = SEQ_MODE_STRICT;
            } else if (arg_is(v, "gapless")) {
                cmd->mode = SEQ_MODE_GAPLESS;
            } else if (arg_is(v, "cached")) {
                cmd->mode = SEQ_MODE_CACHED;
            } else {
                reply_error(call, "ERR MODE must be strict, gapless or cached");
                return false;
            }
            has_mode = true;
        } else if (create && arg_is(opt, "CACHE") && !has_cache) {
            if (!parse_i64(v, &x) || x < 1 || x > SEQ_CACHE_MAX) {
                reply_error(call, "ERR CACHE must be between 1 and 1000000");
                return false;
            }
            cmd->cache = (uint32_t)x;
            has_cache = true;
        } else if (create && arg_is(opt, "WARN") && !has_warn) {
            if (!parse_i64(v, &x) || x < 0) {
                reply_error(call, "ERR WARN must be a number of remaining numbers, 0 or more");
                return false;
            }
            cmd->warn = (uint64_t)x;
            has_warn = true;
        } else if (arg_is(opt, "NOTBEFORE") && !cmd->has_not_before) {
            bool whole;
            if (!parse_time(v, &cmd->not_before, &whole)) {
                reply_error(call, "ERR NOTBEFORE wants Unix seconds or RFC 3339 "
                                  "(2026-01-01T00:00:00Z)");
                return false;
            }
            cmd->has_not_before = true;
        } else if (arg_is(opt, "NOTAFTER") && !cmd->has_not_after) {
            bool whole;
            if (!parse_time(v, &cmd->not_after, &whole)) {
                reply_error(call, "ERR NOTAFTER wants Unix seconds or RFC 3339 "
                                  "(2026-06-30T23:59:59Z)");
                return false;
            }
            if (whole) {
                cmd->not_after += 999; /* 23:59:59 means up to 23:59:59.999 */
            }
            cmd->has_not_after = true;
        } else {
            reply_error(call, syntax);
            return false;
        }
    }
    if (cmd->mode == SEQ_MODE_CACHED && !has_cache) {
        cmd->cache = COMMANDS_DEFAULT_CACHE;
    }
    if (has_cache && cmd->mode != SEQ_MODE_CACHED) {
        reply_error(call, "ERR CACHE applies to MODE cached only");
        return false;
    }
    if (cmd->min > cmd->max || (cmd->has_start && (cmd->start < cmd->min || cmd->start > cmd->max))) {
        reply_error(call, seq_status_text(SEQ_ERR_RANGE));
        return false;
    }
    if (cmd->has_not_before && cmd->has_not_after && cmd->not_before > cmd->not_after) {
        reply_error(call, seq_status_text(SEQ_ERR_WINDOW));
        return false;
    }
    return true;
}

static void createCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_CREATE};
    if (!take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (!parse_i64(&call->argv[2], &cmd.min) || !parse_i64(&call->argv[3], &cmd.max)) {
        reply_error(call, err_integer);
        return;
    }
    if (parse_range_options(call, 4, true, &cmd)) {
        submit(env, call, &cmd, STYLE_OK);
    }
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
    if (parse_range_options(call, 4, false, &cmd)) {
        submit(env, call, &cmd, STYLE_OK);
    }
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
            if (!take_key(call, v, &cmd)) {
                return;
            }
            has_key = true;
        } else {
            reply_error(call, "ERR syntax: NEXT name [COUNT k] [KEY key]");
            return;
        }
    }
    uint8_t style = has_count ? STYLE_RUNS : STYLE_NUMBER;
    if (!has_key && must_forward(env, call)) {
        call->report_name = call->argv[1];
    }
    if (env->cache != NULL && !env->batcher->failed && !env->shutting_down &&
        !must_forward(env, call) && node_is_leader(env->node) && node_formed(env->node) &&
        node_clock_ok(env->node) &&
        seq_mode_of(env->node->fsm.state, cmd.name, cmd.name_len) == SEQ_MODE_CACHED) {
        if (has_key) {
            reply_error(call, "ERR KEY is not supported in cached mode (blocks are served "
                              "from memory); use strict or gapless for idempotent retries");
            return;
        }
        if (!call->logged_pending) {
            seq_result res;
            if (!cache_next(env->cache, cmd.name, cmd.name_len, cmd.count, call->owner,
                            call->tag, &res)) {
                call->deferred = true;
                call->via_cache = true;
                call->style = style;
                return;
            }
            if (res.status != SEQ_ERR_STALE) {
                commands_format_result(&res, BATCH_OK, style, call->proto, call->out);
                if (res.status == SEQ_OK && res.n_runs > 0) {
                    call->report_runs = malloc(sizeof(*res.runs) * res.n_runs);
                    if (call->report_runs != NULL) {
                        memcpy(call->report_runs, res.runs, sizeof(*res.runs) * res.n_runs);
                        call->report_n_runs = res.n_runs;
                    }
                }
                seq_result_free(&res);
                return;
            }
            seq_result_free(&res);
        }
        /* Behind this connection's requests still in the log (a DROP and
         * CREATE, say), a NEXT served from memory would take effect before
         * them: it goes through the log too, in order. */
    }
    submit(env, call, &cmd, style);
}

/* RESERVE name [TTL seconds] [KEY key]: a gapless number held for the
 * caller until CONFIRM, RELEASE or the TTL (0: no TTL). */
static void reserveCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_RESERVE, .ttl_ms = env->cfg->reserve_ttl_ms};
    bool has_ttl = false, has_key = false;
    if (!take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    for (size_t i = 2; i < call->argc; i += 2) {
        if (i + 1 >= call->argc) {
            reply_error(call, "ERR syntax: RESERVE name [TTL seconds] [KEY key]");
            return;
        }
        const resp_arg *v = &call->argv[i + 1];
        int64_t ttl;
        if (arg_is(&call->argv[i], "TTL") && !has_ttl) {
            if (!parse_i64(v, &ttl) || ttl < 0 || ttl > SEQ_TTL_MAX_MS / 1000) {
                reply_error(call, "ERR TTL must be between 0 (none) and 2592000 seconds");
                return;
            }
            cmd.ttl_ms = ttl * 1000;
            has_ttl = true;
        } else if (arg_is(&call->argv[i], "KEY") && !has_key) {
            if (!take_key(call, v, &cmd)) {
                return;
            }
            has_key = true;
        } else {
            reply_error(call, "ERR syntax: RESERVE name [TTL seconds] [KEY key]");
            return;
        }
    }
    submit(env, call, &cmd, STYLE_NUMBER);
}

/* CONFIRM name n [KEY k] / RELEASE name n [KEY k]: with KEY, only if that
 * key holds the number (a reservation that ran out may have gone to
 * another caller since). */
static void confirmOrRelease(command_env *env, command_call *call, uint8_t op)
{
    seq_cmd cmd = {.op = op};
    if (call->argc != 3 && call->argc != 5) {
        reply_errorf(call, "ERR syntax: %s name n [KEY key]",
                     op == SEQ_OP_CONFIRM ? "CONFIRM" : "RELEASE");
        return;
    }
    if (!take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (!parse_i64(&call->argv[2], &cmd.min)) {
        reply_error(call, err_integer);
        return;
    }
    if (call->argc == 5) {
        if (!arg_is(&call->argv[3], "KEY")) {
            reply_errorf(call, "ERR syntax: %s name n [KEY key]",
                         op == SEQ_OP_CONFIRM ? "CONFIRM" : "RELEASE");
            return;
        }
        if (!take_key(call, &call->argv[4], &cmd)) {
            return;
        }
    }
    submit(env, call, &cmd, STYLE_OK);
}

static void confirmCommand(command_env *env, command_call *call)
{
    confirmOrRelease(env, call, SEQ_OP_CONFIRM);
}

static void releaseCommand(command_env *env, command_call *call)
{
    confirmOrRelease(env, call, SEQ_OP_RELEASE);
}

static bool reason_valid(const resp_arg *reason)
{
    bool ok = reason->len >= 1 && reason->len <= SEQ_REASON_MAX;
    for (size_t i = 0; ok && i < reason->len; i++) {
        ok = reason->ptr[i] >= 0x20 && reason->ptr[i] < 0x7f;
    }
    return ok;
}

/* UNDELIVERED name first last cause: numbers whose reply never reached its
 * client (sent by seqd nodes themselves; gapless releases them, the other
 * modes record them as unknown-fate). */
static void undeliveredCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_UNDELIVERED};
    if (env->forwarder == NULL || !call->client->forward_link) {
        /* It releases numbers: only a node that saw the reply fail may say
         * so, and a single node has no other node (its own reports never
         * pass through a connection). */
        reply_error(call, "ERR UNDELIVERED is sent between seqd nodes only");
        return;
    }
    if (!take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (!parse_i64(&call->argv[2], &cmd.min) || !parse_i64(&call->argv[3], &cmd.max)) {
        reply_error(call, err_integer);
        return;
    }
    if (!reason_valid(&call->argv[4])) {
        reply_error(call, seq_status_text(SEQ_ERR_REASON));
        return;
    }
    cmd.text = call->argv[4].ptr;
    cmd.text_len = call->argv[4].len;
    if (call->argc == 7 && arg_is(&call->argv[5], "GRANT")) {
        int64_t grant;
        if (!parse_i64(&call->argv[6], &grant) || grant < 1) {
            reply_error(call, err_integer);
            return;
        }
        cmd.term = (uint64_t)grant;
        cmd.has_start = true;
    } else if (call->argc != 5) {
        reply_error(call, "ERR syntax: UNDELIVERED name first last cause [GRANT n]");
        return;
    }
    submit(env, call, &cmd, STYLE_OK);
}

static void incrCommand(command_env *env, command_call *call)
{
    seq_cmd cmd = {.op = SEQ_OP_NEXT, .count = 1};
    if (!take_name(call, &call->argv[1], &cmd)) {
        return;
    }
    if (must_forward(env, call)) {
        /* as for NEXT: the number is reported should the client be gone */
        call->report_name = call->argv[1];
    }
    submit(env, call, &cmd, STYLE_NUMBER);
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
    if (!reason_valid(reason)) {
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
        if (!arg_is(&call->argv[2], "KEY")) {
            reply_error(call, "ERR syntax: LOOKUP name n | LOOKUP name KEY key");
            return;
        }
        if (!take_key(call, &call->argv[3], &cmd)) {
            return;
        }
        cmd.op = SEQ_OP_LOOKUP_KEY;
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
/* CLUSTER CLOCK id wall_ms: a follower's wall clock, sent to the leader
 * over its forward link a few times a second (docs/clock.md). Only a
 * node's link may say it; elsewhere it changes nothing. */
static void clusterClock(command_env *env, command_call *call)
{
    int64_t id, wall_ms;
    if (!call->client->forward_link) {
        reply_error(call, "ERR CLUSTER CLOCK is sent between seqd nodes only");
        return;
    }
    if (!parse_i64(&call->argv[2], &id) || id <= 0 || !parse_i64(&call->argv[3], &wall_ms)) {
        reply_error(call, err_integer);
        return;
    }
    if (node_is_leader(env->node)) {
        node_clock_report(env->node, (uint64_t)id, wall_ms);
    }
    resp_write_simple(call->out, "OK");
}

static void clusterCommand(command_env *env, command_call *call)
{
    const resp_arg *sub = &call->argv[1];
    if (arg_is(sub, "NODES") && call->argc == 2) {
        clusterNodes(env, call);
        return;
    }
    if (arg_is(sub, "CLOCK") && call->argc == 4) {
        clusterClock(env, call);
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
    {"addrange", -4, addrangeCommand, "write"},
    {"reserve", -2, reserveCommand, "write"},
    {"confirm", -3, confirmCommand, "write"},
    {"release", -3, releaseCommand, "write"},
    {"undelivered", -5, undeliveredCommand, "write"},
    {"fwd", -4, fwdCommand, "write"},
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

typedef struct info_warned {
    char *text;
    size_t cap;
    size_t *n;
    size_t count;
} info_warned;

/* One line per sequence at or below its WARN threshold (as many as fit). */
static void infoWarned(void *ctx, const char *name, uint64_t left, uint64_t warn)
{
    info_warned *w = ctx;
    w->count++;
    if (*w->n + 300 < w->cap) {
        int k = snprintf(w->text + *w->n, w->cap - *w->n, "warn:%s:remaining=%llu,warn=%llu\r\n",
                         name, (unsigned long long)left, (unsigned long long)warn);
        if (k > 0 && (size_t)k < w->cap - *w->n) {
            *w->n += (size_t)k;
        }
    }
}

static void infoCommand(command_env *env, command_call *call)
{
    char text[16384];
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
    if (infoWants(call, "raft") || infoWants(call, "cluster")) {
        char leader_at[48] = "";
        if (!node_leader_client(env->node, leader_at, sizeof(leader_at))) {
            leader_at[0] = '\0';
        }
        char cluster_hex[40], waiting[256];
        identity_cluster_hex(&env->node->ident, cluster_hex, sizeof(cluster_hex));
        node_waiting_for(env->node, waiting, sizeof(waiting));
        INFO_ADD("# Cluster\r\ncluster_enabled:%d\r\nmembers:%u\r\nleader_client_address:%s\r\n"
                 "forwarded_requests:%llu\r\ncluster_id:%s\r\ncluster_formed:%d\r\n"
                 "cluster_waiting_for:%s\r\ndata_dir_kind:%s\r\nbus_refused_connections:%llu"
                 "\r\n\r\n",
                 env->forwarder != NULL ? 1 : 0, env->node->raft.configuration.n, leader_at,
                 (unsigned long long)(env->forwarder != NULL ? env->forwarder->forwarded : 0),
                 cluster_hex, node_formed(env->node) ? 1 : 0, waiting,
                 env->node->ident.kind == IDENTITY_SINGLE ? "single" : "cluster",
                 (unsigned long long)env->node->transport.refused_incoming);
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
        INFO_ADD("# Keyspace\r\nsequences:%zu\r\nidempotency_keys:%zu\r\ngapless_keys:%zu\r\n"
                 "max_keys:%zu\r\nkey_retention_seconds:%lld\r\n\r\n",
                 seq_count_live(f->state), seq_count_keys(f->state), seq_count_pkeys(f->state),
                 env->cfg->max_keys,
                 (long long)(env->cfg->key_retention_ms / 1000));
    }
    if (infoWants(call, "warnings") && f->state != NULL) {
        info_warned warned = {text, sizeof(text), &n, 0};
        INFO_ADD("# Warnings\r\n");
        seq_each_warned(f->state, infoWarned, &warned);
        INFO_ADD("sequences_at_warn:%zu\r\n\r\n", warned.count);
    }
    if (infoWants(call, "clock") && f->state != NULL) {
        /* docs/clock.md: what each of these means */
        const clock_watch *cw = &env->batcher->clock;
        size_t agree = node_clock_agreeing(env->node);
        bool ok = node_clock_ok(env->node);
        INFO_ADD("# Clock\r\nclock_replicated_ms:%lld\r\nclock_elapsed_ms:%lld\r\n"
                 "clock_local_ms:%lld\r\nclock_offset_ms:%lld\r\nclock_jumps:%llu\r\n"
                 "clock_last_jump_ms:%lld\r\nclock_leader_steps:%llu\r\n"
                 "clock_last_step_ms:%lld\r\nmax_clock_offset_ms:%u\r\n"
                 "clock_followers_agreeing:%zu\r\nclock_ok:%d\r\n\r\n",
                 (long long)seq_clock_ms(f->state), (long long)seq_elapsed_ms(f->state),
                 (long long)clock_wall_ms(), (long long)(f->has_offset ? f->clock_offset_ms : 0),
                 (unsigned long long)cw->jumps, (long long)cw->last_jump_ms,
                 (unsigned long long)f->clock_leader_steps, (long long)f->clock_last_step_ms,
                 env->cfg->max_clock_offset_ms, agree, ok ? 1 : 0);
    }
    if (infoWants(call, "cache") && env->cache != NULL) {
        INFO_ADD("# Cache\r\ncached_numbers_served:%llu\r\ncached_blocks:%llu\r\n"
                 "undelivered_reports:%llu\r\n\r\n",
                 (unsigned long long)env->cache->served, (unsigned long long)env->cache->blocks,
                 (unsigned long long)(env->undelivered != NULL ? env->undelivered->reported : 0));
    }
#undef INFO_ADD
    resp_write_bulk(call->out, text, n);
}

int commands_lane(command_env *env, const command_call *call)
{
    const command_def *d = commandLookup(&call->argv[0]);
    bool sequences = d != NULL && (strcmp(d->flags, "write") == 0 || strcmp(d->flags, "readonly") == 0);
    bool membership = d != NULL && d->fn == clusterCommand && call->argc == 3;
    if (!sequences && !membership) {
        return COMMAND_LANE_NONE;
    }
    if (must_forward(env, call)) {
        return call->proto == 3 ? COMMAND_LANE_FORWARD3 : COMMAND_LANE_FORWARD2;
    }
    return COMMAND_LANE_LOCAL;
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

static void write_time_or_null(resp_buf *out, int64_t ms, int64_t unset, int proto)
{
    if (ms == unset) {
        resp_write_null(out, proto);
    } else {
        resp_write_int(out, ms);
    }
}

static const char *mode_name(uint8_t mode)
{
    switch (mode) {
    case SEQ_MODE_GAPLESS: return "gapless";
    case SEQ_MODE_CACHED: return "cached";
    default: return "strict";
    }
}

static void format_describe(const seq_result *res, int proto, resp_buf *out)
{
    bool cached = res->mode == SEQ_MODE_CACHED;
    resp_write_map(out, cached ? 12 : 11, proto);
    resp_write_cstr(out, "name");
    resp_write_bulk(out, res->name, res->name_len);
    resp_write_cstr(out, "ranges");
    resp_write_array(out, res->n_ranges);
    for (size_t i = 0; i < res->n_ranges; i++) {
        const seq_range_info *r = &res->ranges[i];
        bool window = r->not_before != INT64_MIN || r->not_after != INT64_MAX;
        /* [min, max], and with a window [min, max, not_before_ms, not_after_ms] */
        resp_write_array(out, window ? 4 : 2);
        resp_write_int(out, r->min);
        resp_write_int(out, r->max);
        if (window) {
            write_time_or_null(out, r->not_before, INT64_MIN, proto);
            write_time_or_null(out, r->not_after, INT64_MAX, proto);
        }
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
    resp_write_cstr(out, "mode");
    resp_write_cstr(out, mode_name(res->mode));
    if (cached) {
        resp_write_cstr(out, "cache");
        resp_write_int(out, res->cache);
    }
    resp_write_cstr(out, "warn");
    write_u64(out, res->warn);
    resp_write_cstr(out, "warning");
    resp_write_int(out, res->warned ? 1 : 0);
    resp_write_cstr(out, "rate_1m");
    write_u64(out, res->rate_1m);
    resp_write_cstr(out, "rate_1h");
    write_u64(out, res->rate_1h);
    resp_write_cstr(out, "eta_seconds");
    if (res->eta_s < 0) {
        resp_write_null(out, proto);
    } else {
        resp_write_int(out, res->eta_s);
    }
}

static const char *state_name(uint8_t state)
{
    switch (state) {
    case SEQ_NUM_FINAL: return "final";
    case SEQ_NUM_VOIDED: return "voided";
    case SEQ_NUM_RESERVED: return "reserved";
    case SEQ_NUM_RELEASED: return "released";
    case SEQ_NUM_SKIPPED: return "skipped";
    case SEQ_NUM_EXPIRED: return "expired";
    case SEQ_NUM_UNKNOWN: return "unknown";
    case SEQ_NUM_CACHED: return "cached";
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

/* LOOKUP: state, then what is known: reason and time_ms for a ledger
 * state, until_ms for a live reservation, key for a keyed gapless number. */
static void format_lookup(const seq_result *res, int proto, resp_buf *out)
{
    bool reason = res->reason != NULL;
    bool time = res->time_ms != INT64_MIN;
    bool until = res->state == SEQ_NUM_RESERVED && res->until_ms != INT64_MAX;
    bool key = res->key != NULL;
    resp_write_map(out, 1 + reason + time + until + key, proto);
    resp_write_cstr(out, "state");
    resp_write_cstr(out, state_name(res->state));
    if (reason) {
        resp_write_cstr(out, "reason");
        resp_write_cstr(out, res->reason);
    }
    if (time) {
        resp_write_cstr(out, "time_ms");
        resp_write_int(out, res->time_ms);
    }
    if (until) {
        resp_write_cstr(out, "until_ms");
        resp_write_int(out, res->until_ms);
    }
    if (key) {
        resp_write_cstr(out, "key");
        resp_write_cstr(out, res->key);
    }
}

static void format_exhausted(const seq_result *res, resp_buf *out)
{
    char msg[200];
    if (res->remaining == 0 && res->opens_ms != INT64_MAX) {
        char when[40];
        format_time(res->opens_ms, when, sizeof(when));
        snprintf(msg, sizeof(msg),
                 "EXHAUSTED no range of the sequence is valid now; the next opens at %s", when);
    } else if (res->remaining == 0) {
        snprintf(msg, sizeof(msg),
                 "EXHAUSTED no numbers left: every range is used up or expired (NOTAFTER)");
    } else {
        snprintf(msg, sizeof(msg), "EXHAUSTED only %llu numbers left in the sequence's ranges",
                 (unsigned long long)res->remaining);
    }
    resp_write_error(out, msg);
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
    case BATCH_ERR_CLOCK:
        resp_write_error(out, "TRYAGAIN clock offset: this leader's clock is further than "
                              "--max-clock-offset-ms from its followers'; the request was "
                              "not applied, retry");
        return;
    case BATCH_ERR_FORMING:
        resp_write_error(out, "CLUSTERDOWN forming: this new cluster serves once its leader has "
                              "reached every founding member (INFO cluster_waiting_for); the "
                              "request was not applied");
        return;
    default:
        resp_write_error(out, "ERR this node hit a disk error and stopped serving");
        return;
    }
    if (res->status == SEQ_ERR_EXHAUSTED) {
        format_exhausted(res, out);
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
