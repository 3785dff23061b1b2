"""Device side of the streaming commands (``biosig.cli.stream_commands`` registers them): simulated
bedside monitors and couches (``monitor``), recordings replayed (``replay``) and the Lab Streaming
Layer bridges (``bridge lsl`` / ``bridge lsl-out``), the clients that carry frames between devices
and the runtime. zmq and the heavy parts of the streams package are imported inside the handlers.
"""
from __future__ import annotations

import sys
import threading

from biosig import json_text
from biosig.cli._stream_checks import (check_client_endpoint as _check_client_endpoint, check_number as _check_number,
                                       check_seconds as _check_seconds, close_all as _close_all,
                                       interruptible as _interruptible,
                                       leave_if_signalled as _leave_if_signalled,
                                       stop_on_signals as _stop_on_signals)


def _monitor(args) -> int:
    stop = threading.Event()
    pubs, sources, silent, check = [], [], [], None   # a signal during the set-up leaves them empty
    with _interruptible(stop):
        from streams.errors import StreamError
        from streams.priority import tagged_zmq_context
        from streams.simulate import BED_STREAMS, make_couches, make_ward, run_sources, silent_bed_streams
        from streams.security import parse_endpoint
        _check_seconds(args)
        parse_endpoint(args.ingest)
        _check_client_endpoint("--status", args.status, args.keys, args.insecure)
        _check_number("--simulate", args.simulate, lo=0, integer=True)
        _check_number("--couches", args.couches, lo=0, integer=True)
        _check_number("--frame-s", args.frame_s, lo=0, hi=10, lo_open=True)
        _check_number("--seed", args.seed, lo=0, integer=True)
        if args.simulate == 0 and args.couches == 0:
            raise StreamError("nothing to simulate: --simulate 0 and --couches 0")
        streams = [s for s in args.streams.split(",") if s]
        if args.simulate and not streams:
            raise StreamError("--streams is empty: give some of ecg,ppg,resp,audio (or --simulate 0 for couches only)")
        twice = sorted({s for s in streams if streams.count(s) > 1})
        if twice:   # two sources on one stream sent every sample twice: a bed at twice its declared rate
            raise StreamError(f"--streams names {', '.join(twice)} more than once")
        if args.seconds is not None and args.simulate and set(streams) <= set(BED_STREAMS):
            # a frame goes out when its last sample happens: a run shorter than a frame sent nothing
            # from the ward and exited 0 (a partial frame would not be the --frame-s asked for)
            silent = silent_bed_streams(args.simulate, streams, args.frame_s, args.seconds)
            if len(silent) == args.simulate * len(streams):
                raise StreamError(f"--seconds {args.seconds:g} ends before the first --frame-s {args.frame_s:g} "
                                  f"frame of any bed: the {len(silent)} bed streams would send nothing; give a "
                                  "longer --seconds or a shorter --frame-s")
        ctx = tagged_zmq_context()   # one for all beds: a context each (threads, file descriptors) ran out
        try:
            wp, sources = make_ward(args.simulate, streams, endpoint=args.ingest, key_dir=args.keys,
                                    frame_s=args.frame_s, seed=args.seed, insecure=args.insecure, ctx=ctx)
            pubs += wp
            cp, cs, _ = make_couches(args.couches, endpoint=args.ingest, key_dir=args.keys,
                                     seconds=args.seconds or 600.0, seed=args.seed, insecure=args.insecure, ctx=ctx)
            pubs += cp
            sources = sources + cs
            check = _delivery_check(args, sources)
            print(f"biosig monitor: publishing {len(sources)} streams to {args.ingest} "
                  f"(Ctrl-C to stop)", file=sys.stderr, flush=True)
            run_sources(sources, args.seconds, stop)
        finally:
            _close_all(pubs, stop, ctx)
    sent = sum(s.out.sent for s in sources)
    dropped = sum(s.out.dropped for s in sources)
    if silent and not stop.is_set():   # beds start up to 1 s apart: the last ones had no whole frame
        print(f"biosig monitor: warning: {len(silent)} bed streams ({', '.join(silent[:3])}"
              f"{', ...' if len(silent) > 3 else ''}) started too late to send a frame in --seconds "
              f"{args.seconds:g}", file=sys.stderr)
    print(f"biosig monitor: sent {sent} frames from {len(sources)} streams, dropped {dropped}"
          f"{' (stopped by signal)' if stop.is_set() else ''}", file=sys.stderr)
    return _delivery_summary("monitor", pubs, sent, stop, check)


def _replay(args) -> int:
    stop, pubs, sources, check = threading.Event(), [], [], None   # a signal during the set-up leaves them empty
    with _interruptible(stop):
        from biosig.cli.replay_checks import ReplayProgress, check_first_frames, gap_text, record_paths
        from streams.priority import tagged_zmq_context
        from streams.replay import MAX_SPEED, replay_duration_s, replay_sources
        from streams.simulate import run_sources
        from streams.security import parse_endpoint
        _check_seconds(args)
        parse_endpoint(args.ingest)
        _check_client_endpoint("--status", args.status, args.keys, args.insecure)
        _check_number("--speed", args.speed, lo=0, hi=MAX_SPEED, lo_open=True)
        records = record_paths(args.records)
        ctx = tagged_zmq_context()   # one for all records (see monitor)
        try:
            pubs, sources = replay_sources(records, speed=args.speed, endpoint=args.ingest,
                                           key_dir=args.keys, insecure=args.insecure, ctx=ctx)
            check_first_frames(sources, args.seconds)
            check = _delivery_check(args, sources)
            print(f"biosig replay: publishing {len(sources)} streams to {args.ingest} (Ctrl-C to stop)",
                  file=sys.stderr, flush=True)
            total_s = args.seconds or replay_duration_s(sources)
            run_sources(sources, total_s, stop, progress=ReplayProgress(sources, total_s))
        finally:
            _close_all(pubs, stop, ctx)
    sent = sum(s.out.sent for s in sources)
    dropped = sum(s.out.dropped for s in sources)
    print(f"biosig replay: sent {sent} frames from {len(sources)} streams, dropped {dropped}{gap_text(sources)}"
          f"{' (stopped by signal)' if stop.is_set() else ''}", file=sys.stderr)
    return _delivery_summary("replay", pubs, sent, stop, check)


