"""Classifier: MLPClassifier's parameters and behaviour, on every backend.

The reference for the numbers is scikit-learn's MLPClassifier itself: with SGD without
momentum its epochs are ours step for step (same Glorot draws from the same RandomState,
same loss, same L2 scaling), so losses and weights must agree to rounding.
"""

import math
import warnings

import numpy as np
import pytest

import portable_net as pn
from portable_net.errors import ConvergenceWarning
from tests._files import rewrite
from tests._helpers import assert_on, to_numpy

# plain SGD (classical momentum), the reference formulation of most tests here
SGD = {"solver": "sgd", "nesterovs_momentum": False}


def _clf(**kwargs):
    return pn.Classifier(**{**SGD, **kwargs})


def _fit_quietly(clf, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def _glorot(sizes, seed):
    """MLPClassifier's initial weights: W, b ~ U(-s, s), s = sqrt(6 / (fan_in + fan_out)),
    drawn layer by layer (W then b) from RandomState(seed)."""
    rng = np.random.RandomState(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        params[f"W{i}"] = rng.uniform(-bound, bound, (fan_in, fan_out))
        params[f"b{i}"] = rng.uniform(-bound, bound, fan_out)
    return params


def test_fits_the_spiral_like_the_case_study():
    X, y = pn.make_spiral(seed=1)
    # the case study's settings: full batch, step 1.0, reg 1e-3 (alpha = reg * n); 1,000
    # steps (the case study's 10,000 reach 0.98 too, one train call per epoch takes longer)
    clf = _clf(
        hidden_layer_sizes=(100,),
        momentum=0.0,
        learning_rate_init=1.0,
        alpha=1e-3 * 300,
        batch_size=300,
        max_iter=1000,
        tol=0.0,
        n_iter_no_change=1000,
        random_state=0,
    )
    _fit_quietly(clf, X, y)
    assert clf.score(X, y) >= 0.97
    assert clf.n_iter_ == 1000 and len(clf.loss_curve_) == 1000
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_features_in_ == 2
    # the same model through the functional API gives the same parameters
    params, history = pn.train(
        _glorot([2, 100, 3], seed=0),
        X,
        y,
        steps=1000,
        learning_rate=1.0,
        reg=1e-3,
        log_every=1,
    )
    for k in params:
        np.testing.assert_allclose(clf.params_[k], params[k], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(clf.loss_curve_, history.loss, rtol=1e-10)


def test_epochs_are_mlpclassifier_s_epochs():
    """SGD without momentum, full batch or in order: MLPClassifier's numbers to rounding."""
    from sklearn.neural_network import MLPClassifier

    X, y = pn.make_spiral(40, 4, seed=3)  # 4 classes: MLPClassifier has K softmax outputs too
    # 30: a smaller last batch (10), whose L2 term MLPClassifier scales by its own size
    for batch_size in (160, 32, 30):
        settings = dict(
            hidden_layer_sizes=(12, 7),
            momentum=0.0,
            learning_rate_init=0.2,
            alpha=0.01,
            batch_size=batch_size,
            max_iter=6,
            shuffle=False,
            tol=0.0,
            random_state=5,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = MLPClassifier(**SGD, **settings).fit(X, y)
            ours = _clf(**settings).fit(X, y)
        np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-12)
        for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-12)
        assert ours.n_iter_ == ref.n_iter_ == 6 and ours.t_ == ref.t_
        assert ours.loss_ == ours.loss_curve_[-1]


@pytest.mark.parametrize("schedule", ["invscaling", "adaptive"])
def test_learning_rate_schedules_are_mlpclassifier_s(schedule):
    from sklearn.neural_network import MLPClassifier

    X, y = pn.make_spiral(30, 3, seed=4)
    settings = dict(
        hidden_layer_sizes=(10,),
        momentum=0.0,
        learning_rate=schedule,
        learning_rate_init=0.5,
        power_t=0.3,
        batch_size=90,
        max_iter=40,
        tol=0.05,  # large: the adaptive schedule divides the rate by 5 several times
        n_iter_no_change=2,
        random_state=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = MLPClassifier(**SGD, **settings).fit(X, y)
        ours = _clf(**settings).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-10)
    assert ours._schedule.learning_rate == pytest.approx(ref._optimizer.learning_rate, rel=1e-12)


def test_convergence_stops_early_and_max_iter_warns():
    from sklearn.neural_network import MLPClassifier

    X, y = pn.make_spiral(30, 3, seed=4)
    settings = dict(hidden_layer_sizes=(10,), momentum=0.0, batch_size=90, random_state=1)
    # tol large: the first epoch improves on inf, then n_iter_no_change + 1 epochs without
    # improvement stop it, as MLPClassifier
    ref = MLPClassifier(**SGD, **settings, tol=1.0, n_iter_no_change=3).fit(X, y)
    ours = _clf(**settings, tol=1.0, n_iter_no_change=3).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_ == 5
    assert ours.best_loss_ == min(ours.loss_curve_)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        _clf(**settings, max_iter=3).fit(X, y)


def test_an_interrupted_fit_keeps_the_steps_made(monkeypatch):
    # the weights become the estimator's after the epochs, not after each one: interrupted
    # (a warning raised as an error, a KeyboardInterrupt), the fit still leaves the steps
    # made, as the same epochs uninterrupted leave them
    from portable_net.loop import Trainer

    X, y = pn.make_spiral(30, 3, seed=7)
    settings = dict(solver="adam", hidden_layer_sizes=(8,), batch_size=40, random_state=3)
    ref = _fit_quietly(pn.Classifier(**settings, max_iter=2, tol=0.0), X, y)

    def same_weights(est):
        for a, b in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_, strict=True):
            np.testing.assert_array_equal(a, b)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pn.Classifier(**settings, max_iter=2, tol=0.0).fit(X, y)
    assert [w.filename for w in caught] == [__file__]  # said at the caller's line
    est = pn.Classifier(**settings, max_iter=2, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="Maximum iterations"):
            est.fit(X, y)
    same_weights(est)
    epoch, calls = Trainer.epoch, []

    def interrupted_third(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return epoch(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "epoch", interrupted_third)
    est = pn.Classifier(**settings, max_iter=5, tol=0.0)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    same_weights(est)
    assert est.n_iter_ == 2


@pytest.mark.parametrize("n_classes", [2, 3])
def test_early_stopping_holds_out_mlpclassifier_s_rows(n_classes):
    """The held-out rows are MLPClassifier's, in its order (train_test_split from
    random_state; stratified for two classes): unshuffled fits give its validation scores
    and loss curve (three classes: both have K softmax outputs, the same numbers)."""
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    from portable_net.preprocessing import split_rows

    X, y = pn.make_spiral(40, n_classes, seed=6)
    for stratify in (True, False):
        rng = np.random.RandomState(3)
        train, test = split_rows(y, 0.2, rng, stratify=stratify)
        idx = np.arange(y.shape[0])
        ref_train, ref_test = train_test_split(
            idx, test_size=0.2, random_state=np.random.RandomState(3),
            stratify=y if stratify else None,
        )  # fmt: skip
        np.testing.assert_array_equal(train, ref_train)
        np.testing.assert_array_equal(test, ref_test)
    if n_classes == 2:  # MLPClassifier fits one logistic output: other numbers
        return
    settings = dict(hidden_layer_sizes=(10,), momentum=0.0, batch_size=16, shuffle=False,
                    learning_rate_init=0.3, early_stopping=True, max_iter=15, random_state=2,
                    n_iter_no_change=20)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = MLPClassifier(**SGD, **settings).fit(X, y)
        ours = _clf(**settings).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_)


def test_early_stopping_keeps_the_best_weights():
    X, y = pn.make_spiral(60, 3, seed=2)
    clf = _clf(
        hidden_layer_sizes=(30,),
        momentum=0.5,
        learning_rate_init=0.3,
        batch_size=32,
        max_iter=300,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=5,
        random_state=0,
    )
    _fit_quietly(clf, X, y)
    assert clf.best_loss_ is None
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ == len(clf.loss_curve_) < 300
    assert clf.best_validation_score_ == max(scores)
    # the validation set: ceil(0.2 * 180) = 36 samples, 12 per class (stratified); the model
    # kept is the best one, whatever the last epochs did
    assert round(clf.best_validation_score_ * 36) == clf.best_validation_score_ * 36
    best = int(np.argmax(scores))
    assert clf.n_iter_ == best + 1 + 6 or clf.n_iter_ == 300
    with pytest.raises(ValueError, match="validation set is too small"):
        _clf(early_stopping=True, validation_fraction=0.01).fit(X[::9], y[::9])


def test_partial_fit_is_one_epoch_and_warm_start_continues():
    X, y = pn.make_spiral(30, 3, seed=5)
    settings = dict(hidden_layer_sizes=(8,), momentum=0.0, batch_size=90, random_state=2)
    full = _fit_quietly(_clf(**settings, max_iter=3, tol=0.0), X, y)
    inc = _clf(**settings)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        inc.partial_fit(X, y)
    for _ in range(3):
        inc.partial_fit(X, y, classes=[0, 1, 2])
    assert inc.n_iter_ == 1 and inc.t_ == 270  # n_iter_: this call's epochs, as MLPClassifier
    assert len(inc.loss_curve_) == 3
    np.testing.assert_allclose(inc.loss_curve_, full.loss_curve_, rtol=1e-12)
    with pytest.raises(ValueError, match="not the same as on last call"):
        inc.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="X has 1 features, but Classifier is expecting 2"):
        inc.partial_fit(X[:, :1], y)
    warm = _clf(**settings, max_iter=1, warm_start=True)
    for _ in range(3):
        _fit_quietly(warm, X, y)
    assert warm.n_iter_ == 1 and len(warm.loss_curve_) == 3
    np.testing.assert_allclose(warm.loss_curve_, full.loss_curve_, rtol=1e-12)
    cold = _fit_quietly(_clf(**settings, max_iter=1), X, y)
    _fit_quietly(cold, X, y)
    assert cold.n_iter_ == 1  # without warm_start, fit starts over


