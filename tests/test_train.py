import math
import warnings

import numpy as np
import pytest

import portable_net as pn
from bench import reference
from tests._helpers import assert_on, to_numpy


def on(xp, device, arrays):
    return {k: xp.asarray(v, device=device) for k, v in arrays.items()}


# --- the case study, against its literal loop -------------------------------------------


def test_net_equals_the_case_study_literal_loop():
    X, y = pn.make_spiral(seed=0)
    params = pn.init_params([2, 100, 3], seed=0)
    new, history = pn.train(params, X, y, steps=1000, log_every=100)
    W, b, W2, b2, log = reference.train_two_layer(
        X,
        y,
        params["W1"],
        params["b1"][None, :],
        params["W2"],
        params["b2"][None, :],
        steps=1000,
        log_every=100,
    )
    assert history.steps == [s for s, _ in log]
    np.testing.assert_allclose(history.loss, [v for _, v in log], rtol=1e-10)
    for ours, theirs in ((new["W1"], W), (new["b1"], b[0]), (new["W2"], W2), (new["b2"], b2[0])):
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-12)


def test_softmax_equals_the_case_study_literal_loop():
    X, y = pn.make_spiral(seed=1)
    params = pn.init_params([2, 3], seed=1)
    new, history = pn.train(params, X, y, steps=200, log_every=10)
    W, b, log = reference.train_softmax(X, y, params["W1"], params["b1"][None, :])
    assert history.steps == list(range(0, 200, 10))
    np.testing.assert_allclose(history.loss, [v for _, v in log], rtol=1e-12)
    np.testing.assert_allclose(new["W1"], W, rtol=1e-10)
    np.testing.assert_allclose(new["b1"], b[0], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_case_study_is_reproduced(seed):
    X, y = pn.make_spiral(seed=seed)
    softmax, s_hist = pn.train(pn.init_params([2, 3], seed=seed), X, y, steps=200, log_every=10)
    net, n_hist = pn.train(pn.init_params([2, 100, 3], seed=seed), X, y)
    # near a uniform guess: weights of 0.01 give scores of about 0.01 (softmax) or 1e-4 (net)
    assert s_hist.loss[0] == pytest.approx(math.log(3), abs=1e-2)
    assert n_hist.loss[0] == pytest.approx(math.log(3), abs=1e-3)
    assert 0.40 <= pn.accuracy(softmax, X, y) <= 0.60  # a line cannot follow the arms
    assert pn.accuracy(net, X, y) >= 0.97
    assert n_hist.steps == list(range(0, 10_000, 1000))
    assert 0.15 < n_hist.loss[-1] < 0.35 and 0.7 < s_hist.loss[-1] < 0.85


# --- every backend gives NumPy's numbers --------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "lr"),
    [([2, 3], 1.0), ([2, 100, 3], 1.0), ([2, 16, 8, 3], 0.3)],
    ids=["softmax", "net", "deep"],
)
def test_every_backend_gives_numpy_s_numbers_in_float64(xp, device, sizes, lr):
    # (the deep net at the case study's rate of 1.0 turns chaotic and amplifies the last bit
    # of any summation order; at 0.3 it trains smoothly)
    X_np, y_np = pn.make_spiral(seed=2)
    p_np = pn.init_params(sizes, seed=2)
    ref, ref_hist = pn.train(p_np, X_np, y_np, steps=1000, log_every=50, learning_rate=lr)
    X, y = pn.make_spiral(seed=2, xp=xp, device=device)
    params = pn.init_params(sizes, seed=2, xp=xp, device=device)
    new, hist = pn.train(params, X, y, steps=1000, log_every=50, learning_rate=lr)
    assert hist.steps == ref_hist.steps
    np.testing.assert_allclose(hist.loss, ref_hist.loss, rtol=1e-9)
    for k in new:
        assert_on(new[k], xp, device)
        assert new[k].dtype == xp.float64
        np.testing.assert_allclose(to_numpy(new[k]), ref[k], rtol=1e-7, atol=1e-10)


def test_float32_follows_x_and_lands_near_float64(xp, device):
    X_np, y_np = pn.make_spiral(seed=3)
    ref, ref_hist = pn.train(pn.init_params([2, 100, 3], seed=3), X_np, y_np, steps=3000)
    X, y = pn.make_spiral(seed=3, xp=xp, device=device, dtype="float32")
    params = pn.init_params([2, 100, 3], seed=3, xp=xp, device=device)  # float64 in ...
    new, hist = pn.train(params, X, y, steps=3000)
    for v in new.values():  # ... float32 out: dtype follows X
        assert v.dtype == xp.float32
        assert_on(v, xp, device)
    # float32 rounding is amplified while the net's loss oscillates (around step 1000 here):
    # the start, the end and the accuracy are what must agree
    assert hist.loss[0] == pytest.approx(ref_hist.loss[0], rel=1e-6)
    assert hist.final_loss == pytest.approx(ref_hist.final_loss, rel=2e-2)
    assert abs(pn.accuracy(new, X, y) - pn.accuracy(ref, X_np, y_np)) <= 0.01


