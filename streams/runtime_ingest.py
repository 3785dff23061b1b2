"""The runtime's ingest half: decode and validate input frames, open and sequence streams,
cut windows into encoder lanes and hand marker frames to the forecast worker.

:class:`IngestMixin` is one of the parts :class:`streams.runtime.Runtime` is made of (with
:class:`streams.runtime_slots.SlotsMixin`, which makes room for a new stream when no slot is free, and
:class:`streams.runtime_outputs.OutputsMixin`); it runs on the event loop only. Nothing
a client sends can stop the loop: every bad frame is rejected and counted per stream
(``_invalid`` when the stream cannot be told).
"""
from __future__ import annotations

import bisect
import logging
import time

import numpy as np

from streams import protocol
from streams.errors import ProtocolError
from streams.forecast import SourceForecaster, source_of
from streams.ingest import SESSION_TAKEOVER_S, InputStream
from streams.ingest_budget import IngestBudget
from streams.metrics import reject_advice

log = logging.getLogger("streams.runtime")

REJECT_WARN_EVERY_S = 60.0   # a stream's rejects of one reason are logged at most this often
REJECT_WARN_MAX = 20         # ... and at most this many (stream, reason) pairs a minute

# A large frame's windows are cut this many values (channels x samples) at a time, yielding to the event
# loop once a turn spent WINDOW_SLICE_S on them (_run_deferred; ECG at 50 Hz via ecg-tiny: 2.5 us a sample)
WINDOW_SLICE_VALUES, WINDOW_SLICE_S = 1 << 13, 0.02


def _coalesce(work: list) -> list:
    """Join the consecutive frames of one catching-up stream in a drain (sorted: real-time streams
    first) into one chunk, none after a gap or restart: its pipeline filters them in one call, not
    one per frame. The windows are the ones the frames give one at a time (the filters carry their
    state across chunks; ``tests/test_flood_coalesce.py``), each with the ``t_last`` of the frame that
    completed it (a tuple of the frames' newest samples goes with the chunk; its newest of all made a
    window's ``latency_ms.total`` short by up to the chunk's span). Measured (``benchmarks/bench_flood.py``, 500 x, 0.1 s frames of 250 Hz ECG, ecg-tiny):
    the event loop spent 3.0 of its 4.8 s of window cutting in scipy's ``sosfilt`` called on each
    25-sample frame (cProfile, 8 s of flood); the windows themselves (copy, flat mask, lane) 0.6 s.
    After: 0.9 s for twice the frames (the loop now keeps up with more of the flood), the bed's p50
    over the flood's first 5 s 0.11-0.13 -> 0.07-0.08 s (3 runs each, alternated). A real-time
    stream's frames are cut one at a time, as they come; so are those of a chain whose output depends
    on chunking (``StreamingPipeline.chunk_invariant``: a z-score or polarity step before the windows;
    a model's outside pipeline has none, ``Pipeline.split_in_model`` leaves them to the model)."""
    out = []
    for st, x, t0, t_last, reset in work:
        if out and st.catching_up and not reset and out[-1][0] is st and (st.pipe is None or st.pipe.chunk_invariant):
            prev = out[-1]
            out[-1] = (st, prev[1] + [x], prev[2], prev[3] + (t_last,), prev[4])
        else:
            out.append((st, [x], t0, (t_last,), reset))
    return [(st, xs[0] if len(xs) == 1 else np.concatenate(xs, axis=1), t0, t_lasts[0] if len(xs) == 1 else t_lasts,
             reset) for st, xs, t0, t_lasts, reset in out]


def frame_newest_s(t_last, t_end_s: float, fs_hz: float) -> float:
    """The newest sample of the frame that completed a window ending at ``t_end_s``: ``t_last`` itself
    for one frame, else the first of a coalesced chunk's frames (a tuple, in order) that reaches the
    window's last sample (within half an input sample: the window's times are at the model's rate)."""
    if not isinstance(t_last, tuple):
        return t_last
    i = bisect.bisect_left(t_last, t_end_s - 0.5 / fs_hz)
    return t_last[min(i, len(t_last) - 1)]


