/* SPDX-License-Identifier: MIT */
/* The live dashboard page, embedded in the binary at build time. */
#ifndef STK_DASHBOARD_H
#define STK_DASHBOARD_H

#include <stddef.h>

/*
 * stk_dashboard_page - the dashboard's HTML (CSS and JS inline)
 * @body: set to the page bytes (static storage, NUL-terminated)
 * @len: set to the page length in bytes, without the NUL
 * Returns 0. The page needs no other asset and no network beyond this server.
 */
int stk_dashboard_page(const char **body, size_t *len);

#endif
