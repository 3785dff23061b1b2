"""Runtime configuration: endpoints, windows, batching, models, forecasters, recorder.

Everything has a default that works on loopback with no arguments; ``biosig serve --config FILE``
reads a JSON or TOML file whose top-level keys are the fields of :class:`RuntimeConfig` (nested
tables for ``endpoints`` and ``forecaster``). Unknown keys are errors that list the accepted ones.

Every config dataclass validates itself on construction (:func:`validate`, called from
``__post_init__``): each field's value must match its annotated type (``int``, ``float`` (finite),
``str``, ``bool``, ``X | None``, ``dict``, ``tuple``, nested config dataclasses) and the limits in
its metadata, made with :func:`limits`::

    rotate_s: float = field(default=60.0, metadata=limits(min=0, exclusive_min=True))

so a new field is covered by one line of metadata (types alone are checked without it). A bad
value raises :class:`StreamError` with one line naming the key, which the CLI prints with exit 2.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
import typing
from dataclasses import dataclass, field
from typing import ClassVar

from streams.config_schema import limits, validate
from streams.errors import StreamError

DEFAULT_INGEST = "tcp://127.0.0.1:5555"
DEFAULT_OUTPUT = "tcp://127.0.0.1:5556"
DEFAULT_STATUS = "tcp://127.0.0.1:5557"
#: ``biosig dashboard``: a stream or couch silent this long leaves the live view (streams.dashboard_state)
DASHBOARD_FORGET_S = 300.0


def _check_endpoint(value: str) -> str | None:
    """tcp://HOST:PORT, ipc://PATH or inproc://NAME (:func:`streams.security.parse_endpoint`)."""
    from streams.security import parse_endpoint
    try:
        parse_endpoint(value)
    except StreamError as exc:
        return str(exc)
    return None


def _known_methods() -> tuple[str, ...]:
    from realtime import KNOWN_METHODS
    return KNOWN_METHODS


def _max_frozen_s() -> float:
    from realtime.base import MAX_FROZEN_S   # here, not at the top: streams.config imports no numpy
    return MAX_FROZEN_S


def _modalities() -> tuple[str, ...]:
    from biosig.modality import MODALITIES
    return MODALITIES


MAX_STEPS = 2000             # horizon and input window in samples: a forecaster's state grows with them
INT32_MAX = 2 ** 31 - 1      # ZeroMQ's and the kernel's int options
MIN_WINDOW_S, MAX_WINDOW_S = 0.1, 3600.0


def _check_windows(value: dict) -> str | None:
    """{modality: [window_s, hop_s]}, 0 < hop_s <= window_s, no motion (not windowed)."""
    for modality, wh in value.items():
        if modality not in _modalities():
            return f"modality {modality!r} unknown; expected one of {', '.join(_modalities())}"
        if modality == "motion":   # was accepted and ignored: marker streams go to the forecaster whole
            return "motion streams are not windowed (forecaster.lookback_s sets their input); drop windows.motion"
        ok = (isinstance(wh, (tuple, list)) and len(wh) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in wh))
        if not ok or not (0 < wh[1] <= wh[0] < float("inf")):
            return f"window for {modality!r} must be (window_s, hop_s) with 0 < hop_s <= window_s, got {wh!r}"
        if not MIN_WINDOW_S <= wh[0] <= MAX_WINDOW_S or wh[1] < MIN_WINDOW_S:
            return (f"window for {modality!r} must be {MIN_WINDOW_S:g}-{MAX_WINDOW_S:g} s with a hop of at least "
                    f"{MIN_WINDOW_S:g} s, got {wh!r}")
    return None


def _check_device(value) -> str | None:
    """cpu, cuda or cuda:N, as ``--device`` takes it (no torch import: encoders.arguments is plain)."""
    from encoders.arguments import device_name
    from encoders.errors import EncoderError
    try:
        device_name(value)
    except EncoderError as exc:
        return str(exc)
    return None


def _check_folder(value) -> str | None:
    """a folder, or null for none: an empty name turned recording / checkpoints off without a word."""
    if value is not None and not str(value).strip():
        return "an empty folder name; leave the setting out (or null) to turn it off"
    return None


def _check_models(value: dict) -> str | None:
    """{modality: a shipped name, checkpoint folder or .onnx file}, the model's own modality."""
    for modality, name in value.items():
        if modality not in _modalities():
            return f"modality {modality!r} unknown; expected one of {', '.join(_modalities())}"
        if not isinstance(name, str) or not name:
            return f"model for {modality!r} must be a model name or checkpoint directory, got {name!r}"
    return None