def test_softmax_classifier_is_linear():
    X, y = pn.make_spiral(seed=1)
    clf = _fit_quietly(
        _clf(hidden_layer_sizes=(), momentum=0.0, learning_rate_init=1.0, batch_size=300), X, y
    )
    assert set(clf.params_) == {"W1", "b1"} and clf.n_layers_ == 2
    assert 0.4 <= clf.score(X, y) <= 0.6


@pytest.mark.parametrize(
    "labels",
    [
        np.array([-5, 10, 42]),
        np.array(["ant", "bee", "cat"]),
        np.array(["ant", "bee", "cat"], dtype=object),
        np.array([0.0, 1.0, 7.0]),
        np.array([False, True, True]),
    ],
    ids=["int", "str", "object", "float", "bool"],
)
def test_any_labels_come_back_as_given(labels):
    X, y = pn.make_spiral(30, seed=2)
    target = labels[y]
    clf = _fit_quietly(_clf(momentum=0.9, learning_rate_init=0.2, random_state=0), X, target)
    np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    # an object array's labels come back as an array of their own type (strings: <U), as
    # MLPClassifier's (tests/test_sklearn_behaviour.py holds them to its)
    dtype = np.asarray(labels.tolist()).dtype if labels.dtype.kind == "O" else labels.dtype
    assert clf.classes_.dtype == dtype
    pred = clf.predict(X)
    assert pred.dtype == dtype and set(pred.tolist()) <= set(labels.tolist())
    assert np.mean(pred == target) == clf.score(X, target) >= 0.6
    assert clf.predict_proba(X).shape == (90, clf.classes_.shape[0])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(clf.predict_proba(X)))


