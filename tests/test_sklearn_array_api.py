"""scikit-learn's array API checks and tools with ``array_api_dispatch=True``.

scikit-learn needs ``SCIPY_ARRAY_API=1`` before scipy is imported, so this module runs only
in a process started with it (test_sklearn_checks.py starts one); elsewhere it is skipped.
Backends: NumPy, array-api-strict on both its devices, PyTorch on the CPU, in float64 and
float32.
"""

import os
import warnings

import numpy as np
import pytest

if os.environ.get("SCIPY_ARRAY_API") != "1":
    pytest.skip("needs SCIPY_ARRAY_API=1 set before scipy is imported", allow_module_level=True)

sklearn = pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import (  # noqa: E402
    check_array_api_input,
    check_array_api_input_and_values,
    check_array_api_mixed_inputs,
    check_array_api_same_namespace,
)

import portable_net as pn  # noqa: E402
from portable_net.errors import ConvergenceWarning  # noqa: E402
from tests._helpers import to_numpy  # noqa: E402

SMALL = dict(
    hidden_layer_sizes=(8,),
    solver="sgd",
    nesterovs_momentum=False,
    learning_rate_init=0.1,
    max_iter=30,
    random_state=0,
)
ESTIMATORS = {
    "Classifier": lambda: pn.Classifier(**SMALL),
    "Regressor": lambda: pn.Regressor(max_iter=100, random_state=0),
    # L-BFGS: scipy's optimiser over the loss and gradient computed in the input's library
    # (regularised: a float32 probability of a sure model is 0, whose log NumPy warns of;
    # 20 iterations: float32's roundings of two libraries part further in more)
    "Classifier-lbfgs": lambda: pn.Classifier(hidden_layer_sizes=(8,), solver="lbfgs",
                                              alpha=1.0, max_iter=20, random_state=0),
    "Regressor-lbfgs": lambda: pn.Regressor(solver="lbfgs", max_iter=100, random_state=0),
}  # fmt: skip
BACKENDS = [
    ("numpy", None),
    ("array_api_strict", "CPU_DEVICE"),
    ("array_api_strict", "device1"),
    ("torch", "cpu"),
]


def _namespace(name):
    pytest.importorskip(name)
    return pn.get_namespace(name)


def _device(xp, name, label):
    if name == "array_api_strict":
        import array_api_strict

        return array_api_strict.Device(label)
    import torch

    return torch.device(label)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("name", "device"), BACKENDS, ids=lambda v: str(v))
@pytest.mark.parametrize("check", [check_array_api_input, check_array_api_input_and_values])
@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_check_array_api_input(estimator, check, name, device, dtype):
    _namespace(name)
    made = ESTIMATORS[estimator]()
    check(type(made).__name__, made, name, device, dtype)


@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_check_array_api_mixed_inputs(estimator):
    """X on torch's CPU, y and the rest array-api-strict on its second device."""
    from sklearn.utils._array_api import yield_mixed_namespace_input_permutations

    _namespace("torch")
    ran = 0
    for other, X_ns, _ in yield_mixed_namespace_input_permutations():
        if {other.xp, X_ns.xp} <= {"numpy", "torch", "array_api_strict"} and (
            X_ns.device in (None, "cpu") and other.device in (None, "cpu", "device1")
        ):
            made = ESTIMATORS[estimator]()
            check_array_api_mixed_inputs(type(made).__name__, made, X_ns, other, check_values=True)
            ran += 1
    assert ran >= 1


@pytest.mark.parametrize(("name", "device"), BACKENDS[1:], ids=lambda v: str(v))
@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_check_array_api_same_namespace(estimator, name, device):
    _namespace(name)
    made = ESTIMATORS[estimator]()
    check_array_api_same_namespace(type(made).__name__, made, name, device)


# --- scikit-learn's tools on torch and array-api-strict ----------------------------------


