/* SPDX-License-Identifier: MIT */
/* reload.c — the configuration the supervisor accepted: read once, checked
 * in full (the parser, then every check a child makes at start), copied to
 * the file the children are started with, and digested per section so a
 * SIGHUP restarts only the children whose sections of the file changed (new
 * keys included, whatever their type: the text is compared, not the struct). */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log-private.h"
#include "preflight.h"
#include "supervisor.h"
#include "util-private.h"

struct lines {
    const char *const *sections;
    char **v;
    size_t n, cap;
    bool oom;
};

static int collect(void *user, const char *section, const char *name, const char *value)
{
    struct lines *l = user;
    bool want = false;
    for (const char *const *s = l->sections; *s; s++)
        if (!strcmp(*s, section))
            want = true;
    if (!want)
        return 1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (!v) {
            l->oom = true;
            return 0;
        }
        l->v = v;
        l->cap = cap;
    }
    if (asprintf(&l->v[l->n], "%s.%s=%s\n", section, name, value) < 0) {
        l->oom = true;
        return 0;
    }
    l->n++;
    return 1;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *stk_reload_digest(const char *text, const char *const sections[])
{
    struct lines l = {.sections = sections};
    char *out = NULL;
    int r = ini_parse_string(text, collect, &l);
    if (r == 0 && !l.oom) {
        qsort(l.v, l.n, sizeof(*l.v), cmp);
        size_t len = 1;
        for (size_t i = 0; i < l.n; i++)
            len += strlen(l.v[i]);
        if ((out = malloc(len))) {
            char *p = out;
            for (size_t i = 0; i < l.n; i++)
                p = stpcpy(p, l.v[i]);
            *p = 0;
        }
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i]);
    free(l.v);
    return out;
}

char *stk_reload_program_digest(const char *text, const char *name)
{
    char section[128];
    snprintf(section, sizeof(section), "program.%s", name);
    const char *const sections[] = {section, NULL};
    return stk_reload_digest(text, sections);
}

int stk_sup_accept(const char *path, char **ret_text, struct stk_config *ret,
                   char err[STK_CONF_ERR_MAX])
{
    char *text = NULL;
    int r = stk_config_read(path, &text, err);
    if (r == 0 && text)
        r = stk_config_load_string(text, path, ret, err);
    else if (r == 0)
        r = -ENOMEM;
    if (r != 0) {
        free(text);
        return r == -ENOMEM ? r : -EINVAL;
    }
    /* What the producer would refuse at start, by the very calls it makes
     * (the server refuses nothing beyond the parser). A failure that may
     * pass (a replay file not readable right now) is the producer's to
     * report and retry. */
    r = stk_producer_check(ret, err);
    if (r < 0 && r != -EINVAL) {
        stk_warn("%s (the producer will retry it)", err);
        r = 0;
    }
    if (r < 0) {
        stk_config_free(ret);
        free(text);
        return r;
    }
    *ret_text = text;
    return 0;
}

int stk_sup_snapshot(struct stk_sup *sup, const char *text)
{
    char *path = sup->snapshot_path, *tmp = NULL;
    if (!path && asprintf(&path, "%s.conf", sup->cfg.supervisor.pidfile) < 0)
        return -ENOMEM;
    /* Never the user's own file (removed at exit): PIDFILE.conf given as -c */
    struct stat a, b;
    if (path != sup->snapshot_path && stat(path, &a) == 0 && stat(sup->config_path, &b) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        free(path);
        if (asprintf(&path, "%s.accepted.conf", sup->cfg.supervisor.pidfile) < 0)
            return -ENOMEM;
    }
    if (asprintf(&tmp, "%s.tmp", path) < 0) {
        if (path != sup->snapshot_path)
            free(path);
        return -ENOMEM;
    }
    (void)unlink(tmp); /* a previous supervisor's, killed mid-write */
    int r = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        r = -errno;
    } else {
        FILE *f = fdopen(fd, "w");
        if (!f) {
            r = -errno;
            close(fd);
        } else {
            fprintf(f, "%s%s\n%s", STK_CONF_COPY_MARK, sup->config_path, text);
            if (fflush(f) != 0 || ferror(f))
                r = -errno ? -errno : -EIO;
            if (fclose(f) != 0 && r == 0)
                r = -errno;
        }
        if (r == 0 && rename(tmp, path) < 0)
            r = -errno;
        if (r < 0)
            (void)unlink(tmp);
    }
    free(tmp);
    if (r < 0) {
        if (path != sup->snapshot_path)
            free(path);
        return r;
    }
    sup->snapshot_path = path;
    return 0;
}

/* Failed or done: no process, none coming; a change brings it back. */
static bool idle(const struct stk_child *c)
{
    return c->state == STK_CS_FAILED || c->state == STK_CS_DONE;
}