def test_lists_and_pandas_are_accepted():
    pd = pytest.importorskip("pandas")
    X, y = pn.make_spiral(10, seed=3)
    clf = _fit_quietly(_clf(max_iter=5, random_state=0), X.tolist(), y.tolist())
    assert isinstance(clf.predict(X.tolist()), np.ndarray)
    clf = _fit_quietly(_clf(max_iter=5), [[0, 0], [1, 1], [0, 1], [1, 0]], [0, 0, 1, 1])
    assert clf.coefs_[0].dtype == np.float64
    frame = pd.DataFrame(X, columns=["x", "y"])
    clf = _fit_quietly(_clf(max_iter=5, random_state=0), frame, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, ["x", "y"])
    ref = _fit_quietly(_clf(max_iter=5, random_state=0), X, y)
    np.testing.assert_array_equal(clf.predict(frame), ref.predict(X))
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(frame.rename(columns={"x": "a"}))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(X)


def test_every_backend_returns_its_own_arrays(xp, device):
    X_np, y_np = pn.make_spiral(30, seed=4)
    settings = dict(hidden_layer_sizes=(16,), momentum=0.0, batch_size=90, random_state=0)
    ref = _fit_quietly(_clf(**settings, max_iter=30), X_np, y_np)
    X, y = pn.make_spiral(30, seed=4, xp=xp, device=device)
    clf = _fit_quietly(_clf(**settings, max_iter=30), X, y)
    for v in clf.coefs_ + clf.intercepts_:
        assert_on(v, xp, device)
    pred, proba = clf.predict(X), clf.predict_proba(X)
    assert_on(pred, xp, device)
    assert_on(proba, xp, device)
    assert_on(clf.classes_, xp, device)
    assert_on(clf.predict_log_proba(X), xp, device)
    np.testing.assert_array_equal(to_numpy(pred), ref.predict(X_np))
    np.testing.assert_allclose(to_numpy(proba), ref.predict_proba(X_np), rtol=1e-9)
    np.testing.assert_allclose(clf.loss_curve_, ref.loss_curve_, rtol=1e-9)
    assert clf.score(X, y) == ref.score(X_np, y_np)


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda lr: pn.optim.Adam(lr),
        lambda lr: pn.optim.SGD(lr, momentum=0.9, nesterov=True),
    ],
    ids=["adam", "nesterov"],
)
def test_the_classifier_s_epochs_are_train_calls_epoch_by_epoch(xp, device, make_opt):
    """``loop.Trainer.epoch`` (what a shuffled Classifier fit runs: checked and prepared once)
    against ``train`` called once per epoch, its optimiser state carried by ``history``: the
    same batch losses and parameters, with a new seed and a new rate each epoch, a ragged
    last batch, and an optimiser state from an earlier run to start from."""
    from portable_net.loop import Trainer

    X_np, y_np = pn.make_spiral(35, seed=2)  # 105 examples: batches of 25, the last of 5
    p_np = pn.init_params([2, 12, 3], seed=3)
    X, y = xp.asarray(X_np, device=device), xp.asarray(y_np, device=device)
    params = {k: xp.asarray(v, device=device) for k, v in p_np.items()}
    _, earlier = pn.train(params, X, y, steps=3, batch_size=25, optimizer=make_opt(0.05))
    rates, seeds = [0.05, 0.05, 0.02, 0.01], [11, 4, 4, 97]
    common = dict(batch_size=25, reg=1e-3 / 25, log_every=1, final_loss=False)
    ref, state, ref_losses = params, earlier.optimizer_state, []
    for lr, seed in zip(rates, seeds):
        ref, hist = pn.train(
            ref, X, y, steps=5, seed=seed, optimizer=make_opt(lr),
            history=pn.History(optimizer_state=state), **common,
        )  # fmt: skip
        state = hist.optimizer_state
        ref_losses.append(hist.loss)

    before = {k: to_numpy(v).copy() for k, v in params.items()}
    epochs = Trainer(
        params, X, y, optimizer=make_opt(0.05), reg=1e-3 / 25, batch_size=25,
        optimizer_state=earlier.optimizer_state,
    )  # fmt: skip
    losses = [epochs.epoch(seed, lr) for lr, seed in zip(rates, seeds)]
    out = epochs.params()
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    for key in ref:
        assert_on(out[key], xp, device)
        np.testing.assert_allclose(to_numpy(out[key]), to_numpy(ref[key]), rtol=1e-11, atol=1e-14)
        np.testing.assert_array_equal(to_numpy(params[key]), before[key])  # not modified
    # its parameters are copies: another epoch leaves them as they were
    kept = to_numpy(out["W1"]).copy()
    epochs.epoch(5, 0.05)
    np.testing.assert_array_equal(to_numpy(out["W1"]), kept)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's overflow warnings on the way
