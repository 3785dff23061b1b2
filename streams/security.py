"""CURVE security for every biosig socket (pyzmq's :mod:`zmq.auth`).

A key directory made by :func:`generate_keys` (``biosig keys generate DIR``) holds::

    DIR/server.key, DIR/server.key_secret    the runtime's certificate
    DIR/client.key, DIR/client.key_secret    one client certificate
    DIR/allowed/client.key                   the allow-list: public keys of accepted clients

The runtime is the CURVE server on all its sockets and accepts only clients whose public key is
in ``DIR/allowed``. Without keys, sockets are plain TCP, which is accepted only on loopback
endpoints unless the caller explicitly asks for it (``insecure=True``).
"""
from __future__ import annotations

import logging
import os
import pathlib
import shutil
import sys

from streams.errors import StreamError

log = logging.getLogger(__name__)

LOCAL_SCHEMES = ("inproc", "ipc")
#: longest ipc:// path a Unix socket takes (sockaddr_un.sun_path less its NUL: 108 on Linux, 104 on macOS)
IPC_PATH_MAX = 107 if sys.platform.startswith("linux") else 103


def parse_endpoint(endpoint: str) -> tuple[str, str, str]:
    """Split a ZeroMQ endpoint into ``(scheme, host, port)``.

    ``tcp://HOST:PORT`` (HOST a name, an IPv4 address, ``[IPv6]`` or ``*``; PORT a number or
    ``*``, a ZeroMQ ``source;dest`` pair keeps the destination), ``ipc://PATH`` and
    ``inproc://NAME`` (host is the path/name, port ``""``; an ipc path of at most ``IPC_PATH_MAX``
    bytes). Raises :class:`StreamError` for anything else.
    """
    if not isinstance(endpoint, str) or "://" not in endpoint:
        raise StreamError(f"endpoint {endpoint!r} is not SCHEME://ADDRESS (tcp, ipc or inproc)")
    scheme, rest = endpoint.split("://", 1)
    if scheme in LOCAL_SCHEMES:
        if not rest:
            raise StreamError(f"endpoint {endpoint!r} has no {scheme} address")
        if scheme == "ipc" and len(os.fsencode(rest)) > IPC_PATH_MAX:   # failed at the bind, after the warm-up
            raise StreamError(f"endpoint {endpoint[:40]!r}...: an ipc path is at most {IPC_PATH_MAX} bytes (the "
                              f"operating system's limit), this one is {len(os.fsencode(rest))}; give a shorter path")
        return scheme, rest, ""
    if scheme != "tcp":
        raise StreamError(f"endpoint {endpoint!r}: scheme {scheme!r} unknown; expected tcp, ipc or inproc")
    rest = rest.rsplit(";", 1)[-1]           # tcp://source;dest connects from source to dest
    if rest.startswith("["):
        host, sep, port = rest[1:].partition("]")
        if not sep or not port.startswith(":"):
            raise StreamError(f"endpoint {endpoint!r} is not tcp://[IPv6]:PORT")
        port = port[1:]
    else:
        host, sep, port = rest.rpartition(":")
        if not sep:
            raise StreamError(f"endpoint {endpoint!r} has no port (tcp://HOST:PORT)")
    if not host or not (port == "*" or (port.isdigit() and 0 < int(port) < 65536)):
        raise StreamError(f"endpoint {endpoint!r} is not tcp://HOST:PORT with PORT in 1..65535 or *")
    return scheme, host, port


def is_loopback(endpoint: str) -> bool:
    """True for ``inproc://``, ``ipc://`` and ``tcp://`` on a loopback host.

    Loopback hosts are IPv4 127.0.0.0/8, IPv6 ``::1`` (also as ``::ffff:127.x.y.z``) and the name
    ``localhost``; every other name (``127.evil.example.com`` included), ``*`` and interface
    names are not loopback. An endpoint that cannot be parsed is not loopback.
    """
    import ipaddress
    try:
        scheme, host, _ = parse_endpoint(endpoint)
    except StreamError:
        return False
    if scheme in LOCAL_SCHEMES:
        return True
    if host.lower() == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return (mapped or addr).is_loopback


