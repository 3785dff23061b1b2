"""Streaming runtime benchmark (issue 6).

1. Beds as `biosig monitor --simulate N` makes them: ECG 2 leads 250 Hz, PPG 125 Hz, respiration
   25 Hz (10 s windows every 1 s) and 16 kHz audio (audio-tiny's 2 s training window every 2 s, its own encoder
   worker), plus 4 marker streams at 30 Hz; a second table without audio. `biosig serve` (default
   models: ecg, ppg and audio encoders) and `biosig monitor` run as separate processes; a subscriber here measures end-to-end latency from the device timestamp
   (the newest sample of a window, or the marker sample) to reception. Reported: latency
   percentiles of embeddings and forecasts, frames lost (gaps + missing + dropped + rejected at
   the runtime, plus gaps seen by the subscriber: must be 0), runtime CPU use (% of one core),
   and the largest bed count whose embedding p99 stays under 100 ms.
2. Throughput: the same ECG frames (2 x 25 float32) through raw pyzmq PUSH->PULL on loopback vs
   through the biosig Publisher into the runtime (decode, validate, sequence check, ring buffer,
   recorder off, no encoder), as frames per second: `pyzmq | biosig | ratio`.

Usage: .venv/bin/python benchmarks/bench_streams.py [--beds 4,8,16,24,32] [--seconds 12]
                                                     [--light-beds 16,32]
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_s(pid) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(v):
    if not v:
        return [float("nan")] * 4
    return [*np.percentile(v, [50, 99, 99.9]), max(v)]


def run_beds(n_beds: int, measure_s: float, warm_s: float = 11.0, streams: str = "ecg,ppg,resp,audio") -> dict:
    from streams.config import Endpoints
    from streams.subscriber import Subscriber, request_status
    ep = Endpoints(*(f"tcp://127.0.0.1:{_port()}" for _ in range(3)))
    total = warm_s + measure_s
    models = "ecg=ecg-tiny,ppg=ppg-tiny" + (",audio=audio-tiny" if "audio" in streams else "")
    serve = subprocess.Popen(BIOSIG + ["serve", "--models", models, "--seconds", str(total + 60),
                                       "--ingest", ep.ingest, "--output", ep.output, "--status", ep.status],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t_end = time.time() + 180
    while True:
        try:
            if request_status(ep.status, timeout_s=0.5).get("state") == "serving":
                break
        except Exception:
            if time.time() > t_end or serve.poll() is not None:
                raise RuntimeError(f"runtime did not start: {serve.stderr.read() if serve.poll() is not None else ''}")
    sub = Subscriber(["emb/", "fcst/", "hb/"], ep.output, stale_s=60)
    mon = subprocess.Popen(BIOSIG + ["monitor", "--simulate", str(n_beds), "--streams", streams,
                                     "--couches", "4", "--seconds", str(total), "--ingest", ep.ingest],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    emb, fc = [], []
    by_modality: dict = {}
    t_first = None
    cpu0 = t_cpu0 = None
    deadline = time.time() + total + 120
    while mon.poll() is None and time.time() < deadline:
        f = sub.recv(0.2)
        if f is None or f.kind not in ("embedding", "forecast"):
            continue
        now = time.time()
        t_first = t_first or now
        if now - t_first < warm_s:          # monitor start-up and window filling
            continue
        if cpu0 is None:
            cpu0, t_cpu0 = _cpu_s(serve.pid), time.monotonic()
        lat = (now - f.header["t_out_s"]) * 1e3 + f.header["latency_ms"]["total"]
        (emb if f.kind == "embedding" else fc).append(lat)
        if f.kind == "embedding":
            by_modality.setdefault(f.header.get("modality", "?"), []).append(lat)
    cpu = (_cpu_s(serve.pid) - cpu0) / (time.monotonic() - t_cpu0) * 100 if cpu0 is not None else float("nan")
    time.sleep(1.0)
    status = request_status(ep.status)
    serve.terminate()
    serve.wait(60)
    sub_gaps = sum(s["gaps"] for s in sub.stats.values())
    sub.close()
    t = status["totals"]
    lost = t.get("missing", 0) + t.get("dropped", 0) + t.get("rejected_total", 0) + t.get("invalid", 0) + sub_gaps
    return {"beds": n_beds, "emb": _pct(emb), "fcst": _pct(fc), "n_emb": len(emb), "n_fc": len(fc),
            "lost": lost, "cpu": cpu, "frames": t.get("frames", 0),
            "p99_by_modality": {m: float(np.percentile(v, 99)) for m, v in sorted(by_modality.items())}}


def throughput(n_frames: int = 20000) -> tuple[float, float]:
    import zmq
    from streams import protocol
    from streams.config import Endpoints, RuntimeConfig
    from streams.publisher import Publisher
    from streams.runtime import Runtime
    x = np.random.default_rng(0).normal(size=(2, 25)).astype(np.float32)
    # raw pyzmq: pre-encoded identical parts, receiver does nothing but receive
    parts = protocol.encode("bed01/ecg", protocol.signal_header("bed01/ecg", 0, 1, time.time(), 250.0,
                                                                ["II", "V5"], ["mV", "mV"], "ecg"), x)
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push = ctx.socket(zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{port}")
    got = [0]

    def recv():
        for _ in range(n_frames):
            pull.recv_multipart(copy=False)
            got[0] += 1
    th = threading.Thread(target=recv)
    th.start()
    t0 = time.perf_counter()
    for _ in range(n_frames):
        push.send_multipart(parts)
    th.join()
    raw = n_frames / (time.perf_counter() - t0)
    push.close(0)
    pull.close(0)
    ctx.term()
    # biosig: Publisher (header per frame) -> runtime ingest, all frames accepted
    cfg = RuntimeConfig(endpoints=Endpoints("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"),
                        models={}, windows={"ecg": (10.0, 1.0)})
    rt = Runtime(cfg).start()
    pub = Publisher("bed01", rt.bound.ingest, hwm=0)
    out = pub.stream("ecg", 250.0, ["II", "V5"], ["mV", "mV"])
    t0 = time.perf_counter()
    for _ in range(n_frames):
        out.send(x)
    while rt.stats.get("bed01/ecg") is None or rt.stats["bed01/ecg"].frames < n_frames:
        time.sleep(0.001)
    ours = n_frames / (time.perf_counter() - t0)
    assert rt.stats["bed01/ecg"].gaps == 0
    pub.close()
    rt.stop()
    return raw, ours


def _table(title, beds, seconds, streams):
    print(f"## {title}")
    print("beds | emb p50 ms | emb p99 ms | emb p99.9 ms | emb max ms | fcst p50 ms | fcst p99 ms | "
          "embeddings | forecasts | frames | lost | runtime CPU % | load avg")
    best = 0
    for n in beds:
        r = run_beds(n, seconds, streams=streams)
        e, f = r["emb"], r["fcst"]
        print(f"{n} | {e[0]:.1f} | {e[1]:.1f} | {e[2]:.1f} | {e[3]:.1f} | {f[0]:.1f} | {f[1]:.1f} | "
              f"{r['n_emb']} | {r['n_fc']} | {r['frames']} | {r['lost']} | {r['cpu']:.0f} | "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        print("    embedding p99 by modality: " + ", ".join(f"{m} {v:.1f} ms" for m, v in r["p99_by_modality"].items()),
              flush=True)
        if e[1] <= 100.0 and r["lost"] == 0:
            best = max(best, n)
    print(f"largest bed count with embedding p99 <= 100 ms and 0 frames lost: {best or 'none'}\n", flush=True)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beds", default="4,8,16,24,32", help="full bed counts (ECG, PPG, resp, 16 kHz audio)")
    ap.add_argument("--light-beds", default="16,32", help="bed counts without audio ('' to skip)")
    ap.add_argument("--seconds", type=float, default=12.0, help="measured seconds per bed count")
    args = ap.parse_args(argv)
    t_all = time.time()
    load = os.getloadavg()[0]
    print(f"(machine: {os.cpu_count()} CPUs, load average {load:.1f} at start)")
    ints = lambda v: [int(b) for b in v.split(",") if b]
    _table("full beds as `monitor --simulate` makes them (ECG 2x250 Hz, PPG 125 Hz, resp 25 Hz, audio 16 kHz) "
           "+ 4 marker streams at 30 Hz", ints(args.beds), args.seconds, "ecg,ppg,resp,audio")
    if ints(args.light_beds):
        _table("beds without audio (ECG, PPG, resp) + 4 marker streams", ints(args.light_beds), args.seconds,
               "ecg,ppg,resp")
    raw, ours = throughput()
    print("## loopback throughput, frames/s (2 x 25 float32 ECG frames)")
    print("pyzmq | biosig | ratio")
    print(f"{raw:.0f} | {ours:.0f} | {ours / raw:.2f}")
    print(f"\n(total {time.time() - t_all:.0f} s, load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
