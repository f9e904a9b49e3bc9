/* SPDX-License-Identifier: MIT */
/* storeutil.h — small helpers the file-based stores share. */
#ifndef SEQTICK_RECORDER_STOREUTIL_H
#define SEQTICK_RECORDER_STOREUTIL_H

/* Create the folders leading to `path` (not path itself), mode 0755, like
 * mkdir -p of its dirname. Returns 0 or -errno. */
int stk_rec_mkdir_parent(const char *path);

/* mkdir -p `dir` itself. Returns 0 or -errno. */
int stk_rec_mkdir_p(const char *dir);

#endif
