"""train --categorical: text feature columns one-hot encoded (issue 26), the encoding kept in
the model file and applied by predict and evaluate.

pandas' get_dummies and scikit-learn's OneHotEncoder, StandardScaler and ColumnTransformer
are the independent reference.
"""

import argparse
import json

import numpy as np
import pytest

import portable_net as pn
from tests._files import rewrite
from tests._helpers import decided
from tests.test_cli_more import call

pd = pytest.importorskip("pandas")  # the test extra; a GPU machine's image may lack it
compose = pytest.importorskip("sklearn.compose")
sk_pre = pytest.importorskip("sklearn.preprocessing")

CATS = ["region", "kind"]
NUMS = ["size", "weight"]


@pytest.fixture
def shop(tmp_path):
    """Numbers of very different scales, two text columns (one of numbers written as
    categories would be: 'kind' holds 10, 9 and 100, sorted as numbers), a text label."""
    rng = np.random.default_rng(0)
    regions = ["south", "north", "east", "west"]
    kinds = ["10", "9", "100"]
    rows = []
    for i in range(96):
        region, kind = regions[i % 4], kinds[(i // 4) % 3]
        size, weight = rng.normal(), rng.normal() * 5
        bought = "yes" if (region in ("south", "east")) ^ (size > 0) else "no"
        rows.append((f"{size:.4f}", region, f"{weight:.3f}", kind, bought))
    path = tmp_path / "shop.csv"
    path.write_text(
        "size,region,weight,kind,bought\n" + "".join(",".join(r) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def _reference(path):
    """The encoded features as pandas gives them (numeric columns, then the indicators)."""
    df = pd.read_csv(path, dtype={"kind": str})
    dummies = pd.get_dummies(df.drop(columns="bought"), columns=CATS, prefix_sep="=")
    # get_dummies sorts text as text; the categories of numbers are sorted as numbers
    kind = sorted(df["kind"].unique(), key=float)
    order = NUMS + [c for c in dummies.columns if c.startswith("region=")]
    order += [f"kind={k}" for k in kind]
    return dummies[order].to_numpy(dtype=np.float64), order, df


def _train(path, model, *extra):
    return call(
        "train", "--data", str(path), "--label", "bought", "--categorical", "region,kind",
        "--steps", "300", "--log-every", "300", "--lr", "0.1", "--save", str(model), *extra,
    )  # fmt: skip


def test_encoding_is_get_dummies_and_onehotencoder(shop, tmp_path):
    from portable_net.cli import _categorical

    X_ref, names_ref, df = _reference(shop)
    status, _, err = _train(shop, tmp_path / "m.npz")
    assert status == 0, err
    _, meta = pn.load(tmp_path / "m.npz")
    assert meta["data"]["feature_names"] == names_ref == meta["preprocessing"]["feature_names"]
    assert meta["preprocessing"]["categorical"] == {
        "columns": CATS,
        "categories": [["east", "north", "south", "west"], ["9", "10", "100"]],
    }
    assert meta["layer_sizes"][0] == len(names_ref) == 2 + 4 + 3
    # the matrix the command trained on, against pandas and scikit-learn's encoder
    encoding = _categorical.encoding_of(meta)
    X, _ = _categorical.read_for_model(
        str(shop), meta, encoding, option="--data", labelled=True, label="bought"
    )
    np.testing.assert_array_equal(X, X_ref)
    enc = sk_pre.OneHotEncoder(categories=[sorted(df.region.unique()), ["9", "10", "100"]])
    onehot = enc.fit_transform(df[CATS]).toarray()
    np.testing.assert_array_equal(X[:, 2:], onehot)


def test_standardize_scales_the_numeric_columns_as_a_column_transformer(shop, tmp_path):
    X_ref, _, df = _reference(shop)
    status, _, err = _train(shop, tmp_path / "m.npz", "--standardize")
    assert status == 0, err
    params, meta = pn.load(tmp_path / "m.npz")
    ct = compose.ColumnTransformer([("num", sk_pre.StandardScaler(), NUMS)], remainder="drop").fit(
        df
    )
    scaler = ct.named_transformers_["num"]
    saved = meta["preprocessing"]["standardize"]
    np.testing.assert_allclose(saved["mean"][:2], scaler.mean_, rtol=1e-12)
    np.testing.assert_allclose(saved["scale"][:2], scaler.scale_, rtol=1e-12)
    assert saved["mean"][2:] == [0.0] * 7 and saved["scale"][2:] == [1.0] * 7
    # the training accuracy is the model's on the reference matrix
    X_std = np.hstack([ct.transform(df), X_ref[:, 2:]])
    classes = meta["classes"]
    y = np.searchsorted(classes, df["bought"].to_numpy())
    assert meta["training_accuracy"] == pytest.approx(np.mean(decided(params, X_std) == y),
                                                       abs=1e-12)  # fmt: skip
    assert meta["training_accuracy"] > 0.9  # the text column carries half the rule


def test_round_trip_on_a_file_in_another_order(shop, tmp_path):
    model = tmp_path / "m.npz"
    assert _train(shop, model, "--standardize")[0] == 0
    params, meta = pn.load(model)
    X_ref, _, df = _reference(shop)
    mean, scale = (np.asarray(meta["preprocessing"]["standardize"][k]) for k in ("mean", "scale"))
    expected = np.asarray(meta["classes"])[decided(params, (X_ref - mean) / scale)]
    # predict: the columns shuffled, no label column, the rows of a CSV file
    shuffled = tmp_path / "points.csv"
    df[["kind", "weight", "region", "size"]].to_csv(shuffled, index=False)
    status, out, err = call("predict", str(model), str(shuffled))
    assert status == 0, err
    assert out.split() == expected.tolist()
    # --data with the label column (by the model's label name), in another order
    labelled = tmp_path / "labelled.csv"
    df[["bought", "kind", "size", "region", "weight"]].to_csv(labelled, index=False)
    status, out, err = call("predict", str(model), "--data", str(labelled))
    assert status == 0, err
    assert out.split() == expected.tolist()
    # evaluate: the same accuracy as the model's answers against the labels
    status, out, err = call("evaluate", str(model), "--data", str(labelled), "--label", "bought",
                            "--json")  # fmt: skip
    assert status == 0, err
    report = json.loads(out)
    assert report["accuracy"] == pytest.approx(np.mean(expected == df["bought"].to_numpy()))
    assert report["rows"] == len(df)


def test_an_unseen_category_is_refused_naming_column_and_value(shop, tmp_path):
    model = tmp_path / "m.npz"
    assert _train(shop, model)[0] == 0
    points = tmp_path / "points.csv"
    points.write_text("size,region,weight,kind\n0.5,south,1,9\n0.1,mars,2,10\n")
    status, out, err = call("predict", str(model), str(points))
    assert status == 2 and out == ""
    assert err.count("\n") == 1
    assert (
        "line 3: the column 'region' holds 'mars', a category the model was not trained on" in err
    )
    assert "(it knows east, north, south, west)" in err
    status, _, err = call("evaluate", str(model), "--data", str(points), "--label", "kind")
    assert status == 2  # 'kind' is one of the model's categorical columns
    lacking = tmp_path / "lacking.csv"
    lacking.write_text("size,weight,kind\n0.5,1,9\n")
    status, _, err = call("predict", str(model), str(lacking))
    assert status == 2 and "lacks the model's categorical column(s) region" in err


def test_auto_names_the_text_columns_and_trains_the_same_model(shop, tmp_path):
    (tmp_path / "shop2.csv").write_text(
        shop.read_text()
        .replace(",9,", ",nine,")
        .replace(",10,", ",ten,")
        .replace(",100,", ",hundred,")
    )
    status, _, err = call(
        "train", "--data", str(tmp_path / "shop2.csv"), "--label", "bought", "--categorical",
        "auto", "--steps", "10", "--lr", "0.1", "--save", str(tmp_path / "a.npz"),
    )  # fmt: skip
    assert status == 0, err
    assert "note: --categorical auto: one-hot encoding 'region', 'kind'" in err
    _, meta = pn.load(tmp_path / "a.npz")
    assert meta["preprocessing"]["categorical"]["categories"][1] == ["hundred", "nine", "ten"]
    # indices name the same columns
    status, _, err = call(
        "train", "--data", str(tmp_path / "shop2.csv"), "--label", "bought", "--categorical",
        "1,3", "--steps", "10", "--lr", "0.1", "--save", str(tmp_path / "b.npz"),
    )  # fmt: skip
    assert status == 0, err
    a, b = pn.load(tmp_path / "a.npz"), pn.load(tmp_path / "b.npz")
    assert a[1]["preprocessing"]["categorical"] == b[1]["preprocessing"]["categorical"]
    for name in a[0]:
        np.testing.assert_array_equal(a[0][name], b[0][name])


def test_a_text_column_without_the_option_names_it(shop):
    status, _, err = call("train", "--data", str(shop), "--label", "bought", "--steps", "2")
    assert status == 2
    assert "column 2 ('region'): 'south' is not a number" in err
    assert "give --categorical region (or --categorical auto)" in err


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--categorical", "region"], "applies to --data FILE only"),
        (["--data", "{shop}", "--categorical", "colour"], "no column named 'colour'"),
        (["--data", "{shop}", "--label", "bought", "--categorical", "bought"], "is the label"),
        (["--data", "{shop}", "--categorical", "region,,kind"], "expected 'auto' or"),
        (["--data", "{shop}", "--categorical", "region,region"], "more than once"),
        (["--data", "x.npz", "--categorical", "auto"], "holds numbers only"),
        (["--data", "{shop}", "--categorical", "9"], "9 is not a column"),
    ],
)
def test_bad_categorical_options_exit_2(shop, args, expected):
    args = [a.replace("{shop}", str(shop)) for a in args]
    status, out, err = call("train", *args, "--steps", "1")
    assert status == 2 and out == ""
    assert expected in err and err.count("\n") == 1


def test_headerless_file_and_missing_categories(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("1.0,south,yes\n2.0,north,no\n")
    status, _, err = call("train", "--data", str(plain), "--categorical", "1", "--steps", "1")
    assert status == 2 and "has no header row" in err
    gappy = tmp_path / "gappy.csv"
    gappy.write_text("a,town,y\n1,south,yes\n2,,no\n3,north,no\n6,north,yes\n")
    status, _, err = call("train", "--data", str(gappy), "--categorical", "town", "--steps", "1")
    assert status == 2
    assert "line 3, column 2 ('town'): a missing category (give --missing drop" in err
    status, _, err = call("train", "--data", str(gappy), "--categorical", "town", "--steps", "1",
                          "--missing", "mean")  # fmt: skip
    assert status == 2 and "a missing category" in err  # a category has no mean
    # missing numbers and categories: --missing drop drops their rows, as pandas' dropna
    gappy.write_text("a,town,y\n1,south,yes\n2,,no\n3,north,no\n,south,yes\n5,NA,no\n6,north,yes\n")
    status, _, err = call(
        "train", "--data", str(gappy), "--categorical", "town", "--missing", "drop",
        "--steps", "1", "--save", str(tmp_path / "g.npz"),
    )  # fmt: skip
    assert status == 0, err
    _, meta = pn.load(tmp_path / "g.npz")
    kept = pd.read_csv(gappy).dropna()  # pandas reads the empty field and NA as missing
    assert meta["data"]["rows"] == len(kept) == 3
    assert meta["preprocessing"]["categorical"]["categories"] == [sorted(kept["town"].unique())]


def test_json_and_a_model_file_whose_encoding_does_not_fit(shop, tmp_path):
    status, out, err = _train(shop, tmp_path / "m.npz", "--json")
    assert status == 0, err
    assert json.loads(out)["categorical"]["columns"] == CATS
    points = tmp_path / "points.csv"
    points.write_text("size,region,weight,kind\n0.5,south,1,9\n")
    for categorical, expected in [
        ({"columns": ["region"]}, "is not a dict of columns and their categories"),
        ({"columns": ["region"], "categories": [["south", "south"]]}, "not distinct"),
        ({"columns": ["region"], "categories": [["south", "mars"]]}, "['region=mars']"),
    ]:

        def change(doc, categorical=categorical):
            doc["model"]["preprocessing"]["categorical"] = categorical

        rewrite(tmp_path / "m.npz", tmp_path / "bad.npz", change)
        status, _, err = call("predict", str(tmp_path / "bad.npz"), str(points))
        assert status == 2, err
        assert "bad.npz' is not a usable portable_net model: " in err and expected in err
        with pytest.raises(ValueError, match="is not a usable portable_net model"):
            pn.load(tmp_path / "bad.npz")


def test_auto_reads_once_a_measure_of_many_values_and_bounds_a_text_column(tmp_path):
    """--categorical auto: a column of numbers with more distinct values than a text column
    may have is a numeric feature (exactly as the numeric path reads it); a text column past
    the bound (1,000 categories) is refused, naming the line of the first value past it."""
    rng = np.random.default_rng(1)
    n = 2500
    measure = rng.standard_normal(n)
    colour = rng.choice(["red", "green"], n)
    kind = np.where((measure > 0) ^ (colour == "red"), "a", "b")
    frame = pd.DataFrame({"measure": measure, "colour": colour, "kind": kind})
    frame.to_csv(tmp_path / "f.csv", index=False)
    status, out, err = call("train", "--data", str(tmp_path / "f.csv"), "--categorical", "auto",
                            "--max-iter", "2", "--json")  # fmt: skip
    assert status in (0, 1), err
    assert "one-hot encoding 'colour'" in err
    assert json.loads(out)["data"]["feature_names"] == ["measure", "colour=green", "colour=red"]
    from portable_net.cli._categorical import read_for_training

    args = argparse.Namespace(data=str(tmp_path / "f.csv"), label=None, delimiter=",",
                              decimal=".", missing="error", categorical="auto")  # fmt: skip
    X = read_for_training(args)[0]
    lines = (tmp_path / "f.csv").read_text().splitlines()[1:]
    expected = [float(line.split(",")[0]) for line in lines]  # Python's float of the text
    np.testing.assert_array_equal(X[:, 0], expected)
    np.testing.assert_array_equal(X[:, 1:], np.stack([colour == "green", colour == "red"], 1))
    wide = tmp_path / "wide.csv"
    wide.write_text("a,t,y\n" + "".join(f"{i},t{i},{i % 2}\n" for i in range(1500)))
    status, _, err = call("train", "--data", str(wide), "--categorical", "auto")
    assert status == 2 and "line 1002, column 2 ('t'): has more than 1,000 distinct" in err
