"""gradient_check gives a trustworthy verdict: correct gradients pass on the case study's own
initialisation (points on ReLU kinks, float32), wrong ones are still caught."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import portable_net as pn
from portable_net import gradcheck, layers


def _case_study(n_rows=None, dtype=None, xp=None, device=None):
    """The case study's data and its own initialisation: zero biases, 0.01 weights."""
    X, y = pn.make_spiral(100, 3, seed=0, xp=xp, device=device, dtype=dtype)
    params = pn.init_params([2, 100, 3], xp=xp, device=device, dtype=X.dtype)
    if n_rows is not None:
        X, y = X[:n_rows, ...], y[:n_rows]
    return params, X, y


@pytest.mark.parametrize("n_rows", [20, 300])
def test_the_case_study_initialisation_passes(n_rows):
    params, X, y = _case_study(n_rows)
    result = pn.gradient_check(params, X, y, reg=1e-3)
    assert result < 1e-4, result.errors  # was 1.0 on 20 rows, 0.016 on 300
    assert result.passed
    # the origin row sits on every hidden unit's kink: every b1 entry had rows left out
    assert result.at_kinks["b1"] == result.checked["b1"] == 20
    assert result.skipped == {"W1": 0, "b1": 0, "W2": 0, "b2": 0}


def test_every_entry_of_the_case_study_passes():
    params, X, y = _case_study(20)
    result = pn.gradient_check(params, X, y, max_entries=None)
    assert result.checked == {"W1": 200, "b1": 100, "W2": 300, "b2": 3}
    assert result < 1e-3 and result.passed, result.errors


def test_the_case_study_on_every_backend(xp, device):
    params, X, y = _case_study(20, xp=xp, device=device)
    assert pn.gradient_check(params, X, y, max_entries=5) < 1e-4


def test_float32_gets_a_trustworthy_verdict():
    params, X, y = _case_study(dtype="float32")
    with pytest.warns(UserWarning, match="use float64"):
        result = pn.gradient_check(params, X, y, max_entries=None)
    assert result.dtype == "float32" and result.reference_dtype == "float64"
    assert result < 1e-2 and result.passed, result.errors  # every parameter was 'WRONG'
    assert set(result.verdicts.values()) <= {"good", "acceptable", "suspicious"}


def _wrong_relu(xp, dout, cache):
    return dout  # a classic bug: the gradient passes through inactive units


def _wrong_bias(xp, dout, cache, *, need_dx, with_bias):
    dx, dW, db = _right_affine_backward(xp, dout, cache, need_dx=need_dx, with_bias=with_bias)
    return dx, dW, None if db is None else 1.02 * db  # 2 % off


_right_affine_backward = layers.affine_backward


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    ("where", "bug", "wrong"),
    [
        ("relu_backward", _wrong_relu, {"W1", "b1"}),
        ("affine_backward", _wrong_bias, {"b2"}),
    ],
)
def test_a_wrong_gradient_is_caught(monkeypatch, dtype, where, bug, wrong):
    params, X, y = _case_study(dtype=dtype)
    if where == "relu_backward":  # the network takes its activations from the table
        monkeypatch.setitem(layers.ACTIVATIONS, "relu", (layers.relu_forward, bug))
    else:
        monkeypatch.setattr(layers, where, bug)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = pn.gradient_check(params, X, y, max_entries=None)
    assert not result.passed and result > 1e-2
    assert {k for k, v in result.verdicts.items() if v == "WRONG"} >= wrong


def test_the_result_stays_a_float_for_old_callers():
    params, X, y = _case_study(20)
    result = pn.gradient_check(params, X, y, max_entries=3)
    assert isinstance(result, float) and isinstance(result, gradcheck.GradientCheck)
    assert float(result) == max(result.errors.values())
    assert f"{result:.2e}" == f"{float(result):.2e}"
    assert gradcheck.relative_errors(params, X, y, max_entries=3) == result.errors
    assert result.h == 1e-5


def test_the_numeric_side_agrees_with_an_independent_difference():
    # one b1 entry on rows away from the origin, by a plain float64 difference in NumPy
    params, X, y = _case_study(20)
    away = np.linalg.norm(X, axis=1) > 0
    result = pn.gradient_check(params, X, y, max_entries=None)
    _, grads_away = pn.loss_and_grads(params, X[away], y[away])
    h, k = 1e-5, 7
    plus = {**params, "b1": params["b1"] + h * (np.arange(100) == k)}
    minus = {**params, "b1": params["b1"] - h * (np.arange(100) == k)}
    numeric = (
        float(pn.loss_and_grads(plus, X[away], y[away])[0])
        - float(pn.loss_and_grads(minus, X[away], y[away])[0])
    ) / (2 * h)
    assert abs(numeric - grads_away["b1"][k]) <= 1e-6 * abs(numeric)
    assert result.errors["b1"] < 1e-5


def test_verdicts():
    assert [gradcheck.verdict(e) for e in (1e-9, 1e-5, 1e-3, 0.5, float("nan"))] == [
        "good",
        "acceptable",
        "suspicious",
        "WRONG",
        "WRONG",
    ]
