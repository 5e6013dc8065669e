"""One model file, one meaning: every writer (Classifier.save, Regressor.save, portable_net.save,
``portable-net train --save``, an interrupted run) writes one format that says what the model
is, and every reader (portable_net.load, Classifier.load, Regressor.load, ``predict``,
``evaluate``) either answers exactly as the writer's model does or refuses in one line naming
the file and what it holds. Files of the first format load exactly or are refused naming the
version that wrote them."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portable_net as pn
from portable_net.cli import _fit as cli_fit
from portable_net.errors import ConvergenceWarning
from tests._files import document, rewrite, write
from tests.test_cli_more import call

pd = pytest.importorskip("pandas")  # the test extra

ACTIVATIONS = ("relu", "tanh", "logistic", "identity")
READERS = ("load", "Classifier.load", "Regressor.load", "predict", "evaluate")


def _data():
    X, y = pn.make_spiral(12, 3, seed=3)
    return X, y


def _csv(path, X, labels, header=("a", "b", "label")):
    rows = "".join(f"{a!r},{b!r},{c}\n" for (a, b), c in zip(X.tolist(), labels))
    path.write_text(",".join(header) + "\n" + rows)
    return path


def _quiet(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit()


# --- the writers: each returns (path, kind, what its own model answers) -------------------


def _estimator_classifier(tmp_path, activation, n_classes):
    X, y = _data()
    names = np.array(["ant", "bee", "cat"])[: max(n_classes, 2)]
    labels = names[y % n_classes]
    clf = _quiet(
        lambda: pn.Classifier((4,), activation=activation, max_iter=5, random_state=0).fit(
            X, labels
        )
    )
    path = clf.save(tmp_path / f"clf-{activation}-{n_classes}.npz")
    return path, "classifier", clf.predict(X).tolist(), labels.tolist()


def _estimator_multilabel(tmp_path, activation):
    X, y = _data()
    Y = np.stack([y == 0, y == 1, X[:, 0] > 0], axis=1).astype(np.int64)
    clf = _quiet(
        lambda: pn.Classifier((4,), activation=activation, max_iter=5, random_state=0).fit(X, Y)
    )
    path = clf.save(tmp_path / f"multi-{activation}.npz")
    return path, "multilabel", clf.predict(X).tolist(), None


def _estimator_regressor(tmp_path, activation, n_outputs):
    X, _y = _data()
    target = X.sum(axis=1) if n_outputs == 1 else np.stack([X[:, 0], X.sum(axis=1)], axis=1)
    reg = _quiet(
        lambda: pn.Regressor((4,), activation=activation, max_iter=5, random_state=0).fit(X, target)
    )
    path = reg.save(tmp_path / f"reg-{activation}-{n_outputs}.npz")
    return path, "regressor", reg.predict(X).tolist(), target.tolist()


def _function_classifier(tmp_path, activation):
    X, y = _data()
    params, _ = pn.train(
        pn.init_params([2, 4, 3], seed=1, scale=0.5), X, y, steps=20, activation=activation
    )
    path = pn.save(tmp_path / f"fn-{activation}.npz", params, activation=activation)
    return path, "classifier", pn.predict(params, X, activation=activation).tolist(), y.tolist()


def _function_regressor(tmp_path, activation):
    X, _ = _data()
    params = pn.init_params([2, 4, 1], seed=2, scale=0.5)
    path = pn.save(tmp_path / f"fnr-{activation}.npz", params, kind="regressor",
                   activation=activation)  # fmt: skip
    from portable_net.model import outputs

    values = outputs(params, X, activation=activation, output="squared")[:, 0]
    return path, "regressor", values.tolist(), X.sum(axis=1).tolist()


def _interrupt_at_the_second_logged_step(monkeypatch, module):
    """Ctrl-C where the command prints its second loss."""
    calls = []

    def loss_text(loss):
        calls.append(loss)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return f"{loss:f}"

    monkeypatch.setattr(module, "format_loss", loss_text)


def _cli_classifier(tmp_path, activation, interrupted=False, monkeypatch=None):
    X, y = _data()
    labels = np.array(["ant", "bee", "cat"])[y]
    data = _csv(tmp_path / f"cli-{activation}.csv", X, labels.tolist())
    path = tmp_path / f"cli-{activation}{'-int' if interrupted else ''}.npz"
    if interrupted:
        _interrupt_at_the_second_logged_step(monkeypatch, cli_fit)
    status, _, err = call(
        "train", "--data", str(data), "--hidden", "4", "--max-iter", "40", "--log-every", "10",
        "--lr", "0.05", "--activation", activation, "--standardize", "--save", str(path),
        "--save-anyway",
    )  # fmt: skip
    assert status == (130 if interrupted else 0), err
    if interrupted:
        assert "the parameters reached are saved" in err
    params, meta = pn.load(path)
    mean, scale = (np.asarray(meta["preprocessing"]["standardize"][k]) for k in ("mean", "scale"))
    index = pn.predict(params, (X - mean) / scale, activation=activation)
    return path, "classifier", [str(c) for c in np.asarray(meta["classes"])[index]], labels.tolist()


def _cli_regressor(tmp_path, activation, interrupted=False, monkeypatch=None):
    X, _ = _data()
    target = X.sum(axis=1)
    data = _csv(tmp_path / f"clir-{activation}.csv", X, target.tolist())
    path = tmp_path / f"clir-{activation}.npz"
    if interrupted:
        _interrupt_at_the_second_logged_step(monkeypatch, cli_fit)
    status, _, err = call(
        "train", "--data", str(data), "--task", "regression", "--hidden", "4", "--max-iter", "40",
        "--log-every", "10", "--lr", "0.01", "--activation", activation, "--save", str(path),
    )  # fmt: skip
    assert status == (130 if interrupted else 0), err
    from portable_net.model import outputs

    params, _ = pn.load(path)
    values = outputs(params, X, activation=activation, output="squared")[:, 0]
    return path, "regressor", values.tolist(), target.tolist()


WRITERS = {
    "Classifier.save(3 classes)": lambda t, a, m: _estimator_classifier(t, a, 3),
    "Classifier.save(2 classes)": lambda t, a, m: _estimator_classifier(t, a, 2),
    "Classifier.save(multilabel)": lambda t, a, m: _estimator_multilabel(t, a),
    "Regressor.save(1 output)": lambda t, a, m: _estimator_regressor(t, a, 1),
    "Regressor.save(2 outputs)": lambda t, a, m: _estimator_regressor(t, a, 2),
    "save(classifier)": lambda t, a, m: _function_classifier(t, a),
    "save(regressor)": lambda t, a, m: _function_regressor(t, a),
    "train --save": lambda t, a, m: _cli_classifier(t, a),
    "train --save, interrupted": lambda t, a, m: _cli_classifier(t, a, True, m),
    "train --task regression --save": lambda t, a, m: _cli_regressor(t, a),
    "train --task regression --save, interrupted": lambda t, a, m: _cli_regressor(t, a, True, m),
}


def _one_line_refusal(message: str, path) -> None:
    assert "\n" not in message.strip() and "Traceback" not in message, message
    assert str(path) in message and " holds a" in message, message


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("writer", list(WRITERS))
def test_every_reader_answers_as_the_writer_or_refuses_in_one_line(
    tmp_path, monkeypatch, writer, activation
):
    path, kind, answers, truth = WRITERS[writer](tmp_path, activation, monkeypatch)
    X, _ = _data()
    params, meta = pn.load(path)
    assert meta["kind"] == kind and meta["activation"] == activation
    points = tmp_path / "points.csv"  # a header: a model with names takes its columns by name
    points.write_text("a,b\n" + "".join(f"{a!r},{b!r}\n" for a, b in X.tolist()))
    for reader in READERS:
        if reader == "load":
            continue
        if reader in ("Classifier.load", "Regressor.load"):
            cls = pn.Classifier if reader == "Classifier.load" else pn.Regressor
            wanted = ("classifier", "multilabel") if cls is pn.Classifier else ("regressor",)
            if kind in wanted:
                model = cls.load(path)
                assert model.activation == activation
                names = meta["preprocessing"]["feature_names"]
                rows = X if names is None else pd.DataFrame(X, columns=names)  # taken by name
                assert model.predict(rows).tolist() == answers, reader
            else:
                with pytest.raises(ValueError) as info:
                    cls.load(path)
                _one_line_refusal(str(info.value), path)
            continue
        if reader == "predict":
            status, out, err = call("predict", str(path), str(points))
            if kind == "multilabel":
                assert status == 2 and out == ""
                _one_line_refusal(err, path)
            elif kind == "classifier":
                assert status == 0, err
                assert out.splitlines() == [str(a) for a in answers]
            else:
                assert status == 0, err
                got = [[float(v) for v in line.split(",")] for line in out.splitlines()]
                assert got == [a if isinstance(a, list) else [a] for a in answers]
            continue
        # evaluate on the writer's labelled data
        if kind == "multilabel" or (
            kind == "regressor" and params[f"W{len(params) // 2}"].shape[1] > 1
        ):
            status, out, err = call("evaluate", str(path), "--data", str(points))
            assert status == 2 and out == ""
            _one_line_refusal(err, path)
            continue
        data = _csv(tmp_path / "labelled.csv", X, truth)
        status, out, err = call("evaluate", str(path), "--data", str(data), "--json")
        assert status == 0, err
        report = json.loads(out)
        if kind == "classifier":
            expected = np.mean(np.asarray([str(a) for a in answers]) == np.asarray(truth, str))
            assert report["accuracy"] == pytest.approx(expected, abs=1e-12)
        else:
            from portable_net.targets import r2

            expected = r2(np.asarray(truth)[:, None], np.asarray(answers)[:, None], None)
            assert report["r2"] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_the_issue_cases_answer_right(tmp_path):
    """predict on a Regressor's file printed 0 for every row; on a tanh Classifier's ran ReLU;
    Classifier.load took a Regressor's file."""
    X, _ = _data()
    path, _, values, _ = _estimator_regressor(tmp_path, "relu", 1)
    (tmp_path / "p.csv").write_text("".join(f"{a!r},{b!r}\n" for a, b in X.tolist()))
    status, out, err = call("predict", str(path), str(tmp_path / "p.csv"))
    assert status == 0, err
    assert [float(v) for v in out.split()] == values and len(set(values)) > 1
    with pytest.raises(ValueError, match="holds a regressor of 1 output"):
        pn.Classifier.load(path)
    path, _, labels, _ = _estimator_classifier(tmp_path, "tanh", 3)
    status, out, err = call("predict", str(path), str(tmp_path / "p.csv"))
    assert status == 0 and out.split() == labels
    with pytest.raises(ValueError, match="holds a classifier of 3 classes"):
        pn.Regressor.load(path)


