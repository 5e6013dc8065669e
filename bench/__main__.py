"""The benchmark suite: ``python -m bench [--quick] [--backends numpy,torch] [--rounds 3]``.

Times training steps of every installed backend at several sizes against the case study's
loop transcribed literally in NumPy (``bench/reference.py``), timed in the same run,
alternating with the measured code, each measurement in its own process
(``bench/_worker.py``) with glibc's heap trimming and mmap threshold set high for both sides
(``MALLOC_*``), so the ratio measures computation and not the allocator's luck. Reports
medians over rounds, ratios to the reference and peak traced memory; writes
``<machine>.json`` and ``.md`` to ``--output DIR`` (default: a new temporary directory, printed;
``--output bench/results`` updates the committed results).

Also: the whole-process comparison (``portable-net train`` against the case study's script,
default environment), the block-size ablation, and the slope of cost against points.

Every measurement reports the engine that ran (``bench/_worker.py``); one that is not the
engine its row names (the fused CuPy step falling back to the portable step, a CUDA graph not
captured) is a failure, as is a worker that fails or runs past its timeout: each is recorded
under ``"failures"`` (with the error's last lines) and the rest goes on; the suite then exits 1.
The results files are rewritten after every group of measurements, so that a run cut short
keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
HIGH = str(2**30)
MALLOC_ENV = {
    "MALLOC_TOP_PAD_": HIGH,
    "MALLOC_TRIM_THRESHOLD_": HIGH,
    "MALLOC_MMAP_THRESHOLD_": HIGH,
}

# (points per class, hidden): 300, 30,000, 300,000 points; 3,000,000 on a GPU
CPU_SIZES = [(100, 100), (100, 1024), (10_000, 100), (10_000, 1024), (100_000, 100)]
CASE_STUDY = (100, 100)
GPU_LARGE = (1_000_000, 256)
GPU_SIZES = [*CPU_SIZES, (1_000_000, 100), GPU_LARGE]
GPU_MIN_STEPS = 100  # device runs: enough steps that the marginal time is not launch noise
WORKER_SECONDS = 900  # a measurement's time limit (--worker-timeout)
WORK_PER_ROUND = 3e8  # about this many activation-updates (N * H * steps) per timed run


def machine_name() -> str:
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    except Exception:
        pass
    try:
        text = Path("/proc/cpuinfo").read_text()
        return re.search(r"model name\s*:\s*(.+)", text).group(1).strip()
    except Exception:
        return platform.processor() or platform.machine()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class WorkerFailed(RuntimeError):
    """A measurement's process failed or ran out of time; ``tail``: its last lines of output."""

    def __init__(self, spec: dict, tail: str):
        super().__init__(f"worker failed for {spec}:\n{tail}")
        self.spec, self.tail = spec, tail


def _tail(text: str | bytes | None, lines: int = 12) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join((text or "").strip().splitlines()[-lines:])


def worker(spec: dict, env: dict | None = None, timeout: int | None = None) -> dict:
    """One measurement in its own process (``bench/_worker.py``); raises :class:`WorkerFailed`."""
    timeout = WORKER_SECONDS if timeout is None else timeout
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench._worker", json.dumps(spec)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=timeout,
            env={**os.environ, **(env or {}), "PYTHONWARNINGS": "ignore"},
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkerFailed(spec, f"timed out after {timeout} s\n{_tail(exc.stderr)}") from None
    if out.returncode != 0:
        raise WorkerFailed(spec, _tail(out.stderr) or f"exit status {out.returncode}")
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise WorkerFailed(spec, f"no result printed\n{_tail(out.stdout)}") from None


def expected_engine(spec: dict) -> str | None:
    """The engine a measurement must have run (None: not a training run)."""
    if spec.get("kind") != "ours":
        return None
    portable = spec.get("jit") is False
    if spec["backend"] == "cupy" and not portable:
        return "FusedEngine"
    if spec["backend"] == "jax" and not portable:
        return "JaxEngine"
    return "PortableEngine"


