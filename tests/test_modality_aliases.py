"""Modality names at the quality entry points: aliases mapped, unknown names refused.

``block_quality(x, fs, "ekg")`` was 1.0: any name other than ecg/ppg got the "finite fraction"
score of the modalities without a morphology model, so a misspelt ECG window passed every gate.
"""
import numpy as np
import pytest

from biosig.errors import SignalError
from biosig.modality import MODALITIES, MODALITY_ALIASES, normalise_modality
from biosig.lead_quality import best_lead, lead_summaries
from biosig.quality import block_quality, window_quality
from biosig.quality_summary import quality_summary
from biosig.synthetic import simulate

FS_HZ = 250.0


@pytest.fixture(scope="module")
def ecg():
    return simulate("ecg", 20, seed=0, fs_hz=FS_HZ)


@pytest.fixture(scope="module")
def noisy_window():
    """10 s of white noise: the ECG score is low, the "other" (finite fraction) score is 1."""
    return np.random.default_rng(0).normal(size=int(10 * FS_HZ))


def test_normalise_modality_maps_case_spaces_and_aliases():
    for m in MODALITIES:
        assert normalise_modality(m) == m
        assert normalise_modality(f" {m.upper()} ") == m
    for alias, m in MODALITY_ALIASES.items():
        assert m in MODALITIES
        assert normalise_modality(alias.upper()) == m


@pytest.mark.parametrize("bad", ["bogus", "", "ecg2", None, 3])
def test_normalise_modality_refuses_unknown_names_listing_the_valid_ones(bad):
    with pytest.raises(SignalError) as err:
        normalise_modality(bad)
    assert all(m in str(err.value) for m in MODALITIES) and "\n" not in str(err.value)


@pytest.mark.parametrize("alias", ["ekg", "EKG", " Ecg "])
def test_block_quality_scores_an_ecg_alias_as_ecg(noisy_window, alias):
    ecg_score = block_quality(noisy_window, FS_HZ, "ecg")
    assert ecg_score < 0.5                       # noise is not a usable ECG
    assert block_quality(noisy_window, FS_HZ, alias) == ecg_score   # was 1.0


def test_block_quality_scores_pleth_as_ppg(ecg):
    x = simulate("ppg", 20, seed=1, fs_hz=FS_HZ).samples[0, :2500]
    assert block_quality(x, FS_HZ, "Pleth") == block_quality(x, FS_HZ, "ppg")


@pytest.mark.parametrize("call", [
    lambda x, rec: block_quality(x, FS_HZ, "bogus"),
    lambda x, rec: window_quality(x[None], FS_HZ, "bogus"),
    lambda x, rec: window_quality(rec, modality="bogus"),
    lambda x, rec: quality_summary(rec, modality="bogus"),
    lambda x, rec: lead_summaries(rec, [0], "bogus"),
    lambda x, rec: best_lead(rec, [0], "bogus"),
], ids=["block_quality", "window_quality(array)", "window_quality(record)", "quality_summary",
        "lead_summaries", "best_lead"])
def test_quality_entry_points_refuse_unknown_modalities(ecg, noisy_window, call):
    with pytest.raises(SignalError, match="unknown modality 'bogus'; expected one of ecg, ppg"):
        call(noisy_window, ecg)


def test_record_quality_with_an_alias_equals_the_canonical_name(ecg):
    np.testing.assert_array_equal(window_quality(ecg, modality="EKG"), window_quality(ecg, modality="ecg"))
    assert lead_summaries(ecg, [0], "ekg") == lead_summaries(ecg, [0], "ecg")
