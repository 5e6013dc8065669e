"""For ``pytest --doctest-modules portable_net`` (or ``--pyargs portable_net``, installed).

A module that exists to use one optional library imports it at the top; where that library
is not installed, the module is left out of the doctest collection rather than written to
import without it. The file travels with the package, as scikit-learn's and NumPy's do, so
that the installed package's examples run too.
"""

from __future__ import annotations

from importlib.util import find_spec

# module (relative to this directory) -> the optional library it cannot be imported without
_NEEDS = {
    "engines/jax_engine.py": "jax",
    "engines/compilation_cache.py": "jax",
    "plot.py": "matplotlib",  # imports it in its functions: the examples draw
}

collect_ignore = [path for path, library in _NEEDS.items() if find_spec(library) is None]
# the earlier name of a module, kept for a release: importing it warns (FutureWarning)
collect_ignore.append("params.py")
