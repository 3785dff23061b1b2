"""An EDF signal whose physical minimum equals its maximum cannot be scaled: pyedflib refuses the file;
biosig's own decoder (EDF+D, and files whose header says -1 data records) read every sample as the
minimum, a constant where the file holds a signal."""
import numpy as np
import pytest

from biosig.errors import ReadError
from biosig.readers import read

pyedflib = pytest.importorskip("pyedflib")


def _edf(path):
    """EDF+ with ECG at 256 Hz and Resp at 32 Hz (10 one-second records), written by pyedflib."""
    w = pyedflib.EdfWriter(str(path), 2, file_type=pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeaders([
        dict(label="ECG", dimension="mV", sample_frequency=256, physical_max=5, physical_min=-5,
             digital_max=32767, digital_min=-32768),
        dict(label="Resp", dimension="a.u.", sample_frequency=32, physical_max=5, physical_min=-5,
             digital_max=32767, digital_min=-32768)])
    t = np.arange(2560) / 256
    w.writeSamples([np.sin(2 * np.pi * t), 0.5 * np.sin(2 * np.pi * 0.3 * np.arange(320) / 32)])
    w.close()
    return path


def _physical_max_equal_to_min(raw: bytearray, signal: int) -> bytearray:
    ns = int(raw[252:256])
    pmin = 256 + ns * (16 + 80 + 8) + 8 * signal
    pmax = pmin + 8 * ns
    raw[pmax:pmax + 8] = raw[pmin:pmin + 8]
    return raw


@pytest.mark.parametrize("variant", ["EDF+C", "EDF+D", "-1 records"])
def test_equal_physical_limits_are_refused_naming_the_signal(tmp_path, variant):
    raw = _physical_max_equal_to_min(bytearray(_edf(tmp_path / "ok.edf").read_bytes()), 0)
    if variant == "EDF+D":
        raw[192:197] = b"EDF+D"
    elif variant == "-1 records":
        raw[236:244] = b"-1      "
    path = tmp_path / "flat.edf"
    path.write_bytes(raw)
    with pytest.raises(OSError):          # the oracle refuses it
        pyedflib.EdfReader(str(path)).close()
    with pytest.raises(ReadError, match=r"signal 'ECG': physical minimum equals maximum \(-5\)"):
        read(path)


@pytest.mark.parametrize("variant", ["EDF+C", "EDF+D", "-1 records"])
def test_the_same_file_with_distinct_limits_reads_as_pyedflib_does(tmp_path, variant):
    raw = bytearray(_edf(tmp_path / "ok.edf").read_bytes())
    ref = pyedflib.EdfReader(str(tmp_path / "ok.edf"))
    ecg, resp_fs = ref.readSignal(0), ref.getSampleFrequency(1)
    ref.close()
    if variant == "EDF+D":
        raw[192:197] = b"EDF+D"
    elif variant == "-1 records":
        raw[236:244] = b"-1      "
    path = tmp_path / "var.edf"
    path.write_bytes(raw)
    rec = read(path)
    assert rec.channels == ("ECG", "Resp") and rec.fs_hz == 256.0
    assert rec.metadata["channel_fs_hz"] == [256.0, resp_fs]
    np.testing.assert_allclose(rec.samples[0], ecg, atol=1e-6)
