"""One entry point for inference from any model source with any backend (``biosig embed``).

:func:`open_model` takes a shipped name, a checkpoint directory, an exported ``.onnx`` file or a
TensorRT ``.plan`` engine (its metadata read from the ``.onnx`` beside it, as ``biosig compile``
leaves them) and returns an :class:`InferenceModel`: the backend from
:func:`encoders.backends.make_backend` plus what the preprocessing needs (modality, channel
vocabulary, input rate, the out-of-graph pipeline). With an exported file the checkpoint directory
is not needed: everything comes from the file's ``biosig.*`` metadata (:mod:`encoders.onnx_metadata`).

``InferenceModel.embed(record)`` returns the same table as :meth:`encoders.embed.Encoder.embed`
(same windows, channel mapping, NaN handling and quality), whatever the backend.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
from typing import Any

import numpy as np

from encoders.arguments import window_batch
from encoders.config import EncoderConfig
from encoders.errors import EncoderError
from encoders.window_checks import check_window_shape

log = logging.getLogger(__name__)


@dataclasses.dataclass
class InferenceModel:
    """A backend with the preprocessing of its model.

    Attributes
    ----------
    model_id : the encoder's id (name + weights hash).
    config : the model's :class:`EncoderConfig` (from the checkpoint or the file's metadata).
    outside : the out-of-graph :class:`biosig.pipeline.Pipeline` (applied before the backend).
    backend : :class:`encoders.backends.Backend`.
    """

    model_id: str
    config: EncoderConfig
    outside: Any
    backend: Any
    train_window_s: float | None = None      # the window the model was trained on (None: config.window_s)
    pipeline_hash: str | None = None         # the model's whole pipeline (outside + in the graph)
    window_s_override: float | None = None   # --window-s
    af_prevalence: float | None = None       # --af-prevalence (None: af_prob as its head was fitted)

    @property
    def window_s(self) -> float:
        """Embedding window in seconds: ``window_s_override``, else the training window."""
        if self.window_s_override is not None:
            return float(self.window_s_override)
        return float(self.train_window_s or self.config.window_s)

    @property
    def hop_s(self) -> float:
        from biosig.windows import hop_for_window_s   # (encoders.embed would import torch)
        return hop_for_window_s(self.config.modality, self.window_s)

    def prepare(self, record):
        """Channel selection plus the out-of-graph pipeline: a Record at ``config.input_fs_hz``."""
        from encoders.data import select_channels
        rec = self.outside.apply(select_channels(record, self.config.modality))
        if abs(rec.fs_hz - self.config.input_fs_hz) > 1e-6:
            raise EncoderError(f"the pipeline produced {rec.fs_hz} Hz but {self.config.name} expects "
                               f"{self.config.input_fs_hz} Hz")
        return rec

    def windows(self, rec):
        """(windows (W, C, T) float32, t0_s (W,)) with :attr:`window_s` and :attr:`hop_s` (as
        :meth:`encoders.embed.Encoder.windows`); a record shorter than one window gives one window
        of its own length."""
        from biosig.windows import embedding_grid, window_array
        w = window_array(rec, *embedding_grid(rec, self.window_s, self.hop_s), pad_short=False)
        return w.x, w.t0_s

    def embed_windows(self, x: np.ndarray, channel_idx, batch_size: int = 64) -> np.ndarray:
        """float32 (B, D) for windows (B, C, T) at the model rate; NaN and inf become 0."""
        c = self.config
        x, idx, batch_size = window_batch(x, channel_idx, batch_size, len(c.channels))
        check_window_shape(x, idx, c)
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        out = [self.backend.run(x[i:i + batch_size], idx if idx is None or idx.ndim == 1 else idx[i:i + batch_size])
               for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, c.dim), np.float32)

    def embed(self, record, source: str | None = None, batch_size: int = 64, recorded=None):
        """One row per window: the columns of :meth:`encoders.embed.Encoder.embed` (``recorded`` as there)."""
        from encoders.record_embed import embed_record, embedding_frame, record_quality
        embedded = embed_record(self, record, batch_size, recorded)
        measures = self.window_measures(embedded.record, len(embedded.windows))
        return embedding_frame(embedded, record_quality(self, embedded), source, measures)

    def window_measures(self, record, n_windows: int):
        """The measure columns of :meth:`encoders.embed.Encoder.window_measures`, from this model's
        out-of-graph pipeline (so an exported file gets them too)."""
        from encoders.embed import window_measure_columns
        return window_measure_columns(record, self.config, self.outside, self.window_s, self.hop_s, n_windows,
                                      self.af_prevalence)


def open_model(source, backend: str = "auto", *, device: str | None = None, precision: str = "fp32",
               threads: int | None = None, random_weights: bool = False) -> InferenceModel:
    """Load ``source`` (name, checkpoint directory, ``.onnx`` or ``.plan``) with ``backend``.

    Raises
    ------
    EncoderError
        Unknown model, a file without biosig metadata, a backend that cannot run this source or is
        not installed, a bad device or precision.
    """
    from encoders.backends import make_backend
    path = pathlib.Path(str(source)).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".onnx", ".plan"):
        import encoders
        enc = encoders.load(str(source), pretrained=not random_weights)
        outside, _ = enc.pipeline.split_in_model()
        be = make_backend(backend, enc, device=device, threads=threads, precision=precision)
        return InferenceModel(enc.model_id, enc.config, outside, be, train_window_s=enc.window_s,
                              pipeline_hash=enc.pipeline.hash)
    if random_weights:
        raise EncoderError(f"--random-weights builds an architecture by name, not from the file {path}")
    if backend == "torch":
        raise EncoderError(f"--backend torch needs a model name or checkpoint directory, not {path}; "
                           "use --backend onnxruntime, tensorrt or auto for exported files")
    graph = path.with_suffix(".onnx")
    meta = exported_metadata(path)
    if suffix == ".onnx" and backend == "tensorrt":
        path = path.with_suffix(".plan")
        if not path.is_file():
            raise EncoderError(f"--backend tensorrt runs the engine built from {graph.name}, expected at {path}; "
                               f"build it with: biosig compile {graph} --out {path}")
    be = make_backend(backend, str(path), device=device, threads=threads, precision=precision)
    from biosig.pipeline import Pipeline
    config = exported_config(meta)
    train_window_s = (meta.get("input") or {}).get("train_window_s")   # absent in older exports
    return InferenceModel(str(meta["model_id"]), config,
                          Pipeline.from_json(json.dumps(meta["pipeline_outside"])), be,
                          train_window_s=train_window_s, pipeline_hash=meta.get("pipeline_hash"))


def exported_architecture(path) -> tuple[EncoderConfig, Any, float | None]:
    """(config, full Pipeline, training window in s or None) in the metadata of an exported model:
    what :func:`encoders.checkpoint.random_weights` needs to draw its architecture again."""
    from biosig.pipeline import Pipeline
    meta = exported_metadata(path)
    if "pipeline" not in meta:
        raise EncoderError(f"{path} does not carry its full preprocessing pipeline (exported by an older "
                           "biosig); name the model or its checkpoint directory instead")
    return (exported_config(meta), Pipeline.from_json(json.dumps(meta["pipeline"])),
            (meta.get("input") or {}).get("train_window_s"))


def exported_config(meta: dict) -> EncoderConfig:
    """The :class:`EncoderConfig` in an exported model's metadata (fields this version does not
    know are left out)."""
    return EncoderConfig.from_dict({k: v for k, v in meta["model_config"].items()
                                    if k in {f.name for f in dataclasses.fields(EncoderConfig)}})


def exported_metadata(path) -> dict:
    """The biosig metadata of an exported model: of ``path`` itself, or for a ``.plan`` engine of
    the ``.onnx`` graph it was built from (beside it)."""
    path = pathlib.Path(str(path)).expanduser()
    graph = path.with_suffix(".onnx")
    if not path.is_file():
        raise EncoderError(f"model file {path} does not exist")
    if not graph.is_file():
        raise EncoderError(f"{path} carries no metadata; the preprocessing is read from the graph it was "
                           f"built from, expected at {graph}")
    from encoders.onnx_metadata import missing_metadata_problem, read_metadata
    meta = read_metadata(graph)
    problem = missing_metadata_problem(graph, meta)
    if problem:
        raise EncoderError(problem)
    return meta
