"""The GPU check's guards, on the CPU: a backend that must run on the GPU and cannot is a
failure (the tests' PORTABLE_NET_REQUIRE, the preflight), never a skip that passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import preflight
from portable_net._backend import _usable

ROOT = Path(__file__).resolve().parent.parent


def test_a_required_backend_that_cannot_run_fails_instead_of_skipping():
    if _usable("cupy"):
        pytest.skip("cupy runs here: nothing to refuse")
    env = {**os.environ, "PORTABLE_NET_BACKENDS": "cupy", "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-W", "default",
            "tests/test_data.py", "-k", "bit_identical"]  # fmt: skip
    skipped = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    assert skipped.returncode == 0, skipped.stdout[-2000:]
    assert "skipped" in skipped.stdout
    env["PORTABLE_NET_REQUIRE"] = "cupy,torch"
    failed = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    assert failed.returncode == 1, failed.stdout[-2000:]
    assert "PORTABLE_NET_REQUIRE: cupy is not installed or has no device here" in failed.stdout


def test_the_preflight_fails_unless_every_required_backend_computes_on_a_gpu(
    monkeypatch, tmp_path, capsys
):
    def no_gpu():
        raise RuntimeError("no CUDA device")

    listed = {"numpy": ("cpu",), "cupy": ("cuda:0",), "torch": ("cpu",), "jax": ("gpu:0",)}
    monkeypatch.setattr("portable_net.available_backends", lambda: listed)
    monkeypatch.setattr(preflight, "_cupy", no_gpu)
    monkeypatch.setattr(preflight, "_torch", lambda: "torch on a card")  # but listed on cpu only
    monkeypatch.setattr(preflight, "_jax", lambda: "jax on a card")
    out = tmp_path / "preflight.json"
    assert preflight.main(["--require", "cupy,torch,jax", "--output", str(out)]) == 1
    report = json.loads(out.read_text())
    assert report["missing"] == ["cupy", "torch"]
    assert "no CUDA device" in report["gpu"]["cupy"]["detail"]
    assert "lists no GPU device" in report["gpu"]["torch"]["detail"]
    assert report["gpu"]["jax"]["ok"]
    assert "FAILED: required on a GPU but not working: cupy, torch" in capsys.readouterr().out
    assert preflight.main(["--require", "jax", "--output", str(out)]) == 0
    assert preflight.main(["--require", "", "--output", str(out)]) == 0