def is_ipv6(endpoint: str) -> bool:
    """True for a ``tcp://`` endpoint whose host is an IPv6 address (``tcp://[::1]:P``,
    ``tcp://[::]:P``; for ``source;dest`` the destination). ZeroMQ sockets are IPv4-only until
    their ``IPV6`` option is set: a bind to such an endpoint fails with "No such device" and a
    connect never delivers a frame (see :func:`ipv6_options`)."""
    try:
        scheme, host, _ = parse_endpoint(endpoint)
    except StreamError:
        return False
    return scheme == "tcp" and ":" in host


def ipv6_options(endpoint: str) -> list:
    """The ``(option, value)`` pairs a socket needs before it binds or connects to ``endpoint``:
    ``[(zmq.IPV6, 1)]`` for an IPv6 endpoint (:func:`is_ipv6`), else none (an IPv4 or ``*`` bind
    stays IPv4-only, as before)."""
    import zmq
    return [(zmq.IPV6, 1)] if is_ipv6(endpoint) else []


_INSECURE_NOOP_SAID: set = set()   # endpoints already warned about (a process opens many clients)


def check_plain_allowed(endpoints, insecure: bool):
    """Refuse malformed endpoints, and plain TCP on a non-loopback one unless ``insecure``. An
    ``insecure`` that changes nothing (every endpoint on this machine) is said once a process, never
    refused: scripts pass ``--insecure`` always, and a reader of one must not think it did anything."""
    endpoints = list(endpoints)
    for e in endpoints:
        parse_endpoint(e)
    outside = [e for e in endpoints if not is_loopback(e)]
    if outside and not insecure:
        raise StreamError(f"endpoint(s) {', '.join(outside)} are not loopback: give a key directory "
                          "(biosig keys generate DIR; --keys DIR) or ask for plain TCP with --insecure")
    if insecure and not outside and (new := [e for e in endpoints if e not in _INSECURE_NOOP_SAID]):
        _INSECURE_NOOP_SAID.update(new)
        log.warning("--insecure changes nothing here: %s %s on this machine, where plain TCP is allowed anyway "
                    "(it matters only for an endpoint on another host)", ", ".join(new),
                    "is" if len(new) == 1 else "are all")


def generate_keys(directory, n_clients: int = 1) -> pathlib.Path:
    """Create server and client certificates and the allow-list in ``directory``.

    With ``n_clients > 1`` the extra clients are named ``client2``, ``client3``, ... . Existing
    certificates are never overwritten: no file this would write (public, secret or allowed key) may
    exist. Every secret key file is written 0600 and ``directory`` is made 0700 (owner only); public
    keys stay 0644. An existing ``directory`` must hold nothing but keys (its mode is changed).
    """
    import zmq.auth
    if isinstance(n_clients, bool) or not isinstance(n_clients, int) or n_clients < 1:
        raise StreamError(f"number of client certificates must be an integer >= 1, got {n_clients!r}")
    if not str(directory).strip():   # "" was the current folder: keys written there and it made 0700
        raise StreamError("key folder '' is empty: give a new folder for the keys, e.g. biosig keys generate keys")
    d = pathlib.Path(directory)
    allowed = d / "allowed"
    for path in (d, allowed):   # was "cannot create key directory keys.txt: File exists"
        if path.exists() and not path.is_dir():
            raise StreamError(f"{path} is a file, not a folder; give a new folder for the keys")
    try:
        others = sorted(e.name for e in d.iterdir() if e.name != "allowed"
                        and not e.name.endswith((".key", ".key_secret"))) if d.is_dir() else []
    except OSError:   # not listable: the mkdir or the writes below say why
        others = []
    if others:   # a home or project folder was made 0700 in silence (others and the group locked out)
        listed = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise StreamError(f"{d} holds other files ({listed}); keys go in a folder of their own, made owner-only "
                          "(0700): give a new or empty folder")
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        allowed.mkdir(exist_ok=True)
    except OSError as exc:
        raise StreamError(f"cannot create key directory {d}: {exc.strerror or exc}") from None
    names = ["server"] + ["client" if i == 0 else f"client{i + 1}" for i in range(n_clients)]
    for name in names:   # every file written: a server's public key kept by a client, an allowed key
        written = (d / f"{name}.key_secret", d / f"{name}.key") + (() if name == "server" else (allowed / f"{name}.key",))
        for path in written:
            if path.exists() or path.is_symlink():
                raise StreamError(f"{path} exists; refusing to overwrite keys (a client holding them would "
                                  "be locked out); give a new folder")
    d.chmod(0o700)                           # the folder holds secrets: owner only
    old_umask = os.umask(0o077)              # no moment where a secret is readable by others
    try:
        for name in names:
            public, secret = zmq.auth.create_certificates(str(d), name)
            pathlib.Path(secret).chmod(0o600)  # every secret key file: owner read/write only
            pathlib.Path(public).chmod(0o644)
            if name != "server":
                shutil.copy(public, allowed / f"{name}.key")
                (allowed / f"{name}.key").chmod(0o644)
    finally:
        os.umask(old_umask)
    return d


