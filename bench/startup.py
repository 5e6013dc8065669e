"""The case study as a user starts it: ``python -m bench.startup [--rounds 5]``.

Whole processes of ``portable-net train --quiet`` (10,000 steps of the case study's net,
float64): NumPy, JAX cold (no persistent compilation cache: every program compiled in the
process), JAX warm (the command's persistent cache, in a temporary directory filled by
one untimed run first) and torch (CPU); ``--burn N`` runs N spinning processes beside them
(results ``startup-burn.md``). Rounds alternate the sides; the report gives medians and ratios to
the NumPy command's from the same run. Results go to ``--output`` (default: a temporary
directory; ``--output bench/results`` to keep them).

Both sides run as a user runs them: the installed command, in the caller's environment less
what changes how the interpreter or the allocator works (``PYTHON*`` settings such as
``PYTHONDONTWRITEBYTECODE``, ``PYTHONTRACEMALLOC`` or ``PYTHONDEVMODE``, ``MALLOC_*``,
``JAX_*``, ``PORTABLE_NET_*``), with the bytecode of the package compiled once (an untimed
run of each side first, its bytecode kept in a temporary ``PYTHONPYCACHEPREFIX``), as an
installed package has it. Each process's CPU time (user + system) and minor page faults are
recorded beside its wall time: on a shared machine a side whose wall time is well above its
CPU time waited for a core (the NumPy command runs its steps on one thread, so it loses more
of its time to other processes than JAX's threads do), and one with many more page faults
ran with another allocator state. The report shows both, and the load average per round.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def command() -> list[str]:
    exe = shutil.which("portable-net")
    return [exe, "train"] if exe else [sys.executable, "-m", "portable_net", "train"]


#: environment variables that change how the interpreter, the allocator or the libraries
#: run (a user's shell does not have them; a test or agent session may)
NOT_A_USERS = ("MALLOC_", "JAX_", "XLA_", "PORTABLE_NET_", "PYTHON")


def _spin(seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        pass


def timed(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall seconds, CPU seconds (user + system) and minor page faults of one process."""
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise subprocess.CalledProcessError(proc.returncode, cmd, stderr=err.read())
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "faults": usage.ru_minflt}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", default=None, help="directory for the results")
    parser.add_argument(
        "--sides",
        default="numpy,jax cold,jax warm,torch",
        help="comma-separated: numpy, jax cold, jax warm, torch",
    )
    parser.add_argument("--burn", type=int, default=0,
                        help="spinning processes beside the measurement (results: "
                        "startup-burn.md)")  # fmt: skip
    args = parser.parse_args(argv)
    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="startup-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    cache = tempfile.mkdtemp(prefix="startup-jax-cache-")
    pycache = tempfile.mkdtemp(prefix="startup-pycache-")
    base = {k: v for k, v in os.environ.items() if not k.startswith(NOT_A_USERS)}
    base["PYTHONPATH"] = str(ROOT)
    base["PYTHONPYCACHEPREFIX"] = pycache
    cmd = [*command(), "--quiet"]
    sides = {
        "numpy": (cmd, base),
        "jax cold": ([*cmd, "--backend", "jax"], {**base, "PORTABLE_NET_JAX_CACHE": "off"}),
        "jax warm": ([*cmd, "--backend", "jax"], {**base, "PORTABLE_NET_JAX_CACHE": cache}),
        "torch": ([*cmd, "--backend", "torch"], base),
    }
    wanted = [s.strip() for s in args.sides.split(",")]
    sides = {k: v for k, v in sides.items() if k in wanted or k == "numpy"}
    spinners = [multiprocessing.Process(target=_spin, args=(3600,)) for _ in range(args.burn)]
    for p in spinners:
        p.start()
    for name in sides:  # untimed: the bytecode compiled, the warm side's cache filled
        timed(*sides[name])
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in sides}
    loads = []
    for r in range(args.rounds):
        loads.append(os.getloadavg()[0])
        for name in sides if r % 2 == 0 else list(sides)[::-1]:
            runs[name].append(timed(*sides[name]))
            print(name, {k: round(v, 2) for k, v in runs[name][-1].items()}, flush=True)
    for p in spinners:
        p.terminate()
        p.join()
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(pycache, ignore_errors=True)
    times = {k: [run["wall"] for run in v] for k, v in runs.items()}
    cpu = {k: [run["cpu"] for run in v] for k, v in runs.items()}
    med = {k: statistics.median(v) for k, v in times.items()}
    # round by round (the sides of a round run one after the other): drift between rounds
    # cancels
    ratio = {
        k: statistics.median(a / b for a, b in zip(v, times["numpy"])) for k, v in times.items()
    }
    cpu_ratio = {
        k: statistics.median(a / b for a, b in zip(v, cpu["numpy"])) for k, v in cpu.items()
    }
    lines = [
        "# The case study from the command line: JAX and torch against NumPy",
        "",
        "`portable-net train --quiet` (10,000 steps, float64), whole processes as a user runs "
        "them (see `bench/startup.py`), medians of "
        f"{args.rounds} alternating rounds (the ratio: the median over rounds of the ratio to "
        "NumPy's in the same round); JAX cold: `PORTABLE_NET_JAX_CACHE=off`; JAX warm: "
        "the persistent compilation cache filled by an earlier run. CPU: user + system "
        "seconds of the process (all its threads). "
        + (f"Beside {args.burn} spinning processes. " if args.burn else "")
        + "Load average at the start: "
        f"{load}; 1-minute load average at each round: "
        f"{', '.join(f'{x:.1f}' for x in loads)}.",
        "",
        "| command | wall seconds | ratio to NumPy | CPU seconds | CPU ratio | all rounds (wall) |",
        "|---|---|---|---|---|---|",
    ]
    for name, values in times.items():
        lines.append(
            f"| {name} | {med[name]:.2f} | {ratio[name]:.2f} | "
            f"{statistics.median(cpu[name]):.2f} | {cpu_ratio[name]:.2f} | "
            f"{', '.join(f'{v:.2f}' for v in values)} |"
        )
    text = "\n".join(lines) + "\n"
    stem = "startup-burn" if args.burn else "startup"
    (out / f"{stem}.md").write_text(text)
    (out / f"{stem}.json").write_text(
        json.dumps({"load": load, "round_loads": loads, "runs": runs}, indent=1)
    )
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
