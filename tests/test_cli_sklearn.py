"""The command on real data, as a user drives it (the installed command, in a process of its
own, warnings shown as Python shows them): scikit-learn's wine, breast cancer and diabetes
tables written as CSV files by pandas. Training on one's own data goes through the
Classifier and the Regressor with their (MLPClassifier's) defaults, checked against
scikit-learn's estimators on the same rows; a diverging regression is one line, exit 1 and
no file; predict and evaluate take the files train took (the label column, pandas' index
column, the dialect and the missing-value policy kept in the model); --plot draws any data;
inspect reads every kind of model file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

import portable_net as pn
from tests._helpers import decided, forward

pd = pytest.importorskip("pandas")
sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def command(*args, cwd=None):
    """``portable-net ARGS`` (the installed command, or ``python -m portable_net``), without
    PYTHONWARNINGS: a warning would show on stderr as it would to a user."""
    exe = shutil.which("portable-net")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "portable_net", *args]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def _ok(out):
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "Warning" not in out.stderr, out.stderr
    return out.stdout


#: (loader, the label column's name, task)
TABLES = {
    "wine": (load_wine, "cultivar", "classification"),
    "cancer": (load_breast_cancer, "diagnosis", "classification"),
    "diabetes": (lambda **kw: load_diabetes(scaled=False, **kw), "progression", "regression"),
}


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """Each table as a CSV file with a header (features, then the label column)."""
    folder = tmp_path_factory.mktemp("tables")
    out = {}
    for name, (load, label, _) in TABLES.items():
        frame = load(as_frame=True).frame.rename(columns={"target": label})
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        out[name] = (path, frame)
    return out


def _split(frame, label, test_size=0.25, stratify=True):
    X, y = frame.drop(columns=label).to_numpy(), frame[label].to_numpy()
    return train_test_split(X, y, test_size=test_size, random_state=0,
                            stratify=y if stratify else None)  # fmt: skip


# --- training through the estimators --------------------------------------------------------


@pytest.mark.parametrize("name", ["wine", "cancer"])
def test_no_tuning_flags_give_mlpclassifier_s_accuracy(tables, name):
    """The defaults are MLPClassifier's: the same held-out accuracy on the same split
    (train_test_split's rows, stratified, random_state 0), within 0.02."""
    path, frame = tables[name]
    label = TABLES[name][1]
    doc = json.loads(_ok(command("train", "--data", str(path), "--label", label,
                                 "--test-size", "0.25", "--json")))  # fmt: skip
    X_tr, X_te, y_tr, y_te = _split(frame, label)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLPClassifier's max_iter reached
        theirs = MLPClassifier(random_state=0).fit(X_tr, y_tr)
    assert abs(doc["test_accuracy"] - theirs.score(X_te, y_te)) <= 0.02
    assert doc["estimator"] == "Classifier" and doc["data"]["test_rows"] == len(y_te)
    defaults = MLPClassifier().get_params()
    for key in ("solver", "alpha", "batch_size", "learning_rate_init", "max_iter", "tol",
                "n_iter_no_change", "beta_1", "beta_2", "epsilon", "hidden_layer_sizes"):  # fmt: skip
        expected = list(defaults[key]) if isinstance(defaults[key], tuple) else defaults[key]
        assert doc["settings"][key] == expected, key


def test_the_options_are_the_estimators_parameters(tables):
    """--solver, --learning-rate-init, --alpha, --batch-size, --momentum, --tol, ...: the loss
    curve MLPClassifier draws with those parameters on the same standardised rows."""
    path, frame = tables["wine"]
    options = ["--hidden", "7", "5", "--solver", "sgd", "--learning-rate-init", "0.05",
               "--alpha", "0.001", "--batch-size", "16", "--max-iter", "30", "--tol", "0",
               "--n-iter-no-change", "1000", "--momentum", "0.5", "--no-nesterovs-momentum",
               "--no-shuffle", "--seed", "1"]  # fmt: skip
    doc = json.loads(_ok(command("train", "--data", str(path), "--label", "cultivar",
                                 "--test-size", "0.25", "--standardize", *options,
                                 "--json")))  # fmt: skip
    X_tr, X_te, y_tr, y_te = train_test_split(
        frame.drop(columns="cultivar").to_numpy(), frame["cultivar"].to_numpy(),
        test_size=0.25, random_state=1, stratify=frame["cultivar"].to_numpy(),
    )  # fmt: skip
    scaler = StandardScaler().fit(X_tr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = MLPClassifier(
            hidden_layer_sizes=(7, 5), solver="sgd", learning_rate_init=0.05, alpha=0.001,
            batch_size=16, max_iter=30, tol=0.0, n_iter_no_change=1000, momentum=0.5,
            nesterovs_momentum=False, shuffle=False, random_state=1,
        ).fit(scaler.transform(X_tr), y_tr)  # fmt: skip
    np.testing.assert_allclose(doc["history"]["loss"], theirs.loss_curve_, rtol=1e-10)
    assert doc["test_accuracy"] == pytest.approx(theirs.score(scaler.transform(X_te), y_te))
    assert doc["converged"] is False and doc["n_iter"] == 30


def test_regression_goes_through_the_regressor(tables):
    """--task regression: MLPRegressor's loss curve on the same standardised rows (not
    stratified), R^2 and the mean squared error of the test rows."""
    path, frame = tables["diabetes"]
    options = ["--solver", "adam", "--learning-rate-init", "0.01", "--max-iter", "40",
               "--tol", "0", "--no-shuffle", "--hidden", "16"]  # fmt: skip
    doc = json.loads(_ok(command("train", "--data", str(path), "--label", "progression",
                                 "--task", "regression", "--test-size", "0.2", "--standardize",
                                 *options, "--json")))  # fmt: skip
    X_tr, X_te, y_tr, y_te = _split(frame, "progression", 0.2, stratify=False)
    scaler = StandardScaler().fit(X_tr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=40,
                              tol=0.0, shuffle=False, random_state=0,
                              ).fit(scaler.transform(X_tr), y_tr)  # fmt: skip
    np.testing.assert_allclose(doc["history"]["loss"], theirs.loss_curve_, rtol=1e-10)
    assert doc["test_r2"] == pytest.approx(theirs.score(scaler.transform(X_te), y_te), rel=1e-9)
    assert doc["estimator"] == "Regressor" and "classes" not in doc


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--solver", "sgd"], "warning: training ended worse than it started"),
        (["--solver", "sgd", "--activation", "identity"], "error: training diverged"),
    ],
)
def test_a_diverging_regression_is_one_line_and_saves_nothing(tables, tmp_path, extra, said):
    """Unscaled features and gradient descent: exit 1, the reason (and --standardize) on
    stderr, no traceback, no NumPy warning, no model file."""
    path, _ = tables["diabetes"]
    model = tmp_path / "m.npz"
    out = command("train", "--data", str(path), "--label", "progression", "--task",
                  "regression", *extra, "--save", str(model))  # fmt: skip
    assert out.returncode == 1, out.stderr
    assert said in out.stderr and "give --standardize" in out.stderr
    assert "Traceback" not in out.stderr and "Warning" not in out.stderr
    assert "overflow" not in out.stderr and "invalid value" not in out.stderr
    assert not model.exists()
    if "error" in said:  # one line
        assert len(out.stderr.strip().splitlines()) == 1
    else:  # saved on request, and said so
        assert "was not saved" in out.stderr
        again = command("train", "--data", str(path), "--label", "progression", "--task",
                        "regression", *extra, "--save", str(model), "--save-anyway")  # fmt: skip
        assert again.returncode == 1 and model.exists()


