"""The portable engine: the standard-only step of :mod:`portable_net.step`, called in a loop."""

from __future__ import annotations

from typing import Any

from .._backend import int_dtype
from ..network import StepData
from ..step import Step
from .torch_arrays import bookkeeping_off


class PortableEngine:
    """Runs the portable step eagerly, one call per step, on any array API library."""

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


class PortableBatches:
    """Runs of consecutive mini-batches with the portable step, one call per step."""

    def __init__(self, xp: Any, step: Step, device: Any):
        self.xp, self.step, self.device = xp, step, device
        self.host_perm: Any = None
        self.quiet = bookkeeping_off(xp)

    def run(self, packed, state, X1, onehot_rows, perm, start, count, size, ragged, want,
            learning_rate=None):  # fmt: skip
        """``count`` steps on batches of ``size`` examples, the rows of ``X1`` ([X, 1],
        (N, D + 1)) and ``onehot_rows`` (N, K) at positions ``start``, ``start + size``, ...
        of the epoch's order ``perm``, then one on its last ``ragged`` positions when
        ``ragged`` > 0; also the losses (each of its step's batch, before the update) of the
        steps numbered in ``want`` (0 the first), in that order. ``perm``: a NumPy array
        (moved to the device once per epoch). Each batch is gathered row by row
        (contiguous) and given to the step transposed, (D + 1, B) and (K, B)."""
        xp, n = self.xp, perm.shape[0]
        if perm is not self.host_perm:
            self.host_perm = perm
            self.perm = xp.asarray(perm, dtype=int_dtype(xp, self.device), device=self.device)
        perm = self.perm
        spans = [(start + j * size, start + (j + 1) * size) for j in range(count)]
        if ragged:
            spans.append((n - ragged, n))
        losses = []
        with self.quiet():
            for j, (lo, hi) in enumerate(spans):
                idx = perm[lo:hi]
                packed, state, loss = self.step(
                    packed,
                    state,
                    xp.permute_dims(xp.take(X1, idx, axis=0), (1, 0)),
                    xp.permute_dims(xp.take(onehot_rows, idx, axis=0), (1, 0)),
                    j in want,
                    learning_rate,
                )
                if j in want:
                    losses.append(loss)
        return packed, state, losses
