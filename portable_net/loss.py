"""The loss: softmax cross-entropy (one formula, with its gradient) and the L2 penalty.

The training step works in the (classes, examples) layout of :mod:`portable_net.layers`:
scores are (K, B), one column per example. :func:`softmax_xent` is the formula every caller
uses: the training step, the forward-only loss, each chunk of a distributed array, and the
public :func:`softmax_cross_entropy` (on the transpose of its (N, K) scores).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from ._backend import device_of, namespace_and_device
from ._validation import check_labels, is_floating

__all__ = ["softmax_cross_entropy"]


def softmax_xent(
    xp: ModuleType,
    scores: Any,
    onehot: Any,
    scale: float,
    *,
    need_loss: bool,
    need_grad: bool = True,
    weights: Any = None,
) -> tuple[Any, Any]:
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
    # subtract the column max: exp would overflow for large scores
    scores -= xp.max(scores, axis=0, keepdims=True)  # (K, B), <= 0
    exp = xp.exp(scores)  # (K, B), in (0, 1]
    sumexp = xp.sum(exp, axis=0, keepdims=True)  # (1, B), in [1, K]
    loss_sum = None
    if need_loss:
        # -log p[y] = log(sum exp) - shifted[y]
        log_sumexp = xp.log(sumexp) if weights is None else xp.log(sumexp) * weights
        loss_sum = xp.sum(log_sumexp) - xp.sum(onehot * scores)
    if not need_grad:
        return loss_sum, None
    # d loss / d scores = (p - onehot) / N
    exp /= sumexp
    exp -= onehot
    exp *= scale
    return loss_sum, exp


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


def softmax(xp: ModuleType, scores: Any) -> Any:
    """Row-wise softmax, stable for any finite scores. (N, K) -> (N, K)."""
    exp = xp.exp(scores - xp.max(scores, axis=1, keepdims=True))
    return exp / xp.sum(exp, axis=1, keepdims=True)


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