def test_an_epoch_says_when_training_diverges():
    # the loop takes checked arguments (train and the estimators check them at their door)
    from portable_net.loop import Trainer

    X, y = pn.make_spiral(20, seed=1)
    params = pn.init_params([2, 8, 3], seed=0)
    epochs = Trainer(params, X, y, optimizer=pn.optim.SGD(1e300), reg=0.0, batch_size=10)
    with pytest.raises(pn.TrainingDiverged, match="try a smaller learning rate") as info:
        epochs.epoch(0, 1e300)
    assert not math.isfinite(info.value.loss)


def test_a_fit_that_ends_worse_than_it_started_warns():
    """The rule train() follows: the last epoch's loss more than 10% above the first batch's
    is a ConvergenceWarning (a confident model of a diverged run is not silent)."""
    X, y = pn.make_spiral(30, 3, seed=0)
    clf = _clf(hidden_layer_sizes=(20,), learning_rate_init=50.0, max_iter=5, batch_size=30,
               random_state=0, n_iter_no_change=100)  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y)
    assert clf.loss_curve_[-1] > 1.1 * clf.loss_curve_[0]
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert any("ended worse than it started" in m for m in messages), messages
    # a fit that converges does not warn so
    good = _clf(hidden_layer_sizes=(20,), learning_rate_init=0.1, max_iter=5, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        good.fit(X, y)
    assert not any("ended worse" in str(w.message) for w in caught)


def test_predict_before_fit_is_a_clear_error():
    with pytest.raises(pn.NotFittedError, match="not fitted yet. Call 'fit'"):
        pn.Classifier().predict(np.zeros((2, 2)))
    with pytest.raises(ValueError):  # NotFittedError is a ValueError too
        pn.Classifier().predict_proba(np.zeros((2, 2)))
    with pytest.raises(AttributeError):  # and an AttributeError, as scikit-learn's
        _ = pn.Classifier().params_


def test_predict_on_another_library_is_named():
    torch = pytest.importorskip("torch")
    X, y = pn.make_spiral(10)
    clf = _fit_quietly(_clf(max_iter=2), X, y)
    with pytest.raises(
        ValueError, match="X is a torch array on cpu, the model was fitted on numpy"
    ):
        clf.predict(torch.asarray(X))


def test_predict_with_wrong_feature_count():
    X, y = pn.make_spiral(10)
    clf = _fit_quietly(_clf(max_iter=2), X, y)
    with pytest.raises(ValueError, match=r"X has 3 features, but Classifier is expecting 2"):
        clf.predict(np.zeros((4, 3)))


@pytest.mark.parametrize(
    ("kwargs", "X", "y", "error", "match"),
    [
        ({}, np.zeros((3, 2)), np.array([0.5, 1.0, 1.0]), ValueError, "Unknown label type"),
        ({}, np.zeros((3, 2)), np.array([0, 1]), ValueError, "inconsistent numbers of samples"),
        ({}, np.zeros((3, 2)), None, ValueError, "requires y to be passed"),
        ({}, np.zeros((3, 2)), np.full((3, 2), 2), ValueError, "multiclass-multioutput"),
        ({}, np.zeros(3), np.array([0, 1, 1]), ValueError, "Expected 2D array"),
        ({}, np.full((2, 2), np.nan), np.array([0, 1]), ValueError, "contains NaN"),
        ({}, np.zeros((2, 2), complex), np.array([0, 1]), ValueError, "Complex data"),
        ({}, np.zeros((0, 2)), np.array([]), ValueError, "0 sample"),
        ({"hidden_layer_sizes": (0,)}, np.zeros((2, 2)), [0, 1], ValueError, "hidden_layer"),
        ({"hidden_layer_sizes": "a"}, np.zeros((2, 2)), [0, 1], TypeError, "hidden_layer"),
        ({"learning_rate": 1.0}, np.zeros((2, 2)), [0, 1], ValueError, "learning_rate_init"),
        ({"learning_rate_init": -1}, np.zeros((2, 2)), [0, 1], ValueError, "learning_rate_init"),
        ({"solver": "bfgs"}, np.zeros((2, 2)), [0, 1], ValueError, "lbfgs, sgd, adam"),
        ({"alpha": -1.0}, np.zeros((2, 2)), [0, 1], ValueError, "alpha"),
        ({"batch_size": 0}, np.zeros((2, 2)), [0, 1], ValueError, "batch_size"),
        ({"random_state": "x"}, np.zeros((2, 2)), [0, 1], ValueError, "random_state"),
        ({}, "abc", np.array([0, 1]), ValueError, "X must hold numbers"),
    ],
)
def test_bad_fit_arguments(kwargs, X, y, error, match):
    with pytest.raises(error, match=match):
        _clf(**kwargs).fit(X, y)


@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf, "both"])
def test_the_finite_check_of_x_is_scikit_learn_s_when_the_sum_overflows(xp, device, bad):
    """Finite values whose sum overflows are accepted (the check falls back from the sum to
    each value), a NaN or an infinity among them refused with scikit-learn's message: as
    check_array decides, on every library, without NumPy's warnings of the sum; the caller's
    X unchanged."""
    from sklearn.utils import check_array

    X_np = np.full((6, 2), 1e308)
    X_np[::2] *= -1.0
    X_np[:, 1] = [1e308, 1e308, 1e308, 0.0, 0.0, 0.0]  # its column sum overflows
    if bad == "both":  # its sum inf - inf: NaN
        X_np[4, 0], X_np[5, 0], bad = np.inf, -np.inf, np.inf
    elif bad is not None:
        X_np[4, 0] = bad
    X = xp.asarray(X_np, device=device)
    y = xp.asarray(np.array([0, 1, 0, 1, 0, 1]), device=device)
    before = to_numpy(X).copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its sum's inf - inf warns (ours does not)
            check_array(X_np)
        expected = None
    except ValueError as exc:
        expected = str(exc)
    clf = _clf(max_iter=1)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        if expected is None:
            clf.fit(X, y)
            assert bad is None
        else:
            with pytest.raises(ValueError, match="NaN" if bad != bad else "infinity"):
                clf.fit(X, y)
            assert ("NaN" in expected) == (bad != bad)
    # one iteration may not converge; the check itself says nothing
    assert [w for w in seen if not issubclass(w.category, ConvergenceWarning)] == []
    np.testing.assert_array_equal(to_numpy(X), before)