# --- momentum and mini-batches, against references written out here ------------------


def reference_sgd(params, X, y, *, steps, lr, reg, momentum=0.0, batch_size=None, seed=0):
    """Plain NumPy: gradient descent with classical momentum and seeded mini-batches."""
    W1, b1, W2, b2 = (params[k].copy() for k in ("W1", "b1", "W2", "b2"))
    v = [np.zeros_like(p) for p in (W1, b1, W2, b2)]
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    order, start = None, n
    losses = []
    for _ in range(steps):
        if batch_size is None:
            Xb, yb = X, y
        else:
            if start >= n:
                order, start = rng.permutation(n), 0
            idx = order[start : start + batch_size]
            start += batch_size
            Xb, yb = X[idx], y[idx]
        m = Xb.shape[0]
        hidden = np.maximum(0, Xb @ W1 + b1)
        scores = hidden @ W2 + b2
        scores = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        losses.append(
            -np.log(probs[range(m), yb]).mean() + 0.5 * reg * ((W1**2).sum() + (W2**2).sum())
        )
        d = probs
        d[range(m), yb] -= 1
        d /= m
        dW2, db2 = hidden.T @ d + reg * W2, d.sum(0)
        dh = d @ W2.T
        dh[hidden <= 0] = 0
        dW1, db1 = Xb.T @ dh + reg * W1, dh.sum(0)
        for i, (p, g) in enumerate(zip((W1, b1, W2, b2), (dW1, db1, dW2, db2))):
            v[i] = momentum * v[i] - lr * g
            p += v[i]
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, losses


@pytest.mark.parametrize(
    "kwargs",
    [
        {"momentum": 0.9, "learning_rate": 0.1},
        {"batch_size": 32, "learning_rate": 0.5},
        {"batch_size": 64, "momentum": 0.5, "learning_rate": 0.3, "seed": 7},
        {"batch_size": 1000, "learning_rate": 1.0},  # one batch bigger than the data
    ],
    ids=["momentum", "minibatch", "minibatch-momentum", "batch-larger-than-data"],
)
def test_momentum_and_minibatches_match_a_reference(xp, device, kwargs):
    X_np, y_np = pn.make_spiral(seed=4)
    p_np = pn.init_params([2, 20, 3], seed=4)
    ref, losses = reference_sgd(
        p_np,
        X_np,
        y_np,
        steps=300,
        lr=kwargs["learning_rate"],
        reg=1e-3,
        momentum=kwargs.get("momentum", 0.0),
        batch_size=kwargs.get("batch_size"),
        seed=kwargs.get("seed", 0),
    )
    X, y = pn.make_spiral(seed=4, xp=xp, device=device)
    new, hist = pn.train(on(xp, device, p_np), X, y, steps=300, log_every=25, **kwargs)
    np.testing.assert_allclose(hist.loss, losses[::25], rtol=1e-9)
    for k in new:
        np.testing.assert_allclose(to_numpy(new[k]), ref[k], rtol=1e-7, atol=1e-10)


def test_momentum_trains_the_net():
    X, y = pn.make_spiral()
    new, _ = pn.train(
        pn.init_params([2, 100, 3]), X, y, steps=2000, learning_rate=0.3, momentum=0.9
    )
    assert pn.accuracy(new, X, y) >= 0.97


def test_same_seed_same_batches_other_seed_other_batches():
    X, y = pn.make_spiral()
    p = pn.init_params([2, 10, 3])
    a = pn.train(p, X, y, steps=50, batch_size=16, seed=1, log_every=10)[1].loss
    b = pn.train(p, X, y, steps=50, batch_size=16, seed=1, log_every=10)[1].loss
    c = pn.train(p, X, y, steps=50, batch_size=16, seed=2, log_every=10)[1].loss
    assert a == b and a != c


# --- the history and the callback -------------------------------------------------------


def test_history_and_callback():
    X, y = pn.make_spiral(seed=5)
    p = pn.init_params([2, 10, 3], seed=5)
    seen = []
    new, hist = pn.train(
        p,
        X,
        y,
        steps=25,
        log_every=10,
        callback=lambda s, loss, params: seen.append((s, loss, sorted(params))),
    )
    assert hist.steps == [0, 10, 20]
    assert all(isinstance(v, float) for v in hist.loss)
    assert hist.loss[0] == float(pn.loss_and_grads(p, X, y)[0])  # before the first update
    assert seen == [(s, v, ["W1", "W2", "b1", "b2"]) for s, v in zip(hist.steps, hist.loss)]
    assert hist.final_loss == pytest.approx(float(pn.loss_and_grads(new, X, y)[0]), rel=1e-12)


