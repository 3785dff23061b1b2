"""Runtime internals over real sockets: windows, embeddings vs an offline oracle, dynamic batching,
the bounded encoder queue, forecasts vs the same forecaster run directly, stale holds, recorder."""
import time

import numpy as np
import pytest

from streams.config import ForecasterConfig, config_from_dict, load_config
from streams.errors import StreamError
from streams.publisher import Publisher
from streams.recorder import read_recording
from streams.subscriber import Subscriber
from streams.windows import Windower
from test_streams_helpers import config, running, stream_status, wait_for


@pytest.mark.parametrize("window_n, hop_n", [(10, 3), (7, 7), (5, 1)])
def test_windower_matches_slicing_for_random_chunks(window_n, hop_n):
    rng = np.random.default_rng(window_n)
    x = rng.normal(size=(2, 200)).astype(np.float32)
    w = Windower(2, window_n, hop_n, fs_hz=10.0)
    got, pos = [], 0
    while pos < x.shape[1]:
        n = int(rng.integers(1, 17))
        got += w.push(x[:, pos:pos + n], t0_s=100.0 + pos / 10.0)
        pos += n
    ends = np.arange(window_n, 201, hop_n)
    assert len(got) == len(ends)
    for (win, t_end, stop_n), e in zip(got, ends):
        np.testing.assert_array_equal(win, x[:, e - window_n:e])
        assert t_end == pytest.approx(100.0 + (e - 1) / 10.0)
        assert stop_n == e
    w.reset()                                  # indices count again from the first sample after a reset
    assert [s for _, _, s in w.push(x[:, :window_n + hop_n], t0_s=0.0)] == [window_n, window_n + hop_n]


def test_ecg_embeddings_equal_the_encoder_on_the_same_causal_window():
    encoders = pytest.importorskip("encoders")
    try:  # the shipped checkpoint when there is one, as the runtime does
        enc = encoders.load("ecg-tiny")
    except encoders.EncoderError:
        enc = encoders.load("ecg-tiny", pretrained=False)
    fs = 360.0                                  # device rate differs from the model's 250 Hz
    rng = np.random.default_rng(1)
    x = (np.sin(2 * np.pi * 1.2 * np.arange(int(5 * fs)) / fs)[None] + 0.1 * rng.normal(size=(2, int(5 * fs))))
    x = x.astype(np.float32)
    cfg = config(models={"ecg": "ecg-tiny"}, backend="torch", windows={"ecg": (2.0, 1.0)})
    with running(cfg) as rt:
        sub = Subscriber(["emb/", "hb/"], rt.bound.output)
        wait_for(lambda: sub.recv(0.2), what="subscription")
        pub = Publisher("bed01", rt.bound.ingest)
        out = pub.stream("ecg", fs, ["II", "V5"], ["mV", "mV"])
        for i in range(0, x.shape[1], 90):       # 0.25 s frames
            out.send(x[:, i:i + 90])
        embs = []
        while len(embs) < 4:
            f = wait_for(lambda: sub.recv(0.2), what="embeddings")
            if f.kind == "embedding":
                embs.append(f)
        pub.close()
        sub.close()
    # oracle: the checkpoint's out-of-graph pipeline run causally over the whole signal, windows
    # cut from it by plain slicing, embedded by the encoder itself (torch, no runtime involved)
    outside, _ = enc.pipeline.split_in_model()
    y = outside.stream(fs, 2, ("II", "V5")).process(x)
    n, hop = 500, 250
    for k, f in enumerate(embs):
        assert f.header["model_id"].startswith("ecg-tiny") and f.header["channels"] == ["II"]
        assert f.array.shape == (enc.config.dim,)
        want = enc.embed_windows(y[None, :1, k * hop:k * hop + n], channel_idx=enc.channel_index(["II"]))[0]
        np.testing.assert_allclose(f.array, want, rtol=1e-4, atol=1e-5)
        assert 0.0 <= f.header["quality"] <= 1.0
        assert f.header["latency_ms"]["total"] >= f.header["latency_ms"]["model"] > 0


def test_dynamic_batching_and_bounded_queue_drops_oldest():
    pytest.importorskip("encoders")
    fs = 250.0
    x = np.random.default_rng(2).normal(size=(1, int(2 * fs))).astype(np.float32)
    # 40 streams complete a window in the same frame: batches of at most 8
    cfg = config(models={"ecg": "ecg-tiny"}, backend="torch", windows={"ecg": (2.0, 2.0)},
                 max_batch=8, max_delay_s=0.05)
    with running(cfg) as rt:
        pub = Publisher("ward", rt.bound.ingest)
        for b in range(40):
            pub.stream(f"bed{b:02d}", fs, ["II"]).send(x)
        wait_for(lambda: rt.status()["totals"].get("outputs") == 40, timeout_s=60, what="40 embeddings")
        q = rt.status()["queue"]
        assert q["batch_size"]["max"] <= 8 and q["batches"] >= 5
        assert q["batch_size"]["max"] > 1          # batching across streams happened
        pub.close()
    cfg = cfg.replace(embed_queue=5, max_batch=2, max_delay_s=0.0)
    with running(cfg) as rt:
        pub = Publisher("ward", rt.bound.ingest)
        for b in range(40):
            pub.stream(f"bed{b:02d}", fs, ["II"]).send(x)
        s = wait_for(lambda: (t := rt.status()["totals"]) and t.get("outputs", 0) + t.get("dropped", 0) == 40 and t,
                     timeout_s=60, what="every window published or dropped")
        assert s["dropped"] > 0 and s["windows"] == 40
        per = rt.status()["streams"]
        # drop-oldest: the newest streams' windows survive
        assert per["ward/bed39"]["outputs"] == 1 and per["ward/bed39"]["dropped"] == 0
        pub.close()


