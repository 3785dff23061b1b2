"""Five small faults of ``biosig score`` / ``biosig embed`` found in bug-bash 74, each failing on the old code.

1. An output folder on a read-only mount was said as "permission denied" (``os.access`` says no for both): now
   "read-only file system"; a folder the user may not write in is still "permission denied". The read-only mount
   is a real one (a tmpfs in a mount namespace of its own, ``unshare``); skipped, saying why, where none can be made.
2. An empty list of records (``.txt``: 0 bytes, or blank lines and comments only) was an "empty file" error row and
   exit 1: now "no records found", one line, exit 2, as for an empty folder.
3. ``embed`` on a full disk said the write failure twice (a warning, then the error). The disk is filled by a real
   file-size limit (``RLIMIT_FSIZE``, ``ulimit -f``: the OS's EFBIG on the real part write, the same path an ENOSPC
   takes: any ``OSError`` of the write is one ``OutputWriteError``).
4. A parts folder without ``job.json`` was refused as an embed run "with other options (model None there, ...)",
   and one holding another tool's files (no part) was taken over and removed at the end with those files.
5. SIGHUP (an ssh session dropped, no ``nohup``) killed ``score`` and ``embed`` at once: now handled as SIGTERM is,
   exit 129 and one line; under ``nohup`` (SIGHUP ignored) it stays ignored. The signal is real, sent by the process
   to itself right after the named call (as tests/test_batch_bugbash74.py does for SIGTERM).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import polars as pl
import pytest

from biosig.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from biosig.synthetic import simulate
    from biosig.writers import write
    folder = tmp_path_factory.mktemp("small74") / "in"
    folder.mkdir()
    for i in range(3):
        write(simulate("ecg", 20.0, seed=i), folder / f"r{i:02d}.csv")
    return folder


def _biosig(args, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "biosig", *args], capture_output=True, text=True, env=env,
                          timeout=60, **kwargs)


# 1 ------------------------------------------------------------------------------------------------ read-only --out
def test_output_on_a_read_only_mount_says_read_only_file_system(tmp_path, records):
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1): no read-only mount can be made here")
    ro = tmp_path / "ro"
    ro.mkdir()
    probe = subprocess.run(["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no read-only mount can be made here (unshare -rm mount: {probe.stderr.strip()})")
    script = (f'mount -t tmpfs -o ro,size=64k tmpfs "{ro}" || exit 97; '
              f'exec "{sys.executable}" -m biosig embed "{records / "r00.csv"}" --model ecg-tiny --out "{ro}/e.parquet"')
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": ROOT})
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "read-only file system" in lines[0] and "permission denied" not in lines[0], lines   # was: permission denied


def test_output_folder_not_writable_still_says_permission_denied():
    """As a user without the right to write there: root writes everywhere, so as root the check runs in a forked
    child that became nobody (the check embed makes before its model loads, :func:`biosig.outputs.check_output_file`)."""
    from biosig.outputs import check_output_file
    base = tempfile.mkdtemp(prefix="biosig-small74-", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        locked = os.path.join(base, "locked")
        os.mkdir(locked)
        os.chmod(locked, 0o555)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:   # the child: no exec, no pytest; its one line down the pipe
            try:
                if os.geteuid() == 0:
                    os.setgroups([])
                    os.setgid(65534)
                    os.setuid(65534)
                try:
                    check_output_file(os.path.join(locked, "e.parquet"), "--out", (".parquet",))
                    said = "no error"
                except Exception as exc:   # noqa: BLE001 - its words are the result
                    said = str(exc)
                os.write(write_end, said.encode())
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as fh:
            said = fh.read().decode()
        os.waitpid(pid, 0)
        assert "cannot write in the folder" in said and "(permission denied)" in said, said
        assert "read-only" not in said, said
    finally:
        shutil.rmtree(base, ignore_errors=True)


# 2 ------------------------------------------------------------------------------------------- empty record lists
@pytest.mark.parametrize("text", ["", "\n   \n# the records of ward 3 go here\n\n"], ids=["0-bytes", "blank-and-comments"])
def test_an_empty_list_of_records_is_no_records_found(tmp_path, text, capsys):
    listed = tmp_path / "records.txt"
    listed.write_text(text)
    code = main(["score", str(listed), "--model", "ecg-tiny", "--backend", "torch", "--threads", "1",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no records found" in err[0], err   # was: exit 1, an "empty file" error row
    code = main(["embed", str(listed), "--model", "ecg-tiny", "--threads", "1", "--out", str(tmp_path / "e.parquet")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no readable recordings" in err[0], err


# 3 --------------------------------------------------------------------------------------------------- full disk
def test_embed_says_a_failed_part_write_once(tmp_path, capsys, caplog):
    import resource

    from biosig.synthetic import simulate
    from biosig.writers import write
    for i in range(2):
        write(simulate("ecg", 60.0, seed=i), tmp_path / f"m{i}.csv")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, hard))   # job.json fits; the part of two minutes of ECG does not
    try:
        code = main(["embed", str(tmp_path / "m0.csv"), str(tmp_path / "m1.csv"), "--model", "ecg-tiny", "--threads",
                     "1", "--out", str(tmp_path / "e.parquet")])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    err = capsys.readouterr().err
    said = err + caplog.text
    assert code == 2 and "part-000000.parquet: not written" in err, err
    assert said.count("not written") == 1, said   # was twice: a warning, then the same line as the error


# 4 --------------------------------------------------------------------------------------- parts without job.json
def test_parts_without_job_json_say_what_is_missing(tmp_path, records, capsys):
    out = tmp_path / "e.parquet"
    parts = tmp_path / "e.parquet.parts"
    parts.mkdir()
    pl.DataFrame({"a": [1]}).write_parquet(parts / "part-000000.parquet")
    code = main(["embed", str(records / "r00.csv"), "--model", "ecg-tiny", "--threads", "1", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "no job.json" in err[0] and f"remove {parts}" in err[0] and "None there" not in err[0], err


def test_another_tools_folder_is_not_taken_over(tmp_path, records, capsys):
    out = tmp_path / "e.parquet"
    parts = tmp_path / "e.parquet.parts"
    parts.mkdir()
    (parts / "notes.md").write_text("someone else's\n")
    code = main(["embed", str(records / "r00.csv"), "--model", "ecg-tiny", "--threads", "1", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "notes.md" in err[0] and "choose another --out" in err[0], err
    assert (parts / "notes.md").exists() and not out.exists()   # was: exit 0, the folder and notes.md removed


# 5 ------------------------------------------------------------------------------------------------------- SIGHUP
class Unhandled(Exception):
    pass


@pytest.fixture
def hup_guarded():
    def unhandled(signum, frame):
        raise Unhandled("SIGHUP reached the handler in force before the command")
    before = signal.signal(signal.SIGHUP, unhandled)
    yield
    signal.signal(signal.SIGHUP, before)


def _signal_after(monkeypatch, owner, name: str, nth: int, sig=signal.SIGHUP) -> None:
    real, calls = getattr(owner, name), [0]

    def wrapper(*args, **kwargs):
        out = real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == nth:
            os.kill(os.getpid(), sig)
        return out
    monkeypatch.setattr(owner, name, wrapper)


def test_score_stopped_by_sighup_writes_the_tables_and_exits_129(tmp_path, records, monkeypatch, hup_guarded, capsys):
    from encoders.scoring.outputs import PartStore
    _signal_after(monkeypatch, PartStore, "write_outcome", 2)
    out = tmp_path / "out"
    code = main(["score", str(records), "--model", "ecg-tiny", "--backend", "torch", "--threads", "1",
                 "--out", str(out)])   # was: killed at once (here: Unhandled)
    err = capsys.readouterr().err
    assert code == 129 and err.count("biosig score: stopped by SIGHUP") == 1, err
    assert pl.read_parquet(out / "records.parquet").height == 2


def test_embed_stopped_by_sighup_keeps_what_is_embedded(tmp_path, records, monkeypatch, hup_guarded, caplog, capsys):
    from encoders.embed_resume import EmbedParts
    _signal_after(monkeypatch, EmbedParts, "add", 2)
    code = main(["embed", str(records), "--model", "ecg-tiny", "--threads", "1", "--out", str(tmp_path / "e.parquet")])
    err = capsys.readouterr().err
    assert code == 129 and err.count("biosig embed: stopped by SIGHUP") == 1, err
    assert "2 of 3 recording(s) embedded so far are kept" in caplog.text
    kept = pl.read_parquet(sorted((tmp_path / "e.parquet.parts").glob("part-*.parquet")))
    assert kept["source"].n_unique() == 2


def test_sighup_ignored_under_nohup_stays_ignored(tmp_path, records, monkeypatch, capsys):
    from encoders.embed_resume import EmbedParts
    _signal_after(monkeypatch, EmbedParts, "add", 1)
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        code = main(["embed", str(records), "--model", "ecg-tiny", "--threads", "1", "--out", str(tmp_path / "e.parquet")])
    finally:
        signal.signal(signal.SIGHUP, before)
    assert code == 0, capsys.readouterr().err
    assert pl.read_parquet(tmp_path / "e.parquet")["source"].n_unique() == 3
