/* conn_report — the numbers a reply hands out (a NEXT, INCR or RESERVE
 * without KEY), kept from the reply's slot to the socket: should the
 * connection close before its bytes left, those numbers are reported
 * undelivered (undelivered.c), never taken for delivered.
 *
 * Invariants: reports[] is a FIFO in output order, each spanning
 * [begin, end) of the connection's output stream; one is freed only once
 * its end lies CONN_KERNEL_BYTES_MAX behind what was written (no socket
 * buffer holds that much); merged reports stay within CONN_REPORT_RUNS_MAX
 * runs and CONN_REPORT_BYTES_MAX bytes. A leader's reply is read with every
 * length checked against the bytes there are: it is network input. */
#include "conn_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void connReportFree(conn_report *r)
{
    if (!r->borrowed) {
        free(r->name);
        free(r->runs);
    }
    memset(r, 0, sizeof(*r));
}

void connReportOwn(conn_report *r)
{
    if (!r->borrowed) {
        return;
    }
    size_t len = strlen(r->name);
    char *name = connXrealloc(NULL, len + 1);
    memcpy(name, r->name, len + 1);
    seq_run *runs = connXrealloc(NULL, sizeof(*runs) * r->n_runs);
    memcpy(runs, r->runs, sizeof(*runs) * r->n_runs);
    r->name = name;
    r->runs = runs;
    r->runs_cap = r->n_runs;
    r->borrowed = false;
}

/* Reports a reply's numbers undelivered (and frees the report). */
void connReportLost(conn *c, conn_report *r, const char *cause)
{
    if (r->name != NULL && c->srv->env->undelivered != NULL) {
        undelivered_report(c->srv->env->undelivered, r->name, strlen(r->name), r->runs, r->n_runs,
                           r->grant, r->local, r->period, cause);
    }
    connReportFree(r);
}

/* Replies whose bytes were written are delivered as far as we can know,
 * once they are further back than any socket buffer holds: until then a
 * drop at the output cap (a reset) may still discard them unsent. */
void connReportsSent(conn *c)
{
    assert(c->sent_total <= c->out_total);
    size_t k = 0;
    while (k < c->n_reports && c->reports[k].end + CONN_KERNEL_BYTES_MAX <= c->sent_total) {
        connReportFree(&c->reports[k]);
        k++;
    }
    if (k > 0) {
        memmove(c->reports, c->reports + k, sizeof(*c->reports) * (c->n_reports - k));
        c->n_reports -= k;
    }
}

/* Appends r's runs to last, which is for the same sequence and kind,
 * merging a run that continues the last one (a stream of NEXTs becomes
 * one run: a client that never reads costs a report, not one per reply). */
static void connReportMerge(conn_report *last, conn_report *r)
{
    assert(last->n_runs > 0 && last != r && !last->borrowed);
    if (last->n_runs + r->n_runs > last->runs_cap) {
        /* doubling: replies of many clients on one sequence rarely
         * continue each other, and a realloc per reply showed up */
        size_t cap = last->runs_cap < 4 ? 4 : last->runs_cap;
        while (cap < last->n_runs + r->n_runs) {
            cap *= 2;
        }
        last->runs = connXrealloc(last->runs, sizeof(*last->runs) * cap);
        last->runs_cap = cap;
    }
    for (size_t i = 0; i < r->n_runs; i++) {
        seq_run *tail = &last->runs[last->n_runs - 1];
        /* one UNDELIVERED run holds fewer than SEQ_COUNT_MAX numbers */
        uint64_t merged = (uint64_t)r->runs[i].last - (uint64_t)tail->first;
        if (tail->last != INT64_MAX && tail->last + 1 == r->runs[i].first &&
            merged < SEQ_COUNT_MAX) {
            tail->last = r->runs[i].last;
        } else {
            last->runs[last->n_runs++] = r->runs[i];
        }
    }
    connReportFree(r);
}

