"""Dask arrays: data-parallel gradient descent, one fused task per chunk and a tree reduction.

X (N, D), y (N,) Dask arrays, chunked along the rows (any scheduler: threads, processes,
``dask.distributed``; NumPy chunks, or CuPy chunks on GPU workers):

  checks of shapes and dtypes (no work) -> the feature axis made one chunk (rechunked)
  -> per row chunk ONE task: the chunk in the step's layout (Xt1 = [X^T; 1], onehot) plus its
     statistics (finite?, smallest and largest label); persisted once, where it was made
  -> one ``dask.compute`` of the statistics: NaN, labels out of range are errors here
  per step:
    parameters (NumPy or CuPy arrays, on the client) -> one key of the step's graph
    -> per chunk one fused task: forward, loss, backward on that chunk
       (:func:`portable_net.network.backprop` over cache-sized blocks), returning the
       partial summed loss (at logged steps only) and gradients
    -> a tree reduction (fan-in ``FAN_IN``) of those (loss, gradients) pairs
    -> one result on the client: the summed gradient; the update is the step's
       (:func:`portable_net.step.make_update`: the optimiser with the L2 term), applied to
       the client's arrays, by :class:`DaskRunner`, a runner of the one training loop.

The parameters are small (a few MB at most) and the data large, so the parameters travel to
the chunks every step and the data never moves. The loss is part of a step's result only at
logged steps. Mini-batches (``batch_size``) stream pieces of chunks in a seeded order: each
chunk is cut into pieces of at most ``batch_size`` rows, an epoch is a seeded permutation of
the pieces, and a batch is the next pieces of that order that together hold at most
``batch_size`` rows (at least one piece). Rows inside a piece keep their order.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import array_api_compat
import numpy as np

from .. import network
from .._validation import (
    check_feature_count,
    check_finite_params,
    check_float_dtype,
    check_floating_params,
    check_params,
    check_plain_arrays,
)
from ..loss import one_hot
from ..step import StepSettings, make_update, split_targets
from ..targets import check_weight_values
from .blocks import block_size
from .heap import worker_keeps_temporaries

#: chunk results summed per reduction task
FAN_IN = 8


def is_dask(x: Any) -> bool:
    """Whether x is a Dask array (without importing Dask when it is not loaded)."""
    return array_api_compat.is_dask_array(x)


# --- the tasks that run next to the data --------------------------------------------------


class _Box:
    """The step's parameters as one opaque graph value (a bare list would be read as tasks)."""

    __slots__ = ("arrays",)

    def __init__(self, arrays: list[Any]):
        self.arrays = arrays


def _block(xp: Any, packed: list[Any], n: int) -> int:
    """Examples per cache-sized block on the host (see :func:`.blocks.block_size`: a worker
    whose glibc mmap threshold is frozen gets the small blocks, unless its heap was set to
    keep the temporaries, :func:`.heap.worker_keeps_temporaries`); a GPU chunk is one
    block."""
    if not array_api_compat.is_numpy_namespace(xp):
        return n
    return block_size(packed, n, large=True if worker_keeps_temporaries() else None)


def _chunk_in_step_layout(
    Xc: Any, yc: Any, n_classes: int, wc: Any = None
) -> tuple[Any, Any, tuple[bool, int, int]]:
    """One row chunk -> (Xt1 (D + 1, n), onehot (K, n), (all finite?, min label, max label));
    with the chunk's weights ``wc`` (host floats), the onehot's last row holds them (the
    step's weighted targets, :func:`portable_net.step.split_targets`)."""
    xp = array_api_compat.array_namespace(Xc)
    stats = (bool(xp.all(xp.isfinite(Xc))), int(xp.min(yc)), int(xp.max(yc)))
    data = network.step_data(xp, Xc, one_hot(xp, yc, n_classes, Xc.dtype))
    onehot = data.onehot
    if wc is not None:
        w = xp.reshape(xp.asarray(wc, dtype=Xc.dtype), (1, -1))
        onehot = xp.concat([onehot, w], axis=0)
    return data.Xt1, onehot, stats


