"""Bad input never gets a traceback or a silent wrong answer from the command line.

Exit status 2 for bad input, 1 for a failed run, 143 for SIGTERM; one line on stderr.
"""

import json
import os
import signal
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest

import portable_net as pn
import portable_net.gradcheck
from tests._files import rewrite
from tests.test_cli import run
from tests.test_cli_more import call

SMALL = ["--hidden", "4", "--n-per-class", "5"]
LONG = ["--steps", "100000000", "--log-every", "1000"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small saved model (the library's own save), and a CSV of points for it."""
    folder = tmp_path_factory.mktemp("hardening")
    X, y = pn.make_spiral(10, 3)
    params, history = pn.train(pn.init_params([2, 5, 3]), X, y, steps=20, log_every=10)
    pn.save(folder / "net.npz", params, history=history, data={"n_per_class": 10, "seed": 0})
    (folder / "pts.csv").write_text("0.5,0.5\n-0.3,0.1\n")
    return folder / "net.npz", folder / "pts.csv"


def _with_weights(source, target, change):
    """A copy of the model file ``source`` whose weights went through ``change(key, array)``."""
    with np.load(source, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    for key in list(arrays):
        if not key.startswith("_"):
            arrays[key] = change(key, arrays[key])
    with open(target, "wb") as f:
        np.savez(f, **arrays)
    return target


def _one_line_error(status, stdout, stderr, code=2):
    assert status == code, stderr
    assert stdout == "" or code != 2
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "Traceback" not in stderr


# --- 1. model files: one line naming the file, exit 2 ---------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        MemoryError(),
        zipfile.BadZipFile("Bad CRC-32 for file 'W1.npy'"),
        zlib.error("Error -3 while decompressing data"),
        RecursionError("maximum recursion depth exceeded"),
        EOFError("No data left in file"),
        KeyError("W1"),
        json.JSONDecodeError("Expecting value", "{", 1),
    ],
    ids=lambda e: type(e).__name__,
)
def test_any_error_from_loading_is_one_line_naming_the_file(model, monkeypatch, error):
    path, points = model

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(pn, "load", broken)
    monkeypatch.setattr(pn.io, "load", broken)  # where the command looked before
    for args in (["predict", str(path), str(points)], ["evaluate", str(path)]):
        status, stdout, stderr = call(*args)
        _one_line_error(status, stdout, stderr)
        assert stderr.startswith(f"portable-net {args[0]}: error: {str(path)!r}: "), stderr


def test_deeply_nested_metadata_is_refused(model, tmp_path):
    path, points = model
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["_metadata"] = np.array("[" * 200_000)
    with open(tmp_path / "deep.npz", "wb") as f:
        np.savez(f, **arrays)
    status, stdout, stderr = call("predict", str(tmp_path / "deep.npz"), str(points))
    _one_line_error(status, stdout, stderr)
    assert "deep.npz" in stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_directory_as_model_is_refused_without_reading(model, tmp_path):
    _, points = model
    os.mkfifo(tmp_path / "pipe.npz")  # opening it to read would wait for a writer forever
    out = run("predict", str(tmp_path / "pipe.npz"), str(points), timeout=60)
    _one_line_error(out.returncode, out.stdout, out.stderr)
    assert "pipe.npz" in out.stderr and "not a regular file" in out.stderr
    status, stdout, stderr = call("evaluate", str(tmp_path))
    _one_line_error(status, stdout, stderr)
    assert "is a directory" in stderr


# --- 2. non-finite numbers: never printed ---------------------------------------------------


def test_a_nan_weight_is_refused_before_predicting(model, tmp_path):
    path, points = model

    def poison(key, w):
        return np.where(np.arange(w.size).reshape(w.shape) == 0, np.nan, w) if key == "W1" else w

    bad = _with_weights(path, tmp_path / "nan.npz", poison)
    for args in (
        ["predict", str(bad), str(points), "--proba"],
        ["predict", str(bad), str(points)],
        ["evaluate", str(bad), "--json"],
    ):
        status, stdout, stderr = call(*args)
        _one_line_error(status, stdout, stderr)
        assert "'W1' holds NaN or infinite values" in stderr and "nan.npz" in stderr


def test_overflowing_scores_are_a_failure_not_nan(model, tmp_path):
    path, points = model
    huge = _with_weights(path, tmp_path / "huge.npz", lambda key, w: w * 1e306)
    status, stdout, stderr = call("predict", str(huge), str(points), "--proba")
    _one_line_error(status, stdout, stderr, code=1)
    assert "nan" not in stdout.lower() and "not finite" in stderr
    status, stdout, stderr = call("evaluate", str(huge), "--json")
    _one_line_error(status, stdout, stderr, code=1)
    assert "NaN" not in stdout and "Infinity" not in stdout


def test_gradcheck_json_is_strict(monkeypatch):
    monkeypatch.setattr(
        portable_net.gradcheck,
        "relative_errors",
        lambda *a, **k: {"W1": float("nan"), "b1": 1e-9, "W2": 1e-9, "b2": 1e-9},
    )
    status, stdout, _ = call("gradcheck", "--json")
    assert status == 1
    assert "NaN" not in stdout


# --- 3. metadata: checked before it is printed or used ----------------------------------------


@pytest.mark.parametrize(
    "classes",
    [["a\nb", "c", "d"], ["\x1b[31mred", "green", "blue"], [0, 1], [2, 1, 0], [True, False, 3]],
    ids=["newline", "escape", "too-few", "unsorted", "bools"],
)
def test_class_names_from_the_file_are_checked(tmp_path, classes):
    params = pn.init_params([2, 3, 3])
    try:  # the writer refuses the classes it cannot record exactly; a file may hold them
        pn.save(tmp_path / "m.npz", params, classes=classes)
    except (TypeError, ValueError):
        pn.save(tmp_path / "ok.npz", params)

        def change(doc):
            doc["model"]["classes"] = classes

        rewrite(tmp_path / "ok.npz", tmp_path / "m.npz", change)
    (tmp_path / "p.csv").write_text("0.1,0.2\n")
    status, stdout, stderr = call("predict", str(tmp_path / "m.npz"), str(tmp_path / "p.csv"))
    _one_line_error(status, stdout, stderr)
    assert "classes" in stderr and "\x1b" not in stderr


def test_printable_class_names_are_printed(tmp_path):
    params = pn.init_params([2, 3, 3])
    pn.save(tmp_path / "m.npz", params, classes=["ant", "bee", "cat"])
    (tmp_path / "p.csv").write_text("0.1,0.2\n0.3,-0.2\n")
    status, stdout, _ = call("predict", str(tmp_path / "m.npz"), str(tmp_path / "p.csv"))
    expected = pn.predict(params, np.array([[0.1, 0.2], [0.3, -0.2]])).tolist()
    assert status == 0 and stdout.splitlines() == [["ant", "bee", "cat"][i] for i in expected]


@pytest.mark.parametrize(
    "data",
    [{"n_per_class": 10**12}, {"n_per_class": 1.5}, {"n_per_class": "100"}, {"seed": 2.5}],
    ids=["huge", "fraction", "text", "seed"],
)
def test_recorded_spiral_sizes_are_checked_before_drawing(tmp_path, data):
    pn.save(tmp_path / "m.npz", pn.init_params([2, 3, 3]), data=data)
    status, stdout, stderr = call("evaluate", str(tmp_path / "m.npz"))
    _one_line_error(status, stdout, stderr)
    assert next(iter(data)) in stderr and "m.npz" in stderr


@pytest.mark.parametrize(
    "args",
    [
        ["data", "--n-per-class", "1000000000000"],
        ["train", "--n-per-class", "10000000", "--classes", "1000", "--steps", "1"],
    ],
    ids=["per-class", "in-all"],
)
def test_spiral_sizes_on_the_command_line_have_the_same_limits(args):
    status, stdout, stderr = call(*args)
    _one_line_error(status, stdout, stderr)
    assert "--n-per-class" in stderr


# --- 4. CSV files -------------------------------------------------------------------------------


def test_a_field_over_the_csv_limit_is_one_line_naming_file_and_line(model, tmp_path):
    path, _ = model
    (tmp_path / "long.csv").write_text("0.1,0.2\n0.3,0.4\n" + "1" * 200_000 + ",0.5\n")
    status, stdout, stderr = call("predict", str(path), str(tmp_path / "long.csv"))
    _one_line_error(status, stdout, stderr)
    assert "long.csv line 3" in stderr and "field larger than field limit" in stderr


# --- 5. SIGTERM while writing files ------------------------------------------------------------


def test_sigterm_during_training_exits_143_and_saves_what_it_reached(tmp_path):
    target = tmp_path / "m.npz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "portable_net", "train", *SMALL, *LONG, "--save", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        assert proc.stdout.readline().startswith("iteration 0 loss")  # training has started
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr
    lines = stderr.strip().splitlines()
    assert lines[-1] == "portable-net train: terminated"
    # the interrupted run's parameters, saved whole (written to a temporary name, renamed)
    assert "the parameters reached are saved to" in lines[0]
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]
    _, meta = pn.load(target)
    assert meta["interrupted_at_step"] >= 1


