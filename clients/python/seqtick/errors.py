# SPDX-License-Identifier: MIT
"""seqtick.errors — the exceptions the client raises (all SeqtickError)."""
import errno as _errno


class SeqtickError(Exception):
    """Base class; .errno holds the positive errno of the library result, if any."""

    def __init__(self, message, err=0):
        super().__init__(message)
        self.errno = err


class LibraryError(SeqtickError):
    """libseqtick.so could not be found or loaded."""


class NoSegmentError(SeqtickError):
    """No segment of that name exists (or it was removed and not re-created)."""


class AbiError(SeqtickError):
    """The file is not a seqtick segment this client can read (magic, ABI, layout)."""


class UnknownTickerError(SeqtickError, KeyError):
    """The ticker is not in the segment's symbol table."""

    def __str__(self):  # KeyError would repr() the message
        return self.args[0] if self.args else ""


class NoDataError(SeqtickError, LookupError):
    """The ticker is known but the producer never wrote a quote for it."""


class BusyError(SeqtickError):
    """The writer kept the record mid-write for the whole bounded retry loop
    (normally a writer that died mid-write; its restart repairs the record)."""


_ABI = {_errno.EBADMSG, _errno.EPROTONOSUPPORT, _errno.EPROTO, _errno.EUCLEAN, _errno.EIO}


def from_open(name, r, text):
    """The exception for a failed stk_seg_open(name) that returned -r."""
    e = -r
    if e == _errno.ENOENT:
        return NoSegmentError(f"no seqtick segment '{name}' (is the producer running? "
                              f"look for /dev/shm{name})", e)
    if e in _ABI:
        return AbiError(f"segment '{name}' is not readable by this client: {text}", e)
    if e == _errno.EACCES:
        return SeqtickError(f"segment '{name}': permission denied (the segment mode is "
                            f"shm.mode; run as its owner or group)", e)
    if e == _errno.ENODEV:
        return SeqtickError(f"segment '{name}' is not a regular file (a FIFO or device at "
                            f"/dev/shm{name}?): refused", e)
    if e == _errno.EPERM:
        return SeqtickError(f"segment '{name}' is owned by another user: refused (pass "
                            f"owner= the user that runs the producer)", e)
    if e == _errno.ESTALE:
        return NoSegmentError(f"segment '{name}' is closed (retired, no producer): "
                              f"unavailable", e)
    if e == _errno.EINVAL:
        return SeqtickError(f"bad segment name '{name}': a '/' then [A-Za-z0-9._-]", e)
    return SeqtickError(f"unable to open segment '{name}': {text}", e)
