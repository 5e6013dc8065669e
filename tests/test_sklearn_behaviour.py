"""Classifier and Regressor behave as MLPClassifier and MLPRegressor, each behaviour side by
side with scikit-learn's estimator in the same test (the peer is the oracle): the counters
and the patience, partial_fit's rules, the failures, one-class y, the Poisson loss, error
texts, label dtypes and the Jupyter diagram. (L-BFGS: tests/test_lbfgs.py; the loss curves:
tests/test_mlp_equivalence.py; sparse input: tests/test_sparse.py.)"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import portable_net as pn

from ._helpers import to_numpy

sklearn = pytest.importorskip("sklearn")
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402

X, Y = pn.make_spiral(20, 3, seed=0)
SGD = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.05, random_state=0)


def _both(ours, theirs, method, *args, **kwargs):
    """Call ``method`` on both, warnings silenced; (ours, theirs) results or exceptions."""
    out = []
    for est in (ours, theirs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out.append(getattr(est, method)(*args, **kwargs))
            except Exception as exc:  # compared below
                out.append(exc)
    return out


def _same_error(ours, theirs, exact=True):
    assert isinstance(ours, Exception) and isinstance(theirs, Exception), (ours, theirs)
    assert type(theirs) in type(ours).__mro__ or isinstance(ours, type(theirs))
    if exact:
        assert str(ours) == str(theirs)
    else:  # scikit-learn's message, then ours
        assert str(ours).startswith(str(theirs)), (str(ours), str(theirs))


# --- counters and patience ---------------------------------------------------------------


def test_n_iter_counts_each_call_as_mlpclassifier():
    """A warm refit with max_iter=20 reports 20 (not 30); partial_fit 1; the loss curve and
    t_ run on."""
    kw = dict(SGD, max_iter=10, tol=0.0, n_iter_no_change=100, warm_start=True)
    ours, theirs = pn.Classifier(**kw), MLPClassifier(**kw)
    _both(ours, theirs, "fit", X, Y)
    ours.set_params(max_iter=20)
    theirs.set_params(max_iter=20)
    _both(ours, theirs, "fit", X, Y)
    assert ours.n_iter_ == theirs.n_iter_ == 20
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 30
    assert ours.t_ == theirs.t_
    _both(ours, theirs, "partial_fit", X, Y)
    assert ours.n_iter_ == theirs.n_iter_ == 1 and ours.t_ == theirs.t_
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 31


def test_n_iter_no_change_inf_never_stops_early():
    kw = dict(SGD, max_iter=15, tol=10.0, n_iter_no_change=np.inf)  # no epoch improves by 10
    ours, theirs = pn.Classifier(**kw), MLPClassifier(**kw)
    _both(ours, theirs, "fit", X, Y)
    assert ours.n_iter_ == theirs.n_iter_ == 15
    stops = dict(kw, n_iter_no_change=2)
    ours, theirs = pn.Classifier(**stops), MLPClassifier(**stops)
    _both(ours, theirs, "fit", X, Y)
    assert ours.n_iter_ == theirs.n_iter_ < 15


@pytest.mark.parametrize("make", [(pn.Classifier, MLPClassifier), (pn.Regressor, MLPRegressor)])
def test_partial_fit_with_early_stopping_raises_as_scikit_learn(make):
    ours_cls, theirs_cls = make
    extra = {"classes": [0, 1, 2]} if ours_cls is pn.Classifier else {}
    y = Y if ours_cls is pn.Classifier else X[:, 0]
    ours, theirs = _both(ours_cls(early_stopping=True), theirs_cls(early_stopping=True),
                         "partial_fit", X, y, **extra)  # fmt: skip
    _same_error(ours, theirs)


# --- failures ------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # both libraries' overflows on the way
def test_non_finite_weights_are_mlpclassifier_s_value_error():
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e10, max_iter=5,
              random_state=0, momentum=0.0)  # fmt: skip
    ours, theirs = _both(pn.Regressor(**kw), MLPRegressor(**kw), "fit", X, 1e5 * X[:, 0])
    _same_error(ours, theirs)
    assert "Solver produced non-finite parameter weights" in str(ours)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_fit_with_early_stopping_keeps_its_best_weights_as_scikit_learn():
    """MLPRegressor's held-out score of non-finite predictions is NaN, and the best weights
    (finite) come back: no error, as MLPRegressor."""
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", max_iter=6, random_state=0,
              momentum=0.0, early_stopping=True, n_iter_no_change=100)  # fmt: skip
    y = 1e100 * X[:, 0]  # squared errors past the largest float after the first epoch
    ours, theirs = pn.Regressor(**kw), MLPRegressor(**kw)
    _both(ours, theirs, "fit", X, y)
    assert np.isnan(theirs.validation_scores_[1:]).all() and theirs.n_iter_ == 6
    np.testing.assert_array_equal(np.isnan(ours.validation_scores_),
                                  np.isnan(theirs.validation_scores_))  # fmt: skip
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-9)
    for mine, ref in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(mine, ref, rtol=1e-9, atol=1e-12)


def test_a_fit_that_ends_worse_still_warns_ours_besides():
    """Our ConvergenceWarning for a run that ended worse than it started adds to
    scikit-learn's behaviour: MLPClassifier fits the same weights without it."""
    kw = dict(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=50.0, max_iter=5,
              batch_size=60, random_state=0, n_iter_no_change=100)  # fmt: skip
    caught = {}
    for name, est in (("ours", pn.Classifier(**kw)), ("theirs", MLPClassifier(**kw))):
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            est.fit(X, Y)
        caught[name] = [str(w.message) for w in log]
    assert any("ended worse than it started" in m for m in caught["ours"])
    assert not any("ended worse" in m for m in caught["theirs"])


