"""The report of :func:`realtime.evaluation.evaluate` and its printed summary table.

Averages over sessions and horizons (``averages``), per session (``session_averages``) and per
horizon (``horizon_averages``), the per-run results, and the published table of Pohl et al.
(printed beside ours only for 3-D marker data at 10 Hz, the data it was measured on).
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np

from biosig.record import names_text

METRIC_KEYS = ("rmse", "nrmse", "mae", "max", "jitter", "p95", "frac_gt2", "frac_gt5", "duty")
#: Step times of a run (realtime.evaluation: CPU us of learn_one + predict_one; ``us_wall_*`` the
#: wall clock's, which counts waits for a core too), averaged over runs like the metrics.
TIME_KEYS = ("us_median", "us_p99", "us_mean", "us_wall_median", "us_wall_p99")

# Pohl et al., averaged over 9 sessions and horizons 0.1-2.1 s at 10 Hz (MATLAB, i7-13700).
PUBLISHED = {
    "rtrl": {"nrmse": 0.195, "rmse": 0.926, "max": 5.93, "jitter": 0.647, "ms_per_step": 10.1},
    "uoro": {"nrmse": 0.166, "rmse": 0.755, "max": 5.48, "jitter": 0.655, "ms_per_step": 2.05},
    "snap1": {"nrmse": 0.157, "rmse": 0.699, "max": 5.60, "jitter": 0.720, "ms_per_step": 1.52},
    "dni": {"nrmse": 0.165, "rmse": 0.752, "max": 5.50, "jitter": 0.844, "ms_per_step": 1.04},
    "lms": {"nrmse": 0.314, "rmse": 1.42, "max": 8.58, "jitter": 1.45, "ms_per_step": 0.014},
}
#: The simple predictors every other method is compared with (``baseline_comparison``).
BASELINES = ("rls", "lms", "last")
BOOTSTRAP_RESAMPLES = 10_000


def compare_with_baselines(per_session: dict, methods, n_boot: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> dict:
    """``{"<method> / <baseline>": {...}}`` for every evaluated method that is not a baseline and
    every :data:`BASELINES` member evaluated with it: ``ratio``, the method's nRMSE over the
    baseline's (each averaged over sessions and horizons, as the summary table), a 95 % percentile
    bootstrap interval (``ci_low``, ``ci_high``; ``n_boot`` resamples of the sessions with
    replacement, both methods on the same resampled sessions: the session, i.e. the patient, is the
    independent unit, not the forecast; None with one session), ``sessions_lower`` (sessions where
    the method's nRMSE is below the baseline's) and ``n_sessions``."""
    names = list(per_session)
    out = {}
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), (n_boot, len(names))) if len(names) > 1 else None
    for method in methods:
        if method in BASELINES:
            continue
        ours = np.array([per_session[s][method]["nrmse"] for s in names])
        for base in (b for b in BASELINES if b in methods):
            theirs = np.array([per_session[s][base]["nrmse"] for s in names])
            row = {"ratio": float(ours.mean() / theirs.mean()), "ci_low": None, "ci_high": None,
                   "sessions_lower": int((ours < theirs).sum()), "n_sessions": len(names)}
            if draws is not None:
                lo, hi = np.percentile(ours[draws].mean(1) / theirs[draws].mean(1), [2.5, 97.5])
                row.update(ci_low=float(lo), ci_high=float(hi))
            out[f"{method} / {base}"] = row
    return out


def format_baseline_comparison(comparison: dict) -> list[str]:
    """Lines ``mix / rls  0.930 [0.899, 0.968]  lower in 4 of 4 sessions`` under the table."""
    if not comparison:
        return []
    n = next(iter(comparison.values()))["n_sessions"]
    how = (f"95% bootstrap interval over the {n} sessions, {BOOTSTRAP_RESAMPLES} resamples"
           + ("; rough with so few sessions" if n < 10 else "") if n > 1 else "one session: no interval")
    lines = [f"nRMSE against the baselines (over sessions and horizons; {how}):"]
    w = max(map(len, comparison))
    for name, r in comparison.items():
        ci = f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if r["ci_low"] is not None else ""
        lines.append(f"  {name:{w}s} {r['ratio']:.3f}{ci}  lower in {r['sessions_lower']} of {r['n_sessions']} sessions")
    return lines



def build_report(sessions, methods, horizons, protocol, grid, results, wall_s, workers) -> dict:
    """The report dict of :func:`realtime.evaluation.evaluate` from its per-run results."""
    avg = {}
    for method in methods:
        rows = [results[s.name][method][h] for s in sessions for h in horizons]
        avg[method] = {k: float(np.mean([r[k] for r in rows])) for k in METRIC_KEYS + TIME_KEYS}
        avg[method]["hold_tradeoff"] = [{k: float(np.mean([r["hold_tradeoff"][i][k] for r in rows]))
                                         for k in rows[0]["hold_tradeoff"][i]}
                                        for i in range(len(rows[0]["hold_tradeoff"]))]
        avg[method]["resets"] = int(sum(r["resets"] for r in rows))
    for method in methods:
        rows = [results[s.name][method][h] for s in sessions for h in horizons]
        if all("ensemble" in r for r in rows):
            avg[f"{method}-ens"] = {k: float(np.mean([r["ensemble"][k] for r in rows])) for k in METRIC_KEYS}
            n = rows[0]["n_seeds"]   # every member's step: n times the median step, no p99 of its own
            avg[f"{method}-ens"].update({k: float("nan") for k in TIME_KEYS})
            avg[f"{method}-ens"].update(us_median=avg[method]["us_median"] * n, us_mean=avg[method]["us_mean"] * n,
                                        resets=avg[method]["resets"])
    per_session = {s.name: {m: {k: float(np.mean([results[s.name][m][h][k] for h in horizons]))
                                for k in ("nrmse", "max", "p95", "frac_gt2", "frac_gt5")}
                            for m in methods} for s in sessions}
    per_horizon = {m: {str(h): float(np.mean([results[s.name][m][h]["nrmse"] for s in sessions])) for h in horizons}
                   for m in methods}
    ordered = {s.name: {m: {str(h): results[s.name][m][h] for h in horizons} for m in methods} for s in sessions}
    return {
        "causal": protocol.supervision == "causal",
        "protocol": {**asdict(protocol), "grid": grid, "horizons": list(horizons), "methods": list(methods)},
        "sessions": {s.name: {"n_steps": s.n_steps, "duration_s": s.n_steps / protocol.rate_hz,
                              "channels": list(s.channels), "units": list(s.units), "missing_steps": int((~np.isfinite(s.X).all(axis=1)).sum()),
                              "source": list(s.source)} for s in sessions},
        "results": ordered,
        "session_averages": per_session,
        "horizon_averages": per_horizon,
        "averages": avg,
        "baseline_comparison": compare_with_baselines(per_session, methods),
        "published": PUBLISHED,
        "wall_s": wall_s,
        "workers": workers,
    }


def published_applies(report: dict) -> bool:
    """The published table (3-D external markers at 10 Hz) is comparable only with such data."""
    sessions = report.get("sessions", {})
    return (float(report["protocol"].get("rate_hz", 0)) == 10.0 and bool(sessions) and
            error_unit(sessions) == "mm" and   # its RMSE and max are mm: not beside a table of unknown unit
            all(ch and len(ch) % 3 == 0 and   # whole 3-D markers: one 'x' column is a 1-D trace
                all(str(c).rpartition("_")[2].lower() in ("x", "y", "z") for c in ch)
                for s in sessions.values() for ch in [s.get("channels")]))


def error_unit(sessions: dict) -> str:
    """The unit of the error columns for a report's ``sessions``: their one unit ("mm" for marker
    and surrogate data; "mm" too for a report of an older biosig, which stored no units), or "u"
    (input units) when they differ or a session states none (a ``t_s`` table with plain column
    names: its numbers may be mm, cm or metres, see :func:`unitless_sessions`)."""
    units = {str(x) for s in sessions.values() for x in (s.get("units") or ["mm"])}
    if "" in units:
        return "u"
    return units.pop() if len(units) == 1 else "u"


def unitless_sessions(sessions: dict) -> list[str]:
    """Names of the sessions whose input states no unit (a ``t_s`` table: every unit "")."""
    return [name for name, s in sessions.items() if s.get("units") and all(str(x) == "" for x in s["units"])]


UNIT_HINT = ("to state the unit, name the coordinate columns with it (LAC_x_mm, chest (cm)): such a table is read "
             "in mm")


def format_table(report: dict) -> str:
    """The summary table: our metrics, the clinical errors and, for 10 Hz marker data only, the
    published row beside each method."""
    sup = report["protocol"].get("supervision", "causal")
    head = ("supervision: causal (each forecast uses only the samples before it)" if sup == "causal" else
            "supervision: paper -- NOT CAUSAL: weights updated with y(t+h) in the iteration that predicts it, "
            "as the published code; for comparison with the published table only")
    pub_ok = published_applies(report)
    w = max([8, *map(len, report["averages"])])  # snap1-ens is 9 wide
    u = error_unit(report.get("sessions", {}))
    unitless = unitless_sessions(report.get("sessions", {}))
    x = 1 if unitless else 0   # one more digit: an input of unknown unit may be in metres (0.000395, not 0.000)
    cols = (f"{'method':{w}s} {'nRMSE':>7s} {'RMSE ' + u:>{8 + x}s} {'max ' + u:>{7 + x}s} {'p95 ' + u:>{7 + x}s} "
            f"{'>2' + u:>6s} {'>5' + u:>6s} "
            f"{'duty':>5s} {'jitter':>{7 + x}s} {'med us':>8s} {'p99 us':>8s}")
    if pub_ok:
        cols += f" | {'paper nRMSE':>11s} {'RMSE':>6s} {'max':>5s} {'jitter':>6s} {'ms/step':>7s}"
    lines = [head, cols]

    def num(v, width, decimals):   # significant digits for an input of unknown unit
        return f"{v:{width + x}.3g}" if unitless else f"{v:{width}.{decimals}f}"

    for method, a in report["averages"].items():
        p99 = f"{a['us_p99']:8.1f}" if np.isfinite(a["us_p99"]) else f"{'-':>8s}"  # none for a seed ensemble
        row = (f"{method:{w}s} {a['nrmse']:7.3f} {num(a['rmse'], 8, 3)} {num(a['max'], 7, 2)} "
               f"{num(a.get('p95', float('nan')), 7, 2)} "
               f"{a.get('frac_gt2', float('nan')):6.3f} {a.get('frac_gt5', float('nan')):6.3f} "
               f"{a.get('duty', float('nan')):5.3f} {num(a['jitter'], 7, 3)} {a['us_median']:8.1f} {p99}")
        if pub_ok:
            p = report["published"].get(method)
            row += (f" | {p['nrmse']:11.3f} {p['rmse']:6.3f} {p['max']:5.2f} {p['jitter']:6.3f} {p['ms_per_step']:7.3f}"
                    if p else f" | {'-':>11s} {'-':>6s} {'-':>5s} {'-':>6s} {'-':>7s}")
        lines.append(row)
    if not pub_ok:
        lines.append("(published columns left out: they are for 3-D markers at 10 Hz)")
    if unitless:   # the thresholds are 2 and 5 of the input's own units: mm, or not, the file does not say
        lines.append(f"(errors in input units: {names_text(unitless, most=3)} state(s) no unit (a table with plain column "
                     f"names), so the errors are in whatever unit the file is in, and >2 and >5 count errors over "
                     f"2 and 5 of it "
                     f"(the clinical thresholds only if that unit is mm; a file in metres never exceeds them); "
                     f"{UNIT_HINT})")
    elif u != "mm":
        lines.append(f"(errors in {'input units: the sessions differ' if u == 'u' else u}; >2 and >5 count "
                     "forecasts off by more than 2 and 5 of them, the clinical mm thresholds only for mm)")
    lines += format_baseline_comparison(report.get("baseline_comparison", {}))
    return "\n".join(lines)