def test_zero_steps_returns_a_copy():
    X, y = pn.make_spiral(5)
    p = pn.init_params([2, 3])
    new, hist = pn.train(p, X, y, steps=0)
    assert hist.steps == [] and hist.loss == []
    for k in p:
        assert new[k] is not p[k]
        np.testing.assert_array_equal(new[k], p[k])


# --- the caller's arrays ------------------------------------------------------------------


def test_caller_arrays_are_untouched_and_results_are_theirs(xp, device):
    X, y = pn.make_spiral(20, seed=6, xp=xp, device=device)
    params = pn.init_params([2, 8, 3], seed=6, xp=xp, device=device)
    before = {k: to_numpy(v) for k, v in params.items()}
    X_before, y_before = to_numpy(X), to_numpy(y)
    new, _ = pn.train(params, X, y, steps=20, momentum=0.5)
    for k in params:
        np.testing.assert_array_equal(to_numpy(params[k]), before[k])
        assert new[k] is not params[k]
        assert_on(new[k], xp, device)
    np.testing.assert_array_equal(to_numpy(X), X_before)
    np.testing.assert_array_equal(to_numpy(y), y_before)
    assert not np.array_equal(to_numpy(new["W1"]), before["W1"])


# --- divergence ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's overflow warnings on the way
def test_divergence_at_a_logged_step_names_it():
    X, y = pn.make_spiral()
    with pytest.raises(
        pn.TrainingDiverged, match=r"at step 10; try a smaller learning rate"
    ) as info:
        pn.train(pn.init_params([2, 100, 3]), X, y, learning_rate=1e300, steps=100, log_every=10)
    assert info.value.step == 10 and not math.isfinite(info.value.loss)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_after_the_last_logged_step_is_caught_at_the_end():
    X, y = pn.make_spiral()
    with pytest.raises(pn.TrainingDiverged, match="at step 3"):
        pn.train(pn.init_params([2, 100, 3]), X, y, learning_rate=1e300, steps=3, log_every=1000)


# --- bad input: clear errors before any work ---------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"steps": -1}, ValueError, "steps must be >= 0"),
        ({"steps": 1.5}, TypeError, "steps must be an integer"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate must be a positive finite float"),
        ({"learning_rate": -1.0}, ValueError, "learning_rate"),
        ({"learning_rate": float("inf")}, ValueError, "learning_rate"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
        ({"reg": -1e-3}, ValueError, "reg must be finite"),
        ({"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\), got 1.0"),
        ({"momentum": -0.1}, ValueError, "momentum"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"log_every": 0}, ValueError, "log_every must be >= 1"),
        ({"callback": 3}, TypeError, "callback must be callable"),
        ({"learning_rate": "1"}, TypeError, "learning_rate must be a positive finite float"),
    ],
)
def test_bad_hyperparameters(kwargs, error, match):
    X, y = pn.make_spiral(5)
    called = []
    kwargs.setdefault("callback", lambda *a: called.append(a))
    with pytest.raises(error, match=match):
        pn.train(pn.init_params([2, 3]), X, y, **kwargs)
    assert not called


def _bad_arrays():
    X, y = pn.make_spiral(5)
    p = pn.init_params([2, 4, 3])
    nan_X = X.copy()
    nan_X[2, 1] = np.nan
    inf_X = X.copy()
    inf_X[0, 0] = np.inf
    return [
        (
            "X 1-D",
            p,
            X[:, 0],
            y,
            ValueError,
            r"X must be 2-D \(n_samples, n_features\), got shape \(15,\)",
        ),
        ("X empty", p, X[:0], y[:0], ValueError, "X must not be empty"),
        ("X NaN", p, nan_X, y, ValueError, "X holds NaN or infinite"),
        ("X inf", p, inf_X, y, ValueError, "X holds NaN or infinite"),
        ("X int", p, np.ones((15, 2), dtype=int), y, TypeError, "X must hold real floating"),
        ("rows", p, X, y[:-1], ValueError, "y has 14 labels but X has 15 rows"),
        (
            "features",
            p,
            np.hstack([X, X[:, :1]]),
            y,
            ValueError,
            r"X has 3 features \(shape \(15, 3\)\) but the model expects 2 \(W1 has shape \(2, 4\)\)",
        ),
        (
            "labels high",
            p,
            X,
            np.where(y == 2, 3, y),
            ValueError,
            r"labels in \[0, 3\).*from 0 to 3",
        ),
        ("labels negative", p, X, y - 1, ValueError, r"labels in \[0, 3\)"),
        ("labels float", p, X, y.astype(float), TypeError, "integer class labels"),
        ("labels 2-D", p, X, y[:, None], ValueError, "y must be 1-D"),
        ("labels list", p, X, list(y), TypeError, "y must be an array"),
        ("params not dict", [p["W1"]], X, y, TypeError, "params must be a dict"),
        (
            "params keys",
            {"W1": p["W1"], "b1": p["b1"], "W3": p["W2"], "b3": p["b2"]},
            X,
            y,
            ValueError,
            "exactly W1, b1, ..., WL, bL",
        ),
        (
            "params chain",
            {**p, "W2": np.zeros((5, 3))},
            X,
            y,
            ValueError,
            "W2 has 5 rows but layer 1 has 4 outputs",
        ),
        ("params bias", {**p, "b1": np.zeros(3)}, X, y, ValueError, "b1 1-D"),
        (
            "params int",
            {**p, "W1": np.zeros((2, 4), dtype=int)},
            X,
            y,
            TypeError,
            "must be floating",
        ),
    ]


