"""Small argparse helpers shared by the ``biosig`` subcommand modules (stdlib only: keeps startup fast)."""
from __future__ import annotations

import argparse
import contextlib
import sys


def _number(text: str, kind, expected: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def int_in_range(text: str, lo: int, hi: int | None = None, expected: str = "an integer") -> int:
    """An integer in [lo, hi] (hi None: no upper bound), else a one-line usage error naming ``expected``."""
    value = _number(text, int, expected)
    if value < lo or (hi is not None and value > hi):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse ``type=``: an integer >= 1, else a one-line usage error."""
    return int_in_range(text, 1, expected="a positive integer")


def non_negative_int(text: str) -> int:
    """argparse ``type=``: an integer >= 0, else a one-line usage error."""
    return int_in_range(text, 0, expected="an integer >= 0")


def positive_float(text: str) -> float:
    """argparse ``type=``: a finite number > 0 (NaN and inf refused), else a one-line usage error."""
    value = _number(text, float, "a number")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def fold_count(text: str) -> int:
    """argparse ``type=``: a number of cross-validation folds, >= 2 (0 and 1 said alike: ``--folds 0`` was "a
    positive integer", 1 the fold rule)."""
    return int_in_range(text, 2, expected="an integer >= 2 (cross-validation needs at least 2 folds)")


def quality_0_1(text: str) -> float:
    """argparse ``type=``: a signal-quality threshold in [0, 1] (NaN refused)."""
    value = _number(text, float, "a quality between 0 and 1")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a quality between 0 and 1")
    return value


def prevalence_share(text: str) -> float:
    """argparse ``type=``: a prevalence, a share strictly between 0 and 1 (0.087 for 8.7 %), by the
    heads' own rule (:func:`encoders.heads.head.check_prevalence`)."""
    from encoders.errors import EncoderError
    from encoders.heads.head import check_prevalence
    try:
        return check_prevalence(text)
    except EncoderError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_af_prevalence_argument(p) -> None:
    """``--af-prevalence Q`` (embed, score, serve): publish ``af_prob`` read at Q."""
    p.add_argument("--af-prevalence", type=prevalence_share, default=None, metavar="Q",
                   help="read the AF probability (af_prob) at AF prevalence Q, a share in (0, 1) (0.087 for "
                        "8.7 %%), by Bayes' rule (the ranking does not change); default: as the head was "
                        "fitted, whose card (encoders/heads/*/MODEL_CARD.md) says at what prevalence")


def free_cores() -> int:
    """Cores not busy right now: CPUs this process may use minus the 1-minute load average
    (rounded), at least 1. On a shared 2-core machine under load this is 1, which is what
    torch/ONNX Runtime should use there: oversubscribed threads made ``embed`` 7x slower."""
    import os

    from biosig.cpus import usable_cpus
    n = usable_cpus()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        busy = 0.0
    return max(1, min(n, int(n - busy + 0.5)))


def pick_threads(requested: int | None, workers: int = 1) -> int:
    """Intra-op threads per worker: ``requested`` (``--threads``), else the free cores shared
    among ``workers`` (one per worker process when there are several)."""
    if requested:
        return int(requested)
    return max(1, free_cores() // max(1, int(workers)))


def apply_threads(n: int) -> None:
    """Set the thread count for the numeric libraries imported after this call (OpenMP, MKL,
    OpenBLAS, Numba; torch reads OMP_NUM_THREADS at import) and torch if already imported."""
    import os
    import sys

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(int(n))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(n))


def add_threads_argument(parser) -> None:
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="intra-op threads per worker (default: the cores free right now, i.e. CPUs "
                             "minus the 1-minute load average, divided among the workers; at least 1)")


def add_modality_arguments(parser, note: str = "") -> None:
    """``--modality``, ``--channel``, ``--sample-rate-hz``; ``note`` ends each help (a limit of the command)."""
    parser.add_argument("--modality", default=None, metavar="MODALITY",
                        help="the recordings' modality (ecg, ppg, resp, audio, spiro, motion, other) "
                             "instead of the guess from channel names and rate" + note)
    parser.add_argument("--channel", action="append", default=[], metavar="NAME=MODALITY",
                        help="say what one channel is, e.g. --channel ch1=ppg (repeatable); unknown "
                             "names stay 'other' otherwise" + note)
    parser.add_argument("--sample-rate-hz", type=positive_float, default=None, metavar="HZ",
                        help="the sampling rate of CSV/TSV/TXT tables of bare sample values (one column per "
                             "channel, no time column), or the unit of a time column without one (s or ms); "
                             "files with their own times or rate keep them (a named time column that "
                             "disagrees is a warning)" + note)


def read_options(args) -> dict:
    """``biosig.read`` keyword arguments from ``--modality`` / ``--channel`` / ``--sample-rate-hz``
    (one-line errors)."""
    from biosig.modality import check_modality, parse_channel_modalities

    out: dict = {}
    if getattr(args, "modality", None):
        out["modality"] = check_modality(args.modality.strip().lower())
    given = parse_channel_modalities(getattr(args, "channel", None))
    if given:
        out["channel_modalities"] = given
    if getattr(args, "sample_rate_hz", None) is not None:
        out["sample_rate_hz"] = float(args.sample_rate_hz)
    return out


def error_kind(record: str, line: str) -> str:
    """An error line without its record's path in front: what the records failing alike share."""
    return line[len(record) + 2:] if line.startswith(f"{record}: ") else line


def commonest_errors(rows, most: int = 3, names_shown: int = 2) -> list[str]:
    """The commonest of ``rows`` (record, message) as ``N x message (records)`` lines, commonest
    first (first seen first on ties), then ``... K other message(s)``: a run over a mixed archive
    says why without a line per record. Messages are counted without the record's own path in
    front (:func:`error_kind`): two truncated EDF files were two lines of one count each, pushing a
    third kind of error out, and a message without a path named no record at all."""
    import collections
    groups: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for record, message in rows:
        first = str(message).splitlines()[0] if message else "(no message)"
        record = str(record)
        groups[error_kind(record, first)[:120]].append((record, first))
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))   # stable: first seen first on ties
    lines = []
    for kind, members in ranked[:most]:
        record, first = members[0]
        if len(members) == 1 and first.startswith(f"{record}: "):
            lines.append(f"1 x {first[:120]}")   # the message as it stands, its record in front
            continue
        names = ", ".join(r for r, _ in members[:names_shown]) + (
            f" and {len(members) - names_shown} more" if len(members) > names_shown else "")
        lines.append(f"{len(members)} x {kind} ({names})")
    if len(ranked) > most:
        lines.append(f"... {len(ranked) - most} other message(s)")
    return lines


