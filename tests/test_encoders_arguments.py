"""The encoders' public functions answer a caller's mistake with a BiosigError naming the value:
never a ValueError from range(), an IndexError from the channel table, a RuntimeError from torch,
or a silently different answer (batch_size=-1 embedded nothing, channel_idx=[0.5] was truncated,
a single channel position was broadcast over two channels, complex windows lost their
imaginary part)."""
import numpy as np
import pytest

import encoders
from biosig.errors import BiosigError, SignalError
from biosig.record import Record
from encoders.errors import EncoderError


@pytest.fixture(scope="module")
def ecg():
    return encoders.load("ecg-tiny")


@pytest.fixture(scope="module")
def ecg_inference():
    from encoders.inference import open_model
    return open_model("ecg-tiny", backend="torch")


def _windows(b=2, c=2, t=2500):
    return np.random.default_rng(0).normal(size=(b, c, t)).astype(np.float32)


BAD_BATCHES = [
    (dict(channel_idx=[0]), "channel_idx shaped \\(1,\\) for windows shaped \\(2, 2, 2500\\)"),
    (dict(channel_idx=[0, 14]), "outside the model's 14 channel names"),
    (dict(channel_idx=[-1, 0]), "outside the model's 14 channel names"),
    (dict(channel_idx=[0.5, 1.0]), "whole-number positions"),
    (dict(channel_idx=["II", "V1"]), "whole-number positions"),
    (dict(channel_idx=[[0, 1]] * 3), "expected \\(2, 2\\)"),
    (dict(batch_size=0), "batch_size=0 must be a whole number, 1 or more"),
    (dict(batch_size=-1), "batch_size=-1"),
    (dict(batch_size="8"), "batch_size='8'"),
    (dict(batch_size=2.0), "batch_size=2.0"),
]


@pytest.mark.parametrize("kw, message", BAD_BATCHES, ids=[m for _, m in BAD_BATCHES])
def test_embed_windows_arguments(ecg, ecg_inference, kw, message):
    for model in (ecg, ecg_inference):
        args = {"channel_idx": [0, 1], "batch_size": 64, **kw}
        with pytest.raises(EncoderError, match=message):
            model.embed_windows(_windows(), args.pop("channel_idx"), **args)


@pytest.mark.parametrize("x", [np.zeros((1, 1, 2500), complex), np.full((1, 1, 2500), "a")], ids=["complex", "text"])
def test_embed_windows_refuses_values_that_are_not_real(ecg, ecg_inference, x):
    for model in (ecg, ecg_inference):
        with pytest.raises(EncoderError, match="windows hold real numbers"):
            model.embed_windows(x, [1])


def test_per_window_channels_follow_the_batch(ecg, ecg_inference):
    # (B, C) positions were passed whole to every batch of batch_size windows (a shape error)
    x = _windows(b=5, c=1)
    rows = np.array([[1], [1], [6], [6], [1]])
    for model in (ecg, ecg_inference):
        whole = model.embed_windows(x, rows, batch_size=64)
        split = model.embed_windows(x, rows, batch_size=2)
        np.testing.assert_allclose(split, whole, atol=1e-5)
        np.testing.assert_allclose(whole[2:4], model.embed_windows(x[2:4], [6]), atol=1e-5)
        assert not np.allclose(whole[0], whole[2], atol=1e-4)   # the lead changes the embedding


def test_good_calls_unchanged(ecg):
    x = _windows(c=1)
    a = ecg.embed_windows(x, [1])
    assert a.shape == (2, ecg.config.dim)
    np.testing.assert_allclose(ecg.embed_windows(x.astype(np.float64), np.array([1], np.int32), batch_size=1), a,
                               atol=1e-5)
    assert ecg.embed_windows(np.zeros((0, 1, 2500), np.float32)).shape == (0, ecg.config.dim)
    assert ecg.channel_index("MLII") == ecg.channel_index(["II"]) == [1]   # one str: one name


def test_embed_refuses_a_bare_array(ecg, ecg_inference):
    for model in (ecg, ecg_inference):
        for value in (np.zeros((1, 5000)), None):
            with pytest.raises(SignalError, match="takes a biosig Record"):
                model.embed(value)


@pytest.mark.parametrize("seed", [-1, "x", 1.5, True, None, 2 ** 63], ids=repr)
def test_random_weights_seed(seed):
    from encoders.baselines import random_encoder
    with pytest.raises(EncoderError, match="seed"):
        encoders.load("ppg-tiny", pretrained=False, seed=seed)
    with pytest.raises(EncoderError, match="seed"):
        random_encoder("ppg-tiny", seed=seed)


