"""Data files held to the model loader's standard: bounded memory for every input, one line
and exit 2 for every bad one (never a traceback or NumPy's warnings), labels kept distinct,
CSV numbers only."""

from __future__ import annotations

import csv
import io
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import portable_net as pn
from portable_net.tabular import read_table
from tests.test_cli_more import call

ROOT = Path(__file__).resolve().parents[1]

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")


def _one_line_error(status, stdout, stderr):
    assert status == 2, (stdout, stderr)
    assert stdout == ""
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "Traceback" not in stderr and "Warning" not in stderr
    return stderr


def _cli(*args, stdin=None, timeout=120):
    """The command line in a fresh process: (exit status, stdout, stderr)."""
    out = subprocess.run(
        [sys.executable, "-m", "portable_net", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    return out.returncode, out.stdout, out.stderr


def _peak_mib(code: str) -> tuple[float, float, str]:
    """``code`` run in a fresh process after importing portable_net: (peak RSS before it,
    peak RSS after it, its last printed line), in MiB (Linux reports ru_maxrss in KiB)."""
    script = (
        "import resource, sys\n"
        "import numpy as np\n"
        "import portable_net\n"
        "from portable_net.tabular import read_table\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"{code}\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(before / 1024, after / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    *printed, last = out.stdout.strip().splitlines()
    before, after = map(float, last.split())
    return before, after, printed[-1] if printed else ""


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _local(name: bytes, crc: int, size: int) -> bytes:
    return _LOCAL.pack(b"PK\x03\x04", 20, 0, 0, 0, 0, 0x21, crc, size, size, len(name), 0) + name


def _central(name: bytes, crc: int, size: int, offset: int) -> bytes:
    fields = (b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0x21, crc, size, size, len(name))
    return _CENTRAL.pack(*fields, 0, 0, 0, 0, 0, offset) + name


def _archive(entries: list[tuple[bytes, bytes, int]], body: bytes) -> bytes:
    """``body`` and a zip directory of stored ``(name, data, offset)`` entries after it."""
    directory = b"".join(_central(n, zlib.crc32(d), len(d), o) for n, d, o in entries)
    count = len(entries)
    return (
        body
        + directory
        + _END.pack(b"PK\x05\x06", 0, 0, count, count, len(directory), len(body), 0)
    )


# --- .npz data: the model loader's checks -------------------------------------------------------


def test_a_corrupt_deflate_stream_is_one_line(tmp_path):
    path = tmp_path / "d.npz"
    X, y = pn.make_spiral(50, 3, seed=0)
    np.savez_compressed(path, X=X, y=y)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("X.npy")
    start = info.header_offset + 30 + len(info.filename) + 20  # inside X's deflated bytes
    data[start + 200 : start + 260] = b"\xff" * 60
    path.write_bytes(bytes(data))
    err = _one_line_error(*_cli("train", "--data", path, "--steps", "1"))
    assert "d.npz" in err and "truncated or corrupted" in err


def test_members_that_overlap_are_refused(tmp_path):
    """X's stored bytes quote y's whole entry: a reader that follows the directory reads y
    out of X's data (as a deflate bomb reuses one stream many times)."""
    y = np.arange(4) % 2
    y_npy = _npy(y)
    y_entry = _local(b"y.npy", zlib.crc32(y_npy), len(y_npy)) + y_npy
    n = 4 * 64
    pad = n - len(y_entry)
    assert pad > 0
    # X (4, 64) uint8: its data is y's entry and zeros
    X_npy = _npy(np.zeros((4, 64), dtype=np.uint8))
    X_npy = X_npy[: len(X_npy) - n] + y_entry + b"\0" * pad
    x_local = _local(b"X.npy", zlib.crc32(X_npy), len(X_npy))
    body = x_local + X_npy
    y_at = len(x_local) + len(X_npy) - n
    path = tmp_path / "overlap.npz"
    path.write_bytes(_archive([(b"X.npy", X_npy, 0), (b"y.npy", y_npy, y_at)], body))
    with np.load(path) as z:  # the fixture is sound: both arrays read whole
        assert z["y"].tolist() == y.tolist() and z["X"].shape == (4, 64)
    with pytest.raises(ValueError, match="overlapping entries"):
        read_table(path)
    err = _one_line_error(*call("train", "--data", str(path), "--steps", "1"))
    assert "overlap" in err


def test_a_directory_of_500000_entries_is_refused_before_it_is_read(tmp_path):
    X_npy, y_npy = _npy(np.zeros((4, 2))), _npy(np.arange(4) % 2)
    body = _local(b"X.npy", zlib.crc32(X_npy), len(X_npy)) + X_npy
    y_at = len(body)
    body += _local(b"y.npy", zlib.crc32(y_npy), len(y_npy)) + y_npy
    entries = [(b"X.npy", X_npy, 0), (b"y.npy", y_npy, y_at)]
    extra = _central(b"z", 0, 0, 0) * 500_000  # a directory zipfile would parse for seconds
    directory = b"".join(_central(n, zlib.crc32(d), len(d), o) for n, d, o in entries) + extra
    end = _END.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(directory), len(body), 0)
    path = tmp_path / "entries.npz"
    path.write_bytes(body + directory + end)
    with pytest.raises(ValueError, match="entries, over the limit of 64"):
        read_table(path)


def test_a_deflate_bomb_is_refused_in_bounded_memory(tmp_path):
    """256 MiB of zeros deflated to 250 KiB: refused from the zip directory alone."""
    path = tmp_path / "bomb.npz"
    n = 2**25
    X = np.zeros((n, 1))
    np.savez_compressed(path, X=X, y=np.arange(n, dtype=np.int8) % 2)
    del X
    assert path.stat().st_size < 2**20
    before, after, line = _peak_mib(
        f"try:\n    read_table({str(path)!r})\nexcept ValueError as exc:\n    print(exc)\n"
    )
    assert "a zip bomb" in line, line
    assert after - before < 64, (before, after)


def test_small_integers_that_grow_as_float64_are_bounded(tmp_path):
    path = tmp_path / "bytes.npz"
    np.savez(path, X=np.zeros((1000, 100), dtype=np.uint8), y=np.arange(1000) % 2)
    assert path.stat().st_size < 200_000
    # counted as float64 from the headers, before any data is read
    with pytest.raises(ValueError, match="its arrays declare 808000 bytes, over the limit"):
        read_table(path, max_bytes=200_000)


def test_an_npy_header_declaring_more_than_its_file_holds_is_refused(tmp_path):
    buf = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (2**37, 1)}
    np.lib.format.write_array_header_1_0(buf, header)
    (tmp_path / "X.npy").write_bytes(buf.getvalue() + bytes(64))
    np.save(tmp_path / "y.npy", np.zeros(3))
    with pytest.raises(
        ValueError, match=r"declares 1099511627776 bytes of data, the file holds 64"
    ):
        read_table((tmp_path / "X.npy", tmp_path / "y.npy"))


def test_an_npz_with_extra_members_is_read_and_its_arrays_checked(tmp_path):
    path = tmp_path / "d.npz"
    X, y = pn.make_spiral(10, 3, seed=1)
    np.savez_compressed(path, X=X, y=y, note=np.array("from a notebook"))
    Xr, yr, names = read_table(path)
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y)
    assert names == ["x0", "x1"]


# --- evaluate: the work a model file's record asks for is bounded -------------------------------


def test_a_recorded_spiral_over_the_limit_is_refused_before_drawing(tmp_path):
    from portable_net.cli.evaluate import MAX_RECORDED_POINTS

    path = tmp_path / "m.npz"
    pn.save(path, pn.init_params([2, 4, 3]), data={"n_per_class": 10_000_000, "seed": 0})
    assert path.stat().st_size < 4096
    err = _one_line_error(*call("evaluate", str(path)))
    assert "10,000,000 points per class" in err and f"{MAX_RECORDED_POINTS:,}" in err
    assert "--n-per-class" in err
    # the command line's own choice is the user's: a small one runs
    status, _, stderr = call("evaluate", str(path), "--n-per-class", "5")
    assert status == 0, stderr


# --- CSV: memory, byte limits, BOM, numbers, labels --------------------------------------------


def _spiral_csv_text(n_per_class: int) -> str:
    X, y = pn.make_spiral(n_per_class, 3, seed=0)
    return "x0,x1,label\n" + "".join(
        f"{a!r},{b!r},{c}\n" for (a, b), c in zip(X.tolist(), y.tolist())
    )


def test_a_csv_is_parsed_within_a_few_times_its_size(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(_spiral_csv_text(60_000))
    size_mib = path.stat().st_size / 2**20
    assert size_mib > 4
    before, after, line = _peak_mib(
        f"X, y, _ = read_table({str(path)!r})\nprint(X.shape[0], X.sum() + y.sum())"
    )
    assert line.split()[0] == "180000"
    X_ref = np.loadtxt(path, delimiter=",", skiprows=1)
    assert float(line.split()[1]) == pytest.approx(X_ref[:, :2].sum() + X_ref[:, 2].sum())
    assert after - before < 4 * size_mib, (before, after, size_mib)


def test_predict_reads_points_with_a_byte_limit(tmp_path):
    model = tmp_path / "m.npz"
    pn.save(model, pn.init_params([2, 4, 3]))
    err = _one_line_error(*_cli("predict", model, "/dev/zero", timeout=60))
    assert "/dev/zero" in err and "NUL" in err


def test_predict_points_past_the_byte_limit_are_one_line(tmp_path, monkeypatch):
    import portable_net.csv_reader as reader

    model = tmp_path / "m.npz"
    pn.save(model, pn.init_params([2, 4, 3]))
    points = tmp_path / "p.csv"
    points.write_text("0.1,0.2\n" * 1000)
    monkeypatch.setattr(reader, "MAX_BYTES", 4000)
    err = _one_line_error(*call("predict", str(model), str(points)))
    assert "p.csv" in err and "over the limit of 4000" in err
    # a stream is cut off at the limit as it is read
    stdin = io.TextIOWrapper(io.BytesIO(points.read_bytes()))
    monkeypatch.setattr(sys, "stdin", stdin)
    err = _one_line_error(*call("predict", str(model), "-"))
    assert "<stdin>" in err and "over the limit of 4000 bytes" in err


def test_a_byte_order_mark_is_accepted_by_every_csv_reader(tmp_path):
    model = tmp_path / "m.npz"
    params = pn.init_params([2, 4, 3], seed=2, scale=1.0)
    pn.save(model, params)
    points = tmp_path / "p.csv"
    points.write_bytes("\ufeff0.5,0.5\n-0.3,0.1\n".encode())
    status, stdout, stderr = call("predict", str(model), str(points))
    assert status == 0, stderr
    expected = pn.predict(params, np.array([[0.5, 0.5], [-0.3, 0.1]])).tolist()
    assert stdout.splitlines() == [str(v) for v in expected]
    table = tmp_path / "t.csv"
    table.write_bytes("\ufeffa,b,label\n1,2,x\n3,4,y\n".encode())
    _, labels, names = read_table(table)
    assert names == ["a", "b"] and labels.tolist() == ["x", "y"]


@pytest.mark.parametrize("cell", ["1_5", "\u0661\u0662", "0x10", "1__0"])
def test_only_csv_numbers_are_numbers(tmp_path, cell):
    path = tmp_path / "t.csv"
    path.write_text(f"a,b,label\n1,2,0\n3,{cell},1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"line 3, column 2 \('b'\): '{cell}' is not a number"):
        read_table(path)


def test_integer_labels_beyond_64_bits_stay_distinct_classes(tmp_path):
    big = [2**64, 2**64 + 1]
    path = tmp_path / "t.csv"
    X, _ = pn.make_spiral(20, 2, seed=0)
    rows = [f"{a!r},{b!r},{big[i // 20]}\n" for i, (a, b) in enumerate(X.tolist())]
    path.write_text("x0,x1,label\n" + "".join(rows))
    _, labels, _ = read_table(path)
    assert sorted(set(labels.tolist())) == [str(v) for v in big]
    model = tmp_path / "m.npz"
    status, _, stderr = call(
        "train", "--data", str(path), "--steps", "5", "--quiet", "--save", str(model)
    )
    assert status == 0, stderr
    meta = pn.load(model)[1]
    assert [str(c) for c in meta["classes"]] == [str(v) for v in big]


# --- one line, never a traceback or NumPy's warnings -------------------------------------------


@pytest.mark.parametrize("fraction", ["1e-12", "0.999999"])
def test_a_validation_fraction_that_leaves_no_rows_is_one_line(fraction):
    err = _one_line_error(*_cli("train", "--validation-fraction", fraction, "--steps", "5"))
    assert "--validation-fraction" in err


def test_features_near_the_float64_limit_with_standardize_are_one_line(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("a,b,label\n1e308,1,0\n-1e308,2,1\n1.5e308,3,0\n-1.2e308,4,1\n")
    err = _one_line_error(*_cli("train", "--data", path, "--standardize", "--steps", "3"))
    assert "--standardize" in err and "overflows" in err


def test_a_noise_that_overflows_is_refused_and_nothing_is_written(tmp_path):
    out = tmp_path / "d.csv"
    err = _one_line_error(*_cli("data", "--noise", "1e308", "--output", out))
    assert "--noise" in err
    assert not out.exists()
    model = tmp_path / "m.npz"
    pn.save(model, pn.init_params([2, 4, 3]))
    err = _one_line_error(*_cli("evaluate", model, "--noise", "1e308"))
    assert "--noise" in err


def test_data_streams_its_csv(tmp_path):
    out = tmp_path / "d.csv"
    code = (
        "from portable_net.cli import main\n"
        f"print(main(['data', '--n-per-class', '200000', '--classes', '5', '--output', {str(out)!r}]))"
    )
    before, after, line = _peak_mib(code)
    assert line == "0"
    size_mib = out.stat().st_size / 2**20
    assert size_mib > 30
    # the points and a block of rows as text: not the whole CSV, nor a list per row
    assert after - before < size_mib, (before, after, size_mib)
    with out.open() as f:
        assert f.readline() == "x0,x1,label\n"
        assert sum(1 for _ in f) == 1_000_000


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--h", "1e308"], "--h: must be < 1"),
        (["--scale", "1e200"], "--scale"),
        (["--scale", "1e10"], "--h"),
    ],
)
def test_gradcheck_refuses_steps_and_scales_it_cannot_measure(args, match):
    err = _one_line_error(*_cli("gradcheck", *args))
    assert match in err


# --- the hypothesis property: any bytes read as data are a table or one ValueError --------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(2**70), 2**70).map(str),
)
_CELLS = st.one_of(
    _NUMBERS,
    _NUMBERS,
    _NUMBERS,
    st.sampled_from(["", " ", "1_5", "a", " 1e5 ", "\ufeff", '"', '"a,b"', "#", "\u0661", "-0"]),
    st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=6),
)


