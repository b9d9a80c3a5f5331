/* dp.c - the Laplace mechanism and per-key privacy budgets. See dp.h. */
#include <math.h>
#include <sodium.h>

#include "core/config.h"
#include "core/timeutil.h"
#include "privacy/dp.h"

/* A uniform double in (0, 1): 53 random bits, never 0 or 1. */
static double uniform_open(void)
{
    uint64_t r;
    randombytes_buf(&r, sizeof(r));
    r >>= 11;
    return ((double)r + 0.5) / 9007199254740992.0; /* 2^53 */
}

double dp_laplace(double scale)
{
    /* The inverse of the Laplace CDF at a uniform point. */
    double u = uniform_open();
    return u < 0.5 ? scale * log(2.0 * u) : -scale * log(2.0 * (1.0 - u));
}

int dp_epsilon_check(double epsilon, struct err *e)
{
    if (!(epsilon >= DP_EPSILON_MIN && epsilon <= DP_EPSILON_MAX))
        return err_set(e, ERR_INVALID, "epsilon must be between %g and %g", DP_EPSILON_MIN,
                       DP_EPSILON_MAX);
    return 0;
}

int dp_budget_parse(const char *text, double *out, struct err *e)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v > 0 && v <= DP_BUDGET_MAX))
        return err_set(e, ERR_INVALID,
                       "dp-budget: \"%.40s\" is not a number above 0 and at most %g", text,
                       DP_BUDGET_MAX);
    *out = v;
    return 0;
}

int dp_count(int64_t count, double epsilon, double *out, struct err *e)
{
    int rc = dp_epsilon_check(epsilon, e);
    if (rc)
        return rc;
    if (count < 0)
        return err_set(e, ERR_INVALID, "a count is not negative");
    double v = round((double)count + dp_laplace(1.0 / epsilon));
    *out = v < 0 ? 0 : v;
    return 0;
}

int dp_sum(const double *v, size_t n, double lo, double hi, double epsilon, double *out,
           double *sensitivity, struct err *e)
{
    int rc = dp_epsilon_check(epsilon, e);
    if (rc)
        return rc;
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
        return err_set(e, ERR_INVALID, "the clamp needs finite bounds with lo <= hi");
    double s = fmax(fabs(lo), fabs(hi));
    if (s == 0)
        return err_set(e, ERR_INVALID, "a clamp of [0, 0] sums nothing");
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        if (isnan(x))
            continue; /* a profile without a value contributes nothing */
        sum += x < lo ? lo : x > hi ? hi : x;
    }
    *out = sum + dp_laplace(s / epsilon);
    if (sensitivity)
        *sensitivity = s;
    return 0;
}

int dp_charge(struct store *st, int64_t key_id, double epsilon, double *remaining, struct err *e)
{
    int rc = dp_epsilon_check(epsilon, e);
    if (rc)
        return rc;
    double limit;
    if ((rc = dp_budget_parse(cfg.dp_budget ? cfg.dp_budget : "10", &limit, e)))
        return rc;
    double spent = 0, budget = limit;
    struct err se = {0};
    rc = st->ops->dp_spend(st, key_id, epsilon, limit, time_now_ms(), &spent, &budget, &se);
    if (rc == ERR_LIMIT)
        return err_set(e, ERR_LIMIT,
                       "the privacy budget of API key %" PRId64
                       " is spent: %.3g of %.3g used, %.3g asked",
                       key_id, spent, budget, epsilon);
    if (rc) {
        if (e)
            *e = se;
        return rc;
    }
    if (remaining)
        *remaining = budget - spent;
    return 0;
}
