"""``Record.pick`` and the quality code take a modality's channels by the one rule of replay, ``score`` and ``embed``.

:func:`biosig.modality.modality_channel_indices` takes a channel of unknown modality (``other``) only where no
channel is named of the modality and the record is of it, and never a pressure, trend or temperature (ABP, PAP,
a channel in mmHg). Two places kept an older rule: ``Record.pick`` returned the whole record when every channel
was of the modality or ``other`` (MLII beside ABP: both, so ``biosig info`` summarised ``ch2`` in mmHg of a record
read with ``--modality ecg`` as an ECG lead), and :func:`biosig.quality.quality_modalities` scored every ``other``
channel as the record's modality (MIMIC 041s's ABP and PAP, MIT-BIH polysomnographic 03700181's ABP passed the
ECG gate). Records whose channels are all of the modality (cinc2017, mitdb, synthetic) keep their results.
Synthetic records written in ``tmp_path``; real files from ``../shared/data`` where present.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from biosig.cli import main
from biosig.errors import SignalError
from biosig.quality import quality_modalities, window_quality
from biosig.quality_summary import quality_summary
from biosig.readers import read
from biosig.record import Record
from biosig.writers import write
from conftest import shared_path

FS_HZ = 250.0
HR_BPM = 72.0


def _bed(seconds: float = 30.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(ecg in mV, abp in mmHg): Gaussian QRS at 72 /min and an arterial pressure wave at the same rate."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS_HZ)) / FS_HZ
    beats = np.arange(0.4, seconds, 60.0 / HR_BPM)
    ecg = sum(1.2 * np.exp(-0.5 * ((t - b) / 0.012) ** 2) - 0.15 * np.exp(-0.5 * ((t - b - 0.03) / 0.015) ** 2)
              for b in beats) + 0.02 * rng.standard_normal(t.size)
    phase = 2 * np.pi * HR_BPM / 60.0 * t
    abp = 90 + 20 * np.maximum(np.sin(phase), 0) ** 2 + 5 * np.sin(phase / 2)
    return ecg.astype(np.float32), abp.astype(np.float32)


@pytest.fixture(scope="module")
def bed():
    return _bed()


# ---------------------------------------------------------------------------------- Record.pick
def test_pick_leaves_a_pressure_beside_a_named_lead_out(bed):
    rec = Record(np.stack(bed), FS_HZ, ("MLII", "ABP"), ("mV", "mmHg"))
    assert rec.modality == "ecg" and rec.channel_modalities == ("ecg", "other")
    part = rec.pick("ecg")                               # was the whole record: ABP as an ECG lead
    assert part.channels == ("MLII",) and part.modality == "ecg"
    np.testing.assert_array_equal(part.samples[0], bed[0])


def test_pick_of_unnamed_channels_read_as_ecg_never_takes_one_in_mmhg(bed):
    rec = Record(np.stack(bed), FS_HZ, ("ch1", "ch2"), ("mV", "mmHg"), modality="ecg")
    assert rec.pick("ecg").channels == ("ch1",)            # was ch1, ch2
    both_mv = Record(np.stack(bed), FS_HZ, ("ch1", "ch2"), ("mV", "mV"), modality="ecg")
    assert both_mv.pick("ecg") is both_mv                   # the user's --modality: every channel, as before
    alone = Record(bed[1], FS_HZ, ("ch1",), ("mmHg",), modality="ecg")
    with pytest.raises(SignalError, match=r"no ecg channel among ch1 \(record modality ecg; ch1 \(other, mmHg\) "
                                          r"cannot be one\)"):
        alone.pick("ecg")


def test_pick_of_records_whose_channels_are_all_of_the_modality_is_unchanged(bed):
    two = Record(np.stack([bed[0], -bed[0]]), FS_HZ, ("MLII", "V5"), ("mV", "mV"))
    assert two.pick("ecg") is two
    with_pleth = Record(np.stack([bed[0], bed[1] / 100]), FS_HZ, ("II", "PLETH"), ("mV", "a.u."))
    assert with_pleth.pick("ecg").channels == ("II",) and with_pleth.pick("ppg").channels == ("PLETH",)
    with pytest.raises(SignalError, match=r"no ppg channel among MLII, V5 \(record modality ecg\)$"):
        two.pick("ppg")


# ---------------------------------------------------------------------------------- quality
def test_quality_scores_a_pressure_beside_a_lead_as_other_not_as_ecg(bed):
    rec = Record(np.stack(bed), FS_HZ, ("II", "ABP"), ("mV", "mmHg"))
    assert quality_modalities(rec) == ("ecg", "other")     # was ("ecg", "ecg")
    q = window_quality(rec)
    lead = window_quality(rec.select(["II"]))
    # oracle: the mean of the lead's ECG quality and the pressure's finite share (1: no gap), as a RESP channel's
    np.testing.assert_allclose(q, (lead + 1.0) / 2, rtol=0, atol=1e-12)
    unnamed = Record(np.stack(bed), FS_HZ, ("ch1", "ch2"), ("mV", "mmHg"), modality="ecg")
    assert quality_modalities(unnamed) == ("ecg", "other")
    both_mv = Record(np.stack([bed[0], bed[0]]), FS_HZ, ("ch1", "ch2"), ("mV", "mV"), modality="ecg")
    assert quality_modalities(both_mv) == ("ecg", "ecg")   # --modality ecg on names that say nothing: as before


def test_quality_of_all_ecg_records_is_unchanged(bed):
    """Each channel on its own as ECG is the oracle of the record's window quality and summary."""
    rec = Record(np.stack([bed[0], np.roll(bed[0], 40)]), FS_HZ, ("MLII", "V5"), ("mV", "mV"))
    assert quality_modalities(rec) == ("ecg", "ecg")
    alone = [window_quality(rec.select([c]).replace(modality="ecg")) for c in rec.channels]
    np.testing.assert_allclose(window_quality(rec), np.mean(alone, axis=0), rtol=0, atol=1e-12)
    s = quality_summary(rec, max_windows=3)["mean_quality"]
    parts = [quality_summary(rec.select([c]), max_windows=3)["mean_quality"] for c in rec.channels]
    assert s == pytest.approx(np.mean(parts), abs=1e-12)


