"""The table of hyperparameters (portable_net.params) against every entry point: the defaults
that train's signature, the Classifier's get_params(), the command line's parser and the
optimisers' fields declare, and each range refused just outside at each entry point."""

from __future__ import annotations

import contextlib
import inspect
import io
import math
import re

import numpy as np
import pytest

import portable_net as pn
from portable_net import hyperparameters as params
from portable_net.cli import _parser, main
from portable_net.constraints import ENTRY_POINTS
from portable_net.optim import SGD, Adam, LearningRateSchedule

CLASSES = {params.SGD: SGD, params.ADAM: Adam, params.SCHEDULE: LearningRateSchedule}
ROWS = list(params.HYPERPARAMETERS.values())


def _cli_actions():
    _, subs = _parser()
    return {a.option_strings[0]: a for a in subs["train"]._actions if a.option_strings}


# --- every default is the table's ----------------------------------------------------------


def test_train_signature_defaults_are_the_table():
    signature = inspect.signature(pn.train).parameters
    table = params.defaults(params.TRAIN)
    assert table, "train takes hyperparameters"
    for name, default in table.items():
        assert signature[name].default == default, name


def test_estimator_defaults_are_the_table():
    got = pn.Classifier().get_params()
    table = params.defaults(params.ESTIMATOR)
    # every constructor argument is in the table, and nothing else
    assert set(table) == set(got)
    for name, default in table.items():
        assert got[name] == default and type(got[name]) is type(default), name
    # the Regressor's: the same, and its own (MLPRegressor's loss)
    got = pn.Regressor().get_params()
    table = {**table, **params.defaults(params.REGRESSOR)}
    assert set(table) == set(got) and "loss" in table
    for name, default in table.items():
        assert got[name] == default and type(got[name]) is type(default), name


def test_cli_defaults_are_the_table():
    actions = _cli_actions()
    for name, default in params.defaults(params.CLI).items():
        assert actions[name].default == default, name


@pytest.mark.parametrize("where", list(CLASSES))
def test_optimiser_and_schedule_fields_are_the_table(where):
    fields = inspect.signature(CLASSES[where]).parameters
    for name, default in params.defaults(where).items():
        assert fields[name].default == default, name


def test_cli_help_states_the_ranges():
    actions = _cli_actions()
    for name, key in params.names(params.CLI).items():
        use = params.HYPERPARAMETERS[key].at(params.CLI)
        help_text = actions[name].help
        if use.range is not None and key != "seed":  # the seed's help is each command's
            assert use.range.bounds() in help_text, name


def _paragraph(doc: str, name: str) -> str:
    """A numpydoc parameter's header and description, one line."""
    match = re.search(rf"^    {name} :.*?(?=^    \w+ :|^    \w+\n    -)", doc, re.M | re.S)
    assert match, name
    return " ".join(match.group(0).replace("``", "").split())


def test_train_docstring_states_each_range():
    for name, key in params.names(params.TRAIN).items():
        use = params.HYPERPARAMETERS[key].at(params.TRAIN)
        if use.range is not None and use.range.bounds():
            assert use.range.bounds() in _paragraph(pn.train.__doc__, name), name


# --- every range is refused just outside, at every entry point ------------------------------


def _outside(use):
    """Values just outside the range (or the type) of one entry point's hyperparameter."""
    if use.kind == "bool":
        return ["yes"]
    if use.kind == "verbose":
        return [-1]
    if use.kind == "str":
        return ["nope"]
    values = []
    r = use.range
    integer = use.kind in ("int", "sizes", "random_state")
    if r.low is not None:
        low = r.low if r.low_open else (r.low - 1 if integer else np.nextafter(r.low, -math.inf))
        values.append(int(low) if integer else float(low))
    if r.high is not None:
        high = (
            r.high if r.high_open else (r.high + 1 if integer else np.nextafter(r.high, math.inf))
        )
        values.append(int(high) if integer else float(high))
    if not integer:
        values.append(math.nan)
    if use.options:
        values.append("nope")
    return values


def _inside(use):
    """Values at or just inside the ends of the range."""
    r = use.range
    if r is None:
        return []
    integer = use.kind in ("int", "sizes", "random_state")
    values = []
    for end, is_open, towards in ((r.low, r.low_open, math.inf), (r.high, r.high_open, -math.inf)):
        if end is None:
            continue
        if not is_open:
            values.append(end)
        elif integer:
            values.append(end + (1 if towards > 0 else -1))
        else:
            values.append(float(np.nextafter(end, towards)))
    return values


CASES = [
    (row.name, where)
    for row in ROWS
    for where in row.names
    if not (where == params.CLI and row.kind == "bool")  # a flag takes no value
]


@pytest.mark.parametrize(("key", "where"), CASES)
def test_check_accepts_the_ends_and_refuses_just_outside(key, where):
    use = params.HYPERPARAMETERS[key].at(where)
    for value in _inside(use):
        params.check(key, [value] if use.kind == "sizes" else value, where)
    for value in _outside(use):
        with pytest.raises((ValueError, TypeError), match=re.escape(use.name)):
            params.check(key, [value] if use.kind == "sizes" else value, where)


X, y = pn.make_spiral(10, 3, seed=0)


def _refused_by_train(name, value):
    start = pn.init_params([2, 4, 3])
    with pytest.raises((ValueError, TypeError), match=re.escape(name)):
        pn.train(start, X, y, **{"steps": 1, "log_every": 1, name: value})


def _refused_by_estimator(name, value):
    settings = {"max_iter": 1, "hidden_layer_sizes": (4,), name: value}
    with pytest.raises((ValueError, TypeError), match=re.escape(name)):
        pn.Classifier(**settings).fit(X, y)


