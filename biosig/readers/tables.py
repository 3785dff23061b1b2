"""Tabular signals: spirometry volume-time CSV and generic CSV/Parquet with a time column.

Conventions shared with :mod:`biosig.writers`:

- a ``t_s`` column holds sample times in seconds; every other column is a channel. Other
  exports are read as well when their one time column names its unit (:data:`TIME_COLUMN_RE`:
  ``time_s``, ``time (s)``, ``t_ms``, ``time_ms``, ``Time [ms]``, ...; milliseconds are
  converted to seconds). A time column without a unit (:data:`BARE_TIME_RE`: ``time``, ``Time``,
  ``timestamp``, ``times``, ``t``) is read when its values say the unit beyond doubt
  (:func:`bare_time_unit`): a stated rate (``sample_rate_hz``) that one unit gives, Unix epoch
  milliseconds, or steps of at most 10 ms read as seconds (100 Hz or more; as milliseconds they
  would be 100 kHz or more); otherwise it is refused with a message naming both readings and how to
  say which (a 4 ms step: 0.25 Hz in seconds or 250 Hz in milliseconds). Never read as a channel;
- a time column of ISO-8601 date-times (or a Parquet timestamp column) is read as seconds from its
  first row, which is the record's ``start_time``; a bare ``time`` beside a named one (``t_s``) is a
  second clock, dropped when it agrees and refused when not; a stated rate that the named time
  column's steps do not give is a warning (:mod:`.table_times`);
- a CSV column named ``"MLII [mV]"`` is channel ``MLII`` in unit ``mV``;
- Parquet files written by biosig carry a ``biosig`` JSON entry in the schema metadata with
  ``fs_hz``, ``units``, ``modality``, ``start_time`` and ``annotations``, which the reader restores;
  a CSV's annotations are read from the sidecar ``NAME.annotations.csv`` beside it
  (:mod:`.annotation_files`);
- empty fields (and ``NaN``, ``NA``, ``N/A``, ``#N/A``, ``-``) are gaps and stay NaN; numbers in quoted
  fields with a decimal comma or a thousands separator are read when they say their value beyond doubt
  (:mod:`.csv_numbers`), else refused with their line;
- blank lines at the end of a CSV are not rows; a delimiter at the end of every line (an empty last
  column, unnamed) is not a channel.

The spirometry CSV (``t_s,volume_ml``, e.g. UK Biobank field 3066) is a generic table whose
``volume_ml`` column becomes channel ``volume`` in ``mL`` with modality ``spiro``. A flow-time
spirogram (``t_s,flow_l_s`` or one ``flow [L/s]`` column, as most spirometers export; also
``flow_ml_s``, ``flow_lps``, ``flow_l_min`` and ``flow [mL/s]`` / ``[L/min]``) is
integrated to that same volume channel (:func:`biosig.spirometry.volume_from_flow`: trapezoids,
volume 0 at the first sample) so that every consumer sees one form; ``metadata["spirogram"]``
says ``"flow-time"``.
"""
from __future__ import annotations

import json
import logging
import pathlib
import re
from datetime import datetime

import numpy as np

from biosig.arguments import file_path
from biosig.errors import BiosigError, ReadError
from biosig.interrupts import polars_io, polars_reader
from biosig.readers.csv_dialect import head_lines, header_columns, short_lines, sniff
from biosig.readers.csv_numbers import NULL_VALUES, parse_numbers
from biosig.readers.table_time_units import (BARE_SECONDS_MAX_STEP, BARE_TIME_RE, EPOCH_MS_RANGE,  # noqa: F401
                                              TIME_COLUMN, TIME_COLUMN_HELP, TIME_COLUMN_RE, _time_column,
                                              _time_unit, bare_time_columns, bare_time_unit, exact_rate_hz,
                                              is_table, time_columns, time_units_per_s)
from biosig.readers.table_times import (PARQUET_EXTENSIONS, check_stated_rate, datetime_seconds,  # noqa: F401
                                         head_values, looks_like_datetimes, looks_like_times_of_day,
                                         second_time_column, table_columns)
from biosig.readers.unnamed_columns import tidy_header
from biosig.readers.lib_paths import library_path
from biosig.record import Record

log = logging.getLogger(__name__)

PARQUET_META_KEY = b"biosig"
_UNIT_RE = re.compile(r"^(.*\S)\s*\[([^\[\]]*)\]$")
#: ``ECG (mV)``: a unit in parentheses, only for these units (``Resp (chest)`` is a channel name).
_PAREN_UNIT_RE = re.compile(r"^(.*\S)\s*\((\s*(?:[mµu]?V|mm|cm|m|mL|ml|L|L/s|mL/s|ml/s|mmHg|cmH2O|kPa|Pa|%|"
                            r"bpm|/min|Hz|a\.u\.|au|g|mg|m/s\^?2|deg|°C|degC)\s*)\)$")
