"""The estimators' targets, output layers, sample weights and scores, as MLPClassifier's and
MLPRegressor's.

- multiclass labels (K > 2 classes): softmax outputs, the indices ``0..K-1`` as targets;
- two classes: ONE logistic output, the index (0 or 1) as a real target (one class, as
  MLPClassifier fits it: the same output, every target 0, ``predict`` that class);
- a multilabel indicator matrix (N, K) of 0 and 1: K logistic outputs;
- regression (the :class:`portable_net.Regressor`): identity outputs, the real targets; with
  ``loss="poisson"``, exp outputs (the log link), targets >= 0 with a positive sum.

``sample_weight`` is checked as scikit-learn's ``_check_sample_weight`` checks it (None, a
number or one weight per row), and also refused when negative, not finite or all zero: the
loss is the weighted mean ``sum(w l) / sum(w)``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import array_api_compat
import numpy as np

from .._backend import check_holds_data, from_host, int_dtype, to_host
from ..engines import is_lazy
from ..errors import DataConversionWarning, warning_category
from ..loss import OUT_ACTIVATIONS, REGRESSION_OUTPUTS
from ..targets import check_weight_values, r2
from ._inputs import HostLabels, classes_array, encode, host_labels

__all__ = [
    "classifier_targets",
    "fit_sample_weight",
    "label_indicator",
    "lazy_sample_weight",
    "multilabel_indicator",
    "set_output",
    "regressor_targets",
    "regressor_values",
    "validation_score",
]


def _host(y: Any) -> np.ndarray:
    """Any array or array-like as NumPy (lists, DataFrames, device arrays)."""
    if array_api_compat.is_array_api_obj(y):
        check_holds_data("y", y)
        return to_host(y)
    return np.asarray(y)


def multilabel_indicator(y: Any) -> np.ndarray | None:
    """y as a NumPy indicator matrix (N, K), K > 1, when it is 2-D with more than one
    column; else None (labels). Values other than 0 and 1 are refused, as scikit-learn
    refuses multiclass-multioutput targets."""
    if y is None or not (hasattr(y, "shape") or isinstance(y, (list, tuple))):
        return None
    try:
        host = _host(y)
    except (TypeError, ValueError):
        return None
    if host.ndim != 2 or host.shape[1] < 2:
        return None
    if host.dtype.kind not in "biuf" or not np.all(np.isin(host, (0, 1))):
        raise ValueError(
            "Unknown label type: a 2-D y must be a multilabel indicator matrix of 0 and 1 "
            "(multiclass-multioutput targets are not supported)"
        )
    return host


def classifier_targets(
    est: Any, X: Any, y: Any, xp: Any, device: Any, *, first: bool, incremental: bool,
    classes: Any,
) -> tuple[Any, np.ndarray | None]:  # fmt: skip
    """(the training loop's y, host labels to stratify by or None) of the Classifier's y;
    on a first fit the labels, ``classes_``, the output layer (``_output``,
    ``out_activation_``, ``n_outputs_``) are learnt, as MLPClassifier's ``_initialize``."""
    n = int(X.shape[0])
    indicator = multilabel_indicator(y)
    if indicator is not None:
        if indicator.shape[0] != n:
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{n}, {indicator.shape[0]}]"
            )
        k = int(indicator.shape[1])
        if first:
            labels = np.arange(k)
            est.classes_ = classes_array(labels, xp, device)
            est._labels = HostLabels(labels)
            set_output(est, "logistic", k, multilabel=True)
        elif not est._multilabel or est.n_outputs_ != k:
            raise ValueError(
                f"y is a multilabel indicator of {k} labels, but {type(est).__name__} was "
                f"fitted on {'multilabel' if est._multilabel else 'class'} targets with "
                f"{est.n_outputs_} outputs"
            )
        return from_host(xp, indicator.astype(np.float64), X.dtype, device), None
    if not first and est._multilabel:
        raise ValueError(
            f"{type(est).__name__} was fitted on a multilabel indicator; y must be one too"
        )
    y_host = host_labels(est, y, n)
    labels, index = encode(est, y_host, classes, first, incremental)
    if first:
        est.classes_ = classes_array(labels, xp, device)
        est._labels = HostLabels(labels)  # the host copy, for encoding later calls
        # one class (MLPClassifier fits it too): one logistic output, every target 0
        binary = labels.shape[0] <= 2
        set_output(est, "logistic" if binary else "softmax", 1 if binary else int(labels.shape[0]))
    if est._output == "logistic":  # two classes: the index as the one output's target
        # held-out rows stratified as MLPClassifier's: by the binarised label, as text
        strata = np.where(index == 1, "True", "False")
        return from_host(xp, index[:, None].astype(np.float64), X.dtype, device), strata
    return from_host(xp, index, int_dtype(xp, device), device), None


def set_output(est: Any, output: str, n_outputs: int, *, multilabel: bool = False) -> None:
    est._output = output
    est._multilabel = multilabel
    est.n_outputs_ = n_outputs
    est.out_activation_ = OUT_ACTIVATIONS[output]


