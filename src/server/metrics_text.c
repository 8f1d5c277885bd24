/* metrics_text — the Prometheus text format (0.0.4) of everything a node
 * knows about itself, and whether it is ready to serve; built on the loop
 * thread, where the counters live (http.c asks for it).
 *
 * Keeps: names follow Prometheus's conventions (base units in the name,
 * `_total` on counters); label values are escaped; at most max_sequences
 * sequences get series of their own and the rest are summed under
 * sequence="" (no real name is empty), so a million sequences cannot blow
 * up a scrape; the text is at most METRICS_TEXT_MAX bytes. */
#include "metrics_text.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

typedef struct text {
    char *p;
    size_t len, cap;
    bool full;
} text;

__attribute__((format(printf, 2, 3))) static void put(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->len;
        int n = vsnprintf(t->p + t->len, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t want = t->cap * 2 > t->len + (size_t)n + 1 ? t->cap * 2 : t->len + (size_t)n + 1;
        char *grown = want <= METRICS_TEXT_MAX ? realloc(t->p, want) : NULL;
        if (grown == NULL) {
            t->full = true; /* cut at the last whole line */
            t->p[t->len] = '\0';
            return;
        }
        t->p = grown;
        t->cap = want;
    }
}

static void family(text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \ and " escaped (names are printable, no newline). */
static void labelValue(const char *v, char *out, size_t cap)
{
    size_t n = 0;
    for (; *v != '\0' && n + 3 < cap; v++) {
        if (*v == '\\' || *v == '"') {
            out[n++] = '\\';
        }
        out[n++] = *v;
    }
    out[n] = '\0';
}

static void histogram(text *t, const char *name, const char *labels, const metrics_histogram *h)
{
    uint64_t cum = 0;
    const char *sep = labels[0] != '\0' ? "," : "";
    for (size_t i = 0; i < h->n_bounds; i++) {
        cum += h->buckets[i];
        put(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, h->bounds[i], (unsigned long long)cum);
    }
    cum += h->buckets[h->n_bounds];
    put(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
    const char *open = labels[0] != '\0' ? "{" : "", *close = labels[0] != '\0' ? "}" : "";
    put(t, "%s_sum%s%s%s %.9g\n%s_count%s%s%s %llu\n", name, open, labels, close, h->sum, name, open,
        labels, close, (unsigned long long)h->count);
}

static void requests(text *t, const metrics *m)
{
    size_t n = commands_count() < METRICS_COMMANDS_MAX ? commands_count() : METRICS_COMMANDS_MAX;
    family(t, "seqd_requests_total", "counter", "Requests answered, by command and result.");
    for (size_t i = 0; i < n; i++) {
        for (int e = 0; e < 2; e++) {
            if (m->requests[i][e] > 0) {
                put(t, "seqd_requests_total{command=\"%s\",result=\"%s\"} %llu\n", commands_name(i),
                    e ? "error" : "ok", (unsigned long long)m->requests[i][e]);
            }
        }
    }
    put(t, "seqd_requests_total{command=\"unknown\",result=\"error\"} %llu\n",
        (unsigned long long)m->requests_unknown);
    family(t, "seqd_request_duration_seconds", "histogram",
           "From a request's dispatch to its reply being ready, by command.");
    for (size_t i = 0; i < n; i++) {
        if (m->latency[i].count > 0) {
            char labels[64];
            snprintf(labels, sizeof(labels), "command=\"%s\"", commands_name(i));
            histogram(t, "seqd_request_duration_seconds", labels, &m->latency[i]);
        }
    }
    family(t, "seqd_log_entry_commands", "histogram", "Commands in each log entry this node proposed.");
    histogram(t, "seqd_log_entry_commands", "", &m->batch_commands);
    family(t, "seqd_commit_duration_seconds", "histogram",
           "From proposing a log entry to applying it, on the node that proposed it.");
    histogram(t, "seqd_commit_duration_seconds", "", &m->commit_seconds);
}

static void gauge(text *t, const char *name, const char *help, unsigned long long v)
{
    family(t, name, "gauge", help);
    put(t, "%s %llu\n", name, v);
}

static void counter(text *t, const char *name, const char *help, unsigned long long v)
{
    family(t, name, "counter", help);
    put(t, "%s %llu\n", name, v);
}

static void raftState(text *t, const command_env *env)
{
    struct raft *r = &env->node->raft;
    int state = raft_state(r);
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(r, &leader, &address);
    family(t, "seqd_raft_role", "gauge", "1 for this node's Raft role.");
    static const char *roles[] = {"follower", "candidate", "leader"};
    for (int i = 0; i < 3; i++) {
        bool is = (i == 0 && state == RAFT_FOLLOWER) || (i == 1 && state == RAFT_CANDIDATE) ||
                  (i == 2 && state == RAFT_LEADER);
        put(t, "seqd_raft_role{role=\"%s\"} %d\n", roles[i], is ? 1 : 0);
    }
    gauge(t, "seqd_raft_has_leader", "1 when this node knows a leader.", leader != 0);
    gauge(t, "seqd_raft_term", "The current Raft term.", raft_current_term(r));
    gauge(t, "seqd_raft_commit_index", "The last log index known committed.", raft_commit_index(r));
    gauge(t, "seqd_raft_applied_index", "The last log index applied.", raft_last_applied(r));
    gauge(t, "seqd_raft_last_index", "The last log index.", raft_last_index(r));
    counter(t, "seqd_raft_leader_changes_seen_total", "New leaders this node has seen.",
            env->node->leader_changes);
    gauge(t, "seqd_log_entries_in_flight", "Log entries proposed and not yet applied.",
          env->batcher->n_inflight);
    gauge(t, "seqd_cluster_members", "Servers in the Raft configuration.", r->configuration.n);
    if (state == RAFT_LEADER) {
        family(t, "seqd_raft_member_match_index", "gauge",
               "The leader's view of each member's last replicated index.");
        for (unsigned i = 0; i < r->configuration.n; i++) {
            raft_index match = 0;
            const struct raft_server *srv = &r->configuration.servers[i];
            if (raft_match_index(r, srv->id, &match) == 0) {
                char a[96];
                labelValue(srv->address, a, sizeof(a));
                put(t, "seqd_raft_member_match_index{member=\"%s\"} %llu\n", a,
                    (unsigned long long)match);
            }
        }
    }
    counter(t, "seqd_snapshots_total", "Snapshots this node has taken.", env->node->fsm.snapshots);
    family(t, "seqd_snapshot_duration_seconds_total", "counter", "Time spent taking snapshots.");
    put(t, "seqd_snapshot_duration_seconds_total %.9g\n", env->node->fsm.snapshot_seconds);
}

/* The per-sequence families, in the order they are written. */
enum {
    SEQ_ISSUED,
    SEQ_REMAINING,
    SEQ_WARNING,
    SEQ_EXHAUSTION, /* has no sum: a time to exhaustion does not add up */
    SEQ_OPEN,
    SEQ_RUNS,
    SEQ_FAMILIES
};

static const char *const seq_families[SEQ_FAMILIES][3] = {
    {"seqd_sequence_issued_total", "counter", "Numbers issued by the sequence."},
    {"seqd_sequence_remaining", "gauge", "Numbers the sequence can still issue."},
    {"seqd_sequence_warning", "gauge", "1 when the remaining numbers are at or below WARN."},
    {"seqd_sequence_exhaustion_seconds", "gauge",
     "Seconds until the sequence runs out at its recent rate (absent: no rate)."},
    {"seqd_sequence_open_reservations", "gauge", "Reserved or released ledger runs (gapless)."},
    {"seqd_sequence_ledger_runs", "gauge", "Runs the ledger holds."},
};

static uint64_t summaryValue(int family, const seq_summary *q)
{
    switch (family) {
    case SEQ_ISSUED:
        return q->issued;
    case SEQ_REMAINING:
        return q->remaining;
    case SEQ_WARNING:
        return q->warned ? 1 : 0; /* summed: how many are at their threshold */
    case SEQ_OPEN:
        return q->open_runs;
    default:
        assert(family == SEQ_RUNS);
        return q->ledger_runs;
    }
}

typedef struct per_sequence {
    text *t;
    int family;
    size_t shown, max;
    uint64_t rest; /* the sum over the sequences past max */
    size_t n_rest;
} per_sequence;

static void perSequence(void *ctx, const seq_summary *q)
{
    per_sequence *p = ctx;
    const char *metric = seq_families[p->family][0];
    if (p->shown >= p->max) {
        p->n_rest++;
        if (p->family != SEQ_EXHAUSTION) {
            uint64_t v = summaryValue(p->family, q);
            p->rest = p->rest > UINT64_MAX - v ? UINT64_MAX : p->rest + v;
        }
        return;
    }
    p->shown++;
    char name[2 * 256 + 1];
    labelValue(q->name, name, sizeof(name));
    if (p->family != SEQ_EXHAUSTION) {
        put(p->t, "%s{sequence=\"%s\"} %llu\n", metric, name,
            (unsigned long long)summaryValue(p->family, q));
    } else if (q->eta_s >= 0) {
        put(p->t, "%s{sequence=\"%s\"} %lld\n", metric, name, (long long)q->eta_s);
    }
}

static void sequences(text *t, const command_env *env, size_t max)
{
    const seq_state *s = env->node->fsm.state;
    gauge(t, "seqd_sequences", "Live sequences.", seq_count_live(s));
    for (int f = 0; f < SEQ_FAMILIES; f++) {
        family(t, seq_families[f][0], seq_families[f][1], seq_families[f][2]);
        per_sequence p = {.t = t, .family = f, .max = max};
        seq_each_summary(s, perSequence, &p);
        if (p.n_rest > 0 && f != SEQ_EXHAUSTION) {
            put(t, "%s{sequence=\"\"} %llu\n", seq_families[f][0], (unsigned long long)p.rest);
        }
    }
    gauge(t, "seqd_sequences_summed", "Sequences past --metrics-max-sequences, summed under sequence=\"\".",
          seq_count_live(s) > max ? seq_count_live(s) - max : 0);
}

char *metrics_text(const command_env *env, size_t max_sequences, size_t *len)
{
    text t = {malloc(65536), 0, 65536, false};
    if (t.p == NULL) {
        return NULL;
    }
    t.p[0] = '\0';
    family(&t, "seqd_build_info", "gauge", "The seqd version, as a label.");
    put(&t, "seqd_build_info{version=\"%s\"} 1\n", SEQD_VERSION);
    const server_stats *st = env->stats;
    gauge(&t, "seqd_connected_clients", "Client connections open.", st->connected_clients);
    counter(&t, "seqd_connections_total", "Client connections accepted.", st->total_connections);
    counter(&t, "seqd_connections_rejected_total", "Connections refused past --max-clients.",
            st->rejected_connections);
    counter(&t, "seqd_protocol_errors_total", "Malformed requests.", st->protocol_errors);
    counter(&t, "seqd_acl_denied_total", "Requests refused by NOPERM.",
            st->acl_denied_cmd + st->acl_denied_key);
    counter(&t, "seqd_noauth_refused_total", "Requests refused before a login.", st->noauth_refused);
    requests(&t, env->metrics);
    raftState(&t, env);
    sequences(&t, env, max_sequences);
    *len = t.len;
    return t.p;
}

bool metrics_ready(const command_env *env, char *why, size_t cap)
{
    struct raft *r = &env->node->raft;
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(r, &leader, &address);
    if (env->batcher->failed) {
        snprintf(why, cap, "the node stopped serving after a disk error");
        return false;
    }
    if (leader == 0) {
        snprintf(why, cap, "no leader is known");
        return false;
    }
    if (raft_last_applied(r) < raft_commit_index(r)) {
        snprintf(why, cap, "applied index %llu is behind the commit index %llu",
                 (unsigned long long)raft_last_applied(r), (unsigned long long)raft_commit_index(r));
        return false;
    }
    snprintf(why, cap, "ok");
    return true;
}
