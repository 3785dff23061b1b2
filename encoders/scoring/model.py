"""Load the model a scoring job runs: a shipped name, a checkpoint directory or an ONNX file.

Whatever the source, scoring needs the same things: an inference backend
(:func:`encoders.backends.make_backend`), the out-of-graph part of the preprocessing pipeline
(applied before the backend's input ``x``), the window geometry and the channel vocabulary. An
ONNX file carries all of these in its ``biosig.*`` metadata (:mod:`encoders.export`), so scoring
an exported file needs no checkpoint and no torch. ``--backend tensorrt`` runs the native engine
``X.plan`` built from ``X.onnx`` (``biosig compile``), taking the metadata from ``X.onnx``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import pathlib
from typing import Any

from encoders.scoring.errors import ScoreError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "onnxruntime", "torch", "tensorrt")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to load the model again (picklable, small).

    Attributes
    ----------
    source : model name (``"ecg-tiny"``), checkpoint directory or ``.onnx`` file.
    backend : one of :data:`BACKENDS`.
    threads : intra-op threads of the backend (None: all cores; 1 per worker with a pool).
    expect_sha256 : the weights the driver loaded; a worker that finds other weights at
        ``source`` (a checkpoint rewritten during the run) refuses to score with them.
    device, precision : passed to :func:`encoders.backends.make_backend`.
    """

    source: str
    backend: str = "auto"
    threads: int | None = None
    expect_sha256: str | None = None
    device: str | None = None
    precision: str = "fp32"

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ScoreError(f"unknown backend {self.backend!r}; expected one of {', '.join(BACKENDS)}")


@dataclasses.dataclass
class LoadedModel:
    """A model ready to score records.

    Attributes
    ----------
    model_id : the encoder's id (name + weights hash).
    model_sha256 : SHA-256 of the weights (checkpoint) or of the ONNX file.
    modality : the model's modality (``ecg``, ``ppg``, ``audio``, ``spiro``).
    in_channels : channels per window the backend takes.
    vocabulary : channel names the model knows, preferred in this order when choosing leads.
    input_fs_hz : sampling rate of the backend input in Hz.
    window_s, hop_s : window length and hop in seconds.
    outside : the out-of-graph :class:`biosig.pipeline.Pipeline` (applied before the backend).
    pipeline_hash : hash of the model's full pipeline (out-of-graph + in-model).
    backend : object with ``run(x: float32 (B, C, T)) -> float32 (B, D)``, ``name`` and ``why``.
    """

    source: str
    model_id: str
    model_sha256: str
    modality: str
    in_channels: int
    vocabulary: tuple[str, ...]
    input_fs_hz: float
    window_s: float
    hop_s: float
    outside: Any
    pipeline_hash: str
    backend: Any

    def fingerprint(self) -> dict[str, Any]:
        """What must not change between the runs that fill one output folder (the backend too:
        torch and onnxruntime agree only to ~1e-6, and one table should not mix them)."""
        precision = getattr(self.backend, "precision", "fp32")
        return {"model_id": self.model_id, "model_sha256": self.model_sha256, "modality": self.modality,
                "backend": getattr(self.backend, "name", type(self.backend).__name__)
                + ("" if precision == "fp32" else f"-{precision}"),
                "in_channels": self.in_channels, "input_fs_hz": self.input_fs_hz,
                "window_s": self.window_s, "hop_s": self.hop_s,
                "pipeline_outside_hash": self.outside.hash, "pipeline_hash": self.pipeline_hash}

    def describe(self) -> dict[str, Any]:
        """The manifest's ``model`` entry."""
        return {"source": self.source, **self.fingerprint(),
                "pipeline_outside": json.loads(self.outside.to_json()),
                "backend": getattr(self.backend, "name", type(self.backend).__name__),
                "backend_providers": list(getattr(self.backend, "providers", []) or []),
                "backend_why": getattr(self.backend, "why", "")}


def _file_sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _hop_s(modality: str, window_s: float) -> float:
    from biosig.pipeline import default_window
    _, hop_s = default_window(modality)
    return float(hop_s) if hop_s else float(window_s)


