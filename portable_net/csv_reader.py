"""The one CSV reader: ``read_table``'s and the command line's (``predict``'s points).

Streaming: at most ``max_bytes`` are read (a file's size checked first; stdin, a pipe or a
device as they are read), NUL bytes and bad UTF-8 refused as they arrive, a byte-order mark
skipped; rows are parsed a block at a time straight into the final float64 array, so memory
stays within a few times the file's size. A number is a CSV number: ASCII digits with an
optional sign, point and exponent (Python's ``float()`` also takes ``1_5`` and other scripts'
digits, which no CSV writer means as numbers); with ``decimal=','`` the decimal mark is a
comma (``1,5``, as pandas' ``decimal``) and a point is refused. Missing values (an empty
field, ``NA``, ``N/A``, ``NaN``, ``null``, ``?``) are refused with a way forward named, or
read as NaN where the caller asks (``missing``).
"""

from __future__ import annotations

import array
import csv
import io
import itertools
import math
import operator
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import IO, Any, cast

import numpy as np

from .csv_text import Coded, TextColumn, TooMany, counts_the_rows

__all__ = [
    "MAX_BYTES",
    "MISSING",
    "Columns",
    "CsvError",
    "check_file",
    "delimiter_hint",
    "is_number",
    "open_text",
    "parse_csv",
    "parse_table",
]

MAX_BYTES = 1 << 30

# delimiters recognised when a file is read with another one
_OTHER_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}
# a CSV number (see the module's docstring)
_NUMBER = re.compile(
    r"\s*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)\s*",
    re.IGNORECASE | re.ASCII,
)
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
# a number written with a decimal comma (1,5 or -0,25e3): read as decimal=','
_DECIMAL_COMMA = re.compile(r"\s*[+-]?[0-9]*,[0-9]+(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)
#: what marks a missing value (compared in lower case, stripped)
MISSING = ("", "na", "n/a", "nan", "null", "?")
# how a missing value may be read: refused, its row dropped, or the column's mean filled in
MISSING_CHOICES = ("error", "drop", "mean")
_MISSING_HINT = (
    " (a missing value: pass missing='drop' to drop its rows, or missing='mean' to fill in "
    "its column's mean)"
)
# rows converted to floats at a time (bounds the Python objects alive at once)
_BLOCK = 4096

PathLike = str | os.PathLike[str]


class CsvError(ValueError):
    """A problem in a CSV text: ``problem`` (in words), at ``line`` (1-based; 0 for the text
    as a whole) and ``column`` (1-based, with its ``column_name``; None for the row)."""

    def __init__(
        self, problem: str, line: int = 0, column: int | None = None, column_name: str = ""
    ) -> None:
        super().__init__(problem)
        self.problem, self.line, self.column, self.column_name = problem, line, column, column_name

    @property
    def location(self) -> str:
        """Where, for a message after the file's name: ``", line 3, column 2 ('x')"``, or
        ``""`` for the text as a whole."""
        where = f", line {self.line}" if self.line else ""
        if self.column is not None:
            where += f", column {self.column} ({self.column_name!r})"
        return where


@dataclass(frozen=True)
class Columns:
    """What the rows of a CSV text hold, decided from its first row."""

    #: fields on every row
    n_fields: int
    #: the columns read as numbers (0-based), in order
    features: tuple[int, ...]
    #: the column read as labels (0-based), or None
    label: int | None
    #: the first row is a header (skipped)
    header: bool
    #: the features' names (for messages)
    names: tuple[str, ...]
    #: why every row has ``n_fields`` fields (for messages), e.g. "as on line 1"
    reason: str
    #: the first column, unnamed in the header and numbering the rows (pandas' index), was
    #: left out (``parse_csv(index=True)``)
    index: bool = False
    #: the label column's name in the header (None: no header, or no label column)
    label_name: str | None = None
    #: the columns read as text (0-based), coded as they are read (``parse_table``)
    texts: tuple[int, ...] = ()
    #: the most distinct values of a text column (None: no bound)
    most_texts: int | None = None
    #: the text columns may turn out to hold numbers (then read as numbers)
    text_numbers: bool = False


def is_number(field: str) -> bool:
    """Whether ``field`` is a CSV number (spaces around it allowed)."""
    return _NUMBER.fullmatch(field) is not None


def delimiter_hint(text: str, delimiter: str) -> str:
    """'; looks ';'-separated (pass delimiter=';')' when another delimiter dominates text."""
    counts = {d: text.count(d) for d in _OTHER_DELIMITERS if d != delimiter}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] > 0 and counts[best] >= text.count(delimiter):
        hint = (
            f"; it looks {_DELIMITER_NAMES[best]}-separated, not "
            f"{_DELIMITER_NAMES.get(delimiter, repr(delimiter))}-separated "
            f"(pass delimiter={best!r})"
        )
        if best != ",":  # ';' and tab: the separators of locales that write 1,5 for 1.5
            hint += "; if its numbers have decimal commas (1,5), also pass decimal=','"
        return hint
    return ""


