"""R-peak detection in 10 s ECG windows (what the runtime's measures, quality and the AF heads see):
biosig's :func:`biosig.quality.detect_beats` against NeuroKit2 run on the same window (the baseline,
as :func:`biosig.measures.detect_events` runs it: a lead whose QRS points down is turned over first;
without that, NeuroKit2 missed most beats of leads such as V1). Beats are matched one to one as in
``bench_beat_detection.py`` (:func:`bench_beat_detection.matched`).

Reference beats:
- REAL: the 47 MIT-BIH Arrhythmia records of ``../shared/data/pretrain/ecg/mitdb`` (30 min, two
  leads each; the corpus holds no annotation files). The reference is the beats that NeuroKit2 and
  wfdb's XQRS, each run on the whole first lead, agree on (within 100 ms); windows holding a beat
  only one of them found are left out. The second lead (V1, V2, V4 or V5: often small or
  biphasic QRS complexes) is scored against the first lead's reference.
- SYNTHETIC (``biosig.synthetic``, 60 s at 30-200 /min, seeds 0-9; the reference is biosig's
  detection on the clean trace): as generated, and at low voltage (0.3 x the trace, i.e. about a
  0.3 mV QRS, plus 0.03 mV white noise and 0.1 mV wander at 0.25 Hz), windows every 5 s.

A detection matches a reference beat within 100 ms; beats within 0.15 s of a window edge are not
counted. Per group: sensitivity (Se), positive predictivity (+P) and the windows whose heart rate
(60 / median RR) is more than 2 /min off the reference's; for biosig also what a user sees: the
windows the runtime calls usable (quality gate) and those among them whose published ``hr_bpm``
is more than 2 /min off. ``--floor`` and ``--second-pass`` set
:data:`biosig.ecg_beats.MIN_TYPICAL_REL` and :data:`biosig.ecg_beats.SECOND_PASS_REL`;
``--no-search-back`` turns :func:`biosig.ecg_beats._search_back` off (``--second-pass 0
--no-search-back``: the rule before 2026-12-02); ``--doubt`` sets :data:`biosig.ecg_beats.DOUBT_REL`
and ``--doubt-short`` :data:`biosig.ecg_beats.DOUBT_SHORT_REL` (the checks that withhold a window with
an interval in doubt, :func:`biosig.ecg_beats.doubtful_intervals`: ``--doubt inf`` turns off the one
for a QRS-like peak left between two beats, ``--doubt-short 0`` the one for a short interval next to
a small beat; both off: the rule before them); ``--doubt-t`` and ``--doubt-t-slope`` set
:data:`biosig.ecg_beats.DOUBT_T_REL` and :data:`biosig.ecg_beats.DOUBT_T_SLOPE_REL` (the check for a
T wave taken for a beat; ``--doubt-t 0`` turns it off); ``--hidden-qrs`` sets
:data:`biosig.ecg_doubt.HIDDEN_QRS_REL` (the check for a small QRS left in the middle of a long interval,
:func:`biosig.ecg_doubt.hidden_qrs_intervals`; ``--hidden-qrs inf`` turns it off, as ``--doubt inf`` does);
``--t-run`` sets :data:`biosig.ecg_doubt.T_RUN_SHARE` (the check for a T wave counted after most beats,
:func:`biosig.ecg_doubt.counted_t_waves`; ``--t-run inf`` turns it off); ``--p-only`` sets
:data:`biosig.ecg_doubt.P_ONLY_SHARP_PER_S` (the check for P waves with no QRS, :func:`biosig.ecg_doubt.p_waves_only`;
``--p-only inf`` turns it off); ``--fibrillation`` sets :data:`biosig.ecg_doubt.FIBRILLATION_BETWEEN_REL` (the
check for ventricular fibrillation, :func:`biosig.ecg_doubt.fibrillation_like`; ``--fibrillation inf`` turns it off).

    .venv/bin/python benchmarks/bench_beat_windows.py [--floor F] [--second-pass R] [--no-search-back]
                                                      [--doubt R] [--doubt-short R]
                                                      [--doubt-t R] [--doubt-t-slope R] [--hidden-qrs R]
                                                      [--t-run R] [--p-only S] [--fibrillation R]
                                                      [--records N] [--seeds N]
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from multiprocessing import Pool

import numpy as np

import _common
from _common import DATA
from bench_beat_detection import matched

WINDOW_S = 10.0
MATCH_S = 0.1
EDGE_S = 0.15
RATES = (30, 35, 40, 45, 50, 60, 80, 120, 160, 200)
GROUPS = (("slow", 30, 40), ("mid", 45, 60), ("fast", 80, 200))


def _near(arr: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Distance (samples) from each of ``v`` to the nearest of the sorted ``arr``."""
    d = np.full(len(v), np.iinfo(np.int64).max)
    j = np.searchsorted(arr, v)
    for k in (j - 1, j):
        ok = (k >= 0) & (k < len(arr))
        d[ok] = np.minimum(d[ok], np.abs(arr[k[ok]] - v[ok]))
    return d


