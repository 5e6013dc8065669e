"""The estimators' output layers, activations and sample weights beyond scikit-learn's
reference (tests/test_mlp_equivalence.py): files keep them, on every backend; checks refuse
bad weights and targets by name."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import portable_net as pn
from portable_net.errors import ConvergenceWarning

from ._helpers import assert_on, to_numpy

RNG = np.random.default_rng(3)
X_NP = RNG.normal(size=(40, 3))
Y = {
    "binary": np.where(X_NP[:, 0] > 0, "yes", "no"),
    "multilabel": (X_NP[:, :2] > 0).astype(np.int64),
    "regression": np.stack([X_NP[:, 0] ** 2, X_NP[:, 1]], axis=1),
}
KW = dict(hidden_layer_sizes=(6,), max_iter=20, random_state=0, activation="tanh")


def _fit(kind, xp, device):
    X = xp.asarray(X_NP, device=device)
    y = Y[kind]
    est = pn.Regressor(**KW) if kind == "regression" else pn.Classifier(**KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, sample_weight=np.linspace(0.5, 2.0, 40)), X


@pytest.mark.parametrize("kind", list(Y))
def test_files_keep_the_output_layer_and_activation(xp, device, kind, tmp_path):
    est, X = _fit(kind, xp, device)
    again = type(est).load(est.save(tmp_path / "m.npz"), xp=xp, device=device)
    assert again.activation == "tanh"
    assert (again.out_activation_, again.n_outputs_) == (est.out_activation_, est.n_outputs_)
    assert_on(again.coefs_[0], xp, device)
    pred, pred_again = est.predict(X), again.predict(X)
    if kind == "binary":  # string labels stay NumPy
        np.testing.assert_array_equal(pred, pred_again)
        assert est.n_outputs_ == 1 and est.out_activation_ == "logistic"
        assert est.predict_proba(X).shape == (40, 2)
    else:
        np.testing.assert_allclose(to_numpy(pred_again), to_numpy(pred), rtol=1e-12)
        assert_on(pred, xp, device)
    if kind == "multilabel":
        assert tuple(pred.shape) == (40, 2) and est.out_activation_ == "logistic"
        np.testing.assert_allclose(to_numpy(est.predict_proba(X)),
                                   to_numpy(again.predict_proba(X)), rtol=1e-12)  # fmt: skip
    if kind == "regression":
        assert est.out_activation_ == "identity" and tuple(pred.shape) == (40, 2)


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (np.zeros(40), "non-zero"),
        (-np.ones(40), "non-negative"),
        (np.ones(39), r"sample_weight.shape == \(39,\), expected \(40,\)"),
        (np.ones((40, 1)), "1D array or scalar"),
        (np.full(40, np.nan), "finite"),
    ],
)
def test_bad_sample_weights_are_one_value_error(weights, match):
    for est in (pn.Classifier(**KW), pn.Regressor(**KW)):
        with pytest.raises(ValueError, match=match):
            est.fit(X_NP, Y["binary"] if isinstance(est, pn.Classifier) else X_NP[:, 0],
                    sample_weight=weights)  # fmt: skip
        assert not hasattr(est, "coefs_")  # refused before any work


def test_a_scalar_weight_divides_only_the_l2_term():
    """Every row weighted 2.5: the same weighted mean, and the L2 term over the weights' sum
    (MLPClassifier's alpha / sum(w)): the fit of alpha / 2.5 unweighted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = pn.Classifier(**KW, alpha=0.04).fit(X_NP, Y["binary"])
        b = pn.Classifier(**KW, alpha=0.1).fit(X_NP, Y["binary"], sample_weight=2.5)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)


def test_an_unknown_activation_is_refused_before_work():
    est = pn.Classifier(activation="softplus")
    with pytest.raises(ValueError, match="activation"):
        est.fit(X_NP, Y["binary"])
    assert not hasattr(est, "coefs_")


def _numpy_tanh_net(p, X, y, steps, lr, reg):
    """The case study's loop with tanh hidden units, in plain NumPy: the losses."""
    W1, b1, W2, b2 = (p[k].copy() for k in ("W1", "b1", "W2", "b2"))
    n, losses = X.shape[0], []
    for _ in range(steps):
        h = np.tanh(X @ W1 + b1)
        s = h @ W2 + b2
        e = np.exp(s - s.max(axis=1, keepdims=True))
        prob = e / e.sum(axis=1, keepdims=True)
        losses.append(
            -np.log(prob[range(n), y]).mean() + 0.5 * reg * ((W1**2).sum() + (W2**2).sum())
        )
        d = prob.copy()
        d[range(n), y] -= 1
        d /= n
        dW2, db2 = h.T @ d + reg * W2, d.sum(axis=0)
        dh = (d @ W2.T) * (1 - h**2)
        dW1, db1 = X.T @ dh + reg * W1, dh.sum(axis=0)
        W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
    return losses


