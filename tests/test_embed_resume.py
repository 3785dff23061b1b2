"""``biosig embed`` resumes (issue 14: the owners embed thousands of records; a Ctrl-C after 20 minutes
lost them all, the one Parquet file being written at the end). Real files, the real command in this
process (``biosig.cli.main``: the model loads once for all the runs), and a real SIGINT the process sends
itself just before the Nth recording is read (``biosig.readers.read``, called unchanged), the way
tests/test_score_interrupt_windows.py lands one at a chosen line without timing."""
import logging
import os
import signal

import pytest

import biosig.readers
from biosig.cli import main

N_RECORDS = 4


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from biosig.synthetic import simulate
    from biosig.writers import write
    folder = tmp_path_factory.mktemp("embed_resume") / "in"
    folder.mkdir()
    rec = simulate("ecg", 10.0, seed=0, fs_hz=300.0)   # one simulation (the slow part), four gains
    for i in range(N_RECORDS):
        write(rec.replace(samples=rec.samples * (1.0 + 0.25 * i)), folder / f"A{i:05d}.hea")
    return folder


@pytest.fixture()
def reads(monkeypatch):
    """Counts the recordings read; ``reads.sigint_at = n`` sends SIGINT just before the nth read."""
    real = biosig.readers.read

    class Reads:
        n = 0
        sigint_at = None

        def __call__(self, *args, **kwargs):
            self.n += 1
            if self.n == self.sigint_at:
                os.kill(os.getpid(), signal.SIGINT)
            return real(*args, **kwargs)

    counter = Reads()
    monkeypatch.setattr(biosig.readers, "read", counter)
    # a Ctrl-C as at a terminal, whatever an earlier test in this process left: once, in a fresh-clone CI
    # run, all three SIGINT tests here ran to the end (exit 0) after other files in the same worker
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    yield counter
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    signal.signal(signal.SIGINT, handler)


def _embed(folder, out, *extra):
    return main(["embed", str(folder), "--model", "ecg-tiny", "--threads", "1", "--out", str(out), *extra])


def _warnings(caplog, word):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and word in r.getMessage()]


def test_interrupted_embed_resumes_to_the_same_file(records, tmp_path, reads, capsys, caplog):
    whole = tmp_path / "whole.parquet"
    assert _embed(records, whole) == 0
    out = tmp_path / "emb.parquet"
    parts = tmp_path / "emb.parquet.parts"
    reads.n, reads.sigint_at = 0, 3
    caplog.clear()
    capsys.readouterr()
    assert _embed(records, out) == 130
    err = capsys.readouterr().err
    said = _warnings(caplog, "interrupt")
    assert len(said) == 1 and "2 of 4 recording(s)" in said[0] and "run the same command again" in said[0], said
    assert "biosig embed: interrupted" not in err   # one line: the command's own
    assert not out.exists() and len(list(parts.glob("part-*.parquet"))) == 1   # was: nothing kept at all

    reads.n, reads.sigint_at = 0, None
    caplog.clear()
    assert _embed(records, out) == 0
    assert reads.n == 2   # the two recordings embedded before the Ctrl-C were not embedded again
    resumed = _warnings(caplog, "resuming")
    assert len(resumed) == 1 and "2 of 4 recording(s) already embedded" in resumed[0], resumed
    assert out.read_bytes() == whole.read_bytes()   # byte for byte the file of a run never stopped
    assert not parts.exists()
    assert _embed(records, out) == 2   # a finished --out: refused without --force, as before
    assert "already exists" in capsys.readouterr().err


def test_other_options_are_refused_or_start_over(records, tmp_path, reads, capsys, caplog):
    out = tmp_path / "emb.parquet"
    parts = tmp_path / "emb.parquet.parts"
    reads.sigint_at = 2
    assert _embed(records, out) == 130
    kept = sorted(parts.glob("part-*.parquet"))
    assert len(kept) == 1
    capsys.readouterr()

    reads.n, reads.sigint_at = 0, None
    assert _embed(records, out, "--window-s", "5") == 2   # would mix 10 s and 5 s windows in one file
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "window_s 10.0 there, 5.0 now" in err[0] and "--force" in err[0], err
    assert reads.n == 0 and sorted(parts.glob("part-*.parquet")) == kept

    caplog.clear()
    assert _embed(records, out, "--window-s", "5", "--force") == 0
    assert reads.n == N_RECORDS and _warnings(caplog, "starting over")
    import polars as pl
    df = pl.read_parquet(out)
    assert df["source"].n_unique() == N_RECORDS and set(df["t1_s"] - df["t0_s"]) == {5.0}


def test_ctrl_c_before_anything_is_embedded_leaves_no_parts(records, tmp_path, reads, capsys):
    """Nothing to resume: the CLI's own line (tests/test_cli_interrupt.py) and no parts folder left."""
    out = tmp_path / "emb.parquet"
    reads.sigint_at = 1
    assert _embed(records, out) == 130
    assert "biosig embed: interrupted" in capsys.readouterr().err
    assert not (tmp_path / "emb.parquet.parts").exists() and not out.exists()
