"""torch's own kernels on the CPU (portable_net.engines.torch_kernels) against the pieces they
replace: the ReLU pair against layers.py's, the fused Adam against optim's update, the
step that uses them against the core step, and a fit on torch against the same fit on NumPy,
to 1e-12 in float64."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import portable_net as pn
from portable_net import layers, network
from portable_net.engines import fast, torch_kernels
from portable_net.loss import one_hot
from portable_net.step import StepSettings, make_step

torch = pytest.importorskip("torch")
xp = pytest.importorskip("array_api_compat.torch")

ADAMS = {
    "torch's epsilon": lambda: pn.optim.Adam(0.05),
    "scikit-learn's epsilon": lambda: pn.optim.Adam(0.05, epsilon_after_correction=False),
}


def _close(a, b, rtol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(b)))))


def test_the_relu_pair_gives_the_mask_s_numbers():
    """clamp_min_ and threshold_backward: layers.py's ReLU values (zeros and negatives
    included)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 9))
    x[0, :3] = 0.0
    dout = rng.standard_normal((7, 9))
    theirs, mask = layers.relu_forward(np, x.copy())
    ours, cache = torch_kernels.relu_forward(xp, torch.asarray(x.copy()))
    np.testing.assert_array_equal(ours.numpy(), theirs)
    d_theirs = layers.relu_backward(np, dout.copy(), mask)
    d_ours = torch_kernels.relu_backward(xp, torch.asarray(dout.copy()), cache)
    np.testing.assert_array_equal(d_ours.numpy(), d_theirs)