@pytest.mark.parametrize(
    ("name", "params", "X", "y", "error", "match"), _bad_arrays(), ids=[c[0] for c in _bad_arrays()]
)
def test_bad_arrays(name, params, X, y, error, match):
    with pytest.raises(error, match=match):
        pn.train(params, X, y, steps=1)
    with pytest.raises(error, match=match):
        pn.loss_and_grads(params, X, y)


def test_mixed_libraries_are_named_in_train():
    torch = pytest.importorskip("torch")
    X, y = pn.make_spiral(5)
    p = pn.init_params([2, 3])
    with pytest.raises(
        TypeError,
        match=r"params\['W1'\] is a numpy array but X is a torch array|X is a torch array but .* is a numpy array",
    ):
        pn.train(p, torch.asarray(X), torch.asarray(y), steps=1)
    with pytest.raises(TypeError, match="X is a numpy array but y is a torch array"):
        pn.predict_proba(p, X) if False else pn.accuracy(p, X, torch.asarray(y))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"optimizer": "sgd", "momentum": 0.9, "log_every": 7},
        {"optimizer": "adam", "batch_size": 16, "log_every": 5},
        {"optimizer": "sgd", "batch_size": 25, "log_every": 3},
    ],
)
def test_torch_steps_run_without_autograd_bookkeeping_yet_return_ordinary_tensors(kwargs):
    """The steps run in ``torch.inference_mode`` (no per-operation bookkeeping), yet what
    ``train`` returns is made of ordinary tensors: autograd can use them afterwards, they can
    be modified in place, a second run continues from the history; and the numbers are
    NumPy's."""
    torch = pytest.importorskip("torch")
    X_np, y_np = pn.make_spiral(30)
    p_np = pn.init_params([2, 20, 3], seed=1)
    ref, ref_hist = pn.train(p_np, X_np, y_np, steps=30, learning_rate=0.1, **kwargs)
    ref2, _ = pn.train(ref, X_np, y_np, steps=10, history=ref_hist, learning_rate=0.1, **kwargs)

    X, y = torch.asarray(X_np), torch.asarray(y_np)
    params = {k: torch.asarray(v) for k, v in p_np.items()}
    new, hist = pn.train(params, X, y, steps=30, learning_rate=0.1, **kwargs)
    state = [v for v in hist.optimizer_state if isinstance(v, list)]  # a NamedTuple
    for t in [*new.values(), *(t for group in state for t in group)]:
        assert isinstance(t, torch.Tensor) and not t.is_inference()
    np.testing.assert_allclose(hist.loss, ref_hist.loss, rtol=1e-12)
    for key in ref:
        np.testing.assert_allclose(new[key].numpy(), ref[key], rtol=1e-10, atol=1e-13)

    again, _ = pn.train(new, X, y, steps=10, history=hist, learning_rate=0.1, **kwargs)
    for key in ref2:
        np.testing.assert_allclose(again[key].numpy(), ref2[key], rtol=1e-10, atol=1e-13)
    W = new["W1"].requires_grad_()
    (W * W).sum().backward()  # autograd on a returned tensor
    torch.testing.assert_close(W.grad, 2 * W.detach())
    new["b1"] += 1.0  # and in place


