"""The core step (portable_net.step) against the case study's literal loop, and every faster
arrangement of it (the fast engine, block sums, padded batches, train's engines) against the
core step, to 1e-12 in float64."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import portable_net as pn
from bench import reference
from portable_net import network
from portable_net.engines import fast
from portable_net.loss import one_hot
from portable_net.step import StepSettings, make_step

from ._helpers import assert_on, to_numpy

OPTIMIZERS = {
    "sgd": lambda: pn.optim.SGD(0.7),
    "momentum": lambda: pn.optim.SGD(0.5, momentum=0.9),
    "nesterov": lambda: pn.optim.SGD(0.5, momentum=0.9, nesterov=True),
    "adam": lambda: pn.optim.Adam(0.05),
    # scikit-learn's placement of epsilon, as the estimators use it
    "adam-sklearn": lambda: pn.optim.Adam(0.05, epsilon_after_correction=False),
}


def _setup(xp, device, sizes=(2, 20, 3), n_per_class=30, seed=3):
    X_np, y_np = pn.make_spiral(n_per_class, sizes[-1], seed=seed)
    p_np = pn.init_params(list(sizes), seed=seed, scale=0.5)
    X = xp.asarray(X_np, device=device)
    y = xp.asarray(y_np, device=device)
    params = {k: xp.asarray(v, device=device) for k, v in p_np.items()}
    packed = network.pack(xp, params, len(sizes) - 1)
    data = network.step_data(xp, X, one_hot(xp, y, sizes[-1], X.dtype))
    return packed, data


def _arranged_step(xp, packed, settings):
    """The step as the engines arrange it for xp's library (the rate folded in, gradients
    reused in place where writable; the settings' block)."""
    return make_step(xp, packed, fast.arranged(xp, settings))


def _run(step, packed, state, data, steps, weights=None):
    losses = []
    for _ in range(steps):
        if weights is None:
            packed, state, loss = step(packed, state, data.Xt1, data.onehot, True)
        else:
            packed, state, loss = step(packed, state, data.Xt1, data.onehot, True, None, weights)
        losses.append(float(loss))
    return [to_numpy(p) for p in packed], state, losses


def _assert_close(a, b, rtol=1e-12):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * max(1.0, np.max(np.abs(y))))


def test_the_core_step_is_the_case_study_s_loop():
    """50 steps of the core step give the literal NumPy loop's losses and weights."""
    import array_api_compat.numpy as xp

    X, y = pn.make_spiral(100, 3, seed=0)
    p = pn.init_params([2, 100, 3], seed=0)
    W, b, W2, b2, log = reference.train_two_layer(
        X, y, p["W1"], p["b1"][None, :], p["W2"], p["b2"][None, :], steps=50, log_every=1
    )
    packed, data = network.pack(xp, p, 2), network.step_data(xp, X, one_hot(xp, y, 3, X.dtype))
    settings = StepSettings(n_features=2, learning_rate=1.0, reg=1e-3)
    step = make_step(xp, packed, settings)
    state = settings.optimizer.init(xp, packed)
    out, _, losses = _run(step, [xp.asarray(a, copy=True) for a in packed], state, data, 50)
    np.testing.assert_allclose(losses, [loss for _, loss in log], rtol=1e-12)
    ours = network.unpack(xp, out, 2, copy=True)
    for mine, theirs in (
        (ours["W1"], W),
        (ours["b1"], b[0]),
        (ours["W2"], W2),
        (ours["b2"], b2[0]),
    ):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("sizes", [(2, 20, 3), (2, 9, 7, 4)], ids=["hidden1", "hidden2"])
def test_the_fast_step_is_the_core_step(xp, device, opt, sizes):
    """The rate folded into the gradient and the L2 term as a decay: the core's numbers."""
    if xp.float64 is None:
        pytest.skip("float64 needed")
    packed, data = _setup(xp, device, sizes)
    optimizer = OPTIMIZERS[opt]()
    settings = StepSettings(n_features=2, learning_rate=optimizer.learning_rate, reg=1e-2,
                            optimizer=optimizer)  # fmt: skip
    results = []
    for make in (make_step, _arranged_step):
        p = [xp.asarray(a, copy=True) for a in packed]
        step = make(xp, p, settings)
        out, _, losses = _run(step, p, optimizer.init(xp, p), data, 20)
        results.append((out, losses))
    (core, core_losses), (quick, quick_losses) = results
    np.testing.assert_allclose(quick_losses, core_losses, rtol=1e-12)
    _assert_close(quick, core)


