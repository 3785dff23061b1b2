"""Readers: one :func:`read` for every supported file, picked by extension or content.

=====================  =====================================================================
format                 accepted as
=====================  =====================================================================
WFDB                   ``100``, ``100.hea``, ``100.dat``, ``a103l.mat`` (header beside it);
                       multi-frequency and multi-segment records, annotations beside it;
                       upper-case ``REC.HEA`` and symlinked headers (:mod:`.wfdb_paths`)
EDF / EDF+ / BDF       ``.edf``, ``.bdf``, ``.rec`` or an EDF header (pyedflib); EDF+D / BDF+D
                       (discontinuous) with NaN holes between data records (:mod:`.edf_plusd`)
audio                  ``.wav``, ``.flac``, ``.mp3``, ``.ogg``, ``.aiff`` (soundfile; audioread)
marker CSV             ``"Frame";"Timestamp";"x";"y";"z"`` header (:mod:`.markers`)
spirometry CSV         ``t_s,volume_ml`` header (modality ``spiro``, unit ``mL``)
table                  CSV or Parquet with one time column, ``t_s`` or another whose name
                       carries its unit (``time_s``, ``t_ms``, ``time (s)``; :mod:`.tables`),
                       or ``time`` / ``timestamp`` when its values tell the unit (or the
                       stated ``sample_rate_hz`` does; refused otherwise) or are ISO-8601
                       date-times (:mod:`.table_times`)
untimed table          ``.csv`` / ``.tsv`` / ``.txt`` of bare sample values, one column per
                       channel, read at the rate the caller states (``sample_rate_hz``;
                       :mod:`.untimed`)
=====================  =====================================================================

Every problem with the file raises :class:`biosig.errors.ReadError` naming the path.
"""
from __future__ import annotations

import logging
import os
import pathlib
from typing import Sequence

import numpy as np

from biosig.arguments import file_path, sampling_rate
from biosig.errors import BiosigError, ReadError
from biosig.modality import check_modality
from biosig.readers.audio import AUDIO_EXTENSIONS, read_audio, resample_audio
from biosig.readers.discover import (EDF_EXTENSIONS, PARQUET_EXTENSIONS, WFDB_COMPANION_EXTENSIONS,
                                     discover, record_exists)
from biosig.readers.markers import (group_sessions, is_marker_csv, read_marker_csv,
                                    read_marker_session)
from biosig.readers.surrogates import is_surrogate_csv, is_vxp, read_surrogate_csv, read_vxp
from biosig.readers.tables import TIME_COLUMN_HELP, csv_columns, first_line, is_table, read_csv, read_parquet
from biosig.readers.untimed import TEXT_TABLE_EXTENSIONS, read_untimed_csv, stated_rate
from biosig.readers.edf_format import read_edf
from biosig.readers.wfdb_format import read_wfdb
from biosig.readers.wfdb_paths import find_header
from biosig.record import Annotations, Record, names_text, require_record

log = logging.getLogger(__name__)

__all__ = ["read", "discover", "record_exists", "detect_format", "FORMATS", "read_marker_csv", "read_marker_session",
           "group_sessions", "is_marker_csv", "resample"]

#: Format names :func:`detect_format` returns, as listed in error messages.
FORMATS = ("wfdb", "edf", "audio", "marker-csv", "csv", "parquet", "camera-ppg-csv")
FORMATS = FORMATS + ("vxp", "surrogate-csv")  # Varian RPM exports, unit-labelled 1-D surrogate CSV
FORMATS = FORMATS + ("labchart-txt",)   # ADInstruments LabChart text export (:mod:`.labchart`)
# "untimed-csv" (bare values at a stated rate) is not among them: detect_format cannot tell it without the rate
_ACCEPTED = ("WFDB (.hea/.dat/.mat), EDF (.edf/.bdf), audio (.wav/.flac/.mp3/.ogg), marker CSV, "
             "CSV or Parquet with one time column (t_s, time_ms, ...)")


