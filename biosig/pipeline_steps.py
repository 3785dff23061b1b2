"""The preprocessing steps a :class:`biosig.pipeline.Pipeline` is made of.

Each step is registered in :data:`STEPS` with its parameters (type and default), whether an
exported model performs it itself (``in_model``), an offline function ``(Record, params) ->
Record`` (filters zero-phase) and a streaming factory ``(params, fs_hz, n_channels, channels) ->
op`` whose ``op.process(chunk (C, n)) -> (C', m)`` is causal with carried state.

Window-level steps (``detrend``, ``zscore``, ``minmax``) normalise whatever block they are given:
the whole record offline, each chunk in a stream. Feed them whole windows.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from biosig.errors import PipelineError
from biosig.record import Record

log = logging.getLogger(__name__)

REQUIRED = object()


def _filters():
    """:mod:`biosig.filters`, imported on first use: it loads ``scipy.signal`` (~1 s), which
    building, hashing and serialising pipelines do not need."""
    from biosig import filters

    return filters


@dataclass(frozen=True)
class StepSpec:
    """How one step is checked, applied offline and run in a stream."""

    name: str
    params: dict[str, tuple[Any, Any]]  # param -> (type or tuple of accepted values, default)
    offline: Callable[[Record, dict], Record]
    stream: Callable[[dict, float, int, tuple], Any]
    out_fs_hz: Callable[[dict, float], float] = lambda p, fs: fs
    in_model: bool = False
    doc: str = ""


STEPS: dict[str, StepSpec] = {}


def register(spec: StepSpec) -> StepSpec:
    STEPS[spec.name] = spec
    return spec


def normalise_params(name: str, params: dict) -> dict:
    """Check ``params`` of step ``name`` and fill defaults; returns JSON-ready plain values."""
    if name not in STEPS:
        raise PipelineError(f"unknown pipeline step {name!r}; accepted steps: {', '.join(sorted(STEPS))}")
    spec = STEPS[name]
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise PipelineError(f"step {name!r}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                            f"accepted: {', '.join(spec.params) or '(none)'}")
    out = {}
    for key, (kind, default) in spec.params.items():
        value = params.get(key, default)
        if value is REQUIRED:
            raise PipelineError(f"step {name!r}: parameter {key!r} is required; parameters: {', '.join(spec.params)}")
        if value is None and default is not None:   # None only where it is the default (clip's bounds)
            hint = "it is required" if default is REQUIRED else f"leave it out for the default, {default!r}"
            raise PipelineError(f"step {name!r}: {key}=None is not a value ({hint})")
        out[key] = _check_range(name, key, _coerce(name, key, kind, value))
    return out


_POSITIVE = ("order", "n_mels", "n_fft", "hop", "n_points", "q", "eps", "log_eps")
#: Largest sizes: beyond them a value is a typo that would exhaust memory, not a setting
#: (a Butterworth filter of order 32 is already far past any physiological use).
_MAXIMUM = {"order": 32, "n_mels": 4096, "n_fft": 1 << 20, "hop": 1 << 20, "n_points": 1 << 20}


def _check_range(step: str, key: str, value):
    """Frequencies (``*_hz``), durations (``*_s``), sizes and epsilons must be positive (``fmin_hz``
    may be 0), sizes at most :data:`_MAXIMUM`."""
    if value is None or isinstance(value, (str, list)):
        return value
    if key == "fmin_hz":
        ok = value >= 0
    elif key.endswith(("_hz", "_s")) or key in _POSITIVE:
        ok = value > 0
    else:
        return value
    if not ok:
        raise PipelineError(f"step {step!r}: {key}={value!r} must be {'>= 0' if key == 'fmin_hz' else '> 0'}")
    if key in _MAXIMUM and value > _MAXIMUM[key]:
        raise PipelineError(f"step {step!r}: {key}={value!r} is larger than {_MAXIMUM[key]:,}")
    return value


def _coerce(step: str, key: str, kind, value):
    if value is None:
        return None
    try:
        if isinstance(kind, tuple):
            if value not in kind:
                raise ValueError(f"accepted: {', '.join(map(repr, kind))}")
            return value
        if kind is float:
            v = float(value)
            if not np.isfinite(v):
                raise ValueError("must be finite")
            return v
        if kind is int:
            if isinstance(value, (bool, np.bool_)) or float(value) != int(value):   # order=True was order 1
                raise ValueError("must be an integer")
            return int(value)
        if kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError("must be true or false")
            return bool(value)
        if kind is list:
            # one name or index is one item: "MLII" was ["M", "L", "I", "I"], and 0.5 was channel 0
            items = [value] if isinstance(value, (str, int, np.integer)) and not isinstance(value, bool) else list(value)
            for v in items:
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, (str, int, np.integer)):
                    raise ValueError("each item is a channel name (str) or index (int)")
            return [v if isinstance(v, str) else int(v) for v in items]
        return kind(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise PipelineError(f"step {step!r}: bad {key}={value!r} ({exc})") from None


# ---------------------------------------------------------------------------------- filters
def _sos(name: str, p: dict, fs_hz: float) -> np.ndarray:
    if name == "notch":
        return _filters().design_sos("notch", fs_hz, freq_hz=p["freq_hz"], q=p["q"])
    return _filters().design_sos(name, fs_hz, low_hz=p.get("low_hz"), high_hz=p.get("high_hz"), order=p["order"])


def _filter_spec(name: str, params: dict, doc: str) -> StepSpec:
    def offline(rec: Record, p: dict) -> Record:
        if rec.times_irregular:   # by index, the samples either side of a hole in time were filtered as neighbours
            raise PipelineError(f"{name}: the record has irregular sample times (times_s); put it on a uniform grid "
                                "first (biosig.windows.uniform_record: holes in time become gaps)")
        return rec.replace(samples=_filters().sos_filtfilt(_sos(name, p, rec.fs_hz), rec.samples))

    def stream(p, fs_hz, n_channels, channels):
        return _filters().SosStream(_sos(name, p, fs_hz), n_channels)

    return register(StepSpec(name, params, offline, stream, doc=doc))


_filter_spec("bandpass", {"low_hz": (float, REQUIRED), "high_hz": (float, REQUIRED), "order": (int, 4)},
             "Butterworth band-pass (order per side; zero-phase offline doubles the effective order)")
_filter_spec("highpass", {"low_hz": (float, REQUIRED), "order": (int, 4)}, "Butterworth high-pass")
_filter_spec("lowpass", {"high_hz": (float, REQUIRED), "order": (int, 4)}, "Butterworth low-pass")
_filter_spec("notch", {"freq_hz": (float, REQUIRED), "q": (float, 30.0)}, "IIR notch (mains hum)")


# ---------------------------------------------------------------------------------- resample
def _resample_offline(rec: Record, p: dict) -> Record:
    if rec.times_s is not None:
        raise PipelineError("resample: the record has irregular sample times (times_s); "
                            "it needs uniformly sampled data")
    up, down = _filters().resample_ratio(rec.fs_hz, p["fs_hz"])
    samples = _filters().resample(rec.samples, rec.fs_hz, p["fs_hz"])
    ann = rec.annotations
    if ann is not None:
        ann = type(ann)(sample=resampled_annotation_samples(ann.sample, up, down, rec.n_samples, samples.shape[1]),
                        symbol=ann.symbol, aux=ann.aux, source=ann.source)
    return rec.replace(samples=samples, fs_hz=rec.fs_hz * up / down, annotations=ann)


def resampled_annotation_samples(sample: np.ndarray, up: int, down: int, n_in: int, n_out: int) -> np.ndarray:
    """Annotation sample indices at ``up / down`` times the rate: the nearest output sample, and for an
    annotation inside the record (``0 <= sample < n_in``) one inside the output (a beat on the last
    samples rounded to ``n_out``, one past the end: 3999 of 4000 at 1000 Hz became 1000 of 1000 at 250 Hz)."""
    sample = np.asarray(sample, dtype=np.int64)
    out = np.round(sample * up / down).astype(np.int64)
    inside = (sample >= 0) & (sample < n_in)
    out[inside] = np.clip(out[inside], 0, max(n_out - 1, 0))
    return out


register(StepSpec(
    "resample", {"fs_hz": (float, REQUIRED)}, _resample_offline,
    lambda p, fs, c, names: _filters().ResampleStream(fs, p["fs_hz"], c),
    out_fs_hz=lambda p, fs: fs * _filters().resample_ratio(fs, p["fs_hz"])[0] / _filters().resample_ratio(fs, p["fs_hz"])[1],
    doc="polyphase resampling (zero-phase offline, causal FIR in a stream)"))


# ---------------------------------------------------------------------------------- window-level
class _Blockwise:
    """A stream op that applies a stateless block function to each chunk. ``chunk_invariant``: the
    function works sample by sample (clip, a channel choice, mono), so how a stream's samples are
    chunked does not change its output; a z-score, min-max or detrend normalises each chunk."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], chunk_invariant: bool = False):
        self.fn = fn
        self.chunk_invariant = chunk_invariant

    def reset(self) -> None:
        pass

    def process(self, chunk: np.ndarray) -> np.ndarray:
        return self.fn(np.asarray(chunk))


