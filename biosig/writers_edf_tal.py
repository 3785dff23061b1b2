"""EDF+ annotation texts longer than pyedflib writes, for :mod:`biosig.writers_edf_wfdb`.

pyedflib (edflib) writes at most 40 bytes of an annotation's text (EDFLIB_WRITE_MAX_ANNOTATION_LEN):
"Sleep stage W, arousal after a long apnoea" was written as its first 40. EDF+ itself has no such
limit: an annotation is a time-stamped annotation list (TAL, ``+onset[\\x15duration]\\x14text\\x14\\x00``)
in the ``EDF Annotations`` signal, whose number of bytes per data record the writer chooses
(EDF+ specification 2.2, https://www.edfplus.info/specs/edfplus.html). Where a text is longer,
pyedflib writes the samples and the time-keeping TALs, and :func:`rewrite_annotations` then writes
the file's annotation signal again, wide enough for every TAL whole, placed in the data records in
onset order as edflib places its own (an annotation's TAL need not be in the record of its onset).

Read back whole by pyedflib (up to :data:`EDF_READ_MAX_ANNOTATION_BYTES`), by biosig's own TAL
decoder (:mod:`biosig.readers.edf_plusd`) and by :func:`biosig.read`.
"""
from __future__ import annotations

import math
import pathlib

from biosig.errors import WriteError

#: The longest annotation text pyedflib's reader (edflib, EDFLIB_MAX_ANNOTATION_LEN) gives back whole, in
#: bytes: a longer one was read back cut there (measured with pyedflib 0.1.42: 512 bytes whole, 513 cut).
EDF_READ_MAX_ANNOTATION_BYTES = 512


def _number(value: float) -> str:
    """A TAL number: up to 7 decimals (100 ns, EDF+'s resolution), no trailing zeros."""
    text = f"{value:.7f}".rstrip("0").rstrip(".")
    return text or "0"


def tal(onset_s: float, duration_s: float, text: str) -> bytes:
    """One TAL holding one annotation (a duration < 0: none)."""
    head = ("+" if onset_s >= 0 else "-") + _number(abs(onset_s))
    if duration_s >= 0:
        head += "\x15" + _number(duration_s)
    return (head + "\x14" + text + "\x14").encode("utf-8") + b"\x00"


def rewrite_annotations(path: pathlib.Path, annotations: list[tuple[float, float, str]]) -> None:
    """Write ``annotations`` ((onset s from the file's start, duration s or -1, text), in any order) as
    the ``EDF Annotations`` signal of the EDF+ file ``path``, which pyedflib wrote without them: each
    data record keeps its time-keeping TAL (the record's onset; the first holds the start's fraction of a
    second), then the annotations follow in onset order, as many in each record as fit, the signal
    as wide as that needs (the header's samples per record of the signal set so)."""
    from biosig.readers.edf_plusd import edf_header   # (the reader's header parser; readers import writers)

    raw = path.read_bytes()
    ns, head, fields = edf_header(path, raw)
    n_records = int(head[236:244].strip())
    labels, spr = fields["label"], [int(v) for v in fields["spr"]]
    spr_at = 256 + ns * (16 + 80 + 8 * 5 + 80)   # the samples-per-record block (EDF 1.0 header layout)
    if "EDF Annotations" not in labels or n_records < 1:
        raise WriteError(path, "pyedflib wrote no EDF Annotations signal; the annotations cannot be added")
    a = labels.index("EDF Annotations")
    header_bytes, record_bytes = 256 * (ns + 1), 2 * sum(spr)
    starts = [2 * sum(spr[:i]) for i in range(ns)]
    records = [raw[header_bytes + r * record_bytes:header_bytes + (r + 1) * record_bytes] for r in range(n_records)]
    # the time-keeping TAL of each record, as pyedflib wrote it (up to its NUL)
    keeping = [rec[starts[a]:starts[a] + 2 * spr[a]].split(b"\x00", 1)[0] + b"\x00" for rec in records]
    first_onset_s = float(keeping[0].split(b"\x14", 1)[0].split(b"\x15", 1)[0])   # the start's fraction
    tals = [tal(first_onset_s + onset, duration, text) for onset, duration, text in sorted(annotations)]
    room = max(max(map(len, tals), default=0), math.ceil(sum(map(len, tals)) / n_records))
    while True:   # each record's TALs, in onset order, at most `room` bytes of them per record
        placed, r, used = [[] for _ in range(n_records)], 0, 0
        for t in tals:
            if used + len(t) > room:
                r, used = r + 1, 0
            if r == n_records:
                break
            placed[r].append(t)
            used += len(t)
        else:
            break
        room += max(64, room // 8)
    width = max(len(k) for k in keeping) + room
    new_spr = math.ceil(width / 2)
    if new_spr > 99_999_999:
        raise WriteError(path, "the annotations need more than EDF's 8-digit samples per data record")
    out = bytearray(raw[:header_bytes])
    out[spr_at + 8 * a:spr_at + 8 * (a + 1)] = str(new_spr).ljust(8).encode("ascii")
    for rec, keep, mine in zip(records, keeping, placed):
        block = (keep + b"".join(mine)).ljust(2 * new_spr, b"\x00")
        out += rec[:starts[a]] + block + rec[starts[a] + 2 * spr[a]:]
    path.write_bytes(bytes(out))
