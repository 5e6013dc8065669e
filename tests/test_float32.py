"""float32 end to end, as MLPClassifier keeps float32: a float32 X trains and predicts in
float32 on every library (the parameters, the optimiser's state, the losses, the
probabilities), and lands where the float64 run on NumPy does, to float32's tolerance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import portable_net as pn
from tests._helpers import assert_on, to_numpy

# float32 rounds at 6e-8; a few dozen steps of Adam amplify it a little (the spiral's
# gradients change sign between steps): what agrees to these is float32's own arithmetic
LOSS_RTOL = 1e-5
WEIGHT_ATOL = 1e-4


def _data(xp, device, dtype):
    X, y = pn.make_spiral(60, 3, seed=1)
    return xp.asarray(X.astype(dtype), device=device), xp.asarray(y, device=device)


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached before convergence
        return est.fit(X, y)


def _float32(xp, arrays, device):
    for a in arrays:
        assert a.dtype == xp.float32
        assert_on(a, xp, device)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_classifier_fits_and_predicts_in_float32(xp, device, solver):
    settings = dict(hidden_layer_sizes=(16, 8), solver=solver, batch_size=50, max_iter=8,
                    learning_rate_init=1e-2, random_state=0)  # fmt: skip
    ref = _fit(pn.Classifier(**settings), *_data(np, None, np.float64))
    X, y = _data(xp, device, np.float32)
    clf = _fit(pn.Classifier(**settings), X, y)
    _float32(xp, [*clf.coefs_, *clf.intercepts_], device)
    state = clf._optimizer_state
    _float32(xp, [*state.m, *state.v] if solver == "adam" else state.velocity, device)
    proba = clf.predict_proba(X)
    _float32(xp, [proba, clf.predict_log_proba(X)], device)
    # the losses were computed in float32: they agree with float64's to its tolerance, not
    # to float64's (a float64 run would agree to 1e-12)
    np.testing.assert_allclose(clf.loss_curve_, ref.loss_curve_, rtol=LOSS_RTOL)
    assert clf.loss_curve_ != ref.loss_curve_
    for a, b in zip([*clf.coefs_, *clf.intercepts_], [*ref.coefs_, *ref.intercepts_]):
        np.testing.assert_allclose(to_numpy(a), b, atol=WEIGHT_ATOL)
    X64, _ = _data(np, None, np.float64)
    np.testing.assert_allclose(to_numpy(proba), ref.predict_proba(X64), atol=WEIGHT_ATOL)


def test_regressor_fits_and_predicts_in_float32(xp, device):
    settings = dict(hidden_layer_sizes=(16,), batch_size=40, max_iter=6,
                    learning_rate_init=1e-2, random_state=0)  # fmt: skip
    X64, _ = _data(np, None, np.float64)
    target = np.sin(3 * X64[:, 0]) + X64[:, 1]
    ref = _fit(pn.Regressor(**settings), X64, target)
    X, _ = _data(xp, device, np.float32)
    reg = _fit(pn.Regressor(**settings), X, xp.asarray(target.astype(np.float32), device=device))
    _float32(xp, [*reg.coefs_, *reg.intercepts_, reg.predict(X)], device)
    np.testing.assert_allclose(reg.loss_curve_, ref.loss_curve_, rtol=LOSS_RTOL)
    np.testing.assert_allclose(to_numpy(reg.predict(X)), ref.predict(X64), atol=WEIGHT_ATOL)


def test_train_with_adam_and_batches_stays_float32(xp, device):
    """train's parameters, its optimiser's state (to continue from) and the loss and
    gradients of the result: float32 from float32 X, near the float64 run's."""
    X64, y64 = _data(np, None, np.float64)
    params64 = pn.init_params([2, 16, 3], seed=0, scale=0.5)
    options = dict(steps=30, optimizer="adam", learning_rate=1e-2, batch_size=32, log_every=5)
    ref, ref_hist = pn.train(params64, X64, y64, **options)
    X, y = _data(xp, device, np.float32)
    params = {k: xp.asarray(v.astype(np.float32), device=device) for k, v in params64.items()}
    new, hist = pn.train(params, X, y, **options)
    _float32(xp, [*new.values(), *hist.optimizer_state.m, *hist.optimizer_state.v], device)
    np.testing.assert_allclose(hist.loss, ref_hist.loss, rtol=LOSS_RTOL)
    assert hist.final_loss == pytest.approx(ref_hist.final_loss, rel=LOSS_RTOL)
    loss, grads = pn.loss_and_grads(new, X, y)
    _float32(xp, [loss, *grads.values()], device)
    ref_loss, _ = pn.loss_and_grads(ref, X64, y64)
    assert float(loss) == pytest.approx(float(ref_loss), rel=LOSS_RTOL)
    _float32(xp, [pn.predict_proba(new, X)], device)
