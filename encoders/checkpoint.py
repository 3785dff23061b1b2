"""Checkpoints and the :class:`Encoder` wrapper returned by :func:`encoders.load`.

A checkpoint directory holds::

    config.json     EncoderConfig.to_dict()
    pipeline.json   {"pipeline": <Pipeline.to_json()>, "hash": <Pipeline.hash>} or null
    weights.pt      the model's state_dict (torch.save, loaded with weights_only=True)
    meta.json       {"model_id", "step", "params", ...}

Training state for exact resume (optimizer, RNG, data order) lives in ``train_state.pt`` next to
them and is not needed for inference.
"""
from __future__ import annotations

import json
import logging
import pathlib
import re

import numpy as np
import torch

from encoders.arguments import seed_value
from encoders.config import EncoderConfig, get_config, list_models
from encoders.errors import CheckpointError, EncoderError
from encoders.model import EncoderModel
from encoders.weights import pipeline_from_dict, pipeline_to_dict, state_hash, weights_hash  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

CHECKPOINT_ROOT = pathlib.Path(__file__).resolve().parent / "checkpoints"
FILES = ("config.json", "weights.pt")


def save_checkpoint(directory, model: EncoderModel, pipeline=None, meta: dict | None = None) -> str:
    """Write config, pipeline, weights and meta into ``directory``; returns the model id."""
    d = pathlib.Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    model_id = f"{model.config.name}-{weights_hash(model)[:10]}"
    tmp = d / "weights.pt.tmp"
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    tmp.replace(d / "weights.pt")
    (d / "config.json").write_text(json.dumps(model.config.to_dict(), indent=1))
    (d / "pipeline.json").write_text(json.dumps(pipeline_to_dict(pipeline), indent=1))
    full_meta = {"model_id": model_id, **(meta or {})}
    (d / "meta.json").write_text(json.dumps(full_meta, indent=1))
    return model_id


def load_model(directory) -> tuple[EncoderModel, dict | None, dict]:
    """(model in eval mode, pipeline dict, meta) from a checkpoint directory."""
    d = pathlib.Path(directory)
    missing = [f for f in FILES if not (d / f).is_file()]
    if missing:
        raise CheckpointError(f"{d}: not a checkpoint directory (missing {', '.join(missing)})")
    config, pipe, meta = _read_json_files(d)
    state = _read_weights(d / "weights.pt")
    _check_hash(d, state, meta)
    _check_finite(d, state)
    model = EncoderModel(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{d}: weights.pt does not match config.json ({_mismatch(model, state) or exc}); the "
                              "two come from different models: copy the checkpoint folder again, or train it again"
                              ) from None
    return model.eval(), pipe, meta


def _mismatch(model: EncoderModel, state) -> str:
    """What differs between ``model``'s tensors and ``state``'s, in one line (torch's message is a
    paragraph listing every key: a config.json of depth 2 beside 6-block weights printed 60 names)."""
    if not isinstance(state, dict):
        return f"weights.pt holds a {type(state).__name__}, not a state dict"
    want = model.state_dict()
    parts = []
    for what, keys in (("missing", [k for k in want if k not in state]),
                       ("unexpected", [k for k in state if k not in want])):
        if keys:
            parts.append(f"{len(keys)} {what} tensor(s), e.g. {keys[0]}")
    shaped = [k for k in want
              if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(want[k].shape)]
    if shaped:
        k = shaped[0]
        parts.append(f"{len(shaped)} of another shape, e.g. {k} {list(state[k].shape)} for {list(want[k].shape)}")
    return "; ".join(parts)


