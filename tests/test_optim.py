"""Optimisers against torch.optim and scikit-learn's MLP optimisers; schedules against
scikit-learn's own classes and hand-computed values."""

from __future__ import annotations

import functools
import math
import types
import warnings

import numpy as np
import pytest

from portable_net.optim import SGD, Adam, AdamState, LearningRateSchedule, SGDState
from tests._helpers import assert_on, to_numpy

torch = pytest.importorskip("torch")

N_STEPS = 100


def _problem(seed=0, n=40, d=3, c=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, c, n)
    W = 0.1 * rng.standard_normal((d, c))
    b = 0.1 * rng.standard_normal(c)
    return X, y, [W, b]


@functools.cache
def _torch_run(name, steps=N_STEPS, **kwargs):
    """Run torch.optim.<name>(**kwargs) on a softmax loss with an L2 term; return the initial
    parameters, the gradients fed at each step and the parameters after each step (float64
    NumPy; treat as read-only, they are cached)."""
    X, y, params = _problem(0)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    opt = getattr(torch.optim, name)(tp, **kwargs)
    grads, after = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(Xt @ tp[0] + tp[1], yt)
        loss = loss + 0.5 * 1e-2 * (tp[0] ** 2).sum()
        loss.backward()
        grads.append([p.grad.detach().numpy().copy() for p in tp])
        opt.step()
        after.append([p.detach().numpy().copy() for p in tp])
    return params, grads, after


def _run(xp, device, opt, params, grads, lrs=None):
    # the update works in place: it gets its own copies, as the training loop's
    ps = [xp.asarray(p, copy=True, device=device) for p in params]
    state = opt.init(xp, ps)
    out = []
    for k, g in enumerate(grads):
        gs = [xp.asarray(a, device=device) for a in g]
        lr = None if lrs is None else lrs[k]
        ps, state = opt.update(xp, ps, gs, state, learning_rate=lr)
        out.append([np.array(to_numpy(p), copy=True) for p in ps])  # ps change in place
    return ps, state, out


SGD_CASES = [
    pytest.param(0.0, False, id="plain"),
    pytest.param(0.9, False, id="momentum"),
    pytest.param(0.9, True, id="nesterov"),
]


@pytest.mark.parametrize(("momentum", "nesterov"), SGD_CASES)
def test_sgd_matches_torch(xp, device, momentum, nesterov):
    lr = 0.3
    params, grads, after = _torch_run("SGD", lr=lr, momentum=momentum, nesterov=nesterov)
    ps, state, out = _run(xp, device, SGD(lr, momentum, nesterov), params, grads)
    assert isinstance(state, SGDState)
    assert len(state.velocity) == (0 if momentum == 0.0 else 2)
    for v in state.velocity:
        assert_on(v, xp, device)
    for p in ps:
        assert_on(p, xp, device)
    for k in (0, 1, 9, N_STEPS - 1):
        for ours, ref in zip(out[k], after[k]):
            np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)
    # the parameters moved: the comparison is not trivial
    assert np.abs(after[-1][0] - params[0]).max() > 1e-2


def test_adam_matches_torch(xp, device):
    params, grads, after = _torch_run("Adam", lr=0.05)
    ps, state, out = _run(xp, device, Adam(0.05), params, grads)
    assert isinstance(state, AdamState)
    assert int(state.step) == N_STEPS
    for a in state.m + state.v + ps:
        assert_on(a, xp, device)
    for k in (0, 1, 9, N_STEPS - 1):
        for ours, ref in zip(out[k], after[k]):
            np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)
    assert np.abs(after[-1][0] - params[0]).max() > 1e-2


def test_adam_step_as_array_matches_torch(xp, device):
    # a 0-d integer step count: the bias corrections are computed by the library
    betas = (0.8, 0.99)
    params, grads, after = _torch_run("Adam", steps=30, lr=0.02, betas=betas, eps=1e-6)
    opt = Adam(0.02, *betas, epsilon=1e-6)
    ps = [xp.asarray(p, copy=True, device=device) for p in params]
    state = opt.init(xp, ps)
    state = AdamState(xp.asarray(0, device=device), state.m, state.v)
    for g in grads:
        ps, state = opt.update(xp, ps, [xp.asarray(a, device=device) for a in g], state)
    for ours, ref in zip(ps, after[-1]):
        assert_on(ours, xp, device)
        np.testing.assert_allclose(to_numpy(ours), ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("momentum", "nesterov"), SGD_CASES)
