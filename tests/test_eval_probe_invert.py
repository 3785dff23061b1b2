"""eval_probe ``--invert all|half``: the ECG / PPG records sign-flipped before any row sees them (the
polarity robustness of a model next to its baselines, on the same folds)."""
import numpy as np
import pytest

from biosig.record import Record
from conftest import load_benchmark


@pytest.fixture(scope="module")
def ep():
    return load_benchmark("eval_probe")


def _records(n=40):
    rng = np.random.default_rng(0)
    return [Record(samples=rng.standard_normal((1, 50)).astype(np.float32), fs_hz=100.0, channels=("PPG",),
                   modality="ppg") for _ in range(n)]


def test_all_negates_every_record_and_keeps_the_rest(ep):
    recs = _records()
    out = ep.invert_records(recs, "all")
    assert len(out) == len(recs)
    for a, b in zip(recs, out):
        np.testing.assert_array_equal(b.samples, -a.samples)
        assert (b.fs_hz, b.channels, b.modality) == (a.fs_hz, a.channels, a.modality)


def test_half_flips_a_seeded_random_half(ep):
    recs = _records(200)
    flipped = [bool(np.array_equal(b.samples, -a.samples)) for a, b in zip(recs, ep.invert_records(recs, "half", 3))]
    kept = [b is a for a, b in zip(recs, ep.invert_records(recs, "half", 3))]
    assert all(f != k for f, k in zip(flipped, kept))                    # each record either flipped or untouched
    assert 70 <= sum(flipped) <= 130
    again = [bool(np.array_equal(b.samples, -a.samples)) for a, b in zip(recs, ep.invert_records(recs, "half", 3))]
    other = [bool(np.array_equal(b.samples, -a.samples)) for a, b in zip(recs, ep.invert_records(recs, "half", 4))]
    assert again == flipped and other != flipped


def test_invert_is_refused_for_tasks_without_a_sign(ep, capsys):
    assert ep.parse_args(["--tasks", "ppg", "ecg-syn", "--invert", "half", "--jobs", "1"]).invert == "half"
    with pytest.raises(SystemExit):
        ep.parse_args(["--tasks", "ppg", "audio", "--invert", "all"])
    assert "--invert applies to the ECG and PPG tasks only" in capsys.readouterr().err
