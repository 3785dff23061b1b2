"""Speed of the synthetic generators: seconds simulated (baseline) vs seconds of wall time (ours).

Rows ``baseline | ours | ratio``: the baseline column is the simulated duration, ``ours`` the
median wall time of :func:`biosig.simulate` (3 runs, after one warm-up call), and the ratio the
fraction of real time it costs (0.01 = 100 x faster than real time). The ECG rows show the
effect of stitching ECGSYN segments of :data:`biosig.synthetic.ECGSYN_SEGMENT_S` (linear cost),
and the last rows compare ECGSYN called directly through NeuroKit2 (baseline, seconds) with ours.

    .venv/bin/python benchmarks/bench_synthetic.py
"""
from __future__ import annotations

import argparse
import functools

import _common

timed = functools.partial(_common.timed, warmup=True)


def row(name: str, baseline: float, ours: float) -> None:
    print(f"{name:<28} | {baseline:9.3f} s | {ours:9.4f} s | {ours / baseline:7.4f}")


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)   # --help; no options
    import neurokit2 as nk

    from biosig.synthetic import simulate as simulate_kept
    from biosig.synthetic_ecgsyn import forget_kept_traces

    def simulate(*args, **kwargs):   # each run made afresh: ECGSYN keeps its last traces per process
        forget_kept_traces()
        return simulate_kept(*args, **kwargs)

    print(f"{'case':<28} | {'simulated':>11} | {'wall':>11} | ratio")
    cases = [("ecg", 60, {}), ("ecg", 60, {"leads": 2}), ("ecg", 300, {}), ("ecg", 600, {}), ("ppg", 600, {}),
             ("resp", 600, {}), ("audio", 30, {"kind": "cough"}), ("audio", 30, {"kind": "breath"}),
             ("spiro", 15, {}), ("motion", 600, {})]
    for modality, seconds, kw in cases:
        label = f"{modality} {seconds:g}s" + "".join(f" {k}={v}" for k, v in kw.items())
        row(label, float(seconds), timed(lambda: simulate(modality, seconds, seed=1, **kw)))
    base = timed(lambda: nk.ecg_simulate(duration=62, sampling_rate=250, heart_rate=70, noise=0.0, random_state=1))
    ours = timed(lambda: simulate("ecg", 60, seed=1, heart_rate_bpm=70))
    print(f"{'ecg 60s: nk direct vs ours':<28} | {base:9.4f} s | {ours:9.4f} s | {ours / base:7.2f}")
    base = timed(lambda: nk.ecg_simulate(duration=302, sampling_rate=250, heart_rate=70, noise=0.0, random_state=1),
                 repeat=1)
    ours = timed(lambda: simulate("ecg", 300, seed=1, heart_rate_bpm=70), repeat=1)
    print(f"{'ecg 300s: nk direct vs ours':<28} | {base:9.4f} s | {ours:9.4f} s | {ours / base:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
