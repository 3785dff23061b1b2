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
import pathlib
import shutil

from streams.errors import StreamError

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_loopback(endpoint: str) -> bool:
    """True for ``inproc://``, ``ipc://`` and ``tcp://`` on a loopback address."""
    if endpoint.startswith(("inproc://", "ipc://")):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0]
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def check_plain_allowed(endpoints, insecure: bool):
    """Refuse plain TCP on a non-loopback endpoint unless ``insecure`` was asked for."""
    outside = [e for e in endpoints if not is_loopback(e)]
    if outside and not insecure:
        raise StreamError(f"endpoint(s) {', '.join(outside)} are not loopback: give a key directory "
                          "(biosig keys generate DIR; --keys DIR) or ask for plain TCP with --insecure")


def generate_keys(directory, n_clients: int = 1) -> pathlib.Path:
    """Create server and client certificates and the allow-list in ``directory``.

    With ``n_clients > 1`` the extra clients are named ``client2``, ``client3``, ... . Existing
    certificates are never overwritten.
    """
    import zmq.auth
    d = pathlib.Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    allowed = d / "allowed"
    allowed.mkdir(exist_ok=True)
    names = ["server"] + ["client" if i == 0 else f"client{i + 1}" for i in range(n_clients)]
    for name in names:
        if (d / f"{name}.key_secret").exists():
            raise StreamError(f"{d / (name + '.key_secret')} exists; refusing to overwrite keys")
    for name in names:
        public, _secret = zmq.auth.create_certificates(str(d), name)
        if name != "server":
            shutil.copy(public, allowed / f"{name}.key")
    (d / "server.key_secret").chmod(0o600)
    return d


def _load(path: pathlib.Path):
    import zmq.auth
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


