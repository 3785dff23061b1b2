"""Audio window quality per window, before and after clipping and cancelling channels were scored.

``serve`` computes quality for every window in its worker thread (``block_quality`` of the window
fed to the model), ``embed`` and ``score`` for every window of a record, ``biosig info`` over
recorded channels. The baseline is today's ``block_quality`` with the two audio checks of
:mod:`biosig.quality_audio` taken out (what it computed before: finite fraction and flatness).

Windows: synthetic auscultation (``biosig.synthetic_sounds``, distinct seeds): 2 s mono at 16 kHz
(audio-tiny's window, as ``serve`` and ``embed`` score it) and 8 s stereo at 44.1 kHz (``biosig
info``'s window over a read file's channels). Prints ``baseline | ours | ratio`` rows in ms per
window (median of 5 passes). Measured on the 2-core test VM (shared with other work): 2 s mono at
16 kHz 0.21 -> 0.24 ms a window (1.15 x; a window of sound lasts 2000 ms), 8 s stereo at 44.1 kHz
8.8 -> 15.0 ms (1.72 x: the mix of the channels is taken once more).

    .venv/bin/python benchmarks/bench_audio_quality.py [--windows 20]
"""
from __future__ import annotations

import argparse

import numpy as np

import _common
from _common import row, timed


def _windows(n: int, seconds: float, fs_hz: int, channels: int) -> list[np.ndarray]:
    from biosig.synthetic_sounds import simulate_audio
    out = []
    for i in range(n):
        x = simulate_audio(seconds, 500 + i, fs_hz=fs_hz, kind="auscultation").samples[0]
        out.append(np.stack([x, 0.7 * np.roll(x, 37)][:channels]).astype(np.float32))
    return out


def _per_window_ms(windows, fs_hz: float, checks: bool) -> float:
    import biosig.quality as quality
    saved = quality.clipped_share, quality.mix_factor
    if not checks:
        quality.clipped_share, quality.mix_factor = (lambda x: 0.0), (lambda x: 1.0)
    try:
        return 1e3 * timed(lambda: [quality.block_quality(w, fs_hz, "audio") for w in windows], repeat=5,
                           warmup=True) / len(windows)
    finally:
        quality.clipped_share, quality.mix_factor = saved


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=20, help="windows timed per row (default 20)")
    a = ap.parse_args(argv)
    print(f"{'window':<22} | {'baseline':>12} | {'ours':>12} | ratio")
    for name, seconds, fs_hz, channels in (("2 s mono 16 kHz", 2.0, 16000, 1), ("8 s stereo 44.1 kHz", 8.0, 44100, 2)):
        wins = _windows(a.windows, seconds, fs_hz, channels)
        row(name, _per_window_ms(wins, fs_hz, False), _per_window_ms(wins, fs_hz, True), unit="ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
