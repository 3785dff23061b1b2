"""WFDB records (PhysioNet), read through the ``wfdb`` package (EDF lives in :mod:`biosig.readers.edf_format`).

Everything wfdb reads is accepted: single-segment records in any storage format (212, 16, 310,
``.mat`` signal files, ...), multi-frequency records (several samples per frame), skewed signals,
and multi-segment records (fixed or variable layout; empty segments and channels missing from a
segment become NaN gaps). Header comments go to ``metadata["comments"]``; annotation files found
beside the record (``.atr``, ``.qrs``, ``.sqrs``, ...) become :class:`biosig.record.Annotations`
with sample indices at the returned record's rate.

Before any samples are decoded, the signal files are checked against the header, so that a
truncated ``.dat`` or a header that promises more samples than the files hold is reported as
such instead of surfacing as a NumPy broadcasting error or, worse, a silently short signal.
"""
from __future__ import annotations

import logging
import math
import os
import pathlib
import re
from datetime import datetime

import numpy as np

from biosig.arguments import file_path
from biosig.errors import ReadError
from biosig.readers import wfdb_native, wfdb_paths
from biosig.readers.gap_resample import upsample_keeping_gaps
from biosig.record import Annotations, Record

log = logging.getLogger(__name__)

#: Annotation file extensions looked for beside a record, in order of preference.
ANNOTATION_EXTENSIONS = ("atr", "qrs", "sqrs", "ecg", "ann")

#: Bytes per sample of each WFDB storage format (FLAC formats 5xx are compressed: not checked).
_BYTES_PER_SAMPLE = {"8": 1.0, "16": 2.0, "24": 3.0, "32": 4.0, "61": 2.0, "80": 1.0, "160": 2.0,
                     "212": 1.5, "310": 4.0 / 3.0, "311": 4.0 / 3.0}


def record_base(path) -> pathlib.Path:
    """The WFDB record name (path without extension) for ``100``, ``100.hea`` or ``100.dat``."""
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix in (".hea", ".dat", ".mat") or (suffix.lstrip(".") in ANNOTATION_EXTENSIONS + ("xyz",)
                                              and path.with_suffix(".hea").exists()):
        return path.with_suffix("")
    return path


#: Highest sampling (frame) rate accepted from a header, Hz. Physiological recordings stored as
#: WFDB (ECG, PPG, respiration, sounds) stay far below it; a larger value is a corrupt header.
MAX_HEADER_FS_HZ = 1_000_000.0


def _read_header_text(path, hea: pathlib.Path) -> str:
    """The header's text (UTF-8, or Latin-1 where it is not); permission and I/O problems become
    one-line ReadErrors."""
    try:
        raw = hea.read_bytes()
    except PermissionError:
        raise ReadError(hea, "permission denied: the header cannot be read by this user") from None
    except IsADirectoryError:
        raise ReadError(hea, "is a folder, not a WFDB header") from None
    except OSError as exc:
        raise ReadError(hea, f"cannot read the header ({exc.strerror or exc})") from None
    try:   # UTF-8 as wfdb writes it ("µV" written by biosig before ASCII units read as "ÂµV"), else Latin-1
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def validate_header_text(hea, text: str) -> None:
    """Check the record line and the signal lines of a WFDB header ourselves.

    wfdb's parser falls back to defaults on fields it cannot parse (``fs -1`` or ``nan`` become
    250 Hz, ``1e9`` becomes 1 Hz), which would give silently wrong durations and rates. The
    record line is ``name[/n_seg] [n_sig [fs[/counter_fs][(base_counter)] [sig_len ...]]]``;
    a missing fs is WFDB's documented default (250 Hz) and stays accepted.
    """
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        raise ReadError(hea, "malformed WFDB header: no record line (empty or comments only)")
    fields = lines[0].split()
    name = fields[0]
    multi = "/" in name
    if len(fields) >= 2:
        if not fields[1].isdigit():
            raise ReadError(hea, f"malformed WFDB header: number of signals {fields[1]!r} is not a "
                                 "non-negative integer")
        n_sig = int(fields[1])
    else:
        n_sig = 0
    if len(fields) >= 3:
        fs_text = re.split(r"[/(]", fields[2], maxsplit=1)[0]
        try:
            fs = float(fs_text)
        except ValueError:
            fs = float("nan")
        if not (math.isfinite(fs) and 0 < fs <= MAX_HEADER_FS_HZ):
            raise ReadError(hea, f"implausible sampling rate {fs_text!r} in the header (expected a number "
                                 f"of Hz above 0 and at most {MAX_HEADER_FS_HZ:g})")
    if len(fields) >= 4:
        if not fields[3].isdigit():
            raise ReadError(hea, f"malformed WFDB header: signal length {fields[3]!r} is not a "
                                 "non-negative integer")
    if multi:
        n_txt = name.split("/", 1)[1]
        if not n_txt.isdigit():
            raise ReadError(hea, f"malformed WFDB header: number of segments {n_txt!r} is not an integer")
        if len(lines) - 1 < int(n_txt):
            raise ReadError(hea, f"the header declares {n_txt} segments but lists {len(lines) - 1}")
    elif len(lines) - 1 < n_sig:
        raise ReadError(hea, f"the header declares {n_sig} signals but has {len(lines) - 1} signal "
                             "line(s) (truncated header?)")


