"""Columns by name: a model that recorded its features' names takes a CSV file's columns by
their header names, in its own order, whatever their order in the file.

The names are those of the header the model was trained on (``train --data`` records them
as the model's ``data.feature_names``; a Classifier fitted on a DataFrame as
``fitted.feature_names_in_``). A model trained without a header records the generated names
``x0, x1, ...``: it has no names, and takes the columns in their order, as before. A file
for a named model must have a header naming every one of the model's features; a column
the model does not know is refused (named in the message), never silently ignored.
"""

from __future__ import annotations

from typing import Any

from ._args import BadInput, one_line
from ._data import is_csv

__all__ = ["feature_order", "no_header", "recorded_names", "reordered"]


def _generated(names: list[str]) -> bool:
    return names == [f"x{k}" for k in range(len(names))]


def recorded_names(meta: dict[str, Any]) -> list[str] | None:
    """The model's feature names, one per input, distinct; None when it has none (or the
    recorded ones do not fit the model: then its columns are taken in order)."""
    n_inputs = meta["layer_sizes"][0]
    data, fitted = meta.get("data"), meta.get("fitted")
    for names in (
        data.get("feature_names") if isinstance(data, dict) else None,
        fitted.get("feature_names_in_") if isinstance(fitted, dict) else None,
    ):
        if (
            isinstance(names, list)
            and len(names) == n_inputs
            and all(isinstance(n, str) and n for n in names)
            and len(set(names)) == n_inputs
            and not _generated(names)
        ):
            return names
    return None


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
    if _generated(columns) and set(columns).isdisjoint(names):  # made-up names: no header
        raise ValueError(f"{subject} has {no_header(names)}")
    repeated = sorted({c for c in columns if columns.count(c) > 1 and c in names})
    if repeated:
        raise ValueError(f"{subject} names the column(s) {_listed(repeated)} more than once")
    missing = [n for n in names if n not in columns]
    if missing:
        raise ValueError(
            f"{subject} lacks the model's feature column(s) {_listed(missing)} (the model "
            f"takes its columns by name: {_listed(names)})"
        )
    extra = [c for c in columns if c not in names]
    if extra:
        raise ValueError(
            f"{subject} {verb} {len(columns)} feature columns but the model has {len(names)} "
            f"inputs ({_listed(names)}); {_listed(extra)} not among them: leave them out, or "
            "name the label column with --label"
        )
    return [columns.index(n) for n in names]


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
