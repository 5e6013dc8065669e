"""Classifier and Regressor against scikit-learn's MLPClassifier and MLPRegressor: the same
loss curves (to 1e-10 over 50 epochs, shuffle=False) and weights for each activation, two
classes, K classes, multilabel and regression targets (squared error and Poisson), SGD with
and without Nesterov and Adam, with and without sample weights; on NumPy and on torch
arrays. L-BFGS: tests/test_lbfgs.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import portable_net as pn

from ._helpers import to_numpy

sklearn_nn = pytest.importorskip("sklearn.neural_network")

RNG = np.random.RandomState(0)
X = RNG.randn(60, 4)
TARGETS = {
    "binary": RNG.randint(0, 2, 60),
    "multiclass": RNG.randint(0, 3, 60),
    "multilabel": (RNG.rand(60, 3) < 0.4).astype(np.int64),
    "regression": RNG.randn(60),
    "regression3": RNG.randn(60, 3),
    "poisson": RNG.poisson(np.exp(0.5 * X[:, 0])).astype(np.float64),  # loss="poisson"
}
WEIGHTS = RNG.uniform(0.1, 3.0, 60)
SOLVERS = {"sgd": ("sgd", False), "nesterov": ("sgd", True), "adam": ("adam", False)}


def _library(name):
    if name == "numpy":
        return lambda a: a
    torch = pytest.importorskip("torch")
    return lambda a: torch.asarray(a)


@pytest.mark.parametrize("library", ["numpy", "torch"])
@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_loss_curves_are_scikit_learn_s(library, solver, target, activation):
    regression = target.startswith("regression") or target == "poisson"
    theirs_cls = sklearn_nn.MLPRegressor if regression else sklearn_nn.MLPClassifier
    ours_cls = pn.Regressor if regression else pn.Classifier
    name, nesterov = SOLVERS[solver]
    kw = dict(hidden_layer_sizes=(7, 5), activation=activation, solver=name,
              nesterovs_momentum=nesterov, max_iter=50, shuffle=False, batch_size=16,
              random_state=1, learning_rate_init=0.01 if regression else 0.05, tol=0.0,
              n_iter_no_change=1000)  # fmt: skip
    if target == "poisson":
        kw["loss"] = "poisson"
    on = _library(library)
    y = TARGETS[target]
    for sw in (None, WEIGHTS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # both reach max_iter
            theirs = theirs_cls(**kw).fit(X, y, sample_weight=sw)
            ours = ours_cls(**kw).fit(on(X), on(y), sample_weight=None if sw is None else on(sw))
        assert len(ours.loss_curve_) == 50
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=0, atol=1e-10)
        assert ours.out_activation_ == theirs.out_activation_
        assert ours.n_outputs_ == theirs.n_outputs_
        for mine, ref in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
            assert tuple(mine.shape) == ref.shape
            np.testing.assert_allclose(to_numpy(mine), ref, rtol=0, atol=1e-9)
        if regression:
            np.testing.assert_allclose(to_numpy(ours.predict(on(X))), theirs.predict(X),
                                       atol=1e-9)  # fmt: skip
            assert abs(ours.score(on(X), on(y), sw) - theirs.score(X, y, sample_weight=sw)) < 1e-9
        else:
            np.testing.assert_allclose(to_numpy(ours.predict_proba(on(X))),
                                       theirs.predict_proba(X), atol=1e-9)  # fmt: skip
            np.testing.assert_array_equal(to_numpy(ours.predict(on(X))), theirs.predict(X))
