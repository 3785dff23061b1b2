"""Spirometry: a negative flow-sensor zero offset (the volume falls steadily after its top, FVC too small: accepted
before), and a flow in L/s labelled L/min (values 60x too small: reported as a tiny blow before).

Oracles: the generator's own truth (``simulate_spiro``'s ``fvc_ml`` is the lung's; its ``flow_offset_ml_s`` is the
rate the volume must fall at, checked against the offset added), NumPy for the offset integrated, and the UK Biobank
blow's numbers as they were (tests/test_spiro71.py)."""
import dataclasses
import json
import pathlib

import numpy as np
import pytest

from biosig.errors import SignalError
from biosig.cli import main
from biosig.cli.spiro_commands import not_acceptable_because
from biosig.spirometry import spirometry_indices
from biosig.spirometry_session import acceptable_fev1, acceptable_fvc
from biosig.synthetic import simulate, spiro_volume_ml

ROOT = pathlib.Path(__file__).resolve().parents[1]
UKB = ROOT.parent / "shared" / "data" / "spirometry" / "ukb_field3066_demo_blow.csv"
FS = 100.0


def _indices(rec):
    return spirometry_indices(rec.samples[0].astype(np.float64), rec.fs_hz)


def test_generator_flow_offset_is_integrated_from_the_first_sample():
    clean = simulate("spiro", 12.0, seed=5, pattern="obstructive")
    assert np.array_equal(clean.samples, simulate("spiro", 12.0, seed=5, pattern="obstructive",
                                                  flow_offset_ml_s=0.0).samples)     # same samples as before
    drift = simulate("spiro", 12.0, seed=5, pattern="obstructive", flow_offset_ml_s=-50.0)
    t = np.arange(clean.n_samples) / FS
    np.testing.assert_allclose(drift.samples[0].astype(np.float64) - clean.samples[0], -50.0 * t, atol=2e-3)
    assert drift.metadata["truth"]["fvc_ml"] == clean.metadata["truth"]["fvc_ml"]      # the lung's FVC


@pytest.mark.parametrize("offset_ml_s", [-20.0, -50.0, -80.0])
def test_a_negative_offset_fails_fvc(offset_ml_s):
    """COPD blows, 20 s: before, accepted with FVC 270-850 mL too small (the drift verdict was positive only)."""
    for seed in range(3):
        rec = simulate("spiro", 20.0, seed=seed, fs_hz=FS, pattern="obstructive", flow_offset_ml_s=offset_ml_s)
        ind = _indices(rec)
        assert ind.fvc_ml - rec.metadata["truth"]["fvc_ml"] < -100.0
        assert acceptable_fvc(dataclasses.replace(ind, drift_ok=True, drift_ml_s=0.0))    # what was accepted
        assert not ind.drift_ok and not acceptable_fvc(ind) and acceptable_fev1(ind), seed
        assert ind.drift_ml_s == pytest.approx(offset_ml_s, abs=6.0 + 0.15 * abs(offset_ml_s))
        assert any("falling" in r and "zero drift" in r and "too small" in r for r in not_acceptable_because(ind))


def test_clean_blows_and_an_inspiration_at_the_end_give_no_verdict():
    for pattern in ("normal", "obstructive", "restrictive"):
        for seconds, seed in ((12.0, 7), (20.0, 8), (20.0, 9)):
            ind = _indices(simulate("spiro", seconds, seed=seed, fs_hz=FS, pattern=pattern))
            assert ind.drift_ok and ind.drift_ml_s == 0.0, (pattern, seconds, seed)
    t = np.arange(int(14 * FS)) / FS
    blow = spiro_volume_ml(t - 0.5, 2500.0, 0.3, 0.4, 12.0)            # a very slow COPD tail: still rising
    assert spirometry_indices(blow + np.random.default_rng(0).normal(0, 2, len(t)), FS).drift_ok
    blow = spiro_volume_ml(t - 0.5, 4500.0, 0.9, 0.5, 1.2)
    for start_s, dur_s in ((10.0, 1.5), (11.0, 2.0), (12.2, 1.8)):       # inspirations, ended or cut by the trace
        m = (t >= start_s) & (t < start_s + dur_s)
        flow = np.where(m, -1500.0 * np.sin(np.pi * (t - start_s) / dur_s), 0.0)   # mL/s, a half sine
        v = blow + np.cumsum(flow) / FS + np.random.default_rng(1).normal(0, 2, len(t))
        ind = spirometry_indices(v, FS)
        assert ind.drift_ok, (start_s, ind.drift_ml_s)


