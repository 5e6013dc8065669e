"""Hostile model files: load bounds its memory, never hangs, and only ever returns a valid
model or raises one ValueError naming the file."""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import threading
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portable_net as pn
import portable_net.io as pio

SIZES = [2, 8, 3]
#: what one load of a small hostile file may allocate (a valid one needs a few KiB)
PEAK_LIMIT = 32 * 2**20


def _valid_bytes(tmp_path) -> bytes:
    params = pn.init_params(SIZES, seed=1, scale=0.5)
    path = pn.save(tmp_path / "valid.npz", params, note="a model")
    return path.read_bytes()


def _npy(arr: np.ndarray | None = None, *, header: dict | None = None, data: bytes = b"") -> bytes:
    """An .npy member: a real array, or a hand-written header over some bytes."""
    buf = io.BytesIO()
    if arr is not None:
        np.lib.format.write_array(buf, arr, allow_pickle=False)
        return buf.getvalue()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + data


def _members(valid: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(valid)) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def _zip(path, members: dict[str, bytes], method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, body in members.items():
            z.writestr(name, body)
    return path


def _metadata(doc: dict) -> bytes:
    return _npy(np.array(json.dumps(doc)))


def _doc(valid: bytes) -> dict:
    return json.loads(str(np.load(io.BytesIO(_members(valid)["_metadata.npy"]))[()]))


def _load_measured(path):
    """load(path) -> (result or exception, peak bytes traced)."""
    tracemalloc.start()
    try:
        try:
            result = pn.load(path)
        except Exception as exc:
            result = exc
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


def _assert_refused(path, match, *, peak_limit=PEAK_LIMIT):
    result, peak = _load_measured(path)
    assert peak < peak_limit, f"load allocated {peak / 2**20:.1f} MiB ({result!r})"
    assert isinstance(result, ValueError), repr(result)
    assert str(path) in str(result), result
    assert match in str(result), result
    assert "\n" not in str(result) and len(str(result)) < 600


# --- class 1: one test per way a file could exhaust memory, crash or hang the loader -----------


def test_a_header_declaring_a_huge_shape_is_refused_before_any_allocation(tmp_path):
    members = _members(_valid_bytes(tmp_path))
    members["W1.npy"] = _npy(
        header={"descr": "<f8", "fortran_order": False, "shape": (2**20, 2**20)},
        data=b"\0" * 128,
    )
    path = _zip(tmp_path / "huge-shape.npz", members)
    assert path.stat().st_size < 4096
    _assert_refused(path, "'W1' has shape (1048576, 1048576), expected (2, 8)")


def test_huge_layer_sizes_are_refused_by_the_weight_limit(tmp_path):
    valid = _valid_bytes(tmp_path)
    members = _members(valid)
    doc = _doc(valid)
    doc["layer_sizes"] = [2**20, 2**20, 3]
    members["_metadata.npy"] = _metadata(doc)
    members["W1.npy"] = _npy(
        header={"descr": "<f8", "fortran_order": False, "shape": (2**20, 2**20)},
        data=b"\0" * 128,
    )
    _assert_refused(_zip(tmp_path / "huge-sizes.npz", members), "over the limit")


def _deflated_member(name: str, head: bytes, zeros: int) -> bytes:
    """A zip with one deflated member: ``head`` then ``zeros`` zero bytes, streamed."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open(name, "w", force_zip64=True) as member:
            member.write(head)
            block = bytes(2**20)
            for _ in range(zeros // len(block)):
                member.write(block)
    return buf.getvalue()


def test_a_zip_bomb_member_is_refused_before_it_is_inflated(tmp_path):
    valid = _valid_bytes(tmp_path)
    n = 64 * 2**20  # 64 MiB of zeros inflated from about 64 KiB
    head = _npy(header={"descr": "<f8", "fortran_order": False, "shape": (n // 8,)})
    bomb = _deflated_member("W9.npy", head, n)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as z:
        for name, body in _members(valid).items():
            z.writestr(name, body)
        with zipfile.ZipFile(io.BytesIO(bomb)) as b:
            info = b.infolist()[0]
            z.writestr(info, b.read(info), compress_type=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2**20
    _assert_refused(path, "a zip bomb?")


def test_huge_metadata_is_refused_by_its_declared_size(tmp_path, monkeypatch):
    valid = _valid_bytes(tmp_path)
    members = _members(valid)
    doc = _doc(valid)
    doc["metadata"]["padding"] = "x" * 300_000  # 1.2 MB as stored (4 bytes a character)
    members["_metadata.npy"] = _metadata(doc)
    path = _zip(tmp_path / "big-metadata.npz", members)
    monkeypatch.setattr(pio, "MAX_METADATA_BYTES", 2**20)
    _assert_refused(path, "over the limit of 1048576", peak_limit=2**20)


@pytest.mark.parametrize("depth", [200, 100_000])
def test_deeply_nested_metadata_is_refused(tmp_path, depth):
    valid = _valid_bytes(tmp_path)
    members = _members(valid)
    doc = _doc(valid)
    doc["metadata"]["deep"] = "@"
    text = json.dumps(doc).replace('"@"', "[" * depth + "]" * depth)
    members["_metadata.npy"] = _npy(np.array(text))
    _assert_refused(_zip(tmp_path / "deep.npz", members), "too deeply" if depth > 1000 else "deep")


def _patch_member_field(data: bytes, name: bytes, local_offset: int, central_offset: int, value):
    """Rewrite a 2-byte field of one member in its local and its central header."""
    body = bytearray(data)
    for signature, offset, name_at in (
        (b"PK\x03\x04", local_offset, 30),
        (b"PK\x01\x02", central_offset, 46),
    ):
        at = 0
        while (at := body.find(signature, at)) >= 0:
            if body[at + name_at : at + name_at + len(name)] == name:
                old = struct.unpack_from("<H", body, at + offset)[0]
                struct.pack_into("<H", body, at + offset, value(old))
            at += 4
    return bytes(body)


def test_an_encrypted_member_is_a_value_error(tmp_path):
    data = _patch_member_field(_valid_bytes(tmp_path), b"W1.npy", 6, 8, lambda f: f | 0x1)
    path = tmp_path / "encrypted.npz"
    path.write_bytes(data)
    _assert_refused(path, "'W1.npy' is encrypted")


@pytest.mark.parametrize("method", [12, 14, 97])  # bzip2, lzma (zipfile reads them), WavPack
def test_a_member_compressed_with_another_method_is_a_value_error(tmp_path, method):
    data = _patch_member_field(_valid_bytes(tmp_path), b"b1.npy", 8, 10, lambda _: method)
    path = tmp_path / "method.npz"
    path.write_bytes(data)
    _assert_refused(path, f"zip method {method}")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    outcome = []

    def run():
        try:
            pn.load(fifo)
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # unblock the reader before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        pytest.fail("load waited for a writer on a FIFO")
    assert len(outcome) == 1 and isinstance(outcome[0], ValueError), outcome
    assert "not a regular file" in str(outcome[0]) and str(fifo) in str(outcome[0])


def test_an_unreadable_file_is_a_value_error_naming_it(tmp_path):
    if sys.platform == "win32" or os.geteuid() == 0:
        pytest.skip("permissions do not stop this user")
    path = tmp_path / "locked.npz"
    path.write_bytes(_valid_bytes(tmp_path))
    path.chmod(0)
    with pytest.raises(ValueError, match="cannot be read") as info:
        pn.load(path)
    assert str(path) in str(info.value)


def test_a_nan_weight_is_refused_at_load(tmp_path):
    members = _members(_valid_bytes(tmp_path))
    W2 = np.load(io.BytesIO(members["W2.npy"]))
    W2[3, 1] = np.nan
    members["W2.npy"] = _npy(W2)
    _assert_refused(_zip(tmp_path / "nan.npz", members), "'W2' holds NaN or infinite")


def test_a_deflated_model_still_loads(tmp_path):
    # np.savez_compressed writes deflated members: a model file, if not save's own layout
    valid = _valid_bytes(tmp_path)
    path = _zip(tmp_path / "deflated.npz", _members(valid), method=zipfile.ZIP_DEFLATED)
    params, meta = pn.load(path)
    expected, _ = pn.load(tmp_path / "valid.npz")
    for key in expected:
        np.testing.assert_array_equal(params[key], expected[key])
    assert meta["note"] == "a model"


# --- the property: any mutation of a valid file loads as a valid model or is a ValueError ------


def _zip_field_offsets(data: bytes) -> list[tuple[int, int]]:
    """(offset, width) of every size, method, flag, offset and count field of the zip."""
    fields = []
    for signature, layout in (
        (b"PK\x03\x04", [(6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)]),
        (b"PK\x01\x02", [(8, 2), (10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (42, 4)]),
        (b"PK\x05\x06", [(8, 2), (10, 2), (12, 4), (16, 4), (20, 2)]),
    ):
        at = 0
        while (at := data.find(signature, at)) >= 0:
            fields.extend(
                (at + off, width) for off, width in layout if at + off + width <= len(data)
            )
            at += 4
    return fields


def _check_model(result) -> None:
    params, meta = result
    sizes = meta["layer_sizes"]
    assert sorted(params) == sorted(f"{p}{i}" for i in range(1, len(sizes)) for p in "Wb")
    for i in range(1, len(sizes)):
        assert params[f"W{i}"].shape == (sizes[i - 1], sizes[i])
        assert params[f"b{i}"].shape == (sizes[i],)
        assert np.all(np.isfinite(params[f"W{i}"])) and np.all(np.isfinite(params[f"b{i}"]))


_SHAPES = st.one_of(
    st.tuples(),
    st.tuples(st.integers(0, 2**62)),
    st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)),
    st.just((2, 8)),
    st.just((8,)),
)
_DESCRS = st.sampled_from(["<f8", ">f8", "<f4", "<f2", "|O", "<c16", "<U10", "|b1", "<i8", "V8"])
_VALUES = st.one_of(
    st.sampled_from([0, 1, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 8, 12, 14]),
    st.integers(0, 0xFFFFFFFF),
)


@st.composite
def _mutations(draw, valid: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "field", "header", "metadata", "truncate"]))
    if kind == "flip":
        body = bytearray(valid)
        for _ in range(draw(st.integers(1, 8))):
            body[draw(st.integers(0, len(body) - 1))] = draw(st.integers(0, 255))
        return bytes(body)
    if kind == "field":
        body = bytearray(valid)
        offset, width = draw(st.sampled_from(_zip_field_offsets(valid)))
        body[offset : offset + width] = (draw(_VALUES) % 256**width).to_bytes(width, "little")
        return bytes(body)
    if kind == "truncate":
        return valid[: draw(st.integers(0, len(valid) - 1))]
    members = _members(valid)
    if kind == "header":
        name = draw(st.sampled_from(sorted(members)))
        header = {
            "descr": draw(_DESCRS),
            "fortran_order": draw(st.booleans()),
            "shape": draw(_SHAPES),
        }
        try:
            members[name] = _npy(header=header, data=draw(st.binary(max_size=256)))
        except ValueError:  # numpy's writer refused the header
            return valid
    else:
        doc = _doc(valid)
        key = draw(st.sampled_from(["layer_sizes", "dtype", "format_version", "metadata"]))
        doc[key] = draw(
            st.one_of(
                st.lists(st.integers(-1, 2**40), max_size=4),
                st.sampled_from(["float16", "float64", "object", None]),
                st.integers(-5, 5),
                st.recursive(
                    st.none() | st.integers(), lambda c: st.lists(c, max_size=3), max_leaves=30
                ),
            )
        )
        members["_metadata.npy"] = _metadata(doc)
    out = io.BytesIO()
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    with zipfile.ZipFile(out, "w", compression=method) as z:
        for name, body in members.items():
            z.writestr(name, body)
    return out.getvalue()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_files_load_as_valid_models_or_raise_value_error(tmp_path, data):
    valid = (tmp_path / "valid.npz").read_bytes() if (tmp_path / "valid.npz").exists() else None
    if valid is None:
        valid = _valid_bytes(tmp_path)
    mutated = data.draw(_mutations(valid))
    path = tmp_path / "mutated.npz"
    path.write_bytes(mutated)
    result, peak = _load_measured(path)
    if isinstance(result, Exception):
        assert type(result) is ValueError or isinstance(result, ValueError), repr(result)
        assert str(path) in str(result)
    else:
        _check_model(result)
    assert peak < PEAK_LIMIT, f"{peak / 2**20:.1f} MiB"


def test_refusals_stay_one_short_line_whatever_the_file_holds(tmp_path):
    valid = _valid_bytes(tmp_path)
    members = _members(valid)
    members["x\n" * 20_000 + ".npy"] = _npy(np.zeros(2))
    path = _zip(tmp_path / "long-name.npz", members)
    _assert_refused(path, "unexpected entries")

    doc = _doc(valid)
    doc["layer_sizes"] = [2] * 100_000
    members = _members(valid)
    members["_metadata.npy"] = _metadata(doc)
    path = _zip(tmp_path / "many-layers.npz", members)
    _assert_refused(path, "layers, over the limit")


# --- the zip directory itself: overlapping entries, a directory of a huge entry count ----------

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")


def _local(name: bytes, method: int, crc: int, csize: int, size: int) -> bytes:
    fields = (b"PK\x03\x04", 20, 0, 0, method, 0, 0x21, crc, csize, size, len(name), 0)
    return _LOCAL.pack(*fields) + name


def _central(name: bytes, method: int, crc: int, csize: int, size: int, offset: int) -> bytes:
    fields = (b"PK\x01\x02", 20, 3, 20, 0, 0, method, 0, 0x21, crc, csize, size, len(name))
    return _CENTRAL.pack(*fields, 0, 0, 0, 0, 0, offset) + name


def _stored_block(body: bytes) -> bytes:
    """A non-final deflate block holding ``body`` as it is (a quote of the bytes that follow
    in the file: the next entry's local header)."""
    return b"\x00" + struct.pack("<HH", len(body), len(body) ^ 0xFFFF) + body


def _overlapping_model(n_layers: int) -> tuple[bytes, int]:
    """A model whose weights W1..Wn are deflated members sharing one stream: each member's
    data quotes the next member's local header and runs on into its data, down to one kernel
    (the smallest weight's bytes). Every member inflates to a valid, finite weight of its
    layer's shape with its right CRC, so a reader that follows the directory loads it all.
    Returns the file and the bytes its weights declare."""
    sizes = [300 + i for i in range(n_layers + 1)]
    doc = {
        "format": "portable_net model",
        "format_version": 1,
        "portable_net_version": pn.__version__,
        "layer_sizes": sizes,
        "dtype": "float64",
        "metadata": {},
    }
    plain = {"_metadata.npy": _metadata(doc)}
    for i in range(1, n_layers + 1):
        plain[f"b{i}.npy"] = _npy(np.zeros(sizes[i]))
    body = b""
    entries = []  # (name, method, crc, csize, size, offset)
    for name, data in plain.items():
        entries.append((name.encode(), 0, zlib.crc32(data), len(data), len(data), len(body)))
        body += _local(name.encode(), 0, zlib.crc32(data), len(data), len(data)) + data
    # the chain, built from its innermost (smallest) weight outwards
    order = sorted(range(1, n_layers + 1), key=lambda i: sizes[i - 1] * sizes[i])
    innermost = order[0]
    kernel = bytes(8 * sizes[innermost - 1] * sizes[innermost])  # zeros: deflated 1000x
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    kernel_stream = packer.compress(kernel) + packer.flush()
    tail, output, chain = kernel_stream, kernel, []
    next_local = b""
    for i in order:
        shape = (sizes[i - 1], sizes[i])
        header = _npy(header={"descr": "<f8", "fortran_order": False, "shape": shape})
        pad = b"\0" * (8 * shape[0] * shape[1] - len(next_local) - len(output))
        quoted = header + pad + next_local
        assert len(quoted) < 0xFFFF
        tail = _stored_block(quoted) + tail
        output = quoted + output
        assert np.all(np.isfinite(np.frombuffer(output[len(header) :], dtype="<f8")))
        name = f"W{i}.npy".encode()
        fields = (name, 8, zlib.crc32(output), len(tail), len(output))
        next_local = _local(*fields)
        chain.append((fields, next_local))
    start = len(body)
    body += next_local + tail  # the outermost's local header, then the one stream
    for fields, local in chain:
        entries.append((*fields, body.index(local, start)))
    directory = b"".join(_central(*e) for e in entries)
    end = _END.pack(b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), len(body), 0)
    declared = sum(8 * sizes[i - 1] * sizes[i] for i in range(1, n_layers + 1))
    return body + directory + end, declared


def test_members_sharing_one_deflate_stream_are_refused_before_inflating(tmp_path):
    data, declared = _overlapping_model(80)
    path = tmp_path / "overlap.npz"
    path.write_bytes(data)
    assert declared > 20 * len(data) and declared > 2 * PEAK_LIMIT
    with zipfile.ZipFile(path) as z:  # the fixture is sound: each member reads whole
        assert len(z.read("W40.npy")) == 128 + 8 * 339 * 340
    _assert_refused(path, "overlapping entries")


def test_a_directory_of_500000_entries_is_refused_from_its_end_record(tmp_path):
    valid = _valid_bytes(tmp_path)
    entry = _central(b"a", 0, 0, 0, 0, 0)
    directory = entry * 500_000
    # the end record's count understated: its directory size gives it away
    end = _END.pack(b"PK\x05\x06", 0, 0, 5, 5, len(directory), len(valid), 0)
    path = tmp_path / "entries.npz"
    path.write_bytes(valid + directory + end)
    _assert_refused(path, "zip directory is", peak_limit=2**20)
    # the count in the end record alone (a 16-bit count, at its maximum) is over the limit
    end = _END.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 46, len(valid), 0)
    path.write_bytes(valid + entry + end)
    _assert_refused(path, "65535 entries, over the limit", peak_limit=2**20)


