"""The rest of the command line: pictures, saved models, predict, evaluate, gradcheck, errors."""

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import portable_net as pn
import portable_net.gradcheck
from portable_net._backend import _usable
from portable_net.cli import main
from tests.test_cli import run

HAS_MPL = importlib.util.find_spec("matplotlib") is not None
needs_mpl = pytest.mark.skipif(not HAS_MPL, reason="matplotlib is not installed")
USABLE = [b for b in ("numpy", "array_api_strict", "torch", "jax") if _usable(b)]

SMALL = ["--hidden", "16", "--steps", "400", "--log-every", "100", "--n-per-class", "30"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model trained and saved by the command line, with its printed output."""
    folder = tmp_path_factory.mktemp("model")
    model = folder / "net.npz"
    args = ["train", *SMALL, "--save", str(model)]
    if HAS_MPL:
        args += ["--plot", str(folder / "net.png")]
    out = run(*args)
    assert out.returncode == 0, out.stderr
    return folder, model, out.stdout


def call(*args):
    """Run main() in this process: (exit status, stdout, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(args))
        except SystemExit as exc:
            status = exc.code
    return status, out.getvalue(), err.getvalue()


def _spiral_csv(path, **kw):
    X, y = pn.make_spiral(**kw)
    path.write_text(
        "x0,x1,label\n" + "".join(f"{a!r},{b!r},{c}\n" for (a, b), c in zip(X.tolist(), y.tolist()))
    )
    return X, y


# --- train: saving, pictures, quiet, json, progress --------------------------------------


def test_train_saves_a_model_that_predicts_as_the_library(trained):
    _, model, stdout = trained
    lines = stdout.splitlines()
    assert [line.split()[1] for line in lines[:4]] == ["0", "100", "200", "300"]
    assert re.fullmatch(r"training accuracy: \d\.\d\d", lines[4])
    assert f"model saved to {model}" in lines
    params, meta = pn.load(model)
    assert meta["layer_sizes"] == [2, 16, 3] and meta["model"] == "mlp"
    assert meta["training"]["steps"] == 400 and meta["data"]["n_per_class"] == 30
    # the saved history is what was printed
    assert [
        f"iteration {s} loss {v:f}"
        for s, v in zip(meta["history"]["steps"], meta["history"]["loss"])
    ] == lines[:4]
    # the same weights as the library trains
    X, y = pn.make_spiral(30, 3)
    expected, _ = pn.train(pn.init_params([2, 16, 3]), X, y, steps=400, log_every=100)
    for k in expected:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-12, atol=1e-15)
    assert f"{pn.accuracy(params, X, y):.2f}" == lines[4].split()[-1]


@needs_mpl
def test_train_plot_writes_the_picture(trained):
    import matplotlib.image

    folder, _, stdout = trained
    image = matplotlib.image.imread(folder / "net.png")
    assert image.shape[:2] == (460, 1000)
    assert f"picture saved to {folder / 'net.png'}" in stdout


def test_quiet_prints_only_the_accuracy():
    out = run("train", *SMALL, "--quiet")
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"training accuracy: \d\.\d\d\n", out.stdout)
    assert out.stderr == ""


