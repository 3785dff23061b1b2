"""Forecast-path hops with and without the CPU wake-up latency request (issue 16).

A bare pyzmq chain of three processes at 30 Hz, as the forecast path is deployed: a device
process (PUSH, stamps each frame) -> a relay process (PULL -> PUB, the runtime's place) -> this
process (SUB), measuring device stamp -> reception. Run once as the machine is, once while
holding ``/dev/cpu_dma_latency`` at 0 us (:class:`streams.priority.CpuWakeupLatency`, what
``biosig serve`` does by default), alternating ``--rounds`` times, and print
``baseline | ours | ratio`` rows of the p50 / p99 / p99.9 / max latency. Needs root for the
request; without it both rows measure the same thing and the script says so.

Usage: .venv/bin/python benchmarks/bench_wakeup.py [--seconds 20] [--rounds 2]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

import numpy as np


def _device(port: int, n: int, rate_hz: float):
    import zmq
    s = zmq.Context().socket(zmq.PUSH)
    s.connect(f"tcp://127.0.0.1:{port}")
    time.sleep(0.5)
    t = time.time()
    for _ in range(n):
        t += 1.0 / rate_hz
        time.sleep(max(0.0, t - time.time()))
        s.send(np.float64(time.time()).tobytes())


def _relay(port_in: int, port_out: int, n: int):
    import zmq
    ctx = zmq.Context()
    pull, pub = ctx.socket(zmq.PULL), ctx.socket(zmq.PUB)
    pull.bind(f"tcp://127.0.0.1:{port_in}")
    pub.bind(f"tcp://127.0.0.1:{port_out}")
    for _ in range(n):
        pub.send(pull.recv())


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chain_latency_ms(seconds: float, rate_hz: float = 30.0) -> np.ndarray:
    """Device stamp -> reception, ms, for ``seconds`` of frames through the three processes."""
    import zmq
    n = int(seconds * rate_hz)
    p_in, p_out = _free_port(), _free_port()
    spawn = mp.get_context("spawn")
    relay = spawn.Process(target=_relay, args=(p_in, p_out, n), daemon=True)
    relay.start()
    sub = zmq.Context().socket(zmq.SUB)
    sub.connect(f"tcp://127.0.0.1:{p_out}")
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVTIMEO, 3000)
    time.sleep(0.3)
    dev = spawn.Process(target=_device, args=(p_in, n, rate_hz), daemon=True)
    dev.start()
    lat = []
    try:
        while len(lat) < n:
            m = sub.recv()
            lat.append((time.time() - np.frombuffer(m)[0]) * 1e3)
    except zmq.Again:
        pass
    dev.join(5)
    relay.terminate()
    sub.close(0)
    return np.array(lat)


def _row(name, base, ours):
    return f"{name} | {base:.2f} | {ours:.2f} | {ours / base:.2f}"


def main(argv=None):
    from streams.priority import CpuWakeupLatency
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds of 30 Hz frames per measurement")
    ap.add_argument("--rounds", type=int, default=2, help="alternating baseline / request rounds")
    args = ap.parse_args(argv)
    probe = CpuWakeupLatency(0)
    held = probe.held
    probe.close()
    print(f"(machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; the request "
          f"{'can' if held else 'CANNOT (not root): both columns measure the same'} be held here)")
    base, ours = [], []
    for r in range(args.rounds):
        base.append(chain_latency_ms(args.seconds))
        with CpuWakeupLatency(0):
            ours.append(chain_latency_ms(args.seconds))
        print(f"round {r + 1}: p99 {np.percentile(base[-1], 99):.2f} ms as the machine is, "
              f"{np.percentile(ours[-1], 99):.2f} ms with the request", flush=True)
    b, o = np.concatenate(base), np.concatenate(ours)
    print("## device -> relay -> subscriber, 3 processes, 30 Hz, ms "
          f"({len(b)} / {len(o)} frames)")
    print("latency | as the machine is | wake-up latency 0 us held | ratio")
    for q in (50, 99, 99.9):
        print(_row(f"p{q:g}", np.percentile(b, q), np.percentile(o, q)))
    print(_row("max", b.max(), o.max()))


if __name__ == "__main__":
    main()
