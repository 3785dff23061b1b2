"""``biosig dashboard``: a live web page of a runtime, served on loopback.

The dashboard is one more subscriber of the runtime's output socket (``emb/``, ``score/``, ``fcst/``,
``hold/``, ``hb/runtime``, and the ``sig/`` tap of the accepted input frames that
``serve --tap`` / ``serve --dashboard`` turn on); it never reaches into runtime state. A thread
turns frames into short per-series histories (:class:`LiveState`); a stdlib HTTP server serves
the page (``streams/static/``: our HTML/JS and the vendored uPlot, no build step, nothing from a
CDN) and pushes what is new to every open page as server-sent events, at least ``1 / tick_s``
times a second and at once when a hold or forecast state changes.

    dash = Dashboard(output="tcp://127.0.0.1:5556", port=0).start()
    print(dash.url); ...; dash.stop()
"""
from __future__ import annotations

import collections
import http.server
import ipaddress
import itertools
import logging
import math
import pathlib
import socket
import sys
import threading
import time

import numpy as np

from biosig import json_text
from streams.config import DEFAULT_OUTPUT
from streams.errors import StreamError
from streams.scores import score_row, summary_text

log = logging.getLogger(__name__)

STATIC = pathlib.Path(__file__).with_name("static")
STATIC_FILES = {"index.html": "text/html; charset=utf-8", "dashboard.js": "text/javascript; charset=utf-8",
                "dashboard.css": "text/css; charset=utf-8", "uPlot.iife.min.js": "text/javascript; charset=utf-8",
                "uPlot.min.css": "text/css; charset=utf-8", "uPlot.LICENSE": "text/plain; charset=utf-8"}
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8555
TOPICS = ("sig/", "emb/", "score/", "fcst/", "hold/", "hb/")
DISPLAY_HZ = 250.0       # at most this many points per second per waveform (peak-preserving)
HISTORY_S = 12.0         # seconds of history kept per series (the page shows 10)
MAX_HOLD_PERIODS = 100   # per source
MAX_SCORE_ROWS = 2000    # per stream: windows kept for a run's summary (`biosig demo`)
# a stream's score line is stale (shown as no current reading, never as the last HR in green) when
# no score frame came for this many of its usual intervals between score frames, and this long
SCORE_STALE_HOPS = 3.0
SCORE_STALE_MIN_S = 3.0


def check_loopback_host(host: str) -> str:
    """The page has no authentication, so it is served on loopback only."""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise StreamError(f"dashboard host {host!r} is not a loopback address (127.0.0.1, ::1 or localhost): "
                          "the page has no authentication")
    return host


def host_header_is_loopback(value: str) -> bool:
    """Whether an HTTP ``Host`` header names this machine by a loopback address or ``localhost``
    (with or without a port). A name that merely begins with ``127.`` (``127.attacker.example``,
    which DNS rebinding points at 127.0.0.1) is not one: it passed before."""
    host = value.strip()
    if host.startswith("["):                   # [::1] or [::1]:8555
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:                 # name:port or v4:port
        host = host.split(":", 1)[0]
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def decimate(t0_s: float, fs_hz: float, x: np.ndarray, display_hz: float = DISPLAY_HZ):
    """Times and values of one channel at most ``display_hz`` points/s; each kept point is the
    sample of largest magnitude in its bucket (so QRS peaks and audio bursts stay visible)."""
    k = max(1, int(math.ceil(fs_hz / display_hz)))
    n = x.shape[0]
    if k == 1:
        return t0_s + np.arange(n) / fs_hz, x
    starts = np.arange(0, n, k)
    pad = np.zeros(len(starts) * k, dtype=x.dtype)
    pad[:n] = x
    buckets = pad.reshape(-1, k)
    idx = starts + np.abs(buckets).argmax(axis=1)
    idx = np.minimum(idx, n - 1)
    return t0_s + idx / fs_hz, x[idx]


