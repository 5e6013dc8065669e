"""The benchmark's GPU report, on made-up measurements (the real ones need a GPU)."""

from __future__ import annotations

import bench.__main__ as suite
from bench.cupy_cost import Plan, bytes_per_step, flops_per_step


def test_gpu_report_arithmetic(monkeypatch):
    calls = []

    def fake_worker(spec, env=None, timeout=None):
        calls.append(spec)
        if spec["kind"] == "bandwidth":
            return {"bytes_per_second": 2e10}
        if spec["kind"] == "roofline":
            return {"bytes_per_second": 4e12, "flops_per_second": 5e13}
        if suite.expected_engine(spec) == "EagerEngine":
            return {"seconds_per_step": 1e-3, "engine": "EagerEngine"}
        graph = {"graph_steps": 16, "graph_captured": True} if spec.get("graph_steps") else {}
        return {"seconds_per_step": 2e-4, "engine": "FusedEngine", **graph}

    monkeypatch.setattr(suite, "worker", fake_worker)
    monkeypatch.setattr(suite, "gpu_devices", lambda: {"cupy": "0"})
    n, h = 3 * suite.GPU_LARGE[0], suite.GPU_LARGE[1]
    rows = [
        {"backend": "cupy", "points": n, "hidden": h, "dtype": "float32",
         "seconds_per_step": 1.5e-3, "peak_bytes": 300 * 2**20},
        {"backend": "numpy", "points": n, "hidden": h, "dtype": "float32",
         "seconds_per_step": 0.9},
        {"backend": "cupy", "points": 300, "hidden": 100, "dtype": "float64",
         "seconds_per_step": 40e-6},
        {"backend": "numpy", "points": 300, "hidden": 100, "dtype": "float64",
         "seconds_per_step": 80e-6},
    ]  # fmt: skip
    failures = []
    g = suite.gpu_report(rows, rounds=1, failures=failures)
    assert failures == []
    large = g["large"]
    plan = Plan(n=n, d1=3, h=h, k=3)
    assert large["bytes_per_step"] == bytes_per_step(plan, 4)
    assert large["speedup_over_numpy"] == 0.9 / 1.5e-3
    bound = max(bytes_per_step(plan, 4) / 4e12, flops_per_step(plan) / 5e13)
    assert abs(large["ratio_to_roofline"] - 1.5e-3 / bound) < 1e-12
    assert large["peak_limit_bytes"] == 2 * n * (2 * 4 + 8) + n * h * 4
    assert g["small"]["ratio"] == 0.5
    variants = {a["variant"] for a in g["ablation"]}
    assert {"eager step (the default)", "fused (engine='fused')"} <= variants
    fused = [c for c in calls if c.get("engine") == "fused"]
    assert fused and all(c["backend"] == "cupy" for c in fused)
    text = "\n".join(suite.gpu_lines(g))
    assert "600x faster than NumPy" in text
    assert "ratio 0.50" in text


def test_a_fallback_or_a_failed_worker_is_a_failure_not_a_row(monkeypatch):
    """A measurement that ran the portable step where the fused one was asked for, a CUDA
    graph that was not captured and a worker that died are recorded as failures (with the
    error's last lines), and the other measurements go on."""

    def fake_worker(spec, env=None, timeout=None):
        if spec["kind"] == "roofline":
            raise suite.WorkerFailed(spec, "Traceback\ncupy.cuda.runtime.CUDARuntimeError: oops")
        if spec["kind"] == "bandwidth":
            return {"bytes_per_second": 2e10}
        if spec.get("graph_steps"):
            return {"seconds_per_step": 2e-4, "engine": "FusedEngine", "graph_captured": False,
                    "graph_error": "capture unsupported"}  # fmt: skip
        return {"seconds_per_step": 1e-3, "engine": "EagerEngine",
                "warnings": ["RuntimeWarning: the fused CuPy step is unavailable"]}  # fmt: skip

    monkeypatch.setattr(suite, "worker", fake_worker)
    monkeypatch.setattr(suite, "gpu_devices", lambda: {"cupy": "0"})
    failures = []
    g = suite.gpu_report([], rounds=1, failures=failures)
    assert "CUDARuntimeError: oops" in failures[0]["error"]
    assert "large" not in g and g["cpu_copy_bytes_per_second"] == 2e10
    # the run goes on without the roofline: the ablation is measured, its fallbacks flagged
    errors = [f["error"] for f in failures[1:]]
    assert any("ran EagerEngine, not FusedEngine" in e and "unavailable" in e for e in errors)
    assert any("no CUDA graph was captured (capture unsupported)" in e for e in errors)
    # the default (eager) ran what it names
    assert not any(suite.expected_engine(f["spec"]) == "EagerEngine" for f in failures)
    by_variant = {a["variant"]: a["engine"] for a in g["ablation"]}
    assert by_variant["fused (engine='fused')"] == "EagerEngine"
    assert "no graph" in by_variant["fused, CUDA graphs of 16 steps"]
    text = "\n".join(suite.gpu_lines(g))
    assert "roofline was not measured" in text and "EagerEngine" in text


def test_fused_step_flop_count_by_hand():
    # per example and unit: forward 3 + 3 FMAs; backward 3 (recompute) + 3 + 3 + 3 FMAs
    assert flops_per_step(Plan(n=10, d1=3, h=4, k=3)) == 10 * 4 * 2 * (6 + 12)
