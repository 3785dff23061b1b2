"""The processes of ``biosig demo``: the runtime, the simulated ward and the simulated couches
each run in their own process, as they would in a deployment (``biosig serve`` and every device
are separate programs). In one process they shared one GIL with the demo's subscriber and live
view, and each one's Python work delayed the others' frames.

Every child reports on one queue as ``(name, "ready" | "error", detail)``; device children then
wait for the common device start time on their own ``go`` queue, so the ward and the couches
start their clocks together once the runtime serves.
"""
from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import time

from streams.errors import StreamError

log = logging.getLogger(__name__)


def _child_setup(log_level: int):
    # Ctrl-C reaches the whole process group: the demo process stops its children itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")


def serve_process(cfg, events, stop, log_level: int = logging.WARNING):
    """Child: run :class:`streams.runtime.Runtime` with ``cfg`` until ``stop`` is set."""
    _child_setup(log_level)
    from streams.runtime import Runtime
    try:
        rt = Runtime(cfg).start()
    except Exception as exc:  # reported by the demo as one line; a bug (not a StreamError) with its traceback
        if isinstance(exc, StreamError):   # says "runtime failed to start" (and its traceback was logged for a bug)
            events.put(("runtime", "error", str(exc)))
        else:
            from streams.runtime import BUG_TEXT
            log.exception("the runtime could not be made (%s)", BUG_TEXT)
            events.put(("runtime", "error", f"runtime failed to start: {type(exc).__name__}: {exc} ({BUG_TEXT}; "
                                            "its traceback is logged above)"))
        return
    events.put(("runtime", "ready", rt.ready_after_s))
    try:
        while not stop.wait(0.2):
            if not rt._thread.is_alive():
                log.error("the runtime stopped: %s", rt.error)
                break
    finally:
        rt.stop()


def devices_process(name, beds, couches, endpoint, seconds, events, go, log_level: int = logging.WARNING,
                    rt_priority: int = 0, rt_cpu: int = -1, keys: dict | None = None):
    """Child: the simulated ward (``beds``) or couches (``couches``); sends in real time from the
    device start time it gets on ``go`` for ``seconds``. ``keys``: ``key_dir``/``insecure`` of its publishers
    (:func:`client_security`)."""
    _child_setup(log_level)
    from streams.simulate import make_couches, make_ward, run_sources
    pubs, sources = [], []
    keys = keys or {}
    try:
        if beds:
            pubs, sources = make_ward(beds, endpoint=endpoint, audio_beds=1, **keys)
        if couches:
            cp, cs, _ = make_couches(couches, endpoint=endpoint, seconds=seconds + 5, **keys)
            pubs, sources = pubs + cp, sources + cs
    except Exception as exc:
        events.put((name, "error", f"{type(exc).__name__}: {exc}"))
        raise
    if couches:   # a treatment couch is a dedicated device: real-time priority, as the runtime's loop
        from streams.priority import forecast_cpu, realtime_thread, realtime_zmq_io_threads
        cpu = forecast_cpu(rt_cpu)
        realtime_thread(rt_priority, "biosig-couch", cpu)
        realtime_zmq_io_threads(rt_priority, [p.ctx for p in cp], cpu)   # the couches' own, not the beds'
    # what each bed's streams simulate (rhythm, heart / breathing rate): the demo's summary puts the
    # published scores next to it
    events.put((name, "ready", {s.out.topic: dict(s.truth) for s in sources if s.truth}))
    try:
        t_start = go.get(timeout=900)
        if t_start is not None:
            run_sources(sources, seconds, t_start=t_start)
    finally:
        for p in pubs:
            p.close(linger_s=2.0)


def client_security(cfg, endpoint: str) -> tuple[str, dict]:
    """``(endpoint, keys)`` for one of the demo's own clients (devices, collector, live view, status requests) of the
    runtime endpoint ``endpoint`` of ``cfg``: a wildcard bind (``tcp://*:P``, ``0.0.0.0``, ``[::]``) is connected to on
    this machine's loopback; ``keys`` (``key_dir``, ``insecure``) as ``biosig publish/listen --keys DIR`` gives them:
    the runtime's key folder (CURVE client keys ``client.key_secret`` and ``server.key``) and plain TCP off this
    machine only with ``cfg.insecure`` (not passed on loopback, where it changes nothing: each process said so)."""
    from streams.security import is_loopback, parse_endpoint
    scheme, host, port = parse_endpoint(endpoint)
    if scheme == "tcp" and port != "*" and host in ("*", "0.0.0.0", "::"):
        endpoint = f"tcp://{'[::1]' if host == '::' else '127.0.0.1'}:{port}"
    return endpoint, {"key_dir": cfg.key_dir, "insecure": bool(cfg.insecure and not is_loopback(endpoint))}