def test_the_data_reader_shares_the_checks(tmp_path):
    from portable_net._npz import read_arrays

    X = np.arange(12.0).reshape(6, 2)
    y = np.array(["a", "b", "c", "a", "b", "c"])
    np.savez(tmp_path / "data.npz", X=X, y=y)
    arrays = read_arrays(tmp_path / "data.npz", what="data file", max_bytes=2**20)
    assert sorted(arrays) == ["X", "y"]
    np.testing.assert_array_equal(arrays["X"], X)
    np.testing.assert_array_equal(arrays["y"], y)
    with pytest.raises(ValueError, match="declare 120 bytes, over the limit of 100"):
        read_arrays(tmp_path / "data.npz", what="data file", max_bytes=100)
    np.savez(tmp_path / "objects.npz", X=np.array([{}, 1], dtype=object))
    with pytest.raises(ValueError, match="'X' holds objects"):
        read_arrays(tmp_path / "objects.npz", max_bytes=2**20)
    data, _ = _overlapping_model(12)
    (tmp_path / "overlap.npz").write_bytes(data)
    with pytest.raises(ValueError, match="is not a usable data file: .*overlapping entries"):
        read_arrays(tmp_path / "overlap.npz", what="data file", max_bytes=2**30)


# --- metadata of the wrong types: one ValueError naming the file and the field -----------------


