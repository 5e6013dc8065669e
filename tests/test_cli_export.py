"""portable-net export: train on a CSV file with --standardize, export, and onnxruntime on the
raw rows of another CSV file answers as ``portable-net predict`` does (labels equal,
regression values to 1e-9), for a classifier, a regressor and a model of text columns, on
any batch size; estimator files; the options; a file that load refuses is refused; without
the onnx extra, one line naming what to install (exit 2)."""

from __future__ import annotations

import csv
import json
import zipfile

import numpy as np
import pytest

import portable_net as pn
from portable_net.cli import main


@pytest.fixture
def ort():
    """onnxruntime, where the onnx extra is installed (else the test is skipped)."""
    pytest.importorskip("ndonnx")
    pytest.importorskip("onnx")
    return pytest.importorskip("onnxruntime")


def _graph_inputs(model_path, rows):
    """The graph's inputs for CSV rows (dicts by header name), by its metadata's names."""
    import onnx

    props = {p.key: p.value for p in onnx.load(model_path).metadata_props}
    feed = {}
    numeric = json.loads(props["numeric_features"])
    if numeric:
        feed["X"] = np.array([[float(r[n]) for n in numeric] for r in rows])
    if "categorical" in props:
        columns = json.loads(props["categorical"])["columns"]
        feed["text"] = np.array([[r[c] for c in columns] for r in rows], dtype=object)
    return feed


def _write(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def files(tmp_path):
    """A training file (features of unequal scales, a text label and a real target) and a
    file of other rows, its columns in another order."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((700, 3)) * [1.0, 10.0, 100.0] + [0.0, 5.0, 50.0]
    species = np.where(X[:, 0] + X[:, 1] / 10 > 0.5, "big",
                       np.where(X[:, 2] > 50, "mid", "small"))  # fmt: skip
    target = 2 * X[:, 0] + X[:, 1] / 10 - X[:, 2] / 100
    classes = _write(tmp_path / "classes.csv", ["a", "b", "c", "species"],
                     [[*x, s] for x, s in zip(X[:500], species)])  # fmt: skip
    binary = _write(tmp_path / "binary.csv", ["a", "b", "c", "big"],
                    [[*x, s == "big"] for x, s in zip(X[:500], species)])  # fmt: skip
    values = _write(tmp_path / "values.csv", ["a", "b", "c", "target"],
                    [[*x, t] for x, t in zip(X[:500], target)])  # fmt: skip
    new = _write(tmp_path / "new.csv", ["c", "a", "b"], [[x[2], x[0], x[1]] for x in X[500:]])
    return {"classification": classes, "binary": binary, "regression": values}, new


@pytest.mark.parametrize("task", ["classification", "binary", "regression"])
def test_onnxruntime_answers_as_predict_does(ort, files, tmp_path, capsys, task):
    """The command's models, trained through the Classifier (K classes: softmax outputs;
    two: one logistic output) and the Regressor."""
    train, new = files
    model, graph = tmp_path / "m.npz", tmp_path / "m.onnx"
    kind = "regression" if task == "regression" else "classification"
    argv = ["train", "--data", str(train[task]), "--task", kind, "--standardize",
            "--max-iter", "200", "--hidden", "16", "--save", str(model), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["export", str(model), str(graph)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {graph}") and "inputs X (N, 3)" in said
    with open(new, newline="") as f:
        rows = list(csv.DictReader(f))
    feed = _graph_inputs(graph, rows)
    session = ort.InferenceSession(str(graph))
    for a, b in [(0, 1), (1, 6), (0, len(rows))]:  # any batch size: 1, 5, all 200
        batch = _write(tmp_path / "batch.csv", ["c", "a", "b"],
                       [[r["c"], r["a"], r["b"]] for r in rows[a:b]])  # fmt: skip
        assert main(["predict", str(model), str(batch)]) == 0
        printed = capsys.readouterr().out.split()
        out = session.run(None, {k: v[a:b] for k, v in feed.items()})[0]
        if task != "regression":
            assert [str(v) for v in out.tolist()] == printed
        else:
            np.testing.assert_allclose(out, np.array(printed, dtype=float), rtol=1e-9, atol=1e-9)


def test_text_columns_are_one_hot_encoded_in_the_graph(ort, tmp_path, capsys):
    rng = np.random.default_rng(4)
    u = rng.standard_normal(300)
    colour = rng.choice(["red", "green", "blue"], 300)
    size = rng.choice(["S", "M", "L"], 300)
    kind = np.where((colour == "red") ^ (u > 0), "A", "B")
    train = _write(tmp_path / "t.csv", ["colour", "u", "size", "kind"],
                   zip(colour, u, size, kind))  # fmt: skip
    new = _write(tmp_path / "n.csv", ["size", "u", "colour"], zip(size[:40], u[:40], colour[:40]))
    model, graph = tmp_path / "c.npz", tmp_path / "c.onnx"
    argv = ["train", "--data", str(train), "--categorical", "auto", "--standardize",
            "--max-iter", "200", "--save", str(model), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["export", str(model), str(graph)]) == 0
    assert "inputs X (N, 1), text (N, 2)" in capsys.readouterr().out
    assert main(["predict", str(model), str(new)]) == 0
    printed = capsys.readouterr().out.split()
    with open(new, newline="") as f:
        rows = list(csv.DictReader(f))
    session = ort.InferenceSession(str(graph))
    labels, proba = session.run(None, _graph_inputs(graph, rows))
    assert labels.tolist() == printed
    # a category never seen in training sets none of its column's indicators
    unseen = _graph_inputs(graph, [{"u": "0.5", "colour": "purple", "size": "S"}])
    labels, proba = session.run(None, unseen)
    assert labels.shape == (1,) and abs(proba.sum() - 1) < 1e-12


def test_an_estimator_file_is_read_by_its_loader(ort, tmp_path, capsys):
    """A binary Classifier's file: its one logistic output and labels, as its predict."""
    X = np.random.default_rng(5).standard_normal((200, 3))
    clf = pn.Classifier((8,), random_state=0).partial_fit(
        X, np.where(X[:, 0] > 0, "yes", "no"), classes=["no", "yes"]
    )
    model = clf.save(tmp_path / "clf.npz")
    graph = tmp_path / "clf.onnx"
    assert main(["export", str(model), str(graph), "--dtype", "float32", "--opset", "20"]) == 0
    assert "the binary model" in capsys.readouterr().out
    labels, proba = ort.InferenceSession(str(graph)).run(None, {"X": X.astype(np.float32)})
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-5)
    sure = np.abs(clf.predict_proba(X)[:, 1] - 0.5) > 1e-5
    assert np.array_equal(labels[sure], clf.predict(X)[sure]) and sure.mean() > 0.99


