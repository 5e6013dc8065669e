"""The intra-op threads of a training run (portable_net/engines/threads.py): one thread for
small products, ``n_jobs`` honoured, the caller's setting restored after every run."""

from __future__ import annotations

import os

import numpy as np
import pytest

import portable_net as pn
from portable_net.engines import threads
from portable_net.errors import TrainingInterrupted
from portable_net.history import History
from portable_net.loop import Logging, Trainer
from portable_net.optim import SGD


def _spiral(lib=None):
    X, y = pn.make_spiral(50, 3, seed=0)
    params = pn.init_params([2, 20, 3], seed=0)
    if lib is not None:
        X, y = lib.asarray(X), lib.asarray(y)
        params = {k: lib.asarray(v) for k, v in params.items()}
    return params, X, y


def _threads_seen(trainer, read, steps=3, callback=None):
    """The thread counts ``read()`` returned at each logged step of one run."""
    seen = []

    def cb(step, loss, params):
        seen.append(read())
        if callback is not None:
            callback(step)

    trainer.run(steps, History(), Logging(log_every=1, callback=cb))
    return seen


@pytest.fixture
def torch_two_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield torch
    torch.set_num_threads(before)


def test_torch_small_run_on_one_thread_then_restored(torch_two_threads):
    torch = torch_two_threads
    params, X, y = _spiral(torch)
    trainer = Trainer(params, X, y, optimizer=SGD(0.1), reg=1e-3)
    assert _threads_seen(trainer, torch.get_num_threads) == [1, 1, 1]
    assert torch.get_num_threads() == 2
    # mini-batches too
    trainer = Trainer(params, X, y, optimizer=SGD(0.1), reg=1e-3, batch_size=32)
    assert _threads_seen(trainer, torch.get_num_threads) == [1, 1, 1]
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("n_jobs", [2, 3, -1])
def test_torch_n_jobs_honoured(torch_two_threads, n_jobs):
    torch = torch_two_threads
    torch.set_num_threads(1)
    params, X, y = _spiral(torch)
    trainer = Trainer(params, X, y, optimizer=SGD(0.1), reg=1e-3, n_jobs=n_jobs)
    want = os.cpu_count() if n_jobs == -1 else n_jobs
    assert _threads_seen(trainer, torch.get_num_threads, steps=2) == [want, want]
    assert torch.get_num_threads() == 1


def test_torch_threads_restored_after_errors(torch_two_threads):
    torch = torch_two_threads
    params, X, y = _spiral(torch)
    trainer = Trainer(params, X, y, optimizer=SGD(0.1), reg=1e-3)

    def fail(step):
        raise RuntimeError("from the callback")

    with pytest.raises(RuntimeError, match="from the callback"):
        _threads_seen(trainer, torch.get_num_threads, callback=fail)
    assert torch.get_num_threads() == 2

    def interrupt(step):
        raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        _threads_seen(trainer, torch.get_num_threads, callback=interrupt)
    assert torch.get_num_threads() == 2


def _blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    return sorted({lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                   if lib["user_api"] == "blas"})  # fmt: skip


def test_numpy_blas_limited_in_run_then_restored():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not any(lib["user_api"] == "blas" for lib in threadpoolctl.threadpool_info()):
        pytest.skip("NumPy's BLAS is not one threadpoolctl controls")
    params, X, y = _spiral()
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        trainer = Trainer(params, X, y, optimizer=SGD(0.1), reg=1e-3)
        assert _threads_seen(trainer, _blas_threads, steps=2) == [[1], [1]]
        assert _blas_threads() == [2]
        trainer = Trainer(params, X, y, optimizer=SGD(0.1), reg=1e-3, n_jobs=3)
        assert _threads_seen(trainer, _blas_threads, steps=2) == [[3], [3]]
        assert _blas_threads() == [2]


def test_same_numbers_whatever_the_threads():
    """The threads change where the sums run, not what the step computes (to rounding)."""
    params, X, y = _spiral()
    out = []
    for n_jobs in (None, 1, 2):
        trainer = Trainer(params, X, y, optimizer=SGD(0.1), reg=1e-3, n_jobs=n_jobs)
        record = History()
        trainer.run(20, record, Logging(log_every=5))
        out.append(record.loss)
    np.testing.assert_allclose(out[1], out[0], rtol=1e-12)
    np.testing.assert_allclose(out[2], out[0], rtol=1e-12)


