import warnings

import numpy as np
import pytest

import portable_net as pn
from tests._helpers import assert_on, to_numpy


def spiral_from_the_formula(n, k, noise, seed):
    """The case study's formulas, written out independently, with a seeded Generator."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for j in range(k):
        r = np.linspace(0.0, 1, n)
        t = np.linspace(j * 4, (j + 1) * 4, n) + rng.standard_normal(n) * noise
        rows.append(np.c_[r * np.sin(t), r * np.cos(t)])
        labels.append(np.full(n, j))
    return np.concatenate(rows), np.concatenate(labels)


@pytest.mark.parametrize(
    ("n", "k", "noise", "seed"), [(100, 3, 0.2, 0), (7, 5, 0.5, 3), (1, 2, 0.0, 1)]
)
def test_spiral_is_the_case_study_formula(n, k, noise, seed):
    X, y = pn.make_spiral(n, k, noise=noise, seed=seed)
    X_ref, y_ref = spiral_from_the_formula(n, k, noise, seed)
    assert isinstance(X, np.ndarray) and X.dtype == np.float64 and X.shape == (n * k, 2)
    assert y.shape == (n * k,) and np.issubdtype(y.dtype, np.integer)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_spiral_shape_and_geometry():
    X, y = pn.make_spiral()
    assert X.shape == (300, 2)
    np.testing.assert_array_equal(np.bincount(y), [100, 100, 100])
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius, np.tile(np.linspace(0, 1, 100), 3), atol=1e-12)


def test_seeds_differ_and_repeat():
    a, _ = pn.make_spiral(seed=1)
    b, _ = pn.make_spiral(seed=1)
    c, _ = pn.make_spiral(seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_spiral_is_bit_identical_on_every_backend(xp, device):
    X_np, y_np = pn.make_spiral(20, 4, seed=5)
    X, y = pn.make_spiral(20, 4, seed=5, xp=xp, device=device)
    assert_on(X, xp, device)
    assert_on(y, xp, device)
    assert X.dtype == xp.float64
    assert xp.isdtype(y.dtype, "integral")
    np.testing.assert_array_equal(to_numpy(X), X_np)
    np.testing.assert_array_equal(to_numpy(y), y_np)


def test_float32_is_the_float64_data_rounded(xp, device):
    X64, _ = pn.make_spiral(seed=3)
    X, _ = pn.make_spiral(seed=3, xp=xp, device=device, dtype="float32")
    assert X.dtype == xp.float32
    np.testing.assert_array_equal(to_numpy(X), X64.astype(np.float32))


def test_backend_by_name_and_dtype_object():
    X, _ = pn.make_spiral(5, xp="numpy", dtype=np.float32)
    assert X.dtype == np.float32


def test_a_device_without_float64_gets_its_default_float_and_a_warning():
    strict = pytest.importorskip("array_api_strict")
    with pytest.warns(UserWarning, match="no float64"):
        X, _ = pn.make_spiral(5, xp=strict, device="no_float64")
    assert X.dtype == strict.float32
    with pytest.raises(ValueError, match="float64 is not available"):
        pn.make_spiral(5, xp=strict, device="no_float64", dtype="float64")


def test_jax_without_x64_warns_in_its_own_process():
    pytest.importorskip("jax")
    import subprocess
    import sys

    code = (
        "import warnings, portable_net as pn\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    X, y = pn.make_spiral(5, xp='jax')\n"
        "print(X.dtype, any('no float64' in str(m.message) for m in w))\n"
    )
    env = {"JAX_ENABLE_X64": "0", "PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu"}
    import os

    env = {**os.environ, **env}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split() == ["float32", "True"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_per_class": 0}, ValueError, "n_per_class must be >= 1"),
        ({"n_per_class": 2.5}, TypeError, "n_per_class must be an integer"),
        ({"n_classes": 1}, ValueError, "n_classes must be >= 2"),
        ({"noise": -1.0}, ValueError, "noise must be finite"),
        ({"noise": float("nan")}, ValueError, "noise must be finite"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"dtype": "int32"}, ValueError, "dtype must be 'float32' or 'float64'"),
        ({"xp": "tensorflow"}, ValueError, "unknown backend"),
        ({"xp": 3}, TypeError, "xp must be"),
        ({"device": "gpu:9"}, ValueError, "device 'gpu:9' is not available"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(error, match=match):
            pn.make_spiral(**kwargs)
