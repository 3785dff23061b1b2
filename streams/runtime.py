"""The runtime: ingest -> validation -> windows -> dynamic batches -> encoders -> outputs, and
marker streams -> forecasters (own thread) -> forecasts or holds.

Sockets (defaults in :mod:`streams.config`, all on loopback):

* ``ingest`` PULL (bound): publishers PUSH ``signal`` frames (and ``heartbeat`` frames);
* ``output`` PUB (bound): ``emb/<stream>``, ``fcst/<source>``, ``hold/<source>``,
  ``hb/runtime`` and ``status`` frames, every header carrying the runtime ``epoch``;
* ``status`` REP (bound first): any request gets one ``status`` frame back; while the runtime
  loads (encoders, forecaster kernels) it answers ``{"state": "starting"}``.

Start-up order: endpoints checked (a port in use refuses the start at once, not after the warm-up) ->
recording folder written once (:mod:`streams.recorder`; one that cannot be written refuses the start) ->
status socket -> forecaster configuration checked (one that cannot be built refuses the start) ->
every forecaster kernel compiled and every encoder run once -> ingest and output sockets bound ->
ready. Nothing compiles or loads on the hot path, the recorder's writes included.

Nothing a client sends can stop the loop: every bad frame is rejected and counted per stream
(``_invalid`` when the stream cannot be told). Slow-consumer policy: windows waiting for the
encoder form one bounded queue (``embed_queue``) that drops its oldest window and counts it;
forecasts are made and published by :class:`streams.forecast_worker.ForecastWorker` on this
loop at the frame's receipt, never queued behind windows or encoders (which run in threads of
their own); the loop runs at real-time priority where the OS allows it (:mod:`streams.priority`).

Six modules: this one (start-up, event loop), :mod:`.runtime_sockets` (bind, CURVE monitors, shutdown),
:mod:`.runtime_ingest` (frames in, windows), :mod:`.runtime_slots` (stream slots), :mod:`.runtime_outputs`
(batches, frames out), :mod:`.runtime_status`.
"""
from __future__ import annotations

import collections
import logging
import secrets
import sys
import threading
import time

from streams import protocol
from streams.config import RuntimeConfig, stream_windows
from streams.errors import StreamError
from streams.forecast import build_forecaster
from streams.loop_gc import LoopGC
from streams.metrics import Latency
from streams.registry import StreamRegistry
from streams.runtime_ingest import IngestMixin
from streams.runtime_outputs import Lane, OutputsMixin
from streams.runtime_slots import SlotsMixin
from streams.runtime_sockets import AUTH_WARN_EVERY_S, SocketsMixin  # noqa: F401  (AUTH_WARN_EVERY_S: importable here)
from streams.runtime_status import StatusMixin
from streams.scores import ScoreHost, ScoreWorker
from streams.startup import StartingResponder, check_bindable, warm_up_all
from streams.status_overload import OVERLOAD_WINDOW_S, OverloadWatch

log = logging.getLogger(__name__)

#: The largest status request accepted (``b"status"`` is 6 bytes): a client sending megabytes
#: on the status socket had them copied on the event loop.
STATUS_REQUEST_MAX_BYTES = 64 * 1024

DRAIN_S = 0.02   # longest drain of the ingest socket before windows, results, status and timers run

#: What a start or stop by an error other than :class:`StreamError` (every user mistake is one) says with its
#: traceback: it is a bug of ours.
BUG_TEXT = "a bug in biosig: please report it with the traceback"


def freeze_start_up_heap():
    """Move every object alive after start-up (encoders, torch, ONNX Runtime, neurokit2: millions
    of objects) out of the garbage collector's reach. Without this each full collection scanned
    them all: 280-370 ms measured in `biosig demo`, during which every thread of the process
    stood still (a 200 ms forecast latency spike). Later objects are collected as usual. (No
    collection first: it would cost the same ~0.3 s at every start, for little memory.)"""
    import gc
    gc.freeze()


