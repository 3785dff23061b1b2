"""`make demo` and `make test` on a machine that is not ours: what differs from the developers' machines and made a
command fail or print a traceback (run 73): a stdout that cannot encode µ, a closed stdout or stderr, a terminal
that cannot redraw, an earlier run's output folder in an odd state, two demos started together, a checkout whose
path has a space. Real processes, pipes, terminals and sockets; each test well under 3 s."""
from __future__ import annotations

import os
import pathlib
import pty
import shlex
import shutil
import socket
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _cli(*args, env=None, shell_redirect: str = "", stdout=subprocess.PIPE):
    """``python -m biosig.cli ARGS`` as a user's shell runs it (``shell_redirect``: e.g. ``2>&-``)."""
    e = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    cmd = " ".join(shlex.quote(str(a)) for a in (sys.executable, "-m", "biosig.cli", *args))
    return subprocess.run(["/bin/sh", "-c", f"{cmd} {shell_redirect}"], stdout=stdout, stderr=subprocess.PIPE,
                          env=e, timeout=60)


@pytest.fixture
def micro_volt_csv(tmp_path):
    """A CSV whose unit (µV) and second channel's name (an arrow) are not ASCII, as LabChart and others write."""
    path = tmp_path / "mu.csv"
    rows = "".join(f"{i / 250:.4f},{(i % 25) / 25:.4f},0\n" for i in range(1000))
    path.write_text("time_s,ECG [\u00b5V],note \u2192\n" + rows, encoding="utf-8")
    return path


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"},
                                 {"PYTHONIOENCODING": "latin-1"}], ids=["ascii", "C-no-utf8-mode", "latin-1"])
def test_a_stdout_that_cannot_encode_the_text_gets_escapes_not_a_traceback(micro_volt_csv, env):
    res = _cli("info", micro_volt_csv, env=env)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert b"Traceback" not in res.stderr and b"UnicodeEncodeError" not in res.stderr
    assert b"\\u2192" in res.stdout                                    # no 8-bit code page has the arrow
    assert b"\\xb5V" in res.stdout or b"\xb5V" in res.stdout           # latin-1 has µ: written as such


def test_closed_stderr_and_stdout_are_no_traceback(micro_volt_csv):
    """``2>&-`` left sys.stderr None: ``biosig info`` of a missing file exited 1 (AttributeError, told nowhere)
    instead of 2; ``>&-`` likewise for stdout."""
    assert _cli("info", micro_volt_csv.with_name("missing.csv"), shell_redirect="2>&-").returncode == 2
    res = _cli("info", micro_volt_csv, shell_redirect=">&-")
    assert res.returncode == 0 and res.stderr == b"", res.stderr.decode()[-2000:]


def test_a_reader_that_left_before_the_output_is_no_traceback(micro_volt_csv):
    """``biosig info x | head -0``, deterministic: the pipe's read end is closed before the command writes."""
    for args in (("info", micro_volt_csv), ("--help",), ("demo", "--help")):
        r, w = os.pipe()
        os.close(r)
        try:
            res = _cli(*args, stdout=w)
        finally:
            os.close(w)
        assert res.returncode == 0 and res.stderr == b"", (args, res.stderr.decode()[-2000:])


@pytest.mark.parametrize("term,expected", [("xterm-256color", True), ("dumb", False), (None, False)])
def test_the_live_table_redraws_only_on_a_terminal_that_can(monkeypatch, term, expected):
    from streams.demo_procs import redraws
    if term is None:
        monkeypatch.delenv("TERM", raising=False)
    else:
        monkeypatch.setenv("TERM", term)
    main_fd, tty_fd = pty.openpty()
    with os.fdopen(tty_fd, "w") as tty:
        try:
            assert tty.isatty() and redraws(tty) is expected
        finally:
            os.close(main_fd)
    with open(os.devnull, "w") as not_a_tty:
        assert redraws(not_a_tty) is False   # piped, redirected: the plain table every 15 s
    assert redraws(None) is False


