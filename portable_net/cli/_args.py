"""The parser's pieces shared by every command: argument types, options declared once, errors.

Each command module declares its own options beside its handler; an option that two or
more commands take is declared here once (``add_backend_options``, ``add_option``, ...).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any, NoReturn

from .._backend import BACKENDS
from .._validation import check_int, check_real
from ..constraints import CLI, REQUIRED
from ..hyperparameters import HYPERPARAMETERS

PROG = "portable-net"
#: the case study's settings per model: (steps, log_every); the mlp's are train's defaults
MODEL_DEFAULTS = {
    "mlp": (HYPERPARAMETERS["steps"].default, HYPERPARAMETERS["log_every"].default),
    "softmax": (200, 10),
}
#: the hidden layer sizes of the mlp when --hidden is not given (the Classifier's default)
DEFAULT_HIDDEN = list(HYPERPARAMETERS["hidden_layer_sizes"].default)
#: the most spiral points a command draws: per class, and in all (X alone is 16 bytes a point)
MAX_PER_CLASS = 10_000_000
MAX_POINTS = 100_000_000
MAX_CLASSES = 100_000
_SEEDS = HYPERPARAMETERS["seed"].at(CLI).range
assert _SEEDS is not None and _SEEDS.high is not None
MAX_SEED = int(_SEEDS.high)
#: error messages are cut to this many characters (a huge value must not flood the terminal)
MAX_MESSAGE = 300


class Failure(Exception):
    """A run-time failure: one line on stderr and exit status 1."""


class BadInput(Exception):
    """Input that cannot be used (a model file, a CSV file): one line on stderr, exit 2."""


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` as one printable line of at most ``limit`` characters (control characters
    escaped, the middle of a long text replaced by ``...``)."""
    text = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text)
    )
    if len(text) > limit:
        keep = limit - 3
        text = text[: keep - keep // 3] + "..." + text[len(text) - keep // 3 :]
    return text


def shown(value: str, limit: int = 200) -> str:
    """``value`` quoted for an error message, cut to ``limit`` characters."""
    return one_line(repr(value), limit)


class Parser(argparse.ArgumentParser):
    """Usage errors as one line and exit status 2, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


class Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions as written; each option's default, unless its help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "(default:" in text
            or not action.option_strings
            or any(action.default is v for v in (None, False, argparse.SUPPRESS))
        ):
            return text
        return text + " (default: %(default)s)"


# --- argument types: the library's own checks, as argparse errors -------------------------


def _reason(exc: Exception) -> str:
    return str(exc).split(" ", 1)[1]  # "value must be ..." -> "must be ..."


def _argument_type(convert: Any, expected: str, check: Any) -> Callable[[str], Any]:
    """An argument type: ``convert`` the text, then ``check`` the value (a library check)."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {shown(text)}") from None
        try:
            return check(value)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(_reason(exc)) from None

    return parse


def integer(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], Any]:
    """An integer checked by ``_validation.check_int`` (and <= ``maximum``)."""

    def check(value: int) -> int:
        value = check_int("value", value, minimum=minimum)
        if maximum is not None and value > maximum:
            raise ValueError(f"value must be <= {maximum:,}, got {value:,}")
        return value

    return _argument_type(int, "an integer", check)


def real(
    low: float | None = None, high: float | None = None, **open_ends: bool
) -> Callable[[str], Any]:
    """A finite number checked by ``_validation.check_real``."""
    return _argument_type(
        float, "a number", lambda v: check_real("value", v, low=low, high=high, **open_ends)
    )


def hyperparameter(
    key: str, help: str | None = None, extra: str = "", **changes: Any
) -> dict[str, Any]:
    """``add_argument``'s keywords for the option of the hyperparameter ``key`` of
    :mod:`portable_net.hyperparameters`: its type and range (checked by the library's check), choices,
    default and help (the table's meaning and range, unless ``help`` is given; then
    ``extra``)."""
    use = HYPERPARAMETERS[key].at(CLI)
    text = (use.describe() if help is None else help) + extra
    options: dict[str, Any] = {"default": use.default, "help": text.replace("%", "%%")}
    if use.kind == "bool":
        options["action"] = "store_true"
    elif use.kind == "str":
        options["choices"] = use.options
    else:
        one = dataclasses.replace(use, kind="int", default=REQUIRED)
        if use.kind == "float":
            options["type"] = _argument_type(float, "a number", use.check)
        else:
            options["type"] = _argument_type(int, "an integer", one.check)
        if use.kind == "sizes":
            options.update(nargs="+", metavar="SIZE")
    return {**options, **changes}


