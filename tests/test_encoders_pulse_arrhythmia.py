"""Issue 14, PPG arrhythmias: the ``arrhythmia`` descriptor set (``pulse`` plus premature-beat fraction,
premature amplitude deficit, pause non-compensation, long pauses and pulse width) against the NumPy
oracle and against tokens with known intervals and pulses; the PAC / PVC / SVT / VT kinds of
biosig/synthetic_pulse.py against their definitions; ``--synthetic-pulse-arrhythmia``."""
import json

import numpy as np
import pytest
import torch

from biosig.cli import main
from biosig.errors import SignalError
from biosig.synthetic_pulse import (ARRHYTHMIA_KINDS, ARRHYTHMIA_PULSE_KINDS, PULSE_KINDS, arrhythmia_beats,
                                    ppg_from_pulse_beats, pulse_beat_times, simulate_pulse_record)
from encoder_helpers import TINY, random_beat_tokens
from encoders.data import synthetic_pulse_records
from encoders.descriptors import ARRHYTHMIA_NAMES, DESCRIPTOR_SETS, compute, n_desc
from encoders.descriptors_twin import descriptors_numpy

FS, BEFORE, R = 125.0, 31, 31
NAMES = DESCRIPTOR_SETS["arrhythmia"]

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_arrhythmia_descriptors_match_numpy_oracle_and_extend_the_pulse_set():
    tok, valid = random_beat_tokens([0, 1, 2, 3, 6, 17, 40], 87, 2, 40, 0)
    t, v = torch.from_numpy(tok), torch.from_numpy(valid)
    got = compute(t, v, FS, BEFORE, R, "arrhythmia").numpy()
    assert got.shape == (7, 15) == (7, n_desc("arrhythmia")) and np.isfinite(got).all()
    np.testing.assert_allclose(got, descriptors_numpy(tok, valid, FS, BEFORE, R, "arrhythmia"), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got[:, :10], compute(t, v, FS, BEFORE, R, "pulse").numpy())
    assert got[4:, ARRHYTHMIA_NAMES.index("premature_frac") + 10].max() > 0     # the random intervals have some
    tok2 = tok.copy()
    tok2[~valid] = 50.0                                                         # pad slots never count
    np.testing.assert_allclose(compute(torch.from_numpy(tok2), v, FS, BEFORE, R, "arrhythmia").numpy(), got, atol=1e-6)


def _tokens(rr_s, upstrokes, shapes=None, L=87):
    """One window, one channel: a beat every 3 slots with preceding intervals ``rr_s`` (the first beat
    has none) and pulses of the given upstroke (foot 0 before the peak at BEFORE)."""
    K = 3 * len(upstrokes) + 1
    tok = np.zeros((1, K, 1, L + 6), np.float32)
    valid = np.zeros((1, K, 1), bool)
    for j, a in enumerate(upstrokes):
        s = np.zeros(L) if shapes is None else shapes[j].copy()
        if shapes is None:
            s[BEFORE] = a
        k = 3 * j
        tok[0, k, 0, :L] = s
        valid[0, k, 0] = True
        if j:
            tok[0, k, 0, L], tok[0, k, 0, L + 2] = rr_s[j - 1], 1.0
    return torch.from_numpy(tok), torch.from_numpy(valid)


