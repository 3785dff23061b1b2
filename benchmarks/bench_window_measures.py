"""The score thread's per-window measures of ECG and PPG (``window_measures``, quality gate included), the code
before the doubt rules' hot spots were made cheaper against the working tree's.

Per ECG or PPG window the runtime's score thread calls ``biosig.measures_window.window_measures``; its doubt
rules (``biosig.ecg_doubt``, ``biosig.pulse_doubt``, ``biosig.pulse_shape.second_rhythm``,
``biosig.pulse_beats.burst_in_doubt`` / ``pulses_alternate``) had grown to a third of a PPG window's time. Now:
the residual's autocorrelation in ``second_rhythm_score`` is taken at a 2-3-5-smooth FFT length (a length with a
large prime factor ran Bluestein's algorithm, 8x slower) and its per-lag maxima and the residual itself without
Python loops; the skewness cube as ``v * v * v`` (``v ** 3`` called ``pow`` per sample); the ECG slopes and
peak-to-peaks around beats in one ``reduceat`` each (the P-wave check no longer measures them twice).

``baseline``: ``window_measures`` of ``biosig/`` at ``--baseline-ref`` (default 074c5a1, the commit before the
change), extracted with ``git archive`` into a temporary folder; ``ours``: the working tree's. Each side runs in
its own process (one thread, ``OMP_NUM_THREADS=1``) on the same windows, passes alternating between the two;
each window starts with the thread's kept detections cleared, as a new window does. Windows: 10 s of
``biosig.synthetic`` ECG (ECGSYN, sinus and every fourth AF, the simulator's noise and wander, 40-180 /min) at
250 Hz (the runtime's ECG rate) and 500 Hz, and PPG (NeuroKit2, sinus and AF, motion 0-0.6, 40-180 /min) at
125 Hz (the runtime's PPG rate) and 500 Hz. Milliseconds per window, the median of ``--passes`` passes. Both
sides' ``window_measures`` dicts are compared (``same outputs``).

Measured on the shared 2-core VM (load about 2; defaults, two runs), ms per window baseline -> ours: ECG 250 Hz
1.42 -> 1.35 and 1.30 -> 1.24 (0.95), ECG 500 Hz 1.52 -> 1.59 and 1.52 -> 1.42 (1.04, 0.94: noise), PPG 125 Hz
1.53 -> 1.21 and 1.51 -> 1.17 (0.79, 0.78), PPG 500 Hz 3.29 -> 2.46 and 2.98 -> 1.61 (0.75, 0.54); outputs the
same in every row. The ECG doubt rules were under a tenth of an ECG window's time: little to gain there.

    .venv/bin/python benchmarks/bench_window_measures.py [--windows 20] [--passes 5] [--baseline-ref REF]
"""
from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import ROOT

BASELINE_REF = "074c5a1"
CASES = (("ecg", 250.0), ("ecg", 500.0), ("ppg", 125.0), ("ppg", 500.0))


def make_windows(n: int, seconds: float, seed: int) -> dict:
    """``{(modality, fs_hz): [x (1, W) float64, ...]}``: ``n`` distinct synthetic windows per case."""
    from biosig.synthetic import simulate_ecg, simulate_ppg
    rng = np.random.default_rng(seed)
    out = {}
    for modality, fs_hz in CASES:
        ws = []
        for i in range(n):
            rhythm = "af" if i % 4 == 3 else "sinus"
            hr = float(rng.uniform(80, 130) if rhythm == "af" else rng.uniform(40, 180))
            if modality == "ecg":
                x = simulate_ecg(seconds, seed + i, fs_hz, heart_rate_bpm=hr, rhythm=rhythm).samples[:1]
            else:
                x = simulate_ppg(seconds, seed + i, fs_hz, heart_rate_bpm=hr, rhythm=rhythm,
                                 motion_amplitude=float(rng.uniform(0.0, 0.6))).samples[:1]
            ws.append(np.asarray(x, dtype=np.float64))
        out[(modality, fs_hz)] = ws
    return out


