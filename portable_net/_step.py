"""One pure, standard-only training step, in the packed layout of :mod:`_packed`.

``step(packed, velocity, X1, onehot, need_loss) -> (packed, velocity, loss or None)``

It is written against ``xp`` only, branches on nothing but Python values fixed for the run
(so it traces under ``jax.jit``), and updates in place where the library's arrays are
writable (``p -= g``) while rebinding where they are not: the loop owns these arrays.
The learning rate is folded into the gradient's 1/N scale, and the L2 penalty into a decay of
the weights, so an update is two in-place operations per parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from . import _packed
from ._backend import device_of

Step = Callable[[list[Any], list[Any], Any, Any, bool], tuple[list[Any], list[Any], Any]]


Update = Callable[[list[Any], list[Any], list[Any]], tuple[list[Any], list[Any]]]


def make_update(
    xp: ModuleType,
    packed: list[Any],
    *,
    n_features: int,
    learning_rate: float,
    reg: float,
    momentum: float,
) -> Update:
    """The parameter update, for gradients already scaled by the learning rate.

    ``update(packed, velocity, grads) -> (packed, velocity)``: ``p *= 1 - lr reg; p -= g`` on
    weights (biases: ``p -= g``), or with momentum ``v *= mu; v -= g; v -= lr reg p; p += v``.
    In place where the arrays are writable; the returned lists hold the new arrays either way.
    """
    masks = _packed.weight_masks(xp, packed, n_features)
    lr_reg = [learning_rate * reg * m for m in masks]  # per parameter: lr * reg on weights only
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


def make_step(
    xp: ModuleType,
    packed: list[Any],
    *,
    n_features: int,
    learning_rate: float,
    reg: float,
    momentum: float,
    block: int | None,
) -> Step:
    """Build the step for one run (constants made once, outside the step)."""
    update = make_update(
        xp, packed, n_features=n_features, learning_rate=learning_rate, reg=reg, momentum=momentum
    )

    def step(packed, velocity, X1, onehot, need_loss):
        n = X1.shape[1]
        data = _packed.Data(X1, onehot)
        loss_sum, grads = _packed.data_loss_and_grads(
            xp, packed, data, learning_rate / n, n if block is None else block, need_loss=need_loss
        )
        loss = None
        if need_loss:
            loss = loss_sum / n + _packed.penalty(xp, packed, n_features, reg)
        packed, velocity = update(packed, velocity, grads)
        return packed, velocity, loss

    # the settings, for the optional backend layers that implement the same step
    step.settings = {
        "n_features": n_features,
        "learning_rate": learning_rate,
        "reg": reg,
        "momentum": momentum,
        "block": block,
    }
    # what makes two runs' steps the same computation (for compiled-step caches)
    step.key = (
        n_features,
        learning_rate,
        reg,
        momentum,
        block,
        tuple((tuple(p.shape), str(p.dtype), str(device_of(p))) for p in packed),
    )
    return step