def _delivery_check(args, sources):
    """A :class:`biosig.cli.replay_checks.DeliveryCheck` of ``sources`` on the runtime at ``--status``."""
    from biosig.cli.replay_checks import DeliveryCheck
    return DeliveryCheck(sources, args.ingest, args.status, key_dir=args.keys, insecure=args.insecure)


def _delivery_summary(command: str, pubs, sent: int, stop, check=None) -> int:
    """Warn about frames no runtime took, and (``check``) about frames the runtime took and rejected, or that it
    could not confirm them; exit code 1 when none was delivered, or the runtime rejected every one of them."""
    from streams.publisher import delivery_warning
    warning = delivery_warning(pubs)
    if warning:
        print(f"biosig {command}: warning: {warning}", file=sys.stderr)
    code = 1 if warning and not sent else 0   # Ctrl-C ends a stream normally, but not one that reached nobody
    if check is not None and sent and not code:
        code = 1 if check.say(command, stop.is_set()) else code
    _leave_if_signalled(stop, code)
    return code


def _bridge(args) -> int:
    from streams.lsl import bridge_lsl_in
    _check_seconds(args)
    _check_number("--resolve-s", args.resolve_s, lo=0, hi=600, lo_open=True)
    _check_client_endpoint("--status", args.status, args.keys, args.insecure)
    if (args.prop is None) != (args.value is None):
        from streams.errors import StreamError
        raise StreamError("--prop and --value go together (e.g. --prop type --value ECG)")
    stop = threading.Event()
    _stop_on_signals(stop)
    links: list = []   # filled as the streams open; the runtime is asked about them at the end (as replay's)
    check = _delivery_check(args, links)
    sent = bridge_lsl_in(endpoint=args.ingest, key_dir=args.keys, insecure=args.insecure, seconds=args.seconds,
                         resolve_s=args.resolve_s, prop=args.prop, value=args.value, stop=stop, links=links)
    if not sent:   # a signal before any stream was bridged
        print("biosig bridge lsl: stopped by signal before any LSL stream was bridged", file=sys.stderr)
        return 0
    undelivered = sent.pop("undelivered", None)
    print(f"biosig bridge lsl: {json_text.dumps(sent)}{' (stopped by signal)' if stop.is_set() else ''}",
          file=sys.stderr)
    frames = sum(v for v in sent.values() if isinstance(v, int))
    nonfinite = sent.get("nonfinite", {})
    silent = [t for t, v in sent.items() if v == 0 and t not in sent.get("dropped", {}) and t not in nonfinite]
    if silent:   # an outlet that pushed nothing while the bridge ran: {"src/ecg": 0} alone read as a success
        print(f"biosig bridge lsl: warning: no samples came from the LSL outlet(s) of {', '.join(silent)}",
              file=sys.stderr)
    if nonfinite:   # an outlet with a dead channel (NaN) sent nothing, said as "dropped" frames and exit 0
        print(f"biosig bridge lsl: warning: {sum(nonfinite.values())} frame(s) held NaN/inf samples (the LSL "
              f"device's missing samples) and were not sent, a gap each: {', '.join(nonfinite)} (a channel that is "
              "always NaN leaves nothing of its stream)", file=sys.stderr)
    if undelivered:
        print(f"biosig bridge lsl: warning: {undelivered}", file=sys.stderr)
    # samples came and no runtime took any of them, or none could be sent
    code = 1 if (undelivered or nonfinite) and not frames else 0
    if frames and not code:   # what the runtime did with them: rejected (over_rate, session_conflict ...), or unconfirmed
        code = 1 if check.say("bridge lsl", stop.is_set()) else 0
    return code


def _bridge_out(args) -> int:
    from streams.lsl import bridge_lsl_out
    _check_seconds(args)
    stop = threading.Event()
    _stop_on_signals(stop)
    pushed = bridge_lsl_out(endpoint=args.output, topics=args.topics, key_dir=args.keys, insecure=args.insecure,
                            seconds=args.seconds, prefix=args.prefix, stop=stop)
    if pushed:
        print(f"biosig bridge lsl-out: {json_text.dumps(pushed)}", file=sys.stderr)
        for key, what in (("not_pushed", "frame(s) not pushed: their size is not their outlet's"),
                          ("missed", "frame(s) of the runtime never reached the bridge (sequence gaps)")):
            if pushed.get(key):
                print(f"biosig bridge lsl-out: warning: {sum(pushed[key].values())} {what}: "
                      f"{', '.join(pushed[key])}", file=sys.stderr)
    else:   # it printed "{}"
        print(f"biosig bridge lsl-out: nothing pushed: no frame of {', '.join(args.topics or ['any topic'])} came "
              f"from {args.output}", file=sys.stderr)
    return 0
