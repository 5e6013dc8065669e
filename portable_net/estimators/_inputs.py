"""The scikit-learn input checks of :class:`portable_net.Classifier`: X as a 2-D floating array
of its library (``check_array``), y as labels (``check_classification_targets``), feature
names, and the labels' encoding as indices ``0..K-1``.

The functions take the estimator, whose fitted attributes (``n_features_in_``,
``feature_names_in_``, the labels) they read, and on ``reset`` set.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, cast

import array_api_compat
import numpy as np

from .._backend import (
    array_namespace,
    check_holds_data,
    device_label,
    float_dtype,
    from_host,
    int_dtype,
    library_name,
    to_host,
)
from ..engines import is_lazy, is_sparse, lazy_classifier_inputs, sparse_inputs, summarised
from ..errors import DataConversionWarning, warning_category

__all__ = [
    "HostLabels",
    "check_finite_X",
    "classes_array",
    "encode",
    "host_labels",
    "lazy_fit_inputs",
    "validate_X",
]


class HostLabels:
    """The labels as a NumPy array on the host (for encoding y and saving), kept in a box:
    scikit-learn's array API checks require every fitted NumPy attribute to follow X's
    library, and these are bookkeeping, not a fitted result."""

    def __init__(self, values: np.ndarray):
        self.values = values


def _sum_finite(xp: Any, X: Any) -> Any:
    """Whether X's sum is finite (0-d): then every value is (a NaN or an infinity makes the
    sum one); one pass without a boolean array of X's size (scikit-learn's first test)."""
    return xp.isfinite(xp.sum(X))


def _all_finite(xp: Any, X: Any) -> Any:
    """Whether every value of X is finite (0-d): one pass, where it costs least
    (:func:`portable_net.engines.summarised`)."""
    return xp.all(xp.isfinite(X))


def _feature_names(X: Any) -> np.ndarray | None:
    """Column names of a DataFrame when all are strings (scikit-learn's rule)."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "shape") or isinstance(X, np.ndarray):
        return None
    names = np.asarray(list(columns), dtype=object)
    kinds = {isinstance(n, str) for n in names}
    if kinds == {True}:
        return names
    if len(kinds) > 1:
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {sorted({type(n).__name__ for n in names})} as feature name "
            "/ column name types. Convert the names to strings (X.columns = "
            "X.columns.astype(str))."
        )
    return None


def validate_X(estimator: Any, X: Any, *, reset: bool, method: str,
               values: bool = True) -> tuple[Any, Any, Any]:  # fmt: skip
    """X as a 2-D floating array of its library (array-likes: NumPy), checked as
    scikit-learn's ``check_array``; returns (X, xp, device).

    ``reset``: record X's number of features and feature names on the estimator (fit);
    otherwise check X against them and against the fitted arrays' library and device.
    ``values`` False: no pass over X's values; the caller checks them with
    :func:`check_finite_X` before any work (``fit``, which first decides its threads from
    the shapes)."""
    name = type(estimator).__name__
    if X is None:
        raise ValueError(f"{name}.{method}(): X must be an array, got None")
    if is_sparse(X):  # sparse matrices of scipy or torch (engines.sparse): never densified
        X = sparse_inputs(X, name)
        device = X.device
        _record_or_check(estimator, X, X.values, device, None, reset=reset, method=method)
        return X, array_namespace(X), device
    names = _feature_names(X)
    if not array_api_compat.is_array_api_obj(X) or isinstance(X, (int, float, complex)):
        try:
            X = np.asarray(X)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"X could not be made into an array: {exc}") from None
    if isinstance(X, np.ndarray) and X.dtype.kind in "OUS":  # object/strings -> float
        try:
            X = X.astype(np.float64)
        except (ValueError, TypeError) as exc:  # the same type, a clearer message
            raise type(exc)(f"X must hold numbers; converting it to float failed: {exc}") from None
    check_holds_data("X", X)  # a torch tensor on the meta device, or sparse
    xp = array_namespace(X)
    device = array_api_compat.device(X)
    if X.ndim == 0:
        raise ValueError(
            f"Expected 2D array, got scalar array instead:\narray={X!r}.\n"
            "Reshape your data: X must be 2-D (n_samples, n_features)."
        )
    if X.ndim == 1:
        raise ValueError(
            "Expected 2D array, got 1D array instead. Reshape your data either using "
            "array.reshape(-1, 1) if your data has a single feature or "
            "array.reshape(1, -1) if it contains a single sample."
        )
    if X.ndim > 2:
        raise ValueError(f"Found array with dim {X.ndim}. {name} expected <= 2.")
    if xp.isdtype(X.dtype, "complex floating"):
        raise ValueError("Complex data not supported: X has a complex dtype")
    if X.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a minimum of 1 "
            f"is required by {name}."
        )
    if X.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={tuple(X.shape)}) while a minimum of 1 "
            f"is required by {name}."
        )
    if not xp.isdtype(X.dtype, "real floating") or str(X.dtype).endswith("float16"):
        X = xp.astype(X, float_dtype(xp, device))  # integers, booleans: the default float
    if values:
        check_finite_X(xp, X)
    _record_or_check(estimator, X, X, device, names, reset=reset, method=method)
    return X, xp, device


