"""A user's own data: read a table, encode its labels, split it, standardise its features.

Everything here runs on the host, in NumPy: files are read on the host, and the arrays are
moved to the chosen library and device afterwards.

- :func:`read_table` reads a CSV file, an ``.npz`` archive with ``X`` and ``y``, or a pair of
  ``.npy`` files, into ``(X, labels, feature_names)``; a bad file raises one ``ValueError``
  that names the file and says what is wrong and where.
- :func:`encode_labels` / :func:`decode_labels`: labels of any kind <-> ``0..C-1`` (as
  scikit-learn's ``LabelEncoder``).
- :func:`split`: a stratified, seeded train/test split, drawing the same rows as
  ``sklearn.model_selection.train_test_split(..., stratify=y, random_state=seed)``.
- :class:`Standardizer`: zero mean, unit variance per feature, fitted on the training rows
  (as ``sklearn.preprocessing.StandardScaler``), saved as plain lists.
"""

from __future__ import annotations

import csv
import io
import math
import operator
import os
import stat
import zipfile
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

__all__ = ["Standardizer", "decode_labels", "encode_labels", "read_table", "split"]

#: the largest file :func:`read_table` reads by default (bytes)
MAX_BYTES = 1 << 30

# delimiters recognised when a file is read with another one
_OTHER_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}

PathLike = str | os.PathLike[str]


# ---- reading ------------------------------------------------------------------------------


