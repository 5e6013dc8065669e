"""portable_net.network: the packed layout, the forward pass and the backward pass through any
depth, against the public layout's arithmetic and torch's autograd."""

from __future__ import annotations

import numpy as np
import pytest
from array_api_compat import array_namespace

import portable_net as pn
from portable_net import network
from portable_net.loss import one_hot

from ._helpers import assert_on, to_numpy


def test_pack_and_unpack_are_inverse(xp, device):
    p_np = pn.init_params([3, 5, 4, 2], seed=1)
    params = {k: xp.asarray(v, device=device) for k, v in p_np.items()}
    packed = network.pack(xp, params, 3)
    assert [tuple(p.shape) for p in packed] == [(5, 4), (4, 5), (4, 1), (2, 4), (2, 1)]
    back = network.unpack(xp, packed, 3, copy=True)
    for k in p_np:
        assert_on(back[k], xp, device)
        np.testing.assert_array_equal(to_numpy(back[k]), p_np[k])
    np.testing.assert_array_equal(to_numpy(params["W1"]), p_np["W1"])  # the caller's kept


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_packed_arrays_lie_row_by_row(lib):
    """The packed weights are transposes of the public ones, copied row by row: the updates
    mix them with gradients that products make row by row, and a mix of layouts makes every
    elementwise pass strided (Adam's update took twice as long on a tabular fit)."""
    mod = pytest.importorskip(lib)
    p_np = pn.init_params([7, 6, 5, 3], seed=1)
    params = {k: mod.asarray(v) for k, v in p_np.items()}
    xp = array_namespace(params["W1"])
    packed = network.pack(xp, params, 3)
    for p in packed:
        a = np.asarray(p) if lib == "numpy" else p.numpy()
        assert a.flags.c_contiguous, p.shape
    np.testing.assert_array_equal(to_numpy(packed[1]), p_np["W2"].T)


def test_forward_is_the_public_layout_s_arithmetic(xp, device):
    """Scores of the packed layout = relu(relu(X W1 + b1) W2 + b2) W3 + b3, transposed."""
    p_np = pn.init_params([2, 6, 5, 3], seed=2, scale=0.5)
    X_np, _ = pn.make_spiral(4, 3, seed=2)
    h = np.maximum(X_np @ p_np["W1"] + p_np["b1"], 0)
    h = np.maximum(h @ p_np["W2"] + p_np["b2"], 0)
    expected = h @ p_np["W3"] + p_np["b3"]  # (N, K)
    packed = network.pack(xp, {k: xp.asarray(v, device=device) for k, v in p_np.items()}, 3)
    scores = network.forward_scores(
        xp, packed, network.inputs_with_ones(xp, xp.asarray(X_np, device=device))
    )
    assert_on(scores, xp, device)
    np.testing.assert_allclose(to_numpy(scores).T, expected, rtol=1e-12)


@pytest.mark.parametrize("sizes", [[2, 3], [2, 8, 3], [2, 6, 5, 3]], ids=["linear", "one", "two"])
def test_backward_is_torch_autograd(sizes):
    """The summed loss and the gradient of the mean loss (no L2: the step adds it)."""
    torch = pytest.importorskip("torch")
    X, y = pn.make_spiral(10, 3, seed=4)
    p_np = pn.init_params(sizes, seed=4, scale=0.5)
    n_layers = len(sizes) - 1
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p_np.items()}
    h = torch.tensor(X)
    for i in range(1, n_layers + 1):
        h = h @ tp[f"W{i}"] + tp[f"b{i}"]
        if i < n_layers:
            h = torch.relu(h)
    loss = torch.nn.functional.cross_entropy(h, torch.tensor(y), reduction="mean")
    loss.backward()
    packed = network.pack(np, p_np, n_layers)
    data = network.step_data(np, X, one_hot(np, y, 3, X.dtype))
    loss_sum, grads = network.backprop(np, packed, data.Xt1, data.onehot)
    assert float(loss_sum) / X.shape[0] == pytest.approx(loss.item(), rel=1e-12)
    mine = network.unpack(np, grads, 2, copy=True)
    for k in p_np:
        np.testing.assert_allclose(mine[k], tp[k].grad.numpy(), rtol=1e-10, atol=1e-15)


def test_mean_loss_and_penalty_are_the_case_study_s(xp, device):
    X_np, y_np = pn.make_spiral(20, 3, seed=5)
    p_np = pn.init_params([2, 7, 3], seed=5, scale=0.5)
    h = np.maximum(X_np @ p_np["W1"] + p_np["b1"], 0)
    scores = h @ p_np["W2"] + p_np["b2"]
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    reg = 0.01
    expected = -np.mean(np.log(p[np.arange(60), y_np])) + 0.5 * reg * (
        np.sum(p_np["W1"] ** 2) + np.sum(p_np["W2"] ** 2)
    )
    X, y = xp.asarray(X_np, device=device), xp.asarray(y_np, device=device)
    packed = network.pack(xp, {k: xp.asarray(v, device=device) for k, v in p_np.items()}, 2)
    data = network.step_data(xp, X, one_hot(xp, y, 3, X.dtype))
    loss = network.mean_loss(xp, packed, data.Xt1, data.onehot, reg, 2)
    assert_on(loss, xp, device)
    assert float(loss) == pytest.approx(expected, rel=1e-12)
