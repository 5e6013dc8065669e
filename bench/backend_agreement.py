"""How closely the backends follow NumPy's loss, step by step: ``python -m bench.backend_agreement``.

Trains the case study's net (spiral 100 x 3, seed 0, [2, 100, 3], 10,000 full-batch steps,
learning rate 1.0, reg 1e-3, float64) on NumPy and on each other CPU backend installed
(torch, JAX with x64, array-api-strict), logging the loss at every step, and draws
``|loss_backend - loss_numpy|`` per step on a log scale. Writes ``backend-agreement.png`` and
``backend-agreement.json`` (the summary and the library versions) to ``--output`` (default: a
temporary directory; ``--output docs/guides`` redraws the backends guide's figure, whose run
is recorded in ``bench/results/backend-agreement.json``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import platform
import tempfile
from pathlib import Path

import numpy as np

import portable_net as pn

BACKENDS = ("torch", "jax", "array_api_strict")


def loss_curve(xp: str) -> np.ndarray:
    """The loss at each of the case study's 10,000 steps on one backend."""
    X, y = pn.make_spiral(100, 3, seed=0, xp=xp)
    params = pn.init_params([2, 100, 3], seed=0, xp=xp)
    _, history = pn.train(params, X, y, steps=10_000, learning_rate=1.0, reg=1e-3, log_every=1)
    return np.asarray(history.loss, dtype=np.float64)


def summary(diff: np.ndarray, reference: np.ndarray) -> dict[str, float | int]:
    """Where the curves part and how far, for the text of the guide."""
    return {
        "max_before_step_900": float(diff[:900].max()),
        "first_step_over_1e-12": int(np.argmax(diff > 1e-12)) if (diff > 1e-12).any() else -1,
        "max": float(diff.max()),
        "max_at_step": int(diff.argmax()),
        "max_at_logged_steps": float(diff[::1000].max()),
        "max_after_step_3000": float(diff[3000:].max()),
        "max_after_step_8000": float(diff[8000:].max()),
        "final": float(diff[-1]),
        "steps_where_numpy_loss_rises_over_0.01": int((np.diff(reference) > 0.01).sum()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.backend_agreement", description=__doc__)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.output or Path(tempfile.mkdtemp(prefix="portable-net-agreement-"))
    out.mkdir(parents=True, exist_ok=True)
    if importlib.util.find_spec("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reference = loss_curve("numpy")
    record: dict = {
        "run": "case study, 10,000 steps, lr 1.0, reg 1e-3, float64, CPU, loss at every step",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "versions": {"numpy": np.__version__, "portable_net": pn.__version__},
        "backends": {},
    }
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    for name in BACKENDS:
        if not importlib.util.find_spec(name):
            continue
        diff = np.abs(loss_curve(name) - reference)
        record["backends"][name] = summary(diff, reference)
        dist = "array-api-strict" if name == "array_api_strict" else name
        record["versions"][name] = importlib.metadata.version(dist)
        if diff.max() == 0.0:
            record["backends"][name]["note"] = "identical to NumPy at every step (not drawn)"
            continue
        # zeros cannot be drawn on a log scale: shown at 1e-17, below every nonzero difference
        ax.semilogy(np.maximum(diff, 1e-17), lw=0.6, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("|loss - NumPy's loss|")
    ax.set_ylim(1e-17, 10)
    ax.set_title("The case study in float64: each backend's loss against NumPy's, at every step")
    ax.legend()
    fig.savefig(out / "backend-agreement.png", dpi=80)
    (out / "backend-agreement.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    print(f"wrote {out / 'backend-agreement.png'} and {out / 'backend-agreement.json'}")


if __name__ == "__main__":
    main()