def regressor_targets(est: Any, X: Any, y: Any, xp: Any, device: Any, *, first: bool,
                      fitting: bool = False) -> Any:  # fmt: skip
    """The Regressor's y (N,) or (N, K), real and finite, as the training loop's targets in
    X's dtype and device; on a first fit ``n_outputs_`` and the output layer (identity, or
    exp for ``loss="poisson"``) are set. ``fitting`` a Poisson regressor: y must be >= 0
    with a positive sum (scikit-learn's Poisson check)."""
    name = type(est).__name__
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None.")
    host = _host(y)
    if host.dtype.kind == "O" or host.dtype.kind in "USc":
        try:
            host = host.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError("y must hold real numbers (regression targets)") from None
    if host.ndim == 2 and host.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change "
            "the shape of y to (n_samples, ), for example using ravel().",
            warning_category(DataConversionWarning),
            stacklevel=5,  # the user's call: Regressor.fit -> fit -> _fit_targets -> here
        )
        host = host[:, 0]
    if host.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D (n_samples, n_outputs), got shape {host.shape}")
    n = int(X.shape[0])
    if host.shape[0] != n:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: [{n}, {host.shape[0]}]"
        )
    host = host.astype(np.float64)
    if not np.all(np.isfinite(host)):
        what = "NaN" if np.any(np.isnan(host)) else "infinity or a value too large"
        raise ValueError(f"Input y contains {what}.")
    k = 1 if host.ndim == 1 else int(host.shape[1])
    if first:
        set_output(est, "poisson" if est.loss == "poisson" else "squared", k)
    elif est.n_outputs_ != k:
        raise ValueError(f"y has {k} outputs, but {name} was fitted with {est.n_outputs_}")
    if fitting and est._output == "poisson":
        if np.any(host < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for Poisson regression."
            )
        if np.sum(host) <= 0:
            raise ValueError(
                "Sum of y is not strictly positive which is necessary for Poisson regression."
            )
    return from_host(xp, host.reshape(n, k), X.dtype, device)


def fit_sample_weight(sample_weight: Any, X: Any, xp: Any, device: Any) -> Any:
    """``sample_weight`` as scikit-learn's ``_check_sample_weight`` takes it (None, a
    number, or one weight per row), in X's dtype and device; or None. Negative, NaN or
    infinite weights, and weights that are all zero, are refused (ValueError)."""
    if sample_weight is None:
        return None
    n = int(X.shape[0])
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        w = np.full(n, float(sample_weight))  # type: ignore[arg-type]
    else:
        w = _host(sample_weight)
        if w.dtype.kind not in "biuf":
            raise ValueError(f"sample_weight must hold real numbers, got dtype {w.dtype}")
        w = w.astype(np.float64)
        if w.ndim != 1:
            raise ValueError(f"Sample weights must be 1D array or scalar, got shape {w.shape}")
        if w.shape != (n,):
            raise ValueError(f"sample_weight.shape == {w.shape}, expected {(n,)}!")
    return from_host(xp, check_weight_values(w), X.dtype, device)


def lazy_sample_weight(sample_weight: Any, n: int) -> Any:
    """``sample_weight`` for chunked lazy X: None, a Dask array as it is, a number for every
    row, or an array-like as NumPy floats (checked by the engine, before its work)."""
    if sample_weight is None or is_lazy(sample_weight):
        return sample_weight
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        return np.full(n, float(sample_weight))  # type: ignore[arg-type]
    return np.asarray(_host(sample_weight), dtype=np.float64)


def label_indicator(xp: Any, out: Any, dtype: Any) -> Any:
    """A multilabel ``predict``: 1 where a label's logistic output is above 0.5, else 0
    (N, K), of the integer ``dtype``."""
    return xp.astype(out > 0.5, dtype)


def regressor_values(out: Any, n_outputs: int) -> Any:
    """A regressor's ``predict`` from its ``n_outputs`` outputs (N, K): 1-D for one output,
    as MLPRegressor's."""
    return out[:, 0] if n_outputs == 1 else out


def validation_score(output: str, out: Any, y_fit: Any, w: Any) -> float:
    """The held-out score of the training loop's targets ``y_fit`` for the outputs ``out``
    (N, K): the (weighted) accuracy of classes or label sets, or R^2 for regression."""
    out_h, y_h = to_host(out), to_host(y_fit)
    w_h = None if w is None else to_host(w)
    if output in REGRESSION_OUTPUTS:
        if not np.all(np.isfinite(out_h)):  # a diverged fit's: MLPRegressor's NaN score
            return math.nan
        return r2(y_h, out_h, w_h)
    if output == "softmax":
        hits = np.argmax(out_h, axis=1) == y_h
    else:  # logistic: each output's label set, matched exactly
        hits = np.all((out_h > 0.5) == (y_h.reshape(out_h.shape) > 0.5), axis=1)
    return float(np.average(hits, weights=w_h))
