"""Dask arrays on the estimator's side: a Classifier's inputs checked and its labels
encoded in one pass over y, and predictions chunk by chunk (lazy). The training of chunked
arrays is :mod:`.dask_engine`'s."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._validation import check_feature_count
from .dask_engine import as_dask, is_dask

__all__ = ["classifier_inputs", "count_equal", "predict", "predict_proba"]


def classifier_inputs(X: Any, y: Any) -> tuple[Any, Any, Any]:
    """For :meth:`Classifier.fit`: (X as floating Dask array, labels -> 0..K-1 as a Dask
    array, the sorted distinct labels as a NumPy array), with one pass over y."""
    import dask
    import dask.array as da

    if not is_dask(X):
        y = as_dask(y, "y", None)
        X = as_dask(X, "X", y.chunks[0] if y.ndim == 1 else None)
    y = as_dask(y, "y", X.chunks[0] if X.ndim == 2 else None)
    if X.ndim == 2 and (np.issubdtype(X.dtype, np.integer) or X.dtype == np.bool_):
        X = X.astype(np.float64)  # integer features: the default float
    if y.ndim != 1 or (X.ndim == 2 and y.shape[0] != X.shape[0]):
        raise ValueError(
            f"y must be 1-D with one label per row of X: X has shape {tuple(X.shape)}, "
            f"y has shape {tuple(y.shape)}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    (classes,) = dask.compute(da.unique(y))
    classes = np.asarray(classes)
    if classes.shape[0] < 2:
        raise ValueError(f"y must hold at least 2 classes to learn from, got {classes.shape[0]}")
    if not np.array_equal(classes, np.arange(classes.shape[0])):
        y = y.map_blocks(lambda b: np.searchsorted(classes, b), dtype=np.int64)
    return X, y, classes


def predict_proba(params: Mapping[str, Any], X: Any, proba: Callable[..., Any]) -> Any:
    """Class probabilities of a Dask X, ``proba(params, chunk)`` chunk by chunk (lazy; a Dask
    array (N, K))."""
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}")
    check_feature_count(X, params)
    X = X.rechunk({1: -1}) if X.numblocks[1] != 1 else X
    n_classes = int(params[f"W{len(params) // 2}"].shape[1])
    return X.map_blocks(
        lambda b: proba(params, b), chunks=(X.chunks[0], (n_classes,)), dtype=X.dtype
    )


def predict(
    params: Mapping[str, Any], X: Any, classes: np.ndarray, proba: Callable[..., Any]
) -> Any:
    """The labels (from ``classes``) of a Dask X, chunk by chunk (lazy; a Dask array (N,))."""
    return predict_proba(params, X, proba).map_blocks(
        lambda p: classes[p.argmax(axis=1)], drop_axis=1, dtype=classes.dtype
    )


def count_equal(a: Any, b: Any) -> int:
    """How many elements of the Dask array ``a`` equal ``b``'s, in one pass."""
    import dask

    (hits,) = dask.compute((a == b).sum())
    return int(hits)