def nk_beats(x: np.ndarray, fs_hz: float) -> np.ndarray:
    """NeuroKit2's R peaks of one lead, as biosig runs it (:func:`biosig.measures.detect_events`:
    a lead with downward QRS complexes is turned over first)."""
    from biosig.measures import detect_events
    from biosig.record import Record
    return detect_events(Record(samples=x[None], fs_hz=fs_hz, channels=("ECG",), modality="ecg"), "ecg", 0)


def mitdb_windows(path: str) -> list[tuple[str, np.ndarray, float, np.ndarray]]:
    """(group, window, fs, reference beats) of one MIT-BIH record's two leads."""
    import wfdb.processing

    import biosig
    rec = biosig.read(path)
    fs = rec.fs_hz
    x = np.nan_to_num(rec.samples.astype(np.float64))
    a = nk_beats(x[0], fs)
    b = np.asarray(wfdb.processing.xqrs_detect(x[0], fs=fs, verbose=False), np.int64)
    tol = int(MATCH_S * fs)
    agreed, only_one = a[_near(b, a) <= tol], np.concatenate([a[_near(b, a) > tol], b[_near(a, b) > tol]])
    w, out = int(WINDOW_S * fs), []
    for s in range(0, x.shape[1] - w + 1, w):
        if np.any((only_one >= s) & (only_one < s + w)):
            continue
        ref = agreed[(agreed >= s) & (agreed < s + w)] - s
        for lead in range(min(2, x.shape[0])):
            out.append(("MIT-BIH first lead" if lead == 0 else "MIT-BIH second lead", x[lead, s:s + w], fs, ref))
    return out


def synthetic_windows(job: tuple[int, int]) -> list[tuple[str, np.ndarray, float, np.ndarray]]:
    from biosig.quality import detect_beats
    from biosig.synthetic import simulate
    rate, seed = job
    rec = simulate("ecg", 60, seed=seed, heart_rate_bpm=rate)
    x, fs = rec.samples[0].astype(np.float64), rec.fs_hz
    truth = detect_beats(x, fs, "ecg")[0]
    rng = np.random.default_rng(1000 + seed)
    t = np.arange(len(x)) / fs
    low = 0.3 * x + 0.03 * rng.standard_normal(len(x)) + 0.1 * np.sin(2 * np.pi * 0.25 * t + seed)
    band = next(name for name, lo, hi in GROUPS if lo <= rate <= hi)
    w, out = int(WINDOW_S * fs), []
    for s in range(0, len(x) - w + 1, int(5 * fs)):
        ref = truth[(truth >= s) & (truth < s + w)] - s
        out.append((f"synthetic {band}", x[s:s + w], fs, ref))
        out.append((f"synthetic low-voltage {band}", low[s:s + w], fs, ref))
    return out


def score(found: np.ndarray, ref: np.ndarray, fs_hz: float, n: int) -> tuple[int, int, int, bool]:
    """(true, false, missed beats, heart rate off by > 2 /min) of one window."""
    e = int(EDGE_S * fs_hz)
    f = found[(found >= e) & (found < n - e)]
    r = ref[(ref >= e) & (ref < n - e)]
    tp = matched(f / fs_hz, r / fs_hz, MATCH_S)
    hr_off = False
    if len(ref) >= 3:
        hr_off = not (len(found) >= 3 and abs(60 * fs_hz / np.median(np.diff(found)) - 60 * fs_hz / np.median(np.diff(ref))) <= 2)
    return tp, len(f) - tp, len(r) - tp, hr_off