def test_block_sums_and_l2_per_example_are_the_core_step(xp, device):
    """Block sums (7 examples a block) and scikit-learn's alpha (reg / B): the core's numbers."""
    packed, data = _setup(xp, device, (2, 15, 3), n_per_class=20)
    optimizer = pn.optim.SGD(0.5, momentum=0.8)
    results = []
    for make, block in ((make_step, None), (_arranged_step, 7)):
        settings = StepSettings(n_features=2, learning_rate=0.5, reg=0.3, block=block,
                                optimizer=optimizer, reg_over_batch=True)  # fmt: skip
        p = [xp.asarray(a, copy=True) for a in packed]
        out, _, losses = _run(make(xp, p, settings), p, optimizer.init(xp, p), data, 10)
        results.append((out, losses))
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12)
    _assert_close(results[1][0], results[0][0])


def test_a_padded_batch_is_the_core_step_on_the_batch(xp, device):
    """The fast step on a batch padded with weight-0 columns: the core step on the batch."""
    packed, data = _setup(xp, device, (2, 8, 3), n_per_class=9)
    optimizer = pn.optim.Adam(0.05)
    n = data.Xt1.shape[1]
    real = 11
    settings = StepSettings(n_features=2, learning_rate=0.05, reg=1e-3, optimizer=optimizer)
    core_data = network.StepData(data.Xt1[:, n - real :], data.onehot[:, n - real :])
    p = [xp.asarray(a, copy=True) for a in packed]
    core, _, core_losses = _run(make_step(xp, p, settings), p, optimizer.init(xp, p), core_data, 3)
    w_np = (np.arange(n) >= n - real).astype(np.float64)[None, :]
    w = xp.asarray(w_np, device=device)
    padded = network.StepData(data.Xt1, data.onehot * w)
    p = [xp.asarray(a, copy=True) for a in packed]
    quick, _, losses = _run(_arranged_step(xp, p, settings), p, optimizer.init(xp, p), padded, 3, w)
    np.testing.assert_allclose(losses, core_losses, rtol=1e-12)
    _assert_close(quick, core)


@pytest.mark.parametrize("batch_size", [None, 16])
def test_train_s_engines_give_the_core_engine_s_numbers(xp, device, batch_size):
    """train(engine="auto") (fast, compiled on JAX) and "eager" against engine="core"."""
    X_np, y_np = pn.make_spiral(20, 3, seed=1)
    p_np = pn.init_params([2, 10, 3], seed=1, scale=0.5)
    X, y = xp.asarray(X_np, device=device), xp.asarray(y_np, device=device)
    params = {k: xp.asarray(v, device=device) for k, v in p_np.items()}
    kw = {"steps": 40, "log_every": 5, "batch_size": batch_size, "momentum": 0.5}
    core, h_core = pn.train(params, X, y, engine="core", **kw)
    for engine in ("eager", "auto"):
        out, h = pn.train(params, X, y, engine=engine, **kw)
        np.testing.assert_allclose(h.loss, h_core.loss, rtol=1e-12)
        for k in params:
            assert_on(out[k], xp, device)
            np.testing.assert_allclose(to_numpy(out[k]), to_numpy(core[k]), rtol=1e-10, atol=1e-13)


