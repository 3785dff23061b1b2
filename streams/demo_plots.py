"""The PNGs of ``biosig demo``: end-to-end latency histogram and forecast vs simulated truth."""
from __future__ import annotations

import pathlib

import numpy as np

from streams.protocol import source_of

LATENCY_BUDGET_MS = 100.0
HOLD_COLORS = {"warm_up": "#bbbbbb", "gap": "#d62728", "stale_input": "#ff9896",
               "frozen_input": "#e377c2", "diverged": "#9467bd", "unavailable": "#8c564b"}   # other reasons: orange


def _rmse_3d(p: np.ndarray, y: np.ndarray) -> float:
    if len(p) == 0:
        return float("nan")
    return float(np.sqrt(((p - y) ** 2).reshape(len(p), -1, 3).sum(axis=2).mean()))


def latency_plot(path, series: dict, budget_ms: float = LATENCY_BUDGET_MS):
    """Histogram per series (name -> latencies in ms) on a log time axis with p50/p99 markers
    and the ``budget_ms`` line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.2))
    vals = [np.asarray(v, float) for v in series.values() if len(v)]
    pos = np.concatenate(vals)[np.concatenate(vals) > 0] if vals else np.zeros(0)
    lo = max(0.1, float(pos.min())) if len(pos) else 0.1
    hi = max(float(pos.max()) if len(pos) else 1.0, budget_ms) * 1.2
    bins = np.logspace(np.log10(lo), np.log10(hi), 70)
    for i, (name, v) in enumerate(series.items()):
        v = np.asarray(v, float)
        if not len(v):
            continue
        color = f"C{i}"
        p50, p99 = np.percentile(v, [50, 99])
        ax.hist(np.clip(v, lo, None), bins=bins, alpha=0.55, color=color, label=f"{name} (n={len(v)})")
        ax.axvline(p50, color=color, ls="--", lw=1.3, label=f"{name} p50 {p50:.1f} ms")
        ax.axvline(p99, color=color, ls=":", lw=1.8, label=f"{name} p99 {p99:.1f} ms")
    ax.axvline(budget_ms, color="red", lw=1.6, label=f"{budget_ms:g} ms budget")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("end-to-end latency from device timestamp (ms, log scale)")
    ax.set_ylabel("frames")
    ax.set_title("biosig demo: latency of published outputs as a subscriber sees them")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def forecast_plot(path, series: dict, meta: dict, holds: dict, t_start: float, coord: int = 2):
    """One panel per couch: truth and forecast of one coordinate (default m1_z), the title with
    method, horizon and 3-D RMSE next to holding the last position, and hold periods shaded.

    series : name -> (t (N,), predicted (N, C), true (N, C), last (N, C)), t relative to t_start;
    meta : source -> {method, horizon_s, horizon_steps} as published; holds : source ->
    [[t0_s, t1_s or None, reason], ...] in device time.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    n = max(len(series), 1)
    fig, axes = plt.subplots(n, 1, figsize=(10, 3.8 * n), squeeze=False)
    for ax, (name, (t, p, y, last)) in zip(axes[:, 0], series.items()):
        source = source_of(name)
        m = meta.get(source, {})
        if len(t):
            ax.plot(t, y[:, coord], lw=1.3, color="C0", label="simulated truth (m1_z)")
            ax.plot(t, p[:, coord], lw=1.0, color="C1", label="forecast for that time")
            ax.plot(t, last[:, coord], lw=0.8, color="0.55", ls="--", label="hold-last (persistence)")
        t_end = float(t[-1]) if len(t) else 0.0
        seen = {}
        for t0, t1, reason in holds.get(source, []):
            a = t0 - t_start
            b = (t1 - t_start) if t1 is not None else max(t_end, a)
            c = HOLD_COLORS.get(reason, "#ffbb78")
            ax.axvspan(a, max(b, a + 0.05), color=c, alpha=0.3, lw=0)
            seen[reason] = c
        rmse, pers = _rmse_3d(p, y), _rmse_3d(last, y)
        h = (f"horizon {m['horizon_steps']} samples = {m['horizon_s'] * 1e3:.0f} ms"
             if m.get("horizon_s") is not None else "horizon ?")
        ax.set_title(f"{name}: {m.get('method', '?')}, {h}; 3-D RMSE {rmse:.2f} mm vs hold-last {pers:.2f} mm "
                     f"({len(t)} forecasts)", fontsize=10)
        ax.set_xlabel("time since the devices started (s)")
        ax.set_ylabel("mm")
        handles, labels = ax.get_legend_handles_labels()
        handles += [Patch(color=c, alpha=0.3) for c in seen.values()]
        labels += [f"hold: {r}" for r in seen]
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8,
                  ncol=min(len(labels), 6), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plots(out: pathlib.Path, col, series: dict, live=None, t_start: float = 0.0):
    """``latency_hist.png`` and ``forecast_vs_truth.png`` in ``out``. ``live``: the demo's
    :class:`streams.dashboard.LiveState` (hold periods and forecaster method/horizon as published);
    without it the forecast plot has no hold shading."""
    out = pathlib.Path(out)
    latency_plot(out / "latency_hist.png", {"embeddings": col.emb_latency_ms, "forecasts": col.fcst_latency_ms})
    meta, holds = {}, {}
    if live is not None:
        with live.lock:
            meta = {k: dict(v) for k, v in live.couches.items()}
            holds = {k: [list(p) for p in v] for k, v in live.hold_periods.items()}
    forecast_plot(out / "forecast_vs_truth.png", series, meta, holds, t_start)
