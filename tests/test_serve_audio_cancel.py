"""``serve`` sees stereo audio whose channels cancel when mixed, as ``embed`` and ``score`` do: over
real sockets, audio-tiny (mono -> resample -> logmel) hosted, 16 kHz stereo streams of 4 s. A
stream with one channel inverted was embedded as near silence at quality 1.0 (the windows are cut
after ``mono``); now its windows publish quality 0. A normal stereo stream publishes the quality of
its mixed window, as before, bit for bit."""
import numpy as np

from biosig.quality import window_quality
from biosig.synthetic import simulate
from streams.publisher import Publisher
from streams.subscriber import Subscriber
from test_streams_helpers import config, running, wait_for

FS = 16000.0


def test_an_inverted_channel_publishes_quality_zero_and_a_normal_stereo_stream_is_unchanged():
    a = simulate("audio", 4.0, fs_hz=FS, seed=0).samples[:1].astype(np.float32)
    b = simulate("audio", 4.0, fs_hz=FS, seed=1).samples[:1].astype(np.float32)
    # one channel in opposite polarity at a slightly other gain: the mix is 32 dB below the channels
    # (exactly -a would mix to all zeros, a flat window, quality 0 before too)
    streams = {"normal": np.concatenate([a, 0.7 * a + 0.3 * b]), "inverted": np.concatenate([a, -0.95 * a])}
    cfg = config(models={"audio": "audio-tiny"}, windows={"audio": (2.0, 2.0)}, backend="torch", warm_up=False)
    got = {}
    with running(cfg) as rt:
        sub = Subscriber(["emb/"], rt.bound.output)
        pub = Publisher("bed", rt.bound.ingest)
        for name, x in streams.items():
            out = pub.stream(name, FS, ["L", "R"], modality="audio")
            for k in range(0, x.shape[1], 1600):
                out.send(x[:, k:k + 1600])

        def all_in():
            f = sub.recv(0.2)
            if f is not None:
                got.setdefault(f.header["stream"], []).append(f.header)
            return sum(map(len, got.values())) >= 4
        wait_for(all_in, timeout_s=30.0, what="2 embeddings of each stream")
        pub.close()
        sub.close()
    assert sorted(got) == ["bed/inverted", "bed/normal"] and all(len(v) == 2 for v in got.values())
    assert [h["quality"] for h in got["bed/inverted"]] == [0.0, 0.0]      # 1.0 before
    mixed = streams["normal"].mean(axis=0, keepdims=True)                 # the mono step
    want = [window_quality(mixed[:, k:k + 32000], FS, "audio") for k in (0, 32000)]
    assert [h["quality"] for h in got["bed/normal"]] == want
