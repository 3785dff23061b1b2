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

from biosig.outputs import file_sha256
from biosig.windows import hop_for_window_s
from encoders.config import min_input_samples, short_window_problem
from encoders.scoring.errors import ScoreError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "onnxruntime", "torch", "tensorrt")
#: How records become windows (encoders.scoring.scorer), part of the job fingerprint: a folder
#: filled under other rules (zero-padded short records, the left channel of stereo audio) is
#: refused instead of mixed into one table.
CUTTING_RULES = "v2: a record shorter than a window is one window of its own length; audio: all channels mixed to mono"


def measures_fingerprint(modality: str, af_prevalence: float | None = None) -> str:
    """The per-window measure columns and the head a job's windows get: a folder scored with other
    measures (a column added), another head version or another ``--af-prevalence`` is refused, not
    mixed into one table."""
    from encoders.heads import HEADS_BY_MODALITY, load_head
    from encoders.scoring.schema import MEASURE_COLUMNS
    cols = hashlib.sha1(",".join(MEASURE_COLUMNS).encode()).hexdigest()[:12]
    head = load_head(HEADS_BY_MODALITY[modality], af_prevalence).head_id if modality in HEADS_BY_MODALITY else "none"
    return f"columns {cols}; head {head}"


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
    window_s : window length in seconds instead of the one the model was trained on (None: that
        one, issue 14); the hop follows :func:`biosig.windows.hop_for_window_s`.
    af_prevalence : the prevalence ``af_prob`` is read at (None: as its head was fitted).
    audio_fmax_hz : audio models: every record low-passed to 0-``audio_fmax_hz`` Hz at the model's
        rate before it (:func:`biosig.audio_band.band_limit`; None: the whole band). A number here:
        ``common`` is resolved by :func:`encoders.scoring.run_score` from the records' rates.
    """

    source: str
    backend: str = "auto"
    threads: int | None = None
    expect_sha256: str | None = None
    device: str | None = None
    precision: str = "fp32"
    window_s: float | None = None
    af_prevalence: float | None = None
    audio_fmax_hz: float | None = None

    def __post_init__(self):
        if self.af_prevalence is not None:
            from encoders.errors import EncoderError
            from encoders.heads.head import check_prevalence
            try:
                check_prevalence(self.af_prevalence)
            except EncoderError as exc:
                raise ScoreError(f"--af-prevalence: {exc}") from None
        if self.backend not in BACKENDS:
            raise ScoreError(f"unknown backend {self.backend!r}; expected one of {', '.join(BACKENDS)}")
        if self.window_s is not None:
            try:
                ok = 0 < float(self.window_s) < float("inf")
            except (TypeError, ValueError):
                ok = False
            if not ok or isinstance(self.window_s, bool):
                raise ScoreError(f"--window-s must be a number of seconds > 0, got {self.window_s!r}")
        if self.audio_fmax_hz is not None:
            try:
                ok = 0 < float(self.audio_fmax_hz) < float("inf") and not isinstance(self.audio_fmax_hz, bool)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ScoreError(f"--audio-fmax-hz must be a frequency in Hz > 0, got {self.audio_fmax_hz!r}")


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
    af_prevalence : the prevalence the AF head's probability is read at (None: as fitted).
    audio_fmax_hz : the band every record is low-passed to before the model (None: the whole band).
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
    min_window_samples: int = 1   # the shortest input (encoders.config.min_input_samples)
    af_prevalence: float | None = None
    audio_fmax_hz: float | None = None

    def fingerprint(self) -> dict[str, Any]:
        """What must not change between the runs that fill one output folder (the backend too:
        torch and onnxruntime agree only to ~1e-6, and one table should not mix them)."""
        precision = getattr(self.backend, "precision", "fp32")
        return {"model_id": self.model_id, "model_sha256": self.model_sha256, "modality": self.modality,
                "backend": getattr(self.backend, "name", type(self.backend).__name__)
                + ("" if precision == "fp32" else f"-{precision}"),
                "in_channels": self.in_channels, "input_fs_hz": self.input_fs_hz,
                "window_s": self.window_s, "hop_s": self.hop_s, "cutting": CUTTING_RULES,
                "pipeline_outside_hash": self.outside.hash, "pipeline_hash": self.pipeline_hash,
                "measures": measures_fingerprint(self.modality, self.af_prevalence),
                # absent without a band: the folders of earlier runs resume as before
                **({} if self.audio_fmax_hz is None else {"audio_fmax_hz": float(self.audio_fmax_hz)})}

    def describe(self) -> dict[str, Any]:
        """The manifest's ``model`` entry."""
        return {"source": self.source, **self.fingerprint(),
                "pipeline_outside": json.loads(self.outside.to_json()),
                "backend": getattr(self.backend, "name", type(self.backend).__name__),
                "backend_providers": list(getattr(self.backend, "providers", []) or []),
                "backend_why": getattr(self.backend, "why", "")}


