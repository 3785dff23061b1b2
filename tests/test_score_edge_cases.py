"""biosig score where a run goes wrong: resuming with other read options, an output folder
inside an input folder, workers of a killed driver. Shipped ecg-tiny on onnxruntime (its cached export), real files."""
import pathlib
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from conftest import shared_path

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main())"]
MODEL, BACKEND = "ecg-tiny", "onnxruntime"


def _biosig(*args):
    return subprocess.run([*BIOSIG, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _score(*args):
    return subprocess.run([*BIOSIG, "score", *map(str, args), "--model", MODEL, "--backend", BACKEND,
                           "--threads", "1"], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_resume_with_another_channel_mapping_is_refused_not_silently_kept(tmp_path):
    """041s scored with lead III; a rerun saying `--channel III=other` skipped the record as done and
    kept III in records.parquet. Now the folder is refused (exit 2, one line), as for --window-s."""
    record = shared_path("wfdb", "multi-segment", "041s", "041s.hea")
    out = tmp_path / "out"
    first = _score(record, "--out", out)
    assert first.returncode == 0, first.stderr
    assert pl.read_parquet(out / "records.parquet")["used_channels"].to_list() == [["III"]]
    again = _score(record, "--out", out, "--channel", "III=other")
    assert again.returncode == 2, (again.returncode, again.stderr)
    assert "Traceback" not in again.stderr and "read_options" in again.stderr, again.stderr
    assert pl.read_parquet(out / "records.parquet")["used_channels"].to_list() == [["III"]]
    # the same options resume; a fresh folder takes the new mapping
    other = tmp_path / "other"
    assert _score(record, "--out", other, "--channel", "III=other").returncode == 0
    resumed = _score(record, "--out", other, "--channel", "III=other")
    assert resumed.returncode == 0 and "1 already done" in resumed.stdout, resumed.stdout + resumed.stderr
    assert pl.read_parquet(other / "records.parquet")["used_channels"].to_list() != [["III"]]


def test_out_folder_inside_the_input_folder_is_not_scored_as_records(tmp_path):
    """`biosig score data --out data/score`, run twice: the second run read its own tables and parts
    (windows.parquet, parts/*.record.parquet, ...) as records, failed on them (exit 1) and put them
    in errors.parquet, more each run."""
    import shutil
    hea = shared_path("cinc2017", "A00020.hea")
    data = tmp_path / "data"
    data.mkdir()
    for f in hea.parent.glob("A00020.*"):
        shutil.copy(f, data / f.name)
    out = data / "score"
    for _ in range(2):
        res = _score(data, "--out", out)
        assert res.returncode == 0, res.stdout + res.stderr
    assert pl.read_parquet(out / "records.parquet")["name"].to_list() == ["A00020.hea"]
    assert pl.read_parquet(out / "errors.parquet").height == 0
    only_out = _score(out, "--out", out)   # the output folder itself: one line, exit 2
    assert only_out.returncode == 2 and "Traceback" not in only_out.stderr, only_out.stderr


def _children(pid: int) -> set[int]:
    out = set()
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not pathlib.Path("/proc").is_dir(), reason="reads /proc")
def test_workers_end_when_the_driver_is_killed(tmp_path):
    """`--workers 2`, driver SIGKILLed mid-run: its pool workers (and multiprocessing's resource
    tracker) stayed alive for good, blocked on their task pipe, each holding a model."""
    import os
    import shutil
    import signal
    import time
    # 40 of the 200 CinC 2017 records: the kill comes at the first record done, seconds of scoring before
    # the last; the rerun of the other ~199 was most of this test's time
    folder, n = tmp_path / "cinc", 40
    folder.mkdir()
    for hea in sorted(shared_path("cinc2017").glob("*.hea"))[:n]:
        for f in (hea, hea.with_suffix(".mat")):
            shutil.copy(f, folder / f.name)
    out = tmp_path / "out"
    proc = subprocess.Popen([*BIOSIG, "score", str(folder), "--model", MODEL, "--backend", BACKEND,
                             "--out", str(out), "--workers", "2"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            workers |= _children(proc.pid)
            if any((out / "parts").glob("*.record.parquet")):
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before it could be killed"
        workers |= _children(proc.pid)
        assert len(workers) >= 2, workers
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        left = [p for p in workers if _alive(p)]
        assert not left, f"processes of the killed run still alive: {left}"
    finally:
        for p in workers:   # only the processes this test started
            if _alive(p):
                os.kill(p, signal.SIGKILL)
    res = _score(folder, "--out", out)   # resumes: every record once
    assert res.returncode == 0, res.stderr
    records = pl.read_parquet(out / "records.parquet")
    assert records.height == records["record"].n_unique() == n


def test_modality_makes_a_generically_named_channel_the_models(tmp_path):
    """A table whose one column is "ch1": embed's own error says to give --modality ecg, and neither
    embed (after its lead choice) nor score took it ("no usable ecg channel among: ch1 (other)");
    both do now, and score refuses --modality of another kind than the model's, as embed does."""
    import numpy as np
    import polars as pl

    from biosig.synthetic import simulate
    rec = simulate("ecg", 30, seed=1, fs_hz=250.0)
    src = tmp_path / "g.csv"
    pl.DataFrame({"t_s": np.arange(rec.n_samples) / 250.0, "ch1": rec.samples[0]}).write_csv(src)
    res = _biosig("score", src, "--model", "ecg-tiny", "--backend", BACKEND, "--modality", "ecg", "--out", tmp_path / "o")
    assert res.returncode == 0, res.stderr
    row = pl.read_parquet(tmp_path / "o" / "records.parquet").row(0, named=True)
    assert row["used_channels"] == ["ch1"] and 65 < row["heart_rate_bpm"] < 75, row
    res = _biosig("embed", src, "--model", "ecg-tiny", "--modality", "ecg", "--out", tmp_path / "e.parquet")
    assert res.returncode == 0, res.stderr
    assert set(pl.read_parquet(tmp_path / "e.parquet")["channels"]) == {"ch1"}
    res = _biosig("score", src, "--model", "ecg-tiny", "--modality", "ppg", "--out", tmp_path / "p")
    assert res.returncode == 2 and "--modality ppg: ecg-tiny" in res.stderr, res.stderr


def test_device_cuda_without_a_gpu_is_refused_not_run_on_the_cpu(tmp_path):
    """``score --device cuda`` on a machine without a GPU ran on the CPU with exit 0 (the auto
    backend fell back); the torch and onnxruntime backends already refused."""
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    from biosig.synthetic import simulate
    from biosig.writers import write
    write(simulate("ecg", 12, seed=0), tmp_path / "r.csv")
    res = _biosig("score", tmp_path / "r.csv", "--model", "ecg-tiny", "--device", "cuda", "--out", tmp_path / "o")
    assert res.returncode == 2 and "--device cuda: no CUDA GPU here" in res.stderr, res.stderr
    assert not (tmp_path / "o" / "records.parquet").exists()


def test_ctrl_c_writes_the_tables_of_what_is_done(tmp_path):
    """Ctrl-C during a first run left parts/ only (no records.parquet until a rerun): the records done
    so far are in the tables at once, exit 130, and the rerun scores the rest (each record once)."""
    import shutil
    import signal
    import time
    # 40 of the 200 CinC 2017 records: the interrupt comes at the third record done, ~3 s of scoring
    # before the last; the rerun of the other ~197 was most of this test's 22 s in CI
    folder, n = tmp_path / "cinc", 40
    folder.mkdir()
    for hea in sorted(shared_path("cinc2017").glob("*.hea"))[:n]:
        for f in (hea, hea.with_suffix(".mat")):
            shutil.copy(f, folder / f.name)
    out = tmp_path / "out"
    proc = subprocess.Popen([*BIOSIG, "score", str(folder), "--model", MODEL, "--backend", BACKEND,
                             "--threads", "1", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None and \
            len(list((out / "parts").glob("*.record.parquet"))) < 3:
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "run the same command again" in err, err
    done = pl.read_parquet(out / "records.parquet")
    assert 3 <= done.height < n and done.height == done["record"].n_unique()
    assert not list((out / "parts").glob("*.inflight.json"))   # Ctrl-C is no death of the run: nothing counted
    res = _score(folder, "--out", out)
    assert res.returncode == 0, res.stderr
    records = pl.read_parquet(out / "records.parquet")
    assert records.height == records["record"].n_unique() == n
