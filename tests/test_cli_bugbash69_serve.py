"""Bug bash 69 of `biosig serve` (flags and --config), `status` and `bridge`: what was accepted and then
ignored, or failed after the warm-up with ZeroMQ's text and "another runtime running?", is one line with
exit 2 before anything starts; a config value a flag replaces is said, not silent."""
import json
import time

import pytest

from streams.config import config_from_dict
from streams.errors import StreamError
from test_cli_errors import assert_one_line_error, run_main
from test_streams_helpers import free_port


def _serve(capsys, tmp_path, *argv):
    """``serve --models none --seconds 1`` on free loopback ports, plus ``argv`` (later flags win)."""
    ports = [f"tcp://127.0.0.1:{free_port()}" for _ in range(3)]
    return run_main(capsys, "serve", "--models", "none", "--seconds", 1, "--ingest", ports[0], "--output", ports[1],
                    "--status", ports[2], *argv)


def _config(tmp_path, data) -> str:
    p = tmp_path / "rt.json"
    p.write_text(json.dumps(data))
    return str(p)


# ---------------------------------------------------------------------------------- the config file
def test_an_unknown_key_is_named_with_the_key_it_was_meant_to_be(capsys, tmp_path):
    code, _, err = run_main(capsys, "serve", "--config", _config(tmp_path, {"window": {"ecg": [10, 1]}}))
    assert_one_line_error(code, err, "unknown config key(s) ['window']; did you mean 'windows' for 'window'?")


def test_a_window_for_motion_streams_is_refused_not_ignored(capsys, tmp_path):
    """Marker streams go to the forecaster whole: windows.motion was accepted and never used."""
    code, _, err = run_main(capsys, "serve", "--config", _config(tmp_path, {"windows": {"motion": [10, 1]}}))
    assert_one_line_error(code, err, "motion streams are not windowed")


@pytest.mark.parametrize("data, needle", [
    ({"max_delay_s": 1e9}, "config key max_delay_s must be <= 5.0"),       # every embedding held back
    ({"embed_queue": 10 ** 12}, "config key embed_queue must be <= 1048576"),  # no bound on memory
    ({"status_every_s": 60}, "config key status_every_s must be <= 4.0"),  # subscribers reconnect every 5 s
])
def test_absurd_batching_and_heartbeat_settings_are_refused(data, needle):
    with pytest.raises(StreamError, match=needle.replace("(", r"\(")):
        config_from_dict(data)
    ok = config_from_dict({"max_delay_s": 5.0, "embed_queue": 1 << 20, "status_every_s": 4.0})
    assert ok.max_delay_s == 5.0 and ok.embed_queue == 1 << 20


def test_a_flag_that_replaces_a_config_value_says_so(capsys, tmp_path):
    """--models and --ingest beside a file that sets them: the flags win (documented), and now say which
    values of the file they replaced. The run stops at a --state that is a file, after the warning."""
    port = free_port()
    cfg = _config(tmp_path, {"models": {"ecg": "ecg-tiny"}, "endpoints": {"ingest": f"tcp://127.0.0.1:{port}"}})
    (tmp_path / "f").write_text("x")
    code, _, err = run_main(capsys, "serve", "--config", cfg, "--models", "none", "--ingest",
                            f"tcp://127.0.0.1:{port + 1}", "--state", tmp_path / "f", "--seconds", 1)
    assert code == 2 and "Traceback" not in err, err
    assert (f"biosig serve: warning: flags replace the config file's endpoints.ingest 'tcp://127.0.0.1:{port}' by "
            f"'tcp://127.0.0.1:{port + 1}'; models {{'ecg': 'ecg-tiny'}} by {{}}") in err, err


# ---------------------------------------------------------------------------------- serve flags
@pytest.mark.parametrize("models, needle", [
    ("ecg=ecg-tiny,ecg=ecg-small", "--models names ecg twice (ecg=ecg-tiny, ecg=ecg-small)"),  # the first dropped
    ("none,ecg=ecg-tiny", "'none' (no encoders) goes alone"),                                # ecg was served
])
def test_models_flag_that_contradicts_itself(capsys, tmp_path, models, needle):
    code, _, err = _serve(capsys, tmp_path, "--models", models)
    assert_one_line_error(code, err, needle)


