"""LabChart (ADInstruments) text exports: a block of ``Key=<TAB>value`` header lines, then one
tab-separated row per sample.

The published layout (LabChart help, "Data headers for reading text"; phys2bids' tutorial file)::

    Interval=       0.001 s
    ExcelDateTime=  4.3749464322749809e+04  10/11/19 11:08:37.485584
    TimeFormat=     StartOfBlock
    ChannelTitle=   ECG     Resp
    Range=          2.000 V 10.000 V
    UnitName=       mV      *
    432.000 0.5810  0.7649
    432.001 0.5809  0.7621

* the rate is ``1 / Interval`` (units ``hr``, ``min``, ``s``, ``ms``, ``µs``), the simplest rate whose
  interval the written digits round ("0.002777778 s" is 360 Hz, not 359.9999712);
* channel names from ``ChannelTitle`` (quotes removed); units from ``UnitName`` (``*``: none), else
  from the unit after each ``Range`` value (none where a Range has no unit: "1.1000 ");
* UTF-8, or LabChart's Windows code page (cp1252: "µV") when the file is not UTF-8;
* a first field more than the channels is the time (seconds from the block's start): it must step
  by the Interval, and its first value is kept as ``metadata["first_time_s"]``;
* ``ExcelDateTime=`` (an Excel serial date: days since 1899-12-30, the fraction the time of day; the
  text after it is the same in the exporting machine's locale and is not read) is the block's start:
  the record's ``start_time`` is it plus the first row's time (a naive local time, as LabChart wrote
  it); one that is not such a date is a warning and the record has no start time;
* an empty field or ``NaN`` is a gap; a decimal comma is read as a point; a last field starting with
  ``#`` is a comment, kept as an annotation on its row;
* several blocks (a second header further down), times of day or a value that is not a number are
  refused with their line.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import numpy as np

from biosig.errors import ReadError
from biosig.readers.csv_dialect import head_lines

log = logging.getLogger(__name__)

_KEY = re.compile(r"^\s*([A-Za-z]+)=(?:\t|$)")
_TIME_UNITS_S = {"hr": 3600.0, "min": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6}
FORMAT = "LabChart text export"
#: Day 0 of Excel's serial dates (1900 date system, as LabChart writes them).
EXCEL_EPOCH = datetime(1899, 12, 30)


def is_labchart_text(path) -> bool:
    """Whether the file starts with LabChart's ``Interval=<TAB>...`` header line."""
    try:
        lines = [ln for ln in head_lines(path, max_lines=2) if ln.strip()]
    except OSError:
        return False
    return bool(lines) and lines[0].startswith("Interval=\t")


def _number(text: str) -> float:
    text = text.strip().strip('"').replace(",", ".")
    return np.nan if text in ("", "NaN", "nan") else float(text)


def _interval_s(path, value: str) -> tuple[float, float]:
    """(interval in s, rate in Hz) of the ``Interval=`` value: the rate is the simplest one whose interval,
    written with the value's significant digits, is the value (``0.002777778 s`` is 360 Hz, not
    359.9999712), at least 2 digits fewer than the value has (``0.003 s`` stays 333.333... Hz)."""
    parts = value.replace(",", ".").split()
    try:
        scale = _TIME_UNITS_S[parts[1] if len(parts) > 1 else "s"]
        written = float(parts[0])
        interval = written * scale
    except (ValueError, IndexError, KeyError):
        interval = 0.0
    if not np.isfinite(interval) or interval <= 0:
        raise ReadError(path, f"{FORMAT}: 'Interval={value}' is not a sampling interval "
                              f"(a number and one of {', '.join(_TIME_UNITS_S)})")
    fs_hz = float(np.round(1.0 / interval, 9))
    digits = len(re.sub(r"[eE].*$", "", parts[0]).replace(".", "").lstrip("+-0"))
    for d in range(1, digits - 1):
        candidate = float(f"{1.0 / interval:.{d}g}")
        if float(f"{1.0 / candidate / scale:.{digits}g}") == written:
            return interval, candidate
    return interval, fs_hz


def excel_datetime(path, fields: list[str]) -> datetime | None:
    """The date-time of the ``ExcelDateTime=`` fields (serial days since :data:`EXCEL_EPOCH`, then the same
    as text); None with a warning when the serial is not a date between the years 1900 and 9999."""
    try:
        start = EXCEL_EPOCH + timedelta(days=float(fields[0].replace(",", ".")))
    except (ValueError, IndexError, OverflowError):   # not a number, none, NaN, or past the year 9999
        start = None
    if start is not None and start.year >= 1900:   # 0 or below: no date was written
        return start
    log.warning("%s: 'ExcelDateTime=%s' is not an Excel serial date (days since 1899-12-30): the record "
                "has no start time", path, "\t".join(fields))
    return None