# --- one class -----------------------------------------------------------------------------


def test_one_class_is_fitted_as_mlpclassifier(tmp_path):
    y = np.full(X.shape[0], "only")
    ours, theirs = pn.Classifier(**SGD, max_iter=5), MLPClassifier(**SGD, max_iter=5)
    _both(ours, theirs, "fit", X, y)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert (ours.out_activation_, ours.n_outputs_) == (theirs.out_activation_, theirs.n_outputs_)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.predict(X).dtype == theirs.predict(X).dtype
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-10)
    assert ours.score(X, y) == theirs.score(X, y) == 1.0
    back = pn.Classifier.load(ours.save(tmp_path / "one.npz"))
    np.testing.assert_array_equal(back.predict(X), theirs.predict(X))


# --- texts and dtypes ------------------------------------------------------------------------


def test_class_errors_print_the_labels_as_mlpclassifier():
    kw = dict(SGD, max_iter=2, warm_start=True)
    ours, theirs = pn.Classifier(**kw), MLPClassifier(**kw)
    _both(ours, theirs, "fit", X, Y)
    _same_error(*_both(ours, theirs, "fit", X, np.where(Y == 2, 1, Y)))  # warm start: fewer
    ours, theirs = pn.Classifier(**SGD), MLPClassifier(**SGD)
    _both(ours, theirs, "partial_fit", X, Y % 2, classes=np.array([0, 1]))
    _same_error(*_both(ours, theirs, "partial_fit", X, Y))  # a class not in classes_
    _same_error(*_both(ours, theirs, "partial_fit", X, Y % 2, classes=[0, 1, 2]))


def test_the_stratified_split_s_message_starts_as_scikit_learn_s():
    """Two classes: the held-out rows are stratified (by the binarised labels, as
    MLPClassifier); its errors are scikit-learn's words, then ours."""
    y = np.array(["a"] * 59 + ["b"])  # class "b" has one row
    kw = dict(SGD, early_stopping=True, max_iter=2)
    _same_error(*_both(pn.Classifier(**kw), MLPClassifier(**kw), "fit", X, y), exact=False)
    small = dict(kw, validation_fraction=0.01)  # 1 held-out row for 2 classes
    y = np.arange(60) % 2
    _same_error(*_both(pn.Classifier(**small), MLPClassifier(**small), "fit", X, y), exact=False)


@pytest.mark.parametrize("kind", ["object", "series", "category", "list"])
def test_string_labels_come_back_in_mlpclassifier_s_dtype(kind):
    pd = pytest.importorskip("pandas")
    names = np.array(["ant", "bee", "cat"])[Y]
    y = {
        "object": names.astype(object),
        "series": pd.Series(names),
        "category": pd.Series(names).astype("category"),
        "list": names.tolist(),
    }[kind]
    ours, theirs = pn.Classifier(**SGD, max_iter=3), MLPClassifier(**SGD, max_iter=3)
    _both(ours, theirs, "fit", X, y)
    assert ours.classes_.dtype == theirs.classes_.dtype
    assert ours.predict(X).dtype == theirs.predict(X).dtype
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_jupyter_shows_scikit_learn_s_diagram():
    ours, theirs = pn.Classifier(max_iter=5), MLPClassifier(max_iter=5)
    bundle, reference = ours._repr_mimebundle_(), theirs._repr_mimebundle_()
    assert set(bundle) == set(reference) == {"text/plain", "text/html"}
    assert bundle["text/plain"] == repr(ours)
    assert "sk-estimator" in bundle["text/html"] and "Classifier" in bundle["text/html"]
    assert hasattr(ours, "_repr_html_") and hasattr(theirs, "_repr_html_")
    assert "sk-estimator" in ours._repr_html_()
    with sklearn.config_context(display="text"):
        assert not hasattr(ours, "_repr_html_") and not hasattr(theirs, "_repr_html_")
        assert set(ours._repr_mimebundle_()) == set(theirs._repr_mimebundle_()) == {"text/plain"}


