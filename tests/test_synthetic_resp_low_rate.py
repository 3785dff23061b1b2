"""simulate("resp") at 1 Hz, the lowest rate biosig reads as resp (biosig.modality.MIN_FS_HZ):
NeuroKit2's breathmetrics model smooths over sampling_rate / 2 samples, half a sample at 1 Hz, and
raised a TypeError (a traceback from ``biosig simulate resp --fs-hz 1``). It now runs at 2 Hz and
the record takes every other sample."""
import subprocess
import sys

import numpy as np

from biosig.readers import read
from biosig.synthetic import simulate


def test_resp_at_1_hz_is_every_other_sample_of_the_2_hz_record():
    one = simulate("resp", 40, seed=5, fs_hz=1.0)
    two = simulate("resp", 40, seed=5, fs_hz=2.0)
    assert one.fs_hz == 1.0 and one.n_samples == 40 and np.isfinite(one.samples).all()
    np.testing.assert_allclose(one.samples[0], two.samples[0, ::2], atol=1e-6)


def test_cli_simulate_resp_at_1_hz_reads_back(tmp_path):
    out = tmp_path / "resp.csv"
    proc = subprocess.run([sys.executable, "-m", "biosig.cli", "simulate", "resp", "--seconds", "60",
                           "--fs-hz", "1", "--seed", "2", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    back = read(out)
    assert back.fs_hz == 1.0 and back.n_samples == 60
    np.testing.assert_allclose(back.samples, simulate("resp", 60, seed=2, fs_hz=1.0).samples, rtol=1e-6, atol=1e-6)
