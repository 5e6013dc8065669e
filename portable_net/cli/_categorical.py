"""--categorical: a CSV file's text (categorical) feature columns one-hot encoded, as
scikit-learn's ``OneHotEncoder`` does, and the encoding kept in the model file.

The encoded features are the numeric columns in the file's order, then each categorical
column's indicators (in the file's order of the columns), one per category, named
``column=value`` (the columns ``pandas.get_dummies(df, columns=..., prefix_sep="=")``
gives). A column's categories are its distinct values (stripped text), sorted as numbers
when all are numbers, else as text. The model file keeps them under ``categorical``
(``{"columns": [...], "categories": [[...], ...]}``), and predict and evaluate encode their
files the same way: a category the model was not trained on is refused (exit status 2,
naming the column and the value), as ``OneHotEncoder(handle_unknown="error")`` does. A
missing category (an empty field, NA, ...) is refused, or its row dropped by
``--missing drop``. With --standardize only the numeric columns are scaled (the
indicators are kept 0/1, saved as mean 0 and scale 1), as a ``ColumnTransformer`` of
``OneHotEncoder`` and ``StandardScaler`` does.

A file read with --categorical needs a header row: the columns are named by it (the
option also takes 0-based indices of the file's columns).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import _columns, _data
from ._args import BadInput, one_line, shown

#: --categorical's word for "every feature column that holds text"
AUTO = "auto"
#: the most categories one column may have (each is one input of the net)
MAX_CATEGORIES = 1000


def categorical_option(text: str) -> str | list[int | str]:
    """--categorical: ``auto``, or comma-separated column names or 0-based indices."""
    if text.strip() == AUTO:
        return AUTO
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(
            f"expected 'auto' or comma-separated column names or indices, got {shown(text)}"
        )
    return [_data.label_column(p) for p in parts]


def add_categorical_option(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "--categorical",
        metavar="COLS",
        type=categorical_option,
        default=None,
        help="one-hot encode these text feature columns of a CSV file with a header "
        "(comma-separated names or 0-based indices; 'auto': every feature column holding "
        "text, named in a note): one input per category (sorted), named column=value; "
        "the categories are saved in the model and predict and evaluate encode their files "
        "the same way (a category unseen in training is refused); --standardize scales "
        "only the numeric columns",
    )


def check_categorical_option(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """--categorical needs --data FILE, a CSV file (classification or regression alike)."""
    if args.categorical is None:
        return
    if args.data is None:
        parser.error("argument --categorical: applies to --data FILE only")
    if not _data.is_csv(args.data):
        parser.error(
            f"argument --categorical: encodes a CSV file's text columns; {args.data!r} holds "
            "numbers only"
        )


_TEXT_FIELD = re.compile(r"column \d+ \('(.*)'\): '[^']*' is not a number$")


def text_hint(message: str) -> str:
    """train's message about a field that is not a number, with --categorical named when
    the field is text (not a decimal comma or another delimiter, which have their hints)."""
    found = _TEXT_FIELD.search(message)
    if found is None:
        return message
    return (
        f"{message}; to one-hot encode a text column give --categorical "
        f"{one_line(found.group(1), 60)} (or --categorical auto)"
    )


# --- the encoding ----------------------------------------------------------------------------


@dataclass
class Encoding:
    """The categories (in order) of each one-hot encoded column."""

    columns: list[str]
    categories: list[list[str]]

    def names(self) -> list[str]:
        return [f"{c}={v}" for c, values in zip(self.columns, self.categories) for v in values]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "categories": [list(v) for v in self.categories]}


def _sorted(values: set[str]) -> list[str]:
    from ..csv_reader import is_number

    if all(is_number(v) for v in values):
        return sorted(values, key=lambda v: (float(v), v))
    return sorted(values)


def encoding_of(meta: dict[str, Any]) -> Encoding | None:
    """The model's encoding (its ``preprocessing.categorical``, checked by the loader: every
    category an input named ``column=value``), or None."""
    saved = meta["preprocessing"]["categorical"]
    if saved is None:
        return None
    return Encoding(list(saved["columns"]), [list(v) for v in saved["categories"]])


# --- reading a CSV file with text columns ---------------------------------------------------


@dataclass
class Table:
    """A CSV file's rows: the numeric features, the labels, the categorical columns' texts."""

    X: Any
    labels: Any
    names: list[str]
    cat_names: list[str]
    cat_values: list[list[str]]
    cat_lines: list[int]
    #: the value filled in for each numeric column (``--missing mean``), or None
    fill: list[float | None] | None = None


#: the columns planned from the header and the file's text: (label column or None, columns
#: left out, categorical columns), all 0-based
Plan = Callable[[list[str], str], "tuple[int | None, set[int], list[int]]"]


def _column_index(fields: list[str], column: int | str, what: str) -> int:
    n = len(fields)
    if isinstance(column, str):
        matches = [j for j, f in enumerate(fields) if f == column]
        if len(matches) != 1:
            few = "no" if not matches else f"{len(matches)}"
            raise ValueError(
                f"{what}: the header has {few} column named {column!r}; its columns are: "
                f"{one_line(', '.join(fields), 200)}"
            )
        return matches[0]
    if not -n <= column < n:
        raise ValueError(
            f"{what}: {column} is not a column: the header has {n} (indices {-n}..{n - 1})"
        )
    return column % n


def _read_text(path: str, option: str, streams: bool) -> str:
    from ..csv_reader import MAX_BYTES, open_text

    try:
        with open_text(path, MAX_BYTES, streams=streams) as text:
            return text.read()
    except FileNotFoundError:
        raise BadInput(f"argument {option}: {path!r} does not exist") from None
    except UnicodeDecodeError:
        raise BadInput(f"argument {option}: {path!r} is not a UTF-8 text file") from None
    except (ValueError, OSError) as exc:
        raise BadInput(f"argument {option}: {_data.cli_words(str(exc))}") from None


def read_categorical(
    path: str,
    plan: Plan,
    *,
    option: str,
    sep: str,
    decimal: str = ".",
    missing: str | None = None,
    fill: Any = None,
    comments: bool = False,
    streams: bool = False,
) -> Table:
    """Read a CSV file with a header: the numeric feature columns (by the library's CSV
    reader, its rules and messages), the label column and the categorical columns' texts,
    rows with a missing value dropped or filled in as ``missing`` says (``fill``: the values
    filled in, by column name, instead of the columns' means)."""
    import numpy as np

    from ..csv_reader import MISSING, Columns, CsvError, is_number, parse_csv
    from ..tabular import fill_in

    name = "<stdin>" if path == "-" else path
    text = _read_text(path, option, streams)
    planned: dict[str, Any] = {}

    def columns_of(first: list[str], line: int) -> Columns:
        if any(is_number(f) for f in first):
            raise CsvError(
                "has no header row (its first row holds a number); --categorical and a "
                "model with categorical columns take the columns by the header's names",
                line,
            )
        label, dropped, cats = plan(first, text)
        features = tuple(
            j for j in range(len(first)) if j != label and j not in dropped and j not in cats
        )
        planned.update(label=label, cats=cats, first=first)
        return Columns(
            len(first), features, label, True, tuple(first[j] for j in features), "as on line 1"
        )

    try:
        X, labels, cols = parse_csv(
            io.StringIO(text),
            columns_of,
            delimiter=sep,
            decimal=decimal,
            comments=comments,
            missing=missing,
        )
    except CsvError as exc:
        where = f"{name!r}{exc.location}: {exc.problem}"
        raise BadInput(f"argument {option}: " + _data.cli_words(one_line(where))) from None
    except ValueError as exc:  # the plan's problems with the header
        raise BadInput(f"argument {option}: {name!r}: {one_line(str(exc))}") from None
    label, cats, first = planned["label"], planned["cats"], planned["first"]
    # the categorical fields of the rows parse_csv kept, with the same rules for skipping
    reader = csv.reader(io.StringIO(text), delimiter=sep, strict=True)
    values: list[list[str]] = [[] for _ in cats]
    lines: list[int] = []
    seen_header = False
    for row in reader:
        if not row or not "".join(row).strip():
            continue
        if comments and row[0].lstrip().startswith("#"):
            continue
        if not seen_header:
            seen_header = True
            continue
        if label is not None and missing == "drop" and not row[label].strip():
            continue
        for k, j in enumerate(cats):
            values[k].append(row[j].strip())
        lines.append(reader.line_num)
    keep = np.ones(len(lines), dtype=bool)
    for k, j in enumerate(cats):
        gaps = np.array([v.lower() in MISSING for v in values[k]], dtype=bool)
        if gaps.any() and missing != "drop":
            at = int(np.argmax(gaps))
            way = (
                "give --missing drop to drop its rows"
                if missing is not None
                else "this command needs every value"
            )
            raise BadInput(
                f"argument {option}: {name!r}, line {lines[at]}, column {j + 1} "
                f"({first[j]!r}): a missing category ({way})"
            )
        keep &= ~gaps
    used = None
    if missing in ("drop", "mean"):
        if missing == "drop":
            keep &= ~np.isnan(X).any(axis=1)
        else:  # a missing category is refused above: every row is kept
            try:
                X, used = fill_in(name, X, np.isnan(X), cols.names, fill)
            except ValueError as exc:
                raise BadInput(f"argument {option}: {_data.cli_words(str(exc))}") from None
        if not keep.any():
            raise BadInput(f"argument {option}: {name!r}: every row has a missing value")
        X = X[keep]
        labels = None if labels is None else labels[keep]
        kept = np.flatnonzero(keep).tolist()
        values = [[v[i] for i in kept] for v in values]
        lines = [lines[i] for i in kept]
    names = list(cols.names)
    return Table(X, labels, names, [first[j] for j in cats], values, lines, used)


def fit_encoding(table: Table, option: str = "--categorical") -> Encoding:
    """The categories of each categorical column of the training rows."""
    categories = []
    for column, values in zip(table.cat_names, table.cat_values):
        distinct = set(values)
        if len(distinct) > MAX_CATEGORIES:
            raise BadInput(
                f"argument {option}: the column {column!r} has {len(distinct):,} distinct "
                f"values, more than {MAX_CATEGORIES:,} categories (is it a text column?)"
            )
        categories.append(_sorted(distinct))
    return Encoding(list(table.cat_names), categories)


def encoded(table: Table, encoding: Encoding, where: str) -> tuple[Any, list[str]]:
    """``(X, names)``: the numeric features then each column's indicators (float64), or
    BadInput naming the first value of a category the model was not trained on."""
    import numpy as np

    blocks = [table.X]
    position = {name: k for k, name in enumerate(table.cat_names)}
    for column, known in zip(encoding.columns, encoding.categories):
        values = table.cat_values[position[column]]
        index = {v: i for i, v in enumerate(known)}
        codes = np.array([index.get(v, -1) for v in values], dtype=np.int64)
        if (codes < 0).any():
            at = int(np.argmax(codes < 0))
            raise BadInput(
                f"{where}, line {table.cat_lines[at]}: the column {column!r} holds "
                f"{one_line(repr(values[at]), 80)}, a category the model was not trained on "
                f"(it knows {one_line(', '.join(known), 120)})"
            )
        block = np.zeros((codes.shape[0], len(known)), dtype=np.float64)
        block[np.arange(codes.shape[0]), codes] = 1.0
        blocks.append(block)
    return np.concatenate(blocks, axis=1), table.names + encoding.names()


# --- the commands' reading --------------------------------------------------------------------


def _text_columns(text: str, args: argparse.Namespace) -> set[int]:
    """The columns of a CSV text with a value (past the header) that is not a number (nor
    a missing value); the reader proper reports ragged rows and bad CSV."""
    from ..csv_reader import MISSING, is_number

    reader = csv.reader(io.StringIO(text), delimiter=args.delimiter, strict=True)
    swap = str.maketrans({args.decimal: ".", ".": "\x00"} if args.decimal != "." else {})
    texts: set[int] = set()
    rows = (r for r in reader if r and "".join(r).strip())
    next(rows, None)  # the header
    for row in rows:
        for j, field in enumerate(row):
            field = field.strip()
            if j not in texts and field.lower() not in MISSING:
                if not is_number(field.translate(swap)):
                    texts.add(j)
    return texts


def read_for_training(
    args: argparse.Namespace,
) -> tuple[Any, Any, list[str], Encoding, str, list[float | None] | None]:
    """train --data with --categorical: ``(X, labels, names, encoding, note, fill)`` (the
    note names the columns --categorical auto chose; ``fill``: the value --missing mean
    filled in for each encoded feature, None for the indicators)."""
    spec = args.categorical

    def plan(first: list[str], text: str) -> tuple[int | None, set[int], list[int]]:
        label = _column_index(
            first, len(first) - 1 if args.label is None else args.label, "--label"
        )
        if spec == AUTO:
            return label, set(), sorted(_text_columns(text, args) - {label})
        cats = [_column_index(first, c, "--categorical") for c in spec]
        if label in cats:
            raise ValueError(f"--categorical: {first[label]!r} is the label column")
        if len(set(cats)) != len(cats):
            raise ValueError("--categorical: names a column more than once")
        return label, set(), sorted(cats)

    table = read_categorical(
        args.data, plan, option="--data", sep=args.delimiter, decimal=args.decimal,
        missing=args.missing,
    )  # fmt: skip
    note = ""
    if spec == AUTO:
        note = "--categorical auto: one-hot encoding " + (
            ", ".join(repr(c) for c in table.cat_names) or "no column (all are numbers)"
        )
    encoding = fit_encoding(table)
    X, names = encoded(table, encoding, f"argument --data: {args.data!r}")
    fill = None if table.fill is None else table.fill + [None] * len(encoding.names())
    return X, table.labels, names, encoding, note, fill


def numeric_only(scaler: Any, n_numeric: int) -> Any:
    """``scaler`` (fitted on every encoded feature) with the indicators' mean 0 and scale 1:
    only the numeric columns (the first ``n_numeric``) are standardised."""
    from ..preprocessing import Standardizer

    saved = scaler.to_dict()
    n = len(saved["mean"])
    mean = saved["mean"][:n_numeric] + [0.0] * (n - n_numeric)
    scale = saved["scale"][:n_numeric] + [1.0] * (n - n_numeric)
    return Standardizer.from_dict({"mean": mean, "scale": scale})


def read_for_model(
    path: str,
    meta: dict[str, Any],
    encoding: Encoding,
    *,
    option: str,
    sep: str = ",",
    decimal: str = ".",
    labelled: bool = False,
    label: int | str | None = None,
    drop_names: tuple[str, ...] = (),
    missing: str | None = None,
    fill: Any = None,
) -> tuple[Any, Any]:
    """predict's and evaluate's file for a model with categorical columns: ``(X, labels)``,
    X encoded as in training and in the model's order of features (by name). ``labelled``
    (evaluate): the column ``label`` (default the last one) holds the labels; else
    (predict) the column ``label`` and a header column named 'label' or one of
    ``drop_names`` (not one of the model's features) are left out, and lines starting with
    # are skipped. ``option``: "--data" or "POINTS" (a file, or - for stdin). ``missing``,
    ``fill``: what the model does with a missing value (:func:`_data.missing_values`)."""
    recorded = _columns.recorded_names(meta)
    assert recorded is not None  # the loader checked the categorical inputs' names
    if not _data.is_csv(path):
        raise BadInput(
            f"argument {option}: the model one-hot encodes the text columns "
            f"{one_line(', '.join(encoding.columns), 80)}: give a CSV file with a header"
        )

    def plan(first: list[str], text: str) -> tuple[int | None, set[int], list[int]]:
        at = None
        dropped: set[int] = set()
        if labelled:
            at = _column_index(first, len(first) - 1 if label is None else label, "--label")
        else:
            if label is not None:
                dropped.add(_column_index(first, label, "--label"))
            names = {"label", *(d.lower() for d in drop_names)} - {n.lower() for n in recorded}
            dropped |= {j for j, f in enumerate(first) if f.lower() in names}
        index: dict[str, list[int]] = {}  # each name's columns: linear in the header
        for j, f in enumerate(first):
            index.setdefault(f, []).append(j)
        absent = [c for c in encoding.columns if c not in index]
        if absent:
            raise ValueError(
                f"lacks the model's categorical column(s) {one_line(', '.join(absent), 80)}"
            )
        twice = [c for c in encoding.columns if len(index[c]) > 1]
        if twice:
            raise ValueError(
                f"the header has {len(index[twice[0]])} columns named {twice[0]!r} (a "
                "categorical column of the model)"
            )
        cats = [index[c][0] for c in encoding.columns]
        if at in cats or dropped & set(cats):
            raise ValueError("--label names one of the model's categorical columns")
        return at, dropped, sorted(cats)

    table = read_categorical(
        path, plan, option=option, sep=sep, decimal=decimal, comments=not labelled,
        streams=option == "POINTS", missing=missing, fill=fill,
    )  # fmt: skip
    shown_path = "<stdin>" if path == "-" else repr(path)
    X, names = encoded(table, encoding, f"argument {option}: {shown_path}")
    try:
        order = _columns.feature_order(names, recorded, subject=shown_path)
    except ValueError as exc:
        raise BadInput(f"argument {option}: {exc}") from None
    return X[:, order], table.labels
