"""A multi-lead ECG stream feeds its one-lead encoder the lead `embed` and `score` choose (real
ecg-tiny, real sockets). Before, the runtime fed the stream's first lead: leads ["V5", "II"]
embedded V5 live and II offline; a noisy first lead beside a clean one was embedded (and, with a
model, the only lead the score measured)."""
import numpy as np
import pytest

from test_streams_helpers import config, running, wait_for

FS_HZ = 250.0


def _live(x, channels, n):
    """The first ``n`` embedding frames and score frames of ``x`` sent as bed01/ecg to a runtime
    serving ecg-tiny (windows of 10 s every 5 s)."""
    from streams.publisher import Publisher
    from streams.subscriber import Subscriber
    cfg = config(models={"ecg": "ecg-tiny"}, backend="torch", windows={"ecg": (10.0, 5.0)})
    with running(cfg) as rt:
        sub = Subscriber(["emb/", "score/", "hb/"], rt.bound.output)
        wait_for(lambda: sub.recv(0.2), what="subscription")
        pub = Publisher("bed01", rt.bound.ingest)
        out = pub.stream("ecg", FS_HZ, channels, ["mV"] * len(channels))
        t0 = 1.0e9
        for i in range(0, x.shape[1], 250):     # 1 s frames, contiguous device time
            out.send(x[:, i:i + 250], t0_s=t0 + i / FS_HZ)
        embs, scores = [], []
        while len(embs) < n or len(scores) < n:
            f = wait_for(lambda: sub.recv(0.2), timeout_s=60, what="embeddings and scores")
            (embs if f.kind == "embedding" else scores if f.kind == "score" else []).append(f)
        pub.close()
        sub.close()
    return embs[:n], [f.header for f in scores[:n]]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("case", ["v5_first", "noisy_ii"])
def test_live_embeddings_feed_the_lead_the_offline_tools_choose(case):
    encoders = pytest.importorskip("encoders")
    from biosig.record import Record
    from biosig.synthetic import simulate
    try:  # the shipped checkpoint when there is one, as the runtime does
        enc = encoders.load("ecg-tiny")
    except encoders.EncoderError:
        enc = encoders.load("ecg-tiny", pretrained=False)
    ii, v5 = simulate("ecg", 40, seed=3, fs_hz=FS_HZ, leads=2).samples
    if case == "v5_first":      # both clean: the model's lead order decides (II before V5)
        channels, x, want = ["V5", "II"], np.stack([v5, ii]), "II"
    else:                       # II first but noise in every window: the clean lead passes the gate
        noisy = ii + 4.0 * ii.std() * np.random.default_rng(1).normal(size=ii.shape)
        channels, x, want = ["II", "V5"], np.stack([noisy, v5]), "V5"
    x = x.astype(np.float32)
    offline = enc.embed(Record(samples=x, fs_hz=FS_HZ, channels=tuple(channels), units=("mV", "mV"), modality="ecg"))
    assert set(offline["channels"]) == {want}          # what `embed` feeds (and `score`: one rule)

    embs, scores = _live(x, channels, 4)
    # oracle: the pipeline run causally over the whole signal, the chosen lead's windows cut by
    # slicing and embedded by the encoder itself (torch, no runtime involved)
    outside, _ = enc.pipeline.split_in_model()
    y = outside.stream(FS_HZ, 2, tuple(channels)).process(x)
    row = channels.index(want)
    n, hop = int(10 * FS_HZ), int(5 * FS_HZ)
    for k, f in enumerate(embs):
        assert f.header["channels"] == [want], f.header["channels"]
        fed = enc.embed_windows(y[None, row:row + 1, k * hop:k * hop + n], channel_idx=enc.channel_index([want]))[0]
        np.testing.assert_allclose(f.array, fed, rtol=1e-4, atol=1e-5)
        other = enc.embed_windows(y[None, 1 - row:2 - row, k * hop:k * hop + n],
                                  channel_idx=enc.channel_index([channels[1 - row]]))[0]
        assert np.abs(f.array - other).max() > 1e-2       # the test tells the two leads apart
    # the score measures the best lead among all of the window's leads (not only the lead fed)
    for h in scores:
        assert h["ok"], h
