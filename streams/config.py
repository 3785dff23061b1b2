"""Runtime configuration: endpoints, windows, batching, models, forecasters, recorder.

Everything has a default that works on loopback with no arguments; ``biosig serve --config FILE``
reads a JSON or TOML file whose top-level keys are the fields of :class:`RuntimeConfig` (nested
tables for ``endpoints`` and ``forecaster``). Unknown keys are errors that list the accepted ones.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
from dataclasses import dataclass, field

from streams.errors import StreamError

DEFAULT_INGEST = "tcp://127.0.0.1:5555"
DEFAULT_OUTPUT = "tcp://127.0.0.1:5556"
DEFAULT_STATUS = "tcp://127.0.0.1:5557"


@dataclass(frozen=True)
class Endpoints:
    """Where the runtime binds: ``ingest`` (PULL, publishers PUSH signal frames), ``output`` (PUB:
    embeddings, forecasts, holds, heartbeats, status) and ``status`` (REP: status on request)."""

    ingest: str = DEFAULT_INGEST
    output: str = DEFAULT_OUTPUT
    status: str = DEFAULT_STATUS

    def all(self) -> tuple[str, str, str]:
        return (self.ingest, self.output, self.status)


@dataclass(frozen=True)
class ForecasterConfig:
    """Per-source online forecaster for marker streams (modality ``motion``).

    ``method`` is a name of :data:`realtime.KNOWN_METHODS`; ``horizon_steps`` samples ahead at the
    stream's rate. Inputs are positions minus the first sample, divided by the per-coordinate
    standard deviation over the first ``warmup_s`` seconds (the forecaster publishes ``hold`` with
    reason ``warmup`` until then). After a gap or a divergence it holds for ``recover_steps``
    samples; when no sample arrived for ``stale_s`` it holds with reason ``stale``.
    """

    method: str = "rtrl"
    horizon_steps: int = 3
    lookback: int = 8
    hidden: int = 16
    lr: float = 0.02
    seed: int = 0
    warmup_s: float = 5.0
    recover_steps: int = 30
    stale_s: float = 1.0
    # a forecast is published only for input younger than this (device timestamp vs wall clock);
    # older input is learnt from and answered with a hold (reason ``stale_input``)
    max_input_age_s: float = 0.2


# modality -> (window_s, hop_s). Motion streams are not windowed (they go to the forecaster).
DEFAULT_WINDOWS = {"ecg": (10.0, 1.0), "ppg": (10.0, 1.0), "resp": (10.0, 1.0),
                   "audio": (8.0, 4.0), "spiro": (15.0, 5.0), "other": (10.0, 1.0)}
# modality -> encoder model name (encoders registry). Modalities without a model still get
# windows with quality and an empty embedding (model_id "").
DEFAULT_MODELS = {"ecg": "ecg-tiny", "ppg": "ppg-tiny", "audio": "audio-tiny"}


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
    embed_queue : windows waiting for the encoder, at most; the oldest is dropped (and counted per
        stream as ``dropped``) when full.
    out_hwm : ZeroMQ send high-water mark of the output socket, in messages per subscriber.
    max_streams : distinct input streams accepted; frames of further streams are rejected.
    state_dir : forecaster checkpoints (``None``: no checkpoints); ``checkpoint_every_s``.
    record_dir : Parquet recordings (``None``: no recording); a new file every ``rotate_s``.
    status_every_s : period of ``status`` and ``hb/runtime`` frames on the output socket.
    """

    endpoints: Endpoints = field(default_factory=Endpoints)
    key_dir: str | None = None
    insecure: bool = False
    windows: dict = field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    models: dict = field(default_factory=lambda: dict(DEFAULT_MODELS))
    backend: str = "auto"
    max_batch: int = 32
    max_delay_s: float = 0.02
    embed_queue: int = 4096
    out_hwm: int = 10000
    max_streams: int = 1024
    forecaster: ForecasterConfig = field(default_factory=ForecasterConfig)
    state_dir: str | None = None
    checkpoint_every_s: float = 2.0
    record_dir: str | None = None
    rotate_s: float = 60.0
    status_every_s: float = 1.0
    # bounded, expiring state (see streams.registry): a stream with no accepted frame for
    # ``idle_expire_s`` is forgotten; one source holds at most ``max_streams_per_source`` streams;
    # sources in ``reserved_sources`` always get a slot (outside ``max_streams``)
    idle_expire_s: float = 300.0
    max_streams_per_source: int = 64
    reserved_sources: tuple = ()
    # compile every forecaster kernel and run every encoder once before the sockets open
    warm_up: bool = True
    # status rates are averaged over the last ``rate_window_s`` seconds
    rate_window_s: float = 10.0
    # modalities whose windows get their own encoder worker thread (so 16 kHz audio windows never
    # hold up ECG/PPG embeddings); every other modality shares one worker
    own_worker_modalities: tuple = ("audio",)

    def __post_init__(self):
        if self.max_batch < 1 or self.max_delay_s < 0 or self.embed_queue < 1:
            raise StreamError(f"max_batch ({self.max_batch}) and embed_queue ({self.embed_queue}) "
                              f"must be >= 1 and max_delay_s ({self.max_delay_s}) >= 0")
        for modality, wh in self.windows.items():
            if len(wh) != 2 or not 0 < wh[1] <= wh[0]:
                raise StreamError(f"window for {modality!r} must be (window_s, hop_s) with "
                                  f"0 < hop_s <= window_s, got {wh!r}")

    def replace(self, **changes) -> "RuntimeConfig":
        return dataclasses.replace(self, **changes)


def _build(cls, data: dict, where: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise StreamError(f"unknown {where} key(s) {sorted(unknown)}; accepted: {', '.join(sorted(names))}")
    return cls(**data)


def config_from_dict(data: dict) -> RuntimeConfig:
    data = dict(data)
    if "endpoints" in data:
        data["endpoints"] = _build(Endpoints, data["endpoints"], "endpoints")
    if "forecaster" in data:
        data["forecaster"] = _build(ForecasterConfig, data["forecaster"], "forecaster")
    if "windows" in data:
        data["windows"] = {**DEFAULT_WINDOWS, **{k: tuple(v) for k, v in data["windows"].items()}}
    return _build(RuntimeConfig, data, "config")


def load_config(path) -> RuntimeConfig:
    """Read a JSON (``.json``) or TOML (``.toml``) runtime configuration."""
    p = pathlib.Path(path)
    if not p.exists():
        raise StreamError(f"config file {p} does not exist")
    text = p.read_text()
    try:
        if p.suffix == ".toml":
            import tomllib
            data = tomllib.loads(text)
        elif p.suffix == ".json":
            data = json.loads(text)
        else:
            raise StreamError(f"config file {p} must end in .json or .toml")
    except (ValueError, TypeError) as exc:
        raise StreamError(f"config file {p} is not valid {p.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise StreamError(f"config file {p} must hold a table/object at top level")
    return config_from_dict(data)
