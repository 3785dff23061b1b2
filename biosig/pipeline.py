"""Preprocessing as data: a :class:`Pipeline` is a tuple of named :class:`Step` s with parameters.

It serialises to canonical JSON (sorted keys, no whitespace, defaults filled in), has a stable
16-hex-digit hash, and runs two ways that share one definition:

* :meth:`Pipeline.apply` offline on a :class:`~biosig.record.Record` (filters zero-phase);
* :meth:`Pipeline.stream` as a :class:`StreamingPipeline` whose ``process(chunk)`` is causal with
  carried state (chunk sizes do not change the output).

Steps and their parameters are listed in :data:`biosig.pipeline_steps.STEPS` (see
:func:`available_steps`); unknown names raise :class:`~biosig.errors.PipelineError` listing the
accepted ones.

Example
-------
>>> p = Pipeline.of(("bandpass", {"low_hz": 0.5, "high_hz": 40}), ("resample", {"fs_hz": 250}))
>>> Pipeline.from_json(p.to_json()) == p
True
>>> p.output_fs_hz(360.0)
250.0
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field

import numpy as np

from biosig.arguments import positive_number, whole_number
from biosig.errors import PipelineError
from biosig.modality import check_modality
from biosig.pipeline_steps import REQUIRED, STEPS, normalise_params
from biosig.record import Record, require_record
from biosig.windows import DEFAULT_WINDOW_S, default_window  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

PIPELINE_FORMAT = 1
MAINS_HZ = 50.0  # Europe/Asia/Africa/Australia; pass mains_hz=60 for the Americas


def available_steps() -> dict[str, dict]:
    """``{step name: {"params": {name: default or "required"}, "in_model": bool, "doc": str}}``."""
    out = {}
    for name, spec in sorted(STEPS.items()):
        params = {k: ("required" if d is REQUIRED else d) for k, (_, d) in spec.params.items()}
        out[name] = {"params": params, "in_model": spec.in_model, "doc": spec.doc}
    return out


@dataclass(frozen=True)
class Step:
    """One named preprocessing step. ``params`` are checked and completed with defaults."""

    name: str
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise PipelineError(f"step name must be a string, got {self.name!r}; accepted steps: {', '.join(sorted(STEPS))}")
        if self.params is not None and not isinstance(self.params, dict):
            raise PipelineError(f"step {self.name!r}: params must be a mapping of name to value, got {self.params!r}")
        object.__setattr__(self, "params", normalise_params(self.name, dict(self.params or {})))

    def __hash__(self):
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    @property
    def in_model(self) -> bool:
        """True when an exported model performs this step itself (per-window normalisation, log-mel)."""
        return STEPS[self.name].in_model

    def to_dict(self) -> dict:
        return {"name": self.name, "params": dict(self.params)}

    def apply(self, record: Record) -> Record:
        return STEPS[self.name].offline(record, self.params)

    def output_fs_hz(self, fs_hz: float) -> float:
        return float(STEPS[self.name].out_fs_hz(self.params, float(fs_hz)))


@dataclass(frozen=True)
class Pipeline:
    """An ordered chain of steps. Immutable; hashable by :attr:`hash`."""

    steps: tuple[Step, ...] = ()

    def __post_init__(self):
        steps = []
        for s in self.steps:
            if isinstance(s, Step):
                steps.append(s)
            elif isinstance(s, (tuple, list)) and 1 <= len(s) <= 2:
                steps.append(Step(*s))
            elif isinstance(s, dict) and set(s) <= {"name", "params"} and "name" in s:
                steps.append(Step(**s))
            else:
                raise PipelineError(f"a pipeline step must be Step(name, params), (name, params) or "
                                    f"{{'name': ..., 'params': ...}}; got {s!r}")
        steps = tuple(steps)
        object.__setattr__(self, "steps", steps)

    @classmethod
    def of(cls, *steps) -> "Pipeline":
        """``Pipeline.of(("bandpass", {...}), Step("zscore"), ...)``."""
        return cls(tuple(steps))

    def __len__(self) -> int:
        return len(self.steps)

    def __add__(self, other: "Pipeline") -> "Pipeline":
        return Pipeline(self.steps + other.steps)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        return {"format": PIPELINE_FORMAT, "steps": [s.to_dict() for s in self.steps]}

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, compact separators, defaults filled in."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "Pipeline":
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise PipelineError(f"pipeline JSON does not parse: {exc}") from None
        if isinstance(data, list):
            data = {"format": PIPELINE_FORMAT, "steps": data}
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
            raise PipelineError('pipeline JSON must be {"format": 1, "steps": [{"name": ..., "params": {...}}, ...]}')
        if data.get("format", PIPELINE_FORMAT) != PIPELINE_FORMAT:
            raise PipelineError(f"pipeline format {data.get('format')!r} unknown; this biosig reads format {PIPELINE_FORMAT}")
        steps = []
        for i, s in enumerate(data["steps"]):
            if not isinstance(s, dict) or "name" not in s or set(s) - {"name", "params"}:
                raise PipelineError(f"pipeline step #{i} must be {{'name': ..., 'params': {{...}}}}, got {s!r}")
            steps.append(Step(s["name"], s.get("params") or {}))
        return cls(tuple(steps))

    @property
    def hash(self) -> str:
        """First 16 hex digits of the SHA-256 of :meth:`to_json`."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Pipeline({' -> '.join(s.name for s in self.steps) or 'identity'}, hash={self.hash})"

    # ------------------------------------------------------------------ running
    def apply(self, record: Record) -> Record:
        """Run every step offline (zero-phase filters); records the pipeline in ``metadata``."""
        out = require_record(record, "Pipeline.apply()")
        for step in self.steps:
            out = step.apply(out)
        meta = dict(out.metadata)
        meta["pipeline"] = meta.get("pipeline", []) + [self.hash] if self.steps else meta.get("pipeline", [])
        return out.replace(metadata=meta)

    def output_fs_hz(self, input_fs_hz: float) -> float:
        fs = positive_number(input_fs_hz, "input_fs_hz", "sampling rate", PipelineError)
        for step in self.steps:
            fs = step.output_fs_hz(fs)
        return fs

    def stream(self, fs_hz: float, n_channels: int, channels: tuple[str, ...] | None = None) -> "StreamingPipeline":
        """A causal, stateful runner for chunks shaped (n_channels, n) at ``fs_hz``."""
        return StreamingPipeline(self, fs_hz, n_channels, channels)

    def split_in_model(self) -> tuple["Pipeline", "Pipeline"]:
        """``(outside, in_model)``: ``in_model`` is the longest tail of steps an exported model does
        itself (zscore, minmax, logmel); everything before it stays outside, so
        ``outside + in_model == self`` and running them in turn gives the same result."""
        i = len(self.steps)
        while i > 0 and self.steps[i - 1].in_model:
            i -= 1
        return Pipeline(self.steps[:i]), Pipeline(self.steps[i:])


