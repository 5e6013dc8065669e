"""The command as a careless user or an attacker runs it, in a real process: memory bounded
by what is read, outputs that never replace an input or each other, signals that leave
nothing behind, and faults of the surroundings as one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

import portable_net as pn
from portable_net._validation import MAX_ONE_HOT_VALUES
from tests._files import document
from tests._helpers import decided
from tests.test_cli import run
from tests.test_cli_more import HAS_MPL, call

LINUX = sys.platform.startswith("linux")


def _command() -> list[str]:
    exe = shutil.which("portable-net")
    return [exe] if exe else [sys.executable, "-m", "portable_net"]


def _one_line(out, code):
    assert out.returncode == code, (out.returncode, out.stderr)
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr


# --- memory: measured in a fresh process, against the input's size ------------------------

# the peak of this process's own memory (VmHWM: ru_maxrss would count the parent's pages at
# the fork, kept across exec)
_MEASURE = textwrap.dedent(
    """
    import sys
    from portable_net.cli import main
    try:
        status = main(sys.argv[1:])
    except SystemExit as exc:
        status = exc.code
    with open("/proc/self/status") as f:
        peak = [int(x.split()[1]) * 1024 for x in f if x.startswith("VmHWM:")][0]
    print(f"PEAK {peak} {status}", file=sys.stderr)
    """
)


def _peak(*args, timeout=120):
    """(exit status, peak resident bytes, stderr) of the command run in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True,
                         text=True, timeout=timeout)  # fmt: skip
    lines = [x for x in out.stderr.splitlines() if x.startswith("PEAK ")]
    assert lines, out.stderr
    line = lines[-1]
    _, peak, status = line.split()
    return int(status), int(peak), out.stderr


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The peak of the same command on a small valid input: the interpreter, NumPy and the
    library."""
    folder = tmp_path_factory.mktemp("baseline")
    X, y = pn.make_spiral(10, 3)
    np.savez(folder / "small.npz", X=X, y=y)
    status, peak, err = _peak("train", "--data", str(folder / "small.npz"), "--steps", "1",
                              "--hidden", "2", "--quiet")  # fmt: skip
    assert status == 0, err
    return peak


def _within(peak, baseline, input_bytes):
    """The bound the docs state: the input's own size a few times over, beyond what the
    program needs anyway."""
    allowed = baseline + 8 * input_bytes + 48 * 2**20
    assert peak <= allowed, f"peak {peak / 2**20:.0f} MiB, allowed {allowed / 2**20:.0f} MiB"


@pytest.mark.skipif(not LINUX, reason="the peak is /proc/self/status's VmHWM")
def test_many_distinct_labels_are_refused_before_the_one_hot(tmp_path, baseline):
    n = 20_000
    rows = "".join(f"{i % 7}.5,{i % 11}.25,class{i}\n" for i in range(n))
    path = tmp_path / "labels.csv"
    path.write_text("a,b,label\n" + rows)
    status, peak, err = _peak("train", "--data", str(path), "--steps", "1")
    assert status == 2 and f"over the limit of {MAX_ONE_HOT_VALUES:,}" in err, err
    _within(peak, baseline, path.stat().st_size)
    status, peak, err = _peak("train", "--classes", "20000", "--steps", "1")
    assert status == 2 and "one-hot targets" in err, err
    _within(peak, baseline, 0)
    X = np.zeros((n, 2))
    with pytest.raises(ValueError, match="one-hot targets of 400,000,000 values"):
        pn.train(pn.init_params([2, 2, n]), X, np.arange(n), steps=1)


@pytest.mark.skipif(not LINUX, reason="the peak is /proc/self/status's VmHWM")
def test_an_npz_inflating_far_beyond_its_size_is_refused_before_inflating(tmp_path, baseline):
    X = np.zeros((45_000_000, 2), dtype=np.uint8)
    rng = np.random.default_rng(0)  # scattered bytes: it compresses some 500 times, under
    X[rng.integers(0, X.shape[0], 60_000), 0] = rng.integers(1, 255, 60_000)  # the bomb ratio
    path = tmp_path / "inflating.npz"
    np.savez_compressed(path, X=X, y=X[:, 0].copy())
    size = path.stat().st_size
    with zipfile.ZipFile(path) as z:
        member = z.getinfo("X.npy")
        assert 100 < member.file_size / member.compress_size < 1000
    status, peak, err = _peak("train", "--data", str(path), "--steps", "1")
    assert status == 2 and "over the limit" in err, err
    _within(peak, baseline, size)


@pytest.mark.skipif(not LINUX, reason="the peak is /proc/self/status's VmHWM")
def test_a_model_declaring_huge_weights_is_refused_before_reading_them(tmp_path, baseline):
    sizes = [2, 4_000_000, 2]  # 128 MB of float64 weights, deflated to a small file
    params = {"W1": np.zeros((2, sizes[1])), "b1": np.zeros(sizes[1]),
              "W2": np.zeros((sizes[1], 2)), "b2": np.zeros(2)}  # fmt: skip
    doc = document(pn.save(tmp_path / "small.npz", pn.init_params([2, 3, 2])))
    doc["layer_sizes"] = sizes
    with open(tmp_path / "big.npz", "wb") as f:
        np.savez_compressed(f, **params, _metadata=np.array(json.dumps(doc)))
    size = (tmp_path / "big.npz").stat().st_size
    (tmp_path / "p.csv").write_text("0.5,0.5\n")
    status, peak, err = _peak("predict", str(tmp_path / "big.npz"), str(tmp_path / "p.csv"))
    assert status == 2 and "over 20 times" in err, err
    _within(peak, baseline, size)


def test_load_refuses_weights_beyond_the_memory_available(tmp_path, monkeypatch):
    path = pn.save(tmp_path / "m.npz", pn.init_params([2, 100, 3]))
    monkeypatch.setattr(pn.io, "available_memory", lambda: 1000)
    with pytest.raises(ValueError, match="more than the 1000 bytes of memory available"):
        pn.load(path)


def test_wide_headers_are_matched_in_linear_time(tmp_path):
    n = 100_000
    names = [f"c{j}" for j in range(n)]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, n)).round(3)
    (tmp_path / "wide.csv").write_text(
        ",".join([*names, "kind"]) + "\n"
        + "".join(",".join(map(str, r)) + f",{k % 2}\n" for k, r in enumerate(X.tolist()))
    )  # fmt: skip
    pn.save(tmp_path / "two.npz", pn.init_params([2, 2, 2]),
            preprocessing={"feature_names": ["c0", "c1"]})  # fmt: skip
    start = time.perf_counter()
    status, _, err = call("predict", str(tmp_path / "two.npz"), "--data", str(tmp_path / "wide.csv"),
                          "--label", "kind")  # fmt: skip
    assert status == 2 and "not among them" in err
    status, _, err = call("train", "--data", str(tmp_path / "wide.csv"), "--label", "kind",
                          "--hidden", "1", "--steps", "2", "--lr", "1e-3", "--save-anyway",
                          "--save", str(tmp_path / "w.npz"))  # fmt: skip
    assert status == 0, err
    status, out, err = call(
        "predict", str(tmp_path / "w.npz"), "--data", str(tmp_path / "wide.csv")
    )
    assert status == 0 and len(out.split()) == 4, err
    assert time.perf_counter() - start < 60  # quadratic matching took minutes


# --- outputs ---------------------------------------------------------------------------------


@pytest.fixture
def data_png(tmp_path):
    """A data file whose name ends as a picture's (so --plot takes it)."""
    X, y = pn.make_spiral(5, 3)
    path = tmp_path / "d.png"
    path.write_text("a,b,label\n" + "".join(f"{a!r},{b!r},{c}\n" for (a, b), c in
                                            zip(X.tolist(), y.tolist())))  # fmt: skip
    os.symlink(path, tmp_path / "link.png")
    os.link(path, tmp_path / "hard.png")
    return path


