"""The verified reader of ``.npz`` archives: models (``portable_net.io.load``) and data files.

Every check that bounds memory is made before the data it bounds is read: the zip
directory's entry count and size from its end record (before ``zipfile`` parses it), then
each member from the directory alone (method, encryption, extent within the file, no two
members sharing bytes, compression ratio), then each ``.npy`` header (shape and dtype)
before its data. :func:`read_arrays` reads a whole archive of plain arrays within a byte
limit; :func:`open_archive`, :func:`read_header` and :func:`read_data` are its steps, for a
reader (such as the model loader) that checks the headers against a layout of its own.
"""

from __future__ import annotations

import math
import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ._text import reason

__all__ = [
    "READ_ERRORS",
    "Refused",
    "open_archive",
    "read_arrays",
    "read_data",
    "read_header",
    "refusal",
]

#: a deflated member larger than this many bytes ...
RATIO_FLOOR = 2**20
#: the longest zip directory entry read (46 bytes, the name, extra field and comment)
MAX_ENTRY_BYTES = 1024
_MAX_HEADER = 10_000
_CHUNK = 2**20
_END = struct.Struct("<4s4H2LH")  # the end of central directory record
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # a member's local header


class Refused(ValueError):
    """A file refused by the reader's own checks (passed through, never re-worded)."""


def refusal(path: Path | str, what: str, problem: str) -> Refused:
    """The one error of a reader, on one line of bounded length: ``'path' is not a usable
    {what}: {problem}`` (a hostile file's names and values are quoted in the problem)."""
    problem = " ".join(problem.split())
    if len(problem) > 400:
        problem = problem[:397] + "..."
    return Refused(f"{str(path)!r} is not a usable {what}: {problem}")


# what reading a hostile file may raise, anywhere from the OS to zipfile, zlib and numpy
READ_ERRORS = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    UnicodeError,
    SyntaxError,
    OverflowError,
    RecursionError,
    MemoryError,
    struct.error,
)


def _directory_extent(f: Any, file_bytes: int) -> tuple[int, int, int] | None:
    """``(entries, size, offset)`` of the zip directory as its end record declares them
    (the zip64 record's when there is one), or None when there is no end record."""
    tail = min(file_bytes, _END.size + 0xFFFF)
    f.seek(file_bytes - tail)
    data = f.read(tail)
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < _END.size:
        return None
    _, _, _, _, entries, size, offset, _ = _END.unpack_from(data, at)
    locator_at = at - _END64_LOCATOR.size
    if locator_at >= 0 and data[locator_at : locator_at + 4] == b"PK\x06\x07":
        record_at = _END64_LOCATOR.unpack_from(data, locator_at)[2]
        if 0 <= record_at <= file_bytes - _END64.size:
            f.seek(record_at)
            record = f.read(_END64.size)
            if record[:4] == b"PK\x06\x06":
                fields = _END64.unpack(record)
                entries, size, offset = max(entries, fields[7]), max(size, fields[8]), fields[9]
    return entries, size, offset


