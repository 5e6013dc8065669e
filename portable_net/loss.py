"""Softmax cross-entropy, numerically stable, with its gradient; the L2 penalty."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from . import layers
from ._backend import device_of, namespace_and_device
from ._validation import check_labels, is_floating

__all__ = ["softmax_cross_entropy"]


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
    # the training step's softmax, in its (classes, examples) layout, on a copy it may overwrite
    loss_sum, dscores = layers.softmax_xent_backward(
        xp,
        xp.asarray(scores.T, copy=True),
        one_hot(xp, y, k, scores.dtype).T,
        1.0 / n,
        need_loss=True,
    )
    return loss_sum / n, dscores.T
