"""Deploy anywhere: a model as an ONNX graph, traced from the forward pass that predicts.

The graph is not a second implementation of the network. It is what the library's own
prediction code (:func:`portable_net.model.outputs`: the input checks, the forward pass of
:mod:`portable_net.network`, the output layers of :mod:`portable_net.loss`; the labels as
the estimators' ``predict`` decides them) records when its arrays are ndonnx's lazy arrays,
which turn each operation of the array API standard into an ONNX node
(:mod:`portable_net.engines.onnx_graph`). The checks that need the data's values are
skipped while tracing, and only then (:func:`portable_net.engines.is_traced`): the values
exist only when the graph runs. Before the network, written against the same standard and
traced with it: a missing value (NaN) filled in with its training mean, text columns one-hot
encoded, the standardisation (:mod:`portable_net.preprocessing`'s formulas). So the graph
takes the raw rows that ``portable-net predict`` takes.

Three ways in, one way through (:func:`export`): :func:`to_onnx` for a dict of parameters,
``Classifier.to_onnx`` / ``Regressor.to_onnx`` for the estimators (:func:`estimator_graph`),
and ``portable-net export MODEL OUT.onnx`` for a model file (:mod:`portable_net.cli.export`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

import numpy as np

from ._version import __version__

__all__ = ["to_onnx"]

#: what tracing and writing a graph imports (onnxruntime, in the same extra, runs it)
NEEDED = ("ndonnx", "onnx")
#: the graph's name for the batch: its number of rows is known only when it runs
BATCH = "N"


def missing_packages() -> list[str]:
    """The packages the export needs that are not installed here."""
    return [name for name in NEEDED if find_spec(name) is None]


def install_hint(missing: Sequence[str]) -> str:
    """What to install for the export, as one sentence."""
    return (
        f"the ONNX export needs {' and '.join(missing)}, which "
        f"{'is' if len(missing) == 1 else 'are'} not installed: "
        "pip install 'portable-net[onnx]' (ndonnx, onnx and onnxruntime)"
    )


@dataclass(frozen=True)
class Graph:
    """What an exported graph computes, on the host (NumPy), checked.

    ``params``: ``W1, b1, ..., WL, bL``; ``output``: the output layer
    (:data:`portable_net.loss.OUTPUT_LOSSES`); ``classes``: the labels (None: a regressor);
    ``feature_names``: one per input of the network; ``mean``, ``scale``: the inputs'
    standardisation (or None); ``fill``: the value a missing one (NaN) takes, per input (NaN
    where there is none; None: no filling); ``categorical``: each one-hot encoded text column
    and its categories, whose indicators are the inputs named ``column=category``.
    """

    params: dict[str, np.ndarray]
    activation: str
    output: str
    feature_names: tuple[str, ...]
    classes: np.ndarray | None = None
    multilabel: bool = False
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    categorical: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fill: np.ndarray | None = None

    @property
    def sizes(self) -> list[int]:
        """The network's layer sizes [D, H1, ..., K]."""
        from ._validation import layer_sizes

        return layer_sizes(self.params)

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

    @property
    def indicators(self) -> list[str]:
        """The network's inputs that one-hot encode the text columns, in encoding order."""
        return [f"{column}={v}" for column, values in self.categorical for v in values]

    @property
    def numeric(self) -> list[int]:
        """The positions (among the network's inputs) of the graph's numeric input X."""
        encoded = set(self.indicators)
        return [j for j, n in enumerate(self.feature_names) if n not in encoded]

    @property
    def order(self) -> list[int] | None:
        """Where each input of the network is among [X's columns, the indicators]; None
        when they are in that order already."""
        built = [self.feature_names[j] for j in self.numeric] + self.indicators
        order = [built.index(n) for n in self.feature_names]
        return None if order == list(range(len(order))) else order