def test_an_output_that_is_an_input_is_refused_before_any_work(tmp_path, data_png, monkeypatch):
    before = data_png.read_bytes()
    monkeypatch.chdir(tmp_path)
    options = ["--save"] + (["--plot"] if HAS_MPL else [])
    targets = ["d.png", "link.png", "hard.png", "./d.png", f"{tmp_path}/../{tmp_path.name}/d.png"]
    with open(data_png) as f:  # the same file through /proc/self/fd
        if os.path.exists(f"/proc/self/fd/{f.fileno()}"):
            targets.append(f"/proc/self/fd/{f.fileno()}")
        for target in targets:
            for option in options:
                if option == "--plot" and target.startswith("/proc"):
                    continue  # no picture suffix: refused for that
                status, out, err = call("train", "--data", "d.png", "--steps", "1", option, target)
                assert status == 2 and "it is the input" in err, (target, err)
                assert out == ""
    assert data_png.read_bytes() == before
    listing = sorted(os.listdir(tmp_path))
    assert listing == ["d.png", "hard.png", "link.png"], listing


def test_an_output_that_is_stdins_file_is_refused(tmp_path):
    path = pn.save(tmp_path / "m.npz", pn.init_params([2, 3, 3]))
    points = tmp_path / "p.csv"
    points.write_text("0.5,0.5\n0.1,0.2\n")
    before = points.read_bytes()
    with open(points) as stdin:
        out = subprocess.run([*_command(), "predict", str(path), "-", "--output", str(points)],
                             stdin=stdin, capture_output=True, text=True, timeout=120)  # fmt: skip
    _one_line(out, 2)
    assert "it is the input" in out.stderr and points.read_bytes() == before