# --- the Poisson loss ---------------------------------------------------------------------


RNG = np.random.RandomState(3)
XP = RNG.randn(80, 3)
COUNTS = RNG.poisson(np.exp(0.6 * XP[:, 0])).astype(np.float64)


def test_poisson_is_mlpregressor_s(tmp_path):
    kw = dict(loss="poisson", hidden_layer_sizes=(6,), solver="adam", learning_rate_init=0.01,
              max_iter=30, random_state=0, shuffle=False)  # fmt: skip
    ours, theirs = pn.Regressor(**kw), MLPRegressor(**kw)
    _both(ours, theirs, "fit", XP, COUNTS)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.predict(XP), theirs.predict(XP), rtol=1e-9)
    assert ours.score(XP, COUNTS) == pytest.approx(theirs.score(XP, COUNTS), abs=1e-10)
    # the file records the exp outputs: loaded, it predicts the same; the command too
    path = ours.save(tmp_path / "poisson.npz")
    back = pn.Regressor.load(path)
    assert back.get_params()["loss"] == "poisson" and back.out_activation_ == "exp"
    np.testing.assert_array_equal(back.predict(XP), ours.predict(XP))
    _, meta = pn.load(path)
    assert (meta["output"], meta["loss"]) == ("exp", "poisson")
    with pytest.raises(ValueError, match="holds a regressor of 1 output \\(exp outputs, poisson"):
        pn.Classifier.load(path)


def test_a_poisson_regressor_s_file_predicts_exactly_everywhere(tmp_path, capsys):
    """portable-net predict and the ONNX graph run the exp outputs: Regressor.predict's
    values."""
    from portable_net.cli import main

    ours = pn.Regressor(loss="poisson", hidden_layer_sizes=(6,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(XP, COUNTS)
    path = ours.save(tmp_path / "poisson.npz")
    points = tmp_path / "points.csv"
    np.savetxt(points, XP[:5], delimiter=",", header="x0,x1,x2", comments="")
    assert main(["predict", str(path), str(points)]) == 0
    printed = [float(v) for v in capsys.readouterr().out.split()]
    np.testing.assert_allclose(printed, ours.predict(XP[:5]), rtol=1e-12)
    ort = pytest.importorskip("onnxruntime")
    graph = ours.to_onnx()
    (values,) = ort.InferenceSession(graph.SerializeToString()).run(None, {"X": XP})
    np.testing.assert_allclose(values, ours.predict(XP), rtol=1e-12)
    assert json.loads({p.key: p.value for p in graph.metadata_props}["feature_names"]) == [
        "x0",
        "x1",
        "x2",
    ]


@pytest.mark.parametrize("y", [-COUNTS - 1.0, np.zeros_like(COUNTS)], ids=["negative", "zero"])
def test_poisson_targets_are_checked_as_scikit_learn_checks_them(y):
    """y >= 0 with a positive sum, checked before any work with scikit-learn's messages for
    Poisson regression (its forests': MLPRegressor 1.9 does not check)."""
    from sklearn.ensemble import RandomForestRegressor

    ours = pn.Regressor(loss="poisson", max_iter=2)
    theirs = RandomForestRegressor(criterion="poisson", n_estimators=2)
    _same_error(*_both(ours, theirs, "fit", XP, y))
    assert not hasattr(ours, "coefs_")  # refused before any work


def test_sparse_input_is_tagged_as_mlpclassifier_s():
    for ours, theirs in ((pn.Classifier(), MLPClassifier()), (pn.Regressor(), MLPRegressor())):
        assert ours.__sklearn_tags__().input_tags == theirs.__sklearn_tags__().input_tags


def test_poisson_on_torch_gives_numpy_s_predictions_in_torch():
    torch = pytest.importorskip("torch")
    kw = dict(loss="poisson", hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pn.Regressor(**kw).fit(XP, COUNTS)
        reg = pn.Regressor(**kw).fit(torch.asarray(XP), torch.asarray(COUNTS))
    pred = reg.predict(torch.asarray(XP))
    assert isinstance(pred, torch.Tensor)
    np.testing.assert_allclose(to_numpy(pred), ref.predict(XP), rtol=1e-12)