def engine_problem(spec: dict, result: dict) -> str | None:
    """Why a measurement did not measure what its row names, or None."""
    want = expected_engine(spec)
    if want is None:
        return None
    got = result.get("engine")
    if got != want:
        why = "; ".join(result.get("warnings", []))
        return f"ran {got or 'an unreported engine'}, not {want}" + (f" ({why})" if why else "")
    if spec.get("graph_steps") and not result.get("graph_captured"):
        return f"no CUDA graph was captured ({result.get('graph_error')})"
    return None


def measure(spec: dict, env: dict | None, failures: list[dict]) -> dict | None:
    """:func:`worker`, with a failure or a wrong engine recorded in ``failures`` (and printed);
    None when nothing was measured."""
    try:
        r = worker(spec, env)
    except WorkerFailed as exc:
        failures.append({"spec": spec, "error": exc.tail})
        print(f"FAILED {json.dumps(spec)}:\n{exc.tail}", flush=True)
        return None
    problem = engine_problem(spec, r)
    if problem:
        failures.append({"spec": spec, "error": problem, "engine": r.get("engine")})
        print(f"FAILED {json.dumps(spec)}: {problem}", flush=True)
    return r


def gpu_devices() -> dict[str, str]:
    """backend -> device name of the GPU backends usable here."""
    import portable_net as pn

    found = pn.available_backends()
    out = {}
    if "cupy" in found:
        out["cupy"] = found["cupy"][0]
    if "torch" in found and any(d.startswith("cuda") for d in found["torch"]):
        out["torch"] = "cuda:0"
    if "jax" in found and any(d.startswith(("gpu", "cuda")) for d in found["jax"]):
        out["jax"] = next(d for d in found["jax"] if d.startswith(("gpu", "cuda")))
    return out


def check_reference() -> dict:
    """The baseline must reproduce the case study: first loss near ln 3, accuracy >= 0.97."""
    from bench import reference

    X, y = reference.spiral_legacy(seed=0)
    W, b, W2, b2 = reference.init_legacy()
    W, b, W2, b2, log = reference.train_two_layer(X, y, W, b, W2, b2)
    acc = float(np.mean(np.argmax(np.maximum(0, X @ W + b) @ W2 + b2, axis=1) == y))
    first = float(log[0][1])
    if abs(first - math.log(3)) > 0.01 or acc < 0.97:
        raise SystemExit(f"the reference loop is broken: first loss {first}, accuracy {acc}")
    return {"first_loss": first, "accuracy": acc, "loss_at_9000": float(log[-1][1])}


def steps_for(n: int, hidden: int, per_step_hint: float | None = None) -> int:
    return int(max(3, min(5000, WORK_PER_ROUND / (n * hidden))))


def matrix(args) -> list[dict]:
    """The configurations to time: (backend, device, size, dtype)."""
    import portable_net as pn

    found = pn.available_backends()
    wanted = args.backends.split(",") if args.backends else list(found)
    configs = []
    gpus = gpu_devices()
    for backend in wanted:
        if backend not in found:
            continue
        on_gpu = backend in gpus and backend != "numpy"
        sizes = GPU_SIZES if on_gpu else CPU_SIZES
        if backend == "array_api_strict":
            sizes = sizes[:1]  # a test backend: the case study's size only
        elif not on_gpu and backend != "numpy":
            sizes = [s for s in sizes if s[0] * s[1] <= 10_000 * 100]
        if args.quick:
            sizes = [s for s in sizes if s[0] * s[1] <= 10_000 * 100]
        pairs = [(size, dtype) for size in sizes for dtype in ("float64", "float32")]
        if args.gpu_check:  # a short visit: the targets' sizes only
            pairs = [(CASE_STUDY, "float64")]
            if on_gpu or (backend == "numpy" and "cupy" in gpus):
                pairs.append((GPU_LARGE, "float32"))
        for (n_per_class, hidden), dtype in pairs:
            configs.append(
                {
                    "backend": backend,
                    "device": gpus.get(backend) if on_gpu else None,
                    "n_per_class": n_per_class,
                    "hidden": hidden,
                    "dtype": dtype,
                }
            )
    if "cupy" in gpus and "numpy" in wanted and not args.quick and not args.gpu_check:
        # the CPU's side of the GPU's speed-up at 3,000,000 points (float32, hidden 256)
        n_per_class, hidden = GPU_LARGE
        configs.append(
            {
                "backend": "numpy",
                "device": None,
                "n_per_class": n_per_class,
                "hidden": hidden,
                "dtype": "float32",
            }
        )
    return configs