class StreamingPipeline:
    """Runs a pipeline chunk by chunk: ``process(chunk (C, n)) -> (C_out, m)``, state carried.

    Attributes
    ----------
    fs_out_hz : rate of the output samples (changed by ``resample`` and ``logmel``).
    n_channels_out : channels of the output (changed by ``select_channels``, ``mono``, ``logmel``,
        ``flow_volume``).
    delay_s : group delay of the causal resampling FIRs in the chain, in seconds: output sample
        ``k`` mostly reflects the input around ``k / fs_out_hz - delay_s``.
    """

    def __init__(self, pipeline: Pipeline, fs_hz: float, n_channels: int, channels=None):
        self.pipeline = pipeline
        self.fs_in_hz = positive_number(fs_hz, "fs_hz", "sampling rate", PipelineError)
        self.n_channels_in = whole_number(n_channels, "n_channels", minimum=1, error=PipelineError)
        from biosig.filters import SosStream

        self.ops = []
        fs, c, names = self.fs_in_hz, self.n_channels_in, tuple(channels) if channels else None
        for step in pipeline.steps:
            op = STEPS[step.name].stream(step.params, fs, c, names)
            if isinstance(op, SosStream) and self.ops and isinstance(self.ops[-1], SosStream):
                # adjacent IIR steps run as one cascade: one sosfilt call per chunk instead of two
                prev = self.ops.pop()
                op = SosStream(np.vstack([prev.sos, op.sos]), c, init=prev.init)
            self.ops.append(op)
            probe = op.process(np.zeros((c, 0), dtype=np.float32))
            if probe.shape[0] != c:
                names = None
            c, fs = probe.shape[0], step.output_fs_hz(fs)
        self.fs_out_hz, self.n_channels_out = fs, c
        # causal resampling FIRs delay the output by their group delay; IIR filters add a
        # frequency-dependent delay that is not counted here
        self.delay_s = float(sum(getattr(op, "delay_s", 0.0) for op in self.ops))

    @property
    def chunk_invariant(self) -> bool:
        """Whether the output is the same however the input is chunked: every filter and resampler
        carries its state across chunks; a z-score, min-max or detrend step normalises each chunk."""
        return all(getattr(op, "chunk_invariant", True) for op in self.ops)

    def reset(self) -> None:
        for op in self.ops:
            op.reset()

    def process(self, chunk: np.ndarray) -> np.ndarray:
        x = np.asarray(chunk)
        if x.dtype.kind not in "biuf":
            raise PipelineError(f"chunk must hold real numbers, got an array of dtype {x.dtype}")
        x = x.astype(np.float32, copy=False)
        if x.ndim != 2 or x.shape[0] != self.n_channels_in:
            raise PipelineError(f"chunk shaped {x.shape}; this stream takes ({self.n_channels_in}, n)")
        for op in self.ops:
            x = op.process(x)
        return np.asarray(x, dtype=np.float32)


