"""Classifier inside scikit-learn: its estimator checks, its tools, its exceptions.

scikit-learn is optional: the package must import without it (checked in a subprocess), and
when it is imported our errors and warnings are also scikit-learn's classes.
"""

import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import portable_net as pn  # noqa: E402
from portable_net.errors import ConvergenceWarning  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(
    hidden_layer_sizes=(8,),
    solver="sgd",
    nesterovs_momentum=False,
    learning_rate_init=0.1,
    max_iter=30,
    random_state=0,
)


def _run(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- scikit-learn's own test suite ------------------------------------------------------------
# Every check passes; none is marked as an expected failure. The array API checks skip here
# unless SCIPY_ARRAY_API=1 (they run in test_sklearn_array_api.py, started below).


@parametrize_with_checks(
    [
        pn.Classifier(**SMALL),
        pn.Regressor(max_iter=100, random_state=0),  # as scikit-learn tests MLPRegressor
        pn.Classifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=50, random_state=0),
        pn.Regressor(solver="lbfgs", max_iter=100, random_state=0),
    ]
)
def test_sklearn_check(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_sklearn_array_api_checks_in_a_subprocess():
    """test_sklearn_array_api.py needs SCIPY_ARRAY_API=1 before scipy is imported."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            str(ROOT / "tests" / "test_sklearn_array_api.py"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SCIPY_ARRAY_API": "1"},
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout


# --- scikit-learn stays optional ---------------------------------------------------------------


def test_importing_portable_net_does_not_import_sklearn():
    out = _run(
        "import sys, portable_net as pn\n"
        "X, y = pn.make_spiral(10)\n"
        "clf = pn.Classifier(solver='sgd', nesterovs_momentum=False, max_iter=2)\n"
        "import warnings; warnings.simplefilter('ignore')\n"
        "clf.fit(X, y).predict(X)\n"
        "try:\n"
        "    pn.Classifier().predict(X)\n"
        "except pn.NotFittedError as e:\n"
        "    print(type(e).__name__)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))\n"
    )
    assert out.splitlines() == ["NotFittedError", "[]"]


def test_not_fitted_error_is_sklearn_s_once_sklearn_is_imported():
    out = _run(
        "import portable_net as pn\n"
        "before = pn.NotFittedError('x')\n"
        "import sklearn.exceptions as se\n"
        "from sklearn.utils.validation import check_is_fitted\n"
        "after = pn.NotFittedError('x')\n"
        "print(isinstance(before, se.NotFittedError), isinstance(after, se.NotFittedError),\n"
        "      isinstance(after, pn.NotFittedError))\n"
        "try:\n"
        "    pn.Classifier().predict([[0.0, 1.0]])\n"
        "except se.NotFittedError as e:\n"
        "    print('caught', isinstance(e, pn.NotFittedError), isinstance(e, ValueError))\n"
        "try:\n"
        "    check_is_fitted(pn.Classifier())\n"
        "except se.NotFittedError:\n"
        "    print('check_is_fitted')\n"
    )
    assert out.splitlines() == ["False True True", "caught True True", "check_is_fitted"]


def test_errors_and_warnings_pickle_and_filter_as_sklearn_s():
    from sklearn.exceptions import ConvergenceWarning as SkConvergence
    from sklearn.exceptions import DataConversionWarning
    from sklearn.exceptions import NotFittedError as SkNotFitted

    err = pn.NotFittedError("not fitted")
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, SkNotFitted) and isinstance(back, pn.NotFittedError)
    assert str(back) == "not fitted"
    X, y = pn.make_spiral(10)
    with pytest.warns(SkConvergence, match="Maximum iterations"):
        pn.Classifier(**{**SMALL, "max_iter": 2}).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergence)
        with pytest.warns(DataConversionWarning, match="column-vector y"):
            pn.Classifier(**SMALL).fit(X, y[:, None])


# --- scikit-learn's tools, NumPy -----------------------------------------------------------------


@pytest.fixture(scope="module")
def spiral():
    return pn.make_spiral(40, 3, seed=0)


def test_pipeline_with_standard_scaler(spiral):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = spiral
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(StandardScaler(), pn.Classifier(**SMALL)).fit(X, y)
        Xs = StandardScaler().fit_transform(X)
        ref = pn.Classifier(**SMALL).fit(Xs, y)
    np.testing.assert_array_equal(pipe.predict(X), ref.predict(Xs))
    assert pipe.score(X, y) == ref.score(Xs, y)


def test_grid_search_and_cross_val_score(spiral):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

    X, y = spiral
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pn.Classifier(**SMALL), X, y, cv=cv)
        expected = [
            pn.Classifier(**SMALL).fit(X[tr], y[tr]).score(X[te], y[te])
            for tr, te in cv.split(X, y)
        ]
        np.testing.assert_array_equal(scores, expected)
        grid = GridSearchCV(
            pn.Classifier(**SMALL), {"hidden_layer_sizes": [(2,), (32,)]}, cv=cv
        ).fit(X, y)
    assert grid.best_params_ == {"hidden_layer_sizes": (32,)}  # 2 units cannot fit a spiral
    assert grid.best_estimator_.n_iter_ == 30


def test_clone_and_pickle(spiral):
    X, y = spiral
    clf = pn.Classifier(**SMALL)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and not hasattr(copy, "coefs_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert back.loss_curve_ == clf.loss_curve_


def test_decision_boundary_display_and_classification_report(spiral):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.inspection import DecisionBoundaryDisplay
    from sklearn.metrics import classification_report

    X, y = spiral
    labels = np.array(["a", "b", "c"])[y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = pn.Classifier(**{**SMALL, "hidden_layer_sizes": (32,), "max_iter": 200}).fit(
            X, labels
        )
    disp = DecisionBoundaryDisplay.from_estimator(clf, X, response_method="predict")
    # the display's grid coloured by our predictions
    grid = np.c_[disp.xx0.ravel(), disp.xx1.ravel()]
    expected = np.searchsorted(clf.classes_, clf.predict(grid)).reshape(disp.xx0.shape)
    np.testing.assert_array_equal(disp.response, expected)
    plt.close("all")
    report = classification_report(labels, clf.predict(X), output_dict=True)
    assert set(report) >= {"a", "b", "c", "accuracy"}
    assert report["accuracy"] == clf.score(X, labels)


# --- metadata routing: sample_weight through pipelines, cross-validation and searches -------


@pytest.mark.parametrize("kind", ["Classifier", "Regressor"])
def test_metadata_routing_passes_sample_weight_through(kind):
    """With scikit-learn's metadata routing on, Pipeline (fit and score), cross_val_score
    and GridSearchCV hand sample_weight to the estimator: the fits equal the estimator's
    own weighted fits; unweighted calls still work."""
    from sklearn.datasets import make_classification, make_regression
    from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "Classifier":
        X, y = make_classification(n_samples=80, n_features=5, random_state=0)
        make = lambda: pn.Classifier(**SMALL)  # noqa: E731
    else:
        X, y = make_regression(n_samples=80, n_features=5, noise=1.0, random_state=0)
        y = y / np.std(y)
        make = lambda: pn.Regressor(hidden_layer_sizes=(8,), max_iter=30, random_state=0)  # noqa: E731
    w = np.random.default_rng(0).uniform(0.0, 3.0, X.shape[0])
    Xs = StandardScaler().fit_transform(X)
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = make_pipeline(StandardScaler(), make()).fit(X, y)
        assert np.isfinite(plain.score(X, y))  # no weights requested, none passed: no error
        est = make().set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        pipe = make_pipeline(scaler, est).fit(X, y, sample_weight=w)
        direct = make().fit(Xs, y, sample_weight=w)
        np.testing.assert_allclose(pipe[-1].coefs_[0], direct.coefs_[0], rtol=1e-12)
        assert pipe.score(X, y, sample_weight=w) == direct.score(Xs, y, sample_weight=w)
        cv = KFold(3)
        scores = cross_val_score(est, Xs, y, cv=cv, params={"sample_weight": w})
        for score, (train, test) in zip(scores, cv.split(Xs)):
            fitted = make().fit(Xs[train], y[train], sample_weight=w[train])
            assert score == fitted.score(Xs[test], y[test], sample_weight=w[test])
        grid = GridSearchCV(est, {"alpha": [1e-4, 1e-2]}, cv=cv).fit(Xs, y, sample_weight=w)
        refit = make().set_params(**grid.best_params_).fit(Xs, y, sample_weight=w)
        np.testing.assert_allclose(grid.best_estimator_.coefs_[0], refit.coefs_[0], rtol=1e-12)


def test_set_fit_request_needs_routing_enabled():
    with pytest.raises(RuntimeError, match="metadata routing"):
        pn.Classifier().set_fit_request(sample_weight=True)
