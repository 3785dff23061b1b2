"""Start-up of the runtime: answer ``starting`` while loading, and warm everything up.

:class:`StartingResponder` serves the status socket from a helper thread while the runtime loads
encoders and compiles forecaster kernels, so that ``biosig status`` and subscribers can tell a
runtime that is starting from one that is not there. :func:`warm_up_all` compiles (or loads from
the Numba cache) every forecaster kernel and runs every encoder, its preprocessing, the window
quality and the score measures and heads once, so that the first real frame never pays for a compile or a lazy import.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

from streams import protocol

log = logging.getLogger(__name__)


class StartingResponder:
    """Answers every request on the REP socket ``rep`` with ``status_header()`` (state
    ``starting``) until :meth:`stop`; the socket is handed back to the caller's thread then."""

    def __init__(self, rep, status_header):
        self.rep, self.status_header = rep, status_header
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="biosig-starting", daemon=True)
        self._thread.start()

    def _run(self):
        import zmq
        while not self._stop.is_set():
            if self.rep.poll(50, zmq.POLLIN):
                self.rep.recv_multipart()
                self.rep.send_multipart(protocol.encode("status", self.status_header()))

    def stop(self):
        self._stop.set()
        self._thread.join()


def warm_up_all(cfg, models, scores=None) -> dict:
    """Warm the forecaster kernels and every hosted encoder; seconds per part.

    An encoder that fails its warm-up run is unloaded and reported (its streams get windows with
    quality and an empty embedding, as for a model that cannot be loaded)."""
    from streams.forecast import warm_up
    from streams.ingest import window_quality
    out = {"forecaster_s": warm_up(cfg.forecaster)}
    rng = np.random.default_rng(0)
    from streams.config import stream_windows
    for modality, (window_s, _) in sorted(stream_windows(cfg.windows, models).items()):
        t = time.perf_counter()
        hm = models.get(modality) if models is not None else None
        fs = hm.input_fs_hz if hm is not None else 100.0
        n = max(2, int(round(window_s * fs)))
        try:
            if hm is not None:
                c = hm.in_channels
                pipe = hm.outside.stream(fs, c, tuple(f"c{i}" for i in range(c)))
                pipe.process(rng.normal(size=(c, n)).astype(np.float32))
                x = rng.normal(size=(2, c, n)).astype(np.float32)
                hm.run(x[:1])
                hm.run(x)
                _warm_largest_batch(hm, min(cfg.max_batch, cfg.embed_queue), x)   # (a lane holds embed_queue)
            window_quality(rng.normal(size=(1, n)).astype(np.float32), fs, modality)
            if scores is not None:   # measures and heads of score/ frames (streams/scores.py)
                scores.warm_up(modality, window_s, fs)
        except Exception as exc:
            models.models.pop(modality, None)
            models.errors[modality] = f"{hm.name if hm else modality}: warm-up failed: {exc}"
            log.error("encoder for %s streams failed its warm-up run (%s); serving without it", modality, exc)
        out[f"{modality}_s"] = time.perf_counter() - t
    log.info("warm-up done: %s", ", ".join(f"{k} {v:.2f} s" for k, v in out.items()))
    return out


#: The largest batch :func:`_warm_largest_batch` runs: max_batch 4096 cost 11-12 s and 3.1-3.7 GB more peak memory
#: (ONNX Runtime's arena) per model at start (ecg-tiny, audio-tiny, 2 cores), for batches that come after a long
#: backlog only, whose own first run is 20-30 % slower (64: +20 ms of ~100, 256: +150 ms of ~470) at most.
WARM_BATCH_MAX = 64


