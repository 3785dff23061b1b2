"""Spirometry per ATS/ERS 2019: PEF from the 80 ms flow, volume-time and flow-time forms agree,
indices of synthetic blows equal their closed forms, session grading, and ``biosig spiro``."""
import dataclasses
import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from biosig.readers import read
from biosig.spirometry import (EOFE_END_TOL_ML, PEF_WINDOW_S, SpirometryIndices, flow_over_window, record_volume_ml,
                               spirometry_indices)
from biosig.spirometry_session import repeatability_grade, session_summary
from conftest import shared_path

ROOT = pathlib.Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ a blow with closed-form indices
@dataclasses.dataclass(frozen=True)
class Blow:
    """Flow: 0 until ``start``, linear rise to ``peak`` (L/s) over ``rise``, flat for ``hold``,
    then exponential decay with ``tau``. Every index has a closed form."""

    peak: float = 8.0
    start: float = 0.5
    rise: float = 0.1
    hold: float = 0.12
    tau: float = 0.6

    @property
    def t_decay(self):
        return self.start + self.rise + self.hold

    def flow(self, t):
        t = np.asarray(t, dtype=float)
        up = np.clip((t - self.start) / self.rise, 0, 1) * self.peak
        return np.where(t < self.t_decay, up, self.peak * np.exp(-(t - self.t_decay) / self.tau))

    def volume_ml(self, t):
        t = np.asarray(t, dtype=float)
        s, r, P = self.start, self.rise, self.peak * 1000.0
        ramp = P * np.clip(t - s, 0, r) ** 2 / (2 * r)
        flat = P * np.clip(t - s - r, 0, self.hold)
        decay = P * self.tau * (1 - np.exp(-np.clip(t - self.t_decay, 0, None) / self.tau))
        return ramp + flat + decay

    def time_at_volume(self, v_ml):
        """Inverse of volume_ml (v beyond the ramp)."""
        P = self.peak * 1000.0
        v_flat_end = P * self.rise / 2 + P * self.hold
        if v_ml <= v_flat_end:
            return self.start + self.rise + (v_ml - P * self.rise / 2) / P
        return self.t_decay - self.tau * math.log(1 - (v_ml - v_flat_end) / (P * self.tau))

    def end_of_expiration_s(self, t_last, fs=100.0):
        """Closed form of the end of expiration of the noise-free trace sampled at ``fs`` up to
        ``t_last``: the first sample whose mean volume over the next 1 s (``n`` samples, fewer at the
        end) is within EOFE_END_TOL_ML of the last volume. On the decay the residual to the asymptote is
        ``R(t) = P tau exp(-(t - t_decay) / tau)`` and the mean of ``m`` samples from ``t`` is
        ``V_inf - R(t) mean(exp(-k / (fs tau)), k < m)``."""
        n, P = int(round(fs)), self.peak * 1000.0
        t = np.arange(int(round(t_last * fs)) + 1) / fs
        m = np.minimum(n, len(t) - np.arange(len(t)))
        decay = (1 - np.exp(-m / (fs * self.tau))) / (m * (1 - math.exp(-1 / (fs * self.tau))))
        residual = P * self.tau * np.exp(-(t - self.t_decay) / self.tau)
        ok = (t >= self.t_decay) & (residual * decay <= residual[-1] + EOFE_END_TOL_ML)
        return float(t[np.argmax(ok)])

    def indices(self, t_end):
        t0 = self.start + self.rise / 2  # the plateau lies on the tangent at PEF
        fvc = float(self.volume_ml(t_end))
        t25, t75 = self.time_at_volume(0.25 * fvc), self.time_at_volume(0.75 * fvc)
        return {"pef_l_s": self.peak, "t0_s": t0, "bev_ml": self.peak * 1000.0 * self.rise / 8,
                "fvc_ml": fvc, "fev1_ml": float(self.volume_ml(t0 + 1.0)),
                "fet_s": self.end_of_expiration_s(t_end) - t0,   # not t_end - t0: the volume is flat there
                "fef25_75_l_s": 0.5 * fvc / 1000.0 / (t75 - t25)}


FS = 100.0


def _t(seconds=8.0):
    return np.arange(int(seconds * FS)) / FS


def _check(got: SpirometryIndices, want: dict, rel=2e-4):
    for key, value in want.items():
        if key == "fet_s":   # the code finds the end on a 0.2 s average: a few samples either side
            assert abs(got.fet_s - value) <= 0.05, key
        else:
            assert getattr(got, key) == pytest.approx(value, rel=rel, abs=1e-6), key