def _check_modality_names(value: tuple) -> str | None:
    """modality names (ecg, ppg, resp, audio, ...)."""
    for modality in value:
        if modality not in _modalities():
            return f"modality {modality!r} unknown; expected one of {', '.join(_modalities())}"
    return None


_POSITIVE = limits(min=0, exclusive_min=True)


@dataclass(frozen=True)
class Endpoints:
    """Where the runtime binds: ``ingest`` (PULL, publishers PUSH signal frames), ``output`` (PUB:
    embeddings, forecasts, holds, heartbeats, status) and ``status`` (REP: status on request)."""

    _section: ClassVar[str] = "endpoints."

    ingest: str = field(default=DEFAULT_INGEST, metadata=limits(check=_check_endpoint))
    output: str = field(default=DEFAULT_OUTPUT, metadata=limits(check=_check_endpoint))
    status: str = field(default=DEFAULT_STATUS, metadata=limits(check=_check_endpoint))

    def __post_init__(self):
        validate(self)

    def all(self) -> tuple[str, str, str]:
        return (self.ingest, self.output, self.status)


@dataclass(frozen=True)
class ForecasterConfig:
    """Per-source online forecaster for marker streams (modality ``motion``).

    ``method`` is a name of :data:`realtime.KNOWN_METHODS`; ``horizon_steps`` samples ahead at the
    stream's rate; the input window is ``lookback_s`` seconds (or ``lookback`` samples when > 0). Inputs are positions minus the first sample, divided by the per-coordinate
    standard deviation over the first ``warmup_s`` seconds (the forecaster publishes ``hold`` with
    reason ``warm_up`` until then). After a gap, a divergence or a withheld forecast it holds for
    ``recover_steps`` samples (``gap`` / ``diverged``); when no sample arrived for ``stale_s`` it
    holds with reason ``gap`` (detail "no input ..."), an input too old when the forecast is ready
    with ``stale_input``; a position repeated unchanged for ``max_frozen_s`` is held with reason
    ``frozen_input`` (streams/protocol.py ``HOLD_REASONS``).
    """

    _section: ClassVar[str] = "forecaster."

    method: str = field(default="mix", metadata=limits(choices=_known_methods))
    horizon_steps: int = field(default=3, metadata=limits(min=1, max=MAX_STEPS))
    # input window: ``lookback_s`` at the stream's rate (1.2 s is what ``mix`` was evaluated with at
    # 10 and 30 Hz, docs/forecasting.md); ``lookback`` > 0 sets it in samples instead
    lookback: int = field(default=0, metadata=limits(min=0, max=MAX_STEPS))
    lookback_s: float = field(default=1.2, metadata=limits(min=0, max=60.0, exclusive_min=True))
    hidden: int = field(default=16, metadata=limits(min=1, max=1024))
    lr: float = field(default=0.02, metadata=_POSITIVE)
    seed: int = field(default=0, metadata=limits(min=0))
    warmup_s: float = field(default=5.0, metadata=limits(min=0))
    recover_steps: int = field(default=30, metadata=limits(min=0))
    stale_s: float = field(default=1.0, metadata=_POSITIVE)
    # a forecast is published only for input younger than this (device timestamp vs wall clock);
    # older input is learnt from and answered with a hold (reason ``stale_input``)
    # (and input stamped more than this ahead of the wall clock: its age cannot be told)
    max_input_age_s: float = field(default=0.2, metadata=_POSITIVE)
    # samples of one frame that are learnt (at least two input windows plus the horizon): the
    # forecast path runs on the event loop, so one client's huge frame must not stall the others;
    # the older samples of a longer frame are skipped like a hole (a ``gap``)
    max_frame_steps: int = field(default=256, metadata=limits(min=1, max=1 << 20))
    # a marker whose every coordinate repeats the same value for this long is frozen (a tracker
    # repeating its last position), not breathing: held (reason ``frozen_input``) and learnt as a
    # gap until it moves; 0: off. On the 12 shared marker sessions (0.1 mm steps) no 3-D position
    # repeats for even 0.7 s (no hold); each moving axis as a 1-D trace (1.9 h): 29 of 68,549
    # samples (0.04 %) more held, one axis at an end-exhale plateau repeating for up to 2.4 s
    # (the default is realtime's MAX_FROZEN_S, the offline evaluation's too: one rule, one number)
    max_frozen_s: float = field(default_factory=_max_frozen_s, metadata=limits(min=0))

    def __post_init__(self):
        validate(self)


