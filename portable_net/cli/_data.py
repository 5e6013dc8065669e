"""A user's own data for train, predict and evaluate: --data, --label, --delimiter, the class
names kept in a model file, the standardisation saved with it, and the per-class report.

Files are read on the host (``portable_net.tabular``, prepared by
``portable_net.preprocessing``); every problem with them is one
:class:`BadInput` line naming the option, the file and, for CSV, the line.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any

from .._text import one_line, shown
from .._validation import one_hot_problem
from ._args import MAX_CLASSES, BadInput

if TYPE_CHECKING:  # for annotations only: this module imports its libraries where it uses them
    from ..tabular import Table

#: the longest class name a model file keeps (as ``_run.classes_of`` checks on loading)
MAX_CLASS_NAME = 200

_DATA_HELP = (
    "a CSV file (header optional), an .npz archive with arrays X and y, or a pair of .npy "
    "files given as X.npy,y.npy"
)


# --- options -----------------------------------------------------------------------------------


def label_column(text: str) -> int | str:
    """--label: an integer is a column index (negative counts from the end), else a name."""
    try:
        return int(text)
    except ValueError:
        pass
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a column name or index, got an empty text")
    return text


def delimiter(text: str) -> str:
    """--delimiter: one character; 'tab' or '\\t' for a tab."""
    if text in ("tab", "\\t"):
        return "\t"
    if len(text) != 1 or text in "\r\n\"'":
        raise argparse.ArgumentTypeError(
            f"expected one character (or 'tab'), not a quote or newline, got {shown(text)}"
        )
    return text


def held_out_size(text: str) -> float | int:
    """--test-size: a fraction in (0, 1) (written with a point or an exponent) or a count."""
    try:
        count = int(text)
    except ValueError:
        pass
    else:
        if count < 1:
            raise argparse.ArgumentTypeError(f"a count of test rows must be >= 1, got {count}")
        return count
    try:
        fraction = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction in (0, 1) or a number of rows, got {shown(text)}"
        ) from None
    if not 0.0 < fraction < 1.0:
        raise argparse.ArgumentTypeError(
            f"a fraction must be in (0, 1), got {shown(text)} (a number of rows has no point)"
        )
    return fraction


def add_data_options(
    parser: argparse._ActionsContainer,
    data_help: str,
    label_help: str,
    *,
    missing: bool = False,
    from_model: bool = False,
) -> None:
    """--data, --label, --delimiter and --decimal (and, with ``missing``, --missing);
    ``from_model``: the delimiter and decimal mark default to the model's (its CSV dialect,
    :func:`apply_dialect`)."""
    model = " (default: the model's, as in its training file; else {})"
    parser.add_argument("--data", metavar="FILE", default=None, help=f"{data_help}: {_DATA_HELP}")
    parser.add_argument(
        "--label",
        metavar="NAME|INDEX",
        type=label_column,
        default=None,
        help=label_help,
    )
    parser.add_argument(
        "--delimiter",
        metavar="CHAR",
        type=delimiter,
        default=None if from_model else ",",
        help="the field separator of a CSV file ('tab' for a tab)"
        + (model.format(",") if from_model else ""),
    )
    parser.add_argument(
        "--decimal",
        metavar="CHAR",
        choices=(".", ","),
        default=None if from_model else ".",
        help="the decimal mark of a CSV file's numbers: . or , (as pandas' decimal; 1,5 "
        "with --decimal , and --delimiter ';')"
        + (model.format(".") if from_model else " (default: .)"),
    )
    if missing:
        parser.add_argument(
            "--missing",
            choices=("error", "drop", "mean"),
            default="error",
            help="what a missing value in a CSV file's features (an empty field, NA, N/A, NaN, "
            "null or ?) does: error refuses the file, drop drops its rows (and rows with an "
            "empty label), mean fills in its column's mean over the file's rows "
            "(default: error)",
        )


def check_data_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """--label and a non-default --delimiter need --data; --label needs a CSV file."""
    if args.data is None:
        for option, given in (
            ("--label", args.label is not None),
            ("--delimiter", args.delimiter not in (None, ",")),
            ("--decimal", args.decimal not in (None, ".")),
            ("--missing", getattr(args, "missing", None) not in (None, "error")),
        ):
            if given:
                parser.error(f"argument {option}: applies to --data FILE only")
        return
    if args.label is not None and not is_csv(args.data):
        parser.error(f"argument --label: picks a CSV column; {args.data!r} holds its labels in y")
    if args.decimal is not None and args.decimal == args.delimiter:
        parser.error(
            f"argument --decimal: {args.decimal!r} is also the --delimiter; a file with "
            "decimal commas separates its fields with another character (--delimiter ';')"
        )


def is_csv(path: str) -> bool:
    lowered = path.lower()
    return not (lowered.endswith(".npz") or lowered.endswith(".npy"))


def delimiter_name(sep: str) -> str:
    return "tab" if sep == "\t" else repr(sep)


# --- reading ------------------------------------------------------------------------------------

#: the library's words for its arguments -> the options that set them
_OPTION_WORDS = (
    (re.compile(r"\(pass delimiter=('.*?'|\".*?\")\)"), r"(give --delimiter \1)"),
    (re.compile(r"\(pass decimal='(.)'\)"), r"(give --decimal \1)"),
    (re.compile(r"also pass decimal='(.)'"), r"also give --decimal \1"),
    (re.compile(r"pass missing='(\w+)'"), r"give --missing \1"),
    (re.compile(r"\bmissing='(\w+)'"), r"--missing \1"),
    (re.compile(r"\blabel=(\S+?) is not a column"), r"--label \1 is not a column"),
    (re.compile(r"\blabel=(\S+?) cannot be found"), r"--label \1 cannot be found"),
    (re.compile(r"\btest_size=(\S+?) "), r"--test-size \1 "),
    (re.compile(r"\btest_size as a"), "--test-size as a"),
    (re.compile(r"\(max_bytes\)"), "(the largest file read)"),
)


#: read_table's ways forward for a missing value, in the command line's words
_MISSING_HINTS = re.compile(
    r"\(a missing value: give --missing drop to drop its rows, or --missing mean to fill in its "
    r"column's mean\)|\(give --missing drop to drop its rows\)"
)


def cli_words(message: str) -> str:
    """A message of ``portable_net.tabular`` or ``preprocessing`` in the command line's words
    (its options)."""
    for pattern, replacement in _OPTION_WORDS:
        message = pattern.sub(replacement, message)
    message = message.replace("(give --delimiter '\\t')", "(give --delimiter tab)")
    message = message.replace("give the label column's index", "give --label INDEX")
    return message.replace("use a smaller test_size", "use a smaller --test-size").replace(
        "use a larger test_size", "use a larger --test-size"
    )


def read(
    path: str,
    label: int | str | None,
    sep: str,
    option: str = "--data",
    *,
    decimal: str = ".",
    missing: str | None = None,
    fill: Any = None,
    command: str = "train",
) -> Table:
    """``(X float64, labels, feature_names, filled, pandas_index, label_name)`` of a data file
    (:class:`portable_net.tabular.Table`), or BadInput naming
    ``option``. ``missing``: the command's --missing, or None for a command without it (a
    missing value is then refused without naming an option it does not have); ``fill``:
    the values a model fills in for ``missing="mean"`` (by column name, or one per column);
    ``filled``: the value filled in for each column with ``missing="mean"``, else None;
    ``label_name``: the label column's name in a CSV file's header. pandas' index column
    (unnamed, numbering the rows) is left out, with a note on stderr from ``command``."""
    from ..tabular import MAX_BYTES, read_table_filled

    try:
        table = read_table_filled(path, label, sep, MAX_BYTES, decimal, missing or "error", fill,
                                  index=True)  # fmt: skip
        if table.pandas_index:
            index_note(command, path)
        return table
    except FileNotFoundError:
        raise BadInput(f"argument {option}: {path!r} does not exist") from None
    except (ValueError, TypeError, OSError) as exc:
        message = cli_words(str(exc))
        if missing is None:
            message = _MISSING_HINTS.sub(
                "(a missing value: give --missing drop to drop its rows, or --missing mean to "
                "fill in the training rows' means)",
                message,
            )
        raise BadInput(f"argument {option}: {message}") from None
    except MemoryError:
        raise BadInput(
            f"argument {option}: {path!r} is too large to read (out of memory)"
        ) from None


def index_note(command: str, path: str) -> None:
    """Say on stderr that pandas' index column of ``path`` was left out."""
    import sys

    name = "<stdin>" if path == "-" else repr(path)
    print(f"portable-net {command}: note: {name}: its first column, unnamed and numbering the "
          "rows (pandas' index), is left out", file=sys.stderr, flush=True)  # fmt: skip


