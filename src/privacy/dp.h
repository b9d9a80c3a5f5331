/* dp.h - differentially private aggregates (issue 6, "differential privacy").
 *
 * The Laplace mechanism: an aggregate plus noise drawn from Laplace(0, s/epsilon),
 * where s, the sensitivity, is the most one person can change the aggregate. Counts
 * count profiles (each contributes 0 or 1: s = 1); sums clamp each profile's total to
 * [lo, hi] first (s = max(|lo|, |hi|)). The noise comes from libsodium's randombytes
 * (the OS's CSPRNG), never from a seeded generator. Results are rounded (counts to
 * whole numbers, sums to the clamp's resolution is the caller's choice), which is
 * post-processing and costs no privacy.
 *
 * Every noisy answer spends its epsilon from the budget of the API key that asked
 * (dp_charge; the `dp-budget` setting is each key's total). An exhausted budget is
 * ERR_LIMIT: answer 429 {"code":"privacy_budget_exhausted"}.
 *
 * Analytics uses it through src/analytics/dp_answer.c (kpi_privatize and the others:
 * per-profile clamping, epsilon split over an answer's cells); the HTTP API charges the
 * calling key with dp_charge before answering (src/segment/live.c). */
#ifndef CUSTOS_PRIVACY_DP_H
#define CUSTOS_PRIVACY_DP_H

#include "core/common.h"
#include "store/store.h"

#define DP_EPSILON_MIN 0.001 /* smaller: noise swamps any aggregate */
#define DP_EPSILON_MAX 10.0  /* larger: hardly private */
#define DP_BUDGET_MAX  1000.0

/* One draw of Laplace(0, scale) noise, scale > 0. Thread-safe. */
double dp_laplace(double scale);

/* Checks an epsilon (DP_EPSILON_MIN..DP_EPSILON_MAX); ERR_INVALID saying the range. */
int dp_epsilon_check(double epsilon, struct err *e);

/* Parses the `dp-budget` setting: a number in (0, DP_BUDGET_MAX]. */
int dp_budget_parse(const char *text, double *out, struct err *e);

/* A noisy count of profiles: count + Laplace(1/epsilon), rounded, at least 0. */
int dp_count(int64_t count, double epsilon, double *out, struct err *e);

/* A noisy sum of per-profile values v[0..n) (one value per profile: sum a profile's
 * rows first), each clamped to [lo, hi] (lo <= hi): sum + Laplace(max(|lo|,|hi|)/
 * epsilon). *sensitivity (may be NULL) receives the sensitivity used. */
int dp_sum(const double *v, size_t n, double lo, double hi, double epsilon, double *out,
           double *sensitivity, struct err *e);

/* Spends epsilon from API key key_id's budget (the key's own, else cfg.dp_budget) in
 * st. Returns 0 and the budget left in *remaining (may be NULL); ERR_LIMIT, spending
 * nothing, when it would go over ("the privacy budget of API key N is spent: X of Y
 * used"); ERR_INVALID for a bad epsilon; the store's error otherwise. */
int dp_charge(struct store *st, int64_t key_id, double epsilon, double *remaining, struct err *e);

#endif