_WHILE_WRITING = """\
import os, signal, sys, time
{patch}

def write_then_sigterm(*args, **kwargs):
    print("hooked", flush=True)
    target = args[{file_arg}]
    (target.write if hasattr(target, "write") else open(target, "wb").write)(b"partial")
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)

{replace} = write_then_sigterm
from portable_net.cli import main
sys.exit(main({args!r}))
"""


@pytest.mark.parametrize(
    ("patch", "file_arg", "option"),
    [
        ("import numpy; target = numpy.savez", 0, "--save"),
        ("from matplotlib.figure import Figure; target = Figure.savefig", 1, "--plot"),
    ],
    ids=["save", "plot"],
)
def test_sigterm_while_writing_removes_the_partial_file(tmp_path, patch, file_arg, option):
    if option == "--plot":
        pytest.importorskip("matplotlib")
    target = tmp_path / ("m.npz" if option == "--save" else "p.png")
    code = _WHILE_WRITING.format(
        patch=patch.split(";")[0],
        file_arg=file_arg,
        replace=patch.split("= ")[1],
        args=["train", *SMALL, "--steps", "2", option, str(target)],
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": os.getcwd()},
    )
    if "hooked" not in out.stdout and out.returncode == 0:
        pytest.skip(f"the file is no longer written through {patch.split('= ')[1]}")
    assert out.returncode == 143, out.stderr
    assert out.stderr.strip().endswith("portable-net train: terminated"), out.stderr
    assert "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []  # neither the target nor a hidden temporary file


# --- 6. long values: the message is cut ----------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--hidden", "9" * 5000],
        ["train", "--backend", "x" * 10_000],
        ["train", "--hidden", "4", "x" * 10_000],
        ["predict", "n" * 3000 + ".npz", "p.csv"],
    ],
    ids=["huge-number", "backend", "layer-list", "model-name"],
)
def test_an_error_about_a_long_value_is_cut_short(args):
    status, stdout, stderr = call(*args)
    _one_line_error(status, stdout, stderr)
    assert len(stderr) < 400 and "..." in stderr, stderr
