"""The EDF/BDF header's number of signals (bytes 252-256) is parsed once
(:func:`biosig.readers.edf_plusd.signal_count`) for :func:`read_header_bytes` and
:func:`not_strict_header`, which each parsed it; a damaged count reads as before: the same one-line
ReadError from ``biosig.read`` (pyedflib's "number of signals" where the file goes to pyedflib, the
EDF+D decoder's "is not a number" where it does not).

Oracle: the old parse, written out here (``int`` of the stripped Latin-1 field, nothing where the
fixed header is short or the field is no integer)."""
import re

import pyedflib
import pytest

import biosig
from biosig.errors import ReadError
from biosig.readers.edf_plusd import signal_count, not_strict_header, read_header_bytes

from test_readers_bugbash65_edf_header_text import _put, _write

FIELDS = (b"2", b" 2", b"+2", b"ab", b"", b"2.0", b"-1", b"0", b"999", b"1e1", b"\xb2")


def _old_count(raw: bytes):
    try:
        return int(raw[252:256].decode("latin-1").strip()) if len(raw) >= 256 else None
    except ValueError:
        return None


@pytest.fixture(scope="module")
def edf_plus(tmp_path_factory):
    """A 2-signal EDF+C file (3 with its annotations) written by pyedflib, its header with a Latin-1
    unit (not strict)."""
    path = _write(tmp_path_factory.mktemp("edf67") / "ok.edf", pyedflib.FILETYPE_EDFPLUS)
    raw = bytearray(path.read_bytes())
    _put(raw, 256 + (16 + 80) * int(raw[252:256]), 8, b"\xb5V")
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("field", FIELDS)
def test_signal_count_is_the_old_parse(field):
    raw = bytearray(b" " * 256)
    _put(raw, 252, 4, field)
    assert signal_count(bytes(raw)) == _old_count(bytes(raw))
    assert signal_count(bytes(raw[:255])) is None


def test_header_bytes_and_strict_check_follow_the_count(edf_plus, tmp_path):
    raw = edf_plus.read_bytes()
    ns = int(raw[252:256])   # ECG, Temp and pyedflib's EDF Annotations
    assert ns == 3 and read_header_bytes(edf_plus) == raw[:256 * (ns + 1)]
    assert "signal 1's unit" in not_strict_header(edf_plus)
    for field in (b"ab", b"2.0", b"-1", b"0"):   # no usable count: the fixed header alone, no verdict
        damaged = bytearray(raw)
        _put(damaged, 252, 4, field)
        path = tmp_path / "damaged.edf"
        path.write_bytes(bytes(damaged))
        assert read_header_bytes(path) == bytes(damaged[:256])
        assert not_strict_header(path) == "" == not_strict_header(bytes(damaged))


@pytest.mark.parametrize("field, reserved, message", [
    (b"ab", b"EDF+C", "not EDF(+) or BDF(+) compliant (number of signals)"),
    (b"-1", b"EDF+C", "not EDF(+) or BDF(+) compliant (number of signals)"),
    (b"999", b"EDF+C", "truncated EDF header: 999 signals need 256000 header bytes"),
    (b"ab", b"EDF+D", "malformed EDF header: number of signals 'ab' is not a number"),
])
def test_damaged_count_same_error(edf_plus, tmp_path, field, reserved, message):
    damaged = bytearray(edf_plus.read_bytes())
    _put(damaged, 252, 4, field)
    damaged[192:197] = reserved
    path = tmp_path / "damaged.edf"
    path.write_bytes(bytes(damaged))
    with pytest.raises(ReadError, match=re.escape(message)):
        biosig.read(path)