# modality -> (window_s, hop_s). Motion streams are not windowed (they go to the forecaster).
# Respiration: 30 s windows, as offline (biosig.windows.DEFAULT_WINDOW_S). A 10 s window holds one or
# two breaths at 8-12 /min; only the shorter intervals fit in it, so the published rate read high
# (simulated 8 /min: median 14.9 /min; 10 /min: 12.9) and a quarter of the windows had none.
DEFAULT_WINDOWS = {"ecg": (10.0, 1.0), "ppg": (10.0, 1.0), "resp": (30.0, 1.0),
                   "audio": (8.0, 4.0), "spiro": (15.0, 5.0), "other": (10.0, 1.0)}
# modality -> encoder model name (encoders registry). Modalities without a model still get
# windows with quality and an empty embedding (model_id "").
DEFAULT_MODELS = {"ecg": "ecg-tiny", "ppg": "ppg-tiny", "audio": "audio-tiny"}


def stream_windows(overrides: dict, models) -> dict:
    """modality -> (window_s, hop_s) the runtime cuts: the user's ``overrides`` first, then the
    window each hosted model was trained on (``models``: :class:`streams.models.ModelHost` or None;
    embeddings of other lengths are not what the model learnt, issue 14), then DEFAULT_WINDOWS.
    A model's window keeps the modality's streaming hop, capped at the window (no sample left out):
    ecg-tiny's 10 s windows every 1 s; audio-tiny's 2 s windows every 2 s (the audio default hop is
    4 s). Audio windows are the costliest per second of signal (16 kHz; at 24 beds a 1 s hop put
    24 audio windows into every second's burst of ECG and PPG windows, embedding p99 83-108 ms)."""
    out = dict(DEFAULT_WINDOWS)
    for modality, hm in (getattr(models, "models", None) or {}).items():
        if getattr(hm, "window_s", None):
            window_s, hop_s = DEFAULT_WINDOWS.get(modality, DEFAULT_WINDOWS["other"])
            hop_s = min(hop_s, float(hm.window_s))
            out[modality] = (float(hm.window_s), float(hop_s))
    out.update({k: tuple(v) for k, v in overrides.items()})
    return out


