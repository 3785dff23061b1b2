"""The ``biosig`` command: the one composition root.

Each command group lives in its own module under ``biosig.cli`` and exposes
``register(subparsers)``. Modules import only ``argparse`` (and ``biosig``) at top level; heavy
packages (torch, numba, zmq) are imported inside the handlers so ``biosig --version`` and
``biosig info`` start fast. Only ``biosig.cli`` may import the packages above ``biosig``.

Errors caused by the user (:class:`biosig.errors.BiosigError` and subclasses, plus the errors of
the other packages, which derive from it) print one line and exit with code 2.
"""
from __future__ import annotations

import argparse
import importlib
import contextlib
import logging
import os
import signal
import sys
import threading

import biosig
from biosig.errors import BiosigError

# Modules that contribute subcommands, in the order of `biosig --help`.
COMMAND_MODULES = (
    "biosig.cli.signal_commands",   # info, simulate
    "biosig.cli.forecast_commands",  # forecast evaluate | plot
    "biosig.cli.pretrain_commands",  # pretrain
    "biosig.cli.embed_commands",     # embed
    "biosig.cli.probe_commands",     # probe
    "biosig.cli.export_commands",    # export, compile
    "biosig.cli.stream_commands",    # serve, monitor, replay, listen, status, keys, bridge, demo
    "biosig.cli.dashboard_commands",  # dashboard
    "biosig.cli.score_commands",     # score
    "biosig.cli.spiro_commands",     # spiro
)

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own usage errors: one line (no usage block), exit 2
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="biosig",
        description="Streaming runtime for physiological-signal foundation models: read and "
                    "preprocess recordings, forecast respiratory motion, pretrain and export "
                    "encoders, serve them over ZeroMQ and score archives.",
    )
    parser.add_argument("--version", action="version", version=f"biosig {biosig.__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not a command group not built yet
                raise
            continue
        module.register(sub)
    return parser


def _command_parser(parser: argparse.ArgumentParser, args) -> argparse.ArgumentParser:
    """The (sub)command parser ``args`` were parsed by: ``biosig forecast evaluate``'s for
    ``biosig forecast evaluate ...``, so that an error points at that command's ``--help``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(args, action.dest, None)
            if name in action.choices:
                return _command_parser(action.choices[name], args)
    return parser


class _InterruptTold(logging.Handler):
    """Remembers the Ctrl-C a command said it was interrupted by: a warning that mentions the
    interrupt, logged while that KeyboardInterrupt is handled (``biosig score``'s "interrupted: ...
    run the same command again"). The CLI's own "interrupted" line would repeat it."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.told = None

    def emit(self, record):
        exc = sys.exc_info()[1]
        if isinstance(exc, KeyboardInterrupt) and "interrupt" in record.getMessage().lower():
            self.told = exc


def _told_of(exc: BaseException, told: BaseException | None) -> bool:
    """Whether the command told of the interrupt ``exc`` is, or of one ``exc`` was raised while
    handling: a second Ctrl-C while the command wound down after saying so (``exc.__context__``)."""
    seen = set()
    while exc is not None and told is not None and id(exc) not in seen:
        if exc is told:
            return True
        seen.add(id(exc))
        exc = exc.__context__
    return False


def _usable_std_streams() -> None:
    """stdout and stderr that any text can be printed to: a closed one (``2>&-``, a service without
    them: ``sys.stderr`` is None and ``.isatty()`` raised AttributeError) is opened on /dev/null, and
    one whose encoding is not UTF-8 (``PYTHONIOENCODING=ascii``, a Latin-1 locale, ``LC_ALL=C`` with
    ``PYTHONUTF8=0``) writes what it cannot encode as ``\\xb5`` instead of raising UnicodeEncodeError
    (``biosig info`` of a CSV whose unit is µV printed nothing and a traceback)."""
    import codecs
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        try:
            closed = stream is not None and bool(getattr(stream, "closed", False))
        except ValueError:   # a detached TextIOWrapper: as closed
            closed = True
        if stream is None or closed:   # closed (``2>&-``, or a caller closed fd 1): reconfigure raised ValueError
            try:
                os.fstat(fd)
                if closed:   # a caller's own closed stream, the fd open: theirs, left as it is (see _open_std_streams)
                    continue
            except OSError:   # closed: whatever writes to the fd (a child process too) writes nowhere
                devnull = os.open(os.devnull, os.O_WRONLY)
                if devnull != fd:
                    os.dup2(devnull, fd)
                    os.close(devnull)
            setattr(sys, name, open(fd, "w", encoding="utf-8", errors="backslashreplace", closefd=False))
            continue
        try:
            encoding = getattr(stream, "encoding", None) or "utf-8"
            utf = codecs.lookup(encoding).name.startswith("utf")
        except (LookupError, TypeError, ValueError):
            utf = False
        if not utf and getattr(stream, "errors", "strict") != "backslashreplace" and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):   # a caller's stream that cannot be changed: left as it is
                pass


def main(argv=None) -> int:
    _usable_std_streams()
    with _open_std_streams():
        return _main(argv)


@contextlib.contextmanager
def _open_std_streams():
    """A caller's closed or detached ``sys.stdout``/``sys.stderr`` (``sys.stdout.close()`` leaves fd 1 open, and
    :func:`_usable_std_streams` leaves the caller's object as it is) replaced by a writer to /dev/null while the
    command runs, and put back after: what the command prints goes nowhere, as it would have (until 2026-12-07
    ``main(['info', FILE])`` after ``sys.stdout.close()`` raised ValueError with a traceback, ``--help`` likewise)."""
    swapped = {}
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        try:
            closed = stream is not None and bool(getattr(stream, "closed", False))
        except ValueError:   # detached
            closed = True
        if closed:
            swapped[name] = stream
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
    try:
        yield
    finally:
        for name, stream in swapped.items():
            try:
                getattr(sys, name).close()
            finally:
                setattr(sys, name, stream)


def _main(argv) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:   # the command's own error line, pointing at its --help (argparse: the top level's)
        _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USER_ERROR
    told = _InterruptTold()
    logging.getLogger().addHandler(told)
    try:
        with _signal_handlers_kept():
            code = _run(args, told)
    finally:
        logging.getLogger().removeHandler(told)
    from biosig.interrupts import forget_handled_interrupts
    forget_handled_interrupts()   # every interrupt was handled above: the exit code is ``code``, not SIGINT
    return code


@contextlib.contextmanager
def _signal_handlers_kept():
    """The SIGINT and SIGTERM handlers as they were before the command, put back when it returns.

    The streaming commands set their own (stop on the first signal, and only set ``stop`` during
    their clean-up); called in-process (``main([...])`` from a program or a test), those were left
    behind and made a later Ctrl-C in the same process set a forgotten event instead of raising
    ``KeyboardInterrupt``. Signal handlers can only be set from the main thread: elsewhere nothing
    is touched."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:   # None: set outside Python; nothing we could put back
                signal.signal(sig, handler)


def _run(args, told: _InterruptTold) -> int:
    """The command's exit code; a user's mistake, a Ctrl-C and a closed pipe as such, not tracebacks."""
    try:
        return int(args.handler(args) or 0)
    except BiosigError as exc:
        print(f"biosig {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as exc:   # one line: the command's own when it said what to do
        if not _told_of(exc, told.told):
            print(f"biosig {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `biosig listen | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except BaseException as exc:
        from biosig.interrupts import is_interrupt
        if not is_interrupt(exc):
            raise
        # a Ctrl-C a library's Rust code turned into a panic (every Polars call we make holds it: a
        # fallback): the interrupt it was, not a traceback and exit 1
        print(f"biosig {args.command}: interrupted", file=sys.stderr)
        return 130

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
