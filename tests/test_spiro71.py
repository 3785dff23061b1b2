"""`biosig spiro` leftovers of the last bug bash: `--json` names the files that failed (they were only on stderr and
in the exit code), a volume 1000x too large names the mistake its numbers point to (mL labelled as litres, not
"litres written as mL"), and a drifting flow-sensor zero (a constant flow offset integrated: FVC +1000 mL on a 20 s
trace, accepted through FET >= 15 s) fails FVC where the trace shows the offset before the blow.

Oracles: the lung model ``biosig.synthetic.spiro_volume_ml`` with a known offset added (its FVC error is the
offset times the trace's length; the offset read back must be the one added), and the UK Biobank blow's indices
as they were before (read from the same function with the drift check's verdict left out)."""
import json
import pathlib

import numpy as np
import pytest

from biosig.cli import main
from biosig.errors import SignalError
from biosig.spirometry import spirometry_indices
from biosig.spirometry_session import acceptable_fev1, acceptable_fvc
from biosig.synthetic import simulate_spiro, spiro_volume_ml

ROOT = pathlib.Path(__file__).resolve().parents[1]
UKB = ROOT.parent / "shared" / "data" / "spirometry" / "ukb_field3066_demo_blow.csv"
FS = 100.0


def _blow(seconds=20.0, offset_ml_s=0.0, shape=(4500.0, 0.9, 0.5, 1.2), pause_s=0.5, seed=0, noise_ml=2.0):
    """A blow after ``pause_s`` of breath hold, plus a flow offset integrated over the whole trace."""
    t = np.arange(int(seconds * FS)) / FS
    v = spiro_volume_ml(t - pause_s, *shape) + offset_ml_s * t
    return v + np.random.default_rng(seed).normal(0.0, noise_ml, len(t)), float(spiro_volume_ml(t[-1:] - pause_s,
                                                                                                *shape)[0])


def _write(path, t, v):
    np.savetxt(path, np.c_[t, v], delimiter=",", header="t_s,volume_ml", comments="", fmt="%.6f")
    return path


def test_json_names_the_files_that_failed(tmp_path, capsys):
    """Before: a failed file was left out of the JSON ("blows" held the good one only, nothing said which failed)."""
    v, _ = _blow(12.0)
    good = _write(tmp_path / "good.csv", np.arange(len(v)) / FS, v)
    short = _write(tmp_path / "short.csv", np.arange(50) / FS, v[:50])          # 0.5 s: under 1 s
    litres = _write(tmp_path / "litres.csv", np.arange(len(v)) / FS, v / 1000.0)   # litres under an mL header
    code = main(["spiro", str(good), str(short), str(litres), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [b["path"] for b in doc["blows"]] == [str(good)]
    assert [e["path"] for e in doc["errors"]] == [str(short), str(litres)], doc["errors"]
    for e in doc["errors"]:
        assert set(e) == {"path", "blow", "error_type", "message"} and e["message"] and e["error_type"], e


def test_json_when_no_file_could_be_read(tmp_path, capsys):
    """Before: exit code 2 and nothing on stdout, so a program reading the JSON failed on an empty document."""
    short = _write(tmp_path / "short.csv", np.arange(50) / FS, np.linspace(0.0, 3000.0, 50))
    code = main(["spiro", str(short), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 2 and doc["blows"] == [] and doc["session"] is None
    assert len(doc["errors"]) == 1 and doc["errors"][0]["path"] == str(short)


def test_a_volume_1000x_too_large_names_mL_labelled_as_litres():
    """Before: "litres written as mL?" for values in mL read as litres (the opposite mistake)."""
    v, _ = _blow(12.0)
    with pytest.raises(SignalError) as err:
        spirometry_indices(v * 1000.0, FS)
    msg = str(err.value)
    assert "human lung" in msg and "mL labelled as litres" in msg and "litres written as mL" not in msg
    assert "FVC 4.5 L" in msg, msg      # divided by 1000: the blow it was
    t = np.arange(1500) / FS
    flow = np.gradient(spiro_volume_ml(t - 0.5, 4500.0, 0.9, 0.5, 1.2), t)   # a flow (mL/s) read as a volume
    with pytest.raises(SignalError, match="flow was read as a volume"):
        spirometry_indices(flow, FS)


@pytest.mark.parametrize("offset_ml_s", [20.0, 50.0, 80.0])
def test_a_drifting_flow_sensor_zero_fails_fvc(offset_ml_s):
    """20 s traces (FET >= 15 s: end of expiration met whatever the tail): before, accepted with FVC +400-1600 mL."""
    v, truth = _blow(20.0, offset_ml_s)
    ind = spirometry_indices(v, FS)
    assert ind.fvc_ml - truth > 300.0 and ind.eofe_ok        # the wrong FVC that was accepted
    assert not acceptable_fvc(ind) and not ind.drift_ok
    assert ind.drift_ml_s == pytest.approx(offset_ml_s, abs=8.0)
    assert acceptable_fev1(ind)                              # FEV1 holds ~1.5 s of it: < 130 mL
    from biosig.cli.spiro_commands import not_acceptable_because
    assert any("zero drift" in r for r in not_acceptable_because(ind))


def test_clean_and_copd_blows_keep_their_fvc_acceptability():
    """No offset: normal, obstructive (COPD, slow tails) and restrictive blows of the generator, 12 s and 20 s, and
    very slow COPD tails (tau 10-15 s, flow still 10-30 mL/s at 20 s): the drift check says nothing."""
    for pattern in ("normal", "obstructive", "restrictive"):
        for seconds in (12.0, 20.0):
            for seed in range(4):
                ind = spirometry_indices(simulate_spiro(seconds, seed, FS, pattern).samples[0], FS)
                assert ind.drift_ok and ind.drift_ml_s == 0.0, (pattern, seconds, seed)
    for tau_slow_s in (10.0, 12.5, 15.0):
        v, _ = _blow(20.0, 0.0, shape=(2500.0, 0.3, 0.4, tau_slow_s))
        ind = spirometry_indices(v, FS)
        assert ind.drift_ok and acceptable_fvc(ind), tau_slow_s


def test_a_blow_without_a_pause_before_it_gives_no_verdict():
    """A trace that starts at the blow (UK Biobank's: 0.04 s before it) cannot show the offset: no refusal, and the
    UK Biobank blow's numbers are those of before."""
    v, _ = _blow(20.0, 50.0, pause_s=0.05)
    assert spirometry_indices(v, FS).drift_ok
    if not UKB.exists():
        pytest.skip(f"{UKB} not found")
    d = np.loadtxt(UKB, delimiter=",", skiprows=1)
    ind = spirometry_indices(d[:, 1], FS)
    assert ind.drift_ok and acceptable_fvc(ind) and acceptable_fev1(ind)
    assert (round(ind.fvc_ml, 1), round(ind.fev1_ml, 1), round(ind.fet_s, 3)) == (5835.9, 4676.6, 11.549)
