"""Dask arrays: the spiral chunk by chunk, training with the same numbers as NumPy.

Runs on the local threaded scheduler and on a LocalCluster of 2 worker processes on loopback
(started and closed here). Skipped without dask[array] and distributed.
"""

from __future__ import annotations

import os
import signal
import warnings

import numpy as np
import pytest

import portable_net as pn
from portable_net.errors import ConvergenceWarning
from tests.conftest import selected_backends

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
if "numpy" not in selected_backends():  # Dask chunks are NumPy: run once, with numpy
    pytest.skip("the Dask tests run with the numpy backend", allow_module_level=True)

STEPS = 200
TIMEOUT = "60s"


def _relative(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on loopback, closed after the module."""
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": TIMEOUT}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: never a clash with another cluster
            worker_dashboard_address=None,
        )
        try:
            with distributed.Client(cluster, timeout=TIMEOUT, set_as_default=False) as c:
                c.wait_for_workers(2, timeout=60)
                yield c
        finally:
            cluster.close(timeout=30)


# --- the spiral -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "k", "noise", "seed", "chunks"),
    [
        (100, 3, 0.2, 0, 64),  # chunks across class boundaries
        (7, 5, 0.5, 3, 3),
        (1, 2, 0.0, 1, 1),
        (100, 3, 0.2, 0, (300,)),
        (50, 3, 0.3, 2, (10, 140)),
        (30_000, 3, 0.2, 5, 7_777),
        (1000, 4, 0.2, 1, "auto"),
    ],
)
def test_chunked_spiral_equals_the_in_memory_spiral(n, k, noise, seed, chunks):
    X, y = pn.make_spiral(n, k, noise=noise, seed=seed, chunks=chunks)
    X_ref, y_ref = pn.make_spiral(n, k, noise=noise, seed=seed)
    assert isinstance(X, da.Array) and isinstance(y, da.Array)
    assert X.shape == X_ref.shape and y.shape == y_ref.shape
    assert X.chunks[0] == y.chunks[0] and X.numblocks[1] == 1
    np.testing.assert_array_equal(X.compute(scheduler="sync"), X_ref)
    np.testing.assert_array_equal(y.compute(scheduler="sync"), y_ref)


def test_chunked_spiral_is_lazy_and_float32_rounds_the_same():
    X, _ = pn.make_spiral(100_000, 3, chunks=10_000)
    assert len(X.dask) < 100  # a graph of chunk tasks, nothing computed
    X32, _ = pn.make_spiral(100, 3, seed=4, chunks=70, dtype="float32")
    np.testing.assert_array_equal(X32.compute(), pn.make_spiral(100, 3, seed=4, dtype="float32")[0])


def test_linspace_part_is_numpys_linspace():
    from portable_net.engines.spiral import _linspace_part

    for n in (1, 2, 3, 7, 100, 999_983):
        for j in range(3):
            ref = np.linspace(4.0 * j, 4.0 * (j + 1), n)
            for a, b in ((0, n), (n // 3, n), (0, n // 2 + 1)):
                np.testing.assert_array_equal(
                    _linspace_part(4.0 * j, 4.0 * (j + 1), n, a, b), ref[a:b]
                )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"chunks": 0}, ValueError, "chunks must be >= 1"),
        ({"chunks": 2.5}, TypeError, "chunks must be"),
        ({"chunks": (100, 100)}, ValueError, "do not fit 300 rows"),
        ({"chunks": 10, "xp": "torch"}, ValueError, "NumPy or CuPy chunks"),
        ({"chunks": 10, "dtype": "int32"}, ValueError, "dtype must be"),
    ],
)
def test_chunked_spiral_bad_arguments(kwargs, error, match):
    if kwargs.get("xp") == "torch":
        pytest.importorskip("torch")
    with pytest.raises(error, match=match):
        pn.make_spiral(100, 3, **kwargs)


# --- training: the numbers of NumPy -----------------------------------------------------------

CASES = {
    "softmax": ([2, 3], {}),
    "net": ([2, 100, 3], {}),
    "net-momentum": ([2, 100, 3], {"momentum": 0.9, "learning_rate": 0.1}),
}


def _reference(sizes, kwargs, steps=STEPS):
    X, y = pn.make_spiral(100, 3, seed=0)
    p0 = pn.init_params(sizes, seed=0)
    return p0, pn.train(p0, X, y, steps=steps, log_every=1, **kwargs)


def _check_same(result, reference):
    (p, h), (p_ref, h_ref) = result, reference
    assert h.steps == h_ref.steps
    assert _relative(h.loss, h_ref.loss) < 1e-9
    assert abs(h.final_loss - h_ref.final_loss) < 1e-9 * h_ref.final_loss
    for key in p_ref:
        assert isinstance(p[key], np.ndarray) and p[key].shape == p_ref[key].shape
        np.testing.assert_allclose(p[key], p_ref[key], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", ["softmax", "net"])
def test_distributed_loss_curve_equals_numpy(client, case):
    sizes, kwargs = CASES[case]
    p0, reference = _reference(sizes, kwargs)
    X, y = pn.make_spiral(100, 3, seed=0, chunks=64)  # 5 chunks, across class boundaries
    result = pn.train(p0, X, y, steps=STEPS, log_every=1, scheduler=client, **kwargs)
    _check_same(result, reference)


def test_active_client_is_used(client):
    sizes, kwargs = CASES["net-momentum"]
    p0, reference = _reference(sizes, kwargs, steps=50)
    X, y = pn.make_spiral(100, 3, seed=0, chunks=100)
    with client.as_current():
        result = pn.train(p0, X, y, steps=50, log_every=1, **kwargs)
    _check_same(result, reference)


@pytest.mark.parametrize("case", ["softmax", "net", "net-momentum"])
def test_threaded_loss_curve_equals_numpy(case):
    sizes, kwargs = CASES[case]
    p0, reference = _reference(sizes, kwargs)
    X_np, y_np = pn.make_spiral(100, 3, seed=0)
    # from in-memory arrays, with chunks that split the feature axis (rechunked)
    X, y = da.from_array(X_np, chunks=(64, 1)), da.from_array(y_np, chunks=50)
    result = pn.train(p0, X, y, steps=STEPS, log_every=1, scheduler="threads", **kwargs)
    _check_same(result, reference)


def test_logging_callback_and_inputs_untouched():
    X, y = pn.make_spiral(100, 3, seed=0, chunks=100)
    p0 = pn.init_params([2, 10, 3], seed=0)
    before = {k: v.copy() for k, v in p0.items()}
    seen = []
    _, h = pn.train(
        p0, X, y, steps=25, log_every=10, callback=lambda s, loss, p: seen.append((s, loss))
    )
    assert h.steps == [0, 10, 20] and seen == list(zip(h.steps, h.loss))
    for k in p0:
        np.testing.assert_array_equal(p0[k], before[k])


def test_dask_y_with_numpy_x_and_dask_params():
    X_np, y_np = pn.make_spiral(100, 3, seed=0)
    p0 = pn.init_params([2, 3], seed=0)
    _, ref = pn.train(p0, X_np, y_np, steps=20, log_every=5)
    p_dask = {k: da.from_array(v) for k, v in p0.items()}
    _, h = pn.train(p_dask, X_np, da.from_array(y_np, chunks=70), steps=20, log_every=5)
    assert _relative(h.loss, ref.loss) < 1e-12


# lr 1.0 on batches of 64: the loss ends above the first batch's, and Dask arrays warn on the
# rule every run follows (test_dask_runs_warn_on_the_rule_in_memory_runs_follow)
@pytest.mark.filterwarnings("ignore::portable_net.TrainingWarning")
def test_minibatches_are_seeded_pieces():
    X, y = pn.make_spiral(100, 3, seed=0, chunks=(10, 290))
    p0 = pn.init_params([2, 20, 3], seed=0)

    def run(seed):
        return pn.train(p0, X, y, steps=30, log_every=5, batch_size=64, seed=seed)[1]

    a, b, c = run(0), run(0), run(1)
    assert a.loss == b.loss and a.loss != c.loss
    # a batch as large as the data is full-batch descent
    _, full = pn.train(p0, X, y, steps=30, log_every=5)
    _, big = pn.train(p0, X, y, steps=30, log_every=5, batch_size=10_000)
    assert _relative(big.loss, full.loss) < 1e-12


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_is_reported():
    X, y = pn.make_spiral(100, 3, seed=0, chunks=100)
    p0 = pn.init_params([2, 3], seed=0, scale=1e200)
    with pytest.raises(pn.TrainingDiverged):
        pn.train(p0, X, y, steps=5, log_every=1)


# --- bad input ---------------------------------------------------------------------------------


def _bad_inputs():
    X, y = pn.make_spiral(10, 3, seed=0, chunks=10)
    nan = da.where(da.arange(30)[:, None] == 7, np.nan, X)
    return [
        (X[:, :1], y, ValueError, "X has 1 features"),
        (X[None], y, ValueError, "X must be 2-D"),
        (X.astype(np.int64), y, TypeError, "real floating"),
        (X, y.astype(np.float64), TypeError, "integer class labels"),
        (X, y[:20], ValueError, "20 labels but X has 30 rows"),
        (nan, y, ValueError, "NaN or infinite"),
        (X, y + 1, ValueError, r"labels in \[0, 3\).*from 1 to 3"),
        (X[X[:, 0] > 0], y[X[:, 0] > 0], ValueError, "compute_chunk_sizes"),
    ]


@pytest.mark.parametrize("i", range(8))
def test_bad_input_is_refused_clearly(i):
    X, y, error, match = _bad_inputs()[i]
    with pytest.raises(error, match=match):
        pn.train(pn.init_params([2, 3]), X, y, steps=1)


def test_non_finite_params_are_refused_by_name_before_work():
    X, y = pn.make_spiral(10, 3, seed=0, chunks=10)
    p0 = pn.init_params([2, 3])
    p0["b1"] = p0["b1"].copy()
    p0["b1"][1] = np.inf
    with pytest.raises(ValueError, match="params 'b1' hold NaN or infinite"):
        pn.train(p0, X, y, steps=1)
    assert np.isinf(p0["b1"][1])  # the caller's array untouched


def test_params_of_another_library_are_refused():
    torch = pytest.importorskip("torch")
    X, y = pn.make_spiral(10, 3, seed=0, chunks=10)
    p0 = {k: torch.asarray(v) for k, v in pn.init_params([2, 3]).items()}
    with pytest.raises(TypeError, match="NumPy"):
        pn.train(p0, X, y, steps=1)


# --- a worker killed mid-training ---------------------------------------------------------------


def test_a_killed_worker_is_survived_or_reported(client):
    sizes, kwargs = CASES["net"]
    p0, reference = _reference(sizes, kwargs, steps=60)
    X, y = pn.make_spiral(100, 3, seed=0, chunks=30)  # 10 chunks on 2 workers
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    killed = []

    def kill_one(step, loss, params):
        if step == 20 and not killed:
            os.kill(pids[victim], signal.SIGKILL)  # its persisted chunks are lost
            killed.append(victim)

    try:
        result = pn.train(
            p0, X, y, steps=60, log_every=1, scheduler=client, callback=kill_one, **kwargs
        )
    except (distributed.KilledWorker, RuntimeError, OSError) as exc:  # a clear error is fine
        assert killed, exc
        return
    finally:
        # the nanny restarts the worker; leave two for the other tests
        client.wait_for_workers(2, timeout=60)
    assert killed
    _check_same(result, reference)  # survived: the lost chunks were recomputed, same numbers


# --- the estimator ----------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer. Maximum iterations")
def test_classifier_fits_dask_arrays_like_numpy():
    X_np, y_np = pn.make_spiral(50, 3, seed=2)
    labels = np.array([10, 20, 30])[y_np]  # arbitrary labels
    X, y = da.from_array(X_np, chunks=40), da.from_array(labels, chunks=40)
    settings = {
        "hidden_layer_sizes": (20,),
        "solver": "sgd",
        "nesterovs_momentum": False,
        "batch_size": 150,  # full batch: the Dask loop's steps are the NumPy loop's
        "max_iter": 10,
        "random_state": 0,
    }
    clf = pn.Classifier(**settings).fit(X, y)
    ref = pn.Classifier(**settings).fit(X_np, labels)
    assert _relative(clf.loss_curve_, ref.loss_curve_) < 1e-9
    np.testing.assert_array_equal(clf.classes_, [10, 20, 30])
    assert isinstance(clf.params_["W1"], np.ndarray)
    np.testing.assert_array_equal(clf.predict(X_np), ref.predict(X_np))
    # predictions on Dask arrays are lazy Dask arrays
    proba = clf.predict_proba(X)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), ref.predict_proba(X_np), rtol=1e-9)
    np.testing.assert_array_equal(clf.predict(X).compute(), ref.predict(X_np))
    assert clf.score(X, y) == ref.score(X_np, labels)


def test_unfitted_classifier_on_dask_input():
    X, _ = pn.make_spiral(10, 3, chunks=10)
    with pytest.raises(pn.NotFittedError):
        pn.Classifier().predict(X)


def test_dask_runs_warn_on_the_rule_in_memory_runs_follow():
    """A run that ends worse than it started warns on Dask arrays as on NumPy's."""
    X_np, y_np = pn.make_spiral(100, 3, seed=0)
    p0 = pn.init_params([2, 20, 3], seed=0)
    kw = {"steps": 30, "log_every": 5, "learning_rate": 300.0}
    with pytest.warns(pn.TrainingWarning, match="ended worse than it started"):
        pn.train(p0, X_np, y_np, **kw)
    X = da.from_array(X_np, chunks=(100, 2))
    y = da.from_array(y_np, chunks=100)
    with pytest.warns(pn.TrainingWarning, match="ended worse than it started"):
        pn.train(p0, X, y, **kw)


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh"])
def test_every_activation_on_chunks_is_numpys(activation):
    """The hidden activation reaches the chunks' tasks: train and the Classifier on Dask
    arrays give NumPy's numbers; sample weights and other outputs are refused by name."""
    X_np, y_np = pn.make_spiral(40, 3, seed=3)
    p0 = pn.init_params([2, 9, 3], seed=3, scale=0.5)
    X, y = da.from_array(X_np, chunks=50), da.from_array(y_np, chunks=50)
    kw = {"steps": 20, "log_every": 1, "activation": activation, "learning_rate": 0.5}
    _, chunked = pn.train(p0, X, y, scheduler="threads", **kw)
    _, ref = pn.train(p0, X_np, y_np, **kw)
    assert _relative(chunked.loss, ref.loss) < 1e-9
    settings = {"hidden_layer_sizes": (8,), "solver": "sgd", "batch_size": 120,
                "max_iter": 5, "random_state": 0, "activation": activation}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = pn.Classifier(**settings).fit(X, y)
        ref_clf = pn.Classifier(**settings).fit(X_np, y_np)
    assert _relative(clf.loss_curve_, ref_clf.loss_curve_) < 1e-9
    np.testing.assert_allclose(clf.predict_proba(X).compute(), ref_clf.predict_proba(X_np),
                               rtol=1e-9)  # fmt: skip


def test_sample_weights_on_chunks_are_numpys():
    """Sample weights on chunked arrays (Dask, NumPy or a number): the weighted fit's loss
    curve and weights are the in-memory fit's (full batch, so the batches are the same)."""
    X_np, y_np = pn.make_spiral(40, 3, seed=4)
    w_np = np.random.default_rng(4).uniform(0.0, 3.0, 120)
    X, y = da.from_array(X_np, chunks=50), da.from_array(y_np, chunks=50)
    settings = {"hidden_layer_sizes": (8,), "solver": "sgd", "batch_size": 120,
                "max_iter": 6, "random_state": 0, "activation": "tanh"}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = pn.Classifier(**settings).fit(X_np, y_np, sample_weight=w_np)
        for w in (da.from_array(w_np, chunks=30), w_np):
            clf = pn.Classifier(**settings).fit(X, y, sample_weight=w)
            assert _relative(clf.loss_curve_, ref.loss_curve_) < 1e-9
            np.testing.assert_allclose(clf.coefs_[0], ref.coefs_[0], rtol=1e-9)
        scalar = pn.Classifier(**settings).fit(X, y, sample_weight=2.0)
        ref2 = pn.Classifier(**settings).fit(X_np, y_np, sample_weight=2.0)
    assert _relative(scalar.loss_curve_, ref2.loss_curve_) < 1e-9
    with pytest.raises(ValueError, match="non-negative"):
        pn.Classifier(**settings).fit(X, y, sample_weight=-w_np)


def test_weighted_mini_batches_of_pieces_are_weighted_means():
    """Mini-batches of pieces with sample weights: each logged loss is the weighted mean of
    its batch (integer weights: the loss of the batch with rows repeated), here checked on
    the first step, whose parameters are the initial ones."""
    X_np, y_np = pn.make_spiral(20, 3, seed=5)
    w_np = np.random.default_rng(5).integers(0, 4, 60).astype(np.float64)
    p0 = pn.init_params([2, 6, 3], seed=5, scale=0.5)
    X, y = da.from_array(X_np, chunks=25), da.from_array(y_np, chunks=25)
    from portable_net.loop import Logging, Trainer

    # pieces of 25, 25 and 10 rows; batches of at most 30 rows, in order: the first is rows
    # 0..24
    trainer = Trainer(p0, X, y, optimizer=pn.optim.SGD(0.5), reg=0.0, batch_size=30,
                      shuffle=False, sample_weight=w_np, activation="tanh")  # fmt: skip
    record = pn.History()
    trainer.run(3, record, Logging(log_every=1))
    assert len(record.loss) == 3 and all(np.isfinite(record.loss))
    rows = np.repeat(np.arange(25), w_np[:25].astype(int))
    loss, _ = pn.loss_and_grads(p0, X_np[rows], y_np[rows], reg=0.0, activation="tanh")
    assert record.loss[0] == pytest.approx(float(loss), rel=1e-12)
