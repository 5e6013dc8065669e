"""A user's own data from the command line: train, predict and evaluate with --data, against
scikit-learn's split, scaler and per-class report; every bad file is one line and exit 2."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import portable_net as pn
from tests._files import rewrite
from tests._helpers import decided
from tests.test_cli_more import call

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_digits, load_iris  # noqa: E402
from sklearn.metrics import classification_report, confusion_matrix  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--hidden", "16", "--max-iter", "60", "--lr", "0.01", "--log-every", "20"]


def _ok(status, stdout, stderr):
    assert status == 0, stderr
    return stdout


def _one_line_error(status, stdout, stderr):
    assert status == 2, (stdout, stderr)
    assert stdout == ""
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "Traceback" not in stderr
    return stderr


def _iris_csv(path, delimiter=","):
    """Iris with the species names as labels, in the middle column."""
    iris = load_iris()
    names = iris.target_names[iris.target]
    header = ["sepal_length", "sepal_width", "species", "petal_length", "petal_width"]
    rows = [delimiter.join(header)]
    for x, name in zip(iris.data.tolist(), names.tolist()):
        rows.append(delimiter.join([repr(x[0]), repr(x[1]), name, repr(x[2]), repr(x[3])]))
    path.write_text("\n".join(rows) + "\n")
    return iris.data, names


# --- the digits example, end to end -------------------------------------------------------------


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The example run as a user runs it, then the training command it prints."""
    folder = tmp_path_factory.mktemp("digits")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "digits.py"), str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    commands = [shlex.split(line) for line in out.stdout.splitlines() if "portable-net" in line]
    assert [c[:2] for c in commands] == [
        ["portable-net", "train"],
        ["portable-net", "evaluate"],
        ["portable-net", "predict"],
    ]
    train = commands[0][1:]
    for option in ("--test-size", "--standardize", "--label", "--save"):
        assert option in train
    trained = _ok(*call(*train))
    return folder, commands, trained


def test_the_example_writes_the_digits_with_a_header(digits):
    folder, _, _ = digits
    text = (folder / "digits.csv").read_text().splitlines()
    assert text[0] == ",".join([f"pixel{j}" for j in range(64)] + ["digit"])
    ref = load_digits()
    table = np.array([[float(v) for v in line.split(",")] for line in text[1:]])
    np.testing.assert_array_equal(table[:, :64], ref.data)
    np.testing.assert_array_equal(table[:, 64], ref.target)