@pytest.mark.parametrize("blow", [Blow(), Blow(peak=4.0, rise=0.2, hold=0.1, tau=1.0), Blow(peak=11.0, tau=0.4)])
def test_volume_time_blow_indices_equal_closed_form(blow):
    t = _t()
    got = spirometry_indices(blow.volume_ml(t), FS)
    _check(got, blow.indices(t[-1]))
    assert got.bev_ok and got.eofe_ok


@pytest.mark.parametrize("header,per_l_s", [("t_s,flow_l_s", 1.0), ("t_s,flow [L/s]", 1.0), ("t_s,flow_lps", 1.0),
                                             ("t_s,flow_ml_s", 1e3), ("t_s,flow [mL/s]", 1e3),
                                             ("t_s,flow_l_min", 60.0), ("t_s,Flow (L/s)", 1.0),
                                             ("t_s,flow [L/min]", 60.0)])
def test_flow_time_blow_reads_and_gives_the_same_indices(tmp_path, header, per_l_s):
    blow, t = Blow(), _t()
    path = tmp_path / "blow.csv"
    np.savetxt(path, np.c_[t, blow.flow(t) * per_l_s], delimiter=",", header=header, comments="", fmt="%.9f")
    rec = read(path)
    assert rec.modality == "spiro" and rec.units == ("mL",) and rec.metadata["spirogram"] == "flow-time"
    from_flow = spirometry_indices(record_volume_ml(rec), rec.fs_hz)
    from_volume = spirometry_indices(blow.volume_ml(t), FS)
    _check(from_flow, blow.indices(t[-1]), rel=2e-3)  # trapezoids on the decay: ~1e-4 relative
    for key in ("fvc_ml", "fev1_ml", "pef_l_s", "fef25_75_l_s", "t0_s"):
        assert getattr(from_flow, key) == pytest.approx(getattr(from_volume, key), rel=2e-3), key


@pytest.mark.parametrize("header", ["t_s,flow", "t_s,Flow_b"])
def test_a_flow_without_a_unit_is_refused_never_read_as_a_volume(tmp_path, capsys, header):
    """A flow column without a unit spans 0-8: read by its span it was a volume in L (FVC 11.3 L,
    FEV1/FVC 1.000 on the shared blow, exit 0). It is an error naming the fix."""
    blow, t = Blow(), _t()
    path = tmp_path / "blow.csv"
    np.savetxt(path, np.c_[t, blow.flow(t)], delimiter=",", header=header, comments="", fmt="%.9f")
    from biosig.cli import main
    assert main(["spiro", str(path)]) != 0
    err = capsys.readouterr().err
    assert "looks like a flow but has no unit" in err and "flow_l_s" in err and "Traceback" not in err


def test_flow_time_with_a_gap_is_refused(tmp_path):
    path = tmp_path / "gap.csv"
    path.write_text("t_s,flow_l_s\n0,0\n0.01,1\n0.02,\n0.03,1\n")
    from biosig.errors import ReadError
    with pytest.raises(ReadError, match="cannot be integrated"):
        read(path)


def test_pef_is_the_80_ms_flow_not_the_sample_slope():
    """On a smooth blow, PEF equals the analytic maximum of (V(t+40ms) - V(t-40ms)) / 80ms."""
    from biosig.synthetic import spiro_volume_ml

    def volume(t):
        return spiro_volume_ml(t - 0.5, 4500.0, 0.9, 0.5, 1.2, rise_s=0.04)

    dense = np.arange(0.3, 2.0, 1e-5)
    oracle = np.max((volume(dense + PEF_WINDOW_S / 2) - volume(dense - PEF_WINDOW_S / 2)) / PEF_WINDOW_S) / 1000
    t = _t(10.0)
    got = spirometry_indices(volume(t), FS).pef_l_s
    assert got == pytest.approx(oracle, rel=1e-2)  # windows centred on samples only
    slope = np.max(np.gradient(volume(t), 1 / FS)) / 1000  # the old, sample-slope PEF
    assert slope > oracle * 1.02 and abs(got - oracle) < abs(slope - oracle)
    # the window helper itself against the same oracle at one point
    t1 = 0.6
    f = flow_over_window(t, volume(t))[int(t1 * FS)]
    assert f == pytest.approx((volume(t1 + 0.04) - volume(t1 - 0.04)) / 0.08 / 1000, rel=1e-3)


def test_end_of_test_not_reached_and_hesitant_start_flags():
    blow = Blow(tau=1.5)
    short = spirometry_indices(blow.volume_ml(_t(2.5)), FS)
    assert not short.eofe_ok and short.plateau_ml > 25
    t = _t()
    creep = np.clip((t - 0.0) / 0.5, 0, 1) * 400.0  # 400 mL leaked before the blast
    late = Blow(start=1.0)
    hesitant = spirometry_indices(late.volume_ml(t) + creep, FS)
    assert not hesitant.bev_ok and hesitant.bev_ml > hesitant.bev_limit_ml


