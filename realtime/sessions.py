"""Sessions for the forecasting protocol: marker CSVs grouped by session, or generic CSVs.

* Marker CSVs (:mod:`biosig.readers.markers`) that share the session prefix (text before the
  first ``-``) form one session with coordinates ``<marker>_<axis>``; as in the papers each row is
  one step at the nominal rate (no resampling), so results are comparable to the published table;
  where the timestamps jump over lost frames (1.75 median steps or more, not made up by the next
  step) the lost steps are missing (NaN), not glued together.
* A 1-D surrogate trace (Varian RPM ``.vxp`` or a unit-labelled CSV, :mod:`biosig.readers.surrogates`)
  is one session in mm; invalid samples are NaN (gaps), it is resampled like a generic CSV.
* A generic CSV with a ``t_s`` column (seconds) plus coordinate columns is one session; irregular
  timestamps are resampled to the nominal rate by linear interpolation, and steps farther than
  one nominal period from any valid sample stay missing (NaN) instead of being invented.
* Any other recording :func:`biosig.read` accepts (WFDB, EDF, Parquet, a table with another time
  column such as ``time_ms``) is one session: every column of a table, the respiration and motion
  channels of a WFDB or EDF record (a breathing belt, an ``RESP`` trace), or the ``channels`` named.
  Irregular times are interpolated as above; a regular record at another rate is resampled with
  an anti-aliasing polyphase filter (:func:`biosig.readers.resample`, NaN gaps kept).
"""
from __future__ import annotations

import logging
import os
import pathlib
from dataclasses import dataclass, field

import numpy as np

from biosig.errors import BiosigError
from biosig.interrupts import polars_io
from biosig.readers.csv_dialect import sniff
from biosig.readers.markers import group_sessions, read_marker_session
from biosig.readers.surrogates import read_surrogate_csv, read_vxp
from biosig.record import names_text
from realtime.errors import ForecastError
from realtime.metrics import marker_groups
from realtime.timegrid import (DROPPED_FRAMES, RATE_TOLERANCE, RATE_WARNING,  # noqa: F401  (re-exported)
                               _check_marker_rate, _check_times, _dropped_frames_as_gaps, _on_rate_grid, _rate,
                               resample_uniform)

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Session:
    """One recording to forecast.

    Attributes
    ----------
    name : session name (marker prefix or CSV file stem).
    X : float64 (T, n) positions in input units, NaN where missing, one row per step.
    t_s : float64 (T,) time of each step in seconds from the first.
    channels : n coordinate names; units : n unit strings.
    groups : coordinate indices of each marker (3-D error per marker).
    """

    name: str
    X: np.ndarray
    t_s: np.ndarray
    channels: tuple[str, ...]
    units: tuple[str, ...]
    groups: list = field(default_factory=list)
    source: tuple[str, ...] = ()

    @property
    def n_steps(self) -> int:
        return int(self.X.shape[0])


class _NoTrace(ForecastError):
    """A recording without a channel to forecast."""