@dataclass(frozen=True)
class RuntimeConfig:
    """Everything :class:`streams.runtime.Runtime` needs.

    Attributes
    ----------
    endpoints : bind addresses.
    key_dir : CURVE key directory (``biosig keys generate``), ``None`` for plain sockets.
    insecure : allow plain TCP on non-loopback endpoints.
    windows : modality -> (window_s, hop_s).
    models : modality -> encoder name; ``backend`` picks ``auto``/``onnxruntime``/``torch``.
    max_batch, max_delay_s : dynamic batching across streams: a batch is run when it holds
        ``max_batch`` windows or its oldest window waited ``max_delay_s``.
    embed_queue : windows waiting for an encoder lane, at most (float32 at the stream's rate: 4096
        windows of 2 s audio at 16 kHz are 0.5 GB); a stream holds at most its share
        (``embed_queue`` over the streams waiting, at least ``max_batch``), beyond it or when full
        the oldest window of the stream holding most is dropped (counted per stream as
        ``dropped``); batches take one window per stream in turn (:class:`streams.runtime_outputs.Lane`).
    out_hwm : ZeroMQ send high-water mark of the output socket, in messages per subscriber.
    max_streams : distinct input streams accepted; frames of further streams are rejected.
    state_dir : forecaster checkpoints (``None``: no checkpoints); ``checkpoint_every_s``.
    record_dir : Parquet recordings (``None``: no recording); a new file every ``rotate_s``.
    record_keep_s : recording files older than this (by their last write) are deleted from
        ``record_dir`` after each rotation, earlier runs' included (``None``: every file is kept).
    status_every_s : period of ``status`` and ``hb/runtime`` frames on the output socket.
    score_smooth_windows : windows averaged for the smoothed head outputs (AF probability) of
        ``score/`` frames: the values among a stream's last this many windows (:mod:`streams.scores`).
    af_prevalence : the AF prevalence (a share in (0, 1)) at which ``af_prob`` is published; ``None``:
        as the head was fitted (its card says at what prevalence; :meth:`encoders.heads.Head.at_prevalence`).
    audio_fmax_hz : audio streams' model input low-passed to 0-``audio_fmax_hz`` Hz, the band of ``embed``,
        ``score`` and ``probe --audio-fmax-hz`` (:mod:`streams.audio_band_live`); ``None``: the whole band.
    tap_signals : also publish every accepted input frame on the output socket as
        ``sig/<source>/<stream>`` (for ``biosig dashboard``; off by default: it doubles the traffic).
    """

    _section: ClassVar[str] = ""

    endpoints: Endpoints = field(default_factory=Endpoints)
    key_dir: str | None = field(default=None, metadata=limits(path=True))
    insecure: bool = False
    # modality -> (window_s, hop_s) set by the user; a modality not named here is cut as its model
    # was trained (the checkpoint's window, :func:`stream_windows`), else as DEFAULT_WINDOWS
    windows: dict = field(default_factory=dict, metadata=limits(check=_check_windows))
    models: dict = field(default_factory=lambda: dict(DEFAULT_MODELS), metadata=limits(check=_check_models))
    backend: str = field(default="auto", metadata=limits(choices=("auto", "onnxruntime", "torch", "tensorrt")))
    # backend device: cpu, cuda, cuda:N (None: the backend's default)
    device: str | None = field(default=None, metadata=limits(check=_check_device))
    precision: str = field(default="fp32", metadata=limits(choices=("fp32", "bf16", "fp16")))
    max_batch: int = field(default=32, metadata=limits(min=1))
    # bounds on absurd values (accepted before): a 1e9 s batch delay held every embedding back for ever, a
    # queue of 1e12 windows is no bound on memory (4096 windows of 2 s audio are 0.5 GB)
    max_delay_s: float = field(default=0.02, metadata=limits(min=0, max=5.0))
    embed_queue: int = field(default=4096, metadata=limits(min=1, max=1 << 20))
    out_hwm: int = field(default=10000, metadata=limits(min=0, max=INT32_MAX))
    max_streams: int = field(default=1024, metadata=limits(min=1))
    forecaster: ForecasterConfig = field(default_factory=ForecasterConfig)
    state_dir: str | None = field(default=None, metadata=limits(path=True, check=_check_folder))
    checkpoint_every_s: float = field(default=2.0, metadata=_POSITIVE)
    record_dir: str | None = field(default=None, metadata=limits(path=True, check=_check_folder))
    rotate_s: float = field(default=60.0, metadata=_POSITIVE)
    record_keep_s: float | None = field(default=None, metadata=_POSITIVE)
    # heartbeats: a subscriber hearing nothing for 5 s (Subscriber stale_s) reconnects, warning each time
    status_every_s: float = field(default=1.0, metadata=limits(min=0, max=4.0, exclusive_min=True))
    score_smooth_windows: int = field(default=5, metadata=limits(min=1))
    af_prevalence: float | None = field(default=None, metadata=limits(min=0, max=1, exclusive_min=True,
                                                                       exclusive_max=True))
    audio_fmax_hz: float | None = field(default=None, metadata=_POSITIVE)
    tap_signals: bool = False
    # bounded, expiring state (see streams.registry): a stream with no accepted frame for
    # ``idle_expire_s`` is forgotten; one source holds at most ``max_streams_per_source`` streams;
    # sources in ``reserved_sources`` always get a slot (outside ``max_streams``)
    idle_expire_s: float = field(default=300.0, metadata=_POSITIVE)
    # a stream sends at most ``ingest_speed_max`` seconds of samples per wall-clock second, beyond a
    # backlog of ``ingest_backlog_s`` seconds of samples (an outage's backlog, a recording sent at
    # once, ``replay --speed`` up to 20); further frames are rejected as ``over_rate``
    # (streams.ingest_budget): one client sending at 500 x real time took the event loop from every
    # other bed. 20 x and an hour keep a monitor misdeclaring its rate (measured, rate_mismatch) and
    # whole recordings sent at once working. A source's streams share one such backlog, refilled at
    # ``ingest_speed_max`` x the streams it holds (a flood over many stream names takes one backlog)
    ingest_speed_max: float = field(default=20.0, metadata=limits(min=1))
    ingest_backlog_s: float = field(default=3600.0, metadata=_POSITIVE)
    max_streams_per_source: int = field(default=64, metadata=limits(min=1))
    reserved_sources: tuple = ()
    # a stream with no accepted frame for this long (and for ten of its own frames) is silent: its
    # slot goes first to a new stream when none is free (streams.runtime_slots, docs/protocol.md)
    slot_silent_s: float = field(default=5.0, metadata=_POSITIVE)
    # compile every forecaster kernel and run every encoder once before the sockets open
    warm_up: bool = True
    # status rates are averaged over the last ``rate_window_s`` seconds
    rate_window_s: float = field(default=10.0, metadata=_POSITIVE)
    # SCHED_FIFO priority of the event loop (it runs the forecast path) and of ZeroMQ's I/O
    # threads, where the OS allows it (root or ulimit -r); 0: ordinary priority (streams.priority)
    rt_priority: int = field(default=10, metadata=limits(min=0, max=99))
    # ... and the CPU those threads are pinned to when they got SCHED_FIFO (-1: not pinned; -2: the
    # last CPU the runtime may use); a frame's hops on one CPU avoid cross-CPU wake-ups
    rt_cpu: int = field(default=-1, metadata=limits(min=-2))
    # while the runtime runs, ask the kernel to keep every CPU able to wake within this many
    # microseconds (/dev/cpu_dma_latency, root only; -1: leave the machine as it is). 0 makes idle
    # CPUs poll rather than halt: on a VM a halted vCPU wakes through the hypervisor, which was most
    # of the forecast tail on the idle test machine (streams.priority.CpuWakeupLatency)
    cpu_wakeup_latency_us: int = field(default=0, metadata=limits(min=-1, max=INT32_MAX))
    # modalities whose windows get their own encoder worker thread (so 16 kHz audio windows never
    # hold up ECG/PPG embeddings, and model-less respiration windows never wait behind a model);
    # every other modality shares one worker. One lane per bed modality measured embedding p99
    # 150 ms vs 342 ms with ecg/ppg/resp sharing a lane (24 full beds, load average 6.4, 2 cores)
    own_worker_modalities: tuple = field(default=("audio", "ecg", "ppg", "resp"),
                                         metadata=limits(check=_check_modality_names))

    def __post_init__(self):
        validate(self)

    def replace(self, **changes) -> "RuntimeConfig":
        return dataclasses.replace(self, **changes)


