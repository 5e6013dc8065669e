"""Every code block of the README and of the documentation pages runs, and shows what it says.

Each Markdown file (README.md, docs/**/*.md) is run in a fresh Python process, in a
temporary working directory, its blocks in order:

- ```python blocks are executed, all of a file's blocks in one namespace;
- ```pycon blocks are doctests in that namespace (what they define, later blocks see): the
  shown output is checked (``...`` matches anything);
- ```console blocks are shell sessions: each ``$ portable-net ...`` line is run (as
  ``python -m portable_net``) and its output (stdout and stderr, as a terminal shows them) is
  checked against the lines below it (a line ``...`` matches any lines, ``...`` within a line
  any text); ``$ echo $?`` shows the previous command's exit status. Installing
  (``pip install``) and the test runner itself (``nox``) are not run here.

```sh blocks are setup commands (virtual environments, installation, Dask clusters, GPU
machines) and are not run. A block preceded by ``<!-- skip-test: REASON -->`` is skipped;
that is allowed only for code that needs a GPU or a cluster. A file whose code imports an
optional library that is not installed (Dask, matplotlib, ...) is skipped.
"""

from __future__ import annotations

import doctest
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    p
    for p in (ROOT / "docs").rglob("*.md")
    if not {"_build", "generated"} & set(p.relative_to(ROOT / "docs").parts)
)
FILES = [ROOT / "README.md", *PAGES]
RUN_LANGUAGES = ("python", "pycon", "console")
# pages that train for long (the case study's 10,000 steps) or start Dask
SLOW = {"README.md", "docs/tutorial.md", "docs/getting-started.md", "docs/guides/cli.md",
        "docs/guides/dask.md"}  # fmt: skip
SKIP_MARK = re.compile(r"<!--\s*skip-test:\s*(?P<reason>.+?)\s*-->")
ALLOWED_SKIPS = ("GPU", "cluster")
NOT_RUN = ("pip install", "python -m pip install", "python3 -m pip install", "python3 -m nox")
OPTIONAL = {
    "dask",
    "distributed",
    "matplotlib",
    "torch",
    "jax",
    "cupy",
    "array_api_strict",
    "sklearn",
    "ndonnx",
    "onnx",
    "onnxruntime",
}
SKIPPED_FILE = 77  # the exit status of a file that needs a library not installed here
FENCE = re.compile(r"^```(?P<lang>[\w{}-]*)[^\n]*\n(?P<body>.*?)^```\s*$", re.M | re.S)


def code_blocks(text: str) -> list[tuple[str, str, int, str | None]]:
    """(language, body, line number, skip reason or None) of each fenced block."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP_MARK.fullmatch(before.strip())
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(
            (match["lang"], match["body"], line, skip["reason"] if skip is not None else None)
        )
    return blocks


# Shown floats are compared to a relative tolerance, text and integers exactly: a float64 run
# of thousands of gradient steps parts in the fourth digit between the BLAS kernels that
# OpenBLAS picks by CPU (OPENBLAS_CORETYPE), while a changed computation or format moves the
# numbers further or the text.
FLOAT_RTOL = 2e-3
FLOAT = r"[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\d+[eE][-+]?\d+"


class _Checker(doctest.OutputChecker):
    """doctest's checker, with shown floats compared to ``FLOAT_RTOL``."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        pieces = want.split(doctest.ELLIPSIS_MARKER) if optionflags & doctest.ELLIPSIS else [want]
        shown: list[float] = []
        parts = []
        for piece in pieces:
            for i, part in enumerate(re.split(f"({FLOAT})", piece)):
                if i % 2:
                    shown.append(float(part))
                    parts.append(f"({FLOAT})")
                else:
                    parts.append(re.escape(part))
            parts.append(".*?")
        match = re.fullmatch("".join(parts[:-1]), got, re.S)
        return match is not None and all(
            math.isclose(float(printed), value, rel_tol=FLOAT_RTOL, abs_tol=1e-12)
            for printed, value in zip(match.groups(), shown, strict=True)
        )


def _output_matches(expected: str, got: str) -> bool:
    return _Checker().check_output(expected, got, doctest.ELLIPSIS)


def _run_console(body: str, where: str) -> None:
    """Run a console session's portable-net commands and check their output."""
    sessions: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            sessions.append((line[2:].strip(), []))
        elif sessions:
            sessions[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"{where}: output before any command: {line!r}")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env["MPLBACKEND"] = "Agg"
    status = 0
    for command, expected_lines in sessions:
        expected = "\n".join(expected_lines).strip("\n")
        if command == "echo $?":
            got = str(status)
        elif command.startswith(NOT_RUN):
            assert not expected, f"{where}: {command!r} is not run, so it cannot show output"
            continue
        elif command.startswith("portable-net"):
            args = [sys.executable, "-m", "portable_net", *shlex.split(command)[1:]]
            done = subprocess.run(
                args, capture_output=True, text=True, env=env, timeout=300, check=False
            )
            status = done.returncode
            got = (done.stdout + done.stderr).strip("\n")
        else:
            raise AssertionError(f"{where}: the tests do not know how to run {command!r}")
        if not _output_matches(expected + "\n", got + "\n"):
            raise AssertionError(
                f"{where}: {command!r} printed\n{got}\n--- but the page shows\n{expected}"
            )


