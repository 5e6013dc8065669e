"""The training loop: check once, prepare once, step without host synchronisation, log.

caller's arrays -> checks (errors here, before any work)
  -> private copies of the parameters, one-hot labels, optimiser state
  -> steps; at a logged step only: loss -> float, history, divergence check, callback
  -> new parameters, arrays of the caller's library on the caller's device
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from ._backend import int_dtype
from ._validation import check_int, check_real
from .errors import TrainingDiverged
from .loss import one_hot
from .model import loss_and_grads_core, loss_only, prepare
from .optim import init_state, sgd_update

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

    def __init__(
        self, xp: ModuleType, X: Any, onehot: Any, batch_size: int, seed: int, device: Any
    ):
        self.xp, self.X, self.onehot, self.batch_size = xp, X, onehot, batch_size
        self.n = X.shape[0]
        self.rng = np.random.default_rng(seed)
        self.idx_dtype = int_dtype(xp, device)
        self.device = device
        self.start = self.n  # forces a new epoch on first use

    def next(self) -> tuple[Any, Any]:
        xp = self.xp
        if self.start >= self.n:
            perm = xp.asarray(
                self.rng.permutation(self.n), dtype=self.idx_dtype, device=self.device
            )
            self.Xp = xp.take(self.X, perm, axis=0)  # (N, D), this epoch's order
            self.onehotp = xp.take(self.onehot, perm, axis=0)  # (N, K)
            self.start = 0
        stop = min(self.start + self.batch_size, self.n)
        batch = self.Xp[self.start : stop, :], self.onehotp[self.start : stop, :]
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

    Returns
    -------
    params : dict of arrays
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
    xp, device, n_layers, params = prepare(params, X, y)

    # prepare once: private copies, one-hot labels, optimiser state
    work = {k: xp.asarray(v, copy=True) for k, v in params.items()}
    onehot = one_hot(xp, y, work[f"W{n_layers}"].shape[1], X.dtype)  # (N, K)
    state = init_state(xp, work, momentum)
    batches = None if batch_size is None else _Batches(xp, X, onehot, batch_size, seed, device)
    history = History()

    for step in range(steps):
        Xb, onehot_b = (X, onehot) if batches is None else batches.next()
        loss, grads = loss_and_grads_core(xp, work, Xb, onehot_b, reg, n_layers)
        if step % log_every == 0:
            _log(history, step, float(loss), learning_rate, callback, work)
        work, state = sgd_update(work, grads, state, learning_rate=learning_rate, momentum=momentum)

    final = float(loss_only(xp, work, X, onehot, reg, n_layers))
    if not math.isfinite(final):
        raise TrainingDiverged(steps, final, learning_rate)
    history.final_loss = final
    return work, history


def _log(history: History, step: int, loss: float, learning_rate: float, callback, params) -> None:
    if not math.isfinite(loss):
        raise TrainingDiverged(step, loss, learning_rate)
    history.steps.append(step)
    history.loss.append(loss)
    if callback is not None:
        callback(step, loss, params)
