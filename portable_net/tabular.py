"""A user's data files: CSV text, ``.npz`` archives and pairs of ``.npy`` files.

Everything here runs on the host, in NumPy: files are read on the host, and the arrays are
moved to the chosen library and device afterwards.

- :func:`read_table` reads a CSV file, an ``.npz`` archive with ``X`` and ``y``, or a pair of
  ``.npy`` files, into ``(X, labels, feature_names)``; a bad file raises one ``ValueError``
  that names the file and says what is wrong and where.
- CSV text is read by :mod:`portable_net.csv_reader` (the one CSV reader: streaming, bounded
  bytes, CSV numbers only).

Preparing the arrays (labels encoded, rows split, features standardised) is
:mod:`portable_net.preprocessing`'s work; its functions are importable from here too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, cast

import numpy as np

from ._npz import read_arrays, read_header
from .csv_reader import (
    MAX_BYTES,
    MISSING,
    MISSING_CHOICES,
    Columns,
    CsvError,
    check_file,
    delimiter_hint,
    is_number,
    open_text,
    parse_csv,
)
from .preprocessing import Standardizer, decode_labels, encode_labels, filled_in, split

__all__ = ["MAX_BYTES", "Standardizer", "decode_labels", "encode_labels", "read_table", "split"]

PathLike = str | os.PathLike[str]

#: the most arrays an ``.npz`` data file may hold (X, y and a few more, all read)
_MEMBERS = 64
#: an ``.npz`` data file's arrays may declare at most this many times the file's bytes (or
#: ``EXPANSION_FLOOR`` for a smaller file), as stored and with X as float64: memory is
#: bounded by the file read, never by what its headers declare (a 1 MiB file of deflated
#: zeros declaring a GiB is refused before anything is inflated)
MAX_EXPANSION = 16
EXPANSION_FLOOR = 2**26


# ---- read_table ---------------------------------------------------------------------------


def read_table(
    path: PathLike | Sequence[PathLike],
    label: int | str | None = None,
    *,
    delimiter: str = ",",
    max_bytes: int = MAX_BYTES,
    decimal: str = ".",
    missing: str = "error",
    fill: Sequence[float | None] | Mapping[str, float | None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read features and labels from a file.

    Parameters
    ----------
    path : str, path, or a pair of them
        - ``*.npz``: an archive with members ``X`` (N, D) and ``y`` (N,), read by the verified
          reader of model files: no pickle; the zip directory bounded before it is read; no
          overlapping entries; every member's size declared, checked before any data is
          read: counted as float64, within ``max_bytes`` in all and at most
          ``MAX_EXPANSION`` (16) times the file's size (``EXPANSION_FLOOR``, 64 MiB, for a
          smaller file); a member over 1 MiB inflating more than 1000 times is refused (a
          zip bomb); at most 64 members;
        - a pair ``(X.npy, y.npy)``, given as a tuple/list of two paths or as one string
          ``"X.npy,y.npy"`` (two names ending in ``.npy``, split at the comma, when the whole
          string is not itself a file);
        - anything else: a CSV text file (UTF-8, a byte-order mark allowed), one row per
          sample, one column of which is the label. The first row is a header if its
          feature fields are all names (not numbers), a data row if they are all numbers; a
          mix is an error (a header of numbers only is read as data). Blank lines are
          skipped, fields are stripped of surrounding spaces. A number is written in ASCII
          digits, with an optional sign, point and exponent (``inf``/``nan`` are refused as
          not finite); ``1_5`` is not a number.
    label : int or str, optional
        CSV only: the label column, by header name or by index (negative counts from the
        end). Default: the last column.
    delimiter : str, default ","
        CSV only: the field separator.
    max_bytes : int, default 2**30
        Larger files (or ``.npz`` archives whose arrays unpack larger) are refused.
    decimal : {".", ","}, default "."
        CSV only: the decimal mark of the features (``","`` for ``1,5``, as pandas'
        ``decimal``; a point is then refused). A comma as decimal mark needs another
        ``delimiter``.
    missing : {"error", "drop", "mean"}, default "error"
        CSV only: what a missing feature (an empty field, ``NA``, ``N/A``, ``NaN``,
        ``null`` or ``?``) does: ``"error"`` refuses the file (naming the line, the column
        and these choices), ``"drop"`` drops the rows that have one (and rows with an empty
        label), ``"mean"`` fills it in with its column's mean over the file's rows.
    fill : sequence or dict of float or None, optional
        With ``missing="mean"``: the values filled in instead of the file's means, one per
        feature column or by column name (the training rows' means a model recorded; None
        for a column whose missing values are refused).

    Returns
    -------
    X : ndarray of float64, shape (N, D)
        Finite.
    labels : ndarray, shape (N,)
        As stored: from ``.npz``/``.npy`` the array itself (ints, floats, booleans, strings);
        from CSV ints if every label is an integer within int64, else floats if every label
        is a number, else strings (integers beyond int64 stay distinct, as strings).
    feature_names : list of str
        The header's names of the feature columns, or ``x0, x1, ...`` without a header.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        A bad file: not a regular file, too large, empty, not UTF-8, another delimiter than
        ``delimiter`` (named), ragged rows (line numbers), an unknown label column (the
        header is listed), a non-numeric or non-finite feature (line and column), a field over
        the ``csv`` module's size limit, missing ``X``/``y`` members, wrong shapes, an archive
        that fails the checks of model files. The message names the file.
    """
    return read_table_filled(path, label, delimiter, max_bytes, decimal, missing, fill)[:3]


