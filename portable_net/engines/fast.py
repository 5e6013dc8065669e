"""The fast step: the core step of :mod:`portable_net.step` rearranged to do less work.

The same computation as the core's ``W -= lr * (dW + reg * W)``, with three tricks that change
nothing but the order of a few roundings (tested against the core to 1e-12 in float64):

- **the rate folded into the gradient's scale**: for SGD the softmax gradient is scaled by
  ``lr / N`` instead of ``1 / N``, so the backward pass yields ``lr * dW`` directly and the
  update is one subtraction;
- **the L2 term as a cached decay**: ``p <- p (1 - lr reg) - lr dW`` with ``1 - lr reg`` made
  once per rate (:func:`weight_decay`), instead of forming ``dW + reg W`` every step;
- **block sums**: a large batch's gradient summed over blocks of examples whose temporaries
  fit in cache (:mod:`.blocks` chooses the size per library and allocator).

A fourth serves the compiled engines: **padded batches** (``weights``, a (1, B) row of 0 and
1): a batch of any size runs at one width, its padding columns counting for nothing. With
``settings.weighted`` the targets' last row holds the examples' weights (zero in padding
columns, whose targets are zero) and stands in for ``weights``.

The hidden activation and the output layer with its loss are the settings' (as the core's).

``make_step(xp, packed, settings)`` returns ``step(packed, state, Xt1, onehot, need_loss,
learning_rate=None, weights=None) -> (packed, state, loss or None)``, the signature of the
core's step plus ``weights``. Adam gets the core's update on ``dW + reg W``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, cast

from .. import network
from ..loss import output_loss
from ..optim import SGD, SGDState
from ..step import Step, StepSettings, split_targets

Update = Any


def weight_decay(learning_rate: Any, reg: Any, masks: list[Any]) -> list[Any]:
    """Per parameter ``(lr reg m, 1 - lr reg m)`` for its mask ``m`` (1 on weights, 0 on
    biases), or None where nothing decays."""
    out: list[tuple[Any, Any] | None] = []
    for m in masks:
        if (isinstance(reg, float) and reg == 0.0) or (isinstance(m, float) and m == 0.0):
            out.append(None)
        else:
            c = learning_rate * reg * m
            out.append((c, 1.0 - c))
    return out


def sgd_update_scaled(
    opt: SGD, params: list[Any], steps: list[Any], state: SGDState, decay: list[Any]
) -> tuple[list[Any], SGDState]:
    """:meth:`portable_net.optim.SGD.update` on ``g = steps / lr + reg p``, rearranged::

        p <- p (1 - lr reg) - s                      (momentum == 0)
        v <- mu v - s - lr reg p;   p <- p + v       (classical)
        u = s + lr reg p;  v <- mu v - u;   p <- p + mu v - u     (Nesterov)

    ``steps`` are ``lr * dW_data``; ``decay`` from :func:`weight_decay`. In place where the
    arrays are writable."""
    mu = opt.momentum
    new_params, new_velocity = [], []
    for j, (p, s) in enumerate(zip(params, steps)):
        d = decay[j]
        if mu == 0.0:
            if d is not None:
                p *= d[1]  # 1 - lr reg
            p -= s
        elif not opt.nesterov:
            v = state.velocity[j]
            v *= mu
            v -= s
            if d is not None:
                v -= d[0] * p  # v = mu v - lr (g + reg p)
            p += v
            new_velocity.append(v)
        else:
            u = s if d is None else s + d[0] * p  # lr (g + reg p)
            v = state.velocity[j]
            v *= mu
            v -= u
            p += mu * v
            p -= u
            new_velocity.append(v)
        new_params.append(p)
    return new_params, SGDState(new_velocity)


def folds_rate(settings: StepSettings) -> bool:
    """Whether the step's gradient is scaled by the rate (SGD)."""
    return isinstance(settings.optimizer, SGD)


def gradient_scale(settings: StepSettings, learning_rate: Any, n: Any) -> Any:
    """The factor of the summed data gradient of ``n`` examples: ``lr / n`` for SGD (the rate
    folded in), ``1 / n`` for the others."""
    return learning_rate / n if folds_rate(settings) else 1.0 / n


