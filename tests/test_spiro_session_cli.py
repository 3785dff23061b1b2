"""`biosig spiro` as a respiratory physiologist reads it: why a blow is not acceptable, several
blows in one file (in a row, or in columns), PEF of a blow that starts at the first sample, a
sign-flipped trace, a gap in the first second, and usability (U / F) with a first-second pause.

Oracles: exponential emptying ``V = FVC (1 - exp(-t / tau))`` (PEF over 80 ms in closed form) and
``biosig.synthetic.spiro_volume_ml`` at the blow's own t0 + 1 s."""
import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from biosig.errors import SignalError
from biosig.spirometry import SpirometryIndices, spirometry_indices
from biosig.spirometry_session import session_summary
from biosig.synthetic import simulate_spiro, spiro_volume_ml

ROOT = pathlib.Path(__file__).resolve().parents[1]
FS = 100.0


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "biosig.cli", "spiro", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=120)


def _write(path, t, *cols, header="t_s,volume_ml"):
    np.savetxt(path, np.c_[t, *cols], delimiter=",", header=header, comments="", fmt="%.6f")
    return path


def _pause_blow(pause_at_s=0.4, pause_s=0.4, fvc=4000.0, tau=0.5, start=0.5):
    t = np.arange(int(10 * FS)) / FS
    c = np.clip(t - start, 0, None)
    c = np.where(c > pause_at_s, np.maximum(pause_at_s, c - pause_s), c)
    return t, fvc * (1 - np.exp(-c / tau)) * (1 - np.exp(-(c / 0.04) ** 2))


def test_the_table_says_why_each_blow_is_not_acceptable(tmp_path):
    slow = simulate_spiro(12, 2, FS, artefact="slow-start")          # BEV 229 > 227 mL
    stop = simulate_spiro(12, 0, FS, artefact="early-stop")          # stops at 1.7 s, then flat
    t = np.arange(slow.n_samples) / FS
    files = [_write(tmp_path / "slow.csv", t, slow.samples[0]), _write(tmp_path / "stop.csv", t, stop.samples[0]),
             _write(tmp_path / "pause.csv", *_pause_blow())]
    out = _cli(*files)
    assert out.returncode == 0, out.stderr
    lines = {ln.split()[0].rsplit("/", 1)[-1]: ln for ln in out.stdout.splitlines() if ".csv" in ln}
    want = {name: spirometry_indices(np.loadtxt(f, delimiter=",", skiprows=1)[:, 1], FS) for name, f in
            zip(("slow.csv", "stop.csv", "pause.csv"), files)}
    s, p, e = want["slow.csv"], want["pause.csv"], want["stop.csv"]
    assert not s.bev_ok and f"BEV {s.bev_ml:.0f} mL > {s.bev_limit_ml:.0f} mL" in lines["slow.csv"]
    assert not p.pause_ok and f"flow pause {p.pause_s:.2f} s in the first second" in lines["pause.csv"]
    assert not e.eofe_ok and f"no end of expiration (+{e.plateau_ml:.0f} mL in the last 1 s, FET {e.fet_s:.1f} s" \
        in lines["stop.csv"]
    assert "BEV" not in lines["stop.csv"] and "pause" not in lines["slow.csv"]
    doc = json.loads(_cli(*files, "--json").stdout)
    # the slow start also peaks late (> 0.15 s after t0): not a forced expiration either
    assert [len(b["not_acceptable_because"]) for b in doc["blows"]] == [1 + (not s.forced_ok), 1, 1]


def _session_trace(fvcs=(4000.0, 4080.0, 4180.0), frac=0.9, tau_f=0.5, tau_s=1.2):
    """Blows in a row: each 0.5 s of rest, the blow for 11.5 s, a 3 s inspiration back to 0."""
    tb = np.arange(int(12 * FS)) / FS
    parts = []
    for fvc in fvcs:
        v = spiro_volume_ml(tb - 0.5, fvc, frac, tau_f, tau_s)
        parts += [v, v[-1] * (1 - np.linspace(0, 1, int(3 * FS)))]
    return np.concatenate(parts), tb


def test_several_blows_in_one_file_are_each_measured_and_graded(tmp_path):
    v, tb = _session_trace()
    path = _write(tmp_path / "session.csv", np.arange(len(v)) / FS, v)
    doc = json.loads(_cli(path, "--json").stdout)
    blows = doc["blows"]
    # read as one blow: the third's FVC with the first's FEV1, FET 37.5 s
    assert len(blows) == 3
    for k, (b, fvc) in enumerate(zip(blows, (4000.0, 4080.0, 4180.0))):
        want_fvc = spiro_volume_ml(np.array([11.5]), fvc, 0.9, 0.5, 1.2)[0]
        assert b["fvc_ml"] == pytest.approx(want_fvc, abs=1.0)
        t0_in_blow = b["t0_s"] - 15.0 * k - 0.5                       # from the blow's onset
        assert b["fev1_ml"] == pytest.approx(spiro_volume_ml(np.array([t0_in_blow + 1.0]), fvc, 0.9, 0.5, 1.2)[0],
                                             abs=2.0)
        assert 7.0 < b["fet_s"] < 11.5 and b["acceptable_fvc"]
    s = doc["session"]
    fvc = sorted((b["fvc_ml"] for b in blows), reverse=True)
    fev1 = sorted((b["fev1_ml"] for b in blows), reverse=True)
    # ATS/ERS 2019 table 10 by hand: 3 acceptable, largest two within 150 mL -> A
    assert fvc[0] - fvc[1] == pytest.approx(100.0, abs=2.0) and s["grade_fvc"] == "A"
    assert fev1[0] - fev1[1] <= 150.0 and s["grade_fev1"] == "A"
    assert s["fvc_ml"] == pytest.approx(fvc[0]) and s["n_blows"] == 3


