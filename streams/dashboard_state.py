"""What the live view shows (``streams.dashboard``), built from the runtime's output frames only.

:class:`LiveState` turns frames into short per-series histories (:class:`Series`) and what the page
prints per stream and per couch; :meth:`LiveState.update` is what one page request gets. A stream
or couch not heard from for ``forget_s`` seconds (:data:`FORGET_S`, ``biosig dashboard
--forget-s``) is forgotten: its panel leaves the page (a bed discharged, a publisher gone for good
stayed in the state, and on the page, for as long as the view ran). Every value carries its age.
"""
from __future__ import annotations

import collections
import itertools
import math
import threading
import time

import numpy as np

from streams.config import DASHBOARD_FORGET_S
from streams.protocol import source_of
from streams.scores import score_row, summary_text

DISPLAY_HZ = 250.0       # at most this many points per second per waveform (peak-preserving)
HISTORY_S = 12.0         # seconds of history kept per series (the page shows 10)
MAX_HOLD_PERIODS = 100   # per source
MAX_SCORE_ROWS = 2000    # per stream: windows kept for a run's summary (`biosig demo`)
# a stream's score line is stale (shown as no current reading, never as the last HR in green) when
# no score frame came for this many of its usual intervals between score frames, and this long
SCORE_STALE_HOPS = 3.0
SCORE_STALE_MIN_S = 3.0
# a stream or couch from which no frame came for this long is forgotten (its panel leaves the page):
# long enough to show a bed unplugged for a moment as such (NO CURRENT READING, its age), short
# enough that a ward's discharged beds and restarted publishers do not pile up for days
FORGET_S = DASHBOARD_FORGET_S
# the page gets values to float32's 7 significant digits (what a device sends): float64 reprs of
# float32 samples took 19 characters where 9 do (times stay exact: a page may compare them)
VALUE_DIGITS = 7
# a page's cursors keep, under this key, what it holds of each stream: an update sends a stream's
# fields that changed only (its name and ages every time); every field every time was ~700 bytes
# a stream 20 times a second, most of the JSON at 50 beds
SENT = "_streams_sent"
_SERIALS = itertools.count(1)


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
        self.serial = next(_SERIALS)   # a page's cursor on a series forgotten and made anew starts afresh

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
    """What the page shows, built from output frames only (thread-safe). ``forget_s``: a stream or
    couch not heard from for this long is dropped (:data:`FORGET_S`); ``clock``: wall time;
    ``endpoint``: the output endpoint read, named on the page while nothing comes from it."""

    def __init__(self, forget_s: float = FORGET_S, clock=time.time, *, endpoint: str | None = None):
        if not (isinstance(forget_s, (int, float)) and 0 < forget_s < math.inf):
            from streams.errors import StreamError
            raise StreamError(f"dashboard forget_s must be a number of seconds > 0, got {forget_s!r}")
        self.forget_s, self.clock, self.endpoint = float(forget_s), clock, endpoint
        self.started_s = clock()                  # the page says how long it has waited for a first heartbeat
        self._forgot_s = -math.inf                # when forgotten streams were last looked for
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
            now = self.clock()
            if now - self._forgot_s >= 1.0:       # bounded without any page open, too
                self._forget(now)
            self.frames[kind] += 1
            if kind == "heartbeat":
                self.last_hb_s = now
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
        s = self.streams.setdefault(name, {"source": source_of(name), "modality": None,
                                           "channels": [], "fs_hz": None, "windows": 0})
        s["_rx_s"] = self.clock()
        return s

    def _forget(self, now: float):
        """Drop the streams and couches not heard from for ``forget_s`` (their series and hold
        periods, score rows included)."""
        self._forgot_s = now
        cut = now - self.forget_s
        for name in [n for n, s in self.streams.items() if s["_rx_s"] < cut]:
            del self.streams[name]
            self.score_rows.pop(name, None)
            for key in (f"sig/{name}", f"q/{name}"):
                self.series.pop(key, None)
        for source in [c for c, v in self.couches.items() if v["_rx_s"] < cut]:
            del self.couches[source]
            self.hold_periods.pop(source, None)
            self.series.pop(f"fcst/{source}", None)
            self.version += 1

    def _on_signal(self, h, x):
        s = self._stream(h["stream"])
        if s.get("_signal_rx_s") is not None:
            s.setdefault("_signal_gaps", collections.deque(maxlen=9)).append(s["_rx_s"] - s["_signal_rx_s"])
        s["_signal_rx_s"] = s["_rx_s"]
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
        s["_window_rx_s"] = s["_rx_s"]
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
        now = s["_rx_s"]
        if s.get("_score_rx_s") is not None:
            s.setdefault("_score_gaps", collections.deque(maxlen=9)).append(now - s["_score_rx_s"])
        s.update(score=summary_text(h), score_ok=bool(h.get("ok")), score_missing=h.get("missing"),
                 score_window_end_s=h.get("window_end_s"), _score_rx_s=now)
        self.score_rows.setdefault(h["stream"], collections.deque(maxlen=MAX_SCORE_ROWS)).append(score_row(h))

    def _couch(self, source: str) -> dict:
        c = self.couches.setdefault(source, {"state": "none", "reason": None})
        now = self.clock()
        if c.get("_rx_s") is not None:
            c.setdefault("_gaps", collections.deque(maxlen=9)).append(now - c["_rx_s"])
        c["_rx_s"] = now
        return c

    def _on_forecast(self, source, h, y):
        c = self._couch(source)
        if c["state"] != "forecast":
            self.version += 1
            self._close_hold(source, h["t_s"])
            self.changed.notify_all()
        c.update(state="forecast", reason=None, detail=None, stream=h["stream"], method=h.get("method"),
                 horizon_s=h.get("horizon_s"), horizon_steps=h.get("horizon_steps"),
                 channels=list(h.get("channels", [])), t_s=h["t_s"], t_out_s=h.get("t_out_s"),
                 latency_ms=h.get("latency_ms", {}).get("total"), _forecast_rx_s=c["_rx_s"])
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
        c.update(state="hold", reason=reason, detail=h.get("detail"), stream=h["stream"], t_s=h["t_s"])

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
        """JSON-able update with the rows new since ``cursors`` (updated in place) and, per stream,
        the fields changed since (:func:`changed_fields`: a page merges them). Every value
        carries its age in seconds of wall time: ``age_s`` (any frame of the stream or couch),
        ``signal_age_s``, ``window_age_s`` (quality, latency) and ``score_age_s`` (None until the
        first such frame); a couch its ``age_s``, ``forecast_age_s`` and ``stale`` (no frame for 3 of
        its intervals, at least 3 s), a held one its ``detail``."""
        with self.lock:
            now = self.clock()
            self._forget(now)
            for key in [k for k in cursors if k not in self.series and k != SENT]:
                del cursors[key]
            new = {}
            for key, s in self.series.items():
                serial, count = cursors.get(key, (s.serial, 0))
                rows = s.since(count if serial == s.serial else 0)
                cursors[key] = (s.serial, s.count)
                if rows:
                    new[key] = columns(rows)  # columns: t, v1, v2, ...
            age = (lambda d, k: None if d.get(k) is None else round(now - d[k], 3))
            streams = {}
            for n, s in self.streams.items():
                streams[n] = {k: v for k, v in s.items() if not k.startswith("_")}
                streams[n].update(age_s=age(s, "_rx_s"), signal_age_s=age(s, "_signal_rx_s"),
                                  window_age_s=age(s, "_window_rx_s"), score_age_s=age(s, "_score_rx_s"))
                if s.get("_signal_rx_s") is not None:   # the page dims a trace that stopped, says NO SIGNAL
                    streams[n]["signal_stale"] = streams[n]["signal_age_s"] > score_stale_after_s(s.get("_signal_gaps"))
                if s.get("_score_rx_s") is not None:
                    # a tapped stream whose samples stopped has no current reading either: with a hop of
                    # 5 s its last HR stayed in the colour of a valid one for 15 s beside NO SIGNAL
                    streams[n]["score_stale"] = bool(streams[n]["score_age_s"] > score_stale_after_s(
                        s.get("_score_gaps")) or streams[n].get("signal_stale"))
            sent, cursors[SENT] = cursors.get(SENT, {}), streams
            streams = {n: changed_fields(sent.get(n), d) for n, d in streams.items()}
            couches = {}
            for k, v in self.couches.items():
                # no frame of a couch for 3 of its usual intervals (>= 3 s): its FORECAST or HOLD is no
                # current state (the runtime answers every marker frame, and holds a silent source every
                # stale_s); the badge stayed a green FORECAST as long as the runtime's heartbeat came
                couches[k] = {**{f: x for f, x in v.items() if not f.startswith("_")}, "age_s": age(v, "_rx_s"),
                              "forecast_age_s": age(v, "_forecast_rx_s")}
                couches[k]["stale"] = couches[k]["age_s"] > score_stale_after_s(v.get("_gaps"))
            return {"now_s": now, "hb_age_s": None if self.last_hb_s is None else now - self.last_hb_s,
                    "endpoint": self.endpoint, "waited_s": round(now - self.started_s, 3),
                    "forget_s": self.forget_s, "streams": streams, "couches": couches,
                    "hold_periods": {k: [list(p) for p in v] for k, v in self.hold_periods.items()},
                    "frames": dict(self.frames), "new": new, "version": self.version}

    def wait_change(self, version: int, timeout_s: float) -> None:
        with self.changed:
            if self.version == version:
                self.changed.wait(timeout_s)


