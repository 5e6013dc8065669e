"""``portable-net predict``: a saved model's labels (or probabilities) for a CSV file's points."""

from __future__ import annotations

import argparse
import csv
import math
import sys
import warnings
from typing import Any

from . import _run
from ._args import BadInput, Failure, add_backend_options, add_model_argument, add_option

NAME = "predict"
HELP = "print a saved model's label (or probabilities) for each point of a CSV file"
DESCRIPTION = """\
Load a model saved by 'portable-net train --save' (or portable_net.save) and
print the predicted label of each point of POINTS, one per line, in order.

POINTS is a CSV file (or - for stdin) with one point per row: as many
comma-separated numbers as the model has inputs (2 for the spiral). Blank lines
and lines starting with # are skipped; a first row of column names is a header,
and a column named 'label' is left out, so 'portable-net data' output works."""
EPILOG = """\
examples:
  portable-net predict net.npz points.csv
  portable-net predict net.npz points.csv --proba --output proba.csv
  printf '0.5,0.5\\n-0.3,0.1\\n' | portable-net predict net.npz -"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument("points", metavar="POINTS", help="the CSV file of points, or -")
    parser.add_argument(
        "--proba",
        action="store_true",
        help="print the probability of every class instead (comma-separated, one row per "
        "point, classes in order)",
    )
    add_option(parser, "--output")
    add_backend_options(parser, dtype=False)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _read_text(path: str, name: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except FileNotFoundError:
        raise BadInput(f"argument POINTS: {name!r} does not exist") from None
    except IsADirectoryError:
        raise BadInput(f"argument POINTS: {name!r} is a directory") from None
    except UnicodeDecodeError:
        raise BadInput(f"argument POINTS: {name!r} is not a UTF-8 text file") from None
    except OSError as exc:
        raise BadInput(f"argument POINTS: cannot read {name!r}: {exc.strerror or exc}") from None


def read_points(path: str, n_features: int) -> Any:
    """The points of a CSV file (N, n_features) as float64 NumPy, or BadInput naming the line.

    Blank lines and lines starting with # are skipped; a first row of names is a header,
    and a column named ``label`` (as ``portable-net data`` writes) is left out.
    """
    import numpy as np

    name = "<stdin>" if path == "-" else path
    text = _read_text(path, name)

    def bad(problem: str) -> BadInput:
        return BadInput(f"argument POINTS: {name} line {reader.line_num}: {problem}")

    rows: list[list[float]] = []
    n_columns, keep = n_features, list(range(n_features))  # without a header
    header = False
    reader = csv.reader(text.splitlines())
    while True:
        try:
            fields = next(reader, None)
        except csv.Error as exc:  # a field over csv.field_size_limit(), a NUL byte, ...
            raise bad(str(exc)) from None
        if fields is None:
            break
        fields = [f.strip() for f in fields]
        if not fields or fields == [""] or fields[0].startswith("#"):
            continue
        values = [_number(f) for f in fields]
        if not rows and not header and all(v is None for v in values):  # a header row
            header = True
            n_columns = len(fields)
            keep = [i for i, f in enumerate(fields) if f.lower() != "label"]
            if len(keep) != n_features:
                names = ", ".join(fields[i] for i in keep)
                raise bad(
                    f"the header names {len(keep)} feature columns ({names}) "
                    f"but the model has {n_features} inputs"
                )
            continue
        if len(fields) != n_columns:
            raise bad(
                f"expected {n_columns} comma-separated values"
                f"{'' if header else f' (the model has {n_features} inputs)'}, "
                f"got {len(fields)}"
            )
        point = [values[i] for i in keep]
        for i, v in zip(keep, point):
            if v is None:
                raise bad(f"{fields[i]!r} is not a number")
            if not math.isfinite(v):
                raise bad(f"{fields[i]!r} is not a finite number")
        rows.append(point)
    if not rows:
        raise BadInput(f"argument POINTS: {name} holds no points")
    return np.asarray(rows, dtype=np.float64)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import numpy as np

    from .. import predict, predict_proba

    xp, device = _run.namespace(parser, args, True)
    _run.check_output(parser, "--output", args.output)
    params, meta = _run.load_model(args.model, xp, device)
    classes = _run.classes_of(args.model, meta)
    points = read_points(args.points, meta["layer_sizes"][0])
    X = xp.asarray(points, dtype=params["W1"].dtype, device=device)
    with warnings.catch_warnings():  # numpy's overflow warnings: non-finite results are reported
        warnings.simplefilter("ignore", RuntimeWarning)
        proba = _run.to_host(predict_proba(params, X))
        labels = _run.to_host(predict(params, X)).tolist()
    bad = np.flatnonzero(~np.isfinite(proba).all(axis=1))
    if bad.size:  # finite weights and points can still overflow the scores
        raise Failure(
            f"the model's probabilities are not finite for {bad.size} of {len(proba)} points "
            f"(the first is point {bad[0] + 1}): its scores overflow"
        )
    with _run.output(args.output) as out:
        if args.proba:
            for row in proba.tolist():
                out.write(",".join(f"{p:.6g}" for p in row) + "\n")
        else:
            out.write("".join(f"{classes[i]}\n" for i in labels))
    return 0
