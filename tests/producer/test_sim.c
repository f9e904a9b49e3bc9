/* SPDX-License-Identifier: MIT */
/* test_sim.c — the GBM simulator: determinism per seed, the Cholesky factor,
 * the statistics of log returns against drift, volatility and correlation,
 * and the shape of every quote (bid < ask, sizes > 0, volume cumulative). */
#include <errno.h>
#include <math.h>

#include "ptest.h"

static const char *const syms8[] = {"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM"};

static struct stk_sim *make(size_t n, uint64_t seed, double rho, double mu, double sigma, double dt)
{
    struct stk_sim_params p = {
        .nsymbols = n,
        .symbols = syms8,
        .drift = mu,
        .volatility = sigma,
        .rho = rho,
        .dt_years = dt,
        .seed = seed,
    };
    struct stk_sim *sim = NULL;
    ck_assert_int_eq(stk_sim_new(&p, &sim), 0);
    return sim;
}

START_TEST(same_seed_same_prices)
{
    struct stk_sim *a = make(8, 42, 0.3, 0.05, 0.25, 8.0 / 1000 / STK_SIM_YEAR_S);
    struct stk_sim *b = make(8, 42, 0.3, 0.05, 0.25, 8.0 / 1000 / STK_SIM_YEAR_S);
    struct stk_sim *c = make(8, 43, 0.3, 0.05, 0.25, 8.0 / 1000 / STK_SIM_YEAR_S);
    int differ = 0;
    for (int k = 0; k < 10000; k++) {
        struct stk_quote qa, qb, qc;
        uint32_t ia = stk_sim_step(a, &qa), ib = stk_sim_step(b, &qb), ic = stk_sim_step(c, &qc);
        ck_assert_uint_eq(ia, ib);
        ck_assert_uint_eq(ia, ic);
        ck_assert_int_eq(qa.price, qb.price);
        ck_assert_int_eq(qa.bid, qb.bid);
        ck_assert_int_eq(qa.ask, qb.ask);
        ck_assert_uint_eq(qa.volume, qb.volume);
        ck_assert_uint_eq(qa.bid_size, qb.bid_size);
        differ += qa.price != qc.price;
    }
    /* another seed: (nearly) every price differs */
    ck_assert_int_gt(differ, 9900);
    stk_sim_free(a);
    stk_sim_free(b);
    stk_sim_free(c);
}
END_TEST

/* A known value pins the generator and model: a change of PRNG, normal
 * method or rounding would silently change every user's replayed prices. */
START_TEST(golden_first_prices)
{
    struct stk_sim *a = make(8, 1, 0.3, 0.05, 0.25, 8.0 / 1000 / STK_SIM_YEAR_S);
    struct stk_quote q;
    int64_t want[3][3] = {{18925141952LL, 18924000000LL, 18927000000LL},
                          {41550123439LL, 41548000000LL, 41553000000LL},
                          {87530353268LL, 87525000000LL, 87535000000LL}};
    for (int k = 0; k < 3; k++) {
        ck_assert_uint_eq(stk_sim_step(a, &q), (uint32_t)k);
        ck_assert_int_eq(q.price, want[k][0]);
        ck_assert_int_eq(q.bid, want[k][1]);
        ck_assert_int_eq(q.ask, want[k][2]);
    }
    for (int k = 3; k < 10000; k++)
        stk_sim_step(a, &q);
    ck_assert_int_eq(q.price, 19861997794LL); /* JPM, tick 9999 */
    ck_assert_uint_eq(q.volume, 306326);
    stk_sim_free(a);
}
END_TEST