def test_known_premature_beats_pauses_and_deficits():
    # sinus 1.0 s; beat 3 is early (0.5 s, upstroke 0.2) with a full compensatory pause (1.5 s);
    # beat 6 is early (0.7 s, upstroke 1) with a reset pause (1.05 s); one long pause (2 s)
    rr = [1.0, 1.0, 0.5, 1.5, 1.0, 0.7, 1.05, 1.0, 2.0, 1.0]
    up = [1.0, 1.0, 1.0, 0.2, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    d = compute(*_tokens(rr, up), FS, BEFORE, R, "arrhythmia").numpy()[0]
    got = dict(zip(NAMES, d))
    assert got["premature_frac"] == pytest.approx(2 / 10)
    assert got["premature_amp_deficit"] == pytest.approx(((1 - 0.2) + 0.0) / 2, abs=1e-6)
    assert got["pause_noncompensation"] == pytest.approx(((1 - 2.0 / 2) + (1 - 1.75 / 2)) / 2, abs=1e-6)
    assert got["long_pause_frac"] == pytest.approx(1 / 10)
    # a regular rhythm has none of them
    d0 = dict(zip(NAMES, compute(*_tokens([1.0] * 5, [1.0] * 6), FS, BEFORE, R, "arrhythmia").numpy()[0]))
    assert d0["premature_frac"] == d0["premature_amp_deficit"] == d0["pause_noncompensation"] == 0
    assert d0["long_pause_frac"] == 0


def test_pulse_width_of_known_shapes():
    L = 87
    i = np.arange(L)
    narrow = np.clip(1 - np.abs(i - BEFORE) / 5.0, 0, None)       # triangle: above 1/2 for |i - peak| < 2.5
    broad = np.clip(1 - np.abs(i - BEFORE) / 15.0, 0, None)
    for shape, n_above in ((narrow, 5), (broad, 15)):
        d = compute(*_tokens([1.0, 1.0], [1, 1, 1], [shape] * 3), FS, BEFORE, R, "arrhythmia").numpy()[0]
        assert d[NAMES.index("pulse_width_s")] == pytest.approx(n_above / FS, abs=1e-6)


def test_arrhythmia_kinds_follow_their_definitions():
    for s in range(5):
        for kind in ("pac", "pvc"):
            t, amp, width, dia, premature = arrhythmia_beats(kind, 60.0, np.random.default_rng([3, s]))
            rr = np.diff(t)
            early = np.where(premature[1:-2])[0]            # rr[j] ends at premature beat j + 1
            assert len(early) >= 1, (kind, s)
            sinus = np.median(rr[~premature[1:] & ~np.r_[False, premature[1:-1]]])
            assert np.all(rr[early] < 0.93 * sinus)
            pair = (rr[early] + rr[early + 1]) / sinus
            if kind == "pvc":   # full compensatory pause, small broad pulse, potentiated next beat
                assert np.median(pair) == pytest.approx(2.0, abs=0.2)
                assert np.all(amp[early + 1] <= 0.6) and np.all(width[early + 1] >= 1.15)
                assert np.all(amp[early + 2] >= 1.05)
            else:               # reset: shorter than compensatory, pulse unchanged beyond filling
                assert np.median(pair) < 1.95 and np.all(amp == 1) and np.all(width == 1)
            assert 0 < premature.mean() <= 0.5
        t, amp, width, _, _ = arrhythmia_beats("svt", 60.0, np.random.default_rng([4, s]))
        fast = np.diff(t)[amp[1:] < 1]
        assert 60 / np.median(fast) == pytest.approx(185, abs=46) and fast.std() / fast.mean() < 0.03
        t, amp, width, dia, premature = arrhythmia_beats("vt", 60.0, np.random.default_rng([5, s]))
        assert 105 <= 60 / np.median(np.diff(t)) <= 225 and np.all(width >= 1.2) and np.all(dia <= 0.4)
        assert amp.std() > 0 and np.median(amp) < 0.7 and not premature.any()
    with pytest.raises(SignalError, match="arrhythmia kind"):
        arrhythmia_beats("sinus", 10.0, np.random.default_rng(0))


def test_per_beat_factors_draw_nothing_and_shape_the_pulses():
    beats = np.arange(0.5, 10, 0.8)
    base = ppg_from_pulse_beats(beats, 1250, FS, np.random.default_rng(0))
    ones = np.ones(len(beats))
    np.testing.assert_array_equal(ppg_from_pulse_beats(beats, 1250, FS, np.random.default_rng(0), ones, ones, ones),
                                  base)
    amp = ones.copy()
    amp[5] = 0.1
    x = ppg_from_pulse_beats(beats, 1250, FS, np.random.default_rng(0), amp)
    i5 = int(beats[5] * FS)
    assert x[i5:i5 + 40].max() < 0.3 * base[i5:i5 + 40].max()
    # the five rhythm kinds draw exactly as before (the shipped checkpoint's training data)
    for kind in PULSE_KINDS:
        a = simulate_pulse_record(kind, 20.0, np.random.default_rng([7, 1]))
        rng = np.random.default_rng([7, 1])
        n = 2500
        ref = ppg_from_pulse_beats(pulse_beat_times(kind, 20.0, rng), n, FS, rng)
        assert np.corrcoef(a, ref)[0, 1] > 0.3   # the same pulses under the noise


def test_synthetic_pulse_records_with_arrhythmias_are_deterministic_and_named():
    recs = list(synthetic_pulse_records(len(ARRHYTHMIA_PULSE_KINDS), 12.0, seed=0, arrhythmia=True))
    again = list(synthetic_pulse_records(len(ARRHYTHMIA_PULSE_KINDS), 12.0, seed=0, arrhythmia=True))
    assert [n for n, _ in recs] == [f"synthetic:ppg-arrhythmia:0:{40000 + i}" for i in range(9)]
    for (_, a), (_, b) in zip(recs, again):
        np.testing.assert_array_equal(a.samples, b.samples)
    assert ARRHYTHMIA_PULSE_KINDS[5:] == ARRHYTHMIA_KINDS
    old = [n for n, _ in synthetic_pulse_records(2, 12.0, seed=0)]
    assert old == ["synthetic:ppg-rhythm:0:30000", "synthetic:ppg-rhythm:0:30001"]


def test_pretrain_ppg_with_arrhythmia_records_and_descriptors(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["pretrain", "--modality", "ppg", "--synthetic-rhythm-records", "9", "--synthetic-pulse-arrhythmia",
            "--synthetic-seconds", "20", "--batch-size", "8", "--no-progress", *TINY, "--objective",
            "mae+descriptors", "--set", 'tokenizer="beat"', "--set", 'descriptor_set="arrhythmia"',
            "--out", str(out)]
    assert main(argv) == 0
    cfg = json.loads((out / "config.json").read_text())
    meta = json.loads((out / "meta.json").read_text())
    assert cfg["descriptor_set"] == "arrhythmia" and meta["train_config"]["synthetic_pulse_arrhythmia"] is True
    capsys.readouterr()
    assert main(["pretrain", "--modality", "ecg", "--synthetic-rhythm-records", "2", "--synthetic-pulse-arrhythmia",
                 "--no-progress", *TINY, "--out", str(tmp_path / "ecg")]) != 0
    assert "needs --modality ppg" in capsys.readouterr().err
    assert main(["pretrain", "--modality", "ppg", "--synthetic", "--synthetic-pulse-arrhythmia",
                 "--no-progress", *TINY, "--out", str(tmp_path / "ppg")]) != 0
    assert "--synthetic-rhythm-records" in capsys.readouterr().err


def test_arrhythmia_dev_task_is_held_out_and_runs_end_to_end(capsys):
    import sys

    from conftest import ROOT
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from eval_ppg_dev import dev_task
    from eval_ppg_dev import main as dev_main
    recs, y, kinds = dev_task(18, seconds=10.0, arrhythmia=True)
    assert [ARRHYTHMIA_PULSE_KINDS[k] for k in y] == kinds and np.bincount(y).tolist() == [2] * 9
    train = [r for _, r in synthetic_pulse_records(9, 10.0, seed=0, fs_hz=100.0, arrhythmia=True)]
    assert not any(np.array_equal(a.samples, b.samples) for a in recs for b in train)
    assert dev_main(["ppg-tiny", "--random-seeds", "0", "--n", "45", "--bootstrap", "20", "--arrhythmia"]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if not ln.startswith("#") and " | " in ln]
    assert len(rows) == 4 and "mean R^2 arrhythmia (5)" in rows[0] and rows[3].startswith("ibi features")
    assert "9-class" in out and "premature_amp_deficit=" in out
