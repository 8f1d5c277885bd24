/* reply_format — a deferred call's reply from its applied result
 * (commands_format_result), in the style the handler chose and the
 * connection's protocol (RESP2 or RESP3). Keeps: every result is answered
 * with exactly one reply; numbers are written as given, never rounded. */
#include "commands_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

/* DESCRIBE's document part: the format, and for a periodic sequence the
 * period described, its kind, offset and how many periods closed. */
static bool describe_has_labels(const seq_result *res)
{
    for (size_t i = 0; i < res->n_ranges; i++) {
        if (res->ranges[i].label[0] != '\0') {
            return true;
        }
    }
    return false;
}

static size_t describe_doc_fields(const seq_result *res)
{
    return (res->format != NULL && res->format[0] != '\0' ? 1 : 0) + (res->has_period ? 4 : 0) +
           (describe_has_labels(res) ? 1 : 0);
}

static void format_describe_doc(const seq_result *res, resp_buf *out)
{
    if (describe_has_labels(res)) {
        /* the ranges' labels in the order of `ranges` ("" for none) */
        resp_write_cstr(out, "labels");
        resp_write_array(out, res->n_ranges);
        for (size_t i = 0; i < res->n_ranges; i++) {
            resp_write_cstr(out, res->ranges[i].label);
        }
    }
    if (res->format != NULL && res->format[0] != '\0') {
        resp_write_cstr(out, "format");
        resp_write_cstr(out, res->format);
    }
    if (res->has_period) {
        char text[PERIOD_TEXT_MAX];
        period_text(res->period, res->period_kind, text);
        resp_write_cstr(out, "period");
        resp_write_cstr(out, text);
        resp_write_cstr(out, "periods");
        resp_write_cstr(out, period_kind_name(res->period_kind));
        char tz[8];
        period_tz_text(res->tz_minutes, tz);
        resp_write_cstr(out, "tz");
        resp_write_cstr(out, tz);
        resp_write_cstr(out, "closed_periods");
        resp_write_int(out, (int64_t)res->n_closed);
    }
}

