"""Errors of batch scoring; they derive from :class:`biosig.errors.BiosigError`, so the CLI
reports them as one line with exit code 2."""
from __future__ import annotations

from biosig.errors import BiosigError, WriteError


class ScoreError(BiosigError):
    """A scoring job cannot start or continue: bad arguments, no records, an output folder that
    holds another job's results, an engine that is not installed."""


class OutputWriteError(ScoreError, WriteError):
    """A file of the output folder could not be written (a full disk, a folder made read-only):
    ``str(err)`` is ``"<path>: not written: <why>"``; ``path`` and ``problem`` as :class:`WriteError`."""


class RecordFailure(Exception):
    """One record failed at one stage; reported in ``errors.parquet``, the run goes on.

    Attributes
    ----------
    stage : where it failed: one of :data:`encoders.scoring.record.STAGES`.
    cause : the original exception.
    """

    def __init__(self, stage: str, cause: BaseException):
        self.stage = stage
        self.cause = cause
        super().__init__(f"{stage}: {type(cause).__name__}: {cause}")