def read_table(
    path: PathLike | Sequence[PathLike],
    label: int | str | None = None,
    *,
    delimiter: str = ",",
    max_bytes: int = MAX_BYTES,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read features and labels from a file.

    Parameters
    ----------
    path : str, path, or a pair of them
        - ``*.npz``: an archive with members ``X`` (N, D) and ``y`` (N,), read with
          ``allow_pickle=False``;
        - a pair ``(X.npy, y.npy)``, given as a tuple/list of two paths or as one string
          ``"X.npy,y.npy"`` (two names ending in ``.npy``, split at the comma, when the whole
          string is not itself a file);
        - anything else: a CSV text file (UTF-8), one row per sample, one column of which is
          the label. The first row is a header if its feature fields are all names (not
          numbers), a data row if they are all numbers; a mix is an error (a header of
          numbers only is read as data). Blank lines are skipped, fields are stripped of
          surrounding spaces.
    label : int or str, optional
        CSV only: the label column, by header name or by index (negative counts from the
        end). Default: the last column.
    delimiter : str, default ","
        CSV only: the field separator.
    max_bytes : int, default 2**30
        Larger files (or ``.npz`` archives whose members unpack larger) are refused.

    Returns
    -------
    X : ndarray of float64, shape (N, D)
        Finite.
    labels : ndarray, shape (N,)
        As stored: from ``.npz``/``.npy`` the array itself (ints, floats, booleans, strings);
        from CSV ints if every label is an integer, else floats if every label is a number,
        else strings.
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
        the ``csv`` module's size limit, missing ``X``/``y`` members, wrong shapes. The message
        names the file.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive int, got {max_bytes!r}")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"'":
        raise ValueError(
            f"delimiter must be one character (not a quote or newline), got {delimiter!r}"
        )
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
        return _checked_arrays(X, y, f"{os.fspath(x_path)!r} and {os.fspath(y_path)!r}")
    name = os.fspath(path)  # type: ignore[arg-type]
    if name.lower().endswith(".npy"):
        raise ValueError(
            f"{name!r} is one .npy file; give the features and labels as a pair "
            "(X.npy, y.npy) or as 'X.npy,y.npy', or use an .npz archive with X and y"
        )
    if name.lower().endswith(".npz"):
        if label is not None:
            raise ValueError(f"label= picks a CSV column; {name!r} holds the labels in 'y'")
        return _read_npz(name, max_bytes)
    return _read_csv(name, label, delimiter, max_bytes)


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


def _check_file(path: Any, max_bytes: int) -> str:
    """The path as a str, after checking that it is a regular, non-empty file of bounded size."""
    name: str = os.fspath(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {name!r}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {name!r}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise ValueError(f"{name!r} is {kind}; expected a regular data file")
    if st.st_size > max_bytes:
        raise ValueError(
            f"{name!r} is {st.st_size} bytes, over the limit of {max_bytes} (max_bytes)"
        )
    if st.st_size == 0:
        raise ValueError(f"{name!r} is empty")
    return name


def _load_npy(path: Any, max_bytes: int) -> np.ndarray:
    name = _check_file(path, max_bytes)
    try:
        return cast(np.ndarray, np.load(name, allow_pickle=False))
    except ValueError as exc:
        raise ValueError(f"{name!r} is not a readable .npy array without pickle: {exc}") from None
    except OSError as exc:
        raise ValueError(f"{name!r} is not a readable .npy array: {exc}") from None


def _read_npz(name: str, max_bytes: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    _check_file(name, max_bytes)
    try:
        with zipfile.ZipFile(name) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{name!r} is not a readable .npz archive: {exc}") from None
    if unpacked > max_bytes:
        raise ValueError(
            f"{name!r} unpacks to {unpacked} bytes, over the limit of {max_bytes} (max_bytes)"
        )
    try:
        with np.load(name, allow_pickle=False) as archive:
            members = list(archive.files)
            if "X" not in members or "y" not in members:
                raise ValueError(
                    f"{name!r} must hold arrays named 'X' and 'y'; it holds: "
                    f"{', '.join(members) or 'nothing'}"
                )
            X, y = archive["X"], archive["y"]
    except ValueError as exc:
        if str(exc).startswith(repr(name)):
            raise
        raise ValueError(f"{name!r}: cannot read X and y without pickle: {exc}") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{name!r} is not a readable .npz archive: {exc}") from None
    return _checked_arrays(X, y, repr(name))


def _checked_arrays(
    X: np.ndarray, y: np.ndarray, where: str
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


def _line_text(text: str, line: int) -> str:
    """Line ``line`` (1-based) of text, or "" (only for error messages)."""
    parts = text.splitlines()
    return parts[line - 1] if 1 <= line <= len(parts) else ""


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _delimiter_hint(text: str, delimiter: str) -> str:
    """'; looks ';'-separated (pass delimiter=';')' when another delimiter dominates text."""
    counts = {d: text.count(d) for d in _OTHER_DELIMITERS if d != delimiter}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] > 0 and counts[best] >= text.count(delimiter):
        return (
            f"; it looks {_DELIMITER_NAMES[best]}-separated, not "
            f"{_DELIMITER_NAMES.get(delimiter, repr(delimiter))}-separated "
            f"(pass delimiter={best!r})"
        )
    return ""


def _read_csv(
    name: str, label: int | str | None, delimiter: str, max_bytes: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    _check_file(name, max_bytes)
    with open(name, "rb") as f:
        raw = f.read(max_bytes + 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{name!r} is not UTF-8 text (byte {exc.start} cannot be decoded); "
            "expected a CSV file, an .npz archive or a pair of .npy files"
        ) from None
    if "\x00" in text:
        raise ValueError(f"{name!r} holds NUL bytes: it is not a CSV text file")

    # rows with their (last) line numbers; blank lines skipped
    rows: list[list[str]] = []
    lines: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        for row in reader:
            if not row or (not row[0].strip() and not "".join(row).strip()):
                continue  # a blank line
            rows.append(row)  # fields keep their spaces: float() ignores them
            lines.append(reader.line_num)
    except csv.Error as exc:
        line = reader.line_num
        if "field larger than field limit" in str(exc):
            raise ValueError(
                f"{name!r}, line {line}: a field is longer than the csv module's limit of "
                f"{csv.field_size_limit()} characters"
            ) from None
        raise ValueError(f"{name!r}, line {line}: not valid CSV ({exc})") from None
    if not rows:
        raise ValueError(f"{name!r} holds no rows (only blank lines)")

    first, first_line = [f.strip() for f in rows[0]], lines[0]
    n_cols = len(first)
    if n_cols < 2:
        hint = _delimiter_hint(_line_text(text, first_line), delimiter)
        raise ValueError(
            f"{name!r}, line {first_line}: one column only; expected feature columns and a "
            f"label column separated by {delimiter!r}{hint}"
        )

    # the label column and the header
    if isinstance(label, str):
        if all(_is_number(f) for f in first):
            raise ValueError(
                f"{name!r} has no header row (its first row is all numbers), so "
                f"label={label!r} cannot be found; give the label column's index"
            )
        matches = [j for j, f in enumerate(first) if f == label]
        if not matches:
            raise ValueError(
                f"{name!r} has no column named {label!r}; its columns are: {', '.join(first)}"
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
    feature_cols = [j for j in range(n_cols) if j != label_col]
    # a header has names in all feature columns; a data row numbers in all of them
    names_at = [j for j in feature_cols if not _is_number(first[j])]
    has_header = bool(names_at)
    if names_at and len(names_at) < len(feature_cols):
        j = names_at[0]
        raise ValueError(
            f"{name!r}, line {first_line}: the first row mixes numbers and names (column "
            f"{j + 1}: {first[j]!r} is not a number), so it is neither a header nor a data row"
            + _delimiter_hint(_line_text(text, first_line), delimiter)
        )
    if has_header:
        feature_names = [first[j] for j in feature_cols]
        rows, lines = rows[1:], lines[1:]
        if not rows:
            raise ValueError(f"{name!r} has a header but no data rows")
    else:
        feature_names = [f"x{k}" for k in range(len(feature_cols))]

    if len(feature_cols) == 1:
        only = feature_cols[0]

        def pick(row: list[str]) -> tuple[str, ...]:
            return (row[only],)

    else:
        pick = operator.itemgetter(*feature_cols)  # type: ignore[assignment]
    values: list[list[float]] = []
    labels: list[str] = []
    for row, line in zip(rows, lines):
        if len(row) != n_cols:
            raise ValueError(
                f"{name!r}, line {line}: {len(row)} fields, expected {n_cols} (as on line "
                f"{first_line})" + _delimiter_hint(_line_text(text, line), delimiter)
            )
        try:
            values.append(list(map(float, pick(row))))
        except ValueError:
            for k, j in enumerate(feature_cols):
                field = row[j].strip()
                if not _is_number(field):
                    what = (
                        "is empty (a missing value)" if not field else f"{field!r} is not a number"
                    )
                    raise ValueError(
                        f"{name!r}, line {line}, column {j + 1} ({feature_names[k]!r}): {what}"
                        + (_delimiter_hint(field, delimiter) if field else "")
                    ) from None
            raise
        label_field = row[label_col].strip()
        if not label_field:
            raise ValueError(f"{name!r}, line {line}: the label (column {label_col + 1}) is empty")
        labels.append(label_field)
    X = np.array(values, dtype=np.float64).reshape(len(rows), len(feature_cols))
    bad = ~np.isfinite(X)
    if bad.any():
        i, k = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            f"{name!r}, line {lines[i]}, column {feature_cols[k] + 1} ({feature_names[k]!r}): "
            f"{rows[i][feature_cols[k]].strip()!r} is not finite"
        )
    return X, _parse_labels(labels, name, lines), feature_names


def _parse_labels(labels: list[str], name: str, lines: list[int]) -> np.ndarray:
    try:
        return np.array([int(s) for s in labels], dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    try:
        values = np.array([float(s) for s in labels], dtype=np.float64)
    except ValueError:
        return np.array(labels, dtype=np.str_)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name!r}, line {lines[i]}: the label {labels[i]!r} is not finite")
    return values


# ---- labels -------------------------------------------------------------------------------


def _as_labels(labels: Any, name: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] < 1:
        raise ValueError(f"{name} must be a non-empty 1-D array of labels, got shape {arr.shape}")
    if arr.dtype.kind not in "biufUS":
        raise ValueError(
            f"{name} must hold numbers, booleans or strings (one kind), got dtype {arr.dtype}"
        )
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} holds non-finite labels (NaN or infinity)")
    return arr


def encode_labels(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Labels of any kind -> ``(classes, y)``, as scikit-learn's ``LabelEncoder``.

    Parameters
    ----------
    labels : array_like, shape (N,)
        Numbers, booleans or strings.

    Returns
    -------
    classes : ndarray, shape (C,)
        The sorted distinct labels.
    y : ndarray of int64, shape (N,)
        ``classes[y] == labels``.
    """
    arr = _as_labels(labels, "labels")
    classes, y = np.unique(arr, return_inverse=True)
    return classes, y.reshape(-1).astype(np.int64)


def decode_labels(classes: Any, y: Any) -> np.ndarray:
    """Class indices back to labels: ``classes[y]``.

    Parameters
    ----------
    classes : array_like, shape (C,)
        As :func:`encode_labels` returned them.
    y : array_like of int, shape (N,)
        Indices in ``0..C-1``.
    """
    classes = np.asarray(classes)
    y = np.asarray(y)
    if classes.ndim != 1 or classes.shape[0] < 1:
        raise ValueError(f"classes must be a non-empty 1-D array, got shape {classes.shape}")
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"y must be a 1-D array of class indices (ints), got shape {y.shape}, dtype {y.dtype}"
        )
    if y.size and (y.min() < 0 or y.max() >= classes.shape[0]):
        raise ValueError(
            f"y must hold class indices in 0..{classes.shape[0] - 1}, "
            f"got values from {y.min()} to {y.max()}"
        )
    return cast(np.ndarray, classes[y])


# ---- splitting ----------------------------------------------------------------------------


def _split_sizes(n: int, test_size: Any) -> tuple[int, int]:
    """(n_train, n_test) as scikit-learn's ``_validate_shuffle_split`` with train_size None."""
    if isinstance(test_size, bool) or not isinstance(
        test_size, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"test_size must be a float in (0, 1) or an int, not {type(test_size).__name__}"
        )
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size as a fraction must be in (0, 1), got {test_size!r}")
        n_test = math.ceil(test_size * n)
    else:
        if not 0 < test_size < n:
            raise ValueError(
                f"test_size as a count must be in 1..{n - 1} (the data has {n} rows), "
                f"got {test_size!r}"
            )
        n_test = int(test_size)
    n_train = n - n_test
    if n_train <= 0:
        raise ValueError(f"test_size={test_size!r} of {n} rows leaves no training rows")
    return n_train, n_test


def _approximate_mode(
    class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState
) -> np.ndarray:
    """Rows drawn per class, as ``sklearn.utils.extmath._approximate_mode`` (BSD-3-Clause):
    the floor of the proportional share, then the rows left over to the largest remainders,
    ties broken at random."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return cast(np.ndarray, floored.astype(int))


def split(
    X: Any, y: Any, test_size: float | int = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stratified, seeded train/test split.

    The rows are those of ``sklearn.model_selection.train_test_split(X, y,
    test_size=test_size, stratify=y, random_state=seed)`` (the same draws from
    ``numpy.random.RandomState(seed)``, in the same order): each class is split in proportion,
    ``ceil(test_size * N)`` rows go to the test set for a fraction.

    Parameters
    ----------
    X : array_like, shape (N, D)
    y : array_like, shape (N,)
        Labels of any kind (stratified by their distinct values).
    test_size : float in (0, 1) or int, default 0.25
        The test set's share of the rows, or its number of rows.
    seed : int, default 0
        In [0, 2**32).

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray

    Raises
    ------
    ValueError
        A single class; a class with fewer than 2 rows; fewer training or test rows than
        classes; a class that would get no training row (scikit-learn allows that; a
        classifier cannot learn such a class).
    """
    X = np.asarray(X)
    y = _as_labels(y, "y")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (N, D), got shape {X.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")
    n = X.shape[0]
    n_train, n_test = _split_sizes(n, test_size)

    classes, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    y_indices = y_indices.reshape(-1)
    n_classes = classes.shape[0]
    if n_classes < 2:
        raise ValueError(
            f"y holds a single class ({classes.tolist()[0]!r}); a classifier needs at least two"
        )
    if class_counts.min() < 2:
        few = classes[class_counts < 2].tolist()
        raise ValueError(
            f"every class needs at least 2 rows (one to train on, one to test); these have 1: {few}"
        )
    if n_train < n_classes:
        raise ValueError(
            f"test_size={test_size!r} leaves {n_train} training rows for {n_classes} classes; "
            "use a smaller test_size"
        )
    if n_test < n_classes:
        raise ValueError(
            f"test_size={test_size!r} gives {n_test} test rows for {n_classes} classes; "
            "use a larger test_size"
        )

    # StratifiedShuffleSplit._iter_indices, first split
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(seed)
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    if n_i.min() < 1:
        empty = classes[n_i < 1].tolist()
        raise ValueError(
            f"test_size={test_size!r} leaves no training row for classes {empty}; "
            "use a smaller test_size"
        )
    train: list[Any] = []
    test: list[Any] = []
    for i in range(n_classes):
        permutation = rng.permutation(class_counts[i])
        rows = class_indices[i].take(permutation, mode="clip")
        train.extend(rows[: n_i[i]])
        test.extend(rows[n_i[i] : n_i[i] + t_i[i]])
    train_idx = rng.permutation(train)
    test_idx = rng.permutation(test)
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


# ---- standardising ------------------------------------------------------------------------


class Standardizer:
    """Zero mean and unit variance per feature, as ``sklearn.preprocessing.StandardScaler``.

    ``mean_`` and ``scale_`` (the standard deviation, ``ddof=0``) are float64 arrays; a
    feature that is constant (to rounding, by scikit-learn's test) gets scale 1.

    Examples
    --------
    >>> import numpy as np
    >>> s = Standardizer().fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> s.transform(np.array([[1.0, 6.0]]))
    array([[0., 1.]])
    >>> Standardizer.from_dict(s.to_dict()).scale_
    array([1., 1.])
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    @staticmethod
    def _as_features(X: Any, what: str) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"{what} must be a 2-D array (N, D) with N, D >= 1, got {X.shape}")
        if X.dtype.kind not in "biuf":
            raise ValueError(f"{what} must hold numbers, got dtype {X.dtype}")
        X = X.astype(np.float64, copy=False)
        if not np.isfinite(X).all():
            raise ValueError(f"{what} holds non-finite values")
        return cast(np.ndarray, X)

    def fit(self, X: Any) -> Standardizer:
        """Learn the mean and scale of each column of X (the training rows)."""
        X = self._as_features(X, "X")
        n = X.shape[0]
        mean = X.mean(axis=0)
        var = X.var(axis=0)
        # sklearn's _is_constant_feature: within the rounding error of the two-pass variance
        eps = np.finfo(np.float64).eps
        constant = var <= n * eps * var + (n * mean * eps) ** 2
        self.mean_ = mean
        self.scale_ = np.where(constant, 1.0, np.sqrt(var))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``(X - mean_) / scale_`` as a new float64 array."""
        if self.mean_ is None or self.scale_ is None:
            raise ValueError("this Standardizer is not fitted yet; call fit(X_train) first")
        X = self._as_features(X, "X")
        if X.shape[1] != self.mean_.shape[0]:
            raise ValueError(
                f"X has {X.shape[1]} features but the Standardizer was fitted on "
                f"{self.mean_.shape[0]}"
            )
        return cast(np.ndarray, (X - self.mean_) / self.scale_)

    def to_dict(self) -> dict[str, list[float]]:
        """``{"mean": [...], "scale": [...]}`` as plain floats (for a model's metadata)."""
        if self.mean_ is None or self.scale_ is None:
            raise ValueError("this Standardizer is not fitted yet; call fit(X_train) first")
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, d: Any) -> Standardizer:
        """The Standardizer that :meth:`to_dict` described."""
        if not isinstance(d, dict) or set(d) != {"mean", "scale"}:
            raise ValueError("expected a dict with the keys 'mean' and 'scale' (from to_dict())")
        try:
            mean = np.asarray(d["mean"], dtype=np.float64)
            scale = np.asarray(d["scale"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("'mean' and 'scale' must be lists of numbers") from None
        if mean.ndim != 1 or mean.shape != scale.shape or mean.shape[0] < 1:
            raise ValueError(
                f"'mean' and 'scale' must be non-empty lists of one length, got "
                f"{mean.shape} and {scale.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("'mean' must be finite and 'scale' finite and positive")
        out = cls()
        out.mean_, out.scale_ = mean, scale
        return out