# ---------------------------------------------------------------------------------- biosig info
def test_info_does_not_summarise_a_channel_in_mmhg_as_an_ecg_lead(bed, tmp_path, capsys):
    path = write(Record(np.stack(bed), FS_HZ, ("ch1", "ch2"), ("mV", "mmHg"), modality="other"), tmp_path / "b.hea")
    assert main(["info", "--json", "--modality", "ecg", str(path)]) == 0
    q = json.loads(capsys.readouterr().out)[0]["quality"]["ecg"]
    # was "lead ch1, best of 2" with ch2 (the pressure) usable in 100 % of its windows as an ECG
    assert "n_leads" not in q and "ch2" not in json.dumps(q)
    alone = quality_summary(Record(bed[0], FS_HZ, ("ch1",), ("mV",), modality="ecg"))
    assert q["mean_quality"] == pytest.approx(alone["mean_quality"], abs=1e-6)


# ---------------------------------------------------------------------------------- real records
def test_mimic_041s_and_mitbih_03700181_pressures_are_not_scored_as_ecg():
    rec = read(shared_path("wfdb", "multi-segment", "041s", "041s.hea")).slice_s(0, 20)
    assert rec.channels == ("III", "I", "V", "ABP", "PAP", "PLETH", "RESP")
    assert rec.pick("ecg").channels == ("III", "I", "V")
    assert quality_modalities(rec) == ("ecg", "ecg", "ecg", "other", "other", "ppg", "resp")   # ABP, PAP were ecg
    slp = read(shared_path("wfdb", "03700181.hea")).slice_s(0, 20)
    assert slp.channels == ("MCL1", "ABP", "RESP") and slp.pick("ecg").channels == ("MCL1",)
    assert quality_modalities(slp) == ("ecg", "other", "resp")


@pytest.mark.parametrize("parts", [("wfdb", "100.hea"), ("pretrain", "ecg", "mitdb", "219.hea"),
                                   ("cinc2017", "A00622.hea")])
def test_real_all_ecg_records_keep_pick_and_quality(parts):
    rec = read(shared_path(*parts)).slice_s(0, 30)
    assert set(rec.channel_modalities) == {"ecg"}
    assert rec.pick("ecg") is rec and quality_modalities(rec) == ("ecg",) * rec.n_channels
    alone = [window_quality(rec.select([c]).replace(modality="ecg")) for c in rec.channels]
    np.testing.assert_allclose(window_quality(rec), np.mean(alone, axis=0), rtol=0, atol=1e-12)