def _warm_largest_batch(hm, max_batch: int, x: np.ndarray) -> None:
    """Run ``hm`` once on a batch of ``max_batch`` windows (the largest a lane forms: ``min(max_batch,
    embed_queue)``), at most :data:`WARM_BATCH_MAX`: ONNX Runtime grows its memory arena for each larger batch
    the first time it sees one, and the first real batch after a backlog (a ward reconnecting) paid for it:
    ecg-tiny, batch 10, 21-25 ms the first time vs 11-16 ms later (2 cores); this run costs 60-80 ms of start-up
    per shipped model (max_batch 32). A failure here only warns: batches of 1 and 2 ran, and an engine built for
    smaller batches (``biosig compile --max-batch``) serves every batch its profile holds, as before."""
    max_batch = min(max_batch, WARM_BATCH_MAX)
    if max_batch <= x.shape[0]:
        return
    try:
        hm.run(np.resize(x, (max_batch, *x.shape[1:])))
    except Exception as exc:
        log.warning("%s: a batch of %d windows failed in the warm-up (%s); batches as large "
                    "may fail when they come", hm.name, max_batch, exc)


def check_bindable(endpoints) -> None:
    """Refuse, before the warm-up (tens of seconds with encoders), what ZeroMQ's bind would refuse
    after it: two sockets on one endpoint, and a TCP port another process listens on (probed with a
    plain socket, closed at once). ``endpoints``: ``(name, endpoint)`` pairs. Two TCP endpoints are
    one when they name the same port of the same address, however spelt (``localhost`` and
    ``127.0.0.1``), or the same port and one is ``*`` (all addresses, the other's included): the
    second bind failed after the warm-up, blaming "another runtime". Wildcard ports, in-process
    endpoints and hosts that do not resolve here are left to the bind itself."""
    import socket
    from streams.errors import StreamError
    from streams.security import parse_endpoint
    seen: dict[str, str] = {}
    addrs: list[tuple[str, str, int, tuple]] = []   # (name, endpoint, family, sockaddr) of earlier TCP endpoints
    for name, ep in endpoints:
        scheme, host, port = parse_endpoint(ep)
        if port == "*":
            continue
        if ep in seen:
            raise StreamError(f"endpoints {seen[ep]} and {name} are both {ep}: each socket needs its own")
        seen[ep] = name
        if scheme != "tcp":
            continue
        family = socket.AF_INET6 if ":" in host else socket.AF_INET   # ZeroMQ binds IPv4 unless given IPv6
        try:
            sockaddr = socket.getaddrinfo(None if host == "*" else host, int(port), family, socket.SOCK_STREAM,
                                          flags=socket.AI_PASSIVE)[0][4]
        except (socket.gaierror, UnicodeError):   # an interface name, or no such host: the bind says
            continue
        for other, other_ep, other_family, other_addr in addrs:
            if other_family == family and other_addr[1] == sockaddr[1] and (
                    other_addr[0] == sockaddr[0] or _any_address(other_addr[0]) or _any_address(sockaddr[0])):
                raise StreamError(f"endpoints {other} ({other_ep}) and {name} ({ep}) are both port {port} of "
                                  f"{_any_address(sockaddr[0]) and other_addr[0] or sockaddr[0]}: "
                                  "each socket needs its own")
        addrs.append((name, ep, family, sockaddr))
        if address_in_use(sockaddr, family):
            raise StreamError(f"cannot bind {name} endpoint {ep}: address already in use (another "
                              "runtime running? choose other endpoints)")


def address_in_use(sockaddr, family=None) -> bool:
    """Whether another socket holds TCP ``sockaddr`` (``(host, port)``), so that ZeroMQ's bind of it would fail with
    'address already in use': probed with a plain socket, closed at once, SO_REUSEADDR as ZeroMQ (TIME_WAIT is no
    obstacle). The one probe of :func:`check_bindable` and of the demo's choice of free ports."""
    import errno
    import socket
    with socket.socket(family or socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(sockaddr)
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _any_address(addr: str) -> bool:
    """``0.0.0.0`` or ``::``: what ``tcp://*:P`` binds (every address of the machine)."""
    return addr in ("0.0.0.0", "::")
