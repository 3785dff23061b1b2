"""biosig score: outputs, resumability, bad records, CLI (local engine).

The model here is a real ecg-tiny architecture with seeded random weights saved as a checkpoint
directory (the ``DIR`` form of ``--model``) and run with the torch backend, so these tests need
no ONNX export; tests/test_score_archive.py scores the shared recordings with the shipped model.
"""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import polars as pl
import pytest

from conftest import shared_path

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def model_dir(ecg_tiny_random_dir):
    return str(ecg_tiny_random_dir)


def _cinc(n):
    folder = shared_path("cinc2017")
    return sorted(folder.glob("*.hea"))[:n]


def _copy_records(heas, dest: pathlib.Path):
    dest.mkdir(parents=True, exist_ok=True)
    for hea in heas:
        for f in hea.parent.glob(hea.stem + ".*"):
            shutil.copy(f, dest / f.name)
    return dest


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _cli(*args):
    """``biosig ARGS`` in this process (the console script's main), stdout/stderr captured."""
    import contextlib
    import io

    from biosig.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
    return _Result(code, out.getvalue(), err.getvalue())


# ---------------------------------------------------------------------------------- units
def test_record_key_is_stable_and_distinct(tmp_path):
    from encoders.scoring.outputs import record_key
    a, b = tmp_path / "x" / "100.hea", tmp_path / "y" / "100.hea"
    assert record_key(a) == record_key(str(tmp_path / "x" / ".." / "x" / "100.hea"))
    assert record_key(a) != record_key(b)
    assert record_key(a).startswith("100.hea-")


def test_choose_channels_prefers_vocabulary_and_skips_unusable():
    from encoders.scoring.scorer import choose_channels
    chans, mods = ("II", "ABP", "I", "V"), ("ecg", "other", "ecg", "ecg")
    assert choose_channels(chans, mods, [True] * 4, "ecg", ("I", "II"), 1) == [2]
    assert choose_channels(chans, mods, [True, True, False, True], "ecg", ("I", "II"), 1) == [0]
    assert choose_channels(chans, mods, [True] * 4, "ecg", ("I", "II"), 2) == [2, 0]
    mit = ("MLII", "V5")
    assert choose_channels(mit, ("ecg", "ecg"), [True, True], "ecg", ("I", "II", "V5"), 1) == [0]
    assert choose_channels(("ECG lead V5", "ECG lead I"), ("ecg", "ecg"), [True, True], "ecg", ("I",), 1) == [1]
    with pytest.raises(ValueError, match="no usable ecg channel among: II"):
        choose_channels(chans, mods, [False, True, False, False], "ecg", ("I",), 1)
    with pytest.raises(ValueError, match="needs 4 ecg channels"):
        choose_channels(chans, mods, [True] * 4, "ecg", ("I",), 4)


def test_an_unusable_channel_says_why(tmp_path, capsys):
    """'mono (audio, unusable)' for a one-frame WAV: the error says what is wrong with each channel."""
    import soundfile as sf
    from biosig.cli import main
    from encoders.scoring.scorer import unusable_reasons
    x = np.array([[np.nan] * 6 + [1.0] * 4, [2.0] * 10, [0, 1] * 5, [np.nan] * 10])
    assert unusable_reasons(x) == ["60 % missing", "constant", "", "100 % missing"]
    assert unusable_reasons(np.ones((1, 1))) == ["one sample"]
    one = tmp_path / "one.wav"
    sf.write(one, np.array([0.5], np.float32), 16000, subtype="FLOAT")
    assert main(["score", str(one), "--model", "audio-tiny", "--out", str(tmp_path / "run")]) == 1   # the record failed
    assert "mono (audio, one sample)" in capsys.readouterr().err


def test_part_store_resume_and_atomic_leftovers(tmp_path):
    from encoders.scoring.outputs import ERROR_SCHEMA, WINDOW_SCHEMA, PartStore

    store = PartStore(tmp_path)
    (store.parts / ".x.windows.parquet.abc.tmp").write_bytes(b"half")          # a killed write
    windows = pl.DataFrame({"record": ["r1"], "key": ["k1"], "window": [0], "t0_s": [0.0],
                            "t1_s": [10.0], "channels": [["I"]], "quality": [0.9],
                            "valid_fraction": [1.0], "embedding": [[1.0, 2.0]]}, schema=WINDOW_SCHEMA)
    store.write_outcome({"key": "k1", "windows": windows,
                         "record_row": pl.DataFrame({"record": ["r1"], "key": ["k1"]})})
    # an interrupted record: its windows part exists but no marker -> not done, not assembled
    windows.with_columns(pl.lit("k2").alias("key")).write_parquet(store.parts / "k2.windows.parquet")
    err = pl.DataFrame([{"record": "r3", "key": "k3", "stage": "read", "error_type": "ReadError",
                         "message": "bad"}], schema=ERROR_SCHEMA)
    store.write_outcome({"key": "k3", "error": err})
    store.close()
    store2 = PartStore(tmp_path)                                                  # a rerun
    assert not list(store2.parts.glob("*.tmp"))
    assert store2.done_keys() == {"k1", "k3"}
    assert store2.assemble() == {"windows": 1, "records": 1, "errors": 1}
    assert pl.read_parquet(tmp_path / "windows.parquet")["key"].to_list() == ["k1"]
    store2.forget({"k3"})
    assert store2.done_keys() == {"k1"}


