"""Checks of ``biosig replay`` (:func:`biosig.cli._device_commands._replay`) before a frame goes out.

:func:`record_paths` turns the RECORD arguments into record files: a folder is searched as ``info``,
``embed`` and ``score`` search theirs (:func:`biosig.readers.discover`); it was refused with a pointer to
that Python function. :func:`check_first_frames` refuses a ``--seconds`` that ends before any stream's first
frame: such a run sent nothing and exited 0 (``monitor`` refuses the same). Each raises
:class:`streams.errors.StreamError` with one line (exit code 2). :class:`ReplayProgress` says how far a long
replay got (a pass through a Holter record ran for hours without a word). :class:`DeliveryCheck` asks the runtime's
status endpoint what it did with the frames (``replay`` and ``monitor`` publish one way: two replays of one record
under one source name had half their frames rejected as ``session_conflict`` while each said "dropped 0"); it
confirms only frames sent where the runtime listens (:func:`endpoint_mismatch`: host names resolved, a wildcard bind
taking any address of the runtime's host; ``tcp://localhost:P`` against a runtime bound to ``tcp://0.0.0.0:P`` read
"unconfirmed" when endpoints were compared as strings).
"""
from __future__ import annotations

import pathlib


def record_paths(records) -> list[str]:
    """The RECORD arguments with each folder replaced by the records found in it (recursively, in order). Files
    are kept as given (the reader says what is wrong with one; a file named twice is two sources, ``_2``, as
    before); a record found in a folder is left out when it is named too or found in another folder given."""
    from biosig.readers import discover
    from streams.errors import StreamError
    if any(not str(r).strip() for r in records):
        raise StreamError("RECORD '' is empty: give a recording (WFDB .hea, EDF, CSV, ...) or a folder of them")
    named = {pathlib.Path(r).resolve() for r in records if not pathlib.Path(r).is_dir()}
    out: list[str] = []
    seen: set = set()
    for given in records:
        if not pathlib.Path(given).is_dir():
            out.append(str(given))
            continue
        found = discover([given])
        if not found:
            raise StreamError(f"{given}: a folder with no recording the signal layer reads (WFDB, EDF, audio, "
                              "marker or spirometry CSV, CSV/Parquet with a time column); nothing to replay")
        for path in found:
            key = pathlib.Path(path).resolve()
            if key not in named and key not in seen:   # one publisher for it, not two of one stream name
                seen.add(key)
                out.append(path)
    return out


def check_first_frames(sources, seconds) -> None:
    """Refuse ``--seconds`` shorter than the first frame of every source: a frame goes out when its last sample
    happens (at the replay's speed), so such a run sent nothing and said "sent 0 frames" with exit code 0."""
    from streams.errors import StreamError
    if seconds is None or not sources:
        return
    first_s = min((s.next_frame_n - 1) / (s.fs_hz * s.speed) for s in sources)
    if first_s > seconds:
        raise StreamError(f"--seconds {seconds:g} ends before the first frame of any stream ({first_s:.3g} s of "
                          "replay at this --speed): nothing would be sent; give a longer --seconds")


