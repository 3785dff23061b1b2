"""``biosig demo``: runtime + simulated ward + simulated treatment couch, a live table, a summary
and ``demo-out/`` (recordings, latency histogram, forecast-vs-truth plot, summary.json)."""
from __future__ import annotations

import logging
import os
import pathlib
import sys
import threading
import time

import numpy as np

from biosig import json_text
from streams.config import Endpoints, RuntimeConfig

from streams.status_table import CLOCK_BEHIND_MS, _fmt, _lat, rejects_text, status_table  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)


class Collector:
    """Subscribes to everything and keeps what the summary and plots need."""

    def __init__(self, endpoint, rt_priority: int = 0, rt_cpu: int = -1, keys: dict | None = None):
        from streams.subscriber import Subscriber   # keys: key_dir / insecure (streams.demo_procs.client_security)
        self.sub = Subscriber(["emb/", "fcst/", "hold/", "hb/"], endpoint, **(keys or {}))   # not sig/ or score/
        self.rt_priority, self.rt_cpu = rt_priority, rt_cpu
        self.priority = "normal"
        self.emb_latency_ms: list[float] = []
        self.fcst_latency_ms: list[float] = []
        self.fcst_runtime_ms: list[float] = []   # frame received by the runtime -> forecast published
        self.fcst_ingest_ms: list[float] = []    # device timestamp -> frame received by the runtime
        self.fcst_delivery_ms: list[float] = []  # forecast published -> received here
        self.fcst_parts: list[tuple] = []         # one row per forecast: forecast_latency.csv
        self.forecasts: dict[str, list] = {}
        self.counts = {"embedding": 0, "forecast": 0, "hold": 0}
        self.stop = threading.Event()

    def run(self):
        # the forecast consumer (a beam controller) is the last hop of the forecast path
        from streams.priority import forecast_cpu, realtime_thread, realtime_zmq_io_threads
        cpu = forecast_cpu(self.rt_cpu)
        self.priority = realtime_thread(self.rt_priority, "biosig-collect", cpu)
        realtime_zmq_io_threads(self.rt_priority, [self.sub.ctx], cpu)
        while not self.stop.is_set():
            f = self.sub.recv(0.1)
            if f is None or f.kind not in self.counts:
                continue
            self.counts[f.kind] += 1
            now = time.time()
            h = f.header
            if f.kind == "embedding":
                # device time of the newest sample = publish time - runtime latency
                self.emb_latency_ms.append((now - h["t_out_s"]) * 1e3 + h["latency_ms"]["total"])
            elif f.kind == "forecast":
                lat = h["latency_ms"]
                self.fcst_latency_ms.append((now - h["t_out_s"]) * 1e3 + lat["total"])
                self.fcst_runtime_ms.append(lat.get("runtime", float("nan")))
                self.fcst_ingest_ms.append(lat["total"] - lat.get("runtime", float("nan")))
                self.fcst_delivery_ms.append((now - h["t_out_s"]) * 1e3)
                self.fcst_parts.append((now, h["t_s"], self.fcst_latency_ms[-1], lat.get("device", float("nan")),
                                        self.fcst_ingest_ms[-1], lat.get("queue", float("nan")),
                                        lat.get("model", float("nan")), self.fcst_delivery_ms[-1]))
                self.forecasts.setdefault(h["stream"], []).append((h["t_s"], h["target_s"], np.array(f.array)))


def forecast_errors(forecasts, truth_rec, t_start: float):
    """Per-forecast 3-D marker errors against the simulated positions (mm).

    Returns (target_times_s (N,), predicted (N, 9), true (N, 9), persistence (N, 9)).
    """
    fs = truth_rec.fs_hz
    x = truth_rec.samples.astype(np.float64)
    rows = []
    for t_s, target_s, pred in forecasts:
        i_tgt, i_now = int(round((target_s - t_start) * fs)), int(round((t_s - t_start) * fs))
        if 0 <= i_now and i_tgt < x.shape[1]:
            rows.append((target_s - t_start, pred, x[:, i_tgt], x[:, i_now]))
    if not rows:
        return np.zeros(0), np.zeros((0, x.shape[0])), np.zeros((0, x.shape[0])), np.zeros((0, x.shape[0]))
    t, p, y, last = zip(*rows)
    return np.array(t), np.array(p), np.array(y), np.array(last)


