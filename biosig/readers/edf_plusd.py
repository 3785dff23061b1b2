"""EDF+D and BDF+D (discontinuous) files, and EDF/BDF files whose header says -1 data records,
which pyedflib refuses, decoded with NumPy.

Layout (EDF+ specification, https://www.edfplus.info/specs/edfplus.html): a 256-byte fixed header,
256 bytes per signal (label, transducer, unit, physical min/max, digital min/max, prefiltering,
samples per data record, reserved; each field one block for all signals), then the data records:
per record, each signal's samples in turn, int16 little-endian (BDF: int24). Physical value =
(digital - dmin) * (pmax - pmin) / (dmax - dmin) + pmin. The ``EDF Annotations`` signal holds
time-stamped annotation lists (TALs, ``+onset[\\x15duration]\\x14text\\x14...\\x00``); the first
TAL of each data record gives the record's onset in seconds.

Each record's samples are placed at its onset on the file's time grid (rounded to the nearest
sample of the channel, with one warning saying by how much when an onset is off the grid); the time between records that do not touch is NaN, as a WFDB
multi-segment record's gap segments are, so window ``valid_fraction`` and quality see it.

A header whose number of data records is -1 (allowed by the EDF spec while the recording is being
written; a writer that stopped before finishing the header leaves it so) is read here too, EDF+D or
not: the number of records is the number of whole records the file holds, and a trailing partial
record (the writer stopped in the middle of one) is dropped with one warning naming its bytes.
Without an ``EDF Annotations`` signal (plain EDF) or in an EDF+C file, the records follow each other
without holes.
"""
from __future__ import annotations

import datetime as dt
import logging
import re

import numpy as np

from biosig.errors import ReadError
from biosig.readers.edf_checks import check_record_layout, warn_bytes_after_records

log = logging.getLogger(__name__)

#: Fields of the per-signal header block: (name, width in bytes).
_SIGNAL_FIELDS = (("label", 16), ("transducer", 80), ("unit", 8), ("pmin", 8), ("pmax", 8),
                  ("dmin", 8), ("dmax", 8), ("prefilter", 80), ("spr", 8), ("reserved", 32))
_TAL_ONSET = re.compile(r"^([+-]\d+(?:\.\d*)?)(?:\x15(\d+(?:\.\d*)?))?$")


def read_header_bytes(path) -> bytes:
    """The fixed header and the signal headers of an EDF/BDF file in one read: 256 + 256 x ns bytes
    (ns: the header's number of signals; the fixed 256 alone where it is no number, fewer where the
    file is shorter). :func:`biosig.readers.edf_format.read_edf` hands them to the checks below and
    to its size check, which each opened the file and read them again (up to five reads of a header:
    25.9 kB each for 100 signals). An OSError is the caller's."""
    with open(path, "rb") as fh:
        raw = fh.read(256)
        ns = signal_count(raw) or 0
        return raw + fh.read(256 * ns) if ns > 0 else raw


def signal_count(raw: bytes) -> int | None:
    """The number of signals of header bytes ``raw`` (bytes 252-256, an integer in ASCII), or None
    where ``raw`` is shorter than the fixed header or the field is no integer (damaged or cut). Said
    once for :func:`read_header_bytes`, :func:`not_strict_header` and ``edf_format._check_size``, which
    each parsed it; a count below 1 is returned as it is, for the caller to refuse. :func:`edf_header` keeps its own parse,
    which names the damaged field in its ReadError."""
    if len(raw) < 256:
        return None
    try:
        return int(raw[252:256].decode("latin-1").strip())
    except ValueError:
        return None


def _header(source) -> bytes:
    """``source`` itself where it is header bytes (:func:`read_header_bytes`), else the header bytes
    of the file at that path (b'' where it cannot be read)."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    try:
        return read_header_bytes(source)
    except OSError:
        return b""


def is_discontinuous(source) -> bool:
    """Whether the header's reserved field says EDF+D / BDF+D (``source``: a path or header bytes)."""
    head = _header(source)
    return len(head) >= 256 and head[192:197] in (b"EDF+D", b"BDF+D")


def unknown_record_count(source) -> bool:
    """Whether the header's number of data records is -1 (unknown: the file's size tells);
    ``source``: a path or header bytes."""
    head = _header(source)
    return len(head) >= 256 and head[236:244].strip() == b"-1"


