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
