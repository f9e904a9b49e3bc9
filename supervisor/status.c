/* SPDX-License-Identifier: MIT */
/* status.c — the status file: one JSON document (docs/supervisor.md) that
 * `seqtick status` reads, rewritten with write-to-temp + rename so a reader
 * sees the old or the new one, never half of either. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json-private.h"
#include "segment-private.h"
#include "supervisor.h"
#include "util-private.h"

void stk_json_string(FILE *f, const char *s)
{
    stk_json_fput_str(f, s); /* the one escaper (common/json.c) */
}

static void render_child(FILE *f, const struct stk_child *c)
{
    fputs("{\"name\":", f);
    stk_json_string(f, c->name);
    fprintf(f,
            ",\"pid\":%ld,\"state\":\"%s\",\"restarts\":%llu,\"started_ns\":%llu,"
            "\"since_ns\":%llu,\"ready\":%s,\"last_exit\":",
            (long)c->pid, stk_child_state_name(c->state), (unsigned long long)c->restarts,
            (unsigned long long)c->started_ns, (unsigned long long)c->since_ns,
            c->ready ? "true" : "false");
    if (c->last_exit == 1)
        fprintf(f, "{\"code\":%d}", c->last_value);
    else if (c->last_exit == 2)
        fprintf(f, "{\"signal\":%d}", c->last_value);
    else
        fputs("null", f);
    /* ready_timeout_ms passed without readiness */
    fprintf(f, ",\"not_ready\":%s", c->not_ready ? "true" : "false");
    fputs(",\"command\":", f);
    stk_json_string(f, c->cmdline);
    fputc('}', f);
}

void stk_status_render(FILE *f, const struct stk_sup *sup, uint64_t now_ns)
{
    /* With the pid, our start time tells a reader whether we still run: a
     * reused pid has another (stk_proc_alive). */
    static uint64_t start_ticks;
    if (!start_ticks)
        (void)stk_proc_start(getpid(), &start_ticks);
    fprintf(f,
            "{\"supervisor_pid\":%ld,\"supervisor_start_ticks\":%llu,\"started_ns\":%llu,"
            "\"updated_ns\":%llu,\"config\":",
            (long)getpid(), (unsigned long long)start_ticks, (unsigned long long)sup->started_ns,
            (unsigned long long)now_ns);
    stk_json_string(f, sup->config_path);
    fputs(",\"shm\":", f);
    stk_json_string(f, sup->cfg.shm.name);
    fprintf(f, ",\"tracking\":\"%s\"", stk_tree_mode_name(sup));
    fprintf(f, ",\"all_ready\":%s,\"children\":[", sup->all_ready ? "true" : "false");
    for (size_t i = 0; i < sup->nchildren; i++) {
        if (i)
            fputc(',', f);
        render_child(f, sup->children[i]);
    }
    fputs("]}\n", f);
}

int stk_status_write(const struct stk_sup *sup)
{
    char *text = NULL, *tmp = NULL;
    size_t len = 0;
    int r = 0, fd = -1;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return -errno;
    stk_status_render(f, sup, stk_now_ns());
    if (fclose(f) != 0 || !text)
        return -ENOMEM;
    if (asprintf(&tmp, "%s.tmp", sup->status_path) < 0) {
        tmp = NULL;
        r = -ENOMEM;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    r = stk_write_all(fd, text, len);
    if (close(fd) < 0 && r == 0)
        r = -errno;
    /* No fsync: the file describes this boot's processes, and a reader must
     * never wait on the disk (it is re-written on every change anyway). */
    if (r == 0 && rename(tmp, sup->status_path) < 0)
        r = -errno;
    if (r < 0)
        (void)unlink(tmp);
out:
    free(tmp);
    free(text);
    return r;
}
