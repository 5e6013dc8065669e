"""train's optimisers, schedules, held-out data, stopping and resuming, against torch.optim
driving a torch re-implementation of the same net (autograd), and against train's own
uninterrupted runs."""

import math
import warnings

import numpy as np
import pytest

import portable_net as pn
from portable_net import optim
from tests._helpers import assert_on, to_numpy

torch = pytest.importorskip("torch")


def on(xp, device, arrays):
    return {k: xp.asarray(v, device=device) for k, v in arrays.items()}


def problem(n_per_class=30, hidden=16, seed=0):
    X, y = pn.make_spiral(n_per_class, 3, seed=seed)
    params = pn.init_params([2, hidden, 3], seed=seed + 1)
    return X, y, params


def torch_run(params, X, y, opt, reg, steps, log_every, lr_at=None):
    """The same net in torch (autograd), stepped by torch.optim; the losses at logged steps,
    the final parameters and the final loss. ``lr_at(step)``: the rate of each step."""
    n_layers = len(params) // 2
    ps = {
        k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True)
        for k, v in params.items()
    }
    Xt = torch.tensor(np.asarray(X), dtype=torch.float64)
    yt = torch.tensor(np.asarray(y), dtype=torch.int64)
    group = [ps[f"{kind}{i}"] for i in range(1, n_layers + 1) for kind in "Wb"]
    if isinstance(opt, optim.Adam):
        topt = torch.optim.Adam(
            group, lr=opt.learning_rate, betas=(opt.beta_1, opt.beta_2), eps=opt.epsilon
        )
    else:
        topt = torch.optim.SGD(
            group, lr=opt.learning_rate, momentum=opt.momentum, nesterov=opt.nesterov
        )

    def loss_fn():
        h = Xt
        for i in range(1, n_layers + 1):
            h = h @ ps[f"W{i}"] + ps[f"b{i}"]
            if i < n_layers:
                h = torch.relu(h)
        data = torch.nn.functional.cross_entropy(h, yt)
        return data + 0.5 * reg * sum((ps[f"W{i}"] ** 2).sum() for i in range(1, n_layers + 1))

    losses = []
    for i in range(steps):
        if lr_at is not None:
            for g in topt.param_groups:
                g["lr"] = lr_at(i)
        topt.zero_grad()
        loss = loss_fn()
        if i % log_every == 0:
            losses.append(loss.item())
        loss.backward()
        topt.step()
    with torch.no_grad():
        final = loss_fn().item()
    return losses, {k: v.detach().numpy() for k, v in ps.items()}, final


OPTIMIZERS = {
    "sgd": optim.SGD(0.5),
    "momentum": optim.SGD(0.2, momentum=0.9),
    "nesterov": optim.SGD(0.2, momentum=0.9, nesterov=True),
    "adam": optim.Adam(0.01),
}


