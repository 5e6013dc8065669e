"""The training loop: check once, prepare once, step without host synchronisation, log.

caller's arrays -> checks (errors here, before any work)
  -> private copies of the parameters, one-hot labels, optimiser state
  -> steps; at a logged step only: loss -> float, history, divergence check, callback
  -> new parameters, arrays of the caller's library on the caller's device
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
from array_api_compat import is_dask_array

from . import _packed
from ._backend import backend_name, int_dtype
from ._step import make_step
from ._validation import check_int, check_real
from .errors import TrainingDiverged
from .loss import one_hot
from .model import prepare

__all__ = ["History", "train"]


@dataclass
class History:
    """What :func:`train` logged.

    ``steps`` and ``loss`` are Python lists: the loss at steps 0, log_every, 2*log_every, ...,
    computed before that step's update (with mini-batches, the loss of that step's batch).
    ``final_loss`` is the full-data loss of the returned parameters.
    """

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    final_loss: float | None = None


def _check_hyperparameters(
    steps, learning_rate, reg, momentum, batch_size, seed, log_every, callback
):
    steps = check_int("steps", steps, minimum=0)
    learning_rate = check_real("learning_rate", learning_rate, low=0.0, low_open=True)
    reg = check_real("reg", reg, low=0.0)
    momentum = check_real("momentum", momentum, low=0.0, high=1.0, high_open=True)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    log_every = check_int("log_every", log_every, minimum=1)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, not {type(callback).__name__}")
    return steps, learning_rate, reg, momentum, batch_size, seed, log_every


class _Batches:
    """Seeded shuffled mini-batches: one permutation per epoch, drawn on the host."""

    def __init__(self, xp: ModuleType, data: _packed.Data, batch_size: int, seed: int, device: Any):
        self.xp, self.data, self.batch_size = xp, data, batch_size
        self.rng = np.random.default_rng(seed)
        self.idx_dtype = int_dtype(xp, device)
        self.device = device
        self.start = data.n  # forces a new epoch on first use

    def next(self) -> tuple[Any, Any]:
        xp, n = self.xp, self.data.n
        if self.start >= n:
            perm = xp.asarray(self.rng.permutation(n), dtype=self.idx_dtype, device=self.device)
            self.X1 = xp.take(self.data.X1, perm, axis=1)  # (D + 1, N), this epoch's order
            self.onehot = xp.take(self.data.onehot, perm, axis=1)  # (K, N)
            self.start = 0
        stop = min(self.start + self.batch_size, n)
        batch = self.X1[:, self.start : stop], self.onehot[:, self.start : stop]
        self.start = stop
        return batch


def train(
    params: Mapping[str, Any],
    X: Any,
    y: Any,
    *,
    steps: int = 10_000,
    learning_rate: float = 1.0,
    reg: float = 1e-3,
    momentum: float = 0.0,
    batch_size: int | None = None,
    seed: int = 0,
    log_every: int = 1000,
    callback: Callable[[int, float, dict[str, Any]], Any] | None = None,
    jit: bool | None = None,
    scheduler: Any = None,
) -> tuple[dict[str, Any], History]:
    """Train by gradient descent; return new parameters and the logged history.

    Parameters
    ----------
    params : dict
        ``W1, b1, ..., WL, bL`` (see :func:`init_params`), of X's library and device. They
        are copied, never modified; the result has X's dtype.
    X : array, shape (N, D)
        Real floating, finite features.
    y : array of integers, shape (N,)
        Labels in ``[0, K)``, K the number of outputs of the last layer.
    steps : int
        Number of updates (>= 0).
    learning_rate : float
        Step size (> 0).
    reg : float
        L2 strength (>= 0): the loss adds ``0.5 * reg * sum ||W||^2``.
    momentum : float
        Classical momentum in ``[0, 1)``: ``v = momentum * v - lr * g; W += v``. 0 is plain
        gradient descent.
    batch_size : int or None
        None: full-batch gradient descent (the case study). Otherwise seeded shuffled
        mini-batches of this size (the last of an epoch may be smaller).
    seed : int
        Seed of the mini-batch order.
    log_every : int
        The loss is recorded (and turned into a Python float, the only host synchronisation
        of the loop) at steps 0, log_every, 2 * log_every, ...
    callback : callable or None
        ``callback(step, loss, params)`` at each logged step; ``params`` are the current
        parameters (not copies: do not modify them, copy what you keep).
    jit : bool or None
        Full-batch training on JAX or CuPy arrays: None or True (the default) uses the
        backend's own implementation of the same step; False runs the portable step eagerly.
        JAX: the step compiled with ``jax.jit``, the steps between two logged steps as one
        compiled loop. CuPy, nets with one hidden layer: three fused CUDA kernels per step,
        without host synchronisation (if they cannot be built here, a RuntimeWarning and the
        portable step). Other backends and mini-batches ignore it.
    scheduler : None, str or distributed.Client
        Dask arrays only (others ignore it): where the steps run, a ``Client`` or a Dask
        scheduler name (``"threads"``); None is the active ``Client`` if there is one, else
        Dask's default. See the README's Dask section.

    Returns
    -------
    params : dict of arrays
        Dask ``X``: NumPy arrays (CuPy arrays for CuPy chunks), held on the client.
    history : History

    Raises
    ------
    ValueError, TypeError
        For bad arguments, before any work.
    TrainingDiverged
        When the loss is NaN or infinite at a logged step or at the end.
    """
    steps, learning_rate, reg, momentum, batch_size, seed, log_every = _check_hyperparameters(
        steps, learning_rate, reg, momentum, batch_size, seed, log_every, callback
    )
    if jit is not None and not isinstance(jit, bool):
        raise TypeError(f"jit must be True, False or None, not {jit!r}")

    # --- Dask arrays: their own loop, before the in-memory checks (the arrays are lazy) ------
    if is_dask_array(X) or is_dask_array(y):
        from ._accel import _dask

        return _dask.train(
            params,
            X,
            y,
            steps=steps,
            learning_rate=learning_rate,
            reg=reg,
            momentum=momentum,
            batch_size=batch_size,
            seed=seed,
            log_every=log_every,
            callback=callback,
            scheduler=scheduler,
        )
    # --- end of the Dask hook ---------------------------------------------------------------

    xp, device, n_layers, params, X, y = prepare(params, X, y)

    # prepare once: private packed copies, the data in the step's layout, optimiser state
    n, n_features = X.shape
    packed = _packed.pack(xp, params, n_layers)
    data = _packed.prepare_data(xp, X, one_hot(xp, y, params[f"W{n_layers}"].shape[1], X.dtype))
    velocity = [xp.zeros_like(p) for p in packed] if momentum > 0.0 else []
    history = History()

    def report(step: int, loss: Any) -> None:
        _log(
            history,
            step,
            float(loss),
            learning_rate,
            callback,
            _packed.unpack(xp, packed, n_features, copy=False) if callback else None,
        )

    host = _host(xp, device)
    step = make_step(
        xp,
        packed,
        n_features=n_features,
        learning_rate=learning_rate,
        reg=reg,
        momentum=momentum,
        block=_block(packed, batch_size or n, host),
    )
    runner = None if batch_size is not None else _runner(xp, jit, step, packed, velocity, data)
    if runner is not None:
        for start in range(0, steps, log_every):
            packed, velocity, loss = runner.logged_step(packed, velocity)
            report(start, loss)
            stretch = min(log_every, steps - start) - 1
            if stretch > 0:
                packed, velocity = runner.stretch(packed, velocity, stretch)
    else:
        batches = None if batch_size is None else _Batches(xp, data, batch_size, seed, device)
        for i in range(steps):
            X1, onehot = (data.X1, data.onehot) if batches is None else batches.next()
            logged = i % log_every == 0
            packed, velocity, loss = step(packed, velocity, X1, onehot, logged)
            if logged:
                report(i, loss)

    final = float(_packed.loss(xp, packed, data, reg, n_features, _block(packed, n, host)))
    if not math.isfinite(final):
        raise TrainingDiverged(steps, final, learning_rate)
    history.final_loss = final
    return _packed.unpack(xp, packed, n_features, copy=True), history


def _host(xp: ModuleType, device: Any) -> str | None:
    """Where the arrays live: "numpy" (host memory, cheap calls: numpy, array_api_strict),
    "torch" (host memory, calls of several microseconds) or None (a device, or JAX)."""
    name = backend_name(xp)
    if name in ("numpy", "array_api_strict"):
        return "numpy"
    if name == "torch" and getattr(device, "type", "cpu") == "cpu":
        return "torch"
    return None


def _block(packed: list[Any], n: int, host: str | None) -> int | None:
    """Examples per block: cache-sized on the host (larger for torch, whose calls cost more);
    on devices, blocks only for batches whose activations would exceed
    ``_packed.DEVICE_BLOCK_ELEMENTS`` (None: one block)."""
    if host == "numpy":
        return _packed.block_size(packed, n)
    if host == "torch":
        return _packed.coarse_block_size(packed, n)
    return _packed.device_block_size(packed, n)


def _runner(xp: ModuleType, jit: bool | None, step, packed, velocity, data):
    """A backend's own implementation of the full-batch steps, or None for the portable loop.

    JAX: the step compiled, a stretch of steps as one compiled loop. CuPy: the fused kernels
    of :mod:`._accel._cupy` for nets with one hidden layer.
    """
    if jit is False:
        return None
    name = backend_name(xp)
    if name == "jax":
        from ._accel import _jax

        return _JaxRunner(_jax, step, data)
    if name == "cupy":
        from ._accel import _cupy

        if _cupy.supported(packed, None):
            try:  # compiles the kernels (once per process and shape)
                return _cupy.runner(step, packed, velocity, data)
            except Exception as exc:  # an optional layer never stops training
                warnings.warn(
                    f"the fused CuPy step is unavailable ({type(exc).__name__}: {exc}); "
                    "training with the portable step (the same numbers, slower)",
                    RuntimeWarning,
                    stacklevel=3,
                )
    return None


class _JaxRunner:
    def __init__(self, module, step, data):
        self.module, self.step, self.data = module, step, data

    def logged_step(self, packed, velocity):
        return self.module.logged_step(self.step, packed, velocity, self.data)

    def stretch(self, packed, velocity, n_steps):
        return self.module.stretch(self.step, packed, velocity, self.data, n_steps)


def _log(history: History, step: int, loss: float, learning_rate: float, callback, params) -> None:
    if not math.isfinite(loss):
        raise TrainingDiverged(step, loss, learning_rate)
    history.steps.append(step)
    history.loss.append(loss)
    if callback is not None:
        callback(step, loss, params)
