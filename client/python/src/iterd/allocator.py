"""Keeps glibc from returning freed multi-MB buffers to the kernel (see tune_allocator()).

Why: a client receiving GB/s through gRPC allocates and frees a few-MB buffer per message (gRPC's
read buffers, the bytes of each chunk). With glibc's defaults those are handed back to the kernel
on free and page-faulted and zeroed again on the next message: measured here, 30-40% of the Python
client's throughput. The same setting is applied by the C++ client and the daemon
(common/memory/allocator_tuning.h).
"""
import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's cap on 64-bit systems.
_TRIM_THRESHOLD_BYTES = 1 << 30

_applied = None


def tune_allocator():
    """Applies the setting once per process; returns whether it is in force.

    Skipped when the user opted out (ITERD_TUNE_MALLOC=0), tuned glibc already
    (MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_), or the C library is not glibc.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("ITERD_TUNE_MALLOC") == "0":
        return _applied
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return _applied
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return _applied  # Not glibc: nothing to tune.
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _applied = (mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES) == 1 and
                mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES) == 1)
    return _applied
