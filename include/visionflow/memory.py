"""glibc malloc settings for many threads each handling megabyte-sized buffers (bodies, decoded pixels).

By default glibc serves every allocation over its (adaptive) mmap threshold with a fresh ``mmap`` and hands
freed heap tops back to the kernel, so each image's 2-10 MB of buffers are page-faulted in and zeroed again:
on the camera-photo bench that was ~7 ms of kernel time per image, a seventh of its cost. Keeping freed
memory in the heap and capping the arenas (one per thread by default, each holding its own free memory)
cut that to ~3 ms. The settings are the ``GLIBC_TUNABLES`` ``mmap_threshold``, ``trim_threshold`` and
``arena_max``, applied with ``mallopt`` because task processes are started by Airflow, not by us. Elsewhere
(musl, macOS) this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)

# mallopt parameter numbers from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

MMAP_THRESHOLD = 64 << 20  # glibc's ceiling for the adaptive threshold is 32 MB on 64-bit
TRIM_THRESHOLD = 256 << 20  # freed memory a heap keeps before returning it to the kernel
ARENA_MAX = 4


@functools.cache
def keep_freed_buffers() -> bool:
    """Apply the settings once per process; False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018 - only glibc has it
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = all(mallopt(param, value) == 1 for param, value in
             ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_ARENA_MAX, ARENA_MAX)))
    log.debug("malloc tuned for large buffers: %s", ok)
    return ok


@functools.cache
def _malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_free_memory() -> None:
    """Hand freed heap memory of every arena back to the kernel (glibc ``malloc_trim``).

    After a huge decode each thread's arena would otherwise keep its ~1.5 GB of freed pixels, so a budget
    that lets decodes take turns would still see the process grow by one huge image per thread.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