class Table(NamedTuple):
    """What :func:`read_table_filled` read: :func:`read_table`'s three results, then the
    values ``missing="mean"`` filled in (or None), whether a CSV file's first column was
    pandas' index, left out (``index=True``), and the label column's header name."""

    X: np.ndarray
    labels: np.ndarray
    names: list[str]
    fill: list[float | None] | None = None
    pandas_index: bool = False
    #: a CSV file's label column by its header name (None: no header, or not a CSV file)
    label_name: str | None = None


def read_table_filled(
    path: Any,
    label: Any,
    delimiter: str,
    max_bytes: int,
    decimal: str,
    missing: str,
    fill: Any,
    index: bool = False,
) -> Table:
    """:func:`read_table` (its arguments, in its order) and, with ``missing="mean"`` on a
    CSV file, the value filled in for each feature column (what a model records, to fill
    in the same at prediction); else None. ``index``: a CSV file's first column, unnamed and
    numbering the rows (pandas' index, ``parse_csv``'s ``index``), is left out."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive int, got {max_bytes!r}")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"'":
        raise ValueError(
            f"delimiter must be one character (not a quote or newline), got {delimiter!r}"
        )
    if decimal not in (".", ","):
        raise ValueError(f"decimal must be '.' or ',', got {decimal!r}")
    if decimal == delimiter:
        raise ValueError(f"decimal and delimiter must differ, both are {decimal!r}")
    if missing not in MISSING_CHOICES:
        raise ValueError(f"missing must be one of {', '.join(MISSING_CHOICES)}, got {missing!r}")
    if label is not None and (isinstance(label, bool) or not isinstance(label, (int, str))):
        raise TypeError(
            f"label must be a column name (str), a column index (int) or None, "
            f"not {type(label).__name__}"
        )
    pair = _npy_pair(path)
    if pair is not None:
        if label is not None:
            raise ValueError("label= picks a CSV column; a .npy pair holds the labels in y.npy")
        x_path, y_path = pair
        X = _load_npy(x_path, max_bytes)
        y = _load_npy(y_path, max_bytes)
        where = f"{os.fspath(x_path)!r} and {os.fspath(y_path)!r}"
        return Table(*_checked_arrays(X, y, where, max_bytes))
    name = os.fspath(path)
    if name.lower().endswith(".npy"):
        raise ValueError(
            f"{name!r} is one .npy file; give the features and labels as a pair "
            "(X.npy, y.npy) or as 'X.npy,y.npy', or use an .npz archive with X and y"
        )
    if name.lower().endswith(".npz"):
        if label is not None:
            raise ValueError(f"label= picks a CSV column; {name!r} holds the labels in 'y'")
        return Table(*_read_npz(name, max_bytes))
    return _read_csv(name, label, delimiter, max_bytes, decimal, missing, fill, index)


def _npy_pair(path: Any) -> tuple[Any, Any] | None:
    if isinstance(path, (tuple, list)):
        if len(path) != 2:
            raise ValueError(
                f"path as a sequence must be a pair (X.npy, y.npy), got {len(path)} items"
            )
        return path[0], path[1]
    if isinstance(path, str) and "," in path and not os.path.exists(path):
        parts = [p.strip() for p in path.split(",")]
        if len(parts) == 2 and all(p.lower().endswith(".npy") for p in parts):
            return parts[0], parts[1]
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str, a path or a pair of them, not {type(path).__name__}")
    return None


def _load_npy(path: Any, max_bytes: int) -> np.ndarray:
    name = check_file(path, max_bytes)
    # the header first, as the .npz reader reads it: its declared size must be the file's
    try:
        with open(name, "rb") as f:
            shape, _, dtype = read_header(name, f, "array", what=".npy array")
            held = os.fstat(f.fileno()).st_size - f.tell()
    except OSError as exc:
        raise ValueError(f"{name!r} is not a readable .npy array: {exc}") from None
    if dtype.hasobject:
        raise ValueError(f"{name!r} is not a readable .npy array without pickle: it holds objects")
    declared = math.prod(shape) * dtype.itemsize
    if declared != held:
        raise ValueError(
            f"{name!r} is truncated or corrupted: its header declares {declared} bytes of "
            f"data, the file holds {held}"
        )
    try:
        return cast(np.ndarray, np.load(name, allow_pickle=False))
    except (ValueError, OSError) as exc:
        raise ValueError(f"{name!r} is not a readable .npy array: {exc}") from None


def _read_npz(name: str, max_bytes: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    check_file(name, max_bytes)
    bound = min(max_bytes, max(EXPANSION_FLOOR, MAX_EXPANSION * os.stat(name).st_size))
    arrays = read_arrays(
        name, what=".npz data file", max_bytes=bound, max_members=_MEMBERS, float64_bytes=True
    )
    if "X" not in arrays or "y" not in arrays:
        raise ValueError(
            f"{name!r} must hold arrays named 'X' and 'y'; it holds: "
            f"{', '.join(arrays) or 'nothing'}"
        )
    return _checked_arrays(arrays["X"], arrays["y"], repr(name), bound)


def _checked_arrays(
    X: np.ndarray, y: np.ndarray, where: str, max_bytes: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{where}: X must have shape (N, D) with N, D >= 1, got {X.shape}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{where}: X must hold numbers, got dtype {X.dtype}")
    if y.ndim != 1:
        raise ValueError(f"{where}: y must be 1-D (one label per row), got shape {y.shape}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{where}: X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    if y.dtype.kind not in "biufUS":
        raise ValueError(f"{where}: y must hold numbers, booleans or strings, got dtype {y.dtype}")
    if X.size * 8 > max_bytes:  # small integers or booleans grow 8 times as float64
        raise ValueError(
            f"{where}: X as float64 is {X.size * 8} bytes, over the limit of {max_bytes} "
            "(max_bytes)"
        )
    X = np.asarray(X, dtype=np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{where}: X has {int(bad.sum())} non-finite values; "
            f"the first is X[{i}, {j}] = {X[i, j]}"
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        i = int(np.argmax(~np.isfinite(y)))
        raise ValueError(f"{where}: y has non-finite labels; the first is y[{i}] = {y[i]}")
    return X, y, [f"x{j}" for j in range(X.shape[1])]


def _table_columns(name: str, label: int | str | None, delimiter: str) -> Any:
    """read_table's rule for the first row: the label column, and a header or not."""

    def columns_of(first: list[str], line: int) -> Columns:
        n_cols = len(first)
        if n_cols < 2:
            raise CsvError(
                f"one column only; expected feature columns and a label column separated by "
                f"{delimiter!r}" + delimiter_hint(delimiter.join(first), delimiter),
                line,
            )
        if isinstance(label, str):
            if all(is_number(f) for f in first):
                raise ValueError(
                    f"{name!r} has no header row (its first row is all numbers), so "
                    f"label={label!r} cannot be found; give the label column's index"
                )
            matches = [j for j, f in enumerate(first) if f == label]
            data_like = sum(is_number(f) or f.lower() in MISSING for f in first)
            if not matches and data_like >= max(1, n_cols - 1):
                # numbers in all columns but (at most) one: a data row, not a header
                raise ValueError(
                    f"{name!r} seems to have no header row: its first row "
                    f"({', '.join(first)}) looks like data, so label={label!r} cannot be "
                    f"found; give the label column's index (0 for the first column, "
                    f"{n_cols - 1} or -1 for the last)"
                )
            if not matches:
                raise ValueError(
                    f"{name!r} has no column named {label!r}; its columns are: " + ", ".join(first)
                )
            if len(matches) > 1:
                raise ValueError(f"{name!r} has {len(matches)} columns named {label!r}")
            label_col = matches[0]
        else:
            label_col = n_cols - 1 if label is None else label
            if not -n_cols <= label_col < n_cols:
                raise ValueError(
                    f"label={label} is not a column of {name!r}: it has {n_cols} columns "
                    f"(indices {-n_cols}..{n_cols - 1})"
                )
            label_col %= n_cols
        features = tuple(j for j in range(n_cols) if j != label_col)
        # a header has names in all feature columns; a data row numbers in all of them
        names_at = [j for j in features if not is_number(first[j])]
        if names_at and len(names_at) < len(features):
            j = names_at[0]
            raise CsvError(
                f"the first row mixes numbers and names (column {j + 1}: {first[j]!r} is not a "
                "number), so it is neither a header nor a data row"
                + delimiter_hint(delimiter.join(first), delimiter),
                line,
            )
        header = bool(names_at)
        names = tuple(first[j] if header else f"x{k}" for k, j in enumerate(features))
        return Columns(n_cols, features, label_col, header, names, f"as on line {line}",
                       label_name=first[label_col] if header else None)  # fmt: skip

    return columns_of