static void format_describe(const seq_result *res, int proto, resp_buf *out)
{
    bool cached = res->mode == SEQ_MODE_CACHED;
    resp_write_map(out, (cached ? 12 : 11) + describe_doc_fields(res), proto);
    resp_write_cstr(out, "name");
    resp_write_bulk(out, res->name, res->name_len);
    resp_write_cstr(out, "ranges");
    resp_write_array(out, res->n_ranges);
    for (size_t i = 0; i < res->n_ranges; i++) {
        const seq_range_info *r = &res->ranges[i];
        bool label = r->label[0] != '\0';
        bool window = label || r->not_before != INT64_MIN || r->not_after != INT64_MAX;
        /* [min, max], with a window [min, max, not_before_ms, not_after_ms],
         * and with a label [min, max, not_before_ms, not_after_ms, label] */
        resp_write_array(out, label ? 5 : window ? 4 : 2);
        resp_write_int(out, r->min);
        resp_write_int(out, r->max);
        if (window) {
            write_time_or_null(out, r->not_before, INT64_MIN, proto);
            write_time_or_null(out, r->not_after, INT64_MAX, proto);
        }
        if (label) {
            resp_write_cstr(out, r->label);
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
    format_describe_doc(res, out);
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
        resp_write_array(out, 6);
        resp_write_int(out, run->first);
        resp_write_int(out, run->last);
        resp_write_cstr(out, state_name(run->state));
        resp_write_cstr(out, run->reason != NULL ? run->reason : "");
        resp_write_int(out, run->time_ms);
        resp_write_cstr(out, run->by); /* who: "" for the server, or before users were kept */
    }
}

/* LOOKUP: state, then what is known: reason and time_ms for a ledger
 * state, until_ms for a live reservation, key for a keyed gapless number. */
static void format_lookup_as(const seq_result *res, int proto, bool parsed, resp_buf *out)
{
    bool reason = res->reason != NULL;
    bool time = res->time_ms != INT64_MIN;
    bool until = res->state == SEQ_NUM_RESERVED && res->until_ms != INT64_MAX;
    bool key = res->key != NULL;
    bool by = res->by[0] != '\0';
    bool period = res->has_period;
    /* PARSE (and LOOKUP of a printed number) first says which number it is */
    resp_write_map(out, 1 + reason + time + until + key + by + period + (parsed ? 2 : 0), proto);
    if (parsed) {
        resp_write_cstr(out, "number");
        resp_write_int(out, res->number);
        resp_write_cstr(out, "text");
        resp_write_cstr(out, res->text != NULL ? res->text : "");
    }
    if (period) {
        char text[PERIOD_TEXT_MAX];
        period_text(res->period, res->period_kind != 0 ? res->period_kind : PERIOD_YEARLY, text);
        resp_write_cstr(out, "period");
        resp_write_cstr(out, text);
    }
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
    if (by) {
        resp_write_cstr(out, "user");
        resp_write_cstr(out, res->by);
    }
}

/* LOOKUP: an integer the core read as a printed number answers as PARSE */
static void format_lookup(const seq_result *res, int proto, resp_buf *out)
{
    format_lookup_as(res, proto, res->text != NULL, out);
}

/* NEXT ... TEXT: one bulk string, or with COUNT an array of them. */
static void format_texts(const seq_result *res, bool array, resp_buf *out)
{
    if (res->n_texts == 0) {
        /* the numbers were issued but could not be printed (out of memory):
         * an error, not a missing reply that would shift the pipeline */
        resp_write_error(out, "ERR the numbers were issued but their document numbers could not be printed; RENDER them");
        return;
    }
    if (array) {
        resp_write_array(out, res->n_texts);
    }
    for (size_t i = 0; i < res->n_texts && (array || i == 0); i++) {
        resp_write_cstr(out, res->texts[i]);
    }
}

static void format_exhausted(const seq_result *res, resp_buf *out)
{
    char msg[200];
    if (res->remaining == 0 && res->opens_ms != INT64_MAX) {
        char when[40];
        cmd_format_time(res->opens_ms, when, sizeof(when));
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

/* The error a batch that could not be applied answers (err != BATCH_OK). */
static const char *batch_error_text(int err)
{
    assert(err != BATCH_OK);
    switch (err) {
    case BATCH_ERR_TRYAGAIN:
        return "TRYAGAIN no leader to commit the request; it was not applied, retry";
    case BATCH_ERR_UNKNOWN:
        return "TRYAGAIN outcome unknown: the request may have been applied; "
               "retry with the same KEY to get its numbers";
    case BATCH_ERR_CLUSTERDOWN:
        return "CLUSTERDOWN no leader: the cluster has no quorum; the request "
               "was not applied";
    case BATCH_ERR_SHUTDOWN:
        return "TRYAGAIN server is shutting down; the request was not applied";
    case BATCH_ERR_CLOCK:
        return "TRYAGAIN clock offset: this leader's clock is further than "
               "--max-clock-offset-ms from its followers'; the request was "
               "not applied, retry";
    case BATCH_ERR_FORMING:
        return "CLUSTERDOWN forming: this new cluster serves once its leader has "
               "reached every founding member (INFO cluster_waiting_for); the "
               "request was not applied";
    default:
        return "ERR this node hit a disk error and stopped serving";
    }
}

/* The runs as a flat array of first/last pairs. */
static void format_runs(const seq_result *res, resp_buf *out)
{
    resp_write_array(out, 2 * res->n_runs);
    for (size_t i = 0; i < res->n_runs; i++) {
        resp_write_int(out, res->runs[i].first);
        resp_write_int(out, res->runs[i].last);
    }
}

static bool acl_is_flag(const char *t)
{
    return strcmp(t, "on") == 0 || strcmp(t, "off") == 0 || strcmp(t, "nopass") == 0;
}

/* The rules that start with one of prefixes, one space apart, into text. */
static void acl_rules_text(const seq_result *res, const char *prefixes, char *text, size_t cap)
{
    size_t at = 0;
    text[0] = '\0';
    for (size_t i = 0; i < res->n_names; i++) {
        const char *t = res->names[i];
        if (!acl_is_flag(t) && strchr(prefixes, t[0]) != NULL && at < cap) {
            int w = snprintf(text + at, cap - at, "%s%s", at > 0 ? " " : "", t);
            at += w > 0 ? (size_t)w : 0;
        }
    }
}

/* The rules that start with c, as an array (c stripped). */
static void acl_rules_array(const seq_result *res, bool flags, char c, resp_buf *out)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            resp_write_array(out, n);
        }
        for (size_t i = 0; i < res->n_names; i++) {
            const char *t = res->names[i];
            bool wanted = flags ? acl_is_flag(t) : t[0] == c;
            if (wanted && pass == 0) {
                n++;
            } else if (wanted) {
                resp_write_cstr(out, t + (flags ? 0 : 1));
            }
        }
    }
}