def redraws(stream) -> bool:
    """Whether the live table redraws itself in place (ANSI home + clear): on a terminal that says it can (``TERM``
    set and not ``dumb``: Emacs' shell, an IDE's console and ``TERM=dumb`` printed the escapes as ``^[[H^[[J``);
    elsewhere the table is printed, plain, every 15 s."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):   # no stream, or a closed one
        return False
    return tty and os.environ.get("TERM", "") not in ("", "dumb")


def fresh_subfolders(out, names=("recordings", "state")) -> None:
    """Each demo starts afresh: ``recordings/`` and ``state/`` of an earlier run in ``out`` are removed, also a file
    or a link of that name (the runtime's mkdir failed on it with FileExistsError once the encoders had loaded). One
    that cannot be removed is a user error here (it was left silently: the old recordings counted as the new run's,
    or the runtime failed to write there once the encoders had loaded)."""
    import shutil
    for name in names:
        path = out / name
        try:
            if path.is_symlink() or path.exists() and not path.is_dir():
                path.unlink()
            elif path.exists():
                shutil.rmtree(path)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
            raise StreamError(f"--out {out}: cannot remove {path} of an earlier run{where}: "
                              f"{exc.strerror or exc}") from None


def demo_endpoints(given: dict | None = None, defaults=None, command: str = "demo"):
    """``(endpoints, claim)`` of a demo, chosen in one place. ``given``: the endpoints the user named (``{"ingest":
    ...}``; None or absent: not given), kept as given, even where they equal the defaults (their bind says what is
    wrong). The others are the defaults (``streams.config.Endpoints``), except:

    - another demo claims the default set (two ``biosig demo`` started together both found the ports free and the
      second's runtime failed: 'address already in use'): when nothing was given, three free loopback ports, else
      one for each default kept;
    - another process holds a default's port (until 2026-12-07 ``make demo`` failed on a machine where anything
      listened on 5555): a free loopback port for that one;
    - an endpoint given has a default's port (``--ingest tcp://127.0.0.1:5556``): a free loopback port for that default.

    Each move is said on stderr. A demo that keeps a default claims the default set (an abstract Unix socket named
    after them: exclusive, per network namespace as the ports are, gone with the process) before any port is probed,
    also where one of them then moves off a taken port: a second demo then moves all three (it moved only that one
    and bound the first's other two), or, given some, the defaults it would keep. Close ``claim`` (None: nothing
    claimed) once the runtime has stopped."""
    from streams.config import Endpoints
    from streams.startup import address_in_use
    defaults = defaults or Endpoints()
    names = ("ingest", "output", "status")
    given = {n: e for n, e in (given or {}).items() if e is not None}
    wanted = {**dict(zip(names, defaults.all())), **given}
    claim = claimed_elsewhere = None
    if len(given) < len(names):   # a default kept (until 2026-12-07 only where all three were: a demo given one
        claim, claimed_elsewhere = _claim(defaults)   # endpoint kept the two others another demo was about to bind)
        if claimed_elsewhere and not given:
            moved = Endpoints(*(f"tcp://127.0.0.1:{port}" for port in _free_loopback_ports(3)))
            print(f"biosig {command}: another biosig demo is starting on the default endpoints: this one's are "
                  f"{' / '.join(moved.all())}", file=sys.stderr, flush=True)
            return moved, None
    out: dict[str, str] = dict(wanted)
    for name in names:
        if name in given or not out[name].startswith("tcp://127.0.0.1:"):
            continue
        port = int(out[name].rsplit(":", 1)[1])
        # the ports of the other two, given or chosen (until 2026-12-07 this one's own port was taken out of the set,
        # so a default equal to a given one, '--ingest tcp://127.0.0.1:5556', was kept: 'each socket needs its own')
        # ('tcp://*:5556' given too: its bind takes 127.0.0.1's port)
        others = {_tcp_port(e) for n, e in out.items() if n != name} - {None}
        if claimed_elsewhere or port in others or address_in_use(("127.0.0.1", port)):
            why = ("is another biosig demo's (starting on the default endpoints)" if claimed_elsewhere else
                   "is another endpoint of this demo" if port in others else "is taken by another process")
            out[name] = f"tcp://127.0.0.1:{_free_loopback_ports(1, avoid=others)[0]}"
            print(f"biosig {command}: {wanted[name]} {why}: the {name} endpoint is "
                  f"{out[name]} (--{name} to choose one)", file=sys.stderr, flush=True)
    return Endpoints(**out), claim


def _tcp_port(endpoint: str) -> int | None:
    """The port of a ``tcp://host:port`` endpoint; None for another transport or a wildcard port."""
    host, _, port = endpoint.rpartition(":")
    return int(port) if host.startswith("tcp://") and port.isdigit() else None


def _claim(defaults):
    """``(claim socket or None, whether another process holds the claim)``."""
    import errno
    import socket
    claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        claim.bind("\0biosig-demo " + " ".join(defaults.all()))
        return claim, False
    except OSError as exc:
        claim.close()
        return None, exc.errno == errno.EADDRINUSE   # else no abstract namespace (not Linux): nothing claimed


def _free_loopback_ports(n: int, avoid=()) -> list[int]:
    """``n`` distinct free ports of 127.0.0.1 (bound together, so distinct), none in ``avoid``."""
    import socket
    probes: list = []
    try:
        ports: list[int] = []
        while len(ports) < n:
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probes.append(probe)
            probe.bind(("127.0.0.1", 0))
            if probe.getsockname()[1] not in avoid:
                ports.append(probe.getsockname()[1])
        return ports
    finally:
        for probe in probes:
            probe.close()


class DemoProcesses:
    """Starts the runtime and device processes; :meth:`wait_ready` then :meth:`go`."""

    def __init__(self, cfg, beds: int, couches: int, seconds: float):
        import multiprocessing as mp
        self.mp = mp.get_context("spawn")
        self.events = self.mp.Queue()
        self.stop_runtime = self.mp.Event()
        level = logging.getLogger().getEffectiveLevel()
        self.runtime = self.mp.Process(target=serve_process, name="biosig-demo-runtime",
                                       args=(cfg, self.events, self.stop_runtime, level), daemon=True)
        self.devices: dict = {}
        self._go: dict = {}
        ingest, keys = client_security(cfg, cfg.endpoints.ingest)
        for name, b, c in (("ward", beds, 0), ("couches", 0, couches)):
            if b or c:
                self._go[name] = self.mp.Queue()
                self.devices[name] = self.mp.Process(
                    target=devices_process, name=f"biosig-demo-{name}", daemon=True,
                    args=(name, b, c, ingest, seconds, self.events, self._go[name], level,
                          cfg.rt_priority, cfg.rt_cpu, keys))
        self.ready_after_s = float("nan")
        self.truth: dict = {}   # stream -> what the simulator made (streams.simulate.SimSource.truth)
        self.runtime.start()
        for p in self.devices.values():
            p.start()

    def wait_ready(self, timeout_s: float = 900.0):
        """Until the runtime serves and every device has its records; a child's failure raises
        :class:`StreamError` (one line)."""
        waiting = {"runtime", *self.devices}
        deadline = time.monotonic() + timeout_s
        while waiting:
            try:
                name, what, detail = self.events.get(timeout=1.0)
            except queue.Empty:
                dead = [n for n in waiting if not (self.runtime if n == "runtime" else self.devices[n]).is_alive()]
                if dead:
                    raise StreamError(f"the demo's {dead[0]} process exited before it was ready")
                if time.monotonic() > deadline:
                    raise StreamError(f"the demo's {', '.join(sorted(waiting))} did not start "
                                      f"within {timeout_s:g} s")
                continue
            if what == "error":
                raise StreamError(detail if name == "runtime" else f"simulated {name} failed: {detail}")
            if name == "runtime":
                self.ready_after_s = float(detail)
            else:
                self.truth.update(detail or {})
            waiting.discard(name)

    def go(self, delay_s: float = 0.3) -> float:
        """Start every device clock at the same instant (returned, Unix seconds)."""
        t_start = time.time() + delay_s
        for q in self._go.values():
            q.put(t_start)
        return t_start

    def devices_alive(self) -> bool:
        return any(p.is_alive() for p in self.devices.values())

    def join_devices(self, timeout_s: float = 10.0) -> list:
        """Wait for the devices; returns the names of those that failed."""
        failed = []
        for name, p in self.devices.items():
            p.join(timeout_s)
            if p.is_alive():
                p.terminate()
                p.join(2.0)
            if p.exitcode != 0:
                failed.append(f"{name} (exit code {p.exitcode})")
        return failed

    def stop(self, timeout_s: float = 60.0):
        """Stop everything (the runtime closes its recordings before it exits)."""
        for name, q in self._go.items():   # devices still waiting for a start time
            if self.devices[name].is_alive():
                q.put(None)
        for p in self.devices.values():
            p.join(2.0)
            if p.is_alive():
                p.terminate()
        self.stop_runtime.set()
        self.runtime.join(timeout_s)
        if self.runtime.is_alive():
            self.runtime.terminate()
            self.runtime.join(5.0)


def dashboard_process(output, replies, stop, log_level: int = logging.WARNING, keys: dict | None = None):
    """Child: ``biosig dashboard`` for the demo (it decodes every ``sig/`` frame, 16 kHz audio
    included: in the demo's process that Python work delayed the forecasts the demo measures, as a
    live view on the ward's PC would not). Replies ``("url", url | None)`` once, and at the end
    ``("state", {couches, hold_periods, score_rows})`` for the forecast plot and the scores summary. ``keys``:
    its subscriber's ``key_dir``/``insecure`` (:func:`client_security`)."""
    _child_setup(log_level)
    from streams.dashboard import DEFAULT_PORT, Dashboard
    dash = None
    for port in (DEFAULT_PORT, 0):
        try:
            dash = Dashboard(output, port=port, **(keys or {})).start()
            break
        except StreamError as exc:
            log.debug("dashboard on port %d: %s", port, exc)
    replies.put(("url", dash.url if dash is not None else None))
    if dash is None:
        return
    try:
        stop.wait()
    finally:
        with dash.state.lock:
            state = {"couches": {k: dict(v) for k, v in dash.state.couches.items()},
                     "hold_periods": {k: [list(p) for p in v] for k, v in dash.state.hold_periods.items()},
                     "score_rows": {k: list(v) for k, v in dash.state.score_rows.items()}}
        dash.stop()
        replies.put(("state", state))


class LiveSnapshot:
    """What the forecast plot takes from the live view (as :class:`streams.dashboard.LiveState`)."""

    def __init__(self, couches=None, hold_periods=None, score_rows=None):
        import threading
        self.lock = threading.Lock()
        self.couches = couches or {}
        self.hold_periods = hold_periods or {}
        self.score_rows = score_rows or {}


class DashboardProcess:
    """The demo's live view in its own process: :meth:`start` prints its URL (or a warning and
    returns None), :meth:`stop` returns its :class:`LiveSnapshot`. ``keys``: as :func:`dashboard_process`'s."""

    def __init__(self, output: str, keys: dict | None = None):
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        self.replies, self.stop_event = ctx.Queue(), ctx.Event()
        self.proc = ctx.Process(target=dashboard_process, name="biosig-demo-dashboard", daemon=True,
                                args=(output, self.replies, self.stop_event,
                                      logging.getLogger().getEffectiveLevel(), keys))
        self.state = LiveSnapshot()

    def start(self, stream, timeout_s: float = 60.0):
        self.proc.start()
        try:
            kind, url = self.replies.get(timeout=timeout_s)
        except queue.Empty:
            url = None
        if url is None:
            log.warning("the live view could not start; the demo runs without it")
            self.stop()
            return None
        print(f"biosig demo: live view on {url} (open it in a browser while the demo runs)", file=stream, flush=True)
        return self

    def stop(self, timeout_s: float = 10.0) -> LiveSnapshot:
        self.stop_event.set()
        try:
            kind, state = self.replies.get(timeout=timeout_s)
            if kind == "state":
                self.state = LiveSnapshot(**state)
        except queue.Empty:
            pass
        self.proc.join(timeout_s)
        if self.proc.is_alive():
            self.proc.terminate()
        return self.state
