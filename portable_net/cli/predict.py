"""``portable-net predict``: a saved model's labels (or probabilities) for a file's points."""

from __future__ import annotations

import argparse
import csv
import io
import warnings
from typing import Any

from .._backend import from_host
from .._text import one_line
from . import _categorical, _columns, _data, _run, _trained_on
from ._args import (
    BadInput,
    Failure,
    add_backend_options,
    add_model_argument,
    add_option,
)

NAME = "predict"
HELP = "print a saved model's answer (label, probabilities or value) for each row of a file"
DESCRIPTION = """\
Load a model saved by 'portable-net train --save' (or portable_net.save,
Classifier.save, Regressor.save) and print the predicted label of each point of
POINTS (or of --data FILE), one per line, in order, by its class name (as in the
training data); for a regression model, its predicted value (the values of a
model of several outputs separated by commas). The model runs exactly as it was
trained (its activation, output layer, classes and preprocessing, all recorded in
the file); a model predict cannot run exactly (a multilabel classifier) is
refused, naming what the file holds (exit status 2).

POINTS is a CSV file (or - for stdin) with one point per row, such as the file
the model was trained on: its label column is left out (a header column named
as the model's training label column, or 'label', or the column --label names),
and so is pandas' index column (an unnamed first column counting the rows, as
DataFrame.to_csv() writes it; with a note). The delimiter and decimal mark are
those of the model's training file unless --delimiter and --decimal say
otherwise. Blank lines and lines starting with # are skipped. POINTS is read to
at most 1 GiB (also from stdin or a pipe).

--data FILE reads the files 'train --data' reads: a CSV file (as POINTS), an
.npz archive with X (and y, ignored), or X.npy,y.npy (y ignored). A model
trained with --standardize has its saved statistics applied to the points
first; one trained with --missing mean fills in a missing value with its
training rows' mean (other models refuse a missing value, unless --missing mean
says to fill in the means of their standardisation). A regression model's
values are printed at full precision, in the shortest form that reads back to
the same number.

A model trained on a CSV file with a header takes the columns by name, in its
own order: the file must have a header naming every feature the model was
trained on and no other feature column (exit status 2 otherwise). A model
trained with --categorical one-hot encodes the same text columns with the
categories it saved; a category it was not trained on is exit status 2."""
EPILOG = """\
examples:
  portable-net predict wine.npz wine.csv      the training file: its label left out
  portable-net predict net.npz points.csv --proba --output proba.csv
  printf '0.5,0.5\\n-0.3,0.1\\n' | portable-net predict net.npz -
  portable-net predict digits.npz --data digits.csv --label digit"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument(
        "points",
        metavar="POINTS",
        nargs="?",
        default=None,
        help="the CSV file of points, or - for stdin (or give --data FILE)",
    )
    _data.add_data_options(
        parser,
        data_help="predict for the samples of FILE (instead of POINTS)",
        label_help="a CSV column to leave out (the labels), by header name or by index "
        "(0 is the first column, -1 the last) (default: none, but a header column named "
        "'label' or as the model's training label column)",
        from_model=True,
    )
    parser.add_argument(
        "--proba",
        action="store_true",
        help="print the probability of every class instead (comma-separated, one row per "
        "point, classes in order, under a header row P(class),...)",
    )
    _trained_on.add_missing_option(parser, ("error", "mean"))
    add_option(parser, "--output")
    add_backend_options(parser, dtype=False)


def read_points(
    path: str,
    n_features: int,
    *,
    delimiter: str = ",",
    decimal: str = ".",
    drop: int | str | None = None,
    drop_names: tuple[str, ...] = (),
    option: str = "argument POINTS",
    by_name: list[str] | None = None,
    missing: str | None = None,
    fill: list[float | None] | None = None,
) -> Any:
    """The points of a CSV file (N, n_features) as float64 NumPy, or BadInput naming the line.

    Read by the library's one CSV reader (``tabular.parse_csv``), at most ``MAX_BYTES``.
    Blank lines and lines starting with # are skipped; a first row of names is a header,
    and a column named ``label`` (as ``portable-net data`` writes) or one of ``drop_names``
    is left out, as is the column ``drop`` (a header name, or an index). POINTS may be
    ``-`` (stdin) or a pipe; --data is a regular file. With ``by_name`` (the model's
    feature names), the file must have a header naming them all and no other feature
    column: its columns are taken by name, in the model's order. ``missing="mean"``: a
    missing value is filled in with ``fill`` (one value per model input, in its order).
    """
    import numpy as np

    from ..csv_reader import (
        MAX_BYTES,
        Columns,
        CsvError,
        delimiter_hint,
        is_number,
        open_text,
        parse_csv,
    )

    name = "<stdin>" if path == "-" else path
    separated = "comma" if delimiter == "," else _data.delimiter_name(delimiter)

    def columns_of(fields: list[str], line: int) -> Columns:
        def bad(problem: str, hint: bool = True) -> CsvError:
            text = delimiter_hint(delimiter.join(fields), delimiter) if hint else ""
            return CsvError(problem + text, line)

        header = not any(is_number(f) for f in fields)
        if by_name is not None and not header:  # the model takes its columns by name
            raise bad(_columns.no_header(by_name), hint=False)
        n = len(fields)
        if not header and drop is None:
            keep = list(range(n_features))
            return Columns(
                n_features,
                tuple(keep),
                None,
                False,
                tuple(f"x{k}" for k in keep),
                f"the model has {n_features} inputs",
            )
        if isinstance(drop, str):
            if not header:
                raise bad(
                    f"no header row, so the column --label {drop!r} cannot be found; "
                    "give its index",
                    hint=False,
                )
            if drop not in fields:
                raise bad(
                    f"no column named {drop!r}; the columns are: {', '.join(fields)}", hint=False
                )
            dropped = fields.index(drop)
        elif drop is not None:
            if not -n <= drop < n:
                raise bad(f"--label {drop} is not a column: there are {n} (indices {-n}..{n - 1})")
            dropped = drop % n
        else:
            dropped = -1
        # a header's 'label' (or training label) column is left out, unless it is a feature
        names = {"label", *(d.lower() for d in drop_names)} - {n.lower() for n in by_name or ()}
        keep = [
            i for i, f in enumerate(fields) if i != dropped and not (header and f.lower() in names)
        ]
        if by_name is not None:  # the model's columns by name, in its order
            try:
                named = [fields[i] for i in keep]
                order = _columns.feature_order(named, by_name, subject="the header", verb="names")
                keep = [keep[j] for j in order]
            except ValueError as exc:
                raise bad(str(exc)) from None
        if len(keep) != n_features:
            if header:
                leave_out = option != "argument POINTS" and drop is None
                listed = one_line(", ".join(fields[i] for i in keep), 60)
                raise bad(
                    f"the header names {len(keep)} feature columns ({listed})"
                    f" but the model has {n_features} inputs"
                    + (" (--label leaves out a column)" if leave_out else "")
                )
            raise bad(
                f"{n} {separated}-separated values less the --label column "
                f"leave {len(keep)} features, but the model has {n_features} inputs"
            )
        kept = tuple(fields[i] if header else f"x{k}" for k, i in enumerate(keep))
        return Columns(n, tuple(keep), None, header, kept, f"as on line {line}")

    try:
        with open_text(path, MAX_BYTES, streams=option == "argument POINTS") as text:
            points, _, cols = parse_csv(
                text, columns_of, delimiter=delimiter, decimal=decimal, comments=True,
                missing=missing, index=True,
            )  # fmt: skip
        if cols.index:
            _data.index_note(NAME, path)
        if missing == "mean":
            from ..tabular import fill_in

            points = fill_in(name, points, np.isnan(points), cols.names, fill)[0]
    except FileNotFoundError:
        raise BadInput(f"{option}: {name!r} does not exist") from None
    except CsvError as exc:
        if exc.problem in ("holds no rows", "has a header but no data rows"):
            raise BadInput(f"{option}: {name} holds no points") from None
        where = f"{name} line {exc.line}:" if exc.line else f"{name!r}"
        column = f" (column {exc.column})" if exc.column is not None else ""
        message = f"{option}: {where} {exc.problem}{column}"
        if missing is None:  # the model refuses a missing value: what predict can do instead
            message = message.replace(
                "(a missing value)",
                "(a missing value: give --missing mean to fill in the training rows' means)",
            )
        raise BadInput(_data.cli_words(one_line(message))) from None
    except (ValueError, OSError) as exc:
        raise BadInput(f"{option}: {_data.cli_words(str(exc))}") from None
    return points


def _points(args: argparse.Namespace, meta: dict[str, Any]) -> Any:
    """The points to predict for (float64 NumPy), from POINTS or --data."""
    n_inputs = meta["layer_sizes"][0]
    label = _trained_on.recorded_label(meta)
    drop_names = (label,) if isinstance(label, str) else ()
    missing, fill, fill_in_order = _trained_on.missing_values(meta, labelled=False,
                                                             given=args.missing)  # fmt: skip
    encoding = _categorical.encoding_of(meta)
    if encoding is not None:  # text columns one-hot encoded as in training
        return _categorical.read_for_model(
            args.points if args.data is None else args.data,
            meta,
            encoding,
            option="POINTS" if args.data is None else "--data",
            sep=args.delimiter,
            decimal=args.decimal,
            label=args.label,
            drop_names=drop_names,
            missing=missing,
            fill=fill,
        )[0]
    by_name = _columns.recorded_names(meta)
    if args.data is None or _data.is_csv(args.data):
        return read_points(
            args.points if args.data is None else args.data,
            n_inputs,
            delimiter=args.delimiter,
            decimal=args.decimal,
            drop=args.label,
            drop_names=drop_names,
            option="argument POINTS" if args.data is None else "argument --data",
            by_name=by_name,
            missing=missing,
            fill=fill_in_order,
        )
    X = _data.read(args.data, None, args.delimiter, command=NAME).X  # .npz, .npy pair: no y
    _data.check_n_features(X, n_inputs, f"argument --data: {args.data!r}")
    return X


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import numpy as np

    from ..model import class_probabilities, decided_labels, outputs

    if args.points is None and args.data is None:
        parser.error("the following arguments are required: POINTS (or give --data FILE)")
    if args.points is not None and args.data is not None:
        parser.error("give the points as POINTS or as --data FILE, not both")
    if args.data is not None:  # POINTS: a CSV file, which the options describe alike
        _data.check_data_options(args, parser)
    xp, device = _run.backend_namespace(parser, args, True)
    _run.check_outputs(parser, {"--output": args.output}, (args.model, args.points, args.data))
    params, meta = _run.load_model(args.model, xp, device)
    _run.check_model_kind(args.model, meta, ("classifier", "regressor"), NAME)
    _trained_on.apply_dialect(args, parser, meta)
    regression = meta["kind"] == "regressor"
    if regression and args.proba:
        parser.error("argument --proba: a regression model predicts values, not classes")
    classes = None if regression else _run.classes_of(args.model, meta)
    scaler = _trained_on.standardizer_of(meta)
    points = _trained_on.scaled(scaler, _points(args, meta), "the points")
    X = from_host(xp, points, params["W1"].dtype, device)
    way = {"activation": meta["activation"], "output": _run.output_layer(meta)}
    with warnings.catch_warnings():  # numpy's overflow warnings: non-finite results are reported
        warnings.simplefilter("ignore", RuntimeWarning)
        out = _run.to_host(outputs(params, X, **way) if regression else
                           class_probabilities(params, X, **way))  # fmt: skip
        labels = None if regression else _run.to_host(decided_labels(params, X, None, **way))
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if bad.size:  # finite weights and points can still overflow the scores
        what = "predictions" if regression else "probabilities"
        raise Failure(
            f"the model's {what} are not finite for {bad.size} of {len(out)} points "
            f"(the first is point {bad[0] + 1}): its outputs overflow"
        )
    inputs = (args.model, args.points, args.data)
    with _run.output_file(args.output, inputs) as out_file:
        if regression:  # one value per point (comma-separated for several outputs)
            for start in range(0, out.shape[0], _ROWS):
                rows = out[start : start + _ROWS].tolist()
                out_file.write("".join(",".join(map(repr, r)) + "\n" for r in rows))
        elif args.proba:
            assert classes is not None
            header = io.StringIO()
            csv.writer(header, lineterminator="\n").writerow(f"P({c})" for c in classes)
            out_file.write(header.getvalue())
            for start in range(0, out.shape[0], _ROWS):
                rows = out[start : start + _ROWS].tolist()
                out_file.write("".join(",".join(f"{p:.6g}" for p in r) + "\n" for r in rows))
        else:
            assert classes is not None and labels is not None
            names = [str(c) for c in classes]
            out_file.write("".join(f"{names[i]}\n" for i in labels.tolist()))
    return 0


#: rows formatted at a time (the text is never whole in memory)
_ROWS = 1 << 16
