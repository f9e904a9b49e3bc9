/* SPDX-License-Identifier: MIT */
/* sim.c — the `sim` feed's model: correlated geometric Brownian motion over
 * xoshiro256** and Marsaglia's polar method, so a seed gives the same prices
 * on any libc; quotes get a cent-rounded bid/ask around the price. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "producer.h"

struct stk_sim {
    size_t n;
    size_t next;        /* symbol whose tick comes next */
    double prefix;      /* sum over j < next of col[j] * e[j] in this round */
    double *col, *diag; /* Cholesky factor (see stk_sim_cholesky) */
    double *l, *e;      /* or a whole one, packed (stk_sim_cholesky_full), and
                         * this round's independent normals */
    double *x;          /* log price per symbol */
    double *step_mu;    /* (mu - sigma^2/2) dt */
    double *step_sd;    /* sigma sqrt(dt) */
    uint64_t *volume;   /* cumulative */
    uint64_t s[4];      /* xoshiro256** state */
    double spare;       /* polar method makes normals in pairs */
    bool has_spare;
};

/* ---- PRNG: xoshiro256** (Blackman & Vigna), seeded by splitmix64 -------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t next_u64(struct stk_sim *sim)
{
    uint64_t *s = sim->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double next_unit(struct stk_sim *sim)
{
    return (double)(next_u64(sim) >> 11) * 0x1.0p-53;
}

/* Standard normal, Marsaglia's polar method. */
static inline double next_normal(struct stk_sim *sim)
{
    if (sim->has_spare) {
        sim->has_spare = false;
        return sim->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * next_unit(sim) - 1.0;
        v = 2.0 * next_unit(sim) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double m = sqrt(-2.0 * log(s) / s);
    sim->spare = v * m;
    sim->has_spare = true;
    return u * m;
}

/* ---- model --------------------------------------------------------------- */

int stk_sim_cholesky(size_t n, double rho, double *col, double *diag)
{
    /* For R = (1 - rho) I + rho 11ᵀ, row i of L is col[0..i-1], diag[i], 0...:
     * with s_j = sum_{k<j} col[k]^2, diag[j] = sqrt(1 - s_j) and
     * col[j] = (rho - s_j) / diag[j], so (L Lᵀ)[i][j] = s_j + col[j] diag[j]
     * = rho for i > j and s_i + diag[i]^2 = 1 on the diagonal. */
    double s = 0;
    for (size_t j = 0; j < n; j++) {
        double d2 = 1.0 - s;
        if (!(d2 > 1e-12))
            return -EDOM;
        diag[j] = sqrt(d2);
        col[j] = (rho - s) / diag[j];
        s += col[j] * col[j];
    }
    return 0;
}

int stk_sim_cholesky_full(size_t n, const double *r, double *l)
{
    for (size_t i = 0; i < n; i++) {
        double *li = l + i * (i + 1) / 2;
        for (size_t j = 0; j <= i; j++) {
            const double *lj = l + j * (j + 1) / 2;
            double sum = r[i * n + j];
            for (size_t k = 0; k < j; k++)
                sum -= li[k] * lj[k];
            if (j < i) {
                li[j] = sum / lj[j];
            } else {
                if (!(sum > 1e-12))
                    return -EDOM;
                li[i] = sqrt(sum);
            }
        }
    }
    return 0;
}

static const struct {
    const char *name;
    int64_t price;
} known[] = {
    {"AAPL", 18925000000LL},  {"MSFT", 41550000000LL},  {"NVDA", 87530000000LL},
    {"AMZN", 17820000000LL},  {"GOOGL", 15280000000LL}, {"META", 49510000000LL},
    {"TSLA", 17540000000LL},  {"JPM", 19860000000LL},   {"GOOG", 15410000000LL},
    {"BRK.B", 40870000000LL}, {"V", 27730000000LL},     {"XOM", 11840000000LL},
    {"SPY", 51220000000LL},   {"QQQ", 44310000000LL},
};

int64_t stk_sim_start_price(const char *symbol)
{
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcmp(known[i].name, symbol))
            return known[i].price;
    uint32_t h = 2166136261u; /* FNV-1a: a stable price per name */
    for (const char *c = symbol; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    return (int64_t)(2000 + h % 50000) * 1000000LL; /* 20.00 .. 519.99 */
}

void stk_sim_free(struct stk_sim *sim)
{
    if (!sim)
        return;
    free(sim->col);
    free(sim->diag);
    free(sim->l);
    free(sim->e);
    free(sim->x);
    free(sim->step_mu);
    free(sim->step_sd);
    free(sim->volume);
    free(sim);
}

/* A whole correlation matrix: 1 on the diagonal, symmetric, |v| < 1.
 * Returns 0, -E2BIG (too many symbols to factor in full) or -EINVAL. */
static int matrix_check(size_t n, const double *m)
{
    if (n > STK_SIM_MATRIX_MAX)
        return -E2BIG;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double v = m[i * n + j];
            if (i == j ? v != 1.0 : !(v > -1.0 && v < 1.0) || v != m[j * n + i])
                return -EINVAL;
        }
    return 0;
}

