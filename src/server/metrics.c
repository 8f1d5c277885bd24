/* metrics — counting on the loop thread (see metrics.h). */
#include "metrics.h"

#include <assert.h>
#include <string.h>

/* seconds: 100 µs to 5 s, the span between one fsync and a stalled leader */
static const double latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5};
/* commands in one log entry: 1 to the batch's cap */
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

static void metricsHistogram(metrics_histogram *h, const double *bounds, size_t n)
{
    assert(n <= METRICS_BUCKETS_MAX);
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->n_bounds = n;
}

void metrics_init(metrics *m)
{
    memset(m, 0, sizeof(*m));
    size_t n_latency = sizeof(latency_bounds) / sizeof(latency_bounds[0]);
    for (size_t i = 0; i < METRICS_COMMANDS_MAX; i++) {
        metricsHistogram(&m->latency[i], latency_bounds, n_latency);
    }
    metricsHistogram(&m->commit_seconds, latency_bounds, n_latency);
    metricsHistogram(&m->batch_commands, batch_bounds, sizeof(batch_bounds) / sizeof(batch_bounds[0]));
}

void metrics_observe(metrics_histogram *h, double value)
{
    size_t i = 0;
    while (i < h->n_bounds && value > h->bounds[i]) {
        i++;
    }
    h->buckets[i]++;
    h->count++;
    h->sum += value;
}

void metrics_request(metrics *m, int command, bool error, uint64_t latency_ns)
{
    if (command < 0 || command >= METRICS_COMMANDS_MAX) {
        m->requests_unknown++;
        return;
    }
    m->requests[command][error ? 1 : 0]++;
    metrics_observe(&m->latency[command], (double)latency_ns / 1e9);
}