def _number(path, text: str, what: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ReadError(path, f"malformed EDF header: {what} {text.strip()!r} is not a number") from None


def _text(field: bytes) -> str:
    """A header field's text: UTF-8 where its bytes are (``\xc2\xb5V``, µV), else Latin-1 (``\xb5V``):
    the two ways writers put letters outside ASCII into the ASCII header."""
    try:
        return field.decode("utf-8")
    except UnicodeDecodeError:
        return field.decode("latin-1")


#: The fixed header's fields after the version: (name, first byte, end byte).
_FIXED_FIELDS = (("patient identification", 8, 88), ("recording identification", 88, 168),
                 ("start date", 168, 176), ("start time", 176, 184), ("header size", 184, 192),
                 ("reserved field", 192, 236), ("number of data records", 236, 244),
                 ("data record duration", 244, 252), ("number of signals", 252, 256))
_DATE_OTHER_SEPARATOR = re.compile(rb"^\d\d[:/\-]\d\d[:/\-]\d\d$")


def not_strict_header(source) -> str:
    """What in an EDF/BDF header (``source``: a path or :func:`read_header_bytes`) pyedflib refuses
    although biosig can read the file ('' where nothing): a byte outside printable ASCII in a text
    field (the EDF spec asks for ASCII; acquisition software writes ``µV``, ``°C`` and patient names
    in Latin-1 or UTF-8), or a start date or time
    with ``/``, ``:`` or ``-`` between its numbers instead of ``.``. A header too short or without a
    number of signals is left to pyedflib to report."""
    raw = _header(source)
    ns = signal_count(raw)
    if ns is None or ns < 1 or len(raw) < 256 * (ns + 1):
        return ""
    raw = raw[:256 * (ns + 1)]
    # the first byte outside printable ASCII after the version, found by NumPy: a Python loop over a
    # 100-signal header's 25.9 kB and five reads of it took 1.9 ms, now 0.05 (bench_edf_header.py)
    codes = np.frombuffer(raw, dtype=np.uint8, offset=8)
    outside = np.flatnonzero((codes < 0x20) | (codes > 0x7E))
    if outside.size:
        bad = 8 + int(outside[0])
        if bad < 256:
            where, lo, hi = next(f for f in _FIXED_FIELDS if f[1] <= bad < f[2])
        else:
            pos = 256
            for name, width in _SIGNAL_FIELDS:
                if bad < pos + width * ns:
                    i = (bad - pos) // width
                    lo, hi = pos + i * width, pos + (i + 1) * width
                    where = f"signal {i + 1}'s {name}"
                    break
                pos += width * ns
        return f"the header's {where} {_text(raw[lo:hi]).strip()[:40]!r} is not printable ASCII"
    for name, lo in (("start date", 168), ("start time", 176)):
        if _DATE_OTHER_SEPARATOR.match(raw[lo:lo + 8]):
            return f"the header's {name} {raw[lo:lo + 8].decode('ascii')!r} is not written with '.'"
    return ""


def scaling(path, f: dict, i: int) -> tuple[float, float, float, float]:
    """``(pmin, pmax, dmin, dmax)`` of signal ``i`` of the header fields ``f``; a ReadError where they
    cannot scale its samples: equal digital limits (a division by zero) or equal physical ones (every
    sample read as the minimum: a constant where the file holds a signal; pyedflib refuses it)."""
    pmin, pmax = _number(path, f["pmin"][i], "physical minimum"), _number(path, f["pmax"][i], "physical maximum")
    dmin, dmax = _number(path, f["dmin"][i], "digital minimum"), _number(path, f["dmax"][i], "digital maximum")
    if dmax == dmin:
        raise ReadError(path, f"signal {f['label'][i].strip()!r}: digital minimum equals maximum ({dmin:g})")
    if dmin > dmax:   # pyedflib reads it so too: a signal upside down where the two were swapped
        log.warning("%s: signal %r: digital minimum %g is above its maximum %g (the EDF spec asks for min < max): "
                    "scaled as the header says, which turns the signal upside down if the two were swapped",
                    path, f["label"][i].strip(), dmin, dmax)
    if pmax == pmin:
        raise ReadError(path, f"signal {f['label'][i].strip()!r}: physical minimum equals maximum ({pmin:g}): "
                              "its samples cannot be scaled to physical units")
    return pmin, pmax, dmin, dmax


def edf_header(path, raw: bytes):
    """(number of signals, the 256-byte fixed header as text, {field: [value per signal]}) of the raw
    header bytes ``raw`` (at least 256 * (signals + 1) of them); a malformed one is a ReadError."""
    ns = int(_number(path, raw[252:256].decode("latin-1"), "number of signals"))
    need = 256 * (ns + 1)
    if ns < 1:
        raise ReadError(path, f"malformed EDF header: number of signals {ns} (at least 1 expected)")
    if len(raw) < need:
        raise ReadError(path, f"malformed EDF header: {ns} signals need {need} header bytes, the file has {len(raw)}")
    fields, pos = {}, 256
    for name, width in _SIGNAL_FIELDS:
        # NUL padding (some writers pad with it, not with blanks) is padding too
        fields[name] = [_text(raw[pos + i * width:pos + (i + 1) * width]).replace("\x00", " ").strip()
                        for i in range(ns)]
        pos += width * ns
    head = raw[:256].decode("latin-1")
    return ns, head, fields


def start_unknown(head) -> bool:
    """Whether an EDF+/BDF+ fixed header (bytes or text) says its start date is unknown: its local
    recording identification starts with ``Startdate X`` (EDF+ spec 2.1.3.2: unknown subfields are
    ``X``); the header's own startdate/starttime then carry no time (by convention 01.01.85 00.00.00)."""
    field = head[88:168].decode("latin-1") if isinstance(head, bytes) else head[88:168]
    return field.split()[:2] == ["Startdate", "X"]


def header_start_unknown(source) -> bool:
    """:func:`start_unknown` of the file at ``source`` (a path or header bytes)."""
    head = _header(source)
    return len(head) >= 256 and start_unknown(head)


def _start(head: str, first_onset_s: float) -> dt.datetime | None:
    """Start date and time of the header (dd.mm.yy hh.mm.ss; years 85-99 are 19xx), plus the
    first record's onset (EDF+'s sub-second start); None where EDF+ says ``Startdate X`` (unknown)."""
    if start_unknown(head):
        return None
    try:
        d, m, y = (int(v) for v in re.split(r"[.:/-]", head[168:176]))   # '.' in the spec; '/' and ':' seen
        hh, mm, ss = (int(v) for v in re.split(r"[.:/-]", head[176:184]))
        start = dt.datetime(1900 + y if y >= 85 else 2000 + y, m, d, hh, mm, ss)
    except ValueError:
        return None
    return start + dt.timedelta(seconds=first_onset_s)


def _tals(path, block: bytes, record: int):
    """(onset s, duration s, texts) of each TAL in one data record's annotation bytes."""
    out = []
    for tal in block.split(b"\x00"):
        if not tal.strip(b"\x00"):
            continue
        parts = tal.decode("utf-8", errors="replace").split("\x14")
        m = _TAL_ONSET.match(parts[0])
        if m is None:
            raise ReadError(path, f"malformed EDF+ annotation in data record {record + 1}: {parts[0][:40]!r}")
        out.append((float(m.group(1)), float(m.group(2) or 0.0), parts[1:-1] if len(parts) > 1 else []))
    return out


_BLOCK_BYTES = 1 << 20   # data records are read about 1 MiB at a time


def _record_blocks(path, header_bytes: int, record_bytes: int, n_records: int):
    """(first record, (records, record_bytes) uint8 array) for the data records of the file, about
    :data:`_BLOCK_BYTES` at a time (one record at least): the whole file was held as one bytes object."""
    per = max(1, _BLOCK_BYTES // max(record_bytes, 1))
    with open(path, "rb") as fh:
        fh.seek(header_bytes)
        for r0 in range(0, n_records, per):
            k = min(per, n_records - r0)
            yield r0, np.frombuffer(fh.read(k * record_bytes), dtype=np.uint8).reshape(k, record_bytes)


def _digital(block: np.ndarray, lo: int, hi: int, spr: int, bdf: bool) -> np.ndarray:
    """One signal's digital samples (records, spr) of a block of data records (its bytes ``lo:hi`` of each)."""
    seg = block[:, lo:hi]
    if bdf:
        b = seg.reshape(len(block), spr, 3).astype(np.int32)
        digital = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
        return np.where(digital >= 1 << 23, digital - (1 << 24), digital)
    return np.ascontiguousarray(seg).view("<i2").reshape(len(block), spr)


def read_records(path):
    """(names, rates Hz, units, channels with NaN gaps, annotation onsets s, durations s, texts, start
    datetime, number of holes) of an EDF+D/BDF+D file, or of an EDF/BDF file whose header says -1 data
    records (plain EDF/BDF: records back to back from time 0); time 0 is the first data record's onset.

    The channels are one float32 (C, T) array where every signal has one rate (each value computed in
    float64 and rounded once, as the float64 channels were before
    :func:`biosig.readers.edf_format.read_edf` stacked them), else a list of arrays, one per signal:
    float32 at the highest rate (rounded once so too), float64 below it (resampled in float64). The data records are read in blocks (:func:`_record_blocks`): a 24 h record was held
    whole as bytes and as float64 channels.
    """
    raw = read_header_bytes(path)
    ns, head, f = edf_header(path, raw)
    with open(path, "rb") as fh:
        file_bytes = fh.seek(0, 2)
    bdf = raw[:1] == b"\xff"
    width = 3 if bdf else 2
    header_bytes = 256 * (ns + 1)
    discontinuous = head[192:197] in ("EDF+D", "BDF+D")
    kind = head[192:197] if head[192:197] in ("EDF+D", "BDF+D", "EDF+C", "BDF+C") else ("BDF" if bdf else "EDF")
    record_s = _number(path, head[244:252], "data record duration")
    spr = [int(_number(path, s, "samples per data record")) for s in f["spr"]]
    is_ann = [lab in ("EDF Annotations", "BDF Annotations") for lab in f["label"]]
    check_record_layout(path, raw[:256], f["label"], spr, [not a for a in is_ann])   # 0 samples: a rate of 0 Hz
    if discontinuous and not any(is_ann):
        raise ReadError(path, f"an {kind} file without an 'EDF Annotations' signal: the data records' onsets are unknown")
    if not record_s > 0:
        raise ReadError(path, f"an {kind} file needs a data record duration > 0 s, the header says {record_s:g}")
    record_bytes = sum(spr) * width
    n_records = int(_number(path, head[236:244], "number of data records"))
    have = max(0, file_bytes - header_bytes) // record_bytes if record_bytes > 0 else 0
    if n_records == -1:   # the writer did not finish the header (still recording, or stopped): the size tells
        n_records = have
        partial = file_bytes - header_bytes - have * record_bytes
        log.info("%s: the header says -1 data records (the writer did not finish it): %d whole record(s) "
                 "of %g s read", path, have, record_s)
        if partial > 0 and record_bytes > 0:
            log.warning("%s: the header says -1 data records and the file ends %d byte(s) into an unfinished "
                        "data record (%d bytes each): those bytes are dropped, %d whole record(s) read",
                        path, partial, record_bytes, have)
    elif n_records < 0:
        raise ReadError(path, f"malformed EDF header: {n_records} data records (-1, unknown, or a count >= 0)")
    elif have < n_records:
        raise ReadError(path, f"truncated {kind} file: the header promises {n_records} "
                              f"data records, the file holds {have}")
    else:
        warn_bytes_after_records(path, file_bytes - header_bytes - n_records * record_bytes, record_bytes, n_records)
    if n_records == 0:
        raise ReadError(path, "the EDF file holds no samples")
    offsets = np.concatenate([[0], np.cumsum(spr)]) * width
    onsets_r, tal_rows = [], []
    blocks = _record_blocks(path, header_bytes, record_bytes, n_records) if any(is_ann) else ()
    for r0, block in blocks:
        for r in range(r0, r0 + len(block)):
            _record_tals(path, block[r - r0], r, offsets, is_ann, onsets_r, tal_rows)
    if not any(is_ann):   # plain EDF: the records follow each other
        onsets_r = [r * record_s for r in range(n_records)]
    t0 = onsets_r[0]
    rel = np.asarray(onsets_r) - t0
    if np.any(np.diff(rel) < record_s - 1e-9):
        k = int(np.flatnonzero(np.diff(rel) < record_s - 1e-9)[0]) + 1
        raise ReadError(path, f"{kind} data record {k + 1} starts at {onsets_r[k]:g} s, before the previous one "
                              f"ends ({onsets_r[k - 1] + record_s:g} s): records overlap or are out of order")
    signals = [int(i) for i in np.flatnonzero(~np.asarray(is_ann))]
    names, units = [f["label"][i] for i in signals], [f["unit"][i] for i in signals]
    rates = [spr[i] / record_s for i in signals]
    scales = [scaling(path, f, i) for i in signals]
    starts = [np.rint(rel * fs).astype(np.int64) for fs in rates]
    # the most a record was moved to put it on its channel's sample grid
    off_grid_s = max((float(np.max(np.abs(rel * fs - st))) / fs for fs, st in zip(rates, starts)), default=0.0)
    lengths = [int(st[-1]) + spr[i] for st, i in zip(starts, signals)]
    one_rate = len(set(rates)) == 1 and len(set(lengths)) == 1
    if one_rate:
        stack = np.full((len(signals), lengths[0] if signals else 0), np.nan, dtype=np.float32)
        chans = list(stack)
    else:
        # float32 where the signal is at the top rate (not resampled: rounded once, as it was later)
        chans = [np.full(n, np.nan, dtype=np.float32 if fs == max(rates) else np.float64)
                 for n, fs in zip(lengths, rates)]
    for r0, block in _record_blocks(path, header_bytes, record_bytes, n_records) if signals else ():
        for c, i in enumerate(signals):
            pmin, pmax, dmin, dmax = scales[c]
            digital = _digital(block, offsets[i], offsets[i + 1], spr[i], bdf)
            phys = digital.astype(np.float64)   # (d - dmin) * scale + pmin, in place: one float64 block
            phys -= dmin
            phys *= (pmax - pmin) / (dmax - dmin)
            phys += pmin
            st, x = starts[c], chans[c]
            if np.array_equal(st[r0:r0 + len(block)], np.arange(r0, r0 + len(block)) * spr[i]):   # back to back
                x[r0 * spr[i]:(r0 + len(block)) * spr[i]] = phys.reshape(-1)
            else:
                for r in range(r0, r0 + len(block)):
                    x[st[r]:st[r] + spr[i]] = phys[r - r0]
            del digital, phys   # not held beside the next signal's
    if one_rate:
        chans = stack
    if off_grid_s > 1e-6:
        log.warning("%s: %s data records start off the sample grid (by up to %.3g ms): each is placed at the "
                    "nearest sample of its channel", path, kind, 1e3 * off_grid_s)
    holes = int(np.sum(np.diff(rel) > record_s + 1e-9))
    if holes:
        log.info("%s: %s with %d hole(s) between data records (%g s in all) left as NaN gaps", path, kind, holes,
                 float(rel[-1] + record_s - n_records * record_s))
    onsets = np.asarray([o - t0 for o, _, _ in tal_rows], dtype=np.float64)
    durations = np.asarray([d for _, d, _ in tal_rows], dtype=np.float64)
    texts = [t for _, _, t in tal_rows]
    return names, rates, units, chans, onsets, durations, texts, _start(head, t0), holes


def _record_tals(path, record: np.ndarray, r: int, offsets, is_ann, onsets_r: list, tal_rows: list) -> None:
    """Append data record ``r``'s onset (its time-keeping TAL) to ``onsets_r`` and its annotations
    (onset, duration, text) to ``tal_rows``; a record without a time-keeping TAL is a ReadError."""
    first = True
    for i in np.flatnonzero(is_ann):
        for onset, duration, texts in _tals(path, record[offsets[i]:offsets[i + 1]].tobytes(), r):
            if first:   # the time-keeping TAL: this record's onset; its first text is empty
                onsets_r.append(onset)
                texts = texts[1:]
                first = False
            tal_rows += [(onset, duration, t) for t in texts if t]
    if first:
        raise ReadError(path, f"data record {r + 1} has no time-keeping annotation (its onset is unknown)")
