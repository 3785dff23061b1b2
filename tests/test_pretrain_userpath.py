"""``biosig pretrain`` user mistakes found by a bug-bash: a --data path that names nothing, an empty
--out, and a --batch-size whose step cannot fit in memory. Real runs through biosig.cli.main."""
import pytest
import torch

from biosig.cli import main
from encoders.config import get_config
from encoders.errors import EncoderError
from pretrain_helpers import one_thread  # noqa: F401 (autouse)

ECG = ["pretrain", "--modality", "ecg", "--synthetic", "--synthetic-records", "2", "--synthetic-seconds", "20",
       "--batch-size", "4", "--no-progress", "--steps", "1", "--set", "dim=32", "--set", "depth=1",
       "--set", "heads=2", "--set", "decoder_dim=32", "--set", "decoder_heads=2", "--set", "decoder_depth=1"]


def _block_bytes():
    """The block bound of the fixed code; on the old code: nothing counted (the activations ignored)."""
    import encoders.pretrain_checks as checks
    return getattr(checks, "block_bytes_per_window", lambda *a, **k: 0)


def _err(capsys):
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1, err
    return err[0]


def test_a_data_path_that_names_nothing_is_refused(tmp_path, capsys):
    """--data GOOD TYPO trained on GOOD with a warning and exit code 0 (the typo skipped like a damaged
    file); now one line naming it, exit code 2, no --out left."""
    rec = tmp_path / "a.csv"
    rec.write_text("t_s,ecg_mv\n" + "".join(f"{i / 250:.4f},0.0\n" for i in range(250 * 30)))
    out = tmp_path / "o"
    assert main([*ECG, "--data", str(rec), str(tmp_path / "typo"), "--out", str(out)]) == 2
    assert "--data " + str(tmp_path / "typo") + ": no such file, folder or WFDB record" in _err(capsys)
    assert not out.exists()


def test_a_wfdb_record_name_is_not_taken_for_a_missing_path(tmp_path, capsys):
    wfdb = pytest.importorskip("wfdb")
    import numpy as np
    sig = np.sin(np.linspace(0, 200, 250 * 30))[:, None]
    wfdb.wrsamp("r1", fs=250, units=["mV"], sig_name=["II"], p_signal=sig, fmt=["16"], write_dir=str(tmp_path))
    out = tmp_path / "o"
    assert main([*ECG, "--data", str(tmp_path / "r1"), "--out", str(out)]) == 0, capsys.readouterr().err
    assert (out / "weights.pt").is_file()


def test_an_empty_out_is_named_by_its_flag(tmp_path, capsys):
    """--out "" said: out_dir='' must be a path (str or os.PathLike): a field name, not the flag."""
    assert main([*ECG, "--out", ""]) == 2
    assert "--out: an empty path (an unset shell variable?)" in _err(capsys)


def test_block_activations_are_counted_close_to_a_measured_step():
    """ecg-tiny keeps ~5.9 MiB a window for one CPU step (measured: peak memory at batch 16 and 64);
    the old bound counted 0.3 MiB, so --batch-size 5000 (29 GiB) passed on 22 GiB free and the kernel
    killed the run minutes later. The block bound stays under the measurement and within 3x of it."""
    from encoders.pretrain_checks import block_bytes_per_window
    cfg = get_config("ecg-tiny")
    per = block_bytes_per_window(cfg, (1, 2500)) / 2 ** 20
    assert 5.9 / 3 < per < 5.9
    beat = get_config("ecg-tiny", tokenizer="beat")
    assert block_bytes_per_window(beat, (1, 2500)) == 0


def test_a_batch_over_free_memory_by_its_activations_is_refused_and_a_close_one_warned(caplog):
    from encoders.pretrain_checks import _available_bytes, check_batch_memory
    block_bytes_per_window = _block_bytes()
    cfg = get_config("ecg-tiny")
    cpu = torch.device("cpu")
    free = _available_bytes(cpu)
    if free is None:
        pytest.skip("free memory cannot be told on this machine (/proc/meminfo)")
    per = 2500 * 4 + block_bytes_per_window(cfg, (1, 2500))
    with pytest.raises(EncoderError, match="needs at least"):
        check_batch_memory(int(free / per * 1.5), cfg, (1, 2500), cpu)   # over by its activations
    caplog.clear()
    check_batch_memory(int(free / per * 0.7), cfg, (1, 2500), cpu)       # under the bound, over twice it
    assert any("may not fit" in r.getMessage() for r in caplog.records)
