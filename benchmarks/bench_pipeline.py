"""Preprocessing speed: streaming forms against one-pass SciPy, quality and measures against NeuroKit2.

Rows (``baseline | ours | ratio``, seconds, median of 3; ratio = ours / baseline):

- ``sos stream 12x500Hz 10min``: ``scipy.signal.sosfilt`` in one pass (baseline) vs
  :class:`biosig.filters.SosStream` fed 0.1 s chunks (6,000 calls) of a 12-lead, 500 Hz, 10 min signal.
- ``resample stream 360->250``: ``scipy.signal.upfirdn`` in one pass vs
  :class:`biosig.filters.ResampleStream` in 0.1 s chunks, 2 channels, 30 min (record 100's size).
- ``ecg pipeline offline``: ``sosfiltfilt`` band-pass + ``resample_poly`` (hand-written SciPy) vs
  ``default_pipeline("ecg").apply`` on a 2 x 650,000 sample record (record 100's size).
- ``ecg pipeline stream x realtime``: printed as seconds to stream 30 min; the real-time factor
  is 1805.6 s divided by that.
- ``quality 24 windows``: NeuroKit2 template matching (``method="neurokit"``) vs ours on 24 ECG
  windows of record 100 (the work ``biosig info`` does).
- ``windows 100 (10 s / 5 s)``: a Python loop of slices + ``np.stack`` vs :func:`window_array`.

    .venv/bin/python benchmarks/bench_pipeline.py
"""
from __future__ import annotations

import argparse
import functools

import numpy as np

from _common import DATA, timed
from _common import row as _row

row = functools.partial(_row, width=32)


def _stream(make, x, chunk):
    s = make()
    return [s.process(x[:, i:i + chunk]) for i in range(0, x.shape[1], chunk)]


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)   # --help; no options
    from scipy import signal

    from biosig import filters
    from biosig.pipeline import default_pipeline
    from biosig.quality import window_quality
    from biosig.record import Record
    from biosig.windows import window_array

    rng = np.random.default_rng(0)
    print(f"{'case':<32} | {'baseline':>11} | {'ours':>11} | ratio")

    x12 = rng.standard_normal((12, 500 * 600)).astype(np.float32)
    sos = filters.design_sos("bandpass", 500, low_hz=0.5, high_hz=40, order=4)
    row("sos stream 12x500Hz 10min", timed(lambda: signal.sosfilt(sos, x12, axis=-1)),
        timed(lambda: _stream(lambda: filters.SosStream(sos, 12), x12, 50)))

    x2 = rng.standard_normal((2, 650000)).astype(np.float32)
    h = filters.resample_fir(25, 36)
    row("resample stream 360->250", timed(lambda: signal.upfirdn(h, x2, 25, 36, axis=-1)),
        timed(lambda: _stream(lambda: filters.ResampleStream(360, 250, 2), x2, 36)))

    rec = Record(samples=x2, fs_hz=360.0, channels=("MLII", "V5"))
    sos360 = filters.design_sos("bandpass", 250, low_hz=0.5, high_hz=40, order=4)

    def scipy_offline():
        y = signal.resample_poly(x2, 25, 36, axis=-1)
        return signal.sosfiltfilt(sos360, y, axis=-1)

    pipe = default_pipeline("ecg")
    row("ecg pipeline offline", timed(scipy_offline), timed(lambda: pipe.apply(rec)))
    outside, _ = pipe.split_in_model()
    t_stream = timed(lambda: _stream(lambda: outside.stream(360.0, 2), x2, 36), repeat=1)
    print(f"{'ecg pipeline stream 30 min':<32} | {1805.6:9.4f} s | {t_stream:9.4f} s | "
          f"{t_stream / 1805.6:6.4f}  (x{1805.6 / t_stream:.0f} real time)")

    hea = DATA / "wfdb" / "100.hea"
    if hea.exists():
        import wfdb

        r = wfdb.rdrecord(str(hea)[:-4])
        rec100 = Record(samples=r.p_signal.T, fs_hz=r.fs, channels=tuple(r.sig_name))
        part = rec100.select([0])
        starts = np.linspace(0, rec100.duration_s - 10, 24)
        windows24 = [part.slice_s(s, s + 10) for s in starts]
        window_quality(windows24[0], 10.0, 10.0, method="neurokit")  # warm NeuroKit2's import
        row("quality 24 windows", timed(lambda: [window_quality(w, 10.0, 10.0, method="neurokit") for w in windows24]),
            timed(lambda: [window_quality(w, 10.0, 10.0) for w in windows24]))

        def loop():
            w, h_ = 3600, 1800
            return np.stack([rec100.samples[:, s:s + w] for s in range(0, rec100.n_samples - w + 1, h_)])

        row("windows 100 (10 s / 5 s)", timed(loop), timed(lambda: window_array(rec100, 10.0, 5.0)))
    else:
        print(f"shared data absent ({hea}); record-100 rows skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