# ---------------------------------------------------------------------------------- defaults
def default_pipeline(modality: str, mains_hz: float = MAINS_HZ) -> Pipeline:
    """The default chain per modality (DESIGN.md section 2).

    * ecg: resample 250 Hz, band-pass 0.5-40 Hz (order 4), notch at ``mains_hz`` (50 Hz by
      default: most of the world; the 40 Hz low-pass already damps mains by >20 dB, the notch
      removes the rest), z-score;
    * ppg: resample 125 Hz, band-pass 0.5-8 Hz, z-score;
    * resp: resample 25 Hz, band-pass 0.05-1 Hz (order 2: 3-60 breaths/min), z-score;
    * audio: mono, resample 16 kHz, log-mel (64 bins, n_fft 1024, hop 512, 50-8000 Hz);
    * spiro: resample 100 Hz, flow_volume (monotonic volume, flow);
    * motion, other: no preprocessing (positions in mm are used as they are).

    Resampling comes first: it low-passes anyway and makes the later filters cheaper.
    """
    check_modality(modality)
    if modality == "ecg":
        return Pipeline.of(("resample", {"fs_hz": 250}), ("bandpass", {"low_hz": 0.5, "high_hz": 40.0, "order": 4}),
                           ("notch", {"freq_hz": mains_hz, "q": 30.0}), ("zscore", {}))
    if modality == "ppg":
        return Pipeline.of(("resample", {"fs_hz": 125}), ("bandpass", {"low_hz": 0.5, "high_hz": 8.0, "order": 4}),
                           ("zscore", {}))
    if modality == "resp":
        return Pipeline.of(("resample", {"fs_hz": 25}), ("bandpass", {"low_hz": 0.05, "high_hz": 1.0, "order": 2}),
                           ("zscore", {}))
    if modality == "audio":
        return Pipeline.of(("mono", {}), ("resample", {"fs_hz": 16000}),
                           ("logmel", {"n_mels": 64, "n_fft": 1024, "hop": 512, "fmin_hz": 50, "fmax_hz": 8000}))
    if modality == "spiro":
        return Pipeline.of(("resample", {"fs_hz": 100}), ("flow_volume", {}))
    return Pipeline()
