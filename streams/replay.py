"""Replay recordings into a runtime.

:func:`replay_sources` turns any file the signal layer reads into simulated sources: one stream
per modality present in the record (``<stem>/<modality>``; ``<stem>_2`` for a second record of the
same stem), sent at ``speed`` times real time.

Device time is the recording's own clock started at the wall clock: sample ``k`` is stamped
``t_start + k / fs_hz`` (``fs_hz`` the recording's rate), so the frames tile device time exactly at
any ``speed``. At ``speed`` 1 each frame's last sample carries the moment it is sent, so the
runtime's latencies are its own processing time. At ``speed`` > 1 frames go out ``speed`` times
faster than device time runs: their stamps run ahead of the wall clock (latencies read negative;
a marker stream's forecasts are held as ``stale_input``, stamped in the future), and the samples
per second of device time stay the recording's rate. (Stamped at the wall clock instead, frames
overlapped in device time and said ``speed * fs_hz`` samples per second: what a monitor
misdeclaring its rate says, whose measures the runtime withholds, :mod:`streams.device_rate`.)
Irregularly sampled records (marker CSVs) are sent at their mean rate.

Missing samples (NaN: gaps of a record, invalid surrogate samples) are never sent as data, as the
protocol asks of a monitor: a frame holding one is split at its missing instants (a NaN in any channel),
its finite runs sent at their own device times, and each run of missing instants is a sequence gap of
exactly those instants (:meth:`ReplaySource._send_around_missing`). The runtime bridges such a gap of an ECG
or PPG stream when it is at most 60 ms (:data:`streams.windows.BRIDGE_GAP_S`), marked missing in the windows
spanning it; a longer one restarts its windows and forecasters. A frame has one length for all its
channels, so the other channels' samples at a missing instant are left out with it (said in a warning and
counted in replay's summary). Until 2026-12-07 the whole frame was left out: one lost sample of lead I
of MIMIC 041s (16 s) was a 0.1 s gap of every lead, and no 10 s ECG window ever completed. (Zeros used to
be sent for the gaps of non-motion streams before that.) A channel with no finite sample is left out of
its stream.

A run longer than a record loops it, with a sequence gap at each wrap (:class:`ReplaySource`):
the record's last sample is never sent as if the first one followed it.

The LSL bridge lives in :mod:`streams.lsl`.
"""
from __future__ import annotations

import logging
import pathlib
import re
from dataclasses import dataclass

import numpy as np

from streams.config import DEFAULT_INGEST
from streams.errors import StreamError
from streams.simulate import SimSource

log = logging.getLogger(__name__)

MAX_SPEED = 1000.0   # times real time; beyond this frames become huge and sends cannot keep up


@dataclass
class ReplaySource(SimSource):
    """A :class:`SimSource` stamped on the recording's clock (see the module docstring) that loops
    with a gap (``loop_gap``): gluing a file's end to its start made one step from the last sample
    to the first (4.9 mm on a motion session) that forecasters learnt as real motion."""

    loop_gap: bool = True
    skipped: int = 0     # runs of missing instants left out, a sequence gap each (said in replay's summary)
    missing_n: int = 0   # instants left out (every channel's sample at them)
    _warned: bool = False

    @property
    def next_frame_n(self) -> int:
        """Samples of the next frame: ``frame_n``, fewer for the last frame of a pass (before a run: the first
        frame's, which ``replay --seconds`` must leave time for: ``biosig.cli.replay_checks.check_first_frames``)."""
        return self._frame_len()

    def send(self):
        take = self.next_frame_n
        x = self.samples[:, self.pos:self.pos + take]
        if np.isfinite(x).all():
            self.out.send(x, t0_s=self.device_t0_s())
        else:
            self._send_around_missing(x)
        self._advance(take)

    def _send_around_missing(self, x: np.ndarray):
        """Send frame ``x`` split at its missing instants (a sample NaN in any channel): each run of instants
        whose every channel is finite goes out as a frame stamped at its own device time, each run of missing
        instants uses up one sequence number (a gap of exactly those instants; the runtime bridges one of at
        most 60 ms, :data:`streams.ingest.BRIDGE_GAP_S`, and marks it missing, else its windows restart). The
        other channels' samples at a missing instant are left out with it (a frame has one length for all
        channels) and said in one warning per stream. Skipping the whole frame made one lost sample in lead I
        of MIMIC 041s a 0.1 s gap of every lead: no 10 s ECG window in its 16 s, ever."""
        from biosig.flatline import run_bounds
        ok = np.isfinite(x).all(axis=0)
        t0_s, done = self.device_t0_s(), 0
        for a, b in zip(*run_bounds(ok)):
            if a > done:
                self.out.seq += 1   # the missing instants before this run: a gap
            self.out.send(x[:, a:b], t0_s=t0_s + a / self.fs_hz)
            done = b
        if done < ok.size:
            self.out.seq += 1       # missing instants at the frame's end
        lost = int((~ok).sum())
        self.skipped += len(run_bounds(~ok)[0])
        self.missing_n += lost
        if not self._warned:
            self._warned = True
            bad = [self.out.channels[i] for i in np.flatnonzero(~np.isfinite(x).all(axis=1))]
            log.warning("%s: missing sample(s) at %.3f s of the record (channel(s) %s): sent as a sequence gap of "
                        "those instants only, the other channels' samples there left out with them (later ones: "
                        "counted at the end)", self.out.topic, (self.pos + int(np.argmin(ok))) / self.fs_hz,
                        ", ".join(bad))


