"""WFDB headers checked before wfdb reads them (:mod:`biosig.readers.wfdb_format` reads the record).

wfdb's header parser falls back to defaults on fields it cannot parse (:func:`validate_header_text`
refuses them), and a truncated ``.dat`` or a header that promises more samples than its signal
files hold surfaces in wfdb as a NumPy broadcasting error or a silently short signal
(:func:`_check_signal_files` says which file, how many bytes and about how many samples it holds).
"""
from __future__ import annotations

import logging
import math
import os
import pathlib
import re

from biosig.errors import ReadError

log = logging.getLogger(__name__)

#: Bytes per sample of each WFDB storage format (FLAC formats 5xx are compressed: not checked).
_BYTES_PER_SAMPLE = {"8": 1.0, "16": 2.0, "24": 3.0, "32": 4.0, "61": 2.0, "80": 1.0, "160": 2.0,
                     "212": 1.5, "310": 4.0 / 3.0, "311": 4.0 / 3.0}

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
            spaced = len(fields) > 2 and fields[2].isdigit()   # "my rec 1 250": a record name with a space
            raise ReadError(hea, f"malformed WFDB header: number of signals {fields[1]!r} is not a "
                                 "non-negative integer" + (" (a record name cannot hold spaces)" if spaced else ""))
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
    elif len(lines) - 1 > n_sig:   # wfdb: "'>' not supported between ... 'NoneType'"; or a count that lies
        raise ReadError(hea, f"the header declares {n_sig} signal(s) but has {len(lines) - 1} signal lines "
                             "(a wrong count would interleave the samples wrongly; lines after the signals "
                             "must be comments, starting with '#')")
    else:
        for i, line in enumerate(lines[1:], start=1):
            _check_signal_line(hea, i, line.split())


#: Storage formats wfdb reads (wfdb.io._signal.DAT_FMTS); format 0 (a null signal) is not among them.
WFDB_FORMATS = ("8", "16", "24", "32", "61", "80", "160", "212", "310", "311", "508", "516", "524")


def _check_signal_line(hea, i: int, fields: list[str]) -> None:
    """Refuse a signal line whose storage format wfdb cannot decode (it said only ``KeyError: '99'``)
    or whose ADC gain is no finite number (``nan``, ``inf``: wfdb read it as the default gain 200 and
    the word as the unit, a wrong signal without a word). Fields: ``file format[xN][:skew][+offset]
    gain[(baseline)][/units] ...``."""
    name = " ".join(fields[8:]) or f"{i}"
    if len(fields) >= 2 and fields[0] != "~":   # "~": a layout header's signal, no samples (format 0)
        fmt = re.match(r"\d*", fields[1]).group()
        if fmt not in WFDB_FORMATS:
            raise ReadError(hea, f"signal {name}: storage format {fields[1]!r} is not one wfdb reads "
                                 f"({', '.join(WFDB_FORMATS)})")
    if len(fields) >= 3:
        gain_text = re.split(r"[(/]", fields[2], maxsplit=1)[0]
        try:
            gain = float(gain_text) if gain_text else 0.0
        except ValueError:
            gain = float("nan")
        if not math.isfinite(gain):
            raise ReadError(hea, f"signal {name}: ADC gain {gain_text!r} is not a finite number "
                                 "(digital units per physical unit)")


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
        if not fmts <= set(_BYTES_PER_SAMPLE):
            continue  # a compressed format
        offset = max(header.byte_offset[i] or 0 for i in idx)
        spf = [header.samps_per_frame[i] or 1 for i in idx]
        per_frame = sum(s * _BYTES_PER_SAMPLE[header.fmt[i]] for s, i in zip(spf, idx))
        if header.sig_len is None:   # length taken from the file: a partial last frame is dropped
            _refuse_cut_310_group(hea_path, header, name, fmts, os.path.getsize(sig_path) - offset, per_frame)
            _warn_partial_frame(hea_path, name, os.path.getsize(sig_path) - offset, per_frame)
            continue
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


def _refuse_cut_310_group(hea_path: pathlib.Path, header, name: str, fmts: set, data_bytes: int,
                          per_frame: float) -> None:
    """Refuse a format-310 file without a header length that ends 3 bytes into a 4-byte group: wfdb's
    decoder fails on it with a NumPy broadcasting message (every other partial group reads, checked for
    310 and 311 at 1-5 signals); the message gives the record line a length wfdb reads (its whole frames)."""
    if fmts == {"310"} and data_bytes % 4 == 3:
        # wfdb decodes the group's first sample, not its second: the length it reads is one sample past the groups
        frames = int((3 * (data_bytes // 4) + 1) // round(per_frame * 3 / 4))
        raise ReadError(hea_path, f"signal file {name} (format 310) ends 3 bytes into a 4-byte group (a file cut "
                                  f"short?) and the header gives no signal length: wfdb cannot decode it; to read "
                                  f"its {frames} whole frames, give the record line a length: "
                                  f"'{header.record_name} {header.n_sig} {header.fs:g} {frames}'")


def _warn_partial_frame(hea_path: pathlib.Path, name: str, data_bytes: int, per_frame: float) -> None:
    """Warn when a signal file whose header gives no length ends inside a frame: wfdb (and
    :mod:`.wfdb_native`) read the whole frames and drop the bytes after them without a word, the
    mark of a file cut short (a header with a length is checked against it instead)."""
    frames = int(data_bytes // per_frame)
    left = data_bytes - math.ceil(frames * per_frame - 1e-9)
    if left > 0:
        log.warning("%s: signal file %s ends %d byte(s) into a frame after %d whole frame(s): those bytes are "
                    "not read (a file cut short? the header gives no length to check it against)",
                    hea_path, name, left, frames)
