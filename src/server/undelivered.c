/* undelivered — reports of replies that never reached a client (see
 * undelivered.h). */
#include "undelivered.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "period.h"

static void undeliveredDone(void *owner, uint64_t tag, const seq_result *res, int err)
{
    (void)owner;
    (void)tag;
    if (err != BATCH_OK) {
        log_warn("undelivered: a report did not reach the log (error %d)", err);
    } else if (res != NULL && res->status != SEQ_OK) {
        log_warn("undelivered: report refused: %s", seq_status_text(res->status));
    }
}

static void undeliveredForwarded(void *owner, uint64_t tag, const char *reply, size_t len, int err)
{
    (void)owner;
    (void)tag;
    if (err != BATCH_OK || (len > 0 && reply[0] == '-')) {
        log_warn("a report forwarded to the leader failed: %.*s", (int)(len > 120 ? 120 : len),
                 err != BATCH_OK ? "no reply" : reply);
    }
}

void undelivered_init(undelivered *u, batcher *b, node *n, forwarder *f)
{
    memset(u, 0, sizeof(*u));
    u->base.done = undeliveredDone;
    u->fbase.done = undeliveredForwarded;
    u->batcher = b;
    u->node = n;
    u->forwarder = f;
}

undelivered_period undelivered_period_of(const seq_result *res)
{
    undelivered_period p = {false, 0, 0};
    if (res != NULL && res->has_period && res->period_kind != 0) {
        p.has = true;
        p.kind = res->period_kind;
        p.id = res->period;
    }
    return p;
}

void undelivered_report(undelivered *u, const char *name, size_t name_len, const seq_run *runs,
                        size_t n_runs, uint64_t grant, bool local, undelivered_period period,
                        const char *cause)
{
    bool granted = grant != 0;
    for (size_t i = 0; i < n_runs; i++) {
        u->reported++;
        if (node_is_leader(u->node) || u->forwarder == NULL) {
            /* Straight into the log: trusted when this process applied the
             * result (nothing else can have released its numbers since). */
            seq_cmd cmd = {.op = SEQ_OP_UNDELIVERED,
                           .name = name,
                           .name_len = name_len,
                           .min = runs[i].first,
                           .max = runs[i].last,
                           .count = local && !granted ? 1 : 0,
                           .has_start = granted,
                           .term = grant,
                           .text = cause,
                           .text_len = strlen(cause),
                           .has_period = period.has,
                           .period_kind = period.kind,
                           .period = period.id};
            batcher_submit(u->batcher, &cmd, &u->base, BATCH_TAG_INTERNAL);
            continue;
        }
        /* Through the leader's client port: never trusted there. */
        char first[24], last[24], grant_text[24], ptext[PERIOD_TEXT_MAX];
        snprintf(first, sizeof(first), "%" PRId64, runs[i].first);
        snprintf(last, sizeof(last), "%" PRId64, runs[i].last);
        snprintf(grant_text, sizeof(grant_text), "%" PRIu64, grant);
        size_t period_len = period.has ? period_text(period.id, period.kind, ptext) : 0;
        resp_arg argv[9] = {{"UNDELIVERED", 11}, {name, name_len}, {first, strlen(first)},
                            {last, strlen(last)}, {cause, strlen(cause)}};
        size_t argc = 5;
        if (granted) {
            argv[argc++] = (resp_arg){"GRANT", 5};
            argv[argc++] = (resp_arg){grant_text, strlen(grant_text)};
        }
        if (period.has) {
            argv[argc++] = (resp_arg){"PERIOD", 6};
            argv[argc++] = (resp_arg){ptext, period_len};
        }
        forwarder_submit(u->forwarder, 2, argv, argc, &u->fbase, BATCH_TAG_INTERNAL, NULL, NULL);
    }
}

void undelivered_served(undelivered *u, const char *name, size_t name_len, uint64_t incarnation,
                        uint64_t term, uint64_t owner, const seq_run *runs, size_t n_runs)
{
    for (size_t i = 0; i < n_runs; i++) {
        u->served++;
        if (node_is_leader(u->node) || u->forwarder == NULL) {
            seq_cmd cmd = {.op = SEQ_OP_SERVED,
                           .name = name,
                           .name_len = name_len,
                           .min = runs[i].first,
                           .max = runs[i].last,
                           .term = term,
                           .node = owner,
                           .incarnation = incarnation};
            batcher_submit(u->batcher, &cmd, &u->base, BATCH_TAG_INTERNAL);
            continue;
        }
        char first[24], last[24], term_text[24], owner_text[24], inc_text[24];
        snprintf(first, sizeof(first), "%" PRId64, runs[i].first);
        snprintf(last, sizeof(last), "%" PRId64, runs[i].last);
        snprintf(term_text, sizeof(term_text), "%" PRIu64, term);
        snprintf(owner_text, sizeof(owner_text), "%" PRIu64, owner);
        snprintf(inc_text, sizeof(inc_text), "%" PRIu64, incarnation);
        resp_arg argv[7] = {{"SERVED", 6},
                            {name, name_len},
                            {first, strlen(first)},
                            {last, strlen(last)},
                            {term_text, strlen(term_text)},
                            {owner_text, strlen(owner_text)},
                            {inc_text, strlen(inc_text)}};
        forwarder_submit(u->forwarder, 2, argv, 7, &u->fbase, BATCH_TAG_INTERNAL, NULL, NULL);
    }
}
