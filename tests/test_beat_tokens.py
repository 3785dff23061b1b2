"""Beat-synchronous tokenizer: detector vs biosig's detect_beats, padding + mask with variable beat
counts, ONNX export parity, MAE on real beats only."""
import numpy as np
import pytest
import torch

from biosig.quality import detect_beats
from biosig.synthetic import simulate
from encoders.beat_tokens import N_RHYTHM, BeatTokens
from encoders.config import get_config
from encoders.model import EncoderModel

from conftest import shared_path

SMALL = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_heads=2, decoder_depth=1)


def _ecg(hr, seed, seconds=10.0, fs=250.0):
    r = simulate("ecg", seconds + 2, seed=seed, fs_hz=fs, heart_rate_bpm=hr)
    return r.samples[0, : int(seconds * fs)].astype(np.float32)


def _match(ref, got, tol):
    if len(ref) == 0 or len(got) == 0:
        return 0
    return int((np.abs(ref[:, None] - got[None, :]).min(1) <= tol).sum())


@pytest.mark.parametrize("hr", [50, 75, 120, 170])
def test_detector_matches_detect_beats_on_synthetic_ecg(hr):
    bt = BeatTokens("ecg", 250.0, 0.25, 0.45, 0.25)
    x = _ecg(hr, seed=hr)
    ref, _ = detect_beats(x, 250.0, "ecg")
    got = bt.beats(torch.from_numpy(x)[None, None])[0][0]
    tp = _match(ref, got, tol=10)      # 40 ms
    assert tp >= len(ref) - 1 and len(got) <= len(ref) + 1, (ref, got)


def test_detector_on_real_cinc2017_records():
    d = shared_path("cinc2017")
    from biosig.pipeline import default_pipeline
    from biosig.readers import read
    outside, _ = default_pipeline("ecg").split_in_model()
    bt = BeatTokens("ecg", 250.0, 0.25, 0.45, 0.25)
    tp = n_ref = n_got = 0
    for p in sorted(d.glob("*.hea"))[:40]:
        x = outside.apply(read(p.with_suffix(""))).samples[0, :2500].astype(np.float32)
        ref, _ = detect_beats(x, 250.0, "ecg")
        got = bt.beats(torch.from_numpy(x)[None, None])[0][0]
        tp, n_ref, n_got = tp + _match(ref, got, 15), n_ref + len(ref), n_got + len(got)
    # measured: sensitivity 0.89, positive predictivity 0.98 against detect_beats (noisy AliveCor)
    assert tp / n_ref > 0.85 and tp / n_got > 0.95


def test_ppg_pulses_follow_the_rate():
    bt = BeatTokens("ppg", 125.0, 0.25, 0.55, 0.33)
    for hr in (55, 90, 140):
        r = simulate("ppg", 12, seed=1, fs_hz=125.0, heart_rate_bpm=hr)
        got = bt.beats(torch.from_numpy(r.samples[:, :1250].astype(np.float32))[None])[0][0]
        assert abs(len(got) - hr / 6) <= 2, (hr, len(got))


def test_rhythm_features_against_numpy():
    bt = BeatTokens("ecg", 250.0, 0.25, 0.45, 0.25)
    x = _ecg(70, seed=3)
    tok, valid = bt(torch.from_numpy(x)[None, None])                    # (1, K, 1, L+6)
    tok, valid = tok[0, :, 0].numpy(), valid[0, :, 0].numpy()
    beats = bt.beats(torch.from_numpy(x)[None, None])[0][0] / 250.0
    rr = np.diff(beats)
    feats = tok[valid][:, -N_RHYTHM:]
    np.testing.assert_allclose(feats[1:, 0], rr, atol=1e-5)            # interval to the previous beat
    np.testing.assert_allclose(feats[:-1, 1], rr, atol=1e-5)           # ... to the next beat
    assert feats[0, 2] == 0 and feats[1:, 2].all() and feats[-1, 3] == 0
    np.testing.assert_allclose(feats[1:, 4], rr / rr.mean() - 1, atol=1e-5)
    assert not tok[~valid].any()                                        # pad slots are all zero


