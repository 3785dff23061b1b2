"""Issue 14, PPG: the ``pulse`` descriptor set (7 rhythm + pulse amplitude variability + beat-to-template
correlation), the synthetic rhythm PPG of biosig/synthetic_pulse.py (``--synthetic-rhythm-records``
for ``--modality ppg``), ``--init-from`` across objectives and the dev task of
benchmarks/eval_ppg_dev.py. Descriptors vs the NumPy oracle and vs signals with known rhythms; the
``v1`` / ``atrial`` sets unchanged."""
import json
import sys

import numpy as np
import pytest
import torch

from biosig.cli import main
from biosig.errors import SignalError
from biosig.synthetic_pulse import (PULSE_KINDS, ppg_from_pulse_beats, pulse_beat_times, pulse_records,
                                    simulate_pulse_record)
from conftest import ROOT
from encoder_helpers import SMALL, TINY, random_beat_tokens
from encoders.config import get_config
from encoders.data import synthetic_pulse_records
from encoders.descriptors import DESCRIPTOR_SETS, NAMES, PULSE_NAMES, SET_LOG_FLOORS, compute, n_desc
from encoders.descriptors_twin import descriptors_numpy
from encoders.errors import EncoderError
from encoders.model import EncoderModel

FS, BEFORE, R = 125.0, 31, 31

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _model(**kw):
    return EncoderModel(get_config("ppg-tiny", tokenizer="beat", objective="mae+descriptors", **SMALL, **kw))


def _random_tokens(counts, C=2, K=40, L=87, seed=0):
    return random_beat_tokens(counts, L, C, K, seed)


def test_pulse_descriptors_match_numpy_oracle_and_share_v1_definitions():
    tok, valid = _random_tokens([0, 1, 2, 3, 6, 17, 40])
    t, v = torch.from_numpy(tok), torch.from_numpy(valid)
    got = compute(t, v, FS, BEFORE, R, "pulse").numpy()
    assert got.shape == (7, 10) == (7, n_desc("pulse")) and np.isfinite(got).all()
    np.testing.assert_allclose(got, descriptors_numpy(tok, valid, FS, BEFORE, R, "pulse"), rtol=1e-4, atol=1e-5)
    v1 = compute(t, v, FS, BEFORE, R, "v1").numpy()
    np.testing.assert_array_equal(got[:, :7], v1[:, :7])                         # rhythm: the v1 definitions
    np.testing.assert_array_equal(got[:, 8:], v1[:, [NAMES.index("template_corr_mean"),
                                                     NAMES.index("template_corr_std")]])
    tok2 = tok.copy()
    tok2[~valid] = 50.0                                                         # pad slots never count
    np.testing.assert_allclose(compute(torch.from_numpy(tok2), v, FS, BEFORE, R, "pulse").numpy(), got, atol=1e-6)
    assert PULSE_NAMES == DESCRIPTOR_SETS["pulse"] and set(SET_LOG_FLOORS["pulse"]) < set(range(10))
    assert n_desc("v1") == 13 and n_desc("atrial") == 17                       # the ECG sets as they were


def test_pulse_amplitude_cv_of_known_amplitudes():
    K, L = 40, 87
    tok = np.zeros((1, K, 1, L + 6), np.float32)
    valid = np.zeros((1, K, 1), bool)
    amps = np.array([1.0, 2.0, 1.0, 2.0, 1.5])
    shape = np.sin(np.linspace(0, np.pi, L))                                    # peak-to-peak 1
    for j, a in enumerate(amps):
        tok[0, 4 * j + 2, 0, :L] = a * shape
        valid[0, 4 * j + 2, 0] = True
    d = compute(torch.from_numpy(tok), torch.from_numpy(valid), FS, BEFORE, R, "pulse").numpy()[0]
    assert d[PULSE_NAMES.index("pulse_amp_cv")] == pytest.approx(amps.std() / amps.mean(), rel=1e-4)
    assert d[PULSE_NAMES.index("template_corr_mean")] == pytest.approx(1.0, abs=1e-5)   # one shape, scaled


def test_pulse_beat_times_have_the_rhythm_of_their_kind():
    stats = {}
    for kind in PULSE_KINDS:
        rows = []
        for s in range(6):
            b = pulse_beat_times(kind, 60.0, np.random.default_rng([5, s]))
            rr = np.diff(b[(b > 0) & (b < 60)])
            d = np.diff(rr)
            rows.append((60 / rr.mean(), np.median(np.abs(d)) / np.median(rr), np.mean(d[1:] * d[:-1] < 0)))
        stats[kind] = np.array(rows)
    irr = {k: v[:, 1] for k, v in stats.items()}
    assert irr["af"].min() > max(irr["sinus"].max(), irr["brady_tachy"].max())
    assert stats["bigeminy"][:, 2].min() > 0.6                                  # short-long alternation
    hr = stats["brady_tachy"][:, 0]
    assert ((hr < 56) | (hr > 99)).all()
    with pytest.raises(SignalError, match="pulse rhythm kind"):
        pulse_beat_times("flutter", 10.0, np.random.default_rng(0))


def test_pulse_wave_is_log_normal_pulses_at_the_beats():
    beats = np.arange(0.5, 10.0, 1.0)
    x = ppg_from_pulse_beats(beats, 1250, FS, np.random.default_rng(0))
    assert x[:int(0.5 * FS)].max() == 0.0                                      # nothing before the first beat
    peaks = [int(beats[k] * FS) + int(np.argmax(x[int(beats[k] * FS):int((beats[k] + 0.4) * FS)])) for k in range(9)]
    lag = np.diff(peaks)
    assert (lag == lag[0]).all() and 0.05 * FS < peaks[0] - 0.5 * FS < 0.3 * FS   # systolic peak after the beat
    np.testing.assert_allclose(x[peaks], np.median(x[peaks]), rtol=0.3)   # regular: amplitude within AM (<=15 %) + jitter