def test_the_example_defaults_to_a_new_temporary_directory(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "digits.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    m = re.search(r"temporary directory: (\S+)", out.stdout)
    written = Path(m.group(1)) / "digits.csv"
    assert written.is_file() and not list(tmp_path.iterdir())  # nothing in the working dir
    written.unlink()
    written.parent.rmdir()


def test_digits_trains_to_sklearn_split_and_scaler(digits):
    """The saved statistics are StandardScaler's on train_test_split's training rows, and the
    printed accuracies and per-class table are those of the saved model on its test rows."""
    folder, _, stdout = digits
    ref = load_digits()
    X_tr, X_te, y_tr, y_te = train_test_split(
        ref.data, ref.target, test_size=0.25, stratify=ref.target, random_state=0
    )
    scaler = StandardScaler().fit(X_tr)
    params, meta = pn.load(folder / "digits.npz")
    assert meta["layer_sizes"][0] == 64 and meta["layer_sizes"][-1] == 10
    assert meta["classes"] == list(range(10))
    np.testing.assert_allclose(
        meta["preprocessing"]["standardize"]["mean"], scaler.mean_, rtol=1e-12
    )
    np.testing.assert_allclose(
        meta["preprocessing"]["standardize"]["scale"], scaler.scale_, rtol=1e-12
    )
    assert meta["data"]["test_rows"] == len(y_te) == 450

    pred_tr = pn.predict(params, scaler.transform(X_tr))
    pred_te = pn.predict(params, scaler.transform(X_te))
    train_acc = float(re.search(r"training accuracy: (\S+)", stdout).group(1))
    test_acc = float(re.search(r"test accuracy: (\S+)", stdout).group(1))
    assert train_acc == pytest.approx(np.mean(pred_tr == y_tr), abs=5e-5)
    assert test_acc == pytest.approx(np.mean(pred_te == y_te), abs=5e-5)
    assert test_acc >= 0.96  # measured: 0.9756 (the Classifier's defaults: Adam, 1e-3, 200 epochs)

    report = classification_report(y_te, pred_te, output_dict=True, zero_division=0)
    rows = {line.split()[0]: line.split()[1:] for line in stdout.splitlines()[-15:]}
    for digit in range(10):
        p, r, f, s = rows[str(digit)]
        expected = report[str(digit)]
        assert float(p) == pytest.approx(expected["precision"], abs=5e-5)
        assert float(r) == pytest.approx(expected["recall"], abs=5e-5)
        assert float(f) == pytest.approx(expected["f1-score"], abs=5e-5)
        assert int(s) == expected["support"]


def test_digits_predict_and_evaluate_use_the_saved_scaling(digits):
    folder, commands, _ = digits
    ref = load_digits()
    params, meta = pn.load(folder / "digits.npz")
    mean, scale = (
        np.array(meta["preprocessing"]["standardize"]["mean"]),
        np.array(meta["preprocessing"]["standardize"]["scale"]),
    )
    expected = pn.predict(params, (ref.data - mean) / scale)

    predicted = _ok(*call(*commands[2][1:])).splitlines()
    assert predicted == [str(v) for v in expected.tolist()]
    # without --label, the model's own label column ('digit') is left out of the header
    no_label = [a for a in commands[2][1:] if a not in ("--label", "digit")]
    assert _ok(*call(*no_label)).splitlines() == predicted

    evaluated = _ok(*call(*commands[1][1:]))
    acc = float(re.search(r"^accuracy: (\S+)", evaluated, re.M).group(1))
    assert acc == pytest.approx(np.mean(expected == ref.target), abs=5e-5)
    matrix = confusion_matrix(ref.target, expected)
    lines = evaluated.splitlines()
    start = lines.index("confusion matrix (rows: true class, columns: predicted class):")
    printed = [[int(v) for v in line.split()[1:]] for line in lines[start + 2 :]]
    np.testing.assert_array_equal(printed, matrix)


# --- names as labels, other files, the JSON report ---------------------------------------------


def test_names_as_labels_a_count_split_and_the_json_report(tmp_path):
    X, names = _iris_csv(tmp_path / "iris.csv")
    model = tmp_path / "iris.npz"
    args = ["train", "--data", str(tmp_path / "iris.csv"), "--label", "species"]
    args += ["--test-size", "30", "--seed", "3", "--standardize", "--confusion", "--json"]
    doc = json.loads(_ok(*call(*args, *FAST, "--save", str(model))))
    assert doc["classes"] == ["setosa", "versicolor", "virginica"]
    assert doc["layer_sizes"] == [4, 16, 3]

    X_tr, X_te, y_tr, y_te = train_test_split(
        X, names, test_size=30, stratify=names, random_state=3
    )
    scaler = StandardScaler().fit(X_tr)
    params, meta = pn.load(model)
    np.testing.assert_allclose(
        meta["preprocessing"]["standardize"]["mean"], scaler.mean_, rtol=1e-12
    )
    np.testing.assert_allclose(
        meta["preprocessing"]["standardize"]["scale"], scaler.scale_, rtol=1e-12
    )
    classes = np.array(doc["classes"])
    pred_te = classes[pn.predict(params, scaler.transform(X_te))]
    pred_tr = classes[pn.predict(params, scaler.transform(X_tr))]
    assert doc["test_accuracy"] == pytest.approx(np.mean(pred_te == y_te), abs=1e-12)
    assert doc["training_accuracy"] == pytest.approx(np.mean(pred_tr == y_tr), abs=1e-12)
    report = classification_report(y_te, pred_te, output_dict=True, zero_division=0)
    for row in doc["per_class"]:
        expected = report[row["class"]]
        assert row["precision"] == pytest.approx(expected["precision"], abs=1e-12)
        assert row["recall"] == pytest.approx(expected["recall"], abs=1e-12)
        assert row["f1"] == pytest.approx(expected["f1-score"], abs=1e-12)
        assert row["support"] == expected["support"]
    for mine, theirs in (("macro_avg", "macro avg"), ("weighted_avg", "weighted avg")):
        assert doc[mine]["f1"] == pytest.approx(report[theirs]["f1-score"], abs=1e-12)
        assert doc[mine]["precision"] == pytest.approx(report[theirs]["precision"], abs=1e-12)
    np.testing.assert_array_equal(doc["confusion"], confusion_matrix(y_te, pred_te, labels=classes))

    # predict prints the names; evaluate matches the labels by name
    predicted = _ok(*call("predict", str(model), "--data", str(tmp_path / "iris.csv")))
    expected = classes[pn.predict(params, scaler.transform(X))]
    assert predicted.splitlines() == expected.tolist()
    points = tmp_path / "points.csv"  # POINTS, features only: the saved scaling applies too
    header = ",".join(meta["data"]["feature_names"]) + "\n"  # the model takes them by name
    points.write_text(header + "".join(",".join(map(repr, row)) + "\n" for row in X.tolist()))
    assert _ok(*call("predict", str(model), str(points))).splitlines() == expected.tolist()
    quiet = _ok(*call(*args[:-2], *FAST, "--quiet")).splitlines()
    assert [line.split(":")[0] for line in quiet] == ["training accuracy", "test accuracy"]
    evaluated = json.loads(
        _ok(
            *call(
                "evaluate",
                str(model),
                "--data",
                str(tmp_path / "iris.csv"),
                "--label",
                "2",
                "--json",
            )
        )
    )
    assert evaluated["accuracy"] == pytest.approx(np.mean(expected == names), abs=1e-12)
    assert evaluated["classes"] == doc["classes"]


def test_npz_npy_pair_and_a_delimiter_give_the_same_model(tmp_path):
    X, names = _iris_csv(tmp_path / "iris.tsv", delimiter="\t")
    np.savez(tmp_path / "iris.npz", X=X, y=names)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", names)
    runs = [
        ["--data", str(tmp_path / "iris.tsv"), "--delimiter", "tab", "--label", "species"],
        ["--data", str(tmp_path / "iris.npz")],
        ["--data", f"{tmp_path / 'X.npy'},{tmp_path / 'y.npy'}"],
    ]
    docs = [
        json.loads(_ok(*call("train", *r, *FAST, "--test-size", "0.2", "--json"))) for r in runs
    ]
    for doc in docs[1:]:
        assert doc["history"] == docs[0]["history"]
        assert doc["test_accuracy"] == docs[0]["test_accuracy"]
        assert doc["classes"] == docs[0]["classes"]


@pytest.mark.parametrize(
    ("labels", "classes"),
    [
        ([0.5, 1.5, 2.5], ["0.5", "1.5", "2.5"]),  # non-integral numbers: kept as text
        ([10.0, 2.0, 7.0], [2, 7, 10]),  # integral numbers: integers, in numeric order
        ([True, False, True], ["False", "True"]),
    ],
)
def test_labels_of_any_kind_become_class_names(tmp_path, labels, classes):
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(labels), 20)
    X = rng.standard_normal((y.shape[0], 3)) + (np.unique(y, return_inverse=True)[1][:, None])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    model = tmp_path / "m.npz"
    doc = json.loads(
        _ok(
            *call("train", "--data", str(tmp_path / "d.npz"), *FAST, "--json", "--save", str(model))
        )
    )
    assert doc["classes"] == classes
    assert doc["report_on"] == "training"
    params, meta = pn.load(model)
    assert meta["classes"] == classes
    predicted = _ok(*call("predict", str(model), "--data", str(tmp_path / "d.npz"))).splitlines()
    assert predicted == [str(classes[i]) for i in decided(params, X).tolist()]
    evaluated = json.loads(
        _ok(*call("evaluate", str(model), "--data", str(tmp_path / "d.npz"), "--json"))
    )
    assert evaluated["accuracy"] == pytest.approx(doc["training_accuracy"], abs=1e-12)


