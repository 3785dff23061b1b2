"""``biosig simulate --param NAME=VALUE``: the generator parameters (heart rate, AF, noise, leads,
spirometry pattern, ...) from the command line; before it the CLI could only draw them from the seed,
so an ECG at 40 /min or in AF could not be written without Python."""
import numpy as np
import pytest
import wfdb

from biosig.cli import main
from biosig.quality import detect_beats
from biosig.synthetic import simulate


def test_heart_rate_and_noise_reach_the_file(tmp_path):
    out = tmp_path / "slow.hea"
    assert main(["simulate", "ecg", "--seconds", "30", "--seed", "2", "--out", str(out),
                 "--param", "heart_rate_bpm=40", "--param", "noise_mv=0.01", "--param", "baseline_wander_mv=0"]) == 0
    back = wfdb.rdrecord(str(tmp_path / "slow"))   # oracle reader
    want = simulate("ecg", 30, seed=2, heart_rate_bpm=40, noise_mv=0.01, baseline_wander_mv=0).samples[0]
    np.testing.assert_allclose(back.p_signal[:, 0], want, atol=1e-3)
    beats, _ = detect_beats(back.p_signal[:, 0], back.fs, "ecg")
    assert 60.0 / np.median(np.diff(beats) / back.fs) == pytest.approx(40, rel=0.05)


def test_af_and_two_leads(tmp_path):
    import pandas as pd

    out = tmp_path / "af.csv"
    assert main(["simulate", "ecg", "--seconds", "20", "--seed", "5", "--out", str(out),
                 "--param", "rhythm=af", "--param", "leads=2"]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["t_s", "II [mV]", "V5 [mV]"]
    want = simulate("ecg", 20, seed=5, rhythm="af", leads=2).samples
    np.testing.assert_allclose(df[["II [mV]", "V5 [mV]"]].to_numpy().T, want, atol=1e-6)


@pytest.mark.parametrize("params,message", [
    (["heartrate=30"], "unknown parameter(s) heartrate; accepted: heart_rate_bpm"),
    (["heart_rate_bpm=300"], "heart_rate_bpm=300 must be a number from 20 to 250"),
    (["oops"], "expected NAME=VALUE"),
    (["leads=2", "leads=1"], "--param leads given twice"),
])
def test_bad_params_are_one_line(capsys, tmp_path, params, message):
    args = ["simulate", "ecg", "--seconds", "5", "--out", str(tmp_path / "x.csv")]
    for p in params:
        args += ["--param", p]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()