def load_model(spec: ModelSpec) -> LoadedModel:
    """Load ``spec.source`` and its backend.

    Raises
    ------
    ScoreError or EncoderError
        Unknown name, unreadable checkpoint or ONNX file, backend not installed.
    """
    path = pathlib.Path(spec.source).expanduser()
    loaded = _load_onnx(path, spec) if path.suffix.lower() == ".onnx" else _load_checkpoint(spec)
    if spec.expect_sha256 and loaded.model_sha256 != spec.expect_sha256:
        raise ScoreError(f"the model at {spec.source} changed during the run (weights sha256 "
                         f"{loaded.model_sha256[:12]}, the run started with {spec.expect_sha256[:12]}); "
                         "rerun when it is stable")
    return loaded


def _load_onnx(path: pathlib.Path, spec: ModelSpec) -> LoadedModel:
    from biosig.pipeline import Pipeline
    from encoders.backends import make_backend
    from encoders.export import read_metadata

    if not path.is_file():
        raise ScoreError(f"model file {path} does not exist")
    if spec.backend == "torch":
        raise ScoreError(f"--backend torch needs a model name or checkpoint directory, not the ONNX "
                         f"file {path}; use --backend auto or onnxruntime")
    meta = read_metadata(path)
    missing = [k for k in ("model_config", "pipeline_outside", "model_id") if k not in meta]
    if missing:
        raise ScoreError(f"{path} lacks the biosig metadata {', '.join(missing)}; export it with "
                         "`biosig export` so the preprocessing travels with the graph")
    cfg = meta["model_config"]
    outside = Pipeline.from_json(json.dumps(meta["pipeline_outside"]))
    if spec.backend == "tensorrt":  # a native engine carries no metadata: it runs beside its graph
        plan = path.with_suffix(".plan")
        if not plan.is_file():
            raise ScoreError(f"--backend tensorrt runs the engine built from {path.name}, expected at "
                             f"{plan}; build it with: biosig compile {path} --out {plan}")
        backend = make_backend("tensorrt", str(plan), device=spec.device, precision=spec.precision)
    else:
        backend = make_backend(spec.backend, str(path), threads=spec.threads, device=spec.device,
                               precision=spec.precision)
    modality = cfg["modality"]
    return LoadedModel(
        source=str(path), model_id=str(meta["model_id"]), model_sha256=_file_sha256(path),
        modality=modality, in_channels=int(cfg.get("in_channels", 1)),
        vocabulary=tuple(cfg.get("channels", ())), input_fs_hz=float(cfg["input_fs_hz"]),
        window_s=float(cfg["window_s"]), hop_s=_hop_s(modality, float(cfg["window_s"])),
        outside=outside, pipeline_hash=str(meta.get("pipeline_hash", outside.hash)), backend=backend)


def _load_checkpoint(spec: ModelSpec) -> LoadedModel:
    import encoders
    from biosig.pipeline import default_pipeline
    from encoders.backends import make_backend
    from encoders.checkpoint import weights_hash

    encoder = encoders.load(spec.source)
    cfg = encoder.config
    pipeline = encoder.pipeline if encoder.pipeline is not None else default_pipeline(cfg.modality)
    outside, _ = pipeline.split_in_model()
    backend = make_backend(spec.backend, encoder, threads=spec.threads, device=spec.device,
                           precision=spec.precision)
    if spec.threads and getattr(backend, "name", "") == "torch":
        import torch
        torch.set_num_threads(int(spec.threads))
    return LoadedModel(
        source=spec.source, model_id=str(encoder.model_id), model_sha256=weights_hash(encoder.model),
        modality=cfg.modality, in_channels=int(cfg.in_channels), vocabulary=tuple(cfg.channels),
        input_fs_hz=float(cfg.input_fs_hz), window_s=float(cfg.window_s),
        hop_s=_hop_s(cfg.modality, float(cfg.window_s)), outside=outside,
        pipeline_hash=str(pipeline.hash), backend=backend)
