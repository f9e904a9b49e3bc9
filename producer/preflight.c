/* SPDX-License-Identifier: MIT */
/* preflight.c — the producer's start-up checks beyond the config parser (the
 * sim model can be built, a csv replay can be opened), shared with the
 * supervisor's pre-flight so a file one refuses the other refuses too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight.h"
#include "producer.h"

int stk_producer_sim_new(const struct stk_config *c, struct stk_sim **ret,
                         char err[STK_CONF_ERR_MAX])
{
    char at[STK_CONF_ERR_MAX];
    size_t n = c->producer.nsymbols;
    stk_config_where(c, "producer.symbols", at, sizeof(at));
    if (n == 0) {
        snprintf(err, STK_CONF_ERR_MAX, "%s: producer.symbols: the sim feed needs a symbol", at);
        return -EINVAL;
    }
    if (n > c->shm.capacity) {
        snprintf(err, STK_CONF_ERR_MAX,
                 "%s: producer.symbols: %zu symbols do not fit shm.capacity = %u", at, n,
                 c->shm.capacity);
        return -EINVAL;
    }
    const struct stk_sim_param *corr = &c->producer.correlation;
    stk_config_where(c, "producer.correlation", at, sizeof(at));
    if (corr->n && n > STK_SIM_MATRIX_MAX) {
        snprintf(err, STK_CONF_ERR_MAX,
                 "%s: producer.correlation: pair exceptions need at most %d symbols (%zu here)", at,
                 STK_SIM_MATRIX_MAX, n);
        return -EINVAL;
    }
    /* Model time per round (one tick of every symbol): what `rate` makes it
     * in real time, so volatility is per wall-clock year; rate 0 runs the
     * model as if at the default 1000 ticks/s. */
    double rate = c->producer.rate ? (double)c->producer.rate : 1000.0;
    const char *const *names = (const char *const *)c->producer.symbols;
    double *mu = calloc(n, sizeof(double)), *sigma = calloc(n, sizeof(double)), *matrix = NULL;
    if (corr->n)
        matrix = calloc(n * n, sizeof(double));
    if (!mu || !sigma || (corr->n && !matrix)) {
        free(mu);
        free(sigma);
        free(matrix);
        snprintf(err, STK_CONF_ERR_MAX, "sim: out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        mu[i] = stk_sim_param_value(&c->producer.drift, names[i], NULL);
        sigma[i] = stk_sim_param_value(&c->producer.volatility, names[i], NULL);
        for (size_t j = 0; matrix && j < n; j++)
            matrix[i * n + j] = i == j ? 1.0 : stk_sim_param_value(corr, names[i], names[j]);
    }
    struct stk_sim_params sp = {
        .nsymbols = n,
        .symbols = names,
        .mu = mu,
        .sigma = sigma,
        .rho = corr->all,
        .corr = matrix,
        .dt_years = (double)n / rate / STK_SIM_YEAR_S,
        .seed = c->producer.seed,
    };
    int r = stk_sim_new(&sp, ret);
    free(mu);
    free(sigma);
    free(matrix);
    if (r == -EDOM) {
        if (corr->n)
            snprintf(err, STK_CONF_ERR_MAX,
                     "%s: producer.correlation: with its %zu pair exception(s) the correlation "
                     "matrix of the %zu symbols is not positive definite (no set of returns "
                     "can have these correlations)",
                     at, corr->n, n);
        else
            snprintf(err, STK_CONF_ERR_MAX,
                     "%s: producer.correlation: %g is not a valid correlation for %zu symbols "
                     "(needs > %g)",
                     at, corr->all, n, n > 1 ? -1.0 / (double)(n - 1) : -1.0);
        return -EINVAL;
    }
    if (r < 0) {
        snprintf(err, STK_CONF_ERR_MAX, "%s: sim: unable to set up the model: %s", at,
                 strerror(-r));
        return r == -ENOMEM ? r : -EINVAL;
    }
    return 0;
}

int stk_producer_check(const struct stk_config *c, char err[STK_CONF_ERR_MAX])
{
    const char *feed = c->producer.feed;
    char at[STK_CONF_ERR_MAX];
    if (!strcmp(feed, "sim")) {
        struct stk_sim *sim = NULL;
        int r = stk_producer_sim_new(c, &sim, err);
        stk_sim_free(sim);
        return r;
    }
    if (!strncmp(feed, "csv:", 4)) {
        stk_config_where(c, "producer.csv_time_unit", at, sizeof(at));
        int unit = stk_time_unit_parse(c->producer.csv_time_unit);
        if (unit < 0) {
            snprintf(err, STK_CONF_ERR_MAX,
                     "%s: producer.csv_time_unit: '%s' is not auto, s, ms, us or ns", at,
                     c->producer.csv_time_unit);
            return -EINVAL;
        }
        struct stk_csv *csv = NULL;
        int r = stk_csv_open(feed + 4, (enum stk_time_unit)unit, NULL, NULL, &csv);
        stk_csv_close(csv);
        if (r < 0) {
            stk_config_where(c, "producer.feed", at, sizeof(at));
            snprintf(err, STK_CONF_ERR_MAX, "%s: producer.feed: csv:%s: unable to open: %s", at,
                     feed + 4, r == -ENODATA ? "no files in the folder" : strerror(-r));
            return r == -ENODATA || r == -ENOENT ? -EINVAL : r;
        }
    }
    return 0;
}