@pytest.fixture(params=BACKENDS[1:], ids=["strict", "strict-device1", "torch"])
def data(request):
    name, label = request.param
    xp = _namespace(name)
    device = _device(xp, name, label)
    X, y = pn.make_spiral(40, 3, seed=0)
    return X, y, xp, device, xp.asarray(X, device=device), xp.asarray(y, device=device)


def _assert_on(x, xp, device):
    import array_api_compat

    assert array_api_compat.array_namespace(x) is xp
    assert array_api_compat.device(x) == device


def test_fitted_attributes_follow_the_input(data):
    X, y, xp, device, Xx, yx = data
    with sklearn.config_context(array_api_dispatch=True):
        clf = pn.Classifier(**SMALL).fit(Xx, yx)
        for a in [*clf.coefs_, *clf.intercepts_, clf.classes_, clf.predict(Xx)]:
            _assert_on(a, xp, device)
        _assert_on(clf.predict_proba(Xx), xp, device)
    ref = pn.Classifier(**SMALL).fit(X, y)
    np.testing.assert_allclose(to_numpy(clf.predict_proba(Xx)), ref.predict_proba(X), rtol=1e-9)


# StandardScaler divides by the zero counts of its first call (scikit-learn, not this library)
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_pipeline_with_standard_scaler(data):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, xp, device, Xx, yx = data
    with sklearn.config_context(array_api_dispatch=True):
        pipe = make_pipeline(StandardScaler(), pn.Classifier(**SMALL)).fit(Xx, yx)
        pred = pipe.predict(Xx)
        score = pipe.score(Xx, yx)
    _assert_on(pred, xp, device)
    ref = make_pipeline(StandardScaler(), pn.Classifier(**SMALL)).fit(X, y)
    np.testing.assert_array_equal(to_numpy(pred), ref.predict(X))
    assert score == ref.score(X, y)


def test_grid_search_and_cross_val_score(data):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

    X, y, xp, device, Xx, yx = data
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid_of = {"hidden_layer_sizes": [(2,), (32,)]}
    with sklearn.config_context(array_api_dispatch=True):
        scores = cross_val_score(pn.Classifier(**SMALL), Xx, yx, cv=cv)
        grid = GridSearchCV(pn.Classifier(**SMALL), grid_of, cv=cv).fit(Xx, yx)
        _assert_on(grid.best_estimator_.coefs_[0], xp, device)
    np.testing.assert_array_equal(scores, cross_val_score(pn.Classifier(**SMALL), X, y, cv=cv))
    ref = GridSearchCV(pn.Classifier(**SMALL), grid_of, cv=cv).fit(X, y)
    assert grid.best_params_ == ref.best_params_
    np.testing.assert_allclose(
        grid.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"]
    )


def test_classification_report_and_decision_boundary(data):
    """classification_report and DecisionBoundaryDisplay are NumPy-only in scikit-learn 1.9
    (the report sums with np.sum, the display reads ``classes_[0]`` and builds its grid in
    NumPy): with dispatch on they take a NumPy-fitted model; a torch model's predictions
    work in the report with dispatch off (scikit-learn converts them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.inspection import DecisionBoundaryDisplay
    from sklearn.metrics import classification_report

    X, y, xp, _, Xx, yx = data
    clf = pn.Classifier(**SMALL).fit(Xx, yx)
    ref = pn.Classifier(**SMALL).fit(X, y)
    pred = clf.predict(Xx)
    if xp.__name__.endswith("torch"):
        assert classification_report(yx, pred) == classification_report(y, ref.predict(X))
    with sklearn.config_context(array_api_dispatch=True):
        disp = DecisionBoundaryDisplay.from_estimator(ref, X, response_method="predict")
        assert disp.response.shape == disp.xx0.shape
        with pytest.raises(ValueError):
            DecisionBoundaryDisplay.from_estimator(clf, to_numpy(Xx), response_method="predict")
    plt.close("all")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("check", [check_array_api_input, check_array_api_input_and_values])
@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_check_array_api_input_on_jax(estimator, check, dtype):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)  # this process only (started for these tests)
    made = ESTIMATORS[estimator]()
    check(type(made).__name__, made, "jax.numpy", None, dtype)
