"""The separator and decimal mark of a delimited text table, found from its first lines.

Spreadsheets set to a European locale export ``;``-separated tables with decimal commas
(``t_s;ecg`` / ``0,004;-0,125``), and many acquisition tools write tab-separated ones. Every
table reader of biosig (generic and spirometry tables, surrogate traces, camera PPG, the forecast
CSVs, probe's labels) reads with the dialect found here, so such an export is read as it is
instead of being refused as "not a table".

Rules, in this order:

* **separator**: of ``,``, ``;`` and tab, the one that splits the header and each of the first data
  lines into the same number of fields, the most if several do (a tie goes to the earlier one); where
  none is that steady, the one that splits the header into the most fields; a header with none of
  them is one column, separated by ``,``; a ``;`` or tab that splits every line steadily into numbers
  with decimal commas wins over the ``,`` inside them (``0,030;-0,145`` is two columns, not three);
* **one column of decimal commas**: lines without ``;`` or tab, each one number with one comma in it
  (``-0,145``), are one column with decimal commas under a header that names one column; without a
  header, where the lines say it (a ``-0`` before the comma, or digits after it that an integer would
  not be written with: ``0,030``, ``1,5e-3``); else they could as well be two columns of integers
  (``12,5``), and the table is refused (:func:`check_unambiguous`) with how to say which (a ``sep=``
  line), never guessed;
* **decimal comma**: with ``;`` or tab, when a field of the first data lines is a number written
  with a comma (``-0,125``, ``1,5e-3``). With ``,`` only in quoted fields (``"0,004","0,125"``, as
  spreadsheets set to a European locale export "CSV, comma-separated"), when a quoted field of the
  first data lines is such a number and cannot be an integer with a thousands comma (``"1,125"``
  could be 1125: it alone says nothing); a decimal point among the decimal commas further down is
  refused by the reader with its line (:mod:`.csv_numbers`). A table whose numbers are all integers
  reads the same either way.

**Encoding**: UTF-8 (a BOM left out); a head that is not valid UTF-8 is Windows' cp1252, as Excel
writes "CSV" there (``ECG [µV]``), read as such by :func:`head_lines` and by polars
(:meth:`CsvDialect.polars_options`), never a replacement character in a name or a unit.

**Excel's separator line**: a first line ``sep=;`` (``sep=,``, ``sep=<TAB>``; quoted, or padded with
the separator to the table's width, ``"sep=;";;``), which Excel writes when asked to and reads to
know the separator, states the separator; it is not a row of the table (:func:`head_lines` leaves it
out and :meth:`CsvDialect.polars_options` skips it).

Marker CSVs (``"Frame";"Timestamp";...``, :mod:`biosig.readers.markers`) have a parser of their
own and are recognised before this is asked.
"""
from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass

import numpy as np

from biosig.errors import ReadError

