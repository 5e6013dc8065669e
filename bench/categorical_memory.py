"""The peak memory of reading a file for ``portable-net train --categorical`` against the
numeric path, on files of the same rows: ``python -m bench.categorical_memory [--rows N]
[--source DIR]``.

Two CSV files in a temporary directory, the same rows: one with a text column (five long
region names) beside three numbers and a label, one with that column as a number (0..4).
Each read is a fresh process that imports the command, notes its memory, reads the file as
``train --data`` does (the first file with ``--categorical region`` and with ``--categorical
auto``: the encoded matrix; the second as numbers) and prints the growth of its peak
resident set size (Linux's ``VmHWM``) over what the imports took. The measure is that growth
over the size of the float64 matrix read into, for each read: the categorical reads' within
the numeric read's order (the target: at most 1.5 times the numeric read's ratio); and, for
scale, the file's size. ``--source DIR`` runs the package of another checkout (its
``portable_net``), e.g. an earlier version, for a before-and-after. Prints one JSON line;
writes nothing outside the temporary directory. Linux only (``/proc/self/status``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: reads the file as train does and prints the growth of its peak memory (KiB) on stderr
_READ = """
import argparse, sys
from portable_net.cli import _categorical, _data
def status(key):
    return int([l.split()[1] for l in open("/proc/self/status") if l.startswith(key)][0])
before = status("VmRSS:")
path, how = sys.argv[1], sys.argv[2]
if how == "numbers":
    X = _data.read(path, None, ",")[0]
else:
    args = argparse.Namespace(data=path, label=None, delimiter=",", decimal=".", missing="error",
                              categorical="auto" if how == "auto" else ["region"])
    X = _categorical.read_for_training(args)[0]
print("PEAK", status("VmHWM:") - before, X.shape[1], file=sys.stderr)
"""


def _write(folder: Path, rows: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 3))
    region = rng.integers(0, 5, rows)
    names = np.array(
        [f"{r}-of-the-river-and-the-hills" for r in ("north", "south", "east", "west", "centre")]
    )[region]
    label = np.where(X[:, 0] + (region == 1) > 0.5, "yes", "no")
    text, numbers = folder / "text.csv", folder / "numbers.csv"
    with open(text, "w") as t, open(numbers, "w") as n:
        t.write("a,region,b,c,label\n")
        n.write("a,region,b,c,label\n")
        for start in range(0, rows, 100_000):
            block = slice(start, start + 100_000)
            for (a, b, c), r, k, y in zip(X[block].tolist(), names[block].tolist(),
                                          region[block].tolist(), label[block].tolist()):  # fmt: skip
                t.write(f"{a:.6f},{r},{b:.6f},{c:.6f},{y}\n")
                n.write(f"{a:.6f},{k},{b:.6f},{c:.6f},{y}\n")
    return text, numbers


def _peak_mib(path: Path, how: str, source: str | None) -> tuple[float, int, float]:
    """The growth of the read's peak memory (MiB), the columns of the matrix it read into,
    the seconds the process took."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = source
    t = time.perf_counter()
    # run beside the file: ``python -c`` puts its working directory first on sys.path
    done = subprocess.run([sys.executable, "-c", _READ, str(path), how], capture_output=True,
                          text=True, env=env, check=False, cwd=path.parent)  # fmt: skip
    seconds = time.perf_counter() - t
    peak = [line for line in done.stderr.splitlines() if line.startswith("PEAK ")]
    if done.returncode != 0 or not peak:
        raise RuntimeError(f"the read failed: {done.stderr.strip()[-400:]}")
    _, grown, columns = peak[0].split()
    return int(grown) / 1024.0, int(columns), seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.categorical_memory",
                                     description=__doc__)  # fmt: skip
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--source", default=None, help="a checkout whose portable_net to run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="portable-net-categorical-") as folder:
        text, numbers = _write(Path(folder), args.rows)
        size = text.stat().st_size / 2**20
        runs = {how: _peak_mib(text if how != "numbers" else numbers, how, args.source)
                for how in ("numbers", "named", "auto")}  # fmt: skip
    result: dict[str, object] = {"rows": args.rows, "file_mib": round(size, 1),
                                 "source": args.source or "this checkout"}  # fmt: skip
    for how, (grown, columns, seconds) in runs.items():
        matrix = args.rows * columns * 8 / 2**20  # the float64 matrix read into
        result[f"{how}_read_mib"] = round(grown, 1)
        result[f"{how}_matrix_mib"] = round(matrix, 1)
        result[f"{how}_read_over_matrix"] = round(grown / matrix, 3)
        result[f"{how}_seconds"] = round(seconds, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
