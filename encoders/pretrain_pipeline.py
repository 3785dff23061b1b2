"""The preprocessing pipeline a pretraining run stores with its model (``biosig pretrain``):
the modality's default with the model's own settings, or a ``--pipeline`` file, checked to bring
any input to the model's rate."""
from __future__ import annotations

import json
import pathlib

from encoders.errors import EncoderError


def load_pipeline_file(path, config):
    """The pipeline in ``path`` (a checkpoint's ``pipeline.json`` or a bare pipeline JSON); it must
    bring any input to the model's rate (a ``resample`` to ``config.input_fs_hz``)."""
    from biosig.errors import BiosigError
    from biosig.pipeline import Pipeline
    from encoders.weights import pipeline_from_dict
    try:
        text = pathlib.Path(path).read_text()
        doc = json.loads(text)
        # a checkpoint's pipeline.json ({"pipeline": ..., "hash": ...}, hash checked) or a bare pipeline
        pipe = pipeline_from_dict(doc) if isinstance(doc, dict) and "pipeline" in doc else Pipeline.from_json(text)
    except (OSError, ValueError, BiosigError) as exc:
        raise EncoderError(f"--pipeline {path}: not a pipeline JSON file ({exc})") from None
    check_pipeline_rate(pipe, config, f"--pipeline {path}")
    return pipe


def check_pipeline_rate(pipe, config, what: str) -> None:
    """The part of ``pipe`` outside the model must bring any input to the model's rate (the part
    inside, e.g. audio's log-mel, is the model's own), else one line naming ``what``."""
    outside, _ = pipe.split_in_model()
    for fs in (100.0, 360.0, 44100.0):
        out = outside.output_fs_hz(fs)
        if abs(out - config.input_fs_hz) > 1e-6 * config.input_fs_hz:
            raise EncoderError(f"{what}: gives {out:g} Hz from a {fs:g} Hz input; {config.name} takes "
                               f"{config.input_fs_hz:g} Hz (begin it with a resample to that rate)")


def default_training_pipeline(config):
    """The modality's default pipeline with the model's own settings where ``--set`` changed them:
    the resample step at ``input_fs_hz``, audio's log-mel with the model's band and frames (the
    model computes it; the stored pipeline then says what it does). Unchanged, and so with the
    default's hash, where nothing differs."""
    from biosig.pipeline import Pipeline, default_pipeline
    pipe = default_pipeline(config.modality)
    own = {"resample": {"fs_hz": config.input_fs_hz},
           "logmel": {"n_mels": config.n_mels, "n_fft": config.n_fft, "hop": config.hop_length,
                      "fmin_hz": config.fmin_hz, "fmax_hz": config.fmax_hz}}
    changes = [{k: v for k, v in own.get(s.name, {}).items() if float(s.params[k]) != float(v)} for s in pipe.steps]
    if not any(changes):
        return pipe
    pipe = Pipeline(tuple((s.name, {**s.params, **c}) for s, c in zip(pipe.steps, changes)))
    check_pipeline_rate(pipe, config, f"the default {config.modality} pipeline")
    return pipe