def read_generic_csv(path, rate_hz: float, channels=None) -> Session:
    """A CSV with ``t_s`` plus one column per coordinate (or the ``channels`` named), resampled to
    ``rate_hz`` when irregular."""
    import polars as pl

    path = pathlib.Path(path)
    try:
        df = polars_io(pl.read_csv, path, infer_schema_length=10000, **sniff(path).polars_options())
    except FileNotFoundError:
        raise ForecastError(f"{path}: no such file") from None
    except Exception as exc:  # polars raises many types for malformed text
        raise ForecastError(f"{path}: cannot read as CSV ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    if "t_s" not in df.columns:
        raise ForecastError(f"{path}: a generic CSV needs a 't_s' column (seconds) plus coordinate columns; "
                            f"columns are {names_text(df.columns)} (marker CSVs need the "
                            '"Frame";"Timestamp";"x";"y";"z" header)')
    coords = [c for c in df.columns if c != "t_s"]
    if not coords:
        raise ForecastError(f"{path}: only a 't_s' column; at least one coordinate column is needed")
    if channels:
        unknown = [c for c in channels if c not in coords]
        if unknown:
            raise _NoTrace(f"{path}: no column {unknown[0]!r}; the coordinate columns are {names_text(coords)}")
        coords = list(channels)
    try:
        t = df["t_s"].cast(pl.Float64).to_numpy()
        X = np.stack([df[c].cast(pl.Float64, strict=False).to_numpy() for c in coords], axis=1)
    except Exception as exc:
        raise ForecastError(f"{path}: columns must be numbers ({str(exc).splitlines()[0]})") from None
    _check_numbers(path, df, coords)
    _check_times(path, t)
    t, X, resampled = _on_rate_grid(path, t, X, rate_hz)
    if not resampled:
        t = t - t[0]
    return Session(name=path.stem, X=X, t_s=t, channels=tuple(coords), units=("",) * len(coords),
                   groups=marker_groups(coords), source=(str(path),))


def _check_numbers(path, df, coords) -> None:
    """A coordinate column without a single number (a text column such as a note) is an error, not a
    session of missing steps; text values among numbers (``n/a``) are missing steps, said once."""
    import polars as pl

    for c in coords:
        col = df[c]
        num = col.cast(pl.Float64, strict=False)
        text = (col.is_not_null() & num.is_null()).to_numpy()
        first = f" (e.g. {col[int(np.argmax(text))]!r} at data row {int(np.argmax(text)) + 1})" if text.any() else ""
        if num.is_null().all():
            raise ForecastError(f"{path}: column {c!r} holds no numbers{first}; name the coordinate columns to "
                                f"forecast with --channel NAME")
        if text.any():
            log.warning("%s: column %r: %d value(s) that are not numbers%s taken as missing", path, c,
                        int(text.sum()), first)


def _select(rec, channels, what: str, aliases: dict | None = None):
    """``rec`` with only the ``channels`` named (``--channel``), each a channel of ``rec`` or a key
    of ``aliases`` (a surrogate CSV's column name, ``x_mm``, for its channel ``x``); a name that is
    neither is :class:`_NoTrace` (an error for a file named, a skip for one found in a folder)."""
    if not channels:
        return rec
    aliases = aliases or {}
    absent = [c for c in channels if c not in rec.channels and c not in aliases]
    if absent:
        listed = f"the columns are {names_text(aliases)}" if aliases else f"channels are {names_text(rec.channels)}"
        raise _NoTrace(f"{what}: no channel {absent[0]!r}; {listed}")
    return rec.select([c if c in rec.channels else aliases[c] for c in channels])


def _surrogate_columns(path) -> dict:
    """Column name -> channel of a surrogate CSV (``x_mm`` -> ``x``: the reader drops the unit)."""
    from biosig.readers.surrogates import AMPLITUDE_COLUMN_RE   # the reader's own rule, not a copy
    from biosig.readers.tables import csv_columns

    return {c: m.group(1).strip() for c in csv_columns(path) for m in [AMPLITUDE_COLUMN_RE.match(c)] if m}


def _surrogate_session(path, fmt: str, rate_hz: float, channels=None) -> Session:
    """One session from a surrogate trace, ``fmt`` "vxp" or "surrogate-csv" (:func:`biosig.readers.detect_format`),
    its ``channels`` only when named (a column name such as ``x_mm`` or the channel ``x``)."""
    try:
        rec = read_vxp(path) if fmt == "vxp" else read_surrogate_csv(path)
        rec = _select(rec, channels, str(path), _surrogate_columns(path) if fmt == "surrogate-csv" else None)
    except BiosigError as exc:
        if isinstance(exc, ForecastError):
            raise
        raise ForecastError(str(exc)) from None
    t, X = rec.times_s, rec.samples.T.astype(np.float64)
    t, X, _ = _on_rate_grid(path, t, X, rate_hz)
    return Session(name=pathlib.Path(path).stem, X=X, t_s=t, channels=rec.channels, units=rec.units,
                   groups=marker_groups(rec.channels), source=(str(path),))


MOTION_MODALITIES = ("resp", "motion")   # channels of a WFDB / EDF record forecast by default
TABLE_FORMATS = ("csv", "parquet")       # every column of a table is forecast by default


def _has_t_s_column(path: pathlib.Path) -> bool:
    from biosig.readers.tables import csv_columns
    return "t_s" in csv_columns(path)


def _expand_folders(paths: list[pathlib.Path]) -> tuple[list[pathlib.Path], set[pathlib.Path]]:
    """``paths`` with each folder replaced by the recordings in it (:func:`biosig.readers.discover`),
    and the set of those found in folders."""
    from biosig.readers import discover

    out, found = [], set()
    for p in paths:
        if not p.is_dir():
            out.append(p)
            continue
        try:
            inside = [pathlib.Path(f) for f in discover([p])]
        except BiosigError as exc:
            raise ForecastError(str(exc)) from None
        if not inside:
            raise ForecastError(f"{p}: no recordings in this folder (marker or surrogate CSVs, tables with a time "
                                "column, WFDB, EDF, Parquet)")
        out += inside
        found.update(inside)
    return list(dict.fromkeys(out)), found


def _record_session(path: pathlib.Path, fmt: str, rate_hz: float, channels) -> Session:
    """One session from any recording :func:`biosig.read` accepts (see the module notes)."""
    from biosig.readers import read, resample
    from biosig.readers.table_time_units import rate_option

    try:
        with rate_option(None):   # forecast takes no rate of a table without times: no hint naming one
            rec = read(path)
        if channels:
            absent = [c for c in channels if c not in rec.channels]
            if absent:
                raise _NoTrace(f"{path}: no channel {absent[0]!r}; channels are {names_text(rec.channels)}")
            rec = rec.select(list(channels))
        elif fmt not in TABLE_FORMATS:
            keep = [c for c, m in zip(rec.channels, rec.channel_modalities) if m in MOTION_MODALITIES]
            if not keep:
                listed = names_text(f"{c} ({m})" for c, m in zip(rec.channels, rec.channel_modalities))
                raise _NoTrace(f"{path}: no respiration or motion channel among {listed}; name the trace(s) "
                               "to forecast with --channel NAME")
            rec = rec.select(keep)
        if rec.times_s is not None:   # irregular: linear interpolation onto the grid, as for a t_s table
            t, X, _ = _on_rate_grid(path, rec.times_s, rec.samples.T.astype(np.float64), rate_hz)
        else:
            if not np.isclose(rec.fs_hz, rate_hz, rtol=1e-9, atol=0.0):
                log.info("%s: %g Hz resampled to --rate-hz %g (polyphase, anti-aliased)", path, rec.fs_hz, rate_hz)
                rec = resample(rec, rate_hz)
            X = rec.samples.T.astype(np.float64)
            t = np.arange(X.shape[0]) / rate_hz
    except BiosigError as exc:
        if isinstance(exc, ForecastError):
            raise
        raise ForecastError(f"{path}: {exc}" if str(path) not in str(exc) else str(exc)) from None
    if X.shape[0] < 2:
        raise ForecastError(f"{path}: {X.shape[0]} sample(s) at --rate-hz {rate_hz:g}; a session needs more")
    return Session(name=path.stem, X=X, t_s=t - t[0], channels=rec.channels, units=rec.units,
                   groups=marker_groups(rec.channels), source=(str(path),))


def load_sessions(paths, rate_hz: float, channels=None, skipped: dict | None = None) -> list[Session]:
    """Marker CSVs grouped by session prefix, one session per surrogate trace (.vxp, unit-labelled
    CSV), per generic ``t_s`` CSV and per other recording :func:`biosig.read` accepts, in name order.

    ``channels`` (names): the coordinates to forecast (default: every column of a table, the
    respiration and motion channels of a WFDB or EDF record, every coordinate of a marker session
    or surrogate trace); a surrogate CSV's may be named by column (``x_mm``) or channel (``x``). A
    file named in ``paths`` without one of them is an error; one found in a folder is skipped with
    a warning.

    ``skipped`` (a dict, as the CLI passes): a recording or marker session that cannot be read (an
    unknown or damaged file, markers of one session that disagree, a rate other than ``rate_hz``) is
    left out with a warning and recorded there as {name: reason}, so that one bad record of a large
    held-out set does not stop the run; it is an error only when no session is left. Without it
    (None) the first such problem is an error, as before.
    """
    from biosig.arguments import channel_list
    from biosig.readers import detect_format, record_exists

    rate_hz = _rate(rate_hz)
    if channels is not None:
        try:
            channels = [str(c) for c in channel_list(channels)]
        except BiosigError as exc:
            raise ForecastError(str(exc)) from None
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if paths is None or not hasattr(paths, "__iter__") or isinstance(paths, bytes):
        raise ForecastError(f"paths={paths!r}: give a list of file paths")
    bad = [p for p in paths if not isinstance(p, (str, os.PathLike))]
    if bad:
        raise ForecastError(f"{bad[0]!r} is not a file path (a str or os.PathLike)")
    paths = [pathlib.Path(p) for p in paths]
    if not paths:
        raise ForecastError("no input files given")
    missing = [str(p) for p in paths if not record_exists(p)]   # a WFDB record may be named without .hea
    if missing:
        raise ForecastError(f"no such file: {', '.join(missing)}")
    paths, found = _expand_folders(paths)
    unread: dict = {}

    def unreadable(name: str, exc: BiosigError) -> None:   # skip and say (``skipped`` given) or stop
        if skipped is None:
            raise ForecastError(str(exc)) from None
        unread[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__   # said below

    def said(name: str) -> str:   # the reason, naming the input once (most reasons start with it)
        return unread[name] if name in unread[name] else f"{name}: {unread[name]}"

    markers, surrogates, generic, records = [], [], [], []
    for p in paths:   # one sniff per file: the reader biosig.read would use
        try:
            fmt = detect_format(p)
        except BiosigError as exc:
            unreadable(str(p), exc)
            continue
        if fmt == "marker-csv":
            markers.append(p)
        elif fmt in ("vxp", "surrogate-csv"):
            surrogates.append((p, fmt))
        elif fmt == "csv" and _has_t_s_column(p):
            generic.append(p)
        else:
            records.append((p, fmt))
    sessions, no_trace = [], []
    for name, group in group_sessions(markers).items():
        lost = [f for f in unread if pathlib.Path(f).name.startswith(f"{name}-")]
        if lost:   # a marker file of this session is unreadable: the session without it is another session
            unread[f"session {name}"] = f"its file {lost[0]} cannot be read"
            continue
        try:
            rec = _select(read_marker_session(group), channels, f"session {name}")
            _check_marker_rate(name, rec.times_s, rate_hz)
        except _NoTrace as exc:
            if not all(p in found for p in group):   # named by the caller: an error
                raise
            no_trace.append(str(exc))
            continue
        except BiosigError as exc:
            unreadable(f"session {name}", exc)
            continue
        X = _dropped_frames_as_gaps(name, rec.times_s, rec.samples.T.astype(np.float64))
        t = np.arange(X.shape[0]) / rate_hz  # each row is one step at the nominal rate
        sessions.append(Session(name=name, X=X, t_s=t, channels=rec.channels, units=rec.units,
                                groups=marker_groups(rec.channels), source=tuple(str(p) for p in group)))
    for p, fmt in [(p, None) for p in generic] + surrogates + records:
        try:
            sessions.append(read_generic_csv(p, rate_hz, channels) if fmt is None else
                            _surrogate_session(p, fmt, rate_hz, channels) if fmt in ("vxp", "surrogate-csv") else
                            _record_session(p, fmt, rate_hz, channels))
        except _NoTrace as exc:
            if p not in found:   # named by the caller: an error; found in a folder: not a motion recording
                raise
            no_trace.append(str(exc))
        except BiosigError as exc:
            unreadable(str(p), exc)
    if no_trace:
        what = f"without the channel(s) {', '.join(channels)}" if channels else \
            "with no respiration or motion channel (--channel NAME picks one)"
        log.warning("skipped %d recording(s) found in the folder(s) %s, e.g. %s", len(no_trace), what, no_trace[0])
    if skipped is not None:
        skipped.update(unread)
    # the skips are said once the outcome is known: when none is left, the one error line names the
    # first (before, a warning and then the error said it twice, the error naming the input twice)
    if not sessions and len(unread) == 1:
        raise ForecastError(f"no session could be read: {said(next(iter(unread)))}")
    for name in unread:
        log.warning("skipping %s", said(name))
    if not sessions and unread:
        raise ForecastError(f"no session could be read ({len(unread)} skipped, said above); first: "
                            f"{said(next(iter(unread)))}")
    if not sessions:
        raise ForecastError("no session to forecast: none of the recordings found has " +
                            (f"the channel(s) {', '.join(channels)}" if channels else
                             "a respiration or motion channel (--channel NAME picks one)"))
    names = [s.name for s in sessions]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ForecastError(f"two inputs give the same session name: {', '.join(dup)}")
    for s in sessions:
        _warn_metres_as_mm(s)
    return sorted(sessions, key=lambda s: s.name)


MIN_MOTION_MM = 0.5   # breathing moves an external marker or a surrogate by millimetres on its main axis


def _warn_metres_as_mm(s: Session) -> None:
    """Say when a session read in mm barely moves: positions in metres under columns that say mm
    (``x_mm`` holding -0.4907) were scored as micrometre motion, ``>2mm 0.000``, without a word."""
    if not s.units or any(u != "mm" for u in s.units) or not np.isfinite(s.X).any():
        return
    import warnings
    with warnings.catch_warnings():   # a coordinate without a sample: "All-NaN slice"
        warnings.simplefilter("ignore", RuntimeWarning)
        p2p = float(np.nanmax(np.nanpercentile(s.X, 99, axis=0) - np.nanpercentile(s.X, 1, axis=0)))
    if 0 < p2p < MIN_MOTION_MM:   # 0: a constant trace, refused with its own reason (realtime.protocol)
        log.warning("session %s: its largest motion is %.3g mm peak-to-peak (1st-99th percentile), far under a "
                    "breath's millimetres: if the numbers are metres, give them in mm (x 1000); the errors and the "
                    ">2 mm / >5 mm shares below are in the file's numbers", s.name, p2p)
