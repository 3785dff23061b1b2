"""The runtime: ingest -> validation -> windows -> dynamic batches -> encoders -> outputs, and
marker streams -> forecasters -> forecasts or holds, in one event loop.

Sockets (defaults in :mod:`streams.config`, all on loopback):

* ``ingest`` PULL (bound): publishers PUSH ``signal`` frames (and ``heartbeat`` frames);
* ``output`` PUB (bound): ``emb/<stream>``, ``fcst/<source>``, ``hold/<source>``,
  ``hb/runtime`` and ``status`` frames;
* ``status`` REP (bound): any request gets one ``status`` frame back.

Nothing a client sends can stop the loop: every bad frame is rejected and counted per stream
(``_invalid`` when the stream cannot be told). Slow-consumer policy: windows waiting for the
encoder form one bounded queue (``embed_queue``) that drops its oldest window and counts it;
forecasts are published in the tick of the sample that produced them and never queued.
"""
from __future__ import annotations

import collections
import logging
import threading
import time

import numpy as np

from streams import protocol
from streams.config import RuntimeConfig
from streams.errors import ProtocolError, StreamError
from streams.forecast import SourceForecaster, source_of
from streams.ingest import InputStream
from streams.metrics import Latency, StreamStats
from streams.scores import ScoreHost

log = logging.getLogger(__name__)


