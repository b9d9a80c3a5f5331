/* test_dp.c - the Laplace mechanism: over many draws the noise has mean ~0, variance
 * 2(s/epsilon)^2 and median |x| = ln 2 * s/epsilon within statistical bounds (5 standard
 * errors); counts and clamped sums centre on the true value with the scale their
 * sensitivity gives; bad epsilons and clamps are refused; a key's budget is spent and
 * then refused without spending. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <sodium.h>

#include "core/config.h"
#include "http/api_key.h"
#include "privacy/dp.h"

#define DRAWS 200000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Checks mean, variance and median absolute value of xs against Laplace(0, b). */
static void check_laplace(double *xs, size_t n, double centre, double b, const char *what)
{
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++)
        mean += xs[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += (xs[i] - mean) * (xs[i] - mean);
    var /= (double)(n - 1);
    double sd = sqrt(2.0) * b;
    /* Standard errors: of the mean sd/sqrt(n); of the sample variance, for the Laplace
     * (fourth moment 24 b^4), sqrt((24 - 4) b^4 / n). */
    double se_mean = sd / sqrt((double)n), se_var = sqrt(20.0 / (double)n) * b * b;
    if (fabs(mean - centre) > 5 * se_mean)
        fail_msg("%s: mean %g, want %g +- %g", what, mean, centre, 5 * se_mean);
    if (fabs(var - 2 * b * b) > 5 * se_var)
        fail_msg("%s: variance %g, want %g +- %g", what, var, 2 * b * b, 5 * se_var);
    for (size_t i = 0; i < n; i++)
        xs[i] = fabs(xs[i] - centre);
    qsort(xs, n, sizeof(double), cmp_double);
    double med = xs[n / 2], want = log(2.0) * b;
    /* |X| is exponential with mean b: the median's standard error is b/sqrt(n) at the
     * density 1/(2b) of the median: 1/(2 f sqrt(n)) = b/sqrt(n). */
    if (fabs(med - want) > 5 * b / sqrt((double)n))
        fail_msg("%s: median |noise| %g, want %g", what, med, want);
}

static void test_laplace(void **state)
{
    (void)state;
    double *xs = malloc(DRAWS * sizeof(double));
    static const double scales[] = {0.5, 2.0, 40.0};
    for (size_t k = 0; k < ARRAY_SIZE(scales); k++) {
        for (size_t i = 0; i < DRAWS; i++)
            xs[i] = dp_laplace(scales[k]);
        char what[32];
        snprintf(what, sizeof(what), "scale %g", scales[k]);
        check_laplace(xs, DRAWS, 0, scales[k], what);
    }
    free(xs);
}

static void test_count_and_sum(void **state)
{
    (void)state;
    struct err e = {0};
    double *xs = malloc(DRAWS * sizeof(double));
    /* counts: Laplace(1/epsilon) around the count (rounding adds variance 1/12) */
    for (size_t i = 0; i < DRAWS; i++)
        assert_int_equal(dp_count(10000, 0.5, &xs[i], &e), 0);
    double mean = 0, var = 0;
    for (size_t i = 0; i < DRAWS; i++)
        mean += xs[i];
    mean /= DRAWS;
    for (size_t i = 0; i < DRAWS; i++)
        var += (xs[i] - mean) * (xs[i] - mean);
    var /= DRAWS - 1;
    assert_true(fabs(mean - 10000) < 5 * sqrt(8.0 / DRAWS));
    assert_true(fabs(var - (8.0 + 1.0 / 12)) < 5 * sqrt(20.0 / DRAWS) * 4);
    for (size_t i = 0; i < 100; i++)
        assert_true(xs[i] == round(xs[i])); /* whole numbers */
    double zero;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(dp_count(0, 0.1, &zero, &e), 0);
        assert_true(zero >= 0);
    }
    /* sums: each profile clamped to [0, 100]: sensitivity 100 */
    double per_profile[] = {50, 250, -30, 100, NAN, 10};
    double s = 0;
    for (size_t i = 0; i < DRAWS; i++)
        assert_int_equal(dp_sum(per_profile, ARRAY_SIZE(per_profile), 0, 100, 1.0, &xs[i], &s, &e),
                         0);
    assert_true(s == 100);
    check_laplace(xs, DRAWS, 50 + 100 + 0 + 100 + 10, 100, "clamped sum");
    free(xs);
    /* refused */
    double out;
    assert_int_equal(dp_count(5, 0, &out, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "epsilon"));
    assert_int_equal(dp_count(5, 11, &out, &e), ERR_INVALID);
    assert_int_equal(dp_count(5, NAN, &out, &e), ERR_INVALID);
    assert_int_equal(dp_count(-1, 1, &out, &e), ERR_INVALID);
    assert_int_equal(dp_sum(per_profile, 1, 5, 1, 1, &out, NULL, &e), ERR_INVALID);
    assert_int_equal(dp_sum(per_profile, 1, 0, 0, 1, &out, NULL, &e), ERR_INVALID);
    assert_int_equal(dp_sum(per_profile, 1, 0, INFINITY, 1, &out, NULL, &e), ERR_INVALID);
    double b;
    assert_int_equal(dp_budget_parse("2.5", &b, &e), 0);
    assert_true(b == 2.5);
    assert_int_equal(dp_budget_parse("0", &b, &e), ERR_INVALID);
    assert_int_equal(dp_budget_parse("lots", &b, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "dp-budget"));
}

