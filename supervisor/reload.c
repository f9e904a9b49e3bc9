/* SPDX-License-Identifier: MIT */
/* reload.c — what a child's settings are, as text, so SIGHUP restarts only the
 * children whose sections of the file changed (new keys included, whatever
 * their type: the file is compared, not the struct). */
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor.h"

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

char *stk_reload_digest(const char *path, const char *const sections[])
{
    struct lines l = {.sections = sections};
    char *out = NULL;
    int r = ini_parse(path, collect, &l);
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
