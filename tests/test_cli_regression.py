"""portable-net train --task regression, and predict and evaluate on its model: R^2 and the
predictions against NumPy's arithmetic on the saved weights; usage errors before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest

import portable_net as pn
from portable_net.cli import main


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (120, 3))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.5 * X[:, 2]
    path = tmp_path / "r.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="a,b,c,target", comments="")
    return path, X, y


def _forward(params, X, activation):
    f = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0)}[activation]
    h = X
    n = len(params) // 2
    for i in range(1, n):
        h = f(h @ params[f"W{i}"] + params[f"b{i}"])
    return (h @ params[f"W{n}"] + params[f"b{n}"])[:, 0]


def test_train_predict_evaluate(table, tmp_path, capsys):
    path, X, y = table
    model = tmp_path / "m.npz"
    argv = ["train", "--data", str(path), "--label", "target", "--task", "regression",
            "--activation", "tanh", "--solver", "adam", "--learning-rate-init", "0.01",
            "--max-iter", "600", "--log-every", "200", "--hidden", "16", "--save", str(model),
            "--json"]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    params, meta = pn.load(model)
    assert meta["kind"] == "regressor" and meta["activation"] == "tanh"
    assert meta["layer_sizes"] == [3, 16, 1]
    pred = _forward(params, X, "tanh")
    r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    assert report["training_r2"] == pytest.approx(r2, rel=1e-12) and r2 > 0.8
    assert report["training_mse"] == pytest.approx(np.mean((y - pred) ** 2), rel=1e-12)
    assert main(["evaluate", str(model), "--data", str(path), "--label", "target", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["r2"] == pytest.approx(r2, rel=1e-12)
    points = tmp_path / "p.csv"
    np.savetxt(points, X[:5], delimiter=",", header="a,b,c", comments="")
    assert main(["predict", str(model), str(points)]) == 0
    printed = [float(v) for v in capsys.readouterr().out.split()]
    np.testing.assert_allclose(printed, pred[:5], rtol=1e-12)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--confusion"], "--confusion: applies to --task classification"),
        (["--solver", "adam", "--momentum", "0.5"], "--momentum: applies to --solver sgd"),
    ],
)
def test_classification_options_are_usage_errors(table, extra, message, capsys):
    path, _, _ = table
    argv = ["train", "--data", str(path), "--label", "target", "--task", "regression", *extra]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_loss_is_a_regression_option(table, capsys):
    path, _, _ = table
    with pytest.raises(SystemExit) as exc:
        main(["train", "--data", str(path), "--loss", "squared_error"])
    assert exc.value.code == 2 and "--loss: applies to --task regression" in capsys.readouterr().err


def test_without_data_or_with_text_targets(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--task", "regression"])
    assert exc.value.code == 2 and "needs --data" in capsys.readouterr().err
    bad = tmp_path / "t.csv"
    bad.write_text("a,target\n1,x\n2,y\n3,z\n")
    assert main(["train", "--data", str(bad), "--label", "target", "--task", "regression"]) == 2
    assert "must hold numbers" in capsys.readouterr().err
