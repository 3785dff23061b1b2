"""``biosig pretrain --init-from``: start a run from the weights of a shipped model or a checkpoint
of the same architecture (the objective and its training-only heads may differ)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from biosig import json_text
from encoders.errors import EncoderError

if TYPE_CHECKING:
    from encoders.model import EncoderModel

log = logging.getLogger("encoders.pretrain")

# config fields that may differ between a checkpoint and a model initialised from it
_OBJECTIVE_FIELDS = {"name", "mask_ratio", "mask_mode", "span_patches", "spectral_loss_weight", "cross_modal",
                     "rhythm_loss_weight", "descriptor_set", "descriptor_weight", "descriptor_noise", "descriptor_flip",
                     "window_s", "export_mode",
                     # the pulse and ECG detectors have no weights: a checkpoint fine-tuned on another detector's tokens
                     "pulse_detector", "ecg_detector",
                     # the objective and its training-only heads (a mae+clocs checkpoint may start a
                     # mae+descriptors run: the encoder is copied, the projection head dropped)
                     "objective", "contrastive_weight", "temperature", "proj_dim", "crop_fraction"}
# training-only heads: taken over only where their shapes match (another descriptor set starts a fresh
# descriptor head and fresh target statistics)
_HEADS = ("desc_head.", "proj_head.")


def init_source(name_or_dir, config) -> tuple:
    """(source model, its meta, its name) for ``--init-from``: a shipped model name (``ecg-tiny``) or a
    checkpoint directory of the same architecture as ``config`` (the objective may differ); checked
    before the data is read."""
    from encoders.checkpoint import load_model, resolve
    try:
        src, _, meta = load_model(resolve(name_or_dir))
    except EncoderError as exc:
        raise type(exc)(f"--init-from: {exc}") from None
    a = {k: v for k, v in src.config.to_dict().items() if k not in _OBJECTIVE_FIELDS}
    b = {k: v for k, v in config.to_dict().items() if k not in _OBJECTIVE_FIELDS}
    diff = sorted(k for k in a if a[k] != b.get(k))
    if diff:
        shown = ", ".join(f"{k} ({json_text.dumps(a[k])} there, {json_text.dumps(b.get(k))} here)" for k in diff)
        raise EncoderError(f"--init-from {name_or_dir}: architecture differs in {shown}; give --set KEY=VALUE "
                           "(or --preset) to match it")
    return src, meta, name_or_dir


def copy_init_weights(model: EncoderModel, src: EncoderModel, meta: dict, name) -> None:
    """Copy the weights of ``src`` (from :func:`init_source`) into ``model``."""
    own, state = model.state_dict(), src.state_dict()
    fresh = {h for h in _HEADS for k, v in state.items()              # a head with any other shape: all fresh
             if k.startswith(h) and (k not in own or own[k].shape != v.shape)}
    state = {k: v for k, v in state.items() if not k.startswith(tuple(fresh))}
    missing, unexpected = model.load_state_dict(state, strict=False)
    bad = [k for k in (*missing, *unexpected) if not k.startswith(_HEADS)]
    if bad:
        raise EncoderError(f"--init-from {name}: weights differ in {', '.join(bad[:5])}")
    if missing:
        log.info("--init-from: fresh training-only head weights %s", ", ".join(missing))
    log.info("initialised from %s (%s)", name, meta.get("model_id"))