def test_sgd_with_changing_rate_matches_sklearn(xp, device, momentum, nesterov):
    # a schedule's rate scales only the new gradient, as in MLPClassifier's SGDOptimizer
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    params, grads, _ = _torch_run("SGD", steps=40, lr=0.1)
    lrs = [0.5 / (1 + k) ** 0.5 for k in range(len(grads))]
    sk_params = [p.copy() for p in params]
    sk = SGDOptimizer(sk_params, learning_rate_init=lrs[0], momentum=momentum, nesterov=nesterov)
    for lr, g in zip(lrs, grads):
        sk.learning_rate = lr
        sk.update_params(sk_params, g)
    # the rate as a Python float and as a 0-d array on the caller's device, alternately
    mixed = [
        lr if k % 2 else xp.asarray(lr, dtype=xp.float64, device=device) for k, lr in enumerate(lrs)
    ]
    ps, state, _ = _run(xp, device, SGD(1.0, momentum, nesterov), params, grads, lrs=mixed)
    for a in ps + state.velocity:
        assert_on(a, xp, device)
    for ours, ref in zip(ps, sk_params):
        np.testing.assert_allclose(to_numpy(ours), ref, rtol=0, atol=1e-10)


def _jax_loop(opt, params, grads, lrs=None):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    if not jax.config.jax_enable_x64:
        pytest.skip("JAX without float64")
    G = [jnp.asarray(np.stack([g[j] for g in grads])) for j in range(len(params))]
    L = None if lrs is None else jnp.asarray(lrs)

    @jax.jit
    def run(ps):
        def body(i, carry):
            ps, state = carry
            lr = None if L is None else L[i]
            return opt.update(jnp, ps, [g[i] for g in G], state, learning_rate=lr)

        return jax.lax.fori_loop(0, len(grads), body, (ps, opt.init(jnp, ps)))

    return run([jnp.asarray(p) for p in params])


@pytest.mark.parametrize(("momentum", "nesterov"), SGD_CASES)
def test_sgd_under_jax_jit(momentum, nesterov):
    params, grads, after = _torch_run("SGD", lr=0.3, momentum=momentum, nesterov=nesterov)
    ps, _ = _jax_loop(SGD(0.3, momentum, nesterov), params, grads)
    for ours, ref in zip(ps, after[-1]):
        np.testing.assert_allclose(np.asarray(ours), ref, rtol=0, atol=1e-10)
    # a traced rate (a schedule inside the loop) against scikit-learn's SGDOptimizer
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    lrs = [0.5 / (1 + k) ** 0.5 for k in range(len(grads))]
    sk_params = [p.copy() for p in params]
    sk = SGDOptimizer(sk_params, lrs[0], momentum=momentum, nesterov=nesterov)
    for lr, g in zip(lrs, grads):
        sk.learning_rate = lr
        sk.update_params(sk_params, g)
    ps, _ = _jax_loop(SGD(1.0, momentum, nesterov), params, grads, lrs=lrs)
    for ours, ref in zip(ps, sk_params):
        np.testing.assert_allclose(np.asarray(ours), ref, rtol=0, atol=1e-10)


def test_adam_under_jax_jit_with_traced_step():
    params, grads, after = _torch_run("Adam", lr=0.05)
    ps, state = _jax_loop(Adam(0.05), params, grads)
    assert int(state.step) == N_STEPS
    for ours, ref in zip(ps, after[-1]):
        np.testing.assert_allclose(np.asarray(ours), ref, rtol=0, atol=1e-10)


