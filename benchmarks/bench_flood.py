"""Does the ingest budget keep a flooder from taking the event loop from a real-time bed?

A bed sends ECG (250 Hz, 0.1 s frames) at real time; beside it a flooder sends one ECG stream at
``--speeds`` times real time (device time tiled, stamped from the start of the run). Runtime
(``ecg-tiny``, torch, CPU), bed and flooder run in separate processes over real ZeroMQ sockets on
loopback; this process subscribes to the bed's embeddings and takes their latency (receipt - window
end). Three budgets, each run on a fresh runtime: baseline = the budget off (``ingest_speed_max``
1e9), the shipped defaults (20 x beyond 3600 s) and a strict setting (1.25 x beyond 60 s).

    .venv/bin/python benchmarks/bench_flood.py [--seconds 15] [--speeds 50 500] [--budgets defaults]

Rows ``baseline | ours | ratio`` (ratio = ours / baseline) per flooder speed and budget: the bed's
embedding latency p50 and p99 over the run and over the flood's first ``EARLY_S`` seconds (the
defaults' allowance lasts 7 s at 500 x: over a whole run of 15 s the allowance and the 20 x after it
are averaged), the latency's parts (p50 of the header's ``latency_ms``: ingest = frame to lane and
publish, queue = waiting in the encoder lane, model = the batch's encoder time), its windows out, and
the flooder's frames accepted. Six runs of ``--seconds`` plus start-up (about 3 minutes at 15 s on 2
free cores). On a shared 2-core machine the flooder process itself takes a core: compare runs made
back to back, and repeat them.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time

import numpy as np

import _common  # noqa: F401,E402  (repo root on sys.path)


def row(name: str, baseline: float, ours: float, unit: str = "s", width: int = 30) -> None:
    """``_common.row`` that says n/a for a ratio to zero (no window out, no frame in)."""
    ratio = f"{ours / baseline:6.2f}" if baseline and np.isfinite(baseline) and np.isfinite(ours) else "   n/a"
    fmt = "9.4g" if unit == "s" else "9.0f"   # counts whole
    print(f"{name:<{width}} | {baseline:{fmt}} {unit} | {ours:{fmt}} {unit} | {ratio}")

FS_HZ, FRAME = 250.0, 25          # 0.1 s frames
EARLY_S = 5.0                     # the flood's first seconds (within the defaults' allowance at 50-500 x)
PREROLL_S = 9.5                   # the bed's past samples sent at the start (ecg-tiny: 10 s windows)
BUDGETS = {"baseline": {"ingest_speed_max": 1e9},
           "defaults": {},
           "strict": {"ingest_speed_max": 1.25, "ingest_backlog_s": 60.0}}


def runtime_proc(q, stop, budget: dict, hop_s: float):
    from streams.config import Endpoints, RuntimeConfig
    from streams.runtime import Runtime
    cfg = RuntimeConfig(endpoints=Endpoints("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"),
                        models={"ecg": "ecg-tiny"}, windows={"ecg": (10.0, hop_s)}, backend="torch",
                        rt_priority=0, cpu_wakeup_latency_us=-1, status_every_s=1.0, **budget)
    rt = Runtime(cfg).start()
    q.put((rt.bound.ingest, rt.bound.output))
    stop.wait()
    streams = rt.status()["streams"]
    rt.stop()
    q.put(json.dumps(streams, default=str))


def bed_proc(ingest: str, seconds: float, start):
    from streams.publisher import Publisher
    pub = Publisher("bed", ingest)
    st = pub.stream("ecg", FS_HZ, ["II"], modality="ecg")
    rng = np.random.default_rng(0)
    start.wait()
    t_end = time.time() + seconds
    due = time.time() - PREROLL_S   # a window's worth of past samples at once: windows out from the start
    while due < time.time() - FRAME / FS_HZ:
        due += FRAME / FS_HZ
        st.send(rng.normal(size=(1, FRAME)).astype(np.float32), t0_s=due - FRAME / FS_HZ)
    while time.time() < t_end:
        due += FRAME / FS_HZ
        time.sleep(max(0.0, due - time.time()))
        st.send(rng.normal(size=(1, FRAME)).astype(np.float32), t0_s=due - FRAME / FS_HZ)
    pub.close()


def flood_proc(ingest: str, seconds: float, speed: float, start):
    from streams.publisher import Publisher
    pub = Publisher("flood", ingest)
    st = pub.stream("ecg", FS_HZ, ["II"], modality="ecg")
    x = np.random.default_rng(1).normal(size=(1, FRAME)).astype(np.float32)
    start.wait()
    t_start, k = time.time(), 0
    while (now := time.time()) < t_start + seconds:
        due = int((now - t_start) * speed * FS_HZ / FRAME)
        while k < due:
            st.send(x, t0_s=t_start + k * FRAME / FS_HZ)
            k += 1
        time.sleep(0.001)
    pub.close()


def one_run(speed: float, budget: dict, seconds: float, hop_s: float) -> dict:
    from streams.subscriber import Subscriber
    ctx = mp.get_context("spawn")
    q, stop, start = ctx.Queue(), ctx.Event(), ctx.Event()
    rt = ctx.Process(target=runtime_proc, args=(q, stop, budget, hop_s))
    rt.start()
    ingest, output = q.get(timeout=300)
    sub = Subscriber(["emb/bed/"], output)
    clients = [ctx.Process(target=bed_proc, args=(ingest, seconds, start)),
               ctx.Process(target=flood_proc, args=(ingest, seconds, speed, start))]
    for p in clients:
        p.start()
    time.sleep(2.0)   # subscriptions and connections settle
    start.set()
    latency_s, early_s, parts_ms = [], [], []
    t_start = time.time()
    t_end = t_start + seconds + 5.0
    while time.time() < t_end:
        f = sub.recv(0.2)
        if f is not None and f.topic.startswith("emb/bed"):
            lat = time.time() - f.header["window_end_s"]
            latency_s.append(lat)
            if f.header["window_end_s"] < t_start + EARLY_S:   # the flood's first seconds: its allowance
                early_s.append(lat)
            parts_ms.append(f.header["latency_ms"])
    for p in clients:
        p.join()
    stop.set()
    streams = json.loads(q.get(timeout=120))
    rt.join()
    sub.close()
    lat = np.array(latency_s) if latency_s else np.array([np.nan])
    early = np.array(early_s) if early_s else np.array([np.nan])
    flood = streams.get("flood/ecg", {})
    part = lambda k: float(np.median([p.get(k, np.nan) for p in parts_ms]) / 1e3) if parts_ms else float("nan")
    return {"p50_s": float(np.percentile(lat, 50)), "p99_s": float(np.percentile(lat, 99)),
            "early_p50_s": float(np.percentile(early, 50)), "early_p99_s": float(np.percentile(early, 99)),
            "ingest_p50_s": part("total") - part("queue") - part("model") - part("wait"),
            "queue_p50_s": part("queue"), "model_p50_s": part("model"),
            "windows": len(latency_s), "flood_frames": flood.get("frames", 0),
            "flood_over_rate": (flood.get("rejected") or {}).get("over_rate", 0)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=15.0,
                    help="how long bed and flooder send, per run (default 15; six runs)")
    ap.add_argument("--speeds", type=float, nargs="+", default=[50.0, 500.0],
                    help="flooder speeds, times real time (default 50 500)")
    ap.add_argument("--hop-s", type=float, default=0.5,
                    help="the bed's window hop in seconds (10 s windows; default 0.5: more windows to rank)")
    ap.add_argument("--budgets", nargs="+", default=list(BUDGETS), choices=list(BUDGETS),
                    help="budgets to run (default all three; 'baseline' is the ratios' denominator)")
    args = ap.parse_args(argv)
    results = {}
    names = ["baseline"] + [b for b in args.budgets if b != "baseline"]
    for speed in args.speeds:
        for name in names:
            budget = BUDGETS[name]
            t0 = time.perf_counter()
            r = results[speed, name] = one_run(speed, budget, args.seconds, args.hop_s)
            print(f"# {speed:g}x {name:8s} {json.dumps(r)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"\n{'bed beside a flooder at':<30} | {'baseline':>11} | {'ours':>11} | ratio   "
          f"(baseline: no budget; {args.seconds:g} s per run)")
    for speed in args.speeds:
        base = results[speed, "baseline"]
        for name in names[1:]:
            ours = results[speed, name]
            row(f"{speed:g}x {name} p50 latency", base["p50_s"], ours["p50_s"])
            row(f"{speed:g}x {name} p99 latency", base["p99_s"], ours["p99_s"])
            row(f"{speed:g}x {name} p50 first {EARLY_S:g} s", base["early_p50_s"], ours["early_p50_s"])
            row(f"{speed:g}x {name} p99 first {EARLY_S:g} s", base["early_p99_s"], ours["early_p99_s"])
            for part in ("ingest", "queue", "model"):
                row(f"{speed:g}x {name} p50 {part} part", base[f"{part}_p50_s"], ours[f"{part}_p50_s"])
            row(f"{speed:g}x {name} windows out", base["windows"], ours["windows"], unit=" ")
            row(f"{speed:g}x {name} flood frames in", base["flood_frames"], ours["flood_frames"], unit=" ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
