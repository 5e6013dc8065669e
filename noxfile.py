"""Sessions: lint, the test suite against the built wheel, the test suite per backend.

nox                      lint, and the suite against the wheel on numpy, array_api_strict,
                         torch and jax in one environment (tests_wheel)
nox -s tests_wheel -- -m "not slow"    the same, without the long runs
nox -s "tests(torch)"    the whole suite on one backend, from the checkout (editable)
nox -s tests             that for every backend, plus cupy (skipped without a CUDA GPU)
nox --no-venv --no-install -s "tests(cupy)"   on a GPU machine, offline
bash bench/gpu-check.sh  the GPU check on a GPU machine, offline (the gpu session; bench/GPU.md)

With PORTABLE_NET_ONLY_BACKEND_TESTS=1 in the environment a tests session runs only the
tests that take the backend fixture (xp, device): what another backend must show.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import nox
import nox.command

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

CPU_BACKENDS = ("numpy", "array_api_strict", "torch", "jax")
GPU_BACKENDS = ("cupy",)

# what each backend's session installs besides the package and its test extra;
# torch is pinned to the CPU build this project's machines carry (an unpinned torch is a
# multi-gigabyte CUDA download)
BACKEND_DEPS = {
    "numpy": [],
    "array_api_strict": [],
    "torch": ["torch==2.13.0"],
    "jax": ["jax", "ml_dtypes!=0.7.0"],  # as the jax extra (pyproject.toml says why)
    "cupy": ["cupy-cuda12x"],
}

nox.options.sessions = ["lint", "tests_wheel", "docs"]

ROOT = Path(__file__).resolve().parent


def _has_cuda() -> bool:
    return shutil.which("nvidia-smi") is not None or os.path.exists("/dev/nvidiactl")


@nox.session
@nox.parametrize("backend", [nox.param(b, id=b) for b in CPU_BACKENDS + GPU_BACKENDS])
def tests(session: nox.Session, backend: str) -> None:
    """Run the test suite on one backend (cupy needs a CUDA GPU and is off by default)."""
    if backend in GPU_BACKENDS and not _has_cuda():
        session.skip(f"{backend} needs a CUDA GPU and none is visible")
    # the dask extra: every tests session also covers Dask arrays (tests/test_dask.py)
    session.install("-e", ".[test,plot,dask]", *BACKEND_DEPS[backend])
    session.run(
        "python",
        "-m",
        "pytest",
        *session.posargs,
        env={"PORTABLE_NET_BACKENDS": backend},
        success_codes=[0, 5],  # 5: nothing selected (e.g. -k matching none on this backend)
    )


ALL_CPU_DEPS = ["array-api-strict", "torch==2.13.0", *BACKEND_DEPS["jax"]]


def _check_wheel(wheel: Path) -> None:
    """Every module of the source tree, py.typed and the licence are in the wheel."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    wanted = {p.relative_to(ROOT).as_posix() for p in (ROOT / "portable_net").rglob("*.py")}
    wanted.add("portable_net/py.typed")
    missing = sorted(wanted - names)
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        missing.append("*.dist-info/licenses/LICENSE")
    if missing:
        raise RuntimeError(f"{wheel.name} lacks {missing}")


def _not_copied_to_build(directory: str, names: list[str]) -> set[str]:
    skip = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
    if Path(directory).resolve() == ROOT:
        skip |= {".git", ".nox", ".venv", "build", "dist"}
    return {n for n in names if n in skip or n.endswith(".egg-info")}


