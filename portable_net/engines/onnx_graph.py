"""ONNX graphs traced from the library's own array API code, on ndonnx's lazy arrays.

ndonnx implements the array API standard on arrays that record each operation as an ONNX
node instead of computing it: the forward pass that ``predict`` runs on NumPy becomes, run on
ndonnx arrays, a graph that onnxruntime (or any ONNX runtime) runs without Python. This
module is the only one that names ndonnx and onnx: the arrays that stand for the graph's
inputs (:func:`argument`), the test that tells them from arrays with values
(:func:`is_symbolic`, behind :func:`portable_net.engines.is_traced`), and the model made of
the graph (:func:`build`: its documentation, metadata and opset).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import ndonnx as ndx
import onnx
from onnx import version_converter

__all__ = ["MIN_OPSET", "argument", "build", "is_symbolic", "latest_opset", "namespace"]

#: the lowest opset a traced graph converts to: ndonnx reduces boolean arrays (a maximum
#: checks for NaN so) with ReduceMax, which takes booleans from opset 20 on
MIN_OPSET = 20

#: the graph's element types by the names the library uses
_DTYPES = {"float32": ndx.float32, "float64": ndx.float64, "text": ndx.utf8}


def namespace() -> ModuleType:
    """The array API namespace whose arrays record a graph (ndonnx)."""
    return ndx


def latest_opset() -> int:
    """The newest opset the installed onnx package knows (converts to); onnxruntime may
    run only older ones."""
    return int(onnx.defs.onnx_opset_version())


def is_symbolic(x: Any) -> bool:
    """Whether the ndonnx array ``x`` stands for values not known yet (a graph's input, or
    computed from one), rather than holding constant values."""
    try:
        x.unwrap_numpy()
    except ValueError:  # "no propagated value available"
        return True
    return False


def argument(shape: tuple[Any, ...], dtype: str) -> Any:
    """An input of the graph: ``shape`` with a name (a string) for a size known only when
    the graph runs (the batch), ``dtype`` one of "float32", "float64", "text"."""
    return ndx.argument(shape=shape, dtype=_DTYPES[dtype])


def build(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    docs: Mapping[str, str],
    doc: str,
    metadata: Mapping[str, str],
    opset: int | None,
    producer: tuple[str, str],
) -> Any:
    """The ONNX model (``onnx.ModelProto``) of the graph from the argument arrays
    ``inputs`` to the arrays ``outputs``: each input and output documented by ``docs``
    (by name), the graph by ``doc``; ``metadata`` kept as the model's metadata properties
    (beside ndonnx's own); converted to ``opset`` (None: ndonnx's own) and checked by
    onnx's checker. ValueError when the conversion fails."""
    model = ndx.build(dict(inputs), dict(outputs))
    for value in [*model.graph.input, *model.graph.output]:
        value.doc_string = docs.get(value.name, "")
    model.graph.name = producer[0]
    model.graph.doc_string = doc
    model.producer_name, model.producer_version = producer
    props = {p.key: p.value for p in model.metadata_props}
    onnx.helper.set_model_props(model, {**props, **metadata})
    written = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset is not None and opset != written:
        try:
            model = version_converter.convert_version(model, opset)
        except (RuntimeError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"the graph cannot be converted to opset {opset}: {reason}") from None
    onnx.checker.check_model(model, full_check=True)
    return model
