import numpy as np
import pytest

import portable_net as pn
from tests._helpers import assert_on, to_numpy


def test_fits_the_spiral_like_the_case_study():
    X, y = pn.make_spiral(seed=1)
    clf = pn.Classifier().fit(X, y)
    assert clf.score(X, y) >= 0.97
    assert clf.history_.steps[0] == 0 and len(clf.history_.loss) == 10
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_features_in_ == 2
    # the same model through the functional API gives the same parameters
    params, _ = pn.train(pn.init_params([2, 100, 3], seed=0), X, y)
    for k in params:
        np.testing.assert_allclose(clf.params_[k], params[k], rtol=1e-12, atol=1e-15)


def test_softmax_classifier_is_linear():
    X, y = pn.make_spiral(seed=1)
    clf = pn.Classifier(hidden_sizes=(), steps=200).fit(X, y)
    assert set(clf.params_) == {"W1", "b1"}
    assert 0.4 <= clf.score(X, y) <= 0.6


def test_any_integer_labels_come_back_as_given():
    X, y = pn.make_spiral(30, seed=2)
    labels = np.array([-5, 10, 42])[y]
    clf = pn.Classifier(steps=2000).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, [-5, 10, 42])
    pred = clf.predict(X)
    assert set(np.unique(pred)) <= {-5, 10, 42}
    assert np.mean(pred == labels) == clf.score(X, labels) >= 0.9
    assert clf.predict_proba(X).shape == (90, 3)


def test_lists_are_accepted():
    X, y = pn.make_spiral(10, seed=3)
    clf = pn.Classifier(steps=50).fit(X.tolist(), y.tolist())
    assert isinstance(clf.predict(X.tolist()), np.ndarray)
    clf = pn.Classifier(steps=50).fit([[0, 0], [1, 1], [0, 1], [1, 0]], [0, 0, 1, 1])
    assert clf.params_["W1"].dtype == np.float64


def test_every_backend_returns_its_own_arrays(xp, device):
    X_np, y_np = pn.make_spiral(30, seed=4)
    ref = pn.Classifier(hidden_sizes=(16,), steps=300).fit(X_np, y_np)
    X, y = pn.make_spiral(30, seed=4, xp=xp, device=device)
    clf = pn.Classifier(hidden_sizes=(16,), steps=300).fit(X, y)
    for v in clf.params_.values():
        assert_on(v, xp, device)
    pred, proba = clf.predict(X), clf.predict_proba(X)
    assert_on(pred, xp, device)
    assert_on(proba, xp, device)
    assert_on(clf.classes_, xp, device)
    np.testing.assert_array_equal(to_numpy(pred), ref.predict(X_np))
    np.testing.assert_allclose(to_numpy(proba), ref.predict_proba(X_np), rtol=1e-9)
    assert clf.score(X, y) == ref.score(X_np, y_np)


def test_predict_before_fit_is_a_clear_error():
    with pytest.raises(pn.NotFittedError, match="not fitted yet; call fit"):
        pn.Classifier().predict(np.zeros((2, 2)))
    with pytest.raises(ValueError):  # NotFittedError is a ValueError too
        pn.Classifier().predict_proba(np.zeros((2, 2)))


def test_predict_on_another_library_is_named():
    torch = pytest.importorskip("torch")
    X, y = pn.make_spiral(10)
    clf = pn.Classifier(steps=10).fit(X, y)
    with pytest.raises(TypeError, match="X is a torch array but classes_ is a numpy array"):
        clf.predict(torch.asarray(X))


def test_predict_with_wrong_feature_count():
    X, y = pn.make_spiral(10)
    clf = pn.Classifier(steps=10).fit(X, y)
    with pytest.raises(ValueError, match=r"X has 3 features"):
        clf.predict(np.zeros((4, 3)))


@pytest.mark.parametrize(
    ("kwargs", "X", "y", "error", "match"),
    [
        ({}, np.zeros((3, 2)), np.array([0, 0, 0]), ValueError, "at least 2 classes"),
        ({}, np.zeros((3, 2)), np.array([0.0, 1.0, 1.0]), TypeError, "integer class labels"),
        ({}, np.zeros((3, 2)), np.array([0, 1]), ValueError, "one label per row"),
        ({"hidden_sizes": (0,)}, np.zeros((2, 2)), np.array([0, 1]), ValueError, "hidden_sizes"),
        ({"hidden_sizes": 100}, np.zeros((2, 2)), np.array([0, 1]), TypeError, "hidden_sizes"),
        ({"learning_rate": -1}, np.zeros((2, 2)), np.array([0, 1]), ValueError, "learning_rate"),
        ({}, "abc", np.array([0, 1]), TypeError, "X must be an array"),
    ],
)
def test_bad_fit_arguments(kwargs, X, y, error, match):
    with pytest.raises(error, match=match):
        pn.Classifier(**kwargs).fit(X, y)


def test_get_set_params_and_repr():
    clf = pn.Classifier(hidden_sizes=(8,), steps=5)
    assert clf.get_params()["steps"] == 5
    assert clf.set_params(reg=0.1) is clf and clf.reg == 0.1
    assert repr(clf) == "Classifier(hidden_sizes=(8,), steps=5, reg=0.1)"
    with pytest.raises(ValueError, match="unknown parameter 'foo'"):
        clf.set_params(foo=1)


def test_fit_leaves_the_caller_s_arrays_alone():
    X, y = pn.make_spiral(10)
    X0, y0 = X.copy(), y.copy()
    pn.Classifier(steps=20).fit(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
