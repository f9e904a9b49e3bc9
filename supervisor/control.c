/* SPDX-License-Identifier: MIT */
/* control.c — the control socket (supervisor.control_socket, mode 0600): one
 * request line per connection (status, restart NAME, stop NAME, start NAME,
 * reload), one JSON line back, all on the event loop without blocking. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log-private.h"
#include "segment-private.h"
#include "supervisor.h"
#include "util-private.h"

#define CTL_REQUEST_MAX 512 /* a longer request line is refused */
#define CTL_CONNS_MAX 16    /* more wait in the listen backlog */
#define CTL_TIMEOUT_S 5.0   /* a client silent this long is dropped */
#define CTL_RETRY_S 0.1     /* accept failed for want of fds: try again then */

struct ctl_conn {
    ev_io w;
    ev_timer w_timeout;
    struct stk_sup *sup;
    struct ctl_conn *prev, *next;
    int fd;
    size_t len;
    bool too_long; /* the line overflowed req: skipping to its end */
    char *reply;   /* set once the request is answered */
    size_t rlen, roff;
    char req[CTL_REQUEST_MAX];
};

static struct ctl_conn *conns;
static size_t nconns;
static ev_timer w_retry;
static ino_t sock_ino;
static dev_t sock_dev;

static void conn_close(struct ctl_conn *c)
{
    struct ev_loop *loop = c->sup->loop;
    ev_io_stop(loop, &c->w);
    ev_timer_stop(loop, &c->w_timeout);
    close(c->fd);
    if (c == conns)
        conns = c->next;
    else if (c->prev)
        c->prev->next = c->next;
    if (c->next)
        c->next->prev = c->prev;
    nconns--;
    bool was_full = nconns + 1 >= CTL_CONNS_MAX;
    struct stk_sup *sup = c->sup;
    free(c->reply);
    free(c);
    if (was_full && sup->ctl_fd >= 0 && !ev_is_active(&sup->w_ctl) && !ev_is_active(&w_retry))
        ev_io_start(loop, &sup->w_ctl);
}

/* {"ok":false,"error":"WHAT 'ARG'"} with ARG escaped. */
static char *refusal(const char *what, const char *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    fputs("{\"ok\":false,\"error\":", f);
    if (arg) {
        char *msg = NULL;
        if (asprintf(&msg, "%s '%s'", what, arg) < 0)
            msg = NULL;
        stk_json_string(f, msg ? msg : what);
        free(msg);
    } else {
        stk_json_string(f, what);
    }
    fputs("}\n", f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static char *ok_state(const struct stk_child *c)
{
    char *text = NULL;
    if (asprintf(&text, "{\"ok\":true,\"state\":\"%s\"}\n", stk_child_state_name(c->state)) < 0)
        return NULL;
    return text;
}

static struct stk_child *find(struct stk_sup *sup, const char *name)
{
    for (size_t i = 0; i < sup->nchildren; i++)
        if (!strcmp(sup->children[i]->name, name))
            return sup->children[i];
    return NULL;
}

/* Answer one request line (NUL-terminated, no newline). Returns a heap
 * reply, or NULL when out of memory. */
static char *answer(struct stk_sup *sup, char *line)
{
    char *arg = strchr(line, ' ');
    if (arg) {
        *arg++ = 0;
        arg += strspn(arg, " ");
        if (!*arg)
            arg = NULL;
    }
    if (!strcmp(line, "status") && !arg) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
            return NULL;
        stk_status_render(f, sup, stk_now_ns());
        if (fclose(f) != 0) {
            free(text);
            return NULL;
        }
        return text;
    }
    if (!strcmp(line, "reload") && !arg) {
        if (sup->stopping)
            return refusal("the supervisor is stopping", NULL);
        stk_info("control: reload requested");
        int r = stk_sup_reload(sup);
        if (r < 0)
            return refusal("reload refused: the running configuration is kept (see the log)", NULL);
        return strdup("{\"ok\":true}\n");
    }
    bool restart = !strcmp(line, "restart"), stop = !strcmp(line, "stop"),
         start = !strcmp(line, "start");
    if (!restart && !stop && !start)
        return refusal("unknown request (status, restart NAME, stop NAME, start NAME, reload)",
                       NULL);
    if (!arg || strchr(arg, ' '))
        return refusal("one program name expected after", line);
    struct stk_child *c = find(sup, arg);
    if (!c)
        return refusal("unknown program", arg);
    if (sup->stopping)
        return refusal("the supervisor is stopping", NULL);
    if (start && (c->state == STK_CS_STARTING || c->state == STK_CS_RUNNING ||
                  c->state == STK_CS_STOPPING)) {
        char *msg = NULL;
        if (asprintf(&msg, "%s is %s, not stopped, failed or done; start", c->name,
                     stk_child_state_name(c->state)) < 0)
            return NULL;
        char *r = refusal(msg, c->name);
        free(msg);
        return r;
    }
    stk_info("control: %s %s (%s)", line, c->name, stk_child_state_name(c->state));
    if (stop) {
        if (c->after == STK_AFTER_RESTART)
            c->after = STK_AFTER_NONE; /* stop for good, not stop-then-start */
        stk_child_event(c, STK_CE_STOP);
    } else {
        stk_child_event(c, restart ? STK_CE_RESTART : STK_CE_START);
    }
    stk_sup_changed(sup);
    return ok_state(c);
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct ctl_conn *c = w->data;
    if (c->reply) {
        ssize_t n = send(c->fd, c->reply + c->roff, c->rlen - c->roff, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n > 0)
            c->roff += (size_t)n;
        if (n <= 0 || c->roff == c->rlen)
            conn_close(c);
        return;
    }
    ssize_t n = stk_read_retry(c->fd, c->req + c->len, sizeof(c->req) - 1 - c->len);
    if (n == -EAGAIN)
        return;
    if (n < 0 || (n == 0 && c->len == 0 && !c->too_long)) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    c->req[c->len] = 0;
    char *nl = memchr(c->req, '\n', c->len);
    if (!nl && n > 0) {
        if (c->len == sizeof(c->req) - 1) {
            /* Read the rest of the line before answering: closing on
             * unread input would reset the connection under the reply. */
            c->too_long = true;
            c->len = 0;
        }
        return;
    }
    if (nl) {
        *nl = 0;
        if (nl > c->req && nl[-1] == '\r')
            nl[-1] = 0;
    }
    if (c->too_long)
        c->reply = refusal("request line too long", NULL);
    else
        c->reply = answer(c->sup, c->req);
    if (!c->reply) {
        conn_close(c);
        return;
    }
    c->rlen = strlen(c->reply);
    (void)shutdown(c->fd, SHUT_RD);
    ev_io_stop(loop, &c->w);
    ev_io_set(&c->w, c->fd, EV_WRITE);
    ev_io_start(loop, &c->w);
    ev_timer_again(loop, &c->w_timeout);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    conn_close(w->data);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct stk_sup *sup = w->data;
    if (sup->ctl_fd >= 0 && nconns < CTL_CONNS_MAX)
        ev_io_start(loop, &sup->w_ctl);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stk_sup *sup = w->data;
    while (nconns < CTL_CONNS_MAX) {
        int fd = accept4(sup->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Level-triggered: wait a little instead of spinning. */
                stk_warn("control: unable to accept: %s", strerror(errno));
                ev_io_stop(loop, w);
                ev_timer_set(&w_retry, CTL_RETRY_S, 0.);
                ev_timer_start(loop, &w_retry);
            }
            return;
        }
        struct ctl_conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            return;
        }
        c->sup = sup;
        c->fd = fd;
        ev_io_init(&c->w, conn_cb, fd, EV_READ);
        ev_timer_init(&c->w_timeout, timeout_cb, 0., CTL_TIMEOUT_S);
        c->w.data = c->w_timeout.data = c;
        ev_io_start(loop, &c->w);
        ev_timer_again(loop, &c->w_timeout);
        c->next = conns;
        if (conns)
            conns->prev = c;
        conns = c;
        nconns++;
    }
    ev_io_stop(loop, w); /* full: conn_close() starts it again */
}

