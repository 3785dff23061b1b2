"""The plain-text status table of ``biosig status`` and the demo's live view: one row per input stream (rate, age,
frames, windows, outputs, holds, gaps, drops, rejects, latency from the device timestamp) and the lines under it
(a device clock behind the runtime's, rejects by reason, forecasters). Split from :mod:`streams.demo`."""
from __future__ import annotations

import numpy as np


def _fmt(v, nd=1):
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{nd}f}"


#: A stream whose every frame reached the runtime at least this long after its device time is said
#: under the status table: a device clock behind the runtime's (2 h behind read as 7220902.1 ms, run
#: into the column before it), one stamping seconds since boot rather than Unix seconds, or a backlog.
CLOCK_BEHIND_MS = 60_000.0


def _lat(v) -> str:
    """A latency column's cell, at most 8 characters (the columns are 9 wide): milliseconds, or
    ``7.2e+06`` beyond 999999.9 (a device clock 2 h behind ran into the column before it) or -99999.9
    (a clock ahead: -996812.6 ran into it too)."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    text = f"{v:.1f}"
    if len(text) <= 8:
        return text
    text = f"{v:.1e}"
    return text if len(text) <= 8 else f"{v:.0e}"


def rejects_text(counts: dict, last: str = "") -> str:
    """``rejected inconsistent 5 (fs_hz ... -> what to do); last: inconsistent: fs_hz changed ...``:
    each reason's count and what to do about it, and the newest rejected frame's detail."""
    from streams.metrics import reject_advice
    parts = [f"{reason} {n}" + (f" ({reject_advice(reason)})" if reject_advice(reason) else "")
             for reason, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return "rejected " + "; ".join(parts) + (f"; last: {last}" if last else "")


def status_table(status: dict) -> str:
    """Plain-text table of a status body, one row per input stream: recent rate (over the last
    ``rate_window_s``), age of the newest frame, counters and latency percentiles; below it a line
    per stream whose declared rate is wrong (``rate_mismatch``) or doubted (``rate_pending``)."""
    from streams.device_rate import MIN_SPAN_S
    if status.get("state") == "starting":
        return (f"runtime starting (loading encoders, compiling forecaster kernels) for "
                f"{status.get('uptime_s', 0.0):.0f} s; not yet accepting frames")
    w = max([18] + [len(name) + 1 for name in status["streams"]])   # a name is never cut
    head = f"{'stream':<{w}}{'mod':<7}{'rate Hz':>9}{'age s':>7}{'frames':>8}{'win':>6}{'out':>6}{'fcst':>6}" \
           f"{'hold':>6}{'gaps':>6}{'drop':>6}{'rej':>5}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>9}{'max ms':>9}"
    rows = [head, "-" * len(head)]
    skewed = []
    for name, s in status["streams"].items():
        lat = s["latency_ms"]
        rows.append(f"{name:<{w}}{s['modality']:<7}{s['rate_hz']:>9.1f}{_fmt(s.get('age_s'), 1):>7}"
                    f"{s['frames']:>8}{s['windows']:>6}"
                    f"{s['outputs']:>6}{s['forecasts']:>6}{s['holds']:>6}{s['gaps']:>6}{s['dropped']:>6}"
                    f"{s['rejected_total']:>5}{_lat(lat['p50']):>9}{_lat(lat['p99']):>9}{_lat(lat['p99.9']):>9}"
                    f"{_lat(lat['max']):>9}")
        ingest = s.get("latency_ingest_ms", {})
        lows = [v for v in (ingest.get("min"), lat.get("min")) if v is not None and np.isfinite(v)]
        behind = ingest.get("min")
        if ingest.get("n") and behind is not None and np.isfinite(behind) and behind >= CLOCK_BEHIND_MS:
            skewed.append(f"{name}: every frame reached the runtime at least {behind / 1e3:.0f} s after its device "
                          "time: its device clock runs behind the runtime's (synchronise the clocks (NTP/PTP); "
                          "t0_s is Unix seconds), or it sends a backlog; latencies include that offset")
        if (ingest.get("ahead") or lat.get("ahead")) and lows:
            skewed.append(f"{name}: its device clock runs ahead of the runtime's by at least {-min(lows):.0f} ms "
                          f"({ingest.get('ahead', 0)} frame(s) received before their timestamp): latencies from "
                          "device time include that offset; synchronise the clocks (NTP/PTP)")
    q = status["queue"]
    rows.append(f"encoder queue {q['pending_windows']}/{q['max']}, batches {q['batches']}, "
                f"invalid frames {sum(status['invalid'].values())}, uptime {status['uptime_s']:.0f} s")
    band = status.get("audio_fmax_hz")
    if band and any(s.get("modality") == "audio" for s in status["streams"].values()):
        rows.append(f"audio streams: model input low-passed to 0-{band:g} Hz (--audio-fmax-hz)")
    rows += skewed
    for name, s in status["streams"].items():
        if s.get("rate_mismatch"):
            rows.append(f"{name}: rate_mismatch: {s['rate_mismatch']}")
        elif s.get("rate_pending"):
            rows.append(f"{name}: rate_pending: its first seconds of device time disagree with the declared "
                        f"rate: measures withheld until the verdict at {MIN_SPAN_S:g} s of device time")
    for name, s in status["streams"].items():
        if s.get("rejected"):
            rows.append(f"{name}: " + rejects_text(s["rejected"], s.get("last_rejected", "")))
    if status.get("invalid"):
        rows.append("invalid frames (no stream could be told): "
                    + rejects_text(status["invalid"], status.get("invalid_last", "")))
    for src, f in status.get("forecasters", {}).items():
        if f.get("state") == "hold":
            rows.append(f"{src}: forecast on hold ({f['hold']}{': ' + f['failed'] if f.get('failed') else ''})")
    return "\n".join(rows)