def gap_text(sources) -> str:
    """``, left out N instant(s) with a missing sample (every channel's sample there; M sequence gap(s))`` for the
    summary line, or ``""``: a record's NaN stretches were left out without a word (``sent 17 frames`` of a record
    of 20). Replay splits a frame at its missing instants (:meth:`streams.replay.ReplaySource`): it no longer leaves
    out whole frames, as this line said until 2026-12-07."""
    runs = sum(getattr(s, "skipped", 0) for s in sources)
    instants = sum(getattr(s, "missing_n", 0) for s in sources)
    return (f", left out {instants} instant(s) with a missing sample (every channel's sample there; {runs} sequence "
            f"gap(s))" if runs else "")


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class ReplayProgress:
    """``biosig replay: 0:20 of 30:05 replayed (200 frames sent, 0 dropped)`` on stderr every ``every_s`` seconds
    of the run (``BIOSIG_PROGRESS_S``, 10 s by default), called by :func:`streams.simulate.run_sources`; time is
    the wall clock of the run, ``total_s`` its length (``--seconds`` or one pass of the longest record); an
    interval of 0 or less: none (a line per round of sends would flood the terminal)."""

    def __init__(self, sources, total_s: float, every_s: float | None = None):
        from biosig.progress import progress_interval_s
        self.sources, self.total_s = sources, float(total_s)
        self.every_s = progress_interval_s() if every_s is None else float(every_s)
        self.t0 = self.next_s = None

    def __call__(self, now: float) -> None:
        import sys
        if self.t0 is None:
            self.t0 = min((s.t_start for s in self.sources), default=now)
            self.next_s = self.t0 + self.every_s
        if self.every_s <= 0 or now < self.next_s or now - self.t0 >= self.total_s:
            return
        self.next_s = now + self.every_s
        sent, dropped = (sum(getattr(s.out, k) for s in self.sources) for k in ("sent", "dropped"))
        print(f"biosig replay: {_clock(now - self.t0)} of {_clock(self.total_s)} replayed ({sent} frames sent, "
              f"{dropped} dropped)", file=sys.stderr, flush=True)


#: how long the first status request (when the run starts) waits for an answer
FIRST_S = 0.5
#: the longest wait for a host name of --ingest or --status to resolve (getaddrinfo has no timeout of its own)
RESOLVE_S = 1.0


def _literal(host: str):
    """``host`` as an IP address (an IPv4-mapped IPv6 one as IPv4; ``*``, ZeroMQ's IPv4 wildcard, as ``0.0.0.0``), or
    None for a name."""
    import ipaddress
    if host == "*":   # (until 2026-12-07 a name: resolving it raised TypeError, a "*" bind took IPv6 clients)
        return ipaddress.IPv4Address("0.0.0.0")
    try:
        addr = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    return getattr(addr, "ipv4_mapped", None) or addr


def _is_local(addr) -> bool:
    """Whether ``addr`` is an address of this machine: loopback, or one a socket can bind (a real test, not a list)."""
    import socket
    if addr.is_loopback:
        return True
    with socket.socket(socket.AF_INET6 if addr.version == 6 else socket.AF_INET) as probe:
        try:
            probe.bind((str(addr), 0))
        except OSError:
            return False
    return True


class _Resolver:
    """The addresses a ZeroMQ client connects to for a host: an IP literal as it is; ``localhost`` and any other name
    through ``socket.getaddrinfo``, IPv4 only (a client socket is IPv4-only unless its endpoint is an IPv6 literal,
    :func:`streams.security.ipv6_options`), in a daemon thread each, started early (:meth:`start`) and waited for
    :data:`RESOLVE_S` at most: a name server that does not answer must not hold up the end of a run."""

    def __init__(self):
        import threading
        self._lock, self._found = threading.Lock(), {}

    def start(self, host: str):
        import threading
        with self._lock:
            if host in self._found or _literal(host) is not None:
                return self._found.get(host)
            box: list = []
            th = threading.Thread(target=self._lookup, args=(host, box), name="biosig-resolve", daemon=True)
            self._found[host] = (th, box)
        th.start()
        return th, box

    @staticmethod
    def _lookup(host: str, box: list):
        import socket
        try:
            found = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
            box.append(({_literal(a[4][0]) for a in found}, None))
        except (OSError, UnicodeError) as exc:
            box.append((None, f"{host} does not resolve ({getattr(exc, 'strerror', None) or exc})"))

    def addresses(self, host: str, timeout_s: float = RESOLVE_S):
        """``(set of addresses, None)`` or ``(None, why not)``: a name that does not resolve, or not in time."""
        addr = _literal(host)
        if addr is not None:
            return {addr}, None
        th, box = self.start(host)
        th.join(timeout_s)
        if box:
            return box[0] if box[0][0] else (None, box[0][1] or f"{host} resolves to no IPv4 address")
        return None, f"{host} did not resolve within {timeout_s:g} s"