SLOW_CPU = 4 * 10**7  # N * H from which a CPU run is slow (seconds per step)


def run_matrix(
    configs: list[dict],
    rounds: int,
    failures: list[dict] | None = None,
    save=None,
    cpu_rounds: int | None = None,
    light_cpu: bool = False,
) -> list[dict]:
    """Per size and dtype: rounds of (reference, then each backend), alternating.

    ``cpu_rounds``: rounds of the slow CPU runs (N * H of SLOW_CPU or more; default
    ``rounds``); ``light_cpu``: those with a warm-up of one step, two timed steps and no
    peak-memory run. ``save(rows)`` is called after each size and dtype.
    """
    failures = [] if failures is None else failures
    groups: dict[tuple, list[dict]] = {}
    for c in configs:
        groups.setdefault((c["n_per_class"], c["hidden"], c["dtype"]), []).append(c)
    rows: list[dict] = []
    for (n_per_class, hidden, dtype), members in groups.items():
        n = 3 * n_per_class
        steps = steps_for(n, hidden)
        slow_cpu = n * hidden >= SLOW_CPU
        with_ref = n * hidden <= SLOW_CPU  # the literal loop holds ~8 arrays of N x H
        times: dict[str, list[float]] = {"reference": []}
        peaks: dict[str, int] = {}
        engines: dict[str, str] = {}
        for i in range(rounds):
            if with_ref:
                r = measure(
                    {
                        "kind": "reference",
                        "backend": "numpy",
                        "n_per_class": n_per_class,
                        "hidden": hidden,
                        "dtype": dtype,
                        "steps": steps,
                    },
                    MALLOC_ENV,
                    failures,
                )
                if r:
                    times["reference"].append(r["seconds_per_step"])
                    peaks["reference"] = r.get("peak_bytes", 0)
            for c in members:
                key = f"{c['backend']}@{c['device'] or 'cpu'}"
                spec = {"kind": "ours", "steps": steps, **c}
                if c["device"]:
                    spec["steps"] = max(steps, GPU_MIN_STEPS)
                elif slow_cpu:
                    if i >= (rounds if cpu_rounds is None else cpu_rounds):
                        continue
                    if light_cpu:
                        spec.update(steps=2, warmup=1, peak=False)
                r = measure(spec, MALLOC_ENV, failures)
                if r is None:
                    continue
                times.setdefault(key, []).append(r["seconds_per_step"])
                engines[key] = r.get("engine", "?")
                if "peak_bytes" in r:
                    peaks[key] = r["peak_bytes"]
        ref = statistics.median(times["reference"]) if times["reference"] else None
        for key, values in times.items():
            if not values:
                continue
            t = statistics.median(values)
            backend, device = (
                key.split("@") if key != "reference" else ("reference (literal NumPy)", "cpu")
            )
            row = {
                "backend": backend,
                "device": device,
                "points": n,
                "hidden": hidden,
                "dtype": dtype,
                "seconds_per_step": t,
                "rounds": values,
                "engine": engines.get(key, "reference"),
                "ratio_to_reference": (t / ref) if ref else None,
                "peak_bytes": peaks.get(key),
                "peak_ratio_to_reference": (peaks[key] / peaks["reference"])
                if key in peaks and peaks.get("reference")
                else None,
            }
            rows.append(row)
            print(format_row(row), flush=True)
        if save is not None:
            save(rows)
    return rows


