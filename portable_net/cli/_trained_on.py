"""What a model file says of the files it reads, applied by ``predict`` and ``evaluate``: the
CSV dialect of its training file (the defaults of --delimiter, --decimal and --label), its
missing-value policy (the training means filled in, or the rows dropped; the default of
--missing) and its standardisation (checked by the loader, applied to the points)."""

from __future__ import annotations

import argparse
from typing import Any

from ._args import BadInput

__all__ = [
    "add_missing_option",
    "apply_dialect",
    "missing_values",
    "recorded_label",
    "scaled",
    "standardizer_of",
]


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


def add_missing_option(parser: argparse.ArgumentParser, choices: tuple[str, ...]) -> None:
    """--missing for a command that reads files for a model: the model's policy by default."""
    parser.add_argument(
        "--missing",
        choices=choices,
        default=None,
        help="what a missing value in the file's features does: error refuses the file"
        + (", drop drops its rows" if "drop" in choices else "")
        + ", mean fills in the training rows' mean (the means the model recorded with "
        "train --missing mean, else those of its --standardize) (default: the model's "
        "policy, as trained; none recorded: error)",
    )


def recorded_label(meta: Any) -> int | str | None:
    """The label column of the model's training file, by name or index, or None."""
    dialect = meta["dialect"]
    return None if dialect is None else dialect["label"]


def missing_values(
    meta: Any, *, labelled: bool, given: str | None = None
) -> tuple[str | None, Any, list[float | None] | None]:
    """``(missing, fill, fill in order)`` for reading a file for the model: as the command's
    ``--missing`` (``given``) says, else as the model's missing-value policy says. ``mean``
    fills in the training rows' values (by column name where the model has names; and one
    per input, in its order): the means the model recorded (``--missing mean``), else those
    of its standardisation; ``drop`` drops the rows of a labelled file (evaluate; predict
    needs every row); none or ``error`` refuses a missing value."""
    pre = meta["preprocessing"]
    policy = pre["missing"]
    wanted = given or (None if policy is None else policy["policy"])
    if wanted is None or wanted == "error":
        return given, None, None
    if wanted == "drop":
        return ("drop", None, None) if labelled else (None, None, None)
    if policy is not None and policy["policy"] == "mean":
        fill = policy["fill"]
    elif pre["standardize"] is not None:
        fill = pre["standardize"]["mean"]
    else:
        raise BadInput(
            "argument --missing: mean fills in the training rows' means, which the model does "
            "not record (it was trained without --missing mean or --standardize)"
        )
    names = pre["feature_names"]
    return "mean", (dict(zip(names, fill)) if names is not None else fill), list(fill)


def scaled(scaler: Any, X: Any, where: str) -> Any:
    """``scaler.transform(X)`` (NumPy), or BadInput when the result overflows float64."""
    if scaler is None:
        return X
    try:
        return scaler.transform(X)
    except ValueError as exc:
        raise BadInput(f"{where}: cannot apply the model's standardisation: {exc}") from None