static void test_budget(void **state)
{
    (void)state;
    char dir[] = "/tmp/custos-test-dp.XXXXXX", db[64];
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/custos.db", dir);
    struct store *st;
    struct err e = {0};
    assert_int_equal(store_open(db, NULL, &st, &e), 0);
    char key[API_KEY_CHARS + 1];
    int64_t id, other;
    assert_int_equal(api_key_create(st, NULL, "analyst", -1, key, &id, &e), 0);
    assert_int_equal(api_key_create(st, NULL, "analyst", -1, key, &other, &e), 0);
    char ten[] = "10";
    cfg.dp_budget = ten;
    double left;
    assert_int_equal(dp_charge(st, id, 4, &left, &e), 0);
    assert_true(fabs(left - 6) < 1e-9);
    assert_int_equal(dp_charge(st, id, 4, &left, &e), 0);
    assert_true(fabs(left - 2) < 1e-9);
    assert_int_equal(dp_charge(st, id, 4, &left, &e), ERR_LIMIT);
    assert_non_null(strstr(e.msg, "budget"));
    assert_non_null(strstr(e.msg, "8 of 10"));
    assert_int_equal(dp_charge(st, id, 2, &left, &e), 0); /* the refusal spent nothing */
    assert_true(fabs(left) < 1e-9);
    assert_int_equal(dp_charge(st, id, 0.01, &left, &e), ERR_LIMIT);
    assert_int_equal(dp_charge(st, other, 1, &left, &e), 0); /* budgets are per key */
    assert_true(fabs(left - 9) < 1e-9);
    assert_int_equal(dp_charge(st, other, 20, &left, &e), ERR_INVALID);
    /* Reading and setting a key's budget (custos keys budget) */
    double spent, budget;
    bool own;
    assert_int_equal(st->ops->dp_budget_get(st, id, 10, &spent, &budget, &own, &e), 0);
    assert_true(fabs(spent - 10) < 1e-9 && fabs(budget - 10) < 1e-9 && !own);
    assert_int_equal(st->ops->dp_budget_set(st, id, 15, false, 1, &e), 0);
    assert_int_equal(st->ops->dp_budget_get(st, id, 10, &spent, &budget, &own, &e), 0);
    assert_true(fabs(spent - 10) < 1e-9 && fabs(budget - 15) < 1e-9 && own);
    assert_int_equal(dp_charge(st, id, 5, &left, &e), 0); /* its own budget applies */
    assert_int_equal(dp_charge(st, id, 0.01, &left, &e), ERR_LIMIT);
    assert_int_equal(st->ops->dp_budget_set(st, id, -1, true, 2, &e), 0); /* default, reset */
    assert_int_equal(st->ops->dp_budget_get(st, id, 10, &spent, &budget, &own, &e), 0);
    assert_true(fabs(spent) < 1e-9 && fabs(budget - 10) < 1e-9 && !own);
    int64_t fresh;
    assert_int_equal(api_key_create(st, NULL, "marketing", -1, key, &fresh, &e), 0);
    assert_int_equal(st->ops->dp_budget_get(st, fresh, 10, &spent, &budget, &own, &e), 0);
    assert_true(fabs(spent) < 1e-9 && fabs(budget - 10) < 1e-9 && !own); /* never charged */
    cfg.dp_budget = NULL;
    store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_laplace),
        cmocka_unit_test(test_count_and_sum),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
