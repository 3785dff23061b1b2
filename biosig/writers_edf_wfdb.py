"""EDF+ and WFDB writers of :mod:`biosig.writers`: 16-bit samples under ASCII headers.

EDF+ (pyedflib): each channel over its finite range, annotations as EDF+ text (the label, then its aux
text after a tab; an aux ``duration_s=2`` as the EDF+ duration; texts over pyedflib's 40 bytes written
whole by :mod:`biosig.writers_edf_tal`, up to the 512 pyedflib reads), no start time as EDF+'s unknown
(``Startdate X``). WFDB (wfdb.wrsamp): format 16 with a per-channel gain, NaN as the invalid sample,
annotations as ``.atr`` (a label that is no WFDB code, ``Asystole``, as a comment annotation ``"`` with
the label, then its aux after ``\\x1f``, as its aux text; aux texts beyond Latin-1 as UTF-8 bytes).
Units are written in ASCII (:func:`ascii_unit`) and, for WFDB, in the characters wfdb-python reads
(:func:`wfdb_unit`). Split out of :mod:`biosig.writers`, which re-exports every name; log records keep
that module's logger name.
"""
from __future__ import annotations

import contextlib
import datetime
import io
import logging
import math
import pathlib
import re
import warnings

import numpy as np

from biosig.errors import SignalError, WriteError
from biosig.record import Record, names_text

log = logging.getLogger("biosig.writers")

#: Digital full scale used for WFDB format 16 (leaves headroom below the int16 limit and the
#: invalid-sample code -32768).
WFDB_DIGITAL_MAX = 30000
#: The header start date-time of an EDF+ file whose start is unknown (its recording field says
#: ``Startdate X``): the conventional 01.01.85 00.00.00, the first date EDF's two-digit years hold.
EDF_UNKNOWN_START = datetime.datetime(1985, 1, 1)
#: How pyedflib writes that date in the recording field (English month names, as EDF+ has them).
_EDF_UNKNOWN_STARTDATE = b"Startdate 01-JAN-1985"
#: The longest EDF+ annotation text pyedflib writes (edflib's EDFLIB_WRITE_MAX_ANNOTATION_LEN), in bytes;
#: a longer one is written by :mod:`biosig.writers_edf_tal` (it was cut there, with a warning).
EDF_ANNOTATION_MAX_BYTES = 40
#: An aux text that is an EDF+ annotation's duration (:func:`biosig.readers.edf_format.annotations`).
_EDF_DURATION_AUX = re.compile(r"^(.*?)\s*\bduration_s=([0-9.]+(?:[eE][-+]?\d+)?)$", re.DOTALL)
#: The WFDB comment annotation (NOTE), whose aux text is free: labels that are no WFDB code go there.
WFDB_COMMENT = '"'
#: Between the label and its own aux text in a comment annotation's aux (``cough\x1fdry``): the ASCII unit
#: separator, a character no label holds; wfdb.wrann refuses tabs and newlines in an aux text (the whole
#: ``.atr`` was lost), and a space ran them together (``cough dry`` read back as one label).
WFDB_LABEL_AUX = "\x1f"
#: The longest aux text of a WFDB annotation: its length is one byte (a longer one garbled the ``.atr``).
WFDB_AUX_MAX_CHARS = 255
#: Units outside ASCII in the spelling of the EDF and WFDB standards (their headers are ASCII: wfdb
#: read "µV" as "V" and "°C" as "C"; pyedflib wrote "µV" as "AuV").
_ASCII_UNITS = {"µ": "u", "μ": "u", "°C": "degC", "°F": "degF", "°": "deg", "Ω": "Ohm", "²": "^2", "³": "^3"}


#: What wfdb-python reads in a WFDB header's unit field (its pattern ``[\w^\-?%/]``). The WFDB standard
#: allows any string without whitespace, but wfdb-python ends the unit at any other character and
#: reads the rest of the line as the signal's name: "a.u." came back as unit "a", signal name
#: ".u. 16 0 -4102 60712 0 PLETH" and no resolution. :func:`wfdb_unit` writes such units with ``_``.
_WFDB_UNIT_OTHER = r"[^A-Za-z0-9_^\-?%/]+"


def wfdb_unit(unit: str, path) -> str:
    """``unit`` as a WFDB header holds it for both wfdb-python and PhysioNet's tools: ASCII
    (:func:`ascii_unit`), each run of characters wfdb-python does not read in a unit (``.``, ``*``,
    brackets, spaces) as one ``_`` and none at either end (``a.u.`` -> ``a_u``, ``V(rms)`` -> ``V_rms``);
    ``NU`` for no unit (left empty, WFDB would mean mV)."""
    text = ascii_unit(unit, path, "WFDB")
    core = re.sub(f"^{_WFDB_UNIT_OTHER}|{_WFDB_UNIT_OTHER}$", "", text)
    return re.sub(_WFDB_UNIT_OTHER, "_", core) or "NU"


