"""Streaming commands: serve, monitor, replay, listen, status, keys, bridge, demo.

All default to loopback endpoints that work together without arguments; long-running commands
stop by themselves after ``--seconds S``. zmq and the heavy parts of the streams package are
imported inside the handlers so that ``biosig --version`` stays fast (``streams.config``, which
holds the default endpoints, imports neither zmq nor numpy).
"""
from __future__ import annotations

import sys
import threading

from biosig import json_text
from biosig.cli._common import positive_float
from biosig.cli._device_commands import _bridge, _bridge_out, _monitor, _replay
from biosig.cli._stream_checks import (check_bind_hosts as _check_bind_hosts, check_client_endpoint as
                                       _check_client_endpoint, listen_waiting_text as _listen_waiting_text,
                                       status_text as _status_text, check_endpoint_flags as
                                       _check_endpoint_flags, check_models as _check_models, check_number as
                                       _check_number, check_writable_dir as _check_writable_dir,
                                       models_flag as _models_flag, overridden as _overridden)
from biosig.cli._stream_checks import (DEFAULT_INGEST, DEFAULT_OUTPUT, DEFAULT_STATUS,  # noqa: F401 (re-exported)
                                       check_seconds as _check_seconds, endpoint_args as _endpoint_args,
                                       seconds_arg as _seconds, stop_on_signals as _stop_on_signals)


# ---------------------------------------------------------------------------------- handlers
# monitor, replay and the LSL bridges: biosig.cli._device_commands
def _serve(args) -> int:
    from streams.config import Endpoints, RuntimeConfig, load_config
    from streams.errors import StreamError
    from streams.runtime import Runtime
    _check_seconds(args)
    given = (args.ingest, args.output, args.status)
    _check_endpoint_flags(dict(zip(("--ingest", "--output", "--status"), given)))
    cfg = load_config(args.config) if args.config else RuntimeConfig()
    # an endpoint flag replaces that endpoint only: the config file's others stay (they were reset
    # to the defaults, e.g. --ingest alone moved output and status to 5556/5557)
    changes = {"endpoints": Endpoints(*(c if g is None else g for g, c in zip(given, cfg.endpoints.all())))} \
        if any(g is not None for g in given) else {}
    if args.keys:
        changes["key_dir"] = args.keys
    if args.insecure:
        changes["insecure"] = True
    if args.record:
        changes["record_dir"] = args.record
    if args.record_keep_h is not None:
        if not (args.record or cfg.record_dir):
            raise StreamError("--record-keep-h needs --record DIR (or record_dir in the config): nothing is recorded")
        changes["record_keep_s"] = 3600.0 * args.record_keep_h
    if args.state:
        changes["state_dir"] = args.state
    if args.backend:
        changes["backend"] = args.backend
    if args.device:
        changes["device"] = args.device
    if args.precision:
        changes["precision"] = args.precision
    if args.models is not None:
        changes["models"] = _models_flag(args.models)
    if args.af_prevalence is not None:
        changes["af_prevalence"] = args.af_prevalence
    if args.audio_fmax_hz is not None:
        changes["audio_fmax_hz"] = args.audio_fmax_hz
    if args.tap or args.dashboard is not None:
        changes["tap_signals"] = True
    if args.config and (replaced := _overridden(cfg, changes)):   # flags win, and say so
        print(f"biosig serve: warning: flags replace the config file's {'; '.join(replaced)}", file=sys.stderr)
    cfg = cfg.replace(**changes)
    _check_bind_hosts(cfg, given)
    for flag, path in (("--record", cfg.record_dir), ("--state", cfg.state_dir)):
        if path is not None:
            _check_writable_dir(flag, path)
    _check_models(cfg.models)
    _check_audio_band(cfg.audio_fmax_hz, cfg.models)

    is_ready = threading.Event()

    def ready(rt):
        ep = rt.bound
        print(f"biosig serve: ready after {rt.ready_after_s:.1f} s (ingest {ep.ingest}, output {ep.output}, "
              f"status {ep.status})", flush=True)
        is_ready.set()

    rt = Runtime(cfg, on_ready=ready)
    _stop_on_signals(rt._stop)
    from biosig.cli.dashboard_commands import start_for_serve
    dash = start_for_serve(args, rt.config.endpoints.output, is_ready)
    try:
        rt.run(args.seconds)
    except Exception as exc:   # a user's mistake is a StreamError (one line, exit 2, from the CLI); else a bug
        from biosig.interrupts import is_interrupt
        from streams.runtime import BUG_TEXT
        if not isinstance(exc, StreamError) and not is_interrupt(exc):
            print(f"biosig serve: the runtime stopped by an unexpected error ({BUG_TEXT} below)", file=sys.stderr,
                  flush=True)
        raise
    finally:
        if dash is not None:
            dash.stop()
    if rt.error:
        raise rt.error
    print(json_text.dumps(rt.status()["totals"]), file=sys.stderr)
    return 0


