"""`biosig info` and `biosig simulate`, in-process through biosig.cli.main and once via the
installed console script."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from biosig.cli import main
from conftest import ROOT, shared_path


def run_main(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_record_100_table(capsys):
    path = shared_path("wfdb", "100.hea").with_suffix("")
    code, out, err = run_main(capsys, "info", str(path), "--no-quality")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].endswith("100.hea")
    fields = {ln.split()[0]: ln.split(None, 1)[1] for ln in lines[1:] if ln.startswith("  ") and ln.split()}
    assert fields["format"] == "wfdb" and fields["modality"] == "ecg" and fields["fs_hz"] == "360"
    assert fields["samples"] == "650000" and fields["duration"].startswith("1805.56 s")
    assert fields["gaps"] == "0 (0.000 s)"
    assert fields["annotations"] == "2274 (atr; 2273 beats)"
    assert fields["quality"] == "skipped (--no-quality)"
    assert any(ln.split() == ["MLII", "mV", "ecg", "360"] for ln in lines)
    assert any(ln.split() == ["V5", "mV", "ecg", "360"] for ln in lines)


def test_info_json_many_records_and_one_bad_path(capsys, tmp_path):
    wfdb_dir = shared_path("wfdb")
    spiro = shared_path("spirometry", "ukb_field3066_demo_blow.csv")
    missing = tmp_path / "missing.hea"
    code, out, err = run_main(capsys, "info", "--json", "--no-quality", str(wfdb_dir), str(missing), str(spiro))
    assert code == 1   # some paths unreadable, the rest printed (as embed and score); none readable: 2
    err_lines = err.strip().splitlines()
    assert len(err_lines) == 1 and "missing.hea" in err_lines[0] and "no such file" in err_lines[0]
    data = json.loads(out)
    by_name = {pathlib.Path(d["path"]).name: d for d in data}
    assert set(by_name) == {"03700181.hea", "041s.hea", "100.hea", "a103l.hea", "s0010_re.hea",
                            "missing.hea", "ukb_field3066_demo_blow.csv"}
    assert "no such file" in by_name["missing.hea"]["error"]
    mf = by_name["03700181.hea"]
    assert mf["fs_hz"] == 500.0 and mf["n_samples"] == 300000 and mf["duration_s"] == pytest.approx(600)
    assert [c["fs_hz"] for c in mf["channels"]] == [500.0, 125.0, 125.0]
    assert [c["modality"] for c in mf["channels"]] == ["ecg", "other", "resp"]
    assert mf["gaps"]["count"] == 1 and mf["gaps"]["total_s"] == pytest.approx(16 / 500)
    assert mf["annotations"] == {"count": 1195, "source": "sqrs", "beats": 1195}
    assert mf["start_time"] == "1994-08-15T17:27:45"
    ptb = by_name["s0010_re.hea"]
    assert len(ptb["channels"]) == 15 and ptb["channels"][0] == {"name": "i", "unit": "mV", "modality": "ecg",
                                                                  "fs_hz": 1000.0}
    sp = by_name["ukb_field3066_demo_blow.csv"]
    assert sp["modality"] == "spiro" and sp["channels"][0]["unit"] == "mL" and sp["format"] == "spirometry-csv"


def test_info_quality_summary_when_available(capsys):
    from biosig.quality_summary import quality_summary
    path = shared_path("wfdb", "a103l.hea")
    code, out, err = run_main(capsys, "info", "--json", str(path))
    assert code == 0
    info = json.loads(out)[0]
    assert set(info["quality"]) == {"ecg", "ppg"}  # II and V are ECG, PLETH is PPG
    from biosig.readers import read
    expect = quality_summary(read(path).pick("ppg"))
    for key, value in expect.items():
        if isinstance(value, float):
            assert info["quality"]["ppg"][key] == pytest.approx(value, nan_ok=True)


def test_info_marker_csv_irregular(capsys):
    path = shared_path("resp_motion", "201205101519-LAC-1-T-222-6.csv")
    code, out, _ = run_main(capsys, "info", "--json", str(path))
    info = json.loads(out)[0]
    assert code == 0 and info["format"] == "marker-csv" and info["irregular"] is True
    assert info["modality"] == "motion" and info["quality"] is None
    assert info["duration_s"] == pytest.approx(222, abs=0.5) and info["warnings"] == []
    repaired = shared_path("resp_motion", "201205101534-LAC-1-NO-130-6.csv")
    code, out, _ = run_main(capsys, "info", str(repaired))
    assert code == 0 and "5 corrupt timestamp(s) repaired from the frame counter" in out


def test_info_reports_checksum_mismatch(capsys, tmp_path):
    src = shared_path("wfdb", "100.hea").parent
    for ext in ("hea", "dat"):
        shutil.copyfile(src / f"100.{ext}", tmp_path / f"100.{ext}")
    raw = bytearray((tmp_path / "100.dat").read_bytes())
    raw[1000] ^= 0x21
    (tmp_path / "100.dat").write_bytes(bytes(raw))
    code, out, _ = run_main(capsys, "info", "--json", "--no-quality", str(tmp_path / "100"))
    info = json.loads(out)[0]
    assert code == 0 and info["warnings"] and "checksum mismatch in" in info["warnings"][0]


def test_info_unknown_format_exit_2_one_line(capsys, tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"\x01\x02\x03" * 10)
    code, out, err = run_main(capsys, "info", str(bad))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "x.bin" in err and "unknown format" in err and "Traceback" not in err


def test_simulate_writes_a_readable_record(capsys, tmp_path):
    pytest.importorskip("biosig.synthetic", reason="biosig.synthetic (DSP area) not built yet")
    from biosig.readers import read

    out_path = tmp_path / "ecg.csv"
    code, out, err = run_main(capsys, "simulate", "ecg", "--seconds", "4", "--out", str(out_path),
                              "--seed", "3", "--fs-hz", "250")
    assert code == 0 and "wrote" in out and out_path.exists()
    rec = read(out_path)
    assert rec.modality == "ecg" and rec.fs_hz == 250 and rec.n_samples == 1000
    again = tmp_path / "again.csv"
    assert main(["simulate", "ecg", "--seconds", "4", "--out", str(again), "--seed", "3", "--fs-hz", "250"]) == 0
    np.testing.assert_array_equal(read(again).samples, rec.samples)  # seeded: identical
    upper = tmp_path / "upper.csv"   # the modality in capitals, as info --modality ECG takes it
    assert main(["simulate", "ECG", "--seconds", "4", "--out", str(upper), "--seed", "3", "--fs-hz", "250"]) == 0
    np.testing.assert_array_equal(read(upper).samples, rec.samples)


def test_simulate_long_ecg_says_how_far_it_is(tmp_path):
    """ECG longer than one ECGSYN segment is stitched segment by segment (about 0.3 s a minute):
    a day of it is minutes of work, so it logs its progress. Run as a user would, in a process."""
    import os
    import subprocess
    import sys
    env = {**os.environ, "BIOSIG_PROGRESS_S": "0.2"}
    p = subprocess.run([sys.executable, "-m", "biosig.cli", "simulate", "ecg", "--seconds", "300", "--out",
                        str(tmp_path / "long.parquet")], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if "s simulated" in ln]
    assert lines and all(ln.endswith("of 300 s simulated") for ln in lines), p.stderr
    assert "wrote" in p.stdout


def test_simulate_bad_arguments(capsys, tmp_path):
    code, _, err = run_main(capsys, "simulate", "heart", "--seconds", "4", "--out", str(tmp_path / "x.csv"))
    assert code == 2 and "unknown modality 'heart'" in err and "ecg" in err
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "ecg", "--seconds", "0", "--out", str(tmp_path / "x.csv")])
    assert exc.value.code == 2
    capsys.readouterr()
    pytest.importorskip("biosig.synthetic", reason="biosig.synthetic (DSP area) not built yet")
    code, _, err = run_main(capsys, "simulate", "ecg", "--seconds", "1", "--out", str(tmp_path / "x.xyz"))
    assert code == 2 and "unknown output extension" in err and err.count("\n") == 1


def test_simulate_audio_kinds(capsys, tmp_path):
    """--kind picks the audio generator (the same samples as biosig.synthetic.simulate, written to
    WAV); it is refused for other modalities, and the CLI's list is the generator's."""
    from biosig.cli.signal_commands import AUDIO_KINDS
    from biosig.readers import read
    from biosig.synthetic import simulate
    from biosig.synthetic_sounds import AUDIO_KINDS as GENERATOR_KINDS
    assert AUDIO_KINDS == GENERATOR_KINDS
    out = tmp_path / "lung.wav"
    assert main(["simulate", "audio", "--kind", "auscultation", "--seconds", "2", "--seed", "4", "--out", str(out)]) == 0
    want = simulate("audio", 2, seed=4, kind="auscultation").samples
    got = read(out).samples
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-3     # 16-bit WAV
    capsys.readouterr()
    code, _, err = run_main(capsys, "simulate", "ecg", "--kind", "scene", "--seconds", "2", "--out", str(tmp_path / "e.csv"))
    assert code == 2 and "--kind scene is for audio, not ecg" in err and err.count("\n") == 1


def test_console_script_subprocess_info_100():
    path = shared_path("wfdb", "100.hea").with_suffix("")
    exe = ROOT / ".venv" / "bin" / "biosig"
    if exe.exists():
        cmd = [str(exe)]
    elif shutil.which("biosig"):
        cmd = [shutil.which("biosig")]
    else:
        cmd = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main())"]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    res = subprocess.run(cmd + ["info", str(path), "--json"], capture_output=True, text=True, timeout=120,
                         env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)[0]
    assert info["n_samples"] == 650000 and info["fs_hz"] == 360.0
    assert [c["name"] for c in info["channels"]] == ["MLII", "V5"]
    assert info["annotations"]["beats"] == 2273
    if info["quality"] is not None:  # biosig.quality present: a clean Holter lead scores high
        assert info["quality"]["ecg"]["mean_quality"] > 0.8
    else:
        assert "unavailable" in info["quality_note"]
    bad = subprocess.run(cmd + ["info", str(path) + "_nope"], capture_output=True, text=True, timeout=120,
                         env=env, cwd=ROOT)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "100_nope" in bad.stderr


def test_info_empty_folder(capsys, tmp_path):
    (tmp_path / "README.md").write_text("no signals here")
    code, out, err = run_main(capsys, "info", str(tmp_path))
    assert code == 2 and out == "" and "no records found under" in err and err.count("\n") == 1


# ------------------------------------------------------------------ issue 11: modality, embed, score
import os as _os
import subprocess as _sp
import sys as _sys

import numpy as _np
import pytest as _pytest

_ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
_EXC_NAME = __import__("re").compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b")
_OURS = {"ReadError", "SignalError", "PipelineError", "BiosigError", "EncoderError", "ScoreError"}


def _run(*args, env=None):
    e = dict(_os.environ, PYTHONPATH=str(_ROOT), OMP_NUM_THREADS="1", **(env or {}))
    return _sp.run([_sys.executable, "-m", "biosig.cli", *map(str, args)], capture_output=True, text=True,
                   env=e, timeout=300)


def _no_foreign_exception_names(text):
    return not [m.group(0) for m in _EXC_NAME.finditer(text) if m.group(0) not in _OURS]


@_pytest.mark.parametrize("name,fs,expected", [
    ("ch0", 250.0, "other"), ("ch1", 44100.0, "other"), ("pulse", 125.0, "other"), ("FECG", 1000.0, "ecg"),
    ("II", 1.0, "other"), ("II", 250.0, "ecg"), ("mono", 1.0, "other"), ("mono", 16000.0, "audio"),
    ("PLETH", 125.0, "ppg"), ("RESP", 25.0, "resp")])
def test_conservative_channel_typing(name, fs, expected):
    from biosig.modality import channel_modality

    assert channel_modality(name, fs) == expected


def test_low_rate_multichannel_wav_is_not_audio_and_channel_flag_says_what_it_is(tmp_path):
    import soundfile as sf

    wav = tmp_path / "psg.wav"
    sf.write(wav, _np.random.default_rng(0).uniform(-0.5, 0.5, (600, 7)).astype("float32"), 1,
             subtype="FLOAT")
    from biosig.readers import read

    rec = read(wav)
    assert rec.modality == "other" and set(rec.channel_modalities) == {"other"}
    rec = read(wav, channel_modalities={"ch3": "resp"})
    assert rec.channel_modalities[2] == "resp" and rec.modality == "resp"
    out = _run("info", wav, "--json", "--no-quality", "--channel", "ch3=resp")
    assert out.returncode == 0, out.stderr
    info = __import__("json").loads(out.stdout)[0]
    assert info["modality"] == "resp" and info["channels"][2]["modality"] == "resp"
    bad = _run("info", wav, "--channel", "ch3")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "NAME=MODALITY" in bad.stderr


@_pytest.fixture(scope="module")
def random_ecg_model(tmp_path_factory):
    import torch

    import encoders
    from biosig.pipeline import default_pipeline
    from encoders.checkpoint import save_checkpoint

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("model") / "ecg-tiny-random"
    save_checkpoint(d, encoders.create_model("ecg-tiny"), pipeline=default_pipeline("ecg"))
    return d


def _ecg_record(folder, name, fs, seconds=12.0):
    import wfdb

    t = _np.arange(int(seconds * fs)) / fs
    x = _np.sin(2 * _np.pi * 1.2 * t) ** 63  # a spiky 72 bpm train
    d = _np.round(_np.c_[x, 0.5 * x] * 1000).astype(_np.int64)
    wfdb.wrsamp(name, fs=fs, units=["mV", "mV"], sig_name=["II", "V5"], d_signal=d, fmt=["16", "16"],
                adc_gain=[1000.0, 1000.0], baseline=[0, 0], write_dir=str(folder))
    return folder / f"{name}.hea"


def test_embed_reports_bad_inputs_and_keeps_the_good_ones(tmp_path, random_ecg_model):
    good = _ecg_record(tmp_path, "good", 250.0)
    bad = tmp_path / "bad.hea"
    bad.write_text(good.read_text().replace("good 2 250", "bad 2 nan", 1))
    out_file = tmp_path / "emb.parquet"
    out = _run("embed", good, bad, tmp_path / "missing.hea", "--model", random_ecg_model, "--out", out_file,
               "--threads", "1")
    assert out.returncode == 1, out.stderr
    errors = [ln for ln in out.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 2 and "bad.hea" in errors[0] and "missing.hea" in errors[1]
    assert _no_foreign_exception_names(out.stderr) and "Traceback" not in out.stderr
    import polars as pl

    df = pl.read_parquet(out_file)
    assert set(df["source"]) == {str(good)} and len(df) >= 1
    none = _run("embed", bad, "--model", random_ecg_model, "--out", tmp_path / "none.parquet")
    assert none.returncode == 2 and not (tmp_path / "none.parquet").exists()


def test_score_fractional_rate_record_umask_progress_and_threads(tmp_path, random_ecg_model):
    (tmp_path / "in").mkdir()
    _ecg_record(tmp_path / "in", "frac", 249.89)
    _ecg_record(tmp_path / "in", "frac2", 249.89, seconds=10.0)   # two: a job of one record prints no progress
    rec = tmp_path / "in"
    out_dir = tmp_path / "out"
    old = _os.umask(0o022)
    try:
        out = _run("score", rec, "--model", random_ecg_model, "--backend", "torch", "--out", out_dir,
                   "--threads", "1", env={"BIOSIG_PROGRESS_S": "0"})
    finally:
        _os.umask(old)
    assert out.returncode == 0, out.stderr
    import polars as pl

    rows = pl.read_parquet(out_dir / "records.parquet")
    assert len(rows) == 2 and min(rows["n_windows"]) >= 1
    assert "score: 2/2 records (0 failed)" in out.stderr  # a log line although stderr is a pipe
    for name in ("records.parquet", "windows.parquet", "errors.parquet", "run.json"):
        assert (out_dir / name).stat().st_mode & 0o777 == 0o644, name
    assert _no_foreign_exception_names(out.stderr)


def test_info_reports_flat_lines_of_ecg_channels(capsys, tmp_path):
    """3 s of zeros in an ECG (a lead off) are named in the table and the JSON, and lower the
    quality's minimum; a clean recording says none."""
    from biosig.synthetic import simulate
    from biosig.writers import write
    rec = simulate("ecg", 40.0, fs_hz=250.0, seed=4)
    x = rec.samples.copy()
    x[:, 2500:3250] = 0.0
    write(rec.replace(samples=x), tmp_path / "lead_off.parquet")
    write(rec, tmp_path / "clean.parquet")
    code, out, err = run_main(capsys, "info", str(tmp_path / "lead_off.parquet"), str(tmp_path / "clean.parquet"))
    assert code == 0
    blocks = out.split("\n\n")
    assert "  flatline     II 3.0 s in 1 run (counted as gaps by quality and measures)" in blocks[0]
    assert "  flatline     none" in blocks[1]
    code, out, _ = run_main(capsys, "info", "--json", str(tmp_path / "lead_off.parquet"))
    info = json.loads(out)[0]
    assert info["flat_lines"] == {"II": {"count": 1, "total_s": 3.0}}
    assert info["quality"]["ecg"]["min_quality"] < 0.75


def test_info_says_when_quality_was_assessed_on_a_spread_of_the_windows():
    from biosig.cli.signal_commands import _fmt_quality
    q = {"mean_quality": 0.83, "min_quality": 0.52, "fraction_usable": 0.875, "n_assessed": 24, "n_windows": 33}
    assert _fmt_quality({"quality": {"ecg": q}}) == \
        "ecg mean 0.83 (min 0.52, usable 88% of 24 windows assessed, spread over all 33)"
    assert _fmt_quality({"quality": {"ecg": {**q, "n_assessed": 3, "n_windows": 3}}}) == \
        "ecg mean 0.83 (min 0.52, usable 88% of 3 windows)"
