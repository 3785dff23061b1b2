"""WFDB units written so that wfdb-python (the oracle) reads them back as written.

The WFDB standard allows any unit without whitespace, but wfdb-python reads letters, digits and
``_^-?%/`` only: ``a.u.`` (biosig's unit for PPG and respiration) came back from wfdb as ``a``,
with the signal's name ``.u. 16 0 ...`` and no ADC resolution.
"""
import logging

import numpy as np
import pytest

wfdb = pytest.importorskip("wfdb")

import biosig  # noqa: E402
from biosig.record import Record  # noqa: E402
from biosig.writers import ascii_unit, write  # noqa: E402

#: Every unit biosig's readers, generators and tests give a channel, and a few that hold characters
#: wfdb-python does not read in a unit.
UNITS = ("mV", "uV", "µV", "mmHg", "FS", "NU", "a.u.", "%", "L", "mL/s", "L/s", "mL", "degC", "°C", "bpm",
         "1/min", "cmH2O", "m/s^2", "g", "Ohm", "kPa", "%SpO2", "", "mV*s", "V(rms)", "mm[Hg]")
#: What each of those is written (and read back) as.
EXPECTED = {"µV": "uV", "°C": "degC", "": "NU", "a.u.": "a_u", "mV*s": "mV_s", "V(rms)": "V_rms", "mm[Hg]": "mm_Hg"}


def _record():
    n = len(UNITS)
    t = np.arange(400) / 100.0
    x = np.stack([(i + 1) * np.sin(2 * np.pi * (0.5 + 0.1 * i) * t) for i in range(n)]).astype(np.float32)
    return Record(samples=x, fs_hz=100.0, channels=tuple(f"ch_{i}" for i in range(n)), units=UNITS)


def _header_units(hea):
    """The unit fields of the header as written (the text after the gain's ``/``)."""
    lines = [ln for ln in hea.read_text().splitlines() if ln.strip() and not ln.startswith("#")][1:]
    return [ln.split()[2].split("/", 1)[1] for ln in lines]


def test_every_unit_written_reads_back_unchanged_in_wfdb_and_biosig(tmp_path, caplog):
    rec = _record()
    with caplog.at_level(logging.WARNING, logger="biosig.writers"):
        hea = write(rec, tmp_path / "units.hea")
    written = _header_units(hea)
    oracle = wfdb.rdheader(str(tmp_path / "units"))
    ours = biosig.read(hea)
    assert list(oracle.units) == written                       # wfdb reads the unit field as written
    assert list(oracle.sig_name) == list(rec.channels)          # ... and the rest of the line intact
    assert list(oracle.adc_res) == [16] * rec.n_channels
    assert list(ours.units) == written
    assert written == [EXPECTED.get(u, u) for u in UNITS]
    for u, w in zip(UNITS, written):                            # units wfdb can carry are not respelled
        if u and u not in ("a.u.", "mV*s", "V(rms)", "mm[Hg]"):
            assert w == ascii_unit(u, hea, "WFDB")
    # the values are those written, read by wfdb itself
    phys = wfdb.rdrecord(str(tmp_path / "units")).p_signal.T
    np.testing.assert_allclose(phys, rec.samples, atol=np.abs(rec.samples).max() / 20000)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "'a.u.' -> 'a_u'" in said and "'V(rms)' -> 'V_rms'" in said
    assert "'mV'" not in said and "'µV'" not in said           # only the units whose spelling changed


def test_a_unit_with_spaces_is_written_with_underscores(tmp_path):
    """wfdb refused to write it (the writer said "wfdb refused the record")."""
    rec = Record(samples=np.ones((1, 50), np.float32), fs_hz=10.0, channels=("HR",), units=("beats per min",))
    hea = write(rec, tmp_path / "spaces.hea")
    assert list(wfdb.rdheader(str(tmp_path / "spaces")).units) == ["beats_per_min"] == _header_units(hea)
    assert biosig.read(hea).units == ("beats_per_min",)


def test_a_unit_of_nothing_wfdb_reads_is_no_unit(tmp_path):
    """It was written as "..." and read by wfdb as mV, WFDB's default."""
    rec = Record(samples=np.ones((1, 50), np.float32), fs_hz=10.0, channels=("x",), units=("...",))
    hea = write(rec, tmp_path / "dots.hea")
    assert list(wfdb.rdheader(str(tmp_path / "dots")).units) == ["NU"] == _header_units(hea)