#: Columns whose name carries a unit suffix that names the modality (``volume_ml``).
_SPIRO_COLUMNS = {"volume_ml": ("volume", "mL"), "volume_l": ("volume", "L"), "flow_l_s": ("flow", "L/s"),
                  "flow_lps": ("flow", "L/s"), "flow_ml_s": ("flow", "mL/s"), "flow_l_min": ("flow", "L/min")}


_SPIRO_NUMBERED_RE = re.compile(r"^(" + "|".join(_SPIRO_COLUMNS) + r")_(\d+)$", re.IGNORECASE)


def _spiro_column(col: str) -> tuple[str, str] | None:
    """(channel, unit) of a spirometry column (``volume_ml`` -> volume in mL; a second blow's
    ``volume_ml_2`` -> volume_2 in mL: it read as a channel ``volume_ml_2`` without a unit), else None."""
    known = _SPIRO_COLUMNS.get(col.lower())
    if known is not None:
        return known
    m = _SPIRO_NUMBERED_RE.match(col)
    if m is None:
        return None
    name, unit = _SPIRO_COLUMNS[m.group(1).lower()]
    return f"{name}_{m.group(2)}", unit


def first_line(path) -> str:
    """The first line of a text file ('' when empty or binary)."""
    lines = head_lines(path, max_lines=1)
    return lines[0] if lines else ""


def csv_columns(path) -> list[str]:
    """Column names of the header line, with the table's own separator (:mod:`.csv_dialect`)."""
    return header_columns(path)


def is_spirometry_csv(path) -> bool:
    cols = csv_columns(path)
    lower = [c.lower() for c in cols]
    return len(cols) >= 2 and is_table(cols[:1]) and bool(set(_SPIRO_COLUMNS) & set(lower))


def split_unit(name: str) -> tuple[str, str]:
    """``MLII [mV]`` and ``ECG (mV)`` -> (name, unit); ``Resp (chest)`` keeps its parentheses."""
    m = _UNIT_RE.match(name) or _PAREN_UNIT_RE.match(name)
    return (m.group(1), m.group(2).strip()) if m else (name, "")


