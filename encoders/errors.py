"""Errors of the encoders package; all derive from :class:`biosig.errors.BiosigError` so the CLI
reports them as one line with exit code 2."""
from __future__ import annotations

from biosig.errors import BiosigError


class EncoderError(BiosigError):
    """Unknown model name, bad configuration, unusable checkpoint or input of the wrong shape."""


class CheckpointError(EncoderError):
    """A checkpoint directory is missing, incomplete or inconsistent."""


class PipelineRateError(EncoderError):
    """The preprocessing pipeline does not end at the model's input rate (a configuration error)."""