# --- class names: what a model file keeps ----------------------------------------------------


def _key(value: Any) -> int | str:
    """One label as a model file keeps it: an integer (also a float with an integral value),
    else text (a float as its shortest repr, True/False, a string as it is)."""
    if isinstance(value, (bool, str)):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput(f"the label {value!r} is not UTF-8 text") from None
    if isinstance(value, int):
        return value
    value = float(value)
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return repr(value)


def label_keys(labels: Any) -> list[int | str]:
    """The labels as a model file keeps them: all integers, or all text."""
    keys = [_key(v) for v in labels.tolist()]
    if not all(isinstance(k, int) for k in keys):
        keys = [str(k) for k in keys]
    return keys


def class_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a class name in a model file, or None."""
    if isinstance(name, int) and not isinstance(name, bool):
        return None
    if not isinstance(name, str) or not name:
        return "is empty"
    if "," in name:
        return "contains a comma (predict --proba and model files separate classes by commas)"
    if not name.isprintable():
        return "holds a control character or line break"
    if len(name) > MAX_CLASS_NAME:
        return f"is longer than {MAX_CLASS_NAME} characters"
    return None


def encode_classes(labels: Any, path: str) -> tuple[list[int | str], Any]:
    """``(classes, y)``: the sorted distinct labels (as kept in a model file) and each row's
    class index (int64), or BadInput (one class, too many, a name a model cannot keep)."""
    import numpy as np

    from ..preprocessing import encode_labels

    keys = label_keys(labels)
    try:
        classes_arr, y = encode_labels(np.asarray(keys))
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. integers beyond int64
        raise BadInput(f"argument --data: {path!r}: its labels cannot be classes: {exc}") from None
    classes = [_key(c) if isinstance(keys[0], int) else str(c) for c in classes_arr.tolist()]
    if len(classes) < 2:
        raise BadInput(
            f"argument --data: {path!r} holds a single class ({classes[0]!r}); a classifier "
            "needs at least two (is --label the right column?)"
        )
    if len(classes) > MAX_CLASSES:
        raise BadInput(
            f"argument --data: {path!r} holds {len(classes):,} distinct labels, more than "
            f"{MAX_CLASSES:,} classes (is --label the right column?)"
        )
    too_many = one_hot_problem(len(y), len(classes))
    if too_many:  # the targets training would make, refused before anything is trained
        raise BadInput(f"argument --data: {path!r}: {too_many} (is --label the right column?)")
    for name in classes:
        problem = class_name_problem(name)
        if problem:
            raise BadInput(
                f"argument --data: the class name {one_line(repr(name), 80)} {problem}; "
                "a model file cannot keep it: rename the class in the data"
            )
    return classes, y


def class_indices(labels: Any, classes: list[Any], path: str, option: str) -> Any:
    """Each label's index among a model's ``classes``, or BadInput listing unknown labels."""
    import numpy as np

    keys = label_keys(labels)
    if classes and isinstance(classes[0], str):
        keys = [str(k) for k in keys]
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({k for k in keys if k not in index}, key=str)
    if unknown:
        few = ", ".join(repr(k) for k in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise BadInput(
            f"argument {option}: {path!r} has {len(unknown)} labels the model does not know "
            f"({one_line(few, 120)}); its classes are "
            f"{one_line(', '.join(map(str, classes)), 120)}"
        )
    return np.asarray([index[k] for k in keys], dtype=np.int64)


def finite_spiral(option: str, noise: float, **draw: Any) -> tuple[Any, Any]:
    """``make_spiral(noise=noise, **draw)``, or BadInput when a noise near the float64 limit
    makes its angles overflow (the points would be NaN)."""
    import numpy as np

    from .. import make_spiral

    with np.errstate(over="ignore", invalid="ignore"):
        X, y = make_spiral(noise=noise, **draw)
    from .._backend import to_host

    if not np.isfinite(to_host(X)).all():
        raise BadInput(
            f"argument {option}: {noise:g} makes the spiral's angles overflow float64 (its "
            "points would be NaN); use a smaller noise"
        )
    return X, y


def scale_hint(X: Any, names: list[str]) -> str | None:
    """For a run that went wrong on unscaled data: --standardize, when the features' scales
    (root mean squares) differ 100-fold or more, as on most tabular data (a gradient step
    sized for the small features throws the large ones far)."""
    import numpy as np

    rms = np.sqrt(np.mean(np.square(X), axis=0))
    if X.shape[0] == 0 or not np.isfinite(rms).all() or rms.max() == 0:
        return None
    big = int(np.argmax(rms))
    small = int(np.argmin(np.where(rms > 0, rms, np.inf)))
    if rms[big] < 100 * rms[small]:
        return None
    return (
        f"the features' scales differ by orders of magnitude (root mean square "
        f"{rms[big]:.3g} for {names[big]!r}, {rms[small]:.3g} for {names[small]!r}); "
        "give --standardize to scale each feature to zero mean and unit variance"
    )


def check_n_features(X: Any, n_inputs: int, where: str) -> None:
    if X.shape[1] != n_inputs:
        raise BadInput(
            f"{where} has {X.shape[1]} feature columns but the model has {n_inputs} inputs"
        )


# --- the per-class report ----------------------------------------------------------------------


def per_class(y_true: Any, y_pred: Any, n_classes: int) -> dict[str, Any]:
    """Precision, recall, f1 and support per class (0 where undefined, as scikit-learn's
    ``zero_division``), their macro and support-weighted means, and the confusion matrix
    (rows: true class, columns: predicted class)."""
    import numpy as np

    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    weights = support / max(int(support.sum()), 1)
    means = {
        "macro avg": [float(m.mean()) for m in (precision, recall, f1)],
        "weighted avg": [float((m * weights).sum()) for m in (precision, recall, f1)],
    }
    return {
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": support.tolist(),
        "means": means,
        "confusion": confusion.tolist(),
    }


def report_json(classes: list[Any], report: dict[str, Any], confusion: bool) -> dict[str, Any]:
    """The report as JSON: one entry per class (by name), the means, the confusion matrix."""
    out: dict[str, Any] = {
        "per_class": [
            {"class": c, "precision": p, "recall": r, "f1": f, "support": s}
            for c, p, r, f, s in zip(
                classes, report["precision"], report["recall"], report["f1"], report["support"]
            )
        ],
        "macro_avg": dict(zip(("precision", "recall", "f1"), report["means"]["macro avg"])),
        "weighted_avg": dict(zip(("precision", "recall", "f1"), report["means"]["weighted avg"])),
    }
    if confusion:
        out["confusion"] = report["confusion"]
    return out


def report_lines(classes: list[Any], report: dict[str, Any], confusion: bool) -> list[str]:
    """The per-class table (as scikit-learn's ``classification_report``) and, with
    ``confusion``, the confusion matrix (rows: true class, columns: predicted)."""
    names = [str(c) for c in classes]
    width = max(12, *(len(n) for n in names))
    lines = [f"{'':>{width}} {'precision':>9} {'recall':>9} {'f1-score':>9} {'support':>9}"]
    for name, p, r, f, s in zip(
        names, report["precision"], report["recall"], report["f1"], report["support"]
    ):
        lines.append(f"{name:>{width}} {p:9.4f} {r:9.4f} {f:9.4f} {s:9d}")
    total = sum(report["support"])
    for name, (p, r, f) in report["means"].items():
        lines.append(f"{name:>{width}} {p:9.4f} {r:9.4f} {f:9.4f} {total:9d}")
    if confusion:
        matrix = report["confusion"]
        cell = max(len(n) for n in names)
        cell = max(cell, *(len(str(v)) for row in matrix for v in row))
        lines.append("confusion matrix (rows: true class, columns: predicted class):")
        lines.append(f"{'':>{width}} " + " ".join(f"{n:>{cell}}" for n in names))
        for name, row in zip(names, matrix):
            lines.append(f"{name:>{width}} " + " ".join(f"{v:>{cell}d}" for v in row))
    return lines