@pytest.mark.skipif(not HAS_MPL, reason="matplotlib is not installed")
def test_two_outputs_of_one_command_are_refused(tmp_path):
    status, _, err = call("train", "--steps", "1", "--save", str(tmp_path / "x.png"),
                          "--plot", str(tmp_path / "x.png"))  # fmt: skip
    assert status == 2 and "one output would replace the other" in err
    os.symlink(tmp_path / "x.png", tmp_path / "y.png")
    status, _, err = call(
        "data", "--output", str(tmp_path / "x.png"), "--plot", str(tmp_path / "y.png")
    )
    assert status == 2 and "one output would replace the other" in err
    assert sorted(os.listdir(tmp_path)) == ["y.png"]


def test_a_name_of_250_characters_is_written_by_every_writer(tmp_path):
    name = "n" * 246
    X, y = pn.make_spiral(5, 3)
    pn.save(tmp_path / f"{name}.npz", pn.init_params([2, 3, 3]))
    clf = pn.Classifier((3,), max_iter=2, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, y)
    clf.save(tmp_path / f"{name}.np2")
    status, _, err = call("train", "--steps", "2", "--save", str(tmp_path / f"{name}.np3"))
    assert status == 0, err
    status, _, err = call("data", "--n-per-class", "3", "--output", str(tmp_path / f"{name}.csv"))
    assert status == 0, err
    status, _, err = call("predict", str(tmp_path / f"{name}.npz"), str(tmp_path / f"{name}.csv"),
                          "--output", str(tmp_path / f"{name}.out"))  # fmt: skip
    assert status == 0, err
    names = sorted(os.listdir(tmp_path))
    assert names == sorted(f"{name}.{s}" for s in ("npz", "np2", "np3", "csv", "out"))
    pn.save(tmp_path / ("é" * 125 + ".npz"), pn.init_params([2, 3, 3]))  # 254 bytes
    assert len(os.listdir(tmp_path)) == 6


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGUSR1])
def test_a_signal_while_writing_leaves_nothing_behind(tmp_path, signum):
    output = tmp_path / "big.csv"
    for _ in range(3):  # a machine so loaded that the writing ended first: again
        proc = subprocess.Popen(
            [*_command(), "data", "--n-per-class", "3000000", "--output", str(output)],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while proc.poll() is None and not any(
            p.name.startswith(".big.csv.") for p in tmp_path.iterdir()
        ):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=120)
        if proc.returncode != 0:
            break
        output.unlink()
    assert proc.returncode == 128 + signum, stderr
    assert stderr.strip() == f"portable-net data: terminated by {signal.Signals(signum).name}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="POSIX signals")