void connReportPush(conn *c, conn_report *r)
{
    if (r == NULL || r->name == NULL) {
        return;
    }
    assert(r->begin <= c->out_total && r->n_runs > 0);
    conn_report *last = c->n_reports > 0 ? &c->reports[c->n_reports - 1] : NULL;
    bool same_period = last != NULL && last->period.has == r->period.has &&
                       last->period.kind == r->period.kind && last->period.id == r->period.id;
    if (last != NULL && same_period && last->grant == 0 && r->grant == 0 && last->local == r->local &&
        last->end == r->begin && c->out_total - last->begin <= CONN_REPORT_BYTES_MAX &&
        last->n_runs + r->n_runs <= CONN_REPORT_RUNS_MAX && strcmp(last->name, r->name) == 0) {
        connReportMerge(last, r);
        last->end = c->out_total;
        return;
    }
    if (c->n_reports == c->reports_cap) {
        c->reports_cap = c->reports_cap == 0 ? 16 : c->reports_cap * 2;
        c->reports = connXrealloc(c->reports, sizeof(*c->reports) * c->reports_cap);
    }
    connReportOwn(r);
    r->end = c->out_total;
    if (r->runs_cap < r->n_runs) {
        r->runs_cap = r->n_runs;
    }
    c->reports[c->n_reports++] = *r;
    memset(r, 0, sizeof(*r));
}

/* An integer reply ":n\r\n" at reply[*at], bounded by len. */
static bool connReplyInt(const char *reply, size_t len, size_t *at, int64_t *v)
{
    size_t i = *at;
    if (i >= len || reply[i] != ':') {
        return false;
    }
    i++;
    bool neg = i < len && reply[i] == '-';
    i += neg ? 1 : 0;
    uint64_t x = 0;
    size_t digits = 0;
    for (; i < len && reply[i] >= '0' && reply[i] <= '9'; i++, digits++) {
        if (x > (UINT64_MAX - 9) / 10) {
            return false;
        }
        x = x * 10 + (uint64_t)(reply[i] - '0');
    }
    if (digits == 0 || i + 1 >= len || reply[i] != '\r' || reply[i + 1] != '\n' ||
        x > (uint64_t)INT64_MAX + (neg ? 1 : 0)) {
        return false;
    }
    *v = neg ? (int64_t)(0 - x) : (int64_t)x;
    *at = i + 2;
    return true;
}

/* The runs in a leader's reply to NEXT: an integer, or a flat array of
 * first/last integers. Returns a malloc'd array (caller frees) and its
 * length in *n, or NULL when the reply is neither. */
seq_run *conn_reply_runs(const char *reply, size_t len, size_t *n)
{
    size_t at = 0;
    int64_t v;
    if (connReplyInt(reply, len, &at, &v)) {
        seq_run *one = connXrealloc(NULL, sizeof(*one));
        one->first = one->last = v;
        *n = 1;
        return one;
    }
    if (len < 4 || reply[0] != '*') {
        return NULL;
    }
    uint64_t count = 0;
    for (at = 1; at < len && reply[at] >= '0' && reply[at] <= '9' && count <= 2 * SEQ_COUNT_MAX;
         at++) {
        count = count * 10 + (uint64_t)(reply[at] - '0');
    }
    if (at + 1 >= len || reply[at] != '\r' || reply[at + 1] != '\n' || count < 2 ||
        count % 2 != 0 || count > 2 * SEQ_COUNT_MAX) {
        return NULL;
    }
    at += 2;
    seq_run *runs = connXrealloc(NULL, sizeof(*runs) * (count / 2));
    for (uint64_t i = 0; i < count / 2; i++) {
        if (!connReplyInt(reply, len, &at, &runs[i].first) ||
            !connReplyInt(reply, len, &at, &runs[i].last)) {
            free(runs);
            return NULL;
        }
    }
    *n = count / 2;
    return runs;
}