@nox.session
def tests_wheel(session: nox.Session) -> None:
    """Build the sdist and from it the wheel, install the wheel (not editable) with every CPU
    backend, Dask, the ONNX export and the test extra, and run the suite from the unpacked
    sdist without its package, so that it imports the installed one: a module missing from the
    wheel fails, and so does a file the tests read that the sdist lacks (MANIFEST.in).

    One pytest run (on two processes, pytest-xdist) covers numpy, array_api_strict, torch and
    jax: the tests that take the backend fixture run on each, the rest once. Arguments after
    ``--`` go to pytest (``-n 0``: one process).
    """
    session.install("build")
    work = Path(tempfile.mkdtemp(prefix="portable-net-wheel-"))
    try:
        # built from a copy (setuptools writes *.egg-info beside the sources), and the wheel
        # from the sdist, so that a file missing from the sdist fails too
        src = work / "src"
        shutil.copytree(ROOT, src, ignore=_not_copied_to_build)
        session.run("python", "-m", "build", "--outdir", str(work / "dist"), str(src))
        (wheel,) = (work / "dist").glob("*.whl")
        _check_wheel(wheel)
        session.install(
            "--force-reinstall",
            "--no-deps",
            str(wheel),
        )
        # the onnx extra too: the export's tests (skipped without it) run here
        session.install(f"{wheel}[test,plot,dask,onnx]", *ALL_CPU_DEPS, "pytest-xdist")
        # the unpacked sdist (tests, bench, examples, docs, README) without the package, so
        # that only the installed wheel can provide portable_net
        (sdist,) = (work / "dist").glob("*.tar.gz")
        with tarfile.open(sdist) as archive:
            archive.extractall(work / "sdist", filter="data")  # Python 3.10.12 and later
        (run_dir,) = (work / "sdist").iterdir()
        shutil.rmtree(run_dir / "portable_net")
        session.chdir(run_dir)
        session.run(
            "python",
            "-c",
            "import pathlib, portable_net as p; f = pathlib.Path(p.__file__); "
            "assert 'site-packages' in f.parts, f'portable_net from {f}, not the wheel'; "
            "print('portable_net', p.__version__, 'from', f.parent)",
        )
        pytest = ("python", "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(run_dir))
        session.run(
            *pytest,
            # both cores (this suite's tests are single-threaded and short); -n 0 turns it off
            "-n",
            "2",
            *session.posargs,
            env={"PORTABLE_NET_BACKENDS": ",".join(CPU_BACKENDS)},
            success_codes=[0, 5],  # 5: nothing selected (-m or -k matching no test)
        )
        # the docstrings' examples, as `pytest --doctest-modules` runs them, from the wheel
        # (its portable_net/conftest.py leaves out modules whose library is not installed)
        session.run(*pytest, "--doctest-modules", "--pyargs", "portable_net")
    finally:
        session.chdir(ROOT)
        shutil.rmtree(work, ignore_errors=True)


@nox.session(default=False)
def compare(session: nox.Session) -> None:
    """Train the same model on every backend; fail where float64 leaves NumPy's numbers."""
    session.install("-e", ".", *ALL_CPU_DEPS)
    session.run("python", "-m", "bench.compare", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Time every backend against the case study's literal loop, and Dask against in-memory
    NumPy; write the results to a new temporary directory each (printed).

    ``nox -s bench -- --output bench/results`` updates the committed results; other arguments
    go to ``python -m bench`` only.
    """
    session.install("-e", ".[dask]", *ALL_CPU_DEPS)
    session.run("python", "-m", "bench", *session.posargs)
    args = list(session.posargs)
    output = []
    for i, arg in enumerate(args):
        if arg == "--output" and i + 1 < len(args):
            output = ["--output", args[i + 1]]
        elif arg.startswith("--output="):
            output = [arg]
    session.run("python", "-m", "bench.dask_bench", *output)


# The GPU check (the `gpu` session, run by bench/gpu-check.sh): its stages, most needed first
# (a short visit may end before the last), what each needs on a GPU, and its own time limit
GPU_STAGES = (
    "preflight",
    "tests-cupy",
    "bench",
    "compare",
    "tests-torch",
    "tests-jax",
    "memcheck",
)
GPU_STAGE_NEEDS = {
    "tests-cupy": "cupy",
    "bench": "cupy",
    "memcheck": "cupy",
    "tests-torch": "torch",
    "tests-jax": "jax",
}
GPU_STAGE_SECONDS = {
    "preflight": 60,
    "tests-cupy": 90,
    "bench": 180,
    "compare": 45,
    "tests-torch": 60,
    "tests-jax": 100,
    "memcheck": 60,
}
GPU_REQUIRE = "cupy,torch,jax"  # backends that must work on the GPU (PORTABLE_NET_REQUIRE)
# each backend's own tests, by the ids of its GPU case (jax: its default device, the GPU); for
# torch and jax not the long runs that exercise no GPU-specific code (mini-batch loops, the
# whole case study, the command line, finite differences, pictures), which their CPU sessions
# and the cupy stage cover
_NOT_LONG = (
    " and not minibatch and not case_study and not cli and not centred_differences and not plot"
)
GPU_TEST_IDS = {"tests-cupy": ("cupy", "cupy"),
                "tests-torch": ("torch", "torch-cuda" + _NOT_LONG),
                "tests-jax": ("jax", "jax" + _NOT_LONG)}  # fmt: skip


def _gpu_commands(py: str, out: Path, backends: str) -> dict[str, tuple[list[str], dict]]:
    """Each stage's command line and the environment it adds."""
    commands: dict[str, tuple[list[str], dict]] = {
        "preflight": ([py, "-m", "bench.preflight", "--output", str(out / "preflight.json")], {})
    }
    for name, (backend, ids) in GPU_TEST_IDS.items():
        commands[name] = (
            # a third-party warning on the GPU machine (CUDA paths, drivers) is reported, not
            # an error that would cost a short visit; portable_net's own deprecations still fail
            [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs", "--durations=5",
             "--continue-on-collection-errors", "-k", ids, "-W", "default",
             "-W", "error::FutureWarning:portable_net"],
            # only the tests that take the backend: the GPU's, not the whole suite three times;
            # JAX takes what it needs of the GPU's memory, not 75 % of it from the start
            {"PORTABLE_NET_BACKENDS": backend, "PORTABLE_NET_ONLY_BACKEND_TESTS": "1",
             "XLA_PYTHON_CLIENT_PREALLOCATE": "false"},
        )  # fmt: skip
    # sized for a short visit: the targets' sizes, 2 rounds (1 for NumPy at 3,000,000
    # points), no CPU extras; the results files are rewritten into `out` as they grow
    commands["bench"] = (
        [py, "-m", "bench", "--backends", backends, "--gpu-check", "--rounds", "2",
         "--cpu-rounds", "1", "--worker-timeout", "100", "--no-ablation", "--no-whole-process",
         "--output", str(out)],
        {},
    )  # fmt: skip
    commands["compare"] = (
        [
            py,
            "-m",
            "bench.compare",
            "--backends",
            backends,
            "--gpu-only",
            "--output",
            str(out / "compare.md"),
        ],
        {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"},
    )
    return commands


def _run_stage(session: nox.Session, args: list[str], env: dict, seconds: int) -> str:
    """Run one stage under its own time limit (its child processes too); its status."""
    if shutil.which("timeout"):  # coreutils: signals the whole process group
        args = ["timeout", "-k", "10", str(seconds), *args]
    try:
        code = subprocess.run(
            args, cwd=ROOT, env={**os.environ, **env}, timeout=seconds + 30
        ).returncode
    except subprocess.TimeoutExpired:
        code = 124
    if code in (124, 137):
        return f"timed out after {seconds} s"
    return "ok" if code == 0 else f"failed (exit status {code})"


@nox.session(default=False, venv_backend="none")
def gpu(session: nox.Session) -> None:
    """On a GPU machine, offline: preflight, the tests on cupy, the GPU benchmark, compare, the
    tests on torch (CUDA) and jax (GPU), a compute-sanitizer run of the fused step.

    The GPU visit runs ``bash bench/gpu-check.sh`` (the device tool's ``run`` with
    ``carry: [".whl"]``, ``timeout_s: 480``, command ``bash bench/gpu-check.sh``), which
    installs the carried wheels (``bench/fetch-gpu-wheels.sh``, see bench/GPU.md) and runs
    ``python3 -m nox --no-venv --no-install -s gpu -- --output $OUT`` under a time limit.

    ``nox --no-venv --no-install -s gpu -- [--output DIR] [STAGE ...]``: the named stages only
    (of preflight, tests-cupy, bench, compare, tests-torch, tests-jax, memcheck; default all),
    results written into DIR as they are produced (default: a new temporary directory): the
    preflight's report, the benchmark's ``<card>.json`` and ``.md``, compare's table and
    ``stages.json`` (each stage's status and time, rewritten after each).

    ``PORTABLE_NET_REQUIRE`` (default ``cupy,torch,jax``; empty to turn it off, as on a machine
    without a GPU) names the backends that must work on the GPU: the preflight fails unless
    they do, and the tests fail instead of skipping them. After a failed preflight the stages
    that need a missing backend are not run; with none of them working the check ends there.
    Every other stage runs even when an earlier one fails, each under its own time limit, and
    the session fails at the end naming the stages that did. Commands run with the Python
    that runs nox (``sys.executable``).
    """
    args = list(session.posargs)
    out = None
    if "--output" in args:
        i = args.index("--output")
        if i + 1 >= len(args):
            session.error("--output needs a directory")
        out = Path(args[i + 1]).resolve()
        del args[i : i + 2]
    out = out or Path(tempfile.mkdtemp(prefix="portable-net-gpu-"))
    out.mkdir(parents=True, exist_ok=True)
    stages = args or list(GPU_STAGES)
    unknown = sorted(set(stages) - set(GPU_STAGES))
    if unknown:
        session.error(f"unknown stages {unknown}; known: {', '.join(GPU_STAGES)}")
    require = os.environ.get("PORTABLE_NET_REQUIRE", GPU_REQUIRE)
    required = [n.strip() for n in require.split(",") if n.strip()]
    session.log(f"results go to {out}; required on the GPU: {require or 'nothing'}")
    py = sys.executable
    env = {"PORTABLE_NET_REQUIRE": require, "PYTHONUNBUFFERED": "1"}
    working = set(required)  # what the preflight found working (all, until it says)
    commands = _gpu_commands(py, out, "numpy,cupy,torch,jax")
    record: dict = {"require": require, "stages": []}
    started = time.monotonic()
    for name in [s for s in GPU_STAGES if s in stages]:
        t0 = time.monotonic()
        # written before it runs: a check stopped by its time limit shows where it was
        entry = {"stage": name, "status": "running", "seconds": None}
        record["stages"].append(entry)
        (out / "stages.json").write_text(json.dumps(record, indent=1))
        need = GPU_STAGE_NEEDS.get(name)
        if need in required and need not in working:
            status = f"not run: {need} does not work on the GPU (preflight)"
        elif name == "memcheck":
            status = _memcheck(session, py, env)
        else:
            if name in ("bench", "compare"):
                backends = ["numpy", *(b for b in ("cupy", "torch", "jax") if b in working
                                       or b not in required)]  # fmt: skip
                commands = _gpu_commands(py, out, ",".join(backends))
            cmd, extra = commands[name]
            session.log(f"stage {name}: {' '.join(cmd)}")
            status = _run_stage(session, cmd, {**env, **extra}, GPU_STAGE_SECONDS[name])
        seconds = time.monotonic() - t0
        entry.update(status=status, seconds=round(seconds, 1))
        record["seconds"] = round(time.monotonic() - started, 1)
        (out / "stages.json").write_text(json.dumps(record, indent=1))
        session.log(f"stage {name}: {status} ({seconds:.0f} s)")
        if name == "preflight" and status != "ok":
            try:
                report = json.loads((out / "preflight.json").read_text())
            except (OSError, ValueError):
                report = {}
            working = {n for n, r in report.get("gpu", {}).items() if r.get("ok")}
            if required and not working & set(required):
                session.error(f"preflight: none of {require} works on the GPU here")
    failed = [s["stage"] for s in record["stages"] if not s["status"].startswith(("ok", "skip"))]
    lines = [f"  {s['stage']:12} {s['status']} ({s['seconds']:.0f} s)" for s in record["stages"]]
    session.log("GPU check, stage by stage:\n" + "\n".join(lines))
    if failed:
        session.error(f"GPU stages failed: {', '.join(failed)}")


def _memcheck(session: nox.Session, py: str, env: dict) -> str:
    """compute-sanitizer's memcheck over a small fused run (``bench/fused_smoke.py``), where
    the tool is on the machine."""
    sys.path.insert(0, str(ROOT))
    from bench.preflight import find_tool

    tool = find_tool("compute-sanitizer")
    if tool is None:
        session.log("stage memcheck: skipped, compute-sanitizer is not on this machine")
        return "skipped: no compute-sanitizer"
    cmd = [tool, "--tool", "memcheck", "--error-exitcode", "86", "--print-limit", "20",
           py, "-m", "bench.fused_smoke"]  # fmt: skip
    session.log(f"stage memcheck: {' '.join(cmd)}")
    return _run_stage(session, cmd, env, GPU_STAGE_SECONDS["memcheck"])


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation into docs/_build/html, warnings as errors (numpydoc-validated).

    ``nox -s docs -- -b linkcheck`` and the like pass options on to sphinx-build.
    """
    session.install("-e", ".[docs]")
    session.run(
        "python", "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html",
        *session.posargs, "docs", "docs/_build/html",
    )  # fmt: skip


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common mistakes with ruff, and the types of portable_net with mypy."""
    # mypy and numpy (whose stubs type the host code) pinned, so that a new release cannot
    # fail the check; the array libraries need not be installed: pyproject's [tool.mypy]
    # reads them as untyped wherever they are
    session.install("ruff==0.17.6", "mypy==2.4.1", "numpy==2.4.6")
    session.run(
        "ruff", "check", "--no-cache", "portable_net", "tests", "bench", "examples", "noxfile.py"
    )
    session.run(
        "ruff",
        "format",
        "--no-cache",
        "--check",
        "portable_net",
        "tests",
        "bench",
        "examples",
        "noxfile.py",
    )
    session.run("mypy")  # [tool.mypy] in pyproject.toml: the files, the strictness


if __name__ == "__main__":
    nox.main()
