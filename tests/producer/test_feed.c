/* SPDX-License-Identifier: MIT */
/* test_feed.c — the feed table: producer.feed's prefix picks the feed and
 * hands it the rest; anything else is no feed; the usage names them all. */
#include <string.h>

#include "feed.h"
#include "ptest.h"

static void finds(const char *spec, const struct stk_feed_ops *want, const char *want_arg)
{
    const char *arg = "untouched";
    const struct stk_feed_ops *ops = stk_feed_find(spec, &arg);
    ck_assert_msg(ops == want, "'%s' picked %s, want %s", spec, ops ? ops->usage : "none",
                  want->usage);
    ck_assert_str_eq(arg, want_arg);
}

static void none(const char *spec)
{
    const char *arg = "untouched";
    const struct stk_feed_ops *ops = stk_feed_find(spec, &arg);
    ck_assert_msg(ops == NULL, "'%s' picked %s", spec, ops ? ops->usage : "");
    ck_assert_str_eq(arg, "untouched");
}

START_TEST(prefix_picks_feed)
{
    finds("sim", &stk_feed_sim, "");
    finds("stdin", &stk_feed_stdin, "");
    finds("csv:data/x.csv", &stk_feed_csv, "data/x.csv");
    finds("csv:", &stk_feed_csv, "");
    finds("exec:python3 ing.py --loop", &stk_feed_exec, "python3 ing.py --loop");
    finds("exec:exec:sim", &stk_feed_exec, "exec:sim");
    finds("nats:nats://a:4222,nats://b:4222", &stk_feed_nats, "nats://a:4222,nats://b:4222");
    finds("exec:", &stk_feed_exec, ""); /* refused by the feed itself */
}
END_TEST

START_TEST(others_are_no_feed)
{
    none("");
    none("simx");
    none("sim:");
    none("SIM");
    none(" sim");
    none("stdin:");
    none("csv");
    none("exec");
    none("nats");
}
END_TEST

START_TEST(every_feed_has_its_hooks)
{
    const struct stk_feed_ops *all[] = {&stk_feed_sim, &stk_feed_csv, &stk_feed_exec,
                                        &stk_feed_stdin, &stk_feed_nats};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        ck_assert(all[i]->open != NULL);
        ck_assert(all[i]->pump != NULL);
        ck_assert(all[i]->close != NULL);
        /* what the loop polls it must be able to read */
        ck_assert(!all[i]->poll_fds == !all[i]->readable);
    }
}
END_TEST

START_TEST(usage_names_every_feed)
{
    char buf[256];
    size_t n = stk_feed_usage(buf, sizeof(buf));
    ck_assert_str_eq(buf, "sim, csv:PATH, exec:COMMAND, stdin or nats:URL[,URL...]");
    ck_assert_uint_eq(n, strlen(buf));
    char small[8];
    ck_assert_uint_eq(stk_feed_usage(small, sizeof(small)), n); /* cut, length told */
    ck_assert_str_eq(small, "sim, cs");
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", prefix_picks_feed},
        {"core", others_are_no_feed},
        {"core", every_feed_has_its_hooks},
        {"core", usage_names_every_feed},
    };
    return TEST_TABLE_RUN("feed", tests);
}
