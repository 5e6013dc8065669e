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
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._text import one_line, shown
from . import _columns, _data
from ._args import BadInput

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
class CodedTable:
    """A CSV file's rows: the numeric features (in the file's order), the labels, and each
    categorical column coded (its distinct values, the line each first appears on, and each
    row's code into them)."""

    X: Any
    labels: Any
    names: list[str]
    cat_names: list[str]
    cat_values: list[list[str]]
    cat_lines: list[list[int]]
    cat_codes: list[Any]
    #: the value filled in for each numeric column (``--missing mean``), or None
    fill: list[float | None] | None = None
    #: the label column's name in the header (None: no label column)
    label_name: str | None = None


#: the columns planned from the header: (label column or None, columns left out, categorical
#: columns), all 0-based
Plan = Callable[[list[str]], "tuple[int | None, set[int], list[int]]"]


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


def read_categorical(
    path: str,
    plan: Plan,
    *,
    option: str,
    command: str,
    sep: str,
    decimal: str = ".",
    missing: str | None = None,
    fill: Any = None,
    comments: bool = False,
    streams: bool = False,
    auto: bool = False,
) -> CodedTable:
    """Read a CSV file with a header, once, by the library's CSV reader (its rules and
    messages): the numeric feature columns, the label column and the categorical columns
    coded as they are read; rows with a missing value dropped or filled in as ``missing``
    says (``fill``: the values filled in, by column name, instead of the columns' means).
    ``auto``: the categorical columns are those of the columns the plan names that hold
    text (the others are numeric features). Training (``command`` train) bounds a column's
    categories by :data:`MAX_CATEGORIES`; predict and evaluate find a category the model
    does not know once the file is read (:func:`encoded`)."""
    import numpy as np

    from ..csv_reader import (
        MAX_BYTES,
        MISSING,
        Columns,
        CsvError,
        is_number,
        open_text,
        parse_table,
    )
    from ..tabular import fill_in

    name = "<stdin>" if path == "-" else path
    bound = MAX_CATEGORIES if command == "train" else None

    def columns_of(first: list[str], line: int) -> Columns:
        if any(is_number(f) for f in first):
            raise CsvError(
                "has no header row (its first row holds a number); --categorical and a "
                "model with categorical columns take the columns by the header's names",
                line,
            )
        label, dropped, cats = plan(first)
        features = tuple(
            j for j in range(len(first)) if j != label and j not in dropped and j not in cats
        )
        return Columns(len(first), features, label, True, tuple(first[j] for j in features),
                       "as on line 1", texts=tuple(cats), most_texts=bound, text_numbers=auto,
                       label_name=None if label is None else first[label])  # fmt: skip

    try:
        with open_text(path, MAX_BYTES, streams=streams) as text:
            X, labels, cols, texts = parse_table(
                text, columns_of, delimiter=sep, decimal=decimal, comments=comments,
                missing=missing, index=True,
            )  # fmt: skip
    except FileNotFoundError:
        raise BadInput(f"argument {option}: {path!r} does not exist") from None
    except CsvError as exc:
        where = f"{name!r}{exc.location}: {exc.problem}"
        if exc.problem.startswith("has more than"):  # a text column's categories
            raise BadInput(
                f"argument --categorical: {one_line(where)}, more categories than a column may "
                "have (is it a text column?)"
            ) from None
        if exc.problem == "is not a UTF-8 text file":
            raise BadInput(f"argument {option}: {path!r} is not a UTF-8 text file") from None
        raise BadInput(f"argument {option}: " + _data.cli_words(one_line(where))) from None
    except (ValueError, OSError) as exc:  # the plan's problems with the header, the file's
        raise BadInput(f"argument {option}: {name!r}: {one_line(_data.cli_words(str(exc)))}"
                       ) from None  # fmt: skip
    if cols.index:
        _data.index_note(command, path)
    # the text columns that hold numbers (--categorical auto) are numeric features
    numeric = [(j, n, X[:, k]) for k, (j, n) in enumerate(zip(cols.features, cols.names))]
    coded = []
    for column in texts:
        result = column.result()
        if isinstance(result, np.ndarray):
            numeric.append((column.column, column.name, result))
        else:
            coded.append((column, result))
    n = X.shape[0]
    if len(numeric) > X.shape[1]:  # columns that turned out numbers: in the file's order
        numeric.sort(key=lambda item: item[0])
        X = np.column_stack([v for *_, v in numeric])
    names = [name for _, name, _ in sorted(numeric, key=lambda item: item[0])]
    keep = np.ones(n, dtype=bool)
    for column, values in coded:
        gaps_of = np.array([v.lower() in MISSING for v in values.values], dtype=bool)
        gaps = gaps_of[values.array()]
        if gaps.any() and missing != "drop":
            line = min(at for at, gap in zip(values.first_lines, gaps_of) if gap)
            way = ("give --missing drop to drop its rows" if missing is not None
                   else "this command needs every value")  # fmt: skip
            raise BadInput(
                f"argument {option}: {name!r}, line {line}, column {column.column + 1} "
                f"({column.name!r}): a missing category ({way})"
            )
        keep &= ~gaps
    used = None
    if missing == "drop":
        keep &= ~np.isnan(X).any(axis=1)
    elif missing == "mean":
        try:
            X, used = fill_in(name, X, np.isnan(X), names, fill)
        except ValueError as exc:
            raise BadInput(f"argument {option}: {_data.cli_words(str(exc))}") from None
    if not keep.all():
        if not keep.any():
            raise BadInput(f"argument {option}: {name!r}: every row has a missing value")
        X, labels = X[keep], None if labels is None else labels[keep]
    return CodedTable(X, labels, names, [c.name for c, _ in coded], [v.values for _, v in coded],
                 [v.first_lines for _, v in coded],
                 [v.array()[keep] if not keep.all() else v.array() for _, v in coded], used,
                 cols.label_name)  # fmt: skip


