"""A catching-up stream's frames of one drain are filtered as one chunk (streams.runtime_ingest
._coalesce): the windows are those of the frames cut one at a time, with the stream's real
preprocessing (biosig's ECG chain: resample, band-pass, notch, z-score), in far fewer pipeline
calls. A real-time stream's frames are still cut one at a time. On a runtime that is not
started, real streams and a real encoder lane (no worker)."""
import numpy as np

from biosig.pipeline import default_pipeline
from streams import protocol
from streams.ingest import InputStream
from streams.models import HostedModel
from test_streams_helpers import config, signal

FS, FRAME = 250.0, 25          # 0.1 s frames, as benchmarks/bench_flood.py sends them


def _stream(name: str) -> InputStream:
    outside, _ = default_pipeline("ecg").split_in_model()   # what a model's stream runs (z-score in the model)
    model = HostedModel("ecg-chain", "ecg-chain", "ecg", 250.0, 1, outside, None, False)
    h = protocol.decode(signal(name, 0, np.zeros((1, 5)), fs_hz=FS, modality="ecg", t0_s=0.0)).header
    return InputStream(h, (2.0, 1.0), model)


def _count_calls(st: InputStream) -> list:
    calls, process = [], st.pipe.process
    st.pipe.process = lambda x: calls.append(x.shape[1]) or process(x)   # the real pipeline, counted
    return calls


def _drain(catching_up: bool):
    from streams.runtime import Runtime
    from streams.runtime_outputs import Lane
    rt = Runtime(config(windows={"ecg": (2.0, 1.0)}, embed_queue=10_000))
    rt.lanes["main"] = Lane("main", None)
    st = _stream("lab/flood")
    st.catching_up = catching_up
    calls = _count_calls(st)
    x = np.random.default_rng(0).normal(size=(1, 60 * FRAME)).astype(np.float32)
    for k in range(60):                                         # 6 s of samples in one drain
        t0 = k * FRAME / FS
        rt._deferred.append((st, x[:, k * FRAME:(k + 1) * FRAME], t0, t0 + (FRAME - 1) / FS, k == 30))
    rt._run_deferred()
    assert not rt._deferred
    return list(rt.lanes["main"].queues.get("lab/flood", ())), calls, x


def test_a_catching_up_streams_frames_give_the_windows_of_the_frames_one_at_a_time():
    items, calls, x = _drain(catching_up=True)
    oracle = _stream("lab/flood")                               # the same frames, one call each
    want = []
    for k in range(60):
        if k == 30:                                             # the gap: windows restart there
            oracle.reset_windows()
        want += oracle.windows(x[:, k * FRAME:(k + 1) * FRAME], k * FRAME / FS)
    assert len(items) == len(want) == 4                         # 2 s windows, 1 s hop: 2 in each 3 s
    for it, (win, flat, t_start, t_end) in zip(items, want):
        assert np.array_equal(it[1], win) and np.array_equal(it[2], flat)
        assert (it[3], it[4]) == (t_start, t_end)
    assert calls == [30 * FRAME, 30 * FRAME]                    # one call each side of the gap (was 60)
    # each window's latency counts from the frame that completed it, as one frame at a time: the chunk's
    # newest sample (2.996 s for the window ending at 1.996 s) made its latency_ms.total 1 s short
    frame_newest = [(k * FRAME + FRAME - 1) / FS for k in range(60)]
    completed_by = [next(t for t in frame_newest if t >= it[4] - 1e-9) for it in items]
    assert [it[5] for it in items] == completed_by == [1.996, 2.996, 4.996, 5.996]


def test_a_real_time_streams_frames_are_cut_one_at_a_time():
    items, calls, _ = _drain(catching_up=False)
    assert calls == [FRAME] * 60 and len(items) == 4


def test_only_a_chain_whose_output_does_not_depend_on_chunking_is_coalesced():
    """StreamingPipeline.chunk_invariant, checked against the chains themselves: one call on 4 s
    against 40 calls of 0.1 s. Filters, resampling, mono, channel choice and clip give the same
    samples; a z-score normalises each chunk, polarity flips a whole chunk at its decision."""
    from biosig.pipeline import Pipeline
    x = np.random.default_rng(1).normal(size=(2, 1000)).astype(np.float32)
    x[1, 300:] *= -3.0                                       # polarity sees a lead turn over

    def chain(*steps):
        return Pipeline.from_json('{"steps": [%s]}' % ", ".join(steps)).stream(FS, 2)

    cases = {'{"name": "bandpass", "params": {"low_hz": 0.5, "high_hz": 40}}': True,
             '{"name": "resample", "params": {"fs_hz": 100}}': True,
             '{"name": "clip", "params": {"low": -1, "high": 1}}': True,
             '{"name": "mono", "params": {}}': True,
             '{"name": "zscore", "params": {}}': False,
             '{"name": "polarity", "params": {"window_s": 0.4, "history_s": 2}}': False}
    for step, invariant in cases.items():
        whole = chain(step).process(x)
        parts = chain(step)
        cut = np.concatenate([parts.process(x[:, k:k + 25]) for k in range(0, 1000, 25)], axis=1)
        assert chain(step).chunk_invariant is invariant, step
        assert (whole.shape == cut.shape and np.allclose(whole, cut, atol=1e-5)) is invariant, step
