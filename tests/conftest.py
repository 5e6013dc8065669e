"""The backend fixtures: every test that takes ``xp`` (and ``device``) runs on each backend.

Backends: numpy, array_api_strict (on its default device and on its second device, which
proves that arrays are created on the caller's device), torch (CPU, and CUDA where present),
jax (its default device), cupy (GPU). What is not installed or has no device is skipped.
Narrow the set with ``PORTABLE_NET_BACKENDS=numpy,torch``.

``PORTABLE_NET_ONLY_BACKEND_TESTS=1`` keeps only the tests that take the backend fixture
(``xp``, ``device`` or ``backend``): what another backend must show, without rerunning the
backend-independent rest of the suite (the ``tests(<backend>)`` nox sessions use it).
Long runs are marked ``slow``; ``-m "not slow"`` leaves them out.
"""

from __future__ import annotations

import os

# float64 on JAX, as the comparisons with NumPy need; set before JAX is imported
os.environ.setdefault("JAX_ENABLE_X64", "1")

import pytest

from portable_net._backend import BACKENDS, _devices, _usable, get_namespace

# (id, backend, device label or None for the default device)
_CASES = [
    ("numpy", "numpy", None),
    ("array_api_strict", "array_api_strict", None),
    ("array_api_strict-device1", "array_api_strict", "device1"),
    ("torch", "torch", "cpu"),
    ("torch-cuda", "torch", "cuda:0"),
    ("jax", "jax", None),
    ("cupy", "cupy", None),
]


def only_backend_tests() -> bool:
    return os.environ.get("PORTABLE_NET_ONLY_BACKEND_TESTS", "").strip() not in ("", "0")


def pytest_collection_modifyitems(config, items):
    """Deselect the tests that take no backend when PORTABLE_NET_ONLY_BACKEND_TESTS is set."""
    if not only_backend_tests():
        return
    keep, drop = [], []
    for item in items:
        (keep if "backend" in getattr(item, "fixturenames", ()) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def selected_backends() -> list[str]:
    env = os.environ.get("PORTABLE_NET_BACKENDS", "").strip()
    if not env:
        return list(BACKENDS)
    names = [n.strip() for n in env.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BACKENDS))
    if unknown:
        raise pytest.UsageError(
            f"PORTABLE_NET_BACKENDS names unknown backends {unknown}; known: {', '.join(BACKENDS)}"
        )
    return names


@pytest.fixture(
    params=[pytest.param(case, id=case[0]) for case in _CASES if case[1] in selected_backends()]
)
def backend(request):
    """(namespace, device) of one backend and device."""
    _, name, label = request.param
    if not _usable(name):
        pytest.skip(f"{name} is not installed or has no device here")
    devices = dict(_devices(name))
    if label is not None and label not in devices:
        pytest.skip(f"{name} has no device {label} here")
    return get_namespace(name), (None if label is None else devices[label])


@pytest.fixture
def xp(backend):
    """The array API namespace of the backend under test."""
    return backend[0]


@pytest.fixture
def device(backend):
    """The device under test (None: the backend's default)."""
    return backend[1]
