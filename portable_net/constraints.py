"""The pieces of the hyperparameter table (:mod:`portable_net.hyperparameters`): the entry points, a
range of numbers, a hyperparameter (one row), the way one entry point takes it (an alias), and
the checks, with errors that name the argument as the entry point spells it."""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from ._validation import check_int, check_real

__all__ = [
    "ADAM",
    "CLI",
    "ENTRY_POINTS",
    "ESTIMATOR",
    "KINDS",
    "REGRESSOR",
    "REQUIRED",
    "SAME",
    "SCHEDULE",
    "SGD",
    "TRAIN",
    "Alias",
    "Hyperparameter",
    "Range",
    "Use",
]

# --- the entry points ---------------------------------------------------------------------

TRAIN = "train"  #: portable_net.train's keywords
ESTIMATOR = "estimator"  #: the estimators' constructors (Classifier: MLPClassifier's names)
REGRESSOR = "regressor"  #: the Regressor's constructor only (MLPRegressor's ``loss``)
CLI = "cli"  #: the options of ``portable-net train``
SGD = "optim.SGD"  #: the fields of portable_net.optim.SGD
ADAM = "optim.Adam"  #: the fields of portable_net.optim.Adam
SCHEDULE = "LearningRateSchedule"  #: the fields of portable_net.optim.LearningRateSchedule
ENTRY_POINTS = (TRAIN, ESTIMATOR, REGRESSOR, CLI, SGD, ADAM, SCHEDULE)
# the optimisers' and the schedule's errors say what they expect in words ("a positive
# finite float"), the others as an interval ("finite and in (0.0, inf)")
_IN_WORDS = (SGD, ADAM, SCHEDULE)

#: the default of an argument that has none (a required one), as ``inspect`` marks it
REQUIRED = inspect.Parameter.empty


#: the types of hyperparameter: a finite real number, an integer, True/False, one of some
#: strings, layer sizes (an int or a sequence of ints), scikit-learn's random_state (None, an
#: int or a numpy.random.RandomState) and its verbose (a bool or an int >= 0)
KINDS = ("float", "int", "bool", "str", "sizes", "random_state", "verbose")


