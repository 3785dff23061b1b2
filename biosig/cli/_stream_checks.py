"""Checks and signal handling shared by the streaming commands (``biosig.cli.stream_commands``).

Every check raises :class:`streams.errors.StreamError` with one line, which the CLI prints with
exit code 2. Heavy packages are imported inside the functions.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading

from streams.config import DEFAULT_INGEST, DEFAULT_OUTPUT, DEFAULT_STATUS


DEFAULT_ENDPOINTS = {"ingest": DEFAULT_INGEST, "output": DEFAULT_OUTPUT, "status": DEFAULT_STATUS}


def endpoint_args(p, which=("ingest", "output", "status"), config_file: bool = False, free_if_taken: bool = False):
    """``--ingest/--output/--status``, ``--keys`` and ``--insecure``. With ``config_file`` (serve) an
    endpoint not given is None: the config file's, else the default (see ``serve``); with ``free_if_taken``
    (demo) None too: the default, or a free loopback port where another process holds it
    (:func:`streams.demo_procs.demo_endpoints`)."""
    for w in which:
        also = (", or the one of the --config file" if config_file else
                ", or a free loopback port when another process holds that one" if free_if_taken else "")
        p.add_argument(f"--{w}", default=None if config_file or free_if_taken else DEFAULT_ENDPOINTS[w],
                       metavar="ENDPOINT", help=f"runtime {w} endpoint (default {DEFAULT_ENDPOINTS[w]}{also})")
    p.add_argument("--keys", metavar="DIR", help="CURVE key directory from `biosig keys generate`")
    p.add_argument("--insecure", action="store_true", help="allow plain TCP on non-loopback endpoints")


def seconds_arg(p, default=None, what="run"):
    p.add_argument("--seconds", type=float, default=default, metavar="S",
                   help=f"stop after S seconds (default: {what})")


def stop_on_signals(stop: threading.Event):
    def handler(signum, frame):
        stop.set()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def check_seconds(args):
    from streams.errors import StreamError
    if args.seconds is not None and not 0 < args.seconds < float("inf"):
        raise StreamError(f"--seconds must be > 0 and finite, got {args.seconds:g}")



class _Interrupted(BaseException):
    """Raised in the main thread by the first SIGINT/SIGTERM (see :func:`interruptible`)."""


@contextlib.contextmanager
def interruptible(stop: threading.Event):
    """Stop at once on SIGINT/SIGTERM, even inside a blocking send or a slow set-up.

    The first signal sets ``stop`` and raises :class:`_Interrupted` in the main thread, which
    leaves whatever it was doing (a send waiting for a runtime that is not there, generating the
    simulated records) and ends the ``with`` block; later signals only set ``stop``, so clean-up
    after the block is not interrupted. Where Python ran the handler inside a weakref or gc callback
    (importlib's module-lock callback while a record's readers import), CPython drops the exception
    with an "Exception ignored ... Traceback" on stderr: the signal is sent again to the main thread
    (``signal.pthread_kill``) from a thread once the callback has returned, with nothing printed (until
    2026-12-07 the traceback was printed and the block ran on until it next looked at ``stop``). A real
    signal, not ``_thread.interrupt_main``, which only flags the handler: a main thread blocked in a call
    (a send, a sleep) ran on until that call returned (3 s of a 3 s sleep). Sent only while the block
    runs and no signal has been raised since: after it, a late one raised in the next ``interruptible``
    block (or only set ``stop`` again). Nested, the enclosing block's handler is in force again after the
    inner block (it was left on the inner ``stop``: a Ctrl-C then stopped neither).
    """
    import _thread
    import time
    raised, inside, main = [False], [True], threading.get_ident()

    def handler(signum, frame):
        stop.set()
        if not raised[0]:
            raised[0] = True
            raise _Interrupted(signum)
    handler.interruptible = True

    def again(signum):
        time.sleep(0.01)   # (the callback has returned)
        if inside[0] and not raised[0]:
            if hasattr(signal, "pthread_kill"):
                signal.pthread_kill(main, signum)   # (a handler is installed: never the default action)
            else:
                _thread.interrupt_main(signum)

    before = sys.unraisablehook

    def hook(unraisable):
        if isinstance(unraisable.exc_value, _Interrupted):   # dropped in a callback: deliver it again
            raised[0] = False
            threading.Thread(target=again, args=(unraisable.exc_value.args[0],), daemon=True).start()
            return
        before(unraisable)
    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    sys.unraisablehook = hook
    try:
        yield
    except _Interrupted:
        pass
    finally:
        inside[0] = False
        for sig, prev in old.items():   # nested: the enclosing block's handler runs too (it was left on stop.set)
            signal.signal(sig, _after_block(stop, prev if getattr(prev, "interruptible", False) else None))
        sys.unraisablehook = before


def _after_block(stop: threading.Event, enclosing):
    """The handler after an :func:`interruptible` block: sets ``stop``; in an enclosing block, its handler runs too."""
    def handler(signum, frame):
        stop.set()
        if enclosing is not None:
            enclosing(signum, frame)
    return handler


def close_all(pubs, stop: threading.Event, ctx=None):
    """Close publishers: wait up to 1 s for queued frames after a normal end, 0.2 s after a signal.

    All sockets are closed before any context is terminated, so the waits run in parallel (one
    linger in all, not one per publisher, when no runtime takes the frames). ``ctx``: the context
    the publishers share, destroyed last (with the sockets of publishers a failed set-up made but
    never returned: terminating it would wait for them for ever).
    """
    linger_ms = 200 if stop.is_set() else 1000
    for p in pubs:
        p.sock.close(linger=linger_ms)
    for p in pubs:
        if p._own_ctx:
            p.ctx.term()
    if ctx is not None:
        ctx.destroy(linger=linger_ms)


def leave_if_signalled(stop: threading.Event, code: int = 0):
    """After a stop by signal, leave the process at once with exit code ``code``.

    The simulators and readers import 2,000+ modules (scipy, pandas, neurokit2); the
    interpreter's orderly teardown of them takes 0.5-2 s on a loaded 2-core machine, which would
    break the promise to stop within 1 s. Sockets are closed and output flushed before this.
    """
    if stop.is_set():
        import logging
        import os
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)


def check_number(flag: str, value, lo=None, hi=None, lo_open=False, integer=False):
    """One-line :class:`StreamError` unless ``lo (<|<=) value <= hi`` and finite."""
    import math
    from streams.errors import StreamError
    bound = []
    if lo is not None:
        bound.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        bound.append(f"<= {hi:g}")
    what = f"{'an integer' if integer else 'a finite number'}{' ' + ' and '.join(bound) if bound else ''}"
    ok = math.isfinite(value) and (lo is None or (value > lo if lo_open else value >= lo)) \
        and (hi is None or value <= hi)
    if not ok:
        raise StreamError(f"{flag} must be {what}, got {value:g}")


def check_writable_dir(flag: str, path):
    """Create ``path`` (a folder for recordings or checkpoints) or fail with one line."""
    import os
    import pathlib
    from streams.errors import StreamError
    p = pathlib.Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StreamError(f"{flag} {p}: cannot create the folder ({exc.strerror or exc})") from None
    if not p.is_dir() or not os.access(p, os.W_OK | os.X_OK):
        raise StreamError(f"{flag} {p}: not a writable folder")


def check_models(models: dict):
    """Refuse encoders that cannot exist: unknown names, wrong modality (before anything starts)."""
    import pathlib
    from encoders.config import get_config, list_models
    from streams.errors import StreamError
    for modality, name in models.items():
        if pathlib.Path(name).expanduser().is_dir():
            continue
        if name not in list_models():
            raise StreamError(f"models: {modality}={name}: no such model or checkpoint folder; "
                              f"known models: {', '.join(list_models())}")
        if get_config(name).modality != modality:
            raise StreamError(f"models: {modality}={name}: {name} embeds {get_config(name).modality}, "
                              f"not {modality}")


def check_endpoint_flags(flags: dict) -> None:
    """``serve --ingest/--output/--status`` given: a malformed one named by its flag (it was blamed on
    "config key endpoints.ingest" with no config file given)."""
    from streams.errors import StreamError
    from streams.security import parse_endpoint
    for flag, endpoint in flags.items():
        if endpoint is not None:
            try:
                parse_endpoint(endpoint)
            except StreamError as exc:
                raise StreamError(f"{flag}: {exc}") from None


def check_client_endpoint(flag: str, endpoint: str, key_dir, insecure: bool) -> None:
    """An endpoint a client connects to (``listen --status``, ``replay --status``), refused before anything starts
    and named by its flag: a malformed one was only met when it was first used (``listen`` after 2 s of silence,
    never while frames came; ``replay`` at its end)."""
    from streams._client import check_connection
    from streams.errors import StreamError
    try:
        check_connection(endpoint, key_dir, "client", insecure)
    except StreamError as exc:
        raise StreamError(f"{flag}: {exc}") from None


def check_bind_hosts(cfg, flags) -> None:
    """Refuse, before the warm-up, a bind of ``cfg.endpoints`` this machine cannot make: an ipc path in a
    folder that does not exist, a TCP host that is no address or network interface of this machine. Each
    failed after the warm-up with ZeroMQ's text ("No such device") and "another runtime running?".
    ``flags``: the --ingest/--output/--status given (None: the config's), named in the message. Plain TCP
    off loopback without keys is refused first (the runtime's own check, which says what to do)."""
    import errno
    import pathlib
    import socket
    from streams.errors import StreamError
    from streams.security import check_plain_allowed, parse_endpoint
    if not cfg.key_dir:
        check_plain_allowed(cfg.endpoints.all(), cfg.insecure)
    names = ("ingest", "output", "status")
    for label, ep in ((f"--{n}" if g else f"endpoints.{n}", e) for n, g, e in zip(names, flags, cfg.endpoints.all())):
        scheme, host, _ = parse_endpoint(ep)
        if scheme == "ipc" and not (folder := pathlib.Path(host).parent).is_dir():
            raise StreamError(f"{label} {ep}: folder {folder} does not exist; create it or give another ipc path")
        if scheme != "tcp" or host == "*" or host in {n for _, n in socket.if_nameindex()}:
            continue
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            addr = socket.getaddrinfo(host, None, family, socket.SOCK_STREAM)[0][4][0]
        except (socket.gaierror, UnicodeError):
            raise StreamError(f"{label} {ep}: {host} is neither an address nor a network interface of this machine "
                              "(give one of its addresses, e.g. 127.0.0.1, or * for all)") from None
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((addr, 0))
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise StreamError(f"{label} {ep}: {host} is not an address of this machine; a runtime binds "
                                      "to one of its own (or * for all)") from None


def overridden(file_cfg, changes: dict) -> list[str]:
    """The config file's settings that ``changes`` (from flags) replace by another value: said, not silent."""
    import dataclasses
    from streams.config import RuntimeConfig
    default, out = RuntimeConfig(), []
    for key, new in changes.items():
        pairs = [(f"{key}.{f.name}", getattr(getattr(file_cfg, key), f.name), getattr(getattr(default, key), f.name),
                  getattr(new, f.name)) for f in dataclasses.fields(new)] if key == "endpoints" else \
            [(key, getattr(file_cfg, key), getattr(default, key), new)]
        out += [f"{name} {old!r} by {value!r}" for name, old, dflt, value in pairs if old != dflt and old != value]
    return out


def models_flag(text: str) -> dict:
    """``serve --models``: MODALITY=NAME pairs, or ``none`` alone. A modality named twice (the first was
    dropped) and ``none`` beside pairs (the pairs were served) are refused, not decided in silence."""
    from streams.errors import StreamError
    items = [i for i in text.split(",") if i]
    if "none" in items and len(set(items)) > 1:
        raise StreamError(f"--models {text}: 'none' (no encoders) goes alone; drop it or the MODALITY=NAME pairs")
    models = {}
    for item in items:
        if item == "none":
            continue
        if "=" not in item:
            raise StreamError(f"--models takes MODALITY=NAME pairs or 'none', got {item!r}")
        k, v = item.split("=", 1)
        if k in models:
            raise StreamError(f"--models names {k} twice ({k}={models[k]}, {item}); give one model per modality")
        models[k] = v
    return models


def listen_waiting_text(args, sub) -> str:
    """What ``listen`` says after 2 s without a frame: whether a runtime answers on ``--status`` and is starting or
    serving, on which output endpoint it publishes (``--output`` elsewhere: not even its heartbeat came), a topic
    prefix none of its streams has (a typo: ``score/bed1``), or what took the request if not a runtime."""
    from streams.subscriber import state_of, status_or_reason
    body, why = status_or_reason(args.status, key_dir=args.keys, insecure=args.insecure)
    state = f"{why}; waiting" if why else state_of(body)   # why: what took the request, if not a runtime
    output = (body or {}).get("endpoints", {}).get("output")
    if state == "serving" and sub.epoch is None and output and output != args.output:
        # not even its heartbeat (every status_every_s, 1 s) came: listening in the wrong place
        state = f"runtime serving on {args.status} publishes on {output}, not {args.output}: " \
                f"nothing from it here, not even its heartbeat (give --output {output}); waiting"
    names = sorted((body or {}).get("streams") or {}) if state == "serving" else []
    known = [f"{k}{n}" for n in names for k in ("emb/", "score/", "sig/")] + ["hb/runtime", "status"] \
        + [f"{k}{c}" for c in sorted((body or {}).get("forecasters") or {}) for k in ("fcst/", "hold/")]
    if names and (miss := [t for t in args.topics or [] if not any(k.startswith(t) for k in known)]):
        # a stream name typo (score/bed1): said once, still waiting (the stream may come later)
        state = f"runtime serving; none of its topics starts with {', '.join(miss)} (its streams: " \
                f"{', '.join(names[:12])}{' ...' if len(names) > 12 else ''}); waiting"
    from streams.config import DEFAULT_OUTPUT, DEFAULT_STATUS
    hint = []
    if args.status == DEFAULT_STATUS and args.output != DEFAULT_OUTPUT:
        hint.append("the default status endpoint: give the runtime's --status with --output")
    if args.keys:
        hint.append("with --keys: are they the runtime's keys?")
    if state == "starting":   # the subscriber's silence line said "is the runtime running?" after it
        sub.silence_hint = (f"the runtime on {args.status} was starting when asked (loading models, compiling "
                            "kernels): it publishes once it serves")
    msg = {"starting": "runtime starting (loading models, compiling kernels); waiting",
           "serving": "runtime serving; waiting for frames",
           "absent": f"no runtime answered on {args.status}"
                     f"{' (' + '; '.join(hint) + ')' if hint else ''}; waiting"}.get(state, state)
    return msg


def status_text(body) -> str:
    """``listen --all``'s words for a status frame (its line said nothing): state, streams, frames and rejects."""
    if not isinstance(body, dict):
        return ""
    totals, n = body.get("totals") or {}, len(body.get("streams") or {})
    return (f"{body.get('state', 'serving')} {n} stream{'' if n == 1 else 's'}"
            + (f" {totals.get('frames', 0)} frames {totals.get('rejected_total', 0)} rejected" if totals else ""))
