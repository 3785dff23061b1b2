"""EDF, EDF+ and BDF files, read through ``pyedflib`` (EDF+D/BDF+D, and files whose header says -1
data records, through :mod:`.edf_plusd`)."""
from __future__ import annotations

import logging

import numpy as np

from biosig.arguments import file_path
from biosig.errors import ReadError
from biosig.readers.duplicate_names import warn_duplicate_names
from biosig.readers.edf_checks import check_header_size, check_record_layout, warn_bytes_after_records
from biosig.readers.edf_plusd import (edf_header, is_discontinuous, not_strict_header, read_header_bytes,
                                      read_records, scaling, signal_count, start_unknown, unknown_record_count)
from biosig.readers.gap_resample import read_ratio, upsample_keeping_gaps
from biosig.readers.lib_paths import library_path
from biosig.record import Annotations, Record

log = logging.getLogger(__name__)


def read_edf(path) -> Record:
    """Read an EDF, EDF+ or BDF file with pyedflib (physical units, EDF+ annotations kept).

    Signals at different rates are brought to the highest rate with
    :func:`scipy.signal.resample_poly`; the original rates are in ``metadata["channel_fs_hz"]``.
    EDF+ annotations (onset, duration, text) become :class:`Annotations` with symbol = text (a text
    ``label<TAB>aux``, as biosig writes an annotation's aux, is split there; a duration is the aux
    ``duration_s=X``).
    EDF+D / BDF+D (discontinuous) files, which pyedflib refuses, are decoded by
    :mod:`.edf_plusd`: the time between data records that do not touch is NaN. So are files whose
    header says -1 data records (a writer that did not finish the header, as the EDF spec allows
    while recording, which pyedflib refuses): the whole data records the file holds are read, a
    trailing partial one is dropped with a warning, and ``metadata["records_from_file_size"]`` is True.
    So are files whose header pyedflib refuses although the data records are sound
    (:func:`edf_plusd.not_strict_header`): a unit ``µV`` or ``°C``, a patient name or a label
    with a letter outside ASCII (Latin-1 or UTF-8, as Windows acquisition software writes them), a
    start date or time with ``/`` or ``:`` between its numbers; pyedflib said only "not EDF(+) or
    BDF(+) compliant" and nothing was read.
    """
    path = file_path(path)
    meta = {"source": str(path), "format": "edf"}
    head = read_header_bytes(path)   # once: fixed header and signal headers, for every check below
    unknown, discontinuous = unknown_record_count(head), is_discontinuous(head)
    lenient = not (discontinuous or unknown) and not_strict_header(head)
    if lenient:
        log.info("%s: %s, which pyedflib refuses: decoded by biosig's own EDF reader", path, lenient)
    if discontinuous or unknown or lenient:
        names, rates, units, chans, onsets, durations, texts, start, holes = read_records(path)
        if discontinuous:
            meta.update(discontinuous=True, holes=holes)
        if unknown:
            meta["records_from_file_size"] = True
    else:
        names, rates, units, chans, onsets, durations, texts, start = _read_pyedflib(path, head)
    if not names:
        raise ReadError(path, "the EDF file declares no signals (annotations only: nothing to read as signals)")
    warn_duplicate_names(path, names)
    if any(not r > 0 for r in rates):
        raise ReadError(path, f"sampling rate must be > 0 Hz, the file says {rates}")
    fs_hz = max(rates)
    if isinstance(chans, np.ndarray):   # every signal at one rate and length: filled in place (_read_pyedflib)
        samples = chans
    else:
        samples = _stack32(chans, rates, fs_hz)
    n = samples.shape[1]
    if n == 0:
        raise ReadError(path, "the EDF file holds no samples")
    ann = annotations(path, onsets, durations, texts, fs_hz, n)
    meta["channel_fs_hz"] = rates
    return Record(samples=samples.astype(np.float32, copy=False), fs_hz=fs_hz, channels=tuple(names),
                  units=tuple(units), start_time=start, annotations=ann, metadata=meta)