def _read_weights(path: pathlib.Path):
    """The state dict in ``path``, or one line naming the file: a weights.pt cut short (a copy or a
    save that stopped) or damaged raised torch's paragraph (zip errors), ``[Errno 22] Invalid argument``
    (cut in half), or a traceback (EOFError for an empty file, KeyError for other bytes)."""
    import pickle
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, EOFError, RuntimeError, ValueError, TypeError, KeyError, AttributeError, ImportError,
            IndexError, pickle.UnpicklingError) as exc:
        if isinstance(exc, PermissionError):
            raise CheckpointError(f"{path}: cannot be read (permission denied)") from None
        size = path.stat().st_size if path.is_file() else 0
        why = (str(exc).splitlines() or [""])[0].split(". ")[0]   # torch's first sentence
        if not isinstance(exc, (OSError, RuntimeError)):   # the unpickler's KeyError: 101, a bare EOFError
            why = f"{type(exc).__name__}: {why}" if why else type(exc).__name__
        raise CheckpointError(f"{path}: truncated or corrupt weights file ({size} bytes; {why}); copy the "
                              "checkpoint folder again, or train it again") from None


def _check_hash(d: pathlib.Path, state, meta: dict) -> None:
    """Weights whose hash is not the one meta.json's model id ends with (``ecg-tiny-c440d2a286``: the
    first 10 hex of :func:`weights_hash` at save) are refused in one line: torch does not check the
    archive's CRC, so bytes zeroed inside weights.pt, or a weights.pt copied from another checkpoint of
    the same model, loaded and exported under the checkpoint's id. No recorded hash: no check."""
    recorded = re.fullmatch(r".+-([0-9a-f]{10})", str(meta.get("model_id") or ""))
    if recorded is None or not isinstance(state, dict) or \
            not all(isinstance(v, torch.Tensor) for v in state.values()):
        return   # an older checkpoint, or not a state dict (load_state_dict says what is wrong)
    found = state_hash(state)[:10]
    if found != recorded.group(1):
        raise CheckpointError(f"{d}: weights.pt holds weights {found}, not the weights {recorded.group(1)} the "
                              f"checkpoint {meta['model_id']} was saved with (weights.pt damaged, or replaced by "
                              "another checkpoint's); copy the checkpoint folder again, or train it again")


def _check_finite(d: pathlib.Path, state) -> None:
    """A checkpoint whose weights hold NaN or inf (a diverged run) embeds nothing but NaN: refused
    in one line on load, before ``embed``, ``export`` or ``score`` use it."""
    if not isinstance(state, dict):
        return   # load_state_dict says what is wrong
    bad = [k for k, v in state.items()
           if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"checkpoint {d} has non-finite weights (diverged training?) in {len(bad)} "
                              f"tensor(s), e.g. {bad[0]}; retrain it with a lower --lr, or use another checkpoint")


