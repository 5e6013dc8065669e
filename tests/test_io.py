"""Saved models: round trips across backends, and every malformed file refused clearly."""

import json
import zipfile

import numpy as np
import pytest

import portable_net as pn
from portable_net._backend import to_host
from tests._helpers import assert_on, to_numpy


def _model(xp=None, device=None, sizes=(2, 8, 3), dtype=None, steps=30):
    """A briefly trained model and its data, on a backend."""
    X, y = pn.make_spiral(20, sizes[-1], seed=1, xp=xp, device=device, dtype=dtype)
    params = pn.init_params(list(sizes), seed=1, scale=0.5, xp=xp, device=device, dtype=X.dtype)
    params, history = pn.train(params, X, y, steps=steps, log_every=10)
    return params, history, X, y


def test_to_host_copies_every_backend(xp, device):
    x = xp.asarray([[1.5, -2.0], [3.0, 4.25]], device=device)
    host = to_host(x)
    assert isinstance(host, np.ndarray)
    np.testing.assert_array_equal(host, to_numpy(x))
    host[0, 0] = 99.0  # a copy: the caller's array is not touched
    assert to_numpy(x)[0, 0] == 1.5


def test_round_trip_on_every_backend(xp, device, tmp_path):
    params, history, X, _ = _model(xp, device)
    before = {k: to_numpy(v) for k, v in params.items()}
    path = pn.save(tmp_path / "m.npz", params, note="hello", history=history, lr=1.0)
    assert path == tmp_path / "m.npz" and path.is_file()
    for k, v in params.items():  # the caller's arrays are untouched
        np.testing.assert_array_equal(to_numpy(v), before[k])

    loaded, meta = pn.load(path, xp=xp, device=device)
    assert list(loaded) == ["W1", "b1", "W2", "b2"]
    for k, v in loaded.items():
        assert_on(v, xp, device)
        assert v.dtype == params[k].dtype
        np.testing.assert_array_equal(to_numpy(v), before[k])  # bit for bit
    assert meta["layer_sizes"] == [2, 8, 3]
    assert meta["dtype"] == "float64"
    assert meta["portable_net_version"] == pn.__version__
    assert meta["note"] == "hello" and meta["lr"] == 1.0
    assert meta["history"] == {
        "steps": history.steps,
        "loss": history.loss,
        "final_loss": history.final_loss,
    }
    np.testing.assert_array_equal(to_numpy(pn.predict(loaded, X)), to_numpy(pn.predict(params, X)))


def test_a_numpy_model_predicts_the_same_labels_on_every_backend(xp, device, tmp_path):
    params, _, X, _ = _model(sizes=(2, 16, 3), steps=100)
    pn.save(tmp_path / "m.npz", params)
    expected = pn.predict(params, X)
    loaded, _ = pn.load(tmp_path / "m.npz", xp=xp, device=device)
    X_xp = xp.asarray(X, device=device)
    labels = pn.predict(loaded, X_xp)
    assert_on(labels, xp, device)
    np.testing.assert_array_equal(to_numpy(labels), expected)
    np.testing.assert_allclose(
        to_numpy(pn.predict_proba(loaded, X_xp)), pn.predict_proba(params, X), rtol=1e-12
    )


def test_float32_and_deeper_models_keep_their_dtype_and_sizes(tmp_path):
    params, _, X, _ = _model(sizes=(2, 5, 4, 3), dtype="float32", steps=10)
    pn.save(tmp_path / "m.npz", params)
    loaded, meta = pn.load(tmp_path / "m.npz")
    assert meta["layer_sizes"] == [2, 5, 4, 3] and meta["dtype"] == "float32"
    assert all(v.dtype == np.float32 for v in loaded.values())
    np.testing.assert_array_equal(pn.predict(loaded, X), pn.predict(params, X))


def test_resaving_what_load_returned_works(tmp_path):
    params, _, _, _ = _model(steps=0)
    pn.save(tmp_path / "a.npz", params, seed=3)
    loaded, meta = pn.load(tmp_path / "a.npz")
    pn.save(tmp_path / "b.npz", loaded, **meta)
    again, meta2 = pn.load(tmp_path / "b.npz")
    assert meta2 == meta
    for k in params:
        np.testing.assert_array_equal(again[k], params[k])