def test_threads_for_decides_by_the_largest_product():
    import array_api_compat.numpy as xp

    def packed(*shapes):
        return [np.empty(s) for s in shapes]

    small = packed((100, 3), (3, 100), (3, 1))  # [W1b (H, D+1), W2^T (K, H), b2 (K, 1)]
    assert threads.largest_product(small, 150) == 150 * 300
    assert threads.threads_for(xp, None, small, 150) == 1
    # [1024, 4096, 10], blocks of 64: 64 * 4096 * 1025 multiply-adds in the first layer
    wide = packed((4096, 1025), (10, 4096), (10, 1))
    assert threads.largest_product(wide, 64) == 64 * 4096 * 1025
    assert 64 * 4096 * 1025 >= threads.SERIAL_BELOW
    assert threads.threads_for(xp, None, wide, 64) is None
    assert threads.threads_for(xp, None, wide, 64, n_jobs=1) == 1
    assert threads.threads_for(xp, None, small, 150, n_jobs=-1) == os.cpu_count()
    narrower = packed((2048, 785), (10, 2048), (10, 1))  # [784, 2048, 10]: 1.0e8
    assert threads.threads_for(xp, None, narrower, 64) == 1


def test_threads_for_leaves_jax_alone():
    jnp = pytest.importorskip("jax.numpy")
    small = [np.empty((100, 3)), np.empty((3, 100)), np.empty((3, 1))]
    assert threads.threads_for(jnp, None, small, 150) is None
    assert threads.threads_for(jnp, None, small, 150, n_jobs=2) is None


@pytest.mark.parametrize(
    "bad, error",
    [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)],
)
def test_n_jobs_checked_before_work(bad, error):
    params, X, y = _spiral()
    with pytest.raises(error, match="n_jobs"):
        Trainer(params, X, y, optimizer=SGD(0.1), reg=1e-3, n_jobs=bad)


@pytest.fixture
def recorded(monkeypatch):
    """The thread counts the training loop asked for, run by run (engines.threads_limited
    wrapped)."""
    from portable_net import engines

    asked = []
    original = engines.threads_limited

    def recording(xp, threads):
        asked.append(threads)
        return original(xp, threads)

    monkeypatch.setattr(engines, "threads_limited", recording)
    return asked


def test_train_n_jobs_honoured_and_checked(recorded):
    params, X, y = _spiral()
    for n_jobs, want in ((None, 1), (2, 2), (-1, os.cpu_count())):
        recorded.clear()
        pn.train(params, X, y, steps=2, log_every=1, n_jobs=n_jobs)
        # the call's setting (its checks and final loss), and the run's inside it
        assert recorded == [want, want]
    recorded.clear()
    for bad, error in ((0, ValueError), (-2, ValueError), (1.5, TypeError)):
        with pytest.raises(error, match="n_jobs"):
            pn.train(params, X, y, steps=2, n_jobs=bad)
    assert recorded == []  # refused before any run


def test_classifier_n_jobs_honoured(recorded):
    X, y = pn.make_spiral(40, 3, seed=0)
    clf = pn.Classifier(hidden_layer_sizes=(8,), max_iter=2, batch_size=32, n_jobs=3)
    assert clf.get_params()["n_jobs"] == 3
    with pytest.warns(Warning):  # max_iter reached before convergence
        clf.fit(X, y)
    assert recorded and set(recorded) == {3}
    recorded.clear()
    with pytest.warns(Warning):
        pn.Classifier(hidden_layer_sizes=(8,), max_iter=2, batch_size=32).fit(X, y)
    assert recorded and set(recorded) == {1}
    with pytest.raises(ValueError, match="n_jobs"):
        pn.Classifier(max_iter=2, n_jobs=-3).fit(X, y)


def test_cli_threads_honoured_and_checked(recorded, capsys):
    from portable_net.cli import main

    assert main(["train", "--steps", "2", "--quiet", "--threads", "2"]) == 0
    assert recorded and set(recorded) == {2}
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--steps", "2", "--quiet", "--threads", "0"])
    assert exit_info.value.code == 2
    assert "--threads" in capsys.readouterr().err


def _seen_in(monkeypatch, module, names, read, seen=None):
    """Wrap ``module``'s functions ``names`` to record ``read()`` at each call into ``seen``
    (a new dict by default): the threads each pass of a call ran on."""
    seen = {} if seen is None else seen
    for name in names:
        original = getattr(module, name)

        def wrapped(*args, _original=original, _name=name, **kwargs):
            seen.setdefault(_name, []).append(read())
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapped)
    return seen


