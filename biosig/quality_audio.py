"""Audio window quality: clipping and channels that cancel when mixed (:func:`biosig.quality.block_quality`).

Audio has no morphology model: a window scores its finite fraction (0 when flat). Two faults leave a
window neither missing nor flat and were scored 1.0 (the lung-sound rehearsal, issue 14):

* Clipping: a stethoscope recording at 8 x its level, 5.1 % of its samples held at full scale: the
  crackles and wheezes above the clipping are gone. :func:`clipped_share` counts the samples held at
  the rail two ways, and the larger count is the share: equal neighbours at the window's own peak
  (:data:`RAIL_REL`: any scale, so float files and files normalised after recording too, at the
  recorded rate), and samples at or above :data:`RAIL_FS` of full scale where the window is in
  full-scale units (a peak of at most :data:`FS_UNITS_MAX`): resampling (``embed``, ``score`` and
  ``serve`` score 16 kHz windows) turns a flat top into ripple around the rail and overshoot above
  it (a clipped 4 kHz recording's peak was 1.6 at 16 kHz), so equal neighbours are no longer there.
  Quality loses :data:`CLIP_WEIGHT` x the share beyond :data:`CLIP_FREE_SHARE` (:func:`clipping_factor`):
  a cough's peak grazing the rail costs nothing, 1 % clipped is 0.9 (the publish threshold of
  :data:`biosig.measures_window.MIN_QUALITY` for audio), 5 % is 0.5.
* Cancelling channels: every audio pipeline here embeds the mean of the channels (the ``mono`` and
  ``logmel`` steps); a stereo file with one channel in opposite polarity mixed to near silence.
  Where a window still has its channels (``window_quality`` of a read stereo record), a mix
  :data:`CANCEL_RMS_RATIO` (-20 dB) or more below them scores 0
  (:func:`mix_factor`). ``embed`` and ``score`` score the window after ``mono``: the recorded
  :data:`CANCEL_BLOCK_S` blocks that cancel are marked missing first (:func:`mark_cancelled_spans`).
  ``serve`` does the same for a stream of two or more channels mixed by its model's pipeline: it
  keeps the recorded samples of the block not yet complete, judges each block once as it completes
  and marks a window's samples from cancelled blocks as gaps, the ``flat`` mask ECG and PPG windows
  carry (:meth:`streams.ingest.InputStream.windows`); the block the window ends in is judged on the
  samples recorded so far, all a causal runtime knows at the window's end. An anti-phase stereo
  stream was published at quality 1.0; now 0, as ``embed`` and ``score`` give the same samples.

What the windows after ``mono`` and resampling cannot show: a clipped file normalised after
recording (its rail no longer full scale, its flat tops ripple) scored 1.0 at 16 kHz and 0-0.03 at
its own rate (synthetic lung sounds at 8 x, scaled to half); and ``--audio-fmax-hz`` low-passes the
windows, which smears a flat top further (a 44.1 kHz file with 7.5 % of its samples clipped: 0.30
over the whole band, 0.44 at 0-1800 Hz). ``embed``, ``score`` and ``probe`` therefore also count the
clipped share on the recorded samples of each window's span (:func:`recorded_clipped_shares`, the
same rule at the file's own rate, each channel before the mix) and the larger share counts. ``serve``
scores the window alone (a device stream is neither normalised after recording nor band-limited).
"""
from __future__ import annotations

import numpy as np

#: A channel mix this far below its channels (RMS ratio, -20 dB) has lost the sound: two equal
#: uncorrelated channels mix at -3 dB, copies of one sound at 0 dB; only opposite polarity cancels
#: (the audio reader's warning uses it too: ``biosig.readers.audio``).
CANCEL_RMS_RATIO = 0.1

