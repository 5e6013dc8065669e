"""The output layers with their losses (each one formula, with its gradient) and the L2 penalty.

The training step works in the (outputs, examples) layout of :mod:`portable_net.layers`:
scores are (K, B), one column per example. Four output layers, each with its canonical loss,
so that the gradient wrt the scores is ``output - target`` for all four (scikit-learn's
``deltas[last] = activations[-1] - y``):

- ``"softmax"``: softmax outputs, cross-entropy against one-hot targets (K > 2 classes; the
  case study's loss): :func:`softmax_xent`;
- ``"logistic"``: logistic outputs, the binary log-loss of each output against 0/1 targets
  (one output for two classes; one per label for multilabel targets): :func:`logistic_xent`;
- ``"squared"``: identity outputs, half the squared error (regression): :func:`squared_error`;
- ``"poisson"``: exp outputs (the log link, :func:`exp_link`), half the Poisson deviance
  (regression of counts and rates, targets >= 0): :func:`poisson_deviance`.

Each is the formula every caller uses (the training steps, the forward-only loss, each chunk
of a distributed array, the public :func:`softmax_cross_entropy`), looked up by name in
:data:`OUTPUT_LOSSES`; :func:`output` is the output layer alone (predictions).

``weights`` (1, B), or None (all 1): each column's weight in the loss's sum. A padded batch
gives its padding columns weight 0 and zero targets; sample weights are any non-negative
values. The caller divides by the sum of the weights (a weighted mean) and passes ``scale``
as ``weights / sum(weights)`` (times the rate when it folds it in): the gradient of each
example scaled by its weight, as scikit-learn's ``deltas[last] *= sample_weight``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from ._backend import device_of, namespace_and_device
from ._validation import check_labels, is_floating
from .layers import sigmoid

__all__ = ["softmax_cross_entropy"]


def softmax_xent(xp: ModuleType, scores: Any, onehot: Any, scale: Any, *, need_loss: bool,
                 need_grad: bool = True, weights: Any = None) -> tuple[Any, Any]:  # fmt: skip
    """Softmax cross-entropy over the K rows of scores (K, B), against onehot (K, B).

    Returns the summed loss of the columns (0-d, only if ``need_loss``) and
    ``dscores = scale * (softmax(scores) - onehot)`` (K, B) (only if ``need_grad``);
    ``scale`` is 1/N for the gradient of the mean (times the learning rate when the caller
    folds it in), or a (1, B) row of such factors. Either is None where not asked for.
    Overwrites ``scores``, which must be the caller's own temporary.

    ``weights`` (1, B) of 0 and 1, or None (all 1): the columns that count. A padded batch
    (a fixed width for batches of any size, in a compiled loop) gives its padding columns
    weight 0, zero one-hot columns and a zero ``scale``: they add nothing to either result.
    """
    scores, exp, sumexp = softmax_parts(xp, scores, 0, overwrite=True)  # (K, B), (1, B)
    loss_sum = None
    if need_loss:
        # -log p[y] = log(sum exp) - shifted[y]: the log-softmax of the label
        if weights is None:
            loss_sum = xp.sum(xp.log(sumexp)) - xp.sum(onehot * scores)
        else:
            column = xp.log(sumexp) - xp.sum(onehot * scores, axis=0, keepdims=True)  # (1, B)
            loss_sum = xp.sum(column * weights)
    if not need_grad:
        return loss_sum, None
    # d loss / d scores = (p - onehot) / N
    exp /= sumexp  # p = softmax(scores)
    exp -= onehot
    exp *= scale
    return loss_sum, exp


def logistic_xent(xp: ModuleType, scores: Any, targets: Any, scale: Any, *, need_loss: bool,
                  need_grad: bool = True, weights: Any = None) -> tuple[Any, Any]:  # fmt: skip
    """Logistic outputs with the binary log-loss of each of the K rows of scores (K, B)
    against 0/1 targets (K, B), summed over the rows (one row: two classes; K rows: K
    labels).

    Returns the summed loss (0-d, only if ``need_loss``) and ``dscores = scale *
    (sigmoid(scores) - targets)`` (K, B) (only if ``need_grad``), as :func:`softmax_xent`.
    The loss of one output is ``softplus(z) - t z`` = ``-t log s - (1 - t) log(1 - s)`` for
    ``s = sigmoid(z)``, written without overflow (:func:`portable_net.layers.sigmoid`).
    """
    loss_sum = None
    if need_loss:
        # softplus(z) - t z = max(z, 0) + log(1 + exp(-|z|)) - t z; max(z, 0) = (z + |z|) / 2
        e = xp.exp(-xp.abs(scores))  # (K, B), in (0, 1]
        per = (scores + xp.abs(scores)) * 0.5 + xp.log1p(e) - targets * scores  # (K, B)
        loss_sum = _summed(xp, per, weights)
    if not need_grad:
        return loss_sum, None
    probs = sigmoid(xp, scores)  # (K, B)
    probs -= targets
    probs *= scale
    return loss_sum, probs


def _summed(xp: ModuleType, per: Any, weights: Any) -> Any:
    """The loss summed over the K outputs and the B examples of ``per`` (K, B), each
    example's sum weighted by ``weights`` (1, B) (None: all 1)."""
    if weights is None:
        return xp.sum(per)
    return xp.sum(xp.sum(per, axis=0, keepdims=True) * weights)


