"""1-D respiratory surrogate traces as clinics record them: Varian RPM ``.vxp`` and unit-labelled CSV.

**Varian RPM VXP 1.5/1.6** (the public layout, e.g. G. C. Sharp's ``readrpm.m``): a ``[Header]``
block of ``key=value`` lines (``CRC``, ``Version``, ``Data_layout=amplitude,phase,timestamp,
validflag,ttlin,mark,ttlout``, ``Patient_ID``, ``Date``, ``Total_study_time``,
``Samples_per_second``, ``Scale_factor``), then ``[Data]`` and one comma-separated row per sample:
amplitude, phase, timestamp (ms), valid flag, TTL in, mark (empty, ``Z`` or ``P``) and TTL out
(the beam; VXP 1.6 only).  The amplitude is centimetres times ``Scale_factor`` (1 when absent),
converted here to mm.  Valid flag >= 0: valid; -1: lost track or bad video; -2: non-periodic
breathing (coughing).  Invalid samples become NaN (gaps, held by the forecasters), never data.

**Surrogate CSV**: a header with one time column (``t_s``, ``time_s``, ``time (s)``, ``t_ms``,
``time_ms``, ``timestamp_ms``, ``time [ms]``: unit s or ms), one or more amplitude columns whose
name carries the unit, mm, cm or m (``amp_mm``, ``chest_cm``, ``amplitude (cm)``, ``abdomen [mm]``,
``x_m``), and optionally a validity column (``valid``, ``validity``, ``valid_flag``: 1/true valid,
0/false invalid).  Amplitudes are converted to mm (a metre column too: until 2026-12-07 ``x_m`` was not
taken for a unit, and such a file was read as a plain table in unstated units); rows marked invalid
become NaN.  An amplitude column without a sample (empty or NaN throughout: a marker the tracker never
saw) is a channel of NaN, said in a warning, so that the other columns can still be used (``--channel``);
it was refused with the whole file until 2026-12-07.
"""
from __future__ import annotations

import logging
import pathlib
import re

import numpy as np

from biosig.arguments import file_path
from biosig.errors import ReadError
from biosig.interrupts import polars_io, polars_reader
from biosig.readers.csv_dialect import header_columns, sniff
from biosig.readers.repeated_rows import dropped_with_other_values
from biosig.readers.tables import TIME_COLUMN_RE, exact_rate_hz, time_columns, time_units_per_s
from biosig.readers.lib_paths import library_path
from biosig.readers.unnamed_columns import tidy_header
from biosig.record import Record

VXP_SUFFIXES = (".vxp",)
#: A surrogate amplitude column: a name and a length unit (``x_mm``, ``AP (cm)``, ``z [mm]``, ``x_m``); group 1 the
#: channel, group 2 the unit (a key of :data:`_TO_MM`).
AMPLITUDE_COLUMN_RE = re.compile(r"^\s*(.+?)\s*(?:_|\(|\[)\s*(mm|cm|m)\s*[)\]]?\s*$", re.IGNORECASE)
_VALID_NAMES = ("valid", "validity", "valid_flag", "validflag")
_TO_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0}
_UNIT_EXAMPLES = "amp_mm, chest (cm) or x_m"

log = logging.getLogger(__name__)


def is_vxp(path) -> bool:
    """True for a ``.vxp`` file or a file starting with the ``[Header]`` line of an RPM export."""
    path = pathlib.Path(path)
    if path.suffix.lower() in VXP_SUFFIXES:
        return True
    try:
        with open(path, "r", encoding="latin-1") as fh:
            return fh.readline().strip() == "[Header]"
    except OSError:
        return False


def _csv_header(path) -> list[str]:
    try:
        return header_columns(path)
    except OSError:
        return []


def is_surrogate_csv(path) -> bool:
    """True when the CSV header has a time column in s or ms and an amplitude column in mm, cm or m."""
    cols = _csv_header(path)
    return bool(time_columns(cols)) and any(AMPLITUDE_COLUMN_RE.match(c) and not TIME_COLUMN_RE.match(c) for c in cols)


