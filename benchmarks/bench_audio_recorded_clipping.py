"""What counting clipping on the recorded samples costs ``embed`` per audio record.

``embed``, ``score`` and ``probe`` count the clipped share of each window's recorded samples
(:func:`biosig.quality_audio.recorded_clipped_shares`: the file at its own rate, each channel) on top
of the window's own count. *baseline* is the same ``Encoder.embed`` with that count taken out (the
quality it computed before); *ours* is today's. Records: synthetic auscultation
(``biosig.synthetic_sounds``), 30 s, 4 kHz mono and 44.1 kHz stereo, ``--records`` of each, audio-tiny
(torch, one thread). Prints ``baseline | ours | ratio`` in ms per record (median of ``--repeat``
alternated passes; 2 shared cores: noisy).

    .venv/bin/python benchmarks/bench_audio_recorded_clipping.py [--records 4] [--repeat 3]
"""
from __future__ import annotations

import argparse

import numpy as np

import _common  # noqa: F401 (puts the repository on the path)
from _common import row


def _records(n: int, fs_hz: int, channels: int):
    from biosig.synthetic_sounds import simulate_audio
    out = []
    for i in range(n):
        rec = simulate_audio(30.0, 900 + i, fs_hz=fs_hz, kind="auscultation")
        x = rec.samples[0]
        out.append(rec.replace(samples=np.stack([x, 0.7 * np.roll(x, 37)][:channels]).astype(np.float32),
                               channels=tuple(f"ch{k}" for k in range(channels)),
                               units=("",) * channels))
    return out


def _per_record_ms(enc, recs, repeat: int) -> tuple[float, float]:
    import time

    import biosig.quality_audio as qa
    real = qa.recorded_clipped_shares
    times = {True: [], False: []}
    for _ in range(repeat):
        for ours in (False, True):
            qa.recorded_clipped_shares = real if ours else (lambda rec, t0_s, window_s: np.zeros(len(t0_s)))
            try:
                t = time.perf_counter()
                for r in recs:
                    enc.embed(r)
                times[ours].append((time.perf_counter() - t) * 1e3 / len(recs))
            finally:
                qa.recorded_clipped_shares = real
    return float(np.median(times[False])), float(np.median(times[True]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=4, help="records of each kind (default 4)")
    ap.add_argument("--repeat", type=int, default=3, help="alternated passes, median (default 3)")
    a = ap.parse_args(argv)
    import torch

    import encoders
    torch.set_num_threads(1)
    enc = encoders.load("audio-tiny")
    print(f"{'record (30 s)':<22} | {'baseline':>12} | {'ours':>12} | ratio")
    for name, fs_hz, channels in (("4 kHz mono", 4000, 1), ("44.1 kHz stereo", 44100, 2)):
        base, ours = _per_record_ms(enc, _records(a.records, fs_hz, channels), a.repeat)
        row(name, base, ours, unit="ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
