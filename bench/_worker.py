"""One measurement, in its own process: ``python -m bench._worker '<json spec>'``.

Prints one JSON object: seconds per step (the marginal cost: a run of S steps minus a run of
0 steps, so checks, preparation and the final loss are not counted) and the peak memory of
two steps: traced allocations for NumPy-backed runs, the memory pool for CuPy, the CUDA
allocator's peak for torch on a GPU (the input data included).
"""

from __future__ import annotations

import json
import os
import sys
import time
import tracemalloc

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


def _ours(spec, X, y, params):
    import portable_net as pn

    xp = pn.get_namespace(spec["backend"])
    device = spec.get("device")
    from portable_net._backend import resolve_device

    device = resolve_device(xp, device)
    Xb = xp.asarray(X, device=device)
    yb = xp.asarray(y, device=device)
    pb = {k: xp.asarray(v, device=device) for k, v in params.items()}
    if "block_elements" in spec:
        from portable_net import _packed

        _packed.BLOCK_ELEMENTS = _packed.LARGE_BLOCK_ELEMENTS = spec["block_elements"]

    def run(steps):
        t = time.perf_counter()
        pn.train(pb, Xb, yb, steps=steps, log_every=max(steps, 1))  # ends with a host read
        return time.perf_counter() - t

    return run


def main(spec: dict) -> dict:
    if spec["backend"] == "jax":
        os.environ.setdefault("JAX_ENABLE_X64", "1")
    import portable_net as pn

    dtype = np.float32 if spec["dtype"] == "float32" else np.float64
    X, y = pn.make_spiral(spec["n_per_class"], 3, seed=0)
    X = X.astype(dtype)
    params = {k: v.astype(dtype) for k, v in pn.init_params([2, spec["hidden"], 3], seed=0).items()}
    run = (_reference if spec["kind"] == "reference" else _ours)(spec, X, y, params)
    steps = spec["steps"]
    run(min(steps, 5))  # warm-up: imports, caches, compilation
    run(0)
    timings = []
    for _ in range(spec.get("repeats", 1)):
        timings.append((run(steps) - run(0)) / steps)
    out = {"seconds_per_step": float(np.median(timings))}
    if spec["kind"] == "reference" or spec["backend"] in ("numpy", "array_api_strict"):
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