def _header(path, base: pathlib.Path, what: str = "WFDB header"):
    import wfdb

    hea = base.with_name(base.name + ".hea")
    if not hea.exists():
        raise ReadError(path, f"{what} {hea.name} does not exist")
    validate_header_text(hea, _read_header_text(path, hea))
    try:
        return wfdb.rdheader(str(base))
    except PermissionError:
        raise ReadError(hea, "permission denied: the header cannot be read by this user") from None
    except Exception as exc:  # wfdb raises ValueError/IndexError/... on malformed headers
        raise ReadError(hea, f"malformed WFDB header (wfdb cannot parse it: {_plain(exc)})") from None


def _plain(exc: BaseException) -> str:
    """A library exception's message without its Python class name (users get ours only)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else "no details"
    return text[:200]


def _check_signal_files(hea_path: pathlib.Path, header) -> None:
    """Raise ReadError when a signal file is missing or shorter than the header says."""
    if header.fs is None or not header.fs > 0:
        raise ReadError(hea_path, f"sampling rate must be > 0 Hz, the header says {header.fs!r}")
    if header.n_sig == 0:
        return
    if header.sig_len == 0 and any(name != "~" for name in header.file_name):
        raise ReadError(hea_path, "the record holds no samples (the header's signal length is 0)")
    files: dict[str, list[int]] = {}
    for i, name in enumerate(header.file_name):
        files.setdefault(name, []).append(i)
    for name, idx in files.items():
        if name == "~":  # layout header of a multi-segment record: no samples of its own
            continue
        sig_path = hea_path.parent / name
        if not sig_path.exists():
            raise ReadError(hea_path, f"signal file {name} named in the header does not exist")
        if not os.access(sig_path, os.R_OK):
            raise ReadError(sig_path, "permission denied: the signal file cannot be read by this user")
        if os.path.getsize(sig_path) <= max(header.byte_offset[i] or 0 for i in idx):
            raise ReadError(hea_path, f"the record holds no samples (signal file {name} is empty)")
        fmts = {header.fmt[i] for i in idx}
        if header.sig_len is None or not fmts <= set(_BYTES_PER_SAMPLE):
            continue  # length taken from the file by wfdb itself, or a compressed format
        offset = max(header.byte_offset[i] or 0 for i in idx)
        spf = [header.samps_per_frame[i] or 1 for i in idx]
        per_frame = sum(s * _BYTES_PER_SAMPLE[header.fmt[i]] for s, i in zip(spf, idx))
        skew = max((header.skew[i] or 0) for i in idx)
        need = offset + math.floor(header.sig_len * per_frame)
        have = os.path.getsize(sig_path)
        if have < need:
            frames = max(0, int((have - offset) // per_frame))
            raise ReadError(
                hea_path,
                f"signal file {name} is truncated or the header lies about the length: the header "
                f"promises {header.sig_len} samples per channel ({need} bytes in format "
                f"{'/'.join(sorted(fmts))}), the file holds {have} bytes (about {frames} samples)")
        if skew:
            log.debug("%s: skew up to %d samples in %s", hea_path, skew, name)


def _start_time(header) -> datetime | None:
    if header.base_time is None:
        return None
    if header.base_date is None:
        return None  # a time of day without a date is not a point in time; kept in metadata
    return datetime.combine(header.base_date, header.base_time)


def _fixed_layout_with_null_segments(base: pathlib.Path, header):
    """A fixed-layout multi-segment record with null segments (``~ 250``: no signal for 250 frames)
    as wfdb's ``m2s`` would give it, the null segments NaN: wfdb reads null segments of
    variable-layout records only. Every other segment is read by wfdb on its own."""
    import types

    import wfdb

    segs = {name: wfdb.rdrecord(str(base.with_name(name)), sampto=int(n), smooth_frames=False,
                                return_res=64, physical=True)
            for name, n in zip(header.seg_name, header.seg_len) if name != "~"}
    if not segs:
        raise ValueError("every segment is null ('~'): the record holds no samples")
    first = next(iter(segs.values()))
    spf = [int(s or 1) for s in first.samps_per_frame]
    chans = [[] for _ in spf]
    for name, n in zip(header.seg_name, header.seg_len):
        seg = segs.get(name)
        for i, s in enumerate(spf):
            chans[i].append(np.full(int(n) * s, np.nan) if seg is None else np.asarray(seg.e_p_signal[i], np.float64))
    return types.SimpleNamespace(sig_name=first.sig_name, units=first.units, samps_per_frame=spf, fs=header.fs,
                                 e_p_signal=[np.concatenate(c) for c in chans], p_signal=None)


def _read_signals(path, base: pathlib.Path, header):
    """Return (samples (C, T) float64 with NaN gaps, fs_hz, names, units, per-channel rates)."""
    import wfdb

    single = not isinstance(header, wfdb.MultiRecord)
    mismatch: list[int] = []
    try:
        try:
            # Single-segment records are read as integers first so the header checksums can be verified.
            if not single and header.layout == "fixed" and "~" in header.seg_name:
                rec = _fixed_layout_with_null_segments(base, header)   # wfdb: "'NoneType' ... 'e_p_signal'"
            else:
                rec = wfdb.rdrecord(str(base), smooth_frames=False, m2s=True, return_res=64, physical=not single)
            if single:
                mismatch = _checksum_mismatches(rec)
                rec.e_p_signal = rec.dac(expanded=True, return_res=64)
        except (FileNotFoundError, PermissionError):
            raise
        except Exception as first:
            if not single:
                raise
            # wfdb's integer path fails on some storage formats (format 61 is big-endian: wfdb
            # cannot name its dtype); its physical path reads them. Checksums are then not verified.
            log.debug("%s: integer read failed (%s); reading physical values", path, first)
            rec = wfdb.rdrecord(str(base), smooth_frames=False, return_res=64, physical=True)
    except FileNotFoundError as exc:
        raise ReadError(path, f"a signal file of the record is missing ({exc.filename})") from None
    except PermissionError as exc:
        raise ReadError(exc.filename or path, "permission denied: a file of the record cannot be read "
                                              "by this user") from None
    except Exception as exc:
        raise ReadError(path, f"wfdb cannot decode the record ({_plain(exc)})") from None
    names = [n if n else f"ch{i + 1}" for i, n in enumerate(rec.sig_name or [])]
    units = [u or "" for u in (rec.units or [""] * len(names))]
    spf = [int(s or 1) for s in (rec.samps_per_frame or [1] * len(names))]
    if rec.e_p_signal is not None:
        chans = [np.asarray(x, dtype=np.float64) for x in rec.e_p_signal]
    else:
        p = np.asarray(rec.p_signal, dtype=np.float64)
        chans = [p[:, i] for i in range(p.shape[1])]
    frame_hz = float(rec.fs)
    top = max(spf) if spf else 1
    rates = [frame_hz * s for s in spf]
    out = []
    for x, s in zip(chans, spf):
        out.append(x if s == top else upsample_keeping_gaps(x, top // math.gcd(top, s), s // math.gcd(top, s)))
    n = min(len(x) for x in out) if out else 0
    samples = np.stack([x[:n] for x in out]) if out else np.zeros((0, 0))
    if mismatch:
        bad = [names[i] for i in mismatch]
        log.warning("%s: checksum mismatch in %s: the signal file may be corrupt", path, ", ".join(bad))
    return samples, frame_hz * top, names, units, rates, [names[i] for i in mismatch]


def _checksum_mismatches(rec) -> list[int]:
    """Indices of channels whose 16-bit sample sum differs from the header checksum.

    Channels without a checksum, with checksum 0 (written as a placeholder by some tools, e.g.
    all CinC 2017 headers) or with skew (their stored samples are not all in the record) are
    not checked.
    """
    out = []
    for i, x in enumerate(rec.e_d_signal or []):
        want = rec.checksum[i] if rec.checksum else None
        if not want or (rec.skew and rec.skew[i]):
            continue
        # Compared modulo 2**16: writers store it signed (PhysioNet) or unsigned (wfdb-python).
        if int(np.sum(np.asarray(x, dtype=np.int64))) % 65536 != int(want) % 65536:
            out.append(i)
    return out


def _annotations(base: pathlib.Path, fs_hz: float, frame_hz: float, n_samples: int):
    for ext in ANNOTATION_EXTENSIONS:
        ann_path = base.with_name(f"{base.name}.{ext}")
        if not ann_path.exists():
            continue
        try:
            native = wfdb_native.read_annotations(ann_path)
        except PermissionError:
            raise ReadError(ann_path, "permission denied: the annotation file cannot be read by this user") from None
        except OSError as exc:
            raise ReadError(ann_path, f"cannot read the annotation file ({exc.strerror or exc})") from None
        if native is not None:
            sample, symbols, aux_notes = native
            ann = type("Ann", (), {"fs": None, "symbol": symbols, "aux_note": aux_notes})()
        else:
            import wfdb

            try:
                ann = wfdb.rdann(str(base), ext)
            except Exception as exc:
                raise ReadError(ann_path, f"unreadable annotation file ({_plain(exc)})") from None
            sample = np.asarray(ann.sample, dtype=np.int64)
        ann_fs = float(ann.fs) if ann.fs else frame_hz
        if ann_fs != fs_hz:
            sample = np.round(sample * (fs_hz / ann_fs)).astype(np.int64)
        keep = (sample >= 0) & (sample < max(n_samples, 1))
        if not keep.all():
            log.warning("%s.%s: %d annotation(s) outside the record dropped", base, ext, int((~keep).sum()))
        idx = np.flatnonzero(keep)
        aux = [(a or "").rstrip("\x00") for a in (ann.aux_note or [""] * len(sample))]
        return Annotations(sample=sample[idx], symbol=tuple(ann.symbol[i] for i in idx),
                           aux=tuple(aux[i] for i in idx), source=ext)
    return None


def read_wfdb(path) -> Record:
    """Read a WFDB record given as ``100``, ``100.hea``, ``100.dat`` or ``a103l.mat``.

    Channels sampled at different rates (several samples per frame) are brought to the record's
    highest rate with :func:`scipy.signal.resample_poly`; the original rates are kept in
    ``metadata["channel_fs_hz"]``.

    A symlinked header whose signal files lie beside its target, and an upper-case ``REC.HEA``,
    are read too (:mod:`.wfdb_paths`); ``metadata["source"]`` is the header as the caller named it.

    Returns
    -------
    Record with samples float32 (C, T) in the header's physical units, NaN for invalid samples.
    """
    base = record_base(file_path(path))
    with wfdb_paths.readable_base(base) as at:
        if at == base:
            return _read_record(path, base)
        named = wfdb_paths.find_header(base)
        try:
            rec = _read_record(path, at)
        except ReadError as exc:   # name the caller's files, not the temporary links
            raise wfdb_paths.as_named(exc, at, named) from None
    return rec.replace(metadata=dict(rec.metadata, source=str(named)))


def _read_record(path, base: pathlib.Path) -> Record:
    hea_path = base.with_name(base.name + ".hea")
    if not hea_path.exists():
        raise ReadError(path, f"WFDB header {hea_path.name} does not exist")
    text = _read_header_text(path, hea_path)
    validate_header_text(hea_path, text)
    native = wfdb_native.covered(hea_path, text)
    if native is not None:  # the common case, decoded without importing wfdb (fast start-up)
        header = native
        meta: dict = {"source": str(hea_path), "format": "wfdb", "record_name": header.record_name}
        _check_signal_files(hea_path, header)
        meta["storage_formats"] = list(header.fmt)
        if not header.n_sig:
            raise ReadError(hea_path, "the header declares no signals (an annotation-only record)")
        samples, fs_hz, names, units, rates, mismatch = _read_native(path, hea_path, header)
        return _finish(path, base, hea_path, header, meta, samples, fs_hz, names, units, rates, mismatch)
    import wfdb

    header = _header(path, base)
    meta = {"source": str(hea_path), "format": "wfdb", "record_name": header.record_name}
    if isinstance(header, wfdb.MultiRecord):
        meta["format"] = "wfdb-multi-segment"
        if header.fs is None or not header.fs > 0:
            raise ReadError(hea_path, f"sampling rate must be > 0 Hz, the header says {header.fs!r}")
        seg_lens = [int(n) for n in header.seg_len]
        if header.sig_len is not None and header.sig_len != sum(seg_lens):
            # wfdb fails on it with "True is not in list" (or reads a shifted record)
            raise ReadError(hea_path, f"the header promises {header.sig_len} samples, its segments add up to "
                                      f"{sum(seg_lens)} ({', '.join(f'{s} {n}' for s, n in zip(header.seg_name, seg_lens))})")
        for name, seg_len in zip(header.seg_name, seg_lens):
            if name == "~":
                continue
            seg_base = base.with_name(name)
            try:
                seg_header = _header(path, seg_base, "segment header")
                if seg_header.sig_len is not None and seg_header.sig_len < seg_len:   # wfdb: "sampto must be ..."
                    raise ReadError(seg_base.with_name(name + ".hea"),
                                    f"the record's header gives it {seg_len} samples, its own header only "
                                    f"{seg_header.sig_len}")
                _check_signal_files(seg_base.with_name(name + ".hea"), seg_header)
            except ReadError as exc:  # reported under the record the user named, segment in the text
                raise ReadError(hea_path, f"segment {name}: {exc.problem}") from None
        meta["segments"] = list(zip(header.seg_name, [int(n) for n in header.seg_len]))
        meta["layout"] = header.layout
    else:
        _check_signal_files(hea_path, header)
        meta["storage_formats"] = list(header.fmt or [])
    if not header.n_sig:
        raise ReadError(hea_path, "the header declares no signals (an annotation-only record)")
    samples, fs_hz, names, units, rates, mismatch = _read_signals(path, base, header)
    return _finish(path, base, hea_path, header, meta, samples, fs_hz, names, units, rates, mismatch)


def _read_native(path, hea_path: pathlib.Path, header):
    """:func:`_read_signals` for the records :mod:`.wfdb_native` covers."""
    try:
        digital, bad = wfdb_native.read_digital(hea_path.parent, header)
    except PermissionError as exc:
        raise ReadError(exc.filename or path, "permission denied: a file of the record cannot be read "
                                              "by this user") from None
    except OSError as exc:
        raise ReadError(exc.filename or path, f"cannot read a signal file ({exc.strerror or exc})") from None
    names = list(header.sig_name)
    if bad:
        log.warning("%s: checksum mismatch in %s: the signal file may be corrupt", path,
                    ", ".join(names[i] for i in bad))
    samples = wfdb_native.to_physical(digital, header)
    return samples, float(header.fs), names, list(header.units), [float(header.fs)] * header.n_sig, \
        [names[i] for i in bad]


def _finish(path, base, hea_path, header, meta, samples, fs_hz, names, units, rates, mismatch) -> Record:
    meta["checksum_mismatch"] = mismatch
    if samples.shape[1] == 0:
        raise ReadError(hea_path, "the record holds no samples")
    if header.sig_len and samples.shape[1] < header.sig_len * (fs_hz / header.fs) - 1:
        raise ReadError(hea_path, f"header promises {header.sig_len} samples, decoded {samples.shape[1]}")
    meta["comments"] = list(header.comments or [])
    fields = {}
    for c in meta["comments"]:
        key, sep, value = c.partition(":")
        if sep and key.strip() and value.strip() and len(key) <= 60:
            fields[key.strip()] = value.strip()
    meta["comment_fields"] = fields
    meta["frame_fs_hz"] = float(header.fs)
    meta["channel_fs_hz"] = rates
    if header.base_time is not None:
        meta["base_time"] = header.base_time.isoformat()
    if len(set(rates)) > 1:
        log.info("%s: channels at %s Hz resampled to %g Hz", path, rates, fs_hz)
    ann = _annotations(base, fs_hz, float(header.fs), samples.shape[1])
    return Record(samples=samples.astype(np.float32), fs_hz=fs_hz, channels=tuple(names),
                  units=tuple(units), start_time=_start_time(header), annotations=ann, metadata=meta)