def squared_error(xp: ModuleType, scores: Any, targets: Any, scale: Any, *, need_loss: bool,
                  need_grad: bool = True, weights: Any = None) -> tuple[Any, Any]:  # fmt: skip
    """Identity outputs with half the squared error, scores (K, B) against real targets
    (K, B), as MLPRegressor's: the loss of an example is ``0.5 * mean_k (z_k - t_k)^2``
    (the mean over the K outputs) and the gradient ``dscores = scale * (scores - targets)``,
    as scikit-learn's ``deltas[last] = activations[-1] - y``: for K > 1 outputs that is the
    gradient of the sum over outputs, K times the loss's (scikit-learn's convention, kept so
    that the weights and loss curves are MLPRegressor's). Overwrites ``scores``.
    """
    scores -= targets  # (K, B): the residuals
    loss_sum = None
    if need_loss:
        sq = scores * scores
        k = scores.shape[0]
        if weights is None:
            loss_sum = xp.sum(sq) * (0.5 / k)
        else:
            loss_sum = xp.sum(xp.sum(sq, axis=0, keepdims=True) * weights) * (0.5 / k)
    if not need_grad:
        return loss_sum, None
    scores *= scale
    return loss_sum, scores


def exp_link(xp: ModuleType, scores: Any) -> Any:
    """The exp output layer, ``exp(scores)``: the inverse of the Poisson loss's log link
    (a new array)."""
    return xp.exp(scores)


def poisson_deviance(xp: ModuleType, scores: Any, targets: Any, scale: Any, *, need_loss: bool,
                     need_grad: bool = True, weights: Any = None) -> tuple[Any, Any]:  # fmt: skip
    """Exp outputs with half the Poisson deviance, scores (K, B) against targets >= 0 (K, B),
    as MLPRegressor's ``loss="poisson"``: the prediction is ``mu = exp(z)`` and the loss of
    an example ``sum_k t_k log(t_k / mu_k) - t_k + mu_k`` (``t log t`` is 0 at ``t = 0``),
    summed over the K outputs; the gradient ``dscores = scale * (mu - targets)``, as
    scikit-learn's ``deltas[last] = activations[-1] - y``.
    """
    mu = exp_link(xp, scores)  # (K, B)
    loss_sum = None
    if need_loss:
        # t log(t / mu) = t (log t - z), written so that t = 0 takes no log of 0
        positive = xp.where(targets > 0, targets, xp.ones_like(targets))
        per = targets * (xp.log(positive) - scores) - targets + mu  # (K, B)
        loss_sum = _summed(xp, per, weights)
    if not need_grad:
        return loss_sum, None
    mu -= targets
    mu *= scale
    return loss_sum, mu


#: the output layers by name, each with its loss (the signature of :func:`softmax_xent`)
OUTPUT_LOSSES: dict[str, Callable[..., tuple[Any, Any]]] = {
    "softmax": softmax_xent,
    "logistic": logistic_xent,
    "squared": squared_error,
    "poisson": poisson_deviance,
}

#: scikit-learn's ``out_activation_`` of each output layer
OUT_ACTIVATIONS = {
    "softmax": "softmax",
    "logistic": "logistic",
    "squared": "identity",
    "poisson": "exp",
}
#: the output layers of regressors (real targets, no classes)
REGRESSION_OUTPUTS = ("squared", "poisson")


def output_loss(name: str) -> Callable[..., tuple[Any, Any]]:
    """The loss function of the output layer ``name``; ValueError naming them."""
    try:
        return OUTPUT_LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"output must be one of {', '.join(map(repr, OUTPUT_LOSSES))}, got {name!r}"
        ) from None


