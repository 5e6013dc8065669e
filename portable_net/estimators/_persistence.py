"""Saving and loading a fitted :class:`portable_net.Classifier` or
:class:`portable_net.Regressor`: one ``.npz`` file of :mod:`portable_net.io` (no pickle), the
weights beside the estimator's settings (the activation among them), labels and fitted
attributes (the output layer among them) as plain data. Files without an activation or an
output layer are ReLU nets with softmax outputs (the only ones before both existed)."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

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
from ._inputs import HostLabels, classes_array
from ._outputs import set_output

__all__ = ["fold_standardization", "load", "save"]


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def save(estimator: Any, path: Any) -> Any:
    """Write the fitted estimator to ``path``; returns the path written."""
    est = estimator
    settings = est.get_params()
    hidden = settings["hidden_layer_sizes"]
    settings["hidden_layer_sizes"] = (
        [int(hidden)] if isinstance(hidden, numbers.Integral) else [int(h) for h in hidden]
    )
    if not (settings["random_state"] is None or isinstance(settings["random_state"], int)):
        settings["random_state"] = None  # a RandomState object is not plain data
    W = est.coefs_[0]
    labels = est._labels.values if hasattr(est, "_labels") else None
    fitted = {
        "out_activation_": est.out_activation_,
        "multilabel": bool(getattr(est, "_multilabel", False)),
        "n_features_in_": est.n_features_in_,
        "feature_names_in_": (
            [str(n) for n in est.feature_names_in_] if hasattr(est, "feature_names_in_") else None
        ),
        "loss_": getattr(est, "loss_", None),
        "loss_curve_": [float(v) for v in est.loss_curve_],
        "best_loss_": _finite_or_none(est.best_loss_),
        "validation_scores_": est.validation_scores_,
        "best_validation_score_": _finite_or_none(est.best_validation_score_),
        "n_iter_": est.n_iter_,
        "t_": est.t_,
    }
    return io.save(
        path,
        est.params_,
        estimator=type(est).__name__,
        settings=settings,
        **({} if labels is None else _classes(labels)),
        n_features_in=est.n_features_in_,
        fitted=fitted,
        backend=backend_name(array_namespace(W)),
        device=device_label(array_api_compat.device(W)),
    )


def _classes(labels: np.ndarray) -> dict[str, Any]:
    kind = labels.dtype.str if labels.dtype.kind in "US" else labels.dtype.name
    return {"classes": labels.tolist(), "classes_dtype": kind}


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


def _labels(path: Any, meta: dict[str, Any], n_outputs: int) -> np.ndarray:
    """The saved labels, checked: ``n_outputs`` of them, distinct and sorted."""
    classes = meta.get("classes", list(range(n_outputs)))
    kind = meta.get("classes_dtype")
    try:
        labels = np.asarray(classes, dtype=kind) if isinstance(kind, str) else None
    except TypeError:
        labels = None
    if labels is None:
        labels = np.asarray(classes)
    if (
        not isinstance(classes, list)
        or labels.ndim != 1
        or labels.shape[0] != n_outputs
        or labels.dtype.kind not in "biufUS"
        or not np.array_equal(labels, np.unique(labels))
    ):
        raise ValueError(
            f"{str(path)!r}: its classes {classes!r} are not {n_outputs} distinct sorted "
            "labels, one per output of the model"
        )
    return labels


def load(cls: Any, path: Any, xp: Any = None, device: Any = None) -> Any:
    """A fitted ``cls`` from a file of :func:`save` or :func:`portable_net.save`."""
    params, meta = io.load(path)  # NumPy first: the metadata decides where they go
    namespace, device = _target(path, meta, xp, device)
    sizes = meta["layer_sizes"]
    saved_settings = meta.get("settings")
    settings: dict[str, Any] = saved_settings if isinstance(saved_settings, dict) else {}
    if "hidden_sizes" in settings and "hidden_layer_sizes" not in settings:
        # older files, with the constructor's former names: only the sizes carry over
        settings = {"hidden_layer_sizes": settings["hidden_sizes"]}
    known = {k: v for k, v in settings.items() if k in cls._get_param_names()}
    known["hidden_layer_sizes"] = tuple(known.get("hidden_layer_sizes", sizes[1:-1]))
    model = cls(**known)
    saved_fitted = meta.get("fitted")
    fitted: dict[str, Any] = saved_fitted if isinstance(saved_fitted, dict) else {}
    output = _OUTPUTS[fitted.get("out_activation_", cls._default_out_activation)]
    multilabel = bool(fitted.get("multilabel", False))
    set_output(model, output, int(sizes[-1]), multilabel=multilabel)
    params = fold_standardization(path, params, meta.get("standardize"), sizes[0])
    target = {k: namespace.asarray(v, device=device) for k, v in params.items()}
    n_layers = len(sizes) - 1
    model.coefs_ = [target[f"W{i}"] for i in range(1, n_layers + 1)]
    model.intercepts_ = [target[f"b{i}"] for i in range(1, n_layers + 1)]
    if cls._classes_required:  # a classifier: its labels (two for one logistic output)
        binary = output == "logistic" and not multilabel
        labels = _labels(path, meta, 2 if binary else sizes[-1])
        model._labels = HostLabels(labels)
        model.classes_ = classes_array(labels, namespace, device)
    model.n_features_in_ = int(sizes[0])
    model.n_layers_ = len(sizes)
    model.loss_curve_ = list(fitted.get("loss_curve_", []))
    if fitted.get("loss_") is not None:
        model.loss_ = fitted["loss_"]
    model.n_iter_ = int(fitted.get("n_iter_", len(model.loss_curve_)))
    model.t_ = int(fitted.get("t_", 0))
    model.validation_scores_ = fitted.get("validation_scores_")
    model.best_validation_score_ = fitted.get("best_validation_score_")
    best = fitted.get("best_loss_", None)
    model.best_loss_ = best if best is not None or model.validation_scores_ else np.inf
    if fitted.get("feature_names_in_"):
        model.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    model._no_improvement_count = 0
    return model


#: the saved ``out_activation_`` -> the output layer (:data:`portable_net.loss.OUTPUT_LOSSES`)
_OUTPUTS = {"softmax": "softmax", "logistic": "logistic", "identity": "squared"}


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