def _chunk_grads(box: _Box, chunk: tuple, scale: float, need_loss: bool, start, stop,
                 activation: str = "relu", weighted: bool = False):  # fmt: skip
    """The fused task: one chunk's (or piece's) summed loss (or None) and scaled gradient
    (``weighted``: each row's loss and gradient times its weight, the onehot's last row)."""
    Xt1, onehot = chunk[0], chunk[1]
    if start is not None:
        Xt1, onehot = Xt1[:, start:stop], onehot[:, start:stop]
    xp = array_api_compat.array_namespace(Xt1)
    packed = box.arrays
    block = _block(xp, packed, Xt1.shape[1])
    onehot, weights = split_targets(onehot, weighted)
    if weights is not None:
        scale = scale * weights  # (1, n)
    return network.backprop(xp, packed, Xt1, onehot, scale=scale, need_loss=need_loss,
                                  weights=weights, activation=activation,
                                  block=block)  # fmt: skip


def _sum_parts(*parts):
    """Sum (loss, grads) pairs into a fresh pair; inputs are never modified (a retried task
    must find them as they were)."""
    loss, grads = parts[0][0], [g.copy() for g in parts[0][1]]
    for part_loss, part in parts[1:]:
        for g, p in zip(grads, part):
            g += p
        if loss is not None:
            loss = loss + part_loss
    return loss, grads


def _chunk_loss(box: _Box, chunk: tuple, activation: str = "relu", weighted: bool = False) -> float:
    """One chunk's summed (``weighted``: weighted) data loss, forward only, block by block."""
    Xt1, onehot = chunk[0], chunk[1]
    xp = array_api_compat.array_namespace(Xt1)
    packed = box.arrays
    block = _block(xp, packed, Xt1.shape[1])
    return float(network.loss_sum(xp, packed, Xt1, onehot, activation=activation,
                                  weighted=weighted, block=block))  # fmt: skip


def _sum_floats(*xs: float) -> float:
    return math.fsum(xs)


# --- the client side ----------------------------------------------------------------------


class Scheduler:
    """persist / compute on the chosen scheduler: a distributed Client, a scheduler name
    ("threads", "sync", ...) or None (the active Client if there is one, else Dask's default)."""

    def __init__(self, scheduler: Any):
        self.scheduler = scheduler

    def persist(self, objs: list[Any]) -> list[Any]:
        import dask

        if hasattr(self.scheduler, "persist") and hasattr(self.scheduler, "get"):
            # a Client (older Dask persists through a Client only when it is the default one)
            return list(self.scheduler.persist(objs, optimize_graph=False))
        return list(dask.persist(*objs, scheduler=self.scheduler, optimize_graph=False))

    def compute(self, *objs: Any) -> tuple[Any, ...]:
        import dask

        return dask.compute(*objs, scheduler=self.scheduler, optimize_graph=False)


def _tree(delayed: Callable, parts: list[Any], combine: Callable, tag: str) -> Any:
    """Reduce delayed values pairwise-ish (``FAN_IN`` at a time) into one delayed value."""
    level = 0
    while len(parts) > 1:
        parts = [
            delayed(combine, pure=False)(
                *parts[i : i + FAN_IN], dask_key_name=f"{tag}-sum-{level}-{i}"
            )
            for i in range(0, len(parts), FAN_IN)
        ]
        level += 1
    return parts[0]