def make_update(xp: ModuleType, packed: list[Any], settings: StepSettings) -> Update:
    """``update(packed, state, grads, learning_rate=None, reg=None) -> (packed, state)``,
    ``grads`` scaled by :func:`gradient_scale` (for SGD already times the rate); ``reg``
    (None: the settings') is the L2 strength of this step."""
    opt = settings.optimizer
    assert opt is not None  # StepSettings always sets it
    masks = network.weight_masks(xp, packed, settings.n_features)
    decays: dict[tuple[float, float], list[Any]] = {}  # by (rate, reg), host floats only

    def decay_for(lr: Any, reg: Any) -> list[Any]:
        if not (isinstance(lr, float) and isinstance(reg, float)):  # traced: made in the step
            return weight_decay(lr, reg, masks)
        if (lr, reg) not in decays:
            if len(decays) > 4:
                decays.clear()
            decays[lr, reg] = weight_decay(lr, reg, masks)
        return decays[lr, reg]

    if isinstance(opt, SGD):

        def update(packed, state, grads, learning_rate=None, reg=None):
            lr = settings.learning_rate if learning_rate is None else learning_rate
            reg = settings.reg if reg is None else reg
            return sgd_update_scaled(opt, packed, grads, state, decay_for(lr, reg))

        return update

    def update_with_l2(packed, state, grads, learning_rate=None, reg=None):
        reg = settings.reg if reg is None else reg
        if not (isinstance(reg, float) and reg == 0.0):
            grads = [
                g if isinstance(m, float) and m == 0.0 else g + (reg * m) * p
                for g, m, p in zip(grads, masks, packed)
            ]
        return opt.update(xp, packed, grads, state, learning_rate)

    return update_with_l2


def make_step(xp: ModuleType, packed: list[Any], settings: StepSettings) -> Step:
    """The fast step of one run (constants made once, outside the step)."""
    update = make_update(xp, packed, settings)
    block, activation, output = settings.block, settings.activation, settings.output
    loss_of = output_loss(output)

    def step(packed, state, Xt1, onehot, need_loss, learning_rate=None, weights=None):
        lr = settings.learning_rate if learning_rate is None else learning_rate
        onehot, sample_weights = split_targets(onehot, settings.weighted)
        if sample_weights is not None:  # zero in a padded batch's padding columns
            weights = sample_weights
        if weights is None:
            n = Xt1.shape[1]
            scale = gradient_scale(settings, lr, n)
        else:  # weighted, or a padded batch (its examples the weight-1 columns, onehot 0 elsewhere)
            n = xp.sum(weights)
            scale = gradient_scale(settings, lr, n) * weights  # (1, B)
        reg = settings.reg_for(n)
        if block is None or block >= Xt1.shape[1]:
            scores, caches = network.forward(xp, packed, Xt1, activation)  # (K, B)
            loss_sum, dscores = loss_of(
                xp, scores, onehot, scale, need_loss=need_loss, weights=weights
            )
            grads = network.backward(xp, dscores, caches, activation)
        else:
            loss_sum, grads = blocked_loss_and_grads(
                xp, packed, Xt1, onehot, scale, block, need_loss=need_loss, weights=weights,
                activation=activation, output=output,
            )  # fmt: skip
        loss = None
        if need_loss:
            loss = loss_sum / n + network.penalty(xp, packed, settings.n_features, reg)
        packed, state = update(packed, state, grads, lr, reg)
        return packed, state, loss

    return step


def block_loss_and_grads(
    xp: ModuleType,
    packed: list[Any],
    Xt1: Any,
    onehot: Any,
    scale: Any,
    *,
    need_loss: bool,
    weights: Any = None,
    activation: str = "relu",
    output: str = "softmax",
) -> tuple[Any | None, list[Any]]:
    """One block's share of the summed data loss (or None) and of the gradient scaled by
    ``scale``, in the packed layout (no L2 term: it is added once per step)."""
    scores, caches = network.forward(xp, packed, Xt1, activation)  # (K, B)
    loss_sum, dscores = output_loss(output)(
        xp, scores, onehot, scale, need_loss=need_loss, weights=weights
    )
    return loss_sum, network.backward(xp, dscores, caches, activation)