def to_onnx(
    params: Mapping[str, Any],
    path: str | os.PathLike[str] | None = None,
    *,
    activation: str = "relu",
    classes: Sequence[Any] | None = None,
    feature_names: Sequence[str] | None = None,
    standardize: Mapping[str, Any] | None = None,
    dtype: str | None = None,
    opset: int | None = None,
) -> Any:
    """Export a softmax classifier (:func:`predict`'s model) as an ONNX graph.

    The graph is traced from the forward pass that :func:`predict_proba` runs (on ndonnx's
    lazy arrays), not written anew: onnxruntime gives the same labels and probabilities to
    the rounding of its products, for any number of rows. It needs the ``onnx`` extra
    (``pip install 'portable-net[onnx]'``: ndonnx, onnx and onnxruntime). Estimators have
    ``Classifier.to_onnx`` and ``Regressor.to_onnx``; model files ``portable-net export``.

    The graph takes ``X`` (N, D) of ``dtype``, N any number of rows, and gives ``label``
    (N,), the class of each row from ``classes``, and ``probabilities`` (N, K). Its inputs,
    outputs and metadata properties (``feature_names``, ``class_names``, ...) say so.

    Parameters
    ----------
    params : dict of str to array
        ``W1, b1, ..., WL, bL`` (as :func:`train` returns them), of any library.
    path : None, str or path-like
        Also write the graph to this file (by ``portable_net.io.write_output``'s rules: a
        regular file is replaced whole or not at all).
    activation : {"relu", "tanh", "logistic", "identity"}
        The hidden layers' activation (the one the model was trained with).
    classes : sequence of int or str, optional
        The label of each output, distinct (default ``0, ..., K-1``): what ``label`` gives.
    feature_names : sequence of str, optional
        The name of each input, distinct (default ``x0, x1, ...``), kept as documentation.
    standardize : dict, optional
        ``{"mean": [...], "scale": [...]}`` of the inputs (as ``portable-net train
        --standardize`` saves it in a model file): the graph then takes raw rows,
        standardises them, and fills a missing value (NaN) in with its column's mean.
    dtype : {"float64", "float32"}, optional
        The graph's floating type, of its input, weights and probabilities (default: that
        of ``params``).
    opset : int, optional
        The ONNX opset of the graph (default: ndonnx's own, 21): 20 to the newest the
        installed onnx package knows.

    Returns
    -------
    onnx.ModelProto
        The model (``model.SerializeToString()`` is what ``path`` receives).

    Raises
    ------
    ImportError
        When ndonnx or onnx is not installed (the message says what to install).
    TypeError, ValueError
        Naming the argument, for parameters that are not a model, NaN weights, labels or
        names that are not one per output or input, an unknown dtype or opset.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(100, 3, seed=0)
    >>> params, _ = pn.train(pn.init_params([2, 50, 3]), X, y, steps=100)
    >>> graph = pn.to_onnx(params, classes=["red", "green", "blue"])
    >>> session = ort.InferenceSession(graph.SerializeToString())
    >>> label, proba = session.run(["label", "probabilities"], {"X": X[:4]})
    >>> bool(np.abs(proba - pn.predict_proba(params, X[:4])).max() < 1e-12)
    True
    >>> label.tolist() == [["red", "green", "blue"][k] for k in pn.predict(params, X[:4])]
    True
    """
    from .layers import activation_pair

    host = host_params(params)
    activation_pair(activation)  # raises for an unknown name
    n_inputs, n_outputs = host["W1"].shape[0], host[f"W{len(host) // 2}"].shape[1]
    labels = np.arange(n_outputs) if classes is None else _labels(classes, n_outputs)
    names = _names(feature_names, n_inputs)
    mean = scale = None
    if standardize is not None:
        mean, scale = standardization(standardize, n_inputs, "standardize")
    # a missing value: its column's mean in the training rows
    graph = Graph(host, activation, "softmax", names, labels, mean=mean, scale=scale, fill=mean)
    return export(graph, path, dtype=dtype, opset=opset)


