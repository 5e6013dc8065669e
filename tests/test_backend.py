import numpy as np
import pytest

import portable_net as pn
from portable_net import _backend


def test_numpy_is_always_available():
    assert pn.available_backends()["numpy"] == ("cpu",)
    xp = pn.get_namespace("numpy")
    assert isinstance(xp.asarray([1.0]), np.ndarray)
    assert pn.get_namespace() is xp


def test_every_available_backend_has_a_namespace(xp, device):
    x = xp.asarray([1.0, 2.0], device=device)
    assert pn.get_namespace(x) is xp
    assert hasattr(xp, "__array_namespace_info__")


def test_available_backends_lists_names_with_devices():
    found = pn.available_backends()
    assert set(found) <= set(_backend.BACKENDS)
    for name, devices in found.items():
        assert devices and all(isinstance(d, str) for d in devices)
        assert pn.get_namespace(name) is not None
        for label in devices:  # every listed device name is accepted back
            _backend.resolve_device(pn.get_namespace(name), label)


def test_unknown_backend_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'.*available here are numpy"):
        pn.get_namespace("tensorflow")


def test_uninstalled_backend_is_a_clear_import_error(monkeypatch):
    monkeypatch.setattr(_backend, "_installed", lambda name: name == "numpy")
    with pytest.raises(
        ImportError, match=r"backend 'torch' is not available.*available here: numpy"
    ):
        pn.get_namespace("torch")
    assert list(pn.available_backends()) == ["numpy"]


def test_not_a_backend_is_a_type_error():
    with pytest.raises(TypeError, match="backend must be"):
        pn.get_namespace(3.5)


def test_unknown_device_names_the_available_ones():
    with pytest.raises(
        ValueError, match="device 'cuda:7' is not available for backend 'numpy'; available: cpu"
    ):
        _backend.resolve_device(pn.get_namespace("numpy"), "cuda:7")


def test_mixed_libraries_are_named():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="X is a numpy array but y is a torch array"):
        _backend.namespace_and_device({"X": np.zeros((2, 2)), "y": torch.zeros(2)})


def test_mixed_devices_are_named():
    strict = pytest.importorskip("array_api_strict")
    a = strict.asarray([1.0])
    b = strict.asarray([1.0], device=strict.Device("device1"))
    with pytest.raises(TypeError, match="X is on device CPU_DEVICE but y is on device device1"):
        _backend.namespace_and_device({"X": a, "y": b})


def test_from_host_makes_a_new_array_of_the_library_dtype_and_device(xp, device):
    from tests._helpers import assert_on, to_numpy

    host = np.arange(6, dtype=np.float64).reshape(2, 3) / 7
    fdtype = _backend.float_dtype(xp, device)
    out = _backend.from_host(xp, host, fdtype, device)
    assert_on(out, xp, device)
    assert out.dtype == fdtype and tuple(out.shape) == (2, 3)
    np.testing.assert_allclose(to_numpy(out), host, rtol=1e-6 if "32" in str(fdtype) else 0)
    labels = _backend.from_host(xp, [2, 0, 1], _backend.int_dtype(xp, device), device)
    assert labels.dtype == _backend.int_dtype(xp, device)
    np.testing.assert_array_equal(to_numpy(labels), [2, 0, 1])


def test_from_host_on_jax_compiles_nothing():
    pytest.importorskip("jax")
    if "jax" not in pn.available_backends():
        pytest.skip("jax is not usable here")
    from tests.test_compilation import _compilations

    xp = _backend.get_namespace("jax")
    host = np.random.default_rng(0).random((41, 5))  # a shape no other test uses
    out: list = []
    records = _compilations(
        lambda: out.extend(
            [
                _backend.from_host(xp, host, _backend.float_dtype(xp, None)),
                _backend.from_host(xp, host[:, 0] > 0.5, xp.int32),
            ]
        )
    )
    assert records == [], records
    expected = np.asarray(out[0]).copy()
    host[0, 0] = 99.0  # JAX arrays are immutable: never the host array's memory
    np.testing.assert_array_equal(np.asarray(out[0]), expected)
    np.testing.assert_array_equal(np.asarray(out[1]), (host[:, 0] > 0.5).astype(np.int32))
