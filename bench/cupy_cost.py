"""The cost model of the fused CuPy step (``portable_net.engines.cupy_engine``): the bytes it
moves and the floating-point operations it does per step, for the roofline of the GPU report.

Benchmark-only: the library decides launch geometry (:class:`Plan`), the benchmark what that
geometry should cost.
"""

from __future__ import annotations

from portable_net.engines.cupy_engine import Plan

__all__ = ["Plan", "bandwidth_bound_seconds", "bytes_per_step", "flops_per_step", "itemsize"]


def itemsize(dtype: str) -> int:
    return 4 if dtype == "float32" else 8


def bytes_per_step(plan: Plan, itemsize: int) -> int:
    """Bytes the three kernels read and write per step (parameters' reads not counted per
    thread: they stay in cache).

    forward: Xt1 (D1 N) and onehot (K N) in, dscores (K N) out; backward: Xt1 and dscores in,
    partial (C (H+1) (K+D1)) out; update: partial in, parameters in and out.
    """
    n, d1, h, k = plan.n, plan.d1, plan.h, plan.k
    partial = plan.n_chunks * (h + 1) * (k + d1)
    params = h * d1 + k * h + k
    return itemsize * (d1 * n + 2 * k * n + d1 * n + k * n + 2 * partial + 2 * params)


def bandwidth_bound_seconds(plan: Plan, dtype: str, bytes_per_second: float) -> float:
    """The time the step's memory traffic needs at ``bytes_per_second``."""
    return bytes_per_step(plan, itemsize(dtype)) / bytes_per_second


def flops_per_step(plan: Plan) -> int:
    """Floating-point operations of the fused step (an FMA counts 2), activations recomputed
    in backward: forward 2 H D1 + 2 H K per example, backward 2 H D1 + 4 H K + 2 H D1."""
    n, d1, h, k = plan.n, plan.d1, plan.h, plan.k
    return n * h * (2 * d1 + 2 * k) + n * h * (4 * d1 + 4 * k)
