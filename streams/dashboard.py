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

import http.server
import ipaddress
import logging
import pathlib
import socket
import sys
import threading

from biosig import json_text
from streams.config import DEFAULT_OUTPUT
# what the page shows lives in streams.dashboard_state; its names are re-exported here
from streams.dashboard_state import (DISPLAY_HZ, FORGET_S, HISTORY_S, MAX_HOLD_PERIODS,  # noqa: F401
                                     MAX_SCORE_ROWS, SCORE_STALE_HOPS, SCORE_STALE_MIN_S, LiveState, Series,
                                     decimate, score_stale_after_s)
from streams.errors import StreamError

log = logging.getLogger(__name__)

STATIC = pathlib.Path(__file__).with_name("static")
STATIC_FILES = {"index.html": "text/html; charset=utf-8", "dashboard.js": "text/javascript; charset=utf-8",
                "dashboard.css": "text/css; charset=utf-8", "uPlot.iife.min.js": "text/javascript; charset=utf-8",
                "uPlot.min.css": "text/css; charset=utf-8", "uPlot.LICENSE": "text/plain; charset=utf-8"}
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8555


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
            self.wfile.write(b"retry: 1000\n\n")   # a page whose server restarted asks again after 1 s (not 3)
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
    forget_s : a stream or couch not heard from for this long leaves the state and the page
        (:data:`streams.dashboard_state.FORGET_S`).
    """

    def __init__(self, output: str = DEFAULT_OUTPUT, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 key_dir=None, client: str = "client", insecure: bool = False, tick_s: float = 0.05,
                 after: threading.Event | None = None, forget_s: float = FORGET_S):
        from streams.subscriber import OUTPUT_TOPIC_KINDS, Subscriber
        if not 0 <= port <= 65535:
            raise StreamError(f"dashboard port must be in 0..65535, got {port}")
        if not 0 < tick_s <= 0.1:
            raise StreamError(f"dashboard tick_s must be in (0, 0.1] (>= 10 updates a second), got {tick_s}")
        check_loopback_host(host)
        self.state = LiveState(forget_s, endpoint=output)
        self.tick_s = tick_s
        self.after = after
        self.stopping = threading.Event()
        topics = [k for k in OUTPUT_TOPIC_KINDS if k != "status"]   # every output topic but the status body
        self.sub = Subscriber(topics, output, key_dir=key_dir, client=client, insecure=insecure)
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
            self.sub.reset_silence()   # not stale for the minutes the models took to load
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
