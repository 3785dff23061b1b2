"""Weights hashing and pipeline (de)serialisation shared by :mod:`encoders.checkpoint` and
:mod:`encoders.embed` (so that ``checkpoint`` imports ``embed`` and ``embed`` never imports
``checkpoint``)."""
from __future__ import annotations

import hashlib
import json

import torch

from encoders.errors import CheckpointError


def weights_hash(model: torch.nn.Module) -> str:
    """SHA-256 over the state dict (names, dtypes, shapes, bytes), hex."""
    return state_hash(model.state_dict())


def state_hash(state) -> str:
    """:func:`weights_hash` of a state dict as saved in weights.pt (name -> tensor)."""
    h = hashlib.sha256()
    for name, t in sorted(state.items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def pipeline_to_dict(pipeline) -> dict | None:
    if pipeline is None:
        return None
    return {"pipeline": json.loads(pipeline.to_json()), "hash": pipeline.hash}


def pipeline_from_dict(d: dict | None):
    if d is None:
        return None
    from biosig.pipeline import Pipeline
    pipe = Pipeline.from_json(json.dumps(d["pipeline"]))
    if d.get("hash") and pipe.hash != d["hash"]:
        raise CheckpointError(f"pipeline hash mismatch: stored {d['hash']}, rebuilt {pipe.hash}")
    return pipe
