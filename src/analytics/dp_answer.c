/* dp_answer.c - differentially private answers of the analyses: the Laplace mechanism
 * (privacy/dp.h's dp_laplace) applied to every count and sum of a computed result,
 * with the answer's epsilon split evenly over its cells. See analytics.h and
 * docs/internals/analytics.md ("Differential privacy"). */
#include <math.h>

#include "analytics/analytics.h"
#include "privacy/dp.h"

int dp_clamp_parse(const char *text, struct dp_clamp *c, struct err *e)
{
    char *end;
    errno = 0;
    long long lo = strtoll(text, &end, 10);
    bool ok = !errno && end != text && *end == ':';
    long long hi = 0;
    if (ok) {
        const char *h = end + 1;
        hi = strtoll(h, &end, 10);
        ok = !errno && end != h && !*end;
    }
    /* at most 10^15 minor units: the noisy sums stay exact in a double */
    if (!ok || lo > 0 || hi < 0 || (lo == 0 && hi == 0) || lo < -1000000000000000LL ||
        hi > 1000000000000000LL)
        return err_set(e, ERR_INVALID,
                       "the clamp is LO:HI in minor units with LO <= 0 <= HI, not both 0 "
                       "(e.g. 0:100000), not \"%.40s\"",
                       text);
    c->lo = lo;
    c->hi = hi;
    return 0;
}

/* Checks the request and fills what a needs before the cells are counted. */
static int begin(const struct dp_request *r, size_t cells, struct dp_answer *a, struct err *e)
{
    int rc = dp_epsilon_check(r->epsilon, e);
    if (rc)
        return rc;
    if (!r->clamp.on)
        return err_set(e, ERR_INVALID, "a private answer needs the clamp it was computed with");
    if (r->clamp.lo > 0 || r->clamp.hi < 0 || r->clamp.lo == r->clamp.hi)
        return err_set(e, ERR_INVALID, "the clamp needs LO <= 0 <= HI, not both 0");
    if (r->clamp.max_orders < 1)
        return err_set(e, ERR_INVALID, "the most orders a profile adds is at least 1");
    memset(a, 0, sizeof(*a));
    a->epsilon = r->epsilon;
    a->cells = cells;
    a->cell_epsilon = cells ? r->epsilon / (double)cells : r->epsilon;
    a->count_scale = 1.0 / a->cell_epsilon;
    a->clamp = r->clamp;
    return 0;
}

/* A noisy count with Laplace scale b: rounded, at least 0. */
static int64_t noisy_count(int64_t v, double b)
{
    double x = round((double)v + dp_laplace(b));
    return x < 0 ? 0 : (int64_t)x;
}

/* A noisy sum of money clamped per profile to [lo, hi]: rounded to a minor unit, at
 * least 0 when no profile can add less than 0. */
static int64_t noisy_sum(int64_t v, double b, const struct dp_clamp *c)
{
    double x = round((double)v + dp_laplace(b));
    if (c->lo >= 0 && x < 0)
        x = 0;
    return (int64_t)x;
}

static double money_sensitivity(const struct dp_clamp *c)
{
    return fmax(fabs((double)c->lo), fabs((double)c->hi));
}

int kpi_privatize(struct kpi_result *k, const struct dp_request *r, struct dp_answer *a,
                  struct err *e)
{
    /* customers, active, buyers, new_buyers, repeat, orders, revenue */
    int rc = begin(r, k->n * 7, a, e);
    if (rc)
        return rc;
    a->orders_scale = (double)r->clamp.max_orders / a->cell_epsilon;
    a->sum_scale = money_sensitivity(&r->clamp) / a->cell_epsilon;
    for (size_t i = 0; i < k->n; i++) {
        struct kpi_row *x = &k->rows[i];
        x->customers = noisy_count(x->customers, a->count_scale);
        x->active = noisy_count(x->active, a->count_scale);
        x->buyers = noisy_count(x->buyers, a->count_scale);
        x->new_buyers = noisy_count(x->new_buyers, a->count_scale);
        x->repeat = noisy_count(x->repeat, a->count_scale);
        x->orders = noisy_count(x->orders, a->orders_scale);
        x->revenue = noisy_sum(x->revenue, a->sum_scale, &r->clamp);
    }
    return 0;
}

int rfm_privatize(struct rfm_result *f, const struct dp_request *r, struct dp_answer *a,
                  struct err *e)
{
    int rc = begin(r, 2 * RFM_SEGMENTS, a, e);
    if (rc)
        return rc;
    a->sum_scale = money_sensitivity(&r->clamp) / a->cell_epsilon;
    int64_t revenue[RFM_SEGMENTS] = {0};
    for (size_t i = 0; i < f->n; i++) {
        const struct rfm_score *x = &f->rows[i];
        int64_t m = x->monetary;
        revenue[x->segment] += m < r->clamp.lo ? r->clamp.lo : m > r->clamp.hi ? r->clamp.hi : m;
    }
    free(f->rows);
    f->rows = NULL;
    f->n = 0;
    f->revenue = 0;
    for (int g = 0; g < RFM_SEGMENTS; g++) {
        f->seg_customers[g] = noisy_count(f->seg_customers[g], a->count_scale);
        f->seg_revenue[g] = noisy_sum(revenue[g], a->sum_scale, &r->clamp);
        f->n += (size_t)f->seg_customers[g];
        f->revenue += f->seg_revenue[g];
    }
    return 0;
}

int funnel_privatize(struct funnel_result *f, const struct dp_request *r, struct dp_answer *a,
                     struct err *e)
{
    int rc = begin(r, f->ngroups * f->nsteps, a, e);
    if (rc)
        return rc;
    for (size_t g = 0; g < f->ngroups; g++)
        for (size_t k = 0; k < f->nsteps; k++) {
            f->groups[g].count[k] = noisy_count(f->groups[g].count[k], a->count_scale);
            f->groups[g].median_ms[k] = -1; /* neither a count nor a sum: withheld */
        }
    return 0;
}

int cohort_privatize(struct cohort_result *c, const struct dp_request *r, struct dp_answer *a,
                     struct err *e)
{
    size_t cells = 0;
    for (size_t i = 0; i < c->n; i++)
        cells += 1 + 2 * c->rows[i].nperiods;
    int rc = begin(r, cells, a, e);
    if (rc)
        return rc;
    a->sum_scale = money_sensitivity(&r->clamp) / a->cell_epsilon;
    for (size_t i = 0; i < c->n; i++) {
        struct cohort_row *x = &c->rows[i];
        x->size = noisy_count(x->size, a->count_scale);
        for (size_t k = 0; k < x->nperiods; k++) {
            x->customers[k] = noisy_count(x->customers[k], a->count_scale);
            x->revenue[k] = noisy_sum(x->revenue[k], a->sum_scale, &r->clamp);
        }
    }
    return 0;
}