class IngestMixin:
    """Event-loop side of :class:`streams.runtime.Runtime`: from input frame to queued window."""

    # ------------------------------------------------------------------ ingest
    def _reject(self, stream: str, reason: str, detail: str = ""):
        target = self.registry.stats_for_reject(stream)
        now = time.time()
        detail = detail[len(reason) + 2:] if detail.startswith(f"{reason}: ") else detail   # ProtocolError's text
        text = f"{reason}: {detail[:300]}" if detail else reason
        if target is None:
            self.invalid[reason] += 1
            self.invalid_last = text
        else:
            target.rejected[reason] += 1
            target.last_rejected = now
            target.last_rejected_detail = text
        if reason != "session_conflict":   # that one has its own warning (_session_conflict)
            self._warn_reject(stream if target is not None else "", reason, text, now)

    def _warn_reject(self, stream: str, reason: str, text: str, now: float):
        """One warning per stream and reason per minute (frames that cannot be told a stream share
        one per reason): a rejected stream is said in the runtime's log with what was wrong, not
        only as a count in ``status``."""
        key = (stream, reason)
        told = self._reject_told
        last = told.get(key)
        if last is not None and now - last < REJECT_WARN_EVERY_S:
            return
        if len(told) > 4096:
            told.clear()
        told[key] = now
        recent = [t for t in told.values() if now - t < REJECT_WARN_EVERY_S]
        if len(recent) > REJECT_WARN_MAX:   # a client inventing stream names: the log stays readable
            if len(recent) == REJECT_WARN_MAX + 1:
                log.warning("more rejected streams than %d a minute: not each logged; biosig status lists them",
                            REJECT_WARN_MAX)
            return
        log.warning("rejected a frame of %s (%s)%s", stream or "an unknown stream", text,
                    f"; {reject_advice(reason)}" if reject_advice(reason) else "")

    def _warn_rate(self, st: InputStream, now: float):
        """A stream whose device time disagrees with its declared rate: one warning a minute, with
        the measured rate (its score frames are withheld as ``rate_mismatch`` meanwhile, a marker
        stream's forecasts are held with that reason)."""
        key = (st.name, "rate_mismatch")
        last = self._reject_told.get(key)
        if last is not None and now - last < REJECT_WARN_EVERY_S:
            return
        if len(self._reject_told) > 4096:
            self._reject_told.clear()
        self._reject_told[key] = now
        log.warning("%s: %s", st.name, st.rate_mismatch)

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
        kind = h["kind"]
        if kind == "heartbeat":
            return
        if kind != "signal" or frame.topic.startswith("sig/"):
            self._reject(h["stream"] if kind == "signal" else frame.topic, "schema",
                         f"{kind} frames on {frame.topic[:80]!r} are outputs, not inputs")
            return
        name = h["stream"]
        if x.dtype != np.float32:   # the runtime works in float32 (an errstate cost more than a small frame's cast)
            with np.errstate(over="ignore"):
                x = x.astype(np.float32)
        if h["dtype"] == "<f8" and not np.isfinite(x.sum(dtype=np.float64)):
            # finite as float64 but beyond float32 (|x| > 3.4e38): inf here, never a sample (an
            # inf the forecaster skipped as missing used to be answered with the last forecast)
            self._reject(name, "nonfinite", "samples beyond the float32 range")
            return
        st = self.streams.get(name)
        was = st.units if st is not None else None   # a marker stream's declared units before (_units_changed)
        if st is None or st.session != h["session"]:
            if st is None:
                why = self.registry.admit(name)
                if why:
                    why = self._make_room(name, why)
                if why:
                    self._refuse(name, h, why)
                    return
            elif h["session"] in st.superseded and recv_s - st.stats.last_seen < SESSION_TAKEOVER_S:
                self._session_conflict(st, h["session"], recv_s)
                return
            st = self._open_stream(h, st)
        elif not st.same_layout(h):
            why = st.consistent(h) or (tuple(h["units"]) != st.units and   # (as a change of channels)
                                       f"units changed from {list(st.units)} to {h['units']} within session {st.session}")
            if why:
                self._reject(name, "inconsistent", why)
                return
        if was is not None and st.units != was and st.modality == "motion":
            self._units_changed(st, was)
        n = x.shape[1]
        frame_s = n / st.fs_hz
        if not st.budget.would_admit(frame_s, recv_s):   # its seq number becomes a gap of the frames after it
            self._reject(name, "over_rate", st.budget.detail(frame_s))
            return
        src = st.source
        src_budget, n_src = self._source_budget(src, recv_s), max(1, self.registry.by_source[src])
        src_budget.speed = self.config.ingest_speed_max * n_src   # the sum of its streams' rates
        if not src_budget.would_admit(frame_s, recv_s):
            self._reject(name, "over_rate", src_budget.source_detail(src, n_src, frame_s))
            return
        st.budget.charge(frame_s)
        src_budget.charge(frame_s)
        st.catching_up = st.budget.spending() or src_budget.spending()
        t0 = float(h["t0_s"])
        verdict = st.sequence(h["seq"], t0)
        if verdict in ("duplicate", "late"):
            setattr(st.stats, "duplicates" if verdict == "duplicate" else "late",
                    getattr(st.stats, "duplicates" if verdict == "duplicate" else "late") + 1)
            return
        hole = verdict == "ok" and st.rate is not None and st.time_hole(t0)   # windowed and marker streams
        if hole:
            verdict = "gap"   # the device paused: no window joins the samples on either side
        if st.measure_rate(t0, n, "hole" if hole else verdict):
            self._warn_rate(st, recv_s)
        bridge = st.bridge_gap(t0) if verdict == "gap" and not hole else 0   # samples of a short gap, bridged
        t_last = t0 + (n - 1) / st.fs_hz
        st.last_t_s, st.last_t0_s = t_last, t0
        stats = st.stats
        stats.accept(recv_s, n)
        stats.ingest_ms.add((recv_s - t_last) * 1e3)
        motion = st.modality == "motion"
        if motion:   # the forecast first: the live view's copy and the recording can wait
            self._forecast(st, t0, x, recv_s, h.get("sent_s"))
        if self.config.tap_signals:
            self._tap(h, x)
        if self.recorder is not None:
            with self._send_lock:
                self.recorder.add_input(h, x, recv_s)
        if not motion:
            # reset: True (filters and windows restart), or the samples of a short gap to bridge (int)
            self._deferred.append((st, x, t0, t_last, bridge or verdict in ("gap", "restart")))

    def _run_deferred(self):
        """Cut the windows of this drain's frames: the streams at their real-time rate first, then
        those catching up (streams.ingest_budget), each stream's frames in order (a stable sort).

        A frame of more than WINDOW_SLICE_VALUES values is cut a slice at a time; once WINDOW_SLICE_S
        is spent the rest waits, in order, for the next turn of the loop (one legal frame of 2^20 ECG
        samples at 50 Hz held the loop 2.6 s for its 20962 windows: no forecast, no ``status``).
        Each stream's samples are cut in order, so the windows are the ones the whole frame gives."""
        work, self._deferred = self._deferred, []
        work.sort(key=lambda w: w[0].catching_up)
        work = _coalesce(work)
        end = time.monotonic() + WINDOW_SLICE_S
        first = True
        for i, (st, x, t0, t_last, reset) in enumerate(work):
            step = max(1, WINDOW_SLICE_VALUES // max(1, x.shape[0]))
            done = 0
            while done < x.shape[1]:
                if not first and x.shape[1] > step and time.monotonic() > end:   # the rest next turn
                    rest = (st, x[:, done:], t0 + done / st.fs_hz, t_last, reset and not done)
                    self._deferred = [rest] + work[i + 1:] + self._deferred
                    return
                first = False
                piece = x if x.shape[1] <= step else x[:, done:done + step]
                try:
                    if reset and not done:
                        self._restart_or_bridge(st, reset, piece, t0, t_last)
                    self._windows(st, piece, t0 + done / st.fs_hz, t_last)
                except Exception as exc:  # a frame the stream's pipeline cannot take: never fatal
                    self._reject(st.name, "unsupported", str(exc))
                    log.warning("frame of %r not processed: %s: %s", st.name, type(exc).__name__, exc)
                    break
                done += piece.shape[1]

    def _restart_or_bridge(self, st, reset, x, t0, t_last):
        """After a gap before frame ``x``: restart the stream's filters and windows, or (``reset`` an int: a
        short gap of that many samples, :data:`streams.windows.BRIDGE_GAP_S`) cut the windows of its
        bridged samples, marked missing, so those that do not span it stay whole."""
        block = None if reset is True else st.bridge(int(reset), x[:, 0])
        if block is None:
            st.reset_windows()
        else:
            self._windows(st, block, t0 - block.shape[1] / st.fs_hz, t_last, missing=True)

    def _source_budget(self, src: str, now_s: float) -> IngestBudget:
        """The budget the streams of ``src`` share (streams.ingest_budget): one backlog, refilled at
        ``ingest_speed_max`` x the streams it holds. Kept while the runtime lives, bounded: those of
        sources that hold no stream any more are dropped when they outnumber the others by 1024."""
        budgets = self._source_budgets
        b = budgets.get(src)
        if b is None:
            if len(budgets) >= len(self.registry.by_source) + 1024:
                for gone in [s for s in budgets if s not in self.registry.by_source]:
                    del budgets[gone]
            b = budgets[src] = IngestBudget(self.config.ingest_speed_max, self.config.ingest_backlog_s, now_s)
        return b

    def _lane(self, st):
        # not ``get(...) or main``: an empty Lane is falsy (it has a length), and every modality's
        # windows went to the main lane (own_worker_modalities ignored since lanes had a length)
        lane = self.lanes.get(st.modality)
        return lane if lane is not None else self.lanes["main"]

    def _windows(self, st, x, t0, t_last, missing=False):
        """Cut windows and queue them for the encoder worker (the one place windows enter the
        embedding path; :meth:`_publish_window` is the one place their frames leave)."""
        lane = self._lane(st)
        for win, flat, t_start, t_end in st.windows(x, t0, missing):
            st.stats.windows += 1   # quality and embedding are computed by the worker thread
            dropped = lane.add((st, win, flat, t_start, t_end, frame_newest_s(t_last, t_end, st.fs_hz),
                                time.monotonic()),
                               self.config.embed_queue, self.config.max_batch)
            if dropped is not None:
                dropped[0].stats.dropped += 1

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

    def _session_conflict(self, st: InputStream, session: int, recv_s: float):
        """A frame of a session ``st`` superseded while ``st``'s publisher is live: counted, and
        logged once per stream per 10 s (two publishers under one name: a configuration error)."""
        self._reject(st.name, "session_conflict", f"session {session} while {st.session} is live")
        last = self._conflict_told.get(st.name)
        if last is None or recv_s - last >= 10.0:
            if len(self._conflict_told) > 4096:
                self._conflict_told.clear()
            self._conflict_told[st.name] = recv_s
            log.warning("%s: two publishers send this stream (sessions %d and %d): the newer one's frames are "
                        "kept, the other's rejected as session_conflict (%d so far); give each device its own "
                        "source name", st.name, st.session, session, st.stats.rejected["session_conflict"])

    def _open_stream(self, h: dict, old: InputStream | None) -> InputStream:
        stats = self.stats.get(h["stream"]) or self.registry.new_stats(h["stream"])
        if old is not None:
            stats.restarts += 1
            log.info("%s: new publisher session %d (was %d)", h["stream"], h["session"], old.session)
        window = None if h["modality"] == "motion" else self.windows.get(h["modality"], (10.0, 1.0))
        model = self.models.get(h["modality"]) if window else None
        st = InputStream(h, window, model, stats, self.config.audio_fmax_hz)
        if st.modality == "motion" and st.rate is not None:   # its first frame waits for a second (device_rate)
            st.rate.confirm_first = True
        # the budget is the stream's, not the session's: a new session id per frame buys nothing
        st.budget = old.budget if old is not None else IngestBudget(
            self.config.ingest_speed_max, self.config.ingest_backlog_s, time.time())
        if old is not None:
            st.superseded = (old.superseded + (old.session,))[-8:]
        else:
            self._count_missed_while_forgotten(st, h)
        self.registry.add(st)
        return st

    def _count_missed_while_forgotten(self, st: InputStream, h: dict):
        """A stream that expired (idle for ``idle_expire_s``) and comes back within its publisher
        session: the sequence numbers it skipped meanwhile are a gap of its new counters (they were
        lost with the old ones: an outage of more than 5 minutes counted nothing)."""
        prev = self.registry.forgotten.pop(st.name, None)
        if prev is None or prev[0] != h["session"] or h["seq"] <= prev[1] + 1:
            return
        st.stats.gaps += 1
        st.stats.missing += h["seq"] - prev[1] - 1
        log.info("%s: back after it expired; %d frame(s) of session %d missing", st.name,
                 h["seq"] - prev[1] - 1, h["session"])

    # ------------------------------------------------------------------ forecasts
    def _units_changed(self, st: InputStream, was: tuple):
        """A new session of a marker stream declares other units (mm -> m): another layout, as other channels
        are. Its source's forecaster starts afresh (the learnt scaler and weights are the old units'), said in
        the log and in ``status`` (the forecaster's ``checkpoint_refused``)."""
        w, src = self.forecast_worker, source_of(st.name)
        sf = w.forecasters.get(src)
        log.warning("%s: declared units changed from %s to %s: its forecaster starts afresh", st.name,
                    list(was), list(st.units))
        if sf is not None and sf.stream == st.name:
            fresh = SourceForecaster(st.name, st.channels, st.fs_hz, w.cfg)
            fresh.restore_refused = (f"learnt state not carried over: declared units changed from {list(was)} "
                                     f"to {list(st.units)}")
            with w.lock:
                w.forecasters[src] = fresh

    def _forecast(self, st: InputStream, t0: float, x: np.ndarray, recv_s: float, sent_s=None):
        self.forecast_worker.submit(st.stats, st.name, st.channels, st.fs_hz, t0, x, recv_s, sent_s,
                                    rate_hold=st.rate_hold)