@pytest.mark.parametrize(
    ("solver", "extra", "rtol"),
    [
        # Nesterov and classical momentum: MLPClassifier's formulation exactly
        ("sgd", {"nesterovs_momentum": True, "momentum": 0.9, "learning_rate_init": 0.05}, 1e-10),
        ("sgd", {"nesterovs_momentum": False, "momentum": 0.9, "learning_rate_init": 0.05}, 1e-10),
        ("adam", {"learning_rate_init": 0.01}, 1e-10),
    ],
)
@pytest.mark.parametrize("batch_size", [90, 32])
def test_adam_and_momentum_are_mlpclassifier_s(solver, extra, rtol, batch_size):
    from sklearn.neural_network import MLPClassifier

    X, y = pn.make_spiral(30, 3, seed=6)
    settings = dict(
        solver=solver,
        hidden_layer_sizes=(10,),
        alpha=1e-3,
        batch_size=batch_size,
        max_iter=15,
        shuffle=False,
        tol=0.0,
        random_state=3,
        **extra,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = MLPClassifier(**settings).fit(X, y)
        ours = pn.Classifier(**settings).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=rtol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=100 * rtol, atol=100 * rtol)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_carries_the_optimiser_state(solver):
    X, y = pn.make_spiral(30, 3, seed=5)
    settings = dict(
        solver=solver, hidden_layer_sizes=(8,), batch_size=30, shuffle=False, random_state=2
    )
    full = _fit_quietly(pn.Classifier(**settings, max_iter=3, tol=0.0), X, y)
    inc = pn.Classifier(**settings)
    for _ in range(3):
        inc.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_allclose(inc.loss_curve_, full.loss_curve_, rtol=1e-12)
    refit = _fit_quietly(pn.Classifier(**settings, max_iter=3, tol=0.0), X, y)
    _fit_quietly(refit, X, y)  # a new fit: a new optimiser
    np.testing.assert_allclose(refit.loss_curve_, full.loss_curve_, rtol=1e-12)


