"""What a training run logged, and the logging of one step (shared by every loop)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from .errors import TrainingDiverged

__all__ = ["History"]


@dataclass
class History:
    """What :func:`portable_net.train` logged, and what it needs to continue.

    ``steps``, ``loss`` and ``learning_rate`` are Python lists: at each logged step (the
    multiples of ``log_every``, counted from the first step of the first run), the loss
    computed before that step's update (with mini-batches, the loss of that step's batch) and
    the rate of that step. With held-out data (``validation=`` or ``validation_fraction=``),
    ``val_loss`` (the mean cross-entropy, without the L2 term) and ``val_accuracy`` hold the
    held-out results of the same parameters at the same steps.
    ``final_loss`` is the full-data loss of the returned parameters.

    To continue training, pass the history as ``train(..., history=...)``: the steps count
    on from ``n_steps``, and the optimiser (``optimizer_state``: velocities, Adam's moments
    and step count; ``schedule``: the learning-rate schedule's state) continues where it
    stopped, so two runs of 50 steps give the parameters of one of 100.

    Parameters
    ----------
    steps : list of int
        The logged steps.
    loss : list of float
        The loss at each logged step.
    final_loss : float or None
        The full-data loss of the returned parameters (None before a run ends).
    learning_rate : list of float
        The learning rate at each logged step.
    val_loss : list of float
        The held-out loss at each logged step (empty without held-out data).
    val_accuracy : list of float
        The held-out accuracy at each logged step (empty without held-out data).
    n_steps : int
        Steps taken in all runs so far.
    best_step : int or None
        The logged step of the lowest validation loss (None without held-out data).
    stop_reason : str or None
        Why the last run ended before its ``steps``: ``"early_stopping"``, ``"callback"``
        (:class:`portable_net.StopTraining`), ``"learning_rate"`` (the adaptive schedule's
        rate fell to 1e-6); None when it ran them all.
    optimizer_state : SGDState, AdamState or None
        The optimiser's state after the last step (arrays of the parameters' library).
    schedule : LearningRateSchedule or None
        The schedule's state (None for a constant rate).

    Examples
    --------
    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(20, 3)
    >>> params = pn.init_params([2, 10, 3])
    >>> params, history = pn.train(params, X, y, steps=6, log_every=2)
    >>> history.steps, history.n_steps, len(history.loss)
    ([0, 2, 4], 6, 3)
    >>> params, history = pn.train(params, X, y, steps=4, log_every=2, history=history)
    >>> history.steps, history.n_steps
    ([0, 2, 4, 6, 8], 10)
    """

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    final_loss: float | None = None
    learning_rate: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    n_steps: int = 0
    best_step: int | None = None
    stop_reason: str | None = None
    optimizer_state: Any = field(default=None, repr=False)
    schedule: Any = field(default=None, repr=False)


def log_step(
    history: History,
    step: int,
    loss: float,
    learning_rate: float,
    callback: Callable[[int, float, dict[str, Any]], Any] | None,
    params: dict[str, Any] | None,
    *,
    finite_only: bool = True,
) -> None:
    """Record a logged step's loss (a Python float); a NaN or infinite loss is an error
    (``finite_only``), or recorded as it is (the estimators' epochs, which go on as
    MLPClassifier's do and judge the weights at the end)."""
    if finite_only and not math.isfinite(loss):
        raise TrainingDiverged(step, loss, learning_rate)
    history.steps.append(step)
    history.loss.append(loss)
    history.learning_rate.append(float(learning_rate))
    if callback is not None:
        callback(step, loss, cast("dict[str, Any]", params))  # given whenever callback is


def check_final_loss(history: History, final: float, steps: int, learning_rate: float) -> None:
    """Record the full-data loss of the returned parameters; NaN or infinite is an error."""
    if not math.isfinite(final):
        raise TrainingDiverged(steps, final, learning_rate)
    history.final_loss = final
