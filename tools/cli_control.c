/* SPDX-License-Identifier: MIT */
/* cli_control.c — `seqtick restart|stop|start NAME` and `seqtick reload`:
 * one request line to the supervisor's control socket, one JSON line back.
 * Exit 0 done, 100 refused (unknown name, bad request), 111 no supervisor. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli_private.h"
#include "util-private.h"

#define REPLY_MAX (4u << 20) /* a status document of many programs fits */
#define CTL_WAIT_MS 10000    /* a reload or a status never takes this long */

int stk_cli_ctl_request(const char *path, const char *req, char **ret_reply)
{
    struct sockaddr_un sa;
    size_t plen = strlen(path);
    if (plen >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, plen);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    char line[600];
    int n = snprintf(line, sizeof(line), "%s\n", req);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        close(fd);
        return -E2BIG;
    }
    struct timeval tv = {.tv_sec = CTL_WAIT_MS / 1000};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        int e = errno ? errno : EIO;
        close(fd);
        return -e;
    }
    char *buf = malloc(REPLY_MAX + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t len = 0;
    for (;;) {
        ssize_t k = stk_read_retry(fd, buf + len, REPLY_MAX - len);
        if (k < 0) {
            free(buf);
            close(fd);
            return (int)(k == -EAGAIN ? -ETIMEDOUT : k);
        }
        if (k == 0 || (len += (size_t)k) == REPLY_MAX)
            break;
    }
    close(fd);
    buf[len] = 0;
    if (len == 0 || buf[len - 1] != '\n') {
        free(buf);
        return -EPROTO;
    }
    *ret_reply = buf;
    return 0;
}

/* The text of "error":"..." in a refusal, unescaped enough for people. */
static void print_error(const char *reply)
{
    const char *e = strstr(reply, "\"error\":\"");
    if (!e) {
        fprintf(stderr, "seqtick: fatal: the supervisor refused: %s", reply);
        return;
    }
    fputs("seqtick: fatal: ", stderr);
    for (e += 9; *e && *e != '"'; e++) {
        if (*e == '\\' && e[1])
            e++;
        fputc(*e, stderr);
    }
    fputc('\n', stderr);
}

int stk_cli_control(struct stk_cli *cli)
{
    char req[600];
    const char *cmd = cli->command;
    if (cli->argc == 1)
        snprintf(req, sizeof(req), "%s %s", cmd, cli->argv[0]);
    else
        snprintf(req, sizeof(req), "%s", cmd);
    if (strpbrk(req, "\n\r")) {
        fprintf(stderr, "seqtick: fatal: a program name has no line breaks\n");
        return STK_EXIT_USAGE;
    }
    char *reply = NULL;
    int r = stk_cli_ctl_request(cli->control_socket, req, &reply);
    if (r < 0 || !reply) {
        fprintf(stderr, "seqtick: fatal: unable to reach the supervisor at '%s': %s\n",
                cli->control_socket, strerror(-r));
        if (r == -ENOENT || r == -ECONNREFUSED)
            fprintf(stderr, "seqtick: hint: is seqtick-supervisor running with this "
                            "configuration (-c FILE)?\n");
        return STK_EXIT_SYSTEM;
    }
    int rc = 0;
    if (!strncmp(reply, "{\"ok\":true", 10)) {
        if (cli->json)
            fputs(reply, stdout);
        else if (cli->argc == 1) {
            const char *st = strstr(reply, "\"state\":\"");
            printf("%s %s: done%s%.*s\n", cmd, cli->argv[0], st ? ", now " : "",
                   st ? (int)strcspn(st + 9, "\"") : 0, st ? st + 9 : "");
        } else {
            printf("%s: done\n", cmd);
        }
    } else {
        if (cli->json)
            fputs(reply, stdout);
        print_error(reply);
        rc = STK_EXIT_USAGE;
    }
    free(reply);
    return rc;
}