def _read_json_files(d: pathlib.Path) -> tuple[EncoderConfig, dict | None, dict]:
    """(config, pipeline dict or None, meta) from the JSON files of checkpoint directory ``d``."""
    found = {}
    for name, kind in (("config.json", dict), ("pipeline.json", (dict, type(None))), ("meta.json", dict)):
        if name != "config.json" and not (d / name).is_file():
            found[name] = None if name == "pipeline.json" else {}
            continue
        try:   # which file is broken, said (it was "unreadable checkpoint: Expecting value: line 1 column 2")
            found[name] = json.loads((d / name).read_text())
        except (ValueError, OSError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CheckpointError(f"{d / name}: unreadable ({why}); copy the checkpoint folder again, or train it "
                                  "again") from None
        if not isinstance(found[name], kind):
            raise CheckpointError(f"{d / name}: holds a JSON {type(found[name]).__name__}, not the object a checkpoint "
                                  "writes; copy the checkpoint folder again, or train it again")
    try:
        config = EncoderConfig.from_dict(found["config.json"])
    except CheckpointError:
        raise
    except EncoderError as exc:   # a field out of range or unknown: which file says it
        raise CheckpointError(f"{d / 'config.json'}: {exc}") from None
    return config, found["pipeline.json"], found["meta.json"]


def training_steps(meta: dict) -> dict | None:
    """``{"step": k, "steps": n}`` of a trained checkpoint's meta.json (the step saved, and the ``--steps``
    of the run that saved it); None where it does not say (random weights, an older checkpoint)."""
    step, steps = meta.get("step"), (meta.get("train_config") or {}).get("steps")
    if not isinstance(step, int) or not isinstance(steps, int) or isinstance(step, bool) or isinstance(steps, bool):
        return None
    return {"step": step, "steps": steps}


def unfinished_run(meta: dict) -> str | None:
    """One line for a checkpoint whose run stopped before its ``--steps`` (Ctrl-C, killed, diverged: the
    checkpoint of step k is kept and resumable), or None."""
    done = training_steps(meta)
    if done is None or done["step"] >= done["steps"]:
        return None
    return (f"{meta.get('model_id', 'the checkpoint')} is from a run that stopped at step {done['step']} of "
            f"{done['steps']} (its training is not finished); continue it with the same biosig pretrain command, "
            "--out its folder and --resume, then export again")


def shipped_models() -> list[str]:
    """Names of the checkpoints shipped inside the package."""
    if not CHECKPOINT_ROOT.is_dir():
        return []
    return sorted(p.name for p in CHECKPOINT_ROOT.iterdir() if (p / "weights.pt").is_file())


def resolve(name_or_dir) -> pathlib.Path:
    """Checkpoint directory for a shipped name or a path."""
    p = pathlib.Path(str(name_or_dir)).expanduser()
    if p.is_dir():
        return p
    shipped = CHECKPOINT_ROOT / str(name_or_dir)
    if shipped.is_dir():
        return shipped
    if p.is_file():   # a weights.pt, an .onnx or a text file given for the folder
        raise EncoderError(f"{str(name_or_dir)!r} is a file, not a checkpoint: give the checkpoint's folder (it holds "
                           f"config.json and weights.pt) or a shipped model ({', '.join(shipped_models()) or 'none'})")
    raise EncoderError(f"no checkpoint {str(name_or_dir)!r}: neither a directory nor a shipped model; "
                       f"shipped models: {', '.join(shipped_models()) or 'none'} "
                       f"(architectures without weights: {', '.join(list_models())})")


def architecture(name_or_dir) -> tuple[EncoderConfig, dict | None, float | None]:
    """(config, pipeline dict, training window in s) of a shipped model or checkpoint directory, read
    without its weights; for a registered architecture name (``"ecg-base"``) its config, ``None``
    (the modality's default pipeline) and ``None`` (the config's window)."""
    try:
        d = resolve(name_or_dir)
    except EncoderError:
        if str(name_or_dir) in list_models():
            return get_config(str(name_or_dir)), None, None
        raise
    if not (d / "config.json").is_file():
        raise CheckpointError(f"{d}: not a checkpoint directory (missing config.json)")
    config, pipe, meta = _read_json_files(d)
    window_s = (meta.get("train_config") or {}).get("window_s")
    return config, pipe, (float(window_s) if window_s else None)


def random_weights(config: EncoderConfig, pipeline=None, seed: int = 0, train_window_s: float | None = None):
    """An :class:`encoders.embed.Encoder` of architecture ``config`` with random weights drawn from
    ``seed`` (deterministic), the given pipeline (a dict, a Pipeline, or None: the modality's
    default) and training window, so that a random-weight baseline sees its input exactly as the
    trained model does. The one place random-weight encoders are made."""
    from encoders.embed import Encoder  # checkpoint -> embed, never the other way (encoders.weights)
    seed = seed_value(seed)
    torch.manual_seed(seed)
    meta = {"pretrained": False, "random_seed": int(seed)}
    if train_window_s:
        meta["train_config"] = {"window_s": float(train_window_s)}
    return Encoder(EncoderModel(config).eval(), pipeline=pipeline, meta=meta)


def load(name_or_dir, pretrained: bool = True, seed: int = 0):
    """Load an :class:`encoders.embed.Encoder` from a shipped name (``"ecg-tiny"``) or a directory.

    ``pretrained=False`` builds the architecture of ``name_or_dir`` (the checkpoint's config where
    one exists, else the registered one) with random weights from ``seed``, the checkpoint's
    pipeline and training window (:func:`architecture`, :func:`random_weights`).
    """
    from encoders.embed import Encoder  # checkpoint -> embed, never the other way (encoders.weights)
    if not pretrained:
        config, pipe, train_window_s = architecture(name_or_dir)
        return random_weights(config, pipe, seed, train_window_s)
    model, pipe, meta = load_model(resolve(name_or_dir))
    return Encoder(model, pipeline=pipe, meta=meta)
