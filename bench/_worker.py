"""One measurement, in its own process: ``python -m bench._worker '<json spec>'``.

Prints one JSON object: seconds per step (the marginal cost: a run of S steps minus a run of
0 steps, so checks, preparation and the final loss are not counted) and the peak memory of
two steps: traced allocations for NumPy-backed runs, the memory pool for CuPy, the CUDA
allocator's peak for torch on a GPU (the input data included).

Runs of ``portable_net.train`` also report which implementation ran (``"engine"``: the
engine's class and settings, built here through :func:`portable_net.engines.engine_for` as
``train`` would, e.g. ``FusedEngine`` with its launch plan and whether a CUDA graph was
captured, or ``PortableEngine`` when the fused kernels fell back) and the warnings raised
(``"warnings"``), so that a fallback cannot pass for the fused step. JAX runs multiply float32
matrices in float32 (``JAX_DEFAULT_MATMUL_PRECISION=highest``, not TF32).

Spec options besides the configuration: ``steps``, ``repeats`` (default 1), ``warmup`` (steps
of the warm-up run, default min(steps, 5)), ``peak`` (false: skip the peak-memory run).
"""

from __future__ import annotations

import json
import os
import sys
import time
import tracemalloc
import warnings

import numpy as np


def _reference(spec, X, y, params):
    from bench import reference

    W, b = params["W1"], params["b1"][None, :]
    W2, b2 = params["W2"], params["b2"][None, :]

    def run(steps):
        t = time.perf_counter()
        reference.train_two_layer(X, y, W, b, W2, b2, steps=steps, log_every=10**9)
        return time.perf_counter() - t

    return run


def describe_engine(engine) -> dict:
    """Which implementation an engine is: its class and the settings that decide its path."""
    out = {"engine": type(engine).__name__}
    plan = getattr(engine, "plan", None)
    if plan is not None:  # the fused CuPy step
        out["plan"] = {k: getattr(plan, k) for k in ("n", "d1", "h", "k", "ex", "chunk")}
        out["graph_steps"] = engine.graph_steps
        out["graph_captured"] = engine.graph is not None
        out["graph_error"] = engine.graph_error
    return out


def _ours(spec, X, y, params, used):
    import portable_net as pn
    from portable_net import engines

    xp = pn.get_namespace(spec["backend"])
    device = spec.get("device")
    from portable_net._backend import resolve_device

    device = resolve_device(xp, device)
    Xb = xp.asarray(X, device=device)
    yb = xp.asarray(y, device=device)
    pb = {k: xp.asarray(v, device=device) for k, v in params.items()}
    if "block_elements" in spec:  # the block-size ablation: the host policy's block sizes
        from portable_net.engines import blocks

        blocks.BLOCK_ELEMENTS = blocks.LARGE_BLOCK_ELEMENTS = spec["block_elements"]

    engine = "eager" if spec.get("jit") is False else "auto"
    if "graph_steps" in spec or "forward_examples" in spec:  # the fused CuPy engine's options
        from functools import partial

        from portable_net.engines.cupy_engine import fused_engine

        engine = partial(
            fused_engine,
            graph_steps=spec.get("graph_steps", 0),
            forward_examples=spec.get("forward_examples"),
        )

    def recording(*args):  # the engine train would build, kept to report which one ran
        built = engines.engine_for(*args, engine=engine)
        used.append(built)
        return built

    def run(steps):
        t = time.perf_counter()
        # ends with a host read of the final loss: the device is synchronised
        pn.train(pb, Xb, yb, steps=steps, log_every=max(steps, 1), engine=recording)
        return time.perf_counter() - t

    return run


def bandwidth(spec: dict) -> dict:
    """Copy bandwidth: bytes read plus bytes written per second by ``dst[...] = src``.

    CuPy: 1 GiB arrays, timed with CUDA events; NumPy: 256 MiB arrays (``np.copyto``).
    Median of 20 copies after a warm-up.
    """
    if spec["backend"] == "cupy":
        import cupy

        n = 2**30 // 4
        src = cupy.ones(n, dtype=cupy.float32)
        dst = cupy.empty_like(src)
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        dst[...] = src
        times = []
        for _ in range(20):
            start.record()
            dst[...] = src
            stop.record()
            stop.synchronize()
            times.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3)
    else:
        n = 2**28 // 4
        src = np.ones(n, dtype=np.float32)
        dst = np.empty_like(src)
        np.copyto(dst, src)
        times = []
        for _ in range(20):
            t = time.perf_counter()
            np.copyto(dst, src)
            times.append(time.perf_counter() - t)
    seconds = float(np.median(times))
    return {"bytes_per_second": 2 * n * 4 / seconds, "bytes": 2 * n * 4, "seconds": seconds}