def test_random_encoder_window():
    from encoders.baselines import random_encoder
    for window_s in (0, -2, "x", float("nan")):   # before: window 0 was accepted
        with pytest.raises(SignalError, match="window_s=.* must be a positive number of seconds"):
            random_encoder("ppg-tiny", window_s=window_s)
    assert random_encoder("ppg-tiny", seed=np.int64(3), window_s=4).window_s_override == 4.0


def test_probe_arguments():
    from encoders.probe import cv_folds, probe
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), np.r_[np.zeros(20), np.ones(20)]
    for n_splits in (1, 0, "5", 2.0, True):
        with pytest.raises(EncoderError, match="n_splits=.* must be a whole number, 2 or more"):
            probe(X, y, n_splits=n_splits)
    with pytest.raises(EncoderError, match="5 group ids for 40 labels"):
        cv_folds(y, groups=np.arange(5))
    with pytest.raises(EncoderError, match="features hold real numbers"):
        probe(np.full((40, 3), "a"), y)
    assert len(cv_folds(y, n_splits=np.int64(4))) == 4


def test_baseline_features_arguments():
    from encoders.baselines import baseline_features, hrv_features, ibi_features, mfcc_features, spirometry_features
    x = np.zeros((1, 4000))
    for fn, name in ((hrv_features, "hrv_features()"), (ibi_features, "ibi_features()"),
                     (mfcc_features, "mfcc_features()"), (spirometry_features, "spirometry_features()")):
        with pytest.raises(SignalError, match=f"{name.replace('(', '[(]').replace(')', '[)]')} takes a biosig Record"):
            fn(x)
    audio = Record(samples=np.random.default_rng(0).normal(size=(1, 16000)) * 0.1, fs_hz=16000, channels=("mic",),
                   modality="audio")
    for n_mfcc in (0, -3, 2.5, "20"):   # before: n_mfcc=0 gave 0 features silently
        with pytest.raises(EncoderError, match="n_mfcc"):
            mfcc_features(audio, n_mfcc=n_mfcc)
    with pytest.raises(SignalError, match="fs_hz"):
        mfcc_features(audio, fs_hz=0)
    assert mfcc_features(audio, n_mfcc=4).shape == (8,)
    for records in (None, 3, "rec.wav"):
        with pytest.raises(EncoderError, match="give a list of biosig Records"):
            baseline_features("mfcc", records)


def test_torch_device_name():
    from encoders.inference import open_model
    with pytest.raises(EncoderError, match="device='gpu0' is not a device") as info:
        open_model("ppg-tiny", backend="torch", device="gpu0")
    assert isinstance(info.value, BiosigError) and "\n" not in str(info.value)


@pytest.mark.parametrize("kw, message", [
    (dict(out_path=None), "out_path=None must be a file path"),   # TypeError from pathlib before
    (dict(out_path=3), "out_path=3 must be a file path"),
    (dict(opset="x"), "opset 'x' is not supported"),            # ValueError from int() before
    (dict(opset=18.7), "opset 18.7 is not supported"),           # truncated to 18 before
    (dict(batch=1.5), "batch 1.5 is not supported"),             # exported with batch 1 before
    (dict(batch=True), "batch True is not supported"),
    (dict(batch="4"), "batch '4' is not supported"),
])
def test_export_arguments(tmp_path, kw, message):
    from encoders.export import export_onnx
    args = {"out_path": tmp_path / "m.onnx", **kw}
    with pytest.raises(EncoderError, match=message):
        export_onnx("ppg-tiny", args.pop("out_path"), verify=False, **args)
    assert not list(tmp_path.iterdir())


def test_export_to_a_folder(tmp_path):
    from encoders.export import export_onnx
    # before: both exporters were tried and the message carried their IsADirectoryError
    with pytest.raises(EncoderError, match="is a folder; give the .onnx file to write") as info:
        export_onnx("ppg-tiny", tmp_path, verify=False)
    assert "Error" not in str(info.value).replace("EncoderError", "")


def test_load_head_name():
    from encoders.heads.head import load_head
    for name in (None, 3, ["ecg-af"]):
        with pytest.raises(EncoderError, match="a head is named by a str"):
            load_head(name)
    import pathlib
    from encoders.heads.head import HEADS_DIR
    assert load_head(pathlib.Path(HEADS_DIR / "ecg-af")).to_json() == load_head("ecg-af").to_json()


@pytest.mark.parametrize("kw, message", [
    (dict(device="x"), "device='x' is not a device"),       # onnxruntime ran on the CPU silently before
    (dict(device="cuda:x"), "device='cuda:x' is not a device"),   # ValueError from int() before
    (dict(device=3), "device=3 is not a device"),           # AttributeError before
    (dict(threads=0), "threads=0 must be a whole number"),  # the default thread count before
    (dict(threads=-1), "threads=-1"),
    (dict(threads="2"), "threads='2'"),
])
def test_backend_device_and_threads(kw, message):
    from encoders.backends import make_backend
    for kind in ("onnxruntime", "torch", "auto"):
        with pytest.raises(EncoderError, match=message):
            make_backend(kind, "ppg-tiny", **kw)


