"""Helpers shared by the tests."""

from __future__ import annotations

import numpy as np


def to_numpy(x) -> np.ndarray:
    """A NumPy copy of any backend's array (test helper)."""
    import array_api_compat as c

    if c.is_numpy_array(x):
        return np.array(x)
    if c.is_torch_array(x):
        return x.detach().cpu().numpy()
    if c.is_cupy_array(x):
        return x.get()
    if c.is_jax_array(x):
        return np.asarray(x)
    if type(x).__module__.startswith("array_api_strict"):
        return np.array(x._array)
    raise TypeError(type(x))


def assert_on(x, xp, device) -> None:
    """x is an array of namespace xp on the expected device (the default one for None)."""
    import array_api_compat as c

    assert c.array_namespace(x) is xp, f"expected a {xp.__name__} array, got {type(x)}"
    expected = device if device is not None else xp.asarray(0.0).device
    assert c.device(x) == expected, f"expected device {expected}, got {c.device(x)}"