def test_the_file_records_every_field_and_the_reader_needs_them_all(tmp_path):
    path = pn.save(tmp_path / "m.npz", pn.init_params([2, 3, 2]))
    model = document(path)["model"]
    assert set(model) == {"kind", "activation", "output", "loss", "classes", "classes_dtype",
                          "preprocessing", "dialect"}  # fmt: skip
    for key in model:

        def drop(doc, key=key):
            del doc["model"][key]

        bad = rewrite(path, tmp_path / f"no-{key}.npz", drop)
        with pytest.raises(ValueError, match=f"lacks {key}"):
            pn.load(bad)
    for key in model["preprocessing"]:

        def drop_pre(doc, key=key):
            del doc["model"]["preprocessing"][key]

        bad = rewrite(path, tmp_path / f"no-{key}.npz", drop_pre)
        with pytest.raises(ValueError, match="its preprocessing is not a dict of"):
            pn.load(bad)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"kind": "ranker"}, "its kind 'ranker' is not one of"),
        ({"activation": "gelu"}, "its activation 'gelu'"),
        ({"output": "identity", "loss": "squared_error"}, "a classifier has one softmax output"),
        ({"loss": "squared_error"}, "its loss 'squared_error' is not the cross_entropy"),
        ({"kind": "regressor"}, "a regressor has identity or exp outputs"),
        ({"classes": [0, 1, 2]}, "not 2 softmax output(s) for 3 classes"),
        ({"classes": ["apple", "banana"], "classes_dtype": "<U1"}, "do not fit its classes_dtype"),
        ({"classes": [1, 0]}, "not distinct and sorted"),
        ({"classes_dtype": "float64"}, "are not all of its classes_dtype float64"),
        ({"dialect": {"delimiter": ";;", "decimal": ".", "label": None}}, "not one character"),
    ],
)
def test_a_description_that_does_not_fit_is_refused_by_every_reader(tmp_path, change, match):
    params = pn.init_params([2, 3, 2])
    path = pn.save(tmp_path / "m.npz", params)
    bad = rewrite(path, tmp_path / "bad.npz", lambda doc: doc["model"].update(change))
    for reader in (pn.load, pn.Classifier.load, pn.Regressor.load):
        with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
            reader(bad)
    (tmp_path / "p.csv").write_text("0.5,0.5\n")
    for args in (["predict", str(bad), str(tmp_path / "p.csv")], ["evaluate", str(bad)]):
        status, out, err = call(*args)
        assert status == 2 and out == "" and len(err.splitlines()) == 1, err
        assert "bad.npz' is not a usable portable_net model" in err


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["apple", "banana", "cherry"]),
        np.array([10, 20, 30]),
        np.array([1.0, 2.0, 3.0]),
        np.array(["x", "yy", "zzz"], dtype=object),
        np.array([False, True]),
        np.array([-(2**62), 0, 2**62]),
    ],
    ids=["str", "int", "float", "object", "bool", "big-int"],
)
def test_classes_come_back_with_their_dtype_exactly(tmp_path, labels):
    X, y = _data()
    target = labels[y % len(labels)]
    clf = _quiet(lambda: pn.Classifier((3,), max_iter=3, random_state=0).fit(X, target))
    back = pn.Classifier.load(clf.save(tmp_path / "m.npz"))
    assert back.classes_.dtype == clf.classes_.dtype
    assert back.classes_.tolist() == clf.classes_.tolist()
    assert back.predict(X).tolist() == clf.predict(X).tolist()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(
        [
            "kind",
            "activation",
            "output",
            "loss",
            "classes",
            "classes_dtype",
            "preprocessing",
            "dialect",
        ]
    ),
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=8,
    ),
)
def test_any_description_loads_as_checked_or_is_one_value_error(tmp_path, field, value):
    params = pn.init_params([2, 3, 3], seed=0)
    path = tmp_path / "m.npz"
    if not path.exists():
        pn.save(path, params, classes=["a", "b", "c"], preprocessing={"feature_names": ["u", "v"]})
    bad = rewrite(path, tmp_path / "h.npz", lambda doc: doc["model"].update({field: value}))
    try:
        _loaded, meta = pn.load(bad)
    except ValueError as exc:
        assert "\n" not in str(exc) and "h.npz" in str(exc)
        return
    # loaded: what it says is one of the consistent descriptions
    assert meta["kind"] == "classifier" and len(meta["classes"]) == 3
    assert meta["activation"] in ACTIVATIONS


