import numpy as np
import pytest

import portable_net as pn
from portable_net import layers
from tests._helpers import assert_on, to_numpy

DEPTHS = [[2, 3], [2, 5, 3], [3, 6, 4, 4], [2, 4, 4, 4, 3]]


def problem(sizes, n=12, seed=0, scale=1.0):
    """Random data away from the origin and weights of scale 1: no ReLU kink within h."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    params = pn.init_params(sizes, seed=seed + 1, scale=scale)
    params = {
        k: v + 0.1 * rng.standard_normal(v.shape) if k.startswith("b") else v
        for k, v in params.items()
    }
    return params, X, y


def numeric_grads(params, X, y, reg, h=1e-6):
    """Centred differences of the loss, entry by entry, in float64 NumPy."""
    out = {}
    for key, p in params.items():
        g = np.zeros_like(p)
        for idx in np.ndindex(*p.shape):
            plus = {**params, key: p.copy()}
            minus = {**params, key: p.copy()}
            plus[key][idx] += h
            minus[key][idx] -= h
            f_plus = float(pn.loss_and_grads(plus, X, y, reg=reg)[0])
            f_minus = float(pn.loss_and_grads(minus, X, y, reg=reg)[0])
            g[idx] = (f_plus - f_minus) / (2 * h)
        out[key] = g
    return out


@pytest.mark.parametrize("sizes", DEPTHS, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("reg", [0.0, 1e-1])
def test_gradients_match_centred_differences_on_every_backend(xp, device, sizes, reg):
    params_np, X_np, y_np = problem(sizes)
    numeric = numeric_grads(params_np, X_np, y_np, reg)
    params = {k: xp.asarray(v, device=device) for k, v in params_np.items()}
    X, y = xp.asarray(X_np, device=device), xp.asarray(y_np, device=device)
    loss, grads = pn.loss_and_grads(params, X, y, reg=reg)
    assert_on(loss, xp, device)
    assert list(grads) == list(params)
    for key in params:
        assert_on(grads[key], xp, device)
        assert tuple(grads[key].shape) == tuple(params[key].shape)
        # centred differences with h = 1e-6 carry ~1e-10 of rounding: absolute floor 1e-8
        np.testing.assert_allclose(
            to_numpy(grads[key]), numeric[key], rtol=1e-6, atol=1e-8, err_msg=key
        )


@pytest.mark.parametrize("sizes", DEPTHS, ids=lambda s: "-".join(map(str, s)))
def test_gradients_match_torch_autograd(sizes):
    torch = pytest.importorskip("torch")
    params_np, X_np, y_np = problem(sizes, n=30, scale=0.3)
    reg = 1e-2
    loss, grads = pn.loss_and_grads(params_np, X_np, y_np, reg=reg)

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params_np.items()}
    h = torch.tensor(X_np)
    n_layers = len(sizes) - 1
    for i in range(1, n_layers):
        h = torch.relu(h @ tp[f"W{i}"] + tp[f"b{i}"])
    scores = h @ tp[f"W{n_layers}"] + tp[f"b{n_layers}"]
    t_loss = torch.nn.functional.cross_entropy(scores, torch.tensor(y_np))
    t_loss = t_loss + 0.5 * reg * sum((tp[f"W{i}"] ** 2).sum() for i in range(1, n_layers + 1))
    t_loss.backward()
    np.testing.assert_allclose(float(loss), t_loss.item(), rtol=1e-14)
    for key in params_np:
        np.testing.assert_allclose(grads[key], tp[key].grad.numpy(), rtol=1e-11, atol=1e-15)


def test_gradient_check_passes_on_the_real_gradients(xp, device):
    params_np, X_np, y_np = problem([2, 6, 3])
    params = {k: xp.asarray(v, device=device) for k, v in params_np.items()}
    X, y = xp.asarray(X_np, device=device), xp.asarray(y_np, device=device)
    for reg in (0.0, 1e-3):
        assert pn.gradient_check(params, X, y, reg=reg) < 1e-7


def test_gradient_check_catches_a_wrong_gradient(monkeypatch):
    params, X, y = problem([2, 6, 3])
    # a classic bug: pass the gradient through the ReLU everywhere
    monkeypatch.setitem(
        layers.ACTIVATIONS, "relu", (layers.relu_forward, lambda xp, dout, cache: dout)
    )
    assert pn.gradient_check(params, X, y) > 1e-2


def test_gradient_check_in_float32_warns():
    params, X, y = problem([2, 3])
    with pytest.warns(UserWarning, match="use float64"):
        pn.gradient_check(
            {k: v.astype(np.float32) for k, v in params.items()}, X.astype(np.float32), y
        )


def test_init_params_shapes_and_values(xp, device):
    params = pn.init_params([2, 100, 3], seed=4, xp=xp, device=device)
    assert list(params) == ["W1", "b1", "W2", "b2"]
    rng = np.random.default_rng(4)
    expected_W1 = 0.01 * rng.standard_normal((2, 100))
    expected_W2 = 0.01 * rng.standard_normal((100, 3))
    np.testing.assert_array_equal(to_numpy(params["W1"]), expected_W1)
    np.testing.assert_array_equal(to_numpy(params["W2"]), expected_W2)
    np.testing.assert_array_equal(to_numpy(params["b1"]), np.zeros(100))
    assert tuple(params["b2"].shape) == (3,)
    for v in params.values():
        assert_on(v, xp, device)
        assert v.dtype == xp.float64


@pytest.mark.parametrize(
    ("sizes", "error", "match"),
    [
        ([2], ValueError, "at least an input and an output"),
        ([2, 0, 3], ValueError, r"layer_sizes\[1\] must be >= 1"),
        ("23", TypeError, "sequence of integers"),
        ([2, 3.0], TypeError, r"layer_sizes\[1\] must be an integer"),
    ],
)
def test_init_params_bad_sizes(sizes, error, match):
    with pytest.raises(error, match=match):
        pn.init_params(sizes)


def test_predictions(xp, device):
    params_np, X_np, y_np = problem([2, 5, 4], n=40)
    params = {k: xp.asarray(v, device=device) for k, v in params_np.items()}
    X, y = xp.asarray(X_np, device=device), xp.asarray(y_np, device=device)
    proba = pn.predict_proba(params, X)
    labels = pn.predict(params, X)
    assert_on(proba, xp, device)
    assert_on(labels, xp, device)
    # reference: the forward pass written out in NumPy
    h = np.maximum(X_np @ params_np["W1"] + params_np["b1"], 0)
    scores = h @ params_np["W2"] + params_np["b2"]
    ref = np.exp(scores - scores.max(1, keepdims=True))
    ref /= ref.sum(1, keepdims=True)
    np.testing.assert_allclose(to_numpy(proba), ref, rtol=1e-12)
    np.testing.assert_array_equal(to_numpy(labels), scores.argmax(1))
    acc = pn.accuracy(params, X, y)
    assert isinstance(acc, float)
    assert acc == pytest.approx(np.mean(scores.argmax(1) == y_np))


def test_loss_and_grads_leaves_inputs_untouched(xp, device):
    params_np, X_np, y_np = problem([2, 5, 3])
    params = {k: xp.asarray(v, device=device) for k, v in params_np.items()}
    X, y = xp.asarray(X_np, device=device), xp.asarray(y_np, device=device)
    pn.loss_and_grads(params, X, y)
    for k in params:
        np.testing.assert_array_equal(to_numpy(params[k]), params_np[k])
    np.testing.assert_array_equal(to_numpy(X), X_np)


def test_predictions_in_blocks_are_the_one_pass_results(xp, device, monkeypatch):
    """Forward passes over many rows go block by block (bounded memory): the same
    probabilities, labels, accuracy and outputs as one pass, in X's library and device."""
    from portable_net import model

    X_np, y_np = pn.make_spiral(31, 3, seed=2)  # 93 rows
    p_np = pn.init_params([2, 9, 3], seed=2, scale=0.5)
    X, y = xp.asarray(X_np, device=device), xp.asarray(y_np, device=device)
    params = {k: xp.asarray(v, device=device) for k, v in p_np.items()}
    whole = (
        pn.predict_proba(params, X),
        pn.predict(params, X),
        pn.accuracy(params, X, y),
        model.outputs(params, X, output="logistic"),
    )
    monkeypatch.setattr(model, "PREDICTION_VALUES", 9 * 10)  # blocks of 10 rows, one of 3
    assert len(model._row_blocks(params, 2, 93)) == 10
    blocked = (
        pn.predict_proba(params, X),
        pn.predict(params, X),
        pn.accuracy(params, X, y),
        model.outputs(params, X, output="logistic"),
    )
    for a, b in zip(whole, blocked):
        if isinstance(a, float):
            assert a == b
            continue
        assert_on(b, xp, device)
        assert tuple(b.shape) == tuple(a.shape)
        np.testing.assert_allclose(to_numpy(b), to_numpy(a), rtol=1e-12, atol=1e-15)