#: A sample equal to the one before it at 0.99 x the window's peak or above is held at the rail.
RAIL_REL = 0.99
#: A run of held samples counts where the step into or out of it is more than this many quanta.
RAIL_STEP_QUANTA = 4.0
#: In full-scale units a sample at 0.98 or above is at the rail (after 4 or 10 kHz -> 16 kHz
#: resampling, the share at or above 0.98 was within 1.5 x the recorded held share, synthetic lung
#: sounds clipped at 4 and 8 x their level).
RAIL_FS = 0.98
#: A window whose peak is at most this is taken to be in full-scale units (a clipped file's overshoot
#: after resampling included); above it (int16 counts as floats, volts x 1000) only held samples count.
FS_UNITS_MAX = 2.0
#: Clipped shares up to this cost nothing (the reader's own "clipped" line starts above it).
CLIP_FREE_SHARE = 0.001
#: Quality lost per unit of clipped share beyond :data:`CLIP_FREE_SHARE`.
CLIP_WEIGHT = 10.0


def clipped_share(x: np.ndarray) -> float:
    """Share of the finite samples of one audio channel ``x`` (W,) held at the rail (module docstring).
    Cheap for the usual window: the samples near its peak are few, and a peak under :data:`RAIL_FS`
    skips the full-scale count."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    peak = float(a.max()) if len(a) else 0.0
    if not np.isfinite(peak):
        x = x[np.isfinite(x)]
        a = np.abs(x)
        peak = float(a.max()) if len(a) else 0.0
    if len(x) < 2 or peak == 0.0:
        return 0.0
    top = np.flatnonzero(a[1:] >= RAIL_REL * peak) + 1
    top = top[x[top] == x[top - 1]]
    held = 0
    if len(top):   # each run's samples equal to the one before, and that one: the run's first
        top = top[_steep_runs(x, top)]
        held = len(top) + int(np.count_nonzero(np.diff(top, prepend=-2) != 1))
    at_fs = int(np.count_nonzero(a >= RAIL_FS)) if RAIL_FS <= peak <= FS_UNITS_MAX else 0
    return max(held, at_fs) / len(x)


def _steep_runs(x: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Which ``held`` samples (each equal to the one before it, at the peak) lie in a run entered or
    left by a step of more than :data:`RAIL_STEP_QUANTA` quanta of ``x`` (its smallest non-zero
    step): a rail cuts a waveform that was still moving; a smooth peak of a quantised recording is
    reached a quantum at a time. Without this a 50 Hz hum at 500 counts of a 16-bit file at 16 kHz
    (-36 dBFS, nothing clipped) scored 0.64: each of its 100 crests is a few equal samples."""
    d = np.abs(np.diff(x))
    pos = d[d > 0]
    if not len(pos):
        return np.zeros(len(held), bool)
    steep = RAIL_STEP_QUANTA * float(pos.min())
    new = np.ones(len(held), bool)   # the first held sample of each run (which began one before it)
    new[1:] = held[1:] != held[:-1] + 1
    run_id = np.cumsum(new) - 1
    starts, ends = held[new], held[np.r_[new[1:], True]]
    entry = np.where(starts >= 2, d[np.maximum(starts - 2, 0)], 0.0)           # step into the run's first sample
    leave = np.where(ends + 1 < len(x), d[np.minimum(ends, len(d) - 1)], 0.0)  # step out after its last
    return ((entry > steep) | (leave > steep))[run_id]


def recorded_clipped_shares(recorded, t0_s, window_s: float) -> np.ndarray:
    """float64 (W,): the clipped share (:func:`clipped_share`, the largest over the channels) of the
    recorded samples of each window from ``t0_s`` (W,) to ``t0_s + window_s`` (seconds from the
    first sample) of ``recorded``, the audio :class:`biosig.record.Record` at its own rate before
    any resampling, band limit or mix (module docstring)."""
    t0 = np.asarray(t0_s, dtype=np.float64).reshape(-1)
    out = np.zeros(len(t0))
    x = np.asarray(recorded.samples)   # each span is made float64 by clipped_share: not the whole record
    if x.ndim == 1:
        x = x[None]
    n, fs_hz = x.shape[1], float(recorded.fs_hz)
    for i, t in enumerate(t0):
        a, b = max(0, int(np.floor(t * fs_hz))), min(n, int(np.ceil((t + window_s) * fs_hz)))
        if b - a >= 2:
            out[i] = max(clipped_share(row[a:b]) for row in x)
    return out