def test_mlpclassifier_s_defaults_train_with_adam_as_it_does():
    from sklearn.neural_network import MLPClassifier

    X, y = pn.make_spiral(30, 3, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = pn.Classifier(random_state=0, max_iter=60).fit(X, y)
        ref = MLPClassifier(random_state=0, max_iter=60).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-10)
    assert ours.score(X, y) == ref.score(X, y)


def test_get_set_params_and_repr():
    clf = pn.Classifier(hidden_layer_sizes=(8,), max_iter=5)
    assert clf.get_params()["max_iter"] == 5
    assert clf.set_params(alpha=0.1) is clf and clf.alpha == 0.1
    assert repr(clf) == "Classifier(alpha=0.1, hidden_layer_sizes=(8,), max_iter=5)"
    with pytest.raises(ValueError, match="Invalid parameter 'foo'"):
        clf.set_params(foo=1)
    with pytest.raises(ValueError, match="renamed: use hidden_layer_sizes"):
        clf.set_params(hidden_sizes=(3,))


def test_fit_leaves_the_caller_s_arrays_alone():
    X, y = pn.make_spiral(10)
    X0, y0 = X.copy(), y.copy()
    _fit_quietly(_clf(max_iter=3, early_stopping=True, validation_fraction=0.2), X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


# --- save / load --------------------------------------------------------------------------


def test_save_and_load_keep_the_fitted_attributes(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = pn.make_spiral(20, 3, seed=2)
    frame = pd.DataFrame(X, columns=["u", "v"])
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = _fit_quietly(
        _clf(hidden_layer_sizes=(6, 5), early_stopping=True, max_iter=4, random_state=3),
        frame,
        labels,
    )
    clf.save(tmp_path / "clf.npz")
    back = pn.Classifier.load(tmp_path / "clf.npz")
    assert back.get_params() == {**clf.get_params(), "hidden_layer_sizes": (6, 5)}
    for name in ("loss_curve_", "validation_scores_", "best_validation_score_", "best_loss_"):
        assert getattr(back, name) == getattr(clf, name), name
    for name in ("n_iter_", "t_", "loss_", "n_layers_", "n_outputs_", "out_activation_"):
        assert getattr(back, name) == getattr(clf, name), name
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    np.testing.assert_array_equal(back.feature_names_in_, ["u", "v"])
    np.testing.assert_array_equal(back.predict(frame), clf.predict(frame))
    for a, b in zip(back.coefs_ + back.intercepts_, clf.coefs_ + clf.intercepts_):
        np.testing.assert_array_equal(a, b)
    # and it trains on: warm start from the loaded weights
    _fit_quietly(back.set_params(warm_start=True, max_iter=1, early_stopping=False), frame, labels)
    assert back.n_iter_ == 1 and len(back.loss_curve_) == len(clf.loss_curve_) + 1


def test_a_model_loads_back_into_its_library_and_device(xp, device, tmp_path):
    X, y = pn.make_spiral(20, 3, seed=2, xp=xp, device=device)
    clf = _fit_quietly(_clf(hidden_layer_sizes=(6,), max_iter=2, random_state=0), X, y)
    clf.save(tmp_path / "clf.npz")
    back = pn.Classifier.load(tmp_path / "clf.npz")  # no xp: the library it was saved from
    for a in [*back.coefs_, back.classes_, back.predict(X)]:
        assert_on(a, xp, device)
    np.testing.assert_array_equal(to_numpy(back.predict_proba(X)), to_numpy(clf.predict_proba(X)))
    on_numpy = pn.Classifier.load(tmp_path / "clf.npz", xp="numpy")
    assert isinstance(on_numpy.coefs_[0], np.ndarray)
    np.testing.assert_array_equal(on_numpy.predict(to_numpy(X)), to_numpy(clf.predict(X)))


def test_load_says_what_to_do_when_the_saved_library_is_missing(tmp_path):
    X, y = pn.make_spiral(10, 3)
    clf = _fit_quietly(_clf(hidden_layer_sizes=(4,), max_iter=1), X, y)
    pn.save(tmp_path / "m.npz", clf.params_, backend="cupy", device="cuda:0", classes=[0, 1, 2])
    if "cupy" not in pn.available_backends():
        with pytest.raises(ImportError, match=r"fitted on cupy arrays.*Pass xp='numpy'"):
            pn.Classifier.load(tmp_path / "m.npz")
    back = pn.Classifier.load(tmp_path / "m.npz", xp="numpy")
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    pn.save(tmp_path / "t.npz", clf.params_, backend="numpy", device="cuda:7")
    with pytest.warns(UserWarning, match="device 'cuda:7' .* not available here"):
        back = pn.Classifier.load(tmp_path / "t.npz")
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))


