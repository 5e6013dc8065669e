"""The command line on real CSV files: decimal commas, missing values, a file without a
header, unscaled features, predict's probabilities and what the defaults are (issue 26).

pandas (the test extra) reads the same files as the independent reference.
"""

import io
import json

import numpy as np
import pytest

import portable_net as pn
from portable_net.tabular import read_table
from tests.test_cli_more import call

pd = pytest.importorskip("pandas")  # the test extra; a GPU machine's image may lack it


@pytest.fixture
def semicolons(tmp_path):
    """A European spreadsheet's export: ';' between fields, decimal commas."""
    path = tmp_path / "semi.csv"
    path.write_text(
        "length;width;kind\n1,5;2,25;x\n-0,5;1,0e1;y\n0,25;-1,5;x\n1,0;0,5;y\n3;4;x\n",
        encoding="utf-8",
    )
    return path


def test_decimal_comma_reads_as_pandas(semicolons):
    X, labels, names = read_table(semicolons, "kind", delimiter=";", decimal=",")
    ref = pd.read_csv(semicolons, sep=";", decimal=",")
    np.testing.assert_array_equal(X, ref[["length", "width"]].to_numpy(dtype=np.float64))
    assert labels.tolist() == ref["kind"].tolist()
    assert names == ["length", "width"]


def test_decimal_comma_refuses_a_point_and_the_delimiter(tmp_path, semicolons):
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("a;b;kind\n1,5;2.5;x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2, column 2 \('b'\): '2.5' is not a number"):
        read_table(mixed, "kind", delimiter=";", decimal=",")
    with pytest.raises(ValueError, match="decimal and delimiter must differ"):
        read_table(semicolons, "kind", decimal=",")
    with pytest.raises(ValueError, match="decimal must be '.' or ','"):
        read_table(semicolons, "kind", delimiter=";", decimal="-")


def test_cli_decimal_comma_and_its_hints(semicolons):
    # read with ',' (the default): one column; the hint names ';' and decimal commas
    status, _, err = call("train", "--data", str(semicolons), "--label", "kind", "--steps", "2")
    assert status == 2
    assert "(give --delimiter ';')" in err and "also give --decimal ," in err
    # read with ';': '1,5' is named as a decimal comma, not as another delimiter
    status, _, err = call(
        "train", "--data", str(semicolons), "--label", "kind", "--delimiter", ";", "--steps", "2"
    )
    assert status == 2
    assert "'1,5' is not a number; it looks like a number with a decimal comma" in err
    assert "(give --decimal ,)" in err and "','-separated" not in err
    # both: it trains, on the numbers pandas reads
    status, out, err = call(
        "train", "--data", str(semicolons), "--label", "kind", "--delimiter", ";",
        "--decimal", ",", "--steps", "50", "--json",
    )  # fmt: skip
    assert status == 0, err
    assert json.loads(out)["data"]["rows"] == 5
    # --decimal , with the default delimiter ',' is refused before reading
    status, _, err = call("train", "--data", str(semicolons), "--decimal", ",")
    assert status == 2 and "argument --decimal" in err and "--delimiter ';'" in err