@st.composite
def _csv_texts(draw) -> bytes:
    n_cols = draw(st.integers(2, 4))
    rows = draw(
        st.lists(st.lists(_CELLS, min_size=n_cols, max_size=n_cols), min_size=1, max_size=8)
    )
    if draw(st.integers(0, 4)) == 4:  # now and then a ragged row
        rows.insert(draw(st.integers(0, len(rows))), draw(st.lists(_CELLS, max_size=n_cols + 1)))
    sep = ";" if draw(st.integers(0, 9)) == 9 else ","  # now and then the wrong one
    text = "\n".join(sep.join(row) for row in rows)
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 9)) == 9:  # now and then a byte changed (NUL, bad UTF-8, ...)
        at = draw(st.integers(0, max(0, len(data) - 1)))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    return data


_PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _table_or_one_error(path, data: bytes):
    """read_table of ``data`` written to ``path``: the table, checked, or None after one
    ValueError naming the file on one line."""
    path.write_bytes(data)
    try:
        X, labels, names = read_table(path)
    except ValueError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return None
    assert X.dtype == np.float64 and X.ndim == 2 and np.isfinite(X).all()
    assert labels.shape == (X.shape[0],) and len(names) == X.shape[1]
    assert labels.dtype.kind in "biufUS"
    return X, labels, names