def read_vxp(path) -> Record:
    """A Varian RPM ``.vxp`` export as a 1-D record: channel ``amplitude`` in mm, NaN where invalid."""
    path = file_path(path)
    try:
        lines = path.read_text(encoding="latin-1").splitlines()
    except OSError as exc:
        raise ReadError(path, f"cannot read ({exc.strerror or exc})") from None
    if not lines or lines[0].strip() != "[Header]":
        raise ReadError(path, "not a Varian RPM .vxp file: the first line must be [Header]")
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == "[Data]")
    except StopIteration:
        raise ReadError(path, "no [Data] line after the [Header] block") from None
    header = dict(ln.split("=", 1) for ln in lines[1:start] if "=" in ln)
    layout = [c.strip().lower() for c in header.get("Data_layout", "").split(",") if c.strip()]
    if layout and layout[:4] != ["amplitude", "phase", "timestamp", "validflag"]:
        raise ReadError(path, f"Data_layout {header['Data_layout']!r}: expected amplitude,phase,timestamp,validflag,...")
    try:
        scale = float(header.get("Scale_factor", "1") or 1)
    except ValueError:
        raise ReadError(path, f"Scale_factor {header['Scale_factor']!r} is not a number") from None
    if not np.isfinite(scale) or scale <= 0:
        raise ReadError(path, f"Scale_factor must be > 0, got {scale}")
    amp, t_ms, valid, beam = [], [], [], []
    for lineno, ln in enumerate(lines[start + 1:], start=start + 2):
        if not ln.strip():
            continue
        f = ln.strip().split(",")
        if len(f) < 4:
            if lineno == len(lines):   # the last line: an export or copy that stopped mid-row
                raise ReadError(path, f"line {lineno}, the last, is cut short ({ln.strip()!r:.40}): the file ends "
                                      "mid-row (an interrupted export or copy?); export it again, or delete that "
                                      "line to use the samples before it")
            raise ReadError(path, f"line {lineno}: expected amplitude,phase,timestamp,validflag,..., got {ln.strip()!r:.60}")
        try:
            amp.append(float(f[0]))
            t_ms.append(float(f[2]))
            valid.append(float(f[3]))
            beam.append(float(f[6]) if len(f) > 6 and f[6].strip() else 0.0)
        except ValueError:
            raise ReadError(path, f"line {lineno}: not a number in {ln.strip()!r:.60}") from None
    if len(amp) < 2:
        raise ReadError(path, f"{len(amp)} sample(s): a trace needs at least 2")
    t_s, keep = _clean_times(path, np.asarray(t_ms) / 1000.0, np.column_stack([amp, valid]))
    amp_mm = np.asarray(amp)[keep] / scale * 10.0
    ok = np.asarray(valid)[keep] >= 0
    beam = np.asarray(beam)[keep]
    samples = np.where(ok, amp_mm, np.nan)[None, :]
    fs = _rate(header, t_s)
    _check_study_time(path, header, t_s)
    return Record(samples=samples, fs_hz=fs, channels=("amplitude",), units=("mm",), modality="motion",
                  times_s=t_s, metadata={"source": str(path), "format": "vxp", "version": header.get("Version", ""),
                                         "channel_modalities": {"amplitude": "motion"},
                                         "invalid_samples": int((~ok).sum()),
                                         "beam_on": beam != 0})


def _check_study_time(path, header, t_s) -> None:
    """Warn when the data end more than a second before the header's ``Total_study_time``: a file
    cut short at a line end reads as a shorter recording (a session skipped as too short, or a
    test window shorter than the export) without a word."""
    try:
        total_s = float(header.get("Total_study_time", "nan"))
    except ValueError:
        return
    if np.isfinite(total_s) and len(t_s) and t_s[-1] < total_s - 1.0:
        log.warning("%s: the data end at %.1f s but the header's Total_study_time is %.1f s: the file looks cut "
                    "short (an interrupted export or copy?)", path, float(t_s[-1]), total_s)


def _rate(header, t_s) -> float:
    try:
        fs = float(header.get("Samples_per_second", "nan"))
    except ValueError:
        fs = float("nan")
    return fs if np.isfinite(fs) and fs > 0 else 1.0 / float(np.median(np.diff(t_s)))


def _clean_times(path, t_s, values=None):
    """(times from the first sample, rows kept): a row repeating the previous row's timestamp is
    dropped (the first kept) and counted in one warning, saying how many of them had other values
    (``values``: one row per sample; NaN the same as NaN, ``repeated_rows``); the rest must increase."""
    if not np.all(np.isfinite(t_s)):
        raise ReadError(path, "timestamps must be finite numbers")
    keep = np.concatenate([[True], np.diff(t_s) != 0])
    kept = np.flatnonzero(keep)
    t = t_s[keep]
    back = np.flatnonzero(np.diff(t) <= 0)
    if back.size:
        raise ReadError(path, f"timestamps go backwards at data row {int(kept[back[0] + 1]) + 1}")
    dropped = np.flatnonzero(~keep)
    if dropped.size:
        differ = 0 if values is None else dropped_with_other_values(values, keep)
        log.warning("%s: %d row(s) repeating the previous timestamp dropped (first at data row %d, %g s)%s",
                    path, dropped.size, int(dropped[0]) + 1, float(t_s[dropped[0]] - t_s[0]),
                    f"; {differ} of them with other values than the row kept" if differ else "")
    return t - t[0], keep


