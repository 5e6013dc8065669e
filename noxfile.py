"""Sessions: lint, the test suite against the built wheel, the test suite per backend.

nox                      lint, and the suite against the wheel on numpy, array_api_strict,
                         torch and jax in one environment (tests_wheel)
nox -s tests_wheel -- -m "not slow"    the same, without the long runs
nox -s "tests(torch)"    the whole suite on one backend, from the checkout (editable)
nox -s tests             that for every backend, plus cupy (skipped without a CUDA GPU)
nox --no-venv --no-install -s "tests(cupy)"   on a GPU machine, offline

With PORTABLE_NET_ONLY_BACKEND_TESTS=1 in the environment a tests session runs only the
tests that take the backend fixture (xp, device): what another backend must show.
"""

from __future__ import annotations

import os
import shutil
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
    "jax": ["jax"],
    "cupy": ["cupy-cuda12x"],
}

nox.options.sessions = ["lint", "tests_wheel"]

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
    session.install("-e", ".[test,plot,progress,dask]", *BACKEND_DEPS[backend])
    session.run(
        "python",
        "-m",
        "pytest",
        *session.posargs,
        env={"PORTABLE_NET_BACKENDS": backend},
        success_codes=[0, 5],  # 5: nothing selected (e.g. -k matching none on this backend)
    )


ALL_CPU_DEPS = ["array-api-strict", "torch==2.13.0", "jax"]


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


def _not_copied(directory: str, names: list[str]) -> set[str]:
    skip = _not_copied_to_build(directory, names)
    if Path(directory).resolve() == ROOT:
        skip |= {"portable_net"} & set(names)
    return skip


@nox.session
def tests_wheel(session: nox.Session) -> None:
    """Build the sdist and from it the wheel, install the wheel (not editable) with every CPU
    backend, Dask and the test extra, and run the suite from a directory outside the
    checkout, so that it imports the installed package: a module missing from the wheel fails.

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
        session.install(f"{wheel}[test,plot,progress,dask]", *ALL_CPU_DEPS, "pytest-xdist")
        # the checkout without the package (tests, bench, examples, docs, README), so that
        # only the installed wheel can provide portable_net
        run_dir = work / "run"
        shutil.copytree(ROOT, run_dir, ignore=_not_copied)
        session.chdir(run_dir)
        session.run(
            "python",
            "-c",
            "import pathlib, portable_net as p; f = pathlib.Path(p.__file__); "
            "assert 'site-packages' in f.parts, f'portable_net from {f}, not the wheel'; "
            "print('portable_net', p.__version__, 'from', f.parent)",
        )
        session.run(
            "python",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(run_dir),
            # both cores (this suite's tests are single-threaded and short); -n 0 turns it off
            "-n",
            "2",
            *session.posargs,
            env={"PORTABLE_NET_BACKENDS": ",".join(CPU_BACKENDS)},
            success_codes=[0, 5],  # 5: nothing selected (-m or -k matching no test)
        )
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


# the GPU check's stages, most needed first (a short visit may end before the last)
GPU_STAGES = ("tests-cupy", "bench", "compare", "tests-torch", "tests-jax")


@nox.session(default=False, venv_backend="none")
def gpu(session: nox.Session) -> None:
    """On a GPU machine, offline: the tests on cupy, torch and jax there, compare, bench.

    ``nox --no-venv --no-install -s gpu -- [STAGE ...]`` runs the named stages only (of
    tests-cupy, bench, compare, tests-torch, tests-jax). Every stage runs even when an earlier
    one fails, and the session fails at the end naming the stages that did, so that one failure
    does not cost the rest of a short visit.
    """
    stages = session.posargs or list(GPU_STAGES)
    unknown = sorted(set(stages) - set(GPU_STAGES))
    if unknown:
        session.error(f"unknown stages {unknown}; known: {', '.join(GPU_STAGES)}")
    session.run("nvidia-smi", "-L", external=True)
    # each backend's own tests (ids naming the GPU backend), not the whole suite three times
    pytest_ids = {"tests-cupy": ("cupy", "cupy"), "tests-torch": ("torch", "torch-cuda"),
                  "tests-jax": ("jax", "jax")}  # fmt: skip
    commands = {
        name: (
            # a third-party warning on the GPU machine (CUDA paths, drivers) is reported, not
            # an error that would cost a short visit; portable_net's own deprecations still fail
            [
                "python",
                "-m",
                "pytest",
                "-q",
                "--durations=5",
                "-k",
                ids,
                "-W",
                "default",
                "-W",
                "error::DeprecationWarning:portable_net",
            ],
            {"env": {"PORTABLE_NET_BACKENDS": backend}, "success_codes": [0, 5]},
        )
        for name, (backend, ids) in pytest_ids.items()
    }
    backends = "numpy,cupy,torch,jax"
    commands["compare"] = (["python", "-m", "bench.compare", "--backends", backends], {})
    # sized for a short visit to a GPU machine: the targets' sizes, 2 rounds, no CPU extras
    commands["bench"] = (
        ["python", "-m", "bench", "--backends", backends, "--gpu-check", "--rounds", "2",
         "--no-ablation", "--no-whole-process", "--output", "bench/results"],
        {},
    )  # fmt: skip
    failed = []
    for name in [s for s in GPU_STAGES if s in stages]:
        args, kwargs = commands[name]
        started = time.monotonic()
        try:
            session.run(*args, **kwargs)
        except nox.command.CommandFailed:
            failed.append(name)
        session.log(f"stage {name}: {time.monotonic() - started:.0f} s")
    if failed:
        session.error(f"GPU stages failed: {', '.join(failed)}")


@nox.session(default=False)
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
