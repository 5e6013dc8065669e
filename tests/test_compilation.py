"""Compiled engines compile once per step and shapes: never again for a new step count or
``log_every``, with the portable step's numbers; the persistent cache of the command line."""

from __future__ import annotations

import numpy as np
import pytest

import portable_net as pn

from ._helpers import to_numpy


def _jax():
    pytest.importorskip("jax")
    if "jax" not in pn.available_backends():
        pytest.skip("jax is not usable here")
    from portable_net.engines import jax_engine

    return jax_engine


@pytest.mark.parametrize(
    ("hidden", "momentum", "optimizer"),
    [([20], 0.0, "sgd"), ([20], 0.9, "sgd"), ([12, 8], 0.0, "sgd"), ([20], 0.0, "adam")],
)
def test_a_new_step_count_or_log_every_compiles_nothing(hidden, momentum, optimizer):
    jax_engine = _jax()
    X, y = pn.make_spiral(40, 3, seed=3, xp="jax")
    params = pn.init_params([2, *hidden, 3], seed=3, xp="jax")
    jax_engine._cache.clear()
    kw = {"momentum": momentum, "learning_rate": 0.3 if optimizer == "sgd" else 0.01}
    kw["optimizer"] = optimizer
    before = jax_engine.traces
    runs = [(50, 20), (7, 1000), (31, 3), (1, 1)]
    results = []
    for steps, log_every in runs:
        results.append(pn.train(params, X, y, steps=steps, log_every=log_every, **kw))
        assert jax_engine.traces == before + 1, (steps, log_every)  # one compilation in all
    run = next(iter(jax_engine._cache.values()))
    assert run._cache_size() == 1  # and no second one for other argument placements
    for (steps, log_every), (new, hist) in zip(runs, results):
        ref, ref_hist = pn.train(
            params, X, y, steps=steps, log_every=log_every, engine="eager", **kw
        )
        assert hist.steps == ref_hist.steps
        np.testing.assert_allclose(hist.loss, ref_hist.loss, rtol=1e-12)
        assert hist.final_loss == pytest.approx(ref_hist.final_loss, rel=1e-12)
        for k in params:
            np.testing.assert_allclose(to_numpy(new[k]), to_numpy(ref[k]), rtol=1e-10, atol=1e-14)


def test_zero_steps_compiles_no_loop_and_returns_copies():
    jax_engine = _jax()
    X, y = pn.make_spiral(10, 3, seed=1, xp="jax")
    params = pn.init_params([2, 5, 3], seed=1, xp="jax")
    jax_engine._cache.clear()
    before = jax_engine.traces
    new, hist = pn.train(params, X, y, steps=0)
    assert jax_engine.traces == before and hist.steps == []
    for k in params:
        np.testing.assert_array_equal(to_numpy(new[k]), to_numpy(params[k]))


def test_use_compilation_cache_sets_jax_s_persistent_cache(tmp_path, monkeypatch):
    jax_engine = _jax()
    import jax

    old = {
        k: getattr(jax.config, k)
        for k in (
            "jax_compilation_cache_dir",
            "jax_persistent_cache_min_compile_time_secs",
            "jax_persistent_cache_min_entry_size_bytes",
        )
    }
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert jax_engine.default_cache_dir() == str(tmp_path / "portable_net" / "jax")
    try:
        where = jax_engine.use_compilation_cache(tmp_path / "c")
        assert where == str(tmp_path / "c") and (tmp_path / "c").is_dir()
        assert jax.config.jax_compilation_cache_dir == where
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0
    finally:
        for k, v in old.items():
            jax.config.update(k, v)


