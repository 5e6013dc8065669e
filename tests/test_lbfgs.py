"""solver="lbfgs": scipy's L-BFGS-B over the network's own loss and gradient, side by side
with MLPClassifier(solver="lbfgs") and MLPRegressor(solver="lbfgs") from the same initial
weights (the same random_state draws them): the same loss_, weights, n_iter_, warnings and
attributes on NumPy in float64; the same numbers on every library, computed there."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import portable_net as pn

from ._helpers import assert_on, to_numpy

sklearn_nn = pytest.importorskip("sklearn.neural_network")
datasets = pytest.importorskip("sklearn.datasets")
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning  # noqa: E402


def _digits():
    X, y = datasets.load_digits(return_X_y=True)
    return X / 16.0, y


def _regression():
    X, y = datasets.load_diabetes(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()


def _quietly(fit, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fit(*args, **kwargs)
    return model, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _assert_same_fit(ours, theirs, atol=1e-8):
    assert ours.n_iter_ == theirs.n_iter_
    assert abs(ours.loss_ - theirs.loss_) <= atol
    for mine, ref in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert tuple(mine.shape) == ref.shape
        np.testing.assert_allclose(to_numpy(mine), ref, rtol=0, atol=atol)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_digits_loss_and_weights_are_mlpclassifier_s(activation):
    """To convergence (scipy's own stopping test) on digits, in float64: the same loss,
    weights to 1e-8, the same number of iterations and predictions."""
    X, y = _digits()
    kw = dict(solver="lbfgs", hidden_layer_sizes=(50,), activation=activation, alpha=1e-3,
              max_iter=200, random_state=0)  # fmt: skip
    theirs, their_warnings = _quietly(sklearn_nn.MLPClassifier(**kw).fit, X, y)
    ours, our_warnings = _quietly(pn.Classifier(**kw).fit, X, y)
    _assert_same_fit(ours, theirs)
    assert our_warnings == their_warnings
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-8)
    # the attributes MLPClassifier sets for L-BFGS, and those it does not
    for name in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
        assert hasattr(ours, name) == hasattr(theirs, name) == False, name  # noqa: E712


@pytest.mark.parametrize("weighted", [False, True])
def test_regression_loss_and_weights_are_mlpregressor_s(weighted):
    X, y = _regression()
    sw = np.random.RandomState(0).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    kw = dict(solver="lbfgs", hidden_layer_sizes=(16,), max_iter=50, random_state=0)
    theirs, their_warnings = _quietly(sklearn_nn.MLPRegressor(**kw).fit, X, y, sample_weight=sw)
    ours, our_warnings = _quietly(pn.Regressor(**kw).fit, X, y, sample_weight=sw)
    _assert_same_fit(ours, theirs)
    assert our_warnings == their_warnings  # both stop at max_iter: scikit-learn's message
    assert any("lbfgs failed to converge after 50 iteration(s)" in m for m in our_warnings)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-8)
    assert abs(ours.score(X, y) - theirs.score(X, y)) < 1e-10


def test_poisson_and_multilabel_with_lbfgs_are_scikit_learn_s():
    rng = np.random.RandomState(1)
    X = rng.randn(150, 4)
    counts = rng.poisson(np.exp(0.4 * X[:, 0] - 0.3 * X[:, 1])).astype(np.float64)
    kw = dict(solver="lbfgs", hidden_layer_sizes=(6,), max_iter=40, random_state=0)
    theirs, _ = _quietly(sklearn_nn.MLPRegressor(loss="poisson", **kw).fit, X, counts)
    ours, _ = _quietly(pn.Regressor(loss="poisson", **kw).fit, X, counts)
    _assert_same_fit(ours, theirs)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    labels = (rng.rand(150, 3) < 0.4).astype(np.int64)
    theirs, _ = _quietly(sklearn_nn.MLPClassifier(**kw).fit, X, labels)
    ours, _ = _quietly(pn.Classifier(**kw).fit, X, labels)
    _assert_same_fit(ours, theirs)


def test_max_fun_stops_as_mlpclassifier_s():
    """max_fun: at most that many evaluations of the loss; scipy stops there, with
    scikit-learn's ConvergenceWarning (status 1), as MLPClassifier."""
    X, y = _digits()
    kw = dict(solver="lbfgs", hidden_layer_sizes=(20,), max_fun=7, max_iter=100, random_state=0)
    with warnings.catch_warnings(record=True) as theirs_caught:
        warnings.simplefilter("always")
        theirs = sklearn_nn.MLPClassifier(**kw).fit(X, y)
    with warnings.catch_warnings(record=True) as ours_caught:
        warnings.simplefilter("always")
        ours = pn.Classifier(**kw).fit(X, y)
    _assert_same_fit(ours, theirs)
    mine = [w for w in ours_caught if issubclass(w.category, SkConvergenceWarning)]
    ref = [w for w in theirs_caught if issubclass(w.category, SkConvergenceWarning)]
    assert [str(w.message) for w in mine] == [str(w.message) for w in ref]
    assert "(status=1)" in str(mine[0].message)


def test_warm_start_continues_from_the_fitted_weights_as_mlpclassifier():
    X, y = _digits()
    kw = dict(solver="lbfgs", hidden_layer_sizes=(20,), max_iter=10, warm_start=True,
              random_state=0)  # fmt: skip
    theirs, ours = sklearn_nn.MLPClassifier(**kw), pn.Classifier(**kw)
    for _ in range(2):
        _quietly(theirs.fit, X, y)
        _quietly(ours.fit, X, y)
        _assert_same_fit(ours, theirs)
    assert ours.n_iter_ == 10  # this call's iterations


def test_partial_fit_is_absent_for_lbfgs_as_mlpclassifier():
    for ours, theirs in (
        (pn.Classifier(solver="lbfgs"), sklearn_nn.MLPClassifier(solver="lbfgs")),
        (pn.Classifier(solver="sgd"), sklearn_nn.MLPClassifier(solver="sgd")),
    ):
        assert hasattr(ours, "partial_fit") == hasattr(theirs, "partial_fit")
    with pytest.raises(AttributeError) as ours_info:
        pn.Classifier(solver="lbfgs").partial_fit  # noqa: B018
    with pytest.raises(AttributeError) as theirs_info:
        sklearn_nn.MLPClassifier(solver="lbfgs").partial_fit  # noqa: B018
    assert str(ours_info.value) == str(theirs_info.value).replace("MLPClassifier", "Classifier")
    assert str(ours_info.value.__cause__) == str(theirs_info.value.__cause__)
    # the Regressor's too (MLPRegressor keeps partial_fit for L-BFGS: docs/sklearn.md)
    assert not hasattr(pn.Regressor(solver="lbfgs"), "partial_fit")
    assert hasattr(pn.Regressor(solver="adam"), "partial_fit")
    # the method's documentation stays the class's
    assert "one epoch" in pn.Classifier.partial_fit.__doc__


def test_verbose_prints_what_mlpclassifier_prints(capfd):
    """``iprint`` from ``verbose`` where scipy takes it (scikit-learn passes it to scipy
    before 1.15 only): the same output as MLPClassifier's, whichever scipy is installed."""
    X, y = _digits()
    kw = dict(solver="lbfgs", hidden_layer_sizes=(10,), max_iter=3, verbose=True, random_state=0)
    _quietly(sklearn_nn.MLPClassifier(**kw).fit, X, y)
    theirs = capfd.readouterr()
    _quietly(pn.Classifier(**kw).fit, X, y)
    ours = capfd.readouterr()
    assert ours.out == theirs.out


def test_every_library_gives_numpy_s_numbers_on_its_device(xp, device):
    """L-BFGS on each library: the loss and gradient computed there (the fitted weights are
    its arrays, on its device), the same numbers as NumPy's."""
    X, y = _digits()
    X, y = X[:400], y[:400]
    kw = dict(solver="lbfgs", hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    ref, _ = _quietly(pn.Classifier(**kw).fit, X, y)
    Xx = xp.asarray(X, device=device)
    ours, _ = _quietly(pn.Classifier(**kw).fit, Xx, xp.asarray(y, device=device))
    for a in [*ours.coefs_, *ours.intercepts_]:
        assert_on(a, xp, device)
    assert ours.n_iter_ == ref.n_iter_
    assert abs(ours.loss_ - ref.loss_) < 1e-10
    for mine, theirs in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(to_numpy(mine), theirs, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(to_numpy(ours.predict(Xx)), ref.predict(X))


def test_only_the_flat_vector_and_the_loss_cross_to_the_host(monkeypatch):
    """Each evaluation moves the flat vector to the device and the loss (a float) and the
    flat gradient back: no other array crosses (torch arrays, here)."""
    torch = pytest.importorskip("torch")
    from portable_net.estimators import _lbfgs

    X, y = _digits()
    moved = []
    real_to_host, real_from_host = _lbfgs.to_host, _lbfgs.from_host

    def to_host(a):
        moved.append(("host", tuple(a.shape)))
        return real_to_host(a)

    def from_host(xp, a, dtype=None, device=None):
        moved.append(("device", tuple(np.shape(a))))
        return real_from_host(xp, a, dtype, device)

    monkeypatch.setattr(_lbfgs, "to_host", to_host)
    monkeypatch.setattr(_lbfgs, "from_host", from_host)
    clf, _ = _quietly(pn.Classifier(solver="lbfgs", hidden_layer_sizes=(8,), max_iter=5,
                                    random_state=0).fit, torch.asarray(X), torch.asarray(y))  # fmt: skip
    n_weights = sum(int(np.prod(a.shape)) for a in clf.coefs_ + clf.intercepts_)
    assert moved and set(moved) == {("host", (n_weights,)), ("device", (n_weights,))}


def test_an_lbfgs_fit_saves_and_loads_as_it_is(tmp_path):
    """The file keeps what an L-BFGS fit has (loss_, n_iter_) and no loss curve it has not;
    loaded, it predicts the same and still has no partial_fit. Dask arrays are refused."""
    X, y = _digits()
    clf, _ = _quietly(pn.Classifier(solver="lbfgs", hidden_layer_sizes=(10,), max_iter=5,
                                    random_state=0).fit, X, y)  # fmt: skip
    back = pn.Classifier.load(clf.save(tmp_path / "lbfgs.npz"))
    assert (back.loss_, back.n_iter_, back.solver) == (clf.loss_, clf.n_iter_, "lbfgs")
    assert not hasattr(back, "loss_curve_") and not hasattr(back, "partial_fit")
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    da = pytest.importorskip("dask.array")
    with pytest.raises(NotImplementedError, match="solver='lbfgs' trains in-memory arrays"):
        pn.Classifier(solver="lbfgs").fit(da.from_array(X, chunks=500), da.from_array(y))


def test_without_scipy_lbfgs_is_an_import_error_before_any_work(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "scipy.optimize", None)  # as if not installed
    clf = pn.Classifier(solver="lbfgs")
    with pytest.raises(ImportError, match="solver='lbfgs' needs scipy"):
        clf.fit(*_digits())
    assert not hasattr(clf, "coefs_")
