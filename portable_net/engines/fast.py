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
core's step plus ``weights``. Adam gets the core's update on ``dW + reg W``, rearranged to
reuse the step's own gradient arrays (:func:`adam_update_in_place`) where they are writable.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, cast

from .. import network
from .._backend import backend_name
from ..loss import output_loss
from ..optim import SGD, Adam, AdamState, SGDState, _adam_corrections
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


#: libraries whose arrays the step may overwrite (``a[...] = b``, ``a *= c``); elsewhere (JAX)
#: the updates are written as new arrays, which a compiler fuses anyway
WRITABLE = ("numpy", "array_api_strict", "torch", "cupy")


def adam_update_in_place(
    opt: Adam,
    xp: ModuleType,
    params: list[Any],
    grads: list[Any],
    state: AdamState,
    learning_rate: Any,
    l2: list[Any],
) -> tuple[list[Any], AdamState]:
    """:meth:`portable_net.optim.Adam.update` on ``g + c p`` (``c`` from ``l2``: ``reg`` times
    the weight mask, None where nothing decays), with two temporaries per parameter instead of
    about eight: ``grads`` are the step's own arrays and are overwritten::

        g <- g + c p
        v <- b2 v + (1 - b2) g^2;   m <- b1 m + (1 - b1) g       (g now holds (1 - b1) g)
        g <- step m / (sqrt(v) [/ sqrt(1 - b2^t)] + eps);   p <- p - g
    """
    b1, b2, eps = opt.beta_1, opt.beta_2, opt.epsilon
    t = state.step + 1
    step_size, bc2_sqrt = _adam_corrections(opt, xp, learning_rate, t, params[0].dtype)
    for p, g, m, v, c in zip(params, grads, state.m, state.v, l2):
        if c is not None:
            g += c * p  # the L2 term's gradient, reg W
        u = g * g  # (1 - b2) g^2, the first temporary
        u *= 1.0 - b2
        v *= b2
        v += u
        g *= 1.0 - b1
        m *= b1
        m += g
        d = xp.sqrt(v)  # the denominator, the second temporary
        if opt.epsilon_after_correction:
            d /= bc2_sqrt
        d += eps
        g[...] = m
        g *= step_size  # (step m) / d, the core's order of roundings
        g /= d
        p -= g
    return params, AdamState(t, state.m, state.v)


def folds_rate(settings: StepSettings) -> bool:
    """Whether the step's gradient is scaled by the rate (SGD)."""
    return isinstance(settings.optimizer, SGD)


def gradient_scale(settings: StepSettings, learning_rate: Any, n: Any) -> Any:
    """The factor of the summed data gradient of ``n`` examples: ``lr / n`` for SGD (the rate
    folded in), ``1 / n`` for the others."""
    return learning_rate / n if folds_rate(settings) else 1.0 / n


def make_update(
    xp: ModuleType, packed: list[Any], settings: StepSettings, *, owns_grads: bool = False
) -> Update:
    """``update(packed, state, grads, learning_rate=None, reg=None) -> (packed, state)``,
    ``grads`` scaled by :func:`gradient_scale` (for SGD already times the rate); ``reg``
    (None: the settings') is the L2 strength of this step. ``owns_grads``: the gradients are
    the step's own temporaries, which the update may overwrite (Adam then works in place)."""
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

    if isinstance(opt, Adam) and owns_grads and backend_name(xp) in WRITABLE:
        l2s: dict[float, list[Any]] = {}  # by reg, host floats only

        def l2_for(reg: Any) -> list[Any]:
            if isinstance(reg, float) and reg in l2s:
                return l2s[reg]
            out = [
                None if (isinstance(m, float) and m == 0.0) or (isinstance(reg, float)
                                                               and reg == 0.0) else reg * m
                for m in masks
            ]  # fmt: skip
            if isinstance(reg, float):
                if len(l2s) > 4:
                    l2s.clear()
                l2s[reg] = out
            return out

        def update_adam(packed, state, grads, learning_rate=None, reg=None):
            lr = opt.learning_rate if learning_rate is None else learning_rate
            reg = settings.reg if reg is None else reg
            return adam_update_in_place(opt, xp, packed, grads, state, lr, l2_for(reg))

        return update_adam

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
    update = make_update(xp, packed, settings, owns_grads=True)
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