def ascii_unit(unit: str, path, fmt: str) -> str:
    """``unit`` for an ASCII header (``µV`` -> ``uV``, ``°C`` -> ``degC``); a :class:`WriteError`
    for other characters outside ASCII (never written as something else)."""
    for old, new in _ASCII_UNITS.items():
        unit = unit.replace(old, new)
    if not unit.isascii():
        raise WriteError(path, f"{fmt} units are ASCII, and {unit!r} is not; give the unit in ASCII "
                               "(Record.replace(units=...))")
    return unit


def _check_no_inf(x: np.ndarray, path, fmt: str) -> None:
    """:class:`WriteError` where ``x`` holds +-inf: 16-bit formats have no code for it (it was an
    IndexError from wfdb or an OverflowError from pyedflib)."""
    bad = np.isinf(x)
    if bad.any():
        c, t = map(int, np.argwhere(bad)[0])
        raise WriteError(path, f"{fmt} cannot hold infinite samples ({int(bad.sum())}, the first in channel {c} "
                               f"at sample {t}); set them to NaN (a gap) or clip them first")


def _check_uniform(record: Record, path, fmt: str) -> None:
    if record.times_s is not None:
        raise WriteError(path, f"{fmt} needs uniformly sampled data; this record has irregular "
                               "sample times (write .csv or .parquet to keep them)")


