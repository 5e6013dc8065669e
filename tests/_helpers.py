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


def forward(params, X, activation: str = "relu") -> np.ndarray:
    """A network's outputs (before the output layer's softmax or sigmoid), in NumPy."""
    act = {
        "relu": lambda v: np.maximum(v, 0.0),
        "tanh": np.tanh,
        "logistic": lambda v: 1.0 / (1.0 + np.exp(-v)),
        "identity": lambda v: v,
    }[activation]
    h = np.asarray(to_numpy(X) if not isinstance(X, np.ndarray) else X, dtype=np.float64)
    n = len(params) // 2
    for i in range(1, n + 1):
        h = h @ to_numpy(params[f"W{i}"]) + to_numpy(params[f"b{i}"])
        if i < n:
            h = act(h)
    return h


def decided(params, X, activation: str = "relu") -> np.ndarray:
    """The class indices a network decides, in NumPy: the largest output, or with one
    (logistic) output class 1 where its logit is positive (its probability above 0.5): the
    reference for a model a Classifier fitted (one output for two classes)."""
    out = forward(params, X, activation)
    return (out[:, 0] > 0).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)
