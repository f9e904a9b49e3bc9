/* SPDX-License-Identifier: MIT */
/* errors.c — one place that turns the library's -errno results into text. */
#include <errno.h>
#include <string.h>

#include "seqtick.h"

const char *stk_strerror(int err)
{
    switch (err < 0 ? -err : err) {
    case 0:
        return "success";
    case ENOENT:
        return "no such segment or symbol";
    case EBADMSG:
        return "bad magic: not a seqtick segment";
    case EPROTONOSUPPORT:
        return "unsupported segment ABI version";
    case EPROTO:
        return "segment layout mismatch (header, record size or decimals)";
    case EUCLEAN:
        return "corrupt segment header (impossible capacity, history or size)";
    case EIO:
        return "segment file is shorter than its header says (truncated)";
    case ENODATA:
        return "never written";
    case EBUSY:
        return "busy: the writer did not finish the record (died mid-write?)";
    case ERANGE:
        return "out of range";
    case ESTALE:
        return "stale: lapped by the writer, or segment closed";
    case EAGAIN:
        return "not available yet";
    case EALREADY:
        return "another producer is attached to the segment (its flock is held)";
    case ENOSPC:
        return "no space (/dev/shm full, or symbol table full)";
    case EPERM:
        return "not permitted: segment owned by another user (shm.owner), or a "
               "world-writable mode";
    case ENODEV:
        return "not a regular file (a FIFO or device at the segment name)";
    case EFAULT:
        return "segment lost: the file shrank under the mapping (re-open it)";
    case EINVAL:
        return "invalid argument";
    default:
        return strerror(err < 0 ? -err : err);
    }
}