def test_an_earlier_runs_recordings_and_state_are_removed_also_a_file_or_a_link(tmp_path):
    """``demo-out/recordings`` a file: the runtime failed (FileExistsError traceback) after loading the encoders."""
    from streams.demo_procs import fresh_subfolders
    out, elsewhere = tmp_path / "demo-out", tmp_path / "keep.txt"
    (out / "recordings").mkdir(parents=True)
    (out / "recordings" / "inputs-000001.parquet").write_bytes(b"old")
    (out / "summary.json").write_text("{}")
    elsewhere.write_text("not the demo's")
    fresh_subfolders(out)
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]
    (out / "recordings").write_text("a file")
    (out / "state").symlink_to(elsewhere)
    fresh_subfolders(out)
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]
    assert elsewhere.read_text() == "not the demo's"   # a link is removed, not what it points at
    fresh_subfolders(tmp_path / "never-made")           # a first run: nothing to remove


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract Unix sockets are Linux's")
def test_a_demo_started_while_another_claims_the_default_endpoints_moves_to_free_ports(capsys):
    """Two `biosig demo` at once both found 5555-5557 free; the second's runtime then failed: 'cannot bind status
    endpoint tcp://127.0.0.1:5557: address already in use'. Another process holds the claim here, as a demo does."""
    import zmq

    from streams.config import Endpoints
    from streams.demo_procs import demo_endpoints
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom streams.config import Endpoints\nfrom streams.demo_procs import "
         "demo_endpoints\nep, claim = demo_endpoints()\nprint('held', flush=True)\nsys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == b"held"
        ep, claim = demo_endpoints()
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert claim is None and ep != Endpoints()
    ports = {int(e.rsplit(":", 1)[1]) for e in ep.all()}
    assert len(ports) == 3 and all(e.startswith("tcp://127.0.0.1:") for e in ep.all())
    assert "another biosig demo is starting on the default endpoints" in capsys.readouterr().err
    ctx = zmq.Context()
    try:
        socks = [ctx.socket(zmq.PULL) for _ in ep.all()]
        for s, e in zip(socks, ep.all()):   # what the runtime does with them
            s.bind(e)
        for s in socks:
            s.close(0)
    finally:
        ctx.term()
    given = Endpoints(ingest="tcp://127.0.0.1:5555", output="tcp://127.0.0.1:5566", status="tcp://127.0.0.1:5567")
    named = dict(zip(("ingest", "output", "status"), given.all()))
    assert demo_endpoints(named) == (given, None)   # endpoints given are kept, unclaimed


def test_a_claim_is_released_with_its_socket():
    from streams.config import Endpoints
    from streams.demo_procs import demo_endpoints
    name = "\0biosig-demo " + " ".join(Endpoints().all())
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.bind(name)
    except OSError:
        pytest.skip("a biosig demo runs on this machine now")
    probe.close()
    ep, claim = demo_endpoints()
    assert _unmoved(ep) and claim is not None
    claim.close()
    again, claim = demo_endpoints()
    assert _unmoved(again) and claim is not None
    claim.close()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_makefile_quotes_a_checkout_path_with_a_space(tmp_path):
    """`make gpu-check` in '/x/a dir/biosig' ran `PYTHONPATH=/x/a dir/biosig python3 ...`: the command 'dir/biosig'."""
    checkout = tmp_path / "a dir" / "biosig"
    checkout.mkdir(parents=True)
    shutil.copy(ROOT / "Makefile", checkout / "Makefile")
    (checkout / ".venv" / "bin").mkdir(parents=True)
    for name in ("python", "biosig", "pip"):   # `make -n` with the environment there: no setup recipes
        (checkout / ".venv" / "bin" / name).touch()
    (checkout / "pyproject.toml").touch()
    os.utime(checkout / "pyproject.toml", (0, 0))
    (checkout / ".venv" / ".installed").touch()
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}   # (under make test)
    run = lambda target: subprocess.run(["make", "--no-print-directory", "-n", target], cwd=checkout, env=env,
                                        capture_output=True, text=True, timeout=30).stdout
    words = shlex.split(run("gpu-check"))
    assert words[0] == f"PYTHONPATH={checkout}" and words[-1] == "benchmarks/gpu_check.py", words
    for target in ("demo", "test", "bench"):   # relative to the checkout: a space in its path is no matter
        text = run(target)
        assert text and str(tmp_path) not in text, (target, text)


def _unmoved(ep) -> bool:
    """``ep`` is the default set, or another process holds one of the default ports (another test's runtime on them:
    the demo rightly moves that one; the claim is what these tests are about)."""
    from streams.config import Endpoints
    from streams.startup import address_in_use
    return ep == Endpoints() or any(address_in_use(("127.0.0.1", int(e.rsplit(":", 1)[1]))) for e in Endpoints().all())
