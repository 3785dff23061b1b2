"""Per-frame cost of an audio stream's windows in the runtime (streams.ingest.InputStream.windows)
with and without the check for channels that cancel when mixed (biosig.quality_audio).

16 kHz audio through audio-tiny's out-of-graph pipeline (mono -> resample), 2 s windows every 2 s
(its training window), frames of ``--frame-s``. Rows ``baseline | ours | ratio`` (ratio = ours /
baseline), microseconds per frame, median and fastest of ``--repeat`` runs of ``--seconds`` of audio
each, baseline and ours alternating:

* mono: the usual stream. Baseline = the same stream with the check forced off on the instance;
  the check is never on for one channel, so the ratio says what mono pays (nothing new: ~1.00).
* stereo: baseline = the check forced off (what the runtime did before: no recorded audio kept),
  ours = the check on (recorded samples kept behind the buffered windows, each 0.25 s block judged
  once as it completes, the window's newest partial block once per chunk).
* stereo, one channel inverted: ours marks every window (quality 0); baseline does not.

    .venv/bin/python benchmarks/bench_audio_cancel_stream.py [--seconds 20] [--frame-s 0.1] [--repeat 5]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import _common  # noqa: F401  (repo root on sys.path)
from _common import row

FS_HZ = 16000.0


def _stream(outside, n_channels: int, check: bool):
    from streams.ingest import InputStream
    from streams.models import HostedModel
    model = HostedModel("audio-tiny", "audio-tiny", "audio", FS_HZ, 1, outside, None, False)
    header = {"stream": "bed/audio", "session": 1, "fs_hz": FS_HZ, "channels": [f"c{i}" for i in range(n_channels)],
              "units": [""] * n_channels, "modality": "audio", "dtype": "<f4", "seq": 0}
    st = InputStream(header, (2.0, 2.0), model)
    if not check and getattr(st, "cancel_check", False):   # the runtime before the check
        st.cancel_check = st.keeps_raw = False
    return st


def _run(outside, x: np.ndarray, frame: int, check: bool) -> tuple[float, int]:
    """(seconds in InputStream.windows, windows marked) for ``x`` sent in frames of ``frame``."""
    st = _stream(outside, x.shape[0], check)
    marked, t = 0, time.perf_counter()
    for k in range(0, x.shape[1], frame):
        for _, flat, _, _ in st.windows(x[:, k:k + frame], k / FS_HZ):
            marked += flat is not None
    return time.perf_counter() - t, marked


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds of audio per run")
    ap.add_argument("--frame-s", type=float, default=0.1, help="frame length in seconds")
    ap.add_argument("--repeat", type=int, default=5, help="runs per row (median)")
    args = ap.parse_args(argv)
    from biosig.synthetic import simulate
    mono = simulate("audio", args.seconds, fs_hz=FS_HZ, seed=0).samples[:1].astype(np.float32)
    other = simulate("audio", args.seconds, fs_hz=FS_HZ, seed=1).samples[:1].astype(np.float32)
    stereo = np.concatenate([mono, 0.7 * mono + 0.3 * other])
    inverted = np.concatenate([mono, -mono])
    frame = max(1, int(round(args.frame_s * FS_HZ)))
    n_frames = -(-mono.shape[1] // frame)
    print(f"16 kHz audio, audio-tiny's pipeline, 2 s windows every 2 s, {args.seconds:g} s in frames of "
          f"{frame} samples ({n_frames} frames), median and fastest of {args.repeat}; us per frame")
    print(f"{'stream':<30} | baseline | ours | ratio")
    import encoders
    outside, _ = encoders.load("audio-tiny", pretrained=False).pipeline.split_in_model()
    for name, x in (("mono", mono), ("stereo", stereo), ("stereo, one channel inverted", inverted)):
        times, marked = {False: [], True: []}, {}
        for _ in range(args.repeat + 1):   # alternating, so that a busy spell on a shared machine hits both
            for check in (False, True):
                sec, marked[check] = _run(outside, x, frame, check)
                times[check].append(sec / n_frames * 1e6)
        base, ours = times[False][1:], times[True][1:]   # the first of each: warm-up
        row(name, float(np.median(base)), float(np.median(ours)), "us", width=30)
        row("  (fastest run)", min(base), min(ours), "us", width=30)
        print(f"{'  windows marked':<30} | {marked[False]:9d}    | {marked[True]:9d}    |")


if __name__ == "__main__":
    main()