def test_a_model_of_named_classes_is_not_evaluated_on_the_spiral(tmp_path):
    rows = "x0,x1,y\n" + "".join(f"{i % 3}.5,{i}.25,{'ab'[i % 2]}\n" for i in range(20))
    (tmp_path / "d.csv").write_text(rows)
    _ok(*call("train", "--data", str(tmp_path / "d.csv"), *FAST, "--save", str(tmp_path / "m.npz")))
    err = _one_line_error(*call("evaluate", str(tmp_path / "m.npz")))
    assert "are not the spiral's 0..1" in err and "--data" in err


def test_help_lists_every_data_option_with_its_default():
    for command, options in (
        (
            "train",
            ["--data", "--label", "--delimiter", "--test-size", "--standardize", "--confusion"],
        ),
        ("predict", ["--data", "--label", "--delimiter"]),
        ("evaluate", ["--data", "--label", "--delimiter", "--confusion"]),
    ):
        status, stdout, _ = call(command, "--help")
        assert status == 0
        text = " ".join(stdout.split())
        for option in options:
            assert option in text
        assert (
            "(default: ,)" in text
            or "(default: the model's, as in its training file; else ,)" in text
        )
    _, stdout, _ = call("train", "--help")
    text = " ".join(stdout.split())
    assert "(default: the last column)" in text and "(default: train on every row" in text


