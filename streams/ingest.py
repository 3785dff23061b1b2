"""Per-stream ingest state: sequence checks, preprocessing and windows.

:class:`InputStream` is created on the first valid frame of a stream. A new publisher
``session`` (the publisher restarted) starts the sequence afresh and is counted as a restart;
within a session a sequence number equal to the last accepted one is a duplicate, a smaller one
is late, and a jump opens a gap (counted, and no window spans it, but one of an ECG or PPG stream short enough to be
bridged and marked missing: :data:`streams.windows.BRIDGE_GAP_S`); so does a jump of device time
of more than :data:`DEVICE_TIME_HOLE_S`, ahead or (from the previous frame's start) back, with the next sequence number (windowed streams). A sequence that goes back
(to 0 or anywhere) while device time moves on (a device that restarted keeping its fixed
session id) is a publisher restart: counted under ``restarts``, never as late. Frames whose rate, channels,
dtype or modality disagree with the session's first frame are rejected as ``inconsistent``.
A frame of a superseded session while the current one is live (two publishers under one stream
name) is rejected as ``session_conflict``: see :data:`SESSION_TAKEOVER_S`.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from biosig.flatline import FLAT_MODALITIES, flat_mask, window_flat_mask
from encoders.lead_choice import QUALITY_RANKED_MODALITIES
# (at module load, not in InputStream: a new stream's first frame is handled on the event loop)
from streams.audio_band_live import live_band
from streams.device_rate import MARKER_PROVISIONAL_SPAN_S, PROVISIONAL_SPAN_S, DeviceRate
from streams.metrics import StreamStats
from streams.windows import SampleTail, Windower, bridge_block, bridge_n, missing_mask

log = logging.getLogger(__name__)

#: A stream belongs to its newest publisher session. A frame of a session it superseded is a second
#: live publisher under the same name (two monitors with the same bed names): rejected as
#: ``session_conflict`` while the current session sent within this many seconds, so the two never
#: alternate (each switch restarted the windows: no window for as long as both ran). After that
#: silence the older session takes the stream back as a restart (the newer one stopped).
SESSION_TAKEOVER_S = 2.0

#: A frame whose first sample comes more than this many seconds after the previous frame's last
#: sample (plus one sample period), with the next sequence number, is a gap too: the device paused
#: (a lead off, a monitor that numbers the frames it sends, not the samples it takes) and said so
#: by its timestamps. The windows restart there instead of joining samples that lie this far apart
#: and stamping every later window on the old time base. So does a frame starting more than this
#: before the previous frame's first sample (a device clock set back). Smaller steps either way are
#: timestamp jitter or ``replay`` below real time (each frame's hole is under its 0.1 s frame), and a
#: frame that overlaps the previous one's end is a device faster than it declares
#: (:mod:`streams.device_rate`): not gaps.
DEVICE_TIME_HOLE_S = 1.0

#: Widths of a device frame counter that wraps (2^8, 2^16, 2^32): a ``seq`` that goes back to near 0
#: from within :data:`SEQ_WRAP_SKIP` frames below one of them, device time moving on, is the counter
#: wrapping (the next frame, or a gap of the frames between), not a publisher restart.
SEQ_WRAP_MODULI = (1 << 8, 1 << 16, 1 << 32)
SEQ_WRAP_SKIP = 16

#: Modalities whose encoder is fed the leads `score` and `embed` choose (streams.models.fed_leads),
#: not the stream's first ones: those the lead rule ranks by quality.
LEAD_CHOICE_MODALITIES = QUALITY_RANKED_MODALITIES


def window_quality(win: np.ndarray, fs_hz: float, modality: str) -> float:
    """Quality in [0, 1] of one window (C, T): :func:`biosig.quality.window_quality` when the
    signal layer has it, else the finite fraction times 0 for a flat window."""
    try:
        from biosig.quality import window_quality as wq
    except ImportError:
        finite = np.isfinite(win)
        return float(finite.mean()) * float(np.nanstd(win) > 0) if finite.any() else 0.0
    return float(wq(win, fs_hz, modality))


class InputStream:
    """State of one input stream.

    Parameters
    ----------
    header : the first accepted signal header of the session.
    window : ``(window_s, hop_s)`` or None (motion streams are not windowed).
    model : :class:`streams.models.HostedModel` or None.
    stats : carried over from an earlier session of the same stream.
    audio_fmax_hz : ``serve --audio-fmax-hz``: an audio stream's model input low-passed to this band
        (:mod:`streams.audio_band_live`: window times unchanged, windows 10 ms later at 1800 Hz); None: whole band.
    """

    def __init__(self, header: dict, window, model=None, stats: StreamStats | None = None,
                 audio_fmax_hz: float | None = None):
        from streams.protocol import source_of
        self.name = header["stream"]
        self.source = source_of(self.name)   # its source's ingest budget (runtime_ingest), looked up per frame
        self.session = header["session"]
        self.fs_hz = float(header["fs_hz"])
        self.channels = tuple(header["channels"])
        self.units = tuple(header["units"])
        self.modality = header["modality"]
        self.dtype = header["dtype"]
        self._layout_lists = None              # (channels, units) as lists, for same_layout
        self.last_seq = header["seq"] - 1
        self.last_t_s: float | None = None     # device time of the newest accepted sample
        self.last_t0_s: float | None = None    # ... and of the first sample of its frame
        self.superseded: tuple = ()            # sessions this stream's earlier publishers had (newest last)
        # spending its ingest allowance faster than it refills (streams.ingest_budget): its windows
        # are cut after the real-time streams' (set by the runtime on each accepted frame)
        self.catching_up = False
        self.stats = stats or StreamStats(self.name)
        self.stats.modality = self.modality
        self.model = model
        self.pipe = self.band = None
        self.windower = None
        self.fs_out_hz = self.fs_hz
        self.use_channels = len(self.channels)   # leads fed to the encoder
        # windows keep every lead and the encoder worker picks the ones fed (streams.models.fed_leads):
        # ECG and PPG streams with more leads than the encoder takes, the leads still named
        self.chooses_leads = False
        if window is not None:
            if model is not None:
                self.pipe = model.outside.stream(self.fs_hz, len(self.channels), self.channels)
                self.fs_out_hz = self.pipe.fs_out_hz
                self.band = live_band(audio_fmax_hz, self.modality, self.name, self.fs_hz, self.fs_out_hz,
                                      self.pipe.n_channels_out)
                self.use_channels = min(model.in_channels, self.pipe.n_channels_out)
                self.chooses_leads = (self.modality in LEAD_CHOICE_MODALITIES and self.use_channels < len(self.channels)
                                      and self.pipe.n_channels_out == len(self.channels))
            n_out = self.pipe.n_channels_out if self.pipe is not None else len(self.channels)
            w, h = window
            self.windower = Windower(n_out, max(1, int(round(w * self.fs_out_hz))),
                                     max(1, int(round(h * self.fs_out_hz))), self.fs_out_hz)
        # samples per second of device time against fs_hz (windowed streams: their measures read
        # the rate; marker streams: a forecast's horizon in seconds does); rate_mismatch says what is
        # wrong ("" when nothing), read by the score thread
        motion = self.modality == "motion"
        self.rate = (DeviceRate(self.fs_hz, holes_to_doubt=2 if motion else 1,
                                provisional_span_s=MARKER_PROVISIONAL_SPAN_S if motion else PROVISIONAL_SPAN_S)
                     if self.windower is not None or motion else None)
        self.rate_mismatch = ""
        self.rate_pending = False              # no verdict yet, and the run so far doubts the rate
        self.rate_hold: tuple[str, str] | None = None   # marker streams: (hold reason, detail) meanwhile
        self.anchor_t_s: float | None = None   # device time of processed sample 0
        self.out_count = 0
        # ECG / PPG: the recorded samples behind the buffered windows, to see flat runs in them
        self.flat_check = self.windower is not None and self.modality in FLAT_MODALITIES
        # audio of 2+ channels that its model's pipeline mixes: blocks whose channels cancel
        # (biosig.quality_audio); mono audio (the usual stream) keeps nothing and pays nothing
        self.cancel_check = self.pipe is not None and self.modality == "audio" and len(self.channels) >= 2
        self.keeps_raw = self.flat_check or self.cancel_check
        # (appended in place: streams.windows.SampleTail; about a window's span of recorded samples)
        self._raw = SampleTail(len(self.channels), max(256, int(self.windower.window_n * self.fs_hz / self.fs_out_hz))
                               if self.keeps_raw else 256)
        self.raw_first = 0                     # recorded sample (since processed sample 0) of raw[:, 0]
        self.cancel_block_n = 0
        self.cancelled = np.zeros(0, dtype=bool)   # verdicts of the complete blocks from block cancel_first
        self.cancel_first = 0
        if self.cancel_check:
            from biosig.quality_audio import cancel_block_n, cancelled_blocks, source_blocks
            self.cancel_block_n = cancel_block_n(self.fs_hz)
            self._cancelled_blocks, self._source_blocks = cancelled_blocks, source_blocks
            self._bad = self.cancelled       # the verdicts the windows of the last chunk read

    def same_layout(self, h: dict) -> bool:
        """Whether ``h`` declares exactly the session's rate, channels, units, modality and dtype: the
        per-frame check of a stream's frames, without the allocations of :meth:`consistent` (which says
        what differs, and is asked whenever this says False)."""
        lists = self._layout_lists
        if lists is None or lists[0] is not self.channels or lists[1] is not self.units:
            lists = self._layout_lists = (self.channels, self.units, list(self.channels), list(self.units))
        return (h["fs_hz"] == self.fs_hz and h["modality"] == self.modality and h["dtype"] == self.dtype
                and h["channels"] == lists[2] and h["units"] == lists[3])

    @property
    def raw(self) -> np.ndarray:
        """The recorded samples (C, n) behind the buffered windows, from recorded sample ``raw_first``."""
        return self._raw.view

    def consistent(self, h: dict) -> str:
        """Empty string when ``h`` matches the session, else what differs."""
        for key, mine in (("fs_hz", self.fs_hz), ("channels", self.channels),
                          ("modality", self.modality), ("dtype", self.dtype)):
            theirs = h[key]
            theirs = tuple(theirs) if isinstance(theirs, list) else theirs
            if theirs != mine and not (key == "fs_hz" and abs(float(theirs) - mine) < 1e-9):
                return f"{key} changed from {mine!r} to {theirs!r} within session {self.session}"
        return ""

    def sequence(self, seq: int, t0_s: float | None = None) -> str:
        """Classify ``seq`` (first sample at device time ``t0_s``): ``ok``, ``gap`` (counted
        here), ``restart`` (counted here), ``duplicate`` or ``late``."""
        if seq == self.last_seq + 1:   # the usual frame: no wrap, restart, duplicate, late or gap can be
            self.last_seq = seq
            return "ok"
        wrap = self._wrapped(seq, t0_s)
        if wrap:
            log.info("%s: sequence wrapped at 2^%d (%d -> %d): the next frame, not a restart",
                     self.name, wrap.bit_length() - 1, self.last_seq, seq)
            self.last_seq -= wrap   # as if the counter went on past the wrap: the next frame, or a gap
        if seq <= self.last_seq and t0_s is not None and self.last_t_s is not None and t0_s > self.last_t_s:
            self.stats.restarts += 1
            log.info("%s: publisher sequence restarted at %d (was %d) within session %d",
                     self.name, seq, self.last_seq, self.session)
            self.last_seq = seq
            return "restart"
        if seq == self.last_seq:
            return "duplicate"
        if seq < self.last_seq:
            return "late"
        if seq > self.last_seq + 1:
            self.stats.gaps += 1
            self.stats.missing += seq - self.last_seq - 1
            self.last_seq = seq
            return "gap"
        self.last_seq = seq
        return "ok"

    def _wrapped(self, seq: int, t0_s: float | None) -> int:
        """The modulus (2^8, 2^16 or 2^32) at which a counter that narrow wrapped from the last
        accepted ``seq`` to this one, else 0. The protocol asks for ``seq`` < 2^63, but a device whose
        frame counter is 8, 16 or 32 bits wide and is passed through goes back to 0 every 2^16
        frames (22 min of 10-sample ECG frames at 500 Hz): each wrap was counted a publisher restart,
        and a windowed stream's filters and windows restarted (a window's length without an
        embedding or a score at every wrap). A wrap is only the step from within
        :data:`SEQ_WRAP_SKIP` frames below the modulus to within that many above 0, with device time
        moving on; anything else going back is judged as before (a restart or late)."""
        if t0_s is None or self.last_t_s is None or not t0_s > self.last_t_s or seq >= self.last_seq:
            return 0
        for modulus in SEQ_WRAP_MODULI:
            if modulus - SEQ_WRAP_SKIP <= self.last_seq < modulus and seq < SEQ_WRAP_SKIP:
                return modulus
        return 0

    def time_hole(self, t0_s: float) -> bool:
        """True when a frame starting at device time ``t0_s`` leaves a hole of more than
        :data:`DEVICE_TIME_HOLE_S` after the newest accepted sample, or starts that much before the
        previous frame's first sample (a device clock set back: the windows joined its samples to
        the old ones and went on stamping them an hour ahead of the device's own time); counted as a
        gap here. A frame that starts before the previous frame's end but after its start is a
        device sending faster than it declares (:mod:`streams.device_rate`), not a clock set back."""
        if self.last_t_s is None:
            return False
        step = t0_s - self.last_t_s - 1.0 / self.fs_hz
        back = None if self.last_t0_s is None else self.last_t0_s - t0_s
        if step > DEVICE_TIME_HOLE_S:
            log.info("%s: device time jumped %.3f s ahead with consecutive seq: a gap, windows restart",
                     self.name, step)
        elif back is not None and back > DEVICE_TIME_HOLE_S:
            log.info("%s: device time went %.3f s back with consecutive seq: a gap, windows restart",
                     self.name, back)
        else:
            return False
        self.stats.gaps += 1
        return True

    def measure_rate(self, t0_s: float, n: int, verdict: str) -> bool:
        """Count an accepted frame (``verdict`` of :meth:`sequence`, or ``hole`` for a device-time
        hole with the next sequence number) in the device-rate check (:mod:`streams.device_rate`);
        True while the rate its device time says disagrees with ``fs_hz``. Updates
        ``rate_mismatch``, ``rate_pending``, ``rate_hold`` (marker streams) and the stats."""
        if self.rate is None:
            return False
        if verdict == "ok":
            self.rate.add(t0_s, n)
        elif verdict == "hole":
            self.rate.hole(t0_s, n)
        else:
            self.rate.restart(t0_s, n)
        motion = self.modality == "motion"
        self.rate_mismatch = self.rate.text("forecasts" if motion else "measures")
        self.rate_pending = self.rate.pending
        self.rate_hold = self.rate.forecast_hold() if motion else None
        self.stats.device_rate_hz = self.rate.measured_hz
        self.stats.rate_mismatch = self.rate_mismatch
        self.stats.rate_pending = self.rate_pending
        return self.rate.mismatch

    def bridge_gap(self, t0_s: float) -> int:
        """Samples missing before a frame starting at ``t0_s`` after a sequence gap that its windows bridge
        (ECG and PPG, a hole of at most :data:`streams.windows.BRIDGE_GAP_S`), else 0: they restart."""
        return bridge_n(t0_s - self.last_t_s, self.fs_hz) if self.flat_check and self.last_t_s is not None else 0

    def bridge(self, n: int, nxt: np.ndarray) -> np.ndarray | None:
        """The ``n`` bridged samples (C, n) before recorded samples ``nxt`` (C,), or None with nothing to bridge
        from (the windows restarted): for :meth:`windows` with ``missing=True``."""
        return bridge_block(self.raw[:, -1], nxt, n) if self.raw.shape[1] else None

    def reset_windows(self):
        """After a gap: no window may span it, so filters and windows restart."""
        if self.windower is not None:
            self.windower.reset()
        if self.pipe is not None:
            self.pipe.reset()
        if self.band is not None:
            self.band.reset()
        self.anchor_t_s = None
        self.out_count = 0
        self._raw.clear()
        self.raw_first = 0
        self.cancelled = self.cancelled[:0]
        self.cancel_first = 0

    def windows(self, x: np.ndarray, t0_s: float, missing: bool = False) -> list[tuple]:
        """Preprocess a chunk (C, T) and return complete windows. ``missing``: ``x`` bridges a gap
        (:meth:`bridge`): filtered, but recorded as NaN, so the windows spanning it mark it missing.

        Returns
        -------
        list of ``(window (C_use, W) float32, flat, t_start_s, t_end_s)`` (every lead, C_out, where
        the encoder worker chooses the leads fed: ``chooses_leads``): ``flat`` bool (C, W) where
        the window's samples are gaps for quality and measures, or None: ECG and PPG where they come
        from a flat run of recorded samples (:func:`biosig.flatline.window_flat_mask`), audio of two
        or more channels mixed by the pipeline where they come from a recorded block whose channels
        cancel (:meth:`_chunk_gaps`); device times of the first and last sample of the window
        (filter delay not subtracted).
        """
        if self.windower is None:
            return []
        y = self.pipe.process(x) if self.pipe is not None else x.astype(np.float32, copy=False)
        y = self.band.process(y) if self.band is not None else y   # the samples' own times: no shift
        if self.keeps_raw:
            self._raw.append(np.full(x.shape, np.nan, np.float32) if missing else x.astype(np.float32, copy=False))
        if self.anchor_t_s is None:
            self.anchor_t_s = t0_s
        k_first = self.out_count
        t_first = self.anchor_t_s + k_first / self.fs_out_hz
        self.out_count += y.shape[1]
        if y.shape[1] == 0:
            return []
        n = self.windower.window_n
        dur = (n - 1) / self.fs_out_hz
        out = []
        cut = self.windower.push(y, t_first)   # stop_n counts from anchor_t_s, as out_count
        any_gap = self.keeps_raw and self._chunk_gaps(cut)
        for w, t_end, stop_n in cut:
            flat = None
            if any_gap:
                flat = self._window_gaps(stop_n - n, n)
            out.append((w if self.chooses_leads else w[:self.use_channels], flat, t_end - dur, t_end))
        if self.keeps_raw:   # keep what the next window's span needs
            k_next = self.windower.next_end - n
            if self.cancel_check:   # the verdicts of its blocks, and the samples of the block not complete
                self._drop_verdicts(k_next)
                first_needed = (self.cancel_first + self.cancelled.size) * self.cancel_block_n
            else:
                first_needed = math.floor(k_next * self.fs_hz / self.fs_out_hz) - 1
            drop = min(self.raw.shape[1], max(0, first_needed - self.raw_first))
            if drop:
                self._raw.drop(drop)
                self.raw_first += drop
        return out

    def _chunk_gaps(self, cut: list) -> bool:
        """Whether a window of ``cut`` (:meth:`Windower.push`) may have gaps (False: none has), after
        the recorded samples of this chunk were added to ``raw``. Once per chunk, not per window.

        ECG / PPG: a chunk of many windows (a large frame, a catching-up stream's drain) has their
        spans in raw, so where raw holds no flat run no window's span does: one pass instead of one
        a window (a 2^20-sample ECG frame at 50 Hz, its 20962 windows cut in 1.11-1.13 -> 0.78-0.79
        s, 1 core).

        Stereo audio: each :data:`biosig.quality_audio.CANCEL_BLOCK_S` block of recorded samples is
        judged once, as the chunk completes it (:func:`biosig.quality_audio.cancelled_blocks`, what
        ``embed`` and ``score`` mark offline, :func:`biosig.quality_audio.mark_cancelled_spans`);
        the block not yet complete, where the newest windows end, once per chunk that cuts a window,
        on the samples recorded so far (all a causal runtime knows at the window's end; offline
        judges that block whole). ``_bad`` keeps the verdicts the windows of ``cut`` read."""
        if not self.cancel_check:
            return len(cut) < 2 or bool(flat_mask(self.raw, self.fs_hz).any()) or not np.isfinite(self.raw).all()
        b = self.cancel_block_n
        done = (self.raw_first + self.raw.shape[1]) // b         # blocks complete so far
        judged = self.cancel_first + self.cancelled.size
        if done > judged:   # raw starts at or before block `judged` (kept by the drop in windows)
            new = self._cancelled_blocks(self.raw[:, judged * b - self.raw_first:done * b - self.raw_first], b)
            self.cancelled = np.concatenate([self.cancelled, new]) if self.cancelled.size else new
        if not cut:
            return False
        rest = self.raw[:, done * b - self.raw_first:]
        self._bad = self.cancelled
        if rest.shape[1]:
            self._bad = np.concatenate([self.cancelled, self._cancelled_blocks(rest, b)])
        return bool(self._bad.any())

    def _window_gaps(self, k_first: int, n: int) -> np.ndarray | None:
        """The gap mask (C_out, ``n``) of the window of output samples ``k_first ..`` or None (after
        :meth:`_chunk_gaps` said this chunk's windows may have some): flat runs
        (:func:`biosig.flatline.window_flat_mask`), or the samples from cancelled blocks."""
        if not self.cancel_check:   # flat runs, and bridged gaps (NaN in raw)
            args = (self.raw, self.raw_first, self.fs_hz, self.fs_out_hz, k_first, n, self.windower.n_channels)
            flat, gap = window_flat_mask(*args), missing_mask(*args)
            return gap if flat is None else flat if gap is None else flat | gap
        src = self._source_blocks(np.arange(k_first, k_first + n), self.fs_hz, self.fs_out_hz, self.cancel_block_n)
        row = self._bad[np.clip(src - self.cancel_first, 0, self._bad.size - 1)]
        return np.repeat(row[None], self.windower.n_channels, axis=0) if row.any() else None

    def _drop_verdicts(self, k_next: int):
        """Forget the block verdicts before the block output sample ``k_next`` (the next window's
        first) comes from (:func:`biosig.quality_audio.source_blocks` in plain Python: once a chunk)."""
        first = int(k_next * (self.fs_hz / self.fs_out_hz)) // self.cancel_block_n
        drop = min(self.cancelled.size, max(0, first - self.cancel_first))
        if drop:
            self.cancelled, self.cancel_first = self.cancelled[drop:], self.cancel_first + drop
