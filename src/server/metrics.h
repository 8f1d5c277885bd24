/* metrics — the counters and histograms behind /metrics (http.c) that INFO
 * did not keep: requests by command and result, their latency, commands
 * per log entry, the time from proposing an entry to applying it.
 *
 * Keeps: written and read on the loop thread only, as plain integers (the
 * HTTP thread never touches them: it asks the loop for a rendering);
 * recording is a few additions, no allocation, no lock, so the request
 * path does not slow down. */
#ifndef SEQD_METRICS_H
#define SEQD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_COMMANDS_MAX 64 /* rows of the command table */
#define METRICS_BUCKETS_MAX 16

/* A Prometheus histogram: bucket i counts observations <= bounds[i]
 * (cumulated only when rendered), plus +Inf, the count and the sum. */
typedef struct metrics_histogram {
    const double *bounds; /* ascending, n_bounds of them */
    size_t n_bounds;
    uint64_t buckets[METRICS_BUCKETS_MAX + 1]; /* the last: above every bound */
    uint64_t count;
    double sum;
} metrics_histogram;

typedef struct metrics {
    uint64_t requests[METRICS_COMMANDS_MAX][2]; /* [command][0: ok, 1: error] */
    uint64_t requests_unknown;                  /* names no command */
    metrics_histogram latency[METRICS_COMMANDS_MAX]; /* seconds, read to reply ready */
    metrics_histogram batch_commands;                /* commands per log entry */
    metrics_histogram commit_seconds;                /* proposed to applied */
} metrics;

void metrics_init(metrics *m);

/* A request answered: its command row (-1: unknown), whether the reply is
 * an error, and its latency. */
void metrics_request(metrics *m, int command, bool error, uint64_t latency_ns);

void metrics_observe(metrics_histogram *h, double value);

#endif