class Runtime(IngestMixin, SlotsMixin, OutputsMixin, StatusMixin, SocketsMixin):
    """Run with :meth:`run` (blocking) or :meth:`start` (a thread); stop with :meth:`stop`.

    Parameters
    ----------
    config : :class:`streams.config.RuntimeConfig`.
    on_ready : called (with the runtime) once, when every socket is bound and everything warm.
    overload_window_s : the span of the overload signal (:mod:`streams.status_overload`).
    """

    def __init__(self, config: RuntimeConfig | None = None, on_ready=None,
                 overload_window_s: float = OVERLOAD_WINDOW_S):
        self.config = config or RuntimeConfig()
        cfg = self.config
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        self.on_ready = on_ready
        self.state = "starting"
        self.epoch = secrets.randbits(62)     # runtime session id: a new one on every start
        self.registry = StreamRegistry(cfg.max_streams, cfg.max_streams_per_source, cfg.reserved_sources,
                                       cfg.idle_expire_s, cfg.rate_window_s)
        self._source_budgets: dict = {}           # source -> IngestBudget its streams share (runtime_ingest)
        self.slot_evictions = collections.Counter()   # reason -> streams evicted for a new one (runtime_slots)
        self._slot_victims: list = []             # eviction candidates of the last scan, best first ...
        self._slot_scan_s = self._evict_told_s = -1e9   # ... its time.monotonic(), and an eviction's last log
        self.invalid = collections.Counter()      # frames no stream could be told for
        self.invalid_last = ""                    # "<reason>: <what was wrong>" of the newest of them
        self._reject_told: dict = {}              # (stream, reason) -> time.time() last logged
        self.auth_failures = collections.Counter()  # socket -> CURVE handshakes refused
        self._auth_warned_s: dict = {}               # (socket, reason) -> time.monotonic() last logged
        self.out_seq = collections.Counter()
        self._send_lock = threading.Lock()        # the PUB socket and recorder are shared by threads
        self.lanes: dict[str, Lane] = {}          # encoder worker lanes: windows waiting + worker
        self._deferred: list = []                 # windowing work of the current ingest drain
        self.batch_sizes = Latency(5000)
        self.started_s = time.time()
        self.ready_after_s = float("nan")
        self.warm: dict = {}
        self.error: BaseException | None = None
        self.recorder = None
        self.models = None
        self.windows = stream_windows(self.config.windows, None)   # then the models' own, see run()
        self.forecast_worker = None
        self.priority = "normal"                  # of the event loop (the forecast path), see run()
        self.wakeup = None                        # the CPU wake-up latency request, see run()
        self.loop_gc = None                       # garbage collection at the loop's safe points
        self.score_worker = None
        self._refused_hold: collections.OrderedDict = collections.OrderedDict()
        self._conflict_told: dict[str, float] = {}   # stream -> when its session conflict was last logged
        self.bound = None        # Endpoints actually bound (resolves ``tcp://127.0.0.1:*``)
        self.overload = OverloadWatch(overload_window_s)   # status["overload"]
        self.scores = ScoreHost(smooth_windows=self.config.score_smooth_windows,
                                prevalence=self.config.af_prevalence)  # score/ frames

    @property
    def streams(self):
        return self.registry.streams

    @property
    def stats(self):
        return self.registry.stats

    @property
    def forecasters(self):
        return self.forecast_worker.forecasters if self.forecast_worker else {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Runtime":
        """Run in a background thread; returns once the sockets are bound and everything warm."""
        self._thread = threading.Thread(target=self._run_safely, name="biosig-runtime", daemon=True)
        self._thread.start()
        while not self.ready.wait(0.05):
            if not self._thread.is_alive():
                raise StreamError(f"runtime failed to start: {self.error}" if isinstance(self.error, StreamError)
                                  else f"runtime failed to start: {type(self.error).__name__}: {self.error} "
                                  f"({BUG_TEXT}; its traceback is logged above)")
        return self

    def _run_safely(self):
        try:
            self.run()
        except BaseException as exc:  # reported by start()/join()
            self.error = exc
            if not isinstance(exc, StreamError):   # a user's mistake is a StreamError: one line, no traceback
                log.exception("the runtime stopped by an unexpected error (%s)", BUG_TEXT)

    def stop(self, timeout_s: float = 30.0):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run(self, seconds: float | None = None):
        """Serve until :meth:`stop` (or for ``seconds``); closes everything on exit."""
        import zmq
        from streams.config import Endpoints
        from streams.forecast_worker import ForecastWorker, declared_units
        from streams.models import EncoderWorker, ModelHost
        from streams.priority import (CpuWakeupLatency, forecast_cpu, realtime_thread, realtime_zmq_io_threads,
                                      tagged_zmq_context)
        from streams.security import ServerSecurity, check_plain_allowed
        cfg = self.config
        build_forecaster(cfg.forecaster, 3, 30.0)   # refuse to start on a forecaster that cannot be built
        check_bindable(zip(("ingest", "output", "status"), cfg.endpoints.all()))   # not after the warm-up
        # hand the GIL over every 0.5 ms (Python's default is 5 ms), so the forecast thread never
        # waits long behind the event loop's or the collector's Python code
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
        ctx = tagged_zmq_context()   # its I/O threads found by name below
        security = None
        socks, monitors = [], []
        try:
            if cfg.record_dir:   # a folder that cannot be written refuses the start, before the warm-up
                from streams.recorder import Recorder
                self.recorder = Recorder(cfg.record_dir, cfg.rotate_s, cfg.record_keep_s)
            if cfg.key_dir:
                security = ServerSecurity(ctx, cfg.key_dir)
            else:
                check_plain_allowed(cfg.endpoints.all(), cfg.insecure)
            # a status request is one short word: a larger one is dropped at its header, never read
            self.rep = self._bind(ctx, zmq.REP, cfg.endpoints.status, security, socks,
                                  ((zmq.MAXMSGSIZE, STATUS_REQUEST_MAX_BYTES),), monitors, "status")
            starting = StartingResponder(self.rep, self._status_header)
            try:
                self.models = ModelHost(cfg.models, cfg.backend, cfg.device, cfg.precision)
                if cfg.warm_up:
                    self.warm = warm_up_all(cfg, self.models, self.scores)
                self.windows = stream_windows(cfg.windows, self.models)
            finally:
                starting.stop()
            self.ingest = self._bind(ctx, zmq.PULL, cfg.endpoints.ingest, security, socks,
                                     ((zmq.RCVHWM, 100_000), (zmq.MAXMSGSIZE, protocol.INGEST_MAX_BYTES)), monitors, "ingest")
            self.pub = self._bind(ctx, zmq.PUB, cfg.endpoints.output, security, socks, ((zmq.SNDHWM, cfg.out_hwm),),
                                  monitors, "output")
            self.bound = Endpoints(*(sk.getsockopt_string(zmq.LAST_ENDPOINT)
                                     for sk in (self.ingest, self.pub, self.rep)))
            wake_addr = f"inproc://biosig-wake-{id(self)}"
            wake = ctx.socket(zmq.PULL)
            wake.bind(wake_addr)
            socks.append(wake)
            poke = ctx.socket(zmq.PUSH)
            poke.connect(wake_addr)
            poke.setsockopt(zmq.SNDHWM, 0)
            socks.append(poke)
            poke_lock = threading.Lock()

            def notify():
                with poke_lock:
                    poke.send(b"", zmq.NOBLOCK)

            for name in ("main", *sorted(set(cfg.own_worker_modalities))):
                self.lanes[name] = Lane(name, EncoderWorker(notify))
            self.score_worker = ScoreWorker(self.scores, self._send, cfg.embed_queue)
            self.forecast_worker = ForecastWorker(cfg.forecaster, self._send, cfg.state_dir,
                                                  cfg.checkpoint_every_s, units_of=declared_units(self))
            # this thread runs the forecast path (frames in, forecasts out): real-time priority
            # where allowed, for it and for ZeroMQ's I/O threads (streams.priority)
            cpu = forecast_cpu(cfg.rt_cpu)
            self.priority = realtime_thread(cfg.rt_priority, "biosig-loop", cpu)
            n_io = realtime_zmq_io_threads(cfg.rt_priority, [ctx], cpu)
            log.info("forecast path priority: %s (event loop and %d ZeroMQ I/O thread(s))", self.priority, n_io)
            self.wakeup = CpuWakeupLatency(cfg.cpu_wakeup_latency_us)
            log.info("CPU wake-up latency request: %s", self.wakeup.state)
            freeze_start_up_heap()
            self._loop(zmq, wake, monitors, seconds)
        finally:
            self._shutdown(socks, monitors, security, ctx)

    # ------------------------------------------------------------------ event loop
    def _loop(self, zmq, wake, monitors, seconds):
        poller = zmq.Poller()
        for s in (self.ingest, self.rep, wake) + tuple(m for _, _, m in monitors):
            poller.register(s, zmq.POLLIN)
        deadline = None if seconds is None else time.monotonic() + seconds
        self.state = "serving"
        self.ready_after_s = time.time() - self.started_s
        self.ready.set()
        log.info("runtime serving after %.1f s: ingest %s, output %s, status %s", self.ready_after_s,
                 *self.bound.all())
        if self.on_ready is not None:
            self.on_ready(self)
        with LoopGC() as self.loop_gc:
            self._iterate(zmq, poller, wake, monitors, deadline)

    def _iterate(self, zmq, poller, wake, monitors, deadline):
        next_status = next_expire = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            events = dict(poller.poll(timeout=self._poll_timeout_ms()))
            if self.ingest in events:
                drain_end = time.monotonic() + DRAIN_S
                for _ in range(1000):  # drain, but let timers, results and status run regularly
                    if time.monotonic() > drain_end:   # a flood of costly frames: status waited 40+ s
                        break
                    try:
                        parts = self.ingest.recv_multipart(zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        break
                    self._on_ingest(parts)
            if self._deferred:   # windows after the drain (marker frames never wait behind them), or
                self._run_deferred()   # what a large frame left of them last turn
            if wake in events:
                while True:
                    try:
                        wake.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
            for lane in self.lanes.values():
                for job, emb, err, ms in lane.worker.poll_results():
                    self._publish_embeddings(job, emb, err, ms)
                self._maybe_submit(lane)
            self.overload.observe(time.monotonic(), self._queue_lengths(), self._drops)
            if self.rep in events:
                self.rep.recv_multipart()
                self.rep.send_multipart(protocol.encode("status", self._status_header()))
            for name, _, mon in monitors:
                if mon in events:
                    self._on_monitor(name, mon)
            now = time.monotonic()
            if now >= next_status:
                next_status = now + self.config.status_every_s
                self._heartbeat()
                self._send("status", self._status_header(), record=False)
            if now >= next_expire:
                next_expire = now + min(1.0, self.config.idle_expire_s / 4)
                for name in self.registry.expire(time.time()):
                    self._forget_forecaster(name)
            if self.forecast_worker is not None:
                self.forecast_worker.tick()
            if self.recorder is not None:
                with self._send_lock:
                    self.recorder.maybe_rotate()
            self.loop_gc.maybe_collect()   # after this iteration's frames are answered

    def _poll_timeout_ms(self) -> int:
        if self._deferred:   # a large frame's windows are still being cut (IngestMixin._run_deferred)
            return 0
        out = 50
        for lane in self.lanes.values():
            if len(lane) and lane.worker.idle:
                age = time.monotonic() - lane.oldest_enqueued()
                out = min(out, max(0, int((self.config.max_delay_s - age) * 1000) + 1))
        return out

