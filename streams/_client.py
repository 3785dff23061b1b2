"""What the publisher and subscriber SDKs share: checks of the caller's arguments, opening a client
socket, and the lifetime of a client socket and its context.

A caller's mistake (a count that is no integer, a timeout of NaN, an endpoint a client cannot
connect to) is a :class:`~streams.errors.StreamError` naming the argument and its value, never a
TypeError or a ZMQError from deep inside pyzmq.
"""
from __future__ import annotations

import math
import numbers
import os
import pathlib

from biosig.arguments import whole_number
from streams.errors import StreamError

try:
    import resource as _resource
except ImportError:   # Windows
    _resource = None

MAX_INT_OPTION = 2**31 - 1   # ZeroMQ int socket options (high-water marks) are C ints


def check_count(value, name: str) -> int:
    """``value`` as an int in ``0..2**31-1`` (a ZeroMQ int option such as a high-water mark)."""
    return whole_number(value, name, 0, MAX_INT_OPTION, error=StreamError)


def check_seconds(value, name: str, *, lo_open: bool = False, hi: float = math.inf) -> float:
    """``value`` as a float of seconds ``>= 0`` (``> 0`` with ``lo_open``) and ``<= hi``; ``inf``
    is accepted only when ``hi`` is (it then means: no limit)."""
    try:
        v = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    except OverflowError:   # an int beyond float
        v = math.inf
    if not (v > 0 if lo_open else v >= 0) or not v <= hi:   # NaN fails both
        bounds = f"{'> 0' if lo_open else '>= 0'}" + (f" and <= {hi:g}" if hi < math.inf else " (inf: no limit)")
        raise StreamError(f"{name}={value!r} must be a number of seconds {bounds}")
    return v


def check_connection(endpoint, key_dir, client, insecure) -> None:
    """Refuse what a client socket cannot connect with: a malformed endpoint, a wildcard ``*``
    (for binding, not connecting), plain TCP to another host without ``insecure=True``, and
    ``key_dir``/``client``/``insecure`` of the wrong type."""
    from streams.security import check_plain_allowed, parse_endpoint
    if not isinstance(insecure, bool):
        raise StreamError(f"insecure={insecure!r} must be True or False")
    if key_dir is not None and not isinstance(key_dir, (str, os.PathLike)):
        raise StreamError(f"key_dir={key_dir!r} must be a directory path (biosig keys generate DIR)")
    if not isinstance(client, str) or not client:
        raise StreamError(f"client={client!r} must be the name of a client certificate, e.g. 'client'")
    _, host, port = parse_endpoint(endpoint)
    if "*" in (host, port):
        raise StreamError(f"endpoint {endpoint!r}: a client connects to one HOST:PORT; '*' is for binding")
    if not key_dir:
        check_plain_allowed([endpoint], insecure)


def open_socket(ctx, kind: int, endpoint: str, key_dir, client: str, options=(), before_connect=None):
    """A ZeroMQ socket of ``kind`` with linger 0 and ``options`` (``(option, value)`` pairs),
    CURVE keys from ``key_dir`` when given, connected to ``endpoint``; closed again when any of
    that fails. ``before_connect(sock)`` runs just before the connect (e.g. :func:`watch_handshake`)."""
    import zmq
    from streams.security import ipv6_options, secure_client
    try:
        sock = ctx.socket(kind)
    except zmq.ZMQError as exc:   # EMFILE: the open-file limit, or the context's socket limit
        raise StreamError(f"cannot open a socket for {endpoint}: {exc.strerror} (open-file limit "
                          f"{_open_file_limit()} (ulimit -n), at most {ctx.get(zmq.MAX_SOCKETS)} sockets per "
                          "ZeroMQ context): fewer publishers or a higher limit") from None
    try:
        sock.setsockopt(zmq.LINGER, 0)
        for option, value in (*options, *ipv6_options(endpoint)):   # IPv4-only else: never delivers to [::1]
            sock.setsockopt(option, value)
        if key_dir:
            secure_client(sock, key_dir, client)
        if before_connect is not None:
            before_connect(sock)
        sock.connect(endpoint)
    except zmq.ZMQError as exc:
        sock.close(linger=0)
        raise StreamError(f"cannot connect to endpoint {endpoint!r}: {exc.strerror}") from None
    except BaseException:
        sock.close(linger=0)
        raise
    return sock


def _open_file_limit() -> str:
    """The process's open-file limit (``ulimit -n``); ``resource`` imported before it is needed: with
    every file descriptor taken, the import itself fails."""
    try:
        return str(_resource.getrlimit(_resource.RLIMIT_NOFILE)[0])
    except (AttributeError, OSError, ValueError):   # no resource module (Windows)
        return "unknown"


