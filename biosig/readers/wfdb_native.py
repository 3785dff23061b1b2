"""A NumPy decoder for the common WFDB cases, so that ``biosig info`` does not pay for ``import
wfdb`` (about 1 s: it imports pandas and fsspec) on every call.

Covered: single-segment headers whose signals are all in ``.dat`` files (or ``.mat`` files
written by wfdb2mat: the same sample order after a byte offset) of format 8-bit (80), 16-bit
(16, 61, 160), 212, 24 or 32, one sample per frame, no skew; and MIT-format annotation files.
Everything else (multi-segment and multi-frequency records, skew,
FLAC formats 5xx, 310/311, format 8 differences, annotation files that define their own labels
or time resolution) returns None and :mod:`biosig.readers.wfdb_format` uses ``wfdb`` itself.
The tests compare every covered case with ``wfdb.rdrecord`` / ``wfdb.rdann`` (the oracle).
"""
from __future__ import annotations

import datetime as _dt
import os
import pathlib
import re
from types import SimpleNamespace

import numpy as np

#: Storage formats decoded here, with the digital value WFDB uses for an invalid sample.
NATIVE_FORMATS = {"80": -128, "16": -32768, "61": -32768, "160": -32768, "212": -2048,
                  "24": -8388608, "32": -2147483648}
_DEFAULT_GAIN = 200.0
_SIGNAL_RE = re.compile(
    r"^(?P<file>\S+)\s+(?P<fmt>\d+)(x(?P<spf>\d+))?(:(?P<skew>\d+))?(\+(?P<offset>\d+))?"
    r"(\s+(?P<gain>[-+0-9.eE]+)(\((?P<baseline>-?\d+)\))?(/(?P<units>\S+))?"
    r"(\s+(?P<res>\d+)(\s+(?P<zero>-?\d+)(\s+(?P<init>-?\d+)(\s+(?P<checksum>-?\d+)"
    r"(\s+(?P<block>\d+)(\s+(?P<desc>.*))?)?)?)?)?)?)?$")

#: MIT annotation codes -> symbols (wfdb's ann_label_table; 15 and 17 are undefined).
ANN_SYMBOLS = {0: " ", 1: "N", 2: "L", 3: "R", 4: "a", 5: "V", 6: "F", 7: "J", 8: "A", 9: "S", 10: "E",
               11: "j", 12: "/", 13: "Q", 14: "~", 16: "|", 18: "s", 19: "T", 20: "*", 21: "D", 22: '"',
               23: "=", 24: "p", 25: "B", 26: "^", 27: "t", 28: "+", 29: "u", 30: "?", 31: "!", 32: "[",
               33: "]", 34: "e", 35: "n", 36: "@", 37: "x", 38: "f", 39: "(", 40: ")", 41: "r"}


def parse_header(text: str):
    """A header namespace with wfdb's attribute names, or None when this module does not cover
    the record (multi-segment, several samples per frame, skew, an unusual format or file)."""
    lines = [ln.strip() for ln in text.splitlines()]
    comments = [ln[1:].strip() for ln in lines if ln.startswith("#")]
    body = [ln.split("#", 1)[0].strip() for ln in lines if ln and not ln.startswith("#")]
    body = [ln for ln in body if ln]
    fields = body[0].split()
    if "/" in fields[0] or len(fields) < 2:
        return None
    n_sig = int(fields[1])
    fs = float(re.split(r"[/(]", fields[2], maxsplit=1)[0]) if len(fields) > 2 else 250.0
    if len(fields) > 2 and re.search(r"[/(]", fields[2]):
        return None  # counter frequency / base counter: left to wfdb
    sig_len = int(fields[3]) if len(fields) > 3 else None
    base_time = base_date = None
    try:
        if len(fields) > 4:
            base_time = _dt.time.fromisoformat(_pad_time(fields[4]))
        if len(fields) > 5:
            base_date = _dt.datetime.strptime(fields[5], "%d/%m/%Y").date()
    except ValueError:
        return None
    sig = {k: [] for k in ("file_name", "fmt", "byte_offset", "adc_gain", "baseline", "units", "adc_res",
                           "adc_zero", "init_value", "checksum", "block_size", "sig_name")}
    for i, line in enumerate(body[1:1 + n_sig]):
        m = _SIGNAL_RE.match(line)
        if not m or m["fmt"] not in NATIVE_FORMATS or (m["spf"] and int(m["spf"]) != 1) or \
                (m["skew"] and int(m["skew"])) or not m["file"].lower().endswith((".dat", ".mat")):
            return None
        gain = float(m["gain"]) if m["gain"] else 0.0
        zero = int(m["zero"]) if m["zero"] else 0
        sig["file_name"].append(m["file"])
        sig["fmt"].append(m["fmt"])
        sig["byte_offset"].append(int(m["offset"]) if m["offset"] else 0)
        sig["adc_gain"].append(gain if gain != 0 else _DEFAULT_GAIN)
        sig["baseline"].append(int(m["baseline"]) if m["baseline"] else zero)
        sig["units"].append(m["units"] or "mV")
        sig["adc_res"].append(int(m["res"]) if m["res"] else 0)
        sig["adc_zero"].append(zero)
        sig["init_value"].append(int(m["init"]) if m["init"] else None)
        sig["checksum"].append(int(m["checksum"]) if m["checksum"] else None)
        sig["block_size"].append(int(m["block"]) if m["block"] else 0)
        sig["sig_name"].append((m["desc"] or "").strip() or f"ch{i + 1}")
    if len(sig["fmt"]) != n_sig:
        return None
    return SimpleNamespace(record_name=fields[0], n_sig=n_sig, fs=fs, sig_len=sig_len, base_time=base_time,
                           base_date=base_date, comments=comments, samps_per_frame=[1] * n_sig,
                           skew=[0] * n_sig, **sig)