/* ACL GETUSER as Redis 7 answers it: flags, passwords (the hashes),
 * commands, keys, channels, selectors. */
static void format_acl_user(const seq_result *res, int proto, resp_buf *out)
{
    char text[SEQ_ACL_TEXT_MAX];
    resp_write_map(out, 6, proto);
    resp_write_cstr(out, "flags");
    acl_rules_array(res, true, 0, out);
    resp_write_cstr(out, "passwords");
    acl_rules_array(res, false, '#', out);
    resp_write_cstr(out, "commands");
    acl_rules_text(res, "+-", text, sizeof(text));
    resp_write_cstr(out, text);
    resp_write_cstr(out, "keys");
    acl_rules_text(res, "~", text, sizeof(text));
    resp_write_cstr(out, text);
    resp_write_cstr(out, "channels");
    resp_write_cstr(out, "");
    resp_write_cstr(out, "selectors");
    resp_write_array(out, 0);
}

void commands_format_result(const seq_result *res, int err, uint8_t style, int proto,
                            resp_buf *out)
{
    if (err != BATCH_OK) {
        resp_write_error(out, batch_error_text(err));
        return;
    }
    assert(res != NULL);
    if (res->status == SEQ_ERR_EXHAUSTED) {
        format_exhausted(res, out);
        return;
    }
    if (style == STYLE_ACL_USER && res->status == SEQ_ERR_NOUSER) {
        resp_write_null(out, proto);
        return;
    }
    if (res->status != SEQ_OK) {
        resp_write_error(out, seq_status_text(res->status));
        return;
    }
    switch (style) {
    case STYLE_COUNT: write_u64(out, res->issued); break;
    case STYLE_ACL_USER: format_acl_user(res, proto, out); break;
    case STYLE_NUMBER:
        assert(res->n_runs >= 1);
        resp_write_int(out, res->runs[0].first);
        break;
    case STYLE_RUNS: format_runs(res, out); break;
    case STYLE_DESCRIBE: format_describe(res, proto, out); break;
    case STYLE_GAPS: format_gaps(res, out); break;
    case STYLE_LOOKUP: format_lookup(res, proto, out); break;
    case STYLE_PARSE: format_lookup_as(res, proto, true, out); break;
    case STYLE_TEXT:
        if (res->text != NULL) {
            resp_write_cstr(out, res->text); /* RENDER */
        } else {
            format_texts(res, false, out);
        }
        break;
    case STYLE_TEXTS: format_texts(res, true, out); break;
    case STYLE_LOOKUP_KEY:
        if (res->n_runs == 0) {
            resp_write_null(out, proto);
        } else {
            format_runs(res, out);
        }
        break;
    case STYLE_LIST:
        resp_write_array(out, res->n_names);
        for (size_t i = 0; i < res->n_names; i++) {
            resp_write_cstr(out, res->names[i]);
        }
        break;
    default: resp_write_simple(out, "OK"); break;
    }
}