int stk_sim_new(const struct stk_sim_params *p, struct stk_sim **ret)
{
    if (p->nsymbols == 0 || !p->symbols || !(p->dt_years > 0) || !isfinite(p->dt_years) ||
        (!p->corr && !(p->rho > -1.0 && p->rho < 1.0)))
        return -EINVAL;
    size_t n = p->nsymbols;
    int r = p->corr ? matrix_check(n, p->corr) : 0;
    if (r < 0)
        return r;
    struct stk_sim *sim = calloc(1, sizeof(*sim));
    if (!sim)
        return -ENOMEM;
    sim->n = n;
    /* only the factor in use: two vectors, or the packed whole one */
    if (p->corr) {
        sim->l = calloc(n * (n + 1) / 2, sizeof(double));
        sim->e = calloc(n, sizeof(double));
    } else {
        sim->col = calloc(n, sizeof(double));
        sim->diag = calloc(n, sizeof(double));
    }
    sim->x = calloc(n, sizeof(double));
    sim->step_mu = calloc(n, sizeof(double));
    sim->step_sd = calloc(n, sizeof(double));
    sim->volume = calloc(n, sizeof(uint64_t));
    if ((p->corr ? !sim->l || !sim->e : !sim->col || !sim->diag) || !sim->x || !sim->step_mu ||
        !sim->step_sd || !sim->volume) {
        stk_sim_free(sim);
        return -ENOMEM;
    }
    r = p->corr ? stk_sim_cholesky_full(n, p->corr, sim->l)
                : stk_sim_cholesky(n, p->rho, sim->col, sim->diag);
    if (r < 0) {
        stk_sim_free(sim);
        return r;
    }
    for (size_t i = 0; i < n; i++) {
        double mu = p->mu ? p->mu[i] : p->drift;
        double sigma = p->sigma ? p->sigma[i] : p->volatility;
        if (!isfinite(mu) || !(sigma >= 0) || !isfinite(sigma)) {
            stk_sim_free(sim);
            return -EINVAL;
        }
        sim->step_mu[i] = (mu - 0.5 * sigma * sigma) * p->dt_years;
        sim->step_sd[i] = sigma * sqrt(p->dt_years);
        sim->x[i] = log((double)stk_sim_start_price(p->symbols[i]) / (double)STK_PRICE_SCALE);
        sim->volume[i] = 0;
    }
    uint64_t seed = p->seed;
    for (int i = 0; i < 4; i++)
        sim->s[i] = splitmix64(&seed);
    *ret = sim;
    return 0;
}

/* Keep a price inside what × 10^8 fits in an int64 with room for the ask. */
#define LOGP_MIN (-9.21) /* ~0.0001 */
#define LOGP_MAX 18.42   /* ~1e8 */
#define CENT (STK_PRICE_SCALE / 100)

uint32_t stk_sim_step(struct stk_sim *sim, struct stk_quote *q)
{
    size_t i = sim->next;
    if (i == 0)
        sim->prefix = 0;
    double e = next_normal(sim);
    double z; /* row i of L times this round's e */
    if (sim->l) {
        const double *li = sim->l + i * (i + 1) / 2;
        sim->e[i] = e;
        z = 0;
        for (size_t j = 0; j <= i; j++)
            z += li[j] * sim->e[j];
    } else {
        z = sim->prefix + sim->diag[i] * e;
        sim->prefix += sim->col[i] * e;
    }
    double x = sim->x[i] + sim->step_mu[i] + sim->step_sd[i] * z;
    if (x < LOGP_MIN)
        x = LOGP_MIN;
    else if (x > LOGP_MAX)
        x = LOGP_MAX;
    sim->x[i] = x;
    sim->next = i + 1 == sim->n ? 0 : i + 1;

    double px = exp(x);
    int64_t price = (int64_t)llround(px * (double)STK_PRICE_SCALE);
    if (price < 1)
        price = 1;
    /* Half a basis point either side, then out to whole cents: bid < price
     * < ask, the spread at least one cent. Sub-cent prices quote in 10^-8. */
    uint64_t r = next_u64(sim);
    int64_t half = price / 20000 + 1;
    int64_t bid, ask;
    if (price > 2 * CENT) {
        bid = (price - half) / CENT * CENT;
        ask = (price + half + CENT - 1) / CENT * CENT;
        if (ask <= bid)
            ask = bid + CENT;
    } else {
        bid = price - half > 0 ? price - half : price;
        ask = price + half;
    }
    /* sizes in round lots 100..5000, trade size 1..500 shares */
    q->price = price;
    q->bid = bid;
    q->ask = ask;
    q->bid_size = (uint32_t)(100 * (1 + (r & 63) % 50));
    q->ask_size = (uint32_t)(100 * (1 + ((r >> 8) & 63) % 50));
    sim->volume[i] += 1 + (r >> 16) % 500;
    q->volume = sim->volume[i];
    q->seq = 0;
    q->src_ts_ns = 0;
    q->pub_ts_ns = 0;
    return (uint32_t)i;
}

void stk_sim_resume(struct stk_sim *sim, uint32_t i, int64_t price, uint64_t volume)
{
    if (i >= sim->n || price <= 0)
        return;
    sim->x[i] = log((double)price / (double)STK_PRICE_SCALE);
    sim->volume[i] = volume;
}
