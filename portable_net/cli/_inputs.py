"""What ``portable-net train`` learns from: the spiral or a user's data file on the chosen
backend (with the held-out rows of --test-size), and the checks of the options that choose
it."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any

from .._validation import one_hot_problem
from . import _categorical, _data, _training
from ._args import BadInput, check_spiral_size


@dataclass
class Data:
    """What the net learns from, on the chosen backend: the training rows, and the held-out
    rows (with --test-size), plus what a model file keeps about a user's data."""

    X: Any
    y: Any
    X_test: Any = None
    y_test: Any = None
    classes: list[Any] = field(default_factory=list)
    #: saved as the model's ``data`` metadata
    record: dict[str, Any] = field(default_factory=dict)
    #: saved as the model's ``standardize`` metadata (with --standardize)
    standardize: dict[str, list[float]] | None = None
    #: saved as the model's ``categorical`` metadata (with --categorical)
    categorical: dict[str, Any] | None = None
    #: what the model file records of the preprocessing and of a CSV file's dialect
    preprocessing: dict[str, Any] | None = None
    dialect: dict[str, Any] | None = None


def recorded(
    args: argparse.Namespace,
    names: list[str],
    *,
    standardize: Any = None,
    categorical: Any = None,
    fill: Any = None,
    label: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``(preprocessing, dialect)`` that a model trained on --data records: the feature
    names (None for a file without a header), the standardisation, the categorical
    encoding, the missing-value policy (and its fill) and the CSV dialect (its label
    column by the header's name ``label``, else as --label gave it)."""
    from ._columns import names_to_record

    csv = _data.is_csv(args.data)
    policy = getattr(args, "missing", "error")
    preprocessing = {
        "feature_names": names_to_record(names),
        "standardize": standardize,
        "categorical": categorical,
        "missing": {"policy": policy, "fill": fill if policy == "mean" else None} if csv else None,
    }
    dialect = {"delimiter": args.delimiter, "decimal": args.decimal,
               "label": args.label if label is None else label}  # fmt: skip
    return preprocessing, dialect if csv else None


def check_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Options that need --data, or the spiral, or each other: usage errors before work."""
    _data.check_data_options(args, parser)
    _categorical.check_categorical_option(args, parser)
    if args.data is None:
        if args.task == "regression":
            parser.error("argument --task: regression needs --data FILE (a real target column)")
        _training.check_training_options(args, parser)
        for option, given in (
            ("--test-size", args.test_size is not None),
            ("--standardize", args.standardize),
            ("--confusion", args.confusion),
        ):
            if given:
                parser.error(f"argument {option}: applies to --data FILE only")
        args.n_per_class = 100 if args.n_per_class is None else args.n_per_class
        args.classes = 3 if args.classes is None else args.classes
        too_many = check_spiral_size(args.n_per_class, args.classes)
        if too_many:
            parser.error(f"argument --n-per-class/--classes: {too_many}")
        too_many = one_hot_problem(args.n_per_class * args.classes, args.classes)
        if too_many:  # the targets training would make, refused before the spiral is drawn
            parser.error(f"argument --n-per-class/--classes: {too_many}")
        return
    for option, value in (("--n-per-class", args.n_per_class), ("--classes", args.classes)):
        if value is not None:
            parser.error(f"argument {option}: applies to the spiral; --data gives the data")
    if args.test_size is not None and args.seed >= 2**32:
        parser.error("argument --seed: must be < 2**32 to draw the --test-size split")


def spiral_data(
    args: argparse.Namespace, parser: argparse.ArgumentParser, xp: Any, device: Any
) -> Data:
    from .. import make_spiral

    try:
        X, y = make_spiral(
            args.n_per_class, args.classes, seed=args.seed, xp=xp, device=device, dtype=args.dtype
        )
    except ValueError as exc:  # e.g. float64 asked of a backend without it
        parser.error(str(exc))
    if args.validation_fraction is not None or args.early_stopping:
        from .._backend import to_host

        check_held_out(args, to_host(y))
    record = {"n_per_class": args.n_per_class, "classes": args.classes, "seed": args.seed}
    return Data(X, y, classes=list(range(args.classes)), record=record)


def check_held_out(args: argparse.Namespace, y: Any) -> None:
    """The held-out rows of --validation-fraction (--early-stopping's 0.1 by default) drawn
    as training will draw them, from the training labels ``y`` (NumPy): a fraction that
    leaves a class without rows is a bad option, found before any training."""
    import numpy as np

    from ..preprocessing import split

    fraction = args.validation_fraction
    if fraction is None:
        if not args.early_stopping:
            return
        fraction = 0.1
    try:
        split(np.arange(y.shape[0])[:, None], y, fraction, args.seed)
    except (ValueError, TypeError) as exc:
        message = str(exc).replace("test_size=", "--validation-fraction ")
        message = message.replace("test_size", "--validation-fraction")
        message = message.replace("test rows", "held-out rows")
        raise BadInput(f"argument --validation-fraction: {message}") from None


def user_data(
    args: argparse.Namespace, parser: argparse.ArgumentParser, xp: Any, device: Any
) -> Data:
    """--data read, its labels encoded, split (--test-size) and scaled (--standardize) on the
    host, then moved to the backend: every problem with the file is found here, before any
    training."""
    import numpy as np

    from .._backend import from_host, int_dtype
    from ..preprocessing import Standardizer, split, split_rows

    encoding = None
    if args.categorical is None:
        try:
            X, labels, names, fill, _, label_name = _data.read(
                args.data, args.label, args.delimiter, decimal=args.decimal, missing=args.missing
            )
        except BadInput as exc:
            raise BadInput(_categorical.text_hint(str(exc))) from None
    else:
        X, labels, names, encoding, note, fill, label_name = _categorical.read_for_training(args)
        if note:  # on stderr, also with --quiet and --json: which columns became inputs
            print(f"portable-net train: note: {note}", file=sys.stderr, flush=True)
        if len(set(names)) != len(names):
            raise BadInput(
                f"argument --categorical: {args.data!r}: the encoded features' names "
                "(column=value) repeat a column's name; rename that column"
            )
    regression = args.task == "regression"
    if regression:
        from ._regression import real_targets

        classes: list[int | str] = []
        y = real_targets(labels, args.data)
    else:
        classes, y = _data.encode_classes(labels, args.data)
    record: dict[str, Any] = {
        "file": args.data,
        "label": args.label,
        "feature_names": names,
        "rows": int(X.shape[0]),
    }
    X_test = y_test = None
    if args.test_size is not None:
        try:
            if regression:  # rows drawn as train_test_split draws them, not stratified
                rows = split_rows(y, args.test_size, np.random.RandomState(args.seed),
                                  stratify=False)  # fmt: skip
                X, X_test, y, y_test = X[rows[0]], X[rows[1]], y[rows[0]], y[rows[1]]
            else:
                names_of = np.asarray(classes)  # split by the class names: errors name them
                X, X_test, y, y_test = split(X, names_of[y], args.test_size, args.seed)
                y, y_test = np.searchsorted(names_of, y), np.searchsorted(names_of, y_test)
        except ValueError as exc:
            raise BadInput(
                f"argument --test-size: {args.data!r}: {_data.cli_words(str(exc))}"
            ) from None
        record.update(test_size=args.test_size, test_rows=int(X_test.shape[0]))
    saved = None
    if args.standardize:
        try:
            scaler = Standardizer().fit(X)  # the training rows' statistics only
            if encoding is not None:  # the indicators stay 0/1, as a ColumnTransformer's
                numeric = len(names) - len(encoding.names())  # the numeric columns first
                scaler = _categorical.numeric_only(scaler, numeric)
            X = scaler.transform(X)
            X_test = None if X_test is None else scaler.transform(X_test)
        except ValueError as exc:  # values whose mean or variance overflow float64
            raise BadInput(f"argument --standardize: {args.data!r}: {exc}") from None
        saved = scaler.to_dict()
    preprocessing, dialect = recorded(
        args, names, standardize=saved, fill=fill, label=label_name,
        categorical=None if encoding is None else encoding.to_dict(),
    )  # fmt: skip

    def to_xp(a: Any, dtype: Any) -> Any:
        return None if a is None else from_host(xp, a, dtype, device)

    try:
        fdtype = getattr(xp, args.dtype)
        ydtype, yhost = (fdtype, np.float64) if regression else (int_dtype(xp, device), np.int64)
        return Data(
            to_xp(X, fdtype),
            to_xp(y.astype(yhost, copy=False), ydtype),
            to_xp(X_test, fdtype),
            to_xp(None if y_test is None else y_test.astype(yhost, copy=False), ydtype),
            classes=classes,
            record=record,
            standardize=saved,
            categorical=None if encoding is None else encoding.to_dict(),
            preprocessing=preprocessing,
            dialect=dialect,
        )
    except (ValueError, TypeError) as exc:  # e.g. float64 asked of a backend without it
        parser.error(str(exc))