def assert_same_run(history, params, ref, rtol=1e-10):
    losses, ref_params, final = ref
    np.testing.assert_allclose(history.loss, losses, rtol=rtol, atol=0)
    np.testing.assert_allclose(history.final_loss, final, rtol=rtol, atol=0)
    for k, v in ref_params.items():
        np.testing.assert_allclose(to_numpy(params[k]), v, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_optimizer_matches_torch_optim_on_every_backend(xp, device, name):
    # engine="auto": the JAX run is the compiled one
    X, y, params = problem()
    opt = OPTIMIZERS[name]
    ref = torch_run(params, X, y, opt, 1e-3, 100, 10)
    out, hist = pn.train(
        on(xp, device, params), xp.asarray(X, device=device), xp.asarray(y, device=device),
        steps=100, log_every=10, reg=1e-3, optimizer=opt,
    )  # fmt: skip
    assert_on(out["W1"], xp, device)
    assert_same_run(hist, out, ref)


def test_adam_by_name_and_the_portable_engine_on_jax():
    jnp = pn.get_namespace("jax")
    X, y, params = problem()
    ref = torch_run(params, X, y, optim.Adam(0.01), 1e-3, 100, 10)
    out, hist = pn.train(
        on(jnp, None, params), jnp.asarray(X), jnp.asarray(y),
        steps=100, log_every=10, optimizer="adam", learning_rate=0.01, engine="eager",
    )  # fmt: skip
    assert_same_run(hist, out, ref)


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam"])
def test_each_optimizer_matches_torch_optim_on_dask(name):
    da = pytest.importorskip("dask.array")
    X, y, params = problem()
    opt = OPTIMIZERS[name]
    ref = torch_run(params, X, y, opt, 1e-3, 100, 10)
    out, hist = pn.train(
        params, da.from_array(X, chunks=(40, 2)), da.from_array(y, chunks=40),
        steps=100, log_every=10, reg=1e-3, optimizer=opt, scheduler="sync",
    )  # fmt: skip
    assert_same_run(hist, out, ref)


def test_invscaling_schedule_matches_torch_with_the_same_rates():
    X, y, params = problem()
    n, lr0, every, power_t = X.shape[0], 0.5, 10, 0.25

    def lr_at(step):
        # the schedule runs at each logged step L > 0 (after L's update): t = L * n samples
        # seen, and the new rate serves the steps after L
        last = ((step - 1) // every) * every if step > 0 else 0
        return lr0 / (last * n + 1) ** power_t if last > 0 else lr0

    ref = torch_run(params, X, y, optim.SGD(lr0), 1e-3, 100, every, lr_at)
    out, hist = pn.train(
        params, X, y, steps=100, log_every=every, learning_rate=lr0,
        lr_schedule="invscaling", power_t=power_t,
    )  # fmt: skip
    np.testing.assert_allclose(hist.learning_rate, [lr_at(s) for s in hist.steps], rtol=1e-15)
    assert_same_run(hist, out, ref)


@pytest.mark.parametrize(
    "opt", [optim.SGD(0.3, momentum=0.9), optim.Adam(0.01)], ids=["momentum", "adam"]
)
@pytest.mark.parametrize("log_every", [10, 7])
def test_two_runs_of_50_steps_equal_one_of_100(xp, device, opt, log_every):
    X, y, params = problem()
    X, y, params = (
        xp.asarray(X, device=device),
        xp.asarray(y, device=device),
        on(xp, device, params),
    )
    whole, h = pn.train(
        params, X, y, steps=100, log_every=log_every, optimizer=opt, lr_schedule="adaptive"
    )
    half, h1 = pn.train(
        params, X, y, steps=50, log_every=log_every, optimizer=opt, lr_schedule="adaptive"
    )
    state = [
        to_numpy(a)
        for a in (h1.optimizer_state[0] if isinstance(opt, optim.SGD) else h1.optimizer_state.m)
    ]
    again, h2 = pn.train(
        half, X, y, steps=50, log_every=log_every, optimizer=opt, history=h1, lr_schedule="adaptive"
    )
    for k in whole:
        np.testing.assert_allclose(to_numpy(again[k]), to_numpy(whole[k]), rtol=1e-12, atol=1e-14)
    assert h2.steps == h.steps and h2.n_steps == 100
    np.testing.assert_allclose(h2.loss, h.loss, rtol=1e-12)
    assert h2.final_loss == pytest.approx(h.final_loss, rel=1e-12)
    # the first run's history and state are not modified by the second
    assert h1.n_steps == 50 and len(h1.loss) == len([s for s in h.steps if s < 50])
    after = h1.optimizer_state[0] if isinstance(opt, optim.SGD) else h1.optimizer_state.m
    for a, b in zip(state, after):
        np.testing.assert_array_equal(a, to_numpy(b))


def _val_metrics(params, X, y):
    """The held-out loss (mean cross-entropy) and accuracy, computed on the host."""
    p = to_numpy(pn.predict_proba({k: to_numpy(v) for k, v in params.items()}, X))
    return float(-np.mean(np.log(p[np.arange(len(y)), y]))), float(np.mean(p.argmax(1) == y))


def test_validation_results_are_those_of_the_step_s_parameters(xp, device):
    X, y, params = problem()
    Xv, yv = pn.make_spiral(20, 3, seed=5)
    cast = lambda a: xp.asarray(a, device=device)  # noqa: E731
    _, hist = pn.train(
        on(xp, device, params), cast(X), cast(y), steps=40, log_every=20,
        validation=(cast(Xv), cast(yv)),
    )  # fmt: skip
    assert hist.steps == [0, 20]
    for k, s in enumerate(hist.steps):
        reached, _ = pn.train(params, X, y, steps=s, log_every=20)
        loss, acc = _val_metrics(reached, Xv, yv)
        assert hist.val_loss[k] == pytest.approx(loss, rel=1e-10)
        assert hist.val_accuracy[k] == acc


def test_validation_fraction_is_a_stratified_seeded_split():
    from portable_net.preprocessing import split

    X, y, params = problem()
    _, hist = pn.train(params, X, y, steps=1, log_every=1, validation_fraction=0.2, seed=3)
    _, Xv, _, yv = split(X, y, 0.2, 3)
    loss, acc = _val_metrics(params, Xv, yv)
    assert hist.val_loss == [pytest.approx(loss, rel=1e-12)] and hist.val_accuracy == [acc]


def test_early_stopping_stops_and_restore_best_returns_the_best_parameters(xp, device):
    # a wide net on few noisy points overfits: the held-out loss turns up
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] + 0.8 * rng.normal(size=60) > 0).astype(np.int64)
    params = pn.init_params([2, 64, 2], seed=0)
    cast = lambda a: xp.asarray(a, device=device)  # noqa: E731
    out, hist = pn.train(
        on(xp, device, params), cast(X), cast(y), steps=20_000, log_every=100, reg=0.0,
        optimizer="adam", learning_rate=0.02, validation_fraction=0.3, early_stopping=True,
        n_iter_no_change=5, restore_best=True, seed=1,
    )  # fmt: skip
    assert hist.stop_reason == "early_stopping"
    best = int(np.argmin(hist.val_loss))
    vals = hist.val_loss  # the last 5 did not improve on the best before them by tol
    assert min(vals[-5:]) > min(vals[:-5]) - 1e-4 and len(vals) < 200
    assert hist.best_step == hist.steps[best]
    from portable_net.preprocessing import split

    _, Xv, _, yv = split(X, y, 0.3, 1)
    loss, _ = _val_metrics(out, Xv, yv)
    assert loss == pytest.approx(hist.val_loss[best], rel=1e-10)


