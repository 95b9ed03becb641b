"""Keeping freed memory mapped between calls (glibc's M_TOP_PAD).

A training step allocates and frees the same large arrays on every call (im2col columns, the
products on them). glibc gives the top of its heap back to the system once more than its trim
threshold is free (twice its mmap threshold, which adapts up to 32 MiB), so the next call
faults every page in again: on the LeNet step (benchmark C1) that was 2,750 page faults and
6 ms of system time per call, a quarter of the step. Padding the heap's top by 64 MiB keeps
that memory for reuse: no faults, the same results. M_TOP_PAD leaves glibc's adaptive
thresholds on (setting the trim or mmap threshold would turn them off).
"""

from __future__ import annotations

import ctypes
import os

TOP_PAD = 64 << 20
M_TOP_PAD = -2  # the parameter number in glibc's <malloc.h>

_applied = False


def keep_freed_memory() -> None:
    """Set M_TOP_PAD once per process, on glibc only; a MALLOC_TOP_PAD_ the user set wins."""
    global _applied
    if _applied:
        return
    _applied = True
    if "MALLOC_TOP_PAD_" in os.environ:
        return
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return
        ctypes.CDLL(None).mallopt(M_TOP_PAD, TOP_PAD)
    except (ValueError, OSError, AttributeError):  # not glibc, or no mallopt
        pass