def _refused_by_regressor(name, value):
    settings = {"max_iter": 1, "hidden_layer_sizes": (4,), name: value}
    with pytest.raises((ValueError, TypeError), match=re.escape(name)):
        pn.Regressor(**settings).fit(X, y)


def _refused_by_cli(name, value):
    value = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        with pytest.raises(SystemExit) as exit_info:
            # NAME=VALUE: "-5e-324" would read as an option (argparse's negative numbers)
            main(["train", "--steps", "1", f"{name}={value[0]}", *value[1:]])
    assert exit_info.value.code == 2
    assert f"argument {name}" in err.getvalue(), err.getvalue()


def _refused_by_class(where, name, value):
    required = {params.SGD: {"learning_rate": 0.1}, params.SCHEDULE: {"learning_rate_init": 0.1}}
    kwargs = {**required.get(where, {}), name: value}
    with pytest.raises((ValueError, TypeError), match=re.escape(name)):
        CLASSES[where](**kwargs)


@pytest.mark.parametrize(("key", "where"), CASES)
def test_each_entry_point_refuses_just_outside_naming_the_argument(key, where):
    use = params.HYPERPARAMETERS[key].at(where)
    for value in _outside(use):
        if use.kind == "sizes":
            value = [value]
        if where == params.TRAIN:
            _refused_by_train(use.name, value)
        elif where == params.ESTIMATOR:
            _refused_by_estimator(use.name, value)
        elif where == params.REGRESSOR:
            _refused_by_regressor(use.name, value)
        elif where == params.CLI:
            if isinstance(value, float) and math.isnan(value) and use.kind != "float":
                continue  # "nan" is no integer: refused by the conversion, tested elsewhere
            _refused_by_cli(use.name, value)
        else:
            _refused_by_class(where, use.name, value)


def test_the_optimisers_and_the_schedule_take_the_ends():
    for where, make in CLASSES.items():
        base = {params.SGD: {"learning_rate": 0.1}, params.SCHEDULE: {"learning_rate_init": 0.1}}
        for name, key in params.names(where).items():
            use = params.HYPERPARAMETERS[key].at(where)
            for value in _inside(use):
                made = make(**{**base.get(where, {}), name: value})
                assert getattr(made, name) == value


# --- the Classifier's ranges against scikit-learn's --------------------------------------

#: where the Classifier's range differs from MLPClassifier's (docs/sklearn.md), and why
DIFFERENCES = {
    "momentum": "[0, 1) here: with 1 the velocity never decays",
}
#: the estimator's own hyperparameters, which MLPClassifier does not have
OURS_ONLY = {"n_jobs"}


def _semantics(left, right, closed):
    """An interval as (low, low open, high, high open), an unbounded end open."""
    return (
        left,
        left is None or closed in ("right", "neither"),
        right,
        right is None or closed in ("left", "neither"),
    )


@pytest.mark.parametrize("where", [params.ESTIMATOR, params.REGRESSOR])
def test_estimator_ranges_and_defaults_are_mlpclassifiers(where):
    """Each of the estimators' hyperparameters against MLPClassifier's (the Regressor's own,
    ``loss``, against MLPRegressor's): the default, the interval, the options, and the
    ``np.inf`` that n_iter_no_change takes."""
    nn = pytest.importorskip("sklearn.neural_network")
    mlp = nn.MLPClassifier if where == params.ESTIMATOR else nn.MLPRegressor
    from sklearn.utils._param_validation import Interval, Options, StrOptions

    sk_defaults = mlp().get_params()
    for name, key in params.names(where).items():
        use = params.HYPERPARAMETERS[key].at(where)
        if name in OURS_ONLY:
            assert name not in sk_defaults, name
            continue
        assert sk_defaults[name] == use.default, name
        if name in DIFFERENCES:
            continue
        constraints = mlp._parameter_constraints[name]
        for constraint in constraints:
            if isinstance(constraint, Interval):
                ours = use.range
                assert _semantics(ours.low, ours.high, ours.closed) == _semantics(
                    constraint.left, constraint.right, constraint.closed
                ), name
            elif isinstance(constraint, StrOptions):
                assert set(use.options) == constraint.options, name
            elif isinstance(constraint, Options):  # n_iter_no_change's np.inf
                for value in constraint.options:
                    assert use.check(value) == value, name
    # train's optimisers are the stochastic ones: L-BFGS is the estimators' only
    solvers = nn.MLPClassifier._parameter_constraints["solver"][0].options
    assert solvers - {"lbfgs"} == set(params.HYPERPARAMETERS["optimizer"].options)


def test_the_table_s_earlier_module_name_still_imports_it_and_warns():
    """portable_net.params (its name until this release) is the same table, with a
    FutureWarning naming portable_net.hyperparameters."""
    import importlib
    import sys

    sys.modules.pop("portable_net.params", None)
    with pytest.warns(FutureWarning, match="portable_net.hyperparameters"):
        old = importlib.import_module("portable_net.params")
    assert old.HYPERPARAMETERS is params.HYPERPARAMETERS
    assert old.check("momentum", 0.5, old.TRAIN) == 0.5
    assert old.table(old.SGD) == params.table(params.SGD)


@pytest.mark.parametrize("where", list(ENTRY_POINTS))
def test_every_default_passes_its_own_check(where):
    """check() takes an entry point's default as it is, without the checks: every default
    must pass them (a default outside its own range would go unnoticed otherwise)."""
    for name, key in params.names(where).items():
        use = params.HYPERPARAMETERS[key].at(where)
        if use.default is params.REQUIRED or use.default is None:
            continue
        value = list(use.default) if use.kind == "sizes" else use.default
        assert use.check(value) == value, (where, name)