def test_one_writer_per_output_folder(tmp_path):
    from encoders.scoring import ScoreError
    from encoders.scoring.outputs import PartStore
    with PartStore(tmp_path):
        with pytest.raises(ScoreError, match="another biosig score run is writing"):
            PartStore(tmp_path)
    PartStore(tmp_path).close()  # released


def test_job_fingerprint_mismatch_is_refused(tmp_path):
    from encoders.scoring import ScoreError
    from encoders.scoring.outputs import PartStore
    PartStore(tmp_path).check_job({"model_id": "a", "window_s": 10.0})
    PartStore(tmp_path).check_job({"model_id": "a", "window_s": 10.0})
    with pytest.raises(ScoreError, match="model_id: 'a' there, 'b' now"):
        PartStore(tmp_path).check_job({"model_id": "b", "window_s": 10.0})


def test_worker_refuses_weights_that_changed_since_the_driver_loaded(model_dir):
    from encoders.scoring import ModelSpec, ScoreError, load_model
    good = load_model(ModelSpec(model_dir, "torch"))
    assert load_model(ModelSpec(model_dir, "torch", expect_sha256=good.model_sha256)).model_id == good.model_id
    with pytest.raises(ScoreError, match="changed during the run"):
        load_model(ModelSpec(model_dir, "torch", expect_sha256="0" * 64))


# ---------------------------------------------------------------------------------- jobs
def test_score_matches_direct_model_output(tmp_path, model_dir):
    """The stored embeddings are the model's output on the pipeline's windows (independent path:
    Encoder.prepare + biosig.windows + the torch module)."""
    import torch

    import encoders
    from biosig.pipeline import default_window
    from biosig.readers import read
    from biosig.windows import window_array
    from encoders.scoring import ScoreConfig, run_score

    heas = _cinc(3)
    summary = run_score(ScoreConfig(inputs=tuple(map(str, heas)), model=model_dir, out_dir=str(tmp_path),
                                    backend="torch"))
    assert summary.exit_code == 0 and summary.tables["records"] == 3 and summary.failed == 0
    win_tab = pl.read_parquet(tmp_path / "windows.parquet")
    rec_tab = pl.read_parquet(tmp_path / "records.parquet")
    enc = encoders.load(model_dir)
    for hea in heas:
        rec = enc.prepare(read(hea))
        w = window_array(rec, enc.config.window_s, default_window("ecg")[1])
        idx = torch.as_tensor(enc.channel_index(rec.channels))       # the encoder's own lead mapping
        with torch.no_grad():
            ref = enc.model.embed_forward(torch.from_numpy(np.nan_to_num(w.x)), idx).numpy()
        mine = win_tab.filter(pl.col("record") == str(hea)).sort("window")
        got = np.stack(mine["embedding"].to_list())
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, atol=1e-5)
        np.testing.assert_allclose(mine["t0_s"].to_numpy(), w.t0_s)
        row = rec_tab.filter(pl.col("record") == str(hea))
        np.testing.assert_allclose(np.asarray(row["embedding"][0].to_list()), ref.mean(0), atol=1e-5)
        assert row["n_windows"][0] == len(ref)
        assert row["used_channels"][0].to_list() == list(read(hea).channels)
        assert 0 < row["duration_s"][0] < 70 and row["fs_hz"][0] == 300
    q = win_tab["quality"].to_numpy()
    assert np.all((q >= 0) & (q <= 1))
    hr = rec_tab["heart_rate_bpm"].to_numpy()   # null for a record without a usable window
    usable = win_tab.group_by("record").agg(pl.col("measures_ok").any())
    none_ok = set(usable.filter(~pl.col("measures_ok"))["record"])
    for rec_path, v in zip(rec_tab["record"], hr):
        assert (np.isnan(v) if rec_path in none_ok else 30 < v < 200), (rec_path, v)
    manifest = json.loads((tmp_path / "run.json").read_text())
    assert manifest["model"]["model_id"] == enc.model_id
    assert manifest["model"]["pipeline_hash"] == enc.pipeline.hash
    assert manifest["counts"] == {"windows": win_tab.height, "records": 3, "errors": 0}
    assert manifest["runs"][-1]["scored"] == 3 and manifest["versions"]["polars"] == pl.__version__


