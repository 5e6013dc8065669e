"""One training step, as the case study writes it: forward, loss, backward, update.

For the two-layer net of the case study (the packed layout of :mod:`portable_net.network`:
one column per example, the first layer's bias folded into ``W1b`` by a row of ones under X)::

    hidden = relu(W1b @ Xt1)                  (H, N)
    scores = W2^T @ hidden + b2               (K, N)
    loss   = mean cross-entropy + 0.5 reg sum ||W||^2
    dscores = (softmax(scores) - onehot) / N  (K, N)
    dW2^T = dscores @ hidden^T, db2 = sum(dscores), dhidden = W2 @ dscores * (hidden > 0)
    dW1b  = dhidden @ Xt1^T
    dW += reg * W      (the weights, not the biases)
    W  -= lr * dW      (SGD; momentum and Adam in :mod:`portable_net.optim`)

The hidden activation (``settings.activation``, ReLU above) and the output layer with its loss
(``settings.output``: softmax cross-entropy above; logistic outputs with the binary log-loss;
identity outputs with the squared error) are looked up by name (:mod:`portable_net.layers`,
:mod:`portable_net.loss`). With ``settings.weighted`` the targets' last row holds each
example's weight w: the loss is the weighted mean ``sum(w l) / sum(w)``, each example's
gradient scaled by ``w / sum(w)``, and an L2 strength per example (``reg_over_batch``) divided
by ``sum(w)`` (scikit-learn's ``sample_weight``).

The step is written against ``xp`` only, branches on nothing but Python values fixed for the
run (so it traces under a compiler), and updates in place where the library's arrays are
writable while rebinding where they are not: the training loop owns these arrays.

A faster arrangement of the same computation (the rate folded into the gradient, the L2 term
as a cached decay, sums over cache-sized blocks) is an engine's:
:mod:`portable_net.engines.fast`, tested against this step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from . import network
from ._backend import device_of
from .layers import activation_pair
from .loss import output_loss
from .optim import SGD, Adam

#: ``step(packed, state, Xt1, onehot, need_loss, learning_rate=None) -> (packed, state, loss)``
Step = Callable[..., tuple[list[Any], Any, Any]]


@dataclass(frozen=True)
class StepSettings:
    """What defines one run's step (everything but the arrays).

    n_features : D, the inputs per example (W1b has D + 1 columns: its last is b1)
    learning_rate : the rate of a step called without one
    reg : the L2 strength
    momentum : SGD's, when ``optimizer`` is None
    block : examples per block of the gradient's sum, for engines that sum in blocks (None:
        the whole batch at once); the core step ignores it
    optimizer : an :class:`portable_net.optim.SGD` or :class:`portable_net.optim.Adam`;
        None (the default) is ``SGD(learning_rate, momentum)``
    reg_over_batch : the L2 strength of a batch of B examples is ``reg / B`` (scikit-learn's
        ``alpha``), not ``reg``; with ``weighted``, ``reg / sum(w)``
    activation : the hidden layers' (:data:`portable_net.layers.ACTIVATIONS`)
    output : the output layer and its loss (:data:`portable_net.loss.OUTPUT_LOSSES`)
    weighted : the targets' last row is each example's weight (not a target)
    """

    n_features: int
    learning_rate: float
    reg: float
    momentum: float = 0.0
    block: int | None = None
    optimizer: SGD | Adam | None = None
    reg_over_batch: bool = False
    activation: str = "relu"
    output: str = "softmax"
    weighted: bool = False

    def __post_init__(self) -> None:
        if self.optimizer is None:
            object.__setattr__(self, "optimizer", SGD(self.learning_rate, self.momentum))
        activation_pair(self.activation)  # raises for an unknown name
        output_loss(self.output)

    def reg_for(self, n: Any) -> Any:
        """The L2 strength of a step on ``n`` examples."""
        return self.reg / n if self.reg_over_batch else self.reg


def split_targets(targets: Any, weighted: bool) -> tuple[Any, Any]:
    """(targets (K, B), weights (1, B) or None): with ``weighted``, the last row of the
    step's targets is each example's weight."""
    if not weighted:
        return targets, None
    return targets[:-1, :], targets[-1:, :]


def cache_key(settings: StepSettings, packed: list[Any]) -> tuple[Any, ...]:
    """What makes two runs' steps the same computation (for caches of compiled steps): the
    settings but the rate (an argument of the step) and the parameters' shapes, dtypes and
    devices."""
    assert settings.optimizer is not None  # __post_init__ sets it
    opt = dataclasses.replace(settings.optimizer, learning_rate=1.0)
    key = dataclasses.replace(settings, learning_rate=1.0, optimizer=opt)
    arrays = tuple((tuple(p.shape), str(p.dtype), str(device_of(p))) for p in packed)
    return (key, arrays)


def make_step(xp: ModuleType, packed: list[Any], settings: StepSettings) -> Step:
    """The step of one run; its constants (the masks of the weights) made once, here."""
    opt, n_features = settings.optimizer, settings.n_features
    assert opt is not None  # __post_init__ sets it
    # 1 on the weights, 0 on the biases (W1b's last column is b1): what the L2 term reaches
    masks = network.weight_masks(xp, packed, n_features)
    activation, loss_of = settings.activation, output_loss(settings.output)

    def step(packed, state, Xt1, onehot, need_loss, learning_rate=None):
        lr = settings.learning_rate if learning_rate is None else learning_rate
        targets, weights = split_targets(onehot, settings.weighted)
        # the examples' count, or the sum of their weights
        n = Xt1.shape[1] if weights is None else xp.sum(weights)
        scale = 1.0 / n if weights is None else weights / n
        reg = settings.reg_for(n)
        # forward: affine, activation (ReLU in the case study), ..., affine
        scores, caches = network.forward(xp, packed, Xt1, activation)  # (K, N)
        # softmax cross-entropy; d loss / d scores = (softmax(scores) - onehot) / N
        loss_sum, dscores = loss_of(
            xp, scores, targets, scale, need_loss=need_loss, weights=weights
        )
        # backward, layer by layer: [dW1b, dW2^T, db2, ...]
        grads = network.backward(xp, dscores, caches, activation)
        # the L2 term: dW += reg * W on the weights, nothing on the biases
        grads = [g + reg * (m * p) for g, m, p in zip(grads, masks, packed)]
        loss = None
        if need_loss:
            loss = loss_sum / n + network.penalty(xp, packed, n_features, reg)
        # the update: W -= lr * dW for SGD; momentum and Adam in portable_net.optim
        packed, state = opt.update(xp, packed, grads, state, lr)
        return packed, state, loss

    return step
