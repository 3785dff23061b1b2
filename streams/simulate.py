"""Simulated devices: a ward of bedside monitors and treatment couches with marker tracking.

Signals come from :func:`biosig.synthetic.simulate` and are sent in real time (each frame when
its last sample "happens"), looping a pre-generated stretch of ``loop_s`` seconds per stream.
Beds share at most ``variants`` generated records per modality (ECGSYN costs ~75 ms per simulated
second) but start at different offsets so no two beds send the same samples at once. The default, 4,
makes the demo's four beds four patients (two in sinus rhythm, two in AF, each with its own rates);
a ward of more beds repeats them.

AF beds: by default every second bed (``bed02``, ``bed04``, ...) is in atrial fibrillation (its ECG
and PPG come from :mod:`biosig.synthetic_af`: irregular beats, no P waves); ``af_beds`` picks
others (bed numbers from 1; ``()`` for none). Each source keeps its record's ``truth`` (heart or
respiratory rate, rhythm) for checks against the runtime's ``score/`` frames.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from streams.config import DEFAULT_INGEST
from streams.errors import StreamError

log = logging.getLogger(__name__)

BED_STREAMS = ("ecg", "ppg", "resp", "audio")
_KW = {"ecg": {"leads": 2}, "audio": {"kind": "breath"}}


@dataclass
class SimSource:
    """One simulated stream: a looping record sent in frames of ``frame_n`` samples.

    A seamless record (cut at a beat or breath, :func:`seamless_loop`) wraps inside a frame. One
    that is not (``loop_gap``: a couch's motion, a replayed file) never joins its end to its start:
    the last frame of a pass is shorter and the next pass starts after one skipped sequence number,
    a gap to the runtime (windows restart, the forecast holds) instead of a step it would learn."""

    out: object              # streams.publisher.OutStream
    samples: np.ndarray      # (C, N) float32
    fs_hz: float
    frame_n: int
    pos: int = 0
    sent_n: int = 0          # samples sent so far
    t_start: float = 0.0     # device time of sample 0
    speed: float = 1.0       # replay speed: samples go out at speed * fs_hz of wall time (device time
                             # still runs at fs_hz: sample k is stamped t_start + offset_s + k / fs_hz)
    offset_s: float = 0.0    # this device starts this much after t_start (unsynchronised beds)
    truth: dict | None = None  # the simulator's truth of the looped record (rates, rhythm)
    loop_gap: bool = False   # end of a pass: a gap, not a wrap (see the class docstring)

    def _frame_len(self) -> int:
        return min(self.frame_n, self.samples.shape[1] - self.pos) if self.loop_gap else self.frame_n

    def next_s(self) -> float:
        """Time at which the next frame's last sample happens (a shorter last frame: sooner)."""
        return self.t_start + self.offset_s + (self.sent_n + self._frame_len() - 1) / (self.fs_hz * self.speed)

    def device_t0_s(self) -> float:
        """Device time of the next frame's first sample: the samples' own clock, ``fs_hz`` samples a
        second at any ``speed`` (stamped at the wall-clock pace, a run at speed 4 said 4 * fs_hz samples
        per second of device time: a device misdeclaring its rate, whose measures the runtime
        withholds, :mod:`streams.device_rate`)."""
        return self.t_start + self.offset_s + self.sent_n / self.fs_hz

    def due(self, now: float) -> bool:
        return self.next_s() <= now

    def _advance(self, take: int):
        self.pos += take
        self.sent_n += take
        if self.pos >= self.samples.shape[1]:
            self.pos %= self.samples.shape[1]
            if self.loop_gap:        # end of a pass: the next starts after a skipped seq
                self.out.seq += 1

    def send(self):
        take = self._frame_len()
        t0_s = self.device_t0_s()
        if self.loop_gap:
            x = self.samples[:, self.pos:self.pos + take]
        else:
            x = self.samples[:, (self.pos + np.arange(take)) % self.samples.shape[1]]
        self.out.send(x, t0_s=t0_s)
        self._advance(take)


def _record(modality: str, seconds: float, seed: int, fs_hz: float | None = None, af: bool = False):
    """One bed's record. ECG and PPG of the same ``seed`` are one patient: in AF they share the
    beats (simulate's own draw), in sinus rhythm the PPG has a pulse per beat of the ECG
    (:func:`sinus_pulse`)."""
    from biosig.synthetic import simulate
    if modality in AF_STREAMS and not af and fs_hz is None:
        ecg = _sinus_ecg(float(seconds), int(seed))
        return seamless_loop(ecg if modality == "ecg" else sinus_pulse(ecg, seed))
    kw = dict(_KW.get(modality, {}), **({"rhythm": "af"} if af and modality in AF_STREAMS else {}))
    return seamless_loop(simulate(modality, seconds, seed, fs_hz=fs_hz, **kw))


@functools.lru_cache(maxsize=8)
def _sinus_ecg(seconds: float, seed: int):
    """A sinus bed's ECG (ECGSYN, ~75 ms per simulated second), made once for its ECG stream and its pulse."""
    from biosig.synthetic import simulate
    return simulate("ecg", seconds, seed, **_KW["ecg"])


#: A sinus pulse: systolic wave 0.18 s after the R peak (SD 0.07 s), a diastolic wave of this
#: relative height 0.40 s after it (SD 0.09 s). The AF beds' 0.4 (biosig.synthetic_af) made the
#: PPG measure count the diastolic wave as a beat at a window's start in 16 of 52 windows of a
#: sinus bed (91.6 /min for 89); at 0.25 in none (88.7-89.4).
DIASTOLIC_REL = 0.25


def sinus_pulse(ecg, seed: int, fs_hz: float | None = None):
    """The PPG of the patient whose sinus-rhythm ECG is ``ecg``: one pulse per R peak (see
    :data:`DIASTOLIC_REL`), a slow respiratory baseline and a little noise; ``truth["beats_s"]``
    the R peaks. Before, a sinus bed's PPG was NeuroKit2's
    (``simulate("ppg", heart_rate_bpm=...)``), whose beat periods swing +-10 % with a 20 s period
    whatever the ECG does: bed01's first windows read 88.6 /min (NeuroKit2 on the same samples:
    88.6) beside its ECG's 94.8, for a truth of 95.0, and 101.4 ten seconds later."""
    from biosig.quality import detect_beats
    from biosig.record import Record
    from biosig.synthetic import DEFAULT_FS_HZ
    fs = float(fs_hz or DEFAULT_FS_HZ["ppg"])
    peaks, _ = detect_beats(ecg.samples[0], ecg.fs_hz, "ecg")
    beats = np.asarray(peaks, dtype=np.float64) / ecg.fs_hz
    n = int(round(ecg.n_samples / ecg.fs_hz * fs))
    rng = np.random.default_rng([seed, 2])
    t = np.arange(n) / fs
    x = rng.uniform(0.0, 0.02) * np.sin(2 * np.pi * 0.25 * t) + rng.normal(0.0, 0.01, n)
    for b in beats:
        near = (t > b - 0.3) & (t < b + 1.0)
        tt = t[near]
        x[near] += np.exp(-0.5 * ((tt - b - 0.18) / 0.07) ** 2) + DIASTOLIC_REL * np.exp(-0.5 * ((tt - b - 0.40) / 0.09) ** 2)
    truth = {"heart_rate_bpm": float(ecg.metadata["truth"]["heart_rate_bpm"]), "rhythm": "sinus",
             "model": "ecg-beats-gaussian-pulses", "beats_s": beats.tolist()}
    return Record(samples=x[None].astype(np.float32), fs_hz=fs, channels=("PLETH",), units=("a.u.",),
                  modality="ppg", metadata={"truth": truth, "synthetic": True, "seed": int(seed)})


AF_STREAMS = ("ecg", "ppg")


def seamless_loop(rec):
    """The record cut from its first to its last beat (ECG, PPG) or breath (resp), so that looping
    it repeats real intervals only (the interval across the seam is the one before the last event).
    A record with its generator beats in its truth (AF, a sinus bed's pulse) has its truth heart
    rate recomputed from the beats inside the loop."""
    from biosig.quality import detect_beats
    if rec.modality in ("ecg", "ppg"):
        events, _ = detect_beats(rec.samples[0], rec.fs_hz, rec.modality)
    elif rec.modality == "resp":
        from biosig.measures_window import breath_peaks
        events = breath_peaks(rec.samples[0], rec.fs_hz)
    else:
        return rec
    if len(events) < 4:
        return rec
    a, b = int(events[0]), int(events[-1])
    truth = dict(rec.metadata.get("truth", {}))
    if "beats_s" in truth:
        beats = np.asarray(truth.pop("beats_s"))
        inside = beats[(beats >= (a - 0.05 * rec.fs_hz) / rec.fs_hz) & (beats < (b - 0.05 * rec.fs_hz) / rec.fs_hz)]
        truth["heart_rate_bpm"] = float(60.0 * len(inside) / ((b - a) / rec.fs_hz))
    return rec.replace(samples=rec.samples[:, a:b], metadata={**rec.metadata, "truth": truth})


def default_af_beds(n_beds: int) -> tuple[int, ...]:
    """Bed numbers (from 1) in atrial fibrillation by default: the even ones."""
    return tuple(range(2, n_beds + 1, 2))


def bed_offset_s(b: int) -> float:
    """Seconds after the run's start at which bed ``b`` (from 0) starts: monitors are not
    synchronised, so window boundaries of different beds do not all fall on the same instant."""
    return (0.37 * b) % 1.0


def frame_samples(frame_s: float, fs_hz: float) -> int:
    """Samples in a frame of ``frame_s`` seconds at ``fs_hz`` (at least one)."""
    return max(1, int(round(frame_s * fs_hz)))


def silent_bed_streams(n_beds: int, streams, frame_s: float, seconds: float) -> list[str]:
    """The streams of a ward (``bed01/ecg`` ...) whose first frame is not out within ``seconds``:
    a frame goes when its last sample happens, ``bed_offset_s`` plus one frame after the start."""
    from biosig.synthetic import DEFAULT_FS_HZ
    return [f"bed{b + 1:02d}/{m}" for b in range(n_beds) for m in streams
            if bed_offset_s(b) + (frame_samples(frame_s, DEFAULT_FS_HZ[m]) - 1) / DEFAULT_FS_HZ[m] > seconds]


def make_ward(n_beds: int, streams=BED_STREAMS, *, endpoint: str = DEFAULT_INGEST, key_dir=None,
              loop_s: float = 30.0, frame_s: float = 0.1, variants: int = 4, seed: int = 0,
              prefix: str = "bed", ctx=None, audio_beds: int | None = None, af_beds=None, insecure: bool = False):
    """Publishers and sources for ``n_beds`` beds (``bed01`` ...). ``audio_beds`` limits how many
    beds carry the 16 kHz audio stream (all by default); ``af_beds``: bed numbers (from 1) in AF,
    default :func:`default_af_beds`.

    Returns
    -------
    (publishers, sources)
    """
    from streams.publisher import Publisher
    bad = sorted(set(streams) - set(BED_STREAMS))
    if bad:
        raise StreamError(f"unknown bed stream(s) {bad}; expected some of {', '.join(BED_STREAMS)}")
    if n_beds < 0:
        raise StreamError(f"number of beds must be >= 0, got {n_beds}")
    af_beds = set(default_af_beds(n_beds) if af_beds is None else af_beds)
    records = {}
    for m in streams:
        for v in range(min(variants, max(n_beds, 1))):
            for af in {(b + 1) in af_beds for b in range(v, n_beds, min(variants, max(n_beds, 1)))}:
                records[m, v, af] = _record(m, loop_s, seed + 101 * v, af=af)
    pubs, sources = [], []
    for b in range(n_beds):
        pub = Publisher(f"{prefix}{b + 1:02d}", endpoint, key_dir=key_dir, insecure=insecure, ctx=ctx)
        pubs.append(pub)
        for m in streams:
            if m == "audio" and audio_beds is not None and b >= audio_beds:
                continue
            rec = records[m, b % min(variants, n_beds), (b + 1) in af_beds]
            out = pub.stream(m, rec.fs_hz, rec.channels, rec.units, modality=m)
            frame_n = frame_samples(frame_s, rec.fs_hz)
            offset = int(round((b * 7.3) % loop_s * rec.fs_hz)) % rec.n_samples
            sources.append(SimSource(out, rec.samples, rec.fs_hz, frame_n, pos=offset,
                                     offset_s=bed_offset_s(b), truth=dict(rec.metadata.get("truth", {}))))
    return pubs, sources


def make_couches(n_couches: int, *, endpoint: str = DEFAULT_INGEST, key_dir=None, seconds: float = 120.0,
                 fs_hz: float = 30.0, seed: int = 0, prefix: str = "couch", ctx=None, insecure: bool = False):
    """Marker tracking of ``n_couches`` couches (3 markers x 3 axes, mm, one sample per frame).

    The motion records are generated for the whole run (``seconds``, not looped) so that their
    samples are the ground truth a forecast is scored against: ``truth[i]`` is the record of
    ``sources[i]``.
    """
    from streams.publisher import Publisher
    pubs, sources, truth = [], [], []
    for c in range(n_couches):
        rec = _record("motion", max(seconds, 1.0) + 5.0, seed + 7 * c, fs_hz=fs_hz)
        pub = Publisher(f"{prefix}{c + 1}", endpoint, key_dir=key_dir, insecure=insecure, ctx=ctx)
        out = pub.stream("markers", rec.fs_hz, rec.channels, rec.units, modality="motion")
        pubs.append(pub)
        sources.append(SimSource(out, rec.samples, rec.fs_hz, 1, loop_gap=True))
        truth.append(rec)
    return pubs, sources, truth


def run_sources(sources, seconds: float | None = None, stop: threading.Event | None = None,
                t_start: float | None = None, progress=None):
    """Send every source in real time until ``seconds`` passed or ``stop`` is set; ``progress(now)``, when given,
    is called after each round of sends (``replay``'s progress line)."""
    import gc
    gc.freeze()   # full collections skip the records and imports made so far (no stalls of the clock)
    stop = stop or threading.Event()
    t_start = time.time() if t_start is None else t_start
    for s in sources:
        s.t_start = t_start
    end = None if seconds is None else t_start + seconds
    while not stop.is_set():
        now = time.time()
        if end is not None and now >= end:
            break
        nxt = float("inf")
        for s in sources:
            while s.due(now) and not stop.is_set():   # a blocked send must not delay a stop
                s.send()
            nxt = min(nxt, s.next_s())
        if progress is not None:
            progress(now)
        time.sleep(max(0.0, min(nxt - time.time(), 0.05)))
    if end is not None:   # frames due before the end: a sleep that overran it skipped a record's last frame
        for s in sources:
            while s.due(end) and not stop.is_set():
                s.send()


def start_thread(sources, seconds=None, stop=None, t_start=None, name="biosig-sim") -> threading.Thread:
    th = threading.Thread(target=run_sources, args=(sources, seconds, stop, t_start), name=name, daemon=True)
    th.start()
    return th