SEPARATORS = (",", ";", "\t")
HEAD_BYTES = 65536
DATA_LINES = 50
_COMMA_NUMBER = re.compile(r"^\s*\"?[-+]?\d*,\d+([eE][-+]?\d+)?\"?\s*$")
#: A quoted field of a comma-separated line holding a number with a decimal comma (``"-0,125"``).
_QUOTED_COMMA_NUMBER = re.compile(r'(?:^|,)\s*"\s*([-+]?\d*,\d+(?:[eE][-+]?\d+)?)\s*"\s*(?=,|$)')
#: An integer with thousands commas (``1,125``, ``-12,500,000``): a decimal comma or not?
THOUSANDS_COMMA_INTEGER = re.compile(r"^[-+]?[1-9]\d{0,2}(,\d{3})+$")
#: Excel's first line naming the separator: ``sep=;``, ``"sep=;"``, ``"sep=;";;`` (padded to the width).
SEP_LINE = re.compile(r'^(")?sep=([,;\t|])(?(1)")\2*$')
#: A line that is one number with one comma in it (``-0,145``, ``12,5``): decimal comma or separator?
_ONE_COMMA_LINE = re.compile(r"^\s*([-+]?\d+),(\d+(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class CsvDialect:
    """How one text table is written: its field separator and whether numbers use a decimal comma."""

    separator: str = ","
    decimal_comma: bool = False
    #: Lines before the header: 1 for Excel's ``sep=;`` line.
    skip_rows: int = 0
    #: Lines of one number with one comma each that say neither one column nor two (:func:`check_unambiguous`).
    ambiguous: bool = False
    #: ``"utf-8"``, or ``"cp1252"`` for a head that is not valid UTF-8 (:func:`decode`).
    encoding: str = "utf-8"

    def polars_options(self) -> dict:
        """Keyword arguments for ``polars.read_csv``."""
        options = {"separator": self.separator, "decimal_comma": self.decimal_comma, "skip_rows": self.skip_rows}
        return options if self.encoding == "utf-8" else dict(options, encoding=self.encoding)

    def describe(self) -> str:
        sep = {",": "comma", ";": "semicolon", "\t": "tab"}.get(self.separator, repr(self.separator))
        return f"{sep}-separated" + (", decimal comma" if self.decimal_comma else "")


def stated_separator(line: str) -> str | None:
    """The separator Excel's first line ``sep=;`` states (:data:`SEP_LINE`), None for another line."""
    m = SEP_LINE.match(line.lstrip("\ufeff").rstrip("\r\n"))
    return m.group(2) if m else None


def decode(head: bytes, complete: bool = True) -> tuple[str, str]:
    """(text, encoding) of a text file's first bytes ``head`` (``complete``: the whole file, else a cut
    character at its end is no error): UTF-8 with its BOM left out, or cp1252 where they are not UTF-8."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=complete).lstrip("\ufeff"), "utf-8"
    except UnicodeDecodeError:
        return head.decode("cp1252", errors="replace"), "cp1252"   # 5 bytes cp1252 leaves undefined


def head_encoding(path) -> str:
    """:func:`decode`'s encoding of the first :data:`HEAD_BYTES` of the file at ``path``."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
        return decode(head, complete=not fh.read(1))[1]


def head_lines(path, max_lines: int = DATA_LINES + 1, n_bytes: int = HEAD_BYTES) -> list[str]:
    """The first ``max_lines`` complete lines of a text file, read in 4 KiB blocks up to ``n_bytes``
    ([] when empty or binary; a first line longer than ``n_bytes`` is returned cut). Excel's separator
    line (``sep=;``) is not among them: the table starts after it."""
    head = b""
    with open(path, "rb") as fh:
        while len(head) < n_bytes and head.count(b"\n") < max_lines + 1:   # + 1: a sep= line left out
            block = fh.read(min(4096, n_bytes - len(head)))
            if not block:
                break
            head += block
        at_end = not fh.read(1)
    if b"\x00" in head:
        return []
    text = decode(head, complete=at_end)[0]   # UTF-8 (BOM from spreadsheet exports left out) or cp1252
    lines = text.splitlines()
    if lines and stated_separator(lines[0]):
        lines = lines[1:]
    if not at_end and not text.endswith(("\n", "\r")) and len(lines) > 1:
        lines = lines[:-1]                                              # the last one may be cut
    return lines[:max_lines]


def _comma_numbers(rows: list[list[str]]) -> bool:
    """Whether every field of ``rows`` is a number (or empty) read with a decimal comma, one at least
    written with one (``-0,145``)."""
    fields = [f.strip().strip('"').strip() for row in rows for f in row]
    return any(_COMMA_NUMBER.match(f) for f in fields) and all(
        not f or _COMMA_NUMBER.match(f) or re.fullmatch(r"[-+]?\d+", f) for f in fields)


def one_comma_column(lines: list[str]) -> bool | None:
    """For lines (header first, if any) without ``;`` or tab whose data lines each hold one number with
    one comma (:data:`_ONE_COMMA_LINE`): True when they are one column of decimal commas (a header of one
    name; or a ``-0,`` or decimal digits no integer is written with, ``0,030``, ``1,5e-3``), None when
    the lines cannot tell (``12,5``: 12.5, or 12 and 5?), False when they are not such lines."""
    lines = lines[:DATA_LINES + 1]
    if not lines or any(";" in ln or "\t" in ln for ln in lines):
        return False
    found = [_ONE_COMMA_LINE.match(ln) for ln in lines]
    if found[0] is None:   # a header: one name and no comma is one column, names split by commas two
        return len(found) > 1 and all(found[1:]) and "," not in lines[0]
    if not all(found):
        return False
    decimal = any(m.group(1) in ("-0", "+0") or (len(m.group(2)) > 1 and m.group(2).startswith("0"))
                  or "e" in m.group(2).lower() for m in found)
    return True if decimal else None


def _separator(lines: list[str]) -> str:
    """The separator of a table whose first lines are ``lines`` (header first)."""
    def fields(sep: str) -> list[int]:
        return [len(row) for row in csv.reader(lines[:DATA_LINES + 1], delimiter=sep)]

    counts = {sep: fields(sep) for sep in SEPARATORS}
    # a separator that splits the header and every data line into the same number (> 1) of fields
    # wins ("t_s<TAB>MLII, mV" is tab-separated although its header holds a comma)
    steady = [sep for sep in SEPARATORS if counts[sep][0] > 1 and len(set(counts[sep])) == 1]
    for sep in (";", "\t"):   # "0,030;-0,145": the commas are inside the numbers ";" separates
        if sep in steady and _comma_numbers(list(csv.reader(lines[:DATA_LINES + 1], delimiter=sep))):
            return sep
    if one_comma_column(lines):   # "-0,145": one column of decimal commas, not two of integers
        return ";"
    pool = steady or list(SEPARATORS)
    best = max(pool, key=lambda sep: (counts[sep][0], -SEPARATORS.index(sep)))
    return best if counts[best][0] > 1 else ","


def _first_line(path) -> str:
    with open(path, "rb") as fh:
        return decode(fh.readline(256), complete=False)[0]


def sniff(path) -> CsvDialect:
    """The dialect of the table at ``path`` (the default, comma and decimal point, when it is empty)."""
    stated = stated_separator(_first_line(path))
    skip = int(stated is not None)
    encoding = head_encoding(path)
    lines = [ln for ln in head_lines(path) if ln.strip()]
    if not lines:
        return CsvDialect(stated or ",", False, skip, encoding=encoding)
    sep = stated or _separator(lines)
    if sep == "," and not stated and one_comma_column(lines) is None:
        return CsvDialect(",", False, skip, ambiguous=True, encoding=encoding)
    if sep == ",":   # a decimal comma only in quoted fields, and only where it cannot be a thousands comma
        return CsvDialect(",", any(not THOUSANDS_COMMA_INTEGER.match(number)
                                   for line in lines[1:DATA_LINES + 1]
                                   for number in _QUOTED_COMMA_NUMBER.findall(line)), skip, encoding=encoding)
    decimal_comma = any(_COMMA_NUMBER.match(field)
                        for row in csv.reader(lines[1:DATA_LINES + 1], delimiter=sep) for field in row)
    return CsvDialect(sep, decimal_comma, skip, encoding=encoding)


def check_unambiguous(path, dialect: CsvDialect) -> None:
    """A :class:`ReadError` for a table whose lines say neither one column of decimal commas nor two
    columns (:attr:`CsvDialect.ambiguous`), with how to say which."""
    if dialect.ambiguous:
        raise ReadError(path, "every line is one number with one comma ('12,5'): one column with a decimal "
                              "comma (12.5) or two columns (12 and 5)? Say which with a first line 'sep=;' "
                              "(one column, decimal comma) or 'sep=,' (two columns)")


def header_columns(path) -> list[str]:
    """The column names of the table's header line, quotes and surrounding blanks removed."""
    lines = [ln for ln in head_lines(path) if ln.strip()]
    if not lines:
        return []
    sep = stated_separator(_first_line(path)) or _separator(lines)
    return [c.strip().strip('"').strip() for c in next(csv.reader([lines[0]], delimiter=sep), [])]


_LINE_BLOCK_BYTES = 1 << 18
_BLANK_BYTES = np.frombuffer(b" \t\n\r\x0b\x0c", dtype=np.uint8)   # what bytes.strip() strips


def short_lines(path, sep: int, n_cols: int, first: int):
    """(line number, fields) of each line from line ``first`` on (lines split at ``\\n``, numbered from 1)
    that is not blank and has fewer than ``n_cols`` fields separated by byte ``sep``. Read in 256 KiB blocks
    and counted with NumPy: the file's lines as Python bytes took 95 MiB for a 1 h 250 Hz table."""
    lineno, carry = 1, b""
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_LINE_BLOCK_BYTES)
            text = carry + block
            if not text:
                return
            cut = len(text) if not block else text.rfind(b"\n") + 1   # complete lines; all at the end
            if cut == 0:
                carry = text
                continue
            a = np.frombuffer(text, dtype=np.uint8, count=cut)
            ends = np.flatnonzero(a == 10)
            if not block and (not len(ends) or ends[-1] != cut - 1):
                ends = np.append(ends, cut)   # the last line, without its \n
            starts = np.concatenate([[0], ends[:-1] + 1])
            seps, filled = np.zeros(cut + 1, dtype=np.int32), np.zeros(cut + 1, dtype=np.int32)
            np.cumsum(a == sep, out=seps[1:])   # separators before each byte
            np.cumsum(~np.isin(a, _BLANK_BYTES), out=filled[1:])   # bytes that are not blank before each
            fields = seps[ends] - seps[starts] + 1
            bad = (filled[ends] > filled[starts]) & (fields < n_cols) & (lineno + np.arange(len(ends)) >= first)
            for i in np.flatnonzero(bad):
                yield lineno + int(i), int(fields[i])
            lineno += len(ends)
            carry = text[cut:]
            if not block:
                return
