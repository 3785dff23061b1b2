"""The runtime: ingest -> validation -> windows -> dynamic batches -> encoders -> outputs, and
marker streams -> forecasters (own thread) -> forecasts or holds.

Sockets (defaults in :mod:`streams.config`, all on loopback):

* ``ingest`` PULL (bound): publishers PUSH ``signal`` frames (and ``heartbeat`` frames);
* ``output`` PUB (bound): ``emb/<stream>``, ``fcst/<source>``, ``hold/<source>``,
  ``hb/runtime`` and ``status`` frames, every header carrying the runtime ``epoch``;
* ``status`` REP (bound first): any request gets one ``status`` frame back; while the runtime
  loads (encoders, forecaster kernels) it answers ``{"state": "starting"}``.

Start-up order: status socket -> forecaster configuration checked (a forecaster that cannot be
built refuses the start) -> every forecaster kernel compiled and every encoder run once ->
ingest and output sockets bound -> ready. Nothing compiles or loads on the hot path.

Nothing a client sends can stop the loop: every bad frame is rejected and counted per stream
(``_invalid`` when the stream cannot be told). Slow-consumer policy: windows waiting for the
encoder form one bounded queue (``embed_queue``) that drops its oldest window and counts it;
forecasts are made and published by :class:`streams.forecast_worker.ForecastWorker` in its own
thread, never queued behind windows or encoders.
"""
from __future__ import annotations

import collections
import logging
import secrets
import sys
import threading
import time

import numpy as np

from streams import protocol
from streams.config import RuntimeConfig
from streams.errors import ProtocolError, StreamError
from streams.forecast import build_forecaster, source_of
from streams.ingest import InputStream
from streams.metrics import Latency
from streams.registry import StreamRegistry
from streams.scores import ScoreHost
from streams.startup import StartingResponder, warm_up_all

log = logging.getLogger(__name__)


class Lane:
    """Windows waiting for one encoder worker (bounded by ``embed_queue``, oldest dropped)."""

    def __init__(self, name: str, worker):
        self.name, self.worker = name, worker
        self.pending: collections.deque = collections.deque()


