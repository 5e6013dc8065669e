"""``portable-net evaluate``: a saved model's accuracy and loss on a spiral, or on a file."""

from __future__ import annotations

import argparse
import math
import warnings
from typing import Any

from .._backend import from_host
from .._text import one_line
from ..io import describe
from . import _categorical, _columns, _data, _regression, _run, _trained_on
from ._args import (
    MAX_PER_CLASS,
    MAX_SEED,
    BadInput,
    Failure,
    add_backend_options,
    add_model_argument,
    add_option,
    add_spiral_options,
    check_spiral_size,
)

#: the most spiral points drawn from what a model file records (more need --n-per-class)
MAX_RECORDED_POINTS = 100_000

NAME = "evaluate"
HELP = "print a saved model's scores on a labelled file of yours (or on a spiral)"
DESCRIPTION = """\
Load a saved model and print its scores on your labelled data (--data FILE), read
as 'train --data' reads it (a CSV file with its label column: the model's training
label column by default, else the last; an .npz archive with X and y; or
X.npy,y.npy): its accuracy and loss (the mean cross-entropy, without the L2
penalty) with a per-class table (precision, recall, f1, support) and, with
--confusion, the confusion matrix; or, for a regression model, its R^2 and mean
squared error. The labels must be among the model's classes (as named in its
training data); the delimiter and decimal mark default to the model's training
file's; a model trained with --standardize has its saved statistics applied
first, one trained with --missing mean fills in missing values with its training
means and one trained with --missing drop drops their rows; pandas' index column
is left out. A model trained on a CSV file with a header takes a CSV file's
columns by name, in its own order: the header must name every feature the model
was trained on and no other feature column (exit status 2 otherwise). A model
evaluate cannot run exactly (a multilabel classifier, a regressor of several
outputs) is refused, naming what the file holds.

Without --data, on a spiral: by default the spiral it was trained on, as
recorded by 'portable-net train --save' (at most 100,000 points from the record:
give --n-per-class for more); choose another with --seed."""
EPILOG = """\
examples:
  portable-net evaluate wine.npz --data wine.csv --confusion
  portable-net evaluate net.npz
  portable-net evaluate net.npz --seed 1 --n-per-class 1000
  portable-net evaluate digits.npz --data digits.csv --label digit --confusion"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_spiral_options(parser, from_model=True)
    add_option(
        parser,
        "--noise",
        default=None,
        help="standard deviation of the angular noise (>= 0) (default: 0.2)",
    )
    _data.add_data_options(
        parser,
        data_help="evaluate on the labelled samples of FILE instead of a spiral",
        label_help="the label column of a CSV file, by header name or by index (0 is the "
        "first column, -1 the last) (default: the model's training label column, else the "
        "last column)",
        from_model=True,
    )
    parser.add_argument(
        "--confusion",
        action="store_true",
        help="with --data, also print the confusion matrix (rows: true class, columns: "
        "predicted class)",
    )
    _trained_on.add_missing_option(parser, ("error", "drop", "mean"))
    add_option(parser, "--json")
    add_backend_options(parser, dtype=False)


def _recorded(path: str, data: Any, key: str, default: int, low: int, high: int) -> int:
    """A spiral setting recorded in the model file, checked as its option is."""
    value = data.get(key, default) if isinstance(data, dict) else default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadInput(
            f"{path!r}: its recorded {key} {one_line(repr(value), 60)} is not an integer in "
            f"[{low}, {high:,}] (give --{key.replace('_', '-')})"
        )
    return value


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _data.check_data_options(args, parser)
    if args.data is not None:
        for option in ("--n-per-class", "--seed", "--noise"):
            if getattr(args, option[2:].replace("-", "_")) is not None:
                parser.error(f"argument {option}: applies to the spiral; --data gives the data")
        return _run_on_data(args, parser)
    if args.confusion:
        parser.error("argument --confusion: applies to --data FILE only")
    args.noise = 0.2 if args.noise is None else args.noise
    return _run_on_spiral(args, parser)


def _run_on_data(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    xp, device = _run.backend_namespace(parser, args, True)
    params, meta = _run.load_model(args.model, xp, device)
    _run.check_model_kind(args.model, meta, ("classifier", "regressor"), NAME)
    _trained_on.apply_dialect(args, parser, meta)
    if args.label is None:
        args.label = _trained_on.recorded_label(meta)
    regression = meta["kind"] == "regressor"
    if regression and meta["layer_sizes"][-1] != 1:
        raise BadInput(
            f"{args.model!r} holds {describe(meta)}; evaluate compares one --label column "
            "with one output: use portable_net.Regressor.load and its score"
        )
    classes = None if regression else _run.classes_of(args.model, meta)
    scaler = _trained_on.standardizer_of(meta)
    encoding = _categorical.encoding_of(meta)
    missing, fill, _ = _trained_on.missing_values(meta, labelled=True, given=args.missing)
    if encoding is None:
        X, labels, names, *_ = _data.read(
            args.data, args.label, args.delimiter, decimal=args.decimal, missing=missing,
            fill=fill, command=NAME,
        )  # fmt: skip
        X = _columns.reordered(X, names, meta, args.data)  # a model with names: by name
    else:  # text columns one-hot encoded as in training, the columns by name
        X, labels = _categorical.read_for_model(
            args.data, meta, encoding, option="--data", sep=args.delimiter,
            decimal=args.decimal, labelled=True, label=args.label, missing=missing, fill=fill,
        )  # fmt: skip
    _data.check_n_features(X, meta["layer_sizes"][0], f"argument --data: {args.data!r}")
    X = _trained_on.scaled(scaler, X, f"argument --data: {args.data!r}")
    if regression:
        return _regression_scores(args, params, meta, xp, device, X, labels, scaler)
    assert classes is not None
    y = _data.class_indices(labels, classes, args.data, "--data")
    acc, loss, predicted = _scores(params, meta, xp, device, X, y)
    if not math.isfinite(loss):  # finite weights can still overflow the scores
        raise Failure(f"the model's loss on {args.data!r} is {loss}: its scores overflow")
    table = _data.per_class(y, predicted, len(classes))
    if args.json:
        _run.print_json(
            {
                "accuracy": acc,
                "loss": loss,
                "data": args.data,
                "rows": int(X.shape[0]),
                "classes": classes,
                "standardize": scaler is not None,
                **_data.report_json(classes, table, args.confusion),
            }
        )
        return 0
    print(
        f"data: {args.data}: {X.shape[0]} rows, {X.shape[1]} features, {len(classes)} classes"
        + (" (standardized as in training)" if scaler is not None else "")
    )
    print(f"accuracy: {acc:.4f}")
    print(f"loss: {loss:.6f}")
    print("\n".join(_data.report_lines(classes, table, args.confusion)))
    return 0


def _scores(
    params: Any, meta: Any, xp: Any, device: Any, X: Any, y: Any
) -> tuple[float, float, Any]:
    """(accuracy, mean loss without the penalty, predicted class indices) of a classifier
    on host features ``X`` and class indices ``y``, run as the model was trained (its
    activation and output layer)."""
    import numpy as np

    from .._backend import int_dtype
    from ..model import decided_labels, mean_loss

    X_xp = X if not isinstance(X, np.ndarray) else from_host(xp, X, params["W1"].dtype, device)
    way = {"activation": meta["activation"], "output": _run.output_layer(meta)}
    if way["output"] == "logistic":  # one output: the index of the class is its target
        targets = from_host(xp, np.asarray(_run.to_host(y), dtype=np.float64)[:, None],
                            params["W1"].dtype, device)  # fmt: skip
    else:
        targets = (
            y if not isinstance(y, np.ndarray) else from_host(xp, y, int_dtype(xp, device), device)
        )
    with warnings.catch_warnings():  # numpy's overflow warnings: non-finite results are reported
        warnings.simplefilter("ignore", RuntimeWarning)
        predicted = _run.to_host(decided_labels(params, X_xp, None, **way))
        loss = float(mean_loss(params, X_xp, targets, **way))
    acc = float(np.mean(predicted == _run.to_host(y)))
    return acc, loss, predicted


def _regression_scores(args: argparse.Namespace, params: Any, meta: Any, xp: Any, device: Any,
                       X: Any, labels: Any, scaler: Any) -> int:  # fmt: skip
    """A regression model on --data: R^2 and the mean squared error of the --label column."""
    y = _regression.real_targets(labels, args.data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        values = _regression.predict_values(
            params, meta, from_host(xp, X, params["W1"].dtype, device)
        )
    scores = _regression.evaluate(values, y)
    if not math.isfinite(scores["mse"]):
        raise Failure(f"the model's predictions on {args.data!r} are not finite")
    if args.json:
        _run.print_json({**scores, "data": args.data, "rows": int(X.shape[0]),
                         "task": "regression", "standardize": scaler is not None})  # fmt: skip
        return 0
    print(f"data: {args.data}: {X.shape[0]} rows, {X.shape[1]} features, a real target"
          + (" (standardized as in training)" if scaler is not None else ""))  # fmt: skip
    print(f"R^2: {scores['r2']:.4f}")
    print(f"mean squared error: {scores['mse']:.6g}")
    return 0


def _run_on_spiral(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    xp, device = _run.backend_namespace(parser, args, True)
    params, meta = _run.load_model(args.model, xp, device)
    if meta["kind"] == "regressor":
        raise BadInput(
            f"{args.model!r} holds {describe(meta)}; evaluate it on its data with --data"
        )
    _run.check_model_kind(args.model, meta, ("classifier",), NAME)
    sizes = meta["layer_sizes"]
    n_classes = len(meta["classes"])
    if sizes[0] != 2:
        raise BadInput(f"{args.model!r}: the model has {sizes[0]} inputs; the spiral has 2")
    data = meta.get("data")
    classes = _run.classes_of(args.model, meta)
    if classes != list(range(n_classes)):  # the spiral's labels are 0..K-1
        raise BadInput(
            f"{args.model!r}: its classes ({one_line(', '.join(map(str, classes)), 80)}) "
            f"are not the spiral's 0..{n_classes - 1}; evaluate it on its data with --data"
        )
    scaler = _trained_on.standardizer_of(meta)
    n_per_class = args.n_per_class
    if n_per_class is None:
        n_per_class = _recorded(args.model, data, "n_per_class", 100, 1, MAX_PER_CLASS)
        if n_per_class * n_classes > MAX_RECORDED_POINTS:  # a file's word sizes no large draw
            raise BadInput(
                f"{args.model!r}: its recorded spiral of {n_per_class:,} points per class x "
                f"{n_classes:,} classes is more than the {MAX_RECORDED_POINTS:,} points "
                "evaluate draws from a model file's record; give --n-per-class to draw more"
            )
    seed = args.seed
    if seed is None:
        seed = _recorded(args.model, data, "seed", 0, 0, MAX_SEED)
    too_many = check_spiral_size(n_per_class, n_classes)
    if too_many:  # checked before anything is drawn
        parser.error(f"argument --n-per-class: {too_many} (the model's classes)")
    try:
        X, y = _data.finite_spiral(
            "--noise",
            args.noise,
            n_per_class=n_per_class,
            n_classes=n_classes,
            seed=seed,
            xp=xp,
            device=device,
            dtype=meta["dtype"] if params["W1"].dtype == xp.float64 else "float32",
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    if scaler is not None:  # the model learnt from standardized features
        X_host = _trained_on.scaled(scaler, _run.to_host(X), "the spiral")
        X = from_host(xp, X_host, X.dtype, device)
    acc, loss, _ = _scores(params, meta, xp, device, X, y)
    if not math.isfinite(loss):  # finite weights can still overflow the scores
        raise Failure(f"the model's loss on the spiral is {loss}: its scores overflow")
    if args.json:
        _run.print_json(
            {
                "accuracy": acc,
                "loss": loss,
                "n_per_class": n_per_class,
                "classes": n_classes,
                "seed": seed,
                "noise": args.noise,
            }
        )
    else:
        print(f"spiral: seed {seed}, {n_per_class} points per class, {n_classes} classes")
        print(f"accuracy: {acc:.4f}")
        print(f"loss: {loss:.6f}")
    return 0