def test_variable_beat_counts_batch_equals_single_and_pads_are_ignored():
    torch.manual_seed(0)
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", **SMALL)).eval()
    x = torch.from_numpy(np.stack([_ecg(hr, seed=i) for i, hr in enumerate((45, 80, 150))]))[:, None]
    _, valid = m.frontend(x)
    counts = valid.sum((1, 2)).tolist()
    assert len(set(counts)) == 3, counts                                # really variable
    with torch.no_grad():
        batch = m.embed_forward(x)
        single = torch.cat([m.embed_forward(x[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(batch, single, atol=1e-5, rtol=1e-5)
    # the pooled embedding reads real tokens only: changing the pad embedding changes nothing
    # except through attention, and a window of pure pad slots still gives finite output
    with torch.no_grad():
        flat = m.embed_forward(torch.zeros(1, 1, 2500))
    assert torch.isfinite(flat).all()


def test_mae_loss_on_real_beats_only_and_deterministic():
    torch.manual_seed(0)
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", **SMALL))
    x = torch.from_numpy(np.stack([_ecg(hr, seed=i) for i, hr in enumerate((45, 150))]))[:, None]
    a = m(x, generator=torch.Generator().manual_seed(1))
    b = m(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a["loss"], b["loss"])
    _, valid = m.frontend(x)
    valid = valid.reshape(2, -1).float()
    per = (a["pred"] - a["target"]).pow(2).mean(-1)
    w = a["mask"] * valid
    torch.testing.assert_close(a["mse"], (per * w).sum() / w.sum())
    a["loss"].backward()
    assert m.patch_embed.weight.grad.abs().sum() > 0


def test_onnx_export_parity_with_variable_beat_counts(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from encoders.export import export_onnx
    torch.manual_seed(0)
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", **SMALL)).eval()
    export_onnx(m, tmp_path / "beat.onnx")
    sess = ort.InferenceSession(str(tmp_path / "beat.onnx"), providers=["CPUExecutionProvider"])
    x = np.stack([_ecg(hr, seed=i) for i, hr in enumerate((50, 80, 140))])[:, None]
    for T in (2500, 1900, 3000 // 2):
        xt = np.ascontiguousarray(x[..., :T])
        assert len(set(m.frontend(torch.from_numpy(xt))[1].sum((1, 2)).tolist())) > 1
        idx = np.full((3, 1), 12, np.int64)
        got = sess.run(None, {"x": xt, "channel_idx": idx})[0]
        with torch.no_grad():
            ref = m.embed_forward(torch.from_numpy(xt), torch.from_numpy(idx)).numpy()
        assert np.abs(got - ref).max() <= 1e-4


def test_beat_tokenizer_config_errors():
    from encoders.errors import EncoderError
    with pytest.raises(EncoderError, match="beat tokenizer"):
        get_config("audio-tiny", tokenizer="beat")
    with pytest.raises(EncoderError, match="unknown tokenizer"):
        get_config("ecg-tiny", tokenizer="word")


def test_searchback_rule_constants_are_biosigs():
    import biosig.ecg_beats as ecg_beats
    import encoders.beat_tokens as bt
    for name in ("SLOWEST_RR_S", "MIN_TYPICAL_REL", "BEAT_REL", "SECOND_PASS_REL", "SEARCHBACK_RR",
                 "SEARCHBACK_REL", "SEARCHBACK_MARGIN_S"):
        assert getattr(bt, name) == getattr(ecg_beats, name), name


def test_masked_median_against_numpy():
    from encoders.beat_tokens import _masked_median
    rng = np.random.default_rng(0)
    v = rng.normal(size=(64, 13)).astype(np.float32)
    m = rng.random((64, 13)) < rng.random((64, 1))
    got = _masked_median(torch.from_numpy(v), torch.from_numpy(m)).numpy()[:, 0]
    want = np.array([np.median(r[k]) if k.any() else 0.0 for r, k in zip(v, m)])
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert (~m.any(1)).any() and m.all(1).any()   # both edge cases were drawn


@pytest.mark.parametrize("hr", [60, 75, 90, 120])
def test_searchback_finds_small_beats_the_single_threshold_misses(hr):
    """Two QRS complexes at half the height (a quarter of the QRS energy: under the 30 % threshold,
    above half of it) in a regular rhythm: ``ecg_detector="threshold"`` misses both (the rhythm
    tokens then show two doubled intervals), ``"searchback"`` finds them where biosig's detector
    (the oracle, :func:`biosig.quality.detect_beats`) does, and adds nothing else."""
    from test_quality import _smooth_gain
    x = _ecg(hr, seed=hr).astype(np.float64)
    truth, _ = detect_beats(x, 250.0, "ecg")
    y = (x * _smooth_gain(len(x), truth[[3, 7]], 250.0, 0.5)).astype(np.float32)
    ref, _ = detect_beats(y, 250.0, "ecg")
    assert len(ref) == len(truth)                                            # the oracle finds them
    tok = {d: BeatTokens("ecg", 250.0, 0.25, 0.45, 0.25, ecg_detector=d).beats(torch.from_numpy(y)[None, None])[0][0]
           for d in ("threshold", "searchback")}
    full = BeatTokens("ecg", 250.0, 0.25, 0.45, 0.25).beats(torch.from_numpy(x.astype(np.float32))[None, None])[0][0]
    assert len(tok["threshold"]) == len(full) - 2
    assert len(tok["searchback"]) == len(full)
    assert _match(ref, tok["searchback"], tol=10) == len(tok["searchback"])   # every one is a beat (40 ms)
    for k in truth[[3, 7]]:
        assert np.abs(tok["searchback"] - k).min() <= 10 < np.abs(tok["threshold"] - k).min()


@pytest.mark.parametrize("hr", [50, 75, 120, 170])
def test_searchback_adds_nothing_to_a_clean_rhythm_or_a_sinus_pause(hr):
    bt = {d: BeatTokens("ecg", 250.0, 0.25, 0.45, 0.25, ecg_detector=d) for d in ("threshold", "searchback")}
    x = _ecg(hr, seed=hr)
    a, b = (bt[d].beats(torch.from_numpy(x)[None, None])[0][0] for d in ("threshold", "searchback"))
    np.testing.assert_array_equal(a, b)
    # a pause: two beats removed (flat), the search back finds no beat in it
    truth, _ = detect_beats(x, 250.0, "ecg")
    y = x.copy()
    k, h = truth[len(truth) // 2], int(0.05 * 250)
    rr = int(np.median(np.diff(truth)))
    y[k - h: k + 2 * rr - h] = np.interp(np.arange(k - h, k + 2 * rr - h), [k - h, k + 2 * rr - h],
                                         [y[k - h], y[k + 2 * rr - h]])
    got = bt["searchback"].beats(torch.from_numpy(y)[None, None])[0][0]
    assert not np.any((got > k - h + 0.1 * 250) & (got < k + 2 * rr - h - 0.1 * 250)), got


def test_searchback_export_parity_and_batch_equals_single(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from test_quality import _smooth_gain
    from encoders.export import export_onnx
    torch.manual_seed(0)
    m = EncoderModel(get_config("ecg-tiny", tokenizer="beat", ecg_detector="searchback", **SMALL)).eval()
    assert m.frontend.ecg_detector == "searchback"
    xs = []
    for i, hr in enumerate((50, 80, 140)):
        x = _ecg(hr, seed=i).astype(np.float64)
        truth, _ = detect_beats(x, 250.0, "ecg")
        xs.append((x * _smooth_gain(len(x), truth[[2, 5]], 250.0, 0.5)).astype(np.float32))
    x = np.stack(xs)[:, None]
    export_onnx(m, tmp_path / "beat.onnx")
    sess = ort.InferenceSession(str(tmp_path / "beat.onnx"), providers=["CPUExecutionProvider"])
    for T in (2500, 1900):
        xt = np.ascontiguousarray(x[..., :T])
        idx = np.full((3, 1), 12, np.int64)
        got = sess.run(None, {"x": xt, "channel_idx": idx})[0]
        with torch.no_grad():
            ref = m.embed_forward(torch.from_numpy(xt), torch.from_numpy(idx)).numpy()
            single = np.concatenate([m.embed_forward(torch.from_numpy(xt[i:i + 1]), torch.from_numpy(idx[i:i + 1])).numpy()
                                     for i in range(3)])
        assert np.abs(got - ref).max() <= 1e-4
        np.testing.assert_allclose(single, ref, atol=1e-5, rtol=1e-5)
    # the search back acted in this batch: more beats than the single threshold finds
    thr = BeatTokens("ecg", 250.0, 0.25, 0.45, 0.25)
    n = lambda bt: sum(len(b[0]) for b in bt.beats(torch.from_numpy(x)))
    assert n(m.frontend) > n(thr)


def test_ecg_detector_is_a_saved_config_field_with_a_backward_compatible_default():
    from encoders.config import EncoderConfig
    from encoders.errors import EncoderError
    assert EncoderConfig(modality="ecg").ecg_detector == "threshold"
    with pytest.raises(EncoderError, match="unknown ecg_detector"):
        get_config("ecg-tiny", tokenizer="beat", ecg_detector="pan-tompkins")
    import json
    from conftest import ROOT
    shipped = json.loads((ROOT / "encoders/checkpoints/ecg-tiny/config.json").read_text())
    assert shipped.get("ecg_detector", "threshold") in ("threshold", "searchback")
