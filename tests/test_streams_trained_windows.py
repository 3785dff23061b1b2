"""The runtime cuts a modality's windows as its model was trained (issue 14, item 5): audio-tiny
learnt on 2 s crops, so audio streams get 2 s windows every 2 s, not the 8 s audio default;
a user's ``windows`` entry still wins. Real checkpoints, real ModelHost."""
from streams.config import DEFAULT_WINDOWS, config_from_dict, stream_windows
from streams.models import ModelHost


def test_hosted_models_bring_their_training_window_and_user_windows_win():
    host = ModelHost({"audio": "audio-tiny", "ecg": "ecg-tiny"}, backend="torch")
    assert not host.errors, host.errors
    audio, ecg = host.get("audio"), host.get("ecg")
    import encoders
    enc = encoders.load("audio-tiny")
    assert audio.window_s == enc.window_s == 2.0 and ecg.window_s == encoders.load("ecg-tiny").window_s
    got = stream_windows({}, host)
    assert got["audio"] == (2.0, 2.0)                 # the training window, the default hop capped at it
    assert got["ecg"] == (ecg.window_s, 1.0) == DEFAULT_WINDOWS["ecg"]
    assert got["resp"] == DEFAULT_WINDOWS["resp"]                     # no model: the default
    assert stream_windows({"audio": (8.0, 4.0)}, host)["audio"] == (8.0, 4.0)   # the user's choice
    assert stream_windows({}, None)["audio"] == DEFAULT_WINDOWS["audio"]


def test_a_config_file_names_only_the_windows_it_overrides():
    cfg = config_from_dict({"windows": {"ecg": [5, 1]}})
    assert cfg.windows == {"ecg": (5, 1)}            # not merged with defaults: models still decide the rest
    assert stream_windows(cfg.windows, None)["ecg"] == (5, 1)