@_PROPERTY
@given(data=_csv_texts())
def test_any_csv_bytes_give_a_table_or_one_value_error(tmp_path, data):
    table = _table_or_one_error(tmp_path / "t.csv", data)
    if table is None:
        return
    X, _, names = table
    # the numbers are Python's reading of the same fields (a CSV number is one for float())
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = [r for r in reader if r and "".join(r).strip()]
    data_rows = rows[1:] if names != [f"x{j}" for j in range(X.shape[1])] else rows
    assert len(data_rows) == X.shape[0]
    for row, x in zip(data_rows, X.tolist()):
        assert [float(f) for f in row[:-1]] == x


@st.composite
def _npz_bytes(draw) -> bytes:
    n = draw(st.integers(0, 5))
    X = draw(
        st.sampled_from(
            [
                np.zeros((n, 2)),
                np.arange(2 * n, dtype=np.uint8).reshape(n, 2),
                np.full((n, 2), np.inf),
                np.zeros(n),
                np.array(["a"] * n),
            ]
        )
    )
    y = draw(
        st.sampled_from([np.arange(n) % 2, np.zeros((n, 1)), np.array([0.5] * n), np.arange(n + 1)])
    )
    buf = io.BytesIO()
    (np.savez_compressed if draw(st.booleans()) else np.savez)(buf, X=X, y=y)
    body = bytearray(buf.getvalue())
    for _ in range(draw(st.integers(0, 4))):
        if body:
            body[draw(st.integers(0, len(body) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    return bytes(body)


@_PROPERTY
@given(data=_npz_bytes())
def test_any_npz_bytes_give_a_table_or_one_value_error(tmp_path, data):
    path = tmp_path / "d.npz"
    table = _table_or_one_error(path, data)
    if table is None:
        return
    X, labels, _ = table
    with np.load(path) as z:  # what it read is what NumPy reads
        np.testing.assert_array_equal(X, z["X"])
        np.testing.assert_array_equal(labels, z["y"])


def test_a_control_character_around_a_number_is_not_a_space(tmp_path):
    """str.strip drops the information separators (\\x1c to \\x1f) that float() refuses: a
    field "\\x1c.0" is no number (hypothesis found it), as Python's float() says."""
    path = tmp_path / "t.csv"
    path.write_bytes(b"\x1c.0,0.0\n1.0,1\n")
    with pytest.raises(ValueError, match="line 1, column 1.*is not a number"):
        read_table(path)
    with pytest.raises(ValueError):
        float("\x1c.0")