def columns(rows: list) -> list:
    """Rows (t, v1, ...) as JSON-ready columns: times as they are, values to ``VALUE_DIGITS``
    significant digits (``repr`` of a float32 widened to float64 gave 17)."""
    cols = [list(c) for c in zip(*rows)]
    for c in cols[1:]:
        c[:] = [v if v == 0 or not math.isfinite(v) else float(f"{v:.{VALUE_DIGITS}g}") for v in c]
    return cols


def changed_fields(held: dict | None, full: dict) -> dict:
    """The fields of ``full`` that differ from what the page ``held`` (all of them for a page that
    holds nothing of the stream: a new page, a new stream, ``state.json``); the page merges them."""
    if held is None:
        return full
    return {k: v for k, v in full.items() if k not in held or held[k] != v}


def score_stale_after_s(gaps) -> float:
    """Seconds without a score frame after which a stream's last score line is no current reading:
    ``SCORE_STALE_HOPS`` times the median interval between its recent score frames (its hop), at
    least ``SCORE_STALE_MIN_S``. A monitor unplugged, a stream rejected or a runtime gone quiet left
    the last ``HR 95 /min`` on the page, in the colour of a valid reading, for as long as it was open."""
    hop = float(np.median(gaps)) if gaps else 0.0
    return max(SCORE_STALE_MIN_S, SCORE_STALE_HOPS * hop)
