/* metrics.c - see metrics.h. */
#include "http/metrics.h"

const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};

void metrics_observe(struct metrics_histogram *h, uint64_t micros)
{
    double s = (double)micros / 1e6;
    size_t i = 0;
    while (i < METRICS_LATENCY_BUCKETS && s > metrics_latency_bounds[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum_us += micros;
}

void metrics_histogram_render(struct textbuf *b, const char *name, const char *help,
                              const char *labels, struct metrics_histogram *h)
{
    textbuf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (size_t i = 0; i < METRICS_LATENCY_BUCKETS; i++) {
        cum += h->bucket[i];
        textbuf_printf(b, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels, sep,
                       metrics_latency_bounds[i], cum);
    }
    cum += h->bucket[METRICS_LATENCY_BUCKETS];
    textbuf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, cum);
    textbuf_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %" PRIu64 "\n", name, labels,
                   (double)h->sum_us / 1e6, name, labels, (uint64_t)h->count);
}