@pytest.mark.parametrize(
    ("momentum", "batch_size", "log_every", "hidden", "optimizer"),
    [
        (0.0, 32, 7, [20], "sgd"),
        (0.9, 32, 1000, [20], "sgd"),
        (0.5, 120, 3, [16, 8], "sgd"),
        (0.0, 25, 10, [20], "sgd"),
        (0.0, 32, 6, [20], "adam"),
        (0.0, 32, 1, [20], "adam"),  # every step logged: an epoch is still one call
        (0.9, 50, 4, [20], "sgd"),
        (0.0, 50, 1, [20], "adam"),
    ],
)
def test_compiled_mini_batches_give_the_portable_loop_s_numbers(
    momentum, batch_size, log_every, hidden, optimizer
):
    # 120 points: batches of 32 leave a ragged 24 at the end of each epoch (compiled: padded
    # to 32, weighted), 25 a ragged 20 (padded), 50 a ragged 20 (under half a batch: a copy
    # of the step at its own width), 120 none; runs cross logged steps and epochs
    jax_engine = _jax()
    X, y = pn.make_spiral(40, 3, seed=5, xp="jax")
    params = pn.init_params([2, *hidden, 3], seed=5, xp="jax", scale=0.3)
    kw = {"momentum": momentum, "batch_size": batch_size, "seed": 2, "optimizer": optimizer}
    kw["learning_rate"] = 0.2 if optimizer == "sgd" else 0.01
    jax_engine._cache.clear()
    before = jax_engine.traces
    compiled, h_c = pn.train(params, X, y, steps=40, log_every=log_every, **kw)
    traced = jax_engine.traces - before
    # at most three programs (by the last batch's width)
    assert 1 <= traced <= 3
    eager, h_e = pn.train(params, X, y, steps=40, log_every=log_every, engine="eager", **kw)
    assert h_c.steps == h_e.steps == list(range(0, 40, log_every))
    np.testing.assert_allclose(h_c.loss, h_e.loss, rtol=1e-12)
    assert h_c.final_loss == pytest.approx(h_e.final_loss, rel=1e-12)
    for k in params:
        np.testing.assert_allclose(
            to_numpy(compiled[k]), to_numpy(eager[k]), rtol=1e-10, atol=1e-14
        )
    # the same NumPy run: every library sees the same batches
    p_np = {k: to_numpy(v) for k, v in params.items()}
    ref, h_ref = pn.train(p_np, to_numpy(X), to_numpy(y), steps=40, log_every=log_every, **kw)
    np.testing.assert_allclose(h_c.loss, h_ref.loss, rtol=1e-11)
    for k in params:
        np.testing.assert_allclose(to_numpy(compiled[k]), ref[k], rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("host_side", ["callback", "schedule", "validation"])
def test_compiled_mini_batches_with_work_at_logged_steps_match_the_portable_loop(host_side):
    # with a callback, a schedule or held-out data, the logged step runs alone (the host acts
    # between it and the next steps): the same numbers as the portable loop, and the callback
    # sees the parameters after the logged step
    _jax()
    X, y = pn.make_spiral(40, 3, seed=7, xp="jax")
    params = pn.init_params([2, 16, 3], seed=7, xp="jax", scale=0.3)
    kw = {"batch_size": 32, "seed": 4, "optimizer": "adam", "learning_rate": 0.01}
    seen: dict[str, list] = {"compiled": [], "eager": []}
    for engine in ("auto", "eager"):
        extra: dict = {}
        if host_side == "callback":

            def callback(step, loss, p, out=seen["compiled" if engine == "auto" else "eager"]):
                out.append((step, to_numpy(p["W2"]).copy()))

            extra["callback"] = callback
        elif host_side == "schedule":
            extra.update(optimizer="sgd", learning_rate=0.3, lr_schedule="invscaling")
        else:
            extra["validation_fraction"] = 0.25
        new, hist = pn.train(params, X, y, steps=30, log_every=4, engine=engine, **{**kw, **extra})
        if engine == "auto":
            compiled, h_c = new, hist
    np.testing.assert_allclose(h_c.loss, hist.loss, rtol=1e-11)
    np.testing.assert_allclose(h_c.learning_rate, hist.learning_rate, rtol=1e-12)
    np.testing.assert_allclose(h_c.val_loss, hist.val_loss, rtol=1e-11)
    for k in params:
        np.testing.assert_allclose(to_numpy(compiled[k]), to_numpy(new[k]), rtol=1e-9, atol=1e-13)
    if host_side == "callback":
        assert [s for s, _ in seen["compiled"]] == [s for s, _ in seen["eager"]]
        for (_, a), (_, b) in zip(seen["compiled"], seen["eager"]):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-13)


def _compilations(fn):
    """The names of the programs that ``fn()`` compiles."""
    import logging

    import jax

    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            if "Finished XLA compilation" in record.getMessage():
                records.append(record.getMessage().split()[4])

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger("jax")
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles(True):
            fn()
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    return records


