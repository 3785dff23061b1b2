"""The UK Biobank demo blow's indices, recomputed by hand (ATS/ERS 2019, 80 ms flow), match the code
and docs/preprocessing.md."""
import pathlib

import numpy as np
import pytest

import biosig
from biosig.measures import spirometry_indices

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOW = ROOT.parent / "shared" / "data" / "spirometry" / "ukb_field3066_demo_blow.csv"
pytestmark = pytest.mark.skipif(not BLOW.exists(), reason="shared spirometry data not present")


def _by_hand():
    t, v = np.loadtxt(BLOW, delimiter=",", skiprows=1, unpack=True)
    v = np.maximum.accumulate(v)
    v = v - v[0]
    k = 4   # +-40 ms at 100 Hz
    idx = np.arange(len(v))
    lo, hi = np.clip(idx - k, 0, len(v) - 1), np.clip(idx + k, 0, len(v) - 1)
    flow = (v[hi] - v[lo]) / ((hi - lo) / 100.0) / 1000.0
    i = int(np.argmax(flow))
    pef = flow[i]
    t0 = t[i] - v[i] / 1000.0 / pef
    return {"fvc_ml": v[-1], "fev1_ml": np.interp(t0 + 1.0, t, v), "pef_l_s": pef, "bev_ml": np.interp(t0, t, v)}


def test_indices_match_hand_computation_and_docs():
    got = spirometry_indices(biosig.read(str(BLOW)))
    ref = _by_hand()
    for key, value in ref.items():
        # FVC: the level the volume ends at, within the file's 1 mL steps of its largest sample
        assert getattr(got, key) == pytest.approx(value, **({"abs": 1.0} if key == "fvc_ml" else {"rel": 1e-9})), key
    doc = (ROOT / "docs" / "preprocessing.md").read_text()
    line = (f"FVC {got.fvc_ml / 1000:.2f} L, FEV1 {got.fev1_ml / 1000:.2f} L, FEV1/FVC {got.fev1_fvc:.2f}, "
            f"PEF {got.pef_l_s:.1f} L/s, BEV {got.bev_ml:.0f} mL (limit {got.bev_limit_ml:.0f} mL)")
    assert line in doc.replace("\n  ", " ")
