"""The portable engine: the standard-only step of :mod:`portable_net.step`, called in a loop."""

from __future__ import annotations

from typing import Any

from ..network import StepData
from ..step import Step


class PortableEngine:
    """Runs the portable step eagerly, one call per step, on any array API library."""

    def __init__(self, step: Step, data: StepData):
        self.step, self.data = step, data

    def logged_step(self, packed: list[Any], velocity: list[Any]):
        """One step that also returns the loss before its update (0-d)."""
        return self.step(packed, velocity, self.data.Xt1, self.data.onehot, True)

    def stretch(self, packed: list[Any], velocity: list[Any], n_steps: int):
        """``n_steps`` steps without the loss."""
        for _ in range(n_steps):
            packed, velocity, _ = self.step(
                packed, velocity, self.data.Xt1, self.data.onehot, False
            )
        return packed, velocity


class PortableBatches:
    """Runs of consecutive mini-batches with the portable step, one call per step."""

    def __init__(self, step: Step):
        self.step = step

    def run(self, packed, velocity, Xt1, onehot, start: int, count: int, size: int, need_loss):
        """``count`` steps on the batches of ``size`` columns of (Xt1, onehot) from column
        ``start`` on; also the loss of the first step's batch (0-d) when ``need_loss``."""
        loss = None
        for j in range(count):
            lo = start + j * size
            packed, velocity, part = self.step(
                packed, velocity, Xt1[:, lo : lo + size], onehot[:, lo : lo + size], need_loss
            )
            if j == 0:
                loss, need_loss = part, False
        return packed, velocity, loss
