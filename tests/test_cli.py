"""The command line as a user runs it: a real process, its output and its exit status."""

import math
import os
import re
import shutil
import subprocess
import sys

import pytest

import portable_net as pn
from portable_net._backend import _usable


def run(*args, timeout=300):
    """Run ``portable-net ARGS`` (the installed command, or ``python -m portable_net``)."""
    exe = shutil.which("portable-net")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "portable_net", *args]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def test_train_with_no_options_is_the_case_study():
    out = run("train")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 11
    steps = []
    for line in lines[:10]:
        m = re.fullmatch(r"iteration (\d+) loss (\d+\.\d{6})", line)
        assert m, line
        steps.append(int(m.group(1)))
    assert steps == list(range(0, 10_000, 1000))
    assert float(lines[0].split()[-1]) == pytest.approx(math.log(3), abs=1e-3)
    m = re.fullmatch(r"training accuracy: (\d\.\d\d)", lines[-1])
    assert m and float(m.group(1)) >= 0.97
    # the same numbers as the library
    X, y = pn.make_spiral()
    _, hist = pn.train(pn.init_params([2, 100, 3]), X, y)
    assert [f"iteration {s} loss {v:f}" for s, v in zip(hist.steps, hist.loss)] == lines[:10]


def test_softmax_model_prints_every_10_of_200_steps():
    out = run("train", "--model", "softmax")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [int(line.split()[1]) for line in lines[:-1]] == list(range(0, 200, 10))
    acc = float(lines[-1].split()[-1])
    assert 0.4 <= acc <= 0.6


def test_options_reach_the_training():
    out = run(
        "train",
        "--hidden",
        "8",
        "4",
        "--steps",
        "30",
        "--log-every",
        "10",
        "--lr",
        "0.5",
        "--reg",
        "0",
        "--momentum",
        "0.5",
        "--batch-size",
        "50",
        "--seed",
        "3",
        "--n-per-class",
        "20",
        "--classes",
        "4",
        "--dtype",
        "float32",
    )
    assert out.returncode == 0, out.stderr
    X, y = pn.make_spiral(20, 4, seed=3, dtype="float32")
    _, hist = pn.train(
        pn.init_params([2, 8, 4, 4], seed=3),
        X,
        y,
        steps=30,
        log_every=10,
        learning_rate=0.5,
        reg=0.0,
        momentum=0.5,
        batch_size=50,
        seed=3,
    )
    assert out.stdout.splitlines()[:3] == [
        f"iteration {s} loss {v:f}" for s, v in zip(hist.steps, hist.loss)
    ]


@pytest.mark.parametrize("name", ["array_api_strict", "torch", "jax"])
def test_every_backend_from_the_command_line(name):
    if not _usable(name):
        pytest.skip(f"{name} is not installed")
    out = run("train", "--backend", name, "--steps", "1001")
    assert out.returncode == 0, out.stderr
    ref = run("train", "--steps", "1001")
    assert out.stdout == ref.stdout  # float64 everywhere: the same printed digits


def test_backends_lists_what_is_installed():
    out = run("backends")
    assert out.returncode == 0
    rows = dict(line.split(None, 1) for line in out.stdout.splitlines())
    assert rows["numpy"] == "cpu"
    for name, devices in pn.available_backends().items():
        assert rows[name] == ", ".join(devices)


def test_help_documents_every_option():
    out = run("train", "--help")
    assert out.returncode == 0
    for option in (
        "--model",
        "--hidden",
        "--backend",
        "--device",
        "--dtype",
        "--steps",
        "--lr",
        "--reg",
        "--momentum",
        "--batch-size",
        "--seed",
        "--n-per-class",
        "--classes",
        "--log-every",
    ):
        assert option in out.stdout


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["train", "--backend", "tensorflow"], "unknown backend 'tensorflow'"),
        (["train", "--device", "cuda:3"], "device 'cuda:3' is not available"),
        (["train", "--steps", "-1"], "--steps: must be >= 0"),
        (["train", "--steps", "ten"], "--steps: expected an integer"),
        (["train", "--lr", "0"], "--lr: must be finite"),
        (["train", "--lr", "nan"], "--lr: must be finite"),
        (["train", "--reg", "-1"], "--reg"),
        (["train", "--momentum", "1"], "--momentum"),
        (["train", "--batch-size", "0"], "--batch-size"),
        (["train", "--hidden", "0"], "--hidden"),
        (["train", "--classes", "1"], "--classes"),
        (["train", "--model", "cnn"], "--model"),
        (["train", "--dtype", "float16"], "--dtype"),
        (["train", "--model", "softmax", "--hidden", "5"], "--hidden applies to --model mlp only"),
        (["fly"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args, match):
    out = run(*args)
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert match in out.stderr and "Traceback" not in out.stderr


def test_uninstalled_backend_is_a_usage_error():
    missing = [b for b in ("cupy", "torch", "jax") if not _usable(b)]
    if not missing:
        pytest.skip("every backend is installed here")
    out = run("train", "--backend", missing[0])
    assert out.returncode == 2 and "is not available" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_divergence_exits_1_with_a_hint():
    out = run("train", "--lr", "1e300", "--steps", "20", "--log-every", "5")
    assert out.returncode == 1
    assert "training diverged" in out.stderr and "smaller learning rate" in out.stderr
    assert "Traceback" not in out.stderr