def _frame_to_record(path, df, *, meta: dict, modality: str = "", units=None,
                     sample_rate_hz: float | None = None, decimal_comma: bool = False, csv: bool = False,
                     first_line: int = 2) -> Record:
    import polars as pl

    if df.height == 0:
        raise ReadError(path, "no data rows (empty table)")
    tcol = _time_column(path, df.columns)
    if df.schema[tcol] == pl.String:   # numbers polars left as text (a quoted decimal comma): read here
        number, bad, _ = parse_numbers(df[tcol], decimal_comma, csv)
        df = df if bad else df.with_columns(number)
    # a bare "time" beside a time column named with its unit is a second clock, never a channel
    extra = [c for c in bare_time_columns(df.columns) if c != tcol]
    per_s = None   # units per second of the time column
    renamed, found_units = {}, []
    for col in df.columns:
        if col == tcol or col in extra:
            continue
        dtype = df.schema[col]
        if dtype == pl.String:   # only NaN / inf, quoted decimal commas, thousands separators, "-" gaps
            number, bad, _ = parse_numbers(df[col], decimal_comma, csv)
            if not bad:
                df, dtype = df.with_columns(number), pl.Float64
        if not (dtype.is_numeric() or dtype == pl.Null):
            raise ReadError(path, _not_numeric(path, df, col, decimal_comma, csv, first_line))
        # units stated apart (biosig's own Parquet): the column name is the channel name, brackets and all
        name, unit = (col, "") if units else _spiro_column(col) or split_unit(col)
        renamed[col] = name
        found_units.append(unit)
    if set(_SPIRO_COLUMNS) & {c.lower() for c in df.columns} and not modality:
        modality = "spiro"
    first_time_s, start, rate_told_unit = None, None, False
    dated = datetime_seconds(path, tcol, df[tcol])   # ISO-8601 date-times: seconds from the first
    if dated is not None:
        seconds, start = dated
        first_time_s = 0.0
        meta.update(time_unit="datetime")
        df = df.with_columns(pl.Series(tcol, seconds)).rename({tcol: TIME_COLUMN} if tcol != TIME_COLUMN else {})
    else:
        if not df.schema[tcol].is_numeric():
            raise ReadError(path, _not_numeric(path, df, tcol, decimal_comma, csv, first_line))
        if df[tcol].null_count():
            first = int(df[tcol].is_null().arg_true()[0])
            where = f"line {first + first_line}" if pathlib.Path(str(path)).suffix.lower() == ".csv" else f"row {first + 1}"
            raise ReadError(path, f"column {tcol!r} has {df[tcol].null_count()} empty value(s), the first on "
                                  f"{where} (a time is needed on every row)")
        if not TIME_COLUMN_RE.match(tcol):   # no unit in the name: from the values, or refused
            unit, why = bare_time_unit(path, tcol, df[tcol].cast(pl.Float64).to_numpy(), sample_rate_hz)
            per_s = 1.0 if unit == "s" else 1000.0
            meta.update(time_unit=unit, time_unit_from=why)
            rate_told_unit = why == "sample_rate_hz"
        if tcol != TIME_COLUMN:   # another time column: in seconds, as t_s
            per_s = per_s or time_units_per_s(tcol)
            # from the first row before dividing: epoch milliseconds (1.7e12) / 1000 lose the step's last
            # digits (250.003 Hz for 4 ms steps)
            t0 = df[tcol].cast(pl.Float64)[0]
            first_time_s = t0 / per_s
            df = df.with_columns((pl.col(tcol).cast(pl.Float64) - t0) / per_s).rename({tcol: TIME_COLUMN})
    t_s = df[TIME_COLUMN].cast(pl.Float64).to_numpy()
    if not rate_told_unit:   # the times are the file's own: a stated rate is checked against them
        check_stated_rate(path, tcol, t_s, sample_rate_hz)
    for col in extra:
        start = second_time_column(path, df, col, tcol, t_s) or start
    df = df.drop(extra)
    df = df.rename(renamed).with_columns(pl.exclude(TIME_COLUMN).cast(pl.Float64))
    fs_hz = meta.pop("fs_hz", None) or exact_rate_hz(t_s)   # None: from_polars takes the times' (nominal) rate
    del t_s
    # the record's times count from its first row; what the table's clock said there is kept
    meta["first_time_s"] = float(df[TIME_COLUMN][0]) if first_time_s is None else float(first_time_s)
    try:
        rec = _record_from_frame(df, fs_hz=fs_hz, modality=modality, units=units or found_units,
                                 metadata=meta, start_time=start)
    except BiosigError as exc:
        raise ReadError(path, str(exc)) from None
    return rec


def _record_from_frame(df, *, fs_hz, modality: str, units, metadata: dict, start_time) -> Record:
    """What :meth:`Record.from_polars` makes of ``df`` (its ``t_s`` column and float channels), without
    its float64 (C, T) stack beside the float32 samples: the rate and the times come from
    ``from_polars`` on the time column and one channel, and each channel is rounded into the float32
    samples in turn (the same rounding, once). A 1 h 250 Hz table of 3 channels held 50 MiB more."""
    import polars as pl
    chans = [c for c in df.columns if c != TIME_COLUMN]
    if not chans:   # from_polars says what is missing
        return Record.from_polars(df, fs_hz=fs_hz, modality=modality, units=units, metadata=metadata,
                                  start_time=start_time)
    clock = Record.from_polars(df.select(TIME_COLUMN, pl.col(chans[0]).alias("x")), fs_hz=fs_hz, modality="other")
    samples = np.empty((len(chans), clock.n_samples), dtype=np.float32)
    for i, col in enumerate(chans):
        samples[i] = df[col].cast(pl.Float64).to_numpy()
    return Record(samples=samples, fs_hz=clock.fs_hz, channels=tuple(chans), units=tuple(units), modality=modality,
                  times_s=clock.times_s, metadata=metadata, start_time=start_time)


def times_readable(path, rate_stated: bool = False) -> bool:
    """Whether the table at ``path`` (CSV or Parquet with one time column: :func:`is_table`) has times
    biosig reads: a time column named with its unit, ISO-8601 date-times (:mod:`.table_times`), or
    numbers under a name without a unit whose first values tell it (:func:`bare_time_unit`; with
    ``rate_stated``, numbers suffice: the rate will tell). Folders' tables for which this is False
    are skipped with a warning (:mod:`.discover`), CSV and Parquet alike."""
    cols = table_columns(path)
    if not is_table(cols):
        return False
    if time_columns(cols):
        return True
    values = head_values(path, bare_time_columns(cols)[0])
    if values and all(isinstance(v, datetime) for v in values):   # a Parquet timestamp column
        return True
    if values and all(isinstance(v, str) for v in values) and looks_like_datetimes(values):
        return True
    try:
        t = np.array([float(v) for v in values], dtype=np.float64)
    except (ValueError, TypeError):
        return False
    if rate_stated:
        return len(t) >= 2
    return bool(_time_unit("", t)[0])