def test_synthetic_pulse_records_are_deterministic_and_varied():
    a = list(synthetic_pulse_records(5, 30.0, seed=0))
    b = list(synthetic_pulse_records(5, 30.0, seed=0))
    c = list(synthetic_pulse_records(5, 30.0, seed=1))
    assert [s for s, _ in a] == [s for s, _ in b] and all(np.array_equal(x.samples, y.samples) for (_, x), (_, y) in zip(a, b))
    assert not any(np.array_equal(x.samples, y.samples) for (_, x), (_, y) in zip(a, c))
    r = a[0][1]
    assert r.samples.shape == (1, 3750) and r.fs_hz == 125.0 and r.channels == ("PPG",) and r.modality == "ppg"
    assert np.isfinite(np.stack([r.samples for _, r in a])).all()
    kinds = [k for _, _, k in pulse_records(7, 10.0, 0)]
    assert kinds == [*PULSE_KINDS, *PULSE_KINDS[:2]]
    # through the pipeline and the model's own tokenizer, AF-like windows are the irregular ones
    from biosig.pipeline import default_pipeline
    from biosig.record import Record
    outside, _ = default_pipeline("ppg").split_in_model()
    m = _model(descriptor_set="pulse")
    recs = [outside.apply(Record(samples=simulate_pulse_record(k, 10.0, np.random.default_rng([3, i]), FS)[None]
                                 .astype(np.float32), fs_hz=FS, channels=("PPG",), modality="ppg")).samples[0, :1250]
            for i in range(6) for k in ("af", "sinus")]
    x = torch.from_numpy(np.stack(recs).astype(np.float32))[:, None]
    tok, valid = m.frontend(x)
    d = compute(tok, valid, FS, m.frontend.before, m.frontend.r, "pulse").numpy()
    irr = d[:, PULSE_NAMES.index("irregularity")]
    assert irr[0::2].mean() > 2 * irr[1::2].mean()


def test_pretrain_ppg_with_pulse_records_and_init_from_another_objective(tmp_path, capsys):
    base = ["--modality", "ppg", "--synthetic-rhythm-records", "3", "--synthetic-seconds", "30",
            "--batch-size", "8", "--hop-s", "10", "--no-progress", *TINY, "--set", 'tokenizer="beat"',
            "--set", 'pool="mean+std"']
    assert main(["pretrain", *base, "--steps", "1", "--objective", "mae+clocs", "--out", str(tmp_path / "c")]) == 0
    meta = json.loads((tmp_path / "c" / "meta.json").read_text())
    assert meta["n_sources"] == 3 and meta["n_windows"] == 9                 # 30 s, 10 s windows (padded tail)
    assert main(["pretrain", *base, "--steps", "1", "--lr", "1e-12", "--objective", "mae+descriptors",
                 "--set", 'descriptor_set="pulse"', "--init-from", str(tmp_path / "c"),
                 "--out", str(tmp_path / "d")]) == 0
    a = torch.load(tmp_path / "c" / "weights.pt", weights_only=True)
    b = torch.load(tmp_path / "d" / "weights.pt", weights_only=True)
    assert b["desc_head.linear.weight"].shape == (10, 32) and not any(k.startswith("proj_head.") for k in b)
    enc_keys = [k for k in a if not k.startswith(("proj_head.", "dec_", "mask_token"))]
    assert enc_keys and all(torch.allclose(a[k], b[k], atol=1e-6) for k in enc_keys)   # lr ~0: encoder kept
    capsys.readouterr()
    assert main(["pretrain", *base, "--steps", "1", "--synthetic-rhythm-atrial", "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "--synthetic-rhythm-atrial needs --modality ecg" in err and "Traceback" not in err
    with pytest.raises(EncoderError, match="descriptor_set"):
        get_config("ppg-tiny", descriptor_set="pulses")


def test_ppg_dev_task_is_balanced_deterministic_and_held_out():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from eval_ppg_dev import DEV_SEED, dev_task
    recs, y, kinds = dev_task(16, seconds=10.0)
    recs2, y2, _ = dev_task(16, seconds=10.0)
    assert y.sum() == 8 and y.tolist() == y2.tolist() and set(kinds) == set(PULSE_KINDS)
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(recs, recs2))
    assert recs[0].fs_hz == 100.0 and DEV_SEED >= 900_000
    train = [r for _, r in synthetic_pulse_records(4, 10.0, seed=0, fs_hz=100.0)]
    assert not any(np.array_equal(a.samples, b.samples) for a in recs for b in train)


def test_eval_ppg_dev_runs_end_to_end_on_the_shipped_checkpoint(capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import encoders
    from eval_ppg_dev import main as dev_main
    assert encoders.load("ppg-tiny").config.descriptor_set in DESCRIPTOR_SETS
    assert dev_main(["ppg-tiny", "--random-seeds", "0", "--n", "10", "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if not ln.startswith("#") and " | " in ln]
    assert len(rows) == 4 and rows[1].startswith("ppg-tiny (ppg-tiny-") and rows[3].startswith("ibi features")
    assert "# R^2 random weights seed 0: beat_rate_hz=" in out