# ------------------------------------------------------------------ session
def _ind(fev1, fvc, bev_ok=True, eofe_ok=True):
    return SpirometryIndices(fvc_ml=fvc, fev1_ml=fev1, fev1_fvc=fev1 / fvc, pef_l_s=8.0, fef25_75_l_s=4.0,
                             t0_s=0.5, bev_ml=50.0, bev_limit_ml=200.0, bev_ok=bev_ok, t_pef_s=0.6,
                             eofe_ok=eofe_ok)


@pytest.mark.parametrize("values,grade", [
    ([3000, 2900, 2880], "A"), ([3000, 2860], "B"), ([3000, 2820], "C"), ([3000, 2760], "D"),
    ([3000, 2700, 2000], "E"), ([3000], "E"), ([], "U")])
def test_repeatability_grades_ats_ers_2019(values, grade):
    assert repeatability_grade(values, n_usable=1)[0] == grade


def test_session_best_values_come_from_acceptable_blows():
    blows = [_ind(3000, 4000), _ind(3100, 3950), _ind(3500, 4500, bev_ok=False), _ind(2950, 4100, eofe_ok=False)]
    s = session_summary(blows)
    assert s["fev1_ml"] == 3100 and s["fvc_ml"] == 4000  # hesitant 3500 excluded; 4100 lacks EOFE
    assert s["fev1_fvc"] == pytest.approx(3100 / 4000) and s["n_acceptable_fev1"] == 3
    assert s["grade_fev1"] == "A" and s["fev1_repeat_ml"] == 100 and s["grade_fvc"] == "B"
    # usable (ATS/ERS 2019 table 7) needs the BEV within its limit: U with one such blow, else F
    assert session_summary([_ind(3000, 4000, bev_ok=True, eofe_ok=False)])["grade_fvc"] == "U"
    assert session_summary([_ind(3000, 4000, bev_ok=False)])["grade_fev1"] == "F"


# ------------------------------------------------------------------ CLI
def _cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "biosig.cli", "spiro", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=120)