def test_json_is_one_object_with_the_history_and_metrics():
    out = run("train", *SMALL, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    X, y = pn.make_spiral(30, 3)
    params, hist = pn.train(pn.init_params([2, 16, 3]), X, y, steps=400, log_every=100)
    assert result["history"] == {"steps": hist.steps, "loss": pytest.approx(hist.loss, rel=1e-12)}
    assert result["final_loss"] == pytest.approx(hist.final_loss, rel=1e-12)
    assert result["training_accuracy"] == pn.accuracy(params, X, y)
    assert result["layer_sizes"] == [2, 16, 3] and result["backend"] == "numpy"
    assert result["settings"]["steps"] == 400 and result["settings"]["learning_rate"] == 1.0


#: the command with its progress bar drawn at once (not after two seconds): the bar's
#: drawing on a terminal, whatever the speed of the machine running the test
_NO_DELAY = (
    "import sys; from portable_net.cli import _progress, main; _progress.DELAY = 0.0; "
    "sys.exit(main(sys.argv[1:]))"
)


def _run_on_a_terminal(*args, delay=True):
    """Run portable-net with stdout and stderr on a pseudo-terminal; what it showed there
    (``delay=False``: the bar drawn from the start)."""
    import fcntl
    import pty
    import struct
    import termios

    main_fd, sub_fd = pty.openpty()
    fcntl.ioctl(sub_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # 30x100
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "100"}
    command = ["-m", "portable_net"] if delay else ["-c", _NO_DELAY]
    proc = subprocess.Popen(
        [sys.executable, *command, *args],
        stdout=sub_fd,
        stderr=sub_fd,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(sub_fd)
    chunks = []
    while True:
        try:
            data = os.read(main_fd, 4096)
        except OSError:  # the terminal closed: the process has ended
            break
        if not data:
            break
        chunks.append(data)
    os.close(main_fd)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a Linux pty")
def test_progress_bar_on_a_terminal_only(tmp_path):
    """Without any optional library (the bar is the command's own), for the spiral's steps
    and --data's epochs (classification and regression); never with --quiet or piped."""
    shown = _run_on_a_terminal("train", *SMALL, delay=False)
    assert "steps/s" in shown or "s/step" in shown, shown
    assert "iteration 300 loss" in shown and "training accuracy" in shown
    assert "\x1b[K" in shown and "300/400 steps" in shown  # drawn in place, then erased
    X, y = pn.make_spiral(30, 3, seed=0)
    table = tmp_path / "t.csv"
    table.write_text("a,b,c\n" + "".join(f"{a},{b},{k}\n" for (a, b), k in zip(X, y)))
    for task in ("classification", "regression"):
        shown = _run_on_a_terminal("train", "--data", str(table), "--task", task,
                                   "--max-iter", "30", delay=False)  # fmt: skip
        assert "epochs/s" in shown or "s/epoch" in shown, shown
        assert "epoch 30 loss" in shown
    quiet = _run_on_a_terminal("train", *SMALL, "--quiet", delay=False)
    assert "steps/s" not in quiet and "s/step" not in quiet and "|" not in quiet
    piped = run("train", *SMALL)  # piped: no bar
    assert piped.stderr == "" and "|" not in piped.stdout
    short = _run_on_a_terminal("train", *SMALL)  # a run of less than two seconds: no bar
    assert "steps/s" not in short and "s/step" not in short and "|" not in short


def test_the_bar_waits_two_seconds_then_moves_at_each_report():
    """Progress on a fake clock: nothing drawn before DELAY, then the bar (at most every
    0.1 s, and always at the end), erased when closed; the lines printed above it."""
    import io

    from portable_net.cli import _progress

    now = [0.0]
    screen = io.StringIO()
    bar = _progress.Progress(10, "epoch", enabled=True, stream=screen, clock=lambda: now[0])
    for epoch, at in ((1, 0.5), (2, 1.9)):
        now[0] = at
        bar.update(epoch, 1.0 / epoch)
    assert screen.getvalue() == ""  # under two seconds: nothing on the screen
    now[0] = 2.0
    bar.update(3, 0.25)
    assert screen.getvalue().startswith("\r 30% |") and "3/10 epochs" in screen.getvalue()
    assert "loss 0.25" in screen.getvalue() and screen.getvalue().endswith("\x1b[K")
    drawn = screen.getvalue()
    now[0] = 2.05
    bar.update(4, 0.2)  # within 0.1 s of the last drawing: not redrawn
    assert screen.getvalue() == drawn
    now[0] = 2.06
    bar.update(10, 0.1)  # the end: always drawn
    assert "100% |" in screen.getvalue() and "10/10 epochs" in screen.getvalue()
    bar.close()
    assert screen.getvalue().endswith("\r\x1b[K")  # erased
    off = _progress.Progress(10, "step", enabled=False, stream=screen, clock=lambda: 99.0)
    before = screen.getvalue()
    off.update(5, 1.0)
    assert screen.getvalue() == before


# --- data ---------------------------------------------------------------------------------


def test_data_writes_the_spiral_as_csv(tmp_path):
    out = run("data", "--n-per-class", "7", "--classes", "4", "--seed", "2", "--noise", "0.1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "x0,x1,label"
    table = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    X, y = pn.make_spiral(7, 4, seed=2, noise=0.1)
    np.testing.assert_array_equal(table[:, :2], X)  # every digit kept
    np.testing.assert_array_equal(table[:, 2], y)
    status, _, _ = call("data", "--output", str(tmp_path / "d.csv"))
    assert status == 0 and (tmp_path / "d.csv").read_text().count("\n") == 301


@needs_mpl
def test_data_plot_draws_the_spiral(tmp_path):
    import matplotlib.image

    status, stdout, _ = call("data", "--plot", str(tmp_path / "s.png"))
    assert status == 0 and stdout == ""  # the picture only
    assert matplotlib.image.imread(tmp_path / "s.png").shape[:2] == (500, 500)


# --- predict and evaluate -----------------------------------------------------------------


def test_predict_prints_one_label_per_row(trained, tmp_path):
    _, model, _ = trained
    X, _ = _spiral_csv(tmp_path / "pts.csv", n_per_class=15, seed=5)
    params, _ = pn.load(model)
    out = run("predict", str(model), str(tmp_path / "pts.csv"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [str(v) for v in pn.predict(params, X).tolist()]

    status, _, _ = call(
        "predict", str(model), str(tmp_path / "pts.csv"), "--proba", "--output", str(tmp_path / "p")
    )
    assert status == 0
    header, *rows = (tmp_path / "p").read_text().split()
    assert header == "P(0),P(1),P(2)"
    proba = np.array([[float(v) for v in r.split(",")] for r in rows])
    np.testing.assert_allclose(proba, pn.predict_proba(params, X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_predict_reads_plain_rows_comments_and_stdin(trained, tmp_path):
    _, model, _ = trained
    params, _ = pn.load(model)
    points = np.array([[0.5, 0.5], [-0.3, 0.1], [0.0, -0.7]])
    text = "# three points\n\n 0.5 , 0.5\n-0.3,0.1\n0,-0.7\n"
    (tmp_path / "p.csv").write_text(text)
    expected = [str(v) for v in pn.predict(params, points).tolist()]
    assert call("predict", str(model), str(tmp_path / "p.csv"))[1].splitlines() == expected
    out = subprocess.run(
        [sys.executable, "-m", "portable_net", "predict", str(model), "-"],
        input=text,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and out.stdout.splitlines() == expected


@pytest.mark.parametrize("backend", USABLE)
def test_a_saved_model_predicts_the_same_on_every_backend(trained, tmp_path, backend):
    _, model, _ = trained
    _spiral_csv(tmp_path / "pts.csv", n_per_class=20, seed=7)
    reference = call("predict", str(model), str(tmp_path / "pts.csv"))
    status, stdout, stderr = call(
        "predict", str(model), str(tmp_path / "pts.csv"), "--backend", backend
    )
    assert status == 0, stderr
    assert stdout == reference[1]


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer. Maximum iterations")
def test_classifier_labels_come_back_from_predict(tmp_path):
    X, y = pn.make_spiral(20, 3)
    clf = pn.Classifier((8,), solver="sgd", nesterovs_momentum=False, max_iter=5)
    clf.fit(X, 2 * y + 1)
    clf.save(tmp_path / "clf.npz")
    _spiral_csv(tmp_path / "pts.csv", n_per_class=20)
    status, stdout, _ = call("predict", str(tmp_path / "clf.npz"), str(tmp_path / "pts.csv"))
    assert status == 0
    assert stdout.splitlines() == [str(v) for v in clf.predict(X).tolist()]


def test_evaluate_prints_accuracy_and_loss(trained):
    _, model, stdout = trained
    params, _ = pn.load(model)
    for args, seed, n in (([], 0, 30), (["--seed", "4", "--n-per-class", "50"], 4, 50)):
        status, out, err = call("evaluate", str(model), *args)
        assert status == 0, err
        X, y = pn.make_spiral(n, 3, seed=seed)
        loss, _ = pn.loss_and_grads(params, X, y, reg=0.0)
        lines = out.splitlines()
        assert lines[0] == f"spiral: seed {seed}, {n} points per class, 3 classes"
        assert lines[1] == f"accuracy: {pn.accuracy(params, X, y):.4f}"
        assert lines[2] == f"loss: {float(loss):.6f}"
    # by default the training spiral: the training accuracy again
    default = call("evaluate", str(model))[1].splitlines()[1]
    assert f"{float(default.split()[-1]):.2f}" == stdout.splitlines()[4].split()[-1]
    result = json.loads(call("evaluate", str(model), "--json", "--backend", USABLE[-1])[1])
    X, y = pn.make_spiral(30, 3)
    assert result["accuracy"] == pn.accuracy(params, X, y)


# --- gradcheck ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", USABLE)
def test_gradcheck_passes_on_every_backend(backend):
    status, stdout, stderr = call("gradcheck", "--backend", backend, "--hidden", "10")
    assert status == 0, stdout + stderr
    rows = {line.split()[0]: line for line in stdout.splitlines()[2:6]}
    assert sorted(rows) == ["W1", "W2", "b1", "b2"]
    for row in rows.values():
        assert float(row.split()[-2]) < 1e-4  # relative error column
    assert "largest relative error" in stdout.splitlines()[-1]


def test_gradcheck_softmax_every_entry_is_good():
    status, stdout, _ = call("gradcheck", "--model", "softmax", "--entries", "0", "--json")
    assert status == 0
    result = json.loads(stdout)
    assert set(result["relative_errors"]) == {"W1", "b1"}
    assert result["largest"] < 1e-7 and result["passed"]
    assert set(result["verdicts"].values()) == {"good"}


def test_gradcheck_fails_with_status_1(monkeypatch):
    # a broken gradient, as relative_errors would report it
    monkeypatch.setattr(
        portable_net.gradcheck,
        "relative_errors",
        lambda *a, **k: {"W1": 0.3, "b1": 1e-9, "W2": 2e-5, "b2": 1e-3},
    )
    status, stdout, stderr = call("gradcheck")
    assert status == 1
    verdicts = {line.split()[0]: line.split()[-1] for line in stdout.splitlines()[2:6]}
    assert verdicts == {"W1": "WRONG", "b1": "good", "W2": "acceptable", "b2": "suspicious"}
    assert "a gradient is wrong" in stderr and len(stderr.strip().splitlines()) == 1


def test_gradcheck_threshold_is_an_option():
    assert call("gradcheck", "--model", "softmax", "--fail-above", "1e-15")[0] == 1


# --- help and errors -----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["train", "data", "predict", "evaluate", "gradcheck"])
def test_every_command_has_a_manual(command):
    from portable_net.cli import _parser

    _, subs = _parser()
    status, text, _ = call(command, "--help")
    assert status == 0
    assert "examples:" in text
    flat = " ".join(text.split())
    for action in subs[command]._actions:
        if action.dest == "help":
            continue
        name = action.option_strings[0] if action.option_strings else action.metavar
        assert name in text, name
        assert action.help and len(action.help) > 10, name
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            assert f"default: {action.default}" in flat or "(default:" in action.help, name


def test_top_level_help_lists_the_commands():
    status, text, _ = call("--help")
    assert status == 0
    for command in ("train", "data", "predict", "evaluate", "inspect", "export", "gradcheck",
                    "backends"):  # fmt: skip
        assert command in text
    # what each command does on one's own files comes first
    assert text.index("On your own files:") < text.index("positional arguments")


@pytest.fixture(scope="module")
def files(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    (folder / "ok.csv").write_text("0.1,0.2\n")
    (folder / "letters.csv").write_text("0.1,0.2\n0.3,x\n")
    (folder / "short.csv").write_text("0.1,0.2\n0.3\n")
    (folder / "inf.csv").write_text("0.1,0.2\n0.3,inf\n")
    (folder / "empty.csv").write_text("# nothing\n")
    (folder / "header.csv").write_text("a,b,c\n1,2,3\n")
    (folder / "text.npz").write_text("hello")
    data = trained[1].read_bytes()
    (folder / "cut.npz").write_bytes(data[: len(data) // 3])
    (folder / "binary.csv").write_bytes(b"\xff\xfe\x00bad")
    return {
        "model": str(trained[1]),
        "dir": str(folder),
        **{p.name.replace(".", "_"): str(p) for p in folder.iterdir()},
    }


BAD = [
    (["predict", "{dir}/none.npz", "{ok_csv}"], "none.npz' does not exist"),
    (["predict", "{text_npz}", "{ok_csv}"], "not an .npz"),
    (["predict", "{cut_npz}", "{ok_csv}"], "truncated or corrupted"),
    (["predict", "{model}", "{dir}/none.csv"], "none.csv' does not exist"),
    (["predict", "{model}", "{letters_csv}"], "letters.csv line 2: 'x' is not a number"),
    (["predict", "{model}", "{short_csv}"], "short.csv line 2: expected 2"),
    (["predict", "{model}", "{inf_csv}"], "inf.csv line 2: 'inf' is not a finite number"),
    (["predict", "{model}", "{empty_csv}"], "holds no points"),
    (["predict", "{model}", "{header_csv}"], "header.csv line 1: the header names 3"),
    (["predict", "{model}", "{binary_csv}"], "not a UTF-8 text file"),
    (["predict", "{model}", "{ok_csv}", "--output", "{dir}/no/o.txt"], "does not exist"),
    (["predict", "{model}", "{ok_csv}", "--output", "{dir}"], "is a directory"),
    (["predict", "{model}", "{ok_csv}", "--backend", "tf"], "unknown backend 'tf'"),
    (["predict", "{model}"], "required: POINTS"),
    (["evaluate", "{model}", "--device", "cuda:7"], "device 'cuda:7' is not available"),
    (["evaluate", "{text_npz}"], "not an .npz"),
    (["evaluate", "{model}", "--n-per-class", "0"], "--n-per-class: must be >= 1"),
    (["train", "--save", "{dir}/no/m.npz"], "--save: cannot write"),
    (["train", "--save", "{dir}"], "--save: '"),
    (["train", "--plot", "{dir}/no/p.png"], "--plot: cannot write"),
    (["train", "--plot", "{dir}/p.docx"], "cannot tell the picture format"),
    (["data", "--plot", "{dir}/no/p.png"], "--plot: cannot write"),
    (["data", "--output", "{dir}/no/d.csv"], "--output: cannot write"),
    (["data", "--noise", "-1"], "--noise"),
    (["gradcheck", "--backend", "tf"], "unknown backend"),
    (["gradcheck", "--h", "0"], "--h: must be finite"),
    (["gradcheck", "--model", "softmax", "--hidden", "4"], "--hidden applies"),
    (["gradcheck", "--points", "1"], "--points"),
]


@pytest.mark.parametrize(("args", "match"), BAD, ids=[" ".join(a[:2]) + "|" + m for a, m in BAD])
def test_bad_input_is_one_line_and_exit_2(files, args, match):
    args = [a.format(**files) for a in args]
    if "--plot" in args and not HAS_MPL:
        pytest.skip("matplotlib is not installed")
    status, stdout, stderr = call(*args)
    assert status == 2, stderr
    assert stdout == ""
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert match in stderr, stderr


def test_bad_input_from_a_real_process_has_no_traceback(files):
    out = run("predict", files["model"], files["letters_csv"])
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args", [["train", "--plot", "x.png"], ["data", "--plot", "x.png"]], ids=["train", "data"]
)
def test_plot_without_matplotlib_says_how_to_install_it(args, tmp_path):
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from portable_net.cli import main\n"
        f"sys.exit(main({args!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert out.returncode == 2
    assert "pip install 'portable-net[plot]'" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == "" and not (tmp_path / "x.png").exists()  # refused before training


def test_ctrl_c_while_the_command_imports_its_libraries_is_one_line(tmp_path):
    """Ctrl-C during the command's imports (NumPy's here: the command imports nothing heavy
    before its main runs) is exit status 130 and one line, not a traceback."""
    code = (
        "import sys\n"
        "class CtrlC:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'numpy':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, CtrlC())\n"
        "from portable_net.cli import main\n"
        "assert 'numpy' not in sys.modules\n"
        "sys.exit(main(['train']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert out.returncode == 130, out.stderr
    assert out.stderr.strip() == "portable-net: interrupted" and out.stdout == ""


def test_gradcheck_s_fail_above_default_is_the_library_s_wrong():
    from portable_net import gradcheck
    from portable_net.cli import gradcheck as command

    assert command.WRONG == gradcheck.WRONG


def test_train_s_engine_option_names_train_s_engines(capsys):
    """--engine takes train's engine names; the run on NumPy with each is the same run (the
    arranged step to the order of a few roundings), and fused refuses NumPy's arrays."""
    from portable_net import engines
    from portable_net.cli import _training

    assert _training.ENGINE_NAMES == engines.ENGINE_NAMES
    out = {}
    for engine in ("auto", "eager", "core"):
        assert main(["train", "--steps", "20", "--log-every", "10", "--engine", engine,
                     "--json"]) == 0  # fmt: skip
        out[engine] = json.loads(capsys.readouterr().out)
    assert out["auto"]["history"] == out["eager"]["history"]
    np.testing.assert_allclose(out["core"]["history"]["loss"], out["eager"]["history"]["loss"],
                               rtol=1e-12)  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(["train", "--steps", "2", "--engine", "fused"])
    assert info.value.code == 2
    assert "fused runs CuPy's kernels: it needs --backend cupy" in capsys.readouterr().err