def check_finite_X(xp: Any, X: Any) -> None:
    """scikit-learn's ValueError for a dense X that holds NaN or infinite values."""
    # the sum first (finite values may still overflow it: then each value, to be sure);
    # NumPy's warnings of an overflowing or undefined (inf - inf) sum are not the caller's
    with np.errstate(over="ignore", invalid="ignore"):
        if bool(summarised(xp, _sum_finite)(xp, X)):
            return
    if not bool(summarised(xp, _all_finite)(xp, X)):
        what = "NaN" if bool(xp.any(xp.isnan(X))) else "infinity or a value too large"
        raise ValueError(f"Input X contains {what}.")


def _record_or_check(estimator: Any, X: Any, values: Any, device: Any,
                     names: np.ndarray | None, *, reset: bool, method: str) -> None:  # fmt: skip
    """``reset``: record X's number of features and feature names on the estimator (fit);
    otherwise check X against them, and ``values`` (X's, or a sparse X's stored values)
    against the fitted arrays' library and device."""
    if reset:
        estimator.n_features_in_ = int(X.shape[1])
        if names is not None:
            estimator.feature_names_in_ = names
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return
    _check_fitted_on(estimator, values, device, method)
    _check_feature_names(estimator, names)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )


def _check_fitted_on(estimator: Any, X: Any, device: Any, method: str) -> None:
    W = estimator.coefs_[0]
    if isinstance(W, np.ndarray) and is_lazy(X):  # a model fitted on Dask arrays has NumPy's
        return
    if library_name(X) != library_name(W) or array_api_compat.device(W) != device:
        raise ValueError(
            f"Inputs passed to {type(estimator).__name__}.{method}() must use the same "
            "namespace and the same device as those passed to fit(): X is a "
            f"{library_name(X)} array on {device_label(device)}, the model was fitted on "
            f"{library_name(W)} arrays on {device_label(array_api_compat.device(W))} "
            "(array-likes such as lists and DataFrames count as NumPy arrays)"
        )


def _check_feature_names(estimator: Any, names: np.ndarray | None) -> None:
    # stacklevel 4: the user's call of predict (predict -> validate_X -> here)
    fitted = getattr(estimator, "feature_names_in_", None)
    name = type(estimator).__name__
    if fitted is None:
        if names is not None:
            warnings.warn(
                f"X has feature names, but {name} was fitted without feature names",
                UserWarning,
                stacklevel=4,
            )
        return
    if names is None:
        warnings.warn(
            f"X does not have valid feature names, but {name} was fitted with feature names",
            UserWarning,
            stacklevel=4,
        )
        return
    if len(names) != len(fitted) or np.any(names != fitted):
        raise ValueError(
            "The feature names should match those that were passed during fit.\n"
            f"Fitted with: {list(fitted)}\nGot: {list(names)}"
        )