# --- bad files and options: one line, exit 2, nothing written ----------------------------------


@pytest.fixture
def files(tmp_path):
    def write(name, text):
        (tmp_path / name).write_text(text)
        return str(tmp_path / name)

    good = "a,b,label\n" + "".join(f"{i}.5,{i % 4},{'xy'[i % 2]}\n" for i in range(12))
    return {
        "dir": str(tmp_path),
        "good": write("good.csv", good),
        "semicolon": write("semi.csv", good.replace(",", ";")),
        "ragged": write("ragged.csv", "a,b,label\n1,2,x\n3,4,y\n5,6\n"),
        "single": write("single.csv", "a,b,label\n1,2,x\n3,4,x\n5,6,x\n"),
        "tiny": write("tiny.csv", "a,b,label\n1,2,x\n3,4,y\n5,6,x\n6,7,y\n"),
        "lonely": write("lonely.csv", "a,b,label\n1,2,x\n3,4,y\n5,6,x\n6,7,z\n8,8,y\n"),
        "comma": write("comma.csv", 'a,b,label\n1,2,"x,y"\n3,4,z\n5,6,"x,y"\n6,7,z\n'),
        "letters": write("letters.csv", "a,b,label\n1,2,x\n3,oops,y\n"),
        "empty": write("empty.csv", ""),
        "three": write("three.csv", "a,b,c,label\n" + "1,2,3,x\n4,5,6,y\n" * 3),
    }


TRAIN_ERRORS = [
    (["--data", "{dir}/none.csv"], "none.csv' does not exist"),
    (["--data", "{dir}"], "is a directory"),
    (["--data", "{empty}"], "is empty"),
    (["--data", "{semicolon}"], "give --delimiter ';'"),
    (["--data", "{ragged}"], "line 4: expected 3 fields (as on line 1), got 2"),
    (["--data", "{letters}"], "line 3, column 2 ('b'): 'oops' is not a number"),
    (
        ["--data", "{good}", "--label", "nope"],
        "no column named 'nope'; its columns are: a, b, label",
    ),
    (["--data", "{good}", "--label", "7"], "--label 7 is not a column"),
    (["--data", "{single}"], "holds a single class ('x')"),
    (["--data", "{comma}"], "'x,y' contains a comma"),
    (["--data", "{tiny}", "--test-size", "0.25"], "--test-size"),
    (["--data", "{tiny}", "--test-size", "3"], "leaves 1 training rows for 2 classes"),
    (["--data", "{lonely}", "--test-size", "2"], "these have 1: ['z']"),
    (["--data", "{good}", "--test-size", "1.5"], "a fraction must be in (0, 1)"),
    (["--data", "{good}", "--test-size", "0"], "must be >= 1"),
    (["--data", "{good}", "--test-size", "half"], "expected a fraction in (0, 1) or a number"),
    (["--data", "{good}", "--test-size", "12"], "--test-size as a count must be in 1..11"),
    (["--data", "{good}", "--delimiter", "ab"], "expected one character"),
    (["--test-size", "0.2"], "--test-size: applies to --data FILE only"),
    (["--standardize"], "--standardize: applies to --data FILE only"),
    (["--label", "a"], "--label: applies to --data FILE only"),
    (["--data", "{good}", "--classes", "4"], "--classes: applies to the spiral"),
    (["--data", "{good}", "--test-size", "2", "--seed", "4294967296"], "--seed: must be < 2**32"),
    (["--data", "{dir}/d.npz", "--label", "a"], "picks a CSV column"),
]