def published_hr_off(x: np.ndarray, fs_hz: float, ref: np.ndarray) -> tuple[bool, bool]:
    """(usable, published heart rate off by > 2 /min): what the runtime publishes for this window
    (:func:`biosig.measures_window.window_measures`: ``hr_bpm``, 60 / mean RR, only where the quality
    is usable) against the same measure of the reference beats."""
    from biosig.measures_hrv import beat_intervals, rr_features
    from biosig.measures_window import window_measures
    m = window_measures(x[None], fs_hz, "ecg")
    truth = rr_features(beat_intervals(ref, fs_hz), n_beats=len(ref))["hr_bpm"]
    if not m["ok"] or truth is None or not np.isfinite(truth):
        return bool(m["ok"]), False
    return True, not abs(m["hr_bpm"] - truth) <= 2


# One row per constant of biosig's beat rule a flag sets for the run, in --help order: (flag, module, constant,
# help). A flag takes a number (default None: biosig's own value), or, if it is a key of SWITCHES, sets the value
# there when given. The values are set in the worker processes by :func:`overridden`.
OVERRIDES = (
    ("--floor", "biosig.ecg_beats", "MIN_TYPICAL_REL", "MIN_TYPICAL_REL (default: biosig's)"),
    ("--second-pass", "biosig.ecg_beats", "SECOND_PASS_REL", "SECOND_PASS_REL (default: biosig's)"),
    ("--no-search-back", "biosig.ecg_beats", "SEARCHBACK_RR", "turn the search back for missed beats off"),
    ("--doubt", "biosig.ecg_beats", "DOUBT_REL",
     "DOUBT_REL: withhold a window with a peak this share of the threshold between two beats "
     "(default: biosig's; inf turns the check off)"),
    ("--doubt-short", "biosig.ecg_beats", "DOUBT_SHORT_REL",
     "DOUBT_SHORT_REL: withhold a window with an interval under this share of the median next to "
     "a small beat (default: biosig's; 0 turns the check off)"),
    ("--doubt-t", "biosig.ecg_beats", "DOUBT_T_REL",
     "DOUBT_T_REL: withhold a window with a beat under 0.36 s after another and under this share "
     "of its QRS energy (and DOUBT_T_SLOPE_REL of its slope): a T wave (default: biosig's; 0 turns "
     "the check off)"),
    ("--doubt-t-slope", "biosig.ecg_beats", "DOUBT_T_SLOPE_REL",
     "DOUBT_T_SLOPE_REL: the slope share of that check (default: biosig's)"),
    ("--hidden-qrs", "biosig.ecg_doubt", "HIDDEN_QRS_REL",
     "HIDDEN_QRS_REL: withhold a window with a QRS-like peak this share of the threshold in the "
     "middle of a long interval (default: biosig's; inf turns the check off)"),
    ("--t-run", "biosig.ecg_doubt", "T_RUN_SHARE",
     "T_RUN_SHARE: withhold a window where at least this share of the intervals end on a T wave "
     "(a beat under 0.36 s after another, with less QRS energy and DOUBT_T_SLOPE_REL of its "
     "slope) (default: biosig's; inf turns the check off)"),
    ("--p-only", "biosig.ecg_doubt", "P_ONLY_SHARP_PER_S",
     "P_ONLY_SHARP_PER_S: withhold a window whose beats are as smooth as P waves (slope over "
     "peak-to-peak under this, per s) with no T wave after them (default: biosig's; inf turns "
     "the check off)"),
    ("--fibrillation", "biosig.ecg_doubt", "FIBRILLATION_BETWEEN_REL",
     "FIBRILLATION_BETWEEN_REL: withhold a window with irregular beats and this share of their "
     "QRS energy between them (default: biosig's; inf turns the check off)"),
)
SWITCHES = {"--no-search-back": float("inf")}


@contextlib.contextmanager
def overridden(values: dict[tuple[str, str], float]):
    """Set the module constants ``{(module, constant): value}`` for the block and put the old values back after."""
    mods = {m: importlib.import_module(m) for m, _ in values}
    old = {(m, c): getattr(mods[m], c) for m, c in values}
    try:
        for (m, c), v in values.items():
            setattr(mods[m], c, v)
        yield
    finally:
        for (m, c), v in old.items():
            setattr(mods[m], c, v)


