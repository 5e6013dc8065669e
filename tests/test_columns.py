"""A model trained on a CSV file with a header takes the columns of predict's and evaluate's
files by name, in its own order; a missing, unknown or unnamed column is exit 2."""

from __future__ import annotations

import numpy as np
import pytest

import portable_net as pn
from tests.test_cli_more import call


def _write(path, header, columns, rows):
    """A CSV file of ``rows`` (dicts by column name) with the columns in the given order."""
    lines = [",".join(columns)] if header else []
    lines += [",".join(str(row[c]) for c in columns) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("columns")
    X, y = pn.make_spiral(30, 3, seed=4)
    rows = [
        {"left": repr(a), "right": repr(b), "arm": f"arm{c}"}
        for (a, b), c in zip(X.tolist(), y.tolist())
    ]
    data = _write(folder / "arms.csv", True, ["left", "right", "arm"], rows)
    model = str(folder / "m.npz")
    status, _, err = call(
        "train", "--data", data, "--label", "arm", "--steps", "400", "--log-every", "400",
        "--hidden", "20", "--standardize", "--save", model, "--quiet",
    )  # fmt: skip
    assert status == 0, err
    _, meta = pn.load(model)
    assert meta["data"]["feature_names"] == ["left", "right"]
    return folder, model, rows, data


def test_evaluate_takes_the_columns_by_name(trained):
    folder, model, rows, data = trained
    swapped = _write(folder / "swapped.csv", True, ["arm", "right", "left"], rows)
    status, expected, err = call("evaluate", model, "--data", data, "--label", "arm")
    assert status == 0, err
    status, out, err = call("evaluate", model, "--data", swapped, "--label", "arm")
    assert status == 0, err
    assert out.replace("swapped.csv", "arms.csv") == expected
    assert float(expected.splitlines()[1].split()[-1]) > 0.6  # accuracy: a model that learnt


def test_predict_takes_the_columns_by_name(trained):
    folder, model, rows, data = trained
    status, expected, err = call("predict", model, "--data", data, "--label", "arm")
    assert status == 0, err
    points = _write(folder / "points.csv", True, ["right", "left"], rows)
    status, out, err = call("predict", model, points)
    assert status == 0, err
    assert out == expected
    swapped = _write(folder / "swapped2.csv", True, ["right", "arm", "left"], rows)
    status, out, err = call("predict", model, "--data", swapped)  # 'arm': the recorded label
    assert status == 0, err
    assert out == expected
    # the same labels as the library's own prediction on the columns in order
    params, meta = pn.load(model)
    X = np.array([[float(r["left"]), float(r["right"])] for r in rows])
    saved = meta["preprocessing"]["standardize"]
    scaled = (X - np.array(saved["mean"])) / np.array(saved["scale"])
    labels = [meta["classes"][i] for i in pn.predict(params, scaled).tolist()]
    assert out.split() == labels


@pytest.mark.parametrize(
    ("columns", "header", "message"),
    [
        (["left", "arm"], True, "lacks the model's feature column(s) right"),
        (["left", "extra", "right", "arm"], True, "(left, right); extra not among them"),
        (["left", "right", "arm"], False, "no header row, but the model takes its columns"),
        (["left", "left", "right", "arm"], True, "names the column(s) left more than once"),
    ],
)
@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_columns_the_model_cannot_take_by_name_are_exit_2(
    trained, columns, header, message, command
):
    folder, model, rows, _ = trained
    rows = [{**r, "extra": "1.5"} for r in rows]
    path = _write(folder / f"bad-{command}.csv", header, columns, rows)
    label = ["--label", "arm" if header else "-1"]
    status, out, err = call(command, model, "--data", path, *label)
    assert status == 2, err
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert message in err, err


def test_header_less_points_for_a_named_model_are_exit_2(trained):
    folder, model, rows, _ = trained
    points = _write(folder / "bare.csv", False, ["left", "right"], rows)
    status, _, err = call("predict", model, points)
    assert status == 2 and "line 1: no header row, but the model takes its" in err, err


def test_a_model_trained_without_a_header_takes_columns_in_order(tmp_path):
    X, y = pn.make_spiral(20, 3, seed=1)
    rows = [{"a": repr(p), "b": repr(q), "c": c} for (p, q), c in zip(X.tolist(), y.tolist())]
    data = _write(tmp_path / "bare.csv", False, ["a", "b", "c"], rows)
    model = str(tmp_path / "m.npz")
    status, _, err = call("train", "--data", data, "--steps", "50", "--save", model, "--quiet")
    assert status == 0, err
    named = tmp_path / "named.csv"  # any names: the model has none
    named.write_text("p,q,label\n" + (tmp_path / "bare.csv").read_text())
    named = str(named)
    status, by_position, err = call("predict", model, named)
    assert status == 0, err
    status, bare, err = call(
        "predict", model, _write(tmp_path / "pts.csv", False, ["a", "b"], rows)
    )
    assert status == 0 and bare == by_position, err