def test_train_takes_the_activation_and_the_command_saves_it(tmp_path, capsys):
    X, y = pn.make_spiral(30, 3, seed=1)
    p = pn.init_params([2, 12, 3], seed=1, scale=0.5)
    out, history = pn.train(p, X, y, steps=25, log_every=1, activation="tanh", engine="core")
    np.testing.assert_allclose(history.loss, _numpy_tanh_net(p, X, y, 25, 1.0, 1e-3), rtol=1e-12)
    _, h2 = pn.train(p, X, y, steps=25, log_every=1, activation="tanh")
    np.testing.assert_allclose(h2.loss, history.loss, rtol=1e-12)
    tanh_acc = pn.accuracy(out, X, y, activation="tanh")
    assert tanh_acc == float(np.mean(np.argmax(np.tanh(X @ out["W1"] + out["b1"]) @ out["W2"]
                                               + out["b2"], axis=1) == y))  # fmt: skip
    from portable_net.cli import main

    model = tmp_path / "m.npz"
    assert main(["train", "--activation", "tanh", "--steps", "300", "--quiet",
                 "--save", str(model)]) == 0  # fmt: skip
    params, meta = pn.load(model)
    assert meta["activation"] == "tanh" and meta["training"]["activation"] == "tanh"
    capsys.readouterr()
    assert main(["evaluate", str(model), "--json"]) == 0
    import json

    reported = json.loads(capsys.readouterr().out)["accuracy"]
    Xs, ys = pn.make_spiral(100, 3, seed=0)
    assert reported == pn.accuracy(params, Xs, ys, activation="tanh")
    assert reported != pn.accuracy(params, Xs, ys)  # not the ReLU net's


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_gradient_check_passes_for_every_activation(xp, device, activation, monkeypatch):
    """The hand-written gradients of each activation's net against centred differences,
    two hidden layers, on every backend (float64 where it has it)."""
    if xp.float64 is None:
        pytest.skip("float64 needed")
    X, y = pn.make_spiral(6, 3, seed=2)
    p = pn.init_params([2, 7, 5, 3], seed=2, scale=0.7)
    X, y = xp.asarray(X, device=device), xp.asarray(y, device=device)
    p = {k: xp.asarray(v, device=device) for k, v in p.items()}
    result = pn.gradient_check(p, X, y, max_entries=None, activation=activation)
    assert result < 1e-6, result.errors
    if activation != "relu":
        assert sum(result.at_kinks.values()) == 0  # smooth: no kinks to leave out
    # a wrong activation's gradient is caught: tanh's loss, ReLU's backward
    if activation == "tanh":
        from portable_net import layers

        wrong = (layers.tanh_forward, layers.identity_backward)
        monkeypatch.setitem(layers.ACTIVATIONS, "tanh", wrong)
        assert not pn.gradient_check(p, X, y, activation="tanh").passed


@pytest.mark.parametrize("kind", ["binary", "multilabel", "regression"])
@pytest.mark.parametrize("batch_size", [16, 25])  # the last batch padded (JAX), or its own
def test_weighted_shuffled_fits_are_numpys_on_every_backend(xp, device, kind, batch_size):
    """Shuffled mini-batches with sample weights and a smaller last batch (compiled and
    padded on JAX): NumPy's loss curve on every backend."""
    if xp.float64 is None:
        pytest.skip("float64 needed")
    rng = np.random.RandomState(0)
    X_np, w = rng.randn(60, 4), rng.uniform(0.1, 3.0, 60)
    y = {"binary": rng.randint(0, 2, 60), "multilabel": (rng.rand(60, 3) < 0.4).astype(int),
         "regression": X_np[:, 0] ** 2}[kind]  # fmt: skip
    cls = pn.Regressor if kind == "regression" else pn.Classifier
    kw = dict(hidden_layer_sizes=(7,), activation="tanh", max_iter=15, batch_size=batch_size,
              random_state=1)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = cls(**kw).fit(X_np, y, sample_weight=w)
        on = lambda a: xp.asarray(a, device=device)  # noqa: E731
        est = cls(**kw).fit(on(X_np), on(y), sample_weight=on(w))
    np.testing.assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-12)


def test_files_without_activation_or_output_layer_are_relu_softmax_models(tmp_path):
    """A file written before activations and output layers existed (none recorded) loads as
    a ReLU net with softmax outputs: its predictions are the functional API's ReLU ones."""
    X, _ = pn.make_spiral(20, 3, seed=1)
    params = pn.init_params([2, 5, 3], seed=1, scale=0.5)
    path = pn.save(tmp_path / "old.npz", params, estimator="Classifier", classes=[0, 1, 2],
                   settings={"hidden_layer_sizes": [5]}, fitted={"n_iter_": 3, "t_": 60})  # fmt: skip
    clf = pn.Classifier.load(path)
    assert (clf.activation, clf.out_activation_, clf.n_outputs_) == ("relu", "softmax", 3)
    np.testing.assert_allclose(clf.predict_proba(X), pn.predict_proba(params, X), rtol=1e-12)
    with pytest.raises(ValueError, match="activation"):
        pn.save(tmp_path / "bad.npz", params, activation="softplus")
        pn.load(tmp_path / "bad.npz")