class DaskData:
    """A training set persisted chunk by chunk in the step's layout (see the module doc)."""

    def __init__(self, chunks: list[Any], sizes: list[int], scheduler: Scheduler,
                 weights: np.ndarray | None = None):  # fmt: skip
        self.chunks, self.sizes, self.scheduler = chunks, sizes, scheduler
        self.n = sum(sizes)
        self.activation = "relu"  # the hidden layers' (the runner sets its run's)
        # the rows' weights on the host (None: unweighted), to sum a batch's before its step
        self.weights = weights
        self.offsets = np.cumsum([0, *sizes[:-1]]).tolist()

    def weight_sum(self, pieces: Sequence[tuple[int, int, int]] | None) -> float:
        """The weights' sum of the rows of ``pieces`` (None: of every row)."""
        assert self.weights is not None
        if pieces is None:
            return float(np.sum(self.weights))
        parts = [self.weights[self.offsets[i] + a : self.offsets[i] + b] for i, a, b in pieces]
        return float(np.sum(np.concatenate(parts)))

    def _params(self, packed: list[Any], tag: str) -> Any:
        import dask

        return dask.delayed(_Box(packed), name=f"{tag}-params", traverse=False)

    def grads(
        self,
        packed: list[Any],
        scale: float,
        need_loss: bool,
        pieces: Sequence[tuple[int, int | None, int | None]] | None = None,
    ) -> tuple[Any, list[Any]]:
        """One compute: the summed loss (or None) and the scaled gradient over the chunks
        (or over ``pieces``: (chunk index, start, stop), None for the whole chunk)."""
        import dask

        tag = f"pn-step-{uuid.uuid4().hex}"
        box = self._params(packed, tag)
        if pieces is None:
            pieces = [(i, None, None) for i in range(len(self.chunks))]
        parts = [
            dask.delayed(_chunk_grads, pure=False)(
                box,
                self.chunks[i],
                scale,
                need_loss,
                a,
                b,
                self.activation,
                self.weights is not None,
                dask_key_name=f"{tag}-chunk-{k}",
            )
            for k, (i, a, b) in enumerate(pieces)
        ]
        (result,) = self.scheduler.compute(_tree(dask.delayed, parts, _sum_parts, tag))
        return result

    def loss_sum(self, packed: list[Any]) -> float:
        """The summed data loss over all chunks (forward only)."""
        import dask

        tag = f"pn-loss-{uuid.uuid4().hex}"
        box = self._params(packed, tag)
        parts = [
            dask.delayed(_chunk_loss, pure=False)(
                box,
                c,
                self.activation,
                self.weights is not None,
                dask_key_name=f"{tag}-chunk-{k}",
            )
            for k, c in enumerate(self.chunks)
        ]
        (result,) = self.scheduler.compute(_tree(dask.delayed, parts, _sum_floats, tag))
        return float(result)


# --- input checks and preparation -----------------------------------------------------------


def as_dask(x: Any, name: str, row_chunks: tuple[int, ...] | None) -> Any:
    """A Dask array, a NumPy (or CuPy) array made one with the given row chunks."""
    import dask.array as da

    if is_dask(x):
        return x
    if array_api_compat.is_numpy_array(x) or array_api_compat.is_cupy_array(x):
        chunks = (row_chunks, *((s,) for s in x.shape[1:])) if row_chunks else "auto"
        return da.from_array(x, chunks=chunks)
    raise TypeError(
        f"{name} is a {type(x).__module__.split('.')[0]} {type(x).__name__}: with Dask arrays, "
        "pass the other argument as a Dask or NumPy array"
    )


def _known_chunks(x: Any, name: str) -> None:
    if any(math.isnan(c) for axis in x.chunks for c in axis):
        raise ValueError(
            f"{name} has chunks of unknown size (shape {x.shape}); call "
            f"{name}.compute_chunk_sizes() first (or build it with known chunk sizes)"
        )


def _client_namespace(meta: Any) -> Any:
    """The namespace of the chunks' library: the parameters live there on the client."""
    if array_api_compat.is_cupy_array(meta):
        import array_api_compat.cupy as cp

        return cp
    import array_api_compat.numpy as xnp

    return xnp