def _write_edf(record: Record, path: pathlib.Path) -> pathlib.Path:
    """EDF+ with pyedflib: 16-bit samples spanning each channel's finite range; annotations kept."""
    import pyedflib

    _check_uniform(record, path, "EDF")
    x = record.samples.astype(np.float64)
    if np.isnan(x).any():
        raise WriteError(path, "EDF cannot hold NaN gaps; fill or cut them first (or write .csv/.parquet/WFDB)")
    _check_no_inf(x, path, "EDF")
    labels = [name[:16] for name in record.channels]
    if len(set(labels)) < len(labels):   # EDF labels hold 16 characters: two channels would read back alike
        raise WriteError(path, f"EDF channel labels hold 16 characters and {names_text(record.channels)} "
                               "are not told apart in their first 16; rename them (Record.replace(channels=...))")
    headers = []
    for name, unit, row in zip(record.channels, record.units, x):
        lo, hi = (float(row.min()), float(row.max())) if row.size else (0.0, 0.0)
        pad = max((hi - lo) * 1e-3, 1e-6)
        headers.append({"label": name[:16], "dimension": ascii_unit(unit, path, "EDF")[:8],
                        "sample_frequency": record.fs_hz,
                        "physical_min": _edf_number(lo - pad, math.floor),
                        "physical_max": _edf_number(hi + pad, math.ceil),
                        "digital_min": -32768, "digital_max": 32767})
    ann = _edf_annotations(record.annotations, path) if record.annotations is not None else []
    # a text over pyedflib's 40 bytes: every annotation written after it (:mod:`biosig.writers_edf_tal`)
    long_texts = any(len(text.encode("utf-8")) > EDF_ANNOTATION_MAX_BYTES for _, _, text in ann)
    writer = pyedflib.EdfWriter(str(path), record.n_channels, file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        duration_s = _edf_record_duration_s(record.n_samples, record.fs_hz)
        if duration_s is not None:
            with warnings.catch_warnings():   # "forcing a record duration": chosen so that fs * duration is whole
                warnings.simplefilter("ignore")
                # pyedflib stores int(duration * 100000) units of 10 us: 0.292 s became 29199 (0.29199 s, the
                # record read back at 250.0086 Hz); a hair above the whole number of units it is
                writer.setDatarecordDuration((round(duration_s * 100_000) + 1e-6) / 100_000)
        elif not _whole_records(record.n_samples, record.fs_hz):
            log.warning("%s: %d samples at %g Hz are no whole number of EDF data records; the last record is "
                        "padded and reads back longer", path, record.n_samples, record.fs_hz)
        writer.setSignalHeaders(headers)
        n_ann = 0 if long_texts else len(ann)
        if n_ann:  # EDF+ stores annotations in per-second slots: reserve enough of them
            writer.set_number_of_annotation_signals(int(min(64, max(1, math.ceil(3 * n_ann / max(record.duration_s, 1))))))
        # no start time: EDF+'s "unknown" (pyedflib would stamp the time of writing, a made-up start)
        _edf_start(writer, record.start_time if record.start_time is not None else EDF_UNKNOWN_START, path)
        writer.writeSamples([np.ascontiguousarray(row) for row in x])
        for s, duration_s, text in ann if not long_texts else ():
            writer.writeAnnotation(float(s) / record.fs_hz, duration_s, text)
    except (ValueError, TypeError, OSError) as exc:
        raise WriteError(path, f"pyedflib refused the record ({exc})") from None
    finally:
        writer.close()
    if long_texts:
        from biosig.writers_edf_tal import rewrite_annotations

        rewrite_annotations(path, [(float(s) / record.fs_hz, d, text) for s, d, text in ann])
    if record.start_time is None:
        _edf_mark_start_unknown(path)
    return path


def _edf_annotations(ann, path) -> list[tuple[int, float, str]]:
    """(sample, duration s or -1, text) of each annotation as EDF+ holds it: the label, then its aux text
    after a tab (``+<TAB>(AFIB``, read back apart: :func:`biosig.readers.edf_format.annotations`); an aux
    ending in ``duration_s=2`` (an EDF+ duration as biosig reads it) as the duration. A text of
    EDF+'s separators (NUL, 0x14, 0x15) is refused naming it (it would end its TAL early); one over
    :data:`biosig.writers_edf_tal.EDF_READ_MAX_ANNOTATION_BYTES` too (pyedflib reads it back cut)."""
    from biosig.writers_edf_tal import EDF_READ_MAX_ANNOTATION_BYTES

    aux = ann.aux or ("",) * len(ann)
    out = []
    for s, sym, extra in zip(ann.sample, ann.symbol, aux):
        duration = _EDF_DURATION_AUX.match(extra or "")
        extra = duration.group(1) if duration else extra
        text = f"{sym}\t{extra}" if extra else str(sym)
        if re.search("[\x00\x14\x15]", text):
            raise WriteError(path, f"EDF+ annotation text {text!r} (sample {int(s)}) holds a NUL, 0x14 or 0x15 "
                                   "character, EDF+'s separators; replace them (.csv and .parquet keep any text)")
        if len(text.encode("utf-8")) > EDF_READ_MAX_ANNOTATION_BYTES:
            raise WriteError(path, f"EDF+ annotation text {text[:60]!r}... (sample {int(s)}) is "
                                   f"{len(text.encode('utf-8'))} bytes; EDF readers (pyedflib) give back "
                                   f"{EDF_READ_MAX_ANNOTATION_BYTES}; shorten it, or write .csv or .parquet")
        out.append((int(s), float(duration.group(2)) if duration else -1.0, text))
    return out


def _wfdb_annotations(ann, base) -> tuple[list[str], list[str]]:
    """(symbols, aux texts) of the annotations as a WFDB ``.atr`` holds them: a label that is no WFDB
    annotation code (``Asystole``, ``cough``) as the comment annotation :data:`WFDB_COMMENT` with the
    label as its aux text (then its own aux after :data:`WFDB_LABEL_AUX`, read back apart:
    :func:`biosig.readers.wfdb_format._label`), said in a warning; wfdb.wrann refused labels over 3
    characters and the whole ``.atr`` was lost. Each aux text is in the characters wfdb.wrann writes
    as bytes (:func:`_wfdb_aux_bytes`: Latin-1, else UTF-8). An aux text over :data:`WFDB_AUX_MAX_CHARS`
    bytes is cut there, said in a warning (its length byte overflowed: the annotations after it were garbage).
    A text with a tab or line break is refused naming it (wfdb.wrann refused the ``.atr``: all were lost)."""
    from wfdb.io.annotation import ann_label_table

    codes = set(ann_label_table["symbol"])
    aux = ann.aux or ("",) * len(ann)
    symbols, notes, moved = [], [], {}
    for sym, extra in zip(ann.symbol, aux):
        if sym in codes:
            symbols.append(sym)
            notes.append(extra or "")
        else:
            symbols.append(WFDB_COMMENT)
            notes.append(f"{sym}{WFDB_LABEL_AUX}{extra}" if extra else str(sym))
            moved[sym] = None
    for s, n in zip(ann.sample, notes):   # wfdb.wrann refuses them: every annotation was dropped, with a warning
        if re.search("[\t\n\r\f\v]", n):
            raise WriteError(base, f"WFDB annotation text {n!r} (sample {int(s)}) holds a tab or line break, which "
                                   "wfdb does not write; replace them (.csv and .parquet keep any text)")
    on_disk = [_wfdb_aux_bytes(n) for n in notes]
    cut = [n for n, b in zip(notes, on_disk) if len(b) > WFDB_AUX_MAX_CHARS]
    if cut:
        log.warning("%s: %d WFDB annotation aux text(s) longer than %d bytes, cut there (the format holds no "
                    "more; .csv and .parquet keep them whole): %s", base, len(cut), WFDB_AUX_MAX_CHARS,
                    names_text(repr(n[:60] + "...") for n in cut[:3]))
        # a UTF-8 text is cut before the character the limit splits (it would read back as Latin-1)
        on_disk = [b if len(b) <= WFDB_AUX_MAX_CHARS else b[:WFDB_AUX_MAX_CHARS] if _latin1_reads_back(n)
                   else b[:WFDB_AUX_MAX_CHARS].decode("utf-8", "ignore").encode("utf-8")
                   for n, b in zip(notes, on_disk)]
    utf8 = [n for n in notes if n and not _latin1_reads_back(n)]
    if utf8:
        log.warning("%s: %d WFDB annotation aux text(s) beyond Latin-1 written as UTF-8 bytes (biosig reads them "
                    "back; wfdb-python and PhysioNet's tools show the bytes one character each): %s", base,
                    len(utf8), names_text(repr(n) for n in utf8[:3]))
    if moved:
        log.warning("%s: %d annotation label(s) that are no WFDB annotation code written as comment annotations "
                    "('%s', the label in its aux text): %s", base, len(moved), WFDB_COMMENT, names_text(moved))
    # wfdb.wrann writes each character's code as one byte (mod 256: "→" was written as 0x92, read back
    # "\x92" by wfdb and biosig alike); the bytes are given to it as the characters of those codes
    return symbols, [b.decode("latin-1") for b in on_disk]


def _latin1_reads_back(text: str) -> bool:
    """Whether ``text`` written as Latin-1 bytes reads back as itself: Latin-1, and its bytes are not
    UTF-8 of other characters (the reader takes valid UTF-8 as UTF-8: ``"Ã©"`` would read as ``"é"``)."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    if raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _wfdb_aux_bytes(text: str) -> bytes:
    """The bytes of a WFDB aux text: Latin-1 as wfdb-python writes and reads them (``µ``, ``é``:
    byte-identical to wfdb.wrann), UTF-8 where Latin-1 would not read back (``→``, ``ритм``, emoji,
    a Latin-1 text that is UTF-8 of another); read back by :func:`biosig.readers.wfdb_native.aux_text`."""
    return text.encode("latin-1") if _latin1_reads_back(text) else text.encode("utf-8")


def _edf_mark_start_unknown(path: pathlib.Path) -> None:
    """Write the EDF+ local recording identification's startdate as ``X`` (unknown; EDF+ spec 2.1.3.2),
    where pyedflib wrote the conventional :data:`EDF_UNKNOWN_START` (``Startdate 01-JAN-1985``); read
    back as no start time (:func:`biosig.readers.edf_plusd.start_unknown`)."""
    written = _EDF_UNKNOWN_STARTDATE
    with open(path, "r+b") as fh:
        fh.seek(88)
        field = fh.read(80)
        if not field.startswith(written):
            raise WriteError(path, f"unexpected EDF+ recording field {field.decode('latin-1').rstrip()!r}; "
                                   "cannot mark the start time unknown")
        fh.seek(88)
        fh.write((b"Startdate X" + field[len(written):]).ljust(80)[:80])


def _edf_start(writer, start, path) -> None:
    """Set the EDF+ start date-time to the microsecond. pyedflib (0.1.42) writes the part below a
    second in 100 ns units times 100, not 10: 0.25 s was refused (no error: lost) and 0.05 s written
    as 0.5 s. Its whole seconds are set through pyedflib, the fraction here."""
    writer.setStartdatetime(start.replace(microsecond=0))
    if not start.microsecond:
        return
    try:   # edflib's own setter, 100 ns units (pyedflib's private module: it may move)
        from pyedflib._extensions._pyedflib import set_starttime_subsecond
    except ImportError:
        log.warning("%s: this pyedflib cannot set the start time's fraction of a second; written as %s", path,
                    start.replace(microsecond=0))
        return
    if set_starttime_subsecond(writer.handle, start.microsecond * 10) != 0:
        raise WriteError(path, f"pyedflib refused the start time's fraction of a second ({start.microsecond} us)")


def _whole_records(n_samples: int, fs_hz: float) -> bool:
    """Whether ``n_samples`` fill whole EDF data records of pyedflib's default duration: 1 s at a
    whole rate, else the shortest duration of whole 10 us units holding a whole number of samples
    (33.3 Hz: 10 s of 333; 166 samples were padded to 333 without a word)."""
    if float(fs_hz).is_integer():
        return n_samples % int(fs_hz) == 0
    from fractions import Fraction
    per_unit = Fraction(str(fs_hz)) / 100_000          # samples per 10 us
    return n_samples % per_unit.limit_denominator(10**9).numerator == 0 if per_unit else False


def _edf_record_duration_s(n_samples: int, fs_hz: float) -> float | None:
    """A data record duration (s) for an EDF of ``n_samples`` at a whole ``fs_hz`` that is not a whole
    number of seconds long: the longest, up to 1 s, holding a whole number of samples that divides
    ``n_samples`` and is a whole number of EDF's 10 us units; None where 1 s records fit (pyedflib's
    default) or none does. With 1 s records pyedflib padded the last one: 1000 samples at 256 Hz read
    back as 1024."""
    if not float(fs_hz).is_integer() or n_samples == 0 or n_samples % int(fs_hz) == 0:
        return None
    fs = int(fs_hz)
    best = None
    for k in range(1, min(n_samples, fs) + 1):
        if n_samples % k == 0 and (k * 100_000) % fs == 0 and k * 100_000 // fs >= 100:   # >= 1 ms
            best = k
    return None if best is None else best / fs


def _edf_number(value: float, rounding) -> float:
    """``value`` rounded outward (``math.floor`` or ``math.ceil``) to fit EDF's 8-character field."""
    for decimals in range(6, -1, -1):
        scaled = rounding(value * 10 ** decimals) / 10 ** decimals
        if len(f"{scaled:.{decimals}f}") <= 8:
            return scaled
    raise WriteError("<edf>", f"value {value:g} does not fit EDF's 8-character physical range field")


