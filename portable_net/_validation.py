"""Argument checks shared by the public functions: clear errors, raised before any work."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import array_api_compat

from ._backend import dtype_name


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, not {value!r}")
    number = float(value)
    # an infinite end is never inside: the number must be finite
    lo = "(" if low_open or low is None else "["
    hi = ")" if high_open or high is None else "]"
    interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    bad = not math.isfinite(number)
    if low is not None:
        bad |= number <= low if low_open else number < low
    if high is not None:
        bad |= number >= high if high_open else number > high
    if bad:
        raise ValueError(f"{name} must be finite and in {interval}, got {number}")
    return number


#: the floating dtypes the library computes in, everywhere (arguments, save, load, Dask)
FLOAT_DTYPES = ("float32", "float64")


def check_float_dtype(name: str, dtype: Any) -> None:
    """The one dtype rule: float32 or float64; float16, bfloat16, complex, integers refused.

    Every check of a floating argument (data, parameters, saved weights, Dask chunks) calls
    this function, so that they all refuse the same dtypes with the same message.
    """
    if dtype_name(dtype) not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must hold real floating values (float32 or float64), got dtype "
            f"{dtype_name(dtype)}; data and parameters must be floating, in one of these two "
            "dtypes (convert with astype)"
        )


def is_floating(xp: ModuleType, x: Any) -> bool:
    """Whether x holds real floating values of any precision (see :func:`check_float_dtype`
    for the dtypes the library accepts)."""
    return bool(xp.isdtype(x.dtype, "real floating"))


def check_plain_arrays(arrays: Mapping[str, Any]) -> None:
    """Refuse NumPy subclasses (numpy.ma.MaskedArray, numpy.matrix, ...) among the named
    arrays: their operators do not follow the array API (a mask is silently dropped or
    broadcast, a matrix stays 2-D). numpy.memmap is accepted: an ndarray whose memory is a
    file, with ndarray's operators."""
    import numpy as np

    for name, x in arrays.items():
        if isinstance(x, np.ndarray) and type(x) not in (np.ndarray, np.memmap):
            kind = f"{type(x).__module__}.{type(x).__qualname__}"
            hint = (
                " (fill or drop the masked entries first, e.g. X.filled(...) or X.compressed())"
                if isinstance(x, np.ma.MaskedArray)
                else ""
            )
            raise TypeError(
                f"{name} is a {kind}, a subclass of numpy.ndarray; pass a plain numpy.ndarray "
                f"(numpy.asarray({name}) drops the subclass){hint}"
            )


def check_features(xp: ModuleType, X: Any, name: str = "X", *, finite: Any = True) -> None:
    """X must be a non-empty 2-D floating array of finite values.

    ``finite``: True checks the values here; False checks only the shape and dtype (the
    caller checks the values, see :func:`value_summary`); else whether all of X is finite
    (a 0-d array or bool computed already)."""
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(X.shape)}")
    check_float_dtype(name, X.dtype)
    if finite is False:
        return
    if finite is True:
        finite = xp.all(xp.isfinite(X))
    if not bool(finite):
        raise ValueError(f"{name} holds NaN or infinite values")


def check_labels(
    xp: ModuleType, y: Any, n_rows: int, n_classes: int, name: str = "y", *, bounds: Any = True
) -> None:
    """y must be 1-D integer labels in [0, n_classes), one per row of X.

    ``bounds``: True checks the values here, False only the shape and dtype, else
    ``(min(y), max(y))`` computed already."""
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,), got shape {tuple(y.shape)}")
    if not xp.isdtype(y.dtype, "integral"):
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.shape[0] != n_rows:
        raise ValueError(f"{name} has {y.shape[0]} labels but X has {n_rows} rows; they must match")
    if bounds is False:
        return
    lo, hi = (xp.min(y), xp.max(y)) if bounds is True else bounds
    lo, hi = int(lo), int(hi)
    if lo < 0 or hi >= n_classes:
        raise ValueError(
            f"{name} must hold labels in [0, {n_classes}) for a model with {n_classes} "
            f"classes, got labels from {lo} to {hi}"
        )


