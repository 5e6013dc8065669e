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

Within that setting, a run of per-batch steps whose products hold at least
:data:`MEASURE_FROM` multiply-adds (a large mini-batch fit's) times its own steps
(:class:`Chooser`): a few on one thread, a few on the library's own setting (every core by
default), then the faster, measured again from time to time. A fixed rule cannot serve both
machines this library meets: on a quiet machine a second thread pays at these sizes, beside
other jobs it waits for the scheduler at every product (the performance guide has both). The
thread count changes which thread computes each block of a product, not the sums: the steps'
numbers are the same.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from types import ModuleType
from typing import Any, NamedTuple

from .._backend import backend_name
from .blocks import block_for

#: multiply-adds of a run's largest product (examples per block times the widest layer's
#: inputs times its outputs) below which the run uses one thread: a second thread did not pay
#: below it (the performance guide has the measurements)
SERIAL_BELOW = 2**27

#: multiply-adds of a run's largest product from which the run's steps time their threads
#: (:class:`Chooser`); below it, a product is too small for a second thread to pay
MEASURE_FROM = 2**21

_controller: Any = None  # threadpoolctl's view of the loaded BLAS libraries, made once
_depth: dict[str, int] = {}  # by library: how many `limited` blocks are open
_outside: dict[str, int | None] = {}  # by library: its setting as the outermost block began


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
    restoring the previous setting afterwards (also on errors and interrupts). The
    outermost block also keeps the caller's setting for :func:`own_threads`."""
    name = backend_name(xp) if threads is not None else None
    if name == "torch":
        import torch

        before = torch.get_num_threads()
        if not _depth.get(name):
            _outside[name] = before
        _depth[name] = _depth.get(name, 0) + 1
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)
            _depth[name] -= 1
    elif name in ("numpy", "array_api_strict") and _blas() is not None:
        if not _depth.get(name):
            _outside[name] = _blas_threads()
        _depth[name] = _depth.get(name, 0) + 1
        try:
            with _blas().limit(limits=threads, user_api="blas"):
                yield
        finally:
            _depth[name] -= 1
    else:
        yield


def own_threads(xp: ModuleType) -> int | None:
    """The intra-op threads xp's library has outside this module's settings: the caller's
    (torch's pool as the caller set it, NumPy's BLAS as ``OMP_NUM_THREADS`` or
    ``OPENBLAS_NUM_THREADS`` started it), None where unknown."""
    name = backend_name(xp)
    return _outside.get(name) if _depth.get(name) else current(xp)


def current(xp: ModuleType) -> int | None:
    """The intra-op threads xp's library uses now (torch's pool; NumPy's BLAS through
    threadpoolctl, the largest over its libraries), None where unknown."""
    name = backend_name(xp)
    if name == "torch":
        import torch

        return int(torch.get_num_threads())
    if name in ("numpy", "array_api_strict") and _blas() is not None:
        return _blas_threads()
    return None


def _blas_threads() -> int | None:
    """The BLAS libraries' threads now, the largest over them (None: none loaded)."""
    return max(map(int, map(itemgetter("num_threads"), _blas().info())), default=None)


def cores() -> int:
    """The cores this process may run on."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return n or 1


def setter(xp: ModuleType) -> Callable[[int], None] | None:
    """A function that sets xp's intra-op threads (None: the library's are not ours to set).
    Call it only inside :func:`limited` with an int, which restores the caller's setting."""
    name = backend_name(xp)
    if name == "torch":
        import torch

        return torch.set_num_threads
    if name in ("numpy", "array_api_strict") and _blas() is not None:
        return _set_blas_threads
    return None


def _set_blas_threads(n: int) -> None:
    _blas().limit(limits=n, user_api="blas")  # the enclosing `limited` restores them


def chooser_for(
    xp: ModuleType, device: Any, packed: list[Any], examples: int, n_jobs: int | None,
    threads: int | None,
) -> Chooser | None:  # fmt: skip
    """The :class:`Chooser` of a run of per-batch steps (None: the run keeps ``threads``,
    :func:`threads_for`'s setting): on the CPU under NumPy or torch, ``n_jobs`` not given,
    products of :data:`MEASURE_FROM` multiply-adds or more, and more than one thread in the
    library's own setting (:func:`own_threads`, at most one per core): one thread against
    that many."""
    if n_jobs is not None or getattr(device, "type", "cpu") != "cpu":
        return None
    if largest_product(packed, examples) < MEASURE_FROM:
        return None
    many = min(cores(), own_threads(xp) or cores())
    set_threads = setter(xp)
    if many < 2 or set_threads is None:
        return None
    first = threads or many  # threads_for's setting (one, or the library's own) first
    return Chooser(set_threads, (first, many if first == 1 else 1))


class Chooser:
    """A run's intra-op threads, chosen by timing its own steps.

    A probe times :data:`WINDOW` steps on each candidate (one thread, the library's own
    setting), the current choice first; the candidate with the shortest median step is
    chosen, and the steps then run on it for :data:`SETTLE` times the probe's time (at least
    :data:`MIN_SETTLED` steps), so that probes take about 5% of a run's steps, before the
    next probe. A window ends early at a step :data:`SLOWER` times the best median so far:
    beside other jobs a second thread may wait for the scheduler at every product, and one
    slow step is enough to tell. The state lasts from run to run (a fit's epochs).
    """

    WINDOW = 5
    SLOWER = 3.0
    SETTLE = 20
    MIN_SETTLED = 100

    def __init__(self, set_threads: Callable[[int], None], candidates: tuple[int, int]):
        self.set_threads, self.candidates = set_threads, candidates
        self.choice = candidates[0]
        self.medians: dict[int, float] = {}  # this probe's median step per candidate
        self.last: dict[int, float] = {}  # the last whole probe's
        self._settled = 0  # steps left before the next probe
        self._trying: list[int] = list(candidates)
        self._times: list[float] = []
        self._cost = 0.0  # the probe's seconds so far

    def timed(self, step: Callable[..., Any]) -> Callable[..., Any]:
        """``step``, with its threads set and (while probing) its time taken; sets this
        run's threads (inside :func:`limited`, which restores them after the run)."""
        self.set_threads(self._trying[0] if self._trying else self.choice)

        def timed_step(*args: Any) -> Any:
            if self._settled > 0:
                self._settled -= 1
                return step(*args)
            t = time.perf_counter()
            out = step(*args)
            self._record(time.perf_counter() - t)
            return out

        return timed_step

    def _record(self, seconds: float) -> None:
        self._times.append(seconds)
        self._cost += seconds
        best = min(self.medians.values(), default=math.inf)
        if len(self._times) < self.WINDOW and seconds <= self.SLOWER * best:
            return
        self.medians[self._trying.pop(0)] = sorted(self._times)[len(self._times) // 2]
        self._times = []
        if self._trying:
            self.set_threads(self._trying[0])
            return
        # the probe's end: the faster candidate, then settled for a while
        self.choice = min(self.candidates, key=lambda c: self.medians[c])
        self.set_threads(self.choice)
        per_step = self.medians[self.choice]
        self._settled = max(self.MIN_SETTLED, math.ceil(self.SETTLE * self._cost / per_step))
        self.last, self.medians, self._cost = self.medians, {}, 0.0
        self._trying = [self.choice, *[c for c in self.candidates if c != self.choice]]