def output(xp: ModuleType, name: str, scores: Any, axis: int = 1) -> Any:
    """The output layer ``name`` alone on scores: softmax over ``axis``, the logistic
    sigmoid of each score, the exp of each score (Poisson), or the scores themselves
    (identity). A new array for softmax, logistic and exp; the scores themselves for
    identity."""
    if name == "softmax":
        return softmax(xp, scores, axis)
    if name == "logistic":
        return sigmoid(xp, scores)
    if name == "poisson":
        return exp_link(xp, scores)
    output_loss(name)  # raises for an unknown name
    return scores


def l2_penalty(xp: ModuleType, weights: Sequence[Any], reg: float) -> Any:
    """``0.5 * reg * sum ||W||^2`` over the given weights (biases are not passed in), 0-d."""
    total = xp.sum(weights[0] * weights[0])
    for W in weights[1:]:
        total = total + xp.sum(W * W)
    return (0.5 * reg) * total


def one_hot(xp: ModuleType, y: Any, n_classes: int, dtype: Any) -> Any:
    """(N,) integer labels -> (N, K) one-hot rows, by comparison (no index assignment)."""
    classes = xp.arange(n_classes, dtype=y.dtype, device=device_of(y))  # (K,)
    return xp.astype(xp.expand_dims(y, axis=1) == classes, dtype)  # (N, K)


def softmax_parts(
    xp: ModuleType, scores: Any, axis: int, *, overwrite: bool = False
) -> tuple[Any, Any, Any]:
    """The softmax of ``scores`` along ``axis`` in pieces, stable for any finite scores: the
    scores shifted by their max (exp would overflow for large scores), their exps, and the
    sums of those, ``(shifted <= 0, exp in (0, 1], sum in [1, K])``: the softmax is ``exp /
    sum`` and the log-softmax ``shifted - log(sum)``. ``overwrite``: the shifted scores are
    ``scores`` itself, the caller's own temporary."""
    top = xp.max(scores, axis=axis, keepdims=True)
    if overwrite:
        scores -= top  # in place where writable (rebinds where not)
    else:
        scores = scores - top
    exp = xp.exp(scores)
    return scores, exp, xp.sum(exp, axis=axis, keepdims=True)


def softmax(xp: ModuleType, scores: Any, axis: int = 1) -> Any:
    """Softmax along ``axis`` (rows of (N, K) scores by default), stable for any finite
    scores; a new array."""
    _, exp, total = softmax_parts(xp, scores, axis)
    exp /= total
    return exp


def softmax_cross_entropy(scores: Any, y: Any) -> tuple[Any, Any]:
    """Mean softmax cross-entropy of ``scores`` against labels ``y``, and its gradient.

    Parameters
    ----------
    scores : array, shape (N, K)
        Class scores (logits), real floating, finite; any magnitude (1e4 included).
    y : array of integers, shape (N,)
        Labels in ``[0, K)``, of the same library and device as ``scores``.

    Returns
    -------
    loss : 0-d array
        ``mean(-log softmax(scores)[i, y[i]])``, of ``scores``' dtype and device (call
        ``float(loss)`` for a Python number).
    dscores : array, shape (N, K)
        ``(softmax(scores) - onehot(y)) / N``, the gradient of ``loss`` wrt ``scores``.

    Examples
    --------
    >>> import numpy as np
    >>> import portable_net as pn
    >>> scores = np.zeros((4, 3))  # equal scores: every class has probability 1/3
    >>> loss, dscores = pn.softmax_cross_entropy(scores, np.array([0, 1, 2, 0]))
    >>> round(float(loss), 6)  # ln 3
    1.098612
    >>> dscores[0]  # (1/3 - 1, 1/3, 1/3) / 4
    array([-0.16666667,  0.08333333,  0.08333333])
    """
    xp, _ = namespace_and_device({"scores": scores, "y": y})
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(
            f"scores must be a non-empty 2-D (N, K) array, got shape {tuple(scores.shape)}"
        )
    if not is_floating(xp, scores):
        raise TypeError(f"scores must be real floating, got dtype {scores.dtype}")
    if not bool(xp.all(xp.isfinite(scores))):
        raise ValueError("scores hold NaN or infinite values")
    check_labels(xp, y, scores.shape[0], scores.shape[1])
    n, k = scores.shape
    # the training step's formula, in its (classes, examples) layout, on a copy it may overwrite
    loss_sum, dscores = softmax_xent(
        xp,
        xp.asarray(scores.T, copy=True),
        one_hot(xp, y, k, scores.dtype).T,
        1.0 / n,
        need_loss=True,
    )
    return loss_sum / n, dscores.T