def test_the_file_is_plain_npz_without_pickles(tmp_path):
    params, _, _, _ = _model(steps=0)
    pn.save(tmp_path / "m.npz", params, steps=10)
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:  # readable without pickle
        assert sorted(npz.files) == ["W1", "W2", "_metadata", "b1", "b2"]
        doc = json.loads(str(npz["_metadata"][()]))
    assert doc["layer_sizes"] == [2, 8, 3] and doc["metadata"] == {"steps": 10}


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ([1, 2], TypeError, "params must be a dict"),
        ({}, ValueError, "exactly W1, b1"),
        ({"W1": np.zeros((2, 3))}, ValueError, "exactly W1, b1"),
        ({"W1": np.zeros((2, 3)), "b1": np.zeros(4)}, ValueError, "b1 1-D"),
        ({"W1": [[0.0]], "b1": np.zeros(1)}, TypeError, "must be an array"),
        ({"W1": np.zeros((2, 3), dtype=int), "b1": np.zeros(3, dtype=int)}, TypeError, "float"),
    ],
)
def test_save_refuses_what_is_not_a_model(tmp_path, params, error, match):
    with pytest.raises(error, match=match):
        pn.save(tmp_path / "m.npz", params)
    assert not (tmp_path / "m.npz").exists()


def test_save_refuses_metadata_that_is_not_plain_data(tmp_path):
    params, _, _, _ = _model(steps=0)
    pn.save(tmp_path / "m.npz", params, v=1)
    before = (tmp_path / "m.npz").read_bytes()
    with pytest.raises(TypeError, match="metadata 'obj' must be plain data"):
        pn.save(tmp_path / "m.npz", params, obj=object())
    with pytest.raises(ValueError, match="must be finite"):
        pn.save(tmp_path / "m.npz", params, score=float("nan"))
    with pytest.raises(ValueError, match="'layer_sizes' is"):
        pn.save(tmp_path / "m.npz", params, layer_sizes=[2, 3])
    assert (tmp_path / "m.npz").read_bytes() == before  # checked before anything is written
    with pytest.raises(OSError):
        pn.save(tmp_path / "no" / "such" / "dir.npz", params)
    with pytest.raises(TypeError, match="path must be"):
        pn.save(3, params)


# --- malformed files ---------------------------------------------------------------------


def _good_file(tmp_path):
    params, _, _, _ = _model(steps=0)
    return pn.save(tmp_path / "good.npz", params)


def _rewrite(path, tmp_path, *, drop=(), replace=None):
    """A copy of a saved model with entries dropped or replaced (bypassing save's checks)."""
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files if k not in drop}
    arrays.update(replace or {})
    out = tmp_path / "bad.npz"
    with open(out, "wb") as f:
        np.savez(f, **arrays)
    return out


def _doc(path):
    with np.load(path) as npz:
        return json.loads(str(npz["_metadata"][()]))


def _malformed(kind, tmp_path):
    good = _good_file(tmp_path)
    data = good.read_bytes()
    bad = tmp_path / "bad.npz"
    if kind == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "truncated-end":
        bad.write_bytes(data[:-10])
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "text":
        bad.write_text("W1,b1\n1,2\n")
    elif kind == "npy":
        np.save(bad.with_suffix(".npy"), np.zeros(3))
        bad.write_bytes(bad.with_suffix(".npy").read_bytes())
    elif kind == "other-zip":
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("hello.txt", "not a model")
    elif kind == "corrupted":
        body = bytearray(data)
        body[200:210] = b"XXXXXXXXXX"  # inside the first array's bytes: a CRC mismatch
        bad.write_bytes(bytes(body))
    elif kind == "object-array":
        bad = _rewrite(good, tmp_path, replace={"W1": np.array([{"a": 1}, None], dtype=object)})
    elif kind == "missing-weight":
        bad = _rewrite(good, tmp_path, drop=("W2",))
    elif kind == "missing-metadata":
        bad = _rewrite(good, tmp_path, drop=("_metadata",))
    elif kind == "wrong-shape":
        bad = _rewrite(good, tmp_path, replace={"b1": np.zeros(5)})
    elif kind == "wrong-dtype":
        bad = _rewrite(good, tmp_path, replace={"b1": np.zeros(8, dtype=np.int64)})
    elif kind == "extra-entry":
        bad = _rewrite(good, tmp_path, replace={"W9": np.zeros(2)})
    elif kind == "bad-json":
        bad = _rewrite(good, tmp_path, replace={"_metadata": np.array("{not json")})
    elif kind in ("newer-format", "foreign-format", "bad-sizes"):
        doc = _doc(good)
        if kind == "newer-format":
            doc["format_version"] = 99
        elif kind == "foreign-format":
            doc["format"] = "something else"
        else:
            doc["layer_sizes"] = [2, "eight", 3]
        bad = _rewrite(good, tmp_path, replace={"_metadata": np.array(json.dumps(doc))})
    return bad


