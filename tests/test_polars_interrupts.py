"""Ctrl-C during a Polars read or write: one ``KeyboardInterrupt`` after the call, never a Rust panic
or a second interrupt (biosig.interrupts).

Fresh CI at 0f2f301 went red on ``test_ctrl_c_as_the_last_record_is_written``: the SIGINT landed in a
Python callback Polars' Rust code calls while ``pl.read_parquet`` builds its scan
(``ScanCastOptions._default``); the ``KeyboardInterrupt`` raised there was unwrapped into a panic, and
``biosig score`` ended with exit 1 and a Rust backtrace instead of 130 and its tables. A Ctrl-C inside
``pl.read_csv`` came back as two interrupts, the second killing the process from inside the handler
of the first (24 of 25 in a measured loop); and a Ctrl-C that Polars handed on could still end the
process by SIGINT after it exited normally (CPython's unhandled-interrupt note, which
``forget_handled_interrupts`` clears).

Real subprocesses and real signals. The callback case sends the SIGINT from inside Polars' own
callback (a wrapper around a Polars function, not ours): the one way to land it there without timing.
"""
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import polars as pl

ROOT = pathlib.Path(__file__).resolve().parents[1]

IN_CALLBACK = '''
import os, signal, sys
from polars.io.scan_options.cast_options import ScanCastOptions
from biosig.interrupts import is_interrupt
real = ScanCastOptions._default
def _default():   # Polars' Rust code calls this the first time a process scans Parquet
    os.kill(os.getpid(), signal.SIGINT)
    return real()
ScanCastOptions._default = staticmethod(_default)
path, how = sys.argv[1], sys.argv[2]
try:
    if how == "raw":
        import polars as pl
        pl.read_parquet(path)
    else:
        from biosig.readers import read
        read(path)
    print("finished")
except BaseException as exc:
    print(type(exc).__name__, is_interrupt(exc))
'''

LOOP = '''
import sys, time
import polars   # imported before the first Ctrl-C: one landing in an import is another matter
from biosig.interrupts import forget_handled_interrupts
from biosig.readers import read
print("ready", flush=True)
try:
    while True:
        read(sys.argv[1])
except KeyboardInterrupt:
    time.sleep(0.3)   # a second interrupt for the same Ctrl-C would land here
    print("one interrupt", flush=True)
    forget_handled_interrupts()   # as biosig's CLI does: exit 0 here, not death by SIGINT
'''


def _record_parquet(path: pathlib.Path) -> pathlib.Path:
    t = np.arange(2000) / 250.0
    pl.DataFrame({"t_s": t, "ecg": np.sin(2 * np.pi * t)}).write_parquet(path)
    return path


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_a_ctrl_c_inside_polars_callback_is_one_keyboard_interrupt_after_the_read(tmp_path):
    path = _record_parquet(tmp_path / "r.parquet")
    held = _run(IN_CALLBACK, str(path), "held")
    assert held.stdout.split() == ["KeyboardInterrupt", "True"], held.stdout + held.stderr   # was PanicException
    assert "panicked" not in held.stderr, held.stderr


def test_the_panic_of_an_unheld_polars_call_is_known_as_an_interrupt(tmp_path):
    """The fallback's premise: without the hold Polars panics, and is_interrupt knows that panic."""
    path = _record_parquet(tmp_path / "r.parquet")
    raw = _run(IN_CALLBACK, str(path), "raw")
    assert raw.stdout.split() == ["PanicException", "True"], raw.stdout + raw.stderr


DELAYS_S = (0.05, 0.09, 0.13, 0.17, 0.21, 0.27, 0.31, 0.37, 0.43, 0.51)


def test_ctrl_c_while_reading_a_csv_record_is_one_interrupt(tmp_path):
    """Ten Ctrl-C at different moments of a loop of reads (most land inside Polars' CSV reader):
    each is one KeyboardInterrupt. Before the hold most processes died of the second one."""
    t = np.arange(400_000) / 250.0
    path = tmp_path / "r.csv"
    pl.DataFrame({"t_s": t, "ecg": np.sin(2 * np.pi * t)}).write_csv(path)
    outcomes, errors = [], []
    for delay_s in DELAYS_S:
        proc = subprocess.Popen([sys.executable, "-c", LOOP, str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
            time.sleep(delay_s)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        outcomes.append((proc.returncode, out.strip(), "Traceback" in err or "panicked" in err))
        errors.append(err[-2000:])
    # was mostly (-2, "", True): the second KeyboardInterrupt's traceback from inside the handler
    odd = [f"{delay}: {got}\n{err}" for delay, got, err in zip(DELAYS_S, outcomes, errors)
           if got != (0, "one interrupt", False)]
    assert not odd, "\n".join(odd)


AFTER_THE_READ = """
import os, signal, sys
import biosig.readers.tables as tables
from biosig.readers import read
steps = []
blank_ends, tidy = tables._without_blank_ends, tables.tidy_header
def _without_blank_ends(df):   # the first step on the frame after pl.read_csv returned
    os.kill(os.getpid(), signal.SIGINT)
    steps.append("blank ends")
    return blank_ends(df)
def tidy_header(path, df):
    steps.append("header")
    return tidy(path, df)
tables._without_blank_ends, tables.tidy_header = _without_blank_ends, tidy_header
try:
    read(sys.argv[1])
    print("finished")
except KeyboardInterrupt:
    print("interrupt after", "+".join(steps))
"""


def test_a_ctrl_c_while_the_frame_is_worked_on_after_the_read_comes_once_the_read_is_done(tmp_path):
    """The Polars steps on a frame after ``pl.read_csv`` (blank ends, header, numbers, times) are
    held too: any of them may call back into Python from Rust. Fresh CI at 453ad88: one Ctrl-C of
    ten in the loop above ended with exit 1 and a traceback while only the read call was held."""
    path = tmp_path / "r.csv"
    pl.DataFrame({"t_s": np.arange(500) / 250.0, "ecg": np.zeros(500)}).write_csv(path)
    run = _run(AFTER_THE_READ, str(path))
    assert run.stdout.split() == ["interrupt", "after", "blank", "ends+header"], run.stdout + run.stderr


HELD_THEN_FAILED = """
import os, signal
from biosig.interrupts import interrupts_deferred
try:
    with interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))   # the handler runs: held
        raise ValueError("the read failed")
except BaseException as exc:
    print(type(exc).__name__, type(exc.__context__).__name__)
"""


def test_a_ctrl_c_held_while_the_call_fails_is_not_lost():
    """A Ctrl-C during a Polars call that then fails (a malformed file: ReadError, the job goes on) was
    dropped with the hold: the failure propagated and the interrupt never came."""
    run = _run(HELD_THEN_FAILED)
    assert run.stdout.split() == ["KeyboardInterrupt", "ValueError"], run.stdout + run.stderr   # was ValueError
