"""A full-batch :class:`~portable_net.engines.Engine` that calls its step eagerly, one call per
step (what :func:`portable_net.engines.engine_for` builds where a library has no engine of
its own; the training loop itself calls the step directly: ``train(..., engine="eager")``)."""

from __future__ import annotations

from typing import Any

from ..network import StepData
from ..step import Step
from .torch_arrays import bookkeeping_off


class EagerEngine:
    """Runs the step eagerly, one call per step, on any array API library."""

    def __init__(self, xp: Any, step: Step, data: StepData):
        self.step, self.data = step, data
        self.quiet = bookkeeping_off(xp)

    def logged_step(self, packed: list[Any], state: Any, learning_rate: Any = None):
        """One step that also returns the loss before its update (0-d)."""
        with self.quiet():
            return self.step(packed, state, self.data.Xt1, self.data.onehot, True, learning_rate)

    def stretch(self, packed: list[Any], state: Any, n_steps: int, learning_rate: Any = None):
        """``n_steps`` steps without the loss."""
        with self.quiet():
            for _ in range(n_steps):
                packed, state, _ = self.step(
                    packed, state, self.data.Xt1, self.data.onehot, False, learning_rate
                )
        return packed, state
