"""The portable engine: the standard-only step of :mod:`portable_net.step`, called in a loop."""

from __future__ import annotations

from typing import Any

from ..network import StepData
from ..step import Step


class PortableEngine:
    """Runs the portable step eagerly, one call per step, on any array API library."""

    def __init__(self, step: Step, data: StepData):
        self.step, self.data = step, data

    def logged_step(self, packed: list[Any], state: Any, learning_rate: Any = None):
        """One step that also returns the loss before its update (0-d)."""
        return self.step(packed, state, self.data.Xt1, self.data.onehot, True, learning_rate)

    def stretch(self, packed: list[Any], state: Any, n_steps: int, learning_rate: Any = None):
        """``n_steps`` steps without the loss."""
        for _ in range(n_steps):
            packed, state, _ = self.step(
                packed, state, self.data.Xt1, self.data.onehot, False, learning_rate
            )
        return packed, state


class PortableBatches:
    """Runs of consecutive mini-batches with the portable step, one call per step."""

    def __init__(self, step: Step):
        self.step = step

    def run(self, packed, state, Xt1, onehot, start, count, size, need_loss, learning_rate=None):
        """``count`` steps on the batches of ``size`` columns of (Xt1, onehot) from column
        ``start`` on; also the loss of the first step's batch (0-d) when ``need_loss``."""
        loss = None
        for j in range(count):
            lo = start + j * size
            packed, state, part = self.step(
                packed,
                state,
                Xt1[:, lo : lo + size],
                onehot[:, lo : lo + size],
                need_loss,
                learning_rate,
            )
            if j == 0:
                loss, need_loss = part, False
        return packed, state, loss
