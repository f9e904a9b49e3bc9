/* SPDX-License-Identifier: MIT */
/* placeholder.c — removed when the producer lands. */
int stk_producer_placeholder(void);
int stk_producer_placeholder(void)
{
    return 0;
}