def watch_handshake(sock):
    """A monitor socket on ``sock`` (before it connects) for its connections and their handshakes;
    read it with :func:`handshake_events`. The caller closes it (before the context terminates)."""
    import zmq
    return sock.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED
                                   | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                   | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)


def handshake_events(mon) -> list[dict]:
    """What :func:`watch_handshake`'s ``mon`` saw so far (pyzmq monitor messages, oldest first)."""
    import zmq
    from zmq.utils.monitor import recv_monitor_message
    events = []
    while mon.poll(0, zmq.POLLIN):
        events.append(recv_monitor_message(mon))
    return events


def handshake_refusal(events, endpoint: str, key_dir) -> str | None:
    """Why the CURVE handshake with ``endpoint`` failed, or None (no failure among ``events`` of
    :func:`handshake_events`): the client's view of the runtime's ``streams.security.refusal_reason``.
    A handshake that failed without detail is a wrong server key *or* a socket that is no status
    endpoint (the runtime's output or ingest: CURVE fails the same way there); both are said, the
    endpoint first (it was said to be the keys, and the endpoint was the mistake)."""
    import zmq
    failed = {e["event"] for e in events}
    mismatch = any(e["event"] == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and (int(e.get("value") or 0) & 0xFFFFFFFF)
                   == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH for e in events)   # the clearest one said first
    if not failed & {zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
                     zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL}:
        return None
    d = pathlib.Path(key_dir) if key_dir else None
    if d is None and mismatch:   # a plain client against a CURVE server
        return f"the runtime at {endpoint} uses CURVE keys: give --keys (a folder of `biosig keys generate`)"
    if d is None:   # another protocol failure of a plain client: a socket of another type (the runtime's output,
        return None   # 1 run in 3 here; the others saw it closed): said as such by no_reply_reason
    if mismatch:
        return f"the runtime at {endpoint} does not use CURVE keys: leave out --keys {key_dir}"
    if zmq.EVENT_HANDSHAKE_FAILED_AUTH in failed:
        return (f"the runtime at {endpoint} refused this client's key: its public key "
                f"({d / 'client.key'}) is not in the runtime's allowed/ folder")
    return (f"no status reply from {endpoint}: {_is_status_endpoint()} or else {d / 'server.key'} is not "
            "that runtime's server key (keys of another runtime? or a runtime without --keys?)")


def no_reply_kind(events) -> str:
    """What took a status request that had no answer, when no handshake failed: ``nobody`` (nothing
    took the connection), ``closed`` (something took it and closed it: a runtime's output or ingest
    socket, where plain ZeroMQ drops a REQ without a word) or ``busy`` (a runtime took it and did
    not answer in time)."""
    import zmq
    kinds = {e["event"] for e in events}
    if zmq.EVENT_DISCONNECTED in kinds and zmq.EVENT_HANDSHAKE_SUCCEEDED not in kinds:
        return "closed"
    return "busy" if zmq.EVENT_HANDSHAKE_SUCCEEDED in kinds else "nobody"


def no_reply_reason(events, endpoint: str, timeout_s: float) -> str:
    """Why a status request to ``endpoint`` had no answer, when no handshake failed (the three cases
    of :func:`no_reply_kind`)."""
    kind = no_reply_kind(events)
    if kind == "closed":
        return (f"no status reply from {endpoint}: something there took the connection and closed it; "
                f"{_is_status_endpoint()}")
    return (f"no runtime answered on {endpoint} within {timeout_s:g} s "
            + ("(a runtime took the request: busy? a longer --timeout-s)" if kind == "busy"
               else "(is `biosig serve` running? same --status endpoint and keys?)"))


def _is_status_endpoint() -> str:
    """The question both no-reply messages ask: the endpoint was more often the mistake than the keys."""
    from streams.config import DEFAULT_STATUS
    from streams.security import parse_endpoint
    port = parse_endpoint(DEFAULT_STATUS)[2]
    return f"is it the runtime's status endpoint (`biosig serve` prints it; default :{port}), not its output or ingest?"


class ClientSocket:
    """Mixin for SDK classes holding a ZeroMQ socket in ``self.sock`` and its context in ``self.ctx``.

    ``self._own_ctx`` is true when the object made the context itself (no ``ctx=`` given), so
    :meth:`close` terminates it too; a context passed in by the caller is left to the caller.
    """

    def close(self, linger_s: float = 0.0):
        """Close the socket (waiting up to ``linger_s`` for queued frames to leave)."""
        linger_s = check_seconds(linger_s, "linger_s", hi=3600.0)
        self.sock.close(linger=int(linger_s * 1000))
        if self._own_ctx:
            self.ctx.term()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