START_TEST(cholesky_reproduces_matrix)
{
    const double rhos[] = {0.0, 0.3, 0.9, -0.2};
    for (size_t t = 0; t < 4; t++) {
        size_t n = 5;
        double col[5], diag[5], L[5][5] = {{0}};
        ck_assert_int_eq(stk_sim_cholesky(n, rhos[t], col, diag), 0);
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < i; j++)
                L[i][j] = col[j];
            L[i][i] = diag[i];
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t k = 0; k < n; k++)
                    s += L[i][k] * L[j][k];
                ck_assert_double_eq_tol(s, i == j ? 1.0 : rhos[t], 1e-12);
            }
    }
    double col[5], diag[5];
    /* equicorrelation is positive definite only for rho > -1/(n-1) */
    ck_assert_int_eq(stk_sim_cholesky(5, -0.3, col, diag), -EDOM);
    ck_assert_int_eq(stk_sim_cholesky(3, -0.3, col, diag), 0);
    struct stk_sim_params p = {.nsymbols = 5, .symbols = syms8, .rho = -0.3, .dt_years = 1e-6};
    struct stk_sim *sim;
    ck_assert_int_eq(stk_sim_new(&p, &sim), -EDOM);
    p.nsymbols = 0;
    ck_assert_int_eq(stk_sim_new(&p, &sim), -EINVAL);
}
END_TEST

#define NS 4
#define ROUNDS 250000

/* Run `sim` (NS symbols) for ROUNDS rounds and compare each symbol's mean
 * and variance of log returns with (mu - sigma^2/2) dt and sigma^2 dt, and
 * each pair's correlation with corr[i][j]. Tolerances are about four or
 * five standard errors of each estimate. */
static void check_statistics(struct stk_sim *sim, const double mu[NS], const double sigma[NS],
                             const double corr[NS][NS], double dt)
{
    static double ret[NS][ROUNDS];
    int64_t last[NS] = {0};
    for (int r = -1; r < ROUNDS; r++) {
        for (int i = 0; i < NS; i++) {
            struct stk_quote q;
            ck_assert_uint_eq(stk_sim_step(sim, &q), (uint32_t)i);
            if (r >= 0)
                ret[i][r] = log((double)q.price / (double)last[i]);
            last[i] = q.price;
        }
    }
    double mean[NS], var[NS];
    for (int i = 0; i < NS; i++) {
        double s = 0, s2 = 0;
        for (int r = 0; r < ROUNDS; r++)
            s += ret[i][r];
        mean[i] = s / ROUNDS;
        for (int r = 0; r < ROUNDS; r++)
            s2 += (ret[i][r] - mean[i]) * (ret[i][r] - mean[i]);
        var[i] = s2 / (ROUNDS - 1);
        double want_mean = (mu[i] - 0.5 * sigma[i] * sigma[i]) * dt;
        double want_var = sigma[i] * sigma[i] * dt;
        double se_mean = sqrt(want_var / ROUNDS);
        ck_assert_msg(fabs(mean[i] - want_mean) < 4 * se_mean, "symbol %d: mean %g, want %g", i,
                      mean[i], want_mean);
        ck_assert_msg(fabs(var[i] / want_var - 1) < 0.02, "symbol %d: var %g, want %g", i, var[i],
                      want_var);
    }
    for (int i = 0; i < NS; i++)
        for (int j = i + 1; j < NS; j++) {
            double c = 0;
            for (int r = 0; r < ROUNDS; r++)
                c += (ret[i][r] - mean[i]) * (ret[j][r] - mean[j]);
            c /= (ROUNDS - 1) * sqrt(var[i] * var[j]);
            ck_assert_msg(fabs(c - corr[i][j]) < 0.01, "corr(%d,%d) = %g, want %g", i, j, c,
                          corr[i][j]);
        }
}

static const double dt_minute = 1.0 / (252.0 * 390.0);

