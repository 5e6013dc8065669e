"""Text columns of a CSV file, coded as they are read (the labels, and the text columns that
``portable-net train --categorical`` one-hot encodes): each distinct value kept once, with the
line it first appears on, and each row a code of 1, 2 or 4 bytes, so that a column of text
takes memory of the order of its rows, not of its characters, and the file is read once.

A text column may be bounded (``most`` distinct values): past the bound it is an error, or,
for a column that may turn out to hold numbers (``--categorical auto``), the column is read
as numbers from there on (its values so far converted), as the reader converts features: a
column of numbers with many distinct values (a measurement) costs no more than one read as
numbers from the start.
"""

from __future__ import annotations

import array
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

__all__ = ["Coded", "TextColumn", "TooMany", "counts_the_rows"]

#: converts a block of one column's fields (and their lines) to float64, appended to ``out``
Convert = Callable[[list[str], list[int], "array.array[float]"], None]


class Coded:
    """A column's values as they are read: each distinct value once (in the order they
    appear, with the line each first appears on), each row its value's code."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.codes = array.array("B")  # widened as distinct values grow
        self.first_lines: list[int] = []

    def add(self, value: str, line: int) -> None:
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.index)
            self.first_lines.append(line)
            if code == 1 << (8 * self.codes.itemsize):
                self.codes = array.array("H" if self.codes.itemsize == 1 else "I", self.codes)
        self.codes.append(code)

    @property
    def values(self) -> list[str]:
        """The distinct values, in the order they first appear."""
        return list(self.index)

    def array(self) -> np.ndarray:
        """Each row's code (an unsigned integer array, a view of the codes read)."""
        return np.frombuffer(self.codes, dtype=f"u{self.codes.itemsize}")


class TooMany(ValueError):
    """A text column (0-based ``column``, named ``name``) with more distinct values than its
    bound ``most``: ``line`` is where the value past the bound is."""

    def __init__(self, most: int, line: int, column: int, name: str) -> None:
        super().__init__(f"has more than {most:,} distinct values")
        self.most, self.line, self.column, self.name = most, line, column, name


class TextColumn:
    """One text column of a CSV file (0-based ``column``, named ``name``): coded as it is
    read, a block of rows at a time, at most ``most`` distinct values (None: no bound);
    ``numbers``: the column may turn out to hold numbers (then :attr:`numbers` holds them, one
    per row, and :attr:`coded` is None)."""

    def __init__(self, column: int, name: str, most: int | None, numbers: bool,
                 is_number: Callable[[str], bool]) -> None:  # fmt: skip
        self.column, self.name, self.most, self.may_be_numbers = column, name, most, numbers
        self.is_number = is_number  # a field the reader reads as a number (or as missing)
        self.coded: Coded | None = Coded()
        self.numbers: array.array[float] | None = None

    def add(self, fields: Sequence[str], lines: list[int], convert: Convert) -> None:
        """A block of rows' fields (stripped), at ``lines``."""
        if self.coded is None:
            convert(list(fields), lines, cast("array.array[float]", self.numbers))
            return
        coded = self.coded
        # the block's distinct values in the order they appear, then each row's code
        values, first, inverse = np.unique(np.asarray(fields, dtype=str), return_index=True,
                                           return_inverse=True)  # fmt: skip
        codes = np.empty(values.shape[0], dtype=np.int64)
        distinct = values.tolist()  # Python's str
        for k in np.argsort(first, kind="stable").tolist():
            code = coded.index.get(distinct[k])
            if code is None:
                code = coded.index[distinct[k]] = len(coded.index)
                coded.first_lines.append(lines[int(first[k])])
            codes[k] = code
        width = 1 if len(coded.index) <= 256 else 2 if len(coded.index) <= 65536 else 4
        if width > coded.codes.itemsize:
            coded.codes = array.array({2: "H", 4: "I"}[width], coded.codes)
        coded.codes.frombytes(codes[inverse.reshape(-1)].astype(f"u{width}").tobytes())
        if self.most is not None and len(coded.index) > self.most:
            line = coded.first_lines[self.most]  # the first value past the bound
            if not self.may_be_numbers or not all(map(self.is_number, coded.index)):
                raise TooMany(self.most, line, self.column, self.name)
            self._to_numbers(convert)

    def finish(self, convert: Convert) -> None:
        """The end of the file: a column that may be numbers and holds only numbers (or
        missing values) becomes numbers."""
        if self.coded is not None and self.may_be_numbers and all(map(self.is_number,
                                                                     self.coded.index)):  # fmt: skip
            self._to_numbers(convert)

    def _to_numbers(self, convert: Convert) -> None:
        """The values so far converted (each distinct value once, at the line it first
        appears on), the column read as numbers from here on."""
        coded = self.coded
        assert coded is not None
        table: array.array[float] = array.array("d")
        convert(coded.values, coded.first_lines, table)
        self.numbers = array.array("d", np.frombuffer(table, dtype=np.float64)[coded.array()])
        self.coded = None

    def result(self) -> Any:
        """The numbers of the rows (float64), or the column coded (:class:`Coded`)."""
        if self.numbers is not None:
            return np.frombuffer(self.numbers, dtype=np.float64)
        return self.coded


def counts_the_rows(column: np.ndarray) -> bool:
    """Whether a column counts the rows, k, k + 1, k + 2, ... from an integer k >= 0
    (pandas' index of a DataFrame, or of a slice of one)."""
    start = float(column[0]) if column.size else -1.0
    return bool(
        start >= 0
        and start.is_integer()
        and np.array_equal(column, start + np.arange(column.shape[0], dtype=np.float64))
    )