def _wfdb_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _write_wfdb(record: Record, base: pathlib.Path) -> pathlib.Path:
    import wfdb

    _check_uniform(record, base, "WFDB")
    name = _wfdb_name(base.name)
    if name != base.name:
        raise WriteError(base, f"WFDB record names may hold only ASCII letters, digits and '_', got {base.name!r}")
    x = record.samples.astype(np.float64)
    _check_no_inf(x, base, "WFDB")
    finite = np.where(np.isfinite(x), np.abs(x), 0.0)
    peak = finite.max(axis=1) if x.shape[1] else np.zeros(x.shape[0])
    gain = np.where(peak > 0, WFDB_DIGITAL_MAX / np.where(peak > 0, peak, 1.0), 1.0)
    # Header gains are written with limited digits: round them so that write and read agree.
    gain = np.array([float(f"{g:.6g}") for g in gain])
    units = [wfdb_unit(u, base) for u in record.units]
    respelled = [(u, w) for u, w in zip(record.units, units) if u and w != ascii_unit(u, base, "WFDB")]
    if respelled:
        log.warning("%s: WFDB unit(s) written as %s (wfdb reads letters, digits and _^-?%%/ only in a unit)",
                    base, ", ".join(f"{u!r} -> {w!r}" for u, w in respelled))
    if record.annotations is not None and len(record.annotations):   # refused before any file is written
        symbols, notes = _wfdb_annotations(record.annotations, base)
    comments = [str(c) for c in record.metadata.get("comments", [])]
    kwargs = {}
    if record.start_time is not None:
        kwargs = {"base_time": record.start_time.time(), "base_date": record.start_time.date()}
    d = np.where(np.isnan(x), -32768, np.round(x * gain[:, None])).astype(np.int64)
    if np.any(np.abs(d[d != -32768]) > 32767):
        raise SignalError("samples out of the 16-bit range after scaling")
    fs = record.fs_hz if record.fs_hz != int(record.fs_hz) else int(record.fs_hz)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            wfdb.wrsamp(name, fs=fs, units=units, sig_name=[c or f"ch{i}" for i, c in enumerate(record.channels)],
                        d_signal=d.T.astype(np.int64), fmt=["16"] * record.n_channels, adc_gain=list(gain),
                        baseline=[0] * record.n_channels, comments=comments, write_dir=str(base.parent),
                        **kwargs)
    except (ValueError, TypeError) as exc:
        raise WriteError(base, f"wfdb refused the record ({exc})") from None
    if record.annotations is not None and len(record.annotations):
        a = record.annotations
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                wfdb.wrann(name, "atr", sample=np.asarray(a.sample, dtype=np.int64), symbol=symbols,
                           aux_note=notes if any(notes) else None, fs=fs, write_dir=str(base.parent))
        except (ValueError, TypeError) as exc:  # labels that are not WFDB annotation codes
            log.warning("%s: annotations not written as .atr (%s)", base, exc)
    return base.with_name(name + ".hea")
