"""``biosig dashboard``: the live web view of a running runtime (``streams.dashboard``).

``biosig serve --dashboard`` starts the same view beside the runtime (the flags are added to
``serve`` by :func:`add_serve_flags`, and :func:`start_for_serve` starts it).
"""
from __future__ import annotations

import sys
import threading

from streams.config import DASHBOARD_FORGET_S as FORGET_S, DEFAULT_OUTPUT
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8555


def _port(text: str) -> int:
    from biosig.cli._common import int_in_range
    return int_in_range(text, 0, 65535, expected="a port number in 0..65535")


def _serve_page_args(p, default_port=DEFAULT_PORT):
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address the page is served on; loopback only (default {DEFAULT_HOST})")
    p.add_argument("--port", type=_port, default=default_port,
                   help=f"HTTP port of the page, 0 picks a free one (default {default_port})")


def _dashboard(args) -> int:
    import time
    from biosig.cli._stream_checks import check_seconds, stop_on_signals
    from streams.dashboard import Dashboard
    check_seconds(args)
    stop = threading.Event()
    stop_on_signals(stop)
    with Dashboard(args.output, host=args.host, port=args.port, key_dir=args.keys,
                   insecure=args.insecure, forget_s=FORGET_S if args.forget_s is None else args.forget_s) as dash:
        print(f"biosig dashboard: {dash.url} (live view of {args.output}; waveforms need "
              "`biosig serve --tap` or `--dashboard`); Ctrl-C stops", file=sys.stderr, flush=True)
        end = None if args.seconds is None else time.monotonic() + args.seconds
        while not stop.is_set() and (end is None or time.monotonic() < end):
            stop.wait(0.2)
    return 0


def _forget_arg(p, where: str = "") -> None:
    """``--forget-s``, the same for ``biosig dashboard`` and ``serve --dashboard`` (None: not given)."""
    from biosig.cli._common import positive_float
    p.add_argument("--forget-s", type=positive_float, default=None, metavar="S",
                   help=f"drop a stream or couch from the page{where} once nothing came from it for S seconds "
                        f"(default {FORGET_S:g}; until then it shows how old its last values are)")


def add_serve_flags(p) -> None:
    """``serve --dashboard [PORT] [--forget-s S]`` and ``serve --tap``."""
    p.add_argument("--tap", action="store_true",
                   help="also publish accepted input frames on the output socket as sig/<source>/<stream> "
                        "(the waveforms of `biosig dashboard`)")
    p.add_argument("--dashboard", nargs="?", type=_port, const=DEFAULT_PORT, default=None, metavar="PORT",
                   help=f"serve the live view on http://{DEFAULT_HOST}:PORT/ (default {DEFAULT_PORT}); implies --tap")
    _forget_arg(p, " (with --dashboard)")


def start_for_serve(args, output: str, ready: threading.Event | None = None):
    """The dashboard of ``serve --dashboard`` (None without the flag); the caller stops it. Its
    page is served at once; it reads ``output`` once ``ready`` is set (the runtime is up)."""
    if args.dashboard is None:
        if args.forget_s is not None:
            from streams.errors import StreamError
            raise StreamError("--forget-s needs --dashboard: it is how long the live view keeps a silent stream")
        return None
    from streams.dashboard import Dashboard
    dash = Dashboard(output, port=args.dashboard, key_dir=args.keys, insecure=args.insecure, after=ready,
                     forget_s=FORGET_S if args.forget_s is None else args.forget_s).start()
    print(f"biosig serve: live view on {dash.url}", file=sys.stderr, flush=True)
    return dash


def register(sub) -> None:
    from biosig.cli._stream_checks import endpoint_args as _endpoint_args, seconds_arg as _seconds
    p = sub.add_parser("dashboard", help="live web view of a running runtime (loopback)",
                       description="Serve a web page on loopback that shows, per bed, the live waveforms, "
                                   "window quality and embedding latency and, per couch, the marker trace, "
                                   "the forecast h ahead and the hold state, from the runtime's output "
                                   "topics (waveforms need `biosig serve --tap` or `serve --dashboard`).")
    _endpoint_args(p, ("output",))
    _serve_page_args(p)
    _forget_arg(p)
    _seconds(p, what="until interrupted")
    p.set_defaults(handler=_dashboard)