def _client_params(xp: Any, params: Mapping[str, Any], dtype: Any) -> dict[str, Any]:
    """Parameters as arrays of the chunks' library (Dask parameters are computed: small)."""
    out = {}
    for key, arr in params.items():
        if is_dask(arr):
            arr = arr.compute()
        if not (
            array_api_compat.is_numpy_array(arr)
            or array_api_compat.is_cupy_array(arr)
            or isinstance(arr, np.generic)
        ):
            raise TypeError(
                f"params[{key!r}] is a {type(arr).__module__.split('.')[0]} array; with Dask "
                "data pass NumPy (or, for CuPy chunks, CuPy) or Dask parameters"
            )
        out[key] = arr
    check_floating_params(array_api_compat.array_namespace(*out.values()), out)
    client = {k: xp.astype(xp.asarray(v), dtype, copy=True) for k, v in out.items()}
    check_finite_params(xp, client)  # after the cast, as for in-memory arrays
    return client


def _host_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    """The rows' weights as float64 NumPy (a Dask array computed: one float a row),
    checked: one per row, finite, non-negative, a positive sum."""
    if sample_weight is None:
        return None
    w = sample_weight.compute() if is_dask(sample_weight) else sample_weight
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},) (one per row), got {w.shape}")
    return check_weight_values(w)


def check_and_persist(
    params: Mapping[str, Any], X: Any, y: Any, scheduler: Any, sample_weight: Any = None
) -> tuple[Any, int, dict[str, Any], DaskData]:
    """Check params, X and y (and the sample weights); persist the chunks in the step's
    layout. Returns (client namespace, n_layers, params on the client in X's dtype, the
    persisted data)."""
    import dask

    n_layers = check_params(params)
    # unknown chunk sizes first: a NumPy argument would be chunked like them (and fail)
    for name, x in (("X", X), ("y", y)):
        if is_dask(x):
            _known_chunks(x, name)
        else:
            check_plain_arrays({name: x})
    if not is_dask(X):
        y = as_dask(y, "y", None)
        X = as_dask(X, "X", y.chunks[0] if y.ndim == 1 else None)
    y = as_dask(y, "y", X.chunks[0] if X.ndim == 2 else None)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}")
    _known_chunks(X, "X")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must not be empty, got shape {tuple(X.shape)}")
    check_float_dtype("X", X.dtype)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,), got shape {tuple(y.shape)}")
    _known_chunks(y, "y")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.shape[0]} labels but X has {X.shape[0]} rows; they must match")
    check_feature_count(X, params)
    n_classes = int(params[f"W{n_layers}"].shape[1])
    xp = _client_namespace(getattr(X, "_meta", None))
    params = _client_params(xp, params, X.dtype)

    # chunks that split the feature axis are made one chunk there (D is small); y follows
    # X's row chunks
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk({0: X.chunks[0]})
    sizes = list(X.chunks[0])
    weights = _host_weights(sample_weight, int(X.shape[0]))
    starts = np.cumsum([0, *sizes[:-1]]).tolist()
    Xb, yb = X.to_delayed().ravel(), y.to_delayed().ravel()
    token = uuid.uuid4().hex
    prepared = [
        dask.delayed(_chunk_in_step_layout, pure=False)(
            xc,
            yc,
            n_classes,
            None if weights is None else weights[a : a + s],
            dask_key_name=f"pn-data-{token}-{i}",
        )
        for i, (xc, yc, s, a) in enumerate(zip(Xb, yb, sizes, starts))
        if s > 0
    ]
    if weights is not None:  # the rows of the chunks kept
        weights = np.concatenate([weights[a : a + s] for s, a in zip(sizes, starts) if s > 0])
    sizes = [s for s in sizes if s > 0]
    where = Scheduler(scheduler)
    chunks = where.persist(prepared)
    stats = where.compute(
        *[
            dask.delayed(lambda c: c[2], pure=False)(c, dask_key_name=f"pn-stats-{token}-{i}")
            for i, c in enumerate(chunks)
        ]
    )
    if not all(s[0] for s in stats):
        raise ValueError("X holds NaN or infinite values")
    lo, hi = min(s[1] for s in stats), max(s[2] for s in stats)
    if lo < 0 or hi >= n_classes:
        raise ValueError(
            f"y must hold labels in [0, {n_classes}) for a model with {n_classes} "
            f"classes, got labels from {lo} to {hi}"
        )
    return xp, n_layers, params, DaskData(chunks, sizes, where, weights)