def test_verbose_prints_each_epoch_s_loss(capsys):
    X, y = pn.make_spiral(10, 3)
    clf = _fit_quietly(_clf(hidden_layer_sizes=(4,), max_iter=3, verbose=True), X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Iteration {i + 1}, loss = {v:.8f}" for i, v in enumerate(clf.loss_curve_)]


def test_a_standardized_command_line_model_loads_taking_raw_features(tmp_path):
    # `portable-net train --standardize` saves its inputs' statistics: Classifier.load folds
    # them into the first layer, so it predicts from raw features as the command does
    from portable_net.preprocessing import Standardizer

    rng = np.random.default_rng(5)
    X = rng.normal(loc=[3.0, -40.0], scale=[0.5, 20.0], size=(120, 2))
    y = (X[:, 0] - 3.0 > (X[:, 1] + 40.0) / 40.0).astype(np.int64)
    scaler = Standardizer().fit(X)
    Z = scaler.transform(X)
    params, _ = pn.train(pn.init_params([2, 8, 2], seed=1), Z, y, steps=200, learning_rate=0.5)
    path = tmp_path / "m.npz"
    pn.save(path, params, classes=["no", "yes"], preprocessing={"standardize": scaler.to_dict()})
    clf = pn.Classifier.load(path)
    expected = pn.predict_proba(params, Z)  # the standardised inputs, by hand
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-10, atol=1e-12)
    assert list(clf.predict(X[:3])) == [["no", "yes"][int(k)] for k in pn.predict(params, Z[:3])]
    # a bad standardisation is refused by name
    for bad in ({"mean": [0.0], "scale": [1.0]}, {"mean": [0.0, 1.0], "scale": [1.0, 0.0]}):
        with pytest.raises(ValueError, match="standardisation"):
            pn.save(path, params, classes=["no", "yes"], preprocessing={"standardize": bad})

        def change(doc, bad=bad):
            doc["model"]["preprocessing"]["standardize"] = bad

        rewrite(path, tmp_path / "bad.npz", change)
        with pytest.raises(ValueError, match="standardisation"):
            pn.Classifier.load(tmp_path / "bad.npz")
