/* metrics.h - counters and histograms for /metrics (Prometheus text format 0.0.4).
 * Counters are lock-free atomics, safe to bump from any thread. */
#ifndef CUSTOS_METRICS_H
#define CUSTOS_METRICS_H

#include "core/textbuf.h"

/* Latency histogram buckets, in seconds. */
#define METRICS_LATENCY_BUCKETS 12

struct metrics_histogram {
    _Atomic uint64_t bucket[METRICS_LATENCY_BUCKETS + 1]; /* the last is +Inf */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

extern const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS];

void metrics_observe(struct metrics_histogram *h, uint64_t micros);

/* Appends the histogram h in Prometheus text format to b (core/textbuf.h). */
void metrics_histogram_render(struct textbuf *b, const char *name, const char *help,
                              const char *labels, struct metrics_histogram *h);

#endif
