"""Errors of the signal layer.

Every error a user can cause (a bad file, a bad argument) is a :class:`BiosigError`. The CLI turns
these into one line on stderr and exit code 2; anything else is a bug and keeps its traceback.
Packages above ``biosig`` derive their own errors from this class so the CLI treats them alike.
"""
from __future__ import annotations


class BiosigError(Exception):
    """Base class for errors caused by input: files, arguments, configuration."""


class PathError(BiosigError):
    """A problem with one file or folder: ``str(err)`` is ``"<path>: <problem>"``."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):   # pickled as (path, problem): a worker process's error reaches the parent whole
        return type(self), (self.path, self.problem)


class ReadError(PathError):
    """A file could not be read as a signal (missing, unknown format, truncated, inconsistent)."""


class WriteError(PathError):
    """An output cannot be written: unknown format, a folder where a file is expected, a file where
    a folder is expected, a folder that cannot be created or written to."""


class SignalError(BiosigError):
    """A signal is unusable for the requested operation (bad rate, all NaN, wrong shape)."""


class PipelineError(BiosigError):
    """A preprocessing pipeline is malformed (unknown step, bad parameter)."""