def say_failure(command: str, record: str, line: str, failures: dict) -> None:
    """Print a record that failed as it comes, once per kind of failure (``line`` without its
    record's path in front, :func:`error_kind`); ``failures`` (kind -> [(record, line)]) keeps them
    all for :func:`sum_up_failures`. A folder of recordings another model takes printed a line each
    (``embed`` of the 120 cough files with ecg-tiny: 120 lines, the same but for the file name)."""
    import logging
    import sys
    kind = error_kind(record, line)
    if kind not in failures:
        print(f"biosig {command}: error: {line}", file=sys.stderr)
    else:   # every one with -v
        logging.getLogger("biosig.cli").info("%s: error: %s", command, line)
    failures.setdefault(kind, []).append((record, line))


def sum_up_failures(command: str, failures: dict) -> None:
    """Where :func:`say_failure` said a failure once for several records: the commonest kinds with
    their counts and records, as ``score`` sums up its errors.parquet (:func:`commonest_errors`)."""
    import sys
    rows = [row for group in failures.values() for row in group]
    if len(rows) > len(failures):   # up to 10 names a kind (-v: each failure as it came)
        print(f"biosig {command}: {len(rows)} recording(s) failed:", file=sys.stderr)
        for line in commonest_errors(rows, most=len(failures), names_shown=10):
            print(f"  {line}", file=sys.stderr)