def format_row(r: dict) -> str:
    ratio = f"{r['ratio_to_reference']:.2f}" if r["ratio_to_reference"] is not None else "-"
    peak = f"{r['peak_bytes'] / 2**20:.1f} MiB" if r.get("peak_bytes") else "-"
    pr = (
        f"{r['peak_ratio_to_reference']:.2f}"
        if r.get("peak_ratio_to_reference") is not None
        else "-"
    )
    return (
        f"| {r['backend']} | {r['device']} | {r['points']:,} | {r['hidden']} | {r['dtype']} | "
        f"{r['seconds_per_step'] * 1e6:,.1f} | {ratio} | {peak} | {pr} | "
        f"{r.get('engine', '-')} |"
    )


def whole_process(rounds: int) -> dict:
    """``portable-net train`` against the case study's script, whole processes, default env."""
    exe = shutil.which("portable-net")
    ours = [exe, "train"] if exe else [sys.executable, "-m", "portable_net", "train"]
    script = [sys.executable, str(ROOT / "bench" / "case_study_script.py")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    times = {"script": [], "portable-net train": []}
    for _ in range(rounds):
        for name, cmd in (("script", script), ("portable-net train", ours)):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"seconds": med, "rounds": times, "ratio": med["portable-net train"] / med["script"]}


def ablation(rounds: int) -> list[dict]:
    """What the row blocks buy at the case study's size, in both allocator settings."""
    out = []
    base = {
        "kind": "ours",
        "backend": "numpy",
        "n_per_class": 100,
        "hidden": 100,
        "dtype": "float64",
        "steps": 3000,
    }
    for env_name, env in (("default allocator", {}), ("MALLOC_* high", MALLOC_ENV)):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        res = {"one block of 300": [], "blocks of 150": [], "reference": []}
        for _ in range(rounds):
            ref = {**base, "kind": "reference"}
            res["reference"].append(worker(ref, {**clean, **env})["seconds_per_step"])
            res["one block of 300"].append(
                worker({**base, "block_elements": 10**9}, {**clean, **env})["seconds_per_step"]
            )
            res["blocks of 150"].append(worker(base, {**clean, **env})["seconds_per_step"])
        for k, v in res.items():
            out.append(
                {"allocator": env_name, "variant": k, "seconds_per_step": statistics.median(v)}
            )
    return out


