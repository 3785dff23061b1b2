"""WFDB records (PhysioNet), read through the ``wfdb`` package (EDF lives in :mod:`biosig.readers.edf_format`).

Everything wfdb reads is accepted: single-segment records in any storage format (212, 16, 310,
``.mat`` signal files, ...), multi-frequency records (several samples per frame), skewed signals,
and multi-segment records (fixed or variable layout; empty segments and channels missing from a
segment become NaN gaps). Header comments go to ``metadata["comments"]``; annotation files found
beside the record (``.atr``, ``.qrs``, ``.sqrs``, ...) become :class:`biosig.record.Annotations`
with sample indices at the returned record's rate; a comment annotation (``"``) is read as its text
(the label ``Asystole``, not ``"``; ``cough\\x1fdry`` as ``cough`` with aux ``dry``), as biosig writes labels
that are no WFDB code; aux bytes that are UTF-8 beyond ASCII as UTF-8 (:func:`wfdb_native.aux_text`).

Before any samples are decoded, the header and the signal files are checked against each other
(:mod:`biosig.readers.wfdb_header`), so that a truncated ``.dat`` or a header that promises more
samples than the files hold is reported as such instead of surfacing as a NumPy broadcasting error
or, worse, a silently short signal.
"""
from __future__ import annotations

import logging
import math
import pathlib
import string
from datetime import datetime

import numpy as np

from biosig.arguments import file_path
from biosig.errors import ReadError
from biosig.readers import wfdb_native, wfdb_paths
from biosig.readers.duplicate_names import warn_duplicate_names
from biosig.readers.gap_resample import upsample_keeping_gaps
from biosig.readers.wfdb_header import _check_signal_files, _header, _plain, _read_header_text, validate_header_text
from biosig.writers_edf_wfdb import WFDB_COMMENT, WFDB_LABEL_AUX   # how biosig writes labels; read back as the label
from biosig.record import Annotations, Record

log = logging.getLogger(__name__)

#: Annotation file extensions looked for beside a record, in order of preference.
ANNOTATION_EXTENSIONS = ("atr", "qrs", "sqrs", "ecg", "ann")
_TRAILING = string.whitespace + "\x00"


def record_base(path) -> pathlib.Path:
    """The WFDB record name (path without extension) for ``100``, ``100.hea`` or ``100.dat``."""
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix in (".hea", ".dat", ".mat") or (suffix.lstrip(".") in ANNOTATION_EXTENSIONS + ("xyz",)
                                              and path.with_suffix(".hea").exists()):
        return path.with_suffix("")
    return path


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
    rec = p = None   # wfdb's digital and physical arrays: freed as each channel is copied below
    top = max(spf) if spf else 1
    rates = [frame_hz * s for s in spf]
    out = []
    for x, s in zip(chans, spf):
        out.append(x if s == top else upsample_keeping_gaps(x, top // math.gcd(top, s), s // math.gcd(top, s)))
    n = min(len(x) for x in out) if out else 0
    del chans
    samples = np.empty((len(out), n), dtype=np.float32)   # rounded once from float64, as astype(float32) would
    for i in range(len(out)):
        samples[i], out[i] = out[i][:n], None   # each channel freed once copied: no float64 (C, T) stack
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
            # wfdb.rdann gives each byte as one character: its UTF-8 aux texts decoded as the native path does
            ann.aux_note = [_aux_text(a) if a else a for a in ann.aux_note] if ann.aux_note else ann.aux_note
        ann_fs = float(ann.fs) if ann.fs else frame_hz
        if ann_fs != fs_hz:
            sample = np.round(sample * (fs_hz / ann_fs)).astype(np.int64)
        keep = (sample >= 0) & (sample < max(n_samples, 1))
        if not keep.all():
            log.warning("%s.%s: %d annotation(s) outside the record dropped", base, ext, int((~keep).sum()))
        idx = np.flatnonzero(keep)
        aux = [(a or "").rstrip("\x00") for a in (ann.aux_note or [""] * len(sample))]
        labels = [_label(sym, text) for sym, text in zip(ann.symbol, aux)]
        return Annotations(sample=sample[idx], symbol=tuple(labels[i][0] for i in idx),
                           aux=tuple(labels[i][1] for i in idx), source=ext)
    return None


def _aux_text(text: str) -> str:
    """An aux text as wfdb.rdann gives it (one character a byte) read by :func:`wfdb_native.aux_text`."""
    try:
        return wfdb_native.aux_text(text.encode("latin-1"))
    except UnicodeEncodeError:   # not one character a byte: kept as wfdb gave it
        return text


def _label(symbol: str, aux: str) -> tuple[str, str]:
    """(label, aux text) of one WFDB annotation. A comment annotation (:data:`WFDB_COMMENT`, NOTE) is
    its text: the label is its aux text, without trailing NULs or whitespace, up to :data:`WFDB_LABEL_AUX`,
    and its aux the rest (``Asystole``; ``cough\\x1fdry`` is ``cough`` with aux ``dry``, as biosig writes a
    label that is no WFDB code and its aux, :mod:`biosig.writers_edf_wfdb`; written with a space between
    them they read back as one label, ``cough dry``); one without text stays ``"``. Every other annotation
    keeps its symbol and its aux text as on disk (``+`` with ``(AFIB``)."""
    text = aux.rstrip(_TRAILING) if symbol == WFDB_COMMENT else ""
    label, _, own = text.partition(WFDB_LABEL_AUX)
    if label.strip():
        return label, own
    return (text, "") if text else (symbol, aux)


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
        samples, bad = wfdb_native.read_physical(hea_path.parent, header)   # float32, decoded chunk by chunk
    except PermissionError as exc:
        raise ReadError(exc.filename or path, "permission denied: a file of the record cannot be read "
                                              "by this user") from None
    except OSError as exc:
        raise ReadError(exc.filename or path, f"cannot read a signal file ({exc.strerror or exc})") from None
    names = list(header.sig_name)
    if bad:
        log.warning("%s: checksum mismatch in %s: the signal file may be corrupt", path,
                    ", ".join(names[i] for i in bad))
    return samples, float(header.fs), names, list(header.units), [float(header.fs)] * header.n_sig, \
        [names[i] for i in bad]


def _finish(path, base, hea_path, header, meta, samples, fs_hz, names, units, rates, mismatch) -> Record:
    meta["checksum_mismatch"] = mismatch
    if samples.shape[1] == 0:
        raise ReadError(hea_path, "the record holds no samples")
    warn_duplicate_names(hea_path, names)
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
    return Record(samples=samples.astype(np.float32, copy=False), fs_hz=fs_hz, channels=tuple(names),
                  units=tuple(units), start_time=_start_time(header), annotations=ann, metadata=meta)