def _source_name(path) -> str:
    stem = pathlib.Path(str(path)).name.split(".")[0] or "replay"
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", stem)[:64]


def _unique_name(name: str, taken: set, path) -> str:
    """``name``, or ``name_2``, ``name_3``, ... when an earlier record of the same replay took it: two
    records of one name (``day1/p7.edf day2/p7.edf``) were two publishers of one stream, whose frames
    the runtime rejected by the half (``session_conflict``)."""
    if name not in taken:
        return name
    k = 2
    while f"{name[:60]}_{k}" in taken:
        k += 1
    log.warning("%s: source %s is an earlier record's; replayed as %s_%d", path, name, name[:60], k)
    return f"{name[:60]}_{k}"


def replay_sources(paths, *, speed: float = 1.0, endpoint: str = DEFAULT_INGEST, key_dir=None,
                   frame_s: float = 0.1, ctx=None, insecure: bool = False):
    """Publishers and :class:`streams.simulate.SimSource` objects for the given recordings."""
    from biosig.readers import read
    from biosig.readers.gap_resample import to_uniform_grid
    from streams.publisher import Publisher
    if not 0 < speed <= MAX_SPEED:
        raise StreamError(f"--speed must be a finite number > 0 and <= {MAX_SPEED:g}, got {speed}")
    pubs, sources = [], []
    try:
        for path in paths:
            rec = to_uniform_grid(read(path))   # irregular times: a hole in time stays a gap, not closed up
            pub = Publisher(_unique_name(_source_name(path), {p.source for p in pubs}, path), endpoint,
                            key_dir=key_dir, insecure=insecure, ctx=ctx)
            pubs.append(pub)
            sources += _record_sources(rec, pub, path, speed, frame_s)
    except BaseException:   # a bad second file must not leave the first one's sockets open
        for p in pubs:
            p.close()
        raise
    return pubs, sources


def _record_sources(rec, pub, path, speed: float, frame_s: float) -> list:
    """One :class:`ReplaySource` per modality of ``rec``, each on its own stream of ``pub``."""
    from biosig.modality import left_out_text
    from streams.publisher import max_frame_n
    groups = replay_groups(rec)
    mods = rec.channel_modalities
    sent = {i for idx in groups.values() for i in idx}
    unsent = [i for i in range(rec.n_channels) if i not in sent]
    if unsent:   # never silently: one line naming them
        left = left_out_text(rec.channels, mods, rec.units, unsent, rec.modality)
        if not groups:
            raise StreamError(f"{path}: no channel of a modality the runtime takes: {left}; nothing to replay")
        log.warning("%s: channel(s) %s not replayed: no stream of their modality (streams: %s)", path, left,
                    "; ".join(f"{m} {', '.join(rec.channels[i] for i in idx)}" for m, idx in groups.items()))
    sources = []
    for modality, idx in groups.items():
        empty = [i for i in idx if not np.isfinite(rec.samples[i]).any()]
        if empty:
            log.warning("%s: channel(s) %s hold no valid sample and are not replayed", path,
                        ", ".join(rec.channels[i] for i in empty))
            idx = [i for i in idx if i not in empty]
            if not idx:
                continue
        x = rec.samples[idx].astype(np.float32)
        # a frame with a missing sample is not sent (ReplaySource.send): a gap, never data
        out = pub.stream(modality, rec.fs_hz, [rec.channels[i] for i in idx],
                         [rec.units[i] for i in idx], modality=modality)
        # frames of frame_s of wall time, at most what one frame may hold (a 60 s 48 kHz file at --speed 1000
        # was one frame of 2.88 M samples: refused by the publisher, replay's exit 2 after "publishing")
        frame_n = min(max(1, int(round(frame_s * rec.fs_hz * speed))), max_frame_n(len(idx)))
        sources.append(ReplaySource(out, x, rec.fs_hz, frame_n, speed=speed))
        log.info("replaying %s as %s (%d ch, %.1f s at %gx)", path, out.topic, len(idx), rec.duration_s, speed)
    if not sources:
        raise StreamError(f"{path}: no channel holds a valid sample; nothing to replay")
    return sources


def replay_groups(rec) -> dict[str, list[int]]:
    """``{modality: channel positions}`` of the streams ``rec`` is replayed as: each channel's modality (the
    reader's or the user's word, else the guess from name and rate: a 1 Hz trend named 'II' is not an ECG stream,
    the runtime refuses ECG below 50 Hz), by :func:`biosig.modality.modality_channel_indices`. A channel of
    unknown modality joins the record's stream only where no channel is named of the record's modality (a
    camera's R, G, B; a table whose names say nothing travels as the record's, ``other`` included), never beside
    named leads: MIMIC 041s sent ABP and PAP (mmHg) on ``041s/ecg`` beside III, I, V, and the runtime's ECG
    quality averaged a blood pressure wave. Channels in no group are not replayed (said in one line)."""
    from biosig.modality import modality_channel_indices
    mods = rec.channel_modalities
    groups: dict[str, list[int]] = {}
    for m in dict.fromkeys(mods if rec.modality in mods else (*mods, rec.modality)):
        if m == "other" and rec.modality != "other":
            continue   # unknown channels: only through the record's modality (the rule's fallback)
        taken, _ = modality_channel_indices(rec.channels, mods, rec.units, m, rec.modality)
        if taken:
            groups[m] = taken
    return dict(sorted(groups.items(), key=lambda kv: kv[1][0]))   # in record order, as before


def replay_duration_s(sources) -> float:
    return max((s.samples.shape[1] / (s.fs_hz * s.speed) for s in sources), default=0.0)
