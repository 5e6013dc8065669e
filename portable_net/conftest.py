"""For ``pytest --doctest-modules portable_net`` (or ``--pyargs portable_net``, installed).

A module that exists to use one optional library imports it at the top; where that library
is not installed, the module is left out of the doctest collection rather than written to
import without it. An example of a module that does not need the library everywhere (the
estimators' ``to_onnx``) is skipped where its library is missing. The file travels with the
package, as scikit-learn's and NumPy's do, so that the installed package's examples run too.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

import pytest

# module (relative to this directory) -> the optional library it cannot be imported without
_NEEDS = {
    "engines/jax_engine.py": "jax",
    "engines/compilation_cache.py": "jax",
    "engines/onnx_graph.py": "ndonnx",
    "export.py": "onnxruntime",  # imports ndonnx in its functions: the examples run graphs
    "plot.py": "matplotlib",  # imports it in its functions: the examples draw
}
# examples (by the end of their name) -> the optional libraries they run
_EXAMPLES_NEED = {".to_onnx": ("ndonnx", "onnx", "onnxruntime")}

collect_ignore = [path for path, library in _NEEDS.items() if find_spec(library) is None]
# the earlier name of a module, kept for a release: importing it warns (FutureWarning)
collect_ignore.append("params.py")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        for suffix, libraries in _EXAMPLES_NEED.items():
            missing = [name for name in libraries if find_spec(name) is None]
            if item.name.endswith(suffix) and missing:
                item.add_marker(pytest.mark.skip(reason=f"needs {', '.join(missing)}"))