def host_labels(estimator: Any, y: Any, n_rows: int) -> np.ndarray:
    """y as a 1-D NumPy array of labels, checked as scikit-learn checks a target."""
    name = type(estimator).__name__
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None.")
    if is_sparse(y):
        raise TypeError(f"{name} does not accept a sparse y; pass a dense 1-D array")
    if array_api_compat.is_array_api_obj(y):
        check_holds_data("y", y)
    y = to_host(y) if array_api_compat.is_array_api_obj(y) else np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change "
            "the shape of y to (n_samples, ), for example using ravel().",
            warning_category(DataConversionWarning),
            stacklevel=4,  # the user's call: Classifier.fit -> fit -> here
        )
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"y must be 1-D (n_samples,), got shape {y.shape}: {name} does not support "
            "multilabel or multi-output targets"
        )
    if y.shape[0] != n_rows:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: [{n_rows}, {y.shape[0]}]"
        )
    if y.dtype.kind == "c":
        raise ValueError("Complex data not supported: y has a complex dtype")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            what = "NaN" if np.any(np.isnan(y)) else "infinity or a value too large"
            raise ValueError(f"Input y contains {what}.")
        if np.any(y != np.round(y)):
            raise ValueError(
                "Unknown label type: continuous. Maybe you are trying to fit a "
                "classifier, which expects discrete classes on a regression target with "
                "continuous values."
            )
    if y.dtype.kind == "O":
        kinds = {type(v) for v in y.tolist()}
        if any(v is None for v in y.tolist()):
            raise ValueError("Input y contains None (missing labels are not supported).")
        if len({k for k in kinds if not issubclass(k, numbers.Number)}) > 1 or (
            any(issubclass(k, str) for k in kinds)
            and any(issubclass(k, numbers.Number) for k in kinds)
        ):
            raise ValueError(
                "Unknown label type: y mixes labels of different types "
                f"({sorted(k.__name__ for k in kinds)}); use labels of one type"
            )
        y = _label_values(y)  # strings as <U, as MLPClassifier's classes_ and predictions
    return cast(np.ndarray, y)


def encode(
    estimator: Any, y: np.ndarray, classes: Any, first: bool, incremental: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(the sorted labels, y as indices into them) on the host.

    ``first``: the labels are learnt from y (or ``classes``); otherwise y's labels must be
    among the fitted ones (``partial_fit``) or the same (``fit`` with ``warm_start``)."""
    fitted = estimator.__sklearn_is_fitted__()
    if incremental and classes is not None:
        given = _label_values(
            np.unique(to_host(classes) if array_api_compat.is_array_api_obj(classes)
                      else np.asarray(classes))
        )  # fmt: skip
        if fitted and not np.array_equal(given, estimator._labels.values):
            raise ValueError(  # scikit-learn's message: the arguments' reprs
                f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                f"was: {estimator._labels.values!r}"
            )
    else:
        given = None
    try:
        seen = np.unique(y)
    except TypeError as exc:
        raise ValueError(f"Unknown label type: labels that cannot be sorted ({exc})") from None
    labels = given if given is not None else (seen if first else estimator._labels.values)
    # MLPClassifier's rules (and messages, the labels printed as NumPy prints them): a warm
    # start, by fit or partial_fit, keeps the same classes; partial_fit takes any of them
    if not first and estimator.warm_start and not np.array_equal(seen, labels):
        raise ValueError(
            "warm_start can only be used where `y` has the same classes as in the "
            f"previous call to fit. Previously got {labels}, `y` has {seen}"
        )
    if np.setdiff1d(seen, labels).size:
        raise ValueError(
            f"`y` has classes not in `self.classes_`. `self.classes_` has {labels}. 'y' has {seen}."
        )
    return labels, np.searchsorted(labels, y)


def _label_values(labels: np.ndarray) -> np.ndarray:
    """Labels of an object array as the array of their own type (strings: ``<U``), as
    scikit-learn's ``unique_labels`` makes ``classes_``."""
    return np.asarray(labels.tolist()) if labels.dtype.kind == "O" else labels


def classes_array(labels: np.ndarray, xp: Any, device: Any) -> Any:
    """``classes_``: numeric and boolean labels in X's library and device; strings stay
    NumPy."""
    if labels.dtype.kind in "biuf" and not array_api_compat.is_numpy_namespace(xp):
        dtype = getattr(xp, labels.dtype.name, None)
        if labels.dtype.kind in "iu":
            dtype = int_dtype(xp, device)
        elif labels.dtype.kind == "f":
            dtype = float_dtype(xp, device)
        return from_host(xp, labels, dtype, device)
    return labels.copy()


def lazy_fit_inputs(estimator: Any, X: Any, y: Any, first: bool) -> tuple[Any, Any, np.ndarray]:
    """(X, y as indices, the sorted labels) of lazy, chunked inputs (Dask), checked by their
    engine (:func:`portable_net.engines.lazy_classifier_inputs`) in one pass over y."""
    if estimator.early_stopping:
        raise NotImplementedError("early_stopping is not available for Dask arrays")
    X, y_index, labels = lazy_classifier_inputs(X, y)
    if first:
        estimator.n_features_in_ = int(X.shape[1])
    elif X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return X, y_index, np.asarray(labels)