def _pad_time(text: str) -> str:
    """WFDB times may omit hours and leading zeros (``5:3.25``): make them ISO ``HH:MM:SS``."""
    parts = text.split(":")
    parts = ["0"] * (3 - len(parts)) + parts
    sec, _, frac = parts[2].partition(".")
    return f"{int(parts[0]):02d}:{int(parts[1]):02d}:{int(sec):02d}" + (f".{frac.ljust(6, '0')[:6]}" if frac else "")


def _decode_file(raw: bytes, fmt: str, n: int) -> np.ndarray:
    """Digital samples (frames, n) of one signal file holding ``n`` signals in ``fmt``."""
    if fmt in ("16", "61", "160", "32", "80"):
        dtype = {"16": "<i2", "61": ">i2", "160": "<u2", "32": "<i4", "80": "u1"}[fmt]
        size = np.dtype(dtype).itemsize
        x = np.frombuffer(raw[: len(raw) // size * size], dtype=dtype).astype(np.int64)
        if fmt == "160":
            x -= 32768
        elif fmt == "80":
            x -= 128
    elif fmt == "24":
        b = np.frombuffer(raw[: len(raw) // 3 * 3], dtype=np.uint8).reshape(-1, 3).astype(np.int64)
        x = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x[x >= 1 << 23] -= 1 << 24
    else:  # 212: two 12-bit samples in three bytes
        b = np.frombuffer(raw[: len(raw) // 3 * 3], dtype=np.uint8).reshape(-1, 3).astype(np.int64)
        x = np.empty(2 * len(b), dtype=np.int64)
        x[0::2] = b[:, 0] | ((b[:, 1] & 0x0F) << 8)
        x[1::2] = b[:, 2] | ((b[:, 1] & 0xF0) << 4)
        x[x >= 2048] -= 4096
        tail = raw[len(raw) // 3 * 3:]
        if len(tail) >= 2:  # an odd sample count ends with a half group of two bytes
            last = tail[0] | ((tail[1] & 0x0F) << 8)
            x = np.append(x, last - 4096 if last >= 2048 else last)
    frames = len(x) // n
    return x[: frames * n].reshape(frames, n)


#: Bits per sample of each storage format :func:`_decode_file` decodes.
_BITS = {"80": 8, "16": 16, "61": 16, "160": 16, "212": 12, "24": 24, "32": 32}
#: Frames decoded at a time by :func:`read_physical`: even, so that a 212 chunk ends between byte groups.
CHUNK_FRAMES = 1 << 16


def _frames_held(size: int, fmt: str, n: int) -> int:
    """Whole frames of ``n`` signals that :func:`_decode_file` finds in ``size`` bytes of ``fmt``."""
    if fmt == "212":
        samples = size // 3 * 2 + (size % 3 == 2)
    else:
        samples = size // (_BITS[fmt] // 8)
    return samples // n


def read_physical(folder: pathlib.Path, header) -> tuple[np.ndarray, list[int]]:
    """Physical samples (n_sig, sig_len) float32, NaN for invalid-sample codes, and the per-signal
    checksum mismatches.

    Each value is ``(d - baseline) / gain`` computed in float64 and rounded once to float32, as
    wfdb's physical signal cast to float32 would be; but the files are decoded :data:`CHUNK_FRAMES`
    frames at a time straight into the float32 result, so that a 24 h Holter (43 M samples) needs the
    result (173 MB) and a few MB, not the whole file as bytes, int64 digital samples, a float64 copy
    and its temporaries (about 1 GB).
    """
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(header.file_name):
        groups.setdefault(name, []).append(i)
    fmts = {}
    for name, idx in groups.items():
        kinds = {header.fmt[i] for i in idx}
        if len(kinds) != 1:
            raise NotImplementedError("mixed formats in one file")
        fmts[name] = kinds.pop()
    held = [_frames_held(max(0, os.path.getsize(folder / name) - header.byte_offset[idx[0]]), fmts[name], len(idx))
            for name, idx in groups.items()]
    n = min(held)
    if header.sig_len:
        n = min(n, header.sig_len)   # a file shorter than the header says: reported by the caller
    out = np.empty((header.n_sig, n), dtype=np.float32)
    sums = [0] * header.n_sig
    for name, idx in groups.items():
        fmt, k = fmts[name], len(idx)
        with open(folder / name, "rb") as fh:
            fh.seek(header.byte_offset[idx[0]])
            for start in range(0, n, CHUNK_FRAMES):
                frames = min(CHUNK_FRAMES, n - start)
                d = _decode_file(fh.read((frames * k * _BITS[fmt] + 7) // 8), fmt, k)
                for j, i in enumerate(idx):
                    col = d[:frames, j]
                    sums[i] += int(col.sum())
                    x = (col - header.baseline[i]) / header.adc_gain[i]
                    out[i, start:start + frames] = np.where(col == NATIVE_FORMATS[fmt], np.nan, x)
    mismatch = [i for i, want in enumerate(header.checksum) if want and sums[i] % 65536 != int(want) % 65536]
    return out, mismatch


def read_annotations(path: pathlib.Path):
    """(sample int64, symbols, aux) of an MIT-format annotation file, or None when the file uses
    features left to wfdb (label definitions, time resolution, unknown codes)."""
    data = np.frombuffer(pathlib.Path(path).read_bytes(), dtype=np.uint8)
    if len(data) % 2:
        data = data[:-1]
    words = data[0::2].astype(np.int64) | (data[1::2].astype(np.int64) << 8)
    samples, symbols, aux = [], [], []
    t, i, n = 0, 0, len(words)
    while i < n:
        w = int(words[i])
        code, val = w >> 10, w & 0x3FF
        i += 1
        if code == 0 and val == 0:
            break
        if code == 59:  # SKIP: a 32-bit interval follows, high word first
            if i + 1 >= n:
                return None
            skip = (int(words[i]) << 16) | int(words[i + 1])
            t += skip - (1 << 32) if skip >= 1 << 31 else skip
            i += 2
        elif code in (60, 61, 62):  # NUM, SUB, CHN: not kept
            continue
        elif code == 63:  # AUX for the previous annotation
            nbytes = val
            start = 2 * i
            text = aux_text(bytes(data[start:start + nbytes])).rstrip("\x00")
            i += (nbytes + 1) // 2
            if not samples or text.startswith("## "):
                return None
            aux[-1] = text
        else:
            if code not in ANN_SYMBOLS or code == 0:
                return None
            t += val
            samples.append(t)
            symbols.append(ANN_SYMBOLS[code])
            aux.append("")
    return np.asarray(samples, dtype=np.int64), tuple(symbols), tuple(aux)


def aux_text(raw: bytes) -> str:
    """An annotation's aux bytes as text: UTF-8 where they are valid UTF-8 beyond ASCII (biosig writes
    texts beyond Latin-1 so: ``ритм``, ``→``), else Latin-1, one character a byte, as wfdb.rdann reads
    them (``µ``, ``é``; PhysioNet's files are ASCII)."""
    if not raw.isascii():
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")


def covered(hea_path: pathlib.Path, text: str):
    """The parsed header when the native decoder covers this record and its files exist."""
    try:
        header = parse_header(text)
    except (ValueError, IndexError):
        return None
    if header is None:
        return None
    if not all(os.path.exists(hea_path.parent / f) for f in set(header.file_name)):
        return None  # let the full path produce its own "missing file" report
    return header
