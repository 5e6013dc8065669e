"""``portable-net export``: a saved model as an ONNX graph, which onnxruntime runs anywhere."""

from __future__ import annotations

import argparse

from . import _run
from ._args import BadInput, add_model_argument, integer

NAME = "export"
HELP = "write a saved model as an ONNX graph, which onnxruntime runs without Python"
DESCRIPTION = """\
Write the model saved in MODEL (by 'portable-net train --save', or a Classifier's
or Regressor's save) to OUT.onnx as an ONNX graph: the forward pass that
'portable-net predict' runs, traced into a graph (not written anew), which
onnxruntime runs on a CPU, a GPU, a phone or in a browser, without Python or
portable_net. It answers as 'portable-net predict' does, for any number of rows.

The graph takes the raw rows: input X holds the numeric features in the order
of the training file's columns (named in its documentation and in the model's
metadata property 'feature_names'). A model trained with --standardize has its
saved statistics applied inside the graph, and there a missing value (NaN) is
filled in with its column's mean in the training rows. A model trained with
--categorical takes its text columns as a second input, 'text' (one string per
row and column), and one-hot encodes them inside the graph.

A classifier's graph gives 'label' (the class name of each row) and
'probabilities' (one column per class, in the order of the metadata property
'class_names'); a regression model's gives 'values'.

Needs the onnx extra: pip install 'portable-net[onnx]' (ndonnx, onnx and
onnxruntime); without it the command says so (exit status 2). OUT.onnx is
replaced whole or not at all."""
EPILOG = """\
examples:
  portable-net export net.npz net.onnx
  portable-net export net.npz net32.onnx --dtype float32
  portable-net export net.npz net.onnx --opset 20"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument("output", metavar="OUT.onnx", help="the ONNX file to write")
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=None,
        help="the graph's floating type: its input X, weights and outputs (default: the model's)",
    )
    parser.add_argument(
        "--opset",
        type=integer(minimum=1),
        default=None,
        help="the ONNX opset of the graph, 20 or newer (default: ndonnx's, 21)",
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ..export import (
        export,
        file_graph,
        install_hint,
        kind,
        missing_packages,
        opset_problem,
        serialized,
    )

    missing = missing_packages()
    if missing:
        raise BadInput(install_hint(missing))
    if args.output == "-":
        parser.error("argument OUT.onnx: give a file name (an ONNX graph is binary)")
    if args.opset is not None and opset_problem(args.opset):
        parser.error(f"argument --opset: {opset_problem(args.opset)}")
    _run.check_output_path(parser, "OUT.onnx", args.output, (args.model,))
    # the file read as predict reads it: io.load, which checks what the model is
    params, meta = _run.load_model(args.model, None, None)
    try:
        graph = file_graph(params, meta)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"{args.model!r}: {exc}") from None
    model = export(graph, None, dtype=args.dtype, opset=args.opset)
    try:
        data = serialized(model)
    except ValueError as exc:
        raise BadInput(f"{args.model!r}: {exc}") from None
    with _run.replacing(args.output, "the graph ", (args.model,)) as f:
        f.write(data)
    inputs = ", ".join(
        f"{v.name} ({', '.join(d.dim_param or str(d.dim_value) for d in v.type.tensor_type.shape.dim)})"
        for v in model.graph.input
    )
    outputs = ", ".join(v.name for v in model.graph.output)
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    print(
        f"wrote {args.output}: the {kind(graph)} model as an ONNX graph (opset {opset}); "
        f"inputs {inputs}; outputs {outputs}"
    )
    return 0