def _import_onnxruntime_whole() -> None:
    """Import onnxruntime (where installed) with Ctrl-C held until the import is done
    (:func:`biosig.interrupts.import_whole`): the cached export was taken for unusable, torch scored instead, and
    the run that was sent Ctrl-C went on to the end with exit 0 (2 of 50 Ctrl-C in a run's first half second)."""
    from biosig.interrupts import import_whole
    try:
        import_whole("onnxruntime")
    except ImportError:   # not installed: the backends say so where it is needed
        pass


def load_model(spec: ModelSpec) -> LoadedModel:
    """Load ``spec.source`` and its backend.

    Raises
    ------
    ScoreError or EncoderError
        Unknown name, unreadable checkpoint or ONNX file, backend not installed.
    """
    _import_onnxruntime_whole()
    path = pathlib.Path(spec.source).expanduser()
    loaded = _load_onnx(path, spec) if path.suffix.lower() == ".onnx" else _load_checkpoint(spec)
    if spec.window_s is not None:
        problem = short_window_problem(float(spec.window_s), loaded.input_fs_hz, loaded.min_window_samples,
                                       loaded.model_id)
        if problem:
            raise ScoreError(problem)
    if spec.window_s is not None and float(spec.window_s) != loaded.window_s:   # the user's override
        loaded = dataclasses.replace(loaded, window_s=float(spec.window_s),
                                     hop_s=hop_for_window_s(loaded.modality, float(spec.window_s)))
    if spec.af_prevalence is not None:
        loaded = dataclasses.replace(loaded, af_prevalence=float(spec.af_prevalence))
    if spec.audio_fmax_hz is not None:
        from biosig.audio_band import check_audio_model, set_fmax_hz
        check_audio_model(spec.audio_fmax_hz, loaded.modality, loaded.model_id)
        loaded = dataclasses.replace(loaded, audio_fmax_hz=set_fmax_hz(float(spec.audio_fmax_hz), (), None,
                                                                       loaded.input_fs_hz))
    if spec.expect_sha256 and loaded.model_sha256 != spec.expect_sha256:
        raise ScoreError(f"the model at {spec.source} changed during the run (weights sha256 "
                         f"{loaded.model_sha256[:12]}, the run started with {spec.expect_sha256[:12]}); "
                         "rerun when it is stable")
    return loaded


def _load_onnx(path: pathlib.Path, spec: ModelSpec) -> LoadedModel:
    from biosig.pipeline import Pipeline
    from encoders.backends import make_backend
    from encoders.errors import EncoderError
    from encoders.inference import exported_metadata

    if spec.backend == "torch" and path.is_file():
        raise ScoreError(f"--backend torch needs a model name or checkpoint directory, not the ONNX "
                         f"file {path}; use --backend auto or onnxruntime")
    try:
        meta = exported_metadata(path)   # the one reader of an export's metadata (embed, probe, serve)
    except EncoderError as exc:
        raise ScoreError(str(exc)) from None
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
    # the window the model was trained on (absent in older exports: the config's)
    window_s = float((meta.get("input") or {}).get("train_window_s") or cfg["window_s"])
    return LoadedModel(
        source=str(path), model_id=str(meta["model_id"]), model_sha256=file_sha256(path),
        modality=modality, in_channels=int(cfg.get("in_channels", 1)),
        vocabulary=tuple(cfg.get("channels", ())), input_fs_hz=float(cfg["input_fs_hz"]),
        window_s=window_s, hop_s=hop_for_window_s(modality, window_s),
        outside=outside, pipeline_hash=str(meta.get("pipeline_hash", outside.hash)), backend=backend,
        min_window_samples=min_input_samples(cfg))


def _checkpoint_dir(source: str) -> pathlib.Path | None:
    """The checkpoint directory of a name or path, found without importing torch
    (:func:`encoders.checkpoint.resolve` without its error message)."""
    p = pathlib.Path(source).expanduser()
    if p.is_dir():
        return p
    shipped = pathlib.Path(__file__).resolve().parent.parent / "checkpoints" / source
    return shipped if shipped.is_dir() else None


