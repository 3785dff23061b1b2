"""The ``biosig.*`` metadata of exported ONNX files: what travels with the graph (model config,
the preprocessing pipeline and its hash, input layout, version) and how it is read back.

Written by :func:`encoders.export.export_onnx`; read by the backends, ``biosig score`` and any
runtime without torch (plain JSON strings in ``metadata_props``).
"""
from __future__ import annotations

import dataclasses
import json
import logging

import biosig
from encoders.errors import EncoderError

log = logging.getLogger(__name__)

INPUT_NAME = "x"
OUTPUT_NAME = "embedding"
CHANNEL_INPUT = "channel_idx"
META_PREFIX = "biosig."


def config_dict(model) -> dict:
    cfg = model.config
    if hasattr(cfg, "to_dict"):
        return cfg.to_dict()
    if dataclasses.is_dataclass(cfg):
        return dataclasses.asdict(cfg)
    raise EncoderError(f"model config {type(cfg).__name__} is neither a dataclass nor has to_dict()")


def example_length(config: dict) -> int:
    """Window length in samples, ``round(window_s * input_fs_hz)``."""
    try:
        return int(round(float(config["window_s"]) * float(config["input_fs_hz"])))
    except KeyError as exc:
        raise EncoderError(f"model config lacks {exc.args[0]!r}; needs window_s and input_fs_hz") from None


def build_metadata(model, encoder, config: dict, precision: str, opset: int, exporter: str,
              batch, length) -> dict:
    meta = {
        "version": biosig.__version__,
        "model_id": str(getattr(encoder, "model_id", None) or config.get("name", type(model).__name__)),
        "model_config": json.dumps(config, sort_keys=True, default=str),
        "precision": precision,
        "opset": str(opset),
        "exporter": exporter,
        "input": json.dumps({
            "name": INPUT_NAME, "layout": "BCT", "dtype": "float32",
            "channels": int(config.get("in_channels", 0)) or None,
            "fs_hz": float(config["input_fs_hz"]), "window_s": float(config["window_s"]),
            # the window the model was trained on (what embed/score use unless --window-s says otherwise)
            "train_window_s": float(getattr(encoder, "window_s", None) or config["window_s"]),
            "batch": batch, "length": length, "output": OUTPUT_NAME,
            "channel_input": CHANNEL_INPUT if uses_channel_input(config) else None,
        }),
    }
    pipeline = getattr(encoder, "pipeline", None) if encoder is not None else getattr(model, "pipeline", None)
    if pipeline is not None:
        meta["pipeline"] = pipeline.to_json()
        meta["pipeline_hash"] = str(pipeline.hash)
        outside, in_model = pipeline.split_in_model()
        meta["pipeline_outside"] = outside.to_json()
        meta["pipeline_outside_hash"] = str(outside.hash)
        meta["pipeline_in_model"] = in_model.to_json()
    else:
        log.warning("model has no preprocessing pipeline attached; the ONNX file carries none")
    return {META_PREFIX + k: v for k, v in meta.items()}


_STRING_KEYS = {"version", "model_id", "precision", "exporter", "pipeline_hash", "pipeline_outside_hash"}


def decode_metadata(props: dict) -> dict:
    """``biosig.*`` metadata_props as a dict: prefix dropped, JSON values decoded."""
    out = {}
    for key, value in props.items():
        if not key.startswith(META_PREFIX):
            continue
        key = key[len(META_PREFIX):]
        if key in _STRING_KEYS:
            out[key] = value
            continue
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def read_metadata(path) -> dict:
    """The ``biosig.*`` metadata of an exported file (see :func:`decode_metadata`)."""
    import onnx
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError, OSError and friends
        raise EncoderError(f"{path}: not a readable ONNX file ({exc})") from None
    return decode_metadata({p.key: p.value for p in proto.metadata_props})


RUNTIME_KEYS = ("model_config", "pipeline_outside", "model_id")   # what running an exported graph needs


def missing_metadata_problem(path, meta: dict) -> str | None:
    """The one-line problem when ``meta`` lacks what running the graph needs (:data:`RUNTIME_KEYS`)."""
    missing = [k for k in RUNTIME_KEYS if k not in meta]
    if not missing:
        return None
    return (f"{path} lacks the biosig metadata {', '.join(missing)}; export it with "
            "`biosig export` so the preprocessing travels with the graph")


def uses_channel_input(config: dict) -> bool:
    """True when the graph takes ``channel_idx`` int64 (B, C): models whose channel vocabulary lets
    any subset of named channels (ECG leads) map onto learned channel embeddings."""
    return config.get("modality") not in ("audio", "spiro") and len(config.get("channels") or ()) > 1
