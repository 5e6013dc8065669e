"""The backend fixtures: every test that takes ``xp`` (and ``device``) runs on each backend.

Backends: numpy, array_api_strict (on its default device and on its second device, which
proves that arrays are created on the caller's device), torch (CPU, and CUDA where present),
jax (its default device), cupy (GPU). What is not installed or has no device is skipped.
Narrow the set with ``PORTABLE_NET_BACKENDS=numpy,torch``.

``PORTABLE_NET_ONLY_BACKEND_TESTS=1`` keeps only the tests that take the backend fixture
(``xp``, ``device`` or ``backend``): what another backend must show, without rerunning the
backend-independent rest of the suite (the ``tests(<backend>)`` nox sessions use it).
Long runs are marked ``slow``; ``-m "not slow"`` leaves them out.

``PORTABLE_NET_REQUIRE=cupy,torch,jax`` (the GPU check sets it) turns the skip of a named
backend that is not usable here into a failure: ``cupy`` must have a GPU, ``torch`` a CUDA
device (the ``torch-cuda`` case), ``jax`` a GPU as its default device; a case id
(``torch-cuda``) may be named too. Without it a GPU machine whose CuPy or JAX fails to start
would pass by skipping everything. JAX on a GPU multiplies float32 matrices in full float32
here (``jax_default_matmul_precision="highest"``, not TF32), as the tolerances assume.
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


# what PORTABLE_NET_REQUIRE's backend names demand: the case that must not be skipped
_REQUIRED_CASE = {"cupy": "cupy", "torch": "torch-cuda", "jax": "jax"}


def required_cases() -> set[str]:
    """The case ids that PORTABLE_NET_REQUIRE says must run (a skip is a failure)."""
    env = os.environ.get("PORTABLE_NET_REQUIRE", "")
    names = {n.strip() for n in env.split(",") if n.strip()}
    known = set(_REQUIRED_CASE) | {case[0] for case in _CASES}
    unknown = sorted(names - known)
    if unknown:
        raise pytest.UsageError(
            f"PORTABLE_NET_REQUIRE names unknown backends {unknown}; known: {sorted(known)}"
        )
    return {_REQUIRED_CASE.get(n, n) for n in names}


def _jax_on_gpu() -> bool:
    import jax

    return jax.default_backend() != "cpu"


def _skip_or_fail(case_id: str, reason: str) -> None:
    if case_id in required_cases():
        pytest.fail(f"PORTABLE_NET_REQUIRE: {reason}", pytrace=False)
    pytest.skip(reason)


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
    case_id, name, label = request.param
    if not _usable(name):
        _skip_or_fail(case_id, f"{name} is not installed or has no device here")
    devices = dict(_devices(name))
    if label is not None and label not in devices:
        _skip_or_fail(case_id, f"{name} has no device {label} here")
    if name == "jax":
        if _jax_on_gpu():
            import jax

            # float32 products in float32, not TF32 (the default on recent GPUs)
            jax.config.update("jax_default_matmul_precision", "highest")
        elif case_id in required_cases():
            pytest.fail("PORTABLE_NET_REQUIRE: jax's default device is not a GPU", pytrace=False)
    return get_namespace(name), (None if label is None else devices[label])


@pytest.fixture
def xp(backend):
    """The array API namespace of the backend under test."""
    return backend[0]


@pytest.fixture
def device(backend):
    """The device under test (None: the backend's default)."""
    return backend[1]