def _host(endpoint: str) -> str | None:
    """The host of a ``tcp://`` endpoint, else None (an ipc or inproc one, or one that does not parse)."""
    from streams.errors import StreamError
    from streams.security import parse_endpoint
    try:
        scheme, host, _ = parse_endpoint(endpoint)
    except StreamError:
        return None
    return host if scheme == "tcp" else None


def _names(addrs) -> str:
    return ", ".join(sorted(map(str, addrs)))


def _runtime_here(status: str, resolver, timeout_s: float):
    """``(True, addresses)`` where the runtime answering on ``status`` runs on this machine (an ipc or inproc endpoint
    is always this machine's: ``addresses`` empty; a tcp one where every address of its host is local), ``(False,
    addresses)`` where it runs elsewhere, ``(None, why)`` where that cannot be told."""
    from streams.security import parse_endpoint
    scheme, host, _ = parse_endpoint(status)
    if scheme != "tcp":   # (until 2026-12-07 resolved as a host name: "does not resolve", or "not on this one")
        return True, set()
    runtime, why = resolver.addresses(host, timeout_s)
    if runtime is None:
        return None, why
    return all(_is_local(a) for a in runtime), runtime


def endpoint_mismatch(bound: str, given: str, status: str, resolver=None, timeout_s: float = RESOLVE_S):
    """None when frames a client sends to ``given`` reach the ingest socket a runtime bound at ``bound`` (its status
    says so; ``status``: where the client asked it), else why not, in words.

    Host names are resolved as the client's socket does (:class:`_Resolver`). A wildcard bind (``tcp://*:P`` is
    bound as ``tcp://0.0.0.0:P``, IPv4 only; ``tcp://[::]:P`` takes both) takes any address of the runtime's host:
    this machine's when every address of the ``status`` host is local (loopback, or one a socket binds here), else
    those of the ``status`` host. A loopback bind, an ipc or an inproc one on another host is reached from no other,
    even under the same string (until 2026-12-07 ``bound == given`` confirmed ``tcp://127.0.0.1:P`` or ``ipc://PATH``
    of a runtime on another host). Anything in doubt (a name that does not resolve in time) is a mismatch: never a
    false "confirmed"."""
    from streams.errors import StreamError
    from streams.security import parse_endpoint
    try:
        (sb, hb, pb), (sg, hg, pg), _ = parse_endpoint(bound), parse_endpoint(given), parse_endpoint(status)
    except StreamError as exc:
        return str(exc)
    resolver = resolver or _Resolver()
    if sb != sg:
        return f"{sg}, not {sb}"
    if sb != "tcp":   # an ipc path or inproc name: this machine's (inproc: this process's) only
        if hb != hg:
            return "another address"
        here, why = _runtime_here(status, resolver, timeout_s)
        return None if here else (f"where the runtime is cannot be told: {why}" if here is None else
                                  f"{sb} reaches this machine only, and the runtime answering on {status} is not on "
                                  "this one")
    if pb != pg:
        return f"another port ({pg}, not {pb})"
    theirs = _literal(hb)
    if bound == given and theirs is None and hb.lower() != "localhost":   # one host name, not this machine's own
        return None
    mine, why = resolver.addresses(hg, timeout_s)
    if mine is None:
        return why
    where = hg if _literal(hg) is not None else f"{hg} ({_names(mine)})"
    if theirs is not None and theirs.is_unspecified:
        if theirs.version == 4:
            mine = {a for a in mine if a.version == 4}
            if not mine:
                return f"{where} is IPv6, and the runtime listens on IPv4 only ({hb})"
        here, runtime = _runtime_here(status, resolver, timeout_s)
        if here is None:
            return f"where the runtime is cannot be told: {runtime}"
        if here:   # the runtime answering --status runs here
            return None if any(_is_local(a) for a in mine) else f"{where} is no address of this machine, where " \
                                                                 f"the runtime answering on {status} runs"
        hs = parse_endpoint(status)[1]
        host = hs if _literal(hs) is not None else f"{hs} ({_names(runtime)})"
        return None if mine & runtime else f"{where} is not the runtime's host {host}"
    if theirs is None:
        return f"its address {hb} is no IP address"
    if theirs not in mine:
        return f"{where} is not {theirs}"
    if theirs.is_loopback:   # (until 2026-12-07 "cannot be told" read as "not on this one")
        here, runtime = _runtime_here(status, resolver, timeout_s)
        if here is None:
            return f"where the runtime is cannot be told: {runtime}"
        if not here:
            return f"it listens on loopback on its host, and the runtime answering on {status} is not on this one"
    return None