# --- the loop ---------------------------------------------------------------------------


def _pieces(sizes: list[int], batch_size: int) -> list[tuple[int, int, int]]:
    """Each chunk cut into near-equal pieces of at most batch_size rows."""
    out = []
    for i, n in enumerate(sizes):
        k = -(-n // batch_size)
        bounds = [(n * j) // k for j in range(k + 1)]
        out += [(i, bounds[j], bounds[j + 1]) for j in range(k)]
    return out


class _PieceBatches:
    """Seeded batches of pieces: one permutation of the pieces per epoch (in order without
    ``shuffle``)."""

    def __init__(self, sizes: list[int], batch_size: int, seed: int, shuffle: bool = True):
        self.pieces = _pieces(sizes, batch_size)
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed) if shuffle else None
        self.order: list[int] = []
        self.pos = 0

    def next(self) -> tuple[list[tuple[int, int, int]], int]:
        if self.pos >= len(self.order):
            n = len(self.pieces)
            order = range(n) if self.rng is None else self.rng.permutation(n)
            self.order = [int(i) for i in order]
            self.pos = 0
        batch: list[tuple[int, int, int]] = []
        rows = 0
        while self.pos < len(self.order):
            piece = self.pieces[self.order[self.pos]]
            size = piece[2] - piece[1]
            if batch and rows + size > self.batch_size:
                break
            batch.append(piece)
            rows += size
            self.pos += 1
        return batch, rows


class DaskRunner:
    """The steps of a run on chunked data, for the one training loop
    (:mod:`portable_net.loop`): each step's gradient summed over the chunks (or a batch's
    pieces of them) where they live, then the step's update on the client's arrays."""

    def __init__(self, xp: Any, settings: StepSettings, packed: list[Any], data: DaskData,
                 batch_size: int | None, shuffle: bool = True):  # fmt: skip
        self.xp, self.settings, self.data, self.batch_size = xp, settings, data, batch_size
        self.shuffle = shuffle
        self.update = make_update(xp, packed, settings)
        data.activation = settings.activation
        self.batches: _PieceBatches | None = None

    def begin(self, seed: int) -> None:
        """A new run: its mini-batches drawn by ``seed``."""
        size = self.batch_size
        if size is not None:
            self.batches = _PieceBatches(self.data.sizes, size, seed, self.shuffle)

    def run(self, packed, state, perm, start, count, size, ragged, want, learning_rate):
        """``count`` (+1 when ``ragged``) steps; the losses (before their update) of the
        steps numbered in ``want``, as Python floats."""
        xp, settings, losses = self.xp, self.settings, []
        n: float  # rows, or with sample weights the weights' sum (a weighted mean)
        for j in range(count + (ragged > 0)):
            pieces, n = (None, self.data.n) if self.batches is None else self.batches.next()
            if self.data.weights is not None:
                n = self.data.weight_sum(pieces)
            scale = settings.gradient_scale(learning_rate, n)
            reg = settings.reg_for(n)
            loss_sum, grads = self.data.grads(packed, scale, j in want, pieces)
            if j in want:
                penalty = network.penalty(xp, packed, settings.n_features, reg)
                losses.append(float(loss_sum / n + penalty))
            grads = [xp.asarray(a) for a in grads]
            packed, state = self.update(packed, state, grads, learning_rate, reg)
        return packed, state, losses

    def mean_loss(self, packed: list[Any], reg: float) -> float:
        """The full-data regularised loss (a host float)."""
        penalty = network.penalty(self.xp, packed, self.settings.n_features, reg)
        n = self.data.n if self.data.weights is None else self.data.weight_sum(None)
        return self.data.loss_sum(packed) / n + float(penalty)