def test_every_pass_of_train_on_the_run_s_threads(torch_two_threads, monkeypatch):
    """The value checks, the held-out data, the data laid out for the step and the final
    loss run on the run's one thread, not on the caller's two (torch's pool on the CPU)."""
    from portable_net import loop, training

    torch = torch_two_threads
    params, X, y = _spiral(torch)
    seen = _seen_in(monkeypatch, training, ["check_values", "check_targets", "_held_out"],
                    torch.get_num_threads)  # fmt: skip
    _seen_in(monkeypatch, loop, ["_prepare", "_full_data_loss"], torch.get_num_threads, seen)
    pn.train(params, X, y, steps=0, validation_fraction=0.2)
    assert seen == {"check_values": [1], "_held_out": [1], "_prepare": [1],
                    "_full_data_loss": [1]}  # fmt: skip
    assert torch.get_num_threads() == 2
    seen.clear()
    targets = torch.full((X.shape[0], 3), 0.5, dtype=X.dtype)
    pn.train(params, X, targets, steps=2, output="squared", n_jobs=3)
    assert seen == {"check_values": [3], "check_targets": [3], "_held_out": [3],
                    "_prepare": [3], "_full_data_loss": [3]}  # fmt: skip
    assert torch.get_num_threads() == 2
    seen.clear()
    with pytest.raises(ValueError, match="NaN"):  # refused on them too, then restored
        pn.train(params, X * float("nan"), y, steps=2)
    assert seen == {"check_values": [1]}
    assert torch.get_num_threads() == 2


def test_every_pass_of_a_fit_on_the_fit_s_threads(torch_two_threads, monkeypatch):
    """X's values, the sample weights, the held-out scores of early stopping and the weights'
    final check run on the fit's threads (one here, or ``n_jobs``), restored after."""
    from portable_net.estimators import _epochs

    torch = torch_two_threads
    _, X, y = _spiral(torch)
    names = ["check_finite_X", "fit_sample_weight", "outputs", "_check_finite_weights"]
    for n_jobs, want in ((None, 1), (3, 3)):
        seen = _seen_in(monkeypatch, _epochs, names, torch.get_num_threads)
        clf = pn.Classifier(hidden_layer_sizes=(8,), max_iter=3, early_stopping=True,
                            n_iter_no_change=100, n_jobs=n_jobs)  # fmt: skip
        with pytest.warns(Warning):  # max_iter reached before convergence
            clf.fit(X, y)
        assert seen == {"check_finite_X": [want], "fit_sample_weight": [want],
                        "outputs": [want] * 3, "_check_finite_weights": [want]}  # fmt: skip
        assert torch.get_num_threads() == 2
        monkeypatch.undo()