def _field_hint(field: str, delimiter: str, decimal: str) -> str:
    """Why a field that is not a number may be one: a decimal comma, another delimiter."""
    if decimal != "," and _DECIMAL_COMMA.fullmatch(field):
        return "; it looks like a number with a decimal comma (pass decimal=',')"
    return delimiter_hint(field, delimiter)


class _Bounded(io.RawIOBase):
    """A binary stream read to at most ``limit`` bytes, refusing NUL bytes (binary data)."""

    def __init__(self, raw: IO[bytes], limit: int, owned: bool) -> None:
        super().__init__()
        self._raw, self._limit, self._done, self._owned = raw, limit, 0, owned

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self._owned and not self.closed:
            self._raw.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(min(len(buffer), self._limit + 1 - self._done) or 1)
        self._done += len(data)
        if self._done > self._limit:
            raise CsvError(f"is over the limit of {self._limit} bytes (max_bytes)")
        nul = data.find(b"\x00")
        if nul >= 0:
            try:
                data[:nul].decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.reason != "unexpected end of data":
                    raise CsvError("is not a UTF-8 text file") from None
            raise CsvError("holds NUL bytes: it is not a CSV text file")
        buffer[: len(data)] = data
        return len(data)


def open_text(path: PathLike, max_bytes: int = MAX_BYTES, *, streams: bool = False) -> IO[str]:
    """A CSV source as UTF-8 text (a byte-order mark skipped), read to at most ``max_bytes``.

    ``path`` is a regular, non-empty file of at most ``max_bytes``; with ``streams``, also
    ``"-"`` (stdin) or a pipe, refused (:class:`CsvError`) once past ``max_bytes``.
    """
    name = os.fspath(path)
    if streams and name == "-":
        raw: IO[bytes] = sys.stdin.buffer
    else:
        check_file(name, max_bytes, streams=streams)
        try:
            raw = open(name, "rb")  # closed with the text stream
        except OSError as exc:
            raise ValueError(f"cannot read {name!r}: {exc.strerror or exc}") from None
    bounded = _Bounded(raw, max_bytes, owned=raw is not sys.stdin.buffer)
    buffered = io.BufferedReader(bounded, buffer_size=1 << 16)
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")


def _rows(reader: Any, comments: bool) -> Iterator[list[str]]:
    """The rows of a csv reader, blank rows (and, with ``comments``, rows starting with #)
    skipped; its errors as CsvError with the line."""
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            line = reader.line_num
            if "field larger than field limit" in str(exc):
                raise CsvError(
                    f"a field is longer than the csv module's limit of "
                    f"{csv.field_size_limit()} characters (field larger than field limit)",
                    line,
                ) from None
            raise CsvError(f"not valid CSV ({exc})", line) from None
        except UnicodeDecodeError:
            raise CsvError("is not a UTF-8 text file") from None
        if row is None:
            return
        if not row or not "".join(row).strip():
            continue
        if comments and row[0].lstrip().startswith("#"):
            continue
        yield row


def parse_csv(
    text: IO[str], columns_of: Callable[[list[str], int], Columns], **options: Any
) -> tuple[np.ndarray, np.ndarray | None, Columns]:
    """Parse a CSV text into ``(X float64 (N, D), labels or None, columns)``: :func:`parse_table`
    (its keyword ``options``) of a file without text columns."""
    X, labels, cols, _ = parse_table(text, columns_of, **options)
    return X, labels, cols