@pytest.mark.parametrize(("args", "match"), TRAIN_ERRORS)
def test_a_bad_file_or_option_for_train_is_one_line_and_nothing_is_written(files, args, match):
    args = [a.format(**files) for a in args]
    save = Path(files["dir"]) / "model.npz"
    err = _one_line_error(*call("train", *args, *FAST, "--save", str(save)))
    assert match in err
    assert not save.exists() and not (Path(files["dir"]) / "p.png").exists()


@pytest.fixture
def good_model(files):
    model = Path(files["dir"]) / "good.npz"
    _ok(*call("train", "--data", files["good"], *FAST, "--save", str(model)))
    return str(model)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["predict", "{model}", "--data", "{dir}/none.csv"], "none.csv' does not exist"),
        (["predict", "{model}", "--data", "{semicolon}"], "give --delimiter ';'"),
        (["predict", "{model}", "--data", "{three}"], "the header names 3 feature columns"),
        (["predict", "{model}", "--data", "{good}", "--label", "c"], "no column named 'c'"),
        (["predict", "{model}", "--data", "{good}", "--label", "9"], "--label 9 is not a column"),
        (["predict", "{model}", "{good}", "--data", "{good}"], "POINTS or as --data FILE, not"),
        (["predict", "{model}"], "required: POINTS (or give --data FILE)"),
        (["predict", "{model}", "{good}", "--label", "zz"], "no column named 'zz'"),
        (["evaluate", "{model}", "--data", "{three}"], "has 3 feature columns but the model has 2"),
        (
            ["evaluate", "{model}", "--data", "{comma}"],
            "2 labels the model does not know ('x,y', 'z')",
        ),
        (
            ["evaluate", "{model}", "--data", "{ragged}"],
            "line 4: expected 3 fields (as on line 1), got 2",
        ),
        (
            ["evaluate", "{model}", "--data", "{good}", "--seed", "1"],
            "--seed: applies to the spiral",
        ),
        (["evaluate", "{model}", "--confusion"], "--confusion: applies to --data FILE only"),
    ],
)
def test_a_bad_file_for_predict_or_evaluate_is_one_line(files, good_model, args, match):
    args = [a.format(model=good_model, **files) for a in args]
    err = _one_line_error(
        *call(*args, "--output", f"{files['dir']}/out.txt") if args[0] == "predict" else call(*args)
    )
    assert match in err
    assert not (Path(files["dir"]) / "out.txt").exists()


@pytest.mark.parametrize(
    ("saved", "match"),
    [
        ({"mean": [0.0], "scale": [1.0]}, "its standardisation is not a mean and a positive"),
        ({"mean": [0.0, 0.0], "scale": [1.0, 0.0]}, "its standardisation is not a mean"),
        ({"mean": [0.0, 0.0]}, "its standardisation is not a mean and a positive scale"),
    ],
)
def test_a_broken_saved_standardisation_is_refused(tmp_path, saved, match):
    params = pn.init_params([2, 3, 2])
    with pytest.raises(ValueError, match="standardisation is not a mean"):  # never written
        pn.save(tmp_path / "m.npz", params, preprocessing={"standardize": saved})
    pn.save(tmp_path / "ok.npz", params, classes=["a", "b"])

    def change(doc):
        doc["model"]["preprocessing"]["standardize"] = saved

    rewrite(tmp_path / "ok.npz", tmp_path / "m.npz", change)
    (tmp_path / "p.csv").write_text("x0,x1,label\n0.5,0.5,a\n1.5,0.5,b\n")
    for args in (
        ["predict", str(tmp_path / "m.npz"), str(tmp_path / "p.csv")],
        ["evaluate", str(tmp_path / "m.npz"), "--data", str(tmp_path / "p.csv")],
    ):
        assert match in _one_line_error(*call(*args))
