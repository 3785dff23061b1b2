"""The runtime's sockets: bound at start-up, watched for refused handshakes, closed at shutdown.

:class:`SocketsMixin` is one of the parts :class:`streams.runtime.Runtime` is made of: ``run`` binds
every socket with :meth:`SocketsMixin._bind` (options and the CURVE monitor set before the bind), the
event loop hands each refused-handshake event to :meth:`SocketsMixin._on_monitor`, and ``run`` ends
with :meth:`SocketsMixin._shutdown` (workers stopped and drained, then monitors, sockets and context
closed). Its messages keep the ``streams.runtime`` logger.
"""
from __future__ import annotations

import logging
import time

from streams.errors import StreamError
from streams.scores import STOP_DRAIN_S
from streams.security import ipv6_options, refused_handshake_events, refusal_reason

log = logging.getLogger("streams.runtime")

AUTH_WARN_EVERY_S = 10.0   # refused CURVE handshakes are all counted; each reason logged at most this often


class SocketsMixin:
    """Socket lifecycle of :class:`streams.runtime.Runtime` (bind, refused-handshake monitors, shutdown)."""

    def _bind(self, ctx, kind, endpoint, security, socks, options=(), monitors=None, name=""):
        """A socket bound with ``options`` set first (ZeroMQ copies them into the listener); with ``security``
        its refused-handshake monitor joins ``monitors`` first too (one attached later missed the warm-up's)."""
        import zmq
        sock = ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        for option, value in options:
            sock.setsockopt(option, value)
        socks.append(sock)
        if security is not None:
            security.secure(sock)
            if monitors is not None:
                mon = sock.get_monitor_socket(refused_handshake_events())
                mon.setsockopt(zmq.LINGER, 0)
                monitors.append((name, sock, mon))
        for option, value in ipv6_options(endpoint):   # IPv4-only otherwise: "No such device"
            sock.setsockopt(option, value)
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as exc:
            raise StreamError(f"cannot bind {endpoint}: {exc} (another runtime running? choose "
                              "other endpoints)") from None
        return sock

    def _shutdown(self, socks, monitors, security, ctx):
        self.state = "stopping"
        if self.wakeup is not None:
            self.wakeup.close()
        if self.forecast_worker is not None:
            self.forecast_worker.stop()
        for lane in self.lanes.values():
            lane.worker.stop()
            for job, emb, err, ms in lane.worker.poll_results():
                self._publish_embeddings(job, emb, err, ms)
        if self.score_worker is not None:
            self.score_worker.stop(drain_s=STOP_DRAIN_S)   # within a second of SIGINT, the rest counted
        if self.recorder is not None:
            self.recorder.close()
        for _, sk, mon in monitors:
            try:
                sk.disable_monitor()
            except Exception:  # the monitor may never have started
                pass
            mon.close(linger=0)
        for s in socks:
            s.close(linger=0)
        if security is not None:
            security.stop()
        ctx.term()
        log.info("runtime stopped")

    def _on_monitor(self, name, monitor):
        from zmq.utils.monitor import recv_monitor_message
        import zmq
        while True:
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            self.auth_failures[name] += 1
            # a client with a wrong server key retries every 0.1 s: one line per socket and reason per 10 s
            reason, now = refusal_reason(event), time.monotonic()
            if now - self._auth_warned_s.get((name, reason), -AUTH_WARN_EVERY_S) >= AUTH_WARN_EVERY_S:
                self._auth_warned_s[name, reason] = now
                log.warning("a client was refused by CURVE on the %s socket: %s (%d refusals so far)", name,
                            _in_the_log(event, reason), sum(self.auth_failures.values()))


def _in_the_log(event: dict, reason: str) -> str:
    """``reason`` (:func:`streams.security.refusal_reason` of ``event``) as the log says it: a server key this
    runtime's is not was said to be the client's wrong keys, and from here it cannot be told from a client of
    another runtime, right keys there, aimed at this runtime's port (a status request to the wrong port). A
    client of this runtime at the wrong one of its sockets is never seen here (libzmq 4.3: no monitor event)."""
    import zmq
    if (event["event"] == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
            and int(event.get("value") or 0) & 0xFFFFFFFF == zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC):
        return ("it uses another server key: it was given keys that are not this runtime's, or it is a client of "
                "another runtime (its keys right there) sent to this port, e.g. a status request to the wrong port; "
                "either way its endpoint and --keys must name the same runtime")
    return reason
