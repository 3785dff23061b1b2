"""What made an embeddings file: the provenance ``biosig embed`` writes into its Parquet metadata.

A window embedding is only comparable with another one computed the same way. ``biosig embed``
records, under the file's key-value metadata key :data:`EMBED_META_KEY` (a JSON object):

================  ==================================================================
model             the model as the user named it: a shipped name, or the absolute path
                  of a checkpoint directory or exported file
model_id          name + weights hash (``ppg-tiny-5628a27ca5``)
pipeline_hash     the model's preprocessing pipeline (the same weights can be served behind
                  another pipeline: ``pretrain --pipeline``, an edited ``pipeline.json``)
random_weights    ``--random-weights`` was given (a baseline, not the trained model)
window_s, hop_s   the embedding grid used
window_s_given    ``--window-s`` as given (null: the model's training window)
read_options      ``biosig.read`` keywords from ``--modality`` / ``--channel``
backend           the inference backend asked for
biosig_version    the package version
================  ==================================================================

``biosig probe`` reads it back so that its baselines see the recordings as the embeddings did:
``--baseline random`` draws random weights for the same architecture (``--model`` defaults to
the recorded one), on the same window grid, and every baseline re-reads the recordings with the
same ``--modality`` / ``--channel``. Files without the entry (written before it existed, or by
other tools) give an empty provenance and the old behaviour.
"""
from __future__ import annotations

import json
import logging
import pathlib

log = logging.getLogger(__name__)

EMBED_META_KEY = "biosig_embed"


def model_reference(model: str) -> str:
    """How to find ``model`` again: an existing path made absolute, a shipped name as it is."""
    path = pathlib.Path(str(model)).expanduser()
    return str(path.resolve()) if path.exists() else str(model)


def embed_provenance(enc, model: str, *, random_weights: bool, window_s_given: float | None,
                     read_options: dict, backend: str, af_prevalence: float | None = None) -> dict:
    """The provenance of one ``biosig embed`` run of ``enc`` (an InferenceModel)."""
    from biosig import __version__
    return {"model": model_reference(model), "model_id": enc.model_id, "pipeline_hash": enc.pipeline_hash,
            "random_weights": bool(random_weights),
            "window_s": float(enc.window_s), "hop_s": float(enc.hop_s),
            "window_s_given": None if window_s_given is None else float(window_s_given),
            "read_options": dict(read_options), "backend": backend,
            "backend_used": str(getattr(getattr(enc, "backend", None), "name", None) or backend),
            "precision": model_precision(enc),
            **({} if af_prevalence is None else {"af_prevalence": float(af_prevalence)}),
            "biosig_version": __version__}


def model_precision(enc) -> str:
    """The numbers the embeddings came from: an exported graph's precision (fp32, fp16, int8; its
    ONNX metadata), else the torch backend's (fp32, or bf16 / fp16 autocast). fp16 and int8 graphs
    keep the model_id of the checkpoint they were exported from, so this is what tells them apart."""
    be = getattr(enc, "backend", None)
    meta = getattr(be, "metadata", None) or {}
    return str(meta.get("precision") or getattr(be, "precision", None) or "fp32")


def parquet_metadata(provenance: dict) -> dict[str, str]:
    """The key-value metadata entry to write with the embeddings (``write_parquet(metadata=...)``)."""
    return {EMBED_META_KEY: json.dumps(provenance, sort_keys=True)}


def read_provenance(path) -> dict:
    """The provenance stored in an embeddings file; ``{}`` when it has none (or it is unreadable,
    which is logged: the caller then behaves as for a file written before provenance existed)."""
    import polars as pl
    try:
        meta = pl.read_parquet_metadata(path) or {}
    except Exception as exc:   # the caller has already read the file; metadata it cannot parse is no provenance
        log.warning("%s: cannot read the file metadata (%s); no provenance", path, exc)
        return {}
    raw = meta.get(EMBED_META_KEY)
    if raw is None:
        return {}
    try:
        prov = json.loads(raw)
    except ValueError:
        log.warning("%s: the %s metadata is not JSON; ignored", path, EMBED_META_KEY)
        return {}
    return prov if isinstance(prov, dict) else {}