def test_ctrl_c_saves_the_model_as_the_help_promises(tmp_path):
    X, y = pn.make_spiral(30, 3)
    path = tmp_path / "d.csv"
    path.write_text("a,b,kind\n" + "".join(f"{a!r},{b!r},k{c}\n" for (a, b), c in
                                           zip(X.tolist(), y.tolist())))  # fmt: skip
    proc = subprocess.Popen(
        [*_command(), "train", "--data", str(path), "--activation", "tanh", "--standardize",
         "--max-iter", "100000000", "--tol", "0", "--n-iter-no-change", "100000000",
         "--log-every", "100", "--save", str(tmp_path / "m.npz")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    while not proc.stdout.readline().startswith("epoch 100 "):
        assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted at epoch" in stderr
    params, meta = pn.load(tmp_path / "m.npz")
    assert meta["activation"] == "tanh" and meta["classes"] == ["k0", "k1", "k2"]
    assert meta["interrupted_at_epoch"] >= 100 and meta["preprocessing"]["standardize"]
    (tmp_path / "p.csv").write_text("a,b\n0.5,0.5\n")
    status, out, _ = call("predict", str(tmp_path / "m.npz"), str(tmp_path / "p.csv"))
    scaled = (np.array([[0.5, 0.5]]) - meta["preprocessing"]["standardize"]["mean"]) / np.array(
        meta["preprocessing"]["standardize"]["scale"]
    )
    assert (
        status == 0
        and out.strip() == meta["classes"][int(decided(params, scaled, activation="tanh")[0])]
    )


_DEFERRED = textwrap.dedent(
    """
    import os, signal, sys, time, types
    from portable_net.cli import _signals
    inside = []
    def busy():  # stands for JAX's compiler writing its compilation cache
        os.kill(os.getpid(), signal.SIGINT)
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            pass
        inside.append("done")
    jax_like = types.FunctionType(busy.__code__, {"__name__": "jax._src.compilation_cache", "os": os,
                                  "signal": signal, "time": time, "inside": inside})
    with _signals.interrupts():
        try:
            jax_like()
            for _ in range(10**8):
                pass
        except KeyboardInterrupt:
            print("interrupted after", inside)
    """
)


def test_a_signal_inside_jax_compiler_is_raised_once_it_is_done(tmp_path):
    out = subprocess.run([sys.executable, "-c", _DEFERRED], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.stdout.strip() == "interrupted after ['done']", out.stderr


def test_ctrl_c_in_a_jax_run_ends_as_in_a_numpy_run(tmp_path):
    pytest.importorskip("jax")
    for delay in (0.8, 1.5):
        env = {**os.environ, "PORTABLE_NET_JAX_CACHE": str(tmp_path / f"cache{delay}")}
        proc = subprocess.Popen(
            [*_command(), "train", "--backend", "jax", "--steps", "100000000", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 130, stderr
        assert stderr.strip().endswith("portable-net train: interrupted"), stderr


# --- faults of the surroundings: one line, a non-zero exit -------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults")
    path = pn.save(folder / "m.npz", pn.init_params([2, 3, 3]), classes=["ß", "é", "ü"])
    (folder / "p.csv").write_text("0.5,0.5\n0.1,0.2\n")
    return path, folder / "p.csv"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_stdout_on_a_full_disk_is_one_line(model):
    path, points = model
    with open("/dev/full", "w") as full:
        out = subprocess.run([*_command(), "predict", str(path), str(points)], stdout=full,
                             stderr=subprocess.PIPE, text=True, timeout=120)  # fmt: skip
    _one_line(out, 1)
    assert "could not write the output" in out.stderr and "No space left" in out.stderr


@pytest.mark.skipif(not shutil.which("sh"), reason="needs a POSIX shell")
def test_closed_standard_streams_are_one_line(model):
    path, points = model
    command = " ".join(f"'{c}'" for c in _command())
    out = subprocess.run(["sh", "-c", f"{command} predict '{path}' '{points}' >&-"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    _one_line(out, 1)
    assert "stdout is closed" in out.stderr
    out = subprocess.run(["sh", "-c", f"{command} predict '{path}' - <&-"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    _one_line(out, 2)
    assert "stdin is closed" in out.stderr
    out = subprocess.run(["sh", "-c", f"{command} predict '{path}' '{points}' --output /dev/null >&-"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr  # nothing to print: a closed stdout is no fault


def test_an_ascii_locale_escapes_what_it_cannot_show(model):
    path, points = model
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    out = subprocess.run([*_command(), "predict", str(path), str(points)], capture_output=True,
                         timeout=120, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    labels = out.stdout.decode("ascii").split()
    expected = [
        ["ß", "é", "ü"][i] for i in pn.predict(pn.load(path)[0], np.array([[0.5, 0.5], [0.1, 0.2]]))
    ]
    assert labels == [e.encode("ascii", "backslashreplace").decode() for e in expected]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["train", "--threads", "99999999999999999999999"], "must be an integer in [-1, 4,096]"),
        (["train", "--hidden", "99999999999999999999999"], "must be an integer in [1, 16,777,216]"),
        (["train", "--steps", "9223372036854775808"], "must be an integer in [0, 2,147,483,647]"),
        (["train", "--log-every", "9223372036854775808"], "in [1, 2,147,483,647]"),
        (["train", "--hidden", "16000000", "16000000"], "more than the 4,294,967,296 bytes"),
        (["gradcheck", "--entries", "99999999999999999999"], "in [0, 2,147,483,647]"),
        (["gradcheck", "--scale", "1e308"], "argument --scale"),
    ],
)
def test_numbers_beyond_what_the_library_takes_are_refused_with_the_range(args, expected):
    status, out, err = call(*args)
    assert status == 2 and out == "" and len(err.splitlines()) == 1, err
    assert expected in err


def test_a_backend_that_cannot_start_is_named(model):
    pytest.importorskip("jax")
    env = {**os.environ, "JAX_PLATFORMS": "bogus"}
    out = subprocess.run([*_command(), "train", "--backend", "jax", "--steps", "1"],
                         capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    _one_line(out, 1)
    assert "the jax backend cannot start" in out.stderr and "bogus" in out.stderr


def test_the_installed_command_refuses_another_kind_in_one_line(tmp_path):
    path = pn.save(tmp_path / "reg.npz", pn.init_params([2, 3, 2]), kind="multilabel")
    (tmp_path / "p.csv").write_text("0.5,0.5\n")
    out = run("predict", str(path), str(tmp_path / "p.csv"))
    _one_line(out, 2)
    assert "holds a multilabel classifier of 2 labels" in out.stderr
    assert "portable-net predict reads a classifier or a regressor" in out.stderr