def _with_metadata(tmp_path, name: str, change) -> str:
    """A Classifier-style model file whose metadata went through ``change(doc["metadata"])``
    (the JSON text edited after: ``change`` may return text replacements)."""
    valid = pn.save(
        tmp_path / "valid-clf.npz",
        pn.init_params(SIZES, seed=1, scale=0.5),
        estimator="Classifier",
        settings={"hidden_layer_sizes": [8], "alpha": 1e-4},
        classes=[0, 1, 2],
        classes_dtype="int64",
        fitted={"n_iter_": 3, "t_": 30, "loss_curve_": [1.1, 1.0, 0.9], "loss_": 0.9},
    ).read_bytes()
    members = _members(valid)
    doc = _doc(valid)
    replace = change(doc["metadata"]) or {}
    text = json.dumps(doc)
    for old, new in replace.items():
        text = text.replace(old, new)
    members["_metadata.npy"] = _npy(np.array(text))
    return str(_zip(tmp_path / name, members))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m["fitted"].update(loss_curve_=5), "'fitted.loss_curve_' is 5, not a list"),
        (lambda m: m["fitted"].update(n_iter_=[1]), "'fitted.n_iter_' is [1], not an integer"),
        (lambda m: m["fitted"].update(t_=-1), "'fitted.t_' is -1, not an integer"),
        (lambda m: m["settings"].update(hidden_layer_sizes=5.5), "'settings.hidden_layer_sizes'"),
        (lambda m: m.update(settings=[1]), "'settings' is [1], not a dict"),
        (
            lambda m: {'"classes": [0, 1, 2]': f'"classes": {[2**70, 2**71, 2**72]}'},
            "do not fit its classes_dtype int64 exactly",
        ),
        (lambda m: {'"classes_dtype": "int64"': '"classes_dtype": "V8"'}, "'V8' is not a dtype"),
        (
            lambda m: {'"classes_dtype": "int64"': '"classes_dtype": "<U1"'},
            "of its classes_dtype <U1",
        ),
        (lambda m: {'"n_iter_": 3': '"n_iter_": Infinity'}, "the number Infinity"),
        (lambda m: {'"loss_": 0.9': '"loss_": 1e999'}, "the number 1e999"),
        (
            lambda m: {'"feature_names": null': '"feature_names": [1, 2]'},
            "its feature names [1, 2]",
        ),
        (
            lambda m: m["settings"].update(hidden_layer_sizes=5),
            "'settings.hidden_layer_sizes' is 5",
        ),
        (lambda m: m["settings"].update(hidden_layer_sizes=[9]), "hidden_layer_sizes [9] is not"),
        (lambda m: m["settings"].update(activation="tanh"), "activation 'tanh' is not the model's"),
    ],
)
def test_metadata_of_the_wrong_type_is_one_value_error_naming_the_field(tmp_path, change, field):
    path = _with_metadata(tmp_path, "typed.npz", change)
    for loader in (pn.load, pn.Classifier.load):
        with pytest.raises(ValueError) as info:
            loader(path)
        message = str(info.value)
        assert type(info.value) is not TypeError and path in message, message
        assert field in message and "\n" not in message, message


def test_a_classifier_file_of_the_right_types_still_loads(tmp_path):
    path = _with_metadata(tmp_path, "typed.npz", lambda m: None)
    model = pn.Classifier.load(path)
    assert model.n_iter_ == 3 and model.loss_curve_ == [1.1, 1.0, 0.9]
    assert model.hidden_layer_sizes == (8,) and model.classes_.tolist() == [0, 1, 2]
