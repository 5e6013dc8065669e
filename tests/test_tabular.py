"""Reading a user's table, label encoding, the stratified split and the standardiser, against
NumPy/pandas readings of the same files and scikit-learn's LabelEncoder, train_test_split
and StandardScaler."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest

from portable_net.preprocessing import Standardizer, decode_labels, encode_labels, split
from portable_net.tabular import read_table

sklearn = pytest.importorskip("sklearn")


def _write(tmp_path, text, name="data.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---- CSV ----------------------------------------------------------------------------------


def test_csv_with_header_string_labels(tmp_path):
    p = _write(tmp_path, "a,b,species\n1.5,2,setosa\n\n , ,\n-3e-1, 4 ,virginica\n")
    X, labels, names = read_table(p)
    np.testing.assert_array_equal(X, [[1.5, 2.0], [-0.3, 4.0]])
    assert X.dtype == np.float64
    assert labels.tolist() == ["setosa", "virginica"]
    assert names == ["a", "b"]


def test_csv_matches_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 4))
    y = rng.integers(0, 3, 50)
    df = pd.DataFrame(X, columns=["f1", "f2", "f3", "f4"])
    df.insert(1, "target", y)
    p = tmp_path / "t.csv"
    df.to_csv(p, index=False)
    for label in ("target", 1, -4):
        Xr, yr, names = read_table(p, label=label)
        ref = pd.read_csv(p)
        np.testing.assert_array_equal(Xr, ref.drop(columns="target").to_numpy())
        np.testing.assert_array_equal(yr, ref["target"].to_numpy())
        assert yr.dtype == np.int64
        assert names == ["f1", "f2", "f3", "f4"]


def test_csv_without_header_label_first(tmp_path):
    p = _write(tmp_path, "0,1.0,2.0\n1,3.0,4.0\r\n")
    X, labels, names = read_table(p, label=0)
    np.testing.assert_array_equal(X, [[1.0, 2.0], [3.0, 4.0]])
    assert labels.tolist() == [0, 1] and labels.dtype == np.int64
    assert names == ["x0", "x1"]


def test_csv_float_and_bool_labels(tmp_path):
    _, labels, _ = read_table(_write(tmp_path, "1,0.0\n2,1.0\n3,1.0\n"))
    assert labels.dtype == np.float64 and labels.tolist() == [0.0, 1.0, 1.0]
    _, labels, _ = read_table(_write(tmp_path, "x,y\n1,True\n2,False\n"))
    assert labels.tolist() == ["True", "False"]


def test_csv_quoted_fields_and_bom(tmp_path):
    p = tmp_path / "q.csv"
    p.write_bytes('\ufeff"x, one",x2,label\n1,2,"a, b"\n3,4,c\n'.encode())
    _, labels, names = read_table(p)
    assert names == ["x, one", "x2"]
    assert labels.tolist() == ["a, b", "c"]


def test_csv_other_delimiter_when_asked(tmp_path):
    X, labels, _ = read_table(_write(tmp_path, "a;b;c\n1;2;x\n3;4;y\n"), delimiter=";")
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert labels.tolist() == ["x", "y"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a;b;c\n1;2;x\n3;4;y\n", r"looks ';'-separated.*delimiter=';'"),
        ("a\tb\tc\n1\t2\tx\n", r"looks tab-separated"),
        (
            "1,5;2,5;0\n1,0;2,0;1\n",
            r"line 1: the first row mixes numbers .*'5;2' is not a number.*looks ';'",
        ),
        ("42\n43\n", r"line 1: one column only"),
        ("1,oops,0\n2,3,1\n", r"line 1: the first row mixes numbers and names \(column 2: 'oops'"),
        ("a,2,label\n1,2,x\n", r"line 1: the first row mixes numbers and names \(column 1: 'a'"),
        ("a,b,c\n1,2,x\n3,4\n", r"line 3: expected 3 fields \(as on line 1\), got 2"),
        ("a,b,c\n1,2,x\n\n3,4,y,z\n", r"line 4: expected 3 fields \(as on line 1\), got 4"),
        ("a,b,c\n1,2,x\n3,oops,y\n", r"line 3, column 2 \('b'\): 'oops' is not a number"),
        (
            "a,b,c\n1,2,x\n3,,y\n",
            r"line 3, column 2 \('b'\): is empty \(a missing value: pass missing='drop'",
        ),
        ("a,b,c\n1,2,x\n3,nan,y\n", r"line 3, column 2 \('b'\): 'nan' is not a finite number"),
        ("a,b,c\n1,2,x\n3,-inf,y\n", r"line 3, column 2 \('b'\): '-inf' is not a finite number"),
        ("a,b,c\n1,2,x\n3,4,\n", r"line 3: the label \(column 3\) is empty"),
        ("a,b,c\n", r"has a header but no data rows"),
        ("\n\n  \n", r"holds no rows"),
        ('a,b,c\n1,2,"x\n', r"line \d: not valid CSV"),
        ("a,b,c\n1,2,inf\n", r"line 2: the label 'inf' is not finite"),
    ],
)
def test_csv_errors(tmp_path, text, match):
    p = _write(tmp_path, text)
    with pytest.raises(ValueError, match=match) as info:
        read_table(p)
    assert str(p) in str(info.value)  # the message names the file


def test_unknown_label_column_lists_header(tmp_path):
    p = _write(tmp_path, "sepal,petal,species\n1,2,a\n")
    with pytest.raises(ValueError, match="no column named 'kind'; its columns are: sepal, petal"):
        read_table(p, label="kind")
    with pytest.raises(ValueError, match=r"label=3 is not a column .* 3 columns \(indices -3..2\)"):
        read_table(p, label=3)
    with pytest.raises(ValueError, match="label=-4 is not a column"):
        read_table(p, label=-4)
    with pytest.raises(TypeError, match="label must be a column name"):
        read_table(p, label=1.0)
    p = _write(tmp_path, "1,2,0\n3,4,1\n", "nohead.csv")
    with pytest.raises(ValueError, match="has no header row .* label='species'"):
        read_table(p, label="species")


def test_field_over_csv_limit(tmp_path):
    big = "9" * (csv.field_size_limit() + 10)
    p = _write(tmp_path, f"a,b\n1,x\n{big},y\n")
    with pytest.raises(ValueError, match=r"line 3: a field is longer than the csv module's limit"):
        read_table(p)


def test_file_checks(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="is a directory"):
        read_table(tmp_path)
    empty = _write(tmp_path, "", "empty.csv")
    with pytest.raises(ValueError, match="empty.csv' is empty"):
        read_table(empty)
    p = _write(tmp_path, "a,b\n1,x\n2,y\n")
    with pytest.raises(ValueError, match=r"over the limit of 5 \(max_bytes\)"):
        read_table(p, max_bytes=5)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(ValueError, match="is not a UTF-8 text file"):
        read_table(binary)
    nul = tmp_path / "n.csv"
    nul.write_bytes(b"a,b\n1,\x00\n")
    with pytest.raises(ValueError, match="NUL bytes"):
        read_table(nul)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        read_table(fifo)


# ---- .npz and .npy ------------------------------------------------------------------------


def test_npz_and_npy_pair(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.integers(0, 5, (6, 3))
    for y in (np.array(["a", "b", "a", "c", "b", "a"]), np.arange(6) % 2 == 0, np.arange(6.0)):
        np.savez(tmp_path / "d.npz", X=X, y=y, extra=np.zeros(2))
        Xr, yr, names = read_table(tmp_path / "d.npz")
        assert Xr.dtype == np.float64
        np.testing.assert_array_equal(Xr, X)
        np.testing.assert_array_equal(yr, y)
        assert yr.dtype == y.dtype
        assert names == ["x0", "x1", "x2"]
        np.save(tmp_path / "X.npy", X)
        np.save(tmp_path / "y.npy", y)
        for path in (
            (tmp_path / "X.npy", tmp_path / "y.npy"),
            [str(tmp_path / "X.npy"), str(tmp_path / "y.npy")],
            f"{tmp_path / 'X.npy'},{tmp_path / 'y.npy'}",
        ):
            Xr, yr, _ = read_table(path)
            np.testing.assert_array_equal(Xr, X)
            np.testing.assert_array_equal(yr, y)


def test_npz_errors(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, features=np.zeros((2, 2)), y=np.zeros(2))
    with pytest.raises(ValueError, match="must hold arrays named 'X' and 'y'; it holds: features"):
        read_table(p)
    np.savez(p, X=np.zeros((3, 2)), y=np.zeros(2))
    with pytest.raises(ValueError, match="X has 3 rows but y has 2 labels"):
        read_table(p)
    np.savez(p, X=np.zeros(3), y=np.zeros(3))
    with pytest.raises(ValueError, match=r"X must have shape \(N, D\)"):
        read_table(p)
    np.savez(p, X=np.zeros((3, 2)), y=np.zeros((3, 1)))
    with pytest.raises(ValueError, match="y must be 1-D"):
        read_table(p)
    np.savez(p, X=np.array([[1.0, np.nan], [0, 0]]), y=np.zeros(2))
    with pytest.raises(ValueError, match=r"non-finite values; the first is X\[0, 1\] = nan"):
        read_table(p)
    np.savez(p, X=np.zeros((2, 2)), y=np.array([0.0, np.inf]))
    with pytest.raises(ValueError, match=r"y has non-finite labels; the first is y\[1\]"):
        read_table(p)
    np.savez(p, X=np.zeros((2, 2)), y=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match=r"its entry 'y' holds objects \(pickled data\)"):
        read_table(p)
    np.savez(p, X=np.array([["a", "b"]]), y=np.zeros(1))
    with pytest.raises(ValueError, match="X must hold numbers"):
        read_table(p)
    with pytest.raises(ValueError, match="label= picks a CSV column"):
        np.savez(p, X=np.zeros((2, 2)), y=np.zeros(2))
        read_table(p, label=0)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="bad.npz' is not a usable .npz data file: not an .npz"):
        read_table(bad)
    big = tmp_path / "big.npz"
    np.savez_compressed(big, X=np.zeros((1000, 100)), y=np.zeros(1000))
    assert big.stat().st_size < 100_000
    with pytest.raises(
        ValueError, match="its arrays declare 808000 bytes, over the limit of 100000"
    ):
        read_table(big, max_bytes=100_000)


def test_npy_errors(tmp_path):
    np.save(tmp_path / "X.npy", np.zeros((2, 2)))
    with pytest.raises(
        ValueError, match="is one .npy file; give the features and labels as a pair"
    ):
        read_table(tmp_path / "X.npy")
    with pytest.raises(ValueError, match="a pair"):
        read_table([tmp_path / "X.npy"])
    with pytest.raises(FileNotFoundError, match="y.npy"):
        read_table((tmp_path / "X.npy", tmp_path / "y.npy"))
    np.save(tmp_path / "o.npy", np.array([None, 1], dtype=object))
    with pytest.raises(ValueError, match="o.npy' is not a readable .npy array without pickle"):
        read_table((tmp_path / "X.npy", tmp_path / "o.npy"))


# ---- labels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["b", "a", "c", "a"]),
        np.array([3, -1, 3, 7]),
        np.array([1.0, 0.0, 2.0, 0.0]),
        np.array([True, False, True, True]),
    ],
)
def test_encode_labels_matches_label_encoder(labels):
    from sklearn.preprocessing import LabelEncoder

    enc = LabelEncoder().fit(labels)
    classes, y = encode_labels(labels)
    np.testing.assert_array_equal(classes, enc.classes_)
    np.testing.assert_array_equal(y, enc.transform(labels))
    assert y.dtype == np.int64
    np.testing.assert_array_equal(decode_labels(classes, y), labels)
    np.testing.assert_array_equal(decode_labels(classes, y), enc.inverse_transform(y))


def test_label_errors():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        encode_labels(np.array([]))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        encode_labels(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="non-finite labels"):
        encode_labels(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="numbers, booleans or strings"):
        encode_labels(np.array([1, "a", None], dtype=object))
    with pytest.raises(ValueError, match=r"class indices in 0..1, got values from 0 to 2"):
        decode_labels(np.array(["a", "b"]), np.array([0, 2]))
    with pytest.raises(ValueError, match="class indices"):
        decode_labels(np.array(["a", "b"]), np.array([0.0, 1.0]))


# ---- split --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 7, 12345])
@pytest.mark.parametrize("test_size", [0.25, 0.3, 0.5, 13])
def test_split_matches_sklearn(seed, test_size):
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(seed)
    n = 61
    y = rng.choice(np.array(["cat", "dog", "emu"]), n, p=[0.5, 0.3, 0.2])
    X = np.column_stack([np.arange(n, dtype=float), rng.standard_normal(n)])
    ours = split(X, y, test_size, seed)
    ref = train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)
    for a, b in zip(ours, ref):
        np.testing.assert_array_equal(a, b)
    X_train, X_test, _y_train, y_test = ours
    assert len(X_test) == (test_size if isinstance(test_size, int) else int(np.ceil(test_size * n)))
    # every row once; classes split in proportion (within one row)
    assert sorted(np.concatenate([X_train[:, 0], X_test[:, 0]])) == list(range(n))
    for c in ("cat", "dog", "emu"):
        share = np.sum(y == c) * len(y_test) / n
        assert abs(np.sum(y_test == c) - share) <= 1


def test_split_random_problems_match_sklearn():
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(3)
    checked = 0
    for trial in range(60):
        n = int(rng.integers(20, 120))
        c = int(rng.integers(2, 5))
        y = rng.integers(0, c, n)
        if np.bincount(y, minlength=c).min() < 4:
            continue
        X = rng.standard_normal((n, 3))
        ts = float(rng.uniform(0.15, 0.5))
        ours = split(X, y, ts, trial)
        ref = train_test_split(X, y, test_size=ts, stratify=y, random_state=trial)
        for a, b in zip(ours, ref):
            np.testing.assert_array_equal(a, b)
        checked += 1
    assert checked > 30


def test_split_is_seeded_and_leaves_inputs():
    X = np.arange(40.0).reshape(20, 2)
    y = np.array([0, 1] * 10)
    X0 = X.copy()
    a = split(X, y, 0.25, 5)
    b = split(X, y, 0.25, 5)
    c = split(X, y, 0.25, 6)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    np.testing.assert_array_equal(X, X0)


@pytest.mark.parametrize(
    ("y", "test_size", "match"),
    [
        (["a"] * 10, 0.3, r"single class \('a'\)"),
        (["a"] * 9 + ["b"], 0.3, r"The least populated classes in y have only 1 member"),
        (["a"] * 9 + ["b"], 0.3, r"at least 2 rows.* these have 1: \['b'\]"),
        (["a"] * 5 + ["b"] * 5, 0.9, "leaves 1 training rows for 2 classes"),
        (["a"] * 5 + ["b"] * 5, 0.1, "gives 1 test rows for 2 classes"),
        (["a"] * 98 + ["b"] * 2, 98, r"leaves no training row for classes \['b'\]"),
        (["a", "b"] * 5, 0.0, r"in \(0, 1\)"),
        (["a", "b"] * 5, 1.0, r"in \(0, 1\)"),
        (["a", "b"] * 5, 10, r"in 1..9"),
    ],
)
def test_split_errors(y, test_size, match):
    y = np.array(y)
    X = np.zeros((len(y), 2))
    with pytest.raises(ValueError, match=match):
        split(X, y, test_size, 0)


def test_split_argument_errors():
    X, y = np.zeros((10, 2)), np.array([0, 1] * 5)
    with pytest.raises(ValueError, match="X has 10 rows but y has 9"):
        split(X, y[:9])
    with pytest.raises(ValueError, match="X must be 2-D"):
        split(np.zeros(10), y)
    with pytest.raises(ValueError, match="seed must be an int"):
        split(X, y, 0.3, -1)
    with pytest.raises(TypeError, match="test_size must be"):
        split(X, y, "0.3")


# ---- standardiser -------------------------------------------------------------------------


def test_standardizer_matches_standard_scaler():
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4)) * [1.0, 100.0, 1e-3, 0.0] + [5.0, -3.0, 1e3, 7.0]
    X_new = rng.standard_normal((10, 4))
    ref = StandardScaler().fit(X)
    s = Standardizer().fit(X)
    np.testing.assert_allclose(s.mean_, ref.mean_, rtol=1e-12, atol=0)
    np.testing.assert_allclose(s.scale_, ref.scale_, rtol=1e-12, atol=0)
    assert s.scale_[3] == 1.0  # a constant feature
    np.testing.assert_allclose(s.transform(X_new), ref.transform(X_new), rtol=1e-12, atol=1e-12)
    t = Standardizer.from_dict(s.to_dict())
    d = s.to_dict()
    assert all(type(v) is float for v in d["mean"] + d["scale"])
    np.testing.assert_array_equal(t.transform(X_new), s.transform(X_new))


def test_standardizer_near_constant_feature_like_sklearn():
    from sklearn.preprocessing import StandardScaler

    X = np.full((30, 2), 0.1)
    X[:, 1] = np.linspace(0, 1, 30)
    X[::3, 0] += 1e-17 * 0.1  # rounding noise only
    np.testing.assert_allclose(
        Standardizer().fit(X).scale_, StandardScaler().fit(X).scale_, rtol=1e-12
    )


def test_standardizer_errors():
    s = Standardizer()
    with pytest.raises(ValueError, match="not fitted yet"):
        s.transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not fitted yet"):
        s.to_dict()
    s.fit(np.arange(6.0).reshape(3, 2))
    with pytest.raises(ValueError, match="X has 3 features but the Standardizer was fitted on 2"):
        s.transform(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        s.transform(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="2-D array"):
        Standardizer().fit(np.zeros(3))
    with pytest.raises(ValueError, match="keys 'mean' and 'scale'"):
        Standardizer.from_dict({"mean": [0.0]})
    with pytest.raises(ValueError, match="one length"):
        Standardizer.from_dict({"mean": [0.0, 1.0], "scale": [1.0]})
    with pytest.raises(ValueError, match="finite and positive"):
        Standardizer.from_dict({"mean": [0.0], "scale": [0.0]})
    with pytest.raises(ValueError, match="lists of numbers"):
        Standardizer.from_dict({"mean": ["a"], "scale": [1.0]})


@pytest.mark.parametrize("n_labels", [255, 256, 257, 65_537])
def test_csv_labels_many_distinct_round_trip(tmp_path, n_labels):
    rows = [(i, i % 7, f"L{i % n_labels}") for i in range(n_labels + 3)]
    p = _write(tmp_path, "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    X, labels, _ = read_table(p)
    assert labels.tolist() == [c for _, _, c in rows]
    np.testing.assert_array_equal(X, [[a, b] for a, b, _ in rows])