def rmse_3d(p: np.ndarray, y: np.ndarray) -> float:
    """sqrt(mean over forecasts and markers of the squared 3-D Euclidean error), mm."""
    if len(p) == 0:
        return float("nan")
    d2 = ((p - y) ** 2).reshape(len(p), -1, 3).sum(axis=2)
    return float(np.sqrt(d2.mean()))


def score_summary(score_rows: dict, truth: dict) -> dict:
    """Per input stream: windows scored, how many were published with measures (``ok``) and why the
    others were withheld, the median of each summary measure and head output over the ok windows,
    next to what the simulator made (rhythm, heart or breathing rate); ``prevalence``: the prevalence
    each head output is calibrated to (its last frame's)."""
    import collections

    def median(values):
        values = [v for v in values if v is not None]
        return float(np.median(values)) if values else None

    out = {}
    for stream, rows in sorted(score_rows.items()):
        ok = [r for r in rows if r["ok"]]
        keys = {k for r in rows for k in r["measures"]}, {k for r in rows for k in r["heads"]}
        t = truth.get(stream, {})
        out[stream] = {
            "windows": len(rows), "ok": len(ok), "modality": rows[-1].get("modality") if rows else None,
            "withheld": dict(collections.Counter(r["missing"] or "?" for r in rows if not r["ok"])),
            "median": {**{k: median(r["measures"].get(k) for r in ok) for k in sorted(keys[0])},
                       **{k: median(r["heads"].get(k) for r in ok) for k in sorted(keys[1])}},
            "simulated": {k: t[k] for k in ("rhythm", "heart_rate_bpm", "resp_rate_bpm") if k in t},
            "prevalence": {k: next((r["prevalence"][k] for r in reversed(rows) if r["prevalence"].get(k) is not None),
                                None) for k in sorted(keys[1])}}
    return out


def score_lines(scores: dict) -> list[str]:
    """The summary's lines: one per stream with measures (ECG, PPG, respiration)."""
    from streams.scores import SUMMARY_MEASURES, measure_text
    lines = []
    for stream, s in scores.items():
        labels = SUMMARY_MEASURES.get(s["modality"], ())
        if not labels:
            continue
        sim = s["simulated"]
        rate = sim.get("heart_rate_bpm", sim.get("resp_rate_bpm"))
        rhythm = {"af": "AF", "sinus": "sinus rhythm"}.get(sim.get("rhythm"), sim.get("rhythm"))
        made = ", ".join(x for x in (rhythm, None if rate is None else f"{rate:.0f} /min") if x)
        med = s["median"]
        vals = [measure_text(label, med.get(key), unit) for key, label, unit in labels[:1]]
        at = s.get("prevalence") or {}
        vals += [f"{k} {_fmt(v, 2)}" + ("" if at.get(k) is None or v is None else f" (at AF prevalence {at[k]:.3g})")
                 for k, v in med.items() if k not in {key for key, _, _ in labels}]
        withheld = "".join(f", {n} {why}" for why, n in s["withheld"].items())
        lines.append(f"  {stream}{f' (simulated {made})' if made else ''}: {s['ok']}/{s['windows']} windows "
                     f"scored{withheld}; median {', '.join(vals)}")
    return lines


def _plots(out: pathlib.Path, col: Collector, series, live=None, t_start: float = 0.0):
    from streams.demo_plots import plots
    plots(out, col, series, live, t_start)


def _couch_truth(couches, seconds):
    """The marker records the couches send (the simulator is seeded, so identical)."""
    from streams.simulate import _record
    return [_record("motion", max(seconds + 5, 1.0) + 5.0, 0 + 7 * c, fs_hz=30.0) for c in range(couches)]


def check_ward(beds: int, couches: int) -> None:
    """Refuse a ward with more streams than the runtime accepts (``RuntimeConfig.max_streams``): 1000 beds ran,
    every bed past the 256th rejected, with nothing said before the summary."""
    from streams.errors import StreamError
    from streams.simulate import BED_STREAMS
    n_streams, limit = beds * len(BED_STREAMS) + couches, RuntimeConfig().max_streams
    if n_streams > limit:
        raise StreamError(f"--beds {beds} --couches {couches}: {n_streams} streams ({len(BED_STREAMS)} a bed, one a "
                          f"couch), more than the runtime accepts ({limit}, max_streams); give at most "
                          f"{max(0, limit - couches) // len(BED_STREAMS)} beds")


