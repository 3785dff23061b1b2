"""What a hospital IT engineer met running the operator commands (serve, monitor, replay, listen)
over real sockets on loopback, each fixed: one clear line or the right behaviour, never a traceback,
a lost stream or a silent wait in the wrong place."""
import resource
import socket
import subprocess
import sys

import pytest

from biosig.cli import main
from streams.config import Endpoints
from streams.errors import StreamError
from streams.runtime import Runtime
from test_streams_helpers import config, free_endpoints, free_port, running, wait_for

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]


def _run(*args, timeout=120, nofile=None):
    """``biosig ARGS`` in a subprocess (``nofile``: its open-file limit, as ``ulimit -n``)."""
    def limit():
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    return subprocess.run(BIOSIG + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit)


def test_an_endpoint_flag_keeps_the_config_files_other_endpoints(tmp_path):
    """`serve --config c.toml --ingest X` moved output and status to the defaults (5556, 5557), away
    from the ones the config file names (where clients and another runtime may be)."""
    ep = free_endpoints()
    cfg = tmp_path / "runtime.toml"
    cfg.write_text(f'[endpoints]\ningest = "{ep.ingest}"\noutput = "{ep.output}"\nstatus = "{ep.status}"\n')
    ingest = f"tcp://127.0.0.1:{free_port()}"
    r = _run("serve", "--config", cfg, "--models", "none", "--seconds", "0.5", "--ingest", ingest)
    assert r.returncode == 0, r.stderr
    assert f"(ingest {ingest}, output {ep.output}, status {ep.status})" in r.stdout, r.stdout


def _port_in_use():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, f"tcp://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("which", ["ingest", "output", "same"])
def test_an_endpoint_that_cannot_be_bound_refuses_the_start_before_the_warm_up(which):
    """An ingest or output port in use (or one endpoint for two sockets) was found only after the
    encoders were loaded and the kernels compiled: 43 s with the default encoders before the one
    line. Now before anything loads (the encoders never are)."""
    holder, taken = _port_in_use()
    try:
        ep = free_endpoints()
        bad = {"ingest": Endpoints(taken, ep.output, ep.status), "output": Endpoints(ep.ingest, taken, ep.status),
               "same": Endpoints(ep.ingest, ep.ingest, ep.status)}[which]
        rt = Runtime(config(endpoints=bad))
        with pytest.raises(StreamError) as err:
            rt.run(1.0)
    finally:
        holder.close()
    assert rt.models is None and rt.warm == {}, "loaded before the refusal"
    assert ("each socket needs its own" if which == "same" else "address already in use") in str(err.value)


def test_monitor_refuses_a_stream_named_twice(capsys):
    """`--streams ecg,ecg` ran two sources on one stream: every sample sent twice, a bed at twice its
    declared rate (status: 500 samples per second of device time, rate_mismatch, measures withheld)."""
    code = main(["monitor", "--streams", "ecg,ppg,ecg", "--simulate", "1", "--couches", "0", "--seconds", "1",
                 "--ingest", f"tcp://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == "biosig monitor: error: --streams names ecg more than once", err


def test_monitor_of_many_beds_under_a_low_open_file_limit():
    """A context per bed (its threads and file descriptors): 200 beds under `ulimit -n 1024` ended in a
    traceback (Too many open files), more in a C abort. One context for all: 150 beds under 512 run;
    beds beyond the limit are one line."""
    with running(config()) as rt:
        r = _run("monitor", "--simulate", 150, "--streams", "resp", "--couches", 0, "--seconds", 2.5,
                 "--ingest", rt.bound.ingest, nofile=512)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
        assert "sent " in r.stderr and "from 150 streams" in r.stderr
        wait_for(lambda: len(rt.status()["streams"]) == 150, what="every bed")
        r = _run("monitor", "--simulate", 600, "--streams", "resp", "--couches", 0, "--seconds", 1,
                 "--ingest", rt.bound.ingest, nofile=512)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.count("\n") == 1 and "open-file limit 512 (ulimit -n)" in r.stderr, r.stderr


def test_replay_of_two_records_of_one_name_sends_both(tmp_path):
    """`replay day1/p7.edf day2/p7.edf`: both were source p7, two publishers of one stream; the runtime
    rejected one of them frame by frame (session_conflict). The second is p7_2."""
    from biosig.synthetic import simulate
    from biosig.writers import write
    from streams.replay import replay_sources
    from streams.simulate import run_sources
    paths = []
    for day, seed in (("day1", 1), ("day2", 2)):
        (tmp_path / day).mkdir()
        paths.append(tmp_path / day / "p7.edf")
        write(simulate("ecg", 6, seed=seed, fs_hz=250.0), paths[-1])
    with running(config()) as rt:
        pubs, sources = replay_sources(paths, speed=3.0, endpoint=rt.bound.ingest)
        try:
            run_sources(sources, seconds=2.0)
            wait_for(lambda: {"p7/ecg", "p7_2/ecg"} <= set(rt.status()["streams"]), what="both records")
            wait_for(lambda: all(rt.status()["streams"][n]["samples"] >= 1000 for n in ("p7/ecg", "p7_2/ecg")),
                     what="their samples")
        finally:
            for p in pubs:
                p.close()
        status = rt.status()
    assert [p.source for p in pubs] == ["p7", "p7_2"]
    assert status["totals"]["rejected_total"] == 0, {n: s["rejected"] for n, s in status["streams"].items()}


def test_listen_on_another_output_than_the_runtimes_names_its_output():
    """`listen --status S` without the runtime's --output said 'runtime serving; waiting for frames'
    and waited for ever on an endpoint nobody publishes on. The runtime's status now names its
    endpoints; listen says where it publishes when not even its heartbeat came."""
    wrong = f"tcp://127.0.0.1:{free_port()}"
    with running(config()) as rt:
        r = _run("listen", "--status", rt.bound.status, "--output", wrong, "--seconds", "3.5")
        right = _run("listen", "--status", rt.bound.status, "--output", rt.bound.output, "--topics", "score/",
                     "--seconds", "3.5")
        assert rt.status()["endpoints"] == {"ingest": rt.bound.ingest, "output": rt.bound.output,
                                            "status": rt.bound.status}
    assert r.returncode == 0, r.stderr
    assert f"publishes on {rt.bound.output}, not {wrong}" in r.stderr and f"give --output {rt.bound.output}" \
        in r.stderr, r.stderr
    assert "runtime serving; waiting for frames" in right.stderr and "publishes on" not in right.stderr, right.stderr


@pytest.mark.parametrize("existing", ["server.key", "allowed/client.key", "client2.key"])
def test_keys_generate_never_overwrites_a_public_or_allowed_key(tmp_path, capsys, existing):
    """Only secret key files were looked for: a folder holding another runtime's server.key (a client's
    copy) or another client's key in allowed/ had them replaced silently (that client locked out)."""
    d = tmp_path / "keys"
    (d / "allowed").mkdir(parents=True)
    (d / existing).write_text("kept\n")
    code = main(["keys", "generate", str(d), "--clients", "2"])
    err = capsys.readouterr().err
    assert code == 2 and f"{d / existing} exists; refusing to overwrite keys" in err, err
    assert (d / existing).read_text() == "kept\n"
    assert not (d / "server.key_secret").exists()
