/* SPDX-License-Identifier: MIT */
/* test_natsopt.c — the one NATS option builder: server lists, the auth and
 * TLS combinations it accepts and refuses, and its error texts. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "natsopt-private.h"
#include "testutil.h"

START_TEST(split_lists)
{
    char buf[256];
    const char *u[4];
    ck_assert_int_eq(stk_nats_split("nats://a:1", buf, sizeof(buf), u, 4), 1);
    ck_assert_str_eq(u[0], "nats://a:1");
    ck_assert_int_eq(stk_nats_split(" nats://a:1 , nats://b:2,nats://c:3 ", buf, sizeof(buf), u, 4),
                     3);
    ck_assert_str_eq(u[0], "nats://a:1");
    ck_assert_str_eq(u[1], "nats://b:2");
    ck_assert_str_eq(u[2], "nats://c:3");
    ck_assert_int_eq(stk_nats_split("", buf, sizeof(buf), u, 4), -EINVAL);
    ck_assert_int_eq(stk_nats_split("nats://a:1,,nats://b:2", buf, sizeof(buf), u, 4), -EINVAL);
    ck_assert_int_eq(stk_nats_split("nats://a:1,", buf, sizeof(buf), u, 4), -EINVAL);
    ck_assert_int_eq(stk_nats_split("a,b,c,d,e", buf, sizeof(buf), u, 4), -E2BIG);
    char small[4];
    ck_assert_int_eq(stk_nats_split("nats://a:1", small, sizeof(small), u, 4), -ENAMETOOLONG);
}
END_TEST

static int build(const struct stk_nats_conf *c, char *err)
{
    natsOptions *o = (natsOptions *)1;
    int r = stk_nats_options(c, &o, err, 256);
    if (r == 0) {
        ck_assert_ptr_nonnull(o);
        natsOptions_Destroy(o);
    } else {
        ck_assert_ptr_null(o);
    }
    return r;
}

START_TEST(accepts_and_refuses)
{
    char err[256];
    struct stk_nats_conf c = {.servers = "nats://127.0.0.1:4222,tls://127.0.0.1:4223"};
    ck_assert_int_eq(build(&c, err), 0);
    c.user = "u";
    c.password = "p";
    ck_assert_int_eq(build(&c, err), 0);
    c.token = "t";
    ck_assert_int_eq(build(&c, err), -EINVAL);
    ck_assert_str_eq(err, "auth: give one of user+password, token, creds");
    c.token = NULL;
    c.password = "";
    ck_assert_int_eq(build(&c, err), -EINVAL);
    ck_assert_str_eq(err, "auth: user and password go together");
    c.user = c.password = NULL;
    c.token = "t";
    ck_assert_int_eq(build(&c, err), 0);
    c.token = NULL;
    c.tls_cert = "/nonexistent.pem";
    ck_assert_int_eq(build(&c, err), -EINVAL);
    ck_assert_str_eq(err, "tls: tls_cert and tls_key go together");
    c.tls_cert = NULL;
    c.tls_ca = "/nonexistent/ca.pem"; /* libnats cannot read it: its error */
    ck_assert_int_eq(build(&c, err), -EIO);
    ck_assert_msg(!strncmp(err, "tls_ca: ", 8), "%s", err);
    c.tls_ca = NULL;
    c.servers = "http://x:1";
    ck_assert_int_eq(build(&c, err), -EINVAL);
    ck_assert_str_eq(err, "nats: http://x:1: not a nats:// or tls:// URL");
    c.servers = "";
    ck_assert_int_eq(build(&c, err), -EINVAL);
    ck_assert_str_eq(err, "nats: empty server URL");
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", split_lists},
        {"core", accepts_and_refuses},
    };
    int r = TEST_TABLE_RUN("natsopt", tests);
    nats_CloseAndWait(2000);
    return r;
}
