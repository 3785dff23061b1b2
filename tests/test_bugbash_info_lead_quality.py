"""``biosig info`` summarises the quality of the lead the measures take, not the mean of all leads.

Bug bash: a 2-lead WFDB record written by ``biosig.write`` with a clean lead II and a disconnected
(all-NaN) V5 was summarised "ecg mean 0.50 (min 0.50, usable 0% of 3 windows)" although ``score``
used II at quality 1.00; MIMIC 041s (lead I all noise, III clean) read 0.78.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from biosig.cli import main
from biosig.quality_summary import quality_summary
from biosig.readers import read
from biosig.record import Record
from biosig.writers import write
from conftest import shared_path


def _info(capsys, *argv):
    code = main(["info", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _ecg(seconds: float, fs_hz: float, bpm: float = 72.0) -> np.ndarray:
    """A clean synthetic ECG (NeuroKit2's simulator, seeded)."""
    nk = pytest.importorskip("neurokit2")
    return nk.ecg_simulate(duration=seconds, sampling_rate=int(fs_hz), heart_rate=bpm, random_state=1)


def test_a_dead_lead_does_not_hide_a_clean_one(tmp_path, capsys):
    ecg = _ecg(30, 360)
    rec = Record(np.stack([ecg, np.full_like(ecg, np.nan)]), 360.0, ("II", "V5"), ("mV", "mV"))
    path = write(rec, tmp_path / "dead_lead.hea")
    code, out, err = _info(capsys, "--json", str(path))
    assert code == 0, err
    q = json.loads(out)[0]["quality"]["ecg"]
    oracle = quality_summary(read(path).select(["II"]).replace(modality="ecg"))   # lead II on its own
    assert oracle["fraction_usable"] == 1.0
    assert q["lead"] == "II" and q["n_leads"] == 2
    assert q["fraction_usable"] == pytest.approx(oracle["fraction_usable"])
    assert q["mean_quality"] == pytest.approx(oracle["mean_quality"])
    assert q["lead_usable"] == {"II": 1.0, "V5": 0.0}
    code, out, _ = _info(capsys, str(path))
    line = next(l for l in out.splitlines() if l.strip().startswith("quality"))
    assert "usable 100% of 3 windows; lead II, best of 2 (V5 usable 0%)" in line


def test_gaps_say_which_channel_is_missing(tmp_path, capsys):
    ecg = _ecg(30, 360)
    x = np.stack([ecg, ecg * 0.5, np.full_like(ecg, np.nan)])
    x[0, 3600:3960] = np.nan                                     # 1 s out of lead II
    path = write(Record(x, 360.0, ("II", "V1", "V5"), ("mV",) * 3), tmp_path / "gaps.hea")
    oracle = np.isnan(read(path).samples).sum(axis=1) / 360.0    # NaN counts of what the reader gives
    assert list(oracle) == [1.0, 0.0, 30.0]
    code, out, err = _info(capsys, "--json", "--no-quality", str(path))
    assert code == 0, err
    gaps = json.loads(out)[0]["gaps"]
    assert gaps["count"] == 1 and gaps["total_s"] == pytest.approx(30.0)   # merged across channels, as before
    assert gaps["by_channel_s"] == {"II": 1.0, "V5": 30.0}
    code, out, _ = _info(capsys, "--no-quality", str(path))
    assert "  gaps         1 (30.000 s; missing by channel: II 1.000 s, V5 30.000 s)" in out.splitlines()


def test_mimic_041s_summarises_lead_iii_not_the_noisy_lead_i(capsys):
    path = shared_path("wfdb", "multi-segment", "041s", "041s.hea")
    code, out, err = _info(capsys, "--json", str(path))
    assert code == 0, err
    q = json.loads(out)[0]["quality"]["ecg"]
    assert q["lead"] == "III" and q["lead_usable"]["I"] == 0.0
    assert q["mean_quality"] > 0.95   # the three leads' mean read 0.78


def test_single_lead_summary_unchanged(tmp_path, capsys):
    path = write(Record(_ecg(30, 360)[None], 360.0, ("II",), ("mV",)), tmp_path / "one.hea")
    code, out, _ = _info(capsys, "--json", str(path))
    q = json.loads(out)[0]["quality"]["ecg"]
    assert "lead" not in q
    assert q["mean_quality"] == pytest.approx(quality_summary(read(path))["mean_quality"])