START_TEST(return_statistics)
{
    const double mu[NS] = {2.0, 2.0, 2.0, 2.0}, sigma[NS] = {0.5, 0.5, 0.5, 0.5}, rho = 0.6;
    double corr[NS][NS];
    for (int i = 0; i < NS; i++)
        for (int j = 0; j < NS; j++)
            corr[i][j] = i == j ? 1.0 : rho;
    struct stk_sim *sim = make(NS, 7, rho, mu[0], sigma[0], dt_minute);
    check_statistics(sim, mu, sigma, (const double(*)[NS])corr, dt_minute);
    stk_sim_free(sim);

    /* and with no correlation at all */
    sim = make(2, 9, 0.0, 0.05, 0.25, dt_minute);
    double sxy = 0, sxx = 0, syy = 0;
    int64_t l0 = 0, l1 = 0;
    for (int r = -1; r < ROUNDS; r++) {
        struct stk_quote a, b;
        stk_sim_step(sim, &a);
        stk_sim_step(sim, &b);
        if (r >= 0) {
            double x = log((double)a.price / (double)l0), y = log((double)b.price / (double)l1);
            sxy += x * y;
            sxx += x * x;
            syy += y * y;
        }
        l0 = a.price;
        l1 = b.price;
    }
    ck_assert_double_eq_tol(sxy / sqrt(sxx * syy), 0.0, 0.01);
    stk_sim_free(sim);
}
END_TEST

/* Per-symbol drift and volatility, and a whole correlation matrix (what
 * producer.correlation's pair exceptions build). */
static const double corr4[NS][NS] = {
    {1.0, 0.8, 0.1, -0.4}, {0.8, 1.0, 0.2, -0.3}, {0.1, 0.2, 1.0, 0.5}, {-0.4, -0.3, 0.5, 1.0}};

START_TEST(per_symbol_statistics)
{
    const double mu[NS] = {0.5, -1.0, 3.0, 0.0}, sigma[NS] = {0.1, 0.3, 0.6, 1.2};
    struct stk_sim_params p = {
        .nsymbols = NS,
        .symbols = syms8,
        .mu = mu,
        .sigma = sigma,
        .rho = 0.3, /* ignored: corr wins */
        .corr = &corr4[0][0],
        .dt_years = dt_minute,
        .seed = 11,
    };
    struct stk_sim *sim = NULL;
    ck_assert_int_eq(stk_sim_new(&p, &sim), 0);
    check_statistics(sim, mu, sigma, corr4, dt_minute);
    stk_sim_free(sim);
}
END_TEST

START_TEST(full_cholesky)
{
    double l[NS * (NS + 1) / 2];
    ck_assert_int_eq(stk_sim_cholesky_full(NS, &corr4[0][0], l), 0);
    for (size_t i = 0; i < NS; i++)
        for (size_t j = 0; j <= i; j++) {
            double s = 0;
            for (size_t k = 0; k <= j; k++)
                s += l[i * (i + 1) / 2 + k] * l[j * (j + 1) / 2 + k];
            ck_assert_double_eq_tol(s, corr4[i][j], 1e-12);
        }
    /* not positive definite: A~B and B~C strongly, A~C strongly against */
    const double bad[3][3] = {{1, 0.9, -0.9}, {0.9, 1, 0.9}, {-0.9, 0.9, 1}};
    ck_assert_int_eq(stk_sim_cholesky_full(3, &bad[0][0], l), -EDOM);
    struct stk_sim_params p = {
        .nsymbols = 3, .symbols = syms8, .corr = &bad[0][0], .dt_years = 1e-6};
    struct stk_sim *sim;
    ck_assert_int_eq(stk_sim_new(&p, &sim), -EDOM);
    /* not symmetric, or not 1 on the diagonal: refused */
    const double skew[2][2] = {{1, 0.5}, {0.4, 1}}, diag[2][2] = {{1, 0.5}, {0.5, 0.9}};
    p.nsymbols = 2;
    p.corr = &skew[0][0];
    ck_assert_int_eq(stk_sim_new(&p, &sim), -EINVAL);
    p.corr = &diag[0][0];
    ck_assert_int_eq(stk_sim_new(&p, &sim), -EINVAL);
    /* too many symbols for a whole matrix */
    static double big[(STK_SIM_MATRIX_MAX + 1) * (STK_SIM_MATRIX_MAX + 1)];
    static const char *names[STK_SIM_MATRIX_MAX + 1];
    for (size_t i = 0; i <= STK_SIM_MATRIX_MAX; i++) {
        names[i] = "X";
        big[i * (STK_SIM_MATRIX_MAX + 1) + i] = 1.0;
    }
    p.nsymbols = STK_SIM_MATRIX_MAX + 1;
    p.symbols = names;
    p.corr = big;
    ck_assert_int_eq(stk_sim_new(&p, &sim), -E2BIG);
}
END_TEST

