"""A spirogram with dropped rows (irregular times) gives the indices of the complete blow."""
import pathlib

import numpy as np
import pytest

import biosig
from biosig.errors import SignalError
from biosig.measures import spirometry_indices
from biosig.record import Record
from biosig.spirometry import record_volume_ml, spirometry_indices as indices_of_volume

BLOW = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "spirometry" / "ukb_field3066_demo_blow.csv"
pytestmark = pytest.mark.skipif(not BLOW.exists(), reason="shared spirometry data not present")


def _hand(t, v):
    """Oracle: ATS/ERS 2019 by hand on the complete blow (80 ms flow, tangent at peak flow)."""
    v = np.maximum.accumulate(v) - v[0]
    k = 4
    i = np.arange(len(v))
    lo, hi = np.clip(i - k, 0, len(v) - 1), np.clip(i + k, 0, len(v) - 1)
    flow = (v[hi] - v[lo]) / ((hi - lo) / 100.0) / 1000.0
    j = int(np.argmax(flow))
    t0 = t[j] - v[j] / 1000.0 / flow[j]
    return v[-1], np.interp(t0 + 1.0, t, v), flow[j]


def test_dropped_rows_during_the_blow(tmp_path):
    t, v = np.loadtxt(BLOW, delimiter=",", skiprows=1, unpack=True)
    keep = np.ones(len(t), bool)
    keep[20:60:2] = False                      # 20 rows lost in the first 0.6 s (a lossy logger)
    path = tmp_path / "blow.csv"
    path.write_text("t_s,volume_ml\n" + "".join(f"{a:.2f},{b:g}\n" for a, b in zip(t[keep], v[keep])))
    rec = biosig.read(str(path))
    assert rec.times_irregular
    fvc, fev1, pef = _hand(t, v)
    # read as index / fs_hz the blow ran fast: FEV1 4925 mL and PEF 15.7 L/s instead of 4677 mL and 10.0 L/s
    for ind in (spirometry_indices(rec), indices_of_volume(record_volume_ml(rec), rec.fs_hz)):   # measures; CLI path
        assert ind.fvc_ml == pytest.approx(fvc, abs=1.0)   # the level it ends at, within the 1 mL steps
        assert ind.fev1_ml == pytest.approx(fev1, abs=1.0)
        assert ind.pef_l_s == pytest.approx(pef, abs=0.05)


def test_times_off_the_grid_are_refused():
    t = np.array([0.0, 0.013, 0.02, 0.03, 0.04]) + np.arange(5) * 0.0
    rec = Record(np.array([[0.0, 10.0, 20.0, 30.0, 40.0]]), 100.0, ("volume_ml",), ("mL",), times_s=t)
    with pytest.raises(SignalError, match="grid"):
        record_volume_ml(rec)