def clipping_factor(share: float) -> float:
    """What a clipped ``share`` leaves of a window's quality, in [0, 1]."""
    return float(np.clip(1.0 - CLIP_WEIGHT * (share - CLIP_FREE_SHARE), 0.0, 1.0))


def mix_ratio(x: np.ndarray) -> float:
    """RMS of the mean of the channels of ``x`` (C, W) over the RMS of the channels, on the samples
    where every channel is finite; 1.0 where there is nothing to compare (one channel, silence)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        return 1.0
    flat = x.ravel()
    ch2 = float(flat @ flat)
    if not np.isfinite(ch2):
        x = x[:, np.isfinite(x).all(axis=0)]
        flat = x.ravel()
        ch2 = float(flat @ flat)
    if ch2 == 0.0:
        return 1.0
    mix = x.mean(axis=0)
    return float(np.sqrt(float(mix @ mix) * x.shape[0] / ch2))


def mix_factor(x: np.ndarray) -> float:
    """0.0 when the channels of ``x`` (C, W) cancel when mixed (:data:`CANCEL_RMS_RATIO`), else 1.0."""
    return 0.0 if mix_ratio(x) < CANCEL_RMS_RATIO else 1.0


#: Blocks (s of the recording) in which :func:`mark_cancelled_spans` compares the mix to the channels.
CANCEL_BLOCK_S = 0.25


def cancel_block_n(fs_hz: float) -> int:
    """Recorded samples in one :data:`CANCEL_BLOCK_S` block at ``fs_hz``."""
    return max(1, int(round(CANCEL_BLOCK_S * fs_hz)))


def cancelled_blocks(x: np.ndarray, block_n: int) -> np.ndarray:
    """bool per block of ``block_n`` samples of ``x`` (C, N), the first at sample 0 and the last
    possibly shorter: True where the channels cancel when mixed (:func:`mix_factor`)."""
    n_blocks = -(-x.shape[1] // block_n)
    return np.array([mix_factor(x[:, b * block_n:(b + 1) * block_n]) == 0.0 for b in range(n_blocks)], dtype=bool)


def source_blocks(k: np.ndarray, fs_in_hz: float, fs_out_hz: float, block_n: int) -> np.ndarray:
    """The block (of ``block_n`` recorded samples at ``fs_in_hz``) that output samples ``k`` (int, of
    a pipeline run at ``fs_out_hz``, counted from the same start) come from: recorded sample
    ``floor(k * fs_in / fs_out)``."""
    return (np.asarray(k) * (fs_in_hz / fs_out_hz)).astype(np.int64) // block_n


def mark_cancelled_spans(clean, raw, modality: str):
    """``clean`` (a preprocessed audio :class:`biosig.record.Record`, mixed to one channel) with NaN
    where it comes from a :data:`CANCEL_BLOCK_S` block of ``raw`` (the recorded Record) whose channels
    cancel when mixed (:func:`mix_factor`); ``clean`` itself otherwise. ``embed`` and ``score``
    compute quality after the ``mono`` step, where a stereo file with one channel in opposite
    polarity is near silence at quality 1.0; this gives its windows quality 0 (the finite share),
    as :func:`biosig.flatline.mark_flat_runs` does for flat runs. ``serve`` marks the same blocks in
    its windows (:meth:`streams.ingest.InputStream.windows`, with these functions)."""
    if modality != "audio" or raw.n_channels < 2 or clean.n_samples == 0:
        return clean
    x = np.asarray(raw.samples, dtype=np.float64)
    block = cancel_block_n(raw.fs_hz)
    bad = cancelled_blocks(x, block)
    if not bad.any():
        return clean
    src = np.minimum(source_blocks(np.arange(clean.n_samples), raw.fs_hz, clean.fs_hz, block), len(bad) - 1)
    out = np.array(clean.samples, dtype=np.float32, copy=True)
    out[:, bad[src]] = np.nan
    return clean.replace(samples=out)