SCORE_MISTAKES = [
    (dict(inputs=None), "inputs=None: give a list of paths"),   # TypeError before
    (dict(inputs=[3]), "inputs=\\[3\\]: give a list of paths"),
    (dict(model=None), "model=None must be a name or path"),   # TypeError when the job ran
    (dict(out_dir=3), "out_dir=3 must be a name or path"),
    (dict(workers="x"), "--workers='x' must be a whole number"),   # ValueError before
    (dict(workers=1.5), "--workers=1.5"),                       # accepted before
    (dict(batch_size=2.5), "--batch-size=2.5"),
    (dict(threads=0), "threads=0"),
    (dict(device="gpu"), "device='gpu' is not a device"),
    (dict(window_s="x"), "--window-s must be a number of seconds > 0, got 'x'"),
    (dict(read_options={"foo": 1}), "read_options=.* must be a dict of biosig.read options"),
    (dict(retry_errors="yes"), "retry_errors='yes' must be True or False"),
    (dict(engine="ray", ray_address=3), "ray_address=3 must be an address"),
]


@pytest.mark.parametrize("kw, message", SCORE_MISTAKES, ids=[m for _, m in SCORE_MISTAKES])
def test_score_config_mistakes(tmp_path, kw, message):
    from encoders.scoring import ScoreConfig, ScoreError, run_score
    args = {"inputs": (str(tmp_path),), "model": "ppg-tiny", "out_dir": str(tmp_path / "out"), **kw}
    with pytest.raises(ScoreError, match=message):
        run_score(ScoreConfig(**args))
    assert not (tmp_path / "out").exists()


def test_score_config_one_input_path(tmp_path):
    from encoders.scoring import ScoreConfig
    # one str is one input (before: its characters, "input path(s) not found: d, a, t, a")
    cfg = ScoreConfig(inputs=str(tmp_path), model="ppg-tiny", out_dir=tmp_path / "out")
    assert cfg.inputs == (str(tmp_path),) and cfg.out_dir == str(tmp_path / "out")


TRAIN_MISTAKES = [
    (dict(batch_size=0), "batch_size=0 must be a whole number, 1 or more"),
    (dict(steps=2.5), "steps=2.5"),
    (dict(ckpt_every=0), "ckpt_every=0"),      # ZeroDivisionError at the first step before
    (dict(warmup_steps=-1), "warmup_steps=-1"),
    (dict(log_every=0.5), "log_every=0.5"),
    (dict(seed="1"), "seed='1'"),
    (dict(lr=0), "lr=0 must be a number > 0"),
    (dict(lr=float("nan")), "lr=nan"),
    (dict(grad_clip="1"), "grad_clip='1'"),
    (dict(weight_decay=-0.1), "weight_decay=-0.1 must be a number >= 0"),
    (dict(window_s=0), "window_s=0"),
    (dict(synthetic="yes"), "synthetic='yes' must be True or False"),
    (dict(out_dir=None), "out_dir=None must be a path"),
    (dict(data=None), "data=None: give a list of paths"),
    (dict(data=[3]), "data=\\[3\\]"),
    (dict(overrides=["dim=64"]), "overrides=.* must be a dict"),
]


@pytest.mark.parametrize("kw, message", TRAIN_MISTAKES, ids=[m for _, m in TRAIN_MISTAKES])
def test_train_config_mistakes(tmp_path, kw, message):
    from encoders.pretrain import TrainConfig
    with pytest.raises(EncoderError, match=message):
        TrainConfig(**{"modality": "ppg", "out_dir": str(tmp_path / "run"), "synthetic": True, **kw})


def test_train_config_normalises_paths(tmp_path):
    from encoders.pretrain import TrainConfig
    cfg = TrainConfig(modality="ppg", out_dir=tmp_path / "run", data=str(tmp_path))
    assert cfg.out_dir == str(tmp_path / "run") and cfg.data == (str(tmp_path),)
    assert TrainConfig(modality="ppg", out_dir="r", data=[tmp_path, "x"], seed=np.int64(2)).data == (str(tmp_path), "x")


def test_file_records_names_one_folder_whole(tmp_path):
    from encoders.data import file_records
    # before: "no readable recordings under /, t, m, p, ..." (the path's characters)
    with pytest.raises(EncoderError, match=f"no readable recordings under {tmp_path}$"):
        list(file_records(str(tmp_path), "ecg"))
