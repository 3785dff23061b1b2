"""Property: a streaming pipeline's output does not depend on how the input is chunked, NaN gaps
included, and gaps stay local."""
import numpy as np
from hypothesis import given, settings, strategies as st

from biosig.pipeline import Pipeline, default_pipeline

CHAINS = {
    "ecg360": (default_pipeline("ecg").split_in_model()[0], 360.0, 2),
    "ppg250": (default_pipeline("ppg").split_in_model()[0], 250.0, 1),
    "resp125": (default_pipeline("resp").split_in_model()[0], 125.0, 1),
    "misc": (Pipeline.of(("select_channels", {"channels": [1, 0]}), ("highpass", {"low_hz": 1.0}),
                         ("clip", {"low": -2, "high": 2}), ("resample", {"fs_hz": 50})), 100.0, 2),
}


@settings(max_examples=25, deadline=None)
@given(chain=st.sampled_from(sorted(CHAINS)), seed=st.integers(0, 2**31 - 1),
       cuts=st.lists(st.integers(1, 2399), max_size=20),
       gap=st.one_of(st.none(), st.tuples(st.integers(0, 2000), st.integers(1, 300))))
def test_streaming_output_is_chunking_invariant_with_gaps(chain, seed, cuts, gap):
    pipe, fs, c = CHAINS[chain]
    x = np.cumsum(np.random.default_rng(seed).standard_normal((c, 2400)), axis=1).astype(np.float32) * 0.1
    if gap is not None:
        x[0, gap[0]:gap[0] + gap[1]] = np.nan
    whole = pipe.stream(fs, c).process(x)
    s = pipe.stream(fs, c)
    parts = np.split(x, sorted(set(cuts)), axis=1)
    chunked = np.concatenate([s.process(p) for p in parts], axis=1)
    np.testing.assert_allclose(chunked, whole, atol=1e-5, rtol=1e-5)  # NaN positions must match too
    if gap is None:
        assert np.isfinite(whole).all()
    else:
        # the gap grows by at most the resampling FIR's span, never to the whole signal
        ratio = s.fs_out_hz / fs
        bad = np.flatnonzero(np.isnan(whole).any(axis=0))
        assert len(bad) > 0
        assert bad.min() >= int(gap[0] * ratio) - 2
        assert bad.max() <= (gap[0] + gap[1]) * ratio + 40 * max(1.0, ratio) + 2


def test_fused_iir_cascade_equals_the_steps_run_one_by_one():
    from biosig.filters import SosStream

    pipe = Pipeline.of(("highpass", {"low_hz": 0.5}), ("lowpass", {"high_hz": 40.0}), ("notch", {"freq_hz": 50.0}))
    s = pipe.stream(250.0, 2)
    assert len(s.ops) == 1 and isinstance(s.ops[0], SosStream) and len(s.ops[0].sos) == 2 + 2 + 1
    x = np.cumsum(np.random.default_rng(0).standard_normal((2, 5000)), axis=1).astype(np.float32)
    x[1, 1000:1300] = np.nan
    one_by_one = x
    for step in pipe.steps:
        one_by_one = Pipeline.of(step).stream(250.0, 2).process(one_by_one)
    np.testing.assert_allclose(s.process(x), one_by_one, rtol=1e-4, atol=1e-4)