def _read_csv(
    name: str,
    label: int | str | None,
    delimiter: str,
    max_bytes: int,
    decimal: str = ".",
    missing: str = "error",
    fill: Any = None,
    index: bool = False,
) -> Table:
    try:
        with open_text(name, max_bytes) as text:
            X, labels, cols = parse_csv(
                text,
                _table_columns(name, label, delimiter),
                delimiter=delimiter,
                decimal=decimal,
                missing=missing,
                index=index,
            )
    except CsvError as exc:
        where = exc.location
        sep = ":" if where else ""
        problem = exc.problem
        if problem == "is not a UTF-8 text file":
            problem += "; expected a CSV file, an .npz archive or a pair of .npy files"
        raise ValueError(f"{name!r}{where}{sep} {problem}") from None
    assert labels is not None
    X, labels, used = _fill_missing(name, X, labels, missing, cols.names, fill)
    return Table(X, labels, list(cols.names), used, cols.index, cols.label_name)


def _fill_missing(
    name: str,
    X: np.ndarray,
    labels: np.ndarray,
    missing: str,
    names: Sequence[str],
    fill: Any = None,
) -> tuple[np.ndarray, np.ndarray, list[float | None] | None]:
    """The rows with a missing feature (NaN) dropped, or each filled in with ``fill`` or its
    column's mean over the rows that have it; and the values filled in (``"mean"``)."""
    gaps = np.isnan(X)
    if missing == "drop":
        keep = ~gaps.any(axis=1)
        if not keep.any():
            raise ValueError(f"{name!r}: every row has a missing value (missing='drop')")
        return X[keep], labels[keep], None
    if missing != "mean":
        return X, labels, None
    X, used = fill_in(name, X, gaps, names, fill)
    return X, labels, used


