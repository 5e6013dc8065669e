"""The training loop: check once, prepare once, step without host synchronisation, log.

caller's arrays -> checks (errors here, before any work)
  -> private copies of the parameters, one-hot labels, optimiser state
  -> steps; at a logged step only: loss -> float, history, divergence check, callback
  -> new parameters, arrays of the caller's library on the caller's device

The steps are the portable step of :mod:`portable_net.step`; an engine
(:mod:`portable_net.engines`) may run them its own way, with the same numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import numpy as np

from . import engines, network
from ._backend import int_dtype
from ._validation import check_int, check_real
from .history import History, check_final_loss, log_step
from .loss import one_hot
from .model import check_inputs
from .step import StepSettings, make_step

__all__ = ["History", "train"]


def check_hyperparameters(
    steps, learning_rate, reg, momentum, batch_size, seed, log_every, callback
):
    """The hyperparameters of :func:`train`, checked (errors name the argument)."""
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


def _engine_choice(engine: Any, jit: Any) -> Any:
    """``engine=`` checked, with the deprecated ``jit=`` translated into it."""
    if jit is not None:
        if not isinstance(jit, bool):
            raise TypeError(f"jit must be True, False or None, not {jit!r}")
        if engine != "auto":
            raise TypeError("pass engine= only (jit= is its deprecated spelling), not both")
        warnings.warn(
            "train(jit=...) is deprecated and will be removed in the next release: use "
            "engine='auto' (jit=True) or engine='portable' (jit=False)",
            DeprecationWarning,
            stacklevel=3,
        )
        return "auto" if jit else "portable"
    if not callable(engine) and engine not in engines.ENGINE_NAMES:
        raise ValueError(
            f"engine must be one of {', '.join(map(repr, engines.ENGINE_NAMES))} or an engine "
            f"factory, not {engine!r}"
        )
    return engine


class _Batches:
    """Seeded shuffled mini-batches: one permutation per epoch, drawn on the host."""

    def __init__(
        self, xp: ModuleType, data: network.StepData, batch_size: int, seed: int, device: Any
    ):
        self.xp, self.data, self.batch_size = xp, data, batch_size
        self.rng = np.random.default_rng(seed)
        self.idx_dtype = int_dtype(xp, device)
        self.device = device
        self.start = data.n  # forces a new epoch on first use

    def run(self, most: int) -> tuple[Any, Any, int, int, int]:
        """The next run of at most ``most`` consecutive batches of one size, within one epoch:
        (Xt1, onehot) of the epoch, the first batch's column, the count, the size."""
        xp, n, size = self.xp, self.data.n, self.batch_size
        if self.start >= n:
            perm = xp.asarray(self.rng.permutation(n), dtype=self.idx_dtype, device=self.device)
            self.Xt1 = xp.take(self.data.Xt1, perm, axis=1)  # (D + 1, N), this epoch's order
            self.onehot = xp.take(self.data.onehot, perm, axis=1)  # (K, N)
            self.start = 0
        start = self.start
        if n - start < size:  # the ragged last batch of the epoch, alone
            size, count = n - start, 1
        else:
            count = min(most, (n - start) // size)
        self.start = start + count * size
        return self.Xt1, self.onehot, start, count, size


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
    engine: str | engines.EngineFactory = "auto",
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
    engine : "auto", "portable" or an engine factory
        What runs full-batch steps. ``"auto"`` (the default): the array library's own engine
        where it has one, the same step with the same numbers (a compiled loop of the steps
        between two logged steps; fused GPU kernels for nets with one hidden layer, with a
        RuntimeWarning and the portable step if they cannot be built; see
        :mod:`portable_net.engines` and the README), else the portable step. ``"portable"``:
        the portable step, run eagerly. A callable
        ``engine(xp, step, settings, packed, velocity, data)`` returning an engine
        (experiments). Mini-batches: on JAX with ``"auto"``, the steps between two logged
        steps as one compiled loop over the batches (the same numbers); else the portable
        step.
    jit : bool or None
        Deprecated spelling of ``engine``: True is ``"auto"``, False ``"portable"``
        (DeprecationWarning; to be removed in the next release).
    scheduler : None, str or distributed.Client
        Chunked lazy arrays only (others ignore it): where the steps run, a ``Client`` or a
        scheduler name (``"threads"``); None is the active ``Client`` if there is one, else
        the default scheduler. See the README's section on chunked arrays.

    Returns
    -------
    params : dict of arrays
        Chunked lazy ``X``: arrays of the chunks' library, held on the client.
    history : History

    Raises
    ------
    ValueError, TypeError
        For bad arguments, before any work.
    TrainingDiverged
        When the loss is NaN or infinite at a logged step or at the end.
    """
    steps, learning_rate, reg, momentum, batch_size, seed, log_every = check_hyperparameters(
        steps, learning_rate, reg, momentum, batch_size, seed, log_every, callback
    )
    choice = _engine_choice(engine, jit)

    # arrays that bring their own loop (lazy, chunked): before the in-memory checks
    own_loop = engines.own_loop(X, y)
    if own_loop is not None:
        return own_loop(
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

    xp, device, n_layers, params, X, y = check_inputs(params, X, y)

    # prepare once: private packed copies, the data in the step's layout, optimiser state
    n, n_features = X.shape
    prepare = engines.compiled(xp, _prepare, static_argnums=(0, 4, 5))
    packed, data = prepare(xp, params, X, y, n_layers, params[f"W{n_layers}"].shape[1])
    data = network.StepData(*data)
    velocity = [xp.zeros_like(p) for p in packed] if momentum > 0.0 else []
    history = History()

    def report(step: int, loss: Any) -> None:
        view = network.unpack(xp, packed, n_features, copy=False) if callback else None
        log_step(history, step, float(loss), learning_rate, callback, view)

    settings = StepSettings(
        n_features=n_features,
        learning_rate=learning_rate,
        reg=reg,
        momentum=momentum,
        block=engines.block_for(xp, device, packed, batch_size or n),
    )
    step = make_step(xp, packed, settings)
    if batch_size is None:
        engine = engines.engine_for(xp, step, settings, packed, velocity, data, choice)
        for start in range(0, steps, log_every):
            packed, velocity, loss = engine.logged_step(packed, velocity)
            report(start, loss)
            stretch = min(log_every, steps - start) - 1
            if stretch > 0:
                packed, velocity = engine.stretch(packed, velocity, stretch)
    else:
        # runs of batches up to the next logged step (one compiled loop on JAX)
        batches = _Batches(xp, data, batch_size, seed, device)
        runner = engines.batch_runner(xp, step, choice)
        i = 0
        while i < steps:
            logged = i % log_every == 0
            Xt1, onehot, start, count, size = batches.run(
                min(steps, i - i % log_every + log_every) - i
            )
            packed, velocity, loss = runner.run(
                packed, velocity, Xt1, onehot, start, count, size, logged
            )
            if logged:
                report(i, loss)
            i += count

    finish = engines.compiled(xp, _finish, static_argnums=(0, 4, 5, 6))
    final, result = finish(
        xp, packed, data.Xt1, data.onehot, reg, n_features, engines.block_for(xp, device, packed, n)
    )
    check_final_loss(history, float(final), steps, learning_rate)
    return result, history


# the preparation and the end of a run: each one compiled program on libraries that compile
def _prepare(xp, params, X, y, n_layers, n_classes):
    """Private packed copies of the parameters; the data in the step's layout (Xt1, onehot)."""
    data = network.step_data(xp, X, one_hot(xp, y, n_classes, X.dtype))
    return network.pack(xp, params, n_layers), (data.Xt1, data.onehot)


def _finish(xp, packed, Xt1, onehot, reg, n_features, block):
    """The full-data loss of the packed parameters (0-d) and their public copies."""
    data = network.StepData(Xt1, onehot)
    final = network.mean_loss(xp, packed, data, reg, n_features, block)
    return final, network.unpack(xp, packed, n_features, copy=True)