def _load(path: pathlib.Path):
    import zmq.auth
    if not path.parent.is_dir():   # was "key file DIR/server.key_secret is missing" for a typo or a file
        what = "is a file, not" if path.parent.exists() else "does not exist: give"
        raise StreamError(f"--keys {path.parent} {what} a key folder of `biosig keys generate DIR`")
    if not path.exists():
        raise StreamError(f"key file {path} is missing; create keys with: biosig keys generate DIR")
    try:
        return zmq.auth.load_certificate(str(path))
    except Exception as exc:
        raise StreamError(f"key file {path} is not a ZeroMQ certificate: {exc}") from None


class ServerSecurity:
    """Runs the ZAP authenticator for a context and makes sockets CURVE servers.

    Parameters
    ----------
    ctx : zmq.Context whose sockets are secured.
    key_dir : directory from :func:`generate_keys`.
    """

    def __init__(self, ctx, key_dir):
        from zmq.auth.thread import ThreadAuthenticator
        d = pathlib.Path(key_dir)
        self.public, self.secret = _load(d / "server.key_secret")
        allowed = d / "allowed"
        if not allowed.is_dir() or not any(allowed.glob("*.key")):
            raise StreamError(f"{allowed} holds no client keys: nobody could connect")
        for key in sorted(allowed.glob("*.key")):   # one damaged file: zmq logged it and allowed nobody
            _load(key)
        self.auth = ThreadAuthenticator(ctx)
        self.auth.start()
        self.auth.configure_curve(domain="biosig", location=str(allowed))

    def secure(self, sock):
        import zmq
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.secret)
        sock.setsockopt(zmq.ZAP_DOMAIN, b"biosig")
        return sock

    def stop(self):
        self.auth.stop()


def secure_client(sock, key_dir, client: str = "client"):
    """Make ``sock`` a CURVE client using ``key_dir/<client>.key_secret`` and ``server.key``."""
    import zmq
    d = pathlib.Path(key_dir)
    public, secret = _load(d / f"{client}.key_secret")
    server_public, _ = _load(d / "server.key")
    sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
    sock.setsockopt(zmq.CURVE_SERVERKEY, server_public)
    return sock


def refused_handshake_events() -> int:
    """The monitor events of a CURVE handshake that failed: a client key missing from the
    allow-list (AUTH), a client with another server key or none at all (PROTOCOL), and a peer that
    left mid-handshake (NO_DETAIL): a client without keys leaves so when it sees the CURVE greeting
    before the runtime sees its plain one (about one time in three), and so does a port probe."""
    import zmq
    return (zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
            | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)


def refusal_reason(event: dict) -> str:
    """A monitor event of :func:`refused_handshake_events` (``recv_monitor_message``) in words."""
    import zmq
    if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return "its client key is not in the allow-list (allowed/ of the key directory)"
    if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        return "it left during the handshake (a client without CURVE keys? or a port probe)"
    value = int(event.get("value") or 0) & 0xFFFFFFFF   # a signed int32 in the monitor message
    if value == zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "it uses another server key (keys of another runtime?)"
    if value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "it connected without CURVE keys (give it --keys)"
    return f"handshake protocol error 0x{value:x}"