def gpu_report(
    rows: list[dict], rounds: int, failures: list[dict] | None = None, save=None
) -> dict:
    """CuPy on the GPU: the issue's targets, the roofline and what the fused layer buys.

    - the card's copy bandwidth and float32 FMA throughput, measured in this run;
    - the fused step's bytes and flops (``bench/cupy_cost.py``) at 3,000,000
      points, hidden 256, float32, and the time they bound it to;
    - speed-ups over NumPy on this machine's CPU (same run) at the case study's size and at
      3,000,000 points; the CuPy pool's peak against twice the data plus one layer's
      activations;
    - the fused layer against the portable path (``engine="eager"``) and with CUDA graphs on,
      alternating in rounds (the fused default's times are the matrix's rows of the same
      size, where there are some).

    ``save(report)`` is called after each part, the report holding what is measured so far;
    failed measurements go to ``failures`` and are left out.
    """
    failures = [] if failures is None else failures

    def saved(report):
        if save is not None:
            save(report)
        return report

    from bench.cupy_cost import Plan, bytes_per_step, flops_per_step

    device = gpu_devices()["cupy"]
    out: dict = {"device": device}
    # the card's copy bandwidth and FMA throughput, both from one process per round
    roof = [measure({"kind": "roofline", "backend": "cupy"}, None, failures) for _ in range(rounds)]
    roof = [r for r in roof if r]
    cpu = measure({"kind": "bandwidth", "backend": "numpy"}, None, failures)
    if cpu:
        out["cpu_copy_bytes_per_second"] = cpu["bytes_per_second"]

    def row(backend, points, hidden, dtype):
        for r in rows:
            if (r["backend"], r["points"], r["hidden"], r["dtype"]) == (
                backend,
                points,
                hidden,
                dtype,
            ):
                return r
        return None

    if roof:  # the 3,000,000-point target against the roofline
        out["copy_bytes_per_second"] = statistics.median(r["bytes_per_second"] for r in roof)
        out["fma_flops_per_second"] = statistics.median(r["flops_per_second"] for r in roof)

        n_large = 3 * GPU_LARGE[0]
        h_large = GPU_LARGE[1]
        plan = Plan(n=n_large, d1=3, h=h_large, k=3)
        bytes_step = bytes_per_step(plan, 4)
        flops_step = flops_per_step(plan)
        t_bytes = bytes_step / out["copy_bytes_per_second"]
        t_flops = flops_step / out["fma_flops_per_second"]
        out["large"] = {
            "points": n_large,
            "hidden": h_large,
            "dtype": "float32",
            "bytes_per_step": bytes_step,
            "flops_per_step": flops_step,
            "bandwidth_bound_seconds": t_bytes,
            "compute_bound_seconds": t_flops,
            # the activations a materialising formulation writes and reads: h, relu(h), dh, at
            # least once each way (3 N H values in, 3 N H out), for comparison
            "materialised_bytes_per_step": 6 * n_large * h_large * 4,
        }
        cupy_large, numpy_large = (
            row("cupy", n_large, h_large, "float32"),
            row("numpy", n_large, h_large, "float32"),
        )
        if cupy_large:
            t = cupy_large["seconds_per_step"]
            out["large"]["seconds_per_step"] = t
            out["large"]["ratio_to_bandwidth_bound"] = t / t_bytes
            out["large"]["ratio_to_roofline"] = t / max(t_bytes, t_flops)
            out["large"]["ratio_to_materialised_bandwidth_bound"] = t / (
                out["large"]["materialised_bytes_per_step"] / out["copy_bytes_per_second"]
            )
            if numpy_large:
                out["large"]["speedup_over_numpy"] = numpy_large["seconds_per_step"] / t
                out["large"]["numpy_seconds_per_step"] = numpy_large["seconds_per_step"]
            data_bytes = n_large * (2 * 4 + 8)  # X float32 (N, 2) and int64 labels
            limit = 2 * data_bytes + n_large * h_large * 4
            out["large"]["peak_bytes"] = cupy_large.get("peak_bytes")
            out["large"]["peak_limit_bytes"] = limit
    small_cupy, small_numpy = row("cupy", 300, 100, "float64"), row("numpy", 300, 100, "float64")
    if small_cupy and small_numpy:
        out["small"] = {
            "cupy_seconds_per_step": small_cupy["seconds_per_step"],
            "numpy_seconds_per_step": small_numpy["seconds_per_step"],
            "ratio": small_cupy["seconds_per_step"] / small_numpy["seconds_per_step"],
        }

    saved(out)

    # what the fused layer and graphs buy, alternating in rounds
    variants = {
        "fused (default)": {},
        "portable path (jit=False)": {"jit": False},
        "fused, CUDA graphs of 16 steps": {"graph_steps": 16},
    }
    large_only = {
        "fused, 1 example per forward thread": {"forward_examples": 1},
        "fused, 8 examples per forward thread": {"forward_examples": 8},
    }
    sizes = [(100, 100, "float64", 5000), (*GPU_LARGE, "float32", 100)]
    ablation: list[dict] = []
    out["ablation"] = ablation
    for n_per_class, hidden, dtype, steps in sizes:
        these = {**variants, **(large_only if n_per_class == GPU_LARGE[0] else {})}
        times: dict[str, list[float]] = {k: [] for k in these}
        engines: dict[str, str] = {}
        matrix_row = row("cupy", 3 * n_per_class, hidden, dtype)
        if matrix_row and matrix_row.get("rounds") and matrix_row.get("engine") == "FusedEngine":
            # the same measurement as the matrix's row (same spec and steps): not repeated
            times["fused (default)"] = list(matrix_row["rounds"])
            engines["fused (default)"] = matrix_row["engine"]
        for _ in range(rounds):
            for name, extra in these.items():
                if engines.get(name) and name == "fused (default)":
                    continue
                spec = {
                    "kind": "ours",
                    "backend": "cupy",
                    "device": device,
                    "n_per_class": n_per_class,
                    "hidden": hidden,
                    "dtype": dtype,
                    "steps": steps,
                    **extra,
                }
                r = measure(spec, MALLOC_ENV, failures)
                if r is None:
                    continue
                times[name].append(r["seconds_per_step"])
                engines[name] = r.get("engine", "?")
                if spec.get("graph_steps"):
                    engines[name] += " + CUDA graph" if r.get("graph_captured") else ", no graph"
        for name, values in times.items():
            if not values:
                continue
            ablation.append(
                {
                    "points": 3 * n_per_class,
                    "hidden": hidden,
                    "dtype": dtype,
                    "variant": name,
                    "seconds_per_step": statistics.median(values),
                    "rounds": values,
                    "engine": engines.get(name, "?"),
                }
            )
        saved(out)
    return out