def test_spiro_cli_session_json_plot_and_bad_input(tmp_path):
    t = _t()
    files = []
    for i, peak in enumerate((8.0, 7.9, 7.7)):
        p = tmp_path / f"blow{i}.csv"
        np.savetxt(p, np.c_[t, Blow(peak=peak).volume_ml(t)], delimiter=",", header="t_s,volume_ml",
                   comments="", fmt="%.6f")
        files.append(p)
    flow = tmp_path / "flow.csv"
    np.savetxt(flow, np.c_[t, Blow(peak=7.95).flow(t)], delimiter=",", header="t_s,flow_l_s", comments="", fmt="%.9f")
    bad = tmp_path / "bad.csv"
    bad.write_text("t_s,volume_ml\n0,0\n")
    out = _cli(*files, flow, bad, "--json", "--plot", tmp_path / "fv.png")
    assert out.returncode == 1 and "Traceback" not in out.stderr   # some failed (as embed/score)
    errors = [ln for ln in out.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and "bad.csv" in errors[0]
    doc = json.loads(out.stdout)
    assert [b["spirogram"] for b in doc["blows"]] == ["volume-time"] * 3 + ["flow-time"]
    want = [Blow(peak=p).indices(t[-1]) for p in (8.0, 7.9, 7.7, 7.95)]
    for b, w in zip(doc["blows"], want):
        assert b["fvc_ml"] == pytest.approx(w["fvc_ml"], rel=2e-3) and b["pef_l_s"] == pytest.approx(w["pef_l_s"], rel=2e-3)
    s = doc["session"]
    best_fvc = max(w["fvc_ml"] for w in want)
    assert s["n_blows"] == 4 and s["fvc_ml"] == pytest.approx(best_fvc, rel=2e-3)
    fvcs = sorted((w["fvc_ml"] for w in want), reverse=True)
    assert s["grade_fvc"] == ("A" if fvcs[0] - fvcs[1] <= 150 else "E")
    png = (tmp_path / "fv.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    table = _cli(files[0])
    assert table.returncode == 0 and "FEV1/FVC" in table.stdout and "session (" not in table.stdout


def test_spiro_cli_on_the_shared_uk_biobank_blow():
    path = shared_path("spirometry", "ukb_field3066_demo_blow.csv")
    out = _cli(path, "--json")
    assert out.returncode == 0, out.stderr
    b = json.loads(out.stdout)["blows"][0]
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    t, v = data[:, 0], np.maximum.accumulate(data[:, 1]) - data[0, 1]
    # by hand: FVC is the level the volume ends at (within the file's 1 mL steps of the largest
    # volume; spirometry_end.plateau_level_ml); PEF the largest 80 ms volume change (8 samples at 100 Hz)
    assert abs(b["fvc_ml"] - v[-1]) <= 1.0
    pef = np.max((v[8:] - v[:-8]) / 0.08) / 1000
    assert b["pef_l_s"] == pytest.approx(pef, rel=1e-9)
    i = int(np.argmax((v[8:] - v[:-8]))) + 4
    t0 = t[i] - v[i] / 1000 / pef
    assert b["t0_s"] == pytest.approx(t0, abs=1e-9)
    assert b["fev1_ml"] == pytest.approx(np.interp(t0 + 1, t, v), rel=1e-9)
    assert b["acceptable_fev1"] and b["acceptable_fvc"] and 0.7 < b["fev1_fvc"] < 0.9


def test_unitless_volume_is_read_by_its_span_and_flow_in_ml_s_is_integrated(tmp_path, caplog):
    """A volume column without a unit was taken as mL (a 5.8 L blow written in L gave FVC 0.006 L,
    'acceptable'): it is read as L or mL from its span with a warning, and a span that fits
    neither is an error asking for the unit. A flow in mL/s (which `score` refused) is integrated
    like one in L/s: every command measures the same blow."""
    import logging

    from biosig.errors import SignalError
    from biosig.record import Record
    from biosig.spirometry import to_volume_ml
    from biosig import measures
    blow, t = Blow(), _t()
    v = blow.volume_ml(t)
    want = spirometry_indices(v, FS)
    with caplog.at_level(logging.WARNING):
        np.testing.assert_allclose(to_volume_ml(v / 1000.0, "", FS, "volume"), v)
        np.testing.assert_allclose(to_volume_ml(v, "", FS, "volume_b"), v)
    assert "read as L" in caplog.text and "read as mL" in caplog.text
    with pytest.raises(SignalError, match="no unit and spans 50"):
        to_volume_ml(v / v.max() * 50.0, "", FS, "volume")
    with pytest.raises(SignalError, match="in 'mmHg'; accepted units"):
        to_volume_ml(v, "mmHg", FS, "volume")
    np.testing.assert_allclose(to_volume_ml(v / 1000.0, "L", FS), v)
    flow_ml_s = blow.flow(t) * 1000.0
    rec = Record(samples=flow_ml_s[None], fs_hz=FS, channels=("flow",), units=("mL/s",), modality="spiro")
    got = measures.spirometry_indices(rec)
    for key in ("fvc_ml", "fev1_ml", "pef_l_s", "fef25_75_l_s", "t0_s"):
        assert getattr(got, key) == pytest.approx(getattr(want, key), rel=2e-3), key
    for unit, scale in (("", 1e-3), ("L", 1e-3), ("mL", 1.0)):   # a one-channel record, any name
        rec = Record(samples=(v * scale)[None], fs_hz=FS, channels=("ch1",), units=(unit,), modality="spiro")
        assert measures.spirometry_indices(rec).fvc_ml == pytest.approx(want.fvc_ml)
        assert record_volume_ml(rec) == pytest.approx(v)


def test_score_measures_a_flow_in_ml_s_like_spiro_does(tmp_path):
    """`score --model spiro-tiny` on a flow in mL/s gives the indices `spiro` gives (it failed:
    'spirogram volume in mL/s; accepted units: mL, L'); the reader integrates it, as a flow in L/s."""
    import polars as pl

    from biosig.cli import main
    blow, t = Blow(), _t(12.0)
    folder = tmp_path / "blows"
    folder.mkdir()
    pl.DataFrame({"t_s": t, "flow [mL/s]": blow.flow(t) * 1000.0}).write_csv(folder / "flow.csv")
    out = tmp_path / "out"
    assert main(["score", str(folder), "--model", "spiro-tiny", "--out", str(out)]) == 0
    rec = pl.read_parquet(out / "records.parquet")
    want = spirometry_indices(blow.volume_ml(t), FS)
    assert rec["fvc_l"][0] == pytest.approx(want.fvc_ml / 1000.0, rel=2e-3)
    assert rec["pef_l_s"][0] == pytest.approx(want.pef_l_s, rel=2e-3)
    win = pl.read_parquet(out / "windows.parquet")
    assert win["fvc_l"].max() == pytest.approx(want.fvc_ml / 1000.0, rel=2e-3)
