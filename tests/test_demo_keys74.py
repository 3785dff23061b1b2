"""`biosig demo --keys DIR` / `--insecure`: until 2026-12-07 both were offered by `demo --help` and ignored (the demo
ran on plain TCP whatever was given). With --keys the runtime serves with CURVE and every client of the demo (devices,
collector, live view, status requests) connects with the folder's client keys; a plain subscriber gets nothing. A key
folder that is missing or incomplete, and plain TCP off loopback without --insecure, are refused at once with
serve's line."""
import json
import subprocess
import sys
import time

import pytest

from biosig.cli import main
from streams.security import generate_keys
from streams.subscriber import Subscriber
from test_streams_helpers import free_endpoints, free_port

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]


def _demo_error(capsys, *flags, out) -> str:
    t0 = time.monotonic()
    code = main(["demo", "--seconds", "1", "--beds", "1", "--couches", "0", "--out", str(out), *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert time.monotonic() - t0 < 2.0   # at once: no runtime process, no encoders
    assert not out.exists()              # nothing made before the refusal
    return err[0]


def test_a_missing_or_incomplete_key_folder_is_refused_at_once_with_serves_line(tmp_path, capsys):
    missing = tmp_path / "nokeys"
    assert _demo_error(capsys, "--keys", str(missing), out=tmp_path / "o") == \
        f"biosig demo: error: --keys {missing} does not exist: give a key folder of `biosig keys generate DIR`"
    keys = generate_keys(tmp_path / "keys")
    (keys / "client.key_secret").unlink()   # the runtime could serve; the demo's own clients could not connect
    assert _demo_error(capsys, "--keys", str(keys), out=tmp_path / "o") == \
        f"biosig demo: error: key file {keys / 'client.key_secret'} is missing; create keys with: biosig keys " \
        "generate DIR"
    (keys / "server.key_secret").unlink()
    assert "server.key_secret is missing" in _demo_error(capsys, "--keys", str(keys), out=tmp_path / "o")


def test_plain_tcp_off_loopback_needs_insecure_as_serve_says(tmp_path, capsys):
    err = _demo_error(capsys, "--ingest", f"tcp://*:{free_port()}", out=tmp_path / "o")
    assert "are not loopback: give a key directory (biosig keys generate DIR; --keys DIR) or ask for plain TCP " \
           "with --insecure" in err, err


def _count(sub: Subscriber) -> int:
    n = 0
    while sub.recv(0.0) is not None:
        n += 1
    return n


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_demo_with_keys_serves_with_curve_and_its_clients_connect_with_them(tmp_path):
    pytest.importorskip("encoders")
    keys = generate_keys(tmp_path / "keys")
    ep, out = free_endpoints(), tmp_path / "demo-out"
    proc = subprocess.Popen(BIOSIG + ["demo", "--seconds", "3", "--beds", "1", "--couches", "0", "--out", str(out),
                                      "--keys", str(keys), "--ingest", ep.ingest, "--output", ep.output,
                                      "--status", ep.status],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    plain, keyed, got = Subscriber([""], ep.output), Subscriber([""], ep.output, key_dir=keys), [0, 0]
    try:
        while proc.poll() is None:   # the runtime's heartbeat (1 s) and outputs: what a plain subscriber would get
            time.sleep(0.2)
            got[0] += _count(plain)
            got[1] += _count(keyed)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        plain.close()
        keyed.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr[-2000:]
    assert f"(CURVE, keys {keys})" in stdout and "summary" in stdout
    assert got[1] > 0 and got[0] == 0, got   # the client keys connect; without them nothing (CURVE is on)
    s = json.loads((out / "summary.json").read_text())
    assert s["frames"] > 0 and s["embeddings"] > 0 and s["rejected"] == 0   # the ward's publishers got in
    assert s["received"]["embedding"] > 0                                   # the collector too
    assert any(v["ok"] > 0 for v in s["scores"].values()), s["scores"]      # and the live view (score/ frames)
