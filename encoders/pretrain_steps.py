"""The step mechanics of ``biosig pretrain`` (split from :mod:`encoders.pretrain`): the data order
and learning rate of a step (pure functions of the seed and the step: the basis of exact resume), the
one objective call, the optimizer, where the training windows live, and what a checkpoint writes
(weights, meta.json, ``train_state.pt``) and what a resume keeps of ``metrics.jsonl``. Determinism and
resume rules: see the :mod:`encoders.pretrain` docstring."""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import pathlib

import numpy as np
import torch

from encoders.checkpoint import save_checkpoint
from encoders.errors import EncoderError
from encoders.pretrain_checks import STATE_FILE
from encoders.pretrain_provenance import write_manifest

log = logging.getLogger("encoders.pretrain")

METRICS_FILE = "metrics.jsonl"


def step_indices(seed: int, step: int, n: int, batch: int) -> np.ndarray:
    """Global batch of sample indices for ``step``: consecutive slices of per-epoch permutations."""
    start = step * batch
    out = []
    while len(out) < batch:
        epoch, offset = divmod(start + len(out), n)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        out.extend(perm[offset: offset + batch - len(out)].tolist())
    return np.asarray(out, dtype=np.int64)


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up then cosine decay to 10 %."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def training_loss(model, xb, ib, generator, batch_slice, pair=None) -> dict:
    """The pretraining objective of one step: a dict with the scalar ``loss`` that is
    backpropagated and ``mse`` (both reported). The one place the loop computes a loss.
    ``pair``: (x2, ids2, groups) for the ``clocs`` objectives (encoders/objectives.py)."""
    if pair is None:
        return model(xb, ib, generator=generator, batch_slice=batch_slice)
    return model(xb, ib, generator=generator, batch_slice=batch_slice, pair=pair)


def adamw(model, cfg, device) -> torch.optim.Optimizer:
    """AdamW with the settings of ``cfg`` (a :class:`encoders.pretrain.TrainConfig`), fused (one kernel
    for all parameters) where the device supports it."""
    kwargs = dict(lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    if device.type == "cuda":
        try:
            return torch.optim.AdamW(model.parameters(), fused=True, **kwargs)
        except (RuntimeError, TypeError, ValueError) as exc:
            log.info("fused AdamW unavailable (%s); using the foreach implementation", exc)
    return torch.optim.AdamW(model.parameters(), **kwargs)


def resident(t: torch.Tensor, device) -> torch.Tensor:
    """``t`` on the training device when it fits in a quarter of the free memory, else pinned host
    memory (steps then copy their batch asynchronously)."""
    if device.type != "cuda":
        return t
    free, _ = torch.cuda.mem_get_info(device)
    if t.numel() * t.element_size() <= free // 4:
        return t.to(device)
    log.warning("training windows (%.1f GB) exceed a quarter of the free GPU memory; kept in host memory",
                t.numel() * t.element_size() / 1e9)
    return t.pin_memory()


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state()}


def truncate_metrics(path: pathlib.Path, step: int, drop: tuple[str, ...] = ()) -> None:
    """Drop metric lines past ``step`` (left by a run killed after its last checkpoint), and the keys ``drop``
    from the lines kept: a run without masked reconstruction resumed from a log of an older version, which
    wrote ``"mse": 0.0`` for it, goes on in one format (no ``mse``, :func:`encoders.objectives.reconstructs`)."""
    if not path.is_file():
        return
    keep, dropped = [], 0
    for ln in path.read_text(errors="replace").splitlines():
        if not ln.strip():
            continue
        try:   # a line cut short (a run killed mid-write, a full disk) is past the checkpoint: dropped
            row = json.loads(ln)
            ok = row["step"] <= step
            if ok and any(k in row for k in drop):
                ln = json.dumps({k: v for k, v in row.items() if k not in drop})
        except (ValueError, TypeError, KeyError, IndexError):
            ok = False
            dropped += 1
        if ok:
            keep.append(ln)
    if dropped:
        log.warning("%s: dropped %d line(s) that are not metrics (cut short when a run was stopped?)", path, dropped)
    path.write_text("".join(ln + "\n" for ln in keep))


def save_step(out, model, pipeline, opt, step, cfg, config, data, metrics, n_params, data_sha, prov, manifest=None):
    """Write the checkpoint and training state of ``step`` (never weights that are not finite), with the
    provenance ``prov`` in meta.json and ``manifest`` (when given) as data_manifest.json."""
    if not all(bool(torch.isfinite(v).all()) for v in model.state_dict().values() if v.is_floating_point()):
        raise EncoderError(f"training diverged: the weights are not finite at step {step}; nothing was saved "
                           f"at that step; start again with a lower --lr (e.g. --lr {cfg.lr / 10:g})")
    meta = {"step": step, "params": n_params, "n_windows": len(data), "n_sources": len(set(data.sources)),
            "train_config": {k: v for k, v in dataclasses.asdict(cfg).items() if k != "progress"},
            "final_metrics": metrics, "torch": torch.__version__, **prov}
    if manifest is not None:
        write_manifest(out, manifest)
    save_checkpoint(out, model, pipeline, meta)
    state = {"step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
             "rng": rng_state(), "model_config": config.to_dict(), "pipeline_hash": pipeline.hash,
             "train_config": dataclasses.asdict(cfg), "data_sha": data_sha, "n_windows": len(data),
             "n_sources": len(set(data.sources)), "elapsed_s": metrics.get("elapsed_s"), "resumes": prov["resumes"]}
    tmp = out / (STATE_FILE + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, out / STATE_FILE)
    log.info("checkpoint at step %d in %s", step, out)