def _not_numeric(path, df, col: str, decimal_comma: bool = False, csv: bool = False, first_line: int = 2) -> str:
    """Why column ``col`` is not numeric, with the first value that is not a number and where it
    is (the line of a CSV, ``first_line`` that of its first data row: 2, or 3 after Excel's ``sep=`` line;
    the row of a Parquet table)."""
    import polars as pl
    text = df[col].cast(pl.String)
    _, bad, why = parse_numbers(text, decimal_comma, csv)
    if not bad:
        return f"column {col!r} is not numeric (type {df.schema[col]})"
    i = bad[0]
    where = f"line {i + first_line}" if pathlib.Path(str(path)).suffix.lower() == ".csv" else f"row {i + 1}"
    more = f" ({len(bad) - 1} more value(s) like it)" if len(bad) > 1 else ""
    if looks_like_times_of_day(text.drop_nulls().head(1).to_list()):
        return (f"column {col!r} holds times of day without a date ({where}: {text[i]!r}); write the time as "
                f"numbers with their unit ({TIME_COLUMN_HELP}) or as ISO-8601 date-times "
                "(2024-03-01T10:00:00.004)")
    if csv and bad == [0] and len(text) > 1 and not why:   # only line 2 holds text
        why = f"a row of units under the header? name each column with its unit ('{col} [mV]') and remove the row"
    return f"column {col!r} is not numeric: {where} holds {text[i]!r}{more}" + (f" ({why})" if why else "")


@polars_reader
def read_csv(path, sample_rate_hz: float | None = None) -> Record:
    """Read a CSV with a time column (generic table or spirometry volume-time); ``sample_rate_hz``
    (stated by the user) picks the unit of a time column whose name has none (:func:`bare_time_unit`)."""
    import polars as pl

    path = file_path(path)
    if not path.is_file():
        raise ReadError(path, "is a folder, not a record" if path.is_dir() else "no such file")
    if path.stat().st_size == 0 or not first_line(path).strip():
        raise ReadError(path, f"empty file: expected a header line with a time column ({TIME_COLUMN_HELP})")
    dialect = sniff(path)
    options = dict(infer_schema_length=10_000, null_values=list(NULL_VALUES), **dialect.polars_options())
    try:
        with library_path(path) as source:   # x\xff.csv, br[1].csv: a path Polars opens as this file
            try:
                df = polars_io(pl.read_csv, source, **options)
            except Exception:   # a delimiter ending every data line but not the header: an empty last field
                if not _trailing_delimiter(path, dialect.separator):
                    raise
                df = polars_io(pl.read_csv, source, truncate_ragged_lines=True, **options)
    except Exception as exc:  # polars raises ComputeError / NoDataError on malformed CSV
        raise ReadError(path, f"malformed CSV ({dialect.describe()}: "
                              f"{(str(exc).strip().splitlines() or ['no details'])[0]})") from None
    df = _without_blank_ends(df)
    _check_row_lengths(path, df.width, dialect.separator, skip_rows=dialect.skip_rows)
    df = tidy_header(path, df)   # " ecg" -> "ecg"; pandas' unnamed row index left out (:mod:`.unnamed_columns`)
    fmt = "spirometry-csv" if is_spirometry_csv(path) else "csv"
    rec = _frame_to_record(path, df, meta={"source": str(path), "format": fmt}, sample_rate_hz=sample_rate_hz,
                           decimal_comma=dialect.decimal_comma, csv=True, first_line=2 + dialect.skip_rows)
    rec = _flow_time_to_volume(path, rec) if is_flow_time(rec) else rec
    from biosig.readers.annotation_files import read_sidecar
    ann = read_sidecar(path, rec.n_samples)   # NAME.annotations.csv, as biosig.writers writes them
    return rec if ann is None else rec.replace(annotations=ann)


def _blank(column):
    """Whether each value of ``column`` is empty (null, or text of blanks only). A column that is not text
    is empty only where null: its values written as text are never blank, and casting a long numeric
    column to text held a string per value (25 MiB for a 1 h 250 Hz table)."""
    import polars as pl
    if column.dtype != pl.String:
        return column.is_null()
    return column.is_null() | (column.str.strip_chars() == "")


