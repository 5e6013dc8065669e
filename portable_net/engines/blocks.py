"""How many examples a block of the gradient's sum holds, per library and allocator.

A full-batch gradient is a sum over blocks of examples (:mod:`portable_net.network`); the
numbers do not depend on the blocks beyond the order of a few sums, the time does: blocks
that fit in cache are faster than passes over arrays that do not, and on the host the
allocator decides whether a block's temporaries are reused or page-faulted back every step.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from .._backend import backend_name
from ..network import SparseInputs

# Activations per block (H * B). Batches use blocks of at most 2**14 values (128 KiB in
# float64): below glibc's mmap threshold, so a step's few temporaries are not returned to the
# system and page-faulted back every step. Large batches (over 64 large blocks, where the
# allocator settles on reusing the same chunks) use blocks of about 2**17 values (1 MiB), which
# cost fewer calls per example.
BLOCK_ELEMENTS = 2**14
LARGE_BLOCK_ELEMENTS = 2**17
# torch on the CPU: each call has a fixed cost, which blocks of about 2**18 values (2 MiB in
# float64) spread over more examples, but only where glibc's heap keeps such temporaries (see
# heap_keeps_blocks); elsewhere they may be page-faulted back every step: NumPy's blocks, or
# the medium ones below.
COARSE_BLOCK_ELEMENTS = 2**18
# torch on the CPU where the heap may not keep those: blocks of about 2**16 values (512 KiB
# in float64) in place of NumPy's 2**14, a quarter of the calls, whose temporaries glibc's
# mmap threshold, raised as they are freed, keeps in the heap after the first step (batches
# of NumPy's large blocks keep those)
MEDIUM_BLOCK_ELEMENTS = 2**16
# On devices (GPU memory, JAX): one block unless a layer's activations would exceed this many
# values (256 MiB in float32), so that a step at millions of points holds a few blocks'
# temporaries rather than several copies of a whole layer's activations.
DEVICE_BLOCK_ELEMENTS = 2**26
# never fewer examples than this: below it, per-block call overhead dominates (wide layers)
MIN_BLOCK = 64
# Mini-batches on the host (NumPy, array-api-strict): one block while the batch's widest
# activations hold at most this many values (512 KiB in float64), unless glibc's mmap
# threshold is frozen. A mini-batch run's temporaries have the same sizes at every step and
# one product per layer costs fewer calls than blocks, where a full batch's one block would
# leave the caches (the performance guide has both): full batches keep the blocks.
MINIBATCH_ELEMENTS = 2**16


def block_for(
    xp: ModuleType,
    device: Any,
    packed: list[Any],
    n: int,
    inputs: Any = None,
    *,
    minibatch: bool = False,
) -> int | None:
    """Examples per block for a batch of n on this library and device (None: one block);
    ``minibatch``: n is a mini-batch of a larger data set (see ``MINIBATCH_ELEMENTS``).

    Sparse ``inputs`` (:class:`portable_net.network.SparseInputs`): one block, whatever the
    library: each block's first-layer gradient is as large as the first layer's weights.

    NumPy and array-api-strict (host memory, cheap calls): cache-sized blocks
    (:func:`block_size`), a mini-batch one block up to ``MINIBATCH_ELEMENTS``; torch on the
    CPU (a fixed cost per call): one block while the activations hold at most
    ``COARSE_BLOCK_ELEMENTS`` values (a mini-batch, the case study), larger blocks beyond
    (:func:`coarse_block_size`); devices and JAX: one block unless the activations would
    exceed ``DEVICE_BLOCK_ELEMENTS`` (:func:`device_block_size`).
    """
    if isinstance(inputs, SparseInputs):
        return None
    name = backend_name(xp)
    if name in ("numpy", "array_api_strict"):
        if minibatch and _widest(packed) * n <= MINIBATCH_ELEMENTS and not mmap_threshold_frozen():
            return None
        return block_size(packed, n)
    if name == "torch" and getattr(device, "type", "cpu") == "cpu":
        if _widest(packed) * n <= COARSE_BLOCK_ELEMENTS:
            # torch's calls cost more than its temporaries' page faults at these sizes,
            # which NumPy's cache-sized blocks would avoid (the performance guide)
            return None
        return coarse_block_size(packed, n)
    return device_block_size(packed, n)


def _widest(packed: list[Any]) -> int:
    return max([p.shape[0] for p in packed[::2]])


def _equal_blocks(n: int, most: int) -> int:
    n_blocks = -(-n // most)
    return -(-n // n_blocks)


def block_size(packed: list[Any], n: int, *, large: bool | None = None) -> int:
    """Examples per block for a batch of n, the blocks made equal (see BLOCK_ELEMENTS).

    ``large`` allows the 1 MiB blocks of large batches; by default they are allowed unless
    glibc's mmap threshold is frozen at 128 KiB (see :func:`mmap_threshold_frozen`), where
    every larger temporary would be mapped and unmapped again for every block.
    """
    if large is None:
        large = not mmap_threshold_frozen()
    widest = _widest(packed)
    big = max(MIN_BLOCK, LARGE_BLOCK_ELEMENTS // widest)
    if large and n >= 64 * big:
        most = big
    else:
        most = max(MIN_BLOCK, BLOCK_ELEMENTS // widest)
    return _equal_blocks(n, most)


def coarse_block_size(packed: list[Any], n: int) -> int:
    """Examples per block for libraries with costly calls (torch on the CPU): equal blocks of
    at most COARSE_BLOCK_ELEMENTS values where the heap keeps them; else :func:`block_size`'s,
    its small blocks made MEDIUM_BLOCK_ELEMENTS values unless glibc's mmap threshold is
    frozen (:func:`mmap_threshold_frozen`: every temporary over 128 KiB mapped afresh)."""
    widest = _widest(packed)
    if heap_keeps_blocks():
        return _equal_blocks(n, max(MIN_BLOCK, COARSE_BLOCK_ELEMENTS // widest))
    large = max(MIN_BLOCK, LARGE_BLOCK_ELEMENTS // widest)
    if mmap_threshold_frozen() or n >= 64 * large:
        return block_size(packed, n)
    return _equal_blocks(n, max(MIN_BLOCK, MEDIUM_BLOCK_ELEMENTS // widest))


def device_block_size(packed: list[Any], n: int) -> int | None:
    """Examples per block on a device: None (one block) while the widest layer's activations
    of all n examples fit in DEVICE_BLOCK_ELEMENTS, else equal blocks that do."""
    widest = _widest(packed)
    if widest * n <= DEVICE_BLOCK_ELEMENTS:
        return None
    return _equal_blocks(n, max(MIN_BLOCK, DEVICE_BLOCK_ELEMENTS // widest))


def heap_keeps_blocks(limit: int = 2**22) -> bool:
    """Whether glibc was told (at start-up) to keep temporaries of a few MiB in its heap:
    MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ both at least ``limit`` bytes.

    Otherwise temporaries over 128 KiB may be mapped, or trimmed from the heap's top, and
    page-faulted back at every step, whose cost then depends on the order of the frees.
    """
    try:
        return all(
            int(os.environ.get(k, "0")) >= limit
            for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
        )
    except ValueError:
        return False


def mmap_threshold_frozen() -> bool:
    """Whether this process's glibc keeps its mmap threshold at 128 KiB or so.

    glibc raises the threshold as large blocks are freed, unless any of MALLOC_TRIM_THRESHOLD_,
    MALLOC_TOP_PAD_, MALLOC_MMAP_MAX_ or MALLOC_MMAP_THRESHOLD_ was set when the process started:
    Dask's nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536, for one.
    """
    env = os.environ
    if "MALLOC_MMAP_THRESHOLD_" in env:
        try:
            return int(env["MALLOC_MMAP_THRESHOLD_"]) < 2**21
        except ValueError:
            return True
    return bool({"MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"} & env.keys())
