"""JAX: the portable step compiled with ``jax.jit``, a stretch of steps as one ``fori_loop``.

Between two logged steps nothing comes back to the host: the whole stretch runs as one
compiled loop on the device, and only the logged step's loss is read.
"""

from __future__ import annotations

from typing import Any

import jax

# compiled functions by the step's settings: runs with the same settings reuse them
_cache: dict[tuple, tuple[Any, Any]] = {}
_CACHE_SIZE = 8


def _compiled(step):
    key = step.key
    if key not in _cache:

        @jax.jit
        def logged(packed, velocity, X1, onehot):
            return step(packed, velocity, X1, onehot, True)

        @jax.jit
        def stretch(packed, velocity, X1, onehot, n_steps):
            def body(_, carry):
                p, v = carry
                p, v, _ = step(p, v, X1, onehot, False)
                return p, v

            return jax.lax.fori_loop(0, n_steps, body, (packed, velocity))

        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (logged, stretch)
    return _cache[key]


def logged_step(step, packed, velocity, data):
    """One step that also returns the loss before its update."""
    return _compiled(step)[0](packed, velocity, data.X1, data.onehot)


def stretch(step, packed, velocity, data, n_steps: int):
    """``n_steps`` steps without the loss, as one compiled loop."""
    return _compiled(step)[1](packed, velocity, data.X1, data.onehot, n_steps)