def test_bad_records_are_reported_and_the_run_goes_on(tmp_path, model_dir):
    good = _cinc(2)
    folder = _copy_records(good, tmp_path / "archive")
    src = shared_path("wfdb", "100.hea")
    shutil.copy(src, folder / "100.hea")                                        # truncated .dat
    (folder / "100.dat").write_bytes(src.with_suffix(".dat").read_bytes()[:3000])
    (folder / "ghost.hea").write_text("ghost 1 250 5000\nghost.dat 16 200 16 0 0 0 0 ECG\n")
    import soundfile as sf
    sf.write(folder / "silence.wav", np.zeros((0, 1), np.float32), 16000)       # empty WAV
    (folder / "notes.edf").write_text("not a signal, just notes\n" * 20)        # non-signal file
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list: milk, eggs\n")                             # named explicitly
    out = tmp_path / "out"
    res = _cli("score", folder, notes, "--model", model_dir, "--out", out, "--backend", "torch")
    assert res.returncode == 1, res.stderr
    assert "errors.parquet" in res.stderr and "Traceback" not in res.stderr
    errors = pl.read_parquet(out / "errors.parquet")
    by_name = {pathlib.Path(r).name: (s, m) for r, s, m in errors.select("record", "stage", "message").rows()}
    assert set(by_name) == {"100.hea", "ghost.hea", "silence.wav", "notes.edf", "notes.txt"}, by_name
    assert by_name["ghost.hea"][0] == "read" and "ghost.dat" in by_name["ghost.hea"][1]
    assert by_name["100.hea"][0] == "read"
    assert by_name["notes.txt"][0] == "read" and by_name["notes.edf"][0] == "read"
    assert by_name["silence.wav"][0] in ("read", "channels")
    summary = res.stderr.split("errors.parquet", 1)[1].strip().splitlines()   # the commonest messages, counted
    assert len(summary) == 4 and summary[-1].strip() == "... 2 other message(s)", res.stderr
    # (both sides stripped: where the 120-character cut ends on a space, the stderr line has lost it;
    # the cut moves with the length of the temporary path)
    assert all(line.strip().split(" x ", 1)[1] in {m.splitlines()[0][:120].strip() for _, m in by_name.values()}
               for line in summary[:3]), res.stderr
    records = pl.read_parquet(out / "records.parquet")
    assert sorted(map(lambda p: pathlib.Path(p).name, records["record"])) == sorted(h.name for h in good)
    assert records["n_windows"].min() >= 1
    # a rerun finds everything done and keeps each record once; --retry-errors retries the failures
    res2 = _cli("score", folder, notes, "--model", model_dir, "--out", out, "--backend", "torch",
                "--retry-errors")
    assert res2.returncode == 1
    assert pl.read_parquet(out / "errors.parquet").height == 5
    assert pl.read_parquet(out / "records.parquet").height == 2
    runs = json.loads((out / "run.json").read_text())["runs"]
    assert runs[-1]["skipped_done"] == 2 and runs[-1]["failed"] == 5