def test_the_first_product_is_five_frames_deep():
    """From pn.train to the first matrix product: train, the loop, the step, the network's
    forward pass, the affine layer (a learner follows five calls)."""
    X, y = pn.make_spiral(20, 3, seed=0)
    params = pn.init_params([2, 10, 3], seed=0)
    depth = []

    def profile(frame, event, arg):
        code = frame.f_code
        first = not depth and event == "call" and code.co_name == "affine_forward"
        if first and code.co_filename.endswith("layers.py"):  # its first line is the product
            f, frames = frame, []
            package = os.path.dirname(pn.__file__)  # not a folder that merely has the name
            while f is not None:
                if f.f_code.co_filename.startswith(package + os.sep):
                    frames.append(f"{f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_code.co_name}")
                f = f.f_back
            depth.append(frames)

    sys.setprofile(profile)
    try:
        pn.train(params, X, y, steps=1)
    finally:
        sys.setprofile(None)
    assert depth, "no matrix product seen"
    frames = depth[0]
    assert frames[0] == "layers.py:affine_forward" and frames[-1] == "training.py:train"
    assert len(frames) <= 5, frames


def _targets(name, y_np, k, rng):
    """(K, N) targets of the output layer ``name`` for spiral labels: one-hot, 0/1 labels
    of the classes (multilabel), or real values."""
    if name == "softmax":
        return np.eye(k)[y_np].T
    if name == "logistic":
        return (np.eye(k)[y_np].T + (rng.random((k, y_np.shape[0])) < 0.3)).clip(0, 1)
    return rng.standard_normal((k, y_np.shape[0]))


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("output", ["softmax", "logistic", "squared"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("opt", ["nesterov", "adam-sklearn"])
def test_every_activation_output_and_weighting_fast_is_core(xp, device, activation, output,
                                                            weighted, opt):  # fmt: skip
    """The fast step (block sums of 7; Nesterov, and Adam in place) on each activation, output layer and sample
    weights gives the core step's numbers; the core's weighted step is the weighted mean."""
    if xp.float64 is None:
        pytest.skip("float64 needed")
    rng = np.random.default_rng(5)
    X_np, y_np = pn.make_spiral(8, 3, seed=5)
    targets = _targets(output, y_np, 3, rng)
    if weighted:
        targets = np.concatenate([targets, rng.uniform(0.1, 2.0, (1, y_np.shape[0]))])
    p_np = pn.init_params([2, 9, 3], seed=5, scale=0.5)
    params = {k: xp.asarray(v, device=device) for k, v in p_np.items()}
    data = network.StepData(
        network.inputs_with_ones(xp, xp.asarray(X_np, device=device)),
        xp.asarray(targets, device=device),
    )
    optimizer = OPTIMIZERS[opt]()
    results = []
    for make, block in ((make_step, None), (_arranged_step, 7)):
        settings = StepSettings(n_features=2, learning_rate=optimizer.learning_rate, reg=0.2,
                                block=block, optimizer=optimizer, reg_over_batch=True, activation=activation,
                                output=output, weighted=weighted)  # fmt: skip
        p = network.pack(xp, params, 2)
        out, _, losses = _run(make(xp, p, settings), p, optimizer.init(xp, p), data, 8)
        results.append((out, losses))
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12)
    _assert_close(results[1][0], results[0][0])


def test_integer_sample_weights_are_repeated_examples():
    """Weights of 0, 1, 2 and 3: the weighted core step is the step on the data with each
    example repeated that many times (its loss, its update, alpha over the weights' sum)."""
    import array_api_compat.numpy as xp

    rng = np.random.default_rng(2)
    X_np, y_np = pn.make_spiral(6, 3, seed=2)
    counts = rng.integers(0, 4, y_np.shape[0])
    counts[0] = 1
    p_np = pn.init_params([2, 6, 3], seed=2, scale=0.5)
    opt = pn.optim.Adam(0.05)
    runs = []
    for weighted in (False, True):
        if weighted:
            X, onehot = X_np, np.concatenate([np.eye(3)[y_np].T, counts[None, :] * 1.0])
        else:
            X, onehot = np.repeat(X_np, counts, axis=0), np.eye(3)[np.repeat(y_np, counts)].T
        data = network.StepData(network.inputs_with_ones(xp, X), onehot)
        settings = StepSettings(n_features=2, learning_rate=0.05, reg=0.1, optimizer=opt,
                                reg_over_batch=True, activation="tanh", weighted=weighted)  # fmt: skip
        p = network.pack(xp, p_np, 2)
        runs.append(_run(make_step(xp, p, settings), p, opt.init(xp, p), data, 5))
    np.testing.assert_allclose(runs[1][2], runs[0][2], rtol=1e-12)
    _assert_close(runs[1][0], runs[0][0])


def test_fused_and_batch_major_engines_fall_back_to_the_fast_step():
    """The JAX CPU batch-major stretch and CuPy's fused kernels implement ReLU, softmax,
    unweighted only: any other activation, output or weighting gets the fast step (compiled
    on JAX) instead, with the same numbers."""
    import array_api_compat.numpy as np_xp

    packed = network.pack(np_xp, pn.init_params([2, 5, 3], seed=0), 2)
    relu = StepSettings(n_features=2, learning_rate=0.1, reg=0.0)
    others = [
        StepSettings(n_features=2, learning_rate=0.1, reg=0.0, activation="tanh"),
        StepSettings(n_features=2, learning_rate=0.1, reg=0.0, output="logistic"),
        StepSettings(n_features=2, learning_rate=0.1, reg=0.0, weighted=True),
    ]
    try:
        from portable_net.engines import cupy_engine
    except ImportError:
        cupy_engine = None
    if cupy_engine is not None:
        assert cupy_engine.supported(packed, None, relu)
        assert not any(cupy_engine.supported(packed, None, s) for s in others)
    jax = pytest.importorskip("jax")
    from portable_net.engines import jax_engine

    jpacked = [jax.numpy.asarray(p, dtype=jax.numpy.float32) for p in packed]
    jnp = jax.numpy
    stretch = jax_engine._one_hidden_cpu_run
    assert stretch(fast.arranged(jnp, relu), jpacked) is not None
    assert all(stretch(fast.arranged(jnp, s), jpacked) is None for s in others)


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_the_update_on_one_vector_is_the_update_per_parameter(xp, device, opt):
    """``flat``: the update's operations entry by entry on one vector of the parameters
    (their arrays views of it): the per-parameter update's numbers bit for bit; the arrays
    of the first call copied in, never modified; a state that is not the update's own
    (another run's) copied in too, and continued from as the per-parameter update does."""
    import dataclasses

    from portable_net._backend import backend_name

    if backend_name(xp) not in fast.VIEWS or xp.float64 is None:
        pytest.skip("the update on one vector is NumPy's and torch's arrangement")
    packed, data = _setup(xp, device, (2, 9, 7, 4))
    optimizer = OPTIMIZERS[opt]()
    settings = fast.arranged(xp, StepSettings(n_features=2, reg=1e-2, optimizer=optimizer,
                                              learning_rate=optimizer.learning_rate))  # fmt: skip
    # the engines give it to Adam (SGD's two operations per parameter gain nothing from it)
    assert settings.flat == isinstance(optimizer, pn.optim.Adam)
    results = []
    for flat in (False, True):
        p = [xp.asarray(a, copy=True) for a in packed]
        given = [to_numpy(a).copy() for a in p]
        step = make_step(xp, p, dataclasses.replace(settings, flat=flat))
        out, state, losses = _run(step, p, optimizer.init(xp, p), data, 15)
        if flat:
            for a, b in zip(p, given):
                np.testing.assert_array_equal(to_numpy(a), b)  # copied in, untouched
        # another run's state (copies: not the update's views) continued from
        lists = {f: [xp.asarray(xp.asarray(a), copy=True) for a in getattr(state, f)]
                 for f in state._fields if isinstance(getattr(state, f), list)}  # fmt: skip
        out = [np.array(a, copy=True) for a in out]  # (the update goes on in place)
        p2 = [xp.asarray(a, device=device, copy=True) for a in out]
        out2, _, losses2 = _run(step, p2, state._replace(**lists), data, 5)
        results.append((out, losses, out2, losses2))
    (a, la, a2, la2), (b, lb, b2, lb2) = results
    assert la == lb and la2 == lb2
    for x, y in zip([*a, *a2], [*b, *b2]):
        np.testing.assert_array_equal(x, y)
