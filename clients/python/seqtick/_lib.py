# SPDX-License-Identifier: MIT
"""seqtick._lib — find and load libseqtick.so with ctypes; declare its calls.

Search order: $SEQTICK_LIB (a file), the build trees ($SEQTICK_BUILD_DIR/common,
then build/common next to this checkout), then ctypes.util.find_library.
"""
import ctypes
import ctypes.util
import os

from .errors import LibraryError

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.normpath(os.path.join(_HERE, "..", "..", ".."))


class StkQuote(ctypes.Structure):
    """struct stk_quote of seqtick.h (64 bytes, no padding)."""
    _fields_ = [
        ("seq", ctypes.c_uint64),
        ("price", ctypes.c_int64),
        ("bid", ctypes.c_int64),
        ("ask", ctypes.c_int64),
        ("volume", ctypes.c_uint64),
        ("src_ts_ns", ctypes.c_uint64),
        ("pub_ts_ns", ctypes.c_uint64),
        ("bid_size", ctypes.c_uint32),
        ("ask_size", ctypes.c_uint32),
    ]


assert ctypes.sizeof(StkQuote) == 64

# struct.Struct format of StkQuote, for one unpack per quote.
QUOTE_FORMAT = "=QqqqQQQII"


class StkHeader(ctypes.Structure):
    """The first 232 bytes of struct stk_header (layout v1)."""
    _fields_ = [
        ("magic", ctypes.c_char * 8),
        ("abi_version", ctypes.c_uint32),
        ("header_bytes", ctypes.c_uint32),
        ("record_bytes", ctypes.c_uint32),
        ("capacity", ctypes.c_uint32),
        ("history", ctypes.c_uint32),
        ("price_decimals", ctypes.c_uint32),
        ("total_bytes", ctypes.c_uint64),
        ("created_ns", ctypes.c_uint64),
        ("generation", ctypes.c_uint64),
        ("state", ctypes.c_uint32),
        ("nsymbols", ctypes.c_uint32),
        ("epoch", ctypes.c_uint64),            # 64
        ("last_update_ns", ctypes.c_uint64),   # 72
        ("futex", ctypes.c_uint32),            # 80
        ("reserved1", ctypes.c_uint32),
        ("_pad1", ctypes.c_char * 40),
        ("producer_heartbeat_ns", ctypes.c_uint64),  # 128
        ("producer_pid", ctypes.c_uint32),
        ("producer_restarts", ctypes.c_uint32),
        ("producer_start_ns", ctypes.c_uint64),
        ("_pad2", ctypes.c_char * 40),
        ("ticks_total", ctypes.c_uint64),      # 192
        ("bad_input", ctypes.c_uint64),
        ("symbols_dropped", ctypes.c_uint64),
        ("batches_total", ctypes.c_uint64),
        ("repaired", ctypes.c_uint64),
    ]


assert StkHeader.epoch.offset == 64 and StkHeader.producer_heartbeat_ns.offset == 128
assert StkHeader.ticks_total.offset == 192 and ctypes.sizeof(StkHeader) == 232


class StkSegOpenOpts(ctypes.Structure):
    """struct stk_seg_open_opts of seqtick.h."""
    _fields_ = [("flags", ctypes.c_uint32), ("owner_uid", ctypes.c_uint32)]


OPEN_OWNER = 0x1  # STK_OPEN_OWNER


def _candidates():
    env = os.environ.get("SEQTICK_LIB")
    if env:
        yield env
    bd = os.environ.get("SEQTICK_BUILD_DIR")
    if bd:
        yield os.path.join(bd, "common", "libseqtick.so")
    yield os.path.join(_REPO, "build", "common", "libseqtick.so")
    found = ctypes.util.find_library("seqtick")
    if found:
        yield found


def _declare(lib):
    P = ctypes.c_void_p
    sigs = {
        "stk_seg_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(P)]),
        "stk_seg_open_opts": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(StkSegOpenOpts),
                                             ctypes.POINTER(P)]),
        "stk_seg_usable": (ctypes.c_int, [P]),
        "stk_sigbus_guard": (ctypes.c_int, []),
        "stk_seg_alive": (ctypes.c_int, [P, ctypes.c_uint64, ctypes.c_uint64,
                                         ctypes.POINTER(ctypes.c_uint64)]),
        "stk_quote_stale": (ctypes.c_int, [P, ctypes.POINTER(StkQuote), ctypes.c_uint64,
                                           ctypes.c_uint64, ctypes.c_uint64]),
        "stk_seg_close": (None, [P]),
        "stk_seg_header": (P, [P]),
        "stk_seg_nsymbols": (ctypes.c_uint32, [P]),
        # a validated, NUL-terminated name (printable ASCII), or None
        "stk_seg_symbol": (ctypes.c_char_p, [P, ctypes.c_uint32]),
        "stk_seg_lookup": (ctypes.c_int, [P, ctypes.c_char_p]),
        "stk_seg_record": (P, [P, ctypes.c_uint32]),
        "stk_quote_read": (ctypes.c_int, [P, ctypes.c_uint32, ctypes.POINTER(StkQuote)]),
        "stk_ring_head": (ctypes.c_uint64, [P, ctypes.c_uint32]),
        "stk_history_read": (ctypes.c_int, [P, ctypes.c_uint32, ctypes.POINTER(StkQuote),
                                            ctypes.c_size_t]),
        "stk_seg_epoch": (ctypes.c_uint64, [P]),
        "stk_seg_wait": (ctypes.c_int, [P, ctypes.c_uint64, ctypes.c_int]),
        "stk_seg_replaced": (ctypes.c_int, [P]),
        "stk_seg_heartbeat_age_ns": (ctypes.c_uint64, [P]),
        "stk_strerror": (ctypes.c_char_p, [ctypes.c_int]),
        "stk_version": (ctypes.c_char_p, []),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


def load():
    """Load libseqtick.so; raise LibraryError naming every place tried."""
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} (missing)")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
            continue
        try:
            return _declare(lib), path
        except AttributeError as e:
            tried.append(f"{path} (not libseqtick: {e})")
    raise LibraryError("libseqtick.so not found; tried: " + "; ".join(tried or ["nothing"]) +
                       ". Build it (meson/ninja) or set SEQTICK_LIB=/path/libseqtick.so")


_lib = None
_lib_path = None


def lib():
    """The loaded library (loaded on first use)."""
    global _lib, _lib_path
    if _lib is None:
        _lib, _lib_path = load()
    return _lib


def lib_path():
    lib()
    return _lib_path


def strerror(err):
    return lib().stk_strerror(err).decode("utf-8", "replace")