def test_torch_tensors_that_require_grad_train_outside_autograd():
    """Tensors from an autograd workflow (``requires_grad``): the same numbers as plain
    tensors, no graph recorded (it would grow with every step), no warnings, and the caller's
    tensors untouched and still requiring grad."""
    torch = pytest.importorskip("torch")
    X_np, y_np = pn.make_spiral(30)
    p_np = pn.init_params([2, 20, 3], seed=1)
    plain, plain_hist = pn.train(p_np, X_np, y_np, steps=50, log_every=10)

    params = {k: torch.asarray(v).requires_grad_() for k, v in p_np.items()}
    X = torch.asarray(X_np).requires_grad_()
    y = torch.asarray(y_np)
    before = {k: v.detach().clone() for k, v in params.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's "converting a tensor with requires_grad"
        new, hist = pn.train(params, X, y, steps=50, log_every=10)
        loss, grads = pn.loss_and_grads(params, X, y)
        proba = pn.predict_proba(params, X)
        acc = pn.accuracy(params, X, y)
    np.testing.assert_allclose(hist.loss, plain_hist.loss, rtol=1e-12)
    for key, value in new.items():
        assert not value.requires_grad and value.grad_fn is None, key
        np.testing.assert_allclose(value.numpy(), plain[key], rtol=1e-10, atol=1e-14)
    for out in (loss, proba, *grads.values()):
        assert not out.requires_grad and out.grad_fn is None
    ref_loss, _ = pn.loss_and_grads(p_np, X_np, y_np)
    assert float(loss) == pytest.approx(float(ref_loss), rel=1e-12)
    assert acc == pn.accuracy(p_np, X_np, y_np)
    for key, value in params.items():
        assert value.requires_grad and value.grad is None
        assert torch.equal(value.detach(), before[key]), key
    assert X.requires_grad and X.grad is None


def test_mixed_devices_are_named_in_train():
    strict = pytest.importorskip("array_api_strict")
    X, y = pn.make_spiral(5, xp=strict, device="device1")
    p = pn.init_params([2, 3], xp=strict)  # on the default device
    with pytest.raises(TypeError, match="device1.*CPU_DEVICE|CPU_DEVICE.*device1"):
        pn.train(p, X, y, steps=1)


# --- the optional layers give the portable step's numbers ---------------------------------


@pytest.mark.parametrize(
    ("momentum", "n_classes", "hidden"),
    [(0.0, 3, [30]), (0.9, 3, [30]), (0.0, 12, [30]), (0.9, 4, [20, 10])],
)
def test_jax_compiled_loop_gives_the_eager_step_s_numbers(monkeypatch, momentum, n_classes, hidden):
    # one hidden layer on the CPU: JAX's own layout of the step (unrolled ReLU gradient up to
    # 8 classes, a product beyond); two hidden layers: the portable step compiled
    pytest.importorskip("jax")
    if "jax" not in pn.available_backends():
        pytest.skip("jax is not usable here")
    from portable_net.engines import jax_engine as _jax

    X, y = pn.make_spiral(100, n_classes, seed=8, xp="jax")
    params = pn.init_params([2, *hidden, n_classes], seed=8, xp="jax")
    _jax._cache.clear()
    layouts = []
    own_layout = _jax._one_hidden_cpu_run

    def spy(settings, packed):
        layouts.append(own_layout(settings, packed))
        return layouts[-1]

    monkeypatch.setattr(_jax, "_one_hidden_cpu_run", spy)
    lr = 0.2 if momentum else 1.0
    kw = {"steps": 250, "log_every": 60, "momentum": momentum, "learning_rate": lr}
    compiled, h_c = pn.train(params, X, y, engine="auto", **kw)
    on_cpu = all(d.platform == "cpu" for d in X.devices())
    # which stretch ran: JAX's own layout for one hidden layer on the CPU, else the portable one
    assert len(layouts) == 1 and (layouts[0] is not None) == (len(hidden) == 1 and on_cpu)
    eager, h_e = pn.train(params, X, y, engine="eager", **kw)
    assert h_c.steps == h_e.steps == [0, 60, 120, 180, 240]
    np.testing.assert_allclose(h_c.loss, h_e.loss, rtol=1e-12)
    assert h_c.final_loss == pytest.approx(h_e.final_loss, rel=1e-12)
    for k in params:
        np.testing.assert_allclose(
            to_numpy(compiled[k]), to_numpy(eager[k]), rtol=1e-10, atol=1e-14
        )


@pytest.mark.parametrize(
    ("rows", "blocked", "rest"), [(64, True, True), (75, True, False), (200, False, True)]
)
def test_jax_cpu_stretch_sums_large_batches_over_blocks_as_the_core_step(
    monkeypatch, rows, blocked, rest
):
    """A batch of at least two blocks: the stretch's gradient is a sum over blocks (a
    ``lax.scan``) plus the examples after them; the numbers are the core step's to 1e-12."""
    pytest.importorskip("jax")
    if "jax" not in pn.available_backends():
        pytest.skip("jax is not usable here")
    from portable_net.engines import jax_engine as _jax

    X, y = pn.make_spiral(100, 3, seed=3, xp="jax")  # 300 examples
    if not all(d.platform == "cpu" for d in X.devices()):
        pytest.skip("the blocked stretch is the CPU's")
    params = pn.init_params([2, 30, 3], seed=3, xp="jax")
    monkeypatch.setattr(_jax, "CPU_BLOCK_ELEMENTS", rows * 30)
    monkeypatch.setattr(_jax, "_cache", {})  # programs traced with other blocks
    made = []
    own_blocks = _jax._cpu_blocks

    def spy(*args):
        made.append(own_blocks(*args))
        return made[-1]

    monkeypatch.setattr(_jax, "_cpu_blocks", spy)
    kw = {"steps": 120, "log_every": 50, "momentum": 0.9, "learning_rate": 0.2, "reg": 1e-3}
    got, h_got = pn.train(params, X, y, **kw)
    full, stacked, n = made[0]
    assert n == 300 and (stacked is not None) == blocked and (full is not None) == rest
    if blocked:
        assert stacked[0].shape == (300 // rows, 3, rows)  # (blocks, D + 1, rows)
    core, h_core = pn.train(params, X, y, engine="core", **kw)
    np.testing.assert_allclose(h_got.loss, h_core.loss, rtol=1e-12)
    for k in params:
        np.testing.assert_allclose(to_numpy(got[k]), to_numpy(core[k]), rtol=1e-12, atol=1e-15)


def test_jit_must_be_a_bool_or_none():
    X, y = pn.make_spiral(5)
    with pytest.raises(TypeError, match="jit must be True, False or None"):
        pn.train(pn.init_params([2, 3]), X, y, jit="yes")


@pytest.mark.parametrize(("jit", "engine"), [(True, "auto"), (False, "eager")])
def test_jit_still_works_and_warns_that_engine_replaces_it(jit, engine):
    X, y = pn.make_spiral(20, seed=4)
    params = pn.init_params([2, 10, 3], seed=4, scale=0.5)
    expected, expected_hist = pn.train(params, X, y, steps=30, log_every=10, engine=engine)
    with pytest.warns(FutureWarning, match="engine="):
        new, hist = pn.train(params, X, y, steps=30, log_every=10, jit=jit)
    assert hist.loss == expected_hist.loss
    for key in params:
        np.testing.assert_array_equal(new[key], expected[key])


def test_engine_must_be_a_known_name_or_a_factory():
    X, y = pn.make_spiral(5)
    with pytest.raises(ValueError, match="engine must be one of 'auto', 'eager', 'core', 'fused'"):
        pn.train(pn.init_params([2, 3]), X, y, engine="fast")


def test_the_earlier_engine_name_portable_still_works_and_warns():
    """engine="portable" is engine="eager"'s name of the last release: the same numbers, and
    a FutureWarning that names the new one."""
    X, y = pn.make_spiral(20, seed=4)
    params = pn.init_params([2, 10, 3], seed=4, scale=0.5)
    expected, expected_hist = pn.train(params, X, y, steps=30, log_every=10, engine="eager")
    with pytest.warns(FutureWarning, match="engine='eager'"):
        new, hist = pn.train(params, X, y, steps=30, log_every=10, engine="portable")
    assert hist.loss == expected_hist.loss
    for key in params:
        np.testing.assert_array_equal(new[key], expected[key])


def test_the_fused_engine_is_for_cupy_arrays_only():
    X, y = pn.make_spiral(5)
    with pytest.raises(ValueError, match="engine='fused' runs CuPy arrays"):
        pn.train(pn.init_params([2, 3]), X, y, engine="fused")


@pytest.mark.parametrize("block", [1, 7, 64, 299])
def test_row_blocks_sum_to_the_full_batch_gradient(block):
    import array_api_compat.numpy as xp

    from portable_net import network
    from portable_net.loss import one_hot

    X, y = pn.make_spiral(seed=9)
    params = pn.init_params([2, 20, 7, 3], seed=9, scale=0.5)
    packed = network.pack(xp, params, 3)
    data = network.step_data(xp, X, one_hot(xp, y, 3, X.dtype))
    # one pass over the batch against the sum over blocks
    whole = network.backprop(xp, packed, data.Xt1, data.onehot)
    parts = network.backprop(xp, packed, data.Xt1, data.onehot, scale=1 / 300, block=block)
    assert float(parts[0]) == pytest.approx(float(whole[0]), rel=1e-13)
    for a, b in zip(parts[1], whole[1]):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-16)
    full = network.mean_loss(xp, packed, data.Xt1, data.onehot, 1e-3, 2)
    blocked = network.mean_loss(xp, packed, data.Xt1, data.onehot, 1e-3, 2, block=block)
    assert float(blocked) == pytest.approx(float(full), rel=1e-13)
    # against an independent reference: the sums of the blocks' losses by NumPy
    scores = network.forward_scores(xp, packed, data.Xt1)
    shifted = scores - scores.max(axis=0)
    rows = np.log(np.exp(shifted).sum(axis=0)) - (shifted * data.onehot).sum(axis=0)
    assert float(whole[0]) == pytest.approx(float(rows.sum()), rel=1e-13)


def test_numpy_mini_batches_are_one_block_unless_the_mmap_threshold_is_frozen(monkeypatch):
    """NumPy's mini-batches of at most MINIBATCH_ELEMENTS activations run as one block, full
    batches in cache-sized blocks; with glibc's mmap threshold frozen (Dask's workers), the
    blocks; either way the run's numbers are the core step's (one block, no arrangement)."""
    from portable_net import network
    from portable_net.engines import blocks

    for key in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                "MALLOC_MMAP_MAX_"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    p_np = pn.init_params([10, 256, 3], seed=1)
    packed = network.pack(np, p_np, 2)
    assert blocks.block_for(np, None, packed, 200, minibatch=True) is None
    assert blocks.block_for(np, None, packed, 200) == blocks.block_size(packed, 200) < 200
    made = []
    real = blocks.block_for
    monkeypatch.setattr(blocks, "block_for", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    from portable_net import engines

    monkeypatch.setattr(engines, "block_for", blocks.block_for)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((1000, 10)), rng.integers(0, 3, 1000)
    kw = {"steps": 30, "log_every": 10, "batch_size": 200, "optimizer": "adam",
          "learning_rate": 1e-2}  # fmt: skip
    got, h_got = pn.train(p_np, X, y, **kw)
    assert made[0] is None  # the run's batches: one block
    core, h_core = pn.train(p_np, X, y, engine="core", **kw)
    np.testing.assert_allclose(h_got.loss, h_core.loss, rtol=1e-12)
    for key in p_np:
        np.testing.assert_allclose(got[key], core[key], rtol=1e-12, atol=1e-15)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # as Dask's nanny sets it
    assert blocks.block_for(np, None, packed, 200, minibatch=True) == blocks.block_size(packed, 200)


def test_torch_on_the_cpu_runs_a_mini_batch_as_one_block(monkeypatch):
    """torch on the CPU: a batch whose widest activations hold at most COARSE_BLOCK_ELEMENTS
    values is one block, whatever the allocator settings (NumPy keeps its cache-sized
    blocks); a larger one is not, and a one-block mini-batch run gives NumPy's numbers."""
    torch = pytest.importorskip("torch")
    from portable_net import network
    from portable_net.engines import blocks

    for key in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(key, raising=False)
    p_np = pn.init_params([50, 256, 128, 5], seed=2)
    from array_api_compat import array_namespace

    tx = array_namespace(torch.zeros(1))
    packed_t = network.pack(tx, {k: torch.asarray(v) for k, v in p_np.items()}, 3)
    packed_n = network.pack(np, p_np, 3)
    cpu = torch.device("cpu")
    assert blocks.block_for(tx, cpu, packed_t, 256) is None
    assert blocks.block_for(tx, cpu, packed_t, blocks.COARSE_BLOCK_ELEMENTS // 256) is None
    assert blocks.block_for(tx, cpu, packed_t, blocks.COARSE_BLOCK_ELEMENTS // 256 + 1)
    assert blocks.block_for(np, None, packed_n, 256) == 64  # 2**14 values of 256 units
    # a mini-batch of NumPy: one block too, up to MINIBATCH_ELEMENTS values
    assert blocks.block_for(np, None, packed_n, 256, minibatch=True) is None
    assert blocks.block_for(np, None, packed_n, 257, minibatch=True) == blocks.block_size(
        packed_n, 257
    )
    rng = np.random.default_rng(0)
    X_np, y_np = rng.standard_normal((600, 50)), rng.integers(0, 5, 600)
    ref, ref_hist = pn.train(p_np, X_np, y_np, steps=20, log_every=5, batch_size=256,
                             optimizer="adam", learning_rate=1e-2)  # fmt: skip
    new, hist = pn.train({k: torch.asarray(v) for k, v in p_np.items()}, torch.asarray(X_np),
                         torch.asarray(y_np), steps=20, log_every=5, batch_size=256,
                         optimizer="adam", learning_rate=1e-2)  # fmt: skip
    np.testing.assert_allclose(hist.loss, ref_hist.loss, rtol=1e-12)
    for key, value in new.items():
        np.testing.assert_allclose(value.numpy(), ref[key], rtol=1e-9, atol=1e-13)


def test_torch_on_the_cpu_takes_coarse_blocks_where_the_heap_keeps_them(monkeypatch):
    """torch on the CPU: blocks of COARSE_BLOCK_ELEMENTS values when MALLOC_MMAP_THRESHOLD_
    and MALLOC_TRIM_THRESHOLD_ are raised, of MEDIUM_BLOCK_ELEMENTS otherwise; either way
    NumPy's numbers."""
    torch = pytest.importorskip("torch")
    from portable_net.engines import blocks

    X_np, y_np = pn.make_spiral(1000)  # 3000 points
    p_np = pn.init_params([2, 100, 3], seed=2, scale=0.5)
    ref, ref_hist = pn.train(p_np, X_np, y_np, steps=40, log_every=10)
    used = []
    real = blocks.coarse_block_size
    monkeypatch.setattr(blocks, "coarse_block_size", lambda *a: used.append(real(*a)) or used[-1])
    for raised in (False, True):
        for key in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
            if raised:
                monkeypatch.setenv(key, str(2**25))
            else:
                monkeypatch.delenv(key, raising=False)
        used.clear()
        params = {k: torch.asarray(v) for k, v in p_np.items()}
        new, hist = pn.train(
            params, torch.asarray(X_np), torch.asarray(y_np), steps=40, log_every=10
        )
        # (the run's blocks, and those its threads and final loss are decided by)
        # 2**18 // 100 = 2621 examples at most: 2 blocks of 1500; else 2**16 // 100 = 655:
        # 5 blocks of 600 (NumPy: 19 of 158)
        assert used and set(used) == {1500 if raised else 600}
        np.testing.assert_allclose(hist.loss, ref_hist.loss, rtol=1e-12)
        for key, value in new.items():
            np.testing.assert_allclose(value.numpy(), ref[key], rtol=1e-9, atol=1e-13)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # Dask's nanny: not raised
    assert not blocks.heap_keeps_blocks()
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "lots")
    assert not blocks.heap_keeps_blocks()


def test_torch_s_blocks_by_the_heap_and_the_batch(monkeypatch):
    """Without raised thresholds: blocks of MEDIUM_BLOCK_ELEMENTS values in place of NumPy's
    small ones; NumPy's large blocks for batches of over 64 of them, and NumPy's blocks where
    glibc's mmap threshold is frozen (Dask's workers: every temporary over 128 KiB mapped
    afresh)."""
    from portable_net.engines import blocks
    from portable_net.engines.threads import Shape

    packed = [Shape((100, 3)), Shape((3, 100)), Shape((3, 1))]  # the case study's net
    for key in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                "MALLOC_MMAP_MAX_"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    assert blocks.block_size(packed, 30_000) == 163
    assert blocks.coarse_block_size(packed, 30_000) == 653  # 46 equal blocks of <= 655
    assert blocks.coarse_block_size(packed, 64 * 1310 - 1) == 655  # 128 blocks
    assert blocks.coarse_block_size(packed, 300_000) == blocks.block_size(packed, 300_000)
    assert blocks.block_size(packed, 300_000) == 1305  # 230 equal blocks of <= 1310
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # Dask's nanny
    assert blocks.coarse_block_size(packed, 30_000) == blocks.block_size(packed, 30_000) == 163


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_torch_s_blocks_give_the_core_step_s_numbers(monkeypatch, optimizer):
    """torch's blocked step (medium and large blocks) against the core step (one block, no
    arrangement) on torch, float64: the same losses and weights to 1e-12."""
    pytest.importorskip("torch")
    from portable_net.engines import blocks

    for key in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                "MALLOC_MMAP_MAX_"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    X, y = pn.make_spiral(2000, 3, seed=5, xp="torch")
    params = pn.init_params([2, 100, 3], seed=5, scale=0.5, xp="torch")
    real = blocks.coarse_block_size
    used = []
    monkeypatch.setattr(blocks, "coarse_block_size", lambda *a: used.append(real(*a)) or used[-1])
    # 6000 points: 10 medium blocks of 600 examples; then NumPy's large blocks made 2**13 // 100
    # = 81 examples (the batch holds over 64 of them): 75 blocks of 80
    for large, want in ((2**17, 600), (2**13, 80)):
        monkeypatch.setattr(blocks, "LARGE_BLOCK_ELEMENTS", large)
        used.clear()
        lr = 1.0 if optimizer == "sgd" else 1e-2
        options = dict(steps=20, log_every=5, optimizer=optimizer, learning_rate=lr)
        ref, ref_hist = pn.train(params, X, y, engine="core", **options)
        new, hist = pn.train(params, X, y, **options)
        assert used and set(used) == {want}
        np.testing.assert_allclose(hist.loss, ref_hist.loss, rtol=1e-12)
        assert hist.final_loss == pytest.approx(ref_hist.final_loss, rel=1e-12)
        for key, value in new.items():
            np.testing.assert_allclose(value.numpy(), ref[key].numpy(), rtol=1e-12, atol=1e-14)


def test_final_loss_false_skips_the_full_data_pass_only(xp):
    X, y = pn.make_spiral(30, 3, seed=4, xp=xp)
    params = pn.init_params([2, 12, 3], seed=4, xp=xp)
    for batch_size in (None, 16):
        kw = {"steps": 12, "log_every": 4, "batch_size": batch_size}
        with_loss, h1 = pn.train(params, X, y, **kw)
        without, h2 = pn.train(params, X, y, final_loss=False, **kw)
        assert h1.final_loss is not None and h2.final_loss is None
        assert h1.loss == h2.loss and h1.n_steps == h2.n_steps
        for k in params:
            np.testing.assert_array_equal(to_numpy(with_loss[k]), to_numpy(without[k]))
    with pytest.raises(TypeError, match="final_loss must be True or False"):
        pn.train(params, X, y, steps=1, final_loss=1)