def test_numpy_passes_of_train_on_the_run_s_blas_threads(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not any(lib["user_api"] == "blas" for lib in threadpoolctl.threadpool_info()):
        pytest.skip("NumPy's BLAS is not one threadpoolctl controls")
    from portable_net import loop, training

    params, X, y = _spiral()
    seen = _seen_in(monkeypatch, training, ["check_values"], _blas_threads)
    _seen_in(monkeypatch, loop, ["_prepare", "_full_data_loss"], _blas_threads, seen)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        pn.train(params, X, y, steps=0)
        assert seen == {"check_values": [[1]], "_prepare": [[1]], "_full_data_loss": [[1]]}
        assert _blas_threads() == [2]


def test_the_door_decides_as_the_run_does():
    """threads_for_sizes (a call's door, from the shapes) and the Trainer (from its packed
    parameters and blocks) agree, on every library and batch."""
    import array_api_compat.numpy as xp

    cases = [([2, 100, 3], 300, None), ([2, 100, 3], 300_000, None),
             ([50, 256, 128, 5], 20_000, 256), ([1024, 4096, 10], 1_024, 256),
             ([784, 2048, 10], 4_096, None)]  # fmt: skip
    for sizes, n, batch in cases:
        X = np.zeros((n, sizes[0]))
        trainer = Trainer(pn.init_params(sizes), X, np.zeros(n, dtype=np.int64),
                          optimizer=SGD(0.1), reg=1e-3, batch_size=batch)  # fmt: skip
        assert threads.for_sizes(xp, None, sizes, batch, X) == trainer.threads, (sizes, n)
        assert threads.for_sizes(xp, None, sizes, batch, X, n_jobs=2) == 2


class _Clock:
    """A stand-in for ``time.perf_counter`` and a step whose time depends on the threads it
    runs on (seconds per step by thread count, changed by the test as a load would)."""

    def __init__(self, seconds):
        self.now, self.seconds, self.threads, self.set_calls = 0.0, dict(seconds), None, []

    def perf_counter(self):
        return self.now

    def set_threads(self, n):
        self.threads = n
        self.set_calls.append(n)

    def step(self, *args):
        self.now += self.seconds[self.threads]
        return self.threads


def _chooser(monkeypatch, seconds):
    import types

    clock = _Clock(seconds)
    monkeypatch.setattr(threads, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    return clock, threads.Chooser(clock.set_threads, (1, 2))


def test_the_chooser_takes_the_faster_setting_and_settles(monkeypatch):
    clock, chooser = _chooser(monkeypatch, {1: 1.0, 2: 0.5})
    step = chooser.timed(clock.step)
    ran = [step() for _ in range(2 * chooser.WINDOW)]
    assert ran == [1] * chooser.WINDOW + [2] * chooser.WINDOW  # the probe: each in turn
    assert chooser.choice == 2 and chooser.last == pytest.approx({1: 1.0, 2: 0.5})
    # settled on two threads for 20 times the probe's 7.5 s at 0.5 s a step: 300 steps
    settled = [step() for _ in range(300)]
    assert settled == [2] * 300
    # then a probe again, the choice first; a later run (a fit's next epoch) keeps the state
    step = chooser.timed(clock.step)
    assert clock.threads == 2
    assert [step() for _ in range(2 * chooser.WINDOW)] == [2] * 5 + [1] * 5


def test_the_chooser_leaves_a_slow_setting_after_one_step(monkeypatch):
    """Beside other jobs a second thread may be many times slower: its window ends at its
    first step slower than 3x the best so far, and the run goes back to one thread."""
    clock, chooser = _chooser(monkeypatch, {1: 1.0, 2: 20.0})
    step = chooser.timed(clock.step)
    assert [step() for _ in range(chooser.WINDOW + 1)] == [1] * chooser.WINDOW + [2]
    assert chooser.choice == 1 and clock.threads == 1
    # the probe cost 25 s: settled for 500 steps of 1 s (at least MIN_SETTLED)
    assert [step() for _ in range(500)] == [1] * 500
    # the load goes away: the next probe finds two threads faster
    clock.seconds[2] = 0.4
    [step() for _ in range(2 * chooser.WINDOW)]
    assert chooser.choice == 2 and chooser.last == pytest.approx({1: 1.0, 2: 0.4})


def test_large_mini_batch_runs_choose_their_threads_and_restore_them():
    """A run whose products reach MEASURE_FROM (the tabular net's batches) times its steps;
    smaller runs, an n_jobs, or one core do not; the numbers are those of one thread, and
    the caller's setting is restored after every run."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not any(lib["user_api"] == "blas" for lib in threadpoolctl.threadpool_info()):
        pytest.skip("NumPy's BLAS is not one threadpoolctl controls")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((1024, 50)), rng.integers(0, 5, 1024)
    params = pn.init_params([50, 256, 128, 5], seed=0)
    assert 256 * 256 * 51 >= threads.MEASURE_FROM
    losses = {}
    for n_jobs in (None, 1):
        trainer = Trainer(params, X, y, optimizer=pn.optim.Adam(1e-3), reg=1e-4,
                          batch_size=256, n_jobs=n_jobs)  # fmt: skip
        assert (trainer.chooser is None) == (n_jobs is not None or threads.cores() < 2)
        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            record = History()
            trainer.run(12, record, Logging(log_every=1))
            assert _blas_threads() == [1]
        losses[n_jobs] = record.loss
    np.testing.assert_allclose(losses[None], losses[1], rtol=1e-12)
    small = Trainer(*_spiral(), optimizer=SGD(0.1), reg=1e-3, batch_size=32)
    assert small.chooser is None
    # a caller who set one thread (or one core) keeps it: no second thread to try
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        one = Trainer(params, X, y, optimizer=pn.optim.Adam(1e-3), reg=1e-4, batch_size=256)
        assert one.chooser is None
    if threads.cores() >= 2:
        with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
            # inside the library's own setting (a fit's door): the caller's, not the door's
            with threads.limited(np, 1):
                two = Trainer(params, X, y, optimizer=pn.optim.Adam(1e-3), reg=1e-4,
                              batch_size=256)  # fmt: skip
            assert two.chooser is not None and set(two.chooser.candidates) == {1, 2}


def test_the_chooser_keeps_torch_s_own_setting(torch_two_threads):
    """torch's pool as the caller set it is the most the chooser tries."""
    torch = torch_two_threads
    rng = np.random.default_rng(0)
    X, y = torch.asarray(rng.standard_normal((512, 50))), torch.asarray(rng.integers(0, 5, 512))
    params = {k: torch.asarray(v) for k, v in pn.init_params([50, 256, 128, 5]).items()}
    torch.set_num_threads(1)
    one = Trainer(params, X, y, optimizer=pn.optim.Adam(1e-3), reg=1e-4, batch_size=256)
    assert one.chooser is None
    torch.set_num_threads(2)
    two = Trainer(params, X, y, optimizer=pn.optim.Adam(1e-3), reg=1e-4, batch_size=256)
    if threads.cores() >= 2:
        assert set(two.chooser.candidates) == {1, 2}
        record = History()
        two.run(4, record, Logging(log_every=1))
        assert torch.get_num_threads() == 2  # restored