def _without_blank_ends(df):
    """``df`` without the rows of blank lines at the end of the file (polars reads them as rows of
    nulls) and without an unnamed last column that is empty throughout (a delimiter ending every line,
    the header's too)."""
    import polars as pl
    if df.width > 1 and not df.columns[-1].strip() and bool(_blank(df[df.columns[-1]]).all()):
        df = df.drop(df.columns[-1])
    if not df.width or not len(df):
        return df
    if not all(bool(_blank(df[c].tail(1))[0]) for c in df.columns):   # the last row holds a value: no blank end
        return df
    filled = (~pl.DataFrame([_blank(df[c]) for c in df.columns]).select(pl.all_horizontal(pl.all())).to_series())
    last = filled.arg_true()
    return df.head(int(last[-1]) + 1 if len(last) else 0)


def _trailing_delimiter(path: pathlib.Path, separator: str) -> bool:
    """Whether every data line of the CSV at ``path`` has one field more than its header, and that
    field empty (a delimiter at the end of each data line): nothing is lost by leaving it out."""
    import csv
    lines = [ln for ln in path.read_text(encoding="utf-8-sig", errors="replace").splitlines() if ln.strip()]
    rows = list(csv.reader(lines, delimiter=separator))
    return len(rows) > 1 and all(len(r) == len(rows[0]) + 1 and not r[-1].strip() for r in rows[1:])


def is_flow_time(rec: Record) -> bool:
    """One channel named ``flow`` in L/s, mL/s or L/min: a flow-time spirogram."""
    from biosig.spirometry import FLOW_UNITS
    return (rec.n_channels == 1 and rec.channels[0].strip().lower() == "flow"
            and rec.units[0].strip().lower() in FLOW_UNITS and rec.times_s is None)


def _flow_time_to_volume(path, rec: Record) -> Record:
    from biosig.spirometry_units import convert_volume_ml   # unchecked: the L/min check is the indices' to make

    try:
        v = convert_volume_ml(rec.samples[0].astype(np.float64), rec.units[0], rec.fs_hz, rec.channels[0])
    except BiosigError as exc:
        raise ReadError(path, str(exc)) from None
    return rec.replace(samples=v[None].astype(np.float32), channels=("volume",), units=("mL",),
                       modality="spiro", metadata=dict(rec.metadata, format="spirometry-csv",
                                                       spirogram="flow-time", flow_unit=rec.units[0]))


def _check_row_lengths(path: pathlib.Path, n_cols: int, separator: str = ",", header: bool = True,
                       skip_rows: int = 0) -> None:
    """Refuse rows with fewer fields than the header (without one: than the first line; polars
    would fill them with nulls).

    A short row is usually a truncated or hand-damaged file; an intended gap is written as an
    empty field (``0.5,,1.2``), which stays a NaN gap.
    """
    sep = separator.encode()[0]
    first = (2 if header else 1) + skip_rows   # the first line checked (1-based); a header line is not a row
    which = "the header" if header else "the first"
    for lineno, fields in short_lines(path, sep, n_cols, first):
        raise ReadError(path, f"line {lineno} has {fields} field(s), {which} has "
                              f"{n_cols} (truncated or malformed file? write gaps as empty fields)")


@polars_reader
def read_parquet(path, sample_rate_hz: float | None = None) -> Record:
    """Read a Parquet table with a ``t_s`` column; restores biosig's own schema metadata.
    ``sample_rate_hz`` as for :func:`read_csv`."""
    import polars as pl
    import pyarrow.parquet as pq

    path = file_path(path)
    try:
        with library_path(path) as source:
            schema_meta = pq.read_schema(source).metadata or {}
            df = polars_io(pl.read_parquet, source)
    except Exception as exc:
        raise ReadError(path, f"not a readable Parquet file ({(str(exc).strip().splitlines() or ['no details'])[0]})") from None
    meta: dict = {"source": str(path), "format": "parquet"}
    modality, units, start, ann = "", None, None, None
    if PARQUET_META_KEY in schema_meta:
        try:
            info = json.loads(schema_meta[PARQUET_META_KEY])
        except ValueError:
            raise ReadError(path, "corrupt biosig metadata in the Parquet schema") from None
        modality = info.get("modality", "")
        units = info.get("units")
        if info.get("fs_hz"):
            meta["fs_hz"] = float(info["fs_hz"])
        if info.get("start_time"):
            start = datetime.fromisoformat(info["start_time"])
        meta.update(info.get("metadata", {}))
        ann = info.get("annotations")
    rec = _frame_to_record(path, df, meta=meta, modality=modality, units=units, sample_rate_hz=sample_rate_hz)
    if ann is not None:
        from biosig.readers.annotation_files import annotations_from_json
        rec = rec.replace(annotations=annotations_from_json(path, ann, rec.n_samples))
    return rec.replace(start_time=start) if start else rec
