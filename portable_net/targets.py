"""What the training loop takes besides labels: real targets (logistic and identity outputs)
and sample weights, checked before any work (errors name the argument and what was
expected); and R^2, the score of real targets."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ._backend import namespace_and_device
from ._validation import is_floating

__all__ = ["check_sample_weight", "check_targets", "r2"]


def check_targets(xp: ModuleType, X: Any, y: Any, k: int) -> Any:
    """Real targets of ``"logistic"`` and ``"squared"`` outputs: (N,) for one output or
    (N, K), real floating, finite, of X's library and device -> (N, K) in X's dtype."""
    if not hasattr(y, "shape") or not hasattr(y, "dtype"):
        raise TypeError(f"y must be an array of targets, not {type(y).__name__}")
    n, dtype = int(X.shape[0]), X.dtype
    shape = tuple(y.shape)
    if shape not in ((n, k), (n,) if k == 1 else (n, k)):
        raise ValueError(f"y must have shape ({n}, {k})" + (f" or ({n},)" if k == 1 else "")
                         + f" (the examples, the outputs), got {shape}")  # fmt: skip
    namespace_and_device({"X": X, "y": y})  # raises for another library or device
    if not is_floating(xp, y):
        raise TypeError(f"y must be real floating targets, got dtype {y.dtype}")
    y = xp.astype(y, dtype, copy=False)
    if not bool(xp.all(xp.isfinite(y))):
        raise ValueError("y holds NaN or infinite values")
    return xp.reshape(y, (n, k))


def check_sample_weight(xp: ModuleType, X: Any, w: Any) -> Any:
    """Sample weights: real floating (N,), finite, non-negative, a positive sum, of X's
    library and device -> (N,) in X's dtype."""
    if not hasattr(w, "shape") or not hasattr(w, "dtype"):
        raise TypeError(f"sample_weight must be an array, not {type(w).__name__}")
    n, dtype = int(X.shape[0]), X.dtype
    if tuple(w.shape) != (n,):
        raise ValueError(f"sample_weight must have shape ({n},) (one per example), "
                         f"got {tuple(w.shape)}")  # fmt: skip
    namespace_and_device({"X": X, "sample_weight": w})  # raises for another library or device
    if not is_floating(xp, w):
        raise TypeError(f"sample_weight must be real floating, got dtype {w.dtype}")
    w = xp.astype(w, dtype, copy=False)
    if not bool(xp.all(xp.isfinite(w))) or bool(xp.any(w < 0)):
        raise ValueError("sample_weight must be finite and non-negative")
    if not float(xp.sum(w)) > 0:
        raise ValueError("sample_weight must have a positive sum")
    return w


def check_weight_values(w: np.ndarray) -> np.ndarray:
    """Sample weights on the host (float64 NumPy, one per row): finite, non-negative and not
    all zero, refused with scikit-learn's messages otherwise."""
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    if not np.sum(w) > 0:
        raise ValueError("Sample weights must contain at least one non-zero number")
    return w


def r2(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None) -> float:
    """scikit-learn's ``r2_score`` (uniform average over outputs; a constant y scores 1.0
    when predicted exactly, else 0.0), on the host."""
    y, pred = y.reshape(y.shape[0], -1), pred.reshape(pred.shape[0], -1)
    weights = np.ones(y.shape[0]) if w is None else w
    weights = weights[:, None]
    num = np.sum(weights * (y - pred) ** 2, axis=0)
    mean = np.sum(weights * y, axis=0) / np.sum(weights)
    den = np.sum(weights * (y - mean) ** 2, axis=0)
    scores = np.ones(y.shape[1])
    nonzero = den != 0
    scores[nonzero] = 1.0 - num[nonzero] / den[nonzero]
    scores[~nonzero & (num != 0)] = 0.0
    return float(np.mean(scores))
