"""The streaming commands end to end: serve + monitor + replay + listen + status over loopback,
and one-line errors with exit code 2 for user mistakes."""
import json
import subprocess
import sys

import pytest

from test_streams_helpers import free_endpoints, wait_for
from conftest import shared_path

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]


def _run(*args, timeout=120):
    return subprocess.run(BIOSIG + list(args), capture_output=True, text=True, timeout=timeout)


def test_status_without_runtime_is_one_line_exit_2():
    ep = free_endpoints()
    r = _run("status", "--status", ep.status, "--timeout-s", "0.3")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "no runtime answered" in r.stderr and "Traceback" not in r.stderr


def test_listen_on_another_output_says_which_status_endpoint_it_asked():
    """`listen --output X` asked the default status endpoint and said 'no runtime answered' there,
    without a word that --status was not given (and with --keys, nothing about the keys)."""
    ep = free_endpoints()
    r = _run("listen", "--output", ep.output, "--seconds", "3.5")
    assert r.returncode == 0, r.stderr
    assert "no runtime answered on tcp://127.0.0.1:5557 (the default status endpoint: give the runtime's " \
           "--status with --output)" in r.stderr, r.stderr


@pytest.mark.parametrize("args, message", [
    (["serve", "--ingest", "tcp://0.0.0.0:5999", "--seconds", "1", "--models", "none"], "not loopback"),
    (["serve", "--models", "ecg", "--seconds", "1"], "MODALITY=NAME"),
    (["serve", "--config", "/nonexistent.toml"], "does not exist"),
    (["monitor", "--streams", "eeg", "--seconds", "1"], "unknown bed stream"),
    (["replay", "/nonexistent.hea", "--seconds", "1"], "nonexistent"),
    (["listen", "--seconds", "0"], "--seconds must be > 0"),
])
def test_user_mistakes_are_one_line(args, message):
    r = _run(*args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_bridge_lsl_refuses_clearly_without_pylsl():
    try:
        import pylsl  # noqa: F401
        pytest.skip("pylsl is installed")
    except ImportError:
        pass
    r = _run("bridge", "lsl", "--seconds", "1")
    assert r.returncode == 2 and "pip install 'biosig[lsl]'" in r.stderr


def test_keys_generate_and_refuse_overwrite(tmp_path):
    r = _run("keys", "generate", str(tmp_path / "k"))
    assert r.returncode == 0 and (tmp_path / "k" / "allowed" / "client.key").exists()
    r = _run("keys", "generate", str(tmp_path / "k"))
    assert r.returncode == 2 and "refusing to overwrite" in r.stderr


def _strict_json(text: str):
    """json.loads that refuses NaN / Infinity, as jq and a browser's JSON.parse do."""
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.timeout(200)
def test_serve_monitor_replay_listen_status_work_together(tmp_path):
    rec = shared_path("wfdb", "a103l.hea")
    ep = free_endpoints()
    serve = subprocess.Popen(BIOSIG + ["serve", "--models", "none", "--seconds", "40", "--record", str(tmp_path / "rec"),
                                       "--ingest", ep.ingest, "--output", ep.output, "--status", ep.status],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _run("status", "--status", ep.status, "--timeout-s", "0.3").returncode == 0,
                 timeout_s=60, what="serve")
        idle = {}
        def serving():
            idle.update(_strict_json(_run("status", "--json", "--status", ep.status).stdout))
            return idle.get("state") == "serving"
        wait_for(serving, timeout_s=60, what="serving")
        assert idle["queue"]["batch_size"]["p50"] is None   # no batch yet: undefined, null (was NaN)
        listen = subprocess.Popen(BIOSIG + ["listen", "--json", "--seconds", "20", "--output", ep.output,
                                            "--topics", "emb/", "fcst/", "hold/"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rep = _run("replay", str(rec.with_suffix("")), "--speed", "10", "--seconds", "3", "--ingest", ep.ingest)
        assert rep.returncode == 0, rep.stderr
        mon = _run("monitor", "--simulate", "1", "--streams", "resp,ppg", "--couches", "1", "--seconds", "6",
                   "--ingest", ep.ingest, timeout=120)
        assert mon.returncode == 0, mon.stderr
        st = _run("status", "--json", "--status", ep.status)
        assert st.returncode == 0
        body = _strict_json(st.stdout)
        streams = body["streams"]
        assert {"bed01/resp", "bed01/ppg", "couch1/markers", "a103l/ecg", "a103l/ppg"} <= set(streams), (
            body.get("totals"), body.get("rejected"), rep.stdout[-2000:], rep.stderr[-2000:])
        for name, s in streams.items():
            assert s["gaps"] == 0 and s["rejected_total"] == 0 and s["frames"] > 0, name
        assert streams["couch1/markers"]["forecasts"] + streams["couch1/markers"]["holds"] > 0
        table = _run("status", "--status", ep.status).stdout
        assert "bed01/resp" in table and "p99 ms" in table
        out, err = listen.communicate(timeout=60)
        rows = [_strict_json(line) for line in out.splitlines()]
        kinds = {r["kind"] for r in rows}
        assert {"embedding", "hold"} <= kinds, kinds
        assert any(r["topic"] == "emb/a103l/ecg" for r in rows)
    finally:
        serve.terminate()
        _, err = serve.communicate(timeout=60)
    assert serve.returncode == 0, err
    assert list((tmp_path / "rec").glob("inputs-*.parquet"))   # flushed at shutdown (SIGTERM)


@pytest.mark.parametrize("command", ["monitor", "replay"])
def test_insecure_reaches_the_publishers_of_monitor_and_replay(command, tmp_path):
    """`monitor --insecure` to a non-loopback runtime was refused with a message asking for
    --insecure: the flag never reached the publishers. 192.0.2.2 (TEST-NET) never answers: the
    command runs, delivers nothing and says so (exit 1), and no longer refuses the endpoint."""
    if command == "monitor":
        args = ["monitor", "--simulate", "0", "--couches", "1"]
    else:
        rec = tmp_path / "m.csv"
        rec.write_text("t_s,x_mm\n" + "".join(f"{i / 25},{i % 7}\n" for i in range(100)))
        args = ["replay", str(rec)]
    r = _run(*args, "--ingest", "tcp://192.0.2.2:49521", "--insecure", "--seconds", "1.5")
    assert "not loopback" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 1 and "none delivered" in r.stderr, r.stderr