_FMA_KERNEL = r"""
extern "C" __global__ void fma_loop(float* out, int iters)
{
    float a = threadIdx.x * 1e-7f, b = 1.0f - 1e-7f, c = 1e-7f;
    float x0 = a, x1 = a + 1, x2 = a + 2, x3 = a + 3, x4 = a + 4, x5 = a + 5, x6 = a + 6,
          x7 = a + 7;
    for (int i = 0; i < iters; ++i) {
        x0 = x0 * b + c; x1 = x1 * b + c; x2 = x2 * b + c; x3 = x3 * b + c;
        x4 = x4 * b + c; x5 = x5 * b + c; x6 = x6 * b + c; x7 = x7 * b + c;
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
}
"""


def fma_throughput(spec: dict) -> dict:
    """float32 FMA throughput of the card: 8 independent chains per thread, many threads."""
    import cupy

    kernel = cupy.RawKernel(_FMA_KERNEL, "fma_loop")
    blocks, threads, iters = 132 * 64, 256, 4096
    out = cupy.empty(blocks * threads, dtype=cupy.float32)
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    kernel((blocks,), (threads,), (out, np.int32(iters)))
    times = []
    for _ in range(10):
        start.record()
        kernel((blocks,), (threads,), (out, np.int32(iters)))
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3)
    seconds = float(np.median(times))
    flops = 2.0 * 8 * iters * blocks * threads
    return {"flops_per_second": flops / seconds, "seconds": seconds}


def main(spec: dict) -> dict:
    if spec["kind"] == "bandwidth":
        return bandwidth(spec)
    if spec["kind"] == "fma":
        return fma_throughput(spec)
    if spec["kind"] == "roofline":  # both, in one process (one CUDA context)
        return {**bandwidth(spec), **fma_throughput(spec)}
    if spec["backend"] == "jax":
        os.environ.setdefault("JAX_ENABLE_X64", "1")
        os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")
    import portable_net as pn

    dtype = np.float32 if spec["dtype"] == "float32" else np.float64
    X, y = pn.make_spiral(spec["n_per_class"], 3, seed=0)
    X = X.astype(dtype)
    params = {k: v.astype(dtype) for k, v in pn.init_params([2, spec["hidden"], 3], seed=0).items()}
    used: list = []
    if spec["kind"] == "reference":
        run = _reference(spec, X, y, params)
    else:
        run = _ours(spec, X, y, params, used)
    steps = spec["steps"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(spec.get("warmup", min(steps, 5)))  # warm-up: imports, caches, compilation
        run(0)
        timings = []
        timed = None
        for _ in range(spec.get("repeats", 1)):
            t_steps = run(steps)
            timed = used[-1] if used else None  # the engine of the timed run (one per run)
            timings.append((t_steps - run(0)) / steps)
    out = {"seconds_per_step": float(np.median(timings))}
    if timed is not None:
        out.update(describe_engine(timed))
        if spec["backend"] == "jax":
            import jax

            out["jax_matmul_precision"] = jax.config.jax_default_matmul_precision
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    if messages:
        out["warnings"] = messages
    if spec.get("peak", True) is False:
        pass
    elif spec["kind"] == "reference" or spec["backend"] in ("numpy", "array_api_strict"):
        tracemalloc.start()
        run(2)
        out["peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    elif spec["backend"] == "cupy":  # the pool keeps what the run needed at its peak
        import cupy

        pool = cupy.get_default_memory_pool()
        pool.free_all_blocks()
        run(2)
        out["peak_bytes"] = pool.total_bytes()
    elif spec["backend"] == "torch" and str(spec.get("device") or "cpu").startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()
        run(2)
        out["peak_bytes"] = torch.cuda.max_memory_allocated()
    return out


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