def test_float32_state_keeps_dtype(xp, device):
    ps = [xp.ones((2, 3), dtype=xp.float32, device=device)]
    g = [xp.full((2, 3), 0.5, dtype=xp.float32, device=device)]
    for opt in (SGD(0.1, 0.9, True), Adam(0.1)):
        p2, state = opt.update(xp, [xp.asarray(ps[0], copy=True)], g, opt.init(xp, ps))
        assert p2[0].dtype == xp.float32
        for a in state[-1]:
            assert a.dtype == xp.float32
            assert_on(a, xp, device)
    # first Adam step moves every weight by lr (m/sqrt(v) = 1 after bias correction)
    p2, _ = Adam(0.1).update(xp, [xp.asarray(ps[0], copy=True)], g, Adam(0.1).init(xp, ps))
    np.testing.assert_allclose(to_numpy(p2[0]), 0.9, rtol=1e-6)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SGD(0.0), "learning_rate must be a positive"),
        (lambda: SGD(-1.0), "learning_rate must be a positive"),
        (lambda: SGD(float("nan")), "learning_rate must be a positive"),
        (lambda: SGD(0.1, momentum=1.0), r"momentum must be in \[0, 1\)"),
        (lambda: SGD(0.1, momentum=-0.1), r"momentum must be in \[0, 1\)"),
        (lambda: SGD(0.1, nesterov=True), "nesterov=True needs a momentum > 0"),
        (lambda: Adam(beta_1=1.0), r"beta_1 must be in \[0, 1\)"),
        (lambda: Adam(beta_2=-0.5), r"beta_2 must be in \[0, 1\)"),
        (lambda: Adam(epsilon=-1.0), "epsilon must be a finite float >= 0"),
        (lambda: LearningRateSchedule(0.1, "cosine"), "kind must be one of constant"),
        (lambda: LearningRateSchedule(0.1, n_iter_no_change=0), "n_iter_no_change"),
        (lambda: LearningRateSchedule(0.0), "learning_rate_init must be a positive"),
    ],
)
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "make", [lambda: SGD("0.1"), lambda: SGD(True), lambda: Adam(epsilon=None)]
)
def test_bad_hyperparameter_types(make):
    with pytest.raises(TypeError):
        make()


def test_mismatched_lists():
    p = [np.zeros(3), np.zeros(2)]
    opt = SGD(0.1, 0.5)
    with pytest.raises(ValueError, match="one array per parameter: 2 parameters, 1 gradients"):
        opt.update(np, p, [np.zeros(3)], opt.init(np, p))
    with pytest.raises(ValueError, match="state.velocity holds 1 arrays for 2 parameters"):
        opt.update(np, p, [np.zeros(3), np.zeros(2)], opt.init(np, p[:1]))
    with pytest.raises(ValueError, match="state.m holds 0 arrays"):
        Adam().update(np, p, [np.zeros(3), np.zeros(2)], Adam().init(np, []))


def test_hyperparameters_are_frozen():
    opt = SGD(0.1)
    with pytest.raises(AttributeError):
        opt.learning_rate = 0.2


# ---- schedules ---------------------------------------------------------------------------


def test_invscaling_by_hand():
    s = LearningRateSchedule(0.1, "invscaling", power_t=0.5)
    assert s.learning_rate == 0.1  # the first epoch runs at the initial rate
    losses = [1.0, 0.9, 0.8]
    expected = [0.1 / math.sqrt(51), 0.1 / math.sqrt(101), 0.1 / math.sqrt(151)]
    for loss, lr in zip(losses, expected):
        assert s.end_epoch(loss, 50) is False
        assert s.learning_rate == pytest.approx(lr, rel=1e-15)


def test_adaptive_by_hand():
    # a flat loss: count 0 (first epoch), 1, 2, then 3 > n_iter_no_change=2 -> rate / 5
    s = LearningRateSchedule(0.1, "adaptive", tol=1e-4, n_iter_no_change=2)
    rates, stopped_at = [], None
    for epoch in range(1, 100):
        if s.end_epoch(1.0, 10):
            stopped_at = epoch
            break
        rates.append(s.learning_rate)
    assert rates[:3] == [0.1, 0.1, 0.1]
    assert rates[3] == pytest.approx(0.02)
    assert rates[6] == pytest.approx(0.004)
    # the rate is divided at epochs 4, 7, ..., 1 + 3k; at trigger 9 it is 0.1 / 5**8 <= 1e-6
    assert stopped_at == 1 + 3 * 9
    assert s.learning_rate == pytest.approx(0.1 / 5**8)


