"""The ONNX export: the traced graph, run by onnxruntime, against the library's own predict and
predict_proba for every output layer and activation, on 1 row and on 100,000 rows (labels
equal; values to 1e-12 in float64, 1e-5 in float32); the graph's inputs, outputs and
documentation; raw rows in (standardisation, missing values); bad arguments refused by name.

Skipped where the onnx extra (ndonnx, onnx, onnxruntime) is not installed; CI installs it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("ndonnx")
pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import onnx  # noqa: E402

import portable_net as pn  # noqa: E402
from portable_net import engines  # noqa: E402

N_MANY = 100_000


@pytest.fixture(scope="module")
def rows():
    """(training rows, 100,000 other rows): 4 features of unequal scales."""
    rng = np.random.default_rng(0)
    scale = np.array([1.0, 3.0, 0.5, 2.0])
    return rng.standard_normal((200, 4)) * scale, rng.standard_normal((N_MANY, 4)) * scale


def run(model, **inputs):
    """The graph's outputs by name, from onnxruntime."""
    session = ort.InferenceSession(model.SerializeToString())
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def fitted(kind, activation, X):
    """An estimator of each output kind, one epoch fitted (weights of no particular quality:
    the graph must reproduce whatever they predict)."""
    est = pn.Regressor if kind.startswith("regression") else pn.Classifier
    model = est((16,), activation=activation, random_state=0, learning_rate_init=0.01)
    if kind == "multiclass":
        return model.partial_fit(X, np.digitize(X[:, 0], [-0.5, 0.5]), classes=[0, 1, 2])
    if kind == "binary":
        return model.partial_fit(X, np.where(X[:, 0] > X[:, 1], "yes", "no"), classes=["no", "yes"])
    if kind == "multilabel":
        return model.partial_fit(X, (X[:, :3] > 0).astype(int), classes=[0, 1, 2])
    if kind == "regression":
        return model.partial_fit(X, X[:, 0] - 2 * X[:, 1])
    return model.partial_fit(X, np.column_stack([X[:, 0], X[:, 1] * X[:, 2]]))


def margin(proba, multilabel):
    """How far each row's decision is from a tie (the top two probabilities; a label's
    from 0.5): where float32's rounding could decide otherwise."""
    if multilabel:
        return np.abs(proba - 0.5).min(axis=1)
    top = np.sort(proba, axis=1)
    return top[:, -1] - top[:, -2]


@pytest.mark.parametrize(
    ("kind", "activation", "dtype", "opset"),
    [
        ("multiclass", "relu", "float64", None),
        ("multiclass", "tanh", "float32", 20),
        ("binary", "tanh", "float64", 20),
        ("multilabel", "logistic", "float64", None),
        ("regression", "identity", "float64", None),
        ("regression", "logistic", "float32", None),
        ("regression-2", "relu", "float64", None),
    ],
)
def test_the_graph_predicts_as_the_estimator(rows, kind, activation, dtype, opset):
    """onnxruntime's answers are predict's (and predict_proba's), on 1 row and 100,000:
    one graph of a symbolic batch, checked by onnx's checker, in the opset asked for."""
    X_train, X = rows
    est = fitted(kind, activation, X_train)
    model = est.to_onnx(dtype=dtype, opset=opset)
    onnx.checker.check_model(model, full_check=True)
    assert {o.domain: o.version for o in model.opset_import}[""] == (opset or 21)
    (x_input,) = model.graph.input
    dims = x_input.type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 4]
    tol = 1e-12 if dtype == "float64" else 1e-5
    for batch in (X[:1], X[:7], X):
        out = run(model, X=batch.astype(dtype))
        if kind.startswith("regression"):
            expected = est.predict(batch)
            assert out["values"].shape == expected.shape and out["values"].dtype == dtype
            np.testing.assert_allclose(out["values"], expected, rtol=tol, atol=tol)
            continue
        proba, labels = est.predict_proba(batch), est.predict(batch)
        assert out["probabilities"].dtype == dtype
        np.testing.assert_allclose(out["probabilities"], proba, rtol=0, atol=tol)
        assert out["label"].shape == labels.shape
        # float64: every label; float32: every row whose decision is not within rounding
        sure = margin(proba, kind == "multilabel") > (0 if dtype == "float64" else 1e-5)
        assert sure.mean() > 0.999
        assert np.array_equal(out["label"][sure], labels[sure])