def worker(path: str, root: str) -> int:
    """Time ``window_measures`` (of ``biosig`` under ``root``) of every window in the pickle ``path``, after one
    untimed pass (lazy imports, filter designs); write the seconds per case, the dicts and the ``biosig`` imported
    to ``<path>.out``."""
    sys.path.insert(0, root)   # before the checkout that _common put first
    import biosig
    import biosig.ecg_beats as ecg_beats
    from biosig.measures_window import window_measures
    windows = pickle.loads(Path(path).read_bytes())
    seconds, dicts = {}, {}
    for case, ws in [*windows.items(), *windows.items()]:   # the first time round: the warm-up
        modality, fs_hz = case
        total, outs = 0.0, []
        for x in ws:
            ecg_beats._recent.entries = []               # a new window: nothing kept
            t0 = time.perf_counter()
            outs.append(window_measures(x, fs_hz, modality))
            total += time.perf_counter() - t0
        seconds[case], dicts[case] = total / len(ws), outs
    Path(f"{path}.out").write_bytes(pickle.dumps((seconds, dicts, biosig.__file__)))
    return 0


def run_pass(python_path: str, windows_path: str) -> tuple[dict, dict]:
    """One pass of :func:`worker` in a fresh process importing ``biosig`` from ``python_path``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, __file__, "--worker", windows_path, python_path], env=env, check=True)
    seconds, dicts, module = pickle.loads(Path(f"{windows_path}.out").read_bytes())
    if not Path(module).resolve().is_relative_to(Path(python_path).resolve()):
        sys.exit(f"bench_window_measures: the worker imported {module}, not biosig under {python_path}")
    return seconds, dicts


def extract(ref: str, into: Path) -> None:
    """``biosig/`` of the git commit ``ref`` into ``into`` (``git archive``)."""
    try:
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "biosig"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        err = getattr(e, "stderr", b"") or b""
        sys.exit(f"bench_window_measures: cannot read biosig/ at --baseline-ref {ref!r} from git: "
                 f"{err.decode(errors='replace').strip() or e}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=tar, check=True)


def same(a: dict, b: dict) -> bool:
    """Whether two ``window_measures`` dicts are equal key for key, floats bit for bit (NaN equal to NaN)."""
    if list(a) != list(b):
        return False
    for k in a:
        x, y = a[k], b[k]
        if type(x) is not type(y):
            return False
        if isinstance(x, float) and (x.hex() != y.hex()):
            return False
        if not isinstance(x, float) and x != y:
            return False
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--windows", type=int, default=20, help="distinct 10 s windows per modality and rate (default 20)")
    p.add_argument("--passes", type=int, default=5, help="timed passes per side, alternating; the median is "
                   "reported (default 5)")
    p.add_argument("--seconds", type=float, default=10.0, help="window length in seconds (default 10, the runtime's)")
    p.add_argument("--seed", type=int, default=700, help="first seed of the synthetic windows (default 700)")
    p.add_argument("--baseline-ref", default=BASELINE_REF, help="git commit whose biosig/ is the baseline (default "
                   f"{BASELINE_REF}, the commit before the change; HEAD compares the working tree with the last commit)")
    p.add_argument("--worker", nargs=2, metavar=("WINDOWS", "ROOT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(*args.worker)
    if args.windows < 1 or args.passes < 1 or not args.seconds >= 5:
        p.error("--windows and --passes must be at least 1, --seconds at least 5")
    with tempfile.TemporaryDirectory(prefix="bench_window_measures_") as tmp:
        old_root = Path(tmp) / "baseline"
        old_root.mkdir()
        extract(args.baseline_ref, old_root)
        windows_path = str(Path(tmp) / "windows.pkl")
        Path(windows_path).write_bytes(pickle.dumps(make_windows(args.windows, args.seconds, args.seed)))
        sides = {"baseline": str(old_root), "ours": str(ROOT)}
        times = {s: {c: [] for c in CASES} for s in sides}
        dicts = {}
        for _ in range(args.passes):
            for side, path in sides.items():
                secs, dicts[side] = run_pass(path, windows_path)
                for c in CASES:
                    times[side][c].append(secs[c])
    print(f"window_measures per {args.seconds:g} s window (quality gate included), {args.windows} windows per row, "
          f"median of {args.passes} passes; baseline: biosig/ at {args.baseline_ref}, ours: the working tree")
    print(f"{'':<24} | {'baseline':>12} | {'ours':>12} | ratio | same outputs")
    for c in CASES:
        n_same = sum(same(a, b) for a, b in zip(dicts["baseline"][c], dicts["ours"][c]))
        name = f"{c[0].upper()} {c[1]:.0f} Hz"
        t_old, t_new = (1e3 * statistics.median(times[s][c]) for s in ("baseline", "ours"))
        print(f"{name:<24} | {t_old:9.4f} ms | {t_new:9.4f} ms | {t_new / t_old:5.2f} | {n_same}/{len(dicts['ours'][c])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
