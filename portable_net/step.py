"""One pure, standard-only training step, in the packed layout of :mod:`portable_net.network`.

``step(packed, velocity, Xt1, onehot, need_loss) -> (packed, velocity, loss or None)``

It is written against ``xp`` only, branches on nothing but Python values fixed for the run
(so it traces under a compiler), and updates in place where the library's arrays are
writable (``p -= g``) while rebinding where they are not: the loop owns these arrays.
The learning rate is folded into the gradient's 1/N scale, and the L2 penalty into a decay of
the weights, so an update is two in-place operations per parameter.

Two parts: :func:`make_update` (SGD with classical momentum: the optimiser) and
:func:`make_step` (the network's loss and gradient, then that update). Both are configured by
one :class:`StepSettings`, which is also what an engine implementing the same step reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from . import network
from ._backend import device_of

Step = Callable[[list[Any], list[Any], Any, Any, bool], tuple[list[Any], list[Any], Any]]
Update = Callable[[list[Any], list[Any], list[Any]], tuple[list[Any], list[Any]]]


@dataclass(frozen=True)
class StepSettings:
    """What defines one run's step (everything but the arrays).

    n_features : D, the inputs per example (W1b has D + 1 columns: its last is b1)
    learning_rate, reg, momentum : as in :func:`portable_net.train`
    block : examples per block of the gradient's sum (None: the whole batch at once)
    """

    n_features: int
    learning_rate: float
    reg: float
    momentum: float
    block: int | None = None


def cache_key(settings: StepSettings, packed: list[Any]) -> tuple:
    """What makes two runs' steps the same computation (for caches of compiled steps): the
    settings and the parameters' shapes, dtypes and devices."""
    arrays = tuple((tuple(p.shape), str(p.dtype), str(device_of(p))) for p in packed)
    return (settings, arrays)


def make_update(xp: ModuleType, packed: list[Any], settings: StepSettings) -> Update:
    """The parameter update, for gradients already scaled by the learning rate.

    ``update(packed, velocity, grads) -> (packed, velocity)``: ``p *= 1 - lr reg; p -= g`` on
    weights (biases: ``p -= g``), or with momentum ``v *= mu; v -= g; v -= lr reg p; p += v``.
    In place where the arrays are writable; the returned lists hold the new arrays either way.
    """
    reg, momentum = settings.reg, settings.momentum
    masks = network.weight_masks(xp, packed, settings.n_features)
    # per parameter: lr * reg on weights only
    lr_reg = [settings.learning_rate * reg * m for m in masks]
    decay = [1.0 - c for c in lr_reg]  # W <- W (1 - lr reg) - lr dW_data
    decays = [reg != 0.0 and not (isinstance(c, float) and c == 0.0) for c in lr_reg]

    def update(packed, velocity, grads):
        new_packed, new_velocity = [], []
        for j, (p, g) in enumerate(zip(packed, grads)):
            if momentum == 0.0:
                if decays[j]:
                    p *= decay[j]
                p -= g
            else:
                # classical momentum: v = mu v - lr (dW + reg W); W += v
                v = velocity[j]
                v *= momentum
                v -= g
                if decays[j]:
                    v -= lr_reg[j] * p
                p += v
                new_velocity.append(v)
            new_packed.append(p)
        return new_packed, new_velocity

    return update


def make_step(xp: ModuleType, packed: list[Any], settings: StepSettings) -> Step:
    """Build the step for one run (constants made once, outside the step)."""
    update = make_update(xp, packed, settings)
    learning_rate, block = settings.learning_rate, settings.block

    def step(packed, velocity, Xt1, onehot, need_loss):
        n = Xt1.shape[1]
        loss_sum, grads = network.data_loss_and_grads(
            xp,
            packed,
            network.StepData(Xt1, onehot),
            learning_rate / n,
            block,
            need_loss=need_loss,
        )
        loss = None
        if need_loss:
            loss = loss_sum / n + network.penalty(xp, packed, settings.n_features, settings.reg)
        packed, velocity = update(packed, velocity, grads)
        return packed, velocity, loss

    return step
