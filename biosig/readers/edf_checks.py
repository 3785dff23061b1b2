"""EDF/BDF header checks that pyedflib makes without naming the field or the signal, or does not make.

Each was found with a damaged file (bug bash 69):

- a header size (bytes 184-192) that disagrees with the number of signals: pyedflib said "not EDF(+) or
  BDF(+) compliant (Bytes Header)"; a count of signals one too low read a signal header as the next
  field ("physical minimum '' is not a number");
- a signal with 0 samples per data record: pyedflib said "(Sample in Datarecord)", no signal named;
- a data record duration of 0 s with signals: pyedflib's ``getSampleFrequencies`` divided by it
  (a ``ZeroDivisionError`` traceback); a negative one was "(Duration)";
- bytes after the data records the header declares (a writer that did not update the count): read
  by neither pyedflib nor biosig, without a word.
"""
from __future__ import annotations

import logging
import math

from biosig.errors import ReadError

log = logging.getLogger(__name__)


def check_header_size(path, head: bytes, ns: int) -> None:
    """Refuse a header whose size field disagrees with its ``ns`` signals (256 bytes each, plus the fixed
    256); a field that is no integer is left to pyedflib to report."""
    try:
        said = int(head[184:192].decode("latin-1").strip())
    except ValueError:
        return
    need = 256 * (ns + 1)
    if said != need:
        raise ReadError(path, f"malformed EDF header: it says it is {said} bytes long, its {ns} signal(s) "
                              f"need {need} (the header size or the number of signals is damaged)")


def check_record_layout(path, head: bytes, labels, spr: list[int], signal: list[bool]) -> None:
    """Refuse a signal with fewer than 1 sample per data record, and a data record duration that is
    not above 0 s in a file with signals (an annotation-only EDF+ file may say 0, as the spec allows)."""
    for label, n, is_signal in zip(labels, spr, signal):
        if n < 1 and is_signal:
            raise ReadError(path, f"signal {label.strip()!r}: {n} samples per data record (at least 1 expected: "
                                  "its sampling rate would be 0 Hz; the header is damaged)")
    text = head[244:252].decode("latin-1").strip()
    try:
        record_s = float(text)
    except ValueError:
        return
    if any(signal) and not (math.isfinite(record_s) and record_s > 0):
        raise ReadError(path, f"data record duration {text!r} s: a file with signals needs a duration above 0 s "
                              "(each signal's rate is its samples per data record / the duration)")


def warn_bytes_after_records(path, extra: int, record_bytes: int, n_records: int) -> None:
    """Warn of ``extra`` bytes after the ``n_records`` data records the header declares: they are not
    read (the EDF spec makes the header's count the length); whole data records among them are said."""
    if extra <= 0 or record_bytes <= 0:
        return
    whole = extra // record_bytes
    log.warning("%s: %d byte(s) after the %d data record(s) the header declares (%d more whole data record(s) of "
                "%d bytes) are not read: a writer that did not update the header's count?", path, extra, n_records,
                whole, record_bytes)
