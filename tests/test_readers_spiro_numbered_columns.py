"""A spirometry CSV with a column per blow (``t_s,volume_ml,volume_ml_2``): each blow's column is a
volume in mL. The unit suffix was read only on the first (``volume_ml_2`` became a channel without a
unit, warned about and read as mL by its span alone; bug bash 2026-12-06). The second blow is the
first scaled by 0.9, so its FVC is 0.9 times the first's (the oracle)."""
import numpy as np
import pytest

import biosig
from biosig.measures import spirometry_indices


def _two_blows(path):
    t = np.arange(0, 6, 0.01)
    v = 4000.0 * (1 - np.exp(-t / 0.6))
    with open(path, "w") as f:
        f.write("t_s,Volume_mL,volume_ml_2\n")
        for a, b in zip(t, v):
            f.write(f"{a:.2f},{b:.3f},{0.9 * b:.3f}\n")
    return path


def test_each_blows_column_is_a_volume_in_ml(tmp_path, caplog):
    rec = biosig.read(_two_blows(tmp_path / "blows.csv"))
    assert rec.channels == ("volume", "volume_2") and rec.units == ("mL", "mL") and rec.modality == "spiro"
    first, second = (spirometry_indices(rec.samples[i].astype(np.float64), rec.fs_hz) for i in range(2))
    assert second.fvc_l == pytest.approx(0.9 * first.fvc_l, rel=1e-3)
    assert "no unit" not in caplog.text


def test_a_column_that_only_starts_like_one_is_not_renamed(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("t_s,volume_ml_total\n0,1\n0.01,2\n0.02,3\n")
    assert biosig.read(path).channels == ("volume_ml_total",)
