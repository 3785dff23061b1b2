"""encoders: windowed sparse-attention masked autoencoders for ECG, PPG, respiratory audio and
spirograms (torch).

Contract (relied upon by ``encoders.export``, ``streams`` and the CLI)
--------------------------------------------------------------------
``encoders.create_model(name, **overrides) -> EncoderModel``
    ``name`` is ``"<modality>-<preset>"``, modality in ecg, ppg, audio, spiro and preset in tiny
    (~1.3 M parameters), small (~15 M), base (~89 M). Unknown names raise
    :class:`encoders.errors.EncoderError` (a :class:`biosig.errors.BiosigError`) listing the
    known names. ``overrides`` replace :class:`EncoderConfig` fields. Registry:
    ``encoders.config.register`` (decorator), ``encoders.list_models()``.
``model.config``
    A frozen :class:`EncoderConfig` (modality, in_channels, channels vocabulary, input_fs_hz,
    window_s, patch_size, dim, depth, heads, attn_window ``w``, n_global, decoder_dim/depth/heads,
    mask_ratio, mask_mode, spectral_loss_weight, cross_modal, log-mel settings, export_mode) with
    ``to_dict()`` / ``from_dict()``. Export mode is this config field, never module state.
``model.embed_forward(x, channel_idx=None) -> (B, D)``
    ``x`` float32 (B, C, T): raw windows at ``config.input_fs_hz`` after the out-of-graph part of
    the pipeline (``pipeline.split_in_model()[0]``). Inside: per-window z-score (ECG, PPG,
    spirogram; the spirogram model takes the pipeline's (B, 2, T) ``volume_ml, flow_l_s`` and derives
    volume, flow and flow-volume channels from channel 0) or the log-mel front end from the raw 16 kHz waveform (audio: STFT as a strided convolution
    with a DFT basis plus a librosa mel filterbank buffer), patch tokenizer, windowed-attention
    backbone, mean pooling. Plain tensor ops only: exportable with dynamic B and T (T in whole
    patches; extra samples dropped). ``channel_idx`` (long (C,), positions in
    ``config.channels``, or (B, C) per sample) defaults to the first C names; map record channel
    names with ``Encoder.channel_index(names)``. ``config.in_channels`` is the default C for export
    (1 for ECG/PPG/audio, 2 for spiro). The spirogram front end's flow-volume resampling is an
    O(T) bucket count (``tokenizers.count_below``), the same ops in torch, ONNX and TensorRT.
``encoders.load(name_or_dir) -> Encoder``
    Shipped name (``"ecg-tiny"``, ``"ppg-tiny"``, ``"audio-tiny"``, ``"spiro-tiny"``) or a
    checkpoint directory. ``Encoder`` has ``.model``, ``.config``, ``.pipeline`` (the full biosig
    Pipeline stored in the checkpoint: JSON and hash), ``.model_id`` (name + short hash of the
    weights), ``.embed_windows(x: np.ndarray (B, C, T)) -> np.ndarray (B, D)`` (float32,
    deterministic) and ``.embed(record) -> polars.DataFrame`` with one row per window: ``source``,
    ``channels``, ``t0_s``, ``t1_s``, ``quality``, ``embedding`` (list[float32]); it applies the
    outside pipeline, windows with the modality's default window/hop, maps channel names onto the
    model's channel embeddings (any lead subset) and batches.

Also: ``encoders.pretrain`` (training loop behind ``biosig pretrain``, DDP under torchrun),
``encoders.probe`` (linear probe behind ``biosig probe``), ``encoders.attention``
(``windowed_attention`` over blocked / SDPA / FlexAttention kernels, and its dense oracle),
``encoders.backends`` (``make_backend``: torch, onnxruntime, tensorrt, auto) and
``encoders.inference`` (``open_model``: any name, checkpoint, ``.onnx`` or ``.plan`` with any backend).
"""
from __future__ import annotations

import importlib

_LAZY = {
    "EncoderConfig": "encoders.config",
    "list_models": "encoders.config",
    "get_config": "encoders.config",
    "register": "encoders.config",
    "EncoderModel": "encoders.model",
    "Encoder": "encoders.embed",
    "load": "encoders.checkpoint",
    "save_checkpoint": "encoders.checkpoint",
    "shipped_models": "encoders.checkpoint",
    "EncoderError": "encoders.errors",
}

__all__ = sorted(_LAZY) + ["create_model"]


def create_model(name: str, **overrides):
    """Build the registered architecture ``name`` (random weights); see the module docstring."""
    from encoders.config import get_config
    from encoders.model import EncoderModel
    return EncoderModel(get_config(name, **overrides))


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'encoders' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