def test_a_mini_batch_run_compiles_a_handful_of_programs():
    # every check, the preparation, the epochs and the end of a run: one program each (the
    # input checks used to compile one program per reduction, about thirty in all)
    _jax()
    X, y = pn.make_spiral(37, 3, seed=2, xp="jax")  # shapes no other test uses
    params = pn.init_params([2, 23, 3], seed=2, xp="jax")
    records = _compilations(
        lambda: pn.train(params, X, y, steps=12, batch_size=25, optimizer="adam", log_every=4)
    )
    # preparation, runs of batches (full, ending ragged, the ragged alone), the end of the
    # run; a few conversions of the host's arrays
    assert 3 <= len(records) <= 9, records


def test_checks_of_jax_arrays_on_the_cpu_compile_nothing_and_still_refuse():
    _jax()
    import jax

    X, y = pn.make_spiral(29, 3, seed=3, xp="jax")  # shapes no other test uses
    params = pn.init_params([2, 19, 3], seed=3, xp="jax")
    if X.devices().pop().platform != "cpu":
        pytest.skip("the host-side checks are for JAX on the CPU")
    # array_api_compat's first look at a JAX array compiles two tiny programs, once per
    # process: not the checks' (the test must not depend on which test ran first)
    import array_api_compat

    array_api_compat.array_namespace(X)
    records = _compilations(lambda: pn.predict(params, X))
    # the forward pass by NumPy too (on_host_arrays): only the result's transfer to JAX
    assert set(records) <= {"jit(stage)"}, records
    with pytest.raises(ValueError, match="X holds NaN"):
        pn.predict(params, X.at[3, 1].set(float("nan")))
    with pytest.raises(ValueError, match="labels from 0 to 3"):
        pn.accuracy(params, X, y.at[5].set(3))
    bad = dict(params, b2=params["b2"].at[0].set(float("inf")))
    with pytest.raises(ValueError, match="'b2'"):
        pn.predict(bad, X)
    assert jax.numpy.isfinite(X).all()  # the caller's arrays untouched


def test_the_final_loss_and_accuracy_of_jax_arrays_on_the_cpu_compile_nothing():
    # both are reductions of the whole data: on the host's memory, NumPy computes them on
    # views (no compilation per new shape); elsewhere (a GPU) one compiled program each,
    # forced here through on_host's compiled branch: NumPy's values either way
    jax_engine = _jax()
    from portable_net import loop
    from portable_net._backend import get_namespace
    from portable_net.model import _hits

    X, y = pn.make_spiral(31, 3, seed=5, xp="jax")  # shapes no other test uses
    params = pn.init_params([2, 17, 3], seed=5, xp="jax")
    if X.devices().pop().platform != "cpu":
        pytest.skip("the host-side reductions are for JAX on the CPU")
    new, _ = pn.train(params, X, y, steps=5, log_every=5)  # compiles the step, the copies
    records = _compilations(lambda: (pn.train(new, X, y, steps=0), pn.accuracy(new, X, y)))
    assert not [r for r in records if "full_data_loss" in r or "_hits" in r], records

    p_np = {k: to_numpy(v) for k, v in new.items()}
    X_np, y_np = to_numpy(X), to_numpy(y)
    _, h_np = pn.train(p_np, X_np, y_np, steps=0)
    _, h_jax = pn.train(new, X, y, steps=0)
    assert h_jax.final_loss == h_np.final_loss
    assert pn.accuracy(new, X, y) == pn.accuracy(p_np, X_np, y_np)
    # the compiled branch, with its static arguments
    jnp = get_namespace("jax")
    hits = jax_engine.program(_hits.__wrapped__, (0, 4, 5))(jnp, new, X, y, 2, "relu")
    assert int(hits) == round(pn.accuracy(p_np, X_np, y_np) * X_np.shape[0])
    prepare = loop._prepare.__wrapped__
    packed, data, _ = jax_engine.program(prepare, (0, 5, 6, 7, 8, 9))(
        jnp, new, X, y, None, 2, 3, pn.optim.SGD(1.0), False, "softmax"
    )
    loss = jax_engine.program(loop._full_data_loss.__wrapped__, (0, 4, 5, 6, 7, 8, 9, 10))(
        jnp, packed, *data, 1e-3, 2, None, False, "relu", "softmax", False
    )
    assert float(loss) == pytest.approx(h_np.final_loss, rel=1e-13)


