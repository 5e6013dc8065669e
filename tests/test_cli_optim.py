"""portable-net train: the optimiser, schedule, held-out and stopping options; Ctrl-C under
--save; a run that ends worse than it started."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import portable_net as pn
from portable_net.cli.train import format_loss


def run(*args, timeout=300):
    cmd = [sys.executable, "-m", "portable_net", *args]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


SMALL = ["--hidden", "8", "--n-per-class", "20"]


def test_help_lists_the_new_options_with_their_defaults():
    out = run("train", "--help")
    text = " ".join(out.stdout.split())
    for option, default in (
        ("--optimizer", "(default: sgd)"),
        ("--nesterov", None),
        ("--lr-schedule", "(default: constant)"),
        ("--validation-fraction", "0.1 with --early-stopping)"),
        ("--early-stopping", None),
        ("--patience", "(default: 10)"),
        ("--lr", "on the spiral 1.0 for sgd, 0.001 for adam)"),
        ("--solver", "(default: adam)"),
        ("--max-iter", "(default: 200)"),
        ("--alpha", "(default: 0.0001)"),
        ("--learning-rate-init", "the same as --lr"),
    ):
        assert option in text
        if default:
            assert default in text, option


def test_lr_100_warns_and_exits_1():
    out = run("train", "--lr", "100", "--steps", "2000")
    assert out.returncode == 1, out.stderr
    assert "warning: training ended worse than it started" in out.stderr
    assert "at chance" in out.stderr and "Traceback" not in out.stderr
    for line in out.stdout.splitlines():  # losses in a few digits
        assert len(line) < 40, line


def test_large_losses_print_in_a_few_digits():
    assert format_loss(1.0986700001) == "1.098670"
    assert format_loss(1e300) == "1e+300"
    assert format_loss(12345678.9) == "1.23457e+07"


def test_adam_and_the_schedule_options_reach_train():
    args = ["--steps", "300", "--log-every", "100", "--seed", "2", *SMALL]
    out = run("train", *args, "--optimizer", "adam", "--lr", "0.01", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    X, y = pn.make_spiral(20, 3, seed=2)
    _, hist = pn.train(
        pn.init_params([2, 8, 3], seed=2), X, y, steps=300, log_every=100, seed=2,
        optimizer="adam", learning_rate=0.01,
    )  # fmt: skip
    np.testing.assert_allclose(doc["history"]["loss"], hist.loss, rtol=1e-12)
    assert doc["settings"]["optimizer"] == "adam"

    out = run(
        "train", *args, "--momentum", "0.5", "--nesterov", "--lr", "0.2",
        "--lr-schedule", "invscaling", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    _, hist = pn.train(
        pn.init_params([2, 8, 3], seed=2), X, y, steps=300, log_every=100, seed=2,
        optimizer=pn.optim.SGD(0.2, 0.5, nesterov=True), lr_schedule="invscaling",
    )  # fmt: skip
    np.testing.assert_allclose(json.loads(out.stdout)["history"]["loss"], hist.loss, rtol=1e-12)


def test_early_stopping_keeps_the_best_held_out_parameters(tmp_path):
    out = run(
        "train", "--steps", "20000", "--log-every", "100", "--optimizer", "adam", "--lr",
        "0.01", "--early-stopping", "--patience", "3", "--validation-fraction", "0.3",
        "--save", str(tmp_path / "m.npz"), "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    history = json.loads(out.stdout)["history"]
    assert history["stop_reason"] == "early_stopping"
    vals = history["val_loss"]
    # the last 3 (--patience) logged steps did not improve on the best before them by 1e-4
    assert len(vals) < 200 and min(vals[-3:]) > min(vals[:-3]) - 1e-4


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--nesterov"], "--nesterov: needs --optimizer sgd and --momentum > 0"),
        (["--optimizer", "adam", "--momentum", "0.9"], "--momentum: applies to --optimizer sgd"),
        (["--optimizer", "rmsprop"], "--optimizer"),
        (["--lr-schedule", "cosine"], "--lr-schedule"),
        (["--validation-fraction", "1"], "--validation-fraction"),
        (["--patience", "0"], "--patience"),
    ],
)
def test_bad_training_options_are_one_line_and_exit_2(args, match):
    out = run("train", *args)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert match in out.stderr


def test_ctrl_c_saves_the_parameters_reached_and_exits_130(tmp_path):
    target = tmp_path / "m.npz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "portable_net", "train", "--hidden", "4", "--n-per-class", "5",
         "--steps", "100000000", "--log-every", "1000", "--save", str(target)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    try:
        assert proc.stdout.readline().startswith("iteration 0 loss")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert lines[-1] == "portable-net train: interrupted"
    assert "interrupted at step" in lines[0] and str(target) in lines[0]
    params, meta = pn.load(target)
    assert meta["interrupted_at_step"] >= 1 and set(params) == {"W1", "b1", "W2", "b2"}