def _utf16_text(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) is UTF-16 text after a byte-order mark."""
    if head[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        return False
    try:
        text = head[2:len(head) - len(head) % 2].decode("utf-16-le" if head[0] == 0xFF else "utf-16-be")
    except UnicodeDecodeError:
        return False
    return bool(text) and all(c.isprintable() or c.isspace() for c in text)


def _sniff(path: pathlib.Path) -> str | None:
    """Format from the first bytes of a file, or None."""
    with open(path, "rb") as fh:
        head = fh.read(256)
    if _utf16_text(head):   # its BOM FF FE looked like an MPEG frame sync: decoded as an MP3
        raise ReadError(path, "UTF-16 text (a spreadsheet's 'Unicode text' export?): save it as UTF-8 (CSV UTF-8)")
    if head[:4] in (b"RIFF", b"fLaC", b"OggS", b"FORM") or head[:3] == b"ID3" or \
            (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio"
    if head[:8] in (b"0       ", b"\xffBIOSEMI") and len(head) == 256:
        return "edf"
    if head[:4] == b"PAR1":
        return "parquet"
    if b"\x00" in head or not head.strip():
        return None
    if is_marker_csv(path):
        return "marker-csv"
    if is_vxp(path):  # 1-D respiratory surrogates (:mod:`.surrogates`)
        return "vxp"
    if is_surrogate_csv(path):
        return "surrogate-csv"
    from biosig.readers.camera_ppg import is_camera_ppg_csv
    if is_camera_ppg_csv(path):   # time,R,G,B: before tables, which take a bare "time" column too
        return "camera-ppg-csv"
    from biosig.readers.labchart import is_labchart_text
    if is_labchart_text(path):   # Interval= / ChannelTitle= block, then rows: its rate is in the file
        return "labchart-txt"
    if is_table(csv_columns(path)):
        return "csv"
    return None


def detect_format(path) -> str:
    """The reader :func:`read` would use for ``path`` (one of :data:`FORMATS`).

    Raises
    ------
    ReadError : missing file, folder, or a file no reader accepts.
    """
    return _detect(file_path(path), rate_stated=False)


def _detect(path: pathlib.Path, rate_stated: bool) -> str:
    """:func:`detect_format`; with ``rate_stated``, a text table no other reader takes is "untimed-csv"."""
    suffix = path.suffix.lower()
    if not path.exists():
        if find_header(path) is not None:   # NAME.hea, or NAME.HEA (:mod:`.wfdb_paths`)
            return "wfdb"
        raise ReadError(path, "no such file or WFDB record")
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            raise ReadError(path, "permission denied: the folder cannot be listed by this user")
        raise ReadError(path, "is a folder, not a record (biosig.readers.discover lists the records in it)")
    if suffix == ".hea" or path.with_name(path.name + ".hea").exists():
        return "wfdb"
    if suffix in WFDB_COMPANION_EXTENSIONS:
        if find_header(path.with_suffix("")) is not None:
            return "wfdb"
        if suffix == ".mat":
            raise ReadError(path, "a .mat file without a WFDB header (.hea) beside it; "
                                  "only WFDB .mat signal files are read")
        raise ReadError(path, f"a WFDB {suffix} file without its header {path.with_suffix('.hea').name}")
    if not os.access(path, os.R_OK):
        raise ReadError(path, "permission denied: the file cannot be read by this user")
    if path.stat().st_size == 0:
        raise ReadError(path, f"empty file (0 bytes); accepted formats: {_ACCEPTED}")
    if suffix in EDF_EXTENSIONS:
        return "edf"
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    if suffix in PARQUET_EXTENSIONS:
        return "parquet"
    sniffed = _sniff(path)
    if sniffed:
        return sniffed
    from biosig.readers.annotation_files import is_sidecar, sidecar_table
    table = sidecar_table(path)
    if table is not None and is_sidecar(path):
        raise ReadError(path, f"the annotations of {table.name}, read with it: read {table}")
    if suffix in TEXT_TABLE_EXTENSIONS:
        if rate_stated:
            return "untimed-csv"   # no time column: read at the rate the caller states
        line = first_line(path).strip()
        from biosig.readers.table_time_units import _RATE_OPTION
        option = _RATE_OPTION.get()
        raise ReadError(path, f"first line {line[:80]!r} is neither a marker CSV "
                              "(\"Frame\";\"Timestamp\";\"x\";\"y\";\"z\") nor a table with one time column "
                              f"({TIME_COLUMN_HELP})" + (f"; bare sample values are read at a rate you state ({option})"
                                                         if option else ""))
    raise ReadError(path, f"unknown format (extension {suffix or 'none'!r}); accepted: {_ACCEPTED}")


def _resample_rows(x: np.ndarray, up: int, down: int) -> np.ndarray:
    from biosig.readers.gap_resample import upsample_keeping_gaps

    return np.stack([upsample_keeping_gaps(row.astype(np.float64), up, down) for row in x]).astype(np.float32)


def resample(rec: Record, fs_hz: float) -> Record:
    """The record at ``fs_hz``: soxr for audio, polyphase (scipy) otherwise; NaN gaps kept.

    Annotation sample indices are rescaled. Irregularly sampled records (``times_s``) are
    refused: resampling them needs an interpolation choice the caller should make.
    """
    from biosig.errors import SignalError
    from biosig.readers.gap_resample import read_ratio

    require_record(rec, "resample()")
    fs_hz = sampling_rate(fs_hz)
    if fs_hz == rec.fs_hz:
        return rec
    if rec.times_s is not None:
        raise SignalError(f"cannot resample an irregularly sampled record (nominal {rec.fs_hz:g} Hz) "
                          f"to {fs_hz:g} Hz; interpolate rec.times_s explicitly")
    if rec.modality == "audio" and not np.isnan(rec.samples).any():
        out = resample_audio(rec, fs_hz)
    else:
        try:
            up, down = read_ratio(fs_hz, rec.fs_hz)
        except ReadError:
            raise SignalError(f"cannot resample {rec.fs_hz:g} Hz to {fs_hz:g} Hz by a rational factor") from None
        out = rec.replace(samples=_resample_rows(rec.samples, up, down), fs_hz=fs_hz,
                          metadata=dict(rec.metadata, original_fs_hz=rec.fs_hz))
    if rec.annotations is not None:
        a = rec.annotations
        s = np.round(a.sample * (fs_hz / rec.fs_hz)).astype(np.int64)
        inside = (a.sample >= 0) & (a.sample < rec.n_samples)   # a beat on the last samples stays, on the last one
        s[inside] = np.clip(s[inside], 0, out.n_samples - 1)
        keep = np.flatnonzero(s < out.n_samples)
        out = out.replace(annotations=Annotations(
            sample=s[keep], symbol=tuple(a.symbol[i] for i in keep),
            aux=tuple(a.aux[i] for i in keep) if a.aux else (), source=a.source))
    return out


def read(path, *, modality: str | None = None, channels: Sequence[str | int] | None = None,
         fs_hz: float | None = None, mono: bool = False,
         channel_modalities: dict[str, str] | None = None, sample_rate_hz: float | None = None) -> Record:
    """Read any supported recording into a :class:`biosig.Record`.

    Parameters
    ----------
    path : file or WFDB record name (see the module docstring for accepted formats).
    modality : override the modality inferred from the channel names (one of
        :data:`biosig.modality.MODALITIES`).
    channels : keep only these channels (names or indices), in that order.
    fs_hz : resample to this rate (Hz); annotations follow.
    mono : audio only: mix all channels down to one.
    channel_modalities : ``{channel name: modality}`` the user states (``--channel NAME=MODALITY``);
        they replace the guess from the name, and set the record's modality unless
        ``modality`` is given.
    sample_rate_hz : the rate of a text table without a time column (``--sample-rate-hz``;
        :mod:`.untimed`); a file with its own times or rate keeps them.

    Returns
    -------
    Record with samples float32 (C, T) in physical units; NaN marks gaps (never interpolated).

    Raises
    ------
    ReadError : the file is missing, of unknown format, truncated or inconsistent.
    """
    path = file_path(path)
    if modality is not None:
        check_modality(modality)
    if not isinstance(mono, (bool, np.bool_)):
        raise ReadError(path, f"mono={mono!r} must be True or False")
    if channel_modalities is not None and not (
            isinstance(channel_modalities, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in channel_modalities.items())):
        raise ReadError(path, f"channel_modalities={channel_modalities!r} must be a dict "
                              "{channel name: modality}, both str")
    if sample_rate_hz is not None:
        sample_rate_hz = stated_rate(path, sample_rate_hz)
    try:
        rec = _read_format(path, mono, sample_rate_hz)
    except PermissionError as exc:  # a file or folder on the way is not readable by this user
        raise ReadError(exc.filename or path, "permission denied: cannot be read by this user") from None
    except IsADirectoryError as exc:
        raise ReadError(exc.filename or path, "is a folder, not a record") from None
    except OSError as exc:
        if isinstance(exc, ReadError):  # pragma: no cover - ReadError is not an OSError
            raise
        raise ReadError(exc.filename or path, f"cannot be read ({exc.strerror or exc})") from None
    rec = _infinite_as_missing(rec, path)
    try:
        if channel_modalities:
            unknown = sorted(set(channel_modalities) - set(rec.channels))
            if unknown:
                raise ReadError(path, f"--channel names {', '.join(unknown)} not among the channels "
                                      f"{names_text(rec.channels)}")
            for m in channel_modalities.values():
                check_modality(m)
            given = dict(rec.metadata.get("channel_modalities") or {}, **channel_modalities)
            rec = rec.replace(metadata=dict(rec.metadata, channel_modalities=given))
            if modality is None:
                known = [m for m in rec.channel_modalities if m != "other"]
                if known:
                    rec = rec.replace(modality=max(dict.fromkeys(known), key=known.count))
        if channels is not None:
            rec = rec.select(channels)
        if modality is not None:
            rec = rec.replace(modality=modality)
        if fs_hz is not None:
            rec = resample(rec, fs_hz)
    except ReadError:
        raise
    except BiosigError as exc:
        raise ReadError(path, str(exc)) from None
    log.debug("read %s: %r", os.fspath(path), rec)
    return rec


def _infinite_as_missing(rec: Record, path) -> Record:
    """±inf samples (a float WAV, a CSV saying inf) are no measurement: NaN, a gap like any other,
    with one warning (``info`` reported no gap for them while ``score`` counted them invalid)."""
    x = rec.samples
    step = 1 << 20   # looked for a block at a time: a (C, T) bool mask of a Holter day is 43 MB more at the peak
    if not any(np.isinf(x[:, s:s + step]).any() for s in range(0, x.shape[1], step)):
        return rec
    bad = np.isinf(x)
    log.warning("%s: %d infinite sample(s) read as missing (a gap)", os.fspath(path), int(bad.sum()))
    return rec.replace(samples=np.where(bad, np.float32(np.nan), rec.samples))


def _read_format(path, mono: bool, sample_rate_hz: float | None = None) -> Record:
    p = file_path(path)
    fmt = _detect(p, rate_stated=sample_rate_hz is not None)
    if fmt == "untimed-csv":
        rec = read_untimed_csv(p, sample_rate_hz)
    elif fmt == "wfdb":
        rec = read_wfdb(p)
    elif fmt == "edf":
        rec = read_edf(p)
    elif fmt == "audio":
        rec = read_audio(p, mono=mono)
    elif fmt == "marker-csv":
        rec = read_marker_csv(p)
        rec = rec.replace(metadata=dict(rec.metadata, format="marker-csv"))
    elif fmt == "vxp":
        rec = read_vxp(p)
    elif fmt == "surrogate-csv":
        rec = read_surrogate_csv(p)
    elif fmt == "parquet":
        rec = read_parquet(p, sample_rate_hz)
    elif fmt == "camera-ppg-csv":
        from biosig.readers.camera_ppg import read_camera_ppg_csv
        rec = read_camera_ppg_csv(p)
    elif fmt == "labchart-txt":
        from biosig.readers.labchart import read_labchart_text
        rec = read_labchart_text(p, sample_rate_hz)
    else:
        rec = read_csv(p, sample_rate_hz)
    if sample_rate_hz is not None and fmt in _OWN_RATE and abs(sample_rate_hz / rec.fs_hz - 1) > 1e-6:
        log.warning("%s: --sample-rate-hz %g is not used: this %s file holds its own rate, %g Hz (the option is for "
                    "tables without times)", os.fspath(p), sample_rate_hz, fmt, rec.fs_hz)
    return rec


#: Formats whose file states its rate: a stated ``sample_rate_hz`` that disagrees was ignored silently before.
_OWN_RATE = frozenset({"wfdb", "edf", "audio", "marker-csv", "vxp", "surrogate-csv", "camera-ppg-csv"})