def gpu_lines(g: dict) -> list[str]:
    """The Markdown section of :func:`gpu_report`."""
    lines = ["", f"## CuPy on {g['device']}: targets", ""]
    if "copy_bytes_per_second" in g:
        lines.append(
            f"Copy bandwidth {g['copy_bytes_per_second'] / 1e9:,.0f} GB/s (read + write, 1 GiB "
            f"arrays), float32 FMA throughput {g['fma_flops_per_second'] / 1e12:,.1f} TFLOP/s, "
            "both measured in this run."
        )
    if "cpu_copy_bytes_per_second" in g:
        lines.append(
            f"This machine's CPU copies at {g['cpu_copy_bytes_per_second'] / 1e9:,.1f} GB/s."
        )
    if "large" not in g:
        lines += ["", "(the card's roofline was not measured: see the failures)"]
    else:
        if "small" in g:
            sm = g["small"]
            lines += [
                "",
                f"- Case study's size (300 points, hidden 100, float64): CuPy "
                f"{sm['cupy_seconds_per_step'] * 1e6:,.1f} us per step against NumPy "
                f"{sm['numpy_seconds_per_step'] * 1e6:,.1f} us on this machine's CPU: "
                f"**ratio {sm['ratio']:.2f}** (target at most 1).",
            ]
        lg = g["large"]
        lines += [
            f"- 3,000,000 points, hidden 256, float32: the fused step moves "
            f"{lg['bytes_per_step'] / 1e6:,.0f} MB (Xt1 twice, onehot, dscores out and in, partial "
            f"sums, parameters) and does {lg['flops_per_step'] / 1e9:,.1f} GFLOP (activations "
            f"recomputed in backward): bandwidth bound {lg['bandwidth_bound_seconds'] * 1e6:,.0f} us,"
            f" compute bound {lg['compute_bound_seconds'] * 1e6:,.0f} us. A formulation that "
            f"materialises the activations moves at least "
            f"{lg['materialised_bytes_per_step'] / 1e9:,.1f} GB per step.",
        ]
        if "seconds_per_step" in lg:
            lines += [
                f"  - Time per step {lg['seconds_per_step'] * 1e6:,.0f} us: "
                f"**{lg['ratio_to_roofline']:.2f}x the roofline bound** (the larger of the two), "
                f"{lg['ratio_to_bandwidth_bound']:.1f}x the bandwidth bound alone, "
                f"{lg['ratio_to_materialised_bandwidth_bound']:.2f}x the materialising "
                "formulation's bandwidth bound.",
            ]
            if "speedup_over_numpy" in lg:
                lines.append(
                    f"  - **{lg['speedup_over_numpy']:.0f}x faster than NumPy** on this machine's "
                    "CPU (target at least 30x)."
                )
            if lg.get("peak_bytes"):
                lines.append(
                    f"  - Peak of CuPy's memory pool {lg['peak_bytes'] / 2**20:,.0f} MiB against "
                    f"{lg['peak_limit_bytes'] / 2**20:,.0f} MiB for twice the data plus one layer's "
                    "activations."
                )
    if not g.get("ablation"):
        return lines
    lines += [
        "",
        "### What the fused layer and CUDA graphs buy",
        "",
        "| points | hidden | dtype | variant | us per step | engine that ran |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {a['points']:,} | {a['hidden']} | {a['dtype']} | {a['variant']} | "
        f"{a['seconds_per_step'] * 1e6:,.1f} | {a.get('engine', '-')} |"
        for a in g["ablation"]
    ]
    return lines