MALFORMED = {
    "truncated": "truncated or corrupted",
    "truncated-end": "truncated or corrupted",
    "empty": "not an .npz",
    "text": "not an .npz",
    "npy": "a .npy array",
    "other-zip": "lacks the '_metadata' entry",
    "corrupted": "truncated or corrupted",
    "object-array": "object arrays",
    "missing-weight": "lacks the weight 'W2'",
    "missing-metadata": "lacks the '_metadata' entry",
    "wrong-shape": "'b1' has shape (5,), expected (8,)",
    "wrong-dtype": "'b1' has dtype int64",
    "extra-entry": "unexpected entries ['W9']",
    "bad-json": "not valid JSON",
    "newer-format": "format version 99",
    "foreign-format": "does not describe a portable_net model",
    "bad-sizes": "not a list of positive integers",
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_files_are_a_clear_value_error(kind, tmp_path):
    bad = _malformed(kind, tmp_path)
    with pytest.raises(ValueError) as info:
        pn.load(bad)
    message = str(info.value)
    assert str(bad) in message, message  # names the file
    assert MALFORMED[kind] in message, message  # and the problem
    assert "\n" not in message


def test_loading_never_unpickles(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (marker.write_text, ("ran",))

    params, _, _, _ = _model(steps=0)
    good = pn.save(tmp_path / "good.npz", params)
    bad = _rewrite(good, tmp_path, replace={"b2": np.array([Evil()], dtype=object)})
    with pytest.raises(ValueError, match="object arrays"):
        pn.load(bad)
    assert not marker.exists()


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        pn.load(tmp_path / "nope.npz")
    with pytest.raises(IsADirectoryError):
        pn.load(tmp_path)
    with pytest.raises(TypeError, match="path must be"):
        pn.load(None)
    good = _good_file(tmp_path)
    with pytest.raises(ValueError, match="unknown backend"):
        pn.load(good, xp="tensorflow")


# --- Classifier --------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer. Maximum iterations")
def test_classifier_save_and_load_on_every_backend(xp, device, tmp_path):
    X, y = pn.make_spiral(20, 3, seed=2)
    labels = 10 * y + 5  # classes 5, 15, 25
    clf = pn.Classifier(
        (12,), solver="sgd", nesterovs_momentum=False, max_iter=3, random_state=2
    ).fit(X, labels)
    clf.save(tmp_path / "clf.npz")

    back = pn.Classifier.load(tmp_path / "clf.npz", xp=xp, device=device)
    assert back.get_params() == {**clf.get_params(), "hidden_layer_sizes": (12,)}
    assert back.n_features_in_ == 2
    assert back.loss_curve_ == clf.loss_curve_ and back.n_iter_ == clf.n_iter_
    assert_on(back.classes_, xp, device)
    np.testing.assert_array_equal(to_numpy(back.classes_), [5, 15, 25])
    X_xp = xp.asarray(X, device=device)
    pred = back.predict(X_xp)
    assert_on(pred, xp, device)
    np.testing.assert_array_equal(to_numpy(pred), clf.predict(X))
    assert back.score(X_xp, xp.asarray(labels, device=device)) == clf.score(X, labels)


def test_classifier_loads_a_plain_model_and_refuses_before_fit(tmp_path):
    params, _, X, _ = _model(steps=50)
    pn.save(tmp_path / "m.npz", params)
    clf = pn.Classifier.load(tmp_path / "m.npz")
    assert clf.hidden_layer_sizes == (8,)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    np.testing.assert_array_equal(clf.predict(X), pn.predict(params, X))
    with pytest.raises(pn.NotFittedError):
        pn.Classifier().save(tmp_path / "x.npz")
    with pytest.raises(ValueError, match="distinct and sorted"):  # refused before writing
        pn.save(tmp_path / "odd.npz", params, classes=[3, 1, 2])
    assert not (tmp_path / "odd.npz").exists()
