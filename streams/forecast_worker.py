"""The forecast path: learn every marker frame, decide forecast or hold, publish - on the
runtime's event loop, at the frame's receipt.

The event loop calls :meth:`ForecastWorker.submit` for every accepted motion frame and handles
it there and then: :class:`streams.forecast.SourceForecaster` learns it and decides forecast or
hold, and the result goes out through the runtime's ``send``. The loop never runs an encoder (the
encoder lanes, the score thread and the recorder's writer are threads of their own) and defers
window cutting until after a drain of the ingest socket, so a marker frame waits only behind the
frames that arrived before it. It used to go through a queue to a forecast thread of its own:
measured in ``make demo`` (2 cores, 1,651 forecasts per run), handing a frame to another thread
and waking it cost a p99 of 4.3-4.7 ms inside the runtime; handled on the loop, 1.4-1.7 ms.

:meth:`tick` (called by the loop at least every 50 ms) owns the no-input timer (a ``gap`` hold
once a forecasting source's next frame is overdue by ``max_input_age_s``, then every ``stale_s``
while it is silent) and takes the checkpoint snapshots; a second thread
writes them (a ``mix`` checkpoint is ~1 MB and took 4-5 ms to write, which would delay every
frame arriving meanwhile). A forecaster that raises is never silent: its source gets
``unavailable`` holds from then on.

One forecaster per source: while two marker streams of one source both send (each within
``stale_s`` of the other), ``fcst/<source>`` could not say which one it forecasts, so every frame
of either is answered by an ``unavailable`` hold naming both; the first stream's forecaster keeps
learning, and forecasts resume once the other has been silent for ``stale_s``. A stream that
takes over from one silent for longer (a device renamed its stream) gets a new forecaster.
"""
from __future__ import annotations

import logging
import pathlib
import threading
import time

import numpy as np

from streams.config import ForecasterConfig
from streams.forecast import SourceForecaster, source_of, write_checkpoint

log = logging.getLogger(__name__)


def hold_why(sf: SourceForecaster, reason: str, now_s: float) -> str:
    """The ``detail`` of a hold whose reason alone does not say why (the forecaster left none):
    how old or how far ahead the newest sample is (until 2026-12-07 a frame stamped 120 s ahead of
    the runtime's clock was held as ``stale_input`` with no word of the clock), what a ``gap`` waits
    for, how long a frozen input repeated."""
    cfg, age = sf.cfg, now_s - (sf.last_t_s if sf.last_t_s is not None else now_s)
    limit = f"max_input_age_s ({cfg.max_input_age_s * 1e3:.0f} ms)"
    if reason == "stale_input":
        return (f"newest sample stamped {-age:.3g} s ahead of the runtime's clock, over {limit}: its age "
                "cannot be told (device clock ahead?)" if age < 0 else f"newest sample {age:.3g} s old, over {limit}")
    if reason == "gap":
        return gap_why(sf.forecaster)
    if reason == "frozen_input":
        return f"every coordinate repeated one value for max_frozen_s ({cfg.max_frozen_s:g} s) or more"
    if reason == "warm_up":
        return f"no forecast yet: scaler over warmup_s ({cfg.warmup_s:g} s), then the first input window"
    return ""


def gap_why(f) -> str:
    """A ``gap`` hold's detail, as true for this learner now: held until the window is whole again, and the blocks of
    ``horizon_steps`` forecasts after it held in sequence on their own records, worse than last-value's
    (:meth:`realtime.trust.TrustMixin.post_restart_hold`, ``restart_horizons_held``: ``ready`` False there): named
    from the newest sample's block to the last held ("forecasts 4-9 after a restart"), with the RMS of the newest
    sample's block's record. Until 2026-12-07 the detail said "until it is whole again" while those were held as well."""
    held, window, rms, rms_last = f.post_restart_hold()
    L, h, n = f.lookback, f.horizon_steps, f.restart_horizons_held
    which = f"the first {n * h} forecasts" if n > 1 else "the first forecasts"
    if held and window >= L:
        b = (window - L) // h   # the newest sample's block: the record whose RMS is named
        span = lambda lo, hi: f"forecasts {lo}-{hi}" if hi > lo else f"forecast {lo}"   # noqa: E731 (1-based)
        part = "" if b == n - 1 else (f"the first {h}: " if b == 0 else f"{span(b * h + 1, (b + 1) * h)}: ")
        which = span(b * h + 1, n * h) if b else which
        have = "has" if which.startswith("forecast ") else "have"
        return (f"input window restarted, whole again, but {which} after a restart {have} been worse than "
                f"holding the last position ({part}RMS {rms:.2g} vs {rms_last:.2g} z-units): "
                + (f"held for {held - 1} more sample{'' if held == 2 else 's'}" if held > 1 else "the last one held"))
    if held:
        return (f"input window restarted: held until it is whole again ({L} samples), then {held} more ({which} "
                "after a restart: worse than holding the last position)")   # (200 characters published)
    return ("input window restarted (samples missing, a step, a device time gone back): held until it is whole "
            f"again ({L} samples)")


