"""Reading a long record needs about the record's own float32 array, not a float64 stack beside int64 digital
samples (a 24 h Holter peaked at 1.07 GB); and the values stay those of the oracles, bit for bit.

Oracles: ``wfdb.rdrecord`` (physical float64, cast to float32) for WFDB formats 16 and 212, pyedflib's
``readSignal`` for EDF. The records are one hour at 250 Hz: longer than one decoding block
(:data:`biosig.readers.wfdb_native.CHUNK_FRAMES` frames, pyedflib blocks of 2**18 samples), so that the block
boundaries are crossed. Peaks are measured with tracemalloc, which NumPy reports its arrays to.
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from biosig.readers import read, wfdb_native

FS_HZ = 250
N = 3600 * FS_HZ


def _digital(lo: int, hi: int) -> np.ndarray:
    rng = np.random.default_rng(71)
    d = rng.integers(lo + 1, hi, (N, 2)).astype(np.int64)
    d[1000:1200, 0] = lo   # invalid samples: NaN
    d[N - 7:, 1] = lo      # at the very end, past the block boundaries
    return d


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import pyedflib
    import wfdb

    folder = tmp_path_factory.mktemp("long")
    for fmt, lo, hi in (("16", -32768, 32767), ("212", -2048, 2047)):
        wfdb.wrsamp(f"rec{fmt}", fs=FS_HZ, units=["mV", "mV"], sig_name=["ECG", "II"], d_signal=_digital(lo, hi),
                    fmt=[fmt, fmt], adc_gain=[200.0, 1000.7], baseline=[0, -13], write_dir=str(folder))
    edf = folder / "rec.edf"
    w = pyedflib.EdfWriter(str(edf), 2, file_type=pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeaders([{"label": name, "dimension": "uV", "sample_frequency": FS_HZ, "physical_max": 3276.7,
                         "physical_min": -3276.8, "digital_max": 32767, "digital_min": -32768}
                        for name in ("EEG Fp1", "EEG Fp2")])
    d = _digital(-32768, 32767).astype(np.int32)
    w.writeSamples([np.ascontiguousarray(d[:, 0]), np.ascontiguousarray(d[:, 1])], digital=True)
    w.close()
    return folder


def _peak(fn):
    """(result, peak bytes NumPy and Python allocated during ``fn()``)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_records_cross_a_decoding_block():
    assert N > 2 * wfdb_native.CHUNK_FRAMES and N > 2 << 18


@pytest.mark.parametrize("name", ["rec16", "rec212", "rec.edf"])
def test_peak_is_near_the_record_itself(files, name):
    read(files / name)   # imports (wfdb, pyedflib) outside the measurement
    rec, peak = _peak(lambda: read(files / name))
    assert rec.samples.shape == (2, N) and rec.samples.dtype == np.float32
    # the old code: int64 digital samples, their stack, a float64 copy and its temporaries (~8x for WFDB), or
    # pyedflib's float64 channels, their float64 stack and the float32 cast (~5x for EDF)
    assert peak < 2.5 * rec.samples.nbytes, f"peak {peak / 1e6:.1f} MB for a {rec.samples.nbytes / 1e6:.1f} MB record"


@pytest.mark.parametrize("fmt", ["16", "212"])
def test_wfdb_values_bit_for_bit_as_wfdb_rdrecord(files, fmt):
    import wfdb

    want = wfdb.rdrecord(str(files / f"rec{fmt}")).p_signal.T.astype(np.float32)
    rec = read(files / f"rec{fmt}")
    assert rec.samples.flags.c_contiguous
    assert np.isnan(rec.samples[0, 1000:1200]).all() and np.isnan(rec.samples[1, -7:]).all()
    np.testing.assert_array_equal(rec.samples.view(np.uint32), want.view(np.uint32))   # NaN payloads too
    assert rec.metadata["checksum_mismatch"] == []


def test_a_checksum_mismatch_past_the_first_block_is_found(files, tmp_path):
    raw = bytearray((files / "rec16.dat").read_bytes())
    at = 2 * 2 * (wfdb_native.CHUNK_FRAMES + 5) + 2   # frame CHUNK_FRAMES + 5, second signal
    raw[at] ^= 0x01
    (tmp_path / "rec16.dat").write_bytes(bytes(raw))
    (tmp_path / "rec16.hea").write_bytes((files / "rec16.hea").read_bytes())
    assert read(tmp_path / "rec16").metadata["checksum_mismatch"] == ["II"]


def test_edf_values_bit_for_bit_as_pyedflib(files):
    import pyedflib

    with pyedflib.EdfReader(str(files / "rec.edf")) as reader:
        want = np.stack([reader.readSignal(i) for i in range(2)]).astype(np.float32)
    rec = read(files / "rec.edf")
    assert rec.samples.flags.c_contiguous
    np.testing.assert_array_equal(rec.samples.view(np.uint32), want.view(np.uint32))