void stk_reload_apply(struct stk_sup *sup)
{
    struct stk_config nc;
    char err[STK_CONF_ERR_MAX];
    char *text = NULL;
    const struct stk_config *oc = &sup->cfg;
    memset(&nc, 0, sizeof(nc));
    /* One read: the text validated is the text copied and digested, even
     * if the file changes again meanwhile. */
    int r = stk_sup_accept(sup->config_path, &text, &nc, err);
    if (r < 0) {
        stk_error("reload: %s; keeping the running configuration", err);
        return;
    }
    const char *fixed = NULL;
    if (strcmp(nc.shm.name, oc->shm.name))
        fixed = "shm.name";
    else if (nc.shm.capacity != oc->shm.capacity)
        fixed = "shm.capacity";
    else if (nc.shm.history != oc->shm.history)
        fixed = "shm.history";
    else if (strcmp(nc.supervisor.pidfile, oc->supervisor.pidfile))
        fixed = "supervisor.pidfile";
    if (fixed) {
        stk_error("reload: %s: %s changed, which needs a supervisor restart; keeping the running "
                  "configuration",
                  sup->config_path, fixed);
        stk_config_free(&nc);
        free(text);
        return;
    }
    /* Children started from now on (a crash restart included) run this. */
    r = stk_sup_snapshot(sup, text);
    if (r < 0) {
        stk_error("reload: unable to write the accepted copy %s.conf: %s; keeping the running "
                  "configuration",
                  sup->cfg.supervisor.pidfile, strerror(-r));
        stk_config_free(&nc);
        free(text);
        return;
    }
    stk_info("reload: %s is valid; applying it", sup->config_path);
    sup->reloads++;
    stk_log_init(STK_SUP_PROG, nc.log.level, nc.log.format);
    if (strcmp(nc.supervisor.status_file, sup->status_path)) {
        char *s = strdup(nc.supervisor.status_file);
        if (s) {
            (void)unlink(sup->status_path);
            free(sup->status_path);
            sup->status_path = s;
        }
    }
    struct stk_policy base = stk_sup_policy(&nc, NULL);

    /* Removed programs and built-ins no longer enabled first (backwards: a
     * removal shifts what follows). */
    for (size_t i = sup->nchildren; i-- > 0;) {
        struct stk_child *c = sup->children[i];
        if (c->builtin ? stk_builtin_enabled(c->builtin, &nc)
                       : stk_config_program(&nc, c->name) != NULL)
            continue;
        if (c->builtin)
            stk_info("reload: %s no longer enabled: stopping it", c->name);
        else
            stk_info("reload: [program.%s] removed: stopping it", c->name);
        c->after = STK_AFTER_REMOVE;
        stk_child_event(c, STK_CE_STOP);
    }

    /* Restarts are sent once the new config is in place. */
    struct stk_child **changed =
        calloc(sup->nchildren + stk_nbuiltins + nc.nprograms + 1, sizeof(struct stk_child *));
    size_t nchanged = 0;
    if (!changed) {
        stk_error("reload: out of memory; keeping the running configuration");
        stk_config_free(&nc);
        free(text);
        return;
    }
    for (size_t i = 0; i < stk_nbuiltins; i++) {
        const struct stk_builtin *b = &stk_builtins[i];
        if (!stk_builtin_enabled(b, &nc))
            continue;
        struct stk_child *c = stk_sup_find_child(sup, b->name);
        char *d = stk_reload_digest(text, b->sections);
        if (!c) {
            stk_info("reload: %s enabled: starting it", b->name);
            c = stk_sup_add_child(sup, b->name, b, NULL, d, &base);
            free(d);
            if (c)
                changed[nchanged++] = c;
            else
                stk_error("reload: %s: out of memory", b->name);
            continue;
        }
        c->pol = base;
        if (c->after == STK_AFTER_REMOVE)
            c->after = STK_AFTER_RESTART; /* disabled, then back before it stopped */
        if (!d || !c->digest || strcmp(d, c->digest)) {
            stk_info("reload: %s settings changed: %s it", c->name,
                     idle(c) ? "starting" : "restarting");
            free(c->digest);
            c->digest = d;
            changed[nchanged++] = c;
        } else {
            free(d);
        }
    }
    for (size_t i = 0; i < nc.nprograms; i++) {
        const struct stk_program_conf *pc = &nc.programs[i];
        struct stk_policy pol = stk_sup_policy(&nc, pc);
        struct stk_child *c = stk_sup_find_child(sup, pc->name);
        char *d = stk_reload_program_digest(text, pc->name);
        if (!c) {
            stk_info("reload: [program.%s] added: starting it", pc->name);
            c = stk_sup_add_child(sup, pc->name, NULL, pc->command, d, &pol);
            free(d);
            if (!c) {
                stk_error("reload: [program.%s]: out of memory", pc->name);
                continue;
            }
            changed[nchanged++] = c;
            continue;
        }
        c->pol = pol;
        if (c->after == STK_AFTER_REMOVE)
            c->after = STK_AFTER_RESTART; /* removed, then back before it stopped */
        /* A running program restarts for a new command (its other keys
         * apply as they are); one that failed or is done comes back for any
         * change of its section. */
        bool section = !d || !c->digest || strcmp(d, c->digest);
        bool command = strcmp(c->command, pc->command) != 0;
        if (command || (section && idle(c))) {
            char *cmd = strdup(pc->command);
            if (!cmd || !d) {
                free(cmd);
                free(d);
                stk_error("reload: [program.%s]: out of memory", pc->name);
                continue;
            }
            stk_info("reload: [program.%s] %s: %s it", pc->name,
                     command ? "command changed" : "section changed",
                     idle(c) ? "starting" : "restarting");
            free(c->command);
            free(c->digest);
            c->command = cmd;
            c->digest = d;
            changed[nchanged++] = c;
        } else if (section) {
            free(c->digest);
            c->digest = d;
        } else {
            free(d);
        }
    }
    stk_config_free(&sup->cfg);
    sup->cfg = nc;
    free(text);
    stk_watchdog_setup(sup);
    for (size_t i = 0; i < nchanged; i++) {
        struct stk_child *c = changed[i];
        /* failed or done: nothing to stop, start it again */
        stk_child_event(c, idle(c) ? STK_CE_START : STK_CE_RESTART);
    }
    free(changed);
    stk_sup_changed(sup);
}
