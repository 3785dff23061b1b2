"""A chunk of many windows (a large frame, a catching-up stream's drain) looks for flat runs once
in its recorded samples, not once a window (streams.ingest.InputStream.windows): the windows and
their flat masks are those of the same samples sent in 0.1 s frames, a window at a time, with and
without a flat run (biosig's ECG chain: resample, band-pass, notch)."""
import numpy as np

from biosig.flatline import FLAT_RUN_S
from biosig.pipeline import default_pipeline
from streams import ingest, protocol
from streams.ingest import InputStream
from streams.models import HostedModel
from test_streams_helpers import signal

FS, FRAME = 250.0, 25


def _stream() -> InputStream:
    outside, _ = default_pipeline("ecg").split_in_model()
    model = HostedModel("ecg-chain", "ecg-chain", "ecg", 250.0, 1, outside, None, False)
    h = protocol.decode(signal("lab/ecg", 0, np.zeros((1, 5)), fs_hz=FS, modality="ecg", t0_s=0.0)).header
    return InputStream(h, (2.0, 1.0), model)


def _windows(x: np.ndarray, frame: int, monkeypatch):
    calls, real = [], ingest.window_flat_mask
    monkeypatch.setattr(ingest, "window_flat_mask", lambda *a: calls.append(1) or real(*a))   # counted
    st, out = _stream(), []
    for k in range(0, x.shape[1], frame):
        out += st.windows(x[:, k:k + frame], k / FS)
    return out, len(calls)


def _same(a, b):
    assert len(a) == len(b) > 5
    for (w1, f1, s1, e1), (w2, f2, s2, e2) in zip(a, b):
        assert np.array_equal(w1, w2) and (s1, e1) == (s2, e2)
        assert (f1 is None and f2 is None) or np.array_equal(f1, f2)


def test_a_chunk_without_a_flat_run_masks_no_window(monkeypatch):
    x = np.random.default_rng(0).normal(size=(1, int(10 * FS))).astype(np.float32)
    whole, calls = _windows(x, x.shape[1], monkeypatch)
    framed, _ = _windows(x, FRAME, monkeypatch)
    _same(whole, framed)
    assert calls == 0                                           # was one a window


def test_a_chunk_with_a_flat_run_masks_the_windows_it_touches(monkeypatch):
    x = np.random.default_rng(0).normal(size=(1, int(10 * FS))).astype(np.float32)
    x[0, 1000:1000 + int(2 * FLAT_RUN_S * FS)] = 0.25            # a lead off, held flat
    whole, _ = _windows(x, x.shape[1], monkeypatch)
    framed, _ = _windows(x, FRAME, monkeypatch)
    _same(whole, framed)
    assert sum(f is not None for _, f, _, _ in whole) >= 2
