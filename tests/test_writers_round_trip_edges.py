"""Writers: EDF keeps the sample count, 16-bit formats refuse inf and clashing EDF labels."""
import numpy as np
import pyedflib
import pytest

import biosig
from biosig.errors import WriteError
from biosig.record import Record


def test_edf_keeps_sample_count(tmp_path):
    # 1000 samples at 256 Hz were padded to 4 whole 1 s data records: 1024 read back
    x = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    path = biosig.write(Record(x, 256.0, ("a", "b"), ("mV", "mV")), tmp_path / "r.edf")
    with pyedflib.EdfReader(str(path)) as f:           # oracle: pyedflib itself
        assert list(f.getNSamples()) == [1000, 1000]
        assert f.getSampleFrequency(0) == pytest.approx(256.0)
        np.testing.assert_allclose(f.readSignal(0), x[0], atol=2e-4)
    back = biosig.read(str(path))
    assert back.samples.shape == (2, 1000) and back.fs_hz == 256.0


@pytest.mark.parametrize("suffix", [".edf", ".hea"])
def test_inf_is_a_write_error(tmp_path, suffix):
    x = np.zeros((1, 500), np.float32)
    x[0, 10] = np.inf
    with pytest.raises(WriteError, match="infinite"):   # was IndexError (wfdb) / OverflowError (pyedflib)
        biosig.write(Record(x, 250.0, ("a",), ("mV",)), tmp_path / f"r{suffix}")


def test_edf_labels_that_clash_after_16_characters(tmp_path):
    rec = Record(np.zeros((2, 500), np.float32), 250.0,
                 ("averyveryverylongchannelname_1", "averyveryverylongchannelname_2"), ("mV", "mV"))
    with pytest.raises(WriteError, match="16"):   # both read back as "averyveryverylon"
        biosig.write(rec, tmp_path / "r.edf")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("channels", [("a", "a"), ("t_s", "b")])
def test_table_column_names_must_be_distinct(tmp_path, suffix, channels):
    # a CSV silently kept one of two columns of one name; the Parquet file did not read back
    rec = Record(np.arange(20, dtype=np.float32).reshape(2, 10), 10.0, channels, ("", ""))
    with pytest.raises(WriteError, match="t_s|two channels"):
        biosig.write(rec, tmp_path / f"r{suffix}")


def test_distinct_names_round_trip_exactly(tmp_path):
    x = np.random.default_rng(1).standard_normal((2, 50)).astype(np.float32)
    rec = Record(x, 10.0, ("a", "b"), ("", "mV"))
    for suffix in (".csv", ".parquet"):
        back = biosig.read(str(biosig.write(rec, tmp_path / f"r{suffix}")))
        assert back.channels == ("a", "b") and back.units == ("", "mV")
        np.testing.assert_array_equal(back.samples, x)