def write(results: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    name = slug(results["machine"])
    (out / f"{name}.json").write_text(json.dumps(results, indent=1))
    lines = [
        f"# Benchmark results: {results['machine']}",
        "",
        f"{results['date']}, Python {results['python']}, NumPy {results['numpy']}, "
        f"{results['cores']} cores. Medians of {results['rounds']} rounds; each round times the "
        "reference and then every backend, each in its own process with MALLOC_TOP_PAD_, "
        "MALLOC_TRIM_THRESHOLD_ and MALLOC_MMAP_THRESHOLD_ set to 1 GiB. Time per step is the "
        "marginal cost of a training step; ratio = time / the literal loop's time at the same "
        "size and dtype in the same run (below 1 is faster); peak = traced memory of two steps "
        "(NumPy-backed runs only).",
        "",
        "| backend | device | points | hidden | dtype | us per step | ratio to reference | peak memory | peak ratio | engine |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *[format_row(r) for r in results["rows"]],
    ]
    wp = results.get("whole_process")
    if wp:
        lines += [
            "",
            "## As a user meets it",
            "",
            f"`portable-net train` (10,000 steps of the case study's net, NumPy) took "
            f"{wp['seconds']['portable-net train']:.2f} s against {wp['seconds']['script']:.2f} s "
            f"for the case study's script run as a script, whole processes in the default "
            f"environment, medians of {len(wp['rounds']['script'])} alternating rounds: "
            f"**ratio {wp['ratio']:.2f}**.",
        ]
    if results.get("ablation"):
        lines += [
            "",
            "## What the row blocks buy (NumPy, 300 points, hidden 100, float64)",
            "",
            "| allocator | variant | us per step |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {a['allocator']} | {a['variant']} | {a['seconds_per_step'] * 1e6:.1f} |"
            for a in results["ablation"]
        ]
    if results.get("slope"):
        s = results["slope"]
        lines += [
            "",
            "## Cost against points (NumPy, hidden 100, float64)",
            "",
            f"{s['ns_per_point']:.1f} ns per point per step from 30,000 to 300,000 points; "
            f"10x the points cost {10 * s['growth_10x']:.1f}x the time ({s['growth_10x']:.2f} "
            "of linear growth: no worse than linear below 1).",
        ]
    if results.get("gpu"):
        lines += gpu_lines(results["gpu"])
    if results.get("failures"):
        lines += ["", f"## Failures ({len(results['failures'])})", ""]
        for f in results["failures"]:
            lines += [f"- `{json.dumps(f['spec'])}`:", "", "  ```", *(
                "  " + line for line in str(f["error"]).splitlines()), "  ```"]  # fmt: skip
    lines += [
        "",
        f"Reference check: first loss {results['reference_check']['first_loss']:.6f} "
        f"(ln 3 = 1.098612), accuracy {results['reference_check']['accuracy']:.2f}.",
    ]
    path = out / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv=None) -> int:
    global WORKER_SECONDS
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 30,000 points only")
    parser.add_argument(
        "--backends", default=None, help="comma-separated backends (default: all installed)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds per size (default 3)"
    )
    parser.add_argument(
        "--no-whole-process", action="store_true", help="skip the whole-process comparison"
    )
    parser.add_argument("--no-ablation", action="store_true", help="skip the block-size ablation")
    parser.add_argument(
        "--gpu-check",
        action="store_true",
        help="only the sizes of the GPU targets (300 points float64; 3,000,000 points, hidden "
        "256, float32 on GPUs and NumPy), for a short visit to a GPU machine",
    )
    parser.add_argument(
        "--cpu-rounds",
        type=int,
        default=None,
        metavar="N",
        help="rounds of the slow CPU runs (3,000,000 points on NumPy; default --rounds); with "
        "--gpu-check these are also trimmed to two timed steps after a one-step warm-up",
    )
    parser.add_argument(
        "--worker-timeout",
        type=int,
        default=900,
        metavar="S",
        help="seconds a measurement may take before it is a failure (default 900)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to write <machine>.md and .json (default: a new temporary directory; "
        "--output bench/results updates the committed results)",
    )
    args = parser.parse_args(argv)
    out = args.output or Path(tempfile.mkdtemp(prefix="portable-net-bench-"))
    print(f"# results go to {out}", flush=True)
    started = time.monotonic()
    WORKER_SECONDS = args.worker_timeout

    import portable_net as pn

    results = {
        "machine": machine_name(),
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cores": os.cpu_count(),
        "portable_net": pn.__version__,
        "rounds": args.rounds,
        "reference_check": check_reference(),
    }
    print(f"# {results['machine']}: reference check {results['reference_check']}", flush=True)
    print(
        "| backend | device | points | hidden | dtype | us per step | ratio | peak | peak ratio "
        "| engine |"
    )
    failures: list[dict] = []
    results["failures"] = failures

    def save_rows(rows):
        results["rows"] = rows
        write(results, out)

    results["rows"] = run_matrix(
        matrix(args),
        args.rounds,
        failures,
        save=save_rows,
        cpu_rounds=args.cpu_rounds,
        light_cpu=args.gpu_check,
    )
    np_rows = {
        (r["points"], r["hidden"], r["dtype"]): r
        for r in results["rows"]
        if r["backend"] == "numpy"
    }
    a, b = np_rows.get((30_000, 100, "float64")), np_rows.get((300_000, 100, "float64"))
    if a and b:
        results["slope"] = {
            "ns_per_point": (b["seconds_per_step"] - a["seconds_per_step"]) / 270_000 * 1e9,
            "growth_10x": b["seconds_per_step"] / a["seconds_per_step"] / 10,
        }
    write(results, out)  # kept if a later part fails or runs out of time (a GPU visit is short)
    if "cupy" in gpu_devices() and (not args.backends or "cupy" in args.backends.split(",")):

        def save_gpu(report):
            results["gpu"] = report
            write(results, out)

        results["gpu"] = gpu_report(results["rows"], args.rounds, failures, save=save_gpu)
        write(results, out)
    if not args.no_whole_process:
        results["whole_process"] = whole_process(args.rounds)
        print(f"whole process: {results['whole_process']}", flush=True)
    if not args.no_ablation:
        results["ablation"] = ablation(args.rounds)
    results["seconds"] = time.monotonic() - started
    path = write(results, out)
    print(path.read_text(), flush=True)  # the report, also where only the log comes back
    print(f"wrote {path} and {path.with_suffix('.json')} in {results['seconds']:.0f} s")
    if failures:
        print(f"FAILED: {len(failures)} measurements failed or ran another engine (above)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
