"""Bug bash 68 of `biosig forecast plot` and the operator commands: a forecasts file deleted or damaged
after the run, and a `listen --topics` prefix no output topic can start with, are one line, exit 2."""
import shutil

import numpy as np
import polars as pl
import pytest

from test_cli_errors import assert_one_line_error, run_main


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A finished `forecast evaluate` of one small synthetic session (last, lms; horizon 1)."""
    d = tmp_path_factory.mktemp("fc68")
    t = np.arange(800) / 10.0
    x = 5 * np.sin(2 * np.pi * t / 4.0) + np.random.default_rng(0).normal(0, 0.05, t.size)
    pl.DataFrame({"t_s": t, "m1_x": x, "m1_y": 0.5 * x, "m1_z": 100 - x}).write_csv(d / "s.csv")
    from biosig.cli import main
    assert main(["forecast", "evaluate", str(d / "s.csv"), "--horizons", "1", "--methods", "last,lms",
                 "--workers", "1", "--out", str(d / "out")]) == 0
    return d / "out"


@pytest.mark.parametrize("name,damage,says", [
    ("lms.parquet", "delete", "(missing)"),
    ("truth.parquet", "delete", "(missing)"),
    ("lms.parquet", "garble", "(parquet"),
])
def test_plot_of_a_run_whose_forecasts_file_is_gone_or_damaged(evaluated, tmp_path, capsys, name, damage, says):
    run = tmp_path / "run"
    shutil.copytree(evaluated, run)
    f = run / "predictions" / "s" / name
    f.unlink() if damage == "delete" else f.write_bytes(b"not parquet")
    code, _, err = run_main(capsys, "forecast", "plot", run, "--session", "s", "--method", "lms",
                            "--horizon", "1", "--out", tmp_path / "p.png")
    assert_one_line_error(code, err, f"{name}: cannot read {says}")
    assert "run `biosig forecast evaluate` again" in err and not (tmp_path / "p.png").exists()
    # before: a deleted lms.parquet read "no method 'lms' ... in report.json; methods: last" (it is in
    # report.json), and a damaged one ended in a Polars traceback


def test_plot_of_an_intact_run_still_works(evaluated, tmp_path, capsys):
    code, out, err = run_main(capsys, "forecast", "plot", evaluated, "--session", "s", "--method", "lms",
                              "--horizon", "1", "--out", tmp_path / "p.png")
    assert code == 0, err
    assert (tmp_path / "p.png").stat().st_size > 0


@pytest.mark.parametrize("topics", [["scroe/"], ["score/bed01", "fsct/"], ["bed01/ecg"]])
def test_listen_to_a_topic_prefix_no_output_topic_starts_with(capsys, topics):
    code, _, err = run_main(capsys, "listen", "--topics", *topics, "--seconds", "5")
    assert_one_line_error(code, err, "no runtime output topic starts like that")
    assert "score/" in err and "fcst/" in err


@pytest.mark.parametrize("topics", [["score/bed01"], ["s"], ["st"], ["hb/runtime", "status"], [""]])
def test_prefixes_of_real_topics_are_accepted(topics):
    from streams.subscriber import unknown_topic_prefixes
    assert unknown_topic_prefixes(topics) == []


def test_listen_to_a_stream_the_serving_runtime_does_not_have_names_its_streams(capsys):
    """`listen --topics score/bed1` (the stream is bed01/resp) waited for ever with 'runtime serving;
    waiting for frames'; after 2 s of nothing it now says no topic of the runtime starts so, and names
    the runtime's streams (and keeps waiting: the stream may come later)."""
    import zmq

    from test_streams_helpers import config, push_socket, running, signal, stream_status, wait_for
    ctx = zmq.Context()
    try:
        with running(config(warm_up=False)) as rt:
            push = push_socket(ctx, rt.bound.ingest)
            push.send_multipart(signal("bed01/resp", 0, np.zeros((1, 5))))
            wait_for(lambda: stream_status(rt, "bed01/resp"), 3.0, "bed01/resp in the status")
            code, _, err = run_main(capsys, "listen", "--topics", "score/bed1", "emb/bed01", "--status",
                                    rt.bound.status, "--output", rt.bound.output, "--seconds", "2.25")
            push.close()
    finally:
        ctx.term()
    assert code == 0, err
    assert "none of its topics starts with score/bed1 (its streams: bed01/resp)" in err, err
    assert "emb/bed01," not in err