@pytest.fixture
def gaps(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("a,b,kind\n1,2,x\n,3,y\n4,NA,x\n5,6,y\n7,8,x\n6,?,y\n", encoding="utf-8")
    return path


def test_missing_values_refused_with_the_choices_named(gaps):
    with pytest.raises(ValueError, match=r"line 3, column 1 \('a'\): is empty \(a missing value: "):
        read_table(gaps, "kind")
    status, _, err = call("train", "--data", str(gaps), "--label", "kind", "--steps", "2")
    assert status == 2
    assert "give --missing drop to drop its rows, or --missing mean" in err
    assert "Traceback" not in err
    with pytest.raises(ValueError, match="missing must be one of error, drop, mean"):
        read_table(gaps, "kind", missing="zero")


def test_missing_drop_and_mean_as_pandas(gaps):
    ref = pd.read_csv(gaps, na_values=["?"])
    dropped = ref.dropna()
    X, labels, _ = read_table(gaps, "kind", missing="drop")
    np.testing.assert_array_equal(X, dropped[["a", "b"]].to_numpy(dtype=np.float64))
    assert labels.tolist() == dropped["kind"].tolist()
    filled = ref.fillna(ref[["a", "b"]].mean())
    X, labels, _ = read_table(gaps, "kind", missing="mean")
    np.testing.assert_allclose(X, filled[["a", "b"]].to_numpy(dtype=np.float64), rtol=1e-15)
    assert labels.tolist() == ref["kind"].tolist()
    for choice, rows in (("drop", 3), ("mean", 6)):
        status, out, err = call(
            "train", "--data", str(gaps), "--label", "kind", "--missing", choice,
            "--steps", "5", "--json",
        )  # fmt: skip
        assert status == 0, err
        assert json.loads(out)["data"]["rows"] == rows


def test_missing_inf_is_still_refused_and_an_empty_label_dropped(tmp_path):
    path = tmp_path / "inf.csv"
    path.write_text("a,b,kind\n1,inf,x\n2,3,y\n", encoding="utf-8")
    with pytest.raises(ValueError, match="'inf' is not a finite number"):
        read_table(path, "kind", missing="mean")
    path.write_text("a,b,kind\n1,2,x\n3,4,\n5,6,y\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"the label \(column 3\) is empty \(pass missing='drop'"):
        read_table(path, "kind")
    X, labels, _ = read_table(path, "kind", missing="drop")
    assert X.tolist() == [[1.0, 2.0], [5.0, 6.0]] and labels.tolist() == ["x", "y"]


def test_missing_value_in_predict_names_the_option_it_has(gaps, tmp_path):
    model = tmp_path / "m.npz"
    status, _, err = call(
        "train", "--data", str(gaps), "--label", "kind", "--missing", "drop", "--max-iter", "5",
        "--quiet", "--save", str(model),
    )  # fmt: skip
    assert status == 0, err
    # the model drops rows as its training did; predict needs every row
    status, out, err = call("evaluate", str(model), "--data", str(gaps), "--json")
    assert status == 0, err
    rows = len(gaps.read_text().splitlines()) - 1
    assert json.loads(out)["rows"] < rows
    status, _, err = call("predict", str(model), "--data", str(gaps))
    assert status == 2
    assert "is empty (a missing value: give --missing mean" in err  # predict's own option
    assert "--missing drop" not in err  # predict answers every row: it drops none
    status, _, err = call("predict", str(model), "--data", str(gaps), "--missing", "drop")
    assert status == 2 and "argument --missing: invalid choice: 'drop'" in err
    status, out, err = call("evaluate", str(model), "--data", str(gaps), "--missing", "error")
    assert status == 2 and "give --missing drop to drop its rows" in err


def test_missing_needs_data():
    status, _, err = call("train", "--missing", "drop")
    assert status == 2 and "argument --missing: applies to --data FILE only" in err


def test_headerless_file_with_a_label_name(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text("5.1,3.5,setosa\n4.9,3.0,setosa\n6.3,2.9,virginica\n", encoding="utf-8")
    status, _, err = call("train", "--data", str(path), "--label", "species", "--steps", "2")
    assert status == 2
    assert "seems to have no header row" in err and "(5.1, 3.5, setosa) looks like data" in err
    assert "give --label INDEX (0 for the first column, 2 or -1 for the last)" in err
    assert "its columns are" not in err
    status, _, err = call("train", "--data", str(path), "--label", "-1", "--steps", "2")
    assert status == 0, err
    # a header whose names are not the one asked for still lists its columns
    named = tmp_path / "named.csv"
    named.write_text("sepal,petal,kind\n5.1,3.5,setosa\n", encoding="utf-8")
    status, _, err = call("train", "--data", str(named), "--label", "species", "--steps", "2")
    assert status == 2 and "its columns are: sepal, petal, kind" in err


def _unscaled(tmp_path):
    """The spiral with one feature in thousands: gradient descent at rate 0.1 diverges."""
    X, y = pn.make_spiral(50, 3, seed=0)
    path = tmp_path / "unscaled.csv"
    rows = "".join(f"{a * 1000!r},{b!r},{c}\n" for (a, b), c in zip(X.tolist(), y.tolist()))
    path.write_text("big,small,arm\n" + rows, encoding="utf-8")
    return path


def test_diverging_run_on_unscaled_features_suggests_standardize(tmp_path):
    path = _unscaled(tmp_path)
    sgd = ["--solver", "sgd", "--learning-rate-init", "0.1", "--max-iter", "30", "--quiet"]
    status, _, err = call("train", "--data", str(path), *sgd)
    assert status == 1 and "training ended worse than it started" in err
    assert "the features' scales differ by orders of magnitude" in err
    assert "'big'" in err and "'small'" in err and "give --standardize" in err
    status, _, err = call("train", "--data", str(path), *sgd, "--standardize")
    assert status == 0 and "--standardize" not in err


def test_scale_hint_only_for_scales_apart():
    from portable_net.cli._data import scale_hint

    assert scale_hint(np.array([[1.0, 50.0], [-1.0, -50.0]]), ["a", "b"]) is None
    hint = scale_hint(np.array([[1.0, 500.0], [-1.0, -500.0]]), ["a", "b"])
    assert hint is not None and "500 for 'b', 1 for 'a'" in hint


def test_predict_proba_prints_a_header_row(tmp_path):
    data = tmp_path / "named.csv"
    X, y = pn.make_spiral(30, 3, seed=1)
    kinds = np.array(["east", "north west", 'say "south"'])[y]
    frame = pd.DataFrame({"x": X[:, 0], "z": X[:, 1], "kind": kinds})
    frame.to_csv(data, index=False)
    model = tmp_path / "m.npz"
    status, _, err = call(
        "train", "--data", str(data), "--label", "kind", "--steps", "200", "--save", str(model)
    )
    assert status == 0, err
    status, out, err = call(
        "predict", str(model), "--data", str(data), "--label", "kind", "--proba"
    )
    assert status == 0, err
    table = pd.read_csv(io.StringIO(out))
    assert list(table.columns) == ["P(east)", "P(north west)", 'P(say "south")']
    assert len(table) == 90
    np.testing.assert_allclose(table.sum(axis=1), 1.0, atol=1e-5)
    # the labels predict prints are the argmax of the printed probabilities
    status, labels, _ = call("predict", str(model), "--data", str(data), "--label", "kind")
    best = table.to_numpy().argmax(axis=1)
    names = [c[2:-1] for c in table.columns]
    assert labels.splitlines() == [names[i] for i in best]


def test_train_help_says_the_defaults_are_the_case_study_s():
    status, out, _ = call("train", "--help")
    assert status == 0
    text = " ".join(out.split())
    assert "defaults: scikit-learn's MLPClassifier's and MLPRegressor's (Adam at 1e-3" in text
    assert "10,000 full-batch steps of gradient descent at learning rate 1.0" in text
    assert "--decimal" in text and "--missing" in text