@pytest.mark.parametrize("opt", list(ADAMS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_fused_adam_is_optim_s_update(opt, dtype):
    """50 updates of one vector with an L2 mask: optim's Adam update's parameters and
    moments, 1e-12 in float64 (float32: its own rounding)."""
    if not hasattr(torch, "_fused_adam_"):
        pytest.skip("this torch has no fused Adam kernel")
    # the check kernels_for makes before it uses the kernel passes here
    assert torch_kernels._fused_adam_works(getattr(torch, dtype))
    adam = ADAMS[opt]()
    rng = np.random.default_rng(1)
    start = rng.standard_normal(300).astype(dtype)
    l2 = [torch.asarray((rng.random(300) > 0.1).astype(dtype) * 1e-2)]
    ours, theirs = [torch.asarray(start.copy())], [torch.asarray(start.copy())]
    s_ours, s_theirs = adam.init(xp, ours), adam.init(xp, theirs)
    fused = torch_kernels.fused_adam(adam)
    for _ in range(50):
        g = torch.asarray(rng.standard_normal(300).astype(dtype))
        theirs, s_theirs = adam.update(xp, theirs, [g.clone()], s_theirs, l2=l2, in_place=True)
        ours, s_ours = fused(xp, ours, [g.clone()], s_ours, l2=l2, in_place=True)
    rtol = 1e-12 if dtype == "float64" else 1e-4
    assert s_ours.step == s_theirs.step == 50
    for a, b in [(ours[0], theirs[0]), (s_ours.m[0], s_theirs.m[0]),
                 (s_ours.v[0], s_theirs.v[0])]:  # fmt: skip
        _close(a.numpy(), b.numpy(), rtol)
    assert not np.array_equal(ours[0].numpy(), start)


def test_the_fused_adam_leaves_other_cases_to_optim(monkeypatch):
    """Several parameters, or a step count past what the kernel reads exactly: optim's
    update itself, bit for bit, the kernel not called; one vector: the kernel, once."""
    calls = []
    kernel = torch._fused_adam_
    monkeypatch.setattr(torch, "_fused_adam_", lambda *a, **k: calls.append(1) or kernel(*a, **k))
    adam = pn.optim.Adam(0.1)
    fused = torch_kernels.fused_adam(adam)
    f64 = {"dtype": torch.float64}
    cases = [
        ([torch.ones(3, **f64), torch.ones(2, **f64)], 0, 0),  # several parameters
        ([torch.ones(3, **f64)], 2**24, 0),  # a step count the kernel would round
        ([torch.ones(3, **f64)], 7, 1),  # the kernel's case
    ]
    for params, count, kernel_calls in cases:
        calls.clear()
        grads = [torch.linspace(-1.0, 2.0, p.shape[0], **f64) for p in params]
        a, sa = fused(xp, [p.clone() for p in params], [g.clone() for g in grads],
                      adam.init(xp, params)._replace(step=count), in_place=True)  # fmt: skip
        b, sb = adam.update(xp, [p.clone() for p in params], [g.clone() for g in grads],
                            adam.init(xp, params)._replace(step=count), in_place=True)  # fmt: skip
        assert len(calls) == kernel_calls
        assert sa.step == sb.step == count + 1
        for x, y in zip(a + sa.m + sa.v, b + sb.m + sb.v):
            if kernel_calls:
                _close(x.numpy(), y.numpy())
            else:
                np.testing.assert_array_equal(x.numpy(), y.numpy())


@pytest.mark.parametrize("opt", ["adam", "adam-sklearn", "momentum"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_the_step_with_torch_s_kernels_is_the_core_step(opt, activation):
    """The arranged step with the kernels kernels_for gives (the fused Adam on one vector,
    the ReLU pair): the core step's losses and parameters over 30 steps, two hidden layers."""
    optimizer = {"adam": ADAMS["torch's epsilon"], "adam-sklearn": ADAMS["scikit-learn's epsilon"],
                 "momentum": lambda: pn.optim.SGD(0.5, momentum=0.9)}[opt]()  # fmt: skip
    X_np, y_np = pn.make_spiral(30, 4, seed=2)
    p_np = pn.init_params([2, 16, 9, 4], seed=2, scale=0.5)
    X = torch.asarray(X_np)
    params = {k: torch.asarray(v) for k, v in p_np.items()}
    packed = network.pack(xp, params, 3)
    data = network.step_data(xp, X, one_hot(xp, torch.asarray(y_np), 4, X.dtype))
    settings = StepSettings(n_features=2, learning_rate=optimizer.learning_rate, reg=1e-2,
                            optimizer=optimizer, activation=activation)  # fmt: skip
    arranged = fast.arranged(xp, settings)
    kernels = torch_kernels.kernels_for(xp, packed, arranged)
    fused = isinstance(optimizer, pn.optim.Adam) and torch_kernels._fused_adam_works(X.dtype)
    if activation != "relu" and not fused:
        assert kernels is None  # nothing to replace
    else:
        assert kernels is not None
        assert (kernels.activation is not None) == (activation == "relu")
        assert (kernels.adam is not None) == fused
    results = []
    for s, k in ((settings.textbook, None), (arranged, kernels)):
        p = [xp.asarray(a, copy=True) for a in packed]
        step = make_step(xp, p, s, k)
        state = optimizer.init(xp, p)
        if getattr(step, "lay_out", None) is not None:
            p, state = step.lay_out(p, state)
        losses = []
        with torch.inference_mode():
            for _ in range(30):
                p, state, loss = step(p, state, data.Xt1, data.onehot, True)
                losses.append(float(loss))
        results.append(([a.clone().numpy() for a in p], losses))
    (core, core_losses), (quick, quick_losses) = results
    np.testing.assert_allclose(quick_losses, core_losses, rtol=1e-12)
    for a, b in zip(quick, core):
        _close(a, b)


def test_no_kernels_off_the_cpu_or_off_torch():
    """NumPy's step and a step on another device keep the step as written."""
    import array_api_compat.numpy as np_xp

    settings = fast.arranged(np_xp, StepSettings(n_features=2, learning_rate=0.1, reg=0.0,
                                                 optimizer=pn.optim.Adam()))  # fmt: skip
    assert torch_kernels.kernels_for(np_xp, [np.ones((3, 3))], settings) is None
    meta = [torch.ones((3, 3), device="meta")]
    assert torch_kernels.kernels_for(xp, meta, fast.arranged(xp, settings)) is None


def test_without_a_working_fused_kernel_the_update_is_optim_s(monkeypatch):
    """A torch whose fused kernel is missing: kernels_for gives the ReLU pair only, and a
    run gives the core step's numbers (optim's update)."""
    torch_kernels._fused_adam_works.cache_clear()
    monkeypatch.delattr(torch, "_fused_adam_")
    try:
        assert not torch_kernels._fused_adam_works(torch.float64)
        X, y = pn.make_spiral(20, 3, seed=0)
        params = {k: torch.asarray(v) for k, v in pn.init_params([2, 8, 3], seed=0).items()}
        settings = fast.arranged(xp, StepSettings(n_features=2, learning_rate=0.1, reg=0.0,
                                                  optimizer=pn.optim.Adam()))  # fmt: skip
        packed = network.pack(xp, params, 2)
        kernels = torch_kernels.kernels_for(xp, packed, settings)
        assert kernels is not None and kernels.adam is None and kernels.activation is not None
        runs = [pn.train(params, torch.asarray(X), torch.asarray(y), steps=20, engine=engine,
                         optimizer=pn.optim.Adam(0.05), log_every=19)[0]
                for engine in ("auto", "core")]  # fmt: skip
        for k in params:
            _close(runs[0][k].numpy(), runs[1][k].numpy())
    finally:
        torch_kernels._fused_adam_works.cache_clear()


def test_without_working_relu_operations_the_relu_is_layers_s(monkeypatch):
    """A torch without threshold_backward's in-place form: kernels_for gives no ReLU pair
    (the step's own), after its check on this torch, which passes here."""
    torch_kernels._relu_works.cache_clear()
    assert torch_kernels._relu_works()

    def missing(xp, dout, cache):
        raise AttributeError("no such operation")

    monkeypatch.setattr(torch_kernels, "relu_backward", missing)
    torch_kernels._relu_works.cache_clear()
    try:
        assert not torch_kernels._relu_works()
        settings = fast.arranged(xp, StepSettings(n_features=2, learning_rate=0.1, reg=0.0))
        kernels = torch_kernels.kernels_for(xp, [torch.ones((3, 3), dtype=torch.float64)],
                                            settings)  # fmt: skip
        assert kernels is None  # SGD: nothing else to replace
    finally:
        torch_kernels._relu_works.cache_clear()


def test_a_batch_s_rows_are_taken_as_xp_take_takes_them():
    x = torch.arange(30.0, dtype=torch.float64).reshape(10, 3)
    index = torch.asarray([7, 0, 7, 3])
    before = x.clone()
    rows = torch_kernels.take_rows(xp)(x, index)
    np.testing.assert_array_equal(rows.numpy(), xp.take(x, index, axis=0).numpy())
    np.testing.assert_array_equal(x.numpy(), before.numpy())


def test_a_fit_on_torch_is_the_same_fit_on_numpy():
    """Classifier (Adam, ReLU, mini-batches) on torch tensors, with the kernels, against the
    same fit on NumPy arrays (the portable step): 1e-12 in float64."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((600, 6))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    kw = dict(hidden_layer_sizes=(20, 10), batch_size=64, max_iter=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # four epochs: not converged
        on_torch = pn.Classifier(**kw).fit(torch.asarray(X), torch.asarray(y))
        on_numpy = pn.Classifier(**kw).fit(X, y)
    np.testing.assert_allclose(on_torch.loss_curve_, on_numpy.loss_curve_, rtol=1e-12)
    for a, b in zip(on_torch.coefs_ + on_torch.intercepts_, on_numpy.coefs_ + on_numpy.intercepts_):
        _close(a.numpy(), b)
