"""Saving and loading a fitted :class:`portable_net.Classifier` or
:class:`portable_net.Regressor`: one ``.npz`` file of :mod:`portable_net.io` (no pickle), the
format every model of the library is saved in: the weights and what the model is (its kind,
activation, output layer, classes with their dtype, feature names) beside the estimator's
settings and fitted attributes as plain data. ``load`` refuses a file of another kind (a
regressor's for the Classifier) and one it could not run exactly (one-hot encoded text
columns), in one line naming the file and what it holds."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, cast

import array_api_compat
import numpy as np

from .. import io
from .._backend import (
    array_namespace,
    backend_name,
    device_label,
    get_namespace,
    resolve_device,
    to_namespace,
)
from .._model_format import OUTPUT_LAYERS
from ._inputs import HostLabels, classes_array
from ._outputs import set_output

__all__ = ["fold_standardization", "load", "save"]


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _numbers(values: list[float] | None) -> list[float | None] | None:
    """A list of floats as plain data: a NaN or infinite one (a diverged epoch's) as None."""
    return None if values is None else [_finite_or_none(v) for v in values]


def _floats(values: list[float | None] | None) -> list[float] | None:
    """:func:`_numbers` read back: None as NaN."""
    return None if values is None else [math.nan if v is None else v for v in values]


def save(estimator: Any, path: Any, **description: Any) -> Any:
    """Write the fitted estimator to ``path``; returns the path written. ``description``:
    what :func:`portable_net.io.save` is told beyond the estimator's own record (the
    preprocessing and CSV dialect of ``portable-net train --data``, its classes' names, its
    metadata), replacing the estimator's where both say it."""
    est = estimator
    settings = est.get_params()
    hidden = settings["hidden_layer_sizes"]
    settings["hidden_layer_sizes"] = (
        [int(hidden)] if isinstance(hidden, numbers.Integral) else [int(h) for h in hidden]
    )
    if not (settings["random_state"] is None or isinstance(settings["random_state"], int)):
        settings["random_state"] = None  # a RandomState object is not plain data
    W = est.coefs_[0]
    multilabel = bool(getattr(est, "_multilabel", False))
    labels = est._labels.values if _is_classifier(est) else None
    names = getattr(est, "feature_names_in_", None)
    fitted = {
        "n_features_in_": est.n_features_in_,
        "loss_": _finite_or_none(getattr(est, "loss_", None)),
        "n_iter_": est.n_iter_,
        "t_": est.t_,
    }
    if hasattr(est, "loss_curve_"):  # the epochs' bookkeeping (an L-BFGS fit has none)
        fitted["loss_curve_"] = _numbers(est.loss_curve_)
        fitted["best_loss_"] = _finite_or_none(est.best_loss_)
        fitted["validation_scores_"] = _numbers(est.validation_scores_)
        fitted["best_validation_score_"] = _finite_or_none(est.best_validation_score_)
    kind = "regressor" if labels is None else ("multilabel" if multilabel else "classifier")
    record = dict(
        kind=kind,
        activation=est.activation,
        output=est.out_activation_,
        classes=labels,
        classes_dtype=None if labels is None else _dtype_name(labels),
        preprocessing={"feature_names": None if names is None else [str(n) for n in names]},
        estimator=type(est).__name__,
        settings=settings,
        fitted=fitted,
        backend=backend_name(array_namespace(W)),
        device=device_label(array_api_compat.device(W)),
    )
    return io.save(path, est.params_, **{**record, **description})


def _is_classifier(est: Any) -> bool:
    return bool(type(est)._classes_required)


def _dtype_name(labels: np.ndarray) -> str:
    return str(labels.dtype.str if labels.dtype.kind in "US" else labels.dtype.name)


def _target(path: Any, meta: dict[str, Any], xp: Any, device: Any) -> tuple[Any, Any]:
    """(namespace, device) of the loaded arrays: the given ones, else the saved ones."""
    if xp is not None:
        namespace = to_namespace(xp)
        return namespace, resolve_device(namespace, device)
    saved = meta.get("backend") if isinstance(meta.get("backend"), str) else "numpy"
    try:
        namespace = get_namespace(saved)
    except ImportError as exc:
        raise ImportError(
            f"{str(path)!r} holds a model fitted on {saved} arrays, and {exc}. Pass "
            "xp='numpy' (or another backend) to Classifier.load to load it there."
        ) from None
    except ValueError as exc:  # a backend this version does not know
        raise ValueError(
            f"{str(path)!r} holds a model fitted on {saved!r} arrays ({exc}); pass xp= to "
            "load it on a library of this portable_net"
        ) from None
    if device is None and isinstance(meta.get("device"), str):
        try:
            device = resolve_device(namespace, meta["device"])
        except ValueError:
            warnings.warn(
                f"{str(path)!r} was saved from device {meta['device']!r} of {saved}, "
                "which is not available here; loading onto the default device",
                UserWarning,
                stacklevel=4,  # the user's call: Classifier.load -> load -> here
            )
            device = None
    return namespace, resolve_device(namespace, device)


def _settings(cls: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """The constructor's arguments the file records (checked by the loader: they agree with
    the model itself), the model's activation and hidden layer sizes where it records none."""
    sizes = meta["layer_sizes"]
    saved = meta.get("settings", {})
    known = {k: v for k, v in saved.items() if k in cls._get_param_names()}
    known["activation"] = meta["activation"]
    known["hidden_layer_sizes"] = tuple(sizes[1:-1])
    if "loss" in cls._get_param_names():  # the Regressor's: its output layer's loss
        known["loss"] = {"exp": "poisson"}.get(meta["output"], "squared_error")
    return known


def load(cls: Any, path: Any, xp: Any = None, device: Any = None) -> Any:
    """A fitted ``cls`` from a file of :func:`save`, :func:`portable_net.save` or
    ``portable-net train --save`` of its kind."""
    params, meta = io.load(path)  # NumPy first: the metadata decides where they go
    kinds = ("classifier", "multilabel") if cls._classes_required else ("regressor",)
    io.check_kind(path, meta, kinds, f"{cls.__name__}.load")
    pre = meta["preprocessing"]
    if pre["categorical"] is not None:
        raise ValueError(
            f"{str(path)!r} holds {io.describe(meta)} whose inputs one-hot encode the text "
            f"columns {', '.join(pre['categorical']['columns'])[:80]}; {cls.__name__} takes "
            "numbers only: use portable-net predict, which encodes them"
        )
    namespace, device = _target(path, meta, xp, device)
    sizes = meta["layer_sizes"]
    model = cls(**_settings(cls, meta))
    fitted: dict[str, Any] = meta.get("fitted", {})
    output = OUTPUT_LAYERS[meta["output"]]
    set_output(model, output, int(sizes[-1]), multilabel=meta["kind"] == "multilabel")
    params = fold_standardization(path, params, pre["standardize"], sizes[0])
    target = {k: namespace.asarray(v, device=device) for k, v in params.items()}
    n_layers = len(sizes) - 1
    model.coefs_ = [target[f"W{i}"] for i in range(1, n_layers + 1)]
    model.intercepts_ = [target[f"b{i}"] for i in range(1, n_layers + 1)]
    if cls._classes_required:  # the labels, exactly as saved (checked by io.load)
        labels = np.asarray(meta["classes"], dtype=meta["classes_dtype"])
        model._labels = HostLabels(labels)
        model.classes_ = classes_array(labels, namespace, device)
    model.n_features_in_ = int(sizes[0])
    model.n_layers_ = len(sizes)
    if fitted.get("loss_") is not None:
        model.loss_ = fitted["loss_"]
    model.n_iter_ = int(fitted.get("n_iter_", len(fitted.get("loss_curve_") or [])))
    model.t_ = int(fitted.get("t_", 0))
    # the epochs' bookkeeping, where the fit kept it (an L-BFGS fit, as MLPClassifier's, has
    # none; files of train and the command: an empty curve)
    if "loss_curve_" in fitted or model.solver != "lbfgs":
        model.loss_curve_ = cast("list[float]", _floats(fitted.get("loss_curve_", [])))
        model.validation_scores_ = _floats(fitted.get("validation_scores_"))
        model.best_validation_score_ = fitted.get("best_validation_score_")
        best = fitted.get("best_loss_", None)
        model.best_loss_ = best if best is not None or model.validation_scores_ else np.inf
        model._no_improvement_count = 0
    if pre["feature_names"] is not None:
        model.feature_names_in_ = np.asarray(pre["feature_names"], dtype=object)
    return model


def fold_standardization(
    path: Any, params: dict[str, Any], saved: Any, n_inputs: int
) -> dict[str, Any]:
    """The parameters of a model whose inputs were standardised (``saved``: the metadata's
    ``{"mean": [...], "scale": [...]}``, checked) with the standardisation folded into the
    first layer: ``((x - mean) / scale) @ W1 + b1 = x @ (W1 / scale) + (b1 - (mean / scale)
    @ W1)``. NumPy parameters in, new NumPy parameters out; None: unchanged."""
    if saved is None:
        return params
    # imported here: only files of `portable-net train --standardize` need it, and
    # `import portable_net` does not load the preprocessing module
    from ..preprocessing import Standardizer

    try:
        scaler = Standardizer.from_dict(saved)
    except ValueError as exc:
        raise ValueError(f"{str(path)!r}: its saved standardisation is unusable: {exc}") from None
    mean, scale = scaler.mean_, scaler.scale_
    assert mean is not None and scale is not None
    if mean.shape[0] != n_inputs:
        raise ValueError(
            f"{str(path)!r}: its saved standardisation has {mean.shape[0]} features but the "
            f"model has {n_inputs} inputs"
        )
    W1, b1 = np.asarray(params["W1"]), np.asarray(params["b1"])
    dtype = W1.dtype
    folded = dict(params)
    with np.errstate(over="ignore", invalid="ignore"):
        folded["W1"] = (W1 / scale[:, None]).astype(dtype)
        folded["b1"] = (b1 - (mean / scale) @ W1).astype(dtype)
    if not (np.all(np.isfinite(folded["W1"])) and np.all(np.isfinite(folded["b1"]))):
        raise ValueError(f"{str(path)!r}: its standardisation overflows the first layer")
    return folded
