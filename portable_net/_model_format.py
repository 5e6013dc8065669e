"""What a model file says its model is (model format 2), in one place: the fields, their
rules, how :func:`portable_net.save` fills them in and how :func:`portable_net.load` checks
them, and the model in words for the readers' refusals (:func:`describe`, :func:`check_kind`).
What files of format 1 become is :mod:`portable_net._legacy`'s.

A file's ``model`` section holds, always, every field below (``null`` where it says so);
a reader never guesses a field that is missing, it refuses the file:

``kind``
    ``"classifier"`` (one class per point), ``"multilabel"`` (a set of labels per point) or
    ``"regressor"`` (real values).
``activation``
    The hidden layers' activation: ``"relu"``, ``"tanh"``, ``"logistic"`` or ``"identity"``.
``output``, ``loss``
    The output layer and the loss it was trained with: ``"softmax"`` and
    ``"cross_entropy"`` (a classifier of K >= 2 outputs), ``"logistic"`` and
    ``"binary_cross_entropy"`` (a classifier of two classes, or of one class as
    MLPClassifier fits it, with one output; or a multilabel classifier of K >= 2 outputs),
    ``"identity"`` and ``"squared_error"`` (a regressor), ``"exp"`` and ``"poisson"`` (a
    regressor of the log link, trained on half the Poisson deviance).
``classes``, ``classes_dtype``
    The labels, distinct and sorted (one per output; two for one logistic output; the
    columns ``0..K-1`` of a multilabel classifier) and the NumPy dtype they come back as
    (``"int64"``, ``"<U7"``, ``"bool"``, ...), which must hold every label exactly; ``null``
    for a regressor.
``preprocessing``
    What is done to a point before the network sees it: ``feature_names`` (the input
    columns by name, or ``null``: by position), ``standardize`` (``{"mean", "scale"}``, one
    number per input, or ``null``), ``categorical`` (the one-hot encoded text columns,
    ``{"columns", "categories"}``, or ``null``) and ``missing`` (``{"policy": "error" |
    "drop" | "mean", "fill": one number (or null) per input, or null}``, or ``null``: no
    policy recorded, a missing value is refused).
``dialect``
    The CSV files the model was trained on: ``{"delimiter", "decimal", "label"}`` (the
    label column's name or index; ``delimiter`` and ``decimal`` ``null`` where they were not
    recorded), or ``null`` for a model not trained on a CSV file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ._text import shown

__all__ = [
    "ACTIVATIONS",
    "FORMAT",
    "FORMAT_VERSION",
    "KINDS",
    "LOSSES",
    "MODEL_KEYS",
    "OUTPUT_LAYERS",
    "build",
    "check_kind",
    "describe",
    "names_problem",
    "problem",
    "summary",
]

FORMAT = "portable_net model"
FORMAT_VERSION = 2
KINDS = ("classifier", "multilabel", "regressor")
ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
#: each output layer and the loss it is trained with
LOSSES = {
    "softmax": "cross_entropy",
    "logistic": "binary_cross_entropy",
    "identity": "squared_error",
    "exp": "poisson",
}
#: each output layer as the library's functions name it (:data:`portable_net.loss.OUTPUT_LOSSES`)
OUTPUT_LAYERS = {"softmax": "softmax", "logistic": "logistic", "identity": "squared",
                 "exp": "poisson"}  # fmt: skip
#: the output layers of a regressor
REGRESSOR_OUTPUTS = ("identity", "exp")
MODEL_KEYS = ("kind", "activation", "output", "loss", "classes", "classes_dtype", "preprocessing",
              "dialect")  # fmt: skip
PREPROCESSING_KEYS = ("feature_names", "standardize", "categorical", "missing")
DIALECT_KEYS = ("delimiter", "decimal", "label")
MISSING_POLICIES = ("error", "drop", "mean")
#: the most bytes the classes may take as their dtype (as the metadata's own limit)
MAX_CLASSES_BYTES = 2**26


# --- the rules, written once: for save (the caller's error) and load (the file's refusal) ---


def problem(sizes: list[int], model: Any) -> str | None:
    """Why ``model`` (a file's ``model`` section) does not describe a network of layer sizes
    ``sizes`` exactly, or None."""
    if not isinstance(model, dict):
        return "its model description is not a dict"
    absent = [k for k in MODEL_KEYS if k not in model]
    if absent:
        return f"its model description lacks {', '.join(absent)}"
    unknown = sorted(set(model) - set(MODEL_KEYS))
    if unknown:
        return f"its model description holds unknown fields {shown(unknown)}"
    kind, activation, output, loss = (model[k] for k in ("kind", "activation", "output", "loss"))
    if kind not in KINDS:
        return f"its kind {shown(kind)} is not one of {', '.join(KINDS)}"
    if activation not in ACTIVATIONS:
        return f"its activation {shown(activation)} is not one of {', '.join(ACTIVATIONS)}"
    if output not in LOSSES:
        return f"its output layer {shown(output)} is not one of {', '.join(LOSSES)}"
    if loss != LOSSES[output]:
        return f"its loss {shown(loss)} is not the {LOSSES[output]} of {output} outputs"
    why = _kind_problem(kind, output, sizes[-1], model["classes"])
    if why:
        return why
    why = _classes_problem(model["classes"], model["classes_dtype"], kind)
    if why:
        return why
    return _preprocessing_problem(model["preprocessing"], sizes[0]) or _dialect_problem(
        model["dialect"]
    )


def _kind_problem(kind: str, output: str, n_outputs: int, classes: Any) -> str | None:
    count = len(classes) if isinstance(classes, list) else None
    if kind == "regressor":
        if output not in REGRESSOR_OUTPUTS:
            return f"a regressor has identity or exp outputs, not {output}"
        if classes is not None:
            return "a regressor has no classes"
        return None
    if count is None:
        return f"a {kind} needs its classes (a list)"
    if kind == "multilabel":
        if output != "logistic" or n_outputs < 2:
            return (
                f"a multilabel classifier has 2 or more logistic outputs, not {n_outputs} {output}"
            )
        if classes != list(range(n_outputs)):
            return f"the labels of a multilabel classifier are its columns 0..{n_outputs - 1}"
        return None
    if output == "softmax" and n_outputs >= 2 and count == n_outputs:
        return None
    if output == "logistic" and n_outputs == 1 and count in (1, 2):
        return None
    return (
        f"a classifier has one softmax output per class (2 or more) or one logistic output "
        f"for two classes (or one), not {n_outputs} {output} output(s) for {count} classes"
    )


#: the JSON values each kind of labels' dtype holds (object arrays: of plain values)
_TYPES: dict[str, tuple[type, ...]] = {
    "b": (bool,), "i": (int,), "u": (int,), "f": (float,), "U": (str,), "O": (str, int, float),
}  # fmt: skip


def _classes_problem(classes: Any, kind: Any, model_kind: str) -> str | None:
    if classes is None:
        return None if kind is None else "its classes_dtype is given without classes"
    if not isinstance(kind, str):
        return f"its classes_dtype {shown(kind)} is not a dtype's name"
    try:
        dtype = np.dtype(kind)
    except (TypeError, ValueError):
        return f"its classes_dtype {shown(kind)} is not a dtype's name"
    if dtype.kind not in _TYPES or dtype.itemsize * len(classes) > MAX_CLASSES_BYTES:
        return f"its classes_dtype {shown(kind)} is not a dtype of labels"
    wanted = _TYPES[dtype.kind]
    if not all(isinstance(c, wanted) and (bool in wanted or not isinstance(c, bool))
               for c in classes):  # fmt: skip
        return f"its classes {shown(classes)} are not all of its classes_dtype {kind}"
    try:
        labels = np.asarray(classes, dtype=dtype)
        exact = labels.ndim == 1 and labels.tolist() == classes
    except (TypeError, ValueError, OverflowError):
        exact = False
    if not exact:
        return f"its classes {shown(classes)} do not fit its classes_dtype {kind} exactly"
    try:
        ordered = np.array_equal(labels, np.unique(labels))
    except TypeError:  # objects that cannot be compared
        ordered = False
    if not ordered:
        return f"its classes {shown(classes)} are not distinct and sorted"
    return None


def names_problem(names: Any, n_inputs: int) -> str | None:
    if names is None:
        return None
    if (
        not isinstance(names, list)
        or len(names) != n_inputs
        or not all(isinstance(n, str) and n for n in names)
        or len(set(names)) != n_inputs
    ):
        return (
            f"its feature names {shown(names)} are not {n_inputs} distinct non-empty names, "
            "one per input"
        )
    return None


def _numbers(values: Any, n: int, *, none: bool = False) -> bool:
    return (
        isinstance(values, list)
        and len(values) == n
        and all(
            (v is None and none) or (isinstance(v, (int, float)) and not isinstance(v, bool))
            for v in values
        )
    )


def _preprocessing_problem(pre: Any, n_inputs: int) -> str | None:
    if not isinstance(pre, dict) or set(pre) != set(PREPROCESSING_KEYS):
        return f"its preprocessing is not a dict of {', '.join(PREPROCESSING_KEYS)}"
    names = pre["feature_names"]
    why = names_problem(names, n_inputs)
    if why:
        return why
    scaled = pre["standardize"]
    if scaled is not None and not (
        isinstance(scaled, dict)
        and set(scaled) == {"mean", "scale"}
        and _numbers(scaled["mean"], n_inputs)
        and _numbers(scaled["scale"], n_inputs)
        and all(s > 0 for s in scaled["scale"])
    ):
        return (
            f"its standardisation is not a mean and a positive scale for each of its "
            f"{n_inputs} inputs"
        )
    why = _categorical_problem(pre["categorical"], names)
    if why:
        return why
    missing = pre["missing"]
    if missing is None:
        return None
    if not isinstance(missing, dict) or set(missing) != {"policy", "fill"}:
        return "its missing-value policy is not a dict of policy and fill"
    if missing["policy"] not in MISSING_POLICIES:
        return f"its missing-value policy {shown(missing['policy'])} is not one of " + ", ".join(
            MISSING_POLICIES
        )
    if missing["policy"] == "mean":
        if not _numbers(missing["fill"], n_inputs, none=True):
            return f"its missing-value fill is not one value (or null) per input ({n_inputs})"
    elif missing["fill"] is not None:
        return f"its missing-value policy {missing['policy']!r} fills in nothing"
    return None


def _categorical_problem(encoding: Any, names: Any) -> str | None:
    if encoding is None:
        return None
    bad = "its categorical encoding is not a dict of columns and their categories"
    if not isinstance(encoding, dict) or set(encoding) != {"columns", "categories"}:
        return bad
    columns, categories = encoding["columns"], encoding["categories"]
    if not (isinstance(columns, list) and isinstance(categories, list)) or not columns:
        return bad
    if len(columns) != len(categories) or len(set(map(str, columns))) != len(columns):
        return bad
    for column, values in zip(columns, categories):
        if not isinstance(column, str) or not column:
            return bad
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) and v for v in values)
            or len(set(values)) != len(values)
        ):
            return f"the categories of its column {shown(column)} are not distinct names"
    known = set(names or ())
    absent = [
        f"{c}={v}" for c, vs in zip(columns, categories) for v in vs if f"{c}={v}" not in known
    ]
    if absent:
        return f"its feature names lack the categorical inputs {shown(absent)}"
    return None


def _dialect_problem(dialect: Any) -> str | None:
    if dialect is None:
        return None
    if not isinstance(dialect, dict) or set(dialect) != set(DIALECT_KEYS):
        return f"its CSV dialect is not a dict of {', '.join(DIALECT_KEYS)}"
    sep, decimal, label = dialect["delimiter"], dialect["decimal"], dialect["label"]
    if sep is not None and not (isinstance(sep, str) and len(sep) == 1 and sep not in "\r\n\"'"):
        return f"its CSV delimiter {shown(sep)} is not one character"
    if decimal not in (None, ".", ","):
        return f"its CSV decimal mark {shown(decimal)} is not . or ,"
    if decimal is not None and decimal == sep:
        return "its CSV decimal mark is also its delimiter"
    if label is not None and not (
        (isinstance(label, str) and label)
        or (isinstance(label, int) and not isinstance(label, bool))
    ):
        return f"its label column {shown(label)} is not a name or an index"
    return None


def settings_problem(
    sizes: list[int], model: dict[str, Any], metadata: dict[str, Any]
) -> str | None:
    """Why an estimator's recorded constructor arguments (``settings``) disagree with the
    model itself (its activation, its hidden layer sizes), or None."""
    settings = metadata.get("settings")
    if not isinstance(settings, dict):
        return None
    loss = {"identity": "squared_error", "exp": "poisson"}.get(model["output"])
    for key, actual in (("activation", model["activation"]), ("hidden_layer_sizes", sizes[1:-1]),
                        ("loss", loss)):  # fmt: skip
        if key in settings and settings[key] != actual:
            return f"its settings' {key} {shown(settings[key])} is not the model's {actual!r}"
    return None


# --- writing ---------------------------------------------------------------------------------


def _labels(classes: Any) -> np.ndarray:
    """The caller's labels (a list, or an array of any library) as a 1-D NumPy array."""
    import array_api_compat

    from ._backend import to_host

    host = to_host(classes) if array_api_compat.is_array_api_obj(classes) else np.asarray(classes)
    if host.ndim != 1:
        raise ValueError(f"classes must be 1-D (one label per class), got shape {host.shape}")
    if host.dtype.kind == "U" and host.shape[0]:  # the narrowest width that holds them
        host = host.astype(f"<U{max(1, max(len(c) for c in host.tolist()))}")
    return host


def build(
    sizes: list[int],
    *,
    kind: str,
    activation: str,
    output: str | None,
    classes: Any,
    classes_dtype: str | None,
    preprocessing: Any,
    dialect: Any,
    loss: str | None = None,
) -> dict[str, Any]:
    """The ``model`` section of a file for a network of layer sizes ``sizes`` as
    :func:`portable_net.save` takes it: ``output`` None is the kind's (one logistic output
    for two classes), ``classes`` None a classifier's output indices; or ValueError saying
    what does not fit."""
    from ._metadata import plain

    n_outputs = sizes[-1]
    if output is None:
        output = {"regressor": "identity", "multilabel": "logistic"}.get(
            kind, "logistic" if n_outputs == 1 else "softmax"
        )
    if classes is None and kind in ("classifier", "multilabel"):
        classes = (
            [0, 1] if output == "logistic" and kind == "classifier" else list(range(n_outputs))
        )
    if classes is not None:
        if isinstance(classes, (str, bytes)):
            raise TypeError(
                f"classes must be a list or an array of labels, not {type(classes).__name__}"
            )
        labels = _labels(classes)
        if labels.dtype.kind not in _TYPES:
            raise TypeError(f"classes must be numbers, booleans or text, got dtype {labels.dtype}")
        if isinstance(classes, (list, tuple)) and labels.tolist() != list(classes):
            raise TypeError(f"classes must be all numbers or all text, got {shown(classes)}")
        if classes_dtype is None:
            classes_dtype = labels.dtype.str if labels.dtype.kind == "U" else labels.dtype.name
        classes = plain(labels.tolist(), "classes")
    pre = {k: None for k in PREPROCESSING_KEYS}
    if preprocessing is not None:
        if not isinstance(preprocessing, dict) or not set(preprocessing) <= set(PREPROCESSING_KEYS):
            raise ValueError(
                f"preprocessing must be a dict of some of {', '.join(PREPROCESSING_KEYS)}, "
                f"got {shown(preprocessing)}"
            )
        pre.update(plain(preprocessing, "preprocessing"))
    if dialect is not None:
        if not isinstance(dialect, dict) or not set(dialect) <= set(DIALECT_KEYS):
            raise ValueError(
                f"dialect must be a dict of some of {', '.join(DIALECT_KEYS)}, got {shown(dialect)}"
            )
        dialect = {k: None for k in DIALECT_KEYS} | plain(dialect, "dialect")
    model = {
        "kind": kind,
        "activation": activation,
        "output": output,
        "loss": LOSSES.get(output) if loss is None else loss,
        "classes": classes,
        "classes_dtype": classes_dtype,
        "preprocessing": pre,
        "dialect": dialect,
    }
    why = problem(sizes, model)
    if why:
        raise ValueError(f"the model cannot be saved as described: {why.removeprefix('its ')}")
    return model


# --- reading -------------------------------------------------------------------------------


def summary(sizes: list[int], model: Mapping[str, Any]) -> str:
    """The model in words, for a refusal: "a regressor (identity outputs, squared error;
    tanh hidden layers; layer sizes [3, 8, 1])"."""
    kind, output, k = model["kind"], model["output"], sizes[-1]
    words = {
        "classifier": f"a classifier of {len(model['classes'] or ())} classes",
        "multilabel": f"a multilabel classifier of {k} labels",
        "regressor": f"a regressor of {k} output{'s' if k > 1 else ''}",
    }[kind]
    loss = model["loss"].replace("_", " ")
    return (
        f"{words} ({output} outputs, {loss}; {model['activation']} hidden layers; "
        f"layer sizes {sizes})"
    )


def describe(meta: Mapping[str, Any]) -> str:
    """What a loaded model is, in words, for messages.

    Parameters
    ----------
    meta : dict
        The metadata :func:`portable_net.load` returned (its ``layer_sizes``, ``kind``, ``activation``,
        ``output``, ``loss`` and ``classes``).

    Returns
    -------
    str
        Such as "a regressor of 1 output (identity outputs, squared error; relu hidden
        layers; layer sizes [2, 8, 1])".

    Examples
    --------
    >>> import portable_net as pn
    >>> pn.io.describe({"layer_sizes": [2, 8, 3], "kind": "classifier", "activation": "tanh",
    ...                 "output": "softmax", "loss": "cross_entropy", "classes": [0, 1, 2]})
    'a classifier of 3 classes (softmax outputs, cross entropy; tanh hidden layers; layer sizes [2, 8, 3])'
    """
    return summary(list(meta["layer_sizes"]), meta)


def check_kind(
    path: str | os.PathLike[str], meta: Mapping[str, Any], kinds: Iterable[str], reader: str
) -> None:
    """Refuse a loaded model whose kind the reader cannot run, in one line.

    Parameters
    ----------
    path : str or path-like
        The model's file, named in the message.
    meta : dict
        The metadata :func:`portable_net.load` returned.
    kinds : iterable of {"classifier", "multilabel", "regressor"}
        The kinds the reader runs.
    reader : str
        Who reads it, for the message ("Classifier.load").

    Raises
    ------
    ValueError
        One line naming the file and what it holds (:func:`describe`), when its kind is not
        one of ``kinds``.

    Examples
    --------
    >>> import portable_net as pn
    >>> meta = {"layer_sizes": [2, 8, 1], "kind": "regressor", "activation": "relu",
    ...         "output": "identity", "loss": "squared_error", "classes": None}
    >>> pn.io.check_kind("reg.npz", meta, ["classifier"], "Classifier.load")
    Traceback (most recent call last):
    ...
    ValueError: 'reg.npz' holds a regressor of 1 output (identity outputs, squared error; relu hidden layers; layer sizes [2, 8, 1]); Classifier.load reads a classifier
    """
    kinds = list(kinds)
    if meta["kind"] not in kinds:
        raise ValueError(
            f"{str(path)!r} holds {describe(meta)}; {reader} reads "
            + " or ".join(f"a {k}" for k in kinds)
        )
