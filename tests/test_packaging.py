"""The source distribution runs its own tests: it holds every file of the suite (its
conftest, helpers and data) and every file the tests read (the README, the changelog, the
docs' pages, the examples, the benchmarks). ``nox -s tests_wheel`` runs the suite from the
unpacked sdist; this test says which file is missing, in seconds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the folders the tests read, whole
READ = ("tests", "docs", "examples", "bench")
#: what is never shipped: caches, builds, the docs' generated pages
LEFT_OUT = {"__pycache__", ".pytest_cache", "_build", "generated"}


def _files(top: Path) -> set[str]:
    found = set()
    for folder in READ:
        for dirpath, dirnames, filenames in os.walk(top / folder):
            dirnames[:] = [d for d in dirnames if d not in LEFT_OUT]
            for name in filenames:
                if not name.endswith((".pyc", ".pyo")):
                    found.add((Path(dirpath) / name).relative_to(top).as_posix())
    return found


def test_the_sdist_holds_the_tests_and_what_they_read(tmp_path):
    pytest.importorskip("setuptools")
    if not (ROOT / "pyproject.toml").is_file() or not (ROOT / "portable_net").is_dir():
        pytest.skip("not run from a source tree (nox runs the suite beside the installed wheel)")
    source = tmp_path / "src"  # a copy: setuptools writes *.egg-info beside the sources
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".nox", ".venv", "build", "dist", "*.egg-info", *LEFT_OUT))  # fmt: skip
    build = ("from setuptools import build_meta; import sys; "
             "print(build_meta.build_sdist(sys.argv[1]))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", build, str(tmp_path / "dist")], cwd=source,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    name = done.stdout.strip().splitlines()[-1]
    with tarfile.open(tmp_path / "dist" / name) as archive:
        top = name.removesuffix(".tar.gz")
        shipped = {m.name.removeprefix(top + "/") for m in archive.getmembers() if m.isfile()}
    assert _files(source) - shipped == set()
    for name in ("README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml", "noxfile.py",
                 "tests/conftest.py", "tests/_helpers.py", "tests/_files.py",
                 "tests/__init__.py", "portable_net/py.typed"):  # fmt: skip
        assert name in shipped, name