def blocked_loss_and_grads(
    xp: ModuleType,
    packed: list[Any],
    Xt1: Any,
    onehot: Any,
    scale: Any,
    block: int | None,
    *,
    need_loss: bool,
    weights: Any = None,
    activation: str = "relu",
    output: str = "softmax",
) -> tuple[Any | None, list[Any]]:
    """The whole batch's summed data loss (or None) and scaled gradient, as a sum over
    blocks of ``block`` examples (None: one block). With ``weights`` (1, B), ``scale`` is a
    (1, B) row too."""
    n = Xt1.shape[1]
    kinds = {"activation": activation, "output": output}
    if block is None or block >= n:
        return block_loss_and_grads(
            xp, packed, Xt1, onehot, scale, need_loss=need_loss, weights=weights, **kinds
        )
    loss_sum: Any = None
    grads: list[Any] | None = None
    for start in range(0, n, block):
        stop = min(start + block, n)
        part_loss, part = block_loss_and_grads(
            xp,
            packed,
            Xt1[:, start:stop],
            onehot[:, start:stop],
            scale if weights is None else scale[:, start:stop],
            need_loss=need_loss,
            weights=None if weights is None else weights[:, start:stop],
            **kinds,
        )
        if grads is None:
            loss_sum, grads = part_loss, part
            continue
        for j, p in enumerate(part):
            g = grads[j]
            g += p  # in place where writable, a new array where not
            grads[j] = g
        if need_loss:
            loss_sum = loss_sum + part_loss
    return loss_sum, cast("list[Any]", grads)  # n > block: the loop ran at least once


def loss_sum(
    xp: ModuleType,
    packed: list[Any],
    Xt1: Any,
    onehot: Any,
    block: int | None,
    activation: str = "relu",
    output: str = "softmax",
    weighted: bool = False,
) -> Any:
    """The summed data loss (0-d), forward only, block by block (None: one block);
    ``weighted``: the targets' last row holds the examples' weights (their weighted sum)."""
    n = Xt1.shape[1]
    block = n if block is None else block
    loss_of = output_loss(output)
    total = None
    for start in range(0, n, block):
        stop = min(start + block, n)  # the standard leaves slices past the end unspecified
        part_x, part_y = (
            (Xt1, onehot) if block >= n else (Xt1[:, start:stop], onehot[:, start:stop])
        )
        targets, weights = split_targets(part_y, weighted)
        scores, _ = network.forward(xp, packed, part_x, activation)
        part, _ = loss_of(
            xp, scores, targets, 1.0, need_loss=True, need_grad=False, weights=weights
        )
        total = part if total is None else total + part
    return total


def mean_loss(
    xp: ModuleType,
    packed: list[Any],
    Xt1: Any,
    onehot: Any,
    reg: float,
    n_features: int,
    block: int | None = None,
    activation: str = "relu",
    output: str = "softmax",
    weighted: bool = False,
) -> Any:
    """The regularised mean loss (0-d), forward only, block by block (with ``weighted``,
    the weighted mean)."""
    n = xp.sum(onehot[-1, :]) if weighted else Xt1.shape[1]
    data = loss_sum(xp, packed, Xt1, onehot, block, activation, output, weighted) / n
    return data + network.penalty(xp, packed, n_features, reg)


def full_data_loss(xp, packed, Xt1, onehot, reg, n_features, block, by_rows,
                   activation="relu", output="softmax", weighted=False):  # fmt: skip
    """The full-data loss (0-d) of a run's data as the loop prepared it (``by_rows``: example
    by example, ([X, 1] (N, D + 1), one-hot rows (N, K)))."""
    if by_rows:
        Xt1, onehot = xp.permute_dims(Xt1, (1, 0)), xp.permute_dims(onehot, (1, 0))
    return mean_loss(xp, packed, Xt1, onehot, reg, n_features, block, activation, output, weighted)
