"""The hyperparameters, in one table: each one's name, default, type, range and meaning, and
the names it goes by at each entry point. (``portable_net.params``, its name until this
release, still imports it, with a FutureWarning: "params" means the weights everywhere
else.)

Every entry point checks its hyperparameters here, in the spirit of scikit-learn's
``_parameter_constraints``: :func:`portable_net.train`, :class:`portable_net.Classifier`
(MLPClassifier's names), the optimisers of :mod:`portable_net.optim`, the learning-rate
schedule and the options of ``portable-net train``. A range is written once, and a refusal
names the argument as that entry point spells it. ``portable-net train --help`` takes its
types, ranges and help text from here, and :func:`table` writes the table out. The entry
points' signatures keep their defaults as literals, readable where they are declared;
``tests/test_params.py`` holds every one of them to this table.

One row per hyperparameter (``Hyperparameter``): its name (as :func:`~portable_net.train`
spells it, or the optimiser for Adam's), type, default, range and meaning, and ``names``: for
each entry point that takes it, the name there, and an ``Alias`` where the entry point's
default, range or meaning differs (``reg`` is the Classifier's ``alpha``, scaled per batch, with
default 1e-4). To add a hyperparameter, add a row; to add an entry point, add its name to the
rows it takes.

Examples
--------
>>> from portable_net import hyperparameters as hp
>>> row = hp.HYPERPARAMETERS["reg"]
>>> row.at(hp.ESTIMATOR).name, row.at(hp.ESTIMATOR).default, row.at(hp.CLI).name
('alpha', 0.0001, '--reg')
>>> hp.check("momentum", 0.5, hp.TRAIN)
0.5
>>> hp.check("momentum", 1.0, hp.TRAIN)
Traceback (most recent call last):
...
ValueError: momentum must be finite and in [0.0, 1.0), got 1.0
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .constraints import (
    ADAM,
    CLI,
    ESTIMATOR,
    REGRESSOR,
    REQUIRED,
    SCHEDULE,
    SGD,
    TRAIN,
    Alias,
    Hyperparameter,
    Range,
    Use,
)

# the table and what reads it; the entry points (TRAIN, ESTIMATOR, REGRESSOR, CLI, SGD, ADAM,
# SCHEDULE) and the pieces of a row (Hyperparameter, Alias, Range, Use) are constraints.py's,
# reachable here too
__all__ = ["DEFAULT_RATES", "HYPERPARAMETERS", "check", "check_all", "defaults", "names", "table"]

#: the learning rate ``train`` (and ``portable-net train``) takes for each optimiser when none
#: is given: the case study's 1.0 for SGD, Adam's usual 1e-3
DEFAULT_RATES = {"sgd": 1.0, "adam": 1e-3}


_FRACTION = Range(0.0, 1.0, "left")  # [0, 1)
_POSITIVE = Range(0.0, None, "neither")  # (0, inf)
_NON_NEGATIVE = Range(0.0, None)  # [0, inf)
_ONE_OR_MORE = Range(1, None)  # integers >= 1

_ROWS = (
    Hyperparameter(
        "steps", "int", 10_000, "number of updates (gradient steps)", range=Range(0, None),
        names={
            TRAIN: "steps",
            CLI: Alias("--steps", default=None),
            ESTIMATOR: Alias("max_iter", default=200, range=_ONE_OR_MORE,
                             meaning="maximum number of epochs (passes over the data)"),
        },
    ),
    Hyperparameter(
        "learning_rate", "float", None,
        "step size (None: the optimiser's default, DEFAULT_RATES)", range=_POSITIVE,
        names={
            TRAIN: "learning_rate",
            CLI: Alias("--lr", meaning="learning rate"),
            ESTIMATOR: Alias("learning_rate_init", default=1e-3, meaning="the initial step size"),
            SGD: Alias("learning_rate", default=REQUIRED),
            ADAM: Alias("learning_rate", default=1e-3),
            SCHEDULE: Alias("learning_rate_init", default=REQUIRED),
        },
    ),
    Hyperparameter(
        "reg", "float", 1e-3,
        "L2 regularisation strength: the loss adds 0.5 * reg * sum ||W||^2 (not the biases)",
        range=_NON_NEGATIVE,
        names={
            TRAIN: "reg",
            CLI: "--reg",
            ESTIMATOR: Alias("alpha", default=1e-4,
                             meaning="L2 strength per batch (train's reg = alpha / batch size)"),
        },
    ),
    Hyperparameter(
        "momentum", "float", 0.0, "SGD's momentum; 0 is plain gradient descent", range=_FRACTION,
        names={TRAIN: "momentum", SGD: "momentum", ESTIMATOR: Alias("momentum", default=0.9),
               CLI: Alias("--momentum", meaning="sgd: momentum; 0 is plain gradient descent")},
    ),
    Hyperparameter(
        "nesterov", "bool", False,
        "Nesterov's momentum instead of the classical one (needs momentum > 0)",
        names={SGD: "nesterov", ESTIMATOR: Alias("nesterovs_momentum", default=True),
               CLI: Alias("--nesterov", meaning="sgd: Nesterov's momentum instead of the "
                                                "classical one (needs --momentum > 0)")},
    ),
    Hyperparameter(
        "optimizer", "str", "sgd", "the update: SGD (with momentum) or Adam",
        options=("sgd", "adam"),
        why_not={"lbfgs": "L-BFGS is the estimators' full-batch solver, solver='lbfgs'"},
        names={TRAIN: "optimizer", CLI: "--optimizer",
               ESTIMATOR: Alias("solver", default="adam", options=("lbfgs", "sgd", "adam"),
                                meaning="the optimiser: L-BFGS (full batch, scipy's), SGD "
                                        "(with momentum) or Adam")},
    ),
    Hyperparameter(
        "max_fun", "int", 15_000,
        "L-BFGS only: the most evaluations of the loss and its gradient", range=_ONE_OR_MORE,
        names={ESTIMATOR: "max_fun"},
    ),
    Hyperparameter(
        "lr_schedule", "str", "constant", "the rate over the run, as MLPClassifier's",
        options=("constant", "invscaling", "adaptive"),
        names={
            TRAIN: "lr_schedule",
            CLI: "--lr-schedule",
            ESTIMATOR: Alias("learning_rate", hint="the step size itself is learning_rate_init"),
            SCHEDULE: "kind",
        },
    ),
    Hyperparameter(
        "power_t", "float", 0.5, "exponent of invscaling: lr = lr0 / (t + 1) ** power_t",
        range=_NON_NEGATIVE, names={TRAIN: "power_t", ESTIMATOR: "power_t", SCHEDULE: "power_t"},
    ),
    Hyperparameter(
        "batch_size", "int", None, "mini-batch size (None: the full batch)", range=_ONE_OR_MORE,
        names={
            TRAIN: "batch_size",
            CLI: Alias("--batch-size", meaning="mini-batch size"),
            ESTIMATOR: Alias("batch_size", default="auto", options=("auto",),
                             meaning="mini-batch size; auto: min(200, n_samples)"),
        },
    ),
    Hyperparameter(
        "seed", "int", 0, "seed of the mini-batch order and the held-out split",
        range=Range(0, None),
        names={
            TRAIN: "seed",
            CLI: Alias("--seed", range=Range(0, 2**64 - 1)),
            ESTIMATOR: Alias("random_state", kind="random_state", default=None,
                             range=Range(0, 2**32 - 1),
                             meaning="seeds the initial weights, the shuffling and the split"),
        },
    ),
    Hyperparameter(
        "log_every", "int", 1000, "record the loss every this many steps", range=_ONE_OR_MORE,
        names={TRAIN: "log_every",
               CLI: Alias("--log-every", default=None,
                          meaning="print the loss every this many steps")},
    ),
    Hyperparameter(
        "validation_fraction", "float", None,
        "hold out this fraction of the rows, stratified (None: none)",
        range=Range(0.0, 1.0, "neither"),
        names={
            TRAIN: "validation_fraction",
            CLI: Alias("--validation-fraction",
                       meaning="hold out this fraction of the training rows (stratified, drawn "
                       "by --seed) and print its loss and accuracy at each logged step"),
            ESTIMATOR: Alias("validation_fraction", default=0.1, range=_FRACTION,
                             meaning="the fraction held out for early stopping"),
        },
    ),
    Hyperparameter(
        "early_stopping", "bool", False, "stop when the held-out results stop improving",
        names={TRAIN: "early_stopping", CLI: "--early-stopping", ESTIMATOR: "early_stopping"},
    ),
    Hyperparameter(
        "n_iter_no_change", "int", 10,
        "logged steps (estimators: epochs) without improvement by tol tolerated",
        range=_ONE_OR_MORE,
        names={TRAIN: "n_iter_no_change",
               ESTIMATOR: Alias("n_iter_no_change", finite=False,
                                meaning="epochs without improvement by tol tolerated "
                                        "(np.inf: never stop early)"),
               SCHEDULE: "n_iter_no_change",
               CLI: Alias("--patience", meaning="logged steps without improvement tolerated: "
                          "one more and --early-stopping stops or the adaptive schedule "
                          "lowers the rate")},
    ),
    Hyperparameter(
        "tol", "float", 1e-4, "the improvement that counts (early stopping, schedules)",
        range=Range(),
        names={TRAIN: "tol", ESTIMATOR: Alias("tol", range=_NON_NEGATIVE),
               SCHEDULE: Alias("tol", finite=False)},
    ),
    Hyperparameter(
        "restore_best", "bool", False,
        "return the parameters of the best held-out loss, not the last",
        names={TRAIN: "restore_best"},
    ),
    Hyperparameter(
        "beta_1", "float", 0.9, "Adam's decay of the first moment", range=_FRACTION,
        names={ADAM: "beta_1", ESTIMATOR: "beta_1"},
    ),
    Hyperparameter(
        "beta_2", "float", 0.999, "Adam's decay of the second moment", range=_FRACTION,
        names={ADAM: "beta_2", ESTIMATOR: "beta_2"},
    ),
    Hyperparameter(
        "epsilon", "float", 1e-8, "Adam's term added to the denominator", range=_NON_NEGATIVE,
        names={ADAM: "epsilon", ESTIMATOR: Alias("epsilon", range=_POSITIVE)},
    ),
    Hyperparameter(
        "activation", "str", "relu", "the hidden layers' activation",
        options=("identity", "logistic", "tanh", "relu"),
        names={TRAIN: "activation", CLI: "--activation", ESTIMATOR: "activation"},
    ),
    Hyperparameter(
        "output", "str", "softmax",
        "the output layer and its loss: softmax cross-entropy of labels, the logistic "
        "log-loss of 0/1 targets, half the squared error of real targets",
        options=("softmax", "logistic", "squared"),
        names={TRAIN: "output"},
    ),
    Hyperparameter(
        "loss", "str", "squared_error",
        "the Regressor's loss: half the squared error of identity outputs, or half the "
        "Poisson deviance of exp outputs (targets >= 0)",
        options=("squared_error", "poisson"),
        names={REGRESSOR: "loss"},
    ),
    Hyperparameter(
        "hidden_layer_sizes", "sizes", (100,),
        "widths of the hidden layers (none: the linear classifier)", range=_ONE_OR_MORE,
        names={ESTIMATOR: "hidden_layer_sizes", CLI: Alias("--hidden", default=None)},
    ),
    Hyperparameter(
        "shuffle", "bool", True, "shuffle the samples in each epoch",
        names={ESTIMATOR: "shuffle"},
    ),
    Hyperparameter(
        "verbose", "verbose", False, "print the loss of each epoch", names={ESTIMATOR: "verbose"},
    ),
    Hyperparameter(
        "warm_start", "bool", False, "fit continues from the fitted weights",
        names={ESTIMATOR: "warm_start"},
    ),
    Hyperparameter(
        "n_jobs", "int", None,
        "intra-op threads of a run on the CPU (torch, NumPy's BLAS): None chooses by the "
        "problem's size (one thread where more do not pay; a large mini-batch run times "
        "its batches on one thread and on the library's own setting), -1 one per core; 0 "
        "is refused",
        range=Range(-1, None),
        names={TRAIN: "n_jobs", ESTIMATOR: "n_jobs", CLI: Alias("--threads", meaning=(
            "intra-op threads on the CPU (torch, NumPy's BLAS); default: chosen by the "
            "problem's size, one where more do not pay (a large mini-batch fit times its "
            "batches); -1: one per core"))},
    ),
)  # fmt: skip

#: the table: name -> row
HYPERPARAMETERS: dict[str, Hyperparameter] = {row.name: row for row in _ROWS}


def names(where: str) -> dict[str, str]:
    """The hyperparameters the entry point ``where`` takes: its name -> the table's name.

    Parameters
    ----------
    where : str
        An entry point: ``TRAIN``, ``ESTIMATOR``, ``REGRESSOR``, ``CLI``, ``SGD``, ``ADAM``,
        ``SCHEDULE``.

    Returns
    -------
    dict of str to str
        The entry point's name of each hyperparameter it takes -> the table's name.

    Examples
    --------
    >>> from portable_net import hyperparameters as hp
    >>> hp.names(hp.SCHEDULE)["learning_rate_init"]
    'learning_rate'
    """
    return {row.at(where).name: key for key, row in HYPERPARAMETERS.items() if where in row.names}


def defaults(where: str) -> dict[str, Any]:
    """The entry point's defaults, by its names (``REQUIRED`` where there is none).

    Parameters
    ----------
    where : str
        An entry point, as for :func:`names`.

    Returns
    -------
    dict of str to object
        Each hyperparameter's default at that entry point, by the entry point's name.

    Examples
    --------
    >>> from portable_net import hyperparameters as hp
    >>> hp.defaults(hp.SGD)["momentum"]
    0.0
    """
    return {name: HYPERPARAMETERS[key].at(where).default for name, key in names(where).items()}


#: each hyperparameter as each entry point takes it, and each entry point's names, made on
#: first use
_USES: dict[tuple[str, str], Use] = {}
_SPELLED: dict[str, dict[str, str]] = {}
#: the types of the defaults that :func:`check` takes as they are
_PLAIN = (bool, int, float, str)


def check(key: str, value: Any, where: str) -> Any:
    """``value`` for the hyperparameter ``key`` at the entry point ``where``, checked (the
    error names the argument as ``where`` spells it) and as a plain Python value."""
    return check_all(where, {key: value}, by_key=True)[key]


def check_all(where: str, values: Mapping[str, Any], *, by_key: bool = False) -> dict[str, Any]:
    """Each of ``values`` (by the entry point's names, or ``by_key`` the table's) checked, in
    the table's order; values equal to the entry point's default are taken as they are (the
    tests hold every default to its check)."""
    spelled = _SPELLED.get(where)
    if spelled is None:
        spelled = _SPELLED[where] = names(where)
    out = {}
    for name, key in spelled.items():
        if by_key:
            name = key
        if name not in values:
            continue
        use = _USES.get((key, where))
        if use is None:
            use = _USES[key, where] = HYPERPARAMETERS[key].at(where)
        value, default = values[name], use.default
        plain = type(value) is type(default) and type(value) in _PLAIN and value == default
        out[name] = value if plain else use.check(value)
    return out


def table(where: str | None = None) -> str:
    """The table of hyperparameters in Markdown.

    Every row (with its names elsewhere, and what differs there), or the hyperparameters of
    one entry point.

    Parameters
    ----------
    where : str or None
        An entry point, as for :func:`names`; None: every row.

    Returns
    -------
    str
        A Markdown table, one line per hyperparameter.

    Examples
    --------
    >>> from portable_net import hyperparameters as hp
    >>> print(hp.table(hp.SGD))
    | name | type | default | range | meaning |
    |---|---|---|---|---|
    | `learning_rate` | float | required | (0, inf) | step size (None: the optimiser's default, DEFAULT_RATES) |
    | `momentum` | float | 0.0 | [0, 1) | SGD's momentum; 0 is plain gradient descent |
    | `nesterov` | bool | False |  | Nesterov's momentum instead of the classical one (needs momentum > 0) |
    """
    head = "| name | type | default | range | meaning |"
    if where is None:
        head += " elsewhere |"
    lines = [head, "|---" * head.count(" |") + "|"]
    for row in HYPERPARAMETERS.values():
        if where is not None and where not in row.names:
            continue
        use = row.at(where) if where is not None else row.at(next(iter(row.names)))
        if where is None:
            use = dataclasses.replace(use, name=row.name, default=row.default, range=row.range)
        cells = [f"`{use.name}`", use.kind, _shown(use.default), _range(use), use.meaning]
        if where is None:
            cells.append("; ".join(_elsewhere(row, w) for w in row.names))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _shown(default: Any) -> str:
    return "required" if default is REQUIRED else repr(default)


def _range(use: Use) -> str:
    shown = "" if use.range is None else str(use.range)
    if use.options:
        shown = " ".join(filter(None, (", ".join(map(repr, use.options)), shown)))
    return shown


def _elsewhere(row: Hyperparameter, where: str) -> str:
    """``name`` (where: what differs from the row)."""
    use = row.at(where)
    differs = [f"default {_shown(use.default)}" for _ in [0] if use.default != row.default]
    if use.range != row.range or use.options != row.options:
        differs.append(_range(use))
    if use.meaning != row.meaning:
        differs.append(use.meaning)
    return f"`{use.name}` ({', '.join([where, *differs])})"