def test_constant_stops_after_plateau():
    s = LearningRateSchedule(0.1, "constant", tol=1e-4, n_iter_no_change=3)
    stops = [s.end_epoch(loss, 5) for loss in [3.0, 2.0, 2.0, 2.5, 2.0, 2.0]]
    assert stops == [False, False, False, False, False, True]
    assert s.learning_rate == 0.1


def _sklearn_rates(kind, losses, n_samples, lr0, power_t, tol, n_iter_no_change):
    """The epoch loop of MLPClassifier._fit_stochastic, driving scikit-learn's own
    SGDOptimizer and _update_no_improvement_count; returns the rate after each epoch and
    the epoch at which it stops (or None)."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    opt = SGDOptimizer([np.zeros(1)], lr0, lr_schedule=kind, power_t=power_t)
    mlp = types.SimpleNamespace(loss_curve_=[], best_loss_=np.inf, tol=tol)
    mlp._no_improvement_count = 0
    t, rates = 0, []
    for epoch, loss in enumerate(losses, start=1):
        t += n_samples
        mlp.loss_curve_.append(loss)
        MLPClassifier._update_no_improvement_count(mlp, False, None, None, None)
        opt.iteration_ends(t)
        if mlp._no_improvement_count > n_iter_no_change:
            if opt.trigger_stopping("", False):
                return rates, epoch
            mlp._no_improvement_count = 0
        rates.append(opt.learning_rate)
    return rates, None


@pytest.mark.parametrize("kind", ["constant", "invscaling", "adaptive"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_schedules_match_sklearn(kind, seed):
    rng = np.random.default_rng(seed)
    # a loss that falls, then wanders on a plateau, with an occasional improvement
    n = 300
    base = np.maximum(np.exp(-np.arange(n) / 15.0), 0.05)
    losses = list(base + 2e-4 * rng.standard_normal(n))
    args = dict(lr0=0.2, power_t=0.4, tol=1e-4, n_iter_no_change=3)
    ref_rates, ref_stop = _sklearn_rates(kind, losses, 17, **args)
    s = LearningRateSchedule(
        args["lr0"], kind, power_t=0.4, tol=1e-4, n_iter_no_change=args["n_iter_no_change"]
    )
    rates, stop = [], None
    for epoch, loss in enumerate(losses, start=1):
        if s.end_epoch(loss, 17):
            stop = epoch
            break
        rates.append(s.learning_rate)
    assert stop == ref_stop
    assert stop is not None  # the case exercises the stopping rule
    np.testing.assert_allclose(rates, ref_rates, rtol=1e-15, atol=0)
    if kind == "adaptive":
        assert len(set(rates)) > 2  # the rate was divided more than once


def test_adaptive_matches_a_real_mlp_fit():
    # feed MLPClassifier's own loss curve: the schedule stops at the same epoch, same rate
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    clf = MLPClassifier(
        hidden_layer_sizes=(5,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.05,
        batch_size=60,
        n_iter_no_change=2,
        tol=1e-3,
        max_iter=2000,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # it must stop on its own
        clf.fit(X, y)
    assert clf.n_iter_ < 2000
    s = LearningRateSchedule(0.05, "adaptive", tol=1e-3, n_iter_no_change=2)
    stops = [s.end_epoch(loss, 60) for loss in clf.loss_curve_]
    assert stops[-1] is True and not any(stops[:-1])
    assert s.learning_rate == clf._optimizer.learning_rate
    assert s.learning_rate < 0.05 / 5  # divided at least twice


def test_schedule_rejects_bad_epoch():
    s = LearningRateSchedule(0.1)
    with pytest.raises(ValueError, match="n_samples must be a positive int"):
        s.end_epoch(1.0, 0)
