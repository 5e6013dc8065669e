"""portable_net.layers: each forward/backward pair against centred differences and torch's
autograd, on every backend (the caller's library and device kept)."""

from __future__ import annotations

import numpy as np
import pytest

from portable_net import layers

from ._helpers import assert_on, to_numpy

RNG = np.random.default_rng(0)
W_NP = RNG.normal(size=(4, 3))  # (M, D)
X_NP = RNG.normal(size=(3, 5))  # (D, B)
B_NP = RNG.normal(size=(4, 1))  # (M, 1)
DOUT_NP = RNG.normal(size=(4, 5))  # (M, B)


def _centred(f, x, h=1e-6):
    """d sum(f(x) * DOUT) / dx by centred differences (NumPy, float64)."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += h
        minus[idx] -= h
        grad[idx] = (f(plus) - f(minus)) / (2 * h)
    return grad


def test_affine_pair_on_every_backend(xp, device):
    W, x, b = (xp.asarray(a, device=device) for a in (W_NP, X_NP, B_NP))
    out, cache = layers.affine_forward(W, x, b)
    assert_on(out, xp, device)
    np.testing.assert_allclose(to_numpy(out), W_NP @ X_NP + B_NP, rtol=1e-12)
    dx, dW, db = layers.affine_backward(
        xp, xp.asarray(DOUT_NP, device=device), cache, need_dx=True, with_bias=True
    )
    for grad in (dx, dW, db):
        assert_on(grad, xp, device)

    def loss(W_=W_NP, x_=X_NP, b_=B_NP):
        return float(np.sum((W_ @ x_ + b_) * DOUT_NP))

    np.testing.assert_allclose(to_numpy(dx), _centred(lambda v: loss(x_=v), X_NP), rtol=1e-7)
    np.testing.assert_allclose(to_numpy(dW), _centred(lambda v: loss(W_=v), W_NP), rtol=1e-7)
    np.testing.assert_allclose(to_numpy(db), _centred(lambda v: loss(b_=v), B_NP), rtol=1e-7)


def test_affine_without_bias_or_dx():
    out, cache = layers.affine_forward(W_NP, X_NP, None)
    np.testing.assert_allclose(out, W_NP @ X_NP, rtol=1e-14)
    dx, dW, db = layers.affine_backward(np, DOUT_NP, cache, need_dx=False, with_bias=False)
    assert dx is None and db is None
    np.testing.assert_allclose(dW, DOUT_NP @ X_NP.T, rtol=1e-14)


def test_relu_pair_on_every_backend(xp, device):
    x_np = X_NP.copy()
    x_np[0, 0] = 0.0  # at the kink: no gradient passes (as the case study's mask)
    out, mask = layers.relu_forward(xp, xp.asarray(x_np, device=device))
    assert_on(out, xp, device)
    np.testing.assert_array_equal(to_numpy(out), np.maximum(x_np, 0.0))
    dout = RNG.normal(size=x_np.shape)
    dx = layers.relu_backward(xp, xp.asarray(dout, device=device), mask)
    assert_on(dx, xp, device)
    np.testing.assert_array_equal(to_numpy(dx), np.where(x_np > 0, dout, 0.0))
    away = np.abs(x_np) > 1e-3  # centred differences away from the kink
    numeric = _centred(lambda v: float(np.sum(np.maximum(v, 0.0) * dout)), x_np)
    np.testing.assert_allclose(to_numpy(dx)[away], numeric[away], rtol=1e-7)


def test_layers_against_torch_autograd():
    torch = pytest.importorskip("torch")
    W = torch.tensor(W_NP, requires_grad=True)
    x = torch.tensor(X_NP, requires_grad=True)
    b = torch.tensor(B_NP, requires_grad=True)
    h = torch.relu(W @ x + b)
    (h * torch.tensor(DOUT_NP)).sum().backward()
    out, affine_cache = layers.affine_forward(W_NP, X_NP.copy(), B_NP)
    r, mask = layers.relu_forward(np, out)
    np.testing.assert_allclose(r, h.detach().numpy(), rtol=1e-14)
    dh = layers.relu_backward(np, DOUT_NP.copy(), mask)
    dx, dW, db = layers.affine_backward(np, dh, affine_cache, need_dx=True, with_bias=True)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(dW, W.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(db, b.grad.numpy(), rtol=1e-12)


NUMPY_ACTIVATIONS = {
    "identity": lambda v: v,
    "logistic": lambda v: 1.0 / (1.0 + np.exp(-v)),
    "tanh": np.tanh,
    "relu": lambda v: np.maximum(v, 0.0),
}


@pytest.mark.parametrize("name", list(layers.ACTIVATIONS))
def test_each_activation_pair_on_every_backend(xp, device, name):
    """forward is the activation, backward its derivative (centred differences), on the
    caller's library and device."""
    forward, backward = layers.activation_pair(name)
    x_np = 3.0 * RNG.normal(size=(4, 6))  # (H, B), away from relu's kink
    x_np[np.abs(x_np) < 1e-3] = 0.5
    x_np[0, 0] = 40.0  # large magnitudes: the logistic without overflow
    x_np[1, 0] = -40.0
    if xp.float64 is None:
        pytest.skip("float64 needed")
    out, cache = forward(xp, xp.asarray(x_np, copy=True, device=device))
    assert_on(out, xp, device)
    np.testing.assert_allclose(to_numpy(out), NUMPY_ACTIVATIONS[name](x_np), rtol=1e-14)
    dout = RNG.normal(size=x_np.shape)
    dx = backward(xp, xp.asarray(dout, copy=True, device=device), cache)
    assert_on(dx, xp, device)
    f = NUMPY_ACTIVATIONS[name]
    numeric = _centred(lambda v: float(np.sum(f(v) * dout)), x_np)
    np.testing.assert_allclose(to_numpy(dx), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", list(layers.ACTIVATIONS))
def test_each_activation_against_torch_autograd(name):
    torch = pytest.importorskip("torch")
    ours = {"identity": lambda t: t, "logistic": torch.sigmoid, "tanh": torch.tanh,
            "relu": torch.relu}[name]  # fmt: skip
    x = torch.tensor(X_NP * 2.0, requires_grad=True)
    (ours(x) * torch.tensor(DOUT_NP[:3])).sum().backward()
    forward, backward = layers.activation_pair(name)
    out, cache = forward(np, X_NP * 2.0)
    np.testing.assert_allclose(out, ours(x).detach().numpy(), rtol=1e-14)
    dx = backward(np, DOUT_NP[:3].copy(), cache)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_an_unknown_activation_is_one_value_error_naming_the_four():
    with pytest.raises(ValueError, match="activation must be one of 'identity', 'logistic'"):
        layers.activation_pair("softplus")