class Runtime:
    """Run with :meth:`run` (blocking) or :meth:`start` (a thread); stop with :meth:`stop`.

    Parameters
    ----------
    config : :class:`streams.config.RuntimeConfig`.
    """

    def __init__(self, config: RuntimeConfig | None = None):
        self.config = config or RuntimeConfig()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        self.streams: dict[str, InputStream] = {}
        self.stats: dict[str, StreamStats] = {}
        self.forecasters: dict[str, SourceForecaster] = {}
        self.invalid = collections.Counter()      # frames no stream could be told for
        self.auth_failures = 0
        self.out_seq = collections.Counter()
        self.pending: collections.deque = collections.deque()   # windows waiting for the encoder
        self.batch_sizes = Latency(5000)
        self.started_s = time.time()
        self.error: BaseException | None = None
        self.recorder = None
        self.models = None
        self.bound = None        # Endpoints actually bound (resolves ``tcp://127.0.0.1:*``)
        self.scores = ScoreHost(smooth_windows=self.config.score_smooth_windows)  # score/ frames

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Runtime":
        """Run in a background thread; returns once the sockets are bound and models loaded."""
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
            log.exception("runtime stopped by an error")

    def stop(self, timeout_s: float = 30.0):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run(self, seconds: float | None = None):
        """Serve until :meth:`stop` (or for ``seconds``); closes everything on exit."""
        import zmq
        from streams.models import EncoderWorker, ModelHost
        from streams.security import ServerSecurity, check_plain_allowed
        cfg = self.config
        ctx = zmq.Context()
        security = None
        socks = []
        try:
            if cfg.key_dir:
                security = ServerSecurity(ctx, cfg.key_dir)
            else:
                check_plain_allowed(cfg.endpoints.all(), cfg.insecure)
            self.ingest = self._bind(ctx, zmq.PULL, cfg.endpoints.ingest, security, socks)
            self.ingest.setsockopt(zmq.RCVHWM, 100_000)
            self.ingest.setsockopt(zmq.MAXMSGSIZE, 256 * 1024 * 1024)
            self.pub = self._bind(ctx, zmq.PUB, cfg.endpoints.output, security, socks)
            self.pub.setsockopt(zmq.SNDHWM, cfg.out_hwm)
            self.rep = self._bind(ctx, zmq.REP, cfg.endpoints.status, security, socks)
            from streams.config import Endpoints
            self.bound = Endpoints(*(sk.getsockopt_string(zmq.LAST_ENDPOINT)
                                     for sk in (self.ingest, self.pub, self.rep)))
            monitor = self.ingest.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH) if security else None
            if monitor is not None:
                monitor.setsockopt(zmq.LINGER, 0)
                socks.insert(0, monitor)
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

            self.models = ModelHost(cfg.models, cfg.backend, cfg.device, cfg.precision)
            self.worker = EncoderWorker(notify)
            if cfg.record_dir:
                from streams.recorder import Recorder
                self.recorder = Recorder(cfg.record_dir, cfg.rotate_s)
            self._loop(zmq, wake, monitor, seconds)
        finally:
            self._shutdown(socks, security, ctx)

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

    def _shutdown(self, socks, security, ctx):
        worker = getattr(self, "worker", None)
        if worker is not None:
            worker.stop()
            for job, emb, err, ms in worker.poll_results():
                self._publish_embeddings(job, emb, err, ms)
        self._checkpoint()
        if self.recorder is not None:
            self.recorder.close()
        if socks and getattr(self, "ingest", None) is not None and self.config.key_dir:
            try:
                self.ingest.disable_monitor()
            except Exception:  # the monitor may never have started
                pass
        for s in socks:
            s.close(linger=0)
        if security is not None:
            security.stop()
        ctx.term()
        log.info("runtime stopped")

    # ------------------------------------------------------------------ event loop
    def _loop(self, zmq, wake, monitor, seconds):
        poller = zmq.Poller()
        for s in (self.ingest, self.rep, wake) + ((monitor,) if monitor is not None else ()):
            poller.register(s, zmq.POLLIN)
        deadline = None if seconds is None else time.monotonic() + seconds
        next_status = next_ckpt = time.monotonic()
        self.ready.set()
        log.info("runtime serving: ingest %s, output %s, status %s", *self.bound.all())
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
            if wake in events:
                while True:
                    try:
                        wake.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
            for job, emb, err, ms in self.worker.poll_results():
                self._publish_embeddings(job, emb, err, ms)
            self._maybe_submit()
            if self.rep in events:
                self.rep.recv_multipart()
                self.rep.send_multipart(protocol.encode("status", self._status_header()))
            if monitor is not None and monitor in events:
                self._on_monitor(monitor)
            now = time.monotonic()
            self._check_stale()
            if now >= next_status:
                next_status = now + self.config.status_every_s
                self._send("hb/runtime", {"kind": "heartbeat", "stream": "runtime", "t_s": time.time()})
                self._send("status", self._status_header(), record=False)
            if self.config.state_dir and now >= next_ckpt:
                next_ckpt = now + self.config.checkpoint_every_s
                self._checkpoint()
            if self.recorder is not None:
                self.recorder.maybe_rotate()

    def _poll_timeout_ms(self) -> int:
        if self.pending and self.worker.idle:
            age = time.monotonic() - self.pending[0][-1]
            return max(0, int((self.config.max_delay_s - age) * 1000) + 1)
        return 50

    def _on_monitor(self, monitor):
        from zmq.utils.monitor import recv_monitor_message
        import zmq
        while True:
            try:
                recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            self.auth_failures += 1
            log.warning("a client failed CURVE authentication (%d so far)", self.auth_failures)

    # ------------------------------------------------------------------ ingest
    def _reject(self, stream: str, reason: str, detail: str = ""):
        target = self.stats.get(stream)
        if target is None and stream and len(self.stats) < self.config.max_streams:
            target = self.stats[stream] = StreamStats(stream)   # named but never accepted
        if target is None:
            self.invalid[reason] += 1
        else:
            target.rejected[reason] += 1
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
            if st is None and len(self.streams) >= self.config.max_streams:
                self.invalid["too_many_streams"] += 1
                return
            st = self._open_stream(h, st)
        else:
            why = st.consistent(h)
            if why:
                self._reject(name, "inconsistent", why)
                return
        verdict = st.sequence(h["seq"])
        if verdict in ("duplicate", "late"):
            setattr(st.stats, "duplicates" if verdict == "duplicate" else "late",
                    getattr(st.stats, "duplicates" if verdict == "duplicate" else "late") + 1)
            return
        x = x.astype(np.float32, copy=False)
        n = x.shape[1]
        t_last = float(h["t0_s"]) + (n - 1) / st.fs_hz
        stats = st.stats
        stats.frames += 1
        stats.samples += n
        stats.last_seen = recv_s
        stats.ingest_ms.add((recv_s - t_last) * 1e3)
        if self.recorder is not None:
            self.recorder.add_input(h, x, recv_s)
        if self.config.tap_signals:
            self._tap(h, x)
        if st.modality == "motion":
            self._forecast(st, h, x, verdict == "gap")
            return
        if verdict == "gap":
            st.reset_windows()
        for win, t_start, t_end in st.windows(x, float(h["t0_s"])):
            stats.windows += 1   # quality and embedding are computed by the worker thread
            if len(self.pending) >= self.config.embed_queue:
                dropped = self.pending.popleft()
                dropped[0].stats.dropped += 1
            self.pending.append((st, win, t_start, t_end, t_last, time.monotonic()))

    def _open_stream(self, h: dict, old: InputStream | None) -> InputStream:
        stats = self.stats.get(h["stream"])
        if old is not None:
            stats.restarts += 1
            log.info("%s: new publisher session %d (was %d)", h["stream"], h["session"], old.session)
        window = None if h["modality"] == "motion" else self.config.windows.get(h["modality"], (10.0, 1.0))
        model = self.models.get(h["modality"]) if window else None
        st = InputStream(h, window, model, stats)
        self.streams[st.name] = st
        self.stats[st.name] = st.stats
        return st

    # ------------------------------------------------------------------ forecasts
    def _forecast(self, st: InputStream, h: dict, x: np.ndarray, gap: bool):
        src = source_of(st.name)
        sf = self.forecasters.get(src)
        if sf is None or sf.stream != st.name or sf.channels != list(st.channels) or sf.fs_hz != st.fs_hz:
            sf = SourceForecaster(st.name, st.channels, st.fs_hz, self.config.forecaster)
            if self.config.state_dir:
                sf.try_restore(self._ckpt_dir())
            self.forecasters[src] = sf
        t0 = float(h["t0_s"])
        # sequence numbers tell gaps within a session; after a restart only time can tell
        missing = sf.missing_since(t0) if (gap or sf.check_time_gap) else 0
        sf.check_time_gap = False
        if gap or missing > 0:
            sf.gap(max(missing, 1))
        for i in range(x.shape[1]):
            kind, value = sf.step(x[:, i].astype(np.float64), t0 + i / st.fs_hz)
        t_s = t0 + (x.shape[1] - 1) / st.fs_hz
        t_out = time.time()
        if kind == "forecast":
            st.stats.forecasts += 1
            lat = (t_out - t_s) * 1e3
            st.stats.output_ms.add(lat)
            header = {"kind": "forecast", "stream": st.name, "t_s": t_s, "target_s": t_s + sf.horizon_s,
                      "horizon_steps": sf.cfg.horizon_steps, "horizon_s": sf.horizon_s,
                      "method": sf.cfg.method, "valid": True, "channels": list(st.channels),
                      "latency_ms": {"total": lat}, "t_out_s": t_out}
            self._send(f"fcst/{src}", header, np.asarray(value, dtype=np.float32))
        else:
            st.stats.holds += 1
            self._send(f"hold/{src}", {"kind": "hold", "stream": st.name, "t_s": t_s,
                                       "reason": value, "t_out_s": t_out})

    def _check_stale(self):
        now = time.time()
        stale_s = self.config.forecaster.stale_s
        for src, sf in self.forecasters.items():
            if now - sf.last_wall_s > stale_s:
                sf.last_wall_s = now  # once per stale_s while stale
                self.stats[sf.stream].holds += 1
                self._send(f"hold/{src}", {"kind": "hold", "stream": sf.stream,
                                           "t_s": sf.last_t_s or 0.0, "reason": "stale", "t_out_s": now})

    def _ckpt_dir(self):
        import pathlib
        return pathlib.Path(self.config.state_dir) / "forecasters"

    def _checkpoint(self):
        if not self.config.state_dir:
            return
        for sf in self.forecasters.values():
            try:
                sf.save(self._ckpt_dir())
            except OSError as exc:
                log.error("cannot write the %s checkpoint: %s", sf.stream, exc)

    # ------------------------------------------------------------------ batching and outputs
    def _maybe_submit(self):
        from streams.models import Job
        if not self.pending or not self.worker.idle:
            return
        age = time.monotonic() - self.pending[0][-1]
        if len(self.pending) < self.config.max_batch and age < self.config.max_delay_s:
            return
        first = self.pending[0]
        items, keep = [], collections.deque()
        for item in self.pending:  # same model and window shape as the oldest, oldest first
            if len(items) < self.config.max_batch and item[0].model is first[0].model \
                    and item[1].shape == first[1].shape:
                items.append(item)
            else:
                keep.append(item)
        self.pending = keep
        self.batch_sizes.add(len(items))
        x = np.stack([it[1] for it in items])
        self.worker.submit(Job(first[0].model, x, items, time.monotonic()))

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
        import zmq
        header = dict(header, seq=self.out_seq[topic])
        self.out_seq[topic] += 1
        try:
            self.pub.send_multipart(protocol.encode(topic, header, array), zmq.NOBLOCK, copy=False)
        except zmq.Again:  # PUB drops for slow subscribers itself; counted here if ever raised
            self.invalid["output_dropped"] += 1
        if record and self.recorder is not None:
            self.recorder.add_output(topic, header, array, time.time())

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        now = time.time()
        streams = {name: s.snapshot(now) for name, s in sorted(self.stats.items())}
        totals = collections.Counter()
        for s in streams.values():
            for key in ("frames", "samples", "gaps", "missing", "duplicates", "late", "windows",
                        "outputs", "forecasts", "holds", "dropped", "rejected_total", "restarts"):
                totals[key] += s[key]
        totals["invalid"] = sum(self.invalid.values())
        worker = getattr(self, "worker", None)
        return {
            "uptime_s": now - self.started_s, "streams": streams, "totals": dict(totals),
            "invalid": dict(self.invalid), "auth_failures": self.auth_failures,
            "queue": {"pending_windows": len(self.pending), "max": self.config.embed_queue,
                      "encoder_busy": bool(worker and worker.busy),
                      "batches": worker.batches if worker else 0,
                      "batch_size": self.batch_sizes.summary()},
            "forecasters": {src: {"stream": sf.stream, "method": sf.cfg.method, "seen": sf.forecaster.n_seen,
                                  "resets": sf.forecaster.n_resets, "ready": bool(sf.forecaster.ready),
                                  "resumed": sf.resumed, "hold": sf.hold_reason}
                            for src, sf in self.forecasters.items()},
            "models": self.models.describe() if self.models else {},
            "recorder": ({"dir": str(self.recorder.dir), **self.recorder.rows_written}
                         if self.recorder is not None else None),
        }

    def _status_header(self) -> dict:
        return {"kind": "status", "stream": "runtime", "seq": 0, "t_s": time.time(), "body": self.status()}
