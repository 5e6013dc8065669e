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

This is the step every run takes. Four settings arrange the same computation to do less
work, changing nothing but the order of a few roundings (the engines choose them per library,
:mod:`portable_net.engines.fast`; ``train(..., engine="core")`` runs the step without them,
the reference every arrangement is tested against to 1e-12 in float64):

- ``folded``: for SGD, the rate folded into the loss gradient's scale (``lr / N`` instead of
  ``1 / N``), so the backward pass yields ``lr * dW`` and the update is one subtraction;
- ``in_place``: the step's own gradient arrays reused by the update as scratch (a library whose
  arrays are writable);
- ``flat``: the update run once on one vector of all the parameters, their arrays (and the
  optimiser state's) views of it: the same operations entry by entry, in a few calls instead
  of a few per parameter (Adam's, where slices are views);
- ``block``: a large batch's loss and gradient summed over blocks of examples whose
  temporaries fit in cache.

The step is written against ``xp`` only, branches on nothing but Python values fixed for the
run (so it traces under a compiler), and updates in place where the library's arrays are
writable while rebinding where they are not: the training loop owns these arrays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from . import network
from ._backend import device_of
from .loss import output_loss
from .optim import SGD, Adam
from .optim.pieces import l2_coefficients

#: ``step(packed, state, Xt1, onehot, need_loss, learning_rate=None, weights=None)
#: -> (packed, state, loss)``
Step = Callable[..., tuple[list[Any], Any, Any]]


@dataclass(frozen=True)
class StepSettings:
    """What defines one run's step (everything but the arrays).

    n_features : D, the inputs per example (W1b has D + 1 columns: its last is b1)
    learning_rate : the rate of a step called without one
    reg : the L2 strength
    momentum : SGD's, when ``optimizer`` is None
    block : examples per block of the loss's and gradient's sums (None: the whole batch at once)
    optimizer : an :class:`portable_net.optim.SGD` or :class:`portable_net.optim.Adam`;
        None (the default) is ``SGD(learning_rate, momentum)``
    reg_over_batch : the L2 strength of a batch of B examples is ``reg / B`` (scikit-learn's
        ``alpha``), not ``reg``; with ``weighted``, ``reg / sum(w)``
    activation : the hidden layers' (:data:`portable_net.layers.ACTIVATIONS`)
    output : the output layer and its loss (:data:`portable_net.loss.OUTPUT_LOSSES`)
    weighted : the targets' last row is each example's weight (not a target)
    folded : SGD's rate folded into the loss gradient's scale
    in_place : the update may overwrite the step's gradient arrays (writable libraries only)
    flat : the update runs once on one vector of all the parameters (their arrays views of it,
        as are the optimiser's state's): a few whole-vector operations where the library
        spends more on each call than on a small array's arithmetic (with ``in_place``)
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
    folded: bool = False
    in_place: bool = False
    flat: bool = False

    def __post_init__(self) -> None:
        if self.optimizer is None:
            object.__setattr__(self, "optimizer", SGD(self.learning_rate, self.momentum))

    def reg_for(self, n: Any) -> Any:
        """The L2 strength of a step on ``n`` examples."""
        return self.reg / n if self.reg_over_batch else self.reg

    def gradient_scale(self, learning_rate: Any, n: Any) -> Any:
        """The factor of the summed data gradient of ``n`` examples: ``1 / n`` (the mean), or
        ``lr / n`` where the rate is folded in."""
        return learning_rate / n if self.folded else 1.0 / n

    @property
    def textbook(self) -> StepSettings:
        """These settings without the faster arrangement: the step as the notes write it."""
        return dataclasses.replace(self, block=None, folded=False, in_place=False, flat=False)


@dataclass(frozen=True)
class Kernels:
    """A library's own kernels for pieces of the step (an engine's choice,
    :mod:`portable_net.engines.torch_kernels`): the same computation in fewer calls, each
    tested against the pieces it replaces to 1e-12 in float64.

    activation : the hidden layers' (forward, backward) pair, for :mod:`portable_net.layers`'
        of ``settings.activation`` (None: those)
    adam : Adam's update of the one vector of the parameters, called as
        :meth:`portable_net.optim.Adam.update` (None: that)
    """

    activation: tuple[Callable[..., Any], Callable[..., Any]] | None = None
    adam: Callable[..., Any] | None = None


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


def make_update(
    xp: ModuleType, packed: list[Any], settings: StepSettings, kernels: Kernels | None = None
) -> Callable[..., Any]:
    """``update(packed, state, grads, learning_rate=None, reg=None) -> (packed, state)``: the
    optimiser's update (:mod:`portable_net.optim`) with the L2 term of strength ``reg`` (None:
    the settings'), the gradients scaled as :meth:`StepSettings.gradient_scale` scales them.
    The L2 coefficients are made once per rate and strength where the step runs eagerly.
    ``kernels.adam``, where given, runs Adam's update on the one vector (``settings.flat``)."""
    opt, folded, in_place = settings.optimizer, settings.folded, settings.in_place
    assert opt is not None  # StepSettings always sets it
    # 1 on the weights, 0 on the biases (W1b's last column is b1): what the L2 term reaches
    masks = network.weight_masks(xp, packed, settings.n_features)
    if settings.flat:  # the same, entry by entry, along the parameters' vector
        ones = [xp.ones_like(p) for p in packed]
        masks = [network.flat(xp, [m * one for m, one in zip(masks, ones)])]
    made: dict[tuple[float, float], list[Any]] = {}

    def coefficients(lr: Any, reg: Any) -> list[Any]:
        strength = lr * reg if folded else reg  # folded: the gradients carry the rate too
        # kept only where the step runs eagerly (a traced step would keep its tracers)
        if not (in_place and isinstance(lr, float) and isinstance(reg, float)):
            return l2_coefficients(masks, strength)
        if (lr, reg) not in made:
            if len(made) > 4:
                made.clear()
            made[lr, reg] = l2_coefficients(masks, strength)
        return made[lr, reg]

    if isinstance(opt, SGD):

        def update(packed, state, grads, learning_rate=None, reg=None):
            lr = settings.learning_rate if learning_rate is None else learning_rate
            l2 = coefficients(lr, settings.reg if reg is None else reg)
            return opt.update(xp, packed, grads, state, lr, l2=l2, folded=folded,
                              in_place=in_place)  # fmt: skip

        return on_one_vector(xp, update) if settings.flat else update

    adam = opt.update if kernels is None or kernels.adam is None else kernels.adam

    def update_adam(packed, state, grads, learning_rate=None, reg=None):
        lr = opt.learning_rate if learning_rate is None else learning_rate
        l2 = coefficients(1.0, settings.reg if reg is None else reg)
        return adam(xp, packed, grads, state, lr, l2=l2, in_place=in_place)

    return on_one_vector(xp, update_adam) if settings.flat else update_adam


def on_one_vector(xp: ModuleType, update: Callable[..., Any]) -> Callable[..., Any]:
    """``update`` (:func:`make_update`'s, its L2 masks one vector) run once on the
    parameters as one vector (:func:`portable_net.network.flat`): the same operations, entry
    by entry, in one call each instead of one per parameter. The parameters it returns, and
    the state's lists, are views of that vector and of the state's own vectors, updated in
    place; arrays that are not (a run's first step, a restored or given state) are first
    copied into new vectors (the caller's are never modified). Writable libraries whose
    slices and reshapes of a contiguous array are views (NumPy, torch) only."""
    kept: dict[str, Any] = {"packed": None}

    def ours(packed: list[Any], state: Any) -> bool:
        if kept["packed"] is None or not _same(packed, kept["packed"]):
            return False
        return all(_same(getattr(state, f), kept[f]) for f in kept["fields"])

    def vectors(packed: list[Any], state: Any) -> tuple[Any, Any]:
        if not ours(packed, state):
            shapes = tuple((int(p.shape[0]), int(p.shape[1])) for p in packed)
            vector = network.flat(xp, packed)
            kept.update(vector=vector, packed=network.unflat(xp, vector, shapes))
            # the state's per-parameter lists (Adam's moments, SGD's velocity)
            fields = [f for f in state._fields if _per_parameter(getattr(state, f), packed)]
            kept["fields"] = fields
            for f in fields:
                kept[f"{f} vector"] = network.flat(xp, getattr(state, f))
                kept[f] = network.unflat(xp, kept[f"{f} vector"], shapes)
        one = state._replace(**{f: [kept[f"{f} vector"]] for f in kept["fields"]})
        return kept["vector"], one

    def update_vector(packed, state, grads, learning_rate=None, reg=None):
        vector, one = vectors(packed, state)
        _, new = update([vector], one, [network.flat(xp, grads)], learning_rate, reg)
        return kept["packed"], new._replace(**{f: kept[f] for f in kept["fields"]})

    def lay_out(packed: list[Any], state: Any) -> tuple[list[Any], Any]:
        """The parameters and state as the update keeps them (views of its vectors; the
        same arrays where they are already): the training loop lays them out before its
        steps, outside their bookkeeping settings (torch's inference mode would make the
        vectors inference tensors)."""
        vectors(packed, state)
        return kept["packed"], state._replace(**{f: kept[f] for f in kept["fields"]})

    update_vector.lay_out = lay_out  # type: ignore[attr-defined]
    return update_vector


def _same(arrays: list[Any], kept: list[Any]) -> bool:
    return len(arrays) == len(kept) and all(a is b for a, b in zip(arrays, kept))


def _per_parameter(value: Any, packed: list[Any]) -> bool:
    return isinstance(value, list) and len(value) == len(packed) and len(packed) > 0


def make_step(
    xp: ModuleType, packed: list[Any], settings: StepSettings, kernels: Kernels | None = None
) -> Step:
    """The step of one run; its constants (the masks of the weights) made once, here.

    ``step(packed, state, Xt1, onehot, need_loss, learning_rate=None, weights=None) ->
    (packed, state, loss or None)``; ``weights`` (1, B) of 0 and 1 marks the columns that
    count in a padded batch (a fixed width for batches of any size, in a compiled loop).
    ``kernels``: a library's own for some pieces (:class:`Kernels`; None: the step as written
    here)."""
    update = make_update(xp, packed, settings, kernels)
    activation: Any = settings.activation  # a name, or a library's own pair of kernels
    if kernels is not None and kernels.activation is not None:
        activation = kernels.activation
    output, block = settings.output, settings.block
    loss_of = output_loss(output)

    def step(packed, state, Xt1, onehot, need_loss, learning_rate=None, weights=None):
        lr = settings.learning_rate if learning_rate is None else learning_rate
        targets, sample_weights = split_targets(onehot, settings.weighted)
        if sample_weights is not None:  # zero in a padded batch's padding columns
            weights = sample_weights
        # the examples' count, or the sum of their weights
        n = Xt1.shape[1] if weights is None else xp.sum(weights)
        scale = settings.gradient_scale(lr, n)  # 1 / N: the gradient of the mean
        if weights is not None:
            scale = scale * weights  # (1, B)
        reg = settings.reg_for(n)
        total: tuple[Any, list[Any]] = (None, [])
        # a batch's loss and gradient are sums over its examples: over blocks of them
        for Xb, tb, sb, wb in network.blocks((Xt1, targets, scale, weights), block):
            # forward: affine, activation (ReLU in the case study), ..., affine
            scores, caches = network.forward(xp, packed, Xb, activation)  # (K, B)
            # softmax cross-entropy; d loss / d scores = (softmax(scores) - onehot) / N
            part, dscores = loss_of(xp, scores, tb, sb, need_loss=need_loss, weights=wb)
            # backward, layer by layer: [dW1b, dW2^T, db2, ...]
            total = network.add_block(
                total, part, network.backward(xp, dscores, caches, activation)
            )
        loss_sum, grads = total
        loss = None
        if need_loss:
            loss = loss_sum / n + network.penalty(xp, packed, settings.n_features, reg)
        # the update with the L2 term, dW += reg * W: W -= lr * dW for SGD (portable_net.optim)
        packed, state = update(packed, state, grads, lr, reg)
        return packed, state, loss

    # where the update keeps the parameters as one vector: their layout, for the loop
    step.lay_out = getattr(update, "lay_out", None)  # type: ignore[attr-defined]
    return step