def test_kill_midway_then_rerun_gives_each_record_once(tmp_path, model_dir):
    heas = _cinc(12)
    listing = tmp_path / "records.txt"
    listing.write_text("\n".join(str(h) for h in heas) + "\n")
    out = tmp_path / "out"
    cmd = BIOSIG + ["score", str(listing), "--model", model_dir, "--out", str(out), "--backend", "torch"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 180
    done_at_kill = 0
    while time.time() < deadline and proc.poll() is None:
        done_at_kill = len(list((out / "parts").glob("*.record.parquet"))) if (out / "parts").exists() else 0
        if done_at_kill >= 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"run ended before the kill: {proc.stderr.read()}"
    assert 3 <= done_at_kill < len(heas)
    assert not (out / "records.parquet").exists()          # killed before assembling
    res = _cli("score", listing, "--model", model_dir, "--out", out, "--backend", "torch")
    assert res.returncode == 0, res.stderr
    records = pl.read_parquet(out / "records.parquet")
    assert sorted(records["record"].to_list()) == sorted(map(str, heas))   # every record exactly once
    windows = pl.read_parquet(out / "windows.parquet")
    assert windows.select("record", "window").is_duplicated().sum() == 0
    per_record = windows.group_by("record").len()
    merged = records.join(per_record, on="record")
    assert (merged["len"] == merged["n_windows"].cast(pl.UInt32)).all()
    run = json.loads((out / "run.json").read_text())["runs"][-1]
    assert run["skipped_done"] >= done_at_kill and run["skipped_done"] + run["scored"] == len(heas)


# ---------------------------------------------------------------------------------- CLI errors
@pytest.mark.parametrize("extra, message", [
    (["--engine", "spark"], "invalid choice: 'spark'"),
    (["--workers", "0"], "expected a positive integer"),
    (["--ray-address", "auto"], "--ray-address needs --engine ray"),
])
def test_cli_usage_errors_exit_2_with_one_line(tmp_path, model_dir, extra, message):
    hea = _cinc(1)[0]
    res = _cli("score", hea, "--model", model_dir, "--out", tmp_path / "o", *extra)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr


def test_cli_no_records_and_unknown_model(tmp_path):
    (tmp_path / "empty").mkdir()
    res = _cli("score", tmp_path / "empty", "--model", "ecg-tiny", "--out", tmp_path / "o")
    assert res.returncode == 2 and "no records found" in res.stderr and "Traceback" not in res.stderr
    hea = _cinc(1)[0]
    res = _cli("score", hea, "--model", "nosuch-model", "--out", tmp_path / "o")
    assert res.returncode == 2 and "nosuch-model" in res.stderr and "Traceback" not in res.stderr


def test_other_model_in_same_out_dir_is_refused(tmp_path, model_dir):
    import torch

    import encoders
    from biosig.pipeline import default_pipeline
    from encoders.checkpoint import save_checkpoint
    torch.manual_seed(1)
    other = tmp_path / "other-model"
    save_checkpoint(other, encoders.create_model("ecg-tiny"), pipeline=default_pipeline("ecg"))
    hea = _cinc(1)[0]
    assert _cli("score", hea, "--model", model_dir, "--out", tmp_path / "o", "--backend", "torch").returncode == 0
    res = _cli("score", hea, "--model", other, "--out", tmp_path / "o", "--backend", "torch")
    assert res.returncode == 2 and "different job" in res.stderr and "model_sha256" in res.stderr


# ---------------------------------------------------------------------------------- other modalities
@pytest.mark.parametrize("modality, parts, measure", [
    ("spiro", ("spirometry", "ukb_field3066_demo_blow.csv"), "fev1_fvc"),
    ("ppg", ("wfdb", "a103l.hea"), "heart_rate_bpm"),
    ("audio", ("cough", "raw"), None),
])
def test_other_modalities_score_with_their_measures(tmp_path, modality, parts, measure):
    import torch

    import encoders
    from biosig import measures
    from biosig.pipeline import default_pipeline
    from biosig.readers import discover, read
    from encoders.scoring import ScoreConfig, run_score
    from encoders.scoring.scorer import MEASURES
    from encoders.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = tmp_path / f"{modality}-tiny-random"
    save_checkpoint(model, encoders.create_model(f"{modality}-tiny"), pipeline=default_pipeline(modality))
    src = shared_path(*parts)
    inputs = [str(src)] if src.is_file() else discover([src])[:2]
    summary = run_score(ScoreConfig(inputs=tuple(inputs), model=str(model), out_dir=str(tmp_path / "o"),
                                    backend="torch"))
    assert summary.exit_code == 0 and summary.tables["records"] == len(inputs)
    rec_tab = pl.read_parquet(tmp_path / "o" / "records.parquet")
    assert set(MEASURES[modality]) <= set(rec_tab.columns)
    emb = np.stack(rec_tab["embedding"].to_list())
    assert emb.shape == (len(inputs), encoders.get_config(f"{modality}-tiny").dim) and np.isfinite(emb).all()
    if measure is None:
        return
    rec = read(inputs[0])
    used = rec_tab["used_channels"][0].to_list()
    assert len(used) == 1
    if modality == "spiro":
        expected = measures.spirometry_indices(rec).fev1_fvc
        assert 0.5 < expected < 1.0
        assert rec_tab[measure][0] == pytest.approx(expected, rel=1e-9)
    else:   # the record's rate: the mean over its usable windows (over the whole record, artefacts
        # included, the pulse rate was 118.5 /min beside 124.5 /min from the ECG recorded with it)
        assert used == ["PLETH"]
        win = pl.read_parquet(tmp_path / "o" / "windows.parquet").filter(
            (pl.col("record") == inputs[0]) & pl.col("measures_ok"))
        assert rec_tab[measure][0] == pytest.approx(win["hr_bpm"].mean(), rel=1e-9)
        from_ecg = measures.heart_rate(rec.select(["II"]))        # the same heart, from lead II
        assert abs(rec_tab[measure][0] - from_ecg) < 3.0, (rec_tab[measure][0], from_ecg)


# ---------------------------------------------------------------------------------- ONNX file as --model
def test_exported_onnx_file_scores_like_the_torch_model(tmp_path):
    """--model X.onnx: pipeline and geometry come from the graph's metadata, ONNX Runtime runs it;
    the embeddings match the torch module on the same windows (export parity tolerance 1e-4)."""
    import torch

    import encoders
    from biosig.pipeline import default_pipeline
    from biosig.readers import read
    from biosig.windows import window_array
    from encoders.embed import Encoder
    from encoders.export import export_onnx
    from encoders.scoring import ScoreConfig, ScoreError, run_score

    torch.manual_seed(0)
    small = encoders.create_model("ecg-tiny", dim=32, depth=1, heads=2, decoder_dim=32, decoder_heads=2)
    enc = Encoder(small, pipeline=default_pipeline("ecg"))
    onnx_path = tmp_path / "ecg-small-test.onnx"
    export_onnx(enc, onnx_path)
    heas = tuple(map(str, _cinc(2)))
    summary = run_score(ScoreConfig(inputs=heas, model=str(onnx_path), out_dir=str(tmp_path / "o"),
                                    backend="onnxruntime"))
    assert summary.exit_code == 0
    model = summary.manifest["model"]
    assert model["backend"] == "onnxruntime" and model["model_id"] == enc.model_id
    assert model["pipeline_hash"] == enc.pipeline.hash
    windows = pl.read_parquet(tmp_path / "o" / "windows.parquet")
    for hea in heas:
        rec = enc.prepare(read(hea))
        w = window_array(rec, 10.0, 5.0)
        idx = torch.as_tensor(enc.channel_index(rec.channels))
        with torch.no_grad():
            ref = small.embed_forward(torch.from_numpy(np.nan_to_num(w.x)), idx).numpy()
        got = np.stack(windows.filter(pl.col("record") == hea).sort("window")["embedding"].to_list())
        np.testing.assert_allclose(got, ref, atol=1e-4)
    with pytest.raises(ScoreError, match="--backend torch needs a model name or checkpoint"):
        run_score(ScoreConfig(inputs=heas, model=str(onnx_path), out_dir=str(tmp_path / "t"), backend="torch"))
    with pytest.raises(ScoreError, match="biosig compile"):
        run_score(ScoreConfig(inputs=heas, model=str(onnx_path), out_dir=str(tmp_path / "r"), backend="tensorrt"))


def test_resumed_auto_job_keeps_the_backend_of_its_first_run(tmp_path, model_dir):
    from encoders.scoring import ScoreConfig, run_score
    heas = tuple(map(str, _cinc(2)))
    first = run_score(ScoreConfig(inputs=heas[:1], model=model_dir, out_dir=str(tmp_path), backend="torch"))
    again = run_score(ScoreConfig(inputs=heas, model=model_dir, out_dir=str(tmp_path), backend="auto"))
    assert first.manifest["model"]["backend"] == again.manifest["model"]["backend"] == "torch"
    assert again.skipped_done == 1 and again.scored == 1 and again.tables["records"] == 2
    assert json.loads((tmp_path / "parts" / "job.json").read_text())["backend"] == "torch"


# ---------------------------------------------------------------------------------- windows (issue 14)
def test_score_cuts_the_windows_embed_cuts_and_honours_window_s(tmp_path):
    """audio-tiny was trained on 2 s windows (the audio default is 8 s every 4 s): score and embed
    both cut 2 s windows every 1 s (score cut them every 4 s and never looked at half the sound);
    a clip shorter than one window is one window of its own length (score zero-padded it) and a
    stereo one is mixed down (score took the left channel): the same windows, the same
    embeddings. --window-s overrides the length and is part of the job."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(16000 * 10) / 16000
    x = (0.1 * rng.standard_normal(t.size) + 0.3 * np.sin(2 * np.pi * 440 * t) * (t % 2 < 0.5)).astype(np.float32)
    folder = tmp_path / "sounds"
    folder.mkdir()
    sf.write(folder / "s.wav", x, 16000)
    sf.write(folder / "short_stereo.wav", np.stack([x[:12000], 0.5 * x[4000:16000]], axis=1), 8000)   # 1.5 s
    res = _cli("score", folder, "--model", "audio-tiny", "--backend", "torch", "--out", tmp_path / "o")
    assert res.returncode == 0, res.stderr
    win = pl.read_parquet(tmp_path / "o" / "windows.parquet").sort("record", "t0_s")
    res = _cli("embed", folder, "--model", "audio-tiny", "--out", tmp_path / "e.parquet")
    assert res.returncode == 0, res.stderr
    emb = pl.read_parquet(tmp_path / "e.parquet").sort("source", "t0_s")
    assert win["t0_s"].to_list() == emb["t0_s"].to_list() == [float(k) for k in range(9)] + [0.0]
    assert win["t1_s"].to_list() == emb["t1_s"].to_list()
    assert win["t1_s"][-1] == pytest.approx(1.5) and win["channels"][-1].to_list() == ["left", "right"]
    np.testing.assert_allclose(np.stack(win["embedding"].to_list()), np.stack(emb["embedding"].to_list()),
                               atol=1e-5)

    res = _cli("score", folder, "--model", "audio-tiny", "--backend", "torch", "--window-s", "4",
               "--out", tmp_path / "o4")
    assert res.returncode == 0, res.stderr
    w4 = pl.read_parquet(tmp_path / "o4" / "windows.parquet").filter(pl.col("record").str.ends_with("s.wav")
                                                                     & ~pl.col("record").str.contains("short")).sort("t0_s")
    assert w4["t0_s"].to_list() == [0.0, 2.0, 4.0, 6.0] and w4["t1_s"].to_list() == [4.0, 6.0, 8.0, 10.0]
    res = _cli("score", folder, "--model", "audio-tiny", "--backend", "torch", "--window-s", "3",
               "--out", tmp_path / "o4")
    assert res.returncode == 2 and "different job" in res.stderr and "window_s: 4.0 there, 3.0 now" in res.stderr


def test_score_cuts_the_window_the_model_was_trained_on(tmp_path, monkeypatch):
    """A checkpoint trained on 5 s windows (``pretrain --window-s 5`` records it in meta.json;
    its config keeps the modality's 10 s) is scored on 5 s windows, as embed cuts them: in torch,
    through the cached ONNX export of the checkpoint, and as an exported graph. Score used the
    config's 10 s, so it scored other windows than embed and serve."""
    import torch

    import encoders
    from biosig.pipeline import default_pipeline
    from biosig.synthetic import simulate
    from encoders.checkpoint import save_checkpoint
    from encoders.export import export_onnx
    monkeypatch.setenv("BIOSIG_CACHE_DIR", str(tmp_path / "cache"))
    torch.manual_seed(0)
    ckpt = tmp_path / "ecg5"
    save_checkpoint(ckpt, encoders.create_model("ecg-tiny"), pipeline=default_pipeline("ecg"),
                    meta={"train_config": {"window_s": 5.0}})
    assert encoders.load(str(ckpt)).window_s == 5.0 and encoders.load(str(ckpt)).config.window_s == 10.0
    export_onnx(encoders.load(str(ckpt)), tmp_path / "ecg5.onnx")
    folder = tmp_path / "rec"
    folder.mkdir()
    rec = simulate("ecg", 22, seed=3, fs_hz=250.0)
    t = np.arange(rec.n_samples) / rec.fs_hz
    (folder / "a.csv").write_text("t_s,ecg\n" + "".join(f"{a:.4f},{b:.5f}\n" for a, b in zip(t, rec.samples[0])))
    res = _cli("embed", folder, "--model", ckpt, "--out", tmp_path / "e.parquet")
    assert res.returncode == 0, res.stderr
    emb = pl.read_parquet(tmp_path / "e.parquet").sort("t0_s")
    assert set((emb["t1_s"] - emb["t0_s"]).to_list()) == {5.0}
    runs = [("torch", ckpt, "torch"), ("onnxruntime", ckpt, "ort"), ("onnxruntime", ckpt, "ort-cached"),
            ("onnxruntime", tmp_path / "ecg5.onnx", "exported")]
    for backend, model, name in runs:
        res = _cli("score", folder, "--model", model, "--backend", backend, "--out", tmp_path / name)
        assert res.returncode == 0, res.stderr
        win = pl.read_parquet(tmp_path / name / "windows.parquet").sort("t0_s")
        assert win["t0_s"].to_list() == emb["t0_s"].to_list() and win["t1_s"].to_list() == emb["t1_s"].to_list(), name
        assert json.loads((tmp_path / name / "run.json").read_text())["model"]["window_s"] == 5.0
        np.testing.assert_allclose(np.stack(win["embedding"].to_list()), np.stack(emb["embedding"].to_list()),
                                   atol=1e-4, err_msg=name)


def test_resume_rescores_changed_records_and_tables_hold_only_the_inputs(tmp_path, model_dir, caplog):
    """A record that changed since it was scored (here cut from 30 s to 15 s) is scored again on the
    rerun, with a warning (it kept its 30 s row before); a record deleted from the folder is left
    out of the tables (its rows stayed in them before); legacy parts without a stamp stay done."""
    from biosig.synthetic import simulate_ecg
    from biosig.writers import write
    from encoders.scoring.outputs import record_key
    folder = tmp_path / "archive"
    folder.mkdir()
    for name, seed in (("a", 0), ("b", 1), ("c", 2)):
        write(simulate_ecg(30, fs_hz=250, seed=seed), folder / f"{name}.csv")
    out = tmp_path / "out"
    args = ("score", folder, "--model", model_dir, "--out", out, "--backend", "torch")
    assert _cli(*args).returncode == 0
    rec = pl.read_parquet(out / "records.parquet").sort("record")
    assert rec["duration_s"].round(3).to_list() == [30.0] * 3
    write(simulate_ecg(15, fs_hz=250, seed=0), folder / "a.csv")             # a changed
    (folder / "c.csv").unlink()                                                # c deleted
    with caplog.at_level("WARNING"):
        res = _cli(*args)
    assert res.returncode == 0, res.stderr
    assert "1 record(s) changed since they were scored" in caplog.text and "a.csv" in caplog.text
    assert "1 record(s) scored into" in caplog.text and "not among these inputs" in caplog.text
    rec = pl.read_parquet(out / "records.parquet").sort("record")
    assert [pathlib.Path(r).name for r in rec["record"]] == ["a.csv", "b.csv"]
    assert rec["duration_s"].round(3).to_list() == [15.0, 30.0]
    win = pl.read_parquet(out / "windows.parquet")
    assert sorted({pathlib.Path(r).name for r in win["record"]}) == ["a.csv", "b.csv"]
    assert win.filter(pl.col("record").str.ends_with("a.csv"))["t1_s"].max() <= 15.0
    run = json.loads((out / "run.json").read_text())["runs"][-1]
    assert (run["rescored_changed"], run["left_out_not_in_inputs"], run["scored"], run["skipped_done"]) == (1, 1, 1, 1)
    # parts from before stamps existed: no .source.json -> done, not rescored
    (out / "parts" / f"{record_key(folder / 'b.csv')}.source.json").unlink()
    write(simulate_ecg(20, fs_hz=250, seed=1), folder / "b.csv")
    res = _cli(*args)
    run = json.loads((out / "run.json").read_text())["runs"][-1]
    assert (run["rescored_changed"], run["scored"], run["skipped_done"]) == (0, 0, 2)


def test_source_stamps_cover_a_wfdb_records_files_and_segments(tmp_path):
    """A WFDB header's stamp holds its signal and annotation files and a multi-segment record's
    segments, so a changed .dat (not only a changed .hea) counts as a changed record."""
    from encoders.scoring.outputs import record_key, source_stamps
    src = shared_path("wfdb", "multi-segment", "041s", "041s.hea").parent
    folder = tmp_path / "wfdb"
    shutil.copytree(src, folder)
    (folder / "041sx.hea").write_text("041sx 1 250 10\n041sx.dat 16 200 16 0 0 0 0 ECG\n")   # not a segment
    stamp = source_stamps([str(folder / "041s.hea")])[record_key(folder / "041s.hea")]
    assert sorted(stamp) == sorted(p.name for p in src.iterdir())
    one = _copy_records([shared_path("wfdb", "100.hea")], tmp_path / "one")
    stamp = source_stamps([str(one / "100.hea")])[record_key(one / "100.hea")]
    assert sorted(stamp) == ["100.atr", "100.dat", "100.hea"]
    os.utime(one / "100.dat", ns=(0, 0))
    assert source_stamps([str(one / "100.hea")])[record_key(one / "100.hea")] != stamp


def test_a_run_where_every_record_fails_writes_tables_with_their_columns(tmp_path, model_dir):
    """Outputs of batches concatenate: with no scored record, windows.parquet and records.parquet
    have the columns a table with rows has (records had only record and key, windows no measures)."""
    from encoders.scoring.outputs import RECORD_SCHEMA, SCORED_WINDOW_SCHEMA
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "notes.edf").write_text("not a signal, just notes\n" * 20)
    res = _cli("score", folder, "--model", model_dir, "--out", tmp_path / "out", "--backend", "torch")
    assert res.returncode == 1, res.stderr
    assert pl.read_parquet(tmp_path / "out" / "windows.parquet").schema == pl.Schema(SCORED_WINDOW_SCHEMA)
    records = pl.read_parquet(tmp_path / "out" / "records.parquet")
    # the model's measures too: a script selecting heart_rate_bpm works on this run as on one that scored
    assert dict(records.schema) == {**RECORD_SCHEMA, "heart_rate_bpm": pl.Float64, "edr_resp_rate_bpm": pl.Float64,
                                    "af_prob": pl.Float64}
    assert pl.read_parquet(tmp_path / "out" / "errors.parquet").height == 1
    from biosig.synthetic import simulate
    from biosig.writers import write
    write(simulate("ecg", 20, seed=0), tmp_path / "ok.csv")
    res = _cli("score", tmp_path / "ok.csv", "--model", model_dir, "--out", tmp_path / "out_ok", "--backend", "torch")
    assert res.returncode == 0, res.stderr
    assert pl.read_parquet(tmp_path / "out_ok" / "records.parquet").columns == records.columns


def test_a_clip_shorter_than_the_models_input_is_one_clear_error(tmp_path):
    """A 5 ms WAV failed inside the backend ('[ONNXRuntimeError] ... Reshape' or 'cannot reshape
    tensor of 0 elements'); it is an error row that says what embed says."""
    import soundfile as sf
    folder = tmp_path / "wav"
    folder.mkdir()
    sf.write(folder / "tiny.wav", (0.1 * np.random.default_rng(0).standard_normal(40)).astype(np.float32), 8000)
    res = _cli("score", folder, "--model", "audio-tiny", "--out", tmp_path / "o")
    assert res.returncode == 1 and "ONNXRuntimeError" not in res.stderr
    err = pl.read_parquet(tmp_path / "o" / "errors.parquet")
    assert err["stage"][0] == "windows"
    assert "windows of 80 samples are shorter than the smallest input of this model (2048 samples" in err["message"][0]


def test_score_takes_a_clean_lead_over_the_models_preferred_noisy_one(tmp_path, model_dir):
    """MIMIC 041s has leads III, I and V; the model's vocabulary prefers I, whose every window is
    below the quality gate (the record then had no heart rate at all). score takes a lead within
    0.1 of the best share of usable windows, in vocabulary order: III, and the record's heart rate
    comes from it (about 96 /min). Where every lead is as usable (PTB s0010_re, 15 leads) the
    vocabulary still decides."""
    from encoders.scoring import ScoreConfig, run_score
    src = shared_path("wfdb", "multi-segment", "041s", "041s.hea")
    inputs = (str(src), str(shared_path("wfdb", "s0010_re.hea")))
    summary = run_score(ScoreConfig(inputs=inputs, model=str(model_dir), out_dir=str(tmp_path / "o"),
                                    backend="torch"))
    assert summary.exit_code == 0, summary
    rec_tab = pl.read_parquet(tmp_path / "o" / "records.parquet")
    by_name = {n: r for n, r in zip(rec_tab["name"], rec_tab.iter_rows(named=True))}
    assert by_name["041s.hea"]["used_channels"] == ["III"], by_name["041s.hea"]["used_channels"]
    assert 90 < by_name["041s.hea"]["heart_rate_bpm"] < 100, by_name["041s.hea"]["heart_rate_bpm"]
    assert by_name["s0010_re.hea"]["used_channels"] == ["i"]


def test_embed_feeds_the_lead_score_feeds(tmp_path, model_dir):
    """embed fed all three leads of 041s at once (channels "III,I,V"), an input a one-lead ECG
    model never saw in training and not what score or serve feed; now the lead score takes (III),
    with the same embeddings, and a record whose leads are all usable keeps the vocabulary's lead."""
    src = shared_path("wfdb", "multi-segment", "041s", "041s.hea")
    res = _cli("score", src, "--model", model_dir, "--backend", "torch", "--out", tmp_path / "o")
    assert res.returncode == 0, res.stderr
    win = pl.read_parquet(tmp_path / "o" / "windows.parquet").sort("t0_s")
    res = _cli("embed", src, "--model", model_dir, "--out", tmp_path / "e.parquet")
    assert res.returncode == 0, res.stderr
    emb = pl.read_parquet(tmp_path / "e.parquet").sort("t0_s")
    assert set(emb["channels"].to_list()) == {"III"}
    assert emb["t0_s"].to_list() == win["t0_s"].to_list()
    np.testing.assert_allclose(np.stack(emb["embedding"].to_list()), np.stack(win["embedding"].to_list()), atol=1e-5)
    res = _cli("embed", shared_path("wfdb", "100.hea"), "--model", model_dir, "--out", tmp_path / "m.parquet")
    assert res.returncode == 0, res.stderr
    assert set(pl.read_parquet(tmp_path / "m.parquet")["channels"].to_list()) == {"MLII"}
