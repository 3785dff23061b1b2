"""`biosig simulate --out X.edf` keeps only an EDF that reads back to the simulated samples and rate
(pyedflib as the independent reader); one that EDF's data records cannot hold exactly is refused."""
import numpy as np
import pytest

from biosig.cli import main

pyedflib = pytest.importorskip("pyedflib")


@pytest.mark.parametrize("modality, seconds, fs_hz, n_samples", [
    ("ppg", "5", "33.3", 166),       # a non-whole rate: 1 s records padded to 333 samples (10 s)
    ("ecg", "7.3", "128", 934),      # no record length fits: padded to 1024 samples
])
def test_simulate_edf_that_would_not_read_back_is_refused(capsys, tmp_path, modality, seconds, fs_hz, n_samples):
    out = tmp_path / "sim.edf"
    code = main(["simulate", modality, "--seconds", seconds, "--fs-hz", fs_hz, "--out", str(out)])
    _, err = capsys.readouterr()
    errors = [ln for ln in err.splitlines() if "error:" in ln]
    assert code == 2 and len(errors) == 1, err
    assert f"{n_samples} samples at {float(fs_hz):g} Hz" in errors[0] and "Traceback" not in err
    assert not out.exists()   # no file that would read back padded or at another rate


@pytest.mark.parametrize("modality, seconds, fs_hz", [("ecg", "7", "250"), ("resp", "7.3", None),
                                                      ("ppg", "10", "33.3"),
                                                      # records of 73/250 s: pyedflib stored int(0.292 * 1e5)
                                                      # = 29199 units (read back at 250.0086 Hz); the
                                                      # writer hands it a hair more now
                                                      ("ecg", "7.3", "250")])
def test_simulate_edf_reads_back_exactly(capsys, tmp_path, modality, seconds, fs_hz):
    out = tmp_path / "sim.edf"
    argv = ["simulate", modality, "--seconds", seconds, "--out", str(out)] + (["--fs-hz", fs_hz] if fs_hz else [])
    assert main(argv) == 0
    capsys.readouterr()
    from biosig.synthetic import simulate
    rec = simulate(modality, float(seconds), seed=0, fs_hz=float(fs_hz) if fs_hz else None)
    with pyedflib.EdfReader(str(out)) as f:
        assert f.getNSamples()[0] == rec.n_samples
        assert f.getSampleFrequency(0) == pytest.approx(rec.fs_hz, rel=1e-9)
        back = f.readSignal(0)
    span = float(np.ptp(rec.samples[0]))
    assert np.max(np.abs(back - rec.samples[0])) < 1e-3 * span   # 16-bit quantisation only
