"""glibc's heap in Dask's worker processes: a step's temporaries kept, not mapped afresh.

``distributed``'s nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536``: glibc then
hands the top of its heap back to the system whenever 64 KiB are free there, and, since a
``MALLOC_*`` variable was set at start-up, keeps its mmap threshold at 128 KiB, so every
temporary above it is mapped and unmapped again. A step's temporaries are of that size, made
and freed block after block, chunk after chunk: the worker page-faults them back in every
step. A worker's first chunk task therefore sets glibc's trim threshold to 16 MiB and its mmap
threshold to 32 MiB (``mallopt``, the settings the variables would have given at start-up),
unless ``MALLOC_MMAP_THRESHOLD_`` is in the worker's environment (the user's own choice).
Nothing is changed outside a ``distributed`` worker or on other C libraries.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: glibc's mallopt parameters (malloc.h) and the values set
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
TRIM_BYTES, MMAP_BYTES = 16 * 2**20, 32 * 2**20

_kept: bool | None = None  # this process's answer, decided once


def _in_distributed_worker() -> bool:
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except ValueError:  # not in a worker's task
        return False
    return True


def _mallopt(param: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)))
    except (OSError, AttributeError):  # no C library symbols, or not glibc
        return False


def worker_keeps_temporaries() -> bool:
    """In a ``distributed`` worker on glibc: the heap set once to keep the steps'
    temporaries (see the module's doc); whether it was. False elsewhere."""
    global _kept
    if _kept is None:
        _kept = (
            sys.platform.startswith("linux")
            and "MALLOC_MMAP_THRESHOLD_" not in os.environ
            and _in_distributed_worker()
            and _mallopt(M_TRIM_THRESHOLD, TRIM_BYTES)
            and _mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)
        )
    return _kept