class Series:
    """Last ``HISTORY_S`` seconds of (time, values...) rows with a running count, so a page can
    ask for what is new since its cursor."""

    def __init__(self, columns: int):
        self.rows: collections.deque = collections.deque()
        self.count = 0
        self.columns = columns

    def add(self, t: np.ndarray, v: np.ndarray):
        """``t`` (N,), ``v`` (N, columns). Rows at or after ``t[0]`` are dropped first: a device
        time that went back (a publisher restarted with a new time base, a replay from its start)
        begins the series afresh. The old rows stayed ahead of the new ones: the page drew the new
        trace behind the old and kept both (its pruning measured from the newest row)."""
        while len(t) and self.rows and self.rows[-1][0] >= t[0]:
            self.rows.pop()
        for i in range(len(t)):
            self.rows.append((float(t[i]), *(float(a) for a in v[i])))
        self.count += len(t)
        newest = self.rows[-1][0] if self.rows else 0.0
        while self.rows and (self.rows[0][0] < newest - HISTORY_S or len(self.rows) > 20000):
            self.rows.popleft()

    def since(self, cursor: int) -> list:
        n = min(self.count - cursor, len(self.rows))
        return list(itertools.islice(reversed(self.rows), n))[::-1] if n > 0 else []


class LiveState:
    """What the page shows, built from output frames only (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.series: dict[str, Series] = {}
        self.streams: dict[str, dict] = {}        # input stream -> what the page prints about it
        self.couches: dict[str, dict] = {}        # source -> forecast / hold state
        self.hold_periods: dict[str, list] = collections.defaultdict(list)  # source -> [[t0, t1|None, reason]]
        self.score_rows: dict[str, collections.deque] = {}   # stream -> recent windows' scores (score_row)
        self.last_hb_s: float | None = None
        self.frames = collections.Counter()
        self.version = 0                          # bumped on every forecast/hold state change

    # ---------------------------------------------------------------- frames
    def on_frame(self, frame):
        h, kind = frame.header, frame.kind
        with self.lock:
            self.frames[kind] += 1
            if kind == "heartbeat":
                self.last_hb_s = time.time()
            elif kind == "signal":
                self._on_signal(h, np.asarray(frame.array))
            elif kind == "embedding":
                self._on_embedding(h)
            elif kind == "score":
                self._on_score(h)
            elif kind == "forecast":
                self._on_forecast(frame.topic[len("fcst/"):], h, np.asarray(frame.array))
            elif kind == "hold":
                self._on_hold(frame.topic[len("hold/"):], h)

    def _stream(self, name: str) -> dict:
        return self.streams.setdefault(name, {"source": name.split("/", 1)[0], "modality": None,
                                              "channels": [], "fs_hz": None, "windows": 0})

    def _on_signal(self, h, x):
        s = self._stream(h["stream"])
        s.update(modality=h.get("modality"), channels=list(h.get("channels", [])), fs_hz=h.get("fs_hz"),
                 units=list(h.get("units", [])), last_sample_s=h["t0_s"] + (x.shape[1] - 1) / h["fs_hz"])
        if h.get("modality") == "motion":   # marker positions: every coordinate, at their own rate
            t = h["t0_s"] + np.arange(x.shape[1]) / h["fs_hz"]
            self._series(f"sig/{h['stream']}", x.shape[0]).add(t, x.T)
        else:                               # first channel, peak-preserving decimation
            t, v = decimate(h["t0_s"], h["fs_hz"], x[0])
            self._series(f"sig/{h['stream']}", 1).add(t, v[:, None])

    def _on_embedding(self, h):
        s = self._stream(h["stream"])
        lat = h.get("latency_ms", {}).get("total")
        s["windows"] += 1
        s.update(quality=h.get("quality"), latency_ms=lat, model_id=h.get("model_id", ""),
                 modality=s["modality"] or h.get("modality"), window_end_s=h.get("window_end_s"))
        hist = s.setdefault("_lat", collections.deque(maxlen=100))
        if lat is not None:
            hist.append(lat)
            s["latency_p50_ms"] = float(np.percentile(hist, 50))
            s["latency_p99_ms"] = float(np.percentile(hist, 99))
        self._series(f"q/{h['stream']}", 2).add(np.array([h.get("window_end_s", 0.0)]),
                                                 np.array([[h.get("quality", math.nan), lat or math.nan]]))

    def _on_score(self, h):
        """The window's measures and head outputs as the line `biosig listen` prints, and whether
        they were withheld (low quality, too few beats, ...)."""
        s = self._stream(h["stream"])
        now = time.time()
        if s.get("_score_rx_s") is not None:
            s.setdefault("_score_gaps", collections.deque(maxlen=9)).append(now - s["_score_rx_s"])
        s.update(score=summary_text(h), score_ok=bool(h.get("ok")), score_missing=h.get("missing"),
                 score_window_end_s=h.get("window_end_s"), _score_rx_s=now)
        self.score_rows.setdefault(h["stream"], collections.deque(maxlen=MAX_SCORE_ROWS)).append(score_row(h))

    def _couch(self, source: str) -> dict:
        return self.couches.setdefault(source, {"state": "none", "reason": None})

    def _on_forecast(self, source, h, y):
        c = self._couch(source)
        if c["state"] != "forecast":
            self.version += 1
            self._close_hold(source, h["t_s"])
            self.changed.notify_all()
        c.update(state="forecast", reason=None, stream=h["stream"], method=h.get("method"),
                 horizon_s=h.get("horizon_s"), horizon_steps=h.get("horizon_steps"),
                 channels=list(h.get("channels", [])), t_s=h["t_s"], t_out_s=h.get("t_out_s"),
                 latency_ms=h.get("latency_ms", {}).get("total"))
        self._series(f"fcst/{source}", y.shape[0]).add(np.array([h["target_s"]]), y[None, :])

    def _on_hold(self, source, h):
        c = self._couch(source)
        reason = h.get("reason", "?")
        if c["state"] != "hold" or c["reason"] != reason:
            self.version += 1
            self._close_hold(source, h["t_s"])
            periods = self.hold_periods[source]
            periods.append([h["t_s"], None, reason])
            del periods[:-MAX_HOLD_PERIODS]
            c.update(hold_since_s=h["t_s"], hold_t_out_s=h.get("t_out_s"))
            self.changed.notify_all()
        c.update(state="hold", reason=reason, stream=h["stream"], t_s=h["t_s"])

    def _close_hold(self, source, t_s):
        periods = self.hold_periods.get(source)
        if periods and periods[-1][1] is None:
            periods[-1][1] = max(t_s, periods[-1][0])

    def _series(self, key, columns) -> Series:
        s = self.series.get(key)
        if s is None or s.columns != columns:
            s = self.series[key] = Series(columns)
        return s

    # ---------------------------------------------------------------- page updates
    def update(self, cursors: dict) -> dict:
        """JSON-able update with the rows new since ``cursors`` (updated in place)."""
        with self.lock:
            new = {}
            for key, s in self.series.items():
                rows = s.since(cursors.get(key, 0))
                cursors[key] = s.count
                if rows:
                    new[key] = [list(c) for c in zip(*rows)]  # columns: t, v1, v2, ...
            now = time.time()
            streams = {n: {k: v for k, v in s.items() if not k.startswith("_")} for n, s in self.streams.items()}
            for n, s in self.streams.items():
                if s.get("_score_rx_s") is not None:
                    age = now - s["_score_rx_s"]
                    streams[n].update(score_age_s=age, score_stale=age > score_stale_after_s(s.get("_score_gaps")))
            return {"now_s": now, "hb_age_s": None if self.last_hb_s is None else time.time() - self.last_hb_s,
                    "streams": streams, "couches": {k: dict(v) for k, v in self.couches.items()},
                    "hold_periods": {k: [list(p) for p in v] for k, v in self.hold_periods.items()},
                    "frames": dict(self.frames), "new": new, "version": self.version}

    def wait_change(self, version: int, timeout_s: float) -> None:
        with self.changed:
            if self.version == version:
                self.changed.wait(timeout_s)


def score_stale_after_s(gaps) -> float:
    """Seconds without a score frame after which a stream's last score line is no current reading:
    ``SCORE_STALE_HOPS`` times the median interval between its recent score frames (its hop), at
    least ``SCORE_STALE_MIN_S``. A monitor unplugged, a stream rejected or a runtime gone quiet left
    the last ``HR 95 /min`` on the page, in the colour of a valid reading, for as long as it was open."""
    hop = float(np.median(gaps)) if gaps else 0.0
    return max(SCORE_STALE_MIN_S, SCORE_STALE_HOPS * hop)


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "biosig-dashboard"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # requests are routine; keep the console for the runtime
        log.debug("%s " + fmt, self.address_string(), *args)

    def _host_ok(self) -> bool:
        """Refuse other Host names (DNS rebinding: a web page may not read the live view)."""
        return host_header_is_loopback(self.headers.get("Host") or "")

    def do_GET(self):  # noqa: N802 (http.server API)
        dash: Dashboard = self.server.dashboard
        if not self._host_ok():
            return self._send(403, "text/plain", b"forbidden host\n")
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            path = "/static/index.html"
        if path.startswith("/static/") and path[len("/static/"):] in STATIC_FILES:
            name = path[len("/static/"):]
            return self._send(200, STATIC_FILES[name], (STATIC / name).read_bytes())
        if path == "/state.json":
            body = json_text.dumps(dash.state.update({})).encode()
            return self._send(200, "application/json", body)
        if path == "/events":
            return self._events(dash)
        return self._send(404, "text/plain", b"not found\n")

    def _send(self, code, ctype, body: bytes):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _events(self, dash: "Dashboard"):
        """Server-sent events: an update every ``tick_s`` and at once on a forecast/hold change."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        cursors: dict = {}
        version = -1
        try:
            while not dash.stopping.is_set():
                upd = dash.state.update(cursors)
                version = upd["version"]
                self.wfile.write(b"data: " + json_text.dumps(upd).encode() + b"\n\n")
                self.wfile.flush()
                dash.state.wait_change(version, dash.tick_s)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the page went away


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        """A page that reset or closed its connection is routine: one DEBUG line, not the socketserver
        traceback on stderr; anything else is logged as a warning with its traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)):
            log.debug("dashboard client %s left: %s", client_address, exc)
            return
        log.warning("dashboard request from %s failed", client_address, exc_info=True)


class _Server6(_Server):
    """The page on ``::1`` (check_loopback_host lets it through; the IPv4 server could not bind it)."""
    address_family = socket.AF_INET6


class Dashboard:
    """Subscriber thread + HTTP server. ``port=0`` picks a free port (see :attr:`url`).

    Parameters
    ----------
    output : the runtime's output endpoint; key_dir, client, insecure: as for
        :class:`streams.subscriber.Subscriber`.
    host, port : where the page is served (loopback only).
    tick_s : longest time between two updates of an open page.
    after : an event set when the runtime is ready (``serve --dashboard``): the page is served at
        once, the output is read from then on (no "no frames ... reconnecting" while models load).
    """

    def __init__(self, output: str = DEFAULT_OUTPUT, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 key_dir=None, client: str = "client", insecure: bool = False, tick_s: float = 0.05,
                 after: threading.Event | None = None):
        from streams.subscriber import Subscriber
        if not 0 <= port <= 65535:
            raise StreamError(f"dashboard port must be in 0..65535, got {port}")
        if not 0 < tick_s <= 0.1:
            raise StreamError(f"dashboard tick_s must be in (0, 0.1] (>= 10 updates a second), got {tick_s}")
        check_loopback_host(host)
        self.state = LiveState()
        self.tick_s = tick_s
        self.after = after
        self.stopping = threading.Event()
        self.sub = Subscriber(list(TOPICS), output, key_dir=key_dir, client=client, insecure=insecure)
        try:
            self.httpd = (_Server6 if ":" in host else _Server)((host, port), _Handler)
        except OSError as exc:
            self.sub.close()
            raise StreamError(f"cannot serve the dashboard on {host}:{port}: {exc.strerror or exc}") from None
        self.httpd.dashboard = self
        h, p = self.httpd.server_address[:2]
        self.url = f"http://{'[' + h + ']' if ':' in h else h}:{p}/"
        self._threads: list[threading.Thread] = []

    def start(self) -> "Dashboard":
        for target, name in ((self._listen, "biosig-dashboard-sub"), (self.httpd.serve_forever, "biosig-dashboard-http")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _listen(self):
        if self.after is not None:   # serve --dashboard: the runtime's output exists once it is ready
            while not (self.after.wait(0.1) or self.stopping.is_set()):
                pass
            self.sub.last_rx = time.monotonic()   # not stale for the minutes the models took to load
        while not self.stopping.is_set():
            frame = self.sub.recv(0.1)
            if frame is not None:
                try:
                    self.state.on_frame(frame)
                except Exception as exc:  # a frame we cannot show must not stop the view
                    log.warning("dashboard: could not show a %s frame on %s: %s", frame.kind, frame.topic, exc)

    def stop(self):
        self.stopping.set()
        with self.state.changed:
            self.state.changed.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()
        for t in self._threads:
            t.join(5)
        self.sub.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