def open_archive(
    path: Path | str, f: Any, *, what: str, max_members: int, max_ratio: float
) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """The open zip archive of the regular file ``f`` and its members by array name (the
    name less ``.npy``), each checked from the zip directory alone; or :class:`Refused`.

    Refused: more than ``max_members`` entries or a directory larger than they need (both
    read from the end record, before the directory is parsed), an entry twice, encrypted or
    compressed other than stored or deflated, a member outside the file or sharing bytes
    with another (overlapping entries: one deflate stream inflated many times), and a
    deflated member of over 1 MiB that would inflate more than ``max_ratio`` times.
    """
    info = os.fstat(f.fileno())
    if not stat.S_ISREG(info.st_mode):
        raise refusal(path, what, "it is not a regular file (a FIFO, socket or device)")
    file_bytes = info.st_size
    f.seek(0)
    head = f.read(4)
    if head[:2] != b"PK":
        kind = "a .npy array" if head[:4] == b"\x93NUM" else "not an .npz (zip) file"
        raise refusal(path, what, kind)
    extent = _directory_extent(f, file_bytes)
    if extent is not None:
        entries, size, _ = extent
        if entries > max_members:
            raise refusal(
                path, what, f"it holds {entries} entries, over the limit of {max_members}"
            )
        if size > max_members * MAX_ENTRY_BYTES:
            raise refusal(
                path,
                what,
                f"its zip directory is {size} bytes, over the limit of "
                f"{max_members * MAX_ENTRY_BYTES} for {max_members} entries",
            )
    f.seek(0)
    try:
        archive = zipfile.ZipFile(f)
    except READ_ERRORS as exc:
        raise refusal(
            path,
            what,
            f"the file is truncated or corrupted (its zip directory is unreadable: {reason(exc)})",
        ) from None
    try:
        members = _members(path, what, archive, f, file_bytes, max_members, max_ratio)
    except BaseException:
        archive.close()
        raise
    return archive, members


def _members(
    path: Path | str,
    what: str,
    archive: zipfile.ZipFile,
    f: Any,
    file_bytes: int,
    max_members: int,
    max_ratio: float,
) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > max_members:
        raise refusal(path, what, f"it holds {len(infos)} entries, over the limit of {max_members}")
    members = {}
    spans = []
    for member in infos:
        name = member.filename
        key = name[: -len(".npy")] if name.endswith(".npy") else name
        if key in members:
            raise refusal(path, what, f"it holds the entry {key!r} twice")
        if member.flag_bits & 0x1:
            raise refusal(path, what, f"its entry {name!r} is encrypted")
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise refusal(
                path,
                what,
                f"its entry {name!r} is compressed with zip method {member.compress_type} "
                "(only stored or deflated entries are read)",
            )
        corrupt = f"the file is truncated or corrupted ({name!r}"
        if member.header_offset + _LOCAL.size + member.compress_size > file_bytes:
            raise refusal(path, what, f"{corrupt} ends past its end)")
        if member.compress_type == zipfile.ZIP_STORED and member.file_size != member.compress_size:
            raise refusal(path, what, f"{corrupt} sizes disagree)")
        if member.file_size > RATIO_FLOOR and member.file_size > max_ratio * member.compress_size:
            raise refusal(
                path,
                what,
                f"its entry {name!r} would inflate {member.compress_size} bytes to "
                f"{member.file_size}, over {max_ratio:g} times (a zip bomb?)",
            )
        # where its bytes lie: its local header (read: its name and extra field may differ
        # from the directory's) and the compressed data after it
        f.seek(member.header_offset)
        local = f.read(_LOCAL.size)
        if len(local) < _LOCAL.size or local[:4] != b"PK\x03\x04":
            raise refusal(path, what, f"{corrupt} has no local header where the directory says)")
        name_len, extra_len = _LOCAL.unpack(local)[-2:]
        end = member.header_offset + _LOCAL.size + name_len + extra_len + member.compress_size
        if end > file_bytes:
            raise refusal(path, what, f"{corrupt} ends past its end)")
        spans.append((member.header_offset, end, name))
        members[key] = member
    spans.sort()
    directory_at = archive.start_dir if hasattr(archive, "start_dir") else file_bytes
    for (_, end, name), (start, _, other) in zip(spans, [*spans[1:], (directory_at, 0, "")]):
        if end > start:
            shared = f"entry {other!r}" if other else "the zip directory"
            raise refusal(
                path,
                what,
                f"its entry {name!r} overlaps the {shared} (overlapping entries: a zip bomb?)",
            )
    return members


