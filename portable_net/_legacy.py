"""Files of the first model format (``format_version`` 1), written before a file said what
its model is: the estimators recorded their settings and output layer, the command its
``activation`` and ``task`` (an interrupted run only its training settings), and
``portable_net.save`` whatever the caller passed. :func:`from_version_1` turns the records of
such a file into the model section of :mod:`portable_net._model_format` where they say it
exactly, and says why not (naming the version that wrote the file) where they do not."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._model_format import ACTIVATIONS, LOSSES, PREPROCESSING_KEYS, names_problem, problem
from ._text import shown

__all__ = ["from_version_1"]


def from_version_1(
    sizes: list[int], metadata: dict[str, Any], version: Any
) -> tuple[dict[str, Any], dict[str, Any]] | str:
    """``(model, metadata)`` of a file of format 1 (written by portable_net before the
    format said what its model is) where its records say it exactly, the records moved
    into the model section; else why it cannot be loaded exactly."""
    meta = dict(metadata)
    written = f"it was written by portable_net {shown(version, 20)} (model format 1)"
    again = "; fit or train it again and save it with this portable_net"
    settings, fitted = meta.get("settings"), meta.get("fitted")
    training = meta.get("training")
    estimator = meta.get("estimator")
    activation = meta.pop("activation", None)
    if activation is None and isinstance(settings, dict) and estimator is not None:
        activation = settings.get("activation")
    if activation is None and isinstance(training, dict):
        activation = training.get("activation")
    if activation not in ACTIVATIONS:
        return f"{written} without its hidden activation, which cannot be told{again}"
    names = None
    pre: dict[str, Any] = {k: None for k in PREPROCESSING_KEYS}
    dialect = None
    classes, kind_of_classes = meta.pop("classes", None), meta.pop("classes_dtype", None)
    if estimator is not None:  # Classifier.save or Regressor.save
        if not isinstance(fitted, dict) or fitted.get("out_activation_") not in LOSSES:
            return f"{written} without its output layer, which cannot be told{again}"
        output = fitted["out_activation_"]
        multilabel = fitted.get("multilabel")
        kind = {"identity": "regressor"}.get(output, "multilabel" if multilabel else "classifier")
        if {"Classifier": "regressor", "Regressor": "classifier"}.get(estimator) == kind:
            return f"{written} by {shown(estimator)}.save with {output} outputs, which do not agree"
        names = fitted.pop("feature_names_in_", None)
        if kind != "regressor" and (classes is None or kind_of_classes is None):
            return f"{written} without its classes and their dtype{again}"
    else:  # portable-net train --save, or portable_net.save with an activation
        task = meta.pop("task", None)
        kind, output = (
            ("regressor", "identity") if task == "regression" else ("classifier", "softmax")
        )
        if kind == "classifier" and classes is None:
            classes = list(range(sizes[-1]))  # the spiral's labels, or the output indices
        if isinstance(classes, list) and kind_of_classes is None:
            kind_of_classes = str(np.asarray(classes).dtype) if classes else None
            if all(isinstance(c, str) for c in classes) and classes:
                kind_of_classes = f"<U{max(len(c) for c in classes)}"
        data = meta.get("data")
        if isinstance(data, dict):
            recorded = data.get("feature_names")
            generated = recorded == [f"x{k}" for k in range(sizes[0])]
            if not generated and names_problem(recorded, sizes[0]) is None:
                names = recorded
            if "file" in data:
                dialect = {"delimiter": None, "decimal": None, "label": data.get("label")}
        pre["standardize"] = meta.pop("standardize", None)
        pre["categorical"] = meta.pop("categorical", None)
    pre["feature_names"] = names
    model = {
        "kind": kind,
        "activation": activation,
        "output": output,
        "loss": LOSSES[output],
        "classes": None if kind == "regressor" else classes,
        "classes_dtype": None if kind == "regressor" else kind_of_classes,
        "preprocessing": pre,
        "dialect": dialect,
    }
    why = problem(sizes, model)
    if why:
        return f"{written}: {why}"
    return model, meta