def host_params(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """A model's parameters as NumPy arrays, checked: a model, floating, finite."""
    from ._backend import to_host
    from ._validation import check_float_dtype, check_params

    check_params(params)
    host = {key: to_host(value) for key, value in params.items()}
    dtypes = {str(w.dtype) for w in host.values()}
    for key, w in host.items():
        check_float_dtype(f"params[{key!r}]", w.dtype)
        if not np.all(np.isfinite(w)):
            raise ValueError(f"params[{key!r}] holds NaN or infinite values")
    if len(dtypes) != 1:
        raise TypeError(f"params must be all float32 or all float64, got {sorted(dtypes)}")
    return host


def _labels(classes: Sequence[Any], n_outputs: int) -> np.ndarray:
    labels = np.asarray(list(classes) if not isinstance(classes, np.ndarray) else classes)
    if (
        labels.ndim != 1
        or labels.shape[0] != n_outputs
        or labels.dtype.kind not in "iuU"
        or len(set(labels.tolist())) != n_outputs
    ):
        raise ValueError(
            f"classes must be {n_outputs} distinct labels (integers or strings), one per "
            f"output of the model, got {list(classes)!r:.200}"
        )
    return labels


def _names(feature_names: Sequence[str] | None, n_inputs: int) -> tuple[str, ...]:
    if feature_names is None:
        return tuple(f"x{j}" for j in range(n_inputs))
    names = tuple(feature_names) if not isinstance(feature_names, str) else ()
    if (
        len(names) != n_inputs
        or not all(isinstance(n, str) and n for n in names)
        or len(set(names)) != n_inputs
    ):
        raise ValueError(
            f"feature_names must be {n_inputs} distinct non-empty strings, one per input of "
            f"the model, got {feature_names!r:.200}"
        )
    return names


def standardization(saved: Any, n_inputs: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The mean and scale of a saved standardisation (``{"mean": [...], "scale": [...]}``),
    checked; ValueError naming ``what``."""
    from .preprocessing import Standardizer

    try:
        scaler = Standardizer.from_dict(dict(saved) if isinstance(saved, Mapping) else saved)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    assert scaler.mean_ is not None and scaler.scale_ is not None
    if scaler.mean_.shape[0] != n_inputs:
        raise ValueError(
            f"{what} has {scaler.mean_.shape[0]} features but the model has {n_inputs} inputs"
        )
    return scaler.mean_, scaler.scale_


def file_graph(params: Mapping[str, Any], meta: Mapping[str, Any]) -> Graph:
    """What the graph of a model file computes, as :func:`portable_net.load` reads the file
    (``params``, ``meta``; every kind of model, its preprocessing): what ``portable-net
    predict`` runs. A missing value takes the model's recorded fill (``--missing mean``: the
    training rows' means), else, with a standardisation, its mean."""
    from ._model_format import OUTPUT_LAYERS

    host = host_params(params)
    pre = meta["preprocessing"]
    names = _names(pre["feature_names"], host["W1"].shape[0])
    mean = scale = fill = None
    if pre["standardize"] is not None:
        mean, scale = standardization(pre["standardize"], len(names), "standardize")
        fill = mean
    missing = pre["missing"]
    if missing is not None and missing["policy"] == "mean" and missing["fill"] is not None:
        fill = np.asarray([np.nan if v is None else float(v) for v in missing["fill"]])
    encoding = pre["categorical"]
    categorical = () if encoding is None else tuple(
        (str(c), tuple(map(str, values)))
        for c, values in zip(encoding["columns"], encoding["categories"])
    )  # fmt: skip
    regressor = meta["kind"] == "regressor"
    classes = None if regressor else np.asarray(meta["classes"], dtype=meta["classes_dtype"])
    return Graph(host, meta["activation"], OUTPUT_LAYERS[meta["output"]], names, classes,
                 multilabel=meta["kind"] == "multilabel", mean=mean, scale=scale, fill=fill,
                 categorical=categorical)  # fmt: skip


def estimator_graph(est: Any) -> Graph:
    """What a fitted Classifier's or Regressor's graph computes: its ``predict`` (and the
    Classifier's ``predict_proba``)."""
    from ._backend import to_host
    from .loss import REGRESSION_OUTPUTS

    params = host_params(est.params_)
    names = getattr(est, "feature_names_in_", None)
    regressor = est._output in REGRESSION_OUTPUTS
    return Graph(
        params,
        est.activation,
        est._output,
        _names(None if names is None else [str(n) for n in names], int(est.n_features_in_)),
        classes=None if regressor else to_host(est.classes_),
        multilabel=bool(est._multilabel),
    )


def export(
    graph: Graph, path: str | os.PathLike[str] | None, *, dtype: str | None, opset: int | None
) -> Any:
    """The ONNX model of ``graph`` (``onnx.ModelProto``), also written to ``path`` unless
    None: the one way from a checked :class:`Graph` to a file."""
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be None, a str or a path, not {type(path).__name__}")
    dtype = _dtype(dtype, graph)
    missing = missing_packages()
    if missing:
        raise ImportError(install_hint(missing))
    if opset is not None:
        if isinstance(opset, bool) or not isinstance(opset, int):
            raise TypeError(f"opset must be an integer, not {opset!r}")
        problem = opset_problem(opset)
        if problem:
            raise ValueError(f"opset {problem}")
    model = _trace(graph, dtype, opset)
    if path is not None:
        from ._output import write_output

        data = serialized(model)
        write_output(path, lambda f: f.write(data))
    return model


def serialized(model: Any) -> bytes:
    """The bytes of an ONNX file of ``model``, or ValueError past protobuf's limit."""
    try:
        return bytes(model.SerializeToString())
    except ValueError:  # protobuf's 2 GiB
        raise ValueError("the model is too large for one ONNX file (2 GiB)") from None


def opset_problem(opset: int) -> str | None:
    """What is wrong with an opset ("must be from 20 to ..."), or None (needs onnx)."""
    from .engines import onnx_graph

    low, high = onnx_graph.MIN_OPSET, onnx_graph.latest_opset()
    if low <= opset <= high:
        return None
    return (
        f"must be from {low} (what the traced graph's reductions need) to {high} (the "
        f"installed onnx's newest), got {opset}"
    )


def _dtype(dtype: Any, graph: Graph) -> str:
    if dtype is None:
        return str(graph.params["W1"].dtype)
    name = dtype if isinstance(dtype, str) else getattr(dtype, "name", None)
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return str(name)


def _trace(graph: Graph, dtype: str, opset: int | None) -> Any:
    """Trace the graph's computation on ndonnx's arrays and build the model."""
    from .engines import onnx_graph

    inputs = {}
    if graph.numeric:
        inputs["X"] = onnx_graph.argument((BATCH, len(graph.numeric)), dtype)
    if graph.categorical:
        inputs["text"] = onnx_graph.argument((BATCH, len(graph.categorical)), "text")
    outputs = computation(onnx_graph.namespace(), graph, inputs.get("X"), inputs.get("text"), dtype)
    docs, doc, metadata = _documentation(graph, dtype)
    return onnx_graph.build(
        inputs, outputs, docs=docs, doc=doc, metadata=metadata, opset=opset,
        producer=("portable_net", __version__),
    )  # fmt: skip


def computation(xp: Any, graph: Graph, X: Any, text: Any, dtype: str) -> dict[str, Any]:
    """The graph's outputs from its inputs, on any array API namespace: X (N, numeric
    features) and ``text`` (N, text columns), either None where the graph has none. Traced
    on ndonnx's lazy arrays, it is the graph."""
    from . import decision, model
    from .estimators._outputs import label_indicator, regressor_values
    from .preprocessing import filled_in, standardized

    def constant(values: Any) -> Any:
        return xp.asarray(np.asarray(values, dtype=dtype))

    float_type = getattr(xp, dtype)
    blocks = []
    if X is not None:
        if graph.fill is not None:  # a missing value: its recorded fill (a training mean)
            X = filled_in(xp, X, constant(graph.fill[graph.numeric]))
        blocks.append(X)  # (N, numeric)
    for j, (_, categories) in enumerate(graph.categorical):
        known = xp.asarray(np.asarray(categories, dtype=str))  # (C_j,)
        # one-hot by comparison: an unknown (or missing) category sets no indicator
        blocks.append(xp.astype(xp.expand_dims(text[:, j], axis=1) == known, float_type))
    features = blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=1)  # (N, D)
    order = graph.order
    if order is not None:  # the network's order of its inputs
        features = xp.take(features, xp.asarray(np.asarray(order, dtype=np.int64)), axis=1)
    if graph.mean is not None:
        features = standardized(features, constant(graph.mean), constant(graph.scale))
    params = {key: constant(value) for key, value in graph.params.items()}
    out = model.outputs(params, features, activation=graph.activation, output=graph.output)
    if graph.classes is None:
        return {"values": regressor_values(out, graph.n_outputs)}
    if graph.multilabel:
        labels = label_indicator(xp, out, xp.int64)
    else:
        labels = decision.decide(xp, out, xp.asarray(graph.classes), graph.output)
    return {
        "label": labels,
        "probabilities": decision.output_probabilities(xp, out, graph.output, graph.multilabel),
    }


def kind(graph: Graph) -> str:
    """What the graph predicts, in a word: regression, multilabel, binary or multiclass."""
    if graph.classes is None:
        return "regression"
    if graph.multilabel:
        return "multilabel"
    return "binary" if graph.output == "logistic" else "multiclass"


def _listed(values: Sequence[Any], limit: int = 20) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _documentation(graph: Graph, dtype: str) -> tuple[dict[str, str], str, dict[str, str]]:
    """Each input's and output's documentation, the graph's, and the metadata properties."""
    numeric = [graph.feature_names[j] for j in graph.numeric]
    scaled = graph.mean is not None
    docs = {
        "X": f"{dtype} ({BATCH}, {len(numeric)}): the features {_listed(numeric)}, in this "
        "order, as in the data the model was trained on"
        + (
            " (not standardised: the graph standardises them); NaN is a missing value, "
            "filled in with its column's mean in the training rows"
            if scaled
            else ""
        ),
        "text": f"text ({BATCH}, {len(graph.categorical)}): the categorical columns "
        f"{_listed([c for c, _ in graph.categorical])}, in this order, one-hot encoded by "
        "the graph: each row's category as written in the training file (without "
        "surrounding spaces); a category the model was not trained on sets none of its "
        "column's indicators",
    }
    classes = [] if graph.classes is None else graph.classes.tolist()
    k = len(classes)
    if graph.classes is None:
        width = "" if graph.n_outputs == 1 else f", {graph.n_outputs}"
        docs["values"] = f"{dtype} ({BATCH}{width}): the predicted values"
    elif graph.multilabel:
        docs["label"] = f"int64 ({BATCH}, {k}): 1 where a label is predicted (its probability "
        f"above 0.5), labels {_listed(classes)}"
        docs["probabilities"] = f"{dtype} ({BATCH}, {k}): each label's probability"
    else:
        kind_of = "text" if graph.classes.dtype.kind == "U" else str(graph.classes.dtype)
        docs["label"] = (
            f"{kind_of} ({BATCH},): the predicted class of each row, one of {_listed(classes)}"
        )
        docs["probabilities"] = (
            f"{dtype} ({BATCH}, {k}): the probability of each class, in the order "
            f"{_listed(classes)}"
        )
    doc = (
        f"A {kind(graph)} network of layer sizes {graph.sizes} ({graph.activation} hidden "
        f"layers), exported by portable_net {__version__}: traced from the forward pass "
        "its predict runs. It takes raw rows"
        + (" (standardised and missing values filled in by the graph)" if scaled else "")
        + f"; {BATCH}, the number of rows, is any."
    )
    metadata = {
        "portable_net_version": __version__,
        "kind": kind(graph),
        "activation": graph.activation,
        "feature_names": json.dumps(list(graph.feature_names)),
        "numeric_features": json.dumps(numeric),
        "standardized": json.dumps(scaled),
    }
    if graph.classes is not None:
        metadata["class_names"] = json.dumps(classes)
    if graph.categorical:
        metadata["categorical"] = json.dumps(
            {"columns": [c for c, _ in graph.categorical],
             "categories": [list(v) for _, v in graph.categorical]}
        )  # fmt: skip
    return docs, doc, metadata