def detrend_block(x: np.ndarray, kind: str = "linear") -> np.ndarray:
    """Remove the least-squares line (or the mean) per channel of (C, T), ignoring NaN."""
    out = np.array(x, dtype=x.dtype, copy=True)
    t = np.arange(x.shape[1], dtype=np.float64)
    for c in range(x.shape[0]):
        ok = np.isfinite(x[c])
        if ok.sum() < 2:
            continue
        if kind == "constant":
            out[c] = x[c] - np.mean(x[c, ok])
        else:
            slope, icpt = np.polyfit(t[ok], x[c, ok].astype(np.float64), 1)
            out[c] = x[c] - (slope * t + icpt)
    return out


def zscore_block(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """(x - mean) / (std + eps) per channel of (C, T), NaN-aware (all-NaN channels stay NaN)."""
    if x.shape[1] == 0:
        return x.copy()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mu = np.nanmean(x, axis=1, keepdims=True)
        sd = np.nanstd(x, axis=1, keepdims=True)
    return ((x - mu) / (sd + eps)).astype(x.dtype, copy=False)


def minmax_block(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """(x - min) / (max - min + eps) per channel of (C, T), into [0, 1], NaN-aware."""
    if x.shape[1] == 0:
        return x.copy()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanmin(x, axis=1, keepdims=True)
        hi = np.nanmax(x, axis=1, keepdims=True)
    return ((x - lo) / (hi - lo + eps)).astype(x.dtype, copy=False)


def _block_spec(name, params, fn, in_model, doc, chunk_invariant=False):
    register(StepSpec(name, params, lambda rec, p: rec.replace(samples=fn(rec.samples, p)),
                      lambda p, fs, c, names: _Blockwise(lambda x: fn(x, p), chunk_invariant),
                      in_model=in_model, doc=doc))


_block_spec("detrend", {"type": (("linear", "constant"), "linear")},
            lambda x, p: detrend_block(x, p["type"]), False, "remove a line or the mean (window-level)")
_block_spec("zscore", {"eps": (float, 1e-8)}, lambda x, p: zscore_block(x, p["eps"]), True,
            "per-channel z-score of each window")
_block_spec("minmax", {"eps": (float, 1e-8)}, lambda x, p: minmax_block(x, p["eps"]), True,
            "per-channel min-max scaling of each window to [0, 1]")


def _clip(x, p):
    lo = -np.inf if p["low"] is None else p["low"]
    hi = np.inf if p["high"] is None else p["high"]
    if lo > hi:
        raise PipelineError(f"clip: low={lo} is above high={hi}")
    return np.clip(x, lo, hi)


_block_spec("clip", {"low": (float, None), "high": (float, None)}, _clip, False, "clip to [low, high]",
            chunk_invariant=True)


# ---------------------------------------------------------------------------------- channels
def _resolve_channels(wanted: list, channels: tuple | None, n_channels: int) -> list[int]:
    idx = []
    for c in wanted:
        if isinstance(c, int):
            if not 0 <= c < n_channels:
                raise PipelineError(f"select_channels: index {c} out of range 0..{n_channels - 1}")
            idx.append(c)
        elif channels is not None and c in channels:
            idx.append(list(channels).index(c))
        else:
            known = ", ".join(channels) if channels else "(names unknown: give indices or channels=)"
            raise PipelineError(f"select_channels: no channel {c!r}; channels are {known}")
    if not idx:
        raise PipelineError("select_channels: needs at least one channel")
    return idx


def _select_offline(rec: Record, p: dict) -> Record:
    idx = _resolve_channels(p["channels"], rec.channels, rec.n_channels)
    return rec.select(idx).replace(modality=rec.modality)


register(StepSpec(
    "select_channels", {"channels": (list, REQUIRED)}, _select_offline,
    lambda p, fs, c, names: _Blockwise(lambda x, i=_resolve_channels(p["channels"], names, c): x[i], True),
    doc="keep the given channels (names or indices), in that order"))


def _mono(rec: Record, p: dict) -> Record:
    x = rec.samples.mean(axis=0, keepdims=True)
    return rec.replace(samples=x, channels=("mono",), units=(rec.units[0],), modality=rec.modality)


register(StepSpec("mono", {}, _mono, lambda p, fs, c, names: _Blockwise(lambda x: x.mean(axis=0, keepdims=True), True),
                  doc="average all channels into one"))


# ---------------------------------------------------------------------------------- audio, spiro
from biosig.pipeline_audio import LOGMEL_PARAMS, LogMelStream, logmel_offline  # noqa: E402
from biosig.spirometry import FLOW_VOLUME_PARAMS, FlowVolumeStream, flow_volume_offline  # noqa: E402

register(StepSpec("logmel", LOGMEL_PARAMS, logmel_offline,
                  lambda p, fs, c, names: LogMelStream(p, fs, c),
                  out_fs_hz=lambda p, fs: fs / p["hop"], in_model=True,
                  doc="log mel spectrogram of the channel mean (librosa framing, log(power + log_eps))"))
register(StepSpec("flow_volume", FLOW_VOLUME_PARAMS, flow_volume_offline,
                  lambda p, fs, c, names: FlowVolumeStream(p, fs, c),
                  doc="spirogram: monotonic volume and flow by differencing; flow-volume curve in metadata"))


# ---------------------------------------------------------------------------------- ECG polarity
from biosig.polarity import POLARITY_PARAMS, PolarityStream, polarity_block  # noqa: E402


def _polarity_offline(rec: Record, p: dict) -> Record:
    x, signs = polarity_block(rec.samples, rec.fs_hz, p["window_s"])
    flipped = [name for name, s in zip(rec.channels, signs) if s < 0]
    meta = dict(rec.metadata, polarity_flipped=flipped) if flipped else rec.metadata
    return rec.replace(samples=x, metadata=meta)


register(StepSpec("polarity", POLARITY_PARAMS, _polarity_offline,
                  lambda p, fs, c, names: PolarityStream(p, fs, c),
                  doc="turn an upside-down ECG lead upright (NeuroKit2's ecg_invert rule on 2 s windows; "
                      "offline per record, in a stream over the last history_s)"))