class DeliveryCheck:
    """What the runtime did with the frames of ``sources`` (``replay``, ``monitor``, ``bridge lsl``), asked of its status endpoint
    when the run starts (in a thread: no delay) and again when it ends: frames it rejected while the run went on,
    by stream and reason (``session_conflict``: a second publisher of the same stream name, ``over_rate`` ...), or
    that delivery is unconfirmed (no runtime answered there, one that takes frames on another ingest endpoint, or
    one that no longer holds a stream of the run: forgotten idle, evicted or restarted since the first answer).
    A PUSH socket is one-way: "dropped 0" only says that a connection took the frames, not that the runtime kept them.
    """

    def __init__(self, sources, ingest: str, status: str, key_dir=None, insecure: bool = False):
        import threading
        import time
        self.sources, self.ingest, self.status = sources, ingest, status
        self.key_dir, self.insecure = key_dir, insecure
        self.before, self.why, self.t0 = None, None, time.monotonic()
        self._resolver = _Resolver()
        for endpoint in (ingest, status):   # names resolved while the run goes on, not at its end
            host = _host(endpoint)
            if host:
                self._resolver.start(host)
        self._thread = threading.Thread(target=self._first, name="biosig-delivery-check", daemon=True)
        self._thread.start()

    def _ask(self, timeout_s: float):
        from streams.errors import StreamError
        from streams.subscriber import status_or_reason
        try:
            body, why = status_or_reason(self.status, key_dir=self.key_dir, insecure=self.insecure,
                                         timeout_s=timeout_s)
        except StreamError as exc:   # refused keys, a socket of another kind: said, never a traceback
            return None, str(exc)
        if body is not None and body.get("state", "serving") != "serving":
            return None, f"the runtime at {self.status} was still starting"
        return body, why or (None if body is not None else self._no_answer())

    def _no_answer(self) -> str:
        """"no runtime answered on ...", and why where the status endpoint's host name does not resolve."""
        host = _host(self.status)
        unresolved = host and self._resolver.addresses(host, 0.2)[1]   # (started with the run: resolved by now)
        return f"no runtime answered on {self.status}" + (f": {unresolved}" if unresolved else "")

    def _first(self):
        self.before, self.why = self._ask(FIRST_S)

    def finish(self, stopped: bool = False) -> tuple[list[str], bool]:
        """(lines to print, True when the runtime took none of this run's frames). After a signal it waits 0.3 s at
        most for each answer (a stop stays within a second), and asks again only a runtime that answered at first (else
        it asks again all the same: a runtime that came up during the run answers for it). A
        first answer still awaited (a stop within :data:`FIRST_S`) is said as such: not as no runtime there."""
        import time
        wait_s = 0.3 if stopped else 1.0
        self._thread.join(wait_s)
        unconfirmed = "delivery unconfirmed (frames go one way to --ingest; give the runtime's --status to have it " \
                      "confirm what it kept): "
        if self._thread.is_alive():
            return [unconfirmed + f"the runtime at {self.status} had not answered yet when the run ended "
                                  f"({time.monotonic() - self.t0:.1f} s after it started; it has {FIRST_S:g} s)"], False
        if self.before is None and stopped:
            return [unconfirmed + (self.why or self._no_answer())], False
        # no answer at first (a replay started before its runtime, or while it warmed up): asked again all the same,
        # its counts all this run's (or later); it was "unconfirmed: ... was still starting" about a runtime that had
        # taken every frame since
        after, why = self._ask(wait_s)
        if after is None:
            return [unconfirmed + (why or self._no_answer())], False
        bound = (after.get("endpoints") or {}).get("ingest")
        why = bound and endpoint_mismatch(bound, self.ingest, self.status, self._resolver, wait_s)
        if why:
            return [unconfirmed + f"the runtime answering on {self.status} takes frames on {bound}, not "
                                  f"{self.ingest}: {why}"], False
        # a runtime restarted since the first answer: every count is this run's (or later)
        same = self.before is not None and self.before.get("epoch") == after.get("epoch")
        base = (self.before.get("streams") or {}) if same else {}
        forgot = not same or _forgotten(after) > _forgotten(self.before)
        return self._rejections(base, after.get("streams") or {}, forgot, after)

    def say(self, command: str, stopped: bool = False) -> bool:
        """Print :meth:`finish`'s lines as ``biosig COMMAND: ...`` on stderr (a rejection as a warning); True when
        the runtime took none of this run's frames (``replay``, ``monitor`` and ``bridge lsl`` end with it)."""
        import sys
        lines, all_rejected = self.finish(stopped)
        for line in lines:
            print(f"biosig {command}: {'' if line.startswith('delivery unconfirmed') else 'warning: '}{line}",
                  file=sys.stderr)
        return all_rejected

    def _rejections(self, base: dict, now: dict, forgot: bool = False, after=None) -> tuple[list[str], bool]:
        """``forgot``: the runtime forgot streams since the first answer (idle for ``idle_expire_s``, evicted for
        a new one, or restarted): a stream of this run it does not hold may be one of those, its frames taken."""
        from streams.metrics import reject_advice
        sent: dict = {}
        session: dict = {}
        for s in self.sources:
            sent[s.out.topic] = sent.get(s.out.topic, 0) + s.out.sent
            session[s.out.topic] = s.out.pub.session
        lines, lost = [], []
        for topic in sent:
            st = now.get(topic)
            if st is None:
                if sent[topic] and forgot:   # taken, then forgotten: was "refused before one made it", exit 1
                    idle = ((after or {}).get("slots") or {}).get("idle_expire_s")
                    idle = f"{idle:g} s" if isinstance(idle, (int, float)) else "idle_expire_s"
                    lines.append(f"{topic}: the runtime no longer holds this stream (it forgets one idle for {idle}, "
                                 f"evicted for another or after a restart): what it did with its {sent[topic]} "
                                 "frame(s) is unconfirmed")
                    lost.append(False)
                elif sent[topic]:
                    lines.append(f"{topic}: the runtime holds no such stream: all {sent[topic]} frame(s) refused "
                                 "before one made it (`biosig status` says why, under invalid)")
                    lost.append(True)
                continue
            was = (base.get(topic) or {}).get("rejected") or {}
            delta = {r: n - was.get(r, 0) for r, n in (st.get("rejected") or {}).items() if n > was.get(r, 0)}
            if not delta:
                lost.append(False)
                continue
            last = str(st.get("last_rejected") or "")
            mine = f"session {session[topic]} " in last
            parts = []
            for reason, n in sorted(delta.items()):
                advice = reject_advice(reason) or "see biosig status"
                if reason == "session_conflict":   # the runtime keeps the newest publisher's frames
                    advice = ("this run's frames: another publisher sends this stream under the same name (the same "
                              "record replayed twice? a second monitor?) and the newest one keeps it" if mine else
                              "another publisher's frames under this stream name; this run's were kept") + \
                             ": give each its own source name"
                parts.append(f"{reason} {n} ({advice})")
            lines.append(f"{topic}: the runtime rejected {sum(delta.values())} frame(s) of this stream while this ran "
                         f"(this run sent {sent[topic]}): " + "; ".join(parts))
            ours = sum(delta.values()) - (0 if mine else delta.get("session_conflict", 0))
            lost.append(sent[topic] > 0 and ours >= sent[topic])
        return lines, bool(lost) and all(lost)


def _forgotten(body: dict) -> int:
    """Streams a runtime's status says it forgot so far: expired (idle) and evicted (for a new one)."""
    slots = body.get("slots") or {}
    evicted = slots.get("evicted") or {}
    return int(slots.get("expired") or 0) + sum(int(n) for n in evicted.values())