class Runtime:
    """Run with :meth:`run` (blocking) or :meth:`start` (a thread); stop with :meth:`stop`.

    Parameters
    ----------
    config : :class:`streams.config.RuntimeConfig`.
    on_ready : called (with the runtime) once, when every socket is bound and everything warm.
    """

    def __init__(self, config: RuntimeConfig | None = None, on_ready=None):
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
        self.invalid = collections.Counter()      # frames no stream could be told for
        self.auth_failures = collections.Counter()  # socket -> CURVE handshakes refused
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
        self.forecast_worker = None
        self._refused_hold: collections.OrderedDict = collections.OrderedDict()
        self.bound = None        # Endpoints actually bound (resolves ``tcp://127.0.0.1:*``)
        self.scores = ScoreHost(smooth_windows=self.config.score_smooth_windows)  # score/ frames

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
                raise StreamError(f"runtime failed to start: {self.error}")
        return self

    def _run_safely(self):
        try:
            self.run()
        except BaseException as exc:  # reported by start()/join()
            self.error = exc
            if not isinstance(exc, StreamError):
                log.exception("runtime stopped by an error")

    def stop(self, timeout_s: float = 30.0):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run(self, seconds: float | None = None):
        """Serve until :meth:`stop` (or for ``seconds``); closes everything on exit."""
        import zmq
        from streams.config import Endpoints
        from streams.forecast_worker import ForecastWorker
        from streams.models import EncoderWorker, ModelHost
        from streams.security import ServerSecurity, check_plain_allowed
        cfg = self.config
        build_forecaster(cfg.forecaster, 3, 30.0)   # refuse to start on a forecaster that cannot be built
        # hand the GIL over every 0.5 ms (Python's default is 5 ms), so the forecast thread never
        # waits long behind the event loop's or the collector's Python code
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
        ctx = zmq.Context()
        security = None
        socks, monitors = [], []
        try:
            if cfg.key_dir:
                security = ServerSecurity(ctx, cfg.key_dir)
            else:
                check_plain_allowed(cfg.endpoints.all(), cfg.insecure)
            self.rep = self._bind(ctx, zmq.REP, cfg.endpoints.status, security, socks)
            starting = StartingResponder(self.rep, self._status_header)
            try:
                self.models = ModelHost(cfg.models, cfg.backend, cfg.device, cfg.precision)
                if cfg.warm_up:
                    self.warm = warm_up_all(cfg, self.models, self.scores)
            finally:
                starting.stop()
            self.ingest = self._bind(ctx, zmq.PULL, cfg.endpoints.ingest, security, socks)
            self.ingest.setsockopt(zmq.RCVHWM, 100_000)
            self.ingest.setsockopt(zmq.MAXMSGSIZE, 256 * 1024 * 1024)
            self.pub = self._bind(ctx, zmq.PUB, cfg.endpoints.output, security, socks)
            self.pub.setsockopt(zmq.SNDHWM, cfg.out_hwm)
            self.bound = Endpoints(*(sk.getsockopt_string(zmq.LAST_ENDPOINT)
                                     for sk in (self.ingest, self.pub, self.rep)))
            if security is not None:   # refused CURVE handshakes are counted on every socket
                for name, sk in (("ingest", self.ingest), ("output", self.pub), ("status", self.rep)):
                    mon = sk.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
                    mon.setsockopt(zmq.LINGER, 0)
                    monitors.append((name, sk, mon))
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
            self.forecast_worker = ForecastWorker(cfg.forecaster, self._send, cfg.state_dir,
                                                  cfg.checkpoint_every_s)
            if cfg.record_dir:
                from streams.recorder import Recorder
                self.recorder = Recorder(cfg.record_dir, cfg.rotate_s)
            self._loop(zmq, wake, monitors, seconds)
        finally:
            self._shutdown(socks, monitors, security, ctx)

    def _bind(self, ctx, kind, endpoint, security, socks):
        import zmq
        sock = ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        socks.append(sock)
        if security is not None:
            security.secure(sock)
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as exc:
            raise StreamError(f"cannot bind {endpoint}: {exc} (another runtime running? choose "
                              "other endpoints)") from None
        return sock

    def _shutdown(self, socks, monitors, security, ctx):
        self.state = "stopping"
        if self.forecast_worker is not None:
            self.forecast_worker.stop()
        for lane in self.lanes.values():
            lane.worker.stop()
            for job, emb, err, ms in lane.worker.poll_results():
                self._publish_embeddings(job, emb, err, ms)
        if self.recorder is not None:
            self.recorder.close()
        for _, sk, mon in monitors:
            try:
                sk.disable_monitor()
            except Exception:  # the monitor may never have started
                pass
            mon.close(linger=0)
        for s in socks:
            s.close(linger=0)
        if security is not None:
            security.stop()
        ctx.term()
        log.info("runtime stopped")

    # ------------------------------------------------------------------ event loop
    def _loop(self, zmq, wake, monitors, seconds):
        poller = zmq.Poller()
        for s in (self.ingest, self.rep, wake) + tuple(m for _, _, m in monitors):
            poller.register(s, zmq.POLLIN)
        deadline = None if seconds is None else time.monotonic() + seconds
        next_status = next_expire = time.monotonic()
        self.state = "serving"
        self.ready_after_s = time.time() - self.started_s
        self.ready.set()
        log.info("runtime serving after %.1f s: ingest %s, output %s, status %s", self.ready_after_s,
                 *self.bound.all())
        if self.on_ready is not None:
            self.on_ready(self)
        while not self._stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            events = dict(poller.poll(timeout=self._poll_timeout_ms()))
            if self.ingest in events:
                for _ in range(1000):  # drain, but let timers and results run regularly
                    try:
                        parts = self.ingest.recv_multipart(zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        break
                    self._on_ingest(parts)
                self._run_deferred()   # windows after the drain: marker frames never wait behind them
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
                    sf = self.forecasters.get(source_of(name))
                    if sf is not None and sf.stream == name:
                        self.forecast_worker.forget(source_of(name))
            if self.recorder is not None:
                with self._send_lock:
                    self.recorder.maybe_rotate()

    def _poll_timeout_ms(self) -> int:
        out = 50
        for lane in self.lanes.values():
            if lane.pending and lane.worker.idle:
                age = time.monotonic() - lane.pending[0][-1]
                out = min(out, max(0, int((self.config.max_delay_s - age) * 1000) + 1))
        return out

    def _on_monitor(self, name, monitor):
        from zmq.utils.monitor import recv_monitor_message
        import zmq
        while True:
            try:
                recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            self.auth_failures[name] += 1
            log.warning("a client failed CURVE authentication on the %s socket (%d so far)", name,
                        sum(self.auth_failures.values()))

    # ------------------------------------------------------------------ ingest
    def _reject(self, stream: str, reason: str, detail: str = ""):
        target = self.registry.stats_for_reject(stream)
        if target is None:
            self.invalid[reason] += 1
        else:
            target.rejected[reason] += 1
            target.last_rejected = time.time()
        log.debug("rejected a frame of %s: %s %s", stream or "?", reason, detail)

    def _on_ingest(self, parts):
        try:
            self._ingest(parts)
        except Exception as exc:  # valid frames the stream's pipeline cannot take: never fatal
            stream = ""
            try:
                stream = bytes(parts[0].buffer if hasattr(parts[0], "buffer") else parts[0]).decode()
            except Exception:
                pass
            try:
                self._reject(stream, "unsupported", str(exc))
            except Exception:  # e.g. a topic that is no stream name: count it globally
                self.invalid["unsupported"] += 1
            log.warning("frame of %r not processed: %s: %s", stream[:80], type(exc).__name__, exc)

    def _ingest(self, parts):
        recv_s = time.time()
        try:
            frame = protocol.decode(parts)
        except ProtocolError as exc:
            self._reject(exc.stream, exc.reason, str(exc))
            return
        h, x = frame.header, frame.array
        if frame.kind == "heartbeat":
            return
        if frame.kind != "signal" or frame.topic.startswith("sig/"):
            self._reject(h["stream"] if frame.kind == "signal" else frame.topic, "schema",
                         f"{frame.kind} frames on {frame.topic[:80]!r} are outputs, not inputs")
            return
        name = h["stream"]
        st = self.streams.get(name)
        if st is None or st.session != h["session"]:
            if st is None:
                why = self.registry.admit(name)
                if why:
                    self._refuse(name, h, why)
                    return
            st = self._open_stream(h, st)
        else:
            why = st.consistent(h)
            if why:
                self._reject(name, "inconsistent", why)
                return
        t0 = float(h["t0_s"])
        verdict = st.sequence(h["seq"], t0)
        if verdict in ("duplicate", "late"):
            setattr(st.stats, "duplicates" if verdict == "duplicate" else "late",
                    getattr(st.stats, "duplicates" if verdict == "duplicate" else "late") + 1)
            return
        x = x.astype(np.float32, copy=False)
        n = x.shape[1]
        t_last = t0 + (n - 1) / st.fs_hz
        st.last_t_s = t_last
        stats = st.stats
        stats.accept(recv_s, n)
        stats.ingest_ms.add((recv_s - t_last) * 1e3)
        if self.config.tap_signals:
            self._tap(h, x)
        if st.modality == "motion":
            self._forecast(st, t0, x, recv_s)
            if self.recorder is not None:
                with self._send_lock:
                    self.recorder.add_input(h, x, recv_s)
            return
        if self.recorder is not None:
            with self._send_lock:
                self.recorder.add_input(h, x, recv_s)
        self._deferred.append((st, x, t0, t_last, verdict in ("gap", "restart")))

    def _run_deferred(self):
        work, self._deferred = self._deferred, []
        for st, x, t0, t_last, reset in work:
            try:
                if reset:
                    st.reset_windows()
                self._windows(st, x, t0, t_last)
            except Exception as exc:  # a frame the stream's pipeline cannot take: never fatal
                self._reject(st.name, "unsupported", str(exc))
                log.warning("frame of %r not processed: %s: %s", st.name, type(exc).__name__, exc)

    def _lane(self, st):
        return self.lanes.get(st.modality) or self.lanes["main"]

    def _windows(self, st, x, t0, t_last):
        """Cut windows and queue them for the encoder worker (the one place windows enter the
        embedding path; :meth:`_publish_window` is the one place their frames leave)."""
        pending = self._lane(st).pending
        for win, t_start, t_end in st.windows(x, t0):
            st.stats.windows += 1   # quality and embedding are computed by the worker thread
            if len(pending) >= self.config.embed_queue:
                dropped = pending.popleft()
                dropped[0].stats.dropped += 1
            pending.append((st, win, t_start, t_end, t_last, time.monotonic()))

    def _refuse(self, name: str, h: dict, why: str):
        """No slot for a new stream: counted, and a marker stream's source is told by a hold."""
        self.invalid[why] += 1
        if h["modality"] != "motion":
            return
        src, now = source_of(name), time.time()
        last = self._refused_hold.get(src)
        if last is not None and now - last < 1.0:   # at most one such hold per source per second
            return
        self._refused_hold[src] = now
        self._refused_hold.move_to_end(src)
        while len(self._refused_hold) > 4096:
            self._refused_hold.popitem(last=False)
        t_s = float(h["t0_s"]) + (h["shape"][1] - 1) / float(h["fs_hz"])
        self.forecast_worker.publish_hold(src, name, t_s, "unavailable", f"no stream slot ({why})")

    def _open_stream(self, h: dict, old: InputStream | None) -> InputStream:
        stats = self.stats.get(h["stream"]) or self.registry.new_stats(h["stream"])
        if old is not None:
            stats.restarts += 1
            log.info("%s: new publisher session %d (was %d)", h["stream"], h["session"], old.session)
        window = None if h["modality"] == "motion" else self.config.windows.get(h["modality"], (10.0, 1.0))
        model = self.models.get(h["modality"]) if window else None
        st = InputStream(h, window, model, stats)
        self.registry.add(st)
        return st

    # ------------------------------------------------------------------ forecasts
    def _forecast(self, st: InputStream, t0: float, x: np.ndarray, recv_s: float):
        fw = self.forecast_worker
        if fw.alive:
            fw.submit(st.stats, st.name, st.channels, st.fs_hz, t0, x, recv_s)
        else:  # the forecast thread is gone: every marker frame is answered by a hold
            st.stats.holds += 1
            fw.publish_hold(source_of(st.name), st.name, t0 + (x.shape[1] - 1) / st.fs_hz, "unavailable",
                            "the forecast worker stopped")

    # ------------------------------------------------------------------ batching and outputs
    def _maybe_submit(self, lane):
        from streams.models import Job
        if not lane.pending or not lane.worker.idle:
            return
        age = time.monotonic() - lane.pending[0][-1]
        if len(lane.pending) < self.config.max_batch and age < self.config.max_delay_s:
            return
        first = lane.pending[0]
        items, keep = [], collections.deque()
        for item in lane.pending:  # same model and window shape as the oldest, oldest first
            if len(items) < self.config.max_batch and item[0].model is first[0].model \
                    and item[1].shape == first[1].shape:
                items.append(item)
            else:
                keep.append(item)
        lane.pending = keep
        self.batch_sizes.add(len(items))
        x = np.stack([it[1] for it in items])
        lane.worker.submit(Job(first[0].model, x, items, time.monotonic()))

    def _publish_embeddings(self, job, emb, err, model_ms):
        now_m = time.monotonic()
        for i, (st, win, t_start, t_end, t_last, t_enq) in enumerate(job.items):
            if err is not None:
                st.stats.rejected["encoder"] += 1
                continue
            lat = {"queue": (job.t_submit - t_enq) * 1e3}
            if job.model is not None:
                lat.update(model=model_ms, wait=(now_m - job.t_submit) * 1e3 - model_ms)
            self._publish_window(st, win, t_start, t_end, t_last, job.quality[i],
                                 None if emb is None else emb[i],
                                 lat, "" if job.model is None else job.model.model_id)

    def _publish_window(self, st, win, t_start, t_end, t_last, q, emb, lat, model_id=""):
        """Publish one window's embedding frame (the single place; hooks on windows go here)."""
        t_out = time.time()
        total = (t_out - t_last) * 1e3
        st.stats.outputs += 1
        st.stats.output_ms.add(total)
        header = {"kind": "embedding", "stream": st.name, "model_id": model_id,
                  "window_start_s": t_start, "window_end_s": t_end, "quality": float(q),
                  "latency_ms": {**lat, "total": total}, "t_out_s": t_out,
                  "modality": st.modality, "channels": list(st.channels[:win.shape[0]])}
        vec = np.zeros(0, np.float32) if emb is None else np.asarray(emb, np.float32)
        self._send(f"emb/{st.name}", header, vec)
        self.scores.publish(self, st, win, t_start, t_end, q)

    def _tap(self, h: dict, x: np.ndarray):
        """An accepted input frame again on the output socket as ``sig/<stream>`` (for the dashboard)."""
        keys = ("stream", "session", "t0_s", "fs_hz", "channels", "units", "modality")
        self._send(f"sig/{h['stream']}", {"kind": "signal", **{k: h[k] for k in keys}}, x, record=False)

    def _send(self, topic: str, header: dict, array=None, record: bool = True):
        """Publish one output frame; safe from any thread (the forecast worker sends too)."""
        import zmq
        with self._send_lock:
            header = dict(header, seq=self.out_seq[topic], epoch=self.epoch)
            self.out_seq[topic] += 1
            try:
                self.pub.send_multipart(protocol.encode(topic, header, array), zmq.NOBLOCK, copy=False)
            except zmq.Again:  # PUB drops for slow subscribers itself; counted here if ever raised
                self.invalid["output_dropped"] += 1
            if record and self.recorder is not None:
                self.recorder.add_output(topic, header, array, time.time())

    def _heartbeat(self):
        """``hb/runtime`` with the last sequence number of every output topic, so that a
        subscriber can see frames lost at the end of a topic."""
        import zmq
        with self._send_lock:
            last = {t: n - 1 for t, n in self.out_seq.items() if t not in ("hb/runtime", "status")}
            header = {"kind": "heartbeat", "stream": "runtime", "t_s": time.time(), "last_seq": last,
                      "seq": self.out_seq["hb/runtime"], "epoch": self.epoch}
            self.out_seq["hb/runtime"] += 1
            try:
                self.pub.send_multipart(protocol.encode("hb/runtime", header), zmq.NOBLOCK)
            except zmq.Again:
                self.invalid["output_dropped"] += 1

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        now = time.time()
        base = {"state": self.state, "epoch": self.epoch, "uptime_s": now - self.started_s}
        if self.state == "starting":
            return {**base, "streams": {}, "totals": {}, "invalid": {}, "auth_failures": 0, "forecasters": {},
                    "models": {}, "queue": {"pending_windows": 0, "max": self.config.embed_queue, "batches": 0}}
        streams = {name: s.snapshot(now) for name, s in sorted(list(self.stats.items()))}
        totals = collections.Counter()
        for s in streams.values():
            for key in ("frames", "samples", "gaps", "missing", "duplicates", "late", "windows",
                        "outputs", "forecasts", "holds", "dropped", "rejected_total", "restarts"):
                totals[key] += s[key]
        totals["invalid"] = sum(self.invalid.values())
        lanes = list(self.lanes.values())
        reg = self.registry
        return {
            **base, "ready_after_s": self.ready_after_s, "warm_up": self.warm,
            "streams": streams, "totals": dict(totals),
            "invalid": dict(self.invalid), "auth_failures": sum(self.auth_failures.values()),
            "auth_failures_by_socket": dict(self.auth_failures),
            "slots": {"general": reg.general, "max": reg.max_streams, "per_source_max": reg.per_source,
                      "reserved_sources": sorted(reg.reserved), "expired": reg.expired,
                      "idle_expire_s": reg.idle_expire_s},
            "queue": {"pending_windows": sum(len(ln.pending) for ln in lanes), "max": self.config.embed_queue,
                      "encoder_busy": any(ln.worker.busy for ln in lanes),
                      "batches": sum(ln.worker.batches for ln in lanes),
                      "batch_size": self.batch_sizes.summary(),
                      "lanes": {ln.name: {"pending_windows": len(ln.pending), "batches": ln.worker.batches,
                                          "windows": ln.worker.windows} for ln in lanes}},
            "forecasters": self.forecast_worker.describe() if self.forecast_worker else {},
            "models": self.models.describe() if self.models else {},
            "recorder": ({"dir": str(self.recorder.dir), **self.recorder.rows_written}
                         if self.recorder is not None else None),
        }

    def _status_header(self) -> dict:
        return {"kind": "status", "stream": "runtime", "seq": 0, "t_s": time.time(), "epoch": self.epoch,
                "body": self.status()}
