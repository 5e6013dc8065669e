"""Softmax cross-entropy, numerically stable, with its gradient; the L2 penalty."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ._backend import device_of, namespace_and_device
from ._validation import check_labels, is_floating

__all__ = ["softmax_cross_entropy"]


def one_hot(xp: ModuleType, y: Any, n_classes: int, dtype: Any) -> Any:
    """(N,) integer labels -> (N, K) one-hot rows, by comparison (no index assignment)."""
    classes = xp.arange(n_classes, dtype=y.dtype, device=device_of(y))  # (K,)
    return xp.astype(xp.expand_dims(y, axis=1) == classes, dtype)  # (N, K)


def softmax_xent(xp: ModuleType, scores: Any, onehot: Any, n_total: int | None = None):
    """Mean cross-entropy of softmax(scores) and its gradient wrt the scores.

    scores (N, K), onehot (N, K) -> loss 0-d, dscores (N, K).
    ``n_total`` divides instead of N when the rows are one block of a larger batch.
    """
    n = scores.shape[0] if n_total is None else n_total
    # subtract the row max: exp would overflow for large scores, and log-softmax stays exact
    shifted = scores - xp.max(scores, axis=1, keepdims=True)  # (N, K), <= 0
    exp = xp.exp(shifted)  # (N, K), in (0, 1]
    sumexp = xp.sum(exp, axis=1, keepdims=True)  # (N, 1), in [1, K]
    # -log p[y] = log(sum exp) - shifted[y]
    loss = (xp.sum(xp.log(sumexp)) - xp.sum(onehot * shifted)) / n  # ()
    # d loss / d scores = (p - onehot) / N
    dscores = (exp / sumexp - onehot) / n  # (N, K)
    return loss, dscores


def softmax(xp: ModuleType, scores: Any) -> Any:
    """Row-wise softmax, stable for any finite scores. (N, K) -> (N, K)."""
    exp = xp.exp(scores - xp.max(scores, axis=1, keepdims=True))
    return exp / xp.sum(exp, axis=1, keepdims=True)


def l2_penalty(xp: ModuleType, weights: list[Any], reg: float) -> Any:
    """0.5 * reg * sum ||W||^2 over the weight matrices (biases are not regularised)."""
    total = xp.sum(weights[0] * weights[0])
    for W in weights[1:]:
        total = total + xp.sum(W * W)
    return (0.5 * reg) * total


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
    return softmax_xent(xp, scores, one_hot(xp, y, scores.shape[1], scores.dtype))
