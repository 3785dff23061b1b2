"""ECG polarity step (biosig/polarity.py): NeuroKit2's ecg_invert as the oracle, a plain-loop twin
of the statistic, the stream against the offline decision, and the step inside a Pipeline."""
import numpy as np
import pytest

from biosig.pipeline import Pipeline
from biosig.polarity import PolarityStream, lead_sign, polarity_block, signed_extremes
from biosig.synthetic import simulate
from conftest import shared_path


def _loop_extremes(x, n):
    out = []
    for k in range(len(x) // n):
        w = x[k * n:(k + 1) * n]
        ok = np.isfinite(w)
        out.append(np.nan if not ok.any() else w[ok][np.argmax(np.abs(w[ok]))])
    return np.array(out)


def test_signed_extremes_against_a_plain_loop():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1037)
    x[100:180] = np.nan
    x[500:600] = np.nan                     # one whole window of 100 samples
    np.testing.assert_array_equal(signed_extremes(x, 100), _loop_extremes(x, 100))
    assert np.isnan(signed_extremes(x, 100)[5]) and len(signed_extremes(x, 100)) == 10
    assert len(signed_extremes(x[:50], 100)) == 0 and lead_sign(np.zeros(0)) == 1.0
    assert lead_sign(np.array([-2.0, -1.0, 3.0])) == -1.0 and lead_sign(np.array([np.nan, 1.0])) == 1.0


def test_synthetic_ecg_upright_and_upside_down():
    rec = simulate("ecg", 30, seed=4, fs_hz=250.0)
    x = rec.samples
    up, s_up = polarity_block(x, rec.fs_hz)
    down, s_down = polarity_block(-x, rec.fs_hz)
    assert s_up.tolist() == [1.0] and s_down.tolist() == [-1.0]
    np.testing.assert_array_equal(up, x)
    np.testing.assert_array_equal(down, x)            # turned back exactly
    short, s_short = polarity_block(-x[:, :100], rec.fs_hz)   # shorter than one 2 s window: untouched
    assert s_short.tolist() == [1.0] and np.array_equal(short, -x[:, :100])


def test_decisions_match_neurokit2_on_real_leads():
    """NeuroKit2's ecg_invert (sliding windows) on the same cleaned leads: the same decision on
    MIT-BIH 100 both ways up and on at least 95 % of 60 CinC 2017 recordings."""
    nk = pytest.importorskip("neurokit2")
    import biosig
    first = shared_path("cinc2017", "A00020.hea")
    heads = sorted(first.parent.glob("*.hea"))[:60]
    mitdb = biosig.read(shared_path("wfdb", "100.hea").with_suffix(""))
    leads = [(mitdb.samples[0, :30 * 360].astype(float), 360)]
    leads += [(biosig.read(h.with_suffix("")).samples[0].astype(float), 300) for h in heads]
    agree = 0
    for i, (x, fs) in enumerate(leads):
        for sign in ((1, -1) if i == 0 else (1,)):
            _, nk_inverted = nk.ecg_invert(sign * x, sampling_rate=fs)
            clean = nk.ecg_clean(sign * x, sampling_rate=fs)
            _, ours = polarity_block((clean - np.nanmean(clean))[None], fs)
            if i == 0:
                assert (ours[0] < 0) == nk_inverted == (sign < 0)
            else:
                agree += (ours[0] < 0) == nk_inverted
    assert agree >= 0.95 * len(heads)


def test_stream_holds_the_decision_of_its_history():
    """Chunks of any size: unchanged until the first 2 s window completes, then the sign the
    offline rule gives over the complete windows seen (all of them while under history_s)."""
    rec = simulate("ecg", 20, seed=9, fs_hz=250.0)
    x = -rec.samples.astype(np.float32)
    op = PolarityStream({"window_s": 2.0, "history_s": 30.0}, 250.0, 1)
    rng = np.random.default_rng(1)
    out, pos = [], 0
    while pos < x.shape[1]:
        n = int(rng.integers(1, 90))
        out.append(op.process(x[:, pos:pos + n]))
        pos += n
    y = np.concatenate(out, axis=1)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(y[:, :400], x[:, :400])        # before the first window completes
    np.testing.assert_array_equal(y[:, 1000:], -x[:, 1000:])     # upright once the decision is taken
    op.reset()
    assert op.signs.tolist() == [1.0]


def test_stream_history_is_bounded():
    """A lead that turns over mid-stream is followed once the new polarity fills most of history_s."""
    rec = simulate("ecg", 40, seed=2, fs_hz=250.0)
    x = rec.samples.copy()
    x[:, 5000:] *= -1                                            # upside down after 20 s
    op = PolarityStream({"window_s": 2.0, "history_s": 10.0}, 250.0, 1)
    signs = []
    for k in range(0, x.shape[1], 250):
        op.process(x[:, k:k + 250])
        signs.append(op.signs[0])
    assert signs[10] == 1.0 and signs[19] == 1.0 and signs[-1] == -1.0


def test_polarity_step_in_a_pipeline():
    pipe = Pipeline.from_json('{"format": 1, "steps": [{"name": "bandpass", "params": {"low_hz": 0.5, '
                              '"high_hz": 40.0}}, {"name": "polarity"}, {"name": "zscore"}]}')
    assert [s.name for s in pipe.steps] == ["bandpass", "polarity", "zscore"]
    assert pipe.steps[1].params == {"window_s": 2.0, "history_s": 30.0}
    assert Pipeline.from_json(pipe.to_json()).hash == pipe.hash
    outside, inside = pipe.split_in_model()
    assert [s.name for s in outside.steps] == ["bandpass", "polarity"]
    rec = simulate("ecg", 20, seed=3, fs_hz=250.0)
    up = pipe.apply(rec)
    down = pipe.apply(rec.replace(samples=-rec.samples))
    assert "polarity_flipped" not in up.metadata and down.metadata["polarity_flipped"] == list(rec.channels)
    np.testing.assert_allclose(down.samples, up.samples, atol=1e-5)


def test_polarity_in_a_streaming_pipeline():
    """The step inside biosig's StreamingPipeline (causal band-pass before it): an upside-down ECG
    comes out upright once the first window has completed, as the offline pipeline gives it."""
    from biosig.pipeline import StreamingPipeline
    pipe = Pipeline.of(("bandpass", {"low_hz": 0.5, "high_hz": 40.0}), ("polarity", {}))
    rec = simulate("ecg", 20, seed=6, fs_hz=250.0)
    down = -rec.samples.astype(np.float32)
    sp = StreamingPipeline(pipe, 250.0, 1)
    y = np.concatenate([sp.process(down[:, k:k + 50]) for k in range(0, down.shape[1], 50)], axis=1)
    up = pipe.apply(rec).samples                     # offline: zero-phase band-pass, upright as recorded
    tail = slice(2500, None)                         # 10 s on: decision taken, filter settled
    assert np.corrcoef(y[0, tail], up[0, tail])[0, 1] > 0.8
    assert np.corrcoef(y[0, :400], up[0, :400])[0, 1] < 0   # before the first 2 s window: as received