@dataclass(frozen=True)
class Range:
    """An interval of numbers; ``closed`` as scikit-learn's ``Interval``: which ends belong to
    it, ``"both"``, ``"left"``, ``"right"`` or ``"neither"``. A missing end (None) is
    unbounded; the number must be finite anyway (except where a :class:`Use` says not)."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"
    # which ends are left out (from ``closed``; set once: the checks read them per call)
    low_open: bool = field(init=False, repr=False, compare=False)
    high_open: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "low_open", self.closed in ("right", "neither"))
        object.__setattr__(self, "high_open", self.closed in ("left", "neither"))

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None:
            return not (value >= self.high if self.high_open else value > self.high)
        return True

    def __str__(self) -> str:
        lo = "(" if self.low_open or self.low is None else "["
        hi = ")" if self.high_open or self.high is None else "]"
        low = "-inf" if self.low is None else _number(self.low)
        high = "inf" if self.high is None else _number(self.high)
        return f"{lo}{low}, {high}{hi}"

    def bounds(self) -> str:
        """Short words: ``"> 0"``, ``">= 1"``, ``"in [0, 1)"``, or ``""`` (any number)."""
        if self.low is not None and self.high is not None:
            return f"in {self}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_number(self.high)}"
        return ""


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


class _Same:
    def __repr__(self) -> str:
        return "SAME"


#: an :class:`Alias` field left as the row's
SAME: Any = _Same()


@dataclass(frozen=True)
class Alias:
    """How one entry point takes a hyperparameter, where more than its name differs from
    the row: each field given replaces the row's (``meaning`` too, when not empty)."""

    name: str
    default: Any = SAME
    kind: Any = SAME
    range: Any = SAME
    options: Any = SAME
    finite: Any = SAME
    meaning: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Use:
    """A hyperparameter as one entry point takes it: its name, type, default, range, meaning;
    :meth:`check` refuses a value outside them with an error naming the argument."""

    key: str
    where: str
    name: str
    kind: str
    default: Any
    meaning: str
    range: Range | None = None
    options: tuple[Any, ...] = ()
    finite: bool = True
    hint: str = ""
    why_not: Mapping[str, str] = field(default_factory=dict)

    def check(self, value: Any) -> Any:
        """The value, checked and as a plain Python value (float, int, bool, str, list)."""
        if value is None and self.default is None:
            return None  # None is the default: "not given"
        if isinstance(value, str) and value in self.options:
            return value
        name, kind = self.name, self.kind
        if kind == "str" or (self.options and isinstance(value, str)):
            why = (
                f" ({self.why_not[value]})"
                if isinstance(value, str) and value in self.why_not
                else ""
            )
            hint = f" ({self.hint})" if self.hint else ""
            if kind == "str":
                expected = "one of " + ", ".join(map(str, self.options))
            else:
                number = "an integer" if kind == "int" else "a number"
                expected = " or ".join([*map(repr, self.options), number])
            raise ValueError(f"{name} must be {expected}{hint}, got {value!r}{why}")
        if kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise TypeError(f"{name} must be True or False, not {value!r}")
        if kind == "verbose":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            if isinstance(value, numbers.Integral) and int(value) >= 0:
                return int(value)
            raise TypeError(f"{name} must be True, False or an int >= 0, not {value!r}")
        if kind == "random_state":
            if value is None or isinstance(value, np.random.RandomState):
                return value
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise ValueError(
                    f"{name} must be None, an int or a numpy.random.RandomState, not {value!r}"
                )
            return replace(self, kind="int").check(value)
        if kind == "sizes":
            if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                value = [value]
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise TypeError(f"{name} must be an int or a sequence of ints, not {value!r}")
            one = replace(self, kind="int", default=REQUIRED)
            return [replace(one, name=f"{name}[{i}]").check(v) for i, v in enumerate(value)]
        if self.where in _IN_WORDS:
            return self._check_in_words(value)
        if (
            not self.finite
            and isinstance(value, numbers.Real)
            and math.isinf(value)
            and float(value) in (self.range or Range())
        ):
            return float(value)  # never reached: an integer's too (n_iter_no_change=np.inf)
        if kind == "int":
            return self._check_int(value)
        r = self.range or Range()
        return check_real(
            name, value, low=r.low, high=r.high, low_open=r.low_open, high_open=r.high_open
        )

    def _check_int(self, value: Any) -> int:
        r = self.range or Range()
        low = None if r.low is None else int(r.low) + (1 if r.low_open else 0)
        number = check_int(self.name, value, minimum=low)
        if r.high is not None:
            high = int(r.high) - (1 if r.high_open else 0)
            if number > high:
                raise ValueError(f"{self.name} must be <= {high:,}, got {number:,}")
        return number

    def _check_in_words(self, value: Any) -> Any:
        r = self.range or Range()
        bounds = r.bounds()
        if self.kind == "int":
            expected = f"an int {bounds}".rstrip()
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{self.name} must be {expected}, not {type(value).__name__}")
            if int(value) not in r:
                raise ValueError(f"{self.name} must be {expected}, got {value!r}")
            return int(value)
        if bounds.startswith("in "):
            expected = bounds
        elif bounds == "> 0":
            expected = "a positive finite float"
        else:
            expected = (
                f"a finite float {bounds}".rstrip() if self.finite else "a number other than NaN"
            )
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{self.name} must be {expected}, not {type(value).__name__}")
        number = float(value)
        finite = math.isfinite(number) or (not self.finite and not math.isnan(number))
        if not (finite and number in r):
            raise ValueError(f"{self.name} must be {expected}, got {value!r}")
        return number

    def describe(self) -> str:
        """The meaning and the range, in one line (for help texts)."""
        bounds = "" if self.range is None else self.range.bounds()
        if self.options and self.kind == "str":
            bounds = "one of " + ", ".join(self.options)
        return f"{self.meaning} ({bounds})" if bounds else self.meaning


@dataclass(frozen=True)
class Hyperparameter:
    """One row of the table: a hyperparameter as :func:`portable_net.train` takes it (or the
    optimiser, for those train takes through one), and its ``names`` elsewhere: entry point
    -> its name there, or an :class:`Alias` where more than the name differs.

    ``why_not``: values refused with a reason (``"lbfgs"``: no such solver here)."""

    name: str
    kind: str
    default: Any
    meaning: str
    names: Mapping[str, str | Alias]
    range: Range | None = None
    options: tuple[Any, ...] = ()
    why_not: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        unknown = set(self.names) - set(ENTRY_POINTS)
        if unknown:
            raise ValueError(f"{self.name}: unknown entry points {sorted(unknown)}")

    def at(self, where: str) -> Use:
        """The hyperparameter as the entry point ``where`` takes it (KeyError if it does not)."""
        spelling = self.names[where]
        alias = Alias(spelling) if isinstance(spelling, str) else spelling
        use = Use(
            key=self.name,
            where=where,
            name=alias.name,
            kind=self.kind,
            default=self.default,
            meaning=alias.meaning or self.meaning,
            range=self.range,
            options=self.options,
            hint=alias.hint,
            why_not=self.why_not,
        )
        changes = {
            f.name: getattr(alias, f.name)
            for f in fields(Alias)
            if f.name in ("default", "kind", "range", "options", "finite")
            and getattr(alias, f.name) is not SAME
        }
        return replace(use, **changes)