def test_a_feature_named_label_is_a_feature(tmp_path):
    X, y = _data()
    data = tmp_path / "d.csv"
    data.write_text("label,b,kind\n" + "".join(
        f"{a!r},{b!r},{c}\n" for (a, b), c in zip(X.tolist(), y.tolist())))  # fmt: skip
    status, _, err = call("train", "--data", str(data), "--label", "kind", "--steps", "30",
                          "--hidden", "4", "--save", str(tmp_path / "m.npz"))  # fmt: skip
    assert status == 0, err
    params, meta = pn.load(tmp_path / "m.npz")
    assert meta["preprocessing"]["feature_names"] == ["label", "b"]
    assert meta["dialect"] == {"delimiter": ",", "decimal": ".", "label": "kind"}
    status, out, err = call("predict", str(tmp_path / "m.npz"), "--data", str(data))
    assert status == 0, err
    assert [int(v) for v in out.split()] == pn.predict(params, X).tolist()
    status, out, err = call("evaluate", str(tmp_path / "m.npz"), "--data", str(data), "--json")
    assert status == 0, err  # the label column is the model's own: 'kind'
    assert json.loads(out)["accuracy"] == pn.accuracy(params, X, y)


def test_the_dialect_and_the_missing_values_policy_come_with_the_model(tmp_path):
    X, y = _data()
    rows = [f"{a!r};{b!r};{c}".replace(".", ",") for (a, b), c in zip(X.tolist(), y.tolist())]
    rows[3] = rows[3].split(";", 1)[0] + ";;" + rows[3].rsplit(";", 1)[1]  # a missing 'b'
    data = tmp_path / "d.csv"
    data.write_text("a;b;kind\n" + "\n".join(rows) + "\n")
    status, _, err = call("train", "--data", str(data), "--delimiter", ";", "--decimal", ",",
                          "--missing", "mean", "--max-iter", "30", "--hidden", "4",
                          "--save", str(tmp_path / "m.npz"))  # fmt: skip
    assert status == 0, err
    params, meta = pn.load(tmp_path / "m.npz")
    # the label column by its header's name (the last column, --label not given)
    assert meta["dialect"] == {"delimiter": ";", "decimal": ",", "label": "kind"}
    fill = meta["preprocessing"]["missing"]
    kept = np.delete(X, 3, axis=0)
    assert fill["policy"] == "mean"
    assert fill["fill"] == pytest.approx([X[:, 0].mean(), kept[:, 1].mean()], rel=1e-12)
    # predict reads the same file without options: the model's dialect, its fill, its label
    status, out, err = call("predict", str(tmp_path / "m.npz"), "--data", str(data))
    assert status == 0, err
    filled = X.copy()
    filled[3, 1] = fill["fill"][1]
    assert [int(v) for v in out.split()] == pn.predict(params, filled).tolist()