def test_the_uk_biobank_blow_is_unchanged():
    if not UKB.exists():
        pytest.skip(f"{UKB} not found")
    d = np.loadtxt(UKB, delimiter=",", skiprows=1)
    ind = spirometry_indices(d[:, 1], FS)
    assert ind.drift_ok and ind.drift_ml_s == 0.0 and acceptable_fvc(ind) and acceptable_fev1(ind)
    assert (round(ind.fvc_ml, 1), round(ind.fev1_ml, 1), round(ind.fet_s, 3)) == (5835.9, 4676.6, 11.549)


def _flow_csv(path, flow_l_s, header):
    t = np.arange(len(flow_l_s)) / FS
    np.savetxt(path, np.c_[t, flow_l_s], delimiter=",", header=f"t_s,{header}", comments="", fmt="%.6f")
    return str(path)


def test_a_flow_in_L_per_s_labelled_L_per_min_is_refused(tmp_path, capsys):
    """Before: FVC 0.075 L, PEF 0.15 L/s printed as a blow (exit 0). Only a channel labelled L/min: a 40 mL volume in
    mL is measured (tests/test_spiro_fvc_pause_units.py)."""
    t = np.arange(1200) / FS
    flow = np.gradient(spiro_volume_ml(t - 0.5, 4500.0, 0.9, 0.5, 1.2), t) / 1000.0     # L/s
    code = main(["spiro", _flow_csv(tmp_path / "wrong.csv", flow, "flow [L/min]")])
    err = capsys.readouterr().err
    assert code == 2 and "labelled as L/min" in err and "FVC 4.5 L" in err, err
    code = main(["spiro", _flow_csv(tmp_path / "right.csv", flow * 60.0, "flow [L/min]")])
    assert code == 0 and "4.500" in capsys.readouterr().out


def test_small_subjects_still_pass(tmp_path, capsys):
    """The generator's smallest subjects (restrictive, 1.5 L; a 3-year-old's 0.5 L) are measured as before."""
    smallest = min((simulate("spiro", 12.0, seed=s, pattern="restrictive", noise_ml=0.0) for s in range(20)),
                   key=lambda r: r.metadata["truth"]["fvc_ml"])
    tiny = simulate("spiro", 12.0, seed=0, pattern="restrictive", fvc_ml=500.0, noise_ml=0.0)
    for rec in (smallest, tiny):
        v = rec.samples[0].astype(np.float64)
        truth = rec.metadata["truth"]["fvc_ml"]
        assert spirometry_indices(v, FS).fvc_ml == pytest.approx(truth, abs=2.0)
        flow = np.gradient(v, np.arange(len(v)) / FS) / 1000.0
        for values, header in ((flow, "flow [L/s]"), (flow * 60.0, "flow [L/min]")):   # each in its own unit
            code = main(["spiro", _flow_csv(tmp_path / "small.csv", values, header), "--json"])
            out = capsys.readouterr().out
            assert code == 0 and "labelled as L/min" not in out, header
            assert json.loads(out)["blows"][0]["fvc_l"] == pytest.approx(truth / 1000.0, abs=0.01)


def test_a_small_flow_in_l_min_is_read_by_info_and_refused_by_spiro(tmp_path, capsys):
    """A flow-time CSV in L/min with small values (resting breathing of a few L/min looks the same) is a valid file:
    `biosig info` reads it (the L/min check ran in the reader and refused it); the indices refuse it as a blow."""
    from biosig.measures import spirometry_indices
    from biosig.readers import read
    t = np.arange(1200) / FS
    flow = np.gradient(spiro_volume_ml(t - 0.5, 4500.0, 0.9, 0.5, 1.2), t) / 1000.0     # L/s, labelled L/min
    path = _flow_csv(tmp_path / "small.csv", flow, "flow [L/min]")
    rec = read(path)
    assert rec.metadata["flow_unit"].lower() == "l/min" and np.isfinite(rec.samples).all()
    assert main(["info", path]) == 0
    capsys.readouterr()
    with pytest.raises(SignalError, match="labelled as L/min"):
        spirometry_indices(rec)