def test_several_volume_columns_are_several_blows(tmp_path):
    tb = np.arange(int(12 * FS)) / FS
    cols = [spiro_volume_ml(tb - 0.5, f, 0.9, 0.5, 1.2) for f in (4000.0, 3700.0, 3900.0)]
    path = _write(tmp_path / "cols.csv", tb, *cols, header="t_s,blow1 [mL],blow2 [mL],blow3 [mL]")
    doc = json.loads(_cli(path, "--json").stdout)
    assert [b["channel"] for b in doc["blows"]] == ["blow1", "blow2", "blow3"]   # only blow1 was read
    assert [round(b["fvc_ml"]) for b in doc["blows"]] == [round(c[-1]) for c in cols]
    fvc = sorted((b["fvc_ml"] for b in doc["blows"]), reverse=True)
    # ATS/ERS 2019 table 10 by hand: 3 acceptable, largest two (4000, 3900) 100 mL apart -> A
    assert all(b["acceptable_fvc"] for b in doc["blows"]) and fvc[0] - fvc[1] == pytest.approx(100.0, abs=1.0)
    assert doc["session"]["grade_fvc"] == "A"


@pytest.mark.parametrize("pre_inspiration", [False, True])
def test_pef_of_a_blow_starting_at_the_first_sample_is_over_80_ms(pre_inspiration):
    """A blow that starts at the first sample (or right after the inspiration cut off before it):
    its flow was read over the 40 ms left of the window, PEF +3.4 % at tau 0.6 s."""
    fvc, tau = 4000.0, 0.6
    t = np.arange(int(10 * FS)) / FS
    v = fvc * (1 - np.exp(-t / tau))
    if pre_inspiration:
        v = np.concatenate([-np.linspace(0, 1000, 101)[:-1], v - 1000.0])
    got = spirometry_indices(v, FS)
    assert got.pef_l_s == pytest.approx(fvc * (1 - math.exp(-0.08 / tau)) / 0.08 / 1000.0, rel=1e-9)
    assert got.bev_ok and got.fvc_ml == pytest.approx(v[-1] - v.min(), abs=0.1)


def test_a_sign_flipped_trace_is_refused_not_read_as_a_small_blow(tmp_path):
    t = np.arange(1200) / FS
    blow = 4000 * (1 - np.exp(-np.clip(t - 2.0, 0, None) / 0.6))
    pre = -1000 * np.clip(t - 1.0, 0, 1)                  # a 1 L inspiration before the blast
    with pytest.raises(SignalError, match="negate"):
        spirometry_indices(-(blow + pre), FS)              # read: FVC 1.0 L, FEV1/FVC 1.0, acceptable
    assert spirometry_indices(blow + pre, FS).fvc_ml == pytest.approx(4000.0, abs=1.0)
    out = _cli(_write(tmp_path / "neg.csv", t, -(blow + pre)))
    assert out.returncode == 2 and "negate" in out.stderr and "Traceback" not in out.stderr


def test_an_obstructive_blow_before_a_fast_full_inspiration_is_not_taken_for_a_flipped_trace():
    """A flow-volume loop: a slow 2 L blow, then a forced inspiration of 4 L peaking at ~4 L/s midway
    (half-sine flow). It falls more and twice as fast as it rises, as a flipped trace does; its shape
    (peak flow midway, not at the start) says it is an inspiration."""
    t = np.arange(1400) / FS
    blow = 2000 * (1 - np.exp(-np.clip(t - 1.0, 0, None) / 2.0))
    c = np.clip((t - 10.0) / 1.5, 0, 1)                     # 1.5 s inspiration from 10 s
    insp = 4000 * (1 - np.cos(np.pi * c)) / 2
    ind = spirometry_indices(blow - insp, FS)
    assert ind.fvc_ml == pytest.approx(2000 * (1 - np.exp(-9.0 / 2.0)), abs=15.0)
    assert ind.pef_l_s < 1.1


def test_a_gap_over_peak_flow_is_refused_a_dropped_row_is_not():
    t = np.arange(1200) / FS
    v = 4000 * (1 - np.exp(-np.clip(t - 2.0, 0, None) / 0.6))
    gap = v.copy()
    gap[190:230] = np.nan                                   # bridged: PEF 3.9 instead of 6.2 L/s, acceptable
    with pytest.raises(SignalError, match="first second"):
        spirometry_indices(gap, FS)
    one = v.copy()
    one[205] = np.nan
    assert spirometry_indices(one, FS).pef_l_s == pytest.approx(spirometry_indices(v, FS).pef_l_s, rel=0.02)
    late = v.copy()
    late[600:700] = np.nan                                  # after t0 + 1 s: bridged, FEV1 unaffected
    assert spirometry_indices(late, FS).fev1_ml == pytest.approx(spirometry_indices(v, FS).fev1_ml, rel=1e-9)


def test_a_first_second_pause_is_not_usable_grade_f_not_u():
    """ATS/ERS 2019 table 7: no glottic closure in the first second is required for usability."""
    paused = spirometry_indices(_pause_blow()[1], FS)
    assert paused.bev_ok and not paused.pause_ok
    s = session_summary([paused, paused])
    assert s["grade_fev1"] == "F" and s["grade_fvc"] == "F"
    hesitant_free = SpirometryIndices(**{**paused.__dict__, "pause_s": 0.0, "pause_ok": True, "eofe_ok": False})
    assert session_summary([hesitant_free])["grade_fvc"] == "U"