# --- files of the first format --------------------------------------------------------------


def _v1(path, params, metadata, version="0.1.0"):
    """A file as the first format wrote it: no model section; what the model is, if at all,
    in the metadata as each writer of the time put it."""
    sizes = [params["W1"].shape[0]] + [
        params[f"W{i}"].shape[1] for i in range(1, len(params) // 2 + 1)
    ]
    doc = {"format": "portable_net model", "format_version": 1, "portable_net_version": version,
           "layer_sizes": sizes, "dtype": "float64", "metadata": metadata}  # fmt: skip
    return write(path, params, doc)


def test_files_of_the_first_format_load_exactly_when_their_records_say_it_all(tmp_path):
    X, _y = _data()
    params = pn.init_params([2, 4, 3], seed=4, scale=0.8)
    settings_ = {"activation": "tanh", "hidden_layer_sizes": [4], "alpha": 1e-4}
    fitted = {"out_activation_": "softmax", "multilabel": False, "n_features_in_": 2,
              "feature_names_in_": None, "loss_curve_": [1.0], "n_iter_": 1, "t_": 36}  # fmt: skip
    clf = _v1(tmp_path / "clf.npz", params, {"estimator": "Classifier", "settings": settings_,
              "classes": ["a", "bb", "c"], "classes_dtype": "<U2", "n_features_in": 2,
              "fitted": fitted, "backend": "numpy", "device": "cpu"})  # fmt: skip
    model = pn.Classifier.load(clf)
    expected = np.array(["a", "bb", "c"])[pn.predict(params, X, activation="tanh")]
    assert model.predict(X).tolist() == expected.tolist() and model.classes_.dtype == "<U2"
    # the command's files: the activation at the top (or in 'training' when interrupted)
    scaled = {"mean": [0.1, -0.2], "scale": [2.0, 0.5]}
    training = {"steps": 5, "activation": "logistic"}
    data = {"file": "d.csv", "label": "label", "feature_names": ["a", "b"], "rows": 90}
    for name, extra in (("cli", {"activation": "logistic"}), ("interrupted", {})):
        path = _v1(tmp_path / f"{name}.npz", params, {"model": "mlp", "training": training,
                   "data": data, "classes": [0, 1, 2], "standardize": scaled, **extra})  # fmt: skip
        _, meta = pn.load(path)
        assert meta["activation"] == "logistic" and meta["format_version"] == 1
        assert meta["preprocessing"]["standardize"] == scaled
        assert meta["preprocessing"]["feature_names"] == ["a", "b"]
        (tmp_path / "p.csv").write_text("a,b\n" + "".join(f"{a!r},{b!r}\n" for a, b in X.tolist()))
        status, out, err = call("predict", str(path), str(tmp_path / "p.csv"))
        assert status == 0, err
        Z = (X - np.array(scaled["mean"])) / np.array(scaled["scale"])
        assert [int(v) for v in out.split()] == pn.predict(
            params, Z, activation="logistic"
        ).tolist()
    reg = _v1(tmp_path / "reg.npz", pn.init_params([2, 4, 1], seed=1), {"model": "mlp",
              "task": "regression", "activation": "relu", "training": {"activation": "relu"},
              "data": {"file": "r.csv", "label": None, "feature_names": ["a", "b"]}})  # fmt: skip
    assert pn.load(reg)[1]["kind"] == "regressor"
    with pytest.raises(ValueError, match="holds a regressor"):
        pn.Classifier.load(reg)


@pytest.mark.parametrize(
    ("metadata", "why"),
    [
        ({"steps": 10}, "without its hidden activation"),
        ({"estimator": "Classifier", "settings": {"hidden_layer_sizes": [4]},
          "fitted": {"out_activation_": "softmax"}, "classes": [0, 1, 2],
          "classes_dtype": "int64"}, "without its hidden activation"),
        ({"estimator": "Classifier", "settings": {"activation": "relu"}, "fitted": {},
          "classes": [0, 1, 2], "classes_dtype": "int64"}, "without its output layer"),
        ({"estimator": "Classifier", "settings": {"activation": "relu"},
          "fitted": {"out_activation_": "softmax"}}, "without its classes"),
        ({"estimator": "Regressor", "settings": {"activation": "relu"},
          "fitted": {"out_activation_": "softmax"}}, "do not agree"),
    ],
    ids=["save-without-activation", "estimator-without-activation", "without-output",
         "without-classes", "regressor-softmax"],
)  # fmt: skip
def test_files_of_the_first_format_that_cannot_be_told_are_refused_naming_the_version(
    tmp_path, metadata, why
):
    path = _v1(tmp_path / "old.npz", pn.init_params([2, 4, 3]), metadata, version="0.0.9")
    for reader in (pn.load, pn.Classifier.load):
        with pytest.raises(ValueError) as info:
            reader(path)
        message = str(info.value)
        assert "written by portable_net '0.0.9' (model format 1)" in message, message
        assert why in message and "\n" not in message
    (tmp_path / "p.csv").write_text("0.5,0.5\n")
    status, _, err = call("predict", str(path), str(tmp_path / "p.csv"))
    assert status == 2 and "(model format 1)" in err and len(err.splitlines()) == 1


def test_a_newer_format_is_refused_naming_its_writer(tmp_path):
    path = pn.save(tmp_path / "m.npz", pn.init_params([2, 3, 2]))

    def newer(doc):
        doc.update(format_version=3, portable_net_version="9.0")

    with pytest.raises(ValueError, match=r"format version 3 \(written by portable_net '9.0'\)"):
        pn.load(rewrite(path, tmp_path / "new.npz", newer))


def test_save_refuses_what_readers_would_not_apply(tmp_path):
    params = pn.init_params([2, 3, 2])
    for key in ("standardize", "categorical", "task", "feature_names", "missing"):
        with pytest.raises(TypeError, match=f"metadata '{key}' is part of what the model is"):
            pn.save(tmp_path / "m.npz", params, **{key: None})
    with pytest.raises(ValueError, match="a regressor has no classes"):
        pn.save(tmp_path / "m.npz", params, kind="regressor", classes=[0, 1])
    with pytest.raises(TypeError, match="all numbers or all text"):
        pn.save(tmp_path / "m.npz", params, classes=[1, "a"])
    assert not (tmp_path / "m.npz").exists()
