"""A small run of the fused CuPy step, for ``compute-sanitizer --tool memcheck``:
``python -m bench.fused_smoke``.

Trains with the fused kernels (``engine="auto"`` on CuPy) at a few shapes that cover their
paths: the case study's size in float64 and float32, launched one by one and as a CUDA graph,
and a batch large enough for several examples per forward thread and several backward
chunks, each against the portable step (``engine="eager"``) on the same data. CuPy's
memory pool is switched off, so that every buffer is its own allocation and an access past
its end is one the sanitizer sees. Exits 1 if a run did not use the fused step or left the
portable step's numbers.
"""

from __future__ import annotations

import sys
from functools import partial

import numpy as np

# (points per class, hidden, dtype, steps, graph_steps)
RUNS = [
    (100, 100, "float64", 40, 0),
    (100, 100, "float32", 40, 16),
    (30_000, 64, "float32", 3, 0),
]


def main() -> int:
    import cupy

    import portable_net as pn
    from portable_net import engines
    from portable_net._backend import to_host
    from portable_net.engines.cupy_engine import FusedEngine, fused_engine

    cupy.cuda.set_allocator(None)  # no pool: each buffer its own allocation
    failed = False
    for n_per_class, hidden, dtype, steps, graph_steps in RUNS:
        X, y = pn.make_spiral(n_per_class, 3, seed=0, xp="cupy", dtype=dtype)
        params = pn.init_params([2, hidden, 3], seed=0, xp="cupy", dtype=dtype)
        used = []

        def recording(*args, graph_steps=graph_steps, used=used):
            inner = partial(fused_engine, graph_steps=graph_steps) if graph_steps else "auto"
            built = engines.engine_for(*args, engine=inner)
            used.append(built)
            return built

        kw = {"steps": steps, "log_every": max(1, steps // 2)}
        fused, h_fused = pn.train(params, X, y, engine=recording, **kw)
        portable, h_portable = pn.train(params, X, y, engine="eager", **kw)
        rtol = 1e-9 if dtype == "float64" else 1e-4
        diff = max(
            float(np.max(np.abs(to_host(fused[k]) - to_host(portable[k]))))
            / max(1e-30, float(np.max(np.abs(to_host(portable[k])))))
            for k in params
        )
        ok = isinstance(used[0], FusedEngine) and diff <= rtol * 10
        if graph_steps:
            ok = ok and used[0].graph is not None
        failed |= not ok
        print(
            f"{3 * n_per_class} points, hidden {hidden}, {dtype}, {steps} steps, graph_steps "
            f"{graph_steps}: {type(used[0]).__name__}, losses {h_fused.loss} vs "
            f"{h_portable.loss}, largest relative parameter difference {diff:.1e}: "
            f"{'ok' if ok else 'FAILED'}",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