def rule_values(a: argparse.Namespace) -> dict[tuple[str, str], float]:
    """``{(module, constant): value}`` of every :data:`OVERRIDES` row: the flag's value (a switch's
    :data:`SWITCHES` value) where it is given, else biosig's own."""
    out = {}
    for flag, module, const, _ in OVERRIDES:
        given = getattr(a, flag.lstrip("-").replace("-", "_"))
        if flag in SWITCHES:
            given = SWITCHES[flag] if given else None
        out[(module, const)] = getattr(importlib.import_module(module), const) if given is None else given
    return out


def _run(args: tuple[dict[tuple[str, str], float], list]) -> dict:
    import biosig.quality as q
    values, windows = args
    out: dict = {}
    with overridden(values):
        for group, x, fs, ref in windows:
            for det, beats in (("NeuroKit2", nk_beats(x, fs)), ("biosig", q.detect_beats(x, fs, "ecg")[0])):
                acc = out.setdefault((group, det), np.zeros(5))
                acc += (*score(beats, ref, fs, len(x)), 1)
            out.setdefault((group, "published"), np.zeros(2))[:] += published_hr_off(x, fs, ref)
    return out


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, _, _, help_text in OVERRIDES:
        if flag in SWITCHES:
            ap.add_argument(flag, action="store_true", help=help_text)
        else:
            ap.add_argument(flag, type=float, default=None, help=help_text)
    ap.add_argument("--records", type=int, default=47, help="MIT-BIH records to use (default all 47)")
    ap.add_argument("--seeds", type=int, default=10, help="synthetic records per heart rate (default 10)")
    ap.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    values = rule_values(a)
    rule = {const: x for (_, const), x in values.items()}
    mitdb = sorted((DATA / "pretrain" / "ecg" / "mitdb").glob("*.hea"))[: a.records]
    with Pool(a.workers) as pool:
        windows = sum(pool.map(synthetic_windows, [(r, s) for r in RATES for s in range(a.seeds)]), [])
        if mitdb:
            windows += sum(pool.map(mitdb_windows, [str(p.with_suffix("")) for p in mitdb]), [])
        else:
            print(f"MIT-BIH corpus absent ({DATA / 'pretrain/ecg/mitdb'}): synthetic windows only")
        chunks = [(values, windows[i::a.workers * 4]) for i in range(a.workers * 4)]
        parts = pool.map(_run, chunks)
    total: dict = {}
    for p in parts:
        for k, v in p.items():
            total[k] = total.get(k, 0) + v
    print(f"biosig rule: typical-beat floor {rule['MIN_TYPICAL_REL']:g}, second pass {rule['SECOND_PASS_REL']:g}, "
          f"search back {'off' if a.no_search_back else 'on'}, doubt checks {rule['DOUBT_REL']:g} / "
          f"{rule['DOUBT_SHORT_REL']:g} / {rule['DOUBT_T_REL']:g}, {rule['DOUBT_T_SLOPE_REL']:g} / "
          f"{rule['HIDDEN_QRS_REL']:g} / {rule['T_RUN_SHARE']:g} / {rule['P_ONLY_SHARP_PER_S']:g} / "
          f"{rule['FIBRILLATION_BETWEEN_REL']:g}; windows of {WINDOW_S:g} s")
    print(f"{'group':<34} | windows | {'detector':<9} | Se     | +P     | HR off > 2/min | usable | published HR off")
    groups = sorted({g for g, _ in total}, key=lambda g: (not g.startswith("MIT"), g))
    for g in groups:
        usable, published_off = total[(g, "published")]
        for det in ("NeuroKit2", "biosig"):
            tp, fp, fn, off, n = total[(g, det)]
            tail = f" | {int(usable):6d} | {int(published_off)}" if det == "biosig" else " |      - | -"
            print(f"{g:<34} | {int(n):7d} | {det:<9} | {tp / max(tp + fn, 1):.4f} | {tp / max(tp + fp, 1):.4f} | "
                  f"{int(off):14d}" + tail)
    print()
    print(f"{'windows with HR off > 2/min':<34} | {'NeuroKit2':>9} | {'biosig':>9} | ratio")
    for g in groups:
        b, o = total[(g, "NeuroKit2")][3], total[(g, "biosig")][3]
        print(f"{g:<34} | {int(b):9d} | {int(o):9d} | " + (f"{o / b:5.2f}" if b else "    -"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