def _stack32(chans: list, rates: list[float], fs_hz: float) -> np.ndarray:
    """The channels (at ``rates``: float64, or float32 at ``fs_hz`` itself) as one float32 (C, T) array at
    ``fs_hz``, cut to the shortest.

    Each channel is rounded once from float64, as ``np.stack(...).astype(np.float32)`` would, and is
    dropped from ``chans`` once copied. The output is allocated first (its length is known: resampling
    by up/down gives ceil(n * up / down) samples) and one channel at a time is upsampled into it: every
    upsampled float64 channel was held until the last was done (1 h EDF+D at 256/128/100 Hz: peak 108 MiB).
    """
    ratios = [None if r == fs_hz else read_ratio(fs_hz, r) for r in rates]
    n = min(len(x) if q is None else -(-len(x) * q[0] // q[1]) for x, q in zip(chans, ratios))
    samples = np.empty((len(chans), n), dtype=np.float32)
    for i, q in enumerate(ratios):
        x, chans[i] = chans[i], None
        samples[i] = (x if q is None else upsample_keeping_gaps(x, *q))[:n]
        del x
    return samples


def _read_signals32(reader, n_signals: int) -> np.ndarray:
    """Every signal of ``reader`` (one rate, one length) as float32 (C, T), read in blocks: pyedflib's
    float64 values, each rounded once to float32, without a float64 copy of the whole file."""
    length = int(reader.getNSamples()[0])
    out = np.empty((n_signals, length), dtype=np.float32)
    step = 1 << 18   # 2 MB of float64 at a time
    for i in range(n_signals):
        for start in range(0, length, step):
            m = min(step, length - start)
            out[i, start:start + m] = reader.readSignal(i, start, m)
    return out


def _check_size(path, raw: bytes) -> None:
    """Refuse a file shorter than its header's data records, before pyedflib sees it (``raw``: its
    header bytes, :func:`edf_plusd.read_header_bytes`).

    pyedflib refuses such a file too, but its C code first prints ``filesize N != ...`` on the
    process's stdout (corrupting ``biosig info --json``) and its message says only "not
    compliant (Filesize)". A header that cannot be parsed is left to pyedflib to report.
    """
    import os

    head = raw[:256]
    if len(head) < 256:
        raise ReadError(path, f"truncated EDF header: {len(head)} bytes, the fixed header alone has 256")
    ns = signal_count(head)
    try:
        n_records = int(head[236:244].decode("latin-1").strip())
    except ValueError:
        return
    if ns is None or ns < 1 or n_records < 0:
        return
    if os.path.getsize(path) < 256 * (ns + 1):
        raise ReadError(path, f"truncated EDF header: {ns} signals need {256 * (ns + 1)} header bytes, "
                              f"the file holds {os.path.getsize(path)}")
    check_header_size(path, head, ns)   # pyedflib: "(Bytes Header)"; or a damaged field read as a number
    if n_records == 0:   # pyedflib: "not ... compliant (Number of Datarecords)"
        raise ReadError(path, "the EDF file holds no samples: the header says 0 data records")
    raw = raw[:256 * (ns + 1)]
    _, _, fields = edf_header(path, raw)   # the signal fields as the EDF+D reader parses them
    signal = [label.strip() not in ("EDF Annotations", "BDF Annotations") for label in fields["label"]]
    for i in np.flatnonzero(signal):   # pyedflib: "not ... compliant (Physical Maximum)", no signal named
        scaling(path, fields, i)
    try:
        spr = [int(v) for v in fields["spr"]]
    except ValueError:
        return
    check_record_layout(path, head, fields["label"], spr, signal)
    width = 3 if head[:1] == b"\xff" else 2   # BDF: 24-bit samples
    header_bytes, record_bytes = 256 * (ns + 1), sum(spr) * width
    need, have = header_bytes + n_records * record_bytes, os.path.getsize(path)
    if record_bytes > 0 and have < need:
        whole = max(0, (have - header_bytes) // record_bytes)
        raise ReadError(path, f"truncated EDF file or the header lies about the length: the header promises "
                              f"{n_records} data records ({need} bytes), the file holds {have} bytes "
                              f"({whole} complete data record{'s' if whole != 1 else ''})")
    warn_bytes_after_records(path, have - need, record_bytes, n_records)


def _read_pyedflib(path, head: bytes):
    import pyedflib

    _check_size(path, head)
    source = str(path)
    try:
        with library_path(path) as source:   # the file stays open in the reader; the stand-in may go
            reader = pyedflib.EdfReader(source)
    except OSError as exc:   # pyedflib's text starts with the path: kept once
        problem = str(exc).split(": ", 1)[-1] if str(exc).startswith((str(path), source)) else str(exc)
        raise ReadError(path, f"not a readable EDF/BDF file ({problem})") from None
    try:
        names = [s.strip() for s in reader.getSignalLabels()]
        rates = [float(r) for r in reader.getSampleFrequencies()]
        units = [reader.getPhysicalDimension(i).strip() for i in range(len(names))]
        if not names or any(not r > 0 for r in rates):
            return names, rates, units, [], [], [], [], None
        if len(set(rates)) == 1 and len(set(int(k) for k in reader.getNSamples())) == 1:
            chans = _read_signals32(reader, len(names))   # the common case: straight into the record's array
        else:
            # float32 at once where the signal is not resampled (_stack32 rounds it so anyway)
            chans = [np.asarray(reader.readSignal(i), dtype=np.float32 if r == max(rates) else np.float64)
                     for i, r in enumerate(rates)]
        onsets, durations, texts = reader.readAnnotations()
        start = None if start_unknown(head[:256]) else _start_datetime(reader)   # EDF+ "Startdate X"
        return names, rates, units, chans, onsets, durations, texts, start
    finally:
        reader.close()


def _start_datetime(reader):
    """The EDF(+) start date-time to the microsecond. pyedflib's ``getStartdatetime`` (0.1.42) turns
    the fraction of a second (EDF+'s first onset, in 100 ns units) into microseconds dividing by 100,
    not 10: a start at 10:00:00.25 read as 10:00:00.025."""
    from datetime import datetime, timedelta

    whole = datetime(reader.startdate_year, reader.startdate_month, reader.startdate_day,
                     reader.starttime_hour, reader.starttime_minute, reader.starttime_second)
    return whole + timedelta(microseconds=round(int(reader.starttime_subsecond) / 10))


def annotations(path, onsets, durations, texts, fs_hz: float, n_samples: int) -> Annotations | None:
    """EDF+ annotations (onset s, duration s, text) at the record's rate; those whose onset lies
    before the record's start or at or after its end are dropped with one warning (as the WFDB
    reader does): a sample number outside the record points at no sample."""
    if not len(onsets):
        return None
    sample = np.round(np.asarray(onsets, dtype=np.float64) * fs_hz).astype(np.int64)
    keep = np.flatnonzero((sample >= 0) & (sample < n_samples))
    if len(keep) < len(sample):
        log.warning("%s: %d EDF+ annotation(s) outside the record dropped (onset before 0 s or at or after "
                    "its end, %g s)", path, len(sample) - len(keep), n_samples / fs_hz)
    if not len(keep):
        return None
    # "+<TAB>(AFIB": a label and its aux text, as biosig writes them (:mod:`biosig.writers_edf_wfdb`)
    label_aux = [(str(texts[i]).split("\t", 1) + [""])[:2] for i in keep]
    aux = [" ".join(filter(None, (extra, f"duration_s={durations[i]:g}" if durations[i] > 0 else "")))
           for (_, extra), i in zip(label_aux, keep)]
    return Annotations(sample=sample[keep], symbol=tuple(label for label, _ in label_aux), aux=tuple(aux),
                       source="edf+")