def parse_table(
    text: IO[str],
    columns_of: Callable[[list[str], int], Columns],
    *,
    delimiter: str = ",",
    comments: bool = False,
    decimal: str = ".",
    missing: str | None = None,
    index: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, Columns, list[TextColumn]]:
    """Parse a CSV text into ``(X float64 (N, D), labels or None, columns, text columns)``.

    ``columns_of(first_row, line)`` decides the columns from the first row (blank rows, and
    with ``comments`` rows starting with ``#``, are skipped). Feature fields must be finite
    CSV numbers; labels are ints if all are integers within int64, else floats if all are
    numbers, else strings (so integers beyond 64 bits stay distinct, as text). Rows are
    converted a block at a time, straight into the final array. Every problem is a
    :class:`CsvError` at its line (and column).

    ``decimal``: the decimal mark of the features, ``"."`` or ``","``. ``missing``: None
    (a missing feature is an error), ``"error"`` (the same, its message naming
    ``missing=``), ``"drop"`` or ``"mean"`` (read as NaN, for the caller to drop or fill;
    with ``"drop"`` a row with an empty label is skipped too).

    The columns' ``texts`` are read as text, each a :class:`~portable_net.csv_text.TextColumn`
    (its values coded as they are read, at most ``most_texts`` distinct values: past them an
    error, or with ``text_numbers`` the column read as numbers); the file is read once.

    ``index``: a header whose first field is empty (``to_csv()``'s index column of a pandas
    DataFrame) has that column read and left out, when it counts the rows (0, 1, 2, ..., or
    from another integer ``>= 0``: a slice of a DataFrame); ``columns_of`` sees the other
    fields, and the columns returned say so (``index``). A first column without a name
    that does not count the rows is an error.
    """
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    rows = _rows(reader, comments)
    first = next(rows, None)
    if first is None:
        raise CsvError("holds no rows")
    raw, first = first, [f.strip() for f in first]
    line = reader.line_num
    if index and len(first) > 2 and not first[0] and not any(map(is_number, first[1:])):
        inner = columns_of(first[1:], line)
        cols = replace(inner, n_fields=inner.n_fields + 1,
                       features=(0, *(j + 1 for j in inner.features)),
                       label=None if inner.label is None else inner.label + 1,
                       names=("", *inner.names), index=True,
                       texts=tuple(j + 1 for j in inner.texts))  # fmt: skip
        X, labels, _, texts = _parse(reader, rows, raw, cols, delimiter, decimal, missing)
        if not counts_the_rows(X[:, 0]):
            raise CsvError(
                "its first column has no name in the header and does not number the rows "
                "(0, 1, 2, ...: pandas' index); name it, or leave it out (to_csv(index=False))",
                line,
                1,
                "",
            )
        cols = replace(cols, features=cols.features[1:], names=cols.names[1:])
        return np.ascontiguousarray(X[:, 1:]), labels, cols, texts
    return _parse(reader, rows, raw, columns_of(first, line), delimiter, decimal, missing)


def _parse(reader: Any, rows: Iterator[list[str]], first: list[str], cols: Columns,
           delimiter: str, decimal: str, missing: str | None,
           ) -> tuple[np.ndarray, np.ndarray | None, Columns, list[TextColumn]]:  # fmt: skip
    """The rows after the first (and the first, when it is no header) parsed by ``cols``."""
    values = array.array("d")
    labels = Coded()  # each row's label, coded
    texts = [TextColumn(j, first[j].strip() if cols.header else f"column {j + 1}", cols.most_texts,
                        cols.text_numbers, _reads_as_number(decimal))
             for j in cols.texts]  # fmt: skip

    def converter(text: TextColumn) -> Any:
        one = Columns(cols.n_fields, (text.column,), None, cols.header, (text.name,), "")
        return lambda fields, lines, out: _convert([[f] for f in fields], lines, one, delimiter,
                                                   out, decimal, missing)  # fmt: skip

    converts = [converter(t) for t in texts]
    block: list[Sequence[str]] = []
    text_block: list[Sequence[str]] = []
    lines: list[int] = []
    n_rows = 0
    pick, pick_texts = _picker(cols.features), _picker(cols.texts)

    def convert_block() -> None:
        _convert(block, lines, cols, delimiter, values, decimal, missing)
        for text, convert, fields in zip(texts, converts, zip(*text_block)):
            text.add([f.strip() for f in fields], lines, convert)

    data_rows = rows if cols.header else itertools.chain([first], rows)
    try:
        for row in data_rows:
            line = reader.line_num
            if len(row) != cols.n_fields:
                raise CsvError(
                    f"expected {cols.n_fields} fields ({cols.reason}), got {len(row)}"
                    + delimiter_hint(delimiter.join(row), delimiter),
                    line,
                )
            if cols.label is not None:
                label = row[cols.label].strip()
                if not label and missing == "drop":
                    continue
                if not label:
                    raise CsvError(
                        f"the label (column {cols.label + 1}) is empty"
                        + (" (pass missing='drop' to drop its rows)" if missing else ""),
                        line,
                    )
                labels.add(label, line)
            block.append(pick(row))
            text_block.append(pick_texts(row))
            lines.append(line)
            n_rows += 1
            if len(block) == _BLOCK:
                convert_block()
                block, text_block, lines = [], [], []
        if block:
            convert_block()
        for text, convert in zip(texts, converts):
            text.finish(convert)
    except TooMany as exc:
        raise CsvError(str(exc), exc.line, exc.column + 1, exc.name) from None
    if not n_rows:
        raise CsvError("has a header but no data rows" if cols.header else "holds no rows")
    features = np.frombuffer(values, dtype=np.float64).reshape(n_rows, len(cols.features))
    found = None
    if cols.label is not None:
        kinds = _label_values(labels.values, labels.first_lines)
        found = kinds[labels.array()]
    return features, found, cols, texts