def test_a_classifier_fit_and_score_compile_a_handful_of_programs():
    # the checks on the host, the initial weights and labels moved without conversions:
    # the preparation, the epochs, the copies, predict, the labels' gather
    _jax()
    import warnings

    X, y = pn.make_spiral(43, 3, seed=6, xp="jax")  # shapes no other test uses
    clf = pn.Classifier(hidden_layer_sizes=(21,), batch_size=50, max_iter=3, random_state=0)

    def fit_and_score():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X, y)
        return clf.score(X, y)

    records = _compilations(fit_and_score)
    assert len(records) <= 7, records
    for name in ("isfinite", "_reduce_all", "convert_element_type", "_identity_fn"):
        assert not [r for r in records if name in r], records


def test_forward_passes_of_jax_arrays_on_the_cpu_are_numpys_and_stay_where_x_is():
    # predictions of JAX arrays in the host's memory: NumPy's forward pass on views (no
    # tracing per new shape), the result a JAX array placed as a compiled program's; the
    # compiled branch (a GPU's) forced here agrees with it
    jax_engine = _jax()
    import jax

    from portable_net.model import _decided, _probabilities

    X, y = pn.make_spiral(41, 3, seed=6, xp="jax")  # shapes no other test uses
    params = pn.init_params([2, 13, 3], seed=6, xp="jax")
    if X.devices().pop().platform != "cpu":
        pytest.skip("the host-side forward pass is for JAX on the CPU")
    params, _ = pn.train(params, X, y, steps=50, log_every=50)
    p_np = {k: to_numpy(v) for k, v in params.items()}
    X_np = to_numpy(X)
    proba = pn.predict_proba(params, X)
    assert isinstance(proba, jax.Array) and not proba.committed
    assert proba.dtype == X.dtype and proba.shape == (X.shape[0], 3)
    np.testing.assert_array_equal(to_numpy(proba), pn.predict_proba(p_np, X_np))
    labels = pn.predict(params, X)
    assert isinstance(labels, jax.Array)
    np.testing.assert_array_equal(to_numpy(labels), pn.predict(p_np, X_np))
    # committed arguments: the result on their device, committed, as jit's would be
    device = X.devices().pop()
    Xc = jax.device_put(X, device)
    assert Xc.committed and pn.predict(params, Xc).committed
    # the compiled branch: the same values to the order of a few roundings
    xp = jax.numpy
    compiled = jax_engine.program(_probabilities.__wrapped__, (0, 3, 4))
    forced = compiled(xp, params, X, 2, "relu")
    np.testing.assert_allclose(to_numpy(forced), to_numpy(proba), rtol=0, atol=1e-12)
    classes = xp.asarray([10, 20, 30])
    decided = jax_engine.program(_decided.__wrapped__, (0, 4, 5, 6))
    np.testing.assert_array_equal(
        to_numpy(decided(xp, params, X, classes, 2, "relu", "softmax")),
        np.asarray([10, 20, 30])[pn.predict(p_np, X_np)],
    )


def test_a_jax_fit_and_score_on_the_cpu_leave_numpy_s_wrapper_unimported():
    # the host-side checks and forward passes take NumPy's own namespace (NumPy 2
    # implements the standard): array-api-compat's wrapper of it imports every NumPy
    # submodule, about 0.1 s of a JAX user's first fit
    _jax()
    if int(np.__version__.split(".")[0]) < 2:
        pytest.skip("NumPy before 2.0 needs array-api-compat's wrapper")
    import os
    import subprocess
    import sys

    code = (
        "import sys, warnings\n"
        "import numpy as np, jax, jax.numpy as jnp\n"
        "import portable_net as pn\n"
        "rng = np.random.default_rng(0)\n"
        "X, y = jnp.asarray(rng.normal(size=(60, 4))), jnp.asarray(rng.integers(0, 3, 60))\n"
        "warnings.simplefilter('ignore')\n"
        "clf = pn.Classifier(hidden_layer_sizes=(5,), max_iter=3, batch_size=16).fit(X, y)\n"
        "print(clf.score(X, y) >= 0, 'array_api_compat.numpy' in sys.modules)\n"
    )
    env = {**os.environ, "PORTABLE_NET_JAX_CACHE": "off"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "False"], out.stdout
