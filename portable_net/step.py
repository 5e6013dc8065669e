"""One pure, standard-only training step, in the packed layout of :mod:`portable_net.network`.

``step(packed, state, Xt1, onehot, need_loss, learning_rate=None, weights=None) -> (packed,
state, loss or None)``; ``weights`` (1, B) of 0 and 1: a padded batch, whose 0 columns count
for nothing (the batch is the 1 columns; a compiled loop runs batches of any size at one
width).

It is written against ``xp`` only, branches on nothing but Python values fixed for the run
(so it traces under a compiler), and updates in place where the library's arrays are
writable (``p -= g``) while rebinding where they are not: the loop owns these arrays.

The update is one of :mod:`portable_net.optim`'s optimisers, whose state (``state``) the loop
carries. SGD takes its fast path (:meth:`portable_net.optim.SGD.update_scaled`): the learning
rate is folded into the gradient's 1/N scale, and the L2 penalty into a decay of the weights,
so an update is two in-place operations per parameter. Other optimisers get the gradient of
the regularised loss, ``g_data + reg W`` (biases: ``g_data``).

Two parts: :func:`make_update` (the optimiser) and :func:`make_step` (the network's loss and
gradient, then that update). Both are configured by one :class:`StepSettings`, which is also
what an engine implementing the same step reads. The learning rate is an argument of each
step (a schedule may change it between logged steps), the settings' rate its default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from . import network
from ._backend import device_of
from .optim import SGD, Adam

Step = Callable[..., tuple[list[Any], Any, Any]]
Update = Callable[..., tuple[list[Any], Any]]


@dataclass(frozen=True)
class StepSettings:
    """What defines one run's step (everything but the arrays).

    n_features : D, the inputs per example (W1b has D + 1 columns: its last is b1)
    learning_rate, reg, momentum : as in :func:`portable_net.train` (``learning_rate``: the
        rate of a step called without one)
    block : examples per block of the gradient's sum (None: the whole batch at once)
    optimizer : an :class:`portable_net.optim.SGD` or :class:`portable_net.optim.Adam`;
        None (the default) is ``SGD(learning_rate, momentum)``
    """

    n_features: int
    learning_rate: float
    reg: float
    momentum: float = 0.0
    block: int | None = None
    optimizer: SGD | Adam | None = None

    def __post_init__(self) -> None:
        if self.optimizer is None:
            object.__setattr__(self, "optimizer", SGD(self.learning_rate, self.momentum))

    @property
    def folds_rate(self) -> bool:
        """Whether the step's gradient is scaled by the rate (SGD's fast path)."""
        return isinstance(self.optimizer, SGD)

    def gradient_scale(self, learning_rate: Any, n: Any) -> Any:
        """The factor of the summed data gradient of ``n`` examples: ``lr / n`` for SGD (the
        rate folded in), ``1 / n`` for the others."""
        return learning_rate / n if self.folds_rate else 1.0 / n


def cache_key(settings: StepSettings, packed: list[Any]) -> tuple[Any, ...]:
    """What makes two runs' steps the same computation (for caches of compiled steps): the
    settings but the rate (an argument of the step) and the parameters' shapes, dtypes and
    devices."""
    assert settings.optimizer is not None  # the training loop always sets it
    opt = dataclasses.replace(settings.optimizer, learning_rate=1.0)
    key = dataclasses.replace(settings, learning_rate=1.0, optimizer=opt)
    arrays = tuple((tuple(p.shape), str(p.dtype), str(device_of(p))) for p in packed)
    return (key, arrays)


def make_update(xp: ModuleType, packed: list[Any], settings: StepSettings) -> Update:
    """The parameter update of the settings' optimiser.

    ``update(packed, state, grads, learning_rate=None) -> (packed, state)``, ``grads`` scaled
    by :meth:`StepSettings.gradient_scale` (for SGD, already times the rate): SGD's
    :meth:`~portable_net.optim.SGD.update_scaled` with the L2 term as weight decay, or the
    optimiser's ``update`` on ``grads + reg W``. In place where the arrays are writable; the
    returned lists hold the new arrays either way.
    """
    reg, opt = settings.reg, settings.optimizer
    assert opt is not None  # the training loop always sets it
    masks = network.weight_masks(xp, packed, settings.n_features)
    decays: dict[float, list[Any]] = {}  # by rate (Python floats): made once per rate

    def decay_for(lr: Any) -> list[Any]:
        if not isinstance(lr, float):  # an array (traced): made in the step
            return SGD.weight_decay(lr, reg, masks)
        if lr not in decays:
            if len(decays) > 4:
                decays.clear()
            decays[lr] = SGD.weight_decay(lr, reg, masks)
        return decays[lr]

    if isinstance(opt, SGD):

        def update(packed, state, grads, learning_rate=None):
            lr = settings.learning_rate if learning_rate is None else learning_rate
            return opt.update_scaled(xp, packed, grads, state, decay_for(lr))

        return update

    def update_with_l2(packed, state, grads, learning_rate=None):
        if reg != 0.0:
            grads = [
                g if isinstance(m, float) and m == 0.0 else g + (reg * m) * p
                for g, m, p in zip(grads, masks, packed)
            ]
        return opt.update(xp, packed, grads, state, learning_rate)

    return update_with_l2


def make_step(xp: ModuleType, packed: list[Any], settings: StepSettings) -> Step:
    """Build the step for one run (constants made once, outside the step)."""
    update = make_update(xp, packed, settings)
    block = settings.block

    def step(packed, state, Xt1, onehot, need_loss, learning_rate=None, weights=None):
        lr = settings.learning_rate if learning_rate is None else learning_rate
        if weights is None:
            n = Xt1.shape[1]
            scale = settings.gradient_scale(lr, n)
        else:  # a padded batch: its examples are the weight-1 columns (onehot 0 elsewhere)
            n = xp.sum(weights)
            scale = settings.gradient_scale(lr, n) * weights  # (1, B)
        loss_sum, grads = network.data_loss_and_grads(
            xp,
            packed,
            network.StepData(Xt1, onehot),
            scale,
            block,
            need_loss=need_loss,
            weights=weights,
        )
        loss = None
        if need_loss:
            loss = loss_sum / n + network.penalty(xp, packed, settings.n_features, settings.reg)
        packed, state = update(packed, state, grads, lr)
        return packed, state, loss

    return step
