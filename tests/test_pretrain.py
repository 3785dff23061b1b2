"""Pretraining: seeded determinism, exact resume after SIGKILL, 2-process torchrun == 1 process."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import encoders
from biosig.cli import main
from encoders.pretrain import lr_factor, step_indices

from conftest import ROOT, shared_path
from pretrain_helpers import load_weights, pretrain_env, straight_and_resumed

TINY = ["--set", "dim=32", "--set", "depth=1", "--set", "heads=2", "--set", "decoder_dim=32",
        "--set", "decoder_heads=2", "--set", "decoder_depth=1"]
PPG = ["--modality", "ppg", "--synthetic", "--synthetic-records", "3", "--synthetic-seconds", "30",
       "--batch-size", "8", "--no-progress", *TINY]


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread, like the subprocesses (OMP_NUM_THREADS=1): same float reductions,
    and no oversubscription of the shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _run(tmp_path, *argv):
    return subprocess.run([sys.executable, "-m", "biosig.cli", *argv], env=pretrain_env(), capture_output=True,
                          text=True, timeout=300)


def _losses(d):
    return [json.loads(line)["loss"] for line in (d / "metrics.jsonl").read_text().splitlines()]


def _same_weights(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_step_indices_cover_each_epoch_once():
    idx = np.concatenate([step_indices(3, s, 10, 4) for s in range(5)])  # 20 = two epochs of 10
    assert sorted(idx[:10]) == list(range(10)) and sorted(idx[10:]) == list(range(10))
    assert np.array_equal(step_indices(3, 2, 10, 4), step_indices(3, 2, 10, 4))
    assert not np.array_equal(idx[:10], idx[10:])
    assert lr_factor(0, 10, 100) == pytest.approx(0.1) and lr_factor(99, 10, 100) == pytest.approx(0.1, abs=1e-3)


def test_seeded_runs_are_identical_and_seeds_differ(tmp_path, capsys):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert main(["pretrain", *PPG, "--steps", "3", "--seed", seed, "--out", str(tmp_path / name)]) == 0
    a, b, c = (load_weights(tmp_path / n) for n in "abc")
    assert _same_weights(a, b)
    assert not _same_weights(a, c)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    enc = encoders.load(tmp_path / "a")
    from biosig.pipeline import default_pipeline
    assert enc.pipeline.hash == default_pipeline("ppg").hash
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["step"] == 3 and meta["model_id"] == enc.model_id


@pytest.mark.slow
def test_resume_after_sigkill_is_exact(tmp_path):
    def killed_between_checkpoints(killed):
        step = torch.load(killed / "train_state.pt", weights_only=False)["step"]
        assert 0 < step < 12

    straight, killed = straight_and_resumed([*PPG, "--steps", "12", "--ckpt-every", "2"], tmp_path,
                                            on_killed=killed_between_checkpoints)
    assert _same_weights(load_weights(straight), load_weights(killed))
    assert _losses(straight) == _losses(killed)
    # elapsed_s counts the training time from step 0 across the resume (it used to start again at 0)
    lines = [json.loads(ln) for ln in (killed / "metrics.jsonl").read_text().splitlines()]
    elapsed = [ln["elapsed_s"] for ln in lines]
    assert [ln["step"] for ln in lines] == list(range(1, 13)) and elapsed == sorted(elapsed)


@pytest.mark.slow
def test_torchrun_two_processes_match_one(tmp_path):
    args = [*PPG, "--steps", "5", "--set", 'mask_mode="span"', "--set", "spectral_loss_weight=0.2"]
    res = _run(tmp_path, "pretrain", *args, "--out", str(tmp_path / "one"))
    assert res.returncode == 0, res.stderr[-2000:]
    # --standalone: torchrun's own rendezvous store on a port it binds itself (a port picked here and
    # closed before torchrun bound it was taken by another process now and then: EADDRINUSE)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "biosig.cli", "pretrain", *args, "--out", str(tmp_path / "two")]
    res = subprocess.run(cmd, env=pretrain_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(one) == len(two) == 5
    np.testing.assert_allclose(two, one, rtol=1e-5)
    a, b = load_weights(tmp_path / "one"), load_weights(tmp_path / "two")
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=1e-4, rtol=1e-3)  # Adam amplifies float noise on ~0 grads


_LEAVE = """
import gc, sys, tempfile, weakref
import torch, torch.distributed as dist
from encoders.pretrain import leave_process_group
dist.init_process_group("gloo", init_method="file://" + tempfile.mktemp(), rank=0, world_size=1)
def train():   # as _pretrain: a DDP model that dies with the function, but for its reference cycle
    ddp = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 3))
    ddp(torch.randn(2, 3)).sum().backward()
    return weakref.ref(ddp)