def read_header(
    path: Path | str, stream: Any, key: str, *, what: str
) -> tuple[tuple[int, ...], bool, np.dtype]:
    """The shape, order and dtype of an ``.npy`` member, read from its header alone."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(stream, max_header_size=_MAX_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(stream, max_header_size=_MAX_HEADER)
        else:
            raise refusal(path, what, f"its entry {key!r} has .npy format version {version}")
    except Refused:
        raise
    except READ_ERRORS as exc:
        raise refusal(
            path,
            what,
            f"the file is truncated or corrupted (its entry {key!r} is not a readable "
            f"array: {reason(exc)})",
        ) from None
    return tuple(int(s) for s in shape), bool(fortran), dtype


def read_data(
    path: Path | str,
    stream: Any,
    member: zipfile.ZipInfo,
    key: str,
    shape: tuple[int, ...],
    fortran: bool,
    dtype: np.dtype,
    *,
    what: str,
) -> np.ndarray:
    """An ``.npy`` member's data after its header, of exactly the declared size (checked
    against the zip directory before anything is allocated), the CRC verified at the end."""
    nbytes = math.prod(shape) * dtype.itemsize
    if stream.tell() + nbytes != member.file_size:
        raise refusal(
            path,
            what,
            f"the file is truncated or corrupted ({key!r} holds {member.file_size} bytes, its "
            f"header declares {stream.tell() + nbytes})",
        )
    buffer = bytearray(nbytes)
    view = memoryview(buffer)
    done = 0
    while done < nbytes:
        chunk = stream.read(min(_CHUNK, nbytes - done))
        if not chunk:
            raise refusal(path, what, f"the file is truncated or corrupted ({key!r} ends early)")
        view[done : done + len(chunk)] = chunk
        done += len(chunk)
    if stream.read(1):  # also makes zipfile check the CRC
        raise refusal(
            path, what, f"the file is truncated or corrupted ({key!r} is longer than declared)"
        )
    arr = np.frombuffer(buffer, dtype=dtype)
    if dtype.kind == "U":
        return arr.reshape(shape)
    return arr.reshape(shape, order="F" if fortran else "C")


def read_arrays(
    path: str | os.PathLike[str],
    *,
    what: str = ".npz archive",
    max_bytes: int,
    max_members: int = 64,
    max_ratio: float = 1000,
    float64_bytes: bool = False,
) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive, by name, within ``max_bytes`` of data in all
    (``float64_bytes``: also counted as float64, what a data file's features become).

    Only a regular file is opened (a FIFO never blocks); the archive is checked as
    :func:`open_archive` checks it, then every member's ``.npy`` header before any data is
    read: object (pickled) arrays are refused, and the declared sizes must add up to at most
    ``max_bytes``. The arrays are writable NumPy arrays in their stored dtype.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        For a missing file or a directory.
    ValueError
        One line ``'path' is not a usable {what}: problem`` for anything else.
    """
    path = Path(path)
    st = os.stat(path)  # FileNotFoundError: the caller's
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{str(path)!r} is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise refusal(path, what, "it is not a regular file (a FIFO, socket or device)")
    try:
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        with os.fdopen(os.open(path, flags), "rb") as f:
            archive, members = open_archive(
                path, f, what=what, max_members=max_members, max_ratio=max_ratio
            )
            with archive:
                headers = {}
                for key, member in members.items():
                    with archive.open(member) as stream:
                        headers[key] = read_header(path, stream, key, what=what)
                    if headers[key][2].hasobject:
                        raise refusal(path, what, f"its entry {key!r} holds objects (pickled data)")
                total = sum(
                    math.prod(s) * max(d.itemsize, 8 if float64_bytes else 0)
                    for s, _, d in headers.values()
                )
                if total > max_bytes:
                    raise refusal(
                        path,
                        what,
                        f"its arrays declare {total} bytes, over the limit of {max_bytes}",
                    )
                arrays = {}
                for key, member in members.items():
                    with archive.open(member) as stream:
                        shape, fortran, dtype = read_header(path, stream, key, what=what)
                        arrays[key] = read_data(
                            path, stream, member, key, shape, fortran, dtype, what=what
                        )
    except Refused:
        raise
    except READ_ERRORS as exc:
        raise refusal(path, what, f"the file is truncated or corrupted ({reason(exc)})") from None
    return arrays
