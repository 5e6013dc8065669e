"""Sessions: the test suite per backend, and lint.

nox                      lint and the tests on numpy, array_api_strict, torch and jax
nox -s tests             the same tests, plus cupy (skipped without a CUDA GPU)
nox -s "tests(torch)"
nox --no-venv --no-install -s "tests(cupy)"   on a GPU machine, offline
"""

from __future__ import annotations

import os
import shutil
import time

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

nox.options.sessions = ["lint", *(f"tests({b})" for b in CPU_BACKENDS)]


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
    )


ALL_CPU_DEPS = ["array-api-strict", "torch==2.13.0", "jax"]


@nox.session(default=False)
def compare(session: nox.Session) -> None:
    """Train the same model on every backend; fail where float64 leaves NumPy's numbers."""
    session.install("-e", ".", *ALL_CPU_DEPS)
    session.run("python", "-m", "bench.compare", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Time every backend against the case study's literal loop, and Dask against in-memory
    NumPy; write bench/results/."""
    session.install("-e", ".[dask]", *ALL_CPU_DEPS)
    session.run("python", "-m", "bench", *session.posargs)
    session.run("python", "-m", "bench.dask_bench")


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
            ["python", "-m", "pytest", "-q", "--durations=5", "-k", ids],
            {"env": {"PORTABLE_NET_BACKENDS": backend}, "success_codes": [0, 5]},
        )
        for name, (backend, ids) in pytest_ids.items()
    }
    backends = "numpy,cupy,torch,jax"
    commands["compare"] = (["python", "-m", "bench.compare", "--backends", backends], {})
    # sized for a short visit to a GPU machine: the targets' sizes, 2 rounds, no CPU extras
    commands["bench"] = (
        ["python", "-m", "bench", "--backends", backends, "--gpu-check", "--rounds", "2",
         "--no-ablation", "--no-whole-process"],
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
    """Check style and common mistakes with ruff."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", "portable_net", "tests", "bench", "examples", "noxfile.py")
    session.run(
        "ruff", "format", "--check", "portable_net", "tests", "bench", "examples", "noxfile.py"
    )


if __name__ == "__main__":
    nox.main()