def test_the_functional_model_with_raw_rows(rows):
    """to_onnx(params): predict_proba's softmax, its labels by name, the standardisation and
    a missing value's mean inside the graph, feature and class names documented."""
    X_train, X = rows
    mean, scale = X_train.mean(axis=0), X_train.std(axis=0)
    params, _ = pn.train(
        pn.init_params([4, 16, 3], seed=1), (X_train - mean) / scale,
        np.digitize(X_train[:, 1], [-1.0, 1.0]), steps=50, learning_rate=0.5,
    )  # fmt: skip
    names, classes = ["a", "b", "c", "d"], ["low", "mid", "high"]
    model = pn.to_onnx(
        params, activation="relu", classes=classes, feature_names=names,
        standardize={"mean": mean.tolist(), "scale": scale.tolist()},
    )  # fmt: skip
    out = run(model, X=X)
    scaled = (X - mean) / scale
    np.testing.assert_allclose(out["probabilities"], pn.predict_proba(params, scaled), atol=1e-12)
    assert out["label"].tolist() == [classes[k] for k in pn.predict(params, scaled)]
    # a missing value is its training column's mean: exactly the standardised 0
    gaps = X[:3].copy()
    gaps[0, 1], gaps[2, [0, 3]] = np.nan, np.nan
    filled = np.where(np.isnan(gaps), mean, gaps)
    np.testing.assert_allclose(
        run(model, X=gaps)["probabilities"],
        pn.predict_proba(params, (filled - mean) / scale),
        atol=1e-12,
    )
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["feature_names"]) == names
    assert json.loads(props["class_names"]) == classes
    assert json.loads(props["standardized"]) is True
    (x_input,) = model.graph.input
    assert "a, b, c, d" in x_input.doc_string and "NaN" in x_input.doc_string


def test_feature_names_of_a_dataframe(rows):
    pd = pytest.importorskip("pandas")
    X_train, _ = rows
    frame = pd.DataFrame(X_train, columns=["w", "x", "y", "z"])
    clf = pn.Classifier((8,), random_state=0).partial_fit(
        frame, X_train[:, 0] > 0, classes=[False, True]
    )
    model = clf.to_onnx()
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["feature_names"]) == ["w", "x", "y", "z"]
    assert json.loads(props["class_names"]) == [False, True]
    out = run(model, X=X_train)
    assert np.array_equal(out["label"], clf.predict(frame))  # boolean labels stay boolean


def test_the_path_is_written_through_the_output_routine(tmp_path, rows):
    params = pn.init_params([4, 3], seed=0)
    path = tmp_path / "net.onnx"
    model = pn.to_onnx(params, path)
    assert onnx.load(path) == model
    readonly = tmp_path / "kept.onnx"
    readonly.write_bytes(b"old")
    readonly.chmod(0o444)
    with pytest.raises(PermissionError):
        pn.to_onnx(params, readonly)
    assert readonly.read_bytes() == b"old"


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"activation": "softplus"}, ValueError, "activation must be one of"),
        ({"classes": ["a", "b"]}, ValueError, "classes must be 3 distinct labels"),
        ({"classes": [0, 0, 1]}, ValueError, "classes must be 3 distinct labels"),
        ({"feature_names": ["a", "a"]}, ValueError, "feature_names must be 2 distinct"),
        ({"standardize": {"mean": [0.0], "scale": [1.0]}}, ValueError, "standardize has 1"),
        ({"standardize": {"mean": [0.0, 0.0], "scale": [1.0, 0.0]}}, ValueError, "standardize:"),
        ({"dtype": "float16"}, ValueError, "dtype must be 'float32' or 'float64'"),
        ({"opset": 19}, ValueError, "opset must be from 20"),
        ({"opset": "21"}, TypeError, "opset must be an integer"),
        ({"path": 3}, TypeError, "path must be None, a str or a path"),
    ],
)
def test_bad_arguments_are_refused_by_name(changes, error, message):
    with pytest.raises(error, match=message):
        pn.to_onnx(pn.init_params([2, 3], seed=0), **changes)


def test_bad_params_are_refused():
    params = pn.init_params([2, 3], seed=0)
    params["W1"][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"params\['W1'\] holds NaN"):
        pn.to_onnx(params)
    with pytest.raises(ValueError, match="params must hold exactly W1"):
        pn.to_onnx({"W1": np.ones((2, 3))})
    with pytest.raises(pn.NotFittedError):
        pn.Classifier().to_onnx()


def test_only_symbolic_arrays_skip_the_value_checks():
    """A graph's input has no values: its checks wait for the runtime; every array that
    has values is checked as before (NaN refused)."""
    import ndonnx as ndx

    symbolic = ndx.argument(shape=("N", 2), dtype=ndx.float64)
    assert engines.is_traced(symbolic)
    assert not engines.is_traced(ndx.asarray(np.ones((3, 2))), np.ones((3, 2)))
    params = pn.init_params([2, 3], seed=0)
    X = np.array([[0.0, np.nan]])
    with pytest.raises(ValueError, match="X holds NaN"):
        pn.predict_proba(params, X)
    with pytest.raises(ValueError, match="X holds NaN"):
        pn.predict_proba({k: ndx.asarray(v) for k, v in params.items()}, ndx.asarray(X))
