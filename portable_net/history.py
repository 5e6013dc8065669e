"""What a training run logged, and the logging of one step (shared by every loop)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import TrainingDiverged

__all__ = ["History"]


@dataclass
class History:
    """What :func:`portable_net.train` logged.

    ``steps`` and ``loss`` are Python lists: the loss at steps 0, log_every, 2*log_every, ...,
    computed before that step's update (with mini-batches, the loss of that step's batch).
    ``final_loss`` is the full-data loss of the returned parameters.
    """

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    final_loss: float | None = None


def log_step(
    history: History,
    step: int,
    loss: float,
    learning_rate: float,
    callback: Callable[[int, float, dict[str, Any]], Any] | None,
    params: dict[str, Any] | None,
) -> None:
    """Record a logged step's loss (a Python float); a NaN or infinite loss is an error."""
    if not math.isfinite(loss):
        raise TrainingDiverged(step, loss, learning_rate)
    history.steps.append(step)
    history.loss.append(loss)
    if callback is not None:
        callback(step, loss, params)


def check_final_loss(history: History, final: float, steps: int, learning_rate: float) -> None:
    """Record the full-data loss of the returned parameters; NaN or infinite is an error."""
    if not math.isfinite(final):
        raise TrainingDiverged(steps, final, learning_rate)
    history.final_loss = final