def test_forecasts_equal_the_forecaster_run_directly_and_hold_first():
    from realtime import make_forecaster
    fs = 30.0
    t = np.arange(200) / fs
    x = np.stack([np.sin(2 * np.pi * 0.3 * t + k) for k in range(3)]).astype(np.float32)
    # max_input_age_s is generous: this test compares values with the oracle; stale-input holds on a
    # busy machine are tested in test_streams_safety.py
    fc = ForecasterConfig(method="lms", horizon_steps=2, lookback=4, warmup_s=1.0, recover_steps=5, stale_s=0.4,
                          max_input_age_s=30.0)
    with running(config(forecaster=fc)) as rt:
        sub = Subscriber(["fcst/", "hold/", "hb/"], rt.bound.output)
        wait_for(lambda: sub.recv(0.2), what="subscription")
        pub = Publisher("couch1", rt.bound.ingest)
        out = pub.stream("markers", fs, ["m1_x", "m1_y", "m1_z"], modality="motion")
        t0 = time.time()
        for i in range(200):
            out.send(x[:, i:i + 1], t0_s=t0 + i / fs)
        frames = []
        while len(frames) < 200:
            f = wait_for(lambda: sub.recv(0.2), what="forecast frames")
            if f.kind in ("forecast", "hold"):
                frames.append(f)
        # then silence: a gap hold (no input) follows within stale_s
        stale = wait_for(lambda: (f := sub.recv(0.2)) and f.kind == "hold" and f.header["reason"] == "gap" and f,
                         timeout_s=3, what="a no-input gap hold")
        assert "no input" in stale.header["detail"]
        assert stale.topic == "hold/couch1"
        pub.close()
        sub.close()
    oracle = make_forecaster("lms", horizon_steps=2, lookback=4, hidden=fc.hidden, lr=fc.lr, seed=fc.seed,
                             n_coords=3, norm_steps=30, catch_up_steps=4)   # as the runtime builds it
    first_fc = None
    for i, f in enumerate(frames):
        oracle.learn_one(x[:, i].astype(np.float64))
        assert (f.kind == "forecast") == oracle.ready   # holds exactly while no forecast exists
        if f.kind == "hold":
            assert f.header["reason"] == "warm_up" and first_fc is None
            continue
        first_fc = first_fc or i
        assert f.header["t_s"] == pytest.approx(t0 + i / fs)
        assert f.header["target_s"] == pytest.approx(t0 + (i + 2) / fs)
        np.testing.assert_allclose(f.array, oracle.predict_one().astype(np.float32), rtol=1e-5, atol=1e-6)
    assert first_fc is not None and first_fc >= 29   # norm_steps = warmup_s * fs = 30


def test_recorder_holds_every_accepted_frame_and_output(tmp_path):
    rec_dir = tmp_path / "rec"
    x = np.random.default_rng(3).normal(size=(1, 25)).astype(np.float32)
    with running(config(record_dir=str(rec_dir), rotate_s=0.3)) as rt:
        pub = Publisher("bed01", rt.bound.ingest)
        out = pub.stream("resp", 25.0, ["RESP"])
        for i in range(12):
            out.send(x * i)
            time.sleep(0.05)
        wait_for(lambda: stream_status(rt, "bed01/resp").get("outputs") == 11, what="11 windows")
        pub.close()
    assert len(list(rec_dir.glob("inputs-*.parquet"))) >= 2          # rotated
    inputs = read_recording(rec_dir, "inputs").sort("seq")
    assert inputs["seq"].to_list() == list(range(12))
    np.testing.assert_array_equal(np.asarray(inputs["samples"][5].to_list(), np.float32), (x * 5).ravel())
    outputs = read_recording(rec_dir, "outputs")
    emb = outputs.filter(outputs["kind"] == "embedding")
    assert emb.height == 11 and emb["seq"].to_list() == list(range(11))


def test_config_files(tmp_path):
    p = tmp_path / "rt.toml"
    p.write_text('max_batch = 4\n[forecaster]\nmethod = "uoro"\nhorizon_steps = 5\n[windows]\necg = [5.0, 2.5]\n')
    cfg = load_config(p)
    assert cfg.max_batch == 4 and cfg.forecaster.method == "uoro" and cfg.windows["ecg"] == (5.0, 2.5)
    assert "ppg" not in cfg.windows              # not named: cut as its model was trained
    from streams.config import stream_windows
    assert stream_windows(cfg.windows, None)["ppg"] == (10.0, 1.0)
    with pytest.raises(StreamError, match="unknown config key.*max_batch"):
        config_from_dict({"max_bacth": 3})
    with pytest.raises(StreamError, match="hop_s"):
        config_from_dict({"windows": {"ecg": [1.0, 2.0]}})
    with pytest.raises(StreamError, match="not loopback"):
        from streams.runtime import Runtime
        from streams.config import Endpoints
        Runtime(config(endpoints=Endpoints("tcp://0.0.0.0:*", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"))).start()