class ProgressLog:
    """One log line on stderr every ``every_s`` seconds when stderr is not a terminal (a tqdm bar
    is used on a terminal: the caller's own, or this object's with ``bar=True``), so long runs under
    nohup/CI are not silent. The interval defaults to 10 s; the environment variable
    ``BIOSIG_PROGRESS_S`` changes it."""

    BURST_S = 0.05   # updates this close to the first one are one burst (a chunk handed back at once)

    def __init__(self, what: str, total: int, every_s: float | None = None, bar: bool = False):
        import sys
        import time

        from biosig.progress import progress_interval_s

        if every_s is None:
            every_s = progress_interval_s()
        self.what, self.total, self.every_s = what, int(total), float(every_s)
        self.enabled = not sys.stderr.isatty()
        self.t0 = self.last = time.monotonic()
        self.t_first: float | None = None    # when the first record (or first burst of them) finished
        self.n_first = 0                     # how many finished in that burst
        self.done = self.failed = 0
        self.bar = None
        if bar and not self.enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=self.total, desc=what, unit="rec", leave=False, dynamic_ncols=True)

    def update(self, ok: bool = True, extra: str = "", n: int = 1) -> None:
        """``n`` records finished (``ok``: without failure), e.g. a chunk a worker handed back."""
        import sys
        import time

        self.done += n
        self.failed += 0 if ok else n
        if self.bar is not None:
            self.bar.update(n)
        now = time.monotonic()
        if self.t_first is None or now - self.t_first < self.BURST_S:
            self.t_first, self.n_first = now, self.done   # records handed back together (a chunk)
        due = now - self.last >= self.every_s
        final = self.done >= self.total and now - self.t0 >= self.every_s  # short runs stay quiet
        # a job of one record says nothing: its one update is its end, and its outcome follows at once (a
        # damaged file that took 10 s on a loaded machine printed 'info: 1/1 records (1 failed)' over its error)
        if not self.enabled or self.total <= 1 or not (due or final):
            return
        self.last = now
        rate = self.done / max(now - self.t0, 1e-9)
        print(f"{self.what}: {self.done}/{self.total} records ({self.failed} failed), {rate:.2f} rec/s"
              f"{', ' + extra if extra else ''}, elapsed {now - self.t0:.0f} s, ETA {self._eta_text(now)}",
              file=sys.stderr, flush=True)

    def _eta_text(self, now: float) -> str:
        """Time left at the rate since the first record (or first chunk of records) finished:
        start-up (process pools, model loading, JIT) is not a per-record cost, and counting it made
        the first lines' ETA absurd (one record after 15 s of start-up: 'ETA 149800 s' for a
        6-minute job); a chunk handed back at once is not a rate either. Unknown ('?') until a
        record has finished after that."""
        left = self.total - self.done
        if left <= 0:
            return "0 s"
        if self.done <= self.n_first or now <= self.t_first:   # update() has set t_first
            return "?"
        eta_s = left * (now - self.t_first) / (self.done - self.n_first)
        return f"{eta_s:.0f} s" if eta_s < 120 else f"{eta_s / 60:.0f} min"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# ------------------------------------------- SIGTERM / SIGHUP as Ctrl-C (score, embed)
def stopped_by_sigterm_as_ctrl_c(command: str, handler, args) -> int:
    """``handler(args)`` with SIGTERM and SIGHUP handled as Ctrl-C (:func:`_sigterm_as_ctrl_c`); a run one stopped
    exits 128 + its number (143, 129), the shell's code for it, after one line (the run's own warning says what was
    kept). ``embed`` too."""
    terms: list[int] = []
    with _sigterm_as_ctrl_c(terms):
        try:
            return handler(args)
        except KeyboardInterrupt:
            if not terms:
                raise
    import signal
    try:
        print(f"biosig {command}: stopped by {signal.Signals(terms[0]).name}", file=sys.stderr)
    except OSError:   # a terminal gone with the hang-up and stderr not yet sent elsewhere: the exit code says it
        pass
    return 128 + terms[0]


@contextlib.contextmanager
def _sigterm_as_ctrl_c(terms: list[int]):
    """SIGTERM stops the run as Ctrl-C does: the tables of the records done are written and run.json says it was
    interrupted. With Python's default (none) a SIGTERM killed the driver at once: no records.parquet, a run.json
    saying the run still went on, and the rerun warned that the record then in flight had killed its process
    ("out of memory?"), counting it towards being recorded as failed. Batch schedulers (SLURM, Kubernetes),
    ``timeout`` and ``kill`` all send SIGTERM. The signal is handed to the SIGINT handler in force, so a step
    that holds Ctrl-C (:func:`biosig.interrupts.interrupts_deferred`) holds it too; ``terms`` records that it came.
    ``embed`` lost the recordings embedded since its last part (up to 10 s of work) the same way.

    SIGHUP (an ssh session dropped under a run started without ``nohup``) killed both at once too: handled the same
    way, unless it is ignored (``nohup``: left so). The terminal is gone then, and a write to it fails (EIO): stdout
    and stderr that are that terminal go to /dev/null first, so the tables are still written and the exit is 129."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum, frame) -> None:
        terms.append(signum)
        if signum == getattr(signal, "SIGHUP", None):
            _off_the_terminal()
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:   # SIGINT ignored (a background job of a shell without job control): stop all the same
            raise KeyboardInterrupt
    handled = [signal.SIGTERM]
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:   # nohup: ignored
        handled.append(signal.SIGHUP)
    before = {sig: signal.signal(sig, on_term) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _off_the_terminal() -> None:
    """stdout and stderr that are a terminal, sent to /dev/null: after a hang-up every write to it fails (EIO), and
    the first one (a progress bar closed, a warning) would have ended the run with a traceback instead of 129."""
    import os
    for fd in (1, 2):
        try:
            if os.isatty(fd):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, fd)
                os.close(devnull)
        except OSError:
            pass