def _reads_as_number(decimal: str) -> Callable[[str], bool]:
    """Whether a field is read as a number (a CSV number with ``decimal`` as its decimal
    mark) or as a missing one."""
    swap = str.maketrans({decimal: ".", ".": "\x00"}) if decimal != "." else None

    def reads(field: str) -> bool:  # a missing value may be in a column of numbers
        return field.lower() in MISSING or is_number(
            field if swap is None else field.translate(swap)
        )

    return reads


def _picker(features: tuple[int, ...]) -> Callable[[list[str]], Sequence[str]]:
    if not features:
        return lambda row: ()
    if len(features) == 1:
        only = features[0]
        return lambda row: (row[only],)
    return cast("Callable[[list[str]], Sequence[str]]", operator.itemgetter(*features))


def _convert(
    block: list[Any],
    lines: list[int],
    cols: Columns,
    delimiter: str,
    out: array.array[float],
    decimal: str = ".",
    missing: str | None = None,
) -> None:
    """A block of feature fields -> finite float64 values appended to ``out`` (NaN for a
    missing value where ``missing`` is "drop" or "mean")."""
    texts = block
    if decimal != ".":
        # the decimal mark becomes a point; a point becomes a character no number holds
        swap = str.maketrans({decimal: ".", ".": "\x00"})
        texts = [[f.translate(swap) for f in fields] for fields in block]
    allow = missing in ("drop", "mean")
    try:
        floats = np.array(texts, dtype=np.float64)
        cells = "".join(itertools.chain.from_iterable(texts))
        strict = "_" not in cells and cells.isascii()  # else float() may have been lenient
    except ValueError:
        strict = False
    if not strict:
        rows = []
        for fields, converted, line in zip(block, texts, lines):
            row = []
            for k, (field, text) in enumerate(zip(fields, converted)):
                # the number as float() reads it: spaces around it are is_number's and
                # float's (ASCII); str.strip would also drop control characters (\x1c...)
                field = field.strip()
                if allow and field.lower() in MISSING:
                    row.append(math.nan)
                    continue
                if not is_number(text):
                    if not field:
                        what = "is empty" + (_MISSING_HINT if missing else " (a missing value)")
                    elif missing and field.lower() in MISSING:
                        what = f"{field!r} is not a number" + _MISSING_HINT
                    else:
                        what = f"{field!r} is not a number" + _field_hint(field, delimiter, decimal)
                    raise CsvError(what, line, cols.features[k] + 1, cols.names[k])
                row.append(float(text))
            rows.append(row)
        floats = np.array(rows, dtype=np.float64).reshape(len(rows), len(cols.features))
    bad = np.isinf(floats) if allow else ~np.isfinite(floats)
    if bad.any():
        i, k = (int(v) for v in np.argwhere(bad)[0])
        field = block[i][k].strip()
        hint = _MISSING_HINT if missing and field.lower() in MISSING else ""
        raise CsvError(
            f"{field!r} is not a finite number{hint}",
            lines[i],
            cols.features[k] + 1,
            cols.names[k],
        )
    out.frombytes(floats.tobytes())


def _label_values(distinct: list[str], first_lines: list[int]) -> np.ndarray:
    """The distinct labels as one array: int64, float64 or strings (see parse_csv)."""
    if all(_INTEGER.fullmatch(s) for s in distinct):
        ints = [int(s) for s in distinct]
        if all(-(2**63) <= v < 2**63 for v in ints):
            return np.array(ints, dtype=np.int64)
        return np.array(distinct, dtype=np.str_)  # beyond int64: kept exactly, as text
    if not all(is_number(s) for s in distinct):
        return np.array(distinct, dtype=np.str_)
    values = np.array([float(s) for s in distinct], dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise CsvError(f"the label {distinct[i]!r} is not finite", first_lines[i])
    return values


def check_file(path: Any, max_bytes: int, *, streams: bool = False) -> str:
    """The path as a str, after checking that it is a regular, non-empty file of bounded size
    (with ``streams``, a pipe or device too: its reader bounds it)."""
    name: str = os.fspath(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {name!r}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {name!r}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{name!r} is a directory; expected a regular data file")
    if not stat.S_ISREG(st.st_mode):
        if streams:
            return name
        raise ValueError(f"{name!r} is not a regular file; expected a regular data file")
    if st.st_size > max_bytes:
        raise ValueError(
            f"{name!r} is {st.st_size} bytes, over the limit of {max_bytes} (max_bytes)"
        )
    if st.st_size == 0 and not streams:
        raise ValueError(f"{name!r} is empty")
    return name