def declared_units(runtime):
    """``units_of`` reading the declared units of ``runtime``'s input streams (its ``streams``; None where it has
    none): the runtime passes it to its :class:`ForecastWorker`."""
    def units_of(stream):
        st = getattr(runtime, "streams", {}).get(stream)
        units = getattr(st, "units", None)
        return None if units is None else tuple(units)
    return units_of


class ForecastWorker:
    """Parameters
    ----------
    cfg : forecaster configuration (already checked to build).
    send : ``send(topic, header, array=None)`` (the runtime's thread-safe send).
    state_dir : checkpoints go to ``state_dir/forecasters`` (None: none); ``checkpoint_every_s``.
    units_of : ``units_of(stream)``: the units a marker stream declares (a tuple, one per channel; None: not known),
        written into its checkpoints and checked on a restore (:mod:`streams.forecast_checkpoint`); the runtime's
        is :func:`declared_units`. None: not known (checkpoints then say none and are restored unchecked).
    """

    def __init__(self, cfg: ForecasterConfig, send, state_dir=None, checkpoint_every_s: float = 2.0, units_of=None):
        self.cfg, self._send = cfg, send
        self._units_of = units_of or (lambda stream: None)
        self.ckpt_dir = pathlib.Path(state_dir) / "forecasters" if state_dir else None
        self.checkpoint_every_s = checkpoint_every_s
        self.forecasters: dict[str, SourceForecaster] = {}
        self._rivals: dict[str, tuple[str, float]] = {}   # source -> (other live marker stream, wall s)
        self.lock = threading.Lock()        # guards ``forecasters`` against status readers
        self.handled = 0
        self._next_ckpt = time.monotonic() + checkpoint_every_s
        self._to_write: dict[str, tuple] = {}   # source -> newest snapshot not yet written
        self._write_lock = threading.Lock()
        self._write_wake = threading.Event()
        self._writer_stop = False
        self._writer = None   # the checkpoint writer, only where there are checkpoints
        self.ckpt_failures = 0            # checkpoint writes that failed (status: forecasters' ckpt_failures)
        self._ckpt_failing: set = set()   # sources whose last write failed (said once)
        if self.ckpt_dir is not None:
            self._writer = threading.Thread(target=self._write_loop, name="biosig-forecast-ckpt", daemon=True)
            self._writer.start()

    def submit(self, stats, stream: str, channels, fs_hz: float, t0_s: float, x: np.ndarray, recv_s: float,
               sent_s: float | None = None, rate_hold: tuple[str, str] | None = None):
        """One accepted marker frame, handled now; ``recv_s``: when the runtime received it,
        ``sent_s``: when the device sent it (its header's ``sent_s``, if any), both wall-clock s;
        ``rate_hold``: ``(reason, detail)`` while the stream's device time doubts or refutes its
        declared rate (:meth:`streams.device_rate.DeviceRate.forecast_hold`): learnt, answered by a hold."""
        try:
            self._handle(stats, stream, tuple(channels), float(fs_hz), float(t0_s), x, recv_s, sent_s, rate_hold)
        except Exception as exc:  # never let one bad frame stop every forecast, never silence
            log.exception("forecast: unexpected error (continuing)")
            stats.holds += 1
            self.publish_hold(source_of(stream), stream, float(t0_s) + (x.shape[1] - 1) / float(fs_hz),
                              "unavailable", f"{type(exc).__name__}: {exc}")

    def tick(self):
        """Timers: ``gap`` holds for silent sources, checkpoint snapshots every ``checkpoint_every_s``."""
        try:
            self._check_silent()
            if self.ckpt_dir is not None and time.monotonic() >= self._next_ckpt:
                self._next_ckpt = time.monotonic() + self.checkpoint_every_s
                self._checkpoint()
        except Exception:
            log.exception("forecast: unexpected error in the timers (continuing)")

    def forget(self, source: str):
        """The source's stream expired: drop its forecaster (after a last checkpoint)."""
        self._forget(source)

    def stop(self, timeout_s: float = 10.0):
        """Queue the last checkpoints, then let the writer write what is queued and stop."""
        self._checkpoint()
        if self._writer is not None:
            self._writer_stop = True
            self._write_wake.set()
            self._writer.join(timeout_s)

    def _live_rival(self, src, now: float) -> str | None:
        """The other marker stream of ``src`` if it sent within ``stale_s``."""
        rival = self._rivals.get(src)
        return rival[0] if rival is not None and now - rival[1] <= self.cfg.stale_s else None

    def _rival(self, src, sf, stream) -> str:
        """'' or the hold detail while ``src`` has two live marker streams (module docstring)."""
        now = time.time()
        if sf is not None and sf.stream != stream and now - sf.last_frame_wall_s <= self.cfg.stale_s:
            self._rivals[src] = (stream, now)           # a second stream while the first still sends
        rival = self._live_rival(src, now)
        if rival is None or sf is None or rival == sf.stream:
            self._rivals.pop(src, None)
            return ""
        return (f"two marker streams under source {src!r} ({sf.stream}, {rival}): one forecaster per "
                "source, so neither is forecast; publish them under different sources")

    def _get(self, stream, channels, fs_hz):
        src = source_of(stream)
        sf = self.forecasters.get(src)
        if sf is None or sf.stream != stream or tuple(sf.channels) != channels or sf.fs_hz != fs_hz:
            sf = SourceForecaster(stream, channels, fs_hz, self.cfg)
            sf.units = self._units_of(stream)
            if self.ckpt_dir is not None:
                sf.try_restore(self.ckpt_dir, sf.units)   # (refused when learnt in other units)
            with self.lock:
                self.forecasters[src] = sf
        elif sf.units is None:   # (a fresh one for a new session in other units: streams.runtime_ingest)
            sf.units = self._units_of(stream)
        return src, sf

    def _handle(self, stats, stream, channels, fs_hz, t0_s, x, recv_s, sent_s=None, rate_hold=None):
        t_start = time.time()
        self.handled += 1
        n = x.shape[1]
        t_s = t0_s + (n - 1) / fs_hz
        src = source_of(stream)
        rival = self._rival(src, self.forecasters.get(src), stream)
        if rival and stream != self.forecasters[src].stream:   # the second stream: never learnt from
            stats.holds += 1
            self.publish_hold(src, stream, t_s, "unavailable", rival)
            return
        try:
            src, sf = self._get(stream, channels, fs_hz)
        except Exception as exc:  # cannot be built for this stream: hold, never silence
            log.error("no forecaster for %s: %s", stream, exc)
            stats.holds += 1
            self.publish_hold(source_of(stream), stream, t_s, "unavailable", f"{type(exc).__name__}: {exc}")
            return
        if sf.failed:
            kind, value = sf.fail(sf.failed)
        else:
            try:
                sf.rate_hold = rate_hold   # the stream's device time doubts its declared rate: held
                kind, value = sf.on_frame(x.astype(np.float64), t0_s, time.time())
            except Exception as exc:
                log.error("the %s forecaster failed (%s: %s); holding the source as unavailable",
                          stream, type(exc).__name__, exc)
                kind, value = sf.fail(f"{type(exc).__name__}: {exc}")
        t_out = time.time()
        if kind == "forecast" and rival:    # learnt, but the source's forecasts cannot be told apart
            kind, value = "hold", "unavailable"
        if kind == "forecast" and t_out - t_s > sf.cfg.max_input_age_s:   # aged while it was learnt
            kind, value = sf.aged(t_out - t_s)
        if kind == "forecast":
            stats.forecasts += 1
            lat = (t_out - t_s) * 1e3
            stats.output_ms.add(lat)
            parts = {"total": lat, "runtime": (t_out - recv_s) * 1e3, "queue": (t_start - recv_s) * 1e3,
                     "model": (t_out - t_start) * 1e3}
            if sent_s is not None:   # and the transport: sent -> received, the wait in the ingest socket included
                parts["device"] = (sent_s - t_s) * 1e3
                parts["transport"] = (recv_s - sent_s) * 1e3
            header = {"kind": "forecast", "stream": stream, "t_s": t_s, "target_s": t_s + sf.horizon_s,
                      "horizon_steps": sf.cfg.horizon_steps, "horizon_s": sf.horizon_s,
                      "method": sf.cfg.method, "valid": True, "channels": list(channels),
                      "latency_ms": parts, "t_out_s": t_out}
            self._send(f"fcst/{src}", header, np.asarray(value, dtype=np.float32))
        else:
            stats.holds += 1
            detail = sf.hold_detail or hold_why(sf, value, t_out)
            self.publish_hold(src, stream, t_s, value, rival or (sf.failed if value == "unavailable" else detail))

    def publish_hold(self, src, stream, t_s, reason, detail=""):
        header = {"kind": "hold", "stream": stream, "t_s": t_s, "reason": reason, "t_out_s": time.time()}
        if detail:
            header["detail"] = detail[:200]
        self._send(f"hold/{src}", header)

    def _check_silent(self):
        """A ``gap`` hold for a source whose last answer was a forecast as soon as its next frame
        is overdue by ``max_input_age_s`` (device time of the last sample + the last frame's
        duration + ``max_input_age_s``, against the wall clock, as the age check of a frame): the
        forecast a consumer acts on until a hold comes was made from input that is now older than
        a published forecast's may be. Until 2026-12-05 the first hold came after ``stale_s`` (1 s)
        of silence: a consumer acted on a forecast made from input up to 1 s old. Then, as before,
        one every ``stale_s`` while the source stays silent."""
        now = time.time()
        for src, sf in list(self.forecasters.items()):
            age = now - sf.last_t_s if sf.last_t_s is not None else 0.0
            overdue = sf.state == "forecasting" and age > sf.frame_s + self.cfg.max_input_age_s
            if overdue or now - sf.last_wall_s > self.cfg.stale_s:
                sf.last_wall_s = now  # once per stale_s while silent
                sf.state, sf.hold_reason = "hold", "gap"
                sf.counts["gap"] += 1
                detail = (f"no input for {age * 1e3:.0f} ms: the last forecast's input is older than "
                          f"max_input_age_s ({self.cfg.max_input_age_s * 1e3:.0f} ms)" if overdue else
                          f"no input for more than {self.cfg.stale_s:g} s")
                self.publish_hold(src, sf.stream, sf.last_t_s or 0.0, "gap", detail)

    def _forget(self, source):
        sf = self.forecasters.get(source)
        if sf is None:
            return
        self._save(sf)
        with self.lock:
            self.forecasters.pop(source, None)

    def _save(self, sf):
        """Queue a snapshot of ``sf`` for the writer thread (a newer one replaces an unwritten one)."""
        if self.ckpt_dir is None:
            return
        snap = sf.snapshot()
        with self._write_lock:
            self._to_write[snap[0]] = snap
        self._write_wake.set()

    def _checkpoint(self):
        for sf in list(self.forecasters.values()):
            self._save(sf)

    def _write_loop(self):
        # normal priority on purpose: it holds the GIL briefly, and a lowered thread that is
        # descheduled while holding it would stall the forecast thread (priority inversion)
        while True:
            self._write_wake.wait()
            self._write_wake.clear()
            with self._write_lock:
                todo, self._to_write = self._to_write, {}
            for source, meta, arrays in todo.values():
                try:
                    write_checkpoint(self.ckpt_dir, source, meta, arrays)
                except OSError as exc:   # once per source until it works again: not a line every 2 s
                    self.ckpt_failures += 1
                    if source not in self._ckpt_failing:
                        self._ckpt_failing.add(source)
                        log.error("cannot write the %s checkpoint: %s (said once; forecasting goes on; "
                                  "retried every %g s)", meta["stream"], exc, self.checkpoint_every_s)
                    continue
                if source in self._ckpt_failing:
                    self._ckpt_failing.discard(source)
                    log.warning("the %s checkpoint is written again", meta["stream"])
            if self._writer_stop and not self._to_write:
                return

    def describe(self) -> dict:
        with self.lock:
            items = list(self.forecasters.items())
        now = time.time()
        return {src: {"stream": sf.stream, "method": sf.cfg.method, "seen": sf.forecaster.n_seen,
                      "resets": sf.forecaster.n_resets, "ready": bool(sf.forecaster.ready),
                      # forecasts withheld by the realised-error check; scaler refits after a run of resets
                      "untrusted": sf.forecaster.n_untrusted, "refits": sf.forecaster.n_refits,
                      "resumed": sf.resumed, "state": sf.state, "hold": sf.hold_reason,
                      "holds": dict(sf.counts), "failed": sf.failed, "detail": sf.hold_detail,
                      # frames stamped before the last learnt sample; samples not learnt (faster than fs_hz)
                      "time_back": sf.time_back, "over_rate": sf.over_rate, "clock_off": sf.clock_off,
                      "checkpoint_failing": src in self._ckpt_failing,
                      # why the checkpoint found at start was not restored (another layout, rate, configuration)
                      "checkpoint_refused": sf.restore_refused,
                      # the other marker stream of this source while both send (all answers held)
                      "rival_stream": self._live_rival(src, now)}
                for src, sf in items}
