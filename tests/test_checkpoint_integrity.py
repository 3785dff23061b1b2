"""A checkpoint whose weights are not the ones its id was made from: torch does not check the CRC of
weights.pt's archive, so 1000 zeroed bytes inside it, or a weights.pt copied from another checkpoint of
the same model, loaded and exported (exit 0) under the checkpoint's id. meta.json's model id ends with
the first 10 hex of the weights' hash at save; load_model compares it, through the real CLI."""
import json
import shutil

import pytest
import torch

import encoders
from biosig.cli import main
from encoders.checkpoint import CHECKPOINT_ROOT, load_model, save_checkpoint, shipped_models
from encoders.config import EncoderConfig, get_config
from encoders.errors import CheckpointError
from encoders.model import EncoderModel
from encoders.weights import weights_hash

TINY = dict(dim=32, depth=1, heads=2, decoder_dim=32, decoder_heads=2, decoder_depth=1)


def _model_id(d) -> str:
    return json.loads((d / "meta.json").read_text())["model_id"]


def _saved(d, seed: int) -> str:
    torch.manual_seed(seed)
    return save_checkpoint(d, EncoderModel(get_config("ecg-tiny", **TINY)))


def _refused(tmp_path, capsys, d, found: str, recorded: str) -> None:
    """export and embed exit 2 with one line naming the folder and both short hashes; no file written."""
    out = tmp_path / "m.onnx"
    for argv in (["export", str(d), "--out", str(out)],
                 ["embed", "--model", str(d), "--out", str(tmp_path / "e.parquet"), str(tmp_path / "none.csv")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and "Traceback" not in err, err
        assert f"{d}: weights.pt holds weights {found}, not the weights {recorded}" in lines[0], err
        assert "damaged, or replaced" in lines[0], err
    assert not out.exists() and not (tmp_path / "e.parquet").exists()
    with pytest.raises(CheckpointError, match="damaged, or replaced"):
        encoders.load(d)


def test_zeroed_bytes_inside_a_shipped_weights_file_are_refused(tmp_path, capsys):
    """Before: ``biosig export`` wrote ecg-tiny-c440d2a286.onnx from the damaged weights, exit 0."""
    d = tmp_path / "ecg"
    shutil.copytree(CHECKPOINT_ROOT / "ecg-tiny", d)
    raw = bytearray((d / "weights.pt").read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 1000] = bytes(1000)
    (d / "weights.pt").write_bytes(bytes(raw))
    state = torch.load(d / "weights.pt", map_location="cpu", weights_only=True)   # torch does not notice
    model = EncoderModel(EncoderConfig.from_dict(json.loads((d / "config.json").read_text())))
    model.load_state_dict(state)   # what load_model built before: same shapes, other numbers
    recorded = _model_id(d).rsplit("-", 1)[1]
    found = weights_hash(model)[:10]
    assert found != recorded
    _refused(tmp_path, capsys, d, found, recorded)


def test_weights_copied_from_another_checkpoint_of_the_same_model_are_refused(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    id_a, id_b = _saved(a, 0), _saved(b, 1)
    assert id_a != id_b
    shutil.copyfile(b / "weights.pt", a / "weights.pt")
    _refused(tmp_path, capsys, a, found=id_b.rsplit("-", 1)[1], recorded=id_a.rsplit("-", 1)[1])


def test_intact_checkpoints_load_and_export(tmp_path):
    d = tmp_path / "c"
    model_id = _saved(d, 0)
    assert encoders.load(d).model_id == model_id
    assert main(["export", str(d), "--out", str(tmp_path / "c.onnx")]) == 0


@pytest.mark.parametrize("name", shipped_models())
def test_every_shipped_checkpoint_passes_the_check(name):
    model, _, meta = load_model(CHECKPOINT_ROOT / name)
    assert meta["model_id"] == f"{model.config.name}-{weights_hash(model)[:10]}"


@pytest.mark.parametrize("meta", ["no model id", "no meta.json", "a model id without a hash"])
def test_a_checkpoint_without_a_recorded_hash_loads_as_before(tmp_path, meta):
    """Older checkpoints (no model id in meta.json, or no meta.json) are not checked: their id is
    the hash of the weights they hold."""
    a, b = tmp_path / "a", tmp_path / "b"
    _saved(a, 0)
    id_b = _saved(b, 1)
    shutil.copyfile(b / "weights.pt", a / "weights.pt")
    if meta == "no meta.json":
        (a / "meta.json").unlink()
    else:
        (a / "meta.json").write_text(json.dumps({} if meta == "no model id" else {"model_id": "my-ecg"}))
    enc = encoders.load(a)
    assert enc.model_id == (id_b if meta != "a model id without a hash" else "my-ecg")
    assert main(["export", str(a), "--out", str(tmp_path / "a.onnx")]) == 0