def _cached_onnx(spec: ModelSpec) -> LoadedModel | None:
    """The checkpoint's cached ONNX export on onnxruntime, without torch: for ``--backend
    onnxruntime``, and for ``auto`` on a CPU where the remembered choice is onnxruntime. None when
    nothing usable is cached (the caller then loads the checkpoint in torch, which fills the cache)."""
    if spec.backend not in ("onnxruntime", "auto") or spec.precision != "fp32":
        return None
    if spec.device not in (None, "cpu") or (spec.backend == "auto" and spec.device != "cpu" and _maybe_cuda()):
        return None
    from encoders import backend_cache as bc
    directory = _checkpoint_dir(spec.source)
    key = bc.checkpoint_key(directory) if directory is not None else None
    entry = bc.read_onnx_index(key) if key else None
    if entry is None:
        return None
    if spec.backend == "auto":
        choice = bc._read_choice(f"{pathlib.Path(entry['path']).stem}|{bc._machine_key()}")
        if not choice or choice.get("kind") != "onnxruntime":
            return None
    from biosig.pipeline import Pipeline
    from encoders.backends import OnnxRuntimeBackend
    try:
        outside = Pipeline.from_json(entry["pipeline_outside"])
        backend = OnnxRuntimeBackend(entry["path"], device="cpu" if spec.backend == "auto" else spec.device,
                                     threads=spec.threads)
        if spec.backend == "auto":
            backend.timings = dict(choice.get("timings") or {})
            backend.why = f"{choice.get('why', '')} (remembered in {bc.cache_dir() / bc.AUTO_CHOICE_FILE})"
        return LoadedModel(
            source=spec.source, model_id=str(entry["model_id"]), model_sha256=str(entry["model_sha256"]),
            modality=str(entry["modality"]), in_channels=int(entry["in_channels"]),
            vocabulary=tuple(entry["vocabulary"]), input_fs_hz=float(entry["input_fs_hz"]),
            window_s=float(entry["training_window_s"]), outside=outside,   # older entries: the config's; reload
            hop_s=hop_for_window_s(str(entry["modality"]), float(entry["training_window_s"])),   # today's rule
            pipeline_hash=str(entry["pipeline_hash"]), backend=backend,
            min_window_samples=int(entry["min_window_samples"]))   # an older index lacks it: reload below
    except Exception as exc:  # noqa: BLE001 - a stale or damaged cache entry: load the slow way
        log.info("cached ONNX for %s unusable (%s); loading the checkpoint", spec.source, exc)
        return None


def _maybe_cuda() -> bool:
    """Whether a CUDA GPU might be present, without importing torch (``auto`` prefers it)."""
    import os
    return os.path.exists("/dev/nvidiactl") or bool(os.environ.get("CUDA_VISIBLE_DEVICES"))


def _remember_onnx(spec: ModelSpec, loaded: LoadedModel) -> None:
    """Index the cached export of a checkpoint so the next run can skip torch (:func:`_cached_onnx`)."""
    path = getattr(loaded.backend, "path", None)
    if getattr(loaded.backend, "name", "") != "onnxruntime" or path is None or spec.precision != "fp32":
        return
    from encoders import backend_cache as bc
    directory = _checkpoint_dir(spec.source)
    key = bc.checkpoint_key(directory) if directory is not None else None
    if key:
        bc.write_onnx_index(key, path, {
            "model_id": loaded.model_id, "model_sha256": loaded.model_sha256, "modality": loaded.modality,
            "in_channels": loaded.in_channels, "vocabulary": list(loaded.vocabulary),
            "input_fs_hz": loaded.input_fs_hz, "training_window_s": loaded.window_s,
            "min_window_samples": loaded.min_window_samples, "pipeline_outside": loaded.outside.to_json(),
            "pipeline_hash": loaded.pipeline_hash})


def _load_checkpoint(spec: ModelSpec) -> LoadedModel:
    fast = _cached_onnx(spec)
    if fast is not None:
        return fast
    loaded = _load_checkpoint_torch(spec)
    _remember_onnx(spec, loaded)
    return loaded


def _load_checkpoint_torch(spec: ModelSpec) -> LoadedModel:
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
        input_fs_hz=float(cfg.input_fs_hz), window_s=encoder.window_s,   # the training window
        hop_s=hop_for_window_s(cfg.modality, encoder.window_s), outside=outside,
        pipeline_hash=str(pipeline.hash), backend=backend, min_window_samples=min_input_samples(cfg))
