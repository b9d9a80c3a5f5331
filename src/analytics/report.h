/* report.h - analysis results as JSON documents (cJSON), shared by `custos analyze`
 * and GET /api/v1/analytics/...: see report.c for the shape. Each returns a new
 * object the caller frees with cJSON_Delete, or NULL when out of memory. */
#ifndef CUSTOS_ANALYTICS_REPORT_H
#define CUSTOS_ANALYTICS_REPORT_H

#include <cJSON.h>

#include "analytics/analytics.h"

cJSON *report_kpi(const struct snapshot *s, const struct kpi_result *k);
/* Segment sizes and revenue shares. */
cJSON *report_rfm_segments(const struct rfm_result *f);
/* One row per scored profile. */
cJSON *report_rfm_profiles(const struct snapshot *s, const struct rfm_result *f);
/* step_text: the steps as the user wrote them. */
cJSON *report_funnel(const struct snapshot *s, const struct funnel_options *o,
                     const char *const *step_text, const struct funnel_result *f);
cJSON *report_cohort(const struct cohort_result *c, bool by_first_seen);
cJSON *report_paths(const struct snapshot *s, const struct paths_options *o,
                    const struct paths_result *p);
/* Adds "dp": {noisy, epsilon, cells, epsilon_per_cell, count_noise_scale,
 * orders_noise_scale, sum_noise_scale, clamp_minor, max_orders, note} to rep. */
void report_add_dp(cJSON *rep, const struct dp_answer *a);

#endif