def check_security(endpoints: dict | None = None, key_dir=None, insecure: bool = False) -> None:
    """Refuse at once, before the runtime's process loads its encoders, what ``biosig serve`` refuses: with
    ``key_dir``, a key folder that is missing or lacks a key the runtime needs (``server.key_secret``, client keys in
    ``allowed/``) or the demo's own clients need (``client.key_secret``, ``server.key``), with serve --keys's line
    (``streams.security``); without, plain TCP on a non-loopback endpoint (``endpoints``: those given, None: the
    default) unless ``insecure``, with serve's message. Until 2026-12-07 the demo ignored --keys and --insecure and
    ran on plain TCP whatever was given."""
    if key_dir:
        import zmq
        from streams.security import ServerSecurity, secure_client
        ctx = zmq.Context()
        try:
            ServerSecurity(ctx, key_dir).stop()
            sock = ctx.socket(zmq.SUB)
            try:
                secure_client(sock, key_dir)
            finally:
                sock.close(linger=0)
        finally:
            ctx.term()
        return
    from streams.security import check_plain_allowed
    given = {k: v for k, v in (endpoints or {}).items() if v is not None}
    check_plain_allowed({**dict(zip(("ingest", "output", "status"), Endpoints().all())), **given}.values(), insecure)


def run_demo(seconds: float = 60.0, out_dir="demo-out", beds: int = 4, couches: int = 1,
             backend: str = "auto", endpoints: Endpoints | dict | None = None, stream=sys.stdout,
             key_dir=None, insecure: bool = False) -> dict:
    """Run the demo and return its summary (also written to ``out_dir/summary.json``). ``endpoints``: those the
    user gave, kept (an :class:`Endpoints`: all three; a dict: those named, None values not given); the others are
    chosen by :func:`streams.demo_procs.demo_endpoints` (the defaults, or free ports where another process or demo
    holds them). ``key_dir``: a folder of ``biosig keys generate``: the runtime serves with CURVE and every client
    of the demo (devices, collector, live view, status requests) connects with its client keys, as ``biosig serve
    --keys`` and ``biosig publish/listen --keys``; ``insecure``: plain TCP allowed on a non-loopback endpoint
    (:func:`check_security`)."""
    from streams.demo_procs import demo_endpoints, fresh_subfolders
    check_ward(beds, couches)
    if isinstance(endpoints, Endpoints):
        endpoints = dict(zip(("ingest", "output", "status"), endpoints.all()))
    check_security(endpoints, key_dir, insecure)   # before the output folder is touched or encoders load
    out = pathlib.Path(out_dir)
    fresh_subfolders(out)   # each demo starts afresh
    out.mkdir(parents=True, exist_ok=True)
    ep, claim = demo_endpoints(endpoints)   # two demos: the second moves
    try:
        return _run_claimed(seconds, out, beds, couches, backend, ep, stream, key_dir, insecure)
    finally:   # the runtime has stopped, or never started (a failure before it kept the defaults claimed)
        if claim is not None:
            claim.close()