def _check_numbers(path, df, columns) -> None:
    """An amplitude column of text without a single number is an error (a note, not a trace); one empty or NaN
    throughout is a channel without samples, said in a warning: it matters only where it is used (the protocol
    refuses a session missing it, naming it), not when ``--channel`` names the others.  Text values among numbers
    (``n/a``) are missing samples, counted in one warning."""
    import polars as pl

    for c in columns:
        col = df[c]
        num = col.cast(pl.Float64, strict=False)
        text = (col.is_not_null() & num.is_null()).to_numpy()
        first = f" (e.g. {col[int(np.argmax(text))]!r} at data row {int(np.argmax(text)) + 1})" if text.any() else ""
        if num.fill_nan(None).is_null().all():   # text, empty or NaN throughout
            if text.any():
                raise ReadError(path, f"column {c!r} holds no numbers{first}")
            log.warning("%s: column %r has no sample (empty or NaN throughout): read as a channel without "
                        "samples (leave it out to use the other columns)", path, c)
            continue
        if text.any():
            log.warning("%s: column %r: %d value(s) that are not numbers%s taken as missing", path, c,
                        int(text.sum()), first)


@polars_reader
def read_surrogate_csv(path) -> Record:
    """A unit-labelled surrogate CSV (module docstring) as a record in mm, NaN where invalid."""
    import polars as pl

    path = file_path(path)
    try:
        with library_path(path) as source:
            df = polars_io(pl.read_csv, source, infer_schema_length=10000, **sniff(path).polars_options())
    except FileNotFoundError:
        raise ReadError(path, "no such file") from None
    except Exception as exc:  # polars raises many types for malformed text
        raise ReadError(path, f"cannot read as CSV ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    # ", "-separated (np.savetxt, a hand-written header): " x_mm" and " -489.2" were a column of text, refused
    df = tidy_header(path, df).with_columns(pl.col(pl.String).str.strip_chars())
    tcols = time_columns(df.columns)
    if len(tcols) != 1:
        raise ReadError(path, f"need exactly one time column (t_s, t_ms, time (s), ...), found {tcols or 'none'}")
    tcol = tcols[0]
    amps = [(c, AMPLITUDE_COLUMN_RE.match(c)) for c in df.columns if c != tcol and c.strip().lower() not in _VALID_NAMES]
    bad = [c for c, m in amps if m is None]
    if bad:
        raise ReadError(path, f"column(s) {', '.join(repr(c.strip()) for c in bad)} carry no unit: name amplitude "
                              f"columns with theirs, mm, cm or m (e.g. {_UNIT_EXAMPLES})")
    if not amps:
        raise ReadError(path, f"no amplitude column (name it with its unit, mm, cm or m, e.g. {_UNIT_EXAMPLES})")
    try:
        t = df[tcol].cast(pl.Float64).to_numpy() / time_units_per_s(tcol)
        X = np.stack([df[c].cast(pl.Float64, strict=False).to_numpy() * _TO_MM[m.group(2).lower()]
                      for c, m in amps])
    except Exception as exc:
        raise ReadError(path, f"columns must be numbers ({str(exc).splitlines()[0]})") from None
    vcol = next((c for c in df.columns if c.strip().lower() in _VALID_NAMES), None)
    if vcol is not None:
        v = df[vcol].cast(pl.Utf8).str.strip_chars().str.to_lowercase().to_numpy()
        ok = np.isin(v, ["1", "1.0", "true", "yes"])
        unknown = ~ok & ~np.isin(v, ["0", "0.0", "false", "no"])
        if unknown.any():
            raise ReadError(path, f"validity column {vcol!r}: use 1/0 or true/false, got {v[unknown][0]!r}")
        X[:, ~ok] = np.nan
    if t.size < 2:
        raise ReadError(path, f"{t.size} sample(s): a trace needs at least 2")
    _check_numbers(path, df, [c for c, _ in amps])
    t, keep = _clean_times(path, t, X.T)
    X = X[:, keep]
    names = tuple(m.group(1).strip() for _, m in amps)
    fs_exact = exact_rate_hz(t)   # a regular grid (a file biosig wrote: 10 Hz read 9.999999999999858): its rate
    return Record(samples=X, fs_hz=fs_exact or 1.0 / float(np.median(np.diff(t))), channels=names,
                  units=("mm",) * len(names), modality="motion", times_s=t,
                  metadata={"source": str(path), "format": "surrogate-csv",
                            # positions of the body surface, whatever the column says ("chest", "abdomen"):
                            # streamed and forecast as motion, never taken for a respiration waveform
                            "channel_modalities": dict.fromkeys(names, "motion"),
                            "invalid_samples": int((~np.isfinite(X).all(axis=0)).sum())})