def read_labchart_text(path, sample_rate_hz: float | None = None):
    """A :class:`biosig.Record` of the LabChart text export at ``path``; a stated ``sample_rate_hz`` is
    checked against its ``Interval`` (a warning when they differ; the file's Interval is read)."""
    from biosig.record import Annotations, Record

    try:
        header, rows, comments, first_row_line = _parse(path, "utf-8-sig")
    except UnicodeDecodeError:   # LabChart on Windows writes its ANSI code page: "µV" is byte B5
        header, rows, comments, first_row_line = _parse(path, "cp1252")
    if "Interval" not in header or "ChannelTitle" not in header:
        missing = " and ".join(k for k in ("Interval", "ChannelTitle") if k not in header)
        raise ReadError(path, f"{FORMAT} without its {missing}= line")
    interval, fs_hz = _interval_s(path, " ".join(header["Interval"]))
    names = tuple(n or f"ch{i + 1}" for i, n in enumerate(header["ChannelTitle"]))
    if not rows:
        raise ReadError(path, f"{FORMAT} without data rows")
    rows = [f[:len(names) + 1] if not "".join(f[len(names) + 1:]).strip() else f for f in rows]   # trailing tabs
    width = len(rows[0])
    if width not in (len(names), len(names) + 1):
        raise ReadError(path, f"{FORMAT}: line {first_row_line} has {width} field(s) for the {len(names)} "
                              f"channel(s) of ChannelTitle (with a time: {len(names) + 1})")
    values = np.full((len(rows), width), np.nan)
    for i, fields in enumerate(rows):
        if len(fields) > width and not "".join(fields[width:]).strip():
            fields = fields[:width]
        if len(fields) != width:
            raise ReadError(path, f"{FORMAT}: data row {i + 1} has {len(fields)} field(s), the first has {width}")
        try:
            values[i] = [_number(f) for f in fields]
        except ValueError:
            bad = next(f for f in fields if not _is_number(f))
            hint = " (times of day: export with time 'from start of block')" if ":" in bad else ""
            raise ReadError(path, f"{FORMAT}: data row {i + 1} holds {bad!r}, not a number{hint}") from None
    meta = {"source": str(path), "format": "labchart-txt", "first_time_s": 0.0}
    if width > len(names):   # a time column: it must step by the Interval
        t = values[:, 0]
        steps = np.diff(t)
        if np.isnan(t).any() or (len(t) > 1 and np.any(np.abs(steps - interval) > 0.5 * interval)):
            raise ReadError(path, f"{FORMAT}: its time column does not step by Interval={interval:g} s "
                                  f"throughout (a gap or a new block?)")
        meta["first_time_s"] = float(t[0])
        values = values[:, 1:]
    start = excel_datetime(path, header["ExcelDateTime"]) if "ExcelDateTime" in header else None
    if start is not None:   # the block's start; the first row is first_time_s after it
        start += timedelta(seconds=meta["first_time_s"])
    if sample_rate_hz is not None and abs(sample_rate_hz / fs_hz - 1) > 1e-6:
        log.warning("%s: the stated %g Hz (--sample-rate-hz) is not the %g Hz of its Interval= line; the "
                    "Interval is read, the stated rate is not used", path, sample_rate_hz, fs_hz)
    # the unit after each Range value ("2.000 mV"); a Range without one ("1.1000 ") gives none
    units = header.get("UnitName") or [r.split()[-1] if len(r.split()) > 1 else "" for r in header.get("Range", [])]
    units = tuple((units[i] if i < len(units) and units[i] != "*" else "") for i in range(len(names)))
    ann = None
    if comments:
        ann = Annotations(sample=np.array([i for i, _ in comments], dtype=np.int64),
                          symbol=tuple(text for _, text in comments), source="labchart")
    return Record(samples=values.T.astype(np.float32), fs_hz=fs_hz, channels=names, units=units,
                  annotations=ann, metadata=meta, start_time=start)


def _parse(path, encoding: str):
    """(header, rows, comments, line of the first row) of the export at ``path`` read as ``encoding``
    (UTF-8 strictly: a byte that is not raises UnicodeDecodeError; cp1252's 5 unused bytes read as U+FFFD)."""
    header: dict[str, list[str]] = {}
    rows: list[list[str]] = []
    comments: list[tuple[int, str]] = []
    first_row_line = 0
    with open(path, encoding=encoding, errors="strict" if encoding.startswith("utf") else "replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            key = _KEY.match(line)
            if key and rows:
                raise ReadError(path, f"{FORMAT} with several blocks (a second '{key.group(1)}=' header on line "
                                      f"{lineno}): export each block to a file of its own")
            if key:
                header[key.group(1)] = [f.strip().strip('"') for f in line.split("\t")[1:]]
                continue
            fields = line.split("\t")
            if fields[-1].lstrip().startswith("#"):
                comments.append((len(rows), fields.pop().strip()))
            rows.append(fields)
            first_row_line = first_row_line or lineno
    return header, rows, comments, first_row_line


def _is_number(field: str) -> bool:
    try:
        _number(field)
    except ValueError:
        return False
    return True
