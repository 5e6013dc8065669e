"""``portable-net inspect``: what a saved model is and what it learnt from, read by the one
reader of model files (:func:`portable_net.load`, :func:`portable_net.io.describe`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .._text import one_line
from . import _run
from ._args import add_model_argument, add_option

NAME = "inspect"
HELP = "describe a saved model: its layers, inputs, classes, preprocessing, training, scores"
DESCRIPTION = """\
Print what a model file holds, whoever wrote it (train --save, an interrupted
run, Classifier.save, Regressor.save, portable_net.save): what the model is (its
kind, layers, activation and output layer), its inputs (the feature names, or by
position), its classes or targets, how it prepares a point (the standardisation,
the one-hot encoded text columns, the missing-value policy and its fill), the CSV
dialect of its training file, how it was trained (the estimator and its
settings, or portable_net.train's, and where it stopped), the data it learnt
from and its scores, the file's size and the library version that wrote it.

The file is read as predict reads it (checked whole; nothing in it is executed);
a file that is not a model is one line on stderr and exit status 2."""
EPILOG = """\
examples:
  portable-net inspect wine.npz
  portable-net inspect wine.npz --json"""

#: the most names listed on one line (the rest counted)
_SHOWN = 12


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_option(parser, "--json", help="print one JSON object instead: everything the file says")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import numpy as np

    from ..io import describe

    _, meta = _run.load_model(args.model, np, None)
    size = os.stat(args.model).st_size
    sizes = meta["layer_sizes"]
    weights = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if args.json:
        _run.print_json({"file": args.model, "bytes": size, "parameters": weights,
                         "description": describe(meta), **meta})  # fmt: skip
        return 0
    for line in lines(args.model, size, weights, meta):
        print(line)
    return 0


def lines(path: str, size: int, weights: int, meta: dict[str, Any]) -> list[str]:
    """The description, line by line."""
    from ..io import describe

    sizes = meta["layer_sizes"]
    pre, dialect = meta["preprocessing"], meta["dialect"]
    out = [
        f"{path}: {size:,} bytes, model format {meta['format_version']}, written by "
        f"portable_net {meta['portable_net_version']}",
        f"model: {describe(meta)}",
        f"layers: {_layers(sizes, meta)} ({weights:,} weights, {meta['dtype']})",
    ]
    if meta["kind"] == "regressor":
        label = dialect["label"] if dialect else None
        named = f" ({label})" if isinstance(label, str) else ""
        out.append(f"targets: {sizes[-1]} real value{'s' if sizes[-1] > 1 else ''}{named}")
    else:
        out.append(f"classes: {_listed(meta['classes'])}")
    names = pre["feature_names"]
    inputs = f"{sizes[0]}, by name: {_listed(names)}" if names else f"{sizes[0]}, by position"
    out.append(f"inputs: {inputs}")
    scaled = pre["standardize"]
    out.append("scaling: " + ("none" if scaled is None else
                              "standardized by the training rows' mean and scale (recorded)"))  # fmt: skip
    encoded = pre["categorical"]
    out.append("categorical: " + ("none" if encoded is None else "; ".join(
        f"{c} ({_listed(v)})" for c, v in zip(encoded["columns"], encoded["categories"]))))  # fmt: skip
    missing = pre["missing"]
    policy = "refused" if missing is None else {
        "error": "refused", "drop": "their rows dropped (evaluate)",
        "mean": "filled in with the training rows' means",
    }[missing["policy"]]  # fmt: skip
    out.append(f"missing values: {policy}")
    if dialect is not None:
        label = dialect["label"]
        out.append(
            f"CSV dialect: delimiter {_char(dialect['delimiter'])}, decimal mark "
            f"{_char(dialect['decimal'])}, label column "
            + ("the last" if label is None else one_line(repr(label), 80))
        )
    out.extend(_training(meta))
    return out


def _layers(sizes: list[int], meta: dict[str, Any]) -> str:
    hidden = " -> ".join(f"{n} {meta['activation']}" for n in sizes[1:-1])
    return " -> ".join(filter(None, (f"{sizes[0]} inputs", hidden,
                                     f"{sizes[-1]} {meta['output']}")))  # fmt: skip


def _listed(values: Any) -> str:
    values = [str(v) for v in values]
    more = len(values) - _SHOWN
    shown = ", ".join(values[:_SHOWN]) + (f", ... ({more} more)" if more > 0 else "")
    return one_line(shown, 400)


def _char(value: Any) -> str:
    return "not recorded" if value is None else ("tab" if value == "\t" else repr(value))


#: what a file's metadata says of its training, and how to show it
_SCORES = ("training_accuracy", "test_accuracy", "training_r2", "test_r2", "training_mse",
           "test_mse")  # fmt: skip


def _training(meta: dict[str, Any]) -> list[str]:
    """How the model was trained, on what, and its scores, as far as the file says."""
    out = []
    settings, fitted = meta.get("settings"), meta.get("fitted")
    if isinstance(meta.get("estimator"), str) and isinstance(settings, dict):
        shown = ", ".join(f"{k} {_value(v)}" for k, v in settings.items()
                          if k not in ("verbose", "warm_start"))  # fmt: skip
        out.append(f"trained by: portable_net.{meta['estimator']} ({one_line(shown, 600)})")
        if isinstance(fitted, dict) and isinstance(fitted.get("n_iter_"), int):
            loss = fitted.get("loss_")
            out.append(f"training: {fitted['n_iter_']} epochs"
                       + (f", final loss {loss:.6g}" if isinstance(loss, float) else ""))  # fmt: skip
    elif isinstance(meta.get("training"), dict):
        shown = ", ".join(f"{k} {_value(v)}" for k, v in meta["training"].items())
        out.append(f"trained by: portable_net.train ({one_line(shown, 600)})")
        history = meta.get("history")
        if isinstance(history, dict) and isinstance(history.get("final_loss"), float):
            out.append(f"training: final loss {history['final_loss']:.6g}")
    for key in ("interrupted_at_step", "interrupted_at_epoch"):
        if isinstance(meta.get(key), int):
            out.append(f"interrupted at {key.rsplit('_', 1)[-1]} {meta[key]}")
    data = meta.get("data")
    if isinstance(data, dict) and isinstance(data.get("file"), str):
        rows = data.get("rows")
        held = data.get("test_rows")
        out.append(f"data: {one_line(data['file'], 200)}"
                   + (f", {rows:,} rows" if isinstance(rows, int) else "")
                   + (f", {held:,} held out for testing" if isinstance(held, int) else ""))  # fmt: skip
    elif isinstance(data, dict) and "n_per_class" in data:
        out.append(f"data: the spiral, {_value(data.get('n_per_class'))} points per class, "
                   f"{_value(data.get('classes'))} classes, seed {_value(data.get('seed'))}")  # fmt: skip
    scores = [_score(k, meta[k]) for k in _SCORES if isinstance(meta.get(k), float)]
    if scores:
        out.append("scores: " + ", ".join(scores))
    where = [meta[k] for k in ("backend", "device") if isinstance(meta.get(k), str)]
    if where:
        out.append("trained on: " + ", ".join(one_line(w, 80) for w in where))
    return out


def _score(key: str, value: float) -> str:
    """``training_r2`` -> "training R^2 0.9123"; a mean squared error to 6 digits."""
    on, what = key.split("_", 1)
    words = {"accuracy": "accuracy", "r2": "R^2", "mse": "mean squared error"}[what]
    return f"{on} {words} {value:.6g}" if what == "mse" else f"{on} {words} {value:.4f}"


def _value(value: Any) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(map(str, value)) + ")"
    return one_line(str(value), 80)
