"""Columns by name: a model that recorded its features' names takes a CSV file's columns by
their header names, in its own order, whatever their order in the file.

The names are those of the header the model was trained on, the model file's
``preprocessing.feature_names`` (``train --data`` records the header's; a Classifier fitted on
a DataFrame its ``feature_names_in_``). A model trained without a header (or on the made-up
names ``x0, x1, ...``) records none, and takes the columns in their order. A file
for a named model must have a header naming every one of the model's features; a column
the model does not know is refused (named in the message), never silently ignored.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .._text import one_line
from ._args import BadInput
from ._data import is_csv

__all__ = [
    "feature_order",
    "generated",
    "names_to_record",
    "no_header",
    "recorded_names",
    "reordered",
]


def generated(names: list[str]) -> bool:
    """Whether ``names`` are the made-up ``x0, x1, ...`` of a file without a header."""
    return names == [f"x{k}" for k in range(len(names))]


def recorded_names(meta: dict[str, Any]) -> list[str] | None:
    """The model's feature names, one per input, distinct (checked by the loader); None when
    it takes its columns by position."""
    names = meta["preprocessing"]["feature_names"]
    return None if names is None else list(names)


def names_to_record(names: list[str]) -> list[str] | None:
    """A file's feature names as a model records them: None (columns by position) for the
    made-up names of a file without a header, or names that are not distinct."""
    if generated(names) or len(set(names)) != len(names) or not all(names):
        return None
    return list(names)


def _listed(names: list[str], limit: int = 120) -> str:
    return one_line(", ".join(names), limit)


def no_header(names: list[str]) -> str:
    """The problem of a file without a header for a model whose features have names."""
    return (
        f"no header row, but the model takes its columns by name ({_listed(names)}): "
        "add a header line naming them"
    )


def feature_order(
    columns: list[str], names: list[str], *, subject: str, verb: str = "has"
) -> list[int]:
    """The positions in ``columns`` (a file's feature columns, by header name) of the model's
    features ``names``, in the model's order; or ValueError saying which columns are missing,
    repeated or unknown, about ``subject`` (the file, or its header: "{subject} {verb} 3
    feature columns but the model has 2 inputs ...")."""
    wanted = set(names)
    if generated(columns) and wanted.isdisjoint(columns):  # made-up names: no header
        raise ValueError(f"{subject} has {no_header(names)}")
    counts = Counter(columns)  # every test here a set or dict look-up: linear in the header
    repeated = sorted(c for c, n in counts.items() if n > 1 and c in wanted)
    if repeated:
        raise ValueError(f"{subject} names the column(s) {_listed(repeated)} more than once")
    missing = [n for n in names if n not in counts]
    if missing:
        raise ValueError(
            f"{subject} lacks the model's feature column(s) {_listed(missing)} (the model "
            f"takes its columns by name: {_listed(names)})"
        )
    extra = [c for c in columns if c not in wanted]
    if extra:
        raise ValueError(
            f"{subject} {verb} {len(columns)} feature columns but the model has {len(names)} "
            f"inputs ({_listed(names)}); {_listed(extra)} not among them: leave them out, or "
            "name the label column with --label"
        )
    at = {c: i for i, c in enumerate(columns)}
    return [at[n] for n in names]


def reordered(X: Any, columns: list[str], meta: dict[str, Any], path: str) -> Any:
    """``X`` (read from --data ``path`` with feature names ``columns``) with the model's
    columns by name in its order, for a CSV file and a model with names; else ``X``."""
    names = recorded_names(meta)
    if names is None or not is_csv(path):
        return X
    try:
        order = feature_order(list(columns), names, subject=repr(path))
    except ValueError as exc:
        raise BadInput(f"argument --data: {exc}") from None
    return X[:, order]
