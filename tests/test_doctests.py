"""The Examples sections of the docstrings run, and show what they print.

Every module of portable_net is searched for docstring examples (``>>>``), which run as
doctests with NumPy; those of the plotting module need matplotlib (drawn off screen).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import portable_net

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(portable_net.__path__, prefix="portable_net.")
    # __main__ runs the command; params is hyperparameters' earlier name (importing it warns)
    if info.name not in ("portable_net.__main__", "portable_net.params")
)


def _examples(module_name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(module_name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, module_name)
    # only what the module defines (re-exported names are tested where they are defined)
    return [t for t in tests if t.examples and t.name.startswith(module_name)]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name: str) -> None:
    if module_name == "portable_net.plot":
        matplotlib = pytest.importorskip("matplotlib")
        matplotlib.use("Agg")
    tests = _examples(module_name)
    if not tests:
        pytest.skip("no examples")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    try:
        for test in tests:
            runner.run(test)
    finally:
        if module_name == "portable_net.plot":
            import matplotlib.pyplot as plt

            plt.close("all")
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed"


def test_public_objects_have_examples() -> None:
    """Every public function and class shows an example (the API reference's rule)."""
    missing = [
        name
        for name in portable_net.__all__
        if name != "__version__" and "Examples" not in (getattr(portable_net, name).__doc__ or "")
    ]
    assert not missing