def check_params(params: Any) -> int:
    """params must be a dict W1, b1, ..., WL, bL of chained shapes; returns L."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of arrays W1, b1, ..., not {type(params).__name__}")
    n_layers = len(params) // 2
    expected = {f"{p}{i}" for i in range(1, n_layers + 1) for p in "Wb"}
    if n_layers == 0 or set(params) != expected:
        raise ValueError(
            "params must hold exactly W1, b1, ..., WL, bL for some L >= 1, "
            f"got keys {sorted(map(str, params))}"
        )
    check_plain_arrays({f"params[{key!r}]": arr for key, arr in params.items()})
    fan_in = None
    for i in range(1, n_layers + 1):
        W, b = params[f"W{i}"], params[f"b{i}"]
        for key, arr in ((f"W{i}", W), (f"b{i}", b)):
            if not array_api_compat.is_array_api_obj(arr) or isinstance(arr, (int, float)):
                raise TypeError(f"params[{key!r}] must be an array, not {type(arr).__name__}")
        if W.ndim != 2 or b.ndim != 1 or b.shape[0] != W.shape[1]:
            raise ValueError(
                f"params W{i} must be 2-D (fan_in, fan_out) and b{i} 1-D (fan_out,), "
                f"got W{i} {tuple(W.shape)} and b{i} {tuple(b.shape)}"
            )
        if fan_in is not None and W.shape[0] != fan_in:
            raise ValueError(
                f"params W{i} has {W.shape[0]} rows but layer {i - 1} has {fan_in} outputs "
                f"(W{i - 1} {tuple(params[f'W{i - 1}'].shape)}, W{i} {tuple(W.shape)})"
            )
        fan_in = W.shape[1]
    return n_layers


def layer_sizes(params: Any) -> list[int]:
    """Check params as :func:`check_params` does and return the layer sizes [D, H1, ..., K]."""
    n_layers = check_params(params)
    return [int(params["W1"].shape[0])] + [
        int(params[f"W{i}"].shape[1]) for i in range(1, n_layers + 1)
    ]


def check_feature_count(X: Any, params: Mapping[str, Any]) -> None:
    W1 = params["W1"]
    if X.shape[1] != W1.shape[0]:
        raise ValueError(
            f"X has {X.shape[1]} features (shape {tuple(X.shape)}) but the model expects "
            f"{W1.shape[0]} (W1 has shape {tuple(W1.shape)})"
        )


def check_floating_params(xp: ModuleType, params: Mapping[str, Any]) -> None:
    """Each parameter's dtype refused as :func:`check_float_dtype` refuses it (each distinct
    dtype checked once: the parameters of a model share one)."""
    seen: list[Any] = []
    for key, arr in params.items():
        if arr.dtype not in seen:
            check_float_dtype(f"params[{key!r}]", arr.dtype)
            seen.append(arr.dtype)


def check_finite_params(xp: ModuleType, params: Mapping[str, Any], largest: Any = None) -> None:
    """Refuse parameters holding NaN or infinity, naming them (a model with a NaN weight
    would predict one class for every point).

    One reduction per parameter and one host synchronisation: NaN and infinity propagate
    through ``max(|p|)`` and ``maximum`` (which, unlike a sum, cannot overflow), so the
    largest magnitude is finite unless a parameter holds them; the exact per-parameter check
    runs only then, to name them. ``largest``: that magnitude, computed already.
    """
    total = largest if largest is not None else largest_magnitude(xp, params)
    if total is None or math.isfinite(float(total)):
        return
    bad = [key for key, arr in params.items() if not bool(xp.all(xp.isfinite(arr)))]
    if bad:
        raise ValueError(
            f"params {', '.join(repr(k) for k in bad)} hold NaN or infinite values; "
            "the model is unusable (was training diverging?)"
        )


def largest_magnitude(xp: ModuleType, params: Mapping[str, Any]) -> Any:
    """max |p| over all parameters (0-d; NaN or infinite when one holds them), or None."""
    total = None
    for arr in params.values():
        part = xp.max(xp.abs(arr))  # layer sizes are >= 1: never empty
        total = part if total is None else xp.maximum(total, part)
    return total


def value_summary(
    xp: ModuleType, X: Any, y: Any, params: Mapping[str, Any]
) -> tuple[Any, Any, Any]:
    """What the value checks need, as 0-d arrays: (all of X finite, (min y, max y) or None,
    max |p| over the parameters). Pure: compiled as one program where the library compiles
    (one compilation instead of one per reduction)."""
    bounds = None if y is None else (xp.min(y), xp.max(y))
    return xp.all(xp.isfinite(X)), bounds, largest_magnitude(xp, params)


def array_arguments(params: Mapping[str, Any] | None, **arrays: Any) -> dict[str, Any]:
    """The named arrays of one call, parameters included, for the mixed-library check; the
    ``arrays`` checked by :func:`check_plain_arrays` (the parameters are, by
    :func:`check_params`)."""
    check_plain_arrays(arrays)
    if params is not None:
        arrays.update({f"params[{k!r}]": v for k, v in params.items()})
    return arrays
