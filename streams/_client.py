"""What the publisher and subscriber SDKs share: the lifetime of a client socket and its context."""
from __future__ import annotations


class ClientSocket:
    """Mixin for SDK classes holding a ZeroMQ socket in ``self.sock`` and its context in ``self.ctx``.

    ``self._own_ctx`` is true when the object made the context itself (no ``ctx=`` given), so
    :meth:`close` terminates it too; a context passed in by the caller is left to the caller.
    """

    def close(self, linger_s: float = 0.0):
        """Close the socket (waiting up to ``linger_s`` for queued frames to leave)."""
        self.sock.close(linger=int(linger_s * 1000))
        if self._own_ctx:
            self.ctx.term()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