def fit_encoding(table: CodedTable) -> Encoding:
    """The categories of each categorical column of the training rows (the values the kept
    rows hold)."""
    import numpy as np

    categories = []
    for values, codes in zip(table.cat_values, table.cat_codes):
        categories.append(_sorted({values[i] for i in np.unique(codes).tolist()}))
    return Encoding(list(table.cat_names), categories)


def encoded(table: CodedTable, encoding: Encoding, where: str) -> tuple[Any, list[str]]:
    """``(X, names)``: the numeric features then each column's indicators (float64), or
    BadInput naming the first value of a category the model was not trained on."""
    import numpy as np

    n, width = table.X.shape
    out = np.zeros((n, width + sum(map(len, encoding.categories))))  # written once, in place
    out[:, :width] = table.X
    rows = np.arange(n)
    position = {name: k for k, name in enumerate(table.cat_names)}
    for column, known in zip(encoding.columns, encoding.categories):
        k = position[column]
        values, codes = table.cat_values[k], table.cat_codes[k]
        index = {v: i for i, v in enumerate(known)}
        lookup = np.array([index.get(v, -1) for v in values], dtype=np.int64)
        found = lookup[codes]
        if (found < 0).any():
            unknown = np.unique(codes[found < 0]).tolist()
            first = min(unknown, key=lambda c: table.cat_lines[k][c])
            raise BadInput(
                f"{where}, line {table.cat_lines[k][first]}: the column {column!r} holds "
                f"{one_line(repr(values[first]), 80)}, a category the model was not trained on "
                f"(it knows {one_line(', '.join(known), 120)})"
            )
        out[rows, width + found] = 1.0
        width += len(known)
    return out, table.names + encoding.names()


# --- the commands' reading --------------------------------------------------------------------


def read_for_training(
    args: argparse.Namespace,
) -> tuple[Any, Any, list[str], Encoding, str, list[float | None] | None, str | None]:
    """train --data with --categorical: ``(X, labels, names, encoding, note, fill,
    label_name)`` (the note names the columns --categorical auto chose; ``fill``: the value
    --missing mean filled in for each encoded feature, None for the indicators)."""
    spec = args.categorical
    auto = spec == AUTO

    def plan(first: list[str]) -> tuple[int | None, set[int], list[int]]:
        label = _column_index(
            first, len(first) - 1 if args.label is None else args.label, "--label"
        )
        if auto:  # every feature column: those that hold text become categorical
            return label, set(), [j for j in range(len(first)) if j != label]
        cats = [_column_index(first, c, "--categorical") for c in spec]
        if label in cats:
            raise ValueError(f"--categorical: {first[label]!r} is the label column")
        if len(set(cats)) != len(cats):
            raise ValueError("--categorical: names a column more than once")
        return label, set(), sorted(cats)

    table = read_categorical(
        args.data, plan, option="--data", command="train", sep=args.delimiter,
        decimal=args.decimal, missing=args.missing, auto=auto,
    )  # fmt: skip
    note = ""
    if auto:
        note = "--categorical auto: one-hot encoding " + (
            ", ".join(repr(c) for c in table.cat_names) or "no column (all are numbers)"
        )
    encoding = fit_encoding(table)
    X, names = encoded(table, encoding, f"argument --data: {args.data!r}")
    fill = None if table.fill is None else table.fill + [None] * len(encoding.names())
    return X, table.labels, names, encoding, note, fill, table.label_name


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

    def plan(first: list[str]) -> tuple[int | None, set[int], list[int]]:
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
        path, plan, option=option, command="evaluate" if labelled else "predict", sep=sep,
        decimal=decimal, comments=not labelled, streams=option == "POINTS", missing=missing,
        fill=fill,
    )  # fmt: skip
    shown_path = "<stdin>" if path == "-" else repr(path)
    X, names = encoded(table, encoding, f"argument {option}: {shown_path}")
    try:
        order = _columns.feature_order(names, recorded, subject=shown_path)
    except ValueError as exc:
        raise BadInput(f"argument {option}: {exc}") from None
    return X[:, order], table.labels