def fill_in(
    name: str,
    X: np.ndarray,
    gaps: np.ndarray,
    names: Sequence[str],
    fill: Sequence[float | None] | Mapping[str, float | None] | None,
) -> tuple[np.ndarray, list[float | None]]:
    """X with its ``gaps`` filled in: each column's value of ``fill`` (one per column, or
    by column name), or (None) its mean over the rows that have it; and the values (one per
    column)."""
    if fill is not None:
        if isinstance(fill, Mapping):
            fill = [fill.get(n) for n in names]
        if len(fill) != X.shape[1]:
            raise ValueError(f"fill must have one value per feature column ({X.shape[1]})")
        values = np.asarray([np.nan if v is None else float(v) for v in fill])
        lacking = gaps.any(axis=0) & np.isnan(values)
        if lacking.any():
            j = int(np.argmax(lacking))
            raise ValueError(
                f"{name!r}: column {names[j]!r} has a missing value, which has no fill"
            )
    else:
        empty = gaps.all(axis=0)
        if empty.any():
            j = int(np.argmax(empty))
            raise ValueError(
                f"{name!r}: column {names[j]!r} has no values to take the mean of (missing='mean')"
            )
        with np.errstate(invalid="ignore"):
            values = np.nanmean(X, axis=0) if gaps.any() else X.mean(axis=0)
    if gaps.any():
        X = filled_in(np, X, values)
    return X, [float(v) if math.isfinite(v) else None for v in values.tolist()]
