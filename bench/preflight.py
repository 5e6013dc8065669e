"""Before the GPU check: which backends reach a GPU here (``python -m bench.preflight``).

Prints the card (``nvidia-smi -L``), the versions of Python and the array libraries,
``portable_net.available_backends()`` and, per GPU backend (cupy, torch, jax), whether a
small computation ran on a GPU, with the error's last lines where it did not; also the CUDA
tools found (``compute-sanitizer``, ``nvcc``). Writes the same as JSON to ``--output FILE``
and exits 1 unless every backend named in ``--require`` (default: the environment's
``PORTABLE_NET_REQUIRE``, comma-separated) worked on a GPU.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

GPU_BACKENDS = ("cupy", "torch", "jax")
GPU_LABELS = ("cuda", "gpu")  # device names of a GPU in available_backends()


def find_tool(name: str) -> str | None:
    """A CUDA tool on PATH or in the usual CUDA and Nsight folders, or None."""
    found = shutil.which(name)
    if found:
        return found
    patterns = [
        f"/usr/local/cuda*/bin/{name}",
        f"/usr/local/cuda*/{name}/{name}",
        f"/opt/nvidia/**/{name}",
        f"/usr/local/cuda*/**/bin/{name}",
    ]
    for pattern in patterns:
        hits = sorted(p for p in glob.glob(pattern, recursive=True) if os.access(p, os.X_OK))
        if hits:
            return hits[-1]
    return None


def _tail(exc: BaseException, lines: int = 3) -> str:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return "\n".join(text.strip().splitlines()[-lines:])


def _cupy() -> str:
    import cupy

    x = cupy.arange(1000, dtype=cupy.float32)
    assert float((x * 2).sum()) == 999_000.0
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    return f"cupy {cupy.__version__} on {name}"


def _torch() -> str:
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(f"torch {torch.__version__}: torch.cuda.is_available() is False")
    x = torch.arange(1000, dtype=torch.float32, device="cuda")
    assert float((x * 2).sum()) == 999_000.0
    return f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}"


def _jax() -> str:
    import jax
    import jax.numpy as jnp

    backend = jax.default_backend()
    if backend == "cpu":
        raise RuntimeError(f"jax {jax.__version__}: the default backend is cpu ({jax.devices()})")
    x = jnp.arange(1000, dtype=jnp.float32)
    assert float((x * 2).sum()) == 999_000.0
    return f"jax {jax.__version__} on {jax.devices()[0]} ({backend})"


def preflight(require: list[str]) -> dict:
    report: dict = {"python": sys.version.split()[0], "executable": sys.executable}
    smi = shutil.which("nvidia-smi")
    if smi:
        r = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=60)
        report["nvidia_smi"] = (r.stdout + r.stderr).strip()
    else:
        report["nvidia_smi"] = None
    try:
        import numpy

        report["numpy"] = numpy.__version__
        import portable_net as pn

        report["portable_net"] = pn.__version__
        report["available_backends"] = {k: list(v) for k, v in pn.available_backends().items()}
    except Exception as exc:
        report["available_backends_error"] = _tail(exc)
    report["gpu"] = {}
    listed = report.get("available_backends", {})
    for name, probe in (("cupy", _cupy), ("torch", _torch), ("jax", _jax)):
        gpus = [d for d in listed.get(name, []) if name == "cupy" or d.startswith(GPU_LABELS)]
        try:
            detail = probe()
        except Exception as exc:
            report["gpu"][name] = {"ok": False, "detail": _tail(exc)}
            continue
        if gpus:
            report["gpu"][name] = {"ok": True, "detail": f"{detail}; devices {gpus}"}
        else:
            why = f"{detail}, but available_backends() lists no GPU device for it: {listed}"
            report["gpu"][name] = {"ok": False, "detail": why}
    report["tools"] = {t: find_tool(t) for t in ("compute-sanitizer", "nvcc")}
    report["require"] = require
    report["missing"] = [n for n in require if not report["gpu"].get(n, {}).get("ok")]
    report["platform"] = platform.platform()
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.preflight", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--require",
        default=os.environ.get("PORTABLE_NET_REQUIRE", ""),
        help="comma-separated backends that must work on a GPU (of cupy, torch, jax)",
    )
    parser.add_argument("--output", type=Path, default=None, metavar="FILE", help="JSON report")
    args = parser.parse_args(argv)
    require = [n.strip() for n in args.require.split(",") if n.strip()]
    unknown = sorted(set(require) - set(GPU_BACKENDS))
    if unknown:
        parser.error(f"--require names unknown backends {unknown}; known: {GPU_BACKENDS}")
    report = preflight(require)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=1))
    print(f"nvidia-smi -L: {report['nvidia_smi']}")
    print(f"Python {report['python']} ({report['executable']}), NumPy {report.get('numpy')}")
    print(f"available_backends(): {report.get('available_backends')}")
    for name, r in report["gpu"].items():
        print(f"{name} on a GPU: {'ok, ' if r['ok'] else 'NO: '}{r['detail']}")
    print(f"tools: {report['tools']}")
    if report["missing"]:
        print(f"FAILED: required on a GPU but not working: {', '.join(report['missing'])}")
        return 1
    print(f"preflight ok (required: {', '.join(require) or 'nothing'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