def test_a_malformed_endpoint_flag_is_named_by_its_flag(capsys, tmp_path):
    """Was "config key endpoints.ingest: ..." with no config file given."""
    code, _, err = _serve(capsys, tmp_path, "--ingest", "tcp://127.0.0.1:abc")
    assert_one_line_error(code, err, "--ingest: endpoint 'tcp://127.0.0.1:abc' is not tcp://HOST:PORT")


@pytest.mark.parametrize("endpoint, needle", [
    ("ipc:///tmp/" + "x" * 200, "an ipc path is at most 107 bytes"),
    ("ipc:///no/such/folder/sock", "--status ipc:///no/such/folder/sock: folder /no/such/folder does not exist"),
    ("tcp://192.0.2.1:5555", "192.0.2.1 is not an address of this machine"),      # TEST-NET-1: nobody's
    ("tcp://no-such-host.invalid:5555", "no-such-host.invalid is neither an address nor a network interface"),
])
def test_a_bind_this_machine_cannot_make_is_refused_before_the_warm_up(capsys, tmp_path, endpoint, needle):
    """Each failed after the warm-up (2-4 s without encoders, tens of seconds with) with ZeroMQ's text
    ("No such device", "Cannot assign requested address") and "another runtime running?"."""
    t = time.monotonic()
    code, _, err = _serve(capsys, tmp_path, "--status", endpoint, "--insecure")
    assert_one_line_error(code, err, needle)
    assert "another runtime" not in err and time.monotonic() - t < 1.5, err


def _keys(tmp_path):
    from streams.security import generate_keys
    return generate_keys(tmp_path / "keys")


def test_a_damaged_key_in_the_allow_list_is_refused_not_served_to_nobody(capsys, tmp_path):
    """zmq.auth logged an ERROR and allowed no client at all: the runtime served, and every client was
    refused."""
    d = _keys(tmp_path)
    (d / "allowed" / "client.key").write_text("garbage\n")
    code, _, err = _serve(capsys, tmp_path, "--keys", d)
    assert_one_line_error(code, err, f"key file {d / 'allowed' / 'client.key'} is not a ZeroMQ certificate")


@pytest.mark.parametrize("what, needle", [("missing", "does not exist: give a key folder"),
                                          ("file", "is a file, not a key folder")])
def test_keys_that_are_no_folder_say_so(capsys, tmp_path, what, needle):
    """Was "key file DIR/server.key_secret is missing" for a typo of the folder or a file."""
    keys = tmp_path / "k"
    if what == "file":
        keys.write_text("x")
    code, _, err = _serve(capsys, tmp_path, "--keys", keys)
    assert_one_line_error(code, err, f"--keys {keys} {needle}")
    code, _, err = run_main(capsys, "status", "--keys", keys, "--timeout-s", 0.5)
    assert_one_line_error(code, err, f"--keys {keys} {needle}")


# ---------------------------------------------------------------------------------- bridge
def test_bridge_lsl_refuses_a_bad_endpoint_before_looking_for_outlets(capsys):
    """A malformed --ingest was never named: the bridge looked --resolve-s for LSL outlets and said only
    "no LSL streams found"."""
    pytest.importorskip("pylsl")
    t = time.monotonic()
    code, _, err = run_main(capsys, "bridge", "lsl", "--ingest", "tcp://x:abc", "--resolve-s", 2, "--seconds", 1)
    assert_one_line_error(code, err, "endpoint 'tcp://x:abc' is not tcp://HOST:PORT")
    assert time.monotonic() - t < 1.5
    code, _, err = run_main(capsys, "bridge", "lsl", "--keys", "no-such-keys", "--resolve-s", 2, "--seconds", 1)
    assert_one_line_error(code, err, "--keys no-such-keys does not exist")


def test_bridge_lsl_out_refuses_topics_it_cannot_bridge(capsys):
    """score/ and sig/ frames were subscribed to and dropped; a typo waited in silence."""
    code, _, err = run_main(capsys, "bridge", "lsl-out", "--topics", "score/", "fcts/", "--seconds", 1)
    assert_one_line_error(code, err, "--topics score/ fcts/: only outputs whose topic starts with emb/, fcst/, hold/")