/* A whole matrix that is the equicorrelation matrix moves prices as the
 * O(1) path does (to rounding: the sums are formed in another order). */
START_TEST(full_matrix_matches_equicorrelation)
{
    double m[8][8];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            m[i][j] = i == j ? 1.0 : 0.3;
    struct stk_sim *a = make(8, 5, 0.3, 0.05, 0.25, 8.0 / 1000 / STK_SIM_YEAR_S);
    struct stk_sim_params p = {.nsymbols = 8,
                               .symbols = syms8,
                               .drift = 0.05,
                               .volatility = 0.25,
                               .corr = &m[0][0],
                               .dt_years = 8.0 / 1000 / STK_SIM_YEAR_S,
                               .seed = 5};
    struct stk_sim *b = NULL;
    ck_assert_int_eq(stk_sim_new(&p, &b), 0);
    for (int k = 0; k < 10000; k++) {
        struct stk_quote qa, qb;
        ck_assert_uint_eq(stk_sim_step(a, &qa), stk_sim_step(b, &qb));
        ck_assert_msg(llabs(qa.price - qb.price) <= 1, "tick %d: %lld vs %lld", k,
                      (long long)qa.price, (long long)qb.price);
    }
    stk_sim_free(a);
    stk_sim_free(b);
}
END_TEST

START_TEST(quote_shape)
{
    struct stk_sim *sim = make(8, 3, 0.3, 0.05, 0.25, 8.0 / 1000 / STK_SIM_YEAR_S);
    uint64_t vol[8] = {0};
    for (int k = 0; k < 200000; k++) {
        struct stk_quote q;
        uint32_t i = stk_sim_step(sim, &q);
        ck_assert_uint_eq(i, (uint32_t)(k % 8));
        ck_assert_int_lt(q.bid, q.ask);
        ck_assert_int_le(q.bid, q.price);
        ck_assert_int_ge(q.ask, q.price);
        ck_assert_int_gt(q.bid, 0);
        ck_assert_uint_gt(q.bid_size, 0);
        ck_assert_uint_gt(q.ask_size, 0);
        ck_assert_uint_gt(q.volume, vol[i]); /* cumulative: grows every trade */
        vol[i] = q.volume;
        /* bid and ask on whole cents */
        ck_assert_int_eq(q.bid % 1000000, 0);
        ck_assert_int_eq(q.ask % 1000000, 0);
    }
    stk_sim_free(sim);
}
END_TEST

START_TEST(resume_and_start_prices)
{
    ck_assert_int_eq(stk_sim_start_price("AAPL"), 18925000000LL);
    int64_t x = stk_sim_start_price("ZZZZ");
    ck_assert_int_eq(x, stk_sim_start_price("ZZZZ"));
    ck_assert_int_ge(x, 2000LL * 1000000);
    ck_assert_int_lt(x, 52000LL * 1000000);

    struct stk_sim *sim = make(2, 1, 0.3, 0.05, 0.25, 8.0 / 1000 / STK_SIM_YEAR_S);
    stk_sim_resume(sim, 1, 5000000000LL, 777);
    struct stk_quote q;
    stk_sim_step(sim, &q);
    ck_assert_uint_eq(stk_sim_step(sim, &q), 1);
    ck_assert_int_gt(q.price, 4990000000LL);
    ck_assert_int_lt(q.price, 5010000000LL);
    ck_assert_uint_gt(q.volume, 777);
    stk_sim_free(sim);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", same_seed_same_prices},
        {"core", golden_first_prices},
        {"core", cholesky_reproduces_matrix},
        {"core", full_cholesky},
        {"core", full_matrix_matches_equicorrelation},
        {"stats", return_statistics},
        {"stats", per_symbol_statistics},
        {"stats", quote_shape},
        {"core", resume_and_start_prices},
    };
    return TEST_TABLE_RUN("sim", tests);
}
