"""Bug-bash 74 of offline batch scoring and embedding (``biosig score``, ``biosig embed``).

SIGTERM, what batch schedulers (SLURM, Kubernetes), ``timeout`` and ``kill`` send, killed ``biosig score`` at once:
no records.parquet, a run.json saying the run still went on, and the rerun warned that the record then in flight had
killed its process ("out of memory?"), counting it towards recording it as failed. ``biosig embed`` lost every
recording embedded since its last part (up to 10 s of work). Both now stop as on Ctrl-C, tables or parts written,
with exit 143.

Real files and the real commands, in this process (a subprocess spends most of 3 s importing torch): the SIGTERM is
a real signal the process sends itself right after the call named, whose real method runs (as
tests/test_score_interrupt_windows.py does with SIGINT): the one way to land it at a chosen line without timing. The
test's own SIGTERM handler, in force before the command, turns an unhandled one into an error instead of killing
pytest.
"""
import json
import os
import signal

import polars as pl
import pytest

from biosig.cli import main

N_RECORDS = 4


class Unhandled(Exception):
    pass


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from biosig.synthetic import simulate
    from biosig.writers import write
    folder = tmp_path_factory.mktemp("bugbash74") / "in"
    folder.mkdir()
    for i in range(N_RECORDS):
        write(simulate("ecg", 20.0, seed=i), folder / f"r{i:02d}.csv")
    return folder


def _sigterm_after(monkeypatch, owner, name: str, nth: int) -> None:
    real, calls = getattr(owner, name), [0]

    def wrapper(*args, **kwargs):
        out = real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == nth:
            os.kill(os.getpid(), signal.SIGTERM)
        return out
    monkeypatch.setattr(owner, name, wrapper)


@pytest.fixture
def guarded():
    def unhandled(signum, frame):
        raise Unhandled("SIGTERM reached the handler in force before the command")
    before = signal.signal(signal.SIGTERM, unhandled)
    yield
    signal.signal(signal.SIGTERM, before)


def test_score_stopped_by_sigterm_writes_the_tables_of_the_records_done(tmp_path, records, monkeypatch, guarded,
                                                                         caplog, capsys):
    from encoders.scoring.outputs import PartStore
    _sigterm_after(monkeypatch, PartStore, "write_outcome", 2)
    out = tmp_path / "out"
    code = main(["score", str(records), "--model", "ecg-tiny", "--backend", "torch", "--threads", "1",
                 "--out", str(out)])   # was: killed at once (here: Unhandled)
    err = capsys.readouterr().err
    assert code == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err and "holds the 2 record(s) done so far" in caplog.text, err
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["runs"][-1].get("interrupted") is True and "running" not in manifest["runs"][-1]
    assert pl.read_parquet(out / "records.parquet").height == 2 == manifest["counts"]["records"]   # was missing


def test_embed_stopped_by_sigterm_keeps_the_recordings_embedded_so_far(tmp_path, records, monkeypatch, guarded,
                                                                       caplog, capsys):
    from encoders.embed_resume import EmbedParts
    _sigterm_after(monkeypatch, EmbedParts, "add", 2)
    out = tmp_path / "e.parquet"
    code = main(["embed", str(records), "--model", "ecg-tiny", "--threads", "1", "--out", str(out)])
    assert code == 128 + signal.SIGTERM, capsys.readouterr().err
    assert "2 of 4 recording(s) embedded so far are kept" in caplog.text
    kept = pl.read_parquet(sorted((tmp_path / "e.parquet.parts").glob("part-*.parquet")))   # was: job.json alone
    assert kept["source"].n_unique() == 2


def test_score_says_it_goes_on_while_one_long_record_runs(tmp_path, records, monkeypatch, capsys):
    """A line every progress interval while no record is done (a 24 h Holter took over a minute with nothing said:
    the log line came only when a record was done). The real scorer runs; a sleep makes its record a long one."""
    import time

    from encoders.scoring.scorer import Scorer
    real = Scorer.score

    def slow(self, path):
        time.sleep(0.6)
        return real(self, path)
    monkeypatch.setattr(Scorer, "score", slow)
    monkeypatch.setenv("BIOSIG_PROGRESS_S", "0.15")
    code = main(["score", str(records / "r00.csv"), "--model", "ecg-tiny", "--backend", "torch", "--threads", "1",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0, err
    beats = [line for line in err.splitlines() if line.startswith("score: 0/1 records done, still running")]
    assert len(beats) >= 2, err   # was none: a one-record run said nothing until it was done


def test_ray_init_leaves_the_commands_sigterm_handler_in_force():
    """``ray.init`` sets its own SIGTERM handler (``sys.exit``; its C++ core one that aborts): a SIGTERM then ended a
    ``--engine ray`` run with exit 134 and no tables (seen on cinc2017, 22 records done). The handler in force before
    it is put back. Starting Ray takes far over 3 s: the stand-in's ``init`` sets the handler as Ray's own does."""
    import types

    from encoders.scoring import ray_engine

    def ours(signum, frame):
        pass

    def ray_like_init(**kwargs):
        signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(SystemExit(signum)))
    before = signal.signal(signal.SIGTERM, ours)
    try:
        with ray_engine._sigterm_handler_kept():
            ray_engine._init_ray(types.SimpleNamespace(init=ray_like_init), None, 1)
        assert signal.getsignal(signal.SIGTERM) is ours
    finally:
        signal.signal(signal.SIGTERM, before)
