"""What a model file says of the files it reads, applied by ``predict`` and ``evaluate``: the
CSV dialect of its training file (the defaults of --delimiter, --decimal and --label), its
missing-value policy (the training means filled in, or the rows dropped) and its
standardisation (checked by the loader, applied to the points)."""

from __future__ import annotations

import argparse
from typing import Any

from ._args import BadInput

__all__ = ["apply_dialect", "missing_values", "recorded_label", "standardized", "standardizer_of"]


def standardizer_of(meta: dict[str, Any]) -> Any:
    """The model's Standardizer (its ``preprocessing.standardize``, checked by the loader:
    one finite mean and positive scale per input), or None."""
    from ..preprocessing import Standardizer

    saved = meta["preprocessing"]["standardize"]
    return None if saved is None else Standardizer.from_dict(saved)


def apply_dialect(args: argparse.Namespace, parser: argparse.ArgumentParser, meta: Any) -> None:
    """--delimiter and --decimal not given: the model's CSV dialect (as in its training
    file), else a comma and a point; then the two must differ."""
    dialect = meta["dialect"] or {}
    if args.delimiter is None:
        args.delimiter = dialect.get("delimiter") or ","
    if args.decimal is None:
        args.decimal = dialect.get("decimal") or "."
    if args.decimal == args.delimiter:
        parser.error(
            f"argument --decimal: {args.decimal!r} is also the --delimiter; a file with "
            "decimal commas separates its fields with another character (--delimiter ';')"
        )


def recorded_label(meta: Any) -> int | str | None:
    """The label column of the model's training file, by name or index, or None."""
    dialect = meta["dialect"]
    return None if dialect is None else dialect["label"]


def missing_values(meta: Any, *, labelled: bool) -> tuple[str | None, Any]:
    """``(missing, fill)`` for reading a file for the model, as its missing-value policy says:
    ``mean`` fills in the training rows' values (by column name where the model has names),
    ``drop`` drops the rows of a labelled file (evaluate; predict needs every row), and
    none or ``error`` refuses a missing value."""
    policy = meta["preprocessing"]["missing"]
    if policy is None or policy["policy"] == "error":
        return None, None
    if policy["policy"] == "drop":
        return ("drop", None) if labelled else (None, None)
    names = meta["preprocessing"]["feature_names"]
    fill = policy["fill"]
    return "mean", (dict(zip(names, fill)) if names is not None else fill)


def standardized(scaler: Any, X: Any, where: str) -> Any:
    """``scaler.transform(X)`` (NumPy), or BadInput when the result overflows float64."""
    if scaler is None:
        return X
    try:
        return scaler.transform(X)
    except ValueError as exc:
        raise BadInput(f"{where}: cannot apply the model's standardisation: {exc}") from None
