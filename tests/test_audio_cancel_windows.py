"""The runtime's windows of a stereo audio stream carry, as gaps, the recorded quarter-seconds whose
channels cancel when mixed (streams.ingest.InputStream, audio-tiny's pipeline: mono -> resample):
the samples ``embed`` and ``score`` set to NaN (biosig.quality_audio.mark_cancelled_spans, the
offline oracle), frames of random size; a normal stereo stream and a mono one carry none."""
import numpy as np
import pytest

from biosig.pipeline import default_pipeline
from biosig.quality_audio import CANCEL_BLOCK_S, mark_cancelled_spans
from biosig.record import Record
from biosig.synthetic import simulate
from streams.ingest import InputStream
from streams.models import HostedModel

FS = 16000.0


@pytest.fixture(scope="module")
def outside():   # audio-tiny's (the same hash), without loading torch
    return default_pipeline("audio").split_in_model()[0]


def _stream(outside, n_channels, window=(2.0, 1.1)):
    model = HostedModel("audio-tiny", "audio-tiny", "audio", FS, 1, outside, None, False)
    h = {"stream": "bed/audio", "session": 1, "fs_hz": FS, "channels": [f"c{i}" for i in range(n_channels)],
         "units": [""] * n_channels, "modality": "audio", "dtype": "<f4", "seq": 0}
    return InputStream(h, window, model)


def _online(st, x, seed=0, frame=None):
    rng = np.random.default_rng(seed)
    out, i, most = [], 0, 0
    while i < x.shape[1]:
        n = frame or int(rng.integers(1, 3000))
        out += st.windows(x[:, i:i + n], i / FS)
        most = max(most, st.raw.shape[1])
        i += n
    return out, most


def _stereo(seconds=6.0):
    a = simulate("audio", seconds, fs_hz=FS, seed=0).samples[:1].astype(np.float32)
    b = simulate("audio", seconds, fs_hz=FS, seed=1).samples[:1].astype(np.float32)
    return np.concatenate([a, 0.7 * a + 0.3 * b])


def test_windows_mark_the_blocks_the_offline_oracle_marks(outside):
    x = _stereo()
    for a_s, b_s in ((1.0, 2.5), (4.1, 6.0)):      # blocks 4-9; from inside block 16 to the end
        x[1, int(a_s * FS):int(b_s * FS)] = -x[0, int(a_s * FS):int(b_s * FS)]   # one channel inverted
    raw = Record(x, FS, ("c0", "c1"), modality="audio")
    clean = outside.apply(raw)
    gaps = np.isnan(mark_cancelled_spans(clean, raw, "audio").samples)      # offline: (1, N)
    st = _stream(outside, 2)
    online, most = _online(st, x)
    n = st.windower.window_n
    assert len(online) == 4
    marked = 0
    for j, (win, flat, _, _) in enumerate(online):
        a = int(round(j * 1.1 * FS))
        np.testing.assert_array_equal(win, clean.samples[:, a:a + n])          # the encoder's window unchanged
        want = gaps[:, a:a + n]
        assert (np.zeros_like(want) if flat is None else flat).tolist() == want.tolist(), j
        marked += int(want.sum())
    assert marked == 16000 + 22400 + 4800 + 16800   # windows 0-2, 1.1-3.1, 2.2-4.2, 3.3-5.3 s (block 17 on)
    assert most <= int(CANCEL_BLOCK_S * FS) + 3000              # a block not complete and a frame, no more


def test_normal_stereo_and_mono_streams_carry_no_gaps(outside):
    x = _stereo()
    stereo, _ = _online(_stream(outside, 2), x)
    mono_st = _stream(outside, 1)
    mono, _ = _online(mono_st, x[:1])
    assert len(stereo) == len(mono) == 4
    assert all(flat is None for _, flat, _, _ in stereo + mono)
    assert not mono_st.cancel_check and mono_st.raw.shape[1] == 0     # mono keeps no recorded audio


def test_the_block_a_window_ends_in_is_judged_on_the_samples_recorded_so_far(outside):
    """Causal, as a flat run in an ECG window: the window 1.1-3.1 s, cut when the frame ending at 3.1 s
    arrives, ends 0.1 s into the block 3.0-3.25 s, whose channels cancel up to 3.15 s. Its recorded
    part cancels, so the window's last 0.1 s is a gap; offline, the whole block (60 % cancelled) is not."""
    x = _stereo(3.2)
    a, b = int(1.0 * FS), int(3.15 * FS)
    x[1, a:b] = -x[0, a:b]
    raw = Record(x, FS, ("c0", "c1"), modality="audio")
    gaps = np.isnan(mark_cancelled_spans(outside.apply(raw), raw, "audio").samples)
    online, _ = _online(_stream(outside, 2), x, frame=1600)
    first = int(1.1 * FS)
    flat = online[1][1]
    assert len(online) == 2 and flat is not None
    extra = flat[0] & ~gaps[0, first:first + flat.shape[1]]
    assert np.flatnonzero(extra).tolist() == list(range(int(1.9 * FS), int(2.0 * FS)))   # 3.0-3.1 s
