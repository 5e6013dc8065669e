"""JAX's persistent compilation cache for the estimator's fits: on unless turned off.

A first ``Classifier.fit`` on JAX in a fresh process spends most of its time compiling the
epoch's program; with the programs kept on disk, the next process loads them instead. The
``portable-net`` command turns the cache on for itself (:func:`.jax_engine.setup_process`);
the estimator does the same at its first fit on JAX arrays, with the same setting:
``PORTABLE_NET_JAX_CACHE=DIR`` picks the directory (default
:func:`.jax_engine.default_cache_dir`), ``PORTABLE_NET_JAX_CACHE=off`` leaves JAX as it is.
A directory already chosen for JAX (``JAX_COMPILATION_CACHE_DIR``, or
``jax.config.update("jax_compilation_cache_dir", ...)``) is kept as it is.
"""

from __future__ import annotations

import os

import jax

from .jax_engine import use_compilation_cache

_OFF = ("off", "0", "no", "false")


def use_default_cache() -> str | None:
    """Turn the persistent cache on for this process unless it is turned off or JAX already
    has a directory; returns the directory in use (None: no cache). JAX decides at its first
    compilation of a process whether to use the cache, so this takes effect when it runs
    before any JAX computation (as at a script's first fit); an unwritable directory leaves
    the programs compiled as usual."""
    where = os.environ.get("PORTABLE_NET_JAX_CACHE", "").strip()
    if where.lower() in _OFF:
        return None
    current = jax.config.jax_compilation_cache_dir
    if current:
        return str(current)
    try:
        return use_compilation_cache(where or None)
    except OSError:
        return None