def _run_claimed(seconds, out, beds, couches, backend, ep, stream, key_dir=None, insecure=False) -> dict:
    """:func:`run_demo` once its endpoints are claimed."""
    from streams.demo_procs import DemoProcesses, client_security, redraws
    from streams.errors import StreamError
    from streams.security import is_loopback
    from streams.subscriber import request_status
    tty = redraws(stream)   # a terminal that redraws (not TERM=dumb)
    plain = "plain TCP" + (", --insecure" if insecure and not all(map(is_loopback, ep.all())) else "")
    print(f"biosig demo: runtime on {ep.ingest} / {ep.output} ({f'CURVE, keys {key_dir}' if key_dir else plain}), "
          f"{beds} beds, {couches} couch(es), {seconds:g} s; loading encoders (the first run exports ONNX graphs, "
          "cached afterwards) ...", file=stream, flush=True)
    # insecure only where it matters: on loopback each process said "--insecure changes nothing" (this one has)
    cfg = RuntimeConfig(endpoints=ep, backend=backend, record_dir=str(out / "recordings"),
                        state_dir=str(out / "state"), rotate_s=max(10.0, seconds / 3),
                        key_dir=str(key_dir) if key_dir else None,
                        insecure=bool(insecure and not all(map(is_loopback, ep.all()))))
    status_ep, status_keys = client_security(cfg, ep.status)
    cfg = cfg.replace(tap_signals=True)  # waveforms for the live view
    # the runtime, the ward and the couches each in their own process (as deployed); this process
    # only watches: the collector, the live view and the table
    procs = DemoProcesses(cfg, beds, couches, seconds)
    col = dash = col_thread = None
    try:
        procs.wait_ready()
        print(f"biosig demo: runtime ready after {procs.ready_after_s:.1f} s (its own process; the ward and "
              "the couches are two more)", file=stream, flush=True)
        output_ep, output_keys = client_security(cfg, ep.output)
        col = Collector(output_ep, cfg.rt_priority, cfg.rt_cpu, output_keys)
        from streams.demo_procs import DashboardProcess
        dash = DashboardProcess(output_ep, output_keys).start(stream)   # its own process, as `biosig dashboard` is
        col_thread = threading.Thread(target=col.run, daemon=True)
        col_thread.start()
        truth = _couch_truth(couches, seconds)
        import gc
        gc.collect()
        gc.freeze()   # this process measures: full collections skip what start-up left (as in the runtime)
        time.sleep(0.3)   # the subscriptions reach the runtime before the first frame
        t_start = procs.go()
        from streams.steal import StealSampler
        # the steal counter while the devices run: how much the host took, and which late forecasts
        # it overlapped
        sampler = StealSampler().start()
        last_print = 0.0
        while procs.devices_alive():
            time.sleep(0.2)
            now = time.time()
            if now - last_print >= (1.0 if tty else 15.0):
                last_print = now
                table = status_table(request_status(status_ep, **status_keys))
                if tty:
                    stream.write("\x1b[H\x1b[J")
                stream.write(f"t = {max(now - t_start, 0.0):5.1f} / {seconds:g} s\n{table}\n")
                stream.flush()
        failed = procs.join_devices()
        time.sleep(0.1)   # the last forecasts' receipt is inside the sampled span
        steal_rows = sampler.stop()
        stolen_s = (steal_rows[-1, 1] - steal_rows[0, 1]) / os.sysconf("SC_CLK_TCK") if len(steal_rows) else 0.0
        time.sleep(0.5)  # let the last windows and forecasts through
        status = request_status(status_ep, **status_keys)
    finally:
        procs.stop()
        if col is not None:
            col.stop.set()
            col_thread.join(5)
            col.sub.close()
        if dash is not None:
            dash.stop()
    if failed:
        raise StreamError(f"the simulated devices failed: {', '.join(failed)}")
    series, fc = {}, {}
    for c, rec in enumerate(truth):
        name = f"couch{c + 1}/markers"
        series[name] = forecast_errors(col.forecasts.get(name, []), rec, t_start)
        t, p, y, last = series[name]
        fc[name] = {"forecasts": int(len(t)), "rmse_mm": rmse_3d(p, y), "persistence_rmse_mm": rmse_3d(last, y)}
    _plots(out, col, series, dash.state if dash is not None else None, t_start)
    tot = status["totals"]
    pct = lambda v: {k: float(np.percentile(v, q)) if v else float("nan")
                     for k, q in (("p50", 50), ("p99", 99), ("p99.9", 99.9))} | {"max": float(max(v)) if v else float("nan")}
    summary = {
        "seconds": seconds, "beds": beds, "couches": couches,
        "frames": tot.get("frames", 0), "windows": tot.get("windows", 0), "embeddings": tot.get("outputs", 0),
        "forecasts": tot.get("forecasts", 0), "holds": tot.get("holds", 0), "gaps": tot.get("gaps", 0),
        "missing_frames": tot.get("missing", 0), "dropped_windows": tot.get("dropped", 0),
        "rejected": tot.get("rejected_total", 0) + tot.get("invalid", 0),
        "received": col.counts, "subscriber_gaps": sum(s["gaps"] for s in col.sub.stats.values()),
        "embedding_latency_ms": pct(col.emb_latency_ms), "forecast_latency_ms": pct(col.fcst_latency_ms),
        "forecast_runtime_ms": pct(col.fcst_runtime_ms), "forecast_ingest_ms": pct(col.fcst_ingest_ms),
        "forecast_delivery_ms": pct(col.fcst_delivery_ms), "load_average": list(os.getloadavg()),
        "stolen_cpu_s": stolen_s,
        "runtime_ready_after_s": procs.ready_after_s,
        "forecast_path_priority": {"runtime": status.get("forecast_path_priority", "unknown"),
                                   "subscriber": col.priority},
        "cpu_wakeup_latency": status.get("cpu_wakeup_latency", "unknown"),
        "forecast": fc, "models": status["models"],
        "hold_periods": dict(dash.state.hold_periods) if dash is not None else {},   # as the live view saw them
        "scores": score_summary(dash.state.score_rows if dash is not None else {}, procs.truth),
        "recordings": sorted(str(p) for p in (out / "recordings").glob("*.parquet")),
    }
    np.savetxt(out / "forecast_latency.csv", np.array(col.fcst_parts).reshape(-1, 8), delimiter=",", fmt="%.6f",
               header="received_s,t_s,from_device_timestamp_ms,timestamp_to_sent_ms,timestamp_to_runtime_ms,queue_ms,model_ms,"
                      "runtime_to_subscriber_ms", comments="")
    from streams.steal import late_forecasts
    parts = np.array(col.fcst_parts, dtype=np.float64).reshape(-1, 8)
    summary["forecast_late"] = late = late_forecasts(parts[:, 0], parts[:, 2], steal_rows, 5.0)
    (out / "summary.json").write_text(json_text.dumps(summary, indent=2, default=float))
    lines = [
        "", "summary",
        f"  frames accepted {summary['frames']}, windows {summary['windows']}, embeddings {summary['embeddings']}, "
        f"forecasts {summary['forecasts']}, holds {summary['holds']}",
        f"  gaps {summary['gaps']} ({summary['missing_frames']} frames missing), dropped windows "
        f"{summary['dropped_windows']}, rejected {summary['rejected']}, subscriber-side gaps {summary['subscriber_gaps']}",
    ]
    for name, key in (("embedding", "embedding_latency_ms"), ("forecast", "forecast_latency_ms")):
        v = summary[key]
        lines.append(f"  {name} latency from device timestamp: p50 {_fmt(v['p50'])} ms, p99 {_fmt(v['p99'])} ms, "
                     f"p99.9 {_fmt(v['p99.9'])} ms, max {_fmt(v['max'])} ms")
    v, fl = summary["forecast_runtime_ms"], summary["forecast_latency_ms"]
    la = summary["load_average"]
    late_line = (f"  forecasts over the 5 ms target: {late['over']} of {late['n']}, {late['over_with_steal']} of them "
                 f"while the hypervisor took CPU time from this machine (steal: no guest thread runs, whatever its "
                 f"priority); p99 of the {late['n'] - late['with_steal']} forecasts without steal "
                 f"{_fmt(late['p99_without_steal_ms'])} ms")
    lines.append(f"  forecast p99 {_fmt(fl['p99'])} ms from device timestamp (target <= 5 ms, counted from the first "
                 f"forecast), made of: device -> runtime receipt p99 {_fmt(summary['forecast_ingest_ms']['p99'], 2)} ms; "
                 f"inside the runtime (frame received -> forecast published) p50 {_fmt(v['p50'], 2)} ms, "
                 f"p99 {_fmt(v['p99'], 2)} ms; runtime -> this subscriber p99 "
                 f"{_fmt(summary['forecast_delivery_ms']['p99'], 2)} ms")
    lines.append(late_line)
    lines.append(f"  machine load average {la[0]:.1f} / {la[1]:.1f} / {la[2]:.1f} (1 / 5 / 15 min) on {os.cpu_count()} "
                 "cores; the runtime, the ward and the couches ran as three processes besides this one; CPU time "
                 f"taken by the hypervisor from this virtual machine while the devices ran (steal): {stolen_s:.1f} s")
    pr = summary["forecast_path_priority"]
    lines.append(f"  forecast path priority: runtime event loop {pr['runtime']}, this subscriber {pr['subscriber']} "
                 f"(the couch likewise; streams/priority.py); CPU wake-up latency request "
                 f"{summary['cpu_wakeup_latency']}")
    for name, f in fc.items():
        lines.append(f"  {name}: {f['forecasts']} forecasts, RMSE vs simulated truth {_fmt(f['rmse_mm'], 2)} mm "
                     f"(holding the last position: {_fmt(f['persistence_rmse_mm'], 2)} mm)")
    if scored := score_lines(summary["scores"]):   # a header over no line when only audio had been scored
        lines.append("  scores (score/ frames as the live view received them; median over the windows published with "
                     "measures):")
        lines += ["  " + ln for ln in scored]
    lines.append(f"  wrote {out}/: recordings/ ({len(summary['recordings'])} Parquet files), latency_hist.png, "
                 "forecast_vs_truth.png, forecast_latency.csv (per-forecast parts), summary.json")
    print("\n".join(lines), file=stream, flush=True)
    return summary
