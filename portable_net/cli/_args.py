"""The parser's pieces shared by every command: argument types, options declared once, errors.

Each command module declares its own options beside its handler; an option that two or
more commands take is declared here once (``add_backend_options``, ``add_option``, ...).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable
from typing import Any, NoReturn

from .._backend import BACKENDS
from .._text import one_line, shown
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
#: the command's upper bounds of integer options that the library leaves open: a count of
#: steps (--steps, --log-every, --patience, --batch-size, --entries) at most 2**31 - 1 (a
#: 32-bit trip count on every engine), at most 4096 threads, hidden layers of at most 2**24
#: units (and a model no larger than a model file holds: ``_run.check_model_size``)
MAX_STEPS = 2**31 - 1
MAX_THREADS = 4096
MAX_LAYER_SIZE = 2**24
_CLI_MAXIMA = {
    "steps": MAX_STEPS,
    "log_every": MAX_STEPS,
    "n_iter_no_change": MAX_STEPS,
    "batch_size": MAX_STEPS,
    "n_jobs": MAX_THREADS,
    "hidden_layer_sizes": MAX_LAYER_SIZE,
}


#: where options are added: a parser, or one of its argument groups (``--help``'s sections)
Options = argparse._ActionsContainer


class Failure(Exception):
    """A run-time failure: one line on stderr and exit status 1."""


class BadInput(Exception):
    """Input that cannot be used (a model file, a CSV file): one line on stderr, exit 2."""


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


def _at_most(check: Callable[[Any], Any], low: Any, maximum: int) -> Callable[[Any], Any]:
    """``check``, then an upper bound: the refusal says the whole range."""

    def checked(value: Any) -> Any:
        value = check(value)
        if isinstance(value, int) and value > maximum:
            low_text = "-inf" if low is None else f"{low:,}"
            raise ValueError(
                f"value must be an integer in [{low_text}, {maximum:,}], got {value:,}"
            )
        return value

    return checked


def integer(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], Any]:
    """An integer checked by ``_validation.check_int`` (and <= ``maximum``)."""

    def check(value: int) -> int:
        return check_int("value", value, minimum=minimum)

    if maximum is not None:
        return _argument_type(int, "an integer", _at_most(check, minimum, maximum))
    return _argument_type(int, "an integer", check)


def real(
    low: float | None = None, high: float | None = None, **open_ends: bool
) -> Callable[[str], Any]:
    """A finite number checked by ``_validation.check_real``."""
    return _argument_type(
        float, "a number", lambda v: check_real("value", v, low=low, high=high, **open_ends)
    )


def hyperparameter(
    key: str, help: str | None = None, extra: str = "", where: str = CLI, **changes: Any
) -> dict[str, Any]:
    """``add_argument``'s keywords for the option of the hyperparameter ``key`` of
    :mod:`portable_net.hyperparameters`: its type and range (checked by the library's check), choices,
    default and help (the table's meaning and range, unless ``help`` is given; then
    ``extra``), as the entry point ``where`` takes it (the command's own options, or the
    estimators' parameters that ``train --data`` takes by their names)."""
    use = HYPERPARAMETERS[key].at(where)
    text = (use.describe() if help is None else help) + extra
    if key in _CLI_MAXIMA:  # the range as the command bounds it
        text = re.sub(r"\(>= (-?\d+)\)", rf"(>= \1, at most {_CLI_MAXIMA[key]:,})", text)
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
            check: Callable[[Any], Any] = one.check
            if key in _CLI_MAXIMA:
                r = use.range
                low = None if r is None or r.low is None else int(r.low) + int(r.low_open)
                check = _at_most(check, -1 if key == "n_jobs" else low, _CLI_MAXIMA[key])
            options["type"] = _argument_type(int, "an integer", check)
        if use.kind == "sizes":
            options.update(nargs="+", metavar="SIZE")
    return {**options, **changes}


def add_hyperparameter(parser: Options, key: str, *aliases: str, **changes: Any) -> None:
    """Add the option of the hyperparameter ``key`` (see :func:`hyperparameter`), and each
    of ``aliases``: another name of the same option (errors name the one given)."""
    name = HYPERPARAMETERS[key].at(CLI).name
    action = parser.add_argument(name, **hyperparameter(key, **changes))
    same: dict[str, Any] = {"type": action.type} if action.type is not None else {}
    for alias in aliases:
        parser.add_argument(
            alias, dest=action.dest, choices=action.choices, metavar=action.metavar,
            default=argparse.SUPPRESS, help=f"the same as {name}", **same,
        )  # fmt: skip


class Given(argparse.Action):
    """Store the value, as argparse's default action does, and note the option's ``dest`` in
    the namespace's ``given`` (a set): an option whose default differs between the spiral
    and ``--data`` is told apart from one the user gave with the spiral's default value."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:  # fmt: skip
        setattr(namespace, self.dest, values)
        namespace.given = {*getattr(namespace, "given", ()), self.dest}


def given(args: argparse.Namespace, dest: str) -> bool:
    """Whether the option of ``dest`` (declared with ``action=Given``) was on the command line."""
    return dest in getattr(args, "given", ())


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
        help=f"hidden layer sizes of the mlp, one or more (each >= 1, at most {MAX_LAYER_SIZE:,}) "
        "(default: "
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


def add_option(parser: Options, name: str, **changes: Any) -> None:
    """Add the shared option ``name``, with some of its keywords changed."""
    options = {**OPTIONS[name], **changes}
    if name == "--plot":
        options["help"] = _PLOT_HELP.format(changes.pop("what", "the result"))
        options.pop("what", None)
    parser.add_argument(name, **options)


def add_backend_options(parser: Options, dtype: bool = True) -> None:
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