class _Runner(doctest.DocTestRunner):
    """A doctest runner that lets an optional library's absence through (the file is then
    skipped, as for a ```python block)."""

    def report_unexpected_exception(self, out, test, example, exc_info):  # type: ignore[no-untyped-def]
        exc = exc_info[1]
        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in OPTIONAL:
            raise exc
        super().report_unexpected_exception(out, test, example, exc_info)


def run_file(path: Path) -> None:
    """Run one Markdown file's blocks in order, in one namespace (in this process)."""
    namespace: dict = {"__name__": "__docs__"}
    text = path.read_text(encoding="utf-8")
    parser = doctest.DocTestParser()
    runner = _Runner(checker=_Checker(), optionflags=doctest.ELLIPSIS)
    for lang, body, line, skip in code_blocks(text):
        where = f"{path.relative_to(ROOT)}:{line}"
        if lang not in RUN_LANGUAGES:
            continue
        if skip is not None:
            assert any(word in skip for word in ALLOWED_SKIPS), (
                f"{where}: blocks may be skipped only for GPU or cluster code, not {skip!r}"
            )
            continue
        try:
            if lang == "python":
                exec(compile(body, where, "exec"), namespace)
            elif lang == "pycon":
                test = parser.get_doctest(body, namespace, where, str(path), line)
                result = runner.run(test, clear_globs=False)
                assert result.failed == 0, f"{where}: the example's output differs (above)"
                namespace.update(test.globs)  # the test ran on a copy; later blocks see it
            else:
                _run_console(body, where)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in OPTIONAL:
                print(f"{where}: needs {exc.name}, not installed here")
                sys.exit(SKIPPED_FILE)
            raise


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=[pytest.mark.slow] if str(p.relative_to(ROOT)) in SLOW else [])
        for p in FILES
    ],
    ids=[str(p.relative_to(ROOT)) for p in FILES],
)
def test_code_blocks_run(path: Path, tmp_path: Path) -> None:
    """Each file's code runs in a fresh process (JAX's x64 mode and the like stay there)."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if done.returncode == SKIPPED_FILE:
        pytest.skip(done.stdout.strip())
    assert done.returncode == 0, f"{path.name}:\n{done.stdout}\n{done.stderr}"


def test_blocks_are_found() -> None:
    """The extraction finds the blocks this test is meant to run (it would pass on none)."""
    text = "intro\n\n<!-- skip-test: needs a GPU -->\n```python\nx = 1\n```\n\n```pycon\n>>> 1\n1\n```\n"
    assert code_blocks(text) == [
        ("python", "x = 1\n", 4, "needs a GPU"),
        ("pycon", ">>> 1\n1\n", 8, None),
    ]
    readme = code_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert {"pycon", "console"} <= {lang for lang, *_ in readme}


def test_console_output_is_checked() -> None:
    """A console block whose shown output is wrong fails (the check is not vacuous)."""
    with pytest.raises(AssertionError, match="printed"):
        _run_console("$ portable-net train --steps 1 --log-every 1\nsomething else\n", "here")
    _run_console("$ portable-net train --bogus\n...\n$ echo $?\n2\n", "here")


def test_floats_are_compared_to_a_tolerance() -> None:
    """A float that parts in the fourth digit passes; one further off, or changed text or
    integers, fails."""
    shown = "iteration 3000 loss 0.251628\n...\naccuracy: 0.99\n"
    assert _output_matches(shown, "iteration 3000 loss 0.251447\nmore\naccuracy: 0.99\n")
    assert not _output_matches(shown, "iteration 3000 loss 0.261628\nmore\naccuracy: 0.99\n")
    assert not _output_matches(shown, "iteration 3001 loss 0.251628\nmore\naccuracy: 0.99\n")
    assert not _output_matches(shown, "iteration 3000 loss 0.251628\nmore\naccuracy: 0.98\n")
    assert not _output_matches(shown, "iteration 3000 cost 0.251628\nmore\naccuracy: 0.99\n")


LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def test_relative_links_resolve() -> None:
    """Every relative link of the README, the changelog and the pages names a file that exists
    (outside code blocks; web addresses and anchors within a page are not followed)."""
    broken, seen = [], 0
    for path in [ROOT / "CHANGELOG.md", *FILES]:
        text = FENCE.sub("", path.read_text(encoding="utf-8"))
        for match in LINK.finditer(text):
            target = match["target"].split("#", 1)[0]
            if not target or re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue
            seen += 1
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)}: {match['target']}")
    assert seen >= 10, "the pattern finds the links it is meant to check"
    assert not broken


if __name__ == "__main__":
    run_file(Path(sys.argv[1]).resolve())
