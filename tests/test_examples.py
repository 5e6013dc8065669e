"""The gallery's scripts (examples/plot_*.py) run, print what their figures say, and write
nothing into the checkout (the documentation build runs them from examples/)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "examples").glob("plot_*.py"))
GALLERY = (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8")
# what each script must print (a pattern per line, in order)
PRINTS = {
    "plot_case_study.py": [
        r"softmax classifier: loss 0\.7472, training accuracy 0\.53",
        r"two-layer net, 100 ReLU units: loss 0\.24\d\d, training accuracy 0\.99",
    ],
    "plot_own_csv.py": [r"178 rows, 13 features: alcohol, malic_acid, ash, \.\.\.", r"test accuracy 1\.000"],
    "plot_sklearn_pipeline.py": [
        r"portable_net: accuracy 0\.9[5-9]\d \+- 0\.0\d\d",
        r"MLPClassifier: accuracy 0\.9[5-9]\d \+- 0\.0\d\d",
    ],
    "plot_backends.py": [r"numpy: numpy\.ndarray, final loss 0\.277743, largest difference from NumPy's 0\.0e\+00"],
    "plot_dask.py": [
        r"dask\.array\.core\.Array, chunks \(1500, 1500, 1500, 1500\)",
        r"final loss 0\.\d{6}; largest difference from NumPy's loss \d\.\de-1[2-7]",
    ],
}  # fmt: skip
NEEDS = {
    "plot_own_csv.py": "sklearn",
    "plot_sklearn_pipeline.py": "sklearn",
    "plot_dask.py": "dask",
}


def test_every_script_is_in_the_gallery_and_checked():
    names = {p.name for p in SCRIPTS}
    assert names == set(PRINTS), "a script without expected output, or the reverse"
    assert 3 <= len(names) <= 5
    for name in names:
        assert f".. plot:: ../examples/{name}" in GALLERY, name


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_script_runs_and_writes_nothing_here(script, tmp_path):
    for module in ("matplotlib", NEEDS.get(script.name)):
        if module and importlib.util.find_spec(module) is None:
            pytest.skip(f"needs {module}")
    before = sorted(p.name for p in (ROOT / "examples").iterdir())
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    # from examples/, as the documentation's plot directive runs it
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=ROOT / "examples",
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for pattern in PRINTS[script.name]:
        assert any(re.fullmatch(pattern, line) for line in lines), (pattern, lines)
    assert sorted(p.name for p in (ROOT / "examples").iterdir()) == before