def test_spiral_options_on_data_warn_and_say_what_they_mean(tables):
    """--steps counts updates and --reg is per example: translated to --max-iter (epochs)
    and --alpha (per batch), with a warning naming the option to give."""
    path, _ = tables["wine"]  # 178 rows: one batch of 178 an epoch
    out = command("train", "--data", str(path), "--label", "cultivar", "--standardize",
                  "--steps", "50", "--reg", "0.01", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    settings = json.loads(out.stdout)["settings"]
    assert settings["max_iter"] == 50 and settings["alpha"] == pytest.approx(1.78)
    assert "--steps is deprecated with --data" in out.stderr and "give --max-iter" in out.stderr
    assert "--reg is deprecated with --data" in out.stderr and "give --alpha" in out.stderr


# --- predict and evaluate take the files train took --------------------------------------------


@pytest.fixture(scope="module")
def wine_model(tables, tmp_path_factory):
    path, frame = tables["wine"]
    model = tmp_path_factory.mktemp("wine") / "wine.npz"
    _ok(command("train", "--data", str(path), "--label", "cultivar", "--standardize",
                "--save", str(model), "--quiet"))  # fmt: skip
    return model, frame


def _expected(model, X):
    params, meta = pn.load(model)
    saved = meta["preprocessing"]["standardize"]
    X = (np.asarray(X, dtype=np.float64) - saved["mean"]) / np.asarray(saved["scale"])
    return [str(meta["classes"][i]) for i in decided(params, X)]


def test_predict_takes_the_file_with_its_label_column(wine_model, tables):
    model, frame = wine_model
    path, _ = tables["wine"]
    printed = _ok(command("predict", str(model), str(path))).split()
    assert printed == _expected(model, frame.drop(columns="cultivar").to_numpy())
    assert _ok(command("predict", str(model), "--data", str(path))).split() == printed
    evaluated = json.loads(_ok(command("evaluate", str(model), "--data", str(path), "--json")))
    truth = frame["cultivar"].astype(str).tolist()
    assert evaluated["accuracy"] == pytest.approx(np.mean(np.array(printed) == truth))


def test_pandas_index_column_is_recognised_and_left_out(wine_model, tmp_path):
    """A DataFrame written with its index (an unnamed first column 0..n-1), also a slice of
    one: left out, with a note; train reads it alike."""
    model, frame = wine_model
    for rows in (frame, frame.iloc[40:90]):
        path = tmp_path / "indexed.csv"
        rows.to_csv(path)  # the index: the first column, unnamed
        out = command("predict", str(model), str(path))
        assert out.returncode == 0, out.stderr
        assert "its first column, unnamed and numbering the rows (pandas' index)" in out.stderr
        assert out.stdout.split() == _expected(model, rows.drop(columns="cultivar").to_numpy())
    trained = command("train", "--data", str(path), "--label", "cultivar", "--max-iter", "5",
                      "--json")  # fmt: skip
    assert trained.returncode == 0 and "pandas' index" in trained.stderr
    assert json.loads(trained.stdout)["layer_sizes"][0] == 13
    unnamed = tmp_path / "unnamed.csv"
    frame.iloc[:5].set_axis([3, 10, 17, 24, 31]).to_csv(unnamed)  # no count of the rows
    refused = command("predict", str(model), str(unnamed))
    assert refused.returncode == 2 and "does not number the rows" in refused.stderr


def test_the_dialect_and_missing_mean_are_kept_in_the_model(tables, tmp_path):
    """A model trained with --delimiter ';' --decimal , --missing mean predicts on such a
    file (with its label column and missing values) with no flags: the training file's
    column means filled in, then its standardisation, as pandas and NumPy compute them."""
    _, frame = tables["wine"]
    rng = np.random.default_rng(0)
    holed = frame.copy()
    features = [c for c in frame.columns if c != "cultivar"]
    for column in features[:4]:
        holed.loc[rng.choice(len(frame), 12, replace=False), column] = np.nan
    train = tmp_path / "train.csv"
    holed.to_csv(train, sep=";", decimal=",", index=False)
    model = tmp_path / "m.npz"
    _ok(command("train", "--data", str(train), "--label", "cultivar", "--delimiter", ";",
                "--decimal", ",", "--missing", "mean", "--standardize", "--save", str(model),
                "--quiet"))  # fmt: skip
    _, meta = pn.load(model)
    np.testing.assert_allclose(meta["preprocessing"]["missing"]["fill"],
                               holed[features].mean().to_numpy(), rtol=1e-12)  # fmt: skip
    new = holed.sample(30, random_state=1)
    path = tmp_path / "new.csv"
    new.to_csv(path, sep=";", decimal=",", index=False)
    printed = _ok(command("predict", str(model), str(path))).split()
    filled = new[features].fillna(holed[features].mean()).to_numpy()
    assert printed == _expected(model, filled)
    evaluated = _ok(command("evaluate", str(model), "--data", str(path)))
    accuracy = np.mean(np.array(printed) == new["cultivar"].astype(str).to_numpy())
    assert f"accuracy: {accuracy:.4f}" in evaluated


def test_missing_overrides_the_model_s_policy(wine_model, tmp_path):
    """--missing mean on a model trained without one fills in the training rows' means that
    its --standardize recorded; evaluate --missing drop leaves those rows out; without the
    option a missing value is refused, as the model says."""
    model, frame = wine_model
    holed = frame.copy()
    holed.loc[[2, 5], "ash"] = np.nan
    path = tmp_path / "holed.csv"
    holed.to_csv(path, index=False)
    refused = command("predict", str(model), str(path))
    assert refused.returncode == 2 and "line 4" in refused.stderr
    assert "give --missing mean" in refused.stderr
    _, meta = pn.load(model)
    features = holed.drop(columns="cultivar")
    means = dict(zip(features.columns, meta["preprocessing"]["standardize"]["mean"]))
    printed = _ok(command("predict", str(model), str(path), "--missing", "mean")).split()
    assert printed == _expected(model, features.fillna(means).to_numpy())
    dropped = json.loads(_ok(command("evaluate", str(model), "--data", str(path),
                                     "--missing", "drop", "--json")))  # fmt: skip
    assert dropped["rows"] == len(frame) - 2
    no_means = tmp_path / "raw.npz"
    _ok(command("train", "--data", str(tables_path(frame, tmp_path)), "--label", "cultivar",
                "--max-iter", "3", "--save", str(no_means), "--quiet"))  # fmt: skip
    out = command("predict", str(no_means), str(path), "--missing", "mean")
    assert out.returncode == 2 and "does not record" in out.stderr


def tables_path(frame, folder):
    path = folder / "plain.csv"
    frame.to_csv(path, index=False)
    return path


def test_regression_predictions_print_in_full_and_shortest(tables, tmp_path):
    """Each value as repr() writes it: the shortest text that reads back to the same float,
    equal to the model's forward pass in NumPy."""
    path, frame = tables["diabetes"]
    model = tmp_path / "d.npz"
    _ok(command("train", "--data", str(path), "--label", "progression", "--task",
                "regression", "--standardize", "--max-iter", "50", "--save", str(model),
                "--quiet"))  # fmt: skip
    printed = _ok(command("predict", str(model), str(path))).split()
    assert all(text == repr(float(text)) for text in printed)
    params, meta = pn.load(model)
    saved = meta["preprocessing"]["standardize"]
    X = (frame.drop(columns="progression").to_numpy() - saved["mean"]) / np.asarray(saved["scale"])
    np.testing.assert_allclose([float(v) for v in printed], forward(params, X)[:, 0],
                               rtol=1e-12)  # fmt: skip


def test_text_columns_in_a_regression(tmp_path):
    """--categorical for --task regression: the encoding saved, predict and evaluate read
    such files."""
    rng = np.random.default_rng(2)
    region = rng.choice(["north", "south"], 300)
    size = rng.standard_normal(300)
    price = np.where(region == "north", 3.0, -3.0) + size
    frame = pd.DataFrame({"region": region, "size": size, "price": price})
    frame.to_csv(tmp_path / "p.csv", index=False)
    model = tmp_path / "p.npz"
    _ok(command("train", "--data", str(tmp_path / "p.csv"), "--task", "regression",
                "--categorical", "region", "--learning-rate-init", "0.01", "--max-iter", "300",
                "--save", str(model), "--quiet"))  # fmt: skip
    _, meta = pn.load(model)
    assert meta["kind"] == "regressor"
    assert meta["preprocessing"]["categorical"] == {"columns": ["region"],
                                                    "categories": [["north", "south"]]}  # fmt: skip
    evaluated = json.loads(_ok(command("evaluate", str(model), "--data",
                                       str(tmp_path / "p.csv"), "--json")))  # fmt: skip
    assert evaluated["r2"] > 0.9
    printed = _ok(command("predict", str(model), str(tmp_path / "p.csv"))).split()
    assert len(printed) == 300


# --- pictures ---------------------------------------------------------------------------------


def test_plot_draws_13_features_and_a_regression(tables, tmp_path):
    """13 features: the loss curve and the held-out accuracy (one panel); a regression: its
    predicted against its true values beside the loss (two panels)."""
    pytest.importorskip("matplotlib")
    import matplotlib.image

    wine, _ = tables["wine"]
    diabetes, _ = tables["diabetes"]
    _ok(command("train", "--data", str(wine), "--label", "cultivar", "--standardize",
                "--early-stopping", "--plot", str(tmp_path / "w.png"), "--quiet"))  # fmt: skip
    _ok(command("train", "--data", str(diabetes), "--label", "progression", "--task",
                "regression", "--standardize", "--test-size", "0.2", "--max-iter", "50",
                "--plot", str(tmp_path / "d.png"), "--quiet"))  # fmt: skip
    assert matplotlib.image.imread(tmp_path / "w.png").shape[:2] == (460, 500)
    assert matplotlib.image.imread(tmp_path / "d.png").shape[:2] == (460, 1000)


def test_the_figure_holds_the_curves_and_the_predictions():
    """What run_figure draws: the loss and the held-out score as given, the predictions
    against the truth, the decision regions of two features."""
    pytest.importorskip("matplotlib")
    from portable_net.plot import run_figure

    curve = {"x": [1, 2, 3], "xlabel": "epoch", "loss": [1.0, 0.5, 0.25],
             "score": [0.5, 0.75, 0.9], "score_name": "held-out accuracy"}  # fmt: skip
    fig = run_figure(curve, predictions={"true": [1.0, 2.0], "predicted": [1.5, 2.5],
                                         "rows": "test", "target": "y"})  # fmt: skip
    scatter_ax, loss_ax, score_ax = fig.axes
    assert loss_ax.get_lines()[0].get_ydata().tolist() == curve["loss"]
    assert score_ax.get_lines()[0].get_ydata().tolist() == curve["score"]
    assert scatter_ax.collections[0].get_offsets().tolist() == [[1.0, 1.5], [2.0, 2.5]]
    X, y = pn.make_spiral(20, 2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached
        clf = pn.Classifier((8,), max_iter=5, random_state=0).fit(X, y)
    regions = {"params": clf.params_, "X": X, "y": y, "output": "logistic"}
    fig = run_figure({"x": [1], "loss": [0.7]}, regions=regions)
    assert fig.axes[0].get_title() == "decision regions" and len(fig.axes[0].images) == 1


# --- inspect ----------------------------------------------------------------------------------


def _cli_model(tables, name, tmp_path, *extra):
    path, _ = tables[name]
    _, label, task = TABLES[name]
    model = tmp_path / f"{name}.npz"
    _ok(command("train", "--data", str(path), "--label", label, "--task", task,
                "--standardize", "--max-iter", "20", "--test-size", "0.25", *extra,
                "--save", str(model), "--quiet"))  # fmt: skip
    return model


def _models(tables, tmp_path):
    X, y = pn.make_spiral(20, 3, seed=0)
    multilabel = np.stack([y == 0, y == 1], axis=1).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = pn.Classifier((4,), max_iter=3, random_state=0).fit(X, multilabel)
        two = pn.Regressor((4,), max_iter=3, random_state=0).fit(X, np.stack([X[:, 0], y], 1))
    spiral = tmp_path / "spiral.npz"
    _ok(command("train", "--steps", "20", "--save", str(spiral), "--quiet"))
    return {
        "wine (3 classes)": _cli_model(tables, "wine", tmp_path),
        "cancer (2 classes)": _cli_model(tables, "cancer", tmp_path),
        "diabetes (regression)": _cli_model(tables, "diabetes", tmp_path),
        "the spiral": spiral,
        "Classifier.save (multilabel)": labels.save(tmp_path / "multilabel.npz"),
        "Regressor.save (2 outputs)": two.save(tmp_path / "two.npz"),
        "save (bare)": pn.save(tmp_path / "bare.npz", pn.init_params([2, 3, 3], seed=0)),
    }


def test_inspect_reads_every_kind_of_model(tables, tmp_path):
    for what, model in _models(tables, tmp_path).items():
        params, meta = pn.load(model)
        text = _ok(command("inspect", str(model)))
        assert f"model: {pn.io.describe(meta)}" in text, what
        assert f"{os.path.getsize(model):,} bytes" in text, what
        assert f"written by portable_net {pn.__version__}" in text, what
        doc = json.loads(_ok(command("inspect", str(model), "--json")))
        assert doc["description"] == pn.io.describe(meta), what
        assert doc["bytes"] == os.path.getsize(model) and doc["layer_sizes"] == meta["layer_sizes"]
        assert doc["parameters"] == sum(int(np.asarray(v).size) for v in params.values())
        assert doc["preprocessing"] == meta["preprocessing"] and doc["kind"] == meta["kind"]
        if meta["kind"] == "classifier":
            assert "classes: " + ", ".join(map(str, meta["classes"])) in text, what
        if what.startswith("wine"):
            assert "inputs: 13, by name: alcohol, malic_acid" in text
            assert "scaling: standardized" in text and "portable_net.Classifier (" in text
            assert "label column 'cultivar'" in text and "test accuracy" in text
            assert "data: " in text and "45 held out for testing" in text
        if what.startswith("diabetes"):
            assert "targets: 1 real value (progression)" in text and "test R^2" in text
        if what == "the spiral":
            assert "portable_net.train (steps 20" in text and "the spiral, 100 points" in text


def test_inspect_refuses_what_is_not_a_model(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    out = command("inspect", str(bad))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "bad.npz" in out.stderr and out.stdout == ""