def _status(argv):
    """The exit status of the command (usage errors exit through argparse)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _model(tmp_path):
    return pn.save(tmp_path / "m.npz", pn.init_params([2, 4, 3], seed=0))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--opset", "19"], "argument --opset: must be from 20"),
        (["--dtype", "float16"], "argument --dtype: invalid choice"),
    ],
)
def test_bad_options_are_usage_errors(ort, tmp_path, capsys, extra, message):
    model = _model(tmp_path)
    assert _status(["export", str(model), str(tmp_path / "o.onnx"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.onnx").exists()


def test_the_output_must_not_be_the_model(ort, tmp_path, capsys):
    model = _model(tmp_path)
    before = model.read_bytes()
    assert _status(["export", str(model), str(model)]) == 2
    assert "OUT.onnx" in capsys.readouterr().err
    assert model.read_bytes() == before
    assert _status(["export", str(model), "-"]) == 2


def _truncated(path):
    data = _model(path.parent).read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _pickled(path):
    with zipfile.ZipFile(path, "w") as z:
        with z.open("W1.npy", "w") as f:
            np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)


def _nan_weight(path):
    params = pn.init_params([2, 4, 3], seed=0)
    pn.save(path, params)
    members = dict(np.load(path))
    members["W1"] = np.full((2, 4), np.nan)
    np.savez(path, **members)


@pytest.mark.parametrize("make", [_truncated, _pickled, _nan_weight])
def test_a_file_that_load_refuses_is_refused(ort, tmp_path, capsys, make):
    path = tmp_path / "bad.npz"
    make(path)
    with pytest.raises(ValueError):
        pn.load(path)
    assert main(["export", str(path), str(tmp_path / "o.onnx")]) == 2
    err = capsys.readouterr().err
    assert "bad.npz" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.onnx").exists()


def test_without_the_onnx_extra_one_line_says_what_to_install(tmp_path, capsys, monkeypatch):
    """Runs with or without the extra: the packages are made to look absent."""
    import portable_net.export as export

    monkeypatch.setattr(export, "find_spec", lambda name: None)
    model = _model(tmp_path)
    assert main(["export", str(model), str(tmp_path / "o.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "portable-net export: error: the ONNX export needs ndonnx and onnx, which are not "
        "installed: pip install 'portable-net[onnx]' (ndonnx, onnx and onnxruntime)"
    )
    assert not (tmp_path / "o.onnx").exists()
    with pytest.raises(ImportError, match=r"pip install 'portable-net\[onnx\]'"):
        pn.to_onnx(pn.load(model)[0])


def test_missing_values_take_the_model_s_recorded_fill_as_predict_does(ort, tmp_path, capsys):
    """A model trained with --missing mean records its training means; predict fills a
    missing value with them, and so does the graph (not the standardisation's mean)."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((300, 2)) * [1.0, 20.0]
    y = np.where(X[:, 0] + X[:, 1] / 20 > 0, "yes", "no")
    rows = [[f"{a:.6f}", f"{b:.6f}", c] for (a, b), c in zip(X, y)]
    for j in range(0, 300, 7):  # gaps in the training rows: the recorded means differ
        rows[j][j % 2] = ""
    train = _write(tmp_path / "t.csv", ["a", "b", "y"], rows)
    test_rows = [["", "3.5"], ["0.2", ""], ["-1.0", "10.0"]]
    new = _write(tmp_path / "n.csv", ["a", "b"], test_rows)
    model, graph = tmp_path / "m.npz", tmp_path / "m.onnx"
    assert main(["train", "--data", str(train), "--missing", "mean", "--standardize",
                 "--max-iter", "200", "--save", str(model), "--quiet"]) == 0  # fmt: skip
    assert main(["export", str(model), str(graph)]) == 0
    capsys.readouterr()
    assert main(["predict", str(model), str(new), "--proba"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[1:]
    expected = np.array([[float(v) for v in line.split(",")] for line in printed])
    feed = {"X": np.array([[float(v) if v else np.nan for v in r] for r in test_rows])}
    _, proba = ort.InferenceSession(str(graph)).run(None, feed)
    np.testing.assert_allclose(proba, expected, atol=1e-6)  # predict prints 6 decimals
