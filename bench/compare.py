"""Train the same model on every backend and compare with NumPy: ``python -m bench.compare``.

The case study's net, from the same data and initial weights, on every backend available
here (and each GPU device), in float64 and float32. Reports per backend the largest relative
difference of the logged losses from NumPy's over the first 1000 steps and the final accuracy;
exits 1 when float64 differs by more than 1e-9 there, or a final accuracy by more than 0.01.
JAX multiplies float32 matrices in float32 here (``JAX_DEFAULT_MATMUL_PRECISION=highest``;
TF32, the default on recent GPUs, is not what the float32 comparison assumes). ``--output
FILE`` also writes the table there, line by line; ``--gpu-only`` compares the GPU devices only.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")

import numpy as np

import portable_net as pn

LOSS_TOL = 1e-9  # float64, relative, logged losses of the first 1000 steps
ACC_TOL = 0.01


def targets(backends: list[str] | None, gpu_only: bool = False) -> list[tuple[str, str]]:
    found = pn.available_backends()
    out = []
    for name, devices in found.items():
        if backends and name not in backends:
            continue
        for device in devices:
            on_gpu = name == "cupy" or device.startswith(("cuda", "gpu"))
            if gpu_only and not on_gpu:  # NumPy is the reference, computed anyway
                continue
            if name == "array_api_strict" and device != "CPU_DEVICE":
                continue  # its other devices are test devices of the same CPU
            out.append((name, device))
    return out


def run(name: str, device: str, dtype: str, steps: int, seed: int):
    X, y = pn.make_spiral(seed=seed, xp=name, device=device, dtype=dtype)
    params = pn.init_params([2, 100, 3], seed=seed, xp=name, device=device, dtype=dtype)
    _, h_early = pn.train(params, X, y, steps=1000, log_every=100)
    final, _ = pn.train(params, X, y, steps=steps)
    return np.asarray(h_early.loss), pn.accuracy(final, X, y)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--backends", default=None, help="comma-separated (default: all installed)")
    parser.add_argument("--steps", type=int, default=10_000, help="training steps for the accuracy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--gpu-only",
        action="store_true",
        help="the GPU devices only (not NumPy itself, torch's or JAX's CPU device)",
    )
    parser.add_argument("--output", type=Path, default=None, metavar="FILE", help="the table")
    args = parser.parse_args(argv)
    wanted = args.backends.split(",") if args.backends else None
    failed = False
    sink = args.output.open("w") if args.output else None

    def emit(line: str) -> None:  # to stdout, and to --output as it is produced
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        if sink is not None:
            sink.write(line + "\n")
            sink.flush()

    emit(
        "| backend | device | dtype | max rel. loss diff (steps < 1000) | final accuracy | NumPy's | verdict |"
    )
    emit("| --- | --- | --- | --- | --- | --- | --- |")
    compared = targets(wanted, args.gpu_only)
    if not compared:  # a comparison of nothing is not a pass
        emit("FAILED: nothing to compare" + (" (no GPU device here)" if args.gpu_only else ""))
        return 1
    for dtype in ("float64", "float32"):
        ref_loss, ref_acc = run("numpy", "cpu", dtype, args.steps, args.seed)
        for name, device in compared:
            try:
                loss, acc = run(name, device, dtype, args.steps, args.seed)
            except (ValueError, ImportError) as exc:  # e.g. no float64 on that device
                emit(f"| {name} | {device} | {dtype} | - | - | {ref_acc:.4f} | skipped: {exc} |")
                continue
            diff = float(np.max(np.abs(loss - ref_loss) / np.abs(ref_loss)))
            ok = abs(acc - ref_acc) <= ACC_TOL and (dtype == "float32" or diff <= LOSS_TOL)
            failed |= not ok
            emit(
                f"| {name} | {device} | {dtype} | {diff:.2e} | {acc:.4f} | {ref_acc:.4f} | "
                f"{'ok' if ok else 'FAIL'} |"
            )
    emit("FAILED: a backend does not give NumPy's numbers" if failed else "all backends agree")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