def live_band_arg(text: str) -> float:
    """``serve --audio-fmax-hz``: a frequency in Hz above 0 (argparse type), as ``embed``'s but for ``common``:
    that is the band every file of a set holds, read from the files' headers, and a live stream has no set."""
    import argparse

    from biosig.cli.encoder_options import audio_band_arg
    if text == "common":
        raise argparse.ArgumentTypeError("common is the band every file of a set holds, read from the files' headers, "
                                         "and serve has no set of files; give the band in Hz (e.g. 1800: the "
                                         "band embed/score/probe --audio-fmax-hz common chose)")
    try:
        return audio_band_arg(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a frequency in Hz above 0 (e.g. 1800)") from None


def _check_audio_band(fmax_hz, models: dict) -> None:
    """Refuse a band before anything starts where no audio model is served, or where the audio model's
    rate cannot hold it (the message of ``embed``'s check, :func:`biosig.audio_band.set_fmax_hz`)."""
    if fmax_hz is None:
        return
    from streams.errors import StreamError
    name = models.get("audio")
    if name is None:
        raise StreamError("--audio-fmax-hz band-limits what the audio model is given, and no audio model is served "
                          "(models has no audio=NAME); drop --audio-fmax-hz or serve one (--models audio=audio-tiny)")
    import json
    import pathlib

    from biosig.audio_band import set_fmax_hz
    from encoders.config import EncoderConfig, get_config, list_models
    from encoders.errors import EncoderError
    folder = pathlib.Path(str(name)).expanduser()
    try:   # a checkpoint folder's config, else the registered architecture's (no weights, no torch)
        config = (EncoderConfig.from_dict(json.loads((folder / "config.json").read_text()))
                  if (folder / "config.json").is_file() else get_config(name) if name in list_models() else None)
    except (ValueError, TypeError, KeyError, OSError, EncoderError):
        config = None   # an unreadable checkpoint: the runtime says so when it loads it
    if config is not None:
        set_fmax_hz(float(fmax_hz), (), None, float(config.input_fs_hz))


def _listen(args) -> int:
    import time
    from streams.errors import StreamError
    from streams.subscriber import OUTPUT_TOPIC_KINDS, Subscriber, unknown_topic_prefixes
    _check_seconds(args)
    if unknown := unknown_topic_prefixes(args.topics or [""]):
        raise StreamError(f"--topics {' '.join(unknown)}: no runtime output topic starts like that; topics start with "
                          f"{', '.join(OUTPUT_TOPIC_KINDS)} (e.g. score/bed01)")
    stop = threading.Event()
    _stop_on_signals(stop)
    end = None if args.seconds is None else time.monotonic() + args.seconds
    from streams.scores import summary_text
    _check_client_endpoint("--status", args.status, args.keys, args.insecure)   # met after 2 s of silence, else never
    told = time.monotonic() + 2.0   # nothing for 2 s: say whether a runtime is starting or absent
    # status frames: with --all, or asked for by name (--topics status printed nothing, "3 frames on 1 topic")
    show_status = args.all or any(t[:2] == "st" and "status".startswith(t) for t in args.topics or [])
    with Subscriber(args.topics or [""], args.output, key_dir=args.keys, insecure=args.insecure) as sub:
        while not stop.is_set() and (end is None or time.monotonic() < end):
            f = sub.recv(0.2)
            if f is None and told and time.monotonic() > told and not sub.stats:
                told = None
                print(f"biosig listen: {_listen_waiting_text(args, sub)}", file=sys.stderr, flush=True)
            if f is None or (f.topic == "status" and not show_status):
                continue
            h = f.header
            if args.json:   # a status frame's body is all it says (--all --json printed none)
                row = {k: v for k, v in h.items() if k != "body" or f.topic == "status"}
                row["topic"] = f.topic
                if f.array is not None and f.array.size <= 16:
                    row["values"] = f.array.tolist()
                print(json_text.dumps(row), flush=True)
            else:
                extra = h.get("reason") or h.get("model_id") or h.get("method") or _status_text(h.get("body")) or ""
                if h["kind"] == "score":
                    extra = summary_text(h)
                lat = h.get("latency_ms", {}).get("total")
                shape = "" if f.array is None else "x".join(map(str, f.array.shape))
                print(f"{f.topic:<28} {h['kind']:<10} seq {h['seq']:<7} {shape:<6} {extra:<28} "
                      f"{'' if lat is None else f'{lat:.1f} ms'}", flush=True)
        print(f"biosig listen: {sub.summary_text()}", file=sys.stderr)
    return 0


def _status(args) -> int:
    from streams.demo import status_table
    from streams.subscriber import request_status
    _check_number("--timeout-s", args.timeout, lo=0, hi=3600, lo_open=True)
    body = request_status(args.status, key_dir=args.keys, insecure=args.insecure, timeout_s=args.timeout)
    if args.json:
        print(json_text.dumps(body, indent=1, default=float))
    else:
        from streams.status_overload import overload_text
        overloaded = overload_text(body)
        if overloaded:   # first: the one line an operator must not miss
            print(overloaded)
        print(status_table(body))
        if body.get("auth_failures"):
            print(f"clients refused by CURVE authentication: {body['auth_failures']}")
    return 0


def _keys(args) -> int:
    from streams.security import generate_keys
    _check_number("--clients", args.clients, lo=1, hi=10000, integer=True)
    d = generate_keys(args.dir, args.clients)
    print(f"wrote server and {args.clients} client certificate(s) to {d}; allow-list: {d / 'allowed'}")
    print(f"runtime: biosig serve --keys {d}   clients: --keys {d}")
    return 0


def _demo(args) -> int:
    from streams.demo import run_demo
    _check_seconds(args)
    _check_number("--beds", args.beds, lo=0, integer=True)
    _check_number("--couches", args.couches, lo=0, integer=True)
    from streams.config import Endpoints, RuntimeConfig
    from streams.demo import check_security, check_ward
    check_ward(args.beds, args.couches)   # before the output folder is made
    given = {w: getattr(args, w) for w in ("ingest", "output", "status")}   # kept, even the defaults
    _check_endpoint_flags({f"--{w}": e for w, e in given.items()})
    # --keys / --insecure as serve takes them (until 2026-12-07 ignored: plain TCP whatever was given): a non-loopback
    # endpoint without either, a missing or incomplete key folder, refused at once with serve's line
    ep = Endpoints(*(e or d for e, d in zip(given.values(), Endpoints().all())))
    _check_bind_hosts(RuntimeConfig(endpoints=ep, key_dir=args.keys, insecure=args.insecure), tuple(given.values()))
    check_security(given, args.keys, args.insecure)
    from biosig.outputs import check_output_dir
    check_output_dir(args.out, "--out")
    run_demo(args.seconds, args.out, beds=args.beds, couches=args.couches, backend=args.backend, endpoints=given,
             key_dir=args.keys, insecure=args.insecure)
    return 0


# ---------------------------------------------------------------------------------- parsers
def register(sub) -> None:
    p = sub.add_parser("serve", help="run the streaming runtime",
                       description="Ingest signal frames, window and embed them, forecast marker "
                                   "streams, publish outputs (see docs/protocol.md).")
    p.add_argument("--config", metavar="FILE", help="runtime configuration (.json or .toml; keys: docs/cli.md); "
                                                    "a flag given replaces the file's value, with a warning naming it")
    _endpoint_args(p, config_file=True)
    p.add_argument("--record", metavar="DIR", help="record inputs and outputs to Parquet files in DIR")
    p.add_argument("--record-keep-h", type=positive_float, metavar="HOURS",
                   help="delete recording files older than HOURS from the --record folder (earlier runs' "
                        "included) each time a new file is written (default: keep every file; a busy ward "
                        "records GBs per hour)")
    p.add_argument("--state", metavar="DIR", help="forecaster checkpoints (resume after a restart)")
    from biosig.cli.encoder_options import BACKENDS, PRECISIONS, device_arg
    p.add_argument("--backend", choices=BACKENDS, help="encoder backend (default auto)")
    p.add_argument("--device", type=device_arg, metavar="cpu|cuda[:N]",
                   help="where the encoders run (default: a CUDA GPU when one is visible, else cpu)")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="torch backend: fp32 (default) or bf16/fp16 autocast (CUDA; tolerances in docs/gpu.md)")
    p.add_argument("--models", metavar="M=NAME,...",
                   help="encoders per modality, e.g. ecg=ecg-tiny,ppg=ppg-tiny or ecg=ecg.onnx; "
                        "'none' for no encoders")
    from biosig.cli._common import add_af_prevalence_argument
    add_af_prevalence_argument(p)
    p.add_argument("--audio-fmax-hz", type=live_band_arg, default=None, metavar="HZ",
                   help="audio streams: low-pass what the audio model is given to 0-HZ at its rate, the band "
                        "embed/score/probe --audio-fmax-hz gave the recordings, so live embeddings are the ones a "
                        "probe was fitted on; window times stay the samples' own, the windows come later by half the "
                        "filter (10 ms at 1800 Hz) (default: the whole band)")
    _seconds(p, what="until interrupted")
    from biosig.cli.dashboard_commands import add_serve_flags
    add_serve_flags(p)
    p.set_defaults(handler=_serve)

    p = sub.add_parser("monitor", help="simulated bedside monitors and couches",
                       description="Publish N simulated beds (ECG, PPG, respiration, respiratory "
                                   "audio) and marker motion of simulated treatment couches; at the end the runtime's "
                                   "--status is asked what it rejected of them (as replay).")
    p.add_argument("--simulate", type=int, default=2, metavar="N",
                   help="number of beds (default 2); even-numbered beds (bed02, ...) are in atrial fibrillation")
    p.add_argument("--streams", default="ecg,ppg,resp,audio", help="streams per bed (default ecg,ppg,resp,audio)")
    p.add_argument("--couches", type=int, default=1, help="treatment couches with marker tracking (default 1)")
    p.add_argument("--frame-s", type=float, default=0.1, help="seconds of signal per frame (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated signals (default 0)")
    _endpoint_args(p, ("ingest", "status"))   # status: asked what the runtime kept (DeliveryCheck)
    _seconds(p, what="until interrupted")
    p.set_defaults(handler=_monitor)

    p = sub.add_parser("replay", help="replay recordings into the runtime",
                       description="Publish any recording the signal layer reads, one stream per modality (<file "
                                   "stem>/<modality>; <stem>_2/... for a second record of the same stem), at real "
                                   "time or faster. A record shorter than --seconds loops: each pass ends with a "
                                   "shorter frame at the record's end and the next starts after one skipped sequence "
                                   "number (a gap to the runtime, which restarts its windows and holds the forecast "
                                   "there). Frames are stamped with the recording's own clock (fs_hz samples a second "
                                   "of device time at any --speed); above --speed 1 the stamps run ahead of the wall "
                                   "clock, so marker streams are held (stale_input), never forecast faster than real "
                                   "time; `biosig forecast evaluate` scores forecasters offline. A progress line "
                                   "every 10 s (BIOSIG_PROGRESS_S) says how far the replay got. Frames go one way: at "
                                   "the end the runtime's --status is asked what it rejected of these streams (e.g. "
                                   "session_conflict: the same record replayed twice at once), or delivery is said to "
                                   "be unconfirmed.")
    p.add_argument("records", nargs="+", metavar="RECORD",
                   help="recordings the signal layer reads (WFDB, EDF, CSV, ...) or folders of them (recursive)")
    p.add_argument("--speed", type=float, default=1.0, metavar="X", help="times real time (default 1)")
    _endpoint_args(p, ("ingest", "status"))
    _seconds(p, what="one pass through the longest record")
    p.set_defaults(handler=_replay)

    p = sub.add_parser("listen", help="print runtime outputs",
                       description="Subscribe to runtime outputs: embeddings (emb/), scores (score/: one readable "
                                   "line per window, heart or breathing rate, SDNN, af_prob, or why they are "
                                   "withheld), forecasts (fcst/), holds (hold/), tapped inputs (sig/, serve --tap) "
                                   "and heartbeats (hb/). Topics and fields: docs/protocol.md.")
    p.add_argument("--topics", nargs="*", metavar="PREFIX",
                   help="topic prefixes, e.g. score/bed01 emb/ fcst/ (default all)")
    p.add_argument("--json", action="store_true", help="one JSON object per frame")
    p.add_argument("--all", action="store_true", help="include the periodic status frames")
    _endpoint_args(p, ("output", "status"))
    _seconds(p, what="until interrupted")
    p.set_defaults(handler=_listen)

    p = sub.add_parser("status", help="ask the runtime for per-stream counters and latency",
                       description="Per-stream rates, gaps, drops, rejects, queue depth and latency "
                                   "p50/p99/p99.9/max from the running runtime.")
    p.add_argument("--json", action="store_true", help="the full status as JSON")
    p.add_argument("--timeout-s", "--timeout", dest="timeout", type=float, default=2.0, metavar="S",
                   help="seconds to wait for an answer (default 2)")
    _endpoint_args(p, ("status",))
    p.set_defaults(handler=_status)

    p = sub.add_parser("keys", help="CURVE keys for the runtime and its clients",
                       description="`biosig keys generate DIR` writes server and client certificates "
                                   "and the allow-list DIR/allowed.")
    ks = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    g = ks.add_parser("generate", help="create certificates")
    g.add_argument("dir", metavar="DIR", help="key folder to create (made 0700; secret keys 0600)")
    g.add_argument("--clients", type=int, default=1, help="client certificates to create (default 1)")
    g.set_defaults(handler=_keys)

    p = sub.add_parser("bridge", help="bridge other streaming systems into the runtime",
                       description="`biosig bridge lsl`: publish Lab Streaming Layer outlets into the "
                                   "runtime; `biosig bridge lsl-out`: runtime outputs as LSL outlets "
                                   "(needs the optional pylsl: pip install 'biosig[lsl]').")
    bs = p.add_subparsers(dest="bridge_command", metavar="SYSTEM", required=True)
    b = bs.add_parser("lsl", help="LSL outlets -> runtime",
                      description="Publish LSL outlets into the runtime as <source_id (else name)>/<type>; LSL "
                                  "timestamps are mapped to device time (see streams/lsl.py). Outlets that cannot be "
                                  "bridged (string or irregular-rate streams, more than 256 channels, a rate the "
                                  "runtime refuses for the modality) are named on a line each and skipped; frames "
                                  "holding NaN (a device's missing samples) are not sent, a gap each. At the end "
                                  "the runtime's --status is asked what it rejected of the bridged streams (as "
                                  "replay), and a step of the wall clock against LSL's is said with its size.")
    b.add_argument("--prop", metavar="NAME", help="only streams whose LSL property NAME (type, name, "
                                                  "source_id, ...) equals --value")
    b.add_argument("--value", metavar="V", help="the value for --prop")
    b.add_argument("--resolve-s", type=float, default=2.0, metavar="S",
                   help="seconds to look for LSL streams (default 2; with --prop: until 0.5 s after the first match)")
    _endpoint_args(b, ("ingest", "status"))   # status: asked what the runtime kept (DeliveryCheck)
    _seconds(b, what="until interrupted")
    b.set_defaults(handler=_bridge)
    b = bs.add_parser("lsl-out", help="runtime outputs -> LSL outlets",
                      description="One LSL outlet per output topic (embeddings, forecasts, holds), "
                                  "stamped with device time mapped to LSL time (see streams/lsl.py).")
    b.add_argument("--topics", nargs="*", default=["emb/", "fcst/", "hold/"], metavar="PREFIX",
                   help="output topic prefixes (default emb/ fcst/ hold/)")
    b.add_argument("--prefix", default="biosig", help="LSL source ids are PREFIX:TOPIC (default biosig)")
    _endpoint_args(b, ("output",))
    _seconds(b, what="until interrupted")
    b.set_defaults(handler=_bridge_out)

    p = sub.add_parser("demo", help="runtime + simulated ward and couch, live table, summary",
                       description="Start the runtime, a simulated ward and a treatment couch, show "
                                   "a live table, then print a summary and write demo-out/.")
    p.add_argument("--beds", type=int, default=4, help="simulated beds (default 4)")
    p.add_argument("--couches", type=int, default=1, help="simulated treatment couches (default 1)")
    p.add_argument("--out", default="demo-out", metavar="DIR", help="output folder (default demo-out)")
    p.add_argument("--backend", default="auto", choices=("auto", "onnxruntime", "torch"),
                   help="encoder backend (default auto)")
    _endpoint_args(p, free_if_taken=True)
    _seconds(p, default=60.0, what="60")
    p.set_defaults(handler=_demo)