int stk_ctl_open(struct stk_sup *sup)
{
    const char *path = sup->cfg.supervisor.control_socket;
    struct sockaddr_un sa;
    struct stat st;
    if (!path || !*path)
        return 0;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        stk_error("fatal: supervisor.control_socket '%s' is longer than a socket path may be "
                  "(%zu bytes)",
                  path, sizeof(sa.sun_path) - 1);
        return STK_EXIT_USAGE;
    }
    /* We hold the pidfile lock: a socket there is a dead supervisor's. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            stk_error("fatal: supervisor.control_socket '%s' exists and is not a socket; "
                      "refusing to remove it",
                      path);
            return STK_EXIT_SYSTEM;
        }
        if (unlink(path) < 0 && errno != ENOENT) {
            stk_error("fatal: unable to remove the stale control socket '%s': %s", path,
                      strerror(errno));
            return STK_EXIT_SYSTEM;
        }
        stk_info("control: replaced the stale socket '%s' of a supervisor that is gone", path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        stk_error("fatal: unable to create the control socket: %s", strerror(errno));
        return STK_EXIT_SYSTEM;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    /* 0600 from birth: no moment when others could connect. */
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    umask(old);
    if (r < 0 || listen(fd, CTL_CONNS_MAX) < 0 || stat(path, &st) < 0) {
        if (r == 0)
            e = errno;
        stk_error("fatal: unable to listen on control socket '%s': %s", path, strerror(e));
        if (r == 0)
            (void)unlink(path);
        close(fd);
        return STK_EXIT_SYSTEM;
    }
    sock_ino = st.st_ino;
    sock_dev = st.st_dev;
    sup->ctl_path = strdup(path);
    if (!sup->ctl_path) {
        (void)unlink(path);
        close(fd);
        stk_error("fatal: out of memory");
        return STK_EXIT_SYSTEM;
    }
    sup->ctl_fd = fd;
    ev_io_init(&sup->w_ctl, accept_cb, fd, EV_READ);
    ev_timer_init(&w_retry, retry_cb, 0., 0.);
    sup->w_ctl.data = w_retry.data = sup;
    ev_io_start(sup->loop, &sup->w_ctl);
    return 0;
}

void stk_ctl_close(struct stk_sup *sup)
{
    while (conns)
        conn_close(conns);
    if (sup->ctl_fd < 0)
        return;
    if (sup->loop) {
        ev_io_stop(sup->loop, &sup->w_ctl);
        ev_timer_stop(sup->loop, &w_retry);
    }
    close(sup->ctl_fd);
    sup->ctl_fd = -1;
    /* Ours only: a successor may already have put its own there. */
    struct stat st;
    if (sup->ctl_path && lstat(sup->ctl_path, &st) == 0 && st.st_ino == sock_ino &&
        st.st_dev == sock_dev)
        (void)unlink(sup->ctl_path);
    free(sup->ctl_path);
    sup->ctl_path = NULL;
}