def add_hyperparameter(parser: argparse.ArgumentParser, key: str, **changes: Any) -> None:
    """Add the option of the hyperparameter ``key`` (see :func:`hyperparameter`)."""
    parser.add_argument(HYPERPARAMETERS[key].at(CLI).name, **hyperparameter(key, **changes))


def check_spiral_size(n_per_class: int, n_classes: int) -> str | None:
    """Why a spiral of this size is refused (too many points), or None."""
    if n_per_class * n_classes > MAX_POINTS:
        return (
            f"{n_per_class:,} points per class x {n_classes:,} classes is more than "
            f"{MAX_POINTS:,} points"
        )
    return None


# --- options shared by several commands -----------------------------------------------------

_PLOT_HELP = (
    "also save a picture of {} to FILE; the format follows the suffix (.png, .pdf, .svg, ...); "
    "needs matplotlib: pip install 'portable-net[plot]'"
)

#: options taken by two or more commands: name -> add_argument keywords
OPTIONS: dict[str, dict[str, Any]] = {
    "--model": dict(
        choices=sorted(MODEL_DEFAULTS),
        default="mlp",
        help="mlp: the ReLU network; softmax: the linear classifier",
    ),
    "--hidden": hyperparameter(
        "hidden_layer_sizes",
        help="hidden layer sizes of the mlp, one or more (each >= 1) (default: "
        f"{' '.join(map(str, DEFAULT_HIDDEN))})",
    ),
    "--classes": dict(
        type=integer(2, MAX_CLASSES), default=3, help="number of classes (spiral arms)"
    ),
    "--n-per-class": dict(
        type=integer(1, MAX_PER_CLASS), default=100, help="spiral points per class"
    ),
    "--seed": hyperparameter("seed", help="seed of the spiral's noise"),
    "--noise": dict(
        type=real(0.0), default=0.2, help="standard deviation of the angular noise (>= 0)"
    ),
    "--reg": hyperparameter("reg"),
    "--json": dict(action="store_true", help="print one JSON object instead"),
    "--output": dict(metavar="FILE", default=None, help="write to FILE (default: stdout)"),
    "--plot": dict(metavar="FILE", default=None, help=_PLOT_HELP),
}


def add_option(parser: argparse.ArgumentParser, name: str, **changes: Any) -> None:
    """Add the shared option ``name``, with some of its keywords changed."""
    options = {**OPTIONS[name], **changes}
    if name == "--plot":
        options["help"] = _PLOT_HELP.format(changes.pop("what", "the result"))
        options.pop("what", None)
    parser.add_argument(name, **options)


def add_backend_options(parser: argparse.ArgumentParser, dtype: bool = True) -> None:
    """--backend, --device and (with ``dtype``) --dtype."""
    parser.add_argument(
        "--backend",
        default="numpy",
        help=f"array library: one of {', '.join(BACKENDS)} (see 'portable-net backends')",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="device, e.g. cpu or cuda:0 (default: the backend's default device)",
    )
    if dtype:
        parser.add_argument(
            "--dtype",
            choices=("float32", "float64"),
            default="float64",
            help="floating precision of data, parameters and maths",
        )


def add_spiral_options(parser: argparse.ArgumentParser, from_model: bool = False) -> None:
    """--n-per-class and --seed; ``from_model``: their defaults are the model's records."""
    note = " (default: the model's training spiral, if recorded; else {})"
    add_option(
        parser,
        "--n-per-class",
        default=None if from_model else 100,
        help="spiral points per class" + (note.format(100) if from_model else ""),
    )
    add_option(
        parser,
        "--seed",
        default=None if from_model else 0,
        help="seed of the spiral's noise" + (note.format(0) if from_model else ""),
    )


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="the saved model (.npz)")


def hidden_sizes(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[int]:
    """The hidden layer sizes asked for by --model and --hidden."""
    if args.model == "softmax" and args.hidden is not None:
        parser.error("--hidden applies to --model mlp only")
    return [] if args.model == "softmax" else (args.hidden or list(DEFAULT_HIDDEN))