def _build(cls, data, where: str):
    if not isinstance(data, dict):
        raise StreamError(f"config {where} must be a table/object of keys, got {type(data).__name__} {data!r:.60}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:   # a typo ("window") is named with the key it was meant to be
        import difflib
        near = {k: difflib.get_close_matches(str(k), names, n=1) for k in sorted(map(str, unknown))}
        hint = "; ".join(f"did you mean {v[0]!r} for {k!r}?" for k, v in near.items() if v)
        raise StreamError(f"unknown {where} key(s) {sorted(map(str, unknown))}; {hint + ' ' if hint else ''}"
                          f"accepted: {', '.join(sorted(names))}")
    return cls(**data)


def config_from_dict(data: dict) -> RuntimeConfig:
    """A validated :class:`RuntimeConfig` from parsed JSON/TOML (raises :class:`StreamError`)."""
    if not isinstance(data, dict):
        raise StreamError(f"a runtime config must be a table/object of keys, got {type(data).__name__}")
    data = dict(data)
    hints = typing.get_type_hints(RuntimeConfig)
    for f in dataclasses.fields(RuntimeConfig):     # nested tables: endpoints, forecaster, ...
        if dataclasses.is_dataclass(hints[f.name]) and f.name in data:
            data[f.name] = _build(hints[f.name], data[f.name], f.name)
    if "windows" in data:
        w = data["windows"]
        if not isinstance(w, dict):
            raise StreamError(f"config windows must be a table of MODALITY = [window_s, hop_s], got {w!r:.60}")
        data["windows"] = {k: tuple(v) if isinstance(v, list) else v for k, v in w.items()}
    return _build(RuntimeConfig, data, "config")


def _no_duplicate_keys(pairs) -> dict:
    seen = set()
    for k, _ in pairs:
        if k in seen:
            raise ValueError(f"key {k!r} is given twice in one object (the first would be ignored)")
        seen.add(k)
    return dict(pairs)


def load_config(path) -> RuntimeConfig:
    """Read a JSON (``.json``) or TOML (``.toml``) runtime configuration."""
    p = pathlib.Path(path)
    if not p.exists():
        raise StreamError(f"config file {p} does not exist")
    if p.suffix not in (".json", ".toml"):
        raise StreamError(f"config file {p} must end in .json or .toml")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise StreamError(f"config file {p} is not text (not UTF-8): is it a binary file?") from None
    except OSError as exc:
        raise StreamError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    try:
        if p.suffix == ".toml":
            import tomllib
            data = tomllib.loads(text)
        else:   # a key given twice: JSON keeps the last without a word (TOML refuses it)
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except (ValueError, TypeError, RecursionError) as exc:
        msg = " ".join(str(exc).split())
        raise StreamError(f"config file {p} is not valid {p.suffix[1:].upper()}: {msg}") from None
    if not isinstance(data, dict):
        raise StreamError(f"config file {p} must hold a table/object at top level")
    return config_from_dict(data)
