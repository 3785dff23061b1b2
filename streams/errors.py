"""Errors of the streams package; all derive from :class:`biosig.errors.BiosigError` so the CLI
reports them as one line with exit code 2."""
from __future__ import annotations

from biosig.errors import BiosigError


class StreamError(BiosigError):
    """A bad endpoint, configuration, key directory or runtime request."""


class ProtocolError(StreamError):
    """A frame that breaks the wire protocol (see ``docs/protocol.md``).

    Attributes
    ----------
    reason : short machine-readable code, one of :data:`streams.protocol.REJECT_REASONS`; the
        runtime counts rejected frames per stream under this code.
    stream : the stream the frame claimed to belong to, ``""`` when it could not be told.
    """

    def __init__(self, reason: str, message: str, stream: str = ""):
        self.reason = reason
        self.message = message
        self.stream = stream
        super().__init__(f"{reason}: {message}")

    def __reduce__(self):   # pickled with its three parts (the default would call it with one)
        return type(self), (self.reason, self.message, self.stream)