gc.disable()   # the collector's timing is not the test's
ddp = train()
assert ddp() is not None, "no cycle left to collect: the test proves nothing"
leave_process_group()
assert ddp() is None, "DDP (and its reducer's hold on the group) outlived destroy_process_group"
assert not dist.is_initialized()
print("left")
"""


def test_leaving_the_process_group_takes_the_ddp_model_with_it():
    """DDP sits in a reference cycle; left for the collector, its reducer held the gloo group past
    destroy_process_group and tore it down later (a torchrun rank aborted at exit in CI:
    "terminate called without an active exception"). leave_process_group collects it first."""
    res = subprocess.run([sys.executable, "-c", _LEAVE], env=pretrain_env(), capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "left", res.stderr[-2000:]


def test_pretrain_on_real_files(tmp_path):
    rec = shared_path("cinc2017", "A00020.hea")
    out = tmp_path / "ecg"
    assert main(["pretrain", "--modality", "ecg", "--data", str(rec.with_suffix("")),
                 str(rec.parent / "A00028"), "--steps", "2", "--batch-size", "4", "--no-progress",
                 *TINY, "--out", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["n_sources"] == 2 and meta["n_windows"] >= 2



def test_pretrain_skips_a_damaged_file_and_says_so(tmp_path, caplog):
    """One damaged file in a corpus is skipped with a warning naming it and why (the others are
    trained on); a corpus of which nothing can be read is a one-line error."""
    from biosig.synthetic import simulate
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        rec = simulate("ppg", 30, seed=i, fs_hz=100.0)
        t = np.arange(rec.n_samples) / rec.fs_hz
        (data / f"p{i}.csv").write_text("time_ms,ppg\n" + "".join(f"{a * 1000:.1f},{b:.5f}\n"
                                                                  for a, b in zip(t, rec.samples[0])))
    (data / "damaged.csv").write_text("time_ms,ppg\n0,0.1\n10,0.2\n20,#VALUE!\n")
    out = tmp_path / "o"
    with caplog.at_level("WARNING"):
        assert main(["pretrain", "--modality", "ppg", "--data", str(data), "--steps", "1", "--batch-size", "4",
                     "--no-progress", *TINY, "--out", str(out)]) == 0
    assert "damaged.csv: column 'ppg' is not numeric: line 4 holds '#VALUE!'" in caplog.text
    assert "skipped 1 of 4 recording(s)" in caplog.text
    assert json.loads((out / "meta.json").read_text())["n_sources"] == 3
    only = tmp_path / "only"
    only.mkdir()
    (only / "damaged.csv").write_text((data / "damaged.csv").read_text())
    with pytest.raises(encoders.EncoderError, match="none of the 1 recording"):
        from encoders.data import file_records
        list(file_records([only], "ppg"))

@pytest.mark.parametrize("argv,needle", [
    (["pretrain", "--modality", "ppg", "--steps", "1", "--out", "X"], "no training data"),
    (["pretrain", *PPG, "--batch-size", "3", "--steps", "1", "--out", "X", "--set", "depth=-1"], "depth"),
    (["pretrain", *PPG, "--steps", "1", "--out", "X", "--set", "widht=3"], "unknown encoder config keys"),
    (["pretrain", *PPG, "--steps", "1", "--out", "X", "--set", "dim=0"], "dim must be an integer"),
    (["pretrain", *PPG, "--steps", "1", "--out", "X", "--set", 'dim="x"'], "dim must be an integer"),
    (["pretrain", *PPG, "--steps", "1", "--out", "X", "--set", "depth=1.5"], "depth must be an integer"),
    (["pretrain", *PPG, "--steps", "1", "--out", "X", "--set", "mask_ratio=null"], "mask_ratio must be a finite"),
    (["pretrain", "--modality", "ecg", "--data", "/nonexistent/rec", "--steps", "1", "--out", "X"], "nonexistent"),
    (["pretrain", "--modality", "ppg", "--data", "ONLY_DAMAGED", "--steps", "1", "--out", "X"], "could be read"),
])
def test_pretrain_user_errors_are_one_line(tmp_path, capsys, argv, needle):
    (tmp_path / "damaged.csv").write_text("t_s,ppg\n0,1\n0.01,x\n")
    argv = [{"X": str(tmp_path / "o"), "ONLY_DAMAGED": str(tmp_path / "damaged.csv")}.get(a, a) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_pretrain_bad_modality_is_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["pretrain", "--modality", "eeg", "--synthetic", "--out", "x"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_pretrain_audio_on_short_coughs(tmp_path):
    """Coughs last 1-4 s: the default 2 s audio training crops keep them (padded with silence)."""
    raw = shared_path("cough", "raw")
    files = sorted(str(p) for p in raw.iterdir())[:3]
    out = tmp_path / "audio"
    assert main(["pretrain", "--modality", "audio", "--data", *files, "--steps", "2", "--batch-size", "4",
                 "--no-progress", *TINY, "--out", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["n_sources"] >= 2 and meta["n_windows"] >= 2
    enc = encoders.load(out)
    assert enc.embed(read_audio(files[0]))["embedding"].list.len()[0] == 32


def read_audio(path):
    from biosig.readers import read
    return read(path)


@pytest.mark.gpu
def test_pretrain_on_cuda_with_bf16_autocast(tmp_path):
    out = tmp_path / "gpu"
    assert main(["pretrain", *PPG, "--steps", "3", "--out", str(out)]) == 0
    losses = _losses(out)
    assert len(losses) == 3 and np.isfinite(losses).all()
    assert encoders.load(out).embed_windows(np.zeros((1, 1, 1250), np.float32)).shape == (1, 32)


def test_init_from_copies_weights_and_checks_architecture(tmp_path, capsys):
    base = tmp_path / "base"
    assert main(["pretrain", *PPG, "--steps", "2", "--out", str(base)]) == 0
    init = tmp_path / "init"
    assert main(["pretrain", *PPG, "--steps", "1", "--lr", "1e-9", "--warmup-steps", "1", "--set", 'mask_mode="span"',
                 "--init-from", str(base), "--out", str(init)]) == 0
    a, b = load_weights(base), load_weights(init)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # lr 1e-9: one step barely moves them
    assert main(["pretrain", *PPG, "--steps", "1", "--set", "depth=2", "--init-from", str(base),
                 "--out", str(tmp_path / "bad")]) == 2
    assert "architecture differs in depth" in capsys.readouterr().err


def test_bench_pretrain_and_gpu_check_path_needs_no_polars():
    """gpu_check runs in stock CUDA PyTorch images: its pretraining path must work without polars.
    Without a GPU gpu_check itself says so and exits 0."""
    code = (
        "import sys; sys.modules['polars'] = None\n"           # any import of polars now fails
        "sys.path.insert(0, 'benchmarks')\n"
        "import bench_pretrain as bp, gpu_check\n"
        "s = bp.step_seconds('tiny', 4, 'cpu', 1, 1, {'overrides': {'depth': 1}, 'synthetic_records': 1, "
        "'synthetic_seconds': 20.0})\n"
        "f = bp.step_flops('tiny', 2, 'cpu')\n"
        "print('ok', s > 0, f > 0)\n")
    env = pretrain_env()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["ok", "True", "True"]
    if not torch.cuda.is_available():
        out = subprocess.run([sys.executable, "benchmarks/gpu_check.py"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0 and "no CUDA device visible" in out.stdout


@pytest.mark.gpu
def test_pretrain_on_cuda_compiled_resumes_and_reports_every_n(tmp_path):
    """CUDA: --compile trains, metrics come every --log-every steps (means), resume continues."""
    out = tmp_path / "gpu-compiled"
    assert main(["pretrain", *PPG, "--steps", "4", "--log-every", "2", "--ckpt-every", "2", "--compile",
                 "--out", str(out)]) == 0
    lines = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [2, 4] and all(np.isfinite(m["loss"]) for m in lines)
    assert main(["pretrain", *PPG, "--steps", "6", "--log-every", "2", "--ckpt-every", "2", "--resume",
                 "--out", str(out)]) == 0
    assert [json.loads(ln)["step"] for ln in (out / "metrics.jsonl").read_text().splitlines()] == [2, 4, 6]


def test_log_every_reports_means_over_the_steps(tmp_path):
    """Metrics are reduced on the device and written every N steps: the mean of the per-step values."""
    each, every3 = tmp_path / "each", tmp_path / "every3"
    assert main(["pretrain", *PPG, "--steps", "4", "--out", str(each)]) == 0
    assert main(["pretrain", *PPG, "--steps", "4", "--log-every", "3", "--out", str(every3)]) == 0
    a = [json.loads(ln) for ln in (each / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(ln) for ln in (every3 / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in a] == [1, 2, 3, 4] and [m["step"] for m in b] == [3, 4]
    for key in ("loss", "mse", "grad_norm"):
        assert b[0][key] == pytest.approx(np.mean([m[key] for m in a[:3]]), rel=1e-5)
        assert b[1][key] == pytest.approx(a[3][key], rel=1e-6)


def test_pretrain_with_a_pipeline_file(tmp_path, capsys):
    """--pipeline FILE: the windows are cut from that pipeline's output, the checkpoint carries it
    (encoders.load applies it), a resume with another pipeline is refused, and a file that is not
    a pipeline, or one that does not end at the model's rate, is one line (exit 2)."""
    from biosig.pipeline import Pipeline, default_pipeline
    pipe = Pipeline.of(("resample", {"fs_hz": 125}), ("bandpass", {"low_hz": 0.7, "high_hz": 6.0}), ("zscore", {}))
    assert pipe.hash != default_pipeline("ppg").hash
    f = tmp_path / "pipe.json"
    f.write_text(pipe.to_json())
    out = tmp_path / "run"
    assert main(["pretrain", *PPG, "--steps", "2", "--ckpt-every", "1", "--pipeline", str(f), "--out", str(out)]) == 0
    saved = json.loads((out / "pipeline.json").read_text())
    assert saved["hash"] == pipe.hash and encoders.load(str(out)).pipeline.hash == pipe.hash
    other = tmp_path / "other.json"
    other.write_text(default_pipeline("ppg").to_json())
    capsys.readouterr()
    assert main(["pretrain", *PPG, "--steps", "3", "--pipeline", str(other), "--resume", "--out", str(out)]) == 2
    assert "cannot resume" in capsys.readouterr().err
    assert main(["pretrain", *PPG, "--steps", "3", "--pipeline", str(out / "pipeline.json"), "--resume",
                 "--out", str(out)]) == 0           # a checkpoint's pipeline.json is a pipeline file too
    ecg = tmp_path / "ecg.json"
    ecg.write_text(default_pipeline("ecg").to_json())
    for bad, needle in ((ecg, "gives 250 Hz"), (tmp_path / "missing.json", "not a pipeline JSON file")):
        assert main(["pretrain", *PPG, "--steps", "1", "--pipeline", str(bad), "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1


def test_pretrain_at_another_input_rate_resamples_to_it(tmp_path):
    """``--set input_fs_hz=500`` trains on windows resampled to 500 Hz (the default pipeline's
    resample step follows the model); it used to skip every record as one 'without ecg channels'.
    At the default rate the pipeline, and so its hash, stays the modality's default."""
    from biosig.pipeline import Pipeline, default_pipeline
    from biosig.synthetic import simulate
    from encoders.data import build_windows
    from encoders.errors import PipelineRateError
    from encoders.pretrain_pipeline import default_training_pipeline
    out = tmp_path / "ecg500"
    assert main(["pretrain", "--modality", "ecg", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds", "20",
                 "--set", "input_fs_hz=500", "--steps", "1", "--batch-size", "4", "--no-progress", *TINY,
                 "--out", str(out)]) == 0
    enc = encoders.load(str(out))
    assert enc.config.input_fs_hz == 500 and enc.pipeline.output_fs_hz(360.0) == 500.0
    df = enc.embed(simulate("ecg", 12, seed=1, fs_hz=360.0))
    assert len(df) >= 1 and np.isfinite(np.asarray(df["embedding"].to_list())).all()
    config = encoders.get_config("ecg-tiny")
    assert default_training_pipeline(config).hash == default_pipeline("ecg").hash
    # a pipeline that does not end at the model's rate is a configuration error, not a skipped record
    with pytest.raises(PipelineRateError, match="expects 250 Hz"):
        build_windows([("r", simulate("ecg", 20, seed=0, fs_hz=360.0))], config, Pipeline.of(("zscore", {})))


def test_audio_at_another_rate_and_an_audio_pipeline_file(tmp_path, capsys):
    """Audio at 8 kHz needs a log-mel band below 4 kHz (one line says so instead of librosa's
    empty-filter warning); with it, the stored pipeline resamples to 8 kHz and describes the
    model's own log-mel. ``--pipeline`` with an audio pipeline (its log-mel runs inside the model)
    is accepted: the rate check used to count the log-mel frame rate and refused every one."""
    from biosig.pipeline import default_pipeline
    audio = ["pretrain", "--modality", "audio", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds", "6",
             "--window-s", "2", "--steps", "1", "--batch-size", "4", "--no-progress", *TINY]
    assert main([*audio, "--set", "input_fs_hz=8000", "--out", str(tmp_path / "a")]) == 2
    assert "--set fmax_hz=4000" in capsys.readouterr().err
    assert main([*audio, "--set", "input_fs_hz=8000", "--set", "fmax_hz=4000", "--out", str(tmp_path / "b")]) == 0
    steps = {s.name: s.params for s in encoders.load(str(tmp_path / "b")).pipeline.steps}
    assert steps["resample"]["fs_hz"] == 8000 and steps["logmel"]["fmax_hz"] == 4000
    f = tmp_path / "audio.json"
    f.write_text(default_pipeline("audio").to_json())
    assert main([*audio, "--pipeline", str(f), "--out", str(tmp_path / "c")]) == 0
    assert encoders.load(str(tmp_path / "c")).pipeline.hash == default_pipeline("audio").hash


def test_records_too_short_for_a_window_are_named_not_dropped_silently(caplog):
    """A 3 s record gives no 10 s training window (under half of it is valid): it was dropped
    without a word (pretrain's n_sources counted one record of two); now a warning names it, and when
    no record gives a window the error says why."""
    import logging

    from biosig.pipeline import default_pipeline
    from biosig.synthetic import simulate
    from encoders.data import build_windows
    from encoders.errors import EncoderError
    config = encoders.get_config("ecg-tiny")
    caplog.set_level(logging.WARNING, logger="encoders.data")
    ws = build_windows([("short", simulate("ecg", 3, seed=0)), ("long", simulate("ecg", 30, seed=1))], config,
                       default_pipeline("ecg"))
    assert set(ws.sources) == {"long"}
    assert any("1 record(s) gave no training window" in r.getMessage() and "short" in r.getMessage()
               for r in caplog.records)
    with pytest.raises(EncoderError, match="1 record\\(s\\) too short or mostly gaps"):
        build_windows([("short", simulate("ecg", 3, seed=0))], config, default_pipeline("ecg"))


def test_a_warm_up_as_long_as_the_run_is_said(tmp_path, caplog):
    """--steps 3 with the default 10 warm-up steps never reaches --lr: one warning says so; a run
    longer than its warm-up says nothing about it."""
    import logging
    caplog.set_level(logging.WARNING, logger="encoders.pretrain")
    common = ["pretrain", "--modality", "ecg", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds", "20",
              "--batch-size", "4", "--no-progress", *TINY]
    assert main([*common, "--steps", "3", "--out", str(tmp_path / "a")]) == 0
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("--warmup-steps 10 is not below --steps 3" in m for m in said), said
    caplog.clear()
    assert main([*common, "--steps", "3", "--warmup-steps", "1", "--out", str(tmp_path / "b")]) == 0
    assert not any("--warmup-steps" in r.getMessage() for r in caplog.records)


def test_resume_compares_the_data_by_content_not_as_written(tmp_path, monkeypatch, capsys):
    """--data was compared as typed: the same folder by another path was refused, while a recording
    added to it (or a relative path from another folder) resumed on other windows, so the resumed
    run was not the run it continued. Now the windows' fingerprint, saved with the state, decides."""
    from biosig.synthetic import simulate
    from biosig.writers import write
    d = tmp_path / "recs"
    d.mkdir()
    for i in range(2):
        write(simulate("ecg", 30, seed=i, fs_hz=250.0), d / f"r{i}.csv")
    out = tmp_path / "run"
    common = ["pretrain", "--modality", "ecg", "--batch-size", "4", "--no-progress", "--warmup-steps", "1", *TINY,
              "--out", str(out)]
    assert main([*common, "--data", str(d), "--steps", "2"]) == 0
    monkeypatch.chdir(tmp_path)
    assert main([*common, "--data", "./recs/", "--steps", "3", "--resume"]) == 0   # the same folder
    assert json.loads((out / "meta.json").read_text())["step"] == 3
    write(simulate("ecg", 30, seed=7, fs_hz=250.0), d / "r2.csv")                    # a recording added
    capsys.readouterr()
    assert main([*common, "--data", str(d), "--steps", "4", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume on other training data" in err and "10 windows from 2 sources then, 15 windows from 3" in err, err
    assert json.loads((out / "meta.json").read_text())["step"] == 3