def test_a_callback_stops_training_with_stop_training():
    X, y, params = problem()

    def stop_at_20(step, loss, p):
        if step == 20:
            raise pn.StopTraining

    out, hist = pn.train(params, X, y, steps=100, log_every=10, callback=stop_at_20)
    ref, _ = pn.train(params, X, y, steps=21, log_every=10)  # step 20's update was made
    assert hist.stop_reason == "callback" and hist.steps[-1] == 20 and hist.n_steps == 21
    for k in ref:
        np.testing.assert_array_equal(out[k], ref[k])


def test_ctrl_c_raises_training_interrupted_with_the_parameters_and_history():
    X, y, params = problem()
    opt = optim.SGD(0.3, momentum=0.9)

    def interrupt(step, loss, p):
        if step == 30:
            raise KeyboardInterrupt

    with pytest.raises(pn.TrainingInterrupted) as info:
        pn.train(params, X, y, steps=100, log_every=10, optimizer=opt, callback=interrupt)
    exc = info.value
    assert isinstance(exc, KeyboardInterrupt) and type(exc.__cause__) is KeyboardInterrupt
    ref, _ = pn.train(params, X, y, steps=31, log_every=10, optimizer=opt)
    for k in ref:
        np.testing.assert_array_equal(exc.params[k], ref[k])
    assert exc.history.n_steps == 31
    # continuing from it gives the uninterrupted run
    whole, _ = pn.train(params, X, y, steps=100, log_every=10, optimizer=opt)
    rest, _ = pn.train(exc.params, X, y, steps=69, log_every=10, optimizer=opt, history=exc.history)
    for k in whole:
        np.testing.assert_allclose(rest[k], whole[k], rtol=1e-12, atol=1e-14)


def test_a_run_that_ends_worse_than_it_started_warns():
    X, y, params = problem()
    with pytest.warns(pn.TrainingWarning, match="ended worse than it started"):
        pn.train(params, X, y, steps=300, log_every=100, learning_rate=100.0)
    assert issubclass(pn.TrainingWarning, RuntimeWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pn.TrainingWarning)
        pn.train(params, X, y, steps=300, log_every=100)


def test_optimizer_arguments_are_checked():
    X, y, params = problem()
    with pytest.raises(ValueError, match="learning_rate=0.1 conflicts"):
        pn.train(params, X, y, steps=1, optimizer=optim.SGD(0.5), learning_rate=0.1)
    with pytest.raises(ValueError, match="momentum=0.5 conflicts"):
        pn.train(params, X, y, steps=1, optimizer=optim.Adam(), momentum=0.5)
    with pytest.raises(ValueError, match="momentum applies to optimizer='sgd'"):
        pn.train(params, X, y, steps=1, optimizer="adam", momentum=0.5)
    with pytest.raises(ValueError, match="optimizer must be 'sgd', 'adam'"):
        pn.train(params, X, y, steps=1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        pn.train(params, X, y, steps=1, lr_schedule="cosine")
    with pytest.raises(ValueError, match="not both"):
        pn.train(params, X, y, steps=1, validation=(X, y), validation_fraction=0.1)
    with pytest.raises(ValueError, match="restore_best needs held-out data"):
        pn.train(params, X, y, steps=1, restore_best=True)
    _, h = pn.train(params, X, y, steps=2, optimizer="adam")
    with pytest.raises(ValueError, match="history holds a AdamState"):
        pn.train(params, X, y, steps=1, history=h)
    # the same optimiser given twice the same way is fine
    pn.train(params, X, y, steps=1, optimizer=optim.SGD(0.5), learning_rate=0.5)
    assert math.isfinite(h.final_loss)
