"""Intra-op threads for one run of the training loop, restored afterwards.

The steps' products are small next to what intra-op threads need to pay: each product of a
step holds one block of examples (:mod:`.blocks`) or one mini-batch, so waking a second
thread costs about what it saves, and when other processes hold the cores a thread that
waits for its sibling waits for the scheduler as well. So a run whose largest product is
below :data:`SERIAL_BELOW` multiply-adds runs on one thread: torch's intra-op pool
(``torch.set_num_threads``) on the CPU, and the BLAS library under NumPy through
``threadpoolctl`` (an optional dependency, installed with scikit-learn; without it NumPy's
BLAS keeps its own setting). ``n_jobs`` sets the threads of a run instead (-1: one per core).
JAX (XLA's threads are fixed when its CPU client starts), CuPy and Dask (the workers' own
threads) are left as they are.

The setting is the run's, not only its steps': a ``train`` call or an estimator's ``fit``
decides it once its arguments' shapes are checked (:func:`for_sizes`, before the shapes
become parameters in the step's layout) and runs every later pass inside it (the value
checks, the data laid out for the step, the steps, held-out scores, the final loss), so that
no pass of the call waits for a second thread that other processes hold.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any, NamedTuple

from .._backend import backend_name
from .blocks import block_for

#: multiply-adds of a run's largest product (examples per block times the widest layer's
#: inputs times its outputs) below which the run uses one thread: a second thread did not pay
#: below it (the performance guide has the measurements)
SERIAL_BELOW = 2**27

_controller: Any = None  # threadpoolctl's view of the loaded BLAS libraries, made once


def check_n_jobs(n_jobs: Any) -> int | None:
    """``n_jobs`` as given (None, -1 or a positive int), or ValueError/TypeError naming it."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int):
        raise TypeError(f"n_jobs must be None, -1 or a positive int, not {n_jobs!r}")
    if n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be None, -1 or a positive int, not {n_jobs}")
    return n_jobs


def largest_product(packed: list[Any], examples: int) -> int:
    """Multiply-adds of the largest product of a step on ``examples`` examples at a time:
    the packed weights ([W1b, W2^T, b2, ...]: the first and every odd position) are
    (outputs, inputs) matrices."""
    weights = [packed[0], *packed[1::2]]
    return examples * max([int(w.shape[0]) * int(w.shape[1]) for w in weights])


def threads_for(
    xp: ModuleType, device: Any, packed: list[Any], examples: int, n_jobs: int | None = None
) -> int | None:
    """The intra-op threads of a run (None: the library's own setting).

    ``examples``: the examples one product holds (a block, or the batch when it runs as one
    block). ``n_jobs`` given: that many threads (-1: one per core). Otherwise one thread on
    the CPU below :data:`SERIAL_BELOW` multiply-adds per product, else the library's own.
    """
    if backend_name(xp) not in ("numpy", "array_api_strict", "torch"):
        return None
    if getattr(device, "type", "cpu") != "cpu":
        return None
    n_jobs = check_n_jobs(n_jobs)
    if n_jobs is not None:
        return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    return 1 if largest_product(packed, examples) < SERIAL_BELOW else None


class Shape(NamedTuple):
    """A packed parameter's shape alone (what :func:`threads_for` and
    :func:`.blocks.block_for` read of it)."""

    shape: tuple[int, int]


def for_sizes(xp: ModuleType, device: Any, sizes: Sequence[int], batch_size: int | None,
              inputs: Any, n_jobs: int | None = None) -> int | None:  # fmt: skip
    """The intra-op threads of a run on ``inputs`` (N rows; mini-batches of ``batch_size``,
    or the full batch: None) with a net of layer sizes ``[D, H1, ..., K]``: a call's
    setting, decided at its door, as the run's :class:`portable_net.loop.Trainer` decides
    it (:func:`threads_for` on the examples one product holds: a block,
    :func:`.blocks.block_for`, or the batch), from the shapes of the packed parameters
    ``[W1b, W2^T, b2, ...]`` before there are any."""
    shapes = [Shape((sizes[1], sizes[0] + 1))]
    for fan_in, fan_out in zip(sizes[1:-1], sizes[2:]):
        shapes += [Shape((fan_out, fan_in)), Shape((fan_out, 1))]
    n = batch_size or int(inputs.shape[0])
    block = block_for(xp, device, shapes, n, inputs, minibatch=n < int(inputs.shape[0]))
    return threads_for(xp, device, shapes, block or n, n_jobs)


def _blas() -> Any:
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controller = False
        else:
            _controller = ThreadpoolController().select(user_api="blas")
    return _controller or None


@contextlib.contextmanager
def limited(xp: ModuleType, threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads on xp's library (None: as it is),
    restoring the previous setting afterwards (also on errors and interrupts)."""
    name = backend_name(xp) if threads is not None else None
    if name == "torch":
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)
    elif name in ("numpy", "array_api_strict") and _blas() is not None:
        with _blas().limit(limits=threads, user_api="blas"):
            yield
    else:
        yield


def current(xp: ModuleType) -> int | None:
    """The intra-op threads xp's library uses now (torch's pool; NumPy's BLAS through
    threadpoolctl, the largest over its libraries), None where unknown."""
    name = backend_name(xp)
    if name == "torch":
        import torch

        return int(torch.get_num_threads())
    if name in ("numpy", "array_api_strict") and _blas() is not None:
        counts = [int(lib["num_threads"]) for lib in _blas().info()]
        return max(counts) if counts else None
    return None
