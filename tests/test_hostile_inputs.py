"""Hostile arguments: non-finite parameters, unsupported dtypes, ndarray subclasses and Dask
arrays of unknown chunk sizes are refused clearly, the same way everywhere."""

from __future__ import annotations

import re

import numpy as np
import pytest

import portable_net as pn
from tests._helpers import to_numpy

DTYPE_MESSAGE = r"must hold real floating values \(float32 or float64\), got dtype {}"


def _case_study(xp=None, device=None, n=20):
    X, y = pn.make_spiral(n, 3, seed=0, xp=xp, device=device)
    return pn.init_params([2, 10, 3], seed=0, scale=0.5, xp=xp, device=device), X, y


# --- class 2: non-finite weights are refused, never answered -------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused_by_every_function(xp, device, bad):
    params, X, y = _case_study(xp, device)
    W2 = to_numpy(params["W2"]).copy()
    W2[4, 1] = bad
    params["W2"] = xp.asarray(W2, device=device)
    message = r"params 'W2' hold NaN or infinite values"
    for call in (
        lambda: pn.predict(params, X),
        lambda: pn.predict_proba(params, X),
        lambda: pn.accuracy(params, X, y),
        lambda: pn.loss_and_grads(params, X, y),
        lambda: pn.train(params, X, y, steps=1),
    ):
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_float64_weight_that_overflows_float32_data_is_refused():
    params, X, _ = _case_study()
    params["W1"] = params["W1"].copy()
    params["W1"][0, 0] = 1e39  # finite in float64, inf once cast to X's float32
    with pytest.raises(ValueError, match="params 'W1' hold NaN"):
        pn.predict(params, X.astype(np.float32))


def test_every_non_finite_parameter_is_named():
    params, X, _ = _case_study()
    params = {k: v.copy() for k, v in params.items()}
    params["b1"][0] = np.nan
    params["W2"][0, 0] = np.inf
    with pytest.raises(ValueError, match=r"params 'b1', 'W2' hold NaN"):
        pn.predict(params, X)


def test_save_refuses_non_finite_weights(tmp_path):
    params, _, _ = _case_study()
    params["b2"] = np.array([0.0, np.nan, 0.0])
    with pytest.raises(ValueError, match=r"params\['b2'\] holds NaN"):
        pn.save(tmp_path / "m.npz", params)
    assert not (tmp_path / "m.npz").exists()


# --- class 4: one dtype rule, one message -----------------------------------------------------


@pytest.mark.parametrize("dtype", ["float16", "complex128"])
def test_unsupported_float_dtypes_are_refused_with_one_message(tmp_path, dtype):
    params, X, y = _case_study()
    message = DTYPE_MESSAGE.format(dtype)
    with pytest.raises(TypeError, match="X " + message):
        pn.train(params, X.astype(dtype), y, steps=1)
    with pytest.raises(TypeError, match="X " + message):
        pn.predict(params, X.astype(dtype))
    with pytest.raises(TypeError, match=re.escape("params['W1'] ") + message):
        pn.train({**params, "W1": params["W1"].astype(dtype)}, X, y, steps=1)
    with pytest.raises(TypeError, match=re.escape("params['W1'] ") + message):
        pn.save(tmp_path / "m.npz", {k: v.astype(dtype) for k, v in params.items()})


def test_torch_bfloat16_and_float16_are_refused():
    torch = pytest.importorskip("torch")
    params, X, y = _case_study("torch", "cpu")
    for dtype, name in ((torch.bfloat16, "bfloat16"), (torch.float16, "float16")):
        with pytest.raises(TypeError, match="X " + DTYPE_MESSAGE.format(name)):
            pn.train(params, X.to(dtype), y, steps=1)
        with pytest.raises(TypeError, match="X " + DTYPE_MESSAGE.format(name)):
            pn.predict(params, X.to(dtype))


def test_dask_float16_gets_the_same_message():
    da = pytest.importorskip("dask.array")
    params, X, y = _case_study()
    with pytest.raises(TypeError, match="X " + DTYPE_MESSAGE.format("float16")):
        pn.train(params, da.from_array(X.astype(np.float16), chunks=20), y, steps=1)


@pytest.mark.parametrize("first", ["X", "y"])
def test_dask_unknown_chunks_beside_numpy_point_to_compute_chunk_sizes(first):
    da = pytest.importorskip("dask.array")
    params, X, y = _case_study()
    Xd, yd = da.from_array(X, chunks=(20, 2)), da.from_array(y, chunks=20)
    keep = Xd[:, 0] > -10.0  # every row, but dask cannot know how many
    args = (Xd[keep], y) if first == "X" else (X, yd[keep])
    with pytest.raises(
        ValueError, match=rf"{first} has chunks of unknown size.*compute_chunk_sizes"
    ):
        pn.train(params, *args, steps=1)


def _subclasses(X):
    return {
        "masked": np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool)),
        "matrix": np.asmatrix(X),
    }


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
@pytest.mark.parametrize("kind", ["masked", "matrix"])
def test_ndarray_subclasses_are_refused_naming_the_argument(tmp_path, kind):
    params, X, y = _case_study()
    sub = _subclasses(X)[kind]
    expected = "numpy.ma.MaskedArray" if kind == "masked" else "numpy.matrix"
    with pytest.raises(TypeError, match=rf"X is a {re.escape(expected)}, a subclass"):
        pn.train(params, sub, y, steps=1)
    with pytest.raises(TypeError, match=rf"X is a {re.escape(expected)}, a subclass"):
        pn.predict(params, sub)
    with pytest.raises(TypeError, match=r"y is a numpy.ma"):
        pn.accuracy(params, X, np.ma.masked_array(y))
    with pytest.raises(TypeError, match=r"params\['W1'\] is a numpy"):
        pn.predict({**params, "W1": _subclasses(params["W1"])[kind]}, X)
    with pytest.raises(TypeError, match=r"params\['W1'\] is a numpy"):
        pn.save(tmp_path / "m.npz", {**params, "W1": _subclasses(params["W1"])[kind]})


def test_masked_entries_are_not_silently_used():
    # the refusal says how to get a plain array; the caller's choice what to do with the mask
    params, X, _ = _case_study()
    masked = np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool))
    masked[3, 0] = np.ma.masked
    with pytest.raises(TypeError, match=r"filled\(\.\.\.\) or X.compressed\(\)"):
        pn.predict(params, masked)
    # converting is the documented way, and gives the plain array's answer
    np.testing.assert_array_equal(
        pn.predict(params, masked.filled(0.0)), pn.predict(params, np.where(masked.mask, 0.0, X))
    )


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_finite_parameters_whose_sum_overflows_are_not_refused():
    import array_api_compat.numpy as xnp

    from portable_net._validation import check_finite_params

    params = {"W1": np.full((2, 3), 1e308), "b1": np.full(3, 1e308)}
    assert not np.isfinite(sum(float(np.sum(v)) for v in params.values()))
    check_finite_params(xnp, params)  # no error: every value is finite
    params["b1"] = np.array([1e308, -np.inf, 0.0])
    with pytest.raises(ValueError, match=r"params 'b1' hold NaN"):
        check_finite_params(xnp, params)
